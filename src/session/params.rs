//! [`MediaSessionParams`]: what a session needs from the SIP layer's negotiation.

use super::Error;
use crate::sdp::{Direction, SessionDescription, AUDIO_LEVEL_URI, CSRC_AUDIO_LEVEL_URI};
use crate::transport::Remote;
use rvoip_media_nodes::codec::{negotiate, CodecId, LocalCodec, Negotiated};
use std::net::SocketAddr;

/// The negotiated parameters of one session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaSessionParams {
    /// Local RTP address (port 0: any free pair).
    pub local: SocketAddr,
    /// Where to send, and whether to latch onto the peer's source (symmetric RTP).
    pub remote: Remote,
    /// The codec (payload type, fmtp) both sides agreed on.
    pub codec: Negotiated,
    /// Packet time, ms.
    pub ptime_ms: u32,
    /// Our direction (sendonly/inactive: hold; RTCP goes on).
    pub direction: Direction,
    /// RTCP on the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// The peer's RTCP address when not muxed and not RTP port + 1 (SDP `a=rtcp`).
    pub remote_rtcp: Option<SocketAddr>,
    /// Host audio rate (default: the codec's); resampled to and from the codec's rate.
    pub host_rate: Option<u32>,
    /// Our SSRC (default: random).
    pub ssrc: Option<u32>,
    /// Our CNAME (default: `rvoip-<ssrc>`).
    pub cname: Option<String>,
    /// The RFC 4733 telephone-event payload type both sides agreed on (at the codec's RTP
    /// clock), for DTMF both ways; `None`: no DTMF.
    pub telephone_event: Option<u8>,
    /// Voice processing of the host audio we send (echo cancellation against what the
    /// session plays, noise suppression, gain control), at the host rate; `None`: the
    /// engine's [`ProcessingDefaults`](super::ProcessingDefaults).
    pub processing: Option<super::ProcessingDefaults>,
    /// The RFC 6464 audio level both sides agreed on (`a=extmap` with
    /// [`AUDIO_LEVEL_URI`]): sent on every packet (the level of what it encodes, V from
    /// the VAD with [`ProcessingDefaults::vad`](super::ProcessingDefaults::vad), else an
    /// energy gate) when its direction sends, read from received packets when it receives.
    /// `None`: plain RTP.
    pub audio_level: Option<NegotiatedExtension>,
    /// The RFC 6465 mixer-to-client levels both sides agreed on (`a=extmap` with
    /// [`CSRC_AUDIO_LEVEL_URI`](crate::sdp::CSRC_AUDIO_LEVEL_URI)): read from the packets a
    /// mixer sends ([`TransportStats::last_csrc_levels`](crate::transport::TransportStats::last_csrc_levels)).
    /// `None`: not read.
    pub csrc_audio_level: Option<NegotiatedExtension>,
}

/// A header extension both sides agreed on: its one-byte-header id and our direction for it.
///
/// ```
/// use rvoip_media_core::sdp::Direction;
/// use rvoip_media_core::session::NegotiatedExtension;
/// let e = NegotiatedExtension { id: 3, direction: Direction::RecvOnly };
/// assert_eq!((e.send_id(), e.receive_id()), (None, Some(3)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NegotiatedExtension {
    /// The element id (1–14).
    pub id: u8,
    /// Whether we send it, read it, or both.
    pub direction: Direction,
}

impl NegotiatedExtension {
    /// The id when we send the extension.
    pub fn send_id(&self) -> Option<u8> {
        self.direction.sends().then_some(self.id)
    }

    /// The id when we read it.
    pub fn receive_id(&self) -> Option<u8> {
        self.direction.receives().then_some(self.id)
    }
}

/// The negotiated form of a codec used with its static or default payload type.
///
/// ```
/// use rvoip_media_core::session::negotiated;
/// use rvoip_media_core::nodes::codec::CodecId;
/// let n = negotiated(CodecId::Opus, None).unwrap();
/// assert_eq!((n.payload_type, n.clock_rate, n.sample_rate()), (111, 48000, 48000));
/// assert_eq!(negotiated(CodecId::Pcma, Some(99)).unwrap().payload_type, 99);
/// ```
///
/// # Errors
/// [`Error::Negotiation`] never in practice (a codec always matches itself).
pub fn negotiated(codec: CodecId, payload_type: Option<u8>) -> Result<Negotiated, Error> {
    let cap = codec.capability();
    let pt = payload_type.unwrap_or(cap.static_payload_type.unwrap_or(cap.default_payload_type));
    let remote = rvoip_media_nodes::codec::RemoteFormat::new(pt, cap.encoding, cap.clock_rate, cap.channels, cap.fmtp);
    Ok(negotiate(&[LocalCodec::new(codec)], &[remote])?)
}

