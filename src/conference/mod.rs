//! Live conference rooms on the engine.
//!
//! A [`Room`] is one partition around a membership-driven N-1 [`Mixer`]. Participants join
//! and leave while it runs: a join is one [`Edit`] that adds the leg's
//! nodes and endpoints, connects them to a free mixer port and sends the mixer
//! [`MixerMembership::Join`] in the same cycle; a leave removes them and sends `Leave`.
//! Nobody else's nodes are touched, so every other leg's codec state, concealment and RTP
//! stream continue as if nothing happened.
//!
//! A leg is either host audio at the room's format ([`LegMedia::Audio`]: endpoints
//! `{name}.in` / `{name}.out`) or RTP through the codec model ([`LegMedia::Rtp`]: packets
//! on `{name}.rx` are decoded by a [`DecodeNode`] (which conceals loss), resampled to the
//! room's rate if the codec's differs, mixed; the leg's mix is resampled back and encoded by
//! an [`EncodeNode`] onto `{name}.tx`). A codec switch ([`Room::switch_codec`]) keeps the
//! leg's RTP stream: same SSRC, sequence and timestamps continuing.
//!
//! A room built from a [`RoomConfig`] adds what conference bridges offer (FreeSWITCH
//! mod_conference, Janus AudioBridge): a member limit ([`EngineError::RoomFull`]); per member
//! mute, deaf and gains changed live ([`Room::set_member`]); a processing chain per leg
//! ([`LegOptions`]: jitter buffer, NS, AGC, VAD); with a [`TalkerPolicy`], who is heard
//! (loudest N with hysteresis, VAD-gated), the dominant speaker, comfort noise and talk
//! events ([`Room::poll_event`]); with shared encodes, one encode per codec for every
//! listener who hears the shared mix ([`Room::stats`] counts them); and recordings
//! ([`Room::record_member`], [`Room::record_mix`]).
//!
//! | file | what it holds |
//! |---|---|
//! | `mod.rs` | [`Room`]: joins, leaves, codec switches, the mixer's wiring and growth |
//! | `config.rs` | [`RoomConfig`] |
//! | `kernel.rs` | a kernel room's node: every leg's codec nodes and rings in one array, two passes a cycle ([`RoomConfig::with_kernel`]); a shard of a room spread over several workers ([`RoomConfig::with_kernel_workers`]) |
//! | `spread.rs` | a shard of a spread room: the shared rows, and a policy room's claims and dominant-speaker claim written into them |
//! | `deadline.rs` | how long a shard of a spread room waits for its partners' rows: the quantum less its measured pass 2 |
//! | `leg.rs` | [`LegMedia`], [`LegOptions`], the room's record of a leg |
//! | `members.rs` | member settings and talk events on the control side ([`RoomEvent`]) |
//! | `shared.rs` | shared encodes, one per codec variant |
//! | `stats.rs` | [`RoomStats`], [`MemberStats`] from the nodes' telemetry |
//! | `recording.rs` | [`Recording`]: a writer thread streaming a ring of frames to WAV |
//!
//! ```
//! use rvoip_media_core::conference::{LegMedia, Room};
//! use rvoip_media_core::prelude::*;
//!
//! let (engine, mut driver) = Engine::driven(EngineConfig::default()).unwrap();
//! let mut room = Room::new(&engine, AudioFormat::mono(8000), 4).unwrap();
//! let mut alice = room.join(&engine, "alice", LegMedia::Audio).unwrap().io;
//! let mut bob = room.join(&engine, "bob", LegMedia::Audio).unwrap().io;
//! let (mut a_in, mut a_out) = (alice.take_audio_in("alice.in").unwrap(), alice.take_audio_out("alice.out").unwrap());
//! let (mut b_in, mut b_out) = (bob.take_audio_in("bob.in").unwrap(), bob.take_audio_out("bob.out").unwrap());
//! a_in.push(&[0.25; 80]).unwrap();
//! b_in.push(&[0.5; 80]).unwrap();
//! driver.process_cycle();
//! assert_eq!(a_out.pop().unwrap().samples()[0], 0.5); // alice hears bob
//! assert_eq!(b_out.pop().unwrap().samples()[0], 0.25); // bob hears alice
//!
//! room.leave(&engine, "bob").unwrap();
//! driver.process_cycle();
//! engine.poll(); // collects what the worker handed back: bob's leg
//! assert!(b_in.is_abandoned()); // bob's endpoints know they are gone
//! ```

use crate::engine::{
    Committed, Edit, Engine, EngineError, InputEndpoint, OutputEndpoint, PartitionId, PartitionIo, Ticket,
};
use crate::sync::rows::{self, SharedRows};
use rvoip_media_graph::{AudioFormat, GraphBuilder, NodeKey, PortKind};
use rvoip_media_nodes::apm::{AdvancedAgcConfig, AdvancedVadConfig, Agc, NoiseSuppressor, NsConfig, Vad};
use rvoip_media_nodes::codec::{DecodeNode, Decoder, EncodeNode, Encoder, SwitchDecoder, SwitchEncoder};
use rvoip_media_nodes::jitter::{JitterBufferNode, JitterConfig};
use rvoip_media_nodes::mixer::{event_ring, MemberSettings, MemberUpdate, MixerEvents, TalkerPolicy};
use rvoip_media_nodes::resample::ResamplerNode;
use rvoip_media_nodes::{Mixer, MixerMembership};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod config;
mod deadline;
mod heard;
mod kernel;
mod leg;
mod members;
mod recording;
mod shared;
mod spread;
mod stats;

use crate::sync::lanes::Lanes;
pub use config::{mix_rate_for, RoomConfig};
use deadline::PartnerDeadline;
pub use heard::HeardBoard;
pub use kernel::MAX_SPREAD_TALKERS;
use kernel::{KernelGrow, KernelJoin, KernelLeave, KernelLeg, KernelStore, KernelSwitch, LegDecode, RoomKernel};
use leg::{Leg, Variant};
pub use leg::{LegMedia, LegOptions};
pub use members::{RoomEvent, RoomEventKind};
pub use recording::Recording;
use shared::SharedEncode;
use spread::{shared_row_len, Spread};
pub use stats::{MemberStats, RoomStats};

fn setup(node: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::NodeSetup { node: node.to_string(), reason: e.to_string() }
}

