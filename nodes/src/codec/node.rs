//! [`EncodeNode`] and [`DecodeNode`]: packetisation of any [`Encoder`] / [`Decoder`].

use super::{CodecError, CodecInfo, Decoder, Encoder, FrameType};
use crate::kernels;
use rvoip_media_graph::{
    AudioFormat, NodeSpec, Packet, PacketMeta, PortKind, PortSpec, ProcessIo, Processor, Quantum, MAX_PAYLOAD,
};

fn audio_format(info: &CodecInfo) -> AudioFormat {
    AudioFormat { rate: info.sample_rate, channels: info.channels }
}

/// Interleaved samples of one quantum of this codec's audio.
fn quantum_len(info: &CodecInfo, quantum: Quantum) -> Result<usize, CodecError> {
    audio_format(info).samples_per_quantum(quantum).filter(|&n| n > 0).ok_or(CodecError::UnsupportedRate {
        codec: info.encoding,
        got: info.sample_rate,
        supported: &[8000, 16_000, 24_000, 32_000, 48_000],
    })
}

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
/// packet never leaves early (a [`DecodeNode`] sets its playout time by the first packet, which
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
/// Ports: input 0 `"in"` audio at the codec's rate and channels; output 0 `"out"` packet.
pub struct EncodeNode {
    enc: Box<dyn Encoder>,
    info: CodecInfo,
    ptime_us: u32,
    quantum_us: u32,
    quantum_len: usize,
    frames_per_packet: usize,
    frame_ticks: u32,
    frame: Box<[f32]>,
    frame_fill: usize,
    scratch: Box<[u8]>,
    pkt: Box<[u8]>,
    pkt_len: usize,
    pkt_frames: usize,
    pkt_ts: u32,
    pkt_marker: bool,
    /// The packet under construction takes no more frames (the first packet, closed by a SID
    /// or a gap, waiting for its window to end).
    pkt_closed: bool,
    /// Position of the next frame in its ptime window.
    win_pos: usize,
    /// RTP timestamp of the next frame.
    frame_ts: u32,
    /// The last frame was a SID or untransmitted (or nothing was sent yet).
    silent: bool,
    first_packet: bool,
    /// Frames of the packet already in this cycle's output slot (0: slot empty).
    slot_frames: usize,
    payload_type: u8,
    ssrc: u32,
    first_sequence: u16,
    first_timestamp: u32,
    sequence: u16,
    dropped: u64,
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
            info,
        })
    }

    /// Sets the RTP payload type (a negotiated dynamic one, say).
    pub fn with_payload_type(mut self, pt: u8) -> Self {
        self.payload_type = pt & 0x7f;
        self
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

    /// Encodes the full `frame` buffer into the packet under construction.
    fn encode_frame(&mut self, io: &mut ProcessIo<'_>) {
        let (kind, len) = match self.enc.encode(&self.frame, &mut self.scratch) {
            Ok(f) if f.len <= self.scratch.len() => (f.kind, f.len),
            _ => {
                io.report_error();
                (FrameType::NoTransmission, 0)
            }
        };
        if kind == FrameType::NoTransmission || len == 0 {
            self.close(io);
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
                self.close(io);
            }
        }
        self.frame_ts = self.frame_ts.wrapping_add(self.frame_ticks);
        self.win_pos += 1;
        if self.win_pos == self.frames_per_packet {
            self.win_pos = 0;
            self.flush(io);
        }
    }

    /// Ends the packet under construction: sends it now, or, for the first packet, marks it
    /// to wait for the end of its window.
    fn close(&mut self, io: &mut ProcessIo<'_>) {
        if self.first_packet {
            self.pkt_closed = self.pkt_frames > 0;
        } else {
            self.flush(io);
        }
    }

    /// Emits the packet under construction, if any, into this cycle's slot.
    fn flush(&mut self, io: &mut ProcessIo<'_>) {
        if self.pkt_frames == 0 {
            return;
        }
        let mut marker = self.pkt_marker;
        if self.slot_frames > 0 {
            // A second packet in one cycle replaces the first, reusing its sequence number.
            self.dropped += self.slot_frames as u64;
            self.sequence = self.sequence.wrapping_sub(1);
            marker |= io.packet_out(0).get().is_some_and(|p| p.meta.marker);
        }
        let meta = PacketMeta {
            payload_type: self.payload_type,
            sequence: self.sequence,
            timestamp: self.pkt_ts,
            ssrc: self.ssrc,
            marker,
        };
        let p = io.packet_out(0).fill();
        p.meta = meta;
        p.buffer_mut()[..self.pkt_len].copy_from_slice(&self.pkt[..self.pkt_len]);
        if p.set_len(self.pkt_len).is_err() {
            io.packet_out(0).clear();
            io.report_error();
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.slot_frames = self.pkt_frames;
        self.first_packet = false;
        self.pkt_len = 0;
        self.pkt_frames = 0;
        self.pkt_closed = false;
    }
}

