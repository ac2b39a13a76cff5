//! [`IoBackend::IoUring`](super::IoBackend::IoUring): [`super::BatchIo`]'s threads on
//! io_uring (Linux 6.1 or later), batching across sockets.
//!
//! Per socket, `recvmmsg`/`sendmmsg` cannot batch a bridge's traffic: each leg has its own
//! socket carrying 50 packets a second, so a socket has one datagram waiting when it is read
//! and one to send per sweep. A ring per thread batches across them instead:
//!
//! - **Receive.** Every socket has one multishot `recvmsg` armed, drawing from one ring of
//!   provided buffers ([`Ring`]'s `recv` region). The kernel receives on the socket's own
//!   wake-up and, with `IORING_SETUP_DEFER_TASKRUN`, leaves that work queued until the thread
//!   asks for completions, so one `io_uring_enter` collects every socket's arrivals. Each
//!   completion names its buffer; the thread hands the packet to the leg's ring and gives the
//!   buffer back. A multishot receive the kernel ends (buffers ran out, a socket error) is
//!   armed again.
//! - **Send.** A send sweep writes each packet into a free entry of a preallocated pool and
//!   queues an `IORING_OP_SEND` for its socket (with its destination on a socket not
//!   connected); the sweep is submitted in chunks of [`SUBMIT_CHUNK`] (the last one by the
//!   next wait). `MSG_DONTWAIT` keeps the
//!   non-blocking socket's behaviour: a full socket buffer fails the send (counted
//!   `send_errors`) instead of parking it.
//! - **Waiting.** One `io_uring_enter` per loop submits what is queued and waits until the
//!   pacer's next wake-up ([`BatchConfig::clock`]), however many arrivals wait meanwhile:
//!   the receives the kernel deferred run in that enter, a quarter cycle's at once.
//!
//! **Buffer lifetimes.** The kernel writes a receive buffer between arming and the
//! completion that names it, and reads a send entry between submission and its completion.
//! So: the regions are allocated once per thread and never moved or resized; a receive
//! buffer is read only after a completion named it, and returned to the provided-buffer ring
//! only after its packet was copied out; a send entry is written only while on the free
//! list, and goes back to it only on its completion. On stop the thread cancels every
//! request and reaps until none is in flight; only then does [`Ring`]'s drop unregister the
//! buffer ring and free the memory (if requests are still in flight after a second, it leaks
//! the regions rather than free memory the kernel may write).

use super::{add, on_datagram, write_next, BatchConfig, Counters, CyclePacer, Schedule, Slot};
use crate::engine::rt::now_ns;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use std::alloc::Layout;
use std::io;
use std::mem::size_of;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What a completion's `user_data` is about (its top two bits; the rest is an index).
const KIND: u64 = 3 << 62;
/// A socket's multishot receive; the index is the socket's token.
const RECV: u64 = 1 << 62;
/// A send; the index is its pool entry.
const SEND: u64 = 2 << 62;
/// The cancellation at stop.
const CANCEL: u64 = 3 << 62;

/// The provided-buffer group of the receive buffers.
const GROUP: u16 = 0;
/// The `io_uring_recvmsg_out` header the kernel writes at the start of a receive buffer.
const HEADER_LEN: usize = 16;
/// Bytes of source address a receive buffer holds: an IPv6 one (an IPv4 one uses 16).
const NAME_LEN: usize = size_of::<libc::sockaddr_in6>();
/// Queued requests handed to the kernel at once at most. The kernel runs a submission's
/// sends (and their loopback deliveries) without a preemption point, so a sweep of 2,000
/// sends in one call would hold the core for milliseconds against the real-time worker
/// sharing it; chunks of 64 keep that to a few hundred microseconds, still 1/64 of a
/// system call per packet.
const SUBMIT_CHUNK: usize = 64;
/// Bytes of destination address a send entry holds.
const ADDR_LEN: usize = size_of::<libc::sockaddr_storage>();

/// Heap memory the kernel reads or writes while requests are in flight: allocated once,
/// never moved or resized; freed on drop unless [`Region::keep`] was set.
struct Region {
    ptr: NonNull<u8>,
    layout: Layout,
    keep: bool,
}

// SAFETY: plain memory, owned by one I/O thread; the kernel's accesses are ordered by the
// ring's submission and completion protocol, not by the Rust thread holding it.
unsafe impl Send for Region {}

