//! [`BatchIo`] over loopback, with an echo graph: each socket's packet input wired straight to
//! its packet output, so what a peer sends comes back to it from the same socket. Every test
//! runs on every backend (`epoll::*`, `io_uring::*` and `packet_ring::*`; the latter two
//! skip, saying so, where unavailable), and `ring::*` tests the io_uring backend's buffer
//! handling.

use super::*;
use crate::engine::{Driver, Engine, EngineConfig};
use crate::rtp::{parse_rtp, write_rtp};
use rvoip_media_graph::{GraphBuilder, PacketFormat, PacketMeta, PortKind, Quantum};
use std::time::Instant;

const PCMU: PacketFormat = PacketFormat { encoding: "PCMU", clock_rate: 8000, channels: 1 };

/// A driven engine with `n` echo legs `e{i}.rx -> e{i}.tx`, served by a [`BatchIo`].
fn echo(n: usize, config: BatchConfig, ring: usize) -> (Engine, Driver, BatchIoHandle, Vec<SocketAddr>) {
    wired(n, config, ring, |i| i)
}

/// As [`echo`], with `e{i}.rx -> e{to(i)}.tx`.
fn wired(
    n: usize,
    config: BatchConfig,
    ring: usize,
    to: impl Fn(usize) -> usize,
) -> (Engine, Driver, BatchIoHandle, Vec<SocketAddr>) {
    let (engine, driver) = Engine::driven(engine_config(ring)).unwrap();
    let (io, addrs) = serve(&engine, n, config, to);
    (engine, driver, io, addrs)
}

fn engine_config(ring: usize) -> EngineConfig {
    EngineConfig { ring_capacity: ring, packets_per_cycle: 64, ..EngineConfig::default() }
}

/// Adds the graph `e{i}.rx -> e{to(i)}.tx` to `engine` and serves its `n` legs by a
/// [`BatchIo`] on `config`; the sockets' addresses.
fn serve(
    engine: &Engine,
    n: usize,
    config: BatchConfig,
    to: impl Fn(usize) -> usize,
) -> (BatchIoHandle, Vec<SocketAddr>) {
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let rx: Vec<_> = (0..n).map(|i| b.add_input(format!("e{i}.rx"), PortKind::Packet(PCMU))).collect();
    let tx: Vec<_> = (0..n).map(|i| b.add_output(format!("e{i}.tx"), PortKind::Packet(PCMU))).collect();
    for (i, r) in rx.iter().enumerate() {
        b.connect(*r, 0, tx[to(i)], 0).unwrap();
    }
    let mut part = engine.add_partition(b.build().unwrap()).unwrap();
    let backend = config.backend;
    let mut io = BatchIo::new(config);
    for i in 0..n {
        // Bound to an explicit port, as a bridge's are: a kernel-chosen port is given back
        // when a connected socket lets go of its peer.
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let s = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        // Room for a burst of a few hundred datagrams (the burst test sends 200 at once).
        set_receive_buffer(&s, 1 << 20);
        let rx = part.io.take_packet_in(&format!("e{i}.rx")).unwrap();
        let tx = part.io.take_packet_out(&format!("e{i}.tx")).unwrap();
        assert_eq!(io.add(s, rx, tx).unwrap(), i);
    }
    let addrs = (0..n).map(|i| io.local_addr(i).unwrap()).collect();
    let io = io.start().unwrap();
    if backend != IoBackend::Auto {
        assert_eq!(io.backend(), backend);
    }
    (io, addrs)
}

fn set_receive_buffer(s: &UdpSocket, bytes: i32) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid socket and a valid int for the duration of the call.
        let r = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&bytes as *const i32).cast(),
                std::mem::size_of::<i32>() as u32,
            )
        };
        assert_eq!(r, 0);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (s, bytes);
}

