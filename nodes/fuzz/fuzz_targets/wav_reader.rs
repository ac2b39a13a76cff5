//! Arbitrary bytes as a WAV file: the reader must return a typed error or samples, never
//! panic, never allocate by what a header claims, and every sample it returns is finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_nodes::wav::WavReader;

fuzz_target!(|data: &[u8]| {
    let Ok(mut r) = WavReader::new(std::io::Cursor::new(data)) else { return };
    let mut buf = [0f32; 333];
    let mut total = 0usize;
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        assert!(n <= buf.len());
        assert!(buf[..n].iter().all(|s| s.is_finite()), "non-finite sample");
        total += n;
        // A reader can never return more samples than the bytes it was given hold.
        assert!(total <= data.len(), "{total} samples from {} bytes", data.len());
    }
});
