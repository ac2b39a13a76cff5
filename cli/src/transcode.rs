//! `rvoip-media transcode`: encode, packetise and decode in one graph on the engine, through
//! the codec model (`EncodeNode` / `DecodeNode` around any `Encoder` / `Decoder`).

use super::codec_arg::Codec;
use super::stream::{cycles_for, read_padded, GraphInput, Runner};
use super::{output::Outputs, progress::Progress, wavio, CliError};
use rvoip_media_core::prelude::*;
use rvoip_media_graph::{SplitMix64, MAX_PAYLOAD};
use rvoip_media_nodes::codec::{DecodeNode, EncodeNode, Encoder};
use rvoip_media_nodes::opus::{
    Bitrate, OpusCodecEncoder, OpusEncoderConfig, OpusError, OpusFecDecodeNode, FRAME_DURATIONS_US, MAX_BITRATE,
    MAX_COMPLEXITY, MIN_BITRATE, SAMPLE_RATES as OPUS_RATES,
};
use rvoip_media_nodes::resample;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Arguments of `transcode`.
#[derive(clap::Args)]
pub struct Args {
    /// Input WAV (any format `process` reads). Without `--rate` it must be at a rate the codec runs
    /// at: 8000 Hz (PCMU, PCMA, G.729), 16000 Hz (G.722), 8/12/16/24/48 kHz (Opus).
    #[arg(long = "in")]
    input: PathBuf,
    /// Codec.
    #[arg(long)]
    codec: Codec,
    /// G.729 only: Annex B voice activity detection with discontinuous transmission.
    #[arg(long)]
    vad: bool,
    /// Packet duration in ms: a multiple of the 10 ms quantum that the codec allows (10 to 60;
    /// default 10, Opus 20). For the sample-based codecs the payload file and the decoded audio
    /// do not depend on it (with `--vad`, except that a SID right before speech in the first
    /// packet window is not sent); an Opus packet is one frame of this duration.
    #[arg(long, allow_negative_numbers = true)]
    ptime: Option<i64>,
    /// Run the codec at this rate; the input is resampled to it and the decoded audio back
    /// to the input's rate (polyphase resamplers inserted by the graph builder).
    #[arg(long, allow_negative_numbers = true)]
    rate: Option<i64>,
    /// Opus: target bit rate in bit/s (6000..=510000).
    #[arg(long, allow_negative_numbers = true)]
    bitrate: Option<i64>,
    /// Opus: encoder complexity, 0-10.
    #[arg(long, allow_negative_numbers = true)]
    complexity: Option<i64>,
    /// Opus: in-band forward error correction, tuned to the `--loss` percentage (10 % when no
    /// loss is simulated); the decoder rebuilds a lost packet from the next one.
    #[arg(long)]
    fec: bool,
    /// Opus: discontinuous transmission (nothing is sent during silence).
    #[arg(long)]
    dtx: bool,
    /// Decoded output WAV (the input's rate, length and sample format).
    #[arg(long)]
    out: PathBuf,
    /// Write the encoded stream here. PCMU / PCMA: one byte per input sample; G.722: one byte
    /// per two samples (an odd last sample is paired with a zero). G.729: 10 bytes
    /// per 10 ms frame; with `--vad`, every frame as a big-endian u16 length (0 = not sent,
    /// 2 = SID, 10 = speech) followed by its bytes. Opus: every packet as a big-endian u16
    /// length (0 = nothing sent, DTX) followed by its bytes.
    #[arg(long)]
    payload_out: Option<PathBuf>,
    /// Drop this percentage of packets at random between the encoder and the decoder
    /// (the decoder conceals them); the payload file still holds every packet sent.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    loss: f64,
    /// Seed of the packet-loss draw, for repeatable runs (default 1; needs `--loss`).
    #[arg(long)]
    seed: Option<u64>,
}

/// Drops packets at random with a fixed probability (a seeded splitmix64 draw per packet)
/// and counts them: the network between encoder and decoder.
struct Loss {
    format: PacketFormat,
    /// Drop when the draw is below this (probability × 2^64).
    threshold: u64,
    draws: SplitMix64,
    dropped: Arc<AtomicU64>,
}

impl Processor for Loss {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("loss")
            .with_input(PortSpec::required("in", PortKind::Packet(self.format)))
            .with_output(PortSpec::required("out", PortKind::Packet(self.format)))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let Some(p) = io.packet_in(0) else { return };
        if self.draws.next_u64() < self.threshold {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            io.packet_out(0).put(p);
        }
    }
}

