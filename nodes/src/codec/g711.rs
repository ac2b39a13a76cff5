//! G.711 behind the [`Encoder`] / [`Decoder`] traits, with packet-loss concealment.

use super::plc::{Concealment, Plc};
use super::{prefix_mut, CodecError, CodecInfo, Decoder, EncodedFrame, Encoder, FrameType};
use crate::g711::G711Law;

/// Samples of one G.711 "frame": 2.5 ms, the smallest graph quantum (G.711 itself is
/// sample-based).
const BLOCK: usize = 20;
/// Packet durations offered for G.711, µs.
const PTIMES: &[u32] = &[2_500, 5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000];
fn info(law: G711Law) -> CodecInfo {
    CodecInfo {
        encoding: law.encoding(),
        sample_rate: 8000,
        rtp_clock_rate: 8000,
        channels: 1,
        frame_samples: BLOCK,
        max_frame_bytes: BLOCK,
        ptimes_us: PTIMES,
        default_ptime_us: 20_000,
        payload_type: law.payload_type(),
        bitrate: 64_000,
        // G.711 is sample by sample: no delay.
        delay_samples: 0,
    }
}

/// G.711 encoder (μ-law or A-law), bit-exact with ITU-T G.191 for every 16-bit input.
///
/// The `f32 -> i16` conversion is the exact one of [`crate::kernels::f32_to_i16`]; a
/// frame is 20 samples (2.5 ms), one byte each.
#[derive(Clone, Debug)]
#[repr(C)] // the law first: encoding reads nothing else
pub struct G711CodecEncoder {
    law: G711Law,
    info: CodecInfo,
}

impl G711CodecEncoder {
    /// An encoder for `law`.
    pub fn new(law: G711Law) -> Self {
        G711CodecEncoder { law, info: info(law) }
    }
}

impl Encoder for G711CodecEncoder {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn share(&self) -> Option<Box<dyn Encoder>> {
        Some(Box::new(G711CodecEncoder::new(self.law)))
    }

    fn stateless(&self) -> bool {
        true
    }

    fn encode(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<EncodedFrame, CodecError> {
        if pcm.len() != BLOCK {
            return Err(CodecError::BufferSize { needed: BLOCK, got: pcm.len() });
        }
        if out.len() < BLOCK {
            return Err(CodecError::BufferSize { needed: BLOCK, got: out.len() });
        }
        let n = self.law.encode_f32(pcm, out);
        Ok(EncodedFrame { kind: FrameType::Speech, len: n })
    }

    fn reset(&mut self) {}

    fn encode_frames(&mut self, pcm: &[f32], out: &mut [u8]) -> Option<usize> {
        // Sample by sample, so a run of frames encodes exactly as frame by frame would.
        (pcm.len() % BLOCK == 0 && out.len() >= pcm.len()).then(|| self.law.encode_f32(pcm, out))
    }
}

/// Codes kept for concealment: 30 ms, the concealment's history.
const CODE_HISTORY: usize = 240;
/// The ring the codes are kept in (a power of two at least [`CODE_HISTORY`]).
const CODE_RING: usize = 256;

/// Decodes the last `n` codes (at most [`CODE_HISTORY`]) of the ring `codes`, which end at
/// `end`, into `out`, oldest first.
fn replay(law: G711Law, codes: &[u8; CODE_RING], end: usize, n: usize, out: &mut [f32]) {
    let start = (end + CODE_RING - n) % CODE_RING;
    let first = n.min(CODE_RING - start);
    law.decode_f32(&codes[start..start + first], &mut out[..first]);
    law.decode_f32(&codes[..n - first], &mut out[first..n]);
}

/// G.711 decoder with packet-loss concealment (see [`Concealment`]).
///
/// Decoding a payload is exact (each byte to the G.191 value / 32768) except during the
/// 2.5 ms cross-fade that follows a concealed gap.
///
/// The decoder keeps the last 30 ms of received *codes* (one byte a sample) and decodes
/// them into the concealment's history only when a loss starts: a received packet costs a
/// copy of its bytes, not of four times as many floats, which keeps a leg's working set
/// small when a worker runs a thousand of them. The history is therefore the received
/// signal itself (a cross-faded start after an earlier loss is not in it).
#[derive(Clone, Debug)]
#[repr(C)] // hot fields first: decoding a packet reads one cache line of state
pub struct G711CodecDecoder {
    law: G711Law,
    mode: Concealment,
    /// The last `codes_len` codes end at `codes_end` (a position in the ring, wrapping).
    codes_end: usize,
    codes_len: usize,
    plc: Plc,
    codes: [u8; CODE_RING],
    info: CodecInfo,
}

impl G711CodecDecoder {
    /// A decoder for `law` with [`Concealment::RepeatAndFade`].
    pub fn new(law: G711Law) -> Self {
        Self::with_concealment(law, Concealment::RepeatAndFade)
    }

