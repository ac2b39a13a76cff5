//! [`OpusDecoder`]: libopus's decoder behind payload and buffer validation, with loss
//! concealment and FEC recovery.

use super::config::{check_complexity, check_format};
use super::raw::{self, RawDecoder, RawError};
use super::{granule, OpusError, MAX_PACKET_US, MAX_PAYLOAD_BYTES};

/// The decoder complexity from which libopus (1.6, built with its DNN code: the `dred`
/// feature of `opusic-sys`) conceals lost packets with its neural concealment ("deep PLC":
/// an LPCNet-feature predictor and the FARGAN vocoder, weights built in) instead of its
/// classic PLC: for SILK wideband (16 kHz internal) frames through the whole gap, for
/// CELT-only frames through the first 200 ms of a gap (then CELT's noise PLC); CELT's part of
/// a hybrid packet and narrow/medium-band SILK keep the classic PLC. Higher complexities add
/// nothing in this build (libopus's OSCE enhancement, at 6 and 7, is not compiled in). The
/// DNN build also changes complexity 0 slightly: SILK wideband skips the classic PLC's
/// energy ramp into the first packet after a gap (BENCHMARKS, session 22).
pub const DEEP_PLC_COMPLEXITY: u8 = 5;

/// An Opus decoder (libopus `OpusDecoder`) at one output rate and channel count.
///
/// Any Opus packet decodes at any of the five rates, whatever rate it was encoded at.
/// Durations handed back are samples *per channel*; buffers are interleaved.
///
/// * [`OpusDecoder::decode`]`(Some(p), out)` decodes a packet; `(None, out)` conceals one
///   packet's worth (the duration of the last good packet, 20 ms before any).
/// * [`OpusDecoder::decode_fec`]`(next, out)` rebuilds a *lost* packet from the in-band FEC
///   data carried by the packet after it (libopus conceals when `next` carries none); decode
///   `next` itself normally afterwards.
/// * [`OpusDecoder::set_complexity`] (0 when created): from [`DEEP_PLC_COMPLEXITY`] a lost
///   packet is concealed by libopus's neural PLC, which sounds much closer to the lost speech
///   but costs far more per concealed frame than the classic PLC (BENCHMARKS, session 22).
///   Received packets cost the same at any complexity.
///
/// ```
/// use rvoip_media_nodes::opus::{OpusDecoder, OpusError};
///
/// let mut dec = OpusDecoder::new(16_000, 1).unwrap();
/// let mut out = [0f32; 320];
/// // A truncated packet: the TOC announces a code-3 packet whose frame count byte is missing.
/// assert!(matches!(dec.decode(Some(&[0x0b]), &mut out), Err(OpusError::BadPayload { .. })));
/// // So the caller conceals instead: 20 ms of (here) silence.
/// assert_eq!(dec.decode(None, &mut out).unwrap(), 320);
/// ```
pub struct OpusDecoder {
    dec: RawDecoder,
    rate: u32,
    channels: u16,
    /// Duration of the last good packet, samples per channel.
    last_samples: usize,
    /// 120 ms in samples per channel.
    max_samples: usize,
}

impl std::fmt::Debug for OpusDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusDecoder")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .field("last_samples", &self.last_samples)
            .finish()
    }
}

/// Output sample types libopus decodes to.
trait Pcm: Copy {
    fn run(dec: &mut RawDecoder, input: &[u8], out: &mut [Self], fec: bool) -> Result<usize, RawError>;
}

impl Pcm for f32 {
    fn run(dec: &mut RawDecoder, input: &[u8], out: &mut [f32], fec: bool) -> Result<usize, RawError> {
        dec.decode_float(input, out, fec)
    }
}

impl Pcm for i16 {
    fn run(dec: &mut RawDecoder, input: &[u8], out: &mut [i16], fec: bool) -> Result<usize, RawError> {
        dec.decode_i16(input, out, fec)
    }
}

