//! Host-side endpoints of a partition: one per graph input and output. Audio frames and
//! packets travel in pooled buffers through per-endpoint SPSC rings (rtrb); control values
//! are latest-value atomics. Nothing here blocks: a full ring or an exhausted pool is an
//! error returned to the caller (the value is not silently lost).

use super::frame::{AudioFrame, FramePool, PacketPool};
use crate::sync::pool::{PoolExhausted, Pooled};
use rvoip_media_graph::{Packet, PacketMeta, PayloadTooLarge, PortKind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Why a push into an input endpoint failed. The data was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The ring toward the worker is full (the worker is not consuming fast enough).
    #[error("input ring full")]
    RingFull,
    /// No free frame or packet in the engine's pool.
    #[error(transparent)]
    PoolExhausted(#[from] PoolExhausted),
    /// An audio push of the wrong length.
    #[error("expected {expected} samples per quantum, got {got}")]
    WrongLength {
        /// Samples per quantum of this input.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// A payload over the packet capacity.
    #[error(transparent)]
    PayloadTooLarge(#[from] PayloadTooLarge),
}

/// Feeds one quantum of audio per cycle into a graph input.
pub struct AudioIn {
    pub(crate) ring: rtrb::Producer<Pooled<AudioFrame>>,
    pub(crate) pool: FramePool,
    pub(crate) samples: usize,
}

impl AudioIn {
    /// Samples (frames × channels) expected per push.
    pub fn samples_per_quantum(&self) -> usize {
        self.samples
    }

    /// Queues one quantum. Never blocks.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), EndpointError> {
        if samples.len() != self.samples {
            return Err(EndpointError::WrongLength { expected: self.samples, got: samples.len() });
        }
        if self.ring.is_full() {
            return Err(EndpointError::RingFull);
        }
        let mut frame = self.pool.acquire()?;
        frame
            .copy_from(samples)
            .map_err(|_| EndpointError::WrongLength { expected: self.samples, got: samples.len() })?;
        self.ring.push(frame).map_err(|_| EndpointError::RingFull)
    }

    /// Queues one quantum of 16-bit samples (converted to `f32` in [-1, 1)).
    pub fn push_i16(&mut self, samples: &[i16]) -> Result<(), EndpointError> {
        if samples.len() != self.samples {
            return Err(EndpointError::WrongLength { expected: self.samples, got: samples.len() });
        }
        if self.ring.is_full() {
            return Err(EndpointError::RingFull);
        }
        let mut frame = self.pool.acquire()?;
        frame
            .set_len(samples.len())
            .map_err(|_| EndpointError::WrongLength { expected: self.samples, got: samples.len() })?;
        for (d, s) in frame.samples_mut().iter_mut().zip(samples) {
            *d = f32::from(*s) / 32768.0;
        }
        self.ring.push(frame).map_err(|_| EndpointError::RingFull)
    }

    /// Quanta queued and not yet taken by the worker.
    pub fn queued(&self) -> usize {
        self.ring.buffer().capacity() - self.ring.slots()
    }
}

/// Receives one quantum of audio per cycle from a graph output.
pub struct AudioOut {
    pub(crate) ring: rtrb::Consumer<Pooled<AudioFrame>>,
}

impl AudioOut {
    /// The oldest produced frame, if any; dropping it returns it to the pool.
    pub fn pop(&mut self) -> Option<Pooled<AudioFrame>> {
        self.ring.pop().ok()
    }

    /// Copies the oldest frame into `out` (up to its length); returns the frame's length.
    pub fn pop_into(&mut self, out: &mut [f32]) -> Option<usize> {
        let f = self.pop()?;
        let n = f.samples().len().min(out.len());
        out[..n].copy_from_slice(&f.samples()[..n]);
        Some(f.samples().len())
    }

    /// Frames waiting.
    pub fn available(&self) -> usize {
        self.ring.slots()
    }
}

/// Feeds packets into a graph packet input (at most one is taken per cycle).
pub struct PacketIn {
    pub(crate) ring: rtrb::Producer<Pooled<Packet>>,
    pub(crate) pool: PacketPool,
}

impl PacketIn {
    /// Queues a packet. Never blocks.
    pub fn push(&mut self, meta: PacketMeta, payload: &[u8]) -> Result<(), EndpointError> {
        if self.ring.is_full() {
            return Err(EndpointError::RingFull);
        }
        let mut p = self.pool.acquire()?;
        p.meta = meta;
        p.set_payload(payload)?;
        self.ring.push(p).map_err(|_| EndpointError::RingFull)
    }
}

/// Receives packets from a graph packet output.
pub struct PacketOut {
    pub(crate) ring: rtrb::Consumer<Pooled<Packet>>,
}

impl PacketOut {
    /// The oldest packet, if any; dropping it returns it to the pool.
    pub fn pop(&mut self) -> Option<Pooled<Packet>> {
        self.ring.pop().ok()
    }
}

/// Sets a graph control input (latest value wins; read once per cycle).
#[derive(Clone)]
pub struct ControlIn {
    pub(crate) value: Arc<AtomicU32>,
}

impl ControlIn {
    /// Sets the value the next cycles read.
    pub fn set(&self, v: f32) {
        self.value.store(v.to_bits(), Ordering::Relaxed);
    }
}

/// Reads a graph control output (the latest cycle's value).
#[derive(Clone)]
pub struct ControlOut {
    pub(crate) value: Arc<AtomicU32>,
}

impl ControlOut {
    /// The latest value.
    pub fn get(&self) -> f32 {
        f32::from_bits(self.value.load(Ordering::Relaxed))
    }
}

/// The host side of one graph input.
pub enum InputEndpoint {
    /// Audio.
    Audio(AudioIn),
    /// Packets.
    Packet(PacketIn),
    /// A control value.
    Control(ControlIn),
}

/// The host side of one graph output.
pub enum OutputEndpoint {
    /// Audio.
    Audio(AudioOut),
    /// Packets.
    Packet(PacketOut),
    /// A control value.
    Control(ControlOut),
}

/// The endpoints of a partition, in the plan's input and output order, with their names.
pub struct PartitionIo {
    /// Graph inputs: (name, kind, endpoint).
    pub inputs: Vec<(String, PortKind, InputEndpoint)>,
    /// Graph outputs: (name, kind, endpoint).
    pub outputs: Vec<(String, PortKind, OutputEndpoint)>,
}

impl PartitionIo {
    fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|(n, _, _)| n == name)
    }

    fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|(n, _, _)| n == name)
    }

    /// Removes the input called `name` if `pick` accepts its endpoint (else leaves it).
    fn take_input<T>(&mut self, name: &str, pick: fn(InputEndpoint) -> Result<T, InputEndpoint>) -> Option<T> {
        let i = self.input_index(name)?;
        let (n, kind, ep) = self.inputs.remove(i);
        pick(ep).map_err(|ep| self.inputs.insert(i, (n, kind, ep))).ok()
    }

    /// Removes the output called `name` if `pick` accepts its endpoint (else leaves it).
    fn take_output<T>(&mut self, name: &str, pick: fn(OutputEndpoint) -> Result<T, OutputEndpoint>) -> Option<T> {
        let i = self.output_index(name)?;
        let (n, kind, ep) = self.outputs.remove(i);
        pick(ep).map_err(|ep| self.outputs.insert(i, (n, kind, ep))).ok()
    }

    /// Removes and returns the audio input called `name`.
    pub fn take_audio_in(&mut self, name: &str) -> Option<AudioIn> {
        self.take_input(name, |ep| match ep {
            InputEndpoint::Audio(a) => Ok(a),
            other => Err(other),
        })
    }

    /// Removes and returns the packet input called `name`.
    pub fn take_packet_in(&mut self, name: &str) -> Option<PacketIn> {
        self.take_input(name, |ep| match ep {
            InputEndpoint::Packet(p) => Ok(p),
            other => Err(other),
        })
    }

    /// The control input called `name` (a cheap clone).
    pub fn control_in(&self, name: &str) -> Option<ControlIn> {
        match &self.inputs[self.input_index(name)?].2 {
            InputEndpoint::Control(c) => Some(c.clone()),
            _ => None,
        }
    }

    /// Removes and returns the audio output called `name`.
    pub fn take_audio_out(&mut self, name: &str) -> Option<AudioOut> {
        self.take_output(name, |ep| match ep {
            OutputEndpoint::Audio(a) => Ok(a),
            other => Err(other),
        })
    }

    /// Removes and returns the packet output called `name`.
    pub fn take_packet_out(&mut self, name: &str) -> Option<PacketOut> {
        self.take_output(name, |ep| match ep {
            OutputEndpoint::Packet(p) => Ok(p),
            other => Err(other),
        })
    }

    /// The control output called `name` (a cheap clone).
    pub fn control_out(&self, name: &str) -> Option<ControlOut> {
        match &self.outputs[self.output_index(name)?].2 {
            OutputEndpoint::Control(c) => Some(c.clone()),
            _ => None,
        }
    }
}
