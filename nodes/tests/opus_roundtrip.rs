//! Opus round trips of real speech (examples/data, MIT, Silero team): quality at every rate
//! measured after aligning by the encoder's reported lookahead, every frame duration, CBR,
//! VBR, DTX, stereo and the 16-bit path.

mod opus_common;

use opus_common::*;
use rvoip_media_nodes::opus::{
    Bitrate, BitrateMode, OpusDecoder, OpusEncoderConfig, Signal, FRAME_DURATIONS_US, MAX_PACKET_BYTES, SAMPLE_RATES,
};

/// Speech through encoder and decoder at `rate`: the cross-correlation lag equals the
/// reported lookahead (within the resampling filters' group delay), and SNR / log-spectral
/// distance at that lag meet the floors.
fn round_trip(x: &[f32], rate: u32, bitrate: u32, min_snr: f64, max_lsd: f64) {
    let mut enc = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(bitrate)).build().unwrap();
    let la = enc.lookahead();
    // 2.5 ms of look-ahead plus 4 ms of delay compensation (VoIP application).
    assert_eq!(la, rate as usize * 65 / 10_000, "lookahead at {rate} Hz");
    let packets = encode_all(&mut enc, x);
    let y = decode_all(&mut OpusDecoder::new(rate, 1).unwrap(), &packets);
    assert_eq!(y.len(), packets.len() * enc.frame_len());
    let (from, to) = (rate as usize / 2, y.len() - 4 * la);
    let lag = best_lag(x, &y, 4 * la, from, to);
    assert!(lag.abs_diff(la) <= rate as usize / 10_000, "{rate} Hz: correlation lag {lag}, lookahead {la}");
    let snr = snr_db(x, &y, la, from, to);
    let lsd = log_spectral_distance(x, &y, la, rate, from, to, f64::from(rate.min(16_000)) * 0.45);
    println!("{rate} Hz at {bitrate} bit/s: lag {lag} (lookahead {la}), SNR {snr:.2} dB, LSD {lsd:.2} dB");
    assert!(snr >= min_snr, "{rate} Hz: SNR {snr:.2} dB < {min_snr} dB");
    assert!(lsd <= max_lsd, "{rate} Hz: log-spectral distance {lsd:.2} dB > {max_lsd} dB");
    // A decoder that is fed nothing is far worse: the floors are meaningful.
    let silence = vec![0.0; y.len()];
    assert!(snr_db(x, &silence, la, from, to) < 0.5);
}

#[test]
fn speech_round_trip_at_every_rate() {
    // (rate, bit rate, SNR floor, LSD ceiling): SILK-only up to 16 kHz, hybrid above.
    for (rate, bitrate, snr, lsd) in [
        (8000, 16_000, 10.0, 6.0),
        (12_000, 20_000, 10.0, 6.0),
        (16_000, 24_000, 10.0, 6.0),
        (24_000, 32_000, 6.0, 6.5),
        (48_000, 32_000, 6.0, 6.5),
    ] {
        round_trip(&speech_at(rate, 6.0), rate, bitrate, snr, lsd);
    }
}

#[test]
fn narrowband_speech_file_round_trip() {
    let (x, rate) = speech("speech_en_8k.wav");
    assert_eq!(rate, 8000);
    round_trip(&x[..8000 * 8], 8000, 12_000, 8.0, 7.0);
}

#[test]
fn every_frame_duration_at_every_rate() {
    for &rate in SAMPLE_RATES {
        let x = speech_at(rate, 2.0);
        for &fr in FRAME_DURATIONS_US {
            let mut enc =
                OpusEncoderConfig::new(rate, 1).frame_duration_us(fr).bitrate(Bitrate::Bits(24_000)).build().unwrap();
            let n = rate as usize * fr as usize / 1_000_000;
            assert_eq!(enc.frame_samples(), n);
            let packets = encode_all(&mut enc, &x);
            let dec = OpusDecoder::new(rate, 1).unwrap();
            for p in &packets {
                assert_eq!(dec.samples_in(p).unwrap(), n, "{rate} Hz, {fr} µs");
                assert!(p.len() <= enc.max_packet_bytes());
            }
            let y = decode_all(&mut OpusDecoder::new(rate, 1).unwrap(), &packets);
            assert_eq!(y.len(), packets.len() * n);
            let la = enc.lookahead();
            let snr = snr_db(&x, &y, la, rate as usize / 4, y.len() - la);
            assert!(snr > 5.0, "{rate} Hz, {fr} µs: SNR {snr:.2} dB");
        }
    }
}

