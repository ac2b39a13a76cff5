//! Voice processing: acoustic echo cancellation ([`aec`]), noise suppression ([`ns`]; the
//! optional neural suppressor is [`RnnoiseSuppressor`]),
//! automatic gain control ([`agc`]), voice activity detection ([`vad`]) and BS.1770 loudness
//! measurement ([`loudness`]).
//!
//! Every module works on 10 ms frames of mono `f32` audio at 8, 16, 32 or 48 kHz (any rate
//! that divides into 10 ms frames is accepted) and is usable two ways: as a plain struct with
//! a `process_frame` method, and as a graph node implementing
//! [`rvoip_media_graph::Processor`]. As nodes they need a graph quantum of 10 or 20 ms (a 20 ms
//! quantum is processed as two frames); with 2.5 / 5 ms quanta the noise suppressor and echo
//! canceller output silence and report an error. All buffers are allocated at construction; nothing
//! allocates, locks or panics per frame, and non-finite input is replaced by silence and
//! reported rather than propagated.
//!
//! [`AudioProcessor`] chains them in the usual order (AEC → NS → AGC, VAD on the processed
//! capture signal) behind one configuration, [`AudioProcessingConfig`]:
//!
//! ```
//! use rvoip_media_nodes::apm::{AudioProcessingConfig, AudioProcessor};
//! let cfg = AudioProcessingConfig::new(16_000).with_ns(true).with_agc(true).with_vad(true);
//! let mut apm = AudioProcessor::new(cfg).unwrap();
//! let far = [0.0f32; 160];
//! let mut mic = [0.0f32; 160];
//! apm.process_render_audio(&far);
//! let r = apm.process_capture_audio(&mut mic);
//! assert!(!r.is_speech);
//! ```

// The spectral loops index several parallel per-bin arrays with one bin index; iterator
// chains over four or five zipped slices would hide that structure.
#![allow(clippy::needless_range_loop)]

/// Gives a per-frame method of a struct with a `kernel: Kernel` field an AVX build of the same
/// code — the one dispatch style of the voice-processing modules (the resampler's
/// [`Kernel::detect`](crate::resample::Kernel::detect) picks the kernel once per process).
///
/// `avx_dispatch!(/// docs  pub fn name(&mut self, args) -> Ret, avx: name_avx, body: name_body);`
/// defines `name`, which calls `name_body` through `name_avx` — the body compiled with
/// `#[target_feature(enable = "avx")]` — when `self.kernel` is `Kernel::Avx` and directly
/// otherwise, and a test-only `with_kernel(self, kernel) -> Self` for the equivalence tests.
/// `name_body` must be `#[inline(always)]` (and so should what it calls), so that the whole
/// body is compiled in each build. Rust neither contracts nor reorders float arithmetic, so
/// the builds give the same bits; each user's tests compare them.
macro_rules! avx_dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident(&mut self $(, $a:ident: $t:ty)*) $(-> $r:ty)?, avx: $avx:ident, body: $body:ident) => {
        $(#[$m])*
        $vis fn $name(&mut self $(, $a: $t)*) $(-> $r)? {
            #[cfg(target_arch = "x86_64")]
            if self.kernel == $crate::resample::Kernel::Avx {
                // SAFETY: `kernel` is `Avx` only when `Kernel::detect` (or `with_kernel`, which
                // checks `is_available`) found AVX on this CPU.
                return unsafe { self.$avx($($a),*) };
            }
            self.$body($($a),*)
        }

        /// The same body compiled with AVX enabled throughout (what it calls is inlined).
        ///
        /// # Safety
        /// The CPU must support AVX.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx")]
        unsafe fn $avx(&mut self $(, $a: $t)*) $(-> $r)? {
            self.$body($($a),*)
        }

        /// Uses `kernel` if this CPU can run it (the outputs do not depend on the choice; the
        /// equivalence tests compare them).
        #[cfg(test)]
        fn with_kernel(mut self, kernel: $crate::resample::Kernel) -> Self {
            if kernel.is_available() {
                self.kernel = kernel;
            }
            self
        }
    };
}

pub mod aec;
pub mod agc;
pub mod fft;
pub mod loudness;
pub mod noise;
pub mod ns;
mod processor;
pub mod vad;

pub use aec::{AdvancedAecConfig, Aec, FilterUpdate};
pub use agc::{AdvancedAgcConfig, Agc};
pub use ns::{NoiseSuppressor, NsConfig, NsLevel, NsWindow, RnnoiseSuppressor};
pub use processor::{AudioProcessingConfig, AudioProcessor, CaptureResult};
pub use vad::{AdvancedVadConfig, Vad, VadDecision, VadFeatures};

/// Why a voice-processing module could not be built.
///
/// ```
/// use rvoip_media_nodes::apm::{AdvancedVadConfig, ApmError, Vad};
/// // 11.025 kHz has no whole number of samples per 10 ms frame.
/// assert_eq!(Vad::new(AdvancedVadConfig::new(11025)).err(), Some(ApmError::Rate(11025)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApmError {
    /// The sample rate is zero, above 192 kHz, or does not divide into 10 ms frames.
    #[error("unsupported sample rate {0} Hz (need a whole number of samples per 10 ms, 8000..=192000)")]
    Rate(u32),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
}

/// Samples per 10 ms at `rate`, or an error.
pub(crate) fn check_rate(rate: u32) -> Result<usize, ApmError> {
    if !(8000..=192_000).contains(&rate) || rate % 100 != 0 {
        return Err(ApmError::Rate(rate));
    }
    Ok(rate as usize / 100)
}
