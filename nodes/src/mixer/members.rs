//! What the mixer knows of each member besides membership: mute, deaf, gains, and whether
//! a VAD flag gates its talking state. Changed by [`MemberUpdate`] messages at a cycle
//! boundary, O(1), nobody else's state touched.

use crate::kernels;

/// Per-member settings of a [`Mixer`](super::Mixer) port.
///
/// ```
/// use rvoip_media_nodes::mixer::MemberSettings;
/// let s = MemberSettings { muted: true, ..MemberSettings::default() };
/// assert!(!s.is_default());
/// assert!(MemberSettings::default().is_default());
/// assert!(MemberSettings::default().with_gains_db(-6.0, 0.0).input_gain < 0.51);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemberSettings {
    /// Sends nothing into the mix (still hears).
    pub muted: bool,
    /// Hears nothing (still heard): its output is silent and marked
    /// [`Hear::Nothing`](super::Hear::Nothing), so an encoder reading the mark encodes nothing.
    pub deaf: bool,
    /// Linear gain on what the member sends into the mix.
    pub input_gain: f32,
    /// Linear gain on what the member hears. A listener with a gain other than 1 hears a
    /// mix of its own ([`Hear::Own`](super::Hear::Own)), never the shared one.
    pub output_gain: f32,
    /// Its talking state follows the `vad{i}` control input (a VAD node's `speech` flag)
    /// instead of its level.
    pub vad: bool,
}

impl Default for MemberSettings {
    fn default() -> Self {
        MemberSettings { muted: false, deaf: false, input_gain: 1.0, output_gain: 1.0, vad: false }
    }
}

impl MemberSettings {
    /// Adds what this member sends into the mix to `total`: `total[i] += input_gain * x[i]`.
    ///
    /// ```
    /// use rvoip_media_nodes::mixer::MemberSettings;
    /// let s = MemberSettings { input_gain: 0.5, ..MemberSettings::default() };
    /// let mut total = [1.0f32, 1.0];
    /// s.add_to_mix(&mut total, &[2.0, -4.0]);
    /// assert_eq!(total, [2.0, -1.0]);
    /// ```
    pub fn add_to_mix(&self, total: &mut [f32], x: &[f32]) {
        for (t, x) in total.iter_mut().zip(x) {
            *t += self.input_gain * x;
        }
    }

    /// What this member hears of `total` when its own `x` is in it, with its gains:
    /// `out[i] = (total[i] - input_gain * x[i]) * output_gain`.
    ///
    /// ```
    /// use rvoip_media_nodes::mixer::MemberSettings;
    /// let s = MemberSettings { input_gain: 0.5, output_gain: 2.0, ..MemberSettings::default() };
    /// let mut out = [0.0f32; 2];
    /// s.hear_without_own(&mut out, &[3.0, 1.0], &[2.0, 2.0]);
    /// assert_eq!(out, [4.0, 0.0]);
    /// ```
    pub fn hear_without_own(&self, out: &mut [f32], total: &[f32], x: &[f32]) {
        let (g, og) = (self.input_gain, self.output_gain);
        for ((o, t), x) in out.iter_mut().zip(total).zip(x) {
            *o = (t - g * x) * og;
        }
    }

    /// What this member hears while its own `x` is in `total`: the total without it, with
    /// its gains ([`MemberSettings::hear_without_own`]; on the SIMD kernels at unit input
    /// gain), or, as the only member in the mix (so there is nobody for it to hear),
    /// `lone_noise` (comfort noise) at its output gain.
    ///
    /// ```
    /// use rvoip_media_nodes::mixer::MemberSettings;
    /// let s = MemberSettings { output_gain: 2.0, ..MemberSettings::default() };
    /// let mut out = [0.0f32; 2];
    /// s.hear_in_mix(&mut out, &[3.0, 1.0], &[2.0, 2.0], None);
    /// assert_eq!(out, [2.0, -2.0]);
    /// s.hear_in_mix(&mut out, &[3.0, 1.0], &[2.0, 2.0], Some(&[0.25, -0.25]));
    /// assert_eq!(out, [0.5, -0.5]);
    /// ```
    pub fn hear_in_mix(&self, out: &mut [f32], total: &[f32], x: &[f32], lone_noise: Option<&[f32]>) {
        if let Some(noise) = lone_noise {
            kernels::gain(out, noise, self.output_gain);
        } else if self.input_gain == 1.0 {
            kernels::minus_own(out, total, x);
            if self.output_gain != 1.0 {
                kernels::gain_in_place(out, self.output_gain);
            }
        } else {
            self.hear_without_own(out, total, x);
        }
    }

    /// True for the settings every port starts with (nothing for the mixer to do).
    pub fn is_default(&self) -> bool {
        *self == MemberSettings::default()
    }

    /// The same settings with input and output gains given in dB.
    pub fn with_gains_db(mut self, input_db: f32, output_db: f32) -> Self {
        self.input_gain = 10f32.powf(input_db / 20.0);
        self.output_gain = 10f32.powf(output_db / 20.0);
        self
    }

    /// Gains must be finite and within ±40 dB (0 is allowed: silence): what a mixer (or a
    /// room kernel) accepts in a [`MemberUpdate`].
    ///
    /// ```
    /// use rvoip_media_nodes::mixer::MemberSettings;
    /// assert!(MemberSettings::default().is_valid());
    /// assert!(!MemberSettings { output_gain: f32::INFINITY, ..MemberSettings::default() }.is_valid());
    /// ```
    pub fn is_valid(&self) -> bool {
        let ok = |g: f32| g.is_finite() && (0.0..=100.0).contains(&g);
        ok(self.input_gain) && ok(self.output_gain)
    }
}

/// A message for a [`Mixer`](super::Mixer): port `port` takes `settings` from the next
/// cycle. Refused (`MessageError::Invalid`) for a port beyond the capacity or a gain that is
/// not finite or above +40 dB.
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeHarness, Processor, Quantum};
/// use rvoip_media_nodes::mixer::{MemberSettings, MemberUpdate, Mixer};
///
/// let mut h = NodeHarness::new(Box::new(Mixer::new(3, AudioFormat::mono(8000))), Quantum::MS_10).unwrap();
/// for (i, v) in [0.125f32, 0.25, 0.5].into_iter().enumerate() {
///     h.audio_in_mut(i).fill(v);
/// }
/// let muted = MemberSettings { muted: true, ..MemberSettings::default() };
/// h.processor_mut().message(&mut MemberUpdate { port: 2, settings: muted }).unwrap();
/// h.run();
/// assert_eq!(h.audio_out(0)[0], 0.25); // 0 no longer hears 2
/// assert_eq!(h.audio_out(2)[0], 0.375); // 2 still hears 0 and 1
/// let bad = MemberSettings { input_gain: f32::NAN, ..MemberSettings::default() };
/// assert!(h.processor_mut().message(&mut MemberUpdate { port: 0, settings: bad }).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemberUpdate {
    /// The mixer port.
    pub port: usize,
    /// Its new settings.
    pub settings: MemberSettings,
}
