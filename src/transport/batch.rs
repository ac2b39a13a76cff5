//! [`BatchIo`]: many RTP sockets served by a few I/O threads with batched system calls.
//!
//! A conference bridge or a media server holds thousands of UDP sockets, one per leg, each
//! carrying 50 packets a second each way. One thread per socket (or per session) would cost
//! thousands of threads and wake-ups; [`BatchIo`] instead serves every socket from one
//! thread (or a few, [`BatchConfig::threads`]), moving packets socket → packet ring →
//! worker → packet ring → socket with the engine's endpoints ([`PacketIn`] / [`PacketOut`]),
//! as [`super::UdpTransport`] does for one session.
//!
//! **Paced by cycles.** The threads follow the cycle grid of the worker that runs the
//! sockets' legs ([`BatchConfig::clock`], [`Engine::cycle_clock`](crate::engine::Engine::cycle_clock)):
//! per cycle they wake every quarter of a quantum up to [`BatchConfig::cycle_lead`] before
//! it starts to collect what arrived (so the cycle finds it in the legs' rings), and once
//! the worker has finished the cycle to collect again and send everything it produced in
//! one sweep — five or six wake-ups and one sweep of the send rings per cycle. Without a
//! worker ([`CycleClock::free`]) the grid is the threads' own.
//!
//! On Linux three backends move the packets ([`BatchConfig::backend`], [`IoBackend`]): the
//! packet ring where the process may open packet and raw sockets and every socket is IPv4
//! ([`packet_ring_support`]), which makes no system call per packet — each thread reads
//! every datagram to its ports from an `AF_PACKET` ring mapped into the process and sends a
//! sweep through one raw socket, 64 datagrams a `sendmmsg` —; else
//! io_uring where the kernel allows it ([`io_uring_support`]), which batches across sockets
//! — one multishot receive armed per socket, a send sweep's packets for every socket
//! submitted 64 to an `io_uring_enter`, and one enter a wake-up collecting every socket's
//! arrivals — and epoll, where each wake-up reads every ready socket with `recvmmsg` (up to
//! [`BatchConfig::batch`] datagrams a call, at most [`BatchConfig::max_reads`] calls per
//! socket per wake-up, so a flooding peer cannot starve the others: what it sends beyond
//! that waits in its own socket buffer, where the kernel drops the excess) and a send sweep
//! writes each socket's packets with one `sendmmsg`.
//!
//! Elsewhere the same API runs on plain non-blocking `recv_from` / `send_to`, one datagram
//! per call.
//!
//! **Symmetric RTP.** A socket latches onto the source of its first valid packet (RTP that
//! parses with an accepted payload type) and sends there; with
//! [`BatchConfig::connect_on_latch`] (the default) it also `connect`s to it, which lets
//! the kernel skip the route lookup on every send and drop datagrams from any other source
//! before they cost a system call. A packet from another source while latched is
//! counted (`foreign`) and dropped. A peer silent for [`BatchConfig::relatch_after`] is let
//! go (the socket disconnects): the next valid packet latches again, and when it comes from
//! a new address that is counted as a re-latch (NAT rebinding, a moved phone).
//!
//! **Counted, never lost silently.** Per socket ([`SocketStats`]): datagrams `received`,
//! `delivered` to the ring, `dropped` (ring full, pool exhausted or the graph input
//! removed), `malformed` (not RTP, RTCP included), `wrong_payload_type`, `foreign`, so that
//! `received = delivered + dropped + malformed + wrong_payload_type + foreign`; and packets
//! `sent`, `not_sent` (nowhere to send yet), `send_errors`, `latches`, `relatches`.
//!
//! Buffers, message headers and address slots are allocated when a thread starts; after
//! that the I/O threads allocate nothing per packet, on either backend.
//!
//! ```
//! use rvoip_media_core::conference::{LegMedia, Room};
//! use rvoip_media_core::prelude::*;
//! use rvoip_media_core::transport::{BatchConfig, BatchIo};
//! use rvoip_media_nodes::G711Law;
//! use std::net::UdpSocket;
//! use std::time::Duration;
//!
//! let config = EngineConfig { workers: 1, pin_workers: false, realtime: None, ..Default::default() };
//! let engine = Engine::start(config).unwrap();
//! let mut room = Room::new(&engine, AudioFormat::mono(8000), 2).unwrap();
//! let legs = (0..2).map(|i| (format!("p{i}"), LegMedia::g711(G711Law::Ulaw, 20_000, i)));
//! let mut io = room.join_many(&engine, legs).unwrap().io;
//! // Paced by the cycles of the worker that runs the room.
//! let mut batch = BatchIo::new(BatchConfig { clock: engine.cycle_clock(0).unwrap(), ..BatchConfig::default() });
//! for i in 0..2 {
//!     let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
//!     let rx = io.take_packet_in(&format!("p{i}.rx")).unwrap();
//!     let tx = io.take_packet_out(&format!("p{i}.tx")).unwrap();
//!     batch.add(socket, rx, tx).unwrap();
//! }
//! let ports: Vec<u16> = (0..2).map(|i| batch.local_addr(i).unwrap().port()).collect();
//! let running = batch.start().unwrap();
//! // A peer for leg 0: one PCMU packet, then the mix comes back to it.
//! let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
//! let mut pkt = [0xffu8; 172];
//! pkt[..2].copy_from_slice(&[0x80, 0]);
//! peer.send_to(&pkt, ("127.0.0.1", ports[0])).unwrap();
//! peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
//! let mut back = [0u8; 1500];
//! assert_eq!(peer.recv(&mut back).unwrap(), 172); // 12 + 160 bytes of PCMU from leg 0
//! let s = running.stats();
//! assert_eq!((s.received, s.delivered, s.latches), (1, 1, 1));
//! running.stop().unwrap();
//! ```

