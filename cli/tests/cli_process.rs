//! `rvoip-media process` with the voice-processing flags, on the bundled speech: echo
//! cancellation against `--far`, noise suppression, gain control, the VAD CSV, other rates,
//! and inputs the command must refuse or repair.

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{bin, read_i16, tmp, write_i16};
use rvoip_media_nodes::apm::loudness::integrated_loudness;
use std::path::Path;

const SPEECH_16K: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/speech_en_16k.wav");

/// `secs` seconds of the bundled 16 kHz speech starting at `from_s`, as f32.
fn speech(from_s: f32, secs: f32) -> Vec<f32> {
    let (rate, x) = read_i16(Path::new(SPEECH_16K));
    assert_eq!(rate, 16_000);
    let a = (from_s * 16_000.0) as usize;
    x[a..a + (secs * 16_000.0) as usize].iter().map(|&v| f32::from(v) / 32768.0).collect()
}

fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter().map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect()
}

fn to_f32(x: &[i16]) -> Vec<f32> {
    x.iter().map(|&v| f32::from(v) / 32768.0).collect()
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() + 1e-12
}

fn db(a: f64, b: f64) -> f64 {
    10.0 * (a / b).log10()
}

/// Deterministic white noise in [-1, 1).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = rvoip_media_graph::SplitMix64::new(seed);
    (0..n).map(|_| s.bipolar()).collect()
}

/// A room: 48 ms bulk delay, then an exponentially decaying (RT60 ≈ 0.2 s) noise tail of
/// 120 ms, scaled to `gain` overall.
fn room(gain: f32) -> Vec<f32> {
    decaying_room(768, 1920, 3200.0, 77, gain)
}

/// A room response at 16 kHz: `delay` samples of silence, then `len` samples of noise (seed
/// `seed`) decaying by 60 dB over `rt60` samples, scaled to an energy gain of `gain`.
fn decaying_room(delay: usize, len: usize, rt60: f32, seed: u64, gain: f32) -> Vec<f32> {
    let tail = noise(len, seed);
    let mut h = vec![0.0f32; delay];
    h.extend(tail.iter().enumerate().map(|(k, v)| v * (-6.9 * k as f32 / rt60).exp()));
    let norm = h.iter().map(|v| v * v).sum::<f32>().sqrt();
    h.iter().map(|v| v * gain / norm).collect()
}

fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; x.len()];
    for (i, &xv) in x.iter().enumerate() {
        if xv != 0.0 {
            for (k, &hv) in h.iter().enumerate().take(x.len() - i) {
                y[i + k] += xv * hv;
            }
        }
    }
    y
}

