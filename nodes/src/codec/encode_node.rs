//! [`EncodeNode`]: audio quanta in, packets of one ptime out, for any [`Encoder`].

use super::{audio_format, quantum_len};
use super::{CodecError, CodecInfo, Encoder, FrameType};
use crate::kernels;
use crate::mixer::Hear;
use rvoip_media_graph::{
    MessageError, NodeSpec, Packet, PacketMeta, PacketSlot, PortKind, PortSpec, ProcessIo, Processor, Quantum,
    MAX_PAYLOAD,
};
use std::any::Any;

/// Audio in, packets of one ptime out: wraps any [`Encoder`].
///
/// Quanta are cut into codec frames (a frame may span several quanta, or a quantum several
/// frames). Packets follow a grid of ptime windows from the start: the frames of one window
/// form one packet, emitted in the cycle the window ends (the ptime must be a whole number of
/// quanta). With a 10 ms quantum and a 20 ms ptime a packet leaves every second cycle; a 20 ms
/// G.729 packet holds two 10-byte frames.
///
/// Discontinuous transmission (G.729 Annex B): [`FrameType::NoTransmission`] frames are not
/// sent, and a window with nothing to send emits no packet. A packet's frames are contiguous
/// and its RTP timestamp is that of its first frame, so leading untransmitted frames shift the
/// timestamp. A packet is closed early when its last frame is a SID (which must end its
/// packet, RFC 3551 §4.5.6) or is followed by an untransmitted frame; it then leaves at once,
/// in that cycle, and the rest of the window starts a new packet. Only one packet can leave
/// per cycle, so if a quantum spans several frames and two packets close in one cycle, the
/// earlier one (a SID right before a talk spurt) is replaced by the later. The stream's first
/// packet never leaves early (a [`DecodeNode`](super::DecodeNode) sets its playout time by the first packet, which
/// must therefore arrive at the end of its window): a closed first packet waits for the end
/// of its window and is replaced if a frame follows. Replaced frames are counted in
/// [`EncodeNode::dropped_frames`]. With quanta no longer than a frame, only a SID in the very
/// first window, right before speech, can be replaced; otherwise the frames sent are exactly
/// the encoder's.
///
/// RTP fields: payload type from the codec (or [`EncodeNode::with_payload_type`]), sequence
/// +1 per packet, timestamp in the codec's RTP clock, marker set on the first packet and on
/// a packet that starts with speech after untransmitted frames or a SID (start of a talk
/// spurt, RFC 3551 §4.1).
///
/// Latency: `ptime − quantum` (a window's first quantum leaves with the packet).
/// Non-finite input is encoded as the exact `f32 -> i16` conversion defines (NaN -> 0) and
/// reported with `report_error`; an input of the wrong length gives no packet and an error.
///
/// Codec switch (a re-INVITE): send a [`SwitchEncoder`] message. The switch waits for the
/// next packet boundary (no frame of the old codec is lost or cut), then the new encoder
/// takes over with the same SSRC, the next sequence number, the timestamp where the old
/// stream would have continued (counting on in the new codec's RTP clock) and the marker
/// bit set. The new encoder must take audio of the same rate and channels (a rate change is
/// an edit that replaces the node and its resampler). The old encoder stays parked in the
/// node until the next switch message carries it back to the control side, or the node is
/// removed: nothing is freed on a worker.
///
/// Telemetry: `packets`, `dropped_frames`, `ssrc`, `next_sequence`, `next_timestamp`,
/// `switches`, `payload_type`; with a shared input also `own_quanta`, `shared_quanta`,
/// `skipped_quanta`, `handoffs`.
///
/// Ports: input 0 `"in"` audio at the codec's rate and channels; output 0 `"out"` packet
/// (its format names the codec at construction; a switched node keeps the port).
#[repr(C)] // hot fields first: the common cycle reads the first two cache lines
pub struct EncodeNode {
    enc: Box<dyn Encoder>,
    frame: Box<[f32]>,
    quantum_len: usize,
    frames_per_packet: usize,
    frame_fill: usize,
    /// Position of the next frame in its ptime window.
    win_pos: usize,
    pkt_frames: usize,
    /// Frames of the packet already in this cycle's output slot (0: slot empty).
    slot_frames: usize,
    packets: u64,
    /// RTP timestamp of the next frame.
    frame_ts: u32,
    frame_ticks: u32,
    ssrc: u32,
    sequence: u16,
    payload_type: u8,
    /// The last frame was a SID or untransmitted (or nothing was sent yet).
    silent: bool,
    first_packet: bool,
    /// Set the marker on the next packet (first packet after a switch).
    marker_next: bool,
    /// `parked` holds a switch still to apply (not a replaced encoder).
    switch_pending: bool,
    /// The packet under construction takes no more frames (the first packet, closed by a SID
    /// or a gap, waiting for its window to end).
    pkt_closed: bool,
    pkt_marker: bool,
    /// Has the `shared` and `hear` inputs ([`EncodeNode::with_shared_input`]).
    shared_ports: bool,
    pkt_ts: u32,
    pkt_len: usize,
    scratch: Box<[u8]>,
    pkt: Box<[u8]>,
    info: CodecInfo,
    ptime_us: u32,
    quantum_us: u32,
    first_sequence: u16,
    first_timestamp: u32,
    dropped: u64,
    switches: u64,
    /// A switch waiting for the packet boundary, or (after it) the replaced encoder.
    parked: Option<Box<EncodeNode>>,
    /// With shared input: its counters and hand-over state (boxed: a plain node stays the
    /// size it was).
    counts: Option<Box<SharedInput>>,
    /// RFC 6464 levels on the packets ([`EncodeNode::with_audio_level`]).
    level: Option<PacketLevel>,
}

/// The energy of what an [`EncodeNode`] encoded since its last packet, for that packet's
/// RFC 6464 audio level.
#[derive(Debug)]
struct PacketLevel {
    /// Sum of squares and samples since the last packet (at most one packet's window: a
    /// window without a packet, DTX, starts over).
    sum: f64,
    samples: usize,
    /// Samples of one packet's window.
    window: usize,
    /// V is set when the level is below this (louder than −`voice_below` dBov), unless a
    /// VAD decides.
    voice_below: u8,
    /// The VAD that sets V instead ([`EncodeNode::with_voice_activity`]).
    vad: Option<Box<VoiceActivity>>,
}

