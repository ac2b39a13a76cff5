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

use crate::engine::{Committed, Edit, Engine, EngineError, PartitionId, PartitionIo, Ticket};
use rvoip_media_graph::{AudioFormat, GraphBuilder, NodeKey, PortKind};
use rvoip_media_nodes::codec::{DecodeNode, Decoder, EncodeNode, Encoder, SwitchDecoder, SwitchEncoder};
use rvoip_media_nodes::resample::ResamplerNode;
use rvoip_media_nodes::{Mixer, MixerMembership};
use std::collections::{BTreeMap, BTreeSet};

mod leg;

use leg::Leg;
pub use leg::LegMedia;

fn setup(node: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::NodeSetup { node: node.to_string(), reason: e.to_string() }
}

/// A live N-1 conference room. See the [module docs](self).
pub struct Room {
    id: PartitionId,
    mixer: NodeKey,
    format: AudioFormat,
    capacity: usize,
    free: BTreeSet<usize>,
    legs: BTreeMap<String, Leg>,
}

impl Room {
    /// Creates an empty room mixing at `format`, with mixer ports for `capacity` legs to
    /// start with (it grows when full).
    ///
    /// # Errors
    /// As [`Engine::add_partition`].
    pub fn new(engine: &Engine, format: AudioFormat, capacity: usize) -> Result<Room, EngineError> {
        let capacity = capacity.max(1);
        let mut b = GraphBuilder::new(engine.config().quantum);
        b.add_node("mixer", Box::new(Mixer::with_capacity(capacity, format)));
        let part = engine.add_partition(b.build()?)?;
        let mixer = engine.node_key(part.id, "mixer")?;
        Ok(Room { id: part.id, mixer, format, capacity, free: (0..capacity).collect(), legs: BTreeMap::new() })
    }

    /// The room's partition.
    pub fn id(&self) -> PartitionId {
        self.id
    }

    /// The mixer's key.
    pub fn mixer(&self) -> NodeKey {
        self.mixer
    }

    /// Mixer ports (grows as legs join).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Names of the legs in the room.
    pub fn members(&self) -> impl Iterator<Item = &str> {
        self.legs.keys().map(String::as_str)
    }

    /// The mixer port of a leg.
    pub fn port_of(&self, name: &str) -> Option<usize> {
        self.legs.get(name).map(|l| l.port)
    }

    /// The key of an RTP leg's decoder (for its telemetry).
    pub fn decoder_of(&self, name: &str) -> Option<NodeKey> {
        self.legs.get(name).and_then(|l| l.decode)
    }

    /// The key of an RTP leg's encoder (for its telemetry).
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
    /// [`EngineError::Graph`] (a duplicate name), [`EngineError::NodeSetup`] (a codec
    /// refusing the ptime, a rate the resampler cannot convert), and those of
    /// [`Edit::commit`].
    pub fn join(&mut self, engine: &Engine, name: &str, media: LegMedia) -> Result<Committed, EngineError> {
        self.join_many(engine, [(name.to_string(), media)])
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
        let mut edit = engine.edit(self.id)?;
        let (before_free, before_capacity, before_mixer) = (self.free.clone(), self.capacity, self.mixer);
        let mut added = Vec::new();
        let result = (|| {
            for (name, media) in legs {
                let leg = self.add_leg(&mut edit, engine, &name, media, &added)?;
                added.push((name, leg));
            }
            prime(edit.io());
            edit.commit()
        })();
        match result {
            Ok(done) => {
                self.legs.extend(added);
                Ok(done)
            }
            Err(e) => {
                (self.free, self.capacity, self.mixer) = (before_free, before_capacity, before_mixer);
                Err(e)
            }
        }
    }

