//! `rvoip-media mix`: the N-1 conference mix of N files, streamed one quantum at a time.

use super::level::{report_clipping, OutputStage};
use super::stream::{read_padded, Resampled, Runner, Source};
use super::{output::Outputs, progress::Progress, wavio, CliError};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::resample::SUPPORTED_RATES;
use rvoip_media_nodes::wav::WavSampleFormat;
use rvoip_media_nodes::Mixer;
use std::path::PathBuf;

/// Arguments of `mix`.
#[derive(clap::Args)]
pub struct Args {
    /// Input WAV files, at least two (any format `process` reads); repeat for each
    /// participant. Inputs at different rates are resampled to the highest of them.
    #[arg(long = "in", required = true, num_args = 1)]
    inputs: Vec<PathBuf>,
    /// Output directory: mix_0000.wav .. mix_{N-1}.wav, file i being what input i hears, as
    /// long as the longest input; 16-bit, or 32-bit float if any input is float or wider
    /// than 16 bits.
    #[arg(long)]
    out_dir: PathBuf,
    /// Soft look-ahead limiter (5 ms, ceiling -1 dBFS) on every output, instead of clipping
    /// sums beyond full scale (clipped samples are counted on stderr either way).
    #[arg(long)]
    limit: bool,
}

pub fn run(a: Args) -> Result<(), CliError> {
    let n = a.inputs.len();
    if n < 2 {
        return Err(CliError::Usage(format!(
            "mix needs at least 2 inputs, got {n}: output i is what participant i hears of the others, \
             so one input would give silence"
        )));
    }
    let mut outputs = Outputs::new();
    outputs.create_dir(&a.out_dir)?;
    let mut files = Vec::with_capacity(n);
    for i in 0..n {
        let path = a.out_dir.join(format!("mix_{i:04}.wav"));
        files.push((outputs.create(&path)?, path));
    }
    let mut wavs = Vec::with_capacity(n);
    for p in &a.inputs {
        let w = wavio::WavIn::open(p)?;
        super::check_graph_rate(p, w.format().rate, "mix")?;
        wavs.push(w);
    }
    let rate = wavs.iter().map(|w| w.format().rate).max().unwrap_or(8000);
    let sample_format = if wavs.iter().all(|w| w.sample_format() == WavSampleFormat::Int16) {
        WavSampleFormat::Int16
    } else {
        WavSampleFormat::Float32
    };
    let total_len: u64 = wavs
        .iter()
        .filter_map(|w| Some(w.declared_len()? * u64::from(rate) / u64::from(w.format().rate)))
        .max()
        .unwrap_or(0);
    let mut sources: Vec<Box<dyn Source>> = Vec::with_capacity(n);
    for w in wavs {
        let r = w.format().rate;
        if r == rate {
            sources.push(Box::new(w));
            continue;
        }
        if !SUPPORTED_RATES.contains(&r) || !SUPPORTED_RATES.contains(&rate) {
            return Err(CliError::Usage(format!(
                "{}: at {r} Hz it cannot be mixed with {rate} Hz inputs: the resampler converts between {}",
                w.path().display(),
                super::rate_list()
            )));
        }
        eprintln!("rvoip-media: {}: resampled from {r} Hz to {rate} Hz, the highest input rate", w.path().display());
        let path = w.path().to_path_buf();
        let rs = Resampled::new(w, r, rate)
            .map_err(|e| CliError::Usage(format!("{}: cannot be resampled to {rate} Hz: {e}", path.display())))?;
        sources.push(Box::new(rs));
    }
    let format = AudioFormat::mono(rate);
    let quantum = Quantum::MS_10;
    let kind = PortKind::Audio(format);
    let mut b = GraphBuilder::new(quantum);
    let mixer = b.add_node("mixer", Box::new(Mixer::new(n, format)));
    for i in 0..n {
        let input = b.add_input(format!("in{i}"), kind);
        b.connect(input, 0, mixer, i)?;
        let out = b.add_output(format!("out{i}"), kind);
        b.connect(mixer, i, out, 0)?;
    }
    let mut runner = Runner::new(b.build()?)?;
    let per = runner.quantum_len(0);
    let mut writers = Vec::with_capacity(n);
    for (file, path) in files {
        writers.push((wavio::WavOut::new(file, &path, rate, sample_format)?, OutputStage::new(rate, a.limit), path));
    }
    let mut blocks = vec![vec![0f32; per]; n];
    let mut audio = vec![Vec::new(); n];
    let mut written = 0u64;
    let mut progress = Progress::new("mix", total_len, rate);
    loop {
        let mut real = 0;
        for (src, block) in sources.iter_mut().zip(blocks.iter_mut()) {
            real = real.max(read_padded(src, block)?);
        }
        if real == 0 {
            break;
        }
        let inputs: Vec<&[f32]> = blocks.iter().map(Vec::as_slice).collect();
        runner.cycle(&inputs, &mut audio, &mut [])?;
        for ((w, stage, _), y) in writers.iter_mut().zip(&audio) {
            w.write(stage.process(&y[..real]))?;
        }
        written += real as u64;
        progress.set(written);
    }
    progress.finish();
    let (_, proc_seconds) = runner.finish()?;
    let mut clipped = Vec::with_capacity(n);
    for (mut w, mut stage, path) in writers {
        w.write(stage.finish())?;
        w.finish()?;
        clipped.push((path, stage.clipped()));
    }
    outputs.commit()?;
    for (path, c) in clipped {
        report_clipping(&path, c, written);
    }
    eprintln!("PROC_SECONDS {proc_seconds:.6}");
    Ok(())
}
