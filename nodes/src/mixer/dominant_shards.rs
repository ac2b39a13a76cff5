//! The dominant speaker of a room spread over several workers (shards), each running its
//! own members. A speaker's scores depend on its own levels only, so every shard keeps the
//! [`DominantSpeaker`] history of its own members and scores them at the room's decision
//! points (every 300 ms, on the room's cycle count, the same on every shard). Only the
//! choice compares speakers across shards, and it needs the dominant speaker's scores
//! before any challenger can be tested against them, so it takes two cycles of the
//! shards' exchange ([`DominantClaim`], published with the talker claims):
//!
//! 1. at a decision point each shard scores its members, and the shard that runs the
//!    dominant speaker's leg publishes that speaker's scores (`held`);
//! 2. in the next cycle each shard publishes its best challenger against those scores
//!    (or, with nobody dominant, its most active member), and the first shard chooses
//!    among them by the one rule a one-worker room uses over all its members
//!    ([`challenger`]), so it chooses the speaker that room would have chosen, one cycle
//!    later.
//!
//! The first shard decides and reports the change; the others follow the choice it
//! publishes. A dominant speaker whose leg leaves is reported gone by its shard (`gone`)
//! until the first shard has taken note. When a shard's claim does not come in time for
//! either cycle (a late partner), the choice waits for the next decision point: it is
//! delayed, never another speaker's.

use super::dominant::{challenger, DominantSpeaker, Scores};
use super::events::MixerEventKind;

/// A shard's part in a spread room's dominant-speaker choice, published with its talker
/// claims every cycle ([`TalkerSelection::dominant_claim`](super::TalkerSelection::dominant_claim)).
///
/// ```
/// use rvoip_media_nodes::mixer::DominantClaim;
/// let quiet = DominantClaim::default();
/// assert_eq!((quiet.dominant, quiet.candidate), (None, None));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DominantClaim {
    /// The room's dominant speaker as the shard knows it (the first shard's decides).
    pub dominant: Option<u32>,
    /// That speaker's immediate, medium and long scores at the last decision point, when
    /// the shard runs its leg.
    pub held: Option<[f64; 3]>,
    /// The shard's member that left while it was the dominant speaker (until the first
    /// shard has taken note).
    pub gone: Option<u32>,
    /// In the cycle after a decision point: the shard's challenger, port and scores.
    pub candidate: Option<(u32, [f64; 3])>,
}

/// A shard's state in the room's choice (beside its [`DominantSpeaker`], which holds its
/// members' histories and, on every shard, the room's dominant speaker).
#[derive(Clone, Debug, Default)]
pub(crate) struct ShardDominant {
    /// The dominant speaker's scores at the last decision point, from its shard's claim.
    seen: Option<Scores>,
    /// A member that left while dominant, until the first shard's choice no longer names it.
    gone: Option<usize>,
    /// This cycle is a decision point; it follows one.
    deciding: bool,
    choosing: bool,
    /// Not the first shard: follows the choice the first shard publishes.
    follows: bool,
}

impl ShardDominant {
    /// This cycle's claim of a shard running the members at `own` (`holds(p)`: port `p`
    /// is one of them); `deciding`: a decision point (its members were just scored),
    /// `choosing`: the cycle after one.
    pub(crate) fn claim(
        &mut self,
        d: &DominantSpeaker,
        own: &[usize],
        holds: impl Fn(usize) -> bool,
        deciding: bool,
        choosing: bool,
    ) -> DominantClaim {
        (self.deciding, self.choosing) = (deciding, choosing);
        let dominant = d.dominant();
        let candidate = match (choosing, dominant, self.seen) {
            (false, ..) | (true, Some(_), None) => None,
            (true, None, _) => d.best(own, None),
            (true, Some(p), Some(ds)) => d.best(own, Some((p, ds))),
        };
        DominantClaim {
            dominant: dominant.map(|p| p as u32),
            held: dominant.filter(|&p| holds(p)).map(|p| d.scores(p)),
            gone: self.gone.map(|p| p as u32),
            candidate: candidate.map(|(p, s)| (p as u32, s)),
        }
    }

    /// After the exchange, `claims[k]` shard `k`'s claim of this cycle (`None`: it did not
    /// come in time). The first shard (`decides`) notes a dominant speaker gone and, in
    /// the cycle after a decision point, chooses; returns the change. Every other shard
    /// takes the first shard's choice as published (no event).
    pub(crate) fn settle(
        &mut self,
        d: &mut DominantSpeaker,
        claims: &[Option<DominantClaim>],
        decides: bool,
    ) -> Option<MixerEventKind> {
        self.follows = !decides;
        let dominant = d.dominant();
        let named = dominant.map(|p| p as u32);
        if self.deciding {
            // The owner's claim names the dominant speaker as this shard knows it.
            self.seen = claims.iter().flatten().find_map(|c| c.held.filter(|_| c.dominant == named));
        }
        if !decides {
            let first = claims.first().copied().flatten()?;
            if first.dominant != self.gone.map(|p| p as u32) {
                self.gone = None;
            }
            d.adopt(first.dominant.map(|p| p as usize));
            return None;
        }
        if named.is_some() && claims.iter().flatten().any(|c| c.gone == named) {
            return d.set(None);
        }
        if !self.choosing || claims.iter().any(Option::is_none) {
            // Not a cycle to choose, or a shard's challenger is missing: the choice waits
            // for the next decision point rather than miss the speaker one room would take.
            return None;
        }
        let held = match (dominant, self.seen) {
            (None, _) => None,
            (Some(p), Some(ds)) => Some((p, ds)),
            // The owner's claim did not come: no challenger was tested; keep the floor.
            (Some(_), None) => return None,
        };
        let candidates = claims.iter().flatten().filter_map(|c| c.candidate).map(|(p, s)| (p as usize, s));
        let new = challenger(candidates, held).map(|(p, _)| p).or(dominant);
        d.set(new)
    }

