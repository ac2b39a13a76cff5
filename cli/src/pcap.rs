//! A small reader of packet captures — classic libpcap (tcpdump's format) and pcapng
//! (Wireshark's, what `tshark -w` and `dumpcap` write) — for UDP datagrams over IPv4 or
//! IPv6, on Ethernet (with 802.1Q tags), Linux cooked capture (SLL and SLL2), BSD loopback
//! or raw IP links. Anything else (other link types' frames, non-UDP, fragments, truncated
//! records; in pcapng, packets without a timestamp and blocks of other kinds) is counted and
//! skipped; a malformed file is an error, never a panic.

/// One UDP datagram of a capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Capture timestamp, ns since the epoch.
    pub time_ns: u64,
    /// UDP payload.
    pub payload: Vec<u8>,
}

/// A parsed capture.
#[derive(Debug, Default)]
pub struct Capture {
    /// UDP datagrams in file order.
    pub datagrams: Vec<Datagram>,
    /// Records that were not UDP over IP (or were fragments / truncated).
    pub skipped: u64,
    /// Time of the first and last record of the file, ns (any kind).
    pub first_ns: Option<u64>,
    /// Latest record time, ns.
    pub last_ns: Option<u64>,
}

/// Why a capture could not be read. Not public: `jitter --pcap` reports it as a
/// [`CliError::Usage`](crate::CliError::Usage) naming the file.
///
/// ```
/// use rvoip_media_cli::{execute, parse, CliError};
/// let dir = std::env::temp_dir().join(format!("rvoip-media-doc-pcap-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let pcap = dir.join("call.pcap");
/// std::fs::write(&pcap, b"RIFF\0\0\0\0WAVE: a recording, not a capture").unwrap();
/// let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
/// let args = ["rvoip-media", "jitter", "--pcap", &path(&pcap), "--codec", "pcmu", "--out", &path(&dir.join("o.wav"))];
/// let err = execute(parse(args).unwrap()).unwrap_err();
/// std::fs::remove_dir_all(&dir).unwrap();
/// // PcapError::Magic, in the user's terms:
/// assert!(matches!(err, CliError::Usage(m) if m.ends_with("not a libpcap or pcapng capture (magic 0x46464952)")));
/// ```
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PcapError {
    /// Neither a classic pcap file nor a pcapng one (or a pcapng section header with an
    /// unknown byte-order magic).
    #[error("not a libpcap or pcapng capture (magic {0:#010x})")]
    Magic(u32),
    /// The file ends inside its header.
    #[error("file too short for a pcap header")]
    Short,
    /// A link type this reader does not know (in pcapng: no interface has one it knows).
    #[error(
        "unsupported link type {0} (supported: Ethernet 1, raw IP 101/228/229, Linux SLL 113, SLL2 276, loopback 0)"
    )]
    LinkType(u32),
}

/// The link types [`ip_of_frame`] reads.
fn known_link(link: u32) -> bool {
    matches!(link, 0 | 1 | 12 | 101 | 113 | 228 | 229 | 276)
}

impl Capture {
    /// Adds one captured frame.
    fn record(&mut self, link: u32, time_ns: u64, frame: &[u8]) {
        self.first_ns.get_or_insert(time_ns);
        self.last_ns = Some(self.last_ns.map_or(time_ns, |l| l.max(time_ns)));
        match ip_of_frame(link, frame).and_then(udp_of_ip) {
            Some(payload) => self.datagrams.push(Datagram { time_ns, payload: payload.to_vec() }),
            None => self.skipped += 1,
        }
    }
}

mod pcapng;

/// Reads a file's words in its byte order (a classic pcap's, from its magic; a pcapng
/// section's, from its byte-order magic).
#[derive(Clone, Copy)]
struct Order {
    little: bool,
}

