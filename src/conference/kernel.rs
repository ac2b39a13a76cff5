//! The room kernel: a plain room's RTP legs run by one node, leg state in one contiguous
//! array, two sequential passes per cycle.
//!
//! In a room built of graph nodes every leg is an input endpoint, a decode node, a mixer
//! port, an encode node and an output endpoint, visited in five passes over all legs
//! (inputs, decodes, mix, encodes, outputs), each leg's state in a dozen heap objects (its
//! boxed nodes, arena packet slots, pooled packets). At 10,000 legs and more that working
//! set is past the last-level cache and every pass misses on every leg. [`RoomKernel`]
//! keeps each leg's [`DecodeNode`] (or, for a leg over a real network, a boxed
//! [`JitterBufferNode`]: [`LegDecode`]), [`EncodeNode`] and ring ends inline in one `Vec`
//! (`KernelLeg`), its decoded quantum in one contiguous buffer, and runs:
//!
//! 1. for each leg: its packets from its input lane (decoded in place from the lane's
//!    slot), one quantum into its row of `own`, added to the total;
//! 2. for each leg: total − own (mute, deaf and gains as the mixer applies them), encode,
//!    write the packet into its output lane.
//!
//! With a talker policy pass 1 observes each row instead of adding it
//! ([`TalkerSelection`]: its level, talking state and the dominant speaker's frame), then
//! chooses the heard legs and adds only their rows (at most the policy's talkers, read back
//! from the rows); pass 2 gives the heard legs total − own and every other leg the total,
//! or comfort noise when nobody is heard. The selection is indexed by port, so it survives
//! the legs' moves within the array, and a grown store's selection takes over the old one's
//! state on the worker. With shared encodes the kernel runs one [`EncodeNode`] per codec
//! variant ([`KernelShare`], up to [`SHARED_SLOTS`]) on what the listeners hear, and a leg
//! that hears exactly that splices its packet (`EncodeNode::encode_cycle_shared`).
//!
//! The lanes are the room's slabs ([`crate::sync::lanes`]): every leg's incoming and
//! outgoing packets inline, slot `k` of every lane side by side in lane order, so that in a
//! cycle where every leg gets a packet each pass streams through one contiguous run of
//! slots instead of loading a ring header, a ring slot and a 1.5 KB pooled packet per leg
//! (written by a host thread, often on another core). A payload over the slot's inline
//! bytes rides in a pooled packet; those go back to the pool in one compare-exchange per
//! batch ([`Pool::release_all`]), not one per packet.
//! Joins, leaves, codec switches and growth are messages carrying the leg (built on the
//! control side) in and out: the worker only moves it.
//!
//! A kernel with a [`Spread`] is one shard of a room spread over several workers
//! ([`super::RoomConfig::with_kernel_workers`]): pass 1 is a one-worker kernel's over its
//! own legs, whose total is then the shard's *partial* total; it publishes that one row to
//! the other shards ([`SharedRows`], one row per shard), waits, with a deadline, for
//! theirs, and the room's total is the partials summed in shard order (the same bits in
//! every shard); pass 2 is a one-worker kernel's. No shard reads another's legs: what
//! crosses cores is one quantum per shard per cycle. The deadline leaves pass 2 its
//! measured CPU time before the quantum ends ([`PartnerDeadline`]): a partner late past it goes
//! unheard by this shard's legs for that cycle (counted in `late_partners`). With a talker
//! policy a shard publishes instead its legs that may be heard ([`Claim`]s) with their rows,
//! and every shard chooses the room's talkers from all of them alike
//! ([`TalkerSelection::select_claims`]; `RoomKernel::choose_across_shards`), and its part
//! in the dominant-speaker choice, which the first shard makes
//! ([`TalkerSelection::settle_dominant`]).

use super::spread::Spread;
use crate::engine::rt::{now_ns, thread_cpu_ns};
use crate::engine::PacketPool;
use crate::sync::lanes::{LaneRx, LaneTx, PushError};
use crate::sync::pool::{Pool, Pooled};
use crate::sync::seqlock::SeqLockSlice;
use rvoip_media_graph::{
    prefetch, prefetch_lines, prefetch_value, MessageError, NodeSpec, Packet, PacketMeta, PacketSlot, ProcessIo,
    Processor, Quantum,
};
use rvoip_media_nodes::codec::{
    DecodeNode, EncodeNode, SwitchDecoder, SwitchEncoder, DECODE_TELEMETRY, ENCODE_TELEMETRY,
};
use rvoip_media_nodes::jitter::{JitterBufferNode, JitterReport, JITTER_TELEMETRY};
use rvoip_media_nodes::kernels;
use rvoip_media_nodes::level::{audio_level, mean_square};
use rvoip_media_nodes::mixer::{
    Claim, EventOut, EventSender, Hear, HeardSink, MemberSettings, MemberUpdate, TalkerPolicy, TalkerSelection,
    MAX_HEARD,
};
use std::any::Any;
use std::sync::Arc;

/// No leg at this port.
const NONE: u32 = u32::MAX;

/// The dense index in `index` (a store's, by port) of the leg at `port`, if one is there.
fn dense_at(index: &[u32], port: usize) -> Option<usize> {
    index.get(port).copied().filter(|&i| i != NONE).map(|i| i as usize)
}

