//! Bit-exactness of the G.729A/B decoder against the reference (bcg729) output, frame by frame:
//! valid Annex A streams, Annex A+B streams (speech, SID and untransmitted frames), and both with
//! frame erasures (concealment), at four input levels.

mod g729_common;

use g729_common::*;
use rvoip_media_nodes::g729::G729Decoder;

/// Decodes `{tag}.g729s` and asserts every frame matches the reference digest.
fn check(tag: &str) {
    let frames = read_stream(&format!("{tag}.g729s"));
    let want = read_digests(&format!("{tag}.dec.fnv"));
    assert_eq!(frames.len(), want.len(), "{tag}: frame count");
    let mut dec = G729Decoder::new();
    let mut out = [0i16; 80];
    let mut first = None;
    let mut bad = 0;
    for (i, f) in frames.iter().enumerate() {
        dec.decode(f.as_deref(), &mut out).unwrap();
        if fnv1a(&out) != want[i] {
            bad += 1;
            first.get_or_insert(i);
        }
    }
    assert_eq!(bad, 0, "{tag}: {bad} of {} frames differ from the reference, first at frame {first:?}", frames.len());
}

#[test]
fn annex_a_normal_level() {
    check("normal_a");
}

#[test]
fn annex_a_clipping_level() {
    check("loud_a");
}

#[test]
fn annex_a_quiet_level() {
    check("quiet_a");
}

#[test]
fn annex_a_full_scale_noise() {
    check("noise_a");
}

#[test]
fn annex_a_with_erasures() {
    for level in ["normal", "loud", "quiet", "noise"] {
        let tag = format!("{level}_a_erased");
        let erased = read_stream(&format!("{tag}.g729s")).iter().filter(|f| f.is_none()).count();
        assert!(erased >= 25, "{tag}: only {erased} erased frames");
        check(&tag);
    }
}

#[test]
fn annex_b_streams() {
    for level in ["normal", "loud", "quiet", "noise"] {
        check(&format!("{level}_b"));
    }
    // the quiet stream exercises SID and untransmitted frames
    let frames = read_stream("quiet_b.g729s");
    assert!(frames.iter().filter(|f| f.as_ref().is_some_and(|b| b.len() == 2)).count() > 20);
    assert!(frames.iter().filter(|f| f.as_ref().is_some_and(|b| b.is_empty())).count() > 20);
}

#[test]
fn annex_b_with_erasures() {
    for level in ["normal", "loud", "quiet", "noise"] {
        check(&format!("{level}_b_erased"));
    }
}
