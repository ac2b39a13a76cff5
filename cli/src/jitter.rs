//! `rvoip-media jitter`: replays one RTP stream of a capture through the adaptive jitter
//! buffer and its decoder in simulated real time, as the evaluation contract says: the
//! playout clock starts at the first record's arrival and ticks every 10 ms; at tick *k*
//! only packets that arrived by `t0 + k·10 ms` are inserted, then 10 ms of audio is pulled.
//! Ticks run while `t0 + k·10 ms < last arrival + 2 s`, so the output holds exactly
//! `K·fs/100` samples. Nothing reads the wall clock except the `PROC_SECONDS` figure.

use super::pcap::{self, Capture};
use super::{codec_arg::Codec, output::Outputs, wavio::WavOut, CliError};
use rvoip_media_core::quality::stream::estimate;
use rvoip_media_core::rtp::{parse_rtp, RtpError};
use rvoip_media_graph::{Packet, PacketMeta};
use rvoip_media_nodes::codec::Decoder;
use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig, JitterReport, JitterStats, TargetCost, CN_PAYLOAD_TYPE};
use rvoip_media_nodes::wav::WavSampleFormat;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `jitter`.
#[derive(clap::Args)]
pub struct Args {
    /// Input capture (classic libpcap as tcpdump writes it, or pcapng as tshark and dumpcap do:
    /// Ethernet, Linux cooked, loopback or raw IP; UDP/RTP).
    #[arg(long)]
    pcap: PathBuf,
    /// Codec of the stream.
    #[arg(long)]
    codec: Codec,
    /// Output WAV: mono 16-bit at the codec's rate (8 kHz for PCMU, PCMA and G.729, 16 kHz
    /// for G.722), Opus decoded at 16 kHz.
    #[arg(long)]
    out: PathBuf,
    /// Write the W3C getStats counters of the stream here as JSON.
    #[arg(long)]
    stats: Option<PathBuf>,
    /// The stream's SSRC (decimal or 0x hex); by default the stream with the most packets
    /// of the codec's payload type, followed across the sender's SSRC changes: another
    /// SSRC of that payload type whose packets came before or after it (overlapping its
    /// time span by at most 1 s) is the same sender restarted (a
    /// re-INVITE, a media server switching its source), and its packets play in the same
    /// output; a stream that overlaps it longer runs beside it and is skipped.
    #[arg(long, value_parser = parse_ssrc)]
    ssrc: Option<u32>,
}

fn parse_ssrc(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse::<u32>(),
    };
    r.map_err(|_| format!("`{s}` is not an SSRC (a 32-bit number, decimal or 0x hex)"))
}

/// How long another SSRC's packets may overlap the chosen stream's time span and still count
/// as the same sender after an SSRC change, ns: the old stream's last packets may arrive
/// after the new one's first under jitter and reordering (1 s is far beyond a call's
/// delay), while a stream running beside the chosen one overlaps it for most of the call.
const SSRC_CHANGE_OVERLAP_NS: u64 = 1_000_000_000;

/// One RTP packet of the capture.
#[derive(Clone, Debug)]
struct RtpIn {
    time_ns: u64,
    meta: PacketMeta,
    payload: Vec<u8>,
}

/// What the capture held besides the chosen stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Census {
    not_rtp: u64,
    rtcp: u64,
    other_streams: u64,
    too_large: u64,
}

