//! [`OpusEncoderConfig`]: the validated encoder settings and their option types.

use super::{OpusEncoder, OpusError, CHANNELS, FRAME_DURATIONS_US, SAMPLE_RATES};

/// Lowest bit rate accepted, bit/s (RFC 7587 §3.1.1: 6 to 510 kbit/s).
pub const MIN_BITRATE: u32 = 6_000;
/// Highest bit rate accepted, bit/s.
pub const MAX_BITRATE: u32 = 510_000;
/// Highest complexity setting, of the encoder and of the decoder.
pub const MAX_COMPLEXITY: u8 = 10;

/// The libopus application: what the encoder optimises for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Application {
    /// Speech intelligibility (`OPUS_APPLICATION_VOIP`): the default.
    #[default]
    Voip,
    /// Fidelity to the input for music and mixed content (`OPUS_APPLICATION_AUDIO`).
    Audio,
    /// Lowest delay, CELT only, no SILK and hence no in-band FEC
    /// (`OPUS_APPLICATION_RESTRICTED_LOWDELAY`).
    LowDelay,
}

/// A hint about the signal (`OPUS_SET_SIGNAL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Let the encoder classify the signal (the default).
    #[default]
    Auto,
    /// Mostly speech: biases towards SILK / hybrid.
    Voice,
    /// Mostly music: biases towards CELT.
    Music,
}

/// Target bit rate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Bitrate {
    /// libopus picks a rate from the sample rate and channel count (the default).
    #[default]
    Auto,
    /// As many bits as the packet buffer allows.
    Max,
    /// This many bit/s, [`MIN_BITRATE`]..=[`MAX_BITRATE`].
    Bits(u32),
}

/// How the bit rate may vary from packet to packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BitrateMode {
    /// Unconstrained variable bit rate.
    Vbr,
    /// Variable bit rate with the bit reservoir bounded to about one frame (the libopus
    /// default).
    #[default]
    ConstrainedVbr,
    /// Constant bit rate: every packet of a given duration has the same size.
    Cbr,
}

/// Audio bandwidth (`OPUS_SET_MAX_BANDWIDTH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bandwidth {
    /// 4 kHz passband.
    Narrowband,
    /// 6 kHz passband.
    Mediumband,
    /// 8 kHz passband.
    Wideband,
    /// 12 kHz passband.
    SuperWideband,
    /// 20 kHz passband.
    Fullband,
}

impl Bandwidth {
    /// libopus's `OPUS_BANDWIDTH_*` code.
    pub(crate) fn to_opus(self) -> i32 {
        match self {
            Bandwidth::Narrowband => opusic_sys::OPUS_BANDWIDTH_NARROWBAND,
            Bandwidth::Mediumband => opusic_sys::OPUS_BANDWIDTH_MEDIUMBAND,
            Bandwidth::Wideband => opusic_sys::OPUS_BANDWIDTH_WIDEBAND,
            Bandwidth::SuperWideband => opusic_sys::OPUS_BANDWIDTH_SUPERWIDEBAND,
            Bandwidth::Fullband => opusic_sys::OPUS_BANDWIDTH_FULLBAND,
        }
    }
}

/// Opus encoder settings, built with chained setters and checked by
/// [`OpusEncoderConfig::validate`] (which [`OpusEncoderConfig::build`] calls).
///
/// Defaults: 20 ms frames, [`Application::Voip`], [`Signal::Auto`], [`Bitrate::Auto`],
/// [`BitrateMode::ConstrainedVbr`], complexity 9, no DTX, no in-band FEC, 0 % expected loss.
///
/// ```
/// use rvoip_media_nodes::opus::{Bitrate, BitrateMode, OpusEncoderConfig, OpusError};
///
/// let enc = OpusEncoderConfig::new(16_000, 1)
///     .frame_duration_us(20_000)
///     .bitrate(Bitrate::Bits(24_000))
///     .bitrate_mode(BitrateMode::Cbr)
///     .inband_fec(true)
///     .packet_loss_percent(10)
///     .build()
///     .unwrap();
/// assert_eq!(enc.frame_samples(), 320);
///
/// let err = OpusEncoderConfig::new(44_100, 1).validate().unwrap_err();
/// assert!(matches!(err, OpusError::UnsupportedSampleRate { got: 44_100, .. }));
/// assert_eq!(err.to_string(), "Opus does not support a sample rate of 44100 Hz (supported: 8000, 12000, 16000, 24000, 48000 Hz)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpusEncoderConfig {
    sample_rate: u32,
    channels: u16,
    frame_us: u32,
    application: Application,
    signal: Signal,
    bitrate: Bitrate,
    bitrate_mode: BitrateMode,
    complexity: u8,
    dtx: bool,
    inband_fec: bool,
    packet_loss_percent: u8,
    max_bandwidth: Option<Bandwidth>,
}

