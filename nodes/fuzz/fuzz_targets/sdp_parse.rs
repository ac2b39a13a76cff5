//! SDP text as a SIP stack hands it over: `SessionDescription::parse_bytes` with any bytes;
//! whatever parses is written back (must parse to the same value), answered (RFC 3264) and
//! turned into session parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvoip_media_core::nodes::codec::{CodecId, LocalCodec};
use rvoip_media_core::sdp::{create_answer, LocalAudio, SessionDescription};
use rvoip_media_core::session::MediaSessionParams;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::parse_bytes(data) else { return };
    let text = sdp.to_string();
    assert_eq!(SessionDescription::parse(&text).as_ref(), Ok(&sdp), "{text}");
    let local = LocalAudio::new("192.0.2.1".parse().unwrap(), 4000);
    let answer = create_answer(&sdp, &local);
    assert!(SessionDescription::parse(&answer.to_string()).is_ok());
    let prefs: Vec<LocalCodec> = CodecId::ALL.iter().map(|c| LocalCodec::new(*c)).collect();
    let _ = MediaSessionParams::from_remote_sdp("127.0.0.1:0".parse().unwrap(), &sdp, &prefs);
});
