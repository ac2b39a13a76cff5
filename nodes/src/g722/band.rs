//! The two ADPCM sub-bands of G.722: quantiser scale adaptation and the adaptive predictors
//! (two poles, six zeros each), in the 16-bit fixed-point arithmetic of the ITU-T description.
//!
//! Every place where the reference arithmetic saturates or truncates to 16 bits does so here
//! too, which is what makes the codec bit-exact. The predictor state of both bands is laid out
//! in 128-bit lanes (lane 0 = lower band, lane 1 = higher band) so that the SIMD kernel can
//! update both bands at once; the scalar twin works on the same layout, one lane at a time.

/// Saturates to the 16-bit range.
#[inline(always)]
pub(crate) fn sat16(v: i32) -> i32 {
    v.clamp(-32768, 32767)
}

/// Saturates to the 15-bit range (the G.722 signal range, LIMIT blocks).
#[inline(always)]
pub(crate) fn sat15(v: i32) -> i32 {
    v.clamp(-16384, 16383)
}

/// Whether two 16-bit values have different signs (0 counts as positive).
#[inline(always)]
fn signs_differ(a: i32, b: i32) -> bool {
    (a ^ b) < 0
}

/// Inverse log table for the scale factor (ILB), 2048 · 2^(i/32).
pub(crate) const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025,
    3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// SCALEL / SCALEH: the linear scale factor `(ILB[nb >> 6 & 31] >> (shift - (nb >> 11))) << 2`
/// as a table indexed by `nb >> 6`.
const fn scale_table<const N: usize>(shift: i32) -> [i32; N] {
    let mut t = [0i32; N];
    let mut k = 0;
    while k < N {
        let wd2 = shift - (k as i32 >> 5);
        let ilb = ILB[k & 31];
        t[k] = (if wd2 < 0 { ilb << -wd2 } else { ilb >> wd2 }) << 2;
        k += 1;
    }
    t
}

/// Lower-band scale factor DETL for `nb >> 6` = 0..=288 (NBL is limited to 18432).
pub(crate) const LOW_DET: [i32; 289] = scale_table(8);
/// Higher-band scale factor DETH for `nb >> 6` = 0..=352 (NBH is limited to 22528).
pub(crate) const HIGH_DET: [i32; 353] = scale_table(10);

/// Index of the lower band in [`Bands`].
pub(crate) const LOW: usize = 0;
/// Index of the higher band in [`Bands`].
pub(crate) const HIGH: usize = 1;

/// Predictor state of both bands. In the pole vectors lane 0 is the lower band and lane 1 the
/// higher band; lanes 2..8 stay 0. `zb[k]` holds the zero coefficients BL1..BL6 / BH1..BH6 of
/// band `k` and `zd[k]` the delayed differences DLT1..DLT6 / DHT1..DHT6 (lanes 6 and 7 stay 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(16))]
struct Predictors {
    /// Signal estimate (SL / SH).
    s: [i16; 8],
    /// Zero-section estimate (SZL / SZH).
    sz: [i16; 8],
    /// Previous reconstructed signal (RLT1 / RHT1).
    r: [i16; 8],
    /// Previous partial reconstructions (PLT1 / PHT1, PLT2 / PHT2).
    p0: [i16; 8],
    p1: [i16; 8],
    /// Pole coefficients (AL1 / AH1, AL2 / AH2).
    a0: [i16; 8],
    a1: [i16; 8],
    zb: [[i16; 8]; 2],
    zd: [[i16; 8]; 2],
}

/// State of both sub-bands: scale factors and predictors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bands {
    /// Log scale factors (NBL, NBH).
    pub nb: [i32; 2],
    /// Linear scale factors (DETL, DETH).
    pub det: [i32; 2],
    pred: Predictors,
}

impl Bands {
    /// The reset state (DETL = 32, DETH = 8, everything else 0).
    pub const fn new() -> Self {
        Bands {
            nb: [0; 2],
            det: [32, 8],
            pred: Predictors {
                s: [0; 8],
                sz: [0; 8],
                r: [0; 8],
                p0: [0; 8],
                p1: [0; 8],
                a0: [0; 8],
                a1: [0; 8],
                zb: [[0; 8]; 2],
                zd: [[0; 8]; 2],
            },
        }
    }

