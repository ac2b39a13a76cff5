//! Host-side endpoints of a partition: one per graph input and output. Audio frames and
//! packets travel in pooled buffers through per-endpoint SPSC rings (rtrb); control values
//! are latest-value atomics. Nothing here blocks: a full ring or an exhausted pool is an
//! error returned to the caller (the value is not silently lost).

use super::frame::{AudioFrame, FramePool, PacketPool};
use super::partition::{WorkerInput, WorkerOutput};
use super::rt::now_ns;
use crate::sync::lanes::{LaneRx, LaneTx, Lanes, PushError};
use crate::sync::pool::{PoolExhausted, Pooled};
use rvoip_media_graph::{Packet, PacketMeta, PayloadTooLarge, PortKind};
use std::sync::Arc;

/// Why a push into an input endpoint failed. The data was not queued.
///
/// ```
/// use rvoip_media_core::engine::EndpointError;
/// use rvoip_media_core::prelude::*;
///
/// let a = PortKind::Audio(AudioFormat::mono(8000));
/// let mut b = GraphBuilder::new(Quantum::MS_10);
/// let (mic, out) = (b.add_input("mic", a), b.add_output("out", a));
/// b.connect(mic, 0, out, 0).unwrap();
/// let (engine, _driver) = Engine::driven(EngineConfig::default()).unwrap();
/// let mut part = engine.add_partition(b.build().unwrap()).unwrap();
/// let mut mic_in = part.io.take_audio_in("mic").unwrap();
/// // 10 ms at 8 kHz is 80 samples.
/// assert_eq!(mic_in.push(&[0.0; 160]), Err(EndpointError::WrongLength { expected: 80, got: 160 }));
/// // No cycle runs, so nothing takes the frames: the ring fills, and says so.
/// while mic_in.push(&[0.0; 80]).is_ok() {}
/// assert_eq!(mic_in.push(&[0.0; 80]), Err(EndpointError::RingFull));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The ring toward the worker is full (the worker is not consuming fast enough).
    #[error("input ring full")]
    RingFull,
    /// No free frame or packet in the engine's pool.
    #[error(transparent)]
    PoolExhausted(#[from] PoolExhausted),
    /// An audio push of the wrong length.
    #[error("expected {expected} samples per quantum, got {got}")]
    WrongLength {
        /// Samples per quantum of this input.
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// A payload over the packet capacity.
    #[error(transparent)]
    PayloadTooLarge(#[from] PayloadTooLarge),
    /// The graph input was removed (by an edit or with its partition): nothing reads this
    /// endpoint any more.
    #[error("the endpoint was removed from its graph")]
    Abandoned,
}

pub use crate::sync::control::{ControlCell, ControlShared};

/// Feeds one quantum of audio per cycle into a graph input.
pub struct AudioIn {
    pub(crate) ring: rtrb::Producer<Pooled<AudioFrame>>,
    pub(crate) pool: FramePool,
    pub(crate) samples: usize,
}

impl AudioIn {
    /// Samples (frames × channels) expected per push.
    pub fn samples_per_quantum(&self) -> usize {
        self.samples
    }

    /// Queues one quantum. Never blocks.
    ///
    /// # Errors
    /// [`EndpointError::Abandoned`] once the input was removed from its graph,
    /// [`EndpointError::WrongLength`], [`EndpointError::RingFull`],
    /// [`EndpointError::PoolExhausted`]; the samples were not queued.
    pub fn push(&mut self, samples: &[f32]) -> Result<(), EndpointError> {
        if self.ring.is_abandoned() {
            return Err(EndpointError::Abandoned);
        }
        if samples.len() != self.samples {
            return Err(EndpointError::WrongLength { expected: self.samples, got: samples.len() });
        }
        if self.ring.is_full() {
            return Err(EndpointError::RingFull);
        }
        let mut frame = self.pool.acquire()?;
        frame
            .copy_from(samples)
            .map_err(|_| EndpointError::WrongLength { expected: self.samples, got: samples.len() })?;
        self.ring.push(frame).map_err(|_| EndpointError::RingFull)
    }

    /// Queues one quantum of 16-bit samples (converted to `f32` in [-1, 1)).
    ///
    /// # Errors
    /// As [`AudioIn::push`].
    pub fn push_i16(&mut self, samples: &[i16]) -> Result<(), EndpointError> {
        if self.ring.is_abandoned() {
            return Err(EndpointError::Abandoned);
        }
        if samples.len() != self.samples {
            return Err(EndpointError::WrongLength { expected: self.samples, got: samples.len() });
        }
        if self.ring.is_full() {
            return Err(EndpointError::RingFull);
        }
        let mut frame = self.pool.acquire()?;
        frame
            .set_len(samples.len())
            .map_err(|_| EndpointError::WrongLength { expected: self.samples, got: samples.len() })?;
        for (d, s) in frame.samples_mut().iter_mut().zip(samples) {
            *d = f32::from(*s) / 32768.0;
        }
        self.ring.push(frame).map_err(|_| EndpointError::RingFull)
    }

    /// Quanta queued and not yet taken by the worker.
    pub fn queued(&self) -> usize {
        self.ring.buffer().capacity() - self.ring.slots()
    }

    /// Whether the input was removed from its graph (nothing will read what is pushed).
    pub fn is_abandoned(&self) -> bool {
        self.ring.is_abandoned()
    }
}

/// Receives one quantum of audio per cycle from a graph output.
pub struct AudioOut {
    pub(crate) ring: rtrb::Consumer<Pooled<AudioFrame>>,
}

impl AudioOut {
    /// The oldest produced frame, if any; dropping it returns it to the pool.
    pub fn pop(&mut self) -> Option<Pooled<AudioFrame>> {
        self.ring.pop().ok()
    }

    /// Copies the oldest frame into `out` (up to its length); returns the frame's length.
    pub fn pop_into(&mut self, out: &mut [f32]) -> Option<usize> {
        let f = self.pop()?;
        let n = f.samples().len().min(out.len());
        out[..n].copy_from_slice(&f.samples()[..n]);
        Some(f.samples().len())
    }

    /// Frames waiting.
    pub fn available(&self) -> usize {
        self.ring.slots()
    }

    /// Whether the output was removed from its graph: frames still queued can be popped,
    /// no new ones will come.
    pub fn is_abandoned(&self) -> bool {
        self.ring.is_abandoned()
    }
}

/// Feeds packets into a graph packet input. Each cycle the worker takes every packet
/// queued since the last one, in arrival order, up to the engine's
/// `packets_per_cycle` (the rest wait a cycle).
///
/// A kernel room's leg is fed the same way; its packets go into the room's slab of lanes
/// ([`crate::sync::lanes`]: the payload copied inline, no pooled packet for one of up to
/// [`INLINE`](crate::sync::lanes::INLINE) bytes) instead of a ring of pooled packets.
pub struct PacketIn {
    pub(crate) way: InWay,
    pub(crate) pool: PacketPool,
}

/// Where a [`PacketIn`]'s packets go.
pub(crate) enum InWay {
    /// A ring of pooled packets (a graph input).
    Ring(rtrb::Producer<Pooled<Packet>>),
    /// A lane of a kernel room's slab.
    Lane(LaneTx),
}

impl PacketIn {
    /// Queues a packet. Never blocks. `meta.arrival_ns` is kept as given; when it is 0 the
    /// packet is stamped with the monotonic clock now.
    ///
    /// # Errors
    /// [`EndpointError::Abandoned`] once the input was removed from its graph,
    /// [`EndpointError::RingFull`], [`EndpointError::PoolExhausted`],
    /// [`EndpointError::PayloadTooLarge`]; the packet was not queued.
    pub fn push(&mut self, mut meta: PacketMeta, payload: &[u8]) -> Result<(), EndpointError> {
        if meta.arrival_ns == 0 {
            meta.arrival_ns = now_ns();
        }
        let ring = match &mut self.way {
            InWay::Lane(lane) => {
                if lane.is_abandoned() {
                    return Err(EndpointError::Abandoned);
                }
                return lane.push(&meta, payload, &self.pool).map_err(|e| match e {
                    PushError::Full => EndpointError::RingFull,
                    PushError::PoolExhausted(e) => EndpointError::PoolExhausted(e),
                    PushError::TooLarge(len) => EndpointError::PayloadTooLarge(PayloadTooLarge { len }),
                });
            }
            InWay::Ring(ring) => ring,
        };
        if ring.is_abandoned() {
            return Err(EndpointError::Abandoned);
        }
        if ring.is_full() {
            return Err(EndpointError::RingFull);
        }
        let mut p = self.pool.acquire()?;
        p.meta = meta;
        p.set_payload(payload)?;
        ring.push(p).map_err(|_| EndpointError::RingFull)
    }

    /// Whether the input was removed from its graph.
    pub fn is_abandoned(&self) -> bool {
        match &self.way {
            InWay::Ring(ring) => ring.is_abandoned(),
            InWay::Lane(lane) => lane.is_abandoned(),
        }
    }

    /// Packets queued and not yet taken by the worker.
    pub fn queued(&self) -> usize {
        match &self.way {
            InWay::Ring(ring) => ring.buffer().capacity() - ring.slots(),
            InWay::Lane(lane) => lane.queued(),
        }
    }
}

/// Receives packets from a graph packet output. Each packet's `meta.arrival_ns` is the
/// start time of the cycle that produced it.
///
/// A kernel room's leg sends through a lane of the room's slab (the payload inline):
/// [`PacketOut::pop_with`] reads it in place, [`PacketOut::pop`] copies it into a pooled
/// packet.
pub struct PacketOut {
    pub(crate) way: OutWay,
}

/// Where a [`PacketOut`]'s packets come from.
pub(crate) enum OutWay {
    /// A ring of pooled packets (a graph output).
    Ring(rtrb::Consumer<Pooled<Packet>>),
    /// A lane of a kernel room's slab, and the pool [`PacketOut::pop`] copies into.
    Lane(LaneRx, PacketPool),
}

impl PacketOut {
    /// The oldest packet, if any; dropping it returns it to the pool. (A kernel room's leg:
    /// copied into a packet from the pool; `None` also when the pool has none, the packet
    /// then left queued.)
    pub fn pop(&mut self) -> Option<Pooled<Packet>> {
        match &mut self.way {
            OutWay::Ring(ring) => ring.pop().ok(),
            OutWay::Lane(lane, pool) => {
                if lane.available() == 0 {
                    return None;
                }
                let mut p = pool.acquire().ok()?;
                let s = lane.slot(0);
                p.meta = s.meta;
                // A slot's payload fits a packet.
                let _ = p.set_payload(s.payload());
                lane.advance(1, drop);
                Some(p)
            }
        }
    }

    /// Takes the oldest packet, if any: `f` sees its metadata and payload in place (no
    /// pooled packet for a kernel room's leg), then it is let go.
    ///
    /// ```
    /// use rvoip_media_core::conference::{LegMedia, RoomConfig, Room};
    /// use rvoip_media_core::prelude::*;
    /// use rvoip_media_nodes::G711Law;
    ///
    /// let (engine, mut driver) = Engine::driven(EngineConfig::default()).unwrap();
    /// let mut room = Room::with_config(&engine, RoomConfig::new(AudioFormat::mono(8000)).with_kernel()).unwrap();
    /// let mut io = room.join(&engine, "a", LegMedia::g711(G711Law::Ulaw, 10_000, 1)).unwrap().io;
    /// let (mut rx, mut tx) = (io.take_packet_in("a.rx").unwrap(), io.take_packet_out("a.tx").unwrap());
    /// rx.push(PacketMeta { payload_type: 0, ..PacketMeta::default() }, &[0xff; 80]).unwrap();
    /// driver.process_cycle();
    /// assert_eq!(tx.pop_with(|meta, payload| (meta.ssrc, payload.len())), Some((1, 80)));
    /// assert_eq!(tx.pop_with(|_, _| ()), None);
    /// ```
    pub fn pop_with<R>(&mut self, f: impl FnOnce(&PacketMeta, &[u8]) -> R) -> Option<R> {
        match &mut self.way {
            OutWay::Ring(ring) => ring.pop().ok().map(|p| f(&p.meta, p.payload())),
            OutWay::Lane(lane, _) => lane.pop_with(|s| f(&s.meta, s.payload())),
        }
    }

    /// Whether the output was removed from its graph: packets still queued can be popped,
    /// no new ones will come.
    pub fn is_abandoned(&self) -> bool {
        match &self.way {
            OutWay::Ring(ring) => ring.is_abandoned(),
            OutWay::Lane(lane, _) => lane.is_abandoned(),
        }
    }
}

/// Sets a graph control input (latest value wins; read once per cycle).
#[derive(Clone)]
pub struct ControlIn {
    pub(crate) value: Arc<ControlShared>,
}

impl ControlIn {
    /// Sets the value the next cycles read.
    pub fn set(&self, v: f32) {
        self.value.set(v);
    }

    /// Whether the input was removed from its graph.
    pub fn is_abandoned(&self) -> bool {
        self.value.is_abandoned()
    }
}

/// Reads a graph control output (the latest cycle's value).
#[derive(Clone)]
pub struct ControlOut {
    pub(crate) value: Arc<ControlShared>,
}

impl ControlOut {
    /// The latest value.
    pub fn get(&self) -> f32 {
        self.value.get()
    }

    /// Whether the output was removed from its graph (the value no longer changes).
    pub fn is_abandoned(&self) -> bool {
        self.value.is_abandoned()
    }
}

/// The host side of one graph input.
pub enum InputEndpoint {
    /// Audio.
    Audio(AudioIn),
    /// Packets.
    Packet(PacketIn),
    /// A control value.
    Control(ControlIn),
}

/// The host side of one graph output.
pub enum OutputEndpoint {
    /// Audio.
    Audio(AudioOut),
    /// Packets.
    Packet(PacketOut),
    /// A control value.
    Control(ControlOut),
}

/// The endpoints of a partition, in the plan's input and output order, with their names.
pub struct PartitionIo {
    /// Graph inputs: (name, kind, endpoint).
    pub inputs: Vec<(String, PortKind, InputEndpoint)>,
    /// Graph outputs: (name, kind, endpoint).
    pub outputs: Vec<(String, PortKind, OutputEndpoint)>,
}

/// Builds both ends of a graph input (control side; allocates).
pub(crate) fn input_pair(
    kind: PortKind,
    samples: usize,
    frames: &FramePool,
    packets: &PacketPool,
    ring_capacity: usize,
) -> (WorkerInput, InputEndpoint) {
    match kind {
        PortKind::Audio(_) => {
            let (tx, rx) = rtrb::RingBuffer::new(ring_capacity);
            (WorkerInput::Audio(rx), InputEndpoint::Audio(AudioIn { ring: tx, pool: frames.clone(), samples }))
        }
        PortKind::Packet(_) => {
            let (worker, host) = packet_input_pair(packets, ring_capacity);
            (WorkerInput::Packet(worker), InputEndpoint::Packet(host))
        }
        PortKind::Control => {
            let v = Arc::new(ControlShared::new());
            (WorkerInput::Control(ControlCell::new(v.clone())), InputEndpoint::Control(ControlIn { value: v }))
        }
    }
}

/// A packet input's worker and host ends.
pub(crate) type PacketInPair = (rtrb::Consumer<Pooled<Packet>>, PacketIn);
/// A packet output's worker and host ends.
pub(crate) type PacketOutPair = (rtrb::Producer<Pooled<Packet>>, PacketOut);

/// Both ends of a packet input: the worker's and the host's (control side; allocates). A
/// graph input's, or a leg's that a node serves itself (a kernel room's).
pub(crate) fn packet_input_pair(packets: &PacketPool, ring_capacity: usize) -> PacketInPair {
    let (tx, rx) = rtrb::RingBuffer::new(ring_capacity);
    (rx, PacketIn { way: InWay::Ring(tx), pool: packets.clone() })
}

/// A kernel room leg's packet input through a lane: the worker's and the host's ends.
pub(crate) type PacketLaneIn = (LaneRx, PacketIn);
/// A kernel room leg's packet output through a lane: the worker's and the host's ends.
pub(crate) type PacketLaneOut = (LaneTx, PacketOut);

/// A kernel room leg's packet input and output through lane `lane` of the slabs `inn` and
/// `out` (see [`crate::sync::lanes`]): the worker's consuming and producing ends and the
/// host's [`PacketIn`] / [`PacketOut`]; when a former leg's end of either lane is still
/// alive, through lanes of a slab of its own (control side; that allocates).
pub(crate) fn packet_lanes(
    inn: &Arc<Lanes>,
    out: &Arc<Lanes>,
    lane: usize,
    packets: &PacketPool,
) -> (PacketLaneIn, PacketLaneOut) {
    let own = |lanes: &Arc<Lanes>| {
        Lanes::claim(lanes, lane).unwrap_or_else(|| {
            let depth = lanes.depth();
            // A fresh slab's lane 0 is free.
            Lanes::claim(&Lanes::new(1, depth), 0).expect("a new lane is free")
        })
    };
    let ((host_in, worker_in), (worker_out, host_out)) = (own(inn), own(out));
    (
        (worker_in, PacketIn { way: InWay::Lane(host_in), pool: packets.clone() }),
        (worker_out, PacketOut { way: OutWay::Lane(host_out, packets.clone()) }),
    )
}

/// Both ends of a packet output: the worker's and the host's (control side; allocates).
pub(crate) fn packet_output_pair(ring_capacity: usize) -> PacketOutPair {
    let (tx, rx) = rtrb::RingBuffer::new(ring_capacity);
    (tx, PacketOut { way: OutWay::Ring(rx) })
}

/// Builds both ends of a graph output (control side; allocates).
pub(crate) fn output_pair(kind: PortKind, ring_capacity: usize) -> (WorkerOutput, OutputEndpoint) {
    match kind {
        PortKind::Audio(_) => {
            let (tx, rx) = rtrb::RingBuffer::new(ring_capacity);
            (WorkerOutput::Audio(tx), OutputEndpoint::Audio(AudioOut { ring: rx }))
        }
        PortKind::Packet(_) => {
            let (worker, host) = packet_output_pair(ring_capacity);
            (WorkerOutput::Packet(worker), OutputEndpoint::Packet(host))
        }
        PortKind::Control => {
            let v = Arc::new(ControlShared::new());
            (WorkerOutput::Control(ControlCell::new(v.clone())), OutputEndpoint::Control(ControlOut { value: v }))
        }
    }
}

impl PartitionIo {
    fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|(n, _, _)| n == name)
    }

    fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|(n, _, _)| n == name)
    }

    /// Removes the input called `name` if `pick` accepts its endpoint (else leaves it).
    fn take_input<T>(&mut self, name: &str, pick: fn(InputEndpoint) -> Result<T, InputEndpoint>) -> Option<T> {
        let i = self.input_index(name)?;
        let (n, kind, ep) = self.inputs.remove(i);
        pick(ep).map_err(|ep| self.inputs.insert(i, (n, kind, ep))).ok()
    }

    /// Removes the output called `name` if `pick` accepts its endpoint (else leaves it).
    fn take_output<T>(&mut self, name: &str, pick: fn(OutputEndpoint) -> Result<T, OutputEndpoint>) -> Option<T> {
        let i = self.output_index(name)?;
        let (n, kind, ep) = self.outputs.remove(i);
        pick(ep).map_err(|ep| self.outputs.insert(i, (n, kind, ep))).ok()
    }

    /// Removes and returns the audio input called `name`.
    pub fn take_audio_in(&mut self, name: &str) -> Option<AudioIn> {
        self.take_input(name, |ep| match ep {
            InputEndpoint::Audio(a) => Ok(a),
            other => Err(other),
        })
    }

    /// Removes and returns the packet input called `name`.
    pub fn take_packet_in(&mut self, name: &str) -> Option<PacketIn> {
        self.take_input(name, |ep| match ep {
            InputEndpoint::Packet(p) => Ok(p),
            other => Err(other),
        })
    }

    /// The control input called `name` (a cheap clone).
    pub fn control_in(&self, name: &str) -> Option<ControlIn> {
        match &self.inputs[self.input_index(name)?].2 {
            InputEndpoint::Control(c) => Some(c.clone()),
            _ => None,
        }
    }

    /// Removes and returns the audio output called `name`.
    pub fn take_audio_out(&mut self, name: &str) -> Option<AudioOut> {
        self.take_output(name, |ep| match ep {
            OutputEndpoint::Audio(a) => Ok(a),
            other => Err(other),
        })
    }

    /// Removes and returns the packet output called `name`.
    pub fn take_packet_out(&mut self, name: &str) -> Option<PacketOut> {
        self.take_output(name, |ep| match ep {
            OutputEndpoint::Packet(p) => Ok(p),
            other => Err(other),
        })
    }

    /// The control output called `name` (a cheap clone).
    pub fn control_out(&self, name: &str) -> Option<ControlOut> {
        match &self.outputs[self.output_index(name)?].2 {
            OutputEndpoint::Control(c) => Some(c.clone()),
            _ => None,
        }
    }
}
