//! Echo cancellation on synthetic rooms: measured ERLE, delay estimation and tracking,
//! double-talk preservation of the near end, echo-path change, all rates, robustness.

mod apm_common;

use apm_common::{convolve, energy, min_mean, rir, run_aec, set_active, speech, sweep, Noise};
use rvoip_media_graph::{NodeHarness, Quantum};
use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec};

struct Scene {
    far: Vec<f32>,
    echo: Vec<f32>,
    near: Vec<f32>,
    noise: Vec<f32>,
}

impl Scene {
    fn mic(&self) -> Vec<f32> {
        (0..self.far.len()).map(|i| self.echo[i] + self.near[i] + self.noise[i]).collect()
    }
}

/// Far end: the 16 kHz recording at -20 dBFS; echo through `h` at -30 dBFS active; white
/// noise at -65 dBFS; no near end.
fn scene(rate: u32, secs: usize, h: &[f32]) -> Scene {
    let src = if rate == 8000 { speech(8000) } else { speech(16000) };
    let mut far = set_active(&src[..16000.min(rate as usize) * secs], rate.min(16000), -20.0);
    if rate > 16000 {
        far = upsample(&far, (rate / 16000) as usize);
    }
    let echo = set_active(&convolve(&far, h), rate, -30.0);
    let noise: Vec<f32> = Noise::new(4).white(far.len()).iter().map(|v| v * 10f32.powf(-65.0 / 20.0)).collect();
    Scene { near: vec![0.0; far.len()], far, echo, noise }
}

/// Ends the far end (and so the echo) at sample `from`.
fn silence_far_from(s: &mut Scene, from: usize) {
    s.echo[from..].fill(0.0);
    s.far[from..].fill(0.0);
}

fn upsample(x: &[f32], k: usize) -> Vec<f32> {
    let y: Vec<f32> = x.iter().flat_map(|v| std::iter::repeat(*v).take(k)).collect();
    (0..y.len()).map(|i| y[i.saturating_sub(k - 1)..=i].iter().sum::<f32>() / k as f32).collect()
}

/// Runs the canceller; returns the output aligned with the input (latency removed) and the
/// delay estimate (ms) after every second.
fn run(cfg: AdvancedAecConfig, mic: &[f32], far: &[f32]) -> (Vec<f32>, Vec<Option<u32>>) {
    let mut delays = Vec::new();
    let out = run_aec(&mut Aec::new(cfg).unwrap(), mic, far, |i, a| {
        if (i + 1) % 100 == 0 {
            delays.push(a.estimated_delay_ms());
        }
    });
    (out, delays)
}

/// `Σ a·b`: with `a` the clean near end, `dot(a, out) / energy(a)` is the near end's gain in
/// the output (its projection), whatever else the output holds.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(p, q)| f64::from(*p) * f64::from(*q)).sum()
}

fn erle(mic: &[f32], out: &[f32], from: usize, to: usize) -> f64 {
    10.0 * (energy(&mic[from..to]) / energy(&out[from..to]).max(1e-20)).log10()
}

#[test]
fn far_end_single_talk_erle_and_delay_estimate() {
    sweep(5, |_| {
        let h = rir(16000, 3200, 0.3, 0.25, 21);
        let s = scene(16000, 20, &h);
        let mic = s.mic();
        let (out, delays) = run(AdvancedAecConfig::new(16000), &mic, &s.far);
        let e = erle(&mic, &out, 16000 * 5, 16000 * 20);
        println!("ERLE 5-20 s: {e:.1} dB, delays {delays:?}");
        assert!(e >= 35.0, "ERLE {e:.1} dB");
        let d = delays[5].expect("a delay estimate after 6 s");
        assert!((190..=220).contains(&d), "estimated {d} ms for 200 ms");
    });
}

#[test]
fn long_bulk_delay_is_found() {
    sweep(5, |_| {
        let h = rir(16000, 8800, 0.2, 0.15, 5); // 550 ms
        let s = scene(16000, 20, &h);
        let mic = s.mic();
        let (out, delays) = run(AdvancedAecConfig::new(16000), &mic, &s.far);
        let d = delays[9].expect("estimate");
        assert!((540..=570).contains(&d), "estimated {d} ms for 550 ms");
        let e = erle(&mic, &out, 16000 * 10, 16000 * 20);
        println!("550 ms: ERLE {e:.1} dB (10-20 s)");
        assert!(e >= 30.0, "ERLE {e:.1} dB");
    });
}

#[test]
fn double_talk_keeps_the_near_end() {
    sweep(5, |_| {
        let h = rir(16000, 1600, 0.3, 0.25, 8);
        let mut s = scene(16000, 24, &h);
        let near_src = set_active(&speech(16000)[16000 * 30..16000 * 40], 16000, -30.0);
        for (i, v) in near_src.iter().enumerate() {
            s.near[16000 * 12 + i] = *v;
        }
        let mic = s.mic();
        let (out, _) = run(AdvancedAecConfig::new(16000), &mic, &s.far);
        let (a, b) = (16000 * 13, 16000 * 22);
        let err = |y: &[f32]| -> f64 { y[a..b].iter().zip(&s.near[a..b]).map(|(p, q)| f64::from(p - q).powi(2)).sum() };
        let snr_in = 10.0 * (energy(&s.near[a..b]) / err(&mic)).log10();
        let snr_out = 10.0 * (energy(&s.near[a..b]) / err(&out)).log10();
        let kept = 10.0 * (energy(&out[a..b]) / energy(&s.near[a..b])).log10();
        println!("double talk: near-end SNR {snr_in:.1} -> {snr_out:.1} dB, level {kept:.1} dB");
        assert!(snr_out > snr_in + 10.0, "{snr_in:.1} -> {snr_out:.1}");
        assert!(kept > -2.0, "near end attenuated by {kept:.1} dB");
    });
}

#[test]
fn echo_path_change_recovers() {
    sweep(5, |_| {
        let h1 = rir(16000, 1600, 0.25, 0.2, 1);
        let h2 = rir(16000, 4000, 0.3, 0.2, 2);
        let s1 = scene(16000, 30, &h1);
        let s2 = scene(16000, 30, &h2);
        let cut = 16000 * 15;
        let mic: Vec<f32> =
            (0..s1.far.len()).map(|i| if i < cut { s1.echo[i] } else { s2.echo[i] } + s1.noise[i]).collect();
        let (out, delays) = run(AdvancedAecConfig::new(16000), &mic, &s1.far);
        let before = erle(&mic, &out, 16000 * 8, cut);
        let after = erle(&mic, &out, cut + 16000 * 4, 16000 * 30);
        let soon = erle(&mic, &out, cut + 16000, cut + 16000 * 3);
        println!(
            "path change: ERLE {before:.1} dB before, {soon:.1} dB 1-3 s after, {after:.1} dB from 4 s after; delays {delays:?}"
        );
        assert!(before > 35.0 && after > 30.0, "{before:.1} / {after:.1}");
        assert!(soon > 15.0, "{soon:.1} dB 1-3 s after the change");
        let d = delays[24].expect("estimate");
        assert!((240..=270).contains(&d), "delay {d} ms after the change to 250 ms");
    });
}

#[test]
fn every_rate_cancels() {
    sweep(5, |_| {
        for rate in [8000u32, 32000, 48000] {
            let h = rir(rate, rate as usize / 10, 0.2, 0.15, 3);
            let s = scene(rate, 12, &h);
            let mic = s.mic();
            let (out, _) = run(AdvancedAecConfig::new(rate), &mic, &s.far);
            let e = erle(&mic, &out, rate as usize * 5, rate as usize * 12);
            println!("{rate} Hz: ERLE {e:.1} dB");
            assert!(e > 30.0, "{rate} Hz: ERLE {e:.1} dB");
        }
    });
}

#[test]
fn silence_dc_square_and_non_finite_input() {
    let mut a = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
    let sq: Vec<f32> = (0..160).map(|i| if (i / 20) % 2 == 0 { 1.0 } else { -1.0 }).collect();
    for k in 0..300 {
        let far: Vec<f32> = match k % 3 {
            0 => sq.clone(),
            1 => vec![0.7; 160],
            _ => vec![0.0; 160],
        };
        let mut mic: Vec<f32> = sq.iter().map(|v| v * 0.9).collect();
        a.process_render_frame(&far);
        a.process_capture_frame(&mut mic);
        assert!(mic.iter().all(|v| v.is_finite() && v.abs() < 4.0));
    }
    assert!(!a.process_render_frame(&[f32::NAN; 160]));
    let mut mic = [f32::INFINITY; 160];
    assert!(!a.process_capture_frame(&mut mic));
    assert!(mic.iter().all(|v| v.is_finite()));
    let mut short = [0.1f32; 100];
    assert!(!a.process_capture_frame(&mut short));

    let node = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
    let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
    h.audio_in_mut(0).fill(f32::NAN);
    h.audio_in_mut(1).fill(0.1);
    assert_eq!(h.run(), 1);
    assert!(h.audio_out(0).iter().all(|v| v.is_finite()));
    h.audio_in_mut(0).fill(0.1);
    assert_eq!(h.run(), 0);
    assert!(Aec::new(AdvancedAecConfig::new(16000).with_tail_ms(10)).is_err());
    assert!(Aec::new(AdvancedAecConfig::new(11_025)).is_err());
}

/// [`Aec::linear_output`] is what it claims, the linear filter's output alone aligned with the
/// output: in a linear room (100 ms bulk delay, RT60 0.3 s, inside the filter) its residual
/// `lin − mic + echo` (the echo the filter leaves, `echo − ŷ`: the noise and the near end cancel
/// out of it) is far under the echo once converged, in far single talk and in double talk; the
/// post-filter acts on it (in far single talk the output is well under it); and in double talk
/// the near end passes it at its level.
#[test]
fn linear_output_is_the_linear_filters_error_aligned_with_the_output() {
    sweep(3, |_| {
        let h = rir(16000, 1600, 0.3, 0.15, 12);
        let mut s = scene(16000, 14, &h);
        let near = set_active(&speech(16000)[16000 * 30..16000 * 34], 16000, -30.0);
        s.near[16000 * 10..].copy_from_slice(&near);
        let mic = s.mic();
        let mut aec = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
        let mut lin = Vec::with_capacity(mic.len());
        let out = run_aec(&mut aec, &mic, &s.far, |_, a| lin.extend_from_slice(a.linear_output()));
        lin.drain(..aec.latency());
        lin.resize(mic.len(), 0.0);
        let db = |a: f64, b: f64| 10.0 * (a / b.max(1e-20)).log10();
        let depth = |a: usize, b: usize| {
            let residual: Vec<f32> = (a..b).map(|i| lin[i] - mic[i] + s.echo[i]).collect();
            db(energy(&s.echo[a..b]), energy(&residual))
        };
        let (fst, dt) = ((16000 * 5, 16000 * 10), (16000 * 11, 16000 * 14));
        let (depth_fst, depth_dt) = (depth(fst.0, fst.1), depth(dt.0, dt.1));
        let post = db(energy(&lin[fst.0..fst.1]), energy(&out[fst.0..fst.1]));
        let near_kept = db(energy(&lin[dt.0..dt.1]), energy(&s.near[dt.0..dt.1]));
        println!(
            "linear depth {depth_fst:.1} dB far single talk, {depth_dt:.1} dB double talk; post-filter \
             {post:.1} dB more in far single talk; near end in the linear output {near_kept:+.2} dB"
        );
        assert!(depth_fst >= 20.0, "linear depth in far single talk {depth_fst:.1} dB");
        assert!(depth_dt >= 15.0, "linear depth in double talk {depth_dt:.1} dB");
        assert!(post >= 6.0, "the post-filter took {post:.1} dB off the linear output");
        assert!(near_kept.abs() <= 1.0, "near end in the linear output {near_kept:+.2} dB");
    });
}

/// With [`AdvancedAecConfig::with_linear_output`] the node's `"linear"` port carries
/// [`Aec::linear_output`] frame by frame (two frames per 20 ms quantum here), and its `"out"` is
/// bit-identical to the plain node's and to the canceller's own output.
#[test]
fn linear_port_carries_the_linear_output_and_leaves_out_unchanged() {
    let h = rir(16000, 800, 0.2, 0.1, 3);
    let s = scene(16000, 4, &h);
    let mic = s.mic();
    let cfg = AdvancedAecConfig::new(16000);
    let mut plain = NodeHarness::new(Box::new(Aec::new(cfg).unwrap()), Quantum::MS_20).unwrap();
    let mut with = NodeHarness::new(Box::new(Aec::new(cfg.with_linear_output(true)).unwrap()), Quantum::MS_20).unwrap();
    assert_eq!(with.spec().outputs.len(), 2);
    let mut aec = Aec::new(cfg).unwrap();
    let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for (m, f) in mic.chunks_exact(320).zip(s.far.chunks_exact(320)) {
        let (mut out, mut lin) = (m.to_vec(), Vec::new());
        for (o, ff) in out.chunks_mut(160).zip(f.chunks(160)) {
            aec.process_render_frame(ff);
            aec.process_capture_frame(o);
            lin.extend_from_slice(aec.linear_output());
        }
        for n in [&mut plain, &mut with] {
            n.audio_in_mut(0).copy_from_slice(m);
            n.audio_in_mut(1).copy_from_slice(f);
            assert_eq!(n.run(), 0);
        }
        assert_eq!(bits(with.audio_out(0)), bits(plain.audio_out(0)));
        assert_eq!(bits(with.audio_out(0)), bits(&out));
        assert_eq!(bits(with.audio_out(1)), bits(&lin));
    }
    // Once converged, the two differ: the post-filter acted.
    assert_ne!(bits(with.audio_out(0)), bits(with.audio_out(1)));
}

#[test]
fn reverberant_room_beyond_the_filter_length() {
    let v = sweep(5, |_| {
        // RT60 0.6 s, response 0.6 s long: most of it lies beyond the 160 ms linear filter and is
        // left to the post-filter's reverberation model.
        let h = rir(16000, 1920, 0.6, 0.6, 11);
        let s = scene(16000, 20, &h);
        let mic = s.mic();
        let (out, _) = run(AdvancedAecConfig::new(16000), &mic, &s.far);
        let early = erle(&mic, &out, 16000 * 3, 16000 * 8);
        let late = erle(&mic, &out, 16000 * 8, 16000 * 20);
        println!("RT60 0.6 s: ERLE {early:.1} dB (3-8 s), {late:.1} dB (8-20 s)");
        assert!(early >= 17.0 && late >= 17.0, "{early:.1} / {late:.1}");
        (early, late)
    });
    // Over ten rooms (session 22): early 18.7-43.6 dB, late 18.4-27.8 dB; realisations 0-4
    // average 32.5 / 23.7 dB.
    let ((_, early), (_, late)) = (min_mean(v.iter().map(|x| x.0)), min_mean(v.iter().map(|x| x.1)));
    assert!(early > 29.0 && late > 22.0, "mean {early:.1} / {late:.1} dB");
}

