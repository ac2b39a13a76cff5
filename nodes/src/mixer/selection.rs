//! [`TalkerSelection`]: whom a room hears, for any mixer that holds its members' quanta —
//! the graph's [`Mixer`](super::Mixer) and a room kernel that runs every leg in one node.
//! It joins the talking states and the loudest-N choice (`talkers.rs`), the dominant
//! speaker (`dominant.rs`) and comfort noise (`comfort.rs`) behind one real-time API.

use super::comfort::ComfortNoise;
use super::dominant::{DominantSpeaker, DECISION_FRAMES};
use super::dominant_shards::{DominantClaim, ShardDominant};
use super::events::MixerEventKind;
use super::members::MemberSettings;
use super::talkers::{Claim, TalkerPolicy, Talkers};
use crate::level::{audio_level, mean_square};
use rvoip_media_graph::Quantum;

/// The talker policy's state for a room of `capacity` ports: every cycle the mixer
/// [observes](TalkerSelection::observe) each member's quantum, then
/// [selects](TalkerSelection::select) whom everyone hears; heard members hear the others,
/// every other listener hears the heard ones' mix, or
/// [comfort noise](TalkerSelection::comfort_noise) when nobody is heard. Allocates only in
/// [`TalkerSelection::new`]; every other method is real-time.
///
/// ```
/// use rvoip_media_graph::Quantum;
/// use rvoip_media_nodes::mixer::{MemberSettings, MixerEventKind, TalkerPolicy, TalkerSelection};
///
/// let policy = TalkerPolicy { max_talkers: 1, ..TalkerPolicy::default() };
/// let mut sel = TalkerSelection::new(policy, 3, Quantum::MS_10, 80);
/// let s = MemberSettings::default();
/// let (loud, soft, quiet) = ([0.1f32; 80], [0.01f32; 80], [0.0f32; 80]);
/// assert_eq!(sel.observe(0, &loud, false, &s), Some(MixerEventKind::TalkingStarted(0)));
/// assert_eq!(sel.observe(1, &soft, false, &s), Some(MixerEventKind::TalkingStarted(1)));
/// assert_eq!(sel.observe(2, &quiet, false, &s), None);
/// sel.select(&[0, 1, 2], |_| false, 80);
/// assert_eq!(sel.heard(), &[0]); // the loudest of two talkers, one place
/// assert!(sel.is_heard(0) && !sel.is_heard(1));
/// assert_eq!(sel.talking_count(), 2);
/// assert!(sel.comfort_noise(80, 1).is_some()); // the one heard talker hears comfort noise
/// assert!(sel.comfort_noise(80, 2).is_none());
/// ```
#[derive(Debug)]
pub struct TalkerSelection {
    talkers: Talkers,
    dominant: Option<DominantSpeaker>,
    /// A shard's part in a spread room's dominant-speaker choice.
    shards: ShardDominant,
    comfort: Option<ComfortNoise>,
    /// Comfort noise of this cycle (filled when someone needs it).
    noise: Vec<f32>,
    /// Per port: energy summed over the current 20 ms level frame.
    frame_energy: Vec<f32>,
    frame_samples: usize,
    /// Quanta per 20 ms level frame, and how many of this frame have run.
    frame_quanta: u32,
    frame_pos: u32,
}

impl TalkerSelection {
    /// A selection by `policy` for ports `0..capacity` at `quantum`, whose quanta are at
    /// most `max_len` samples (control side: allocates).
    pub fn new(policy: TalkerPolicy, capacity: usize, quantum: Quantum, max_len: usize) -> Self {
        let quantum_us = quantum.micros();
        TalkerSelection {
            talkers: Talkers::new(policy, capacity, quantum_us),
            dominant: policy.dominant_speaker.then(|| DominantSpeaker::new(capacity)),
            shards: ShardDominant::default(),
            comfort: policy.comfort_noise_dbfs.map(ComfortNoise::new),
            noise: vec![0.0; max_len],
            frame_energy: vec![0.0; capacity],
            frame_samples: 0,
            frame_quanta: (20_000 / quantum_us.max(1)).max(1),
            frame_pos: 0,
        }
    }

    /// The policy it selects by.
    ///
    /// ```
    /// use rvoip_media_graph::Quantum;
    /// use rvoip_media_nodes::mixer::{TalkerPolicy, TalkerSelection};
    /// let sel = TalkerSelection::new(TalkerPolicy::default(), 2, Quantum::MS_10, 80);
    /// assert_eq!(sel.policy().max_talkers, 3);
    /// ```
    pub fn policy(&self) -> &TalkerPolicy {
        &self.talkers.policy
    }

