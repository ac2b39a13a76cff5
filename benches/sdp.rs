//! SDP cost: parsing a typical SIP offer, answering it (RFC 3264) and writing the answer,
//! and the whole offer/answer round trip (create offer → text → parse → answer → text →
//! parse).
//!
//! Run: `cargo bench --bench sdp` (add `-- --quick` for a short run).

use criterion::{criterion_group, criterion_main, Criterion};
use rvoip_media_core::sdp::{create_answer, create_offer, LocalAudio, SessionDescription};
use std::hint::black_box;

/// A FreeSWITCH-like offer: Opus, G.722, G.711, G.729, telephone-event, CN.
const OFFER: &str = "v=0\r\no=FreeSWITCH 1700000000 1700000001 IN IP4 198.51.100.20\r\ns=FreeSWITCH\r\n\
c=IN IP4 198.51.100.20\r\nt=0 0\r\nm=audio 16384 RTP/AVP 102 9 0 8 18 101 13\r\n\
a=rtpmap:102 opus/48000/2\r\na=fmtp:102 useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000\r\n\
a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=rtpmap:13 CN/8000\r\n\
a=ptime:20\r\na=sendrecv\r\na=rtcp:16385 IN IP4 198.51.100.20\r\n";

fn bench(c: &mut Criterion) {
    let mut local = LocalAudio::new("192.0.2.50".parse().unwrap(), 20000);
    (local.session_id, local.session_version) = (1, 1);
    let offer = SessionDescription::parse(OFFER).unwrap();
    c.bench_function("sdp/parse_offer", |b| b.iter(|| SessionDescription::parse(black_box(OFFER)).unwrap()));
    c.bench_function("sdp/answer_and_write", |b| b.iter(|| create_answer(black_box(&offer), &local).to_string()));
    c.bench_function("sdp/offer_answer_round_trip", |b| {
        b.iter(|| {
            let offer = SessionDescription::parse(&create_offer(black_box(&local)).to_string()).unwrap();
            SessionDescription::parse(&create_answer(&offer, &local).to_string()).unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
