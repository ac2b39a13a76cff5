//! `rvoip-media`, the command line of rvoip-media-core: offline processing of WAV files through the engine in
//! driven mode, N-1 mixing, G.711 transcoding, the live conference demo, and capacity
//! benchmarks.

mod bench;
mod demo;
mod mix;
mod offline;
mod output;
mod process;
mod resample;
mod transcode;
mod wavio;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Errors the CLI reports (one line on stderr, exit code 1).
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
    /// An invariant of the runtime did not hold (a bug).
    #[error("internal error: {0}")]
    Internal(&'static str),
}

#[derive(Parser)]
#[command(
    name = "rvoip-media",
    version,
    about = "Real-time VoIP media core: process, mix, resample, transcode, demo, bench"
)]
struct Cli {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Process(a) => process::run(a),
        Command::Mix(a) => mix::run(a),
        Command::Resample(a) => resample::run(a),
        Command::Transcode(a) => transcode::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rvoip-media: {e}");
            ExitCode::FAILURE
        }
    }
}

fn path_str(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// Default location of the bundled speech.
fn bundled_speech() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/data/speech_en_8k.wav")
}