    /// A decoder for `law` with the given concealment.
    pub fn with_concealment(law: G711Law, mode: Concealment) -> Self {
        G711CodecDecoder {
            law,
            mode,
            codes_end: 0,
            codes_len: 0,
            codes: [0; CODE_RING],
            info: info(law),
            plc: Plc::new(mode, 1),
        }
    }

    /// Records received codes for a later concealment.
    fn keep(&mut self, p: &[u8]) {
        let p = &p[p.len() - p.len().min(CODE_HISTORY)..];
        let at = self.codes_end;
        let first = p.len().min(CODE_RING - at);
        self.codes[at..at + first].copy_from_slice(&p[..first]);
        self.codes[..p.len() - first].copy_from_slice(&p[first..]);
        self.codes_end = (at + p.len()) % CODE_RING;
        self.codes_len = (self.codes_len + p.len()).min(CODE_HISTORY);
    }
}

impl Decoder for G711CodecDecoder {
    fn info(&self) -> &CodecInfo {
        &self.info
    }

    fn samples_in(&self, payload: &[u8]) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::BadPayload { codec: self.info.encoding, len: 0, reason: "empty payload" });
        }
        Ok(payload.len())
    }

    fn decode(&mut self, payload: Option<&[u8]>, out: &mut [f32]) -> Result<usize, CodecError> {
        let Some(p) = payload else {
            let o = prefix_mut(out, BLOCK)?;
            if !self.plc.in_loss() && self.mode == Concealment::RepeatAndFade {
                let n = self.codes_len.min(self.plc.history_capacity());
                let (law, codes, end) = (self.law, &self.codes, self.codes_end);
                self.plc.load_history(n, |h| replay(law, codes, end, n, h));
            }
            self.plc.conceal(o);
            return Ok(BLOCK);
        };
        let n = self.samples_in(p)?;
        let out = prefix_mut(out, n)?;
        self.law.decode_f32(p, out);
        if self.plc.in_loss() {
            self.plc.end_loss(out);
        }
        if self.mode == Concealment::RepeatAndFade {
            self.keep(p);
        }
        Ok(n)
    }

    fn piece_bytes(&self, payload: &[u8], frames: usize) -> Option<usize> {
        // One byte a sample; the code history and the concealment's take bytes in order.
        super::whole_pieces(payload.len(), frames)
    }

    fn conceal_toward(&mut self, next: &[u8], samples: usize) {
        if self.mode == Concealment::RepeatAndFade {
            let law = self.law;
            self.plc.toward(samples, |f| {
                let n = next.len().min(f.len());
                law.decode_f32(&next[..n], &mut f[..n]);
                n
            });
        }
    }

    fn reset(&mut self) {
        self.plc.reset();
        self.codes_end = 0;
        self.codes_len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(start: usize, n: usize, hz: f64) -> Vec<f32> {
        (start..start + n).map(|k| (0.4 * (2.0 * std::f64::consts::PI * hz * k as f64 / 8000.0).sin()) as f32).collect()
    }

    fn encode_all(law: G711Law, x: &[f32]) -> Vec<u8> {
        let mut e = G711CodecEncoder::new(law);
        let mut out = vec![0u8; x.len()];
        for (i, o) in x.chunks_exact(BLOCK).zip(out.chunks_exact_mut(BLOCK)) {
            assert_eq!(e.encode(i, o).unwrap(), EncodedFrame { kind: FrameType::Speech, len: BLOCK });
        }
        out
    }

    #[test]
    fn concealment_continues_a_periodic_signal_then_fades_to_silence() {
        // 250 Hz: period 32 samples; the search range 40..120 finds 64 (two periods).
        let x = tone(0, 400, 250.0);
        let mut d = G711CodecDecoder::new(G711Law::Ulaw);
        let mut y = vec![0f32; 400];
        assert_eq!(d.decode(Some(&encode_all(G711Law::Ulaw, &x)), &mut y).unwrap(), 400);
        // 10 ms of concealment is the true continuation up to G.711 quantisation.
        let truth = tone(400, 80, 250.0);
        let mut c = vec![0f32; 80];
        for k in 0..4 {
            assert_eq!(d.decode(None, &mut c[k * BLOCK..]).unwrap(), BLOCK);
        }
        let sig: f32 = truth.iter().map(|v| v * v).sum();
        let err: f32 = truth.iter().zip(&c).map(|(a, b)| (a - b) * (a - b)).sum();
        let snr = 10.0 * (sig / err).log10();
        assert!(snr > 30.0, "concealment SNR {snr:.1} dB");
        // It fades linearly from 10 ms to silence at 210 ms (Appendix I is silent from 60 ms):
        // 60..70 ms into the loss at 0.70..0.75 of the level, 160..170 ms at 0.20..0.25.
        let mut later = vec![0f32; 100 * BLOCK];
        for k in 0..100 {
            d.decode(None, &mut later[k * BLOCK..]).unwrap();
        }
        let rms = |s: &[f32]| (s.iter().map(|v| v * v).sum::<f32>() / s.len() as f32).sqrt();
        let at = |ms: usize| rms(&later[ms * 8 - 80..ms * 8]) / rms(&c);
        assert!((0.65..0.8).contains(&at(60)), "60 ms: {}", at(60));
        assert!((0.15..0.3).contains(&at(160)), "160 ms: {}", at(160));
        assert!(later[1500..1600].iter().any(|&v| v != 0.0) && later[1600..].iter().all(|&v| v == 0.0));
        // Recovery: exact decode after the 20-sample cross-fade.
        let next = encode_all(G711Law::Ulaw, &tone(0, 80, 250.0));
        let mut z = vec![0f32; 80];
        d.decode(Some(&next), &mut z).unwrap();
        for i in 20..80 {
            assert_eq!(z[i], f32::from(crate::g711::ulaw::decode_sample(next[i])) / 32768.0);
        }
    }

    #[test]
    fn a_loss_conceals_toward_the_next_packet_when_it_is_known() {
        // 200 Hz before a 60 ms loss, 250 Hz after it (a pitch change the past cannot
        // predict). Told the next packet, the concealment's end is that packet's own pitch
        // period extended backwards, so the last 10 ms of the gap are close to the 250 Hz
        // tone at the right phase and the packet follows without a step; extrapolating the
        // past alone is far from it.
        let before = tone(0, 400, 200.0);
        let after: Vec<f32> = tone(880, 160, 250.0);
        let truth_end = tone(800, 80, 250.0);
        let next = encode_all(G711Law::Ulaw, &after);
        let run = |hint: bool| {
            let mut d = G711CodecDecoder::new(G711Law::Ulaw);
            let mut y = vec![0f32; 400];
            d.decode(Some(&encode_all(G711Law::Ulaw, &before)), &mut y).unwrap();
            if hint {
                d.conceal_toward(&next, 480);
            }
            let mut c = vec![0f32; 480];
            for k in 0..24 {
                d.decode(None, &mut c[k * BLOCK..]).unwrap();
            }
            let mut z = vec![0f32; 160];
            d.decode(Some(&next), &mut z).unwrap();
            let sig: f32 = truth_end.iter().map(|v| v * v).sum();
            let err: f32 = truth_end.iter().zip(&c[400..]).map(|(a, b)| (a - b) * (a - b)).sum();
            (10.0 * (sig / err).log10(), (z[0] - c[479]).abs())
        };
        let (snr, step) = run(true);
        assert!(snr > 20.0, "toward the next packet: last 10 ms SNR {snr:.1} dB");
        // The tone's own largest step is 0.4 * 2π * 250 / 8000 = 0.079.
        assert!(step < 0.1, "step into the packet {step}");
        let (snr, _) = run(false);
        assert!(snr < 3.0, "extrapolation alone: last 10 ms SNR {snr:.1} dB");
    }

    #[test]
    fn the_concealment_loop_wraps_without_a_jump() {
        // A 100 Hz tone (period 80 samples) swelling from 0 to 0.6, ending on a crest: a
        // loop of the last period that wrapped hard would step from this crest down to the
        // crest a period earlier, 0.12 lower (twice the tone's largest step between
        // samples). The loop's last quarter period fades into the samples a loop earlier,
        // so no step between concealed samples exceeds the signal's own by much.
        let x: Vec<f32> = (0..400)
            .map(|k| {
                let phase = 2.0 * std::f64::consts::PI * 100.0 * (k as f64 - 399.0) / 8000.0;
                (0.6 * k as f64 / 400.0 * phase.cos()) as f32
            })
            .collect();
        let step = |s: &[f32]| s.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
        let mut d = G711CodecDecoder::new(G711Law::Ulaw);
        let mut y = vec![0f32; 400];
        d.decode(Some(&encode_all(G711Law::Ulaw, &x)), &mut y).unwrap();
        let own = step(&y);
        // 20 ms of loss: the one-period loop, then the two-period one.
        let mut c = vec![0f32; 160];
        for k in 0..8 {
            d.decode(None, &mut c[k * BLOCK..]).unwrap();
        }
        let worst = step(&c);
        assert!(worst < 1.2 * own, "concealment step {worst} against the signal's {own}");
    }

    #[test]
    fn kept_codes_wrap_the_ring_and_give_the_last_30_ms_as_history() {
        // Packets of uneven sizes wrap the code ring at odd places; the concealment must be
        // the one a decoder gives that received only the last 240 codes in one packet.
        let x = encode_all(G711Law::Alaw, &tone(0, 2000, 190.0));
        for cut in [0usize, 13, 77, 160, 201] {
            let mut d = G711CodecDecoder::new(G711Law::Alaw);
            let mut y = vec![0f32; 2000];
            let mut at = 0;
            for len in [cut, 37, 160, 13, 240, 80, 1].into_iter().cycle().filter(|&l| l > 0) {
                let len = len.min(2000 - at);
                if len == 0 {
                    break;
                }
                d.decode(Some(&x[at..at + len]), &mut y).unwrap();
                at += len;
            }
            let mut fresh = G711CodecDecoder::new(G711Law::Alaw);
            fresh.decode(Some(&x[at - 240..at]), &mut y).unwrap();
            let (mut a, mut b) = ([0f32; BLOCK], [0f32; BLOCK]);
            for _ in 0..8 {
                d.decode(None, &mut a).unwrap();
                fresh.decode(None, &mut b).unwrap();
                assert_eq!(a, b, "first packet of {cut} codes");
            }
            assert!(a.iter().any(|&v| v != 0.0));
        }
    }

    #[test]
    fn silence_mode_and_fresh_decoder_conceal_with_zeros() {
        let mut d = G711CodecDecoder::with_concealment(G711Law::Alaw, Concealment::Silence);
        let mut y = [1f32; 80];
        d.decode(Some(&[0x55; 80]), &mut y).unwrap();
        let mut c = [1f32; BLOCK];
        d.decode(None, &mut c).unwrap();
        assert!(c.iter().all(|&v| v == 0.0));
        let mut fresh = G711CodecDecoder::new(G711Law::Alaw);
        let mut c = [1f32; BLOCK];
        fresh.decode(None, &mut c).unwrap();
        assert!(c.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn bad_sizes_are_errors_without_side_effects() {
        let mut d = G711CodecDecoder::new(G711Law::Ulaw);
        let mut y = [7f32; 10];
        assert!(matches!(d.decode(Some(&[]), &mut y), Err(CodecError::BadPayload { len: 0, .. })));
        assert_eq!(d.decode(Some(&[0; 11]), &mut y), Err(CodecError::BufferSize { needed: 11, got: 10 }));
        assert_eq!(d.decode(None, &mut y), Err(CodecError::BufferSize { needed: BLOCK, got: 10 }));
        assert!(y.iter().all(|&v| v == 7.0));
        let mut e = G711CodecEncoder::new(G711Law::Ulaw);
        assert!(e.encode(&[0.0; 19], &mut [0; 20]).is_err());
        assert!(e.encode(&[0.0; 20], &mut [0; 19]).is_err());
    }
}