/// A leg's decoder without a jitter buffer: another codec than negotiated is dropped and
/// counted, not decoded; the delay a fast sender or late spells pile up is trimmed
/// (`DecodeNode::with_lead_trim`); with `skip_silent_at`, RFC 6464 silent packets are not
/// decoded.
fn leg_decoder(
    name: &str,
    decoder: Box<dyn Decoder>,
    q: rvoip_media_graph::Quantum,
    skip_silent_at: Option<u8>,
) -> Result<DecodeNode, EngineError> {
    let dec = DecodeNode::new(decoder, q).map_err(|e| setup(name, e))?.with_strict_payload_type().with_lead_trim();
    Ok(match skip_silent_at {
        Some(level) => dec.with_silence_skip(level),
        None => dec,
    })
}

/// A leg's jitter buffer ([`LegOptions::jitter`]), with the RFC 6464 silent-leg skip when
/// asked for.
fn leg_jitter(
    name: &str,
    decoder: Box<dyn Decoder>,
    cfg: JitterConfig,
    q: rvoip_media_graph::Quantum,
    skip_silent_at: Option<u8>,
) -> Result<JitterBufferNode, EngineError> {
    let jb = JitterBufferNode::new(decoder, cfg, q).map_err(|e| setup(name, e))?;
    Ok(match skip_silent_at {
        Some(level) => jb.with_silence_skip(level),
        None => jb,
    })
}

/// A leg's encoder with RFC 6464 levels when its options ask for them
/// ([`LegOptions::audio_level`]): the level of the mix the member hears, on every packet.
fn leg_encoder(enc: EncodeNode, options: &LegOptions) -> EncodeNode {
    match options.audio_level {
        true => enc.with_audio_level(crate::rtp::audio_level::VOICE_BELOW_DBOV),
        false => enc,
    }
}

/// A live N-1 conference room. See the [module docs](self).
pub struct Room {
    id: PartitionId,
    mixer: NodeKey,
    config: RoomConfig,
    capacity: usize,
    free: BTreeSet<usize>,
    legs: BTreeMap<String, Leg>,
    /// Names by mixer port (for events).
    names: Vec<Option<String>>,
    /// Shared encodes by codec variant and shard (0 in a room on one worker).
    shared: BTreeMap<(Variant, usize), SharedEncode>,
    /// The current mixer's events, and those of mixers replaced by growth (read first).
    events: Vec<MixerEvents>,
    talking: BTreeSet<usize>,
    dominant: Option<usize>,
    /// Recorders among the members (not counted against the limit), and recordings made.
    recorders: usize,
    recordings: usize,
    /// A room spread over several workers: each shard's partition and kernel node, and its
    /// legs (empty otherwise).
    shards: Vec<Shard>,
    /// Where the mixer publishes who it mixed ([`RoomConfig::with_heard_board`]).
    heard: Option<Arc<HeardBoard>>,
    /// A kernel room's slabs of packet lanes (empty otherwise).
    slabs: Vec<LaneSlab>,
}

/// A kernel room's packet lanes for some of its ports: the ports `p` in `ports` with
/// `p % by == shard`, in order, have lanes 0, 1, ... of `inn` and of `out`.
struct LaneSlab {
    ports: std::ops::Range<usize>,
    by: usize,
    shard: usize,
    inn: Arc<Lanes>,
    out: Arc<Lanes>,
}

impl LaneSlab {
    /// The lanes of ports `ports` with `p % by == shard`, `depth` slots each (control side).
    fn new(ports: std::ops::Range<usize>, by: usize, shard: usize, depth: usize) -> LaneSlab {
        let first = Self::first(&ports, by, shard);
        let n = ports.end.saturating_sub(first).div_ceil(by);
        LaneSlab { ports, by, shard, inn: Lanes::new(n, depth), out: Lanes::new(n, depth) }
    }

    /// The first port at or after `ports.start` with `p % by == shard`.
    fn first(ports: &std::ops::Range<usize>, by: usize, shard: usize) -> usize {
        ports.start + (shard + by - ports.start % by) % by
    }

    /// The lane of `port`, if this slab has it.
    fn lane(&self, port: usize) -> Option<usize> {
        let at = port.checked_sub(Self::first(&self.ports, self.by, self.shard))?;
        (self.ports.contains(&port) && at % self.by == 0).then_some(at / self.by)
    }
}

/// One shard of a room spread over several workers.
#[derive(Clone, Copy, Debug)]
struct Shard {
    id: PartitionId,
    kernel: NodeKey,
    legs: usize,
    /// The room's ports its kernel's store has places for (the room's capacity, unless
    /// the edit that grew it could not be sent).
    ports: usize,
}

impl Room {
    /// Creates an empty plain room mixing at `format`, with mixer ports for `capacity` legs
    /// to start with (it grows when full): [`Room::with_config`] with
    /// [`RoomConfig::new`].
    ///
    /// # Errors
    /// As [`Engine::add_partition`].
    pub fn new(engine: &Engine, format: AudioFormat, capacity: usize) -> Result<Room, EngineError> {
        Room::with_config(engine, RoomConfig::new(format).with_capacity(capacity))
    }

