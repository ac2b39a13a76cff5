//! Dominant speaker identification after I. Volfin and I. Cohen, "Dominant speaker
//! identification for multipoint videoconferencing" (Computer Speech & Language, 2013), in
//! the form Jitsi runs on RFC 6464 audio levels instead of sub-band energies.
//!
//! Every 20 ms frame a member's level (0 = silence … 127 = full scale, i.e. 127 minus the
//! RFC 6464 value) above its own noise floor becomes an *immediate*: how many of 13 sub-units
//! of the level range it covers. Three time scales are scored: the last frame (immediate,
//! 13 sub-units), the last 5 frames (medium: how many immediates exceed 7 of 13) and the
//! last 50 frames (long: how many of 10 medium blocks exceed 4 of 5). Each count `v` out of
//! `n` gets the log-likelihood that it is speech rather than noise, modelled as binomial
//! (p = 0.5) against an exponential prior with rate λ:
//! `ln C(n, v) + v ln p + (n − v) ln(1 − p) − ln λ + λ v` (λ = 0.78, 24, 47). Every 300 ms
//! a challenger replaces the dominant speaker only if its scores beat the dominant's on all
//! three scales by log-ratios above 3, 2 and 0: a cough (immediate and medium, never long)
//! does not take the floor, a speaker who keeps talking does.
//!
//! Allocation-free after construction; O(members × 50) every 300 ms.
//!
//! A room spread over several workers runs the same scores per shard for its own members
//! and decides across shards from each shard's best challenger (`dominant_shards.rs`):
//! [`challenger`] is the one rule both use.

use crate::mixer::events::MixerEventKind;

const N1: u32 = 13;
const N2: usize = 5;
const N3: usize = 10;
const HISTORY: usize = N2 * N3;
const MAX_LEVEL: u8 = 127;
const SUBUNIT: u8 = (MAX_LEVEL as u32).div_ceil(N1) as u8;
const MEDIUM_THRESHOLD: u8 = 7;
/// The lowest level whose immediate is above [`MEDIUM_THRESHOLD`] (over a floor low enough).
const LOUD: u8 = (MEDIUM_THRESHOLD + 1) * SUBUNIT;
const LONG_THRESHOLD: u8 = 4;
const C: [f64; 3] = [3.0, 2.0, 0.0];
const LAMBDA: [f64; 3] = [0.78, 24.0, 47.0];
const MIN_SCORE: f64 = 1e-10;
/// 300 ms of 20 ms frames.
pub(crate) const DECISION_FRAMES: u32 = 15;

/// A speaker's immediate, medium and long scores at the last decision point.
pub(crate) type Scores = [f64; 3];
/// The noise floor rises toward newer minima after 15 s of frames.
const MIN_LEVEL_WINDOW: u32 = 750;

#[derive(Clone, Debug)]
struct Speaker {
    /// Ring of the last 50 levels, `head` the newest.
    levels: [u8; HISTORY],
    head: usize,
    /// Levels in the ring at [`LOUD`] or above (none: no medium activity to count).
    loud: u8,
    min_level: u8,
    next_min: u8,
    next_min_frames: u32,
    scores: Scores,
}

impl Speaker {
    fn new() -> Self {
        Speaker {
            levels: [0; HISTORY],
            head: 0,
            loud: 0,
            min_level: 0,
            next_min: 0,
            next_min_frames: 0,
            scores: [MIN_SCORE; 3],
        }
    }

    fn level(&mut self, level: u8) {
        self.head = (self.head + HISTORY - 1) % HISTORY;
        let old = std::mem::replace(&mut self.levels[self.head], level);
        self.loud = self.loud + u8::from(level >= LOUD) - u8::from(old >= LOUD);
        // The noise floor: the minimum non-zero level, drifting up (geometric mean) when
        // 15 s pass above it.
        if level == 0 {
            return;
        }
        if self.min_level == 0 || level < self.min_level {
            self.min_level = level;
            self.next_min = 0;
            self.next_min_frames = 0;
        } else if self.next_min == 0 {
            self.next_min = level;
            self.next_min_frames = 1;
        } else {
            self.next_min = self.next_min.min(level);
            self.next_min_frames += 1;
            if self.next_min_frames >= MIN_LEVEL_WINDOW {
                self.min_level = (f64::from(self.min_level) * f64::from(self.next_min)).sqrt() as u8;
                self.next_min = 0;
                self.next_min_frames = 0;
            }
        }
    }