use super::TransportError;
use crate::conference::HeardBoard;
use crate::engine::rt::now_ns;
use crate::engine::{CycleClock, PacketIn, PacketOut};
use crate::rtp::{CsrcLevels, HeaderExtensions, ReceivedRtp};
use cycle_pace::CyclePacer;
use rvoip_media_nodes::mixer::MAX_HEARD;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

#[cfg(target_os = "linux")]
#[path = "batch_packet.rs"]
mod packet;
#[cfg(target_os = "linux")]
#[path = "batch_linux.rs"]
pub(crate) mod sys;
#[cfg(not(target_os = "linux"))]
#[path = "batch_portable.rs"]
pub(crate) mod sys;
#[cfg(target_os = "linux")]
#[path = "batch_uring.rs"]
mod uring;

/// Which system calls a [`BatchIo`]'s threads move packets with.
///
/// ```
/// use rvoip_media_core::transport::batch::IoBackend;
/// assert_eq!("io-uring".parse::<IoBackend>(), Ok(IoBackend::IoUring));
/// assert_eq!("packet-ring".parse::<IoBackend>(), Ok(IoBackend::PacketRing));
/// assert_eq!(IoBackend::Epoll.name(), "epoll");
/// assert!("kqueue".parse::<IoBackend>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoBackend {
    /// The packet ring where this process may use it and every socket is IPv4
    /// ([`packet_ring_support`]), else io_uring where this kernel lets this process use it
    /// ([`io_uring_support`]), else epoll; checked at [`BatchIo::start`].
    #[default]
    Auto,
    /// Readiness: `epoll_wait`, then `recvmmsg` / `sendmmsg` per socket (elsewhere than
    /// Linux, the portable loop: `recv_from` / `send_to`, one datagram a call).
    Epoll,
    /// Completions (Linux 6.1 or later): one io_uring per thread, a multishot `recvmsg` on
    /// every socket into a ring of provided buffers, and each send sweep's packets for all
    /// sockets submitted 64 to an `io_uring_enter`; one enter a wake-up collects what
    /// arrived. [`BatchConfig::batch`] and [`BatchConfig::max_reads`] do not apply.
    IoUring,
    /// No system call per packet (Linux, `CAP_NET_RAW`, IPv4 sockets): each thread reads
    /// every datagram to its sockets' ports from an `AF_PACKET` ring mapped into the process
    /// (a kernel filter keeps only those), and sends through one raw IPv4 socket, 64 datagrams
    /// a `sendmmsg`, writing the UDP header itself. The sockets stay bound to hold their
    /// ports, with a filter dropping what would be queued to them (the kernel counts those in
    /// UDP `InErrors`); they are not connected on latch. [`BatchConfig::batch`] and
    /// [`BatchConfig::max_reads`] do not apply.
    PacketRing,
}

impl IoBackend {
    /// `auto`, `epoll`, `io_uring` or `packet_ring`.
    pub fn name(self) -> &'static str {
        match self {
            IoBackend::Auto => "auto",
            IoBackend::Epoll => "epoll",
            IoBackend::IoUring => "io_uring",
            IoBackend::PacketRing => "packet_ring",
        }
    }
}

impl std::str::FromStr for IoBackend {
    type Err = String;

    /// `auto`, `epoll`, `io-uring` / `io_uring` or `packet-ring` / `packet_ring`.
    fn from_str(s: &str) -> Result<IoBackend, String> {
        match s {
            "auto" => Ok(IoBackend::Auto),
            "epoll" => Ok(IoBackend::Epoll),
            "io-uring" | "io_uring" => Ok(IoBackend::IoUring),
            "packet-ring" | "packet_ring" => Ok(IoBackend::PacketRing),
            _ => Err(format!("unknown I/O backend {s:?}: auto, epoll, io-uring or packet-ring")),
        }
    }
}