/// Far-end single talk for 10 s, then 8 s of continuous near-end talk alone (pink noise at
/// -60 dBFS throughout): the near end must come through at its level, and not be learnt as
/// background noise during the long stretch of talk.
#[test]
fn near_end_single_talk_is_kept() {
    sweep(5, |_| {
        let h = rir(16000, 1600, 0.3, 0.25, 8);
        let mut s = scene(16000, 18, &h);
        silence_far_from(&mut s, 16000 * 10);
        let pink = Noise::new(9).pink(s.far.len());
        let g = 10f32.powf(-60.0 / 20.0) / apm_common::rms(&pink);
        s.noise = pink.iter().map(|v| v * g).collect();
        let near_src = set_active(&speech(16000)[16000 * 20..16000 * 28], 16000, -30.0);
        s.near[16000 * 10..].copy_from_slice(&near_src);
        let mic = s.mic();
        // The echo suppressor alone (the denoiser stage trades waveform fidelity for noise
        // reduction: denoiser_stage_removes_noise_and_keeps_the_near_end).
        let (out, _) = run(AdvancedAecConfig::new(16000).with_denoise(None), &mic, &s.far);
        let mut worst = 0.0f64;
        for sec in 10..18 {
            let (a, b) = (16000 * sec, 16000 * (sec + 1));
            let lvl = 10.0 * (energy(&out[a..b]) / energy(&mic[a..b])).log10();
            println!("near end {sec}-{} s: level {lvl:.2} dB", sec + 1);
            worst = worst.min(lvl);
        }
        assert!(worst > -1.0, "near end attenuated by {worst:.2} dB in some second");
        let (a, b) = (16000 * 11, 16000 * 18);
        let err: f64 = out[a..b].iter().zip(&s.near[a..b]).map(|(p, q)| f64::from(p - q).powi(2)).sum();
        let snr = 10.0 * (energy(&s.near[a..b]) / err).log10();
        println!("near-end SNR of the output: {snr:.1} dB");
        assert!(snr > 22.0, "near-end SNR {snr:.1} dB");
    });
}

#[test]
fn bulk_delay_jump_to_half_a_second_is_followed() {
    sweep(5, |_| {
        let h1 = rir(16000, 1600, 0.25, 0.15, 1); // 100 ms
        let h2 = rir(16000, 8000, 0.25, 0.15, 2); // 500 ms
        let s1 = scene(16000, 30, &h1);
        let s2 = scene(16000, 30, &h2);
        let cut = 16000 * 12;
        let mic: Vec<f32> =
            (0..s1.far.len()).map(|i| if i < cut { s1.echo[i] } else { s2.echo[i] } + s1.noise[i]).collect();
        let (out, delays) = run(AdvancedAecConfig::new(16000), &mic, &s1.far);
        println!("delays {delays:?}");
        let before = delays[10].expect("estimate");
        assert!((90..=110).contains(&before), "{before} ms before the jump");
        let after = delays[19].expect("estimate");
        assert!((490..=520).contains(&after), "{after} ms 8 s after the jump to 500 ms");
        let e = erle(&mic, &out, 16000 * 22, 16000 * 30);
        println!("ERLE 10-18 s after the jump: {e:.1} dB");
        assert!(e > 25.0, "ERLE {e:.1} dB after the jump");
    });
}

#[test]
fn silent_far_end_passes_the_near_end_and_silent_mic_stays_silent() {
    sweep(5, |_| {
        // No far end at all: the canceller must not touch near-end speech (beyond the background
        // noise attenuation, which has nothing to do here: no noise).
        let near = set_active(&speech(16000)[..16000 * 6], 16000, -26.0);
        let (out, _) = run(AdvancedAecConfig::new(16000), &near, &vec![0.0; near.len()]);
        let (a, b) = (16000, 16000 * 6);
        let lvl = 10.0 * (energy(&out[a..b]) / energy(&near[a..b])).log10();
        println!("no far end: level {lvl:.2} dB");
        assert!(lvl.abs() < 1.0, "level {lvl:.2} dB");
        // Far end active, digital silence at the microphone: the output stays (near) silent.
        let h = rir(16000, 800, 0.2, 0.1, 4);
        let s = scene(16000, 6, &h);
        let (out, _) = run(AdvancedAecConfig::new(16000), &vec![0.0; s.far.len()], &s.far);
        let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(peak < 1e-3, "peak {peak} from a silent microphone");
    });
}

#[test]
fn proportionate_steps_are_uniform_for_flat_weights_and_favour_strong_partitions() {
    use rvoip_media_nodes::apm::aec::Weights;
    use rvoip_media_nodes::apm::fft::Cpx;
    let mut w = Weights::new(8, 5);
    let mut g = [0.0f32; 8];
    // All zero (start-up): plain PBFDAF.
    w.proportionate_steps(&mut g);
    assert!(g.iter().all(|v| (v - 1.0).abs() < 1e-6), "{g:?}");
    // All energy in partition 2: half the step is spread uniformly (0.5 each), half goes to
    // partition 2 (0.5 + 0.5 * 8 = 4.5); the sum stays at the partition count.
    w.w[2 * 5..3 * 5].fill(Cpx::new(0.3, -0.4));
    w.proportionate_steps(&mut g);
    for (k, v) in g.iter().enumerate() {
        let want = if k == 2 { 4.5 } else { 0.5 };
        assert!((v - want).abs() < 1e-5, "partition {k}: {v}");
    }
    assert!((g.iter().sum::<f32>() - 8.0).abs() < 1e-4);
    // Non-finite weights must not make the steps non-finite.
    w.w[0] = Cpx::new(f32::NAN, 0.0);
    w.proportionate_steps(&mut g);
    assert!(g.iter().all(|v| v.is_finite() && *v >= 0.0), "{g:?}");
}

/// Identifies a sparse 250 ms echo path (energy in the first 40 ms) with the raw PBFDAF on
/// white noise, with and without proportionate steps; returns the echo reduction (dB) over
/// blocks 40..60 (during convergence).
fn identify(proportionate: bool) -> f64 {
    use rvoip_media_nodes::apm::aec::{Adapter, Weights};
    use rvoip_media_nodes::apm::fft::{Cpx, RealFft};
    let (n, parts) = (160usize, 25usize);
    let bins = n + 1;
    let mut h = vec![0.0f32; parts * n];
    let mut rng = Noise::new(11);
    for (i, v) in h.iter_mut().enumerate().take(640) {
        *v = rng.next() * (-(i as f32) / 80.0).exp();
    }
    let x = Noise::new(12).white(70 * n);
    let d = convolve(&x, &h);
    let mut fft = RealFft::new(2 * n);
    let mut w = Weights::new(parts, bins);
    let mut ad = Adapter::new(2 * n, 4);
    let mut hist: Vec<Vec<Cpx>> = vec![vec![Cpx::new(0.0, 0.0); bins]; parts];
    let (mut tb, mut y, mut es) = (vec![0.0f32; 2 * n], vec![Cpx::new(0.0, 0.0); bins], vec![Cpx::new(0.0, 0.0); bins]);
    let (mut yt, mut mu, mut g) = (vec![0.0f32; 2 * n], vec![0.0f32; bins], vec![1.0f32; parts]);
    let (mut ed, mut ee) = (0.0f64, 0.0f64);
    for b in 1..70 {
        hist.rotate_right(1);
        fft.forward(&x[(b - 1) * n..(b + 1) * n], &mut hist[0]);
        w.filter(|k| &hist[k], &mut y);
        fft.inverse(&y, &mut yt);
        let e: Vec<f32> = (0..n).map(|i| d[b * n + i] - yt[n + i]).collect();
        if (40..60).contains(&b) {
            ed += energy(&d[b * n..(b + 1) * n]);
            ee += energy(&e);
        }
        tb[..n].fill(0.0);
        tb[n..].copy_from_slice(&e);
        fft.forward(&tb, &mut es);
        if proportionate {
            w.proportionate_steps(&mut g);
        }
        for f in 0..bins {
            let p: f32 = hist.iter().zip(&g).map(|(s, gk)| gk * s[f].norm_sqr()).sum();
            mu[f] = 0.5 / (p + 1e-3);
        }
        ad.adapt(&mut w, |k| &hist[k], &es, &mu, &g);
    }
    10.0 * (ed / ee.max(1e-20)).log10()
}

#[test]
fn proportionate_steps_speed_up_a_long_filter_on_a_sparse_path() {
    sweep(5, |_| {
        let (uniform, prop) = (identify(false), identify(true));
        println!("echo reduction in blocks 40..60: uniform {uniform:.1} dB, proportionate {prop:.1} dB");
        // Measured: uniform 8.6 dB, proportionate 20.6 dB.
        assert!(prop > uniform + 6.0, "uniform {uniform:.1} dB, proportionate {prop:.1} dB");
    });
}

/// Issue 13's target in a room longer than the 160 ms filter: far-end single talk for 32 s
/// through a room with RT60 0.7 s behind 40 ms (held-out h2 `d40_rh`: 0.69 s, ERLE 35.9 dB over
/// 5-10 s and 24.1 dB over 22-32 s with the tail fixed at 160 ms). With a room-sized tail
/// (`with_max_tail_ms(320)`, module docs 3.) the filter grows to the room, and the late ERLE
/// holds within 3 dB of the early and well above what the fixed tail reaches.
#[test]
fn room_sized_tail_holds_late_erle_in_a_long_room() {
    let v = sweep(3, |_| {
        let h = rir(16000, 640, 0.7, 0.7, 31);
        let s = scene(16000, 32, &h);
        let mic = s.mic();
        let measure = |cfg: AdvancedAecConfig| {
            let mut aec = Aec::new(cfg).unwrap();
            let out = run_aec(&mut aec, &mic, &s.far, |_, _| {});
            let (early, late) = (erle(&mic, &out, 5 * 16000, 10 * 16000), erle(&mic, &out, 22 * 16000, 32 * 16000));
            (early, late, aec.filter_tail_ms())
        };
        let (early, late, tail) = measure(AdvancedAecConfig::new(16000).with_max_tail_ms(320));
        let (f_early, f_late, _) = measure(AdvancedAecConfig::new(16000).with_max_tail_ms(160));
        println!(
            "room-sized tail {tail} ms: ERLE {early:.1} / {late:.1} dB; fixed 160 ms: {f_early:.1} / {f_late:.1} dB"
        );
        assert!(tail > 160, "the filter did not grow: {tail} ms");
        (early, late, f_early, f_late)
    });
    // Session 26: room-sized 20.4 / 30.8 dB, fixed 19.5 / 18.7 dB (means of realisations 0-2).
    // Growing at once where the tail decays, with the 400 ms sustained hangover (both with the
    // tail on, since session 26): room-sized 23.5 / 43.2 dB, fixed 20.5 / 19.1 dB.
    let mean = |f: fn(&(f64, f64, f64, f64)) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let (early, late, f_early, f_late) = (mean(|x| x.0), mean(|x| x.1), mean(|x| x.2), mean(|x| x.3));
    println!("mean: room-sized {early:.1} / {late:.1} dB, fixed {f_early:.1} / {f_late:.1} dB");
    assert!(late >= early - 3.0, "late {late:.1} dB more than 3 dB under early {early:.1} dB");
    assert!(late >= f_late + 6.0, "late {late:.1} dB, fixed tail {f_late:.1} dB");
}

#[test]
fn tail_250_ms_cancels_a_reverberant_room() {
    sweep(5, |_| {
        // RT60 0.4 s room (its response extends well beyond 160 ms) behind a 50 ms bulk delay.
        let h = rir(16000, 800, 0.4, 0.5, 21);
        let s = scene(16000, 12, &h);
        let mic = s.mic();
        let (out, _) = run(AdvancedAecConfig::new(16000).with_tail_ms(250), &mic, &s.far);
        let e = erle(&mic, &out, 6 * 16000, 12 * 16000);
        println!("250 ms filter ERLE {e:.1} dB");
        assert!(e > 25.0, "{e:.1} dB");
    });
}

#[test]
fn near_end_detector_flags_near_speech_not_echo() {
    sweep(5, |_| {
        // 0-8 s far-end single talk, 8-14 s near-end single talk (far end silent).
        let h = rir(16000, 1600, 0.3, 0.25, 8);
        let mut s = scene(16000, 14, &h);
        for v in s.echo[16000 * 8..].iter_mut().chain(s.far[16000 * 8..].iter_mut()) {
            *v = 0.0;
        }
        s.near[16000 * 8..].copy_from_slice(&set_active(&speech(16000)[16000 * 20..16000 * 26], 16000, -30.0));
        let mic = s.mic();
        let (mut far_st, mut near_st) = (0usize, 0usize);
        run_aec(&mut Aec::new(AdvancedAecConfig::new(16000)).unwrap(), &mic, &s.far, |i, a| {
            if (400..800).contains(&i) && a.near_end_active() {
                far_st += 1;
            }
            if (800..1400).contains(&i) && a.near_end_active() {
                near_st += 1;
            }
        });
        println!("near-end flag: {far_st}/400 blocks in far single talk, {near_st}/600 in near single talk");
        assert!(far_st < 40, "{far_st}/400 far-end blocks flagged as near end");
        assert!(near_st > 300, "only {near_st}/600 near-end blocks flagged");
    });
}

/// Echo at -20 dBFS through a room of RT60 0.6 s (beyond the 160 ms filter), the near end at
/// -30 dBFS from 12 s to 22 s; returns the scene and the echo suppressor's output (no denoiser).
fn loud_echo_double_talk() -> (Scene, Vec<f32>) {
    let h = rir(16000, 480, 0.6, 0.6, 11);
    let mut s = scene(16000, 24, &h);
    s.echo = set_active(&convolve(&s.far, &h), 16000, -20.0);
    let near_src = set_active(&speech(16000)[16000 * 30..16000 * 40], 16000, -30.0);
    s.near[16000 * 12..16000 * 22].copy_from_slice(&near_src);
    let mic = s.mic();
    let (out, _) = run(AdvancedAecConfig::new(16000).with_denoise(None), &mic, &s.far);
    (s, out)
}

#[test]
fn double_talk_with_loud_echo_keeps_near_end_words() {
    let v = sweep(5, |_| {
        // Echo 10 dB above the near end (-20 vs -30 dBFS): in double talk the post-filter's
        // gain floor (-10 dB while the near end is detected) bounds what it takes from the near
        // end. Measured per 20 ms window as the near end's projection gain in the output.
        // A reverberant room (RT60 0.6 s) whose response extends far beyond the 160 ms linear
        // filter: the residual echo left to the post-filter is comparable to the near end.
        // The echo suppressor alone: this is about holes cut by residual-echo suppression.
        let (s, out) = loud_echo_double_talk();
        // Near-end gain per 20 ms window with near-end speech; deep ones are holes in words.
        let win = 320;
        let avg = energy(&s.near[16000 * 13..16000 * 22]) / (9 * 16000 / win) as f64;
        let mut gains = Vec::new();
        for w in (16000 * 13..16000 * 22).step_by(win) {
            let (n, o) = (&s.near[w..w + win], &out[w..w + win]);
            let nn = energy(n);
            if nn < 0.3 * avg {
                continue;
            }
            let no = dot(n, o);
            gains.push(10.0 * (no.max(1e-12) / nn).log10() * 2.0);
        }
        gains.sort_by(|a, b| a.total_cmp(b));
        let (p5, p10) = (gains[gains.len() / 20], gains[gains.len() / 10]);
        let mean = gains.iter().sum::<f64>() / gains.len() as f64;
        println!("loud-echo double talk: {} windows, near-end gain mean {mean:.1} dB, 5th / 10th percentile {p5:.1} / {p10:.1} dB", gains.len());
        // Measured: 5th percentile -20.3 dB with the -10 dB double-talk floor, -26.3 dB with the
        // single-talk floor (-30 dB) also applied in double talk; 10th -9.9 vs -10.9 dB.
        assert!(gains.len() >= 100, "{} windows with near-end speech", gains.len());
        assert!(p5 > -23.0 && p10 > -10.5, "near-end windows lose {:.1} / {:.1} dB", -p5, -p10);
        let (a, b) = (16000 * 13, 16000 * 22);
        let err: f64 = out[a..b].iter().zip(&s.near[a..b]).map(|(p, q)| f64::from(p - q).powi(2)).sum();
        let snr_out = 10.0 * (energy(&s.near[a..b]) / err).log10();
        println!("loud-echo double talk: near-end SNR out {snr_out:.1} dB");
        assert!(snr_out > 6.3, "{snr_out:.1} dB");
        snr_out
    });
    // Over ten rooms (session 22): 6.8-9.1 dB; realisations 0-4 average 8.2 dB.
    let (_, mean) = min_mean(v);
    assert!(mean > 7.7, "mean near-end SNR out {mean:.1} dB");
}

