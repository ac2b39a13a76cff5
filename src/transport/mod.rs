//! Moving a session's RTP and RTCP between the graph's packet rings and the network.
//!
//! The audio path is socket → packet ring → worker → packet ring → socket: a [`Transport`]
//! is handed a session's two ring ends in a [`MediaLink`] — the graph's packet input
//! ([`PacketIn`]) for what it receives and packet output ([`PacketOut`]) for what it sends —
//! and moves packets between them and its wire on its own threads. Workers never see a
//! socket. A SIP stack with its own RTP layer implements [`Transport`] and plugs in instead
//! of [`UdpTransport`].
//!
//! [`UdpTransport`] is the host-side one: std `UdpSocket`s served by the few threads of an
//! [`IoPool`] shared by all sessions (epoll, batched `recvmmsg`/`sendmmsg`), symmetric RTP
//! (latch to the source of the first valid packet, or a fixed remote), RTCP on port + 1 or
//! muxed (RFC 5761), RFC 3550 receiver statistics and compound reports (SR/RR, SDES CNAME
//! and XR; BYE at stop), RFC 4733 DTMF both ways, hold. The per-session logic is in
//! `stream.rs`, the threads that call it in [`io_pool`].
//!
//! [`BatchIo`] serves many sockets (a conference bridge's legs) from a few I/O threads with
//! epoll and batched `recvmmsg`/`sendmmsg`, symmetric RTP and per-socket counters.

pub mod batch;
pub mod io_pool;
mod stream;
pub mod udp;

use crate::engine::{PacketIn, PacketOut};
use crate::rtp::{AudioLevel, DtmfDigit, HeaderExtensions, ReportBlockInfo, RtpReceiveCounters, VoipMetrics};
use std::net::SocketAddr;

pub use batch::{BatchConfig, BatchIo, BatchIoHandle, SocketStats};
pub use io_pool::{IoPool, IoPoolConfig};
pub use udp::{UdpConfig, UdpTransport};

/// Where to send, and whether to follow the peer's source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    /// Send to this address, always.
    Fixed(SocketAddr),
    /// Symmetric RTP: send to the source of the first valid RTP packet received (starting
    /// with `initial`, if given, until then).
    Latch {
        /// Where to send before anything was received.
        initial: Option<SocketAddr>,
    },
}

impl Remote {
    /// The address to send to before anything was received.
    pub fn initial(&self) -> Option<SocketAddr> {
        match *self {
            Remote::Fixed(a) => Some(a),
            Remote::Latch { initial } => initial,
        }
    }
}

/// The RTP stream a transport carries, as negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamParams {
    /// Our SSRC (the encoder writes it; RTCP reports under it).
    pub ssrc: u32,
    /// Our CNAME for SDES.
    pub cname: String,
    /// Payload types we accept, with their RTP clock rate; others are dropped and counted.
    pub payload_types: Vec<(u8, u32)>,
    /// RTCP shares the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// Where RTCP goes when not muxed: `None` is the RTP remote's port + 1.
    pub remote_rtcp: Option<SocketAddr>,
    /// The negotiated RFC 4733 telephone-event payload type (its clock is the audio's).
    pub telephone_event: Option<u8>,
    /// Packet time of the audio, ms (an event packet takes the place of one audio packet).
    pub ptime_ms: u32,
    /// The RTP clock the receiving graph's timeline runs in: timestamps of packets on
    /// another clock (after a live switch to Opus, say) are mapped into it
    /// ([`ClockMap`](crate::rtp::ClockMap)) before they reach the graph. `None`: as received.
    pub graph_clock: Option<u32>,
    /// Header extensions read from received packets into their meta (RFC 6464 audio level).
    pub receive_extensions: HeaderExtensions,
    /// Header extensions written on sent packets from their meta.
    pub send_extensions: HeaderExtensions,
}

/// The session's side of a transport: the graph's ring ends and a place for events.
pub struct MediaLink {
    /// Received RTP goes here (the graph's packet input).
    pub rx: PacketIn,
    /// RTP to send comes from here (the graph's packet output).
    pub tx: PacketOut,
    /// Called on the transport's thread for every [`TransportEvent`].
    pub on_event: Box<dyn FnMut(TransportEvent) + Send>,
    /// Called on the transport's thread for each RTCP report, with the received stream's
    /// SSRC and the round trip (ms, once known): the RFC 3611 VoIP-metrics block to send
    /// in the compound as RTCP XR (`None`: no XR).
    pub voip_metrics: Option<VoipMetricsSource>,
}

/// What fills a report's RFC 3611 VoIP-metrics block (see [`MediaLink::voip_metrics`]).
pub type VoipMetricsSource = Box<dyn FnMut(u32, Option<f64>) -> Option<VoipMetrics> + Send>;

/// Something the transport saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportEvent {
    /// Symmetric RTP latched onto this source.
    RemoteLatched(SocketAddr),
    /// The peer's SSRC changed (or its sequence restarted).
    SourceRestarted {
        /// The new SSRC.
        ssrc: u32,
    },
    /// The peer sent an RTCP BYE.
    Bye {
        /// Its reason, if any.
        reason: Option<String>,
    },
    /// The peer's report about our stream (from its SR or RR).
    RemoteReport(ReportBlockInfo),
    /// An RFC 4733 event (DTMF digit) received, reported once.
    Dtmf(DtmfDigit),
}

