//! SDP for audio: parsing real-world offers, generation, RFC 3264 answers, errors, and
//! robustness against garbage.

use rvoip_media_core::nodes::codec::{negotiate, CodecId, LocalCodec};
use rvoip_media_core::sdp::{
    create_answer, create_offer, AddrType, Attribute, Connection, Direction, ExtMap, Fmtp, Format, LocalAudio,
    MediaDescription, Origin, OtherLine, Rtcp, RtpMap, SdpError, SessionDescription, TelephoneEvent, Timing,
    AUDIO_LEVEL_URI,
};

/// Lines joined with CRLF (and a final CRLF).
fn crlf(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\r\n")).collect()
}

/// Lines joined with LF only.
fn lf(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

const ASTERISK: &[&str] = &[
    "v=0",
    "o=- 1234567890 1234567890 IN IP4 203.0.113.10",
    "s=Asterisk",
    "c=IN IP4 203.0.113.10",
    "t=0 0",
    "m=audio 10000 RTP/AVP 0 8 3 9 101",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:3 GSM/8000",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=ptime:20",
    "a=maxptime:150",
    "a=sendrecv",
];

const FREESWITCH: &[&str] = &[
    "v=0",
    "o=FreeSWITCH 1700000000 1700000001 IN IP4 198.51.100.20",
    "s=FreeSWITCH",
    "c=IN IP4 198.51.100.20",
    "t=0 0",
    "m=audio 16384 RTP/AVP 102 9 0 8 18 101 13",
    "a=rtpmap:102 opus/48000/2",
    "a=fmtp:102 useinbandfec=1; maxaveragebitrate=30000; maxplaybackrate=48000; ptime=20; minptime=10; maxptime=40",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:18 G729/8000",
    "a=fmtp:18 annexb=no",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-16",
    "a=rtpmap:13 CN/8000",
    "a=ptime:20",
    "a=sendrecv",
    "a=rtcp:16385 IN IP4 198.51.100.20",
];

const CHROME: &[&str] = &[
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS stream1",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:EsAw",
    "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 DA:52:67:C5:2A:2E:91:13:A2:7D:3A:E1:2E:A4:F3:28:90:67:71:0E:B7:6F:7B:56:79:F4:B2:D1:54:4B:92:7E",
    "a=setup:actpass",
    "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=sendrecv",
    "a=msid:stream1 track1",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-fb:111 transport-cc",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/111",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:13 CN/8000",
    "a=rtpmap:110 telephone-event/48000",
    "a=rtpmap:126 telephone-event/8000",
    "a=ssrc:1001 cname:4TOk42mSjXCkVIa6",
];

const LINPHONE: &[&str] = &[
    "v=0",
    "o=alice 3048 2241 IN IP4 192.168.1.20",
    "s=Talk",
    "c=IN IP4 192.168.1.20",
    "t=0 0",
    "a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics",
    "a=record:off",
    "m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100",
    "a=rtpmap:96 opus/48000/2",
    "a=fmtp:96 useinbandfec=1",
    "a=rtpmap:97 SPEEX/16000",
    "a=fmtp:97 vbr=on",
    "a=rtpmap:98 SPEEX/8000",
    "a=fmtp:98 vbr=on",
    "a=fmtp:18 annexb=yes",
    "a=rtpmap:101 telephone-event/48000",
    "a=rtpmap:99 telephone-event/16000",
    "a=rtpmap:100 telephone-event/8000",
    "a=rtcp-fb:* trr-int 1000",
    "a=rtcp-fb:* ccm tmmbr",
    "m=video 9078 RTP/AVP 96 97",
    "a=rtpmap:96 VP8/90000",
    "a=rtpmap:97 H264/90000",
    "a=fmtp:97 profile-level-id=42801F",
];

const BARESIP: &[&str] = &[
    "v=0",
    "o=- 1592497234 3398117384 IN IP6 2001:db8::5",
    "s=-",
    "c=IN IP6 2001:db8::5",
    "t=0 0",
    "m=audio 10206 RTP/AVP 96 9 0 8 101",
    "b=AS:93",
    "a=rtpmap:96 opus/48000/2",
    "a=fmtp:96 stereo=1;sprop-stereo=1;maxaveragebitrate=28000;usedtx=1;maxplaybackrate=24000",
    "a=rtpmap:9 G722/8000/1",
    "a=rtpmap:101 telephone-event/8000",
    "a=fmtp:101 0-15",
    "a=sendonly",
    "a=rtcp-mux",
    "a=ssrc:3031513112 cname:baresip@example",
];

fn ip4(a: &str) -> Connection {
    Connection { addr_type: AddrType::Ip4, address: a.to_owned() }
}

fn attr(name: &str, value: Option<&str>) -> Attribute {
    Attribute { name: name.to_owned(), value: value.map(str::to_owned) }
}

fn static_fmt(pt: u8, enc: &str) -> Format {
    Format::new(pt, enc, 8000, None, "")
}

/// Our side in the tests: fixed origin so the answer text is exact.
fn local() -> LocalAudio {
    let mut l = LocalAudio::new("192.0.2.50".parse().unwrap(), 20000);
    (l.session_id, l.session_version) = (100, 100);
    l
}

fn parse(lines: &[&str]) -> SessionDescription {
    SessionDescription::parse(&crlf(lines)).unwrap()
}

#[test]
fn asterisk_offer_parses_to_exact_structs() {
    let sdp = parse(ASTERISK);
    let mut audio = MediaDescription::new("audio", 10000, "RTP/AVP");
    audio.formats = vec![
        static_fmt(0, "PCMU"),
        static_fmt(8, "PCMA"),
        static_fmt(3, "GSM"),
        static_fmt(9, "G722"),
        Format::new(101, "telephone-event", 8000, None, "0-16"),
    ];
    audio.ptime = Some(20);
    audio.maxptime = Some(150);
    audio.direction = Some(Direction::SendRecv);
    let expected = SessionDescription {
        origin: Origin {
            username: "-".into(),
            session_id: 1234567890,
            session_version: 1234567890,
            address: ip4("203.0.113.10"),
        },
        session_name: "Asterisk".into(),
        connection: Some(ip4("203.0.113.10")),
        timing: vec![Timing { start: 0, stop: 0 }],
        direction: None,
        other_lines: vec![],
        attributes: vec![],
        media: vec![audio],
    };
    assert_eq!(sdp, expected);
    // LF-only line endings parse the same.
    assert_eq!(SessionDescription::parse(&lf(ASTERISK)).unwrap(), expected);
    let te = sdp.media[0].telephone_events();
    assert_eq!(te, vec![TelephoneEvent { payload_type: 101, clock_rate: 8000, events: vec![(0, 16)] }]);
    let fmtp = sdp.media[0].format(101).unwrap().fmtp.as_ref().unwrap();
    assert_eq!(fmtp, &Fmtp { raw: "0-16".into(), params: vec![("0-16".into(), String::new())] });
}

#[test]
fn freeswitch_offer_opus_and_g729_parameters() {
    let sdp = parse(FREESWITCH);
    let audio = &sdp.media[0];
    assert_eq!(audio.payload_types(), vec![102, 9, 0, 8, 18, 101, 13]);
    let opus = audio.opus_params(102);
    assert_eq!(opus.useinbandfec, Some(true));
    assert_eq!(opus.maxaveragebitrate, Some(30000));
    assert_eq!(opus.maxplaybackrate, Some(48000));
    assert!(!audio.g729_annexb(18));
    let fmtp = audio.format(102).unwrap().fmtp.as_ref().unwrap();
    assert_eq!(fmtp.get("maxptime"), Some("40"));
    assert_eq!(fmtp.params.len(), 6);
    assert_eq!(audio.rtcp, Some(Rtcp { port: 16385, connection: Some(ip4("198.51.100.20")) }));
    assert_eq!(sdp.origin.username, "FreeSWITCH");
    assert_eq!(sdp.origin.session_version, 1700000001);
    // The codec registry negotiates straight from the parsed formats.
    let n = negotiate(&[LocalCodec::new(CodecId::G729)], &audio.remote_formats()).unwrap();
    assert_eq!((n.payload_type, n.annexb), (18, Some(false)));
    let n = negotiate(&[LocalCodec::new(CodecId::Opus)], &audio.remote_formats()).unwrap();
    assert_eq!(n.payload_type, 102);
}

#[test]
fn chrome_offer_audio_part() {
    let sdp = parse(CHROME);
    assert_eq!(sdp.connection, None);
    assert_eq!(sdp.attributes[0], attr("group", Some("BUNDLE 0")));
    assert_eq!(sdp.attributes[2], attr("msid-semantic", Some(" WMS stream1")));
    let audio = &sdp.media[0];
    assert_eq!((audio.port, audio.proto.as_str()), (9, "UDP/TLS/RTP/SAVPF"));
    assert_eq!(sdp.connection_of(audio), Some(&ip4("0.0.0.0")));
    assert!(audio.rtcp_mux);
    assert_eq!(audio.rtcp, Some(Rtcp { port: 9, connection: Some(ip4("0.0.0.0")) }));
    assert_eq!(audio.direction, Some(Direction::SendRecv));
    assert_eq!(audio.format(63).unwrap().fmtp.as_ref().unwrap().raw, "111/111");
    assert_eq!(
        audio.telephone_events(),
        vec![
            TelephoneEvent { payload_type: 110, clock_rate: 48000, events: vec![(0, 15)] },
            TelephoneEvent { payload_type: 126, clock_rate: 8000, events: vec![(0, 15)] },
        ]
    );
    // Unknown attributes are kept in order; the extmap is typed.
    let names: Vec<&str> = audio.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["ice-ufrag", "ice-pwd", "ice-options", "fingerprint", "setup", "mid", "msid", "rtcp-fb", "ssrc"]
    );
    assert_eq!(
        audio.extmaps,
        vec![ExtMap { id: 1, direction: None, uri: AUDIO_LEVEL_URI.to_owned(), attributes: None }]
    );
    // The session-level `a=extmap-allow-mixed` stays a plain attribute.
    assert_eq!(sdp.attributes[1], attr("extmap-allow-mixed", None));
    assert_eq!(audio.attribute_values("setup").collect::<Vec<_>>(), vec![Some("actpass")]);
}

