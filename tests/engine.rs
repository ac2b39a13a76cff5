//! Runtime behaviour: commands, endpoints, errors, hot swap, statistics.

mod common;

use common::{chain, mono8k, PanicAt, Scale, Spin};
use rvoip_media_core::engine::{EndpointError, RtPriority};
use rvoip_media_core::prelude::*;
use std::time::Duration;

fn driven() -> (Engine, Driver) {
    Engine::driven(EngineConfig { command_capacity: 8, ..EngineConfig::default() }).unwrap()
}

#[test]
fn driven_partition_processes_and_takes_parameters() {
    let (engine, mut driver) = driven();
    let mut part = engine.add_partition(chain(Quantum::MS_10, 3, 0.5)).unwrap();
    let mut input = part.io.take_audio_in("in").unwrap();
    let mut output = part.io.take_audio_out("out").unwrap();
    assert_eq!(input.samples_per_quantum(), 80);

    input.push(&[0.8; 80]).unwrap();
    driver.process_cycle();
    let f = output.pop().expect("one frame out per cycle");
    assert!(f.samples().iter().all(|&s| (s - 0.1).abs() < 1e-7), "0.8 * 0.5^3");
    drop(f);

    // Parameter change by name, applied at the next cycle start.
    let t = engine.set_param_by_name(part.id, "s1", 0, 2.0).unwrap();
    assert!(!engine.is_done(t));
    input.push(&[0.8; 80]).unwrap();
    driver.process_cycle();
    assert!(engine.is_done(t));
    let f = output.pop().unwrap();
    assert!((f.samples()[0] - 0.4).abs() < 1e-7, "0.8 * 0.5 * 2 * 0.5 = {}", f.samples()[0]);

    // Out-of-range and unknown parameters are typed errors on the control side.
    assert!(matches!(engine.set_param_by_name(part.id, "s1", 0, 1e9), Err(EngineError::Param { .. })));
    assert!(matches!(engine.set_param_by_name(part.id, "s1", 0, f32::NAN), Err(EngineError::Param { .. })));
    assert!(matches!(engine.set_param_by_name(part.id, "s1", 7, 1.0), Err(EngineError::Param { .. })));
    assert!(matches!(engine.set_param_by_name(part.id, "nope", 0, 1.0), Err(EngineError::UnknownNodeName { .. })));
    // Graph inputs/outputs have no processor.
    let input_key = engine.node_key(part.id, "in").unwrap();
    assert!(matches!(engine.set_param(part.id, input_key, 0, 1.0), Err(EngineError::UnknownNode { .. })));
}

#[test]
fn underrun_gives_silence_and_is_counted() {
    let (engine, mut driver) = driven();
    let mut part = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).unwrap();
    let mut output = part.io.take_audio_out("out").unwrap();
    for _ in 0..3 {
        driver.process_cycle();
    }
    let mut n = 0;
    while let Some(f) = output.pop() {
        assert!(f.samples().iter().all(|&s| s == 0.0));
        n += 1;
    }
    assert_eq!(n, 3);
    let st = engine.partition_stats(part.id).unwrap();
    assert_eq!((st.cycles, st.underruns), (3, 3));
}

#[test]
fn bad_pushes_are_typed_errors_and_full_rings_drop_countably() {
    let cfg = EngineConfig { ring_capacity: 4, ..EngineConfig::default() };
    let (engine, mut driver) = Engine::driven(cfg).unwrap();
    let mut part = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).unwrap();
    let mut input = part.io.take_audio_in("in").unwrap();
    assert_eq!(input.push(&[0.0; 79]), Err(EndpointError::WrongLength { expected: 80, got: 79 }));
    for _ in 0..4 {
        input.push(&[0.0; 80]).unwrap();
    }
    assert_eq!(input.push(&[0.0; 80]), Err(EndpointError::RingFull));
    assert_eq!(input.queued(), 4);
    // Nobody reads the output: after 4 cycles its ring is full and further frames are
    // dropped and counted, never blocking the worker.
    for _ in 0..6 {
        driver.process_cycle();
    }
    let st = engine.partition_stats(part.id).unwrap();
    assert_eq!(st.ring_full_drops, 2);
    assert_eq!(st.underruns, 2);
    let status = engine.status();
    assert_eq!(status.workers[0].stats.drops, 2);
}

