//! The packet buffer: a fixed number of packet slots, ordered by (extended) RTP
//! timestamp, with duplicate detection. Memory is allocated once — the slots' facts and
//! one payload arena the slots share — and a full buffer (every slot used, or no room left
//! in the arena) evicts its oldest packet.
//!
//! The arena is filled from its start; when a payload does not fit after the last one, the
//! stored payloads are moved down to close the gaps the played packets left (in offset
//! order, through an index kept for it, so nothing allocates). An arena of `capacity ×
//! max_len` bytes never runs out before the slots do; a smaller one bounds the memory by
//! the bytes a stream holds (its bit rate × the delay) instead of slots × the largest
//! packet.

use rvoip_media_graph::PacketMeta;

/// One stored packet's facts (its payload is in the arena).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stored {
    /// RTP payload type.
    pub payload_type: u8,
    /// Where the payload starts in the arena.
    off: u32,
    /// Payload bytes.
    len: u16,
    /// Extended (unwrapped) RTP timestamp.
    pub ts: i64,
    /// Extended sequence number.
    pub seq: i64,
    /// Arrival, µs.
    pub arrival_us: i64,
    /// Duration in RTP ticks (a `u32`, as [`crate::codec::CodecInfo::rtp_ticks`] gives it:
    /// the slot is 40 bytes, not 48).
    pub ticks: u32,
    /// Its RFC 6464 level byte, if it carried one (`PacketMeta::audio_level`).
    pub audio_level: Option<u8>,
}

/// What [`PacketBuffer::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// Stored.
    Stored,
    /// Stored, after evicting the oldest packet (buffer full).
    Evicted,
    /// Not stored: a packet with this timestamp or sequence number is already there.
    Duplicate,
    /// Not stored: the payload is longer than a packet may be.
    TooLarge,
}

/// Fixed-capacity packet store (see the module docs).
pub(crate) struct PacketBuffer {
    slots: Box<[Stored]>,
    used: Box<[bool]>,
    /// Payload bytes, shared by the slots.
    payloads: Box<[u8]>,
    /// First arena byte after the last payload stored.
    top: usize,
    /// Longest payload accepted.
    max_len: usize,
    /// Slot indices, sorted by offset while compacting.
    order: Box<[u16]>,
    count: usize,
    /// Every slot at or above it is unused (a slot is taken lowest first, so the used ones
    /// stay below about the most packets held at once): the scans stop there.
    span: usize,
}

impl PacketBuffer {
    /// `capacity` slots (at most 65,536) for payloads of up to `max_len` bytes (at most
    /// 65,535), sharing an arena of `arena_bytes` (at least `max_len`; 0: `capacity ×
    /// max_len`).
    pub(crate) fn new(capacity: usize, max_len: usize, arena_bytes: usize) -> Self {
        let capacity = capacity.clamp(1, 1 << 16);
        let max_len = max_len.clamp(1, usize::from(u16::MAX));
        let arena_bytes = if arena_bytes == 0 { capacity * max_len } else { arena_bytes.max(max_len) };
        let empty =
            Stored { payload_type: 0, off: 0, len: 0, ts: 0, seq: 0, arrival_us: 0, ticks: 0, audio_level: None };
        PacketBuffer {
            slots: vec![empty; capacity].into_boxed_slice(),
            used: vec![false; capacity].into_boxed_slice(),
            payloads: vec![0; arena_bytes.min(u32::MAX as usize)].into_boxed_slice(),
            top: 0,
            max_len,
            order: (0..capacity).map(|i| i as u16).collect(),
            count: 0,
            span: 0,
        }
    }

    /// The payload of the packet at `i`.
    pub(crate) fn payload(&self, i: usize) -> &[u8] {
        let s = &self.slots[i];
        &self.payloads[s.off as usize..s.off as usize + usize::from(s.len)]
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn clear(&mut self) {
        self.used.fill(false);
        self.count = 0;
        self.top = 0;
        self.span = 0;
    }

    /// Moves the stored payloads to the arena's start, in offset order, closing the gaps.
    fn compact(&mut self) {
        let (slots, used) = (&self.slots, &self.used);
        // Unused slots sort last.
        self.order.sort_unstable_by_key(|&i| (!used[usize::from(i)], slots[usize::from(i)].off));
        let mut top = 0usize;
        for &i in &self.order[..self.count] {
            let s = &mut self.slots[usize::from(i)];
            let (from, len) = (s.off as usize, usize::from(s.len));
            self.payloads.copy_within(from..from + len, top);
            s.off = top as u32;
            top += len;
        }
        self.top = top;
    }

    /// Index of the stored packet with the smallest timestamp.
    pub(crate) fn oldest(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, s) in self.slots[..self.span].iter().enumerate() {
            if self.used[i] && best.map_or(true, |b| s.ts < self.slots[b].ts) {
                best = Some(i);
            }
        }
        best
    }

