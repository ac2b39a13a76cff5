//! `rvoip-media transcode` with the codec model: G.711 at several ptimes, G.729 A and A+B
//! payload files against the committed bcg729 vectors (nodes/tests/data/g729), errors.

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{bin, read_i16, tmp, write_i16};
use std::path::Path;
use std::process::Output;

fn data(rel: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../nodes/tests/data").join(rel)).unwrap()
}

/// Runs `transcode` on `x` (an 8 kHz file); on failure the decoded audio and payload are
/// empty.
fn transcode(d: &Path, x: &[i16], args: &[&str]) -> (Output, Vec<i16>, Vec<u8>) {
    transcode_at(d, 8000, x, args)
}

/// Runs `transcode` on `x` written at `rate`; on failure the decoded audio and payload are
/// empty.
fn transcode_at(d: &Path, rate: u32, x: &[i16], args: &[&str]) -> (Output, Vec<i16>, Vec<u8>) {
    let input = d.join("in.wav");
    write_i16(&input, rate, x);
    let o = bin()
        .arg("transcode")
        .args(args)
        .arg("--in")
        .arg(&input)
        .arg("--out")
        .arg(d.join("o.wav"))
        .arg("--payload-out")
        .arg(d.join("p.bin"))
        .output()
        .unwrap();
    if !o.status.success() {
        return (o, Vec::new(), Vec::new());
    }
    let (r, y) = read_i16(&d.join("o.wav"));
    assert_eq!(r, rate, "output at the input's rate");
    (o, y, std::fs::read(d.join("p.bin")).unwrap())
}

/// [`transcode_at`] that must succeed.
fn transcode_ok(d: &Path, rate: u32, x: &[i16], args: &[&str]) -> (Output, Vec<i16>, Vec<u8>) {
    let r = transcode_at(d, rate, x, args);
    assert!(r.0.status.success(), "{}", String::from_utf8_lossy(&r.0.stderr));
    r
}

/// The 4 s speech slice of the G.729 vectors.
fn speech() -> Vec<i16> {
    data("g729/speech_8k_slice.raw").chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect()
}

/// A `.g729s` stream (length byte per frame, see the vectors' README).
fn g729s(name: &str) -> Vec<Vec<u8>> {
    let d = data(&format!("g729/{name}"));
    let (mut out, mut i) = (Vec::new(), 0);
    while i < d.len() {
        let n = d[i] as usize;
        out.push(d[i + 1..i + 1 + n].to_vec());
        i += 1 + n;
    }
    out
}

