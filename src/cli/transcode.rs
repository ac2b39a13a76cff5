//! `rvoip-media transcode`: encode, packetise and decode in one graph on the engine, through
//! the codec model (`EncodeNode` / `DecodeNode` around any `Encoder` / `Decoder`).

use super::{offline, wavio, CliError};
use crate::prelude::*;
use rvoip_media_graph::MAX_PAYLOAD;
use rvoip_media_nodes::codec::{CodecId, DecodeNode, EncodeNode};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Codecs `transcode` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Codec {
    /// G.711 μ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 at 64 kbit/s (16 kHz audio).
    G722,
    /// G.729 Annex A (with `--vad`: Annex B VAD / DTX / comfort noise).
    G729,
}

impl Codec {
    fn id(self) -> CodecId {
        match self {
            Codec::Pcmu => CodecId::Pcmu,
            Codec::Pcma => CodecId::Pcma,
            Codec::G722 => CodecId::G722,
            Codec::G729 => CodecId::G729,
        }
    }
}

/// Arguments of `transcode`.
#[derive(clap::Args)]
pub struct Args {
    /// Input WAV: mono, 8000 Hz (PCMU, PCMA, G.729) or 16000 Hz (G.722).
    #[arg(long = "in")]
    input: PathBuf,
    /// Codec.
    #[arg(long)]
    codec: Codec,
    /// G.729 only: Annex B voice activity detection with discontinuous transmission.
    #[arg(long)]
    vad: bool,
    /// Packet duration in ms: a multiple of the 10 ms quantum that the codec allows (10 to 60).
    /// The payload file and the decoded audio do not depend on it (with `--vad`, except that a
    /// SID right before speech in the first packet window is not sent).
    #[arg(long, default_value_t = 10)]
    ptime: u32,
    /// Decoded output WAV (the input's rate, length and sample format).
    #[arg(long)]
    out: PathBuf,
    /// Write the encoded stream here. PCMU / PCMA: one byte per input sample; G.722: one byte
    /// per two samples (an odd last sample is paired with a zero). G.729: 10 bytes
    /// per 10 ms frame; with `--vad`, every frame as a big-endian u16 length (0 = not sent,
    /// 2 = SID, 10 = speech) followed by its bytes.
    #[arg(long)]
    payload_out: Option<PathBuf>,
    /// Drop this percentage of packets at random between the encoder and the decoder
    /// (the decoder conceals them); the payload file still holds every packet sent.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Seed of the packet-loss draw, for repeatable runs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Drops packets at random with a fixed probability (a seeded splitmix64 draw per packet)
/// and counts them: the network between encoder and decoder.
struct Loss {
    format: PacketFormat,
    /// Drop when the draw is below this (probability × 2^64).
    threshold: u64,
    state: u64,
    dropped: Arc<AtomicU64>,
}

impl Loss {
    fn draw(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Processor for Loss {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("loss")
            .with_input(PortSpec::required("in", PortKind::Packet(self.format)))
            .with_output(PortSpec::required("out", PortKind::Packet(self.format)))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let Some(p) = io.packet_in(0) else { return };
        if self.draw() < self.threshold {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            io.packet_out(0).put(p);
        }
    }
}

/// Passes packets through with their RTP timestamp (big-endian u32) prepended to the
/// payload, so the payload file can place every frame in time (DTX leaves gaps).
struct Stamp {
    format: PacketFormat,
}

impl Processor for Stamp {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("stamp")
            .with_input(PortSpec::required("in", PortKind::Packet(self.format)))
            .with_output(PortSpec::required("out", PortKind::Packet(self.format)))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let Some(p) = io.packet_in(0) else { return };
        let len = p.len();
        if len + 4 > MAX_PAYLOAD {
            io.report_error();
            return;
        }
        let out = io.packet_out(0).fill();
        out.meta = p.meta;
        let buf = out.buffer_mut();
        buf[..4].copy_from_slice(&p.meta.timestamp.to_be_bytes());
        buf[4..4 + len].copy_from_slice(p.payload());
        // `len + 4 <= MAX_PAYLOAD` was checked above.
        let _ = out.set_len(len + 4);
    }
}

pub fn run(a: Args) -> Result<(), CliError> {
    let wav = wavio::read(&a.input)?;
    let id = a.codec.id();
    if !(0.0..=100.0).contains(&a.loss) {
        return Err(CliError::Usage(format!("--loss {} must be a percentage in 0..=100", a.loss)));
    }
    if a.vad && a.codec != Codec::G729 {
        return Err(CliError::Usage(format!("--vad (G.729 Annex B) does not apply to {id}")));
    }
    let usage = |e: rvoip_media_nodes::codec::CodecError| CliError::Usage(format!("{}: {e}", a.input.display()));
    let quantum = Quantum::MS_10;
    let encoder = id.encoder(wav.format.rate, wav.format.channels, a.vad).map_err(usage)?;
    let decoder = id.decoder(wav.format.rate, wav.format.channels).map_err(usage)?;
    let info = *encoder.info();
    let ptime_us = a.ptime.saturating_mul(1000);
    let enc_node = EncodeNode::new(encoder, ptime_us, quantum).map_err(usage)?;
    let dec_node = DecodeNode::new(decoder, quantum).map_err(usage)?;

    let audio = PortKind::Audio(wav.format);
    let mut b = GraphBuilder::new(quantum);
    let mic = b.add_input("in", audio);
    let enc = b.add_node("encode", Box::new(enc_node));
    let dec = b.add_node("decode", Box::new(dec_node));
    let stamp = b.add_node("stamp", Box::new(Stamp { format: info.packet_format() }));
    let payload = b.add_output("payload", PortKind::Packet(info.packet_format()));
    let out = b.add_output("out", audio);
    let dropped = Arc::new(AtomicU64::new(0));
    b.connect(mic, 0, enc, 0)?;
    if a.loss > 0.0 {
        let threshold = (a.loss / 100.0 * 2f64.powi(64)).min(u64::MAX as f64) as u64;
        let loss = Loss { format: info.packet_format(), threshold, state: a.seed, dropped: dropped.clone() };
        let l = b.add_node("loss", Box::new(loss));
        b.connect(enc, 0, l, 0)?;
        b.connect(l, 0, dec, 0)?;
    } else {
        b.connect(enc, 0, dec, 0)?;
    }
    b.connect(enc, 0, stamp, 0)?;
    b.connect(stamp, 0, payload, 0)?;
    b.connect(dec, 0, out, 0)?;
    let graph = b.build()?;
    let latency_ns = graph.plan.outputs.iter().map(|o| o.latency_ns).max().unwrap_or(0);
    let rate = wav.format.rate;
    let delay = (u128::from(latency_ns) * u128::from(rate) / 1_000_000_000) as usize;
    let n = wav.samples.len();
    let cycles = offline::cycles_for(n, rate, quantum, latency_ns);
    let run = offline::run(graph, &[&wav.samples], cycles)?;
    if run.stats.errors > 0 {
        eprintln!("rvoip-media: transcode: {} input errors reported (non-finite samples?)", run.stats.errors);
    }
    let y = run.audio.into_iter().next().ok_or(CliError::Internal("no decoded output"))?;
    let y = y.get(delay..(delay + n).min(y.len())).ok_or(CliError::Internal("decoded output too short"))?;
    if y.len() != n {
        return Err(CliError::Internal("decoded output too short"));
    }
    wavio::write(&a.out, rate, y, wav.sample_format)?;
    if let Some(path) = &a.payload_out {
        let packets = run.packets.first().ok_or(CliError::Internal("no payload output"))?;
        let bytes = payload_file(a.codec, a.vad, n, packets)?;
        let io = |source| CliError::Io { path: super::path_str(path), source };
        std::fs::File::create(path).and_then(|mut f| f.write_all(&bytes)).map_err(io)?;
    }
    if a.loss > 0.0 {
        let d = dropped.load(Ordering::Relaxed);
        eprintln!("rvoip-media: transcode: {d} packets dropped by --loss {}", a.loss);
    }
    eprintln!("PROC_SECONDS {:.6}", run.proc_seconds);
    Ok(())
}

/// Builds the payload file from the stamped packets of every cycle, for `n` input samples.
fn payload_file(codec: Codec, vad: bool, n: usize, packets: &[Option<Vec<u8>>]) -> Result<Vec<u8>, CliError> {
    let stamped = packets.iter().flatten().map(|p| -> Result<(usize, &[u8]), CliError> {
        let (ts, body) = p.split_at(4.min(p.len()));
        let ts = ts.try_into().map(u32::from_be_bytes).map_err(|_| CliError::Internal("unstamped packet"))?;
        Ok((ts as usize, body))
    });
    match codec {
        Codec::Pcmu | Codec::Pcma | Codec::G722 => {
            // One byte per RTP clock tick (8000 Hz for all three): the timestamp is the index
            // of the packet's first byte. G.711: a byte per sample; G.722: per two samples.
            let n = if codec == Codec::G722 { n.div_ceil(2) } else { n };
            let mut bytes = vec![0u8; n];
            let mut covered = 0usize;
            for item in stamped {
                let (ts, body) = item?;
                if ts < n {
                    let m = body.len().min(n - ts);
                    bytes[ts..ts + m].copy_from_slice(&body[..m]);
                    covered += m;
                }
            }
            if covered != n {
                return Err(CliError::Internal("packets do not cover the input"));
            }
            Ok(bytes)
        }
        Codec::G729 => {
            let frames = n.div_ceil(80);
            let mut slots: Vec<&[u8]> = vec![&[]; frames];
            for item in stamped {
                let (ts, body) = item?;
                // Speech frames of 10 bytes, then at most one 2-byte SID.
                for (i, f) in body.chunks(10).enumerate() {
                    if let Some(s) = slots.get_mut(ts / 80 + i) {
                        *s = f;
                    }
                }
            }
            let mut bytes = Vec::with_capacity(frames * 12);
            for f in slots {
                if vad {
                    bytes.extend_from_slice(&(f.len() as u16).to_be_bytes());
                } else if f.len() != 10 {
                    return Err(CliError::Internal("G.729 without VAD left a frame unsent"));
                }
                bytes.extend_from_slice(f);
            }
            Ok(bytes)
        }
    }
}
