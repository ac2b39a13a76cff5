//! SDP registry and codec negotiation outcomes.

use rvoip_media_nodes::codec::{negotiate, registry, CodecId, LocalCodec, NegotiationError, OpusParams, RemoteFormat};

fn prefs(ids: &[CodecId]) -> Vec<LocalCodec> {
    ids.iter().map(|&id| LocalCodec::new(id)).collect()
}

#[test]
fn registry_has_the_telephony_defaults() {
    let row = |id| registry().iter().find(|c| c.id == id).unwrap();
    let got: Vec<_> = [CodecId::Pcmu, CodecId::Pcma, CodecId::G722, CodecId::G729]
        .iter()
        .map(|&id| (row(id).encoding, row(id).static_payload_type, row(id).clock_rate, row(id).channels))
        .collect();
    assert_eq!(
        got,
        [
            ("PCMU", Some(0), 8000, 1),
            ("PCMA", Some(8), 8000, 1),
            ("G722", Some(9), 8000, 1),
            ("G729", Some(18), 8000, 1)
        ]
    );
    let opus = row(CodecId::Opus);
    assert_eq!((opus.encoding, opus.static_payload_type, opus.clock_rate, opus.channels), ("opus", None, 48000, 2));
    assert!((96..=127).contains(&opus.default_payload_type));
    assert_eq!(row(CodecId::G729).fmtp, "annexb=yes");
    assert_eq!(registry().len(), 5);
}

#[test]
fn first_local_preference_the_remote_supports_wins() {
    let remote = [
        RemoteFormat::new(0, "PCMU", 8000, 1, ""),
        RemoteFormat::new(8, "PCMA", 8000, 1, ""),
        RemoteFormat::new(18, "G729", 8000, 1, ""),
    ];
    let n = negotiate(&prefs(&[CodecId::Opus, CodecId::Pcma, CodecId::Pcmu]), &remote).unwrap();
    assert_eq!((n.codec, n.payload_type, n.annexb, n.fmtp.as_str()), (CodecId::Pcma, 8, None, ""));
    let n = negotiate(&prefs(&[CodecId::G729, CodecId::Pcmu]), &remote).unwrap();
    assert_eq!(n.codec, CodecId::G729);
    // Remote order does not matter, ours does.
    let rev: Vec<_> = remote.iter().rev().cloned().collect();
    assert_eq!(negotiate(&prefs(&[CodecId::Pcmu, CodecId::G729]), &rev).unwrap().codec, CodecId::Pcmu);
}

#[test]
fn dynamic_payload_types_and_opus_parameters_come_from_the_remote() {
    let remote = [
        RemoteFormat::new(109, "opus", 48000, 2, "maxplaybackrate=16000;sprop-maxcapturerate=16000; stereo=0; useinbandfec=1; usedtx=1; maxaveragebitrate=24000"),
        RemoteFormat::new(0, "PCMU", 8000, 1, ""),
    ];
    let n = negotiate(&prefs(&[CodecId::Opus, CodecId::Pcmu]), &remote).unwrap();
    assert_eq!((n.codec, n.payload_type, n.clock_rate, n.channels), (CodecId::Opus, 109, 48000, 2));
    assert_eq!(
        n.opus,
        Some(OpusParams {
            useinbandfec: Some(true),
            usedtx: Some(true),
            maxaveragebitrate: Some(24000),
            stereo: Some(false),
            sprop_stereo: None,
            maxplaybackrate: Some(16000),
        })
    );
    assert_eq!(n.sample_rate(), 48000);
    // The encoder is built with the remote's fmtp: its bitrate cap and bandwidth limit.
    let enc = n.encoder().unwrap();
    let info = *enc.info();
    assert_eq!((info.encoding, info.rtp_clock_rate, info.payload_type), ("opus", 48_000, 111));
    assert!(info.bitrate <= 24_000, "maxaveragebitrate=24000 honoured: {}", info.bitrate);
    // Opus must be opus/48000/2 with a dynamic type.
    for bad in [
        RemoteFormat::new(109, "opus", 48000, 1, ""),
        RemoteFormat::new(109, "opus", 16000, 2, ""),
        RemoteFormat::new(50, "opus", 48000, 2, ""),
    ] {
        assert!(negotiate(&prefs(&[CodecId::Opus]), std::slice::from_ref(&bad)).is_err(), "{bad:?}");
    }
}

