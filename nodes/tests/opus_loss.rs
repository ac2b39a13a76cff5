//! Opus packet loss: FEC recovery of a lost packet from the next one versus plain
//! concealment (measured against the original), libopus's neural concealment (decoder
//! complexity 5) against its classic one, concealment that stays finite and decays, and the
//! frame-size rules of both.

mod opus_common;

use opus_common::*;
use rvoip_media_nodes::opus::{
    Bitrate, OpusCodecDecoder, OpusDecoder, OpusEncoderConfig, OpusError, DEEP_PLC_COMPLEXITY,
};

/// Error energy of `y` (delayed by `delay`) against `x` over the frames in `lost`.
fn loss_error(x: &[f32], y: &[f32], delay: usize, lost: &[usize], n: usize) -> (f64, f64) {
    let (mut sig, mut err) = (0f64, 0f64);
    for &k in lost {
        for i in k * n..(k + 1) * n {
            let a = f64::from(x[i]);
            sig += a * a;
            err += (a - f64::from(y[i + delay])).powi(2);
        }
    }
    (sig, err)
}

#[test]
fn fec_recovers_a_lost_packet_better_than_concealment() {
    let rate = 16_000;
    let n = 320;
    let x = speech_at(rate, 20.0);
    let mut enc = OpusEncoderConfig::new(rate, 1)
        .bitrate(Bitrate::Bits(24_000))
        .inband_fec(true)
        .packet_loss_percent(20)
        .build()
        .unwrap();
    let la = enc.lookahead();
    let packets = encode_all(&mut enc, &x);
    // Lose every 9th packet that falls in active speech (frame energy above -40 dBFS).
    let lost: Vec<usize> =
        (10..packets.len() - 2).step_by(9).filter(|&k| energy(&x[k * n..(k + 1) * n]) / n as f64 > 1e-4).collect();
    assert!(lost.len() > 40, "only {} losses", lost.len());

    let run = |use_fec: bool| {
        let mut dec = OpusDecoder::new(rate, 1).unwrap();
        let mut out = vec![0f32; n];
        let mut y = Vec::with_capacity(x.len());
        for (k, p) in packets.iter().enumerate() {
            let got = if lost.contains(&k) {
                if use_fec {
                    dec.decode_fec(&packets[k + 1], &mut out).unwrap()
                } else {
                    dec.decode(None, &mut out).unwrap()
                }
            } else {
                dec.decode(Some(p), &mut out).unwrap()
            };
            assert_eq!(got, n);
            assert!(out.iter().all(|v| v.is_finite()));
            y.extend_from_slice(&out);
        }
        y
    };
    let (y_plc, y_fec) = (run(false), run(true));
    let (sig, e_plc) = loss_error(&x, &y_plc, la, &lost, n);
    let (_, e_fec) = loss_error(&x, &y_fec, la, &lost, n);
    let snr_plc = 10.0 * (sig / e_plc).log10();
    let snr_fec = 10.0 * (sig / e_fec).log10();
    println!("{} lost packets: SNR over them with concealment {snr_plc:.2} dB, with FEC {snr_fec:.2} dB", lost.len());
    assert!(snr_fec > snr_plc + 3.0, "FEC {snr_fec:.2} dB vs concealment {snr_plc:.2} dB");
    assert!(snr_fec > 3.0);
    // Up to the first loss the two streams are identical.
    let first = lost[0] * n;
    assert_eq!(y_plc[..first], y_fec[..first]);

    // Without FEC in the stream, decode_fec falls back to concealment.
    let mut enc = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(24_000)).build().unwrap();
    let plain = encode_all(&mut enc, &x[..rate as usize * 2]);
    let (mut d1, mut d2) = (OpusDecoder::new(rate, 1).unwrap(), OpusDecoder::new(rate, 1).unwrap());
    let (mut o1, mut o2) = (vec![0f32; n], vec![0f32; n]);
    for p in &plain[..50] {
        d1.decode(Some(p), &mut o1).unwrap();
        d2.decode(Some(p), &mut o2).unwrap();
    }
    d1.decode(None, &mut o1).unwrap();
    d2.decode_fec(&plain[51], &mut o2).unwrap();
    assert_eq!(o1, o2);
}