/// Whether this process can run [`IoBackend::IoUring`] here: sets up a ring as the I/O
/// threads do and moves one datagram over loopback through it (a multishot `recvmsg` on one
/// socket, a `send` from another). Old kernels, seccomp filters and the
/// `kernel.io_uring_disabled` sysctl all show up here.
///
/// ```
/// use rvoip_media_core::transport::batch::io_uring_support;
/// match io_uring_support() {
///     Ok(()) => println!("io_uring available"),
///     Err(e) => println!("epoll only: {e}"),
/// }
/// ```
///
/// # Errors
/// [`TransportError::Io`] (kind `Unsupported`) saying what failed.
pub fn io_uring_support() -> Result<(), TransportError> {
    // On a thread of its own: a ring dropped with a multishot receive armed finishes its
    // cancellations as task work on the thread that made it, which would interrupt the
    // caller's next blocking system call with `EINTR`.
    #[cfg(target_os = "linux")]
    let r = std::thread::Builder::new()
        .name("rvoip-uring-probe".into())
        .spawn(uring::probe)
        .map_err(|e| format!("probe thread: {e}"))
        .and_then(|t| t.join().unwrap_or_else(|_| Err("the probe thread panicked".into())));
    #[cfg(not(target_os = "linux"))]
    let r = Err("io_uring is Linux only".to_string());
    r.map_err(|why| TransportError::Io(std::io::Error::new(std::io::ErrorKind::Unsupported, why)))
}

/// Whether this process can run [`IoBackend::PacketRing`] here: opens a packet socket with
/// its ring and a raw socket as the I/O threads do and moves one datagram over loopback
/// through them. Without `CAP_NET_RAW` (an unprivileged process, a container without it)
/// this fails.
///
/// ```
/// use rvoip_media_core::transport::batch::packet_ring_support;
/// match packet_ring_support() {
///     Ok(()) => println!("packet ring available"),
///     Err(e) => println!("no packet ring: {e}"),
/// }
/// ```
///
/// # Errors
/// [`TransportError::Io`] (kind `Unsupported`) saying what failed.
pub fn packet_ring_support() -> Result<(), TransportError> {
    #[cfg(target_os = "linux")]
    let r = packet::support();
    #[cfg(not(target_os = "linux"))]
    let r = Err("the packet ring is Linux only".to_string());
    r.map_err(|why| TransportError::Io(std::io::Error::new(std::io::ErrorKind::Unsupported, why)))
}

/// Settings of a [`BatchIo`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// I/O threads (sockets are dealt out round-robin); at least 1.
    pub threads: usize,
    /// Datagrams per `recvmmsg` / `sendmmsg` call (epoll); at least 1.
    pub batch: usize,
    /// `recvmmsg` calls per ready socket per wake-up at most (a flooding peer's share;
    /// epoll); at least 1.
    pub max_reads: usize,
    /// Largest datagram received (longer ones are counted malformed).
    pub max_datagram: usize,
    /// Accepted RTP payload types; empty accepts any.
    pub payload_types: Vec<u8>,
    /// A latched peer silent this long is let go; the next valid source latches.
    pub relatch_after: Duration,
    /// `connect` a socket to its latched peer (Linux).
    pub connect_on_latch: bool,
    /// The system calls to use.
    pub backend: IoBackend,
    /// The cycles the threads follow: those of the engine worker running these sockets'
    /// legs ([`Engine::cycle_clock`](crate::engine::Engine::cycle_clock)), or a grid of
    /// their own ([`CycleClock::free`]). Per cycle, wake-ups every quarter of a quantum up
    /// to [`BatchConfig::cycle_lead`] before it starts collect what arrived, and one once it
    /// finished (on a free grid: just after it started) collects again and sends everything
    /// it produced in one sweep.
    pub clock: CycleClock,
    /// How long before a cycle starts its arrivals are collected the last time (at most
    /// half a quantum). Long enough for collecting a quarter cycle's arrivals to end before
    /// the cycle starts; what arrives later waits for the next cycle.
    pub cycle_lead: Duration,
}

