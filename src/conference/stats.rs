//! [`RoomStats`] and [`MemberStats`]: read from the nodes' telemetry, never stopping the
//! worker (values are as of the last telemetry publication, every
//! `EngineConfig::telemetry_interval` cycles).

use super::kernel::{BUFFERED_LEG_TELEMETRY, LEG_TELEMETRY};
use super::leg::Leg;
use super::Room;
use crate::engine::{Engine, EngineError, NodeTelemetry};
use crate::sync::seqlock::SeqLockSlice;
use rvoip_media_graph::NodeKey;
use rvoip_media_nodes::codec::{DECODE_TELEMETRY, PLAIN_ENCODE_TELEMETRY};
use rvoip_media_nodes::jitter::{JitterReport, JITTER_TELEMETRY};
use rvoip_media_nodes::mixer::MemberSettings;

/// One member's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct MemberStats {
    /// Its name.
    pub name: String,
    /// Its mixer port.
    pub port: usize,
    /// Mute, deaf, gains.
    pub settings: MemberSettings,
    /// Talking (as far as the events read say).
    pub talking: bool,
    /// The leg's codec (its decoder's encoding name; RTP legs).
    pub codec: Option<&'static str>,
    /// The rate the leg's codec runs at (Hz; RTP legs, else 0). Above the room's rate, the
    /// leg is heard and hears band-limited to the room.
    pub codec_rate: u32,
    /// Packets received and decoded (RTP legs; a leg with a jitter buffer: received).
    pub packets_in: u64,
    /// Samples its decoder or jitter buffer concealed, at the codec's rate (RTP legs; the
    /// W3C `concealedSamples`).
    pub concealed_samples: u64,
    /// Packets the decoder could not decode (RTP legs).
    pub bad_packets: u64,
    /// Packets of a payload type the leg did not negotiate, dropped (RTP legs).
    pub foreign_packets: u64,
    /// Packets not decoded because their RFC 6464 level said silence
    /// ([`LegOptions::skip_silent_at`](super::LegOptions::skip_silent_at)).
    pub skipped_decodes: u64,
    /// Samples skipped to keep the delay from growing, at the codec's rate (RTP legs: a
    /// plain decoder's lead trim, `DecodeNode::with_lead_trim`; a jitter buffer's W3C
    /// `removedSamplesForAcceleration`).
    pub removed_samples: u64,
    /// Packets sent (RTP legs).
    pub packets_out: u64,
    /// Quanta its encoder encoded itself, took from the shared encode, and sent nothing for
    /// (legs on a shared encode; 0 otherwise).
    pub own_quanta: u64,
    /// See `own_quanta`.
    pub shared_quanta: u64,
    /// See `own_quanta`.
    pub skipped_quanta: u64,
    /// Times a stateful codec's own encoder took the leg's stream back from the shared
    /// encode (the leg became a heard talker; see `EncodeNode::with_shared_input`).
    pub handoffs: u64,
    /// A leg with a jitter buffer ([`LegOptions::jitter`](super::LegOptions::jitter)): its
    /// W3C and RFC 3611 figures (concealed samples, delays, losses, ...).
    pub jitter: Option<JitterReport>,
}

/// A room's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct RoomStats {
    /// Members (recorders included).
    pub members: usize,
    /// Mixer ports.
    pub capacity: usize,
    /// Members talking (policy rooms; from the mixer).
    pub talking: usize,
    /// Members heard in the mix (policy rooms; from the mixer).
    pub heard: usize,
    /// The dominant speaker's name.
    pub dominant: Option<String>,
    /// Talk events dropped because the ring was full.
    pub events_dropped: u64,
    /// Inputs left out of the mix for NaN/Inf/huge samples.
    pub bad_inputs: u64,
    /// Shared encodes running.
    pub shared_encodes: usize,
    /// Quanta the shared encoders encoded.
    pub shared_encoder_quanta: u64,
    /// Per member, by name.
    pub per_member: Vec<MemberStats>,
}

/// A kernel leg's published values, in [`super::kernel::LEG_TELEMETRY`]'s order: the
/// decoder's telemetry, the encoder's, ring-full and pool-exhausted drops; then a buffered
/// leg's jitter report.
fn kernel_values(cell: &SeqLockSlice) -> ([u64; LEG_TELEMETRY], Option<JitterReport>) {
    let mut words = [0u64; BUFFERED_LEG_TELEMETRY];
    let n = cell.len().min(BUFFERED_LEG_TELEMETRY);
    cell.read_into(&mut words[..n]);
    let values = words.map(f64::from_bits);
    let mut leg = [0u64; LEG_TELEMETRY];
    for (o, v) in leg.iter_mut().zip(values) {
        *o = v as u64;
    }
    (leg, (n == BUFFERED_LEG_TELEMETRY).then(|| JitterReport::read(&values[LEG_TELEMETRY..])))
}

