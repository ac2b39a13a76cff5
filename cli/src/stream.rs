//! Streaming building blocks of the file commands: sources of mono sample blocks, a
//! time-aligned streaming resampler, and a driven engine fed one quantum per cycle. Memory
//! is bounded by the block sizes, whatever the length of the files.

use super::wavio::WavIn;
use super::CliError;
use rvoip_media_core::engine::{AudioIn, InputEndpoint, OutputEndpoint};
use rvoip_media_core::prelude::*;
use rvoip_media_nodes::resample::Resampler;
use rvoip_media_nodes::wav::WavSampleFormat;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Block size of file reads, samples.
pub const BLOCK: usize = 4096;

/// Mono samples in blocks.
pub trait Source {
    /// Fills `out` and returns its length, or fewer at the end of the stream (0 after it).
    fn read(&mut self, out: &mut [f32]) -> Result<usize, CliError>;
}

impl Source for WavIn {
    fn read(&mut self, out: &mut [f32]) -> Result<usize, CliError> {
        WavIn::read(self, out)
    }
}

impl Source for Box<dyn Source> {
    fn read(&mut self, out: &mut [f32]) -> Result<usize, CliError> {
        (**self).read(out)
    }
}

/// A WAV input at the rate a 10 ms graph runs it at ([`super::graph_rate`]): the file itself,
/// or, for a file at 11 025 or 22 050 Hz, the file resampled to the nearest rate that divides
/// into 10 ms frames (said on stderr). Outputs derived from it are at [`GraphInput::format`]'s
/// rate.
pub struct GraphInput {
    src: Box<dyn Source>,
    rate: u32,
    sample_format: WavSampleFormat,
    declared_len: Option<u64>,
}

impl GraphInput {
    /// Opens `path` for `command`; errors name the file, its rate and what would work.
    pub fn open(path: &std::path::Path, command: &str) -> Result<Self, CliError> {
        let wav = WavIn::open(path)?;
        let (file_rate, sample_format) = (wav.format().rate, wav.sample_format());
        let rate = super::graph_rate(path, file_rate, command)?;
        let declared_len = wav.declared_len().map(|n| n * u64::from(rate) / u64::from(file_rate));
        let src: Box<dyn Source> =
            if rate == file_rate {
                Box::new(wav)
            } else {
                eprintln!(
                    "rvoip-media: {}: resampled from {file_rate} Hz to {rate} Hz ({command} works in 10 ms frames); \
                 the output is at {rate} Hz",
                    path.display()
                );
                Box::new(Resampled::new(wav, file_rate, rate).map_err(|e| {
                    CliError::Usage(format!("{}: cannot be resampled to {rate} Hz: {e}", path.display()))
                })?)
            };
        Ok(GraphInput { src, rate, sample_format, declared_len })
    }

    /// The graph's rate; the stream is mono.
    pub fn format(&self) -> AudioFormat {
        AudioFormat::mono(self.rate)
    }

    /// The sample format outputs derived from the file keep ([`WavIn::sample_format`]).
    pub fn sample_format(&self) -> WavSampleFormat {
        self.sample_format
    }

    /// Samples the header declares, at the graph's rate (`None` if it leaves the size open).
    pub fn declared_len(&self) -> Option<u64> {
        self.declared_len
    }
}

impl Source for GraphInput {
    fn read(&mut self, out: &mut [f32]) -> Result<usize, CliError> {
        self.src.read(out)
    }
}

/// A source converted to another rate, time-aligned: the same samples, bit for bit, as
/// `resample_whole` over the whole stream (the filter delay removed, exactly
/// `round(n · rate_out / rate_in)` samples), computed block by block.
pub struct Resampled<S> {
    src: S,
    rs: Resampler,
    /// (L, M): output = input · L / M.
    ratio: (u64, u64),
    /// Output samples of the filter delay still to drop.
    skip: usize,
    frames_in: u64,
    emitted: u64,
    ended: bool,
    ready: VecDeque<f32>,
    inbuf: Vec<f32>,
    tmp: Vec<f32>,
}

impl<S: Source> Resampled<S> {
    /// Converts `src` from `rate_in` to `rate_out`.
    pub fn new(src: S, rate_in: u32, rate_out: u32) -> Result<Self, rvoip_media_nodes::resample::ResampleError> {
        let rs = Resampler::new(rate_in, rate_out, 1)?;
        let (l, m) = rs.ratio();
        Ok(Resampled {
            src,
            skip: rs.latency(),
            rs,
            ratio: (l as u64, m as u64),
            frames_in: 0,
            emitted: 0,
            ended: false,
            ready: VecDeque::new(),
            inbuf: vec![0.0; BLOCK],
            tmp: Vec::new(),
        })
    }

