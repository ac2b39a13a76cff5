//! `rvoip-media process`: a WAV file through a graph on the engine in driven mode.

use super::{offline, wavio, CliError};
use crate::prelude::*;
use rvoip_media_nodes::Gain;
use std::path::PathBuf;

/// Arguments of `process`.
#[derive(clap::Args)]
pub struct Args {
    /// Input (near-end microphone) WAV: mono, 16-bit PCM or 32-bit float, any rate.
    #[arg(long)]
    mic: PathBuf,
    /// Output WAV (same rate and sample format as the input).
    #[arg(long)]
    out: PathBuf,
    /// Gain in dB applied to the stream (-96..=40).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    gain: f32,
}

pub fn run(a: Args) -> Result<(), CliError> {
    let wav = wavio::read(&a.mic)?;
    let quantum = Quantum::MS_10;
    if quantum.frames_at(wav.format.rate).is_none() {
        return Err(CliError::Usage(format!("{} Hz does not divide into 10 ms quanta", wav.format.rate)));
    }
    let kind = PortKind::Audio(wav.format);
    let gain = Gain::new(wav.format)
        .with_gain_db(a.gain)
        .map_err(|e| CliError::Usage(format!("--gain {}: {e} (range -96..=40 dB)", a.gain)))?;
    let mut b = GraphBuilder::new(quantum);
    let mic = b.add_input("mic", kind);
    let g = b.add_node("gain", Box::new(gain));
    let out = b.add_output("out", kind);
    b.connect(mic, 0, g, 0)?;
    b.connect(g, 0, out, 0)?;
    let graph = b.build()?;
    let latency = graph.plan.outputs[0].latency_ns;
    let cycles = offline::cycles_for(wav.samples.len(), wav.format.rate, quantum, latency);
    let run = offline::run(graph, &[&wav.samples], cycles)?;
    let mut y = run.audio.into_iter().next().ok_or(CliError::Internal("no output"))?;
    y.truncate(wav.samples.len());
    wavio::write(&a.out, wav.format.rate, &y, wav.sample_format)?;
    eprintln!("PROC_SECONDS {:.6}", run.proc_seconds);
    if run.stats.errors > 0 {
        eprintln!("rvoip-media: {} bad-input events were replaced by silence", run.stats.errors);
    }
    Ok(())
}
