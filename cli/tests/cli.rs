//! The `rvoip-media` binary end to end: outputs checked against independent references.

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{bin, read_i16, tmp, write_i16};

/// Deterministic loud test signal (full-scale uniform), so sums clip often.
fn signal(n: usize, seed: u64) -> Vec<i16> {
    let mut s = rvoip_media_graph::SplitMix64::new(seed);
    (0..n).map(|_| (s.next_u64() >> 48) as u16 as i16).collect()
}

#[test]
fn mix_is_exact_n_minus_one_with_clamping_and_uneven_lengths() {
    let d = tmp("mix");
    let lens = [8000usize, 12345, 801, 20000, 16000];
    let inputs: Vec<Vec<i16>> = lens.iter().enumerate().map(|(i, &n)| signal(n, i as u64 + 1)).collect();
    let mut cmd = bin();
    cmd.arg("mix");
    for (i, x) in inputs.iter().enumerate() {
        let p = d.join(format!("in{i}.wav"));
        write_i16(&p, 8000, x);
        cmd.arg("--in").arg(p);
    }
    let out = d.join("out");
    let st = cmd.arg("--out-dir").arg(&out).status().unwrap();
    assert!(st.success());
    let longest = *lens.iter().max().unwrap();
    let at = |x: &Vec<i16>, k: usize| i32::from(x.get(k).copied().unwrap_or(0));
    let mut clipped = 0;
    for (i, own) in inputs.iter().enumerate() {
        let (rate, y) = read_i16(&out.join(format!("mix_{i:04}.wav")));
        assert_eq!(rate, 8000);
        assert_eq!(y.len(), longest, "every output as long as the longest input");
        for (k, &got) in y.iter().enumerate() {
            let total: i32 = inputs.iter().map(|x| at(x, k)).sum();
            let want = (total - at(own, k)).clamp(-32768, 32767);
            clipped += usize::from(want == 32767 || want == -32768);
            assert_eq!(i32::from(got), want, "participant {i} sample {k}");
        }
    }
    assert!(clipped > 1000, "the test must exercise clamping ({clipped} clipped samples)");
}