/// Software pipelining over the legs: a pass starts loading the leg's own lines this far
/// ahead...
const FAR: usize = 12;
/// ...then its lane's slot and its codec's state.
const NEAR: usize = 4;
/// The same for the legs whose counters a cycle publishes (every `telemetry_interval`-th):
/// a leg's lines and its counters' first line this many publications ahead...
const PUBLISH_FAR: usize = 4;
/// ...then its counters' words.
const PUBLISH_NEAR: usize = 2;
/// Cache lines of a lane slot a pass reads or writes (header and the first 144 payload
/// bytes: a 20 ms G.711 packet but 16 bytes).
const SLOT_LINES: usize = 3;
/// Leftover packets handed back to the pool per compare-exchange.
const RELEASE_BATCH: usize = 64;
/// Values a leg publishes: its decoder's 8 ([`DECODE_TELEMETRY`]; 0 for a leg with a
/// jitter buffer), its encoder's ([`ENCODE_TELEMETRY`]: the shared-input counts 0 for a leg
/// that does not splice), then ring-full and pool-exhausted drops; a leg with a jitter
/// buffer then its [`JitterReport`] ([`JITTER_TELEMETRY`]'s order).
pub(super) const LEG_TELEMETRY: usize = DECODE_TELEMETRY.len() + ENCODE_TELEMETRY.len() + 2;
/// Shared encodes a kernel room runs at most (one per codec variant of its legs).
pub(crate) const SHARED_SLOTS: usize = 8;
/// A leg that encodes every quantum itself.
const NO_SLOT: u8 = u8::MAX;
/// Talkers a policy room spread over several workers
/// ([`RoomConfig::with_kernel_workers`](super::RoomConfig::with_kernel_workers)) hears at
/// most: each shard publishes twice as many claims, with their rows, every cycle.
///
/// ```
/// use rvoip_media_core::conference::{Room, RoomConfig, MAX_SPREAD_TALKERS};
/// use rvoip_media_core::prelude::*;
/// use rvoip_media_nodes::mixer::TalkerPolicy;
/// let (engine, _drivers) = Engine::driven_workers(EngineConfig::default(), 2).unwrap();
/// let loudest = |n| RoomConfig::new(AudioFormat::mono(8000)).with_kernel_workers(2)
///     .with_policy(TalkerPolicy { max_talkers: n, ..TalkerPolicy::default() });
/// assert!(Room::with_config(&engine, loudest(MAX_SPREAD_TALKERS)).is_ok());
/// let e = Room::with_config(&engine, loudest(MAX_SPREAD_TALKERS + 1));
/// assert!(matches!(e, Err(EngineError::NodeSetup { .. })));
/// ```
pub const MAX_SPREAD_TALKERS: usize = 8;
/// Values a leg with a jitter buffer publishes.
pub(super) const BUFFERED_LEG_TELEMETRY: usize = LEG_TELEMETRY + JITTER_TELEMETRY.len();

/// What a kernel leg decodes its packets with. The plain decoder stays inline (the
/// kernel's point: no pointer to chase per leg on the hot path); the buffer, much larger and
/// for legs that pay for it anyway, is boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum LegDecode {
    /// A decoder with concealment, for packets that come on time (loopback, a LAN, a host
    /// that buffers).
    Plain(DecodeNode),
    /// An adaptive jitter buffer driving the decoder, for a leg over a real network.
    Buffered(Box<JitterBufferNode>),
}

impl LegDecode {
    /// The cycle's packets in, one quantum out; the bad-input events.
    fn decode_cycle<'p>(
        &mut self,
        packets: impl ExactSizeIterator<Item = (&'p PacketMeta, &'p [u8])> + Clone,
        out: &mut [f32],
    ) -> u32 {
        match self {
            LegDecode::Plain(d) => d.decode_cycle(packets, out),
            LegDecode::Buffered(j) => j.play_cycle(packets, out),
        }
    }

    fn prefetch(&self) {
        match self {
            LegDecode::Plain(d) => d.prefetch(),
            LegDecode::Buffered(j) => prefetch_value(&**j),
        }
    }

    fn reset(&mut self) {
        match self {
            LegDecode::Plain(d) => d.reset(),
            LegDecode::Buffered(j) => j.reset(),
        }
    }

    /// Into `out` (zeros): a plain decoder's values in the first [`DECODE_TELEMETRY`]
    /// slots; a buffer's report after the leg's values instead (the report has the
    /// decoder's figures).
    fn telemetry(&self, out: &mut [f64]) {
        match self {
            LegDecode::Plain(d) => d.telemetry(&mut out[..DECODE_TELEMETRY.len()]),
            LegDecode::Buffered(j) => {
                if let Some(tail) = out.get_mut(LEG_TELEMETRY..BUFFERED_LEG_TELEMETRY) {
                    JitterReport::of(j.buffer()).write(tail);
                }
            }
        }
    }

    fn switch(&mut self, m: &mut SwitchDecoder) -> Result<(), MessageError> {
        match self {
            LegDecode::Plain(d) => d.message(m),
            LegDecode::Buffered(_) => {
                Err(MessageError::Invalid("a leg with a jitter buffer takes no live codec switch"))
            }
        }
    }

    /// Values its leg publishes.
    fn telemetry_len(&self) -> usize {
        match self {
            LegDecode::Plain(_) => LEG_TELEMETRY,
            LegDecode::Buffered(_) => BUFFERED_LEG_TELEMETRY,
        }
    }
}

