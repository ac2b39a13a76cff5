//! Opus with bad input: empty, truncated, random and oversized payloads, wrong buffer sizes,
//! NaN / Inf samples. Always a typed error or defined output, never a panic.

mod opus_common;

use opus_common::*;
use rvoip_media_graph::SplitMix64;
use rvoip_media_nodes::opus::{
    needs_sanitising, Bitrate, OpusDecoder, OpusEncoderConfig, OpusError, MAX_PACKET_BYTES, MAX_PAYLOAD_BYTES,
    SAMPLE_RATES,
};

fn real_packets(rate: u32, channels: u16) -> Vec<Vec<u8>> {
    let x = speech_at(rate, 1.0);
    let x: Vec<f32> = x.iter().flat_map(|&v| (0..channels).map(move |_| v)).collect();
    let mut enc = OpusEncoderConfig::new(rate, channels).bitrate(Bitrate::Bits(32_000)).build().unwrap();
    encode_all(&mut enc, &x)
}

#[test]
fn empty_oversized_and_truncated_payloads_are_rejected_without_touching_the_output() {
    let packets = real_packets(16_000, 1);
    let mut dec = OpusDecoder::new(16_000, 1).unwrap();
    let mut out = vec![7.0f32; 320];
    assert_eq!(dec.decode(Some(&[]), &mut out), Err(OpusError::BadPayload { len: 0, reason: "empty payload" }));
    let big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
    assert_eq!(
        dec.decode(Some(&big), &mut out),
        Err(OpusError::PayloadTooLarge { len: MAX_PAYLOAD_BYTES + 1, max: MAX_PAYLOAD_BYTES })
    );
    assert!(out.iter().all(|&v| v == 7.0));
    // Code-3 packets (TOC byte & 3 == 3) need a frame-count byte; 49 frames of 2.5 ms
    // exceed 120 ms.
    assert!(matches!(dec.decode(Some(&[0x03]), &mut out), Err(OpusError::BadPayload { .. })));
    assert!(matches!(dec.decode(Some(&[0x03, 49]), &mut out), Err(OpusError::BadPayload { .. })));
    assert!(out.iter().all(|&v| v == 7.0));

    // Every prefix of real packets: a typed error (nothing written) or finite audio.
    let mut rejected = 0;
    for p in packets.iter().skip(10).take(20) {
        for cut in 1..p.len() {
            out.fill(7.0);
            match dec.decode(Some(&p[..cut]), &mut out) {
                Ok(n) => {
                    assert_eq!(n, 320);
                    assert!(out.iter().all(|v| v.is_finite()));
                }
                Err(OpusError::BadPayload { len, .. }) => {
                    assert_eq!(len, cut);
                    assert!(out.iter().all(|&v| v == 7.0));
                    rejected += 1;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
    }
    println!("{rejected} truncated packets rejected");
    // The decoder still works after all that.
    for p in &packets[..5] {
        assert_eq!(dec.decode(Some(p), &mut out).unwrap(), 320);
    }
}

#[test]
fn code3_truncation_is_detected() {
    // A CBR code-3 packet of 2 frames of 10 bytes needs 2 + 20 bytes.
    let mut dec = OpusDecoder::new(48_000, 1).unwrap();
    let mut out = vec![0f32; dec.max_output_len()];
    let mut p = vec![0u8; 22];
    p[0] = (16 << 3) | 3; // CELT NB 2.5 ms, code 3
    p[1] = 2;
    assert_eq!(dec.decode(Some(&p), &mut out).unwrap(), 240);
    assert_eq!(
        dec.decode(Some(&p[..21]), &mut out),
        Err(OpusError::BadPayload { len: 21, reason: "corrupt or truncated packet" })
    );
}

#[test]
fn random_bytes_never_panic_and_decode_to_finite_audio() {
    let mut rng = SplitMix64::new(12345);
    for &rate in SAMPLE_RATES {
        for channels in [1u16, 2] {
            let mut dec = OpusDecoder::new(rate, channels).unwrap();
            let mut out = vec![0f32; dec.max_output_len()];
            let mut buf = vec![0u8; 1500];
            let (mut ok, mut bad) = (0, 0);
            for i in 0..400 {
                let len = 1 + (rng.next_u32() as usize % if i % 2 == 0 { 40 } else { 1500 });
                buf[..len].iter_mut().for_each(|b| *b = (rng.next_u32() >> 24) as u8);
                match dec.decode(Some(&buf[..len]), &mut out) {
                    Ok(n) => {
                        assert!(n <= rate as usize * 120 / 1000);
                        assert!(out[..n * usize::from(channels)].iter().all(|v| v.is_finite()));
                        ok += 1;
                    }
                    Err(OpusError::BadPayload { .. }) => bad += 1,
                    Err(e) => panic!("unexpected {e}"),
                }
                if i % 7 == 0 {
                    match dec.decode_fec(&buf[..len], &mut out) {
                        Ok(_) | Err(OpusError::BadPayload { .. }) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                    assert!(out.iter().all(|v| v.is_finite()));
                }
            }
            assert!(ok > 0 && bad > 0, "{rate} Hz x{channels}: {ok} decoded, {bad} rejected");
        }
    }
}

#[test]
fn wrong_buffer_sizes_are_typed_errors() {
    let packets = real_packets(48_000, 2);
    let mut dec = OpusDecoder::new(48_000, 2).unwrap();
    let mut out = vec![0f32; 1919];
    assert_eq!(dec.decode(Some(&packets[0]), &mut out), Err(OpusError::OutputTooSmall { needed: 1920, got: 1919 }));
    assert_eq!(dec.decode(None, &mut out), Err(OpusError::OutputTooSmall { needed: 1920, got: 1919 }));
    assert_eq!(dec.decode_fec(&packets[1], &mut out), Err(OpusError::OutputTooSmall { needed: 1920, got: 1919 }));
    let mut big = vec![0f32; 5000];
    assert_eq!(dec.decode(Some(&packets[0]), &mut big).unwrap(), 960);
    assert!(dec.decode_fec(&[], &mut big).is_err());

    let mut enc = OpusEncoderConfig::new(48_000, 2).build().unwrap();
    let mut pkt = [0u8; MAX_PACKET_BYTES];
    for len in [0usize, 959, 1919, 1921, 3840] {
        assert_eq!(enc.encode(&vec![0.0; len], &mut pkt), Err(OpusError::InputLength { needed: 1920, got: len }));
    }
    assert_eq!(enc.encode_i16(&[0; 10], &mut pkt), Err(OpusError::InputLength { needed: 1920, got: 10 }));
    assert_eq!(enc.encode(&[0.0; 1920], &mut []), Err(OpusError::OutputTooSmall { needed: 1, got: 0 }));
    // A tiny output buffer caps the packet: typed error or a packet that fits, never more.
    let x = speech_at(48_000, 0.5);
    let x: Vec<f32> = x.iter().flat_map(|&v| [v, -v]).collect();
    for (i, f) in x.chunks_exact(1920).enumerate() {
        let cap = 1 + i % 12;
        if let Ok(p) = enc.encode(f, &mut pkt[..cap]) {
            assert!(p.len <= cap);
        }
    }
}

#[test]
fn non_finite_and_out_of_range_input_is_sanitised_before_libopus() {
    let rate = 16_000;
    let x = speech_at(rate, 1.0);
    let cfg = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(24_000));
    let (mut a, mut b) = (cfg.build().unwrap(), cfg.build().unwrap());
    let (mut pa, mut pb) = ([0u8; MAX_PACKET_BYTES], [0u8; MAX_PACKET_BYTES]);
    let mut dec = OpusDecoder::new(rate, 1).unwrap();
    let mut out = vec![0f32; 320];
    for (i, f) in x.chunks_exact(320).enumerate() {
        // Poison some frames; `b` gets what the sanitiser must produce: NaN -> 0, clamp to ±1.
        let mut bad = f.to_vec();
        if i % 3 == 1 {
            bad[i % 320] = f32::NAN;
            bad[(i * 7) % 320] = f32::INFINITY;
            bad[(i * 13) % 320] = f32::NEG_INFINITY;
            if i % 9 == 1 {
                bad.fill(f32::NAN);
            }
        }
        // Every fifth frame is too loud instead: it must encode as its clipped self.
        if i % 5 == 2 {
            bad.iter_mut().for_each(|v| *v *= 4.0);
        }
        assert_eq!(needs_sanitising(&bad), i % 3 == 1 || (i % 5 == 2 && bad.iter().any(|v| v.abs() > 1.0)));
        let clean: Vec<f32> = bad.iter().map(|&v| if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) }).collect();
        assert!(!needs_sanitising(&clean));
        let ra = a.encode(&bad, &mut pa).unwrap();
        let rb = b.encode(&clean, &mut pb).unwrap();
        assert_eq!(pa[..ra.len], pb[..rb.len], "frame {i}");
        dec.decode(Some(&pa[..ra.len]), &mut out).unwrap();
        assert!(out.iter().all(|v| v.is_finite()));
    }
}
