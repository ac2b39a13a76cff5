//! The N-1 [`Mixer`]: membership by message, per-member settings, and (with a
//! [`TalkerPolicy`]) talker selection, dominant speaker, comfort noise and the shared mix.

use super::events::{EventOut, EventSender};
use super::members::{MemberSettings, MemberUpdate};
use super::selection::TalkerSelection;
use super::talkers::TalkerPolicy;
use super::Hear;
use crate::kernels;
use crate::level::{audio_level, mean_square};
use crate::ports::{hear_name, input_name, output_name, vad_name};
use rvoip_media_graph::{AudioFormat, MessageError, NodeSpec, PortKind, PortSpec, ProcessIo, Processor, Quantum};
use std::any::Any;

/// Scratch length: 20 ms (the longest quantum) at `format`, at least 64 samples. Longer
/// quanta would still work: the mixer processes in chunks of the scratch length.
fn scratch_len(format: AudioFormat) -> usize {
    (format.rate as usize * usize::from(format.channels.max(1)) / 50).max(64)
}

/// A change of a [`Mixer`]'s membership, sent as a message (see
/// [`rvoip_media_graph::Processor::message`]). Applied at a cycle boundary without
/// touching any other member's buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixerMembership {
    /// Port `i` joins: from this cycle its input is in the mix and its output carries
    /// everyone else. Joining twice is a no-op.
    Join(usize),
    /// Port `i` leaves: its input is ignored and its output is silent. Leaving a port that
    /// is not a member is a no-op.
    Leave(usize),
}

/// A conference mixer with a fixed number of ports of which any subset are *members*:
/// output `i` of a member is the sum of every other member's input (N-1); a non-member's
/// input is ignored and its output is silent.
///
/// Membership changes by message ([`MixerMembership`]), so participants join and leave a
/// running room without touching anyone else's state: the ports exist from the start (the
/// capacity), and an edit connects a new leg to a free port and sends `Join` in the same
/// cycle. [`Mixer::new`] makes every port a member (a fixed room).
///
/// Ports: inputs `"in0"`..`"in{N-1}"`, outputs `"out0"`..`"out{N-1}"` (N = capacity), all
/// of the format given at construction. Inputs are optional (an unconnected one is
/// silent). Members are mixed in port order, so two mixers with the same members give
/// bit-identical output. See the [module docs](crate::mixer) for the algorithm and the handling of
/// bad input.
///
/// Telemetry: `members`, `bad_inputs` (member inputs left out for NaN/Inf/huge samples);
/// with a policy also `talking`, `heard` (members in the mix), `dominant` (its port, −1 for
/// none) and `events_dropped`.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Processor, Quantum};
/// use rvoip_media_nodes::mixer::{Mixer, MixerMembership};
///
/// let mut h = NodeHarness::new(Box::new(Mixer::with_capacity(4, AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
/// for (i, v) in [0.125f32, 0.25, 0.5, 0.75].into_iter().enumerate() {
///     h.audio_in_mut(i).fill(v);
/// }
/// h.processor_mut().message(&mut MixerMembership::Join(0)).unwrap();
/// h.processor_mut().message(&mut MixerMembership::Join(2)).unwrap();
/// h.run();
/// assert_eq!(h.audio_out(0)[0], 0.5); // 0 hears 2
/// assert_eq!(h.audio_out(2)[0], 0.125); // 2 hears 0
/// assert_eq!(h.audio_out(1)[0], 0.0); // not a member: silent, and its 0.25 is not mixed
/// ```
#[derive(Debug)]
pub struct Mixer {
    format: AudioFormat,
    total: Vec<f32>,
    /// Per port: whether the member's input was usable this cycle.
    valid: Vec<bool>,
    /// Per port: member or not.
    is_member: Vec<bool>,
    /// Member ports in ascending order (capacity reserved for every port); rebuilt from
    /// `is_member` at the start of the first cycle after a membership change, so that a
    /// join or leave itself costs O(1).
    members: Vec<usize>,
    members_stale: bool,
    member_count: usize,
    bad_inputs: u64,
    /// Per port: mute, deaf, gains, VAD.
    settings: Vec<MemberSettings>,
    /// Ports whose settings are not the default: with none (and no policy) the plain path runs.
    custom: usize,
    /// Per port: in the mix this cycle.
    in_mix: Vec<bool>,
    /// The talker policy and its state; `None`: a plain N-1 mixer (no `vad`/`hear`/`all` ports).
    policy: Option<Box<TalkerSelection>>,
    events: EventOut,
    /// The cycle of the last `process` (stamps events raised by a message).
    cycle: u64,
    /// Where a policy mixer publishes who it mixed ([`Mixer::with_heard_board`]).
    heard_board: Option<std::sync::Arc<dyn super::HeardSink>>,
}

