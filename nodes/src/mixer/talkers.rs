//! Who is heard: the talking state of every member (its VAD flag or its level, with
//! hangover) and the loudest-N selection with hysteresis, as conference bridges do it
//! (FreeSWITCH's energy gate, Janus AudioBridge's talking detection, a "loudest N" mix).

use super::events::MixerEventKind;
use super::members::MemberSettings;

/// How a [`Mixer`](super::Mixer) chooses whom everyone hears. `Default` gives a level gate at
/// −50 dBFS, 300 ms hangover, the 3 loudest talkers with 6 dB hysteresis and 400 ms hold,
/// comfort noise at −70 dBFS and dominant-speaker tracking.
///
/// ```
/// use rvoip_media_nodes::mixer::TalkerPolicy;
/// let p = TalkerPolicy { max_talkers: 2, ..TalkerPolicy::default() };
/// assert_eq!((p.max_talkers, p.gate_dbfs), (2, -50.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TalkerPolicy {
    /// Heard at most: the N loudest talking members (0: every talking member).
    pub max_talkers: usize,
    /// A member without VAD talks while its quantum's RMS level is above this (dBFS).
    pub gate_dbfs: f32,
    /// Talking lasts this long after the last quantum above the gate (or flagged by the VAD).
    pub hangover_ms: u32,
    /// A talker not heard replaces the quietest heard one only when louder by this much
    /// (levels smoothed over about 100 ms) …
    pub hysteresis_db: f32,
    /// … and only once that one has been heard this long.
    pub hold_ms: u32,
    /// Comfort noise (RMS dBFS) for a listener who hears nobody; `None`: silence.
    pub comfort_noise_dbfs: Option<f32>,
    /// Track the dominant speaker (Volfin–Cohen) and report changes.
    pub dominant_speaker: bool,
}

impl Default for TalkerPolicy {
    fn default() -> Self {
        TalkerPolicy {
            max_talkers: 3,
            gate_dbfs: -50.0,
            hangover_ms: 300,
            hysteresis_db: 6.0,
            hold_ms: 400,
            comfort_noise_dbfs: Some(-70.0),
            dominant_speaker: true,
        }
    }
}

/// Per-port talking and selection state, sized to the mixer's capacity on the control side.
#[derive(Clone, Debug)]
pub(crate) struct Talkers {
    pub(crate) policy: TalkerPolicy,
    gate_ms: f32,
    hangover: u32,
    hold: u32,
    /// Smoothing of the mean square per quantum (≈ 100 ms).
    alpha: f32,
    smooth: Vec<f32>,
    hang: Vec<u32>,
    pub(crate) talking: Vec<bool>,
    pub(crate) heard: Vec<bool>,
    /// Cycles each heard port has been heard.
    heard_for: Vec<u32>,
    heard_list: Vec<usize>,
    talking_count: usize,
}

impl Talkers {
    pub(crate) fn new(policy: TalkerPolicy, capacity: usize, quantum_us: u32) -> Self {
        let cycles = |ms: u32| (u64::from(ms) * 1000).div_ceil(u64::from(quantum_us.max(1))) as u32;
        Talkers {
            gate_ms: 10f32.powf(policy.gate_dbfs / 10.0),
            hangover: cycles(policy.hangover_ms),
            hold: cycles(policy.hold_ms),
            alpha: (quantum_us as f32 / 100_000.0).min(1.0),
            smooth: vec![0.0; capacity],
            hang: vec![0; capacity],
            talking: vec![false; capacity],
            heard: vec![false; capacity],
            heard_for: vec![0; capacity],
            heard_list: Vec::with_capacity(capacity),
            talking_count: 0,
            policy,
        }
    }

    pub(crate) fn talking_count(&self) -> usize {
        self.talking_count
    }

    /// Takes over `old`'s state (a selection with fewer ports), for a room that grew.
    /// Real-time: copies into this one's buffers, which are larger.
    pub(crate) fn take_over(&mut self, old: &Talkers) {
        let n = old.smooth.len().min(self.smooth.len());
        self.smooth[..n].copy_from_slice(&old.smooth[..n]);
        self.hang[..n].copy_from_slice(&old.hang[..n]);
        self.talking[..n].copy_from_slice(&old.talking[..n]);
        self.heard[..n].copy_from_slice(&old.heard[..n]);
        self.heard_for[..n].copy_from_slice(&old.heard_for[..n]);
        self.heard_list.clear();
        self.heard_list.extend(old.heard_list.iter().copied().filter(|&p| p < n));
        self.talking_count = self.talking[..n].iter().filter(|&&t| t).count();
    }

