//! `G729Decoder::decode` with arbitrary frame sequences: speech, SID, erased, untransmitted,
//! wrong lengths, resets. The decoder must never panic, must accept exactly the lengths 10, 2
//! and 0, and must behave identically after `reset` and when fresh.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_nodes::g729::{G729Decoder, G729Error, FRAME_SAMPLES};

fuzz_target!(|data: &[u8]| {
    let mut dec = G729Decoder::new();
    let mut twin = G729Decoder::new();
    let mut out = [0i16; FRAME_SAMPLES];
    let mut out2 = [0i16; FRAME_SAMPLES];
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        rest = tail;
        let len = match ctl & 7 {
            0 => None,
            1 => Some(0),
            2..=4 => Some(10),
            5 => Some(2),
            6 => Some(usize::from(ctl >> 3)),
            _ => {
                dec.reset();
                twin = G729Decoder::new();
                continue;
            }
        };
        let frame = len.map(|n| {
            let n = n.min(rest.len());
            let (f, t) = rest.split_at(n);
            rest = t;
            f
        });
        let r = dec.decode(frame, &mut out);
        let r2 = twin.decode(frame, &mut out2);
        assert_eq!(r, r2);
        assert_eq!(out, out2, "reset decoder and fresh decoder diverge");
        match frame.map(<[u8]>::len) {
            None | Some(0) | Some(2) | Some(10) => assert_eq!(r, Ok(())),
            Some(n) => assert_eq!(r, Err(G729Error::InvalidFrameLength(n))),
        }
    }
});
