//! Adaptive codebook (pitch): fractional-delay interpolation of the past excitation (3.7.1),
//! delay decoding (4.1.3), and on the encoder side open-loop (A.3.4) and closed-loop (A.3.7)
//! pitch search.

use super::basic_ops::*;
use super::tables::B30;
use super::{L_SUBFRAME, MAX_PITCH};

/// Writes the adaptive codebook vector v(n), n in 0..40, at `exc[pos..]`, interpolating the past
/// excitation `exc[..pos]` at delay `int_delay + frac/3` (frac in -1, 0, 1).
pub(crate) fn adaptive_vector(exc: &mut [i16], pos: usize, frac: i32, int_delay: i32) {
    let (t, base) =
        if frac == 1 { (2usize, pos - (int_delay as usize + 1)) } else { ((-frac) as usize, pos - int_delay as usize) };
    let mut c1 = [0i32; 10];
    let mut c2 = [0i32; 10];
    for i in 0..10 {
        c1[i] = B30[t + 3 * i] as i32;
        c2[i] = B30[3 - t + 3 * i] as i32;
    }
    for n in 0..L_SUBFRAME {
        // u(k-9) ..= u(k+10) around k = n - delay; may include samples written for earlier n
        let k = base + n;
        let w: &[i16; 20] = exc[k - 9..k + 11].try_into().expect("interpolation window");
        let mut acc = 0i32;
        for i in 0..10 {
            acc = mac16_16(acc, w[9 - i] as i32, c1[i]);
            acc = mac16_16(acc, w[10 + i] as i32, c2[i]);
        }
        exc[pos + n] = saturate(pshr(acc, 15), MAX16) as i16;
    }
}

/// Pitch-delay memory of the decoder.
#[derive(Clone, Debug)]
pub(crate) struct PitchDecoder {
    /// Last integer delay, used for erased frames and parity errors.
    pub(crate) prev_int_delay: i32,
}

impl PitchDecoder {
    pub(crate) fn new() -> Self {
        Self { prev_int_delay: 60 }
    }

    fn conceal(&mut self) -> (i32, i32) {
        let d = self.prev_int_delay;
        self.prev_int_delay = (self.prev_int_delay + 1).min(MAX_PITCH as i32);
        (d, 0)
    }

    /// Decodes the delay of subframe `sub` (0 or 1) from index `p` and builds the adaptive vector
    /// at `exc[pos..]`. `lost` marks an erased frame (or, in the first subframe, a parity error):
    /// the last delay is then repeated. `int_delay` holds the first subframe delay when decoding
    /// the second one, and receives the decoded integer delay.
    pub(crate) fn decode(&mut self, sub: usize, p: u16, lost: bool, int_delay: &mut i32, exc: &mut [i16], pos: usize) {
        let p = p as i32;
        let (t, frac) = if sub == 0 {
            if lost {
                self.conceal()
            } else {
                let (t, f) = if p < 197 {
                    let t = add16(mult16_16_q15(add16(p, 2) as i32, 10923), 19) as i32;
                    (t, add16(sub16(p, t * 3), 58) as i32)
                } else {
                    (sub16(p, 112), 0)
                };
                self.prev_int_delay = t;
                (t, f)
            }
        } else if lost {
            self.conceal()
        } else {
            let t_min = sub16(*int_delay, 5).clamp(20, 134);
            let t = sub16(mult16_16_q15(add16(p, 2) as i32, 10923), 1);
            let f = sub16(sub16(p, t * 3), 2);
            let t = add16(t, t_min) as i32;
            self.prev_int_delay = t;
            (t, f)
        };
        *int_delay = t;
        adaptive_vector(exc, pos, frac, t);
    }
}

/// Parity bit of the first-subframe pitch index (six MSBs of the 8-bit index).
pub(crate) fn parity(index: u16) -> u16 {
    let mut x = index >> 2;
    let mut p = 1u16;
    for _ in 0..6 {
        p ^= x & 1;
        x >>= 1;
    }
    p
}

/// The weighted speech split into even- and odd-indexed samples, so that the even-sample
/// correlations of eq. A.4 become contiguous dot products.
struct Deinterleaved {
    even: [i16; (MAX_PITCH + super::L_FRAME).div_ceil(2)],
    odd: [i16; (MAX_PITCH + super::L_FRAME) / 2],
}

impl Deinterleaved {
    fn new(s: &[i16; MAX_PITCH + super::L_FRAME]) -> Self {
        let mut d =
            Self { even: [0; (MAX_PITCH + super::L_FRAME).div_ceil(2)], odd: [0; (MAX_PITCH + super::L_FRAME) / 2] };
        for (k, &v) in s.iter().enumerate() {
            if k & 1 == 0 {
                d.even[k / 2] = v;
            } else {
                d.odd[k / 2] = v;
            }
        }
        d
    }

    /// 40 samples `s[x], s[x+2], ..`.
    fn run(&self, x: usize) -> &[i16] {
        let half = super::L_FRAME / 2;
        if x & 1 == 0 {
            &self.even[x / 2..x / 2 + half]
        } else {
            &self.odd[x / 2..x / 2 + half]
        }
    }

    /// Sum over i = 0, 2, .., 78 of `s[base + i] * s[base + i - delay]`, `delay <= base` (the
    /// largest delay tested is 143, the length of the history).
    fn correlation(&self, base: usize, delay: usize) -> i32 {
        let mut c = 0i32;
        for (x, y) in self.run(base).iter().zip(self.run(base - delay)) {
            c = mac16_16(c, *x as i32, *y as i32);
        }
        c
    }