impl OpusEncoderConfig {
    /// Settings for `sample_rate` Hz and `channels` interleaved channels, other settings at
    /// their defaults. Nothing is checked until [`OpusEncoderConfig::validate`].
    pub fn new(sample_rate: u32, channels: u16) -> Self {
        OpusEncoderConfig {
            sample_rate,
            channels,
            frame_us: 20_000,
            application: Application::Voip,
            signal: Signal::Auto,
            bitrate: Bitrate::Auto,
            bitrate_mode: BitrateMode::ConstrainedVbr,
            complexity: 9,
            dtx: false,
            inband_fec: false,
            packet_loss_percent: 0,
            max_bandwidth: None,
        }
    }

    /// Frame (and packet) duration in microseconds: 10 000, 20 000, 40 000 or 60 000.
    pub fn frame_duration_us(mut self, us: u32) -> Self {
        self.frame_us = us;
        self
    }

    /// The libopus application.
    pub fn application(mut self, application: Application) -> Self {
        self.application = application;
        self
    }

    /// Signal-type hint.
    pub fn signal(mut self, signal: Signal) -> Self {
        self.signal = signal;
        self
    }

    /// Target bit rate.
    pub fn bitrate(mut self, bitrate: Bitrate) -> Self {
        self.bitrate = bitrate;
        self
    }

    /// VBR, constrained VBR or CBR.
    pub fn bitrate_mode(mut self, mode: BitrateMode) -> Self {
        self.bitrate_mode = mode;
        self
    }

    /// Computational complexity 0..=10 (higher: better quality, more CPU).
    pub fn complexity(mut self, complexity: u8) -> Self {
        self.complexity = complexity;
        self
    }

    /// Discontinuous transmission: during silence the encoder emits 1-byte packets that need
    /// not be sent (see [`EncodedPacket::dtx`](super::EncodedPacket::dtx)).
    pub fn dtx(mut self, on: bool) -> Self {
        self.dtx = on;
        self
    }

    /// In-band forward error correction: each packet carries a low-rate copy of the previous
    /// one, which [`OpusDecoder::decode_fec`](super::OpusDecoder::decode_fec) uses to rebuild
    /// a lost packet. Needs SILK, so not with [`Application::LowDelay`]; libopus only spends
    /// bits on it when [`OpusEncoderConfig::packet_loss_percent`] is above 0.
    pub fn inband_fec(mut self, on: bool) -> Self {
        self.inband_fec = on;
        self
    }

    /// Expected packet loss in percent, 0..=100: makes the encoder more robust (and sizes the
    /// FEC data).
    pub fn packet_loss_percent(mut self, percent: u8) -> Self {
        self.packet_loss_percent = percent;
        self
    }

    /// Upper bound on the coded audio bandwidth (`None`: as the sample rate allows).
    pub fn max_bandwidth(mut self, bandwidth: Option<Bandwidth>) -> Self {
        self.max_bandwidth = bandwidth;
        self
    }

    /// Applies what the remote's fmtp line (RFC 7587 §6.1) asks of our encoder:
    /// `useinbandfec=1` turns in-band FEC on (unless [`Application::LowDelay`]; it only costs
    /// bits with [`OpusEncoderConfig::packet_loss_percent`] above 0), `usedtx` sets DTX,
    /// `maxaveragebitrate` caps the bit rate and `maxplaybackrate` caps the coded bandwidth.
    /// `stereo` is left to the caller's choice of channel count.
    ///
    /// ```
    /// use rvoip_media_nodes::codec::OpusParams;
    /// use rvoip_media_nodes::opus::{Bandwidth, Bitrate, OpusEncoderConfig};
    ///
    /// let p = OpusParams::parse("useinbandfec=1;usedtx=1;maxaveragebitrate=20000;maxplaybackrate=16000");
    /// let c = OpusEncoderConfig::new(48_000, 1).bitrate(Bitrate::Bits(32_000)).with_remote_params(&p);
    /// assert!(c.get_inband_fec() && c.get_dtx());
    /// assert_eq!(c.get_bitrate(), Bitrate::Bits(20_000));
    /// assert_eq!(c.get_max_bandwidth(), Some(Bandwidth::Wideband));
    /// ```
    pub fn with_remote_params(mut self, p: &crate::codec::OpusParams) -> Self {
        if p.useinbandfec == Some(true) && self.application != Application::LowDelay {
            self.inband_fec = true;
        }
        if let Some(dtx) = p.usedtx {
            self.dtx = dtx;
        }
        if let Some(max) = p.maxaveragebitrate {
            let max = max.clamp(MIN_BITRATE, MAX_BITRATE);
            self.bitrate = match self.bitrate {
                Bitrate::Bits(b) => Bitrate::Bits(b.min(max)),
                Bitrate::Auto | Bitrate::Max => Bitrate::Bits(max),
            };
        }
        if let Some(rate) = p.maxplaybackrate {
            let bw = match rate {
                0..=8000 => Bandwidth::Narrowband,
                8001..=12_000 => Bandwidth::Mediumband,
                12_001..=16_000 => Bandwidth::Wideband,
                16_001..=24_000 => Bandwidth::SuperWideband,
                _ => Bandwidth::Fullband,
            };
            self.max_bandwidth = Some(self.max_bandwidth.map_or(bw, |b| b.min(bw)));
        }
        self
    }

