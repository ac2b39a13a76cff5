//! [`IoBackend::PacketRing`](super::IoBackend::PacketRing): [`super::BatchIo`]'s threads on
//! an `AF_PACKET` receive ring and a raw IPv4 send socket (Linux, `CAP_NET_RAW`): no system
//! call per packet either way.
//!
//! On a bridge's traffic (one datagram per leg per 20 ms each way, one socket per leg) the
//! kernel's per-socket path is most of a leg's cost, whatever batches the calls: io_uring
//! still runs one receive and one send per datagram through each UDP socket. This backend
//! takes the datagrams off the wire beside the sockets instead:
//!
//! - **Receive.** Each thread has one packet socket (cooked, every interface, its own
//!   outgoing packets ignored) with a `TPACKET_V3` ring of blocks mapped into the process. A
//!   classic BPF program in the kernel keeps only what is addressed to this host
//!   (`PACKET_HOST`): IPv4 UDP, not a later fragment, to a port in the thread's range (and to
//!   the sockets' address when they are all bound to the same one). At each wake-up the
//!   thread walks the blocks the kernel has retired (a block retires when full or
//!   [`RETIRE_MS`] after its first packet), parses IPv4 and UDP itself, checks the UDP
//!   checksum where neither the device nor the local sender vouched for it, and hands each
//!   datagram to its socket's logic by destination port (and address, for a socket bound to
//!   one), exactly as the other backends do. What the ring had no room for is counted
//!   ([`super::BatchIoHandle::ring_drops`]). The socket taps every protocol (its filter
//!   keeps IPv4): the kernel hands a packet to such taps before its own IPv4 receive, so
//!   that receive gets the packet unshared. A tap on IPv4 alone runs after it (Linux
//!   6.x keeps such taps on a later list), and the IPv4 receive then copies the header
//!   of every datagram the host receives (`skb_clone` in `ip_rcv`) — on loopback every
//!   datagram this thread sends, too. Where the kernel cannot leave the tap's own
//!   outgoing packets out (`PACKET_IGNORE_OUTGOING`, Linux 4.20) it taps IPv4 only, since
//!   an every-protocol tap would then copy each packet the host sends.
//! - **The sockets stay bound**: they hold the ports (no ICMP port-unreachable, no other
//!   process takes them), but a filter drops what the kernel would queue to them, so
//!   nothing waits there. The kernel counts those drops in UDP `InErrors` (`netstat -su`):
//!   one per datagram received, expected with this backend.
//! - **Send.** Each thread has one raw IPv4 socket (`IPPROTO_RAW`): the thread writes the IP
//!   and UDP headers (source: the socket's port and the address the peer sent to; UDP
//!   checksum computed; the kernel fills the IP checksum and identification), and a send
//!   sweep goes out in `sendmmsg` calls of [`SEND_CHUNK`]. The kernel routes and resolves
//!   neighbours as for any socket. Sockets are not `connect`ed on latch (a connected
//!   socket would answer other sources with port-unreachable instead of letting them be
//!   counted `foreign`).
//!
//! A flooding peer's datagrams are read like everyone's (what its leg's ring has no room for
//! is counted `dropped` there); a flood beyond what the thread can parse would fill the
//! kernel ring, and what does not fit is counted in `ring_drops`, for all sockets alike.
//!
//! It runs only where every socket is IPv4 and the process may open packet and raw sockets
//! ([`support`]); [`super::IoBackend::Auto`] then prefers it. IP fragments reach the thread
//! only as a first fragment, counted malformed (RTP is never fragmented in practice).

use super::{add, on_datagram, write_next, BatchConfig, Counters, CyclePacer, Schedule, Slot};
use crate::engine::rt::now_ns;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes of one block of the receive ring.
const BLOCK_SIZE: u32 = 1 << 16;
/// Blocks in the receive ring (16 MiB): with blocks retiring every [`RETIRE_MS`] at low
/// rates, a thread can fall 256 ms behind before the kernel drops.
const BLOCKS: u32 = 256;
/// How long the kernel keeps a block open for more packets after its first, in ms: what a
/// datagram may wait in the ring before the thread can see it.
const RETIRE_MS: u32 = 1;
/// Datagrams a `sendmmsg` call carries at most. As the io_uring backend's submission chunk:
/// the kernel runs a call's sends (and their loopback deliveries) back to back, so a sweep
/// of 2,000 in one call would hold the core for milliseconds against the real-time worker
/// sharing it.
const SEND_CHUNK: usize = 64;
/// Bytes of IPv4 (no options) and UDP headers the thread writes before each payload.
pub(super) const HEADERS: usize = 28;

