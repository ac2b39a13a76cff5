//! The worker side of a partition: its plan executor and the worker ends of its endpoint
//! rings. Built on the control side, moved to a worker by command, moved back in a reply
//! when removed (so its memory is freed on the control side).

use super::endpoint::{
    AudioIn, AudioOut, ControlIn, ControlOut, InputEndpoint, OutputEndpoint, PacketIn, PacketOut, PartitionIo,
};
use super::frame::{AudioFrame, FramePool, PacketPool};
use super::rt::now_ns;
use crate::stats::{CycleWindow, PartitionStats, PartitionStatsCell};
use crate::sync::pool::Pooled;
use rvoip_media_graph::{Packet, PlanExecutor, PortKind};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// Identifies a partition within an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId(pub u64);

impl std::fmt::Display for PartitionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "partition {}", self.0)
    }
}

enum WorkerInput {
    Audio(rtrb::Consumer<Pooled<AudioFrame>>),
    Packet(rtrb::Consumer<Pooled<Packet>>),
    Control(Arc<AtomicU32>),
}

enum WorkerOutput {
    Audio(rtrb::Producer<Pooled<AudioFrame>>),
    Packet(rtrb::Producer<Pooled<Packet>>),
    Control(Arc<AtomicU32>),
}

/// A partition as a worker runs it.
pub(crate) struct Partition {
    pub(crate) id: PartitionId,
    pub(crate) exec: Box<PlanExecutor>,
    inputs: Vec<WorkerInput>,
    outputs: Vec<WorkerOutput>,
    frames: FramePool,
    packets: PacketPool,
    pub(crate) stats: PartitionStats,
    window: CycleWindow,
    cell: Arc<PartitionStatsCell>,
}

/// Partitions refresh their percentiles every this many cycles, each at its own phase
/// (by id), so a worker with many partitions spreads the work over the cycles.
const QUANTILE_EVERY: u64 = 32;

impl Partition {
    /// Builds the rings for every graph input and output (control side; allocates).
    pub(crate) fn new(
        id: PartitionId,
        exec: Box<PlanExecutor>,
        frames: FramePool,
        packets: PacketPool,
        ring_capacity: usize,
        window_cycles: u64,
        cell: Arc<PartitionStatsCell>,
    ) -> (Self, PartitionIo) {
        let mut io = PartitionIo { inputs: Vec::new(), outputs: Vec::new() };
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        for p in &exec.plan().inputs {
            let ep = match p.kind {
                PortKind::Audio(_) => {
                    let (tx, rx) = rtrb::RingBuffer::new(ring_capacity);
                    inputs.push(WorkerInput::Audio(rx));
                    InputEndpoint::Audio(AudioIn { ring: tx, pool: frames.clone(), samples: p.buffer.len as usize })
                }
                PortKind::Packet(_) => {
                    let (tx, rx) = rtrb::RingBuffer::new(ring_capacity);
                    inputs.push(WorkerInput::Packet(rx));
                    InputEndpoint::Packet(PacketIn { ring: tx, pool: packets.clone() })
                }
                PortKind::Control => {
                    let v = Arc::new(AtomicU32::new(0));
                    inputs.push(WorkerInput::Control(v.clone()));
                    InputEndpoint::Control(ControlIn { value: v })
                }
            };
            io.inputs.push((p.name.clone(), p.kind, ep));
        }
        for p in &exec.plan().outputs {
            let ep = match p.kind {
                PortKind::Audio(_) => {
                    let (tx, rx) = rtrb::RingBuffer::new(ring_capacity);
                    outputs.push(WorkerOutput::Audio(tx));
                    OutputEndpoint::Audio(AudioOut { ring: rx })
                }
                PortKind::Packet(_) => {
                    let (tx, rx) = rtrb::RingBuffer::new(ring_capacity);
                    outputs.push(WorkerOutput::Packet(tx));
                    OutputEndpoint::Packet(PacketOut { ring: rx })
                }
                PortKind::Control => {
                    let v = Arc::new(AtomicU32::new(0));
                    outputs.push(WorkerOutput::Control(v.clone()));
                    OutputEndpoint::Control(ControlOut { value: v })
                }
            };
            io.outputs.push((p.name.clone(), p.kind, ep));
        }
        let window = CycleWindow::new(window_cycles);
        let part =
            Partition { id, exec, inputs, outputs, frames, packets, stats: PartitionStats::default(), window, cell };
        (part, io)
    }

