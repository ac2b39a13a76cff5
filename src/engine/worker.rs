//! A worker: applies commands at the start of each cycle, runs its partitions' plans in
//! order, measures, and publishes statistics. The same code runs on a pinned real-time
//! thread ([`run_thread`]) or on the host's thread in driven mode.

use super::command::{Command, Refusal, Reply};
use super::partition::Partition;
use super::rt::{self, now_ns, RtPriority};
use crate::stats::{CycleWindow, WorkerStats, WorkerStatsCell};
use crate::sync::command::WorkerEnd;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Facts a worker thread records once at start-up.
#[derive(Debug, Default)]
pub(crate) struct WorkerInfo {
    /// Core index it is pinned to, or -1.
    pub(crate) core: AtomicI64,
    /// 0 = not requested, 1 = FIFO, 2 = denied.
    pub(crate) rt_state: AtomicU32,
    /// FIFO priority or OS error code.
    pub(crate) rt_value: AtomicI64,
    /// Set when set-up is complete.
    pub(crate) started: AtomicBool,
    /// The grid start of the last cycle finished, ns (0: none yet); read by
    /// [`super::CycleClock`].
    pub(crate) finished_cycle: AtomicU64,
}

impl WorkerInfo {
    pub(crate) fn priority(&self) -> RtPriority {
        match self.rt_state.load(Ordering::Acquire) {
            1 => RtPriority::Fifo(self.rt_value.load(Ordering::Relaxed) as u8),
            2 => RtPriority::Denied(self.rt_value.load(Ordering::Relaxed) as i32),
            _ => RtPriority::NotRequested,
        }
    }
}

/// Partitions stay boxed: they arrive as a `Box` in a command and leave as the same `Box`
/// in a reply, so adding and removing never allocates or frees on the worker.
#[allow(clippy::vec_box)]
type Placed = Vec<Box<Partition>>;

/// Per-worker state, owned by the thread that runs it.
pub(crate) struct Worker {
    commands: WorkerEnd<Command, Reply>,
    partitions: Placed,
    max_commands: usize,
    stats: WorkerStats,
    cell: Arc<WorkerStatsCell>,
    window: CycleWindow,
    /// Counters of partitions that were removed, so totals never go backwards.
    gone: (u64, u64, u64, u64),
}

impl Worker {
    pub(crate) fn new(
        commands: WorkerEnd<Command, Reply>,
        max_partitions: usize,
        max_commands: usize,
        window_cycles: u64,
        cell: Arc<WorkerStatsCell>,
    ) -> Self {
        Worker {
            commands,
            partitions: Vec::with_capacity(max_partitions),
            max_commands,
            stats: WorkerStats::default(),
            cell,
            window: CycleWindow::new(window_cycles),
            gone: (0, 0, 0, 0),
        }
    }

    fn apply(partitions: &mut Placed, gone: &mut (u64, u64, u64, u64), cmd: Command) -> Reply {
        let find = |parts: &mut Placed, id| parts.iter().position(|p| p.id == id);
        match cmd {
            Command::Add(p) => {
                if partitions.len() == partitions.capacity() {
                    // The control side counts partitions per worker, so this cannot happen;
                    // refuse rather than grow the vector (which would allocate here).
                    return Reply::AddRefused(p);
                }
                partitions.push(p);
                Reply::Added
            }
            Command::Remove(id) => match find(partitions, id) {
                Some(i) => {
                    let p = partitions.swap_remove(i);
                    gone.0 += p.stats.drops();
                    gone.1 += p.stats.underruns;
                    gone.2 += p.stats.errors;
                    gone.3 += p.stats.faulted;
                    Reply::Removed(p)
                }
                None => Reply::Refused(Refusal::UnknownPartition(id)),
            },
            Command::Edit(id, mut edit) => match find(partitions, id) {
                Some(i) => {
                    partitions[i].apply_edit(&mut edit);
                    Reply::Edited(edit)
                }
                None => Reply::EditRefused(edit),
            },
            Command::Message { partition, slot, mut payload } => match find(partitions, partition) {
                Some(i) => {
                    let result = partitions[i].deliver(slot, payload.as_mut());
                    partitions[i].stats.messages += 1;
                    Reply::Delivered(payload, result)
                }
                None => Reply::Delivered(payload, Err(rvoip_media_graph::MessageError::Invalid("no such partition"))),
            },
            Command::SetParam { partition, slot, param, value } => match find(partitions, partition) {
                Some(i) => match partitions[i].set_param(slot, param, value) {
                    Ok(()) => Reply::Done,
                    Err(e) => Reply::Refused(Refusal::Param(e)),
                },
                None => Reply::Refused(Refusal::UnknownPartition(partition)),
            },
            Command::Reset(partition) => match find(partitions, partition) {
                Some(i) => {
                    partitions[i].reset();
                    Reply::Done
                }
                None => Reply::Refused(Refusal::UnknownPartition(partition)),
            },
            Command::Ping => Reply::Pong,
        }
    }

