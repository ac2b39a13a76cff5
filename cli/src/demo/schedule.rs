//! Who is in the demo's room, and who talks, when: a deterministic script of joins, leaves
//! and conversational turns, in 10 ms ticks.
//!
//! Half the participants (at least two) are there from the start; the rest join one after
//! another between 10 % and 40 % of the call, and every third participant from the fourth
//! on leaves between 60 % and 85 %. The conversation is a sequence of turns of 1.2–3 s,
//! each given to whoever present has talked least so far (not the last speaker); in about a third of the
//! turns someone else interjects for 0.4–1 s halfway through.

use rvoip_media_graph::SplitMix64;

/// The script for one demo run.
pub struct Schedule {
    /// Tick at which each participant joins.
    pub joins: Vec<u64>,
    /// Tick at which each participant leaves (`None`: stays to the end).
    pub leaves: Vec<Option<u64>>,
    /// Per participant, the ticks it talks in, as sorted `[start, end)` spans.
    talk: Vec<Vec<(u64, u64)>>,
}

impl Schedule {
    /// The script for `n` participants over `ticks` ticks.
    pub fn new(n: usize, ticks: u64, seed: u64) -> Schedule {
        let initial = n.div_ceil(2).max(2).min(n);
        let late = (n - initial) as u64;
        let joins: Vec<u64> = (0..n)
            .map(|i| if i < initial { 0 } else { ticks / 10 + (i - initial) as u64 * (ticks * 3 / 10) / late.max(1) })
            .collect();
        let leavers: Vec<usize> = (3..n).filter(|i| i % 3 == 0).collect();
        let mut leaves = vec![None; n];
        for (k, &i) in leavers.iter().enumerate() {
            leaves[i] = Some(ticks * 6 / 10 + k as u64 * (ticks / 4) / leavers.len() as u64);
        }
        let mut s = Schedule { joins, leaves, talk: vec![Vec::new(); n] };
        let mut rng = SplitMix64::new(seed);
        let (mut t, mut last) = (0u64, usize::MAX);
        while t < ticks {
            let len = 120 + rng.below(181);
            let present: Vec<usize> = (0..n).filter(|&i| s.present(i, t) && i != last).collect();
            if present.is_empty() {
                t += len;
                continue;
            }
            // The one who has talked least so far (ties broken at random), so everybody
            // gets turns.
            let least = present.iter().map(|&i| s.talked(i)).min().unwrap_or(0);
            let quiet: Vec<usize> = present.iter().copied().filter(|&i| s.talked(i) == least).collect();
            let who = quiet[rng.below(quiet.len() as u64) as usize];
            s.push_talk(who, t, t + len, ticks);
            if present.len() > 1 && rng.below(3) == 0 {
                let other =
                    present.iter().copied().filter(|&i| i != who).nth(rng.below(present.len() as u64 - 1) as usize);
                if let Some(o) = other {
                    let start = t + len / 2;
                    s.push_talk(o, start, start + 40 + rng.below(61), ticks);
                }
            }
            last = who;
            t += len;
        }
        for spans in &mut s.talk {
            spans.sort_unstable();
        }
        s
    }

    /// Adds a span of talk, cut short where the participant leaves or the call ends.
    fn push_talk(&mut self, i: usize, start: u64, end: u64, ticks: u64) {
        let end = end.min(ticks).min(self.leaves[i].unwrap_or(u64::MAX));
        if start < end {
            self.talk[i].push((start, end));
        }
    }

    /// Ticks participant `i` has been given so far.
    fn talked(&self, i: usize) -> u64 {
        self.talk[i].iter().map(|(a, b)| b - a).sum()
    }

    /// Whether participant `i` is in the room at `tick`.
    pub fn present(&self, i: usize, tick: u64) -> bool {
        tick >= self.joins[i] && self.leaves[i].map_or(true, |l| tick < l)
    }

    /// Whether participant `i` talks at `tick`.
    pub fn talking(&self, i: usize, tick: u64) -> bool {
        let spans = &self.talk[i];
        let k = spans.partition_point(|&(s, _)| s <= tick);
        spans[..k].iter().rev().take(2).any(|&(s, e)| s <= tick && tick < e)
    }
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    #[test]
    fn eight_participants_join_leave_and_take_turns() {
        let s = Schedule::new(8, 1000, 1);
        assert_eq!(s.joins, [0, 0, 0, 0, 100, 175, 250, 325]);
        assert_eq!(s.leaves, [None, None, None, Some(600), None, None, Some(725), None]);
        let mut silent = 0;
        for t in 0..1000 {
            let talkers = (0..8).filter(|&i| s.talking(i, t)).count();
            assert!(talkers <= 2, "tick {t}: {talkers} talking");
            silent += usize::from(talkers == 0);
            assert!((0..8).all(|i| !s.talking(i, t) || s.present(i, t)), "tick {t}: someone absent talks");
        }
        // Only a turn whose speaker leaves mid-way leaves the room silent.
        assert!(silent < 300, "{silent} ticks without a talker");
        // Everyone who is there long enough gets a turn or an interjection.
        assert!((0..8).filter(|&i| (0..1000).any(|t| s.talking(i, t))).count() >= 5);
    }

    #[test]
    fn two_participants_stay_and_alternate() {
        let s = Schedule::new(2, 1000, 1);
        assert_eq!((s.joins.as_slice(), s.leaves.as_slice()), ([0, 0].as_slice(), [None, None].as_slice()));
        assert!((0..2).all(|i| (0..1000).any(|t| s.talking(i, t))));
    }
}