    /// Adds one leg's nodes and edges to `edit` and takes its mixer port.
    fn add_leg(
        &mut self,
        edit: &mut Edit<'_>,
        engine: &Engine,
        name: &str,
        media: LegMedia,
        pending: &[(String, Leg)],
    ) -> Result<Leg, EngineError> {
        if self.free.is_empty() {
            self.grow(edit, pending)?;
        }
        let port = *self.free.first().ok_or_else(|| self.unknown(name))?;
        let room = PortKind::Audio(self.format);
        let q = engine.config().quantum;
        let leg = match media {
            LegMedia::Audio => {
                let i = edit.add_input(format!("{name}.in"), room)?;
                let o = edit.add_output(format!("{name}.out"), room)?;
                Leg { port, nodes: vec![i, o], to_mixer: i, from_mixer: o, decode: None, encode: None }
            }
            LegMedia::Rtp { encoder, decoder, ptime_us, ssrc } => {
                let codec = |e: rvoip_media_nodes::codec::CodecError| setup(name, e);
                let dec = DecodeNode::new(decoder, q).map_err(codec)?;
                let enc = EncodeNode::new(encoder, ptime_us, q).map_err(codec)?.with_ssrc(ssrc);
                let (rx_kind, tx_kind) = (dec.info().packet_format(), enc.info().packet_format());
                let (dec_rate, enc_rate) = (dec.info().sample_rate, enc.info().sample_rate);
                let rx = edit.add_input(format!("{name}.rx"), PortKind::Packet(rx_kind))?;
                let tx = edit.add_output(format!("{name}.tx"), PortKind::Packet(tx_kind))?;
                let d = edit.add_node(format!("{name}.decode"), Box::new(dec))?;
                let e = edit.add_node(format!("{name}.encode"), Box::new(enc))?;
                edit.connect(rx, 0, d, 0)?;
                edit.connect(e, 0, tx, 0)?;
                let mut nodes = vec![rx, tx, d, e];
                let to_mixer = self.resampler(edit, &mut nodes, format!("{name}.up"), d, dec_rate, self.format.rate)?;
                let from_mixer = match self.resample_node(edit, format!("{name}.down"), self.format.rate, enc_rate)? {
                    Some(r) => {
                        edit.connect(r, 0, e, 0)?;
                        nodes.push(r);
                        r
                    }
                    None => e,
                };
                Leg { port, nodes, to_mixer, from_mixer, decode: Some(d), encode: Some(e) }
            }
        };
        edit.connect(leg.to_mixer, 0, self.mixer, port)?;
        edit.connect(self.mixer, port, leg.from_mixer, 0)?;
        edit.message(self.mixer, MixerMembership::Join(port))?;
        self.free.remove(&port);
        Ok(leg)
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
        let node = ResamplerNode::new(from, to, self.format.channels).map_err(|e| setup(&name, e))?;
        Ok(Some(edit.add_node(name, Box::new(node))?))
    }

    /// Replaces the mixer by one with twice the ports, same members, every leg rewired
    /// (those already in the room and those `pending` in this edit), in the same edit as the
    /// join that needs it. The mixer keeps no state between cycles
    /// besides its membership, which the new one starts with.
    fn grow(&mut self, edit: &mut Edit<'_>, pending: &[(String, Leg)]) -> Result<(), EngineError> {
        let capacity = self.capacity * 2;
        // Every port is taken when the room grows: all of them are members.
        let members = 0..self.capacity;
        let mixer = Mixer::with_capacity(capacity, self.format).with_members(members);
        edit.remove(self.mixer)?;
        let key = edit.add_node("mixer", Box::new(mixer))?;
        for leg in self.legs.values().chain(pending.iter().map(|(_, l)| l)) {
            edit.connect(leg.to_mixer, 0, key, leg.port)?;
            edit.connect(key, leg.port, leg.from_mixer, 0)?;
        }
        self.free.extend(self.capacity..capacity);
        self.capacity = capacity;
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
        let leg = self.legs.get(name).ok_or_else(|| self.unknown(name))?;
        let mut edit = engine.edit(self.id)?;
        for k in &leg.nodes {
            edit.remove(*k)?;
        }
        edit.message(self.mixer, MixerMembership::Leave(leg.port))?;
        let ticket = edit.commit()?.ticket;
        if let Some(leg) = self.legs.remove(name) {
            self.free.insert(leg.port);
        }
        Ok(ticket)
    }

    /// Switches an RTP leg to another codec of the same sample rate (a re-INVITE): the new
    /// decoder takes the next packet, the new encoder starts at the next packet boundary
    /// with the same SSRC and continuing sequence numbers and timestamps.
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
        let (Some(d), Some(e)) = (leg.decode, leg.encode) else { return Err(self.unknown(name)) };
        let q = engine.config().quantum;
        let codec = |e: rvoip_media_nodes::codec::CodecError| setup(name, e);
        let mut edit = engine.edit(self.id)?;
        edit.message(d, SwitchDecoder::new(decoder, q).map_err(codec)?)?;
        edit.message(e, SwitchEncoder::new(encoder, ptime_us, q).map_err(codec)?)?;
        Ok(edit.commit()?.ticket)
    }
}
