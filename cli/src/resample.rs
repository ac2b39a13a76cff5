//! `rvoip-media resample`: whole-file sample-rate conversion, time-aligned with the input.

use super::{output::Outputs, wavio, CliError};
use rvoip_media_nodes::resample::resample_whole;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `resample`.
#[derive(clap::Args)]
pub struct Args {
    /// Input WAV: mono, 16-bit PCM or 32-bit float, at 8, 12, 16, 24, 32, 44.1 or 48 kHz.
    #[arg(long = "in")]
    input: PathBuf,
    /// Output rate in Hz (one of the rates above).
    #[arg(long, allow_negative_numbers = true)]
    rate: i64,
    /// Output WAV, same sample format as the input; exactly round(n × rate / rate_in)
    /// samples, the filter delay compensated.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(a: Args) -> Result<(), CliError> {
    let rate = u32::try_from(a.rate)
        .ok()
        .filter(|r| rvoip_media_nodes::resample::SUPPORTED_RATES.contains(r))
        .ok_or_else(|| CliError::Usage(format!("--rate must be one of {}, got {}", super::rate_list(), a.rate)))?;
    let mut outputs = Outputs::new();
    let file = outputs.create(&a.out)?;
    let wav = wavio::read(&a.input)?;
    let t0 = Instant::now();
    let y = resample_whole(&wav.samples, wav.format.rate, rate, 1)
        .map_err(|e| CliError::Usage(format!("{}: {e}", a.input.display())))?;
    let proc_seconds = t0.elapsed().as_secs_f64();
    wavio::write(file, &a.out, rate, &y, wav.sample_format)?;
    outputs.commit()?;
    eprintln!("PROC_SECONDS {proc_seconds:.6}");
    Ok(())
}
