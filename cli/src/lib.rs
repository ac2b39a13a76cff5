//! `rvoip-media`, the command line of rvoip-media-core: offline processing of WAV files through the engine in
//! driven mode, N-1 mixing, G.711 transcoding, the live conference demo, and capacity
//! benchmarks.
//!
//! The binary is `src/main.rs`; everything it does is here, so tests and fuzz targets can
//! drive the same parsing and the same commands in-process ([`parse`], [`execute`]).
//!
//! ```
//! use rvoip_media_cli::{parse, CliError};
//! // A flag that would be ignored is refused before any work, in the user's terms.
//! let cli = parse(["rvoip-media", "process", "--mic", "in.wav", "--out", "o.wav", "--far", "f.wav"]).unwrap();
//! assert!(matches!(rvoip_media_cli::execute(cli), Err(CliError::Usage(_))));
//! // Malformed arguments are clap's errors, as the binary prints them.
//! assert!(parse(["rvoip-media", "process", "--loss"]).is_err());
//! ```

mod bench;
mod bridge;
mod call;
mod codec_arg;
mod demo;
mod jitter;
mod level;
mod mix;
mod output;
mod pcap;
mod process;
mod progress;
mod resample;
mod stream;
mod transcode;
mod wavio;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Errors the CLI reports (one line on stderr, exit code 1).
///
/// ```
/// use rvoip_media_cli::{execute, parse, CliError};
/// let dir = std::env::temp_dir();
/// let input = dir.join(format!("rvoip-media-doc-{}-missing.wav", std::process::id()));
/// let out = dir.join(format!("rvoip-media-doc-{}-out.wav", std::process::id()));
/// let resample = |rate: &str| {
///     let args = ["rvoip-media", "resample", "--in", input.to_str().unwrap(), "--rate", rate, "--out", out.to_str().unwrap()];
///     execute(parse(args).unwrap())
/// };
/// assert!(matches!(resample("12345"), Err(CliError::Usage(_)))); // not a rate it converts to
/// assert!(matches!(resample("16000"), Err(CliError::Wav { .. }))); // no such input
/// assert!(!out.exists()); // a failed run leaves no output
/// ```
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A WAV file could not be read or written, or has an unsupported format.
    #[error("{path}: {detail}")]
    Wav {
        /// The file.
        path: String,
        /// What went wrong (names the unsupported format).
        detail: String,
    },
    /// Inputs that cannot work together (rates, channels, counts).
    #[error("{0}")]
    Usage(String),
    /// The graph was refused.
    #[error("graph: {0}")]
    Graph(#[from] rvoip_media_graph::GraphError),
    /// The engine refused.
    #[error("engine: {0}")]
    Engine(#[from] rvoip_media_core::engine::EngineError),
    /// Writing an output failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The run completed (its outputs are written) but failed its checks: deadlines missed,
    /// packets dropped.
    #[error("{0}")]
    Failed(String),
    /// An invariant of the runtime did not hold (a bug).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// The command line.
#[derive(Parser)]
#[command(
    name = "rvoip-media",
    version,
    about = "Real-time VoIP media core: process, mix, resample, transcode, demo, bench, jitter, call, bridge"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a WAV file through a processing graph on the engine (driven mode).
    Process(process::Args),
    /// N-1 conference mix: DIR/mix_0000.wav .. is what each input's participant hears.
    Mix(mix::Args),
    /// Convert a WAV file's sample rate (polyphase windowed sinc, delay-compensated).
    Resample(resample::Args),
    /// Encode then decode a WAV file with a codec; optionally write the encoded payload.
    Transcode(transcode::Args),
    /// Live conference on real-time workers: N participants, G.711 legs, N-1 mix.
    Demo(demo::Args),
    /// Whole-system capacity benchmarks.
    Bench(bench::Args),
    /// A real RTP endpoint: send a WAV file (or silence) paced in real time, record what
    /// arrives, write SDP and statistics.
    Call(call::Args),
    /// One live conference room of N RTP legs over UDP: leg i on PORT0+i hears the N-1 mix,
    /// sent back from its port to the source of its packets (symmetric RTP).
    Bridge(bridge::Args),
    /// Replay one RTP stream of a capture (pcap or pcapng) through the adaptive jitter buffer
    /// and decoder in simulated real time (10 ms ticks from the first arrival) into a WAV file.
    Jitter(jitter::Args),
}

/// Parses the command line (`args[0]` is the program name). `--help` and `--version`
/// come back as the `Err` clap uses for them (print it with [`clap::Error::exit`]).
///
/// # Errors
/// Malformed or unknown arguments, as clap reports them.
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args)
}

/// Runs a parsed command. Outputs appear whole or not at all: written under temporary
/// names, renamed at the end, removed on any failure.
///
/// # Errors
/// [`CliError`]: unusable inputs and flag combinations (before any work), unreadable or
/// unwritable files, refusals by the engine, and runs that did not meet their checks.
pub fn execute(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Process(a) => process::run(a),
        Command::Mix(a) => mix::run(a),
        Command::Resample(a) => resample::run(a),
        Command::Transcode(a) => transcode::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Jitter(a) => jitter::run(a),
        Command::Call(a) => call::run(a),
        Command::Bridge(a) => bridge::run(a),
    }
}

/// The binary: parse, install the Ctrl-C clean-up, run, print the error on one line.
pub fn main_with<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match parse(args) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    output::remove_on_interrupt();
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rvoip-media: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The resampler's rates, for messages: "8000, 11025, ... and 96000 Hz".
fn rate_list() -> String {
    let r = rvoip_media_nodes::resample::SUPPORTED_RATES;
    let head: Vec<String> = r[..r.len() - 1].iter().map(u32::to_string).collect();
    format!("{} and {} Hz", head.join(", "), r[r.len() - 1])
}

/// The rate a 10 ms graph runs a file at, decided before any work: the file's own rate when
/// it divides into 10 ms frames; for the resampler's other rates (11 025 and 22 050 Hz) the
/// nearest rate that does (the caller converts and says so); otherwise a refusal in the
/// user's terms (which file, which rate, what would work).
fn graph_rate(path: &std::path::Path, rate: u32, command: &str) -> Result<u32, CliError> {
    let runs_at = |r: u32| r % 100 == 0 && (8000..=192_000).contains(&r);
    if runs_at(rate) {
        return Ok(rate);
    }
    let supported = rvoip_media_nodes::resample::SUPPORTED_RATES;
    if supported.contains(&rate) {
        // Nearest, and the higher of two equally near (no band lost).
        if let Some(r) =
            supported.iter().copied().filter(|&r| runs_at(r)).min_by_key(|&r| (r.abs_diff(rate), u32::MAX - r))
        {
            return Ok(r);
        }
    }
    Err(CliError::Usage(format!(
        "{}: the file is at {rate} Hz; {command} works in 10 ms frames, so it needs a multiple of 100 Hz \
         from 8000 to 192000 Hz (8000, 16000, 32000, 44100, 48000 ...) or one of the rates the resampler \
         converts from ({})",
        path.display(),
        rate_list()
    )))
}
