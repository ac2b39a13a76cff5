//! loom model of the SPSC ring under the command protocol.
#![cfg(loom)]

use loom::thread;
use rvoip_media_sync::spsc::ring;

/// Three values through a ring of two: FIFO, nothing lost or duplicated, a full ring
/// gives the value back.
#[test]
fn fifo_without_loss_or_duplication() {
    loom::model(|| {
        let (mut tx, mut rx) = ring::<Box<u32>>(2);
        let t = thread::spawn(move || {
            for v in 0..3u32 {
                let mut item = Box::new(v);
                loop {
                    match tx.push(item) {
                        Ok(()) => break,
                        Err(back) => {
                            assert_eq!(*back, v);
                            item = back;
                            thread::yield_now();
                        }
                    }
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            match rx.pop() {
                Some(v) => got.push(*v),
                None => thread::yield_now(),
            }
        }
        t.join().unwrap();
        assert_eq!(got, [0, 1, 2]);
        assert!(rx.pop().is_none());
    });
}
