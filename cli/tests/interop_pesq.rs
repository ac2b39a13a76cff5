//! Speech quality per direction over RTP on loopback, with real peers: PESQ (ITU-T P.862, the
//! `pesq` Python package) of what each side received against what the other side sent, next
//! to the codec's own figure on the same speech (an offline encode and decode by the same
//! encoder). Issue 11 asks that the network path cost at most 0.1 of it.
//!
//! Every direction is held to the issue's 0.1. Three runs on a shared machine (load 1-5;
//! BENCHMARKS.md, sessions, session 16): every direction of PCMU, G.722 and Opus within
//! 0.02 of the codec's own. G.722 received by `call` cost 0.08-0.11 until then: the jitter
//! buffer's clock started at the arrival of the packet the transport holds on RFC 3550
//! probation, a packet before the cycle, so every later packet counted as arriving at its
//! cycle and a loopback stream looked 10 ms jittery; the start's excess was kept for 5 s
//! and given back by one 52 ms timeline move in the tail of a word, which the wideband
//! scorer hears. Earlier, on busy machines, directions our buffer receives cost up to 0.165
//! (Opus from ffmpeg, load 13, a few missed deadlines) and once 0.28 (PCMU `call` → `call`,
//! three codecs side by side at load 6-9).
//!
//! What a loaded machine does to these figures, and what the test does about it:
//! - A receiving `call` whose worker cannot run in real time plays late and conceals; every
//!   figure says how many cycle deadlines the receiver missed (`--stats-json`), so such a
//!   failure names its cause, and a direction that fell below its bound with missed
//!   deadlines is measured once more (the second run decides). The codecs run one after
//!   another, not side by side, and the dev profile optimises (`Cargo.toml`): an
//!   unoptimised G.722 or Opus receiver missed most of its deadlines at load 15.
//! - Peers start slowly under load: each sender starts only once its receiver's socket is
//!   bound (`wait_bound`), and receivers record 14 s for the 8 s sent.
//! - ffmpeg reads the speech through a filter-graph source: from the WAV demuxer, `-re`
//!   paces 4096-byte packets and the RTP muxer sends each as 13 packets at once every
//!   256 ms, a peer unlike any phone (the one failure seen in CI, PCMU −0.236, was such a
//!   run).
//!
//! (G.722 from ffmpeg cost 0.18-0.30 until the transport stopped dropping the packet
//! RFC 3550 A.1 holds on probation: the ADPCM decoder then started from the wrong state; see
//! `rtp::hold`.) Every figure is printed, and written to `interop_pesq.txt` in Cargo's
//! target temporary directory for CI's summary.
//!
//! Directions, for PCMU (narrowband PESQ at 8 kHz), G.722 and Opus (wideband at 16 kHz):
//! ffmpeg → `call` (its encoder, our jitter buffer and decoder), `call` → ffmpeg (our
//! encoder and packetiser, its depacketiser and decoder), `call` → `call`.
//!
//! Skipped, with a message, without ffmpeg or without a Python that imports `pesq` and
//! `numpy` (`RVOIP_PESQ_PYTHON`, else `python3`; `.ci/run` makes one).

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{bin, call_between, ffmpeg_command, free_pair, json_number, tmp, wait_bound, wait_or_kill};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The bundled speech (16 kHz), of which the first 8 s are sent.
const SPEECH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/speech_en_16k.wav");
const SECONDS: &str = "8";

/// How long a receiving `call` records: the 8 s sent, plus room for a sender that a loaded
/// machine is slow to start (what arrives after the speech is silence, which the scorer
/// cuts off).
const RECORD_SECONDS: &str = "14";

/// Aligns the degraded file to the reference (cross-correlation over the first 4 s of speech),
/// cuts it to the reference's length and prints PESQ: `python -c PESQ_PY MODE REF DEG`.
const PESQ_PY: &str = r#"
import sys, wave, numpy as np
from pesq import pesq
def read(p):
    w = wave.open(p)
    assert w.getsampwidth() == 2, p
    x = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float64)
    return x.reshape(-1, w.getnchannels())[:, 0], w.getframerate()
mode, ref_p, deg_p = sys.argv[1:4]
ref, fs = read(ref_p)
deg, fs_d = read(deg_p)
assert fs == fs_d, (fs, fs_d)
n = 1 << int(np.ceil(np.log2(len(ref) + len(deg))))
c = np.fft.irfft(np.fft.rfft(deg, n) * np.conj(np.fft.rfft(ref[: 4 * fs], n)), n)
lag = int(np.argmax(c[: len(deg)]))
deg = deg[lag : lag + len(ref)]
deg = np.concatenate([deg, np.zeros(len(ref) - len(deg))])
print(pesq(fs, ref, deg, mode))
"#;