    /// Best delay of `range` (stepping by `step`) maximising the correlation; (delay, corr).
    fn best(&self, base: usize, range: std::ops::RangeInclusive<usize>, step: usize) -> (usize, i32) {
        let mut best = (0usize, i32::MIN);
        for d in range.step_by(step) {
            let c = self.correlation(base, d);
            if c > best.1 {
                best = (d, c);
            }
        }
        best
    }
}

/// Open-loop pitch estimate on the weighted speech (A.3.4). `wsp` holds 143 past samples followed
/// by the 80 samples of the current frame.
pub(crate) fn open_loop_pitch(wsp: &[i16; MAX_PITCH + super::L_FRAME]) -> i32 {
    let mut energy: i64 = 0;
    for &v in wsp.iter() {
        energy += v as i64 * v as i64;
    }
    let s = if energy > i32::MAX as i64 {
        let mut scaled = [0i16; MAX_PITCH + super::L_FRAME];
        let over = pshr(31 - norm_l((energy >> 31) as i32), 1);
        for (o, &v) in scaled.iter_mut().zip(wsp.iter()) {
            *o = shr(v as i32, over) as i16;
        }
        Deinterleaved::new(&scaled)
    } else {
        Deinterleaved::new(wsp)
    };
    let base = MAX_PITCH;
    let (i1, c1) = s.best(base, 20..=39, 1);
    let (i2, c2) = s.best(base, 40..=79, 1);
    let (i3even, mut c3) = s.best(base, 80..=143, 2);
    let mut i3 = i3even;
    if i3 > 80 {
        let c = s.correlation(base, i3 - 1);
        if c > c3 {
            c3 = c;
            i3 = i3even - 1;
        }
    }
    let c = s.correlation(base, i3 + 1);
    if c > c3 {
        c3 = c;
        i3 = i3even + 1;
    }
    let norm = |c: i32, d: usize| {
        let mut e = s.correlation(base - d, 0);
        if e == 0 {
            e = 1;
        }
        mult32_32_q(c, inv_sqrt_q0_q31(e), 23)
    };
    let mut n1 = norm(c1, i1);
    let mut n2 = norm(c2, i2);
    let n3 = norm(c3, i3);
    let (i1, i2, i3) = (i1 as i32, i2 as i32, i3 as i32);
    let m = i2 * 2;
    if (m - i3).abs() < 5 {
        n2 = add32(n2, n3 >> 2);
    }
    if (m + i2 - i3).abs() < 7 {
        n2 = add32(n2, n3 >> 2);
    }
    let m = i1 * 2;
    if (m - i2).abs() < 5 {
        n1 = add32(n1, mult16_32_p(6554, n2, 15));
    }
    if (m + i1 - i2).abs() < 7 {
        n1 = add32(n1, mult16_32_p(6554, n2, 15));
    }
    let (mut best_n, mut best_i) = (n1, i1);
    if best_n < n2 {
        best_n = n2;
        best_i = i2;
    }
    if best_n < n3 {
        best_i = i3;
    }
    best_i
}

/// Closed-loop pitch search of one subframe (A.3.7). `exc[pos..pos+40]` holds the LP residual on
/// entry and the adaptive codebook vector of the chosen delay on return. Returns
/// (integer delay, fraction, codeword) and updates the search range after the first subframe.
pub(crate) fn closed_loop_pitch(
    exc: &mut [i16],
    pos: usize,
    t_min: &mut i32,
    t_max: &mut i32,
    h: &[i16; L_SUBFRAME],
    target: &[i16],
    first: bool,
) -> (i32, i32, u16) {
    // backward-filtered target
    let mut d = [0i32; L_SUBFRAME];
    for i in 0..L_SUBFRAME {
        let mut c = 0i32;
        for j in i..L_SUBFRAME {
            c = mac16_16(c, target[j] as i32, h[j - i] as i32);
        }
        d[i] = c;
    }
    let corr = |exc: &[i16], base: usize| {
        let mut c = 0i32;
        for j in 0..L_SUBFRAME {
            c = add32(c, mult16_32_q(exc[base + j] as i32, d[j], 12));
        }
        c
    };
    let mut best = i32::MIN;
    let mut t = *t_min;
    for i in *t_min..=*t_max {
        let c = corr(exc, pos - i as usize);
        if c > best {
            best = c;
            t = i;
        }
    }
    adaptive_vector(exc, pos, 0, t);
    let mut frac = 0;
    if !(first && t >= 85) {
        let mut saved = [0i16; L_SUBFRAME];
        let mut cmax = corr(exc, pos);
        saved.copy_from_slice(&exc[pos..pos + L_SUBFRAME]);
        adaptive_vector(exc, pos, -1, t);
        let c = corr(exc, pos);
        if c > cmax {
            frac = -1;
            cmax = c;
            saved.copy_from_slice(&exc[pos..pos + L_SUBFRAME]);
        }
        adaptive_vector(exc, pos, 1, t);
        let c = corr(exc, pos);
        if c > cmax {
            frac = 1;
        } else {
            exc[pos..pos + L_SUBFRAME].copy_from_slice(&saved);
        }
    }
    let code = if first {
        *t_min = (t - 5).max(20);
        *t_max = *t_min + 9;
        if *t_max > MAX_PITCH as i32 {
            *t_max = MAX_PITCH as i32;
            *t_min = MAX_PITCH as i32 - 9;
        }
        if t <= 85 {
            3 * t - 58 + frac
        } else {
            t + 112
        }
    } else {
        3 * (t - *t_min) + frac + 2
    };
    (t, frac, code as u16)
}