/// Passes packets through with their RTP timestamp (big-endian u32) prepended to the
/// payload, so the payload file can place every frame in time (DTX leaves gaps).
struct Stamp {
    format: PacketFormat,
}

impl Processor for Stamp {
    fn spec(&self) -> NodeSpec {
        NodeSpec::new("stamp")
            .with_input(PortSpec::required("in", PortKind::Packet(self.format)))
            .with_output(PortSpec::required("out", PortKind::Packet(self.format)))
    }

    fn process(&mut self, io: &mut ProcessIo<'_>) {
        let Some(p) = io.packet_in(0) else { return };
        let len = p.len();
        if len + 4 > MAX_PAYLOAD {
            io.report_error();
            return;
        }
        let out = io.packet_out(0).fill();
        out.meta = p.meta;
        let buf = out.buffer_mut();
        buf[..4].copy_from_slice(&p.meta.timestamp.to_be_bytes());
        buf[4..4 + len].copy_from_slice(p.payload());
        // `len + 4 <= MAX_PAYLOAD` was checked above.
        let _ = out.set_len(len + 4);
    }
}

pub fn run(a: Args) -> Result<(), CliError> {
    let mut outputs = Outputs::new();
    let out_file = outputs.create(&a.out)?;
    let payload_out = a.payload_out.as_deref().map(|p| outputs.create(p)).transpose()?;
    let id = a.codec.id();
    if !(0.0..=100.0).contains(&a.loss) {
        return Err(CliError::Usage(format!("--loss must be a percentage in 0..=100, got {}", a.loss)));
    }
    if let (Some(seed), true) = (a.seed, a.loss == 0.0) {
        return Err(CliError::Usage(format!(
            "--seed {seed} would be ignored: it seeds the packet-loss draw, which needs --loss above 0"
        )));
    }
    let seed = a.seed.unwrap_or(1);
    let bitrate = a
        .bitrate
        .map(|b| {
            u32::try_from(b).ok().filter(|b| (MIN_BITRATE..=MAX_BITRATE).contains(b)).ok_or_else(|| {
                CliError::Usage(format!("--bitrate must be {MIN_BITRATE}..={MAX_BITRATE} bit/s, got {b}"))
            })
        })
        .transpose()?;
    let complexity = a
        .complexity
        .map(|c| {
            u8::try_from(c)
                .ok()
                .filter(|c| *c <= MAX_COMPLEXITY)
                .ok_or_else(|| CliError::Usage(format!("--complexity must be 0..={MAX_COMPLEXITY}, got {c}")))
        })
        .transpose()?;
    let mut wav = GraphInput::open(&a.input, "transcode")?;
    let rate = wav.format().rate;
    let codec_rate = match a.rate {
        None => rate,
        Some(r) => {
            let r = u32::try_from(r)
                .ok()
                .filter(|r| resample::SUPPORTED_RATES.contains(r))
                .ok_or_else(|| CliError::Usage(format!("--rate must be one of {}, got {r}", super::rate_list())))?;
            if r != rate && !resample::SUPPORTED_RATES.contains(&rate) {
                return Err(CliError::Usage(format!(
                    "{}: at {} Hz it cannot be converted to --rate {r}: the resampler converts between {}",
                    a.input.display(),
                    rate,
                    super::rate_list()
                )));
            }
            r
        }
    };
    if a.vad && a.codec != Codec::G729 {
        return Err(CliError::Usage(format!("--vad (G.729 Annex B) does not apply to {id}")));
    }
    let opus_only =
        [("--bitrate", bitrate.is_some()), ("--complexity", complexity.is_some()), ("--fec", a.fec), ("--dtx", a.dtx)];
    if let Some((flag, _)) = opus_only.iter().find(|(_, set)| *set).filter(|_| a.codec != Codec::Opus) {
        return Err(CliError::Usage(format!("{flag} applies to opus only, not {id}")));
    }
    let usage = |e: rvoip_media_nodes::codec::CodecError| CliError::Usage(format!("{}: {e}", a.input.display()));
    let quantum = Quantum::MS_10;
    let codec_format = AudioFormat { rate: codec_rate, channels: 1 };
    let (rate_c, ch) = (codec_format.rate, codec_format.channels);
    // A file at a rate the codec does not run at: say which --rate would convert it.
    let codec_rates: Vec<u32> = match a.codec {
        Codec::Opus => OPUS_RATES.to_vec(),
        _ => match id.encoder(rate_c, ch, a.vad) {
            Err(rvoip_media_nodes::codec::CodecError::UnsupportedRate { supported, .. }) => supported.to_vec(),
            _ => vec![rate_c],
        },
    };
    if !codec_rates.contains(&rate_c) {
        let near = codec_rates.iter().copied().min_by_key(|r| (r.abs_diff(rate_c), u32::MAX - r)).unwrap_or(8000);
        let hint = if a.rate.is_none() && resample::SUPPORTED_RATES.contains(&rate_c) {
            format!("; add --rate {near} to convert the input for the codec and the decoded audio back to {rate_c} Hz")
        } else {
            String::new()
        };
        let list: Vec<String> = codec_rates.iter().map(u32::to_string).collect();
        return Err(CliError::Usage(format!(
            "{}: {id} does not support a sample rate of {rate_c} Hz (supported: {} Hz){hint}",
            a.input.display(),
            list.join(", ")
        )));
    }
    let ptime_us = check_ptime(&a, quantum, rate_c, ch, usage)?;
    let (encoder, dec_node): (Box<dyn Encoder>, Box<dyn Processor>) = if a.codec == Codec::Opus {
        let opus = |e: OpusError| CliError::Usage(format!("{}: {e}", a.input.display()));
        let mut cfg = OpusEncoderConfig::new(rate_c, ch).frame_duration_us(ptime_us).dtx(a.dtx).inband_fec(a.fec);
        if a.fec {
            cfg = cfg.packet_loss_percent(if a.loss > 0.0 { a.loss.ceil() as u8 } else { 10 });
        }
        if let Some(b) = bitrate {
            cfg = cfg.bitrate(Bitrate::Bits(b));
        }
        if let Some(c) = complexity {
            cfg = cfg.complexity(c);
        }
        let enc = OpusCodecEncoder::new(cfg).map_err(opus)?;
        let dec = OpusFecDecodeNode::new(rate_c, ch, ptime_us, quantum, a.fec).map_err(opus)?;
        (Box::new(enc), Box::new(dec))
    } else {
        let enc = id.encoder(rate_c, ch, a.vad).map_err(usage)?;
        let dec = DecodeNode::new(id.decoder(rate_c, ch).map_err(usage)?, quantum).map_err(usage)?;
        (enc, Box::new(dec))
    };
    let info = *encoder.info();
    let enc_node = EncodeNode::new(encoder, ptime_us, quantum).map_err(usage)?;

    let audio = PortKind::Audio(wav.format());
    // At another codec rate, the builder inserts resamplers on the way in and out.
    let mut b = GraphBuilder::new(quantum).with_converter(resample::converter);
    let mic = b.add_input("in", audio);
    let enc = b.add_node("encode", Box::new(enc_node));
    let dec = b.add_node("decode", dec_node);
    let stamp = b.add_node("stamp", Box::new(Stamp { format: info.packet_format() }));
    let payload = b.add_output("payload", PortKind::Packet(info.packet_format()));
    let out = b.add_output("out", audio);
    let dropped = Arc::new(AtomicU64::new(0));
    b.connect(mic, 0, enc, 0)?;
    if a.loss > 0.0 {
        let threshold = (a.loss / 100.0 * 2f64.powi(64)).min(u64::MAX as f64) as u64;
        let loss =
            Loss { format: info.packet_format(), threshold, draws: SplitMix64::new(seed), dropped: dropped.clone() };
        let l = b.add_node("loss", Box::new(loss));
        b.connect(enc, 0, l, 0)?;
        b.connect(l, 0, dec, 0)?;
    } else {
        b.connect(enc, 0, dec, 0)?;
    }
    b.connect(enc, 0, stamp, 0)?;
    b.connect(stamp, 0, payload, 0)?;
    b.connect(dec, 0, out, 0)?;
    let graph = b.build()?;
    // Remove packetisation and resampling delay, but keep the codec's own algorithmic delay
    // (G.722 QMF, G.729 and Opus look-ahead): the decoded file is what the decoder produces,
    // as a reference decoder fed the same payload would.
    let codec_delay_ns = u64::from(info.delay_samples) * 1_000_000_000 / u64::from(info.sample_rate.max(1));
    let latency_ns = graph.plan.outputs.iter().map(|o| o.latency_ns).max().unwrap_or(0).saturating_sub(codec_delay_ns);
    let delay = (u128::from(latency_ns) * u128::from(rate) / 1_000_000_000) as usize;
    let mut runner = Runner::new(graph)?;
    let per = runner.quantum_len(0);
    let mut out = wavio::WavOut::new(out_file, &a.out, rate, wav.sample_format())?;
    let mut payload = match (&a.payload_out, payload_out) {
        (Some(path), Some(file)) => {
            let frame = (u64::from(rate_c) * u64::from(ptime_us) / 1_000_000) as usize;
            let ticks = (u64::from(info.rtp_clock_rate) * u64::from(ptime_us) / 1_000_000) as usize;
            Some(PayloadOut::new(a.codec, a.vad, path, file, frame, ticks))
        }
        _ => None,
    };
    let n_codec = |total: usize| (total as u64 * u64::from(rate_c)).div_ceil(u64::from(rate)) as usize;
    let mut progress = Progress::new("transcode", wav.declared_len().unwrap_or(0), rate);
    let mut block = vec![0f32; per];
    let (mut audio, mut packets) = (vec![Vec::new()], vec![None]);
    let (mut total, mut ended, mut skip, mut cycle, mut written) = (0usize, false, delay, 0usize, 0usize);
    // Until the input has ended, then for as many cycles as cover it plus the latency.
    while !ended || cycle < cycles_for(total, rate, quantum, latency_ns) {
        let n = if ended { 0 } else { read_padded(&mut wav, &mut block)? };
        if n < per {
            block[n..].fill(0.0);
            ended = true;
        }
        total += n;
        runner.cycle(&[&block], &mut audio, &mut packets)?;
        cycle += 1;
        let y = &audio[0];
        let drop = skip.min(y.len());
        skip -= drop;
        let take = (total - written).min(y.len() - drop);
        out.write(&y[drop..drop + take])?;
        written += take;
        if let (Some(p), Some(pk)) = (&mut payload, &packets[0]) {
            let b = p.bound(n_codec(total));
            p.put(pk, b)?;
        }
        progress.set(written as u64);
    }
    progress.finish();
    if written != total {
        return Err(CliError::Internal("decoded output too short"));
    }
    let (stats, proc_seconds) = runner.finish()?;
    if stats.errors > 0 {
        eprintln!("rvoip-media: transcode: {} input errors reported (non-finite samples?)", stats.errors);
    }
    out.finish()?;
    if let Some(p) = payload {
        let b = p.bound(n_codec(total));
        p.finish(b)?;
    }
    outputs.commit()?;
    if a.loss > 0.0 {
        let d = dropped.load(Ordering::Relaxed);
        eprintln!("rvoip-media: transcode: {d} packets dropped by --loss {}", a.loss);
    }
    eprintln!("PROC_SECONDS {proc_seconds:.6}");
    Ok(())
}

