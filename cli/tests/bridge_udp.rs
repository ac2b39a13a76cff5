//! `rvoip-media bridge` over loopback UDP: three legs send distinct G.711 tones, each hears
//! the other two and not itself (measured per frequency); a fourth leg floods and sends a
//! malformed and a wrong-payload-type packet, a stranger sends to a latched leg's port; all
//! of it is counted, none of it reaches anyone else's ears, and the totals add up to what
//! the legs really received. The counting tests run once per I/O backend (`--io epoll` and
//! `--io io-uring`, the latter skipped, saying so, where io_uring is unavailable); the rest
//! run on `auto`.

#[path = "support/cli.rs"]
mod cli_support;

use cli_support::{bin, json_number, tmp};
use rvoip_media_core::graph::PacketMeta;
use rvoip_media_core::rtp::{audio_level_of, parse_rtp, write_rtp, write_rtp_with_audio_level, AudioLevel};
use rvoip_media_core::transport::batch::{io_uring_support, packet_ring_support};
use rvoip_media_nodes::G711Law;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LAW: G711Law = G711Law::Ulaw;
/// The tones of legs 0, 1, 2, and the stranger's.
const TONES: [f64; 4] = [350.0, 900.0, 1700.0, 2600.0];

/// Four consecutive free UDP ports.
fn free_ports(n: u16) -> u16 {
    for _ in 0..200 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < 60000 && (1..n).all(|i| UdpSocket::bind(("127.0.0.1", p + i)).is_ok()) {
            return p;
        }
    }
    panic!("no {n} free consecutive ports");
}

/// One 20 ms PCMU packet of a 0.2 tone at `freq` (none: silence), frame `k`.
fn packet(freq: Option<f64>, k: usize, ssrc: u32, pt: u8) -> Vec<u8> {
    packet_of(freq, 0.2, k, ssrc, pt)
}

/// As [`packet`], the tone at amplitude `amp`.
fn packet_of(freq: Option<f64>, amp: f64, k: usize, ssrc: u32, pt: u8) -> Vec<u8> {
    let pcm: Vec<f32> = (0..160)
        .map(|i| {
            freq.map_or(0.0, |f| (amp * (2.0 * std::f64::consts::PI * f * (k * 160 + i) as f64 / 8000.0).sin()) as f32)
        })
        .collect();
    pcmu_packet(&pcm, k, ssrc, pt)
}

/// Frame `k` of a stream: 160 samples of `pcm` as a PCMU packet of payload type `pt`.
fn pcmu_packet(pcm: &[f32], k: usize, ssrc: u32, pt: u8) -> Vec<u8> {
    let mut payload = [0u8; 160];
    LAW.encode_f32(pcm, &mut payload);
    let meta =
        PacketMeta { payload_type: pt, sequence: k as u16, timestamp: (k * 160) as u32, ssrc, ..PacketMeta::default() };
    let mut out = vec![0u8; 172];
    let n = write_rtp(&meta, &payload, &mut out).unwrap();
    out.truncate(n);
    out
}

/// As [`packet`], with an RFC 6464 level element (id `id`) saying `level`.
fn packet_with_level(freq: Option<f64>, k: usize, ssrc: u32, id: u8, level: AudioLevel) -> Vec<u8> {
    let plain = packet(freq, k, ssrc, 0);
    let (meta, payload) = parse_rtp(&plain, 0).unwrap();
    let mut out = vec![0u8; 200];
    let n = write_rtp_with_audio_level(&meta, level, id, payload, &mut out).unwrap();
    out.truncate(n);
    out
}

/// Power of `x` at `freq` (Goertzel), per sample.
fn power(x: &[f32], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2) / (x.len() as f64).powi(2)
}

fn db(p: f64) -> f64 {
    10.0 * p.max(1e-20).log10()
}

