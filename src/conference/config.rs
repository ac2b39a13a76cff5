//! [`RoomConfig`]: what a room is built with (mix format, member limit, who is heard,
//! shared encodes).

use rvoip_media_graph::AudioFormat;
use rvoip_media_nodes::mixer::TalkerPolicy;

/// The mix rate for members whose codecs run at `codec_rates` (Hz): 48 kHz when any codec
/// runs above 16 kHz (Opus fullband), else 16 kHz (narrowband G.711 / G.729 and wideband
/// G.722 legs meet at G.722's rate, so a wideband talker is heard wideband by wideband
/// listeners). The rate is chosen once, when the room is built: it stays for the room's
/// life, as FreeSWITCH's conference `rate` and Janus AudioBridge's `sampling_rate` do.
/// A member whose codec runs faster than the room (a 48 kHz Opus leg joining a 16 kHz
/// room) is resampled to the room's rate and back like any other leg: it hears and is
/// heard band-limited to the room (8 kHz audio bandwidth at 16 kHz), and its
/// [`MemberStats`](super::MemberStats) show `codec_rate` above the room's rate. Raising
/// the room's rate on that join would restart every other leg's resamplers and
/// processing at the new rate — the glitch for everyone else a live room must not have.
///
/// ```
/// use rvoip_media_core::conference::mix_rate_for;
/// assert_eq!(mix_rate_for([8000, 8000]), 16_000); // G.711 only
/// assert_eq!(mix_rate_for([8000, 16_000, 48_000]), 48_000); // PCMU, G.722, Opus
/// assert_eq!(mix_rate_for([]), 16_000);
/// ```
pub fn mix_rate_for(codec_rates: impl IntoIterator<Item = u32>) -> u32 {
    if codec_rates.into_iter().any(|r| r > 16_000) {
        48_000
    } else {
        16_000
    }
}

/// How a [`Room`](super::Room) is built. [`RoomConfig::new`] gives a plain N-1 room (every
/// member heard, every leg its own encode, no member limit): what [`Room::new`](super::Room::new)
/// builds.
///
/// ```
/// use rvoip_media_core::conference::RoomConfig;
/// use rvoip_media_core::prelude::*;
/// use rvoip_media_nodes::mixer::TalkerPolicy;
/// let cfg = RoomConfig::new(AudioFormat::mono(8000)).with_max_members(50).with_policy(TalkerPolicy::default()).with_shared_encodes();
/// assert_eq!((cfg.capacity, cfg.max_members), (50, Some(50))); // all ports up front: the mixer never grows
/// assert!(cfg.shared_encodes);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoomConfig {
    /// The mix format (the legs' audio is resampled to it).
    pub format: AudioFormat,
    /// Mixer ports to start with (the mixer doubles when full, up to the limit).
    pub capacity: usize,
    /// At most this many members; a join beyond is [`EngineError::RoomFull`](crate::engine::EngineError::RoomFull).
    pub max_members: Option<usize>,
    /// Who is heard (loudest N, VAD gating, dominant speaker, comfort noise, events); `None`:
    /// everybody not muted.
    pub policy: Option<TalkerPolicy>,
    /// Listeners of one codec share one encode of the listeners' mix (needs a policy and a
    /// codec whose frames can be shared, G.711; other legs encode their own).
    pub shared_encodes: bool,
    /// Capacity of the talk-event ring (events beyond are dropped and counted).
    pub event_capacity: usize,
    /// Run the legs in a room kernel ([`RoomConfig::with_kernel`]).
    pub kernel: bool,
    /// Workers a kernel room's legs are spread over ([`RoomConfig::with_kernel_workers`]; 1:
    /// one kernel on one worker).
    pub kernel_workers: usize,
    /// How long after a cycle's start a shard of a spread room waits for the other shards'
    /// rows (`None`: until the quantum less the shard's measured pass-2 time and a margin,
    /// at least a quarter of the quantum).
    pub kernel_wait: Option<std::time::Duration>,
    /// A policy room publishes who it mixes each cycle on a board
    /// ([`RoomConfig::with_heard_board`], [`Room::heard_board`](super::Room::heard_board)).
    pub heard_board: bool,
}

impl RoomConfig {
    /// A plain room mixing at `format`, 8 ports to start with.
    pub fn new(format: AudioFormat) -> Self {
        RoomConfig {
            format,
            capacity: 8,
            max_members: None,
            policy: None,
            shared_encodes: false,
            event_capacity: 1024,
            kernel: false,
            kernel_workers: 1,
            kernel_wait: None,
            heard_board: false,
        }
    }