/// Loud echo (−20 dBFS, RT60 0.6 s beyond the 160 ms filter, as [`loud_echo_double_talk`]) and,
/// from 12 s to 22 s, a voiced near talker at −30 dBFS: 150 ms syllables every 250 ms, f0 gliding
/// 110 → 180 Hz, harmonics up to 4 kHz falling 6 dB per octave. Through the canceller without
/// its denoiser; returns, per 10 ms block, the near talker's fundamental the post-filter's
/// comb used (`Aec::near_talker_pitch_hz`), and the near talker's gain in the output over
/// 13–22 s (its projection, dB).
fn voiced_near_talker_in_loud_double_talk() -> (Vec<Option<f32>>, f64) {
    let h = rir(16000, 480, 0.6, 0.6, 11);
    let mut s = scene(16000, 24, &h);
    s.echo = set_active(&convolve(&s.far, &h), 16000, -20.0);
    let mut near = vec![0.0f32; 16000 * 10];
    let mut phase = 0.0f32;
    for (i, v) in near.iter_mut().enumerate() {
        let Some(f0) = syllable_f0(i as f32 / 16000.0) else { continue };
        phase += std::f32::consts::TAU * f0 / 16000.0;
        let env = (std::f32::consts::PI * (f0 - 110.0) / 70.0).sin();
        for k in 1..=(4000.0 / f0) as usize {
            *v += env / k as f32 * (k as f32 * phase + k as f32).sin();
        }
    }
    s.near[16000 * 12..16000 * 22].copy_from_slice(&set_active(&near, 16000, -30.0));
    let mic = s.mic();
    let mut pitch = Vec::new();
    let out =
        run_aec(&mut Aec::new(AdvancedAecConfig::new(16000).with_denoise(None)).unwrap(), &mic, &s.far, |_, a| {
            pitch.push(a.near_talker_pitch_hz())
        });
    let (a, b) = (16000 * 13, 16000 * 22);
    let kept = 10.0 * (dot(&s.near[a..b], &out[a..b]).max(1e-20) / energy(&s.near[a..b])).log10();
    (pitch, kept)
}

/// The f0 of [`voiced_near_talker_in_loud_double_talk`]'s talker `t` s into its speech: 150 ms
/// syllables every 250 ms gliding 110 → 180 Hz, `None` between them.
fn syllable_f0(t: f32) -> Option<f32> {
    let ph = (t % 0.25) / 0.15;
    (ph < 1.0).then_some(110.0 + 70.0 * ph)
}

/// [`voiced_near_talker_in_loud_double_talk`]: in double talk the post-filter reads the near
/// talker's pitch from the error (`postfilter::DT_PITCH_CORRELATION`) and keeps more of it on
/// that pitch's harmonics. Over realisations 0–9 the comb was on in 206–253 of the 432 blocks
/// whose last 30 ms lie inside a syllable (13–22 s), its fundamental always within 4 % of the
/// talker's f0 there; it was on in 2–9 blocks of the talker's gaps (mostly a syllable's last
/// samples still in the two blocks' window) and in 0–7 blocks of the far end's single talk
/// (5–12 s, loud reverberant echo). The talker is kept at −1.03…−1.26 dB (realisations 0–4
/// without the comb: −1.09…−1.25; its harmonics stand well over the residual echo here, so the
/// comb moves it little — the recorded-talker sets are where it counts).
#[test]
fn double_talk_reads_the_near_talkers_pitch_for_its_harmonics() {
    sweep(5, |_| {
        let (pitch, kept) = voiced_near_talker_in_loud_double_talk();
        let (mut on, mut right, mut inside, mut stray, mut far) = (0, 0, 0, 0, 0);
        for (i, p) in pitch.iter().enumerate().take(2200).skip(500) {
            let t = (i + 1) as f32 * 0.01 - 12.0;
            let f0 = [t - 0.03, t].map(|u| if t >= 1.0 { syllable_f0(u) } else { None });
            match (f0, p) {
                ([Some(a), Some(b)], p) => {
                    inside += 1;
                    if let Some(p) = p {
                        on += 1;
                        right += usize::from(*p > 0.96 * a && *p < 1.04 * b);
                    }
                }
                (_, Some(_)) if t < 0.0 => far += 1,
                ([None, None], Some(_)) if t >= 1.0 => stray += 1,
                _ => {}
            }
        }
        println!("near talker's pitch: on in {on} of {inside} syllable blocks, {right} right; {stray} in the gaps, {far} in the far end's single talk; kept {kept:.2} dB");
        assert!(on * 10 > inside * 4, "the comb on in {on} of {inside} syllable blocks");
        assert!(right + 2 >= on, "{right} of {on} pitches within 4 %");
        assert!(stray <= 12 && far <= 10, "the comb on in {stray} gap and {far} far-end blocks");
        assert!(kept > -1.5, "the near talker kept at {kept:.2} dB");
    });
}

/// Where the near end starts (12 s) and where the echo path (and bulk delay, 100 -> 150 ms)
/// changes (15 s), in samples at 16 kHz.
const DOUBLE_TALK_FROM: usize = 16000 * 12;
const PATH_CHANGE_AT: usize = 16000 * 15;

/// 30 s of far end; the echo path changes at `PATH_CHANGE_AT`, 3 s into 12 s of near end.
struct PathChangeInDoubleTalk {
    far: Vec<f32>,
    echo: Vec<f32>,
    noise: Vec<f32>,
    /// The near end alone, from `DOUBLE_TALK_FROM`.
    near: Vec<f32>,
    mic: Vec<f32>,
}

fn path_change_in_double_talk() -> PathChangeInDoubleTalk {
    path_change_in_double_talk_at(PATH_CHANGE_AT)
}

/// `path_change_in_double_talk` with the echo path changing at sample `cut` instead.
fn path_change_in_double_talk_at(cut: usize) -> PathChangeInDoubleTalk {
    let h1 = rir(16000, 1600, 0.25, 0.15, 1);
    let h2 = rir(16000, 2400, 0.3, 0.15, 2);
    let s1 = scene(16000, 30, &h1);
    let s2 = scene(16000, 30, &h2);
    let near = set_active(&speech(16000)[16000 * 30..16000 * 42], 16000, -30.0);
    let echo: Vec<f32> = (0..s1.far.len()).map(|i| if i < cut { s1.echo[i] } else { s2.echo[i] }).collect();
    let mut mic: Vec<f32> = (0..echo.len()).map(|i| echo[i] + s1.noise[i]).collect();
    for (i, v) in near.iter().enumerate() {
        mic[DOUBLE_TALK_FROM + i] += v;
    }
    PathChangeInDoubleTalk { far: s1.far, echo, noise: s1.noise, near, mic }
}

#[test]
fn echo_path_change_during_double_talk_is_relearnt() {
    let v = sweep(5, |_| {
        // The echo path (and bulk delay, 100 -> 150 ms) changes 3 s into 12 s of double talk.
        // Measured 1.2 / 9.1 dB (session 16; 0.5 / 8.0 dB before the foreground followed the
        // background after a restart).
        // With the suppressor off the output is near end + noise + what the linear filter leaves
        // of the echo, so the linear echo reduction can be measured exactly. Before the
        // correlation-based divergence test and the step steered by the previous path this was
        // -1.2 dB in the first 3 s (the filter kept adding its stale prediction: the near end
        // dilutes the error-vs-microphone test) and 4.1 dB in the next 6 s (a fixed start-up step
        // leaves a misadjustment near the near-end level).
        let PathChangeInDoubleTalk { far, echo, noise, near, mic } = path_change_in_double_talk();
        let (cut, dt0, dt1) = (PATH_CHANGE_AT, DOUBLE_TALK_FROM, DOUBLE_TALK_FROM + near.len());
        let cfg = AdvancedAecConfig::new(16000).with_suppression(false, 1.0);
        let (out, _) = run(cfg, &mic, &far);
        let reduction = |a: usize, b: usize| {
            let residual: f64 = (a..b)
                .map(|i| {
                    let r = out[i] - noise[i] - near.get(i - dt0).copied().unwrap_or(0.0);
                    f64::from(r).powi(2)
                })
                .sum();
            10.0 * (energy(&echo[a..b]) / residual.max(1e-20)).log10()
        };
        let (first, rest) = (reduction(cut, cut + 16000 * 3), reduction(cut + 16000 * 3, dt1));
        println!("linear echo reduction after a path change in double talk: {first:.1} dB 0-3 s, {rest:.1} dB 3-9 s");
        assert!(first > -0.5 && rest > 3.8, "{first:.1} dB / {rest:.1} dB");
        rest
    });
    // Over ten realisations (session 22) the restart after the change came 0.73-0.84 s
    // after it in eight and 1.7 s after it in two (0, 4): 0.0-0.3 / 4.4-4.6 dB there,
    // 0.6-3.1 / 8.9-11.0 dB elsewhere; realisations 0-4 averaged 7.5 dB over 3-9 s (7.7 dB
    // once the filters learnt in the far end's pauses, which made realisation 6 late too).
    // With the divergence test's slower tier (both predictions worse than none for 300 ms)
    // realisation 0 restarts 0.83 s after the change: 2.5 / 11.9 dB, the average 9.1 dB.
    let (_, mean) = min_mean(v);
    assert!(mean > 8.4, "mean {mean:.1} dB 3-9 s after the change");
}

#[test]
fn echo_path_change_during_double_talk_is_deep_again_after_it() {
    let v = sweep(5, |_| {
        // The same scene, linear filter only: the echo reduction in the 6 s of far-end single
        // talk after the double talk (24-30 s), against the same file without the near end.
        // Measured 19.5 vs 34.3 dB (session 17): the new path is learnt slowly during the double
        // talk (the near end fills the error that sets the step), and the filter is still
        // recovering after it, at 3-5 dB/s. The issue's target (within 3 dB) is not met; this
        // asserts the present depth so that a change losing depth after double talk fails.
        let PathChangeInDoubleTalk { far, echo, noise, near, mic } = path_change_in_double_talk();
        let dt1 = DOUBLE_TALK_FROM + near.len();
        let cfg = AdvancedAecConfig::new(16000).with_suppression(false, 1.0);
        let quiet: Vec<f32> = (0..echo.len()).map(|i| echo[i] + noise[i]).collect();
        let after = |mic: &[f32]| {
            let (out, _) = run(cfg, mic, &far);
            let residual: f64 = (dt1..far.len()).map(|i| f64::from(out[i] - noise[i]).powi(2)).sum();
            10.0 * (energy(&echo[dt1..]) / residual.max(1e-20)).log10()
        };
        let (with_near, without) = (after(&mic), after(&quiet));
        println!("linear echo reduction 0-6 s after double talk with a path change in it: {with_near:.1} dB (without near end {without:.1} dB)");
        assert!(with_near > 15.3 && without > 32.0, "{with_near:.1} dB vs {without:.1} dB");
        with_near
    });
    // Over ten realisations (session 22): 16.5-20.5 dB (32.7-34.6 dB without near end),
    // the two lowest where the restart came late; realisations 0-4 averaged 18.6 dB (18.2 dB
    // once the filters learnt in the far end's pauses), 18.6 dB with the divergence test's
    // slower tier (realisation 0: 16.9 -> 19.0 dB). With the room-sized tail as the default
    // (session 27) realisations 0-9: 18.95 19.44 19.79 18.92 15.36 18.71 18.09 18.17 18.61 17.28
    // dB (fixed tail 19.02 19.20 19.92 19.21 15.76 19.08 18.10 18.66 19.31 17.80): the filter,
    // restarted at the change, grows 6 s later (200 ms; realisation 4, 240 ms after the near
    // end stopped) while still relearning: -0.7...+0.2 dB over the 6 s.
    let (_, mean) = min_mean(v);
    assert!(mean > 18.4, "mean {mean:.1} dB");
}

/// The near end's gain in `out` (its projection) and how far (dB) it lies above the rest of
/// `out` (echo, noise, distortion).
fn near_over_rest(near: &[f32], out: &[f32]) -> (f64, f64) {
    let gain = dot(near, out) / energy(near);
    let rest: f64 = near.iter().zip(out).map(|(n, o)| (f64::from(*o) - gain * f64::from(*n)).powi(2)).sum();
    (10.0 * (gain * gain * energy(near) / rest.max(1e-20)).log10(), gain)
}

#[test]
fn echo_path_change_during_double_talk_is_suppressed_while_relearnt() {
    sweep(5, |_| {
        // `path_change_in_double_talk` with the post-filter on.
        // Over the 4 s after the change the output is the near end (its projection) plus what
        // else is left, mostly the new path's echo. Until the foreground followed the background
        // after a restart and the post-filter counted the previous path's prediction as residual
        // echo, the foreground stayed near zero through the double talk (its ratio test is
        // diluted by the near end) and so did the post-filter's echo estimate: the near end was
        // 4.3 dB above the rest (6.1 dB after, 8.0 dB since the stale prediction before the
        // restart counts as unexplained echo, session 20), its gain in the output 0.93 (0.91, 0.90).
        let PathChangeInDoubleTalk { far, near, mic, .. } = path_change_in_double_talk();
        let (cut, dt0) = (PATH_CHANGE_AT, DOUBLE_TALK_FROM);
        let (out, _) = run(AdvancedAecConfig::new(16000), &mic, &far);
        let (a, b) = (cut, cut + 16000 * 4);
        let (ratio, gain) = near_over_rest(&near[a - dt0..b - dt0], &out[a..b]);
        println!(
            "path change in double talk, 0-4 s after it: near end {ratio:.1} dB above the rest, near-end gain {gain:.2}"
        );
        assert!(ratio > 5.2 && gain > 0.85, "{ratio:.1} dB, gain {gain:.2}");
    });
}

/// Windowed-sinc low-pass (Blackman, 127 taps), zero-phase (delay compensated).
fn lowpass(x: &[f32], cutoff_hz: f32, rate: f32) -> Vec<f32> {
    let (n, fc) = (127usize, cutoff_hz / rate);
    let m = n / 2;
    let pi = std::f32::consts::PI;
    let taps: Vec<f32> = (0..n)
        .map(|i| {
            let k = i as f32 - m as f32;
            let sinc = if i == m { 2.0 * fc } else { (2.0 * pi * fc * k).sin() / (pi * k) };
            let t = i as f32 / (n - 1) as f32;
            sinc * (0.42 - 0.5 * (2.0 * pi * t).cos() + 0.08 * (4.0 * pi * t).cos())
        })
        .collect();
    let padded: Vec<f32> = x.iter().copied().chain(std::iter::repeat(0.0).take(m)).collect();
    convolve(&padded, &taps)[m..].to_vec()
}

