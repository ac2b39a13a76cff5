//! The V bit of an [`EncodeNode`]'s RFC 6464 levels from the VAD
//! ([`EncodeNode::with_voice_activity`]) against the energy gate
//! ([`EncodeNode::with_audio_level`] alone): speech and pink noise at the same level carry
//! the same level bytes, but only the speech is voice — the energy gate calls both voice.
//! And a node with a VAD makes no allocation per cycle, at quanta that are not whole
//! 10 ms frames too.

mod apm_common;
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use apm_common::{labels, set_active, speech, Noise};
use counting_alloc::allocations;
use rvoip_media_graph::{PacketSlot, Quantum};
use rvoip_media_nodes::apm::{AdvancedVadConfig, Vad};
use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder};
use rvoip_media_nodes::G711Law;

const RATE: u32 = 8000;

/// A PCMU node of 20 ms packets at a 10 ms quantum with levels (energy gate at −50 dBov),
/// with or without the VAD.
fn node(vad: bool) -> EncodeNode {
    let enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 20_000, Quantum::MS_10).unwrap();
    let enc = enc.with_audio_level(50);
    if vad {
        enc.with_voice_activity(Vad::new(AdvancedVadConfig::new(RATE)).unwrap()).unwrap()
    } else {
        enc
    }
}

/// The level byte of every packet `x` gives (10 ms quanta, 20 ms packets).
fn levels(mut enc: EncodeNode, x: &[f32]) -> Vec<u8> {
    let mut slot = PacketSlot::new();
    let mut out = Vec::new();
    for q in x.chunks_exact(RATE as usize / 100) {
        enc.encode_cycle(q, &mut slot);
        if let Some(p) = slot.get() {
            out.push(p.meta.audio_level.unwrap());
        }
    }
    out
}

/// Share of packets with V set among those `keep` selects.
fn voiced(levels: &[u8], keep: impl Fn(usize) -> bool) -> f64 {
    let kept: Vec<u8> = levels.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, l)| *l).collect();
    kept.iter().filter(|l| **l & 0x80 != 0).count() as f64 / kept.len() as f64
}

#[test]
fn v_follows_speech_not_noise_at_the_same_level() {
    // 20 s of speech at −26 dBFS active, and pink noise at that same RMS.
    let s = set_active(&speech(RATE)[..RATE as usize * 20], RATE, -26.0);
    let speech_rms = (s.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
    let mut noise = Noise::new(3).pink(s.len());
    let noise_rms = (noise.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / noise.len() as f64).sqrt();
    noise.iter_mut().for_each(|v| *v *= (speech_rms / noise_rms) as f32);
    // Packets of the speech that the energy labels call speech (both of their frames).
    let frames = labels(&s, RATE);
    let talk =
        |i: usize| frames.get(2 * i).copied().unwrap_or(false) && frames.get(2 * i + 1).copied().unwrap_or(false);
    // After the VAD's first second (its noise floor young).
    let settled = |i: usize| i >= 50;

    let (speech_vad, speech_energy) = (levels(node(true), &s), levels(node(false), &s));
    let (noise_vad, noise_energy) = (levels(node(true), &noise), levels(node(false), &noise));
    // The VAD changes V only: the levels are the same bytes.
    for (a, b) in [(&speech_vad, &speech_energy), (&noise_vad, &noise_energy)] {
        assert_eq!(a.len(), 1000);
        assert!(a.iter().zip(b.iter()).all(|(x, y)| x & 0x7f == y & 0x7f));
    }
    // The noise is as loud as speech: the median noise packet is within 6 dB of the median
    // talking speech packet.
    let median = |l: &[u8], keep: &dyn Fn(usize) -> bool| {
        let mut v: Vec<u8> = l.iter().enumerate().filter(|(i, _)| keep(*i)).map(|(_, x)| x & 0x7f).collect();
        v.sort_unstable();
        v[v.len() / 2]
    };
    let (ls, ln) = (median(&speech_vad, &talk), median(&noise_vad, &settled));
    assert!(ls.abs_diff(ln) <= 6, "speech −{ls} dBov, noise −{ln} dBov");

    let (sv, nv) = (voiced(&speech_vad, |i| talk(i) && settled(i)), voiced(&noise_vad, settled));
    let (se, ne) = (voiced(&speech_energy, |i| talk(i) && settled(i)), voiced(&noise_energy, settled));
    eprintln!("V on talking speech: VAD {sv:.3}, energy {se:.3}; on noise: VAD {nv:.3}, energy {ne:.3}");
    assert!(sv >= 0.85, "VAD: speech packets with V {sv:.3}");
    assert!(nv <= 0.05, "VAD: noise packets with V {nv:.3}");
    // What the energy gate did instead: the noise is voice to it.
    assert!(ne >= 0.95, "energy gate: noise packets with V {ne:.3}");
}

#[test]
fn a_node_with_a_vad_allocates_nothing_per_cycle() {
    let s = speech(RATE);
    for (q, ptime) in [(Quantum::MS_10, 20_000), (Quantum::MS_5, 20_000), (Quantum::MS_2_5, 10_000)] {
        let enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), ptime, q).unwrap();
        let mut enc =
            enc.with_audio_level(50).with_voice_activity(Vad::new(AdvancedVadConfig::new(RATE)).unwrap()).unwrap();
        let mut slot = PacketSlot::new();
        let n = (RATE as usize * q.micros() as usize) / 1_000_000;
        let mut packets = 0;
        let allocs = allocations(|| {
            for c in s[..RATE as usize * 3].chunks_exact(n) {
                enc.encode_cycle(c, &mut slot);
                packets += usize::from(slot.get().is_some());
            }
        });
        assert_eq!(allocs, 0, "{q:?}");
        assert_eq!(packets, 3000 * 1000 / ptime as usize, "{q:?}");
    }
}
