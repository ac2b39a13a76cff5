//! SDP for audio: parse and generate session descriptions (RFC 4566) and build offers and
//! answers (RFC 3264).
//!
//! * [`SessionDescription::parse`] turns SDP text (CRLF or LF) into typed structs; malformed
//!   lines are [`SdpError`]s naming the line. It never panics, whatever the input.
//! * [`SessionDescription`] implements [`Display`](std::fmt::Display): `to_string()` writes
//!   CRLF-terminated SDP, and parsing it back gives the same value.
//! * [`create_offer`] and [`create_answer`] build an offer from [`LocalAudio`] capabilities and
//!   an RFC 3264 answer to a remote offer. Codec matching is the codec registry's
//!   ([`rvoip_media_nodes::codec::negotiate`]); [`MediaDescription::remote_formats`] feeds it.
//!
//! ```
//! use rvoip_media_core::sdp::{create_answer, Direction, LocalAudio, SessionDescription};
//! let offer = SessionDescription::parse(
//!     "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
//!      m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendonly\r\n",
//! )?;
//! let answer = create_answer(&offer, &LocalAudio::new("192.0.2.2".parse().unwrap(), 5000));
//! let audio = &answer.media[0];
//! assert_eq!(audio.payload_types(), vec![0, 101]);
//! assert_eq!(audio.direction, Some(Direction::RecvOnly));
//! assert_eq!(SessionDescription::parse(&answer.to_string())?, answer);
//! # Ok::<(), rvoip_media_core::sdp::SdpError>(())
//! ```

mod generate;
mod offer_answer;
mod parse;

pub use offer_answer::{create_answer, create_offer, opus_fmtp, LocalAudio};

use rvoip_media_nodes::codec::{parse_fmtp, OpusParams, RemoteFormat};
use std::net::IpAddr;

/// Why SDP text could not be parsed.
///
/// ```
/// use rvoip_media_core::sdp::{SdpError, SessionDescription};
/// // An empty body (a 200 OK without SDP), then a media line with no port.
/// assert_eq!(SessionDescription::parse(""), Err(SdpError::MissingLine { kind: "v=" }));
/// let err = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio RTP/AVP 0\r\n").unwrap_err();
/// assert!(matches!(err, SdpError::Malformed { line: 5, .. }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// A line is not valid SDP (or is in a place SDP does not allow it).
    ///
    /// ```
    /// use rvoip_media_core::sdp::{SdpError, SessionDescription};
    /// let text = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\nm=audio 4000 RTP/AVP 96\na=rtpmap:xx\n";
    /// let err = SessionDescription::parse(text).unwrap_err();
    /// assert!(matches!(err, SdpError::Malformed { line: 7, ref text, .. } if text == "a=rtpmap:xx"));
    /// ```
    #[error("SDP line {line} is malformed ({reason}): {text:?}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The line as written (without its line ending).
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A line RFC 4566 requires (`v=`, `o=`, `s=` or `t=`) is absent.
    ///
    /// ```
    /// use rvoip_media_core::sdp::{SdpError, SessionDescription};
    /// let err = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\nt=0 0\r\n").unwrap_err();
    /// assert_eq!(err, SdpError::MissingLine { kind: "s=" });
    /// ```
    #[error("SDP has no {kind} line")]
    MissingLine {
        /// The missing line's type, e.g. `"o="`.
        kind: &'static str,
    },
    /// A media description has no `c=` line and the session has none either (RFC 4566 §5.7).
    ///
    /// ```
    /// use rvoip_media_core::sdp::{SdpError, SessionDescription};
    /// let err = SessionDescription::parse("v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nt=0 0\nm=audio 4000 RTP/AVP 0\n").unwrap_err();
    /// assert_eq!(err, SdpError::MissingConnection { line: 5 });
    /// ```
    #[error("the media description at line {line} has no connection address (no c= line there or at session level)")]
    MissingConnection {
        /// Line number of the media description's `m=` line.
        line: usize,
    },
    /// The bytes are not UTF-8 ([`SessionDescription::parse_bytes`]).
    ///
    /// ```
    /// use rvoip_media_core::sdp::{SdpError, SessionDescription};
    /// assert_eq!(SessionDescription::parse_bytes(b"v=0\r\ns=\xff\r\n"), Err(SdpError::NotUtf8 { line: 2 }));
    /// ```
    #[error("SDP line {line} is not valid UTF-8")]
    NotUtf8 {
        /// 1-based line number of the first invalid byte.
        line: usize,
    },
}