/// One thread's packet socket and its mapped receive ring.
struct RxRing {
    fd: OwnedFd,
    map: *mut u8,
    blocks: u32,
    /// The next block to look at.
    next: u32,
}

// SAFETY: the mapping belongs to the one thread that holds the ring; the kernel's accesses
// are ordered by the blocks' status words.
unsafe impl Send for RxRing {}

/// One BPF instruction.
fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Attaches the classic BPF program `prog` to socket `fd`.
fn attach_filter(fd: i32, prog: &mut [libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_mut_ptr() };
    // SAFETY: `fprog` points to `prog`, valid for the call (the kernel copies it).
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&fprog as *const libc::sock_fprog).cast(),
            size_of::<libc::sock_fprog>() as u32,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `setsockopt` of a plain value.
fn set_option<T>(fd: i32, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a valid `T` for the call.
    let r = unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), size_of::<T>() as u32) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new socket (`SOCK_CLOEXEC`).
fn new_socket(domain: i32, kind: i32, protocol: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked before use.
    let fd = unsafe { libc::socket(domain, kind | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The kernel-side filter of a thread's packet socket: IPv4 UDP to this host, not a later
/// fragment, destination port in `ports`, and destination address `to` when given.
fn rx_program(ports: (u16, u16), to: Option<Ipv4Addr>) -> Vec<libc::sock_filter> {
    const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const LD_H_ABS: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_ABS) as u16;
    const LD_B_ABS: u16 = (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16;
    const LD_H_IND: u16 = (libc::BPF_LD | libc::BPF_H | libc::BPF_IND) as u16;
    const LDX_MSH: u16 = (libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JGT: u16 = (libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let pkttype = (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32;
    let protocol = (libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL) as u32;
    // Offsets are from the network header (a cooked socket's filter starts there), read
    // as IPv4 once the protocol says so. Each test jumps to the final `ret 0` on failure;
    // the jump is patched once the length is known.
    let mut p = vec![
        insn(LD_H_ABS, 0, 0, protocol),
        insn(JEQ, 0, 0, libc::ETH_P_IP as u32),
        insn(LD_W_ABS, 0, 0, pkttype),
        insn(JEQ, 0, 0, libc::PACKET_HOST as u32),
        insn(LD_B_ABS, 0, 0, 9),
        insn(JEQ, 0, 0, libc::IPPROTO_UDP as u32),
        insn(LD_H_ABS, 0, 0, 6),
        insn(JSET, 0, 0, 0x1fff),
    ];
    if let Some(a) = to {
        p.push(insn(LD_W_ABS, 0, 0, 16));
        p.push(insn(JEQ, 0, 0, u32::from(a)));
    }
    p.push(insn(LDX_MSH, 0, 0, 0));
    p.push(insn(LD_H_IND, 0, 0, 2));
    p.push(insn(JGE, 0, 0, u32::from(ports.0)));
    p.push(insn(JGT, 0, 0, u32::from(ports.1)));
    p.push(insn(RET, 0, 0, 0xffff));
    p.push(insn(RET, 0, 0, 0));
    let drop = p.len() - 1;
    // Every instruction before the final `ret 0` (none of the returns jumps).
    for (i, x) in p.iter_mut().enumerate().take(drop) {
        let to_drop = (drop - i - 1) as u8;
        match x.code {
            JEQ | JGE => x.jf = to_drop,
            JSET | JGT => x.jt = to_drop,
            _ => {}
        }
    }
    p
}

impl RxRing {
    /// A packet socket on every interface whose ring of `blocks` blocks receives what
    /// [`rx_program`] keeps.
    fn new(ports: (u16, u16), to: Option<Ipv4Addr>, blocks: u32) -> io::Result<RxRing> {
        // Protocol 0 until bound: nothing is queued before the filter and the ring are set.
        let fd = new_socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)?;
        let raw = fd.as_raw_fd();
        attach_filter(raw, &mut rx_program(ports, to))?;
        set_option(raw, libc::SOL_PACKET, libc::PACKET_VERSION, &libc::tpacket_versions::TPACKET_V3)?;
        // Not on every kernel (4.20 or later); without it the filter drops them instead, and
        // the socket taps IPv4 only (see the module's "Receive").
        let ignores_outgoing = set_option(raw, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, &1i32).is_ok();
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_SIZE,
            tp_block_nr: blocks,
            tp_frame_size: 2048,
            tp_frame_nr: BLOCK_SIZE / 2048 * blocks,
            tp_retire_blk_tov: RETIRE_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        set_option(raw, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        let len = (BLOCK_SIZE * blocks) as usize;
        // SAFETY: maps the ring the kernel just made for this socket; checked below.
        let map = unsafe {
            libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, raw, 0)
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ring = RxRing { fd, map: map.cast(), blocks, next: 0 };
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut ll: libc::sockaddr_ll = unsafe { zeroed() };
        ll.sll_family = libc::AF_PACKET as u16;
        let tapped = if ignores_outgoing { libc::ETH_P_ALL } else { libc::ETH_P_IP };
        ll.sll_protocol = (tapped as u16).to_be();
        // SAFETY: `ll` is a valid sockaddr_ll for the call.
        let r =
            unsafe { libc::bind(raw, (&ll as *const libc::sockaddr_ll).cast(), size_of::<libc::sockaddr_ll>() as u32) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ring)
    }

    /// Hands every datagram of every retired block to `f` (its IPv4 packet, and whether a
    /// device or the local sender vouched for its checksum), then gives the blocks back.
    fn drain(&mut self, mut f: impl FnMut(&[u8], bool)) {
        loop {
            // SAFETY: block `next` lies inside the mapping (next < blocks).
            let block = unsafe { self.map.add((self.next * BLOCK_SIZE) as usize) };
            let desc = block.cast::<libc::tpacket_block_desc>();
            // SAFETY: the kernel writes the descriptor; its status is read volatile and
            // the rest only once it says the block is ours.
            let (count, first) = unsafe {
                let h = std::ptr::addr_of!((*desc).hdr.bh1);
                let status = std::ptr::read_volatile(std::ptr::addr_of!((*h).block_status));
                if status & libc::TP_STATUS_USER == 0 {
                    return;
                }
                std::sync::atomic::fence(Ordering::Acquire);
                ((*h).num_pkts, (*h).offset_to_first_pkt)
            };
            let mut at = first as usize;
            for _ in 0..count {
                if at + size_of::<libc::tpacket3_hdr>() > BLOCK_SIZE as usize {
                    break;
                }
                // SAFETY: `at` is inside this block (checked), where the kernel put a header.
                let hdr = unsafe { &*block.add(at).cast::<libc::tpacket3_hdr>() };
                let (net, snap) = (hdr.tp_net as usize, hdr.tp_snaplen as usize);
                let whole = hdr.tp_snaplen == hdr.tp_len;
                if at + net + snap <= BLOCK_SIZE as usize {
                    // SAFETY: inside this block (checked).
                    let pkt = unsafe { std::slice::from_raw_parts(block.add(at + net), snap) };
                    let vouched = hdr.tp_status & (libc::TP_STATUS_CSUM_VALID | libc::TP_STATUS_CSUMNOTREADY) != 0;
                    if whole {
                        f(pkt, vouched);
                    } else {
                        f(&pkt[..0], vouched);
                    }
                }
                if hdr.tp_next_offset == 0 {
                    break;
                }
                at += hdr.tp_next_offset as usize;
            }
            std::sync::atomic::fence(Ordering::Release);
            // SAFETY: the block is ours until this store gives it back.
            unsafe {
                let h = std::ptr::addr_of_mut!((*desc).hdr.bh1);
                std::ptr::write_volatile(std::ptr::addr_of_mut!((*h).block_status), libc::TP_STATUS_KERNEL);
            }
            self.next = (self.next + 1) % self.blocks;
        }
    }

    /// Datagrams the kernel dropped for want of room since the last call.
    fn drops(&self) -> u64 {
        // SAFETY: all-zero is a valid tpacket_stats_v3.
        let mut s: libc::tpacket_stats_v3 = unsafe { zeroed() };
        let mut len = size_of::<libc::tpacket_stats_v3>() as u32;
        // SAFETY: `s` and `len` are valid for the call.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&mut s as *mut libc::tpacket_stats_v3).cast(),
                &mut len,
            )
        };
        if r < 0 {
            0
        } else {
            u64::from(s.tp_drops)
        }
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.map.cast(), (BLOCK_SIZE * self.blocks) as usize) };
    }
}

/// One IPv4 UDP datagram as the ring delivered it.
#[derive(Debug, PartialEq, Eq)]
struct Datagram<'a> {
    from: SocketAddrV4,
    to: SocketAddrV4,
    payload: &'a [u8],
}

/// The UDP datagram in IPv4 packet `pkt`: `None` when it is not one whole and well formed
/// (or, unless `vouched`, its checksum is wrong).
fn parse(pkt: &[u8], vouched: bool) -> Option<Datagram<'_>> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    if pkt[0] >> 4 != 4 || ihl < 20 || pkt.len() < ihl + 8 || pkt[9] != libc::IPPROTO_UDP as u8 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    let fragment = u16::from_be_bytes([pkt[6], pkt[7]]) & 0x3fff != 0;
    if fragment || total < ihl + 8 || total > pkt.len() {
        return None;
    }
    let ip = |at: usize| Ipv4Addr::new(pkt[at], pkt[at + 1], pkt[at + 2], pkt[at + 3]);
    let (src, dst) = (ip(12), ip(16));
    let udp = &pkt[ihl..total];
    let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    if len < 8 || len > udp.len() {
        return None;
    }
    let udp = &udp[..len];
    if !vouched && udp[6..8] != [0, 0] && udp_checksum(src, dst, udp) != 0 {
        return None;
    }
    let port = |at: usize| u16::from_be_bytes([udp[at], udp[at + 1]]);
    Some(Datagram { from: SocketAddrV4::new(src, port(0)), to: SocketAddrV4::new(dst, port(2)), payload: &udp[8..] })
}

