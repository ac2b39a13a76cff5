//! G.722 wideband codec at 64 kbit/s: 16 kHz, 16-bit PCM in, one byte per two samples out
//! (8000 bytes per second).
//!
//! # Algorithm
//!
//! ITU-T G.722 sub-band ADPCM: a 24-tap quadrature mirror filter (QMF) splits the 16 kHz
//! signal into two 8 kHz sub-bands. The lower band (0–4 kHz) is coded with 6-bit ADPCM, the
//! higher band (4–8 kHz) with 2-bit ADPCM; each byte carries `(high << 6) | low`. Both bands use
//! a backward-adaptive quantiser scale (log domain, leaky) and a predictor with two poles and six
//! zeros adapted by sign-sign LMS. The decoder mirrors the encoder's inverse quantisers and
//! predictors and recombines the bands with the inverse QMF.
//!
//! The fixed-point arithmetic follows the ITU-T description step by step (16-bit saturation,
//! truncating shifts), and the output is bit-exact with spandsp 0.0.6 (`g722_encode` /
//! `g722_decode`, 64 kbit/s, unpacked): the same bytes from the same PCM, the same PCM from the
//! same bytes. The tests check this on real speech at three levels (normal, clipped, very
//! quiet), a sweep, white noise and arbitrary byte streams. Like spandsp, this is the "non
//! test-mode" codec: 16-bit PCM is scaled to G.722's 15-bit range inside the QMF.
//!
//! One spandsp 0.0.6 quirk is kept for exactness: when the receive QMF's output exceeds the
//! 16-bit range (only for input that was clipping at the encoder), [`G722Decoder::new`] wraps it
//! around as spandsp 0.0.6 does. [`G722Decoder::new_saturating`] clips instead (as later spandsp
//! releases do) and is otherwise identical.
//!
//! # Speed
//!
//! The encoder's quantiser search is one exact reciprocal division and a table look-up instead
//! of the standard's linear search, and the predictor update of both bands runs in 128-bit
//! vectors ([`G722Kernel::Simd`], SSE2 on x86-64) with a scalar twin ([`G722Kernel::Scalar`])
//! that is tested to give identical state. Measured in one process against libspandsp 0.0.6
//! on 60 s of speech, 20 ms calls, interleaved runs on a 2-vCPU Xeon VM (a harness outside
//! this repository): encoder 16.2 vs 36.5 ns per sample, decoder 8.8 vs 20.0 ns per sample,
//! about 2.25x faster for both, with identical bytes and samples throughout.
//!
//! # RTP clock rate
//!
//! G.722 samples at 16 kHz, but its RTP clock rate is **8000** (RFC 3551, section 4.5.2: an error
//! in the original RFC 1890 kept for compatibility). SDP says `a=rtpmap:9 G722/8000`, static
//! payload type 9, and the RTP timestamp advances by **half** the number of audio samples: 160
//! per 20 ms packet of 320 samples (160 bytes). Use [`RTP_CLOCK_RATE`] for timestamps and SDP,
//! [`SAMPLE_RATE`] for audio, and [`rtp_timestamp_increment`] to convert.
//!
//! # Odd sample counts
//!
//! Each byte codes a pair of samples. [`G722Encoder::encode`] keeps an odd trailing sample and
//! pairs it with the first sample of the next call, so splitting a stream at odd positions
//! gives the same bytes as encoding it at once. At the end of a stream a leftover sample
//! ([`G722Encoder::pending`]) is only coded if the caller appends one more sample (e.g. a 0).
//!
//! ```
//! use rvoip_media_nodes::g722::{G722Decoder, G722Encoder};
//!
//! let pcm: Vec<i16> = (0..320).map(|n| ((n as f32 * 0.3).sin() * 8000.0) as i16).collect();
//! let mut enc = G722Encoder::new();
//! let mut bytes = [0u8; 160];
//! assert_eq!(enc.encode(&pcm, &mut bytes), 160); // 20 ms -> 160 bytes
//!
//! let mut dec = G722Decoder::new();
//! let mut out = [0i16; 320];
//! assert_eq!(dec.decode(&bytes, &mut out), 320);
//! ```

mod band;

use band::{sat15, sat16, Bands, HIGH, HIGH_DET, LOW, LOW_DET};
use rvoip_media_graph::PacketFormat;

/// Audio sample rate of G.722, in Hz.
pub const SAMPLE_RATE: u32 = 16_000;

