//! [`UdpTransport`]: RTP and RTCP of one session over std UDP sockets, served by the I/O
//! threads of an [`IoPool`].
//!
//! A transport binds its sockets (RTP, and RTCP on the next port unless muxed only) at
//! [`UdpTransport::bind_in`]; [`Transport::start`] hands them, the session's ring ends and
//! the state it shares with the control side to the pool, whose threads run the stream's
//! logic (`stream.rs`: symmetric RTP, RTCP SR/RR/SDES/XR/BYE and round trip,
//! RFC 4733 DTMF both ways, hold, the Opus clock map, counters) with batched system calls;
//! [`Transport::stop`] has the pool finish it (last packets, RTCP BYE) and waits for that.
//! A [`MediaEngine`](crate::session::MediaEngine) keeps one pool for all its sessions;
//! [`UdpTransport::bind`] gives a transport a pool of its own (one thread).

use super::io_pool::{IoPool, IoPoolConfig};
use super::stream::{Shared, Stream};
use super::{MediaLink, Remote, StreamParams, Transport, TransportError, TransportStats};
use crate::engine::rt::now_ns;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Settings of a [`UdpTransport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpConfig {
    /// Local RTP address (port 0: any free even/odd pair).
    pub local: SocketAddr,
    /// Also bind RTCP on the RTP port + 1 (off: RTCP only muxed).
    pub rtcp_socket: bool,
    /// Mean time between RTCP reports.
    pub rtcp_interval: Duration,
    /// The sweep interval of the pool [`UdpTransport::bind`] starts for the transport (how
    /// long a packet from the graph may wait before it is sent); a shared pool has its own
    /// ([`IoPoolConfig::sweep_interval`]).
    pub poll_interval: Duration,
}

impl UdpConfig {
    /// RTP on `local`, RTCP on its port + 1, a report every 5 s, 1 ms polling.
    pub fn new(local: SocketAddr) -> Self {
        UdpConfig {
            local,
            rtcp_socket: true,
            rtcp_interval: Duration::from_secs(5),
            poll_interval: Duration::from_millis(1),
        }
    }
}

/// How long [`Transport::stop`] waits for the pool to finish the stream.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// RTP/RTCP over UDP; see the [module docs](self).
///
/// ```
/// use rvoip_media_core::transport::{Transport, UdpConfig, UdpTransport};
/// let t = UdpTransport::bind(UdpConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
/// assert_ne!(t.local_addr().port(), 0);
/// assert_eq!(t.local_rtcp_addr().unwrap().port(), t.local_addr().port() + 1);
/// ```
pub struct UdpTransport {
    config: UdpConfig,
    /// The sockets until started.
    sockets: Option<(UdpSocket, Option<UdpSocket>)>,
    local: SocketAddr,
    local_rtcp: Option<SocketAddr>,
    shared: Arc<Shared>,
    pool: Arc<IoPool>,
    /// The pool thread serving the stream once started.
    thread: usize,
    started: bool,
    stopped: bool,
}

fn bind_pair(config: &UdpConfig) -> std::io::Result<(UdpSocket, Option<UdpSocket>)> {
    if !config.rtcp_socket {
        return Ok((UdpSocket::bind(config.local)?, None));
    }
    if config.local.port() != 0 {
        let rtp = UdpSocket::bind(config.local)?;
        let mut r = config.local;
        r.set_port(config.local.port().wrapping_add(1));
        return Ok((rtp, Some(UdpSocket::bind(r)?)));
    }
    // Any free pair: bind RTP anywhere, then try its port + 1.
    let mut last = None;
    for _ in 0..32 {
        let rtp = UdpSocket::bind(config.local)?;
        let mut r = rtp.local_addr()?;
        if r.port() == u16::MAX {
            continue;
        }
        r.set_port(r.port() + 1);
        match UdpSocket::bind(r) {
            Ok(rtcp) => return Ok((rtp, Some(rtcp))),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free RTP/RTCP port pair")))
}

impl UdpTransport {
    /// Binds the sockets, with a pool of one I/O thread of its own (nothing is sent or
    /// received until [`Transport::start`]).
    ///
    /// # Errors
    /// [`TransportError::Io`] when an address is taken or invalid, or the thread cannot start.
    pub fn bind(config: UdpConfig) -> Result<UdpTransport, TransportError> {
        let pool = IoPool::start(IoPoolConfig { sweep_interval: config.poll_interval, ..IoPoolConfig::default() })?;
        Self::bind_in(&pool, config)
    }

    /// Binds the sockets; `pool`'s threads serve them once started.
    ///
    /// # Errors
    /// [`TransportError::Io`] when an address is taken or invalid.
    ///
    /// ```
    /// use rvoip_media_core::transport::{IoPool, IoPoolConfig, Transport, UdpConfig, UdpTransport};
    /// let pool = IoPool::start(IoPoolConfig::default()).unwrap();
    /// let t = UdpTransport::bind_in(&pool, UdpConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    /// assert_eq!(pool.streams(), 0); // served from `start` on
    /// ```
    pub fn bind_in(pool: &Arc<IoPool>, config: UdpConfig) -> Result<UdpTransport, TransportError> {
        let (rtp, rtcp) = bind_pair(&config)?;
        rtp.set_nonblocking(true)?;
        if let Some(r) = &rtcp {
            r.set_nonblocking(true)?;
        }
        let local = rtp.local_addr()?;
        let local_rtcp = rtcp.as_ref().map(|s| s.local_addr()).transpose()?;
        Ok(UdpTransport {
            config,
            sockets: Some((rtp, rtcp)),
            local,
            local_rtcp,
            shared: Shared::new(),
            pool: pool.clone(),
            thread: 0,
            started: false,
            stopped: false,
        })
    }

    /// The local RTCP address (none when bound without an RTCP socket).
    pub fn local_rtcp_addr(&self) -> Option<SocketAddr> {
        self.local_rtcp
    }
}

impl Transport for UdpTransport {
    fn local_addr(&self) -> SocketAddr {
        self.local
    }

    fn start(&mut self, link: MediaLink, params: StreamParams, remote: Remote) -> Result<(), TransportError> {
        if self.stopped {
            return Err(TransportError::State("stopped"));
        }
        let Some((rtp, rtcp)) = self.sockets.take() else { return Err(TransportError::State("already started")) };
        {
            let mut s = self.shared.lock();
            s.set_remote(remote);
            s.set_params(params);
        }
        let stream = Stream::new(rtp, rtcp, self.shared.clone(), link, self.config.rtcp_interval, now_ns());
        self.thread = self.pool.add(stream);
        self.started = true;
        Ok(())
    }

    fn set_remote(&self, remote: Remote) {
        self.shared.lock().set_remote(remote);
    }

    fn set_params(&self, params: StreamParams) {
        self.shared.lock().set_params(params);
    }

    fn send_dtmf(&self, event: u8, duration_ms: u32) -> Result<(), TransportError> {
        if self.shared.lock().queue_dtmf(event, duration_ms) {
            Ok(())
        } else {
            Err(TransportError::State("no telephone-event payload type negotiated"))
        }
    }

    fn set_sending(&self, on: bool) {
        self.shared.sending.store(on, Ordering::Relaxed);
    }

    fn stats(&self) -> TransportStats {
        self.shared.lock().stats()
    }

    fn stop(&mut self) -> Result<(), TransportError> {
        if !self.started || self.stopped {
            return Err(TransportError::State("not started"));
        }
        self.stopped = true;
        self.shared.stop.store(true, Ordering::Release);
        self.pool.wake(self.thread);
        if self.shared.wait_finished(STOP_TIMEOUT) {
            Ok(())
        } else {
            Err(TransportError::State("I/O thread did not finish the stream"))
        }
    }
}

impl Drop for UdpTransport {
    fn drop(&mut self) {
        if self.started && !self.stopped {
            let _ = self.stop();
        }
    }
}
