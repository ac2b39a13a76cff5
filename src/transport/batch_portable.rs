//! [`super::BatchIo`] without Linux's batched calls: non-blocking `recv_from` / `send_to`, one
//! datagram per call, every socket looked at after each wait.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Sleeps, then reports every socket as ready (a read of an empty one returns nothing).
pub(crate) struct Poller {
    tokens: Vec<u64>,
}

impl Poller {
    pub(crate) fn new(_events: usize) -> io::Result<Poller> {
        Ok(Poller { tokens: Vec::new() })
    }

    pub(crate) fn add<S>(&mut self, _socket: &S, token: u64) -> io::Result<()> {
        self.tokens.push(token);
        Ok(())
    }

    pub(crate) fn remove(&mut self, _socket: &UdpSocket, token: u64) {
        self.tokens.retain(|t| *t != token);
    }

    pub(crate) fn wait(&mut self, timeout_ns: u64) -> usize {
        sleep_ns(timeout_ns.clamp(100_000, 1_000_000));
        self.tokens.len()
    }

    pub(crate) fn ready(&self, k: usize) -> u64 {
        self.tokens[k]
    }
}

/// Nothing to wake here: the poller's waits are at most a millisecond.
pub(crate) struct Waker;

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        Ok(Waker)
    }

    pub(crate) fn wake(&self) {}

    pub(crate) fn drain(&self) {}
}

/// Preallocated datagram buffers.
pub(crate) struct Batch {
    bufs: Vec<u8>,
    size: usize,
    lens: Vec<usize>,
    addrs: Vec<Option<SocketAddr>>,
}

impl Batch {
    pub(crate) fn new(n: usize, size: usize) -> Batch {
        Batch { bufs: vec![0; n * (size + 1)], size, lens: vec![0; n], addrs: vec![None; n] }
    }

    pub(crate) fn recv(&mut self, socket: &UdpSocket, max: usize) -> usize {
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

    pub(crate) fn capacity(&self) -> usize {
        self.lens.len()
    }

    pub(crate) fn received(&self, j: usize) -> (Option<&[u8]>, Option<SocketAddr>) {
        let stride = self.size + 1;
        let len = self.lens[j];
        ((len <= self.size).then(|| &self.bufs[j * stride..j * stride + len]), self.addrs[j])
    }

    pub(crate) fn buffer(&mut self, j: usize) -> &mut [u8] {
        let stride = self.size + 1;
        &mut self.bufs[j * stride..j * stride + self.size]
    }

    pub(crate) fn set_outgoing(&mut self, j: usize, len: usize, to: Option<SocketAddr>) {
        self.lens[j] = len;
        self.addrs[j] = to;
    }

    pub(crate) fn send(&mut self, socket: &UdpSocket, n: usize, mut on_sent: impl FnMut(usize)) -> usize {
        let stride = self.size + 1;
        let mut sent = 0;
        for j in 0..n {
            let data = &self.bufs[j * stride..j * stride + self.lens[j]];
            let r = match self.addrs[j] {
                Some(to) => socket.send_to(data, to),
                None => socket.send(data),
            };
            if r.is_ok() {
                on_sent(data.len());
                sent += 1;
            }
        }
        sent
    }
}

/// Not connected here: sends name their destination.
pub(crate) fn connect(_socket: &UdpSocket, _to: SocketAddr) -> bool {
    false
}

pub(crate) fn disconnect(_socket: &UdpSocket) {}

pub(crate) fn sleep_ns(ns: u64) {
    std::thread::sleep(Duration::from_nanos(ns));
}

pub(crate) fn raise_open_file_limit() -> io::Result<u64> {
    Ok(u64::from(u32::MAX))
}
