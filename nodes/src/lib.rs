//! # rvoip-media-nodes
//!
//! The node vocabulary of rvoip-media-core: every type here implements
//! [`rvoip_media_graph::Processor`] and can be added to a graph with
//! [`GraphBuilder::add_node`](rvoip_media_graph::GraphBuilder::add_node) or tested alone with
//! [`NodeHarness`](rvoip_media_graph::NodeHarness).
//!
//! | module | contents |
//! |---|---|
//! | [`apm`] | voice processing: echo cancellation, noise suppression, gain control (BS.1770 loudness), voice activity |
//! | [`codec`] | codec model: `Encoder` / `Decoder` traits, `EncodeNode` / `DecodeNode` packetisers, SDP registry and negotiation |
//! | [`kernels`] | SIMD sample kernels (SSE2 / NEON) with scalar twins |
//! | [`g711`] | G.711 μ-law / A-law codec (bit-exact with ITU-T G.191) and its encoder / decoder nodes |
//! | [`g722`] | G.722 64 kbit/s wideband codec, bit-exact with spandsp |
//! | [`g729`] | G.729 Annex A/B speech codec, bit-exact with bcg729 |
//! | [`jitter`] | adaptive jitter buffer with concealment, time stretching and RFC 3550 / 3611 / W3C statistics |
//! | [`resample`] | streaming polyphase windowed-sinc resampler (8–48 kHz) and its node |
//! | [`opus`] | Opus through libopus: validated configuration, FEC, DTX, concealment, codec-model adapter |
//! | [`mixer`] | the N-1 conference [`Mixer`], [`Sum`], [`Tee`] |
//! | [`level`] | [`Gain`], [`Mute`], [`LevelMeter`] |
//! | [`sources`] | [`ToneSource`], [`NoiseSource`] |
//! | [`wav`] | [`WavSource`], [`WavSink`] |
//!
//! Every node follows the real-time rules of [`rvoip_media_graph::Processor`]: nothing in
//! `process`, `set_param` or `reset` allocates, locks, prints or panics, and NaN / Inf input
//! never reaches an output (the node outputs silence for that quantum and calls
//! `report_error`).
//!
//! ```
//! use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
//! use rvoip_media_nodes::Mixer;
//!
//! let mut h = NodeHarness::new(Box::new(Mixer::new(3, AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
//! h.audio_in_mut(0).fill(0.1);
//! h.audio_in_mut(1).fill(0.2);
//! h.audio_in_mut(2).fill(0.4);
//! assert_eq!(h.run(), 0);
//! assert!((h.audio_out(0)[0] - 0.6).abs() < 1e-6); // participant 0 hears 1 and 2
//! ```
#![deny(missing_docs)]

pub mod apm;
pub mod codec;
mod display;
pub mod g711;
pub mod g722;
pub mod g729;
pub mod jitter;
pub mod kernels;
pub mod level;
pub mod mixer;
pub mod opus;
mod ports;
pub mod resample;
pub mod sources;
pub mod wav;

pub use g711::G711Law;

/// Builds, on the calling thread, the per-thread state that some nodes' libraries create
/// lazily (today: the FFT plans and scratch buffers behind [`apm::RnnoiseSuppressor`], see
/// [`apm::ns::rnnoise::prepare_thread`]), so that running those nodes on this thread
/// allocates nothing. It allocates itself: a real-time thread calls it once before its first
/// cycle, as the engine's workers do.
///
/// ```
/// use rvoip_media_nodes::apm::RnnoiseSuppressor;
/// let mut ns = RnnoiseSuppressor::new(16_000)?;
/// std::thread::spawn(move || {
///     rvoip_media_nodes::prepare_thread(); // before the real-time loop
///     let mut frame = [0.0f32; 160];
///     ns.process_frame(&mut frame); // no allocation on this thread from here on
/// })
/// .join()
/// .unwrap();
/// # Ok::<(), rvoip_media_nodes::apm::ApmError>(())
/// ```
pub fn prepare_thread() {
    apm::ns::rnnoise::prepare_thread();
}
pub use level::{Gain, LevelMeter, Mute, MuteCounter};
pub use mixer::{Mixer, MixerMembership, Sum, Tee};
pub use sources::{NoiseSource, ToneSource};
pub use wav::{WavError, WavSampleFormat, WavSink, WavSinkHandle, WavSource};
