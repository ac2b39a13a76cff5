//! `rvoip-media bench`: whole-system capacity measurements.
//!
//! `bench conference --legs 8,100,1000` builds a live room per size (legs through the codec
//! model: decode with concealment, N-1 mix, encode) and runs it on a driven engine, feeding
//! every leg a packet each packet time (one quantum unless `--ptime`), and reports the cycle time (p50/p99/max) on the wall clock
//! and in the worker thread's CPU time (which a preemption by another process does not
//! inflate, so it is the engine's own cost on a shared machine), the cost per leg (from the
//! CPU p50 and from the CPU mean, which resolves changes finer than the histogram), the
//! missed cycles and whether the size was held, and how many legs one core sustains at the
//! quantum with the p99 cycle (when held).
//!
//! A cycle is *missed* when the busiest worker's CPU time is over the quantum or, in a room
//! spread over several workers, when a shard mixed it without a late partner's legs (its
//! listeners heard only part of the room). A size is *held* when at most 1 % of the
//! measured cycles missed (the p99 within the quantum, a late partner counting as over it).
//!
//! `--codec` picks the legs' codec (PCMU by default; the room mixes at the codec's rate).
//! `--ptime MS` sends packets of several quanta (20 ms at a 10 ms quantum, as most calls
//! do): each leg's decoder then holds the rest of a packet between cycles and its encoder
//! packs several quanta; the legs' packets are spread over the cycles of a packet time. `--talkers T` (T ≥ 1) makes it a bridge room as users run one:
//! a talker policy hearing the T loudest, shared encodes, and RFC 6464 silent-leg skipping —
//! T legs send a tone with a "voice" level, the others silence with a "silent" level (V = 0,
//! −127 dBov), which their decoders skip; the table then also shows the decodes skipped and
//! the encodes per cycle (from the nodes' telemetry). Without it every leg sends a tone and
//! every leg hears everybody (a plain room).
//!
//! `--kernel` runs the room's legs in a room kernel (`RoomConfig::with_kernel`: the
//! legs' state in one array, two passes a cycle) instead of a graph of per-leg nodes; with
//! `--talkers T` the kernel selects the T loudest and shares the listeners' encode itself
//! (spread over workers, the shards choose the T loudest together and each shard shares
//! its listeners' encode).
//!
//! `--workers W` (with `--kernel`) spreads the room over W workers
//! (`RoomConfig::with_kernel_workers`) of a driven engine of W workers, the drivers run side
//! by side each cycle (driver 0 on the bench's thread, the others on threads of their own,
//! started together). Each driver's thread hosts its shard's legs (`Room::shard_of`): it
//! feeds them their packets, waits until every thread has fed, runs its cycle, then drains
//! what they sent, so a shard's host work is on that shard's core (as with `bridge`'s
//! per-worker host threads) and outside the timed cycle. (Until session 16 the bench's
//! thread fed and drained every shard's legs, all on worker 0's core; on one worker nothing
//! changed: its thread feeds, cycles and drains as before.) The CPU columns are then the
//! busiest worker's thread CPU time per cycle (its wait for the other shards' rows
//! included), the wall columns the cycle from the end of the feeding to the last worker's end,
//! the missed cycles count every time a shard mixed without a late partner (the shards'
//! `late_partners` from the first measured cycle to the last, as published every
//! `telemetry_interval` cycles, so the window may be off by a few cycles at either end; one
//! cycle may count once per shard, so the count errs high), and the table is followed by each shard's
//! late partners, unpublished rows, CPU mean and the part of it spent waiting (the kernel's
//! `wait_cpu_ns`), and the busiest shard's work without its waits: on a machine whose cores
//! the workers do not have to themselves the waits measure the neighbours (a partner not
//! scheduled), not the room. The legs that work would allow assume shards that line up;
//! the table's `held` says whether they did.
//!
//! `--churn R` makes R joins and R leaves per second while
//! the room runs: the oldest leg leaves, a new one joins, each its own edit. The report adds
//! the cycles over the quantum, the longest cycle, the control side's time per edit, and
//! every packet fed, sent and dropped, so a churn that loses or leaks shows.
//!
//! `--grow` has one more leg join halfway through the measured cycles, into a room that is
//! full (a plain room, not a bridge room with its member limit): the room grows (a kernel
//! room's shards get stores twice as large and their workers move the legs; a room of
//! nodes gets a mixer twice as large), and the report gives that cycle's and the next
//! cycle's CPU and wall time beside the measured p50.
//!
//! `--jitter` puts a session's jitter buffer (`JitterConfig::for_stream`) in front of every
//! leg's decoder, in either kind of room: what a bridge whose legs come over a real network
//! pays (the packets come on time here, so the buffers run their steady-state path).