    /// The ports heard this cycle, in the order they came into the mix.
    pub(crate) fn heard_list(&self) -> &[usize] {
        &self.heard_list
    }

    /// Port `p` left: not talking, not heard (no event: the room knows).
    pub(crate) fn forget(&mut self, p: usize) {
        if self.talking[p] {
            self.talking_count -= 1;
        }
        self.talking[p] = false;
        self.hang[p] = 0;
        self.smooth[p] = 0.0;
        self.set_heard(p, false);
    }

    fn set_heard(&mut self, p: usize, on: bool) {
        if self.heard[p] == on {
            return;
        }
        self.heard[p] = on;
        self.heard_for[p] = 0;
        if on {
            self.heard_list.push(p);
        } else if let Some(i) = self.heard_list.iter().position(|&q| q == p) {
            self.heard_list.swap_remove(i);
        }
    }

    /// One quantum of port `p`: its mean square and VAD flag. Returns a talking change.
    pub(crate) fn observe(&mut self, p: usize, ms: f32, vad: bool, s: &MemberSettings) -> Option<MixerEventKind> {
        let ms = if ms.is_finite() { ms } else { 0.0 };
        self.smooth[p] += self.alpha * (ms - self.smooth[p]);
        let detected = if s.vad { vad } else { ms > self.gate_ms };
        if detected {
            self.hang[p] = self.hangover.max(1);
        } else {
            self.hang[p] = self.hang[p].saturating_sub(1);
        }
        let now = self.hang[p] > 0;
        if now == self.talking[p] {
            return None;
        }
        self.talking[p] = now;
        if now {
            self.talking_count += 1;
            Some(MixerEventKind::TalkingStarted(p))
        } else {
            self.talking_count -= 1;
            Some(MixerEventKind::TalkingStopped(p))
        }
    }

    /// Chooses whom everybody hears this cycle among `members` (those `muted` says never).
    pub(crate) fn select(&mut self, members: &[usize], muted: impl Fn(usize) -> bool) {
        let eligible = |t: &Talkers, p: usize| t.talking[p] && !muted(p);
        // Heard ports that stopped talking (or were muted) leave the mix.
        let mut i = 0;
        while i < self.heard_list.len() {
            let p = self.heard_list[i];
            if eligible(self, p) {
                self.heard_for[p] = self.heard_for[p].saturating_add(1);
                i += 1;
            } else {
                self.set_heard(p, false);
            }
        }
        if self.talking_count == 0 {
            return;
        }
        let n = if self.policy.max_talkers == 0 { usize::MAX } else { self.policy.max_talkers };
        // Free places go to the loudest talkers not yet heard.
        while self.heard_list.len() < n {
            let Some(c) = self.loudest_unheard(members, &muted) else { return };
            self.set_heard(c, true);
        }
        // Full: the loudest unheard replaces the quietest held-long-enough heard one when
        // louder by the hysteresis.
        let Some(c) = self.loudest_unheard(members, &muted) else { return };
        let Some(q) = self.replaceable() else { return };
        if self.beats(self.smooth[c], q) {
            self.set_heard(q, false);
            self.set_heard(c, true);
        }
    }

    /// The quietest heard port that has been heard long enough to be replaced.
    fn replaceable(&self) -> Option<usize> {
        self.heard_list
            .iter()
            .copied()
            .filter(|&p| self.heard_for[p] >= self.hold)
            .min_by(|&a, &b| self.smooth[a].total_cmp(&self.smooth[b]))
    }

    /// Whether a talker at `level` replaces heard port `q`: louder by the hysteresis.
    fn beats(&self, level: f32, q: usize) -> bool {
        level > self.smooth[q] * 10f32.powf(self.policy.hysteresis_db / 10.0)
    }

    fn loudest_unheard(&self, members: &[usize], muted: impl Fn(usize) -> bool) -> Option<usize> {
        let mut best: Option<usize> = None;
        for &p in members {
            if self.talking[p] && !self.heard[p] && !muted(p) && best.map_or(true, |b| self.smooth[p] > self.smooth[b])
            {
                best = Some(p);
            }
        }
        best
    }
}

