//! [`MediaEngine`]: the engine a SIP stack starts once, and its settings.

use super::ack::{Ack, Watcher};
use super::{DialogId, Error, MediaSession, MediaSessionParams};
use crate::engine::{Engine, EngineConfig};
use crate::sdp::LocalAudio;
use crate::transport::{IoPool, IoPoolConfig};
use rvoip_media_graph::Quantum;
use rvoip_media_nodes::codec::{Capability, CodecId, LocalCodec};
use std::net::IpAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Voice processing of the host audio a session sends, at the host rate: echo cancellation
/// against what the session plays, noise suppression (inside the canceller's post-filter when
/// both are on) and gain control; and voice activity detection of what is sent. The engine's
/// defaults apply to every session whose
/// [`MediaSessionParams::processing`](super::MediaSessionParams::processing) is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessingDefaults {
    /// Echo cancellation.
    pub aec: bool,
    /// Noise suppression.
    pub ns: bool,
    /// Automatic gain control.
    pub agc: bool,
    /// Voice activity detection of what the encoder sends (`rvoip_media_nodes::apm::Vad`,
    /// about 0.6–1.2 µs per 10 ms frame and 14 KiB per session): it sets the V bit of the
    /// RFC 6464 levels the session sends, so noise as loud as speech is not voice. Off: an
    /// energy gate sets it ([`VOICE_BELOW_DBOV`](crate::rtp::audio_level::VOICE_BELOW_DBOV)).
    pub vad: bool,
}

/// Settings of a [`MediaEngine`]; build with [`MediaEngineConfig::builder`].
#[derive(Clone, Debug)]
pub struct MediaEngineConfig {
    /// The runtime's settings (workers, quantum, pools, real-time priority).
    pub engine: EngineConfig,
    /// Codecs offered and accepted, in preference order.
    pub codecs: Vec<CodecId>,
    /// Default packet time, ms.
    pub ptime_ms: u32,
    /// Voice processing defaults.
    pub processing: ProcessingDefaults,
    /// Mean interval between RTCP reports.
    pub rtcp_interval: Duration,
    /// The I/O threads that move every session's RTP and RTCP (an
    /// [`IoPool`](crate::transport::IoPool) shared by all sessions; at least 1).
    pub io_threads: usize,
    /// Offer and accept RFC 6464 audio levels ([`LocalAudio::audio_level`]; default off).
    pub audio_level: bool,
    /// Offer and accept RFC 6465 mixer-to-client levels ([`LocalAudio::csrc_audio_level`];
    /// default off): sessions read them from a mixer's packets.
    pub csrc_audio_level: bool,
}

impl Default for MediaEngineConfig {
    fn default() -> Self {
        MediaEngineConfig {
            engine: EngineConfig { ring_capacity: 64, ..EngineConfig::default() },
            codecs: CodecId::ALL.to_vec(),
            ptime_ms: 20,
            processing: ProcessingDefaults::default(),
            rtcp_interval: Duration::from_secs(5),
            io_threads: 1,
            audio_level: false,
            csrc_audio_level: false,
        }
    }
}

impl MediaEngineConfig {
    /// A builder starting from the defaults (workers: cores − 1; 10 ms quantum; SCHED_FIFO
    /// 80 when allowed; every codec, Opus first; 20 ms packets; RTCP every 5 s; one I/O
    /// thread for every session's packets).
    ///
    /// ```
    /// use rvoip_media_core::session::MediaEngineConfig;
    /// use rvoip_media_core::nodes::codec::CodecId;
    /// let c = MediaEngineConfig::builder().workers(2).codecs(&[CodecId::Pcmu]).ptime_ms(30).io_threads(2).build();
    /// assert_eq!((c.engine.workers, c.ptime_ms, c.io_threads), (2, 30, 2));
    /// assert_eq!(c.codecs, [CodecId::Pcmu]);
    /// ```
    pub fn builder() -> MediaEngineConfigBuilder {
        MediaEngineConfigBuilder(MediaEngineConfig::default())
    }
}

