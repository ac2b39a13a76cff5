//! [`OpusEncoder`]: libopus's encoder with validated settings, input sanitising and no
//! per-frame allocation.

use opusic_sys as ffi;

use super::config::{check_complexity, check_loss, Application, Bitrate, BitrateMode, OpusEncoderConfig, Signal};
use super::raw::{self, RawEncoder};
use super::{OpusError, MAX_BITRATE, MIN_BITRATE};

/// What [`OpusEncoder::encode`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodedPacket {
    /// Bytes written to the output buffer.
    pub len: usize,
    /// The packet is a DTX packet (at most 2 bytes: libopus says it need not be sent; a
    /// receiver treats its absence as a loss and conceals / generates comfort noise).
    pub dtx: bool,
}

/// An Opus encoder (libopus `OpusEncoder`) for one [`OpusEncoderConfig`].
///
/// ```
/// use rvoip_media_nodes::opus::{BitrateMode, Bitrate, OpusEncoderConfig, MAX_PACKET_BYTES};
///
/// let mut enc = OpusEncoderConfig::new(8000, 1)
///     .bitrate(Bitrate::Bits(16_000))
///     .bitrate_mode(BitrateMode::Cbr)
///     .build()
///     .unwrap();
/// let mut pkt = [0u8; MAX_PACKET_BYTES];
/// let pcm = vec![f32::NAN; enc.frame_len()]; // sanitised to silence before libopus sees it
/// let p = enc.encode(&pcm, &mut pkt).unwrap();
/// assert_eq!(p.len, 40); // 16 kbit/s * 20 ms, CBR
/// ```
pub struct OpusEncoder {
    enc: RawEncoder,
    cfg: OpusEncoderConfig,
    frame_len: usize,
    lookahead: usize,
    /// Sanitised copy of a frame holding non-finite samples (one frame, interleaved).
    scratch: Box<[f32]>,
}

impl std::fmt::Debug for OpusEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusEncoder").field("config", &self.cfg).field("lookahead", &self.lookahead).finish()
    }
}

impl OpusEncoder {
    /// Validates `cfg` and creates the encoder. Allocates (libopus state, one frame of
    /// scratch); everything after this does not.
    pub fn new(cfg: OpusEncoderConfig) -> Result<Self, OpusError> {
        cfg.validate()?;
        let app = match cfg.get_application() {
            Application::Voip => ffi::OPUS_APPLICATION_VOIP,
            Application::Audio => ffi::OPUS_APPLICATION_AUDIO,
            Application::LowDelay => ffi::OPUS_APPLICATION_RESTRICTED_LOWDELAY,
        };
        let mut enc = RawEncoder::new(cfg.get_sample_rate(), cfg.get_channels(), app)?;
        let signal = match cfg.get_signal() {
            Signal::Auto => ffi::OPUS_AUTO,
            Signal::Voice => ffi::OPUS_SIGNAL_VOICE,
            Signal::Music => ffi::OPUS_SIGNAL_MUSIC,
        };
        enc.set(raw::SET_SIGNAL, signal)?;
        let (vbr, constrained) = match cfg.get_bitrate_mode() {
            BitrateMode::Vbr => (true, false),
            BitrateMode::ConstrainedVbr => (true, true),
            BitrateMode::Cbr => (false, false),
        };
        enc.set(raw::SET_VBR, i32::from(vbr))?;
        enc.set(raw::SET_VBR_CONSTRAINT, i32::from(constrained))?;
        if let Some(bw) = cfg.get_max_bandwidth() {
            enc.set(raw::SET_MAX_BANDWIDTH, bw.to_opus())?;
        }
        let frame_len = cfg.frame_samples() * usize::from(cfg.get_channels());
        let mut e = OpusEncoder { enc, cfg, frame_len, lookahead: 0, scratch: vec![0.0; frame_len].into_boxed_slice() };
        e.apply_runtime()?;
        e.lookahead = usize::try_from(e.enc.get(raw::GET_LOOKAHEAD)?).unwrap_or(0);
        Ok(e)
    }