/// The one's-complement sum of the IPv4 pseudo-header and `udp` (header and payload), as a
/// checksum: 0 when `udp` carries a correct one; with its checksum field zeroed, the value to
/// write there (0 is written 0xffff, RFC 768).
fn udp_checksum(src: Ipv4Addr, dst: Ipv4Addr, udp: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = |b: &[u8]| {
        let mut chunks = b.chunks_exact(2);
        for w in &mut chunks {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
    };
    words(&src.octets());
    words(&dst.octets());
    words(&[0, libc::IPPROTO_UDP as u8]);
    words(&(udp.len() as u16).to_be_bytes());
    words(udp);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes the IPv4 header (no options, DF, TTL 64; checksum and identification left 0 for the
/// kernel to fill) and the UDP header with its checksum of a datagram from `from` to `to`
/// into `b[..HEADERS]`, whose payload is `b[HEADERS..]`.
pub(super) fn write_udp_headers(b: &mut [u8], from: SocketAddrV4, to: SocketAddrV4) {
    let total = b.len() as u16;
    b[..12].copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, libc::IPPROTO_UDP as u8, 0, 0]);
    b[2..4].copy_from_slice(&total.to_be_bytes());
    b[12..16].copy_from_slice(&from.ip().octets());
    b[16..20].copy_from_slice(&to.ip().octets());
    let udp = &mut b[20..];
    udp[0..2].copy_from_slice(&from.port().to_be_bytes());
    udp[2..4].copy_from_slice(&to.port().to_be_bytes());
    udp[4..6].copy_from_slice(&(total - 20).to_be_bytes());
    udp[6..8].copy_from_slice(&[0, 0]);
    let sum = match udp_checksum(*from.ip(), *to.ip(), udp) {
        0 => 0xffff,
        s => s,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
}

/// One thread's raw IPv4 socket and the datagrams of the `sendmmsg` call being filled.
struct RawSender {
    fd: OwnedFd,
    /// [`SEND_CHUNK`] buffers of headers + `max_datagram`.
    batch: super::sys::Batch,
    /// The socket slot each queued datagram is from.
    tokens: [usize; SEND_CHUNK],
    queued: usize,
}

impl RawSender {
    fn new(max_datagram: usize) -> io::Result<RawSender> {
        let fd = new_socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::IPPROTO_RAW)?;
        // Room for a few sweeps in flight; failing to raise it keeps the default.
        let _ = set_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, &(4i32 << 20));
        let batch = super::sys::Batch::new(SEND_CHUNK, HEADERS + max_datagram);
        Ok(RawSender { fd, batch, tokens: [0; SEND_CHUNK], queued: 0 })
    }

    /// The payload part of the next datagram's buffer (flushing first when the chunk is
    /// full, with `on_sent(token, ok)` per datagram).
    fn next_payload(&mut self, on_sent: impl FnMut(usize, bool)) -> &mut [u8] {
        if self.queued == SEND_CHUNK {
            self.flush(on_sent);
        }
        &mut self.batch.buffer(self.queued)[HEADERS..]
    }

    /// Queues the datagram whose payload (`len` bytes) [`RawSender::next_payload`] gave,
    /// from `from` to `to`, for socket slot `token`.
    fn queue(&mut self, token: usize, len: usize, from: SocketAddrV4, to: SocketAddrV4) {
        let k = self.queued;
        write_udp_headers(&mut self.batch.buffer(k)[..HEADERS + len], from, to);
        // A raw socket's destination carries no port.
        self.batch.set_outgoing(k, HEADERS + len, Some(SocketAddr::V4(SocketAddrV4::new(*to.ip(), 0))));
        self.tokens[k] = token;
        self.queued += 1;
    }

    /// Sends what is queued; `on_sent(token, ok)` for each datagram.
    fn flush(&mut self, mut on_sent: impl FnMut(usize, bool)) {
        let tokens = &self.tokens;
        self.batch.send_each(&self.fd, self.queued, |j, ok| on_sent(tokens[j], ok));
        self.queued = 0;
    }
}