#[test]
fn command_queue_full_is_an_error_and_nothing_is_lost() {
    let (engine, mut driver) = driven(); // capacity 8
    let part = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).unwrap();
    let mut tickets = vec![part.ticket];
    for i in 0..7 {
        tickets.push(engine.set_param_by_name(part.id, "s0", 0, i as f32).unwrap());
    }
    let err = engine.set_param_by_name(part.id, "s0", 0, 9.0).unwrap_err();
    assert!(matches!(err, EngineError::CommandQueueFull { worker: 0, capacity: 8 }), "{err}");
    driver.process_cycle();
    assert!(tickets.iter().all(|t| engine.is_done(*t)));
    let st = engine.status();
    assert_eq!(st.workers[0].stats.commands, 8);
    assert_eq!(st.refusals, 0);
    assert_eq!(driver.lost_replies(), 0);
    // Room again.
    engine.set_param_by_name(part.id, "s0", 0, 9.0).unwrap();
}

#[test]
fn commands_per_cycle_are_bounded() {
    let cfg = EngineConfig { command_capacity: 64, max_commands_per_cycle: 5, ..EngineConfig::default() };
    let (engine, mut driver) = Engine::driven(cfg).unwrap();
    let part = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).unwrap();
    for _ in 0..11 {
        engine.set_param_by_name(part.id, "s0", 0, 1.0).unwrap();
    }
    let mut applied = Vec::new();
    for _ in 0..4 {
        driver.process_cycle();
        applied.push(engine.status().workers[0].stats.commands);
    }
    assert_eq!(applied, [5, 10, 12, 12]);
}

#[test]
fn removed_partition_is_a_typed_error() {
    let (engine, mut driver) = driven();
    let part = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).unwrap();
    let key = engine.node_key(part.id, "s0").unwrap();
    driver.process_cycle();
    let t = engine.remove_partition(part.id).unwrap();
    driver.process_cycle();
    assert!(engine.is_done(t));
    assert_eq!(engine.status().partitions, 0);
    assert_eq!(engine.status().workers[0].stats.partitions, 0);
    assert!(matches!(engine.remove_partition(part.id), Err(EngineError::UnknownPartition(id)) if id == part.id));
    assert!(matches!(engine.set_param(part.id, key, 0, 1.0), Err(EngineError::UnknownPartition(_))));
    assert!(matches!(engine.partition_stats(part.id), Err(EngineError::UnknownPartition(_))));
    assert!(matches!(engine.swap_plan(part.id, chain(Quantum::MS_10, 1, 1.0)), Err(EngineError::UnknownPartition(_))));
}

#[test]
fn swap_requires_same_ports_and_quantum() {
    let (engine, _driver) = driven();
    let part = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).unwrap();
    let f = mono8k();
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("in", PortKind::Audio(f));
    let o = b.add_output("out", PortKind::Audio(AudioFormat::mono(16000)));
    let _ = (i, o);
    let other = b.build();
    // Unconnected required output input is a graph error already.
    assert!(other.is_err());
    let err = engine.swap_plan(part.id, chain(Quantum::MS_20, 1, 1.0)).unwrap_err();
    assert!(matches!(err, EngineError::QuantumMismatch { .. }), "{err}");
}

/// Pushes frames whose samples carry their sequence number, swaps the plan (gain 1 -> 2)
/// in the middle, and checks that every input quantum comes out exactly once, in order,
/// with the gain switching at exactly one boundary.
fn check_swap_sequence(outputs: &[f32], n: usize) {
    assert_eq!(outputs.len(), n, "one output per input quantum");
    let mut switched_at = None;
    for (k, &v) in outputs.iter().enumerate() {
        let seq = (k + 1) as f32 / 1024.0;
        if (v - seq).abs() < 1e-9 {
            assert!(switched_at.is_none(), "gain went back to 1 at quantum {k}");
        } else if (v - 2.0 * seq).abs() < 1e-9 {
            switched_at.get_or_insert(k);
        } else {
            panic!("quantum {k}: got {v}, expected {seq} or {} (missing or duplicated quantum)", 2.0 * seq);
        }
    }
    let at = switched_at.expect("swap took effect");
    assert!(at > 0 && at < n, "swap at {at}");
}

