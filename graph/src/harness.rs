//! Runs one processor on its own, outside any graph: for node tests, examples and benches.

use crate::arena::Arena;
use crate::error::PlanError;
use crate::format::{BufferKind, PortKind, Quantum};
use crate::node::{NodeSpec, PortSpec};
use crate::packet::{Packet, PacketSlot};
use crate::plan::{BufferCounts, BufferRef};
use crate::processor::{ProcessIo, Processor};

/// One processor with a buffer per port. Every input starts silent; fill inputs, call
/// [`NodeHarness::run`], read outputs.
///
/// ```
/// # use rvoip_media_graph::*;
/// # struct Copy1; impl Processor for Copy1 {
/// #   fn spec(&self) -> NodeSpec { let a = PortKind::Audio(AudioFormat::mono(8000));
/// #     NodeSpec::new("copy").with_input(PortSpec::required("in", a)).with_output(PortSpec::required("out", a)) }
/// #   fn process(&mut self, io: &mut ProcessIo<'_>) { let i = io.audio_in(0); io.audio_out(0).copy_from_slice(i); } }
/// let mut h = NodeHarness::new(Box::new(Copy1), Quantum::MS_10).unwrap();
/// h.audio_in_mut(0)[3] = 1.0;
/// let report = h.run();
/// assert_eq!(report, 0);
/// assert_eq!(h.audio_out(0)[3], 1.0);
/// ```
pub struct NodeHarness {
    processor: Box<dyn Processor>,
    spec: NodeSpec,
    arena: Arena,
    inputs: Vec<BufferRef>,
    outputs: Vec<BufferRef>,
    cycle: u64,
}

impl NodeHarness {
    /// Allocates one buffer per port of the processor's spec; each packet input holds one
    /// packet a cycle.
    pub fn new(processor: Box<dyn Processor>, quantum: Quantum) -> Result<Self, PlanError> {
        Self::with_packet_burst(processor, quantum, 1)
    }

    /// As [`NodeHarness::new`], with each packet input holding up to `burst` packets a cycle
    /// (at least one), as a graph's packet inputs carry every packet that arrived since the
    /// previous cycle: fill one with [`PacketSlot::push`].
    ///
    /// ```
    /// # use rvoip_media_graph::*;
    /// # struct Count; impl Processor for Count {
    /// #   fn spec(&self) -> NodeSpec { NodeSpec::new("count")
    /// #     .with_input(PortSpec::required("in", PortKind::Packet(PacketFormat { encoding: "PCMU", clock_rate: 8000, channels: 1 })))
    /// #     .with_output(PortSpec::required("out", PortKind::Control)) }
    /// #   fn process(&mut self, io: &mut ProcessIo<'_>) { let n = io.packets_in(0).len(); io.set_control(0, n as f32); } }
    /// let mut h = NodeHarness::with_packet_burst(Box::new(Count), Quantum::MS_10, 2).unwrap();
    /// let p = |seq| Packet::from_payload(PacketMeta { sequence: seq, ..Default::default() }, &[1]).unwrap();
    /// h.packet_in_mut(0).push(&p(1)).unwrap();
    /// h.packet_in_mut(0).push(&p(2)).unwrap();
    /// assert!(h.packet_in_mut(0).push(&p(3)).is_err()); // SlotFull
    /// h.run();
    /// assert_eq!(h.control_out(0), 2.0);
    /// ```
    pub fn with_packet_burst(processor: Box<dyn Processor>, quantum: Quantum, burst: usize) -> Result<Self, PlanError> {
        let spec = processor.spec();
        let mut counts = BufferCounts { packet_burst: burst.max(1), ..BufferCounts::default() };
        let mut assign = |p: &PortSpec| -> Result<BufferRef, PlanError> {
            Ok(match p.kind {
                PortKind::Audio(f) => {
                    let len = f.samples_per_quantum(quantum).ok_or_else(|| PlanError::PortMismatch {
                        step: 0,
                        detail: format!("port '{}' ({}) does not divide into {}", p.name, p.kind, quantum),
                    })?;
                    counts.audio_len = counts.audio_len.max(len);
                    counts.audio += 1;
                    BufferRef::audio(counts.audio as u32 - 1, len as u32)
                }
                PortKind::Packet(_) => {
                    counts.packet += 1;
                    BufferRef::packet(counts.packet as u32 - 1)
                }
                PortKind::Control => {
                    counts.control += 1;
                    BufferRef::control(counts.control as u32 - 1)
                }
            })
        };
        let inputs = spec.inputs.iter().map(&mut assign).collect::<Result<Vec<_>, _>>()?;
        let outputs = spec.outputs.iter().map(&mut assign).collect::<Result<Vec<_>, _>>()?;
        // The inputs' packet slots are allocated first.
        let packet_inputs = inputs.iter().filter(|r| r.kind == BufferKind::Packet).count();
        let arena = Arena::with_burst_slots(counts, packet_inputs);
        arena.check_step(&inputs, &outputs).map_err(|detail| PlanError::BadBuffer { step: 0, detail })?;
        Ok(NodeHarness { processor, spec, arena, inputs, outputs, cycle: 0 })
    }

    /// The processor's spec.
    pub fn spec(&self) -> &NodeSpec {
        &self.spec
    }

    /// The processor, e.g. to call `set_param`.
    pub fn processor_mut(&mut self) -> &mut dyn Processor {
        self.processor.as_mut()
    }

    fn port(refs: &[BufferRef], i: usize, kind: BufferKind) -> BufferRef {
        let r = refs[i];
        assert_eq!(r.kind, kind, "port {i} is {:?}", r.kind);
        r
    }

    /// Audio input `i` for writing.
    pub fn audio_in_mut(&mut self, i: usize) -> &mut [f32] {
        let r = Self::port(&self.inputs, i, BufferKind::Audio);
        self.arena.audio_mut(&r)
    }

    /// Packet input `i` for writing; it keeps its contents across runs until cleared.
    pub fn packet_in_mut(&mut self, i: usize) -> &mut PacketSlot {
        let r = Self::port(&self.inputs, i, BufferKind::Packet);
        self.arena.packet_mut(&r)
    }

    /// Control input `i` for writing.
    pub fn control_in_mut(&mut self, i: usize) -> &mut f32 {
        let r = Self::port(&self.inputs, i, BufferKind::Control);
        self.arena.control_mut(&r)
    }

    /// Audio output `i` after [`NodeHarness::run`].
    pub fn audio_out(&self, i: usize) -> &[f32] {
        self.arena.audio(&Self::port(&self.outputs, i, BufferKind::Audio))
    }

    /// Packet output `i` after [`NodeHarness::run`].
    pub fn packet_out(&self, i: usize) -> Option<&Packet> {
        self.arena.packet(&Self::port(&self.outputs, i, BufferKind::Packet)).get()
    }

    /// Control output `i` after [`NodeHarness::run`].
    pub fn control_out(&self, i: usize) -> f32 {
        self.arena.control(&Self::port(&self.outputs, i, BufferKind::Control))
    }

    /// Runs one quantum and returns the number of errors the node reported.
    pub fn run(&mut self) -> u32 {
        for o in self.outputs.iter().filter(|o| o.kind == BufferKind::Packet) {
            self.arena.packet_mut(o).clear();
        }
        // SAFETY: `new` checked these references against this arena with `check_step`.
        let mut io = unsafe { ProcessIo::new(&mut self.arena, &self.inputs, &self.outputs, self.cycle) };
        self.processor.process(&mut io);
        let errors = io.errors();
        self.cycle += 1;
        errors
    }
}