/// Where a datagram to one of a thread's ports goes: the slot bound there.
struct PortMap {
    first: u16,
    /// Slot index + 1 per port from `first` (0: none).
    slots: Vec<u32>,
}

impl PortMap {
    /// Socket slot `i` is bound to `ports[i]`.
    fn new(ports: &[u16]) -> PortMap {
        let (first, last) = port_range(ports);
        let mut slots = vec![0; usize::from(last - first) + 1];
        for (token, &port) in ports.iter().enumerate() {
            slots[usize::from(port - first)] = token as u32 + 1;
        }
        PortMap { first, slots }
    }

    fn slot(&self, port: u16) -> Option<usize> {
        let i = usize::from(port.checked_sub(self.first)?);
        self.slots.get(i).and_then(|&s| s.checked_sub(1)).map(|s| s as usize)
    }
}

/// The lowest and highest of `ports` ((0, 0) for none).
fn port_range(ports: &[u16]) -> (u16, u16) {
    (ports.iter().copied().min().unwrap_or(0), ports.iter().copied().max().unwrap_or(0))
}

/// Whether this process can run the backend here: opens a packet ring and a raw socket as a
/// thread does and moves one datagram over loopback through them.
pub(super) fn support() -> Result<(), String> {
    let bind = || UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("loopback socket: {e}"));
    let (a, b) = (bind()?, bind()?);
    let (a_addr, b_addr) = match (a.local_addr(), b.local_addr()) {
        (Ok(SocketAddr::V4(x)), Ok(SocketAddr::V4(y))) => (x, y),
        _ => return Err("loopback socket has no IPv4 address".into()),
    };
    let mut ring = RxRing::new((a_addr.port(), a_addr.port()), Some(*a_addr.ip()), 2)
        .map_err(|e| format!("packet socket ring (needs CAP_NET_RAW): {e}"))?;
    let mut tx = RawSender::new(64).map_err(|e| format!("raw socket (needs CAP_NET_RAW): {e}"))?;
    let word = *b"rvoip";
    tx.next_payload(|_, _| {})[..word.len()].copy_from_slice(&word);
    tx.queue(0, word.len(), b_addr, a_addr);
    let mut sent = None;
    tx.flush(|_, ok| sent = Some(ok));
    if sent != Some(true) {
        return Err("a send through the raw socket failed".into());
    }
    let end = now_ns() + 1_000_000_000;
    let mut got = false;
    while !got && now_ns() < end {
        super::sys::sleep_ns(2_000_000);
        ring.drain(|pkt, vouched| {
            got |= parse(pkt, vouched).is_some_and(|d| d.payload == word && d.from == b_addr && d.to == a_addr);
        });
    }
    if got {
        Ok(())
    } else {
        Err("the packet ring received nothing of a datagram sent through the raw socket".into())
    }
}