/// Starts `bridge` with `legs` PCMU legs from `port0` and the `extra` flags, waits for its
/// `ready legs=N` line; the thread returned collects the rest of its output.
fn start_bridge(legs: usize, port0: u16, extra: &[&str]) -> (Child, JoinHandle<Vec<String>>) {
    let mut child = bin()
        .args(["bridge", "--legs", &legs.to_string(), "--codec", "pcmu", "--listen", &format!("127.0.0.1:{port0}")])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.contains(&format!("ready legs={legs}")), "{ready}");
    // The backend and room asked for are the ones named (`io-uring` runs as `io_uring`).
    if let Some(k) = extra.iter().position(|a| *a == "--io").filter(|&k| extra[k + 1] != "auto") {
        assert!(ready.contains(&format!(" io={}", extra[k + 1].replace('-', "_"))), "{ready}");
    }
    if let Some(k) = extra.iter().position(|a| *a == "--room") {
        assert!(ready.contains(&format!(" room={}", extra[k + 1])), "{ready}");
    }
    (child, std::thread::spawn(move || lines.map_while(Result::ok).collect()))
}

/// Tests that run a bridge in real time take turns: four bridges, their legs' senders and
/// the test harness side by side on a two-core machine starve each other's workers (one
/// missed deadline failed CI's run of the kernel-room test), and the deadline count is
/// part of what they check.
fn one_bridge_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `n` non-blocking sockets on loopback, the legs' phones.
fn phones(n: usize) -> Vec<UdpSocket> {
    (0..n)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect()
}

/// Whether `--io io-uring` can run here; says so when it cannot.
fn io_uring_here() -> bool {
    io_uring_support().map_err(|e| eprintln!("skipped: io_uring unavailable here ({e})")).is_ok()
}

#[test]
fn legs_hear_each_other_not_themselves_and_every_packet_is_counted_epoll() {
    legs_hear_each_other_not_themselves_and_every_packet_is_counted("epoll", "nodes", 1);
}

#[test]
fn legs_hear_each_other_not_themselves_and_every_packet_is_counted_io_uring() {
    if io_uring_here() {
        legs_hear_each_other_not_themselves_and_every_packet_is_counted("io-uring", "nodes", 1);
    }
}

#[test]
fn legs_hear_each_other_not_themselves_and_every_packet_is_counted_packet_ring() {
    match packet_ring_support() {
        Ok(()) => legs_hear_each_other_not_themselves_and_every_packet_is_counted("packet-ring", "nodes", 1),
        Err(e) => eprintln!("skipped: packet ring unavailable here ({e})"),
    }
}

#[test]
fn legs_hear_each_other_not_themselves_and_every_packet_is_counted_kernel_room() {
    legs_hear_each_other_not_themselves_and_every_packet_is_counted("auto", "kernel", 1);
}

#[test]
fn legs_hear_each_other_not_themselves_and_every_packet_is_counted_kernel_room_epoll() {
    legs_hear_each_other_not_themselves_and_every_packet_is_counted("epoll", "kernel", 1);
}

/// A kernel room spread over two workers (legs 0 and 2 on one, 1 and 3 on the other, each
/// worker's sockets on an I/O thread of their own): the same mix, the same counts.
#[test]
fn legs_hear_each_other_not_themselves_and_every_packet_is_counted_spread_over_two_workers() {
    if std::thread::available_parallelism().map_or(1, |c| c.get()) < 2 {
        eprintln!("skipped: two workers need two CPUs");
        return;
    }
    legs_hear_each_other_not_themselves_and_every_packet_is_counted("auto", "kernel", 2);
}

