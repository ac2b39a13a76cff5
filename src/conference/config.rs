//! [`RoomConfig`]: what a room is built with (mix format, member limit, who is heard,
//! shared encodes).

use rvoip_media_graph::AudioFormat;
use rvoip_media_nodes::mixer::TalkerPolicy;

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
}

impl RoomConfig {
    /// A plain room mixing at `format`, 8 ports to start with.
    pub fn new(format: AudioFormat) -> Self {
        RoomConfig { format, capacity: 8, max_members: None, policy: None, shared_encodes: false, event_capacity: 1024 }
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
}