/// The packet duration in µs: `--ptime` (default 10 ms, Opus 20 ms) if the codec allows it
/// and it is a whole number of quanta; the error lists only the ptimes that work, and
/// repeats the number as the user typed it.
fn check_ptime(
    a: &Args,
    quantum: Quantum,
    rate: u32,
    channels: u16,
    usage: impl Fn(rvoip_media_nodes::codec::CodecError) -> CliError,
) -> Result<u32, CliError> {
    let allowed: Vec<u32> = if a.codec == Codec::Opus {
        FRAME_DURATIONS_US.to_vec()
    } else {
        a.codec.id().encoder(rate, channels, a.vad).map_err(&usage)?.info().ptimes_us.to_vec()
    };
    let allowed: Vec<u32> = allowed.into_iter().filter(|us| us % quantum.micros() == 0).collect();
    let Some(ms) = a.ptime else {
        return Ok(if a.codec == Codec::Opus { 20_000 } else { 10_000 });
    };
    let us = u32::try_from(ms).ok().and_then(|ms| ms.checked_mul(1000));
    match us {
        Some(us) if allowed.contains(&us) => Ok(us),
        _ => {
            let list: Vec<String> = allowed.iter().map(|us| (us / 1000).to_string()).collect();
            Err(CliError::Usage(format!(
                "{} does not support a ptime of {ms} ms here (supported: {} ms; packets are whole 10 ms quanta)",
                a.codec.id(),
                list.join(", ")
            )))
        }
    }
}

