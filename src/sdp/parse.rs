//! The SDP parser: one pass over the lines, no panics on any input.

use super::{
    is_rtp_proto, AddrType, Attribute, Connection, Direction, ExtMap, Fmtp, Format, MediaDescription, Origin,
    OtherLine, Rtcp, RtpMap, SdpError, SessionDescription, Timing,
};
use std::net::IpAddr;

/// The error for line `n` with text `t`.
fn bad(n: usize, t: &str, reason: &'static str) -> SdpError {
    SdpError::Malformed { line: n, text: t.to_owned(), reason }
}

/// Position of an `OtherLine` kind in RFC 4566's order (session level); generation writes
/// them in this order, so parsing sorts them the same way.
pub(super) fn session_rank(kind: char) -> u8 {
    match kind {
        'i' => 0,
        'u' => 1,
        'e' => 2,
        'p' => 3,
        'b' => 4,
        'r' => 5,
        'z' => 6,
        _ => 7, // 'k'
    }
}

/// Position of an `OtherLine` kind at media level (`i`, then `b`, then `k`).
pub(super) fn media_rank(kind: char) -> u8 {
    match kind {
        'i' => 0,
        'b' => 1,
        _ => 2,
    }
}

fn parse_connection(n: usize, t: &str, fields: &[&str]) -> Result<Connection, SdpError> {
    let [net, addr_type, address] = fields else {
        return Err(bad(n, t, "expected `IN IP4|IP6 <address>`"));
    };
    if *net != "IN" {
        return Err(bad(n, t, "network type is not IN"));
    }
    let addr_type = match *addr_type {
        "IP4" => AddrType::Ip4,
        "IP6" => AddrType::Ip6,
        _ => return Err(bad(n, t, "address type is not IP4 or IP6")),
    };
    let host = address.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(bad(n, t, "empty address"));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        if ip.is_ipv4() != (addr_type == AddrType::Ip4) {
            return Err(bad(n, t, "address does not match its address type"));
        }
    }
    Ok(Connection { addr_type, address: (*address).to_owned() })
}

fn parse_pt(s: &str) -> Option<u8> {
    s.parse::<u8>().ok().filter(|pt| *pt <= 127)
}

