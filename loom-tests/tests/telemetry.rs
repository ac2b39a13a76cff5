//! loom model of node telemetry publication (`SeqLockSlice`, one per publishing node).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rvoip_media_sync::seqlock::SeqLockSlice;

/// A worker publishes two snapshots of a node's values; the control side reads at any time.
/// It never sees values from two different snapshots, and never an older one after a newer.
#[test]
fn telemetry_reads_are_never_torn_or_older() {
    loom::model(|| {
        let cell = Arc::new(SeqLockSlice::new(2));
        let writer = cell.clone();
        let t = thread::spawn(move || {
            for k in 1..=2u64 {
                writer.write(&[k, k * 7]);
            }
        });
        let mut last = 0;
        for _ in 0..2 {
            let mut v = [0u64; 2];
            cell.read_into(&mut v);
            assert_eq!(v[1], v[0] * 7, "torn telemetry snapshot");
            assert!(v[0] >= last, "telemetry went backwards");
            last = v[0];
        }
        t.join().unwrap();
        let mut v = [0u64; 2];
        cell.read_into(&mut v);
        assert_eq!(v, [2, 14]);
    });
}