/// RTP clock rate of G.722, in Hz: 8000, not 16000 (RFC 3551 section 4.5.2).
pub const RTP_CLOCK_RATE: u32 = 8_000;

/// Static RTP payload type of G.722.
pub const RTP_PAYLOAD_TYPE: u8 = 9;

/// Bytes per second at 64 kbit/s.
pub const BYTES_PER_SECOND: u32 = 8_000;

/// The packet format of G.722 on a graph port (`G722/8000`, mono).
pub const PACKET_FORMAT: PacketFormat = PacketFormat { encoding: "G722", clock_rate: RTP_CLOCK_RATE, channels: 1 };

/// RTP timestamp increment for `samples` audio samples at 16 kHz: `samples / 2`, because the
/// RTP clock runs at 8 kHz.
///
/// ```
/// assert_eq!(rvoip_media_nodes::g722::rtp_timestamp_increment(320), 160); // 20 ms
/// ```
pub const fn rtp_timestamp_increment(samples: u32) -> u32 {
    samples / 2
}

/// QMF coefficients (ITU-T G.722 table, h0..h11), applied oldest sample first to the even
/// samples; the odd samples use them reversed. DC gain 4096 per branch.
/// Padded with zeros to 16 taps so that the dot product is two 8-lane multiply-adds.
const QMF: [i16; 16] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11, 0, 0, 0, 0];
const QMF_REV: [i16; 16] = [-11, 53, -156, 362, -805, 3876, 951, -210, 32, 12, -11, 3, 0, 0, 0, 0];

/// Which implementation of the predictors' zero sections runs. Both give identical output
/// (tested); the choice is made once, at construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum G722Kernel {
    /// Plain Rust, tap by tap as the standard describes it: the reference twin.
    Scalar,
    /// All six taps at once in 128-bit vectors (SSE2 on x86-64; elsewhere this falls back to
    /// the scalar code).
    Simd,
}

impl G722Kernel {
    /// The kernel `new()` uses: [`G722Kernel::Simd`] on x86-64, [`G722Kernel::Scalar`] elsewhere.
    pub const fn detect() -> Self {
        if cfg!(target_arch = "x86_64") {
            G722Kernel::Simd
        } else {
            G722Kernel::Scalar
        }
    }
}

/// Lower-band quantiser decision levels (Q6), scaled by DETL / 4096.
const Q6: [i32; 32] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940, 1023, 1121, 1219, 1339,
    1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
];
/// 6-bit codes of the decision intervals for negative (ILN) and positive (ILP) differences.
const ILN: [u8; 32] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5,
    4, 0,
];
const ILP: [u8; 32] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34,
    33, 32, 0,
];
/// Inverse quantiser of the 4 most significant lower-band bits (QM4), used for prediction.
const QM4: [i32; 16] =
    [0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584, 1200, 0];
/// Inverse quantiser of all 6 lower-band bits (QM6), used for the decoder output.
const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232, -9360, -8576,
    -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776, -2400, -2032, -1688, -1360, -1040,
    -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
    4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];
/// Lower-band log scale-factor multipliers (WL), indexed through RL42.
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];
/// Higher-band inverse quantiser (QM2), multipliers (WH via RH2) and codes (IHN / IHP).
const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];
const WH: [i32; 3] = [0, -214, 798];
const RH2: [usize; 4] = [2, 1, 2, 1];
const IHN: [u8; 3] = [0, 1, 0];
const IHP: [u8; 3] = [0, 3, 2];

/// Largest lower-band log scale factor index `nb >> 6` (18432 >> 6).
const LOW_NB_INDEX_MAX: usize = LOW_DET.len() - 1;

/// `ceil(2^48 / DETL)` for every `nb >> 6`: `floor(n · RECIP[k] / 2^48) = floor(n / DETL)` exactly
/// for every `n < 2^29` (the error term stays below 2^-19, less than 1 / DETL <= 1 / 32064).
const RECIP_SHIFT: u32 = 48;
const LOW_RECIP: [u64; LOW_NB_INDEX_MAX + 1] = {
    let mut t = [0u64; LOW_NB_INDEX_MAX + 1];
    let mut k = 0;
    while k <= LOW_NB_INDEX_MAX {
        let det = LOW_DET[k] as u64;
        t[k] = (1u64 << RECIP_SHIFT).div_ceil(det);
        k += 1;
    }
    t
};

/// Smallest quotient for which the standard's search gets past every threshold.
const Q6_LAST: usize = 2920;

