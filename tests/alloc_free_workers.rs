//! Proof of invariant 1: no allocation and no free on a worker thread after start-up.
//!
//! A counting global allocator attributes every allocation, reallocation and free to the
//! calling thread; `engine::is_worker_thread()` tells worker threads apart (a `const`
//! thread-local, itself allocation-free). A 2-worker engine runs well over 1,000 cycles per
//! worker of graphs with more than 50 nodes (chains, fan-out and fan-in sums) while this
//! thread streams audio through the endpoints and sends more than 100 commands: parameter
//! changes, partition adds and removes, plan swaps — then a live conference room goes
//! through joins, leaves, codec switches and mixer growth (edits and messages) with packets
//! flowing, plain and with a talker policy, shared encodes and members muted by message;
//! and a mixed room (PCMU, G.722, Opus at 48 kHz) with shared encodes of every codec,
//! stateful hand-overs, RFC 6464 skipped decodes and a foreign payload type.
//! Worker allocations and frees must be 0.

mod common;

use common::{mono8k, Scale};
use rvoip_media_core::conference::{LegMedia, LegOptions, MemberStats, Room, RoomConfig};
use rvoip_media_core::engine::{PacketIn, PacketOut};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::apm::RnnoiseSuppressor;
use rvoip_media_nodes::codec::{CodecId, Decoder, G711CodecDecoder, G711CodecEncoder, DECODE_TELEMETRY};
use rvoip_media_nodes::jitter::JitterConfig;
use rvoip_media_nodes::mixer::{MemberSettings, TalkerPolicy};
use rvoip_media_nodes::G711Law;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[path = "support/worker_alloc.rs"]
mod worker_alloc;

use worker_alloc::{WorkerCounting, ALL_ALLOCS, WORKER_ALLOCS, WORKER_FREES};

#[global_allocator]
static ALLOC: WorkerCounting = WorkerCounting;

/// `in` -> fan-out to `width` chains of `depth` Scale nodes -> fan-in (a sum step) ->
/// Scale -> `out`. Node count: width * depth + 1 processing nodes.
fn wide_graph(quantum: Quantum, width: usize, depth: usize, gain: f32) -> CompiledGraph {
    let f = mono8k();
    let a = PortKind::Audio(f);
    let mut b = GraphBuilder::new(quantum);
    let input = b.add_input("in", a);
    let last = b.add_node("last", Box::new(Scale { format: f, gain: 1.0 }));
    for w in 0..width {
        let mut prev = input;
        for d in 0..depth {
            let n = b.add_node(format!("n{w}_{d}"), Box::new(Scale { format: f, gain }));
            b.connect(prev, 0, n, 0).unwrap();
            prev = n;
        }
        b.connect(prev, 0, last, 0).unwrap();
    }
    let out = b.add_output("out", a);
    b.connect(last, 0, out, 0).unwrap();
    b.build().unwrap()
}

