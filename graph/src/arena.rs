//! The buffers a plan runs on: one arena per buffer kind, each with a trailing read-only
//! silent slot for unconnected optional inputs.

use crate::format::BufferKind;
use crate::packet::PacketSlot;
use crate::plan::{BufferCounts, BufferRef};

/// Steps with at most this many outputs are checked pair by pair (no allocation).
const SMALL_STEP: usize = 16;

/// Preallocated buffers for one plan. Allocated once on the control side.
#[derive(Debug)]
pub struct Arena {
    counts: BufferCounts,
    audio: Vec<f32>,
    packets: Vec<PacketSlot>,
    control: Vec<f32>,
}

impl Arena {
    /// Allocates zeroed arenas of the given sizes; every packet slot holds one packet.
    pub fn new(counts: BufferCounts) -> Self {
        Self::with_burst_slots(counts, 0)
    }

    /// As [`Arena::new`], with the first `burst_slots` packet slots (where graph packet
    /// inputs are: they are allocated first) holding `counts.packet_burst` packets each.
    pub fn with_burst_slots(counts: BufferCounts, burst_slots: usize) -> Self {
        let capacity = |i: usize| if i < burst_slots { counts.packet_burst } else { 1 };
        Arena {
            counts,
            audio: vec![0.0; (counts.audio + 1) * counts.audio_len],
            packets: (0..=counts.packet).map(|i| PacketSlot::with_capacity(capacity(i))).collect(),
            control: vec![0.0; counts.control + 1],
        }
    }

    /// An arena of `counts` whose packet slot `i` carries bursts (`counts.packet_burst`
    /// packets) where `burst(i)`: a [`crate::Planner`]'s arenas, whose graph packet inputs
    /// may sit anywhere.
    pub(crate) fn with_bursts(counts: BufferCounts, burst: impl Fn(usize) -> bool) -> Self {
        let capacity = |i: usize| if i < counts.packet && burst(i) { counts.packet_burst } else { 1 };
        Arena {
            counts,
            audio: vec![0.0; (counts.audio + 1) * counts.audio_len],
            packets: (0..=counts.packet).map(|i| PacketSlot::with_capacity(capacity(i))).collect(),
            control: vec![0.0; counts.control + 1],
        }
    }

    /// Makes packet slot `i` carry bursts of `counts.packet_burst` packets (control side: it
    /// may allocate).
    pub(crate) fn ensure_burst(&mut self, i: usize) {
        let burst = self.counts.packet_burst.max(1);
        if i < self.counts.packet && self.packets[i].capacity() < burst {
            self.packets[i] = PacketSlot::with_capacity(burst);
        }
    }

    /// The sizes this arena was made for.
    pub fn counts(&self) -> BufferCounts {
        self.counts
    }

    /// Whether `r` may be read: in range (or silent) with a length that fits.
    pub fn is_readable(&self, r: &BufferRef) -> bool {
        readable(&self.counts, r)
    }

    /// Whether `r` may be written: readable and not the silent slot.
    pub fn is_writable(&self, r: &BufferRef) -> bool {
        !r.is_silence() && self.is_readable(r)
    }

    /// Checks what [`crate::ProcessIo`] relies on for one step: every input readable, every
    /// output writable, outputs pairwise distinct and disjoint from the inputs.
    pub fn check_step(&self, inputs: &[BufferRef], outputs: &[BufferRef]) -> Result<(), &'static str> {
        check_step(&self.counts, inputs, outputs)
    }

    /// Audio samples of `r` (`r` must be readable).
    pub fn audio(&self, r: &BufferRef) -> &[f32] {
        let slot = if r.is_silence() { self.counts.audio } else { r.index as usize };
        let start = slot * self.counts.audio_len;
        &self.audio[start..start + r.len as usize]
    }

    /// Audio samples of `r` for writing (`r` must be writable).
    pub fn audio_mut(&mut self, r: &BufferRef) -> &mut [f32] {
        debug_assert!(!r.is_silence());
        let start = r.index as usize * self.counts.audio_len;
        &mut self.audio[start..start + r.len as usize]
    }

    /// Packet slot of `r`.
    pub fn packet(&self, r: &BufferRef) -> &PacketSlot {
        let slot = if r.is_silence() { self.counts.packet } else { r.index as usize };
        &self.packets[slot]
    }

    /// Packet slot of `r` for writing (`r` must be writable).
    pub fn packet_mut(&mut self, r: &BufferRef) -> &mut PacketSlot {
        debug_assert!(!r.is_silence());
        &mut self.packets[r.index as usize]
    }

    /// Control value of `r`.
    pub fn control(&self, r: &BufferRef) -> f32 {
        let slot = if r.is_silence() { self.counts.control } else { r.index as usize };
        self.control[slot]
    }

    /// Control value of `r` for writing (`r` must be writable).
    pub fn control_mut(&mut self, r: &BufferRef) -> &mut f32 {
        debug_assert!(!r.is_silence());
        &mut self.control[r.index as usize]
    }

    /// Sets every audio sample of `out` to the sum of `inputs` (all readable, `out` writable
    /// and not among them).
    pub fn sum_audio(&mut self, inputs: &[BufferRef], out: &BufferRef) {
        let len = out.len as usize;
        let audio_len = self.counts.audio_len;
        let silence = self.counts.audio;
        let (dst_start, base) = (out.index as usize * audio_len, self.audio.as_mut_ptr());
        // SAFETY: `check_step` guaranteed `out` is in range and not among `inputs`, so the
        // destination does not overlap any source slice; all slots lie inside `self.audio`.
        let dst = unsafe { std::slice::from_raw_parts_mut(base.add(dst_start), len) };
        dst.fill(0.0);
        for r in inputs {
            let slot = if r.is_silence() { silence } else { r.index as usize };
            // SAFETY: as above; `r` is readable and distinct from `out`.
            let src = unsafe { std::slice::from_raw_parts(base.add(slot * audio_len), len.min(r.len as usize)) };
            for (d, s) in dst.iter_mut().zip(src) {
                *d += *s;
            }
        }
    }

    #[inline]
    pub(crate) fn audio_raw(&mut self) -> (*mut f32, usize, u32) {
        (self.audio.as_mut_ptr(), self.counts.audio_len, self.counts.audio as u32)
    }

    #[inline]
    pub(crate) fn packets_raw(&mut self) -> (*mut PacketSlot, u32) {
        (self.packets.as_mut_ptr(), self.counts.packet as u32)
    }

    #[inline]
    pub(crate) fn control_raw(&mut self) -> (*mut f32, u32) {
        (self.control.as_mut_ptr(), self.counts.control as u32)
    }
}