#[test]
fn g729_annexb_follows_rfc_4749() {
    let g729 = |fmtp: &str| [RemoteFormat::new(18, "G729", 8000, 1, fmtp)];
    let yes = LocalCodec::new(CodecId::G729);
    let no = LocalCodec::new(CodecId::G729).with_annexb(false);
    let cases = [
        (yes, "", true),
        (yes, "annexb=yes", true),
        (yes, "annexb=no", false),
        (yes, " AnnexB = No ", false),
        (yes, "bitrate=8; annexb=NO", false),
        (no, "", false),
        (no, "annexb=yes", false),
    ];
    for (local, fmtp, on) in cases {
        let n = negotiate(&[local], &g729(fmtp)).unwrap();
        assert_eq!(n.annexb, Some(on), "local {} remote {fmtp:?}", local.annexb);
        assert_eq!(n.fmtp, if on { "annexb=yes" } else { "annexb=no" });
    }
    // The negotiated encoder really uses (or not) DTX: 1 s of silence.
    let silence = vec![0f32; 80];
    for (fmtp, expect_dtx) in [("", true), ("annexb=no", false)] {
        let n = negotiate(&[yes], &g729(fmtp)).unwrap();
        let mut e = n.encoder().unwrap();
        let mut buf = [0u8; 10];
        let sent: usize = (0..100).map(|_| e.encode(&silence, &mut buf).unwrap().len).sum();
        assert_eq!(sent < 100 * 10, expect_dtx, "fmtp {fmtp:?}: {sent} bytes");
    }
}

#[test]
fn names_are_case_insensitive_and_static_types_need_no_rtpmap() {
    let remote = [RemoteFormat::new(0, "pcmu", 8000, 1, ""), RemoteFormat::new(18, "g729", 8000, 1, "")];
    assert_eq!(negotiate(&prefs(&[CodecId::Pcmu]), &remote).unwrap().codec, CodecId::Pcmu);
    assert_eq!(negotiate(&prefs(&[CodecId::G729]), &remote).unwrap().payload_type, 18);
    let bare = [RemoteFormat::static_pt(9), RemoteFormat::static_pt(8)];
    let n = negotiate(&prefs(&[CodecId::G722, CodecId::Pcma]), &bare).unwrap();
    assert_eq!((n.codec, n.payload_type, n.clock_rate, n.sample_rate()), (CodecId::G722, 9, 8000, 16000));
    // G.722 is 8000 in SDP: a remote saying G722/16000 does not match it.
    let wrong = [RemoteFormat::new(9, "G722", 16000, 1, "")];
    assert!(negotiate(&prefs(&[CodecId::G722]), &wrong).is_err());
    // A static type the remote re-maps with an rtpmap is matched by name, not number.
    let remapped = [RemoteFormat::new(0, "PCMA", 8000, 1, "")];
    let n = negotiate(&prefs(&[CodecId::Pcmu, CodecId::Pcma]), &remapped).unwrap();
    assert_eq!((n.codec, n.payload_type), (CodecId::Pcma, 0));
}

#[test]
fn nothing_in_common_is_a_typed_error_naming_both_sides() {
    let remote = [RemoteFormat::new(96, "AMR", 8000, 1, "octet-align=1"), RemoteFormat::static_pt(3)];
    let e = negotiate(&prefs(&[CodecId::Pcmu, CodecId::G729]), &remote).unwrap_err();
    let NegotiationError::NoCommonCodec { local, remote: r } = &e;
    assert_eq!(local, &["PCMU", "G729"]);
    assert_eq!(r, &["96 AMR/8000", "3"]);
    assert_eq!(e.to_string(), "no codec in common: we support PCMU, G729, the remote offers 96 AMR/8000, 3");
    assert!(negotiate(&[], &remote).is_err());
    assert!(negotiate(&prefs(&[CodecId::Pcmu]), &[]).is_err());
}