/// One RTP leg of a kernel room. Fields in the order the passes read them (the first pass
/// the first line and the decoder, the second the encoder and the output ring).
#[repr(C)]
pub(crate) struct KernelLeg {
    rx: LaneRx,
    settings: MemberSettings,
    in_mix: bool,
    port: u32,
    decode: LegDecode,
    encode: EncodeNode,
    tx: LaneTx,
    ring_full: u64,
    pool_exhausted: u64,
    stats: Arc<SeqLockSlice>,
    /// The shared encode it splices from when it hears the shared mix ([`NO_SLOT`]: none).
    shared: u8,
}

/// Starts loading the first [`SLOT_LINES`] lines of a lane slot at `base`.
fn prefetch_slot(base: *const u8) {
    for k in 0..SLOT_LINES {
        prefetch(base.wrapping_add(64 * k));
    }
}

impl KernelLeg {
    /// A leg at mixer port `port` (control side).
    pub(crate) fn new(
        port: usize,
        decode: LegDecode,
        encode: EncodeNode,
        rx: LaneRx,
        tx: LaneTx,
        settings: MemberSettings,
    ) -> (KernelLeg, Arc<SeqLockSlice>) {
        let stats = Arc::new(SeqLockSlice::new(decode.telemetry_len()));
        let leg = KernelLeg {
            rx,
            settings,
            in_mix: false,
            port: port as u32,
            decode,
            encode,
            tx,
            ring_full: 0,
            pool_exhausted: 0,
            stats: stats.clone(),
            shared: NO_SLOT,
        };
        (leg, stats)
    }

    /// The same leg splicing from shared encode `slot` (below [`SHARED_SLOTS`]) whenever it
    /// hears the shared mix; its encoder must have a shared input
    /// ([`EncodeNode::with_shared_input`]).
    pub(crate) fn with_shared_slot(mut self, slot: usize) -> KernelLeg {
        self.shared = if slot < SHARED_SLOTS { slot as u8 } else { NO_SLOT };
        self
    }

    /// Writes the leg's counters into its cell (worker, every few cycles).
    fn publish(&self) {
        let mut v = [0.0f64; BUFFERED_LEG_TELEMETRY];
        self.decode.telemetry(&mut v);
        let drops = DECODE_TELEMETRY.len() + ENCODE_TELEMETRY.len();
        self.encode.telemetry(&mut v[DECODE_TELEMETRY.len()..drops]);
        v[drops] = self.ring_full as f64;
        v[drops + 1] = self.pool_exhausted as f64;
        let n = self.decode.telemetry_len();
        let mut words = [0u64; BUFFERED_LEG_TELEMETRY];
        for (w, v) in words.iter_mut().zip(&v[..n]) {
            *w = v.to_bits();
        }
        self.stats.write(&words[..n]);
    }
}

/// The kernel's legs and the rows they decode into; replaced whole when the room grows.
pub(crate) struct KernelStore {
    legs: Vec<KernelLeg>,
    /// Dense index of the leg at each port ([`NONE`]: none).
    index: Vec<u32>,
    /// One quantum per leg, in the legs' order.
    own: Box<[f32]>,
    /// The legs' ports, in the legs' order (a policy room's member list).
    ports: Vec<usize>,
    /// A policy room's talker selection, for every port of the store.
    select: Option<Box<TalkerSelection>>,
}

impl KernelStore {
    /// Room for `capacity` legs of `quantum_len` samples (control side).
    pub(crate) fn new(capacity: usize, quantum_len: usize) -> KernelStore {
        KernelStore::with_ports(capacity, capacity, quantum_len)
    }

    /// Room for `capacity` legs on ports below `ports` (a shard of a spread room holds the
    /// legs of some of the room's ports).
    ///
    /// Every page of the store is written here, so that the worker that moves a room's legs
    /// into it when the room grows does not fault fresh pages in (at 16,384 legs that was
    /// most of a 37 ms cycle).
    pub(crate) fn with_ports(capacity: usize, ports: usize, quantum_len: usize) -> KernelStore {
        let mut legs = std::hint::black_box(Vec::with_capacity(capacity));
        legs.spare_capacity_mut().fill_with(std::mem::MaybeUninit::zeroed);
        let mut own = std::hint::black_box(vec![0.0f32; capacity * quantum_len]);
        own.iter_mut().step_by(1024).for_each(|x| *x = 0.0);
        KernelStore {
            legs,
            index: vec![NONE; ports],
            own: own.into_boxed_slice(),
            ports: Vec::with_capacity(capacity),
            select: None,
        }
    }

    /// The same store choosing whom everyone hears by `policy` at `quantum`, of
    /// `quantum_len` samples, for every port of the store (control side).
    pub(crate) fn with_policy(mut self, policy: TalkerPolicy, quantum: Quantum, quantum_len: usize) -> KernelStore {
        self.select = Some(Box::new(TalkerSelection::new(policy, self.index.len(), quantum, quantum_len)));
        self
    }
}

/// Message: a leg joins (it must fit the store's capacity; refused legs ride back).
pub(crate) struct KernelJoin(pub(crate) Option<KernelLeg>);

