//! loom model of the message return path: a typed message travels to a node on the worker
//! inside a command, the node swaps its state for the message's content, and the replaced
//! state rides back in the reply to be dropped on the control thread.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use rvoip_media_graph::{MessageError, NodeSpec, ProcessIo, Processor};
use rvoip_media_sync::command::channel;
use std::any::Any;

loom::thread_local! {
    static WORKER: std::cell::Cell<bool> = std::cell::Cell::new(false);
}

/// State that counts where it is dropped.
struct State {
    id: u32,
    drops: Arc<AtomicUsize>,
    drops_on_worker: Arc<AtomicUsize>,
}

impl Drop for State {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if WORKER.with(|w| w.get()) {
            self.drops_on_worker.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A node whose state is replaced by message.
struct Node(State);

impl Processor for Node {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("node").with_message::<State>()
    }
    fn process(&mut self, _io: &mut ProcessIo<'_>) {}
    fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        let new = msg.downcast_mut::<State>().ok_or(MessageError::WrongType)?;
        std::mem::swap(&mut self.0, new);
        Ok(())
    }
}

/// Two messages in a row: the node ends with the second state; the initial and the first
/// states come back and are dropped on the control thread; nothing is dropped on the
/// worker, and every reply arrives.
#[test]
fn replaced_state_returns_and_is_dropped_on_the_control_thread() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let on_worker = Arc::new(AtomicUsize::new(0));
        let state = |id| State { id, drops: drops.clone(), drops_on_worker: on_worker.clone() };
        let (mut control, mut worker) = channel::<Box<dyn Any + Send>, Box<dyn Any + Send>>(2);
        let node = Node(state(0));
        let t = thread::spawn(move || {
            WORKER.with(|w| w.set(true));
            let mut node = node;
            let mut served = 0;
            while served < 2 {
                served += worker.serve(2, |mut msg| {
                    node.message(msg.as_mut()).unwrap();
                    msg
                });
                if served < 2 {
                    thread::yield_now();
                }
            }
            // Hand the node itself back (its removal), as the engine does.
            node
        });
        for id in 1..=2 {
            assert!(control.send(Box::new(state(id))).is_ok());
        }
        let mut returned = Vec::new();
        while returned.len() < 2 {
            control.poll(|r| returned.push(r.downcast::<State>().unwrap().id));
            thread::yield_now();
        }
        let node = t.join().unwrap();
        assert_eq!(returned, [0, 1]);
        assert_eq!(node.0.id, 2);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        drop(node);
        assert_eq!(drops.load(Ordering::SeqCst), 3);
        assert_eq!(on_worker.load(Ordering::SeqCst), 0);
    });
}
