//! Mixing nodes: the N-1 conference [`Mixer`], a plain [`Sum`] and a fan-out [`Tee`].
//!
//! | file | what it holds |
//! |---|---|
//! | `n_minus_one.rs` | [`Mixer`]: membership, the plain N-1 path, the path with settings or a policy |
//! | `members.rs` | [`MemberSettings`] (mute, deaf, gains, VAD) and the [`MemberUpdate`] message |
//! | `selection.rs` | [`TalkerSelection`]: the policy's state (talkers, dominant speaker, comfort noise) behind one real-time API, for the [`Mixer`] and room kernels |
//! | `talkers.rs` | [`TalkerPolicy`]: talking state (VAD or level, hangover), loudest-N with hysteresis |
//! | `dominant.rs` | the dominant speaker after Volfin and Cohen (as Jitsi runs it on audio levels) |
//! | `dominant_shards.rs` | the dominant speaker of a room spread over several workers: [`DominantClaim`]s, a choice in two cycles |
//! | `comfort.rs` | comfort noise for a listener who hears nobody |
//! | `events.rs` | [`MixerEvent`]s to the control side through an SPSC ring ([`event_ring`]) |
//! | `sum.rs` | [`Sum`] and [`Tee`] |
//!
//! ## The N-1 mix
//! In a conference every participant must hear everybody but themselves. Computing each of
//! the N outputs as a sum of N-1 inputs costs O(N²); the [`Mixer`] instead sums all inputs
//! once into a total and gives participant `i` the difference `total - input_i`, which is
//! O(N) — two passes over the data whatever the room size, both on SIMD kernels:
//! [`crate::kernels::accumulate4_sane`] adds four inputs per pass into the total and checks each
//! for NaN/Inf on the way (so the accumulator is loaded and stored once per four inputs,
//! and the check costs no extra pass), then [`crate::kernels::minus_own`] writes each output.
//! Measured on a 2-core x86_64 (SSE2 build): about 0.2 ns per participant-sample at
//! N = 1000 with 80-sample frames (`cargo bench --bench mixer`).
//!
//! The sum is accumulated in `f32` and **not clamped**: a mix of loud talkers may exceed
//! ±1.0 and is clipped only where it leaves the float domain (the `f32 -> i16` conversion
//! of [`crate::kernels::f32_to_i16`], used by the encoders). Saturating the total before
//! subtracting would make `total - own` wrong (the own voice would be removed from a
//! clipped sum), a classic N-1 bug.
//!
//! ## Bad input
//! An input holding NaN, ±Inf or a magnitude beyond [`crate::kernels::MAX_SANE`] is treated as
//! silent for that quantum — left out of the total, and its own output is the plain total
//! — and each such input is reported with `report_error`. Outputs are therefore always
//! finite.
//!
//! ## Who is heard
//! Without a policy every member who is not muted is in the mix. With a [`TalkerPolicy`]
//! ([`Mixer::with_policy`]) each member's talking state follows its VAD flag (`vad{i}`
//! input) or its level against a gate, with hangover; the mix holds at most the N loudest
//! talkers, a talker who is not heard replacing the quietest heard one only when louder by
//! the hysteresis margin after a minimum hold. A heard talker hears the others (total minus
//! own); every other member hears the same *shared* mix — the total, or comfort noise when
//! nobody talks — which the `all` output carries, and `hear{i}` says which ([`Hear`]), so
//! that an encoder of the shared mix can serve every listener of one codec: encodes scale
//! with talkers plus codec variants, not members. A deaf member's output is silent and
//! marked [`Hear::Nothing`] (nothing to encode); a muted member is never in the mix; a
//! member with an output gain other than 1 hears a mix of its own. Talking starts and stops
//! and dominant-speaker changes go to the control side as [`MixerEvent`]s.
//!
//! With neither a policy nor settings other than the default the mixer runs the plain path
//! below, unchanged in cost.
//!
//! ```
//! use rvoip_media_graph::{AudioFormat, NodeHarness, Quantum};
//! use rvoip_media_nodes::Mixer;
//!
//! let mut h = NodeHarness::new(Box::new(Mixer::new(3, AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
//! h.audio_in_mut(0).fill(0.5);
//! h.audio_in_mut(1).fill(0.75);
//! h.audio_in_mut(2).fill(f32::NAN); // a broken leg
//! assert_eq!(h.run(), 1); // reported once
//! assert!(h.audio_out(0).iter().all(|&s| s == 0.75)); // 0 hears 1
//! assert!(h.audio_out(1).iter().all(|&s| s == 0.5)); // 1 hears 0
//! assert!(h.audio_out(2).iter().all(|&s| s == 1.25)); // 2 hears 0 and 1, unclamped
//! ```

mod comfort;
mod dominant;
mod dominant_shards;
mod events;
mod heard;
mod members;
mod n_minus_one;
mod selection;
mod sum;
mod talkers;

pub use dominant_shards::DominantClaim;
pub use events::{event_ring, EventOut, EventSender, MixerEvent, MixerEventKind, MixerEvents};
pub use heard::{HeardSink, MAX_HEARD};
pub use members::{MemberSettings, MemberUpdate};
pub use n_minus_one::{Mixer, MixerMembership};
pub use selection::TalkerSelection;
pub use sum::{Sum, Tee};
pub use talkers::{Claim, TalkerPolicy};

/// What a member of a policy [`Mixer`] hears this cycle: the value of its `hear{i}` control
/// output.
///
/// ```
/// use rvoip_media_nodes::mixer::Hear;
/// assert_eq!(Hear::from_value(Hear::Own.value()), Hear::Own);
/// assert_eq!(Hear::from_value(7.0), Hear::Own); // anything unknown: its own mix
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hear {
    /// The shared mix (the mixer's `all` output): its output equals it.
    Shared,
    /// A mix of its own (a heard talker, or an output gain).
    Own,
    /// Nothing (deaf, or not a member): its output is silent, nothing to encode.
    Nothing,
}

impl Hear {
    /// As a control value.
    pub fn value(self) -> f32 {
        match self {
            Hear::Shared => 0.0,
            Hear::Own => 1.0,
            Hear::Nothing => 2.0,
        }
    }

    /// From a control value (anything unknown reads as [`Hear::Own`], the safe choice).
    pub fn from_value(v: f32) -> Hear {
        if v == 0.0 {
            Hear::Shared
        } else if v == 2.0 {
            Hear::Nothing
        } else {
            Hear::Own
        }
    }
}
