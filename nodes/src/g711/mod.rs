//! G.711 (ITU-T, 64 kbit/s PCM): μ-law ([`ulaw`], RTP "PCMU", payload type 0) and A-law
//! ([`alaw`], "PCMA", payload type 8), bit-exact with the ITU-T G.191 software tool library
//! for all 65536 inputs and all 256 codes. In graphs G.711 runs through the codec model
//! ([`crate::codec::G711CodecEncoder`] / [`crate::codec::G711CodecDecoder`] inside
//! [`crate::codec::EncodeNode`] / [`crate::codec::DecodeNode`]), which conceals lost packets.
//!
//! The per-sample functions (`encode_sample`, `decode_sample`) are the algorithm (a segment
//! search), written as `const fn`. The μ-law slice encoder computes the same codes from the
//! `f32` bit pattern of the biased magnitude (no table: it vectorises, and a room's passes
//! over thousands of legs do not evict and miss a 16 KiB table); A-law's uses a 4 KiB table
//! and the decoders 256-entry tables, generated from the per-sample functions at compile
//! time, so there is no run-time initialisation and no branch on the hot path.
//!
//! ```
//! use rvoip_media_nodes::g711::G711Law;
//!
//! let mut codes = [0u8; 4];
//! assert_eq!(G711Law::Ulaw.encode_f32(&[0.25, -0.25, 0.0, 1.0], &mut codes), 4);
//! let mut back = [0.0f32; 4];
//! G711Law::Ulaw.decode_f32(&codes, &mut back);
//! assert!((back[0] - 0.25).abs() < 0.01 && (back[1] + 0.25).abs() < 0.01);
//! assert_eq!(G711Law::Alaw.packet_format().encoding, "PCMA");
//! ```

pub mod alaw;
mod tables;
pub mod ulaw;

use rvoip_media_graph::PacketFormat;

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