#[test]
fn alloc_none_on_worker_threads_under_load_and_commands() {
    let q = Quantum::MS_2_5;
    let cfg = EngineConfig { quantum: q, workers: 2, command_capacity: 64, ..EngineConfig::default() };
    let engine = Engine::start(cfg).unwrap();

    // Two long-lived partitions of 61 processing nodes each, one per worker.
    let mut parts = Vec::new();
    for _ in 0..2 {
        let g = wide_graph(q, 6, 10, 1.0);
        assert!(g.plan.node_steps() >= 50);
        parts.push(engine.add_partition(g).unwrap());
    }
    assert_ne!(parts[0].worker, parts[1].worker);
    let mut ios: Vec<_> =
        parts.iter_mut().map(|p| (p.io.take_audio_in("in").unwrap(), p.io.take_audio_out("out").unwrap())).collect();
    let ids: Vec<_> = parts.iter().map(|p| p.id).collect();

    let start_allocs = ALL_ALLOCS.load(Ordering::Relaxed);
    let mut commands = 0u32;
    let mut frames_out = 0u64;
    let mut transient = Vec::new();
    let t0 = Instant::now();
    let mut step = 0u32;
    loop {
        let st = engine.status();
        let min_cycles = st.workers.iter().map(|w| w.stats.cycles).min().unwrap_or(0);
        if (min_cycles >= 1_200 && commands >= 120) || t0.elapsed() > Duration::from_secs(60) {
            break;
        }
        // Stream audio through both partitions.
        for (input, output) in ios.iter_mut() {
            while input.queued() < 4 {
                input.push(&[0.01; 20]).unwrap();
            }
            while let Some(f) = output.pop() {
                // Silence when the worker ran before this thread's first push (an
                // underrun); otherwise six unity branches summed.
                let v = f.samples()[0];
                assert!(v == 0.0 || (v - 6.0 * 0.01).abs() < 1e-6, "unexpected output {v}");
                frames_out += u64::from(v != 0.0);
            }
        }
        // Commands of every kind, spread over the run.
        if commands < 140 {
            let id = ids[(step % 2) as usize];
            let r = match step % 7 {
                0..=2 => engine.set_param_by_name(id, "last", 0, 1.0).map(|_| ()),
                3 => {
                    let p = engine.add_partition(wide_graph(q, 5, 10, 1.0)).unwrap();
                    transient.push(p);
                    Ok(())
                }
                4 => match transient.pop() {
                    Some(p) => engine.remove_partition(p.id).map(|_| ()),
                    None => engine.set_param_by_name(id, "n0_0", 0, 1.0).map(|_| ()),
                },
                _ => engine.swap_plan(id, wide_graph(q, 6, 10, 1.0)).map(|_| ()),
            };
            match r {
                Ok(()) => commands += 1,
                Err(EngineError::CommandQueueFull { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        step += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    let st = engine.status();
    for w in &st.workers {
        assert!(w.stats.cycles >= 1_000, "worker {} ran {} cycles", w.index, w.stats.cycles);
    }
    assert!(commands >= 100, "sent {commands} commands");
    assert_eq!(st.refusals, 0);
    assert!(frames_out > 1_000, "{frames_out} frames streamed");
    // The control side did allocate (plans, partitions): the counter works.
    assert!(ALL_ALLOCS.load(Ordering::Relaxed) > start_allocs + 100);

    // Live edits flowing: a room of G.711 legs through the codec model with joins, leaves,
    // codec switches (messages), mixer growth (a bigger store and a new mixer), telemetry
    // reads, while packets stream in and out.
    room_churn(&engine, RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4));
    // The same churn in a room with a talker policy (levels, loudest 3, dominant speaker,
    // events) and shared encodes, members muted and unmuted by message.
    let policy = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4).with_policy(TalkerPolicy::default());
    room_churn(&engine, policy.with_shared_encodes());
    // The same churn in a kernel room: legs moved in and out by message, the store grown
    // by message, packets recycled and leftovers released in batches on the worker.
    room_churn(&engine, RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4).with_kernel());
    // A kernel room with a talker policy and shared encodes: every leg observed, the
    // loudest three chosen, events sent, the selection's state taken over by the grown store
    // on the worker, listeners splicing the shared encode's packets, the encode installed
    // and taken out by message, who was mixed published on the heard board each cycle.
    let policy = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4).with_policy(TalkerPolicy::default());
    room_churn(&engine, policy.with_shared_encodes().with_kernel().with_heard_board());
    // The same churn in a kernel room spread over both workers: each shard publishes its
    // rows, waits for the other's with a deadline (a spin reading the clock), sums them;
    // both shards' stores grown by message as the room fills.
    room_churn(&engine, RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4).with_kernel_workers(2));
    // The same with a talker policy and shared encodes: each shard observes its legs,
    // publishes its claims with their rows, reads the others' and chooses from all; its
    // listeners splice its own shared encode; the first publishes whom the room heard on
    // the heard board.
    let policy = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4).with_policy(TalkerPolicy::default());
    room_churn(&engine, policy.with_shared_encodes().with_kernel_workers(2).with_heard_board());
    engine.shutdown();

    // A mixed room: PCMU, G.722 and Opus legs at 48 kHz, shared encodes of all three,
    // talkers changing (stateful hand-overs), RFC 6464 silent packets skipped, a foreign
    // payload type dropped.
    mixed_room_on_a_worker();

    // The neural noise suppressor, built here and run on a worker: its library's per-thread
    // FFT state was built when the worker started, not in a cycle.
    neural_ns_on_a_worker();

    let (allocs, frees) = (WORKER_ALLOCS.load(Ordering::Relaxed), WORKER_FREES.load(Ordering::Relaxed));
    assert_eq!((allocs, frees), (0, 0), "allocations / frees on worker threads");

    // Negative control: a node that allocates on the worker is caught by this counter.
    let engine = Engine::start(EngineConfig { quantum: q, workers: 1, ..EngineConfig::default() }).unwrap();
    let f = mono8k();
    let mut b = GraphBuilder::new(q);
    let i = b.add_input("in", PortKind::Audio(f));
    let n = b.add_node("allocates", Box::new(Allocates(f)));
    let o = b.add_output("out", PortKind::Audio(f));
    b.connect(i, 0, n, 0).unwrap();
    b.connect(n, 0, o, 0).unwrap();
    let p = engine.add_partition(b.build().unwrap()).unwrap();
    engine.wait(p.ticket, Duration::from_secs(5)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    engine.shutdown();
    assert!(WORKER_ALLOCS.load(Ordering::Relaxed) > 0, "the counter must see a worker allocation");
}