/// The packets of the chosen stream, in capture order, and what was skipped.
fn select(cap: &Capture, codec: Codec, ssrc: Option<u32>) -> Result<(Vec<RtpIn>, Census), CliError> {
    let mut census = Census { not_rtp: cap.skipped, ..Census::default() };
    let mut all = Vec::new();
    for d in &cap.datagrams {
        match parse_rtp(&d.payload, d.time_ns) {
            Ok((meta, payload)) => all.push(RtpIn { time_ns: d.time_ns, meta, payload: payload.to_vec() }),
            Err(RtpError::IsRtcp) => census.rtcp += 1,
            Err(RtpError::PayloadTooLarge { .. }) => census.too_large += 1,
            Err(_) => census.not_rtp += 1,
        }
    }
    let static_pt = codec.id().capability().static_payload_type;
    let fits = |pt: u8| match static_pt {
        Some(s) => pt == s,
        None => (96..=127).contains(&pt),
    };
    let chosen = match ssrc {
        Some(s) => s,
        None => {
            let mut counts: HashMap<u32, u64> = HashMap::new();
            for p in all.iter().filter(|p| fits(p.meta.payload_type)) {
                *counts.entry(p.meta.ssrc).or_default() += 1;
            }
            let best = counts.into_iter().max_by_key(|&(s, n)| (n, std::cmp::Reverse(s)));
            match best {
                Some((s, _)) => s,
                None => {
                    return Err(CliError::Usage(format!(
                        "no RTP stream of {} in the capture ({} RTP packets of other payload types, {} other records)",
                        match static_pt {
                            Some(s) => format!("{} (payload type {s})", codec.name().to_uppercase()),
                            None => "Opus (a dynamic payload type 96-127)".to_string(),
                        },
                        all.len(),
                        census.not_rtp + census.rtcp
                    )))
                }
            }
        }
    };
    let followed = match ssrc {
        Some(_) => vec![chosen],
        None => ssrc_chain(&all, chosen, &fits),
    };
    let (mine, others): (Vec<RtpIn>, Vec<RtpIn>) = all.into_iter().partition(|p| followed.contains(&p.meta.ssrc));
    census.other_streams = others.len() as u64;
    if mine.is_empty() {
        return Err(CliError::Usage(format!("no RTP packet with SSRC {chosen} (0x{chosen:08x}) in the capture")));
    }
    Ok((mine, census))
}

/// The SSRCs of one sender across its SSRC changes: `chosen` and every other SSRC of a
/// payload type that `fits` whose packets came before or after each stream already taken,
/// overlapping its arrival span by at most [`SSRC_CHANGE_OVERLAP_NS`] (the streams with
/// more packets first).
fn ssrc_chain(all: &[RtpIn], chosen: u32, fits: &dyn Fn(u8) -> bool) -> Vec<u32> {
    // SSRC -> (packets, first arrival, last arrival)
    let mut spans: HashMap<u32, (u64, u64, u64)> = HashMap::new();
    for p in all.iter().filter(|p| fits(p.meta.payload_type)) {
        let e = spans.entry(p.meta.ssrc).or_insert((0, p.time_ns, p.time_ns));
        e.0 += 1;
        e.1 = e.1.min(p.time_ns);
        e.2 = e.2.max(p.time_ns);
    }
    let mut rest: Vec<(u32, (u64, u64, u64))> =
        spans.iter().map(|(&s, &v)| (s, v)).filter(|&(s, _)| s != chosen).collect();
    rest.sort_by_key(|&(s, (n, _, _))| (std::cmp::Reverse(n), s));
    let mut taken = vec![(chosen, spans.get(&chosen).map_or((0, 0), |&(_, a, b)| (a, b)))];
    for (s, (_, a, b)) in rest {
        // Before a taken stream (starts earlier, ends at most the overlap into it) or after
        // it (ends later, starts at most the overlap before its end); a stray packet or a
        // stream inside a taken one's span is neither.
        let apart = taken.iter().all(|&(_, (ta, tb))| {
            (a < ta && b <= ta.saturating_add(SSRC_CHANGE_OVERLAP_NS))
                || (b > tb && a.saturating_add(SSRC_CHANGE_OVERLAP_NS) >= tb)
        });
        if apart {
            taken.push((s, (a, b)));
        }
    }
    taken.into_iter().map(|(s, _)| s).collect()
}

/// The stream's decoder, as a call's (`CodecId::call_decoder`: Opus with its neural
/// concealment): at the codec's rate, Opus at 16 kHz (the evaluation kit's contract).
fn decoder(codec: Codec) -> Result<Box<dyn Decoder>, CliError> {
    let rate = if codec == Codec::Opus { 16_000 } else { codec.rate() };
    codec.id().call_decoder(rate, 1).map_err(|e| CliError::Usage(format!("{} decoder: {e}", codec.name())))
}

