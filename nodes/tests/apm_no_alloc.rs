//! Real-time rule check for the voice-processing modules: no allocation per frame (plain
//! structs and graph nodes), on good or bad input, including parameter changes and resets.

use rvoip_media_graph::{NodeHarness, Processor, Quantum};
use rvoip_media_nodes::apm::{
    AdvancedAecConfig, AdvancedAgcConfig, AdvancedVadConfig, Aec, Agc, AudioProcessingConfig, AudioProcessor,
    FilterUpdate, NoiseSuppressor, NsConfig, NsWindow, RnnoiseSuppressor, Vad,
};
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

fn signal(i: usize, k: usize) -> f32 {
    match k % 4 {
        0 => 0.3 * ((i as f32) * 0.07).sin() * (1.0 + ((i / 800) % 3) as f32),
        1 => f32::NAN,
        2 => {
            if (i / 20) % 2 == 0 {
                1.0
            } else {
                -1.0
            }
        }
        _ => 0.0,
    }
}

fn exercise(node: Box<dyn Processor>, params: &[(u32, f32)]) -> u64 {
    let mut h = NodeHarness::new(node, Quantum::MS_10).unwrap();
    let n_in = h.spec().inputs.iter().filter(|p| matches!(p.kind, rvoip_media_graph::PortKind::Audio(_))).count();
    // Warm up once outside the armed region.
    h.run();
    allocations(|| {
        for k in 0..400 {
            for port in 0..n_in {
                for (i, v) in h.audio_in_mut(port).iter_mut().enumerate() {
                    *v = signal(i + k * 160 + port * 7, k / 50);
                }
            }
            h.run();
        }
        for (id, v) in params {
            let _ = h.processor_mut().set_param(*id, *v);
        }
        h.processor_mut().reset();
        h.run();
    })
}

#[test]
fn nodes_do_not_allocate() {
    let r = 16000;
    assert_eq!(exercise(Box::new(Vad::new(AdvancedVadConfig::new(r)).unwrap()), &[(0, 0.6), (1, 5.0)]), 0, "vad");
    assert_eq!(exercise(Box::new(Agc::new(AdvancedAgcConfig::new(r)).unwrap()), &[(0, -18.0)]), 0, "agc");
    let mb = AdvancedAgcConfig::new(r).with_multiband(250.0, 4000.0);
    assert_eq!(exercise(Box::new(Agc::new(mb).unwrap()), &[(1, 20.0)]), 0, "agc multiband");
    assert_eq!(exercise(Box::new(NoiseSuppressor::new(NsConfig::new(r)).unwrap()), &[(0, 3.0)]), 0, "ns");
    for rate in [8000, 16000, 48000] {
        let ns = NoiseSuppressor::new(NsConfig::new(rate).with_window(NsWindow::Ms30)).unwrap();
        assert_eq!(exercise(Box::new(ns), &[(0, 3.0)]), 0, "ns, 30 ms window, {rate} Hz");
    }
    assert_eq!(exercise(Box::new(Aec::new(AdvancedAecConfig::new(r)).unwrap()), &[]), 0, "aec");
    let lin = AdvancedAecConfig::new(r).with_linear_output(true);
    assert_eq!(exercise(Box::new(Aec::new(lin).unwrap()), &[]), 0, "aec with its linear output");
    let kal = AdvancedAecConfig::new(r).with_filter_update(FilterUpdate::Kalman);
    assert_eq!(exercise(Box::new(Aec::new(kal).unwrap()), &[]), 0, "aec with the Kalman update");
    for rate in [8000, 16000, 48000] {
        let ns = Box::new(RnnoiseSuppressor::new(rate).unwrap());
        assert_eq!(exercise(ns, &[]), 0, "rnnoise at {rate} Hz");
    }
    assert_eq!(exercise(Box::new(Aec::new(AdvancedAecConfig::new(48000)).unwrap()), &[]), 0, "aec 48k");
}

#[test]
fn audio_processor_does_not_allocate() {
    let cfg = AudioProcessingConfig::new(16000).with_aec(true).with_ns(true).with_agc(true).with_vad(true);
    audio_processor_case(cfg);
    audio_processor_case(cfg.with_neural_ns(true));
}

fn audio_processor_case(cfg: AudioProcessingConfig) {
    let mut apm = AudioProcessor::new(cfg).unwrap();
    let mut far = [0.0f32; 160];
    let mut mic = [0.0f32; 160];
    let n = allocations(|| {
        for k in 0..500 {
            for i in 0..160 {
                far[i] = signal(i + k * 160, k / 60);
                mic[i] = 0.5 * signal(i + k * 160 + 3, k / 70);
            }
            apm.process_render_audio(&far);
            let r = apm.process_capture_audio(&mut mic);
            assert!(mic.iter().all(|v| v.is_finite()) && r.speech_probability.is_finite());
        }
        apm.reset();
    });
    assert_eq!(n, 0);
}