impl PacketLevel {
    fn add(&mut self, input: &[f32]) {
        if self.samples >= self.window {
            self.sum = 0.0;
            self.samples = 0;
            if let Some(v) = self.vad.as_deref_mut() {
                v.speech = false;
            }
        }
        self.sum += f64::from(crate::level::mean_square(input)) * input.len() as f64;
        self.samples += input.len();
        if let Some(v) = self.vad.as_deref_mut() {
            v.add(input);
        }
    }

    /// The extension byte for the packet leaving now; starts the next packet's sum.
    fn take(&mut self) -> u8 {
        let ms = if self.samples == 0 { 0.0 } else { (self.sum / self.samples as f64) as f32 };
        let level = crate::level::audio_level(ms);
        self.sum = 0.0;
        self.samples = 0;
        let voice = match self.vad.as_deref_mut() {
            Some(v) if v.hears => std::mem::take(&mut v.speech),
            _ => level < self.voice_below,
        };
        u8::from(voice) << 7 | level
    }
}

/// The VAD behind the V bit of an [`EncodeNode`]'s levels: the audio it encodes, cut into
/// the VAD's 10 ms frames (a quantum that is not whole frames is buffered).
struct VoiceActivity {
    vad: crate::apm::Vad,
    /// A frame being filled, and its samples so far.
    frame: Box<[f32]>,
    fill: usize,
    /// A frame of the packet's window was speech.
    speech: bool,
    /// The encoder's audio is at the VAD's rate (mono): false after a switch to a codec of
    /// another rate, when the energy gate decides again.
    hears: bool,
}

impl std::fmt::Debug for VoiceActivity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoiceActivity").field("speech", &self.speech).field("hears", &self.hears).finish()
    }
}

impl VoiceActivity {
    fn add(&mut self, input: &[f32]) {
        if !self.hears {
            return;
        }
        let n = self.frame.len();
        let mut rest = input;
        if self.fill == 0 {
            // Whole frames straight from the input.
            while rest.len() >= n {
                self.speech |= self.vad.process_frame(&rest[..n]).is_speech;
                rest = &rest[n..];
            }
        }
        while !rest.is_empty() {
            let k = (n - self.fill).min(rest.len());
            self.frame[self.fill..self.fill + k].copy_from_slice(&rest[..k]);
            self.fill += k;
            rest = &rest[k..];
            if self.fill == n {
                self.speech |= self.vad.process_frame(&self.frame).is_speech;
                self.fill = 0;
            }
        }
    }
}

/// An [`EncodeNode`]'s shared-input state.
#[derive(Debug, Default)]
struct SharedInput {
    /// Quanta encoded here, spliced from the shared stream, not sent; hand-overs.
    counts: [u64; 4],
    /// The codec has encoder state ([`Encoder::stateless`] false).
    stateful: bool,
    /// The last quantum was not this node's own encode (spliced or not sent).
    off_own: bool,
    /// The last [`Encoder::handoff_priming_us`] of what the leg heard while it spliced (the
    /// shared mix), a ring of whole quanta; empty when the codec primes nothing.
    history: Box<[f32]>,
    /// Where the next quantum goes, and the samples held.
    hist_pos: usize,
    hist_len: usize,
}

impl SharedInput {
    /// Keeps `input` (one quantum) as the newest history.
    fn record(&mut self, input: &[f32]) {
        let n = input.len();
        if self.history.is_empty() || n == 0 || self.history.len() % n != 0 {
            return;
        }
        self.history[self.hist_pos..self.hist_pos + n].copy_from_slice(input);
        self.hist_pos = (self.hist_pos + n) % self.history.len();
        self.hist_len = (self.hist_len + n).min(self.history.len());
    }
}

/// A message for [`EncodeNode`]: switch to another encoder at the next packet boundary,
/// keeping the RTP stream (SSRC, sequence, timestamps). Built on the control side; after
/// delivery it holds whatever the node let go of (the encoder replaced by the previous
/// switch, if any).
///
/// ```
/// use rvoip_media_graph::{NodeHarness, Processor, Quantum};
/// use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder, SwitchEncoder};
/// use rvoip_media_nodes::G711Law;
///
/// let q = Quantum::MS_20;
/// let enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 20_000, q).unwrap().with_ssrc(7);
/// let mut h = NodeHarness::new(Box::new(enc), q).unwrap();
/// h.run();
/// let first = h.packet_out(0).unwrap().meta;
/// let mut switch = SwitchEncoder::new(Box::new(G711CodecEncoder::new(G711Law::Alaw)), 20_000, q).unwrap();
/// h.processor_mut().message(&mut switch).unwrap();
/// h.run();
/// let next = h.packet_out(0).unwrap().meta;
/// assert_eq!((next.payload_type, next.ssrc), (8, 7));
/// assert_eq!(next.sequence, first.sequence + 1);
/// assert_eq!(next.timestamp, first.timestamp + 160);
/// assert!(next.marker);
/// ```
pub struct SwitchEncoder(Option<Box<EncodeNode>>);

impl SwitchEncoder {
    /// A switch to `encoder` with packets of `ptime_us` in a graph running at `quantum`.
    ///
    /// # Errors
    /// As [`EncodeNode::new`].
    pub fn new(encoder: Box<dyn Encoder>, ptime_us: u32, quantum: Quantum) -> Result<Self, CodecError> {
        Ok(SwitchEncoder(Some(Box::new(EncodeNode::new(encoder, ptime_us, quantum)?))))
    }

    /// With a negotiated payload type.
    pub fn with_payload_type(mut self, pt: u8) -> Self {
        self.0 = self.0.map(|n| Box::new(n.with_payload_type(pt)));
        self
    }

    /// What the message holds now: before delivery the new encoder node, after delivery the
    /// one it replaced (if any).
    pub fn node(&self) -> Option<&EncodeNode> {
        self.0.as_deref()
    }
}

/// Where an [`EncodeNode`]'s cycle puts its packet, and the bad-input events it counts.
struct EncodeOut<'s> {
    slot: &'s mut PacketSlot,
    errors: u32,
}

