//! BS.1770-4 loudness against pyloudnorm 0.1.1.
//!
//! Reference values were produced once with pyloudnorm (lab venv) on the same signals:
//! ```text
//! import numpy as np, pyloudnorm as pyln, soundfile as sf
//! sine = lambda fs, f, a, s: a * np.sin(2 * np.pi * f * np.arange(int(fs * s)) / fs)
//! pyln.Meter(48000).integrated_loudness(sine(48000, 1000, 0.5, 5))      # -9.0656
//! pyln.Meter(16000).integrated_loudness(sine(16000, 100, 0.3, 4))       # -15.3309
//! pyln.Meter(32000).integrated_loudness(sine(32000, 6000, 0.2, 3))      # -13.6910
//! x = np.concatenate([sine(16000,1000,.5,2), sine(16000,1000,.005,2), sine(16000,1000,.5,2)])
//! pyln.Meter(16000).integrated_loudness(x)                              # -9.4358
//! pyln.Meter(fs).integrated_loudness(sf.read("examples/data/speech_en_16k.wav")[0])  # -22.9122
//! pyln.Meter(fs).integrated_loudness(sf.read("examples/data/speech_en_8k.wav")[0])   # -26.2069
//! ```

mod apm_common;

use rvoip_media_nodes::apm::loudness::{integrated_loudness, LoudnessMeter};

fn sine(fs: u32, f: f64, a: f64, secs: f64) -> Vec<f32> {
    (0..(fs as f64 * secs) as usize)
        .map(|n| (a * (2.0 * std::f64::consts::PI * f * n as f64 / fs as f64).sin()) as f32)
        .collect()
}

fn check(x: &[f32], fs: u32, reference: f64) {
    let l = integrated_loudness(x, fs).unwrap();
    assert!((l - reference).abs() < 0.1, "offline {l:.4} vs pyloudnorm {reference:.4} at {fs} Hz");
    let mut m = LoudnessMeter::new(fs);
    for c in x.chunks(fs as usize / 100) {
        m.push(c);
    }
    let s = m.integrated().unwrap();
    assert!((s - reference).abs() < 0.1, "streaming {s:.4} vs pyloudnorm {reference:.4} at {fs} Hz");
}

#[test]
fn sines_match_pyloudnorm_at_several_rates() {
    check(&sine(48000, 1000.0, 0.5, 5.0), 48000, -9.0656);
    check(&sine(16000, 100.0, 0.3, 4.0), 16000, -15.3309);
    check(&sine(32000, 6000.0, 0.2, 3.0), 32000, -13.6910);
}

#[test]
fn relative_gate_drops_quiet_passage() {
    let mut x = sine(16000, 1000.0, 0.5, 2.0);
    x.extend(sine(16000, 1000.0, 0.005, 2.0));
    x.extend(sine(16000, 1000.0, 0.5, 2.0));
    check(&x, 16000, -9.4358);
}

#[test]
fn speech_matches_pyloudnorm() {
    check(&apm_common::speech(16000), 16000, -22.9122);
    check(&apm_common::speech(8000), 8000, -26.2069);
}

#[test]
fn silence_has_no_integrated_loudness_and_short_term_tracks() {
    assert!(integrated_loudness(&vec![0.0; 16000], 16000).is_none());
    let mut m = LoudnessMeter::new(16000);
    m.push(&vec![0.0; 16000]);
    assert!(m.integrated().is_none());
    m.push(&sine(16000, 1000.0, 0.5, 3.0));
    // A 1 kHz sine of amplitude 0.5 is about -9.07 LUFS; the 400 ms window holds only sine.
    assert!((m.momentary() + 9.07).abs() < 0.15, "{}", m.momentary());
    assert!((m.short_term() + 9.07).abs() < 0.15, "{}", m.short_term());
}
