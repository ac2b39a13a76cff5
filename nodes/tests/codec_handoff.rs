//! What a conference leg's peer hears when the leg's stream moves from the shared encode to
//! the leg's own encoder (a listener becoming a talker, `EncodeNode::with_shared_input`):
//! one decoder decodes a stream whose first second came from the shared encoder and whose
//! rest comes from the leg's own encoder. Against the ideal (one encoder throughout, as if the
//! shared encoder's state had been copied), measured as SNR in windows after the switch, for
//! several ways of taking over (reset; resuming a stale history; primed on the last 20, 60
//! or 200 ms of the shared audio; primed on its own first 20 ms). What `EncodeNode` does
//! (`Encoder::handoff_priming_us`: G.722 and G.729 primed on 60 ms, Opus resuming) must
//! beat a plain reset.

use rvoip_media_nodes::codec::{CodecId, Decoder, Encoder};

/// A voiced, speech-like test signal at `rate`: harmonics of a gliding pitch under a
/// syllable envelope; `seed` shifts pitch and phase (another talker).
fn voice(rate: u32, n: usize, seed: f32) -> Vec<f32> {
    let mut phase = 0.0f32;
    (0..n)
        .map(|k| {
            let t = k as f32 / rate as f32;
            let f0 = 120.0 + 30.0 * seed + 20.0 * (2.0 * std::f32::consts::PI * 1.3 * t).sin();
            phase += 2.0 * std::f32::consts::PI * f0 / rate as f32;
            let env = 0.6 + 0.4 * (2.0 * std::f32::consts::PI * 3.0 * t + seed).sin();
            let x: f32 = (1..=12).map(|h| (h as f32 * phase + seed * h as f32).sin() / h as f32).sum();
            0.12 * env * x
        })
        .collect()
}

/// Encodes `x` frame by frame with `enc` (one payload per frame).
fn encode(enc: &mut dyn Encoder, x: &[f32]) -> Vec<Vec<u8>> {
    let mut out = vec![0u8; enc.info().max_frame_bytes];
    x.chunks_exact(enc.info().frame_len())
        .map(|f| {
            let n = enc.encode(f, &mut out).unwrap().len;
            out[..n].to_vec()
        })
        .collect()
}

fn decode(dec: &mut dyn Decoder, frames: &[Vec<u8>]) -> Vec<f32> {
    let mut out = vec![0.0; 8192];
    let mut y = Vec::new();
    for f in frames {
        let n = dec.decode(Some(f), &mut out).unwrap();
        y.extend_from_slice(&out[..n]);
    }
    y
}

fn snr_db(reference: &[f32], x: &[f32]) -> f32 {
    let s: f64 = reference.iter().map(|&v| f64::from(v).powi(2)).sum();
    let e: f64 = reference.iter().zip(x).map(|(&a, &b)| f64::from(a - b).powi(2)).sum();
    (10.0 * (s / e.max(1e-20)).log10()) as f32
}

/// How the leg's own encoder takes over.
#[derive(Clone, Copy, Debug)]
enum Takeover {
    /// Reset.
    Reset,
    /// Resumes 1 s of something else.
    Stale,
    /// Reset, then encodes (and discards) the last `ms` of what the shared encoder encoded.
    Primed(usize),
    /// Reset, then encodes (and discards) its own first quantum (`ms`), then encodes on.
    SelfPrimed(usize),
}

/// SNR of the hand-over against the ideal, in windows (ms) after the switch: 0–20, 20–60,
/// 60–200.
fn handoff(codec: CodecId, how: Takeover) -> [f32; 3] {
    let rate = codec.native_rate();
    let new = || codec.encoder(rate, 1, false).unwrap();
    let second = rate as usize;
    let ms = |m: usize| m * rate as usize / 1000;
    // What the shared encoder encoded (two talkers), then what the leg hears as a talker
    // (the other one), for 400 ms.
    let shared: Vec<f32> = voice(rate, second, 0.0).iter().zip(voice(rate, second, 1.0)).map(|(a, b)| a + b).collect();
    let own = voice(rate, second * 2 / 5, 1.0);
    let (mut ideal_enc, mut shared_enc) = (new(), new());
    let ideal: Vec<Vec<u8>> =
        encode(&mut *ideal_enc, &shared).into_iter().chain(encode(&mut *ideal_enc, &own)).collect();
    let head = encode(&mut *shared_enc, &shared);
    let mut enc = new();
    match how {
        Takeover::Reset => {}
        Takeover::Stale => drop(encode(&mut *enc, &voice(rate, second, 2.5))),
        Takeover::Primed(w) => drop(encode(&mut *enc, &shared[second - ms(w)..])),
        Takeover::SelfPrimed(w) => drop(encode(&mut *enc, &own[..ms(w)])),
    }
    let frames: Vec<Vec<u8>> = head.iter().cloned().chain(encode(&mut *enc, &own)).collect();
    let dec = || codec.decoder(rate, 1).unwrap();
    let (y_ideal, y) = (decode(&mut *dec(), &ideal), decode(&mut *dec(), &frames));
    let at = |m: usize| second + ms(m);
    [(0, 20), (20, 60), (60, 200)].map(|(a, b)| snr_db(&y_ideal[at(a)..at(b)], &y[at(a)..at(b)]))
}

#[test]
fn the_handoff_the_encode_node_makes_beats_a_reset() {
    // What `EncodeNode` does: prime from a reset for the codec's `handoff_priming_us`, or
    // (0) resume its own last state — here, 1 s of another voice (`Stale`).
    for codec in [CodecId::G722, CodecId::G729, CodecId::Opus] {
        let priming = codec.encoder(48_000.min(codec.native_rate()), 1, false).unwrap().handoff_priming_us();
        let chosen = if priming > 0 { Takeover::Primed(priming as usize / 1000) } else { Takeover::Stale };
        let mut rows = Vec::new();
        for how in [
            Takeover::Reset,
            Takeover::Stale,
            Takeover::Primed(20),
            Takeover::Primed(60),
            Takeover::Primed(200),
            Takeover::SelfPrimed(20),
        ] {
            let snr = handoff(codec, how);
            eprintln!("{codec:?} {how:?}: SNR vs ideal at 0-20 / 20-60 / 60-200 ms: {snr:.1?} dB");
            rows.push(snr);
        }
        let (reset, ours) = (handoff(codec, Takeover::Reset), handoff(codec, chosen));
        eprintln!("{codec:?}: the node's hand-over ({chosen:?}) {ours:.1?} dB against a reset {reset:.1?} dB");
        assert!(ours[0] >= reset[0] - 1.0, "{codec:?}: {ours:?} vs {reset:?}");
        assert!(ours[1] >= reset[1] + 3.0 && ours[2] >= reset[2] + 3.0, "{codec:?}: {ours:?} vs {reset:?}");
    }
}
