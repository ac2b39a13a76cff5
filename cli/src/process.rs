//! `rvoip-media process`: a WAV file through a graph on the engine in driven mode.
//!
//! The graph is `mic → [AEC (far)] → [NS] → [AGC] → gain → out`; the voice activity detector
//! runs on the processed stream and writes one CSV row per 10 ms frame. The output is
//! advanced by the graph's reported latency so it lines up with the input sample for sample.

use super::{offline, wavio, CliError};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::apm::{
    AdvancedAecConfig, AdvancedAgcConfig, AdvancedVadConfig, Aec, Agc, NoiseSuppressor, NsConfig, NsLevel,
    RnnoiseSuppressor, Vad,
};
use rvoip_media_nodes::Gain;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `process`.
#[derive(clap::Args)]
pub struct Args {
    /// Input (near-end microphone) WAV: mono, 16-bit PCM or 32-bit float, any rate.
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
    /// Noise suppression level: low, moderate, high or very-high.
    #[arg(long, default_value = "high", requires = "ns")]
    ns_level: String,
    /// Noise suppressor: classic (spectral, --ns-level applies) or rnnoise (neural: RNNoise,
    /// then the classic one at low; with --aec after the canceller, not inside its post-filter).
    #[arg(long, default_value = "classic", value_parser = ["classic", "rnnoise"], requires = "ns")]
    ns_engine: String,
    /// Automatic gain control.
    #[arg(long)]
    agc: bool,
    /// AGC target loudness, LUFS (-40..=-5).
    #[arg(long, default_value_t = -23.0, allow_hyphen_values = true, requires = "agc")]
    agc_target_lufs: f32,
    /// Write voice-activity decisions: one row per 10 ms frame, `start_ms,probability,is_speech`.
    #[arg(long)]
    vad_csv: Option<PathBuf>,
}

fn usage<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> CliError {
    move |e| CliError::Usage(format!("{what}: {e}"))
}

pub fn run(a: Args) -> Result<(), CliError> {
    let wav = wavio::read(&a.mic)?;
    let quantum = Quantum::MS_10;
    let rate = wav.format.rate;
    if quantum.frames_at(rate).is_none() {
        return Err(CliError::Usage(format!("{rate} Hz does not divide into 10 ms quanta")));
    }
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
    let ns_level: Option<NsLevel> = a.ns.then(|| a.ns_level.parse()).transpose().map_err(usage("--ns-level"))?;
    let rnnoise = a.ns && a.ns_engine == "rnnoise";
    if let Some(_f) = &far {
        let far_in = b.add_input("far", kind);
        // With --ns the suppressor runs inside the canceller's post-filter (same transform).
        let mut cfg = AdvancedAecConfig::new(rate);
        if ns_level.is_some() {
            cfg = cfg.with_denoise(if rnnoise { None } else { ns_level });
        }
        let aec = Aec::new(cfg).map_err(usage("--aec"))?;
        let n = b.add_node("aec", Box::new(aec));
        b.connect(mic, 0, n, 0)?;
        b.connect(far_in, 0, n, 1)?;
        last = (n, 0);
    }
    if let Some(level) = ns_level.filter(|_| rnnoise || far.is_none()) {
        let ns: Box<dyn Processor> = if rnnoise {
            Box::new(RnnoiseSuppressor::new(rate).map_err(usage("--ns-engine rnnoise"))?)
        } else {
            Box::new(NoiseSuppressor::new(NsConfig::new(rate).with_level(level)).map_err(usage("--ns"))?)
        };
        let n = b.add_node("ns", ns);
        b.connect(last.0, last.1, n, 0)?;
        last = (n, 0);
    }
    if a.agc {
        let cfg = AdvancedAgcConfig::new(rate).with_target_lufs(a.agc_target_lufs);
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
        return finish(&a, &wav, wav.samples.clone(), 0.0, 0);
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
    finish(&a, &wav, y, run.proc_seconds, run.stats.errors)
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
fn finish(a: &Args, wav: &wavio::WavData, y: Vec<f32>, graph_seconds: f64, errors: u64) -> Result<(), CliError> {
    let rate = wav.format.rate;
    let mut proc_seconds = graph_seconds;
    if let Some(path) = &a.vad_csv {
        let mut vad = Vad::new(AdvancedVadConfig::new(rate)).map_err(usage("--vad-csv"))?;
        let hop = vad.frame_len();
        let mut rows = Vec::with_capacity(y.len() / hop + 1);
        let t0 = Instant::now();
        for c in y.chunks(hop) {
            rows.push(vad.process_frame(c));
        }
        proc_seconds += t0.elapsed().as_secs_f64();
        let io_err = |e: std::io::Error| CliError::Usage(format!("{}: {e}", path.display()));
        let mut w = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_err)?);
        writeln!(w, "start_ms,probability,is_speech").map_err(io_err)?;
        for (i, d) in rows.iter().enumerate() {
            writeln!(w, "{},{:.4},{}", i * 10, d.probability, u8::from(d.is_speech)).map_err(io_err)?;
        }
        w.flush().map_err(io_err)?;
    }
    wavio::write(&a.out, rate, &y, wav.sample_format)?;
    eprintln!("PROC_SECONDS {proc_seconds:.6}");
    if errors > 0 {
        eprintln!("rvoip-media: {errors} bad-input events were replaced by silence");
    }
    Ok(())
}
