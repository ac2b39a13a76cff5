//! The [`Processor`] trait every node implements, and [`ProcessIo`], its view of one
//! cycle's buffers.

use crate::arena::Arena;
use crate::format::BufferKind;
use crate::node::NodeSpec;
use crate::packet::{Packet, PacketSlot};
use crate::plan::BufferRef;
use std::any::Any;
use std::marker::PhantomData;

/// Why a parameter change was refused.
///
/// ```
/// use rvoip_media_graph::{NodeSpec, ParamError, ProcessIo, Processor};
/// struct Silent;
/// impl Processor for Silent {
///     fn spec(&self) -> NodeSpec {
///         NodeSpec::new("silent")
///     }
///     fn process(&mut self, _io: &mut ProcessIo<'_>) {}
/// }
/// // A node without parameters refuses every id (the trait's default `set_param`).
/// assert_eq!(Silent.set_param(7, 0.5), Err(ParamError::Unknown(7)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// The node has no parameter with this id.
    #[error("unknown parameter id {0}")]
    Unknown(u32),
    /// The value is NaN, infinite or outside the parameter's range.
    #[error("value {value} out of range for parameter id {id}")]
    OutOfRange {
        /// Parameter id.
        id: u32,
        /// Refused value.
        value: f32,
    },
}

/// Why a node refused a message ([`Processor::message`]).
///
/// ```
/// use rvoip_media_graph::{MessageError, NodeSpec, ProcessIo, Processor};
/// struct Silent;
/// impl Processor for Silent {
///     fn spec(&self) -> NodeSpec {
///         NodeSpec::new("silent")
///     }
///     fn process(&mut self, _io: &mut ProcessIo<'_>) {}
/// }
/// // A node that declares no message type refuses every message (the trait's default).
/// assert_eq!(Silent.message(&mut 5u32), Err(MessageError::WrongType));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The node does not take messages of this type (the control side checks the node's
    /// [`NodeSpec::messages`] first, so a worker sees this only for a node that declares a
    /// type it does not handle).
    #[error("the node does not accept this message type")]
    WrongType,
    /// The message's content does not fit the node (a port index beyond its capacity, an
    /// encoder of another sample rate, ...).
    #[error("message refused: {0}")]
    Invalid(&'static str),
}

/// A node's processing code.
///
/// Construction, [`Processor::spec`] and dropping happen on the control side, where
/// allocation is fine. [`Processor::process`], [`Processor::set_param`] and
/// [`Processor::reset`] run on a real-time worker: they must not allocate, lock, block,
/// print or panic on any input. Bad input is handled by writing defined output and calling
/// [`ProcessIo::report_error`].
///
/// ```
/// use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec, ProcessIo, Processor};
///
/// /// Inverts the polarity of a mono 8 kHz stream.
/// struct Invert;
///
/// impl Processor for Invert {
///     fn spec(&self) -> NodeSpec {
///         let a = PortKind::Audio(AudioFormat::mono(8000));
///         NodeSpec::new("invert")
///             .with_input(PortSpec::required("in", a))
///             .with_output(PortSpec::required("out", a))
///     }
///     fn process(&mut self, io: &mut ProcessIo<'_>) {
///         let input = io.audio_in(0);
///         for (o, i) in io.audio_out(0).iter_mut().zip(input) {
///             *o = -*i;
///         }
///     }
/// }
///
/// let mut h = rvoip_media_graph::NodeHarness::new(Box::new(Invert), Default::default()).unwrap();
/// h.audio_in_mut(0).fill(0.25);
/// h.run();
/// assert!(h.audio_out(0).iter().all(|&s| s == -0.25));
/// ```
pub trait Processor: Send {
    /// Ports, latency and parameters. Called on the control side when the graph is built.
    fn spec(&self) -> NodeSpec;

    /// Processes one quantum. Real-time: no allocation, lock, blocking call, print or panic.
    fn process(&mut self, io: &mut ProcessIo<'_>);

    /// Changes a parameter (already range-checked against the spec by the control plane).
    /// Real-time.
    fn set_param(&mut self, id: u32, value: f32) -> Result<(), ParamError> {
        let _ = value;
        Err(ParamError::Unknown(id))
    }

    /// Clears internal state (filters, histories) as if freshly constructed. Real-time.
    fn reset(&mut self) {}

    /// Takes a typed message (a new encoder, a membership change, a configuration), at a
    /// cycle boundary. Real-time: the node must not allocate or free. It takes what it
    /// needs out of `msg` by swapping (`std::mem::swap` / `take`), so whatever it lets go
    /// of stays in `msg`, which travels back to the control side and is dropped there.
    /// Only types listed in [`NodeSpec::messages`] reach this; the default refuses all.
    ///
    /// ```
    /// use rvoip_media_graph::{MessageError, NodeSpec, ProcessIo, Processor};
    /// use std::any::Any;
    ///
    /// /// Holds a name it can be told to replace.
    /// struct Named(String);
    /// impl Processor for Named {
    ///     fn spec(&self) -> NodeSpec {
    ///         NodeSpec::new("named").with_message::<String>()
    ///     }
    ///     fn process(&mut self, _io: &mut ProcessIo<'_>) {}
    ///     fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
    ///         let new = msg.downcast_mut::<String>().ok_or(MessageError::WrongType)?;
    ///         std::mem::swap(&mut self.0, new); // the old name rides back in `msg`
    ///         Ok(())
    ///     }
    /// }
    /// let mut n = Named("a".into());
    /// let mut msg: Box<dyn Any + Send> = Box::new(String::from("b"));
    /// n.message(msg.as_mut()).unwrap();
    /// assert_eq!(n.0, "b");
    /// assert_eq!(msg.downcast_ref::<String>().unwrap(), "a");
    /// assert_eq!(n.message(&mut 5u32), Err(MessageError::WrongType));
    /// ```
    fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        let _ = msg;
        Err(MessageError::WrongType)
    }