#[test]
fn linphone_and_baresip_offers() {
    let sdp = parse(LINPHONE);
    assert_eq!(sdp.media.len(), 2);
    assert_eq!(
        sdp.attributes,
        vec![
            attr("rtcp-xr", Some("rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics")),
            attr("record", Some("off"))
        ]
    );
    let audio = &sdp.media[0];
    // fmtp for a static payload type without rtpmap.
    assert_eq!(
        audio.format(18).unwrap(),
        &Format { payload_type: 18, rtpmap: None, fmtp: Some(Fmtp::new("annexb=yes")) }
    );
    assert!(audio.g729_annexb(18));
    assert_eq!(
        audio.format(97).unwrap().rtpmap,
        Some(RtpMap { encoding: "SPEEX".into(), clock_rate: 16000, channels: None })
    );
    assert_eq!(sdp.media[1].media, "video");
    assert_eq!(sdp.media[1].format(97).unwrap().fmtp.as_ref().unwrap().get("profile-level-id"), Some("42801F"));

    let sdp = parse(BARESIP);
    assert_eq!(sdp.connection, Some(Connection { addr_type: AddrType::Ip6, address: "2001:db8::5".into() }));
    assert_eq!(sdp.connection.as_ref().unwrap().ip(), Some("2001:db8::5".parse().unwrap()));
    let audio = &sdp.media[0];
    assert_eq!(audio.other_lines, vec![OtherLine { kind: 'b', value: "AS:93".into() }]);
    assert_eq!(audio.format(9).unwrap().rtpmap.as_ref().unwrap().channels, Some(1));
    let opus = audio.opus_params(96);
    assert_eq!((opus.stereo, opus.sprop_stereo, opus.usedtx), (Some(true), Some(true), Some(true)));
    assert_eq!((opus.maxaveragebitrate, opus.maxplaybackrate), (Some(28000), Some(24000)));
    assert_eq!(sdp.direction_of(audio), Direction::SendOnly);
}