    /// Signal estimate of band `k` (SL or SH).
    #[inline(always)]
    pub fn s(&self, k: usize) -> i32 {
        i32::from(self.pred.s[k & 1])
    }

    /// LOGSCL/LOGSCH + SCALEL/SCALEH for band `k`. `w` is the log-domain multiplier for the
    /// last code; `table` is [`LOW_DET`] or [`HIGH_DET`], whose length also sets the upper
    /// limit of the log scale factor (18432 low, 22528 high).
    #[inline(always)]
    pub fn adapt_scale<const N: usize>(&mut self, k: usize, w: i32, table: &[i32; N]) {
        let k = k & 1;
        // nb * 127/128 leak; the sum always fits 16 bits before the limit.
        let nb = ((self.nb[k] * 127) >> 7) + w;
        self.nb[k] = nb.clamp(0, (N as i32 - 1) << 6);
        self.det[k] = table[((self.nb[k] >> 6) as usize).min(N - 1)];
    }

    /// Block 4 of both bands with the quantised differences `dlow` and `dhigh`.
    #[inline(always)]
    pub fn update(&mut self, dlow: i32, dhigh: i32, simd: bool) {
        if simd {
            self.update_simd(dlow, dhigh);
        } else {
            self.update_scalar(LOW, dlow);
            self.update_scalar(HIGH, dhigh);
        }
    }

    /// Block 4 (RECONS, PARREC, UPPOL2, UPPOL1, FILTEP, UPZERO, DELAYA, FILTEZ, PREDIC) of band
    /// `k`, step by step as the standard describes it: the scalar twin of the SIMD kernel.
    pub fn update_scalar(&mut self, k: usize, dx: i32) {
        let k = k & 1;
        let st = &mut self.pred;
        let get = |v: &[i16; 8]| i32::from(v[k]);
        // RECONS, PARREC
        let r = sat16(get(&st.s) + dx);
        let p = sat16(get(&st.sz) + dx);
        let (p0, p1, a0, a1) = (get(&st.p0), get(&st.p1), get(&st.a0), get(&st.a1));

        // UPPOL2
        let wd1 = sat16(a0 << 2);
        let wd32 = if signs_differ(p, p0) { wd1 } else { -wd1 }.min(32767);
        let wd3 = (if signs_differ(p, p1) { -128 } else { 128 }) + (wd32 >> 7) + ((a1 * 32512) >> 15);
        let ap1 = wd3.clamp(-12288, 12288);

        // UPPOL1
        let wd1 = if signs_differ(p, p0) { -192 } else { 192 };
        let wd2 = (a0 * 32640) >> 15;
        let lim = sat16(15360 - ap1);
        let ap0 = sat16(wd1 + wd2).clamp(-lim, lim);

        // FILTEP
        let wd1 = (ap0 * sat16(r + r)) >> 15;
        let wd2 = (ap1 * sat16(get(&st.r) + get(&st.r))) >> 15;
        let sp = sat16(wd1 + wd2);

        // UPZERO, DELAYA, FILTEZ
        let (zb, zd) = (&mut st.zb[k], &mut st.zd[k]);
        let g = if dx == 0 { 0 } else { 128 };
        let mut sz = 0i32;
        for i in (0..6).rev() {
            // Tap i multiplies DLT(i) of the shifted line: dx itself for i = 0.
            let dcur = if i == 0 { dx } else { i32::from(zd[i - 1]) };
            let step = if signs_differ(i32::from(zd[i]), dx) { -g } else { g };
            let b = sat16(step + ((i32::from(zb[i]) * 32640) >> 15));
            zb[i] = b as i16;
            sz += (b * sat16(dcur + dcur)) >> 15;
        }
        zd.copy_within(0..5, 1);
        zd[0] = dx as i16;
        let sz = sat16(sz);

        // PREDIC, and the delays. Every value fits 16 bits by construction.
        st.s[k] = sat16(sp + sz) as i16;
        st.sz[k] = sz as i16;
        st.r[k] = r as i16;
        st.p1[k] = p0 as i16;
        st.p0[k] = p as i16;
        st.a0[k] = ap0 as i16;
        st.a1[k] = ap1 as i16;
    }

