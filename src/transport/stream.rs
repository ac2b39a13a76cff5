//! One session's RTP and RTCP logic, called by the I/O thread that serves it
//! ([`super::io_pool`]); the control side ([`super::UdpTransport`]) shares its state.
//!
//! Receiving ([`Stream::on_datagram`]): a datagram on the RTP socket that looks like RTCP
//! (RFC 5761) is taken as RTCP; otherwise it is parsed ([`parse_rtp`]); a malformed one or an
//! unknown payload type is counted and dropped; the RFC 3550 statistics decide whether it is
//! valid (probation, jumps); valid packets go to the graph's ring stamped with their arrival
//! time, their timestamps mapped into the graph's clock ([`ClockMap`]); RFC 4733 events are
//! decoded into digits instead. The one packet not confirmed yet is held ([`Held`]) and goes
//! first once the next confirms it, so a call does not lose its first packet. The first
//! valid packet latches the remote under [`Remote::Latch`].
//!
//! Sending ([`Stream::send`]): packets from the graph's ring are written with [`write_rtp`]
//! (or replaced by an RFC 4733 event packet while a digit is being sent) into the I/O
//! thread's batch and sent with one batched call; on hold ([`Transport::set_sending`]`(false)`)
//! or without a remote they are counted and dropped, while RTCP goes on; the packets sent
//! after them continue the sequence numbers without a gap (the peer counts no loss), the
//! timestamps jump by the time on hold and the first one has the marker bit.
//!
//! Reports ([`Stream::report_if_due`]): a compound SR/RR + SDES CNAME (+ XR VoIP metrics)
//! every RTCP interval (randomised by ±50 %, RFC 3550 §6.2) to the RTP remote's port plus
//! one, an explicit address, or the RTP address when muxed; [`Stream::finish`] sends a last
//! one with a BYE. Received SR/RR give the peer's report and the round trip (LSR/DLSR).
//!
//! [`Transport::set_sending`]: super::Transport::set_sending

use super::batch::sys;
use super::{MediaLink, Remote, StreamParams, TransportEvent, TransportStats};
use crate::graph::{PacketMeta, SplitMix64};
use crate::rtp::hold::MAX_HELD;
use crate::rtp::{
    build_report, is_rtcp, ntp_from_unix_ns, parse_rtcp, write_rtp, AudioLevel, ClockMap, DtmfReceiver, DtmfSender,
    Held, ReceivedRtp, ReceiverStats, RtcpItem, RtcpReport, SenderInfo, SequenceCheck,
};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the control side and the I/O thread both see of a stream.
pub(super) struct StreamState {
    pub(super) remote: Remote,
    latched: Option<SocketAddr>,
    rtcp_from: Option<SocketAddr>,
    pub(super) params: StreamParams,
    pub(super) stats: TransportStats,
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

impl StreamState {
    fn new() -> Self {
        StreamState {
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
                receive_extensions: Default::default(),
                send_extensions: Default::default(),
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
        }
    }

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

    /// Takes new parameters (a new telephone-event type restarts the DTMF sender).
    pub(super) fn set_params(&mut self, params: StreamParams) {
        if let Some(pt) = params.telephone_event {
            if self.params.telephone_event != Some(pt) {
                self.dtmf_tx = DtmfSender::new(pt);
            }
        }
        self.params = params;
    }

    /// Takes a new remote (and forgets the latched one).
    pub(super) fn set_remote(&mut self, remote: Remote) {
        self.remote = remote;
        self.latched = None;
        self.stats.remote = remote.initial();
    }

    /// Queues an RFC 4733 event lasting `duration_ms`; false without a telephone-event type.
    pub(super) fn queue_dtmf(&mut self, event: u8, duration_ms: u32) -> bool {
        if self.params.telephone_event.is_none() {
            return false;
        }
        let clock = self.params.payload_types.first().map_or(8000, |(_, c)| *c);
        let ticks = (u64::from(duration_ms) * u64::from(clock) / 1000).min(u64::from(u32::MAX)) as u32;
        self.dtmf_tx.push(event, ticks);
        true
    }