    /// The immediate of a frame at level `l`: the sub-units it covers, 0 under the noise
    /// floor plus one sub-unit.
    fn immediate(&self, l: u8) -> u8 {
        if l < self.min_level.saturating_add(SUBUNIT) {
            0
        } else {
            l / SUBUNIT
        }
    }

    /// The scores from the last 50 levels (`table`: [`score`] of every count).
    fn evaluate(&mut self, table: &ScoreTable) {
        // A frame counts in its medium block when its immediate is above the threshold:
        // at the floor plus a sub-unit and at (threshold + 1) sub-units or more.
        let active = self.min_level.saturating_add(SUBUNIT).max(LOUD);
        let mut mediums = [0u8; N3];
        if self.loud > 0 {
            let newest_first = self.levels[self.head..].iter().chain(&self.levels[..self.head]);
            for (i, &l) in newest_first.enumerate() {
                mediums[i / N2] += u8::from(l >= active);
            }
        }
        let long = mediums.iter().filter(|&&m| m > LONG_THRESHOLD).count();
        let immediate = self.immediate(self.levels[self.head]);
        self.scores = [table[0][usize::from(immediate)], table[1][usize::from(mediums[0])], table[2][long]];
    }
}

/// [`score`] of every count `v` of each time scale (immediate, medium, long), for
/// [`Speaker::evaluate`] (a lookup instead of a binomial and two logarithms per speaker).
type ScoreTable = [[f64; N1 as usize + 1]; 3];

fn score_table() -> ScoreTable {
    let n = [N1, N2 as u32, N3 as u32];
    std::array::from_fn(|k| std::array::from_fn(|v| score((v as u32).min(n[k]), n[k], LAMBDA[k])))
}

fn binomial(n: u32, k: u32) -> f64 {
    let k = k.min(n - k.min(n));
    (0..k).fold(1.0, |acc, i| acc * f64::from(n - i) / f64::from(i + 1))
}

/// The speech-activity score of `v` active units out of `n` (see the module docs).
fn score(v: u32, n: u32, lambda: f64) -> f64 {
    let v = v.min(n);
    let p: f64 = 0.5;
    let s = binomial(n, v).ln() + f64::from(v) * p.ln() + f64::from(n - v) * (1.0 - p).ln() - lambda.ln()
        + lambda * f64::from(v);
    s.max(MIN_SCORE)
}

/// The speaker who takes the floor among `candidates` (port, scores at a decision point).
/// With no dominant speaker: the most active one (the highest medium score, then
/// immediate, then the lower port) among those with any medium activity. Otherwise the
/// challenger of `dominant` (port, scores) whose scores beat its own on all three time
/// scales by the log-ratios `C`, the highest medium score first (then the lower port).
/// `None`: nobody (the dominant speaker keeps the floor).
pub(crate) fn challenger(
    candidates: impl Iterator<Item = (usize, Scores)>,
    dominant: Option<(usize, Scores)>,
) -> Option<(usize, Scores)> {
    let mut best: Option<(usize, Scores)> = None;
    for (p, s) in candidates {
        let eligible = match dominant {
            None => s[1] > MIN_SCORE,
            Some((d, ds)) => p != d && (0..3).all(|k| (s[k] / ds[k]).ln() > C[k]),
        };
        let better = |(b, bs): (usize, Scores)| {
            let immediate = if dominant.is_none() { s[0].total_cmp(&bs[0]) } else { std::cmp::Ordering::Equal };
            s[1].total_cmp(&bs[1]).then(immediate).then(b.cmp(&p)).is_gt()
        };
        if eligible && best.map_or(true, better) {
            best = Some((p, s));
        }
    }
    best
}