impl Region {
    /// `size` zeroed bytes aligned to `align` (a power of two).
    fn new(size: usize, align: usize) -> io::Result<Region> {
        let layout = Layout::from_size_align(size.max(1), align).map_err(|_| io::ErrorKind::InvalidInput)?;
        // SAFETY: the layout's size is not zero.
        let ptr = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).ok_or(io::ErrorKind::OutOfMemory)?;
        Ok(Region { ptr, layout, keep: false })
    }

    /// The address `offset` bytes in.
    fn at(&self, offset: usize) -> *mut u8 {
        assert!(offset < self.layout.size());
        // SAFETY: in bounds (checked above).
        unsafe { self.ptr.as_ptr().add(offset) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        if !self.keep {
            // SAFETY: allocated in `new` with this layout, freed once.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
        }
    }
}

/// What [`Ring::reap`] reports.
pub(super) enum Event<'a> {
    /// A datagram for socket `token` (no data: truncated; no source: not IPv4 or IPv6).
    Datagram { token: usize, data: Option<&'a [u8]>, from: Option<SocketAddr> },
    /// A send from socket `token` completed: whether the kernel took it.
    Sent { token: usize, ok: bool },
}

/// The receive buffers and the provided-buffer ring the kernel takes them from.
struct RecvBuffers {
    /// `count` 16-byte entries (`count` a power of two).
    ring: Region,
    /// `count` buffers of `len` bytes.
    recv: Region,
    len: usize,
    count: u16,
    /// The ring's tail as written so far (published to the kernel by `publish`).
    tail: u16,
}

impl RecvBuffers {
    fn new(count: usize, len: usize) -> io::Result<RecvBuffers> {
        Ok(RecvBuffers {
            ring: Region::new(count * size_of::<types::BufRingEntry>(), 4096)?,
            recv: Region::new(count * len, 64)?,
            len,
            count: count as u16,
            tail: 0,
        })
    }

    /// The first `len` bytes of buffer `bid` (at most the buffer).
    ///
    /// # Safety
    /// The kernel must have handed `bid` over (a completion named it) and not had it back.
    unsafe fn buffer(&self, bid: u16, len: usize) -> &[u8] {
        let bid = usize::from(bid & (self.count - 1));
        // SAFETY: in the region; the caller promises the kernel is not writing it.
        unsafe { std::slice::from_raw_parts(self.recv.at(bid * self.len), len.min(self.len)) }
    }