/// Splits a stamped packet into its RTP timestamp and payload.
fn unstamp(p: &[u8]) -> Result<(usize, &[u8]), CliError> {
    let (ts, body) = p.split_at(4.min(p.len()));
    let ts = ts.try_into().map(u32::from_be_bytes).map_err(|_| CliError::Internal("unstamped packet"))?;
    Ok((ts as usize, body))
}

/// The payload file, written as packets arrive. Packets come in timestamp order; `bound`
/// (bytes for G.711 / G.722, frames for G.729, packet windows for Opus) is how far the input
/// read so far reaches, final once the input has ended: nothing at or beyond it is written.
struct PayloadOut {
    codec: Codec,
    vad: bool,
    path: PathBuf,
    w: std::io::BufWriter<std::fs::File>,
    /// Bytes written (G.711 / G.722) or records written (G.729 / Opus).
    pos: usize,
    /// Samples of an Opus packet at the codec rate.
    frame: usize,
    /// RTP ticks of an Opus packet.
    ticks: usize,
}

impl PayloadOut {
    fn new(codec: Codec, vad: bool, path: &std::path::Path, file: std::fs::File, frame: usize, ticks: usize) -> Self {
        PayloadOut {
            codec,
            vad,
            path: path.to_path_buf(),
            w: std::io::BufWriter::new(file),
            pos: 0,
            frame: frame.max(1),
            ticks: ticks.max(1),
        }
    }