/// Network address type of a `c=` or `o=` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrType {
    /// `IP4`.
    Ip4,
    /// `IP6`.
    Ip6,
}

impl AddrType {
    /// The SDP token (`"IP4"` or `"IP6"`).
    pub fn as_str(self) -> &'static str {
        match self {
            AddrType::Ip4 => "IP4",
            AddrType::Ip6 => "IP6",
        }
    }
}

/// A connection address (`c=IN IP4 192.0.2.1`), also used by `o=` and `a=rtcp`.
///
/// ```
/// use rvoip_media_core::sdp::{AddrType, Connection};
/// let c = Connection::from_ip("2001:db8::1".parse().unwrap());
/// assert_eq!((c.addr_type, c.address.as_str()), (AddrType::Ip6, "2001:db8::1"));
/// assert_eq!(c.ip(), Some("2001:db8::1".parse().unwrap()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Connection {
    /// `IP4` or `IP6` (the network type is always `IN`).
    pub addr_type: AddrType,
    /// The address as written: an IP address or a host name, possibly with a multicast
    /// `/ttl[/count]` suffix.
    pub address: String,
}

impl Connection {
    /// The connection for `ip`, with the matching address type.
    pub fn from_ip(ip: IpAddr) -> Self {
        let addr_type = if ip.is_ipv4() { AddrType::Ip4 } else { AddrType::Ip6 };
        Connection { addr_type, address: ip.to_string() }
    }

    /// The address as an IP address (`None` for a host name); a multicast suffix is ignored.
    pub fn ip(&self) -> Option<IpAddr> {
        self.address.split('/').next().and_then(|a| a.parse().ok())
    }
}

/// The `o=` line: who created the session, and its id and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// User name (`-` when there is none).
    pub username: String,
    /// Session id.
    pub session_id: u64,
    /// Session version (incremented on every change of the description).
    pub session_version: u64,
    /// Address of the machine that created the session.
    pub address: Connection,
}

/// A `t=` line (NTP seconds; `0 0` means unbounded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timing {
    /// Start time.
    pub start: u64,
    /// Stop time.
    pub stop: u64,
}

