//! The G.729 encoder and decoder allocate nothing per frame (including reset and bad input).
//! A counting global allocator counts allocations made by this test's own thread while armed.

use rvoip_media_nodes::g729::{G729Decoder, G729Encoder};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

#[test]
fn encode_and_decode_do_not_allocate() {
    let mut enc = G729Encoder::new(true);
    let mut enc_a = G729Encoder::new(false);
    let mut dec = G729Decoder::new();
    let junk = [0xa5u8; 13];
    let mut bits = [0u8; 10];
    let mut out = [0i16; 80];
    let mut seed = 1u32;
    let n = allocations(|| {
        for k in 0..300 {
            let mut pcm = [0i16; 80];
            for s in pcm.iter_mut() {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *s = if k % 3 == 0 { 0 } else { (seed >> 16) as i16 >> (k % 12) };
            }
            let kind = enc.encode(&pcm, &mut bits);
            let _ = dec.decode(Some(&bits[..kind.len()]), &mut out);
            enc_a.encode(&pcm, &mut bits);
            let _ = dec.decode(Some(&bits), &mut out);
            let _ = dec.decode(None, &mut out);
            let _ = dec.decode(Some(&junk), &mut out);
        }
        enc.reset();
        dec.reset();
    });
    assert_eq!(n, 0, "allocations per frame");
}