/// A 10 ms engine running `in -> RnnoiseSuppressor -> out` at 16 kHz for 100 frames of noisy
/// tone, the output checked to be processed audio.
fn neural_ns_on_a_worker() {
    let f = AudioFormat::mono(16_000);
    let engine = Engine::start(EngineConfig { workers: 1, ..EngineConfig::default() }).unwrap();
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let i = b.add_input("in", PortKind::Audio(f));
    let n = b.add_node("rnnoise", Box::new(RnnoiseSuppressor::new(16_000).unwrap()));
    let o = b.add_output("out", PortKind::Audio(f));
    b.connect(i, 0, n, 0).unwrap();
    b.connect(n, 0, o, 0).unwrap();
    let mut p = engine.add_partition(b.build().unwrap()).unwrap();
    let (mut input, mut output) = (p.io.take_audio_in("in").unwrap(), p.io.take_audio_out("out").unwrap());
    let (mut sent, mut received, mut energy) = (0u32, 0u32, 0.0f64);
    let t0 = Instant::now();
    while received < 100 && t0.elapsed() < Duration::from_secs(20) {
        while input.queued() < 4 {
            let frame: Vec<f32> = (0..160)
                .map(|k| {
                    let t = (sent as usize * 160 + k) as f32;
                    0.2 * (t * 0.09).sin() + 0.01 * ((t * 7919.0) % 13.0 - 6.0)
                })
                .collect();
            input.push(&frame).unwrap();
            sent += 1;
        }
        while let Some(frame) = output.pop() {
            received += 1;
            energy += frame.samples().iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    engine.shutdown();
    assert!(received >= 100, "{received} frames through the suppressor");
    assert!(energy > 1.0, "the tone came through ({energy})");
}

/// A 48 kHz policy room with shared encodes on a 20 ms worker: two legs each of PCMU, G.722
/// and Opus sending tones as RTP (legs 0 and 2 talk, then 4 takes over from 0), odd legs
/// behind a jitter buffer, every packet with an RFC 6464 level (the silent ones skipped, in
/// both paths), one packet of a payload type not negotiated; 100 cycles.
fn mixed_room_on_a_worker() {
    let codecs = [CodecId::Pcmu, CodecId::Pcmu, CodecId::G722, CodecId::G722, CodecId::Opus, CodecId::Opus];
    let q = Quantum::MS_20;
    let engine = Engine::start(EngineConfig { quantum: q, workers: 1, ..EngineConfig::default() }).unwrap();
    let policy = TalkerPolicy { comfort_noise_dbfs: None, ..TalkerPolicy::default() };
    let config = RoomConfig::for_codec_rates(codecs.map(CodecId::native_rate)).with_max_members(6).with_policy(policy);
    let mut room = Room::with_config(&engine, config.with_shared_encodes()).unwrap();
    // Odd legs behind a jitter buffer, even ones through a plain decoder.
    let options = |i: usize| LegOptions {
        skip_silent_at: Some(50),
        audio_level: true,
        jitter: (i % 2 == 1).then(JitterConfig::default),
        ..LegOptions::default()
    };
    let mut legs = Vec::new();
    for (i, &c) in codecs.iter().enumerate() {
        let name = format!("m{i}");
        let media = LegMedia::codec(c, 20_000, i as u32).unwrap();
        let mut io = room.join_with(&engine, &name, media, options(i)).unwrap().io;
        let rx = io.take_packet_in(&format!("{name}.rx")).unwrap();
        let tx = io.take_packet_out(&format!("{name}.tx")).unwrap();
        legs.push((c.encoder(c.native_rate(), 1, false).unwrap(), rx, tx, c.native_rate()));
    }
    assert_eq!(room.shared_encodes(), 3);
    let mut payload = vec![0u8; 1500];
    // Packets the legs sent, and those carrying an RFC 6464 level (all of them).
    let (mut out, mut levelled) = (0u64, 0u64);
    let t0 = Instant::now();
    let mut next = Instant::now();
    for n in 0..100u32 {
        for (i, (enc, rx, tx, r)) in legs.iter_mut().enumerate() {
            let talking = match i {
                0 => n < 50,
                2 => true,
                4 => n >= 50,
                _ => false,
            };
            let samples = (*r / 50) as usize;
            let amp = if talking { 0.25 } else { 0.0 };
            let pcm: Vec<f32> =
                (0..samples).map(|k| amp * ((n as usize * samples + k) as f32 * 0.07 * (i + 1) as f32).sin()).collect();
            let mut len = 0;
            for f in pcm.chunks(enc.info().frame_len()) {
                len += enc.encode(f, &mut payload[len..]).unwrap().len;
            }
            let info = enc.info();
            let foreign = i == 0 && n == 30;
            let meta = PacketMeta {
                payload_type: if foreign { 8 } else { info.payload_type },
                sequence: n as u16,
                timestamp: n * info.rtp_ticks(samples),
                ssrc: i as u32,
                audio_level: Some(if talking { 0x80 | 12 } else { 127 }),
                ..PacketMeta::default()
            };
            let _ = rx.push(meta, &payload[..len]);
            while let Some(p) = tx.pop() {
                out += 1;
                levelled += u64::from(p.meta.audio_level.is_some());
            }
        }
        next += Duration::from_millis(20);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(300));
    engine.poll();
    let s = room.stats(&engine).unwrap();
    let sum = |f: fn(&MemberStats) -> u64| s.per_member.iter().map(f).sum::<u64>();
    assert!(engine.partition_stats(room.id()).unwrap().cycles >= 80, "{t0:?}");
    assert_eq!(sum(|p| p.foreign_packets), 1);
    assert!(sum(|p| p.skipped_decodes) > 200, "silent packets skipped: {}", sum(|p| p.skipped_decodes));
    let skipped = |i: usize| s.per_member.iter().find(|p| p.name == format!("m{i}")).unwrap().skipped_decodes;
    assert!(skipped(1) > 50 && skipped(3) > 50, "behind the jitter buffers: {} {}", skipped(1), skipped(3));
    assert!(sum(|p| p.handoffs) >= 1 && sum(|p| p.shared_quanta) > 100, "{s:?}");
    assert!(s.shared_encoder_quanta > 200, "{}", s.shared_encoder_quanta);
    assert!(out > 300 && levelled == out, "{levelled} of {out} packets carry a level");
    engine.shutdown();
}

/// Joins, leaves, switches and telemetry on a live room while packets flow; at least 60
/// edits and 400 cycles of the room.
fn room_churn(engine: &Engine, config: RoomConfig) {
    let mut room = Room::with_config(engine, config).unwrap();
    let mut legs: Vec<(String, PacketIn, PacketOut, u32)> = Vec::new();
    // Every third leg behind a jitter buffer (a session's).
    let buffered = |i: u32| i % 3 == 2;
    let info = *G711CodecDecoder::new(G711Law::Ulaw).info();
    let jitter = JitterConfig::for_stream(&info, engine.config().quantum);
    let join = |room: &mut Room, legs: &mut Vec<(String, PacketIn, PacketOut, u32)>, i: u32| {
        let name = format!("leg{i}");
        let options = LegOptions { jitter: buffered(i).then_some(jitter), ..LegOptions::default() };
        match room.join_with(engine, &name, LegMedia::g711(G711Law::Ulaw, 20_000, i), options) {
            Ok(mut done) => {
                let rx = done.io.take_packet_in(&format!("{name}.rx")).unwrap();
                let tx = done.io.take_packet_out(&format!("{name}.tx")).unwrap();
                legs.push((name, rx, tx, 0));
                true
            }
            Err(EngineError::CommandQueueFull { .. }) => false,
            Err(e) => panic!("{e}"),
        }
    };
    for i in 0..6 {
        assert!(join(&mut room, &mut legs, i));
    }
    let (mut edits, mut next, mut packets_out) = (0, 6, 0u64);
    let t0 = Instant::now();
    let mut last_feed = Instant::now();
    // At least 60 edits, a second, and 400 cycles of the room (a loaded machine may run the
    // edits faster than the room's cycles accumulate).
    let room_id = room.id();
    let cycles = || engine.partition_stats(room_id).map_or(0, |s| s.cycles);
    while edits < 60 || t0.elapsed() < Duration::from_secs(1) || cycles() < 400 {
        assert!(t0.elapsed() < Duration::from_secs(60), "room churn stalled");
        if last_feed.elapsed() >= Duration::from_millis(20) {
            last_feed = Instant::now();
            for (_, rx, tx, sent) in legs.iter_mut() {
                let meta = PacketMeta { sequence: *sent as u16, timestamp: *sent * 160, ..Default::default() };
                if rx.push(meta, &[0x55; 160]).is_ok() {
                    *sent += 1;
                }
                while tx.pop().is_some() {
                    packets_out += 1;
                }
            }
        }
        let ok = match edits % 4 {
            0 | 1 => {
                next += 1;
                join(&mut room, &mut legs, next)
            }
            2 => {
                let (name, ..) = legs.remove(0);
                room.leave(engine, &name).is_ok()
            }
            _ => {
                // A plain leg (a buffered one takes no live codec switch).
                let plain = |n: &String| !buffered(n.trim_start_matches("leg").parse().unwrap());
                let name = legs.iter().map(|l| &l.0).rev().find(|n| plain(n)).unwrap().clone();
                let enc = Box::new(G711CodecEncoder::new(G711Law::Alaw));
                let dec = Box::new(G711CodecDecoder::new(G711Law::Alaw));
                let ok = room.switch_codec(engine, &name, enc, dec, 20_000).is_ok();
                if let Some(key) = room.decoder_of(&name) {
                    assert_eq!(engine.telemetry(room.id(), key).unwrap().names.len(), DECODE_TELEMETRY.len());
                }
                let muted = edits % 8 == 3;
                let s = MemberSettings { muted, ..MemberSettings::default() };
                ok && room.set_member(engine, &legs[0].0, s).is_ok()
            }
        };
        edits += u32::from(ok);
        std::thread::sleep(Duration::from_millis(5));
    }
    // A spread room has its ports from the start; the others grew.
    assert!(room.capacity() > 4, "the room grew");
    assert!(packets_out > 500, "{packets_out} packets out");
    let shards = room.shards();
    let parts = if shards.is_empty() { vec![room.id()] } else { shards };
    let edits: u64 = parts.iter().map(|&id| engine.partition_stats(id).unwrap().edits).sum();
    let stats = engine.partition_stats(room.id()).unwrap();
    assert!(edits >= 60 && stats.cycles >= 400, "{edits} edits, {stats:?}");
    for id in parts {
        let t = engine.remove_partition(id).unwrap();
        engine.wait(t, Duration::from_secs(5)).unwrap();
    }
}

/// Allocates (and frees) a vector every cycle: what the engine must never do.
struct Allocates(AudioFormat);

impl Processor for Allocates {
    fn spec(&self) -> NodeSpec {
        let a = PortKind::Audio(self.0);
        NodeSpec::new("allocates").with_input(PortSpec::required("in", a)).with_output(PortSpec::required("out", a))
    }
    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let copy: Vec<f32> = io.audio_in(0).to_vec();
        io.audio_out(0).copy_from_slice(std::hint::black_box(&copy));
    }
}
