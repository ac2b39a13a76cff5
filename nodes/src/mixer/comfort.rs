//! Comfort noise for a listener who hears nobody: white noise at a fixed low level, so a
//! silent room does not sound like a dropped call (as conference bridges do; RFC 3389's
//! idea, generated locally).

use rvoip_media_graph::SplitMix64;

/// A white-noise source at an RMS level given in dBFS.
#[derive(Clone, Debug)]
pub(crate) struct ComfortNoise {
    rng: SplitMix64,
    /// Peak of the uniform distribution: RMS × √3.
    amplitude: f32,
}

impl ComfortNoise {
    pub(crate) fn new(level_dbfs: f32) -> Self {
        ComfortNoise { rng: SplitMix64::new(0x9E37_79B9), amplitude: 10f32.powf(level_dbfs / 20.0) * 3f32.sqrt() }
    }

    /// Fills `out`. Real-time.
    pub(crate) fn fill(&mut self, out: &mut [f32]) {
        for o in out {
            *o = self.rng.bipolar() * self.amplitude;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn level_is_as_asked() {
        let mut cn = super::ComfortNoise::new(-60.0);
        let mut x = vec![0.0; 48_000];
        cn.fill(&mut x);
        let db = 10.0 * crate::level::mean_square(&x).log10();
        assert!((db + 60.0).abs() < 0.2, "{db}");
    }
}