    /// Sample rate in Hz.
    pub fn get_sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Channel count.
    pub fn get_channels(&self) -> u16 {
        self.channels
    }

    /// Frame duration in µs.
    pub fn get_frame_duration_us(&self) -> u32 {
        self.frame_us
    }

    /// Samples per channel of one frame.
    pub fn frame_samples(&self) -> usize {
        (u64::from(self.sample_rate) * u64::from(self.frame_us) / 1_000_000) as usize
    }

    /// The application.
    pub fn get_application(&self) -> Application {
        self.application
    }

    /// The signal hint.
    pub fn get_signal(&self) -> Signal {
        self.signal
    }

    /// The target bit rate.
    pub fn get_bitrate(&self) -> Bitrate {
        self.bitrate
    }

    /// The bit-rate mode.
    pub fn get_bitrate_mode(&self) -> BitrateMode {
        self.bitrate_mode
    }

    /// The complexity.
    pub fn get_complexity(&self) -> u8 {
        self.complexity
    }

    /// Whether DTX is on.
    pub fn get_dtx(&self) -> bool {
        self.dtx
    }

    /// Whether in-band FEC is on.
    pub fn get_inband_fec(&self) -> bool {
        self.inband_fec
    }

    /// Expected packet loss, percent.
    pub fn get_packet_loss_percent(&self) -> u8 {
        self.packet_loss_percent
    }

    /// The bandwidth limit.
    pub fn get_max_bandwidth(&self) -> Option<Bandwidth> {
        self.max_bandwidth
    }

    /// Checks every setting; the error names the offending value and what is supported.
    pub fn validate(&self) -> Result<(), OpusError> {
        check_format(self.sample_rate, self.channels)?;
        if !FRAME_DURATIONS_US.contains(&self.frame_us) {
            return Err(OpusError::UnsupportedFrameDuration {
                got_us: self.frame_us,
                supported_us: FRAME_DURATIONS_US,
            });
        }
        if let Bitrate::Bits(b) = self.bitrate {
            if !(MIN_BITRATE..=MAX_BITRATE).contains(&b) {
                return Err(OpusError::BitrateOutOfRange { got: b, min: MIN_BITRATE, max: MAX_BITRATE });
            }
        }
        check_complexity(self.complexity)?;
        check_loss(self.packet_loss_percent)?;
        if self.inband_fec && self.application == Application::LowDelay {
            return Err(OpusError::FecNeedsSilk);
        }
        Ok(())
    }

    /// Validates and creates the encoder (this allocates; do it outside the real-time path).
    pub fn build(&self) -> Result<OpusEncoder, OpusError> {
        OpusEncoder::new(*self)
    }

    pub(crate) fn set_bitrate_field(&mut self, b: Bitrate) {
        self.bitrate = b;
    }
    pub(crate) fn set_loss_field(&mut self, p: u8) {
        self.packet_loss_percent = p;
    }
    pub(crate) fn set_fec_field(&mut self, on: bool) {
        self.inband_fec = on;
    }
    pub(crate) fn set_dtx_field(&mut self, on: bool) {
        self.dtx = on;
    }
    pub(crate) fn set_complexity_field(&mut self, c: u8) {
        self.complexity = c;
    }
}

/// Checks a sample rate / channel pair against [`SAMPLE_RATES`] and [`CHANNELS`].
pub(crate) fn check_format(sample_rate: u32, channels: u16) -> Result<(), OpusError> {
    if !SAMPLE_RATES.contains(&sample_rate) {
        return Err(OpusError::UnsupportedSampleRate { got: sample_rate, supported: SAMPLE_RATES });
    }
    if !CHANNELS.contains(&channels) {
        return Err(OpusError::UnsupportedChannels { got: channels, supported: CHANNELS });
    }
    Ok(())
}

pub(crate) fn check_complexity(c: u8) -> Result<(), OpusError> {
    if c > MAX_COMPLEXITY {
        return Err(OpusError::ComplexityOutOfRange { got: c, max: MAX_COMPLEXITY });
    }
    Ok(())
}

pub(crate) fn check_loss(p: u8) -> Result<(), OpusError> {
    if p > 100 {
        return Err(OpusError::PacketLossOutOfRange { got: p });
    }
    Ok(())
}