impl EncodeNode {
    /// Wraps `encoder`, emitting packets of `ptime_us` microseconds in a graph running at
    /// `quantum`. Errors when the codec does not allow the ptime, or the ptime is not a whole
    /// number of quanta.
    pub fn new(encoder: Box<dyn Encoder>, ptime_us: u32, quantum: Quantum) -> Result<Self, CodecError> {
        let info = *encoder.info();
        info.check_ptime(ptime_us)?;
        let quantum_len = quantum_len(&info, quantum)?;
        if ptime_us % quantum.micros() != 0 {
            return Err(CodecError::QuantumMismatch { codec: info.encoding, quantum_us: quantum.micros(), ptime_us });
        }
        let per_packet = u64::from(ptime_us) * u64::from(info.sample_rate);
        let frame_units = info.frame_samples as u64 * 1_000_000;
        let cap = if frame_units == 0 || per_packet % frame_units != 0 {
            usize::MAX
        } else {
            (per_packet / frame_units) as usize * info.max_frame_bytes
        };
        if cap > MAX_PAYLOAD {
            return Err(CodecError::UnsupportedPtime {
                codec: info.encoding,
                got_us: ptime_us,
                supported_us: info.ptimes_us,
            });
        }
        let frames_per_packet = (per_packet / frame_units) as usize;
        Ok(EncodeNode {
            frame: vec![0.0; info.frame_len()].into_boxed_slice(),
            scratch: vec![0; info.max_frame_bytes].into_boxed_slice(),
            pkt: vec![0; cap].into_boxed_slice(),
            enc: encoder,
            ptime_us,
            quantum_us: quantum.micros(),
            quantum_len,
            frames_per_packet,
            frame_ticks: info.rtp_ticks(info.frame_samples),
            frame_fill: 0,
            pkt_len: 0,
            pkt_frames: 0,
            pkt_ts: 0,
            pkt_marker: false,
            pkt_closed: false,
            win_pos: 0,
            frame_ts: 0,
            silent: true,
            first_packet: true,
            slot_frames: 0,
            payload_type: info.payload_type,
            ssrc: 0,
            first_sequence: 0,
            first_timestamp: 0,
            sequence: 0,
            dropped: 0,
            packets: 0,
            switches: 0,
            parked: None,
            switch_pending: false,
            marker_next: false,
            shared_ports: false,
            counts: None,
            level: None,
            info,
        })
    }

    /// The same node with two more inputs, for a conference leg whose listeners' mix is
    /// encoded once for everybody: `shared` (packets of the shared encode: the same codec at
    /// ptime = quantum) and `hear` (the mixer's [`Hear`] mark for this leg). When the mark is
    /// [`Hear::Shared`] and the shared packet is there, its frames go into this stream's
    /// packet in place of encoding (this stream's SSRC, sequence, timestamps and ptime);
    /// [`Hear::Nothing`] sends nothing (frames untransmitted, as in DTX); [`Hear::Own`]
    /// encodes as usual. For codecs whose frames carry no encoder state (G.711) a stream
    /// moves between its own frames and the shared ones at any quantum. For codecs with
    /// state (G.722, G.729, Opus), the peer's decoder follows the shared encoder's history
    /// while the leg splices; when the leg encodes its own again (counted as `handoffs`,
    /// the packet marked), its encoder should start from a state near the shared one's.
    /// This node keeps the last [`Encoder::handoff_priming_us`] of what the leg heard while
    /// it spliced (its input: the shared mix), and at the hand-over resets its encoder and
    /// encodes that history, discarding the frames (G.722 and G.729: 60 ms); a codec that
    /// primes nothing (Opus) resumes from its own last state. Measured against an ideal
    /// hand-over (`tests/codec_handoff.rs`). The quantum must hold whole frames of the codec.
    ///
    /// ```
    /// use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Processor, Quantum};
    /// use rvoip_media_nodes::codec::{CodecError, EncodeNode, G711CodecEncoder, G722CodecEncoder, G729CodecEncoder};
    /// use rvoip_media_nodes::mixer::Hear;
    /// use rvoip_media_nodes::G711Law;
    ///
    /// let q = Quantum::MS_10;
    /// let enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 20_000, q).unwrap();
    /// let mut h = NodeHarness::new(Box::new(enc.with_shared_input().unwrap()), q).unwrap();
    /// let shared = Packet::from_payload(PacketMeta { payload_type: 0, ..PacketMeta::default() }, &[0x55; 80]).unwrap();
    /// h.packet_in_mut(1).put(&shared);
    /// *h.control_in_mut(2) = Hear::Shared.value();
    /// h.run();
    /// h.run();
    /// assert_eq!(h.packet_out(0).unwrap().payload(), &[0x55; 160][..]); // 20 ms, spliced twice
    ///
    /// // G.722 (stateful): spliced, then its own again: one hand-over, marked.
    /// let g722 = EncodeNode::new(Box::new(G722CodecEncoder::new()), 10_000, q).unwrap();
    /// let mut h = NodeHarness::new(Box::new(g722.with_shared_input().unwrap()), q).unwrap();
    /// let shared = Packet::from_payload(PacketMeta { payload_type: 9, ..PacketMeta::default() }, &[0x11; 80]).unwrap();
    /// h.packet_in_mut(1).put(&shared);
    /// *h.control_in_mut(2) = Hear::Shared.value();
    /// h.run();
    /// *h.control_in_mut(2) = Hear::Own.value();
    /// h.run();
    /// assert!(h.packet_out(0).unwrap().meta.marker);
    /// let mut t = [0.0; 11];
    /// h.processor_mut().telemetry(&mut t);
    /// assert_eq!(&t[7..], &[1.0, 1.0, 0.0, 1.0]); // own, shared, skipped, handoffs
    ///
    /// // G.729 with Annex B sends nothing in silence: no frame per quantum to share.
    /// let g729b = EncodeNode::new(Box::new(G729CodecEncoder::new(true)), 20_000, q).unwrap();
    /// assert!(matches!(g729b.with_shared_input(), Err(CodecError::NotShareable { .. })));
    /// ```
    ///
    /// # Errors
    /// [`CodecError::NotShareable`] for a codec that cannot share ([`Encoder::share`] gives
    /// `None`), or a quantum that does not hold whole frames.
    pub fn with_shared_input(mut self) -> Result<Self, CodecError> {
        let frame = self.frame.len();
        if self.enc.share().is_none() || frame == 0 || self.quantum_len % frame != 0 {
            return Err(CodecError::NotShareable { codec: self.info.encoding });
        }
        self.shared_ports = true;
        // History: the priming time in whole quanta (the quantum holds whole frames).
        let q_us = u64::from(self.quantum_us.max(1));
        let quanta = u64::from(self.enc.handoff_priming_us()).div_ceil(q_us) as usize;
        let history = vec![0.0; quanta * self.quantum_len].into_boxed_slice();
        self.counts =
            Some(Box::new(SharedInput { stateful: !self.enc.stateless(), history, ..SharedInput::default() }));
        Ok(self)
    }