fn rtp(pt: u8, seq: u16) -> Vec<u8> {
    let meta =
        PacketMeta { payload_type: pt, sequence: seq, timestamp: u32::from(seq) * 160, ssrc: 77, ..Default::default() };
    let mut buf = vec![0u8; 172];
    let n = write_rtp(&meta, &[0x55; 160], &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn peer() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    s
}

/// Waits until `f` holds (the I/O thread works on its own time), at most 3 s.
fn until(mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// Sequence numbers of what `s` receives within `d`.
fn received_seqs(s: &UdpSocket, driver: &mut Driver, d: Duration) -> Vec<u16> {
    let t = Instant::now();
    let mut seqs = Vec::new();
    let mut buf = [0u8; 1500];
    s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    while t.elapsed() < d {
        driver.process_cycle();
        while let Ok(n) = s.recv(&mut buf) {
            let (meta, payload) = parse_rtp(&buf[..n], 0).unwrap();
            assert_eq!(payload, &[0x55; 160]);
            seqs.push(meta.sequence);
        }
    }
    seqs
}

fn echoes_to_the_latched_peer_and_counts_every_datagram(backend: IoBackend) {
    let config = BatchConfig { payload_types: vec![0], backend, ..BatchConfig::default() };
    let (_engine, mut driver, io, addrs) = echo(2, config, 16);
    let a = peer();
    for seq in 0..3 {
        a.send_to(&rtp(0, seq), addrs[0]).unwrap();
    }
    a.send_to(&[0x80, 0, 1], addrs[0]).unwrap(); // too short for RTP
    a.send_to(&rtp(8, 9), addrs[0]).unwrap(); // PCMA: not accepted
    a.send_to(&[0x81, 200, 0, 1, 0, 0, 0, 1], addrs[0]).unwrap(); // RTCP is not RTP here
    assert!(until(|| io.socket_stats(0).unwrap().received == 6));
    assert_eq!(received_seqs(&a, &mut driver, Duration::from_millis(100)), vec![0, 1, 2]);
    let s = io.socket_stats(0).unwrap();
    assert_eq!(
        s,
        SocketStats {
            received: 6,
            delivered: 3,
            malformed: 2,
            wrong_payload_type: 1,
            sent: 3,
            latches: 1,
            ..Default::default()
        }
    );
    assert_eq!(s.received, s.delivered + s.dropped + s.malformed + s.wrong_payload_type + s.foreign);
    assert_eq!(io.socket_stats(1).unwrap(), SocketStats::default());
    assert_eq!(io.stats(), s);
    io.stop().unwrap();
}

fn another_source_is_foreign_until_the_peer_falls_silent_then_relatches(backend: IoBackend) {
    let config = BatchConfig {
        connect_on_latch: false,
        relatch_after: Duration::from_millis(100),
        backend,
        ..BatchConfig::default()
    };
    let (_engine, mut driver, io, addrs) = echo(1, config, 16);
    let (a, b) = (peer(), peer());
    a.send_to(&rtp(0, 1), addrs[0]).unwrap();
    assert!(until(|| io.stats().latches == 1));
    b.send_to(&rtp(0, 2), addrs[0]).unwrap();
    assert!(until(|| io.stats().foreign == 1));
    assert_eq!(received_seqs(&a, &mut driver, Duration::from_millis(50)), vec![1]);
    assert!(received_seqs(&b, &mut driver, Duration::from_millis(10)).is_empty());
    // A silent for longer than relatch_after: B's next packet latches, and its echo goes to B.
    std::thread::sleep(Duration::from_millis(250));
    b.send_to(&rtp(0, 3), addrs[0]).unwrap();
    assert!(until(|| io.stats().relatches == 1));
    assert_eq!(received_seqs(&b, &mut driver, Duration::from_millis(50)), vec![3]);
    assert!(received_seqs(&a, &mut driver, Duration::from_millis(10)).is_empty());
    let s = io.stats();
    assert_eq!((s.received, s.delivered, s.foreign, s.latches, s.relatches, s.sent), (3, 2, 1, 2, 1, 2));
}

fn connected_sockets_relatch_too(backend: IoBackend) {
    let config = BatchConfig { relatch_after: Duration::from_millis(100), backend, ..BatchConfig::default() };
    let (_engine, mut driver, io, addrs) = echo(1, config, 16);
    let (a, b) = (peer(), peer());
    a.send_to(&rtp(0, 1), addrs[0]).unwrap();
    assert_eq!(received_seqs(&a, &mut driver, Duration::from_millis(50)), vec![1]);
    std::thread::sleep(Duration::from_millis(300));
    b.send_to(&rtp(0, 2), addrs[0]).unwrap();
    assert_eq!(received_seqs(&b, &mut driver, Duration::from_millis(50)), vec![2]);
    assert_eq!((io.stats().latches, io.stats().relatches), (2, 1));
}

fn a_flood_fills_its_own_ring_and_is_counted(backend: IoBackend) {
    // Ring of 4, nobody draining it: the first 4 packets are delivered, the rest dropped.
    let (_engine, _driver, io, addrs) = echo(2, BatchConfig { backend, ..BatchConfig::default() }, 4);
    let (a, b) = (peer(), peer());
    for seq in 0..50 {
        a.send_to(&rtp(0, seq), addrs[0]).unwrap();
    }
    b.send_to(&rtp(0, 7), addrs[1]).unwrap();
    assert!(until(|| io.stats().received == 51));
    let flood = io.socket_stats(0).unwrap();
    assert_eq!((flood.delivered, flood.dropped), (4, 46));
    let other = io.socket_stats(1).unwrap();
    assert_eq!((other.received, other.delivered, other.dropped), (1, 1, 0));
}

fn nothing_is_sent_before_a_peer_is_known(backend: IoBackend) {
    // Socket 0's packets leave from socket 1 and the other way round.
    let (_engine, mut driver, io, addrs) = wired(2, BatchConfig { backend, ..BatchConfig::default() }, 16, |i| 1 - i);
    let (a, b) = (peer(), peer());
    a.send_to(&rtp(0, 1), addrs[0]).unwrap();
    assert!(until(|| io.stats().received == 1));
    assert!(until(|| {
        driver.process_cycle();
        io.socket_stats(1).unwrap().not_sent == 1
    }));
    b.send_to(&rtp(0, 2), addrs[1]).unwrap();
    assert_eq!(received_seqs(&a, &mut driver, Duration::from_millis(50)), vec![2]);
    a.send_to(&rtp(0, 3), addrs[0]).unwrap();
    assert_eq!(received_seqs(&b, &mut driver, Duration::from_millis(50)), vec![3]);
    let (s0, s1) = (io.socket_stats(0).unwrap(), io.socket_stats(1).unwrap());
    assert_eq!((s0.received, s0.sent, s0.not_sent), (2, 1, 0));
    assert_eq!((s1.received, s1.sent, s1.not_sent), (1, 1, 1));
}

fn settings_that_cannot_run_are_refused(backend: IoBackend) {
    for config in [
        BatchConfig { threads: 0, backend, ..BatchConfig::default() },
        BatchConfig { batch: 0, backend, ..BatchConfig::default() },
        BatchConfig { max_reads: 0, backend, ..BatchConfig::default() },
        BatchConfig { max_datagram: 11, backend, ..BatchConfig::default() },
    ] {
        assert!(matches!(BatchIo::new(config).start(), Err(TransportError::State(_))));
    }
}

fn sockets_are_dealt_over_threads(backend: IoBackend) {
    let config = BatchConfig { threads: 3, backend, ..BatchConfig::default() };
    let (_engine, mut driver, io, addrs) = echo(5, config, 16);
    let peers: Vec<UdpSocket> = (0..5).map(|_| peer()).collect();
    for (i, p) in peers.iter().enumerate() {
        p.send_to(&rtp(0, i as u16), addrs[i]).unwrap();
    }
    for (i, p) in peers.iter().enumerate() {
        assert_eq!(received_seqs(p, &mut driver, Duration::from_millis(40)), vec![i as u16]);
    }
    assert_eq!((io.sockets(), io.stats().sent), (5, 5));
}

fn every_socket_gets_exactly_its_own_echoes(backend: IoBackend) {
    // 64 sockets, two packets each: one send sweep carries many sockets' packets.
    let n = 64;
    let (_engine, mut driver, io, addrs) = echo(n, BatchConfig { backend, ..BatchConfig::default() }, 16);
    let peers: Vec<UdpSocket> = (0..n).map(|_| peer()).collect();
    for (i, p) in peers.iter().enumerate() {
        p.set_nonblocking(true).unwrap();
        for k in 0..2 {
            p.send_to(&rtp(0, (2 * i + k) as u16), addrs[i]).unwrap();
        }
    }
    assert!(until(|| io.stats().received == 2 * n as u64));
    let mut got: Vec<Vec<u16>> = vec![Vec::new(); n];
    let mut buf = [0u8; 1500];
    let t = Instant::now();
    while t.elapsed() < Duration::from_millis(300) {
        driver.process_cycle();
        std::thread::sleep(Duration::from_millis(2));
        for (i, p) in peers.iter().enumerate() {
            while let Ok(len) = p.recv(&mut buf) {
                got[i].push(parse_rtp(&buf[..len], 0).unwrap().0.sequence);
            }
        }
    }
    for (i, seqs) in got.iter().enumerate() {
        assert_eq!(seqs, &[2 * i as u16, 2 * i as u16 + 1], "socket {i}");
    }
    let s = io.stop().unwrap();
    assert_eq!((s.received, s.delivered, s.sent, s.send_errors, s.latches), (128, 128, 128, 0, 64));
}

fn a_datagram_longer_than_max_datagram_is_malformed(backend: IoBackend) {
    let config = BatchConfig { max_datagram: 200, backend, ..BatchConfig::default() };
    let (_engine, mut driver, io, addrs) = echo(1, config, 16);
    let a = peer();
    let mut long = rtp(0, 1);
    long.resize(400, 0x55);
    a.send_to(&long, addrs[0]).unwrap();
    a.send_to(&rtp(0, 2), addrs[0]).unwrap();
    assert!(until(|| io.stats().received == 2));
    assert_eq!(received_seqs(&a, &mut driver, Duration::from_millis(60)), vec![2]);
    let s = io.stats();
    assert_eq!((s.received, s.malformed, s.delivered, s.sent), (2, 1, 1, 1));
}

fn a_burst_beyond_the_receive_buffers_is_read_whole_and_counted(backend: IoBackend) {
    // The thread looks every 50 ms (a quarter of its free 200 ms grid), so 200 datagrams
    // wait at once: more than the io_uring backend's 64 receive buffers for one socket (its
    // multishot receive runs out, ends, and is armed again) and than epoll's 4 reads of 32
    // per wake-up. Nobody drains the ring of 4.
    let config = BatchConfig { clock: CycleClock::free(Duration::from_millis(200)), backend, ..BatchConfig::default() };
    let (_engine, _driver, io, addrs) = echo(1, config, 4);
    let a = peer();
    for seq in 0..200 {
        a.send_to(&rtp(0, seq), addrs[0]).unwrap();
    }
    assert!(until(|| io.stats().received == 200), "{:?}", io.stats());
    std::thread::sleep(Duration::from_millis(120));
    let s = io.stats();
    assert_eq!((s.received, s.delivered, s.dropped, s.latches), (200, 4, 196, 1));
}

/// The probe's ring is torn down on a thread of its own: a ring dropped with a multishot
/// receive armed finishes its cancellations as task work on the thread that made it, which
/// interrupts that thread's next blocking call (`EINTR`) — the caller's, had the probe run
/// on it (seen in CI: a doctest's `recv` after `BatchIo::start` failed with "Interrupted
/// system call").
#[test]
fn the_probe_interrupts_none_of_the_callers_blocking_calls() {
    if !io_uring_here() {
        return;
    }
    for round in 0..30 {
        io_uring_support().unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let mut buf = [0u8; 16];
        let e = socket.recv(&mut buf).unwrap_err();
        assert_ne!(e.kind(), std::io::ErrorKind::Interrupted, "round {round}: {e}");
    }
}

fn paced_by_a_workers_cycles_every_packet_comes_back_once(backend: IoBackend) {
    // A running engine (10 ms cycles): the I/O thread collects 2 ms before each cycle and
    // sends once the worker finished it. 32 sockets, 10 packets each, 5 ms apart.
    let config = EngineConfig { workers: 1, pin_workers: false, realtime: None, ..engine_config(16) };
    let engine = Engine::start(config).unwrap();
    let clock = engine.cycle_clock(0).unwrap();
    let n = 32;
    let config = BatchConfig { backend, clock: clock.clone(), ..BatchConfig::default() };
    let (io, addrs) = serve(&engine, n, config, |i| i);
    let peers: Vec<UdpSocket> = (0..n).map(|_| peer()).collect();
    let mut got: Vec<Vec<u16>> = vec![Vec::new(); n];
    let mut buf = [0u8; 1500];
    let mut read = |got: &mut Vec<Vec<u16>>| {
        for (i, p) in peers.iter().enumerate() {
            while let Ok(len) = p.recv(&mut buf) {
                got[i].push(parse_rtp(&buf[..len], 0).unwrap().0.sequence);
            }
        }
    };
    for p in &peers {
        p.set_nonblocking(true).unwrap();
    }
    for k in 0..10u16 {
        for (i, p) in peers.iter().enumerate() {
            p.send_to(&rtp(0, 100 * i as u16 + k), addrs[i]).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
        read(&mut got);
    }
    assert!(until(|| {
        read(&mut got);
        got.iter().map(Vec::len).sum::<usize>() == 10 * n
    }));
    for (i, seqs) in got.iter().enumerate() {
        let want: Vec<u16> = (0..10).map(|k| 100 * i as u16 + k).collect();
        assert_eq!(seqs, &want, "socket {i}");
    }
    assert!(clock.finished().is_some());
    let s = io.stop().unwrap();
    assert_eq!((s.received, s.delivered, s.sent, s.send_errors, s.latches), (320, 320, 320, 0, 32));
}

/// Whether io_uring runs here; says so when it does not.
fn io_uring_here() -> bool {
    match io_uring_support() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipped: io_uring unavailable here ({e})");
            false
        }
    }
}

/// Whether the packet ring runs here; says so when it does not.
fn packet_ring_here() -> bool {
    match packet_ring_support() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("skipped: packet ring unavailable here ({e})");
            false
        }
    }
}

