//! `rvoip-media mix`: the N-1 conference mix of N files.

use super::{offline, output::Outputs, wavio, CliError};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::wav::WavSampleFormat;
use rvoip_media_nodes::Mixer;
use std::path::PathBuf;

/// Arguments of `mix`.
#[derive(clap::Args)]
pub struct Args {
    /// Input WAV files (mono 16-bit PCM, all at one rate); repeat for each participant.
    #[arg(long = "in", required = true, num_args = 1)]
    inputs: Vec<PathBuf>,
    /// Output directory: mix_0000.wav .. mix_{N-1}.wav, file i being what input i hears.
    #[arg(long)]
    out_dir: PathBuf,
}

pub fn run(a: Args) -> Result<(), CliError> {
    let mut outputs = Outputs::new();
    outputs.create_dir(&a.out_dir)?;
    let mut files = Vec::with_capacity(a.inputs.len());
    for i in 0..a.inputs.len() {
        let path = a.out_dir.join(format!("mix_{i:04}.wav"));
        files.push((outputs.create(&path)?, path));
    }
    let mut wavs = Vec::with_capacity(a.inputs.len());
    for p in &a.inputs {
        let w = wavio::read(p)?;
        super::check_graph_rate(p, w.format.rate, "mix")?;
        if w.sample_format != WavSampleFormat::Int16 {
            return Err(CliError::Usage(format!(
                "{}: mix takes 16-bit PCM input, this file is 32-bit float",
                p.display()
            )));
        }
        wavs.push(w);
    }
    let first = &wavs[0];
    for (w, p) in wavs.iter().zip(&a.inputs).skip(1) {
        if w.format.rate != first.format.rate {
            return Err(CliError::Usage(format!(
                "rates differ: {} is {} Hz but {} is {} Hz",
                a.inputs[0].display(),
                first.format.rate,
                p.display(),
                w.format.rate
            )));
        }
    }
    let format = first.format;
    let quantum = Quantum::MS_10;
    if quantum.frames_at(format.rate).is_none() {
        return Err(CliError::Usage(format!("{} Hz does not divide into 10 ms quanta", format.rate)));
    }
    let n = wavs.len();
    let kind = PortKind::Audio(format);
    let mut b = GraphBuilder::new(quantum);
    let mixer = b.add_node("mixer", Box::new(Mixer::new(n, format)));
    for i in 0..n {
        let input = b.add_input(format!("in{i}"), kind);
        b.connect(input, 0, mixer, i)?;
        let out = b.add_output(format!("out{i}"), kind);
        b.connect(mixer, i, out, 0)?;
    }
    let longest = wavs.iter().map(|w| w.samples.len()).max().unwrap_or(0);
    let cycles = offline::cycles_for(longest, format.rate, quantum, 0);
    let inputs: Vec<&[f32]> = wavs.iter().map(|w| w.samples.as_slice()).collect();
    let run = offline::run(b.build()?, &inputs, cycles)?;
    for (mut y, (file, path)) in run.audio.into_iter().zip(files) {
        y.truncate(longest);
        wavio::write(file, &path, format.rate, &y, WavSampleFormat::Int16)?;
    }
    outputs.commit()?;
    eprintln!("PROC_SECONDS {:.6}", run.proc_seconds);
    Ok(())
}