/// The buffer's settings: the defaults, or (an experimenter's aid) the defaults changed by
/// `RVOIP_JB_TUNE="quantile=0.99,margin_ms=15"`.
fn tuned_config() -> Result<JitterConfig, CliError> {
    let mut c = JitterConfig::default();
    let Ok(spec) = std::env::var("RVOIP_JB_TUNE") else { return Ok(c) };
    for kv in spec.split(',').filter(|s| !s.is_empty()) {
        let (k, v) =
            kv.split_once('=').ok_or_else(|| CliError::Usage(format!("RVOIP_JB_TUNE: `{kv}` is not key=value")))?;
        let bad = || CliError::Usage(format!("RVOIP_JB_TUNE: bad value `{v}` for {k}"));
        let f: f64 = v.parse().map_err(|_| bad())?;
        let u = || -> Result<u32, CliError> { v.parse().map_err(|_| bad()) };
        match k {
            "quantile" => c.quantile = f,
            "forget" => c.forget = f,
            "loss_weight_ms" => c.cost = TargetCost::Linear { loss_weight_ms: f },
            "bpl" => c.cost = TargetCost::EModel { bpl: f, other_delay_ms: 40.0 },
            "margin_ms" => c.margin_ms = u()?,
            "initial_delay_ms" => c.initial_delay_ms = u()?,
            "accelerate_quiet_ms" => c.accelerate_quiet_ms = u()?,
            "expand_quiet_ms" => c.expand_quiet_ms = u()?,
            "accelerate_speech_ms" => c.accelerate_speech_ms = u()?,
            "expand_speech_ms" => c.expand_speech_ms = u()?,
            "max_wait_ms" => c.max_wait_ms = u()?,
            "stretch_budget_ms" => c.stretch_budget_ms = u()?,
            "rewind_ms" => c.rewind_ms = Some(u()?),
            "track_skew" => c.track_skew = f != 0.0,
            "spike_tail_weight" => c.spike_tail_weight = f,
            "spike_wait_ms" => c.spike_wait_ms = u()?,
            "target_rise_cost" => c.target_rise_cost = Some(f),
            _ => return Err(CliError::Usage(format!("RVOIP_JB_TUNE: unknown setting {k}"))),
        }
    }
    c.validate().map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(c)
}

/// Where each tick's audio goes: `(sample rate, samples)`.
type Emit<'a> = dyn FnMut(u32, &[f32]) -> Result<(), CliError> + 'a;

/// Plays the stream, handing each tick's 10 ms of audio to `emit` with the output rate;
/// returns the buffer's final statistics, the buffer and the number of ticks.
fn play(
    pkts: &[RtpIn],
    codec: Codec,
    t0: u64,
    t_last: u64,
    census: &mut Census,
    emit: &mut Emit<'_>,
) -> Result<(JitterStats, JitterBuffer, usize), CliError> {
    let pt = pkts.iter().find(|p| p.meta.payload_type != CN_PAYLOAD_TYPE).map_or(0, |p| p.meta.payload_type);
    let mut jb = JitterBuffer::new(decoder(codec)?, tuned_config()?)
        .map_err(|e| CliError::Usage(e.to_string()))?
        .with_payload_type(pt);
    let fs = jb.sample_rate() as usize;
    let tick_ns = 10_000_000u64;
    // K = ceil((t_last - t0 + 2 s) / 10 ms).
    let span = t_last - t0 + 2_000_000_000;
    let k_total = span.div_ceil(tick_ns) as usize;
    let q = fs / 100;
    let mut out = vec![0f32; q];
    // Packets in arrival order (a capture is normally in order already; stable sort).
    let mut order: Vec<&RtpIn> = pkts.iter().collect();
    order.sort_by_key(|p| p.time_ns);
    let mut next = 0;
    let mut packet = Packet::new();
    // Debugging aid: RVOIP_JB_TRACE=FILE writes one line per tick (delay, target, counters).
    let mut trace =
        std::env::var_os("RVOIP_JB_TRACE").and_then(|p| std::fs::File::create(p).ok()).map(std::io::BufWriter::new);
    for k in 0..k_total {
        let now = k as u64 * tick_ns;
        while next < order.len() && order[next].time_ns - t0 <= now {
            let p = order[next];
            next += 1;
            packet.meta = p.meta;
            packet.meta.arrival_ns = p.time_ns - t0;
            if packet.set_payload(&p.payload).is_err() {
                census.too_large += 1;
                continue;
            }
            jb.insert(&packet);
        }
        jb.pull(now, &mut out);
        emit(fs as u32, &out)?;
        if let Some(t) = trace.as_mut() {
            let s = jb.stats();
            let _ = writeln!(
                t,
                "{k} {:.1} {:.1} {} {} {} {}",
                s.current_delay_ms,
                s.target_delay_ms,
                s.concealed_samples,
                s.removed_samples_for_acceleration,
                s.inserted_samples_for_deceleration,
                s.packets_late
            );
        }
    }
    Ok((jb.stats(), jb, k_total))
}

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