impl Mixer {
    /// A mixer for `participants` legs of `format`, every port a member. Allocates its
    /// scratch buffers here, on the control side.
    pub fn new(participants: usize, format: AudioFormat) -> Self {
        Self::with_capacity(participants, format).with_members(0..participants)
    }

    /// A mixer with `capacity` ports and no members yet.
    pub fn with_capacity(capacity: usize, format: AudioFormat) -> Self {
        Mixer {
            format,
            total: vec![0.0; scratch_len(format)],
            valid: vec![false; capacity],
            is_member: vec![false; capacity],
            members: Vec::with_capacity(capacity),
            members_stale: false,
            member_count: 0,
            bad_inputs: 0,
            settings: vec![MemberSettings::default(); capacity],
            custom: 0,
            in_mix: vec![false; capacity],
            policy: None,
            events: EventOut::default(),
            cycle: 0,
            heard_board: None,
        }
    }

    /// The same mixer choosing whom everyone hears by `policy` at quantum `quantum`: adds the
    /// ports `vad{i}` (optional control inputs: a VAD's `speech` flag for members whose
    /// settings say `vad`), `hear{i}` (control outputs: what port `i` hears this cycle, a
    /// [`Hear`] value) and `all` (audio output: what every listener who is not heard hears —
    /// the heard talkers' mix, or comfort noise — the input of a shared encode).
    pub fn with_policy(mut self, policy: TalkerPolicy, quantum: Quantum) -> Self {
        self.policy = Some(Box::new(TalkerSelection::new(policy, self.capacity(), quantum, self.total.len())));
        self
    }

    /// The same mixer reporting talking and dominant-speaker changes into `events` (see
    /// [`event_ring`](super::event_ring)). Only a mixer with a policy has any to report.
    pub fn with_events(mut self, events: EventSender) -> Self {
        self.events = EventOut::new(events);
        self
    }

    /// The same mixer publishing, every cycle, the members it mixed and the level of each
    /// one's input (−dBov) to `board` (a policy mixer only; at most
    /// [`MAX_HEARD`](super::MAX_HEARD), in port order): what a transport writing RFC 6465
    /// mixer-to-client levels reads. Without a board nothing is measured for it.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
    /// use rvoip_media_nodes::mixer::{HeardSink, Mixer, TalkerPolicy};
    /// /// Keeps the first member of the last list and its level (port << 8 | level), +1.
    /// #[derive(Debug, Default)]
    /// struct First(AtomicU32);
    /// impl HeardSink for First {
    ///     fn publish(&self, heard: &[(u32, u8)]) {
    ///         let v = heard.first().map_or(0, |&(p, l)| (p << 8 | u32::from(l)) + 1);
    ///         self.0.store(v, Ordering::Relaxed);
    ///     }
    /// }
    /// let board = Arc::new(First::default());
    /// let m = Mixer::new(3, AudioFormat::mono(8000))
    ///     .with_policy(TalkerPolicy::default(), Quantum::MS_10)
    ///     .with_heard_board(board.clone());
    /// let mut h = NodeHarness::new(Box::new(m), Quantum::MS_10).unwrap();
    /// for _ in 0..20 {
    ///     // Port 1 talks (−20 dBov), the others are silent.
    ///     h.audio_in_mut(1).iter_mut().enumerate().for_each(|(k, s)| *s = if k % 2 == 0 { 0.1 } else { -0.1 });
    ///     h.run();
    /// }
    /// assert_eq!(board.0.load(Ordering::Relaxed), (1 << 8 | 20) + 1); // port 1 at 20 −dBov
    /// ```
    pub fn with_heard_board(mut self, board: std::sync::Arc<dyn super::HeardSink>) -> Self {
        self.heard_board = Some(board);
        self
    }

    /// The same mixer with port `port` set to `settings` (ignored beyond the capacity).
    pub fn with_settings(mut self, port: usize, settings: MemberSettings) -> Self {
        self.set_settings(port, settings);
        self
    }

