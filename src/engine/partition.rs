//! The worker side of a partition: its schedule, its processor store, the worker ends of its
//! endpoint rings and its telemetry cells. Built on the control side, moved to a worker by
//! command, changed by edits, moved back in a reply when removed (so its memory is freed on
//! the control side).
//!
//! Every per-node thing lives in a *slot* (the [`rvoip_media_graph::NodeKey`]'s slot):
//! `processors[slot]` for processing nodes, `slots[slot].io` for graph inputs and outputs,
//! `slots[slot].telemetry` for nodes that publish. A schedule refers to slots, so replacing
//! it leaves every processor, ring and cell where it is.

use super::endpoint::ControlCell;
use super::frame::{AudioFrame, FramePool, PacketPool};
use super::rt::now_ns;
use crate::stats::{CycleWindow, PartitionStats, PartitionStatsCell};
use crate::sync::pool::Pooled;
use crate::sync::seqlock::SeqLockSlice;
use rvoip_media_graph::{MessageError, Packet, Processor, Schedule, MAX_TELEMETRY};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Identifies a partition within an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId(pub u64);

impl std::fmt::Display for PartitionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "partition {}", self.0)
    }
}

/// The worker's end of a graph input.
pub(crate) enum WorkerInput {
    Audio(rtrb::Consumer<Pooled<AudioFrame>>),
    Packet(rtrb::Consumer<Pooled<Packet>>),
    Control(ControlCell),
}

/// The worker's end of a graph output.
pub(crate) enum WorkerOutput {
    Audio(rtrb::Producer<Pooled<AudioFrame>>),
    Packet(rtrb::Producer<Pooled<Packet>>),
    Control(ControlCell),
}

/// The worker's end of a graph input or output (a slot is one or the other, never both).
pub(crate) enum WorkerEnd {
    Input(WorkerInput),
    Output(WorkerOutput),
}

/// A slot's worker-side state besides its processor. Kept small: a cycle visits the slots
/// of every endpoint, and with a thousand legs their cache lines add up.
#[derive(Default)]
pub(crate) struct SlotState {
    pub(crate) end: Option<WorkerEnd>,
    pub(crate) telemetry: Option<Arc<SeqLockSlice>>,
}

/// A partition's schedule (with the list of slots whose telemetry is published).
pub(crate) struct LivePlan {
    pub(crate) schedule: Schedule,
}

/// What a slot held, leaving the worker (removed) or arriving (inserted).
pub(crate) struct SlotContent {
    pub(crate) slot: u32,
    pub(crate) processor: Option<Box<dyn Processor>>,
    pub(crate) state: SlotState,
}

/// A message for one node; after delivery `payload` holds what the node let go of.
pub(crate) struct Delivery {
    pub(crate) slot: u32,
    pub(crate) payload: Box<dyn Any + Send>,
    pub(crate) result: Result<(), MessageError>,
}

/// A partition's slot stores: processors, and everything else per slot.
pub(crate) type Stores = (Vec<Option<Box<dyn Processor>>>, Vec<SlotState>);

/// An edit as it travels: everything allocated on the control side. The worker moves
/// things between it and the partition; the same box goes back holding what was replaced.
pub(crate) struct EditPayload {
    /// The partition edited.
    pub(crate) partition: PartitionId,
    /// The new plan; after the edit, the old one.
    pub(crate) plan: Box<LivePlan>,
    /// Larger stores when the slots outgrow the current ones; after the edit, the old
    /// (emptied) stores.
    pub(crate) grow: Option<Stores>,
    /// Slots to empty.
    pub(crate) removes: Vec<u32>,
    /// What the removed slots held (capacity reserved for all of them).
    pub(crate) removed: Vec<SlotContent>,
    /// New slot contents; emptied by the edit.
    pub(crate) inserts: Vec<SlotContent>,
    /// Messages delivered in the same cycle, after the inserts.
    pub(crate) messages: Vec<Delivery>,
    /// Slot contents that were in the way of an insert (a control-side bug); kept, never
    /// freed on the worker.
    pub(crate) displaced: u32,
}

/// A partition as a worker runs it.
pub(crate) struct Partition {
    pub(crate) id: PartitionId,
    plan: Box<LivePlan>,
    processors: Vec<Option<Box<dyn Processor>>>,
    slots: Vec<SlotState>,
    frames: FramePool,
    packets: PacketPool,
    pub(crate) stats: PartitionStats,
    window: CycleWindow,
    cell: Arc<PartitionStatsCell>,
    telemetry_every: u64,
}

/// Partitions refresh their percentiles every this many cycles, each at its own phase
/// (by id), so a worker with many partitions spreads the work over the cycles.
const QUANTILE_EVERY: u64 = 32;