    /// Portable fallback where no SIMD kernel exists.
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn update_simd(&mut self, dlow: i32, dhigh: i32) {
        self.update_scalar(LOW, dlow);
        self.update_scalar(HIGH, dhigh);
    }

    /// Block 4 of both bands at once with SSE2 (x86-64 baseline): the pole sections in lanes 0
    /// (lower band) and 1 (higher band) of 16-bit vectors, each zero section in a vector of its
    /// own. The 16-bit saturating instructions are exactly the standard's saturating adds; the
    /// multiplications by 32640/32768 and 32512/32768 become `a + ((-a) >> 8)` and
    /// `a + ((-a) >> 7)` (exact for the coefficient ranges the limits allow), and the
    /// `(a * b) >> 15` products are rebuilt from the high and low halves of the 32-bit product.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn update_simd(&mut self, dlow: i32, dhigh: i32) {
        use std::arch::x86_64::*;
        let st = &mut self.pred;
        // SAFETY: SSE2 is part of the x86-64 baseline, so every intrinsic here is available.
        // All loads and stores address `[i16; 8]` fields of `Predictors`, which is
        // `repr(C, align(16))` and made only of such arrays, so each is 16-byte aligned.
        unsafe {
            let ld = |v: &[i16; 8]| _mm_load_si128(v.as_ptr() as *const __m128i);
            let two_lanes = _mm_set_epi16(0, 0, 0, 0, 0, 0, -1, -1);
            let zero = _mm_setzero_si128();
            // (a * b) >> 15 when the result fits 16 bits.
            let mul15 = |a: __m128i, b: __m128i| {
                _mm_or_si128(_mm_slli_epi16::<1>(_mm_mulhi_epi16(a, b)), _mm_srli_epi16::<15>(_mm_mullo_epi16(a, b)))
            };
            let select = |mask: __m128i, yes: __m128i, no: __m128i| {
                _mm_or_si128(_mm_and_si128(mask, yes), _mm_andnot_si128(mask, no))
            };
            let dx = _mm_cvtsi32_si128((dlow & 0xffff) | (dhigh << 16));
            let (s, sz, r1) = (ld(&st.s), ld(&st.sz), ld(&st.r));
            let (p0, p1, a0, a1) = (ld(&st.p0), ld(&st.p1), ld(&st.a0), ld(&st.a1));

            // RECONS, PARREC
            let r = _mm_adds_epi16(s, dx);
            let p = _mm_adds_epi16(sz, dx);
            let differ0 = _mm_srai_epi16::<15>(_mm_xor_si128(p, p0));
            let differ1 = _mm_srai_epi16::<15>(_mm_xor_si128(p, p1));

            // UPPOL2: sat16(a0 << 2) = two saturating doublings; -wd1 saturates to 32767.
            let a0x2 = _mm_adds_epi16(a0, a0);
            let wd1 = _mm_adds_epi16(a0x2, a0x2);
            let wd32 = select(differ0, wd1, _mm_subs_epi16(zero, wd1));
            let pm128 = _mm_sub_epi16(_mm_xor_si128(_mm_set1_epi16(128), differ1), differ1);
            let a1_leak = _mm_add_epi16(a1, _mm_srai_epi16::<7>(_mm_sub_epi16(zero, a1)));
            let wd3 = _mm_add_epi16(_mm_add_epi16(pm128, _mm_srai_epi16::<7>(wd32)), a1_leak);
            let ap1 = _mm_and_si128(
                _mm_max_epi16(_mm_min_epi16(wd3, _mm_set1_epi16(12288)), _mm_set1_epi16(-12288)),
                two_lanes,
            );

            // UPPOL1
            let pm192 = _mm_sub_epi16(_mm_xor_si128(_mm_set1_epi16(192), differ0), differ0);
            let a0_leak = _mm_add_epi16(a0, _mm_srai_epi16::<8>(_mm_sub_epi16(zero, a0)));
            let lim = _mm_subs_epi16(_mm_set1_epi16(15360), ap1);
            let ap0 = _mm_and_si128(
                _mm_max_epi16(_mm_min_epi16(_mm_adds_epi16(pm192, a0_leak), lim), _mm_sub_epi16(zero, lim)),
                two_lanes,
            );

            // FILTEP
            let sp = _mm_adds_epi16(mul15(ap0, _mm_adds_epi16(r, r)), mul15(ap1, _mm_adds_epi16(r1, r1)));

            // UPZERO, DELAYA, FILTEZ for each band.
            let lanes6 = _mm_set_epi16(0, 0, -1, -1, -1, -1, -1, -1);
            let k32640 = _mm_set1_epi16(32640);
            let mut szs = [0i32; 2];
            for (k, d) in [dlow, dhigh].into_iter().enumerate() {
                let bp = st.zb[k].as_mut_ptr() as *mut __m128i;
                let dp = st.zd[k].as_mut_ptr() as *mut __m128i;
                let (b, dl) = (_mm_load_si128(bp), _mm_load_si128(dp));
                let dxv = _mm_set1_epi16(d as i16);
                let differ = _mm_srai_epi16::<15>(_mm_xor_si128(dl, dxv));
                let g = _mm_andnot_si128(_mm_cmpeq_epi16(dxv, zero), _mm_set1_epi16(128));
                let step = _mm_sub_epi16(_mm_xor_si128(g, differ), differ);
                let b = _mm_and_si128(_mm_adds_epi16(step, mul15(b, k32640)), lanes6);
                let dcur = _mm_and_si128(_mm_insert_epi16::<0>(_mm_slli_si128::<2>(dl), d), lanes6);
                let d2 = _mm_adds_epi16(dcur, dcur);
                let (lo, hi) = (_mm_mullo_epi16(b, d2), _mm_mulhi_epi16(b, d2));
                let sum = _mm_add_epi32(
                    _mm_srai_epi32::<15>(_mm_unpacklo_epi16(lo, hi)),
                    _mm_srai_epi32::<15>(_mm_unpackhi_epi16(lo, hi)),
                );
                let sum = _mm_add_epi32(sum, _mm_shuffle_epi32::<0b01_00_11_10>(sum));
                let sum = _mm_add_epi32(sum, _mm_shuffle_epi32::<0b10_11_00_01>(sum));
                _mm_store_si128(bp, b);
                _mm_store_si128(dp, dcur);
                szs[k] = sat16(_mm_cvtsi128_si32(sum));
            }
            let sz_new = _mm_cvtsi32_si128((szs[0] & 0xffff) | (szs[1] << 16));

            // PREDIC, and the delays.
            let st_ptr = |v: &mut [i16; 8]| v.as_mut_ptr() as *mut __m128i;
            _mm_store_si128(st_ptr(&mut st.s), _mm_adds_epi16(sp, sz_new));
            _mm_store_si128(st_ptr(&mut st.sz), sz_new);
            _mm_store_si128(st_ptr(&mut st.r), r);
            _mm_store_si128(st_ptr(&mut st.p1), p0);
            _mm_store_si128(st_ptr(&mut st.p0), p);
            _mm_store_si128(st_ptr(&mut st.a0), ap0);
            _mm_store_si128(st_ptr(&mut st.a1), ap1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD kernel equals the scalar twin, state for state, over long random runs that
    /// drive the predictors through their whole range (including saturation).
    #[test]
    fn simd_update_equals_scalar() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Under Miri (which checks the intrinsics' memory accesses) a shorter run suffices.
        let (runs, steps) = if cfg!(miri) { (4, 200) } else { (40, 5_000) };
        for run in 0..runs {
            let (mut a, mut b) = (Bands::new(), Bands::new());
            // Each run favours a different regime: silence, small, large, full-range bursts.
            let scale = [0, 64, 2048, 20016][run % 4];
            for step in 0..steps {
                let r = next();
                let pick = |v: u64, max: i32| -> i32 {
                    match v & 15 {
                        0 => 0,
                        1 => max,
                        2 => -max - 1,
                        _ => ((v >> 8) as i16 as i32 * scale.max(1) / 32768).clamp(-max - 1, max),
                    }
                };
                let (dl, dh) = (pick(r, 20016), pick(r >> 32, 7249));
                a.update(dl, dh, false);
                b.update(dl, dh, true);
                assert_eq!(a, b, "run {run} step {step}: dlow {dl} dhigh {dh}");
            }
        }
    }
}
