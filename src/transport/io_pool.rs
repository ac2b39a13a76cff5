//! [`IoPool`]: a few I/O threads serving every session's sockets with batched system calls.
//!
//! A session's [`UdpTransport`](super::UdpTransport) hands its sockets, ring ends and shared
//! state to a pool thread at start (the one serving the fewest streams) and takes them back
//! at stop; sessions come and go while the threads run. Each thread (Linux):
//! - waits in `epoll_wait` on the RTP and RTCP sockets of its streams, at most until its next
//!   sweep;
//! - reads every ready socket with `recvmmsg` (up to [`IoPoolConfig::batch`] datagrams a
//!   call, at most [`IoPoolConfig::max_reads`] calls per socket per wake-up, so a flooding
//!   peer cannot starve the others) and hands each datagram to the stream's receive logic
//!   (`stream.rs`: RTP to the graph's ring, RTCP parsed, DTMF decoded, symmetric RTP
//!   latched);
//! - every [`IoPoolConfig::sweep_interval`], for every stream: sends what its graph produced
//!   (one `sendmmsg` per socket), sends an RTCP report when one is due, and finishes the
//!   streams whose transport was stopped (last packets, RTCP BYE, sockets closed).
//!
//! Elsewhere the same loop runs on [`super::batch`]'s portable calls (non-blocking
//! `recv_from` / `send_to`, every socket looked at after each wait).
//!
//! ```
//! use rvoip_media_core::transport::{IoPool, IoPoolConfig};
//! let pool = IoPool::start(IoPoolConfig { threads: 2, ..IoPoolConfig::default() }).unwrap();
//! assert_eq!((pool.threads(), pool.streams()), (2, 0));
//! ```