/// `QUANT_INDEX[u]` = the first `i` in 1..30 with `Q6[i] >= u`, or 30 if none: the decision
/// interval QUANTL finds when `ceil((wd + 1) · 4096 / DETL) = u`.
const QUANT_INDEX: [u8; Q6_LAST + 1] = {
    let mut t = [30u8; Q6_LAST + 1];
    let mut u = 0;
    while u <= Q6_LAST {
        let mut i = 1;
        while i < 30 && (Q6[i] as usize) < u {
            i += 1;
        }
        t[u] = i as u8;
        u += 1;
    }
    t
};

/// QUANTL's decision interval (1..=30) for magnitude `wd` (0..32768) at log scale factor `nb`.
///
/// The standard searches for the first `i` with `wd < (Q6[i] · DETL) >> 12`, i.e.
/// `Q6[i] · DETL >= (wd + 1) · 4096`, i.e. `Q6[i] >= ceil((wd + 1) · 4096 / DETL)`: one exact
/// division (by reciprocal multiplication) and a table look-up instead of up to 29 steps.
#[inline(always)]
fn quant_interval(wd: i32, nb: i32) -> usize {
    let k = ((nb >> 6) as usize).min(LOW_NB_INDEX_MAX);
    let det = LOW_DET[k];
    let n = (((wd + 1) << 12) + det - 1) as u64;
    let u = ((u128::from(n) * u128::from(LOW_RECIP[k])) >> RECIP_SHIFT) as usize;
    usize::from(QUANT_INDEX[u.min(Q6_LAST)])
}

/// The last 12 samples of one QMF branch, stored twice so that the window is always one
/// contiguous slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct QmfHistory {
    buf: [i16; 32],
}

impl QmfHistory {
    const fn new() -> Self {
        QmfHistory { buf: [0; 32] }
    }

    /// Stores `v` as the newest sample at ring position `pos` (0..12).
    #[inline(always)]
    fn push(&mut self, pos: usize, v: i16) {
        self.buf[pos] = v;
        self.buf[pos + 12] = v;
    }

    /// The window oldest-first, given the ring position of the newest sample.
    #[inline(always)]
    /// The window is 16 wide; its last 4 entries meet the zero padding of the coefficients.
    fn window(&self, pos: usize) -> &[i16; 16] {
        // buf[pos + 1..pos + 12] are the older samples, buf[pos + 12] the mirror of the newest.
        self.buf[pos + 1..pos + 17].try_into().unwrap_or(&[0; 16])
    }
}

#[inline(always)]
fn dot16(x: &[i16; 16], c: &[i16; 16]) -> i32 {
    let mut s = 0;
    for i in 0..16 {
        s += i32::from(x[i]) * i32::from(c[i]);
    }
    s
}

