//! [`UdpTransport`]: RTP and RTCP over std UDP sockets, one I/O thread per session.
//!
//! The thread waits in `poll(2)` on the RTP and RTCP sockets for at most
//! [`UdpConfig::poll_interval`] (1 ms by default), then receives everything queued
//! (non-blocking `recv_from` until `WouldBlock`), sends every packet the graph produced, and
//! sends an RTCP report when one is due. Plain `recv_from`/`send_to`, one datagram per
//! system call: batched `recvmmsg`/`sendmmsg` are not used yet (at 50 packets/s per session
//! the syscall count is small next to the codec work; a shared multi-session I/O thread with
//! batching is the next step when sessions number in the thousands).
//!
//! Receiving: a datagram on the RTP socket that looks like RTCP (RFC 5761) is taken as
//! RTCP; otherwise it is parsed ([`parse_rtp`]); a malformed one or an unknown payload type
//! is counted and dropped; the RFC 3550 statistics decide whether it is valid (probation,
//! jumps); valid packets go to the graph's ring stamped with their arrival time. The one
//! packet not confirmed yet is held ([`Held`]) and goes first once the next confirms it,
//! so a call does not lose its first packet. The first
//! valid packet latches the remote under [`Remote::Latch`].
//!
//! Sending: packets from the graph's ring are written with [`write_rtp`] and sent to the
//! remote; on hold ([`Transport::set_sending`]`(false)`) or without a remote they are
//! counted and dropped, while RTCP goes on; the packets sent after them continue the
//! sequence numbers without a gap (the peer counts no loss), the timestamps jump by the
//! time on hold and the first one has the marker bit. RTCP reports go every
//! [`UdpConfig::rtcp_interval`] (randomised by ±50 %, RFC 3550 §6.2) to the RTP remote's
//! port plus one, an explicit address, or the RTP address when muxed; `stop` sends a last
//! report with a BYE.