/// The E-model R, MOS and mouth-to-ear delay of the played stream, by the sessions'
/// estimator ([`estimate`]: G.107 for PCMU, G.107.1 for Opus; mean buffer delay + the
/// stream's packet time `ptime_ms` as packetisation + look-ahead, the network's one-way
/// delay not being in a capture). `None` ("unknown") until enough packets were seen —
/// never a default score.
fn emodel(codec: Codec, ptime_ms: u32, rx: &JitterReport) -> Option<(f64, f64, f64)> {
    estimate(codec.id(), ptime_ms, None, rx).map(|q| (q.r, q.mos_cq, q.mouth_to_ear_ms))
}

/// The `--stats` JSON: the W3C names first, then this buffer's extras.
fn stats_json(s: &JitterStats, jb: &JitterBuffer, census: &Census, ticks: usize, codec: Codec) -> String {
    let b = jb.burst_gap();
    let emodel = emodel(codec, jb.packet_ms().round() as u32, &JitterReport::of(jb));
    let fields: Vec<(&str, String)> = vec![
        ("packetsReceived", s.packets_received.to_string()),
        ("packetsLost", s.packets_lost.to_string()),
        ("packetsDiscarded", s.packets_discarded.to_string()),
        ("jitter", num(s.jitter)),
        ("jitterBufferDelay", num(s.jitter_buffer_delay)),
        ("jitterBufferTargetDelay", num(s.jitter_buffer_target_delay)),
        ("jitterBufferMinimumDelay", num(s.jitter_buffer_minimum_delay)),
        ("jitterBufferEmittedCount", s.jitter_buffer_emitted_count.to_string()),
        ("totalSamplesReceived", s.total_samples_received.to_string()),
        ("concealedSamples", s.concealed_samples.to_string()),
        ("silentConcealedSamples", s.silent_concealed_samples.to_string()),
        ("concealmentEvents", s.concealment_events.to_string()),
        ("insertedSamplesForDeceleration", s.inserted_samples_for_deceleration.to_string()),
        ("removedSamplesForAcceleration", s.removed_samples_for_acceleration.to_string()),
        ("fecPacketsRecovered", s.fec_recovered.to_string()),
        ("latePackets", s.packets_late.to_string()),
        ("duplicatePackets", s.packets_duplicate.to_string()),
        ("badPackets", s.packets_bad.to_string()),
        ("foreignPackets", s.packets_foreign.to_string()),
        ("resets", s.resets.to_string()),
        ("burstDensity", num(b.burst_density)),
        ("gapDensity", num(b.gap_density)),
        ("burstDurationMs", num(b.burst_duration_ms)),
        ("gapDurationMs", num(b.gap_duration_ms)),
        ("emodelR", emodel.map_or("null".into(), |(r, _, _)| num(r))),
        ("emodelMos", emodel.map_or("null".into(), |(_, m, _)| num(m))),
        ("emodelDelayMs", emodel.map_or("null".into(), |(_, _, t)| num(t))),
        ("nonRtpRecords", census.not_rtp.to_string()),
        ("rtcpPackets", census.rtcp.to_string()),
        ("otherStreamPackets", census.other_streams.to_string()),
        ("ticks", ticks.to_string()),
    ];
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("  \"{k}\": {v}")).collect();
    format!("{{\n{}\n}}\n", body.join(",\n"))
}

