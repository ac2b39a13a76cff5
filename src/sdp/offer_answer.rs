//! Offer creation and RFC 3264 answers for audio.

use super::{
    Connection, Direction, ExtMap, Format, MediaDescription, Origin, SessionDescription, Timing, AUDIO_LEVEL_URI,
    CSRC_AUDIO_LEVEL_URI,
};
use rvoip_media_nodes::codec::{negotiate, registry, CodecId, LocalCodec, OpusParams};
use std::net::IpAddr;

/// What this endpoint can do for audio: the input of [`create_offer`] and [`create_answer`].
///
/// ```
/// use rvoip_media_core::sdp::{Direction, LocalAudio};
/// use rvoip_media_core::nodes::codec::{CodecId, LocalCodec};
/// let mut local = LocalAudio::new("192.0.2.10".parse().unwrap(), 40000);
/// local.codecs = vec![LocalCodec::new(CodecId::Pcmu), LocalCodec::new(CodecId::G729).with_annexb(false)];
/// local.ptime = Some(20);
/// local.direction = Direction::SendOnly; // on hold
/// assert!(local.telephone_event && local.rtcp_mux);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAudio {
    /// `o=` user name (default `-`).
    pub username: String,
    /// `o=` session id (default: derived from the clock).
    pub session_id: u64,
    /// `o=` session version (default: same as the session id).
    pub session_version: u64,
    /// `s=` (default `-`).
    pub session_name: String,
    /// Address media is received on (`c=` and `o=`).
    pub address: IpAddr,
    /// RTP port.
    pub port: u16,
    /// Transport protocol offered and accepted (default `RTP/AVP`); an offered audio m-line
    /// with another proto is rejected.
    pub proto: String,
    /// Codecs in preference order (default: every codec of the registry, in its order).
    pub codecs: Vec<LocalCodec>,
    /// The Opus parameters we declare for what we receive (default: `useinbandfec=1`);
    /// written by [`opus_fmtp`].
    pub opus: OpusParams,
    /// Whether we do RFC 4733 DTMF (events 0–15; default true).
    pub telephone_event: bool,
    /// Payload type offered for `telephone-event/8000` (default 101).
    pub telephone_event_pt: u8,
    /// `a=ptime` to send (default none).
    pub ptime: Option<u32>,
    /// `a=maxptime` to send (default none).
    pub maxptime: Option<u32>,
    /// What we want to do (default sendrecv; sendonly or inactive for hold).
    pub direction: Direction,
    /// Whether we support RTP/RTCP multiplexing (default true).
    pub rtcp_mux: bool,
    /// Whether we send and read RFC 6464 audio levels ([`AUDIO_LEVEL_URI`], default false):
    /// offered as `a=extmap:<audio_level_id> ... vad=on`, accepted in an answer.
    pub audio_level: bool,
    /// The extension id we offer for the audio level (default 1; 1–14, the one-byte header).
    pub audio_level_id: u8,
    /// Whether we send (a mixer) or read (a client) RFC 6465 mixer-to-client levels
    /// ([`CSRC_AUDIO_LEVEL_URI`], default false): offered as `a=extmap:<csrc_audio_level_id>`,
    /// accepted in an answer.
    pub csrc_audio_level: bool,
    /// The extension id we offer for the mixer-to-client levels (default 2; 1–14).
    pub csrc_audio_level_id: u8,
}

impl LocalAudio {
    /// Defaults for receiving on `address:port` (see the field docs).
    pub fn new(address: IpAddr, port: u16) -> Self {
        let id = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs());
        LocalAudio {
            username: "-".to_owned(),
            session_id: id,
            session_version: id,
            session_name: "-".to_owned(),
            address,
            port,
            proto: "RTP/AVP".to_owned(),
            codecs: registry().iter().map(|c| LocalCodec::new(c.id)).collect(),
            opus: OpusParams { useinbandfec: Some(true), ..OpusParams::default() },
            telephone_event: true,
            telephone_event_pt: 101,
            ptime: None,
            maxptime: None,
            direction: Direction::SendRecv,
            rtcp_mux: true,
            audio_level: false,
            audio_level_id: 1,
            csrc_audio_level: false,
            csrc_audio_level_id: 2,
        }
    }

    fn session(&self, timing: Vec<Timing>, media: Vec<MediaDescription>) -> SessionDescription {
        SessionDescription {
            origin: Origin {
                username: self.username.clone(),
                session_id: self.session_id,
                session_version: self.session_version,
                address: Connection::from_ip(self.address),
            },
            session_name: self.session_name.clone(),
            connection: Some(Connection::from_ip(self.address)),
            timing,
            direction: None,
            other_lines: Vec::new(),
            attributes: Vec::new(),
            media,
        }
    }

    /// Our format for `codec` under payload type `pt`.
    fn format(&self, codec: LocalCodec, pt: u8) -> Format {
        let cap = codec.id.capability();
        let fmtp = match codec.id {
            CodecId::Opus => opus_fmtp(&self.opus),
            CodecId::G729 if !codec.annexb => "annexb=no".to_owned(),
            _ => cap.fmtp.to_owned(),
        };
        let channels = (cap.channels > 1).then_some(cap.channels);
        Format::new(pt, cap.encoding, cap.clock_rate, channels, &fmtp)
    }
}