/// G.722 64 kbit/s encoder: 16 kHz 16-bit PCM to one byte per two samples.
///
/// `encode` never allocates or panics; the state is a few hundred bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct G722Encoder {
    even: QmfHistory,
    odd: QmfHistory,
    pos: usize,
    bands: Bands,
    pending: Option<i16>,
    simd: bool,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// A fresh encoder (the state the standard's reset gives).
    pub const fn new() -> Self {
        G722Encoder {
            even: QmfHistory::new(),
            odd: QmfHistory::new(),
            pos: 11,
            bands: Bands::new(),
            pending: None,
            simd: matches!(G722Kernel::detect(), G722Kernel::Simd),
        }
    }

    /// The same encoder with an explicit kernel (for tests and benchmarks).
    pub const fn with_kernel(mut self, kernel: G722Kernel) -> Self {
        self.simd = matches!(kernel, G722Kernel::Simd);
        self
    }

    /// Returns the encoder to its initial state (drops a pending odd sample, keeps the kernel).
    pub fn reset(&mut self) {
        let simd = self.simd;
        *self = Self::new();
        self.simd = simd;
    }

    /// The odd sample held back from the last call, if any.
    pub fn pending(&self) -> Option<i16> {
        self.pending
    }

    /// Encodes `pcm` (16 kHz) into `out`, one byte per pair of samples; returns the bytes written.
    ///
    /// With an odd number of samples available (a pending sample plus `pcm`), the last one is
    /// kept for the next call. `out` should hold `(pcm.len() + pending) / 2` bytes; if it is
    /// shorter, only the pairs that fit are encoded and the remaining samples are discarded.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> usize {
        let mut written = 0;
        let mut rest = pcm;
        if let Some(first) = self.pending {
            let Some((&second, tail)) = rest.split_first() else { return 0 };
            let Some(o) = out.first_mut() else { return 0 };
            *o = self.encode_pair(i32::from(first), i32::from(second));
            self.pending = None;
            written = 1;
            rest = tail;
        }
        let out = &mut out[written..];
        let pairs = rest.chunks_exact(2);
        let leftover = pairs.remainder().first().copied();
        let n = pairs.len().min(out.len());
        for (o, pair) in out.iter_mut().zip(pairs) {
            *o = self.encode_pair(i32::from(pair[0]), i32::from(pair[1]));
        }
        if n == rest.len() / 2 {
            self.pending = leftover;
        }
        written + n
    }

    /// Encodes one pair of samples (the earlier one first) into a byte.
    #[inline(always)]
    fn encode_pair(&mut self, first: i32, second: i32) -> u8 {
        // Transmit QMF: the two branches and their sum / difference. The shift by 14 removes
        // the filters' gain (4096), the sum of two branches and the 16 -> 15 bit scaling.
        self.pos = if self.pos == 11 { 0 } else { self.pos + 1 };
        self.even.push(self.pos, first as i16);
        self.odd.push(self.pos, second as i16);
        let sum_odd = dot16(self.even.window(self.pos), &QMF);
        let sum_even = dot16(self.odd.window(self.pos), &QMF_REV);
        let xlow = (sum_even + sum_odd) >> 14;
        let xhigh = (sum_even - sum_odd) >> 14;

        // Lower band. SUBTRA, QUANTL: find the decision interval of |el| (one's complement for
        // negative differences) among Q6[i] * DETL / 4096 by binary search; the thresholds
        // increase with i, so this equals the standard's linear search.
        let bands = &mut self.bands;
        let el = sat16(xlow - bands.s(LOW));
        let wd = if el >= 0 { el } else { !el };
        let det = bands.det[LOW];
        let i = quant_interval(wd, bands.nb[LOW]);
        let ilow = if el < 0 { ILN[i] } else { ILP[i] };

        // INVQAL, LOGSCL, SCALEL.
        let ril = usize::from(ilow >> 2);
        let dlow = (det * QM4[ril]) >> 15;
        bands.adapt_scale(LOW, WL[RL42[ril]], &LOW_DET);

        // Higher band. SUBTRA, QUANTH, INVQAH, LOGSCH, SCALEH.
        let eh = sat16(xhigh - bands.s(HIGH));
        let wd = if eh >= 0 { eh } else { !eh };
        let det = bands.det[HIGH];
        let mih = if wd >= (564 * det) >> 12 { 2 } else { 1 };
        let ihigh = if eh < 0 { IHN[mih] } else { IHP[mih] };
        let dhigh = (det * QM2[usize::from(ihigh)]) >> 15;
        bands.adapt_scale(HIGH, WH[RH2[usize::from(ihigh)]], &HIGH_DET);

        // Block 4 of both bands.
        bands.update(dlow, dhigh, self.simd);

        (ihigh << 6) | ilow
    }
}

