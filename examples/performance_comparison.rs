//! The project's hot paths against the peers its benches compare with, in one run, printing
//! per-sample / per-frame times and the ratios:
//!
//! - the polyphase resampler against `rubato`'s sinc resampler (`SincFixedIn`, the
//!   parameters of its README example, as `benches/resample.rs` uses), 20 ms chunks of a
//!   1 s multitone signal;
//! - the Opus wrapper (`rvoip_media_nodes::opus`) against libopus called directly through the
//!   `opus` crate with the same settings (the two must produce the same packets), 20 ms
//!   frames of the bundled speech;
//! - the VAD against WebRTC's VAD (libfvad through the `webrtc-vad` crate, mode 0, the kit's
//!   reference) at 8, 16 and 48 kHz, 10 ms frames of the bundled speech (resampled from
//!   16 kHz with the project's resampler).
//!
//! Every measurement alternates the two sides for several rounds and keeps the fastest round
//! of each (the one least disturbed by other load). For the criterion statistics, run the
//! benches (`cargo bench --bench resample`, `--bench opus`).
//!
//! Run: `cargo run --release --example performance_comparison`

use rubato::{Resampler as _, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction};
use rvoip_media_nodes::apm::{AdvancedVadConfig, Vad};
use rvoip_media_nodes::opus::{Bitrate, OpusDecoder, OpusEncoder, OpusEncoderConfig, MAX_PACKET_BYTES};
use rvoip_media_nodes::resample::Resampler;
use std::hint::black_box;
use std::time::Instant;
use webrtc_vad::{SampleRate, Vad as WebRtcVad, VadMode};

const ROUNDS: usize = 15;

fn multitone(rate: u32) -> Vec<f32> {
    (0..rate as usize)
        .map(|n| {
            let t = n as f64 / f64::from(rate);
            let v: f64 =
                [220.0, 1000.0, 2500.0, 3300.0].iter().map(|f| (2.0 * std::f64::consts::PI * f * t).sin()).sum();
            (0.1 * v) as f32
        })
        .collect()
}

/// Fastest of `ROUNDS` alternating runs of `a` and `b`, seconds each.
fn paired(mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let (mut ta, mut tb) = (f64::MAX, f64::MAX);
    for round in 0..ROUNDS {
        for side in [round % 2, 1 - round % 2] {
            let t = Instant::now();
            if side == 0 {
                a();
                ta = ta.min(t.elapsed().as_secs_f64());
            } else {
                b();
                tb = tb.min(t.elapsed().as_secs_f64());
            }
        }
    }
    (ta, tb)
}

fn resampler() {
    println!("| resampler (per input sample) | ours | rubato sinc | rubato / ours |");
    println!("|---|---|---|---|");
    for (a, b) in [(8000u32, 48000u32), (48000, 8000), (16000, 48000), (48000, 16000), (44100, 48000)] {
        let x = multitone(a);
        let chunk = (a / 50) as usize;
        let mut out = vec![0.0f32; (b / 50) as usize + 64];
        let mut ours = Resampler::new(a, b, 1).expect("supported rates");
        let params = SincInterpolationParameters {
            sinc_len: 256,
            f_cutoff: 0.95,
            interpolation: SincInterpolationType::Linear,
            oversampling_factor: 256,
            window: WindowFunction::BlackmanHarris2,
        };
        let mut rb = SincFixedIn::<f32>::new(f64::from(b) / f64::from(a), 1.0, params, chunk, 1).expect("rubato");
        let mut rb_out = vec![vec![0f32; rb.output_frames_max()]; 1];
        let (t_ours, t_rb) = paired(
            || {
                for c in x.chunks(chunk) {
                    black_box(ours.process(black_box(c), &mut out));
                }
            },
            || {
                for c in x.chunks_exact(chunk) {
                    let _ = black_box(rb.process_into_buffer(&[black_box(c)], &mut rb_out, None));
                }
            },
        );
        let per = |t: f64| t / x.len() as f64 * 1e9;
        println!("| {a} → {b} Hz | {:.1} ns | {:.1} ns | {:.2}× |", per(t_ours), per(t_rb), t_rb / t_ours);
    }
}

/// 10 s of the bundled speech at 16 kHz.
fn speech16k() -> Vec<f32> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/speech_en_16k.wav");
    hound::WavReader::open(path)
        .expect("bundled speech")
        .into_samples::<i16>()
        .take(160_000)
        .map(|s| f32::from(s.unwrap_or(0)) / 32768.0)
        .collect()
}