/// `#[test]`s running each named test on epoll (`epoll::NAME`), on io_uring
/// (`io_uring::NAME`) and on the packet ring (`packet_ring::NAME`).
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {
        mod epoll {
            $(#[test]
            fn $name() {
                super::$name(super::IoBackend::Epoll)
            })*
        }
        mod io_uring {
            $(#[test]
            fn $name() {
                if super::io_uring_here() {
                    super::$name(super::IoBackend::IoUring)
                }
            })*
        }
        mod packet_ring {
            $(#[test]
            fn $name() {
                if super::packet_ring_here() {
                    super::$name(super::IoBackend::PacketRing)
                }
            })*
        }
    };
}

on_each_backend!(
    echoes_to_the_latched_peer_and_counts_every_datagram,
    another_source_is_foreign_until_the_peer_falls_silent_then_relatches,
    connected_sockets_relatch_too,
    a_flood_fills_its_own_ring_and_is_counted,
    nothing_is_sent_before_a_peer_is_known,
    settings_that_cannot_run_are_refused,
    sockets_are_dealt_over_threads,
    every_socket_gets_exactly_its_own_echoes,
    a_datagram_longer_than_max_datagram_is_malformed,
    a_burst_beyond_the_receive_buffers_is_read_whole_and_counted,
    paced_by_a_workers_cycles_every_packet_comes_back_once,
);