#[test]
fn mix_join_and_leave_change_the_room_while_it_runs() {
    let d = tmp("mix-join");
    // Three participants, each a distinct pattern, 1.5 s at 8 kHz.
    let len = 12_000;
    let x: Vec<Vec<i16>> = (0..3)
        .map(|p| (0..len).map(|k| (((k * (p + 3) * 37) % 2001) as i32 - 1000) as i16 * (p as i16 + 1)).collect())
        .collect();
    for (p, xs) in x.iter().enumerate() {
        write_i16(&d.join(format!("in{p}.wav")), 8000, xs);
    }
    let mut cmd = bin();
    cmd.arg("mix");
    for p in 0..3 {
        cmd.arg("--in").arg(d.join(format!("in{p}.wav")));
    }
    let out = cmd
        .args(["--join", "2@0.5", "--leave", "0@1.0", "--leave", "2@1.25"])
        .arg("--out-dir")
        .arg(d.join("out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Who is in the room at sample k: 0 until 1.0 s, 1 always, 2 from 0.5 s to 1.25 s.
    let present = |p: usize, k: usize| match p {
        0 => k < 8000,
        1 => true,
        _ => (4000..10_000).contains(&k),
    };
    for p in 0..3 {
        let (rate, y) = read_i16(&d.join(format!("out/mix_{p:04}.wav")));
        assert_eq!((rate, y.len()), (8000, len), "output {p} keeps the longest input's length");
        for (k, &v) in y.iter().enumerate() {
            let want: i32 = if present(p, k) {
                (0..3).filter(|&q| q != p && present(q, k)).map(|q| i32::from(x[q][k])).sum()
            } else {
                0
            };
            assert_eq!(i32::from(v), want, "output {p} at sample {k}");
        }
    }
    // Bad timelines are refused before any work, in the user's terms.
    let refuse = |args: &[&str], want: &str| {
        let mut cmd = bin();
        cmd.arg("mix");
        for p in 0..2 {
            cmd.arg("--in").arg(d.join(format!("in{p}.wav")));
        }
        let e = cmd.args(args).arg("--out-dir").arg(d.join("bad")).output().unwrap();
        assert!(!e.status.success());
        let msg = String::from_utf8_lossy(&e.stderr);
        assert!(msg.contains(want), "{args:?}: {msg}");
        assert!(!d.join("bad").exists(), "nothing written for {args:?}");
    };
    refuse(&["--join", "5@1"], "--join 5@1: there are 2 inputs, numbered 0 to 1");
    refuse(&["--join", "1"], "--join 1: expected IDX@SECONDS");
    refuse(&["--leave", "0@-2"], "--leave 0@-2: the time must be 0 seconds or later, got -2");
    refuse(&["--join", "1@2", "--leave", "1@1"], "--leave 1@1: participant 1 would leave before it joins");
    refuse(&["--join", "1@1", "--join", "1@2"], "participant 1 already has a --join");
}

#[test]
fn mix_resamples_different_rates_to_the_highest_and_takes_float() {
    let d = tmp("mixrates");
    let a: Vec<i16> = signal(800, 1).iter().map(|v| v / 4).collect();
    write_i16(&d.join("a.wav"), 8000, &a);
    // b: 32-bit float at 16 kHz, so the outputs are float.
    let b: Vec<f32> = (0..1700).map(|i| (i as f32 * 0.01).sin() * 0.25).collect();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(d.join("b.wav"), spec).unwrap();
    for &v in &b {
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
    let o = bin()
        .args(["mix", "--in"])
        .arg(d.join("a.wav"))
        .arg("--in")
        .arg(d.join("b.wav"))
        .arg("--out-dir")
        .arg(d.join("o"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("a.wav: resampled from 8000 Hz to 16000 Hz, the highest input rate"), "{err}");
    let read = |p: &std::path::Path| {
        let mut r = hound::WavReader::open(p).unwrap();
        assert_eq!(r.spec().sample_rate, 16000);
        r.samples::<f32>().map(Result::unwrap).collect::<Vec<f32>>()
    };
    // What a hears is b; what b hears is a resampled (time-aligned), zero after it. (The
    // mixer subtracts each input from the total: within rounding of the exact value.)
    let close = |got: Vec<f32>, want: &[f32]| {
        assert_eq!(got.len(), want.len());
        let worst = got.iter().zip(want).map(|(g, w)| (g - w).abs()).fold(0.0f32, f32::max);
        assert!(worst < 1e-6, "max difference {worst}");
    };
    close(read(&d.join("o/mix_0000.wav")), &b);
    let af: Vec<f32> = a.iter().map(|&v| f32::from(v) / 32768.0).collect();
    let mut want = rvoip_media_nodes::resample::resample_whole(&af, 8000, 16000, 1).unwrap();
    assert_eq!(want.len(), 1600);
    want.resize(1700, 0.0);
    close(read(&d.join("o/mix_0001.wav")), &want);
}

#[test]
fn mix_refuses_a_single_input_and_counts_or_limits_clipping() {
    let d = tmp("mixclip");
    let e = bin().args(["mix", "--in"]).arg(d.join("x.wav")).arg("--out-dir").arg(d.join("o")).output().unwrap();
    assert!(!e.status.success());
    let err = String::from_utf8_lossy(&e.stderr);
    assert!(err.contains("mix needs at least 2 inputs, got 1"), "{err}");
    let inputs: Vec<Vec<i16>> = (0..3).map(|i| signal(4000, i + 11)).collect();
    let mut cmd = bin();
    cmd.arg("mix");
    for (i, x) in inputs.iter().enumerate() {
        let p = d.join(format!("in{i}.wav"));
        write_i16(&p, 8000, x);
        cmd.arg("--in").arg(p);
    }
    let o = cmd.arg("--out-dir").arg(d.join("plain")).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    for i in 0..3 {
        // Beyond full scale: |sum of the others| > 32768.
        let over = (0..4000)
            .filter(|&k| {
                let s: i32 = (0..3).filter(|&j| j != i).map(|j| i32::from(inputs[j][k])).sum();
                s.abs() > 32768
            })
            .count();
        assert!(over > 100, "the test must clip");
        let line = format!(
            "mix_{i:04}.wav: {over} of 4000 samples ({:.3} %) beyond full scale, clipped; --limit avoids it",
            100.0 * over as f64 / 4000.0
        );
        assert!(err.contains(&line), "{line}\n{err}");
    }
    let mut cmd = bin();
    cmd.arg("mix").arg("--limit");
    for i in 0..3 {
        cmd.arg("--in").arg(d.join(format!("in{i}.wav")));
    }
    let o = cmd.arg("--out-dir").arg(d.join("limited")).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("clipped"), "{err}");
    // The ceiling is -1 dBFS: 29204.
    for i in 0..3 {
        let (_, y) = read_i16(&d.join(format!("limited/mix_{i:04}.wav")));
        assert_eq!(y.len(), 4000);
        let peak = y.iter().map(|v| i32::from(*v).abs()).max().unwrap();
        assert!((28000..=29205).contains(&peak), "peak {peak}");
    }
}

#[test]
fn unsupported_wav_format_is_named() {
    let d = tmp("fmt");
    let p = d.join("adpcm.wav");
    // An IMA ADPCM header (format tag 0x0011, 4 bits per sample).
    let mut f = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x11\0\x01\0\x40\x1f\0\0\xa0\x0f\0\0\x00\x01\x04\0".to_vec();
    f.extend_from_slice(b"data\x04\0\0\0\0\0\0\0");
    std::fs::write(&p, f).unwrap();
    let o = bin().args(["process", "--mic"]).arg(&p).arg("--out").arg(d.join("o.wav")).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("adpcm.wav") && err.contains("IMA ADPCM (format tag 0x0011)"), "{err}");
    assert!(
        err.contains("supported: 8, 16, 24 or 32-bit integer PCM, 32 or 64-bit float, 8-bit μ-law or A-law"),
        "{err}"
    );
}

#[test]
fn process_applies_gain_and_keeps_length_rate_and_format() {
    let d = tmp("process");
    let x: Vec<i16> = signal(16_000 + 37, 9).iter().map(|s| s / 4).collect();
    write_i16(&d.join("in.wav"), 16_000, &x);
    let o = bin()
        .args(["process", "--gain", "-6.0206", "--mic"])
        .arg(d.join("in.wav"))
        .arg("--out")
        .arg(d.join("o.wav"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("PROC_SECONDS"));
    let (rate, y) = read_i16(&d.join("o.wav"));
    assert_eq!((rate, y.len()), (16_000, x.len()));
    // -6.0206 dB = x 0.5 (the first quantum ramps from unity).
    for k in 160..x.len() {
        assert!((i32::from(y[k]) - i32::from(x[k]) / 2).abs() <= 1, "sample {k}: {} vs {}", y[k], x[k]);
    }
}

#[test]
fn transcode_pcmu_matches_g191_for_every_input_value() {
    let d = tmp("pcmu");
    let ramp: Vec<i16> = (i16::MIN..=i16::MAX).collect();
    write_i16(&d.join("ramp.wav"), 8000, &ramp);
    let table = include_bytes!("../../nodes/tests/data/g711/pcmu_enc.bin");
    let dec = include_bytes!("../../nodes/tests/data/g711/pcmu_dec.bin");
    let o = bin()
        .args(["transcode", "--codec", "pcmu", "--in"])
        .arg(d.join("ramp.wav"))
        .arg("--out")
        .arg(d.join("o.wav"))
        .arg("--payload-out")
        .arg(d.join("p.bin"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let payload = std::fs::read(d.join("p.bin")).unwrap();
    assert_eq!(payload.len(), 65536);
    let diff = payload.iter().zip(table.iter()).filter(|(a, b)| a != b).count();
    assert_eq!(diff, 0, "payload differs from the G.191 table in {diff} places");
    let (_, y) = read_i16(&d.join("o.wav"));
    for (k, (&code, &got)) in payload.iter().zip(&y).enumerate() {
        let want = i16::from_le_bytes([dec[2 * code as usize], dec[2 * code as usize + 1]]);
        assert_eq!(got, want, "decoded sample {k}");
    }
}

#[test]
fn transcode_refuses_wrong_rate_with_a_clear_error() {
    let d = tmp("pcma16k");
    write_i16(&d.join("in.wav"), 16000, &signal(1600, 3));
    let o = bin()
        .args(["transcode", "--codec", "pcma", "--in"])
        .arg(d.join("in.wav"))
        .arg("--out")
        .arg(d.join("o.wav"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("8000 Hz") && err.contains("16000 Hz"), "{err}");
}

#[test]
fn demo_runs_a_live_room_and_writes_what_each_participant_heard() {
    let d = tmp("demo");
    // From another directory: the speech is built into the binary, not found by path.
    let o = bin()
        .current_dir(std::env::temp_dir())
        .args(["demo", "--participants", "3", "--seconds", "1.5", "--out"])
        .arg(&d)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    // On a loaded machine the room may miss deadlines: then it must say so and exit non-zero.
    assert!(o.status.success() || stderr.contains("demo: the room did not keep up"), "{stdout}\n{stderr}");
    assert!(stdout.contains("cycle p50") && stdout.contains("deadline misses"), "{stdout}");
    assert!(stdout.contains(&format!("recording what each participant hears into {}", d.display())), "{stdout}");
    // Two participants from the start, the third joins at 10 % of the call (as the script
    // says), each with its own codec: every 20 ms packet offered is taken or refused.
    assert!(stdout.contains("p2 joins (opus)") && stdout.contains("mixing at 48000 Hz"), "{stdout}");
    let line = stdout.lines().find(|l| l.starts_with("packets in:")).expect("packets in line");
    let nums: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let (offered, taken, refused) = (nums[0], nums[1], nums[2]);
    assert_eq!(offered, taken + refused, "{line}");
    assert!((2 * 75 + 55..=225).contains(&offered), "{line}");
    if o.status.success() {
        // It succeeds when no audio was lost; a cycle that ended late (a vCPU preempted by its
        // host) only delays audio, and then it says so.
        assert_eq!(refused, 0, "{line}");
        assert!(stdout.contains("; 0 dropped by the room"), "{stdout}");
        assert!(stdout.contains("\n0 deadline misses") || stdout.contains("audio was delayed, none lost"), "{stdout}");
    }
    // p99 is never printed above max.
    for line in stdout.lines().filter(|l| l.contains("cycle p50")) {
        let num = |key: &str| -> f64 {
            let rest = &line[line.find(key).unwrap() + key.len()..];
            rest.split_whitespace().next().unwrap().parse().unwrap()
        };
        assert!(num(" p99 ") <= num(" max ") && num(" p50 ") <= num(" p99 "), "{line}");
    }
    let mut seconds = Vec::new();
    let mut hearing = 0;
    for (i, want_rate) in [8000, 16_000, 48_000].into_iter().enumerate() {
        let (rate, y) = read_i16(&d.join(format!("participant_{i:02}.wav")));
        // Each phone records at its codec's rate (PCMU, G.722, Opus).
        assert_eq!(rate, want_rate);
        let energy: f64 = y.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / y.len().max(1) as f64;
        // Whoever has the first turn hears nobody talk meanwhile; the others hear them.
        hearing += usize::from(energy.sqrt() > 100.0);
        seconds.push(y.len() as f64 / f64::from(rate));
    }
    assert!(hearing >= 2, "fewer than two participants heard speech");
    assert!(seconds[0] >= 1.45 && seconds[1] >= 1.45, "{seconds:?}");
    // The late joiner heard only what was said after it joined.
    assert!(seconds[2] < seconds[0] && seconds[2] >= 1.2, "{seconds:?}");
    let svg = std::fs::read_to_string(d.join("room.svg")).unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    for label in ["p0 (PCMU)", "p1 (G722)", "p2 (opus)"] {
        assert!(svg.contains(label), "{label} in {svg}");
    }
}

#[test]
fn bench_validates_and_never_extrapolates_past_the_quantum() {
    let o = bin().args(["bench", "conference", "--legs", "2,50", "--cycles", "20"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .filter(|l| l.starts_with("| 2 ") || l.starts_with("| 50 "))
        .map(|l| l.split('|').map(str::trim).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    let triple = |cell: &str| -> Vec<f64> { cell.split(" / ").map(|v| v.parse().unwrap()).collect() };
    for r in rows {
        // Wall clock and CPU time: p50 <= p99 <= max each.
        for cell in [r[3], r[4]] {
            let t = triple(cell);
            assert!(t.len() == 3 && t[0] <= t[1] && t[1] <= t[2], "{r:?}");
        }
        // The CPU mean per leg lies within the CPU time's range per leg.
        let (cpu, legs) = (triple(r[4]), r[1].parse::<f64>().unwrap());
        let mean: f64 = r[6].parse().unwrap();
        assert!(mean > 0.0 && mean <= cpu[2] * 1000.0 / legs + 1.0, "{r:?}");
        // Missed cycles: the CPU's cycles over the quantum (no partner on one worker); held
        // when at most 1 % of the 20 missed, and only then legs per core.
        let over_cpu: u64 = r[7].split(" / ").nth(1).unwrap().parse().unwrap();
        assert!(r[8].starts_with(&format!("{over_cpu} ({over_cpu} + 0), ")), "{r:?}");
        let held = r[8].ends_with(", held");
        assert_eq!(held, over_cpu == 0, "{r:?}");
        if held && cpu[1] <= 10_000.0 {
            assert!(r[9].parse::<f64>().unwrap() > 0.0, "{r:?}");
        } else {
            assert!(r[9].starts_with('—'), "{r:?}");
        }
    }
}

/// A 6-leg `bench conference` run's silent decodes skipped and encodes per cycle (its row's
/// columns 10 and 11).
fn skipped_and_encodes(args: &[&str]) -> (f64, f64) {
    let o = bin().args(["bench", "conference", "--legs", "6", "--cycles", "30"]).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let row: Vec<&str> = stdout.lines().find(|l| l.starts_with("| 6 ")).unwrap().split('|').map(str::trim).collect();
    (row[10].parse().unwrap(), row[11].parse().unwrap())
}

#[test]
fn bench_bridge_room_skips_silent_decodes_and_shares_encodes() {
    // 6 Opus legs, 1 talker: 5 silent legs skip their decodes; 1 own encode (the talker's
    // N-1 mix) and 1 shared encode per cycle. The same in a kernel room (PCMU: the kernel
    // takes codecs at the room's rate): it selects the talker, skips the silent decodes and
    // shares the listeners' encode too.
    for args in [&["--codec", "opus", "--talkers", "1", "--quantum-ms", "20"][..], &["--kernel", "--talkers", "1"]] {
        let (skipped, encodes) = skipped_and_encodes(args);
        assert_eq!(skipped, 5.0, "{args:?}");
        assert!((1.9..=2.0).contains(&encodes), "{args:?}: {encodes}");
    }
    // Spread over two workers: the shards choose the talker together; silent decodes are
    // skipped there too, and each shard's listeners share its encode: the talker's own and
    // one per shard.
    let (skipped, encodes) = skipped_and_encodes(&["--kernel", "--workers", "2", "--talkers", "1"]);
    assert_eq!(skipped, 5.0);
    assert!((2.9..=3.0).contains(&encodes), "{encodes}");
    let o = bin().args(["bench", "conference", "--quantum-ms", "15"]).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--quantum-ms must be 10 or 20"));
}

/// `bench conference`'s three kinds of room: of nodes, a kernel room, a kernel room over two
/// workers.
const BENCH_ROOMS: [&[&str]; 3] = [&[], &["--kernel"], &["--kernel", "--workers", "2"]];

#[test]
fn bench_grow_reports_the_cycle_in_which_a_full_room_grows() {
    // Each kind of room full at 6 legs: the extra leg doubles its ports, and that cycle is
    // reported.
    for extra in BENCH_ROOMS {
        let o = bin()
            .args(["bench", "conference", "--legs", "6", "--cycles", "20", "--grow"])
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&o.stderr));
        let line = stdout.lines().find(|l| l.starts_with("grow:")).unwrap_or_else(|| panic!("{extra:?}: {stdout}"));
        assert!(line.contains("at measured cycle 10 found the room full: 6 -> 12 ports"), "{extra:?}: {line}");
    }
    let o = bin().args(["bench", "conference", "--talkers", "1", "--grow"]).output().unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("--grow needs a plain room"));
}

/// `--jitter` (a jitter buffer in front of every decoder) and `--ptime 20` (packets of two
/// quanta), each in every kind of room.
#[test]
fn bench_runs_jitter_buffers_and_20_ms_packets_in_every_kind_of_room() {
    for option in [&["--jitter"][..], &["--ptime", "20"]] {
        for extra in BENCH_ROOMS {
            let o = bin()
                .args(["bench", "conference", "--legs", "8", "--cycles", "40"])
                .args(option)
                .args(extra)
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&o.stdout);
            assert!(o.status.success(), "{option:?} {extra:?}: {}", String::from_utf8_lossy(&o.stderr));
            assert!(stdout.lines().any(|l| l.starts_with("| 8 ")), "{option:?} {extra:?}: {stdout}");
        }
    }
}

#[test]
fn bench_churn_accounts_for_every_packet() {
    // 20 legs, 30 measured cycles at 100 joins and leaves per second: one of each a cycle.
    let o = bin().args(["bench", "conference", "--legs", "20", "--cycles", "30", "--churn", "100"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = stdout.lines().find(|l| l.starts_with("churn:")).unwrap_or_else(|| panic!("{stdout}"));
    let after = |key: &str| -> u64 {
        let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
        rest.trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    assert_eq!(after("churn:"), 60, "a join and a leave in each of 30 cycles: {line}");
    // 80 cycles (50 warm-up) of 20 legs fed; all of it sent, nothing dropped or left in use.
    assert_eq!((after("packets fed"), after("refused")), (1600, 0), "{line}");
    assert_eq!(after("sent"), 1600, "{line}");
    assert_eq!((after("drops"), after("errors"), after("packet pool in use")), (0, 0, 0), "{line}");
}