/// Starts an I/O thread on a packet ring and a raw socket named `name`, serving `slots`
/// (all IPv4); their setup errors come back here.
pub(super) fn spawn(
    name: String,
    mut config: BatchConfig,
    slots: Vec<Slot>,
    counters: Arc<[Counters]>,
    stop: Arc<AtomicBool>,
    ring_drops: Arc<AtomicU64>,
) -> io::Result<JoinHandle<()>> {
    config.connect_on_latch = false;
    let mut local = Vec::with_capacity(slots.len());
    let mut ports = Vec::with_capacity(slots.len());
    for s in &slots {
        let SocketAddr::V4(a) = s.socket.local_addr()? else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "packet ring: an IPv6 socket"));
        };
        // Nothing waits in the socket: the ring receives its datagrams.
        attach_filter(s.socket.as_raw_fd(), &mut [insn((libc::BPF_RET | libc::BPF_K) as u16, 0, 0, 0)])?;
        local.push(*a.ip());
        ports.push(a.port());
    }
    let map = PortMap::new(&ports);
    let range = port_range(&ports);
    let to = match local.first() {
        Some(ip) if !ip.is_unspecified() && local.iter().all(|l| l == ip) => Some(*ip),
        _ => None,
    };
    super::spawn_io_thread(name, move |ready| {
        match RxRing::new(range, to, BLOCKS).and_then(|rx| Ok((rx, RawSender::new(config.max_datagram)?))) {
            Ok((rx, tx)) => {
                ready(Ok(()));
                let source = local.clone();
                PacketThread { rx, tx, config, slots, counters, stop, map, local, source, ports, ring_drops }.run();
            }
            Err(e) => ready(Err(e)),
        }
    })
}