    /// Quanta this node encoded itself, took from the shared stream, and sent nothing for
    /// (counted only with [`EncodeNode::with_shared_input`]).
    pub fn shared_counts(&self) -> (u64, u64, u64) {
        let c = self.counts.as_deref().map(|s| s.counts).unwrap_or_default();
        (c[0], c[1], c[2])
    }

    /// Times this node's own stateful encoder took its stream back from the shared one (see
    /// [`EncodeNode::with_shared_input`]).
    pub fn handoffs(&self) -> u64 {
        self.counts.as_deref().map_or(0, |s| s.counts[3])
    }

    /// This quantum is encoded here. A stateful encoder that was off its stream takes it
    /// back: its packet is marked, and a codec that primes
    /// ([`Encoder::handoff_priming_us`]) is reset and encodes (discarding the frames) the
    /// history of what the leg heard, so its state is near the shared encoder's.
    fn own_quantum(&mut self) {
        let Some(s) = self.counts.as_deref_mut() else { return };
        s.counts[0] += 1;
        if !std::mem::take(&mut s.off_own) || !s.stateful {
            return;
        }
        s.counts[3] += 1;
        self.marker_next = true;
        let frame = self.frame.len();
        let len = s.history.len();
        if s.hist_len == 0 || frame == 0 || len % frame != 0 {
            return;
        }
        self.enc.reset();
        let mut at = (s.hist_pos + len - s.hist_len) % len;
        for _ in 0..s.hist_len / frame {
            // Frames only prime the state; an error is as good as no frame here.
            let _ = self.enc.encode(&s.history[at..at + frame], &mut self.scratch);
            at = (at + frame) % len;
        }
        s.hist_len = 0;
    }

    /// This quantum was spliced (1) or not sent (2).
    fn count(&mut self, which: usize) {
        if let Some(s) = self.counts.as_deref_mut() {
            s.counts[which] += 1;
            s.off_own = true;
        }
    }

    /// With shared input: handles this quantum from the shared stream or as untransmitted
    /// when the mark says so; false when the node must encode it itself.
    fn take_shared(&mut self, hear: Hear, shared: Option<&Packet>, out: &mut EncodeOut<'_>) -> bool {
        if self.frame_fill != 0 || self.pkt_closed {
            return false;
        }
        let k = self.quantum_len / self.frame.len();
        if self.win_pos + k > self.frames_per_packet {
            return false;
        }
        match hear {
            Hear::Own => false,
            Hear::Nothing => {
                for _ in 0..k {
                    self.close(out);
                    self.silent = true;
                    self.advance_frame(out);
                }
                self.count(2);
                true
            }
            Hear::Shared => {
                let Some(p) = shared else { return false };
                let bytes = p.len();
                if p.meta.payload_type != self.info.payload_type
                    || bytes == 0
                    || bytes % k != 0
                    || self.pkt_len + bytes > self.pkt.len()
                {
                    return false;
                }
                if self.pkt_frames == 0 && self.win_pos == 0 && k == self.frames_per_packet && self.slot_frames == 0 {
                    // A whole packet of this stream (ptime = quantum): into the slot as
                    // `encode_direct` writes its own; the packet buffer stays cold.
                    return self.splice_direct(p, out);
                }
                if self.pkt_frames == 0 {
                    self.pkt_ts = self.frame_ts;
                    self.pkt_marker = self.first_packet || self.silent;
                }
                self.pkt[self.pkt_len..self.pkt_len + bytes].copy_from_slice(p.payload());
                self.pkt_len += bytes;
                self.pkt_frames += k;
                self.silent = false;
                self.frame_ts = self.frame_ts.wrapping_add(self.frame_ticks.wrapping_mul((k - 1) as u32));
                self.win_pos += k - 1;
                self.advance_frame(out);
                self.count(1);
                true
            }
        }
    }

    /// The shared packet `shared`, a whole packet of this stream, sent as this stream's
    /// (its sequence number, timestamp and marker), as [`EncodeNode::flush`] would send it
    /// from the packet buffer.
    fn splice_direct(&mut self, shared: &Packet, out: &mut EncodeOut<'_>) -> bool {
        let k = self.frames_per_packet;
        let p = out.slot.fill();
        if p.set_payload(shared.payload()).is_err() {
            // Cannot happen: a packet's payload fits a packet.
            out.slot.clear();
            return false;
        }
        self.sent_whole(p, k);
        self.count(1);
        true
    }

    /// A whole packet of `k` frames starting now went straight into the slot as `p`: its
    /// RTP fields, and the stream moves on by the packet.
    fn sent_whole(&mut self, p: &mut Packet, k: usize) {
        let marker = std::mem::take(&mut self.marker_next) || self.first_packet || self.silent;
        p.meta = self.packet_meta(self.frame_ts, marker);
        self.sequence = self.sequence.wrapping_add(1);
        self.packets += 1;
        self.slot_frames = k;
        self.first_packet = false;
        self.silent = false;
        self.frame_ts = self.frame_ts.wrapping_add(self.frame_ticks.wrapping_mul(k as u32));
    }

    /// One frame's time has passed: timestamp and window move on; a full window is sent.
    fn advance_frame(&mut self, out: &mut EncodeOut<'_>) {
        self.frame_ts = self.frame_ts.wrapping_add(self.frame_ticks);
        self.win_pos += 1;
        if self.win_pos == self.frames_per_packet {
            self.win_pos = 0;
            self.flush(out);
        }
    }

