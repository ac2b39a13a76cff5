//! Waveform packet-loss concealment for sample-based codecs (G.711, G.722): pitch-period
//! repetition with fade-out, in the manner of G.711 Appendix I.

/// What a decoder plays for a missing packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Concealment {
    /// Silence.
    Silence,
    /// Repeats the last pitch period of the decoded signal (found by normalised
    /// cross-correlation over 5–15 ms), as G.711 Appendix I does: one period for the first
    /// 10 ms of a loss, then the last two, then three (as far as the 30 ms history holds
    /// them), each loop's last quarter period cross-faded into the samples one loop
    /// earlier so the wrap is seamless; at full level for 10 ms, then fading linearly to
    /// silence at 210 ms (Appendix I fades out by 60 ms; the slower fade, as NetEQ's
    /// expansion keeps a loss audible, measured +4.5 to +5.7 R on the jitter kit's G.711
    /// burst loss, whose bursts last 60 ms on average: BENCHMARKS, session 18). The first
    /// 2.5 ms after the loss are cross-faded from the concealment into the decoded signal
    /// (Appendix I's longer cross-fade after longer losses measured worse on the jitter
    /// evaluation kit). When the packet after the loss is known (the jitter buffer has it:
    /// [`Decoder::conceal_toward`](super::Decoder::conceal_toward), G.711 only so far), the
    /// rest of the gap blends linearly into that packet's first pitch period repeated
    /// backwards from its start: interpolation across the gap (BENCHMARKS, session 20).
    #[default]
    RepeatAndFade,
}

/// Concealment state for one mono stream at 8 kHz × `scale`.
#[derive(Clone, Debug)]
#[repr(C)] // what every decoded packet reads first; the history is a separate, cold block
pub(crate) struct Plc {
    /// Concealed samples produced in the current loss (0: not in a loss).
    lost: usize,
    mode: Concealment,
    /// 1 at 8 kHz, 2 at 16 kHz: every duration below is multiplied by it.
    scale: usize,
    hist_cap: usize,
    /// Valid samples at the end of the history.
    hist_len: usize,
    /// Pitch period of the current loss.
    period: usize,
    /// The loop the concealment repeats: the last `loop_len` samples of the history
    /// (one pitch period, two after 10 ms, three after 20 ms, as far as the history holds
    /// them and a quarter period more), and the next position in it.
    loop_len: usize,
    pos: usize,
    /// Toward the packet after the loss, when the caller knows it ([`Plc::toward`]): the
    /// concealment from sample `blend_start` of the loss on is blended over `blend_len`
    /// samples into that packet's first pitch period (`fut_p` samples of `fut`) repeated
    /// backwards from its start (0: no such packet).
    blend_start: usize,
    blend_len: usize,
    fut_p: usize,
    /// The packet after the loss, decoded (its first `hist_cap` samples at most).
    fut: Box<[f32]>,
    /// The last `hist_cap` decoded samples, oldest first; appending moves the older ones
    /// down (at most 30 ms of samples a packet: a buffer twice as long, moved once per
    /// `hist_cap` samples, was 960 bytes more of a G.711 session's heap, which never appends
    /// to it). On the heap: a decoder that keeps its own compact history (G.711) touches it
    /// only when a loss starts.
    hist: Box<[f32]>,
}

impl Plc {
    /// State for `mode` at `8000 * scale` Hz (`scale` 1 or 2).
    pub(crate) fn new(mode: Concealment, scale: usize) -> Self {
        let scale = scale.clamp(1, 2);
        let hist_cap = 240 * scale;
        Plc {
            mode,
            scale,
            hist: vec![0.0; hist_cap].into_boxed_slice(),
            hist_cap,
            hist_len: 0,
            lost: 0,
            period: 40 * scale,
            loop_len: 40 * scale,
            pos: 0,
            blend_start: 0,
            blend_len: 0,
            fut_p: 0,
            fut: vec![0.0; hist_cap].into_boxed_slice(),
        }
    }

    fn win(&self) -> usize {
        80 * self.scale
    }
    fn pitch_min(&self) -> usize {
        40 * self.scale
    }
    fn pitch_max(&self) -> usize {
        120 * self.scale
    }
    fn hold(&self) -> usize {
        80 * self.scale
    }
    /// Length of the linear fade after the [`Plc::hold`] (50 ms in Appendix I: a 60 ms
    /// loss fell silent where PESQ, and a listener, hear a gap in the speech).
    fn fade_len(&self) -> usize {
        1600 * self.scale
    }
    /// Length of the cross-fade after a loss.
    fn ola(&self) -> usize {
        20 * self.scale
    }