impl Default for BatchConfig {
    /// One thread, 32 datagrams a call, 4 calls per socket per wake-up, 1500-byte
    /// datagrams, any payload type, re-latch after 2 s of silence, connect on latch,
    /// io_uring where available; paced by a free 10 ms grid (the engine's default quantum)
    /// with a lead of 2 ms. A bridge sets [`BatchConfig::clock`] to its worker's.
    fn default() -> Self {
        BatchConfig {
            threads: 1,
            batch: 32,
            max_reads: 4,
            max_datagram: 1500,
            payload_types: Vec::new(),
            relatch_after: Duration::from_secs(2),
            connect_on_latch: true,
            backend: IoBackend::Auto,
            clock: CycleClock::free(Duration::from_millis(10)),
            cycle_lead: Duration::from_millis(2),
        }
    }
}

/// One socket's counters, written by its I/O thread, read by anyone.
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    malformed: AtomicU64,
    wrong_payload_type: AtomicU64,
    foreign: AtomicU64,
    sent: AtomicU64,
    not_sent: AtomicU64,
    send_errors: AtomicU64,
    latches: AtomicU64,
    relatches: AtomicU64,
}

/// Adds `n` to a counter with a single writer (the socket's I/O thread): a plain load and
/// store, no locked read-modify-write.
fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// Counters of one socket, or summed over all of them ([`BatchIoHandle::stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketStats {
    /// Datagrams read from the socket.
    pub received: u64,
    /// RTP packets handed to the graph's ring.
    pub delivered: u64,
    /// Valid packets the ring had no room for (ring full, packet pool exhausted, input
    /// removed).
    pub dropped: u64,
    /// Datagrams that are not RTP (short, wrong version, lying lengths, RTCP, truncated).
    pub malformed: u64,
    /// RTP packets of a payload type not accepted.
    pub wrong_payload_type: u64,
    /// Packets from another source than the latched one.
    pub foreign: u64,
    /// Packets sent.
    pub sent: u64,
    /// Packets from the graph with nowhere to send (no peer latched yet).
    pub not_sent: u64,
    /// Packets the kernel refused (a full socket buffer, an unreachable peer).
    pub send_errors: u64,
    /// Times a peer was latched (the first, and again after being let go).
    pub latches: u64,
    /// Latches onto a new address after the previous peer was let go.
    pub relatches: u64,
}

impl SocketStats {
    fn read(c: &Counters) -> SocketStats {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        SocketStats {
            received: r(&c.received),
            delivered: r(&c.delivered),
            dropped: r(&c.dropped),
            malformed: r(&c.malformed),
            wrong_payload_type: r(&c.wrong_payload_type),
            foreign: r(&c.foreign),
            sent: r(&c.sent),
            not_sent: r(&c.not_sent),
            send_errors: r(&c.send_errors),
            latches: r(&c.latches),
            relatches: r(&c.relatches),
        }
    }

    /// Adds `o`'s counts to these (totals over sockets, or over several I/O threads).
    ///
    /// ```
    /// use rvoip_media_core::transport::SocketStats;
    /// let mut total = SocketStats { received: 3, sent: 2, ..SocketStats::default() };
    /// total.accumulate(&SocketStats { received: 4, dropped: 1, ..SocketStats::default() });
    /// assert_eq!((total.received, total.sent, total.dropped), (7, 2, 1));
    /// ```
    pub fn accumulate(&mut self, o: &SocketStats) {
        self.received += o.received;
        self.delivered += o.delivered;
        self.dropped += o.dropped;
        self.malformed += o.malformed;
        self.wrong_payload_type += o.wrong_payload_type;
        self.foreign += o.foreign;
        self.sent += o.sent;
        self.not_sent += o.not_sent;
        self.send_errors += o.send_errors;
        self.latches += o.latches;
        self.relatches += o.relatches;
    }
}

/// One socket and its rings, as an I/O thread holds it.
struct Slot {
    index: usize,
    socket: UdpSocket,
    rx: PacketIn,
    tx: PacketOut,
    peer: Option<SocketAddr>,
    /// Whether `peer` is live (false once let go: the next valid source latches).
    latched: bool,
    connected: bool,
    last_rx_ns: u64,
    /// The header extensions this leg negotiated (read and written on its packets).
    ext: HeaderExtensions,
    /// The room's board and every socket's source, for RFC 6465 CSRC lists
    /// ([`BatchIo::with_heard`]), and the mixer port of this socket's member.
    heard: Option<Arc<Heard>>,
    mixer_port: usize,
}

/// What writes a listener's RFC 6465 CSRC list: who the room mixed (by mixer port) and the
/// SSRC the socket of each mixer port last received (`1 << 32 | ssrc`; 0: none yet).
struct Heard {
    board: Arc<HeardBoard>,
    ssrcs: Box<[AtomicU64]>,
}

