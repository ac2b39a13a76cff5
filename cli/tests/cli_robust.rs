//! The CLI under bad paths, bad flags and bad files: outputs appear whole or not at all,
//! flag combinations that would be ignored are refused, and errors use the user's terms.

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{bin, read_i16, tmp, write_i16};
use std::path::Path;
use std::process::Output;

/// Runs the binary with `args` (paths as strings).
fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs and expects failure: stderr.
fn fails(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "{args:?} must fail; stderr: {}", stderr(&o));
    stderr(&o)
}

/// Runs and expects success: stderr.
fn succeeds(args: &[&str]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{args:?} must succeed; stderr: {}", stderr(&o));
    stderr(&o)
}

/// The names in `d`, sorted.
fn listing(d: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn tone(n: usize) -> Vec<i16> {
    (0..n).map(|i| ((i as f32 * 0.07).sin() * 8000.0) as i16).collect()
}

#[test]
fn an_unwritable_output_is_refused_before_any_work() {
    let d = tmp("rob-unwritable");
    let input = d.join("in.wav");
    write_i16(&input, 8000, &tone(800));
    let missing = d.join("no/such/dir/o.wav");
    for args in [
        vec!["process", "--gain", "-3", "--mic", s(&input), "--out", s(&missing)],
        vec!["resample", "--in", s(&input), "--rate", "16000", "--out", s(&missing)],
        vec!["transcode", "--codec", "pcmu", "--in", s(&input), "--out", s(&missing)],
    ] {
        let e = fails(&args);
        assert!(e.contains("o.wav") && e.contains("does not exist"), "{args:?}: {e}");
        assert!(!e.contains("PROC_SECONDS"), "no work was done: {e}");
    }
    // A directory given as the output file.
    let e = fails(&["resample", "--in", s(&input), "--rate", "16000", "--out", s(&d)]);
    assert!(e.contains("is a directory"), "{e}");
    // The same file given as two outputs.
    let o = d.join("o.wav");
    let e = fails(&["process", "--mic", s(&input), "--out", s(&o), "--vad-csv", s(&o)]);
    assert!(e.contains("two outputs"), "{e}");
    assert_eq!(listing(&d), ["in.wav"], "nothing left behind");
}

#[test]
fn a_failed_run_leaves_no_partial_output() {
    let d = tmp("rob-partial");
    let input = d.join("in.wav");
    write_i16(&input, 8000, &tone(8000));
    let bad = d.join("bad.wav");
    std::fs::write(&bad, b"RIFF....WAVEjunk").unwrap();
    // transcode: the WAV output is fine but --payload-out cannot be written.
    let e = fails(&[
        "transcode",
        "--codec",
        "pcmu",
        "--in",
        s(&input),
        "--out",
        s(&d.join("o.wav")),
        "--payload-out",
        s(&d.join("missing/p.bin")),
    ]);
    assert!(e.contains("p.bin"), "{e}");
    // process: the CSV could be written but the run fails (a bad far end) after the outputs
    // were created.
    let e = fails(&[
        "process",
        "--aec",
        "--far",
        s(&bad),
        "--mic",
        s(&input),
        "--vad-csv",
        s(&d.join("v.csv")),
        "--out",
        s(&d.join("o.wav")),
    ]);
    assert!(e.contains("bad.wav"), "{e}");
    // mix: one unreadable input; the output directory it would have created is gone too.
    let e = fails(&["mix", "--in", s(&input), "--in", s(&bad), "--out-dir", s(&d.join("mixed"))]);
    assert!(e.contains("bad.wav"), "{e}");
    assert_eq!(listing(&d), ["bad.wav", "in.wav"], "no partial or temporary file is left");
}

#[test]
fn a_successful_run_replaces_the_output_whole() {
    let d = tmp("rob-replace");
    let input = d.join("in.wav");
    let x = tone(1600);
    write_i16(&input, 8000, &x);
    let o = d.join("o.wav");
    std::fs::write(&o, b"old contents").unwrap();
    succeeds(&["process", "--gain", "0", "--mic", s(&input), "--out", s(&o)]);
    assert_eq!(read_i16(&o), (8000, x.clone()));
    // The input may be the output: it is read before the rename.
    succeeds(&["resample", "--in", s(&input), "--rate", "8000", "--out", s(&input)]);
    assert_eq!(read_i16(&input), (8000, x));
    assert_eq!(listing(&d), ["in.wav", "o.wav"]);
}