    /// The history: the last `hist_cap` samples.
    fn history(&self) -> &[f32] {
        &self.hist
    }

    /// Appends decoded samples to the history.
    fn push(&mut self, x: &[f32]) {
        let cap = self.hist_cap;
        let n = x.len().min(cap);
        self.hist.copy_within(n.., 0);
        self.hist[cap - n..].copy_from_slice(&x[x.len() - n..]);
        self.hist_len = (self.hist_len + n).min(cap);
    }

    /// The lag in `pitch_min..=pitch_max` maximising the normalised cross-correlation of the
    /// history's last `win` samples with the lagged ones.
    fn find_period(&self) -> usize {
        let (cap, win, pmin, pmax) = (self.hist_cap, self.win(), self.pitch_min(), self.pitch_max());
        if self.hist_len < win + pmax {
            return pmin.min(self.hist_len.max(1));
        }
        let h = self.history();
        best_lag(pmin..=pmax, |p| (&h[cap - win..cap], &h[cap - win - p..cap - p]))
    }

    /// Takes the packet that follows the loss (written by `fill` into the slice it is given,
    /// returning how many samples): the concealment's next `n` samples (the rest of the gap)
    /// blend linearly from the extrapolation of the past into that packet's first pitch
    /// period repeated backwards from its start, which continues into the packet itself —
    /// interpolation across the gap instead of extrapolation alone (BENCHMARKS, jitter
    /// buffer, session 20). The pitch is found as for the history, forward from the
    /// packet's start, with a window shortened to what the packet holds.
    pub(crate) fn toward(&mut self, n: usize, fill: impl FnOnce(&mut [f32]) -> usize) {
        if self.mode != Concealment::RepeatAndFade || n == 0 {
            return;
        }
        let m = fill(&mut self.fut).min(self.hist_cap);
        let (pmin, pmax) = (self.pitch_min(), self.pitch_max());
        let win = self.win().min(m.saturating_sub(pmax));
        let p = if win >= 10 * self.scale {
            let f = &self.fut[..m];
            best_lag(pmin..=pmax, |p| (&f[..win], &f[p..p + win]))
        } else {
            m.min(pmin)
        };
        if p > 0 {
            (self.fut_p, self.blend_start, self.blend_len) = (p, self.lost, n);
        }
    }

    /// The `k`-th concealment sample of the current loss (called for k = 0, 1, … in order):
    /// the extrapolation of the past, blended toward the next packet if it is known.
    fn sample(&mut self, k: usize) -> f32 {
        let v = self.extrapolate(k);
        if self.blend_len == 0 || k < self.blend_start {
            return v;
        }
        // The next packet's first period repeated backwards from its start, weighted in
        // linearly over the rest of the gap, and alone past it (the cross-fade into the
        // packet then fades into the packet's own samples).
        let (j, l, p) = (k - self.blend_start, self.blend_len, self.fut_p);
        let w = ((j + 1) as f32 / (l + 1) as f32).min(1.0);
        let i = if j >= l { (j - l) % p } else { (p - (l - j) % p) % p };
        (1.0 - w) * v + w * self.fut[i]
    }

    /// The `k`-th sample of the extrapolation of the past, faded (called for k = 0, 1, …
    /// in order: the loop's position is state).
    fn extrapolate(&mut self, k: usize) -> f32 {
        let p = self.period.min(self.hist_len).max(1);
        let (hold, fade) = (self.hold(), self.fade_len());
        let g = if k < hold {
            1.0
        } else if k >= hold + fade {
            return 0.0;
        } else {
            1.0 - (k - hold) as f32 / fade as f32
        };
        let q = p / 4;
        if k == 0 {
            (self.loop_len, self.pos) = (p, 0);
        } else if k == hold || k == 2 * hold {
            // Two periods after 10 ms, three after 20 (G.711 Appendix I: a longer loop
            // sounds less buzzy), if the history holds them and the quarter period before.
            // The same sample continues: only the wrap moves back further.
            let m = if k == hold { 2 } else { 3 };
            if m * p + q <= self.hist_len {
                self.pos += m * p - self.loop_len;
                self.loop_len = m * p;
            }
        }
        let (len, j, cap) = (self.loop_len, self.pos, self.hist_cap);
        let h = self.history();
        let mut v = h[cap - len + j];
        if j + q >= len && q > 0 && len + q <= self.hist_len {
            // The loop's last quarter period fades into the samples one loop earlier, which
            // lead into the loop's start: the wrap is seamless.
            let w = (j + q + 1 - len) as f32 / (q + 1) as f32;
            v = (1.0 - w) * v + w * h[cap + j - 2 * len];
        }
        self.pos = if j + 1 == len { 0 } else { j + 1 };
        v * g
    }