impl Processor for EncodeNode {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("encode")
            .with_input(PortSpec::required("in", PortKind::Audio(audio_format(&self.info))))
            .with_output(PortSpec::required("out", PortKind::Packet(self.info.packet_format())))
            .with_latency_ns(
                u64::from(self.ptime_us - self.quantum_us.min(self.ptime_us)) * 1000
                    + u64::from(self.info().delay_samples) * 1_000_000_000 / u64::from(self.info().sample_rate.max(1)),
            )
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        self.slot_frames = 0;
        let input = io.audio_in(0);
        if input.len() != self.quantum_len {
            io.report_error();
            return;
        }
        if !kernels::all_sane(input) {
            io.report_error();
        }
        let mut rest = input;
        while !rest.is_empty() {
            let take = (self.frame.len() - self.frame_fill).min(rest.len());
            self.frame[self.frame_fill..self.frame_fill + take].copy_from_slice(&rest[..take]);
            self.frame_fill += take;
            rest = &rest[take..];
            if self.frame_fill == self.frame.len() {
                self.frame_fill = 0;
                self.encode_frame(io);
            }
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
    }
}

/// Packets in, audio quanta out: wraps any [`Decoder`].
///
/// Each packet is decoded whole into a FIFO; every cycle takes one quantum from it. When the
/// FIFO does not hold a whole quantum (no packet covers it: lost, late, or not sent under
/// DTX) the decoder conceals frame by frame ([`Decoder::decode`] with `None`). Before the first
/// packet the output is silence; the first packet starts playing in the cycle it arrives, which
/// fixes the playout time of the stream. Packets that arrive before their playout time are
/// buffered, later ones are dropped: this node expects packets on time, as [`EncodeNode`]
/// sends them; network jitter must be absorbed by a jitter buffer upstream.
///
/// RTP timestamps place packets: a packet that starts after the end of the audio decoded so
/// far (a lost packet, or untransmitted leading frames) is preceded by concealment of the gap
/// (up to the codec's longest ptime; a larger jump re-synchronises without filling); a packet
/// that starts before it (late or duplicate, up to four longest ptimes back) is dropped. A
/// payload the codec refuses, or one that does not fit the FIFO, is dropped with
/// `report_error` and concealed like a loss. The payload type is not checked (the port format
/// fixes the encoding).
///
/// Ports: input 0 `"in"` packet; output 0 `"out"` audio at the codec's rate and channels.
pub struct DecodeNode {
    dec: Box<dyn Decoder>,
    info: CodecInfo,
    quantum_len: usize,
    /// Longest packet accepted, interleaved samples.
    max_packet: usize,
    fifo: Box<[f32]>,
    fill: usize,
    next_ts: Option<u32>,
    late: u64,
    concealed: u64,
}

impl DecodeNode {
    /// Wraps `decoder` for a graph running at `quantum`.
    pub fn new(decoder: Box<dyn Decoder>, quantum: Quantum) -> Result<Self, CodecError> {
        let info = *decoder.info();
        let quantum_len = quantum_len(&info, quantum)?;
        let longest = info.ptimes_us.iter().copied().max().unwrap_or(info.default_ptime_us);
        let per_channel = (u64::from(longest) * u64::from(info.sample_rate) / 1_000_000) as usize;
        let max_packet = per_channel.max(info.frame_samples) * usize::from(info.channels);
        // Gap concealment + one packet + what a quantum can leave over + one concealed frame.
        let cap = 2 * max_packet + quantum_len + info.frame_len();
        Ok(DecodeNode {
            dec: decoder,
            info,
            quantum_len,
            max_packet,
            fifo: vec![0.0; cap].into_boxed_slice(),
            fill: 0,
            next_ts: None,
            late: 0,
            concealed: 0,
        })
    }

