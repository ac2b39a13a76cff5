//! `rvoip-media bridge`: one live conference room of N RTP legs over UDP.
//!
//! Leg i receives on PORT0+i and sends its N-1 mix from that same port to the source of
//! its packets (symmetric RTP). The legs are a [`Room`] on one real-time worker (decode with
//! concealment, N-1 mix, encode), or spread over `--workers N` (a kernel room's shards, leg i
//! on worker i mod N); each worker's sockets are served by a [`BatchIo`] thread of their own
//! paced by that worker's cycles (a packet ring and a raw socket where the process may open
//! them — `CAP_NET_RAW` —, else io_uring where the kernel allows it, else epoll with
//! `recvmmsg`/`sendmmsg`; `--io` chooses). Prints
//! `ready` (with the I/O backend) once every socket is bound, one status line a second, and
//! the totals as JSON at the end (after `--seconds`, or on Ctrl-C / SIGTERM).
//!
//! `deadline_misses` counts the workers' cycles over the quantum and, in a spread room,
//! every cycle a shard mixed without a late partner's legs (its listeners heard part of the
//! room; also given alone as `late_partners` in the JSON). A cycle that was both counts
//! twice: the figure errs high, never low.

use super::codec_arg::Codec;
use super::output::{self, Outputs};
use super::CliError;
use clap::Args as ClapArgs;
use rvoip_media_core::conference::{LegMedia, LegOptions, Room, RoomConfig, MAX_SPREAD_TALKERS};
use rvoip_media_core::nodes::jitter::JitterConfig;
use rvoip_media_core::nodes::mixer::TalkerPolicy;
use rvoip_media_core::prelude::*;
use rvoip_media_core::rtp::audio_level::VOICE_BELOW_DBOV;
use rvoip_media_core::rtp::HeaderExtensions;
use rvoip_media_core::sync::pool::MAX_CAPACITY;
use rvoip_media_core::transport::batch::{raise_open_file_limit, IoBackend};
use rvoip_media_core::transport::{BatchConfig, BatchIo, BatchIoHandle, SocketStats};
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `bridge`.
#[derive(ClapArgs)]
pub struct Args {
    /// Legs in the room (leg i on PORT0+i).
    #[arg(long, allow_negative_numbers = true)]
    legs: i64,
    /// Codec of every leg.
    #[arg(long, value_enum)]
    codec: Codec,
    /// Address and first port: leg i receives and sends on PORT0+i.
    #[arg(long, default_value = "127.0.0.1:40000")]
    listen: SocketAddr,
    /// Packet time, ms (one the codec allows: 10-60 in steps of 10 for G.711 and G.722).
    #[arg(long, default_value_t = 20, allow_negative_numbers = true)]
    ptime: i64,
    /// Run time, s (Ctrl-C or SIGTERM end it earlier, with the totals written).
    #[arg(long, default_value_t = 60.0, allow_negative_numbers = true)]
    seconds: f64,
    /// Write the totals as JSON here.
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// The engine's cycle, ms: 10 or 20 (default: 20 when the ptime is a multiple of 20,
    /// else 10). The ptime must be a multiple of it.
    #[arg(long, allow_negative_numbers = true)]
    quantum: Option<i64>,
    /// RFC 6464 audio levels with this one-byte header extension id (1-14, default 1): a
    /// packet whose level says no voice at -50 dBov or quieter is not decoded, and every
    /// packet sent carries the level of the mix its leg hears.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "1")]
    audio_level: Option<u8>,
    /// RFC 6465 mixer-to-client levels with this one-byte header extension id (1-14,
    /// default 2; needs --talkers): every packet a leg sends lists the talkers mixed into
    /// what it hears as CSRCs (the SSRCs they send with), each with its level.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "2")]
    csrc_levels: Option<u8>,
    /// Who is heard: the N loudest talking legs (hysteresis, dominant speaker, comfort noise
    /// for a leg that hears nobody), and listeners who hear the same mix share one encode
    /// (G.711). Without it every leg hears every other.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    talkers: Option<i64>,
    /// The sockets' I/O: `auto` (the packet ring where this process may use it, else
    /// io_uring where this kernel allows it, else epoll), `epoll` (readiness,
    /// `recvmmsg`/`sendmmsg` per socket), `io-uring` (one submission for all sockets' sends,
    /// multishot receives) or `packet-ring` (no system call per packet: an `AF_PACKET`
    /// receive ring and a raw send socket; needs `CAP_NET_RAW`); a named one is an error
    /// where unavailable.
    #[arg(long, value_name = "auto|epoll|io-uring|packet-ring", default_value = "auto")]
    io: IoBackend,
    /// How the room is built: `kernel` (the default: one node running every leg's codecs
    /// over arrays, see ARCHITECTURE.md "Kernel rooms"; with `--talkers` it selects the
    /// loudest and shares the listeners' encode itself) or `nodes` (every leg's decoder and
    /// encoder a node of the room's graph).
    #[arg(long, value_enum, default_value_t = RoomKind::Kernel)]
    room: RoomKind,
    /// Real-time workers the room spreads over (a kernel room: leg i decoded and encoded on
    /// worker i mod N, the mix summed on each; ARCHITECTURE.md "Kernel rooms"). Each worker's
    /// legs get an I/O thread of their own, paced by that worker's cycles. Give the process
    /// a core per worker (`taskset`): two workers on one core wait for each other.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    workers: i64,
    /// An adaptive jitter buffer on every leg, as a session's (`JitterConfig::for_stream`:
    /// a target delay from the packets' arrivals, time-stretching toward it, concealment),
    /// for legs that come over a real network rather than loopback; in either kind of room.
    #[arg(long)]
    jitter: bool,
}

