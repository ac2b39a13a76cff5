//! Echo cancellation on the bundled speech, printing what it measures.
//!
//! The evaluation kit's timeline, built from `examples/data` (MIT, Silero Team): the 16 kHz
//! speaker is the far end (played into a simulated room with a 120 ms bulk delay, RT60 about
//! 0.35 s), the 8 kHz speaker, upsampled, is the near-end talker. Far end alone 0–10 s, near
//! end alone 10–15 s, double talk 15–22 s, far end alone 22–32 s; echo and near end at
//! −30 dBFS active, background noise at −60 dBFS.
//!
//! ```text
//! cargo run --release --example aec_demo
//! ```

use rvoip_media_nodes::apm::{AdvancedAecConfig, Aec};
use rvoip_media_nodes::resample::resample_whole;
use std::path::PathBuf;
use std::time::Instant;

const FS: usize = 16000;

fn read(name: &str) -> Vec<f32> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/data").join(name);
    let mut r = hound::WavReader::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    r.samples::<i16>().map(|s| f32::from(s.expect("16-bit PCM")) / 32768.0).collect()
}

fn energy(x: &[f32]) -> f64 {
    x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum()
}

fn db(a: f64, b: f64) -> f64 {
    10.0 * (a / b.max(1e-20)).log10()
}

/// Scales `x` to an RMS of `dbfs` over its 10 ms frames within 35 dB of the loudest.
fn set_active(x: &[f32], dbfs: f64) -> Vec<f32> {
    let e: Vec<f64> = x.chunks_exact(FS / 100).map(|c| energy(c) / (FS / 100) as f64).collect();
    let peak = e.iter().cloned().fold(0.0, f64::max);
    let act: Vec<f64> = e.into_iter().filter(|v| *v > peak * 10f64.powf(-3.5)).collect();
    let level = 10.0 * (act.iter().sum::<f64>() / act.len() as f64).log10();
    let g = 10f64.powf((dbfs - level) / 20.0) as f32;
    x.iter().map(|v| v * g).collect()
}

/// A deterministic room response: bulk delay, direct path, exponentially decaying
/// reflections (uniform noise) over 250 ms.
fn room(delay: usize, rt60: f32) -> Vec<f32> {
    let mut h = vec![0.0f32; delay + FS / 4];
    h[delay] = 1.0;
    let mut s = rvoip_media_core::graph::SplitMix64::new(0x2545_f491_4f6c_dd1d);
    for (i, v) in h[delay + 16..].iter_mut().enumerate() {
        let u = 0.5 * s.bipolar();
        *v = 0.3 * u * (-6.91 * i as f32 / (rt60 * FS as f32)).exp();
    }
    h
}

fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    let nz: Vec<(usize, f32)> = h.iter().copied().enumerate().filter(|(_, v)| v.abs() > 1e-4).collect();
    let mut y = vec![0.0f32; x.len()];
    for (k, hv) in nz {
        for i in k..x.len() {
            y[i] += hv * x[i - k];
        }
    }
    y
}

fn main() {
    let a = read("speech_en_16k.wav");
    let b = resample_whole(&read("speech_en_8k.wav"), 8000, 16000, 1).expect("resample");
    let n = 32 * FS;
    let mut far = vec![0.0f32; n];
    far[..10 * FS].copy_from_slice(&a[2 * FS..12 * FS]);
    far[15 * FS..].copy_from_slice(&a[12 * FS..29 * FS]);
    let far = set_active(&far, -20.0);
    let echo = set_active(&convolve(&far, &room(120 * 16, 0.35)), -30.0);
    let mut near = vec![0.0f32; n];
    near[10 * FS..22 * FS].copy_from_slice(&set_active(&b[30 * FS..42 * FS], -30.0));
    let mut s = 7u64;
    let mic: Vec<f32> = (0..n)
        .map(|i| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let u = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            echo[i] + near[i] + 0.001 * 1.73 * u
        })
        .collect();

    let mut aec = Aec::new(AdvancedAecConfig::new(16000)).expect("AEC");
    let hop = aec.frame_len();
    let mut out = Vec::with_capacity(n);
    let t0 = Instant::now();
    for (m, f) in mic.chunks_exact(hop).zip(far.chunks_exact(hop)) {
        let mut frame = m.to_vec();
        aec.process_render_frame(f);
        aec.process_capture_frame(&mut frame);
        out.extend_from_slice(&frame);
    }
    let secs = t0.elapsed().as_secs_f64();
    out.drain(..aec.latency());
    out.resize(n, 0.0);

    let span = |x: &[f32], a: usize, b: usize| energy(&x[a * FS..b * FS]);
    let err = |y: &[f32]| -> f64 { (15 * FS..22 * FS).map(|i| f64::from(y[i] - near[i]).powi(2)).sum() };
    println!("AEC on the bundled speech (120 ms bulk delay, RT60 ~0.35 s, echo and near end -30 dBFS)");
    println!("  estimated bulk delay      {:?} ms (true 120 ms)", aec.estimated_delay_ms());
    println!("  ERLE far end alone 5-10 s {:5.1} dB", db(span(&mic, 5, 10), span(&out, 5, 10)));
    println!("  ERLE after double talk    {:5.1} dB (22-32 s)", db(span(&mic, 22, 32), span(&out, 22, 32)));
    println!(
        "  near end alone kept       {:5.1} dB (10-15 s, 0 = untouched)",
        db(span(&out, 10, 15), span(&mic, 10, 15))
    );
    println!(
        "  double talk near-end SNR  {:5.1} dB in, {:5.1} dB out (15-22 s)",
        db(span(&near, 15, 22), err(&mic)),
        db(span(&near, 15, 22), err(&out))
    );
    println!("  filter restarts           {}", aec.restarts());
    println!(
        "  speed                     {:.0}x real time ({:.1} us per 10 ms frame)",
        32.0 / secs,
        secs * 1e6 / (n / hop) as f64
    );
}