    /// Creates an empty room as `config` says.
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, Room, RoomConfig};
    /// use rvoip_media_core::prelude::*;
    ///
    /// let (engine, _driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let mut room = Room::with_config(&engine, RoomConfig::new(AudioFormat::mono(8000)).with_max_members(2)).unwrap();
    /// room.join(&engine, "a", LegMedia::Audio).unwrap();
    /// room.join(&engine, "b", LegMedia::Audio).unwrap();
    /// assert!(matches!(room.join(&engine, "c", LegMedia::Audio), Err(EngineError::RoomFull { limit: 2, .. })));
    /// ```
    ///
    /// # Errors
    /// As [`Engine::add_partition`].
    pub fn with_config(engine: &Engine, config: RoomConfig) -> Result<Room, EngineError> {
        if config.kernel && config.kernel_workers > 1 {
            return Self::spread(engine, config);
        }
        let capacity = config.capacity.max(1);
        let heard = (config.heard_board && config.policy.is_some()).then(|| Arc::new(HeardBoard::new()));
        let mut b = GraphBuilder::new(engine.config().quantum);
        let events = if config.kernel {
            let (kernel, events) = Self::build_kernel(engine, &config, capacity, None)?;
            let kernel = match &heard {
                Some(board) => kernel.with_heard_board(board.clone()),
                None => kernel,
            };
            b.add_node("kernel", Box::new(kernel));
            events
        } else {
            let (mixer, events) = Self::build_mixer(engine, &config, capacity, &[], heard.as_ref());
            b.add_node("mixer", Box::new(mixer));
            events
        };
        let part = engine.add_partition(b.build()?)?;
        let mixer = engine.node_key(part.id, if config.kernel { "kernel" } else { "mixer" })?;
        Ok(Room {
            id: part.id,
            mixer,
            config,
            capacity,
            free: (0..capacity).collect(),
            legs: BTreeMap::new(),
            names: vec![None; capacity],
            shared: BTreeMap::new(),
            events: events.into_iter().collect(),
            talking: BTreeSet::new(),
            dominant: None,
            recorders: 0,
            recordings: 0,
            shards: Vec::new(),
            heard,
            slabs: if config.kernel {
                vec![LaneSlab::new(0..capacity, 1, 0, engine.config().ring_capacity)]
            } else {
                Vec::new()
            },
        })
    }

    /// A kernel room spread over `config.kernel_workers` workers (see
    /// [`RoomConfig::with_kernel_workers`]): a shard on each of workers 0, 1, ..., with
    /// `config.capacity` ports to start with (at least one per shard).
    fn spread(engine: &Engine, config: RoomConfig) -> Result<Room, EngineError> {
        let (w, workers) = (config.kernel_workers, engine.workers());
        if w > workers {
            return Err(EngineError::TooFewWorkers { asked: w, workers });
        }
        let capacity = config.capacity.max(w);
        let quantum = engine.config().quantum;
        let q = config.format.samples_per_quantum(quantum).unwrap_or(0);
        let talkers = config.policy.map(|p| p.max_talkers);
        if talkers.is_some_and(|n| !(1..=MAX_SPREAD_TALKERS).contains(&n)) {
            return Err(setup(
                "kernel",
                format!("a room spread over several workers hears 1..={MAX_SPREAD_TALKERS} talkers"),
            ));
        }
        // One row per shard: its legs' part of the room's total (with a policy: its legs
        // that may be heard, with their rows).
        let rows = SharedRows::new(w, shared_row_len(q, talkers)).ok_or_else(|| {
            setup("kernel", format!("a room spreads over 1..={} workers with a whole quantum", rows::MAX_SHARDS))
        })?;
        let rows = std::sync::Arc::new(rows);
        let deadline = match config.kernel_wait {
            Some(wait) => PartnerDeadline::Fixed(wait.as_nanos() as u64),
            None => PartnerDeadline::pass2(quantum.duration().as_nanos() as u64),
        };
        let mut shards: Vec<Shard> = Vec::with_capacity(w);
        let mut events = Vec::new();
        // Every shard chooses alike; the first publishes whom the room heard.
        let heard = (config.heard_board && talkers.is_some()).then(|| Arc::new(HeardBoard::new()));
        for k in 0..w {
            let placed = (|| {
                let spread = Spread::new(rows.clone(), k, deadline, q, talkers);
                let shard = Some((spread, capacity.div_ceil(w), capacity));
                let (kernel, shard_events) = Self::build_kernel(engine, &config, 1, shard)?;
                let kernel = match heard.as_ref().filter(|_| k == 0) {
                    Some(board) => kernel.with_heard_board(board.clone()),
                    None => kernel,
                };
                events.extend(shard_events);
                let mut b = GraphBuilder::new(quantum);
                b.add_node("kernel", Box::new(kernel));
                let part = engine.add_partition_to(b.build()?, k)?;
                Ok::<_, EngineError>(Shard {
                    id: part.id,
                    kernel: engine.node_key(part.id, "kernel")?,
                    legs: 0,
                    ports: capacity,
                })
            })();
            match placed {
                Ok(s) => shards.push(s),
                Err(e) => {
                    for s in &shards {
                        let _ = engine.remove_partition(s.id);
                    }
                    return Err(e);
                }
            }
        }
        Ok(Room {
            id: shards[0].id,
            mixer: shards[0].kernel,
            config: RoomConfig { capacity, ..config },
            capacity,
            free: (0..capacity).collect(),
            legs: BTreeMap::new(),
            names: vec![None; capacity],
            shared: BTreeMap::new(),
            events,
            talking: BTreeSet::new(),
            dominant: None,
            recorders: 0,
            recordings: 0,
            shards,
            heard,
            slabs: (0..w).map(|k| LaneSlab::new(0..capacity, w, k, engine.config().ring_capacity)).collect(),
        })
    }

    /// The partitions of a room spread over several workers, by shard (shard `k` on worker
    /// `k`); empty for a room on one worker (its partition is [`Room::id`]).
    ///
    /// ```
    /// use rvoip_media_core::conference::{Room, RoomConfig};
    /// use rvoip_media_core::prelude::*;
    /// let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    /// let room = Room::with_config(&engine, RoomConfig::new(AudioFormat::mono(8000)).with_kernel_workers(2)).unwrap();
    /// let shards = room.shards();
    /// assert_eq!((shards.len(), shards[0]), (2, room.id()));
    /// assert!(Room::new(&engine, AudioFormat::mono(8000), 4).unwrap().shards().is_empty());
    /// ```
    pub fn shards(&self) -> Vec<PartitionId> {
        self.shards.iter().map(|s| s.id).collect()
    }

    /// The shard (and so the worker, shard `k` on worker `k`) that runs leg `name` in a room
    /// spread over several workers; 0 in a room on one worker; `None` for no such leg.
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, Room, RoomConfig};
    /// use rvoip_media_core::prelude::*;
    /// use rvoip_media_nodes::codec::CodecId;
    /// let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    /// let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4).with_kernel_workers(2);
    /// let mut room = Room::with_config(&engine, config).unwrap();
    /// for (ssrc, name) in [(1, "a"), (2, "b")] {
    ///     room.join(&engine, name, LegMedia::codec(CodecId::Pcmu, 10_000, ssrc).unwrap()).unwrap();
    /// }
    /// let (a, b) = (room.shard_of("a").unwrap(), room.shard_of("b").unwrap());
    /// assert_eq!((a.min(b), a.max(b)), (0, 1));
    /// assert_eq!(room.shard_of("c"), None);
    /// ```
    pub fn shard_of(&self, name: &str) -> Option<usize> {
        self.port_of(name).map(|port| self.shard_at(port))
    }

    /// The shard that runs the leg on `port` (0 in a room on one worker).
    fn shard_at(&self, port: usize) -> usize {
        port % self.shards.len().max(1)
    }

    /// The partition and node that run the leg on `port`: its shard's kernel in a spread
    /// room, else the room's partition and mixer (or kernel).
    fn runner(&self, port: usize) -> (PartitionId, NodeKey) {
        match self.shards.get(self.shard_at(port)) {
            Some(s) => (s.id, s.kernel),
            None => (self.id, self.mixer),
        }
    }

    /// A mixer of `capacity` ports for `config`, members `ports` with their settings.
    fn build_mixer(
        engine: &Engine,
        config: &RoomConfig,
        capacity: usize,
        ports: &[(usize, MemberSettings)],
        heard: Option<&Arc<HeardBoard>>,
    ) -> (Mixer, Option<MixerEvents>) {
        let mut m = Mixer::with_capacity(capacity, config.format).with_members(ports.iter().map(|(p, _)| *p));
        for &(p, s) in ports {
            m = m.with_settings(p, s);
        }
        match config.policy {
            Some(policy) => {
                let (tx, rx) = event_ring(config.event_capacity);
                let m = m.with_policy(policy, engine.config().quantum).with_events(tx);
                (if let Some(b) = heard { m.with_heard_board(b.clone()) } else { m }, Some(rx))
            }
            None => (m, None),
        }
    }

    /// A kernel room's node for `capacity` legs (see [`RoomConfig::with_kernel`]), and
    /// with a talker policy the control side's end of its events.
    fn build_kernel(
        engine: &Engine,
        config: &RoomConfig,
        capacity: usize,
        shard: Option<(Spread, usize, usize)>,
    ) -> Result<(RoomKernel, Option<MixerEvents>), EngineError> {
        let ec = engine.config();
        let q = config.format.samples_per_quantum(ec.quantum).unwrap_or(0);
        if q == 0 {
            return Err(setup("kernel", "the room's rate has no whole quantum"));
        }
        let pool = engine.packet_pool().clone();
        let kernel = RoomKernel::new(capacity, q, pool, ec.packets_per_cycle, ec.telemetry_interval);
        // A shard's store first: the policy's selection covers the room's ports.
        let kernel = match shard {
            Some((spread, capacity, ports)) => kernel.into_shard(spread, capacity, ports),
            None => kernel,
        };
        Ok(match config.policy {
            Some(policy) => {
                let (tx, rx) = event_ring(config.event_capacity);
                (kernel.with_policy(policy, ec.quantum, tx), Some(rx))
            }
            None => (kernel, None),
        })
    }

    /// The room's partition.
    pub fn id(&self) -> PartitionId {
        self.id
    }

    /// The mixer's key (a kernel room's: its kernel node).
    pub fn mixer(&self) -> NodeKey {
        self.mixer
    }

    /// Mixer ports (grows as legs join).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The room's configuration.
    pub fn config(&self) -> &RoomConfig {
        &self.config
    }

    /// Names of the legs in the room.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.legs.keys().map(String::as_str)
    }

    /// The mixer port of a leg.
    pub fn port_of(&self, name: &str) -> Option<usize> {
        self.legs.get(name).map(|l| l.port)
    }

    /// The leg on a mixer port (the inverse of [`Room::port_of`]; e.g. the mixer's
    /// `dominant` telemetry is a port).
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, Room};
    /// use rvoip_media_core::prelude::*;
    /// let (engine, _driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let mut room = Room::new(&engine, AudioFormat::mono(8000), 4).unwrap();
    /// room.join(&engine, "a", LegMedia::Audio).unwrap();
    /// let port = room.port_of("a").unwrap();
    /// assert_eq!(room.member_at(port), Some("a"));
    /// assert_eq!(room.member_at(3), None);
    /// ```
    pub fn member_at(&self, port: usize) -> Option<&str> {
        self.names.get(port)?.as_deref()
    }

    /// The key of an RTP leg's decoder (for its telemetry; `None` in a kernel room, whose
    /// legs' counters are in [`Room::stats`]).
    pub fn decoder_of(&self, name: &str) -> Option<NodeKey> {
        self.legs.get(name).and_then(|l| l.decode)
    }

    /// The key of an RTP leg's encoder (for its telemetry; `None` in a kernel room).
    pub fn encoder_of(&self, name: &str) -> Option<NodeKey> {
        self.legs.get(name).and_then(|l| l.encode)
    }

    fn unknown(&self, name: &str) -> EngineError {
        EngineError::UnknownNodeName { partition: self.id, name: name.to_string() }
    }

    /// Adds a participant while the room runs; its endpoints are in the returned
    /// [`Committed::io`]. It is heard, and hears the others, from the cycle that applies
    /// the edit.
    ///
    /// # Errors
    /// [`EngineError::RoomFull`] at the member limit, [`EngineError::Graph`] (a duplicate
    /// name), [`EngineError::NodeSetup`] (a codec refusing the ptime, a rate the resampler
    /// cannot convert), and those of [`Edit::commit`].
    pub fn join(&mut self, engine: &Engine, name: &str, media: LegMedia) -> Result<Committed, EngineError> {
        self.join_many(engine, [(name.to_string(), media)])
    }

    /// As [`Room::join`] with a processing chain and settings of the member's own.
    ///
    /// # Errors
    /// As [`Room::join`].
    pub fn join_with(
        &mut self,
        engine: &Engine,
        name: &str,
        media: LegMedia,
        options: LegOptions,
    ) -> Result<Committed, EngineError> {
        self.join_many_with(engine, [(name.to_string(), media, options)], |_| {})
    }

    /// Adds several participants in one edit (one compile, one cycle boundary): how a room
    /// of many legs is set up.
    ///
    /// # Errors
    /// As [`Room::join`]; on error nobody joined.
    pub fn join_many(
        &mut self,
        engine: &Engine,
        legs: impl IntoIterator<Item = (String, LegMedia)>,
    ) -> Result<Committed, EngineError> {
        self.join_many_primed(engine, legs, |_| {})
    }

    /// As [`Room::join_many`], calling `prime` with the new legs' endpoints before the edit
    /// is sent: packets or audio queued there are waiting when the legs go live (their
    /// first cycle already has them).
    ///
    /// # Errors
    /// As [`Room::join`]; on error nobody joined.
    pub fn join_many_primed(
        &mut self,
        engine: &Engine,
        legs: impl IntoIterator<Item = (String, LegMedia)>,
        prime: impl FnOnce(&mut PartitionIo),
    ) -> Result<Committed, EngineError> {
        self.join_many_with(engine, legs.into_iter().map(|(n, m)| (n, m, LegOptions::default())), prime)
    }

    /// As [`Room::join_many_primed`], each leg with its [`LegOptions`].
    ///
    /// # Errors
    /// As [`Room::join`]; on error nobody joined.
    pub fn join_many_with(
        &mut self,
        engine: &Engine,
        legs: impl IntoIterator<Item = (String, LegMedia, LegOptions)>,
        prime: impl FnOnce(&mut PartitionIo),
    ) -> Result<Committed, EngineError> {
        if !self.shards.is_empty() {
            return self.join_spread(engine, legs, prime);
        }
        let mut edit = engine.edit(self.id)?;
        let before = (self.free.clone(), self.capacity, self.mixer, self.shared.clone(), self.names.clone());
        let events_before = self.events.len();
        let mut added: Vec<(String, Leg)> = Vec::new();
        let result = (|| {
            for (name, media, options) in legs {
                let leg = self.add_leg(&mut edit, engine, &name, media, options, &added)?;
                added.push((name, leg));
            }
            prime(edit.io());
            edit.commit()
        })();
        match result {
            Ok(done) => {
                for (name, leg) in added {
                    self.names[leg.port] = Some(name.clone());
                    self.legs.insert(name, leg);
                }
                Ok(done)
            }
            Err(e) => {
                (self.free, self.capacity, self.mixer, self.shared, self.names) = before;
                self.events.truncate(events_before);
                Err(e)
            }
        }
    }

    /// [`Room::join_many_with`] for a spread room: as many legs to each shard as joining
    /// them one by one to the shard with the fewest legs would send it, in runs — the
    /// first ones of `legs` to shard 0, the next to shard 1, ... — each at its shard's lowest
    /// free port; one edit per shard. A caller builds its legs' codecs in their order, so
    /// a shard's legs lie together in memory in the order its worker runs them, as one
    /// worker's legs do (dealt out in turn, each shard's legs were every `w`-th codec and
    /// cost about a fifth more a leg; BENCHMARKS.md, session 44). On an error before the edits
    /// are sent nobody joined; if a shard's edit fails to be sent, the legs of the shards
    /// sent before it have joined (the error says which partition).
    fn join_spread(
        &mut self,
        engine: &Engine,
        legs: impl IntoIterator<Item = (String, LegMedia, LegOptions)>,
        prime: impl FnOnce(&mut PartitionIo),
    ) -> Result<Committed, EngineError> {
        let legs: Vec<_> = legs.into_iter().collect();
        // The whole batch or nobody, decided before any room is made for it.
        self.check_room_for(legs.len())?;
        let w = self.shards.len();
        let mut edits: Vec<Option<Edit<'_>>> = (0..w).map(|_| None).collect();
        let before = (self.free.clone(), self.shards.clone(), self.capacity, self.slabs.len());
        let shared_before = self.shared.clone();
        let mut added: Vec<(String, Leg)> = Vec::new();
        let mut runs = self.shard_runs(legs.len());
        let built = (|| {
            // Room for every run first (as many doublings as joining one by one would make).
            while (0..runs.len()).any(|k| self.spread_free_in(k).count() < runs[k]) {
                self.grow_spread(&mut edits, engine)?;
            }
            for (name, media, options) in legs {
                // Every leg has its run (they add up to the batch), and its shard a place.
                let Some(k) = runs.iter().position(|&n| n > 0) else { return Err(self.unknown(&name)) };
                let port = self.spread_free_in(k).next().ok_or_else(|| self.unknown(&name))?;
                runs[k] -= 1;
                let shard = self.shards[k];
                let edit = match &mut edits[k] {
                    Some(e) => e,
                    slot => slot.insert(engine.edit(shard.id)?),
                };
                let leg = self.kernel_leg(edit, engine, &name, media, options, port, shard.kernel)?;
                self.shards[k].legs += 1;
                added.push((name, leg));
            }
            Ok(())
        })();
        if let Err(e) = built {
            let (free, shards, capacity, slabs) = before;
            (self.free, self.shards, self.capacity, self.shared) = (free, shards, capacity, shared_before);
            self.slabs.truncate(slabs);
            self.names.truncate(capacity);
            return Err(e);
        }
        let mut io = PartitionIo { inputs: Vec::new(), outputs: Vec::new() };
        for e in edits.iter_mut().flatten() {
            io.inputs.append(&mut e.io().inputs);
            io.outputs.append(&mut e.io().outputs);
        }
        prime(&mut io);
        let mut ticket = None;
        let mut result = Ok(());
        for (k, e) in edits.into_iter().enumerate() {
            let Some(e) = e else { continue };
            match e.commit() {
                Ok(c) => ticket = Some(c.ticket),
                Err(err) => {
                    // Not sent: this shard did not grow (if this join grew the room), its legs
                    // did not join and its shared encodes are as they were.
                    self.shards[k].ports = before.1[k].ports;
                    self.shared.retain(|&(_, shard), _| shard != k);
                    self.shared
                        .extend(shared_before.iter().filter(|((_, s), _)| *s == k).map(|(key, e)| (*key, e.clone())));
                    added.retain(|(_, l)| {
                        let gone = l.port % w == k;
                        if gone {
                            self.free.insert(l.port);
                            self.shards[k].legs -= 1;
                        }
                        !gone
                    });
                    result = Err(err);
                }
            }
        }
        for (name, leg) in added {
            self.names[leg.port] = Some(name.clone());
            self.legs.insert(name, leg);
        }
        result?;
        // Every leg joined through a sent edit: at least one ticket, unless nothing joined.
        let ticket = match ticket {
            Some(t) => t,
            None => engine.ping(0)?,
        };
        Ok(Committed { ticket, io })
    }

    /// Members counted against the limit (recorders are not).
    fn member_count(&self, pending: usize) -> usize {
        self.legs.len() + pending - self.recorders
    }

    /// [`EngineError::RoomFull`] unless `joining` more members fit under the member limit.
    fn check_room_for(&self, joining: usize) -> Result<(), EngineError> {
        match self.config.max_members {
            Some(limit) if self.member_count(joining) > limit => {
                Err(EngineError::RoomFull { partition: self.id, limit })
            }
            _ => Ok(()),
        }
    }

    /// Adds one leg's nodes and edges to `edit` and takes its mixer port.
    fn add_leg(
        &mut self,
        edit: &mut Edit<'_>,
        engine: &Engine,
        name: &str,
        media: LegMedia,
        options: LegOptions,
        pending: &[(String, Leg)],
    ) -> Result<Leg, EngineError> {
        self.check_room_for(pending.len() + 1)?;
        if self.config.kernel {
            return self.add_kernel_leg(edit, engine, name, media, options);
        }
        if self.free.is_empty() {
            self.grow(edit, engine, pending)?;
        }
        let port = *self.free.first().ok_or_else(|| self.unknown(name))?;
        let room = PortKind::Audio(self.config.format);
        let q = engine.config().quantum;
        let rate = self.config.format.rate;
        let mut leg = match media {
            LegMedia::Audio => {
                let i = edit.add_input(format!("{name}.in"), room)?;
                let o = edit.add_output(format!("{name}.out"), room)?;
                Leg {
                    port,
                    nodes: vec![i, o],
                    to_mixer: Some(i),
                    from_mixer: o,
                    decode: None,
                    encode: None,
                    vad: None,
                    variant: None,
                    codec: None,
                    settings: options.settings,
                    kernel: None,
                }
            }
            LegMedia::Rtp { encoder, decoder, ptime_us, ssrc } => {
                let codec = |e: rvoip_media_nodes::codec::CodecError| setup(name, e);
                let variant = self.share_variant(&*encoder, engine);
                if let Some(v) = variant {
                    self.use_shared(edit, engine, v, &*encoder)?;
                }
                let enc = leg_encoder(EncodeNode::new(encoder, ptime_us, q).map_err(codec)?.with_ssrc(ssrc), &options);
                let enc = if variant.is_some() { enc.with_shared_input().map_err(codec)? } else { enc };
                let (tx_kind, enc_rate) = (enc.info().packet_format(), enc.info().sample_rate);
                let dec_codec = decoder.info().encoding;
                let (d, rx_kind, dec_rate) = match &options.jitter {
                    None => {
                        let dec = leg_decoder(name, decoder, q, options.skip_silent_at)?;
                        let (k, r) = (dec.info().packet_format(), dec.info().sample_rate);
                        (edit.add_node(format!("{name}.decode"), Box::new(dec))?, k, r)
                    }
                    Some(cfg) => {
                        let (k, r) = (decoder.info().packet_format(), decoder.info().sample_rate);
                        let jb = leg_jitter(name, decoder, *cfg, q, options.skip_silent_at)?;
                        (edit.add_node(format!("{name}.jitter"), Box::new(jb))?, k, r)
                    }
                };
                let rx = edit.add_input(format!("{name}.rx"), PortKind::Packet(rx_kind))?;
                let tx = edit.add_output(format!("{name}.tx"), PortKind::Packet(tx_kind))?;
                let e = edit.add_node(format!("{name}.encode"), Box::new(enc))?;
                edit.connect(rx, 0, d, 0)?;
                edit.connect(e, 0, tx, 0)?;
                let mut nodes = vec![rx, tx, d, e];
                let to_mixer = self.resampler(edit, &mut nodes, format!("{name}.up"), d, dec_rate, rate)?;
                let from_mixer = match self.resample_node(edit, format!("{name}.down"), rate, enc_rate)? {
                    Some(r) => {
                        edit.connect(r, 0, e, 0)?;
                        nodes.push(r);
                        r
                    }
                    None => e,
                };
                Leg {
                    port,
                    nodes,
                    to_mixer: Some(to_mixer),
                    from_mixer,
                    decode: Some(d),
                    encode: Some(e),
                    vad: None,
                    variant,
                    codec: Some((dec_codec, dec_rate)),
                    settings: options.settings,
                    kernel: None,
                }
            }
        };
        // The processing chain at the room's rate.
        let mut chain = leg.to_mixer.ok_or_else(|| self.unknown(name))?;
        if let Some(level) = options.ns {
            let ns = NoiseSuppressor::new(NsConfig::new(rate).with_level(level)).map_err(|e| setup(name, e))?;
            let k = edit.add_node(format!("{name}.ns"), Box::new(ns))?;
            edit.connect(chain, 0, k, 0)?;
            leg.nodes.push(k);
            chain = k;
        }
        if options.agc {
            let agc = Agc::new(AdvancedAgcConfig::new(rate)).map_err(|e| setup(name, e))?;
            let k = edit.add_node(format!("{name}.agc"), Box::new(agc))?;
            edit.connect(chain, 0, k, 0)?;
            leg.nodes.push(k);
            chain = k;
        }
        if options.vad && self.config.policy.is_some() {
            let vad = Vad::new(AdvancedVadConfig::new(rate)).map_err(|e| setup(name, e))?;
            let k = edit.add_node(format!("{name}.vad"), Box::new(vad))?;
            edit.connect(chain, 0, k, 0)?;
            leg.nodes.push(k);
            leg.vad = Some(k);
            leg.settings.vad = true;
        }
        leg.to_mixer = Some(chain);
        self.wire(edit, self.mixer, self.capacity, &leg)?;
        if let (Some(e), Some(s)) = (leg.encode, leg.variant.and_then(|v| self.shared.get(&(v, 0)))) {
            // The shared encode's packets (not the mixer's: kept when the mixer grows).
            edit.connect(s.encode, 0, e, 1)?;
        }
        edit.message(self.mixer, MixerMembership::Join(port))?;
        if !leg.settings.is_default() {
            edit.message(self.mixer, MemberUpdate { port, settings: leg.settings })?;
        }
        self.free.remove(&port);
        Ok(leg)
    }

    /// What a kernel room refuses of a leg ([`RoomConfig::with_kernel`]).
    fn check_kernel_leg(&self, name: &str, media: &LegMedia, options: &LegOptions) -> Result<(), EngineError> {
        let refuse = |why: &str| Err(setup(name, format!("a kernel room takes {why}")));
        let LegMedia::Rtp { encoder, decoder, .. } = media else {
            return refuse("RTP legs only");
        };
        if options.ns.is_some() || options.agc || options.vad {
            return refuse("legs without a processing chain (NS, AGC, VAD; a jitter buffer is run)");
        }
        let rate = self.config.format.rate;
        if decoder.info().sample_rate != rate || encoder.info().sample_rate != rate {
            return refuse("codecs at the room's rate only (no resampler)");
        }
        if !options.settings.is_valid() {
            return refuse("gains that are finite and at most +40 dB");
        }
        Ok(())
    }

    /// Adds an RTP leg to a kernel room: its decode and encode nodes and ring ends travel
    /// to the kernel in one message; the host ends are `{name}.rx` / `{name}.tx` in the
    /// edit's endpoints, as for a leg of nodes.
    fn add_kernel_leg(
        &mut self,
        edit: &mut Edit<'_>,
        engine: &Engine,
        name: &str,
        media: LegMedia,
        options: LegOptions,
    ) -> Result<Leg, EngineError> {
        self.check_kernel_leg(name, &media, &options)?;
        if self.free.is_empty() {
            self.grow_kernel(edit, engine)?;
        }
        let port = *self.free.first().ok_or_else(|| self.unknown(name))?;
        self.kernel_leg(edit, engine, name, media, options, port, self.mixer)
    }

    /// Builds an RTP leg on `port` of a kernel room and sends it to kernel node `kernel`
    /// (the room's, or a shard's) in `edit`.
    #[allow(clippy::too_many_arguments)]
    fn kernel_leg(
        &mut self,
        edit: &mut Edit<'_>,
        engine: &Engine,
        name: &str,
        media: LegMedia,
        options: LegOptions,
        port: usize,
        kernel: NodeKey,
    ) -> Result<Leg, EngineError> {
        self.check_kernel_leg(name, &media, &options)?;
        let LegMedia::Rtp { encoder, decoder, ptime_us, ssrc } = media else { return Err(self.unknown(name)) };
        let rate = self.config.format.rate;
        let q = engine.config().quantum;
        let codec = |e: rvoip_media_nodes::codec::CodecError| setup(name, e);
        let (dec_codec, dec_kind) = (decoder.info().encoding, decoder.info().packet_format());
        let dec = match options.jitter {
            None => LegDecode::Plain(leg_decoder(name, decoder, q, options.skip_silent_at)?),
            Some(cfg) => LegDecode::Buffered(Box::new(leg_jitter(name, decoder, cfg, q, options.skip_silent_at)?)),
        };
        // A policy room's listeners share an encode per codec variant (and shard).
        let variant = self.share_variant(&*encoder, engine);
        let slot = match variant {
            Some(v) => self.use_kernel_shared(edit, engine, (v, self.shard_at(port)), &*encoder, kernel)?,
            None => None,
        };
        let enc = leg_encoder(EncodeNode::new(encoder, ptime_us, q).map_err(codec)?.with_ssrc(ssrc), &options);
        let enc = if slot.is_some() { enc.with_shared_input().map_err(codec)? } else { enc };
        let (rx_kind, tx_kind) = (PortKind::Packet(dec_kind), PortKind::Packet(enc.info().packet_format()));
        let slab = self.slabs.iter().find_map(|s| Some((s, s.lane(port)?)));
        let Some((slab, lane)) = slab else { return Err(self.unknown(name)) };
        let ((rx, rx_host), (tx, tx_host)) = engine.packet_lanes(&slab.inn, &slab.out, lane);
        edit.io().inputs.push((format!("{name}.rx"), rx_kind, InputEndpoint::Packet(rx_host)));
        edit.io().outputs.push((format!("{name}.tx"), tx_kind, OutputEndpoint::Packet(tx_host)));
        let (leg, stats) = KernelLeg::new(port, dec, enc, rx, tx, options.settings);
        let leg = match slot {
            Some(k) => leg.with_shared_slot(k),
            None => leg,
        };
        edit.message(kernel, KernelJoin(Some(leg)))?;
        self.free.remove(&port);
        Ok(Leg {
            port,
            nodes: Vec::new(),
            to_mixer: None,
            from_mixer: kernel,
            decode: None,
            encode: None,
            vad: None,
            variant: variant.filter(|_| slot.is_some()),
            codec: Some((dec_codec, rate)),
            settings: options.settings,
            kernel: Some(stats),
        })
    }

    /// Shard `k`'s free ports its store has places for, lowest first.
    fn spread_free_in(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        let w = self.shards.len();
        self.free.iter().copied().filter(move |&p| p % w == k && p < self.shards[k].ports)
    }

    /// How many of `n` joining legs each shard takes: as many as joining them one by one
    /// to the shard with the fewest legs (the lowest first on a tie) would send it.
    fn shard_runs(&self, n: usize) -> Vec<usize> {
        let mut legs: Vec<usize> = self.shards.iter().map(|s| s.legs).collect();
        let mut runs = vec![0; legs.len()];
        for _ in 0..n {
            let Some(k) = (0..legs.len()).min_by_key(|&k| (legs[k], k)) else { break };
            legs[k] += 1;
            runs[k] += 1;
        }
        runs
    }

    /// A spread room out of places: every shard gets a store twice as large, its legs
    /// moved into it by its worker in the same edit as the joins (the shared rows are one
    /// row per shard and stay), and lanes for its new ports.
    fn grow_spread<'e>(&mut self, edits: &mut [Option<Edit<'e>>], engine: &'e Engine) -> Result<(), EngineError> {
        let w = self.shards.len();
        let capacity = self.capacity * 2;
        let q = self.config.format.samples_per_quantum(engine.config().quantum).unwrap_or(0);
        for (k, slot) in edits.iter_mut().enumerate() {
            let shard = self.shards[k];
            let edit = match slot {
                Some(e) => e,
                slot => slot.insert(engine.edit(shard.id)?),
            };
            let store = KernelStore::with_ports(capacity.div_ceil(w), capacity, q);
            let store = match self.config.policy {
                Some(policy) => store.with_policy(policy, engine.config().quantum, q),
                None => store,
            };
            edit.message(shard.kernel, KernelGrow(store))?;
            self.shards[k].ports = capacity;
            self.slabs.push(LaneSlab::new(self.capacity..capacity, w, k, engine.config().ring_capacity));
        }
        self.take_ports(capacity);
        Ok(())
    }

    /// The room now has `capacity` ports: the new ones are free and nameless.
    fn take_ports(&mut self, capacity: usize) {
        self.free.extend(self.capacity..capacity);
        self.names.resize(capacity, None);
        self.capacity = capacity;
    }

    /// A kernel room out of places: a store twice as large, the legs moved into it by the
    /// worker in the same edit as the join (the kernel node and its legs stay).
    fn grow_kernel(&mut self, edit: &mut Edit<'_>, engine: &Engine) -> Result<(), EngineError> {
        let capacity = self.capacity * 2;
        let q = self.config.format.samples_per_quantum(engine.config().quantum).unwrap_or(0);
        let store = KernelStore::new(capacity, q);
        let store = match self.config.policy {
            Some(policy) => store.with_policy(policy, engine.config().quantum, q),
            None => store,
        };
        edit.message(self.mixer, KernelGrow(store))?;
        self.slabs.push(LaneSlab::new(self.capacity..capacity, 1, 0, engine.config().ring_capacity));
        self.take_ports(capacity);
        Ok(())
    }

    /// Connects a leg to mixer `mixer` of `capacity` ports: audio both ways, and in a
    /// policy room its VAD flag and the hear mark its shared-input encoder reads (every edge
    /// that ends or starts at the mixer, so growth redoes exactly these).
    fn wire(&self, edit: &mut Edit<'_>, mixer: NodeKey, capacity: usize, leg: &Leg) -> Result<(), EngineError> {
        if let Some(t) = leg.to_mixer {
            edit.connect(t, 0, mixer, leg.port)?;
        }
        edit.connect(mixer, leg.port, leg.from_mixer, 0)?;
        if self.config.policy.is_some() {
            if let Some(v) = leg.vad {
                // The VAD's outputs: 0 probability, 1 speech.
                edit.connect(v, 1, mixer, capacity + leg.port)?;
            }
            if let (Some(e), Some(_)) = (leg.encode, leg.variant) {
                edit.connect(mixer, capacity + leg.port, e, 2)?;
            }
        }
        Ok(())
    }

    /// A resampler from `from` Hz to `to` Hz after `source` (none when equal); returns the
    /// node that now carries the audio.
    fn resampler(
        &self,
        edit: &mut Edit<'_>,
        nodes: &mut Vec<NodeKey>,
        name: String,
        source: NodeKey,
        from: u32,
        to: u32,
    ) -> Result<NodeKey, EngineError> {
        match self.resample_node(edit, name, from, to)? {
            Some(r) => {
                edit.connect(source, 0, r, 0)?;
                nodes.push(r);
                Ok(r)
            }
            None => Ok(source),
        }
    }

    fn resample_node(
        &self,
        edit: &mut Edit<'_>,
        name: String,
        from: u32,
        to: u32,
    ) -> Result<Option<NodeKey>, EngineError> {
        if from == to {
            return Ok(None);
        }
        let node = ResamplerNode::new(from, to, self.config.format.channels).map_err(|e| setup(&name, e))?;
        Ok(Some(edit.add_node(name, Box::new(node))?))
    }

    /// Replaces the mixer by one with twice the ports, same members and settings, every leg
    /// rewired (those already in the room and those `pending` in this edit), in the same
    /// edit as the join that needs it. A plain mixer keeps no state between cycles besides
    /// its membership; a policy mixer's talker and dominant-speaker history starts afresh
    /// (a room with a member limit has all its ports from the start and never grows).
    fn grow(&mut self, edit: &mut Edit<'_>, engine: &Engine, pending: &[(String, Leg)]) -> Result<(), EngineError> {
        let capacity = self.capacity * 2;
        let legs: Vec<&Leg> = self.legs.values().chain(pending.iter().map(|(_, l)| l)).collect();
        let ports: Vec<(usize, MemberSettings)> = legs.iter().map(|l| (l.port, l.settings)).collect();
        let (mixer, events) = Self::build_mixer(engine, &self.config, capacity, &ports, self.heard.as_ref());
        edit.remove(self.mixer)?;
        let key = edit.add_node("mixer", Box::new(mixer))?;
        for leg in &legs {
            self.wire(edit, key, capacity, leg)?;
        }
        for s in self.shared.values() {
            edit.connect(key, 2 * capacity, s.input, 0)?;
        }
        self.events.extend(events);
        self.take_ports(capacity);
        self.mixer = key;
        Ok(())
    }

    /// Removes a participant while the room runs: its nodes leave the graph (their host
    /// endpoints report `is_abandoned`), its mixer port leaves the mix in the same cycle.
    ///
    /// # Errors
    /// [`EngineError::UnknownNodeName`] for a name not in the room, and those of
    /// [`Edit::commit`].
    pub fn leave(&mut self, engine: &Engine, name: &str) -> Result<Ticket, EngineError> {
        let leg = self.legs.get(name).ok_or_else(|| self.unknown(name))?.clone();
        let (id, runner) = self.runner(leg.port);
        let mut edit = engine.edit(id)?;
        for k in &leg.nodes {
            edit.remove(*k)?;
        }
        if self.config.kernel {
            edit.message(runner, KernelLeave { port: leg.port, leg: None })?;
        } else {
            edit.message(self.mixer, MixerMembership::Leave(leg.port))?;
        }
        let shared_before = self.shared.clone();
        if let Some(v) = leg.variant {
            if let Err(e) = self.release_shared(&mut edit, (v, self.shard_at(leg.port))) {
                self.shared = shared_before;
                return Err(e);
            }
        }
        let ticket = match edit.commit() {
            Ok(c) => c.ticket,
            Err(e) => {
                self.shared = shared_before;
                return Err(e);
            }
        };
        self.legs.remove(name);
        self.free.insert(leg.port);
        let k = self.shard_at(leg.port);
        if let Some(s) = self.shards.get_mut(k) {
            s.legs -= 1;
        }
        self.names[leg.port] = None;
        self.talking.remove(&leg.port);
        Ok(ticket)
    }

    /// Switches an RTP leg to another codec of the same sample rate (a re-INVITE): the new
    /// decoder takes the next packet, the new encoder starts at the next packet boundary
    /// with the same SSRC and continuing sequence numbers and timestamps. A leg on a shared
    /// encode goes on splicing only while the codec is the shared one's; after a switch to
    /// another it encodes its own.
    ///
    /// # Errors
    /// [`EngineError::UnknownNodeName`] for a name not in the room or not an RTP leg,
    /// [`EngineError::NodeSetup`]; a rate change is refused by the nodes (see
    /// [`Engine::outcome`]).
    pub fn switch_codec(
        &mut self,
        engine: &Engine,
        name: &str,
        encoder: Box<dyn Encoder>,
        decoder: Box<dyn Decoder>,
        ptime_us: u32,
    ) -> Result<Ticket, EngineError> {
        let leg = self.legs.get(name).ok_or_else(|| self.unknown(name))?;
        let q = engine.config().quantum;
        let codec = |e: rvoip_media_nodes::codec::CodecError| setup(name, e);
        if leg.kernel.is_some() {
            let decoder = SwitchDecoder::new(decoder, q).map_err(codec)?;
            let encoder = SwitchEncoder::new(encoder, ptime_us, q).map_err(codec)?;
            let (id, runner) = self.runner(leg.port);
            let mut edit = engine.edit(id)?;
            edit.message(runner, KernelSwitch { port: leg.port, decoder, encoder })?;
            return Ok(edit.commit()?.ticket);
        }
        let (Some(d), Some(e)) = (leg.decode, leg.encode) else { return Err(self.unknown(name)) };
        let mut edit = engine.edit(self.id)?;
        edit.message(d, SwitchDecoder::new(decoder, q).map_err(codec)?)?;
        edit.message(e, SwitchEncoder::new(encoder, ptime_us, q).map_err(codec)?)?;
        Ok(edit.commit()?.ticket)
    }

    /// The talker policy, if any.
    pub fn policy(&self) -> Option<&TalkerPolicy> {
        self.config.policy.as_ref()
    }

    /// The board the mixer publishes who it mixed on (mixer ports and levels), when the
    /// room was configured with [`RoomConfig::with_heard_board`] and has a talker policy.
    pub fn heard_board(&self) -> Option<Arc<HeardBoard>> {
        self.heard.clone()
    }
}