    /// The same room (with a talker policy; a room of nodes or a one-worker kernel room)
    /// publishing each cycle the members
    /// it mixed and their levels on a [`HeardBoard`](super::HeardBoard)
    /// ([`Room::heard_board`](super::Room::heard_board)), for a transport that writes RFC
    /// 6465 mixer-to-client levels ([`BatchIo::with_heard`](crate::transport::BatchIo::with_heard)).
    /// Off by default: nothing is measured or published for it.
    ///
    /// ```
    /// use rvoip_media_core::conference::{Room, RoomConfig};
    /// use rvoip_media_core::prelude::*;
    /// use rvoip_media_nodes::mixer::TalkerPolicy;
    /// let (engine, _driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let cfg = RoomConfig::new(AudioFormat::mono(8000)).with_policy(TalkerPolicy::default());
    /// let room = Room::with_config(&engine, cfg.with_heard_board()).unwrap();
    /// assert!(room.heard_board().is_some());
    /// assert!(Room::with_config(&engine, cfg).unwrap().heard_board().is_none());
    /// ```
    pub fn with_heard_board(mut self) -> Self {
        self.heard_board = true;
        self
    }

    /// A plain mono room mixing at the rate [`mix_rate_for`] chooses for members whose
    /// codecs run at `codec_rates` (Hz): 16 kHz, or 48 kHz when one of them is above 16 kHz.
    ///
    /// ```
    /// use rvoip_media_core::conference::RoomConfig;
    /// assert_eq!(RoomConfig::for_codec_rates([8000, 16_000]).format.rate, 16_000);
    /// assert_eq!(RoomConfig::for_codec_rates([8000, 48_000]).format.rate, 48_000);
    /// ```
    pub fn for_codec_rates(codec_rates: impl IntoIterator<Item = u32>) -> Self {
        RoomConfig::new(AudioFormat::mono(mix_rate_for(codec_rates)))
    }

    /// At most `n` members; the mixer gets all `n` ports up front (it never has to grow).
    pub fn with_max_members(mut self, n: usize) -> Self {
        self.max_members = Some(n.max(1));
        self.capacity = n.max(1);
        self
    }

    /// Mixer ports to start with.
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Who is heard (see [`TalkerPolicy`]).
    pub fn with_policy(mut self, policy: TalkerPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Shared encodes for listeners (takes effect with a policy).
    pub fn with_shared_encodes(mut self) -> Self {
        self.shared_encodes = true;
        self
    }

    /// A kernel room: an N-1 room whose members are RTP legs at the room's rate without a
    /// processing chain (no resampler, NS, AGC or VAD; a jitter buffer,
    /// [`LegOptions::jitter`](super::LegOptions::jitter), is run), all run by one node that
    /// keeps the legs' state in one array and visits it in two passes a cycle, where a room of
    /// nodes makes five over a dozen heap objects per leg: the cost per leg stays flat as the
    /// room grows to tens of thousands of legs (BENCHMARKS.md, "Conference capacity"). The legs
    /// are the same decode and encode nodes (concealment, codec switches, RFC 6464 skipping,
    /// telemetry); mute, deaf and gains, joins, leaves and growth work as in any room. With a
    /// [`RoomConfig::with_policy`] the kernel chooses whom everyone hears as a policy room's
    /// mixer does (the legs' levels — there is no VAD — loudest-N with hysteresis, comfort
    /// noise, the dominant speaker, talking events; [`rvoip_media_nodes::mixer::TalkerSelection`]),
    /// and the selection's state survives the room's growth; with
    /// [`RoomConfig::with_shared_encodes`] its listeners splice one encode per codec variant
    /// (up to 8 variants) as a room of nodes' do. Anything else — a host-audio leg, a leg needing a resampler or
    /// a chain, a recording — is refused with [`crate::engine::EngineError::NodeSetup`].
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, LegOptions, Room, RoomConfig};
    /// use rvoip_media_core::prelude::*;
    /// use rvoip_media_nodes::mixer::TalkerPolicy;
    /// use rvoip_media_nodes::G711Law;
    ///
    /// let (engine, _driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let mut room = Room::with_config(&engine, RoomConfig::new(AudioFormat::mono(8000)).with_kernel()).unwrap();
    /// room.join(&engine, "a", LegMedia::g711(G711Law::Ulaw, 20_000, 1)).unwrap();
    /// assert!(matches!(room.join(&engine, "b", LegMedia::Audio), Err(EngineError::NodeSetup { .. })));
    /// let vad = LegOptions { agc: true, ..LegOptions::default() };
    /// let c = room.join_with(&engine, "c", LegMedia::g711(G711Law::Ulaw, 20_000, 3), vad);
    /// assert!(matches!(c, Err(EngineError::NodeSetup { .. })));
    /// // The three loudest heard, by the legs' levels.
    /// let loudest = RoomConfig::new(AudioFormat::mono(8000)).with_policy(TalkerPolicy::default()).with_kernel();
    /// let mut room = Room::with_config(&engine, loudest).unwrap();
    /// room.join(&engine, "a", LegMedia::g711(G711Law::Ulaw, 20_000, 1)).unwrap();
    /// assert_eq!(room.policy().map(|p| p.max_talkers), Some(3));
    /// ```
    pub fn with_kernel(mut self) -> Self {
        self.kernel = true;
        self
    }