    /// Ports it has state for.
    ///
    /// ```
    /// use rvoip_media_graph::Quantum;
    /// use rvoip_media_nodes::mixer::{TalkerPolicy, TalkerSelection};
    /// assert_eq!(TalkerSelection::new(TalkerPolicy::default(), 5, Quantum::MS_10, 80).capacity(), 5);
    /// ```
    pub fn capacity(&self) -> usize {
        self.frame_energy.len()
    }

    /// One quantum `x` of member `p` (`vad`: its VAD flag, used when `s.vad`). Returns its
    /// talking change, if any. Call it for every member before [`TalkerSelection::select`].
    pub fn observe(&mut self, p: usize, x: &[f32], vad: bool, s: &MemberSettings) -> Option<MixerEventKind> {
        if p >= self.capacity() {
            return None;
        }
        let ms = mean_square(x);
        if self.dominant.is_some() && ms.is_finite() {
            self.frame_energy[p] += ms * x.len() as f32;
        }
        self.talkers.observe(p, ms, vad, s)
    }

    /// Chooses whom everyone hears this cycle among `members` (ports; `muted(p)` says who
    /// may not be heard), after each one's quantum of `len` samples was observed. Every
    /// 20 ms the members' levels feed the dominant speaker; returns its change, if any.
    pub fn select(&mut self, members: &[usize], muted: impl Fn(usize) -> bool, len: usize) -> Option<MixerEventKind> {
        self.talkers.select(members, muted);
        self.dominant.as_ref()?;
        self.frame_samples += len;
        self.frame_pos += 1;
        if self.frame_pos < self.frame_quanta {
            return None;
        }
        self.frame_pos = 0;
        self.end_level_frame(members);
        self.dominant.as_mut()?.end_frame(members)
    }

    /// A 20 ms level frame ends: the RFC 6464 level of each of `members` over it goes to
    /// the dominant speaker, and the frame's sums start again.
    fn end_level_frame(&mut self, members: &[usize]) {
        let n = self.frame_samples.max(1) as f32;
        if let Some(d) = self.dominant.as_mut() {
            for &p in members {
                d.level(p, audio_level(self.frame_energy[p] / n));
                self.frame_energy[p] = 0.0;
            }
        }
        self.frame_samples = 0;
    }

    /// For one shard of a room spread over several workers, after each of its members at
    /// `own` was observed: their [`Claim`]s into `out` (each heard one, then the policy's
    /// `max_talkers` loudest talkers not heard; `muted(p)` says who may not be heard).
    /// Returns how many were written. The shard publishes them for the others; every shard
    /// then chooses alike ([`TalkerSelection::select_claims`]).
    ///
    /// ```
    /// use rvoip_media_graph::Quantum;
    /// use rvoip_media_nodes::mixer::{Claim, MemberSettings, TalkerPolicy, TalkerSelection};
    /// let policy = TalkerPolicy { max_talkers: 1, ..TalkerPolicy::default() };
    /// let s = MemberSettings::default();
    /// // Two shards of a 4-port room: ports 0 and 2 on one, 1 and 3 on the other.
    /// let (mut a, mut b) = (TalkerSelection::new(policy, 4, Quantum::MS_10, 80), TalkerSelection::new(policy, 4, Quantum::MS_10, 80));
    /// a.observe(0, &[0.01; 80], false, &s);
    /// a.observe(2, &[0.0; 80], false, &s);
    /// b.observe(1, &[0.1; 80], false, &s);
    /// b.observe(3, &[0.0; 80], false, &s);
    /// let mut claims = [Claim::default(); 4];
    /// let n = a.claims(&[0, 2], |_| false, &mut claims);
    /// let n = n + b.claims(&[1, 3], |_| false, &mut claims[n..]);
    /// assert_eq!(n, 2); // one talker each, neither heard yet
    /// a.select_claims(&mut claims[..n]);
    /// b.select_claims(&mut claims[..n]);
    /// assert_eq!((a.heard(), b.heard()), (&[1][..], &[1][..])); // the louder, on both
    /// ```
    pub fn claims(&self, own: &[usize], muted: impl Fn(usize) -> bool, out: &mut [Claim]) -> usize {
        self.talkers.claims(own, muted, out)
    }

