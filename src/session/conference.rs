//! The controller's conference half: rooms by [`ConferenceId`], participants by
//! [`DialogId`], the calls a SIP stack's conference focus makes (the seed's
//! `with_conference_support`, `add_to_conference`, `remove_from_conference`,
//! `process_conference_audio`, `get_conference_stats`).
//!
//! Each conference is a [`Room`] on the media engine. A participant is either host-fed
//! ([`LegMedia::Audio`]: the controller keeps its endpoints and the host exchanges audio
//! through [`MediaSessionController::process_conference_audio`]) or an RTP leg whose packet
//! endpoints the host's transport takes from the returned [`PartitionIo`].

use super::{DialogId, Error, MediaSessionController};
use crate::conference::{LegMedia, LegOptions, Room, RoomConfig, RoomEvent, RoomStats};
use crate::engine::{AudioIn, AudioOut, EngineError, PartitionIo};
use rvoip_media_nodes::mixer::MemberSettings;
use std::collections::HashMap;
use std::fmt;

/// Identifies a conference (a focus URI, a room number: whatever the host uses).
///
/// ```
/// use rvoip_media_core::session::ConferenceId;
/// assert_eq!(ConferenceId::from("room-7").to_string(), "room-7");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConferenceId(String);

impl From<&str> for ConferenceId {
    fn from(s: &str) -> Self {
        ConferenceId(s.to_owned())
    }
}

impl fmt::Display for ConferenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Limits of a controller's conferences.
///
/// ```
/// use rvoip_media_core::session::ConferenceLimits;
/// let l = ConferenceLimits::default();
/// assert_eq!((l.max_conferences, l.max_members), (64, 100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConferenceLimits {
    /// Conferences at once.
    pub max_conferences: usize,
    /// Members per conference, unless its [`RoomConfig`] sets a limit of its own.
    pub max_members: usize,
}

impl Default for ConferenceLimits {
    fn default() -> Self {
        ConferenceLimits { max_conferences: 64, max_members: 100 }
    }
}

/// A conference: its room and the endpoints of its host-fed participants.
pub(super) struct Conference {
    room: Room,
    hosts: HashMap<DialogId, (AudioIn, AudioOut)>,
}

/// Every conference of a controller.
pub(super) struct Conferences {
    limits: ConferenceLimits,
    rooms: HashMap<ConferenceId, Conference>,
}

impl Conferences {
    pub(super) fn new(limits: ConferenceLimits) -> Self {
        Conferences { limits, rooms: HashMap::new() }
    }

    fn get(&mut self, id: &ConferenceId) -> Result<&mut Conference, Error> {
        self.rooms.get_mut(id).ok_or_else(|| Error::NoSuchConference(id.clone()))
    }
}

fn full(id: &ConferenceId, e: EngineError) -> Error {
    match e {
        EngineError::RoomFull { limit, .. } => Error::ConferenceFull { conference: id.clone(), limit },
        e => Error::Engine(e),
    }
}