impl Heard {
    /// The sources mixed into what the member at `port` hears: the board's members but
    /// itself, as the SSRCs their sockets received (members not heard from yet are left out).
    fn sources_for(&self, port: usize) -> CsrcLevels {
        let mut heard = [(0u32, 0u8); MAX_HEARD];
        let mut out = CsrcLevels::new();
        let n = self.board.read(&mut heard).unwrap_or(0);
        for &(p, level) in &heard[..n] {
            let s = self.ssrcs.get(p as usize).map_or(0, |s| s.load(Ordering::Relaxed));
            if p as usize != port && s >> 32 == 1 {
                out.push(s as u32, level);
            }
        }
        out
    }
}

/// Sockets and their rings before the threads start. See the [module docs](self).
pub struct BatchIo {
    config: BatchConfig,
    slots: Vec<Slot>,
    heard: Option<Arc<HeardBoard>>,
}

impl BatchIo {
    /// No sockets yet.
    pub fn new(config: BatchConfig) -> BatchIo {
        BatchIo { config, slots: Vec::new(), heard: None }
    }

    /// Adds a bound socket with the graph's packet input (what it receives goes there) and
    /// packet output (what it sends comes from there); returns its index. The socket is
    /// made non-blocking. With [`BatchConfig::connect_on_latch`], bind it to an explicit
    /// port: Linux gives a kernel-chosen port back when a connected socket lets go of its
    /// peer.
    ///
    /// # Errors
    /// [`TransportError::Io`] when the socket cannot be made non-blocking.
    pub fn add(&mut self, socket: UdpSocket, rx: PacketIn, tx: PacketOut) -> Result<usize, TransportError> {
        self.add_with_extensions(socket, rx, tx, HeaderExtensions::default())
    }

    /// [`BatchIo::add`] for a leg that negotiated header extensions `ext` (both ways): its
    /// received packets carry e.g. their RFC 6464 level into the graph
    /// ([`PacketMeta::audio_level`](crate::graph::PacketMeta::audio_level), which a room's
    /// silent-leg skip reads) and what the graph sends goes out with the level its packets
    /// carry.
    ///
    /// # Errors
    /// As [`BatchIo::add`].
    pub fn add_with_extensions(
        &mut self,
        socket: UdpSocket,
        rx: PacketIn,
        tx: PacketOut,
        ext: HeaderExtensions,
    ) -> Result<usize, TransportError> {
        socket.set_nonblocking(true)?;
        let index = self.slots.len();
        self.slots.push(Slot {
            index,
            socket,
            rx,
            tx,
            peer: None,
            latched: false,
            connected: false,
            last_rx_ns: 0,
            ext,
            heard: None,
            mixer_port: index,
        });
        Ok(index)
    }

    /// The same I/O for a room's legs, socket `i` being the member at mixer port `i` (as
    /// legs that joined in order are; else [`BatchIo::set_mixer_port`]): every packet a
    /// socket whose extensions negotiated
    /// `csrc-audio-level` ([`HeaderExtensions::csrc_audio_level`]) sends lists the members
    /// the room mixed in its last cycle (`board`, [`Room::heard_board`](crate::conference::Room::heard_board))
    /// but the listener itself, as the SSRCs their sockets last received, with their levels
    /// (RFC 6465, at most 15). Sockets without that extension write what they did before.
    pub fn with_heard(mut self, board: Arc<HeardBoard>) -> BatchIo {
        self.heard = Some(board);
        self
    }

    /// Socket `index` is the member at mixer port `port` ([`Room::port_of`](crate::conference::Room::port_of)),
    /// for [`BatchIo::with_heard`]; false for an unknown socket.
    pub fn set_mixer_port(&mut self, index: usize, port: usize) -> bool {
        self.slots.get_mut(index).map(|s| s.mixer_port = port).is_some()
    }

    /// The local address of socket `index`.
    pub fn local_addr(&self, index: usize) -> Option<SocketAddr> {
        self.slots.get(index).and_then(|s| s.socket.local_addr().ok())
    }