/// Media direction attribute (RFC 3264 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// `a=sendrecv` (the default when none is given).
    #[default]
    SendRecv,
    /// `a=sendonly`.
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The attribute name, e.g. `"sendonly"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an attribute name (exact, as RFC 4566 attribute names are case-sensitive).
    ///
    /// ```
    /// use rvoip_media_core::sdp::Direction;
    /// let d = Direction::from_attribute("recvonly").unwrap();
    /// assert_eq!((d.sends(), d.receives(), d.as_str()), (false, true, "recvonly"));
    /// assert_eq!(Direction::from_flags(false, true), d);
    /// assert_eq!(Direction::from_attribute("rtcp-mux"), None);
    /// ```
    pub fn from_attribute(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// Whether this side sends media.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether this side receives media.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The direction with the given send and receive flags.
    pub fn from_flags(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// The direction an answerer wanting `local` replies to an offer of `self` (RFC 3264
    /// §6.1): it sends only if the offerer receives, and receives only if the offerer sends.
    ///
    /// ```
    /// use rvoip_media_core::sdp::Direction::*;
    /// assert_eq!(SendOnly.answer(SendRecv), RecvOnly);
    /// assert_eq!(RecvOnly.answer(SendRecv), SendOnly);
    /// assert_eq!(Inactive.answer(SendRecv), Inactive);
    /// assert_eq!(SendRecv.answer(SendOnly), SendOnly);
    /// assert_eq!(SendOnly.answer(SendOnly), Inactive);
    /// ```
    pub fn answer(self, local: Direction) -> Direction {
        Direction::from_flags(local.sends() && self.receives(), local.receives() && self.sends())
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock_rate>[/<channels>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpMap {
    /// Encoding name as written (compare case-insensitively).
    pub encoding: String,
    /// RTP clock rate in Hz.
    pub clock_rate: u32,
    /// Channels, when written.
    pub channels: Option<u16>,
}

/// `a=fmtp:<pt> <parameters>`: the raw text and its `key=value` pairs.
///
/// ```
/// use rvoip_media_core::sdp::Fmtp;
/// let f = Fmtp::new("minptime=10; useinbandfec=1");
/// assert_eq!(f.get("useinbandfec"), Some("1"));
/// assert_eq!(f.params[0], ("minptime".to_string(), "10".to_string()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fmtp {
    /// The parameters exactly as written after the payload type.
    pub raw: String,
    /// The parameters split by the codec registry's [`parse_fmtp`] (keys lower-cased).
    pub params: Vec<(String, String)>,
}

impl Fmtp {
    /// An fmtp from its raw parameter text.
    pub fn new(raw: &str) -> Self {
        Fmtp { raw: raw.to_owned(), params: parse_fmtp(raw) }
    }

    /// The last value of parameter `key` (lower-case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// One payload type of an RTP m-line with its rtpmap and fmtp, if given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    /// RTP payload type (0–127).
    pub payload_type: u8,
    /// Its `a=rtpmap`, if any (static payload types often have none).
    pub rtpmap: Option<RtpMap>,
    /// Its `a=fmtp`, if any.
    pub fmtp: Option<Fmtp>,
}

impl Format {
    /// A format with an rtpmap and, when `fmtp` is not empty, an fmtp.
    pub fn new(payload_type: u8, encoding: &str, clock_rate: u32, channels: Option<u16>, fmtp: &str) -> Self {
        Format {
            payload_type,
            rtpmap: Some(RtpMap { encoding: encoding.to_owned(), clock_rate, channels }),
            fmtp: (!fmtp.is_empty()).then(|| Fmtp::new(fmtp)),
        }
    }

    /// The format as the codec registry sees it (for [`rvoip_media_nodes::codec::negotiate`]).
    ///
    /// ```
    /// use rvoip_media_core::nodes::codec::RemoteFormat;
    /// use rvoip_media_core::sdp::{Fmtp, Format};
    /// let f = Format::new(111, "opus", 48000, Some(2), "useinbandfec=1");
    /// assert_eq!(f.to_remote(), RemoteFormat::new(111, "opus", 48000, 2, "useinbandfec=1"));
    /// let g729 = Format { payload_type: 18, rtpmap: None, fmtp: Some(Fmtp::new("annexb=no")) };
    /// assert_eq!((g729.to_remote().encoding.as_str(), g729.to_remote().fmtp.as_str()), ("", "annexb=no"));
    /// ```
    pub fn to_remote(&self) -> RemoteFormat {
        let fmtp = self.fmtp.as_ref().map_or("", |f| f.raw.as_str());
        match &self.rtpmap {
            Some(m) => RemoteFormat::new(self.payload_type, &m.encoding, m.clock_rate, m.channels.unwrap_or(1), fmtp),
            None => RemoteFormat { fmtp: fmtp.to_owned(), ..RemoteFormat::static_pt(self.payload_type) },
        }
    }

    /// Whether this is `telephone-event` (RFC 4733).
    pub fn is_telephone_event(&self) -> bool {
        self.rtpmap.as_ref().is_some_and(|m| m.encoding.eq_ignore_ascii_case("telephone-event"))
    }
}

/// `a=rtcp:<port> [IN IP4 <address>]` (RFC 3605).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtcp {
    /// RTCP port.
    pub port: u16,
    /// RTCP address, when it differs from the media's.
    pub connection: Option<Connection>,
}

/// The URI of the RFC 6464 client-to-mixer audio level header extension.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// The URI of the RFC 6465 mixer-to-client audio level header extension (the levels of the
/// sources in a packet's CSRC list, [`crate::rtp::csrc_level`]).
pub const CSRC_AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:csrc-audio-level";

/// `a=extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §8): an RTP header
/// extension and the id its elements carry. Extensions this crate does not know are kept
/// (and ignored by the answer).
///
/// ```
/// use rvoip_media_core::sdp::{Direction, ExtMap, SessionDescription, AUDIO_LEVEL_URI};
/// let sdp = SessionDescription::parse(
///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\
///      a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\r\na=extmap:300 urn:x:y\r\n",
/// );
/// // 300 is no RFC 8285 id: a typed error naming the line.
/// assert!(matches!(sdp, Err(rvoip_media_core::sdp::SdpError::Malformed { line: 8, ref text, .. }) if text == "a=extmap:300 urn:x:y"));
/// let sdp = SessionDescription::parse(
///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\
///      a=extmap:1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\r\n",
/// )?;
/// let e = sdp.media[0].extmap(AUDIO_LEVEL_URI).unwrap();
/// assert_eq!(e, &ExtMap { id: 1, direction: Some(Direction::SendOnly), uri: AUDIO_LEVEL_URI.into(), attributes: Some("vad=on".into()) });
/// assert_eq!(e.to_string(), "1/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on");
/// # Ok::<(), rvoip_media_core::sdp::SdpError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtMap {
    /// The element id: 1–14 fit the one-byte header, 15–255 need the two-byte one.
    pub id: u8,
    /// The extension's direction, when written (else the media's).
    pub direction: Option<Direction>,
    /// The extension's URI.
    pub uri: String,
    /// Its extension attributes as written (e.g. `vad=on`), if any.
    pub attributes: Option<String>,
}

impl ExtMap {
    /// The direction in force (its own, else sendrecv: RFC 8285 §8).
    pub fn direction_or_default(&self) -> Direction {
        self.direction.unwrap_or_default()
    }
}

/// An attribute this module does not interpret, kept as written (`a=name[:value]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// Name (before the first `:`).
    pub name: String,
    /// Value (after the first `:`), if any.
    pub value: Option<String>,
}