#[test]
fn denoiser_stage_removes_noise_and_keeps_the_near_end() {
    sweep(5, |_| {
        // Far end and echo for 10 s, then 8 s of near-end speech band-limited to 3.5 kHz; white
        // noise 15 dB below the near end's active level throughout (a noisy room with a fan).
        // Above 4.5 kHz the output holds only noise, so the noise left during speech can be
        // measured there.
        let h = rir(16000, 1600, 0.3, 0.25, 8);
        let mut s = scene(16000, 18, &h);
        silence_far_from(&mut s, 16000 * 10);
        let near_src = set_active(&lowpass(&speech(16000)[16000 * 20..16000 * 28], 3500.0, 16000.0), 16000, -30.0);
        s.near[16000 * 10..].copy_from_slice(&near_src);
        s.noise = Noise::new(11).white(s.far.len()).iter().map(|v| v * 10f32.powf(-45.0 / 20.0)).collect();
        let mic = s.mic();
        let (plain, _) = run(AdvancedAecConfig::new(16000).with_denoise(None), &mic, &s.far);
        let (den, _) = run(AdvancedAecConfig::new(16000), &mic, &s.far);
        let high = |x: &[f32]| -> Vec<f32> {
            let lo = lowpass(x, 4500.0, 16000.0);
            x.iter().zip(&lo).map(|(a, b)| a - b).collect()
        };
        let (hp, hd) = (high(&plain), high(&den));
        // 20 ms windows where the clean near end is loud: speech level and high-band noise.
        let peak = s.near.chunks(320).map(energy).fold(0.0f64, f64::max);
        let (mut sn, mut sp, mut sd, mut np, mut nd) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for w in (16000 * 11..16000 * 18).step_by(320) {
            if energy(&s.near[w..w + 320]) > 0.01 * peak {
                sn += energy(&s.near[w..w + 320]);
                sp += energy(&plain[w..w + 320]);
                sd += energy(&den[w..w + 320]);
                np += energy(&hp[w..w + 320]);
                nd += energy(&hd[w..w + 320]);
            }
        }
        let removed = 10.0 * (np / nd.max(1e-20)).log10();
        let (kept_plain, kept) = (10.0 * (sp / sn).log10(), 10.0 * (sd / sn).log10());
        println!("denoiser: noise during speech {removed:.1} dB lower; speech windows {kept_plain:.2} dB without, {kept:.2} dB with it");
        assert!(sn > 0.0 && np > 0.0, "no speech windows");
        assert!(removed > 6.0, "noise during speech only {removed:.1} dB lower");
        assert!(kept > -1.5, "speech windows lose {kept:.2} dB");
    });
}

/// The near end alone after the far end stops, full band, in white noise 20 dB under it (a
/// recorded talker at a headset), through the canceller without its denoiser: the gain of the
/// talker's weak components above 2 kHz in the output (the projection of the clean near end's
/// 2–8 kHz band on the output's) and the noise left in the talker's pauses (20 ms windows 40 dB
/// under the near end's peak), both in dB.
fn near_talker_alone_high_band_and_pauses() -> (f64, f64) {
    let h = rir(16000, 1600, 0.3, 0.25, 8);
    let mut s = scene(16000, 18, &h);
    silence_far_from(&mut s, 16000 * 10);
    let near_src = set_active(&speech(16000)[16000 * 20..16000 * 28], 16000, -30.0);
    s.near[16000 * 10..].copy_from_slice(&near_src);
    s.noise = Noise::new(12).white(s.far.len()).iter().map(|v| v * 10f32.powf(-50.0 / 20.0)).collect();
    let mic = s.mic();
    let (out, _) = run(AdvancedAecConfig::new(16000).with_denoise(None), &mic, &s.far);
    let high = |x: &[f32]| -> Vec<f32> {
        let lo = lowpass(x, 2000.0, 16000.0);
        x.iter().zip(&lo).map(|(a, b)| a - b).collect()
    };
    let (a, b) = (16000 * 11, 16000 * 18);
    let (nh, oh) = (high(&s.near[a..b]), high(&out[a..b]));
    let kept = 10.0 * (dot(&nh, &oh) / energy(&nh)).log10();
    let peak = s.near[a..b].chunks(320).map(energy).fold(0.0f64, f64::max);
    let (mut pn, mut po) = (0.0f64, 0.0f64);
    for w in (a..b).step_by(320) {
        if energy(&s.near[w..w + 320]) < 1e-4 * peak {
            pn += energy(&s.noise[w..w + 320]);
            po += energy(&out[w..w + 320]);
        }
    }
    assert!(pn > 0.0, "no pauses");
    let pause = 10.0 * (po / pn.max(1e-20)).log10();
    println!("near talker alone: 2-8 kHz kept at {kept:.2} dB; pauses {pause:.1} dB under the noise");
    (kept, pause)
}

/// [`near_talker_alone_high_band_and_pauses`]: the post-filter keeps the talker's weak
/// components above 2 kHz at −1.4 dB; it was −1.8 dB before the post-filter's a-priori SNR
/// followed a rising bin inside the talker's region at `DD_ONSET_WEIGHT` (decision-directed
/// weight 0.9 everywhere: a component that follows noise takes several blocks to rise), −1.2 dB
/// with the Wiener gain there instead of session 37's presence-weighted gain. The noise in the
/// talker's pauses stays low (see `near_talker_alone_pauses_are_deeper`).
#[test]
fn near_talker_alone_keeps_its_weak_high_band() {
    sweep(5, |_| {
        let (kept, pause) = near_talker_alone_high_band_and_pauses();
        assert!(kept > -1.5, "the talker's 2-8 kHz band kept at {kept:.2} dB");
        assert!(pause < -15.0, "the noise in the talker's pauses only {pause:.1} dB down");
    });
}

/// [`near_talker_alone_high_band_and_pauses`]: while the near talker is alone the post-filter's
/// gain is weighted by each bin's speech presence against a floor 6 dB under its own (OM-LSA,
/// `postfilter::near_alone_gain`), so the noise in the talker's pauses is −18.2…−19.2 dB under
/// the noise over five realisations, where the Wiener gain left −16.2…−17.3 dB; the talker's
/// weak high band stays within 1.5 dB (above).
#[test]
fn near_talker_alone_pauses_are_deeper() {
    sweep(5, |_| {
        let (_, pause) = near_talker_alone_high_band_and_pauses();
        assert!(pause < -17.8, "the noise in the talker's pauses only {pause:.1} dB down");
    });
}

/// Adds to `s`'s near end from 10 s the voiced talker of
/// [`near_talker_alone_weak_formant_under_white_noise`] (syllables of 150 ms every 250 ms, f0
/// gliding 110–180 Hz, harmonics under 800 Hz 34 dB over the noise in their bins, a formant at
/// 3 kHz of `formant` σ per harmonic), sets white noise of deviation σ (−45 dBFS) and runs the
/// canceller without its denoiser; returns its output.
fn voiced_formant_under_white_noise(s: &mut Scene, formant: f32) -> Vec<f32> {
    let sigma = 10f32.powf(-45.0 / 20.0);
    let (a_low, a_high) = (sigma * 0.2 * 31.6, sigma * formant);
    let (syl, period) = (0.15f32, 0.25f32);
    let mut phase = 0.0f32;
    for (i, v) in s.near[16000 * 10..].iter_mut().enumerate() {
        let t = i as f32 / 16000.0;
        let ph = (t % period) / syl;
        if ph >= 1.0 {
            continue;
        }
        let f0 = 110.0 + 70.0 * ph;
        phase += std::f32::consts::TAU * f0 / 16000.0;
        let env = (std::f32::consts::PI * ph).sin();
        for k in 1..36 {
            let f = k as f32 * f0;
            let a = if f < 800.0 { a_low } else { a_high * (-((f - 3000.0) / 300.0).powi(2)).exp() };
            *v += env * a * (k as f32 * phase + k as f32).sin();
        }
    }
    s.noise = Noise::new(13).white(s.far.len()).iter().map(|v| v * sigma).collect();
    let mic = s.mic();
    run(AdvancedAecConfig::new(16000).with_denoise(None), &mic, &s.far).0
}

/// How much of the clean near end's 2–4 kHz band the output keeps: the projection of `near`'s
/// band on `out`'s, dB.
fn formant_kept(near: &[f32], out: &[f32]) -> f64 {
    let band = |x: &[f32]| -> Vec<f32> {
        let (hi, lo) = (lowpass(x, 4000.0, 16000.0), lowpass(x, 2000.0, 16000.0));
        hi.iter().zip(&lo).map(|(a, b)| a - b).collect()
    };
    let (nb, ob) = (band(near), band(out));
    10.0 * (dot(&nb, &ob).max(1e-20) / energy(&nb)).log10()
}

/// The near end alone after the far end stops: a voiced talker (syllables of 150 ms every
/// 250 ms, f0 gliding 110–180 Hz) whose harmonics under 800 Hz stand 34 dB over white noise
/// in their bins and whose only other component is a weak formant at 3 kHz (±300 Hz), its
/// harmonics at most 4 dB over the noise in theirs (a recorded talker's upper voice band under flat noise), through the
/// canceller without its denoiser. Returns the gain of the formant in the output (the
/// projection of the clean near end's 2–4 kHz band on the output's) and the noise left between
/// the syllables, both in dB.
fn near_talker_alone_weak_formant_under_white_noise() -> (f64, f64) {
    let h = rir(16000, 1600, 0.3, 0.25, 8);
    let mut s = scene(16000, 18, &h);
    silence_far_from(&mut s, 16000 * 10);
    // A sine of amplitude 0.2 σ stands 4 dB over white noise of deviation σ in its bin.
    let out = voiced_formant_under_white_noise(&mut s, 0.2);
    let (a, b) = (16000 * 11, 16000 * 18);
    let kept = formant_kept(&s.near[a..b], &out[a..b]);
    let pause = pauses_db(&s.near[a..b], &s.noise[a..b], &out[a..b]);
    println!("near talker alone under white noise: its weak formant kept at {kept:.2} dB; pauses {pause:.1} dB under the noise");
    (kept, pause)
}

/// [`near_talker_alone_weak_formant_under_white_noise`]'s talker and noise with the far end
/// talking on (double talk 10–18 s, the echo −30 dBFS through a room of RT60 0.3 s) and its
/// formant at 3 kHz three times as loud (13.5 dB over the noise in its bins): the formant kept
/// over 11–18 s (its projection, dB).
fn double_talk_formant_under_white_noise() -> f64 {
    let h = rir(16000, 1600, 0.3, 0.25, 8);
    let mut s = scene(16000, 18, &h);
    // The formant three times the near-alone test's: 13.5 dB over the noise in its bins.
    let out = voiced_formant_under_white_noise(&mut s, 0.6);
    let (a, b) = (16000 * 11, 16000 * 18);
    let kept = formant_kept(&s.near[a..b], &out[a..b]);
    println!("double talk under white noise: the near talker's formant kept at {kept:.2} dB");
    kept
}

/// In double talk a near-talker component under noise rises as fast as when the talker is alone
/// (`postfilter::DT_ONSET_NOISE_RATIO`, session 41): over realisations 0–4 the formant is kept at
/// −2.70 / −2.77 / −2.30 / −2.73 / −2.96 dB (mean −2.69); without the rule −3.12 / −3.21 / −2.73
/// / −3.17 / −3.36 (mean −3.12).
#[test]
fn double_talk_keeps_a_formant_under_white_noise() {
    let v = sweep(5, |_| {
        let kept = double_talk_formant_under_white_noise();
        assert!(kept > -3.05, "the formant kept at {kept:.2} dB");
        kept
    });
    let (_, mean) = min_mean(v);
    assert!(mean > -2.9, "the formant kept at {mean:.2} dB on average");
}

/// The output's energy against the noise's over the near talker's pauses (its 10 ms windows
/// without speech), dB; `near`, `noise` and `out` aligned.
fn pauses_db(near: &[f32], noise: &[f32], out: &[f32]) -> f64 {
    let (mut pn, mut po) = (0.0f64, 0.0f64);
    for ((n, x), o) in near.chunks_exact(160).zip(noise.chunks_exact(160)).zip(out.chunks_exact(160)) {
        if energy(n) == 0.0 {
            pn += energy(x);
            po += energy(o);
        }
    }
    assert!(pn > 0.0, "no pauses");
    10.0 * (po / pn).log10()
}

/// [`near_talker_alone_weak_formant_under_white_noise`]: in a near talker's speech frame (its
/// 300–1000 Hz region well over the noise) the post-filter's region test asks for less below
/// 4 kHz (`postfilter::SPEECH_FRAME_EXCESS`), so the talker's weak formant under flat noise is
/// kept at −6.3…−7.5 dB over five realisations (−6.3…−6.9 dB over realisations 5–9), where the
/// region test alone kept −9.1…−9.8 dB; the noise between the syllables stays as deep
/// (−18.4…−18.7 dB either way).
#[test]
fn near_talker_alone_keeps_its_voice_band_under_white_noise() {
    sweep(5, |_| {
        let (kept, pause) = near_talker_alone_weak_formant_under_white_noise();
        assert!(kept > -8.3, "the talker's weak formant kept at {kept:.2} dB");
        assert!(pause < -17.5, "the noise between the syllables only {pause:.1} dB down");
    });
}

/// The near end alone after the far end stops: a voiced talker (syllables of 150 ms every
/// 350 ms, f0 gliding 110–180 Hz, harmonics under 800 Hz 34 dB over white noise in their bins)
/// whose every syllable trails off in a weak 140 Hz tail (100 ms, decaying from 4 dB over the
/// noise in its bin: a recorded talker's low-band decay under the background), through the
/// canceller without its denoiser. Returns the gain of the tails in the output (the projection
/// of the clean tails under 300 Hz on the output's) and the noise left under 300 Hz where the
/// talker is silent, both in dB.
fn near_talker_alone_low_band_tails_under_noise() -> (f64, f64) {
    let h = rir(16000, 1600, 0.3, 0.25, 8);
    let mut s = scene(16000, 18, &h);
    silence_far_from(&mut s, 16000 * 10);
    let sigma = 10f32.powf(-45.0 / 20.0);
    let (syl, tail, period) = (0.15f32, 0.1f32, 0.35f32);
    let mut phase = 0.0f32;
    let mut tails = vec![0.0f32; s.near.len()];
    for (i, v) in s.near[16000 * 10..].iter_mut().enumerate() {
        let t = i as f32 / 16000.0;
        let u = t % period;
        if u < syl {
            let ph = u / syl;
            let f0 = 110.0 + 70.0 * ph;
            phase += std::f32::consts::TAU * f0 / 16000.0;
            let env = (std::f32::consts::PI * ph).sin();
            for k in 1..8 {
                if k as f32 * f0 < 800.0 {
                    *v += env * sigma * 0.2 * 31.6 * (k as f32 * phase + k as f32).sin();
                }
            }
        } else if u < syl + tail {
            // A sine of amplitude 0.2 σ stands 4 dB over white noise of deviation σ in its bin.
            let x = sigma * 0.2 * (-(u - syl) / 0.04).exp() * (std::f32::consts::TAU * 140.0 * t).sin();
            *v += x;
            tails[16000 * 10 + i] = x;
        }
    }
    s.noise = Noise::new(13).white(s.far.len()).iter().map(|v| v * sigma).collect();
    let mic = s.mic();
    let (out, _) = run(AdvancedAecConfig::new(16000).with_denoise(None), &mic, &s.far);
    let (a, b) = (16000 * 11, 16000 * 18);
    let (tn, to) = (lowpass(&tails[a..b], 300.0, 16000.0), lowpass(&out[a..b], 300.0, 16000.0));
    let mask: Vec<f32> = tails[a..b].iter().map(|&v| if v != 0.0 { 1.0 } else { 0.0 }).collect();
    let to_tails: Vec<f32> = to.iter().zip(&mask).map(|(o, m)| o * m).collect();
    let kept = 10.0 * (dot(&tn, &to_tails).max(1e-20) / energy(&tn)).log10();
    let pause = pauses_db(&s.near[a..b], &lowpass(&s.noise[a..b], 300.0, 16000.0), &to);
    println!("near talker alone: its low-band tails kept at {kept:.2} dB; the noise under 300 Hz in its pauses {pause:.1} dB down");
    (kept, pause)
}