    /// The bound for `n` samples at the codec's rate.
    fn bound(&self, n: usize) -> usize {
        match self.codec {
            // One byte per RTP clock tick (8000 Hz for all three): G.711 a byte per sample,
            // G.722 a byte per two samples.
            Codec::Pcmu | Codec::Pcma => n,
            Codec::G722 => n.div_ceil(2),
            Codec::G729 => n.div_ceil(80),
            Codec::Opus => n.div_ceil(self.frame),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        let path = &self.path;
        self.w.write_all(bytes).map_err(|source| CliError::Io { path: path.display().to_string(), source })
    }

    /// A record per G.729 frame or Opus window: with a big-endian u16 length (G.729 with
    /// VAD, Opus; empty = not sent) or the 10 bytes alone (G.729 without VAD).
    fn record(&mut self, body: &[u8]) -> Result<(), CliError> {
        if self.vad || self.codec == Codec::Opus {
            let len = u16::try_from(body.len()).map_err(|_| CliError::Internal("Opus packet over 65535 bytes"))?;
            self.write(&len.to_be_bytes())?;
        } else if body.len() != 10 {
            return Err(CliError::Internal("G.729 without VAD left a frame unsent"));
        }
        self.write(body)
    }

    fn slot(&mut self, slot: usize, body: &[u8], bound: usize) -> Result<(), CliError> {
        if slot >= bound {
            return Ok(());
        }
        if slot < self.pos {
            return Err(CliError::Internal("packets out of order"));
        }
        while self.pos < slot {
            self.record(&[])?;
            self.pos += 1;
        }
        self.record(body)?;
        self.pos += 1;
        Ok(())
    }

    /// Takes one stamped packet.
    fn put(&mut self, packet: &[u8], bound: usize) -> Result<(), CliError> {
        let (ts, body) = unstamp(packet)?;
        match self.codec {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => {
                // The timestamp is the index of the packet's first byte.
                if ts >= bound {
                    return Ok(());
                }
                if ts != self.pos {
                    return Err(CliError::Internal("packets do not cover the input"));
                }
                let m = body.len().min(bound - ts);
                self.write(&body[..m])?;
                self.pos += m;
                Ok(())
            }
            // Speech frames of 10 bytes, then at most one 2-byte SID.
            Codec::G729 => {
                for (i, f) in body.chunks(10).enumerate() {
                    self.slot(ts / 80 + i, f, bound)?;
                }
                Ok(())
            }
            Codec::Opus => {
                let t = self.ticks;
                self.slot(ts / t, body, bound)
            }
        }
    }

    /// Completes the file up to the final `bound` (empty records where nothing was sent).
    fn finish(mut self, bound: usize) -> Result<(), CliError> {
        match self.codec {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => {
                if self.pos != bound {
                    return Err(CliError::Internal("packets do not cover the input"));
                }
            }
            Codec::G729 | Codec::Opus => {
                while self.pos < bound {
                    self.record(&[])?;
                    self.pos += 1;
                }
            }
        }
        let path = self.path.clone();
        self.w.flush().map_err(|source| CliError::Io { path: path.display().to_string(), source })
    }
}