use super::batch::sys;
use super::stream::Stream;
use super::{TransportError, TransportEvent};
use crate::engine::rt::now_ns;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Settings of an [`IoPool`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoPoolConfig {
    /// I/O threads; at least 1.
    pub threads: usize,
    /// Datagrams per `recvmmsg` / `sendmmsg` call; at least 1.
    pub batch: usize,
    /// `recvmmsg` calls per ready socket per wake-up at most (a flooding peer's share).
    pub max_reads: usize,
    /// How often every stream's send ring, RTCP timer and stop flag are looked at.
    pub sweep_interval: Duration,
}

impl Default for IoPoolConfig {
    /// One thread, 32 datagrams a call, 4 calls per socket per wake-up, a sweep every
    /// millisecond.
    fn default() -> Self {
        IoPoolConfig { threads: 1, batch: 32, max_reads: 4, sweep_interval: Duration::from_millis(1) }
    }
}

/// Largest datagram read; a longer one is counted malformed.
const MAX_DATAGRAM: usize = 2048;

/// The poll token of a thread's [`sys::Waker`].
const WAKE: u64 = u64::MAX;

/// What a control thread hands to an I/O thread.
struct Inbox {
    new: Mutex<Vec<Stream>>,
    pending: AtomicBool,
    stop: AtomicBool,
    /// Streams the thread serves (or is about to).
    streams: AtomicUsize,
    /// Ends the thread's wait: a stream to take or to finish.
    waker: sys::Waker,
}

/// Running I/O threads that sessions' transports join; see the [module docs](self). Dropped
/// (with the last transport holding it), it finishes every stream still served and joins
/// its threads.
pub struct IoPool {
    inboxes: Vec<Arc<Inbox>>,
    threads: Vec<JoinHandle<()>>,
}

impl IoPool {
    /// Starts the threads (named `rvoip-rtp-io-K`).
    ///
    /// # Errors
    /// [`TransportError::State`] for a thread, batch or read count of 0,
    /// [`TransportError::Io`] when a thread or its poller cannot be created.
    ///
    /// ```
    /// use rvoip_media_core::transport::{IoPool, IoPoolConfig, TransportError};
    /// let none = IoPool::start(IoPoolConfig { threads: 0, ..IoPoolConfig::default() });
    /// assert!(matches!(none, Err(TransportError::State(_))));
    /// ```
    pub fn start(config: IoPoolConfig) -> Result<Arc<IoPool>, TransportError> {
        if config.threads == 0 || config.batch == 0 || config.max_reads == 0 {
            return Err(TransportError::State("threads, batch and max_reads must be at least 1"));
        }
        let mut pool = IoPool { inboxes: Vec::new(), threads: Vec::new() };
        for k in 0..config.threads {
            let inbox = Arc::new(Inbox {
                new: Mutex::new(Vec::new()),
                pending: AtomicBool::new(false),
                stop: AtomicBool::new(false),
                streams: AtomicUsize::new(0),
                waker: sys::Waker::new()?,
            });
            let io = IoThread::new(config.clone(), inbox.clone())?;
            let t = std::thread::Builder::new().name(format!("rvoip-rtp-io-{k}")).spawn(move || io.run())?;
            pool.inboxes.push(inbox);
            pool.threads.push(t);
        }
        Ok(Arc::new(pool))
    }

    /// I/O threads.
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// Streams served now (started and not yet finished), over all threads.
    pub fn streams(&self) -> usize {
        self.inboxes.iter().map(|i| i.streams.load(Ordering::Relaxed)).sum()
    }

    /// Streams thread `k` serves now (none for a thread that does not exist).
    ///
    /// ```
    /// use rvoip_media_core::transport::{IoPool, IoPoolConfig};
    /// let pool = IoPool::start(IoPoolConfig::default()).unwrap();
    /// assert_eq!((pool.thread_streams(0), pool.thread_streams(1)), (Some(0), None));
    /// ```
    pub fn thread_streams(&self, k: usize) -> Option<usize> {
        self.inboxes.get(k).map(|i| i.streams.load(Ordering::Relaxed))
    }

    /// Hands `stream` to the thread serving the fewest; returns that thread's index (for
    /// [`IoPool::wake`]).
    pub(super) fn add(&self, stream: Stream) -> usize {
        let Some((k, inbox)) = self.inboxes.iter().enumerate().min_by_key(|(_, i)| i.streams.load(Ordering::Relaxed))
        else {
            return 0;
        };
        inbox.streams.fetch_add(1, Ordering::Relaxed);
        inbox.new.lock().unwrap_or_else(|e| e.into_inner()).push(stream);
        inbox.pending.store(true, Ordering::Release);
        inbox.waker.wake();
        k
    }

    /// Wakes thread `k` to look at its streams' stop flags now rather than at its next sweep.
    pub(super) fn wake(&self, k: usize) {
        if let Some(i) = self.inboxes.get(k) {
            i.waker.wake();
        }
    }
}

impl Drop for IoPool {
    fn drop(&mut self) {
        for i in &self.inboxes {
            i.stop.store(true, Ordering::Release);
            i.waker.wake();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One I/O thread's state; buffers and headers are allocated when it starts.
struct IoThread {
    config: IoPoolConfig,
    inbox: Arc<Inbox>,
    poller: sys::Poller,
    rx: sys::Batch,
    tx: sys::Batch,
    /// Streams by slot; a socket's poll token is its slot × 2 (+ 1 for RTCP).
    slots: Vec<Option<Stream>>,
    free: Vec<usize>,
    events: Vec<TransportEvent>,
}

impl IoThread {
    fn new(config: IoPoolConfig, inbox: Arc<Inbox>) -> Result<IoThread, TransportError> {
        let mut poller = sys::Poller::new(1024)?;
        poller.add(&inbox.waker, WAKE)?;
        Ok(IoThread {
            poller,
            rx: sys::Batch::new(config.batch, MAX_DATAGRAM),
            tx: sys::Batch::new(config.batch, MAX_DATAGRAM),
            config,
            inbox,
            slots: Vec::new(),
            free: Vec::new(),
            events: Vec::with_capacity(16),
        })
    }

    fn run(mut self) {
        let sweep_ns = (self.config.sweep_interval.as_nanos() as u64).max(1);
        let mut next_sweep = now_ns() + sweep_ns;
        while !self.inbox.stop.load(Ordering::Acquire) {
            if self.inbox.pending.swap(false, Ordering::Acquire) {
                self.take_new();
            }
            let ready = self.poller.wait(next_sweep.saturating_sub(now_ns()));
            let mut woken = false;
            for k in 0..ready {
                let token = self.poller.ready(k);
                if token == WAKE {
                    self.inbox.waker.drain();
                    woken = true;
                } else {
                    self.receive((token >> 1) as usize, token & 1 == 1);
                }
            }
            let now = now_ns();
            if woken {
                self.finish_stopped(now);
            }
            if now >= next_sweep {
                self.sweep(now);
                next_sweep = if now >= next_sweep + sweep_ns { now + sweep_ns } else { next_sweep + sweep_ns };
            }
        }
        self.take_new();
        let now = now_ns();
        for i in 0..self.slots.len() {
            self.finish(i, now);
        }
    }

    /// Starts serving the streams handed over since the last look.
    fn take_new(&mut self) {
        let new = std::mem::take(&mut *self.inbox.new.lock().unwrap_or_else(|e| e.into_inner()));
        for stream in new {
            let i = self.free.pop().unwrap_or_else(|| {
                self.slots.push(None);
                self.slots.len() - 1
            });
            let token = (i as u64) << 1;
            let mut ok = self.poller.add(&stream.rtp, token).is_ok();
            if let Some(r) = &stream.rtcp {
                ok &= self.poller.add(r, token | 1).is_ok();
            }
            self.slots[i] = Some(stream);
            if !ok {
                // Cannot be polled: finished at once (its transport's stop returns).
                self.finish(i, now_ns());
            }
        }
    }

    /// Reads socket (`rtcp` or RTP) of slot `i` until it is empty or has had its share.
    fn receive(&mut self, i: usize, rtcp: bool) {
        let Some(Some(stream)) = self.slots.get_mut(i) else { return };
        let max = self.config.batch;
        for _ in 0..self.config.max_reads {
            let socket = if rtcp { stream.rtcp.as_ref() } else { Some(&stream.rtp) };
            let Some(socket) = socket else { return };
            let n = self.rx.recv(socket, max);
            let now = now_ns();
            for j in 0..n {
                match self.rx.received(j) {
                    (Some(data), Some(from)) => stream.on_datagram(data, from, rtcp, now, &mut self.events),
                    // Truncated, or from an address family we cannot read.
                    _ => stream.shared.lock().stats.malformed += 1,
                }
            }
            stream.hand_events(&mut self.events);
            if n < max {
                return;
            }
        }
    }

    /// Sends, reports and finishes stopped streams.
    fn sweep(&mut self, now: u64) {
        for i in 0..self.slots.len() {
            let Some(stream) = self.slots[i].as_mut() else { continue };
            if stream.shared.stop.load(Ordering::Acquire) {
                self.finish(i, now);
                continue;
            }
            stream.send(&mut self.tx, now);
            stream.report_if_due(now);
        }
    }

    /// Finishes the streams whose transport was stopped.
    fn finish_stopped(&mut self, now: u64) {
        for i in 0..self.slots.len() {
            if self.slots[i].as_ref().is_some_and(|s| s.shared.stop.load(Ordering::Acquire)) {
                self.finish(i, now);
            }
        }
    }

    /// Finishes the stream of slot `i` (last packets, BYE) and frees the slot.
    fn finish(&mut self, i: usize, now: u64) {
        let Some(stream) = self.slots.get_mut(i).and_then(Option::take) else { return };
        self.poller.remove(&stream.rtp, (i as u64) << 1);
        if let Some(r) = &stream.rtcp {
            self.poller.remove(r, (i as u64) << 1 | 1);
        }
        stream.finish(&mut self.tx, now);
        self.free.push(i);
        self.inbox.streams.fetch_sub(1, Ordering::Relaxed);
    }
}
