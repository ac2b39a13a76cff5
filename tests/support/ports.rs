//! Loopback ports for tests that bind sockets.

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