impl Order {
    fn u16(self, d: &[u8], i: usize) -> Option<u16> {
        let b = [*d.get(i)?, *d.get(i + 1)?];
        Some(if self.little { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    fn u32(self, d: &[u8], i: usize) -> Option<u32> {
        let b: [u8; 4] = d.get(i..i + 4)?.try_into().ok()?;
        Some(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn i64(self, d: &[u8], i: usize) -> Option<i64> {
        let b: [u8; 8] = d.get(i..i + 8)?.try_into().ok()?;
        Some(if self.little { i64::from_le_bytes(b) } else { i64::from_be_bytes(b) })
    }
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// The UDP payload of an IP packet starting at `ip`, if it is one.
fn udp_of_ip(ip: &[u8]) -> Option<&[u8]> {
    match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(be16(ip, 2)?);
            let frag = be16(ip, 6)?;
            if ihl < 20 || *ip.get(9)? != 17 || frag & 0x3fff != 0 || total < ihl || total > ip.len() {
                return None;
            }
            udp_payload(&ip[ihl..total])
        }
        6 => {
            let plen = usize::from(be16(ip, 4)?);
            if *ip.get(6)? != 17 || 40 + plen > ip.len() {
                return None;
            }
            udp_payload(&ip[40..40 + plen])
        }
        _ => None,
    }
}

fn udp_payload(udp: &[u8]) -> Option<&[u8]> {
    let len = usize::from(be16(udp, 4)?);
    if len < 8 || len > udp.len() {
        return None;
    }
    Some(&udp[8..len])
}

/// The IP packet inside a link-layer frame.
fn ip_of_frame(link: u32, f: &[u8]) -> Option<&[u8]> {
    match link {
        1 => {
            let mut off = 12;
            let mut et = be16(f, off)?;
            while et == 0x8100 || et == 0x88a8 {
                off += 4;
                et = be16(f, off)?;
            }
            (et == 0x0800 || et == 0x86dd).then(|| f.get(off + 2..)).flatten()
        }
        113 => {
            let et = be16(f, 14)?;
            (et == 0x0800 || et == 0x86dd).then(|| f.get(16..)).flatten()
        }
        276 => {
            let et = be16(f, 0)?;
            (et == 0x0800 || et == 0x86dd).then(|| f.get(20..)).flatten()
        }
        0 => f.get(4..),
        101 | 228 | 229 | 12 => Some(f),
        _ => None,
    }
}

/// Reads a capture file's bytes: classic pcap or pcapng, told apart by the first word.
///
/// # Errors
/// [`PcapError`] when the file is neither, or (classic) names an unsupported link type, or
/// (pcapng) has packets but no interface of a supported link type. Truncated records at
/// the end are skipped and counted.
pub fn parse(d: &[u8]) -> Result<Capture, PcapError> {
    if d.len() >= 4 && d[..4] == pcapng::SECTION_HEADER {
        return pcapng::parse(d);
    }
    if d.len() < 24 {
        return Err(PcapError::Short);
    }
    let magic = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
    let (little, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        m => return Err(PcapError::Magic(m)),
    };
    // Every word read below lies inside `d` (the header is 24 bytes, a record header 16).
    let u32_at = |i: usize| Order { little }.u32(d, i).expect("inside the file");
    let link = u32_at(20) & 0x0fff_ffff;
    if !known_link(link) {
        return Err(PcapError::LinkType(link));
    }
    let mut cap = Capture::default();
    let mut p = 24;
    while p + 16 <= d.len() {
        let (sec, frac, incl) = (u64::from(u32_at(p)), u64::from(u32_at(p + 4)), u32_at(p + 8) as usize);
        let Some(frame) = d.get(p + 16..p + 16 + incl) else {
            cap.skipped += 1;
            break;
        };
        p += 16 + incl;
        cap.record(link, sec * 1_000_000_000 + if nanos { frac } else { frac * 1000 }, frame);
    }
    if p < d.len() && p + 16 > d.len() {
        cap.skipped += 1;
    }
    Ok(cap)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An Ethernet/IPv4/UDP frame around `payload`.
    pub(crate) fn eth_udp(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        let total = 20 + 8 + payload.len();
        f.extend([0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        let ul = 8 + payload.len();
        f.extend([0x9c, 0x40, 0x9c, 0x42, (ul >> 8) as u8, ul as u8, 0, 0]);
        f.extend(payload);
        f
    }

    /// A little-endian µs pcap of `(time_us, frame)` records.
    pub(crate) fn pcap(link: u32, recs: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend(0xa1b2_c3d4u32.to_le_bytes());
        d.extend([2, 0, 4, 0]);
        d.extend([0u8; 8]);
        d.extend(65_535u32.to_le_bytes());
        d.extend(link.to_le_bytes());
        for (t, f) in recs {
            d.extend(((t / 1_000_000) as u32).to_le_bytes());
            d.extend(((t % 1_000_000) as u32).to_le_bytes());
            d.extend((f.len() as u32).to_le_bytes());
            d.extend((f.len() as u32).to_le_bytes());
            d.extend(f);
        }
        d
    }

    #[test]
    fn reads_udp_over_ethernet_and_skips_the_rest() {
        let mut arp = vec![0u8; 12];
        arp.extend([0x08, 0x06, 0, 1]);
        let mut tcp = eth_udp(b"xx");
        tcp[14 + 9] = 6;
        let mut frag = eth_udp(b"yy");
        frag[14 + 6] = 0x20; // more fragments
        let d = pcap(1, &[(1_500_000, eth_udp(b"hello")), (1_600_000, arp), (1_700_000, tcp), (1_800_000, frag)]);
        let c = parse(&d).unwrap();
        assert_eq!(c.datagrams, vec![Datagram { time_ns: 1_500_000_000, payload: b"hello".to_vec() }]);
        assert_eq!((c.skipped, c.first_ns, c.last_ns), (3, Some(1_500_000_000), Some(1_800_000_000)));
    }

    #[test]
    fn reads_linux_cooked_captures_and_nanosecond_big_endian_files() {
        let mut sll = vec![0u8; 14];
        sll.extend([0x08, 0x00]);
        sll.extend(&eth_udp(b"abc")[14..]);
        let c = parse(&pcap(113, &[(7, sll)])).unwrap();
        assert_eq!(c.datagrams[0].payload, b"abc");
        // Big-endian, nanosecond magic.
        let mut d = Vec::new();
        d.extend(0xa1b2_3c4du32.to_be_bytes());
        d.extend([0, 2, 0, 4]);
        d.extend([0u8; 8]);
        d.extend(65_535u32.to_be_bytes());
        d.extend(1u32.to_be_bytes());
        let f = eth_udp(b"z");
        d.extend(3u32.to_be_bytes());
        d.extend(5u32.to_be_bytes());
        d.extend((f.len() as u32).to_be_bytes());
        d.extend((f.len() as u32).to_be_bytes());
        d.extend(&f);
        let c = parse(&d).unwrap();
        assert_eq!(c.datagrams[0].time_ns, 3_000_000_005);
    }

    #[test]
    fn bad_files_are_errors_and_truncation_is_counted() {
        assert_eq!(parse(&[0; 10]).unwrap_err(), PcapError::Short);
        assert!(matches!(
            parse(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(PcapError::Magic(_))
        ));
        assert_eq!(parse(&pcap(147, &[])).unwrap_err(), PcapError::LinkType(147));
        let mut d = pcap(1, &[(1, eth_udp(b"ok")), (2, eth_udp(b"cut"))]);
        d.truncate(d.len() - 3);
        let c = parse(&d).unwrap();
        assert_eq!((c.datagrams.len(), c.skipped), (1, 1));
        // A lying UDP length inside a good record.
        let mut f = eth_udp(b"abcd");
        f[14 + 20 + 5] = 200;
        assert_eq!(parse(&pcap(1, &[(1, f)])).unwrap().skipped, 1);
    }
}
