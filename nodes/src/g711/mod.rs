//! G.711 (ITU-T, 64 kbit/s PCM): μ-law ([`ulaw`], RTP "PCMU", payload type 0) and A-law
//! ([`alaw`], "PCMA", payload type 8), bit-exact with the ITU-T G.191 software tool library
//! for all 65536 inputs and all 256 codes, plus the graph nodes [`G711Encoder`] and
//! [`G711Decoder`].
//!
//! The per-sample functions (`encode_sample`, `decode_sample`) are the algorithm (a segment
//! search), written as `const fn`; the slice functions use tables generated from them at
//! compile time (16 KiB / 4 KiB to encode, 256 entries to decode), so there is no run-time
//! initialisation and no branch on the hot path.
//!
//! ```
//! use rvoip_media_graph::{NodeHarness, Quantum};
//! use rvoip_media_nodes::g711::{G711Decoder, G711Encoder, G711Law};
//!
//! let mut enc = NodeHarness::new(Box::new(G711Encoder::new(G711Law::Ulaw)), Quantum::MS_20).unwrap();
//! enc.audio_in_mut(0).fill(0.25);
//! assert_eq!(enc.run(), 0);
//! let packet = enc.packet_out(0).unwrap().clone();
//! assert_eq!(packet.len(), 160);
//! assert_eq!(packet.meta.payload_type, 0);
//!
//! let mut dec = NodeHarness::new(Box::new(G711Decoder::new(G711Law::Ulaw)), Quantum::MS_20).unwrap();
//! dec.packet_in_mut(0).put(&packet);
//! assert_eq!(dec.run(), 0);
//! assert!((dec.audio_out(0)[0] - 0.25).abs() < 0.01);
//! ```

pub mod alaw;
mod tables;
pub mod ulaw;

use crate::kernels;
use rvoip_media_graph::{
    AudioFormat, NodeSpec, PacketFormat, PacketMeta, PortKind, PortSpec, ProcessIo, Processor, MAX_PAYLOAD,
};

/// G.711 sample rate.
pub const RATE: u32 = 8000;

/// Which G.711 companding law.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum G711Law {
    /// μ-law, RTP "PCMU", static payload type 0.
    Ulaw,
    /// A-law, RTP "PCMA", static payload type 8.
    Alaw,
}

impl G711Law {
    /// SDP encoding name.
    pub fn encoding(self) -> &'static str {
        match self {
            G711Law::Ulaw => "PCMU",
            G711Law::Alaw => "PCMA",
        }
    }

    /// RTP static payload type (RFC 3551).
    pub fn payload_type(self) -> u8 {
        match self {
            G711Law::Ulaw => 0,
            G711Law::Alaw => 8,
        }
    }

    /// Packet port format: this encoding at 8000 Hz, mono.
    pub fn packet_format(self) -> PacketFormat {
        PacketFormat { encoding: self.encoding(), clock_rate: RATE, channels: 1 }
    }

    /// Encodes `f32` samples; see [`ulaw::encode_f32`].
    pub fn encode_f32(self, input: &[f32], output: &mut [u8]) -> usize {
        match self {
            G711Law::Ulaw => ulaw::encode_f32(input, output),
            G711Law::Alaw => alaw::encode_f32(input, output),
        }
    }

    /// Decodes to `f32`; see [`ulaw::decode_f32`].
    pub fn decode_f32(self, input: &[u8], output: &mut [f32]) -> usize {
        match self {
            G711Law::Ulaw => ulaw::decode_f32(input, output),
            G711Law::Alaw => alaw::decode_f32(input, output),
        }
    }
}

fn audio_port() -> PortKind {
    PortKind::Audio(AudioFormat::mono(RATE))
}

/// Audio (8 kHz mono) in, one G.711 packet per quantum out.
///
/// Each packet carries the whole quantum (80 bytes at 10 ms, 160 at 20 ms), payload type
/// 0 or 8, a sequence number that increases by one per packet and an RTP timestamp that
/// advances by the number of samples; the first packet after construction or
/// [`Processor::reset`] has the marker bit set. Non-finite input samples encode as the
/// exact `f32 -> i16` conversion defines (NaN -> 0, ±Inf clipped) and are reported with
/// `report_error`.
///
/// Ports: input 0 `"in"` audio 8000 Hz mono; output 0 `"out"` packet PCMU/PCMA 8000.
#[derive(Clone, Debug)]
pub struct G711Encoder {
    law: G711Law,
    ssrc: u32,
    first_sequence: u16,
    first_timestamp: u32,
    sequence: u16,
    timestamp: u32,
    marker: bool,
}

