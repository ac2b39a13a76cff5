//! `rvoip-media mix`: the N-1 conference mix of N files, streamed one quantum at a time
//! through a live [`Room`] on the engine; `--join` / `--leave` add and remove participants
//! while it runs (live edits, each applied at the start of its cycle).

use super::level::{report_clipping, OutputStage};
use super::stream::{read_padded, Resampled, Source};
use super::{output::Outputs, progress::Progress, wavio, CliError};
use rvoip_media_core::conference::{LegMedia, Room};
use rvoip_media_core::engine::{AudioIn, AudioOut};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::resample::SUPPORTED_RATES;
use rvoip_media_nodes::wav::WavSampleFormat;
use std::path::PathBuf;
use std::time::Instant;

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
    /// Participant IDX (counting --in files from 0) joins the room at SECONDS; before that
    /// it contributes nothing and hears silence. Without --join it is there from the start.
    /// Repeatable.
    #[arg(long = "join", value_name = "IDX@SECONDS")]
    joins: Vec<String>,
    /// Participant IDX leaves the room at SECONDS; from then on it contributes nothing and
    /// hears silence. Repeatable.
    #[arg(long = "leave", value_name = "IDX@SECONDS")]
    leaves: Vec<String>,
}

/// When each participant is in the room, in cycles: `[join, leave)`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Window {
    join: u64,
    leave: u64,
}

/// Parses `IDX@SECONDS` for `flag`, with the user's own text in every message.
fn parse_event(flag: &str, text: &str, n: usize) -> Result<(usize, f64), CliError> {
    let usage = |why: String| CliError::Usage(format!("--{flag} {text}: {why}"));
    let (idx, secs) = text.split_once('@').ok_or_else(|| usage("expected IDX@SECONDS, e.g. 2@1.5".into()))?;
    let idx: usize = idx.trim().parse().map_err(|_| usage(format!("'{idx}' is not an input index")))?;
    if idx >= n {
        return Err(usage(format!("there are {n} inputs, numbered 0 to {}", n - 1)));
    }
    let secs: f64 = secs.trim().parse().map_err(|_| usage(format!("'{secs}' is not a number of seconds")))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(usage(format!("the time must be 0 seconds or later, got {secs}")));
    }
    Ok((idx, secs))
}

/// Every participant's window from the --join / --leave flags, in cycles of `quantum`.
fn windows(a: &Args, n: usize, quantum: Quantum) -> Result<Vec<Window>, CliError> {
    let per_second = 1_000_000.0 / f64::from(quantum.micros());
    let mut w = vec![Window { join: 0, leave: u64::MAX }; n];
    let (mut joined, mut left) = (vec![false; n], vec![false; n]);
    for text in &a.joins {
        let (i, s) = parse_event("join", text, n)?;
        if std::mem::replace(&mut joined[i], true) {
            return Err(CliError::Usage(format!("--join {text}: participant {i} already has a --join")));
        }
        w[i].join = (s * per_second).round() as u64;
    }
    for text in &a.leaves {
        let (i, s) = parse_event("leave", text, n)?;
        if std::mem::replace(&mut left[i], true) {
            return Err(CliError::Usage(format!("--leave {text}: participant {i} already has a --leave")));
        }
        w[i].leave = (s * per_second).round() as u64;
        if w[i].leave <= w[i].join {
            return Err(CliError::Usage(format!(
                "--leave {text}: participant {i} would leave before it joins (at {} s)",
                w[i].join as f64 / per_second
            )));
        }
    }
    Ok(w)
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
    let (mut wavs, mut rate) = (Vec::with_capacity(n), 0);
    for p in &a.inputs {
        let w = wavio::WavIn::open(p)?;
        rate = rate.max(super::graph_rate(p, w.format().rate, "mix")?);
        wavs.push(w);
    }
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
    let why = if wavs.iter().any(|w| w.format().rate == rate) {
        "the highest input rate"
    } else {
        "the nearest rate that divides into 10 ms frames"
    };
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
        eprintln!("rvoip-media: {}: resampled from {r} Hz to {rate} Hz, {why}", w.path().display());
        let path = w.path().to_path_buf();
        let rs = Resampled::new(w, r, rate)
            .map_err(|e| CliError::Usage(format!("{}: cannot be resampled to {rate} Hz: {e}", path.display())))?;
        sources.push(Box::new(rs));
    }
    let format = AudioFormat::mono(rate);
    let quantum = Quantum::MS_10;
    let windows = windows(&a, n, quantum)?;
    // The room lives on a driven engine; participants join and leave it through live edits,
    // each applied at the start of its cycle.
    let cfg = EngineConfig {
        quantum,
        frame_pool: (8 * n).max(64),
        ring_capacity: 4,
        command_capacity: (2 * n).max(16),
        ..EngineConfig::default()
    };
    let (engine, mut driver) = Engine::driven(cfg)?;
    let mut room = Room::new(&engine, format, n)?;
    let per = quantum.frames_at(rate).ok_or(CliError::Internal("rate checked above"))?;
    let mut writers = Vec::with_capacity(n);
    for (file, path) in files {
        writers.push((wavio::WavOut::new(file, &path, rate, sample_format)?, OutputStage::new(rate, a.limit), path));
    }
    let mut legs: Vec<Option<(AudioIn, AudioOut)>> = (0..n).map(|_| None).collect();
    let mut blocks = vec![vec![0f32; per]; n];
    let mut heard = vec![0f32; per];
    let mut written = 0u64;
    let mut progress = Progress::new("mix", total_len, rate);
    let started = Instant::now();
    for cycle in 0u64.. {
        let mut real = 0;
        for (src, block) in sources.iter_mut().zip(blocks.iter_mut()) {
            real = real.max(read_padded(src, block)?);
        }
        if real == 0 {
            break;
        }
        // Joins and leaves due now, as edits applied before this cycle runs.
        for (i, w) in windows.iter().enumerate() {
            let name = format!("p{i}");
            if cycle == w.join {
                let mut io = room.join(&engine, &name, LegMedia::Audio)?.io;
                let input = io.take_audio_in(&format!("{name}.in"));
                let output = io.take_audio_out(&format!("{name}.out"));
                let (Some(input), Some(output)) = (input, output) else {
                    return Err(CliError::Internal("a joined leg has its endpoints"));
                };
                legs[i] = Some((input, output));
            }
            if cycle == w.leave && legs[i].take().is_some() {
                room.leave(&engine, &name)?;
            }
        }
        for (leg, block) in legs.iter_mut().zip(&blocks) {
            if let Some((input, _)) = leg {
                input.push(block).map_err(|e| CliError::Usage(format!("feeding the room: {e}")))?;
            }
        }
        driver.process_cycle();
        for (leg, (w, stage, _)) in legs.iter_mut().zip(writers.iter_mut()) {
            match leg {
                Some((_, output)) => {
                    output.pop_into(&mut heard).ok_or(CliError::Internal("no audio after a cycle"))?;
                }
                None => heard.fill(0.0),
            }
            w.write(stage.process(&heard[..real]))?;
        }
        engine.poll();
        written += real as u64;
        progress.set(written);
    }
    progress.finish();
    let stats = engine.partition_stats(room.id())?;
    if stats.errors + stats.drops() + stats.underruns > 0 {
        return Err(CliError::Internal("the room reported errors, drops or underruns"));
    }
    let proc_seconds = started.elapsed().as_secs_f64();
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
