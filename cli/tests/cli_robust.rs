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

#[test]
fn flags_that_would_be_ignored_are_refused_saying_why() {
    let d = tmp("rob-ignored");
    let input = d.join("in.wav");
    write_i16(&input, 8000, &tone(800));
    let (i, o) = (s(&input), d.join("o.wav"));
    let o = s(&o);
    let cases: [(&[&str], &str); 5] = [
        (
            &["process", "--far", i, "--mic", i, "--out", o],
            "--far would be ignored: it is the echo canceller's far end; add --aec",
        ),
        (&["process", "--ns-level", "low", "--mic", i, "--out", o], "--ns-level would be ignored"),
        (&["process", "--agc-target-lufs", "-20", "--mic", i, "--out", o], "--agc-target-lufs would be ignored"),
        (&["transcode", "--codec", "pcmu", "--seed", "3", "--in", i, "--out", o], "--seed 3 would be ignored"),
        (
            &["transcode", "--codec", "pcmu", "--loss", "0", "--seed", "3", "--in", i, "--out", o],
            "needs --loss above 0",
        ),
    ];
    for (args, want) in cases {
        let e = fails(args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    assert_eq!(listing(&d), ["in.wav"]);
}

#[test]
fn numbers_in_messages_are_the_users_and_negative_values_parse() {
    let d = tmp("rob-numbers");
    let input = d.join("in.wav");
    write_i16(&input, 8000, &tone(800));
    let (i, o) = (s(&input), d.join("o.wav"));
    let o = s(&o);
    let t = |extra: &[&str]| {
        let mut v = vec!["transcode", "--in", i, "--out", o];
        v.extend_from_slice(extra);
        fails(&v)
    };
    let e = t(&["--codec", "opus", "--ptime", "7"]);
    assert!(e.contains("ptime of 7 ms") && e.contains("(supported: 10, 20, 40, 60 ms;"), "{e}");
    // 2.5 and 5 ms are codec ptimes but not whole quanta: not listed, and refused.
    let e = t(&["--codec", "pcmu", "--ptime", "5"]);
    assert!(e.contains("ptime of 5 ms") && e.contains("(supported: 10, 20, 30, 40, 50, 60 ms;"), "{e}");
    assert!(!e.contains("2.5"), "{e}");
    let e = t(&["--codec", "pcmu", "--ptime", "4294968"]);
    assert!(e.contains("ptime of 4294968 ms"), "{e}");
    let e = t(&["--codec", "pcmu", "--ptime", "-20"]);
    assert!(e.contains("ptime of -20 ms"), "{e}");
    let e = t(&["--codec", "pcmu", "--loss", "-5"]);
    assert!(e.contains("--loss must be a percentage in 0..=100, got -5"), "{e}");
    let e = t(&["--codec", "opus", "--bitrate", "-1000"]);
    assert!(e.contains("--bitrate must be 6000..=510000 bit/s, got -1000"), "{e}");
    let e = t(&["--codec", "opus", "--complexity", "11"]);
    assert!(e.contains("--complexity must be 0..=10, got 11"), "{e}");
    let e = t(&["--codec", "pcmu", "--rate", "-8000"]);
    assert!(e.contains("--rate must be one of 8000, 11025, 12000") && e.contains("got -8000"), "{e}");
    let e = fails(&["process", "--agc", "--agc-target-lufs", "-50", "--mic", i, "--out", o]);
    assert!(e.contains("--agc-target-lufs must be -40..=-5 LUFS, got -50"), "{e}");
    let e = fails(&["process", "--gain", "-200", "--mic", i, "--out", o]);
    assert!(e.contains("--gain must be -96..=40 dB, got -200"), "{e}");
    let e = fails(&["resample", "--rate", "-5", "--in", i, "--out", o]);
    assert!(e.contains("got -5"), "{e}");
    let e = fails(&["bench", "conference", "--legs", "0"]);
    assert!(e.contains("--legs: a room needs at least 1 leg, got 0"), "{e}");
    let e = fails(&["bench", "conference", "--cycles", "0"]);
    assert!(e.contains("--cycles must be at least 1, got 0"), "{e}");
    let e = fails(&["bench", "conference", "--churn", "-1"]);
    assert!(e.contains("--churn must be 0..=10000 per second, got -1"), "{e}");
    let e = fails(&["bench", "conference", "--ptime", "15"]);
    assert!(e.contains("--ptime must be 1 to 12 quanta of 10 ms, got 15"), "{e}");
    let e = fails(&["demo", "--seconds", "-1"]);
    assert!(e.contains("--seconds must be in (0, 3600], got -1"), "{e}");
    assert_eq!(listing(&d), ["in.wav"]);
}

#[test]
fn rates_a_graph_cannot_run_at_are_refused_early_in_user_terms() {
    let d = tmp("rob-rates");
    let o = d.join("o.wav");
    let o = s(&o);
    for rate in [1u32, 11_111, 300_000] {
        let p = d.join(format!("r{rate}.wav"));
        write_i16(&p, rate, &tone(rate.max(100) as usize));
        let i = s(&p);
        for args in [
            vec!["process", "--ns", "--mic", i, "--out", o],
            vec!["transcode", "--codec", "pcmu", "--rate", "8000", "--in", i, "--out", o],
            vec!["mix", "--in", i, "--in", i, "--out-dir", o],
        ] {
            let e = fails(&args);
            assert!(
                e.contains(&format!("r{rate}.wav: the file is at {rate} Hz"))
                    && e.contains("works in 10 ms frames, so it needs a multiple of 100 Hz"),
                "{args:?}: {e}"
            );
            assert!(!e.contains("graph:") && !e.contains("in.out"), "no internal wording: {e}");
        }
    }
}

/// Amplitude of the `freq` Hz component of `x` (a single-bin DFT, as a peak amplitude).
fn amplitude_at(x: &[f32], rate: u32, freq: f64) -> f64 {
    let w = std::f64::consts::TAU * freq / f64::from(rate);
    let (re, im) = x.iter().enumerate().fold((0.0, 0.0), |(re, im), (i, &v)| {
        (re + f64::from(v) * (w * i as f64).cos(), im - f64::from(v) * (w * i as f64).sin())
    });
    2.0 * (re * re + im * im).sqrt() / x.len() as f64
}

/// Files at 11 025 and 22 050 Hz (the old "CD fractions") run through every file command: the
/// graphs convert them to 12 000 / 24 000 Hz (said on stderr), `resample` converts them to any
/// rate; the tone comes out at its frequency and level, at the length the rates imply.
#[test]
fn files_at_11025_and_22050_hz_are_converted_and_said() {
    let d = tmp("rob-cdrates");
    for (rate, graph) in [(11_025u32, 12_000u32), (22_050, 24_000)] {
        let n = rate as usize * 2;
        let x: Vec<i16> = (0..n)
            .map(|i| ((i as f64 * std::f64::consts::TAU * 1000.0 / f64::from(rate)).sin() * 8000.0) as i16)
            .collect();
        let p = d.join(format!("in{rate}.wav"));
        write_i16(&p, rate, &x);
        let o = d.join(format!("out{rate}.wav"));
        let mix_dir = d.join(format!("mix{rate}"));
        let said = format!("in{rate}.wav: resampled from {rate} Hz to {graph} Hz");
        for args in [
            vec!["process", "--gain", "-6", "--mic", s(&p), "--out", s(&o)],
            vec!["transcode", "--codec", "pcmu", "--rate", "8000", "--in", s(&p), "--out", s(&o)],
        ] {
            let e = succeeds(&args);
            assert!(e.contains(&said), "{args:?}: {e}");
            let (out_rate, y) = read_i16(&o);
            assert_eq!(out_rate, graph, "{args:?}");
            let want = n as u64 * u64::from(graph) / u64::from(rate);
            assert!((y.len() as u64).abs_diff(want) <= 1, "{args:?}: {} samples, want {want}", y.len());
            let y: Vec<f32> = y[graph as usize / 4..graph as usize * 7 / 4].iter().map(|&v| f32::from(v)).collect();
            // process: exactly -6 dB; transcode: through 8 kHz μ-law (quantisation noise only).
            let (gain, tol) = if args[0] == "process" { (0.5012, 0.01) } else { (1.0, 0.03) };
            let a = amplitude_at(&y, graph, 1000.0);
            assert!((a / (8000.0 * gain) - 1.0).abs() < tol, "{args:?}: 1 kHz at {a:.1}");
        }
        let e = succeeds(&["mix", "--in", s(&p), "--in", s(&p), "--out-dir", s(&mix_dir)]);
        assert!(e.contains("the nearest rate that divides into 10 ms frames"), "{e}");
        assert_eq!(read_i16(&mix_dir.join("mix_0000.wav")).0, graph);
        let r = d.join(format!("r{rate}.wav"));
        succeeds(&["resample", "--in", s(&p), "--rate", "16000", "--out", s(&r)]);
        let (out_rate, y) = read_i16(&r);
        assert_eq!((out_rate, y.len() as u64), (16_000, (n as u64 * 16_000).div_ceil(u64::from(rate))));
    }
}

/// A WAV file's bytes: format `tag` (1 PCM, 3 float, 6 A-law, 7 μ-law), `data` declaring
/// `declared` bytes (default its length).
fn wav_bytes(tag: u16, rate: u32, channels: u16, bits: u16, data: &[u8], declared: Option<u32>) -> Vec<u8> {
    let align = channels * bits / 8;
    let mut v = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
    v.extend_from_slice(&tag.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
    v.extend_from_slice(&align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&declared.unwrap_or(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// Reads a 32-bit float mono WAV.
fn read_f32(path: &Path) -> (u32, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let rate = r.spec().sample_rate;
    (rate, r.samples::<f32>().map(Result::unwrap).collect())
}

#[test]
fn ulaw_and_alaw_wav_files_are_read_through_the_g711_tables() {
    let d = tmp("rob-g711");
    // Every code, so both tables are covered.
    let codes: Vec<u8> = (0..=255u8).cycle().take(800).collect();
    let dec = include_bytes!("../../nodes/tests/data/g711/pcmu_dec.bin");
    for (tag, name) in [(7u16, "mulaw.wav"), (6, "alaw.wav")] {
        let p = d.join(name);
        std::fs::write(&p, wav_bytes(tag, 8000, 1, 8, &codes, None)).unwrap();
        let o = d.join(format!("o-{name}"));
        succeeds(&["process", "--gain", "0", "--mic", s(&p), "--out", s(&o)]);
        let (rate, y) = read_i16(&o);
        assert_eq!((rate, y.len()), (8000, 800));
        if tag == 7 {
            // The ITU-T G.191 μ-law decoder output for each code.
            for (k, (&c, &got)) in codes.iter().zip(&y).enumerate() {
                let want = i16::from_le_bytes([dec[2 * c as usize], dec[2 * c as usize + 1]]);
                assert_eq!(got, want, "sample {k} code {c:#04x}");
            }
        } else {
            // A-law 0xD5 and 0x55 are the two smallest magnitudes (±8); 0xAA / 0x2A full scale.
            assert_eq!((y[0xD5], y[0x55]), (8, -8));
            assert_eq!((y[0xAA], y[0x2A]), (32256, -32256));
        }
    }
}

#[test]
fn wide_float_stereo_and_truncated_files_are_read_and_said() {
    let d = tmp("rob-formats");
    // 24-bit stereo: the output is the channel average as 32-bit float (24 bits kept).
    let l: Vec<i32> = (0..1600).map(|i| (i * 4099) % 8_000_000 - 4_000_000).collect();
    let mut b24 = Vec::new();
    for (i, &v) in l.iter().enumerate() {
        b24.extend_from_slice(&v.to_le_bytes()[..3]);
        b24.extend_from_slice(&(-(i as i32)).to_le_bytes()[..3]);
    }
    let p = d.join("st24.wav");
    std::fs::write(&p, wav_bytes(1, 16000, 2, 24, &b24, None)).unwrap();
    let o = d.join("o24.wav");
    let e = succeeds(&["process", "--gain", "0", "--mic", s(&p), "--out", s(&o)]);
    assert!(e.contains("st24.wav: 2 channels of 24-bit integer PCM mixed down to mono"), "{e}");
    let (rate, y) = read_f32(&o);
    assert_eq!((rate, y.len()), (16000, 1600));
    for (i, (&a, &got)) in l.iter().zip(&y).enumerate() {
        let want = (a as f32 / 8_388_608.0 + (-(i as i32)) as f32 / 8_388_608.0) / 2.0;
        assert_eq!(got, want, "sample {i}");
    }
    // 64-bit float: resampled like any other input.
    let x: Vec<f64> = (0..1600).map(|i| (i as f64 * 0.05).sin() * 0.5).collect();
    let b64: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let p = d.join("f64.wav");
    std::fs::write(&p, wav_bytes(3, 16000, 1, 64, &b64, None)).unwrap();
    let o = d.join("o64.wav");
    succeeds(&["resample", "--in", s(&p), "--rate", "8000", "--out", s(&o)]);
    let (rate, y) = read_f32(&o);
    assert_eq!((rate, y.len()), (8000, 800));
    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    assert_eq!(y, rvoip_media_nodes::resample::resample_whole(&xf, 16000, 8000, 1).unwrap());
    // Truncated: 1000 samples declared, 600 and a half there. Read what is there, warn.
    let pcm: Vec<u8> = tone(601).iter().flat_map(|v| v.to_le_bytes()).take(1201).collect();
    let p = d.join("cut.wav");
    std::fs::write(&p, wav_bytes(1, 8000, 1, 16, &pcm, Some(2000))).unwrap();
    let o = d.join("ocut.wav");
    let e = succeeds(&["process", "--gain", "0", "--mic", s(&p), "--out", s(&o)]);
    assert!(e.contains("cut.wav: truncated: the header declares 1000 samples, the file holds 600"), "{e}");
    assert_eq!(read_i16(&o), (8000, tone(600)));
    // Empty and non-WAV files.
    std::fs::write(d.join("empty.wav"), b"").unwrap();
    let e = fails(&["process", "--mic", s(&d.join("empty.wav")), "--out", s(&d.join("x.wav"))]);
    assert!(e.contains("empty.wav: not a readable WAV file: the file is empty (0 bytes)"), "{e}");
    std::fs::write(d.join("text.wav"), b"hello world").unwrap();
    let e = fails(&["process", "--mic", s(&d.join("text.wav")), "--out", s(&d.join("x.wav"))]);
    assert!(e.contains("text.wav: not a readable WAV file") && e.contains("found \"hell\""), "{e}");
    // A FLAC file under a .wav name: named as such, with the conversion; no output.
    std::fs::write(d.join("song.wav"), b"fLaC\0\0\0\x22\x10\0\x10\0\0\0\0\0").unwrap();
    let e = fails(&["process", "--mic", s(&d.join("song.wav")), "--out", s(&d.join("x.wav"))]);
    assert!(e.contains("it looks like a FLAC file: convert it to WAV first"), "{e}");
    assert!(!d.join("x.wav").exists());
    // RF64, as ffmpeg writes it for long recordings: the sizes come from "ds64".
    let mut rf64 = b"RF64\xff\xff\xff\xffWAVEds64\x1c\0\0\0".to_vec();
    for v in [0u64, 1600, 800] {
        rf64.extend(v.to_le_bytes());
    }
    rf64.extend([0; 4]);
    rf64.extend(&wav_bytes(1, 8000, 1, 16, &[], None)[12..36]); // its "fmt " chunk
    rf64.extend(b"data\xff\xff\xff\xff");
    rf64.extend(tone(800).iter().flat_map(|v| v.to_le_bytes()));
    std::fs::write(d.join("long.wav"), rf64).unwrap();
    let o = d.join("olong.wav");
    succeeds(&["process", "--gain", "0", "--mic", s(&d.join("long.wav")), "--out", s(&o)]);
    assert_eq!(read_i16(&o), (8000, tone(800)));
}

#[test]
fn process_gain_counts_clipping_and_limit_avoids_it() {
    let d = tmp("rob-gainclip");
    let input = d.join("in.wav");
    let x = tone(16_000); // peak 8000
    write_i16(&input, 8000, &x);
    let o = d.join("o.wav");
    // +18 dB: x 7.94, so |x| > 4125 clips.
    let e = succeeds(&["process", "--gain", "18", "--mic", s(&input), "--out", s(&o)]);
    let (_, y) = read_i16(&o);
    let clipped = y.iter().filter(|&&v| v == i16::MAX || v == i16::MIN).count();
    assert!(clipped > 1000, "{clipped}");
    let line = format!("o.wav: {clipped} of 16000 samples");
    assert!(e.contains(&line) && e.contains("beyond full scale, clipped; --limit avoids it"), "{line}\n{e}");
    let e = succeeds(&["process", "--gain", "18", "--limit", "--mic", s(&input), "--out", s(&o)]);
    assert!(!e.contains("clipped"), "{e}");
    let (_, y) = read_i16(&o);
    assert_eq!(y.len(), 16_000);
    let peak = y.iter().map(|v| i32::from(*v).abs()).max().unwrap();
    assert!((28_000..=29_205).contains(&peak), "peak {peak} under the -1 dBFS ceiling");
}

#[test]
fn an_interrupted_run_leaves_no_partial_output() {
    let d = tmp("rob-interrupt");
    let input = d.join("in.wav");
    // 60 s of speech through Opus: long enough to be interrupted mid-run.
    let speech = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/speech_en_16k.wav");
    std::fs::copy(speech, &input).unwrap();
    let child = bin()
        .args(["transcode", "--codec", "opus", "--in", s(&input), "--out", s(&d.join("o.wav"))])
        .arg("--payload-out")
        .arg(d.join("p.bin"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run has created its temporary outputs, then interrupt it.
    let t0 = std::time::Instant::now();
    while listing(&d).len() < 3 && t0.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(listing(&d).iter().any(|n| n.ends_with(".partial")), "{:?}", listing(&d));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let st = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        // The run finished before the signal arrived (a very fast machine): nothing to test.
        return;
    }
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted; no output written"), "{}", stderr(&out));
    assert_eq!(listing(&d), ["in.wav"]);
}

#[test]
fn a_rate_the_codec_does_not_run_at_suggests_the_rate_that_converts_it() {
    let d = tmp("rob-codecrate");
    let o = d.join("o.wav");
    for (rate, codec, want) in [
        (16_000u32, "pcmu", "PCMU does not support a sample rate of 16000 Hz (supported: 8000 Hz); add --rate 8000"),
        (44_100, "opus", "(supported: 8000, 12000, 16000, 24000, 48000 Hz); add --rate 48000"),
        (8_000, "g722", "G722 does not support a sample rate of 8000 Hz (supported: 16000 Hz); add --rate 16000"),
    ] {
        let p = d.join(format!("in{rate}.wav"));
        write_i16(&p, rate, &tone(rate as usize / 10));
        let e = fails(&["transcode", "--codec", codec, "--in", s(&p), "--out", s(&o)]);
        assert!(e.contains(want) && e.contains(&format!("in{rate}.wav")), "{e}");
        // With the suggested --rate it works, at the file's rate and length.
        let r = want.rsplit("--rate ").next().unwrap();
        succeeds(&["transcode", "--codec", codec, "--rate", r, "--in", s(&p), "--out", s(&o)]);
        assert_eq!(read_i16(&o).1.len(), rate as usize / 10);
    }
}

/// Runs the binary with the file-size limit at `kib` KiB and SIGXFSZ ignored, so a write
/// past the limit fails with EFBIG the way a full disk fails with ENOSPC, mid-run.
fn run_with_file_limit(kib: u32, args: &[&str]) -> Output {
    std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("trap '' XFSZ; ulimit -f {kib}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_rvoip-media"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_write_that_fails_mid_run_leaves_no_partial_output() {
    let d = tmp("rob-disk-full");
    let input = d.join("in.wav");
    write_i16(&input, 16_000, &tone(16_000 * 4));
    let out = d.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let wav = out.join("o.wav");
    // process streams its output: the limit is hit after 16 KiB, well into the run.
    let o = run_with_file_limit(16, &["process", "--gain", "-3", "--mic", s(&input), "--out", s(&wav)]);
    assert!(!o.status.success(), "must fail: {}", stderr(&o));
    assert!(stderr(&o).contains("o.wav"), "names the file: {}", stderr(&o));
    assert!(listing(&out).is_empty(), "left behind: {:?}", listing(&out));
    // demo streams what each participant hears: the first file to pass the limit ends it,
    // and the directory it created goes with its files.
    let demo = d.join("demo-out");
    let o = run_with_file_limit(8, &["demo", "--participants", "3", "--seconds", "2", "--out", s(&demo)]);
    assert!(!o.status.success(), "must fail: {}", stderr(&o));
    assert!(stderr(&o).contains("participant_"), "names the file: {}", stderr(&o));
    assert!(!demo.exists(), "left behind: {:?}", listing(&demo));
    // The same runs without the limit succeed.
    succeeds(&["process", "--gain", "-3", "--mic", s(&input), "--out", s(&wav)]);
    assert_eq!(listing(&out), ["o.wav"]);
}

#[test]
fn a_refused_realtime_priority_is_reported_and_the_room_still_runs() {
    // Without CAP_SYS_NICE and with RLIMIT_RTPRIO at 0, SCHED_FIFO is refused (as for an
    // unprivileged user). The engine says so, runs its worker at normal priority, and the
    // demo accounts for every packet.
    if std::process::Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: setpriv (util-linux) is not installed");
        return;
    }
    let d = tmp("rob-rt-refused");
    let out = d.join("demo");
    let o = std::process::Command::new("setpriv")
        .args(["--bounding-set=-sys_nice", "--", "bash", "-c", "ulimit -r 0; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_rvoip-media"))
        .args(["demo", "--participants", "2", "--seconds", "1", "--out", s(&out)])
        .output()
        .unwrap();
    if stderr(&o).starts_with("setpriv:") {
        eprintln!("skipped: setpriv cannot drop CAP_SYS_NICE here: {}", stderr(&o));
        return;
    }
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("normal priority (SCHED_FIFO refused, os error 1)"), "{stdout}");
    // Every packet offered was taken or counted as refused; the run ended with its summary
    // (success, or the deadline-miss verdict a loaded machine can give at normal priority).
    // Two phones (PCMU, G.722), 20 ms packets for a second: 100 offered.
    assert!(stdout.contains("packets in:  100 offered by the phones = "), "{stdout}");
    assert!(o.status.success() || stderr(&o).contains("demo: the room did not keep up"), "{}", stderr(&o));
}