fn parse_rtpmap(value: &str) -> Option<(u8, RtpMap)> {
    let (pt, rest) = value.split_once(' ')?;
    let pt = parse_pt(pt)?;
    let mut parts = rest.trim().split('/');
    let encoding = parts.next().filter(|e| !e.is_empty() && !e.contains(char::is_whitespace))?;
    let clock_rate = parts.next()?.parse::<u32>().ok().filter(|c| *c > 0)?;
    let channels = match parts.next() {
        Some(c) => Some(c.parse::<u16>().ok()?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((pt, RtpMap { encoding: encoding.to_owned(), clock_rate, channels }))
}

/// `<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §8).
fn parse_extmap(n: usize, t: &str, value: Option<&str>) -> Result<ExtMap, SdpError> {
    let value = value.unwrap_or_default();
    let (head, rest) = value.split_once(' ').unwrap_or((value, ""));
    let (id, direction) = match head.split_once('/') {
        Some((id, d)) => {
            let d = Direction::from_attribute(d).ok_or_else(|| bad(n, t, "extmap direction is not a direction"))?;
            (id, Some(d))
        }
        None => (head, None),
    };
    let id = id
        .parse::<u8>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| bad(n, t, "extmap id is not a number 1-14 (one-byte) or 1-255 (two-byte header)"))?;
    let rest = rest.trim_start();
    let (uri, attributes) = rest.split_once(' ').unwrap_or((rest, ""));
    if uri.is_empty() {
        return Err(bad(n, t, "extmap has no URI"));
    }
    let attributes = attributes.trim();
    Ok(ExtMap {
        id,
        direction,
        uri: uri.to_owned(),
        attributes: (!attributes.is_empty()).then(|| attributes.to_owned()),
    })
}

/// The session-level state while parsing.
struct Builder {
    origin: Option<Origin>,
    session_name: Option<String>,
    connection: Option<Connection>,
    timing: Vec<Timing>,
    direction: Option<Direction>,
    other_lines: Vec<OtherLine>,
    attributes: Vec<Attribute>,
    media: Vec<(usize, MediaDescription)>,
}

impl SessionDescription {
    /// Parses SDP text (lines end in CRLF or LF; blank lines are skipped).
    ///
    /// ```
    /// use rvoip_media_core::sdp::{Direction, SessionDescription};
    /// let sdp = SessionDescription::parse(
    ///     "v=0\no=alice 2890844526 2890844526 IN IP4 198.51.100.1\ns=-\nc=IN IP4 198.51.100.1\nt=0 0\n\
    ///      m=audio 49170 RTP/AVP 0 97\na=rtpmap:97 iLBC/8000\na=ptime:20\na=recvonly\na=x-custom:1\n",
    /// )?;
    /// let audio = &sdp.media[0];
    /// assert_eq!((audio.port, audio.payload_types(), audio.ptime), (49170, vec![0, 97], Some(20)));
    /// assert_eq!(audio.format(97).unwrap().rtpmap.as_ref().unwrap().encoding, "iLBC");
    /// assert_eq!(sdp.direction_of(audio), Direction::RecvOnly);
    /// assert_eq!(audio.attributes[0].name, "x-custom");
    /// # Ok::<(), rvoip_media_core::sdp::SdpError>(())
    /// ```
    pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
        let mut b = Builder {
            origin: None,
            session_name: None,
            connection: None,
            timing: Vec::new(),
            direction: None,
            other_lines: Vec::new(),
            attributes: Vec::new(),
            media: Vec::new(),
        };
        let mut seen_version = false;
        for (i, raw) in text.split('\n').enumerate() {
            let n = i + 1;
            let t = raw.strip_suffix('\r').unwrap_or(raw);
            if t.trim().is_empty() {
                continue;
            }
            let bytes = t.as_bytes();
            if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_lowercase() {
                return Err(bad(n, t, "not `<letter>=<value>`"));
            }
            let kind = bytes[0] as char;
            let value = &t[2..];
            if !seen_version {
                if kind != 'v' {
                    return Err(SdpError::MissingLine { kind: "v=" });
                }
                if value != "0" {
                    return Err(bad(n, t, "unsupported version (only v=0)"));
                }
                seen_version = true;
                continue;
            }
            match b.media.last_mut() {
                None => b.session_line(n, t, kind, value)?,
                Some((_, m)) => media_line(m, n, t, kind, value)?,
            }
            if kind == 'm' {
                if b.origin.is_none() {
                    return Err(SdpError::MissingLine { kind: "o=" });
                }
                if b.session_name.is_none() {
                    return Err(SdpError::MissingLine { kind: "s=" });
                }
                if b.timing.is_empty() {
                    return Err(SdpError::MissingLine { kind: "t=" });
                }
                b.media.push((n, parse_m_line(n, t, value)?));
            }
        }
        if !seen_version {
            return Err(SdpError::MissingLine { kind: "v=" });
        }
        let origin = b.origin.ok_or(SdpError::MissingLine { kind: "o=" })?;
        let session_name = b.session_name.ok_or(SdpError::MissingLine { kind: "s=" })?;
        if b.timing.is_empty() {
            return Err(SdpError::MissingLine { kind: "t=" });
        }
        if b.connection.is_none() {
            if let Some((line, _)) = b.media.iter().find(|(_, m)| m.connection.is_none() && m.port != 0) {
                return Err(SdpError::MissingConnection { line: *line });
            }
        }
        b.other_lines.sort_by_key(|l| session_rank(l.kind));
        Ok(SessionDescription {
            origin,
            session_name,
            connection: b.connection,
            timing: b.timing,
            direction: b.direction,
            other_lines: b.other_lines,
            attributes: b.attributes,
            media: b
                .media
                .into_iter()
                .map(|(_, mut m)| {
                    m.other_lines.sort_by_key(|l| media_rank(l.kind));
                    m
                })
                .collect(),
        })
    }

    /// Parses SDP bytes; invalid UTF-8 is [`SdpError::NotUtf8`] naming the line.
    ///
    /// ```
    /// use rvoip_media_core::sdp::{SdpError, SessionDescription};
    /// let sdp = SessionDescription::parse_bytes(b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nt=0 0\r\n")?;
    /// assert_eq!(sdp.origin.session_id, 1);
    /// assert!(sdp.media.is_empty());
    /// assert_eq!(SessionDescription::parse_bytes(b"v=0\r\n\xfe"), Err(SdpError::NotUtf8 { line: 2 }));
    /// # Ok::<(), SdpError>(())
    /// ```
    pub fn parse_bytes(bytes: &[u8]) -> Result<SessionDescription, SdpError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Self::parse(text),
            Err(e) => {
                let line = 1 + bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count();
                Err(SdpError::NotUtf8 { line })
            }
        }
    }
}