#[test]
fn auto_runs_the_fastest_backend_this_process_may_use() {
    let (_engine, _driver, io, _) = echo(1, BatchConfig::default(), 4);
    match (packet_ring_support(), io_uring_support()) {
        (Ok(()), _) => assert_eq!((io.backend(), io.fallback_reason()), (IoBackend::PacketRing, None)),
        (Err(p), Ok(())) => {
            assert_eq!(io.backend(), IoBackend::IoUring);
            assert_eq!(io.fallback_reason(), Some(format!("packet ring unavailable: {p}").as_str()));
        }
        (Err(p), Err(e)) => {
            assert_eq!(io.backend(), IoBackend::Epoll);
            let why = format!("packet ring unavailable: {p}; io_uring unavailable: {e}");
            assert_eq!(io.fallback_reason(), Some(why.as_str()));
        }
    }
}

/// Sends `payload` as a UDP datagram from `from` to `to` through a raw socket, one payload
/// bit flipped after its UDP checksum was written: what a damaged packet from the wire looks
/// like (a local UDP socket's datagrams are never checked: the kernel vouches for them).
fn send_with_a_wrong_checksum(from: SocketAddr, to: SocketAddr, payload: &[u8]) {
    let (SocketAddr::V4(from), SocketAddr::V4(to)) = (from, to) else { panic!("IPv4 only") };
    let mut b = vec![0; packet::HEADERS];
    b.extend_from_slice(payload);
    packet::write_udp_headers(&mut b, from, to);
    // One bit changes the one's-complement sum by a power of two: never a correct checksum.
    *b.last_mut().unwrap() ^= 1;
    // SAFETY: plain system calls on a descriptor closed below; the buffers outlive them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW);
        assert!(fd >= 0, "raw socket");
        let mut dst: libc::sockaddr_in = std::mem::zeroed();
        dst.sin_family = libc::AF_INET as u16;
        dst.sin_addr.s_addr = u32::from(*to.ip()).to_be();
        let n = libc::sendto(
            fd,
            b.as_ptr().cast(),
            b.len(),
            0,
            (&dst as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        );
        libc::close(fd);
        assert_eq!(n, b.len() as isize);
    }
}

