//! [`DecodeNode`]: packets in, audio quanta out, for any [`Decoder`].

use super::lead::LeadTrim;
use super::{audio_format, quantum_len};
use super::{CodecError, CodecInfo, Decoder};
use rvoip_media_graph::{MessageError, NodeSpec, PacketMeta, PortKind, PortSpec, ProcessIo, Processor, Quantum};
use std::any::Any;

/// Packets in, audio quanta out: wraps any [`Decoder`].
///
/// Each packet is decoded whole into a FIFO; every cycle takes one quantum from it. When the
/// FIFO does not hold a whole quantum (no packet covers it: lost, late, or not sent under
/// DTX) the decoder conceals frame by frame ([`Decoder::decode`] with `None`). Before the first
/// packet the output is silence; the first packet starts playing in the cycle it arrives, which
/// fixes the playout time of the stream. Packets that arrive before their playout time are
/// buffered, later ones are dropped: this node expects packets on time, as [`EncodeNode`](super::EncodeNode)
/// sends them; network jitter must be absorbed by a jitter buffer upstream.
///
/// RTP timestamps place packets: a packet that starts after the end of the audio decoded so
/// far (a lost packet, or untransmitted leading frames) is preceded by concealment of the gap
/// (up to the codec's longest ptime; a larger jump re-synchronises without filling); a packet
/// that starts before it (late or duplicate, up to four longest ptimes back) is dropped —
/// unless the audio it overlaps was concealment since the last decoded packet (packets paused,
/// e.g. replaced by DTMF events or held, or the stream's phase sits on a cycle boundary and
/// concealment ran ahead): then it is taken and the stream re-synchronises on it, instead of
/// every following packet being as late and dropped too. A
/// payload the codec refuses, or one that does not fit the FIFO, is dropped with
/// `report_error` and concealed like a loss. The payload type is not checked (the port format
/// fixes the encoding).
///
/// Several packets in one cycle (a burst on the packet port) are taken in arrival order.
///
/// Codec switch (a re-INVITE): a [`SwitchDecoder`] message hands the node a second decoder
/// for another payload type. Packets choose: the first packet carrying the new payload type
/// makes it the current decoder (packets of the old codec still in flight decode with the
/// old one, and a packet of the old type switches back). The audio already decoded still
/// plays out; the stream position carries over when the RTP clock is the same. The new
/// decoder must produce the same audio format. A packet of any other payload type is
/// decoded with the current decoder.
///
/// Telemetry: `packets`, `late_packets`, `concealed_samples` (per channel, at the codec's
/// rate: W3C `concealedSamples`, as [`JitterStats`](crate::jitter::JitterStats) counts
/// them), `bad_packets`, `switches`, `foreign_packets`, `skipped_decodes`, `removed_samples`
/// (per channel: [`DecodeNode::with_lead_trim`]).
///
/// Ports: input 0 `"in"` packet; output 0 `"out"` audio at the codec's rate and channels.
#[repr(C)] // hot fields first: the common cycle reads one cache line of the node
pub struct DecodeNode {
    dec: Box<dyn Decoder>,
    fill: usize,
    quantum_len: usize,
    /// Samples per channel of one quantum, and the RTP ticks they span (the direct path's
    /// facts, kept here rather than read from `info`).
    quantum_frames: usize,
    quantum_ticks: u32,
    /// The rest of a packet whose first quantum went straight into the output, and the
    /// packets that continued it ([`DecodeNode::decode_cycle`]): `pending` bytes kept
    /// undecoded at the end of the FIFO's memory (behind the FIFO's samples, which play
    /// first), decoded `piece` bytes a cycle ([`Decoder::piece_bytes`]).
    pending: u32,
    piece: u32,
    next_ts: Option<u32>,
    /// The lead trim's countdown to its next due cycle (0: no trim), and whether less than
    /// two quanta were left buffered after a cycle since its last one (hot: watched every
    /// cycle; the rest of the trim is `trim`).
    trim_left: u32,
    packets: u64,
    trim_thin: bool,
    payload_type: u8,
    /// RFC 6464: a packet whose level byte says no voice (V = 0) at this level (−dBov) or
    /// quieter is not decoded (`u8::MAX`: every packet is decoded).
    skip_at: u8,
    /// Packets of another payload type than the current or alternate decoder's are
    /// dropped (and counted) rather than decoded.
    strict: bool,
    info: CodecInfo,
    /// Longest packet accepted, interleaved samples.
    max_packet: usize,
    fifo: Box<[f32]>,
    /// RTP ticks concealed since the last decoded packet.
    concealed_run: u32,
    late: u64,
    /// Samples concealed, per channel.
    concealed: u64,
    bad: u64,
    switches: u64,
    /// Packets dropped for a payload type not negotiated (strict nodes).
    foreign: u64,
    /// Packets not decoded because their level said silence.
    skipped: u64,
    /// The last packet was skipped (the decoder was reset at the first of the run).
    skipping: bool,
    /// The other decoder, chosen by payload type (see the type's docs).
    alternate: Option<Box<DecodeNode>>,
    /// Keeps the audio buffered ahead from growing ([`DecodeNode::with_lead_trim`]); out of
    /// line, as a kernel room prefetches its legs' decoders whole every cycle.
    trim: Option<Box<LeadTrim>>,
}