    /// Puts receive buffer `bid` back at the buffer ring's tail (the kernel sees it after
    /// [`RecvBuffers::publish`]).
    fn give_back(&mut self, bid: u16) {
        let bid = bid & (self.count - 1);
        let entry = self.ring.at(usize::from(self.tail & (self.count - 1)) * size_of::<types::BufRingEntry>());
        // SAFETY: the entry at the unpublished tail is ours to write (the kernel reads only
        // entries below the published tail); the region is aligned for it.
        let entry = unsafe { &mut *entry.cast::<types::BufRingEntry>() };
        entry.set_addr(self.recv.at(usize::from(bid) * self.len) as u64);
        entry.set_len(self.len as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the buffers given back visible to the kernel.
    fn publish(&mut self) {
        let base = self.ring.at(0).cast::<types::BufRingEntry>();
        // SAFETY: the tail is the first entry's `resv` field, a u16 in the region, which the
        // kernel only reads; a release store orders the entries written before it.
        unsafe {
            let tail = types::BufRingEntry::tail(base) as *mut u16;
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
    }
}

/// One thread's io_uring with its receive buffers and send pool.
///
/// Field order matters for drop: `ring` (closing it) goes before the regions.
pub(super) struct Ring {
    ring: IoUring,
    bufs: RecvBuffers,
    /// What every multishot `recvmsg` is armed with (the kernel reads its name and control
    /// lengths only): boxed, so it stays put while the ring holds its address.
    msghdr: Box<libc::msghdr>,
    /// `send_count` send entries of `send_stride` bytes: the datagram, then at
    /// `send_addr_at` its destination.
    send: Region,
    send_stride: usize,
    send_addr_at: usize,
    /// The socket token of each send entry in flight.
    send_token: Vec<u32>,
    /// Send entries not in flight.
    free: Vec<u32>,
    /// Whether each socket token's receive is armed (a token is its registered file's
    /// index), and those to re-arm.
    armed: Vec<bool>,
    armed_count: usize,
    rearm: Vec<u32>,
    cancels: usize,
    stopping: bool,
}

impl Ring {
    /// A ring for up to `sockets` sockets and datagrams of up to `max_datagram` bytes.
    ///
    /// Sizes: send entries and receive buffers 2 per socket (64 to 8,192, a power of two),
    /// the submission queue room for all sends and re-arms, the completion queue room for
    /// every buffer, send and re-arm at once.
    pub(super) fn new(sockets: usize, max_datagram: usize) -> io::Result<Ring> {
        let count = (2 * sockets).clamp(64, 8192).next_power_of_two();
        let sq = (count + sockets + 8).next_power_of_two().min(32_768) as u32;
        let cq = (2 * sq).min(65_536);
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_submit_all()
            .setup_cqsize(cq)
            .build(sq)?;
        let send_addr_at = max_datagram.next_multiple_of(8);
        let send_stride = (send_addr_at + ADDR_LEN).next_multiple_of(64);
        let mut r = Ring {
            ring,
            bufs: RecvBuffers::new(count, (HEADER_LEN + NAME_LEN + max_datagram).next_multiple_of(64))?,
            // SAFETY: all-zero is a valid msghdr (null pointers, zero lengths).
            msghdr: Box::new(unsafe { std::mem::zeroed() }),
            send: Region::new(count * send_stride, 64)?,
            send_stride,
            send_addr_at,
            send_token: vec![0; count],
            free: (0..count as u32).rev().collect(),
            armed: Vec::with_capacity(sockets),
            armed_count: 0,
            rearm: Vec::with_capacity(sockets),
            cancels: 0,
            stopping: false,
        };
        r.msghdr.msg_namelen = NAME_LEN as u32;
        // The sockets are registered files: a request names its socket by index and the
        // kernel skips looking up and reference-counting the descriptor on every send.
        r.ring.submitter().register_files_sparse(sockets.max(1) as u32)?;
        // SAFETY: the buffer ring holds `count` entries, is page-aligned and zeroed (tail 0),
        // and lives until the group is unregistered in `drop` (or is leaked).
        unsafe {
            r.ring.submitter().register_buf_ring_with_flags(r.bufs.ring.at(0) as u64, count as u16, GROUP, 0)?;
        }
        for bid in 0..count as u16 {
            r.bufs.give_back(bid);
        }
        r.bufs.publish();
        Ok(r)
    }

    /// Queues `e`; when the submission queue is full, submits what is there first. Whether
    /// it was queued.
    ///
    /// # Safety
    /// Every buffer `e` points to must stay valid until its completion is reaped.
    unsafe fn push(&mut self, e: &squeue::Entry) -> bool {
        // SAFETY: as the caller promises.
        if unsafe { self.ring.submission().push(e) }.is_ok() {
            return true;
        }
        let _ = self.ring.submit();
        // SAFETY: as the caller promises.
        unsafe { self.ring.submission().push(e) }.is_ok()
    }

    /// Adds a socket (at most the `sockets` the ring was made for); returns its token (0, 1,
    /// 2, ... in order), under which it is a registered file. Its receive is armed.
    ///
    /// # Errors
    /// The registration's (a socket beyond `sockets`: `EINVAL`).
    pub(super) fn watch(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let token = self.armed.len();
        self.ring.submitter().register_files_update(token as u32, &[socket.as_raw_fd()])?;
        self.armed.push(false);
        if !self.arm(token) {
            self.rearm.push(token as u32);
        }
        Ok(token)
    }

    /// Arms socket `token`'s multishot receive; whether it is armed (false: the queue is
    /// full even after a submit).
    fn arm(&mut self, token: usize) -> bool {
        if self.armed[token] {
            return true;
        }
        let e = opcode::RecvMsgMulti::new(types::Fixed(token as u32), &*self.msghdr, GROUP)
            .build()
            .user_data(RECV | token as u64);
        // SAFETY: the msghdr is boxed in `self` and the buffers come from the registered
        // group, all of which outlive every request (see the module docs).
        let queued = unsafe { self.push(&e) };
        if queued {
            self.armed[token] = true;
            self.armed_count += 1;
        }
        queued
    }

    /// The buffer of the next free send entry (at least the largest datagram long), or
    /// `None` when every entry is in flight.
    pub(super) fn send_buffer(&mut self) -> Option<&mut [u8]> {
        let e = *self.free.last()? as usize;
        // SAFETY: a free entry is not in flight, so nothing else reads or writes it; its
        // first `send_addr_at` bytes lie in the region.
        Some(unsafe { std::slice::from_raw_parts_mut(self.send.at(e * self.send_stride), self.send_addr_at) })
    }

    /// Queues a send from socket `token` of the first `len` bytes written into
    /// [`Ring::send_buffer`], to `to` (`None` on a connected socket). Whether it was queued.
    pub(super) fn queue_send(&mut self, token: usize, len: usize, to: Option<SocketAddr>) -> bool {
        let Some(e) = self.free.pop() else { return false };
        let at = e as usize * self.send_stride;
        let mut op = opcode::Send::new(types::Fixed(token as u32), self.send.at(at), len.min(self.send_addr_at) as u32)
            .flags(libc::MSG_DONTWAIT);
        if let Some(to) = to {
            let addr = self.send.at(at + self.send_addr_at).cast::<libc::sockaddr_storage>();
            // SAFETY: the entry is ours (just taken off the free list); its address field is
            // a sockaddr_storage inside the region, 8-byte aligned.
            let n = super::sys::to_storage(to, unsafe { &mut *addr });
            op = op.dest_addr(addr.cast()).dest_addr_len(n);
        }
        self.send_token[e as usize] = token as u32;
        // SAFETY: the entry's datagram and address stay untouched until its completion puts
        // it back on the free list (`reap`); the region outlives every request.
        if unsafe { self.push(&op.build().user_data(SEND | u64::from(e))) } {
            if self.ring.submission().len() >= SUBMIT_CHUNK {
                let _ = self.ring.submit();
            }
            true
        } else {
            self.free.push(e);
            false
        }
    }

    /// Submits what is queued without waiting.
    pub(super) fn submit(&mut self) {
        let _ = self.ring.submit();
    }

    /// Submits what is queued and waits up to `timeout_ns` for `want` completions (at least
    /// one), running the receives the kernel deferred.
    pub(super) fn wait(&mut self, want: usize, timeout_ns: u64) {
        let ts = types::Timespec::new().sec(timeout_ns / 1_000_000_000).nsec((timeout_ns % 1_000_000_000) as u32);
        let args = types::SubmitArgs::new().timespec(&ts);
        // ETIME (the timeout), EINTR and EBUSY only end the wait early.
        let _ = self.ring.submitter().submit_with_args(want.max(1), &args);
    }

    /// A completion count a wait reaches only on its timeout or a flood: the completion
    /// queue's size (the kernel caps a wait's count there).
    pub(super) fn never_early(&mut self) -> usize {
        self.ring.completion().capacity()
    }

    /// Reports every completion to `f`, gives the receive buffers back and re-arms ended
    /// receives.
    pub(super) fn reap(&mut self, mut f: impl FnMut(Event<'_>)) {
        for cqe in self.ring.completion() {
            let index = (cqe.user_data() & !KIND) as usize;
            match cqe.user_data() & KIND {
                RECV => {
                    let flags = cqe.flags();
                    if let Some(bid) = cqueue::buffer_select(flags) {
                        let len = usize::try_from(cqe.result()).unwrap_or(0);
                        // SAFETY: this completion hands buffer `bid` to us: the kernel does
                        // not write it until it is given back, after `f` returns.
                        let buf = unsafe { self.bufs.buffer(bid, len) };
                        let (data, from) = parse(buf, &self.msghdr);
                        f(Event::Datagram { token: index, data, from });
                        self.bufs.give_back(bid);
                    }
                    if !cqueue::more(flags) && self.armed.get(index).copied().unwrap_or(false) {
                        self.armed[index] = false;
                        self.armed_count -= 1;
                        if !self.stopping {
                            self.rearm.push(index as u32);
                        }
                    }
                }
                SEND => {
                    if let Some(&token) = self.send_token.get(index) {
                        self.free.push(index as u32);
                        f(Event::Sent { token: token as usize, ok: cqe.result() >= 0 });
                    }
                }
                _ => self.cancels = self.cancels.saturating_sub(1),
            }
        }
        self.bufs.publish();
        if !self.rearm.is_empty() {
            // What cannot be queued even after a submit stays for the next reap.
            let mut rearm = std::mem::take(&mut self.rearm);
            rearm.retain(|&token| !self.arm(token as usize));
            self.rearm = rearm;
        }
    }

    /// Submits what is queued, then cancels every request (receives are not re-armed after
    /// this); [`Ring::reap`] until [`Ring::idle`].
    pub(super) fn cancel_all(&mut self) {
        self.stopping = true;
        self.rearm.clear();
        let _ = self.ring.submit();
        let e = opcode::AsyncCancel2::new(types::CancelBuilder::any()).build().user_data(CANCEL);
        // SAFETY: a cancellation points to no memory.
        if unsafe { self.push(&e) } {
            self.cancels += 1;
        }
        let _ = self.ring.submit();
    }

    /// Whether no request is in flight (the kernel holds no pointer into the regions).
    pub(super) fn idle(&self) -> bool {
        self.armed_count == 0 && self.free.len() == self.send_token.len() && self.cancels == 0
    }

    /// Sends in flight.
    #[cfg(test)]
    pub(super) fn sends_in_flight(&self) -> usize {
        self.send_token.len() - self.free.len()
    }

    /// Cancels and reaps (discarding what arrives) until idle, for at most `limit_ns`.
    fn drain(&mut self, limit_ns: u64) {
        let end = now_ns() + limit_ns;
        if !self.idle() && !self.stopping {
            self.cancel_all();
        }
        while !self.idle() && now_ns() < end {
            self.wait(1, 10_000_000);
            self.reap(|_| {});
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        self.drain(1_000_000_000);
        if self.idle() {
            let _ = self.ring.submitter().unregister_buf_ring(GROUP);
        } else {
            // Requests still in flight may write or read the regions after this: leak them.
            self.bufs.ring.keep = true;
            self.bufs.recv.keep = true;
            self.send.keep = true;
        }
    }
}

/// The payload (none when truncated) and source of a multishot receive's buffer.
fn parse<'a>(buf: &'a [u8], msghdr: &libc::msghdr) -> (Option<&'a [u8]>, Option<SocketAddr>) {
    let Ok(out) = types::RecvMsgOut::parse(buf, msghdr) else { return (None, None) };
    // The payload follows the header and the name field (no control data is asked for);
    // `payload_data` borrows `out`, so the slice is cut from `buf` itself.
    let start = HEADER_LEN + NAME_LEN;
    let data = (!out.is_payload_truncated()).then(|| &buf[start..start + out.payload_data().len()]);
    let from = (!out.is_name_data_truncated()).then(|| {
        // SAFETY: all-zero is a valid sockaddr_storage.
        let mut s: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let name = out.name_data();
        let n = name.len().min(size_of::<libc::sockaddr_storage>());
        // SAFETY: copies `n` bytes into a sockaddr_storage at least that long.
        unsafe { std::ptr::copy_nonoverlapping(name.as_ptr(), (&mut s as *mut libc::sockaddr_storage).cast(), n) };
        super::sys::from_storage(&s)
    });
    (data, from.flatten())
}

/// Sets up a ring as the I/O threads do and moves one datagram over loopback through it.
pub(super) fn probe() -> Result<(), String> {
    let mut ring = Ring::new(2, 64).map_err(|e| format!("io_uring setup (6.1 or later needed): {e}"))?;
    let bind = || UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("loopback socket: {e}"));
    let (a, b) = (bind()?, bind()?);
    let a_addr = a.local_addr().map_err(|e| e.to_string())?;
    let b_addr = b.local_addr().map_err(|e| e.to_string())?;
    let (ta, tb) = (ring.watch(&a).map_err(|e| e.to_string())?, ring.watch(&b).map_err(|e| e.to_string())?);
    let word = *b"rvoip";
    ring.send_buffer().ok_or("no send entry")?[..word.len()].copy_from_slice(&word);
    if !ring.queue_send(tb, word.len(), Some(a_addr)) {
        return Err("cannot queue a send".into());
    }
    let (mut got, mut sent) = (false, None);
    let end = now_ns() + 1_000_000_000;
    while !(got && sent.is_some()) && now_ns() < end {
        ring.wait(1, 50_000_000);
        ring.reap(|e| match e {
            Event::Datagram { token, data, from } => {
                got |= token == ta && data == Some(&word[..]) && from == Some(b_addr);
            }
            Event::Sent { ok, .. } => sent = Some(ok),
        });
    }
    match (sent, got) {
        (Some(true), true) => Ok(()),
        (Some(false), _) => Err("a send through io_uring failed".into()),
        (None, _) => Err("a send through io_uring did not complete".into()),
        (_, false) => Err("multishot recvmsg with provided buffers (6.0 or later) received nothing".into()),
    }
}

/// Starts an I/O thread on io_uring named `name`; its ring is set up on that thread (a
/// single-issuer ring belongs to the thread that made it), and its error comes back here.
pub(super) fn spawn(
    name: String,
    config: BatchConfig,
    slots: Vec<Slot>,
    counters: Arc<[Counters]>,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    super::spawn_io_thread(name, move |ready| match Ring::new(slots.len(), config.max_datagram) {
        Ok(mut ring) => match slots.iter().try_for_each(|s| ring.watch(&s.socket).map(drop)) {
            Ok(()) => {
                ready(Ok(()));
                UringThread { config, slots, counters, stop, ring }.run();
            }
            Err(e) => ready(Err(e)),
        },
        Err(e) => ready(Err(e)),
    })
}

/// One I/O thread on io_uring. Field order: `ring` drops (cancelling and reaping its
/// requests) before the sockets in `slots` close.
struct UringThread {
    ring: Ring,
    config: BatchConfig,
    slots: Vec<Slot>,
    counters: Arc<[Counters]>,
    stop: Arc<AtomicBool>,
}

impl UringThread {
    fn run(mut self) {
        let clock = self.config.clock.clone();
        let mut pacer = CyclePacer::new(&clock, self.config.cycle_lead.as_nanos() as u64, now_ns());
        // Wake on time only: a quarter cycle's arrivals collected in one enter.
        let want = self.ring.never_early();
        let mut schedule = Schedule::new(&self.config);
        while !self.stop.load(Ordering::Acquire) {
            self.ring.wait(want, pacer.wake_at().saturating_sub(now_ns()));
            self.reap();
            let now = now_ns();
            if pacer.on_wake(now, clock.finished()) {
                self.send_all();
            }
            if schedule.housekeeping_due(now) {
                super::let_go_of_silent_peers(&self.config, &mut self.slots, now);
            }
        }
        // A last sweep, then every request cancelled and reaped, what arrives meanwhile
        // still counted.
        self.send_all();
        self.ring.cancel_all();
        let end = now_ns() + 1_000_000_000;
        while !self.ring.idle() && now_ns() < end {
            self.ring.wait(1, 10_000_000);
            self.reap();
        }
    }

    /// Hands every completion to its socket's logic and counters.
    fn reap(&mut self) {
        let (config, slots, counters) = (&self.config, &mut self.slots, &self.counters);
        let now = now_ns();
        self.ring.reap(|e| match e {
            Event::Datagram { token, data, from } => {
                let slot = &mut slots[token];
                let c = &counters[slot.index];
                add(&c.received, 1);
                on_datagram(config, slot, c, data, from, now);
            }
            Event::Sent { token, ok } => {
                let c = &counters[slots[token].index];
                add(if ok { &c.sent } else { &c.send_errors }, 1);
            }
        });
    }

    /// Queues every send ring's packets (submitted by the next wait, all sockets at once).
    /// When every pool entry is in flight, what was queued is submitted and reaped (a UDP
    /// send completes as it is submitted), which frees them; only when that frees none do
    /// the rest wait in their rings for the next sweep. (Stopping at the first shortage
    /// starved the legs at the end of the sweep whenever a backlog made one sweep need more
    /// entries than the pool has — the same legs every time.)
    fn send_all(&mut self) {
        for token in 0..self.slots.len() {
            loop {
                if self.ring.send_buffer().is_none() {
                    self.ring.submit();
                    self.reap();
                }
                let slot = &mut self.slots[token];
                let c = &self.counters[slot.index];
                let Some(buf) = self.ring.send_buffer() else { return };
                let Some(len) = write_next(slot, c, buf) else { break };
                let to = if slot.connected { None } else { slot.peer };
                if !self.ring.queue_send(token, len, to) {
                    add(&c.send_errors, 1);
                }
            }
        }
    }
}