    /// Sockets added.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no socket was added.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Starts the I/O threads (named `rvoip-batch-io-K`) on the configured
    /// [`BatchConfig::backend`] ([`BatchIoHandle::backend`] says which runs).
    ///
    /// # Errors
    /// [`TransportError::State`] for a thread or batch count of 0,
    /// [`TransportError::Io`] when a thread or its poller or ring cannot be created, or
    /// [`IoBackend::IoUring`] was asked for where [`io_uring_support`] fails (nothing keeps
    /// running then).
    pub fn start(self) -> Result<BatchIoHandle, TransportError> {
        let c = &self.config;
        if c.threads == 0 || c.batch == 0 || c.max_reads == 0 || c.max_datagram < 12 {
            return Err(TransportError::State(
                "threads, batch and max_reads must be at least 1, max_datagram at least 12",
            ));
        }
        let all_ipv4 = self.slots.iter().all(|s| matches!(s.socket.local_addr(), Ok(SocketAddr::V4(_))));
        let mut fallback = None;
        let backend = match c.backend {
            IoBackend::Epoll => IoBackend::Epoll,
            IoBackend::IoUring => {
                io_uring_support()?;
                IoBackend::IoUring
            }
            IoBackend::PacketRing if !all_ipv4 => {
                return Err(TransportError::State("the packet ring serves IPv4 sockets only"));
            }
            IoBackend::PacketRing => {
                packet_ring_support()?;
                IoBackend::PacketRing
            }
            IoBackend::Auto => {
                let packet = if all_ipv4 { packet_ring_support() } else { Err(TransportError::State("IPv6 sockets")) };
                match packet {
                    Ok(()) => IoBackend::PacketRing,
                    Err(p) => match io_uring_support() {
                        Ok(()) => {
                            fallback = Some(format!("packet ring unavailable: {p}"));
                            IoBackend::IoUring
                        }
                        Err(e) => {
                            fallback = Some(format!("packet ring unavailable: {p}; io_uring unavailable: {e}"));
                            IoBackend::Epoll
                        }
                    },
                }
            }
        };
        let counters: Arc<[Counters]> = (0..self.slots.len()).map(|_| Counters::default()).collect();
        let mut slots = self.slots;
        if let Some(board) = self.heard {
            let ports = slots.iter().map(|s| s.mixer_port + 1).max().unwrap_or(0);
            let ssrcs = (0..ports).map(|_| AtomicU64::new(0)).collect();
            let heard = Arc::new(Heard { board, ssrcs });
            slots.iter_mut().for_each(|s| s.heard = Some(heard.clone()));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let threads = c.threads.min(slots.len()).max(1);
        let mut groups: Vec<Vec<Slot>> = (0..threads).map(|_| Vec::new()).collect();
        let n = slots.len();
        for (i, s) in slots.into_iter().enumerate() {
            // A packet ring's filter takes a port range: each thread gets a contiguous run
            // of sockets (bound in order, a run of ports), not every k-th.
            let k = if backend == IoBackend::PacketRing { i * threads / n } else { i % threads };
            groups[k].push(s);
        }
        let ring_drops = Arc::new(AtomicU64::new(0));
        let mut handle = BatchIoHandle {
            stop: stop.clone(),
            threads: Vec::new(),
            counters: counters.clone(),
            backend,
            fallback,
            ring_drops: ring_drops.clone(),
        };
        for (k, slots) in groups.into_iter().enumerate() {
            let name = format!("rvoip-batch-io-{k}");
            let (config, counters, stop) = (self.config.clone(), counters.clone(), stop.clone());
            let t = match backend {
                #[cfg(target_os = "linux")]
                IoBackend::IoUring => uring::spawn(name, config, slots, counters, stop)?,
                #[cfg(target_os = "linux")]
                IoBackend::PacketRing => packet::spawn(name, config, slots, counters, stop, ring_drops.clone())?,
                _ => {
                    let io = IoThread::new(config, slots, counters, stop)?;
                    std::thread::Builder::new().name(name).spawn(move || io.run())?
                }
            };
            handle.threads.push(t);
        }
        Ok(handle)
    }
}

/// Running I/O threads: counters, and [`BatchIoHandle::stop`]. Dropping it stops them too.
pub struct BatchIoHandle {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<[Counters]>,
    backend: IoBackend,
    fallback: Option<String>,
    ring_drops: Arc<AtomicU64>,
}

impl BatchIoHandle {
    /// The backend the threads run on (never [`IoBackend::Auto`]).
    pub fn backend(&self) -> IoBackend {
        self.backend
    }

    /// Why [`IoBackend::Auto`] settled for a slower backend than the packet ring (what
    /// [`packet_ring_support`] and, for epoll, [`io_uring_support`] said); `None` when the
    /// packet ring runs or a backend was asked for by name.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// Datagrams to these sockets that the packet ring's kernel side had no room for (a
    /// thread that fell more than a few hundred milliseconds behind), which no socket's
    /// counters can hold; 0 on the other backends.
    pub fn ring_drops(&self) -> u64 {
        self.ring_drops.load(Ordering::Relaxed)
    }

    /// Sockets served.
    pub fn sockets(&self) -> usize {
        self.counters.len()
    }

    /// The counters of socket `index`.
    pub fn socket_stats(&self, index: usize) -> Option<SocketStats> {
        self.counters.get(index).map(SocketStats::read)
    }

    /// The counters summed over every socket.
    pub fn stats(&self) -> SocketStats {
        let mut total = SocketStats::default();
        for c in self.counters.iter() {
            total.accumulate(&SocketStats::read(c));
        }
        total
    }