#[test]
fn the_packet_ring_counts_a_datagram_with_a_wrong_checksum_malformed() {
    if !packet_ring_here() {
        return;
    }
    let config = BatchConfig { payload_types: vec![0], backend: IoBackend::PacketRing, ..BatchConfig::default() };
    let (_engine, mut driver, io, addrs) = echo(1, config, 16);
    let a = peer();
    send_with_a_wrong_checksum(a.local_addr().unwrap(), addrs[0], &rtp(0, 1));
    assert!(until(|| io.socket_stats(0).unwrap().received == 1));
    a.send_to(&rtp(0, 2), addrs[0]).unwrap();
    assert!(until(|| io.socket_stats(0).unwrap().received == 2));
    assert_eq!(received_seqs(&a, &mut driver, Duration::from_millis(100)), vec![2]);
    let s = io.stop().unwrap();
    assert_eq!((s.received, s.malformed, s.delivered, s.sent, s.latches), (2, 1, 1, 1, 1));
}

#[test]
fn the_packet_ring_refuses_ipv6_sockets() {
    let Ok(socket) = UdpSocket::bind("[::1]:0") else {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    };
    let (engine, _driver) = Engine::driven(engine_config(4)).unwrap();
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let rx = b.add_input("e.rx", PortKind::Packet(PCMU));
    let tx = b.add_output("e.tx", PortKind::Packet(PCMU));
    b.connect(rx, 0, tx, 0).unwrap();
    let mut part = engine.add_partition(b.build().unwrap()).unwrap();
    let mut batch = BatchIo::new(BatchConfig { backend: IoBackend::PacketRing, ..BatchConfig::default() });
    batch.add(socket, part.io.take_packet_in("e.rx").unwrap(), part.io.take_packet_out("e.tx").unwrap()).unwrap();
    assert!(matches!(batch.start(), Err(TransportError::State(_))));
}

