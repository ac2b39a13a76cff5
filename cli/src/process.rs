//! `rvoip-media process`: a WAV file through a graph on the engine in driven mode.
//!
//! The graph is `mic → [AEC (far)] → [NS] → [AGC] → gain → out`; the voice activity detector
//! runs on the processed stream and writes one CSV row per 10 ms frame. With
//! `--aec-linear-out` the canceller's linear output (its `"linear"` port) is a second graph
//! output, written to its own file. The output is
//! advanced by the graph's reported latency so it lines up with the input sample for sample.
//! Everything streams, one quantum at a time: memory does not grow with the file.

use super::level::{report_clipping, OutputStage};
use super::stream::{cycles_for, latency_samples, read_padded, GraphInput, Resampled, Runner, Source, BLOCK};
use super::{output::Outputs, progress::Progress, wavio, CliError};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::apm::{
    AdvancedAecConfig, AdvancedAgcConfig, AdvancedVadConfig, Aec, Agc, FilterUpdate, NoiseSuppressor, NsConfig,
    NsLevel, NsWindow, RnnoiseSuppressor, Vad,
};
use rvoip_media_nodes::Gain;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `process`.
#[derive(clap::Args)]
pub struct Args {
    /// Input (near-end microphone) WAV at a multiple of 100 Hz from 8000 to 192000 Hz (10 ms
    /// frames), or at 11025 / 22050 Hz (resampled to 12000 / 24000 Hz, said on stderr):
    /// 8/16/24/32-bit PCM, 32/64-bit float, μ-law or A-law; several channels are mixed down.
    #[arg(long)]
    mic: PathBuf,
    /// Far-end (loudspeaker) WAV for the echo canceller (needs --aec): any format --mic takes,
    /// at 8, 11.025, 12, 16, 22.05, 24, 32, 44.1, 48, 88.2 or 96 kHz (resampled to the
    /// microphone's rate, time-aligned).
    /// A shorter far end is padded with silence, a longer one is cut to the microphone's
    /// length.
    #[arg(long)]
    far: Option<PathBuf>,
    /// Output WAV at the graph's rate (the input's, or the rate it was resampled to): 16-bit
    /// for 8/16-bit and G.711 input, 32-bit float otherwise.
    #[arg(long)]
    out: PathBuf,
    /// Gain in dB applied to the stream (-96..=40), after the voice processing.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    gain: f32,
    /// Acoustic echo cancellation against --far. Its post-filter includes noise suppression
    /// (at --ns-level with --ns, else high), as SpeexDSP's does.
    #[arg(long)]
    aec: bool,
    /// Longest echo tail the canceller's linear filter may grow to once converged, ms
    /// (160..=1000, default 320; needs --aec). The filter starts at 160 ms after the bulk delay
    /// and grows to a reverberant room (a held-out room at RT60 0.7 s: late ERLE 24 → 38 dB);
    /// 160 keeps it fixed and leaves longer reverberation to the post-filter.
    #[arg(long)]
    aec_max_tail_ms: Option<u32>,
    /// Also write the echo canceller's linear output (needs --aec): the microphone minus the
    /// linear filter's echo estimate, before the post-filter (residual echo suppression,
    /// comfort noise, the denoiser), what WebRTC's APM exports as its linear AEC output. For
    /// tuning and analysis: with the echo known, `LIN − mic + echo` is the linear filter's
    /// residual echo. Same length, rate, sample format and alignment as --out; no later
    /// stage (--ns with --ns-engine rnnoise, --agc, --gain, --limit) applies to it.
    #[arg(long, value_name = "LIN.wav")]
    aec_linear_out: Option<PathBuf>,
    /// Noise suppression (with --aec it runs inside the canceller's post-filter; on its own
    /// it analyses 30 ms windows, 20 ms of delay, which the output is advanced by).
    #[arg(long)]
    ns: bool,
    /// Noise suppression level: low, moderate, high or very-high (needs --ns; default
    /// very-high on its own, high inside the canceller's post-filter with --aec). On its own,
    /// very-high scored as high on the evaluation kit's NS scenarios (−0.001 PESQ-WB) and
    /// above it on other talkers: +0.032 recorded, +0.057 synthetic and digits (session 28),
    /// every noise type still positive.
    #[arg(long)]
    ns_level: Option<String>,
    /// Noise suppressor: classic (spectral, --ns-level applies) or rnnoise (neural: RNNoise,
    /// then the classic one at low; with --aec after the canceller, not inside its post-filter).
    #[arg(long, default_value = "classic", value_parser = ["classic", "rnnoise"], requires = "ns")]
    ns_engine: String,
    /// Automatic gain control.
    #[arg(long)]
    agc: bool,
    /// AGC target loudness, LUFS (-40..=-5; default -23; needs --agc).
    #[arg(long, allow_negative_numbers = true)]
    agc_target_lufs: Option<f32>,
    /// Write voice-activity decisions: one row per 10 ms frame, `start_ms,probability,is_speech`.
    #[arg(long)]
    vad_csv: Option<PathBuf>,
    /// Soft look-ahead limiter (5 ms, ceiling -1 dBFS) on the output, instead of clipping
    /// samples beyond full scale (clipped samples are counted on stderr either way).
    #[arg(long)]
    limit: bool,
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
    if a.aec_max_tail_ms.is_some() && !a.aec {
        return u("--aec-max-tail-ms would be ignored: it sets the echo canceller's longest tail; add --aec".into());
    }
    if a.aec_linear_out.is_some() && !a.aec {
        return u("--aec-linear-out would be ignored: it is the echo canceller's linear output; add --aec".into());
    }
    if let Some(t) = a.aec_max_tail_ms {
        if !(160..=1000).contains(&t) {
            return u(format!("--aec-max-tail-ms must be 160..=1000 ms, got {t}"));
        }
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
    let lin_file = a.aec_linear_out.as_deref().map(|p| outputs.create(p)).transpose()?;
    let mut mic = GraphInput::open(&a.mic, "process")?;
    let format = mic.format();
    let rate = format.rate;
    let quantum = Quantum::MS_10;
    let mut far = match (&a.far, a.aec) {
        (Some(p), true) => Some(open_far(p, rate)?),
        (None, true) => return Err(CliError::Usage("--aec needs --far".into())),
        _ => None,
    };
    let kind = PortKind::Audio(format);
    let gain = Gain::new(format)
        .with_gain_db(a.gain)
        .map_err(|e| CliError::Usage(format!("--gain {}: {e} (range -96..=40 dB)", a.gain)))?;
    let mut b = GraphBuilder::new(quantum);
    let mic_in = b.add_input("mic", kind);
    let mut last = (mic_in, 0usize);
    // The suppressor on its own defaults to very-high, inside the canceller to high (its
    // post-filter's double-talk figures were measured there; BENCHMARKS, voice processing,
    // session 27).
    let default_level = if far.is_some() { "high" } else { "very-high" };
    let ns_level: Option<NsLevel> =
        a.ns.then(|| a.ns_level.as_deref().unwrap_or(default_level).parse())
            .transpose()
            .map_err(|e| CliError::Usage(format!("--ns-level {}: {e}", a.ns_level.as_deref().unwrap_or(""))))?;
    let rnnoise = a.ns && a.ns_engine == "rnnoise";
    let mut aec_node = None;
    if far.is_some() {
        let far_in = b.add_input("far", kind);
        // With --ns the suppressor runs inside the canceller's post-filter (same transform).
        let mut cfg = AdvancedAecConfig::new(rate);
        if let Some(t) = a.aec_max_tail_ms {
            cfg = cfg.with_max_tail_ms(t);
        }
        if ns_level.is_some() {
            cfg = cfg.with_denoise(if rnnoise { None } else { ns_level });
        }
        cfg = cfg.with_linear_output(lin_file.is_some());
        // Experiment switch (session 29, not a documented option): RVOIP_AEC_UPDATE=kalman runs
        // the background filter's frequency-domain Kalman update instead of the default.
        if std::env::var("RVOIP_AEC_UPDATE").is_ok_and(|v| v == "kalman") {
            cfg = cfg.with_filter_update(FilterUpdate::Kalman);
        }
        let aec = Aec::new(cfg).map_err(usage("--aec"))?;
        let n = b.add_node("aec", Box::new(aec));
        b.connect(mic_in, 0, n, 0)?;
        b.connect(far_in, 0, n, 1)?;
        last = (n, 0);
        aec_node = Some(n);
    }
    if let Some(level) = ns_level.filter(|_| rnnoise || far.is_none()) {
        let ns: Box<dyn Processor> = if rnnoise {
            Box::new(RnnoiseSuppressor::new(rate).map_err(usage("--ns-engine rnnoise"))?)
        } else {
            Box::new(
                NoiseSuppressor::new(NsConfig::new(rate).with_level(level).with_window(NsWindow::Ms30))
                    .map_err(usage("--ns"))?,
            )
        };
        let n = b.add_node("ns", ns);
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
    if let Some(n) = aec_node.filter(|_| lin_file.is_some()) {
        // The canceller's "linear" port: the graph's second output.
        let lin_out = b.add_output("linear", kind);
        b.connect(n, 1, lin_out, 0)?;
    }
    if a.gain != 0.0 || last.0 == mic_in {
        let g = b.add_node("gain", Box::new(gain));
        b.connect(last.0, last.1, g, 0)?;
        b.connect(g, 0, out, 0)?;
    } else {
        b.connect(last.0, last.1, out, 0)?;
    }
    let graph = b.build()?;
    let mut sink = Sink {
        wav: wavio::WavOut::new(out_file, &a.out, rate, mic.sample_format())?,
        stage: OutputStage::new(rate, a.limit),
        vad: match (&a.vad_csv, csv_file) {
            (Some(path), Some(file)) => Some(VadCsv::new(rate, path, file)?),
            _ => None,
        },
        written: 0,
    };
    // The linear output: clipped as a file of --out's format would be, never limited.
    let mut lin = match (&a.aec_linear_out, lin_file) {
        (Some(path), Some(file)) => Some(Sink {
            wav: wavio::WavOut::new(file, path, rate, mic.sample_format())?,
            stage: OutputStage::new(rate, false),
            vad: None,
            written: 0,
        }),
        _ => None,
    };
    let mut progress = Progress::new("process", mic.declared_len().unwrap_or(0), rate);
    let (graph_seconds, errors) = if !(a.aec || a.ns || a.agc) && a.gain == 0.0 {
        // Nothing to process: the output is the input, and only the VAD (if asked) runs.
        let mut block = vec![0f32; BLOCK];
        loop {
            let n = mic.read(&mut block)?;
            sink.put(&block[..n])?;
            progress.set(sink.written);
            if n < block.len() {
                break;
            }
        }
        (0.0, 0)
    } else {
        let latency = graph.plan.outputs[0].latency_ns;
        let graph_outputs = graph.plan.outputs.len();
        let lin_latency = graph.plan.outputs.get(1).map(|p| p.latency_ns);
        let lat_samples = latency_samples(latency, rate);
        let mut runner = Runner::new(graph)?;
        let per = runner.quantum_len(0);
        let (mut mic_block, mut far_block) = (vec![0f32; per], vec![0f32; per]);
        let mut audio = vec![Vec::new(); graph_outputs];
        let (mut total, mut ended, mut skip, mut cycle) = (0usize, false, lat_samples, 0usize);
        // The linear output is advanced by its own path's latency (the canceller's alone).
        let mut lin_skip = lin_latency.map_or(0, |l| latency_samples(l, rate));
        // Until the input has ended, then for as many cycles as cover it plus the latency.
        while !ended || cycle < cycles_for(total, rate, quantum, latency) {
            let n = if ended { 0 } else { read_padded(&mut mic, &mut mic_block)? };
            if n < per {
                mic_block[n..].fill(0.0);
                ended = true;
            }
            total += n;
            let mut inputs: Vec<&[f32]> = vec![&mic_block];
            if let Some(f) = &mut far {
                // The far end is cut to the microphone's length and padded with silence.
                let k = read_padded(f, &mut far_block[..n])?;
                far_block[k..].fill(0.0);
                inputs.push(&far_block);
            }
            runner.cycle(&inputs, &mut audio, &mut [])?;
            cycle += 1;
            sink.put_aligned(&audio[0], &mut skip, total)?;
            if let (Some(l), Some(y)) = (&mut lin, audio.get(1)) {
                l.put_aligned(y, &mut lin_skip, total)?;
            }
            progress.set(sink.written);
        }
        // Never expected: the cycles above cover the latency (the linear path's is at most the
        // output's). Pad as the whole-file path did.
        sink.pad_to(total)?;
        if let Some(l) = &mut lin {
            l.pad_to(total)?;
        }
        let (stats, secs) = runner.finish()?;
        (secs, stats.errors)
    };
    progress.finish();
    let proc_seconds = graph_seconds + sink.vad.as_ref().map_or(0.0, |v| v.time.as_secs_f64());
    let (clipped, written) = sink.finish()?;
    let lin_clipped = lin.map(Sink::finish).transpose()?;
    outputs.commit()?;
    report_clipping(&a.out, clipped, written);
    if let (Some(path), Some((clipped, written))) = (&a.aec_linear_out, lin_clipped) {
        report_clipping(path, clipped, written);
    }
    eprintln!("PROC_SECONDS {proc_seconds:.6}");
    if errors > 0 {
        eprintln!("rvoip-media: {errors} bad-input events were replaced by silence");
    }
    Ok(())
}

/// Opens the far-end file and brings it to the microphone's rate. The streaming resampler
/// compensates its own filter delay, so the echo canceller sees the far end at the time it
/// was played.
fn open_far(path: &std::path::Path, mic_rate: u32) -> Result<Box<dyn Source>, CliError> {
    let f = wavio::WavIn::open(path)?;
    let far_rate = f.format().rate;
    if far_rate == mic_rate {
        return Ok(Box::new(f));
    }
    eprintln!("rvoip-media: resampling --far from {far_rate} Hz to the microphone's {mic_rate} Hz");
    let rs = Resampled::new(f, far_rate, mic_rate).map_err(|e| {
        CliError::Usage(format!(
            "{}: --far at {far_rate} Hz cannot be resampled to --mic's {mic_rate} Hz: {e}",
            path.display()
        ))
    })?;
    Ok(Box::new(rs))
}

/// Where processed samples go: the limiter / clipping stage, the WAV writer and the VAD (none
/// for the canceller's linear output, `--aec-linear-out`).
struct Sink {
    wav: wavio::WavOut,
    stage: OutputStage,
    vad: Option<VadCsv>,
    /// Samples taken so far.
    written: u64,
}

impl Sink {
    fn put(&mut self, y: &[f32]) -> Result<(), CliError> {
        self.written += y.len() as u64;
        let z = self.stage.process(y);
        self.wav.write(z)?;
        if let Some(v) = &mut self.vad {
            v.put(z)?;
        }
        Ok(())
    }

    /// Takes one cycle's output `y` of a graph output: first drops what is left of `skip`
    /// (that output's latency, so the file lines up with the input), then keeps at most what
    /// brings the sink to `total` samples (the input's length so far).
    fn put_aligned(&mut self, y: &[f32], skip: &mut usize, total: usize) -> Result<(), CliError> {
        let drop = (*skip).min(y.len());
        *skip -= drop;
        let want = (total - self.written as usize).min(y.len() - drop);
        self.put(&y[drop..drop + want])
    }

    /// Pads with silence up to `total` samples.
    fn pad_to(&mut self, total: usize) -> Result<(), CliError> {
        if (self.written as usize) < total {
            self.put(&vec![0.0; total - self.written as usize])?;
        }
        Ok(())
    }

    /// Flushes everything; returns (clipped samples, samples written).
    fn finish(mut self) -> Result<(u64, u64), CliError> {
        let z = self.stage.finish();
        self.wav.write(z)?;
        if let Some(v) = &mut self.vad {
            v.put(z)?;
        }
        self.wav.finish()?;
        if let Some(v) = self.vad {
            v.finish()?;
        }
        Ok((self.stage.clipped(), self.written))
    }
}

/// The VAD over the processed stream, one CSV row per frame (the last frame may be short).
struct VadCsv {
    vad: Vad,
    hop: usize,
    buf: Vec<f32>,
    row: usize,
    path: PathBuf,
    w: std::io::BufWriter<std::fs::File>,
    /// Time in the VAD's frame calls only (`PROC_SECONDS`, as the kit's references count
    /// theirs): not the buffering or the CSV rows.
    time: Duration,
}

impl VadCsv {
    fn new(rate: u32, path: &std::path::Path, file: std::fs::File) -> Result<Self, CliError> {
        let vad = Vad::new(AdvancedVadConfig::new(rate)).map_err(usage("--vad-csv"))?;
        let hop = vad.frame_len();
        let mut v = VadCsv {
            vad,
            hop,
            buf: Vec::with_capacity(hop),
            row: 0,
            path: path.to_path_buf(),
            w: std::io::BufWriter::new(file),
            time: Duration::ZERO,
        };
        writeln!(v.w, "start_ms,probability,is_speech").map_err(v.io())?;
        Ok(v)
    }

    fn io(&self) -> impl Fn(std::io::Error) -> CliError + '_ {
        |source| CliError::Io { path: self.path.display().to_string(), source }
    }

    fn frame(&mut self) -> Result<(), CliError> {
        let t0 = Instant::now();
        let d = self.vad.process_frame(&self.buf);
        self.time += t0.elapsed();
        let path = &self.path;
        writeln!(self.w, "{},{:.4},{}", self.row * 10, d.probability, u8::from(d.is_speech))
            .map_err(|source| CliError::Io { path: path.display().to_string(), source })?;
        self.row += 1;
        self.buf.clear();
        Ok(())
    }

    fn put(&mut self, mut y: &[f32]) -> Result<(), CliError> {
        while !y.is_empty() {
            let take = (self.hop - self.buf.len()).min(y.len());
            self.buf.extend_from_slice(&y[..take]);
            y = &y[take..];
            if self.buf.len() == self.hop {
                self.frame()?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), CliError> {
        if !self.buf.is_empty() {
            self.frame()?;
        }
        let path = self.path.clone();
        self.w.flush().map_err(|source| CliError::Io { path: path.display().to_string(), source })
    }
}
