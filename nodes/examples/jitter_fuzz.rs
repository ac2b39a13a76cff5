//! Long seeded fuzz run of the jitter buffer: arbitrary packet sequences (plausible
//! streams mixed with garbage: random sequence numbers, timestamps, payload types, SSRCs,
//! payload lengths and bytes, arrival times that go backwards or far ahead, floods) fed to
//! a G.711 and an Opus buffer (half the Opus runs with libopus's neural concealment), with
//! random resets. Every output sample must be finite and within [-1, 1]; a panic is caught
//! and counted as a crash.
//!
//! ```text
//! cargo run --release -p rvoip-media-nodes --example jitter_fuzz -- 300   # seconds
//! ```

use rvoip_media_graph::{Packet, PacketMeta, SplitMix64, MAX_PAYLOAD};
use rvoip_media_nodes::codec::G711CodecDecoder;
use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig};
use rvoip_media_nodes::opus::OpusCodecDecoder;
use rvoip_media_nodes::G711Law;
use std::time::Instant;

/// One run of `ticks` 10 ms ticks; returns packets fed. Panics on a bad output sample.
fn run(seed: u64, ticks: u64) -> u64 {
    let mut r = SplitMix64::new(seed);
    let opus = seed % 2 == 1;
    let (mut jb, pt, q, step) = if opus {
        let dec = OpusCodecDecoder::new(16_000, 1, 20_000).expect("opus decoder");
        // Every other Opus run with libopus's neural concealment, as a call's buffer runs it.
        let dec = Box::new(if seed % 4 == 3 { dec.with_deep_plc() } else { dec });
        (JitterBuffer::new(dec, JitterConfig::default()).expect("buffer").with_payload_type(111), 111u8, 160, 960u32)
    } else {
        let dec = Box::new(G711CodecDecoder::new(G711Law::Ulaw));
        (JitterBuffer::new(dec, JitterConfig::default()).expect("buffer"), 0u8, 80, 160u32)
    };
    let mut out = vec![0f32; q];
    let (mut seq, mut ts) = (r.next_u64() as u16, r.next_u64() as u32);
    let mut payload = [0u8; 1600];
    let mut fed = 0;
    for k in 0..ticks {
        let now = k * 10_000_000;
        let burst = if r.below(200) == 0 { 64 } else { r.below(4) };
        for _ in 0..burst {
            let len = match r.below(10) {
                0 => 0,
                1 => r.below(1600) as usize,
                _ => {
                    if opus {
                        60
                    } else {
                        160
                    }
                }
            }
            .min(MAX_PAYLOAD);
            for b in payload[..len].iter_mut() {
                *b = r.next_u64() as u8;
            }
            if opus && len > 0 && r.below(2) == 0 {
                payload[0] = 0x08 | (r.below(32) as u8) << 3; // a plausible TOC byte
            }
            let mut meta = PacketMeta {
                payload_type: pt,
                sequence: seq,
                timestamp: ts,
                ssrc: 1,
                marker: false,
                arrival_ns: now,
                audio_level: None,
            };
            match r.below(100) {
                0..=59 => {
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(step);
                }
                60..=69 => meta.sequence = r.next_u64() as u16,
                70..=74 => meta.timestamp = r.next_u64() as u32,
                75..=79 => meta.ssrc = r.below(3) as u32,
                80..=84 => meta.payload_type = r.below(128) as u8,
                85..=89 => meta.arrival_ns = r.next_u64(),
                90..=94 => meta.arrival_ns = now.saturating_sub(r.below(5_000_000_000)),
                _ => meta.marker = true,
            }
            jb.insert(&Packet::from_payload(meta, &payload[..len]).expect("fits"));
            fed += 1;
        }
        if r.below(5000) == 0 {
            jb.reset();
        }
        jb.pull(now, &mut out);
        assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0), "seed {seed} tick {k}: bad sample");
    }
    fed
}

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(10.0);
    std::panic::set_hook(Box::new(|_| {}));
    let start = Instant::now();
    let (mut runs, mut packets, mut ticks, mut crashes) = (0u64, 0u64, 0u64, Vec::new());
    let mut seed = 0;
    while start.elapsed().as_secs_f64() < secs {
        match std::panic::catch_unwind(|| run(seed, 6000)) {
            Ok(n) => packets += n,
            Err(_) => crashes.push(seed),
        }
        runs += 1;
        ticks += 6000;
        seed += 1;
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "jitter_fuzz: {runs} runs (seeds 0..{seed}), {ticks} ticks ({:.1} h of audio), {packets} packets in {t:.0} s; crashes: {}",
        ticks as f64 / 360_000.0,
        crashes.len()
    );
    if !crashes.is_empty() {
        println!("crashing seeds: {crashes:?}");
        std::process::exit(1);
    }
}