/// Message: the leg at `port` leaves; after delivery the message holds it (its ring ends
/// are dropped on the control side, which tells the host's endpoints).
pub(crate) struct KernelLeave {
    pub(crate) port: usize,
    pub(crate) leg: Option<KernelLeg>,
}

/// Message: the leg at `port` switches codecs (what [`DecodeNode`] and [`EncodeNode`] take);
/// after delivery it holds what they let go of.
pub(crate) struct KernelSwitch {
    pub(crate) port: usize,
    pub(crate) decoder: SwitchDecoder,
    pub(crate) encoder: SwitchEncoder,
}

/// A cycle's list of the legs in the mix for a policy room's heard board: (port, RFC 6464
/// level of its row), published in port order, as a room of nodes lists its members. Without
/// a board nothing is measured.
struct HeardList<'b> {
    board: Option<&'b dyn HeardSink>,
    list: [(u32, u8); MAX_HEARD],
    len: usize,
}

impl<'b> HeardList<'b> {
    fn for_board(board: Option<&'b dyn HeardSink>) -> HeardList<'b> {
        HeardList { board, list: [(0, 0); MAX_HEARD], len: 0 }
    }

    /// Port `port` is in the mix with `row`.
    fn push(&mut self, port: usize, row: &[f32]) {
        if let (Some(_), Some(e)) = (self.board, self.list.get_mut(self.len)) {
            *e = (port as u32, audio_level(mean_square(row)));
            self.len += 1;
        }
    }

    fn publish(mut self) {
        if let Some(board) = self.board {
            let list = &mut self.list[..self.len];
            list.sort_unstable_by_key(|e| e.0);
            board.publish(list);
        }
    }
}

/// Message: shared encode `slot` runs `encode` (or stops, `None`); after delivery the
/// message holds what the slot held (dropped on the control side).
pub(crate) struct KernelShare {
    pub(crate) slot: usize,
    pub(crate) encode: Option<Box<EncodeNode>>,
}

/// A shared encode of a policy room: every listener who hears the shared mix with its codec
/// variant splices this encoder's packet into its own stream.
struct SharedSlot {
    encode: Option<Box<EncodeNode>>,
    packet: PacketSlot,
}

/// Message: a larger store; the legs move into it, the old one rides back.
pub(crate) struct KernelGrow(pub(crate) KernelStore);

/// The node running a kernel room's legs (see the module docs). No ports: the legs' packets
/// come and go through their own rings.
///
/// Telemetry: as a [`rvoip_media_nodes::Mixer`]'s (`members`, `bad_inputs`, `talking`,
/// `heard`, `dominant` (−1: none), `events_dropped`; the talker values 0 and −1 without a
/// policy), then `ring_full_drops`, `pool_exhausted_drops` (all legs, since the start),
/// for a shard of a spread room `late_partners`, `unpublished_rows` and `wait_cpu_ns`
/// (the worker's CPU time spent waiting for the others' rows) ([`Spread`]), and
/// `shared_encoder_packets` (packets of the shared encodes, all variants).
pub(crate) struct RoomKernel {
    store: KernelStore,
    spread: Option<Spread>,
    quantum_len: usize,
    total: Box<[f32]>,
    heard: Box<[f32]>,
    scratch: PacketSlot,
    release: Vec<Pooled<Packet>>,
    pool: PacketPool,
    packets_per_cycle: usize,
    telemetry_every: usize,
    cycle: u64,
    bad_inputs: u64,
    ring_full: u64,
    pool_exhausted: u64,
    /// Where a policy room's talking and dominant-speaker changes go.
    events: EventOut,
    /// Legs in this cycle's mix (a policy room: at most its talkers).
    mixed: usize,
    /// A policy room's shared encodes, by slot.
    shared: Box<[SharedSlot]>,
    /// Where a policy room publishes who it mixed each cycle (RFC 6465 lists).
    heard_board: Option<Arc<dyn HeardSink>>,
}

/// [`RoomKernel`]'s telemetry names.
const KERNEL_TELEMETRY: &[&str] = &[
    "members",
    "bad_inputs",
    "talking",
    "heard",
    "dominant",
    "events_dropped",
    "ring_full_drops",
    "pool_exhausted_drops",
    "late_partners",
    "unpublished_rows",
    "wait_cpu_ns",
    "shared_encoder_packets",
];

impl RoomKernel {
    /// A kernel for `capacity` legs of `quantum_len` samples, taking output packets from
    /// `pool` when a leg has none to recycle (control side).
    pub(crate) fn new(
        capacity: usize,
        quantum_len: usize,
        pool: PacketPool,
        packets_per_cycle: usize,
        telemetry_every: u32,
    ) -> RoomKernel {
        let ppc = packets_per_cycle.max(1);
        RoomKernel {
            store: KernelStore::new(capacity, quantum_len),
            spread: None,
            quantum_len,
            total: vec![0.0; quantum_len].into_boxed_slice(),
            heard: vec![0.0; quantum_len].into_boxed_slice(),
            scratch: PacketSlot::new(),
            release: Vec::with_capacity(RELEASE_BATCH),
            pool,
            packets_per_cycle: ppc,
            telemetry_every: telemetry_every.max(1) as usize,
            cycle: 0,
            bad_inputs: 0,
            ring_full: 0,
            pool_exhausted: 0,
            events: EventOut::default(),
            mixed: 0,
            shared: (0..SHARED_SLOTS).map(|_| SharedSlot { encode: None, packet: PacketSlot::new() }).collect(),
            heard_board: None,
        }
    }

