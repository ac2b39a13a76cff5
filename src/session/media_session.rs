//! [`MediaSession`]: one dialog's media — a graph on a worker and a transport.

use super::ack::{Ack, Watcher};
use super::rate_adapt::{RateAdaptedDecoder, RateAdaptedEncoder};
use super::{DialogId, Error, MediaEngine, MediaSessionParams, ProcessingDefaults};
use crate::engine::{AudioIn, AudioOut, ControlOut, Engine, PartitionId};
use crate::quality::alert::{AlertConfig, AlertState};
use crate::quality::stream::{estimate, voip_metrics, StreamQuality};
use crate::rtp::{HeaderExtensions, ReportBlockInfo};
use crate::sdp::Direction;
use crate::stats::PartitionStats;
use crate::transport::{
    MediaLink, Remote, StreamParams, Transport, TransportEvent, TransportStats, UdpConfig, UdpTransport,
};
use rvoip_media_graph::{AudioFormat, GraphBuilder, NodeId, NodeKey, PortKind};
use rvoip_media_nodes::apm::{
    AdvancedAecConfig, AdvancedAgcConfig, AdvancedVadConfig, Aec, Agc, ApmError, NoiseSuppressor, NsConfig, NsLevel,
    Vad,
};
use rvoip_media_nodes::codec::{CodecId, EncodeNode, Negotiated, SwitchEncoder};
use rvoip_media_nodes::jitter::{JitterBufferNode, JitterConfig, JitterReport, JitterSwitch, CN_PAYLOAD_TYPE};
use rvoip_media_nodes::resample::ResamplerNode;
use rvoip_media_nodes::{LevelMeter, Mute};
use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Created: graph placed, sockets bound, nothing sent.
    Created,
    /// Sending (if its direction allows) and receiving.
    Running,
    /// Paused (hold): no media sent, RTCP continues, receiving continues.
    Paused,
    /// Stopped: BYE sent, graph removed.
    Stopped,
}

/// Something that happened to a session (see [`MediaSession::poll_event`]).
#[derive(Clone, Debug, PartialEq)]
pub enum SessionEvent {
    /// The session started.
    Started,
    /// Media sending stopped (pause / hold).
    Paused,
    /// Media sending resumed.
    Resumed,
    /// The microphone was muted or unmuted.
    MuteChanged(bool),
    /// The codec changed (a re-INVITE).
    CodecChanged {
        /// The new codec.
        codec: CodecId,
        /// Its payload type.
        payload_type: u8,
    },
    /// Symmetric RTP latched onto the peer's source.
    RemoteLatched(SocketAddr),
    /// The peer's stream restarted (new SSRC or sequence).
    SourceRestarted {
        /// Its SSRC now.
        ssrc: u32,
    },
    /// The peer said RTCP BYE.
    RemoteBye {
        /// Its reason.
        reason: Option<String>,
    },
    /// The peer reported on our stream.
    RemoteReport(ReportBlockInfo),
    /// A DTMF digit (RFC 4733 event) arrived; reported once, at its end.
    Dtmf {
        /// The digit (`0`–`9`, `*`, `#`, `A`–`D`), or `None` for another event code.
        digit: Option<char>,
        /// The event code.
        event: u8,
        /// Its duration, ms.
        duration_ms: u32,
    },
    /// The peer started talking: the received level rose above −40 dBFS (seen when
    /// events are polled).
    TalkingStarted,
    /// The peer stopped talking: the received level stayed below −50 dBFS for 300 ms.
    TalkingStopped,
    /// The estimated quality of what is received (E-model MOS over the last
    /// [`QUALITY_WINDOW`] of the call) stayed below the alert threshold for the hold time
    /// (by default MOS 3.6, G.107's "many users dissatisfied", for 3 s), or recovered:
    /// stayed above threshold + margin (3.8) as long (`degraded: false`). See
    /// [`MediaSession::set_quality_alerts`].
    QualityAlert {
        /// Whether quality is degraded now.
        degraded: bool,
        /// The MOS estimate.
        mos: f64,
        /// Received loss, % of expected.
        loss_percent: f64,
        /// Received jitter, ms.
        jitter_ms: f64,
    },
    /// The session stopped.
    Stopped,
}