#[test]
fn fec_works_for_every_frame_duration_and_gap() {
    let rate = 16_000;
    let x = speech_at(rate, 3.0);
    for fr in [20_000u32, 40_000, 60_000] {
        let mut enc = OpusEncoderConfig::new(rate, 1)
            .frame_duration_us(fr)
            .bitrate(Bitrate::Bits(24_000))
            .inband_fec(true)
            .packet_loss_percent(20)
            .build()
            .unwrap();
        let n = enc.frame_samples();
        let packets = encode_all(&mut enc, &x);
        let mut dec = OpusDecoder::new(rate, 1).unwrap();
        let mut out = vec![0f32; dec.max_output_len()];
        for p in &packets[..10] {
            dec.decode(Some(p), &mut out).unwrap();
        }
        // One lost packet: decode_fec assumes the next packet's duration.
        assert_eq!(dec.decode_fec(&packets[11], &mut out).unwrap(), n);
        assert_eq!(dec.decode(Some(&packets[11]), &mut out).unwrap(), n);
        // Two lost packets: the first part of the gap is concealed, the last frame rebuilt.
        assert_eq!(dec.decode_fec_for(&packets[14], 2 * n, &mut out).unwrap(), 2 * n);
        assert!(out[..2 * n].iter().all(|v| v.is_finite()));
        assert_eq!(dec.decode(Some(&packets[14]), &mut out).unwrap(), n);
        // The output buffer must hold the whole gap.
        assert_eq!(
            dec.decode_fec_for(&packets[15], 2 * n, &mut out[..2 * n - 1]),
            Err(OpusError::OutputTooSmall { needed: 2 * n, got: 2 * n - 1 })
        );
    }
}

#[test]
fn concealment_is_finite_and_decays() {
    let rate = 48_000;
    let n = 960;
    let x = speech_at(rate, 3.0);
    let mut enc = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(32_000)).build().unwrap();
    let packets = encode_all(&mut enc, &x);
    // Cut where the speech is loud, so the concealment has something to extend.
    let cut = (20..packets.len())
        .max_by(|&a, &b| energy(&x[a * n..(a + 1) * n]).total_cmp(&energy(&x[b * n..(b + 1) * n])))
        .unwrap();
    let mut dec = OpusDecoder::new(rate, 1).unwrap();
    let mut out = vec![0f32; n];
    let mut last = 0.0;
    for p in &packets[..cut] {
        dec.decode(Some(p), &mut out).unwrap();
        last = energy(&out);
    }
    let mut e = Vec::new();
    for _ in 0..40 {
        assert_eq!(dec.decode(None, &mut out).unwrap(), n);
        assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 2.0));
        e.push(energy(&out));
    }
    println!(
        "last good frame {last:.3e}; concealed: first {:.3e}, 5th {:.3e}, 10th {:.3e}, 40th {:.3e}",
        e[0], e[4], e[9], e[39]
    );
    // The first concealed frame continues the signal; within 100 ms it has faded by more
    // than 20 dB, and it never comes back up (libopus keeps a low comfort-noise floor).
    assert!(e[0] > last * 0.01, "first concealed frame {:.3e} vs last good {last:.3e}", e[0]);
    assert!(e[4] < e[0] * 0.01, "5th concealed frame {:.3e} vs first {:.3e}", e[4], e[0]);
    let tail = e[5..].iter().copied().fold(0.0, f64::max);
    assert!(tail < e[0] * 0.01, "concealment came back up to {tail:.3e}");
    // The stream resumes normally after the gap.
    assert_eq!(dec.decode(Some(&packets[cut]), &mut out).unwrap(), n);
    assert!(out.iter().all(|v| v.is_finite()));
}

#[test]
fn concealment_duration_follows_the_last_packet() {
    let rate = 24_000;
    let x = speech_at(rate, 1.0);
    let mut enc = OpusEncoderConfig::new(rate, 2).frame_duration_us(60_000).build().unwrap();
    let stereo: Vec<f32> = x.iter().flat_map(|&v| [v, v]).collect();
    let packets = encode_all(&mut enc, &stereo);
    let mut dec = OpusDecoder::new(rate, 2).unwrap();
    let mut out = vec![0f32; dec.max_output_len()];
    assert_eq!(dec.last_packet_samples(), 480); // 20 ms before any packet
    assert_eq!(dec.decode(None, &mut out).unwrap(), 480);
    dec.decode(Some(&packets[0]), &mut out).unwrap();
    assert_eq!(dec.last_packet_samples(), 1440);
    assert_eq!(dec.decode(None, &mut out).unwrap(), 1440);
    // Explicit durations: multiples of 2.5 ms up to 120 ms.
    assert_eq!(dec.conceal(60, &mut out).unwrap(), 60);
    assert_eq!(dec.conceal(2880, &mut out).unwrap(), 2880);
    for bad in [0usize, 61, 2940] {
        assert_eq!(dec.conceal(bad, &mut out), Err(OpusError::BadConcealDuration { got: bad, step: 60, max: 2880 }));
    }
    assert_eq!(dec.conceal(1440, &mut out[..2879]), Err(OpusError::OutputTooSmall { needed: 2880, got: 2879 }));
    dec.reset();
    assert_eq!(dec.last_packet_samples(), 480);
}