impl G711Encoder {
    /// An encoder with SSRC 0, starting at sequence 0 and timestamp 0.
    pub fn new(law: G711Law) -> Self {
        G711Encoder { law, ssrc: 0, first_sequence: 0, first_timestamp: 0, sequence: 0, timestamp: 0, marker: true }
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
        self.timestamp = timestamp;
        self
    }

    /// The law.
    pub fn law(&self) -> G711Law {
        self.law
    }
}

impl Processor for G711Encoder {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("g711-encoder")
            .with_input(PortSpec::required("in", audio_port()))
            .with_output(PortSpec::required("out", PortKind::Packet(self.law.packet_format())))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let input = io.audio_in(0);
        if input.len() > MAX_PAYLOAD {
            // Cannot happen with the supported quanta (at most 160 samples); refuse cleanly.
            io.report_error();
            return;
        }
        if !kernels::all_sane(input) {
            io.report_error();
        }
        let meta = PacketMeta {
            payload_type: self.law.payload_type(),
            sequence: self.sequence,
            timestamp: self.timestamp,
            ssrc: self.ssrc,
            marker: self.marker,
        };
        let packet = io.packet_out(0).fill();
        packet.meta = meta;
        let n = self.law.encode_f32(input, &mut packet.buffer_mut()[..]);
        if packet.set_len(n).is_err() {
            io.packet_out(0).clear();
            io.report_error();
            return;
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(n as u32);
        self.marker = false;
    }

    fn reset(&mut self) {
        self.sequence = self.first_sequence;
        self.timestamp = self.first_timestamp;
        self.marker = true;
    }
}

/// One G.711 packet per quantum in, audio (8 kHz mono) out.
///
/// No packet this cycle (loss, or nothing sent) gives silence without an error: filling
/// gaps is the job of a PLC node upstream. A payload whose length differs from the quantum
/// is decoded as far as it fits, the rest of the quantum is zeroed, and the event is
/// reported with `report_error`. The payload type is not checked: the port's format already
/// fixes the encoding.
///
/// Ports: input 0 `"in"` packet PCMU/PCMA 8000; output 0 `"out"` audio 8000 Hz mono.
#[derive(Clone, Debug)]
pub struct G711Decoder {
    law: G711Law,
}

impl G711Decoder {
    /// A decoder for `law`.
    pub fn new(law: G711Law) -> Self {
        G711Decoder { law }
    }

    /// The law.
    pub fn law(&self) -> G711Law {
        self.law
    }
}