/// G.722 64 kbit/s decoder: one byte to two 16 kHz 16-bit samples.
///
/// Every byte value is a valid code, so any input decodes; `decode` never allocates or panics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct G722Decoder {
    sum: QmfHistory,
    diff: QmfHistory,
    pos: usize,
    bands: Bands,
    saturate: bool,
    simd: bool,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A fresh decoder, bit-exact with spandsp 0.0.6: when the receive QMF's output exceeds
    /// the 16-bit range (only with input that was clipping at the encoder) it wraps around, as
    /// spandsp 0.0.6 does. See [`G722Decoder::new_saturating`] for the alternative.
    pub const fn new() -> Self {
        G722Decoder {
            sum: QmfHistory::new(),
            diff: QmfHistory::new(),
            pos: 11,
            bands: Bands::new(),
            saturate: false,
            simd: matches!(G722Kernel::detect(), G722Kernel::Simd),
        }
    }

    /// The same decoder with an explicit kernel (for tests and benchmarks).
    pub const fn with_kernel(mut self, kernel: G722Kernel) -> Self {
        self.simd = matches!(kernel, G722Kernel::Simd);
        self
    }

    /// A fresh decoder that saturates the receive QMF's output to the 16-bit range instead of
    /// wrapping (as later spandsp releases do). Identical to [`G722Decoder::new`] except on
    /// samples that would overflow, where it gives full scale instead of a wrapped value.
    pub const fn new_saturating() -> Self {
        let mut d = Self::new();
        d.saturate = true;
        d
    }

    /// Returns the decoder to its initial state (keeping the overflow behaviour and kernel).
    pub fn reset(&mut self) {
        let (saturate, simd) = (self.saturate, self.simd);
        *self = Self::new();
        self.saturate = saturate;
        self.simd = simd;
    }

    /// Decodes `data` into `out` (two samples per byte); returns the samples written. If `out`
    /// holds fewer than `2 * data.len()` samples, only the bytes that fit are decoded.
    pub fn decode(&mut self, data: &[u8], out: &mut [i16]) -> usize {
        let mut n = 0;
        for (pair, &code) in out.chunks_exact_mut(2).zip(data) {
            let (a, b) = self.decode_byte(code);
            pair[0] = a;
            pair[1] = b;
            n += 2;
        }
        n
    }

    #[inline(always)]
    fn decode_byte(&mut self, code: u8) -> (i16, i16) {
        let ilow = usize::from(code & 0x3f);
        let ihigh = usize::from(code >> 6);

        // Lower band: INVQBL + RECONS + LIMIT give the output; INVQAL (4 bits) drives the
        // adaptation: LOGSCL, SCALEL.
        let bands = &mut self.bands;
        let det = bands.det[LOW];
        let rlow = sat15(bands.s(LOW) + ((det * QM6[ilow]) >> 15));
        let ril = ilow >> 2;
        let dlow = (det * QM4[ril]) >> 15;
        bands.adapt_scale(LOW, WL[RL42[ril]], &LOW_DET);

        // Higher band: INVQAH, RECONS, LIMIT, LOGSCH, SCALEH.
        let dhigh = (bands.det[HIGH] * QM2[ihigh]) >> 15;
        let rhigh = sat15(dhigh + bands.s(HIGH));
        bands.adapt_scale(HIGH, WH[RH2[ihigh]], &HIGH_DET);

        // Block 4 of both bands.
        bands.update(dlow, dhigh, self.simd);

        // Receive QMF. The shift by 11 removes the filter gain (4096) less the 15 -> 16 bit
        // scaling.
        self.pos = if self.pos == 11 { 0 } else { self.pos + 1 };
        // rlow and rhigh are 15-bit, so their sum and difference fit 16 bits.
        self.sum.push(self.pos, (rlow + rhigh) as i16);
        self.diff.push(self.pos, (rlow - rhigh) as i16);
        let first = dot16(self.diff.window(self.pos), &QMF_REV) >> 11;
        let second = dot16(self.sum.window(self.pos), &QMF) >> 11;
        if self.saturate {
            (sat16(first) as i16, sat16(second) as i16)
        } else {
            // spandsp 0.0.6 truncates to 16 bits here (wraps on overload).
            (first as i16, second as i16)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiser_search_equals_the_standard_linear_search() {
        // QUANTL as the standard writes it, against the reciprocal + table version, for every
        // scale factor the adaptation can produce and every magnitude.
        for nb in (0..=18432).step_by(64) {
            // SCALEL exactly as the standard writes it.
            let wd2 = 8 - (nb >> 11);
            let ilb = band::ILB[((nb >> 6) & 31) as usize];
            let det = (if wd2 < 0 { ilb << -wd2 } else { ilb >> wd2 }) << 2;
            assert_eq!(det, LOW_DET[(nb >> 6) as usize]);
            let mut b = Bands::new();
            b.nb[LOW] = nb;
            for wd in 0..32768 {
                let mut lin = 1;
                while lin < 30 && wd >= (Q6[lin] * det) >> 12 {
                    lin += 1;
                }
                assert_eq!(quant_interval(wd, b.nb[LOW]), lin, "det {det} wd {wd}");
            }
        }
    }

    #[test]
    fn qmf_history_window_is_oldest_first() {
        let mut h = QmfHistory::new();
        let mut pos = 11;
        for v in 1..=30i16 {
            pos = if pos == 11 { 0 } else { pos + 1 };
            h.push(pos, v);
            let want: Vec<i16> = ((v - 11).max(-100)..=v).map(|x| if x < 1 { 0 } else { x }).collect();
            assert_eq!(&h.window(pos)[..12], &want[want.len() - 12..]);
        }
    }
}
