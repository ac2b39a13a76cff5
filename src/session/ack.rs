//! [`Ack`]: a runtime-agnostic future for a worker's acknowledgement.
//!
//! Control calls return at once with a ticket; the worker applies the command at its next
//! cycle boundary. An [`Ack`] resolves when the engine has the answer. Polled and not done,
//! it hands its waker to the media engine's watcher thread (control side, shared by all
//! acknowledgements), which checks outstanding tickets every millisecond and wakes the
//! tasks whose commands were answered — so awaiting never blocks a runtime thread and
//! needs no particular runtime. [`Ack::wait`] blocks instead, for synchronous callers.

use super::Error;
use crate::engine::{Engine, Ticket};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Wakes the tasks waiting on tickets once the engine has answered them.
pub(crate) struct Watcher {
    waiting: Mutex<Vec<(Ticket, Waker)>>,
    cv: Condvar,
    stop: AtomicBool,
}

impl Watcher {
    pub(crate) fn start(engine: Arc<Engine>) -> std::io::Result<(Arc<Watcher>, JoinHandle<()>)> {
        let w = Arc::new(Watcher { waiting: Mutex::new(Vec::new()), cv: Condvar::new(), stop: AtomicBool::new(false) });
        let me = w.clone();
        let t = std::thread::Builder::new().name("rvoip-ack-watcher".into()).spawn(move || me.run(&engine))?;
        Ok((w, t))
    }

    fn run(&self, engine: &Engine) {
        loop {
            let mut list = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
            while list.is_empty() && !self.stop.load(Ordering::Acquire) {
                list = self.cv.wait(list).unwrap_or_else(|e| e.into_inner());
            }
            if self.stop.load(Ordering::Acquire) {
                for (_, w) in list.drain(..) {
                    w.wake();
                }
                return;
            }
            list.retain(|(t, w)| {
                let done = engine.is_done(*t);
                if done {
                    w.wake_by_ref();
                }
                !done
            });
            drop(list);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn register(&self, ticket: Ticket, waker: &Waker) {
        let mut list = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        match list.iter_mut().find(|(t, _)| *t == ticket) {
            Some((_, w)) => w.clone_from(waker),
            None => list.push((ticket, waker.clone())),
        }
        self.cv.notify_one();
    }

    pub(crate) fn shutdown(&self) {
        self.stop.store(true, Ordering::Release);
        let _guard = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }
}

/// The acknowledgement of a control command: `.await` it (any executor), or
/// [`Ack::wait`]. Resolves to `Err(`[`Error::Refused`]`)` when the worker refused the
/// command. An `Ack` with nothing to wait for (the call changed nothing on a worker) is
/// ready at once.
///
/// ```
/// use rvoip_media_core::session::{MediaEngine, MediaEngineConfig};
/// let engine = MediaEngine::start(MediaEngineConfig::builder().workers(1).realtime(None).build()).unwrap();
/// let ack = engine.ping().unwrap();
/// ack.wait(std::time::Duration::from_secs(2)).unwrap(); // or `ack.await` in async code
/// ```
#[must_use = "an Ack does nothing unless awaited or waited for"]
pub struct Ack {
    pub(crate) engine: Arc<Engine>,
    pub(crate) watcher: Arc<Watcher>,
    pub(crate) ticket: Option<Ticket>,
}

impl Ack {
    fn outcome(&self) -> Option<Result<(), Error>> {
        let Some(t) = self.ticket else { return Some(Ok(())) };
        self.engine.outcome(t).map(|o| o.map_err(Error::Refused))
    }

    /// Blocks the calling thread until the worker answered, at most `timeout`.
    ///
    /// # Errors
    /// [`Error::Timeout`], [`Error::Refused`].
    pub fn wait(self, timeout: Duration) -> Result<(), Error> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(r) = self.outcome() {
                return r;
            }
            if Instant::now() >= until {
                return Err(Error::Timeout);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Whether the worker has answered.
    pub fn is_done(&self) -> bool {
        self.outcome().is_some()
    }
}

impl Future for Ack {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(r) = self.outcome() {
            return Poll::Ready(r);
        }
        if let Some(t) = self.ticket {
            self.watcher.register(t, cx.waker());
        }
        // Answered between the first look and the registration: ready now (the watcher's
        // later wake is harmless).
        match self.outcome() {
            Some(r) => Poll::Ready(r),
            None => Poll::Pending,
        }
    }
}
