//! `OpusDecoder` with arbitrary packet sequences at every rate and channel count: plain
//! decodes, missing packets (concealment), FEC recovery from arbitrary "next" packets, and
//! undersized output buffers. It must never panic, and anything it returns must be finite
//! and within the buffer it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_nodes::opus::OpusDecoder;

const RATES: [u32; 5] = [8000, 12_000, 16_000, 24_000, 48_000];

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else { return };
    let rate = RATES[usize::from(cfg % 5)];
    let channels = if cfg & 8 != 0 { 2 } else { 1 };
    let Ok(mut dec) = OpusDecoder::new(rate, channels) else { return };
    let mut out = vec![0f32; dec.max_output_len()];
    while let Some((&ctl, tail)) = rest.split_first() {
        rest = tail;
        let len = usize::from(ctl >> 2).min(rest.len());
        let (packet, tail) = rest.split_at(len);
        rest = tail;
        let cap = if ctl & 1 != 0 { out.len() / 7 } else { out.len() };
        let r = match ctl & 3 {
            0 | 1 => dec.decode(Some(packet), &mut out[..cap]),
            2 => dec.decode(None, &mut out[..cap]),
            _ => dec.decode_fec(packet, &mut out[..cap]),
        };
        if let Ok(n) = r {
            let written = n * usize::from(channels);
            assert!(written <= cap, "wrote {written} into {cap}");
            assert!(out[..written].iter().all(|s| s.is_finite()), "non-finite output");
        }
    }
});
