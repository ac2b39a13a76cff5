//! Opus behind the codec model: `OpusCodecEncoder` / `OpusCodecDecoder` through the
//! `Encoder` / `Decoder` traits and the `EncodeNode` / `DecodeNode` packetisers.

mod opus_common;

use opus_common::*;
use rvoip_media_graph::{NodeHarness, Packet, Quantum};
use rvoip_media_nodes::codec::{CodecError, DecodeNode, Decoder, EncodeNode, Encoder, FrameType};
use rvoip_media_nodes::opus::{Bitrate, OpusCodecDecoder, OpusCodecEncoder, OpusEncoderConfig, OpusError};

#[test]
fn codec_info_describes_the_configuration() {
    let enc = OpusCodecEncoder::new(OpusEncoderConfig::new(16_000, 1).frame_duration_us(40_000)).unwrap();
    let i = enc.info();
    assert_eq!((i.encoding, i.sample_rate, i.rtp_clock_rate, i.channels), ("opus", 16_000, 48_000, 1));
    assert_eq!((i.frame_samples, i.ptimes_us, i.default_ptime_us, i.payload_type), (640, &[40_000][..], 40_000, 111));
    assert_eq!(i.max_frame_bytes, 1500);
    assert_eq!(i.rtp_ticks(640), 1920);
    assert_eq!(
        i.check_ptime(20_000),
        Err(CodecError::UnsupportedPtime { codec: "opus", got_us: 20_000, supported_us: &[40_000] })
    );
    let dec = OpusCodecDecoder::new(16_000, 1, 20_000).unwrap();
    assert_eq!(dec.info().frame_samples, 320);
    assert_eq!(
        OpusCodecDecoder::new(16_000, 1, 30_000).unwrap_err(),
        OpusError::UnsupportedFrameDuration { got_us: 30_000, supported_us: &[10_000, 20_000, 40_000, 60_000] }
    );
}

#[test]
fn traits_round_trip_and_report_errors() {
    let rate = 16_000;
    let x = speech_at(rate, 3.0);
    let mut enc = OpusCodecEncoder::new(OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(24_000))).unwrap();
    let la = enc.inner_mut().lookahead();
    let mut dec = OpusCodecDecoder::new(rate, 1, 20_000).unwrap();
    let mut pkt = vec![0u8; enc.info().max_frame_bytes];
    let mut out = vec![0f32; 320];
    let mut y = Vec::new();
    for f in x.chunks_exact(320) {
        let e = enc.encode(f, &mut pkt).unwrap();
        assert_eq!(e.kind, FrameType::Speech);
        assert_eq!(dec.samples_in(&pkt[..e.len]).unwrap(), 320);
        assert_eq!(dec.decode(Some(&pkt[..e.len]), &mut out).unwrap(), 320);
        y.extend_from_slice(&out);
    }
    assert!(snr_db(&x, &y, la, 8000, y.len() - la) > 10.0);
    assert_eq!(dec.decode(None, &mut out).unwrap(), 320);
    assert_eq!(enc.encode(&x[..320], &mut pkt[..100]), Err(CodecError::BufferSize { needed: 1276, got: 100 }));
    assert_eq!(enc.encode(&x[..319], &mut pkt), Err(CodecError::BufferSize { needed: 320, got: 319 }));
    assert!(matches!(dec.decode(Some(&[]), &mut out), Err(CodecError::BadPayload { codec: "opus", len: 0, .. })));
    assert!(matches!(dec.samples_in(&[0x03]), Err(CodecError::BadPayload { .. })));
    assert_eq!(dec.decode(None, &mut out[..319]), Err(CodecError::BufferSize { needed: 320, got: 319 }));
}

#[test]
fn dtx_frames_are_not_transmitted() {
    let mut enc = OpusCodecEncoder::new(OpusEncoderConfig::new(16_000, 1).dtx(true)).unwrap();
    let mut pkt = vec![0u8; 1500];
    let kinds: Vec<FrameType> = (0..100).map(|_| enc.encode(&[0.0; 320], &mut pkt).unwrap().kind).collect();
    let untransmitted = kinds.iter().filter(|&&k| k == FrameType::NoTransmission).count();
    assert!(untransmitted > 80, "{untransmitted} of 100 silent frames untransmitted");
}