    /// Per-port settings. Real-time, O(1).
    fn set_settings(&mut self, port: usize, settings: MemberSettings) -> bool {
        let Some(s) = self.settings.get_mut(port) else { return false };
        let (was, now) = (!s.is_default(), !settings.is_default());
        *s = settings;
        match (was, now) {
            (false, true) => self.custom += 1,
            (true, false) => self.custom -= 1,
            _ => {}
        }
        true
    }

    /// Port `port` left: its settings return to the default and the policy forgets it.
    fn forget(&mut self, port: usize, cycle: u64) {
        self.set_settings(port, MemberSettings::default());
        if let Some(pol) = self.policy.as_deref_mut() {
            if let Some(ev) = pol.forget(port) {
                self.events.emit(cycle, ev);
            }
        }
    }

    /// The same mixer with these ports as members (ports beyond the capacity are ignored).
    pub fn with_members(mut self, ports: impl IntoIterator<Item = usize>) -> Self {
        for p in ports {
            self.set_member(p, true);
        }
        self
    }

    /// Number of ports.
    pub fn capacity(&self) -> usize {
        self.valid.len()
    }

    /// Number of ports (the capacity; kept for fixed rooms).
    pub fn participants(&self) -> usize {
        self.valid.len()
    }

    /// Member ports in ascending order.
    pub fn members(&self) -> Vec<usize> {
        (0..self.is_member.len()).filter(|&p| self.is_member[p]).collect()
    }

    /// Real-time, O(1): marks the port; the ordered list follows in the next cycle.
    fn set_member(&mut self, port: usize, member: bool) -> bool {
        let Some(m) = self.is_member.get_mut(port) else { return false };
        if *m != member {
            *m = member;
            self.members_stale = true;
            if member {
                self.member_count += 1;
            } else {
                self.member_count -= 1;
            }
        }
        true
    }

    /// Rebuilds the ordered member list (within its reserved capacity). Real-time.
    fn refresh_members(&mut self) {
        if self.members_stale {
            self.members.clear();
            self.members.extend((0..self.is_member.len()).filter(|&p| self.is_member[p]));
            self.members_stale = false;
        }
    }
}

