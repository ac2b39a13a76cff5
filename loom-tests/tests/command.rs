//! loom model of the control <-> worker command/reply protocol.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use rvoip_media_sync::command::{channel, Full};

/// A payload that records on which thread it was dropped.
struct Payload {
    value: u32,
    drops_on_worker: Arc<AtomicUsize>,
}

impl Drop for Payload {
    fn drop(&mut self) {
        if WORKER.with(|w| w.get()) {
            self.drops_on_worker.fetch_add(1, Ordering::SeqCst);
        }
    }
}

loom::thread_local! {
    static WORKER: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// The control thread sends 3 commands through a channel of capacity 2 (so it meets a full
/// queue and must retry after collecting replies); the worker serves them. Every command
/// is applied exactly once and in order, each gets exactly one reply, a full queue hands
/// the command back (never drops it), no reply is lost, and the payload that rides back in
/// a reply is dropped on the control thread, never on the worker.
#[test]
fn commands_applied_once_in_order_and_replies_never_lost() {
    loom::model(|| {
        let (mut control, mut worker) = channel::<Payload, Payload>(2);
        let drops_on_worker = Arc::new(AtomicUsize::new(0));
        let applied = Arc::new(AtomicUsize::new(0));
        let w_applied = applied.clone();
        let t = thread::spawn(move || {
            WORKER.with(|w| w.set(true));
            let mut next = 0;
            while next < 3 {
                let n = worker.serve(2, |cmd| {
                    assert_eq!(cmd.value, next, "commands out of order");
                    next += 1;
                    w_applied.fetch_add(1, Ordering::SeqCst);
                    cmd // the worker lets go of it: it rides back in the reply
                });
                if n == 0 {
                    thread::yield_now();
                }
            }
            assert_eq!(worker.lost_replies(), 0);
        });
        let mut replies = Vec::new();
        for value in 0..3 {
            let mut cmd = Payload { value, drops_on_worker: drops_on_worker.clone() };
            loop {
                match control.send(cmd) {
                    Ok(()) => break,
                    Err(Full(back)) => {
                        assert_eq!(back.value, value, "a full queue must hand the command back");
                        cmd = back;
                        control.poll(|r| replies.push(r.value));
                        thread::yield_now();
                    }
                }
            }
        }
        while replies.len() < 3 {
            control.poll(|r| replies.push(r.value));
            thread::yield_now();
        }
        t.join().unwrap();
        assert_eq!(replies, [0, 1, 2]);
        assert_eq!(control.in_flight(), 0);
        assert_eq!(applied.load(Ordering::SeqCst), 3);
        assert_eq!(drops_on_worker.load(Ordering::SeqCst), 0);
    });
}