/// `name`'s value summed over `all` (the room's mixers' telemetry, [`Room::stats`]).
fn summed(all: &[NodeTelemetry], name: &str) -> f64 {
    all.iter().filter_map(|t| t.get(name)).sum()
}

/// The telemetry of the room's node `key` (none: no such node, or nothing published yet).
fn telemetry(engine: &Engine, room: &Room, key: Option<NodeKey>) -> Option<NodeTelemetry> {
    key.and_then(|k| engine.telemetry(room.id, k).ok())
}

/// `name`'s value in `t` as a count (0 when absent).
fn count(t: Option<&NodeTelemetry>, name: &str) -> u64 {
    t.and_then(|t| t.get(name)).map_or(0, |v| v as u64)
}

impl Room {
    /// The room's and every member's figures.
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, Room};
    /// use rvoip_media_core::prelude::*;
    /// let (engine, mut driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let mut room = Room::new(&engine, AudioFormat::mono(8000), 4).unwrap();
    /// room.join(&engine, "a", LegMedia::Audio).unwrap();
    /// driver.process_cycle();
    /// let s = room.stats(&engine).unwrap();
    /// assert_eq!((s.members, s.per_member[0].name.as_str()), (1, "a"));
    /// ```
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`] if the room's partition is gone.
    pub fn stats(&self, engine: &Engine) -> Result<RoomStats, EngineError> {
        // A spread room's shards each count their own legs and shared encodes.
        let all = self.mixers_telemetry(engine)?;
        let counted = |name| summed(&all, name);
        let v = |n: &str| all[0].get(n).unwrap_or(0.0);
        let dominant = v("dominant");
        let dominant = if dominant >= 0.0 { self.member_at(dominant as usize).map(str::to_string) } else { None };
        let per_member = self.legs.iter().map(|(name, l)| self.member_stats(engine, name, l)).collect();
        let shared_encoder_quanta =
            self.shared_encoders().map(|k| count(telemetry(engine, self, Some(k)).as_ref(), "packets")).sum::<u64>()
                + counted("shared_encoder_packets") as u64;
        Ok(RoomStats {
            members: self.legs.len(),
            capacity: self.capacity,
            talking: counted("talking") as usize,
            heard: v("heard") as usize,
            dominant,
            events_dropped: counted("events_dropped") as u64,
            bad_inputs: counted("bad_inputs") as u64,
            shared_encodes: self.shared_encodes(),
            shared_encoder_quanta,
            per_member,
        })
    }

    /// Members talking now, as the room's mixer (or, spread over several workers, each
    /// shard for its own legs) last published; 0 without a talker policy. Cheaper than
    /// [`Room::stats`] (no member's figures are read).
    ///
    /// ```
    /// use rvoip_media_core::conference::{Room, RoomConfig};
    /// use rvoip_media_core::prelude::*;
    /// use rvoip_media_nodes::mixer::TalkerPolicy;
    /// let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    /// let config = RoomConfig::new(AudioFormat::mono(8000)).with_policy(TalkerPolicy::default());
    /// let room = Room::with_config(&engine, config.with_kernel_workers(2)).unwrap();
    /// assert_eq!(room.talking_count(&engine).unwrap(), 0);
    /// ```
    ///
    /// # Errors
    /// [`EngineError::UnknownPartition`] if a partition of the room is gone.
    pub fn talking_count(&self, engine: &Engine) -> Result<usize, EngineError> {
        Ok(summed(&self.mixers_telemetry(engine)?, "talking") as usize)
    }

    /// The telemetry of the room's mixer (or kernel), then, in a spread room, of the other
    /// shards' kernels (each counts its own legs), each read once.
    fn mixers_telemetry(&self, engine: &Engine) -> Result<Vec<NodeTelemetry>, EngineError> {
        let mut all = vec![engine.telemetry(self.id, self.mixer)?];
        for s in self.shards.iter().skip(1) {
            all.push(engine.telemetry(s.id, s.kernel)?);
        }
        Ok(all)
    }

    /// Cycles a shard of a spread room mixed without a late partner's legs (its listeners
    /// heard part of the room then), summed over the shards as last published; 0 for a room
    /// on one worker ([`RoomConfig::with_kernel_workers`](super::RoomConfig::with_kernel_workers)).
    ///
    /// ```
    /// use rvoip_media_core::conference::{Room, RoomConfig};
    /// use rvoip_media_core::prelude::*;
    /// let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
    /// let config = RoomConfig::new(AudioFormat::mono(8000)).with_capacity(4).with_kernel_workers(2);
    /// let room = Room::with_config(&engine, config).unwrap();
    /// assert_eq!(room.late_partners(&engine), 0);
    /// ```
    pub fn late_partners(&self, engine: &Engine) -> u64 {
        let late = |s: &super::Shard| engine.telemetry(s.id, s.kernel).ok().and_then(|t| t.get("late_partners"));
        self.shards.iter().filter_map(late).sum::<f64>() as u64
    }

    /// One member's statistics: from its nodes' telemetry, or a kernel leg's cell.
    fn member_stats(&self, engine: &Engine, name: &str, l: &Leg) -> MemberStats {
        let base = MemberStats {
            name: name.to_string(),
            port: l.port,
            settings: l.settings,
            talking: self.talking.contains(&l.port),
            codec: l.codec.map(|c| c.0),
            codec_rate: l.codec.map_or(0, |c| c.1),
            packets_in: 0,
            concealed_samples: 0,
            bad_packets: 0,
            foreign_packets: 0,
            skipped_decodes: 0,
            removed_samples: 0,
            packets_out: 0,
            own_quanta: 0,
            shared_quanta: 0,
            skipped_quanta: 0,
            handoffs: 0,
            jitter: None,
        };
        if let Some(cell) = l.kernel.as_deref() {
            // The decoder's values (DECODE_TELEMETRY), then the encoder's: packets, ...
            let (v, jitter) = kernel_values(cell);
            let plain = std::array::from_fn(|i| v[i]);
            // ENCODE_TELEMETRY's order: packets first, the shared-input counts from the 8th.
            let enc = &v[DECODE_TELEMETRY.len()..];
            let base = MemberStats {
                packets_out: enc[0],
                own_quanta: enc[PLAIN_ENCODE_TELEMETRY],
                shared_quanta: enc[PLAIN_ENCODE_TELEMETRY + 1],
                skipped_quanta: enc[PLAIN_ENCODE_TELEMETRY + 2],
                handoffs: enc[PLAIN_ENCODE_TELEMETRY + 3],
                ..base
            };
            return with_decoder(base, jitter, plain);
        }
        let enc = telemetry(engine, self, l.encode);
        let enc = enc.as_ref();
        let base = MemberStats {
            packets_out: count(enc, "packets"),
            own_quanta: count(enc, "own_quanta"),
            shared_quanta: count(enc, "shared_quanta"),
            skipped_quanta: count(enc, "skipped_quanta"),
            handoffs: count(enc, "handoffs"),
            ..base
        };
        let dec = telemetry(engine, self, l.decode);
        let dec = dec.as_ref();
        // A jitter buffer's telemetry (its names), or a plain decoder's.
        let jitter = dec.filter(|t| t.get(JITTER_TELEMETRY[0]).is_some()).map(|t| {
            let values: Vec<f64> = JITTER_TELEMETRY.iter().map(|n| t.get(n).unwrap_or(0.0)).collect();
            JitterReport::read(&values)
        });
        with_decoder(base, jitter, DECODE_TELEMETRY.map(|n| count(dec, n)))
    }
}

/// `base` with its decoder's figures: from the leg's jitter buffer's report when it has
/// one, else from its plain decoder's values (in [`DECODE_TELEMETRY`]'s order).
fn with_decoder(base: MemberStats, jitter: Option<JitterReport>, plain: [u64; DECODE_TELEMETRY.len()]) -> MemberStats {
    match jitter {
        Some(r) => MemberStats {
            packets_in: r.stats.packets_received,
            concealed_samples: r.stats.concealed_samples,
            bad_packets: r.stats.packets_bad,
            foreign_packets: r.stats.packets_foreign,
            skipped_decodes: r.stats.skipped_decodes,
            removed_samples: r.stats.removed_samples_for_acceleration,
            jitter: Some(r),
            ..base
        },
        None => MemberStats {
            packets_in: plain[0],
            concealed_samples: plain[2],
            bad_packets: plain[3],
            foreign_packets: plain[5],
            skipped_decodes: plain[6],
            removed_samples: plain[7],
            ..base
        },
    }
}