/// The control side's recipe for a partition's worker half.
pub(crate) struct PartitionParts {
    pub(crate) id: PartitionId,
    pub(crate) plan: Box<LivePlan>,
    pub(crate) processors: Vec<Option<Box<dyn Processor>>>,
    pub(crate) slots: Vec<SlotState>,
    pub(crate) frames: FramePool,
    pub(crate) packets: PacketPool,
    pub(crate) window_cycles: u64,
    pub(crate) cell: Arc<PartitionStatsCell>,
    pub(crate) telemetry_every: u64,
}

impl Partition {
    /// Assembles a partition (control side).
    pub(crate) fn new(p: PartitionParts) -> Self {
        Partition {
            id: p.id,
            plan: p.plan,
            processors: p.processors,
            slots: p.slots,
            frames: p.frames,
            packets: p.packets,
            stats: PartitionStats::default(),
            window: CycleWindow::new(p.window_cycles),
            cell: p.cell,
            telemetry_every: p.telemetry_every.max(1),
        }
    }

    /// Applies an edit at a cycle boundary: grows the stores if asked, empties removed
    /// slots, fills inserted ones, delivers messages, swaps in the new plan (which continues
    /// the cycle count). Real-time: moves only; everything let go of stays in `edit`.
    pub(crate) fn apply_edit(&mut self, edit: &mut EditPayload) {
        if let Some((procs, states)) = edit.grow.as_mut() {
            for (dst, src) in procs.iter_mut().zip(self.processors.iter_mut()) {
                *dst = src.take();
            }
            for (dst, src) in states.iter_mut().zip(self.slots.iter_mut()) {
                *dst = std::mem::take(src);
            }
            std::mem::swap(procs, &mut self.processors);
            std::mem::swap(states, &mut self.slots);
        }
        for &slot in &edit.removes {
            let i = slot as usize;
            let (Some(p), Some(s)) = (self.processors.get_mut(i), self.slots.get_mut(i)) else { continue };
            if edit.removed.len() < edit.removed.capacity() {
                edit.removed.push(SlotContent { slot, processor: p.take(), state: std::mem::take(s) });
            }
        }
        for ins in edit.inserts.iter_mut() {
            let i = ins.slot as usize;
            let (Some(p), Some(s)) = (self.processors.get_mut(i), self.slots.get_mut(i)) else { continue };
            std::mem::swap(p, &mut ins.processor);
            std::mem::swap(s, &mut ins.state);
            if ins.processor.is_some() || ins.state.end.is_some() {
                // The slot was not empty: what was there rides back in `ins`.
                edit.displaced += 1;
            }
        }
        self.stats.messages += edit.messages.len() as u64;
        for m in edit.messages.iter_mut() {
            m.result = self.deliver(m.slot, m.payload.as_mut());
        }
        edit.plan.schedule.continue_from(&self.plan.schedule);
        std::mem::swap(&mut self.plan, &mut edit.plan);
        self.stats.edits += 1;
    }

    /// Hands a message to the node in `slot`. Real-time.
    pub(crate) fn deliver(&mut self, slot: u32, payload: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        match self.processors.get_mut(slot as usize).and_then(|p| p.as_deref_mut()) {
            Some(p) => p.message(payload),
            None => Err(MessageError::Invalid("no processor in this slot")),
        }
    }

    /// Forwards a parameter (range-checked on the control side). Real-time.
    pub(crate) fn set_param(&mut self, slot: u32, id: u32, value: f32) -> Result<(), rvoip_media_graph::ParamError> {
        match self.processors.get_mut(slot as usize).and_then(|p| p.as_deref_mut()) {
            Some(p) => p.set_param(id, value),
            None => Err(rvoip_media_graph::ParamError::Unknown(id)),
        }
    }

    /// Resets every processor. Real-time.
    pub(crate) fn reset(&mut self) {
        for p in self.processors.iter_mut().flatten() {
            p.reset();
        }
    }