/// Runs `jitter`.
pub fn run(a: Args) -> Result<(), CliError> {
    let mut outputs = Outputs::new();
    let wav_file = outputs.create(&a.out)?;
    let stats_file = a.stats.as_ref().map(|p| outputs.create(p)).transpose()?;
    let bytes = std::fs::read(&a.pcap).map_err(|source| CliError::Io { path: a.pcap.display().to_string(), source })?;
    let started = std::time::Instant::now();
    let cap = pcap::parse(&bytes).map_err(|e| CliError::Usage(format!("{}: {e}", a.pcap.display())))?;
    let (Some(t0), Some(t_last)) = (cap.first_ns, cap.last_ns) else {
        return Err(CliError::Usage(format!("{}: the capture holds no packets", a.pcap.display())));
    };
    let (pkts, mut census) = select(&cap, a.codec, a.ssrc).map_err(|e| match e {
        CliError::Usage(m) => CliError::Usage(format!("{}: {m}", a.pcap.display())),
        e => e,
    })?;
    // The output is streamed tick by tick: memory does not grow with the call's length.
    let mut wav_file = Some(wav_file);
    let mut wav: Option<WavOut> = None;
    let mut emit = |fs: u32, samples: &[f32]| -> Result<(), CliError> {
        if let Some(f) = wav_file.take() {
            wav = Some(WavOut::new(f, &a.out, fs, WavSampleFormat::Int16)?);
        }
        wav.as_mut().map_or(Ok(()), |w| w.write(samples))
    };
    let (stats, jb, ticks) = play(&pkts, a.codec, t0, t_last, &mut census, &mut emit)?;
    let proc = started.elapsed().as_secs_f64();
    if let Some(w) = wav {
        w.finish()?;
    }
    if let (Some(f), Some(path)) = (stats_file, a.stats.as_ref()) {
        let mut f = f;
        f.write_all(stats_json(&stats, &jb, &census, ticks, a.codec).as_bytes())
            .map_err(|source| CliError::Io { path: path.display().to_string(), source })?;
    }
    outputs.commit()?;
    eprintln!("PROC_SECONDS {proc:.6}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap::tests::{eth_udp, pcap as make_pcap};

    fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0x80, pt];
        v.extend(seq.to_be_bytes());
        v.extend(ts.to_be_bytes());
        v.extend(ssrc.to_be_bytes());
        v.extend(payload);
        v
    }

    #[test]
    fn picks_the_main_stream_and_counts_the_rest() {
        let mut recs = Vec::new();
        for i in 0..10u16 {
            recs.push((u64::from(i) * 20_000, eth_udp(&rtp(0, i, u32::from(i) * 160, 7, &[0xff; 160]))));
        }
        recs.push((5_000, eth_udp(&rtp(0, 1, 0, 9, &[0xff; 160]))));
        recs.push((6_000, eth_udp(b"not rtp at all")));
        recs.push((7_000, eth_udp(&[0x80, 200, 0, 6, 0, 0, 0, 0])));
        let cap = pcap::parse(&make_pcap(1, &recs)).unwrap();
        let (pkts, census) = select(&cap, Codec::Pcmu, None).unwrap();
        assert_eq!(pkts.len(), 10);
        assert_eq!(census, Census { not_rtp: 1, rtcp: 1, other_streams: 1, too_large: 0 });
        let (only9, _) = select(&cap, Codec::Pcmu, Some(9)).unwrap();
        assert_eq!(only9.len(), 1);
        assert!(select(&cap, Codec::Opus, None).unwrap_err().to_string().contains("no RTP stream of Opus"));
        assert!(select(&cap, Codec::Pcmu, Some(1)).is_err());
    }

    #[test]
    fn follows_the_senders_ssrc_change_but_not_a_stream_beside_it() {
        // SSRC 7 for 2 s, then the sender restarts as SSRC 8 (new seq/ts); SSRC 9 of the
        // same payload type runs beside 7 and 8 the whole time (another leg).
        let mut recs = Vec::new();
        for i in 0..200u16 {
            let t = u64::from(i) * 20_000;
            let (ssrc, seq, ts) =
                if i < 100 { (7, i, u32::from(i) * 160) } else { (8, 9000 + i, 77_777 + u32::from(i) * 160) };
            recs.push((t, eth_udp(&rtp(0, seq, ts, ssrc, &[0xff; 160]))));
            if i % 2 == 0 {
                recs.push((t + 5_000, eth_udp(&rtp(0, i / 2, u32::from(i) * 80, 9, &[0xff; 160]))));
            }
        }
        let cap = pcap::parse(&make_pcap(1, &recs)).unwrap();
        let (pkts, census) = select(&cap, Codec::Pcmu, None).unwrap();
        assert_eq!(pkts.len(), 200);
        assert!(pkts.iter().all(|p| p.meta.ssrc != 9));
        assert_eq!(census.other_streams, 100);
        // Asked for one SSRC, only that one.
        let (only7, _) = select(&cap, Codec::Pcmu, Some(7)).unwrap();
        assert_eq!(only7.len(), 100);
    }

    #[test]
    fn output_length_follows_the_contract() {
        // 1 s of 20 ms packets, arrival 3 ms after sending: K = ceil((0.98 + 2) / 0.01) = 298.
        let recs: Vec<_> = (0..50u16)
            .map(|i| (1_000_000 + u64::from(i) * 20_000, eth_udp(&rtp(0, i, u32::from(i) * 160, 1, &[0x7f; 160]))))
            .collect();
        let cap = pcap::parse(&make_pcap(1, &recs)).unwrap();
        let (pkts, mut census) = select(&cap, Codec::Pcmu, None).unwrap();
        let mut audio = Vec::new();
        let (stats, _, _) =
            play(&pkts, Codec::Pcmu, cap.first_ns.unwrap(), cap.last_ns.unwrap(), &mut census, &mut |_, x| {
                audio.extend_from_slice(x);
                Ok(())
            })
            .unwrap();
        assert_eq!(audio.len(), 298 * 80);
        assert_eq!((stats.packets_received, stats.packets_lost, stats.packets_discarded), (50, 0, 0));
        // Every decoded sample came out (time scaling is counted separately).
        assert_eq!(stats.jitter_buffer_emitted_count, 50 * 160);
    }

    #[test]
    fn the_emodel_figure_is_unknown_until_enough_packets() {
        let stats = JitterStats { packets_received: 99, jitter_buffer_emitted_count: 1, ..JitterStats::default() };
        let mut rx = JitterReport { stats, ..JitterReport::default() };
        assert_eq!(emodel(Codec::Pcmu, 20, &rx), None);
        rx.stats.packets_received = 250;
        rx.stats.jitter_buffer_emitted_count = 8000;
        rx.stats.jitter_buffer_delay = 8000.0 * 0.060; // 60 ms mean
        rx.played_packets = 250;
        // Ta = 80 ms, no loss: R = 93.2 less a small delay impairment (G.107's Id at 80 ms
        // with the default echo loss is under 2).
        let (r, mos, ta) = emodel(Codec::Pcmu, 20, &rx).unwrap();
        assert!((ta - 80.0).abs() < 1e-9);
        assert!(r > 91.2 && r < 93.2, "{r}");
        assert!(mos > 4.3);
        // 2 % loss at random with Bpl 25.1: Ie,eff = 95 · 2 / 27.1 ≈ 7.0.
        (rx.missed_packets, rx.loss_runs) = (5, 5);
        let (r2, _, _) = emodel(Codec::Pcmu, 20, &rx).unwrap();
        assert!((r - r2 - 95.0 * 2.0 / (2.0 + 25.1)).abs() < 1e-6, "{r} {r2}");
        // Opus is rated on the wideband scale (R up to 129).
        assert!(emodel(Codec::Opus, 20, &rx).unwrap().0 > 100.0);
    }

    #[test]
    fn ssrc_accepts_decimal_and_hex() {
        assert_eq!(parse_ssrc("0x10"), Ok(16));
        assert_eq!(parse_ssrc("42"), Ok(42));
        assert!(parse_ssrc("-1").is_err());
    }
}