    /// Applies a pending switch if the stream is at a packet boundary: the codec half of
    /// the node is exchanged with the parked one, the stream half stays.
    fn apply_switch(&mut self) {
        if !self.switch_pending || self.frame_fill != 0 || self.win_pos != 0 || self.pkt_frames != 0 {
            return;
        }
        let Some(new) = self.parked.as_deref_mut() else { return };
        let next_ts = self.frame_ts;
        std::mem::swap(&mut self.enc, &mut new.enc);
        std::mem::swap(&mut self.info, &mut new.info);
        std::mem::swap(&mut self.ptime_us, &mut new.ptime_us);
        std::mem::swap(&mut self.frames_per_packet, &mut new.frames_per_packet);
        std::mem::swap(&mut self.frame_ticks, &mut new.frame_ticks);
        std::mem::swap(&mut self.frame, &mut new.frame);
        std::mem::swap(&mut self.scratch, &mut new.scratch);
        std::mem::swap(&mut self.pkt, &mut new.pkt);
        std::mem::swap(&mut self.payload_type, &mut new.payload_type);
        self.frame_ts = next_ts;
        if let Some(s) = self.counts.as_deref_mut() {
            s.stateful = !self.enc.stateless();
        }
        self.switch_pending = false;
        self.switches += 1;
        self.marker_next = true;
        let window = self.level_window();
        let mono_rate = (self.info.channels <= 1).then_some(self.info.sample_rate);
        if let Some(l) = self.level.as_mut() {
            l.window = window;
            if let Some(v) = l.vad.as_deref_mut() {
                v.hears = mono_rate == Some(v.vad.config().sample_rate);
                v.fill = 0;
            }
        }
    }

    /// Sets the RTP payload type (a negotiated dynamic one, say).
    pub fn with_payload_type(mut self, pt: u8) -> Self {
        self.payload_type = pt & 0x7f;
        self
    }

    /// Puts on every packet ([`PacketMeta::audio_level`]) the RFC 6464 level of the audio it
    /// encodes: the mean square of the quanta since the previous packet (one packet's
    /// window at most), in −dBov ([`audio_level`](crate::level::audio_level)), with the V
    /// bit set when the level is below `voice_below` (louder than −`voice_below` dBov: an
    /// energy VAD; 50 matches the talker policy's default gate). Computed on the worker as
    /// the node encodes, nothing allocated; a transport that negotiated the extension writes
    /// it. Without this, packets carry no level.
    ///
    /// ```
    /// use rvoip_media_graph::{PacketSlot, Quantum};
    /// use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder};
    /// use rvoip_media_nodes::G711Law;
    /// let enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 20_000, Quantum::MS_10).unwrap();
    /// let mut enc = enc.with_audio_level(50);
    /// let mut slot = PacketSlot::new();
    /// // A square wave at ±0.1: −20 dBov, voice.
    /// let loud: Vec<f32> = (0..80).map(|i| if i % 2 == 0 { 0.1 } else { -0.1 }).collect();
    /// enc.encode_cycle(&loud, &mut slot);
    /// enc.encode_cycle(&loud, &mut slot);
    /// assert_eq!(slot.get().unwrap().meta.audio_level, Some(0x80 | 20));
    /// enc.encode_cycle(&[0.0; 80], &mut slot);
    /// enc.encode_cycle(&[0.0; 80], &mut slot);
    /// assert_eq!(slot.get().unwrap().meta.audio_level, Some(127)); // silence, V = 0
    /// ```
    pub fn with_audio_level(mut self, voice_below: u8) -> Self {
        self.level = Some(PacketLevel { sum: 0.0, samples: 0, window: self.level_window(), voice_below, vad: None });
        self
    }

    /// Lets `vad` set the V bit of the levels ([`EncodeNode::with_audio_level`], which must
    /// come first; without it this does nothing): V is set on a packet when any of the VAD's
    /// 10 ms frames in its window was speech, so noise as loud as speech is not voice. The
    /// VAD hears the audio the node encodes (quanta that are not whole frames are buffered,
    /// nothing allocated on the worker; it costs about 0.6–1.2 µs per 10 ms frame); after a
    /// switch to a codec of another rate or channel count the energy gate decides again.
    ///
    /// # Errors
    /// [`CodecError::RateMismatch`] when the VAD's rate is not the encoder's, or the encoder
    /// is not mono.
    ///
    /// ```
    /// use rvoip_media_graph::{PacketSlot, Quantum};
    /// use rvoip_media_nodes::apm::{AdvancedVadConfig, Vad};
    /// use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder};
    /// use rvoip_media_nodes::G711Law;
    /// let enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 20_000, Quantum::MS_10).unwrap();
    /// let vad = Vad::new(AdvancedVadConfig::new(8000)).unwrap();
    /// let mut enc = enc.with_audio_level(50).with_voice_activity(vad).unwrap();
    /// let mut slot = PacketSlot::new();
    /// // A steady 1 kHz tone at −20 dBov is loud, but the VAD does not take it for speech.
    /// let tone: Vec<f32> = (0..80).map(|i| 0.1414 * (std::f32::consts::PI * i as f32 / 4.0).sin()).collect();
    /// for _ in 0..200 {
    ///     enc.encode_cycle(&tone, &mut slot);
    /// }
    /// assert_eq!(slot.get().unwrap().meta.audio_level, Some(20)); // V = 0
    /// assert!(EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 20_000, Quantum::MS_10)
    ///     .unwrap()
    ///     .with_voice_activity(Vad::new(AdvancedVadConfig::new(16_000)).unwrap())
    ///     .is_err()); // a 16 kHz VAD for 8 kHz audio
    /// ```
    pub fn with_voice_activity(mut self, vad: crate::apm::Vad) -> Result<Self, CodecError> {
        if vad.config().sample_rate != self.info.sample_rate || self.info.channels > 1 {
            return Err(CodecError::RateMismatch {
                what: "the VAD",
                got: vad.config().sample_rate,
                needed: self.info.sample_rate,
            });
        }
        if let Some(l) = self.level.as_mut() {
            let frame = vec![0.0; vad.frame_len()].into_boxed_slice();
            l.vad = Some(Box::new(VoiceActivity { vad, frame, fill: 0, speech: false, hears: true }));
        }
        Ok(self)
    }

