//! Voice-processing cost per 10 ms frame at 16 kHz (one core): VAD (also at 8 and 48 kHz,
//! each next to WebRTC's VAD, the peer, on the same frames in the same run), AGC (broadband and three-band), noise
//! suppression (classic, and RNNoise at 16 and 48 kHz), echo cancellation, and the whole
//! chain.

use criterion::{criterion_group, criterion_main, Criterion};
use rvoip_media_nodes::apm::{
    AdvancedAecConfig, AdvancedAgcConfig, AdvancedVadConfig, Aec, Agc, AudioProcessingConfig, AudioProcessor,
    NoiseSuppressor, NsConfig, NsWindow, RnnoiseSuppressor, Vad,
};
use std::hint::black_box;
use webrtc_vad::{SampleRate, Vad as WebRtcVad, VadMode};

fn frames(n: usize, seed: u32) -> Vec<[f32; 160]> {
    let mut s = rvoip_media_core::graph::SplitMix64::new(u64::from(seed));
    (0..n)
        .map(|k| {
            let mut f = [0.0f32; 160];
            for (i, v) in f.iter_mut().enumerate() {
                let noise = 0.5 * s.bipolar();
                let t = (k * 160 + i) as f32 / 16_000.0;
                *v = 0.2 * (2.0 * std::f32::consts::PI * 180.0 * t).sin() * (1.0 + (3.0 * t).sin()) + 0.01 * noise;
            }
            f
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let input = frames(500, 1);
    let far = frames(500, 2);
    let mut g = c.benchmark_group("apm_16k_10ms");
    let mut vad = Vad::new(AdvancedVadConfig::new(16_000)).unwrap();
    let mut k = 0;
    g.bench_function("vad", |b| {
        b.iter(|| {
            k = (k + 1) % input.len();
            black_box(vad.process_frame(&input[k]))
        })
    });
    // The peer: WebRTC's VAD (libfvad) on the same frames as 16-bit PCM, in its least and
    // most aggressive modes (the kit's references).
    let input16: Vec<Vec<i16>> = input
        .iter()
        .map(|f| f.iter().map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect())
        .collect();
    for (name, mode) in [("webrtc_vad_mode0", VadMode::Quality), ("webrtc_vad_mode3", VadMode::VeryAggressive)] {
        let mut peer = WebRtcVad::new_with_rate_and_mode(SampleRate::Rate16kHz, mode);
        g.bench_function(name, |b| {
            b.iter(|| {
                k = (k + 1) % input16.len();
                black_box(peer.is_voice_segment(&input16[k]).unwrap_or(false))
            })
        });
    }
    // The VAD at 8 kHz (no decimation: its analysis rate) and at 48 kHz (decimated by six),
    // each next to WebRTC's VAD (mode 0) at the same rate: 8 kHz frames take every second
    // 16 kHz sample, 48 kHz frames repeat each one three times.
    let input8: Vec<Vec<f32>> = input.iter().map(|f| f.iter().step_by(2).copied().collect()).collect();
    let input48: Vec<Vec<f32>> =
        input.iter().map(|f| f.iter().flat_map(|v| std::iter::repeat(*v).take(3)).collect()).collect();
    for (rate, frames, peer_rate) in
        [(8_000u32, &input8, SampleRate::Rate8kHz), (48_000, &input48, SampleRate::Rate48kHz)]
    {
        let mut ours = Vad::new(AdvancedVadConfig::new(rate)).unwrap();
        g.bench_function(format!("vad_{}k", rate / 1000), |b| {
            b.iter(|| {
                k = (k + 1) % frames.len();
                black_box(ours.process_frame(&frames[k]))
            })
        });
        let pcm: Vec<Vec<i16>> = frames
            .iter()
            .map(|f| f.iter().map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect())
            .collect();
        let mut peer = WebRtcVad::new_with_rate_and_mode(peer_rate, VadMode::Quality);
        g.bench_function(format!("webrtc_vad_mode0_{}k", rate / 1000), |b| {
            b.iter(|| {
                k = (k + 1) % pcm.len();
                black_box(peer.is_voice_segment(&pcm[k]).unwrap_or(false))
            })
        });
    }
    for (name, cfg) in [
        ("agc", AdvancedAgcConfig::new(16_000)),
        ("agc_3band", AdvancedAgcConfig::new(16_000).with_multiband(250.0, 4000.0)),
    ] {
        let mut agc = Agc::new(cfg).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                k = (k + 1) % input.len();
                let mut f = input[k];
                agc.process_frame(&mut f, None);
                black_box(f)
            })
        });
    }
    // The 20 ms window (the echo canceller's framing) and the 30 ms one (`process --ns`).
    for (name, window) in [("ns", NsWindow::Ms20), ("ns_30ms", NsWindow::Ms30)] {
        let mut ns = NoiseSuppressor::new(NsConfig::new(16_000).with_window(window)).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                k = (k + 1) % input.len();
                let mut f = input[k];
                ns.process_frame(&mut f);
                black_box(f)
            })
        });
    }
    // RNNoise at 16 kHz includes the resampling to 48 kHz and back; at 48 kHz it runs alone.
    let mut rnn = RnnoiseSuppressor::new(16_000).unwrap();
    g.bench_function("ns_rnnoise", |b| {
        b.iter(|| {
            k = (k + 1) % input.len();
            let mut f = input[k];
            rnn.process_frame(&mut f);
            black_box(f)
        })
    });
    let mut rnn48 = RnnoiseSuppressor::new(48_000).unwrap();
    g.bench_function("ns_rnnoise_48k", |b| {
        b.iter(|| {
            k = (k + 1) % input48.len();
            let mut f = [0.0f32; 480];
            f.copy_from_slice(&input48[k]);
            rnn48.process_frame(&mut f);
            black_box(f)
        })
    });
    let mut aec = Aec::new(AdvancedAecConfig::new(16_000)).unwrap();
    g.bench_function("aec", |b| {
        b.iter(|| {
            k = (k + 1) % input.len();
            let mut f = input[k];
            aec.process_render_frame(&far[k]);
            aec.process_capture_frame(&mut f);
            black_box(f)
        })
    });
    let mut aec = Aec::new(AdvancedAecConfig::new(16_000).with_tail_ms(250)).unwrap();
    g.bench_function("aec_tail_250ms", |b| {
        b.iter(|| {
            k = (k + 1) % input.len();
            let mut f = input[k];
            aec.process_render_frame(&far[k]);
            aec.process_capture_frame(&mut f);
            black_box(f)
        })
    });
    let cfg = AudioProcessingConfig::new(16_000).with_aec(true).with_ns(true).with_agc(true).with_vad(true);
    let mut apm = AudioProcessor::new(cfg).unwrap();
    g.bench_function("chain", |b| {
        b.iter(|| {
            k = (k + 1) % input.len();
            let mut f = input[k];
            apm.process_render_audio(&far[k]);
            black_box(apm.process_capture_audio(&mut f))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
