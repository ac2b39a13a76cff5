//! `rvoip-media transcode`: encode, then decode, in one graph on the engine.

use super::{offline, wavio, CliError};
use crate::prelude::*;
use rvoip_media_nodes::{G711Decoder, G711Encoder, G711Law};
use std::io::Write;
use std::path::PathBuf;

/// Codecs `transcode` speaks.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Codec {
    /// G.711 μ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
}

/// Arguments of `transcode`.
#[derive(clap::Args)]
pub struct Args {
    /// Input WAV (mono; 8000 Hz for G.711).
    #[arg(long = "in")]
    input: PathBuf,
    /// Codec.
    #[arg(long)]
    codec: Codec,
    /// Decoded output WAV (the input's rate and sample format).
    #[arg(long)]
    out: PathBuf,
    /// Write the concatenated encoded payload bytes here.
    #[arg(long)]
    payload_out: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<(), CliError> {
    let wav = wavio::read(&a.input)?;
    let law = match a.codec {
        Codec::Pcmu => G711Law::Ulaw,
        Codec::Pcma => G711Law::Alaw,
    };
    if wav.format != AudioFormat::mono(8000) {
        return Err(CliError::Usage(format!(
            "{}: {} needs mono 8000 Hz input, got {} (resampling arrives with the codec issue)",
            a.input.display(),
            law.encoding(),
            wav.format
        )));
    }
    let quantum = Quantum::MS_10;
    let audio = PortKind::Audio(wav.format);
    let mut b = GraphBuilder::new(quantum);
    let mic = b.add_input("in", audio);
    let enc = b.add_node("encode", Box::new(G711Encoder::new(law)));
    let dec = b.add_node("decode", Box::new(G711Decoder::new(law)));
    let payload = b.add_output("payload", PortKind::Packet(law.packet_format()));
    let out = b.add_output("out", audio);
    b.connect(mic, 0, enc, 0)?;
    b.connect(enc, 0, dec, 0)?;
    b.connect(enc, 0, payload, 0)?;
    b.connect(dec, 0, out, 0)?;
    let graph = b.build()?;
    let cycles = offline::cycles_for(wav.samples.len(), 8000, quantum, 0);
    let run = offline::run(graph, &[&wav.samples], cycles)?;
    let mut y = run.audio.into_iter().next().ok_or(CliError::Internal("no decoded output"))?;
    y.truncate(wav.samples.len());
    wavio::write(&a.out, 8000, &y, wav.sample_format)?;
    if let Some(path) = &a.payload_out {
        let mut bytes: Vec<u8> = Vec::with_capacity(wav.samples.len());
        for p in run.packets.first().ok_or(CliError::Internal("no payload output"))? {
            bytes.extend_from_slice(p.as_deref().ok_or(CliError::Internal("encoder skipped a quantum"))?);
        }
        bytes.truncate(wav.samples.len());
        let io = |source| CliError::Io { path: super::path_str(path), source };
        std::fs::File::create(path).and_then(|mut f| f.write_all(&bytes)).map_err(io)?;
    }
    eprintln!("PROC_SECONDS {:.6}", run.proc_seconds);
    Ok(())
}