/// `--room`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum RoomKind {
    Nodes,
    Kernel,
}

fn usage(s: impl Into<String>) -> CliError {
    CliError::Usage(s.into())
}

/// The run's settings, checked.
struct Plan {
    legs: usize,
    codec: Codec,
    listen: SocketAddr,
    ptime_us: u32,
    seconds: f64,
    /// The codec's payload type: what the legs send and the only one accepted.
    payload_type: u8,
    quantum: Quantum,
    /// The RFC 6464 extension id, when levels are on.
    audio_level: Option<u8>,
    /// The RFC 6465 extension id, when mixer-to-client levels are on.
    csrc_levels: Option<u8>,
    /// Loudest-N talker selection, when on.
    talkers: Option<usize>,
    io: IoBackend,
    /// `Nodes` or `Kernel` (`Auto` resolved).
    room: RoomKind,
    /// Workers the room spreads over (more than 1: a kernel room).
    workers: usize,
    /// A jitter buffer on every leg.
    jitter: bool,
}

fn check(a: &Args) -> Result<Plan, CliError> {
    let port0 = a.listen.port();
    if port0 == 0 {
        return Err(usage("--listen: give the first leg's port (leg i listens on PORT0+i), not 0"));
    }
    let room_for = 65_536 - usize::from(port0);
    let legs = usize::try_from(a.legs)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| usage(format!("--legs: a room needs at least 1 leg, got {}", a.legs)))?;
    if legs > room_for {
        return Err(usage(format!(
            "--legs {legs} from port {port0} needs ports up to {}; at most {room_for} legs fit from there",
            usize::from(port0) + legs - 1
        )));
    }
    if !(a.seconds.is_finite() && a.seconds > 0.0) {
        return Err(usage(format!("--seconds must be a positive number, got {}", a.seconds)));
    }
    let ptime_us = u32::try_from(a.ptime)
        .ok()
        .and_then(|p| p.checked_mul(1000))
        .ok_or_else(|| usage(format!("--ptime must be a positive number of ms, got {}", a.ptime)))?;
    let id = a.codec.id();
    let info = *id.encoder(a.codec.rate(), 1, false).map_err(|e| usage(format!("--codec: {e}")))?.info();
    info.check_ptime(ptime_us).map_err(|e| usage(format!("--ptime: {e}")))?;
    // One cycle per packet where the ptime allows it: half the cycles of a 10 ms quantum
    // (BENCHMARKS.md, "Conference bridge over UDP").
    let quantum = match a.quantum {
        None if ptime_us % 20_000 == 0 => Quantum::MS_20,
        None | Some(10) => Quantum::MS_10,
        Some(20) => Quantum::MS_20,
        Some(q) => return Err(usage(format!("--quantum must be 10 or 20 ms, got {q}"))),
    };
    if ptime_us % quantum.micros() != 0 {
        return Err(usage(format!(
            "--ptime {} ms is not a multiple of the {} ms quantum",
            ptime_us / 1000,
            quantum.micros() / 1000
        )));
    }
    if let Some(id) = a.audio_level.filter(|id| !(1..=14).contains(id)) {
        return Err(usage(format!("--audio-level {id}: a one-byte header extension id is 1..=14")));
    }
    if let Some(id) = a.csrc_levels {
        if !(1..=14).contains(&id) || a.audio_level == Some(id) {
            return Err(usage(format!(
                "--csrc-levels {id}: a one-byte header extension id 1..=14, not --audio-level's"
            )));
        }
        if a.talkers.is_none() {
            return Err(usage("--csrc-levels needs --talkers (the room's talker selection decides who is listed)"));
        }
    }
    let talkers = match a.talkers {
        None => None,
        Some(t) => Some(
            usize::try_from(t)
                .ok()
                .filter(|&t| t >= 1)
                .ok_or_else(|| usage(format!("--talkers must be at least 1, got {t}")))?,
        ),
    };
    let room = a.room;
    let workers = usize::try_from(a.workers)
        .ok()
        .filter(|w| (1..=legs).contains(w))
        .ok_or_else(|| usage(format!("--workers must be 1..={legs} (at most one per leg), got {}", a.workers)))?;
    if workers > 1 && talkers.is_some_and(|t| t > MAX_SPREAD_TALKERS) {
        return Err(usage(format!("--workers above 1 hears at most {MAX_SPREAD_TALKERS} --talkers")));
    }
    if workers > 1 && room != RoomKind::Kernel {
        return Err(usage("--workers above 1 spreads a kernel room: drop --room nodes"));
    }
    Ok(Plan {
        jitter: a.jitter,
        workers,
        room,
        io: a.io,
        talkers,
        audio_level: a.audio_level,
        csrc_levels: a.csrc_levels,
        quantum,
        legs,
        codec: a.codec,
        listen: a.listen,
        ptime_us,
        seconds: a.seconds,
        payload_type: info.payload_type,
    })
}