    /// Stops the threads after a last send sweep (the sockets close, the ring ends are
    /// dropped) and returns the final totals, that sweep included.
    ///
    /// # Errors
    /// [`TransportError::State`] when an I/O thread panicked.
    pub fn stop(mut self) -> Result<SocketStats, TransportError> {
        self.join()?;
        Ok(self.stats())
    }

    fn join(&mut self) -> Result<(), TransportError> {
        self.stop.store(true, Ordering::Release);
        let mut result = Ok(());
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                result = Err(TransportError::State("I/O thread panicked"));
            }
        }
        result
    }
}

impl Drop for BatchIoHandle {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Raises this process's soft limit on open files to its hard limit (a bridge of N legs
/// holds N sockets; the usual soft limit is 1024). Returns the new soft limit.
///
/// ```
/// let limit = rvoip_media_core::transport::batch::raise_open_file_limit().unwrap();
/// assert!(limit >= 16);
/// ```
///
/// # Errors
/// The `getrlimit`/`setrlimit` error.
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    sys::raise_open_file_limit()
}

/// Starts I/O thread `name` running `body`, which sets the thread up, says through the
/// function it is given whether that worked, and then (set up) runs its loop; the set-up's
/// error comes back here, after the thread ended.
#[cfg(target_os = "linux")]
fn spawn_io_thread(
    name: String,
    body: impl FnOnce(&dyn Fn(std::io::Result<()>)) + Send + 'static,
) -> std::io::Result<JoinHandle<()>> {
    let (ready_tx, ready) = std::sync::mpsc::sync_channel(1);
    let t = std::thread::Builder::new().name(name).spawn(move || {
        body(&|r| {
            let _ = ready_tx.send(r);
        })
    })?;
    match ready.recv() {
        Ok(Ok(())) => Ok(t),
        Ok(Err(e)) => {
            let _ = t.join();
            Err(e)
        }
        Err(_) => {
            let _ = t.join();
            Err(std::io::Error::other("the I/O thread ended while starting"))
        }
    }
}

/// One I/O thread's state; everything per packet is preallocated here.
struct IoThread {
    config: BatchConfig,
    slots: Vec<Slot>,
    counters: Arc<[Counters]>,
    stop: Arc<AtomicBool>,
    poller: sys::Poller,
    rx: sys::Batch,
    tx: sys::Batch,
}

impl IoThread {
    fn new(
        config: BatchConfig,
        slots: Vec<Slot>,
        counters: Arc<[Counters]>,
        stop: Arc<AtomicBool>,
    ) -> Result<IoThread, TransportError> {
        let mut poller = sys::Poller::new(slots.len())?;
        for (i, s) in slots.iter().enumerate() {
            poller.add(&s.socket, i as u64)?;
        }
        let rx = sys::Batch::new(config.batch, config.max_datagram);
        let tx = sys::Batch::new(config.batch, config.max_datagram);
        Ok(IoThread { config, slots, counters, stop, poller, rx, tx })
    }

    /// Paced by the cycles ([`CyclePacer`]): sleeps until the next wake-up, reads every
    /// ready socket, sends when the cycle is done.
    fn run(mut self) {
        let clock = self.config.clock.clone();
        let mut pacer = CyclePacer::new(&clock, self.config.cycle_lead.as_nanos() as u64, now_ns());
        let mut schedule = Schedule::new(&self.config);
        while !self.stop.load(Ordering::Acquire) {
            sys::sleep_ns(pacer.wake_at().saturating_sub(now_ns()));
            let ready = self.poller.wait(0);
            for k in 0..ready {
                let i = self.poller.ready(k) as usize;
                self.receive(i);
            }
            let now = now_ns();
            if pacer.on_wake(now, clock.finished()) {
                self.send_all();
            }
            if schedule.housekeeping_due(now) {
                let_go_of_silent_peers(&self.config, &mut self.slots, now);
            }
        }
        self.send_all();
    }

    /// Reads socket slot `i` until it is empty or has had its share.
    fn receive(&mut self, i: usize) {
        let Some(slot) = self.slots.get_mut(i) else { return };
        let c = &self.counters[slot.index];
        let max = self.config.batch;
        for _ in 0..self.config.max_reads {
            let n = self.rx.recv(&slot.socket, max);
            if n == 0 {
                return;
            }
            add(&c.received, n as u64);
            let now = now_ns();
            for j in 0..n {
                let (data, from) = self.rx.received(j);
                on_datagram(&self.config, slot, c, data, from, now);
            }
            if n < max {
                return;
            }
        }
    }

