//! Bit-exactness of the G.729A encoder (and Annex B VAD/DTX) against the reference (bcg729)
//! bitstreams, frame by frame, at normal, clipping and very quiet input levels and on full-scale noise.

mod g729_common;

use g729_common::*;
use rvoip_media_nodes::g729::{FrameKind, G729Encoder};

/// Encodes an input level and compares each frame (length and bytes) with the reference stream.
fn compare(level: &str, annex_b: bool) -> (usize, usize, Option<usize>) {
    let tag = format!("{level}_{}", if annex_b { "b" } else { "a" });
    let want = read_stream(&format!("{tag}.g729s"));
    let pcm = input(level);
    assert_eq!(pcm.len() / 80, want.len(), "{tag}: frame count");
    let mut enc = G729Encoder::new(annex_b);
    let mut out = [0u8; 10];
    let mut bad = 0;
    let mut first = None;
    for (i, (frame, w)) in pcm.chunks_exact(80).zip(&want).enumerate() {
        let kind = enc.encode(frame.try_into().unwrap(), &mut out);
        let w = w.as_deref().expect("reference streams have no erasures");
        if &out[..kind.len()] != w {
            bad += 1;
            first.get_or_insert(i);
        }
        if !annex_b {
            assert_eq!(kind, FrameKind::Speech);
        }
    }
    (want.len(), bad, first)
}

fn check(level: &str, annex_b: bool) {
    let (n, bad, first) = compare(level, annex_b);
    assert_eq!(bad, 0, "{level} annex_b={annex_b}: {bad} of {n} frames differ, first at frame {first:?}");
}

#[test]
fn annex_a_normal_level() {
    check("normal", false);
}

#[test]
fn annex_a_clipping_level() {
    check("loud", false);
}

#[test]
fn annex_a_quiet_level() {
    check("quiet", false);
}

#[test]
fn annex_a_full_scale_noise() {
    check("noise", false);
}

#[test]
fn annex_b_normal_level() {
    check("normal", true);
}

#[test]
fn annex_b_clipping_level() {
    check("loud", true);
}

#[test]
fn annex_b_quiet_level() {
    check("quiet", true);
}

#[test]
fn annex_b_full_scale_noise() {
    check("noise", true);
}

#[test]
fn annex_b_streams_contain_all_frame_kinds() {
    for level in ["normal", "quiet", "noise"] {
        let frames = read_stream(&format!("{level}_b.g729s"));
        let count = |n: usize| frames.iter().filter(|f| f.as_ref().is_some_and(|b| b.len() == n)).count();
        assert!(count(10) > 0 && count(2) > 0 && count(0) > 0, "{level}: {} {} {}", count(10), count(2), count(0));
    }
}