/// CPU time of this process (all threads, user + system), s.
fn process_cpu_s() -> f64 {
    // SAFETY: all-zero is a valid rusage; getrusage only writes it.
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer for the call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(r.ru_utime) + tv(r.ru_stime)
}

/// One room of `plan.legs` legs, their sockets served by a batch I/O thread per worker.
struct Bridge {
    engine: Engine,
    /// By worker: the I/O of the legs that worker runs.
    io: Vec<BatchIoHandle>,
    /// The room (its handle, for the talker figures: the partition runs on the engine).
    room: Room,
}

fn start(plan: &Plan) -> Result<Bridge, CliError> {
    let n = plan.legs;
    // A spread room's shards spin (with a deadline) for each other's rows every cycle: two
    // on one core wait out the deadline and mix without each other.
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    if plan.workers > cpus {
        return Err(usage(format!(
            "--workers {} needs a CPU per worker; this process may run on {cpus} (see taskset)",
            plan.workers
        )));
    }
    raise_open_file_limit().map_err(|e| usage(format!("raising the open-file limit: {e}")))?;
    let config = EngineConfig {
        workers: plan.workers,
        // The whole process may be pinned by the caller (taskset): stay where it put us.
        pin_workers: false,
        // Packets in flight per leg: up to 8 in each ring, one in its decoder; when the I/O
        // thread falls behind, the send rings fill first, and the pool must not run dry
        // under them (the receive side would then drop everything).
        packet_pool: (n * 20).clamp(256, MAX_CAPACITY),
        frame_pool: 64,
        ring_capacity: 8,
        quantum: plan.quantum,
        ..EngineConfig::default()
    };
    // Every port first: a taken one is refused before any engine work.
    let mut sockets = Vec::with_capacity(n);
    for i in 0..n {
        let mut addr = plan.listen;
        addr.set_port(plan.listen.port() + i as u16);
        sockets.push(UdpSocket::bind(addr).map_err(|e| usage(format!("--listen: cannot bind {addr}: {e}")))?);
    }
    let engine = Engine::start(config)?;
    let mut config = RoomConfig::new(AudioFormat::mono(plan.codec.rate())).with_capacity(n);
    if plan.workers > 1 {
        config = config.with_kernel_workers(plan.workers);
    } else if plan.room == RoomKind::Kernel {
        config = config.with_kernel();
    }
    if let Some(max_talkers) = plan.talkers {
        config = config.with_policy(TalkerPolicy { max_talkers, ..TalkerPolicy::default() }).with_shared_encodes();
    }
    if plan.csrc_levels.is_some() {
        config = config.with_heard_board();
    }
    let mut room = Room::with_config(&engine, config)?;
    let id = plan.codec.id();
    let rate = plan.codec.rate();
    // Legs join in one group per cycle of a packet time, a cycle apart, so that their
    // encoders emit on different cycles: each send sweep then has 1/groups of the legs (a
    // 30 ms ptime on the 10 ms quantum: a third of them every 10 ms, not all every 30 ms).
    let quantum_us = engine.config().quantum.micros();
    let groups = (plan.ptime_us / quantum_us).clamp(1, n as u32) as usize;
    let mut ios = Vec::with_capacity(groups);
    let options = LegOptions {
        skip_silent_at: plan.audio_level.map(|_| VOICE_BELOW_DBOV),
        audio_level: plan.audio_level.is_some(),
        ..LegOptions::default()
    };
    for g in 0..groups {
        let mut legs = Vec::new();
        for i in (g..n).step_by(groups) {
            let codec = |e| usage(format!("--codec: {e}"));
            let decoder = id.decoder(rate, 1).map_err(codec)?;
            let jitter = plan.jitter.then(|| JitterConfig::for_stream(decoder.info(), plan.quantum));
            let media = LegMedia::Rtp {
                encoder: id.encoder(rate, 1, false).map_err(codec)?,
                decoder,
                ptime_us: plan.ptime_us,
                ssrc: 0x5200_0000 + i as u32,
            };
            legs.push((format!("leg{i}"), media, LegOptions { jitter, ..options.clone() }));
        }
        let done = room.join_many_with(&engine, legs, |_| {})?;
        engine.wait(done.ticket, Duration::from_secs(10))?;
        std::thread::sleep(Duration::from_micros(u64::from(quantum_us)));
        ios.push(done.io);
    }
    // Paced by the worker's cycles: five or six wake-ups a cycle, one sweep of the send
    // rings per cycle, right after the worker produced what it sends (BENCHMARKS.md,
    // "Conference bridge over UDP", sessions 12 and 13: cheaper than a timer's wake-up a
    // millisecond and sweep every 2 ms). A spread room's legs on worker k are paced by
    // worker k's cycles.
    let mut batches = Vec::with_capacity(plan.workers);
    for k in 0..plan.workers {
        let clock = engine.cycle_clock(k).ok_or(CliError::Internal("the engine's worker has no cycle clock"))?;
        batches.push(BatchIo::new(BatchConfig {
            payload_types: vec![plan.payload_type],
            backend: plan.io,
            clock,
            ..BatchConfig::default()
        }));
    }
    for (i, socket) in sockets.into_iter().enumerate() {
        let addr = socket.local_addr().map_err(|e| usage(format!("--listen: {e}")))?;
        let io = &mut ios[i % groups];
        let (Some(rx), Some(tx)) =
            (io.take_packet_in(&format!("leg{i}.rx")), io.take_packet_out(&format!("leg{i}.tx")))
        else {
            return Err(CliError::Internal("a leg's endpoints are missing"));
        };
        let ext = HeaderExtensions { audio_level: plan.audio_level, csrc_audio_level: plan.csrc_levels };
        // A spread room runs the leg on port p on worker p mod workers.
        let port = room.port_of(&format!("leg{i}"));
        let batch = &mut batches[port.unwrap_or(i) % plan.workers];
        let index =
            batch.add_with_extensions(socket, rx, tx, ext).map_err(|e| usage(format!("--listen: {addr}: {e}")))?;
        if let Some(port) = port {
            batch.set_mixer_port(index, port);
        }
    }
    let mut io = Vec::with_capacity(batches.len());
    for mut batch in batches {
        if let Some(board) = room.heard_board() {
            batch = batch.with_heard(board);
        }
        io.push(batch.start().map_err(|e| usage(format!("starting the I/O thread (--io {}): {e}", plan.io.name())))?);
    }
    Ok(Bridge { engine, io, room })
}