/// The dominant-speaker state of a room (one [`Speaker`] per mixer port).
#[derive(Clone, Debug)]
pub(crate) struct DominantSpeaker {
    speakers: Vec<Speaker>,
    dominant: Option<usize>,
    frames: u32,
    table: ScoreTable,
}

impl DominantSpeaker {
    pub(crate) fn new(capacity: usize) -> Self {
        DominantSpeaker { speakers: vec![Speaker::new(); capacity], dominant: None, frames: 0, table: score_table() }
    }

    pub(crate) fn dominant(&self) -> Option<usize> {
        self.dominant
    }

    /// Takes over `old`'s state (fewer ports), for a room that grew. Real-time.
    pub(crate) fn take_over(&mut self, old: &DominantSpeaker) {
        let n = old.speakers.len().min(self.speakers.len());
        self.speakers[..n].clone_from_slice(&old.speakers[..n]);
        self.dominant = old.dominant.filter(|&d| d < n);
        self.frames = old.frames;
    }

    /// Port `p` left: its history is forgotten; if it dominated, nobody does now.
    pub(crate) fn forget(&mut self, p: usize) -> Option<MixerEventKind> {
        if let Some(s) = self.speakers.get_mut(p) {
            *s = Speaker::new();
        }
        if self.dominant == Some(p) {
            self.dominant = None;
            return Some(MixerEventKind::DominantSpeaker(None));
        }
        None
    }

    /// One 20 ms frame's RFC 6464 level (0 loud … 127 silent) for port `p`.
    pub(crate) fn level(&mut self, p: usize, rfc6464: u8) {
        if let Some(s) = self.speakers.get_mut(p) {
            s.level(MAX_LEVEL - rfc6464.min(MAX_LEVEL));
        }
    }

    /// Ends a frame for `members`; every 300 ms decides, and returns the change if any.
    pub(crate) fn end_frame(&mut self, members: &[usize]) -> Option<MixerEventKind> {
        self.frames += 1;
        if self.frames < DECISION_FRAMES {
            return None;
        }
        self.frames = 0;
        self.evaluate(members);
        let new = self.best(members, self.held()).map(|(p, _)| p).or(self.dominant);
        self.set(new)
    }

    /// Scores `members` at a decision point.
    pub(crate) fn evaluate(&mut self, members: &[usize]) {
        for &p in members {
            self.speakers[p].evaluate(&self.table);
        }
    }

    /// Port `p`'s scores at the last decision point.
    pub(crate) fn scores(&self, p: usize) -> Scores {
        self.speakers.get(p).map_or([MIN_SCORE; 3], |s| s.scores)
    }

    /// The dominant speaker and its scores, if there is one.
    fn held(&self) -> Option<(usize, Scores)> {
        self.dominant.map(|d| (d, self.scores(d)))
    }

    /// The [`challenger`] among `members` of `dominant` (port, scores; `None`: nobody
    /// dominates).
    pub(crate) fn best(&self, members: &[usize], dominant: Option<(usize, Scores)>) -> Option<(usize, Scores)> {
        challenger(members.iter().map(|&p| (p, self.scores(p))), dominant)
    }

    /// The dominant speaker is `new`, as another's choice says (no event).
    pub(crate) fn adopt(&mut self, new: Option<usize>) {
        self.dominant = new;
    }

