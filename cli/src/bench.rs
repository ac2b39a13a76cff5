//! `rvoip-media bench`: whole-system capacity measurements.
//!
//! `bench conference --legs 8,100,1000` builds a live room per size (legs through the codec
//! model: decode with concealment, N-1 mix, encode) and runs it on a driven engine, feeding
//! every leg a packet each cycle, and reports the cycle time (p50/p99/max), the cost per leg,
//! and how many legs one core sustains at the quantum with the p99 cycle.
//!
//! `--codec` picks the legs' codec (PCMU by default; the room mixes at the codec's rate,
//! packets of one quantum). `--talkers T` (T ≥ 1) makes it a bridge room as users run one:
//! a talker policy hearing the T loudest, shared encodes, and RFC 6464 silent-leg skipping —
//! T legs send a tone with a "voice" level, the others silence with a "silent" level (V = 0,
//! −127 dBov), which their decoders skip; the table then also shows the decodes skipped and
//! the encodes per cycle (from the nodes' telemetry). Without it every leg sends a tone and
//! every leg hears everybody (a plain room).

use super::CliError;
use crate::codec_arg::Codec;
use rvoip_media_core::conference::{LegMedia, LegOptions, Room, RoomConfig};
use rvoip_media_core::engine::PacketIn;
use rvoip_media_core::prelude::*;
use rvoip_media_core::stats::Histogram;
use rvoip_media_graph::MAX_PAYLOAD;
use rvoip_media_nodes::codec::{CodecId, Encoder};
use rvoip_media_nodes::mixer::TalkerPolicy;
use std::time::Instant;

/// Arguments of `bench`.
#[derive(clap::Args)]
pub struct Args {
    /// What to measure.
    #[arg(value_enum)]
    what: What,
    /// Room sizes.
    #[arg(long, value_delimiter = ',', default_value = "8,100,1000", allow_negative_numbers = true)]
    legs: Vec<i64>,
    /// Cycles per size (at least 1).
    #[arg(long, default_value_t = 2000, allow_negative_numbers = true)]
    cycles: i64,
    /// The legs' codec (one packet per quantum; Opus at 48 kHz).
    #[arg(long, value_enum, default_value = "pcmu")]
    codec: Codec,
    /// Talkers in a bridge room (policy, shared encodes, silent-leg skipping); 0: a plain room.
    #[arg(long, default_value_t = 0)]
    talkers: usize,
    /// The engine's quantum in ms (10 or 20; Opus shares encodes when its 20 ms frame is the quantum).
    #[arg(long, default_value_t = 10)]
    quantum_ms: u32,
}

/// Benchmarks.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum What {
    /// An N-1 conference room: decode, mix, encode for every leg.
    Conference,
}

pub fn run(a: Args) -> Result<(), CliError> {
    let cycles = usize::try_from(a.cycles)
        .ok()
        .filter(|&c| c >= 1)
        .ok_or_else(|| CliError::Usage(format!("--cycles must be at least 1, got {}", a.cycles)))?;
    let legs = a
        .legs
        .iter()
        .map(|&n| {
            usize::try_from(n)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(|| CliError::Usage(format!("--legs: a room needs at least 1 leg, got {n}")))
        })
        .collect::<Result<Vec<usize>, CliError>>()?;
    let quantum = match a.quantum_ms {
        10 => Quantum::MS_10,
        20 => Quantum::MS_20,
        q => return Err(CliError::Usage(format!("--quantum-ms must be 10 or 20, got {q}"))),
    };
    let setup = Setup { codec: a.codec.id(), talkers: a.talkers, quantum };
    match a.what {
        What::Conference => conference(&legs, cycles, setup),
    }
}

/// How the benchmark's rooms are built.
#[derive(Clone, Copy)]
struct Setup {
    codec: CodecId,
    talkers: usize,
    quantum: Quantum,
}

/// RFC 6464 level bytes: a talker's (V = 1, −12 dBov) and a silent leg's (V = 0, −127 dBov).
const VOICE: u8 = 0x80 | 12;
const SILENT: u8 = 127;