/// A Python that imports `pesq` and `numpy`, or `None` (said on stderr).
fn pesq_python() -> Option<String> {
    let py = std::env::var("RVOIP_PESQ_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import pesq, numpy"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!(
            "SKIPPED: no Python with `pesq` and `numpy` ({py}; set RVOIP_PESQ_PYTHON); PESQ per direction not measured"
        );
    }
    ok.then_some(py)
}

fn ffmpeg(args: &[&str]) {
    ffmpeg_in(Path::new("."), args);
}

/// ffmpeg with `args`, run in `dir`.
fn ffmpeg_in(dir: &Path, args: &[&str]) {
    let st = ffmpeg_command()
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg {args:?}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// PESQ of `deg` against `reference` (both 16-bit at one rate; "nb" at 8 kHz, "wb" at 16 kHz).
fn pesq(py: &str, mode: &str, reference: &Path, deg: &Path) -> f64 {
    let o = Command::new(py).args(["-c", PESQ_PY, mode, s(reference), s(deg)]).output().unwrap();
    assert!(o.status.success(), "pesq: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
}

/// `x` converted to 16-bit mono at `rate` by ffmpeg's resampler (soxr quality), for scoring.
fn at_rate(d: &Path, x: &Path, rate: u32, name: &str) -> PathBuf {
    let out = d.join(name);
    ffmpeg(&["-i", s(x), "-ac", "1", "-ar", &rate.to_string(), "-c:a", "pcm_s16le", s(&out)]);
    out
}

struct Case {
    codec: &'static str,
    pt: u8,
    /// The codec's audio rate (what `call` records at without --play).
    rate: u32,
    /// ffmpeg's encoder options for the codec.
    ffmpeg_enc: &'static [&'static str],
    /// ffmpeg's container for an offline encode (a raw stream it can decode again).
    offline: &'static str,
    /// PESQ mode and scoring rate.
    mode: &'static str,
    score_rate: u32,
}

const CASES: [Case; 3] = [
    Case {
        codec: "pcmu",
        pt: 0,
        rate: 8000,
        ffmpeg_enc: &["-c:a", "pcm_mulaw"],
        offline: "mulaw.wav",
        mode: "nb",
        score_rate: 8000,
    },
    Case {
        codec: "g722",
        pt: 9,
        rate: 16000,
        ffmpeg_enc: &["-c:a", "g722"],
        offline: "g722.g722",
        mode: "wb",
        score_rate: 16000,
    },
    Case {
        codec: "opus",
        pt: 111,
        rate: 48000,
        ffmpeg_enc: &["-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-application", "voip"],
        offline: "opus.ogg",
        mode: "wb",
        score_rate: 16000,
    },
];

/// The most PESQ the network path may cost, every direction (issue 11).
const BOUND: f64 = 0.1;

/// One direction's figures.
struct Figures {
    own: f64,
    network: f64,
    /// What the receiving `call` reported (`None` where ffmpeg receives).
    receiver: Option<Receiver>,
}

/// A receiving `call`'s own account (`--stats-json`).
#[derive(Clone, Copy)]
struct Receiver {
    /// Worker cycles that ended after their deadline, and all cycles: a starved worker
    /// plays late, so a loss of quality with misses says the machine could not run the
    /// call in real time.
    missed: u64,
    cycles: u64,
    /// Samples the jitter buffer removed and inserted (timeline moves, which the scorer
    /// hears near speech), and its mean delay, ms.
    removed: u64,
    inserted: u64,
    delay_ms: f64,
}

impl Receiver {
    /// Reads a `call --stats-json` file.
    fn read(stats: &Path) -> Receiver {
        let json = std::fs::read_to_string(stats).unwrap();
        let n = |key| json_number(&json, key);
        Receiver {
            missed: n("deadlineMisses") as u64,
            cycles: n("cycles") as u64,
            removed: n("removedSamplesForAcceleration") as u64,
            inserted: n("insertedSamplesForDeceleration") as u64,
            delay_ms: 1000.0 * n("jitterBufferDelay") / n("jitterBufferEmittedCount").max(1.0),
        }
    }

    fn starved(&self) -> bool {
        self.missed > 0
    }
}

impl std::fmt::Display for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "receiver missed {} of {} cycle deadlines, removed {} and inserted {} samples, {:.1} ms in its buffer",
            self.missed, self.cycles, self.removed, self.inserted, self.delay_ms
        )
    }
}

