//! RTP datagrams as the UDP transport meets them: the RTCP demux, `parse_rtp` (any bytes:
//! short, wrong version, lying CSRC/extension/padding lengths), then what is parsed goes
//! through the RFC 3550 statistics and, as a telephone event, the RFC 4733 receiver; a
//! parsed packet is written back and must parse to the same fields and payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_core::rtp::{is_rtcp, parse_rtp, write_rtp, DtmfReceiver, ReceiverStats};

fuzz_target!(|data: &[u8]| {
    let mut stats = ReceiverStats::new(8000);
    let mut dtmf = DtmfReceiver::default();
    let mut digits = Vec::new();
    let mut out = [0u8; 1600];
    // Several datagrams per input, split on a length byte.
    let mut rest = data;
    let mut t = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (dgram, next) = tail.split_at(n);
        rest = next;
        t += 20_000_000;
        let _ = is_rtcp(dgram);
        if let Ok((meta, payload)) = parse_rtp(dgram, t) {
            assert!(payload.len() + 12 <= dgram.len());
            stats.on_packet(meta.ssrc, meta.sequence, meta.timestamp, dgram.len(), t);
            let _ = dtmf.on_packet(meta.timestamp, payload, &mut digits);
            let w = write_rtp(&meta, payload, &mut out).expect("a parsed packet fits when written");
            let (again, p2) = parse_rtp(&out[..w], t).expect("what we write parses");
            assert_eq!((again, p2), (meta, payload));
        }
    }
    let c = stats.counters();
    assert!(c.jitter_ms.is_finite() && c.jitter_max_ms >= 0.0);
    let _ = stats.report_block(None);
});