/// Level thresholds of [`SessionEvent::TalkingStarted`] / `TalkingStopped`, dBFS, and the
/// quiet time before `TalkingStopped`.
const TALK_ON_DB: f64 = -40.0;
const TALK_OFF_DB: f64 = -50.0;
const TALK_HANG: std::time::Duration = std::time::Duration::from_millis(300);
/// Adds the voice processing of the host audio from `input` at `rate` (echo cancellation
/// against `played`, noise suppression — inside the canceller's post-filter when both are on
/// — and gain control) and returns the node whose output goes on to be sent.
fn add_processing(
    b: &mut GraphBuilder,
    p: ProcessingDefaults,
    rate: u32,
    input: NodeId,
    played: NodeId,
) -> Result<NodeId, Error> {
    let setup = |node: &str| {
        let node = node.to_string();
        move |e: ApmError| Error::Engine(crate::EngineError::NodeSetup { node: node.clone(), reason: e.to_string() })
    };
    let mut near = input;
    if p.aec {
        let mut cfg = AdvancedAecConfig::new(rate);
        if p.ns {
            cfg = cfg.with_denoise(Some(NsLevel::High));
        }
        let aec = b.add_node("aec", Box::new(Aec::new(cfg).map_err(setup("aec"))?));
        b.connect(near, 0, aec, 0)?;
        b.connect(played, 0, aec, 1)?;
        near = aec;
    } else if p.ns {
        let ns = NoiseSuppressor::new(NsConfig::new(rate).with_level(NsLevel::High)).map_err(setup("ns"))?;
        let n = b.add_node("ns", Box::new(ns));
        b.connect(near, 0, n, 0)?;
        near = n;
    }
    if p.agc {
        let agc = b.add_node("agc", Box::new(Agc::new(AdvancedAgcConfig::new(rate)).map_err(setup("agc"))?));
        b.connect(near, 0, agc, 0)?;
        near = agc;
    }
    Ok(near)
}

/// The longest packet a session's rate adapter decodes, ms (the longest Opus packet).
const MAX_PACKET_MS: usize = 120;

/// The stretch of the call a [`SessionEvent::QualityAlert`] judges: the E-model estimate
/// over the last 5 s (snapshots of the jitter buffer's counters a second apart).
pub const QUALITY_WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

/// What the event poller derives from telemetry: talking and quality state.
#[derive(Debug)]
struct Detector {
    talking: bool,
    last_loud: Option<Instant>,
    alert: AlertState,
    /// The buffer's reports, one a second over the quality window.
    reports: VecDeque<(Instant, JitterReport)>,
    epoch: Instant,
}

impl Detector {
    fn new() -> Self {
        Detector {
            talking: false,
            last_loud: None,
            alert: AlertState::new(AlertConfig::default()),
            // One report a second over the window: at most 6 (ages 0 to 5 s).
            reports: VecDeque::with_capacity(QUALITY_WINDOW.as_secs() as usize + 1),
            epoch: Instant::now(),
        }
    }
}

/// Quality and performance of a session (see [`MediaSession::statistics`]).
#[derive(Clone, Debug, PartialEq)]
pub struct MediaStatistics {
    /// The codec in use.
    pub codec: CodecId,
    /// Its payload type.
    pub payload_type: u8,
    /// State.
    pub state: SessionState,
    /// Whether the microphone is muted.
    pub muted: bool,
    /// Seconds since start.
    pub duration_s: f64,
    /// Packets the encoder produced (sent or, on hold, discarded).
    pub packets_encoded: u64,
    /// The receive path's jitter buffer: the W3C `RTCInboundRtpStreamStats` counters
    /// (packetsReceived, packetsLost, jitterBufferDelay, concealedSamples, …), RFC 3550
    /// interarrival jitter and signed cumulative loss as the buffer saw them, and the
    /// RFC 3611 burst / gap metrics of what was played.
    pub receive: JitterReport,
    /// The session graph's cycle statistics (underruns of host audio, ring drops, timing).
    pub graph: PartitionStats,
    /// RTP/RTCP counters of the transport.
    pub rtp: TransportStats,
    /// The E-model estimate of what is received over the whole call (G.107, or G.107.1 for
    /// G.722 and Opus): R, MOS-CQ/LQ from the measured mouth-to-ear delay and loss
    /// pattern. `None` ("unknown") until
    /// [`MIN_PACKETS`](crate::quality::stream::MIN_PACKETS) packets were due.
    pub quality: Option<StreamQuality>,
}

/// Random numbers from std's randomly keyed hasher (no RNG dependency).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// The graph keys of a session.
#[derive(Clone, Copy, Debug)]
struct Keys {
    jitter: NodeKey,
    encode: NodeKey,
    mute: NodeKey,
}