impl std::str::FromStr for SessionDescription {
    type Err = SdpError;

    /// Same as [`SessionDescription::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SessionDescription::parse(s)
    }
}

impl Builder {
    fn session_line(&mut self, n: usize, t: &str, kind: char, value: &str) -> Result<(), SdpError> {
        match kind {
            'v' => return Err(bad(n, t, "duplicate v= line")),
            'o' => {
                if self.origin.is_some() {
                    return Err(bad(n, t, "duplicate o= line"));
                }
                let fields: Vec<&str> = value.split(' ').collect();
                let [user, id, version, rest @ ..] = fields.as_slice() else {
                    return Err(bad(n, t, "expected `<user> <id> <version> IN IP4|IP6 <address>`"));
                };
                let (Ok(session_id), Ok(session_version)) = (id.parse::<u64>(), version.parse::<u64>()) else {
                    return Err(bad(n, t, "session id and version must be numbers"));
                };
                if user.is_empty() {
                    return Err(bad(n, t, "empty user name"));
                }
                let address = parse_connection(n, t, rest)?;
                self.origin = Some(Origin { username: (*user).to_owned(), session_id, session_version, address });
            }
            's' => {
                if self.session_name.is_some() {
                    return Err(bad(n, t, "duplicate s= line"));
                }
                self.session_name = Some(value.to_owned());
            }
            'c' => {
                if self.connection.is_some() {
                    return Err(bad(n, t, "duplicate c= line"));
                }
                let fields: Vec<&str> = value.split(' ').collect();
                self.connection = Some(parse_connection(n, t, &fields)?);
            }
            't' => {
                let fields: Vec<&str> = value.split(' ').collect();
                let [start, stop] = fields.as_slice() else {
                    return Err(bad(n, t, "expected `<start> <stop>`"));
                };
                let (Ok(start), Ok(stop)) = (start.parse(), stop.parse()) else {
                    return Err(bad(n, t, "times must be numbers"));
                };
                self.timing.push(Timing { start, stop });
            }
            'a' => {
                let attr = split_attribute(n, t, value)?;
                match Direction::from_attribute(&attr.name).filter(|_| attr.value.is_none()) {
                    Some(_) if self.direction.is_some() => {
                        return Err(bad(n, t, "more than one direction attribute"));
                    }
                    Some(d) => self.direction = Some(d),
                    None => self.attributes.push(attr),
                }
            }
            'm' => {}
            'i' | 'u' | 'e' | 'p' | 'b' | 'r' | 'z' | 'k' => {
                if kind == 'r' && self.timing.is_empty() {
                    return Err(bad(n, t, "r= before any t= line"));
                }
                self.other_lines.push(OtherLine { kind, value: value.to_owned() });
            }
            _ => return Err(bad(n, t, "unknown line type")),
        }
        Ok(())
    }
}

fn split_attribute(n: usize, t: &str, value: &str) -> Result<Attribute, SdpError> {
    let (name, val) = match value.split_once(':') {
        Some((k, v)) => (k, Some(v.to_owned())),
        None => (value, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad(n, t, "bad attribute name"));
    }
    Ok(Attribute { name: name.to_owned(), value: val })
}

fn parse_m_line(n: usize, t: &str, value: &str) -> Result<MediaDescription, SdpError> {
    // Some endpoints end the m= line with a space; accept that, but not empty tokens inside.
    let fields: Vec<&str> = value.trim_end_matches([' ', '\t']).split(' ').collect();
    let [media, port, proto, fmts @ ..] = fields.as_slice() else {
        return Err(bad(n, t, "expected `<media> <port> <proto> <fmt> ...`"));
    };
    if fmts.is_empty() || fmts.iter().any(|f| f.is_empty()) || media.is_empty() || proto.is_empty() {
        return Err(bad(n, t, "expected `<media> <port> <proto> <fmt> ...`"));
    }
    let (port, port_count) = match port.split_once('/') {
        Some((p, c)) => (p, Some(c.parse::<u16>().map_err(|_| bad(n, t, "bad port count"))?)),
        None => (*port, None),
    };
    let port = port.parse::<u16>().map_err(|_| bad(n, t, "bad port"))?;
    let mut m = MediaDescription::new(media, port, proto);
    m.port_count = port_count;
    if is_rtp_proto(proto) {
        for f in fmts {
            let pt = parse_pt(f).ok_or_else(|| bad(n, t, "RTP payload type is not a number 0-127"))?;
            if m.format(pt).is_some() {
                return Err(bad(n, t, "payload type listed twice"));
            }
            m.formats.push(Format { payload_type: pt, rtpmap: None, fmtp: None });
        }
    } else {
        m.raw_formats = fmts.iter().map(|f| (*f).to_owned()).collect();
    }
    Ok(m)
}