/// One I/O thread on a packet ring and a raw socket.
struct PacketThread {
    rx: RxRing,
    tx: RawSender,
    config: BatchConfig,
    slots: Vec<Slot>,
    counters: Arc<[Counters]>,
    stop: Arc<AtomicBool>,
    map: PortMap,
    /// The address each socket is bound to (unspecified: any).
    local: Vec<Ipv4Addr>,
    /// The address each socket sends from: its own, or the one its peer last sent to.
    source: Vec<Ipv4Addr>,
    /// The port each socket is bound to.
    ports: Vec<u16>,
    ring_drops: Arc<AtomicU64>,
}

impl PacketThread {
    fn run(mut self) {
        let clock = self.config.clock.clone();
        let mut pacer = CyclePacer::new(&clock, self.config.cycle_lead.as_nanos() as u64, now_ns());
        let mut schedule = Schedule::new(&self.config);
        while !self.stop.load(Ordering::Acquire) {
            super::sys::sleep_ns(pacer.wake_at().saturating_sub(now_ns()));
            self.receive();
            let now = now_ns();
            if pacer.on_wake(now, clock.finished()) {
                self.send_all();
            }
            if schedule.housekeeping_due(now) {
                super::let_go_of_silent_peers(&self.config, &mut self.slots, now);
                add(&self.ring_drops, self.rx.drops());
            }
        }
        self.send_all();
        self.receive();
        add(&self.ring_drops, self.rx.drops());
    }

    /// Hands every datagram the ring holds to its socket's logic and counters.
    fn receive(&mut self) {
        let (config, slots, counters, map) = (&self.config, &mut self.slots, &self.counters, &self.map);
        let (local, source) = (&self.local, &mut self.source);
        let now = now_ns();
        self.rx.drain(|pkt, vouched| {
            let d = parse(pkt, vouched);
            // The destination port of what did not parse (the filter let only UDP to our
            // ports through), to count it on its socket.
            let port = d.as_ref().map_or_else(|| udp_destination(pkt), |d| Some(d.to.port()));
            let Some(token) = port.and_then(|p| map.slot(p)) else { return };
            let to_ip = d.as_ref().map(|d| *d.to.ip());
            if to_ip.is_some_and(|ip| !local[token].is_unspecified() && ip != local[token]) {
                return;
            }
            let slot = &mut slots[token];
            let c = &counters[slot.index];
            add(&c.received, 1);
            // Longer than `max_datagram` counts as the other backends' truncated reads do.
            let (data, from) = match &d {
                Some(d) if d.payload.len() <= config.max_datagram => (Some(d.payload), Some(SocketAddr::V4(d.from))),
                _ => (None, None),
            };
            on_datagram(config, slot, c, data, from, now);
            if let (Some(d), Some(peer)) = (&d, slot.peer) {
                if peer == SocketAddr::V4(d.from) {
                    source[token] = *d.to.ip();
                }
            }
        });
    }