#[test]
fn encode_node_and_decode_node_carry_speech() {
    let rate = 48_000;
    let x = speech_at(rate, 2.0);
    let q = Quantum::MS_10;
    let qlen = 480;
    let enc = OpusCodecEncoder::new(OpusEncoderConfig::new(rate, 1).bitrate(Bitrate::Bits(32_000))).unwrap();
    let mut e = NodeHarness::new(Box::new(EncodeNode::new(Box::new(enc), 20_000, q).unwrap()), q).unwrap();
    let dec = OpusCodecDecoder::new(rate, 1, 20_000).unwrap();
    let mut d = NodeHarness::new(Box::new(DecodeNode::new(Box::new(dec), q).unwrap()), q).unwrap();
    let mut y = Vec::new();
    let mut packets = 0;
    let mut ts = Vec::new();
    for chunk in x.chunks_exact(qlen) {
        e.audio_in_mut(0).copy_from_slice(chunk);
        assert_eq!(e.run(), 0);
        let p: Option<Packet> = e.packet_out(0).cloned();
        if let Some(p) = p {
            packets += 1;
            ts.push(p.meta.timestamp);
            d.packet_in_mut(0).put(&p);
        }
        assert_eq!(d.run(), 0);
        y.extend_from_slice(d.audio_out(0));
    }
    assert_eq!(packets, x.len() / 960);
    // RTP timestamps advance by 20 ms at 48 kHz.
    assert!(ts.windows(2).all(|w| w[1].wrapping_sub(w[0]) == 960));
    // Node latency (ptime - quantum = 10 ms) plus the codec's 6.5 ms lookahead.
    let lag = best_lag(&x, &y, 2000, 4800, x.len() - 2000);
    println!("graph round trip lag {lag} samples");
    assert!(lag.abs_diff(480 + 312) <= 8, "lag {lag}");
    assert!(snr_db(&x, &y, lag, 4800, x.len() - 2000) > 6.0);
}

#[test]
fn remote_fmtp_parameters_shape_the_encoder() {
    use rvoip_media_nodes::codec::OpusParams;
    use rvoip_media_nodes::opus::{Application, Bandwidth};
    let base = OpusEncoderConfig::new(48_000, 2);
    let c = base.with_remote_params(&OpusParams::parse("useinbandfec=1; usedtx=1; maxaveragebitrate=900000"));
    assert!(c.get_inband_fec() && c.get_dtx());
    assert_eq!(c.get_bitrate(), Bitrate::Bits(510_000));
    let c =
        base.bitrate(Bitrate::Bits(24_000)).with_remote_params(&OpusParams::parse("maxaveragebitrate=64000;usedtx=0"));
    assert_eq!((c.get_bitrate(), c.get_dtx(), c.get_inband_fec()), (Bitrate::Bits(24_000), false, false));
    for (rate, bw) in [
        (8000, Bandwidth::Narrowband),
        (12_000, Bandwidth::Mediumband),
        (16_000, Bandwidth::Wideband),
        (24_000, Bandwidth::SuperWideband),
        (48_000, Bandwidth::Fullband),
    ] {
        let c = base.with_remote_params(&OpusParams::parse(&format!("maxplaybackrate={rate}")));
        assert_eq!(c.get_max_bandwidth(), Some(bw));
    }
    // A tighter local limit is kept; FEC is not forced on the CELT-only application.
    let c =
        base.max_bandwidth(Some(Bandwidth::Narrowband)).with_remote_params(&OpusParams::parse("maxplaybackrate=48000"));
    assert_eq!(c.get_max_bandwidth(), Some(Bandwidth::Narrowband));
    let c = base.application(Application::LowDelay).with_remote_params(&OpusParams::parse("useinbandfec=1"));
    assert!(!c.get_inband_fec());
    assert!(c.validate().is_ok());

    // The bandwidth cap is honoured: a narrowband cap at 48 kHz gives NB packets.
    let mut enc = base.with_remote_params(&OpusParams::parse("maxplaybackrate=8000")).build().unwrap();
    let x: Vec<f32> = speech_at(48_000, 1.0).iter().flat_map(|&v| [v, v]).collect();
    for p in encode_all(&mut enc, &x).iter().skip(5) {
        // RFC 6716 §3.1: the TOC byte's configurations 0–3 (SILK) and 16–19 (CELT) are NB.
        let config = p[0] >> 3;
        assert!(matches!(config, 0..=3 | 16..=19), "configuration {config} is not narrowband");
    }
}

#[test]
fn opus_errors_map_onto_codec_errors() {
    let e: CodecError = OpusError::UnsupportedSampleRate { got: 44_100, supported: &[8000] }.into();
    assert_eq!(e, CodecError::UnsupportedRate { codec: "opus", got: 44_100, supported: &[8000] });
    let e: CodecError = OpusError::UnsupportedChannels { got: 3, supported: &[1, 2] }.into();
    assert_eq!(e, CodecError::UnsupportedChannels { codec: "opus", got: 3, supported: &[1, 2] });
    let e: CodecError = OpusError::OutputTooSmall { needed: 5, got: 4 }.into();
    assert_eq!(e, CodecError::BufferSize { needed: 5, got: 4 });
    let e: CodecError = OpusError::PayloadTooLarge { len: 9000, max: 7657 }.into();
    assert!(matches!(e, CodecError::BadPayload { codec: "opus", len: 9000, .. }));
}