/// [`near_talker_alone_low_band_tails_under_noise`]: while the near talker is alone, the
/// post-filter's floor for the noise under 300 Hz is 6 dB shallower than its floor
/// (`postfilter::LOW_BAND_ABSENCE_FLOOR_SCALE`), not 6 dB deeper as above it: a recorded
/// talker's low-band decays under the background are kept at −4.1…−5.0 dB over five
/// realisations, where the deeper floor kept −6.1…−7.5 dB; the noise there is taken down
/// 11.6–12.6 dB instead of 15.0–17.0.
#[test]
fn near_talker_alone_keeps_its_low_band_tails() {
    sweep(5, |_| {
        let (kept, pause) = near_talker_alone_low_band_tails_under_noise();
        assert!(kept > -5.5, "the talker's low-band tails kept at {kept:.2} dB");
        assert!(pause < -10.0, "the noise under 300 Hz in the talker's pauses only {pause:.1} dB down");
    });
}

/// The evaluation kit's timeline on synthetic rooms: far end alone 0–10 s, near end alone
/// 10–15 s, double talk 15–22 s, far end alone 22–32 s. Far end: the 8 kHz recording
/// (upsampled) from `far_at` s; near end: the 16 kHz one from `near_at` s, paused for the
/// last second before the far end returns and starting again 20 ms after it (an onset in
/// both signals at nearly the same time). Echo and near end -30 dBFS active, pink noise.
fn kit_timeline(
    delay_ms: usize,
    rt60: f32,
    seed: u64,
    far_at: usize,
    near_at: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    kit_timeline_driven(delay_ms, rt60, seed, far_at, near_at, 0.0)
}

/// [`kit_timeline`] through a loudspeaker that saturates at `drive` ([`saturate`]; 0 = linear).
fn kit_timeline_driven(
    delay_ms: usize,
    rt60: f32,
    seed: u64,
    far_at: usize,
    near_at: usize,
    drive: f32,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let fs = 16000;
    let n = 32 * fs;
    let src = upsample(&speech(8000), 2);
    let mut far = vec![0.0f32; n];
    far[..10 * fs].copy_from_slice(&src[far_at * fs..(far_at + 10) * fs]);
    far[15 * fs..].copy_from_slice(&src[(far_at + 10) * fs..(far_at + 27) * fs]);
    let far = set_active(&far, 16000, -20.0);
    let h = rir(16000, delay_ms * 16, rt60, 0.5 * rt60, seed);
    let spk = if drive > 0.0 { saturate(&far, drive) } else { far.clone() };
    let echo = set_active(&convolve(&spk, &h), 16000, -30.0);
    let near_src = set_active(&speech(16000)[near_at * fs..(near_at + 12) * fs], 16000, -30.0);
    let noise = Noise::new(seed + 100).pink(n);
    let mut mic: Vec<f32> = (0..n).map(|i| echo[i] + 10f32.powf(-56.0 / 20.0) * noise[i]).collect();
    let mut near = vec![0.0f32; n];
    for (i, v) in near_src.iter().enumerate() {
        // The near end pauses before the far end returns and starts again 20 ms after it.
        if !(4 * fs..5 * fs + 320).contains(&i) {
            near[10 * fs + i] = *v;
            mic[10 * fs + i] += v;
        }
    }
    (far, mic, near)
}

/// Where the after-double-talk span of [`kit_timeline`] starts: one post-filter frame (20 ms at
/// 16 kHz) after the near end stops at 22 s. The frame that straddles 22 s holds the near
/// talker's last samples at full level, so it is double talk and gets a near-end gain; its
/// overlap-add passes the residual echo of the next 10–15 ms at that gain (session 33, s33dcf:
/// one 5 ms window there held more energy than the no-near-end twin's whole 10 s). Starting the
/// span inside that frame measured the frame, not how deep the canceller returns.
const AFTER_DOUBLE_TALK: usize = 16000 * 22 + 320;

/// The three rooms of the kit's timeline ([`kit_timeline`]: delay ms, RT60 s, seed, far and
/// near sources' start s) on which the step bound's and the residual-echo ratio's tests below
/// were measured: their figures "without" are these rooms', so the two share them.
const MEASURED_ROOMS: [(usize, f32, u64, usize, usize); 3] =
    [(120, 0.3, 31, 120, 40), (60, 0.4, 52, 80, 30), (250, 0.4, 53, 20, 5)];

/// The NLMS step never under the Kalman gain's share (`StepVariance`, session 43): on the kit's
/// timeline ([`kit_timeline`]: pink noise 26 dB under the echo, double talk 15–22 s) the linear
/// filter is deeper in far single talk (5–10 s) and in double talk than with the Valin-style
/// step alone, whose residual-echo estimate fell short of a converging filter's. Measured
/// (5–10 s / double talk, dB): with the bound 23.6 / 24.2, 11.5 / 14.8, 20.5 / 25.7 (mean
/// 20.05); without it 23.1 / 24.0, 11.3 / 14.3, 20.1 / 25.2 (mean 19.67). Every span is deeper
/// with it, and the mean must stay over 19.9. (The lab sets' recorded talkers move more:
/// BENCHMARKS.md, session 43.)
#[test]
fn linear_filter_converges_deeper_with_the_kalman_share_as_the_least_step() {
    let depths = sweep(3, |r| {
        let (delay, rt60, seed, far_at, near_at) = MEASURED_ROOMS[r as usize];
        let (far, mic, near) = kit_timeline(delay, rt60, seed, far_at, near_at);
        let noise = Noise::new(seed + 100).pink(mic.len());
        let echo: Vec<f32> = (0..mic.len()).map(|i| mic[i] - near[i] - 10f32.powf(-56.0 / 20.0) * noise[i]).collect();
        let mut aec = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
        let mut lin = Vec::with_capacity(mic.len());
        run_aec(&mut aec, &mic, &far, |_, a| lin.extend_from_slice(a.linear_output()));
        lin.drain(..aec.latency());
        lin.resize(mic.len(), 0.0);
        let depth = |a: usize, b: usize| {
            let residual: Vec<f32> = (a..b).map(|i| lin[i] - mic[i] + echo[i]).collect();
            10.0 * (energy(&echo[a..b]) / energy(&residual).max(1e-20)).log10()
        };
        let (fst, dt) = (depth(16000 * 5, 16000 * 10), depth(16000 * 15, 16000 * 22));
        println!("{delay} ms, RT60 {rt60}: linear depth {fst:.2} dB far single talk 5-10 s, {dt:.2} dB double talk");
        let without = [(23.1, 24.0), (11.3, 14.3), (20.1, 25.2)][r as usize];
        assert!(fst > without.0 && dt > without.1, "{fst:.2} / {dt:.2} dB, without the bound {without:?}");
        0.5 * (fst + dt)
    });
    let mean = depths.iter().sum::<f64>() / depths.len() as f64;
    println!("mean linear depth {mean:.2} dB");
    assert!(mean > 19.9, "mean linear depth {mean:.2} dB");
}

/// The residual-echo ratio learns no near talker in double talk
/// (`postfilter::RHO_DOUBLE_TALK_COHERENCE`, session 44): on the kit's timeline
/// ([`kit_timeline`]) with the near talker 6 and 12 dB under the echo, the band-wide single-talk
/// test passes in double-talk blocks and, learning there, the ratio took the talker's power for
/// residual echo and the post-filter took the talker down with it. Measured (the talker's gain
/// in the output, its projection, over the double talk 15–22 s, dB; 6 / 12 dB under the echo):
/// with the rule −1.82 / −3.94, −1.69 / −2.67, −1.68 / −2.95 (mean −2.46); without it −2.14 /
/// −4.25, −1.75 / −2.75, −1.88 / −3.16 (mean −2.66). Every figure must be over the one without,
/// and the mean over −2.56; the ERLE after the double talk (35.9–39.0 dB with and without) over
/// 35 dB.
#[test]
fn residual_echo_ratio_does_not_learn_the_near_talker_in_double_talk() {
    let without = [(-2.14, -4.25), (-1.75, -2.75), (-1.88, -3.16)];
    let mean = talker_gain_in_double_talk(MEASURED_ROOMS, without);
    assert!(mean > -2.56, "mean talker's gain {mean:.3} dB");
}

/// The near talker raises the residual-echo ratio by 3 dB at most above 400 Hz in the blocks the
/// near-end detector marks (`postfilter::RHO_DOUBLE_TALK_RISE`, session 46): on the kit's timeline
/// ([`kit_timeline`]) in three other rooms with the near talker 6 and 12 dB under the echo, the
/// talker's gain in the output (its projection) over the double talk 15–22 s, dB, and the ERLE
/// after the double talk. Measured (6 / 12 dB under the echo): with the bound −1.207 / −2.329,
/// −2.021 / −3.398, −1.372 / −2.436 (mean −2.127); without it (the ratio learning as before)
/// −1.385 / −2.471, −2.268 / −3.808, −1.801 / −3.186 (mean −2.486). Every figure must be over the
/// one without (the bars are those figures rounded up), the mean over −2.31 (half way), and the
/// ERLE after the double talk (39.6–44.7 dB with and without) over 35 dB. These rooms were not
/// among those the bound's constants were chosen on.
#[test]
fn near_talker_raises_the_residual_echo_ratio_by_3_db_at_most_above_400_hz() {
    let rooms = [(90, 0.35, 61, 100, 10), (200, 0.45, 62, 40, 35), (40, 0.3, 63, 130, 25)];
    let without = [(-1.38, -2.47), (-2.26, -3.80), (-1.80, -3.18)];
    let mean = talker_gain_in_double_talk(rooms, without);
    assert!(mean > -2.31, "mean talker's gain {mean:.3} dB");
}

/// The near talker's gain in the output (its projection on the output, dB) over the double talk
/// 15–22 s on the kit's timeline ([`kit_timeline`]) in each of `rooms`, with the talker 6 and 12 dB
/// under the echo: each figure over its room's in `without` (the rule under test left out), and
/// the ERLE after the double talk over 35 dB. Returns the mean over the rooms (each room's the
/// mean of its two).
fn talker_gain_in_double_talk(rooms: [(usize, f32, u64, usize, usize); 3], without: [(f64, f64); 3]) -> f64 {
    let gains = sweep(3, |r| {
        let (delay, rt60, seed, far_at, near_at) = rooms[r as usize];
        let (far, mic, near) = kit_timeline(delay, rt60, seed, far_at, near_at);
        let without = without[r as usize];
        let mut g = [0.0f64; 2];
        for (k, scale) in [0.5f32, 0.25].into_iter().enumerate() {
            let mic: Vec<f32> = mic.iter().zip(&near).map(|(m, n)| m - (1.0 - scale) * n).collect();
            let near: Vec<f32> = near.iter().map(|n| scale * n).collect();
            let (out, _) = run(AdvancedAecConfig::new(16000), &mic, &far);
            let (a, b) = (16000 * 15, 16000 * 22);
            g[k] = 20.0 * (dot(&near[a..b], &out[a..b]) / energy(&near[a..b])).log10();
            let after = erle(&mic, &out, AFTER_DOUBLE_TALK, 16000 * 32);
            println!("{delay} ms, RT60 {rt60}, near x{scale}: talker's gain {:.3} dB in double talk, ERLE after it {after:.1} dB", g[k]);
            assert!(after > 35.0, "{delay} ms, near x{scale}: ERLE after double talk {after:.1} dB");
        }
        assert!(g[0] > without.0 && g[1] > without.1, "talker's gain {g:?} dB, without the rule {without:?}");
        0.5 * (g[0] + g[1])
    });
    let mean = gains.iter().sum::<f64>() / gains.len() as f64;
    println!("mean talker's gain {mean:.3} dB");
    mean
}

#[test]
fn erle_returns_to_its_depth_after_double_talk() {
    sweep(3, |_| {
        // After double talk the canceller must be as deep as on the same far end without any near
        // end (issue 13). With a 500 ms delay, the far end's return after a pause moved the delay
        // estimate to 20 ms during double talk (a near-end onset 20 ms after the far end's return),
        // which shifted the converged weights out of the filter: 1.4 dB after double talk
        // instead of 36. Measured with the fix: within 0.5 dB of the run without near end.
        for (delay, rt60, seed, far_at, near_at) in
            [(500, 0.5, 33, 60, 0), (320, 0.5, 32, 30, 20), (120, 0.3, 31, 120, 40)]
        {
            let (far, mic, near) = kit_timeline(delay, rt60, seed, far_at, near_at);
            let quiet: Vec<f32> = mic.iter().zip(&near).map(|(m, n)| m - n).collect();
            let (out, delays) = run(AdvancedAecConfig::new(16000), &mic, &far);
            let (out_q, _) = run(AdvancedAecConfig::new(16000), &quiet, &far);
            let before = erle(&mic, &out, 16000 * 5, 16000 * 10);
            let after = erle(&mic, &out, AFTER_DOUBLE_TALK, 16000 * 32);
            let without = erle(&quiet, &out_q, AFTER_DOUBLE_TALK, 16000 * 32);
            println!(
                "{delay} ms, RT60 {rt60}: ERLE {before:.1} dB before double talk, {after:.1} dB after ({without:.1} without near end); delays {delays:?}"
            );
            assert!(before > 25.0, "{delay} ms: {before:.1} dB before double talk");
            assert!(after > without - 3.0, "{delay} ms: {after:.1} dB after double talk, {without:.1} dB without it");
            assert!(delays[20..].iter().all(|d| d.is_some_and(|d| d.abs_diff(delay as u32) <= 30)), "{delays:?}");
        }
    });
}

