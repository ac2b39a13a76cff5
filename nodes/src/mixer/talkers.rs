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
        let hold = self.hold;
        let Some(&q) = self
            .heard_list
            .iter()
            .filter(|&&p| self.heard_for[p] >= hold)
            .min_by(|&&a, &&b| self.smooth[a].total_cmp(&self.smooth[b]))
        else {
            return;
        };
        let margin = 10f32.powf(self.policy.hysteresis_db / 10.0);
        if self.smooth[c] > self.smooth[q] * margin {
            self.set_heard(q, false);
            self.set_heard(c, true);
        }
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