    /// The dominant speaker is now `new`: the change, if it is one.
    pub(crate) fn set(&mut self, new: Option<usize>) -> Option<MixerEventKind> {
        if new != self.dominant {
            self.dominant = new;
            Some(MixerEventKind::DominantSpeaker(new))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Levels (RFC 6464 values) of a talker and of silence with a little noise.
    const TALK: u8 = 20;
    const QUIET: u8 = 70;

    fn run(
        d: &mut DominantSpeaker,
        frames: usize,
        levels: impl Fn(usize, usize) -> u8,
        log: &mut Vec<(usize, Option<usize>)>,
        t0: &mut usize,
    ) {
        for f in 0..frames {
            for p in 0..3 {
                d.level(p, levels(p, *t0 + f));
            }
            if let Some(MixerEventKind::DominantSpeaker(s)) = d.end_frame(&[0, 1, 2]) {
                log.push((*t0 + f, s));
            }
        }
        *t0 += frames;
    }

    #[test]
    fn a_talker_takes_the_floor_a_cough_does_not() {
        let mut d = DominantSpeaker::new(3);
        let (mut log, mut t) = (Vec::new(), 0);
        // 3 s: port 0 talks (with a syllable rhythm), 1 and 2 are quiet.
        let syll = |f: usize| if f % 10 < 7 { TALK } else { 45 };
        run(&mut d, 150, |p, f| if p == 0 { syll(f) } else { QUIET }, &mut log, &mut t);
        assert_eq!(log, vec![(14, Some(0))]);
        // Port 1 coughs for 200 ms (10 frames) while 0 goes on: 0 keeps the floor.
        run(
            &mut d,
            50,
            |p, f| match p {
                0 => syll(f),
                1 if f < 160 => 5,
                _ => QUIET,
            },
            &mut log,
            &mut t,
        );
        assert_eq!(log.len(), 1, "{log:?}");
        // 0 falls silent and 1 talks: 1 takes the floor within a second and a half.
        run(&mut d, 100, |p, f| if p == 1 { syll(f) } else { QUIET }, &mut log, &mut t);
        assert_eq!(log.len(), 2, "{log:?}");
        assert_eq!(log[1].1, Some(1));
        assert!(log[1].0 < 200 + 75, "{log:?}");
        // Port 1 leaves: nobody dominates.
        assert_eq!(d.forget(1), Some(MixerEventKind::DominantSpeaker(None)));
    }

    #[test]
    fn evaluation_by_table_and_threshold_is_the_papers_formula() {
        // The scores as the module docs define them, counted frame by frame and computed
        // with `score`, against `Speaker::evaluate` on random histories and noise floors.
        let table = score_table();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |m: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % m) as u8
        };
        for round in 0..2_000 {
            let mut s = Speaker::new();
            for _ in 0..next(120) {
                let l = match round % 3 {
                    0 => next(128),
                    1 => 60 + next(68),
                    _ => [0, 5, 90, 127][usize::from(next(4))],
                };
                s.level(l);
            }
            let newest = |i: usize| s.levels[(s.head + i) % HISTORY];
            let floor = s.min_level.saturating_add(SUBUNIT);
            let imm = |i: usize| if newest(i) < floor { 0 } else { newest(i) / SUBUNIT };
            let mediums: Vec<u32> =
                (0..N3).map(|b| (0..N2).filter(|&k| imm(b * N2 + k) > MEDIUM_THRESHOLD).count() as u32).collect();
            let long = mediums.iter().filter(|&&m| m > u32::from(LONG_THRESHOLD)).count() as u32;
            let want = [
                score(u32::from(imm(0)), N1, LAMBDA[0]),
                score(mediums[0], N2 as u32, LAMBDA[1]),
                score(long, N3 as u32, LAMBDA[2]),
            ];
            s.evaluate(&table);
            assert_eq!(s.scores, want, "round {round}");
        }
    }

    #[test]
    fn scores_order_speech_above_noise() {
        assert_eq!(score(0, N1, LAMBDA[0]), MIN_SCORE);
        assert!(score(10, N1, LAMBDA[0]) > score(5, N1, LAMBDA[0]));
        assert!(score(5, 5, LAMBDA[1]) > score(1, 5, LAMBDA[1]));
        assert_eq!(binomial(13, 2), 78.0);
        assert_eq!(binomial(5, 5), 1.0);
    }
}
