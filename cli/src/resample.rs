//! `rvoip-media resample`: sample-rate conversion, time-aligned with the input, streamed block
//! by block (memory does not grow with the file).

use super::stream::{Resampled, Source, BLOCK};
use super::{output::Outputs, progress::Progress, wavio, CliError};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `resample`.
#[derive(clap::Args)]
pub struct Args {
    /// Input WAV at 8, 11.025, 12, 16, 22.05, 24, 32, 44.1, 48, 88.2 or 96 kHz, in any format
    /// `process` reads.
    #[arg(long = "in")]
    input: PathBuf,
    /// Output rate in Hz (one of the rates above).
    #[arg(long, allow_negative_numbers = true)]
    rate: i64,
    /// Output WAV, same sample format as the input (16-bit, or 32-bit float for float and
    /// 24/32-bit input); exactly round(n × rate / rate_in) samples, the filter delay
    /// compensated.
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
    let input = wavio::WavIn::open(&a.input)?;
    let (rate_in, sample_format) = (input.format().rate, input.sample_format());
    let total = input.declared_len().unwrap_or(0) * u64::from(rate) / u64::from(rate_in);
    let mut src =
        Resampled::new(input, rate_in, rate).map_err(|e| CliError::Usage(format!("{}: {e}", a.input.display())))?;
    let mut out = wavio::WavOut::new(file, &a.out, rate, sample_format)?;
    let mut block = vec![0f32; BLOCK];
    let mut progress = Progress::new("resample", total, rate);
    let (mut busy, mut done) = (std::time::Duration::ZERO, 0u64);
    loop {
        let t0 = Instant::now();
        let n = src.read(&mut block)?;
        busy += t0.elapsed();
        out.write(&block[..n])?;
        done += n as u64;
        progress.set(done);
        if n < block.len() {
            break;
        }
    }
    progress.finish();
    out.finish()?;
    outputs.commit()?;
    // Includes reading the file (decoding happens inside the stream); excludes writing.
    eprintln!("PROC_SECONDS {:.6}", busy.as_secs_f64());
    Ok(())
}
