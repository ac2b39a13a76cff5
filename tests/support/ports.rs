//! Loopback sockets for tests that bind them.
// Each test binary uses what it needs of these.
#![allow(dead_code)]

use std::net::UdpSocket;

/// A free even port whose odd neighbour is free too (RTP, RTCP).
pub fn free_pair() -> u16 {
    for _ in 0..100 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p % 2 == 0 && p < 65000 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

/// `n` non-blocking sockets on loopback: the phones of a room's legs.
pub fn phones(n: usize) -> Vec<UdpSocket> {
    (0..n)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect()
}