/// One dialog's media: an RTP stream each way through a graph on a worker
/// (`in → mute → [resample] → encode → tx`, `rx → decode → [resample] → out`) and a
/// [`Transport`] moving `tx`/`rx` to and from the network.
///
/// Host audio: [`MediaSession::take_audio_in`] gives the input to send (mono at the host
/// rate, one quantum per push; nothing pushed is silence) and
/// [`MediaSession::take_audio_out`] what is received (the audio tap). The receive path is
/// an adaptive jitter buffer driving the decoder ([`JitterBufferNode`]): reordering, late
/// packets, loss concealment, time-scale modification, RFC 3389 comfort noise.
///
/// ```no_run
/// use rvoip_media_core::session::*;
/// use rvoip_media_core::nodes::codec::CodecId;
/// let engine = MediaEngine::start(MediaEngineConfig::builder().realtime(None).build())?;
/// let params = MediaSessionParams::new("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:40000".parse().unwrap()), CodecId::Pcmu)?;
/// let mut s = engine.create_media_session(DialogId::from("call-1"), params)?;
/// s.start()?.wait(std::time::Duration::from_secs(1))?;
/// s.set_muted(true)?; // encoded silence, sequence numbers and timestamps continuing
/// println!("{:?}", s.statistics().rtp.packets_sent);
/// s.stop()?;
/// # Ok::<(), Error>(())
/// ```
pub struct MediaSession {
    dialog: DialogId,
    engine: Arc<Engine>,
    watcher: Arc<Watcher>,
    partition: PartitionId,
    keys: Keys,
    transport: Box<dyn Transport>,
    link: Option<MediaLink>,
    audio_in: Option<AudioIn>,
    audio_out: Option<AudioOut>,
    state: SessionState,
    muted: bool,
    params: MediaSessionParams,
    /// Payload types accepted (the current codec's, and the previous one's in flight).
    payload_types: Vec<(u8, u32)>,
    ssrc: u32,
    cname: String,
    host_rate: u32,
    /// The audio rate of the graph's codec side: the first codec's, kept through switches.
    codec_rate: u32,
    /// The RTP clock of the graph's receive timeline: the first codec's, kept through
    /// switches (the transport maps other clocks into it).
    graph_clock: u32,
    events: Receiver<SessionEvent>,
    events_tx: Sender<SessionEvent>,
    created_ticket: Option<crate::engine::Ticket>,
    started_at: Option<Instant>,
    rx_level: Option<ControlOut>,
    detector: Detector,
    /// The codec and packet time the RTCP XR block is rated for (shared with the
    /// transport's report thread; a codec switch updates it).
    rated: Arc<Mutex<(CodecId, u32)>>,
}

impl MediaSession {
    pub(crate) fn create(engine: &MediaEngine, dialog: DialogId, params: MediaSessionParams) -> Result<Self, Error> {
        let mut udp = UdpConfig::new(params.local);
        udp.rtcp_interval = engine.config().rtcp_interval;
        let transport = UdpTransport::bind_in(&engine.io, udp)?;
        Self::with_transport(engine, dialog, params, Box::new(transport))
    }

