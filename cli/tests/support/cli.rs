//! Helpers for tests that run the `rvoip-media` binary: the command, a scratch directory,
//! and 16-bit mono WAV files in and out.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `rvoip-media` binary built for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rvoip-media"))
}

/// A fresh, empty scratch directory unique to this test process and `name`.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rvoip-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `x` as a 16-bit mono WAV at `rate`.
pub fn write_i16(path: &Path, rate: u32, x: &[i16]) {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in x {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Reads a 16-bit mono WAV: (rate, samples).
pub fn read_i16(path: &Path) -> (u32, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let rate = r.spec().sample_rate;
    (rate, r.samples::<i16>().map(Result::unwrap).collect())
}