impl Processor for G711Decoder {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("g711-decoder")
            .with_input(PortSpec::required("in", PortKind::Packet(self.law.packet_format())))
            .with_output(PortSpec::required("out", audio_port()))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let packet = io.packet_in(0);
        let out = io.audio_out(0);
        let Some(p) = packet else {
            out.fill(0.0);
            return;
        };
        let n = self.law.decode_f32(p.payload(), out);
        out[n..].fill(0.0);
        if p.len() != out.len() {
            io.report_error();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rvoip_media_graph::{GraphBuilder, NodeHarness, Packet, PlanExecutor, Quantum};

    #[test]
    fn encoder_packets_carry_quantum_and_rtp_fields() {
        for (law, pt) in [(G711Law::Ulaw, 0u8), (G711Law::Alaw, 8)] {
            for (q, n) in [(Quantum::MS_10, 80usize), (Quantum::MS_20, 160), (Quantum::MS_2_5, 20)] {
                let enc = G711Encoder::new(law).with_ssrc(0xdead_beef).with_start(65_534, u32::MAX - 100);
                let mut h = NodeHarness::new(Box::new(enc), q).unwrap();
                for k in 0..4u32 {
                    for (i, s) in h.audio_in_mut(0).iter_mut().enumerate() {
                        *s = ((i as f32) * 0.37 + k as f32).sin() * 0.5;
                    }
                    let input: Vec<i16> = h.audio_in_mut(0).iter().map(|&x| (x * 32768.0).round() as i16).collect();
                    assert_eq!(h.run(), 0);
                    let p = h.packet_out(0).expect("one packet per quantum");
                    assert_eq!(p.len(), n);
                    assert_eq!(p.meta.payload_type, pt);
                    assert_eq!(p.meta.ssrc, 0xdead_beef);
                    assert_eq!(p.meta.sequence, 65_534u16.wrapping_add(k as u16));
                    assert_eq!(p.meta.timestamp, (u32::MAX - 100).wrapping_add(k * n as u32));
                    assert_eq!(p.meta.marker, k == 0);
                    let mut want = vec![0u8; n];
                    match law {
                        G711Law::Ulaw => ulaw::encode(&input, &mut want),
                        G711Law::Alaw => alaw::encode(&input, &mut want),
                    };
                    assert_eq!(p.payload(), &want[..]);
                }
                h.processor_mut().reset();
                h.run();
                let p = h.packet_out(0).unwrap();
                assert_eq!((p.meta.sequence, p.meta.timestamp, p.meta.marker), (65_534, u32::MAX - 100, true));
            }
        }
    }

    #[test]
    fn encoder_reports_nan_and_encodes_it_as_zero() {
        let mut h = NodeHarness::new(Box::new(G711Encoder::new(G711Law::Alaw)), Quantum::MS_10).unwrap();
        h.audio_in_mut(0).fill(f32::NAN);
        assert_eq!(h.run(), 1);
        assert!(h.packet_out(0).unwrap().payload().iter().all(|&c| c == alaw::encode_sample(0)));
    }

    #[test]
    fn decoder_handles_missing_short_and_long_payloads() {
        let mut h = NodeHarness::new(Box::new(G711Decoder::new(G711Law::Ulaw)), Quantum::MS_10).unwrap();
        // Missing packet: silence, no error.
        assert_eq!(h.run(), 0);
        assert!(h.audio_out(0).iter().all(|&s| s == 0.0));
        // Exact length.
        let codes: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(3)).collect();
        h.packet_in_mut(0).put(&Packet::from_payload(PacketMeta::default(), &codes).unwrap());
        assert_eq!(h.run(), 0);
        for (i, &c) in codes.iter().enumerate() {
            assert_eq!(h.audio_out(0)[i], f32::from(ulaw::decode_sample(c)) / 32768.0);
        }
        // Short: decode 50, zero the rest, report.
        h.packet_in_mut(0).put(&Packet::from_payload(PacketMeta::default(), &codes[..50]).unwrap());
        assert_eq!(h.run(), 1);
        assert_eq!(h.audio_out(0)[49], f32::from(ulaw::decode_sample(codes[49])) / 32768.0);
        assert!(h.audio_out(0)[50..].iter().all(|&s| s == 0.0));
        // Long: decode the first 80, report.
        let long = vec![0x80u8; 200];
        h.packet_in_mut(0).put(&Packet::from_payload(PacketMeta::default(), &long).unwrap());
        assert_eq!(h.run(), 1);
        assert!(h.audio_out(0).iter().all(|&s| s == 32124.0 / 32768.0));
        // Empty payload: all zeros, report.
        h.packet_in_mut(0).put(&Packet::from_payload(PacketMeta::default(), &[]).unwrap());
        assert_eq!(h.run(), 1);
        assert!(h.audio_out(0).iter().all(|&s| s == 0.0));
    }

    #[test]
    fn encode_decode_graph_round_trip() {
        for law in [G711Law::Ulaw, G711Law::Alaw] {
            let a = PortKind::Audio(AudioFormat::mono(8000));
            let mut b = GraphBuilder::new(Quantum::MS_10);
            let i = b.add_input("mic", a);
            let e = b.add_node("enc", Box::new(G711Encoder::new(law)));
            let d = b.add_node("dec", Box::new(G711Decoder::new(law)));
            let o = b.add_output("spk", a);
            b.connect(i, 0, e, 0).unwrap();
            b.connect(e, 0, d, 0).unwrap();
            b.connect(d, 0, o, 0).unwrap();
            let mut x = PlanExecutor::new(b.build().unwrap()).unwrap();
            let mut worst_snr = f64::INFINITY;
            for cycle in 0..10 {
                for (k, s) in x.input_audio_mut(0).iter_mut().enumerate() {
                    let t = (cycle * 80 + k) as f64 / 8000.0;
                    *s = (0.5 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32;
                }
                let input = x.input_audio_mut(0).to_vec();
                assert_eq!(x.run_cycle().errors, 0);
                let (mut sig, mut err) = (0.0f64, 0.0f64);
                for (a, b) in input.iter().zip(x.output_audio(0)) {
                    sig += f64::from(*a).powi(2);
                    err += f64::from(a - b).powi(2);
                }
                worst_snr = worst_snr.min(10.0 * (sig / err).log10());
            }
            // G.711 gives about 38 dB SNR for a signal at -9 dBFS (G.712 requires > 35 dB).
            assert!(worst_snr > 35.0, "{law:?}: SNR {worst_snr:.1} dB");
        }
    }
}