    /// A session whose packets travel over `transport` (a SIP stack's own RTP layer, say)
    /// instead of a [`UdpTransport`].
    ///
    /// # Errors
    /// As [`MediaEngine::create_media_session`].
    pub fn with_transport(
        engine: &MediaEngine,
        dialog: DialogId,
        params: MediaSessionParams,
        transport: Box<dyn Transport>,
    ) -> Result<Self, Error> {
        let q = engine.engine.config().quantum;
        let neg = &params.codec;
        let codec_rate = neg.sample_rate();
        let host_rate = params.host_rate.unwrap_or(codec_rate);
        let host = AudioFormat::mono(host_rate);
        let r = random_u64();
        let ssrc = params.ssrc.unwrap_or(r as u32);
        let enc = EncodeNode::new(neg.encoder()?, params.ptime_ms * 1000, q)?
            .with_payload_type(neg.payload_type)
            .with_ssrc(ssrc)
            .with_start((r >> 32) as u16, (r >> 48) as u32 ^ (r as u32).rotate_left(7));
        // Levels are always measured (an energy sum per packet): a re-INVITE can turn the
        // extension on without rebuilding the graph; the transport writes them only when it
        // is negotiated. With the VAD on, it sets their V bit.
        let processing = params.processing.unwrap_or(engine.config().processing);
        let mut enc = enc.with_audio_level(crate::rtp::audio_level::VOICE_BELOW_DBOV);
        if processing.vad {
            let vad = Vad::new(AdvancedVadConfig::new(codec_rate))
                .map_err(|e| crate::EngineError::NodeSetup { node: "vad".into(), reason: e.to_string() })?;
            enc = enc.with_voice_activity(vad)?;
        }
        let decoder = neg.call_decoder()?;
        let jitter_config = JitterConfig::for_stream(decoder.info(), q);
        let jitter = JitterBufferNode::new(decoder, jitter_config, q)
            .map_err(|e| crate::EngineError::NodeSetup { node: "jitter".into(), reason: e.to_string() })?
            .with_payload_type(neg.payload_type);
        let (tx_kind, rx_kind) = (enc.info().packet_format(), jitter.buffer().info().packet_format());
        let mut b = GraphBuilder::new(q);
        let input = b.add_input("in", PortKind::Audio(host));
        let mute = b.add_node("mute", Box::new(Mute::new(host)));
        let encode = b.add_node("encode", Box::new(enc));
        let tx = b.add_output("tx", PortKind::Packet(tx_kind));
        let rx = b.add_input("rx", PortKind::Packet(rx_kind));
        let decode = b.add_node("jitter", Box::new(jitter));
        let output = b.add_output("out", PortKind::Audio(host));
        let meter = b.add_node("rx_meter", Box::new(LevelMeter::new(AudioFormat::mono(codec_rate))));
        let level = b.add_output("rx_level", PortKind::Control);
        b.connect(encode, 0, tx, 0)?;
        b.connect(rx, 0, decode, 0)?;
        b.connect(decode, 0, meter, 0)?;
        b.connect(meter, 0, level, 0)?;
        let setup = |e: rvoip_media_nodes::resample::ResampleError| crate::EngineError::NodeSetup {
            node: "resample".into(),
            reason: e.to_string(),
        };
        // What the host plays (the canceller's far end) and where the host's audio, after its
        // processing, joins the send path.
        let (played, send) = if host_rate == codec_rate {
            (decode, encode)
        } else {
            let down = b.add_node("down", Box::new(ResamplerNode::new(host_rate, codec_rate, 1).map_err(setup)?));
            let up = b.add_node("up", Box::new(ResamplerNode::new(codec_rate, host_rate, 1).map_err(setup)?));
            b.connect(decode, 0, up, 0)?;
            b.connect(down, 0, encode, 0)?;
            (up, down)
        };
        b.connect(played, 0, output, 0)?;
        let near = add_processing(&mut b, processing, host_rate, input, played)?;
        b.connect(near, 0, mute, 0)?;
        b.connect(mute, 0, send, 0)?;
        let mut part = engine.engine.add_partition(b.build()?)?;
        let id = part.id;
        let key = |name: &str| engine.engine.node_key(id, name);
        let keys = Keys { jitter: key("jitter")?, encode: key("encode")?, mute: key("mute")? };
        let (Some(rx), Some(tx)) = (part.io.take_packet_in("rx"), part.io.take_packet_out("tx")) else {
            return Err(Error::NoAudio("graph endpoints missing"));
        };
        let (events_tx, events) = channel();
        let clock = neg.clock_rate;
        let ev = events_tx.clone();
        let on_event = Box::new(move |e: TransportEvent| {
            let _ = ev.send(match e {
                TransportEvent::RemoteLatched(a) => SessionEvent::RemoteLatched(a),
                TransportEvent::SourceRestarted { ssrc } => SessionEvent::SourceRestarted { ssrc },
                TransportEvent::Bye { reason } => SessionEvent::RemoteBye { reason },
                TransportEvent::RemoteReport(b) => SessionEvent::RemoteReport(b),
                TransportEvent::Dtmf(d) => SessionEvent::Dtmf {
                    digit: d.digit(),
                    event: d.event,
                    duration_ms: (u64::from(d.duration) * 1000 / u64::from(clock.max(1))) as u32,
                },
            });
        });
        let cname = params.cname.clone().unwrap_or_else(|| format!("rvoip-{ssrc:08x}"));
        let rated = Arc::new(Mutex::new((neg.codec, params.ptime_ms)));
        let source = Self::xr_source(jitter_config.max_delay_ms, engine.engine.clone(), id, keys.jitter, rated.clone());
        Ok(MediaSession {
            dialog,
            engine: engine.engine.clone(),
            watcher: engine.watcher.clone(),
            partition: id,
            keys,
            transport,
            link: Some(MediaLink { rx, tx, on_event, voip_metrics: Some(source) }),
            audio_in: part.io.take_audio_in("in"),
            audio_out: part.io.take_audio_out("out"),
            state: SessionState::Created,
            muted: false,
            payload_types: Self::accepted(neg, None),
            params,
            ssrc,
            cname,
            host_rate,
            codec_rate,
            graph_clock: clock,
            events,
            events_tx,
            created_ticket: Some(part.ticket),
            started_at: None,
            rx_level: part.io.control_out("rx_level"),
            detector: Detector::new(),
            rated,
        })
    }

