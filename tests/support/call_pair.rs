//! Two PCMU sessions calling each other over loopback, started — shared by
//! `tests/alloc_free_sessions.rs` and `tests/session_thousand.rs`. A latches onto B, the
//! first to send to it; B sends to A's address.
#![allow(dead_code)]

use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::session::{DialogId, MediaEngine, MediaSession, MediaSessionParams};
use std::time::Duration;

/// Sessions `a{tag}` and `b{tag}`, started (each start acknowledged within `wait`).
pub fn start_pair(engine: &MediaEngine, tag: &str, wait: Duration) -> (MediaSession, MediaSession) {
    let any = "127.0.0.1:0".parse().unwrap();
    let a_params = MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap();
    let mut a = engine.create_media_session(DialogId::new(format!("a{tag}")), a_params).unwrap();
    let b_params = MediaSessionParams::new(any, Some(a.local_addr()), CodecId::Pcmu).unwrap();
    let mut b = engine.create_media_session(DialogId::new(format!("b{tag}")), b_params).unwrap();
    a.start().unwrap().wait(wait).unwrap();
    b.start().unwrap().wait(wait).unwrap();
    (a, b)
}
