//! RTP datagrams as the UDP transport meets them: the RTCP demux, `parse_rtp` (any bytes:
//! short, wrong version, lying CSRC/extension/padding lengths), then what is parsed goes
//! through the RFC 3550 statistics and, as a telephone event, the RFC 4733 receiver; a
//! parsed packet is written back and must parse to the same fields and payload. The RFC 6464
//! audio level and the RFC 6465 CSRC levels are read too (`HeaderExtensions::parse` with ids
//! taken from the input, the same id for both now and then): the same header and payload as
//! plain parsing, the same CSRC levels as the standalone `csrc_levels_of`, and levels found
//! survive being written back with them (`write_mixed`) and parsed again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_core::graph::PacketMeta;
use rvoip_media_core::rtp::{
    csrc_levels_of, is_rtcp, parse_rtp, write_rtp, DtmfReceiver, HeaderExtensions, ReceiverStats,
};

fuzz_target!(|data: &[u8]| {
    let mut stats = ReceiverStats::new(8000);
    let mut dtmf = DtmfReceiver::default();
    let mut digits = Vec::new();
    let mut out = [0u8; 1600];
    // Several datagrams per input, split on a length byte.
    let mut rest = data;
    let mut t = 0u64;
    let ids = data.first().map_or(0, |&b| usize::from(b));
    let ext =
        HeaderExtensions { audio_level: Some(1 + (ids % 14) as u8), csrc_audio_level: Some(1 + (ids / 14 % 14) as u8) };
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
            let got = ext.parse(dgram, t).expect("parses as plain RTP did");
            assert_eq!((PacketMeta { audio_level: None, ..got.meta }, got.payload), (meta, payload));
            assert_eq!(got.csrc_levels, ext.csrc_audio_level.and_then(|id| csrc_levels_of(dgram, id)));
            let levels = got.csrc_levels.unwrap_or_default();
            if got.meta.audio_level.is_some() || !levels.is_empty() {
                // 12 + 15 CSRCs + both elements + the largest payload fit in `out`.
                let w = ext.write_mixed(&got.meta, &levels, payload, &mut out).expect("fits");
                let again = ext.parse(&out[..w], t).expect("parses");
                assert_eq!(again.payload, payload);
                if ext.audio_level != ext.csrc_audio_level {
                    // (With one id for both, each reads the first element of that id.)
                    assert_eq!((again.meta, again.csrc_levels.unwrap_or_default()), (got.meta, levels));
                }
            }
        } else {
            assert!(ext.parse(dgram, t).is_err());
        }
    }
    let c = stats.counters();
    assert!(c.jitter_ms.is_finite() && c.jitter_max_ms >= 0.0);
    let _ = stats.report_block(None);
});