    /// The payload types the transport hands to the graph: the codec's, the previous codec's
    /// while its packets are in flight after a switch, and RFC 3389 comfort noise (static
    /// type 13, 8 kHz clock) for codecs on an 8 kHz RTP clock, which the jitter buffer
    /// plays at the level it carries.
    fn accepted(codec: &Negotiated, previous: Option<&Negotiated>) -> Vec<(u8, u32)> {
        let mut v = vec![(codec.payload_type, codec.clock_rate)];
        if let Some(p) = previous.filter(|p| p.payload_type != codec.payload_type) {
            v.push((p.payload_type, p.clock_rate));
        }
        if codec.clock_rate == 8000 {
            v.push((CN_PAYLOAD_TYPE, 8000));
        }
        v
    }

    /// What fills the RTCP XR VoIP-metrics block on the transport's thread: the jitter
    /// buffer's telemetry rated for the codec in use.
    fn xr_source(
        abs_max: u32,
        engine: Arc<Engine>,
        partition: PartitionId,
        jitter: NodeKey,
        rated: Arc<Mutex<(CodecId, u32)>>,
    ) -> crate::transport::VoipMetricsSource {
        Box::new(move |ssrc, rtt| {
            let t = engine.telemetry(partition, jitter).ok()?;
            let (codec, ptime) = *rated.lock().ok()?;
            Some(voip_metrics(ssrc, codec, ptime, rtt, abs_max, &JitterReport::read(&t.values)))
        })
    }

    /// The jitter buffer's telemetry, read through the engine's seqlock.
    fn receive_report(&self) -> JitterReport {
        self.engine
            .telemetry(self.partition, self.keys.jitter)
            .map_or_else(|_| JitterReport::default(), |t| JitterReport::read(&t.values))
    }

    fn ack(&self, ticket: Option<crate::engine::Ticket>) -> Ack {
        Ack { engine: self.engine.clone(), watcher: self.watcher.clone(), ticket }
    }

    fn stream_params(&self) -> StreamParams {
        StreamParams {
            ssrc: self.ssrc,
            cname: self.cname.clone(),
            payload_types: self.payload_types.clone(),
            rtcp_mux: self.params.rtcp_mux,
            remote_rtcp: self.params.remote_rtcp,
            telephone_event: self.params.telephone_event,
            ptime_ms: self.params.ptime_ms,
            graph_clock: Some(self.graph_clock),
            receive_extensions: HeaderExtensions {
                audio_level: self.params.audio_level.and_then(|e| e.receive_id()),
                csrc_audio_level: self.params.csrc_audio_level.and_then(|e| e.receive_id()),
            },
            send_extensions: HeaderExtensions {
                audio_level: self.params.audio_level.and_then(|e| e.send_id()),
                ..HeaderExtensions::default()
            },
        }
    }