/// A line other than `v o s c t m a` (e.g. `i=`, `b=AS:64`), kept as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherLine {
    /// Type letter.
    pub kind: char,
    /// Everything after `=`.
    pub value: String,
}

/// A telephone-event format (RFC 4733) and the events its fmtp lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Payload type.
    pub payload_type: u8,
    /// Clock rate (matches the audio codec's).
    pub clock_rate: u32,
    /// Inclusive event ranges, e.g. `[(0, 15)]` for `0-15`; `0-15` when no fmtp is given
    /// (RFC 4733 §2.4.1). Malformed pieces are skipped.
    pub events: Vec<(u8, u8)>,
}

/// Parses a telephone-event fmtp such as `0-15,66,70-72` into inclusive ranges; `None` if
/// any piece is malformed.
///
/// ```
/// use rvoip_media_core::sdp::parse_event_ranges;
/// assert_eq!(parse_event_ranges("0-15,66"), Some(vec![(0, 15), (66, 66)]));
/// assert_eq!(parse_event_ranges("15-0"), None);
/// ```
pub fn parse_event_ranges(fmtp: &str) -> Option<Vec<(u8, u8)>> {
    fmtp.split(',')
        .map(str::trim)
        .map(|piece| {
            let (a, b) = piece.split_once('-').unwrap_or((piece, piece));
            let (a, b) = (a.trim().parse::<u8>().ok()?, b.trim().parse::<u8>().ok()?);
            (a <= b).then_some((a, b))
        })
        .collect()
}

/// One `m=` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaDescription {
    /// Media type: `audio`, `video`, `application`, …
    pub media: String,
    /// Transport port (0: rejected or disabled stream).
    pub port: u16,
    /// The `/<count>` after the port, if written.
    pub port_count: Option<u16>,
    /// Transport protocol, e.g. `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`.
    pub proto: String,
    /// The payload types of an RTP m-line, in the m-line's order, with their rtpmap/fmtp.
    pub formats: Vec<Format>,
    /// The format tokens of a non-RTP m-line (empty for RTP, whose formats are in
    /// [`formats`](Self::formats)).
    pub raw_formats: Vec<String>,
    /// Media-level `c=`.
    pub connection: Option<Connection>,
    /// `a=ptime` in ms.
    pub ptime: Option<u32>,
    /// `a=maxptime` in ms.
    pub maxptime: Option<u32>,
    /// Media-level direction attribute.
    pub direction: Option<Direction>,
    /// `a=rtcp-mux` (RFC 5761).
    pub rtcp_mux: bool,
    /// `a=rtcp` (RFC 3605).
    pub rtcp: Option<Rtcp>,
    /// `a=extmap` header extensions (RFC 8285), in order; written after `a=rtcp`.
    pub extmaps: Vec<ExtMap>,
    /// `i=`, `b=` and `k=` lines.
    pub other_lines: Vec<OtherLine>,
    /// Other attributes, in order.
    pub attributes: Vec<Attribute>,
}

