//! `rvoip-media call`: a real RTP endpoint on a media session. Sends IN.wav (or silence)
//! paced in real time, records what it receives, writes its SDP and its statistics.

use super::codec_arg::Codec;
use super::output::Outputs;
use super::wavio::{self, WavOut};
use super::CliError;
use clap::Args as ClapArgs;
use rvoip_media_core::nodes::codec::{CodecId, LocalCodec};
use rvoip_media_core::sdp::{create_offer, Direction, SessionDescription};
use rvoip_media_core::session::{
    negotiated, DialogId, MediaEngine, MediaEngineConfig, MediaSessionParams, MediaStatistics, NegotiatedExtension,
    ProcessingDefaults,
};
use rvoip_media_core::transport::Remote;
use rvoip_media_nodes::WavSampleFormat;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `call`.
#[derive(ClapArgs)]
pub struct Args {
    /// Local RTP address (RTCP on port + 1).
    #[arg(long)]
    local: SocketAddr,
    /// Where to send RTP (RTCP to port + 1). Not with --sdp-in.
    #[arg(long, required_unless_present = "sdp_in", conflicts_with = "sdp_in")]
    remote: Option<SocketAddr>,
    /// Codec. Not with --sdp-in.
    #[arg(long, value_enum, required_unless_present = "sdp_in", conflicts_with = "sdp_in")]
    codec: Option<Codec>,
    /// RTP payload type (default: the codec's static one, 111 for Opus). Not with --sdp-in.
    #[arg(long, conflicts_with = "sdp_in")]
    pt: Option<u8>,
    /// Packet time, ms (a multiple of 10 the codec allows).
    #[arg(long, default_value_t = 20)]
    ptime: u32,
    /// Mono WAV to send, paced in real time (silence when absent or finished).
    #[arg(long)]
    play: Option<PathBuf>,
    /// Write what is received here (mono 16-bit WAV at the codec's audio rate, or at
    /// --play's rate).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Call duration, s (default: --play's length, else 10).
    #[arg(long)]
    seconds: Option<f64>,
    /// Write an SDP describing the stream we send (destination address and port, codec,
    /// payload type, ptime) — what ffmpeg's or GStreamer's receivers open.
    #[arg(long)]
    sdp_out: Option<PathBuf>,
    /// Take the peer's SDP (where it receives, which codecs) instead of --remote/--codec/--pt.
    #[arg(long)]
    sdp_in: Option<PathBuf>,
    /// Write the statistics as JSON (W3C getStats names where they exist).
    #[arg(long)]
    stats_json: Option<PathBuf>,
    /// Symmetric RTP: send to the source of the first valid packet received.
    #[arg(long)]
    symmetric: bool,
    /// Send these DTMF digits (0-9, *, #, A-D) by RFC 4733, 100 ms each, 1 s into the call.
    /// Telephone events (payload type 101 unless --sdp-in says otherwise) are received
    /// either way; digits received are printed and written to --stats-json.
    #[arg(long)]
    dtmf: Option<String>,
    /// Cancel the echo of what this call plays (the received audio) from what it sends.
    #[arg(long)]
    aec: bool,
    /// Suppress noise in what this call sends.
    #[arg(long)]
    ns: bool,
    /// Level what this call sends (automatic gain control).
    #[arg(long)]
    agc: bool,
    /// Detect voice activity in what this call sends: the V bit of its RFC 6464 levels
    /// (--audio-level) comes from the VAD instead of an energy gate.
    #[arg(long)]
    vad: bool,
    /// Send RFC 6464 audio levels (and read the peer's) as one-byte header extension ID
    /// (1-14, default 1), written into --sdp-out as `a=extmap`. With --sdp-in, the peer's
    /// `a=extmap` for the level decides instead.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "1", conflicts_with = "sdp_in")]
    audio_level: Option<u8>,
}

fn usage(s: impl Into<String>) -> CliError {
    CliError::Usage(s.into())
}

fn session_err(e: rvoip_media_core::session::Error) -> CliError {
    match e {
        rvoip_media_core::session::Error::Engine(e) => CliError::Engine(e),
        other => usage(other.to_string()),
    }
}