    pub(crate) fn conceal(&mut self, out: &mut [f32]) {
        if self.mode == Concealment::Silence || self.hist_len == 0 {
            out.fill(0.0);
        } else {
            if self.lost == 0 {
                self.period = self.find_period();
            }
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.sample(self.lost + i);
            }
        }
        self.lost = self.lost.saturating_add(out.len());
    }

    /// Takes freshly decoded samples: after a loss, cross-fades their start from the
    /// concealment; then records them in the history.
    pub(crate) fn decoded(&mut self, out: &mut [f32]) {
        self.end_loss(out);
        self.push(out);
    }

    /// A loss is being concealed (no decoded samples since the last [`Plc::conceal`]).
    pub(crate) fn in_loss(&self) -> bool {
        self.lost > 0
    }

    /// History capacity in samples (what [`Plc::load_history`] can use).
    pub(crate) fn history_capacity(&self) -> usize {
        self.hist_cap
    }

    /// Replaces the history with `n` samples (at most the capacity), written oldest first by
    /// `fill`: for a decoder that keeps its own compact history (G.711 keeps its codes)
    /// and hands it over when a loss starts, instead of calling [`Plc::decoded`] per packet.
    pub(crate) fn load_history(&mut self, n: usize, fill: impl FnOnce(&mut [f32])) {
        let cap = self.hist_cap;
        let n = n.min(cap);
        fill(&mut self.hist[cap - n..cap]);
        self.hist_len = n;
    }

    /// Ends a loss, if one is being concealed: cross-fades the start of `out` from the
    /// concealment. The history is left as it is.
    pub(crate) fn end_loss(&mut self, out: &mut [f32]) {
        if self.lost > 0 {
            if self.mode == Concealment::RepeatAndFade && self.hist_len > 0 {
                let m = self.ola().min(out.len());
                for (i, o) in out[..m].iter_mut().enumerate() {
                    let w = (i + 1) as f32 / (m + 1) as f32;
                    *o = w * *o + (1.0 - w) * self.sample(self.lost + i);
                }
            }
            self.lost = 0;
            self.blend_len = 0;
        }
    }

    /// Forgets the history.
    pub(crate) fn reset(&mut self) {
        self.hist.fill(0.0);
        self.hist_len = 0;
        self.lost = 0;
        self.blend_len = 0;
        self.period = self.pitch_min();
    }
}

/// The lag in `lags` maximising the normalised cross-correlation `c·|c| / e` of the pair
/// of equal-length windows `pair(lag)` gives (`c` their dot product, `e` the lagged one's
/// energy).
fn best_lag<'a>(lags: std::ops::RangeInclusive<usize>, pair: impl Fn(usize) -> (&'a [f32], &'a [f32])) -> usize {
    let (mut best, mut best_score) = (*lags.start(), f32::NEG_INFINITY);
    for p in lags {
        let (x, y) = pair(p);
        let (mut c, mut e) = (0.0f32, 1e-9f32);
        for (a, b) in x.iter().zip(y) {
            c += a * b;
            e += b * b;
        }
        let score = c * c.abs() / e;
        if score > best_score {
            best_score = score;
            best = p;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wideband_loss_fades_over_200_ms_after_10_at_full_level() {
        // 16 kHz (G.722): a 200 Hz tone as the history, then 250 ms of loss.
        let mut plc = Plc::new(Concealment::RepeatAndFade, 2);
        let cap = plc.history_capacity();
        plc.load_history(cap, |h| {
            for (k, v) in h.iter_mut().enumerate() {
                *v = 0.5 * (2.0 * std::f32::consts::PI * 200.0 * k as f32 / 16000.0).sin();
            }
        });
        let mut out = vec![0f32; 4000];
        for c in out.chunks_mut(40) {
            plc.conceal(c);
        }
        let rms = |s: &[f32]| (s.iter().map(|v| v * v).sum::<f32>() / s.len() as f32).sqrt();
        let at = |ms: usize| rms(&out[ms * 16 - 160..ms * 16]) / rms(&out[..160]);
        assert!((0.9..1.02).contains(&at(20)), "20 ms: {}", at(20));
        assert!((0.65..0.8).contains(&at(60)), "60 ms: {}", at(60));
        assert!((0.15..0.3).contains(&at(160)), "160 ms: {}", at(160));
        assert!(out[3200..3360].iter().any(|&v| v != 0.0) && out[3360..].iter().all(|&v| v == 0.0));
    }
}