    /// For one shard of a spread room: chooses whom the room hears this cycle from every
    /// shard's [`Claim`]s (sorted here by port), as [`TalkerSelection::select`] chooses
    /// from its members' levels (loudest N, hysteresis, hold). The claims carry the heard
    /// state, so shards that saw the same claims agree, and one that missed a partner's for
    /// a cycle agrees again the next. The dominant speaker is chosen apart
    /// ([`TalkerSelection::dominant_claim`]).
    pub fn select_claims(&mut self, claims: &mut [Claim]) {
        self.talkers.select_claims(claims);
    }

    /// For one shard of a spread room with the policy's `dominant_speaker`, each cycle
    /// after its members at `own` (`holds(p)`: port `p` is one of them) were observed, in
    /// quanta of `len` samples: at the room's 20 ms frame ends their levels feed the
    /// dominant speaker, at its 300 ms decision points they are scored (`cycle`: the room's
    /// cycle count, the same on every shard, from 1). Returns what the shard publishes for
    /// the room's choice ([`TalkerSelection::settle_dominant`]); nothing without the
    /// policy's `dominant_speaker`.
    ///
    /// ```
    /// use rvoip_media_graph::Quantum;
    /// use rvoip_media_nodes::mixer::{MemberSettings, MixerEventKind, TalkerPolicy, TalkerSelection};
    /// // Two shards of a 2-port room, one member each; port 1 talks with a syllable rhythm.
    /// let mut shards: Vec<TalkerSelection> =
    ///     (0..2).map(|_| TalkerSelection::new(TalkerPolicy::default(), 2, Quantum::MS_10, 80)).collect();
    /// let s = MemberSettings::default();
    /// let mut told = None;
    /// for cycle in 1..=32u64 {
    ///     let loud = if cycle % 10 < 7 { 0.3 } else { 0.001 };
    ///     shards[0].observe(0, &[0.0001; 80], false, &s);
    ///     shards[1].observe(1, &[loud; 80], false, &s);
    ///     let claims: Vec<_> =
    ///         (0..2).map(|k| Some(shards[k].dominant_claim(&[k], |p| p == k, 80, cycle))).collect();
    ///     for k in 0..2 {
    ///         if let Some(e) = shards[k].settle_dominant(&claims, k == 0) {
    ///             told = Some((cycle, k, e));
    ///         }
    ///     }
    /// }
    /// // The first decision point is cycle 30 (15 frames of 20 ms); the first shard
    /// // chooses in the cycle after it, and reports it.
    /// assert_eq!(told, Some((31, 0, MixerEventKind::DominantSpeaker(Some(1)))));
    /// assert_eq!((shards[0].dominant(), shards[1].dominant()), (Some(1), Some(1)));
    /// ```
    pub fn dominant_claim(
        &mut self,
        own: &[usize],
        holds: impl Fn(usize) -> bool,
        len: usize,
        cycle: u64,
    ) -> DominantClaim {
        let frame = u64::from(self.frame_quanta);
        let decision = |c: u64| c > 0 && c % frame == 0 && (c / frame) % u64::from(DECISION_FRAMES) == 0;
        self.frame_samples += len;
        if cycle % frame == 0 {
            self.end_level_frame(own);
        }
        let Some(d) = self.dominant.as_mut() else { return DominantClaim::default() };
        let deciding = decision(cycle);
        if deciding {
            d.evaluate(own);
        }
        self.shards.claim(d, own, holds, deciding, decision(cycle.wrapping_sub(1)))
    }

    /// For one shard of a spread room, after the exchange: `claims[k]` is shard `k`'s
    /// [`DominantClaim`] of this cycle (`None`: it did not come in time). The first shard
    /// (`decides`) chooses the room's dominant speaker in the cycle after a decision point,
    /// from every shard's challenger by the rule [`TalkerSelection::select`] applies to all
    /// members, and returns the change (also when the dominant speaker's leg left); every
    /// other shard follows the choice the first publishes (and returns nothing).
    ///
    /// ```
    /// use rvoip_media_graph::Quantum;
    /// use rvoip_media_nodes::mixer::{DominantClaim, TalkerPolicy, TalkerSelection};
    /// let mut follower = TalkerSelection::new(TalkerPolicy::default(), 4, Quantum::MS_10, 80);
    /// // The first shard's claim names port 2: the follower takes it, and reports nothing.
    /// let first = DominantClaim { dominant: Some(2), ..DominantClaim::default() };
    /// assert_eq!(follower.settle_dominant(&[Some(first), None], false), None);
    /// assert_eq!(follower.dominant(), Some(2));
    /// // A cycle without the first shard's claim changes nothing.
    /// assert_eq!(follower.settle_dominant(&[None, None], false), None);
    /// assert_eq!(follower.dominant(), Some(2));
    /// ```
    pub fn settle_dominant(&mut self, claims: &[Option<DominantClaim>], decides: bool) -> Option<MixerEventKind> {
        let d = self.dominant.as_mut()?;
        self.shards.settle(d, claims, decides)
    }

