//! A slab of single-producer single-consumer packet lanes with the payloads inline: the
//! packet path into and out of a kernel room.
//!
//! A kernel room's legs used to get their packets through one rtrb ring each, carrying
//! 1,528-byte pooled packets: per leg and cycle the worker loaded the ring's header, its slot
//! and then the packet, three scattered heap objects, the packet written just before by a
//! host thread on another core. [`Lanes`] holds every leg's ring in one slab: lane `i`'s
//! `k`-th slot lies at `slots[k × lanes + i]`, so in a cycle where every leg gets one
//! packet the worker reads one contiguous run of slots in lane order (plus one run of the
//! producers' indices), and the payload (up to [`INLINE`] bytes, a G.711 or G.722 packet of
//! 20 ms) is in the slot itself. A larger payload (Opus at a high rate) rides in a pooled
//! packet the slot holds ([`Slot::payload`] reads either).
//!
//! Each lane is an SPSC ring: the producer owns the slots in `[head, tail)`'s complement and
//! publishes a slot with a release store of its `tail`; the consumer reads slots below the
//! `tail` it loaded with acquire and hands them back with a release store of its `head`.
//! Producer and consumer indices lie in separate arrays (each written by one side). A lane is
//! claimed by the control side ([`Lanes::claim`]) when both its ends are gone; the last end
//! dropped releases the pooled packets still in it. `loom-tests/tests/lanes.rs` checks the
//! protocol; Miri runs the threaded test in `src/sync/mod.rs`.

use super::atomic::{AtomicU32, AtomicU8, Ordering};
use super::pool::{Pool, PoolExhausted, Pooled};
use super::{Arc, Cell};
use rvoip_media_graph::{Packet, PacketMeta, MAX_PAYLOAD};

/// Payload bytes a slot holds inline (larger payloads ride in a pooled packet).
pub const INLINE: usize = 208;

/// Producer end alive.
const PRODUCER: u8 = 1;
/// Consumer end alive.
const CONSUMER: u8 = 2;

/// One packet in a lane: its metadata and its payload, inline or pooled.
#[repr(C, align(64))]
pub struct Slot {
    big: Option<Pooled<Packet>>,
    /// RTP-level metadata.
    pub meta: PacketMeta,
    len: u16,
    data: [u8; INLINE],
}

impl Slot {
    const fn new() -> Slot {
        Slot { big: None, meta: PacketMeta::EMPTY, len: 0, data: [0; INLINE] }
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        match &self.big {
            Some(p) => p.payload(),
            None => &self.data[..usize::from(self.len)],
        }
    }

    /// Stores `payload` (inline, or in a packet from `pool` when it is larger than
    /// [`INLINE`]).
    fn set(&mut self, meta: &PacketMeta, payload: &[u8], pool: &Pool<Packet>) -> Result<(), PushError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(PushError::TooLarge(payload.len()));
        }
        self.meta = *meta;
        if payload.len() <= INLINE {
            self.big = None;
            self.data[..payload.len()].copy_from_slice(payload);
            self.len = payload.len() as u16;
        } else {
            let mut p = pool.acquire().map_err(PushError::PoolExhausted)?;
            // Fits: checked above.
            let _ = p.set_payload(payload);
            self.big = Some(p);
        }
        Ok(())
    }
}

/// Why a packet was not queued.
///
/// ```
/// use rvoip_media_graph::{Packet, PacketMeta, MAX_PAYLOAD};
/// use rvoip_media_sync::lanes::{Lanes, PushError, INLINE};
/// use rvoip_media_sync::pool::{Pool, PoolExhausted};
///
/// let pool = Pool::new(1, |_| Packet::new());
/// let lanes = Lanes::new(1, 2);
/// let (mut tx, _rx) = Lanes::claim(&lanes, 0).unwrap();
/// let meta = PacketMeta::default();
/// assert_eq!(tx.push(&meta, &[0; MAX_PAYLOAD + 1], &pool), Err(PushError::TooLarge(MAX_PAYLOAD + 1)));
/// tx.push(&meta, &[0; INLINE + 1], &pool).unwrap(); // takes the pool's only packet
/// let exhausted = PushError::PoolExhausted(PoolExhausted { capacity: 1 });
/// assert_eq!(tx.push(&meta, &[0; INLINE + 1], &pool), Err(exhausted));
/// tx.push(&meta, &[0; 20], &pool).unwrap(); // inline: no packet needed
/// assert_eq!(tx.push(&meta, &[0; 20], &pool), Err(PushError::Full)); // nobody read the lane
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushError {
    /// The lane is full (the consumer is behind).
    Full,
    /// The payload is over [`INLINE`] and the pool had no packet for it.
    PoolExhausted(PoolExhausted),
    /// The payload is over the packet capacity (its length).
    TooLarge(usize),
}