use super::CliError;
use crate::codec_arg::{encode_frame_by_frame, Codec};
use rvoip_media_core::conference::{LegMedia, LegOptions, Room, RoomConfig};
use rvoip_media_core::engine::{thread_cpu_ns, PacketIn, PacketOut};
use rvoip_media_core::nodes::jitter::JitterConfig;
use rvoip_media_core::prelude::*;
use rvoip_media_core::stats::Histogram;
use rvoip_media_graph::MAX_PAYLOAD;
use rvoip_media_nodes::codec::CodecId;
use rvoip_media_nodes::mixer::TalkerPolicy;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// The legs' codec (Opus at 48 kHz).
    #[arg(long, value_enum, default_value = "pcmu")]
    codec: Codec,
    /// Talkers in a bridge room (policy, shared encodes, silent-leg skipping); 0: a plain room.
    #[arg(long, default_value_t = 0)]
    talkers: usize,
    /// The engine's quantum in ms (10 or 20; Opus shares encodes when its 20 ms frame is the quantum).
    #[arg(long, default_value_t = 10)]
    quantum_ms: u32,
    /// Packet time in ms, a whole number of quanta (default: one quantum). Each leg sends a
    /// packet every ptime; the legs' packets are spread over the ptime's cycles, as a
    /// bridge's peers' are.
    #[arg(long, allow_negative_numbers = true)]
    ptime: Option<i64>,
    /// Joins and leaves per second while measuring.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    churn: i64,
    /// Run a plain room's legs in a room kernel (`RoomConfig::with_kernel`) instead of a
    /// graph of per-leg nodes.
    #[arg(long)]
    kernel: bool,
    /// Workers a kernel room is spread over (`RoomConfig::with_kernel_workers`; with
    /// `--kernel`).
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    workers: i64,
    /// One more leg joins the full room halfway through the measured cycles, so it grows;
    /// the report gives the cost of that cycle (plain rooms only).
    #[arg(long)]
    grow: bool,
    /// A session's jitter buffer in front of every leg's decoder (`LegOptions::jitter`).
    #[arg(long)]
    jitter: bool,
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
    let churn = u32::try_from(a.churn)
        .ok()
        .filter(|&r| r <= 10_000)
        .ok_or_else(|| CliError::Usage(format!("--churn must be 0..=10000 per second, got {}", a.churn)))?;
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
    let q_ms = i64::from(a.quantum_ms);
    let ptime = a.ptime.unwrap_or(q_ms);
    if !(1..=12).contains(&(ptime / q_ms)) || ptime % q_ms != 0 {
        return Err(CliError::Usage(format!("--ptime must be 1 to 12 quanta of {q_ms} ms, got {ptime}")));
    }
    let workers = usize::try_from(a.workers)
        .ok()
        .filter(|w| (1..=64).contains(w))
        .ok_or_else(|| CliError::Usage(format!("--workers must be 1..=64, got {}", a.workers)))?;
    if workers > 1 && !a.kernel {
        return Err(CliError::Usage("--workers spreads a kernel room (add --kernel)".into()));
    }
    if a.grow && a.talkers > 0 {
        return Err(CliError::Usage("--grow needs a plain room (a bridge room has all its ports up front)".into()));
    }
    let setup = Setup {
        codec: a.codec.id(),
        talkers: a.talkers,
        quantum,
        quanta_per_packet: (ptime / q_ms) as usize,
        churn,
        kernel: a.kernel,
        workers,
        grow: a.grow,
        jitter: a.jitter,
    };
    match a.what {
        What::Conference => conference(&legs, cycles, setup),
    }
}