impl MediaDescription {
    /// An empty media description (no formats, no attributes).
    pub fn new(media: &str, port: u16, proto: &str) -> Self {
        MediaDescription {
            media: media.to_owned(),
            port,
            port_count: None,
            proto: proto.to_owned(),
            formats: Vec::new(),
            raw_formats: Vec::new(),
            connection: None,
            ptime: None,
            maxptime: None,
            direction: None,
            rtcp_mux: false,
            rtcp: None,
            extmaps: Vec::new(),
            other_lines: Vec::new(),
            attributes: Vec::new(),
        }
    }

    /// The header extension with `uri`, if offered or answered.
    pub fn extmap(&self, uri: &str) -> Option<&ExtMap> {
        self.extmaps.iter().find(|e| e.uri == uri)
    }

    /// Whether the proto is an RTP profile (`RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`, …).
    pub fn is_rtp(&self) -> bool {
        is_rtp_proto(&self.proto)
    }

    /// The payload types, in order.
    ///
    /// ```
    /// use rvoip_media_core::sdp::*;
    /// let sdp = SessionDescription::parse(
    ///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
    ///      m=audio 4000 RTP/AVP 96 18\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:96 opus/48000/2\r\n\
    ///      a=fmtp:96 useinbandfec=1;maxaveragebitrate=20000\r\na=fmtp:18 annexb=no\r\n\
    ///      m=video 0 RTP/AVP 97\r\na=inactive\r\n",
    /// )?;
    /// assert_eq!(sdp.media[0].payload_types(), vec![96, 18]);
    /// assert_eq!(sdp.media[0].format(96).unwrap().rtpmap.as_ref().unwrap().channels, Some(2));
    /// assert!(sdp.media[0].format(0).is_none());
    /// # Ok::<(), SdpError>(())
    /// ```
    pub fn payload_types(&self) -> Vec<u8> {
        self.formats.iter().map(|f| f.payload_type).collect()
    }

    /// The format with payload type `pt`.
    pub fn format(&self, pt: u8) -> Option<&Format> {
        self.formats.iter().find(|f| f.payload_type == pt)
    }

    /// The formats as the codec registry sees them, in order (telephone-event and unknown
    /// codecs included; [`rvoip_media_nodes::codec::negotiate`] skips what it does not know).
    ///
    /// ```
    /// use rvoip_media_core::nodes::codec::{negotiate, CodecId, LocalCodec};
    /// use rvoip_media_core::sdp::*;
    /// let sdp = SessionDescription::parse(
    ///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
    ///      m=audio 4000 RTP/AVP 96 18\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:96 opus/48000/2\r\n\
    ///      a=fmtp:96 useinbandfec=1;maxaveragebitrate=20000\r\na=fmtp:18 annexb=no\r\n\
    ///      m=video 0 RTP/AVP 97\r\na=inactive\r\n",
    /// )?;
    /// let n = negotiate(&[LocalCodec::new(CodecId::G729), LocalCodec::new(CodecId::Opus)], &sdp.media[0].remote_formats()).unwrap();
    /// assert_eq!((n.codec, n.payload_type, n.annexb), (CodecId::G729, 18, Some(false)));
    /// # Ok::<(), SdpError>(())
    /// ```
    pub fn remote_formats(&self) -> Vec<RemoteFormat> {
        self.formats.iter().map(Format::to_remote).collect()
    }