    /// Writes the node's published values (counters, state, levels) into `out`, in the
    /// order of [`NodeSpec::telemetry`]; `out` has exactly that many entries. Called by the
    /// runtime after a cycle, on the worker: real-time, no allocation.
    fn telemetry(&self, out: &mut [f64]) {
        let _ = out;
    }

    /// A hint, called by the executor one step before this node runs: start loading the
    /// state the next [`Processor::process`] reads behind pointers (a boxed codec, say) with
    /// [`prefetch`], so that in a schedule of a thousand legs its cache misses overlap the
    /// previous node's work. It must only issue prefetches: no effect on results. The
    /// default does nothing.
    fn prefetch(&self) {}
}

/// Most cache lines [`prefetch_value`] asks for: a G.711 decoder with its code ring (480
/// bytes) fits; a large processor (a mixer, a jitter buffer) costs at most this many
/// prefetches, for its first lines. Other caps were not measured.
pub const PREFETCH_VALUE_LINES: usize = 8;

/// Asks the CPU to start loading the first `lines` cache lines of the value behind `x` (a
/// hint like [`prefetch`]).
///
/// ```
/// let rows = [0.0f32; 64];
/// rvoip_media_graph::prefetch_lines(&rows, 2);
/// ```
#[inline(always)]
pub fn prefetch_lines<T: ?Sized>(x: &T, lines: usize) {
    let base = (x as *const T).cast::<u8>();
    for k in 0..lines {
        prefetch(base.wrapping_add(64 * k));
    }
}

/// Asks the CPU to start loading the whole value behind `x`, up to [`PREFETCH_VALUE_LINES`]
/// cache lines (its size read from the vtable for a `dyn` value): for a boxed codec, whose
/// state a cycle touches beyond its first line (a G.711 decoder's code ring, a resampler's
/// history). A hint like [`prefetch`].
///
/// ```
/// let codec: Box<dyn std::any::Any> = Box::new([0u8; 300]);
/// rvoip_media_graph::prefetch_value(&*codec);
/// ```
#[inline(always)]
pub fn prefetch_value<T: ?Sized>(x: &T) {
    prefetch_lines(x, std::mem::size_of_val(x).div_ceil(64).min(PREFETCH_VALUE_LINES));
}

/// Asks the CPU to start loading the cache line at `ptr` (a no-op where there is no
/// prefetch instruction). A hint with no memory effects: any address is allowed, and
/// nothing is read.
///
/// ```
/// let state = Box::new([0u64; 8]);
/// rvoip_media_graph::prefetch(state.as_ptr().cast());
/// ```
#[inline(always)]
pub fn prefetch(ptr: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is a hint with no memory effects and never faults, whatever the
    // address; SSE is part of the x86-64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// One node's view of the cycle's buffers: read its inputs, write its outputs.
///
/// Inputs borrow for the whole step (`'a`), so a node can hold every input slice while it
/// writes its outputs one at a time. The executor guarantees that a step's outputs are
/// pairwise distinct and never alias its inputs.
pub struct ProcessIo<'a> {
    audio: *mut f32,
    audio_len: usize,
    audio_silence: u32,
    packets: *mut PacketSlot,
    packet_silence: u32,
    control: *mut f32,
    control_silence: u32,
    inputs: &'a [BufferRef],
    outputs: &'a [BufferRef],
    cycle: u64,
    errors: u32,
    _arena: PhantomData<&'a mut Arena>,
}

impl<'a> ProcessIo<'a> {
    /// # Safety
    /// Every reference must be in range for `arena` and of the kind the accessor asks for
    /// (checked by [`Arena::check_step`]); outputs must be pairwise distinct, not silent and
    /// disjoint from inputs. `arena` must not be touched otherwise while the view lives.
    #[inline]
    pub(crate) unsafe fn new(
        arena: &'a mut Arena,
        inputs: &'a [BufferRef],
        outputs: &'a [BufferRef],
        cycle: u64,
    ) -> Self {
        let (audio, audio_len, audio_silence) = arena.audio_raw();
        let (packets, packet_silence) = arena.packets_raw();
        let (control, control_silence) = arena.control_raw();
        ProcessIo {
            audio,
            audio_len,
            audio_silence,
            packets,
            packet_silence,
            control,
            control_silence,
            inputs,
            outputs,
            cycle,
            errors: 0,
            _arena: PhantomData,
        }
    }