    /// True when port `p` is in this cycle's mix.
    pub fn is_heard(&self, p: usize) -> bool {
        self.talkers.heard.get(p).copied().unwrap_or(false)
    }

    /// The ports in this cycle's mix (at most the policy's `max_talkers`, in the order they
    /// came into it).
    pub fn heard(&self) -> &[usize] {
        self.talkers.heard_list()
    }

    /// Members talking now (heard or not).
    pub fn talking_count(&self) -> usize {
        self.talkers.talking_count()
    }

    /// The dominant speaker's port (with the policy's `dominant_speaker`).
    ///
    /// ```
    /// use rvoip_media_graph::Quantum;
    /// use rvoip_media_nodes::mixer::{TalkerPolicy, TalkerSelection};
    /// let sel = TalkerSelection::new(TalkerPolicy::default(), 2, Quantum::MS_10, 80);
    /// assert_eq!(sel.dominant(), None);
    /// ```
    pub fn dominant(&self) -> Option<usize> {
        self.dominant.as_ref().and_then(DominantSpeaker::dominant)
    }

    /// Port `p` left: its state is forgotten; returns the dominant speaker's change if it
    /// was that speaker (no talking event: the room knows who left).
    pub fn forget(&mut self, p: usize) -> Option<MixerEventKind> {
        if p >= self.capacity() {
            return None;
        }
        self.talkers.forget(p);
        self.frame_energy[p] = 0.0;
        let d = self.dominant.as_mut()?;
        self.shards.forget(d, p)
    }

    /// This cycle's comfort noise (`len` samples, at most the `max_len` given to
    /// [`TalkerSelection::new`]) when `heard` members are in the mix and that is at most
    /// one (nobody: every listener hears it; one: that talker does) and the policy has comfort
    /// noise. Call it once a cycle: each call draws new noise.
    pub fn comfort_noise(&mut self, len: usize, heard: usize) -> Option<&[f32]> {
        let cn = self.comfort.as_mut().filter(|_| heard <= 1 && len <= self.noise.len())?;
        cn.fill(&mut self.noise[..len]);
        Some(&self.noise[..len])
    }

    /// Takes over `old`'s state, for a room that grew from `old`'s ports to this one's
    /// (ports past this one's capacity are dropped). Real-time: copies into this one's
    /// buffers.
    ///
    /// ```
    /// use rvoip_media_graph::Quantum;
    /// use rvoip_media_nodes::mixer::{MemberSettings, TalkerPolicy, TalkerSelection};
    /// let mut small = TalkerSelection::new(TalkerPolicy::default(), 2, Quantum::MS_10, 80);
    /// small.observe(1, &[0.1; 80], false, &MemberSettings::default());
    /// small.select(&[1], |_| false, 80);
    /// let mut big = TalkerSelection::new(TalkerPolicy::default(), 4, Quantum::MS_10, 80);
    /// big.take_over(&small);
    /// assert_eq!((big.heard(), big.talking_count()), (&[1][..], 1));
    /// ```
    pub fn take_over(&mut self, old: &TalkerSelection) {
        self.talkers.take_over(&old.talkers);
        if let (Some(d), Some(o)) = (self.dominant.as_mut(), old.dominant.as_ref()) {
            d.take_over(o);
        }
        self.shards.clone_from(&old.shards);
        if let (Some(c), Some(o)) = (self.comfort.as_mut(), old.comfort.as_ref()) {
            c.clone_from(o);
        }
        let n = old.frame_energy.len().min(self.frame_energy.len());
        self.frame_energy[..n].copy_from_slice(&old.frame_energy[..n]);
        self.frame_samples = old.frame_samples;
        self.frame_pos = old.frame_pos;
    }
}
