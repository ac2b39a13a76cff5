//! Dot-product kernels of the polyphase filter: a scalar twin and SIMD versions that produce
//! bit-identical results.
//!
//! Every kernel computes the same *canonical* sum, so the resampler's output does not depend
//! on the CPU it runs on:
//!
//! * the length is a multiple of 8; lane `j` (0..8) accumulates, in increasing index order,
//!   the products `c[i] * x[i]` for `i % 8 == j`, each product rounded to `f32` and then
//!   added (no fused multiply-add);
//! * the eight lanes are reduced as `((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))`, which
//!   is what the natural 256-bit → 128-bit → 64-bit → 32-bit horizontal add gives.
//!
//! The 128-bit kernel uses the `wide` crate (SSE2 on x86-64, NEON on AArch64, portable code
//! elsewhere) with two 4-lane accumulators per dot product; the AVX kernel uses one 8-lane
//! register. Both compute four independent dot products per call so that the additions of
//! one product hide the latency of another.

/// Which inner-loop implementation a [`crate::resample::Resampler`] uses (and whether the
/// VAD's per-frame pipeline, [`crate::apm::Vad`], runs its AVX build).
///
/// All kernels produce bit-identical output (see the module documentation of the resampler);
/// they differ only in speed. [`Kernel::detect`] picks the fastest available one once per
/// process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Plain Rust, eight scalar accumulators: the reference the SIMD kernels are tested against.
    Scalar,
    /// 128-bit vectors through the `wide` crate: SSE2 on x86-64, NEON on AArch64.
    Simd128,
    /// 256-bit AVX (x86-64 only, detected at run time).
    Avx,
}

impl Kernel {
    /// Every kernel, fastest last.
    pub const ALL: [Kernel; 3] = [Kernel::Scalar, Kernel::Simd128, Kernel::Avx];

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar | Kernel::Simd128 => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx => std::arch::is_x86_feature_detected!("avx"),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx => false,
        }
    }

    /// The fastest available kernel. Detection runs once per process; later calls return the
    /// cached choice.
    pub fn detect() -> Kernel {
        static CHOICE: std::sync::OnceLock<Kernel> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| Kernel::ALL.into_iter().rev().find(|k| k.is_available()).unwrap_or(Kernel::Scalar))
    }

    /// Computes outputs of the polyphase filter into `out[k * stride]` for every such index in
    /// `out` (`count = ceil(out.len() / stride)` outputs): output k is row `phase_k` of `coefs`
    /// (rows of `geo.taps` coefficients) dotted with `buf[pos_k..pos_k + geo.taps]`, where
    /// `walk` gives `(pos_0, phase_0)` and [`Geometry::advance`] the following ones. Returns
    /// the walk after the last output.
    ///
    /// Every access is checked once up front; if a buffer is too short (which the resampler
    /// rules out by construction) nothing is computed and `walk` is returned unchanged.
    #[inline]
    pub(crate) fn convolve(
        self,
        geo: &Geometry,
        coefs: &[f32],
        buf: &[f32],
        walk: Walk,
        out: &mut [f32],
        stride: usize,
    ) -> Walk {
        if stride == 0 || out.is_empty() {
            return walk;
        }
        let count = out.len().div_ceil(stride);
        let last = geo.skip(walk, count - 1);
        let fits = geo.taps % 8 == 0
            && geo.taps > 0
            && walk.phase < geo.l
            && coefs.len() >= geo.l * geo.taps
            && last.pos + geo.taps <= buf.len()
            && (count - 1) * stride < out.len();
        if !fits {
            return walk;
        }
        let (c, x, o) = (coefs.as_ptr(), buf.as_ptr(), out.as_mut_ptr());
        // SAFETY (all arms): the check above guarantees that every coefficient row (phase < l)
        // and every window (positions grow monotonically up to `last.pos`) lies inside its
        // slice, that every output index `k * stride` is inside `out`, and that the length is
        // a multiple of 8. The AVX arm is only reached for a `Kernel::Avx`, which the
        // resampler's constructor accepts only after `is_available` confirmed AVX support.
        unsafe {
            match self {
                Kernel::Scalar => run::<ScalarDot>(geo, c, x, walk, count, o, stride),
                Kernel::Simd128 => run::<Simd128Dot>(geo, c, x, walk, count, o, stride),
                #[cfg(target_arch = "x86_64")]
                Kernel::Avx => avx::run(geo, c, x, walk, count, o, stride),
                #[cfg(not(target_arch = "x86_64"))]
                Kernel::Avx => run::<Simd128Dot>(geo, c, x, walk, count, o, stride),
            }
        }
    }
}