/// The SDP of the stream we send: `c=`/`m=` the destination, our codec only.
fn stream_sdp(params: &MediaSessionParams, local: SocketAddr) -> Result<SessionDescription, CliError> {
    let dest = params.remote.initial().ok_or_else(|| usage("--sdp-out needs a remote address"))?;
    let mut l = rvoip_media_core::sdp::LocalAudio::new(dest.ip(), dest.port());
    l.codecs = vec![LocalCodec::new(params.codec.codec)];
    l.telephone_event = false;
    l.ptime = Some(params.ptime_ms);
    l.rtcp_mux = false;
    l.direction = Direction::SendRecv;
    if let Some(e) = params.audio_level {
        (l.audio_level, l.audio_level_id) = (true, e.id);
    }
    let mut sdp = create_offer(&l);
    sdp.origin.address = rvoip_media_core::sdp::Connection::from_ip(local.ip());
    if let Some(m) = sdp.media.first_mut() {
        if let Some(f) = m.formats.first_mut() {
            f.payload_type = params.codec.payload_type;
            if !params.codec.fmtp.is_empty() {
                f.fmtp = Some(rvoip_media_core::sdp::Fmtp::new(&params.codec.fmtp));
            }
        }
    }
    Ok(sdp)
}

/// Quanta of `--play` audio kept queued ahead of the worker (200 ms; the session's audio
/// ring holds 64).
const AHEAD: u64 = 20;