impl Processor for Mixer {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.format);
        let mut s = NodeSpec::new("mixer")
            .with_message::<MixerMembership>()
            .with_message::<MemberUpdate>()
            .with_telemetry(if self.policy.is_some() { MIXER_TELEMETRY } else { &MIXER_TELEMETRY[..2] });
        for i in 0..self.valid.len() {
            s = s.with_input(PortSpec::optional(input_name(i), a)).with_output(PortSpec::required(output_name(i), a));
        }
        if self.policy.is_some() {
            for i in 0..self.valid.len() {
                s = s
                    .with_input(PortSpec::optional(vad_name(i), PortKind::Control))
                    .with_output(PortSpec::required(hear_name(i), PortKind::Control));
            }
            s = s.with_output(PortSpec::required("all", a));
        }
        s
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let ports = self.valid.len().min(io.num_inputs()).min(io.num_outputs());
        if ports == 0 {
            return;
        }
        self.refresh_members();
        let len = io.audio_in(0).len();
        if (self.policy.is_some() || self.custom > 0) && len <= self.total.len() {
            self.process_managed(io, len);
            return;
        }
        // Non-members hear nothing.
        if self.members.len() < ports {
            for p in (0..ports).filter(|&p| !self.is_member[p]) {
                io.audio_out(p).fill(0.0);
            }
        }
        let n = self.members.len();
        if n == 0 {
            return;
        }
        let m = &self.members;
        if len <= self.total.len() {
            // Usual case, one chunk: the input check rides along with the accumulation, so
            // each input is read once for the total and once for its own output.
            let total = &mut self.total[..len];
            total.fill(0.0);
            let mut all_ok = true;
            let mut i = 0;
            while i + 4 <= n {
                let x = [io.audio_in(m[i]), io.audio_in(m[i + 1]), io.audio_in(m[i + 2]), io.audio_in(m[i + 3])];
                let ok = kernels::accumulate4_sane(total, x);
                for (k, v) in ok.into_iter().enumerate() {
                    self.valid[m[i + k]] = v;
                    all_ok &= v;
                }
                i += 4;
            }
            for &p in &m[i..] {
                let v = kernels::accumulate_sane(total, io.audio_in(p));
                self.valid[p] = v;
                all_ok &= v;
            }
            if !all_ok {
                // Rare: rebuild the total without the bad inputs.
                total.fill(0.0);
                for &p in m {
                    if self.valid[p] {
                        kernels::accumulate(total, io.audio_in(p));
                    } else {
                        self.bad_inputs += 1;
                        io.report_error();
                    }
                }
            }
            self.write_outputs(io, 0, len);
        } else {
            // A quantum longer than the scratch buffer: check every input first, then mix
            // chunk by chunk.
            for &p in m {
                self.valid[p] = kernels::all_sane(io.audio_in(p));
                if !self.valid[p] {
                    self.bad_inputs += 1;
                    io.report_error();
                }
            }
            let chunk = self.total.len();
            let mut start = 0;
            while start < len {
                let end = (start + chunk).min(len);
                let total = &mut self.total[..end - start];
                total.fill(0.0);
                for &p in self.members.iter().filter(|&&p| self.valid[p]) {
                    kernels::accumulate(total, &io.audio_in(p)[start..end]);
                }
                self.write_outputs(io, start, end);
                start = end;
            }
        }
    }

    fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        let ok = if let Some(u) = msg.downcast_ref::<MemberUpdate>() {
            if !u.settings.is_valid() {
                return Err(MessageError::Invalid("a gain that is not finite or above +40 dB"));
            }
            self.set_settings(u.port, u.settings)
        } else {
            match *msg.downcast_ref::<MixerMembership>().ok_or(MessageError::WrongType)? {
                MixerMembership::Join(p) => self.set_member(p, true),
                MixerMembership::Leave(p) => {
                    let known = self.set_member(p, false);
                    if known {
                        self.forget(p, self.cycle + 1);
                    }
                    known
                }
            }
        };
        if ok {
            Ok(())
        } else {
            Err(MessageError::Invalid("port beyond the mixer's capacity"))
        }
    }

    fn telemetry(&self, out: &mut [f64]) {
        let (talking, heard, dominant) = match self.policy.as_deref() {
            Some(p) => (p.talking_count() as f64, p.heard().len() as f64, p.dominant().map_or(-1.0, |d| d as f64)),
            None => (0.0, 0.0, -1.0),
        };
        let v =
            [self.member_count as f64, self.bad_inputs as f64, talking, heard, dominant, self.events.dropped() as f64];
        for (o, v) in out.iter_mut().zip(v) {
            *o = v;
        }
    }
}

/// [`Mixer`]'s telemetry names.
const MIXER_TELEMETRY: &[&str] = &["members", "bad_inputs", "talking", "heard", "dominant", "events_dropped"];

