//! Bad input for the G.729 codec: wrong frame sizes, random bytes, truncated frames, extreme PCM.
//! Never a panic; wrong sizes give a typed error and the same output as an erased frame.

mod g729_common;

use g729_common::*;
use rvoip_media_graph::SplitMix64;
use rvoip_media_nodes::g729::{FrameKind, G729Decoder, G729Encoder, G729Error};

#[test]
fn wrong_lengths_are_errors_and_concealed_like_erasures() {
    let frames = read_stream("normal_a.g729s");
    for bad_len in [1usize, 3, 5, 9, 11, 12, 20, 22, 80, 1500] {
        let mut dec = G729Decoder::new();
        let mut twin = G729Decoder::new();
        let mut out = [0i16; 80];
        let mut want = [0i16; 80];
        let junk = vec![0x5au8; bad_len];
        for (i, f) in frames.iter().take(60).enumerate() {
            if i % 7 == 3 {
                assert_eq!(dec.decode(Some(&junk), &mut out), Err(G729Error::InvalidFrameLength(bad_len)));
                twin.decode(None, &mut want).unwrap();
            } else {
                dec.decode(f.as_deref(), &mut out).unwrap();
                twin.decode(f.as_deref(), &mut want).unwrap();
            }
            assert_eq!(out, want, "length {bad_len}, frame {i}");
        }
    }
}

#[test]
fn truncated_frames_are_errors() {
    let frames = read_stream("normal_a.g729s");
    let mut dec = G729Decoder::new();
    let mut out = [0i16; 80];
    for f in frames.iter().take(50).flatten() {
        for cut in [1, 3, 7, 9] {
            assert_eq!(dec.decode(Some(&f[..cut]), &mut out), Err(G729Error::InvalidFrameLength(cut)));
        }
        dec.decode(Some(f), &mut out).unwrap();
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = SplitMix64::new(7);
    let mut dec = G729Decoder::new();
    let mut out = [0i16; 80];
    let mut buf = [0u8; 16];
    let mut errors = 0;
    for _ in 0..5000 {
        let len = match rng.next_u32() % 8 {
            0..=3 => 10,
            4 => 2,
            5 => 0,
            6 => (rng.next_u32() % 16) as usize,
            _ => usize::MAX,
        };
        if len == usize::MAX {
            dec.decode(None, &mut out).unwrap();
            continue;
        }
        for b in buf.iter_mut() {
            *b = (rng.next_u32() >> 24) as u8;
        }
        match dec.decode(Some(&buf[..len]), &mut out) {
            Ok(()) => assert!([0, 2, 10].contains(&len)),
            Err(G729Error::InvalidFrameLength(n)) => {
                assert_eq!(n, len);
                errors += 1;
            }
        }
    }
    assert!(errors > 100);
}

#[test]
fn extreme_pcm_never_panics_and_frame_kinds_are_consistent() {
    let mut rng = SplitMix64::new(99);
    for annex_b in [false, true] {
        let mut enc = G729Encoder::new(annex_b);
        let mut dec = G729Decoder::new();
        let mut bits = [0u8; 10];
        let mut out = [0i16; 80];
        for k in 0..600 {
            let mut pcm = [0i16; 80];
            for (i, s) in pcm.iter_mut().enumerate() {
                *s = match k % 6 {
                    0 => rng.next_u32() as i16,
                    1 => {
                        if i % 2 == 0 {
                            i16::MAX
                        } else {
                            i16::MIN
                        }
                    }
                    2 => i16::MIN,
                    3 => 0,
                    4 => (rng.next_u32() as i16) >> 12,
                    _ => ((i as i32 * 2731) % 65536 - 32768) as i16,
                };
            }
            let kind = enc.encode(&pcm, &mut bits);
            if !annex_b {
                assert_eq!(kind, FrameKind::Speech);
            }
            dec.decode(Some(&bits[..kind.len()]), &mut out).unwrap();
        }
    }
}

#[test]
fn reset_restores_the_initial_state() {
    let pcm = input("normal");
    let mut enc = G729Encoder::new(true);
    let mut bits = [0u8; 10];
    for f in pcm.chunks_exact(80).take(50) {
        enc.encode(f.try_into().unwrap(), &mut bits);
    }
    enc.reset();
    assert!(enc.annex_b());
    let mut fresh = G729Encoder::new(true);
    let mut b2 = [0u8; 10];
    for f in pcm.chunks_exact(80).take(50) {
        let k1 = enc.encode(f.try_into().unwrap(), &mut bits);
        let k2 = fresh.encode(f.try_into().unwrap(), &mut b2);
        assert_eq!((k1, &bits[..k1.len()]), (k2, &b2[..k2.len()]));
    }
}