/// Position of an output's window in the input buffer and its polyphase row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Walk {
    /// Buffer index of the oldest input sample in the window.
    pub pos: usize,
    /// Polyphase row (0..L).
    pub phase: usize,
}

/// Shape of the polyphase filter: taps per row, number of rows L, and the step between
/// outputs, `M = step_int · L + step_frac` high-rate samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Taps per row (a multiple of 8).
    pub taps: usize,
    /// Number of rows (the interpolation factor L).
    pub l: usize,
    /// `M / L`.
    pub step_int: usize,
    /// `M % L`.
    pub step_frac: usize,
}

impl Geometry {
    /// The walk of the next output.
    #[inline(always)]
    pub fn advance(&self, w: &mut Walk) {
        w.phase += self.step_frac;
        w.pos += self.step_int;
        if w.phase >= self.l {
            w.phase -= self.l;
            w.pos += 1;
        }
    }

    /// The walk `n` outputs later.
    pub fn skip(&self, w: Walk, n: usize) -> Walk {
        let m = self.step_int * self.l + self.step_frac;
        let t = w.phase + n * m;
        Walk { pos: w.pos + t / self.l, phase: t % self.l }
    }
}

/// Four dot products and one dot product over raw rows, in the canonical order.
trait Dot {
    /// # Safety
    /// Every pointer must be valid for `n` reads; `n % 8 == 0`.
    unsafe fn dot4(c: [*const f32; 4], x: [*const f32; 4], n: usize) -> [f32; 4];
    /// # Safety
    /// As `dot4`.
    unsafe fn dot1(c: *const f32, x: *const f32, n: usize) -> f32;
}

/// The polyphase loop shared by every kernel: four outputs per `dot4`, the rest one by one.
///
/// # Safety
/// As established by [`Kernel::convolve`]'s check: every row and window read and every output
/// written is in bounds.
#[inline(always)]
unsafe fn run<D: Dot>(
    geo: &Geometry,
    coefs: *const f32,
    buf: *const f32,
    mut w: Walk,
    count: usize,
    out: *mut f32,
    stride: usize,
) -> Walk {
    let t = geo.taps;
    let mut k = 0;
    while k + 4 <= count {
        let mut c = [coefs; 4];
        let mut x = [buf; 4];
        for i in 0..4 {
            // SAFETY: in bounds by the caller's check (phase < l, pos + t <= len).
            unsafe {
                c[i] = coefs.add(w.phase * t);
                x[i] = buf.add(w.pos);
            }
            geo.advance(&mut w);
        }
        // SAFETY: rows and windows of `t` elements in bounds; outputs k..k+4 are < count.
        unsafe {
            let y = D::dot4(c, x, t);
            for (i, v) in y.into_iter().enumerate() {
                *out.add((k + i) * stride) = v;
            }
        }
        k += 4;
    }
    while k < count {
        // SAFETY: as above.
        unsafe {
            *out.add(k * stride) = D::dot1(coefs.add(w.phase * t), buf.add(w.pos), t);
        }
        geo.advance(&mut w);
        k += 1;
    }
    w
}

struct ScalarDot;
impl Dot for ScalarDot {
    #[inline(always)]
    unsafe fn dot4(c: [*const f32; 4], x: [*const f32; 4], n: usize) -> [f32; 4] {
        // SAFETY: valid for n reads (trait contract).
        unsafe { [0, 1, 2, 3].map(|i| Self::dot1(c[i], x[i], n)) }
    }
    #[inline(always)]
    unsafe fn dot1(c: *const f32, x: *const f32, n: usize) -> f32 {
        // SAFETY: valid for n reads (trait contract).
        unsafe { dot_scalar(std::slice::from_raw_parts(c, n), std::slice::from_raw_parts(x, n)) }
    }
}

struct Simd128Dot;
impl Dot for Simd128Dot {
    #[inline(always)]
    unsafe fn dot4(c: [*const f32; 4], x: [*const f32; 4], n: usize) -> [f32; 4] {
        // SAFETY: valid for n reads (trait contract).
        let (c, x) =
            unsafe { (c.map(|p| std::slice::from_raw_parts(p, n)), x.map(|p| std::slice::from_raw_parts(p, n))) };
        dot4_simd128(c, x)
    }
    #[inline(always)]
    unsafe fn dot1(c: *const f32, x: *const f32, n: usize) -> f32 {
        // SAFETY: valid for n reads (trait contract).
        unsafe { dot1_simd128(std::slice::from_raw_parts(c, n), std::slice::from_raw_parts(x, n)) }
    }
}

