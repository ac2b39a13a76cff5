//! `G722Decoder::decode` (spandsp-compatible and saturating) with arbitrary bytes in
//! arbitrary chunks: it must never panic, must produce two samples per byte, and chunking
//! must not change the output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_nodes::g722::G722Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    for mut dec in [G722Decoder::new(), G722Decoder::new_saturating()] {
        let mut whole = vec![0i16; bytes.len() * 2];
        let n = dec.decode(bytes, &mut whole);
        assert_eq!(n, bytes.len() * 2);
        dec.reset();
        let cut = usize::from(split) % (bytes.len() + 1);
        let mut parts = vec![0i16; bytes.len() * 2];
        let a = dec.decode(&bytes[..cut], &mut parts[..cut * 2]);
        let b = dec.decode(&bytes[cut..], &mut parts[cut * 2..]);
        assert_eq!(a + b, n);
        assert_eq!(whole, parts, "chunking changed the output");
    }
});