#[test]
fn round_trip_of_every_sample() {
    for sample in [ASTERISK, FREESWITCH, CHROME, LINPHONE, BARESIP] {
        let sdp = parse(sample);
        let text = sdp.to_string();
        assert!(text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'));
        assert_eq!(SessionDescription::parse(&text).unwrap(), sdp, "{text}");
        let answer = create_answer(&sdp, &local());
        assert_eq!(SessionDescription::parse(&answer.to_string()).unwrap(), answer);
    }
    // The Asterisk sample is already in generation order: the text comes back verbatim.
    assert_eq!(parse(ASTERISK).to_string(), crlf(ASTERISK));
    let offer = create_offer(&local());
    assert_eq!(SessionDescription::parse(&offer.to_string()).unwrap(), offer);
}

#[test]
fn other_lines_and_session_direction_round_trip() {
    let text = lf(&[
        "v=0",
        "o=- 1 1 IN IP4 10.0.0.1",
        "s=call",
        "b=CT:128",
        "i=info",
        "c=IN IP4 224.2.1.1/127",
        "t=2873397496 2873404696",
        "r=7d 1h 0 25h",
        "a=recvonly",
        "m=audio 49170/2 RTP/AVP 0",
        "i=audio",
        "a=x:1",
        "m=application 5000 UDP/DTLS/SCTP webrtc-datachannel",
        "a=sctp-port:5000",
    ]);
    let sdp = SessionDescription::parse(&text).unwrap();
    assert_eq!(sdp.other_lines.iter().map(|l| l.kind).collect::<String>(), "ibr");
    assert_eq!(sdp.direction, Some(Direction::RecvOnly));
    assert_eq!(sdp.connection.as_ref().unwrap().ip(), Some("224.2.1.1".parse().unwrap()));
    assert_eq!(sdp.media[0].port_count, Some(2));
    assert_eq!(sdp.media[1].raw_formats, vec!["webrtc-datachannel".to_string()]);
    assert!(sdp.media[1].formats.is_empty());
    assert_eq!(SessionDescription::parse(&sdp.to_string()).unwrap(), sdp);
}

#[test]
fn exact_answer_to_asterisk() {
    let mut l = local();
    l.ptime = Some(20);
    let answer = create_answer(&parse(ASTERISK), &l);
    assert_eq!(
        answer.to_string(),
        crlf(&[
            "v=0",
            "o=- 100 100 IN IP4 192.0.2.50",
            "s=-",
            "c=IN IP4 192.0.2.50",
            "t=0 0",
            "m=audio 20000 RTP/AVP 0 8 9 101",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=ptime:20",
            "a=sendrecv",
        ])
    );
}

#[test]
fn exact_answer_to_freeswitch() {
    let mut l = local();
    l.codecs = vec![LocalCodec::new(CodecId::Opus), LocalCodec::new(CodecId::Pcmu)];
    let answer = create_answer(&parse(FREESWITCH), &l);
    assert_eq!(
        answer.to_string(),
        crlf(&[
            "v=0",
            "o=- 100 100 IN IP4 192.0.2.50",
            "s=-",
            "c=IN IP4 192.0.2.50",
            "t=0 0",
            "m=audio 20000 RTP/AVP 102 0 101",
            "a=rtpmap:102 opus/48000/2",
            "a=fmtp:102 minptime=10;useinbandfec=1",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=sendrecv",
        ])
    );
    // G.729: the offer says annexb=no, so the answer does too, whatever we prefer.
    l.codecs = vec![LocalCodec::new(CodecId::G729)];
    let answer = create_answer(&parse(FREESWITCH), &l);
    assert_eq!(answer.media[0].formats[0], Format::new(18, "G729", 8000, None, "annexb=no"));
}

#[test]
fn exact_answer_to_baresip_on_hold() {
    let answer = create_answer(&parse(BARESIP), &local());
    assert_eq!(
        answer.to_string(),
        crlf(&[
            "v=0",
            "o=- 100 100 IN IP4 192.0.2.50",
            "s=-",
            "c=IN IP4 192.0.2.50",
            "t=0 0",
            "m=audio 20000 RTP/AVP 96 9 0 8 101",
            "a=rtpmap:96 opus/48000/2",
            "a=fmtp:96 minptime=10;useinbandfec=1",
            "a=rtpmap:9 G722/8000",
            "a=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=recvonly",
            "a=rtcp-mux",
        ])
    );
}

#[test]
fn video_is_rejected_with_port_zero() {
    let answer = create_answer(&parse(LINPHONE), &local());
    let text = answer.to_string();
    assert!(text.ends_with("m=video 0 RTP/AVP 96 97\r\n"), "{text}");
    let audio = &answer.media[0];
    // Offerer's order, offerer's dynamic PT for Opus; SPEEX dropped; telephone-event kept for
    // the clock rates we accepted (48000 for Opus, 8000 for G.711/G.729) but not 16000.
    assert_eq!(audio.payload_types(), vec![96, 0, 8, 18, 101, 100]);
    assert_eq!(audio.format(18).unwrap().fmtp, Some(Fmtp::new("annexb=yes")));
    assert!(!audio.rtcp_mux);
    // A data channel (non-RTP) is rejected too, keeping its format token.
    let offer = SessionDescription::parse(&lf(&[
        "v=0",
        "o=- 1 1 IN IP4 10.0.0.1",
        "s=-",
        "c=IN IP4 10.0.0.1",
        "t=0 0",
        "m=application 5000 UDP/DTLS/SCTP webrtc-datachannel",
        "m=audio 4000 RTP/AVP 8",
    ]))
    .unwrap();
    let answer = create_answer(&offer, &local());
    assert_eq!(answer.media[0].port, 0);
    assert_eq!(answer.media[0].raw_formats, vec!["webrtc-datachannel".to_string()]);
    assert_eq!(answer.media[1].payload_types(), vec![8]);
    assert!(answer.to_string().contains("m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
}

#[test]
fn chrome_proto_is_rejected_unless_we_speak_it() {
    let offer = parse(CHROME);
    let answer = create_answer(&offer, &local());
    assert_eq!(answer.media[0].port, 0);
    assert!(answer.to_string().contains("m=audio 0 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"));
    let mut l = local();
    l.proto = "UDP/TLS/RTP/SAVPF".into();
    let answer = create_answer(&offer, &l);
    let audio = &answer.media[0];
    assert_eq!(audio.payload_types(), vec![111, 9, 0, 8, 110, 126]);
    assert!(audio.rtcp_mux);
    l.rtcp_mux = false;
    assert!(!create_answer(&offer, &l).media[0].rtcp_mux);
}

fn offer_with(media_lines: &[&str], session_attr: Option<&str>) -> SessionDescription {
    let mut lines = vec!["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0"];
    lines.extend(session_attr);
    lines.extend_from_slice(media_lines);
    SessionDescription::parse(&crlf(&lines)).unwrap()
}

#[test]
fn answer_directions() {
    use Direction::*;
    let cases = [
        (Some("a=sendrecv"), SendRecv, SendRecv),
        (Some("a=sendonly"), SendRecv, RecvOnly),
        (Some("a=recvonly"), SendRecv, SendOnly),
        (Some("a=inactive"), SendRecv, Inactive),
        (None, SendRecv, SendRecv),
        (None, SendOnly, SendOnly),
        (None, RecvOnly, RecvOnly),
        (None, Inactive, Inactive),
        (Some("a=sendonly"), SendOnly, Inactive),
        (Some("a=recvonly"), RecvOnly, Inactive),
    ];
    for (attr_line, ours, expected) in cases {
        let mut media = vec!["m=audio 4000 RTP/AVP 0"];
        media.extend(attr_line);
        let mut l = local();
        l.direction = ours;
        let answer = create_answer(&offer_with(&media, None), &l);
        assert_eq!(answer.media[0].direction, Some(expected), "{attr_line:?} with local {ours:?}");
    }
    // Session-level direction applies when the media has none; the media's wins.
    let answer = create_answer(&offer_with(&["m=audio 4000 RTP/AVP 0"], Some("a=sendonly")), &local());
    assert_eq!(answer.media[0].direction, Some(RecvOnly));
    let offer = offer_with(&["m=audio 4000 RTP/AVP 0", "a=inactive"], Some("a=sendonly"));
    assert_eq!(offer.direction_of(&offer.media[0]), Inactive);
    assert_eq!(create_answer(&offer, &local()).media[0].direction, Some(Inactive));
}

#[test]
fn dynamic_payload_types_map_by_name_clock_and_channels() {
    let offer = offer_with(
        &[
            "m=audio 4000 RTP/AVP 120 121 122 123 124",
            "a=rtpmap:120 OPUS/48000",   // Opus must say /2: not matched
            "a=rtpmap:121 G722/16000",   // G.722's RTP clock is 8000: not matched
            "a=rtpmap:122 Opus/48000/2", // matched, case-insensitively
            "a=rtpmap:123 pcma/8000",    // a static codec under a dynamic number
            "a=rtpmap:124 TELEPHONE-EVENT/48000",
            "a=fmtp:124 0-11,12,13-15,16",
        ],
        None,
    );
    let answer = create_answer(&offer, &local());
    let audio = &answer.media[0];
    assert_eq!(audio.payload_types(), vec![122, 123, 124]);
    assert_eq!(audio.formats[0], Format::new(122, "opus", 48000, Some(2), "minptime=10;useinbandfec=1"));
    assert_eq!(audio.formats[1], Format::new(123, "PCMA", 8000, None, ""));
    assert_eq!(audio.formats[2], Format::new(124, "telephone-event", 48000, None, "0-11,12,13-15"));
    // Each codec once: a second Opus entry is not answered.
    let offer =
        offer_with(&["m=audio 4000 RTP/AVP 96 97", "a=rtpmap:96 opus/48000/2", "a=rtpmap:97 opus/48000/2"], None);
    assert_eq!(create_answer(&offer, &local()).media[0].payload_types(), vec![96]);
}

#[test]
fn nothing_in_common_rejects_the_stream() {
    let offer = offer_with(&["m=audio 4000 RTP/AVP 3 101", "a=rtpmap:101 telephone-event/8000"], None);
    let answer = create_answer(&offer, &local());
    assert_eq!(answer.media[0].port, 0);
    assert_eq!(answer.media[0].payload_types(), vec![3, 101]);
    assert!(answer.to_string().ends_with("m=audio 0 RTP/AVP 3 101\r\n"));
    // Still a valid SDP.
    assert_eq!(SessionDescription::parse(&answer.to_string()).unwrap(), answer);
    // Telephone-event without DTMF on our side, or at a clock we did not accept, is dropped.
    let offer = offer_with(&["m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/48000"], None);
    assert_eq!(create_answer(&offer, &local()).media[0].payload_types(), vec![0]);
    let offer = offer_with(&["m=audio 4000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"], None);
    let mut l = local();
    l.telephone_event = false;
    assert_eq!(create_answer(&offer, &l).media[0].payload_types(), vec![0]);
    // A second audio stream is rejected; only the first is answered.
    let offer = offer_with(&["m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 8"], None);
    let answer = create_answer(&offer, &local());
    assert_eq!((answer.media[0].port, answer.media[1].port), (20000, 0));
}

#[test]
fn offer_from_local_capabilities() {
    let mut l = local();
    l.codecs = vec![LocalCodec::new(CodecId::Opus), LocalCodec::new(CodecId::G729).with_annexb(false)];
    l.opus.usedtx = Some(true);
    l.opus.maxaveragebitrate = Some(20000);
    l.ptime = Some(20);
    l.maxptime = Some(60);
    l.direction = Direction::SendOnly;
    assert_eq!(
        create_offer(&l).to_string(),
        crlf(&[
            "v=0",
            "o=- 100 100 IN IP4 192.0.2.50",
            "s=-",
            "c=IN IP4 192.0.2.50",
            "t=0 0",
            "m=audio 20000 RTP/AVP 111 18 110 101",
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=20000",
            "a=rtpmap:18 G729/8000",
            "a=fmtp:18 annexb=no",
            "a=rtpmap:110 telephone-event/48000",
            "a=fmtp:110 0-15",
            "a=rtpmap:101 telephone-event/8000",
            "a=fmtp:101 0-15",
            "a=ptime:20",
            "a=maxptime:60",
            "a=sendonly",
            "a=rtcp-mux",
        ])
    );
    // A telephone-event payload type already taken by a codec moves to a free dynamic one.
    let mut l = local();
    l.codecs = vec![LocalCodec::new(CodecId::Opus), LocalCodec::new(CodecId::Pcmu)];
    l.telephone_event_pt = 111;
    assert_eq!(create_offer(&l).media[0].payload_types(), vec![111, 0, 110, 96]);
    l.telephone_event = false;
    assert_eq!(create_offer(&l).media[0].payload_types(), vec![111, 0]);
    // Our own offer, answered by ourselves, keeps every codec and both DTMF formats.
    let offer = create_offer(&local());
    let answer = create_answer(&offer, &local());
    assert_eq!(answer.media[0].payload_types(), offer.media[0].payload_types());
    assert!(answer.media[0].rtcp_mux);
}

fn err(lines: &[&str]) -> SdpError {
    SessionDescription::parse(&crlf(lines)).unwrap_err()
}

fn malformed(lines: &[&str]) -> (usize, String) {
    match err(lines) {
        SdpError::Malformed { line, text, reason } => {
            assert!(!reason.is_empty());
            (line, text)
        }
        other => panic!("expected Malformed, got {other:?}"),
    }
}

const HEAD: [&str; 5] = ["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0"];

fn with_head(rest: &[&str]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = HEAD.to_vec();
    // Leak is fine in a test: the lines live for the test's duration anyway.
    v.extend(rest.iter().map(|s| &*Box::leak(s.to_string().into_boxed_str())));
    v
}

#[test]
fn malformed_lines_name_the_line() {
    let e = err(&with_head(&["m=audio 4000 RTP/AVP 96", "a=rtpmap:xx"]));
    assert!(matches!(e, SdpError::Malformed { line: 7, ref text, .. } if text == "a=rtpmap:xx"), "{e:?}");
    assert!(e.to_string().contains("line 7"));
    let cases: &[(&[&str], usize)] = &[
        (&["m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus"], 7),
        (&["m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus/x"], 7),
        (&["m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus/48000/2/1"], 7),
        (&["m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus/48000", "a=rtpmap:96 opus/48000"], 8),
        (&["m=audio 4000 RTP/AVP 96", "a=fmtp:x y"], 7),
        (&["m=audio 4000 RTP/AVP 96", "a=fmtp:96 a=1", "a=fmtp:96 b=1"], 8),
        (&["m=audio 4000 RTP/AVP 96", "a=ptime:abc"], 7),
        (&["m=audio 4000 RTP/AVP 96", "a=ptime:20", "a=ptime:30"], 8),
        (&["m=audio 4000 RTP/AVP 96", "a=maxptime"], 7),
        (&["m=audio 4000 RTP/AVP 96", "a=sendonly", "a=recvonly"], 8),
        (&["m=audio 4000 RTP/AVP 96", "a=rtcp:x"], 7),
        (&["m=audio 4000 RTP/AVP 96", "a=rtcp:5001 IN IP4"], 7),
        (&["m=audio 4000 RTP/AVP 96", "a=:x"], 7),
        (&["m=audio 4000 RTP/AVP 96", "c=IN IP4 10.0.0.1", "c=IN IP4 10.0.0.2"], 8),
        (&["m=audio 4000 RTP/AVP 96", "o=- 1 1 IN IP4 10.0.0.1"], 7),
        (&["m=audio 4000 RTP/AVP 96", "t=0 0"], 7),
        (&["m=audio 70000 RTP/AVP 0"], 6),
        (&["m=audio 4000/x RTP/AVP 0"], 6),
        (&["m=audio 4000 RTP/AVP 128"], 6),
        (&["m=audio 4000 RTP/AVP abc"], 6),
        (&["m=audio 4000 RTP/AVP 0 0"], 6),
        (&["m=audio 4000 RTP/AVP"], 6),
        (&["m=audio 4000 RTP/AVP 0  8"], 6),
        (&["m=audio"], 6),
        (&["x=1"], 6),
        (&["A=1"], 6),
        (&["garbage"], 6),
        (&["=x"], 6),
        (&["a=sendonly", "a=inactive"], 7),
    ];
    for (rest, line) in cases {
        let lines = with_head(rest);
        let (l, text) = malformed(&lines);
        assert_eq!((l, text.as_str()), (*line, lines[line - 1]), "{rest:?}");
    }
    // Session-level lines.
    let bad_session: &[(&[&str], usize)] = &[
        (&["v=1"], 1),
        (&["v=0", "v=0"], 2),
        (&["v=0", "o=- x 1 IN IP4 10.0.0.1"], 2),
        (&["v=0", "o=- 1 1 IN IP4"], 2),
        (&["v=0", "o=- 1 1 IN IP5 10.0.0.1"], 2),
        (&["v=0", "o=- 1 1 ATM IP4 10.0.0.1"], 2),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "o=- 1 1 IN IP4 10.0.0.1"], 3),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "s=-"], 4),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 ::1"], 4),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP6 10.0.0.1"], 4),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 "], 4),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "c=IN IP4 10.0.0.1"], 5),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=0"], 4),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=now 0"], 4),
        (&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "r=7d 1h 0"], 4),
    ];
    for (lines, line) in bad_session {
        let (l, text) = malformed(lines);
        assert_eq!((l, text.as_str()), (*line, lines[line - 1]), "{lines:?}");
    }
}

