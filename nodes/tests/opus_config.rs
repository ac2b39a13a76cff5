//! OpusEncoderConfig validation (typed errors naming what is supported), run-time setters,
//! decoder construction and the libopus version.

use rvoip_media_nodes::opus::{
    libopus_version, Application, Bandwidth, Bitrate, BitrateMode, OpusDecoder, OpusEncoderConfig, OpusError, Signal,
    CHANNELS, FRAME_DURATIONS_US, SAMPLE_RATES,
};

#[test]
fn every_supported_combination_builds() {
    for &rate in SAMPLE_RATES {
        for &ch in CHANNELS {
            for &fr in FRAME_DURATIONS_US {
                for app in [Application::Voip, Application::Audio, Application::LowDelay] {
                    let enc = OpusEncoderConfig::new(rate, ch).frame_duration_us(fr).application(app).build().unwrap();
                    assert_eq!(enc.frame_len(), rate as usize * fr as usize / 1_000_000 * usize::from(ch));
                    // 2.5 ms of look-ahead, plus 4 ms unless restricted low delay.
                    let la = if app == Application::LowDelay { rate / 400 } else { rate * 65 / 10_000 };
                    assert_eq!(enc.lookahead(), la as usize, "{rate} Hz {app:?}");
                }
            }
            assert!(OpusDecoder::new(rate, ch).is_ok());
        }
    }
}

#[test]
fn unsupported_settings_give_typed_errors_naming_what_is_supported() {
    let e = OpusEncoderConfig::new(44_100, 1).validate().unwrap_err();
    assert_eq!(e, OpusError::UnsupportedSampleRate { got: 44_100, supported: SAMPLE_RATES });
    assert_eq!(
        e.to_string(),
        "Opus does not support a sample rate of 44100 Hz (supported: 8000, 12000, 16000, 24000, 48000 Hz)"
    );
    let e = OpusEncoderConfig::new(16_000, 3).build().unwrap_err();
    assert_eq!(e.to_string(), "Opus does not support 3 channel(s) (supported: 1, 2)");
    let e = OpusEncoderConfig::new(16_000, 0).build().unwrap_err();
    assert!(matches!(e, OpusError::UnsupportedChannels { got: 0, .. }));
    for bad in [0u32, 2_500, 5_000, 25_000, 80_000, 120_000, 22_500] {
        let e = OpusEncoderConfig::new(16_000, 1).frame_duration_us(bad).build().unwrap_err();
        assert_eq!(e, OpusError::UnsupportedFrameDuration { got_us: bad, supported_us: FRAME_DURATIONS_US });
        assert!(e.to_string().contains("(supported: 10, 20, 40, 60 ms)"), "{e}");
    }
    let e = OpusEncoderConfig::new(16_000, 1).frame_duration_us(30_000).validate().unwrap_err();
    assert_eq!(e.to_string(), "Opus does not support a frame duration of 30 ms (supported: 10, 20, 40, 60 ms)");
    for bad in [0u32, 5_999, 510_001] {
        let e = OpusEncoderConfig::new(16_000, 1).bitrate(Bitrate::Bits(bad)).validate().unwrap_err();
        assert_eq!(e, OpusError::BitrateOutOfRange { got: bad, min: 6_000, max: 510_000 });
    }
    for ok in [6_000u32, 510_000] {
        OpusEncoderConfig::new(16_000, 1).bitrate(Bitrate::Bits(ok)).build().unwrap();
    }
    let e = OpusEncoderConfig::new(16_000, 1).complexity(11).validate().unwrap_err();
    assert_eq!(e, OpusError::ComplexityOutOfRange { got: 11, max: 10 });
    let e = OpusEncoderConfig::new(16_000, 1).packet_loss_percent(101).validate().unwrap_err();
    assert_eq!(e, OpusError::PacketLossOutOfRange { got: 101 });
    let e =
        OpusEncoderConfig::new(48_000, 1).application(Application::LowDelay).inband_fec(true).validate().unwrap_err();
    assert_eq!(e, OpusError::FecNeedsSilk);
    assert_eq!(
        OpusDecoder::new(22_050, 1).unwrap_err(),
        OpusError::UnsupportedSampleRate { got: 22_050, supported: SAMPLE_RATES }
    );
    assert!(matches!(OpusDecoder::new(48_000, 6).unwrap_err(), OpusError::UnsupportedChannels { got: 6, .. }));
}

#[test]
fn settings_are_kept_and_changeable_at_run_time() {
    let cfg = OpusEncoderConfig::new(24_000, 2)
        .frame_duration_us(40_000)
        .application(Application::Audio)
        .signal(Signal::Music)
        .bitrate(Bitrate::Bits(64_000))
        .bitrate_mode(BitrateMode::Vbr)
        .complexity(3)
        .dtx(true)
        .inband_fec(true)
        .packet_loss_percent(15)
        .max_bandwidth(Some(Bandwidth::Wideband));
    let mut enc = cfg.build().unwrap();
    assert_eq!(*enc.config(), cfg);
    assert_eq!(enc.current_bitrate(), 64_000);
    assert_eq!((enc.frame_samples(), enc.frame_len(), enc.max_packet_bytes()), (960, 1920, 2557));
    enc.set_bitrate(Bitrate::Bits(20_000)).unwrap();
    assert_eq!(enc.current_bitrate(), 20_000);
    assert_eq!(
        enc.set_bitrate(Bitrate::Bits(1)),
        Err(OpusError::BitrateOutOfRange { got: 1, min: 6_000, max: 510_000 })
    );
    assert_eq!(enc.config().get_bitrate(), Bitrate::Bits(20_000));
    enc.set_packet_loss_percent(30).unwrap();
    assert_eq!(enc.set_packet_loss_percent(200), Err(OpusError::PacketLossOutOfRange { got: 200 }));
    enc.set_complexity(10).unwrap();
    assert_eq!(enc.set_complexity(12), Err(OpusError::ComplexityOutOfRange { got: 12, max: 10 }));
    enc.set_inband_fec(false).unwrap();
    enc.set_dtx(false).unwrap();
    let c = enc.config();
    assert_eq!(
        (c.get_packet_loss_percent(), c.get_complexity(), c.get_inband_fec(), c.get_dtx()),
        (30, 10, false, false)
    );

    let mut low = OpusEncoderConfig::new(48_000, 1).application(Application::LowDelay).build().unwrap();
    assert_eq!(low.set_inband_fec(true), Err(OpusError::FecNeedsSilk));
}

#[test]
fn libopus_is_1_6() {
    let v = libopus_version();
    println!("{v}");
    assert!(v.starts_with("libopus 1.6"), "{v}");
}
