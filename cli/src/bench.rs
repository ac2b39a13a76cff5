//! `rvoip-media bench`: whole-system capacity measurements.
//!
//! `bench conference --legs 8,100,1000` builds a live G.711 room per size (legs through the
//! codec model: decode with concealment, N-1 mix, encode) and runs it on a driven engine,
//! feeding every leg a packet each cycle, and reports the cycle time
//! (p50/p99/max), the cost per leg, and how many legs one core sustains at the 10 ms quantum
//! with the p99 cycle.

use super::CliError;
use rvoip_media_core::conference::{LegMedia, Room};
use rvoip_media_core::engine::PacketIn;
use rvoip_media_core::prelude::*;
use rvoip_media_core::stats::Histogram;
use rvoip_media_nodes::G711Law;
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
}

/// Benchmarks.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum What {
    /// A G.711 N-1 conference room: decode, mix, encode for every leg.
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
    match a.what {
        What::Conference => conference(&legs, cycles),
    }
}

fn conference(sizes: &[usize], cycles: usize) -> Result<(), CliError> {
    println!("| legs | cycle p50 us | cycle p99 us | cycle max us | ns per leg per cycle (p50) | legs per core at 10 ms (p99) |");
    println!("|---|---|---|---|---|---|");
    for &n in sizes {
        let law = G711Law::Ulaw;
        let cfg = EngineConfig {
            packet_pool: (n * 8).max(256),
            frame_pool: 64,
            ring_capacity: 4,
            max_partitions_per_worker: 4,
            ..EngineConfig::default()
        };
        let (engine, mut driver) = Engine::driven(cfg)?;
        let mut room = Room::new(&engine, AudioFormat::mono(8000), n)?;
        let joins = (0..n).map(|i| (format!("p{i}"), LegMedia::g711(law, 10_000, i as u32)));
        let mut io = room.join_many(&engine, joins)?.io;
        let mut rx: Vec<PacketIn> = (0..n).map(|i| io.take_packet_in(&format!("p{i}.rx")).expect("rx")).collect();
        let mut tx: Vec<_> = (0..n).map(|i| io.take_packet_out(&format!("p{i}.tx")).expect("tx")).collect();
        let mut payload = [0u8; 80];
        let mut hist = Histogram::new();
        let mut max = 0u64;
        for c in 0..cycles + 50 {
            for (i, r) in rx.iter_mut().enumerate() {
                let pcm: Vec<f32> = (0..80).map(|k| (((c * 80 + k) as f32) * 0.05 + i as f32).sin() * 0.3).collect();
                law.encode_f32(&pcm, &mut payload);
                let meta = PacketMeta {
                    payload_type: law.payload_type(),
                    sequence: c as u16,
                    timestamp: (c * 80) as u32,
                    ssrc: i as u32,
                    ..PacketMeta::default()
                };
                r.push(meta, &payload).map_err(|e| CliError::Usage(format!("feeding: {e}")))?;
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
        let quantum_ns = Quantum::MS_10.micros() as u64 * 1000;
        // Extrapolating legs per core only means something while a cycle fits the quantum.
        let per_core = if p99 <= quantum_ns {
            format!("{:.0}", n as f64 * quantum_ns as f64 / p99.max(1) as f64)
        } else {
            "— (p99 over the 10 ms quantum)".to_string()
        };
        println!(
            "| {n} | {:.1} | {:.1} | {:.1} | {:.0} | {per_core} |",
            p50 as f64 / 1e3,
            p99 as f64 / 1e3,
            max as f64 / 1e3,
            p50 as f64 / n as f64,
        );
    }
    Ok(())
}