fn opus_wrapper() {
    let (rate, bitrate, complexity) = (16_000u32, 24_000u32, 10u8);
    let ours = || -> OpusEncoder {
        OpusEncoderConfig::new(rate, 1)
            .bitrate(Bitrate::Bits(bitrate))
            .complexity(complexity)
            .build()
            .expect("valid Opus settings")
    };
    let direct = || -> opus::Encoder {
        let mut e = opus::Encoder::new(rate, opus::Channels::Mono, opus::Application::Voip).expect("libopus");
        let _ = e.set_signal(opus::Signal::Auto);
        let _ = e.set_vbr(true);
        let _ = e.set_vbr_constraint(true);
        let _ = e.set_bitrate(opus::Bitrate::Bits(bitrate as i32));
        let _ = e.set_complexity(i32::from(complexity));
        let _ = e.set_inband_fec(false);
        let _ = e.set_packet_loss_perc(0);
        let _ = e.set_dtx(false);
        e
    };
    let x = speech16k();
    let frames: Vec<&[f32]> = x.chunks_exact(rate as usize / 50).collect();
    let mut buf = [0u8; MAX_PACKET_BYTES];
    let mut other = [0u8; MAX_PACKET_BYTES];
    // The same packets, or the comparison means nothing.
    let (mut a, mut b) = (ours(), direct());
    let mut packets = Vec::new();
    for f in &frames {
        let n = a.encode(f, &mut buf).expect("encode").len;
        let m = b.encode_float(f, &mut other).expect("encode");
        assert_eq!(buf[..n], other[..m], "wrapper and direct encoders disagree");
        packets.push(buf[..n].to_vec());
    }
    let (te_ours, te_direct) = paired(
        || {
            let mut e = ours();
            for f in &frames {
                let _ = black_box(e.encode(black_box(f), &mut buf));
            }
        },
        || {
            let mut e = direct();
            for f in &frames {
                let _ = black_box(e.encode_float(black_box(f), &mut other));
            }
        },
    );
    let mut pcm = vec![0f32; frames[0].len()];
    let mut pcm2 = vec![0f32; frames[0].len()];
    let (td_ours, td_direct) = paired(
        || {
            let mut d = OpusDecoder::new(rate, 1).expect("decoder");
            for p in &packets {
                let _ = black_box(d.decode(Some(black_box(p)), &mut pcm));
            }
        },
        || {
            let mut d = opus::Decoder::new(rate, opus::Channels::Mono).expect("libopus");
            for p in &packets {
                let _ = black_box(d.decode_float(black_box(p), &mut pcm2, false));
            }
        },
    );
    let per = |t: f64| t / frames.len() as f64 * 1e6;
    println!();
    println!(
        "| Opus 16 kHz, 24 kbit/s, complexity 10 (per 20 ms frame) | wrapper | libopus direct | wrapper / direct |"
    );
    println!("|---|---|---|---|");
    println!("| encode | {:.2} µs | {:.2} µs | {:.3} |", per(te_ours), per(te_direct), te_ours / te_direct);
    println!("| decode | {:.2} µs | {:.2} µs | {:.3} |", per(td_ours), per(td_direct), td_ours / td_direct);
}

/// The bundled speech at `rate`, as 10 ms frames of f32 and of 16-bit PCM (the peer's input).
fn speech_frames(rate: u32) -> (Vec<Vec<f32>>, Vec<Vec<i16>>) {
    let x = speech16k();
    let x = if rate == 16_000 {
        x
    } else {
        let mut r = Resampler::new(16_000, rate, 1).expect("supported rates");
        let (mut out, mut buf, mut rest) = (Vec::new(), vec![0.0f32; 8192], &x[..]);
        while !rest.is_empty() {
            let (used, made) = r.process(rest, &mut buf);
            out.extend_from_slice(&buf[..made]);
            rest = &rest[used..];
            if used == 0 && made == 0 {
                break;
            }
        }
        out
    };
    let frames: Vec<Vec<f32>> = x.chunks_exact(rate as usize / 100).map(<[f32]>::to_vec).collect();
    let pcm = frames
        .iter()
        .map(|f| f.iter().map(|v| (v * 32768.0).round().clamp(-32768.0, 32767.0) as i16).collect())
        .collect();
    (frames, pcm)
}

fn vad() {
    println!();
    println!("| VAD (per 10 ms frame of speech) | ours | WebRTC's VAD, mode 0 | WebRTC / ours |");
    println!("|---|---|---|---|");
    for rate in [8_000u32, 16_000, 48_000] {
        let peer_rate = || match rate {
            8_000 => SampleRate::Rate8kHz,
            16_000 => SampleRate::Rate16kHz,
            _ => SampleRate::Rate48kHz,
        };
        let (frames, pcm) = speech_frames(rate);
        let (t_ours, t_peer) = paired(
            || {
                let mut v = Vad::new(AdvancedVadConfig::new(rate)).expect("supported rate");
                for f in &frames {
                    black_box(v.process_frame(black_box(f)));
                }
            },
            || {
                let mut v = WebRtcVad::new_with_rate_and_mode(peer_rate(), VadMode::Quality);
                for f in &pcm {
                    black_box(v.is_voice_segment(black_box(f)).unwrap_or(false));
                }
            },
        );
        let per = |t: f64| t / frames.len() as f64 * 1e6;
        println!("| {} kHz | {:.2} µs | {:.2} µs | {:.2}× |", rate / 1000, per(t_ours), per(t_peer), t_peer / t_ours);
    }
}

fn main() {
    if cfg!(debug_assertions) {
        println!("(debug build: run with --release for meaningful figures)");
    }
    resampler();
    opus_wrapper();
    vad();
}