/// Speech at 16 kHz, 24 kbit/s (SILK wideband, as the jitter kit's streams), decoded with
/// losses at decoder complexity `complexity`: returns the output and the lost packets
/// (single losses and 3-packet bursts in active speech).
fn decode_with_losses(complexity: u8) -> (Vec<f32>, Vec<f32>, Vec<usize>, usize) {
    let rate = 16_000;
    let n = 320;
    let x = speech_at(rate, 20.0);
    let mut enc = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(24_000)).build().unwrap();
    let la = enc.lookahead();
    let packets = encode_all(&mut enc, &x);
    let active = |k: usize| energy(&x[k * n..(k + 1) * n]) / n as f64 > 1e-4;
    let mut lost = Vec::new();
    let mut k = 10;
    while k + 4 < packets.len() {
        if active(k) {
            // Every other loss a burst of three.
            let burst = if lost.len() % 2 == 0 { 1 } else { 3 };
            lost.extend(k..k + burst);
            k += 12;
        } else {
            k += 1;
        }
    }
    let mut dec = OpusDecoder::new(rate, 1).unwrap();
    dec.set_complexity(complexity).unwrap();
    assert_eq!(dec.complexity(), complexity);
    let mut out = vec![0f32; n];
    let mut y = Vec::with_capacity(x.len() + la);
    for (k, p) in packets.iter().enumerate() {
        let got = dec.decode(if lost.contains(&k) { None } else { Some(p) }, &mut out).unwrap();
        assert_eq!(got, n);
        assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 2.0));
        y.extend_from_slice(&out);
    }
    y.resize(y.len() + la, 0.0);
    (x, y, lost, la)
}

#[test]
fn deep_plc_conceals_closer_to_the_lost_speech() {
    let n = 320;
    let (x, y0, lost, la) = decode_with_losses(0);
    let (_, y5, lost5, _) = decode_with_losses(DEEP_PLC_COMPLEXITY);
    assert_eq!(lost, lost5);
    assert!(lost.len() > 60, "only {} losses", lost.len());
    let (sig, e0) = loss_error(&x, &y0, la, &lost, n);
    let (_, e5) = loss_error(&x, &y5, la, &lost, n);
    let (snr0, snr5) = (10.0 * (sig / e0).log10(), 10.0 * (sig / e5).log10());
    // Spectral distance over 32 ms around each lost frame.
    let lsd = |y: &[f32]| {
        let d: f64 =
            lost.iter().map(|&k| log_spectral_distance(&x, y, la, 16_000, k * n - 96, k * n + n + 96, 7000.0)).sum();
        d / lost.len() as f64
    };
    let (lsd0, lsd5) = (lsd(&y0), lsd(&y5));
    println!(
        "{} lost packets: SNR over them {snr0:.2} dB (classic PLC) / {snr5:.2} dB (deep PLC); \
         log-spectral distance {lsd0:.2} / {lsd5:.2} dB",
        lost.len()
    );
    // Before the first loss both decoders give the same samples.
    let first = lost[0] * n;
    assert_eq!(y0[..first], y5[..first]);
    assert!(lsd5 < lsd0 - 0.5, "deep PLC {lsd5:.2} dB vs classic {lsd0:.2} dB");
    assert!(snr5 > snr0, "deep PLC {snr5:.2} dB vs classic {snr0:.2} dB");
}

#[test]
fn decoder_complexity_is_read_back_and_survives_reset() {
    let mut dec = OpusDecoder::new(48_000, 2).unwrap();
    assert_eq!(dec.complexity(), 0);
    for c in 0..=10 {
        dec.set_complexity(c).unwrap();
        assert_eq!(dec.complexity(), c);
    }
    assert_eq!(dec.set_complexity(11), Err(OpusError::ComplexityOutOfRange { got: 11, max: 10 }));
    assert_eq!(dec.complexity(), 10);
    dec.reset();
    assert_eq!(dec.complexity(), 10);
    let mut cdec = OpusCodecDecoder::new(16_000, 1, 20_000).unwrap().with_deep_plc();
    assert_eq!(cdec.inner_mut().complexity(), DEEP_PLC_COMPLEXITY);
    let mut plain = OpusCodecDecoder::new(16_000, 1, 20_000).unwrap();
    assert_eq!(plain.inner_mut().complexity(), 0);
}
