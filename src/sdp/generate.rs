//! SDP text generation (CRLF line endings, RFC 4566 line order).

use super::parse::{media_rank, session_rank};
use super::{Attribute, Connection, ExtMap, MediaDescription, OtherLine, SessionDescription};
use std::fmt::{self, Display, Formatter, Write};

impl Display for Connection {
    /// `IN IP4 <address>`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "IN {} {}", self.addr_type.as_str(), self.address)
    }
}

impl Display for ExtMap {
    /// The attribute's value: `<id>[/<direction>] <uri>[ <attributes>]`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.id)?;
        if let Some(d) = self.direction {
            write!(f, "/{}", d.as_str())?;
        }
        write!(f, " {}", self.uri)?;
        if let Some(a) = &self.attributes {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

fn other(
    f: &mut Formatter<'_>,
    lines: &[OtherLine],
    rank: impl Fn(char) -> u8,
    keep: impl Fn(u8) -> bool,
) -> fmt::Result {
    for l in lines.iter().filter(|l| keep(rank(l.kind))) {
        write!(f, "{}={}\r\n", l.kind, l.value)?;
    }
    Ok(())
}

fn attribute(f: &mut Formatter<'_>, a: &Attribute) -> fmt::Result {
    match &a.value {
        Some(v) => write!(f, "a={}:{}\r\n", a.name, v),
        None => write!(f, "a={}\r\n", a.name),
    }
}

impl Display for MediaDescription {
    /// The `m=` section, from its `m=` line to its last attribute.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut fmts = String::new();
        for p in &self.formats {
            let _ = write!(fmts, " {}", p.payload_type);
        }
        for r in &self.raw_formats {
            let _ = write!(fmts, " {r}");
        }
        match self.port_count {
            Some(c) => write!(f, "m={} {}/{} {}{}\r\n", self.media, self.port, c, self.proto, fmts)?,
            None => write!(f, "m={} {} {}{}\r\n", self.media, self.port, self.proto, fmts)?,
        }
        other(f, &self.other_lines, media_rank, |r| r == 0)?;
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        other(f, &self.other_lines, media_rank, |r| r > 0)?;
        for p in &self.formats {
            if let Some(m) = &p.rtpmap {
                write!(f, "a=rtpmap:{} {}/{}", p.payload_type, m.encoding, m.clock_rate)?;
                match m.channels {
                    Some(c) => write!(f, "/{c}\r\n")?,
                    None => f.write_str("\r\n")?,
                }
            }
            if let Some(fmtp) = &p.fmtp {
                match fmtp.raw.is_empty() {
                    true => write!(f, "a=fmtp:{}\r\n", p.payload_type)?,
                    false => write!(f, "a=fmtp:{} {}\r\n", p.payload_type, fmtp.raw)?,
                }
            }
        }
        if let Some(p) = self.ptime {
            write!(f, "a=ptime:{p}\r\n")?;
        }
        if let Some(p) = self.maxptime {
            write!(f, "a=maxptime:{p}\r\n")?;
        }
        if let Some(d) = self.direction {
            write!(f, "a={}\r\n", d.as_str())?;
        }
        if self.rtcp_mux {
            f.write_str("a=rtcp-mux\r\n")?;
        }
        if let Some(r) = &self.rtcp {
            match &r.connection {
                Some(c) => write!(f, "a=rtcp:{} {c}\r\n", r.port)?,
                None => write!(f, "a=rtcp:{}\r\n", r.port)?,
            }
        }
        for e in &self.extmaps {
            write!(f, "a=extmap:{e}\r\n")?;
        }
        for a in &self.attributes {
            attribute(f, a)?;
        }
        Ok(())
    }
}

impl Display for SessionDescription {
    /// The SDP text, every line ending in CRLF.
    ///
    /// ```
    /// use rvoip_media_core::sdp::{create_offer, LocalAudio, SessionDescription};
    /// let offer = create_offer(&LocalAudio::new("203.0.113.5".parse().unwrap(), 30000));
    /// let text = offer.to_string();
    /// assert!(text.starts_with("v=0\r\no=- "));
    /// assert!(text.contains("\r\nm=audio 30000 RTP/AVP 111 9 0 8 18 110 101\r\n"));
    /// assert_eq!(SessionDescription::parse(&text)?, offer);
    /// # Ok::<(), rvoip_media_core::sdp::SdpError>(())
    /// ```
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(
            f,
            "v=0\r\no={} {} {} {}\r\ns={}\r\n",
            o.username, o.session_id, o.session_version, o.address, self.session_name
        )?;
        other(f, &self.other_lines, session_rank, |r| r < 4)?;
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        other(f, &self.other_lines, session_rank, |r| r == 4)?;
        for t in &self.timing {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
        }
        other(f, &self.other_lines, session_rank, |r| r > 4)?;
        if let Some(d) = self.direction {
            write!(f, "a={}\r\n", d.as_str())?;
        }
        for a in &self.attributes {
            attribute(f, a)?;
        }
        for m in &self.media {
            m.fmt(f)?;
        }
        Ok(())
    }
}
