//! Linux system calls of [`super::BatchIo`]: epoll, `recvmmsg`, `sendmmsg`.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// An epoll instance over one thread's sockets; event data is the slot index.
pub(crate) struct Poller {
    ep: OwnedFd,
    events: Vec<libc::epoll_event>,
}

impl Poller {
    /// An epoll instance reporting up to `events` ready sockets a wait.
    pub(crate) fn new(events: usize) -> io::Result<Poller> {
        // SAFETY: plain system call; the result is checked before use.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor we own.
        let ep = unsafe { OwnedFd::from_raw_fd(fd) };
        let events = vec![libc::epoll_event { events: 0, u64: 0 }; events.clamp(1, 1024)];
        Ok(Poller { ep, events })
    }

    /// Watches `socket` (a UDP socket or a [`Waker`]) for input; [`Poller::ready`] reports it
    /// as `token`.
    pub(crate) fn add(&mut self, socket: &impl AsRawFd, token: u64) -> io::Result<()> {
        let mut e = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: valid epoll and socket descriptors, `e` outlives the call.
        if unsafe { libc::epoll_ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_ADD, socket.as_raw_fd(), &mut e) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Stops watching `socket` (added as `token`).
    pub(crate) fn remove(&mut self, socket: &UdpSocket, _token: u64) {
        let mut e = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: valid descriptors; a socket not watched only makes the call fail.
        unsafe {
            libc::epoll_ctl(self.ep.as_raw_fd(), libc::EPOLL_CTL_DEL, socket.as_raw_fd(), &mut e);
        }
    }

    /// Waits up to `timeout_ns` (rounded up to whole milliseconds); returns how many sockets
    /// are ready ([`Poller::ready`] names them).
    pub(crate) fn wait(&mut self, timeout_ns: u64) -> usize {
        let ms = timeout_ns.div_ceil(1_000_000).min(1000) as i32;
        // SAFETY: `events` is a valid buffer of `events.len()` entries.
        let n =
            unsafe { libc::epoll_wait(self.ep.as_raw_fd(), self.events.as_mut_ptr(), self.events.len() as i32, ms) };
        n.max(0) as usize
    }

    /// The token of the `k`-th ready socket of the last wait.
    pub(crate) fn ready(&self, k: usize) -> u64 {
        self.events[k].u64
    }
}

/// Wakes a thread waiting in its [`Poller`] (an eventfd it watches).
pub(crate) struct Waker(OwnedFd);

impl AsRawFd for Waker {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        // SAFETY: plain system call; the result is checked before use.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor we own.
        Ok(Waker(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Makes the watching poller's wait return.
    pub(crate) fn wake(&self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a valid u64; a full counter only fails the write.
        unsafe {
            libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8);
        }
    }

    /// Resets it after a wake-up.
    pub(crate) fn drain(&self) {
        let mut n = 0u64;
        // SAFETY: reads 8 bytes into a valid u64; non-blocking, so an empty one returns.
        unsafe {
            libc::read(self.0.as_raw_fd(), (&mut n as *mut u64).cast(), 8);
        }
    }
}

/// Preallocated datagram buffers, addresses and message headers for one `recvmmsg` or
/// `sendmmsg` call. The headers point into the buffers' heap storage, which never moves.
pub(crate) struct Batch {
    bufs: Vec<u8>,
    size: usize,
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in `iovs`/`hdrs` point into this struct's own heap buffers and
// are only used by the thread that owns it.
unsafe impl Send for Batch {}

impl Batch {
    pub(crate) fn new(n: usize, size: usize) -> Batch {
        let mut b = Batch {
            bufs: vec![0; n * size],
            size,
            // SAFETY: all-zero is a valid sockaddr_storage.
            addrs: vec![unsafe { zeroed() }; n],
            iovs: Vec::with_capacity(n),
            hdrs: Vec::with_capacity(n),
        };
        for i in 0..n {
            // SAFETY: in bounds of `bufs` (n * size bytes).
            let base = unsafe { b.bufs.as_mut_ptr().add(i * size) };
            b.iovs.push(libc::iovec { iov_base: base.cast(), iov_len: size });
        }
        for i in 0..n {
            // SAFETY: all-zero is a valid mmsghdr (null pointers, zero lengths).
            let mut h: libc::mmsghdr = unsafe { zeroed() };
            h.msg_hdr.msg_iov = &mut b.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_name = (&mut b.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
            b.hdrs.push(h);
        }
        b
    }

    /// Receives up to `max` datagrams (at most the batch's size) without blocking; returns
    /// how many.
    pub(crate) fn recv(&mut self, socket: &UdpSocket, max: usize) -> usize {
        let max = max.clamp(1, self.hdrs.len());
        for (i, h) in self.hdrs[..max].iter_mut().enumerate() {
            h.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as u32;
            h.msg_hdr.msg_flags = 0;
            self.iovs[i].iov_len = self.size;
        }
        // SAFETY: `hdrs` holds at least `max` headers whose iovecs and names point into
        // buffers owned by `self`, valid for the call.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                max as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        n.max(0) as usize
    }

    /// Datagrams a call at most.
    pub(crate) fn capacity(&self) -> usize {
        self.hdrs.len()
    }

    /// The `j`-th datagram of the last receive (none when truncated) and its source.
    pub(crate) fn received(&self, j: usize) -> (Option<&[u8]>, Option<SocketAddr>) {
        let h = &self.hdrs[j];
        let len = h.msg_len as usize;
        let data = (h.msg_hdr.msg_flags & libc::MSG_TRUNC == 0 && len <= self.size)
            .then(|| &self.bufs[j * self.size..j * self.size + len]);
        (data, from_storage(&self.addrs[j]))
    }

    /// The `j`-th send buffer.
    pub(crate) fn buffer(&mut self, j: usize) -> &mut [u8] {
        &mut self.bufs[j * self.size..(j + 1) * self.size]
    }

    /// Sets the `j`-th outgoing datagram's length and destination (none on a connected
    /// socket).
    pub(crate) fn set_outgoing(&mut self, j: usize, len: usize, to: Option<SocketAddr>) {
        self.iovs[j].iov_len = len;
        let h = &mut self.hdrs[j].msg_hdr;
        match to {
            Some(a) => {
                h.msg_name = (&mut self.addrs[j] as *mut libc::sockaddr_storage).cast();
                h.msg_namelen = to_storage(a, &mut self.addrs[j]);
            }
            None => {
                h.msg_name = std::ptr::null_mut();
                h.msg_namelen = 0;
            }
        }
    }

    /// Sends the first `n` outgoing datagrams, calling `on_sent` with the length of each one
    /// the kernel took; returns how many it took (one it refuses is skipped, the rest are
    /// still sent).
    pub(crate) fn send(&mut self, socket: &UdpSocket, n: usize, mut on_sent: impl FnMut(usize)) -> usize {
        self.send_with(socket.as_raw_fd(), n, |_, len| {
            if let Some(len) = len {
                on_sent(len)
            }
        })
    }

    /// [`Batch::send`] on any datagram socket `fd` (a raw one: the buffers then hold IP
    /// headers too), calling `each(j, taken)` for every datagram `j` in order.
    pub(crate) fn send_each(&mut self, fd: &impl AsRawFd, n: usize, mut each: impl FnMut(usize, bool)) -> usize {
        self.send_with(fd.as_raw_fd(), n, |j, len| each(j, len.is_some()))
    }

    /// The one `sendmmsg` loop: `each(j, Some(len))` for a datagram the kernel took,
    /// `each(j, None)` for one it refused.
    fn send_with(&mut self, fd: i32, n: usize, mut each: impl FnMut(usize, Option<usize>)) -> usize {
        let (mut done, mut sent) = (0, 0);
        while done < n {
            // SAFETY: headers `done..n` point into buffers owned by `self`.
            let r =
                unsafe { libc::sendmmsg(fd, self.hdrs.as_mut_ptr().add(done), (n - done) as u32, libc::MSG_DONTWAIT) };
            if r <= 0 {
                each(done, None);
                done += 1;
            } else {
                for (k, iov) in self.iovs[done..done + r as usize].iter().enumerate() {
                    each(done + k, Some(iov.iov_len));
                }
                done += r as usize;
                sent += r as usize;
            }
        }
        sent
    }
}

pub(crate) fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in.
            let a: &libc::sockaddr_in = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            let ip = u32::from_be(a.sin_addr.s_addr);
            Some(SocketAddr::V4(SocketAddrV4::new(ip.into(), u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6.
            let a: &libc::sockaddr_in6 = unsafe { &*(s as *const libc::sockaddr_storage).cast() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                a.sin6_addr.s6_addr.into(),
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Writes `a` into `s`; returns the address length.
pub(crate) fn to_storage(a: SocketAddr, s: &mut libc::sockaddr_storage) -> u32 {
    match a {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in.
            let out: &mut libc::sockaddr_in = unsafe { &mut *(s as *mut libc::sockaddr_storage).cast() };
            out.sin_family = libc::AF_INET as libc::sa_family_t;
            out.sin_port = v4.port().to_be();
            out.sin_addr = libc::in_addr { s_addr: u32::from(*v4.ip()).to_be() };
            size_of::<libc::sockaddr_in>() as u32
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is large and aligned enough for a sockaddr_in6.
            let out: &mut libc::sockaddr_in6 = unsafe { &mut *(s as *mut libc::sockaddr_storage).cast() };
            out.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            out.sin6_port = v6.port().to_be();
            out.sin6_flowinfo = v6.flowinfo();
            out.sin6_addr = libc::in6_addr { s6_addr: v6.ip().octets() };
            out.sin6_scope_id = v6.scope_id();
            size_of::<libc::sockaddr_in6>() as u32
        }
    }
}

/// Connects `socket` to `to`; whether it worked.
pub(crate) fn connect(socket: &UdpSocket, to: SocketAddr) -> bool {
    socket.connect(to).is_ok()
}

/// Dissolves a UDP socket's association (`connect` with `AF_UNSPEC`): it receives from
/// anyone again.
pub(crate) fn disconnect(socket: &UdpSocket) {
    // SAFETY: all-zero is a valid sockaddr; AF_UNSPEC is 0.
    let mut a: libc::sockaddr = unsafe { zeroed() };
    a.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: valid descriptor and address for the duration of the call.
    unsafe {
        libc::connect(socket.as_raw_fd(), &a, size_of::<libc::sockaddr>() as u32);
    }
}

pub(crate) fn sleep_ns(ns: u64) {
    let ts = libc::timespec { tv_sec: (ns / 1_000_000_000) as libc::time_t, tv_nsec: (ns % 1_000_000_000) as _ };
    // SAFETY: valid timespec; an early wake-up (a signal) only shortens the sleep.
    unsafe {
        libc::clock_nanosleep(libc::CLOCK_MONOTONIC, 0, &ts, std::ptr::null_mut());
    }
}

pub(crate) fn raise_open_file_limit() -> io::Result<u64> {
    // SAFETY: all-zero is a valid rlimit; the calls write/read it.
    let mut r: libc::rlimit = unsafe { zeroed() };
    // SAFETY: valid pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if r.rlim_cur < r.rlim_max {
        r.rlim_cur = r.rlim_max;
        // SAFETY: valid pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(r.rlim_cur)
}