/// A message for [`DecodeNode`]: a decoder for another payload type, used from the first
/// packet that carries it. After delivery the message holds the alternate decoder it
/// replaced (if any), to be dropped on the control side.
///
/// ```
/// use rvoip_media_graph::{Processor, Quantum};
/// use rvoip_media_nodes::codec::{DecodeNode, G711CodecDecoder, SwitchDecoder};
/// use rvoip_media_nodes::G711Law;
///
/// use rvoip_media_graph::{NodeHarness, Packet, PacketMeta};
/// let q = Quantum::MS_10;
/// let dec = DecodeNode::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), q).unwrap();
/// let mut h = NodeHarness::new(Box::new(dec), q).unwrap();
/// let mut switch = SwitchDecoder::new(Box::new(G711CodecDecoder::new(G711Law::Alaw)), q).unwrap();
/// h.processor_mut().message(&mut switch).unwrap();
/// assert!(switch.node().is_none()); // there was no alternate before
/// // A PCMA packet (payload type 8) selects the A-law decoder.
/// let meta = PacketMeta { payload_type: 8, ..Default::default() };
/// h.packet_in_mut(0).put(&Packet::from_payload(meta, &[0xd5; 80]).unwrap());
/// h.run();
/// assert!(h.audio_out(0).iter().all(|&s| s.abs() < 0.001)); // A-law 0xd5 is silence
/// ```
pub struct SwitchDecoder(Option<Box<DecodeNode>>);

impl SwitchDecoder {
    /// A switch to `decoder` in a graph running at `quantum`.
    ///
    /// # Errors
    /// As [`DecodeNode::new`].
    pub fn new(decoder: Box<dyn Decoder>, quantum: Quantum) -> Result<Self, CodecError> {
        Ok(SwitchDecoder(Some(Box::new(DecodeNode::new(decoder, quantum)?))))
    }

    /// With a negotiated (dynamic) payload type.
    pub fn with_payload_type(mut self, pt: u8) -> Self {
        self.0 = self.0.map(|n| Box::new(n.with_payload_type(pt)));
        self
    }

    /// What the message holds now: before delivery the new decoder node, after delivery
    /// the alternate it replaced (if any).
    pub fn node(&self) -> Option<&DecodeNode> {
        self.0.as_deref()
    }
}