    /// Drains every send ring.
    fn send_all(&mut self) {
        for slot in &mut self.slots {
            let c = &self.counters[slot.index];
            loop {
                let mut n = 0;
                while n < self.config.batch {
                    let Some(len) = write_next(slot, c, self.tx.buffer(n)) else { break };
                    self.tx.set_outgoing(n, len, if slot.connected { None } else { slot.peer });
                    n += 1;
                }
                if n == 0 {
                    break;
                }
                let sent = self.tx.send(&slot.socket, n, |_| {});
                add(&c.sent, sent as u64);
                add(&c.send_errors, (n - sent) as u64);
                if n < self.config.batch {
                    break;
                }
            }
        }
    }
}

/// What one datagram read from `slot`'s socket does: checked (RTP, payload type, source),
/// latched onto, counted, and pushed into the slot's packet input. Every backend's threads
/// call it.
fn on_datagram(
    config: &BatchConfig,
    slot: &mut Slot,
    c: &Counters,
    data: Option<&[u8]>,
    from: Option<SocketAddr>,
    now: u64,
) {
    let (Some(data), Some(from)) = (data, from) else {
        // Truncated (longer than max_datagram) or from an address family we cannot read.
        add(&c.malformed, 1);
        return;
    };
    let Ok(ReceivedRtp { meta, payload, .. }) = slot.ext.parse(data, now) else {
        add(&c.malformed, 1);
        return;
    };
    if let Some(h) = slot.heard.as_deref() {
        if let Some(s) = h.ssrcs.get(slot.mixer_port) {
            s.store(1 << 32 | u64::from(meta.ssrc), Ordering::Relaxed);
        }
    }
    if !config.payload_types.is_empty() && !config.payload_types.contains(&meta.payload_type) {
        add(&c.wrong_payload_type, 1);
        return;
    }
    if slot.peer != Some(from) {
        if slot.latched {
            add(&c.foreign, 1);
            return;
        }
        if slot.peer.is_some() {
            add(&c.relatches, 1);
        }
        slot.peer = Some(from);
    }
    if !slot.latched {
        slot.latched = true;
        add(&c.latches, 1);
        if config.connect_on_latch {
            slot.connected = sys::connect(&slot.socket, from);
        }
    }
    slot.last_rx_ns = now;
    match slot.rx.push(meta, payload) {
        Ok(()) => add(&c.delivered, 1),
        Err(_) => add(&c.dropped, 1),
    }
}

/// Pops `slot`'s next packet to send and writes it (RTP header, its extensions, payload)
/// into `buf`; its length, or `None` when the ring is empty. A packet with no peer to go
/// to is counted `not_sent`, one that does not fit `send_errors`, and the next is taken.
fn write_next(slot: &mut Slot, c: &Counters, buf: &mut [u8]) -> Option<usize> {
    let Slot { tx, peer, heard, ext, mixer_port, .. } = slot;
    loop {
        // Read in place (a kernel room's packets are not copied into a pooled packet).
        let written = tx.pop_with(|meta, payload| {
            peer.is_some().then(|| match (heard.as_deref(), ext.csrc_audio_level) {
                (Some(h), Some(_)) => ext.write_mixed(meta, &h.sources_for(*mixer_port), payload, buf),
                _ => ext.write(meta, payload, buf),
            })
        })?;
        match written {
            None => add(&c.not_sent, 1),
            Some(Ok(len)) => return Some(len),
            Some(Err(_)) => add(&c.send_errors, 1),
        }
    }
}

/// The housekeeping schedule every backend's loop keeps: silent peers looked for a few
/// times per `relatch_after` (at most once a second).
struct Schedule {
    housekeeping_ns: u64,
    next_housekeeping: u64,
}

impl Schedule {
    fn new(config: &BatchConfig) -> Schedule {
        let housekeeping_ns = (config.relatch_after.as_nanos() as u64 / 4).clamp(1_000_000, 1_000_000_000);
        Schedule { housekeeping_ns, next_housekeeping: now_ns() + housekeeping_ns }
    }

    /// Whether the look for silent peers is due at `now` (and schedules the next one).
    fn housekeeping_due(&mut self, now: u64) -> bool {
        if now < self.next_housekeeping {
            return false;
        }
        self.next_housekeeping = now + self.housekeeping_ns;
        true
    }
}

/// Lets go of peers silent for `relatch_after`: the next valid source latches.
fn let_go_of_silent_peers(config: &BatchConfig, slots: &mut [Slot], now: u64) {
    let after = config.relatch_after.as_nanos() as u64;
    for slot in slots {
        if slot.latched && now.saturating_sub(slot.last_rx_ns) >= after {
            slot.latched = false;
            if slot.connected {
                sys::disconnect(&slot.socket);
                slot.connected = false;
            }
        }
    }
}

mod cycle_pace;
#[cfg(test)]
mod tests;
