//! loom model of endpoint abandonment for control values (`ControlCell` / `ControlShared`):
//! the host learns that the worker's end is gone, and once it knows, it sees the last value
//! the worker stored.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use rvoip_media_sync::control::{ControlCell, ControlShared};

#[test]
fn abandonment_is_seen_with_the_last_value() {
    loom::model(|| {
        let shared = Arc::new(ControlShared::new());
        let worker_end = ControlCell::new(shared.clone());
        let t = thread::spawn(move || {
            worker_end.set(1.0);
            worker_end.set(2.0);
            // The worker's end leaves (in the engine: handed back and dropped on the
            // control thread).
            drop(worker_end);
        });
        let mut seen_abandoned = false;
        for _ in 0..3 {
            if shared.is_abandoned() {
                seen_abandoned = true;
                assert_eq!(shared.get(), 2.0, "abandoned but the last value is not visible");
                break;
            }
            thread::yield_now();
        }
        t.join().unwrap();
        assert!(shared.is_abandoned());
        assert_eq!(shared.get(), 2.0);
        let _ = seen_abandoned;
    });
}