/// With `--io IO --room ROOM --workers WORKERS`.
fn legs_hear_each_other_not_themselves_and_every_packet_is_counted(io: &str, room: &str, workers: usize) {
    let _turn = one_bridge_at_a_time();
    let dir = tmp(&format!("bridge-{io}-{room}-{workers}"));
    let stats = dir.join("bridge.json");
    let port0 = free_ports(4);
    let (mut child, reader) = start_bridge(
        4,
        port0,
        &[
            "--seconds",
            "4",
            "--stats-json",
            stats.to_str().unwrap(),
            "--io",
            io,
            "--room",
            room,
            "--workers",
            &workers.to_string(),
        ],
    );
    let legs = phones(4);
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = |i: usize| ("127.0.0.1", port0 + i as u16);
    let mut heard: Vec<Vec<f32>> = vec![Vec::new(); 4];
    let mut got = [0u64; 4];
    let mut buf = [0u8; 1500];
    let drain = |heard: &mut Vec<Vec<f32>>, got: &mut [u64; 4], buf: &mut [u8], keep: bool| {
        for (i, s) in legs.iter().enumerate() {
            while let Ok(n) = s.recv(buf) {
                got[i] += 1;
                let (meta, payload) = parse_rtp(&buf[..n], 0).unwrap();
                assert_eq!((meta.payload_type, payload.len()), (0, 160));
                if keep {
                    let mut pcm = [0f32; 160];
                    LAW.decode_f32(payload, &mut pcm);
                    heard[i].extend_from_slice(&pcm);
                }
            }
        }
    };
    // Leg 3's oddities first (it latches on the malformed-free packet after them).
    legs[3].send_to(&[0x80, 0, 0, 1, 2], to(3)).unwrap();
    legs[3].send_to(&packet(None, 0, 3, 8), to(3)).unwrap();
    let start = Instant::now();
    let frames = 125; // 2.5 s
    let mut flood_sent = 0u64;
    for k in 0..frames {
        for i in 0..3 {
            legs[i].send_to(&packet(Some(TONES[i]), k, i as u32, 0), to(i)).unwrap();
        }
        // Leg 3 floods: 20 packets per 20 ms.
        for j in 0..20 {
            legs[3].send_to(&packet(None, k * 20 + j, 3, 0), to(3)).unwrap();
            flood_sent += 1;
        }
        // A stranger plays its tone into leg 1's port once leg 1 is latched.
        if k > 10 {
            // (The kernel may answer with port-unreachable: the send can fail.)
            let _ = stranger.send_to(&packet(Some(TONES[3]), k, 99, 0), to(1));
        }
        // The last 1.5 s are measured (past the start-up of the room and the codecs).
        drain(&mut heard, &mut got, &mut buf, k >= 50);
        let next = start + Duration::from_millis(20 * (k as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    drain(&mut heard, &mut got, &mut buf, false);
    let out = reader.join().unwrap();
    assert!(out.iter().filter(|l| l.starts_with("t=")).count() >= 3, "{out:?}");

    for i in 0..3 {
        let p: Vec<f64> = TONES.iter().map(|&f| db(power(&heard[i], f))).collect();
        for j in (0..3).filter(|&j| j != i) {
            // A 0.2 sine: 10 log10(0.01) = -20 dB; the others' come through within 3 dB.
            assert!(p[j] > -23.0, "leg {i} hears leg {j} at {:.1} dB: {p:?}", p[j]);
            assert!(p[j] - p[i] > 35.0, "leg {i} hears itself at {:.1} dB: {p:?}", p[i]);
        }
        assert!(p[0].max(p[1]).max(p[2]) - p[3] > 35.0, "leg {i} hears the stranger: {p:?}");
    }
    // The flooding leg hears all three tones too.
    let p3: Vec<f64> = TONES[..3].iter().map(|&f| db(power(&heard[3], f))).collect();
    assert!(p3.iter().all(|&p| p > -23.0), "{p3:?}");

    let json = std::fs::read_to_string(&stats).unwrap();
    if io != "auto" {
        assert!(json.contains(&format!("\"io\": \"{}\"", io.replace('-', "_"))), "{json}");
    }
    assert!(json.contains(&format!("\"room\": \"{room}\"")), "{json}");
    let n = |k: &str| json_number(&json, k) as u64;
    assert_eq!(n("workers"), workers as u64, "{json}");
    // Everything received is delivered or counted. The stranger never gets past the kernel
    // where its leg's socket is connected to its latched peer; the packet ring sees its
    // packets and counts them foreign.
    let sent_to_bridge = 3 * frames as u64 + flood_sent + 2;
    let stranger_sent = frames as u64 - 11;
    let foreign = if json.contains("\"io\": \"packet_ring\"") { stranger_sent } else { 0 };
    assert_eq!(n("received"), sent_to_bridge + foreign, "{json}");
    assert_eq!(n("received"), n("delivered") + n("dropped") + n("malformed") + n("wrong_payload_type") + n("foreign"));
    assert_eq!((n("malformed"), n("wrong_payload_type"), n("foreign")), (1, 1, foreign), "{json}");
    assert!(n("dropped") > flood_sent / 2, "the flood fills its own ring: {json}");
    assert_eq!((n("latches"), n("relatches"), n("send_errors")), (4, 0, 0), "{json}");
    // A lead trim needs 10 s of spare quanta: none in a run this short.
    assert_eq!(n("removed_ms"), 0, "{json}");
    assert_eq!(n("sent"), got.iter().sum::<u64>(), "{json}");
    // Every leg hears about 50 packets a second from its latch to the end.
    for (i, g) in got.iter().enumerate() {
        assert!(*g as f64 >= 0.9 * 50.0 * 2.5, "leg {i} got {g} packets: {json}");
    }
    // Every cycle on time where each worker has a CPU of its own beside the one the I/O
    // threads and this test's phones share. With fewer, a spread room's shards are
    // preempted by them while their partner waits (CI's two-CPU guest: 3 misses and 4 late
    // partners in 400 cycles); the mix and the counts above still hold, and the misses are
    // printed.
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    if cpus > workers {
        assert_eq!(n("deadline_misses"), 0, "{json}");
    } else {
        eprintln!("{workers} workers on {cpus} CPUs: {} deadline misses, not asserted: {json}", n("deadline_misses"));
    }
}

#[test]
fn bad_flags_are_refused_in_the_users_terms() {
    let o = bin().args(["bridge", "--legs", "2", "--codec", "pcmu", "--ptime", "25"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--ptime"), "{o:?}");
    let o = bin().args(["bridge", "--legs", "2", "--codec", "g711"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("possible values: pcmu, pcma, g722, g729, opus"), "{o:?}");
    let o = bin().args(["bridge", "--legs", "2", "--codec", "pcmu", "--talkers", "0"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--talkers must be at least 1"), "{o:?}");
    let o = bin().args(["bridge", "--legs", "2", "--codec", "pcmu", "--audio-level", "15"]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--audio-level 15"), "{o:?}");
    // A worker more than the CPUs this process may run on: spread shards would wait for
    // each other every cycle.
    let more = (std::thread::available_parallelism().unwrap().get() + 1).to_string();
    let o = bin().args(["bridge", "--legs", &more, "--codec", "pcmu", "--workers", &more]).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a CPU per worker"), "{o:?}");
    // A port already taken is named.
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o =
        bin().args(["bridge", "--legs", "1", "--codec", "pcmu", "--listen", &addr, "--seconds", "1"]).output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("cannot bind {addr}")), "{err}");
}

#[test]
fn sigterm_ends_the_run_with_the_totals_written_epoll() {
    sigterm_ends_the_run_with_the_totals_written("epoll");
}

#[test]
fn sigterm_ends_the_run_with_the_totals_written_io_uring() {
    if io_uring_here() {
        sigterm_ends_the_run_with_the_totals_written("io-uring");
    }
}

fn sigterm_ends_the_run_with_the_totals_written(io: &str) {
    let _turn = one_bridge_at_a_time();
    let dir = tmp(&format!("bridge-term-{io}"));
    let stats = dir.join("bridge.json");
    let port0 = free_ports(2);
    let (mut child, _) =
        start_bridge(2, port0, &["--seconds", "30", "--stats-json", stats.to_str().unwrap(), "--io", io]);
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    for k in 0..10 {
        peer.send_to(&packet(Some(TONES[0]), k, 1, 0), ("127.0.0.1", port0)).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let st = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(st.success());
    assert!(child.wait().unwrap().success());
    assert!(t.elapsed() < Duration::from_secs(5));
    let json = std::fs::read_to_string(&stats).unwrap();
    assert!(json.contains("\"stopped_by_signal\": true"), "{json}");
    assert_eq!(json_number(&json, "received"), 10.0, "{json}");
}

#[test]
fn audio_levels_skip_silent_legs_and_label_each_mix() {
    let _turn = one_bridge_at_a_time();
    // Legs 0 and 2 send tones marked voice; leg 1 sends its tone marked silent (level 127,
    // V clear): the bridge must not decode it, so nobody hears it. What each leg gets carries
    // the level of its mix (a 0.2 sine is 17 dBov).
    let port0 = free_ports(3);
    let id = 3;
    let (mut child, reader) = start_bridge(3, port0, &["--seconds", "3", "--audio-level", &id.to_string()]);
    let legs = phones(3);
    let voice = AudioLevel { voice: true, level: 17 };
    let silent = AudioLevel { voice: false, level: 127 };
    let mut heard: Vec<Vec<f32>> = vec![Vec::new(); 3];
    let mut levels: Vec<Vec<AudioLevel>> = vec![Vec::new(); 3];
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    let frames = 100;
    for k in 0..frames {
        for (i, s) in legs.iter().enumerate() {
            let level = if i == 1 { silent } else { voice };
            s.send_to(&packet_with_level(Some(TONES[i]), k, i as u32, id, level), ("127.0.0.1", port0 + i as u16))
                .unwrap();
        }
        for (i, s) in legs.iter().enumerate() {
            while let Ok(n) = s.recv(&mut buf) {
                let (_, payload) = parse_rtp(&buf[..n], 0).unwrap();
                let level = audio_level_of(&buf[..n], id).expect("every packet sent carries the level");
                if k >= 40 {
                    let mut pcm = [0f32; 160];
                    LAW.decode_f32(payload, &mut pcm);
                    heard[i].extend_from_slice(&pcm);
                    levels[i].push(level);
                }
            }
        }
        let next = start + Duration::from_millis(20 * (k as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    assert!(child.wait().unwrap().success());
    let out = reader.join().unwrap();
    let done = out.iter().find(|l| l.starts_with("done")).unwrap();
    assert!(done.contains(&format!("\"audio_level_id\": {id}")), "{done}");
    for i in 0..3 {
        let p: Vec<f64> = TONES[..3].iter().map(|&f| db(power(&heard[i], f))).collect();
        assert!(p[1] < -60.0, "leg {i} hears the silent-marked leg 1 at {:.1} dB: {p:?}", p[1]);
        for j in [0, 2].into_iter().filter(|&j| j != i) {
            assert!(p[j] > -23.0, "leg {i} hears leg {j} at {:.1} dB: {p:?}", p[j]);
        }
        assert!(levels[i].len() > 40, "leg {i}: {} packets", levels[i].len());
        // Legs 0 and 2 each hear one 0.2 sine; leg 1 hears two (3 dB louder).
        let want = if i == 1 { 14 } else { 17 };
        let near = levels[i].iter().filter(|l| l.voice && (i32::from(l.level) - want).abs() <= 2).count();
        assert!(near * 10 >= levels[i].len() * 9, "leg {i}: levels {:?}, want {want}", levels[i]);
    }
}

/// Runs a 2-leg bridge (with `extra` flags) for 4 s while leg 0 sends a tone from its first
/// packet, every fourth packet held back 70 ms (sent after the next three), and leg 1 sends
/// silence on time, both until after the bridge has stopped (so that no leg conceals the
/// end of its stream); returns the bridge's `done` line.
fn run_with_a_jittery_leg(extra: &[&str]) -> String {
    let port0 = free_ports(2);
    let mut flags = vec!["--seconds", "4"];
    flags.extend_from_slice(extra);
    let (mut child, reader) = start_bridge(2, port0, &flags);
    let legs = phones(2);
    let frames = 215;
    let mut sends: Vec<(u64, usize, usize)> = Vec::new();
    for k in 0..frames {
        let held = if k % 4 == 1 { 70 } else { 0 };
        sends.push((20 * k as u64 + held, 0, k));
        sends.push((20 * k as u64, 1, k));
    }
    sends.sort();
    let start = Instant::now();
    let mut buf = [0u8; 1500];
    for (at, leg, k) in sends {
        std::thread::sleep((start + Duration::from_millis(at)).saturating_duration_since(Instant::now()));
        let freq = (leg == 0).then_some(TONES[0]);
        legs[leg].send_to(&packet(freq, k, leg as u32, 0), ("127.0.0.1", port0 + leg as u16)).unwrap();
        for s in &legs {
            while s.recv(&mut buf).is_ok() {}
        }
    }
    assert!(child.wait().unwrap().success());
    let out = reader.join().unwrap();
    out.into_iter().find(|l| l.starts_with("done")).unwrap()
}

#[test]
fn a_jittery_leg_plays_whole_through_its_jitter_buffer() {
    let _turn = one_bridge_at_a_time();
    // Without a buffer a packet that comes after its playout time is concealed: a quarter
    // of leg 0's time, about 1 s of the 4. With `--jitter` the leg's target delay rises over
    // the 70 ms within its first packets and the rest play: the tone has no pause, so a
    // G.711 buffer in its warm-up moves up once late packets keep coming (before session 29
    // it waited for a pause and concealed every late packet, unless the first pulls
    // happened to come before the first packets).
    for room in ["nodes", "kernel"] {
        let plain = run_with_a_jittery_leg(&["--room", room]);
        let buffered = run_with_a_jittery_leg(&["--room", room, "--jitter"]);
        assert!(buffered.contains("\"jitter\": true"), "{buffered}");
        let (p, b) = (json_number(&plain, "concealed_ms"), json_number(&buffered, "concealed_ms"));
        eprintln!("room of {room}: ms concealed: plain decoder {p}, jitter buffer {b}");
        assert!(p >= 600.0, "{room}, plain decoder: {p} ms concealed: {plain}");
        assert!(b <= 150.0 && b * 4.0 <= p, "{room}, jitter buffer: {b} ms concealed, plain {p}: {buffered}");
    }
}

/// 8 kHz speech (the bundled recording), as f32.
fn speech_8k() -> Vec<f32> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/speech_en_8k.wav");
    let mut r = hound::WavReader::open(path).unwrap();
    r.samples::<i16>().map(|v| f32::from(v.unwrap()) / 32768.0).collect()
}

#[test]
fn loudest_talker_is_heard_counted_and_named_dominant() {
    loudest_talker_in("nodes");
}

#[test]
fn a_kernel_room_hears_its_loudest_talker_counts_and_names_it_dominant() {
    loudest_talker_in("kernel");
}

/// --talkers 1 in a room built as `room`: leg 0 speaks (real speech), leg 1 hums a steady
/// quiet tone (talking: above the −50 dBFS gate, but never louder than the speech by the
/// hysteresis), leg 2 is silent. Legs 1 and 2 hear the speech and not the tone; two legs
/// talk, and the speaker is the dominant one (a steady tone never is: it sits on its own
/// noise floor).
fn loudest_talker_in(room: &str) {
    let _turn = one_bridge_at_a_time();
    let dir = tmp(&format!("bridge-talkers-{room}"));
    let stats = dir.join("bridge.json");
    let port0 = free_ports(3);
    let args = ["--seconds", "5", "--talkers", "1", "--room", room, "--stats-json", stats.to_str().unwrap()];
    let (mut child, reader) = start_bridge(3, port0, &args);
    let legs = phones(3);
    let speech = speech_8k();
    let mut heard: Vec<Vec<f32>> = vec![Vec::new(); 3];
    let mut buf = [0u8; 1500];
    let start = Instant::now();
    let frames = 225;
    for k in 0..frames {
        legs[0].send_to(&pcmu_packet(&speech[k * 160..(k + 1) * 160], k, 0, 0), ("127.0.0.1", port0)).unwrap();
        legs[1].send_to(&packet_of(Some(TONES[1]), 0.01, k, 1, 0), ("127.0.0.1", port0 + 1)).unwrap();
        legs[2].send_to(&packet_of(None, 0.0, k, 2, 0), ("127.0.0.1", port0 + 2)).unwrap();
        for (i, s) in legs.iter().enumerate() {
            while let Ok(n) = s.recv(&mut buf) {
                let (_, payload) = parse_rtp(&buf[..n], 0).unwrap();
                if k >= 50 {
                    let mut pcm = [0f32; 160];
                    LAW.decode_f32(payload, &mut pcm);
                    heard[i].extend_from_slice(&pcm);
                }
            }
        }
        let next = start + Duration::from_millis(20 * (k as u64 + 1));
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    assert!(child.wait().unwrap().success());
    let out = reader.join().unwrap();
    let rms_db = |x: &[f32]| db(x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64);
    for i in [1, 2] {
        assert!(rms_db(&heard[i]) > -40.0, "leg {i} hears the speaker at {:.1} dB", rms_db(&heard[i]));
    }
    // The tone would be −43 dB at its frequency were it heard.
    assert!(db(power(&heard[2], TONES[1])) < -60.0, "leg 2 hears leg 1 at {:.1} dB", db(power(&heard[2], TONES[1])));
    // Leg 0 hears nobody: comfort noise only.
    assert!(rms_db(&heard[0]) < -60.0, "leg 0 hears {:.1} dB", rms_db(&heard[0]));
    let status: Vec<&String> = out.iter().filter(|l| l.starts_with("t=")).collect();
    assert!(status.iter().any(|l| l.contains("talkers=2 dominant=leg0")), "{status:?}");
    let json = std::fs::read_to_string(&stats).unwrap();
    assert_eq!(json_number(&json, "talkers_max"), 1.0, "{json}");
    assert!(json.contains("\"dominant\": \"leg0\""), "{json}");
}