/// RNNoise frames on a thread: allocations on the first frame and on the 299 after it, with
/// or without `prepare_thread` first.
fn rnnoise_frames_on_a_new_thread(prepare: bool) -> (u64, u64) {
    let mut ns = RnnoiseSuppressor::new(16000).unwrap();
    std::thread::spawn(move || {
        if prepare {
            rvoip_media_nodes::prepare_thread();
        }
        let mut frame = [0.0f32; 160];
        let fill = |k: usize, f: &mut [f32; 160]| {
            for (i, v) in f.iter_mut().enumerate() {
                *v = 0.1 * (((i + k * 160) as f32) * 0.05).sin();
            }
        };
        fill(0, &mut frame);
        let first = allocations(|| {
            ns.process_frame(&mut frame);
        });
        let rest = allocations(|| {
            for k in 1..300 {
                fill(k, &mut frame);
                ns.process_frame(&mut frame);
            }
        });
        (first, rest)
    })
    .join()
    .unwrap()
}

#[test]
fn rnnoise_on_a_fresh_thread_allocates_only_on_its_first_frame() {
    // nnnoiseless runs its FFTs through easyfft, which keeps FFT plans and scratch buffers in
    // thread-locals built on a thread's first call: a suppressor built on one thread and run
    // on another that was not prepared allocates on its first frame there, once; every later
    // frame allocates nothing. The first count proves the counter sees that burst.
    let (first, rest) = rnnoise_frames_on_a_new_thread(false);
    println!("RNNoise on a fresh thread: {first} allocations on the first frame, {rest} after");
    assert!(first > 0, "the per-thread FFT state was expected to be built on the first frame");
    assert_eq!(rest, 0, "RNNoise allocated after its first frame on a thread");
}

#[test]
fn rnnoise_on_a_prepared_thread_allocates_nothing() {
    // What the engine's workers do before their first cycle.
    assert_eq!(rnnoise_frames_on_a_new_thread(true), (0, 0));
}

/// The canceller's room-sized tail ([`AdvancedAecConfig::max_tail_ms`]) grows its filters in a
/// long room without allocating: the weights and far-end history are allocated for the longest
/// tail up front. 12 s of a noise far end through a slowly decaying 400 ms response (every
/// partition of a 160 ms filter holds echo), armed from the second block on; with either update
/// of the background filter.
#[test]
fn aec_tail_growth_does_not_allocate() {
    for update in [FilterUpdate::Nlms, FilterUpdate::Kalman] {
        aec_tail_growth_case(update);
    }
}

fn aec_tail_growth_case(update: FilterUpdate) {
    let rate = 16000usize;
    let n = rate * 12;
    let mut seed = 0x1357_9bdfu32;
    let far: Vec<f32> = (0..n)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            0.2 * ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5)
        })
        .collect();
    let (delay, taps) = (rate * 20 / 1000, rate * 400 / 1000);
    let h: Vec<f32> = (0..taps)
        .map(|k| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let v = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            0.3 * v * (-(k as f32) / (0.12 * rate as f32)).exp()
        })
        .collect();
    let mic: Vec<f32> = (0..n)
        .map(|i| (0..taps).step_by(4).filter(|&k| i >= delay + k).map(|k| h[k] * far[i - delay - k]).sum::<f32>())
        .collect();
    let mut aec =
        Aec::new(AdvancedAecConfig::new(rate as u32).with_max_tail_ms(320).with_filter_update(update)).unwrap();
    let mut buf = vec![0.0f32; 160];
    aec.process_render_frame(&far[..160]);
    buf.copy_from_slice(&mic[..160]);
    aec.process_capture_frame(&mut buf);
    let count = allocations(|| {
        for (f, m) in far.chunks_exact(160).zip(mic.chunks_exact(160)).skip(1) {
            aec.process_render_frame(f);
            buf.copy_from_slice(m);
            aec.process_capture_frame(&mut buf);
        }
        aec.reset();
    });
    assert_eq!(count, 0, "aec with tail growth ({update:?})");
    // The filter grew before the reset (which sets it back to 160 ms).
    let mut aec =
        Aec::new(AdvancedAecConfig::new(rate as u32).with_max_tail_ms(320).with_filter_update(update)).unwrap();
    for (f, m) in far.chunks_exact(160).zip(mic.chunks_exact(160)) {
        aec.process_render_frame(f);
        buf.copy_from_slice(m);
        aec.process_capture_frame(&mut buf);
    }
    assert!(aec.filter_tail_ms() > 160, "tail {} ms ({update:?})", aec.filter_tail_ms());
}