/// How the benchmark's rooms are built and run.
#[derive(Clone, Copy)]
struct Setup {
    codec: CodecId,
    talkers: usize,
    quantum: Quantum,
    /// Quanta a packet carries (its ptime over the quantum).
    quanta_per_packet: usize,
    /// Joins and leaves per second.
    churn: u32,
    /// A kernel room.
    kernel: bool,
    /// Workers the room is spread over.
    workers: usize,
    /// One more leg joins the full room halfway through the measured cycles.
    grow: bool,
    /// A jitter buffer in front of every leg's decoder.
    jitter: bool,
}

impl Setup {
    fn bridge(&self) -> bool {
        self.talkers > 0
    }
    /// The legs' (and the room's) rate: the codec's widest.
    fn rate(&self) -> u32 {
        self.codec.native_rate()
    }
    /// A packet's duration in µs.
    fn ptime_us(&self) -> u32 {
        self.quantum.micros() * self.quanta_per_packet as u32
    }
}

/// RFC 6464 level bytes: a talker's (V = 1, −12 dBov) and a silent leg's (V = 0, −127 dBov).
const VOICE: u8 = 0x80 | 12;
const SILENT: u8 = 127;

/// The drivers of a driven engine run side by side: driver 0 on the bench's thread, each
/// other one on a thread of its own, all started by one store each cycle. Each driver's
/// thread is also the host of its shard's legs (every leg on one worker): it feeds them
/// their packets, waits until every thread has fed, runs its cycle and drains what its
/// legs sent, so no core carries another shard's host work.
struct Crew {
    lead: Driver,
    shared: Arc<CrewState>,
    threads: Vec<std::thread::JoinHandle<()>>,
    cycle: u64,
    /// Each worker's CPU time over the measured cycles (ns).
    totals: Vec<u64>,
}

/// What the crew's threads share: the cycle to run, the threads that fed it, per worker
/// the legs it hosts, and per helper the last cycle it ran and its CPU time.
struct CrewState {
    go: AtomicU64,
    stop: AtomicBool,
    /// Threads that fed their legs, over all cycles: cycle `c` is fed at `c` × workers.
    fed: AtomicU64,
    /// Worker `k`'s legs; locked by its thread for a cycle, by the bench's thread only
    /// between cycles (joins and leaves, the final counts), so never contended.
    hosts: Vec<Mutex<Host>>,
    feed: Feed,
    done: Vec<AtomicU64>,
    cpu: Vec<AtomicU64>,
}

/// The legs one driver's thread hosts, and their packets fed, refused and sent.
#[derive(Default)]
struct Host {
    legs: Vec<HostLeg>,
    counts: Counts,
}

/// What every leg is fed each cycle.
struct Feed {
    table: Payloads,
    /// A bridge room (talkers and silent legs) of `n` legs with `talkers` talkers.
    bridge: bool,
    n: usize,
    talkers: usize,
    /// Quanta a packet carries: leg `s` sends in the cycles `c` with `c % k == s % k`.
    quanta_per_packet: usize,
}

impl Feed {
    /// Pushes cycle `c`'s packet into each of `host`'s legs whose turn it is.
    fn feed(&self, host: &mut Host, c: usize) {
        let (table, k) = (&self.table, self.quanta_per_packet);
        for leg in &mut host.legs {
            if (c + leg.ssrc as usize) % k != 0 {
                continue;
            }
            // The leg's packet number: every k-th cycle, from its own phase on.
            let p = (c + leg.ssrc as usize) / k;
            // A bridge room's talkers keep their places as legs come and go.
            let talking = !self.bridge || (leg.ssrc as usize % self.n) < self.talkers;
            let meta = PacketMeta {
                payload_type: table.payload_type,
                sequence: p as u16,
                timestamp: (p * table.ticks) as u32,
                ssrc: leg.ssrc,
                audio_level: self.bridge.then_some(if talking { VOICE } else { SILENT }),
                ..PacketMeta::default()
            };
            let payload = if talking {
                &table.tones[(leg.ssrc as usize % PAYLOAD_PHASES) * PAYLOAD_CYCLES + p % PAYLOAD_CYCLES]
            } else {
                &table.silence
            };
            match leg.rx.push(meta, payload) {
                Ok(()) => host.counts.fed += 1,
                Err(_) => host.counts.refused += 1,
            }
        }
    }
}

