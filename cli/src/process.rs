//! `rvoip-media process`: a WAV file through a graph on the engine in driven mode.
//!
//! The graph is `mic → [AEC (far)] → [NS] → [AGC] → gain → out`; the voice activity detector
//! runs on the processed stream and writes one CSV row per 10 ms frame. The output is
//! advanced by the graph's reported latency so it lines up with the input sample for sample.

use super::{offline, output::Outputs, wavio, CliError};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::apm::{
    AdvancedAecConfig, AdvancedAgcConfig, AdvancedVadConfig, Aec, Agc, NoiseSuppressor, NsConfig, NsLevel, Vad,
};
use rvoip_media_nodes::Gain;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `process`.
#[derive(clap::Args)]
pub struct Args {
    /// Input (near-end microphone) WAV at a multiple of 100 Hz from 8000 to 192000 Hz (10 ms
    /// frames): 8/16/24/32-bit PCM, 32/64-bit float, μ-law or A-law; several channels are
    /// mixed down.
    #[arg(long)]
    mic: PathBuf,
    /// Far-end (loudspeaker) WAV for the echo canceller: mono, any supported rate (resampled
    /// to the microphone's rate, time-aligned). A shorter far end is padded with silence, a
    /// longer one is cut to the microphone's length.
    #[arg(long)]
    far: Option<PathBuf>,
    /// Output WAV (same rate and sample format as the input).
    #[arg(long)]
    out: PathBuf,
    /// Gain in dB applied to the stream (-96..=40), after the voice processing.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    gain: f32,
    /// Acoustic echo cancellation against --far. Its post-filter includes noise suppression
    /// (at --ns-level with --ns, else high), as SpeexDSP's does.
    #[arg(long)]
    aec: bool,
    /// Noise suppression (with --aec it runs inside the canceller's post-filter).
    #[arg(long)]
    ns: bool,
    /// Noise suppression level: low, moderate, high or very-high (default high; needs --ns).
    #[arg(long)]
    ns_level: Option<String>,
    /// Automatic gain control.
    #[arg(long)]
    agc: bool,
    /// AGC target loudness, LUFS (-40..=-5; default -23; needs --agc).
    #[arg(long, allow_negative_numbers = true)]
    agc_target_lufs: Option<f32>,
    /// Write voice-activity decisions: one row per 10 ms frame, `start_ms,probability,is_speech`.
    #[arg(long)]
    vad_csv: Option<PathBuf>,
}

fn usage<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> CliError {
    move |e| CliError::Usage(format!("{what}: {e}"))
}

/// Refuses flag combinations that would be ignored, and parameters out of range, naming
/// the flag and the user's value.
fn check_flags(a: &Args) -> Result<(), CliError> {
    let u = |m: String| Err(CliError::Usage(m));
    if a.far.is_some() && !a.aec {
        return u("--far would be ignored: it is the echo canceller's far end; add --aec".into());
    }
    if a.ns_level.is_some() && !a.ns {
        return u("--ns-level would be ignored: it sets the noise suppressor's strength; add --ns".into());
    }
    if a.agc_target_lufs.is_some() && !a.agc {
        return u("--agc-target-lufs would be ignored: it is the gain control's target; add --agc".into());
    }
    if let Some(t) = a.agc_target_lufs {
        if !(-40.0..=-5.0).contains(&t) {
            return u(format!("--agc-target-lufs must be -40..=-5 LUFS, got {t}"));
        }
    }
    if !(-96.0..=40.0).contains(&a.gain) {
        return u(format!("--gain must be -96..=40 dB, got {}", a.gain));
    }
    Ok(())
}