/// Builds a [`MediaEngineConfig`]; see [`MediaEngineConfig::builder`].
#[derive(Clone, Debug)]
pub struct MediaEngineConfigBuilder(MediaEngineConfig);

impl MediaEngineConfigBuilder {
    /// Worker threads (0: cores − 1).
    pub fn workers(mut self, n: usize) -> Self {
        self.0.engine.workers = n;
        self
    }
    /// The processing quantum.
    pub fn quantum(mut self, q: Quantum) -> Self {
        self.0.engine.quantum = q;
        self
    }
    /// Frames in the audio frame pool.
    pub fn frame_pool(mut self, n: usize) -> Self {
        self.0.engine.frame_pool = n;
        self
    }
    /// Packets in the packet pool.
    pub fn packet_pool(mut self, n: usize) -> Self {
        self.0.engine.packet_pool = n;
        self
    }
    /// Slots of each endpoint ring (audio and packets to and from a session).
    pub fn ring_capacity(mut self, n: usize) -> Self {
        self.0.engine.ring_capacity = n;
        self
    }
    /// SCHED_FIFO priority for workers (`None`: normal scheduling).
    pub fn realtime(mut self, priority: Option<u8>) -> Self {
        self.0.engine.realtime = priority;
        self
    }
    /// Pin workers to cores.
    pub fn pin_workers(mut self, on: bool) -> Self {
        self.0.engine.pin_workers = on;
        self
    }
    /// Codecs in preference order.
    pub fn codecs(mut self, codecs: &[CodecId]) -> Self {
        self.0.codecs = codecs.to_vec();
        self
    }
    /// Default packet time, ms.
    pub fn ptime_ms(mut self, ms: u32) -> Self {
        self.0.ptime_ms = ms;
        self
    }
    /// Voice processing defaults.
    pub fn processing(mut self, p: ProcessingDefaults) -> Self {
        self.0.processing = p;
        self
    }
    /// Mean RTCP report interval.
    pub fn rtcp_interval(mut self, d: Duration) -> Self {
        self.0.rtcp_interval = d;
        self
    }
    /// I/O threads moving the sessions' packets (0 is taken as 1). One serves thousands of
    /// G.711 sessions on loopback (BENCHMARKS.md); a second helps when one core cannot.
    pub fn io_threads(mut self, n: usize) -> Self {
        self.0.io_threads = n.max(1);
        self
    }
    /// Offer and accept RFC 6464 audio levels in [`MediaEngine::local_audio`].
    ///
    /// ```
    /// use rvoip_media_core::session::{MediaEngine, MediaEngineConfig};
    /// let engine = MediaEngine::start(MediaEngineConfig::builder().workers(1).realtime(None).audio_level(true).build()).unwrap();
    /// let local = engine.local_audio("127.0.0.1".parse().unwrap(), 4000);
    /// assert!(local.audio_level);
    /// ```
    pub fn audio_level(mut self, on: bool) -> Self {
        self.0.audio_level = on;
        self
    }
    /// Offer and accept RFC 6465 mixer-to-client levels in [`MediaEngine::local_audio`].
    ///
    /// ```
    /// use rvoip_media_core::session::{MediaEngine, MediaEngineConfig};
    /// let engine = MediaEngine::start(MediaEngineConfig::builder().workers(1).realtime(None).csrc_audio_level(true).build()).unwrap();
    /// let local = engine.local_audio("127.0.0.1".parse().unwrap(), 4000);
    /// assert!(local.csrc_audio_level && !local.audio_level);
    /// ```
    pub fn csrc_audio_level(mut self, on: bool) -> Self {
        self.0.csrc_audio_level = on;
        self
    }
    /// The configuration.
    pub fn build(self) -> MediaEngineConfig {
        self.0
    }
}