/// What one status line or the totals report.
struct Sample {
    at: Instant,
    cpu_s: f64,
    io: SocketStats,
    /// Cycles over the quantum and cycles a shard mixed without a late partner (see the
    /// module docs).
    misses: u64,
    /// Legs whose socket has latched onto a peer.
    peers: usize,
}

impl Bridge {
    fn sample(&self) -> Sample {
        let overruns: u64 = self.engine.status().workers.iter().map(|w| w.stats.deadline_misses).sum();
        let misses = overruns + self.room.late_partners(&self.engine);
        let peers = self
            .io
            .iter()
            .map(|io| (0..io.sockets()).filter(|&i| io.socket_stats(i).is_some_and(|s| s.latches > 0)).count())
            .sum();
        let mut total = SocketStats::default();
        self.io.iter().for_each(|io| total.accumulate(&io.stats()));
        Sample { at: Instant::now(), cpu_s: process_cpu_s(), io: total, misses, peers }
    }

    /// (p50, p99, max) cycle time of the slowest worker (each figure its own worst), µs.
    fn cycle_us(&self) -> (f64, f64, f64) {
        let s = self.engine.status();
        let worst = |f: fn(&WorkerStats) -> u64| s.workers.iter().map(|w| f(&w.stats)).max().unwrap_or(0) as f64 / 1e3;
        (worst(|w| w.p50_ns), worst(|w| w.p99_ns), worst(|w| w.max_ns))
    }