fn parse_u32_attr(n: usize, t: &str, slot: &mut Option<u32>, value: Option<&str>) -> Result<(), SdpError> {
    if slot.is_some() {
        return Err(bad(n, t, "duplicate attribute"));
    }
    let v = value.and_then(|v| v.trim().parse::<u32>().ok()).ok_or_else(|| bad(n, t, "value is not a number"))?;
    *slot = Some(v);
    Ok(())
}

fn media_line(m: &mut MediaDescription, n: usize, t: &str, kind: char, value: &str) -> Result<(), SdpError> {
    match kind {
        'm' => {}
        'c' => {
            if m.connection.is_some() {
                return Err(bad(n, t, "duplicate c= line"));
            }
            let fields: Vec<&str> = value.split(' ').collect();
            m.connection = Some(parse_connection(n, t, &fields)?);
        }
        'i' | 'b' | 'k' => m.other_lines.push(OtherLine { kind, value: value.to_owned() }),
        'a' => {
            let attr = split_attribute(n, t, value)?;
            let val = attr.value.as_deref();
            let rtp = m.is_rtp();
            match attr.name.as_str() {
                "rtpmap" if rtp => {
                    let (pt, map) = val
                        .and_then(parse_rtpmap)
                        .ok_or_else(|| bad(n, t, "expected `rtpmap:<pt> <name>/<clock>[/<channels>]`"))?;
                    match m.formats.iter_mut().find(|f| f.payload_type == pt) {
                        Some(f) if f.rtpmap.is_some() => return Err(bad(n, t, "second rtpmap for a payload type")),
                        Some(f) => f.rtpmap = Some(map),
                        None => m.attributes.push(attr),
                    }
                }
                "fmtp" if rtp => {
                    let (pt, params) = val
                        .and_then(|v| {
                            let (pt, rest) = v.split_once(' ').unwrap_or((v, ""));
                            Some((parse_pt(pt)?, rest.trim()))
                        })
                        .ok_or_else(|| bad(n, t, "expected `fmtp:<pt> <parameters>`"))?;
                    match m.formats.iter_mut().find(|f| f.payload_type == pt) {
                        Some(f) if f.fmtp.is_some() => return Err(bad(n, t, "second fmtp for a payload type")),
                        Some(f) => f.fmtp = Some(Fmtp::new(params)),
                        None => m.attributes.push(attr),
                    }
                }
                "ptime" => parse_u32_attr(n, t, &mut m.ptime, val)?,
                "maxptime" => parse_u32_attr(n, t, &mut m.maxptime, val)?,
                "rtcp-mux" if val.is_none() => m.rtcp_mux = true,
                "rtcp" => {
                    if m.rtcp.is_some() {
                        return Err(bad(n, t, "duplicate attribute"));
                    }
                    let fields: Vec<&str> = val.unwrap_or_default().split(' ').collect();
                    let port = fields[0].parse::<u16>().map_err(|_| bad(n, t, "bad RTCP port"))?;
                    let connection = match &fields[1..] {
                        [] => None,
                        rest => Some(parse_connection(n, t, rest)?),
                    };
                    m.rtcp = Some(Rtcp { port, connection });
                }
                "extmap" if rtp => {
                    let e = parse_extmap(n, t, val)?;
                    if m.extmaps.iter().any(|x| x.id == e.id) {
                        return Err(bad(n, t, "extmap id used twice"));
                    }
                    m.extmaps.push(e);
                }
                name => match Direction::from_attribute(name).filter(|_| val.is_none()) {
                    Some(_) if m.direction.is_some() => return Err(bad(n, t, "more than one direction attribute")),
                    Some(d) => m.direction = Some(d),
                    None => m.attributes.push(attr),
                },
            }
        }
        'v' | 'o' | 's' | 't' | 'u' | 'e' | 'p' | 'r' | 'z' => {
            return Err(bad(n, t, "line not allowed in a media description"));
        }
        _ => return Err(bad(n, t, "unknown line type")),
    }
    Ok(())
}