fn conference(sizes: &[usize], cycles: usize, setup: Setup) -> Result<(), CliError> {
    let q = setup.quantum;
    let quantum_ns = u64::from(q.micros()) * 1000;
    let bridge = setup.talkers > 0;
    print!("| legs | cycle p50 us | cycle p99 us | cycle max us | ns per leg per cycle (p50) | legs per core at {} ms (p99) |", q.micros() / 1000);
    if bridge {
        print!(" decodes skipped per cycle | encodes per cycle |");
    }
    println!();
    println!("|---|---|---|---|---|---|{}", if bridge { "---|---|" } else { "" });
    let rate = setup.codec.capability().sample_rates.iter().copied().max().unwrap_or(8000);
    for &n in sizes {
        let cfg = EngineConfig {
            quantum: q,
            packet_pool: (n * 8).max(256),
            frame_pool: 64,
            ring_capacity: 4,
            max_partitions_per_worker: 4,
            ..EngineConfig::default()
        };
        let (engine, mut driver) = Engine::driven(cfg)?;
        let mut config = RoomConfig::new(AudioFormat::mono(rate)).with_capacity(n);
        if bridge {
            let policy = TalkerPolicy { max_talkers: setup.talkers, ..TalkerPolicy::default() };
            config = config.with_max_members(n).with_policy(policy).with_shared_encodes();
        }
        let mut room = Room::with_config(&engine, config)?;
        let options = LegOptions { skip_silent_at: bridge.then_some(50), ..LegOptions::default() };
        let mut joins = Vec::with_capacity(n);
        for i in 0..n {
            let media =
                LegMedia::codec(setup.codec, q.micros(), i as u32).map_err(|e| CliError::Usage(e.to_string()))?;
            joins.push((format!("p{i}"), media, options.clone()));
        }
        let mut io = room.join_many_with(&engine, joins, |_| {})?.io;
        let mut rx: Vec<PacketIn> = (0..n).map(|i| io.take_packet_in(&format!("p{i}.rx")).expect("rx")).collect();
        let mut tx: Vec<_> = (0..n).map(|i| io.take_packet_out(&format!("p{i}.tx")).expect("tx")).collect();
        // The host side's encoders (not timed): every talker encodes its tone each cycle; in
        // a bridge room the silent legs all send one packet of encoded silence.
        let talking = |i: usize| !bridge || i < setup.talkers;
        let mut encoders = (0..n)
            .map(|i| if talking(i) { setup.codec.encoder(rate, 1, false).map(Some) } else { Ok(None) })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CliError::Usage(e.to_string()))?;
        let samples = q.frames_at(rate).unwrap_or(0);
        let mut silent_enc = setup.codec.encoder(rate, 1, false).map_err(|e| CliError::Usage(e.to_string()))?;
        let mut silence = vec![0u8; MAX_PAYLOAD];
        let silence_len = encode(&mut *silent_enc, &vec![0.0; samples], &mut silence);
        let (ticks, payload_type) = (silent_enc.info().rtp_ticks(samples) as usize, silent_enc.info().payload_type);
        let mut payload = vec![0u8; MAX_PAYLOAD];
        let mut pcm = vec![0.0f32; samples];
        let mut hist = Histogram::new();
        let mut max = 0u64;
        for c in 0..cycles + 50 {
            for (i, r) in rx.iter_mut().enumerate() {
                let (bytes, level) = match encoders[i].as_deref_mut() {
                    Some(enc) => {
                        for (k, v) in pcm.iter_mut().enumerate() {
                            *v = (((c * samples + k) as f32) * 0.05 * 8000.0 / rate as f32 + i as f32).sin() * 0.3;
                        }
                        let len = encode(enc, &pcm, &mut payload);
                        (&payload[..len], VOICE)
                    }
                    None => (&silence[..silence_len], SILENT),
                };
                let meta = PacketMeta {
                    payload_type,
                    sequence: c as u16,
                    timestamp: (c * ticks) as u32,
                    ssrc: i as u32,
                    audio_level: bridge.then_some(level),
                    ..PacketMeta::default()
                };
                r.push(meta, bytes).map_err(|e| CliError::Usage(format!("feeding: {e}")))?;
            }
            let t = Instant::now();
            driver.process_cycle();
            let dt = t.elapsed().as_nanos() as u64;
            if c >= 50 {
                hist.record(dt);
                max = max.max(dt);
            }
            for t in tx.iter_mut() {
                while t.pop().is_some() {}
            }
        }
        // Quantiles are bucket midpoints: never report them above the measured maximum.
        let empty = Histogram::new();
        let p99 = hist.quantile_with(&empty, 0.99).min(max);
        let p50 = hist.quantile_with(&empty, 0.5).min(p99);
        // Extrapolating legs per core only means something while a cycle fits the quantum.
        let per_core = if p99 <= quantum_ns {
            format!("{:.0}", n as f64 * quantum_ns as f64 / p99.max(1) as f64)
        } else {
            format!("— (p99 over the {} ms quantum)", q.micros() / 1000)
        };
        print!(
            "| {n} | {:.1} | {:.1} | {:.1} | {:.0} | {per_core} |",
            p50 as f64 / 1e3,
            p99 as f64 / 1e3,
            max as f64 / 1e3,
            p50 as f64 / n as f64,
        );
        if bridge {
            // Telemetry is published every few cycles: per cycle over the cycles it covers.
            engine.poll();
            let s = room.stats(&engine)?;
            let covered = s.per_member.iter().map(|p| p.packets_in + p.foreign_packets).sum::<u64>() as f64 / n as f64;
            let skipped: u64 = s.per_member.iter().map(|p| p.skipped_decodes).sum();
            let encodes: u64 = s.per_member.iter().map(|p| p.own_quanta).sum::<u64>() + s.shared_encoder_quanta;
            print!(" {:.1} | {:.1} |", skipped as f64 / covered.max(1.0), encodes as f64 / covered.max(1.0));
        }
        println!();
    }
    Ok(())
}

/// Encodes one quantum of `pcm` frame by frame into `out`; returns the bytes written.
fn encode(enc: &mut dyn Encoder, pcm: &[f32], out: &mut [u8]) -> usize {
    let mut len = 0;
    for f in pcm.chunks(enc.info().frame_len().max(1)) {
        len += enc.encode(f, &mut out[len..]).map_or(0, |e| e.len);
    }
    len
}