/// The canonical 8-lane reduction.
#[inline(always)]
fn reduce8(a: [f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
}

/// Scalar twin: the definition of the canonical sum.
pub(crate) fn dot_scalar(c: &[f32], x: &[f32]) -> f32 {
    let mut a = [0.0f32; 8];
    for (cc, xx) in c.chunks_exact(8).zip(x.chunks_exact(8)) {
        for j in 0..8 {
            a[j] += cc[j] * xx[j];
        }
    }
    reduce8(a)
}

mod simd128 {
    use wide::f32x4;

    #[inline(always)]
    pub(super) fn load(s: &[f32]) -> f32x4 {
        f32x4::new([s[0], s[1], s[2], s[3]])
    }

    /// `lo` holds lanes 0..4, `hi` lanes 4..8.
    #[inline(always)]
    pub(super) fn reduce(lo: f32x4, hi: f32x4) -> f32 {
        let s = (lo + hi).to_array(); // [a0+a4, a1+a5, a2+a6, a3+a7]
        (s[0] + s[2]) + (s[1] + s[3])
    }
}

fn dot1_simd128(c: &[f32], x: &[f32]) -> f32 {
    use simd128::{load, reduce};
    let (mut lo, mut hi) = (wide::f32x4::ZERO, wide::f32x4::ZERO);
    for (cc, xx) in c.chunks_exact(8).zip(x.chunks_exact(8)) {
        lo += load(&cc[..4]) * load(&xx[..4]);
        hi += load(&cc[4..]) * load(&xx[4..]);
    }
    reduce(lo, hi)
}

fn dot4_simd128(c: [&[f32]; 4], x: [&[f32]; 4]) -> [f32; 4] {
    use simd128::{load, reduce};
    use wide::f32x4;
    let mut lo = [f32x4::ZERO; 4];
    let mut hi = [f32x4::ZERO; 4];
    let n = c[0].len();
    let mut i = 0;
    while i + 8 <= n {
        for k in 0..4 {
            let (cc, xx) = (&c[k][i..i + 8], &x[k][i..i + 8]);
            lo[k] += load(&cc[..4]) * load(&xx[..4]);
            hi[k] += load(&cc[4..]) * load(&xx[4..]);
        }
        i += 8;
    }
    [reduce(lo[0], hi[0]), reduce(lo[1], hi[1]), reduce(lo[2], hi[2]), reduce(lo[3], hi[3])]
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{Dot, Geometry, Walk};
    use std::arch::x86_64::*;

    /// The canonical reduction of one 8-lane register.
    ///
    /// # Safety
    /// The CPU must support AVX.
    #[inline(always)]
    unsafe fn hsum(v: __m256) -> f32 {
        // SAFETY: AVX available (caller contract); register-only operations.
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let t = _mm_add_ps(s, _mm_movehl_ps(s, s)); // [s0+s2, s1+s3, ..]
            _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps::<1>(t, t)))
        }
    }

    /// 256-bit dot products. Its methods are `inline(always)` without a target feature of
    /// their own, so that they inline into [`run`], which enables AVX for the whole loop.
    struct AvxDot;
    impl Dot for AvxDot {
        #[inline(always)]
        unsafe fn dot4(c: [*const f32; 4], x: [*const f32; 4], n: usize) -> [f32; 4] {
            let [c0, c1, c2, c3] = c;
            let [x0, x1, x2, x3] = x;
            // SAFETY: AVX available (only reached through `run`); every pointer is valid for
            // n reads, n % 8 == 0 (trait contract), so each 8-wide load is in bounds.
            unsafe {
                let (mut a0, mut a1, mut a2, mut a3) =
                    (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
                let mut i = 0;
                while i < n {
                    a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(c0.add(i)), _mm256_loadu_ps(x0.add(i))));
                    a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(c1.add(i)), _mm256_loadu_ps(x1.add(i))));
                    a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_loadu_ps(c2.add(i)), _mm256_loadu_ps(x2.add(i))));
                    a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_loadu_ps(c3.add(i)), _mm256_loadu_ps(x3.add(i))));
                    i += 8;
                }
                [hsum(a0), hsum(a1), hsum(a2), hsum(a3)]
            }
        }

        #[inline(always)]
        unsafe fn dot1(c: *const f32, x: *const f32, n: usize) -> f32 {
            // SAFETY: as in `dot4`.
            unsafe {
                let mut a = _mm256_setzero_ps();
                let mut i = 0;
                while i < n {
                    a = _mm256_add_ps(a, _mm256_mul_ps(_mm256_loadu_ps(c.add(i)), _mm256_loadu_ps(x.add(i))));
                    i += 8;
                }
                hsum(a)
            }
        }
    }

    /// The polyphase loop with AVX enabled throughout.
    ///
    /// # Safety
    /// The CPU must support AVX, and the bounds established by `Kernel::convolve` must hold.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn run(
        geo: &Geometry,
        coefs: *const f32,
        buf: *const f32,
        walk: Walk,
        count: usize,
        out: *mut f32,
        stride: usize,
    ) -> Walk {
        // SAFETY: forwarded caller contract.
        unsafe { super::run::<AvxDot>(geo, coefs, buf, walk, count, out, stride) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-1, 1) with a wide spread of magnitudes, so that
    /// rounding differences between summation orders would show.
    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let u = (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
                u * (1.0 + (s & 0xff) as f32 * 3.7)
            })
            .collect()
    }

    #[test]
    fn simd_kernels_equal_scalar_bit_for_bit() {
        // L = 4 rows, M = 5: output k uses row k % 4 and the window starting at floor(5k / 4).
        for n in [8usize, 16, 24, 104, 584] {
            let rows: Vec<Vec<f32>> = (0..4).map(|k| noise(10 + k, n)).collect();
            let coefs = rows.concat();
            let x = noise(20 + n as u64, n + 16);
            let geo = Geometry { taps: n, l: 4, step_int: 1, step_frac: 1 };
            for count in [1usize, 3, 4, 7, 9] {
                let want: Vec<u32> =
                    (0..count).map(|k| dot_scalar(&rows[k % 4], &x[5 * k / 4..5 * k / 4 + n]).to_bits()).collect();
                for kernel in Kernel::ALL.into_iter().filter(|k| k.is_available()) {
                    // Interleaved output (stride 2) to exercise the stride too.
                    let mut out = vec![f32::NAN; 2 * count];
                    let end = kernel.convolve(&geo, &coefs, &x, Walk { pos: 0, phase: 0 }, &mut out, 2);
                    assert_eq!(end, Walk { pos: 5 * count / 4, phase: count % 4 });
                    let got: Vec<u32> = out.iter().step_by(2).map(|v| v.to_bits()).collect();
                    assert_eq!(got, want, "{kernel:?} n={n} count={count}");
                }
            }
        }
    }

    #[test]
    fn convolve_refuses_out_of_bounds_requests() {
        let geo = Geometry { taps: 8, l: 1, step_int: 1, step_frac: 0 };
        let coefs = [1.0f32; 8];
        let x = [1.0f32; 10];
        let mut out = [0.0f32; 4];
        for kernel in Kernel::ALL.into_iter().filter(|k| k.is_available()) {
            // Three outputs need x[0..10]: fine. Four would need x[0..11]: refused, untouched.
            let w = kernel.convolve(&geo, &coefs, &x, Walk { pos: 0, phase: 0 }, &mut out[..3], 1);
            assert_eq!((w.pos, out[..3].to_vec()), (3, vec![8.0; 3]));
            out = [0.0; 4];
            let w = kernel.convolve(&geo, &coefs, &x, Walk { pos: 0, phase: 0 }, &mut out, 1);
            assert_eq!((w.pos, out), (0, [0.0; 4]));
        }
    }

    #[test]
    fn canonical_order_differs_from_naive_sum() {
        // Guards the test above: with this data the canonical order must actually matter,
        // otherwise equality would prove nothing about the lane structure.
        let c = noise(1, 584);
        let x = noise(2, 584);
        let naive = c.iter().zip(&x).fold(0.0f32, |a, (c, x)| a + c * x);
        assert_ne!(naive.to_bits(), dot_scalar(&c, &x).to_bits());
    }

    #[test]
    fn detect_returns_an_available_kernel() {
        assert!(Kernel::detect().is_available());
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            assert_eq!(Kernel::detect(), Kernel::Avx);
        }
    }
}