    /// The same kernel choosing whom everyone hears by `policy` (loudest-N with
    /// hysteresis, comfort noise, the dominant speaker: [`TalkerSelection`]), reporting
    /// talking and dominant-speaker changes into `events` (control side; a shard of a spread
    /// room after [`RoomKernel::into_shard`]).
    pub(crate) fn with_policy(mut self, policy: TalkerPolicy, quantum: Quantum, events: EventSender) -> RoomKernel {
        let store = std::mem::replace(&mut self.store, KernelStore::new(0, 0));
        self.store = store.with_policy(policy, quantum, self.quantum_len);
        self.events = EventOut::new(events);
        self
    }

    /// The same kernel publishing, each cycle, the members its policy mixed and their levels
    /// into `board` ([`Mixer::with_heard_board`](rvoip_media_nodes::Mixer::with_heard_board)'s
    /// list; control side). Without a policy nothing is published.
    pub(crate) fn with_heard_board(mut self, board: Arc<dyn HeardSink>) -> RoomKernel {
        self.heard_board = Some(board);
        self
    }

    /// Packets the shared encodes have sent (control side, for telemetry).
    fn shared_packets(&self) -> u64 {
        self.shared.iter().filter_map(|s| s.encode.as_deref()).map(EncodeNode::packets).sum()
    }

    /// The same kernel as shard `spread` of a spread room, for the legs of its ports of the
    /// room's `ports` (control side).
    pub(crate) fn into_shard(mut self, spread: Spread, capacity: usize, ports: usize) -> RoomKernel {
        self.store = KernelStore::with_ports(capacity, ports, self.quantum_len);
        self.spread = Some(spread);
        self
    }

    fn dense(&self, port: usize) -> Option<usize> {
        dense_at(&self.store.index, port)
    }

    /// Queues a leftover packet for the cycle's batched release.
    fn give_back(release: &mut Vec<Pooled<Packet>>, pool: &Pool<Packet>, p: Pooled<Packet>) {
        if release.len() == release.capacity() {
            pool.release_all(release);
        }
        release.push(p);
    }

    /// Adds a leg's row `own` to `total` as `s` says; false (`total` then needs rebuilding
    /// without it) for a row that is not finite.
    fn add_to_total(total: &mut [f32], s: &MemberSettings, own: &[f32]) -> bool {
        if s.input_gain == 1.0 {
            kernels::accumulate_sane(total, own)
        } else if kernels::all_sane(own) {
            s.add_to_mix(total, own);
            true
        } else {
            false
        }
    }

    /// Pass 1: every leg's packets decoded into its row of `rows` (one quantum per leg, in
    /// the legs' order), and the total of the legs in the mix added while each row is hot (a
    /// leg whose row is not finite leaves the mix this cycle). In a policy room each row is
    /// observed instead, and once every leg has been the heard ones' rows are added. For a
    /// shard of a spread room this total is the shard's part of the room's. Returns the
    /// bad-input events.
    fn decode_and_sum(&mut self, rows: &mut [f32], spread: bool) -> u32 {
        let q = self.quantum_len;
        let mut total = std::mem::take(&mut self.total);
        total.fill(0.0);
        let mut select = self.store.select.take();
        let (mut errors, mut rebuild) = (0u32, false);
        let legs = &mut self.store.legs[..];
        let (release, pool) = (&mut self.release, &self.pool);
        for (i, own) in rows.chunks_exact_mut(q).take(legs.len()).enumerate() {
            if let Some(far) = legs.get(i + FAR) {
                // What this pass reads of the leg: its first line (lane end, settings) and
                // its decoder.
                prefetch_lines(far, 1);
                prefetch_value(&far.decode);
            }
            if let Some(near) = legs.get(i + NEAR) {
                prefetch_slot(near.rx.next_addr());
                near.decode.prefetch();
            }
            let leg = &mut legs[i];
            // A burst: everything queued, up to the engine's packets per cycle.
            let n = leg.rx.available().min(self.packets_per_cycle);
            let rx = &leg.rx;
            let packets = (0..n).map(|k| {
                let s = rx.slot(k);
                (&s.meta, s.payload())
            });
            errors = errors.saturating_add(leg.decode.decode_cycle(packets, own));
            leg.rx.advance(n, |p| Self::give_back(release, pool, p));
            let s = &leg.settings;
            if let Some(sel) = select.as_deref_mut() {
                // Whether it is heard is known once every leg is observed (below).
                leg.in_mix = false;
                if let Some(ev) = sel.observe(leg.port as usize, own, false, s) {
                    self.events.emit(self.cycle, ev);
                }
                continue;
            }
            leg.in_mix = !s.muted;
            if leg.in_mix && !Self::add_to_total(&mut total, s, own) {
                leg.in_mix = false;
                rebuild = true;
                self.bad_inputs += 1;
                errors = errors.saturating_add(1);
            }
        }
        self.mixed = 0;
        // A spread room's shard chooses with the others, after pass 1 (`choose_across_shards`).
        if let Some(sel) = select.as_deref_mut().filter(|_| !spread) {
            let (index, legs) = (&self.store.index, &mut self.store.legs);
            if let Some(ev) = sel.select(&self.store.ports, |p| legs[index[p] as usize].settings.muted, q) {
                self.events.emit(self.cycle, ev);
            }
            let mut list = HeardList::for_board(self.heard_board.as_deref());
            for &p in sel.heard() {
                let i = index[p] as usize;
                let leg = &mut legs[i];
                let own = &rows[i * q..(i + 1) * q];
                if Self::add_to_total(&mut total, &leg.settings, own) {
                    leg.in_mix = true;
                    list.push(p, own);
                    self.mixed += 1;
                } else {
                    rebuild = true;
                    self.bad_inputs += 1;
                    errors = errors.saturating_add(1);
                }
            }
            list.publish();
        }
        self.store.select = select;
        if rebuild {
            // Rare: a row that was not finite; the total again without it.
            total.fill(0.0);
            for (leg, own) in self.store.legs.iter().zip(rows.chunks_exact(q)) {
                if leg.in_mix {
                    leg.settings.add_to_mix(&mut total, own);
                }
            }
        }
        self.total = total;
        errors
    }

