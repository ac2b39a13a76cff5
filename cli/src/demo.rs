//! `rvoip-media demo`: a live conference on the real-time workers, with people joining,
//! leaving and taking turns.
//!
//! A "network" thread plays the part of N remote phones with mixed codecs (by default
//! PCMU, G.722, Opus and G.729 in turn): every 10 ms it takes, for each participant in the
//! room, the next 10 ms of what that participant says (the bundled speech during its turns,
//! quiet background noise otherwise), brings it to the phone's codec rate and, once a 20 ms
//! packet is full, encodes it into the room's `p{i}.rx` endpoint; then it collects what the
//! room sent on `p{i}.tx` and decodes it: what participant `i` hears, at its codec's rate.
//! The room mixes at 48 kHz when an Opus phone is in it (16 kHz otherwise) and resamples
//! each leg once each way. The main thread runs the script of [`schedule`] — half the
//! participants at the start, the others joining and some leaving while the room runs
//! (live edits: nobody else's state is touched) — prints the worker's cycle times once a
//! second and reads the room's talk and dominant-speaker events. The room is a live
//! [`Room`] with a VAD per leg, loudest-three selection, dominant-speaker tracking and shared
//! encodes, on a pinned worker paced on absolute deadlines. At the end [`picture`] draws
//! who was there, their levels, who the room heard talking and who dominated.

mod picture;
mod schedule;