#[test]
fn near_end_louder_than_the_echo_does_not_move_the_delay_estimate() {
    sweep(3, |_| {
        // Double talk with the near end 3 dB above the echo in reverberant rooms: the near end
        // fills the microphone's band envelopes with fluctuations the far end does not explain.
        // In a held-out room of the evaluation kit's generator (RT60 0.7 s, 40 ms) a lag 40 ms
        // late won the delay estimator's correlation after 3.7 s of it, the converged weights
        // were shifted out of the window, and the canceller stayed 9 dB shallower after double
        // talk than without the near end; the estimate is now held while the near end talks over
        // a converged filter. These synthetic rooms do not reproduce that wander (the code
        // without the hold passes them too, with the same figures): the test guards that the
        // estimate and the depth after double talk hold with a loud near end.
        for (delay, rt60, seed, far_at, near_at) in
            [(40, 0.7, 41, 20, 5), (60, 0.6, 42, 80, 30), (40, 0.5, 43, 140, 45)]
        {
            let (far, mic, near) = kit_timeline(delay, rt60, seed, far_at, near_at);
            let louder = 10f32.powf(3.0 / 20.0) - 1.0;
            let mic: Vec<f32> = mic.iter().zip(&near).map(|(m, n)| m + louder * n).collect();
            let quiet: Vec<f32> = mic.iter().zip(&near).map(|(m, n)| m - (1.0 + louder) * n).collect();
            let (out, delays) = run(AdvancedAecConfig::new(16000), &mic, &far);
            let (out_q, _) = run(AdvancedAecConfig::new(16000), &quiet, &far);
            let after = erle(&mic, &out, AFTER_DOUBLE_TALK, 16000 * 32);
            let without = erle(&quiet, &out_q, AFTER_DOUBLE_TALK, 16000 * 32);
            println!("{delay} ms, RT60 {rt60}: ERLE after double talk {after:.1} dB ({without:.1} without near end); delays {delays:?}");
            assert!(delays[14..23].iter().all(|d| *d == delays[14]), "{delay} ms: {delays:?}");
            assert!(after > without - 3.0, "{delay} ms: {after:.1} dB after double talk, {without:.1} dB without it");
        }
    });
}

#[test]
fn weak_direct_path_in_a_reverberant_room_stays_in_the_window() {
    let v = sweep(10, |_| {
        // Reverberant rooms with a weak direct path: the delay estimator's envelope correlation
        // peaks 20-30 ms after the direct path, and with a 20 ms margin the filter window started
        // after it. A direct path outside the window cannot be cancelled (measured 15.1 dB at
        // direct 0.2 / RT60 0.7 s before the filter-based refinement, 21.2 dB with it; the other
        // rooms stay within 2 dB). The lowest of the ten realisations (1, direct 0.2 / RT60 0.7 s)
        // is 11.22 dB before and 11.15 dB since session 39's harmonic comb in double talk (the
        // room's false double-talk blocks voiced by its reverberant residual echo).
        let mut es = Vec::new();
        for (direct, rt60, seed) in [(0.2f32, 0.7f32, 4u64), (0.3, 0.6, 3), (0.5, 0.6, 5), (0.15, 0.5, 6)] {
            let mut h = rir(16000, 250 * 16, rt60, 0.6, seed);
            h[250 * 16] = direct;
            let s = scene(16000, 20, &h);
            let mic = s.mic();
            let (out, delays) = run(AdvancedAecConfig::new(16000), &mic, &s.far);
            let e = erle(&mic, &out, 16000 * 5, 16000 * 20);
            println!("direct {direct}, RT60 {rt60}: ERLE {e:.1} dB; delays {:?}", &delays[..8]);
            es.push(e);
            assert!(e > 11.1, "direct {direct}, RT60 {rt60}: {e:.1} dB");
        }
        es
    });
    // Over ten realisations of the four rooms (session 22): 12.6-36.4 dB, mean 22.6 dB (the
    // first room 12.6-21.3 dB); without the refinement 9.8-36.4 dB, mean 20.8 dB (realisations
    // 0-4 alone cannot tell the two apart: 21.3 against 21.0 dB). Since the filters learn in
    // the far end's pauses: 11.7-36.7 dB, mean 22.6 dB; without the refinement 9.7 dB, 20.7 dB.
    // With the room-sized tail as the default (session 27), ten realisations: 11.2-47.1 dB, mean
    // 30.7 dB (fixed tail 11.5-35.6, 22.4 dB); the first room 11.2-30.6 dB (11.5-21.0): where the
    // filter stays shallow (11-16 dB: the first room in realisations 0, 1, 7, the second in 3)
    // the longer filter loses 0.2-0.4 dB (11.50 -> 11.21 in realisation 1), elsewhere it gains
    // up to 14.7 dB.
    let (_, mean) = min_mean(v.into_iter().flatten());
    assert!(mean > 21.8, "mean {mean:.1} dB");
}

/// A reverberant room (RT60 0.6 s, beyond the 160 ms filter), a wideband far end at -20 dBFS
/// with its echo at -30 dBFS, white noise at -90 dBFS (the residual echo is measured, not the
/// noise), and a near talker band-limited to 3.5 kHz (a narrowband caller) from 10 s: above
/// 4.5 kHz the microphone holds echo only. Returns the scene, the microphone and the output
/// (with the denoiser), 20 s.
fn narrowband_near_end_scene() -> (Scene, Vec<f32>, Vec<f32>) {
    let h = rir(16000, 1600, 0.6, 0.6, 12);
    let mut s = scene(16000, 20, &h);
    s.noise.iter_mut().for_each(|v| *v *= 10f32.powf(-25.0 / 20.0));
    let near_src = set_active(&lowpass(&speech(16000)[16000 * 30..16000 * 40], 3500.0, 16000.0), 16000, -30.0);
    s.near[16000 * 10..].copy_from_slice(&near_src);
    let mic = s.mic();
    let (out, _) = run(AdvancedAecConfig::new(16000), &mic, &s.far);
    (s, mic, out)
}

/// The band above 4.5 kHz of `x`.
fn high_band(x: &[f32]) -> Vec<f32> {
    let lo = lowpass(x, 4500.0, 16000.0);
    x.iter().zip(&lo).map(|(a, b)| a - b).collect()
}

#[test]
fn double_talk_removes_the_echo_where_the_near_end_is_silent() {
    let v = sweep(5, |_| {
        // The narrowband scene above. In the double-talk state the post-filter scales its
        // residual estimate down only in bins incoherent with the echo estimate (where the near
        // end is); there the high band is echo-coherent and keeps the full estimate. The same
        // holds for false double-talk detections in far-end single talk, which the reverberation
        // beyond the filter causes now and then. Measured with a uniform 0.3 scale: 15.5 dB of
        // the high band's echo removed in double talk, 27.8 dB in far-end single talk (5-10 s);
        // coherence-weighted: 17.2 / 33.4 dB, the near end unchanged (-0.5 / -0.6 dB).
        let (s, mic, out) = narrowband_near_end_scene();
        let (a, b) = (16000 * 11, 16000 * 20);
        let (hm, ho) = (high_band(&mic), high_band(&out));
        let removed = 10.0 * (energy(&hm[a..b]) / energy(&ho[a..b]).max(1e-20)).log10();
        let lo_out = lowpass(&out, 3500.0, 16000.0);
        let kept = 10.0 * (energy(&lo_out[a..b]) / energy(&s.near[a..b])).log10();
        println!("narrowband near end in double talk: high-band echo {removed:.1} dB lower, near end {kept:.2} dB");
        assert!(removed > 14.3, "high-band echo only {removed:.1} dB lower in double talk");
        assert!(kept > -2.0, "near end attenuated by {kept:.2} dB");
        removed
    });
    // Over ten rooms (session 22): 14.8-18.9 dB; realisations 0-4 average 16.8 dB.
    let (_, mean) = min_mean(v);
    assert!(mean > 16.3, "mean {mean:.1} dB");
}

#[test]
fn false_double_talk_suppresses_the_bins_the_echo_explains() {
    let v = sweep(5, |_| {
        // The narrowband scene's far-end single talk (5-10 s): reverberation beyond the filter
        // makes the near-end detector fire now and then, and each detection holds the
        // double-talk state (scaled-down residual estimate, -14 dB floor) for 200 ms. A bin whose
        // error the echo envelope x the bin's own measured depth explains keeps the estimate as
        // learnt and a -20 dB floor in that state. Measured (high band, 5-10 s): 33.3 dB of the
        // echo removed with one double-talk treatment for every bin, 35.1 dB per bin (session 19,
        // second round).
        let (_, mic, out) = narrowband_near_end_scene();
        let far_only = erle(&high_band(&mic), &high_band(&out), 16000 * 5, 16000 * 10);
        println!("narrowband scene, far-end single talk: high-band echo {far_only:.1} dB lower");
        assert!(far_only > 24.0, "high-band echo only {far_only:.1} dB lower in far-end single talk");
        far_only
    });
    // Over ten rooms (session 22): 24.6-38.2 dB; realisations 0-4 average 33.2 dB, 5-9
    // 31.6 dB. Session 25, with the post-filter's per-bin near-end evidence
    // (NEAR_EVIDENCE_EXCESS): realisations 0-4 35.6 / 34.8 / 29.7 / 32.1 / 33.5 → 25.9 / 29.1
    // / 29.7 / 31.9 / 33.5 dB (mean 33.1 → 30.0), 5-9 unchanged within 0.3 dB (mean 31.6):
    // with reverberation beyond the filter and almost no noise (-90 dBFS) the error of a few
    // bins stands 13 dB over the residual estimate now and then in far-end single talk, and
    // each such block holds the double-talk state for 200 ms. The evaluation kit and the
    // held-out sets pay for the evidence in the same coin (mean ERLE −0.15…−0.77 dB) for
    // double-talk PESQ-WB up to +0.057.
    let (_, mean) = min_mean(v);
    assert!(mean > 29.5, "mean {mean:.1} dB");
}

#[test]
fn double_talk_keeps_the_starts_of_words_between_pauses() {
    sweep(5, |_| {
        // A near talker under loud echo (-30 dBFS against -20 dBFS) speaking in words of 0.4 s
        // with 0.35 s pauses — longer than the short 200 ms hangover — in a room whose
        // reverberation (RT60 0.7 s) reaches far beyond the 160 ms filter, so that the near end
        // stands only a few dB above the residual echo estimate: the sustained hangover must keep
        // the post-filter in its double-talk mode across the pauses, or the deep echo-only gains
        // cut the start of every word. Measured as the near end's projection gain over the first
        // 100 ms of each word (the echo suppressor alone): -9.4 dB when only detections 8 dB
        // above the estimate counted toward the sustained hangover, -4.0 dB with every
        // detection counted.
        let h = rir(16000, 800, 0.7, 0.7, 21);
        let mut s = scene(16000, 26, &h);
        s.echo = set_active(&convolve(&s.far, &h), 16000, -20.0);
        let src = set_active(&speech(16000)[16000 * 40..16000 * 52], 16000, -30.0);
        let (word, pause) = (6400, 5600);
        let mut starts = Vec::new();
        for (i, v) in src.iter().enumerate() {
            let at = 16000 * 12 + i;
            if i % (word + pause) < word {
                s.near[at] = *v;
            }
            if i % (word + pause) == 0 && at >= 16000 * 14 {
                starts.push(at);
            }
        }
        let mic = s.mic();
        let (out, _) = run(AdvancedAecConfig::new(16000).with_denoise(None), &mic, &s.far);
        let (mut nn, mut no) = (0.0f64, 0.0f64);
        for &a in &starts {
            let (n, o) = (&s.near[a..a + 1600], &out[a..a + 1600]);
            nn += energy(n);
            no += dot(n, o);
        }
        let gain = 20.0 * (no.max(1e-12) / nn).log10();
        println!("words between pauses under loud echo: {} word starts, near-end gain {gain:.2} dB", starts.len());
        assert!(starts.len() >= 10, "{} word starts", starts.len());
        assert!(gain > -6.0, "word starts lose {:.2} dB", -gain);
    });
}

#[test]
fn a_far_end_whisper_under_loud_noise_does_not_restart_the_filters() {
    sweep(5, |_| {
        // Far-end single talk whose far end falls to a whisper (a recording's background at
        // -66 dBFS: still "active") for 12 s while the microphone holds pink noise at -50 dBFS.
        // The echo prediction is then 30 dB under the noise, and the smoothed `Σ d·ŷ` of the
        // divergence test is the noise's chance correlation with ŷ: it fell below `¼ Σ ŷ²` in
        // both filters for 200 ms and restarted a converged canceller (found in a held-out
        // scenario at 28.7 s of far-end single talk: 25.5 dB early, 17.7 dB late). The test now
        // only counts blocks whose prediction holds at least a quarter of the microphone power.
        let h = rir(16000, 1600, 0.3, 0.25, 41);
        let mut s = scene(16000, 30, &h);
        let (q0, q1) = (16000 * 8, 16000 * 20);
        let whisper: Vec<f32> = Noise::new(42).pink(q1 - q0).iter().map(|v| v * 10f32.powf(-66.0 / 20.0)).collect();
        s.far[q0..q1].copy_from_slice(&whisper);
        s.echo = set_active(&convolve(&s.far, &h), 16000, -30.0);
        s.noise = Noise::new(43).pink(s.far.len()).iter().map(|v| v * 10f32.powf(-50.0 / 20.0)).collect();
        let mic = s.mic();
        let mut restarts_at = Vec::new();
        let out = run_aec(&mut Aec::new(AdvancedAecConfig::new(16000)).unwrap(), &mic, &s.far, |i, a| {
            if a.restarts() > restarts_at.len() as u32 {
                restarts_at.push(i as f32 / 100.0);
            }
        });
        let (before, after) = (erle(&s.echo, &out, 16000 * 4, q0), erle(&s.echo, &out, q1 + 16000, 16000 * 30));
        println!("far-end whisper under noise: restarts at {restarts_at:?} s; echo to output {before:.1} dB before, {after:.1} dB after");
        assert!(restarts_at.iter().all(|t| *t < 4.0), "restarts at {restarts_at:?} s");
        assert!(after > before - 3.0, "{after:.1} dB after the whisper, {before:.1} dB before");
    });
}

/// A loudspeaker that compresses its peaks: `tanh(drive·x/peak)/tanh(drive)·peak`, as the
/// evaluation kit's generator models one.
fn saturate(x: &[f32], drive: f32) -> Vec<f32> {
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    x.iter().map(|v| (drive * v / peak).tanh() / drive.tanh() * peak).collect()
}

#[test]
fn a_saturating_loudspeaker_is_cancelled_beyond_the_best_linear_fit() {
    sweep(5, |_| {
        // Far-end single talk through a saturating loudspeaker (drive 2.0 and 2.5) into a room.
        // No linear filter can take out more of the echo than the best memoryless linear fit of
        // the loudspeaker's output to its input leaves (computed here: 18.0 and 15.5 dB); with the
        // saturation model in front of the filters the linear stage (suppressor off) must beat
        // it by 3 dB once the model has learnt (12-20 s; measured 24.9 and 22.6 dB), and in the
        // same room with a linear loudspeaker the model must stay at exactly zero (the code
        // before the model: at most the fit, as it is linear).
        let h = rir(16000, 1600, 0.3, 0.15, 61);
        for drive in [2.0f32, 2.5, 0.0] {
            let mut s = scene(16000, 20, &h);
            let spk = if drive > 0.0 { saturate(&s.far, drive) } else { s.far.clone() };
            s.echo = set_active(&convolve(&spk, &h), 16000, -30.0);
            let (xx, xy) = (dot(&s.far, &s.far), dot(&s.far, &spk));
            let fit: f64 = s.far.iter().zip(&spk).map(|(x, y)| (f64::from(*y) - xy / xx * f64::from(*x)).powi(2)).sum();
            let ceiling = 10.0 * (energy(&spk) / fit.max(1e-30)).log10();
            let mic = s.mic();
            let mut a = Aec::new(AdvancedAecConfig::new(16000).with_suppression(false, 1.0)).unwrap();
            let out = run_aec(&mut a, &mic, &s.far, |_, _| {});
            let (from, to) = (16000 * 12, 16000 * 20);
            let residual: f64 = (from..to).map(|i| f64::from(out[i] - s.noise[i]).powi(2)).sum();
            let reduction = 10.0 * (energy(&s.echo[from..to]) / residual.max(1e-20)).log10();
            let coef = a.saturation_coefficient();
            println!(
                "drive {drive}: linear echo reduction {reduction:.1} dB, best linear fit {ceiling:.1} dB, a = {coef}"
            );
            if drive > 0.0 {
                assert!(reduction > ceiling + 3.0, "drive {drive}: {reduction:.1} dB, linear fit {ceiling:.1} dB");
                assert!(coef < 0.0, "drive {drive}: a = {coef}");
            } else {
                assert_eq!(coef, 0.0);
            }
        }
    });
}

