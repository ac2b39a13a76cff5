//! Helpers for tests that run the `rvoip-media` binary: the command, a scratch directory,
//! and 16-bit mono WAV files in and out.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `rvoip-media` binary built for this test run.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rvoip-media"))
}

/// A fresh, empty scratch directory unique to this test process and `name`.
pub fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rvoip-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `x` as a 16-bit mono WAV at `rate`.
pub fn write_i16(path: &Path, rate: u32, x: &[i16]) {
    let spec =
        hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in x {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

/// Reads a 16-bit mono WAV: (rate, samples).
pub fn read_i16(path: &Path) -> (u32, Vec<i16>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let rate = r.spec().sample_rate;
    (rate, r.samples::<i16>().map(Result::unwrap).collect())
}

/// An even port whose pair (port, port + 1) is free now (RTP and RTCP).
pub fn free_pair() -> u16 {
    for _ in 0..100 {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p % 2 == 0 && p < 65000 && std::net::UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair");
}

/// The text of `key`'s value in a flat JSON object (numbers and literals).
pub fn json_field<'a>(json: &'a str, key: &str) -> &'a str {
    let at = json.find(&format!("\"{key}\": ")).unwrap_or_else(|| panic!("{key} in {json}"));
    let rest = &json[at + key.len() + 4..];
    rest[..rest.find([',', '}']).unwrap()].trim()
}

/// `key`'s numeric value in a flat JSON object.
pub fn json_number(json: &str, key: &str) -> f64 {
    let v = json_field(json, key);
    v.parse().unwrap_or_else(|_| panic!("{key}: {v}"))
}

/// Whether `tool --version` runs (a peer installed for the interop tests).
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `ffmpeg` that never reads keys from stdin (`q` would end it early): whatever this
/// process's stdin holds is not its input.
pub fn ffmpeg_command() -> Command {
    let mut c = Command::new("ffmpeg");
    c.arg("-nostdin").stdin(std::process::Stdio::null());
    c
}

/// The first channel of a WAV as samples in [-1, 1], and its rate.
pub fn read_wav(p: &Path) -> (Vec<f32>, u32) {
    let mut r = hound::WavReader::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let spec = r.spec();
    let ch = spec.channels as usize;
    let s: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => r.samples::<i32>().map(|s| s.unwrap() as f32 / 32768.0).collect(),
        hound::SampleFormat::Float => r.samples::<f32>().map(|s| s.unwrap()).collect(),
    };
    (s.chunks(ch).map(|c| c[0]).collect(), spec.sample_rate)
}

/// Kills a child process and reaps it.
pub fn kill(mut c: std::process::Child) {
    let _ = c.kill();
    let _ = c.wait();
}

/// Waits up to `secs` for a child to exit; kills it otherwise. Whether it exited by itself.
pub fn wait_or_kill(mut c: std::process::Child, secs: u64) -> bool {
    for _ in 0..secs * 10 {
        if c.try_wait().unwrap().is_some() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    kill(c);
    false
}

/// `rvoip-media call` from 127.0.0.1:`ours` to 127.0.0.1:`theirs` with `codec` on payload
/// type `pt`; the caller adds the rest.
pub fn call_between(ours: u16, theirs: u16, codec: &str, pt: u8) -> Command {
    let mut c = bin();
    c.args(["call", "--local", &format!("127.0.0.1:{ours}"), "--remote", &format!("127.0.0.1:{theirs}")]);
    c.args(["--codec", codec, "--pt", &pt.to_string()]);
    c
}

/// Waits until some process has a UDP socket bound to `port` (a peer just spawned has
/// opened its receiving socket), for at most `secs` seconds; `false` if it never did.
/// Reads Linux's `/proc/net/udp` and `udp6`, so nothing is bound here to probe (a probe
/// socket could take the port from under the peer). Elsewhere it sleeps one second.
pub fn wait_bound(port: u16, secs: u64) -> bool {
    let tables = ["/proc/net/udp", "/proc/net/udp6"];
    if !Path::new(tables[0]).exists() {
        std::thread::sleep(std::time::Duration::from_secs(1));
        return true;
    }
    let suffix = format!(":{port:04X}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        let bound = tables.iter().filter_map(|t| std::fs::read_to_string(t).ok()).any(|text| {
            // Each row: `sl local_address rem_address st ...`, addresses as HEXIP:HEXPORT.
            text.lines().skip(1).any(|row| row.split_whitespace().nth(1).is_some_and(|a| a.ends_with(&suffix)))
        });
        if bound {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}