/// The Opus fmtp line for `params` (RFC 7587 §6.1): `minptime=10`, then each parameter
/// that is set, in the order useinbandfec, usedtx, stereo, sprop-stereo,
/// maxaveragebitrate, maxplaybackrate.
///
/// ```
/// use rvoip_media_core::sdp::opus_fmtp;
/// use rvoip_media_core::nodes::codec::OpusParams;
/// let p = OpusParams { useinbandfec: Some(true), usedtx: Some(true), maxaveragebitrate: Some(24000), stereo: Some(false), maxplaybackrate: Some(16000), ..Default::default() };
/// assert_eq!(opus_fmtp(&p), "minptime=10;useinbandfec=1;usedtx=1;stereo=0;maxaveragebitrate=24000;maxplaybackrate=16000");
/// assert_eq!(OpusParams::parse(&opus_fmtp(&p)), p);
/// ```
pub fn opus_fmtp(params: &OpusParams) -> String {
    let mut s = String::from("minptime=10");
    let flag = |b: bool| if b { "1" } else { "0" };
    let flags = [
        ("useinbandfec", params.useinbandfec),
        ("usedtx", params.usedtx),
        ("stereo", params.stereo),
        ("sprop-stereo", params.sprop_stereo),
    ];
    for (k, v) in flags {
        if let Some(v) = v {
            s.push_str(&format!(";{k}={}", flag(v)));
        }
    }
    if let Some(b) = params.maxaveragebitrate {
        s.push_str(&format!(";maxaveragebitrate={b}"));
    }
    if let Some(r) = params.maxplaybackrate {
        s.push_str(&format!(";maxplaybackrate={r}"));
    }
    s
}

fn telephone_event(pt: u8, clock_rate: u32, events: &str) -> Format {
    Format::new(pt, "telephone-event", clock_rate, None, events)
}

