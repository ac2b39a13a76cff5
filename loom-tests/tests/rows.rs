//! loom model of the rows a spread room's shards share (`sync::rows`).
//!
//! Three cycles, so each shard writes one of its buffers a second time (cycle 3 over cycle
//! 1's row) while the other may still be reading it. Checked by hand (2026-12-03, and again
//! 2026-12-04 after the rows became one per shard) that the model can fail: with
//! `SharedRows::publish` not checking the others' released cycle, loom reports "Causality
//! violation: Concurrent read and write accesses to `UnsafeCell`".
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rvoip_media_sync::rows::SharedRows;

const LEN: usize = 2;
const CYCLES: u64 = 3;

/// Shard `s`'s row for cycle `c`.
fn value(s: usize, c: u64) -> f32 {
    ((s as u64 + 1) * 10 + c) as f32
}

/// One shard's cycles: publish its row, wait a bounded time for its partner's, sum. Every
/// total holds its own row and, of its partner's, the whole row of the same cycle or none;
/// loom also checks that no row is written while the other shard may read it (the rows are
/// in a tracked cell).
fn shard(rows: &SharedRows, s: usize) {
    let mut last = 0;
    while last < CYCLES {
        let c = rows.next_cycle(s, last);
        let own = [value(s, c); LEN];
        rows.publish(s, c, &own);
        let mut tries = 0;
        let on_time = rows.wait(1 - s, c, || {
            tries += 1;
            tries < 2
        });
        let mut total = [0.0f32; LEN];
        rows.sum(s, c, if on_time { 1 << (1 - s) } else { 0 }, &own, &mut total);
        assert_eq!(total[0], total[1], "torn row");
        let partner = total[0] - value(s, c);
        assert!(partner == 0.0 || partner == value(1 - s, c), "shard {s} cycle {c}: {total:?}");
        rows.finish_cycle(s, c);
        last = c;
    }
}

#[test]
fn shards_read_whole_rows_of_their_cycle_and_never_race_a_write() {
    loom::model(|| {
        let rows = Arc::new(SharedRows::new(2, LEN).unwrap());
        let other = rows.clone();
        let t = thread::spawn(move || shard(&other, 1));
        shard(&rows, 0);
        t.join().unwrap();
    });
}
