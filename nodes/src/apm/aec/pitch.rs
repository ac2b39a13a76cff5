//! The error's periodicity at pitch lags, computed once per block for the post-filter's two
//! users: the near-end detector's pitch test (lags of 2.5–8 ms) and the near talker's harmonic
//! comb in double talk (2.5–10 ms).

use crate::resample::Kernel;

/// Normalised autocorrelation of `x` at lag `l` (`Σ x[i]·x[i−l] / √(Σ x[i]² · Σ x[i−l]²)`
/// over the overlap).
pub(super) fn lag_correlation(x: &[f32], l: usize) -> f32 {
    let (mut num, mut a, mut b) = (0.0f32, 1e-20f32, 1e-20f32);
    for i in l..x.len() {
        num += x[i] * x[i - l];
        a += x[i] * x[i];
        b += x[i - l] * x[i - l];
    }
    num / (a * b).sqrt()
}

/// Lags [`PitchSearch`] sums side by side in registers: four AVX vectors per sum, eight
/// independent addition chains in 8 of the 16 registers. The comb's lags past the detector's
/// are one group at 8, 16 and 48 kHz (at 24 lags a group, two).
const GROUP: usize = 32;

/// `GROUP` zeros, then `GROUP` ones: the lanes of a group that have started (see
/// [`PitchSearch::group`]).
const STARTED: [f32; 2 * GROUP] = {
    let mut m = [0.0f32; 2 * GROUP];
    let mut i = GROUP;
    while i < 2 * GROUP {
        m[i] = 1.0;
        i += 1;
    }
    m
};

/// The normalised autocorrelations of the error's last two blocks at lags from a quarter of a
/// block on, each lag computed at most once per block: the detector's pitch test asks for lags
/// up to 0.8 block, the comb up to a block, and in a block where both ask the comb reuses the
/// detector's. Every lag's correlation has the bits of [`lag_correlation`] at that lag (its
/// sums are taken in the same order), so the best lag is the same as a search a lag at a
/// time.
///
/// The sums run `GROUP` lags at a time with the sample loop outside: each lag's two sums stay in
/// registers over the samples (a lag per vector lane), where lags side by side in memory stored
/// both sums back at every sample (session 39's search; this one is 2–3× faster with the same
/// bits).
#[derive(Clone, Debug)]
pub(super) struct PitchSearch {
    /// `GROUP` zeros, then the two blocks' error: a lane whose lag has not started reads zeros.
    x: Vec<f32>,
    /// `prefix[n]` = `1e-20 + Σ x[j]²` over `j < n`, summed in order (each lag's energy of the
    /// lagged samples).
    prefix: Vec<f32>,
    /// The correlation at lag `lo + k`, for `k < done`.
    corr: Vec<f32>,
    lo: usize,
    /// Lags `lo..lo + done` are computed for this block.
    done: usize,
    /// Whether `x` and `prefix` hold this block's error.
    loaded: bool,
    /// The search's code (`avx_dispatch!`; the same bits with every kernel).
    kernel: Kernel,
}

impl PitchSearch {
    /// For blocks of `hop` samples (the error of two blocks; lags `hop / 4..=hop`), with the
    /// canceller's `kernel`.
    pub(super) fn new(hop: usize, kernel: Kernel) -> Self {
        let n = 2 * hop;
        PitchSearch {
            x: vec![0.0; GROUP + n],
            prefix: vec![0.0; n + 1],
            corr: vec![0.0; hop + 1 - hop / 4],
            lo: hop / 4,
            done: 0,
            loaded: false,
            kernel,
        }
    }

    /// A new block: the next search reads the error again.
    #[inline(always)]
    pub(super) fn next_block(&mut self) {
        self.loaded = false;
        self.done = 0;
    }

    avx_dispatch!(
        /// The lag in `hop / 4..=hi` at which the error of the last two blocks `e` (the same
        /// slice for every call in a block) is most periodic (the first of equal ones; lag 0
        /// with 0 if no correlation is above 0), and that correlation.
        pub(super) fn best(&mut self, e: &[f32], hi: usize) -> (f32, usize),
        avx: best_avx,
        body: best_body
    );

    /// The body of [`PitchSearch::best`], inlined into each code path.
    #[inline(always)]
    fn best_body(&mut self, e: &[f32], hi: usize) -> (f32, usize) {
        let n = self.x.len() - GROUP;
        debug_assert_eq!(e.len(), n);
        let lo = self.lo;
        let hi = hi.min(lo + self.corr.len() - 1);
        if hi < lo {
            return (0.0, 0);
        }
        if !self.loaded {
            self.x[GROUP..].copy_from_slice(e);
            let mut s = 1e-20f32;
            self.prefix[0] = s;
            for (p, &v) in self.prefix[1..].iter_mut().zip(e) {
                s += v * v;
                *p = s;
            }
            self.loaded = true;
        }
        let mut start = lo + self.done;
        while start <= hi {
            // The last group ends at `hi` (lags under `start` computed again, to the same bits).
            let first = start.min((hi + 1).saturating_sub(GROUP)).max(lo);
            self.group(first, hi);
            start = first + GROUP;
        }
        self.done = self.done.max(hi + 1 - lo);
        self.corr[..=hi - lo]
            .iter()
            .enumerate()
            .fold((0.0f32, 0usize), |best, (k, &r)| if r > best.0 { (r, lo + k) } else { best })
    }

