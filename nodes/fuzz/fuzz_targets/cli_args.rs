//! Argument combinations through the CLI's library (`rvoip_media_cli::parse` then
//! `execute`), on small real files of every kind users have (PCM 8/16/24-bit, float 32/64,
//! μ-law, A-law, stereo, truncated, empty, not a WAV) and on missing and unwritable paths.
//! Whatever the combination: no panic, a typed error or success, and outputs appear whole
//! or not at all — after a failure the output directory is empty. `demo`, `bench` and
//! `call` are left out: they run for wall-clock seconds, not for inputs.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const COMMANDS: &[&str] = &["process", "mix", "resample", "transcode", "jitter"];
const FLAGS: &[&str] = &[
    "--mic", "--far", "--out", "--gain", "--aec", "--ns", "--ns-level", "--ns-engine", "--agc",
    "--agc-target-lufs", "--vad-csv", "--limit", "--in", "--out-dir", "--join", "--leave", "--rate",
    "--codec", "--vad", "--ptime", "--bitrate", "--complexity", "--fec", "--dtx", "--payload-out", "--loss",
    "--seed", "--pcap", "--stats", "--ssrc",
];
const VALUES: &[&str] = &[
    "0", "1", "-1", "-5", "3", "10", "20", "2.5", "7", "0.5", "-0", "1e9", "nan", "inf", "-inf", "4294968",
    "8000", "11025", "16000", "22050", "44100", "48000", "96000", "24000", "-26", "-50", "100", "101",
    "pcmu", "pcma", "g722", "g729", "opus", "classic", "rnnoise", "0@0.1", "1@0.05", "2@1", "0@-1", "x@y", "",
];
const FILES: &[&str] = &[
    "pcm16_16k.wav", "pcm16_8k.wav", "pcm24_48k.wav", "pcm8_8k.wav", "float32_16k.wav", "float64_8k.wav",
    "ulaw_8k.wav", "alaw_8k.wav", "stereo_16k.wav", "truncated.wav", "empty.wav", "not_a_wav.wav",
    "rate_1hz.wav", "missing.wav",
];

#[derive(Arbitrary, Debug)]
enum Token {
    Flag(u8),
    Value(u8),
    File(u8),
    Output(u8),
    Unwritable,
}

#[derive(Arbitrary, Debug)]
struct Input {
    command: u8,
    tokens: Vec<Token>,
}

fn wav(path: &Path, format: u16, channels: u16, rate: u32, bits: u16, data: &[u8], cut: Option<usize>) {
    let block = channels * bits / 8;
    let mut fmt = Vec::new();
    for v in [format, channels] {
        fmt.extend_from_slice(&v.to_le_bytes());
    }
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    let mut body = b"WAVEfmt ".to_vec();
    body.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    body.extend_from_slice(&fmt);
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32).to_le_bytes());
    file.extend_from_slice(&body);
    file.truncate(cut.unwrap_or(file.len()));
    std::fs::write(path, file).unwrap();
}

/// The input files, made once per process.
fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("rvoip-fuzz-cli-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let tone = |n: usize, rate: f32| -> Vec<f32> {
            (0..n).map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / rate).sin() * 0.3).collect()
        };
        let i16s = |x: &[f32]| x.iter().flat_map(|v| ((v * 32767.0) as i16).to_le_bytes()).collect::<Vec<u8>>();
        wav(&d.join("pcm16_16k.wav"), 1, 1, 16_000, 16, &i16s(&tone(3200, 16_000.0)), None);
        wav(&d.join("pcm16_8k.wav"), 1, 1, 8000, 16, &i16s(&tone(1600, 8000.0)), None);
        let p24: Vec<u8> = tone(4800, 48_000.0).iter().flat_map(|v| ((v * 8_388_607.0) as i32).to_le_bytes()[..3].to_vec()).collect();
        wav(&d.join("pcm24_48k.wav"), 1, 1, 48_000, 24, &p24, None);
        let p8: Vec<u8> = tone(1600, 8000.0).iter().map(|v| (v * 127.0 + 128.0) as u8).collect();
        wav(&d.join("pcm8_8k.wav"), 1, 1, 8000, 8, &p8, None);
        let f32s: Vec<u8> = tone(3200, 16_000.0).iter().flat_map(|v| v.to_le_bytes()).collect();
        wav(&d.join("float32_16k.wav"), 3, 1, 16_000, 32, &f32s, None);
        let f64s: Vec<u8> = tone(1600, 8000.0).iter().flat_map(|v| f64::from(*v).to_le_bytes()).collect();
        wav(&d.join("float64_8k.wav"), 3, 1, 8000, 64, &f64s, None);
        let codes: Vec<u8> = (0..1600).map(|i| (i * 7 % 256) as u8).collect();
        wav(&d.join("ulaw_8k.wav"), 7, 1, 8000, 8, &codes, None);
        wav(&d.join("alaw_8k.wav"), 6, 1, 8000, 8, &codes, None);
        let st: Vec<f32> = tone(3200, 16_000.0).iter().flat_map(|v| [*v, -v]).collect();
        wav(&d.join("stereo_16k.wav"), 1, 2, 16_000, 16, &i16s(&st), None);
        wav(&d.join("truncated.wav"), 1, 1, 16_000, 16, &i16s(&tone(3200, 16_000.0)), Some(1001));
        wav(&d.join("empty.wav"), 1, 1, 16_000, 16, &[], None);
        std::fs::write(d.join("not_a_wav.wav"), b"hello, not RIFF at all").unwrap();
        wav(&d.join("rate_1hz.wav"), 1, 1, 1, 16, &[0, 0, 1, 0], None);
        std::fs::create_dir_all(d.join("out")).unwrap();
        std::env::set_current_dir(d.join("out")).unwrap();
        d
    })
}

fn listing(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .map(|r| r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fuzz_target!(|input: Input| {
    let fx = fixtures();
    // Relative paths (a value like "100" given as an output) land in the output directory,
    // which is also the working directory: emptied before every run, checked after.
    let out = fx.join("out");
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        let _ = std::fs::remove_file(&p).or_else(|_| std::fs::remove_dir_all(&p));
    }
    let mut args = vec!["rvoip-media".to_string(), COMMANDS[usize::from(input.command) % COMMANDS.len()].to_string()];
    for t in input.tokens.iter().take(24) {
        args.push(match t {
            Token::Flag(i) => FLAGS[usize::from(*i) % FLAGS.len()].to_string(),
            Token::Value(i) => VALUES[usize::from(*i) % VALUES.len()].to_string(),
            Token::File(i) => fx.join(FILES[usize::from(*i) % FILES.len()]).display().to_string(),
            Token::Output(i) => out.join(format!("o{}.{}", i % 4, ["wav", "csv", "bin", "json"][usize::from(*i / 4 % 4)])).display().to_string(),
            Token::Unwritable => "/proc/no/such/dir/o.wav".to_string(),
        });
    }
    let Ok(cli) = rvoip_media_cli::parse(&args) else { return };
    match rvoip_media_cli::execute(cli) {
        // Every error message is one line of text in the user's terms, not a panic.
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(listing(&out).is_empty(), "{args:?} failed ({e}) but left {:?}", listing(&out));
        }
        Ok(()) => {}
    }
});