impl MediaSessionParams {
    /// A session on `local` sending `codec` (static or default payload type) to a fixed
    /// `remote`, 20 ms packets, sendrecv, RTCP on port + 1.
    ///
    /// ```
    /// use rvoip_media_core::session::MediaSessionParams;
    /// use rvoip_media_core::nodes::codec::CodecId;
    /// let p = MediaSessionParams::new("127.0.0.1:0".parse().unwrap(), Some("127.0.0.1:4000".parse().unwrap()), CodecId::Pcmu).unwrap();
    /// assert_eq!(p.codec.payload_type, 0);
    /// ```
    ///
    /// # Errors
    /// As [`negotiated`].
    pub fn new(local: SocketAddr, remote: Option<SocketAddr>, codec: CodecId) -> Result<Self, Error> {
        Ok(MediaSessionParams {
            local,
            remote: match remote {
                Some(a) => Remote::Fixed(a),
                None => Remote::Latch { initial: None },
            },
            codec: negotiated(codec, None)?,
            ptime_ms: 20,
            direction: Direction::SendRecv,
            rtcp_mux: false,
            remote_rtcp: None,
            host_rate: None,
            ssrc: None,
            cname: None,
            telephone_event: None,
            processing: None,
            audio_level: None,
            csrc_audio_level: None,
        })
    }

    /// Parameters from the peer's SDP (an offer we answer, or the answer to our offer): the
    /// first of `prefs` the peer lists, its address and port, ptime, direction (ours is the
    /// answer to its: sendonly ↔ recvonly), rtcp-mux, `a=rtcp` and the telephone-event
    /// payload type at the codec's clock, and the audio level extension when the peer's SDP
    /// has one we can use (id 1–14; our direction the answer to the peer's, RFC 8285 §6 — the
    /// peer lists it only if it was offered and accepted, or offers it and can take it).
    ///
    /// ```
    /// use rvoip_media_core::sdp::{Direction, SessionDescription};
    /// use rvoip_media_core::session::MediaSessionParams;
    /// use rvoip_media_core::nodes::codec::{CodecId, LocalCodec};
    /// let sdp = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    ///     m=audio 5004 RTP/AVP 9 0\r\na=ptime:30\r\na=sendonly\r\n").unwrap();
    /// let prefs = [LocalCodec::new(CodecId::Pcmu), LocalCodec::new(CodecId::G722)];
    /// let p = MediaSessionParams::from_remote_sdp("127.0.0.1:0".parse().unwrap(), &sdp, &prefs).unwrap();
    /// assert_eq!((p.codec.codec, p.ptime_ms, p.direction), (CodecId::Pcmu, 30, Direction::RecvOnly));
    /// assert_eq!(p.remote.initial(), Some("127.0.0.1:5004".parse().unwrap()));
    /// assert_eq!(p.audio_level, None);
    /// let sdp = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    ///     m=audio 5004 RTP/AVP 0\r\na=extmap:5/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n").unwrap();
    /// let p = MediaSessionParams::from_remote_sdp("127.0.0.1:0".parse().unwrap(), &sdp, &prefs).unwrap();
    /// let level = p.audio_level.unwrap();
    /// assert_eq!((level.id, level.direction), (5, Direction::RecvOnly)); // the peer sends levels, we read them
    /// ```
    ///
    /// # Errors
    /// [`Error::NoAudio`] (no audio m-line or address), [`Error::Negotiation`].
    pub fn from_remote_sdp(local: SocketAddr, sdp: &SessionDescription, prefs: &[LocalCodec]) -> Result<Self, Error> {
        let audio = sdp.audio().ok_or(Error::NoAudio("no audio m-line with a port"))?;
        let ip = sdp.connection_of(audio).and_then(|c| c.ip()).ok_or(Error::NoAudio("no connection address"))?;
        let codec = negotiate(prefs, &audio.remote_formats())?;
        let telephone_event =
            audio.telephone_events().iter().find(|t| t.clock_rate == codec.clock_rate).map(|t| t.payload_type);
        let remote = SocketAddr::new(ip, audio.port);
        let remote_rtcp = audio
            .rtcp
            .as_ref()
            .map(|r| SocketAddr::new(r.connection.as_ref().and_then(|c| c.ip()).unwrap_or(ip), r.port));
        let negotiated = |uri: &str| {
            audio.extmap(uri).filter(|e| (1..=14).contains(&e.id)).map(|e| NegotiatedExtension {
                id: e.id,
                direction: e.direction_or_default().answer(Direction::SendRecv),
            })
        };
        let (audio_level, csrc_audio_level) = (negotiated(AUDIO_LEVEL_URI), negotiated(CSRC_AUDIO_LEVEL_URI));
        Ok(MediaSessionParams {
            local,
            remote: Remote::Fixed(remote),
            codec,
            ptime_ms: audio.ptime.unwrap_or(20),
            direction: sdp.direction_of(audio).answer(Direction::SendRecv),
            rtcp_mux: audio.rtcp_mux,
            remote_rtcp,
            host_rate: None,
            ssrc: None,
            cname: None,
            telephone_event,
            processing: None,
            audio_level,
            csrc_audio_level,
        })
    }
}