/// Whether `r` may be read from an arena of `counts`: in range (or silent) with a length
/// that fits.
pub(crate) fn readable(counts: &BufferCounts, r: &BufferRef) -> bool {
    let (len_ok, count) = match r.kind {
        BufferKind::Audio => (r.len as usize <= counts.audio_len, counts.audio),
        BufferKind::Packet => (r.len == 1, counts.packet),
        BufferKind::Control => (r.len == 1, counts.control),
    };
    len_ok && (r.is_silence() || (r.index as usize) < count)
}

/// [`Arena::check_step`] against an arena of `counts`.
pub(crate) fn check_step(
    counts: &BufferCounts,
    inputs: &[BufferRef],
    outputs: &[BufferRef],
) -> Result<(), &'static str> {
    if !inputs.iter().all(|r| readable(counts, r)) {
        return Err("input buffer out of range");
    }
    if !outputs.iter().all(|r| !r.is_silence() && readable(counts, r)) {
        return Err("output buffer out of range or silent");
    }
    if outputs.len() <= SMALL_STEP {
        for (i, o) in outputs.iter().enumerate() {
            let same = |r: &BufferRef| r.kind == o.kind && r.index == o.index;
            if outputs[..i].iter().any(same) {
                return Err("two outputs share a buffer");
            }
            if inputs.iter().any(same) {
                return Err("an output aliases an input");
            }
        }
        return Ok(());
    }
    // A wide step (a room's mixer: thousands of ports): sorted, so the check stays
    // O(n log n) instead of every pair (seconds at 20,000 legs, on every edit).
    let key = |r: &BufferRef| (r.kind as u8, r.index);
    let mut outs: Vec<(u8, u32)> = outputs.iter().map(key).collect();
    outs.sort_unstable();
    if outs.windows(2).any(|w| w[0] == w[1]) {
        return Err("two outputs share a buffer");
    }
    if inputs.iter().any(|r| outs.binary_search(&key(r)).is_ok()) {
        return Err("an output aliases an input");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(index: u32) -> BufferRef {
        BufferRef { kind: BufferKind::Audio, index, len: 80 }
    }

    /// Narrow and wide steps (pair by pair, sorted) find the same faults.
    #[test]
    fn check_step_finds_shared_and_aliased_outputs_in_narrow_and_wide_steps() {
        // Wide is anything above SMALL_STEP; under Miri 40 (5,000 took minutes there).
        let wide = if cfg!(miri) { 40 } else { 5_000 };
        for width in [3u32, wide] {
            let counts = BufferCounts { audio: 3 * width as usize, audio_len: 80, ..BufferCounts::default() };
            let arena = Arena::new(counts);
            let inputs: Vec<BufferRef> = (0..width).map(audio).collect();
            let mut outputs: Vec<BufferRef> = (width..2 * width).map(audio).collect();
            assert_eq!(arena.check_step(&inputs, &outputs), Ok(()), "width {width}");
            // Two outputs on one buffer (the last repeats the first).
            let last = outputs.len() - 1;
            outputs[last] = outputs[0];
            assert_eq!(arena.check_step(&inputs, &outputs), Err("two outputs share a buffer"), "width {width}");
            // An output on an input's buffer.
            outputs[last] = inputs[width as usize / 2];
            assert_eq!(arena.check_step(&inputs, &outputs), Err("an output aliases an input"), "width {width}");
            // Same index, another arena: no alias.
            outputs[last] = BufferRef { kind: BufferKind::Control, index: inputs[0].index, len: 1 };
            let counts = BufferCounts { control: 3 * width as usize, ..counts };
            assert_eq!(Arena::new(counts).check_step(&inputs, &outputs), Ok(()), "width {width}");
        }
    }
}