    /// The telephone-event formats, in order.
    ///
    /// ```
    /// use rvoip_media_core::sdp::{Format, MediaDescription, TelephoneEvent};
    /// let mut m = MediaDescription::new("audio", 4000, "RTP/AVP");
    /// m.formats.push(Format::new(101, "telephone-event", 8000, None, "0-16"));
    /// assert_eq!(m.telephone_events(), vec![TelephoneEvent { payload_type: 101, clock_rate: 8000, events: vec![(0, 16)] }]);
    /// ```
    pub fn telephone_events(&self) -> Vec<TelephoneEvent> {
        self.formats
            .iter()
            .filter(|f| f.is_telephone_event())
            .map(|f| TelephoneEvent {
                payload_type: f.payload_type,
                clock_rate: f.rtpmap.as_ref().map_or(8000, |m| m.clock_rate),
                events: match &f.fmtp {
                    None => vec![(0, 15)],
                    Some(fmtp) => fmtp
                        .raw
                        .split(',')
                        .filter_map(|piece| parse_event_ranges(piece).and_then(|v| v.first().copied()))
                        .collect(),
                },
            })
            .collect()
    }

    /// The Opus parameters of payload type `pt` (defaults when it has no fmtp), parsed by
    /// the codec registry's [`OpusParams::parse`].
    ///
    /// ```
    /// use rvoip_media_core::sdp::*;
    /// let sdp = SessionDescription::parse(
    ///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
    ///      m=audio 4000 RTP/AVP 96 18\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:96 opus/48000/2\r\n\
    ///      a=fmtp:96 useinbandfec=1;maxaveragebitrate=20000\r\na=fmtp:18 annexb=no\r\n\
    ///      m=video 0 RTP/AVP 97\r\na=inactive\r\n",
    /// )?;
    /// let opus = sdp.media[0].opus_params(96);
    /// assert_eq!((opus.useinbandfec, opus.maxaveragebitrate, opus.usedtx), (Some(true), Some(20000), None));
    /// # Ok::<(), SdpError>(())
    /// ```
    pub fn opus_params(&self, pt: u8) -> OpusParams {
        OpusParams::parse(self.format(pt).and_then(|f| f.fmtp.as_ref()).map_or("", |f| f.raw.as_str()))
    }

    /// Whether G.729 payload type `pt` allows Annex B (absent `annexb` means yes, RFC 4749).
    ///
    /// ```
    /// use rvoip_media_core::sdp::*;
    /// let sdp = SessionDescription::parse(
    ///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
    ///      m=audio 4000 RTP/AVP 96 18\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:96 opus/48000/2\r\n\
    ///      a=fmtp:96 useinbandfec=1;maxaveragebitrate=20000\r\na=fmtp:18 annexb=no\r\n\
    ///      m=video 0 RTP/AVP 97\r\na=inactive\r\n",
    /// )?;
    /// assert!(!sdp.media[0].g729_annexb(18));
    /// # Ok::<(), SdpError>(())
    /// ```
    pub fn g729_annexb(&self, pt: u8) -> bool {
        self.format(pt)
            .and_then(|f| f.fmtp.as_ref())
            .and_then(|f| f.get("annexb"))
            .map_or(true, |v| !v.eq_ignore_ascii_case("no"))
    }

    /// The attribute values named `name`, in order.
    pub fn attribute_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Option<&'a str>> + 'a {
        self.attributes.iter().filter(move |a| a.name == name).map(|a| a.value.as_deref())
    }
}

