//! Pooled audio frames and the pools that hold frames and packets.

use crate::sync::pool::Pool;
use rvoip_media_graph::Packet;

/// A quantum of interleaved `f32` audio in a fixed-capacity buffer.
#[derive(Clone, Debug)]
pub struct AudioFrame {
    samples: Box<[f32]>,
    len: usize,
}

/// More samples than a frame holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{len} samples do not fit in a frame of {capacity}")]
pub struct FrameTooLarge {
    /// Samples offered.
    pub len: usize,
    /// Frame capacity.
    pub capacity: usize,
}

impl AudioFrame {
    /// An empty frame holding up to `capacity` samples.
    pub fn with_capacity(capacity: usize) -> Self {
        AudioFrame { samples: vec![0.0; capacity].into_boxed_slice(), len: 0 }
    }

    /// Most samples the frame holds.
    pub fn capacity(&self) -> usize {
        self.samples.len()
    }

    /// The samples.
    pub fn samples(&self) -> &[f32] {
        &self.samples[..self.len]
    }

    /// The samples, for writing in place.
    pub fn samples_mut(&mut self) -> &mut [f32] {
        &mut self.samples[..self.len]
    }

    /// Replaces the contents with a copy of `src`.
    ///
    /// ```
    /// let mut f = rvoip_media_core::AudioFrame::with_capacity(4);
    /// f.copy_from(&[1.0, 2.0]).unwrap();
    /// assert_eq!(f.samples(), &[1.0, 2.0]);
    /// assert!(f.copy_from(&[0.0; 5]).is_err());
    /// ```
    pub fn copy_from(&mut self, src: &[f32]) -> Result<(), FrameTooLarge> {
        let capacity = self.capacity();
        let dst = self.samples.get_mut(..src.len()).ok_or(FrameTooLarge { len: src.len(), capacity })?;
        dst.copy_from_slice(src);
        self.len = src.len();
        Ok(())
    }

    /// Sets the length (new samples keep whatever the buffer held).
    pub fn set_len(&mut self, len: usize) -> Result<(), FrameTooLarge> {
        if len > self.capacity() {
            return Err(FrameTooLarge { len, capacity: self.capacity() });
        }
        self.len = len;
        Ok(())
    }
}

/// The engine's pool of audio frames.
pub type FramePool = Pool<AudioFrame>;
/// The engine's pool of packets.
pub type PacketPool = Pool<Packet>;