    /// Legs talking and the dominant speaker, from the mixer (with `--talkers`).
    fn talkers(&self) -> Option<(usize, Option<&str>)> {
        self.room.policy()?;
        let t = self.engine.telemetry(self.room.id(), self.room.mixer()).ok()?;
        let talking = self.room.talking_count(&self.engine).ok()?;
        let dominant = t.get("dominant").filter(|d| *d >= 0.0).and_then(|d| self.room.member_at(d as usize));
        Some((talking, dominant))
    }
}

/// `talkers=N dominant=NAME` (or `talkers=n/a` without a talker policy).
fn talkers_field(t: Option<(usize, Option<&str>)>) -> String {
    match t {
        Some((n, d)) => format!("talkers={n} dominant={}", d.unwrap_or("none")),
        None => "talkers=n/a".to_string(),
    }
}

/// CPU µs per leg per packet time between two samples.
fn cpu_per_leg_frame_us(a: &Sample, b: &Sample, legs: usize, ptime_us: u32) -> f64 {
    let frames = b.at.duration_since(a.at).as_secs_f64() * 1e6 / f64::from(ptime_us) * legs as f64;
    if frames > 0.0 {
        (b.cpu_s - a.cpu_s) * 1e6 / frames
    } else {
        0.0
    }
}