    /// A policy room's shard after pass 1 (its legs observed, their rows in `rows`): its
    /// legs' [`Claim`]s, each with its contribution to the mix (input gain applied), out to
    /// the other shards and theirs in ([`Spread::exchange_claims`]); the room's choice made
    /// from all of them as every shard makes it ([`TalkerSelection::select_claims`]); the
    /// total of the heard rows, added in the heard list's order (the same bits on every
    /// shard). A claimed row that is not finite is claimed as not eligible (a bad input).
    /// Returns the bad-input events.
    fn choose_across_shards(&mut self, sp: &mut Spread, now: u64, rows: &[f32]) -> u32 {
        let q = self.quantum_len;
        let Some(mut select) = self.store.select.take() else { return 0 };
        let (index, legs) = (&self.store.index, &mut self.store.legs);
        let mut claims = [Claim::default(); 2 * MAX_SPREAD_TALKERS];
        let c = sp.claims_per_shard.min(claims.len());
        let n = select.claims(&self.store.ports, |p| legs[index[p] as usize].settings.muted, &mut claims[..c]);
        let holds = |p: usize| dense_at(index, p).is_some();
        let dominant = select.dominant_claim(&self.store.ports, holds, q, sp.last);
        let row = |port: u32| {
            let i = index[port as usize] as usize;
            (&legs[i].settings, &rows[i * q..(i + 1) * q])
        };
        let mut errors = 0u32;
        for claim in claims[..n].iter_mut().filter(|c| c.eligible) {
            if !kernels::all_sane(row(claim.port).1) {
                claim.eligible = false;
                self.bad_inputs += 1;
                errors = errors.saturating_add(1);
            }
        }
        sp.exchange_claims(now, &claims[..n], &dominant, |claim, dst| {
            let (s, x) = row(claim.port);
            dst.fill(0.0);
            if claim.eligible {
                s.add_to_mix(dst, x);
            }
        });
        select.select_claims(&mut sp.claims);
        if let Some(ev) = select.settle_dominant(&sp.dominant, sp.shard == 0) {
            self.events.emit(self.cycle, ev);
        }
        let total = &mut self.total[..q];
        total.fill(0.0);
        self.mixed = 0;
        let mut list = HeardList::for_board(self.heard_board.as_deref());
        for &p in select.heard() {
            if let Some(x) = sp.claim_row(p) {
                kernels::accumulate(total, x);
                list.push(p, x);
                self.mixed += 1;
            }
            if let Some(i) = dense_at(index, p) {
                legs[i].in_mix = true;
            }
        }
        list.publish();
        self.store.select = Some(select);
        errors
    }

    /// What a leg with a mix of its own hears, into `heard`: silence when deaf; in the mix,
    /// the total without its row `own` (comfort noise `lone_noise` for the only heard
    /// talker); otherwise what the listeners hear. Gains as a mixer applies them.
    fn own_mix(
        heard: &mut [f32],
        total: &[f32],
        listeners_hear: &[f32],
        own: &[f32],
        s: &MemberSettings,
        in_mix: bool,
        lone_noise: Option<&[f32]>,
    ) {
        if s.deaf {
            heard.fill(0.0);
        } else if in_mix {
            s.hear_in_mix(heard, total, own, lone_noise);
        } else {
            kernels::gain(heard, listeners_hear, s.output_gain);
        }
    }

