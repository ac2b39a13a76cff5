//! Compound RTCP as received: `parse_rtcp` with any bytes (lying lengths, padding, SDES
//! items, XR blocks, unknown types). Whatever parses as a report is built again and must
//! parse to the same items.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_core::rtp::{build_report, parse_rtcp, RtcpItem, RtcpReport};

fuzz_target!(|data: &[u8]| {
    let Ok(items) = parse_rtcp(data) else { return };
    for item in &items {
        let report = match item {
            RtcpItem::Sender { ssrc, info, blocks } if blocks.len() <= 31 => {
                RtcpReport { ssrc: *ssrc, sender: Some(*info), blocks: blocks.clone(), cname: "x".into(), ..Default::default() }
            }
            RtcpItem::Receiver { ssrc, blocks } if blocks.len() <= 31 => {
                RtcpReport { ssrc: *ssrc, blocks: blocks.clone(), cname: "x".into(), ..Default::default() }
            }
            _ => continue,
        };
        let mut buf = [0u8; 2048];
        let n = build_report(&report, &mut buf).expect("a parsed report can be written");
        let again = parse_rtcp(&buf[..n]).expect("what we write parses");
        assert_eq!(&again[0], item);
    }
});
