//! A small deterministic pseudo-random generator for the places that need repeatable draws
//! without a dependency: simulated packet loss in the CLI, fuzz and property tests, shuffled
//! graphs. Not for anything that must be unpredictable.

/// SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit state, a Weyl step and a 64-bit
/// finaliser per draw. Every seed, including 0, gives a full-period, well-mixed sequence;
/// the same seed always gives the same sequence.
///
/// ```
/// use rvoip_media_graph::SplitMix64;
/// let mut a = SplitMix64::new(7);
/// let mut b = SplitMix64::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert!(a.below(10) < 10);
/// assert_eq!(a.below(0), 0);
/// ```
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The next 32 random bits (the high half of [`SplitMix64::next_u64`]).
    ///
    /// ```
    /// use rvoip_media_graph::SplitMix64;
    /// let (mut a, mut b) = (SplitMix64::new(3), SplitMix64::new(3));
    /// assert_eq!(u64::from(a.next_u32()), b.next_u64() >> 32);
    /// ```
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A uniform draw in `[0, 1)` with 53-bit resolution (every value a multiple of 2⁻⁵³).
    ///
    /// ```
    /// use rvoip_media_graph::SplitMix64;
    /// let mut r = SplitMix64::new(5);
    /// assert!((0..1000).map(|_| r.unit()).all(|x| (0.0..1.0).contains(&x)));
    /// ```
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform draw in `[-1, 1)` with 24-bit resolution: white noise of RMS 1/√3.
    ///
    /// ```
    /// use rvoip_media_graph::SplitMix64;
    /// let mut r = SplitMix64::new(9);
    /// assert!((0..1000).map(|_| r.bipolar()).all(|x| (-1.0..1.0).contains(&x)));
    /// ```
    pub fn bipolar(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / 8_388_608.0) - 1.0
    }

    /// A draw in `0..n` (by remainder: the bias is below 2⁻³² for `n` < 2³²); 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Shuffles `v` in place (Fisher–Yates).
    ///
    /// ```
    /// use rvoip_media_graph::SplitMix64;
    /// let mut v = [1, 2, 3, 4, 5];
    /// SplitMix64::new(1).shuffle(&mut v);
    /// v.sort();
    /// assert_eq!(v, [1, 2, 3, 4, 5]);
    /// ```
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i as u64 + 1) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SplitMix64;

    #[test]
    fn matches_the_reference_sequence() {
        // The first outputs for seed 1234567 from the reference C implementation
        // (prng.di.unimi.it/splitmix64.c).
        let mut r = SplitMix64::new(1_234_567);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, [6_457_827_717_110_365_317, 3_203_168_211_198_807_973, 9_817_491_932_198_370_423]);
    }
}
