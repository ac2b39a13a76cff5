//! [`Error`]: what the session layer refuses, and whether trying again can help.

use super::DialogId;
use crate::engine::{EngineError, Refusal};
use crate::transport::TransportError;
use rvoip_media_nodes::codec::{CodecError, NegotiationError};

/// Errors of [`MediaEngine`](super::MediaEngine), [`MediaSession`](super::MediaSession) and
/// [`MediaSessionController`](super::MediaSessionController).
///
/// ```
/// use rvoip_media_core::sdp::SessionDescription;
/// use rvoip_media_core::session::{Error, MediaSessionParams};
/// // The peer offered video only.
/// let offer = SessionDescription::parse(
///     "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n",
/// )
/// .unwrap();
/// let err = MediaSessionParams::from_remote_sdp("127.0.0.1:0".parse().unwrap(), &offer, &[]).unwrap_err();
/// assert!(matches!(err, Error::NoAudio(_)));
/// assert!(!err.is_recoverable()); // answer 488, do not retry
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine refused (full command queue, full workers, a bad graph).
    #[error("engine: {0}")]
    Engine(#[from] EngineError),
    /// The transport could not bind or start.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// A codec could not be built for what was asked (ptime, rate).
    #[error("codec: {0}")]
    Codec(#[from] CodecError),
    /// No codec in common with the peer's SDP.
    #[error("negotiation: {0}")]
    Negotiation(#[from] NegotiationError),
    /// The peer's SDP has no usable audio stream (no audio m-line, no address).
    ///
    /// ```
    /// use rvoip_media_core::session::Error;
    /// assert!(!Error::NoAudio("no audio m-line").is_recoverable());
    /// ```
    #[error("the remote SDP has no usable audio: {0}")]
    NoAudio(&'static str),
    /// No session for this dialog.
    ///
    /// ```
    /// use rvoip_media_core::session::{DialogId, Error};
    /// assert_eq!(Error::NoSuchDialog(DialogId::from("d1")).to_string(), "no media session for dialog d1");
    /// ```
    #[error("no media session for dialog {0}")]
    NoSuchDialog(DialogId),
    /// A session for this dialog exists already.
    #[error("a media session for dialog {0} exists already")]
    DialogExists(DialogId),
    /// The call is not allowed in the session's state (start twice, anything after stop).
    ///
    /// ```
    /// use rvoip_media_core::session::{Error, SessionState};
    /// let e = Error::InvalidState { operation: "start", state: SessionState::Stopped };
    /// assert!(!e.is_recoverable());
    /// ```
    #[error("cannot {operation} a session that is {state:?}")]
    InvalidState {
        /// What was asked.
        operation: &'static str,
        /// The state it was in.
        state: super::SessionState,
    },
    /// A live codec switch to another RTP clock rate at the session's own audio rate:
    /// only a codec at another audio rate runs behind the rate adapter that re-declares its
    /// clock (PCMU ↔ G.722 ↔ Opus switch live), and no codec pair here needs one without
    /// it; kept for codecs that would.
    ///
    /// ```
    /// use rvoip_media_core::session::Error;
    /// let e = Error::RateChange { from: 8000, to: 48000 };
    /// assert_eq!(e.to_string(), "live codec switch from an 8000 Hz to a 48000 Hz RTP clock is not supported");
    /// ```
    #[error("live codec switch from an {from} Hz to a {to} Hz RTP clock is not supported")]
    RateChange {
        /// The current codec's RTP clock rate.
        from: u32,
        /// The new one's.
        to: u32,
    },
    /// DTMF asked for on a session without a negotiated telephone-event payload type.
    ///
    /// ```
    /// use rvoip_media_core::session::Error;
    /// assert_eq!(Error::NoDtmf.to_string(), "no telephone-event payload type was negotiated");
    /// ```
    #[error("no telephone-event payload type was negotiated")]
    NoDtmf,
    /// A character that is not a DTMF digit.
    ///
    /// ```
    /// use rvoip_media_core::session::Error;
    /// assert_eq!(Error::InvalidDigit('x').to_string(), "'x' is not a DTMF digit (0-9, *, #, A-D)");
    /// ```
    #[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
    InvalidDigit(char),
    /// Conference calls on a controller built without
    /// [`with_conference_support`](super::MediaSessionController::with_conference_support).
    #[error("this controller has no conference support")]
    NoConferenceSupport,
    /// No conference with this id.
    ///
    /// ```
    /// use rvoip_media_core::session::Error;
    /// assert_eq!(Error::NoSuchConference("r1".into()).to_string(), "no conference r1");
    /// ```
    #[error("no conference {0}")]
    NoSuchConference(super::ConferenceId),
    /// A conference with this id exists already.
    #[error("conference {0} exists already")]
    ConferenceExists(super::ConferenceId),
    /// The controller's conference limit is reached.
    #[error("too many conferences (limit {limit})")]
    TooManyConferences {
        /// The limit.
        limit: usize,
    },
    /// The conference is at its member limit.
    #[error("conference {conference} is full ({limit} members)")]
    ConferenceFull {
        /// The conference.
        conference: super::ConferenceId,
        /// Its member limit.
        limit: usize,
    },
    /// No such participant in the conference (or not a host-fed one, for audio).
    #[error("no participant {0} in the conference")]
    NoSuchParticipant(DialogId),
    /// A host endpoint refused (a full ring: the host runs ahead of the worker; an empty
    /// frame pool; a frame of the wrong length).
    #[error("endpoint: {0}")]
    Endpoint(#[from] crate::engine::EndpointError),
    /// The worker refused the command (a node refused a message).
    #[error("worker refused: {0:?}")]
    Refused(Refusal),
    /// The worker did not acknowledge in time.
    ///
    /// ```
    /// use rvoip_media_core::session::Error;
    /// assert!(Error::Timeout.is_recoverable());
    /// ```
    #[error("timed out waiting for the worker")]
    Timeout,
}

impl From<rvoip_media_graph::GraphError> for Error {
    fn from(e: rvoip_media_graph::GraphError) -> Self {
        Error::Engine(EngineError::Graph(e))
    }
}

impl Error {
    /// Whether the same call may succeed later unchanged: a full queue, a timeout, a
    /// transient socket error. Configuration, negotiation and state errors are not.
    pub fn is_recoverable(&self) -> bool {
        match self {
            Error::Engine(e) => matches!(
                e,
                EngineError::CommandQueueFull { .. }
                    | EngineError::Timeout
                    | EngineError::EditConflict(_)
                    | EngineError::WorkersFull(_)
            ),
            Error::Transport(TransportError::Io(e)) => matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
            ),
            Error::Timeout => true,
            _ => false,
        }
    }
}
