//! loom model of statistics publication.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rvoip_media_sync::seqlock::SeqLock;

/// The worker publishes snapshots whose words are all equal; the reader must never see a
/// mix of two snapshots, and what it sees never goes backwards.
#[test]
fn readers_never_see_torn_or_older_snapshots() {
    loom::model(|| {
        let cell = Arc::new(SeqLock::<3>::new());
        let writer = cell.clone();
        let t = thread::spawn(move || {
            for k in 1..=2u64 {
                writer.write(&[k, k * 10, k * 100]);
            }
        });
        let mut last = 0;
        for _ in 0..2 {
            let [a, b, c] = cell.read();
            assert_eq!((b, c), (a * 10, a * 100), "torn snapshot");
            assert!(a >= last, "snapshot went backwards");
            last = a;
        }
        t.join().unwrap();
        assert_eq!(cell.read(), [2, 20, 200]);
    });
}