    /// `round(frames · L / M)`, halves up, as `resample_whole` counts.
    fn want(&self, frames: u64) -> u64 {
        let (l, m) = self.ratio;
        (2 * frames * l + m) / (2 * m)
    }

    fn take(&mut self, produced: usize) {
        let drop = self.skip.min(produced);
        self.skip -= drop;
        self.ready.extend(&self.tmp[drop..produced]);
    }

    /// Reads and converts one block; false when the stream has ended and is flushed.
    fn fill(&mut self) -> Result<bool, CliError> {
        if self.ended {
            return Ok(false);
        }
        let n = self.src.read(&mut self.inbuf)?;
        self.frames_in += n as u64;
        self.tmp.resize(self.rs.output_len_for(n), 0.0);
        let (_, produced) = self.rs.process(&self.inbuf[..n], &mut self.tmp);
        self.take(produced);
        if n < self.inbuf.len() {
            self.ended = true;
            self.tmp.resize(BLOCK, 0.0);
            loop {
                let k = self.rs.flush(&mut self.tmp);
                if k == 0 {
                    break;
                }
                self.take(k);
            }
        }
        Ok(true)
    }
}

impl<S: Source> Source for Resampled<S> {
    fn read(&mut self, out: &mut [f32]) -> Result<usize, CliError> {
        // Before the end, never beyond what the final length will surely include; a short
        // read means the end, so keep converting until `out` can be filled or the input ends.
        let mut allowed;
        loop {
            allowed = self.want(self.frames_in).saturating_sub(self.emitted);
            let avail = (self.ready.len() as u64).min(allowed);
            if avail >= out.len() as u64 || !self.fill()? {
                break;
            }
        }
        let mut n = (self.ready.len() as u64).min(allowed).min(out.len() as u64) as usize;
        for (o, v) in out.iter_mut().zip(self.ready.drain(..n)) {
            *o = v;
        }
        if self.ended && n < out.len() {
            // The filter always yields at least the final length; pad defensively if not.
            let pad = (allowed - n as u64).min((out.len() - n) as u64) as usize;
            out[n..n + pad].fill(0.0);
            n += pad;
        }
        self.emitted += n as u64;
        Ok(n)
    }
}

/// A graph on a driven engine, fed one quantum per cycle from the host: the same engine,
/// command path and plan executor as live calls.
pub struct Runner {
    engine: Engine,
    driver: rvoip_media_core::engine::Driver,
    part: PartitionId,
    ins: Vec<AudioIn>,
    outs: Vec<OutputEndpoint>,
    scratch: Vec<f32>,
    busy: Duration,
}

impl Runner {
    /// Starts `graph` (audio inputs only) on a driven engine.
    pub fn new(graph: CompiledGraph) -> Result<Self, CliError> {
        let n_ports = graph.plan.inputs.len() + graph.plan.outputs.len();
        let cfg = EngineConfig {
            quantum: graph.plan.quantum,
            frame_pool: (4 * n_ports).max(64),
            packet_pool: (4 * n_ports).max(64),
            ring_capacity: 4,
            command_capacity: 16,
            ..EngineConfig::default()
        };
        let (engine, driver) = Engine::driven(cfg)?;
        let mut part = engine.add_partition(graph)?;
        let mut ins = Vec::new();
        for (name, kind, ep) in part.io.inputs.drain(..) {
            match ep {
                InputEndpoint::Audio(a) => ins.push(a),
                _ => {
                    return Err(CliError::Usage(format!(
                        "graph input '{name}' is {kind}; offline runs feed audio only"
                    )))
                }
            }
        }
        let outs = part.io.outputs.drain(..).map(|(_, _, ep)| ep).collect();
        Ok(Runner { engine, driver, part: part.id, ins, outs, scratch: Vec::new(), busy: Duration::ZERO })
    }

    /// Samples per quantum of input `i`.
    pub fn quantum_len(&self, i: usize) -> usize {
        self.ins.get(i).map_or(0, AudioIn::samples_per_quantum)
    }