fn fnv1a(frame: &[i16]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for s in frame {
        for b in s.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    h
}

fn digests(name: &str) -> Vec<u64> {
    data(&format!("g729/{name}")).chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect()
}

#[test]
fn g711_is_table_exact_at_every_ptime_and_length() {
    let ramp: Vec<i16> = (i16::MIN..=i16::MAX).step_by(3).collect(); // 21846 samples, not a whole packet
    for (codec, enc, dec) in
        [("pcmu", "g711/pcmu_enc.bin", "g711/pcmu_dec.bin"), ("pcma", "g711/pcma_enc.bin", "g711/pcma_dec.bin")]
    {
        let (enc, dec) = (data(enc), data(dec));
        for ptime in ["10", "20", "30", "60"] {
            let d = tmp(&format!("{codec}{ptime}"));
            let (o, y, p) = transcode(&d, &ramp, &["--codec", codec, "--ptime", ptime]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!((p.len(), y.len()), (ramp.len(), ramp.len()), "{codec} ptime {ptime}");
            for (k, (&x, &code)) in ramp.iter().zip(&p).enumerate() {
                assert_eq!(code, enc[(i32::from(x) + 32768) as usize], "{codec} ptime {ptime}: code {k}");
                let want = i16::from_le_bytes([dec[2 * code as usize], dec[2 * code as usize + 1]]);
                assert_eq!(y[k], want, "{codec} ptime {ptime}: sample {k}");
            }
        }
    }
}

#[test]
fn g729_payload_and_output_are_bcg729_exact() {
    let x = speech();
    let want = g729s("normal_a.g729s");
    let want: Vec<u8> = want.concat();
    let dig = digests("normal_a.dec.fnv");
    for ptime in ["10", "20", "40"] {
        let d = tmp(&format!("g729a{ptime}"));
        let (o, y, p) = transcode(&d, &x, &["--codec", "g729", "--ptime", ptime]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(p.len(), 4000);
        assert!(p == want, "ptime {ptime}: payload differs from bcg729");
        assert_eq!(y.len(), x.len());
        for (k, f) in y.chunks_exact(80).enumerate() {
            assert_eq!(fnv1a(f), dig[k], "ptime {ptime}: decoded frame {k}");
        }
    }
}

#[test]
fn g729b_payload_has_length_prefixes_and_dtx_gaps() {
    // The -42 dB slice: mostly silence, so SID and untransmitted frames dominate.
    let x: Vec<i16> = speech().iter().map(|&s| s >> 7).collect();
    let frames = g729s("quiet_b.g729s");
    let mut want = Vec::new();
    for f in &frames {
        want.extend_from_slice(&(f.len() as u16).to_be_bytes());
        want.extend_from_slice(f);
    }
    let d = tmp("g729b");
    let (o, y, p) = transcode(&d, &x, &["--codec", "g729", "--vad"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(p.len(), want.len());
    assert!(p == want, "payload differs from bcg729 Annex B");
    let dig = digests("quiet_b.dec.fnv");
    for (k, f) in y.chunks_exact(80).enumerate() {
        assert_eq!(fnv1a(f), dig[k], "decoded frame {k}");
    }
    // 20 ms packets: a SID closes its packet early, so every frame is still sent as the
    // encoder produced it and the file is the same.
    let (o, y20, p20) = transcode(&d, &x, &["--codec", "g729", "--vad", "--ptime", "20"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(p20 == want, "ptime 20: payload differs from bcg729 Annex B");
    assert!(y20 == y, "ptime 20: decoded output differs from ptime 10");
}

#[test]
fn g722_payload_and_output_are_spandsp_exact() {
    let d = tmp("g722");
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("../nodes/tests/data/g722/speech_16k_2s.wav");
    let want_dec: Vec<i16> =
        data("g722/speech.dec.s16").chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]])).collect();
    for ptime in ["10", "20", "30"] {
        let o = bin()
            .args(["transcode", "--codec", "g722", "--ptime", ptime, "--in"])
            .arg(&input)
            .arg("--out")
            .arg(d.join("o.wav"))
            .arg("--payload-out")
            .arg(d.join("p.bin"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::read(d.join("p.bin")).unwrap() == data("g722/speech.g722"), "ptime {ptime}: payload");
        let (rate, y) = read_i16(&d.join("o.wav"));
        assert_eq!((rate, y.len()), (16000, 32000));
        assert!(y == want_dec, "ptime {ptime}: decoded output differs from spandsp");
    }
}

#[test]
fn odd_lengths_are_zero_padded_to_whole_frames() {
    let x: Vec<i16> = speech()[..8005].to_vec();
    let d = tmp("g729odd");
    let (o, y, p) = transcode(&d, &x, &["--codec", "g729"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!((y.len(), p.len()), (8005, 1010), "101 frames, the last zero-padded");
    assert_eq!(&p[..1000], &g729s("normal_a.g729s")[..100].concat()[..]);
}

#[test]
fn errors_name_what_is_supported() {
    let d = tmp("errors");
    let x = vec![0i16; 1600];
    let run = |rate: u32, args: &[&str]| {
        write_i16(&d.join("e.wav"), rate, &x);
        let o = bin()
            .arg("transcode")
            .args(args)
            .arg("--in")
            .arg(d.join("e.wav"))
            .arg("--out")
            .arg(d.join("o.wav"))
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?} must fail");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run(16000, &["--codec", "g729"]);
    assert!(
        e.contains("G729") && e.contains("16000 Hz") && e.contains("supported: 8000 Hz") && e.contains("e.wav"),
        "{e}"
    );
    let e = run(8000, &["--codec", "g722"]);
    assert!(e.contains("G722") && e.contains("8000 Hz") && e.contains("supported: 16000 Hz"), "{e}");
    let e = run(8000, &["--codec", "pcmu", "--vad"]);
    assert!(e.contains("--vad") && e.contains("PCMU"), "{e}");
    let e = run(8000, &["--codec", "g729", "--ptime", "25"]);
    assert!(e.contains("25 ms") && e.contains("supported: 10, 20, 30, 40, 50, 60 ms"), "{e}");
    let e = run(8000, &["--codec", "pcma", "--ptime", "5"]);
    assert!(e.contains("5 ms") && e.contains("10 ms quanta"), "{e}");
}

/// `--loss`: a seeded share of packets never reaches the decoder; the payload file still
/// holds every packet, the decoded audio differs from the loss-free run only in the lost
/// packets' windows, and the same seed gives the same output.
#[test]
fn loss_drops_a_seeded_share_of_packets_and_is_concealed() {
    let x: Vec<i16> = speech()[..8000 * 4].to_vec();
    let clean = transcode(&tmp("loss0"), &x, &["--codec", "pcmu", "--ptime", "20"]);
    let lossy = transcode(&tmp("loss10a"), &x, &["--codec", "pcmu", "--ptime", "20", "--loss", "10", "--seed", "7"]);
    let again = transcode(&tmp("loss10b"), &x, &["--codec", "pcmu", "--ptime", "20", "--loss", "10", "--seed", "7"]);
    let other = transcode(&tmp("loss10c"), &x, &["--codec", "pcmu", "--ptime", "20", "--loss", "10", "--seed", "8"]);
    for r in [&clean, &lossy, &again, &other] {
        assert!(r.0.status.success(), "{}", String::from_utf8_lossy(&r.0.stderr));
    }
    assert_eq!(lossy.2, clean.2, "the payload file holds every packet sent");
    assert_eq!(lossy.1, again.1, "same seed, same output");
    assert_ne!(lossy.1, other.1, "another seed, other losses");
    let stderr = String::from_utf8_lossy(&lossy.0.stderr);
    let dropped: usize = stderr
        .lines()
        .find_map(|l| l.strip_prefix("rvoip-media: transcode: ")?.split(' ').next()?.parse().ok())
        .expect("dropped count reported");
    // 200 packets of 20 ms; 10 % loss.
    assert!((8..=35).contains(&dropped), "{dropped} of 200 dropped");
    // Windows (20 ms = 160 samples) that differ from the clean decode: the lost ones, plus
    // at most the window after each loss (concealment cross-fades back).
    let differing = clean.1.chunks(160).zip(lossy.1.chunks(160)).filter(|(a, b)| a != b).count();
    assert!(differing >= dropped && differing <= 2 * dropped + 1, "{differing} windows differ, {dropped} lost");
}

#[test]
fn loss_outside_0_to_100_is_refused() {
    let x: Vec<i16> = speech()[..800].to_vec();
    let (o, _, _) = transcode(&tmp("lossbad"), &x, &["--codec", "pcmu", "--loss", "120"]);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("--loss must be a percentage in 0..=100, got 120"), "{e}");
}

fn speech16k(seconds: usize) -> Vec<i16> {
    let mut r =
        hound::WavReader::open(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/speech_en_16k.wav")).unwrap();
    r.samples::<i16>().skip(32_000).take(16_000 * seconds).map(Result::unwrap).collect()
}

/// SNR of `y` against `x` at the lag (0..400 samples) where they match best: the decoded
/// file keeps the codec's own algorithmic delay.
fn snr_db(x: &[i16], y: &[i16]) -> f64 {
    (0..400).map(|lag| snr_at(x, &y[lag.min(y.len())..])).fold(f64::MIN, f64::max)
}

fn snr_at(x: &[i16], y: &[i16]) -> f64 {
    let (mut s, mut e) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (a, b) = (f64::from(*a), f64::from(*b));
        s += a * a;
        e += (a - b) * (a - b);
    }
    10.0 * (s / e.max(1e-9)).log10()
}

/// Opus: one payload record per 20 ms window, output time-aligned with the input at its
/// rate; under 10 % loss, in-band FEC brings the decode measurably closer to the input
/// than concealment alone.
#[test]
fn opus_records_alignment_and_fec_under_loss() {
    let x = speech16k(4);
    let (_, clean, payload) = transcode_ok(&tmp("opus0"), 16_000, &x, &["--codec", "opus", "--bitrate", "24000"]);
    assert_eq!(clean.len(), x.len());
    // Records: u16 length + bytes, one per 20 ms window.
    let (mut pos, mut records) = (0, 0);
    while pos < payload.len() {
        let len = usize::from(u16::from_be_bytes([payload[pos], payload[pos + 1]]));
        assert!((1..=1500).contains(&len), "record {records}: {len} bytes");
        pos += 2 + len;
        records += 1;
    }
    assert_eq!((pos, records), (payload.len(), 200));
    let clean_snr = snr_db(&x, &clean);
    assert!(clean_snr > 8.0, "round trip: {clean_snr:.1} dB");
    let lossy = |fec: bool| {
        let mut args = vec!["--codec", "opus", "--bitrate", "24000", "--loss", "10", "--seed", "4"];
        if fec {
            args.push("--fec");
        }
        let (o, y, _) = transcode_ok(&tmp(if fec { "opusfec" } else { "opusnofec" }), 16_000, &x, &args);
        assert!(String::from_utf8_lossy(&o.stderr).contains("packets dropped"));
        snr_db(&x, &y)
    };
    let (plain, fec) = (lossy(false), lossy(true));
    assert!(fec > plain + 1.0, "FEC {fec:.2} dB vs concealment {plain:.2} dB (clean {clean_snr:.2} dB)");
}

#[test]
fn opus_only_flags_and_rate_conversion() {
    let x = speech16k(1);
    let d = tmp("opusflags");
    write_i16(&d.join("in.wav"), 16_000, &x);
    let o = bin()
        .args(["transcode", "--codec", "g722", "--dtx", "--in"])
        .arg(d.join("in.wav"))
        .arg("--out")
        .arg(d.join("o.wav"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--dtx applies to opus only"));
    // G.722 from an 8 kHz file: resampled to 16 kHz and back, same length and rate, and the
    // speech survives (a broken rate conversion scores near 0 dB or below).
    let x8: Vec<i16> = speech()[..8000].to_vec();
    let (_, y, p) = transcode_ok(&tmp("g722at16"), 8000, &x8, &["--codec", "g722", "--rate", "16000"]);
    assert_eq!((y.len(), p.len()), (8000, 8000));
    assert!(snr_db(&x8, &y) > 8.0, "{:.1} dB", snr_db(&x8, &y));
}