    /// One quantum: inputs from the rings into the plan, run it, outputs into the rings,
    /// telemetry. `deadline_ns` is the worker's deadline for this cycle, if it has one.
    /// Real-time: no allocation, no blocking; every problem is a counter.
    pub(crate) fn run_cycle(&mut self, deadline_ns: Option<u64>) {
        if self.stats.faulted != 0 {
            return;
        }
        let t0 = now_ns();
        let s = &mut self.stats;
        let schedule = &mut self.plan.schedule;
        for i in 0..schedule.inputs() {
            let slot = schedule.input_node(i).index();
            let end = self.slots.get_mut(slot).and_then(|st| st.end.as_mut());
            match end.and_then(|e| if let WorkerEnd::Input(i) = e { Some(i) } else { None }) {
                Some(WorkerInput::Audio(ring)) => {
                    let buf = schedule.input_audio_mut(i);
                    match ring.pop() {
                        Ok(frame) => {
                            let src = frame.samples();
                            if src.len() == buf.len() {
                                buf.copy_from_slice(src);
                            } else {
                                let n = src.len().min(buf.len());
                                buf[..n].copy_from_slice(&src[..n]);
                                buf[n..].fill(0.0);
                                s.errors += 1;
                            }
                        }
                        Err(_) => {
                            buf.fill(0.0);
                            s.underruns += 1;
                        }
                    }
                }
                Some(WorkerInput::Packet(ring)) => {
                    let slot = schedule.input_packet_mut(i);
                    slot.clear();
                    // A burst: everything queued, up to the slot's capacity; the rest
                    // waits for the next cycle. The producer's position is read once.
                    for _ in 0..ring.slots().min(slot.capacity()) {
                        if let Ok(p) = ring.pop() {
                            let _ = slot.push(&p);
                        }
                    }
                }
                Some(WorkerInput::Control(v)) => *schedule.input_control_mut(i) = v.get(),
                None => s.errors += 1,
            }
        }
        let processors = &mut self.processors;
        match catch_unwind(AssertUnwindSafe(|| schedule.run_cycle(processors))) {
            Ok(report) => s.errors += u64::from(report.errors),
            Err(payload) => {
                // A node bug. Stop this partition, keep the worker and its other partitions
                // running; leak the payload rather than free on this thread.
                std::mem::forget(payload);
                s.faulted = 1;
            }
        }
        for i in 0..schedule.outputs() {
            let slot = schedule.output_node(i).index();
            let end = self.slots.get_mut(slot).and_then(|st| st.end.as_mut());
            match end.and_then(|e| if let WorkerEnd::Output(o) = e { Some(o) } else { None }) {
                Some(WorkerOutput::Audio(ring)) => {
                    if ring.is_full() {
                        s.ring_full_drops += 1;
                        continue;
                    }
                    match self.frames.acquire() {
                        Ok(mut f) => {
                            if f.copy_from(schedule.output_audio(i)).is_err() {
                                s.errors += 1;
                            } else if ring.push(f).is_err() {
                                s.ring_full_drops += 1;
                            }
                        }
                        Err(_) => s.pool_exhausted_drops += 1,
                    }
                }
                Some(WorkerOutput::Packet(ring)) => {
                    for p in schedule.output_packets(i) {
                        if ring.is_full() {
                            s.ring_full_drops += 1;
                            continue;
                        }
                        match self.packets.acquire() {
                            Ok(mut slot) => {
                                slot.meta = p.meta;
                                slot.meta.arrival_ns = t0;
                                if slot.set_payload(p.payload()).is_err() {
                                    s.errors += 1; // same capacity on both sides: unreachable
                                } else if ring.push(slot).is_err() {
                                    s.ring_full_drops += 1;
                                }
                            }
                            Err(_) => s.pool_exhausted_drops += 1,
                        }
                    }
                }
                Some(WorkerOutput::Control(v)) => v.set(schedule.output_control(i)),
                None => s.errors += 1,
            }
        }
        self.publish_telemetry();
        let t1 = now_ns();
        let dt = t1.saturating_sub(t0);
        let s = &mut self.stats;
        s.cycles += 1;
        s.last_ns = dt;
        s.max_ns = s.max_ns.max(dt);
        if deadline_ns.is_some_and(|d| t1 > d) {
            s.deadline_misses += 1;
        }
        self.window.record(dt);
        if (s.cycles + self.id.0) % QUANTILE_EVERY == 1 {
            (s.p50_ns, s.p99_ns) = self.window.p50_p99(s.max_ns);
        }
        self.cell.write(&s.to_words());
    }

    /// Publishes the telemetry of the nodes whose turn it is: every node once per
    /// `telemetry_every` cycles, the list taken in strides so the work is spread evenly.
    fn publish_telemetry(&mut self) {
        let every = self.telemetry_every as usize;
        let phase = (self.stats.cycles % self.telemetry_every) as usize;
        let mut values = [0.0f64; MAX_TELEMETRY];
        let mut words = [0u64; MAX_TELEMETRY];
        for &(slot, n) in self.plan.schedule.publish().iter().skip(phase).step_by(every) {
            let i = slot as usize;
            let (Some(Some(p)), Some(Some(cell))) =
                (self.processors.get(i), self.slots.get(i).map(|s| s.telemetry.as_ref()))
            else {
                continue;
            };
            let n = usize::from(n).min(MAX_TELEMETRY);
            values[..n].fill(0.0);
            p.telemetry(&mut values[..n]);
            for (w, v) in words[..n].iter_mut().zip(&values[..n]) {
                *w = v.to_bits();
            }
            cell.write(&words[..n]);
        }
    }
}