    /// A kernel room ([`RoomConfig::with_kernel`]) whose legs are spread over `workers`
    /// workers, for a room larger than one worker's budget: a kernel per worker (a
    /// *shard*, on worker 0, 1, ...) runs the legs of its ports (port `p` on shard
    /// `p % workers`; a join goes to the shard with the fewest legs, a batch in one run per
    /// shard), decoding and encoding
    /// them in parallel with the others. Each cycle every shard publishes its legs' decoded
    /// rows, waits for the others' and sums every row in port order: the mix is the same,
    /// bit for bit, whatever the number of workers. A shard waits until the quantum less the
    /// time its own pass 2 (the legs' mixes, encodes and sends) has recently taken, with a
    /// margin, and at least a quarter of the quantum from the cycle's start (or
    /// [`RoomConfig::kernel_wait`] when set). A shard whose partner is later than that mixes
    /// without the late shard's legs for that cycle (counted in its `late_partners`
    /// telemetry: a dropout for its listeners) and still finishes its cycle.
    ///
    /// With a talker policy ([`RoomConfig::with_policy`], 1 to
    /// [`MAX_SPREAD_TALKERS`](super::MAX_SPREAD_TALKERS) talkers, else
    /// [`crate::engine::EngineError::NodeSetup`]) each shard publishes instead its legs
    /// that may be heard, with their rows, and every shard chooses the room's talkers from
    /// all of them alike (ARCHITECTURE.md, "A talker policy across shards"). With
    /// [`RoomConfig::with_shared_encodes`] each shard runs its own shared encodes for its
    /// listeners (one per codec variant and shard). The first shard names the dominant
    /// speaker from every shard's best challenger, one cycle after a one-worker room would.
    ///
    /// The room starts with `capacity` ports (at least `workers`) and grows as a one-worker
    /// room does: a join that finds no free port gives every shard a store twice as large,
    /// its legs moved into it by its worker in the same edit (the shared rows, one row per
    /// shard, stay). With [`RoomConfig::with_max_members`] it has all its ports from the
    /// start and a join beyond is [`crate::engine::EngineError::RoomFull`]. More workers
    /// than the engine has is [`crate::engine::EngineError::TooFewWorkers`].
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, Room, RoomConfig};
    /// use rvoip_media_core::prelude::*;
    /// use rvoip_media_nodes::G711Law;
    ///
    /// let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    /// let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(2).with_kernel_workers(2);
    /// let mut room = Room::with_config(&engine, config).unwrap();
    /// assert_eq!(room.shards().len(), 2);
    /// for n in ["a", "b", "c", "d", "e"] {
    ///     room.join(&engine, n, LegMedia::g711(G711Law::Ulaw, 20_000, 1)).unwrap();
    /// }
    /// assert_eq!(room.capacity(), 8); // grown twice
    /// let limited = RoomConfig::new(AudioFormat::mono(8000)).with_max_members(2).with_kernel_workers(2);
    /// let mut room = Room::with_config(&engine, limited).unwrap();
    /// room.join(&engine, "a", LegMedia::g711(G711Law::Ulaw, 20_000, 1)).unwrap();
    /// room.join(&engine, "b", LegMedia::g711(G711Law::Ulaw, 20_000, 2)).unwrap();
    /// assert!(matches!(room.join(&engine, "c", LegMedia::g711(G711Law::Ulaw, 20_000, 3)), Err(EngineError::RoomFull { limit: 2, .. })));
    /// let three = RoomConfig::new(AudioFormat::mono(8000)).with_kernel_workers(3);
    /// assert!(matches!(Room::with_config(&engine, three), Err(EngineError::TooFewWorkers { asked: 3, workers: 2 })));
    /// ```
    pub fn with_kernel_workers(mut self, workers: usize) -> Self {
        self.kernel = true;
        self.kernel_workers = workers.max(1);
        self
    }

    /// A fixed wait, from each cycle's start, for a shard of a spread room to wait for the
    /// others' rows ([`RoomConfig::with_kernel_workers`]), instead of the default deadline
    /// that leaves the shard's pass 2 its time within the quantum. A wait longer than the
    /// quantum lets a slow partner make every cycle late (tests use one on a loaded machine).
    ///
    /// ```
    /// use rvoip_media_core::conference::RoomConfig;
    /// use rvoip_media_core::prelude::*;
    /// use std::time::Duration;
    /// let c = RoomConfig::new(AudioFormat::mono(8000)).with_kernel_workers(2).with_kernel_wait(Duration::from_millis(2));
    /// assert_eq!(c.kernel_wait, Some(Duration::from_millis(2)));
    /// ```
    pub fn with_kernel_wait(mut self, wait: std::time::Duration) -> Self {
        self.kernel_wait = Some(wait);
        self
    }
}