    /// Samples of one packet's window (the level's averaging span).
    fn level_window(&self) -> usize {
        let per_channel = u64::from(self.ptime_us) * u64::from(self.info.sample_rate) / 1_000_000;
        (per_channel as usize * usize::from(self.info.channels.max(1))).max(1)
    }

    /// Sets the SSRC written into every packet.
    pub fn with_ssrc(mut self, ssrc: u32) -> Self {
        self.ssrc = ssrc;
        self
    }

    /// Sets the first sequence number and RTP timestamp (RFC 3550 recommends random ones).
    pub fn with_start(mut self, sequence: u16, timestamp: u32) -> Self {
        self.first_sequence = sequence;
        self.first_timestamp = timestamp;
        self.sequence = sequence;
        self.frame_ts = timestamp;
        self
    }

    /// The codec's facts.
    pub fn info(&self) -> &CodecInfo {
        &self.info
    }

    /// Packet duration in µs.
    pub fn ptime_us(&self) -> u32 {
        self.ptime_us
    }

    /// Codec frames per packet.
    pub fn frames_per_packet(&self) -> usize {
        self.frames_per_packet
    }

    /// Frames discarded because a packet was replaced (see the type's docs).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// Packets sent (the first value of its telemetry).
    ///
    /// ```
    /// use rvoip_media_graph::{PacketSlot, Quantum};
    /// use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder};
    /// use rvoip_media_nodes::G711Law;
    /// let mut enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 20_000, Quantum::MS_10).unwrap();
    /// let mut slot = PacketSlot::new();
    /// for _ in 0..3 {
    ///     enc.encode_cycle(&[0.0; 80], &mut slot);
    /// }
    /// assert_eq!(enc.packets(), 1); // a 20 ms packet after two cycles; the third starts the next
    /// ```
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Encodes the full `frame` buffer into the packet under construction.
    /// Encodes one frame of `pcm` (the input itself when a whole frame is there, else the
    /// frame buffer) into the packet under construction.
    fn encode_frame(&mut self, pcm: &[f32], out: &mut EncodeOut<'_>) {
        let (kind, len) = match self.enc.encode(pcm, &mut self.scratch) {
            Ok(f) if f.len <= self.scratch.len() => (f.kind, f.len),
            _ => {
                out.errors += 1;
                (FrameType::NoTransmission, 0)
            }
        };
        if kind == FrameType::NoTransmission || len == 0 {
            self.close(out);
            self.silent = true;
        } else {
            if self.pkt_closed {
                self.dropped += self.pkt_frames as u64;
                self.pkt_len = 0;
                self.pkt_frames = 0;
                self.pkt_closed = false;
            }
            if self.pkt_frames == 0 {
                self.pkt_ts = self.frame_ts;
                self.pkt_marker = self.first_packet || (kind == FrameType::Speech && self.silent);
            }
            // Capacity: frames_per_packet * max_frame_bytes, and a packet never holds more
            // frames than its window.
            self.pkt[self.pkt_len..self.pkt_len + len].copy_from_slice(&self.scratch[..len]);
            self.pkt_len += len;
            self.pkt_frames += 1;
            self.silent = kind == FrameType::Sid;
            if self.silent {
                self.close(out);
            }
        }
        self.advance_frame(out);
    }

    /// Fast path for codecs that encode runs of frames ([`Encoder::encode_frames`]): the
    /// whole frames of `rest` that fit in the current ptime window, encoded straight into
    /// the packet, with the same bookkeeping as [`EncodeNode::encode_frame`] does for speech
    /// frames. Returns false (and consumes nothing) when it does not apply.
    fn encode_run(&mut self, rest: &mut &[f32], out: &mut EncodeOut<'_>) -> bool {
        let frame_len = self.frame.len();
        let k = (rest.len() / frame_len).min(self.frames_per_packet - self.win_pos);
        if k < 2 || self.pkt_closed {
            return false;
        }
        let Some(n) = self.enc.encode_frames(&rest[..k * frame_len], &mut self.pkt[self.pkt_len..]) else {
            return false;
        };
        if self.pkt_frames == 0 {
            self.pkt_ts = self.frame_ts;
            self.pkt_marker = self.first_packet || self.silent;
        }
        self.pkt_len += n;
        self.pkt_frames += k;
        self.silent = false;
        self.frame_ts = self.frame_ts.wrapping_add(self.frame_ticks.wrapping_mul(k as u32));
        self.win_pos += k;
        *rest = &rest[k * frame_len..];
        if self.win_pos == self.frames_per_packet {
            self.win_pos = 0;
            self.flush(out);
        }
        true
    }

    /// The common case (ptime = quantum, or the quantum holds a whole window), encoded
    /// straight into this cycle's output slot: a window starts, the input holds all its
    /// frames, and the codec encodes runs of frames ([`Encoder::encode_frames`]). The packet
    /// is what [`EncodeNode::encode_run`] then [`EncodeNode::flush`] would give, without the
    /// copy through the node's packet buffer. Returns false (and consumes nothing) when it
    /// does not apply.
    fn encode_direct(&mut self, rest: &mut &[f32], out: &mut EncodeOut<'_>) -> bool {
        let k = self.frames_per_packet;
        let need = k * self.frame.len();
        if k < 2 || rest.len() < need || self.win_pos != 0 || self.pkt_frames != 0 || self.slot_frames != 0 {
            return false;
        }
        let slot = &mut *out.slot;
        let p = slot.fill();
        match self.enc.encode_frames(&rest[..need], p.buffer_mut()) {
            Some(n) if p.set_len(n).is_ok() => {}
            _ => {
                slot.clear();
                return false;
            }
        }
        self.sent_whole(p, k);
        *rest = &rest[need..];
        true
    }

