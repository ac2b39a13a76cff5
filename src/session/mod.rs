//! Media sessions: what a SIP stack calls.
//!
//! * [`MediaEngine`] — started once from a [`MediaEngineConfig`] (workers, quantum, pools,
//!   codecs, processing defaults); creates sessions and tells the codecs for SDP.
//! * [`MediaSession`] — one dialog's media: a small graph on a worker
//!   (`in → [AEC/NS/AGC] → mute → [resample] → encode → tx`, `rx → jitter buffer + decoder
//!   → [resample] → out`, the canceller's far end being what `out` plays) and a
//!   [`Transport`](crate::transport::Transport) (by default UDP) moving `tx`/`rx` to the
//!   network. Start, pause/resume (hold), stop, mute (encoded silence, RTP continuing), a
//!   live codec switch (same SSRC, timestamps continuing; to a codec of another audio rate
//!   or RTP clock through a resampler around it, `rate_adapt.rs`, and the transport's
//!   [`ClockMap`](crate::rtp::ClockMap)), RFC 4733 DTMF both ways (event
//!   packets take the place of audio packets; received digits are events), statistics,
//!   events.
//! * [`MediaSessionController`] — sessions by [`DialogId`], with `async` calls that await the
//!   worker's [`Ack`] on any executor; with conference support, rooms by [`ConferenceId`]
//!   and their participants (`conference.rs`).
//!
//! Not yet in sessions: changing the voice processing of a running session.

mod ack;
mod conference;
mod controller;
mod error;
mod media_engine;
mod media_session;
mod params;
mod rate_adapt;

pub use ack::Ack;
pub use conference::{ConferenceId, ConferenceLimits};
pub use controller::MediaSessionController;
pub use error::Error;
pub use media_engine::{MediaEngine, MediaEngineConfig, MediaEngineConfigBuilder, ProcessingDefaults};
pub use media_session::{MediaSession, MediaStatistics, SessionEvent, SessionState, QUALITY_WINDOW};
pub use params::{negotiated, MediaSessionParams, NegotiatedExtension};

use std::fmt;

/// Identifies a SIP dialog (Call-ID plus tags, or whatever the SIP stack uses).
///
/// ```
/// use rvoip_media_core::session::DialogId;
/// let d = DialogId::from("call-1;from-tag=a;to-tag=b");
/// assert_eq!(d.as_str(), "call-1;from-tag=a;to-tag=b");
/// assert_eq!(d, DialogId::new(String::from("call-1;from-tag=a;to-tag=b")));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId(String);

impl DialogId {
    /// A dialog id from any string.
    pub fn new(id: impl Into<String>) -> Self {
        DialogId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for DialogId {
    fn from(s: &str) -> Self {
        DialogId(s.to_owned())
    }
}

impl From<String> for DialogId {
    fn from(s: String) -> Self {
        DialogId(s)
    }
}

impl fmt::Display for DialogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