use super::codec_arg::{encode_frame_by_frame, Codec};
use super::{output::Outputs, wavio, wavio::WavOut, CliError};
use rvoip_media_core::conference::{LegMedia, LegOptions, Room, RoomConfig, RoomEventKind};
use rvoip_media_core::engine::EndpointError;
use rvoip_media_core::prelude::*;
use rvoip_media_graph::SplitMix64;
use rvoip_media_graph::MAX_PAYLOAD;
use rvoip_media_nodes::codec::{Decoder, Encoder};
use rvoip_media_nodes::mixer::TalkerPolicy;
use rvoip_media_nodes::resample::Resampler;
use rvoip_media_nodes::wav::WavSampleFormat;
use schedule::Schedule;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Arguments of `demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Participants in the room (half at the start, the others join while it runs).
    #[arg(long, default_value_t = 8, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(2..=2000))]
    participants: u32,
    /// How long the call lasts, in seconds.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    seconds: f64,
    /// Where each participant's received audio is written (participant_NN.wav), with the
    /// picture of the room (room.svg).
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Speech to play (8 kHz, at least 1 s); defaults to the clip built into the binary.
    #[arg(long)]
    speech: Option<PathBuf>,
    /// The phones' codecs, given to the participants in turn.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "pcmu,g722,opus,g729")]
    codecs: Vec<Codec>,
    /// A-law instead of μ-law for the G.711 phones.
    #[arg(long)]
    alaw: bool,
}

/// Participants drawn in the picture (the first ones).
const PLOTTED: usize = 16;
/// Level of a participant's background noise between its turns, dBFS RMS.
const BACKGROUND_DBFS: f32 = -60.0;
/// Ticks of 10 ms per second.
const TICKS_PER_S: f64 = 100.0;
/// Packet duration of every phone (Opus encodes 20 ms frames).
const PTIME_US: u32 = 20_000;

/// A phone's codec: what it encodes what it says with and decodes what it hears with, at
/// the codec's own rate.
struct Phone {
    encoder: Box<dyn Encoder>,
    decoder: Box<dyn Decoder>,
    /// The 8 kHz speech brought to the codec's rate (none at 8 kHz).
    up: Option<Resampler>,
    /// Audio waiting for a full packet, and the packet's length in samples.
    pending: Vec<f32>,
    packet_samples: usize,
    timestamp: u32,
}

impl Phone {
    fn new(codec: Codec) -> Result<Phone, CliError> {
        let (id, rate) = (codec.id(), codec.rate());
        let bad = |e: rvoip_media_nodes::codec::CodecError| CliError::Usage(format!("demo: {e}"));
        let up = if rate == 8000 {
            None
        } else {
            Some(Resampler::new(8000, rate, 1).map_err(|e| CliError::Usage(format!("demo: {e}")))?)
        };
        let packet_samples = (u64::from(rate) * u64::from(PTIME_US) / 1_000_000) as usize;
        Ok(Phone {
            encoder: id.encoder(rate, 1, false).map_err(bad)?,
            decoder: id.decoder(rate, 1).map_err(bad)?,
            up,
            pending: Vec::with_capacity(2 * packet_samples + 1024),
            packet_samples,
            timestamp: 0,
        })
    }

    fn rate(&self) -> u32 {
        self.encoder.info().sample_rate
    }
}

/// One participant's phone, on the network thread.
struct Leg {
    phone: Phone,
    /// Its endpoints while it is in the room.
    rx: Option<PacketIn>,
    tx: Option<PacketOut>,
    /// Told to leave: sends nothing more, collects until the room lets go of it.
    leaving: bool,
    offset: usize,
    /// What this participant hears, streamed to its file as it arrives (memory stays flat
    /// however long the demo runs).
    heard: WavOut,
    seq: u16,
    sent: u64,
    received: u64,
    push_failures: u64,
    /// Packets it had sent that the room had not read when it left.
    unread_at_leave: u64,
    /// Its level per 100 ms (plotted participants only).
    levels: Vec<Option<f32>>,
    level_sum: f64,
    level_frames: u32,
}

/// What the main thread tells the network thread.
enum Net {
    Join { index: usize, rx: PacketIn, tx: PacketOut },
    Leave(usize),
}

/// What the main thread saw of one participant, in seconds.
#[derive(Default)]
struct Seen {
    present: (f64, f64),
    talking: Vec<(f64, f64)>,
    talking_since: Option<f64>,
    dominant: Vec<(f64, f64)>,
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
    if a.codecs.is_empty() {
        return Err(CliError::Usage("--codecs: name at least one codec".into()));
    }
    let codec_of = |i: usize| match a.codecs[i % a.codecs.len()] {
        Codec::Pcmu if a.alaw => Codec::Pcma,
        c => c,
    };
    let mut phones = (0..n).map(|i| Phone::new(codec_of(i))).collect::<Result<Vec<_>, _>>()?;
    let ticks = (a.seconds * TICKS_PER_S).round() as u64;
    let script = Schedule::new(n, ticks, 1);
    let mut outputs = Outputs::new();
    outputs.create_dir(&a.out)?;
    let mut files = Vec::with_capacity(n);
    for (i, phone) in phones.iter().enumerate() {
        let path = a.out.join(format!("participant_{i:02}.wav"));
        files.push(WavOut::new(outputs.create(&path)?, &path, phone.rate(), WavSampleFormat::Int16)?);
    }
    let picture_path = a.out.join("room.svg");
    let mut picture_file = outputs.create(&picture_path)?;
    let out_dir = std::fs::canonicalize(&a.out).unwrap_or_else(|_| a.out.clone());
    println!("recording what each participant hears into {}", out_dir.display());
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
    let config = RoomConfig::for_codec_rates(phones.iter().map(Phone::rate))
        .with_capacity(n)
        .with_policy(TalkerPolicy::default())
        .with_shared_encodes();
    let mut room = Room::with_config(&engine, config)?;
    let leg = |i: usize| -> Result<(String, LegMedia, LegOptions), CliError> {
        let media = LegMedia::codec(codec_of(i).id(), PTIME_US, 1000 + i as u32)
            .map_err(|e| CliError::Usage(format!("demo: {e}")))?;
        Ok((format!("p{i}"), media, LegOptions { vad: true, ..LegOptions::default() }))
    };
    let first: Vec<usize> = (0..n).filter(|&i| script.joins[i] == 0).collect();
    let joins = first.iter().map(|&i| leg(i)).collect::<Result<Vec<_>, _>>()?;
    let mut io = room.join_many_with(&engine, joins, |_| {})?.io;
    let labels: Vec<String> = phones.iter().map(|p| p.encoder.info().encoding.to_string()).collect();
    let total = speech.samples.len();
    let mut legs: Vec<Leg> = files
        .into_iter()
        .zip(phones.drain(..))
        .enumerate()
        .map(|(i, (heard, phone))| Leg {
            phone,
            rx: None,
            tx: None,
            leaving: false,
            offset: (i * total / n) / 80 * 80,
            heard,
            seq: 0,
            sent: 0,
            received: 0,
            push_failures: 0,
            unread_at_leave: 0,
            levels: if i < PLOTTED { vec![None; ticks.div_ceil(10) as usize] } else { Vec::new() },
            level_sum: 0.0,
            level_frames: 0,
        })
        .collect();
    for &i in &first {
        legs[i].rx = io.take_packet_in(&format!("p{i}.rx"));
        legs[i].tx = io.take_packet_out(&format!("p{i}.tx"));
    }
    println!(
        "room: {n} participants ({} at the start, the others join while it runs), mixing at {} Hz; legs {}: \
         decode -> resample -> VAD -> loudest 3 of the talkers mixed -> shared encodes per codec, {} quantum, {:.1} s",
        first.len(),
        room.config().format.rate,
        a.codecs.iter().map(|c| c.name().to_uppercase()).collect::<Vec<_>>().join("/"),
        quantum,
        a.seconds
    );
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let samples = Arc::new(speech.samples);
    let (net_tx, net_rx) = mpsc::channel::<Net>();
    let cycle0 = engine.partition_stats(room.id())?.cycles;
    let script = Arc::new(script);
    let script2 = script.clone();
    let network = std::thread::Builder::new()
        .name("demo-network".into())
        .spawn(move || {
            let written = network(&mut legs, &samples, ticks, &script2, &net_rx);
            done2.store(true, Ordering::Release);
            (legs, written)
        })
        .map_err(|source| CliError::Io { path: "thread".into(), source })?;
    let t0 = Instant::now();
    let mut seen: Vec<Seen> = (0..n.min(PLOTTED)).map(|_| Seen::default()).collect();
    let mut joins: Vec<(u64, usize)> = (0..n).filter(|&i| script.joins[i] > 0).map(|i| (script.joins[i], i)).collect();
    let mut leaves: Vec<(u64, usize)> = (0..n).filter_map(|i| script.leaves[i].map(|t| (t, i))).collect();
    joins.sort_unstable();
    leaves.sort_unstable();
    let (mut joins, mut leaves) = (joins.into_iter().peekable(), leaves.into_iter().peekable());
    let mut dominant: Option<(usize, f64)> = None;
    let mut second = 1;
    let event_time = |cycle: u64| cycle.saturating_sub(cycle0) as f64 / TICKS_PER_S;
    while !done.load(Ordering::Acquire) {
        let now = t0.elapsed().as_secs_f64();
        let tick = (now * TICKS_PER_S) as u64;
        while let Some(&(_, i)) = joins.peek().filter(|(t, _)| *t <= tick) {
            joins.next();
            let mut io = room.join_many_with(&engine, [leg(i)?], |_| {})?.io;
            let rx = io.take_packet_in(&format!("p{i}.rx")).ok_or(CliError::Internal("leg without rx"))?;
            let tx = io.take_packet_out(&format!("p{i}.tx")).ok_or(CliError::Internal("leg without tx"))?;
            // The network thread ends early only when a write failed; that error is reported below.
            let _ = net_tx.send(Net::Join { index: i, rx, tx });
            if let Some(s) = seen.get_mut(i) {
                s.present.0 = now;
            }
            println!("t={now:>6.2}s p{i} joins ({})", labels[i]);
        }
        while let Some(&(_, i)) = leaves.peek().filter(|(t, _)| *t <= tick) {
            leaves.next();
            let _ = net_tx.send(Net::Leave(i));
            room.leave(&engine, &format!("p{i}"))?;
            if let Some(s) = seen.get_mut(i) {
                // The room reports nothing more about a member who left: close its spans.
                s.present.1 = now;
                if let Some(since) = s.talking_since.take() {
                    s.talking.push((since, now));
                }
                if let Some((_, since)) = dominant.filter(|(d, _)| *d == i) {
                    s.dominant.push((since, now));
                    dominant = None;
                }
            }
            println!("t={now:>6.2}s p{i} leaves");
        }
        while let Some(e) = room.poll_event() {
            let t = event_time(e.cycle);
            let index = |name: &str| name.strip_prefix('p').and_then(|v| v.parse::<usize>().ok());
            match e.kind {
                RoomEventKind::TalkingStarted(name) => {
                    if let Some(s) = index(&name).and_then(|i| seen.get_mut(i)) {
                        s.talking_since = Some(t);
                    }
                }
                RoomEventKind::TalkingStopped(name) => {
                    if let Some(s) = index(&name).and_then(|i| seen.get_mut(i)) {
                        if let Some(since) = s.talking_since.take() {
                            s.talking.push((since, t));
                        }
                    }
                }
                RoomEventKind::DominantSpeaker(who) => {
                    if let Some((i, since)) = dominant.take() {
                        if let Some(s) = seen.get_mut(i) {
                            s.dominant.push((since, t));
                        }
                    }
                    dominant = who.as_deref().and_then(index).map(|i| (i, t));
                    println!("t={t:>6.2}s dominant speaker: {}", who.as_deref().unwrap_or("nobody"));
                }
            }
        }
        if now >= second as f64 {
            print_status(&engine, &format!("t={second:>3}s"), room.members().count());
            second += 1;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let (legs, written) = network.join().map_err(|_| CliError::Internal("network thread panicked"))?;
    print_status(&engine, "end   ", room.members().count());
    let st = engine.status();
    let pst = engine.partition_stats(room.id())?;
    engine.remove_partition(room.id())?;
    // A failed write (a full disk) ends the demo with that error; `outputs` then removes
    // every file, so no partial recording is left.
    written?;
    let end = a.seconds;
    let rows: Vec<picture::Row> = seen
        .into_iter()
        .zip(&legs)
        .enumerate()
        .map(|(i, (mut s, leg))| {
            if script.leaves[i].is_none() {
                s.present.1 = end;
            }
            if let Some(since) = s.talking_since.take() {
                s.talking.push((since, end));
            }
            if let Some((_, since)) = dominant.filter(|(d, _)| *d == i) {
                s.dominant.push((since, end));
            }
            picture::Row {
                name: format!("p{i}"),
                codec: labels[i].clone(),
                present: s.present,
                level: leg.levels.clone(),
                talking: s.talking,
                dominant: s.dominant,
            }
        })
        .collect();
    let title = format!("rvoip-media demo: {n} participants, {:.1} s (first {} drawn)", a.seconds, rows.len());
    let svg = picture::svg(&rows, end, &title).map_err(|detail| CliError::Failed(format!("room.svg: {detail}")))?;
    std::io::Write::write_all(&mut picture_file, svg.as_bytes())
        .map_err(|source| CliError::Io { path: picture_path.display().to_string(), source })?;
    let (mut sent, mut received, mut failures, mut unread) = (0, 0, 0, 0);
    for leg in legs {
        sent += leg.sent;
        received += leg.received;
        failures += leg.push_failures;
        unread += leg.unread_at_leave;
        leg.heard.finish()?;
    }
    let misses: u64 = st.workers.iter().map(|w| w.stats.deadline_misses).sum();
    // Every packet offered is accounted for: taken by the room's receive rings or refused
    // because a ring was full. Every packet the room sent reached a phone unless it was
    // dropped (ring full, pool exhausted), counted by the engine.
    println!(
        "packets in:  {} offered by the phones = {sent} taken by the room + {failures} refused (receive ring full); \
         {unread} still queued when their participant left",
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
    println!("wrote {n} files and room.svg to {}", out_dir.display());
    engine.shutdown();
    let dropped = failures + pst.drops();
    // The room kept up when no audio was lost: every packet offered was taken and every
    // packet made was sent. A few cycles that ended late (a virtual machine's vCPU preempted
    // by its host stalls a pinned SCHED_FIFO worker too) delay audio without losing any; they
    // are reported, and a worker that stays behind fills its rings, which is a loss.
    if dropped > 0 || pst.errors > 0 {
        return Err(CliError::Failed(format!(
            "demo: the room did not keep up: {dropped} packets dropped ({failures} refused on the way in, {} in \
             the room), {} errors, {misses} deadline misses; try fewer --participants",
            pst.drops(),
            pst.errors
        )));
    }
    if misses > 0 {
        let longest_ms = st.workers.iter().map(|w| w.stats.max_ns).max().unwrap_or(0) as f64 / 1e6;
        println!(
            "note: {misses} of {} cycles ended after their deadline (longest {longest_ms:.1} ms): audio was delayed, \
             none lost",
            pst.cycles
        );
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
            // The engine publishes quantiles never above the maximum.
            s.p50_ns as f64 / 1e3,
            s.p99_ns as f64 / 1e3,
            s.max_ns as f64 / 1e3,
            s.deadline_misses,
            if s.partitions > 0 { legs } else { 0 },
            s.drops,
            s.underruns,
        );
    }
}

/// The remote phones: every 10 ms each present participant's next 10 ms goes to its phone
/// (a packet leaves when one is full), and what the room sent back is collected (written
/// to each participant's file). Runs on an ordinary thread with absolute deadlines. Stops
/// at the first failed write and returns it.
fn network(
    legs: &mut [Leg],
    speech: &[f32],
    ticks: u64,
    script: &Schedule,
    commands: &mpsc::Receiver<Net>,
) -> Result<(), CliError> {
    let start = Instant::now();
    let period = Duration::from_millis(10);
    let mut payload = vec![0u8; MAX_PAYLOAD];
    let mut frame = [0f32; 80];
    let mut up = [0f32; 1024];
    let mut noise = SplitMix64::new(7);
    // Uniform noise in ±a has RMS a/√3.
    let noise_amp = 10f32.powf(BACKGROUND_DBFS / 20.0) * 3f32.sqrt();
    // Two packets of slack absorb scheduling jitter between this thread and the worker.
    for tick in 0..ticks + 2 {
        if tick >= 2 {
            let due = start + period * (tick - 2) as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
        for c in commands.try_iter() {
            match c {
                Net::Join { index, rx, tx } => {
                    legs[index].rx = Some(rx);
                    legs[index].tx = Some(tx);
                }
                Net::Leave(index) => legs[index].leaving = true,
            }
        }
        if tick < ticks {
            for (i, leg) in legs.iter_mut().enumerate() {
                if leg.rx.is_none() || leg.leaving {
                    continue;
                }
                if script.talking(i, tick) {
                    let pos = (leg.offset + tick as usize * 80) % (speech.len() - 80);
                    frame.copy_from_slice(&speech[pos..pos + 80]);
                } else {
                    for v in &mut frame {
                        *v = noise_amp * ((noise.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0);
                    }
                }
                record_level(leg, &frame, tick, ticks);
                let phone = &mut leg.phone;
                match phone.up.as_mut() {
                    Some(r) => {
                        let (_, made) = r.process(&frame, &mut up);
                        phone.pending.extend_from_slice(&up[..made]);
                    }
                    None => phone.pending.extend_from_slice(&frame),
                }
                while leg.phone.pending.len() >= leg.phone.packet_samples {
                    send_packet(leg, i, &mut payload);
                }
            }
        }
        collect(legs)?;
    }
    // Let the worker finish the last quanta, then collect them.
    std::thread::sleep(period * 3);
    collect(legs)
}

/// Adds a 10 ms frame of what leg `i` says to its level per 100 ms (plotted legs only).
fn record_level(leg: &mut Leg, frame: &[f32], tick: u64, ticks: u64) {
    if leg.levels.is_empty() {
        return;
    }
    leg.level_sum += frame.iter().map(|v| f64::from(v * v)).sum::<f64>() / frame.len() as f64;
    leg.level_frames += 1;
    if tick % 10 == 9 || tick + 1 == ticks {
        let mean = leg.level_sum / f64::from(leg.level_frames);
        leg.levels[(tick / 10) as usize] = Some((10.0 * mean.max(1e-10).log10()) as f32);
        (leg.level_sum, leg.level_frames) = (0.0, 0);
    }
}

/// Encodes the phone's next packet (frame by frame) and pushes it into the room.
fn send_packet(leg: &mut Leg, i: usize, payload: &mut [u8]) {
    let phone = &mut leg.phone;
    let n = phone.packet_samples;
    let len = encode_frame_by_frame(&mut *phone.encoder, &phone.pending[..n], payload);
    phone.pending.drain(..n);
    let info = phone.encoder.info();
    let meta = PacketMeta {
        payload_type: info.payload_type,
        sequence: leg.seq,
        timestamp: phone.timestamp,
        ssrc: 1000 + i as u32,
        marker: leg.seq == 0,
        ..PacketMeta::default()
    };
    phone.timestamp = phone.timestamp.wrapping_add(info.rtp_ticks(n));
    let Some(rx) = leg.rx.as_mut() else { return };
    match rx.push(meta, &payload[..len]) {
        Ok(()) => leg.sent += 1,
        // The room let go of it first: it has left.
        Err(EndpointError::Abandoned) => leg.leaving = true,
        Err(_) => leg.push_failures += 1,
    }
    leg.seq = leg.seq.wrapping_add(1);
}

/// Decodes every packet the room has sent each leg and appends it to that participant's
/// file: what they hear. A leg that left is let go once the room has let go of it and its
/// last packets are read.
fn collect(legs: &mut [Leg]) -> Result<(), CliError> {
    let mut pcm = [0f32; 2 * 48 * 20];
    for leg in legs.iter_mut() {
        let Some(tx) = leg.tx.as_mut() else { continue };
        let gone = leg.leaving && tx.is_abandoned();
        while let Some(p) = tx.pop() {
            // A packet that does not decode (none should) is heard as nothing.
            let n = leg.phone.decoder.decode(Some(p.payload()), &mut pcm).unwrap_or(0);
            leg.heard.write(&pcm[..n])?;
            leg.received += 1;
        }
        if gone {
            leg.unread_at_leave = leg.rx.as_ref().map_or(0, |rx| rx.queued() as u64);
            (leg.rx, leg.tx) = (None, None);
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
