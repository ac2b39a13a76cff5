//! [`OpusFecDecodeNode`]: decodes Opus packets one packet late, so that a lost packet can be
//! rebuilt from the in-band FEC data of the packet after it.

use super::{OpusCodecDecoder, OpusDecoder, OpusError};
use crate::codec::Decoder;
use rvoip_media_graph::{
    AudioFormat, NodeSpec, Packet, PacketFormat, PortKind, PortSpec, ProcessIo, Processor, Quantum,
};

/// Opus packets in, audio out, with one packet of delay: when a packet is missing and the
/// next one arrives, the gap is decoded from that next packet's in-band FEC (when enabled)
/// instead of being concealed. Packets are expected on the ptime grid, one per `ptime`, in
/// the cycle that completes their window (as [`EncodeNode`](crate::codec::EncodeNode) sends
/// them); jitter must be absorbed before this node.
///
/// Ports: packet input `"in"` (`opus/48000`), audio output `"out"` at the decoder's rate.
/// Latency: one ptime. Counters: [`OpusFecDecodeNode::recovered`] (gaps rebuilt from FEC)
/// and [`OpusFecDecodeNode::concealed`] (gaps concealed).
///
/// ```
/// use rvoip_media_graph::{NodeHarness, Quantum};
/// use rvoip_media_nodes::opus::OpusFecDecodeNode;
/// let node = OpusFecDecodeNode::new(16_000, 1, 20_000, Quantum::MS_10, true).unwrap();
/// let mut h = NodeHarness::new(Box::new(node), Quantum::MS_10).unwrap();
/// h.run(); // nothing has arrived yet: silence
/// assert!(h.audio_out(0).iter().all(|&s| s == 0.0));
/// ```
pub struct OpusFecDecodeNode {
    dec: OpusDecoder,
    format: AudioFormat,
    packet_format: PacketFormat,
    fec: bool,
    ptime_us: u32,
    /// Quanta per packet.
    k: u64,
    /// Samples per channel of one packet.
    frame: usize,
    /// Cycle phase at which packets arrive, learnt from the first one.
    phase: Option<u64>,
    /// Whether a window is held (false until the first packet boundary).
    holding: bool,
    /// The held window's packet, valid when `held_present`.
    held: Packet,
    /// Whether the held window's packet arrived (false: it was lost).
    held_present: bool,
    /// Decoded samples being played out.
    play: Box<[f32]>,
    play_pos: usize,
    recovered: u64,
    concealed: u64,
}

impl OpusFecDecodeNode {
    /// A decoder at `sample_rate`/`channels` for packets of `ptime_us` (one Opus frame each),
    /// in a graph running `quantum`; `fec` enables recovery from in-band FEC.
    pub fn new(sample_rate: u32, channels: u16, ptime_us: u32, quantum: Quantum, fec: bool) -> Result<Self, OpusError> {
        let info = *OpusCodecDecoder::new(sample_rate, channels, ptime_us)?.info();
        if ptime_us % quantum.micros() != 0 {
            return Err(OpusError::UnsupportedFrameDuration {
                got_us: ptime_us,
                supported_us: super::FRAME_DURATIONS_US,
            });
        }
        let len = info.frame_samples * usize::from(channels);
        Ok(OpusFecDecodeNode {
            dec: OpusDecoder::new(sample_rate, channels)?,
            format: AudioFormat { rate: sample_rate, channels },
            packet_format: info.packet_format(),
            fec,
            ptime_us,
            k: u64::from(ptime_us / quantum.micros()),
            frame: info.frame_samples,
            phase: None,
            holding: false,
            held: Packet::new(),
            held_present: false,
            play: vec![0.0; len].into_boxed_slice(),
            play_pos: len,
            recovered: 0,
            concealed: 0,
        })
    }

    /// Lost packets rebuilt from the next packet's FEC.
    pub fn recovered(&self) -> u64 {
        self.recovered
    }

    /// Lost (or undecodable) packets concealed.
    pub fn concealed(&self) -> u64 {
        self.concealed
    }

    /// Decodes the held window into `play`, using `next` (the packet that arrived after it)
    /// for FEC when the held one was lost. Returns false when a packet that did arrive
    /// could not be decoded (it is concealed).
    fn decode_held(&mut self, next: Option<&Packet>) -> bool {
        let decoded = if self.held_present {
            self.dec.decode(Some(self.held.payload()), &mut self.play).is_ok()
        } else {
            let fec = next
                .filter(|_| self.fec)
                .is_some_and(|nx| self.dec.decode_fec_for(nx.payload(), self.frame, &mut self.play).is_ok());
            self.recovered += u64::from(fec);
            fec
        };
        if !decoded {
            self.concealed += 1;
            if self.dec.conceal(self.frame, &mut self.play).is_err() {
                self.play.fill(0.0);
            }
        }
        self.play_pos = 0;
        decoded || !self.held_present
    }
}

impl Processor for OpusFecDecodeNode {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("opus-fec-decode")
            .with_input(PortSpec::optional("in", PortKind::Packet(self.packet_format)))
            .with_output(PortSpec::required("out", PortKind::Audio(self.format)))
            .with_latency_ns(u64::from(self.ptime_us) * 1000)
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let cycle = io.cycle();
        let arrived = io.packet_in(0);
        if self.phase.is_none() && arrived.is_some() {
            self.phase = Some(cycle % self.k);
        }
        if self.phase == Some(cycle % self.k) {
            if self.holding && !self.decode_held(arrived) {
                io.report_error();
            }
            // Hold this window's packet (or its absence) until the next boundary.
            self.holding = true;
            self.held_present = false;
            if let Some(p) = arrived {
                self.held.meta = p.meta;
                if self.held.set_payload(p.payload()).is_ok() {
                    self.held_present = true;
                } else {
                    io.report_error();
                }
            }
        }
        let out = io.audio_out(0);
        let n = out.len().min(self.play.len() - self.play_pos);
        out[..n].copy_from_slice(&self.play[self.play_pos..self.play_pos + n]);
        out[n..].fill(0.0);
        self.play_pos += n;
    }

    fn reset(&mut self) {
        self.dec.reset();
        self.phase = None;
        self.holding = false;
        self.held_present = false;
        self.play_pos = self.play.len();
    }
}