fn json_stats(s: &MediaStatistics, ssrc: u32, seconds: f64, dtmf: &str) -> String {
    let r = &s.rtp;
    let rr = r.remote_report;
    let j = &s.receive.stats;
    let jb = &s.receive;
    let opt = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.6}"));
    // W3C RTCInboundRtpStreamStats: packet counts and RFC 3550 loss and jitter as the
    // transport counted them on the wire; the jitter buffer's counters as it played.
    let inbound: Vec<(&str, String)> = vec![
        ("ssrc", r.received.ssrc.to_string()),
        ("packetsReceived", r.received.received.to_string()),
        ("bytesReceived", r.payload_bytes_received.to_string()),
        ("packetsLost", r.received.lost.to_string()),
        ("packetsExpected", r.received.expected.to_string()),
        ("jitter", format!("{:.6}", r.received.jitter_ms / 1000.0)),
        ("jitterTicks", format!("{:.3}", r.received.jitter_ticks)),
        ("jitterMean", format!("{:.6}", r.received.jitter_mean_ms / 1000.0)),
        ("jitterMax", format!("{:.6}", r.received.jitter_max_ms / 1000.0)),
        ("packetsDiscarded", (r.not_valid + j.packets_discarded).to_string()),
        ("jitterBufferDelay", format!("{:.6}", j.jitter_buffer_delay)),
        ("jitterBufferTargetDelay", format!("{:.6}", j.jitter_buffer_target_delay)),
        ("jitterBufferMinimumDelay", format!("{:.6}", j.jitter_buffer_minimum_delay)),
        ("jitterBufferEmittedCount", j.jitter_buffer_emitted_count.to_string()),
        ("totalSamplesReceived", j.total_samples_received.to_string()),
        ("concealedSamples", j.concealed_samples.to_string()),
        ("silentConcealedSamples", j.silent_concealed_samples.to_string()),
        ("concealmentEvents", j.concealment_events.to_string()),
        ("insertedSamplesForDeceleration", j.inserted_samples_for_deceleration.to_string()),
        ("removedSamplesForAcceleration", j.removed_samples_for_acceleration.to_string()),
        ("fecPacketsRecovered", j.fec_recovered.to_string()),
        ("malformed", r.malformed.to_string()),
        ("unknownPayloadType", r.unknown_payload_type.to_string()),
        ("audioLevelsReceived", r.audio_levels_received.to_string()),
    ];
    // The buffer's own view: RFC 3550 figures of the packets it took, RFC 3611 burst/gap
    // metrics (Gmin 16) of what it played, its delays.
    let buffer: Vec<(&str, String)> = vec![
        ("packetsReceived", j.packets_received.to_string()),
        ("packetsLost", j.packets_lost.to_string()),
        ("jitter", format!("{:.6}", j.jitter)),
        ("latePackets", j.packets_late.to_string()),
        ("duplicatePackets", j.packets_duplicate.to_string()),
        ("badPackets", j.packets_bad.to_string()),
        ("foreignPackets", j.packets_foreign.to_string()),
        ("resets", j.resets.to_string()),
        ("codecSwitches", j.codec_switches.to_string()),
        ("currentDelayMs", format!("{:.3}", j.current_delay_ms)),
        ("targetDelayMs", format!("{:.3}", j.target_delay_ms)),
        ("burstDensity", format!("{:.6}", jb.burst_density)),
        ("gapDensity", format!("{:.6}", jb.gap_density)),
        ("burstDurationMs", format!("{:.3}", jb.burst_duration_ms)),
        ("gapDurationMs", format!("{:.3}", jb.gap_duration_ms)),
        ("effectiveLossRate", format!("{:.6}", jb.effective_loss_rate())),
        ("burstRatio", format!("{:.6}", jb.burst_ratio())),
    ];
    let obj = |f: &[(&str, String)]| {
        let body: Vec<String> = f.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        format!("{{{}}}", body.join(", "))
    };
    format!(
        "{{\n  \"codec\": \"{codec}\",\n  \"payloadType\": {pt},\n  \"durationSeconds\": {seconds:.3},\n  \
         \"outbound-rtp\": {{\"ssrc\": {ssrc}, \"packetsSent\": {ps}, \"bytesSent\": {bs}, \"headerBytesSent\": {hs}, \
         \"packetsNotSent\": {pns}, \"audioLevelsSent\": {als}}},\n  \
         \"inbound-rtp\": {inbound},\n  \
         \"jitterBuffer\": {buffer},\n  \
         \"remote-inbound-rtp\": {{\"fractionLost\": {fl}, \"packetsLost\": {rl}, \"jitterTicks\": {rj}, \"roundTripTime\": {rtt}}},\n  \
         \"rtcp\": {{\"sent\": {rs}, \"received\": {rc}, \"malformed\": {rm}, \"remoteCname\": {cname}}},\n  \
         \"graph\": {{\"cycles\": {gc}, \"deadlineMisses\": {gm}, \"hostUnderruns\": {gu}, \"ringFullDrops\": {gr}, \"poolExhaustedDrops\": {gp}}},\n  \
         \"dtmfReceived\": {dtmf:?},\n  \"quality\": {quality}\n}}\n",
        codec = s.codec,
        pt = s.payload_type,
        ps = r.packets_sent,
        bs = r.payload_bytes_sent,
        hs = r.bytes_sent - r.payload_bytes_sent,
        pns = r.packets_not_sent,
        als = r.audio_levels_sent,
        inbound = obj(&inbound),
        buffer = obj(&buffer),
        fl = rr.map_or("null".into(), |b| format!("{:.6}", f64::from(b.fraction_lost) / 256.0)),
        rl = rr.map_or("null".into(), |b| b.cumulative_lost.to_string()),
        rj = rr.map_or("null".into(), |b| b.jitter.to_string()),
        rtt = opt(r.rtt_ms.map(|ms| ms / 1000.0)),
        rs = r.rtcp_sent,
        rc = r.rtcp_received,
        rm = r.rtcp_malformed,
        gc = s.graph.cycles,
        gm = s.graph.deadline_misses,
        gu = s.graph.underruns,
        gr = s.graph.ring_full_drops,
        gp = s.graph.pool_exhausted_drops,
        cname = r.remote_cname.as_ref().map_or("null".into(), |c| format!("{c:?}")),
        quality = s.quality.map_or("null".to_string(), |q| format!(
            "{{\"r\": {:.3}, \"wideband\": {}, \"mosCq\": {:.3}, \"mosLq\": {:.3}, \"mouthToEarMs\": {:.3}, \"rttKnown\": {}, \"lossPercent\": {:.3}, \"burstRatio\": {:.3}}}",
            q.r, q.wideband, q.mos_cq, q.mos_lq, q.mouth_to_ear_ms, q.rtt_known, q.loss_percent, q.burst_ratio
        )),
    )
}