    /// One cycle. `deadline_ns` is when it must be done (None: no deadline, e.g. driven).
    /// Real-time: no allocation, lock, blocking call or print.
    pub(crate) fn cycle(&mut self, deadline_ns: Option<u64>) {
        let t0 = now_ns();
        let (parts, gone) = (&mut self.partitions, &mut self.gone);
        let applied = self.commands.serve(self.max_commands, |cmd| Self::apply(parts, gone, cmd));
        let t_commands = now_ns().saturating_sub(t0);
        for p in self.partitions.iter_mut() {
            p.run_cycle(deadline_ns);
        }
        let t1 = now_ns();
        let dt = t1.saturating_sub(t0);
        let s = &mut self.stats;
        s.cycles += 1;
        s.commands += applied as u64;
        s.commands_last_ns = t_commands;
        s.commands_max_ns = s.commands_max_ns.max(t_commands);
        s.last_ns = dt;
        s.max_ns = s.max_ns.max(dt);
        if deadline_ns.is_some_and(|d| t1 > d) {
            s.deadline_misses += 1;
        }
        self.window.record(dt);
        if s.cycles % 8 == 1 {
            (s.p50_ns, s.p99_ns) = self.window.p50_p99(s.max_ns);
        }
        s.partitions = self.partitions.len() as u64;
        let (mut drops, mut underruns, mut errors, mut faults) = self.gone;
        for p in &self.partitions {
            drops += p.stats.drops();
            underruns += p.stats.underruns;
            errors += p.stats.errors;
            faults += p.stats.faulted;
        }
        (s.drops, s.underruns, s.errors, s.faults) = (drops, underruns, errors, faults);
        self.cell.write(&s.to_words());
    }

    /// Replies that could not be delivered (0 unless the protocol is broken).
    pub(crate) fn lost_replies(&self) -> u64 {
        self.commands.lost_replies()
    }
}

/// How a worker thread paces its cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// One cycle per quantum on absolute deadlines of the monotonic clock.
    Clock,
    /// Back-to-back cycles with no waiting, for capacity benchmarks. No deadlines.
    FreeRun,
}

pub(crate) struct ThreadSetup {
    pub(crate) core: Option<usize>,
    pub(crate) fifo_priority: Option<u8>,
    pub(crate) pacing: Pacing,
    pub(crate) quantum_ns: u64,
    /// When the first cycle starts (the same for every worker of an engine).
    pub(crate) epoch_ns: u64,
    pub(crate) info: Arc<WorkerInfo>,
    pub(crate) stop: Arc<AtomicBool>,
}

/// The body of a worker thread.
pub(crate) fn run_thread(mut worker: Worker, setup: ThreadSetup) {
    let info = &setup.info;
    let pinned = setup.core.filter(|&c| rt::pin_to(c));
    info.core.store(pinned.map_or(-1, |c| c as i64), Ordering::Relaxed);
    match setup.fifo_priority.map(rt::promote) {
        Some(RtPriority::Fifo(p)) => {
            info.rt_value.store(i64::from(p), Ordering::Relaxed);
            info.rt_state.store(1, Ordering::Release);
        }
        Some(RtPriority::Denied(code)) => {
            info.rt_value.store(i64::from(code), Ordering::Relaxed);
            info.rt_state.store(2, Ordering::Release);
        }
        _ => info.rt_state.store(0, Ordering::Release),
    }
    // Libraries that build per-thread state on first use (FFT plans) build it now, before the
    // first cycle, not inside one.
    rvoip_media_nodes::prepare_thread();
    info.started.store(true, Ordering::Release);
    rt::set_worker_thread(true);
    let q = setup.quantum_ns;
    // On the engine's grid: the first grid point still ahead.
    let mut start = setup.epoch_ns;
    let now = now_ns();
    if now >= start {
        start += (now - start) / q * q + q;
    }
    while !setup.stop.load(Ordering::Acquire) {
        match setup.pacing {
            Pacing::Clock => {
                rt::sleep_until(start);
                worker.cycle(Some(start + q));
                info.finished_cycle.store(start, Ordering::Release);
                start += q;
                // Far behind (a stall of many quanta, e.g. a suspended VM): resynchronise
                // instead of bursting through the backlog
                // (on the same grid).
                let now = now_ns();
                if now > start + 8 * q {
                    start += (now - start) / q * q;
                }
            }
            Pacing::FreeRun => worker.cycle(None),
        }
    }
    rt::set_worker_thread(false);
    drop(worker);
}