/// Runs `process` with `args` and `(flag, path)` pairs: (succeeded, stderr).
fn run(args: &[&str], files: &[(&str, &Path)]) -> (bool, String) {
    let mut c = bin();
    c.arg("process").args(args);
    for (flag, p) in files {
        c.arg(flag).arg(p);
    }
    let o = c.output().unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn run_ok(args: &[&str], files: &[(&str, &Path)]) -> String {
    let (ok, err) = run(args, files);
    assert!(ok, "{args:?}: {err}");
    assert!(err.contains("PROC_SECONDS"), "{err}");
    err
}

fn run_err(args: &[&str], files: &[(&str, &Path)]) -> String {
    let (ok, err) = run(args, files);
    assert!(!ok, "{args:?} should fail");
    err
}

#[test]
fn aec_removes_the_echo_and_keeps_the_near_end_talker() {
    let d = tmp("proc-aec");
    // 0–8 s far-end speech only (echo through the room), 8–12 s near-end speech only.
    let far_talk = speech(0.0, 8.0);
    let near_talk = speech(30.0, 4.0);
    let mut far = far_talk.clone();
    far.resize(12 * 16_000, 0.0);
    let mut mic = convolve(&far, &room(0.5));
    for (m, n) in mic[8 * 16_000..].iter_mut().zip(&near_talk) {
        *m += 0.5 * n;
    }
    write_i16(&d.join("far.wav"), 16_000, &to_i16(&far));
    write_i16(&d.join("mic.wav"), 16_000, &to_i16(&mic));
    run_ok(&["--aec"], &[("--mic", &d.join("mic.wav")), ("--far", &d.join("far.wav")), ("--out", &d.join("o.wav"))]);
    let (rate, y) = read_i16(&d.join("o.wav"));
    assert_eq!((rate, y.len()), (16_000, mic.len()));
    let y = to_f32(&y);
    // Echo return loss enhancement over 4–8 s (after convergence).
    let erle = db(energy(&mic[4 * 16_000..8 * 16_000]), energy(&y[4 * 16_000..8 * 16_000]));
    assert!(erle >= 20.0, "ERLE {erle:.1} dB");
    // The near-end talker passes: level within 3 dB over 8.5–12 s.
    let keep = db(energy(&y[136_000..192_000]), energy(&mic[136_000..192_000]));
    assert!(keep.abs() <= 3.0, "near-end level change {keep:.1} dB");
}

#[test]
fn aec_max_tail_ms_is_checked_and_reaches_the_canceller() {
    let d = tmp("proc-aec-tail");
    // 10 s of far end through a room whose reverberation lasts past the 160 ms filter (20 ms
    // delay, then 400 ms of noise decaying at RT60 0.6 s): the filter, converged, grows.
    let far = speech(0.0, 10.0);
    let mic = convolve(&far, &decaying_room(320, 6400, 9600.0, 78, 0.5));
    write_i16(&d.join("far.wav"), 16_000, &to_i16(&far));
    write_i16(&d.join("mic.wav"), 16_000, &to_i16(&mic));
    let (m, f, o, o160) = (d.join("mic.wav"), d.join("far.wav"), d.join("o.wav"), d.join("o160.wav"));
    let err = run_err(&["--aec-max-tail-ms", "320"], &[("--mic", &m), ("--out", &o)]);
    assert!(err.contains("--aec-max-tail-ms would be ignored"), "{err}");
    let err = run_err(&["--aec", "--aec-max-tail-ms", "2000"], &[("--mic", &m), ("--far", &f), ("--out", &o)]);
    assert!(err.contains("--aec-max-tail-ms must be 160..=1000 ms, got 2000"), "{err}");
    assert!(!o.exists(), "no output file on a refused flag");
    // The default grows up to 320 ms; 160 keeps the tail fixed.
    let o320 = d.join("o320.wav");
    run_ok(&["--aec"], &[("--mic", &m), ("--far", &f), ("--out", &o)]);
    run_ok(&["--aec", "--aec-max-tail-ms", "320"], &[("--mic", &m), ("--far", &f), ("--out", &o320)]);
    run_ok(&["--aec", "--aec-max-tail-ms", "160"], &[("--mic", &m), ("--far", &f), ("--out", &o160)]);
    let ((rate, y), (_, y320), (_, y160)) = (read_i16(&o), read_i16(&o320), read_i16(&o160));
    assert_eq!((rate, y.len()), (16_000, mic.len()));
    assert!(y == y320, "320 ms is the default");
    assert!(y != y160, "the fixed tail reached the canceller");
    // Once grown (after 6 s of far end), the filter cancels more of the long room (measured
    // 40.8 dB against 28.3 dB at 160 ms).
    let late = 8 * 16_000..10 * 16_000;
    let erle = db(energy(&mic[late.clone()]), energy(&to_f32(&y)[late.clone()]));
    let erle160 = db(energy(&mic[late.clone()]), energy(&to_f32(&y160)[late]));
    println!("ERLE 8-10 s: {erle:.1} dB grown, {erle160:.1} dB at 160 ms");
    assert!(erle >= erle160 + 3.0, "ERLE 8-10 s {erle:.1} dB grown, {erle160:.1} dB at 160 ms");
}

#[test]
fn aec_linear_out_writes_the_linear_filters_output_beside_out() {
    let d = tmp("proc-aec-lin");
    // 8 s of far-end speech through the room, near-end speech over 6–8 s.
    let far = speech(0.0, 8.0);
    let echo = convolve(&far, &room(0.5));
    let near: Vec<f32> = speech(30.0, 2.0).iter().map(|v| 0.5 * v).collect();
    let mut mic = echo.clone();
    for (m, n) in mic[6 * 16_000..].iter_mut().zip(&near) {
        *m += n;
    }
    write_i16(&d.join("far.wav"), 16_000, &to_i16(&far));
    write_i16(&d.join("mic.wav"), 16_000, &to_i16(&mic));
    let (m, f, o, l) = (d.join("mic.wav"), d.join("far.wav"), d.join("o.wav"), d.join("lin.wav"));
    // Refused without --aec, and then nothing is written.
    let err = run_err(&[], &[("--mic", &m), ("--out", &o), ("--aec-linear-out", &l)]);
    assert!(err.contains("--aec-linear-out would be ignored"), "{err}");
    assert!(!o.exists() && !l.exists(), "no output file on a refused flag");
    let err = run_err(&["--aec"], &[("--mic", &m), ("--far", &f), ("--out", &o), ("--aec-linear-out", &o)]);
    assert!(err.contains("given as two outputs"), "{err}");
    assert!(!o.exists(), "no output file on a refused run");
    // Written beside --out: same rate and length; --out itself as without the flag.
    let plain = d.join("plain.wav");
    run_ok(&["--aec"], &[("--mic", &m), ("--far", &f), ("--out", &plain)]);
    run_ok(&["--aec"], &[("--mic", &m), ("--far", &f), ("--out", &o), ("--aec-linear-out", &l)]);
    let ((rate, y), (lrate, lin), (_, y0)) = (read_i16(&o), read_i16(&l), read_i16(&plain));
    assert_eq!((rate, y.len()), (16_000, mic.len()));
    assert_eq!((lrate, lin.len()), (16_000, mic.len()));
    assert!(y == y0, "--aec-linear-out changes nothing in --out");
    assert!(lin != y, "the post-filter acted");
    // Aligned with the input: over 4–6 s (converged, far end alone) the linear output is the
    // echo the filter leaves, well under the echo, and the post-filter takes more off it.
    let (y, lin) = (to_f32(&y), to_f32(&lin));
    let span = 4 * 16_000..6 * 16_000;
    let residual: Vec<f32> = span.clone().map(|i| lin[i] - mic[i] + echo[i]).collect();
    let depth = db(energy(&echo[span.clone()]), energy(&residual));
    let post = db(energy(&lin[span.clone()]), energy(&y[span]));
    println!("linear depth 4-6 s {depth:.1} dB, post-filter {post:.1} dB more");
    assert!(depth >= 15.0, "linear depth {depth:.1} dB");
    assert!(post >= 6.0, "post-filter {post:.1} dB");
    // In the double talk (6.5–8 s) the near end passes the linear output at its level.
    let kept = db(energy(&lin[104_000..128_000]), energy(&near[8_000..]));
    println!("near end in the linear output {kept:+.2} dB");
    assert!(kept.abs() <= 1.0, "near-end level in the linear output {kept:+.2} dB");
}

#[test]
fn aec_takes_a_far_end_at_another_rate_and_mixes_a_stereo_one_down() {
    let d = tmp("proc-far-rate");
    let far16 = speech(0.0, 6.0);
    let mic = convolve(&far16, &room(0.5));
    // The far end as an 8 kHz file (every other sample of a band-limited copy is fine here:
    // the speech clip has little energy above 4 kHz).
    let far8: Vec<f32> = rvoip_media_nodes::resample::resample_whole(&far16, 16_000, 8_000, 1).unwrap();
    write_i16(&d.join("far8.wav"), 8_000, &to_i16(&far8));
    write_i16(&d.join("mic.wav"), 16_000, &to_i16(&mic));
    let err = run_ok(
        &["--aec"],
        &[("--mic", &d.join("mic.wav")), ("--far", &d.join("far8.wav")), ("--out", &d.join("o.wav"))],
    );
    assert!(err.contains("resampling --far from 8000 Hz"), "{err}");
    let y = to_f32(&read_i16(&d.join("o.wav")).1);
    assert_eq!(y.len(), mic.len());
    let erle = db(energy(&mic[3 * 16_000..]), energy(&y[3 * 16_000..]));
    assert!(erle >= 12.0, "ERLE with an 8 kHz far end {erle:.1} dB");

    // A stereo far end (the same signal on both channels) is mixed down, said on stderr.
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(d.join("far2.wav"), spec).unwrap();
    for s in to_i16(&far16) {
        w.write_sample(s).unwrap();
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    let err = run_ok(
        &["--aec"],
        &[("--mic", &d.join("mic.wav")), ("--far", &d.join("far2.wav")), ("--out", &d.join("o.wav"))],
    );
    assert!(err.contains("far2.wav: 2 channels of 16-bit integer PCM mixed down to mono"), "{err}");
    let y = to_f32(&read_i16(&d.join("o.wav")).1);
    let erle = db(energy(&mic[3 * 16_000..]), energy(&y[3 * 16_000..]));
    assert!(erle >= 12.0, "ERLE with a stereo far end {erle:.1} dB");
    let err = run_err(&["--aec"], &[("--mic", &d.join("mic.wav")), ("--out", &d.join("o.wav"))]);
    assert!(err.contains("--aec needs --far"), "{err}");
}

#[test]
fn ns_lowers_the_noise_floor_and_keeps_the_speech() {
    let d = tmp("proc-ns");
    // 2 s of noise alone, then 6 s of speech in the same noise (about 10 dB SNR).
    let mut clean = vec![0.0f32; 2 * 16_000];
    clean.extend(speech(0.0, 6.0));
    let s_rms = (energy(&clean[2 * 16_000..]) / (6.0 * 16_000.0)).sqrt() as f32;
    let n: Vec<f32> = noise(clean.len(), 5).iter().map(|v| v * s_rms * 0.316 * 3f32.sqrt()).collect();
    let mic: Vec<f32> = clean.iter().zip(&n).map(|(c, n)| c + n).collect();
    write_i16(&d.join("mic.wav"), 16_000, &to_i16(&mic));
    run_ok(&["--ns"], &[("--mic", &d.join("mic.wav")), ("--out", &d.join("o.wav"))]);
    let y = to_f32(&read_i16(&d.join("o.wav")).1);
    assert_eq!(y.len(), mic.len());
    // Noise alone, after 1 s of learning: at least 10 dB lower.
    let floor = db(energy(&mic[16_000..32_000]), energy(&y[16_000..32_000]));
    assert!(floor >= 10.0, "noise-only attenuation {floor:.1} dB");
    // Speech plus noise: the output keeps the speech (within 3 dB of the clean speech energy).
    let keep = db(energy(&y[32_000..]), energy(&clean[32_000..]));
    assert!(keep.abs() <= 3.0, "speech level change {keep:.1} dB");
    // Levels are ordered: very-high removes more noise than low.
    run_ok(&["--ns", "--ns-level", "low"], &[("--mic", &d.join("mic.wav")), ("--out", &d.join("lo.wav"))]);
    run_ok(&["--ns", "--ns-level", "very-high"], &[("--mic", &d.join("mic.wav")), ("--out", &d.join("vh.wav"))]);
    let lo = to_f32(&read_i16(&d.join("lo.wav")).1);
    let vh = to_f32(&read_i16(&d.join("vh.wav")).1);
    assert!(energy(&vh[16_000..32_000]) < energy(&lo[16_000..32_000]) * 0.5);
    // On its own the default level is very-high (session 27: +0.004 to +0.061 PESQ-WB over high
    // on the kit's NS scenarios and six sets of other talkers).
    assert_eq!(std::fs::read(d.join("o.wav")).unwrap(), std::fs::read(d.join("vh.wav")).unwrap());
    let err = run_err(&["--ns", "--ns-level", "loud"], &[("--mic", &d.join("mic.wav")), ("--out", &d.join("x.wav"))]);
    assert!(err.contains("--ns-level") && err.contains("very-high"), "{err}");
}

#[test]
fn agc_brings_quiet_and_loud_speech_to_the_target_loudness() {
    let d = tmp("proc-agc");
    let x = speech(0.0, 20.0);
    let x_lufs = integrated_loudness(&x, 16_000).unwrap();
    for (level, target) in [(-45.0f64, -23.0f32), (-10.0, -23.0), (-30.0, -16.0)] {
        let g = 10f64.powf((level - x_lufs) / 20.0) as f32;
        let xi: Vec<f32> = x.iter().map(|v| v * g).collect();
        write_i16(&d.join("in.wav"), 16_000, &to_i16(&xi));
        let t = format!("{target}");
        run_ok(&["--agc", "--agc-target-lufs", &t], &[("--mic", &d.join("in.wav")), ("--out", &d.join("o.wav"))]);
        let y = to_f32(&read_i16(&d.join("o.wav")).1);
        // Judge after the first 5 s of adaptation.
        let out = integrated_loudness(&y[5 * 16_000..], 16_000).unwrap();
        assert!((out - f64::from(target)).abs() <= 1.5, "input {level} LUFS → {out:.1} LUFS, target {target}");
        assert!(y.iter().all(|v| v.abs() < 0.999), "clipping at input {level} LUFS");
    }
}

#[test]
fn vad_csv_has_a_row_per_10_ms_and_marks_the_speech() {
    let d = tmp("proc-vad");
    let n_pad = 16_000 + 77;
    let mut x = vec![0.0f32; n_pad];
    let talk = speech(0.0, 5.0);
    x.extend(&talk);
    x.extend(vec![0.0f32; n_pad]);
    let bg = noise(x.len(), 9);
    let x: Vec<f32> = x.iter().zip(&bg).map(|(s, n)| s + 0.001 * n).collect();
    write_i16(&d.join("in.wav"), 16_000, &to_i16(&x));
    let csv = d.join("vad.csv");
    run_ok(&[], &[("--mic", &d.join("in.wav")), ("--vad-csv", &csv), ("--out", &d.join("o.wav"))]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("start_ms,probability,is_speech"));
    let rows: Vec<(u64, f32, u8)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect();
    assert_eq!(rows.len(), x.len().div_ceil(160));
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.0, i as u64 * 10);
        assert!((0.0..=1.0).contains(&r.1));
        assert!(r.2 <= 1);
    }
    let frac = |a: usize, b: usize| rows[a..b].iter().filter(|r| r.2 == 1).count() as f64 / (b - a) as f64;
    let (s0, s1) = (n_pad / 160 + 1, (n_pad + talk.len()) / 160);
    assert!(frac(0, s0 - 1) <= 0.02, "speech marked in the leading silence: {}", frac(0, s0 - 1));
    assert!(frac(s1 + 30, rows.len()) <= 0.02, "speech marked in the trailing silence");
    // The clip itself has pauses; most of it is speech.
    assert!(frac(s0, s1) >= 0.6, "speech share {:.2}", frac(s0, s1));
}