#[test]
fn hot_swap_driven_loses_and_repeats_nothing() {
    let (engine, mut driver) = driven();
    let mut part = engine.add_partition(chain(Quantum::MS_10, 2, 1.0)).unwrap();
    let mut input = part.io.take_audio_in("in").unwrap();
    let mut output = part.io.take_audio_out("out").unwrap();
    let mut got = Vec::new();
    for k in 1..=40 {
        input.push(&[k as f32 / 1024.0; 80]).unwrap();
        if k == 17 {
            engine.swap_plan(part.id, chain(Quantum::MS_10, 1, 2.0)).unwrap();
        }
        driver.process_cycle();
        while let Some(f) = output.pop() {
            got.push(f.samples()[0]);
        }
    }
    check_swap_sequence(&got, 40);
    // Deterministic in driven mode: the swap applies at the start of the cycle that
    // processes quantum 17.
    assert_eq!(got[15], 16.0 / 1024.0);
    assert_eq!(got[16], 2.0 * 17.0 / 1024.0);
    assert_eq!(engine.partition_stats(part.id).unwrap().edits, 1);
}

#[test]
fn hot_swap_on_running_workers_loses_and_repeats_nothing() {
    let cfg = EngineConfig {
        quantum: Quantum::MS_2_5,
        workers: 2,
        realtime: None,
        ring_capacity: 256,
        ..EngineConfig::default()
    };
    let engine = Engine::start(cfg).unwrap();
    let mut part = engine.add_partition(chain(Quantum::MS_2_5, 1, 1.0)).unwrap();
    let mut input = part.io.take_audio_in("in").unwrap();
    let mut output = part.io.take_audio_out("out").unwrap();
    // Stall the partition until the ring is primed: add happens at the next cycle, and
    // the first cycles may underrun before we push. Count only what we pushed.
    engine.wait(part.ticket, Duration::from_secs(5)).unwrap();
    let n = 600;
    let mut pushed = 0;
    let mut got: Vec<f32> = Vec::new();
    let mut swapped = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got.len() < n && std::time::Instant::now() < deadline {
        // Keep ~0.5 s queued so a starved test thread on a busy machine cannot make the
        // worker underrun (an underrun would read as a missing quantum).
        while pushed < n && input.queued() < 200 {
            input.push(&[(pushed + 1) as f32 / 1024.0; 20]).unwrap();
            pushed += 1;
        }
        if !swapped && pushed > n / 2 {
            engine.swap_plan(part.id, chain(Quantum::MS_2_5, 1, 2.0)).unwrap();
            swapped = true;
        }
        // Leading silence: cycles before the first push; trailing silence: cycles after the
        // last frame was consumed. Both are underruns, not part of the sequence.
        while got.len() < n {
            let Some(f) = output.pop() else { break };
            let v = f.samples()[0];
            if v != 0.0 || !got.is_empty() {
                got.push(v);
            }
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    let st = engine.partition_stats(part.id).unwrap();
    assert_eq!(st.edits, 1);
    check_swap_sequence(&got, n);
    engine.shutdown();
}

#[test]
fn a_panicking_node_stops_only_its_partition() {
    let (engine, mut driver) = driven();
    let f = mono8k();
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("in", PortKind::Audio(f));
    let p = b.add_node("bomb", Box::new(PanicAt { format: f, cycle: 2 }));
    let o = b.add_output("out", PortKind::Audio(f));
    b.connect(i, 0, p, 0).unwrap();
    b.connect(p, 0, o, 0).unwrap();
    let bad = engine.add_partition(b.build().unwrap()).unwrap();
    let good = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).unwrap();
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for _ in 0..5 {
        driver.process_cycle();
    }
    std::panic::set_hook(prev);
    assert_eq!(engine.partition_stats(bad.id).unwrap().faulted, 1);
    // Cycles 0 and 1 ran, cycle 2 panicked (counted), then the partition stays stopped.
    assert_eq!(engine.partition_stats(bad.id).unwrap().cycles, 3);
    assert_eq!(engine.partition_stats(good.id).unwrap().cycles, 5);
    assert_eq!(engine.status().workers[0].stats.faults, 1);
}

#[test]
fn threaded_engine_reports_scheduling_and_stats_without_blocking() {
    let cfg = EngineConfig { quantum: Quantum::MS_5, workers: 2, ..EngineConfig::default() };
    let engine = Engine::start(cfg).unwrap();
    let st = engine.status();
    assert!(st.threaded);
    assert_eq!(st.workers.len(), 2);
    for w in &st.workers {
        // Either outcome is fine; what matters is that it is reported, not panicked on.
        assert!(matches!(w.priority, RtPriority::Fifo(80) | RtPriority::Denied(_)), "{:?}", w.priority);
    }
    let mut parts = Vec::new();
    for _ in 0..4 {
        parts.push(engine.add_partition(chain(Quantum::MS_5, 10, 1.0)).unwrap());
    }
    // Placement balances load across the two workers.
    assert_eq!(parts.iter().filter(|p| p.worker == 0).count(), 2);
    std::thread::sleep(Duration::from_millis(400));
    let st = engine.status();
    for w in &st.workers {
        assert!(w.stats.cycles >= 20, "{:?}", w.stats);
        assert_eq!(w.stats.partitions, 2);
        assert!(w.stats.p50_ns > 0 && w.stats.p50_ns <= w.stats.p99_ns && w.stats.p99_ns <= w.stats.max_ns * 2);
    }
    for p in &parts {
        let ps = engine.partition_stats(p.id).unwrap();
        assert!(ps.cycles >= 40, "{ps:?}");
        assert!(ps.p50_ns > 0 && ps.p50_ns <= ps.p99_ns && ps.p99_ns <= ps.max_ns * 2, "{ps:?}");
        assert!(ps.max_ns >= ps.last_ns);
    }
    let t = engine.ping(1).unwrap();
    engine.wait(t, Duration::from_secs(2)).unwrap();
    assert!(matches!(engine.ping(5), Err(EngineError::NoSuchWorker(5))));
    engine.shutdown();
}

#[test]
fn frame_pool_exhaustion_is_typed_and_counted() {
    let cfg = EngineConfig { frame_pool: 3, ring_capacity: 8, ..EngineConfig::default() };
    let (engine, mut driver) = Engine::driven(cfg).unwrap();
    let mut part = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).unwrap();
    let mut input = part.io.take_audio_in("in").unwrap();
    for _ in 0..3 {
        input.push(&[0.1; 80]).unwrap();
    }
    assert!(matches!(input.push(&[0.1; 80]), Err(EndpointError::PoolExhausted(_))));
    // The worker frees one input frame per cycle and takes one for the output: with
    // nobody reading outputs the pool stays full and output frames are counted drops.
    for _ in 0..6 {
        driver.process_cycle();
    }
    let st = engine.partition_stats(part.id).unwrap();
    assert!(st.pool_exhausted_drops >= 3, "{st:?}");
    assert!(engine.status().frame_pool_exhausted >= 4);
}