#[test]
fn cbr_packets_have_constant_size_and_vbr_ones_do_not() {
    let x = speech_at(16_000, 3.0);
    for &fr in FRAME_DURATIONS_US {
        for bitrate in [12_000u32, 32_000] {
            let mut enc = OpusEncoderConfig::new(16_000, 1)
                .frame_duration_us(fr)
                .bitrate(Bitrate::Bits(bitrate))
                .bitrate_mode(BitrateMode::Cbr)
                .build()
                .unwrap();
            let expect = (u64::from(bitrate) * u64::from(fr) / 8_000_000) as usize;
            for (i, p) in encode_all(&mut enc, &x).iter().enumerate() {
                assert_eq!(p.len(), expect, "CBR {bitrate} bit/s, {fr} µs, packet {i}");
            }
        }
    }
    for mode in [BitrateMode::Vbr, BitrateMode::ConstrainedVbr] {
        let mut enc =
            OpusEncoderConfig::new(16_000, 1).bitrate(Bitrate::Bits(32_000)).bitrate_mode(mode).build().unwrap();
        let sizes: Vec<usize> = encode_all(&mut enc, &x).iter().map(Vec::len).collect();
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min > 20, "{mode:?}: sizes {min}..{max}");
        // The average still tracks the target (80 bytes per 20 ms at 32 kbit/s).
        let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
        assert!((mean - 80.0).abs() < 12.0, "{mode:?}: mean packet {mean:.1} bytes");
    }
}

#[test]
fn dtx_sends_tiny_packets_during_silence() {
    let rate = 16_000;
    let speech = speech_at(rate, 2.0);
    // Speech, 3 s of near silence (white noise at -80 dBFS), speech again.
    let mut seed = 1u32;
    let mut x = speech.clone();
    x.extend((0..3 * rate as usize).map(|_| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed as f32 / u32::MAX as f32 - 0.5) * 2e-4
    }));
    x.extend_from_slice(&speech);
    let frames_speech = speech.len() / 320;
    let frames_silence = 3 * rate as usize / 320;

    let mut enc = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(24_000)).dtx(true).build().unwrap();
    let mut buf = [0u8; MAX_PACKET_BYTES];
    let mut dtx_flags = Vec::new();
    let mut in_dtx = Vec::new();
    for f in x.chunks_exact(320) {
        let p = enc.encode(f, &mut buf).unwrap();
        assert_eq!(p.dtx, p.len <= 2);
        dtx_flags.push(p.dtx);
        in_dtx.push(enc.in_dtx());
    }
    let silent = &dtx_flags[frames_speech..frames_speech + frames_silence];
    let tiny = silent.iter().filter(|&&d| d).count();
    println!("DTX: {tiny} of {} silent frames are DTX packets", silent.len());
    assert!(tiny * 10 >= silent.len() * 8, "only {tiny} of {} silent frames DTX", silent.len());
    assert!(in_dtx[frames_speech + frames_silence - 1]);
    // Speech (after the first 100 ms, before the trailing pause of the clip) is sent.
    let active = &dtx_flags[frames_speech + frames_silence + 5..frames_speech + frames_silence + 50];
    assert!(active.iter().filter(|&&d| d).count() <= 2);

    // Without DTX the same silence costs full packets.
    let mut enc = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(24_000)).build().unwrap();
    assert!(encode_all(&mut enc, &x).iter().all(|p| p.len() > 2));
}