    /// The correlation at `lag`, one of the lags the last [`PitchSearch::best`] searched.
    #[inline(always)]
    pub(super) fn correlation(&self, lag: usize) -> f32 {
        self.corr[lag - self.lo]
    }

    /// Lags `first..first + GROUP` (those up to `hi` kept): lane `j` holds lag
    /// `first + GROUP − 1 − j`, so the lagged samples of a sample are contiguous. Over the first
    /// `GROUP − 1` samples the lanes whose lag has not started add zeros (`x`'s leading zeros,
    /// `STARTED`'s), which leaves their sums as they were.
    #[inline(always)]
    fn group(&mut self, first: usize, hi: usize) {
        let x = &self.x[..];
        let n = x.len() - GROUP;
        let (mut num, mut energy): (Sums, Sums) = ([[0.0; LANES]; GROUP / LANES], [[1e-20; LANES]; GROUP / LANES]);
        let ramp = (first + GROUP - 1).min(n);
        for i in first..ramp {
            let o = i + 1 - first;
            add_sample(&mut num, &mut energy, x[GROUP + i], &x[o..o + GROUP], Some(&STARTED[o..o + GROUP]));
        }
        for i in ramp..n {
            let o = i + 1 - first;
            add_sample(&mut num, &mut energy, x[GROUP + i], &x[o..o + GROUP], None);
        }
        for j in 0..GROUP {
            let l = first + GROUP - 1 - j;
            if l <= hi {
                let (n_l, e_l) = (num[j / LANES][j % LANES], energy[j / LANES][j % LANES]);
                self.corr[l - self.lo] = n_l / (e_l * self.prefix[n - l]).sqrt();
            }
        }
    }
}

/// Vector lanes of the AVX build.
const LANES: usize = 8;

/// A group's sums, a vector of lanes at a time (as one array of `GROUP`, LLVM split them into
/// odd vectors and scalars, or kept them in memory).
type Sums = [[f32; LANES]; GROUP / LANES];

/// Adds sample `xi` to a group's sums: `xi · back[j]` to lane `j`'s `num`, `xi²` to its
/// `energy` (times `started[j]` while the group's lags start).
#[inline(always)]
fn add_sample(num: &mut Sums, energy: &mut Sums, xi: f32, back: &[f32], started: Option<&[f32]>) {
    let xx = xi * xi;
    for c in 0..GROUP / LANES {
        let b: &[f32; LANES] = back[c * LANES..(c + 1) * LANES].try_into().unwrap();
        if let Some(started) = started {
            let s: &[f32; LANES] = started[c * LANES..(c + 1) * LANES].try_into().unwrap();
            for j in 0..LANES {
                num[c][j] += xi * b[j];
                energy[c][j] += xx * s[j];
            }
        } else {
            for j in 0..LANES {
                num[c][j] += xi * b[j];
                energy[c][j] += xx;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{lag_correlation, PitchSearch};
    use crate::resample::Kernel;

    /// The fold of [`lag_correlation`] over `lo..=hi`: the search a lag at a time.
    fn fold(x: &[f32], lo: usize, hi: usize) -> (f32, usize) {
        (lo..=hi).fold((0.0f32, 0usize), |best, l| {
            let r = lag_correlation(x, l);
            if r > best.0 {
                (r, l)
            } else {
                best
            }
        })
    }

    /// The grouped search gives the same bits as one lag at a time and its fold, with every
    /// kernel, at each rate's hop (8, 16 and 48 kHz) on voiced, noisy and silent inputs: the
    /// detector's range alone, the comb's after it (extending the detector's), the comb's alone,
    /// and every lag's correlation.
    #[test]
    fn the_grouped_search_is_the_fold_of_lag_correlation_bit_for_bit() {
        let mut s = rvoip_media_graph::SplitMix64::new(7);
        let mut noise = || 0.5 * s.bipolar();
        for h in [80usize, 160, 480] {
            let signals: [Vec<f32>; 3] = [
                (0..2 * h).map(|i| (i as f32 * 0.21).sin() + 0.3 * (i as f32 * 0.63).sin() + 0.05 * noise()).collect(),
                (0..2 * h).map(|_| noise()).collect(),
                vec![0.0; 2 * h],
            ];
            let bits = |r: (f32, usize)| (r.0.to_bits(), r.1);
            for (x, kernel) in signals.iter().flat_map(|x| Kernel::ALL.into_iter().map(move |k| (x, k))) {
                let mut p = PitchSearch::new(h, Kernel::Scalar).with_kernel(kernel);
                let (lo, detector, comb) = (h / 4, h * 4 / 5, h);
                p.next_block();
                assert_eq!(bits(p.best(x, detector)), bits(fold(x, lo, detector)), "hop {h}");
                assert_eq!(bits(p.best(x, comb)), bits(fold(x, lo, comb)), "hop {h}");
                for l in lo..=comb {
                    assert_eq!(p.correlation(l).to_bits(), lag_correlation(x, l).to_bits(), "hop {h} lag {l}");
                }
                p.next_block();
                assert_eq!(bits(p.best(x, comb)), bits(fold(x, lo, comb)), "hop {h}");
            }
        }
    }
}