pub fn run(a: Args) -> Result<(), CliError> {
    let plan = check(&a)?;
    let mut outputs = Outputs::new();
    let stats_file = a.stats_json.as_deref().map(|p| outputs.create(p)).transpose()?;
    output::stop_on_interrupt();
    let bridge = start(&plan)?;
    let last_port = plan.listen.port() as usize + plan.legs - 1;
    let io = bridge.io[0].backend().name();
    let room = if plan.room == RoomKind::Kernel { "kernel" } else { "nodes" };
    println!(
        "ready legs={} listen={}-{last_port} codec={} ptime={} realtime={} room={room} workers={} io={io}{}",
        plan.legs,
        plan.listen,
        plan.codec.name(),
        plan.ptime_us / 1000,
        bridge.engine.status().all_realtime(),
        plan.workers,
        bridge.io[0].fallback_reason().map_or(String::new(), |why| format!(" ({why})")),
    );
    let first = bridge.sample();
    let mut prev = bridge.sample();
    let end = first.at + Duration::from_secs_f64(plan.seconds);
    let mut next = first.at + Duration::from_secs(1);
    while Instant::now() < end && !output::interrupted() {
        let now = Instant::now();
        if now < next {
            std::thread::sleep((next - now).min(end - now).min(Duration::from_millis(50)));
            continue;
        }
        next += Duration::from_secs(1);
        let s = bridge.sample();
        let (p50, p99, max) = bridge.cycle_us();
        let dt = s.at.duration_since(prev.at).as_secs_f64().max(1e-9);
        println!(
            "t={:.0} legs={} {} cycle_us p50={p50:.0} p99={p99:.0} max={max:.0} deadline_misses={} \
             pkts in={} out={} dropped={} malformed={} peers={} cpu={:.1}% cpu_per_leg_frame_us={:.2}",
            s.at.duration_since(first.at).as_secs_f64(),
            plan.legs,
            talkers_field(bridge.talkers()),
            s.misses - first.misses,
            s.io.received - prev.io.received,
            s.io.sent - prev.io.sent,
            s.io.dropped - prev.io.dropped,
            s.io.malformed - prev.io.malformed,
            s.peers,
            100.0 * (s.cpu_s - prev.cpu_s) / dt,
            cpu_per_leg_frame_us(&prev, &s, plan.legs, plan.ptime_us),
        );
        prev = s;
    }
    let last = bridge.sample();
    let (p50, p99, max) = bridge.cycle_us();
    let talkers = bridge.talkers().map(|(n, d)| (n, d.map(str::to_string)));
    let late_partners = bridge.room.late_partners(&bridge.engine);
    // Time concealed, and skipped to keep the delay from growing, all legs.
    let members = bridge.room.stats(&bridge.engine)?.per_member;
    let ms = |samples: u64| samples as f64 * 1000.0 / f64::from(plan.codec.rate());
    let concealed_ms = ms(members.iter().map(|m| m.concealed_samples).sum());
    let removed_ms = ms(members.iter().map(|m| m.removed_samples).sum());
    let Bridge { engine, io: batches, .. } = bridge;
    // The totals after the I/O threads' last send sweeps.
    let mut t = SocketStats::default();
    let ring_drops: u64 = batches.iter().map(|b| b.ring_drops()).sum();
    for batch in batches {
        t.accumulate(&batch.stop().map_err(|e| usage(format!("stopping the I/O thread: {e}")))?);
    }
    engine.shutdown();
    let json = format!(
        "{{\"legs\": {}, \"codec\": \"{}\", \"io\": \"{io}\", \"room\": \"{room}\", \"workers\": {}, \"jitter\": {}, \"late_partners\": {late_partners}, \"concealed_ms\": {concealed_ms:.1}, \"removed_ms\": {removed_ms:.1}, \"ptime_ms\": {}, \"seconds\": {:.3}, \"stopped_by_signal\": {}, \
         \"received\": {}, \"delivered\": {}, \"dropped\": {}, \"malformed\": {}, \"wrong_payload_type\": {}, \
         \"foreign\": {}, \"ring_drops\": {ring_drops}, \"sent\": {}, \"not_sent\": {}, \"send_errors\": {}, \"latches\": {}, \"relatches\": {}, \
         \"deadline_misses\": {}, \"cycle_p50_us\": {p50:.1}, \"cycle_p99_us\": {p99:.1}, \"cycle_max_us\": {max:.1}, \
         \"cpu_s\": {:.3}, \"cpu_per_leg_frame_us\": {:.3}, \"audio_level_id\": {}, \
         \"talkers_max\": {}, \"talking\": {}, \"dominant\": {}}}\n",
        plan.legs,
        plan.codec.name(),
        plan.workers,
        plan.jitter,
        plan.ptime_us / 1000,
        last.at.duration_since(first.at).as_secs_f64(),
        output::interrupted(),
        t.received,
        t.delivered,
        t.dropped,
        t.malformed,
        t.wrong_payload_type,
        t.foreign,
        t.sent,
        t.not_sent,
        t.send_errors,
        t.latches,
        t.relatches,
        last.misses - first.misses,
        last.cpu_s - first.cpu_s,
        cpu_per_leg_frame_us(&first, &last, plan.legs, plan.ptime_us),
        plan.audio_level.map_or("null".to_string(), |id| id.to_string()),
        plan.talkers.map_or("null".to_string(), |n| n.to_string()),
        talkers.as_ref().map_or("null".to_string(), |t| t.0.to_string()),
        talkers.and_then(|t| t.1).map_or("null".to_string(), |d| format!("\"{d}\"")),
    );
    println!("done {}", json.trim_end());
    if let (Some(mut f), Some(path)) = (stats_file, &a.stats_json) {
        f.write_all(json.as_bytes()).map_err(|source| CliError::Io { path: path.display().to_string(), source })?;
    }
    outputs.commit()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: Args,
    }

    fn plan(args: &[&str]) -> Result<Plan, CliError> {
        let t = T::try_parse_from(std::iter::once("bridge").chain(args.iter().copied())).unwrap();
        check(&t.a)
    }

    #[test]
    fn flags_are_checked_before_any_work() {
        let bad = |args: &[&str], want: &str| match plan(args) {
            Err(CliError::Usage(m)) => assert!(m.contains(want), "{m:?} lacks {want:?}"),
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("{args:?} accepted"),
        };
        bad(&["--legs", "0", "--codec", "pcmu"], "at least 1 leg");
        bad(&["--legs", "-3", "--codec", "pcmu"], "at least 1 leg");
        bad(&["--legs", "10", "--codec", "pcmu", "--listen", "127.0.0.1:0"], "not 0");
        bad(&["--legs", "10", "--codec", "pcmu", "--listen", "127.0.0.1:65530"], "at most 6 legs");
        bad(&["--legs", "2", "--codec", "pcmu", "--ptime", "25"], "--ptime");
        bad(&["--legs", "2", "--codec", "pcmu", "--ptime", "-20"], "positive number of ms");
        bad(&["--legs", "2", "--codec", "pcmu", "--seconds", "0"], "--seconds");
        bad(&["--legs", "2", "--codec", "pcmu", "--seconds", "NaN"], "--seconds");
        bad(&["--legs", "2", "--codec", "pcmu", "--quantum", "5"], "10 or 20");
        bad(&["--legs", "2", "--codec", "pcmu", "--ptime", "30", "--quantum", "20"], "not a multiple");
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu", "--ptime", "30"]).unwrap().quantum, Quantum::MS_10);
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu"]).unwrap().quantum, Quantum::MS_20);
        let p = plan(&["--legs", "6", "--codec", "g722", "--listen", "127.0.0.1:65530", "--ptime", "30"]).unwrap();
        assert_eq!((p.legs, p.ptime_us, p.codec.rate()), (6, 30_000, 16_000));
        assert_eq!((p.io, p.room), (IoBackend::Auto, RoomKind::Kernel));
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu", "--talkers", "1"]).unwrap().room, RoomKind::Kernel);
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu", "--audio-level"]).unwrap().room, RoomKind::Kernel);
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu", "--room", "nodes"]).unwrap().room, RoomKind::Nodes);
        let kernel_talkers = plan(&["--legs", "2", "--codec", "pcmu", "--room", "kernel", "--talkers", "2"]).unwrap();
        assert_eq!((kernel_talkers.room, kernel_talkers.talkers), (RoomKind::Kernel, Some(2)));
        let listed = ["--legs", "2", "--codec", "pcmu", "--room", "kernel", "--talkers", "2", "--csrc-levels"];
        assert_eq!((plan(&listed).unwrap().room, plan(&listed).unwrap().csrc_levels), (RoomKind::Kernel, Some(2)));
        bad(&["--legs", "2", "--codec", "pcmu", "--csrc-levels"], "needs --talkers");
        bad(
            &["--legs", "2", "--codec", "pcmu", "--talkers", "2", "--audio-level", "2", "--csrc-levels"],
            "not --audio-level's",
        );
        assert_eq!(
            plan(&["--legs", "2", "--codec", "pcmu", "--talkers", "2", "--csrc-levels"]).unwrap().csrc_levels,
            Some(2)
        );
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu", "--room", "kernel"]).unwrap().room, RoomKind::Kernel);
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu", "--io", "epoll"]).unwrap().io, IoBackend::Epoll);
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu", "--io", "io-uring"]).unwrap().io, IoBackend::IoUring);
        assert_eq!(plan(&["--legs", "2", "--codec", "pcmu", "--io", "packet-ring"]).unwrap().io, IoBackend::PacketRing);
        assert!(T::try_parse_from(["bridge", "--legs", "2", "--codec", "pcmu", "--io", "select"]).is_err());
        assert_eq!(plan(&["--legs", "4", "--codec", "pcmu", "--workers", "2"]).unwrap().workers, 2);
        assert_eq!(plan(&["--legs", "4", "--codec", "pcmu"]).unwrap().workers, 1);
        bad(&["--legs", "4", "--codec", "pcmu", "--workers", "0"], "--workers must be 1..=4");
        bad(&["--legs", "2", "--codec", "pcmu", "--workers", "3"], "at most one per leg");
        bad(&["--legs", "4", "--codec", "pcmu", "--workers", "2", "--room", "nodes"], "spreads a kernel room");
        bad(&["--legs", "4", "--codec", "pcmu", "--workers", "2", "--talkers", "9"], "at most 8 --talkers");
        assert_eq!(
            plan(&["--legs", "4", "--codec", "pcmu", "--workers", "2", "--talkers", "8"]).unwrap().talkers,
            Some(8)
        );
    }
}
