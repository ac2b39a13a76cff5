//! `rvoip-media demo`: a live conference on the real-time workers.
//!
//! A "network" thread plays the part of N remote phones: every 10 ms it encodes the next
//! 10 ms of the bundled speech for each participant (each from a different offset) into a
//! G.711 packet and pushes it into the room's `p{i}.rx` endpoint, then collects what the
//! room sent on `p{i}.tx` and decodes it: that is what participant `i` hears. The room (a
//! live [`Room`]: decode with concealment → N-1 mix → encode for every leg) runs on a pinned
//! worker thread paced on absolute deadlines. Once a second the main thread prints the worker's cycle-time statistics.

use super::{output::Outputs, wavio, wavio::WavOut, CliError};
use rvoip_media_core::conference::{LegMedia, Room};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::wav::WavSampleFormat;
use rvoip_media_nodes::G711Law;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Participants in the room.
    #[arg(long, default_value_t = 8, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(2..=2000))]
    participants: u32,
    /// How long the call lasts, in seconds.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    seconds: f64,
    /// Where each participant's received audio is written (participant_NN.wav).
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Speech to play (8 kHz, at least 1 s); defaults to the clip built into the binary.
    #[arg(long)]
    speech: Option<PathBuf>,
    /// A-law instead of μ-law.
    #[arg(long)]
    alaw: bool,
}

struct Leg {
    rx: PacketIn,
    tx: PacketOut,
    offset: usize,
    /// What this participant hears, streamed to its file as it arrives (memory stays flat
    /// however long the demo runs).
    heard: WavOut,
    sent: u64,
    received: u64,
    push_failures: u64,
}

pub fn run(a: Args) -> Result<(), CliError> {
    if !(a.seconds > 0.0 && a.seconds <= 3600.0) {
        return Err(CliError::Usage(format!("--seconds must be in (0, 3600], got {}", a.seconds)));
    }
    let (speech_name, speech) = match &a.speech {
        Some(p) => (p.display().to_string(), wavio::read(p)?),
        None => ("the built-in speech".to_string(), bundled_speech()?),
    };
    if speech.format != AudioFormat::mono(8000) || speech.samples.len() < 8000 {
        return Err(CliError::Usage(format!(
            "{speech_name}: the demo plays 8000 Hz speech of at least 1 s, got {} Hz, {:.2} s",
            speech.format.rate,
            speech.samples.len() as f64 / f64::from(speech.format.rate.max(1))
        )));
    }
    let n = a.participants as usize;
    let mut outputs = Outputs::new();
    outputs.create_dir(&a.out)?;
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let path = a.out.join(format!("participant_{i:02}.wav"));
        files.push(WavOut::new(outputs.create(&path)?, &path, 8000, WavSampleFormat::Int16)?);
    }
    let out_dir = std::fs::canonicalize(&a.out).unwrap_or_else(|_| a.out.clone());
    println!("recording what each participant hears into {}", out_dir.display());
    let law = if a.alaw { G711Law::Alaw } else { G711Law::Ulaw };
    let quantum = Quantum::MS_10;
    let cfg = EngineConfig {
        quantum,
        frame_pool: 64,
        packet_pool: (n * 40).max(256),
        ring_capacity: 16,
        ..EngineConfig::default()
    };
    let engine = Engine::start(cfg)?;
    let status = engine.status();
    for w in &status.workers {
        let sched = match w.priority {
            RtPriority::Fifo(p) => format!("SCHED_FIFO priority {p}"),
            RtPriority::Denied(code) => format!("normal priority (SCHED_FIFO refused, os error {code})"),
            RtPriority::NotRequested => "normal priority".to_string(),
        };
        let core = w.core.map_or("unpinned".to_string(), |c| format!("pinned to core {c}"));
        println!("worker {}: {core}, {sched}", w.index);
    }
    let mut room = Room::new(&engine, AudioFormat::mono(8000), n)?;
    let joins = (0..n).map(|i| (format!("p{i}"), LegMedia::g711(law, 10_000, i as u32)));
    let mut io = room.join_many(&engine, joins)?.io;
    let total = speech.samples.len();
    let mut legs: Vec<Leg> = files
        .into_iter()
        .enumerate()
        .map(|(i, heard)| Leg {
            rx: io.take_packet_in(&format!("p{i}.rx")).expect("room has rx ports"),
            tx: io.take_packet_out(&format!("p{i}.tx")).expect("room has tx ports"),
            offset: (i * total / n) / 80 * 80,
            heard,
            sent: 0,
            received: 0,
            push_failures: 0,
        })
        .collect();
    println!(
        "room: {n} participants, {} legs decode (with concealment) -> N-1 mix -> encode, {} quantum, {:.1} s",
        law.encoding(),
        quantum,
        a.seconds
    );
    let ticks = (a.seconds * 100.0).round() as u64;
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let samples = Arc::new(speech.samples);
    let network = std::thread::Builder::new()
        .name("demo-network".into())
        .spawn(move || {
            let written = network(&mut legs, &samples, law, ticks);
            done2.store(true, Ordering::Release);
            (legs, written)
        })
        .map_err(|source| CliError::Io { path: "thread".into(), source })?;
    let t0 = Instant::now();
    let mut second = 1;
    while !done.load(Ordering::Acquire) {
        let next = t0 + Duration::from_secs(second);
        while Instant::now() < next && !done.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if done.load(Ordering::Acquire) {
            break;
        }
        print_status(&engine, &format!("t={second:>3}s"), n);
        second += 1;
    }
    let (legs, written) = network.join().map_err(|_| CliError::Internal("network thread panicked"))?;
    print_status(&engine, "end   ", n);
    let st = engine.status();
    let pst = engine.partition_stats(room.id())?;
    engine.remove_partition(room.id())?;
    // A failed write (a full disk) ends the demo with that error; `outputs` then removes
    // every file, so no partial recording is left.
    written?;
    let (mut sent, mut received, mut failures) = (0, 0, 0);
    for leg in legs {
        sent += leg.sent;
        received += leg.received;
        failures += leg.push_failures;
        leg.heard.finish()?;
    }
    let misses: u64 = st.workers.iter().map(|w| w.stats.deadline_misses).sum();
    // Every packet offered is accounted for: taken by the room's receive rings or refused
    // because a ring was full. Every packet the room sent reached a phone unless it was
    // dropped (ring full, pool exhausted), counted by the engine.
    println!(
        "packets in:  {} offered by the phones = {sent} taken by the room + {failures} refused (receive ring full)",
        sent + failures
    );
    println!(
        "packets out: {received} received by the phones; {} dropped by the room ({} send ring full, {} pool \
         exhausted) over {} cycles",
        pst.drops(),
        pst.ring_full_drops,
        pst.pool_exhausted_drops,
        pst.cycles
    );
    println!("{misses} deadline misses, {} receive underruns, {} errors", pst.underruns, pst.errors);
    outputs.commit()?;
    println!("wrote {n} files to {}", out_dir.display());
    engine.shutdown();
    let dropped = failures + pst.drops();
    if misses > 0 || dropped > 0 || pst.errors > 0 {
        return Err(CliError::Failed(format!(
            "demo: the room did not keep up: {misses} deadline misses, {dropped} packets dropped \
             ({failures} refused on the way in, {} in the room), {} errors; try fewer --participants",
            pst.drops(),
            pst.errors
        )));
    }
    Ok(())
}