impl MediaSessionController {
    /// The same controller, able to host conferences within `limits`.
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, LegOptions, RoomConfig};
    /// use rvoip_media_core::prelude::AudioFormat;
    /// use rvoip_media_core::session::*;
    ///
    /// let engine = MediaEngine::start(MediaEngineConfig::builder().workers(1).realtime(None).build())?;
    /// let calls = MediaSessionController::new(engine).with_conference_support(ConferenceLimits { max_conferences: 1, max_members: 2 });
    /// let room = ConferenceId::from("room-1");
    /// calls.create_conference(room.clone(), RoomConfig::new(AudioFormat::mono(8000)))?;
    /// assert!(matches!(calls.create_conference("room-2".into(), RoomConfig::new(AudioFormat::mono(8000))), Err(Error::TooManyConferences { limit: 1 })));
    /// for who in ["alice", "bob"] {
    ///     calls.add_to_conference(&room, DialogId::from(who), LegMedia::Audio, LegOptions::default())?;
    /// }
    /// let carol = calls.add_to_conference(&room, DialogId::from("carol"), LegMedia::Audio, LegOptions::default());
    /// assert!(matches!(carol, Err(Error::ConferenceFull { limit: 2, .. })));
    /// let nowhere = calls.add_to_conference(&"nope".into(), DialogId::from("dave"), LegMedia::Audio, LegOptions::default());
    /// assert!(matches!(nowhere, Err(Error::NoSuchConference(_))));
    ///
    /// // Host-fed audio: push 10 ms for alice, read what she hears once the worker has run.
    /// let mut heard = vec![0.0; 80];
    /// let mut got = false;
    /// for _ in 0..200 {
    ///     got |= calls.process_conference_audio(&room, &DialogId::from("alice"), &[0.1; 80], &mut heard)?;
    ///     if got { break }
    ///     std::thread::sleep(std::time::Duration::from_millis(5));
    /// }
    /// assert!(got);
    /// assert_eq!(calls.get_conference_stats(&room)?.members, 2);
    /// calls.remove_from_conference(&room, &DialogId::from("bob"))?;
    /// calls.destroy_conference(&room)?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_conference_support(mut self, limits: ConferenceLimits) -> Self {
        self.conferences = Some(std::sync::Mutex::new(Conferences::new(limits)));
        self
    }

    fn conferences<T>(&self, f: impl FnOnce(&mut Conferences) -> Result<T, Error>) -> Result<T, Error> {
        let m = self.conferences.as_ref().ok_or(Error::NoConferenceSupport)?;
        let mut c = m.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut c)
    }

    /// Creates a conference (a [`Room`] on the media engine). Without a member limit in
    /// `config`, the controller's applies.
    ///
    /// # Errors
    /// [`Error::NoConferenceSupport`], [`Error::ConferenceExists`],
    /// [`Error::TooManyConferences`], [`Error::Engine`].
    pub fn create_conference(&self, id: ConferenceId, config: RoomConfig) -> Result<(), Error> {
        let engine = self.engine.engine().clone();
        self.conferences(|c| {
            if c.rooms.contains_key(&id) {
                return Err(Error::ConferenceExists(id));
            }
            if c.rooms.len() >= c.limits.max_conferences {
                return Err(Error::TooManyConferences { limit: c.limits.max_conferences });
            }
            let config =
                if config.max_members.is_some() { config } else { config.with_max_members(c.limits.max_members) };
            let room = Room::with_config(&engine, config)?;
            c.rooms.insert(id, Conference { room, hosts: HashMap::new() });
            Ok(())
        })
    }

    /// Ends a conference: its partition leaves the worker, every participant with it.
    ///
    /// # Errors
    /// [`Error::NoConferenceSupport`], [`Error::NoSuchConference`], [`Error::Engine`].
    pub fn destroy_conference(&self, id: &ConferenceId) -> Result<(), Error> {
        let engine = self.engine.engine().clone();
        self.conferences(|c| {
            let conf = c.rooms.remove(id).ok_or_else(|| Error::NoSuchConference(id.clone()))?;
            engine.remove_partition(conf.room.id())?;
            Ok(())
        })
    }

    /// Adds `participant` to a conference, live. A host-fed participant
    /// ([`LegMedia::Audio`]) exchanges audio through
    /// [`MediaSessionController::process_conference_audio`]; an RTP participant's packet
    /// endpoints (`{participant}.rx`, `{participant}.tx`) are in the returned
    /// [`PartitionIo`], for the host's transport.
    ///
    /// # Errors
    /// [`Error::NoConferenceSupport`], [`Error::NoSuchConference`],
    /// [`Error::ConferenceFull`], [`Error::Engine`] (a name already in the room, a codec
    /// refusing its settings).
    pub fn add_to_conference(
        &self,
        id: &ConferenceId,
        participant: DialogId,
        media: LegMedia,
        options: LegOptions,
    ) -> Result<PartitionIo, Error> {
        let engine = self.engine.engine().clone();
        self.conferences(|c| {
            let conf = c.get(id)?;
            let name = participant.as_str().to_string();
            let host = matches!(media, LegMedia::Audio);
            let mut io = conf.room.join_with(&engine, &name, media, options).map_err(|e| full(id, e))?.io;
            if host {
                let ends = io.take_audio_in(&format!("{name}.in")).zip(io.take_audio_out(&format!("{name}.out")));
                if let Some(ends) = ends {
                    conf.hosts.insert(participant, ends);
                }
            }
            Ok(io)
        })
    }

    /// Removes `participant` from a conference, live.
    ///
    /// # Errors
    /// [`Error::NoConferenceSupport`], [`Error::NoSuchConference`],
    /// [`Error::NoSuchParticipant`], [`Error::Engine`].
    pub fn remove_from_conference(&self, id: &ConferenceId, participant: &DialogId) -> Result<(), Error> {
        let engine = self.engine.engine().clone();
        self.conferences(|c| {
            let conf = c.get(id)?;
            if conf.room.port_of(participant.as_str()).is_none() {
                return Err(Error::NoSuchParticipant(participant.clone()));
            }
            conf.room.leave(&engine, participant.as_str())?;
            conf.hosts.remove(participant);
            Ok(())
        })
    }

    /// Host-fed audio for a participant: queues `input` (one quantum at the room's format)
    /// as what it says, and copies the oldest quantum it has to hear into `output`. Returns
    /// whether there was one (false before the worker's first cycle with the participant).
    ///
    /// # Errors
    /// [`Error::NoConferenceSupport`], [`Error::NoSuchConference`],
    /// [`Error::NoSuchParticipant`] (also for an RTP participant), [`Error::Endpoint`] (the
    /// input ring is full: the host runs ahead of the worker, or the frame pool is empty).
    pub fn process_conference_audio(
        &self,
        id: &ConferenceId,
        participant: &DialogId,
        input: &[f32],
        output: &mut [f32],
    ) -> Result<bool, Error> {
        self.conferences(|c| {
            let conf = c.get(id)?;
            let (i, o) =
                conf.hosts.get_mut(participant).ok_or_else(|| Error::NoSuchParticipant(participant.clone()))?;
            i.push(input)?;
            Ok(o.pop_into(output).is_some())
        })
    }

    /// Mute, deaf and gains of a participant, live.
    ///
    /// # Errors
    /// [`Error::NoConferenceSupport`], [`Error::NoSuchConference`],
    /// [`Error::NoSuchParticipant`], [`Error::Engine`].
    pub fn set_conference_member(
        &self,
        id: &ConferenceId,
        participant: &DialogId,
        settings: MemberSettings,
    ) -> Result<(), Error> {
        let engine = self.engine.engine().clone();
        self.conferences(|c| {
            let conf = c.get(id)?;
            if conf.room.port_of(participant.as_str()).is_none() {
                return Err(Error::NoSuchParticipant(participant.clone()));
            }
            conf.room.set_member(&engine, participant.as_str(), settings)?;
            Ok(())
        })
    }

    /// The conference's and each member's figures.
    ///
    /// # Errors
    /// [`Error::NoConferenceSupport`], [`Error::NoSuchConference`], [`Error::Engine`].
    pub fn get_conference_stats(&self, id: &ConferenceId) -> Result<RoomStats, Error> {
        let engine = self.engine.engine().clone();
        self.conferences(|c| Ok(c.get(id)?.room.stats(&engine)?))
    }

    /// Talk and dominant-speaker events of the conference since the last call.
    ///
    /// # Errors
    /// [`Error::NoConferenceSupport`], [`Error::NoSuchConference`].
    pub fn conference_events(&self, id: &ConferenceId) -> Result<Vec<RoomEvent>, Error> {
        self.conferences(|c| {
            let room = &mut c.get(id)?.room;
            Ok(std::iter::from_fn(|| room.poll_event()).collect())
        })
    }

    /// The conferences.
    pub fn conferences_list(&self) -> Vec<ConferenceId> {
        self.conferences(|c| Ok(c.rooms.keys().cloned().collect())).unwrap_or_default()
    }
}