    /// Sends every send ring's packets, [`SEND_CHUNK`] to a call.
    fn send_all(&mut self) {
        let counters = &self.counters;
        for token in 0..self.slots.len() {
            let slot = &mut self.slots[token];
            let c = &counters[slot.index];
            loop {
                let buf = self.tx.next_payload(|index, ok| count_sent(counters, index, ok));
                let Some(len) = write_next(slot, c, buf) else { break };
                // Only IPv4 peers latch here (the ring parses IPv4 only).
                if let Some(SocketAddr::V4(to)) = slot.peer {
                    let from = SocketAddrV4::new(self.source[token], self.ports[token]);
                    self.tx.queue(slot.index, len, from, to);
                }
            }
        }
        self.tx.flush(|index, ok| count_sent(counters, index, ok));
    }
}

/// Counts a datagram of the socket whose counters are `counters[index]` sent or not.
fn count_sent(counters: &[Counters], index: usize, ok: bool) {
    let c = &counters[index];
    add(if ok { &c.sent } else { &c.send_errors }, 1);
}

/// The destination port of the UDP header in IPv4 packet `pkt`, if it holds that much.
fn udp_destination(pkt: &[u8]) -> Option<u16> {
    let ihl = usize::from(*pkt.first()? & 0x0f) * 4;
    Some(u16::from_be_bytes([*pkt.get(ihl + 2)?, *pkt.get(ihl + 3)?]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv4 + UDP + `payload` as [`RawSender::queue`] writes it (no socket needed).
    fn written(from: SocketAddrV4, to: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0; HEADERS];
        b.extend_from_slice(payload);
        write_udp_headers(&mut b, from, to);
        b
    }

    const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 40000);
    const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 7), 5004);

    #[test]
    fn the_udp_checksum_matches_a_worked_example() {
        // RFC 1071's method on a datagram whose sum was worked out by hand: pseudo-header
        // c000 + 0201 + c633 + 6407 + 0011 + 000b, UDP 9c40 + 138c + 000b + 0000 + 6869 + 2100.
        let mut udp = vec![0x9c, 0x40, 0x13, 0x8c, 0, 11, 0, 0, b'h', b'i', b'!'];
        let words: u32 =
            [0xc000u32, 0x0201, 0xc633, 0x6407, 0x0011, 0x000b, 0x9c40, 0x138c, 0x000b, 0x6869, 0x2100].iter().sum();
        let folded = (words & 0xffff) + (words >> 16);
        let want = !((folded & 0xffff) + (folded >> 16)) as u16;
        assert_eq!(udp_checksum(*A.ip(), *B.ip(), &udp), want);
        udp[6..8].copy_from_slice(&want.to_be_bytes());
        assert_eq!(udp_checksum(*A.ip(), *B.ip(), &udp), 0, "a correct checksum sums to zero");
    }

    #[test]
    fn a_written_datagram_parses_back_and_a_damaged_one_does_not() {
        let pkt = written(A, B, b"rtp payload");
        assert_eq!(parse(&pkt, false), Some(Datagram { from: A, to: B, payload: &b"rtp payload"[..] }));
        let mut bad = pkt.clone();
        bad[30] ^= 1;
        assert_eq!(parse(&bad, false), None, "a flipped bit fails the checksum");
        assert!(parse(&bad, true).is_some(), "unless a device or the local sender vouched for it");
        let mut zero = bad.clone();
        zero[26..28].copy_from_slice(&[0, 0]);
        assert!(parse(&zero, false).is_some(), "checksum 0: none was computed (RFC 768)");
        let mut frag = pkt.clone();
        frag[6] |= 0x20;
        assert_eq!(parse(&frag, true), None, "a first fragment is not a whole datagram");
        assert_eq!(parse(&pkt[..pkt.len() - 1], true), None, "shorter than its IP length");
        let mut long_udp = pkt.clone();
        long_udp[24..26].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(parse(&long_udp, true), None, "a UDP length beyond the packet");
        assert_eq!(parse(&[], true), None);
        assert_eq!(parse(&pkt[..20], true), None);
        let mut v6 = pkt;
        v6[0] = 0x65;
        assert_eq!(parse(&v6, true), None);
    }

    #[test]
    fn the_port_map_finds_each_socket_and_nothing_else() {
        let m = PortMap::new(&[40000, 40004, 40010]);
        assert_eq!((m.slot(40000), m.slot(40004), m.slot(40010)), (Some(0), Some(1), Some(2)));
        assert_eq!((m.slot(39999), m.slot(40001), m.slot(40011), m.slot(0)), (None, None, None, None));
    }

    /// Runs `prog` the way the kernel does on an IPv4 packet `pkt` of packet type
    /// `pkttype` (the instructions [`rx_program`] uses only): what it returns.
    fn run(prog: &[libc::sock_filter], pkt: &[u8], pkttype: u32) -> u32 {
        run_as(prog, pkt, pkttype, libc::ETH_P_IP as u32)
    }

    /// [`run`] on a packet of link-layer protocol `protocol` (`ETH_P_*`).
    fn run_as(prog: &[libc::sock_filter], pkt: &[u8], pkttype: u32, protocol: u32) -> u32 {
        let ancillary = |k: u32| match k.wrapping_sub(libc::SKF_AD_OFF as u32) {
            k if k == libc::SKF_AD_PKTTYPE as u32 => pkttype,
            k if k == libc::SKF_AD_PROTOCOL as u32 => protocol,
            k => panic!("ancillary load {k} not modelled"),
        };
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let byte = |at: u32| u32::from(pkt[at as usize]);
        let half = |at: u32| u32::from(u16::from_be_bytes([pkt[at as usize], pkt[at as usize + 1]]));
        let word = |at: u32| u32::from_be_bytes(pkt[at as usize..at as usize + 4].try_into().unwrap());
        loop {
            let i = prog[pc];
            pc += 1;
            let jump = |cond: bool| if cond { usize::from(i.jt) } else { usize::from(i.jf) };
            match u32::from(i.code) {
                c if c == libc::BPF_LD | libc::BPF_W | libc::BPF_ABS => {
                    a = if i.k >= libc::SKF_AD_OFF as u32 { ancillary(i.k) } else { word(i.k) }
                }
                c if c == libc::BPF_LD | libc::BPF_H | libc::BPF_ABS => {
                    a = if i.k >= libc::SKF_AD_OFF as u32 { ancillary(i.k) } else { half(i.k) }
                }
                c if c == libc::BPF_LD | libc::BPF_B | libc::BPF_ABS => a = byte(i.k),
                c if c == libc::BPF_LD | libc::BPF_H | libc::BPF_IND => a = half(x + i.k),
                c if c == libc::BPF_LDX | libc::BPF_B | libc::BPF_MSH => x = 4 * (byte(i.k) & 0xf),
                c if c == libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K => pc += jump(a == i.k),
                c if c == libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K => pc += jump(a >= i.k),
                c if c == libc::BPF_JMP | libc::BPF_JGT | libc::BPF_K => pc += jump(a > i.k),
                c if c == libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K => pc += jump(a & i.k != 0),
                c if c == libc::BPF_RET | libc::BPF_K => return i.k,
                c => panic!("instruction {c:#x} not modelled"),
            }
        }
    }

    #[test]
    fn the_filter_keeps_udp_to_this_host_on_the_threads_ports_only() {
        let host = libc::PACKET_HOST as u32;
        let to = |port: u16| SocketAddrV4::new(*B.ip(), port);
        for (addr, ports) in [(None, (5000, 5010)), (Some(*B.ip()), (5004, 5004))] {
            let prog = rx_program(ports, addr);
            assert!(run(&prog, &written(A, to(5004), b"x"), host) > 0);
            assert_eq!(run(&prog, &written(A, to(5004), b"x"), libc::PACKET_OTHERHOST as u32), 0);
            assert_eq!(run(&prog, &written(A, to(4999), b"x"), host), 0);
            assert_eq!(run(&prog, &written(A, to(5011), b"x"), host), 0);
            let mut tcp = written(A, to(5004), b"x");
            tcp[9] = 6;
            assert_eq!(run(&prog, &tcp, host), 0);
            let mut later_fragment = written(A, to(5004), b"x");
            later_fragment[7] = 3;
            assert_eq!(run(&prog, &later_fragment, host), 0);
            let mut options = written(A, to(5004), b"x");
            options.splice(20..20, [1, 1, 1, 1]);
            options[0] = 0x46;
            assert!(run(&prog, &options, host) > 0, "IP options move the UDP header");
            let ip = written(A, to(5004), b"x");
            assert_eq!(run_as(&prog, &ip, host, libc::ETH_P_IPV6 as u32), 0, "the socket taps every protocol");
            assert_eq!(run_as(&prog, &ip, host, libc::ETH_P_ARP as u32), 0);
        }
        let prog = rx_program((5000, 5010), Some(*B.ip()));
        assert_eq!(run(&prog, &written(A, SocketAddrV4::new(*A.ip(), 5004), b"x"), host), 0, "another address");
    }
}