    /// The packet at `i` (from [`PacketBuffer::oldest`] / [`PacketBuffer::find_ts`]).
    pub(crate) fn get(&self, i: usize) -> &Stored {
        &self.slots[i]
    }

    /// Index of the packet with timestamp `ts`.
    pub(crate) fn find_ts(&self, ts: i64) -> Option<usize> {
        (0..self.span).find(|&i| self.used[i] && self.slots[i].ts == ts)
    }

    /// The smallest timestamp above `ts`.
    pub(crate) fn next_after(&self, ts: i64) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, s) in self.slots[..self.span].iter().enumerate() {
            if self.used[i] && s.ts > ts && best.map_or(true, |b| s.ts < self.slots[b].ts) {
                best = Some(i);
            }
        }
        best
    }

    pub(crate) fn remove(&mut self, i: usize) {
        if self.used[i] {
            self.used[i] = false;
            self.count -= 1;
            if self.count == 0 {
                self.top = 0;
            }
            while self.span > 0 && !self.used[self.span - 1] {
                self.span -= 1;
            }
        }
    }

    /// Removes every packet with a timestamp below `ts`; returns how many.
    pub(crate) fn drop_before(&mut self, ts: i64) -> usize {
        let mut n = 0;
        for i in 0..self.span {
            if self.used[i] && self.slots[i].ts < ts {
                self.remove(i);
                n += 1;
            }
        }
        n
    }

    /// Stores a copy of `packet`.
    pub(crate) fn insert(
        &mut self,
        meta: &PacketMeta,
        payload: &[u8],
        ts: i64,
        seq: i64,
        arrival_us: i64,
        ticks: u32,
    ) -> Inserted {
        if payload.len() > self.max_len {
            return Inserted::TooLarge;
        }
        if (0..self.span).any(|i| self.used[i] && (self.slots[i].ts == ts || self.slots[i].seq == seq)) {
            return Inserted::Duplicate;
        }
        let mut result = Inserted::Stored;
        let slot = match self.used.iter().position(|u| !u) {
            Some(i) => i,
            None => {
                // Full: the oldest goes (it is the one most likely late already).
                let Some(i) = self.oldest() else { return Inserted::Duplicate };
                self.remove(i);
                result = Inserted::Evicted;
                i
            }
        };
        if self.top + payload.len() > self.payloads.len() {
            self.compact();
            // Still no room: the oldest go (the arena holds at least one longest packet).
            while self.top + payload.len() > self.payloads.len() {
                let Some(i) = self.oldest() else { break };
                self.remove(i);
                result = Inserted::Evicted;
                self.compact();
            }
        }
        let at = self.top;
        self.payloads[at..at + payload.len()].copy_from_slice(payload);
        self.top += payload.len();
        let s = &mut self.slots[slot];
        s.payload_type = meta.payload_type;
        s.off = at as u32;
        s.len = payload.len() as u16;
        s.ts = ts;
        s.seq = seq;
        s.arrival_us = arrival_us;
        s.ticks = ticks;
        s.audio_level = meta.audio_level;
        self.used[slot] = true;
        self.count += 1;
        self.span = self.span.max(slot + 1);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::{Packet, PacketMeta};

    fn put(b: &mut PacketBuffer, p: &Packet, ts: i64, seq: i64, arrival_us: i64, ticks: u32) -> Inserted {
        b.insert(&p.meta, p.payload(), ts, seq, arrival_us, ticks)
    }

    fn pkt(seq: u16) -> Packet {
        Packet::from_payload(PacketMeta { sequence: seq, ..Default::default() }, &[seq as u8; 4]).unwrap()
    }

    #[test]
    fn orders_by_timestamp_refuses_duplicates_and_evicts_the_oldest_when_full() {
        let mut b = PacketBuffer::new(3, 4, 0);
        let big = Packet::from_payload(PacketMeta { sequence: 7, ..Default::default() }, &[7; 5]).unwrap();
        assert_eq!(put(&mut b, &big, 1120, 7, 0, 160), Inserted::TooLarge);
        assert_eq!(put(&mut b, &pkt(2), 320, 2, 0, 160), Inserted::Stored);
        assert_eq!(put(&mut b, &pkt(1), 160, 1, 0, 160), Inserted::Stored);
        assert_eq!(put(&mut b, &pkt(1), 160, 1, 5, 160), Inserted::Duplicate);
        assert_eq!(put(&mut b, &pkt(9), 160, 9, 5, 160), Inserted::Duplicate, "same timestamp, other seq");
        assert_eq!(b.get(b.oldest().unwrap()).seq, 1);
        assert_eq!(put(&mut b, &pkt(4), 640, 4, 0, 160), Inserted::Stored);
        assert_eq!(put(&mut b, &pkt(5), 800, 5, 0, 160), Inserted::Evicted);
        assert_eq!((b.len(), b.get(b.oldest().unwrap()).seq), (3, 2));
        assert_eq!(b.get(b.next_after(320).unwrap()).seq, 4);
        assert_eq!(b.drop_before(700), 2);
        assert_eq!(b.len(), 1);
        assert_eq!(b.payload(b.find_ts(800).unwrap()), &[5; 4]);
    }

    #[test]
    fn a_small_arena_compacts_then_evicts_the_oldest_for_room() {
        // 4 slots of up to 4 bytes sharing 8 bytes.
        let mut b = PacketBuffer::new(4, 4, 8);
        let p = |seq: u16, len: usize| {
            Packet::from_payload(PacketMeta { sequence: seq, ..Default::default() }, &vec![seq as u8; len]).unwrap()
        };
        assert_eq!(put(&mut b, &p(1, 3), 160, 1, 0, 160), Inserted::Stored);
        assert_eq!(put(&mut b, &p(2, 3), 320, 2, 0, 160), Inserted::Stored);
        b.remove(b.find_ts(160).unwrap());
        // 2 bytes left at the end, 3 free at the start: compacted, nothing evicted.
        assert_eq!(put(&mut b, &p(3, 4), 480, 3, 0, 160), Inserted::Stored);
        assert_eq!((b.len(), b.payload(b.find_ts(320).unwrap())), (2, &[2u8; 3][..]));
        assert_eq!(b.payload(b.find_ts(480).unwrap()), &[3; 4]);
        // 1 byte left: the oldest (seq 2) goes for a 2-byte packet, seq 3 stays intact.
        assert_eq!(put(&mut b, &p(4, 2), 640, 4, 0, 160), Inserted::Evicted);
        assert_eq!((b.len(), b.find_ts(320)), (2, None));
        assert_eq!(b.payload(b.find_ts(480).unwrap()), &[3; 4]);
        assert_eq!(b.payload(b.find_ts(640).unwrap()), &[4; 2]);
        assert_eq!(put(&mut b, &p(5, 5), 800, 5, 0, 160), Inserted::TooLarge);
    }

    #[test]
    fn random_inserts_and_removals_keep_every_stored_payload_intact() {
        // 8 slots of up to 16 bytes sharing 40: compaction and evictions for room all the
        // time. A model holds what should be stored; every payload is checked after each step.
        let mut rng = rvoip_media_graph::SplitMix64::new(7);
        let mut b = PacketBuffer::new(8, 16, 40);
        let mut model: Vec<(i64, Vec<u8>)> = Vec::new();
        let (mut evictions, mut next_seq) = (0, 0i64);
        for _ in 0..20_000 {
            match rng.below(4) {
                0 if !model.is_empty() => {
                    let (ts, _) = model.swap_remove(rng.below(model.len() as u64) as usize);
                    b.remove(b.find_ts(ts).unwrap());
                }
                1 => {
                    let cut = rng.below(64) as i64 * 160;
                    let n = model.iter().filter(|(ts, _)| *ts < cut).count();
                    model.retain(|(ts, _)| *ts >= cut);
                    assert_eq!(b.drop_before(cut), n);
                }
                _ => {
                    let ts = rng.below(64) as i64 * 160;
                    if model.iter().any(|(t, _)| *t == ts) {
                        continue;
                    }
                    next_seq += 1;
                    let len = 1 + rng.below(16) as usize;
                    let payload: Vec<u8> = (0..len).map(|i| (next_seq as u8).wrapping_add(i as u8)).collect();
                    let p = Packet::from_payload(PacketMeta::default(), &payload).unwrap();
                    match put(&mut b, &p, ts, next_seq, 0, 160) {
                        Inserted::Stored => {}
                        Inserted::Evicted => {
                            evictions += 1;
                            // The evicted are the oldest: whatever is gone is older than what stays.
                            let gone: Vec<i64> =
                                model.iter().filter(|(t, _)| b.find_ts(*t).is_none()).map(|(t, _)| *t).collect();
                            assert!(!gone.is_empty());
                            model.retain(|(t, _)| !gone.contains(t));
                            let oldest_kept = model.iter().map(|(t, _)| *t).min().unwrap_or(i64::MAX);
                            assert!(gone.iter().all(|t| *t < oldest_kept), "{gone:?} vs {oldest_kept}");
                        }
                        other => panic!("{other:?}"),
                    }
                    model.push((ts, payload));
                }
            }
            assert_eq!(b.len(), model.len());
            for (ts, payload) in &model {
                assert_eq!(b.payload(b.find_ts(*ts).unwrap()), &payload[..]);
            }
            // The scans (which stop at the highest used slot) find what the model holds.
            let oldest = model.iter().map(|(t, _)| *t).min();
            assert_eq!(b.oldest().map(|i| b.get(i).ts), oldest);
            let probe = rng.below(64) as i64 * 160;
            let next = model.iter().map(|(t, _)| *t).filter(|&t| t > probe).min();
            assert_eq!(b.next_after(probe).map(|i| b.get(i).ts), next);
            assert!((b.span..b.slots.len()).all(|i| !b.used[i]));
        }
        assert!(evictions > 1000, "room ran out often: {evictions}");
    }
}