    /// Member `p` of this shard left: its history is forgotten in `d`; on the first shard
    /// returns the change if it was dominant, on another reports it gone.
    pub(crate) fn forget(&mut self, d: &mut DominantSpeaker, p: usize) -> Option<MixerEventKind> {
        let was = d.forget(p);
        if self.follows {
            if was.is_some() {
                self.gone = Some(p);
            }
            return None;
        }
        was
    }
}

#[cfg(test)]
mod tests {
    use crate::mixer::{MemberSettings, MixerEventKind, TalkerPolicy, TalkerSelection};
    use rvoip_media_graph::Quantum;

    const PORTS: usize = 9;
    const SHARDS: usize = 3;

    /// A scripted room: turns of 3 s among five speakers (with a syllable rhythm and an
    /// overlap into the next turn), a cough on port 5 every 10 s, quiet noise elsewhere.
    fn amplitude(p: usize, c: u64) -> f32 {
        let speakers = [1, 4, 8, 2, 6];
        let turn = (c / 300) as usize;
        let syllable = if (c / 7) % 3 == 2 { 0.01 } else { 0.2 };
        let overlap = c % 300 < 50 && turn > 0 && speakers[(turn - 1) % 5] == p;
        if speakers[turn % 5] == p || overlap {
            syllable
        } else if p == 5 && c % 1000 < 15 {
            0.5
        } else {
            0.001 * (1 + (p as u64 * 7 + c * 13) % 3) as f32
        }
    }

    /// Events with the cycle they came in.
    type Told = Vec<(u64, MixerEventKind)>;

    /// The script on one selection and on three shards (shard `k` blind to its partners'
    /// claims in cycle `c` when `blind(c, k)`): the events of each.
    fn run(blind: impl Fn(u64, usize) -> bool) -> (Told, Told) {
        let policy = TalkerPolicy::default();
        let new = || TalkerSelection::new(policy, PORTS, Quantum::MS_10, 80);
        let (mut one, mut shards) = (new(), [new(), new(), new()]);
        let s = MemberSettings::default();
        let mut members: Vec<usize> = (0..PORTS).collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for c in 1..=6_000u64 {
            if c == 4_000 {
                // The dominant speaker's leg leaves between cycles.
                let d = one.dominant().unwrap();
                assert_eq!(shards[0].dominant(), Some(d));
                members.retain(|&p| p != d);
                a.extend(one.forget(d).map(|e| (c, e)));
                b.extend(shards[d % SHARDS].forget(d).map(|e| (c, e)));
            }
            for &p in &members {
                let x = [amplitude(p, c); 80];
                one.observe(p, &x, false, &s);
                shards[p % SHARDS].observe(p, &x, false, &s);
            }
            a.extend(one.select(&members, |_| false, 80).map(|e| (c, e)));
            let claims: Vec<_> = (0..SHARDS)
                .map(|k| {
                    let own: Vec<usize> = members.iter().copied().filter(|p| p % SHARDS == k).collect();
                    Some(shards[k].dominant_claim(&own, |p| p % SHARDS == k && members.contains(&p), 80, c))
                })
                .collect();
            for (k, shard) in shards.iter_mut().enumerate() {
                let seen: Vec<_> =
                    claims.iter().enumerate().map(|(j, x)| x.filter(|_| !blind(c, k) || j == k)).collect();
                let e = shard.settle_dominant(&seen, k == 0);
                assert!(k == 0 || e.is_none(), "only the first shard reports");
                b.extend(e.map(|e| (c, e)));
            }
        }
        (a, b)
    }

    #[test]
    fn shards_choose_the_dominant_speaker_one_selection_chooses_a_cycle_later() {
        let (one, spread) = run(|_, _| false);
        // Every turn's speaker takes the floor; the leaver's departure is told too.
        assert!(one.len() >= 15, "{one:?}");
        assert!(one.contains(&(4_000, MixerEventKind::DominantSpeaker(None))), "{one:?}");
        assert_eq!(one.len(), spread.len(), "{one:?}\n{spread:?}");
        for (x, y) in one.iter().zip(&spread) {
            assert_eq!(x.1, y.1, "{one:?}\n{spread:?}");
            // A choice a cycle later (the challengers are tested in the next); a departure in
            // the same cycle.
            let lag = if x.1 == MixerEventKind::DominantSpeaker(None) { 0 } else { 1 };
            assert_eq!(y.0, x.0 + lag, "{x:?} / {y:?}");
        }
    }

    #[test]
    fn a_shard_blind_to_its_partners_for_a_cycle_delays_a_choice_by_one_decision_point_at_most() {
        let (one, _) = run(|_, _| false);
        // Every shard misses its partners' claims in the cycles around each of one
        // selection's choices (before the leave): at a decision point (no scores of the
        // dominant speaker: no challenger is tested) or the cycle after (the first shard
        // sees only its own challenger).
        for at in [0, 1] {
            let blind = |c: u64, _| c < 3_500 && one.iter().any(|&(x, _)| c == x + at);
            let (_, spread) = run(blind);
            let kinds = |v: &[(u64, MixerEventKind)]| v.iter().map(|x| x.1).collect::<Vec<_>>();
            assert_eq!(kinds(&spread), kinds(&one), "blind at +{at}");
            let mut delayed = 0;
            for (x, y) in one.iter().zip(&spread) {
                assert!(y.0 >= x.0 && y.0 <= x.0 + 31, "{x:?} / {y:?}");
                delayed += usize::from(y.0 > x.0 + 1);
            }
            assert!(delayed >= 5, "blind at +{at}: {delayed} choices delayed");
        }
    }
}