/// [`DecodeNode`]'s telemetry names, in the order it publishes them.
///
/// ```
/// use rvoip_media_nodes::codec::DECODE_TELEMETRY;
/// assert_eq!(DECODE_TELEMETRY[2], "concealed_samples");
/// ```
pub const DECODE_TELEMETRY: [&str; 8] = [
    "packets",
    "late_packets",
    "concealed_samples",
    "bad_packets",
    "switches",
    "foreign_packets",
    "skipped_decodes",
    "removed_samples",
];

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
            quantum_frames: quantum_len / usize::from(info.channels.max(1)),
            quantum_ticks: info.rtp_ticks(quantum_len / usize::from(info.channels.max(1))),
            max_packet,
            fifo: vec![0.0; cap].into_boxed_slice(),
            fill: 0,
            pending: 0,
            piece: 0,
            next_ts: None,
            trim_left: 0,
            trim_thin: false,
            concealed_run: 0,
            late: 0,
            concealed: 0,
            packets: 0,
            bad: 0,
            switches: 0,
            foreign: 0,
            skipped: 0,
            skipping: false,
            payload_type: info.payload_type,
            skip_at: u8::MAX,
            strict: false,
            alternate: None,
            trim: None,
        })
    }

    /// Drops packets whose payload type is neither this decoder's nor a pending switch's
    /// (a peer sending another codec than negotiated), counting them as `foreign_packets`
    /// and concealing their time, instead of decoding them with the wrong decoder.
    ///
    /// ```
    /// use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Processor, Quantum};
    /// use rvoip_media_nodes::codec::{DecodeNode, G711CodecDecoder};
    /// use rvoip_media_nodes::G711Law;
    /// let q = Quantum::MS_10;
    /// let dec = DecodeNode::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), q).unwrap();
    /// let mut h = NodeHarness::new(Box::new(dec.with_strict_payload_type()), q).unwrap();
    /// let pcma = Packet::from_payload(PacketMeta { payload_type: 8, ..PacketMeta::default() }, &[0xd5; 80]).unwrap();
    /// h.packet_in_mut(0).put(&pcma);
    /// h.run();
    /// let mut t = [0.0; 8];
    /// h.processor_mut().telemetry(&mut t);
    /// assert_eq!(t[5], 1.0); // foreign_packets
    /// assert!(h.audio_out(0).iter().all(|&v| v == 0.0));
    /// ```
    pub fn with_strict_payload_type(mut self) -> Self {
        self.strict = true;
        self
    }

    /// RFC 6464 silent-leg skip: a packet whose audio level ([`PacketMeta::audio_level`])
    /// has V = 0 and a level of `level` −dBov or quieter (0..=127; 127 is digital silence)
    /// is not decoded: its time plays as silence, the stream's timestamp accounting moves
    /// on as if it had been decoded, and it is counted as `skipped_decodes`. The first packet
    /// of a skipped run resets the decoder (nothing allocated): concealment after the run (the
    /// leg stops sending) continues the silence, not the speech before it, and the next
    /// decoded packet starts from a fresh state, as after a restart.
    ///
    /// ```
    /// use rvoip_media_graph::{NodeHarness, Packet, PacketMeta, Processor, Quantum};
    /// use rvoip_media_nodes::codec::{DecodeNode, G711CodecDecoder};
    /// use rvoip_media_nodes::G711Law;
    /// let q = Quantum::MS_10;
    /// let dec = DecodeNode::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), q).unwrap();
    /// let mut h = NodeHarness::new(Box::new(dec.with_silence_skip(50)), q).unwrap();
    /// let meta = PacketMeta { audio_level: Some(90), ..PacketMeta::default() }; // V = 0, −90 dBov
    /// h.packet_in_mut(0).put(&Packet::from_payload(meta, &[0x00; 80]).unwrap());
    /// h.run();
    /// let mut t = [0.0; 8];
    /// h.processor_mut().telemetry(&mut t);
    /// assert_eq!(t[6], 1.0); // skipped_decodes
    /// assert!(h.audio_out(0).iter().all(|&v| v == 0.0)); // 0x00 would decode loud
    /// ```
    pub fn with_silence_skip(mut self, level: u8) -> Self {
        self.skip_at = level.min(127);
        self
    }

    /// Keeps the audio buffered ahead of the playout from growing without bound, for a
    /// decoder without a jitter buffer in front of it (a conference leg on a LAN): when the
    /// audio left after each cycle has not gone under two quanta for ten seconds (a sender
    /// whose clock runs fast, late spells that each moved the stream a quantum later), one
    /// quantum is skipped — the next quiet one, or one a few seconds later — and counted as
    /// `removed_samples`. Without it such a stream's delay grows until packets no longer fit
    /// and are dropped as `bad_packets`.
    ///
    /// ```
    /// use rvoip_media_graph::{PacketMeta, Processor, Quantum};
    /// use rvoip_media_nodes::codec::{DecodeNode, G711CodecDecoder};
    /// use rvoip_media_nodes::G711Law;
    /// let dec = DecodeNode::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), Quantum::MS_10).unwrap();
    /// let mut dec = dec.with_lead_trim();
    /// let silence = [0xffu8; 80]; // 10 ms of μ-law silence
    /// let mut out = [0.0f32; 80];
    /// // Three packets at once, then one a cycle for 11 s: two quanta buffered all along.
    /// for k in 0..1102u32 {
    ///     let n = if k == 0 { 3 } else { 1 };
    ///     let metas: Vec<PacketMeta> = (0..n)
    ///         .map(|i| PacketMeta { timestamp: 80 * (k + i + 2 * (k > 0) as u32), ..PacketMeta::default() })
    ///         .collect();
    ///     dec.decode_cycle(metas.iter().map(|m| (m, &silence[..])), &mut out);
    /// }
    /// let mut t = [0.0; 8];
    /// dec.telemetry(&mut t);
    /// assert_eq!(t[7], 80.0); // removed_samples: one quantum
    /// ```
    pub fn with_lead_trim(mut self) -> Self {
        let quantum_us = self.quantum_frames as u64 * 1_000_000 / u64::from(self.info.sample_rate.max(1));
        let trim = LeadTrim::new(quantum_us as u32);
        self.trim_left = trim.window();
        self.trim = Some(Box::new(trim));
        self
    }

    /// A packet is skipped: the first of a run resets the decoder (its concealment history
    /// becomes silence).
    fn skip_starts(&mut self) {
        if !self.skipping {
            self.dec.reset();
            self.skipping = true;
        }
    }

    /// The packet's RFC 6464 level says silence at this node's threshold.
    fn says_silence(&self, meta: &PacketMeta) -> bool {
        crate::level::says_silence(meta.audio_level, self.skip_at)
    }

    /// The RTP payload type this decoder answers to (a negotiated dynamic one, say); by
    /// default the codec's.
    pub fn with_payload_type(mut self, pt: u8) -> Self {
        self.payload_type = pt & 0x7f;
        self
    }

    /// Makes the alternate decoder the current one (the current becomes the alternate).
    /// Real-time: moves and copies only.
    fn swap_codec(&mut self) {
        if self.alternate.is_none() {
            return;
        }
        // The rest of a packet is the current decoder's to decode.
        self.settle_pending();
        let Some(new) = self.alternate.as_deref_mut() else { return };
        let same_clock = new.info.rtp_clock_rate == self.info.rtp_clock_rate;
        std::mem::swap(&mut self.dec, &mut new.dec);
        std::mem::swap(&mut self.info, &mut new.info);
        std::mem::swap(&mut self.max_packet, &mut new.max_packet);
        std::mem::swap(&mut self.payload_type, &mut new.payload_type);
        std::mem::swap(&mut self.quantum_ticks, &mut new.quantum_ticks);
        if new.fifo.len() >= self.fill {
            // Keep the audio decoded so far, in the FIFO sized for the new codec.
            new.fifo[..self.fill].copy_from_slice(&self.fifo[..self.fill]);
            std::mem::swap(&mut self.fifo, &mut new.fifo);
        } else {
            self.fill = 0;
        }
        if !same_clock {
            self.next_ts = None;
        }
        self.switches += 1;
    }

    /// One cycle outside a graph: this cycle's `packets` (in arrival order, each its
    /// metadata and payload, wherever they are kept) in, one quantum into `out`. What
    /// [`Processor::process`] does, for a node that runs many legs itself (a conference
    /// room's kernel) and keeps their decoders in its own memory. Returns the bad-input
    /// events (as `report_error` would count them).
    ///
    /// ```
    /// use rvoip_media_graph::{Packet, PacketMeta, Quantum};
    /// use rvoip_media_nodes::codec::{DecodeNode, G711CodecDecoder};
    /// use rvoip_media_nodes::G711Law;
    /// let mut dec = DecodeNode::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), Quantum::MS_10).unwrap();
    /// let p = Packet::from_payload(PacketMeta::default(), &[0xff; 80]).unwrap(); // μ-law silence
    /// let mut out = [1.0f32; 80];
    /// assert_eq!(dec.decode_cycle([(&p.meta, p.payload())].into_iter(), &mut out), 0);
    /// assert!(out.iter().all(|&v| v == 0.0));
    /// assert_eq!(dec.decode_cycle(std::iter::empty(), &mut out), 0); // a loss: concealed
    /// assert_eq!(dec.concealed_samples(), 80);
    /// ```
    pub fn decode_cycle<'p>(
        &mut self,
        packets: impl ExactSizeIterator<Item = (&'p PacketMeta, &'p [u8])>,
        out: &mut [f32],
    ) -> u32 {
        let errors = self.play_cycle(packets, out);
        let q = self.quantum_len;
        if self.trim_left != 0 {
            // Under two quanta left: the FIFO's samples and the waiting pieces, weighed
            // without a division.
            let piece = self.piece.max(1) as usize;
            self.trim_thin |= self.fill * piece + self.pending as usize * q < 2 * q * piece;
            self.trim_left -= 1;
            if self.trim_left == 0 {
                self.trim_due(out);
            }
        }
        errors
    }

    /// The lead trim's due cycle ([`LeadTrim::due`]): `out` replaced by the next quantum
    /// buffered when it is to be skipped.
    fn trim_due(&mut self, out: &mut [f32]) {
        let q = self.quantum_len;
        let spare = self.fill + self.pending as usize / self.piece.max(1) as usize * q;
        let thin = std::mem::take(&mut self.trim_thin);
        let Some(trim) = self.trim.as_mut() else { return };
        let (skip, next) = if out.len() == q { trim.due(thin, out, spare, q) } else { (false, trim.window()) };
        self.trim_left = next;
        if skip && self.play_buffered(out) {
            let frames = self.quantum_frames as u64;
            if let Some(t) = self.trim.as_mut() {
                t.removed += frames;
            }
        }
    }

    /// [`DecodeNode::decode_cycle`] without the lead trim.
    fn play_cycle<'p>(
        &mut self,
        packets: impl ExactSizeIterator<Item = (&'p PacketMeta, &'p [u8])>,
        out: &mut [f32],
    ) -> u32 {
        let mut errors = 0;
        let q = self.quantum_len;
        let arrived = packets.len();
        if arrived == 0 && self.fill == 0 && self.pending > 0 && self.decode_piece(out) {
            // The common cycle between a packet's arrivals.
            return 0;
        }
        let mut packets = packets.peekable();
        if arrived == 1 && self.fill == 0 && self.pending == 0 {
            if let Some((meta, payload)) = packets.next() {
                let direct = match self.dec.samples_in(payload) {
                    Ok(frames) if frames == self.quantum_frames => self.decode_direct(meta, payload, out),
                    Ok(frames) => self.decode_first_piece(meta, payload, frames, out),
                    Err(_) => false,
                };
                if direct {
                    return 0;
                }
                // Not for the direct paths, or refused there: the general path reports it.
                self.receive(meta, payload, &mut errors);
            }
        }
        // Packets that continue the stream in pieces wait as bytes, behind whole quanta (the
        // first test only spares the division).
        if self.fill == 0 || self.fill % q == 0 {
            while packets.peek().is_some_and(|&(meta, payload)| self.stash_packet(meta, payload)) {
                packets.next();
            }
        }
        for (meta, payload) in packets {
            // Anything else (a reorder, a gap, a switch): the general path, from the whole rest.
            self.settle_pending();
            self.receive(meta, payload, &mut errors);
        }
        if self.fill == 0 && self.pending > 0 && self.decode_piece(out) {
            return errors;
        }
        if self.fill < q {
            self.settle_pending();
        }
        while self.fill < q && self.next_ts.is_some() {
            if !self.conceal_frame() {
                errors += 1;
                break;
            }
        }
        if out.len() != q {
            out.fill(0.0);
            return errors + 1;
        }
        self.take_fifo(out);
        errors
    }

    /// Up to a quantum from the FIFO into `out` (a quantum long), the rest of it zeros.
    fn take_fifo(&mut self, out: &mut [f32]) {
        let m = self.fill.min(out.len());
        out[..m].copy_from_slice(&self.fifo[..m]);
        out[m..].fill(0.0);
        self.fifo.copy_within(m..self.fill, 0);
        self.fill -= m;
    }

    /// The next quantum of the audio buffered ahead into `out`, without concealing; false
    /// (nothing done) when less than a quantum is buffered.
    fn play_buffered(&mut self, out: &mut [f32]) -> bool {
        if self.fill >= self.quantum_len {
            self.take_fifo(out);
            return true;
        }
        self.fill == 0 && self.pending > 0 && self.decode_piece(out)
    }

    /// The codec's facts.
    pub fn info(&self) -> &CodecInfo {
        &self.info
    }

    /// Packets dropped as late or duplicate.
    pub fn late_packets(&self) -> u64 {
        self.late
    }

    /// Samples concealed so far, per channel, at the codec's rate (W3C `concealedSamples`).
    pub fn concealed_samples(&self) -> u64 {
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
                let frames = n / usize::from(self.info.channels.max(1));
                self.concealed += frames as u64;
                let ticks = self.info.rtp_ticks(frames);
                self.concealed_run = self.concealed_run.saturating_add(ticks);
                if let Some(ts) = self.next_ts.as_mut() {
                    *ts = ts.wrapping_add(ticks);
                }
                true
            }
            _ => false,
        }
    }

    /// The common case, decoded straight into the output: nothing buffered, one packet of
    /// exactly one quantum (the caller has counted its samples) that continues the stream
    /// (or starts it) in the current codec. Returns false, having done nothing, otherwise.
    fn decode_direct(&mut self, meta: &PacketMeta, payload: &[u8], out: &mut [f32]) -> bool {
        let ts = meta.timestamp;
        if self.fill != 0 || meta.payload_type != self.payload_type || self.next_ts.is_some_and(|t| t != ts) {
            return false;
        }
        if out.len() != self.quantum_len {
            return false;
        }
        if self.says_silence(meta) {
            self.skip_starts();
            out.fill(0.0);
            self.packets += 1;
            self.skipped += 1;
            self.next_ts = Some(ts.wrapping_add(self.quantum_ticks));
            self.concealed_run = 0;
            return true;
        }
        match self.dec.decode(Some(payload), out) {
            Ok(m) if m == self.quantum_len => {
                self.decoded_directly(ts, self.quantum_ticks);
                true
            }
            // Refused: the output is untouched; the general path reports it.
            _ => false,
        }
    }

    /// Counts a packet the direct path decoded (at RTP timestamp `ts`, spanning `ticks`): the
    /// stream continues after it.
    fn decoded_directly(&mut self, ts: u32, ticks: u32) {
        self.skipping = false;
        self.packets += 1;
        self.next_ts = Some(ts.wrapping_add(ticks));
        self.concealed_run = 0;
    }

    /// The next quantum of a packet's rest into `out`; false (nothing done) if the decoder
    /// refused it or `out` is not a quantum.
    #[inline]
    fn decode_piece(&mut self, out: &mut [f32]) -> bool {
        if out.len() != self.quantum_len {
            return false;
        }
        let (rest, piece) = (self.pending as usize, self.piece as usize);
        let stash = split_stash(&mut self.fifo, rest).1;
        match self.dec.decode(Some(&stash[..piece]), out) {
            Ok(m) if m == self.quantum_len => {
                self.pending -= piece as u32;
                true
            }
            _ => false,
        }
    }

    /// Takes a packet that continues the stream (or starts it: its next timestamp, in the
    /// current codec, outside a loss, voiced) in whole pieces ([`Decoder::piece_bytes`], of
    /// the size of any rest already waiting) by appending its bytes to that rest: it is
    /// decoded a quantum a cycle, straight into the output, once the FIFO ahead of it has
    /// played — instead of a whole packet of samples going through the FIFO. Returns
    /// false, having done nothing, otherwise.
    fn stash_packet(&mut self, meta: &PacketMeta, payload: &[u8]) -> bool {
        self.dec.samples_in(payload).is_ok_and(|frames| self.stash_frames(meta, payload, frames))
    }

    /// [`DecodeNode::stash_packet`] for a payload of `frames` frames.
    fn stash_frames(&mut self, meta: &PacketMeta, payload: &[u8], frames: usize) -> bool {
        let Some(piece) = self.piece_of(meta, payload, frames) else { return false };
        self.wait_in_pieces(payload, piece, meta.timestamp, frames);
        true
    }

    /// A packet of `frames` frames, more than a quantum, into an empty node: its first
    /// quantum straight into `out` from the packet, the rest of its bytes to wait. False,
    /// having done nothing, when it cannot wait in pieces or the decoder refused it.
    fn decode_first_piece(&mut self, meta: &PacketMeta, payload: &[u8], frames: usize, out: &mut [f32]) -> bool {
        let Some(piece) = self.piece_of(meta, payload, frames) else { return false };
        match self.dec.decode(Some(&payload[..piece]), out) {
            Ok(m) if m == self.quantum_len => {}
            // Refused: the output is untouched; the general path reports it.
            _ => return false,
        }
        self.wait_in_pieces(&payload[piece..], piece, meta.timestamp, frames);
        true
    }

    /// Appends `bytes` (of a packet at RTP timestamp `ts`, `frames` frames in all, split in
    /// `piece`-byte pieces; [`DecodeNode::piece_of`] said they fit) to the rest waiting at the
    /// end of the FIFO's memory, and counts the packet.
    fn wait_in_pieces(&mut self, bytes: &[u8], piece: usize, ts: u32, frames: usize) {
        let (rest, total) = (self.pending as usize, self.pending as usize + bytes.len());
        let stash = split_stash(&mut self.fifo, total).1;
        stash.copy_within(bytes.len().., 0);
        stash[rest..].copy_from_slice(bytes);
        (self.pending, self.piece) = (total as u32, piece as u32);
        self.decoded_directly(ts, self.ticks_of(frames * usize::from(self.info.channels)));
    }

    /// The piece size ([`Decoder::piece_bytes`]) in which a packet of `frames` frames can
    /// wait behind what is buffered: it continues the stream (or starts it) in the current
    /// codec, outside a loss, voiced, in whole quanta of the waiting rest's piece size, and
    /// everything waiting fits, as samples, between the FIFO and its bytes
    /// (`settle_pending`). `None` otherwise.
    fn piece_of(&self, meta: &PacketMeta, payload: &[u8], frames: usize) -> Option<usize> {
        let ts = meta.timestamp;
        if meta.payload_type != self.payload_type || self.next_ts.is_some_and(|t| t != ts) || self.concealed_run != 0 {
            return None;
        }
        let q = self.quantum_frames;
        let piece = self.dec.piece_bytes(payload, q)?;
        let (rest, samples) = (self.pending as usize, frames * usize::from(self.info.channels));
        if (rest > 0 && piece != self.piece as usize) || frames % q != 0 || payload.len() / piece != frames / q {
            return None;
        }
        let total = rest + payload.len();
        let waiting = total / piece * self.quantum_len;
        if samples > self.max_packet || self.fill + waiting + total.div_ceil(4) > self.fifo.len() {
            return None;
        }
        (!self.says_silence(meta)).then_some(piece)
    }

    /// Decodes a packet's rest into the FIFO after the audio already there, where the
    /// general path continues from it.
    fn settle_pending(&mut self) {
        let rest = std::mem::take(&mut self.pending) as usize;
        if rest == 0 {
            return;
        }
        // The samples fit between the FIFO and the bytes they come from (`stash_packet`).
        let fill = self.fill;
        let (head, stash) = split_stash(&mut self.fifo, rest);
        match self.dec.decode(Some(stash), &mut head[fill..]) {
            Ok(m) => self.fill += m,
            Err(_) => self.bad += 1,
        }
    }

    fn receive(&mut self, meta: &PacketMeta, payload: &[u8], errors: &mut u32) {
        if meta.payload_type != self.payload_type {
            if self.alternate.as_ref().is_some_and(|a| a.payload_type == meta.payload_type) {
                self.swap_codec();
            } else if self.strict {
                self.foreign += 1;
                return;
            }
        }
        self.packets += 1;
        let n = match self.dec.samples_in(payload) {
            Ok(n) => n * usize::from(self.info.channels),
            Err(_) => {
                self.bad += 1;
                *errors += 1;
                return;
            }
        };
        if n > self.max_packet {
            self.bad += 1;
            *errors += 1;
            return;
        }
        let ts = meta.timestamp;
        if let Some(expected) = self.next_ts {
            let gap = ts.wrapping_sub(expected) as i32;
            let window = i64::from(self.ticks_of(self.max_packet));
            // Late against audio already decoded: dropped. Late only against concealment that
            // stood in for it (the stream paused — a DTMF event, hold — or started near a
            // cycle boundary, and concealment ran ahead of it): taken, re-synchronising;
            // otherwise every following packet would be as late and dropped too.
            if gap < 0 && i64::from(gap) >= -4 * window && self.concealed_run < gap.unsigned_abs() {
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
            self.bad += 1;
            *errors += 1;
            return;
        }
        if self.says_silence(meta) {
            self.skip_starts();
            self.fifo[self.fill..self.fill + n].fill(0.0);
            self.fill += n;
            self.next_ts = Some(ts.wrapping_add(self.ticks_of(n)));
            self.concealed_run = 0;
            self.skipped += 1;
            return;
        }
        match self.dec.decode(Some(payload), &mut self.fifo[self.fill..]) {
            Ok(m) if self.fill + m <= self.fifo.len() => {
                self.skipping = false;
                self.fill += m;
                self.next_ts = Some(ts.wrapping_add(self.ticks_of(m)));
                self.concealed_run = 0;
            }
            _ => {
                self.bad += 1;
                *errors += 1;
            }
        }
    }
}