/// An offer with one audio m-line: the codecs in preference order (static payload types, or the
/// registry's default for dynamic ones), each with an rtpmap and the fmtp we want; then, when
/// DTMF is on, one `telephone-event` (events `0-15`) per codec clock rate (`telephone_event_pt`
/// for 8000 Hz, 110 for others, or the first free dynamic type when that one is taken);
/// ptime/maxptime, the direction (always written), rtcp-mux and, with
/// [`LocalAudio::audio_level`],
/// `a=extmap:<audio_level_id> urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on`, and with
/// [`LocalAudio::csrc_audio_level`],
/// `a=extmap:<csrc_audio_level_id> urn:ietf:params:rtp-hdrext:csrc-audio-level`.
///
/// ```
/// use rvoip_media_core::sdp::{create_offer, LocalAudio};
/// use rvoip_media_core::nodes::codec::{CodecId, LocalCodec};
/// let mut local = LocalAudio::new("192.0.2.10".parse().unwrap(), 40000);
/// (local.session_id, local.session_version) = (42, 1);
/// local.codecs = vec![LocalCodec::new(CodecId::Pcmu), LocalCodec::new(CodecId::Pcma)];
/// local.ptime = Some(20);
/// assert_eq!(
///     create_offer(&local).to_string(),
///     "v=0\r\no=- 42 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
///      m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
///      a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\na=rtcp-mux\r\n"
/// );
/// local.audio_level = true;
/// assert!(create_offer(&local).to_string().ends_with(
///     "a=rtcp-mux\r\na=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\r\n"
/// ));
/// local.csrc_audio_level = true;
/// assert!(create_offer(&local).to_string().ends_with(
///     "vad=on\r\na=extmap:2 urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"
/// ));
/// ```
pub fn create_offer(local: &LocalAudio) -> SessionDescription {
    let mut m = MediaDescription::new("audio", local.port, &local.proto);
    for c in &local.codecs {
        let cap = c.id.capability();
        if m.formats.iter().any(|f| f.to_remote().encoding.eq_ignore_ascii_case(cap.encoding)) {
            continue;
        }
        m.formats.push(local.format(*c, cap.static_payload_type.unwrap_or(cap.default_payload_type)));
    }
    if local.telephone_event {
        let mut clocks: Vec<u32> = Vec::new();
        for f in &m.formats {
            let clock = f.rtpmap.as_ref().map_or(8000, |r| r.clock_rate);
            if !clocks.contains(&clock) {
                clocks.push(clock);
            }
        }
        let mut used: Vec<u8> = m.payload_types();
        // Keep `telephone_event_pt` for 8000 Hz unless a codec already has it.
        let te_pt = if used.contains(&local.telephone_event_pt) { None } else { Some(local.telephone_event_pt) };
        used.extend(te_pt);
        let mut events = Vec::new();
        for clock in clocks {
            let preferred = if clock == 8000 { te_pt } else { Some(110) };
            let free = preferred.filter(|pt| clock == 8000 || !used.contains(pt));
            let Some(pt) = free.or_else(|| (96..=127).find(|pt| !used.contains(pt))) else {
                continue;
            };
            used.push(pt);
            events.push(telephone_event(pt, clock, "0-15"));
        }
        // 8000 Hz last, after the wideband ones, as browsers do.
        events.sort_by_key(|f| f.rtpmap.as_ref().is_some_and(|r| r.clock_rate == 8000));
        m.formats.extend(events);
    }
    m.ptime = local.ptime;
    m.maxptime = local.maxptime;
    m.direction = Some(local.direction);
    m.rtcp_mux = local.rtcp_mux;
    if local.audio_level {
        m.extmaps.push(ExtMap {
            id: local.audio_level_id,
            direction: None,
            uri: AUDIO_LEVEL_URI.to_owned(),
            attributes: Some("vad=on".to_owned()),
        });
    }
    if local.csrc_audio_level {
        m.extmaps.push(ExtMap {
            id: local.csrc_audio_level_id,
            direction: None,
            uri: CSRC_AUDIO_LEVEL_URI.to_owned(),
            attributes: None,
        });
    }
    local.session(vec![Timing::default()], vec![m])
}

/// The events of an offered telephone-event we accept (those within 0–15), as fmtp text;
/// `None` when none is left.
fn answer_events(offered: &Format) -> Option<String> {
    let ranges = match &offered.fmtp {
        None => vec![(0, 15)],
        Some(f) => super::parse_event_ranges(&f.raw).unwrap_or_default(),
    };
    let pieces: Vec<String> = ranges
        .into_iter()
        .filter(|(a, _)| *a <= 15)
        .map(|(a, b)| (a, b.min(15)))
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
        .collect();
    (!pieces.is_empty()).then(|| pieces.join(","))
}

fn answer_audio(offer: &SessionDescription, m: &MediaDescription, local: &LocalAudio) -> Option<MediaDescription> {
    // Codecs first: which offered payload types we take, each codec once.
    let mut taken: Vec<(u8, Format)> = Vec::new();
    let mut codecs_used: Vec<CodecId> = Vec::new();
    for f in m.formats.iter().filter(|f| !f.is_telephone_event()) {
        let remote = [f.to_remote()];
        let hit = local.codecs.iter().filter(|c| !codecs_used.contains(&c.id)).find_map(|c| {
            let n = negotiate(&[*c], &remote).ok()?;
            let mut ours = local.format(*c, f.payload_type);
            if c.id == CodecId::G729 {
                ours.fmtp = Some(super::Fmtp::new(&n.fmtp));
            }
            Some((c.id, ours))
        });
        if let Some((id, ours)) = hit {
            codecs_used.push(id);
            taken.push((f.payload_type, ours));
        }
    }
    if taken.is_empty() {
        return None;
    }
    let clocks: Vec<u32> = taken.iter().filter_map(|(_, f)| f.rtpmap.as_ref().map(|r| r.clock_rate)).collect();
    let mut te_clocks: Vec<u32> = Vec::new();
    let mut answer = MediaDescription::new("audio", local.port, &m.proto);
    for f in &m.formats {
        if let Some((_, ours)) = taken.iter().find(|(pt, _)| *pt == f.payload_type) {
            answer.formats.push(ours.clone());
        } else if f.is_telephone_event() && local.telephone_event {
            let clock = f.rtpmap.as_ref().map_or(0, |r| r.clock_rate);
            if clocks.contains(&clock) && !te_clocks.contains(&clock) {
                if let Some(events) = answer_events(f) {
                    te_clocks.push(clock);
                    answer.formats.push(telephone_event(f.payload_type, clock, &events));
                }
            }
        }
    }
    answer.ptime = local.ptime;
    answer.maxptime = local.maxptime;
    answer.direction = Some(offer.direction_of(m).answer(local.direction));
    answer.rtcp_mux = m.rtcp_mux && local.rtcp_mux;
    answer.extmaps = answer_extmaps(m, local);
    Some(answer)
}