    fn check(&self, operation: &'static str, allowed: &[SessionState]) -> Result<(), Error> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(Error::InvalidState { operation, state: self.state })
        }
    }

    /// Starts the transport; the returned [`Ack`] resolves once the graph runs on its worker.
    /// Media is sent if the direction allows (sendrecv, sendonly).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless created, [`Error::Transport`].
    pub fn start(&mut self) -> Result<Ack, Error> {
        self.check("start", &[SessionState::Created])?;
        let Some(link) = self.link.take() else {
            return Err(Error::InvalidState { operation: "start", state: self.state });
        };
        self.transport.set_sending(self.params.direction.sends());
        self.transport.start(link, self.stream_params(), self.params.remote)?;
        self.state = SessionState::Running;
        self.started_at = Some(Instant::now());
        let _ = self.events_tx.send(SessionEvent::Started);
        let ticket = self.created_ticket.take();
        Ok(self.ack(ticket))
    }

    /// Stops sending media (hold); receiving and RTCP go on.
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless running or paused.
    pub fn pause(&mut self) -> Result<(), Error> {
        self.check("pause", &[SessionState::Running, SessionState::Paused])?;
        self.transport.set_sending(false);
        if self.state == SessionState::Running {
            self.state = SessionState::Paused;
            let _ = self.events_tx.send(SessionEvent::Paused);
        }
        Ok(())
    }

    /// Sends media again (if the direction allows).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless running or paused.
    pub fn resume(&mut self) -> Result<(), Error> {
        self.check("resume", &[SessionState::Running, SessionState::Paused])?;
        self.transport.set_sending(self.params.direction.sends());
        if self.state == SessionState::Paused {
            self.state = SessionState::Running;
            let _ = self.events_tx.send(SessionEvent::Resumed);
        }
        Ok(())
    }

    /// Stops: the transport sends an RTCP BYE and closes its sockets (awaited), the graph
    /// leaves its worker (the Ack resolves then). The host audio endpoints report
    /// `is_abandoned()` afterwards.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when already stopped; [`Error::Engine`].
    pub fn stop(&mut self) -> Result<Ack, Error> {
        self.check("stop", &[SessionState::Created, SessionState::Running, SessionState::Paused])?;
        if self.state != SessionState::Created {
            // Not started: no thread; stopping a started transport cannot fail otherwise.
            let _ = self.transport.stop();
        }
        self.state = SessionState::Stopped;
        self.link = None;
        let t = self.engine.remove_partition(self.partition)?;
        let _ = self.events_tx.send(SessionEvent::Stopped);
        Ok(self.ack(Some(t)))
    }

    /// Mutes or unmutes what is sent: muted, the encoder encodes silence, so RTP keeps
    /// flowing with sequence numbers and timestamps continuing.
    ///
    /// # Errors
    /// [`Error::InvalidState`] after stop; [`Error::Engine`].
    pub fn set_muted(&mut self, muted: bool) -> Result<Ack, Error> {
        self.check("mute", &[SessionState::Created, SessionState::Running, SessionState::Paused])?;
        let t =
            self.engine.set_param(self.partition, self.keys.mute, Mute::PARAM_MUTED, if muted { 1.0 } else { 0.0 })?;
        if self.muted != muted {
            self.muted = muted;
            let _ = self.events_tx.send(SessionEvent::MuteChanged(muted));
        }
        Ok(self.ack(Some(t)))
    }

    /// Sends DTMF digits (`0`–`9`, `*`, `#`, `A`–`D`) by RFC 4733, each lasting
    /// `duration_ms`, one after the other: event packets take the place of audio packets
    /// (same SSRC, sequence and timestamps continuing), the end packet is sent three times.
    ///
    /// # Errors
    /// [`Error::NoDtmf`] when no telephone-event was negotiated, [`Error::InvalidDigit`]
    /// (nothing sent), [`Error::InvalidState`] unless running.
    pub fn send_dtmf(&mut self, digits: &str, duration_ms: u32) -> Result<(), Error> {
        self.check("send DTMF", &[SessionState::Running])?;
        if self.params.telephone_event.is_none() {
            return Err(Error::NoDtmf);
        }
        let events = digits
            .chars()
            .map(|c| crate::rtp::DtmfEvent::from_digit(c).ok_or(Error::InvalidDigit(c)))
            .collect::<Result<Vec<u8>, Error>>()?;
        for e in events {
            self.transport.send_dtmf(e, duration_ms)?;
        }
        Ok(())
    }

    /// Whether the microphone is muted.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// Switches codec live (a re-INVITE): same SSRC, sequence numbers and timestamps
    /// continuing in the new codec's clock; the decoder takes packets of either payload type
    /// while old ones are in flight. A codec of another audio rate (G.722's 16 kHz or Opus's
    /// 48 kHz in a session created with PCMU, say) runs with a resampler in front of its
    /// encoder and behind its decoder, at the rate of the session's first codec, which the
    /// graph and the host audio keep (so its audio stays in that band); the timestamps of
    /// received packets on another RTP clock (Opus's 48000 Hz) are mapped into the first
    /// codec's clock by the transport before they reach the jitter buffer.
    ///
    /// # Errors
    /// [`Error::RateChange`], [`Error::Codec`], [`Error::InvalidState`] after stop,
    /// [`Error::Engine`].
    pub fn set_codec(&mut self, codec: Negotiated, ptime_ms: u32) -> Result<Ack, Error> {
        self.check("set_codec", &[SessionState::Created, SessionState::Running, SessionState::Paused])?;
        let (from, to) = (self.graph_clock, codec.clock_rate);
        if from != to && codec.sample_rate() == self.codec_rate {
            // Only a rate adapter re-declares the clock; no codec pair needs one without it.
            return Err(Error::RateChange { from, to });
        }
        let q = self.engine.config().quantum;
        let (mut encoder, mut decoder) = (codec.encoder()?, codec.call_decoder()?);
        if codec.sample_rate() != self.codec_rate {
            let rate = |e: rvoip_media_nodes::resample::ResampleError| crate::EngineError::NodeSetup {
                node: "rate adapter".into(),
                reason: e.to_string(),
            };
            encoder = Box::new(RateAdaptedEncoder::new(encoder, self.codec_rate).map_err(rate)?);
            let adapted = RateAdaptedDecoder::new(decoder, self.codec_rate, MAX_PACKET_MS, self.graph_clock);
            decoder = Box::new(adapted.map_err(rate)?);
        }
        let enc = SwitchEncoder::new(encoder, ptime_ms * 1000, q)?.with_payload_type(codec.payload_type);
        let dec = JitterSwitch::new(decoder, codec.payload_type);
        let mut edit = self.engine.edit(self.partition)?;
        edit.message(self.keys.encode, enc)?;
        edit.message(self.keys.jitter, dec)?;
        let ticket = edit.commit()?.ticket;
        self.payload_types = Self::accepted(&codec, Some(&self.params.codec));
        let _ =
            self.events_tx.send(SessionEvent::CodecChanged { codec: codec.codec, payload_type: codec.payload_type });
        if let Ok(mut r) = self.rated.lock() {
            *r = (codec.codec, ptime_ms);
        }
        self.params.codec = codec;
        self.params.ptime_ms = ptime_ms;
        self.transport.set_params(self.stream_params());
        Ok(self.ack(Some(ticket)))
    }

    /// Applies a re-INVITE's parameters: a new remote, a new direction (hold / unhold:
    /// sendonly/inactive stop media, RTCP goes on), rtcp-mux, telephone-event and the audio
    /// level extension's id and direction, a new codec (as [`MediaSession::set_codec`]). The
    /// local address, SSRC, CNAME and host rate stay. The encoder always measures levels, so
    /// an update that adds the extension makes the next packets carry them.
    ///
    /// # Errors
    /// As [`MediaSession::set_codec`].
    pub fn update(&mut self, params: MediaSessionParams) -> Result<Ack, Error> {
        self.check("update", &[SessionState::Created, SessionState::Running, SessionState::Paused])?;
        let mut ack = self.ack(None);
        if params.codec != self.params.codec || params.ptime_ms != self.params.ptime_ms {
            ack = self.set_codec(params.codec.clone(), params.ptime_ms)?;
        }
        if params.remote != self.params.remote {
            self.transport.set_remote(params.remote);
        }
        let direction = params.direction;
        // The codec was applied above; the local address, SSRC, CNAME and host rate are the
        // session's own and stay.
        self.params.remote = params.remote;
        self.params.direction = params.direction;
        self.params.rtcp_mux = params.rtcp_mux;
        self.params.remote_rtcp = params.remote_rtcp;
        self.params.telephone_event = params.telephone_event;
        self.params.audio_level = params.audio_level;
        self.params.csrc_audio_level = params.csrc_audio_level;
        self.transport.set_params(self.stream_params());
        if self.state != SessionState::Created {
            if direction.sends() {
                self.resume()?;
            } else {
                self.pause()?;
            }
        }
        Ok(ack)
    }

    /// The host audio to send (mono, host rate, one quantum per push). Taken once.
    pub fn take_audio_in(&mut self) -> Option<AudioIn> {
        self.audio_in.take()
    }

    /// The received audio (the audio tap: mono, host rate, one quantum per frame). Taken
    /// once.
    pub fn take_audio_out(&mut self) -> Option<AudioOut> {
        self.audio_out.take()
    }

    /// The next event, if any (never blocks).
    ///
    /// Talking and quality events are derived here, from the received level and the
    /// statistics at the time of the call: poll at least every 100 ms for timely ones.
    pub fn poll_event(&mut self) -> Option<SessionEvent> {
        if let Ok(e) = self.events.try_recv() {
            return Some(e);
        }
        self.detect()
    }

    /// Talking start/stop from the received level; quality alerts from the E-model estimate
    /// (checked at most twice a second).
    fn detect(&mut self) -> Option<SessionEvent> {
        if self.state != SessionState::Running && self.state != SessionState::Paused {
            return None;
        }
        let now = Instant::now();
        if let Some(level) = self.rx_level.as_ref().map(|c| f64::from(c.get())) {
            let d = &mut self.detector;
            if level > TALK_OFF_DB {
                d.last_loud = Some(now);
            }
            if !d.talking && level > TALK_ON_DB {
                d.talking = true;
                return Some(SessionEvent::TalkingStarted);
            }
            if d.talking && d.last_loud.map_or(true, |t| now.duration_since(t) >= TALK_HANG) {
                d.talking = false;
                return Some(SessionEvent::TalkingStopped);
            }
        }
        // Quality: a snapshot of the buffer's counters a second; the estimate over the
        // window they span feeds the alert's hysteresis.
        if self.detector.reports.back().is_some_and(|(t, _)| now.duration_since(*t) < std::time::Duration::from_secs(1))
        {
            return None;
        }
        let report = self.receive_report();
        self.detector.reports.push_back((now, report));
        while self.detector.reports.front().is_some_and(|(t, _)| now.duration_since(*t) > QUALITY_WINDOW) {
            self.detector.reports.pop_front();
        }
        let (_, first) = self.detector.reports.front()?;
        let window = report.since(first);
        let rtt = self.transport.stats().rtt_ms;
        let q = estimate(self.params.codec.codec, self.params.ptime_ms, rtt, &window);
        let at_ms = now.duration_since(self.detector.epoch).as_millis() as u64;
        let degraded = self.detector.alert.update(at_ms, q.map(|q| q.mos_cq))?;
        let q = q?;
        Some(SessionEvent::QualityAlert {
            degraded,
            mos: q.mos_cq,
            loss_percent: q.loss_percent,
            jitter_ms: report.stats.jitter * 1000.0,
        })
    }

    /// Sets the thresholds and hold time of [`SessionEvent::QualityAlert`] (and restarts
    /// its state: not degraded).
    pub fn set_quality_alerts(&mut self, config: AlertConfig) {
        self.detector.alert = AlertState::new(config);
    }

    /// RTP/RTCP counters.
    pub fn rtp_statistics(&self) -> TransportStats {
        self.transport.stats()
    }

    /// Quality and performance.
    pub fn statistics(&self) -> MediaStatistics {
        let tel = |k: NodeKey, name: &str| {
            self.engine.telemetry(self.partition, k).ok().and_then(|t| t.get(name)).unwrap_or(0.0) as u64
        };
        let rtp = self.transport.stats();
        let receive = self.receive_report();
        let quality = estimate(self.params.codec.codec, self.params.ptime_ms, rtp.rtt_ms, &receive);
        MediaStatistics {
            codec: self.params.codec.codec,
            payload_type: self.params.codec.payload_type,
            state: self.state,
            muted: self.muted,
            duration_s: self.started_at.map_or(0.0, |t| t.elapsed().as_secs_f64()),
            packets_encoded: tel(self.keys.encode, "packets"),
            receive,
            graph: self.engine.partition_stats(self.partition).unwrap_or_default(),
            rtp,
            quality,
        }
    }

    /// The dialog.
    pub fn dialog(&self) -> &DialogId {
        &self.dialog
    }

    /// State.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Local RTP address (for SDP).
    pub fn local_addr(&self) -> SocketAddr {
        self.transport.local_addr()
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Host audio rate.
    pub fn host_rate(&self) -> u32 {
        self.host_rate
    }

    /// The parameters in force.
    pub fn params(&self) -> &MediaSessionParams {
        &self.params
    }

    /// The graph's partition (for the engine's telemetry and statistics).
    pub fn partition(&self) -> PartitionId {
        self.partition
    }

    /// Our direction.
    pub fn direction(&self) -> Direction {
        self.params.direction
    }

    /// Where RTP goes now.
    pub fn remote(&self) -> Remote {
        self.params.remote
    }
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        if self.state != SessionState::Stopped {
            let _ = self.stop();
        }
    }
}