/// Cache lines at the end of a [`DecodeNode`]'s FIFO memory that [`Processor::prefetch`]
/// loads: a 20 ms G.711 packet's rest (80 bytes) spans two.
const STASH_LINES: usize = 2;

/// A [`DecodeNode`]'s FIFO memory split where the rest of `len` bytes waits: the samples
/// in front of it (the FIFO's, then room to decode the rest into), and its bytes, the
/// memory's last `len`.
fn split_stash(fifo: &mut [f32], len: usize) -> (&mut [f32], &mut [u8]) {
    let (head, tail) = fifo.split_at_mut(fifo.len() - len.div_ceil(4));
    let bytes: &mut [u8] = wide::bytemuck::cast_slice_mut(tail);
    let at = bytes.len() - len;
    (head, &mut bytes[at..])
}

impl Processor for DecodeNode {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("decode")
            .with_message::<SwitchDecoder>()
            .with_telemetry(&DECODE_TELEMETRY)
            .with_input(PortSpec::required("in", PortKind::Packet(self.info.packet_format())))
            .with_output(PortSpec::required("out", PortKind::Audio(audio_format(&self.info))))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let packets = io.packets_in(0);
        let errors = self.decode_cycle(packets.iter().map(|p| (&p.meta, p.payload())), io.audio_out(0));
        for _ in 0..errors {
            io.report_error();
        }
    }

    fn reset(&mut self) {
        self.dec.reset();
        self.fill = 0;
        self.pending = 0;
        self.next_ts = None;
        self.concealed_run = 0;
        self.late = 0;
        self.concealed = 0;
        self.packets = 0;
        self.bad = 0;
        self.foreign = 0;
        self.skipped = 0;
        self.skipping = false;
        if let Some(t) = self.trim.as_mut() {
            t.reset();
            (self.trim_left, self.trim_thin) = (t.window(), false);
        }
    }

    fn message(&mut self, msg: &mut (dyn Any + Send)) -> Result<(), MessageError> {
        let switch = msg.downcast_mut::<SwitchDecoder>().ok_or(MessageError::WrongType)?;
        let Some(new) = switch.0.as_deref() else { return Err(MessageError::Invalid("empty switch")) };
        if audio_format(&new.info) != audio_format(&self.info) || new.quantum_len != self.quantum_len {
            return Err(MessageError::Invalid("the new decoder produces another audio format"));
        }
        let same_type = new.payload_type == self.payload_type;
        // The previous alternate, if any, goes back to the control side.
        std::mem::swap(&mut self.alternate, &mut switch.0);
        if same_type {
            // Same payload type: no packet could tell them apart, so switch now.
            self.swap_codec();
        }
        Ok(())
    }

    fn telemetry(&self, out: &mut [f64]) {
        let v = [
            self.packets as f64,
            self.late as f64,
            self.concealed as f64,
            self.bad as f64,
            self.switches as f64,
            self.foreign as f64,
            self.skipped as f64,
            self.trim.as_ref().map_or(0, |t| t.removed) as f64,
        ];
        for (o, v) in out.iter_mut().zip(v) {
            *o = v;
        }
    }

    fn prefetch(&self) {
        rvoip_media_graph::prefetch_value(&*self.dec);
        if self.piece != 0 {
            // A stream whose packets wait in pieces: the rest lies at the end of the FIFO's
            // memory (`split_stash`), where the next packet's rest is written too.
            let end = self.fifo.as_ptr_range().end.cast::<u8>();
            for k in 1..=STASH_LINES {
                rvoip_media_graph::prefetch(end.wrapping_sub(64 * k));
            }
        }
    }
}