    /// Runs one cycle: `inputs[i]` is the quantum for input `i` (zero-padded when shorter).
    /// Each audio output's quantum replaces `audio[k]`'s contents; each packet output's
    /// packet (if one was sent) replaces `packets[k]`.
    pub fn cycle(
        &mut self,
        inputs: &[&[f32]],
        audio: &mut [Vec<f32>],
        packets: &mut [Option<Vec<u8>>],
    ) -> Result<(), CliError> {
        if inputs.len() != self.ins.len() {
            return Err(CliError::Internal("input count differs from the graph's"));
        }
        let t0 = Instant::now();
        for (ep, data) in self.ins.iter_mut().zip(inputs) {
            let n = ep.samples_per_quantum();
            self.scratch.clear();
            self.scratch.extend_from_slice(&data[..data.len().min(n)]);
            self.scratch.resize(n, 0.0);
            ep.push(&self.scratch).map_err(|e| CliError::Usage(format!("feeding input: {e}")))?;
        }
        self.driver.process_cycle();
        let (mut ai, mut pi) = (0, 0);
        for ep in self.outs.iter_mut() {
            match ep {
                OutputEndpoint::Audio(a) => {
                    let f = a.pop().ok_or(CliError::Internal("no audio output after a cycle"))?;
                    let dst = audio.get_mut(ai).ok_or(CliError::Internal("audio output count"))?;
                    dst.clear();
                    dst.extend_from_slice(f.samples());
                    ai += 1;
                }
                OutputEndpoint::Packet(p) => {
                    let dst = packets.get_mut(pi).ok_or(CliError::Internal("packet output count"))?;
                    *dst = p.pop().map(|pk| pk.payload().to_vec());
                    pi += 1;
                }
                OutputEndpoint::Control(_) => {}
            }
        }
        self.busy += t0.elapsed();
        Ok(())
    }

    /// The partition's statistics and the time spent in cycles, seconds.
    pub fn finish(self) -> Result<(PartitionStats, f64), CliError> {
        let stats = self.engine.partition_stats(self.part)?;
        Ok((stats, self.busy.as_secs_f64()))
    }
}

/// Reads exactly `out.len()` samples from `src` unless it ends (then zero-fills the rest);
/// returns how many were real.
pub fn read_padded(src: &mut impl Source, out: &mut [f32]) -> Result<usize, CliError> {
    let n = src.read(out)?;
    out[n..].fill(0.0);
    Ok(n)
}

/// Samples that `latency_ns` of delay covers at `rate`, rounded up.
pub fn latency_samples(latency_ns: u64, rate: u32) -> usize {
    (latency_ns as u128 * u128::from(rate)).div_ceil(1_000_000_000) as usize
}

/// Cycles needed to cover `samples` samples plus `latency_ns` of delay at `rate`.
pub fn cycles_for(samples: usize, rate: u32, quantum: Quantum, latency_ns: u64) -> usize {
    let per = quantum.frames_at(rate).unwrap_or(1).max(1);
    (samples + latency_samples(latency_ns, rate)).div_ceil(per)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source over a slice.
    struct Slice<'a>(&'a [f32]);

    impl Source for Slice<'_> {
        fn read(&mut self, out: &mut [f32]) -> Result<usize, CliError> {
            let n = out.len().min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn resampled_equals_resample_whole_for_any_read_sizes() {
        let x: Vec<f32> =
            (0..20_011).map(|i| ((i as f32) * 0.031).sin() * 0.6 + ((i * 7 % 13) as f32) * 0.01).collect();
        for (a, b) in [(8000, 48000), (48000, 8000), (16000, 44100), (44100, 16000), (16000, 16000)] {
            let want = rvoip_media_nodes::resample::resample_whole(&x, a, b, 1).unwrap();
            for sizes in [&[1usize, 37, 5000][..], &[4096], &[80, 81]] {
                let mut r = Resampled::new(Slice(&x), a, b).unwrap();
                let mut got = Vec::new();
                for k in 0.. {
                    let mut out = vec![0f32; sizes[k % sizes.len()]];
                    let n = r.read(&mut out).unwrap();
                    got.extend_from_slice(&out[..n]);
                    if n < out.len() {
                        break;
                    }
                }
                assert_eq!(got.len(), want.len(), "{a} -> {b}, reads of {sizes:?}");
                assert!(got == want, "{a} -> {b}, reads of {sizes:?}: samples differ");
                let mut out = [0f32; 8];
                assert_eq!(r.read(&mut out).unwrap(), 0, "nothing after the end");
            }
        }
    }
}