#[test]
fn stereo_keeps_the_channels_apart() {
    let rate = 48_000;
    let mono = speech_at(rate, 8.0);
    let half = mono.len() / 2;
    // Left: the first 4 s; right: the next 4 s at half level — unrelated signals.
    let (l, r) = (&mono[..half], &mono[half..2 * half]);
    let x: Vec<f32> = l.iter().zip(r).flat_map(|(&a, &b)| [a, 0.5 * b]).collect();
    let mut enc = OpusEncoderConfig::new(rate, 2).bitrate(Bitrate::Bits(96_000)).build().unwrap();
    let la = enc.lookahead();
    let packets = encode_all(&mut enc, &x);
    let mut dec = OpusDecoder::new(rate, 2).unwrap();
    let y = decode_all(&mut dec, &packets);
    assert_eq!(y.len(), packets.len() * 1920);
    let ch = |v: &[f32], c: usize| v.iter().skip(c).step_by(2).copied().collect::<Vec<f32>>();
    let (xl, xr, yl, yr) = (ch(&x, 0), ch(&x, 1), ch(&y, 0), ch(&y, 1));
    let (from, to) = (rate as usize / 2, yl.len() - la);
    let snr_l = snr_db(&xl, &yl, la, from, to);
    let snr_r = snr_db(&xr, &yr, la, from, to);
    println!("stereo: SNR left {snr_l:.2} dB, right {snr_r:.2} dB");
    assert!(snr_l > 5.0 && snr_r > 5.0);
    // Crossed channels match badly: nothing was mixed or swapped.
    assert!(snr_db(&xl, &yr, la, from, to) < 1.0);
    assert!(snr_db(&xr, &yl, la, from, to) < 1.0);

    // A stereo stream also decodes to mono (the decoder downmixes).
    let y1 = decode_all(&mut OpusDecoder::new(rate, 1).unwrap(), &packets);
    assert_eq!(y1.len(), packets.len() * 960);
    assert!(y1.iter().all(|v| v.is_finite()));
}

#[test]
fn sixteen_bit_paths_match_the_float_ones() {
    let rate = 16_000;
    let x = speech_at(rate, 2.0);
    let xi: Vec<i16> = x.iter().map(|&v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect();
    let cfg = OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(24_000)).signal(Signal::Voice);
    let (mut ef, mut ei) = (cfg.build().unwrap(), cfg.build().unwrap());
    let (mut df, mut di) = (OpusDecoder::new(rate, 1).unwrap(), OpusDecoder::new(rate, 1).unwrap());
    let (mut bf, mut bi) = ([0u8; MAX_PACKET_BYTES], [0u8; MAX_PACKET_BYTES]);
    let (mut of, mut oi) = (vec![0f32; 320], vec![0i16; 320]);
    let mut yi = Vec::new();
    let mut max_diff = 0f32;
    for (f, fi) in x.chunks_exact(320).zip(xi.chunks_exact(320)) {
        let pf = ef.encode(f, &mut bf).unwrap();
        let pi = ei.encode_i16(fi, &mut bi).unwrap();
        assert!(pi.len > 2 || pf.len <= 2);
        // The same packet decoded to f32 and to i16 agrees to within rounding.
        assert_eq!(df.decode(Some(&bi[..pi.len]), &mut of).unwrap(), 320);
        assert_eq!(di.decode_i16(Some(&bi[..pi.len]), &mut oi).unwrap(), 320);
        for (&a, &b) in of.iter().zip(&oi) {
            max_diff = max_diff.max((a.clamp(-1.0, 32767.0 / 32768.0) * 32768.0 - f32::from(b)).abs());
        }
        yi.extend(oi.iter().map(|&v| f32::from(v) / 32768.0));
    }
    assert!(max_diff <= 1.0, "f32 and i16 decodes differ by {max_diff} LSB");
    let la = ei.lookahead();
    assert!(snr_db(&x, &yi, la, 8000, yi.len() - la) > 10.0);
}