#[test]
fn distortion_and_loud_white_noise_are_not_taken_for_the_near_end() {
    sweep(5, |_| {
        // Far-end single talk through a saturating loudspeaker (drive 2.5) with white noise 15 dB
        // under the echo (-45 dBFS against -30 dBFS active), as the kit's non-linear white-noise
        // cells: both hold the microphone's coherence with the echo estimate under 0.5, though
        // no one talks. Counted: blocks of 4-10 s the near-end detector flags, and the echo
        // reduction of the whole post-filter over 5-10 s. Measured 48 blocks and 24.3 dB; 229
        // blocks and 20.4 dB while the coherence criterion did not ask the error to reach a
        // quarter of the residual estimate plus noise (session 17).
        let h = rir(16000, 1600, 0.3, 0.15, 61);
        let mut s = scene(16000, 10, &h);
        s.echo = set_active(&convolve(&saturate(&s.far, 2.5), &h), 16000, -30.0);
        s.noise = Noise::new(5).white(s.far.len()).iter().map(|v| v * 10f32.powf(-45.0 / 20.0)).collect();
        let mic = s.mic();
        let mut flagged = 0;
        let out = run_aec(&mut Aec::new(AdvancedAecConfig::new(16000)).unwrap(), &mic, &s.far, |i, a| {
            if i >= 400 && a.near_end_active() {
                flagged += 1;
            }
        });
        let reduction = erle(&mic, &out, 16000 * 5, 16000 * 10);
        println!("distortion and white noise, far-end single talk: {flagged} of 600 blocks flagged as near end, ERLE {reduction:.1} dB");
        assert!(flagged < 120 && reduction > 22.5, "{flagged} blocks, {reduction:.1} dB");
    });
}

#[test]
fn double_talk_under_loud_echo_removes_the_echo_bin_by_bin() {
    let v = sweep(5, |_| {
        // The loud-echo double talk above (echo -20 dBFS, near end -30 dBFS, RT60 0.6 s beyond the
        // 160 ms filter), measured as the echo left beside the near end: the output minus the near
        // end's projection, against the echo at the microphone, 13-22 s. The post-filter's
        // double-talk scale (residual estimate x 0.3 in bins incoherent with the echo estimate,
        // rising to x 1 in bins that follow it) reads each bin's own coherence: pooled over three
        // bins (until session 18) a near-end harmonic's incoherence spread onto the echo-only
        // bins beside it. Measured: echo 19.41 dB lower pooled, 19.70 dB per bin; near end
        // -2.12 / -2.10 dB. Since session 22 the filters also learn in the far end's pauses while
        // its echo is still in their window (here inside the double talk): 19.55 dB, -2.19 dB.
        let (s, out) = loud_echo_double_talk();
        let (a, b) = (16000 * 13, 16000 * 22);
        let (near, o) = (&s.near[a..b], &out[a..b]);
        let g = dot(near, o) / energy(near);
        let residual: Vec<f32> = o.iter().zip(near).map(|(p, q)| p - g as f32 * q).collect();
        let removed = 10.0 * (energy(&s.echo[a..b]) / energy(&residual).max(1e-20)).log10();
        let kept = 20.0 * g.max(1e-6).log10();
        println!("loud-echo double talk: echo {removed:.2} dB lower beside the near end, near end {kept:.2} dB");
        assert!(removed > 17.0, "echo only {removed:.2} dB lower in double talk");
        assert!(kept > -2.3, "near end {kept:.2} dB");
        removed
    });
    // Over ten rooms (session 22): 17.36-20.31 dB (near end -1.89 to -2.15 dB);
    // realisations 0-4 average 19.27 dB.
    let (_, mean) = min_mean(v);
    assert!(mean > 19.0, "mean {mean:.2} dB");
}

/// Runs the canceller (no denoiser) block by block; returns the output (latency removed) and
/// whether the near-end detector held after each 10 ms block.
fn run_flags(mic: &[f32], far: &[f32]) -> (Vec<f32>, Vec<bool>) {
    let mut flags = Vec::new();
    let mut a = Aec::new(AdvancedAecConfig::new(16000).with_denoise(None)).unwrap();
    let out = run_aec(&mut a, mic, far, |_, a| flags.push(a.near_end_active()));
    (out, flags)
}

#[test]
fn quiet_near_end_beside_distorted_echo_is_detected_against_the_measured_depth() {
    let v = sweep(5, |_| {
        // A saturating loudspeaker (drive 2.5) with the echo at -25 dBFS and a quiet near end
        // (-50 dBFS, 25 dB under the echo) from 12 s to 22 s: the residual estimate learnt
        // where the microphone follows the echo estimate runs high beside the distortion, and
        // near-end words under 4x it were taken for echo (single-talk floor, deep suppression).
        // The second excess test (error 9 dB over what the filter's measured depth predicts)
        // catches them. Counted over 13-22 s: 10 ms blocks with near-end speech (energy over
        // 5 % of the mean) the detector flags, the near end's gain and its SNR in the output;
        // and the blocks of far-end single talk (4-12 s) it flags. Measured 437 / 504 blocks,
        // -4.80 dB, 3.57 dB, 23 / 800; 423 / 504, -4.97 dB, 3.42 dB, 23 / 800 without the
        // depth test (session 19). With the per-bin double-talk floor (session 19, second round:
        // bins the echo explains at -20 dB instead of -14 dB): 437 / 504, -4.96 dB, 3.83 dB,
        // 23 / 800.
        let h = rir(16000, 1600, 0.3, 0.15, 61);
        let mut s = scene(16000, 24, &h);
        s.echo = set_active(&convolve(&saturate(&s.far, 2.5), &h), 16000, -25.0);
        let near_src = set_active(&speech(16000)[16000 * 30..16000 * 40], 16000, -50.0);
        s.near[16000 * 12..16000 * 22].copy_from_slice(&near_src);
        let mic = s.mic();
        let (out, flags) = run_flags(&mic, &s.far);
        let avg = energy(&s.near[16000 * 13..16000 * 22]) / 900.0;
        let (mut active, mut hit) = (0, 0);
        for (near, flagged) in s.near[16000 * 13..16000 * 22].chunks_exact(160).zip(&flags[1300..2200]) {
            if energy(near) > 0.05 * avg {
                active += 1;
                hit += usize::from(*flagged);
            }
        }
        let false_alarms = flags[400..1200].iter().filter(|f| **f).count();
        let (a, b) = (16000 * 13, 16000 * 22);
        let gain = 20.0 * (dot(&s.near[a..b], &out[a..b]) / energy(&s.near[a..b])).log10();
        let err: f64 = out[a..b].iter().zip(&s.near[a..b]).map(|(p, q)| f64::from(p - q).powi(2)).sum();
        let snr = 10.0 * (energy(&s.near[a..b]) / err).log10();
        println!("quiet near end beside distorted echo: {hit}/{active} near-end blocks flagged, {false_alarms}/800 far-end blocks, near-end gain {gain:.2} dB, SNR out {snr:.2} dB");
        assert_eq!(active, 504);
        assert!(hit >= 430, "{hit}/{active} near-end blocks flagged");
        assert!(false_alarms <= 50, "{false_alarms}/800 far-end blocks flagged");
        // The near end's gain guard was -5.4 dB until session 27. With the room-sized tail as
        // the default the post-filter's sustained hangover is 400 ms (NEAR_HANG_SUSTAINED_GROWN;
        // the detector's flags counted above keep 800 ms), and the post-filter leaves its
        // double-talk mode sooner in the quiet talker's pauses: the same 0.45 dB in every room,
        // realisations 0-9, fixed tail (main) -> default: gain -4.87 -4.54 -5.01 -4.87 -4.53
        // -4.97 -4.99 -4.98 -4.85 -4.92 -> -5.42 -4.99 -5.44 -5.32 -5.01 -5.30 -5.45 -5.40 -5.31
        // -5.40 dB, SNR 4.05 3.81 3.98 3.59 4.33 3.89 3.84 4.11 4.54 4.49 -> 3.62 3.52 3.75 3.33
        // 3.93 3.89 3.62 3.74 4.17 4.08 dB, flagged 445 450 445 442 452 446 439 444 439 440 ->
        // 445 450 448 442 448 445 440 445 439 437 of 504, no false alarms. The 400 ms hangover
        // is what keeps a grown filter's far-end single talk after double talk deep
        // (`near_end_louder_than_the_echo_does_not_move_the_delay_estimate`, 40 ms, RT60 0.7:
        // 41.3 dB against 43.0 without the near end; 36.9 dB with 800 ms).
        assert!(gain > -5.5 && snr > 2.4, "near-end gain {gain:.2} dB, SNR {snr:.2} dB");
        (false_alarms as f64, snr)
    });
    // Over ten rooms (session 22): 437-454 of 504 near-end blocks, 0-45 of 800 far-end
    // blocks, gain -4.53 to -5.16 dB, SNR 2.64-4.45 dB; realisations 0-4 average 26 false
    // alarms and 3.71 dB.
    let ((_, fa), (_, snr)) = (min_mean(v.iter().map(|x| x.0)), min_mean(v.iter().map(|x| x.1)));
    assert!(fa < 30.0 && snr > 3.4, "mean {fa:.0} far-end blocks flagged, SNR {snr:.2} dB");
}

/// Runs the full AEC over a path-change scene whose path changes at `cut`: the first restart
/// after `cut` (sample), and `near_over_rest` of the output from `cut` to it.
fn until_restart(s: &PathChangeInDoubleTalk, cut: usize) -> (usize, f64, f64) {
    let (far, near, mic, dt0) = (&s.far, &s.near, &s.mic, DOUBLE_TALK_FROM);
    let mut a = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
    let hop = a.frame_len();
    let mut restart = None;
    let out = run_aec(&mut a, mic, far, |i, a| {
        if restart.is_none() && (i + 1) * hop > cut && a.restarts() > 0 {
            restart = Some(i * hop);
        }
    });
    let restart = restart.expect("no restart after the path change");
    let (ratio, gain) = near_over_rest(&near[cut - dt0..restart - dt0], &out[cut..restart]);
    (restart, ratio, gain)
}

#[test]
fn echo_path_change_during_double_talk_is_suppressed_before_the_restart() {
    let v = sweep(5, |_| {
        // `path_change_in_double_talk` with the post-filter on, from the change to the restart it
        // leads to (0.83 s: the far end pauses for the first 0.45 s). Until the restart the
        // foreground predicts the old path's echo, and the residual estimate and the per-bin depth
        // are the old path's; the new echo was read as near end and went through: the near end
        // 2.1 dB above the rest, gain 0.99. Counting 2·(1 − c) of the estimate as unexplained echo
        // while the prediction correlation c is under 0.75: 4.5 dB, gain 0.96 (session 20).
        let cut = PATH_CHANGE_AT;
        let (restart, ratio, gain) = until_restart(&path_change_in_double_talk(), cut);
        assert!(restart > cut && restart < cut + 32000, "restart {restart}");
        println!(
            "path change in double talk, until the restart {:.2} s after it: near end {ratio:.1} dB above the rest, near-end gain {gain:.2}",
            (restart - cut) as f64 / 16000.0
        );
        assert!(ratio > 4.0 && gain > 0.82, "{ratio:.1} dB, gain {gain:.2}");
        (restart - cut) as f64 / 16000.0
    });
    // Over ten realisations (session 22) the restart came 0.73-0.84 s after the change in
    // eight and 1.7 s after it in two (0, 4); the near end 4.6-6.8 dB above the rest, gain
    // 0.85-0.94, in the eight (since the filters learn in the far end's pauses realisation 6
    // too: 1.48 s). With the divergence test's slower tier realisation 0 restarts 0.83 s
    // after it (5.3 dB, gain 0.86); realisations 4 and 6 still 1.68 and 1.48 s.
    let timely = v.iter().filter(|t| **t < 1.0).count();
    assert!(timely + 1 >= v.len(), "restarts {v:.2?} s after the change");
}

#[test]
fn echo_path_change_in_loud_far_end_is_suppressed_from_its_first_blocks() {
    let v = sweep(5, |_| {
        // `path_change_in_double_talk` with the path changing at 14.4 s instead, where the far end
        // is loud for the next 400 ms (at 15 s it is quiet for 0.45 s), so the restart follows
        // after 0.14 s and the smoothed prediction correlation needs 30–50 ms of them to fall under
        // MISPREDICTED_CORRELATION. From the change to the restart: the near end 2.0 dB *under*
        // the rest, gain 0.78, with the smoothed test only; 0.3 dB under, gain 0.78, with the
        // correlation over about the last two blocks counted too (session 20, second round).
        let cut = 16000 * 144 / 10;
        let (restart, ratio, gain) = until_restart(&path_change_in_double_talk_at(cut), cut);
        assert!(restart > cut && restart < cut + 16000 / 4, "restart {restart}");
        println!(
            "path change in loud far end, until the restart {:.2} s after it: near end {ratio:.1} dB above the rest, near-end gain {gain:.2}",
            (restart - cut) as f64 / 16000.0
        );
        assert!(ratio > -2.0 && gain > 0.72, "{ratio:.1} dB, gain {gain:.2}");
        ratio
    });
    // Over ten realisations (session 22): the near end -1.6 to 0.9 dB above the rest,
    // gain 0.75-0.81; realisations 0-4 average -0.1 dB, 5-9 -0.9 dB.
    let (_, mean) = min_mean(v);
    assert!(mean > -1.2, "mean {mean:.1} dB");
}