    /// Applies the settings that can also change at run time.
    fn apply_runtime(&mut self) -> Result<(), OpusError> {
        let c = self.cfg;
        self.enc.set(raw::SET_BITRATE, to_opus_bitrate(c.get_bitrate()))?;
        self.enc.set(raw::SET_COMPLEXITY, i32::from(c.get_complexity()))?;
        self.enc.set(raw::SET_INBAND_FEC, i32::from(c.get_inband_fec()))?;
        self.enc.set(raw::SET_PACKET_LOSS_PERC, i32::from(c.get_packet_loss_percent()))?;
        self.enc.set(raw::SET_DTX, i32::from(c.get_dtx()))?;
        Ok(())
    }

    /// The settings (reflecting run-time changes).
    pub fn config(&self) -> &OpusEncoderConfig {
        &self.cfg
    }

    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.cfg.get_sample_rate()
    }

    /// Channel count.
    pub fn channels(&self) -> u16 {
        self.cfg.get_channels()
    }

    /// Samples per channel of one frame.
    pub fn frame_samples(&self) -> usize {
        self.cfg.frame_samples()
    }

    /// Interleaved samples of one frame: the input length [`OpusEncoder::encode`] takes.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// The codec delay in samples per channel (`OPUS_GET_LOOKAHEAD`): decoded audio lags the
    /// input by this much.
    pub fn lookahead(&self) -> usize {
        self.lookahead
    }

    /// Largest packet one frame can produce (1275 bytes per 20 ms, plus framing): an output
    /// buffer this large never caps the bit rate.
    pub fn max_packet_bytes(&self) -> usize {
        let frames20 = (self.cfg.get_frame_duration_us() as usize).div_ceil(20_000);
        frames20 * 1275 + if frames20 > 1 { 7 } else { 1 }
    }

    /// Encodes one frame of [`OpusEncoder::frame_len`] interleaved samples (nominal range
    /// ±1). Samples outside ±1 clip and NaN encodes as 0: a frame holding any such sample (see
    /// [`needs_sanitising`]) is fixed up in a preallocated copy first, so NaN / ±Inf never
    /// reach libopus. `out` receives the packet; its length bounds the packet size (libopus
    /// lowers the bit rate to fit), so make it [`OpusEncoder::max_packet_bytes`] to leave the
    /// bit rate alone; it must not be empty.
    pub fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<EncodedPacket, OpusError> {
        self.check_io(pcm.len(), out.len())?;
        let len = if !needs_sanitising(pcm) {
            self.enc.encode_float(pcm, out)?
        } else {
            for (d, &s) in self.scratch.iter_mut().zip(pcm) {
                *d = if s.is_nan() { 0.0 } else { s.clamp(-1.0, 1.0) };
            }
            self.enc.encode_float(&self.scratch, out)?
        };
        Ok(EncodedPacket { len, dtx: len <= 2 })
    }

    /// [`OpusEncoder::encode`] for 16-bit samples.
    pub fn encode_i16(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<EncodedPacket, OpusError> {
        self.check_io(pcm.len(), out.len())?;
        let len = self.enc.encode_i16(pcm, out)?;
        Ok(EncodedPacket { len, dtx: len <= 2 })
    }

    fn check_io(&self, pcm: usize, out: usize) -> Result<(), OpusError> {
        if pcm != self.frame_len {
            return Err(OpusError::InputLength { needed: self.frame_len, got: pcm });
        }
        if out == 0 {
            return Err(OpusError::OutputTooSmall { needed: 1, got: 0 });
        }
        Ok(())
    }

    /// Changes the target bit rate (real-time safe).
    pub fn set_bitrate(&mut self, bitrate: Bitrate) -> Result<(), OpusError> {
        if let Bitrate::Bits(b) = bitrate {
            if !(MIN_BITRATE..=MAX_BITRATE).contains(&b) {
                return Err(OpusError::BitrateOutOfRange { got: b, min: MIN_BITRATE, max: MAX_BITRATE });
            }
        }
        self.enc.set(raw::SET_BITRATE, to_opus_bitrate(bitrate))?;
        self.cfg.set_bitrate_field(bitrate);
        Ok(())
    }

    /// Changes the expected packet loss, percent (real-time safe).
    pub fn set_packet_loss_percent(&mut self, percent: u8) -> Result<(), OpusError> {
        check_loss(percent)?;
        self.enc.set(raw::SET_PACKET_LOSS_PERC, i32::from(percent))?;
        self.cfg.set_loss_field(percent);
        Ok(())
    }

    /// Turns in-band FEC on or off (real-time safe).
    pub fn set_inband_fec(&mut self, on: bool) -> Result<(), OpusError> {
        if on && self.cfg.get_application() == Application::LowDelay {
            return Err(OpusError::FecNeedsSilk);
        }
        self.enc.set(raw::SET_INBAND_FEC, i32::from(on))?;
        self.cfg.set_fec_field(on);
        Ok(())
    }

    /// Turns DTX on or off (real-time safe).
    pub fn set_dtx(&mut self, on: bool) -> Result<(), OpusError> {
        self.enc.set(raw::SET_DTX, i32::from(on))?;
        self.cfg.set_dtx_field(on);
        Ok(())
    }

    /// Changes the complexity, 0..=10 (real-time safe).
    pub fn set_complexity(&mut self, complexity: u8) -> Result<(), OpusError> {
        check_complexity(complexity)?;
        self.enc.set(raw::SET_COMPLEXITY, i32::from(complexity))?;
        self.cfg.set_complexity_field(complexity);
        Ok(())
    }

    /// The bit rate libopus is targeting now, bit/s (`OPUS_GET_BITRATE`; resolves
    /// [`Bitrate::Auto`] and [`Bitrate::Max`]).
    pub fn current_bitrate(&mut self) -> u32 {
        match self.enc.get(raw::GET_BITRATE) {
            Ok(b) if b > 0 => b as u32,
            Ok(_) | Err(_) => MAX_BITRATE,
        }
    }

    /// Whether the encoder is currently in DTX (`OPUS_GET_IN_DTX`).
    pub fn in_dtx(&mut self) -> bool {
        self.enc.get(raw::GET_IN_DTX).is_ok_and(|d| d != 0)
    }

    /// The range-coder state after the last packet (`OPUS_GET_FINAL_RANGE`), for
    /// conformance checks against a decoder's.
    pub fn final_range(&mut self) -> u32 {
        self.enc.final_range().unwrap_or(0)
    }

    /// Returns to the freshly created state, keeping the settings (real-time safe).
    pub fn reset(&mut self) {
        // OPUS_RESET_STATE cannot fail on a valid encoder.
        let _ = self.enc.reset();
    }
}

/// Whether [`OpusEncoder::encode`] has to fix `pcm` up before libopus sees it: true when a
/// sample is NaN or outside ±1 (infinities included). One branch-free pass.
///
/// ```
/// use rvoip_media_nodes::opus::needs_sanitising;
/// assert!(!needs_sanitising(&[0.0, 1.0, -1.0, 0.25]));
/// assert!(needs_sanitising(&[0.0, f32::NAN]));
/// assert!(needs_sanitising(&[f32::NEG_INFINITY]));
/// assert!(needs_sanitising(&[1.5]));
/// ```
pub fn needs_sanitising(pcm: &[f32]) -> bool {
    // `<=` is false for NaN, so NaN is caught without a separate test.
    !pcm.iter().fold(true, |ok, v| ok & (v.abs() <= 1.0))
}

/// libopus's `OPUS_SET_BITRATE` argument for `b`.
fn to_opus_bitrate(b: Bitrate) -> i32 {
    match b {
        Bitrate::Auto => ffi::OPUS_AUTO,
        Bitrate::Max => ffi::OPUS_BITRATE_MAX,
        // Validated to 6000..=510000, so it fits an i32.
        Bitrate::Bits(b) => b as i32,
    }
}
