//! The batch I/O thread allocates nothing per packet: a live room of eight G.711 legs over
//! loopback, peers sending 50 packets a second each (one of them flooding, one malformed
//! datagram in the middle), and the `rvoip-batch-io-0` thread's allocations and frees are
//! counted over a second of traffic after start-up: none, on each backend (epoll, io_uring
//! where the kernel allows it, and the packet ring where the process may open packet and raw
//! sockets), paced by the worker's cycles and by a free grid.

#![cfg(target_os = "linux")]

use rvoip_media_core::conference::{LegMedia, Room};
use rvoip_media_core::engine::CycleClock;
use rvoip_media_core::prelude::*;
use rvoip_media_core::rtp::write_rtp;
use rvoip_media_core::transport::batch::{io_uring_support, packet_ring_support, IoBackend};
use rvoip_media_core::transport::{BatchConfig, BatchIo};
use rvoip_media_nodes::G711Law;
use std::net::UdpSocket;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[path = "support/worker_alloc.rs"]
mod worker_alloc;
use worker_alloc::{tid_of, watch_thread, WorkerCounting, WATCHED_ALLOCS, WATCHED_FREES};

#[global_allocator]
static ALLOC: WorkerCounting = WorkerCounting;

fn packet(k: usize, ssrc: u32) -> Vec<u8> {
    let meta =
        PacketMeta { payload_type: 0, sequence: k as u16, timestamp: (k * 160) as u32, ssrc, ..Default::default() };
    let mut out = vec![0u8; 172];
    let n = write_rtp(&meta, &[0x55; 160], &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn the_io_thread_allocates_nothing_per_packet() {
    // One after the other: the watched thread and its counters are process-wide.
    for workers_clock in [true, false] {
        allocates_nothing_per_packet(IoBackend::Epoll, workers_clock);
        match io_uring_support() {
            Ok(()) => allocates_nothing_per_packet(IoBackend::IoUring, workers_clock),
            Err(e) => eprintln!("io_uring part skipped: unavailable here ({e})"),
        }
        match packet_ring_support() {
            Ok(()) => allocates_nothing_per_packet(IoBackend::PacketRing, workers_clock),
            Err(e) => eprintln!("packet ring part skipped: unavailable here ({e})"),
        }
    }
}

fn allocates_nothing_per_packet(backend: IoBackend, workers_clock: bool) {
    let config = EngineConfig { workers: 1, pin_workers: false, realtime: None, ..EngineConfig::default() };
    let engine = Engine::start(config).unwrap();
    let mut room = Room::new(&engine, AudioFormat::mono(8000), 8).unwrap();
    let legs = (0..8).map(|i| (format!("p{i}"), LegMedia::g711(G711Law::Ulaw, 20_000, i)));
    let mut io = room.join_many(&engine, legs).unwrap().io;
    let clock =
        if workers_clock { engine.cycle_clock(0).unwrap() } else { CycleClock::free(Duration::from_millis(10)) };
    let mut batch = BatchIo::new(BatchConfig { payload_types: vec![0], backend, clock, ..BatchConfig::default() });
    for i in 0..8 {
        let port = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let socket = UdpSocket::bind(("127.0.0.1", port)).unwrap();
        let rx = io.take_packet_in(&format!("p{i}.rx")).unwrap();
        let tx = io.take_packet_out(&format!("p{i}.tx")).unwrap();
        batch.add(socket, rx, tx).unwrap();
    }
    let addrs: Vec<_> = (0..8).map(|i| batch.local_addr(i).unwrap()).collect();
    let running = batch.start().unwrap();
    assert_eq!(running.backend(), backend);
    let (allocs0, frees0) = (WATCHED_ALLOCS.load(Ordering::SeqCst), WATCHED_FREES.load(Ordering::SeqCst));
    let peers: Vec<UdpSocket> = (0..8).map(|_| UdpSocket::bind("127.0.0.1:0").unwrap()).collect();
    for p in &peers {
        p.set_nonblocking(true).unwrap();
    }
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    let mut before = None;
    for k in 0..75 {
        if k == 25 {
            // Latched and running for half a second: watch the I/O thread from here.
            let tid = tid_of("rvoip-batch-io").expect("the I/O thread");
            before = Some(running.stats());
            watch_thread(tid);
        }
        for (i, p) in peers.iter().enumerate() {
            p.send_to(&packet(k, i as u32), addrs[i]).unwrap();
            while p.recv(&mut buf).is_ok() {}
        }
        for j in 0..10 {
            peers[7].send_to(&packet(1000 + k * 10 + j, 7), addrs[7]).unwrap();
        }
        if k == 40 {
            peers[3].send_to(&[0x80, 0, 1], addrs[3]).unwrap();
        }
        let next = start + Duration::from_millis(20 * (k as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    watch_thread(0);
    let (before, after) = (before.unwrap(), running.stats());
    // The window saw real traffic: receives, ring drops from the flood, the malformed
    // datagram and sends.
    assert!(after.received - before.received >= 8 * 50, "{before:?} {after:?}");
    assert!(after.sent - before.sent >= 8 * 40, "{before:?} {after:?}");
    assert!(after.dropped > before.dropped, "{before:?} {after:?}");
    assert_eq!(after.malformed - before.malformed, 1);
    let allocs = WATCHED_ALLOCS.load(Ordering::SeqCst) - allocs0;
    let frees = WATCHED_FREES.load(Ordering::SeqCst) - frees0;
    assert_eq!((allocs, frees), (0, 0), "{backend:?}, paced by the worker's cycles: {workers_clock}");
    running.stop().unwrap();
}