/// A transport's counters, read at any time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TransportStats {
    /// RTP packets sent.
    pub packets_sent: u64,
    /// RTP payload bytes sent.
    pub payload_bytes_sent: u64,
    /// RTP bytes sent (headers included).
    pub bytes_sent: u64,
    /// Packets the graph produced while sending was off (hold) or no remote was known.
    pub packets_not_sent: u64,
    /// `send_to` failures.
    pub send_errors: u64,
    /// The received stream (RFC 3550 A.1/A.3/A.8).
    pub received: RtpReceiveCounters,
    /// RTP payload bytes received and handed to the graph.
    pub payload_bytes_received: u64,
    /// Received packets that carried the negotiated RFC 6464 audio level.
    pub audio_levels_received: u64,
    /// The last audio level received.
    pub last_audio_level: Option<AudioLevel>,
    /// Sent packets that carried an RFC 6464 audio level.
    pub audio_levels_sent: u64,
    /// Received packets that carried RFC 6465 mixer-to-client levels (a CSRC list with the
    /// negotiated `csrc-audio-level` element).
    pub csrc_levels_received: u64,
    /// The last such list: who the mixer mixed into that packet, and how loud each was.
    pub last_csrc_levels: Option<crate::rtp::CsrcLevels>,
    /// Datagrams that are not RTP (short, wrong version, lying lengths).
    pub malformed: u64,
    /// RTP packets of a payload type not negotiated.
    pub unknown_payload_type: u64,
    /// Packets received but not handed on: probation, unconfirmed jumps.
    pub not_valid: u64,
    /// Packets the graph's ring had no room for.
    pub ring_full: u64,
    /// RFC 4733 event packets sent (each in place of an audio packet).
    pub dtmf_packets_sent: u64,
    /// RFC 4733 event packets received.
    pub dtmf_packets_received: u64,
    /// RTCP packets sent.
    pub rtcp_sent: u64,
    /// RTCP packets received and parsed.
    pub rtcp_received: u64,
    /// RTCP packets that did not parse.
    pub rtcp_malformed: u64,
    /// The latest report the peer gave about our stream.
    pub remote_report: Option<ReportBlockInfo>,
    /// Round-trip time from the peer's LSR/DLSR, ms.
    pub rtt_ms: Option<f64>,
    /// Where RTP is sent now.
    pub remote: Option<SocketAddr>,
    /// The peer's CNAME.
    pub remote_cname: Option<String>,
}

/// Why a transport could not do what was asked.
///
/// ```
/// use rvoip_media_core::transport::{Transport, TransportError, UdpConfig, UdpTransport};
/// let mut t = UdpTransport::bind(UdpConfig::new("127.0.0.1:0".parse().unwrap()))?;
/// // Stopped before it was started.
/// assert!(matches!(t.stop(), Err(TransportError::State(_))));
/// # Ok::<(), TransportError>(())
/// ```
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A socket could not be bound or configured.
    ///
    /// ```
    /// use rvoip_media_core::transport::{Transport, TransportError, UdpConfig, UdpTransport};
    /// let a = UdpTransport::bind(UdpConfig::new("127.0.0.1:0".parse().unwrap())).unwrap();
    /// let taken = UdpConfig::new(a.local_addr());
    /// assert!(matches!(UdpTransport::bind(taken), Err(TransportError::Io(_))));
    /// ```
    #[error("transport socket: {0}")]
    Io(#[from] std::io::Error),
    /// `start` on a transport already started, or a call after `stop`.
    ///
    /// ```
    /// use rvoip_media_core::transport::TransportError;
    /// assert_eq!(TransportError::State("started twice").to_string(), "transport state: started twice");
    /// ```
    #[error("transport state: {0}")]
    State(&'static str),
}

/// Moves one session's packets between its rings and a network. Implementations run their
/// own threads; every method returns promptly.
pub trait Transport: Send {
    /// The local RTP address.
    fn local_addr(&self) -> SocketAddr;
    /// Starts moving packets of `link`, for the stream `params`, to and from `remote`.
    ///
    /// # Errors
    /// [`TransportError::State`] when already started, [`TransportError::Io`].
    fn start(&mut self, link: MediaLink, params: StreamParams, remote: Remote) -> Result<(), TransportError>;
    /// Changes the remote (a re-INVITE moving the peer).
    fn set_remote(&self, remote: Remote);
    /// Changes the stream's parameters (a re-INVITE changing codec or payload types).
    fn set_params(&self, params: StreamParams);
    /// Sends media or not (hold: packets from the graph are discarded, RTCP continues).
    fn set_sending(&self, on: bool);
    /// Queues an RFC 4733 event (a DTMF digit: 0–15) lasting `duration_ms`; its packets take
    /// the place of the next audio packets.
    ///
    /// # Errors
    /// [`TransportError::State`] when no telephone-event payload type was negotiated.
    fn send_dtmf(&self, event: u8, duration_ms: u32) -> Result<(), TransportError>;
    /// The counters.
    fn stats(&self) -> TransportStats;
    /// Stops: sends an RTCP BYE, ends the threads, gives the ring ends back (dropped).
    ///
    /// # Errors
    /// [`TransportError::State`] when not started.
    fn stop(&mut self) -> Result<(), TransportError>;
}