#[test]
fn voiced_near_end_under_loud_echo_is_detected_by_its_pitch() {
    let v = sweep(5, |_| {
        // A voiced near end (12 harmonics of a 140–160 Hz pitch gliding at 0.5 Hz, in 250 ms
        // syllables every 400 ms) 20 dB under a loud echo (−40 vs −20 dBFS active, room RT60 0.3 s)
        // from 12 s to 22 s. Counted over 13–22 s: 10 ms blocks with near-end sound flagged by
        // `near_end_active`, and far-end single-talk blocks flagged over 4–12 s. Measured 465/555
        // and 0/800 with the excess and coherence tests only; 483/555 and 0/800 with the pitch test
        // (PITCH_CORRELATION; session 20, second round); 503/555 and 0/800 with the far end's last
        // 170 ms checked instead of the lag's continuity and a 2-block hold (third round).
        let h = rir(16000, 480, 0.3, 0.4, 12);
        let mut s = scene(16000, 24, &h);
        s.echo = set_active(&convolve(&s.far, &h), 16000, -20.0);
        let tau = std::f32::consts::TAU;
        let (mut phase, mut voiced) = (0.0f32, vec![0.0f32; 16000 * 10]);
        for (i, v) in voiced.iter_mut().enumerate() {
            let t = i as f32 / 16000.0;
            phase += tau * 150.0 * (1.0 + 0.07 * (tau * 0.5 * t).sin()) / 16000.0;
            if i % 6400 < 4000 {
                *v = (1..=12).map(|k| (k as f32 * phase).sin() / k as f32).sum();
            }
        }
        let voiced = set_active(&voiced, 16000, -40.0);
        s.near[16000 * 12..16000 * 22].copy_from_slice(&voiced);
        let mic = s.mic();
        let (_, flags) = run_flags(&mic, &s.far);
        let (mut active, mut hit) = (0, 0);
        for (near, flagged) in s.near[16000 * 13..16000 * 22].chunks_exact(160).zip(&flags[1300..2200]) {
            if energy(near) > 0.0 {
                active += 1;
                hit += usize::from(*flagged);
            }
        }
        let false_alarms = flags[400..1200].iter().filter(|f| **f).count();
        println!(
            "voiced near end under loud echo: {hit}/{active} near-end blocks flagged, {false_alarms}/800 far-end blocks"
        );
        assert_eq!(active, 555);
        assert!(hit >= 455, "{hit}/{active} near-end blocks flagged");
        assert!(false_alarms <= 30, "{false_alarms}/800 far-end blocks flagged");
        (hit as f64, false_alarms as f64)
    });
    // Over ten rooms (session 22): 464-520 of 555 near-end blocks, 0-23 of 800 far-end
    // blocks; realisations 0-4 average 491 and 4.8 (5-9: 487 and 8.8 since the filters learn in
    // the far end's pauses).
    let ((_, hit), (_, fa)) = (min_mean(v.iter().map(|x| x.0)), min_mean(v.iter().map(|x| x.1)));
    assert!(hit > 482.0 && fa < 10.0, "mean {hit:.0} near-end, {fa:.1} far-end blocks flagged");
}

#[test]
fn sparse_far_end_words_shorter_than_the_delay_are_cancelled() {
    sweep(5, |_| {
        // A far end of 300 ms words, one a second (digital silence between), through a 380 ms
        // path: the echo of every word reaches the microphone after the far end has paused
        // again. The filters must learn in those blocks (the far end is inside their window),
        // not only where the far end is active now. Session 22: linear ERLE 14.0 dB at 5-10 s and
        // 9.4 dB at 10-20 s (a divergence restart at 10.4 s costs the rest); 0.0 dB at 10-20 s
        // when the filters learnt only while the far end was active now.
        let h = rir(16000, 380 * 16, 0.2, 0.1, 31);
        let mut s = scene(16000, 20, &h);
        for (i, v) in s.far.iter_mut().enumerate() {
            if i % 16000 >= 4800 {
                *v = 0.0;
            }
        }
        s.echo = set_active(&convolve(&s.far, &h), 16000, -30.0);
        let mic = s.mic();
        let cfg = AdvancedAecConfig::new(16000).with_suppression(false, 1.0);
        let (out, delays) = run(cfg, &mic, &s.far);
        let early = erle(&mic, &out, 5 * 16000, 10 * 16000);
        let late = erle(&mic, &out, 10 * 16000, 20 * 16000);
        println!("sparse far end, 380 ms: linear ERLE 5-10 s {early:.1} dB, 10-20 s {late:.1} dB, delays {delays:?}");
        assert!(early > 10.0 && late > 6.0, "linear ERLE 5-10 s {early:.1} dB, 10-20 s {late:.1} dB");
    });
}

#[test]
fn a_linear_room_keeps_its_saturation_model_through_a_mismatch() {
    sweep(3, |_| {
        // Far-end single talk in a linear 320 ms room (the far end pauses from 10 to 15 s). In
        // realisation 1 both filters over-predicted a loud low-frequency onset by 5 dB for 100 ms
        // at 27 s; the saturation model learnt from that error (its cubic branch is nearly a copy
        // of a quiet far end) and its coefficient went from 0.05 to 5.1 in 23 blocks, the far
        // end's loudest passage then made both filters predict 3-5 times the microphone, and
        // they restarted at 28.4 s (ERLE over 22-32 s 13.2 dB; 33.9 dB now). The model now
        // learns only while the background's prediction explains the microphone.
        let (far, mic, near) = kit_timeline(320, 0.5, 32, 30, 20);
        let quiet: Vec<f32> = mic.iter().zip(&near).map(|(m, n)| m - n).collect();
        let mut a = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
        let out = run_aec(&mut a, &quiet, &far, |_, _| {});
        let after = erle(&quiet, &out, 16000 * 22, 16000 * 32);
        let sat = a.saturation_coefficient();
        println!("restarts {}, saturation coefficient {sat:.3}, ERLE 22-32 s {after:.1} dB", a.restarts());
        assert_eq!(a.restarts(), 0);
        assert!(sat.abs() < 0.5, "{sat}");
        assert!(after > 25.0, "{after:.1} dB");
    });
}

#[test]
fn a_saturating_loudspeaker_is_learnt_before_double_talk_without_overshoot() {
    sweep(3, |_| {
        // The kit's timeline through a saturating loudspeaker. The saturation model learns only
        // without near end, so what it has not learnt when the double talk begins (15 s) it
        // learns only after it (22 s), while the same far end without any near end keeps
        // learning through those 7 s: the coefficient at 15 s must be within 30 % of that run's
        // at 22 s. And it must get there without overshooting by more than 30 % on the way: from
        // quiet far-end blocks (where the cubic branch is nearly a copy of the far end) it
        // learnt the linear filter's gain error, reached -2.2 to -2.4 here before settling at
        // -1.3 (kit `d120_r03_nl`: -1.43 at 6 s, -0.006 at 7 s, -0.37 when the double talk
        // began). The ERLE after double talk against the run without near end is printed only:
        // at 250 ms it stays 4-5 dB short with the same coefficient (the post-filter's hangover
        // and the denoiser, see BENCHMARKS.md, session 24).
        for (delay, rt60, seed, far_at, near_at) in
            [(120, 0.3, 41, 0, 20), (250, 0.4, 42, 60, 0), (60, 0.3, 43, 120, 40)]
        {
            let (far, mic, near) = kit_timeline_driven(delay, rt60, seed, far_at, near_at, 2.5);
            let quiet: Vec<f32> = mic.iter().zip(&near).map(|(m, n)| m - n).collect();
            let at = |secs: usize| secs * 100 - 1;
            let (mut a_dt, mut a_quiet, mut a_peak) = (0.0f32, 0.0f32, 0.0f32);
            let mut a = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
            let out = run_aec(&mut a, &mic, &far, |i, a| {
                if i <= at(15) {
                    a_peak = a_peak.max(a.saturation_coefficient().abs());
                    a_dt = a.saturation_coefficient();
                }
            });
            let mut q = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
            let out_q = run_aec(&mut q, &quiet, &far, |i, q| {
                if i == at(22) {
                    a_quiet = q.saturation_coefficient();
                }
            });
            let after = erle(&mic, &out, 16000 * 22, 16000 * 32);
            let without = erle(&quiet, &out_q, 16000 * 22, 16000 * 32);
            println!(
                "{delay} ms: a = {a_dt:.3} when double talk begins (|a| at most {a_peak:.3} before), {a_quiet:.3} at 22 s without near end; ERLE after double talk {after:.1} dB, {without:.1} dB without near end"
            );
            assert!(a_quiet < -0.3, "{delay} ms: a = {a_quiet} without near end");
            assert!(
                (a_dt - a_quiet).abs() < 0.3 * a_quiet.abs(),
                "{delay} ms: a = {a_dt} at 15 s, {a_quiet} without near end"
            );
            assert!(a_peak < 1.3 * a_dt.abs(), "{delay} ms: |a| up to {a_peak} before settling at {a_dt}");
        }
    });
}

#[test]
fn post_filter_stays_in_double_talk_where_the_detector_lapses_inside_words() {
    sweep(6, |_| {
        // Far-end speech with its echo at -30 dBFS through a 100 ms room, white noise at -45
        // dBFS (the kit's loud-noise cells), and from 12 s a near end of three inharmonic tones
        // (430, 710, 1090 Hz: no pitch for the detector's pitch test) fading by 10 dB/s from
        // -30 dBFS for 4 s, one long word. Once the tones fall to about the voice band's noise
        // power the detector's band-wide tests lapse (from ~13 s), while each tone still
        // stands more than 13 dB over its own bin's noise: that per-bin evidence must keep the
        // post-filter in double-talk mode (NEAR_EVIDENCE_EXCESS in the post-filter). Measured
        // (session 25, realisations 0-5): the detector lapses in 191-201 blocks of 12-15 s, the
        // evidence holds the post-filter in 38-75 of them (none without it); no block of
        // far-end single talk from 6 s nor of 16-20 s is held by it alone. (While the filters
        // converge it can be: realisation 5 held 59 blocks at 2.3-5.3 s, the residual estimate
        // not yet learnt.)
        let h = rir(16000, 1600, 0.3, 0.25, 8);
        let mut s = scene(16000, 20, &h);
        for v in s.noise.iter_mut() {
            *v *= 10.0;
        }
        for (i, v) in s.near[16000 * 12..16000 * 16].iter_mut().enumerate() {
            let t = i as f32 / 16000.0;
            let level = 10f32.powf((-30.0 - 10.0 * t) / 20.0);
            *v = level
                * [430.0f32, 710.0, 1090.0].iter().map(|f| (std::f32::consts::TAU * f * t).sin()).sum::<f32>()
                * 0.8;
        }
        let mic = s.mic();
        let mut flags = Vec::new();
        let mut aec = Aec::new(AdvancedAecConfig::new(16000)).unwrap();
        run_aec(&mut aec, &mic, &s.far, |_, a| flags.push((a.near_end_active(), a.post_filter_double_talk())));
        let only_evidence = |r: std::ops::Range<usize>| flags[r].iter().filter(|f| !f.0 && f.1).count();
        let lapsed = flags[1200..1500].iter().filter(|f| !f.0).count();
        let (held, far_st, after) = (only_evidence(1200..1500), only_evidence(600..1200), only_evidence(1600..2000));
        println!("near-end tones 12-15 s: detector lapsed in {lapsed} blocks, post-filter held {held} of them; held without the detector in far-end single talk (6-12 s) {far_st}/600, after the tones {after}/400");
        assert!(held >= 25, "the post-filter held double talk in only {held} of {lapsed} blocks the detector missed");
        assert!(
            far_st <= 8 && after <= 4,
            "held in {far_st} blocks of far-end single talk, {after} after the near end"
        );
    });
}

/// `x` with its band under 300 Hz raised by about 20 dB: the kit-derived test recording has
/// almost no energy there (5 %), where recorded full-band talkers carry their fundamental
/// (25–78 % of their energy; module docs of `aec`, LOW_BAND_HZ).
fn full_band(x: &[f32]) -> Vec<f32> {
    let lo = lowpass(x, 300.0, 16000.0);
    x.iter().zip(&lo).map(|(a, b)| a + 9.0 * b).collect()
}

/// Power of bins `bins` (of a 320-point DFT, 50 Hz apart at 16 kHz, Hann window) of `x` in
/// frames of 320 samples every 160 from `from` to `to`: `[frame][bin]`.
fn low_bins(x: &[f32], from: usize, to: usize, bins: std::ops::Range<usize>) -> Vec<Vec<f64>> {
    let w: Vec<f64> = (0..320).map(|i| 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / 320.0).cos()).collect();
    (from..to - 320)
        .step_by(160)
        .map(|s| {
            bins.clone()
                .map(|k| {
                    let (mut re, mut im) = (0.0f64, 0.0f64);
                    for (i, wi) in w.iter().enumerate() {
                        let ph = std::f64::consts::TAU * (k * i) as f64 / 320.0;
                        re += wi * x[s + i] as f64 * ph.cos();
                        im -= wi * x[s + i] as f64 * ph.sin();
                    }
                    re * re + im * im
                })
                .collect()
        })
        .collect()
}

#[test]
fn double_talk_removes_the_echo_between_a_full_band_talkers_low_harmonics() {
    let v = sweep(5, |r| {
        // Far and near ends full-band (their fundamentals under 300 Hz), echo as loud as the
        // near end, RT60 0.4 s, 100 ms delay; double talk 10-20 s. Measured in 11-20 s at
        // 100-200 Hz, cell by cell (20 ms frames, 50 Hz bins): where the echo at the microphone
        // exceeds the near end by 6 dB, the output against the echo; where the near end exceeds
        // the echo by 6 dB, the output against the near end. Session 27, realisations 0-4:
        // echo-dominated cells 22.75 25.95 25.16 23.82 24.54 dB under the echo (mean 24.44),
        // near-dominated -2.00 -2.20 -2.02 -1.94 -2.16 dB; without the low-band rule
        // (LOW_BAND_HZ 0) 21.58 25.39 23.72 21.70 23.34 dB (mean 23.15), -1.68 ... -1.89 dB.
        let h = rir(16000, 1600, 0.4, 0.4, 40 + r);
        let src = speech(16000);
        // The far talker one and a half times faster, so its fundamental and harmonics fall
        // between the near talker's (as between a female and a male talker).
        let fast: Vec<f32> = (0..16000 * 20)
            .map(|i| {
                let t = i as f32 * 1.5;
                let (k, f) = (t as usize, t.fract());
                src[k] * (1.0 - f) + src[k + 1] * f
            })
            .collect();
        let far = set_active(&full_band(&fast), 16000, -20.0);
        let echo = set_active(&convolve(&far, &h), 16000, -30.0);
        let noise: Vec<f32> = Noise::new(r).white(far.len()).iter().map(|v| v * 10f32.powf(-65.0 / 20.0)).collect();
        let mut near = vec![0.0f32; far.len()];
        near[16000 * 10..].copy_from_slice(&set_active(&full_band(&src[16000 * 30..16000 * 40]), 16000, -30.0));
        let s = Scene { far, echo: echo[..near.len()].to_vec(), near, noise };
        let (out, _) = run(AdvancedAecConfig::new(16000), &s.mic(), &s.far);
        let (a, b) = (16000 * 11, 16000 * 20);
        let (n, e, o) = (low_bins(&s.near, a, b, 2..5), low_bins(&s.echo, a, b, 2..5), low_bins(&out, a, b, 2..5));
        let (mut echo_cells, mut near_cells) = ((0.0, 0.0), (0.0, 0.0));
        for ((n, e), o) in n.iter().flatten().zip(e.iter().flatten()).zip(o.iter().flatten()) {
            if *e > 4.0 * n {
                echo_cells = (echo_cells.0 + e, echo_cells.1 + o);
            } else if *n > 4.0 * e {
                near_cells = (near_cells.0 + n, near_cells.1 + o);
            }
        }
        let removed = 10.0 * (echo_cells.0 / echo_cells.1.max(1e-30)).log10();
        let kept = 10.0 * (near_cells.1 / near_cells.0.max(1e-30)).log10();
        println!("full-band double talk, 100-200 Hz: echo-dominated cells {removed:.2} dB under the echo, near-dominated {kept:.2} dB");
        assert!(removed > 22.0, "echo between the near end's low harmonics only {removed:.2} dB down");
        assert!(kept > -2.5, "near end's low harmonics {kept:.2} dB");
        removed
    });
    let (_, mean) = min_mean(v);
    assert!(mean > 23.9, "mean {mean:.2} dB");
}