/// The header extensions we accept from an offered m-line (RFC 8285 §6): the audio level
/// and the mixer-to-client levels when we do them, under the offerer's ids (when they fit
/// the one-byte header, the only one we write), their directions answered with ours
/// (sendonly ↔ recvonly; left out when the offer gave none); every other extension is
/// left out.
fn answer_extmaps(m: &MediaDescription, local: &LocalAudio) -> Vec<ExtMap> {
    m.extmaps
        .iter()
        .filter(|e| (1..=14).contains(&e.id))
        .filter_map(|e| {
            let attributes = match e.uri.as_str() {
                AUDIO_LEVEL_URI if local.audio_level => Some("vad=on".to_owned()),
                CSRC_AUDIO_LEVEL_URI if local.csrc_audio_level => None,
                _ => return None,
            };
            Some(ExtMap {
                id: e.id,
                direction: e.direction.map(|d| d.answer(local.direction)),
                uri: e.uri.clone(),
                attributes,
            })
        })
        .collect()
}

/// A rejected stream in an answer: same media and proto, port 0, the offered formats listed
/// without attributes (RFC 3264 §6).
fn reject(m: &MediaDescription) -> MediaDescription {
    let mut r = MediaDescription::new(&m.media, 0, &m.proto);
    r.formats = m.formats.iter().map(|f| Format { payload_type: f.payload_type, rtpmap: None, fmtp: None }).collect();
    r.raw_formats = m.raw_formats.clone();
    r
}

/// The RFC 3264 answer to `offer`, one m-line per offered m-line, in order.
///
/// The first audio m-line with a non-zero port, the proto `local.proto`, and a codec in
/// common is accepted: its formats are the offered ones we support, in the offerer's order
/// and under the offerer's payload types (dynamic types matched by name, clock rate and
/// channels, case-insensitively, by the codec registry's
/// [`negotiate`](rvoip_media_nodes::codec::negotiate)), each codec once; a telephone-event
/// is kept (events clipped to 0–15) when we do DTMF and its clock rate is an accepted
/// codec's. The direction is the offer's answered with ours ([`Direction::answer`]);
/// rtcp-mux is mirrored when we support it; ptime/maxptime are ours; of the offered header
/// extensions only the audio level and the mixer-to-client levels are kept, under the
/// offerer's ids, when [`LocalAudio::audio_level`] / [`LocalAudio::csrc_audio_level`] are
/// on (RFC 8285 §6). Every other m-line
/// (video, a second audio stream, nothing in common) is rejected with port 0 — not an
/// error. The `t=` lines are the offer's.
///
/// ```
/// use rvoip_media_core::sdp::{create_answer, LocalAudio, SessionDescription};
/// let offer = SessionDescription::parse(
///     "v=0\r\no=- 7 7 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
///      m=audio 5004 RTP/AVP 98 0\r\na=rtpmap:98 OPUS/48000/2\r\n\
///      m=video 5006 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
/// )?;
/// let answer = create_answer(&offer, &LocalAudio::new("192.0.2.1".parse().unwrap(), 6000));
/// assert_eq!(answer.media[0].payload_types(), vec![98, 0]);
/// assert_eq!((answer.media[1].media.as_str(), answer.media[1].port), ("video", 0));
/// # Ok::<(), rvoip_media_core::sdp::SdpError>(())
/// ```
pub fn create_answer(offer: &SessionDescription, local: &LocalAudio) -> SessionDescription {
    let mut accepted = false;
    let media = offer
        .media
        .iter()
        .map(|m| {
            if !accepted && m.media == "audio" && m.port != 0 && m.proto.eq_ignore_ascii_case(&local.proto) {
                if let Some(a) = answer_audio(offer, m, local) {
                    accepted = true;
                    return a;
                }
            }
            reject(m)
        })
        .collect();
    let timing = if offer.timing.is_empty() { vec![Timing::default()] } else { offer.timing.clone() };
    local.session(timing, media)
}