/// Runs `call`.
pub fn run(a: Args) -> Result<(), CliError> {
    if a.ptime == 0 || a.ptime % 10 != 0 {
        return Err(usage(format!("--ptime {}: must be a positive multiple of 10 ms", a.ptime)));
    }
    if let Some(s) = a.seconds {
        if !(s > 0.0 && s <= 86_400.0) {
            return Err(usage(format!("--seconds {s}: must be more than 0 and at most 86400")));
        }
    }
    let mut params = match (&a.sdp_in, a.remote, a.codec) {
        (Some(path), _, _) => {
            let text =
                std::fs::read(path).map_err(|source| CliError::Io { path: path.display().to_string(), source })?;
            let sdp = SessionDescription::parse_bytes(&text).map_err(|e| usage(format!("{}: {e}", path.display())))?;
            let prefs: Vec<LocalCodec> = CodecId::ALL.iter().map(|c| LocalCodec::new(*c)).collect();
            let mut p = MediaSessionParams::from_remote_sdp(a.local, &sdp, &prefs)
                .map_err(|e| usage(format!("{}: {e}", path.display())))?;
            p.ptime_ms = a.ptime.max(p.ptime_ms);
            p
        }
        (None, Some(remote), Some(codec)) => {
            if a.pt.is_some_and(|pt| pt > 127) {
                return Err(usage("--pt: a payload type is 0..=127"));
            }
            let mut p = MediaSessionParams::new(a.local, Some(remote), codec.id()).map_err(session_err)?;
            p.codec = negotiated(codec.id(), a.pt).map_err(session_err)?;
            p.ptime_ms = a.ptime;
            p
        }
        _ => return Err(usage("give --remote and --codec, or --sdp-in")),
    };
    if let Some(d) = &a.dtmf {
        if let Some(c) = d.chars().find(|c| rvoip_media_core::rtp::DtmfEvent::from_digit(*c).is_none()) {
            return Err(usage(format!("--dtmf {d}: {c:?} is not a DTMF digit (0-9, *, #, A-D)")));
        }
    }
    if params.telephone_event.is_none() && a.sdp_in.is_none() {
        // 101 by custom, unless the codec took it.
        params.telephone_event = Some(if params.codec.payload_type == 101 { 100 } else { 101 });
    }
    if a.symmetric {
        params.remote = Remote::Latch { initial: params.remote.initial() };
    }
    if let Some(id) = a.audio_level {
        if !(1..=14).contains(&id) {
            return Err(usage(format!("--audio-level {id}: a one-byte header extension id is 1..=14")));
        }
        params.audio_level = Some(NegotiatedExtension { id, direction: Direction::SendRecv });
    }
    params.processing = Some(ProcessingDefaults { aec: a.aec, ns: a.ns, agc: a.agc, vad: a.vad });
    let play = a.play.as_deref().map(wavio::read).transpose()?;
    if let Some(p) = &play {
        params.host_rate = Some(p.format.rate);
        if p.format.rate % 100 != 0 {
            return Err(usage(format!("--play: {} Hz is not a multiple of 100 Hz", p.format.rate)));
        }
    }
    let seconds =
        a.seconds.unwrap_or_else(|| play.as_ref().map_or(10.0, |p| p.samples.len() as f64 / f64::from(p.format.rate)));
    let mut outputs = Outputs::new();
    let rec_file = a.record.as_deref().map(|p| outputs.create(p)).transpose()?;
    let sdp_file = a.sdp_out.as_deref().map(|p| outputs.create(p)).transpose()?;
    let stats_file = a.stats_json.as_deref().map(|p| outputs.create(p)).transpose()?;

    let config = MediaEngineConfig::builder().workers(1).realtime(None).pin_workers(false).build();
    let engine = MediaEngine::start(config).map_err(session_err)?;
    let mut session = engine.create_media_session(DialogId::from("call"), params.clone()).map_err(session_err)?;
    let rate = session.host_rate();
    let mut rec = match (rec_file, &a.record) {
        (Some(f), Some(path)) => Some(WavOut::new(f, path, rate, WavSampleFormat::Int16)?),
        _ => None,
    };
    if let (Some(mut f), Some(path)) = (sdp_file, &a.sdp_out) {
        let sdp = stream_sdp(&params, session.local_addr())?;
        f.write_all(sdp.to_string().as_bytes())
            .map_err(|source| CliError::Io { path: path.display().to_string(), source })?;
    }
    let mut mic = session.take_audio_in().ok_or(CliError::Internal("audio input taken"))?;
    let mut ear = session.take_audio_out().ok_or(CliError::Internal("audio output taken"))?;
    session.start().map_err(session_err)?.wait(Duration::from_secs(5)).map_err(session_err)?;
    eprintln!(
        "call: {} pt {} from {} to {}, {} ms packets, {:.1} s",
        params.codec.codec,
        params.codec.payload_type,
        session.local_addr(),
        params.remote.initial().map_or("(first sender)".to_string(), |r| r.to_string()),
        params.ptime_ms,
        seconds
    );
    let q = (rate / 100) as usize;
    let total = (seconds * 100.0).round() as u64;
    let samples = play.map(|p| p.samples).unwrap_or_default();
    let start = Instant::now();
    let (mut pushed, mut recorded) = (0u64, 0u64);
    let mut frame = vec![0f32; q];
    let mut dtmf = a.dtmf.clone();
    let mut digits = String::new();
    while recorded < total {
        if start.elapsed() >= Duration::from_secs(1) {
            if let Some(d) = dtmf.take() {
                session.send_dtmf(&d, 100).map_err(session_err)?;
            }
        }
        while let Some(e) = session.poll_event() {
            if let rvoip_media_core::session::SessionEvent::Dtmf { digit: Some(c), .. } = e {
                eprintln!("call: DTMF {c} received");
                digits.push(c);
            }
        }
        // Keep the next AHEAD quanta queued for the worker, paced by the clock: the worker
        // takes one per cycle whatever is queued, so the lead adds no delay to what is sent,
        // and this thread may be preempted for up to AHEAD × 10 ms without the worker
        // running dry (each dry cycle would send silence and push the rest of the file
        // later: a gap in what the peer hears).
        let due = (start.elapsed().as_millis() as u64 / 10 + AHEAD).min(total);
        while pushed < due {
            let at = pushed as usize * q;
            frame.fill(0.0);
            if at < samples.len() {
                let n = q.min(samples.len() - at);
                frame[..n].copy_from_slice(&samples[at..at + n]);
            }
            if mic.push(&frame).is_err() {
                break; // ring full: try again next round
            }
            pushed += 1;
        }
        while let Some(f) = ear.pop() {
            if recorded < total {
                if let Some(w) = rec.as_mut() {
                    w.write(f.samples())?;
                }
                recorded += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let stats = session.statistics();
    session.stop().map_err(session_err)?.wait(Duration::from_secs(5)).map_err(session_err)?;
    if let Some(w) = rec {
        w.finish()?;
    }
    while let Some(e) = session.poll_event() {
        if let rvoip_media_core::session::SessionEvent::Dtmf { digit: Some(c), .. } = e {
            digits.push(c);
        }
    }
    let json = json_stats(&stats, session.ssrc(), seconds, &digits);
    if let (Some(mut f), Some(path)) = (stats_file, &a.stats_json) {
        f.write_all(json.as_bytes()).map_err(|source| CliError::Io { path: path.display().to_string(), source })?;
    }
    eprintln!(
        "call: sent {} packets, received {} (lost {}, jitter {:.2} ms), RTCP {} sent / {} received",
        stats.rtp.packets_sent,
        stats.rtp.received.received,
        stats.rtp.received.lost,
        stats.rtp.received.jitter_ms,
        stats.rtp.rtcp_sent,
        stats.rtp.rtcp_received
    );
    outputs.commit()
}
