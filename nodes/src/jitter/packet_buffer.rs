//! The packet buffer: a fixed number of packet slots, ordered by (extended) RTP
//! timestamp, with duplicate detection. Memory is allocated once — the payloads in one
//! arena of `capacity × slot_bytes` — and a full buffer evicts its oldest packet.

use rvoip_media_graph::Packet;

/// One stored packet's facts (its payload is in the arena).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stored {
    /// RTP payload type.
    pub payload_type: u8,
    /// Payload bytes.
    len: usize,
    /// Extended (unwrapped) RTP timestamp.
    pub ts: i64,
    /// Extended sequence number.
    pub seq: i64,
    /// Arrival, µs.
    pub arrival_us: i64,
    /// Duration in RTP ticks.
    pub ticks: i64,
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
    /// Not stored: the payload is longer than a slot.
    TooLarge,
}

/// Fixed-capacity packet store (see the module docs).
pub(crate) struct PacketBuffer {
    slots: Box<[Stored]>,
    used: Box<[bool]>,
    /// Payload bytes, `slot_bytes` per slot.
    payloads: Box<[u8]>,
    slot_bytes: usize,
    count: usize,
}

impl PacketBuffer {
    /// `capacity` slots of `slot_bytes` payload bytes each.
    pub(crate) fn new(capacity: usize, slot_bytes: usize) -> Self {
        let capacity = capacity.max(1);
        let slot_bytes = slot_bytes.max(1);
        let empty = Stored { payload_type: 0, len: 0, ts: 0, seq: 0, arrival_us: 0, ticks: 0, audio_level: None };
        PacketBuffer {
            slots: vec![empty; capacity].into_boxed_slice(),
            used: vec![false; capacity].into_boxed_slice(),
            payloads: vec![0; capacity * slot_bytes].into_boxed_slice(),
            slot_bytes,
            count: 0,
        }
    }

    /// The payload of the packet at `i`.
    pub(crate) fn payload(&self, i: usize) -> &[u8] {
        let at = i * self.slot_bytes;
        &self.payloads[at..at + self.slots[i].len]
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    pub(crate) fn clear(&mut self) {
        self.used.fill(false);
        self.count = 0;
    }

    /// Index of the stored packet with the smallest timestamp.
    pub(crate) fn oldest(&self) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, s) in self.slots.iter().enumerate() {
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
        (0..self.slots.len()).find(|&i| self.used[i] && self.slots[i].ts == ts)
    }

    /// The smallest timestamp above `ts`.
    pub(crate) fn next_after(&self, ts: i64) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, s) in self.slots.iter().enumerate() {
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
        }
    }

    /// Removes every packet with a timestamp below `ts`; returns how many.
    pub(crate) fn drop_before(&mut self, ts: i64) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() {
            if self.used[i] && self.slots[i].ts < ts {
                self.remove(i);
                n += 1;
            }
        }
        n
    }

    /// Stores a copy of `packet`.
    pub(crate) fn insert(&mut self, packet: &Packet, ts: i64, seq: i64, arrival_us: i64, ticks: i64) -> Inserted {
        let payload = packet.payload();
        if payload.len() > self.slot_bytes {
            return Inserted::TooLarge;
        }
        if (0..self.slots.len()).any(|i| self.used[i] && (self.slots[i].ts == ts || self.slots[i].seq == seq)) {
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
        let at = slot * self.slot_bytes;
        self.payloads[at..at + payload.len()].copy_from_slice(payload);
        let s = &mut self.slots[slot];
        s.payload_type = packet.meta.payload_type;
        s.len = payload.len();
        s.ts = ts;
        s.seq = seq;
        s.arrival_us = arrival_us;
        s.ticks = ticks;
        s.audio_level = packet.meta.audio_level;
        self.used[slot] = true;
        self.count += 1;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::PacketMeta;

    fn pkt(seq: u16) -> Packet {
        Packet::from_payload(PacketMeta { sequence: seq, ..Default::default() }, &[seq as u8; 4]).unwrap()
    }

    #[test]
    fn orders_by_timestamp_refuses_duplicates_and_evicts_the_oldest_when_full() {
        let mut b = PacketBuffer::new(3, 4);
        let big = Packet::from_payload(PacketMeta { sequence: 7, ..Default::default() }, &[7; 5]).unwrap();
        assert_eq!(b.insert(&big, 1120, 7, 0, 160), Inserted::TooLarge);
        assert_eq!(b.insert(&pkt(2), 320, 2, 0, 160), Inserted::Stored);
        assert_eq!(b.insert(&pkt(1), 160, 1, 0, 160), Inserted::Stored);
        assert_eq!(b.insert(&pkt(1), 160, 1, 5, 160), Inserted::Duplicate);
        assert_eq!(b.insert(&pkt(9), 160, 9, 5, 160), Inserted::Duplicate, "same timestamp, other seq");
        assert_eq!(b.get(b.oldest().unwrap()).seq, 1);
        assert_eq!(b.insert(&pkt(4), 640, 4, 0, 160), Inserted::Stored);
        assert_eq!(b.insert(&pkt(5), 800, 5, 0, 160), Inserted::Evicted);
        assert_eq!((b.len(), b.get(b.oldest().unwrap()).seq), (3, 2));
        assert_eq!(b.get(b.next_after(320).unwrap()).seq, 4);
        assert_eq!(b.drop_before(700), 2);
        assert_eq!(b.len(), 1);
        assert_eq!(b.payload(b.find_ts(800).unwrap()), &[5; 4]);
    }
}