    /// The codec's facts.
    pub fn info(&self) -> &CodecInfo {
        &self.info
    }

    /// Packets dropped as late or duplicate.
    pub fn late_packets(&self) -> u64 {
        self.late
    }

    /// Frames concealed so far.
    pub fn concealed_frames(&self) -> u64 {
        self.concealed
    }

    fn ticks_of(&self, samples: usize) -> u32 {
        self.info.rtp_ticks(samples / usize::from(self.info.channels.max(1)))
    }

    /// Conceals one frame into the FIFO; false if that failed (cannot happen with the
    /// capacity reserved at construction).
    fn conceal_frame(&mut self) -> bool {
        match self.dec.decode(None, &mut self.fifo[self.fill..]) {
            Ok(n) if n > 0 && self.fill + n <= self.fifo.len() => {
                self.fill += n;
                self.concealed += 1;
                if let Some(ts) = self.next_ts.as_mut() {
                    *ts = ts.wrapping_add(self.info.rtp_ticks(n / usize::from(self.info.channels.max(1))));
                }
                true
            }
            _ => false,
        }
    }

    fn receive(&mut self, p: &Packet, io: &mut ProcessIo<'_>) {
        let payload = p.payload();
        let n = match self.dec.samples_in(payload) {
            Ok(n) => n * usize::from(self.info.channels),
            Err(_) => {
                io.report_error();
                return;
            }
        };
        if n > self.max_packet {
            io.report_error();
            return;
        }
        let ts = p.meta.timestamp;
        if let Some(expected) = self.next_ts {
            let gap = ts.wrapping_sub(expected) as i32;
            let window = i64::from(self.ticks_of(self.max_packet));
            if gap < 0 && i64::from(gap) >= -4 * window {
                self.late += 1;
                return;
            }
            if gap > 0 && i64::from(gap) <= window {
                // Conceal whole frames up to the packet's start.
                let frame_ticks = self.info.rtp_ticks(self.info.frame_samples).max(1);
                let frames = gap as u32 / frame_ticks;
                for _ in 0..frames {
                    if self.fill + self.info.frame_len() + n > self.fifo.len() || !self.conceal_frame() {
                        break;
                    }
                }
            }
        }
        if self.fill + n > self.fifo.len() {
            io.report_error();
            return;
        }
        match self.dec.decode(Some(payload), &mut self.fifo[self.fill..]) {
            Ok(m) if self.fill + m <= self.fifo.len() => {
                self.fill += m;
                self.next_ts = Some(ts.wrapping_add(self.ticks_of(m)));
            }
            _ => io.report_error(),
        }
    }
}

impl Processor for DecodeNode {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("decode")
            .with_input(PortSpec::required("in", PortKind::Packet(self.info.packet_format())))
            .with_output(PortSpec::required("out", PortKind::Audio(audio_format(&self.info))))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        if let Some(p) = io.packet_in(0) {
            self.receive(p, io);
        }
        while self.fill < self.quantum_len && self.next_ts.is_some() {
            if !self.conceal_frame() {
                io.report_error();
                break;
            }
        }
        let q = self.quantum_len;
        let m = self.fill.min(q);
        let out = io.audio_out(0);
        if out.len() != q {
            out.fill(0.0);
            io.report_error();
            return;
        }
        out[..m].copy_from_slice(&self.fifo[..m]);
        out[m..].fill(0.0);
        self.fifo.copy_within(m..self.fill, 0);
        self.fill -= m;
    }

    fn reset(&mut self) {
        self.dec.reset();
        self.fill = 0;
        self.next_ts = None;
        self.late = 0;
        self.concealed = 0;
    }
}