    /// One cycle outside a graph: `input` (one quantum at the codec's rate) in, this cycle's
    /// packet (if one leaves) into `out`, which is cleared first. What [`Processor::process`]
    /// does, for a node that runs many legs itself (a conference room's kernel) and keeps
    /// their encoders in its own memory. A node with a shared input encodes its own here.
    /// Returns the bad-input events (as `report_error` would count them).
    ///
    /// ```
    /// use rvoip_media_graph::{PacketSlot, Quantum};
    /// use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder};
    /// use rvoip_media_nodes::G711Law;
    /// let enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 10_000, Quantum::MS_10).unwrap();
    /// let mut enc = enc.with_ssrc(9);
    /// let mut slot = PacketSlot::new();
    /// assert_eq!(enc.encode_cycle(&[0.0; 80], &mut slot), 0);
    /// let p = slot.get().unwrap();
    /// assert_eq!((p.len(), p.meta.ssrc, p.meta.sequence), (80, 9, 0));
    /// assert_eq!(enc.encode_cycle(&[0.0; 79], &mut slot), 1); // wrong length: no packet, one error
    /// assert!(slot.get().is_none());
    /// ```
    pub fn encode_cycle(&mut self, input: &[f32], out: &mut PacketSlot) -> u32 {
        out.clear();
        let mut out = EncodeOut { slot: out, errors: 0 };
        self.run_cycle(input, None, &mut out);
        out.errors
    }

    /// [`EncodeNode::encode_cycle`] for a node [with a shared input](EncodeNode::with_shared_input)
    /// run outside a graph (a room kernel's legs): `hear` and this cycle's packet of the
    /// shared encode are what its `hear` and `shared` ports would carry. A node without a
    /// shared input encodes `input` as [`EncodeNode::encode_cycle`] does.
    ///
    /// ```
    /// use rvoip_media_graph::{Packet, PacketMeta, PacketSlot, Quantum};
    /// use rvoip_media_nodes::codec::{EncodeNode, G711CodecEncoder};
    /// use rvoip_media_nodes::mixer::Hear;
    /// use rvoip_media_nodes::G711Law;
    /// let enc = EncodeNode::new(Box::new(G711CodecEncoder::new(G711Law::Ulaw)), 10_000, Quantum::MS_10).unwrap();
    /// let mut enc = enc.with_shared_input().unwrap();
    /// let shared = Packet::from_payload(PacketMeta::default(), &[0x55; 80]).unwrap();
    /// let mut slot = PacketSlot::new();
    /// assert_eq!(enc.encode_cycle_shared(&[0.0; 80], Hear::Shared, Some(&shared), &mut slot), 0);
    /// assert_eq!(slot.get().unwrap().payload(), &[0x55; 80][..]); // spliced
    /// assert_eq!(enc.encode_cycle_shared(&[0.0; 80], Hear::Nothing, None, &mut slot), 0);
    /// assert!(slot.get().is_none()); // nothing sent
    /// assert_eq!(enc.shared_counts(), (0, 1, 1));
    /// ```
    pub fn encode_cycle_shared(
        &mut self,
        input: &[f32],
        hear: Hear,
        shared: Option<&Packet>,
        out: &mut PacketSlot,
    ) -> u32 {
        out.clear();
        let mut out = EncodeOut { slot: out, errors: 0 };
        self.run_cycle(input, Some((hear, shared)), &mut out);
        out.errors
    }

    /// The cycle: `shared` is the hear mark and shared packet of a node with a shared input.
    fn run_cycle(&mut self, input: &[f32], shared: Option<(Hear, Option<&Packet>)>, out: &mut EncodeOut<'_>) {
        let Some(level) = self.level.as_mut() else {
            return self.encode_quantum(input, shared, out);
        };
        level.add(input);
        // Kept in place: a codec switch in the quantum updates its window and VAD.
        self.encode_quantum(input, shared, out);
        if let Some(level) = self.level.as_mut().filter(|_| self.slot_frames > 0 && out.slot.is_present()) {
            out.slot.fill().meta.audio_level = Some(level.take());
        }
    }

    /// The cycle without the level: see [`EncodeNode::run_cycle`].
    fn encode_quantum(&mut self, input: &[f32], shared: Option<(Hear, Option<&Packet>)>, out: &mut EncodeOut<'_>) {
        self.slot_frames = 0;
        self.apply_switch();
        if self.shared_ports {
            if let Some((hear, packet)) = shared {
                if self.take_shared(hear, packet, out) {
                    if let Some(s) = self.counts.as_deref_mut() {
                        s.record(input);
                    }
                    return;
                }
            }
            self.own_quantum();
        }
        if input.len() != self.quantum_len {
            out.errors += 1;
            return;
        }
        if !kernels::all_sane(input) {
            out.errors += 1;
        }
        let mut rest = input;
        let frame_len = self.frame.len();
        while !rest.is_empty() {
            if self.frame_fill == 0 && (self.encode_direct(&mut rest, out) || self.encode_run(&mut rest, out)) {
                continue;
            }
            if self.frame_fill == 0 && rest.len() >= frame_len {
                // A whole frame in the input: encode it where it is.
                let (frame, tail) = rest.split_at(frame_len);
                self.encode_frame(frame, out);
                rest = tail;
                continue;
            }
            let take = (frame_len - self.frame_fill).min(rest.len());
            self.frame[self.frame_fill..self.frame_fill + take].copy_from_slice(&rest[..take]);
            self.frame_fill += take;
            rest = &rest[take..];
            if self.frame_fill == frame_len {
                self.frame_fill = 0;
                // Taking the buffer out and back moves a pointer; nothing is allocated.
                let frame = std::mem::take(&mut self.frame);
                self.encode_frame(&frame, out);
                self.frame = frame;
            }
        }
    }

    /// The RTP fields of the next packet: this stream's payload type, SSRC and sequence.
    fn packet_meta(&self, timestamp: u32, marker: bool) -> PacketMeta {
        PacketMeta {
            payload_type: self.payload_type,
            sequence: self.sequence,
            timestamp,
            ssrc: self.ssrc,
            marker,
            arrival_ns: 0,
            audio_level: None,
        }
    }

    /// Ends the packet under construction: sends it now, or, for the first packet, marks it
    /// to wait for the end of its window.
    fn close(&mut self, out: &mut EncodeOut<'_>) {
        if self.first_packet {
            self.pkt_closed = self.pkt_frames > 0;
        } else {
            self.flush(out);
        }
    }