impl OpusDecoder {
    /// A decoder producing `sample_rate` Hz ([`SAMPLE_RATES`](super::SAMPLE_RATES)) with
    /// `channels` (1 or 2) channels. Allocates the libopus state.
    pub fn new(sample_rate: u32, channels: u16) -> Result<Self, OpusError> {
        check_format(sample_rate, channels)?;
        let dec = RawDecoder::new(sample_rate, channels)?;
        let max_samples = sample_rate as usize * MAX_PACKET_US as usize / 1_000_000;
        Ok(OpusDecoder { dec, rate: sample_rate, channels, last_samples: sample_rate as usize / 50, max_samples })
    }

    /// Sets the decoder complexity (0 to [`MAX_COMPLEXITY`](super::MAX_COMPLEXITY); 0 when
    /// created; kept by
    /// [`OpusDecoder::reset`]): [`DEEP_PLC_COMPLEXITY`] and above conceal lost packets with
    /// libopus's neural PLC. Real-time safe (a field in libopus's state).
    ///
    /// ```
    /// use rvoip_media_nodes::opus::{OpusDecoder, DEEP_PLC_COMPLEXITY};
    ///
    /// let mut dec = OpusDecoder::new(16_000, 1).unwrap();
    /// assert_eq!(dec.complexity(), 0);
    /// dec.set_complexity(DEEP_PLC_COMPLEXITY).unwrap();
    /// assert_eq!(dec.complexity(), 5);
    /// assert!(dec.set_complexity(11).is_err());
    /// assert_eq!(dec.complexity(), 5);
    /// ```
    pub fn set_complexity(&mut self, complexity: u8) -> Result<(), OpusError> {
        check_complexity(complexity)?;
        self.dec.set(raw::SET_COMPLEXITY, i32::from(complexity)).map_err(OpusError::from)
    }

    /// The decoder complexity (`OPUS_GET_COMPLEXITY`, read back from libopus).
    pub fn complexity(&mut self) -> u8 {
        // OPUS_GET_COMPLEXITY cannot fail on a valid decoder; libopus keeps it in 0..=10.
        self.dec.get(raw::GET_COMPLEXITY).map_or(0, |c| c.clamp(0, 10) as u8)
    }

    /// Output sample rate, Hz.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Output channels.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Duration of the last good packet in samples per channel (20 ms before the first): what
    /// [`OpusDecoder::decode`]`(None, ..)` conceals.
    pub fn last_packet_samples(&self) -> usize {
        self.last_samples
    }

    /// Longest output of one call, interleaved samples (120 ms): an output buffer this large
    /// fits any packet.
    pub fn max_output_len(&self) -> usize {
        self.max_samples * usize::from(self.channels)
    }

    /// Samples per channel `payload` decodes to, after the same checks as
    /// [`OpusDecoder::decode`] makes before decoding (empty, oversized, unparsable table of
    /// contents, longer than 120 ms).
    pub fn samples_in(&self, payload: &[u8]) -> Result<usize, OpusError> {
        if payload.is_empty() {
            return Err(OpusError::BadPayload { len: 0, reason: "empty payload" });
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(OpusError::PayloadTooLarge { len: payload.len(), max: MAX_PAYLOAD_BYTES });
        }
        match raw::packet_samples(payload, self.rate) {
            Ok(n) if n > 0 && n <= self.max_samples => Ok(n),
            _ => Err(OpusError::BadPayload {
                len: payload.len(),
                reason: "malformed frame count or a duration over 120 ms",
            }),
        }
    }

    /// Decodes `payload`, or conceals one packet's duration when it is `None` (see
    /// [`OpusDecoder::last_packet_samples`]). Returns samples per channel written to the
    /// start of `out`. On error nothing is written and the decoder state is unchanged: the
    /// caller should conceal.
    pub fn decode(&mut self, payload: Option<&[u8]>, out: &mut [f32]) -> Result<usize, OpusError> {
        self.decode_any(payload, out)
    }