#[test]
fn every_module_runs_at_8_32_and_48_khz() {
    let d = tmp("proc-rates");
    let base = speech(0.0, 4.0);
    for rate in [8_000u32, 32_000, 48_000] {
        let far = rvoip_media_nodes::resample::resample_whole(&base, 16_000, rate, 1).unwrap();
        let h: Vec<f32> = rvoip_media_nodes::resample::resample_whole(&room(0.5), 16_000, rate, 1).unwrap();
        let mic: Vec<f32> = convolve(&far, &h).iter().zip(noise(far.len(), 3)).map(|(e, n)| e + 0.003 * n).collect();
        write_i16(&d.join("far.wav"), rate, &to_i16(&far));
        write_i16(&d.join("mic.wav"), rate, &to_i16(&mic));
        // The echo canceller alone: 2–4 s carry far less echo than the input.
        run_ok(
            &["--aec"],
            &[("--mic", &d.join("mic.wav")), ("--far", &d.join("far.wav")), ("--out", &d.join("o.wav"))],
        );
        let (r, y) = read_i16(&d.join("o.wav"));
        assert_eq!((r, y.len()), (rate, mic.len()));
        let (a, b) = (2 * rate as usize, 4 * rate as usize);
        let erle = db(energy(&mic[a..b]), energy(&to_f32(&y)[a..b]));
        eprintln!("{rate} Hz: ERLE {erle:.1} dB");
        assert!(erle >= 15.0, "{rate} Hz: echo only {erle:.1} dB down");
        // The whole chain with the VAD: right length, one CSV row per 10 ms.
        let csv = d.join("vad.csv");
        run_ok(
            &["--aec", "--ns", "--agc"],
            &[
                ("--mic", &d.join("mic.wav")),
                ("--far", &d.join("far.wav")),
                ("--vad-csv", &csv),
                ("--out", &d.join("o.wav")),
            ],
        );
        let (r, y) = read_i16(&d.join("o.wav"));
        assert_eq!((r, y.len()), (rate, mic.len()));
        let rows = std::fs::read_to_string(&csv).unwrap().lines().count() - 1;
        assert_eq!(rows, mic.len().div_ceil(rate as usize / 100), "{rate} Hz");
    }
}