    /// Emits the packet under construction, if any, into this cycle's slot.
    fn flush(&mut self, out: &mut EncodeOut<'_>) {
        if self.pkt_frames == 0 {
            return;
        }
        let mut marker = self.pkt_marker || std::mem::take(&mut self.marker_next);
        if self.slot_frames > 0 {
            // A second packet in one cycle replaces the first, reusing its sequence number.
            self.dropped += self.slot_frames as u64;
            self.sequence = self.sequence.wrapping_sub(1);
            marker |= out.slot.get().is_some_and(|p| p.meta.marker);
        }
        let meta = self.packet_meta(self.pkt_ts, marker);
        let p = out.slot.fill();
        p.meta = meta;
        p.buffer_mut()[..self.pkt_len].copy_from_slice(&self.pkt[..self.pkt_len]);
        if p.set_len(self.pkt_len).is_err() {
            out.slot.clear();
            out.errors += 1;
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.packets += 1;
        self.slot_frames = self.pkt_frames;
        self.first_packet = false;
        self.pkt_len = 0;
        self.pkt_frames = 0;
        self.pkt_closed = false;
    }
}

/// [`EncodeNode`]'s telemetry names, in the order it publishes them. A node without shared
/// ports publishes the first [`PLAIN_ENCODE_TELEMETRY`] of them (its cell stays one cache
/// line); the rest count a shared-input node's quanta.
///
/// ```
/// use rvoip_media_nodes::codec::{ENCODE_TELEMETRY, PLAIN_ENCODE_TELEMETRY};
/// assert_eq!(ENCODE_TELEMETRY[0], "packets");
/// assert_eq!(ENCODE_TELEMETRY[PLAIN_ENCODE_TELEMETRY], "own_quanta");
/// ```
pub const ENCODE_TELEMETRY: [&str; 11] = [
    "packets",
    "dropped_frames",
    "ssrc",
    "next_sequence",
    "next_timestamp",
    "switches",
    "payload_type",
    "own_quanta",
    "shared_quanta",
    "skipped_quanta",
    "handoffs",
];

/// How many of [`ENCODE_TELEMETRY`]'s values an [`EncodeNode`] without shared ports
/// publishes.
///
/// ```
/// use rvoip_media_nodes::codec::PLAIN_ENCODE_TELEMETRY;
/// assert_eq!(PLAIN_ENCODE_TELEMETRY, 7);
/// ```
pub const PLAIN_ENCODE_TELEMETRY: usize = 7;

impl Processor for EncodeNode {
    fn spec(&self) -> NodeSpec {
        let s = NodeSpec::new("encode")
            .with_message::<SwitchEncoder>()
            // The shared-input counters only where they exist (a plain node's telemetry
            // cell stays one cache line).
            .with_telemetry(if self.shared_ports {
                &ENCODE_TELEMETRY
            } else {
                &ENCODE_TELEMETRY[..PLAIN_ENCODE_TELEMETRY]
            })
            .with_input(PortSpec::required("in", PortKind::Audio(audio_format(&self.info))))
            .with_output(PortSpec::required("out", PortKind::Packet(self.info.packet_format())))
            .with_latency_ns(
                u64::from(self.ptime_us - self.quantum_us.min(self.ptime_us)) * 1000
                    + u64::from(self.info().delay_samples) * 1_000_000_000 / u64::from(self.info().sample_rate.max(1)),
            );
        if self.shared_ports {
            s.with_input(PortSpec::optional("shared", PortKind::Packet(self.info.packet_format())))
                .with_input(PortSpec::optional("hear", PortKind::Control))
        } else {
            s
        }
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let input = io.audio_in(0);
        let shared = if self.shared_ports { Some((Hear::from_value(io.control_in(2)), io.packet_in(1))) } else { None };
        let mut out = EncodeOut { slot: io.packet_out(0), errors: 0 };
        self.run_cycle(input, shared, &mut out);
        for _ in 0..out.errors {
            io.report_error();
        }
    }

    fn reset(&mut self) {
        self.enc.reset();
        self.frame_fill = 0;
        self.pkt_len = 0;
        self.pkt_frames = 0;
        self.pkt_closed = false;
        self.win_pos = 0;
        self.frame_ts = self.first_timestamp;
        self.sequence = self.first_sequence;
        self.silent = true;
        self.first_packet = true;
        self.dropped = 0;
        if let Some(l) = self.level.as_mut() {
            (l.sum, l.samples) = (0.0, 0);
        }
        if let Some(s) = self.counts.as_deref_mut() {
            s.off_own = false;
            s.hist_len = 0;
        }
    }

    fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        let switch = msg.downcast_mut::<SwitchEncoder>().ok_or(MessageError::WrongType)?;
        let Some(new) = switch.0.as_deref() else { return Err(MessageError::Invalid("empty switch")) };
        if audio_format(&new.info) != audio_format(&self.info) || new.quantum_us != self.quantum_us {
            return Err(MessageError::Invalid("the new encoder takes another audio format or quantum"));
        }
        // Whatever was parked (a replaced encoder, or a switch not yet applied) goes back.
        std::mem::swap(&mut self.parked, &mut switch.0);
        self.switch_pending = true;
        self.apply_switch();
        Ok(())
    }

    fn telemetry(&self, out: &mut [f64]) {
        // The counters' box is only read by a node that has one (a plain node's telemetry
        // touches its hot fields only).
        let c = if self.shared_ports { self.counts.as_deref().map(|s| s.counts).unwrap_or_default() } else { [0; 4] };
        let v = [
            self.packets as f64,
            self.dropped as f64,
            f64::from(self.ssrc),
            f64::from(self.sequence),
            f64::from(self.frame_ts),
            self.switches as f64,
            f64::from(self.payload_type),
            c[0] as f64,
            c[1] as f64,
            c[2] as f64,
            c[3] as f64,
        ];
        for (o, v) in out.iter_mut().zip(v) {
            *o = v;
        }
    }

    fn prefetch(&self) {
        rvoip_media_graph::prefetch_value(&*self.enc);
        if let Some(c) = self.counts.as_deref() {
            // A node with a shared input counts (and may record) every quantum there.
            rvoip_media_graph::prefetch_value(c);
        }
        if self.ptime_us > self.quantum_us {
            // Packets of several quanta gather their frames in `pkt`, spliced ones too
            // (flushed from there); a packet of one quantum goes straight to its slot.
            let bytes = self.info.max_frame_bytes * self.frames_per_packet;
            rvoip_media_graph::prefetch_lines(&*self.pkt, bytes.min(self.pkt.len()).div_ceil(64).min(PKT_LINES));
        }
    }
}

/// most (a 20 ms G.711 packet: three).
const PKT_LINES: usize = 3;