/// The slab: `lanes` lanes of `depth` slots each (see the module docs).
pub struct Lanes {
    lanes: usize,
    mask: u32,
    /// Next position each lane's producer writes (written by the producer only).
    tails: Box<[AtomicU32]>,
    /// Next position each lane's consumer reads (written by the consumer only).
    heads: Box<[AtomicU32]>,
    /// Which ends of each lane are alive ([`PRODUCER`], [`CONSUMER`]).
    ends: Box<[AtomicU8]>,
    /// Position-major: lane `i`'s slot at position `k` is `slots[(k & mask) × lanes + i]`.
    slots: Box<[Cell<Slot>]>,
}

// SAFETY: a slot is handed from its lane's producer to its consumer through the release
// store / acquire load of the lane's tail, and back through its head; each slot is accessed
// by one side at a time, and a lane has at most one producer and one consumer ([`Lanes::claim`]).
unsafe impl Send for Lanes {}
// SAFETY: as above.
unsafe impl Sync for Lanes {}

impl Lanes {
    /// A slab of `lanes` lanes of at least `depth` slots (rounded up to a power of two), all
    /// free. Allocates here, never afterwards.
    ///
    /// ```
    /// use rvoip_media_sync::lanes::Lanes;
    /// use rvoip_media_sync::pool::Pool;
    /// use rvoip_media_graph::{Packet, PacketMeta};
    ///
    /// let pool = Pool::new(1, |_| Packet::new());
    /// let lanes = Lanes::new(2, 2);
    /// let (mut tx, mut rx) = Lanes::claim(&lanes, 1).unwrap();
    /// assert!(Lanes::claim(&lanes, 1).is_none()); // one producer and one consumer per lane
    /// let meta = PacketMeta { sequence: 7, ..PacketMeta::default() };
    /// tx.push(&meta, &[1, 2, 3], &pool).unwrap();
    /// tx.push(&meta, &[9; 400], &pool).unwrap(); // over INLINE: in a pooled packet
    /// assert_eq!(tx.push(&meta, &[4], &pool), Err(rvoip_media_sync::lanes::PushError::Full));
    /// assert_eq!(rx.available(), 2);
    /// assert_eq!((rx.slot(0).meta.sequence, rx.slot(0).payload()), (7, &[1u8, 2, 3][..]));
    /// assert_eq!(rx.slot(1).payload().len(), 400);
    /// rx.advance(2, drop);
    /// assert_eq!((rx.available(), pool.in_use()), (0, 0));
    /// ```
    pub fn new(lanes: usize, depth: usize) -> Arc<Lanes> {
        let depth = depth.clamp(1, 1 << 16).next_power_of_two();
        let atomics = |v: u32| (0..lanes).map(|_| AtomicU32::new(v)).collect();
        Arc::new(Lanes {
            lanes,
            mask: depth as u32 - 1,
            tails: atomics(0),
            heads: atomics(0),
            ends: (0..lanes).map(|_| AtomicU8::new(0)).collect(),
            slots: (0..lanes * depth).map(|_| Cell::new(Slot::new())).collect(),
        })
    }

    /// Lanes in the slab.
    pub fn len(&self) -> usize {
        self.lanes
    }

    /// Whether the slab has no lane.
    pub fn is_empty(&self) -> bool {
        self.lanes == 0
    }

    /// Slots per lane.
    pub fn depth(&self) -> usize {
        self.mask as usize + 1
    }

    /// Both ends of lane `lane`, empty, if both its former ends are gone (control side);
    /// `None` while one is alive or past the slab.
    pub fn claim(lanes: &Arc<Lanes>, lane: usize) -> Option<(LaneTx, LaneRx)> {
        let ends = lanes.ends.get(lane)?;
        // Acquire: the former ends' last accesses (and the drain) happen before ours.
        ends.compare_exchange(0, PRODUCER | CONSUMER, Ordering::Acquire, Ordering::Relaxed).ok()?;
        // Nobody else touches the lane's indices until the ends below exist.
        let start = lanes.tails[lane].load(Ordering::Relaxed);
        lanes.heads[lane].store(start, Ordering::Relaxed);
        let lane_u = lane as u32;
        Some((
            LaneTx { lanes: lanes.clone(), lane: lane_u, tail: start, head_cache: start },
            LaneRx { lanes: lanes.clone(), lane: lane_u, head: start },
        ))
    }