    /// The counters, with the receive statistics and the remote of now.
    pub(super) fn stats(&self) -> TransportStats {
        let mut stats = self.stats.clone();
        stats.received = self.rx.counters();
        stats.remote = self.remote();
        stats
    }
}

/// A stream's state and flags, shared by the control side and the I/O thread.
pub(super) struct Shared {
    /// The control side asks the I/O thread to finish the stream.
    pub(super) stop: AtomicBool,
    pub(super) sending: AtomicBool,
    state: Mutex<StreamState>,
    /// Set by the I/O thread once the stream is finished (BYE sent, sockets closed).
    finished: Mutex<bool>,
    finished_cv: Condvar,
}

impl Shared {
    pub(super) fn new() -> Arc<Shared> {
        Arc::new(Shared {
            stop: AtomicBool::new(false),
            sending: AtomicBool::new(true),
            state: Mutex::new(StreamState::new()),
            finished: Mutex::new(false),
            finished_cv: Condvar::new(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, StreamState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn mark_finished(&self) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.finished_cv.notify_all();
    }

    /// Waits up to `timeout` for the I/O thread to finish the stream; whether it did.
    pub(super) fn wait_finished(&self, timeout: Duration) -> bool {
        let guard = self.finished.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) =
            self.finished_cv.wait_timeout_while(guard, timeout, |f| !*f).unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// The I/O thread's side of one session: its sockets, its ring ends and its report timer.
pub(super) struct Stream {
    pub(super) rtp: UdpSocket,
    pub(super) rtcp: Option<UdpSocket>,
    pub(super) shared: Arc<Shared>,
    link: MediaLink,
    rtcp_interval_ns: u64,
    next_rtcp: u64,
    /// Draws for the RTCP interval's randomisation (RFC 3550 §6.3.1).
    rng: SplitMix64,
}

impl Stream {
    pub(super) fn new(
        rtp: UdpSocket,
        rtcp: Option<UdpSocket>,
        shared: Arc<Shared>,
        link: MediaLink,
        rtcp_interval: Duration,
        now: u64,
    ) -> Stream {
        let interval = rtcp_interval.as_nanos() as u64;
        let rng = SplitMix64::new(u64::from(shared.lock().params.ssrc));
        Stream { rtp, rtcp, shared, link, rtcp_interval_ns: interval, next_rtcp: now + interval / 2, rng }
    }

    /// A datagram from `from`, read at `now` from the RTCP socket (`via_rtcp`) or the RTP one.
    pub(super) fn on_datagram(
        &mut self,
        data: &[u8],
        from: SocketAddr,
        via_rtcp: bool,
        now: u64,
        events: &mut Vec<TransportEvent>,
    ) {
        if via_rtcp || is_rtcp(data) {
            self.on_rtcp(data, from, now, events);
        } else {
            self.on_rtp(data, from, now, events);
        }
    }

    fn on_rtp(&mut self, data: &[u8], from: SocketAddr, now: u64, events: &mut Vec<TransportEvent>) {
        let mut s = self.shared.lock();
        let ReceivedRtp { meta, payload, csrc_levels } = match s.params.receive_extensions.parse(data, now) {
            Ok(p) => p,
            Err(_) => {
                s.stats.malformed += 1;
                return;
            }
        };
        if let Some(l) = csrc_levels {
            s.stats.csrc_levels_received += 1;
            s.stats.last_csrc_levels = Some(l);
        }
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
        // one: it goes first, with its own arrival time (copied out of the state it is
        // delivered through; only once per stream start).
        if let Some((d, at)) = s.held.take_before(meta.ssrc, meta.sequence) {
            let mut buf = [0u8; MAX_HELD];
            let n = d.len();
            buf[..n].copy_from_slice(d);
            if let Ok(r) = s.params.receive_extensions.parse(&buf[..n], at) {
                Self::deliver(&mut s, &mut self.link, r.meta, r.payload, from, events);
            }
        }
        Self::deliver(&mut s, &mut self.link, meta, payload, from, events);
    }

    /// Hands one valid packet on: latches the remote, takes RFC 4733 events, maps the
    /// timestamp into the graph's clock and pushes the rest to the graph's ring.
    fn deliver(
        s: &mut StreamState,
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
        if let Some(b) = meta.audio_level {
            s.stats.audio_levels_received += 1;
            s.stats.last_audio_level = Some(AudioLevel::from_byte(b));
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

    fn on_rtcp(&mut self, data: &[u8], from: SocketAddr, now: u64, events: &mut Vec<TransportEvent>) {
        let mut s = self.shared.lock();
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

    /// Hands `events` to the session (on this thread) and empties it.
    pub(super) fn hand_events(&mut self, events: &mut Vec<TransportEvent>) {
        for e in events.drain(..) {
            (self.link.on_event)(e);
        }
    }

    /// Sends every packet the graph produced, `tx`'s size at a time, one batched call each.
    pub(super) fn send(&mut self, tx: &mut sys::Batch, now: u64) {
        let sending = self.shared.sending.load(Ordering::Relaxed);
        loop {
            let mut n = 0;
            // Payload bytes and levels written into this batch (a failed send is not told
            // apart per packet: these count what was handed to the batched call).
            let (mut payload, mut levels) = (0u64, 0u64);
            let mut s = self.shared.lock();
            while n < tx.capacity() {
                let Some(p) = self.link.tx.pop() else { break };
                let Some(to) = s.remote().filter(|_| sending) else {
                    // Not sent: later packets take its sequence number (the peer sees no
                    // loss, the timestamps jump) and the next one sent starts a talk spurt.
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
                        payload += body.len() as u64;
                        write_rtp(&meta, &body, tx.buffer(n))
                    }
                    None => {
                        let ext = s.params.send_extensions;
                        payload += p.len() as u64;
                        levels += u64::from(ext.audio_level.is_some() && meta.audio_level.is_some());
                        ext.write(&meta, p.payload(), tx.buffer(n))
                    }
                };
                let Ok(len) = written else {
                    s.stats.send_errors += 1;
                    continue;
                };
                s.last_sent = Some((p.meta.timestamp, clock, now));
                tx.set_outgoing(n, len, Some(to));
                n += 1;
            }
            drop(s);
            if n == 0 {
                return;
            }
            let (mut packets, mut bytes) = (0u64, 0u64);
            let sent = tx.send(&self.rtp, n, |len| {
                packets += 1;
                bytes += len as u64;
            });
            let mut s = self.shared.lock();
            s.stats.packets_sent += packets;
            s.stats.bytes_sent += bytes;
            if sent == n {
                s.stats.payload_bytes_sent += payload;
                s.stats.audio_levels_sent += levels;
            } else {
                s.stats.payload_bytes_sent += bytes.saturating_sub(12 * packets);
            }
            s.stats.send_errors += (n - sent) as u64;
            if n < tx.capacity() {
                return;
            }
        }
    }

    /// Sends a report when one is due.
    pub(super) fn report_if_due(&mut self, now: u64) {
        if now < self.next_rtcp {
            return;
        }
        self.report(None, now);
        // 0.5 .. 1.5 × the interval.
        let f = 0.5 + self.rng.below(1000) as f64 / 1000.0;
        self.next_rtcp = now + (self.rtcp_interval_ns as f64 * f) as u64;
    }

    /// Ends the stream: sends what the graph still produced, then a last report with a BYE.
    pub(super) fn finish(mut self, tx: &mut sys::Batch, now: u64) {
        self.send(tx, now);
        self.report(Some(String::new()), now);
        let shared = self.shared.clone();
        // Sockets close and ring ends go back before the control side is told.
        drop(self);
        shared.mark_finished();
    }

    /// Sends a compound report (with a BYE when `bye` is given).
    fn report(&mut self, bye: Option<String>, now: u64) {
        // The XR block first, outside the lock (the source reads the graph's telemetry).
        let (source, rtt, received) = {
            let s = self.shared.lock();
            (s.rx.counters().ssrc, s.stats.rtt_ms, s.rx.counters().received)
        };
        let voip_metrics = match self.link.voip_metrics.as_mut() {
            Some(f) if received > 0 => f(source, rtt),
            _ => None,
        };
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
