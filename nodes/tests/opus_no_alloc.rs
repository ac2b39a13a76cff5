//! Opus encode / decode / concealment / FEC / run-time settings do not allocate once built
//! (counted with the shared counting allocator; libopus's own C allocations happen only in
//! its create functions; its neural concealment, at decoder complexity 5, allocates nothing
//! per frame either: no allocation outside the create and weight-loading functions).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;
use rvoip_media_nodes::codec::{Decoder, Encoder};
use rvoip_media_nodes::opus::{
    Bitrate, OpusCodecDecoder, OpusCodecEncoder, OpusDecoder, OpusEncoderConfig, DEEP_PLC_COMPLEXITY, MAX_PACKET_BYTES,
};

#[test]
fn steady_state_does_not_allocate() {
    let cfg = OpusEncoderConfig::new(48_000, 2)
        .bitrate(Bitrate::Bits(48_000))
        .inband_fec(true)
        .packet_loss_percent(10)
        .dtx(true);
    let mut enc = cfg.build().unwrap();
    let mut dec = OpusDecoder::new(48_000, 2).unwrap();
    let mut cenc = OpusCodecEncoder::new(cfg).unwrap();
    let mut cdec = OpusCodecDecoder::new(48_000, 2, 20_000).unwrap();
    // libopus's neural concealment (SILK wideband at 16 kHz, as a call's jitter buffer runs it).
    let mut wb_enc = OpusEncoderConfig::new(16_000, 1).bitrate(Bitrate::Bits(24_000)).build().unwrap();
    let mut wb_dec = OpusCodecDecoder::new(16_000, 1, 20_000).unwrap().with_deep_plc();
    let wb: Vec<f32> = (0..320).map(|i| (i as f32 * 0.06).sin() * 0.3 + (i as f32 * 0.23).sin() * 0.1).collect();
    let mut wb_out = vec![0f32; 320];
    let pcm: Vec<f32> = (0..1920).map(|i| ((i / 2) as f32 * 0.031).sin() * 0.4).collect();
    let mut nan = pcm.clone();
    nan[5] = f32::NAN;
    let pcm16 = vec![1000i16; 1920];
    let mut pkt = [0u8; MAX_PACKET_BYTES];
    let mut prev = [0u8; MAX_PACKET_BYTES];
    let mut out = vec![0f32; dec.max_output_len()];
    let mut out16 = vec![0i16; dec.max_output_len()];
    // Warm up (first-call lazy initialisation anywhere in std would not count against us).
    enc.encode(&pcm, &mut pkt).unwrap();

    let n = allocations(|| {
        for i in 0..100 {
            let frame = if i % 10 == 3 { &nan } else { &pcm };
            let p = enc.encode(frame, &mut pkt).unwrap();
            dec.decode(Some(&pkt[..p.len]), &mut out).unwrap();
            if i % 5 == 0 {
                dec.decode(None, &mut out).unwrap();
                dec.decode_fec(&pkt[..p.len], &mut out).unwrap();
                dec.decode_fec_for(&pkt[..p.len], 1920, &mut out).unwrap();
                dec.conceal(480, &mut out).unwrap();
            }
            let _ = dec.decode(Some(&[0x03]), &mut out);
            let _ = dec.decode(Some(&[]), &mut out);
            enc.encode_i16(&pcm16, &mut prev).unwrap();
            dec.decode_i16(Some(&prev[..3]), &mut out16).ok();
            enc.set_bitrate(Bitrate::Bits(32_000 + i * 100)).unwrap();
            enc.set_packet_loss_percent((i % 30) as u8).unwrap();
            let _ = enc.set_complexity(11);
            let _ = enc.in_dtx();
            let _ = dec.final_range();
            let f = cenc.encode(frame, &mut pkt).unwrap();
            cdec.decode(Some(&pkt[..f.len.max(1)]), &mut out).ok();
            cdec.decode(None, &mut out).unwrap();
            let _ = cdec.samples_in(&pkt[..1]);
            let w = wb_enc.encode(&wb, &mut pkt).unwrap();
            wb_dec.decode(Some(&pkt[..w.len]), &mut wb_out).unwrap();
            for _ in 0..i % 4 {
                wb_dec.decode(None, &mut wb_out).unwrap();
            }
            if i % 7 == 0 {
                wb_dec.inner_mut().set_complexity(if i % 2 == 0 { 0 } else { DEEP_PLC_COMPLEXITY }).unwrap();
                let _ = wb_dec.inner_mut().complexity();
            }
        }
        enc.reset();
        dec.reset();
        cenc.reset();
        cdec.reset();
        wb_dec.reset();
    });
    assert_eq!(n, 0, "{n} allocations");
}
