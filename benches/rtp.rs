//! RTP and RTCP wire cost per packet: parse and build of a 20 ms PCMU packet (172 bytes),
//! and the same with the RFC 6464 audio level extension (180 bytes) through
//! `HeaderExtensions` as the transports use it, the RFC 3550 receiver statistics per packet,
//! and an RTCP report (SR + report block + SDES CNAME) built and parsed.
//!
//! Run: `cargo bench --bench rtp` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion};
use rvoip_media_core::graph::PacketMeta;
use rvoip_media_core::rtp::{
    build_report, csrc_levels_of, parse_rtcp, parse_rtp, write_rtp, CsrcLevels, HeaderExtensions, ReceiverStats,
    ReportBlockInfo, RtcpReport, SenderInfo,
};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let meta = PacketMeta {
        payload_type: 0,
        sequence: 4711,
        timestamp: 160_000,
        ssrc: 0xdead_beef,
        marker: false,
        arrival_ns: 0,
        audio_level: None,
    };
    let payload = [0x55u8; 160];
    let mut buf = [0u8; 1500];
    let n = write_rtp(&meta, &payload, &mut buf).unwrap();
    let packet = buf[..n].to_vec();
    c.bench_function("rtp/parse_172B", |b| b.iter(|| parse_rtp(black_box(&packet), 1).unwrap().1.len()));
    c.bench_function("rtp/build_172B", |b| {
        b.iter(|| write_rtp(black_box(&meta), black_box(&payload), &mut buf).unwrap())
    });
    c.bench_function("rtp/parse_and_build_172B", |b| {
        let mut out = [0u8; 1500];
        b.iter(|| {
            let (m, p) = parse_rtp(black_box(&packet), 1).unwrap();
            write_rtp(&m, p, &mut out).unwrap()
        })
    });
    // The same packet with the audio level (one-byte header, id 1), as a transport that
    // negotiated it parses and writes it.
    let ext = HeaderExtensions { audio_level: Some(1), ..HeaderExtensions::default() };
    let lmeta = PacketMeta { audio_level: Some(0x80 | 23), ..meta };
    let n = ext.write(&lmeta, &payload, &mut buf).unwrap();
    let lpacket = buf[..n].to_vec();
    assert_eq!(ext.parse(&lpacket, 1).unwrap().meta.audio_level, Some(0x80 | 23));
    c.bench_function("rtp/parse_level_180B", |b| {
        b.iter(|| ext.parse(black_box(&lpacket), 1).unwrap().meta.audio_level)
    });
    c.bench_function("rtp/build_level_180B", |b| {
        b.iter(|| ext.write(black_box(&lmeta), black_box(&payload), &mut buf).unwrap())
    });
    c.bench_function("rtp/parse_and_build_level_180B", |b| {
        let mut out = [0u8; 1500];
        b.iter(|| {
            let r = ext.parse(black_box(&lpacket), 1).unwrap();
            ext.write(&r.meta, r.payload, &mut out).unwrap()
        })
    });
    // A mixer's packet: three talkers as CSRCs with their RFC 6465 levels (id 2) beside the
    // RFC 6464 level; and what a client reads of it.
    let mext = HeaderExtensions { audio_level: Some(1), csrc_audio_level: Some(2) };
    let mut talkers = CsrcLevels::new();
    for (k, l) in [(0x5eed_0001, 20), (0x5eed_0002, 31), (0x5eed_0003, 45)] {
        talkers.push(k, l);
    }
    let n = mext.write_mixed(&lmeta, &talkers, &payload, &mut buf).unwrap();
    let mpacket = buf[..n].to_vec();
    assert_eq!(csrc_levels_of(&mpacket, 2), Some(talkers));
    c.bench_function("rtp/build_csrc_levels_3_196B", |b| {
        b.iter(|| mext.write_mixed(black_box(&lmeta), black_box(&talkers), black_box(&payload), &mut buf).unwrap())
    });
    c.bench_function("rtp/read_csrc_levels_3_196B", |b| b.iter(|| csrc_levels_of(black_box(&mpacket), 2)));
    // What a session's transport does with each packet from a mixer when it negotiated both
    // levels: the header, the RFC 6464 level and the RFC 6465 list, in one parse.
    assert_eq!(mext.parse(&mpacket, 1).unwrap().csrc_levels, Some(talkers));
    c.bench_function("rtp/receive_mixed_3_196B", |b| {
        b.iter(|| {
            let r = mext.parse(black_box(&mpacket), 1).unwrap();
            (r.meta.audio_level, r.payload.len(), r.csrc_levels)
        })
    });
    c.bench_function("rtp/receiver_stats_per_packet", |b| {
        let mut rx = ReceiverStats::new(8000);
        let mut seq = 0u16;
        let mut t = 0u64;
        b.iter(|| {
            seq = seq.wrapping_add(1);
            t += 20_000_000;
            rx.on_packet(7, black_box(seq), u32::from(seq) * 160, 172, t)
        })
    });
    let report = RtcpReport {
        ssrc: 1,
        sender: Some(SenderInfo { ntp: 1 << 40, rtp_timestamp: 1, packets: 100, octets: 16000 }),
        blocks: vec![ReportBlockInfo { ssrc: 2, fraction_lost: 3, cumulative_lost: 4, ..Default::default() }],
        cname: "rvoip-0123abcd".into(),
        voip_metrics: None,
        bye: None,
    };
    let mut rbuf = [0u8; 1500];
    let rn = build_report(&report, &mut rbuf).unwrap();
    let rtcp = rbuf[..rn].to_vec();
    c.bench_function("rtcp/build_sr_sdes", |b| b.iter(|| build_report(black_box(&report), &mut rbuf).unwrap()));
    c.bench_function("rtcp/parse_sr_sdes", |b| b.iter(|| parse_rtcp(black_box(&rtcp)).unwrap().len()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