/// What a shard of a room spread over several workers tells the others, each cycle, of one
/// of its members that may be heard: a member the room heard last cycle (in its shard's
/// view) or one of the shard's loudest talkers not heard. Every shard chooses the room's
/// heard members from all shards' claims alike ([`TalkerSelection::select_claims`](super::TalkerSelection::select_claims)).
///
/// ```
/// use rvoip_media_nodes::mixer::Claim;
/// let c = Claim { port: 3, eligible: true, heard: false, smooth: 1e-3, heard_for: 0 };
/// assert!(c.eligible && !c.heard);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Claim {
    /// The member's mixer port.
    pub port: u32,
    /// Talking and not muted: it may be heard.
    pub eligible: bool,
    /// The room heard it last cycle.
    pub heard: bool,
    /// Its smoothed level (mean square, about 100 ms).
    pub smooth: f32,
    /// Cycles it has been heard.
    pub heard_for: u32,
}

impl Talkers {
    /// The claims of the members at `own` (their ports; `muted(p)` says who may not be
    /// heard) into `out`: first each one heard, then the policy's `max_talkers` loudest
    /// talkers not heard. Returns how many were written (at most `out.len()`).
    pub(crate) fn claims(&self, own: &[usize], muted: impl Fn(usize) -> bool, out: &mut [Claim]) -> usize {
        let claim = |t: &Talkers, p: usize| Claim {
            port: p as u32,
            eligible: t.talking[p] && !muted(p),
            heard: t.heard[p],
            smooth: t.smooth[p],
            heard_for: t.heard_for[p],
        };
        let mut k = 0;
        for &p in own.iter().filter(|&&p| self.heard[p]) {
            if k == out.len() {
                return k;
            }
            out[k] = claim(self, p);
            k += 1;
        }
        // The loudest unheard talkers, kept in `out[k..k + m]` loudest first.
        let cap = self.policy.max_talkers.max(1).min(out.len() - k);
        let (mut m, top) = (0, &mut out[k..]);
        for &p in own {
            if self.heard[p] || !self.talking[p] || muted(p) {
                continue;
            }
            let level = self.smooth[p];
            let at = top[..m].iter().position(|c| level > c.smooth).unwrap_or(m);
            if at == cap {
                continue;
            }
            m = (m + 1).min(cap);
            top.copy_within(at..m - 1, at + 1);
            top[at] = claim(self, p);
        }
        k + m
    }