    /// Replaces the plan (same graph inputs and outputs, checked by the control side) and
    /// returns the old one. The next cycle runs entirely on the new plan.
    pub(crate) fn swap_plan(&mut self, exec: Box<PlanExecutor>) -> Box<PlanExecutor> {
        self.stats.plan_swaps += 1;
        self.stats.faulted = 0;
        std::mem::replace(&mut self.exec, exec)
    }

    /// One quantum: inputs from the rings into the plan, run it, outputs into the rings.
    /// `deadline_ns` is the worker's deadline for this cycle, if it has one. Real-time: no
    /// allocation, no blocking; every problem is a counter.
    pub(crate) fn run_cycle(&mut self, deadline_ns: Option<u64>) {
        if self.stats.faulted != 0 {
            return;
        }
        let t0 = now_ns();
        let s = &mut self.stats;
        for (i, input) in self.inputs.iter_mut().enumerate() {
            match input {
                WorkerInput::Audio(ring) => {
                    let buf = self.exec.input_audio_mut(i);
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
                WorkerInput::Packet(ring) => {
                    let slot = self.exec.input_packet_mut(i);
                    match ring.pop() {
                        Ok(p) => slot.put(&p),
                        Err(_) => slot.clear(),
                    }
                }
                WorkerInput::Control(v) => *self.exec.input_control_mut(i) = f32::from_bits(v.load(Ordering::Relaxed)),
            }
        }
        let exec = &mut self.exec;
        match catch_unwind(AssertUnwindSafe(|| exec.run_cycle())) {
            Ok(report) => s.errors += u64::from(report.errors),
            Err(payload) => {
                // A node bug. Stop this partition, keep the worker and its other partitions
                // running; leak the payload rather than free on this thread.
                std::mem::forget(payload);
                s.faulted = 1;
            }
        }
        for (i, output) in self.outputs.iter_mut().enumerate() {
            match output {
                WorkerOutput::Audio(ring) => {
                    if ring.is_full() {
                        s.ring_full_drops += 1;
                        continue;
                    }
                    match self.frames.acquire() {
                        Ok(mut f) => {
                            if f.copy_from(self.exec.output_audio(i)).is_err() {
                                s.errors += 1;
                            } else if ring.push(f).is_err() {
                                s.ring_full_drops += 1;
                            }
                        }
                        Err(_) => s.pool_exhausted_drops += 1,
                    }
                }
                WorkerOutput::Packet(ring) => {
                    let Some(p) = self.exec.output_packet(i) else { continue };
                    if ring.is_full() {
                        s.ring_full_drops += 1;
                        continue;
                    }
                    match self.packets.acquire() {
                        Ok(mut slot) => {
                            slot.meta = p.meta;
                            if slot.set_payload(p.payload()).is_err() {
                                s.errors += 1; // same capacity on both sides: unreachable
                            } else if ring.push(slot).is_err() {
                                s.ring_full_drops += 1;
                            }
                        }
                        Err(_) => s.pool_exhausted_drops += 1,
                    }
                }
                WorkerOutput::Control(v) => v.store(self.exec.output_control(i).to_bits(), Ordering::Relaxed),
            }
        }
        let t1 = now_ns();
        let dt = t1.saturating_sub(t0);
        s.cycles += 1;
        s.last_ns = dt;
        s.max_ns = s.max_ns.max(dt);
        if deadline_ns.is_some_and(|d| t1 > d) {
            s.deadline_misses += 1;
        }
        self.window.record(dt);
        if (s.cycles + self.id.0) % QUANTILE_EVERY == 1 {
            (s.p50_ns, s.p99_ns) = self.window.p50_p99();
        }
        self.cell.write(&s.to_words());
    }
}
