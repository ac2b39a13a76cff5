//! loom model of a kernel room's packet lanes (`sync::lanes`).
#![cfg(loom)]

use loom::thread;
use rvoip_media_graph::{Packet, PacketMeta};
use rvoip_media_sync::lanes::{Lanes, PushError};
use rvoip_media_sync::pool::Pool;

/// Three packets through a lane of two slots (the second over the inline bytes, in a pooled
/// packet): in order, whole (a payload is never read while written), nothing lost or read
/// twice, a full lane refuses; after both ends are gone the pooled packets are all back and
/// the lane can be claimed again.
#[test]
fn packets_cross_whole_in_order_and_the_lane_comes_back() {
    loom::model(|| {
        let pool = Pool::new(2, |_| Packet::new());
        let lanes = Lanes::new(1, 2);
        let (mut tx, mut rx) = Lanes::claim(&lanes, 0).unwrap();
        let p = pool.clone();
        let t = thread::spawn(move || {
            for v in 0..3u16 {
                let len = if v == 1 { 300 } else { 4 };
                let payload = vec![v as u8; len];
                let meta = PacketMeta { sequence: v, ..PacketMeta::default() };
                loop {
                    match tx.push(&meta, &payload, &p) {
                        Ok(()) => break,
                        Err(e) => {
                            assert_eq!(e, PushError::Full);
                            thread::yield_now();
                        }
                    }
                }
            }
        });
        let mut next = 0u16;
        while next < 3 {
            let got = rx.pop_with(|s| {
                let (seq, pay) = (s.meta.sequence, s.payload());
                assert!(pay.iter().all(|&b| b == seq as u8));
                assert_eq!(pay.len(), if seq == 1 { 300 } else { 4 });
                seq
            });
            match got {
                Some(seq) => {
                    assert_eq!(seq, next);
                    next += 1;
                }
                None => thread::yield_now(),
            }
        }
        t.join().unwrap();
        drop(rx);
        assert_eq!(pool.in_use(), 0);
        assert!(Lanes::claim(&lanes, 0).is_some());
    });
}