    /// Number of input ports.
    #[inline]
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Number of output ports.
    #[inline]
    pub fn num_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// Index of the current cycle: 0 for the first cycle a partition (or executor) runs,
    /// counting on across live edits.
    #[inline]
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// Counts one bad-input event (malformed packet, NaN samples, ...) for the partition's
    /// statistics. The node must still have written defined output.
    #[inline]
    pub fn report_error(&mut self) {
        self.errors = self.errors.saturating_add(1);
    }

    /// Errors reported during this step.
    #[inline]
    pub fn errors(&self) -> u32 {
        self.errors
    }

    #[inline]
    fn slot(index: u32, silence: u32) -> usize {
        if index == BufferRef::SILENCE {
            silence as usize
        } else {
            index as usize
        }
    }

    #[inline]
    fn expect(r: &BufferRef, kind: BufferKind) {
        assert!(r.kind == kind, "port is {:?}, not {:?}", r.kind, kind);
    }

    /// Samples of audio input `port` (frames × channels, interleaved).
    ///
    /// # Panics
    /// If `port` is out of range or not an audio port: a bug in the node, since ports are
    /// fixed by its spec and checked when the plan is loaded.
    #[inline]
    pub fn audio_in(&self, port: usize) -> &'a [f32] {
        let r = &self.inputs[port];
        Self::expect(r, BufferKind::Audio);
        let start = Self::slot(r.index, self.audio_silence) * self.audio_len;
        // SAFETY: `new`'s contract: the reference is in range and of audio kind, so
        // `start + r.len` lies within the audio arena; inputs never alias this step's
        // outputs, and nothing else touches the arena while `'a` lives.
        unsafe { std::slice::from_raw_parts(self.audio.add(start), r.len as usize) }
    }

    /// Samples of audio output `port`, to be overwritten entirely (contents are stale).
    ///
    /// # Panics
    /// As [`ProcessIo::audio_in`].
    #[inline]
    pub fn audio_out(&mut self, port: usize) -> &mut [f32] {
        let r = &self.outputs[port];
        Self::expect(r, BufferKind::Audio);
        let start = r.index as usize * self.audio_len;
        // SAFETY: in range and audio by `new`'s contract; outputs are pairwise distinct and
        // disjoint from inputs, and `&mut self` prevents two live borrows of this one.
        unsafe { std::slice::from_raw_parts_mut(self.audio.add(start), r.len as usize) }
    }

    /// The packet on input `port`, if one arrived this cycle.
    ///
    /// # Panics
    /// As [`ProcessIo::audio_in`].
    #[inline]
    pub fn packet_in(&self, port: usize) -> Option<&'a Packet> {
        let r = &self.inputs[port];
        Self::expect(r, BufferKind::Packet);
        let i = Self::slot(r.index, self.packet_silence);
        // SAFETY: as in `audio_in`, for the packet arena.
        unsafe { (*self.packets.add(i)).get() }
    }

    /// Every packet on input `port` this cycle, in arrival order (a burst; empty if none).
    ///
    /// # Panics
    /// As [`ProcessIo::audio_in`].
    #[inline]
    pub fn packets_in(&self, port: usize) -> &'a [Packet] {
        let r = &self.inputs[port];
        Self::expect(r, BufferKind::Packet);
        let i = Self::slot(r.index, self.packet_silence);
        // SAFETY: as in `audio_in`, for the packet arena.
        unsafe { (*self.packets.add(i)).packets() }
    }

    /// The slot of packet output `port`; it is empty at the start of the step. Call
    /// [`PacketSlot::fill`] or [`PacketSlot::put`] to emit a packet.
    ///
    /// # Panics
    /// As [`ProcessIo::audio_in`].
    #[inline]
    pub fn packet_out(&mut self, port: usize) -> &mut PacketSlot {
        let r = &self.outputs[port];
        Self::expect(r, BufferKind::Packet);
        // SAFETY: as in `audio_out`, for the packet arena.
        unsafe { &mut *self.packets.add(r.index as usize) }
    }

    /// The value on control input `port`.
    ///
    /// # Panics
    /// As [`ProcessIo::audio_in`].
    #[inline]
    pub fn control_in(&self, port: usize) -> f32 {
        let r = &self.inputs[port];
        Self::expect(r, BufferKind::Control);
        let i = Self::slot(r.index, self.control_silence);
        // SAFETY: as in `audio_in`, for the control arena.
        unsafe { *self.control.add(i) }
    }

    /// Sets control output `port`.
    ///
    /// # Panics
    /// As [`ProcessIo::audio_in`].
    #[inline]
    pub fn set_control(&mut self, port: usize, value: f32) {
        let r = &self.outputs[port];
        Self::expect(r, BufferKind::Control);
        // SAFETY: as in `audio_out`, for the control arena.
        unsafe { *self.control.add(r.index as usize) = value }
    }
}
