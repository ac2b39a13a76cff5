//! The soak, short: a live room of 100 G.711 legs on a real-time worker (SCHED_FIFO where
//! the system allows it), one leg leaving or joining every 200 ms for 8 s through live
//! edits, packets flowing. Nothing may be dropped or reported as an error, memory must stay
//! flat after warm-up (within 5 %), and once the room is removed no partition, frame or
//! packet may remain in use. The long run is `cargo run --release --example soak`.

#[path = "support/soak.rs"]
mod soak;

use std::time::Duration;

#[test]
fn a_churning_room_leaks_nothing_and_drops_nothing() {
    let r = soak::run(100, 8, Duration::from_millis(200));
    assert!(r.edits >= 35, "{r:?}");
    assert_eq!(r.room_edits, 100 + r.edits, "one edit per join and leave: {r:?}");
    assert_eq!((r.room_drops, r.room_errors, r.push_failures), (0, 0, 0), "{r:?}");
    assert!(r.packets_out > 30_000, "{r:?}");
    assert_eq!((r.partitions_after, r.frames_in_use_after, r.packets_in_use_after), (0, 0, 0), "{r:?}");
    assert!(r.rss_start_kib > 0 && (r.rss_end_kib as f64) < 1.05 * r.rss_start_kib as f64, "memory grew: {r:?}");
}