#[test]
fn graph_with_wrong_quantum_or_oversized_frames_is_refused() {
    let (engine, _d) = driven();
    let err = engine.add_partition(chain(Quantum::MS_20, 1, 1.0)).err().unwrap();
    assert!(matches!(err, EngineError::QuantumMismatch { .. }));
    let cfg = EngineConfig { frame_capacity: 40, ..EngineConfig::default() };
    let (engine, _d) = Engine::driven(cfg).unwrap();
    let err = engine.add_partition(chain(Quantum::MS_10, 1, 1.0)).err().unwrap();
    assert!(matches!(err, EngineError::FrameTooSmall { samples: 80, capacity: 40, .. }), "{err}");
    let _ = Scale { format: mono8k(), gain: 1.0 };
}

#[test]
fn overrunning_cycles_are_counted_as_deadline_misses() {
    let q = Quantum::MS_2_5;
    let cfg = EngineConfig { quantum: q, workers: 1, realtime: None, ..EngineConfig::default() };
    let engine = Engine::start(cfg).unwrap();
    let f = mono8k();
    let mut b = GraphBuilder::new(q);
    let i = b.add_input("in", PortKind::Audio(f));
    // Every 20th cycle takes 4 ms of a 2.5 ms period.
    let n = b.add_node("slow", Box::new(Spin { format: f, every: 20, micros: 4_000 }));
    let o = b.add_output("out", PortKind::Audio(f));
    b.connect(i, 0, n, 0).unwrap();
    b.connect(n, 0, o, 0).unwrap();
    let slow = engine.add_partition(b.build().unwrap()).unwrap();
    let fast = engine.add_partition(chain(q, 1, 1.0)).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let ps = engine.partition_stats(slow.id).unwrap();
    let ws = engine.status().workers[0].stats;
    let cycles = ps.cycles;
    assert!(cycles >= 100, "{ps:?}");
    // At least one overrun per 20 cycles ends past its deadline.
    assert!(ps.deadline_misses >= cycles / 20 / 2, "{ps:?}");
    assert!(ws.deadline_misses >= ps.deadline_misses, "{ws:?} vs {ps:?}");
    assert!(ps.max_ns >= 4_000_000, "{ps:?}");
    // The partition placed after it in the same cycle is late too, and says so.
    let fs = engine.partition_stats(fast.id).unwrap();
    assert!(fs.deadline_misses >= 1, "{fs:?}");
    engine.shutdown();
}