/// Where every measured direction's line is also written, so a passing run (whose output
/// the test harness swallows) leaves its figures for CI's summary.
fn report_path() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop_pesq.txt")
}

fn check(what: &str, f: &Figures) {
    let misses = f.receiver.map_or(String::new(), |r| format!("; {r}"));
    let line = format!(
        "{what}: PESQ {:.3} over RTP, {:.3} for the codec alone ({:+.3}, bound -{BOUND}){misses}",
        f.network,
        f.own,
        f.network - f.own
    );
    eprintln!("{line}");
    let mut report = std::fs::OpenOptions::new().create(true).append(true).open(report_path()).unwrap();
    writeln!(report, "{line}").unwrap();
    assert!(
        f.network >= f.own - BOUND,
        "{what}: PESQ {:.3} over RTP vs {:.3} for the codec alone (bound {BOUND}){misses}",
        f.network,
        f.own
    );
}

/// ffmpeg encodes and sends the speech; `call` receives, buffers, decodes and records.
fn ffmpeg_to_call(py: &str, case: &Case, d: &Path, speech: &Path, reference: &Path) -> Figures {
    // The codec alone: ffmpeg's encoder, ffmpeg's decoder, offline.
    let enc = d.join(case.offline);
    let mut args = vec!["-i", s(speech), "-ac", "1", "-ar"];
    let rate = case.rate.to_string();
    args.push(&rate);
    args.extend_from_slice(case.ffmpeg_enc);
    args.push(s(&enc));
    ffmpeg(&args);
    let own = pesq(py, case.mode, reference, &at_rate(d, &enc, case.score_rate, "own_ff.wav"));

    let port = free_pair();
    let rec = d.join("ff_to_call.wav");
    let stats = d.join("ff_to_call.json");
    let call = bin()
        .args(["call", "--local", &format!("127.0.0.1:{port}"), "--remote", &format!("127.0.0.1:{}", free_pair())])
        .args(["--codec", case.codec, "--pt", &case.pt.to_string(), "--seconds", RECORD_SECONDS, "--record", s(&rec)])
        .args(["--stats-json", s(&stats)])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_bound(port, 10), "{}: call never bound {port}", case.codec);
    // The speech as 20 ms frames from a filter-graph source, which `-re` paces one frame
    // (one RTP packet) at a time, as a phone sends. Read from the WAV demuxer instead, `-re`
    // would pace its 4096-byte packets and the RTP muxer would send each as a burst of
    // 13 packets every 256 ms: a peer no phone is like, whose bursts a loaded machine
    // makes late now and then (`speech.wav` is in `d`, the command's directory, so the
    // filter argument needs no escaping).
    assert_eq!(speech, d.join("speech.wav"));
    let source = format!("amovie=speech.wav,asetnsamples=n={}:p=0", case.rate / 50);
    let mut args = vec!["-re", "-f", "lavfi", "-i", &source, "-ac", "1", "-ar", &rate];
    args.extend_from_slice(case.ffmpeg_enc);
    let pt = case.pt.to_string();
    let url = format!("rtp://127.0.0.1:{port}");
    args.extend_from_slice(&["-payload_type", &pt, "-f", "rtp", &url]);
    ffmpeg_in(d, &args);
    assert!(call.wait_with_output().unwrap().status.success(), "{}: call failed", case.codec);
    let network = pesq(py, case.mode, reference, &at_rate(d, &rec, case.score_rate, "ff_to_call_s.wav"));
    Figures { own, network, receiver: Some(Receiver::read(&stats)) }
}