/// A whole session description: parse it with [`SessionDescription::parse`], write it with
/// `to_string()`.
///
/// ```
/// use rvoip_media_core::sdp::*;
/// let mut m = MediaDescription::new("audio", 5004, "RTP/AVP");
/// m.formats.push(Format::new(0, "PCMU", 8000, None, ""));
/// m.ptime = Some(20);
/// let sdp = SessionDescription {
///     origin: Origin { username: "-".into(), session_id: 1, session_version: 1, address: Connection::from_ip("10.0.0.1".parse().unwrap()) },
///     session_name: "-".into(),
///     connection: Some(Connection::from_ip("10.0.0.1".parse().unwrap())),
///     timing: vec![Timing::default()],
///     direction: None,
///     other_lines: vec![],
///     attributes: vec![Attribute { name: "tool".into(), value: Some("rvoip".into()) }],
///     media: vec![m],
/// };
/// assert_eq!(
///     sdp.to_string(),
///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=tool:rvoip\r\n\
///      m=audio 5004 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n"
/// );
/// assert_eq!(SessionDescription::parse(&sdp.to_string())?, sdp);
/// # Ok::<(), SdpError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`.
    pub origin: Origin,
    /// `s=` (`-` when there is no name).
    pub session_name: String,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    /// `t=` lines (at least one).
    pub timing: Vec<Timing>,
    /// Session-level direction attribute (a media-level one wins).
    pub direction: Option<Direction>,
    /// `i= u= e= p= b= r= z= k=` lines.
    pub other_lines: Vec<OtherLine>,
    /// Other session-level attributes, in order.
    pub attributes: Vec<Attribute>,
    /// The `m=` sections, in order.
    pub media: Vec<MediaDescription>,
}

impl SessionDescription {
    /// The direction in force for `media` (its own attribute, else the session's, else
    /// sendrecv).
    ///
    /// ```
    /// use rvoip_media_core::sdp::*;
    /// let sdp = SessionDescription::parse(
    ///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
    ///      m=audio 4000 RTP/AVP 96 18\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:96 opus/48000/2\r\n\
    ///      a=fmtp:96 useinbandfec=1;maxaveragebitrate=20000\r\na=fmtp:18 annexb=no\r\n\
    ///      m=video 0 RTP/AVP 97\r\na=inactive\r\n",
    /// )?;
    /// assert_eq!(sdp.direction_of(&sdp.media[0]), Direction::SendOnly);
    /// assert_eq!(sdp.direction_of(&sdp.media[1]), Direction::Inactive);
    /// # Ok::<(), SdpError>(())
    /// ```
    pub fn direction_of(&self, media: &MediaDescription) -> Direction {
        media.direction.or(self.direction).unwrap_or_default()
    }

    /// The connection address in force for `media` (its own `c=`, else the session's).
    ///
    /// ```
    /// use rvoip_media_core::sdp::*;
    /// let sdp = SessionDescription::parse(
    ///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
    ///      m=audio 4000 RTP/AVP 96 18\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:96 opus/48000/2\r\n\
    ///      a=fmtp:96 useinbandfec=1;maxaveragebitrate=20000\r\na=fmtp:18 annexb=no\r\n\
    ///      m=video 0 RTP/AVP 97\r\na=inactive\r\n",
    /// )?;
    /// assert_eq!(sdp.connection_of(&sdp.media[0]).unwrap().addr_type, AddrType::Ip6);
    /// assert_eq!(sdp.connection_of(&sdp.media[1]).unwrap().address, "10.0.0.1");
    /// # Ok::<(), SdpError>(())
    /// ```
    pub fn connection_of<'a>(&'a self, media: &'a MediaDescription) -> Option<&'a Connection> {
        media.connection.as_ref().or(self.connection.as_ref())
    }

    /// The first audio m-line with a non-zero port.
    ///
    /// ```
    /// use rvoip_media_core::sdp::*;
    /// let sdp = SessionDescription::parse(
    ///     "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=sendonly\r\n\
    ///      m=audio 4000 RTP/AVP 96 18\r\nc=IN IP6 2001:db8::2\r\na=rtpmap:96 opus/48000/2\r\n\
    ///      a=fmtp:96 useinbandfec=1;maxaveragebitrate=20000\r\na=fmtp:18 annexb=no\r\n\
    ///      m=video 0 RTP/AVP 97\r\na=inactive\r\n",
    /// )?;
    /// assert_eq!(sdp.audio().unwrap().port, 4000);
    /// # Ok::<(), SdpError>(())
    /// ```
    pub fn audio(&self) -> Option<&MediaDescription> {
        self.media.iter().find(|m| m.media == "audio" && m.port != 0)
    }
}

fn is_rtp_proto(proto: &str) -> bool {
    proto.split('/').any(|p| p.eq_ignore_ascii_case("RTP"))
}