#[test]
fn a_worker_stalled_200_ms_resynchronises_instead_of_bursting() {
    // After 50 cycles, a swapped-in node stalls the worker for 200 ms, then is swapped out.
    let q = Quantum::MS_10;
    let cfg = EngineConfig { quantum: q, workers: 1, realtime: None, ..EngineConfig::default() };
    let engine = Engine::start(cfg).unwrap();
    let f = mono8k();
    let mut b = GraphBuilder::new(q);
    let i = b.add_input("in", PortKind::Audio(f));
    let n = b.add_node("stall", Box::new(Spin { format: f, every: 1_000_000, micros: 0 }));
    let o = b.add_output("out", PortKind::Audio(f));
    b.connect(i, 0, n, 0).unwrap();
    b.connect(n, 0, o, 0).unwrap();
    let stalled = engine.add_partition(b.build().unwrap()).unwrap();
    let other = engine.add_partition(chain(q, 1, 1.0)).unwrap();
    engine.wait(other.ticket, Duration::from_secs(5)).unwrap();
    while engine.partition_stats(other.id).unwrap().cycles < 50 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut b = GraphBuilder::new(q);
    let i = b.add_input("in", PortKind::Audio(f));
    let n = b.add_node("stall", Box::new(Spin { format: f, every: 1, micros: 200_000 }));
    let o = b.add_output("out", PortKind::Audio(f));
    b.connect(i, 0, n, 0).unwrap();
    b.connect(n, 0, o, 0).unwrap();
    let t = engine.swap_plan(stalled.id, b.build().unwrap()).unwrap();
    engine.wait(t, Duration::from_secs(5)).unwrap();
    let before = engine.partition_stats(other.id).unwrap().cycles;
    // Put the fast node back so the worker can recover.
    let t = engine.swap_plan(stalled.id, chain_named(q)).unwrap();
    engine.wait(t, Duration::from_secs(5)).unwrap();
    let t0 = std::time::Instant::now();
    let start = engine.partition_stats(other.id).unwrap().cycles;
    std::thread::sleep(Duration::from_millis(300));
    let ran = engine.partition_stats(other.id).unwrap().cycles - start;
    let elapsed = t0.elapsed().as_millis() as u64;
    // After the stall the worker resynchronised to the clock: about one cycle per 10 ms, not
    // a burst of catch-up cycles.
    assert!(ran <= elapsed / 10 + 3, "{ran} cycles in {elapsed} ms");
    assert!(ran >= elapsed / 10 / 2, "{ran} cycles in {elapsed} ms: the worker stopped");
    assert!(before >= 50);
    let ws = engine.status().workers[0].stats;
    assert!(ws.deadline_misses >= 1, "{ws:?}");
    assert!(ws.max_ns >= 200_000_000, "{ws:?}");
    assert_eq!(engine.partition_stats(other.id).unwrap().faulted, 0);
    engine.shutdown();
}

/// `in` -> Scale -> `out` with the node named "stall", to swap back over the stalling graph.
fn chain_named(q: Quantum) -> CompiledGraph {
    let f = mono8k();
    let mut b = GraphBuilder::new(q);
    let i = b.add_input("in", PortKind::Audio(f));
    let n = b.add_node("stall", Box::new(Scale { format: f, gain: 1.0 }));
    let o = b.add_output("out", PortKind::Audio(f));
    b.connect(i, 0, n, 0).unwrap();
    b.connect(n, 0, o, 0).unwrap();
    b.build().unwrap()
}