/// The media core a SIP stack starts once: worker threads, pools and the codec registry.
/// Sessions are created per dialog with [`MediaEngine::create_media_session`]; the
/// [`MediaSessionController`](super::MediaSessionController) keeps them by dialog.
///
/// ```
/// use rvoip_media_core::session::{MediaEngine, MediaEngineConfig};
/// let engine = MediaEngine::start(MediaEngineConfig::builder().workers(1).realtime(None).build()).unwrap();
/// assert!(engine.get_supported_codecs().iter().any(|c| c.encoding == "PCMU"));
/// ```
pub struct MediaEngine {
    pub(crate) engine: Arc<Engine>,
    /// The I/O threads of every session's transport.
    pub(crate) io: Arc<IoPool>,
    pub(crate) watcher: Arc<Watcher>,
    watcher_thread: Option<JoinHandle<()>>,
    config: MediaEngineConfig,
}

impl MediaEngine {
    /// Starts the workers and the I/O threads.
    ///
    /// # Errors
    /// [`Error::Engine`] with [`EngineError::InvalidConfig`](crate::EngineError::InvalidConfig)
    /// or a spawn failure; [`Error::Transport`] when an I/O thread cannot start.
    pub fn start(config: MediaEngineConfig) -> Result<MediaEngine, Error> {
        let io = IoPool::start(IoPoolConfig { threads: config.io_threads.max(1), ..IoPoolConfig::default() })?;
        let engine = Arc::new(Engine::start(config.engine.clone())?);
        let (watcher, t) = Watcher::start(engine.clone()).map_err(|e| Error::Engine(e.into()))?;
        Ok(MediaEngine { engine, io, watcher, watcher_thread: Some(t), config })
    }

    /// The I/O threads every session's transport joins (for their count and load).
    pub fn io_pool(&self) -> &Arc<IoPool> {
        &self.io
    }

    /// The configuration.
    pub fn config(&self) -> &MediaEngineConfig {
        &self.config
    }

    /// The runtime underneath (for telemetry, status, or graphs of the host's own).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The codecs this engine offers, in preference order, as SDP describes them.
    pub fn get_supported_codecs(&self) -> Vec<&'static Capability> {
        self.config.codecs.iter().map(|c| c.capability()).collect()
    }

    /// Our audio capabilities for an SDP offer or answer at `address:port`
    /// ([`crate::sdp::create_offer`], [`crate::sdp::create_answer`]).
    pub fn local_audio(&self, address: IpAddr, port: u16) -> LocalAudio {
        let mut l = LocalAudio::new(address, port);
        l.codecs = self.config.codecs.iter().map(|c| LocalCodec::new(*c)).collect();
        l.ptime = Some(self.config.ptime_ms);
        l.audio_level = self.config.audio_level;
        l.csrc_audio_level = self.config.csrc_audio_level;
        l
    }

    /// Creates the media session of a dialog: binds its sockets and places its graph on a
    /// worker. Nothing is sent until [`MediaSession::start`].
    ///
    /// # Errors
    /// [`Error::Transport`] (address taken), [`Error::Codec`] (ptime refused),
    /// [`Error::Engine`] (workers full, queue full).
    pub fn create_media_session(&self, dialog: DialogId, params: MediaSessionParams) -> Result<MediaSession, Error> {
        MediaSession::create(self, dialog, params)
    }

    /// An [`Ack`] for a no-op round trip through worker 0 (a liveness check).
    ///
    /// # Errors
    /// [`Error::Engine`] with a full command queue.
    pub fn ping(&self) -> Result<Ack, Error> {
        let t = self.engine.ping(0)?;
        Ok(self.ack(Some(t)))
    }

    pub(crate) fn ack(&self, ticket: Option<crate::engine::Ticket>) -> Ack {
        Ack { engine: self.engine.clone(), watcher: self.watcher.clone(), ticket }
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        self.watcher.shutdown();
        if let Some(t) = self.watcher_thread.take() {
            let _ = t.join();
        }
    }
}