fn print_status(engine: &Engine, label: &str, legs: usize) {
    let st = engine.status();
    for w in &st.workers {
        let s = w.stats;
        println!(
            "{label} worker {} cycles {:>6} cycle p50 {:>7.1} us p99 {:>7.1} us max {:>7.1} us \
             deadline misses {} active legs {} drops {} underruns {}",
            w.index,
            s.cycles,
            // Quantiles are bucket midpoints: never shown above the measured maximum.
            s.p50_ns.min(s.p99_ns).min(s.max_ns) as f64 / 1e3,
            s.p99_ns.min(s.max_ns) as f64 / 1e3,
            s.max_ns as f64 / 1e3,
            s.deadline_misses,
            if s.partitions > 0 { legs } else { 0 },
            s.drops,
            s.underruns,
        );
    }
}

/// The remote phones: every 10 ms send each participant's next packet and collect what the
/// room sent back (written to each participant's file). Runs on an ordinary thread with
/// absolute deadlines. Stops at the first failed write and returns it.
fn network(legs: &mut [Leg], speech: &[f32], law: G711Law, ticks: u64) -> Result<(), CliError> {
    let start = Instant::now();
    let period = Duration::from_millis(10);
    let mut payload = [0u8; 80];
    // Two packets of slack absorb scheduling jitter between this thread and the worker.
    for tick in 0..ticks + 2 {
        if tick >= 2 {
            let due = start + period * (tick - 2) as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        if tick < ticks {
            for (i, leg) in legs.iter_mut().enumerate() {
                let pos = (leg.offset + tick as usize * 80) % (speech.len() - 80);
                law.encode_f32(&speech[pos..pos + 80], &mut payload);
                let meta = PacketMeta {
                    payload_type: law.payload_type(),
                    sequence: tick as u16,
                    timestamp: (tick * 80) as u32,
                    ssrc: 1000 + i as u32,
                    marker: tick == 0,
                    arrival_ns: 0,
                    audio_level: None,
                };
                match leg.rx.push(meta, &payload) {
                    Ok(()) => leg.sent += 1,
                    Err(_) => leg.push_failures += 1,
                }
            }
        }
        collect(legs, law)?;
    }
    // Let the worker finish the last quanta, then collect them.
    std::thread::sleep(period * 3);
    collect(legs, law)
}

/// Decodes every packet the room has sent each leg and appends it to that participant's
/// file: what they hear.
fn collect(legs: &mut [Leg], law: G711Law) -> Result<(), CliError> {
    let mut pcm = [0f32; 80];
    for leg in legs.iter_mut() {
        while let Some(p) = leg.tx.pop() {
            let n = p.payload().len().min(pcm.len());
            law.decode_f32(&p.payload()[..n], &mut pcm[..n]);
            leg.heard.write(&pcm[..n])?;
            leg.received += 1;
        }
    }
    Ok(())
}

/// The speech built into the binary (examples/data/speech_en_8k.wav), parsed from memory, so
/// an installed binary needs no file next to it.
fn bundled_speech() -> Result<wavio::WavData, CliError> {
    static SPEECH: &[u8] = include_bytes!("../../examples/data/speech_en_8k.wav");
    let err = |e: rvoip_media_nodes::WavError| CliError::Wav { path: "built-in speech".into(), detail: e.to_string() };
    let mut r = rvoip_media_nodes::wav::WavReader::new(SPEECH).map_err(err)?;
    let mut samples = vec![0f32; r.info().frames_declared.unwrap_or(0) as usize];
    let n = r.read(&mut samples).map_err(err)?;
    samples.truncate(n);
    Ok(wavio::WavData { format: AudioFormat::mono(r.info().rate), samples })
}