#[test]
fn non_finite_samples_are_repaired_and_counted() {
    let d = tmp("proc-nan");
    let poison = |mut x: Vec<f32>| {
        for k in (1000..x.len()).step_by(4001) {
            x[k] = f32::NAN;
            x[k + 1] = f32::INFINITY;
            x[k + 2] = f32::NEG_INFINITY;
        }
        x
    };
    let x = poison(speech(0.0, 3.0));
    let far = poison(speech(20.0, 3.0));
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    for (name, sig) in [("mic.wav", &x), ("far.wav", &far)] {
        let mut w = hound::WavWriter::create(d.join(name), spec).unwrap();
        for &v in sig.iter() {
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
    }
    let csv = d.join("vad.csv");
    run_ok(
        &["--aec", "--ns", "--agc"],
        &[
            ("--mic", &d.join("mic.wav")),
            ("--far", &d.join("far.wav")),
            ("--vad-csv", &csv),
            ("--out", &d.join("o.wav")),
        ],
    );
    let mut r = hound::WavReader::open(d.join("o.wav")).unwrap();
    let y: Vec<f32> = r.samples::<f32>().map(Result::unwrap).collect();
    assert_eq!(y.len(), x.len());
    assert!(y.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
    // The output is not silenced wholesale: the near-end speech is still there.
    let keep = db(energy(&y), energy(&speech(0.0, 3.0)));
    assert!(keep > -6.0, "output {keep:.1} dB below the input");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.lines().skip(1).all(|l| !l.contains("NaN") && !l.contains("inf")));
}