#[test]
fn missing_lines_and_connection() {
    assert_eq!(SessionDescription::parse(""), Err(SdpError::MissingLine { kind: "v=" }));
    assert_eq!(SessionDescription::parse("\r\n\r\n"), Err(SdpError::MissingLine { kind: "v=" }));
    assert_eq!(err(&["o=- 1 1 IN IP4 10.0.0.1", "v=0"]), SdpError::MissingLine { kind: "v=" });
    assert_eq!(err(&["v=0", "s=-", "t=0 0"]), SdpError::MissingLine { kind: "o=" });
    assert_eq!(err(&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "t=0 0"]), SdpError::MissingLine { kind: "s=" });
    assert_eq!(err(&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-"]), SdpError::MissingLine { kind: "t=" });
    // Required session lines must come before the first m= line.
    assert_eq!(
        err(&["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "m=audio 4000 RTP/AVP 0"]),
        SdpError::MissingLine { kind: "t=" }
    );
    assert_eq!(
        err(&[
            "v=0",
            "o=- 1 1 IN IP4 10.0.0.1",
            "s=-",
            "t=0 0",
            "m=audio 4000 RTP/AVP 0",
            "m=audio 4002 RTP/AVP 0",
            "c=IN IP4 10.0.0.1"
        ]),
        SdpError::MissingConnection { line: 5 }
    );
    // A trailing space on the m= line (sent by some phones) is tolerated.
    let sdp = SessionDescription::parse(&crlf(&with_head(&["m=audio 4000 RTP/AVP 0 8 "]))).unwrap();
    assert_eq!(sdp.media[0].payload_types(), vec![0, 8]);
    // A disabled stream (port 0) needs no address; one per media is enough.
    assert!(SessionDescription::parse(&crlf(&[
        "v=0",
        "o=- 1 1 IN IP4 10.0.0.1",
        "s=-",
        "t=0 0",
        "m=video 0 RTP/AVP 96"
    ]))
    .is_ok());
    assert_eq!(
        SessionDescription::parse_bytes(b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=\xc3\r\n"),
        Err(SdpError::NotUtf8 { line: 3 })
    );
    assert_eq!(SessionDescription::parse_bytes(crlf(ASTERISK).as_bytes()).unwrap(), parse(ASTERISK));
    // Display of every variant.
    assert_eq!(SdpError::MissingLine { kind: "o=" }.to_string(), "SDP has no o= line");
    assert_eq!(SdpError::NotUtf8 { line: 3 }.to_string(), "SDP line 3 is not valid UTF-8");
    assert!(SdpError::MissingConnection { line: 5 }.to_string().contains("line 5"));
}

/// A small deterministic generator, so failures reproduce.
struct Rng(rvoip_media_core::graph::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }
}

#[test]
fn never_panics_on_truncated_or_garbage_input() {
    let samples: Vec<String> = [ASTERISK, FREESWITCH, CHROME, LINPHONE, BARESIP].iter().map(|s| crlf(s)).collect();
    // Every truncation of every sample (by bytes, so also mid-character and mid-CRLF).
    for s in &samples {
        for cut in 0..=s.len() {
            let _ = SessionDescription::parse_bytes(&s.as_bytes()[..cut]);
        }
    }
    let garbage = [
        "",
        "\n",
        "\r",
        "\r\n\r\n",
        "v",
        "v=",
        "v=0",
        "=",
        "==",
        "a=",
        "m=",
        "v=0\nm=",
        "v=0\no=\ns=\nt=\n",
        "v=0\no= \ns= \nt= \nm= \n",
        "v=0\no=- 1 1 IN IP4 a\ns=-\nc=IN IP4 a\nt=0 0\nm=audio 1 RTP/AVP 0\na=rtcp:",
        "v=0\no=- 1 1 IN IP4 a\ns=-\nc=IN IP4 a\nt=0 0\nm=audio 1 RTP/AVP 0\na=fmtp:",
        "v=0\no=- 1 1 IN IP4 a\ns=-\nc=IN IP4 a\nt=0 0\nm=audio 1 RTP/AVP 0\na=rtpmap:0 /",
        "v=0\no=- 1 1 IN IP4 a\ns=-\nc=IN IP4 a\nt=0 0\nm=audio 1 RTP/AVP 0\na=rtpmap:0 x//",
        "\u{feff}v=0",
        "v=0\u{0}",
        "é=x",
        "v=0\né=x",
    ];
    for g in garbage {
        let _ = SessionDescription::parse(g);
    }
    // Random byte strings, random SDP-ish token soup, and samples with random bytes replaced.
    let mut rng = Rng(rvoip_media_core::graph::SplitMix64::new(0x9E37_79B9_7F4A_7C15));
    let tokens = [
        "v=0",
        "o=- 1 1 IN IP4 10.0.0.1",
        "s=-",
        "c=IN IP4 10.0.0.1",
        "c=IN IP6 ::1",
        "t=0 0",
        "m=audio 4000 RTP/AVP 0 96",
        "m=video 0 RTP/AVP 96",
        "a=rtpmap:96 opus/48000/2",
        "a=fmtp:96 useinbandfec=1",
        "a=fmtp:0",
        "a=ptime:20",
        "a=sendonly",
        "a=rtcp-mux",
        "a=rtcp:4001",
        "a=rtpmap:",
        "a=",
        "b=AS:64",
        "r=1",
        ":",
        "/",
        " ",
        "0",
        "127",
        "",
    ];
    let mut parsed = 0;
    for _ in 0..20_000 {
        let len = rng.below(64);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = SessionDescription::parse_bytes(&bytes);

        // Half the soups start with a valid head, so many parse and the round trip is exercised.
        let mut soup = if rng.below(2) == 0 { crlf(&HEAD) } else { String::new() };
        for _ in 0..rng.below(12) {
            soup.push_str(tokens[rng.below(tokens.len())]);
            soup.push_str(["\r\n", "\n", " ", ""][rng.below(4)]);
        }
        if let Ok(sdp) = SessionDescription::parse(&soup) {
            parsed += 1;
            // Whatever parses generates text that parses back to the same thing, and can be answered.
            assert_eq!(SessionDescription::parse(&sdp.to_string()).as_ref(), Ok(&sdp), "{soup:?}");
            let answer = create_answer(&sdp, &local());
            assert_eq!(SessionDescription::parse(&answer.to_string()).as_ref(), Ok(&answer), "{soup:?}");
        }

        let mut s = samples[rng.below(samples.len())].clone().into_bytes();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(s.len());
            let alphabet = b"=:/ \r\n0a9x\xff";
            s[i] = alphabet[rng.below(alphabet.len())];
        }
        if let Ok(sdp) = SessionDescription::parse_bytes(&s) {
            assert_eq!(SessionDescription::parse(&sdp.to_string()).as_ref(), Ok(&sdp));
            let _ = create_answer(&sdp, &local());
        }
    }
    assert!(parsed > 1000, "only {parsed} soups parsed");
}

#[test]
fn srtp_offer_parses_and_is_rejected_without_srtp() {
    let offer = offer_with(
        &[
            "m=audio 4000 RTP/SAVP 0 101",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
            "a=rtpmap:101 telephone-event/8000",
        ],
        None,
    );
    let audio = &offer.media[0];
    assert!(audio.is_rtp());
    assert_eq!(audio.proto, "RTP/SAVP");
    assert_eq!(audio.attributes[0].name, "crypto");
    let answer = create_answer(&offer, &local());
    assert!(answer.to_string().ends_with("m=audio 0 RTP/SAVP 0 101\r\n"));
    // Accepted when we declare the profile (keying is the transport's business).
    let mut l = local();
    l.proto = "RTP/SAVP".into();
    assert_eq!(create_answer(&offer, &l).media[0].payload_types(), vec![0, 101]);
}

const EXTMAPS: &[&str] = &[
    "v=0",
    "o=- 5 5 IN IP4 198.51.100.5",
    "s=-",
    "c=IN IP4 198.51.100.5",
    "t=0 0",
    "m=audio 7000 RTP/AVP 0",
    "a=extmap:3/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=extmap:200/recvonly http://example.com/x  a b",
];

#[test]
fn extmaps_parse_generate_and_round_trip_exactly() {
    let sdp = parse(EXTMAPS);
    let audio = &sdp.media[0];
    assert_eq!(
        audio.extmaps,
        vec![
            ExtMap {
                id: 3,
                direction: Some(Direction::SendOnly),
                uri: AUDIO_LEVEL_URI.to_owned(),
                attributes: Some("vad=on".to_owned())
            },
            ExtMap { id: 4, direction: None, uri: "urn:ietf:params:rtp-hdrext:sdes:mid".to_owned(), attributes: None },
            ExtMap {
                id: 200,
                direction: Some(Direction::RecvOnly),
                uri: "http://example.com/x".to_owned(),
                attributes: Some("a b".to_owned())
            },
        ]
    );
    assert!(audio.attributes.is_empty());
    assert_eq!(audio.extmap(AUDIO_LEVEL_URI).map(|e| e.id), Some(3));
    let text = sdp.to_string();
    let mut expected: Vec<&str> = EXTMAPS.to_vec();
    expected[8] = "a=extmap:200/recvonly http://example.com/x a b";
    assert_eq!(text, crlf(&expected));
    assert_eq!(SessionDescription::parse(&text).unwrap(), sdp);
}

#[test]
fn malformed_extmaps_are_errors_naming_the_line() {
    for (line, reason) in [
        ("a=extmap:0 urn:x", "extmap id is not a number 1-14 (one-byte) or 1-255 (two-byte header)"),
        ("a=extmap:256 urn:x", "extmap id is not a number 1-14 (one-byte) or 1-255 (two-byte header)"),
        ("a=extmap:x urn:x", "extmap id is not a number 1-14 (one-byte) or 1-255 (two-byte header)"),
        ("a=extmap:2", "extmap has no URI"),
        ("a=extmap:2 ", "extmap has no URI"),
        ("a=extmap", "extmap id is not a number 1-14 (one-byte) or 1-255 (two-byte header)"),
        ("a=extmap:2/sideways urn:x", "extmap direction is not a direction"),
        ("a=extmap:3 urn:x", "extmap id used twice"),
    ] {
        let mut lines = EXTMAPS[..7].to_vec();
        lines.push(line);
        let err = SessionDescription::parse(&crlf(&lines)).unwrap_err();
        assert_eq!(err, SdpError::Malformed { line: 8, text: line.to_owned(), reason }, "{line}");
    }
}

#[test]
fn audio_level_offer_is_exact() {
    let mut l = local();
    l.codecs = vec![LocalCodec::new(CodecId::Pcmu)];
    l.telephone_event = false;
    l.audio_level = true;
    l.audio_level_id = 7;
    assert_eq!(
        create_offer(&l).to_string(),
        crlf(&[
            "v=0",
            "o=- 100 100 IN IP4 192.0.2.50",
            "s=-",
            "c=IN IP4 192.0.2.50",
            "t=0 0",
            "m=audio 20000 RTP/AVP 0",
            "a=rtpmap:0 PCMU/8000",
            "a=sendrecv",
            "a=rtcp-mux",
            "a=extmap:7 urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on",
        ])
    );
    // Off (the default): no extmap.
    l.audio_level = false;
    assert!(!create_offer(&l).to_string().contains("extmap"));
}

#[test]
fn audio_level_answer_takes_the_offerers_id_and_answers_the_direction() {
    let mut l = local();
    l.codecs = vec![LocalCodec::new(CodecId::Pcmu)];
    l.telephone_event = false;
    l.audio_level = true;
    let answer = create_answer(&parse(EXTMAPS), &l);
    assert_eq!(
        answer.to_string(),
        crlf(&[
            "v=0",
            "o=- 100 100 IN IP4 192.0.2.50",
            "s=-",
            "c=IN IP4 192.0.2.50",
            "t=0 0",
            "m=audio 20000 RTP/AVP 0",
            "a=rtpmap:0 PCMU/8000",
            "a=sendrecv",
            "a=extmap:3/recvonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on",
        ])
    );
    // The offerer reads the answer: we only read levels (recvonly), so it sends them.
    let offerer = rvoip_media_core::session::MediaSessionParams::from_remote_sdp(
        "127.0.0.1:0".parse().unwrap(),
        &answer,
        &[LocalCodec::new(CodecId::Pcmu)],
    )
    .unwrap();
    let e = offerer.audio_level.unwrap();
    assert_eq!((e.id, e.send_id(), e.receive_id()), (3, Some(3), None));

    // We on hold (sendonly) answering a sendrecv extension: sendonly.
    let mut hold = l.clone();
    hold.direction = Direction::SendOnly;
    let mut offer = parse(EXTMAPS);
    offer.media[0].extmaps[0].direction = Some(Direction::SendRecv);
    let a = create_answer(&offer, &hold);
    assert_eq!(a.media[0].extmaps[0].direction, Some(Direction::SendOnly));
    // No direction offered: none answered.
    offer.media[0].extmaps[0].direction = None;
    assert_eq!(create_answer(&offer, &l).media[0].extmaps[0].direction, None);
    // We do not do levels: nothing accepted.
    let mut off = l.clone();
    off.audio_level = false;
    assert!(create_answer(&offer, &off).media[0].extmaps.is_empty());
    // An id that needs the two-byte header (we write one-byte ones only): not accepted.
    offer.media[0].extmaps[0].id = 15;
    assert!(create_answer(&offer, &l).media[0].extmaps.is_empty());
    // Our own offer answered by us: the round trip keeps the id.
    let mut ours = l.clone();
    ours.audio_level_id = 9;
    let a = create_answer(&create_offer(&ours), &l);
    assert_eq!(
        a.media[0].extmaps,
        vec![ExtMap { id: 9, direction: None, uri: AUDIO_LEVEL_URI.to_owned(), attributes: Some("vad=on".to_owned()) }]
    );
}
