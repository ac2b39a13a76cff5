//! pcapng (the PCAP Next Generation format, IETF draft-ietf-opsawg-pcapng): the format
//! Wireshark's `dumpcap` and `tshark -w` write by default.
//!
//! A file is a run of blocks, each `type, total length, body, total length`; a section
//! header block starts a section and sets its byte order, interface description blocks
//! give each interface its link type and timestamp resolution (`if_tsresol`, default
//! microseconds) and offset (`if_tsoffset`), and enhanced (or the obsolete plain) packet
//! blocks carry a frame with its interface and timestamp. Simple packet blocks have no
//! timestamp, so they cannot be replayed in time: they are counted as skipped, as are
//! packets of an unknown interface or resolution. Other blocks (name resolution,
//! statistics, journal, custom) are passed over. A block whose length does not fit the
//! file ends the reading and counts as one skipped record, like a truncated record of a
//! classic pcap.

use super::{known_link, Capture, Order, PcapError};

/// The section header block's type, the same bytes in either byte order.
pub(super) const SECTION_HEADER: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// The section header's byte-order magic.
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const INTERFACE_DESCRIPTION: u32 = 1;
const OBSOLETE_PACKET: u32 = 2;
const SIMPLE_PACKET: u32 = 3;
const ENHANCED_PACKET: u32 = 6;
const OPT_END: u16 = 0;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// One interface of the current section.
#[derive(Clone, Copy)]
struct Interface {
    link: u32,
    /// Timestamp units per second (`None`: a resolution too fine to represent).
    units_per_s: Option<u128>,
    /// `if_tsoffset`, s.
    offset_s: i64,
}

impl Interface {
    /// A timestamp of this interface in ns since the epoch, if it is one.
    fn time_ns(&self, ts: u64) -> Option<u64> {
        let ns = u128::from(ts) * 1_000_000_000 / self.units_per_s?;
        let ns = i128::try_from(ns).ok()? + i128::from(self.offset_s) * 1_000_000_000;
        u64::try_from(ns).ok()
    }
}

/// An interface description block's body (from the link type on). An interface whose
/// block is malformed still takes its place in the numbering, with no usable timestamps.
fn interface(o: Order, body: &[u8]) -> Interface {
    let link = o.u16(body, 0).map_or(u32::MAX, u32::from);
    let mut iface = Interface { link, units_per_s: Some(1_000_000), offset_s: 0 };
    let mut p = 8;
    while let (Some(code), Some(len)) = (o.u16(body, p), o.u16(body, p + 2)) {
        let Some(value) = body.get(p + 4..p + 4 + usize::from(len)) else {
            iface.units_per_s = None;
            break;
        };
        match (code, len) {
            (OPT_END, _) => break,
            (IF_TSRESOL, 1) => {
                let e = u32::from(value[0] & 0x7f);
                iface.units_per_s = if value[0] & 0x80 != 0 { 1u128.checked_shl(e) } else { 10u128.checked_pow(e) };
            }
            (IF_TSOFFSET, 8) => iface.offset_s = o.i64(value, 0).unwrap_or_default(),
            _ => {}
        }
        p += 4 + usize::from(len).next_multiple_of(4);
    }
    iface
}

/// A packet block's interface id, timestamp and captured frame (`None`: not a packet block
/// with a timestamp, or malformed).
fn packet(o: Order, kind: u32, body: &[u8]) -> Option<(usize, u64, &[u8])> {
    let id = match kind {
        ENHANCED_PACKET => o.u32(body, 0)? as usize,
        OBSOLETE_PACKET => usize::from(o.u16(body, 0)?),
        _ => return None,
    };
    let ts = u64::from(o.u32(body, 4)?) << 32 | u64::from(o.u32(body, 8)?);
    let caplen = o.u32(body, 12)? as usize;
    Some((id, ts, body.get(20..20usize.checked_add(caplen)?)?))
}