    /// [`OpusDecoder::decode`] to 16-bit samples.
    pub fn decode_i16(&mut self, payload: Option<&[u8]>, out: &mut [i16]) -> Result<usize, OpusError> {
        self.decode_any(payload, out)
    }

    fn decode_any<T: Pcm>(&mut self, payload: Option<&[u8]>, out: &mut [T]) -> Result<usize, OpusError> {
        let Some(p) = payload else {
            return self.conceal_any(self.last_samples, out);
        };
        let n = self.samples_in(p)?;
        let dst = self.dst(out, n)?;
        match T::run(&mut self.dec, p, dst, false) {
            Ok(got) => {
                self.last_samples = n;
                Ok(got)
            }
            Err(e) => Err(map_packet_error(e, p.len())),
        }
    }

    /// Conceals `samples` samples per channel of missing audio (a multiple of 2.5 ms, at most
    /// 120 ms): libopus's packet-loss concealment, which fades to silence over a long gap.
    pub fn conceal(&mut self, samples: usize, out: &mut [f32]) -> Result<usize, OpusError> {
        self.conceal_any(samples, out)
    }

    fn conceal_any<T: Pcm>(&mut self, samples: usize, out: &mut [T]) -> Result<usize, OpusError> {
        self.check_duration(samples)?;
        let dst = self.dst(out, samples)?;
        T::run(&mut self.dec, &[], dst, false).map_err(OpusError::from)
    }

    /// Rebuilds a lost packet from the FEC data in `next`, the packet that followed it,
    /// assuming the lost one had `next`'s duration. Returns samples per channel written.
    /// Without FEC data in `next`, libopus conceals instead. Decode `next` normally after
    /// this.
    pub fn decode_fec(&mut self, next: &[u8], out: &mut [f32]) -> Result<usize, OpusError> {
        let n = self.samples_in(next)?;
        self.decode_fec_for(next, n, out)
    }

    /// [`OpusDecoder::decode_fec`] for a gap of `samples` samples per channel (a multiple of
    /// 2.5 ms, at most 120 ms): libopus conceals the part of the gap before the last frame
    /// and rebuilds that frame from `next`'s FEC data.
    pub fn decode_fec_for(&mut self, next: &[u8], samples: usize, out: &mut [f32]) -> Result<usize, OpusError> {
        self.samples_in(next)?;
        self.check_duration(samples)?;
        let dst = self.dst(out, samples)?;
        match self.dec.decode_float(next, dst, true) {
            Ok(got) => Ok(got),
            Err(e) => Err(map_packet_error(e, next.len())),
        }
    }

    fn check_duration(&self, samples: usize) -> Result<(), OpusError> {
        let step = granule(self.rate);
        if samples == 0 || samples % step != 0 || samples > self.max_samples {
            return Err(OpusError::BadConcealDuration { got: samples, step, max: self.max_samples });
        }
        Ok(())
    }

    /// The first `samples` frames of `out`, or [`OpusError::OutputTooSmall`].
    fn dst<'a, T>(&self, out: &'a mut [T], samples: usize) -> Result<&'a mut [T], OpusError> {
        let needed = samples * usize::from(self.channels);
        let got = out.len();
        out.get_mut(..needed).ok_or(OpusError::OutputTooSmall { needed, got })
    }

    /// The range-coder state after the last packet (`OPUS_GET_FINAL_RANGE`); equal to the
    /// encoder's for a correctly decoded packet.
    pub fn final_range(&mut self) -> u32 {
        self.dec.final_range().unwrap_or(0)
    }

    /// Returns to the freshly created state (real-time safe).
    pub fn reset(&mut self) {
        // OPUS_RESET_STATE cannot fail on a valid decoder.
        let _ = self.dec.reset();
        self.last_samples = self.rate as usize / 50;
    }
}

fn map_packet_error(e: RawError, len: usize) -> OpusError {
    if e.is_invalid_packet() {
        OpusError::BadPayload { len, reason: "corrupt or truncated packet" }
    } else {
        OpusError::from(e)
    }
}