/// `call` encodes and sends the speech; ffmpeg opens the SDP it wrote, decodes and records.
fn call_to_ffmpeg(py: &str, case: &Case, d: &Path, speech: &Path, reference: &Path) -> Figures {
    // The codec alone: our encoder and decoder, offline, with `call`'s settings (the
    // codec's defaults).
    let own_wav = d.join("own_ours.wav");
    let st = bin()
        .args(["transcode", "--codec", case.codec, "--in", s(speech), "--out", s(&own_wav)])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "{}: transcode failed", case.codec);
    let own = pesq(py, case.mode, reference, &at_rate(d, &own_wav, case.score_rate, "own_ours_s.wav"));

    let (ours, theirs) = (free_pair(), free_pair());
    let sdp = d.join("call.sdp");
    let call = || call_between(ours, theirs, case.codec, case.pt);
    assert!(call().args(["--seconds", "0.05", "--sdp-out", s(&sdp)]).stderr(Stdio::null()).status().unwrap().success());
    let got = d.join("call_to_ff.wav");
    let ff = ffmpeg_command()
        .args(["-hide_banner", "-loglevel", "error", "-protocol_whitelist", "file,udp,rtp", "-i", s(&sdp)])
        .args(["-t", "9", "-ac", "1", "-c:a", "pcm_s16le", "-y", s(&got)])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_bound(theirs, 10), "{}: ffmpeg never bound {theirs}", case.codec);
    assert!(call().args(["--seconds", "9.5", "--play", s(speech)]).stderr(Stdio::null()).status().unwrap().success());
    assert!(wait_or_kill(ff, 5), "{}: ffmpeg did not finish", case.codec);
    let network = pesq(py, case.mode, reference, &at_rate(d, &got, case.score_rate, "call_to_ff_s.wav"));
    Figures { own, network, receiver: None }
}

/// One `call` plays the speech, another records it.
fn call_to_call(py: &str, case: &Case, d: &Path, speech: &Path, reference: &Path, own: f64) -> Figures {
    let (a, b) = (free_pair(), free_pair());
    let rec = d.join("call_to_call.wav");
    let stats = d.join("call_to_call.json");
    let listener = bin()
        .args(["call", "--local", &format!("127.0.0.1:{b}"), "--remote", &format!("127.0.0.1:{a}")])
        .args(["--codec", case.codec, "--seconds", RECORD_SECONDS, "--record", s(&rec), "--stats-json", s(&stats)])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_bound(b, 10), "{}: call never bound {b}", case.codec);
    let st = bin()
        .args(["call", "--local", &format!("127.0.0.1:{a}"), "--remote", &format!("127.0.0.1:{b}")])
        .args(["--codec", case.codec, "--seconds", "9", "--play", s(speech)])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(listener.wait_with_output().unwrap().status.success());
    let network = pesq(py, case.mode, reference, &at_rate(d, &rec, case.score_rate, "call_to_call_s.wav"));
    Figures { own, network, receiver: Some(Receiver::read(&stats)) }
}

#[test]
fn pesq_per_direction_is_the_codecs_own() {
    let ffmpeg_present =
        Command::new("ffmpeg").arg("-version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ffmpeg_present {
        eprintln!("SKIPPED: ffmpeg is not installed; PESQ per direction not measured");
        return;
    }
    let Some(py) = pesq_python() else { return };
    let _ = std::fs::remove_file(report_path());
    // One codec at a time: three receivers, three senders and the scorer side by side would
    // starve each other's real-time threads on a two-core machine.
    for case in &CASES {
        let d = tmp(&format!("pesq-{}", case.codec));
        // 8 s of speech at the codec's rate (what is sent) and at the scoring rate.
        let speech = d.join("speech.wav");
        let rate = case.rate.to_string();
        ffmpeg(&["-i", SPEECH, "-t", SECONDS, "-ac", "1", "-ar", &rate, "-c:a", "pcm_s16le", s(&speech)]);
        let reference = at_rate(&d, &speech, case.score_rate, "reference.wav");
        let what = |direction: &str| format!("{}: {direction}", case.codec);
        measure(&what("ffmpeg -> call"), || ffmpeg_to_call(&py, case, &d, &speech, &reference));
        let g = call_to_ffmpeg(&py, case, &d, &speech, &reference);
        check(&what("call -> ffmpeg"), &g);
        measure(&what("call -> call"), || call_to_call(&py, case, &d, &speech, &reference, g.own));
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// Runs one direction and checks it against [`BOUND`]; a run that fell below it while its
/// receiver missed cycle deadlines (the machine did not give it real time) is printed and
/// measured once more, and the second run decides.
fn measure(what: &str, run: impl Fn() -> Figures) {
    let f = run();
    let starved = f.receiver.is_some_and(|r| r.starved());
    if f.network < f.own - BOUND && starved {
        eprintln!(
            "{what}: PESQ {:.3} against {:.3} with {} missed deadlines: measuring once more",
            f.network,
            f.own,
            f.receiver.map_or(0, |r| r.missed)
        );
        check(what, &run());
    } else {
        check(what, &f);
    }
}