/// The io_uring backend's [`uring::Ring`] on its own: buffers handed over and back.
#[cfg(target_os = "linux")]
mod ring {
    use super::super::uring::{Event, Ring};
    use super::*;

    /// A datagram carrying `k`.
    fn numbered(k: u32) -> [u8; 40] {
        let mut d = [0xa5u8; 40];
        d[..4].copy_from_slice(&k.to_le_bytes());
        d
    }

    /// Reaps until `f` has seen what it wants (it returns true), at most 3 s.
    fn reap_until(ring: &mut Ring, mut f: impl FnMut(Event<'_>) -> bool) -> bool {
        let t = Instant::now();
        let mut done = false;
        while !done && t.elapsed() < Duration::from_secs(3) {
            ring.wait(1, 20_000_000);
            ring.reap(|e| done |= f(e));
        }
        done
    }

    /// A ring for one socket (64 receive buffers, 64 send entries), the socket, its token
    /// and a peer; `None` where io_uring is unavailable.
    fn one_socket() -> Option<(Ring, UdpSocket, usize, UdpSocket)> {
        if !io_uring_here() {
            return None;
        }
        let mut ring = Ring::new(1, 256).unwrap();
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let token = ring.watch(&s).unwrap();
        Some((ring, s, token, peer()))
    }

    #[test]
    fn receive_buffers_go_back_and_are_reused() {
        // 64 buffers; 640 datagrams in chunks of 16: each buffer is used ten times.
        let Some((mut ring, s, token, p)) = one_socket() else { return };
        let from = p.local_addr().unwrap();
        let mut next = 0u32;
        for chunk in 0..40u32 {
            for k in 0..16 {
                p.send_to(&numbered(chunk * 16 + k), s.local_addr().unwrap()).unwrap();
            }
            let ok = reap_until(&mut ring, |e| match e {
                Event::Datagram { token: t, data: Some(d), from: Some(f) } => {
                    assert_eq!((t, f), (token, from));
                    assert_eq!(d, numbered(next), "datagram {next}");
                    next += 1;
                    next == (chunk + 1) * 16
                }
                _ => panic!("unexpected completion"),
            });
            assert!(ok, "chunk {chunk}: {next} received");
        }
        assert_eq!(next, 640);
    }

    #[test]
    fn send_entries_are_not_reused_before_their_completion() {
        let Some((mut ring, _s, token, p)) = one_socket() else { return };
        // Every one of the 64 entries queued: none is left until completions come back.
        let mut queued = 0u32;
        while let Some(buf) = ring.send_buffer() {
            buf[..40].copy_from_slice(&numbered(queued));
            assert!(ring.queue_send(token, 40, Some(p.local_addr().unwrap())));
            queued += 1;
        }
        assert_eq!((queued, ring.sends_in_flight()), (64, 64));
        assert!(!ring.queue_send(token, 40, Some(p.local_addr().unwrap())));
        let mut ok = 0;
        assert!(reap_until(&mut ring, |e| {
            if let Event::Sent { token: t, ok: true } = e {
                assert_eq!(t, token);
                ok += 1;
            }
            ok == 64
        }));
        assert_eq!(ring.sends_in_flight(), 0);
        let mut seen = [false; 64];
        let mut buf = [0u8; 100];
        for _ in 0..64 {
            let n = p.recv(&mut buf).unwrap();
            assert_eq!(n, 40);
            let k = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
            assert_eq!(&buf[..40], &numbered(k as u32)[..]);
            assert!(!seen[k], "datagram {k} twice");
            seen[k] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn more_sockets_than_the_ring_was_made_for_are_refused() {
        if !io_uring_here() {
            return;
        }
        let mut ring = Ring::new(2, 256).unwrap();
        let sockets: Vec<UdpSocket> = (0..3).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        assert_eq!(ring.watch(&sockets[0]).unwrap(), 0);
        assert_eq!(ring.watch(&sockets[1]).unwrap(), 1);
        assert!(ring.watch(&sockets[2]).is_err());
    }

    #[test]
    fn cancel_all_ends_every_request() {
        if !io_uring_here() {
            return;
        }
        let mut ring = Ring::new(3, 256).unwrap();
        let sockets: Vec<UdpSocket> = (0..3).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
        for s in &sockets {
            ring.watch(s).unwrap();
        }
        ring.wait(1, 1_000_000);
        ring.reap(|_| {});
        assert!(!ring.idle());
        ring.cancel_all();
        let t = Instant::now();
        while !ring.idle() && t.elapsed() < Duration::from_secs(3) {
            ring.wait(1, 20_000_000);
            ring.reap(|_| {});
        }
        assert!(ring.idle());
    }
}