    /// Pass 2: every leg in the mix hears the total without itself (its row of `rows`, as
    /// pass 1 decoded it), every other the total (in a policy room: the heard talkers, or
    /// comfort noise when nobody is heard, which a lone heard talker hears too); each
    /// encodes and sends. Returns the bad-input events.
    fn encode_and_send(&mut self, now: u64, rows: &[f32]) -> u32 {
        let q = self.quantum_len;
        let mut errors = 0u32;
        let mut select = self.store.select.take();
        let noise = select.as_deref_mut().and_then(|s| s.comfort_noise(q, self.mixed));
        let (total, heard) = (&self.total[..], &mut self.heard[..]);
        let lone = self.mixed == 1;
        let listeners_hear = if self.mixed == 0 { noise.unwrap_or(total) } else { total };
        // The shared encodes first: their packets are this cycle's for every splicing leg.
        for slot in self.shared.iter_mut() {
            if let Some(e) = slot.encode.as_mut() {
                errors = errors.saturating_add(e.encode_cycle(listeners_hear, &mut slot.packet));
            }
        }
        let shared = &self.shared;
        let legs = &mut self.store.legs[..];
        for (i, own) in rows.chunks_exact(q).take(legs.len()).enumerate() {
            if let Some(far) = legs.get(i + FAR) {
                // What this pass reads of the leg: its encoder and lane end.
                prefetch_value(&far.encode);
                prefetch_lines(&far.tx, 1);
            }
            if let Some(near) = legs.get(i + NEAR) {
                prefetch_slot(near.tx.next_addr());
                near.encode.prefetch();
            }
            let leg = &mut legs[i];
            let s = leg.settings;
            if let Some(slot) = shared.get(usize::from(leg.shared)) {
                // A splicing leg: the shared encode's packet when it hears the shared mix
                // (as a policy mixer marks it), nothing when deaf, else its own mix.
                if s.deaf {
                    heard.fill(0.0);
                    let e = leg.encode.encode_cycle_shared(heard, Hear::Nothing, None, &mut self.scratch);
                    errors = errors.saturating_add(e);
                } else if !leg.in_mix && s.output_gain == 1.0 {
                    let p = slot.packet.get();
                    let e = leg.encode.encode_cycle_shared(listeners_hear, Hear::Shared, p, &mut self.scratch);
                    errors = errors.saturating_add(e);
                } else {
                    Self::own_mix(heard, total, listeners_hear, own, &s, leg.in_mix, noise.filter(|_| lone));
                    let e = leg.encode.encode_cycle_shared(heard, Hear::Own, None, &mut self.scratch);
                    errors = errors.saturating_add(e);
                }
            } else {
                Self::own_mix(heard, total, listeners_hear, own, &s, leg.in_mix, noise.filter(|_| lone));
                errors = errors.saturating_add(leg.encode.encode_cycle(heard, &mut self.scratch));
            }
            let Some(p) = self.scratch.get() else { continue };
            let meta = PacketMeta { arrival_ns: now, ..p.meta };
            match leg.tx.push(&meta, p.payload(), &self.pool) {
                Ok(()) => {}
                Err(PushError::Full) => {
                    leg.ring_full += 1;
                    self.ring_full += 1;
                }
                Err(PushError::PoolExhausted(_)) => {
                    leg.pool_exhausted += 1;
                    self.pool_exhausted += 1;
                }
                // Same capacity on both sides: unreachable.
                Err(PushError::TooLarge(_)) => errors = errors.saturating_add(1),
            }
        }
        self.store.select = select;
        errors
    }

    /// Publishes the counters of every `telemetry_every`-th leg, a different stride each
    /// cycle (each leg once per `telemetry_every` cycles).
    fn publish_legs(&mut self) {
        let every = self.telemetry_every;
        let legs = &self.store.legs;
        let mut i = (self.cycle % every as u64) as usize;
        while let Some(leg) = legs.get(i) {
            // Legs `every` apart lie pages apart and a cycle left none of them in the cache:
            // a leg's lines and its counters' sequence word are loaded a few publications
            // ahead, its counters' words (through the pointer that loaded) a few less.
            if let Some(far) = legs.get(i + PUBLISH_FAR * every) {
                prefetch_value(far);
                prefetch_value(&*far.stats);
            }
            if let Some(near) = legs.get(i + PUBLISH_NEAR * every) {
                let (words, bytes) = (near.stats.words_addr(), 8 * near.stats.len());
                for at in (0..bytes).step_by(64).chain(bytes.checked_sub(1)) {
                    prefetch(words.wrapping_add(at));
                }
            }
            leg.publish();
            i += every;
        }
    }

    fn join(&mut self, msg: &mut KernelJoin) -> Result<(), MessageError> {
        let port = msg.0.as_ref().map_or(usize::MAX, |l| l.port as usize);
        let legs = &self.store.legs;
        if port >= self.store.index.len() || legs.len() == legs.capacity() || self.dense(port).is_some() {
            return Err(MessageError::Invalid("no free kernel place at this port"));
        }
        let Some(leg) = msg.0.take() else { return Err(MessageError::Invalid("empty join")) };
        self.store.index[port] = self.store.legs.len() as u32;
        self.store.legs.push(leg);
        // Within its capacity, as the legs'.
        self.store.ports.push(port);
        Ok(())
    }

    fn leave(&mut self, msg: &mut KernelLeave) -> Result<(), MessageError> {
        let Some(i) = self.dense(msg.port) else { return Err(MessageError::Invalid("no leg at this port")) };
        let leg = self.store.legs.swap_remove(i);
        self.store.ports.swap_remove(i);
        self.store.index[msg.port] = NONE;
        if let Some(ev) = self.store.select.as_deref_mut().and_then(|s| s.forget(msg.port)) {
            // Between cycles: the next one's.
            self.events.emit(self.cycle + 1, ev);
        }
        if let Some(moved) = self.store.legs.get(i) {
            self.store.index[moved.port as usize] = i as u32;
        }
        // The last packets counted before the leg goes.
        leg.publish();
        msg.leg = Some(leg);
        Ok(())
    }

