//! Soak run of a live conference room: `legs` G.711 participants on a real-time worker, one
//! joining or leaving every second through live edits, every leg sending a packet every
//! 20 ms and its mix drained, for `seconds`. Prints the worker's deadline misses, drops and
//! errors, the resident memory after warm-up and at the end, and what is still allocated
//! after the room is removed (partitions, pool objects in use).
//!
//! ```text
//! cargo run --release --example soak -- [legs] [seconds]      # defaults: 200 legs, 60 s
//! ```
//!
//! `tests/soak.rs` runs a short version of the same loop in CI.

#[path = "../tests/support/soak.rs"]
mod soak;

use std::time::Duration;

fn main() {
    let mut args = std::env::args().skip(1);
    let legs: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(200);
    let seconds: u64 = args.next().and_then(|v| v.parse().ok()).unwrap_or(60);
    let r = soak::run(legs, seconds, Duration::from_secs(1));
    println!(
        "soak: {} legs, {} s, {} edits ({} joins in all), worker {:?}",
        r.legs, r.seconds, r.edits, r.joins, r.priority
    );
    println!(
        "cycles {} deadline misses {}, cycle p50 {:.1} us p99 {:.1} us max {:.1} us",
        r.cycles, r.worker_deadline_misses, r.p50_us, r.p99_us, r.max_us
    );
    println!(
        "packets in {} out {} push failures {}; room drops {} errors {} edits {}",
        r.packets_in, r.packets_out, r.push_failures, r.room_drops, r.room_errors, r.room_edits
    );
    let growth = if r.rss_start_kib > 0 { (r.rss_end_kib as f64 / r.rss_start_kib as f64 - 1.0) * 100.0 } else { 0.0 };
    println!(
        "resident memory {} KiB after warm-up, {} KiB at the end ({growth:+.1} %)",
        r.rss_start_kib, r.rss_end_kib
    );
    println!(
        "after removal: partitions {}, frames in use {}, packets in use {}",
        r.partitions_after, r.frames_in_use_after, r.packets_in_use_after
    );
}
