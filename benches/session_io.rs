//! What moving live sessions' packets costs: N PCMU sessions (N/2 pairs calling each other
//! over loopback, 20 ms packets, 50 a second each way per session) on a running engine
//! (2 workers), measured over a window after they all run:
//!
//! - the threads of the process, and how many of them are RTP I/O threads (`rvoip-rtp-io*`);
//! - the CPU time of the I/O threads (`/proc/self/task/*/schedstat`, nanoseconds on CPU)
//!   per packet moved (RTP sent + received by all sessions), and of the whole process;
//! - the packets each session sent and received (a check that media flowed), and the
//!   workers' cycles a second (100 when they keep up with the 10 ms quantum: fewer means
//!   the workers, not the I/O, were short of CPU).
//!
//! Run: `cargo bench --bench session_io -- 100 1000` (session counts; default 100 and
//! 1,000; `--seconds S` sets the window, default 5; `--io-threads N` the engine's I/O
//! threads, default the engine's default). Not a criterion bench: one window of a
//! live system per count, printed as a table row.

#[path = "../tests/support/call_pair.rs"]
mod call_pair;

use call_pair::start_pair;
use rvoip_media_core::session::*;
use std::time::{Duration, Instant};

/// CPU nanoseconds of this process's threads whose name starts with `prefix` (all threads
/// for ""), and how many there are.
fn threads_cpu(prefix: &str) -> (usize, u64) {
    let (mut n, mut ns) = (0, 0);
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return (0, 0) };
    for task in dir.flatten() {
        let path = task.path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !name.starts_with(prefix) {
            continue;
        }
        n += 1;
        let stat = std::fs::read_to_string(path.join("schedstat")).unwrap_or_default();
        ns += stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    (n, ns)
}

/// Packets sent and received by every session.
fn packets(sessions: &[MediaSession]) -> (u64, u64) {
    sessions.iter().fold((0, 0), |(s, r), x| {
        let st = x.rtp_statistics();
        (s + st.packets_sent, r + st.received.received)
    })
}

/// Cycles run by all workers.
fn worker_cycles(engine: &MediaEngine) -> u64 {
    engine.engine().status().workers.iter().map(|w| w.stats.cycles).sum()
}

fn run(n: usize, window: Duration, io_threads: Option<usize>) {
    let mut builder = MediaEngineConfig::builder().workers(2).realtime(None).pin_workers(false);
    if let Some(k) = io_threads {
        builder = builder.io_threads(k);
    }
    let config = builder.build();
    let engine = MediaEngine::start(config).unwrap();
    let wait = Duration::from_secs(30);
    let mut sessions = Vec::with_capacity(n);
    for i in 0..n / 2 {
        let (a, b) = start_pair(&engine, &i.to_string(), wait);
        sessions.push(a);
        sessions.push(b);
    }
    std::thread::sleep(Duration::from_secs(1));
    let (io_threads, io0) = threads_cpu("rvoip-rtp-io");
    let (threads, all0) = threads_cpu("");
    let (s0, r0) = packets(&sessions);
    let c0 = worker_cycles(&engine);
    let t0 = Instant::now();
    std::thread::sleep(window);
    let (_, io1) = threads_cpu("rvoip-rtp-io");
    let (_, all1) = threads_cpu("");
    let (s1, r1) = packets(&sessions);
    let c1 = worker_cycles(&engine);
    let secs = t0.elapsed().as_secs_f64();
    let moved = (s1 - s0) + (r1 - r0);
    let per_session_s = |p: u64| p as f64 / n as f64 / secs;
    println!(
        "| {n} | {threads} | {io_threads} | {:.0} | {:.1} % | {:.1} % | {:.1} / {:.1} | {:.0} |",
        (io1 - io0) as f64 / moved.max(1) as f64,
        (io1 - io0) as f64 / secs / 1e7,
        (all1 - all0) as f64 / secs / 1e7,
        per_session_s(s1 - s0),
        per_session_s(r1 - r0),
        (c1 - c0) as f64 / 2.0 / secs,
    );
    for mut s in sessions {
        let _ = s.stop();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut window = Duration::from_secs(5);
    let mut counts = Vec::new();
    let mut io_threads = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--seconds" {
            if let Some(s) = args.get(i + 1).and_then(|s| s.parse::<f64>().ok()) {
                window = Duration::from_secs_f64(s);
            }
            i += 1;
        } else if args[i] == "--io-threads" {
            io_threads = args.get(i + 1).and_then(|s| s.parse::<usize>().ok());
            i += 1;
        } else if let Ok(n) = args[i].parse::<usize>() {
            counts.push(n);
        }
        i += 1;
    }
    if counts.is_empty() {
        counts = vec![100, 1000];
    }
    let limit = rvoip_media_core::transport::batch::raise_open_file_limit().unwrap_or(0);
    println!("open-file limit {limit}; window {:.1} s; load average {}", window.as_secs_f64(), load_average());
    println!("| sessions | threads | RTP I/O threads | I/O CPU ns / packet | I/O CPU (% of a core) | process CPU (% of a core) | packets/s per session sent / received | cycles/s per worker |");
    println!("|---|---|---|---|---|---|---|---|");
    for n in counts {
        run(n.max(2), window, io_threads);
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
