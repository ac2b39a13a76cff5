//! [`SampleFifo`]: a fixed-capacity queue of samples between a resampler and a consumer that
//! takes whole frames (a codec, RNNoise's 10 ms at 48 kHz). It never allocates after
//! construction.

use super::Resampler;

/// A FIFO of samples over a fixed buffer, oldest first.
///
/// ```
/// use rvoip_media_nodes::resample::SampleFifo;
/// let mut f = SampleFifo::new(8);
/// f.clear_to(2); // two samples of silence ahead of the first push
/// assert_eq!(f.push(&[1.0, 2.0, 3.0]), 3);
/// let mut out = [9.0; 4];
/// f.pop_into(&mut out);
/// assert_eq!(out, [0.0, 0.0, 1.0, 2.0]);
/// assert_eq!(f.len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct SampleFifo {
    buf: Box<[f32]>,
    len: usize,
}

impl SampleFifo {
    /// An empty FIFO holding at most `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        SampleFifo { buf: vec![0.0; capacity].into_boxed_slice(), len: 0 }
    }

    /// Samples queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the FIFO and queues `zeros` samples of silence (at most the capacity): a
    /// consumer that must never run short starts that far behind.
    pub fn clear_to(&mut self, zeros: usize) {
        self.len = zeros.min(self.buf.len());
        self.buf[..self.len].fill(0.0);
    }

    /// Appends as much of `x` as fits; returns how much.
    pub fn push(&mut self, x: &[f32]) -> usize {
        let n = x.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&x[..n]);
        self.len += n;
        n
    }

    /// Resamples `input` onto the end, as much as fits; returns the samples added.
    pub fn push_resampled(&mut self, rs: &mut Resampler, input: &[f32]) -> usize {
        let (_, produced) = rs.process(input, &mut self.buf[self.len..]);
        self.len += produced;
        produced
    }

    /// Moves the oldest `out.len()` samples into `out` (zeros where the FIFO runs short).
    pub fn pop_into(&mut self, out: &mut [f32]) {
        let n = out.len().min(self.len);
        out[..n].copy_from_slice(&self.buf[..n]);
        out[n..].fill(0.0);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }
}
