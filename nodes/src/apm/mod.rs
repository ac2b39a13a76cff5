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

pub mod aec;
pub mod agc;
pub mod fft;
pub mod loudness;
pub mod noise;
pub mod ns;
mod processor;
pub mod vad;

pub use aec::{AdvancedAecConfig, Aec};
pub use agc::{AdvancedAgcConfig, Agc};
pub use ns::{NoiseSuppressor, NsConfig, NsLevel, NsWindow, RnnoiseSuppressor};
pub use processor::{AudioProcessingConfig, AudioProcessor, CaptureResult};
pub use vad::{AdvancedVadConfig, Vad, VadDecision, VadFeatures};

/// Why a voice-processing module could not be built.
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
