//! 10 ms μ-law quanta at 8 kHz (80 samples) for the room tests: what a leg's packet carries
//! and what a listener decodes from one.

use rvoip_media_nodes::G711Law;

/// The law the room tests' legs speak.
pub const LAW: G711Law = G711Law::Ulaw;

/// One quantum encoded.
pub fn g711(x: &[f32]) -> [u8; 80] {
    let mut p = [0u8; 80];
    LAW.encode_f32(x, &mut p);
    p
}

/// One quantum decoded.
pub fn decoded(p: &[u8; 80]) -> [f32; 80] {
    let mut x = [0.0; 80];
    LAW.decode_f32(p, &mut x);
    x
}