    /// The room's heard members this cycle, from every shard's `claims` (sorted here by
    /// port): those heard that may still be, then free places to the loudest talkers not
    /// heard, then the loudest of those replaces the quietest heard one held long enough
    /// when louder by the hysteresis — [`Talkers::select`]'s choice, from the claims'
    /// levels. The heard state is rebuilt from the claims each cycle: a shard that missed a
    /// partner's claims for a cycle agrees with the others again the next.
    pub(crate) fn select_claims(&mut self, claims: &mut [Claim]) {
        claims.sort_unstable_by_key(|c| c.port);
        for i in 0..self.heard_list.len() {
            let p = self.heard_list[i];
            self.heard[p] = false;
            self.heard_for[p] = 0;
        }
        self.heard_list.clear();
        let n = if self.policy.max_talkers == 0 { usize::MAX } else { self.policy.max_talkers };
        let ports = self.heard.len();
        for c in claims.iter().filter(|c| c.heard && c.eligible && (c.port as usize) < ports) {
            let p = c.port as usize;
            self.heard[p] = true;
            self.heard_for[p] = c.heard_for.saturating_add(1);
            self.smooth[p] = c.smooth;
            self.heard_list.push(p);
        }
        if self.heard_list.len() > n {
            // Shards disagreed (one missed a partner's claims): the longest heard stay.
            let (heard_for, smooth) = (&self.heard_for, &self.smooth);
            self.heard_list.sort_unstable_by(|&a, &b| {
                heard_for[b].cmp(&heard_for[a]).then(smooth[b].total_cmp(&smooth[a])).then(a.cmp(&b))
            });
            for i in n..self.heard_list.len() {
                let p = self.heard_list[i];
                self.heard[p] = false;
                self.heard_for[p] = 0;
            }
            self.heard_list.truncate(n);
        }
        let loudest = |t: &Talkers| {
            let mut best: Option<&Claim> = None;
            for c in
                claims.iter().filter(|c| c.eligible && (c.port as usize) < t.heard.len() && !t.heard[c.port as usize])
            {
                if best.map_or(true, |b| c.smooth > b.smooth) {
                    best = Some(c);
                }
            }
            best.copied()
        };
        while self.heard_list.len() < n {
            let Some(c) = loudest(self) else { return };
            self.smooth[c.port as usize] = c.smooth;
            self.set_heard(c.port as usize, true);
        }
        let Some(c) = loudest(self) else { return };
        let Some(q) = self.replaceable() else { return };
        if self.beats(c.smooth, q) {
            self.set_heard(q, false);
            self.smooth[c.port as usize] = c.smooth;
            self.set_heard(c.port as usize, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(x: f32) -> f32 {
        10f32.powf(x / 10.0)
    }

    /// Three talkers, two places: the two loudest are heard; a third who is only slightly
    /// louder does not displace them (hysteresis); one clearly louder does, after the hold.
    #[test]
    fn loudest_n_with_hysteresis() {
        let policy = TalkerPolicy { max_talkers: 2, hold_ms: 100, ..TalkerPolicy::default() };
        let s = [MemberSettings::default(); 4];
        let mut t = Talkers::new(policy, 4, 10_000);
        let members = [0, 1, 2, 3];
        let step = |t: &mut Talkers, levels: [f32; 4]| {
            for p in 0..4 {
                t.observe(p, db(levels[p]), false, &s[p]);
            }
            t.select(&members, |p| s[p].muted);
            let mut h: Vec<usize> = t.heard_list.clone();
            h.sort();
            h
        };
        let mut h = Vec::new();
        for _ in 0..50 {
            h = step(&mut t, [-20.0, -25.0, -90.0, -90.0]);
        }
        assert_eq!(h, vec![0, 1]);
        // Port 2 at -23 dB: 2 dB above port 1, inside the 6 dB hysteresis: no change, ever.
        let mut flips = 0;
        let mut last = h.clone();
        for k in 0..200 {
            // Levels wobble by ±3 dB around their means, as speech does.
            let w = if k % 2 == 0 { 3.0 } else { -3.0 };
            h = step(&mut t, [-20.0 + w, -25.0 - w, -23.0 + w, -90.0]);
            flips += usize::from(h != last);
            last = h.clone();
        }
        assert_eq!((flips, h.clone()), (0, vec![0, 1]));
        // Port 2 at -10 dB: 15 dB above port 1: replaces it (the quietest) within 200 ms.
        let mut when = None;
        for k in 0..50 {
            h = step(&mut t, [-20.0, -25.0, -10.0, -90.0]);
            if h == vec![0, 2] && when.is_none() {
                when = Some(k);
            }
        }
        assert_eq!(h, vec![0, 2]);
        assert!(when.unwrap() < 20, "{when:?}");
        // Talkers that stop leave after the hangover (300 ms = 30 quanta), not before.
        for k in 0..40 {
            h = step(&mut t, [-20.0, -90.0, -90.0, -90.0]);
            if k == 25 {
                assert_eq!(h, vec![0, 2]);
            }
        }
        assert_eq!(h, vec![0]);
        assert_eq!(t.talking_count(), 1);
    }

    /// Level (mean square) of port `p` in cycle `c` of a script: talk spurts of 0.5-2 s
    /// starting at random, each at its own level, and silence between.
    fn scripted(levels: &mut [(u32, f32)], rng: &mut u64) {
        for l in levels.iter_mut() {
            if l.0 == 0 {
                *rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = (*rng >> 33) as u32;
                if r % 40 == 0 {
                    // A spurt of 50-200 cycles at -40..-10 dB, or a silence of as long.
                    let talk = r % 3 != 0;
                    l.0 = 50 + (r >> 8) % 150;
                    l.1 = if talk { db(-40.0 + ((r >> 16) % 30) as f32) } else { 0.0 };
                }
            } else {
                l.0 -= 1;
                if l.0 == 0 {
                    l.1 = 0.0;
                }
            }
        }
    }

    #[test]
    fn shards_choosing_from_claims_hear_whom_one_selection_hears() {
        // 12 ports, the odd ones muted now and then; one selection over all of them against
        // three shards (ports p % 3) that observe their own and choose from the claims.
        let policy = TalkerPolicy { max_talkers: 3, hold_ms: 200, ..TalkerPolicy::default() };
        let ports: Vec<usize> = (0..12).collect();
        let mut one = Talkers::new(policy, 12, 10_000);
        let mut shards: Vec<Talkers> = (0..3).map(|_| Talkers::new(policy, 12, 10_000)).collect();
        let own: Vec<Vec<usize>> = (0..3).map(|k| ports.iter().copied().filter(|p| p % 3 == k).collect()).collect();
        let mut levels = vec![(0u32, 0.0f32); 12];
        let (mut rng, mut changes) = (7u64, 0);
        let mut last = Vec::new();
        for c in 0..6000u32 {
            scripted(&mut levels, &mut rng);
            let muted = |p: usize| p % 2 == 1 && (c / 700) % 2 == 1;
            let s = MemberSettings::default();
            for p in 0..12 {
                one.observe(p, levels[p].1, false, &s);
                shards[p % 3].observe(p, levels[p].1, false, &s);
            }
            one.select(&ports, muted);
            let mut claims = [Claim::default(); 18];
            let mut n = 0;
            for (t, own) in shards.iter().zip(&own) {
                n += t.claims(own, muted, &mut claims[n..]);
            }
            let mut want = one.heard_list.clone();
            want.sort_unstable();
            for t in shards.iter_mut() {
                t.select_claims(&mut claims[..n]);
                let mut got = t.heard_list.clone();
                got.sort_unstable();
                assert_eq!(got, want, "cycle {c}");
            }
            changes += usize::from(want != last);
            last = want;
        }
        assert!(changes > 100, "the script changed whom the room hears {changes} times");
    }

    #[test]
    fn a_shard_that_missed_a_partners_claims_agrees_again_the_next_cycle() {
        let policy = TalkerPolicy { max_talkers: 1, ..TalkerPolicy::default() };
        let s = MemberSettings::default();
        let mut shards: Vec<Talkers> = (0..2).map(|_| Talkers::new(policy, 2, 10_000)).collect();
        // Port 0 (shard 0) talks first and is heard by both.
        let round = |shards: &mut Vec<Talkers>, levels: [f32; 2], blind: bool| {
            shards[0].observe(0, levels[0], false, &s);
            shards[1].observe(1, levels[1], false, &s);
            let mut claims = [Claim::default(); 4];
            let a = shards[0].claims(&[0], |_| false, &mut claims);
            let b = shards[1].claims(&[1], |_| false, &mut claims[a..]);
            // Shard 1 may miss shard 0's claims (a late partner).
            let mut theirs: Vec<Claim> = claims[if blind { a } else { 0 }..a + b].to_vec();
            shards[0].select_claims(&mut claims[..a + b]);
            shards[1].select_claims(&mut theirs);
            (shards[0].heard_list.clone(), shards[1].heard_list.clone())
        };
        for _ in 0..20 {
            round(&mut shards, [db(-20.0), 0.0], false);
        }
        for _ in 0..20 {
            assert_eq!(round(&mut shards, [db(-20.0), db(-30.0)], false), (vec![0], vec![0]));
        }
        // Blind for one cycle, shard 1 hears its own port 1; the cycle after, both hear port 0.
        assert_eq!(round(&mut shards, [db(-20.0), db(-30.0)], true), (vec![0], vec![1]));
        assert_eq!(round(&mut shards, [db(-20.0), db(-30.0)], false), (vec![0], vec![0]));
    }

    #[test]
    fn vad_flag_gates_and_muted_members_are_never_heard() {
        let mut s = [MemberSettings::default(); 2];
        s[0].vad = true;
        s[1].muted = true;
        let mut t = Talkers::new(TalkerPolicy::default(), 2, 10_000);
        // Loud but the VAD says noise: not talking.
        assert_eq!(t.observe(0, db(-10.0), false, &s[0]), None);
        assert_eq!(t.observe(0, db(-60.0), true, &s[0]), Some(MixerEventKind::TalkingStarted(0)));
        assert_eq!(t.observe(1, db(-10.0), false, &s[1]), Some(MixerEventKind::TalkingStarted(1)));
        t.select(&[0, 1], |p| s[p].muted);
        assert_eq!(t.heard_list, vec![0]);
    }
}