impl Mixer {
    /// The path with per-member settings or a talker policy (see the module docs, "Who is
    /// heard"). `len` fits the scratch buffers.
    fn process_managed(&mut self, io: &mut ProcessIo<'_>, len: usize) {
        let cap = self.valid.len();
        let has_ports = self.policy.is_some();
        let cycle = io.cycle();
        self.cycle = cycle;
        let hear = |io: &mut ProcessIo<'_>, p: usize, h: Hear| {
            if has_ports {
                io.set_control(cap + p, h.value());
            }
        };
        for p in (0..cap).filter(|&p| !self.is_member[p]) {
            io.audio_out(p).fill(0.0);
            hear(io, p, Hear::Nothing);
        }
        // Talking states, levels and the selection.
        if let Some(pol) = self.policy.as_deref_mut() {
            for &p in &self.members {
                let vad = self.settings[p].vad && io.control_in(cap + p) > 0.5;
                if let Some(ev) = pol.observe(p, io.audio_in(p), vad, &self.settings[p]) {
                    self.events.emit(cycle, ev);
                }
            }
            let settings = &self.settings;
            if let Some(ev) = pol.select(&self.members, |p| settings[p].muted, len) {
                self.events.emit(cycle, ev);
            }
        }
        // The total of whoever is in the mix.
        let total = &mut self.total[..len];
        total.fill(0.0);
        let mut heard = 0usize;
        for &p in &self.members {
            let s = &self.settings[p];
            let selected = match self.policy.as_deref() {
                Some(pol) => pol.is_heard(p),
                None => !s.muted,
            };
            let x = io.audio_in(p);
            let ok = selected && kernels::all_sane(x);
            if selected && !ok {
                self.bad_inputs += 1;
                io.report_error();
            }
            self.in_mix[p] = ok;
            if ok {
                heard += 1;
                if s.input_gain == 1.0 {
                    kernels::accumulate(total, x);
                } else {
                    s.add_to_mix(total, x);
                }
            }
        }
        if let (Some(board), true) = (self.heard_board.as_deref(), self.policy.is_some()) {
            let in_mix = &self.in_mix;
            let mut list = [(0u32, 0u8); super::MAX_HEARD];
            let mut n = 0;
            for &p in self.members.iter().filter(|&&p| in_mix[p]).take(super::MAX_HEARD) {
                list[n] = (p as u32, audio_level(mean_square(io.audio_in(p))));
                n += 1;
            }
            board.publish(&list[..n]);
        }
        // Comfort noise when a listener would hear nobody.
        let noise = self.policy.as_deref_mut().and_then(|pol| pol.comfort_noise(len, heard));
        let total = &self.total[..len];
        let listeners_hear = if heard == 0 { noise.unwrap_or(total) } else { total };
        for &p in &self.members {
            let s = self.settings[p];
            if s.deaf {
                io.audio_out(p).fill(0.0);
                hear(io, p, Hear::Nothing);
                continue;
            }
            let x = io.audio_in(p);
            let out = io.audio_out(p);
            if self.in_mix[p] {
                // The only talker hears nobody: comfort noise.
                s.hear_in_mix(out, total, x, noise.filter(|_| heard == 1));
                hear(io, p, Hear::Own);
            } else if s.output_gain == 1.0 {
                out.copy_from_slice(listeners_hear);
                hear(io, p, Hear::Shared);
            } else {
                kernels::gain(out, listeners_hear, s.output_gain);
                hear(io, p, Hear::Own);
            }
        }
        if has_ports {
            io.audio_out(2 * cap).copy_from_slice(listeners_hear);
        }
    }

    /// Output of each member over `start..end` = total (already in
    /// `self.total[..end - start]`) minus own input, or the plain total for an input marked
    /// bad.
    fn write_outputs(&self, io: &mut ProcessIo<'_>, start: usize, end: usize) {
        let total = &self.total[..end - start];
        for &p in &self.members {
            let x = &io.audio_in(p)[start..end];
            let out = &mut io.audio_out(p)[start..end];
            if self.valid[p] {
                kernels::minus_own(out, total, x);
            } else {
                out.copy_from_slice(total);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mixer::MixerEventKind;
    use rvoip_media_graph::{GraphBuilder, NodeHarness, PlanExecutor, Quantum, SplitMix64};

    /// Each output against an independent f64 sum of the other inputs.
    #[test]
    fn n_minus_one_matches_direct_sum() {
        let mut rng = SplitMix64::new(99);
        for n in [1usize, 2, 3, 10, 33] {
            for (q, rate, ch) in
                [(Quantum::MS_10, 8000, 1u16), (Quantum::MS_20, 48_000, 2), (Quantum::MS_2_5, 16_000, 1)]
            {
                let f = AudioFormat { rate, channels: ch };
                let mut h = NodeHarness::new(Box::new(Mixer::new(n, f)), q).unwrap();
                let mut ins = Vec::new();
                for i in 0..n {
                    let x: Vec<f32> = (0..h.audio_in_mut(i).len()).map(|_| rng.bipolar()).collect();
                    h.audio_in_mut(i).copy_from_slice(&x);
                    ins.push(x);
                }
                assert_eq!(h.run(), 0);
                for i in 0..n {
                    for (k, &got) in h.audio_out(i).iter().enumerate() {
                        let want: f64 =
                            ins.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, x)| f64::from(x[k])).sum();
                        let got = f64::from(got);
                        assert!((got - want).abs() < 1e-5 * n as f64, "n {n} out {i} k {k}: {got} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn not_clamped_and_bad_inputs_silenced() {
        let mut h = NodeHarness::new(Box::new(Mixer::new(4, AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
        h.audio_in_mut(0).fill(0.9);
        h.audio_in_mut(1).fill(0.8);
        h.audio_in_mut(2).fill(0.7);
        h.audio_in_mut(3).fill(0.0);
        h.audio_in_mut(3)[17] = f32::INFINITY;
        assert_eq!(h.run(), 1);
        // Unclamped: 0.8 + 0.7 = 1.5.
        assert!(h.audio_out(0).iter().all(|&s| (s - 1.5).abs() < 1e-6));
        // The bad leg hears everybody else, never Inf/NaN.
        assert!(h.audio_out(3).iter().all(|&s| (s - 2.4).abs() < 1e-6));
        assert!(h.audio_out(1).iter().all(|s| s.is_finite()));
        // Two bad legs: two errors.
        h.audio_in_mut(0)[0] = f32::NAN;
        assert_eq!(h.run(), 2);
        assert!(h.audio_out(0).iter().all(|&s| (s - 1.5).abs() < 1e-6));
        assert!(h.audio_out(3).iter().all(|&s| (s - 1.5).abs() < 1e-6));
        assert!(h.audio_out(2).iter().all(|&s| (s - 0.8).abs() < 1e-6));
        // Huge finite values count as bad too (they would overflow the sum).
        h.audio_in_mut(0).fill(f32::MAX);
        h.audio_in_mut(3).fill(-f32::MAX);
        assert_eq!(h.run(), 2);
        assert!((0..4).all(|o| h.audio_out(o).iter().all(|s| s.is_finite())));
    }

    #[test]
    fn chunked_path_matches_single_chunk() {
        // 48 kHz stereo at 20 ms = 1920 samples, the scratch size: one chunk. A mixer built
        // for a smaller format but fed longer slices exercises the chunked path through
        // a graph-less call with the same harness shape.
        let f = AudioFormat { rate: 48_000, channels: 2 };
        let mut small = Mixer::new(3, f);
        small.total.truncate(100); // force chunks of 100 samples
        let mut h1 = NodeHarness::new(Box::new(small), Quantum::MS_20).unwrap();
        let mut h2 = NodeHarness::new(Box::new(Mixer::new(3, f)), Quantum::MS_20).unwrap();
        let mut rng = SplitMix64::new(5);
        for i in 0..3 {
            let x: Vec<f32> = (0..1920).map(|_| rng.bipolar()).collect();
            h1.audio_in_mut(i).copy_from_slice(&x);
            h2.audio_in_mut(i).copy_from_slice(&x);
        }
        h1.audio_in_mut(1)[1500] = f32::NAN;
        h2.audio_in_mut(1)[1500] = f32::NAN;
        assert_eq!(h1.run(), 1);
        assert_eq!(h2.run(), 1);
        for o in 0..3 {
            assert_eq!(h1.audio_out(o), h2.audio_out(o));
        }
    }

    #[test]
    fn mixer_in_a_graph() {
        let a = PortKind::Audio(AudioFormat::mono(16_000));
        let mut b = GraphBuilder::new(Quantum::MS_10);
        let legs: Vec<_> = (0..3).map(|i| b.add_input(format!("leg{i}"), a)).collect();
        let m = b.add_node("mix", Box::new(Mixer::new(3, AudioFormat::mono(16_000))));
        let outs: Vec<_> = (0..3).map(|i| b.add_output(format!("to{i}"), a)).collect();
        for i in 0..3 {
            b.connect(legs[i], 0, m, i).unwrap();
            b.connect(m, i, outs[i], 0).unwrap();
        }
        let mut x = PlanExecutor::new(b.build().unwrap()).unwrap();
        for i in 0..3 {
            x.input_audio_mut(i).fill(0.125 * (i + 1) as f32);
        }
        x.run_cycle();
        assert_eq!(x.output_audio(0)[5], 0.625);
        assert_eq!(x.output_audio(1)[5], 0.5);
        assert_eq!(x.output_audio(2)[5], 0.375);
    }

    fn db_of(x: &[f32]) -> f32 {
        10.0 * crate::level::mean_square(x).log10()
    }

    /// Mute, deaf and gains, each changed by message between two cycles, against direct sums.
    #[test]
    fn member_settings() {
        let f = AudioFormat::mono(8000);
        let mut h = NodeHarness::new(Box::new(Mixer::new(3, f)), Quantum::MS_10).unwrap();
        for (i, v) in [0.1f32, 0.2, 0.4].into_iter().enumerate() {
            h.audio_in_mut(i).fill(v);
        }
        let set = |h: &mut NodeHarness, port, settings| {
            h.processor_mut().message(&mut MemberUpdate { port, settings }).unwrap();
            h.run();
            (h.audio_out(0)[0], h.audio_out(1)[0], h.audio_out(2)[0])
        };
        let close = |a: (f32, f32, f32), b: (f32, f32, f32)| {
            assert!((a.0 - b.0).abs() < 1e-6 && (a.1 - b.1).abs() < 1e-6 && (a.2 - b.2).abs() < 1e-6, "{a:?} vs {b:?}");
        };
        let d = MemberSettings::default();
        close(set(&mut h, 0, MemberSettings { muted: true, ..d }), (0.6, 0.4, 0.2));
        close(set(&mut h, 0, MemberSettings { deaf: true, ..d }), (0.0, 0.5, 0.3));
        close(set(&mut h, 0, MemberSettings { input_gain: 0.5, ..d }), (0.6, 0.45, 0.25));
        close(set(&mut h, 0, MemberSettings { output_gain: 2.0, ..d }), (1.2, 0.5, 0.3));
        // Back to the default: the plain path, the plain sums.
        close(set(&mut h, 0, d), (0.6, 0.5, 0.3));
        // Leaving forgets the settings.
        set(&mut h, 1, MemberSettings { muted: true, ..d });
        h.processor_mut().message(&mut MixerMembership::Leave(1)).unwrap();
        h.processor_mut().message(&mut MixerMembership::Join(1)).unwrap();
        h.run();
        assert!((h.audio_out(0)[0] - 0.6).abs() < 1e-6);
    }

    /// A policy room: 1 of 4 heard; what each hears, the `hear` marks and the `all` output,
    /// comfort noise when nobody talks, and the talking events.
    #[test]
    fn policy_shares_the_listeners_mix_and_reports_talking() {
        let f = AudioFormat::mono(8000);
        let q = Quantum::MS_10;
        let (tx, mut rx) = super::super::event_ring(16);
        let policy = TalkerPolicy { max_talkers: 1, ..TalkerPolicy::default() };
        let mixer = Mixer::with_capacity(4, f).with_members(0..4).with_policy(policy, q).with_events(tx);
        let mut h = NodeHarness::new(Box::new(mixer), q).unwrap();
        let (hear, all) = (|p: usize| 4 + p, 8);
        // Nobody talks: everyone hears the same comfort noise, at -70 dBFS.
        h.run();
        let cn = h.audio_out(all).to_vec();
        assert!((db_of(&cn) + 70.0).abs() < 2.0, "{}", db_of(&cn));
        for p in 0..4 {
            assert_eq!(h.audio_out(p), &cn[..]);
            assert_eq!(Hear::from_value(h.control_out(hear(p))), Hear::Shared);
        }
        // Port 2 talks at -20 dBFS, port 3 whispers at -45 (talking, but 1 place only).
        h.audio_in_mut(2).fill(0.1);
        h.audio_in_mut(3).fill(0.0056);
        h.run();
        assert_eq!(h.audio_out(0), h.audio_out(all));
        assert_eq!(h.audio_out(0)[0], 0.1);
        assert_eq!(h.audio_out(3)[0], 0.1);
        assert_eq!(Hear::from_value(h.control_out(hear(2))), Hear::Own);
        assert_eq!(Hear::from_value(h.control_out(hear(3))), Hear::Shared);
        // The only heard talker hears comfort noise, not silence.
        assert!((db_of(h.audio_out(2)) + 70.0).abs() < 2.0);
        let mut started: Vec<usize> = Vec::new();
        while let Some(e) = rx.pop() {
            if let MixerEventKind::TalkingStarted(p) = e.kind {
                assert_eq!(e.cycle, 1);
                started.push(p);
            }
        }
        started.sort();
        assert_eq!(started, vec![2, 3]);
        // A deaf listener: silence, marked Nothing.
        let deaf = MemberSettings { deaf: true, ..MemberSettings::default() };
        h.processor_mut().message(&mut MemberUpdate { port: 0, settings: deaf }).unwrap();
        h.run();
        assert!(h.audio_out(0).iter().all(|&s| s == 0.0));
        assert_eq!(Hear::from_value(h.control_out(hear(0))), Hear::Nothing);
        // Silence: talking stops after the 300 ms hangover (30 quanta), not before.
        h.audio_in_mut(2).fill(0.0);
        h.audio_in_mut(3).fill(0.0);
        let mut stopped_at = Vec::new();
        for _ in 0..40 {
            h.run();
        }
        while let Some(e) = rx.pop() {
            if let MixerEventKind::TalkingStopped(p) = e.kind {
                stopped_at.push((p, e.cycle));
            }
        }
        stopped_at.sort();
        assert_eq!(stopped_at, vec![(2, 32), (3, 32)]);
    }
}
