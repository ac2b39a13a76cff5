//! Members on the control side: their settings (mute, deaf, gains) changed live, and the
//! mixer's talk events turned into named [`RoomEvent`]s.

use super::Room;
use crate::engine::{Engine, EngineError, Ticket};
use rvoip_media_nodes::mixer::{MemberSettings, MemberUpdate, MixerEventKind};

/// What happened in a room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomEventKind {
    /// A member started talking.
    TalkingStarted(String),
    /// A member stopped talking.
    TalkingStopped(String),
    /// The dominant speaker changed (`None`: nobody dominates).
    DominantSpeaker(Option<String>),
}

/// A room event and the cycle it happened in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomEvent {
    /// The room partition's cycle.
    pub cycle: u64,
    /// What happened.
    pub kind: RoomEventKind,
}

impl Room {
    /// Gives member `name` new settings from the next cycle (one message to the mixer;
    /// nobody else's state is touched): mute (sends nothing into the mix, still hears),
    /// deaf (hears nothing, no encode for it, still heard), input and output gain.
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, Room};
    /// use rvoip_media_core::prelude::*;
    /// use rvoip_media_nodes::mixer::MemberSettings;
    ///
    /// let (engine, mut driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let mut room = Room::new(&engine, AudioFormat::mono(8000), 4).unwrap();
    /// let mut a = room.join(&engine, "a", LegMedia::Audio).unwrap().io;
    /// let mut b = room.join(&engine, "b", LegMedia::Audio).unwrap().io;
    /// let (mut a_in, mut b_out) = (a.take_audio_in("a.in").unwrap(), b.take_audio_out("b.out").unwrap());
    /// room.set_member(&engine, "a", MemberSettings { muted: true, ..MemberSettings::default() }).unwrap();
    /// a_in.push(&[0.5; 80]).unwrap();
    /// driver.process_cycle();
    /// assert_eq!(b_out.pop().unwrap().samples()[0], 0.0); // a is muted
    /// assert!(matches!(room.set_member(&engine, "zed", MemberSettings::default()), Err(EngineError::UnknownNodeName { .. })));
    /// ```
    ///
    /// # Errors
    /// [`EngineError::UnknownNodeName`] for a name not in the room; the mixer refuses a gain
    /// that is not finite or above +40 dB ([`Engine::outcome`]); those of
    /// [`Engine::send_message`].
    pub fn set_member(&mut self, engine: &Engine, name: &str, settings: MemberSettings) -> Result<Ticket, EngineError> {
        let leg = self
            .legs
            .get(name)
            .ok_or_else(|| EngineError::UnknownNodeName { partition: self.id, name: name.to_string() })?;
        // A member with a VAD keeps it gating its talking state.
        let (port, settings) = (leg.port, MemberSettings { vad: leg.vad.is_some(), ..settings });
        let (id, runner) = self.runner(port);
        let ticket = engine.send_message(id, runner, MemberUpdate { port, settings })?;
        if let Some(leg) = self.legs.get_mut(name) {
            leg.settings = settings;
        }
        Ok(ticket)
    }

    /// Member `name`'s settings.
    pub fn member(&self, name: &str) -> Option<MemberSettings> {
        self.legs.get(name).map(|l| l.settings)
    }

    /// Members talking now, as far as the events read so far say.
    pub fn talking(&self) -> impl Iterator<Item = &str> {
        self.talking.iter().filter_map(|&p| self.names.get(p).and_then(|n| n.as_deref()))
    }

    /// The dominant speaker, as far as the events read so far say.
    pub fn dominant_speaker(&self) -> Option<&str> {
        self.dominant.and_then(|p| self.names.get(p).and_then(|n| n.as_deref()))
    }

    /// The next talk event (a policy room; a plain room has none). Events of members who
    /// left before they were read are skipped.
    pub fn poll_event(&mut self) -> Option<RoomEvent> {
        // Rings in order: a mixer's that a grown one replaced (drained, then dropped), or
        // the shards' of a spread room (all live).
        let mut k = 0;
        loop {
            let more = self.events.len() > 1;
            let ring = self.events.get_mut(k)?;
            let e = match ring.pop() {
                Some(e) => e,
                None if more && ring.is_abandoned() => {
                    self.events.remove(k);
                    continue;
                }
                None => {
                    k += 1;
                    continue;
                }
            };
            let name = |p: usize| self.names.get(p).cloned().flatten();
            let kind = match e.kind {
                MixerEventKind::TalkingStarted(p) => {
                    self.talking.insert(p);
                    name(p).map(RoomEventKind::TalkingStarted)
                }
                MixerEventKind::TalkingStopped(p) => {
                    self.talking.remove(&p);
                    name(p).map(RoomEventKind::TalkingStopped)
                }
                MixerEventKind::DominantSpeaker(p) => {
                    self.dominant = p;
                    Some(RoomEventKind::DominantSpeaker(p.and_then(name)))
                }
            };
            if let Some(kind) = kind {
                return Some(RoomEvent { cycle: e.cycle, kind });
            }
        }
    }
}