    fn grow(&mut self, msg: &mut KernelGrow) -> Result<(), MessageError> {
        let new = &mut msg.0;
        let q = self.quantum_len;
        let n = self.store.legs.len();
        let small = new.legs.capacity() < n
            || new.ports.capacity() < n
            || new.index.len() < self.store.index.len()
            || new.own.len() < n * q
            || new.select.is_some() != self.store.select.is_some();
        if small {
            return Err(MessageError::Invalid("a store smaller than the kernel's"));
        }
        // Moves only: the new vector has the capacity.
        new.legs.append(&mut self.store.legs);
        new.ports.append(&mut self.store.ports);
        if let (Some(new), Some(old)) = (new.select.as_deref_mut(), self.store.select.as_deref()) {
            new.take_over(old);
        }
        new.index[..self.store.index.len()].copy_from_slice(&self.store.index);
        new.own[..n * q].copy_from_slice(&self.store.own[..n * q]);
        std::mem::swap(&mut self.store, new);
        Ok(())
    }
}

impl Processor for RoomKernel {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("room kernel")
            .with_message::<KernelJoin>()
            .with_message::<KernelLeave>()
            .with_message::<KernelSwitch>()
            .with_message::<KernelGrow>()
            .with_message::<KernelShare>()
            .with_message::<MemberUpdate>()
            .with_telemetry(KERNEL_TELEMETRY)
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let now = now_ns();
        // The partition's cycle: events are stamped with it, as a mixer's are.
        self.cycle = io.cycle();
        let mut spread = self.spread.take();
        if let Some(sp) = spread.as_mut() {
            sp.start_cycle();
        }
        // The legs' rows, out of the store while both passes borrow the kernel.
        let mut own = std::mem::take(&mut self.store.own);
        let mut errors = self.decode_and_sum(&mut own, spread.is_some());
        if let Some(sp) = spread.as_mut() {
            if self.store.select.is_some() {
                errors = errors.saturating_add(self.choose_across_shards(sp, now, &own));
            } else {
                sp.add_partners(now, &mut self.total);
            }
        }
        // Pass 2's CPU time, for the partners' deadline (a stall is not time it needs).
        let pass2 = if spread.is_some() { thread_cpu_ns() } else { 0 };
        errors = errors.saturating_add(self.encode_and_send(now, &own));
        self.store.own = own;
        if let Some(sp) = spread.as_mut() {
            sp.deadline.record_pass2(thread_cpu_ns().saturating_sub(pass2));
            sp.rows.finish_cycle(sp.shard, sp.last);
        }
        self.spread = spread;
        if !self.release.is_empty() {
            self.pool.release_all(&mut self.release);
        }
        self.publish_legs();
        for _ in 0..errors {
            io.report_error();
        }
    }

    fn reset(&mut self) {
        for leg in self.store.legs.iter_mut() {
            leg.decode.reset();
            leg.encode.reset();
        }
    }

    fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        if let Some(m) = msg.downcast_mut::<KernelJoin>() {
            return self.join(m);
        }
        if let Some(m) = msg.downcast_mut::<KernelLeave>() {
            return self.leave(m);
        }
        if let Some(m) = msg.downcast_mut::<KernelGrow>() {
            return self.grow(m);
        }
        if let Some(m) = msg.downcast_mut::<KernelShare>() {
            let Some(slot) = self.shared.get_mut(m.slot) else {
                return Err(MessageError::Invalid("no such shared slot"));
            };
            std::mem::swap(&mut slot.encode, &mut m.encode);
            slot.packet.clear();
            return Ok(());
        }
        if let Some(m) = msg.downcast_mut::<KernelSwitch>() {
            let Some(i) = self.dense(m.port) else { return Err(MessageError::Invalid("no leg at this port")) };
            let leg = &mut self.store.legs[i];
            leg.decode.switch(&mut m.decoder)?;
            return leg.encode.message(&mut m.encoder);
        }
        let u = msg.downcast_ref::<MemberUpdate>().ok_or(MessageError::WrongType)?;
        if !u.settings.is_valid() {
            return Err(MessageError::Invalid("a gain that is not finite or above +40 dB"));
        }
        let Some(i) = self.dense(u.port) else { return Err(MessageError::Invalid("no leg at this port")) };
        self.store.legs[i].settings = u.settings;
        Ok(())
    }

    fn telemetry(&self, out: &mut [f64]) {
        let sel = self.store.select.as_deref();
        let v = [
            self.store.legs.len() as f64,
            self.bad_inputs as f64,
            sel.map_or(0.0, |s| s.talking_count() as f64),
            sel.map_or(0.0, |s| s.heard().len() as f64),
            sel.and_then(TalkerSelection::dominant).map_or(-1.0, |d| d as f64),
            self.events.dropped() as f64,
            self.ring_full as f64,
            self.pool_exhausted as f64,
            self.spread.as_ref().map_or(0.0, |sp| sp.late as f64),
            self.spread.as_ref().map_or(0.0, |sp| sp.unpublished as f64),
            self.spread.as_ref().map_or(0.0, |sp| sp.waited_ns as f64),
            self.shared_packets() as f64,
        ];
        for (o, v) in out.iter_mut().zip(v) {
            *o = v;
        }
    }
}
