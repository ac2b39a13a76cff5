//! A loopback UDP relay that impairs what it forwards — drops, delays (so reorders) and
//! duplicates datagrams by a seeded generator — shared by `tests/session_impaired.rs`,
//! `tests/alloc_free_sessions.rs` and `examples/quality_demo.rs`. Sessions send to
//! [`Relay::addr`]; the relay forwards to the destination after the drawn delay.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the relay treats datagrams.
#[derive(Clone, Copy, Debug)]
pub struct Impairment {
    /// Probability that a datagram is dropped (0..1).
    pub loss: f64,
    /// Probability that a loss continues into the next datagram (bursts; 0: independent).
    pub burst: f64,
    /// Delay of every datagram: uniform in `delay_ms.0 ..= delay_ms.1`.
    pub delay_ms: (u32, u32),
    /// Probability that a datagram is forwarded twice.
    pub duplicate: f64,
    /// Generator seed.
    pub seed: u64,
}

impl Impairment {
    /// Nothing lost, delayed or duplicated.
    pub fn clean() -> Self {
        Impairment { loss: 0.0, burst: 0.0, delay_ms: (0, 0), duplicate: 0.0, seed: 1 }
    }

    /// 5 % loss in short bursts, 0–60 ms delay (20 ms packets overtake each other), 3 %
    /// duplicates.
    pub fn moderate(seed: u64) -> Self {
        Impairment { loss: 0.05, burst: 0.3, delay_ms: (0, 60), duplicate: 0.03, seed }
    }
}

/// What the relay did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Datagrams received.
    pub received: u64,
    /// Dropped.
    pub dropped: u64,
    /// Sent (duplicates included).
    pub sent: u64,
    /// Sent after a datagram with a higher RTP sequence number (reordered).
    pub reordered: u64,
    /// Sent twice.
    pub duplicated: u64,
}

/// The relay: a socket on loopback and its thread.
pub struct Relay {
    addr: SocketAddr,
    impairment: Arc<Mutex<Impairment>>,
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<RelayStats>>,
    thread: Option<JoinHandle<()>>,
}

struct Rng(rvoip_media_core::graph::SplitMix64);

impl Rng {
    /// Uniform in `[0, 1)`.
    fn next(&mut self) -> f64 {
        self.0.unit()
    }
}

impl Relay {
    /// A relay forwarding to `to` with `imp`.
    pub fn start(to: SocketAddr, imp: Impairment) -> Relay {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(RelayStats::default()));
        let impairment = Arc::new(Mutex::new(imp));
        let (stop2, stats2, imp2) = (stop.clone(), stats.clone(), impairment.clone());
        let thread = std::thread::spawn(move || {
            let mut rng = Rng(rvoip_media_core::graph::SplitMix64::new(imp.seed));
            let mut queue: Vec<(Instant, Vec<u8>)> = Vec::new();
            let mut buf = [0u8; 2048];
            let mut dropping = false;
            let mut highest: Option<u16> = None;
            while !stop2.load(Ordering::Acquire) {
                if let Ok((n, _)) = sock.recv_from(&mut buf) {
                    let imp = *imp2.lock().unwrap();
                    let mut st = stats2.lock().unwrap();
                    st.received += 1;
                    dropping = if dropping { rng.next() < imp.burst } else { rng.next() < imp.loss };
                    if dropping {
                        st.dropped += 1;
                    } else {
                        let span = f64::from(imp.delay_ms.1.saturating_sub(imp.delay_ms.0));
                        let d = f64::from(imp.delay_ms.0) + rng.next() * span;
                        let due = Instant::now() + Duration::from_micros((d * 1000.0) as u64);
                        queue.push((due, buf[..n].to_vec()));
                        if rng.next() < imp.duplicate {
                            st.duplicated += 1;
                            queue.push((due + Duration::from_millis(5), buf[..n].to_vec()));
                        }
                    }
                }
                let now = Instant::now();
                queue.sort_by_key(|(due, _)| *due);
                while queue.first().is_some_and(|(due, _)| *due <= now) {
                    let (_, p) = queue.remove(0);
                    let mut st = stats2.lock().unwrap();
                    if p.len() >= 4 {
                        let seq = u16::from_be_bytes([p[2], p[3]]);
                        match highest {
                            Some(h) if (seq.wrapping_sub(h) as i16) < 0 => st.reordered += 1,
                            _ => highest = Some(seq),
                        }
                    }
                    if sock.send_to(&p, to).is_ok() {
                        st.sent += 1;
                    }
                }
            }
        });
        Relay { addr, impairment, stop, stats, thread: Some(thread) }
    }

    /// Changes the impairment from the next datagram on (the generator goes on).
    pub fn set(&self, imp: Impairment) {
        *self.impairment.lock().unwrap() = imp;
    }

    /// Where to send.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counts so far.
    pub fn stats(&self) -> RelayStats {
        *self.stats.lock().unwrap()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
