//! [`BatchIo`] over loopback, with an echo graph: each socket's packet input wired straight to
//! its packet output, so what a peer sends comes back to it from the same socket.

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
    let cfg = EngineConfig { ring_capacity: ring, packets_per_cycle: 64, ..EngineConfig::default() };
    let (engine, driver) = Engine::driven(cfg).unwrap();
    let mut b = GraphBuilder::new(Quantum::MS_10);
    let rx: Vec<_> = (0..n).map(|i| b.add_input(format!("e{i}.rx"), PortKind::Packet(PCMU))).collect();
    let tx: Vec<_> = (0..n).map(|i| b.add_output(format!("e{i}.tx"), PortKind::Packet(PCMU))).collect();
    for (i, r) in rx.iter().enumerate() {
        b.connect(*r, 0, tx[to(i)], 0).unwrap();
    }
    let mut part = engine.add_partition(b.build().unwrap()).unwrap();
    let mut io = BatchIo::new(config);
    for i in 0..n {
        // Bound to an explicit port, as a bridge's are: a kernel-chosen port is given back
        // when a connected socket lets go of its peer.
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let s = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        let rx = part.io.take_packet_in(&format!("e{i}.rx")).unwrap();
        let tx = part.io.take_packet_out(&format!("e{i}.tx")).unwrap();
        assert_eq!(io.add(s, rx, tx).unwrap(), i);
    }
    let addrs = (0..n).map(|i| io.local_addr(i).unwrap()).collect();
    (engine, driver, io.start().unwrap(), addrs)
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

#[test]
fn echoes_to_the_latched_peer_and_counts_every_datagram() {
    let config = BatchConfig { payload_types: vec![0], ..BatchConfig::default() };
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

#[test]
fn another_source_is_foreign_until_the_peer_falls_silent_then_relatches() {
    let config =
        BatchConfig { connect_on_latch: false, relatch_after: Duration::from_millis(100), ..BatchConfig::default() };
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

#[test]
fn connected_sockets_relatch_too() {
    let config = BatchConfig { relatch_after: Duration::from_millis(100), ..BatchConfig::default() };
    let (_engine, mut driver, io, addrs) = echo(1, config, 16);
    let (a, b) = (peer(), peer());
    a.send_to(&rtp(0, 1), addrs[0]).unwrap();
    assert_eq!(received_seqs(&a, &mut driver, Duration::from_millis(50)), vec![1]);
    std::thread::sleep(Duration::from_millis(300));
    b.send_to(&rtp(0, 2), addrs[0]).unwrap();
    assert_eq!(received_seqs(&b, &mut driver, Duration::from_millis(50)), vec![2]);
    assert_eq!((io.stats().latches, io.stats().relatches), (2, 1));
}

#[test]
fn a_flood_fills_its_own_ring_and_is_counted() {
    // Ring of 4, nobody draining it: the first 4 packets are delivered, the rest dropped.
    let (_engine, _driver, io, addrs) = echo(2, BatchConfig::default(), 4);
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

#[test]
fn nothing_is_sent_before_a_peer_is_known() {
    // Socket 0's packets leave from socket 1 and the other way round.
    let (_engine, mut driver, io, addrs) = wired(2, BatchConfig::default(), 16, |i| 1 - i);
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

#[test]
fn settings_that_cannot_run_are_refused() {
    for config in [
        BatchConfig { threads: 0, ..BatchConfig::default() },
        BatchConfig { batch: 0, ..BatchConfig::default() },
        BatchConfig { max_reads: 0, ..BatchConfig::default() },
        BatchConfig { max_datagram: 11, ..BatchConfig::default() },
    ] {
        assert!(matches!(BatchIo::new(config).start(), Err(TransportError::State(_))));
    }
}

#[test]
fn sockets_are_dealt_over_threads() {
    let config = BatchConfig { threads: 3, ..BatchConfig::default() };
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
