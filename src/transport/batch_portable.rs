//! [`super::BatchIo`] without Linux's batched calls: non-blocking `recv_from` / `send_to`, one
//! datagram per call, every socket looked at after each wait.

use super::Slot;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Sleeps, then reports every socket as ready (a read of an empty one returns nothing).
pub(super) struct Poller {
    sockets: usize,
}

impl Poller {
    pub(super) fn new(slots: &[Slot]) -> io::Result<Poller> {
        Ok(Poller { sockets: slots.len() })
    }

    pub(super) fn wait(&mut self, timeout_ns: u64) -> usize {
        sleep_ns(timeout_ns.clamp(100_000, 1_000_000));
        self.sockets
    }

    pub(super) fn ready(&self, k: usize) -> usize {
        k
    }
}

/// Preallocated datagram buffers.
pub(super) struct Batch {
    bufs: Vec<u8>,
    size: usize,
    lens: Vec<usize>,
    addrs: Vec<Option<SocketAddr>>,
}

impl Batch {
    pub(super) fn new(n: usize, size: usize) -> Batch {
        Batch { bufs: vec![0; n * (size + 1)], size, lens: vec![0; n], addrs: vec![None; n] }
    }

    pub(super) fn recv(&mut self, socket: &UdpSocket, max: usize) -> usize {
        let stride = self.size + 1;
        let max = max.clamp(1, self.lens.len());
        for j in 0..max {
            // One byte more than the largest datagram, to see truncation.
            match socket.recv_from(&mut self.bufs[j * stride..(j + 1) * stride]) {
                Ok((len, from)) => {
                    self.lens[j] = len;
                    self.addrs[j] = Some(from);
                }
                Err(_) => return j,
            }
        }
        max
    }

    pub(super) fn received(&self, j: usize) -> (Option<&[u8]>, Option<SocketAddr>) {
        let stride = self.size + 1;
        let len = self.lens[j];
        ((len <= self.size).then(|| &self.bufs[j * stride..j * stride + len]), self.addrs[j])
    }

    pub(super) fn buffer(&mut self, j: usize) -> &mut [u8] {
        let stride = self.size + 1;
        &mut self.bufs[j * stride..j * stride + self.size]
    }

    pub(super) fn set_outgoing(&mut self, j: usize, len: usize, to: Option<SocketAddr>) {
        self.lens[j] = len;
        self.addrs[j] = to;
    }

    pub(super) fn send(&mut self, socket: &UdpSocket, n: usize) -> usize {
        let stride = self.size + 1;
        let mut sent = 0;
        for j in 0..n {
            let data = &self.bufs[j * stride..j * stride + self.lens[j]];
            let r = match self.addrs[j] {
                Some(to) => socket.send_to(data, to),
                None => socket.send(data),
            };
            sent += usize::from(r.is_ok());
        }
        sent
    }
}

/// Not connected here: sends name their destination.
pub(super) fn connect(_socket: &UdpSocket, _to: SocketAddr) -> bool {
    false
}

pub(super) fn disconnect(_socket: &UdpSocket) {}

pub(super) fn sleep_ns(ns: u64) {
    std::thread::sleep(Duration::from_nanos(ns));
}

pub(super) fn raise_open_file_limit() -> io::Result<u64> {
    Ok(u64::from(u32::MAX))
}