pub fn run(a: Args) -> Result<(), CliError> {
    check_flags(&a)?;
    let mut outputs = Outputs::new();
    let out_file = outputs.create(&a.out)?;
    let csv_file = a.vad_csv.as_deref().map(|p| outputs.create(p)).transpose()?;
    let files = OutFiles { outputs, wav: out_file, csv: csv_file };
    let wav = wavio::read(&a.mic)?;
    let quantum = Quantum::MS_10;
    let rate = wav.format.rate;
    super::check_graph_rate(&a.mic, rate, "process")?;
    let voice = a.aec || a.ns || a.agc || a.vad_csv.is_some();
    if voice && wav.format.channels != 1 {
        return Err(CliError::Usage("voice processing needs a mono --mic".into()));
    }
    let far = match (&a.far, a.aec) {
        (Some(p), true) => Some(read_far(p, &wav)?),
        (None, true) => return Err(CliError::Usage("--aec needs --far".into())),
        _ => None,
    };
    let kind = PortKind::Audio(wav.format);
    let gain = Gain::new(wav.format)
        .with_gain_db(a.gain)
        .map_err(|e| CliError::Usage(format!("--gain {}: {e} (range -96..=40 dB)", a.gain)))?;
    let mut b = GraphBuilder::new(quantum);
    let mic = b.add_input("mic", kind);
    let mut last = (mic, 0usize);
    let ns_level: Option<NsLevel> =
        a.ns.then(|| a.ns_level.as_deref().unwrap_or("high").parse())
            .transpose()
            .map_err(|e| CliError::Usage(format!("--ns-level {}: {e}", a.ns_level.as_deref().unwrap_or(""))))?;
    if let Some(_f) = &far {
        let far_in = b.add_input("far", kind);
        // With --ns the suppressor runs inside the canceller's post-filter (same transform).
        let mut cfg = AdvancedAecConfig::new(rate);
        if ns_level.is_some() {
            cfg = cfg.with_denoise(ns_level);
        }
        let aec = Aec::new(cfg).map_err(usage("--aec"))?;
        let n = b.add_node("aec", Box::new(aec));
        b.connect(mic, 0, n, 0)?;
        b.connect(far_in, 0, n, 1)?;
        last = (n, 0);
    }
    if let (Some(level), None) = (ns_level, &far) {
        let ns = NoiseSuppressor::new(NsConfig::new(rate).with_level(level)).map_err(usage("--ns"))?;
        let n = b.add_node("ns", Box::new(ns));
        b.connect(last.0, last.1, n, 0)?;
        last = (n, 0);
    }
    if a.agc {
        let cfg = AdvancedAgcConfig::new(rate).with_target_lufs(a.agc_target_lufs.unwrap_or(-23.0));
        let agc = Agc::new(cfg).map_err(usage("--agc"))?;
        let n = b.add_node("agc", Box::new(agc));
        b.connect(last.0, last.1, n, 0)?;
        last = (n, 0);
    }
    let out = b.add_output("out", kind);
    if a.gain != 0.0 || last.0 == mic {
        let g = b.add_node("gain", Box::new(gain));
        b.connect(last.0, last.1, g, 0)?;
        b.connect(g, 0, out, 0)?;
    } else {
        b.connect(last.0, last.1, out, 0)?;
    }
    let graph = b.build()?;
    if !(a.aec || a.ns || a.agc) && a.gain == 0.0 {
        // Nothing to process: the output is the input, and only the VAD (if asked) runs.
        return finish(&a, files, &wav, wav.samples.clone(), 0.0, 0);
    }
    let latency = graph.plan.outputs[0].latency_ns;
    let lat_samples =
        (latency as u128 * u128::from(rate)).div_ceil(1_000_000_000) as usize * wav.format.channels as usize;
    let cycles = offline::cycles_for(wav.samples.len(), rate, quantum, latency);
    let run = match &far {
        Some(f) => offline::run(graph, &[&wav.samples, f], cycles)?,
        None => offline::run(graph, &[&wav.samples], cycles)?,
    };
    let y = run.audio.into_iter().next().ok_or(CliError::Internal("no output"))?;
    let start = lat_samples.min(y.len());
    let mut y = y[start..].to_vec();
    y.resize(wav.samples.len(), 0.0);
    finish(&a, files, &wav, y, run.proc_seconds, run.stats.errors)
}

/// The outputs of a `process` run, created before the work starts.
struct OutFiles {
    outputs: Outputs,
    wav: std::fs::File,
    csv: Option<std::fs::File>,
}

/// Reads the far-end file and brings it to the microphone's rate and length. The whole-file
/// resampler compensates its own filter delay, so the echo canceller sees the far end at the
/// time it was played.
fn read_far(path: &std::path::Path, mic: &wavio::WavData) -> Result<Vec<f32>, CliError> {
    let f = wavio::read(path)?;
    if f.format.channels != 1 {
        return Err(CliError::Usage(format!("--far is {}; the echo canceller needs a mono far end", f.format)));
    }
    let (far_rate, mic_rate) = (f.format.rate, mic.format.rate);
    let mut s = if far_rate == mic_rate {
        f.samples
    } else {
        eprintln!("rvoip-media: resampling --far from {far_rate} Hz to the microphone's {mic_rate} Hz");
        rvoip_media_nodes::resample::resample_whole(&f.samples, far_rate, mic_rate, 1).map_err(|e| {
            CliError::Usage(format!("--far at {far_rate} Hz cannot be resampled to --mic's {mic_rate} Hz: {e}"))
        })?
    };
    s.resize(mic.samples.len(), 0.0);
    Ok(s)
}

/// Runs the VAD over the processed stream (timed with the processing), writes the CSV and
/// the output WAV, and prints `PROC_SECONDS`.
fn finish(
    a: &Args,
    files: OutFiles,
    wav: &wavio::WavData,
    y: Vec<f32>,
    graph_seconds: f64,
    errors: u64,
) -> Result<(), CliError> {
    let rate = wav.format.rate;
    let mut proc_seconds = graph_seconds;
    if let (Some(path), Some(file)) = (&a.vad_csv, files.csv) {
        let mut vad = Vad::new(AdvancedVadConfig::new(rate)).map_err(usage("--vad-csv"))?;
        let hop = vad.frame_len();
        let mut rows = Vec::with_capacity(y.len() / hop + 1);
        let t0 = Instant::now();
        for c in y.chunks(hop) {
            rows.push(vad.process_frame(c));
        }
        proc_seconds += t0.elapsed().as_secs_f64();
        let io_err = |source| CliError::Io { path: path.display().to_string(), source };
        let mut w = std::io::BufWriter::new(file);
        writeln!(w, "start_ms,probability,is_speech").map_err(io_err)?;
        for (i, d) in rows.iter().enumerate() {
            writeln!(w, "{},{:.4},{}", i * 10, d.probability, u8::from(d.is_speech)).map_err(io_err)?;
        }
        w.flush().map_err(io_err)?;
    }
    wavio::write(files.wav, &a.out, rate, &y, wav.sample_format)?;
    files.outputs.commit()?;
    eprintln!("PROC_SECONDS {proc_seconds:.6}");
    if errors > 0 {
        eprintln!("rvoip-media: {errors} bad-input events were replaced by silence");
    }
    Ok(())
}