/// Reads a pcapng file's bytes (see the module docs).
pub(super) fn parse(d: &[u8]) -> Result<Capture, PcapError> {
    let mut cap = Capture::default();
    let mut ifaces: Vec<Interface> = Vec::new();
    let (mut known, mut unknown) = (false, None);
    let mut order = Order { little: true };
    let mut p = 0;
    while p < d.len() {
        if d[p..].starts_with(&SECTION_HEADER) {
            let magic = Order { little: true }.u32(d, p + 8);
            order = match magic {
                Some(BYTE_ORDER_MAGIC) => Order { little: true },
                Some(m) if m.swap_bytes() == BYTE_ORDER_MAGIC => Order { little: false },
                Some(m) if p == 0 => return Err(PcapError::Magic(m)),
                None if p == 0 => return Err(PcapError::Short),
                _ => {
                    cap.skipped += 1;
                    break;
                }
            };
            ifaces.clear();
        }
        let (Some(kind), Some(len)) = (order.u32(d, p), order.u32(d, p + 4)) else {
            cap.skipped += 1;
            break;
        };
        let len = len as usize;
        if len < 12 || len % 4 != 0 || d.len() - p < len {
            cap.skipped += 1;
            break;
        }
        let body = &d[p + 8..p + len - 4];
        p += len;
        match kind {
            INTERFACE_DESCRIPTION => {
                let iface = interface(order, body);
                if known_link(iface.link) {
                    known = true;
                } else if iface.link != u32::MAX {
                    unknown.get_or_insert(iface.link);
                }
                ifaces.push(iface);
            }
            ENHANCED_PACKET | OBSOLETE_PACKET | SIMPLE_PACKET => {
                let at = packet(order, kind, body)
                    .and_then(|(id, ts, frame)| Some((ifaces.get(id)?, ts, frame)))
                    .and_then(|(iface, ts, frame)| Some((iface.link, iface.time_ns(ts)?, frame)));
                match at {
                    Some((link, time_ns, frame)) => cap.record(link, time_ns, frame),
                    None => cap.skipped += 1,
                }
            }
            _ => {}
        }
    }
    match unknown {
        Some(link) if !known => Err(PcapError::LinkType(link)),
        _ => Ok(cap),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::eth_udp;
    use super::super::{parse, Datagram, PcapError};

    /// Writes pcapng blocks in one byte order.
    struct Writer {
        little: bool,
        d: Vec<u8>,
    }

    impl Writer {
        fn u16(&self, v: u16) -> [u8; 2] {
            if self.little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        }

        fn u32(&self, v: u32) -> [u8; 4] {
            if self.little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        }

        fn block(&mut self, kind: u32, body: &[u8]) {
            let mut body = body.to_vec();
            body.resize(body.len().next_multiple_of(4), 0);
            let len = 12 + body.len() as u32;
            let (k, l) = (self.u32(kind), self.u32(len));
            self.d.extend(k);
            self.d.extend(l);
            self.d.extend(body);
            self.d.extend(l);
        }

        fn section(little: bool) -> Writer {
            let mut w = Writer { little, d: Vec::new() };
            let mut body = w.u32(0x1a2b_3c4d).to_vec();
            body.extend(w.u16(1));
            body.extend(w.u16(0));
            body.extend([0xff; 8]); // section length unknown
            w.block(0x0a0d_0d0a, &body);
            w
        }

        /// An interface of `link` with options `(code, value)`.
        fn interface(&mut self, link: u16, options: &[(u16, Vec<u8>)]) {
            let mut body = self.u16(link).to_vec();
            body.extend([0, 0]);
            body.extend(self.u32(65_535));
            for (code, value) in options {
                body.extend(self.u16(*code));
                body.extend(self.u16(value.len() as u16));
                body.extend(value);
                body.resize(body.len().next_multiple_of(4), 0);
            }
            body.extend([0; 4]); // opt_endofopt
            self.block(1, &body);
        }

        fn enhanced(&mut self, iface: u32, ts: u64, frame: &[u8]) {
            let mut body = self.u32(iface).to_vec();
            body.extend(self.u32((ts >> 32) as u32));
            body.extend(self.u32(ts as u32));
            body.extend(self.u32(frame.len() as u32));
            body.extend(self.u32(frame.len() as u32));
            body.extend(frame);
            self.block(6, &body);
        }
    }

    #[test]
    fn reads_what_dumpcap_writes_and_skips_what_cannot_be_timed() {
        let mut w = Writer::section(true);
        w.interface(1, &[]); // Ethernet, microseconds
        w.enhanced(0, 1_500_000, &eth_udp(b"hello"));
        let spb = [w.u32(5).to_vec(), eth_udp(b"untimed")].concat();
        w.block(3, &spb); // simple packet block: no timestamp
        w.block(4, &[0; 8]); // name resolution: passed over
        w.enhanced(7, 1_600_000, &eth_udp(b"nowhere")); // no interface 7
        w.enhanced(0, 1_700_000, &eth_udp(b"world"));
        let c = parse(&w.d).unwrap();
        let times: Vec<u64> = c.datagrams.iter().map(|g| g.time_ns).collect();
        assert_eq!(times, [1_500_000_000, 1_700_000_000]);
        assert_eq!(c.datagrams[1].payload, b"world");
        assert_eq!((c.skipped, c.first_ns, c.last_ns), (2, Some(1_500_000_000), Some(1_700_000_000)));
    }

    #[test]
    fn big_endian_sections_with_their_own_resolutions_and_offsets() {
        let mut w = Writer::section(false);
        // Nanoseconds, 10 s offset; then Linux cooked capture in units of 2^-20 s.
        w.interface(1, &[(9, vec![9]), (14, 10i64.to_be_bytes().to_vec())]);
        let mut sll = vec![0u8; 14];
        sll.extend([0x08, 0x00]);
        sll.extend(&eth_udp(b"abc")[14..]);
        w.interface(113, &[(9, vec![0x80 | 20])]);
        w.enhanced(0, 3_000_000_005, &eth_udp(b"z"));
        w.enhanced(1, 3 << 20, &sll);
        let c = parse(&w.d).unwrap();
        assert_eq!(
            c.datagrams,
            [
                Datagram { time_ns: 13_000_000_005, payload: b"z".to_vec() },
                Datagram { time_ns: 3_000_000_000, payload: b"abc".to_vec() }
            ]
        );
        // A second section (little-endian) numbers its interfaces afresh.
        let mut second = Writer::section(true);
        second.interface(1, &[]);
        second.enhanced(0, 42, &eth_udp(b"again"));
        w.d.extend(second.d);
        let c = parse(&w.d).unwrap();
        assert_eq!(c.datagrams[2], Datagram { time_ns: 42_000, payload: b"again".to_vec() });
    }

    #[test]
    fn bad_files_are_errors_and_truncation_is_counted() {
        assert_eq!(parse(&[0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0]).unwrap_err(), PcapError::Short);
        let mut w = Writer::section(true);
        w.d[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(parse(&w.d).unwrap_err(), PcapError::Magic(0x0403_0201));
        let mut w = Writer::section(true);
        w.interface(147, &[]);
        w.enhanced(0, 1, &eth_udp(b"x"));
        assert_eq!(parse(&w.d).unwrap_err(), PcapError::LinkType(147));
        // A block cut short, a block whose length lies, a frame longer than its block.
        let mut w = Writer::section(true);
        w.interface(1, &[]);
        w.enhanced(0, 1, &eth_udp(b"ok"));
        let whole = w.d.clone();
        w.enhanced(0, 2, &eth_udp(b"cut"));
        w.d.truncate(w.d.len() - 3);
        let c = parse(&w.d).unwrap();
        assert_eq!((c.datagrams.len(), c.skipped), (1, 1));
        let mut lying = whole.clone();
        lying.extend([6, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse(&lying).unwrap().skipped, 1);
        let mut w = Writer { little: true, d: whole };
        let mut body = [0u32, 0, 1, 4000, 4000].map(u32::to_le_bytes).concat();
        body.extend(eth_udp(b"short"));
        w.block(6, &body);
        assert_eq!(parse(&w.d).unwrap().skipped, 1);
        // A resolution of 10^-120 s cannot be represented: that interface's packets are skipped.
        let mut w = Writer::section(true);
        w.interface(1, &[(9, vec![120])]);
        w.enhanced(0, 1, &eth_udp(b"x"));
        assert_eq!(parse(&w.d).unwrap().skipped, 1);
    }

    #[test]
    fn corrupted_files_never_panic() {
        let mut w = Writer::section(false);
        w.interface(1, &[(9, vec![9]), (14, 5i64.to_be_bytes().to_vec())]);
        for t in 0..4u64 {
            w.enhanced(0, t * 20_000_000, &eth_udp(&[t as u8; 40]));
        }
        let mut x: u32 = 1;
        for _ in 0..20_000 {
            let mut d = w.d.clone();
            for _ in 0..1 + x % 4 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let i = (x >> 8) as usize % d.len();
                d[i] = (x >> 20) as u8;
            }
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            d.truncate(d.len() - (x >> 16) as usize % 24);
            let _ = parse(&d);
        }
    }
}