    fn slot(&self, lane: u32, pos: u32) -> &Cell<Slot> {
        &self.slots[(pos & self.mask) as usize * self.lanes + lane as usize]
    }

    /// Lets go of one end of `lane`; the last end releases the pooled packets still queued.
    fn drop_end(&self, lane: u32, end: u8) {
        let i = lane as usize;
        // AcqRel: the last end sees the other end's accesses, and the claim after it ours.
        if self.ends[i].fetch_and(!end, Ordering::AcqRel) == end {
            let (mut pos, tail) = (self.heads[i].load(Ordering::Relaxed), self.tails[i].load(Ordering::Relaxed));
            while pos != tail {
                // SAFETY: both ends are gone (the other's accesses happen before our
                // acquire above) and a new claim's acquire pairs with our release: until
                // then nobody else touches the lane.
                self.slot(lane, pos).with_mut(|s| unsafe { (*s).big.take() });
                pos = pos.wrapping_add(1);
            }
            self.heads[i].store(tail, Ordering::Relaxed);
        }
    }
}

/// The producing end of one lane.
pub struct LaneTx {
    lanes: Arc<Lanes>,
    lane: u32,
    tail: u32,
    head_cache: u32,
}

impl LaneTx {
    /// Queues a packet (its payload copied into the slot, or into a packet from `pool` when
    /// longer than [`INLINE`]). Never blocks or allocates.
    ///
    /// Like a ring's push, it does not look whether the consumer is still there (a host
    /// end asks [`LaneTx::is_abandoned`] first).
    ///
    /// # Errors
    /// [`PushError::Full`], [`PushError::PoolExhausted`], [`PushError::TooLarge`]; nothing
    /// was queued.
    pub fn push(&mut self, meta: &PacketMeta, payload: &[u8], pool: &Pool<Packet>) -> Result<(), PushError> {
        if self.is_full() {
            return Err(PushError::Full);
        }
        let l = &*self.lanes;
        // SAFETY: the slot at `tail` is free: the consumer handed it back (acquire load of
        // its head in `is_full`) and reads it only after our release store below.
        l.slot(self.lane, self.tail).with_mut(|s| unsafe { (*s).set(meta, payload, pool) })?;
        self.tail = self.tail.wrapping_add(1);
        l.tails[self.lane as usize].store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Whether the lane is full as far as this side can tell (reloads the consumer's index
    /// when it looks full).
    pub fn is_full(&mut self) -> bool {
        let depth = self.lanes.mask.wrapping_add(1);
        if self.tail.wrapping_sub(self.head_cache) >= depth {
            self.head_cache = self.lanes.heads[self.lane as usize].load(Ordering::Acquire);
        }
        self.tail.wrapping_sub(self.head_cache) >= depth
    }

    /// Packets queued and not yet taken by the consumer.
    pub fn queued(&self) -> usize {
        let head = self.lanes.heads[self.lane as usize].load(Ordering::Acquire);
        self.tail.wrapping_sub(head) as usize
    }

    /// Whether the consumer end is gone.
    pub fn is_abandoned(&self) -> bool {
        self.lanes.ends[self.lane as usize].load(Ordering::Relaxed) & CONSUMER == 0
    }

    /// The address of the slot the next push writes (to prefetch; nothing is read).
    pub fn next_addr(&self) -> *const u8 {
        self.lanes.slot(self.lane, self.tail) as *const Cell<Slot> as *const u8
    }
}

impl Drop for LaneTx {
    fn drop(&mut self) {
        self.lanes.drop_end(self.lane, PRODUCER);
    }
}

/// The consuming end of one lane.
pub struct LaneRx {
    lanes: Arc<Lanes>,
    lane: u32,
    head: u32,
}

impl LaneRx {
    /// Packets waiting (acquire load of the producer's index).
    pub fn available(&self) -> usize {
        self.lanes.tails[self.lane as usize].load(Ordering::Acquire).wrapping_sub(self.head) as usize
    }

    /// The `k`-th waiting packet, `k` below what [`LaneRx::available`] returned.
    ///
    /// # Panics
    /// Never for such a `k`; for a `k` at or past the lane's depth, the slot is the wrong
    /// one (debug builds assert).
    pub fn slot(&self, k: usize) -> &Slot {
        debug_assert!(k <= self.lanes.mask as usize);
        // SAFETY: positions below the tail the caller observed (acquire) were written by the
        // producer before its release store and are not written again until our head passes
        // them; `&self` ties the reference to this end, and `advance` takes `&mut self`.
        self.lanes.slot(self.lane, self.head.wrapping_add(k as u32)).with(|s| unsafe { &*s })
    }

    /// The address of the next waiting packet's slot (to prefetch; nothing is read).
    pub fn next_addr(&self) -> *const u8 {
        self.lanes.slot(self.lane, self.head) as *const Cell<Slot> as *const u8
    }

    /// Hands the first `n` waiting packets back to the producer (`n` at most what
    /// [`LaneRx::available`] returned); each pooled payload among them goes to `release`.
    pub fn advance(&mut self, n: usize, mut release: impl FnMut(Pooled<Packet>)) {
        let l = &*self.lanes;
        for _ in 0..n {
            // SAFETY: as in `slot`: this position is ours until the store below.
            if let Some(p) = l.slot(self.lane, self.head).with_mut(|s| unsafe { (*s).big.take() }) {
                release(p);
            }
            self.head = self.head.wrapping_add(1);
        }
        l.heads[self.lane as usize].store(self.head, Ordering::Release);
    }

    /// Takes the oldest packet: `f` sees it, then it is handed back. `None` when empty.
    pub fn pop_with<R>(&mut self, f: impl FnOnce(&Slot) -> R) -> Option<R> {
        if self.available() == 0 {
            return None;
        }
        let r = f(self.slot(0));
        self.advance(1, drop);
        Some(r)
    }

    /// Whether the producer end is gone (what is queued can still be read).
    pub fn is_abandoned(&self) -> bool {
        self.lanes.ends[self.lane as usize].load(Ordering::Relaxed) & PRODUCER == 0
    }
}

impl Drop for LaneRx {
    fn drop(&mut self) {
        self.lanes.drop_end(self.lane, CONSUMER);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn pool() -> Pool<Packet> {
        Pool::new(4, |_| Packet::new())
    }

    #[test]
    fn slots_are_position_major_and_a_cycle_reads_one_run() {
        let (pool, lanes) = (pool(), Lanes::new(3, 4));
        let mut ends: Vec<_> = (0..3).map(|i| Lanes::claim(&lanes, i).unwrap()).collect();
        for (i, (tx, _)) in ends.iter_mut().enumerate() {
            tx.push(&PacketMeta { ssrc: i as u32, ..PacketMeta::default() }, &[i as u8; 80], &pool).unwrap();
        }
        let addrs: Vec<usize> = ends.iter().map(|(_, rx)| rx.slot(0) as *const Slot as usize).collect();
        assert_eq!(addrs[1] - addrs[0], std::mem::size_of::<Slot>());
        assert_eq!(addrs[2] - addrs[1], std::mem::size_of::<Slot>());
        assert_eq!(std::mem::size_of::<Slot>(), 256);
        for (i, (_, rx)) in ends.iter_mut().enumerate() {
            assert_eq!(rx.pop_with(|s| (s.meta.ssrc, s.payload().to_vec())), Some((i as u32, vec![i as u8; 80])));
        }
    }

    #[test]
    fn a_lane_is_claimed_again_only_when_both_ends_are_gone_and_leftovers_go_back() {
        let (pool, lanes) = (pool(), Lanes::new(1, 2));
        let (mut tx, rx) = Lanes::claim(&lanes, 0).unwrap();
        tx.push(&PacketMeta::default(), &[1; 1000], &pool).unwrap();
        tx.push(&PacketMeta::default(), &[2; 10], &pool).unwrap();
        assert_eq!(pool.in_use(), 1);
        drop(rx);
        assert!(tx.is_abandoned());
        assert!(Lanes::claim(&lanes, 0).is_none());
        drop(tx);
        assert_eq!(pool.in_use(), 0);
        let (mut tx, mut rx) = Lanes::claim(&lanes, 0).unwrap();
        assert_eq!(rx.available(), 0);
        tx.push(&PacketMeta::default(), &[4; 5], &pool).unwrap();
        assert_eq!(rx.pop_with(|s| s.payload().to_vec()), Some(vec![4; 5]));
    }

    #[test]
    fn bad_pushes_are_typed_errors() {
        let (pool, lanes) = (Pool::new(0, |_| Packet::new()), Lanes::new(1, 1));
        let (mut tx, _rx) = Lanes::claim(&lanes, 0).unwrap();
        assert_eq!(tx.push(&PacketMeta::default(), &[0; MAX_PAYLOAD + 1], &pool), Err(PushError::TooLarge(1501)));
        assert!(matches!(tx.push(&PacketMeta::default(), &[0; 300], &pool), Err(PushError::PoolExhausted(_))));
        assert!(Lanes::claim(&lanes, 1).is_none());
    }
}