use super::{MediaLink, Remote, StreamParams, Transport, TransportError, TransportEvent, TransportStats};
use crate::engine::rt::now_ns;
use crate::graph::PacketMeta;
use crate::rtp::hold::MAX_HELD;
use crate::rtp::{
    build_report, is_rtcp, ntp_from_unix_ns, parse_rtcp, parse_rtp, write_rtp, ClockMap, DtmfReceiver, DtmfSender,
    Held, ReceiverStats, RtcpItem, RtcpReport, SenderInfo, SequenceCheck,
};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Settings of a [`UdpTransport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpConfig {
    /// Local RTP address (port 0: any free even/odd pair).
    pub local: SocketAddr,
    /// Also bind RTCP on the RTP port + 1 (off: RTCP only muxed).
    pub rtcp_socket: bool,
    /// Mean time between RTCP reports.
    pub rtcp_interval: Duration,
    /// Longest wait in `poll` before the send ring is looked at again.
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

struct IoState {
    remote: Remote,
    latched: Option<SocketAddr>,
    rtcp_from: Option<SocketAddr>,
    params: StreamParams,
    stats: TransportStats,
    rx: ReceiverStats,
    /// Middle 32 bits of the last SR's NTP time and when it arrived (monotonic ns).
    last_sr: Option<(u32, u64)>,
    /// RTP timestamp, clock rate and monotonic time of the last packet sent.
    last_sent: Option<(u32, u32, u64)>,
    dtmf_tx: DtmfSender,
    dtmf_rx: DtmfReceiver,
    /// Packets from the graph not sent (hold, no remote): subtracted from sequence numbers.
    seq_offset: u16,
    /// A packet was not sent since the last one sent: mark the next.
    resumed: bool,
    /// Received timestamps into the graph's clock (`StreamParams::graph_clock`).
    ts_map: ClockMap,
    /// The packet RFC 3550 A.1 has not confirmed yet.
    held: Held,
}

impl IoState {
    fn remote(&self) -> Option<SocketAddr> {
        match self.remote {
            Remote::Fixed(a) => Some(a),
            Remote::Latch { initial } => self.latched.or(initial),
        }
    }

    fn rtcp_remote(&self) -> Option<SocketAddr> {
        if self.params.rtcp_mux {
            return self.remote();
        }
        if let Some(a) = self.params.remote_rtcp.or(self.rtcp_from) {
            return Some(a);
        }
        self.remote().map(|mut a| {
            a.set_port(a.port().wrapping_add(1));
            a
        })
    }

    fn clock_of(&self, pt: u8) -> Option<u32> {
        let audio = self.params.payload_types.first().map(|(_, c)| *c);
        if self.params.telephone_event == Some(pt) {
            return audio;
        }
        self.params.payload_types.iter().find(|(p, _)| *p == pt).map(|(_, c)| *c)
    }
}

struct Shared {
    stop: AtomicBool,
    sending: AtomicBool,
    state: Mutex<IoState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, IoState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

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
    rtp: Option<UdpSocket>,
    rtcp: Option<UdpSocket>,
    local: SocketAddr,
    local_rtcp: Option<SocketAddr>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    stopped: bool,
    /// A handle on the RTP socket to wake the I/O thread's `poll` at stop (an empty
    /// datagram to ourselves, which the thread never reads as RTP).
    waker: Option<UdpSocket>,
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
    /// Binds the sockets (nothing runs until [`Transport::start`]).
    ///
    /// # Errors
    /// [`TransportError::Io`] when an address is taken or invalid.
    pub fn bind(config: UdpConfig) -> Result<UdpTransport, TransportError> {
        let (rtp, rtcp) = bind_pair(&config)?;
        rtp.set_nonblocking(true)?;
        if let Some(r) = &rtcp {
            r.set_nonblocking(true)?;
        }
        let local = rtp.local_addr()?;
        let waker = rtp.try_clone().ok();
        let local_rtcp = rtcp.as_ref().map(|s| s.local_addr()).transpose()?;
        let state = IoState {
            remote: Remote::Latch { initial: None },
            latched: None,
            rtcp_from: None,
            params: StreamParams {
                ssrc: 0,
                cname: String::new(),
                payload_types: Vec::new(),
                rtcp_mux: false,
                remote_rtcp: None,
                telephone_event: None,
                ptime_ms: 20,
                graph_clock: None,
            },
            stats: TransportStats::default(),
            rx: ReceiverStats::new(8000),
            last_sr: None,
            last_sent: None,
            dtmf_tx: DtmfSender::new(101),
            dtmf_rx: DtmfReceiver::default(),
            seq_offset: 0,
            resumed: false,
            ts_map: ClockMap::new(8000),
            held: Held::new(),
        };
        Ok(UdpTransport {
            config,
            rtp: Some(rtp),
            rtcp,
            local,
            local_rtcp,
            shared: Arc::new(Shared {
                stop: AtomicBool::new(false),
                sending: AtomicBool::new(true),
                state: Mutex::new(state),
            }),
            thread: None,
            stopped: false,
            waker,
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
        let Some(rtp) = self.rtp.take() else { return Err(TransportError::State("already started")) };
        let rtcp = self.rtcp.take();
        {
            let mut s = self.shared.lock();
            s.stats.remote = remote.initial();
            s.remote = remote;
            if let Some(pt) = params.telephone_event {
                s.dtmf_tx = DtmfSender::new(pt);
            }
            s.params = params;
        }
        let shared = self.shared.clone();
        let config = self.config.clone();
        let t = std::thread::Builder::new()
            .name("rvoip-rtp-io".into())
            .spawn(move || IoThread { rtp, rtcp, shared, link, config, buf: vec![0; 2048] }.run())?;
        self.thread = Some(t);
        Ok(())
    }

    fn set_remote(&self, remote: Remote) {
        let mut s = self.shared.lock();
        s.remote = remote;
        s.latched = None;
        s.stats.remote = remote.initial();
    }

    fn set_params(&self, params: StreamParams) {
        let mut s = self.shared.lock();
        if let Some(pt) = params.telephone_event {
            if s.params.telephone_event != Some(pt) {
                s.dtmf_tx = DtmfSender::new(pt);
            }
        }
        s.params = params;
    }

    fn send_dtmf(&self, event: u8, duration_ms: u32) -> Result<(), TransportError> {
        let mut s = self.shared.lock();
        if s.params.telephone_event.is_none() {
            return Err(TransportError::State("no telephone-event payload type negotiated"));
        }
        let clock = s.params.payload_types.first().map_or(8000, |(_, c)| *c);
        let ticks = (u64::from(duration_ms) * u64::from(clock) / 1000).min(u64::from(u32::MAX)) as u32;
        s.dtmf_tx.push(event, ticks);
        Ok(())
    }

    fn set_sending(&self, on: bool) {
        self.shared.sending.store(on, Ordering::Relaxed);
    }

    fn stats(&self) -> TransportStats {
        let s = self.shared.lock();
        let mut stats = s.stats.clone();
        stats.received = s.rx.counters();
        stats.remote = s.remote();
        stats
    }

    fn stop(&mut self) -> Result<(), TransportError> {
        let Some(t) = self.thread.take() else { return Err(TransportError::State("not started")) };
        self.shared.stop.store(true, Ordering::Release);
        self.stopped = true;
        if let Some(w) = &self.waker {
            // Best effort: without it the thread still sees the flag within a poll interval.
            let mut to = self.local;
            if to.ip().is_unspecified() {
                to.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            let _ = w.send_to(&[], to);
        }
        // The thread only waits up to a poll interval; a panic in it is reported as a state error.
        t.join().map_err(|_| TransportError::State("I/O thread panicked"))
    }
}

impl Drop for UdpTransport {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
    }
}

struct IoThread {
    rtp: UdpSocket,
    rtcp: Option<UdpSocket>,
    shared: Arc<Shared>,
    link: MediaLink,
    config: UdpConfig,
    buf: Vec<u8>,
}

/// A small xorshift for the RTCP interval's randomisation.
fn next_random(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

impl IoThread {
    fn run(mut self) {
        let mut events = Vec::new();
        let interval = self.config.rtcp_interval.as_nanos() as u64;
        let mut seed = u64::from(self.shared.lock().params.ssrc) | 1 << 40;
        let mut next_rtcp = now_ns() + interval / 2;
        let poll_ms = self.config.poll_interval.as_millis().clamp(1, 1000) as i32;
        while !self.shared.stop.load(Ordering::Acquire) {
            self.wait(poll_ms);
            if self.shared.stop.load(Ordering::Acquire) {
                break;
            }
            self.receive(&mut events);
            self.send();
            if now_ns() >= next_rtcp {
                self.report(None);
                // 0.5 .. 1.5 × the interval.
                let f = 0.5 + (next_random(&mut seed) % 1000) as f64 / 1000.0;
                next_rtcp = now_ns() + (interval as f64 * f) as u64;
            }
            for e in events.drain(..) {
                (self.link.on_event)(e);
            }
        }
        self.send();
        self.report(Some(String::new()));
    }

    fn wait(&self, timeout_ms: i32) {
        let mut fds = [
            libc::pollfd { fd: self.rtp.as_raw_fd(), events: libc::POLLIN, revents: 0 },
            libc::pollfd { fd: self.rtcp.as_ref().map_or(-1, |s| s.as_raw_fd()), events: libc::POLLIN, revents: 0 },
        ];
        // SAFETY: `fds` is a valid array of two pollfd structs for the duration of the call;
        // a negative fd is ignored by poll(2).
        unsafe {
            libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms);
        }
    }

    fn receive(&mut self, events: &mut Vec<TransportEvent>) {
        while let Ok((n, from)) = self.rtp.recv_from(&mut self.buf) {
            let now = now_ns();
            let data = &self.buf[..n.min(self.buf.len())];
            if is_rtcp(data) {
                Self::on_rtcp(&self.shared, data, from, now, events);
            } else {
                Self::on_rtp(&self.shared, &mut self.link, data, from, now, events);
            }
        }
        if let Some(sock) = &self.rtcp {
            while let Ok((n, from)) = sock.recv_from(&mut self.buf) {
                Self::on_rtcp(&self.shared, &self.buf[..n.min(self.buf.len())], from, now_ns(), events);
            }
        }
    }

    fn on_rtp(
        shared: &Shared,
        link: &mut MediaLink,
        data: &[u8],
        from: SocketAddr,
        now: u64,
        events: &mut Vec<TransportEvent>,
    ) {
        let mut s = shared.lock();
        let (meta, payload) = match parse_rtp(data, now) {
            Ok(p) => p,
            Err(_) => {
                s.stats.malformed += 1;
                return;
            }
        };
        let Some(clock) = s.clock_of(meta.payload_type) else {
            s.stats.unknown_payload_type += 1;
            return;
        };
        s.rx.set_clock_rate(clock);
        let restarts = s.rx.counters().restarts;
        let check = s.rx.on_packet(meta.ssrc, meta.sequence, meta.timestamp, data.len(), now);
        if s.rx.counters().restarts != restarts {
            events.push(TransportEvent::SourceRestarted { ssrc: meta.ssrc });
        }
        if check != SequenceCheck::Valid {
            s.stats.not_valid += s.held.hold(meta.ssrc, meta.sequence, now, data);
            return;
        }
        // The packet A.1 held (probation, the first after a jump) is confirmed by this
        // one: it goes first, with its own arrival time.
        let mut buf = [0u8; MAX_HELD];
        if let Some((d, at)) = s.held.take_before(meta.ssrc, meta.sequence) {
            let n = d.len();
            buf[..n].copy_from_slice(d);
            if let Ok((m, p)) = parse_rtp(&buf[..n], at) {
                Self::deliver(&mut s, link, m, p, from, events);
            }
        }
        Self::deliver(&mut s, link, meta, payload, from, events);
    }

    /// Hands one valid packet on: latches the remote, takes RFC 4733 events, maps the
    /// timestamp into the graph's clock and pushes the rest to the graph's ring.
    fn deliver(
        s: &mut IoState,
        link: &mut MediaLink,
        meta: PacketMeta,
        payload: &[u8],
        from: SocketAddr,
        events: &mut Vec<TransportEvent>,
    ) {
        if matches!(s.remote, Remote::Latch { .. }) && s.latched.is_none() {
            s.latched = Some(from);
            events.push(TransportEvent::RemoteLatched(from));
        }
        if s.params.telephone_event == Some(meta.payload_type) {
            // Events share the stream's sequence space (counted above) but not the decoder.
            s.stats.dtmf_packets_received += 1;
            let mut digits = Vec::new();
            if s.dtmf_rx.on_packet(meta.timestamp, payload, &mut digits).is_err() {
                s.stats.malformed += 1;
            }
            events.extend(digits.into_iter().map(TransportEvent::Dtmf));
            return;
        }
        let mut meta = meta;
        if let Some(graph_clock) = s.params.graph_clock {
            if s.ts_map.clock() != graph_clock {
                s.ts_map = ClockMap::new(graph_clock);
            }
            let clock = s.clock_of(meta.payload_type).unwrap_or(graph_clock);
            meta.timestamp = s.ts_map.map(meta.payload_type, clock, meta.timestamp);
        }
        match link.rx.push(meta, payload) {
            Ok(()) => s.stats.payload_bytes_received += payload.len() as u64,
            Err(_) => s.stats.ring_full += 1,
        }
    }

    fn on_rtcp(shared: &Shared, data: &[u8], from: SocketAddr, now: u64, events: &mut Vec<TransportEvent>) {
        let mut s = shared.lock();
        let items = match parse_rtcp(data) {
            Ok(items) => items,
            Err(_) => {
                s.stats.rtcp_malformed += 1;
                return;
            }
        };
        s.stats.rtcp_received += 1;
        if s.rtcp_from.is_none() && !s.params.rtcp_mux {
            s.rtcp_from = Some(from);
        }
        let ours = s.params.ssrc;
        for item in items {
            let blocks = match item {
                RtcpItem::Sender { info, blocks, .. } => {
                    s.last_sr = Some(((info.ntp >> 16) as u32, now));
                    blocks
                }
                RtcpItem::Receiver { blocks, .. } => blocks,
                RtcpItem::Cname { cname, .. } => {
                    s.stats.remote_cname = Some(cname);
                    continue;
                }
                RtcpItem::Bye { reason, .. } => {
                    events.push(TransportEvent::Bye { reason });
                    continue;
                }
                _ => continue,
            };
            for b in blocks.into_iter().filter(|b| b.ssrc == ours) {
                if b.last_sr != 0 {
                    let now_mid = (ntp_from_unix_ns(unix_ns()) >> 16) as u32;
                    let rtt = now_mid.wrapping_sub(b.last_sr).wrapping_sub(b.delay_since_last_sr);
                    if rtt < 0x8000_0000 {
                        s.stats.rtt_ms = Some(f64::from(rtt) * 1000.0 / 65536.0);
                    }
                }
                s.stats.remote_report = Some(b);
                events.push(TransportEvent::RemoteReport(b));
            }
        }
    }

    fn send(&mut self) {
        let sending = self.shared.sending.load(Ordering::Relaxed);
        let mut out = [0u8; 1600];
        while let Some(p) = self.link.tx.pop() {
            let mut s = self.shared.lock();
            let Some(to) = s.remote().filter(|_| sending) else {
                // Not sent: later packets take its sequence number (the peer sees no loss,
                // the timestamps jump) and the next one sent starts a talk spurt.
                s.stats.packets_not_sent += 1;
                s.seq_offset = s.seq_offset.wrapping_add(1);
                s.resumed = true;
                continue;
            };
            let mut meta = p.meta;
            meta.sequence = meta.sequence.wrapping_sub(s.seq_offset);
            meta.marker |= std::mem::take(&mut s.resumed);
            let clock = s.clock_of(meta.payload_type).unwrap_or(8000);
            let ticks = (u64::from(s.params.ptime_ms) * u64::from(clock) / 1000) as u32;
            let written = match s.dtmf_tx.on_audio_packet(&meta, ticks) {
                Some((meta, body)) => {
                    s.stats.dtmf_packets_sent += 1;
                    write_rtp(&meta, &body, &mut out)
                }
                None => write_rtp(&meta, p.payload(), &mut out),
            };
            let Ok(n) = written else {
                s.stats.send_errors += 1;
                continue;
            };
            s.last_sent = Some((p.meta.timestamp, clock, now_ns()));
            drop(s);
            let sent = self.rtp.send_to(&out[..n], to);
            let mut s = self.shared.lock();
            match sent {
                Ok(_) => {
                    s.stats.packets_sent += 1;
                    s.stats.bytes_sent += n as u64;
                    s.stats.payload_bytes_sent += n.saturating_sub(12) as u64;
                }
                Err(_) => s.stats.send_errors += 1,
            }
        }
    }

    /// Sends a compound report (with a BYE when `bye` is given).
    fn report(&mut self, bye: Option<String>) {
        // The XR block first, outside the lock (the source reads the graph's telemetry).
        let (source, rtt, received) = {
            let s = self.shared.lock();
            (s.rx.counters().ssrc, s.stats.rtt_ms, s.rx.counters().received)
        };
        let voip_metrics = match self.link.voip_metrics.as_mut() {
            Some(f) if received > 0 => f(source, rtt),
            _ => None,
        };
        let now = now_ns();
        let mut s = self.shared.lock();
        let Some(to) = s.rtcp_remote() else { return };
        let last_sr = s.last_sr.map(|(mid, at)| (mid, ((now - at.min(now)) * 65536 / 1_000_000_000) as u32));
        let block = s.rx.report_block(last_sr);
        let ntp = ntp_from_unix_ns(unix_ns());
        let sender = (s.stats.packets_sent > 0).then(|| {
            let rtp_timestamp = s.last_sent.map_or(0, |(ts, clock, at)| {
                ts.wrapping_add(((now - at.min(now)) as u128 * u128::from(clock) / 1_000_000_000) as u32)
            });
            SenderInfo {
                ntp,
                rtp_timestamp,
                packets: s.stats.packets_sent as u32,
                octets: s.stats.payload_bytes_sent as u32,
            }
        });
        let report = RtcpReport {
            ssrc: s.params.ssrc,
            sender,
            blocks: block.into_iter().collect(),
            cname: s.params.cname.clone(),
            voip_metrics,
            bye,
        };
        let mut out = [0u8; 1500];
        let Ok(n) = build_report(&report, &mut out) else { return };
        let sock = if s.params.rtcp_mux { &self.rtp } else { self.rtcp.as_ref().unwrap_or(&self.rtp) };
        if sock.send_to(&out[..n], to).is_ok() {
            s.stats.rtcp_sent += 1;
        }
    }
}

fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