impl CrewState {
    /// Feeds worker `k`'s legs cycle `c`'s packets (the crew's cycle `c + 1`), then waits
    /// until every thread has fed its own.
    fn feed_all(&self, host: &mut Host, c: u64) {
        self.feed.feed(host, c as usize - 1);
        self.fed.fetch_add(1, Ordering::AcqRel);
        let all = c * self.hosts.len() as u64;
        while self.fed.load(Ordering::Acquire) < all {
            std::hint::spin_loop();
        }
    }
}

impl Crew {
    fn new(mut drivers: Vec<Driver>, feed: Feed) -> Result<Crew, CliError> {
        let lead = drivers.remove(0);
        let n = drivers.len();
        let counters = || (0..n).map(|_| AtomicU64::new(0)).collect();
        let shared = Arc::new(CrewState {
            go: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            fed: AtomicU64::new(0),
            hosts: (0..=n).map(|_| Mutex::new(Host::default())).collect(),
            feed,
            done: counters(),
            cpu: counters(),
        });
        let mut threads = Vec::with_capacity(n);
        for (i, mut d) in drivers.into_iter().enumerate() {
            let s = shared.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("bench-worker-{}", i + 1))
                    .spawn(move || {
                        let mut last = 0;
                        while !s.stop.load(Ordering::Acquire) {
                            let c = s.go.load(Ordering::Acquire);
                            if c == last {
                                std::hint::spin_loop();
                                continue;
                            }
                            let mut host = s.hosts[i + 1].lock().unwrap_or_else(|e| e.into_inner());
                            s.feed_all(&mut host, c);
                            let t = thread_cpu_ns();
                            d.process_cycle();
                            s.cpu[i].store(thread_cpu_ns().saturating_sub(t), Ordering::Relaxed);
                            s.done[i].store(c, Ordering::Release);
                            host.counts.sent += host.legs.iter_mut().map(|l| drain(&mut l.tx)).sum::<u64>();
                            last = c;
                        }
                    })
                    .map_err(rvoip_media_core::engine::EngineError::Spawn)?,
            );
        }
        Ok(Crew { lead, shared, threads, cycle: 0, totals: vec![0; n + 1] })
    }

    /// Worker `k`'s legs (between cycles).
    fn host(&self, k: usize) -> std::sync::MutexGuard<'_, Host> {
        self.shared.hosts[k].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The packets fed, refused and sent, over every worker's legs.
    fn counts(&self) -> Counts {
        (0..self.shared.hosts.len()).fold(Counts::default(), |t, k| {
            let c = &self.host(k).counts;
            Counts { fed: t.fed + c.fed, sent: t.sent + c.sent, refused: t.refused + c.refused }
        })
    }

    /// One cycle of every worker (its legs fed before it, drained after it); returns the
    /// wall time from the feeding's end to the last worker's end, and the busiest worker's
    /// thread CPU time. `measuring`: counted in the workers' totals.
    fn cycle(&mut self, measuring: bool) -> (u64, u64) {
        self.cycle += 1;
        self.shared.go.store(self.cycle, Ordering::Release);
        let shared = self.shared.clone();
        let mut host = shared.hosts[0].lock().unwrap_or_else(|e| e.into_inner());
        shared.feed_all(&mut host, self.cycle);
        let wall = Instant::now();
        let t = thread_cpu_ns();
        self.lead.process_cycle();
        let mut busiest = thread_cpu_ns().saturating_sub(t);
        self.totals[0] += if measuring { busiest } else { 0 };
        for (i, (done, cpu)) in shared.done.iter().zip(&shared.cpu).enumerate() {
            while done.load(Ordering::Acquire) < self.cycle {
                std::hint::spin_loop();
            }
            let c = cpu.load(Ordering::Relaxed);
            self.totals[i + 1] += if measuring { c } else { 0 };
            busiest = busiest.max(c);
        }
        let wall = wall.elapsed().as_nanos() as u64;
        host.counts.sent += host.legs.iter_mut().map(|l| drain(&mut l.tx)).sum::<u64>();
        (wall, busiest)
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// p50, p99 (bucket midpoints, never above the maximum) and maximum of `h`.
fn quantiles(h: &Histogram, max: u64) -> (u64, u64, u64) {
    let empty = Histogram::new();
    let p99 = h.quantile_with(&empty, 0.99).min(max);
    (h.quantile_with(&empty, 0.5).min(p99), p99, max)
}

/// One leg as the bench's host side sees it.
struct HostLeg {
    name: String,
    ssrc: u32,
    rx: PacketIn,
    tx: PacketOut,
}

/// Packets per direction of the run, for the churn's accounting.
#[derive(Default)]
struct Counts {
    fed: u64,
    sent: u64,
    refused: u64,
}

/// Distinct payloads the host cycles through (encoded once: the host loop stays cheap).
const PAYLOAD_CYCLES: usize = 64;
const PAYLOAD_PHASES: usize = 8;

/// What the host side sends: encoded tones per phase (`PAYLOAD_PHASES` × `PAYLOAD_CYCLES`
/// consecutive packets of one encoder each), one packet of encoded silence, and the stream's
/// payload type and RTP ticks per packet.
struct Payloads {
    tones: Vec<Vec<u8>>,
    silence: Vec<u8>,
    payload_type: u8,
    ticks: usize,
}

fn payloads(setup: &Setup) -> Result<Payloads, CliError> {
    let rate = setup.rate();
    let samples = setup.quantum.frames_at(rate).unwrap_or(0) * setup.quanta_per_packet;
    let new_encoder = || setup.codec.encoder(rate, 1, false).map_err(|e| CliError::Usage(e.to_string()));
    let mut buf = vec![0u8; MAX_PAYLOAD];
    let mut pcm = vec![0.0f32; samples];
    let mut tones = Vec::with_capacity(PAYLOAD_CYCLES * PAYLOAD_PHASES);
    for phase in 0..PAYLOAD_PHASES {
        let mut enc = new_encoder()?;
        for c in 0..PAYLOAD_CYCLES {
            for (k, v) in pcm.iter_mut().enumerate() {
                *v = (((c * samples + k) as f32) * 0.05 * 8000.0 / rate as f32 + phase as f32).sin() * 0.3;
            }
            let len = encode_frame_by_frame(&mut *enc, &pcm, &mut buf);
            tones.push(buf[..len].to_vec());
        }
    }
    let mut enc = new_encoder()?;
    let len = encode_frame_by_frame(&mut *enc, &vec![0.0; samples], &mut buf);
    let info = enc.info();
    Ok(Payloads {
        tones,
        silence: buf[..len].to_vec(),
        payload_type: info.payload_type,
        ticks: info.rtp_ticks(samples) as usize,
    })
}

fn join(
    room: &mut Room,
    engine: &Engine,
    setup: &Setup,
    names: impl Iterator<Item = u32>,
) -> Result<Vec<HostLeg>, CliError> {
    let names: Vec<u32> = names.collect();
    // The buffer's sizing needs the codec's facts: a decoder built for them only then (this
    // runs for every join of a churn, whose control-side cost the bench reports).
    let jitter = setup
        .jitter
        .then(|| setup.codec.decoder(setup.rate(), 1).map(|d| JitterConfig::for_stream(d.info(), setup.quantum)))
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let options = LegOptions { skip_silent_at: setup.bridge().then_some(50), jitter, ..LegOptions::default() };
    let mut joins = Vec::with_capacity(names.len());
    for &i in &names {
        let media = LegMedia::codec(setup.codec, setup.ptime_us(), i).map_err(|e| CliError::Usage(e.to_string()))?;
        joins.push((format!("p{i}"), media, options.clone()));
    }
    let mut io = room.join_many_with(engine, joins, |_| {})?.io;
    names
        .into_iter()
        .map(|i| {
            let name = format!("p{i}");
            let missing = |what: &str| CliError::Usage(format!("the room gave no {what} endpoint for {name}"));
            let rx = io.take_packet_in(&format!("{name}.rx")).ok_or_else(|| missing("rx"))?;
            let tx = io.take_packet_out(&format!("{name}.tx")).ok_or_else(|| missing("tx"))?;
            Ok(HostLeg { name, ssrc: i, rx, tx })
        })
        .collect()
}

fn conference(sizes: &[usize], cycles: usize, setup: Setup) -> Result<(), CliError> {
    let (q, churn, bridge) = (setup.quantum, setup.churn, setup.bridge());
    let quantum_ns = u64::from(q.micros()) * 1000;
    let ms = q.micros() / 1000;
    // Edits per cycle, in thousandths (100 per second at 10 ms: one join and one leave a cycle).
    let churn_milli = u64::from(churn) * quantum_ns / 1_000_000;
    print!(
        "| legs | churn /s | wall p50 / p99 / max us | cpu p50 / p99 / max us | ns per leg per cycle (cpu p50) | \
         ns per leg per cycle (cpu mean) | cycles over {ms} ms (wall / cpu) | missed cycles (cpu over + late partner), \
         held | legs per core at {ms} ms (cpu p99, when held) |"
    );
    if bridge {
        print!(" decodes skipped per cycle | encodes per cycle |");
    }
    println!();
    println!("|---|---|---|---|---|---|---|---|---|{}", if bridge { "---|---|" } else { "" });
    for &n in sizes {
        let cfg = EngineConfig {
            quantum: q,
            packet_pool: (n * 8).max(256),
            frame_pool: 64,
            ring_capacity: 4,
            max_partitions_per_worker: 4,
            ..EngineConfig::default()
        };
        let (engine, drivers) = Engine::driven_workers(cfg, setup.workers)?;
        let feed = Feed {
            table: payloads(&setup)?,
            bridge,
            n,
            talkers: setup.talkers,
            quanta_per_packet: setup.quanta_per_packet,
        };
        let mut crew = Crew::new(drivers, feed)?;
        let mut config = RoomConfig::new(AudioFormat::mono(setup.rate())).with_capacity(n);
        if bridge {
            let policy = TalkerPolicy { max_talkers: setup.talkers, ..TalkerPolicy::default() };
            config = config.with_max_members(n).with_policy(policy).with_shared_encodes();
        }
        if setup.kernel {
            config = config.with_kernel_workers(setup.workers);
        }
        let mut room = Room::with_config(&engine, config)?;
        // The legs' names in the order they joined (the oldest leaves first); each leg is
        // hosted by its shard's driver thread.
        let mut legs: VecDeque<String> = VecDeque::with_capacity(n);
        let joined = join(&mut room, &engine, &setup, 0..n as u32)?;
        host(&crew, &room, &mut legs, joined);
        let plan_before = engine.plan_stats(room.id())?;
        let mut next_name = n as u32;
        let (mut wall, mut cpu) = (Histogram::new(), Histogram::new());
        let (mut wall_max, mut cpu_max, mut over_wall, mut over_cpu) = (0u64, 0u64, 0u64, 0u64);
        // The histogram's buckets are ~12 % wide: the mean tells smaller changes apart.
        let mut cpu_total = 0u64;
        let (mut edit_ns, mut edits, mut edit_max_ns, mut owed_milli) = (0u64, 0u64, 0u64, 0u64);
        // The shards' late partners before the measured cycles (their first cycles after the
        // joins, when they start apart, are warm-up).
        let mut late_before = 0;
        // The cycle in which the extra leg joins (`--grow`), the capacity before, and what
        // that cycle and the next took (cpu, wall), and the join's control-side time.
        let grow_at = setup.grow.then_some(50 + cycles / 2);
        let (mut grown_from, mut grow_times, mut grow_edit_ns) = (0, Vec::new(), 0u64);
        for c in 0..cycles + 50 {
            if grow_at == Some(c) {
                grown_from = room.capacity();
                let t = Instant::now();
                let joined = join(&mut room, &engine, &setup, std::iter::once(next_name))?;
                host(&crew, &room, &mut legs, joined);
                next_name += 1;
                grow_edit_ns = t.elapsed().as_nanos() as u64;
            }
            let measuring = c >= 50;
            if c == 50 {
                late_before = room.late_partners(&engine);
            }
            if measuring && churn_milli > 0 {
                owed_milli += churn_milli;
                while owed_milli >= 1000 {
                    owed_milli -= 1000;
                    let t = Instant::now();
                    if let Some(gone) = legs.pop_front() {
                        let mut h = crew.host(room.shard_of(&gone).unwrap_or(0));
                        room.leave(&engine, &gone)?;
                        if let Some(at) = h.legs.iter().position(|l| l.name == gone) {
                            let mut leg = h.legs.remove(at);
                            h.counts.sent += drain(&mut leg.tx);
                        }
                    }
                    let joined = join(&mut room, &engine, &setup, std::iter::once(next_name))?;
                    host(&crew, &room, &mut legs, joined);
                    next_name += 1;
                    let dt = t.elapsed().as_nanos() as u64;
                    (edit_ns, edits, edit_max_ns) = (edit_ns + dt, edits + 2, edit_max_ns.max(dt));
                }
            }
            let (dt, dt_cpu) = crew.cycle(measuring);
            if grow_at.is_some_and(|g| c == g || c == g + 1) {
                grow_times.push((dt_cpu, dt));
            }
            if measuring {
                wall.record(dt);
                cpu.record(dt_cpu);
                cpu_total += dt_cpu;
                (wall_max, cpu_max) = (wall_max.max(dt), cpu_max.max(dt_cpu));
                over_wall += u64::from(dt > quantum_ns);
                over_cpu += u64::from(dt_cpu > quantum_ns);
            }
            engine.poll();
        }
        let (w50, w99, wmax) = quantiles(&wall, wall_max);
        let (c50, c99, cmax) = quantiles(&cpu, cpu_max);
        engine.poll();
        let shard = |id, name| engine.telemetry_value(id, "kernel", name).unwrap_or(0.0);
        // A spread room's cycles mixed without a late partner's legs (0 on one worker).
        let late = room.late_partners(&engine) - late_before;
        let missed = over_cpu + late;
        // Held: the p99 within the quantum, a late partner counting as a cycle over it.
        let held = missed * 100 <= cycles as u64;
        // Extrapolating legs per core only means something while a cycle fits the quantum.
        let per_core = if held && c99 <= quantum_ns {
            format!("{:.0}", n as f64 * quantum_ns as f64 / c99.max(1) as f64)
        } else {
            format!("— (not held at {ms} ms)")
        };
        let us = |v: u64| v as f64 / 1e3;
        print!(
            "| {n} | {churn} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.0} | {:.0} | {over_wall} / {over_cpu} | \
             {missed} ({over_cpu} + {late}), {} | {per_core} |",
            us(w50),
            us(w99),
            us(wmax),
            us(c50),
            us(c99),
            us(cmax),
            c50 as f64 / n as f64,
            cpu_total as f64 / cycles as f64 / n as f64,
            if held { "held" } else { "not held" },
        );
        if bridge {
            // Telemetry is published every few cycles: per cycle over the cycles it covers.
            engine.poll();
            let s = room.stats(&engine)?;
            // Cycles covered: a leg's packets in, each a packet time of quanta.
            let packets = s.per_member.iter().map(|p| p.packets_in + p.foreign_packets).sum::<u64>() as f64;
            let covered = packets * setup.quanta_per_packet as f64 / n as f64;
            let skipped: u64 = s.per_member.iter().map(|p| p.skipped_decodes).sum();
            let encodes: u64 = s.per_member.iter().map(|p| p.own_quanta).sum::<u64>() + s.shared_encoder_quanta;
            print!(" {:.1} | {:.1} |", skipped as f64 / covered.max(1.0), encodes as f64 / covered.max(1.0));
        }
        println!();
        if setup.workers > 1 {
            // The waits' CPU time is counted since the room started (its joins' cycles too,
            // ~50 of them unmeasured): per measured cycle, over all the cycles it ran.
            let all = (cycles + 50) as f64;
            let mut busiest = 0.0f64;
            let per: Vec<String> = room
                .shards()
                .into_iter()
                .zip(&crew.totals)
                .map(|(id, &cpu)| {
                    let wait = shard(id, "wait_cpu_ns") / all;
                    let work = cpu as f64 / cycles as f64 - wait;
                    busiest = busiest.max(work);
                    format!(
                        "{:.0} late / {:.0} unpublished, cpu mean {:.0} us of which waiting {:.0} us: work {:.0} us",
                        shard(id, "late_partners"),
                        shard(id, "unpublished_rows"),
                        cpu as f64 / cycles as f64 / 1e3,
                        wait / 1e3,
                        work / 1e3
                    )
                })
                .collect();
            println!("shards: {}", per.join("; "));
            // Shards that do not line up make a size with a low mean miss cycles: the table's
            // `held` says whether they did.
            println!(
                "busiest shard's work (cpu mean without waits): {:.0} us = {:.0} ns per room leg; legs at {ms} ms on \
                 {} dedicated cores at that mean if the shards lined up: {:.0} ({} as run)",
                busiest / 1e3,
                busiest / n as f64,
                setup.workers,
                n as f64 * quantum_ns as f64 / busiest.max(1.0),
                if held { "held" } else { "not held" },
            );
        }
        if let [(cpu0, wall0), (cpu1, wall1)] = grow_times[..] {
            println!(
                "grow: a join at measured cycle {} found the room full: {grown_from} -> {} ports; that cycle cpu {:.1} \
                 us, wall {:.1} us; the next cpu {:.1} us, wall {:.1} us (measured cpu p50 {:.1} us); the join's \
                 control side {:.0} us",
                cycles / 2,
                room.capacity(),
                us(cpu0),
                us(wall0),
                us(cpu1),
                us(wall1),
                us(c50),
                us(grow_edit_ns),
            );
        }
        if churn > 0 {
            let counts = crew.counts();
            let stats = engine.partition_stats(room.id())?;
            println!(
                "churn: {edits} edits (joins + leaves), control side {:.0} us per join+leave (max {:.0} us); \
                 packets fed {} (refused {}), sent {}, drops {}, errors {}, underruns {}; packet pool in use {} \
                 (legs {} x up to 4 in each ring)",
                edit_ns as f64 / 1e3 / (edits / 2).max(1) as f64,
                us(edit_max_ns),
                counts.fed,
                counts.refused,
                counts.sent,
                stats.drops(),
                stats.errors,
                stats.underruns,
                engine.packet_pool().in_use(),
                legs.len(),
            );
            let p = engine.plan_stats(room.id())?;
            println!(
                "planner: {} edits incremental, {} full layouts; schedules {} recycled, {} new; {} steps, {} holes; \
                 buffers audio/packet/control {}/{}/{} (before the churn {}/{}/{})",
                p.incremental,
                p.layouts,
                p.recycled,
                p.fresh,
                p.active_steps,
                p.holes,
                p.buffers[0],
                p.buffers[1],
                p.buffers[2],
                plan_before.buffers[0],
                plan_before.buffers[1],
                plan_before.buffers[2],
            );
        }
    }
    Ok(())
}

/// Gives `joined` to their shards' driver threads (`crew`'s hosts) and appends their names
/// to `names` (the join order).
fn host(crew: &Crew, room: &Room, names: &mut VecDeque<String>, joined: Vec<HostLeg>) {
    for leg in joined {
        names.push_back(leg.name.clone());
        crew.host(room.shard_of(&leg.name).unwrap_or(0)).legs.push(leg);
    }
}

/// Pops everything a leg sent; returns how many packets.
fn drain(tx: &mut PacketOut) -> u64 {
    let mut n = 0;
    while tx.pop_with(|_, _| ()).is_some() {
        n += 1;
    }
    n
}
