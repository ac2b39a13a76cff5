//! Behaviour of the whole buffer on packet sequences built to show one property each, and
//! a seeded fuzz run over arbitrary packets and arrival times.

use super::*;
use crate::codec::G711CodecDecoder;
use crate::g711::G711Law;
use rvoip_media_graph::{Packet, PacketMeta, SplitMix64};

const TICK_NS: u64 = 10_000_000;

/// A 20 ms PCMU packet of a 250 Hz tone (sequence `seq`, timestamp `ts`).
pub(super) fn pcmu(seq: u16, ts: u32, ssrc: u32, arrival_ns: u64) -> Packet {
    let mut payload = [0u8; 160];
    let pcm: Vec<f32> = (0..160)
        .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 250.0 * (ts.wrapping_add(i) as f32) / 8000.0).sin())
        .collect();
    G711Law::Ulaw.encode_f32(&pcm, &mut payload);
    let meta = PacketMeta {
        payload_type: 0,
        sequence: seq,
        timestamp: ts,
        ssrc,
        marker: false,
        arrival_ns,
        audio_level: None,
    };
    Packet::from_payload(meta, &payload).unwrap()
}

/// A G.711 (μ-law) buffer with `cfg`.
fn g711_jb(cfg: JitterConfig) -> JitterBuffer {
    JitterBuffer::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), cfg).unwrap()
}

fn new_jb() -> JitterBuffer {
    g711_jb(JitterConfig::default())
}

/// Runs ticks until `until_ns`, inserting `packets` (sorted by arrival) when they have
/// arrived; returns the output.
fn run(jb: &mut JitterBuffer, packets: &[Packet], until_ns: u64) -> Vec<f32> {
    let mut all = Vec::new();
    run_each(jb, packets, until_ns, |_, _, out| all.extend_from_slice(out));
    all
}

/// Plays 10 ms ticks from 0 until `until_ns`, inserting `packets` (sorted by arrival) when they
/// have arrived, and calls `each(now, jb, out)` after each tick's pull at `now`.
fn run_each(
    jb: &mut JitterBuffer,
    packets: &[Packet],
    until_ns: u64,
    mut each: impl FnMut(u64, &JitterBuffer, &[f32]),
) {
    // One 10 ms tick at the buffer's output rate.
    let mut out = vec![0f32; jb.sample_rate() as usize / 100];
    let (mut next, mut now) = (0, 0);
    while now < until_ns {
        while next < packets.len() && packets[next].meta.arrival_ns <= now {
            jb.insert(&packets[next]);
            next += 1;
        }
        jb.pull(now, &mut out);
        each(now, jb, &out);
        now += TICK_NS;
    }
}

/// 600 packets (12 s) paced at a 20 ms transit with 0–3 ms of jitter, those numbered in `lost`
/// missing.
fn steady_losing(lost: std::ops::Range<u16>) -> Vec<Packet> {
    stream(600, 0, |i| 20.0 + f64::from(u32::from(i) * 7919 % 4))
        .into_iter()
        .filter(|p| !lost.contains(&p.meta.sequence))
        .collect()
}

/// Packets 0..n of 20 ms with arrival = send time + `delay(i)` ms.
fn stream(n: u16, start_seq: u16, delay: impl Fn(u16) -> f64) -> Vec<Packet> {
    let mut v: Vec<Packet> = (0..n)
        .map(|i| {
            let arrival = (f64::from(i) * 20.0 + delay(i)) * 1e6;
            pcmu(start_seq.wrapping_add(i), u32::from(i) * 160, 1, arrival as u64)
        })
        .collect();
    v.sort_by_key(|p| p.meta.arrival_ns);
    v
}

#[test]
fn reordered_packets_play_without_loss_or_concealment() {
    // Every odd packet overtakes the even one before it by 8 ms.
    let pk = stream(200, 100, |i| if i % 2 == 0 { 30.0 } else { 12.0 });
    let mut jb = new_jb();
    run(&mut jb, &pk, 4_500_000_000);
    let s = jb.stats();
    assert_eq!((s.packets_received, s.packets_lost, s.packets_discarded), (200, 0, 0));
    // Nothing concealed while the stream ran: the one concealment is the run-out after it.
    assert_eq!(s.concealment_events, 1, "{s:?}");
    // Every packet was decoded and came out (time scaling is counted separately).
    assert_eq!(s.jitter_buffer_emitted_count, 200 * 160);
}

#[test]
fn duplicates_floods_and_late_packets_are_counted_and_dropped() {
    let mut pk = stream(100, 0, |_| 20.0);
    // Each packet twice, a flood of 500 packets for slot 50 (other sequence numbers), and
    // packet 60 arriving a second late.
    let dups: Vec<Packet> = pk.clone();
    pk.extend(dups);
    for k in 0..500u16 {
        let mut p = pcmu(1000 + k, 50 * 160, 1, 1_000_000_000 + u64::from(k));
        p.meta.arrival_ns = 1_000_000_000;
        pk.push(p);
    }
    let mut late = pcmu(60, 60 * 160, 1, 0);
    late.meta.arrival_ns = 60 * 20_000_000 + 1_000_000_000;
    pk.retain(|p| !(p.meta.sequence == 60 && p.meta.arrival_ns < 2_000_000_000));
    pk.push(late);
    pk.sort_by_key(|p| p.meta.arrival_ns);
    let mut jb = new_jb();
    let out = run(&mut jb, &pk, 3_000_000_000);
    let s = jb.stats();
    assert_eq!(s.packets_late, 1);
    // 99 duplicates of the first copies (packet 60 has one), 500 flood packets refused
    // (same timestamp as slot 50, or already played).
    assert_eq!(
        s.packets_duplicate + s.packets_late,
        99 + 500 + 1 - (s.packets_discarded - s.packets_duplicate - s.packets_late),
        "{s:?}"
    );
    assert_eq!(s.packets_discarded, 99 + 500 + 1, "{s:?}");
    assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0));
}

#[test]
fn sequence_wrap_is_seamless_and_an_ssrc_change_restarts() {
    let mut pk = stream(100, 65_500, |_| 15.0);
    // A new stream (new SSRC, unrelated numbers) after 2 s.
    for i in 0..50u16 {
        let arrival = 2_100_000_000 + u64::from(i) * 20_000_000;
        pk.push(pcmu(7 + i, 999_999 + u32::from(i) * 160, 2, arrival));
    }
    let mut jb = new_jb();
    let out = run(&mut jb, &pk, 3_500_000_000);
    let s = jb.stats();
    assert_eq!(s.resets, 1);
    assert_eq!(s.packets_discarded, 0);
    // The new stream is heard: energy in 2.5..3.0 s.
    let e: f32 = out[20_000..24_000].iter().map(|v| v * v).sum::<f32>() / 4000.0;
    assert!(e > 0.01, "{e}");
}

#[test]
fn a_stream_that_stops_for_minutes_resumes_at_a_normal_delay() {
    let mut pk = stream(100, 0, |_| 15.0);
    // 5 minutes of nothing, then the stream continues where it would be by then.
    let gap_packets: u32 = 5 * 60 * 50;
    for i in 0..100u32 {
        let k = gap_packets + 100 + i;
        let arrival = (u64::from(k) * 20 + 15) * 1_000_000;
        pk.push(pcmu((k % 65_536) as u16, k * 160, 1, arrival));
    }
    let mut jb = new_jb();
    let end = (u64::from(gap_packets) + 200) * 20_000_000;
    // The delay while the resumed stream plays (after its end the buffer waits for it).
    run(&mut jb, &pk, end - 100_000_000);
    let s = jb.stats();
    assert!(s.current_delay_ms < 150.0, "{s:?}");
    let mut jb = new_jb();
    let out = run(&mut jb, &pk, end + 500_000_000);
    let s = jb.stats();
    assert_eq!(s.packets_discarded, 0, "{s:?}");
    let tail = &out[out.len() - 8000..out.len() - 5000];
    assert!(tail.iter().map(|v| v * v).sum::<f32>() / 3000.0 > 0.01);
}

/// Delay of the buffer at 30 s and at the end of `secs` seconds of a continuous tone from a
/// sender whose clock is off by `ppm`, with exponential jitter (mean 7.5 ms).
fn drift_delays(ppm: f64, secs: u32) -> (f64, f64) {
    let mut rng = SplitMix64::new(7);
    let n = secs * 50;
    let pk = {
        let mut v: Vec<Packet> = (0..n)
            .map(|i: u32| {
                let send_ms = f64::from(i) * 20.0 / (1.0 + ppm * 1e-6);
                let jitter = -7.5 * (1.0 - rng.unit()).ln();
                pcmu((i % 65_536) as u16, i * 160, 1, ((send_ms + 20.0 + jitter) * 1e6) as u64)
            })
            .collect();
        v.sort_by_key(|p| p.meta.arrival_ns);
        v
    };
    let mut jb = new_jb();
    let mut at30 = 0.0;
    run_each(&mut jb, &pk, u64::from(secs) * 1_000_000_000, |now, jb, _| {
        if now == 30_000_000_000 {
            at30 = jb.stats().current_delay_ms;
        }
    });
    (at30, jb.stats().current_delay_ms)
}

#[test]
fn a_drifting_sender_clock_does_not_make_the_delay_grow() {
    // ±300 ppm over 570 s is 171 ms of drift; on a tone without pauses the buffer still
    // holds its delay within the speech band (50 ms) of the target.
    for ppm in [300.0, -300.0] {
        let (start, end) = drift_delays(ppm, 600);
        assert!((end - start).abs() < 50.0, "{ppm} ppm: delay {start:.1} ms at 30 s, {end:.1} ms at 600 s");
    }
}

/// 3 s of an Opus tone with in-band FEC, packet 100 lost, every third packet from 1 on `late_ns`
/// after the others' 5 ms transit, through a buffer pulled every 10 ms for 4 s.
fn opus_fec_stream_stats(late_ns: u64) -> JitterStats {
    use crate::opus::OpusEncoderConfig;
    let mut enc = OpusEncoderConfig::new(16_000, 1).inband_fec(true).packet_loss_percent(20).build().unwrap();
    let mut pk = Vec::new();
    let mut buf = [0u8; 1500];
    for i in 0..150u32 {
        let pcm: Vec<f32> = (0..320)
            .map(|k| 0.3 * (2.0 * std::f32::consts::PI * 220.0 * ((i * 320 + k) as f32) / 16_000.0).sin())
            .collect();
        let p = enc.encode(&pcm, &mut buf).unwrap();
        if i == 100 {
            continue; // lost
        }
        let meta = PacketMeta {
            payload_type: 111,
            sequence: i as u16,
            timestamp: i * 960,
            ssrc: 5,
            marker: false,
            // Every third packet 20 ms late (arriving with its successor, not after it): the
            // target holds the next packet in time.
            arrival_ns: u64::from(i) * 20_000_000 + if i % 3 == 1 { late_ns } else { 5_000_000 },
            audio_level: None,
        };
        pk.push(Packet::from_payload(meta, &buf[..p.len]).unwrap());
    }
    let mut jb = opus_jb();
    pk.sort_by_key(|p| p.meta.arrival_ns);
    run_each(&mut jb, &pk, 400 * TICK_NS, |_, _, _| {});
    jb.stats()
}

#[test]
fn opus_in_band_fec_rebuilds_a_lost_packet() {
    let s = opus_fec_stream_stats(25_000_000);
    assert_eq!((s.packets_lost, s.fec_recovered), (1, 1), "{s:?}");
}

#[test]
fn the_target_need_not_wait_for_packets_fec_can_rebuild() {
    // Every third packet 40 ms late, after its successor (transit 45 ms, usable at the
    // 50 ms pull): with in-band FEC it can be rebuilt from the successor, so it counts as
    // there when the successor came (25 ms) and the target is no higher than with those
    // packets 20 ms late and not overtaken (usable at 30 ms); counting the 50 ms would put
    // it 20 ms higher.
    let near = opus_fec_stream_stats(25_000_000).target_delay_ms;
    let far = opus_fec_stream_stats(45_000_000).target_delay_ms;
    assert!(far <= near + 1.0, "target {far} ms with overtaken packets, {near} ms with late ones");
}

/// One fuzz run: `ticks` playout ticks of arbitrary packets (plausible streams mixed with
/// garbage: random sequence numbers, timestamps, payload types, SSRCs, lengths, arrival
/// times that go backwards or far ahead). Returns the number of packets fed. Panics (the
/// test fails) on a non-finite or out-of-range output sample.
pub(crate) fn fuzz(seed: u64, ticks: u64, opus: bool) -> u64 {
    let mut r = SplitMix64::new(seed);
    let mut jb = if opus { opus_jb() } else { new_jb() };
    let pt = if opus { 111 } else { 0 };
    let q = jb.sample_rate() as usize / 100;
    let mut out = vec![0f32; q];
    let mut fed = 0;
    let (mut seq, mut ts) = (r.next_u64() as u16, r.next_u64() as u32);
    let mut payload = [0u8; 1600];
    for k in 0..ticks {
        let now = k * TICK_NS;
        for _ in 0..r.below(4) {
            let mode = r.below(100);
            let len = match r.below(10) {
                0 => 0,
                1 => r.below(1600) as usize,
                _ => 160,
            };
            for b in payload[..len].iter_mut() {
                *b = r.next_u64() as u8;
            }
            if opus && len > 0 && r.below(2) == 0 {
                payload[0] = 0x08; // a plausible TOC: SILK NB 20 ms, one frame
            }
            let mut meta = PacketMeta {
                payload_type: pt,
                sequence: seq,
                timestamp: ts,
                ssrc: 1,
                marker: false,
                arrival_ns: now,
                audio_level: None,
            };
            match mode {
                0..=59 => {
                    seq = seq.wrapping_add(1);
                    ts = ts.wrapping_add(if opus { 960 } else { 160 });
                }
                60..=69 => meta.sequence = r.next_u64() as u16,
                70..=74 => meta.timestamp = r.next_u64() as u32,
                75..=79 => meta.ssrc = r.below(3) as u32,
                80..=84 => meta.payload_type = r.below(128) as u8,
                85..=89 => meta.arrival_ns = r.next_u64(),
                90..=94 => meta.arrival_ns = now.saturating_sub(r.below(5_000_000_000)),
                _ => meta.marker = true,
            }
            let len = len.min(rvoip_media_graph::MAX_PAYLOAD);
            let p = Packet::from_payload(meta, &payload[..len]).unwrap();
            jb.insert(&p);
            fed += 1;
        }
        if r.below(1000) == 0 {
            jb.reset();
        }
        jb.pull(now, &mut out);
        assert!(out.iter().all(|v| v.is_finite() && v.abs() <= 1.0), "seed {seed} tick {k}");
    }
    let s = jb.stats();
    assert!(s.packets_received == fed);
    fed
}

#[test]
fn fuzz_short_run_never_panics() {
    for seed in 0..6 {
        assert!(fuzz(seed, 3000, seed % 2 == 1) > 3000);
    }
}

#[test]
fn the_start_delay_is_set_with_every_packet_that_arrived_within_the_initial_delay() {
    // Packet 0 arrives at once (transit 0); packets 1 and 2 (sent at 20 and 40 ms) arrive
    // at 70 and 75 ms (transit 50 and 35 ms), inside the 80 ms initial delay; the rest
    // with transit 0 (packets 3 and 4 at 60 and 80 ms). Deciding the delay at the first
    // arrival knew only packet 0 and played it at 80 ms; deciding when that 80 ms is up
    // sees the spread: the warm-up target is mean + 3 sd of the transits to the pull that
    // could first play each packet (10 ms pulls: {0, 50, 40, 0, 0} ms), plus the margin.
    let pk = stream(100, 0, |i| match i {
        1 => 50.0,
        2 => 35.0,
        _ => 0.0,
    });
    let mut jb = new_jb();
    let out = run(&mut jb, &pk, 2_500_000_000);
    let first = out.iter().position(|v| v.abs() > 1e-3).unwrap();
    let first_ms = first as f64 / 8.0;
    let d = [0.0, 50.0, 40.0, 0.0, 0.0];
    let mean = d.iter().sum::<f64>() / 5.0;
    let sd = (d.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0).sqrt();
    let want = mean + 3.0 * sd + f64::from(JitterConfig::default().margin_ms);
    assert!((first_ms - want).abs() < 1.0, "first sample at {first_ms} ms, want {want:.1}");
    // Packet 1 and 2 were on time: nothing lost, nothing concealed while the stream ran.
    let s = jb.stats();
    assert_eq!((s.packets_late, s.concealment_events), (0, 1), "{s:?}");
}

#[test]
fn speech_is_not_accelerated_while_the_target_is_still_learned() {
    // A steady stream (transit 5 ms; the second packet's 45 ms keeps the stream from
    // starting before the initial delay) of a tone, so never a pause: the buffer starts at the 80 ms
    // initial delay, far above what the network needs. During the warm-up (250
    // packets, 5 s) that excess waits for a pause instead of being cut out of speech;
    // afterwards the speech band applies again and speech is accelerated.
    let pk = stream(500, 0, |i| if i == 1 { 45.0 } else { 5.0 });
    let mut jb = new_jb();
    run(&mut jb, &pk[..240], 4_800_000_000);
    let s = jb.stats();
    assert_eq!(s.removed_samples_for_acceleration, 0, "{s:?}");
    assert!(s.current_delay_ms > 60.0, "{s:?}");
    let mut jb = new_jb();
    run(&mut jb, &pk, 11_000_000_000);
    let s = jb.stats();
    assert!(s.removed_samples_for_acceleration > 0, "{s:?}");
    assert_eq!((s.packets_late, s.concealment_events), (0, 1), "{s:?}");
}

#[test]
fn concealment_after_a_skipped_silent_run_is_silence() {
    // 50 packets of the tone, then 50 whose RFC 6464 level says silence (their payload is
    // still the tone: were it decoded, it would be heard), then nothing.
    let mut pk = stream(100, 0, |_| 30.0);
    for p in pk.iter_mut().filter(|p| p.meta.sequence >= 50) {
        p.meta.audio_level = Some(127);
    }
    let mut jb = new_jb().with_silence_skip(100);
    let out = run(&mut jb, &pk, 4_000_000_000);
    let s = jb.stats();
    assert_eq!(s.skipped_decodes, 50, "{s:?}");
    // The tone was heard, and nothing is heard from the middle of the silent run on,
    // concealment after the last packet included.
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
    assert!(rms(&out[2000..6000]) > 0.15, "{}", rms(&out[2000..6000]));
    let after = &out[12000..];
    assert!(after.iter().all(|v| v.abs() < 1e-6), "max {}", after.iter().fold(0f32, |m, v| m.max(v.abs())));
}

#[test]
fn a_steady_stream_starts_once_three_packets_agree() {
    // Every packet 5 ms in transit: packets 0, 1 and 2 have arrived by the pull at 50 ms,
    // with one transit, so their prediction bound is 5 ms + a pull (10) + the margin (10)
    // = 25 ms, which playing packet 0 at that pull (50 ms after it was sent) covers: the
    // stream starts there, not 80 ms after the first arrival (at 90 ms), whose excess over
    // the target (21 ms) it would have had to give back later.
    let pk = stream(100, 0, |_| 5.0);
    let mut jb = new_jb();
    let out = run(&mut jb, &pk, 2_500_000_000);
    let s = jb.stats();
    assert_eq!((s.packets_late, s.concealment_events), (0, 1), "{s:?}");
    assert_eq!((s.removed_samples_for_acceleration, s.inserted_samples_for_deceleration), (0, 0), "{s:?}");
    // (The tone's first sample is near 0: the first audible one is the next.)
    let first_ms = out.iter().position(|v| v.abs() > 1e-3).unwrap() as f64 / 8.0;
    assert!((first_ms - 50.0).abs() < 1.0, "{first_ms}");
    // With the second packet 40 ms later than the others the first three disagree: the
    // stream waits for the initial delay (the first pull 80 ms after the first arrival).
    let pk = stream(100, 0, |i| if i == 1 { 45.0 } else { 5.0 });
    let mut jb = new_jb();
    let out = run(&mut jb, &pk, 2_500_000_000);
    let first_ms = out.iter().position(|v| v.abs() > 1e-3).unwrap() as f64 / 8.0;
    assert!((first_ms - 90.0).abs() < 1.0, "{first_ms}");
}

/// Makes the packets whose sequence numbers `which` picks a pause: a −60 dBFS tone.
fn quiet_where(pk: &mut [Packet], which: impl Fn(u16) -> bool) {
    quiet_tone_where(pk, 0.2, which);
}

/// Makes the packets whose sequence `which` accepts a pause: a −60 dBFS tone of `w`
/// radians a sample (its pitch period, the one a stretch removes, 2π / `w` samples).
fn quiet_tone_where(pk: &mut [Packet], w: f32, which: impl Fn(u16) -> bool) {
    let pcm: Vec<f32> = (0..160).map(|i| 0.001 * (w * i as f32).sin()).collect();
    let mut payload = [0u8; 160];
    G711Law::Ulaw.encode_f32(&pcm, &mut payload);
    for p in pk.iter_mut().filter(|p| which(p.meta.sequence)) {
        p.set_payload(&payload).unwrap();
    }
}

/// Makes the packets from sequence `seq` on a pause.
fn quiet_from(pk: &mut [Packet], seq: u16) {
    quiet_where(pk, |s| s >= seq);
}

#[test]
fn a_pause_is_shortened_only_after_the_talkspurt_tail() {
    // Tone, then 1 s of a −60 dBFS tone (a pause), paced with a 5 ms transit (the second
    // packet's 45 ms keeps the stream from starting before the initial delay and holds the
    // target at ~51 ms): the buffer starts 80 ms late, 30 ms above its target.
    // A pause after 1 s (50 packets): the target has not seen the 200 packets a 99.5 %
    // quantile needs, so the excess is kept.
    let mut pk = stream(100, 0, |i| if i == 1 { 45.0 } else { 5.0 });
    quiet_from(&mut pk, 50);
    let mut jb = new_jb();
    run(&mut jb, &pk, 2_000_000_000);
    let s = jb.stats();
    assert_eq!(s.removed_samples_for_acceleration, 0, "{s:?}");
    // A pause after 4.2 s (210 packets, still in the 250-packet warm-up): it is shortened,
    // but not in its first QUIET_HOLD_MS, where the last word's tail is. It starts playing
    // about 4,285 ms in (sent at 4.2 s, 5 ms transit, 80 ms delay); 260 ms into it
    // (QUIET_HOLD_MS is 300): nothing removed yet.
    let mut pk = stream(260, 0, |i| if i == 1 { 45.0 } else { 5.0 });
    quiet_from(&mut pk, 210);
    let mut jb = new_jb();
    run(&mut jb, &pk, 4_545_000_000);
    let s = jb.stats();
    assert_eq!(s.removed_samples_for_acceleration, 0, "{s:?}");
    let mut jb = new_jb();
    run(&mut jb, &pk, 5_200_000_000);
    let s = jb.stats();
    // Then the excess went: the delay is within the pauses' accelerate band of the target.
    assert!(s.removed_samples_for_acceleration > 0, "{s:?}");
    let band = f64::from(JitterConfig::default().accelerate_quiet_ms);
    assert!(s.current_delay_ms - s.target_delay_ms <= band, "{s:?}");
}

#[test]
fn the_margin_follows_the_network_jitter() {
    let target = |pk: &[Packet], margin_ms| {
        let cfg = JitterConfig { margin_ms, ..JitterConfig::default() };
        let mut jb = g711_jb(cfg);
        run(&mut jb, pk, 6_500_000_000);
        let s = jb.stats();
        assert_eq!(s.packets_late, 0, "{s:?}");
        s.target_delay_ms
    };
    // Every packet 5 ms in transit: no jitter, so the margin above the quantile is its
    // 1 ms floor, not the configured 10 ms.
    let pk = stream(300, 0, |_| 5.0);
    let (t0, t10) = (target(&pk, 0), target(&pk, 10));
    assert!((t10 - t0 - 1.0).abs() < 1e-9, "{t0} {t10}");
    // Transits spread over 0..60 ms (RFC 3550 jitter ≈ 20 ms): the margin is at the
    // configured cap, so raising the cap by 10 ms raises the target by exactly 10 ms.
    let pk = stream(300, 0, |i| f64::from(u32::from(i) * 7919 % 61));
    let (t10, t20) = (target(&pk, 10), target(&pk, 20));
    assert!((t20 - t10 - 10.0).abs() < 1e-9, "{t10} {t20}");
}

#[test]
fn a_steady_network_gives_the_start_excess_back_in_its_first_long_pause() {
    // Transits 5 / 5.5 ms, the second packet's 7.5 (a LAN: three times the jitter, the
    // margin, stays under 5 ms: a steady network). The first three packets' spread puts
    // the early start (their 99.5 % prediction bound with Student's t for 3 packets, a pull
    // and the margin) more than the pauses' 20 ms band above the target the histogram then
    // learns (else nothing would be removed below). A pause
    // after 1 s (50 packets), long before the 200 packets a 99.5 % quantile needs under
    // jitter: on a steady network the excess goes there (after QUIET_HOLD_MS).
    let mut pk = stream(100, 0, |i| match i {
        1 => 7.5,
        _ if i % 2 == 0 => 5.0,
        _ => 5.5,
    });
    quiet_from(&mut pk, 50);
    let mut jb = new_jb();
    run(&mut jb, &pk, 2_000_000_000);
    let s = jb.stats();
    assert!(s.removed_samples_for_acceleration > 0, "{s:?}");
    let band = f64::from(JitterConfig::default().accelerate_quiet_ms);
    assert!(s.current_delay_ms - s.target_delay_ms <= band, "{s:?}");
    assert_eq!(s.packets_late, 0, "{s:?}");
}

/// A LAN's transit of packet `i`, ms: 5 / 5.5, the second packet's 7.5.
fn lan_transit(i: u16) -> f64 {
    match i {
        1 => 7.5,
        _ if i % 2 == 0 => 5.0,
        _ => 5.5,
    }
}

#[test]
fn the_start_excess_goes_in_the_leading_silence_down_to_the_start_bound() {
    // A LAN (transits 5 / 5.5 ms, the second packet's 7.5) whose first 300 ms (15
    // packets) are a pause. Three packets' prediction bound (Student's t for 2 degrees of
    // freedom) starts the stream some 20 ms above the bound of the ~15 packets seen by the
    // end of that silence: the excess goes there, before the first word, down to that
    // bound, not to the target the histogram has learned from so few packets.
    let mut pk = stream(100, 0, lan_transit);
    quiet_where(&mut pk, |s| s < 15);
    let mut jb = new_jb();
    let start = run_probe(&mut jb, &pk, 2_000_000_000, 60_000_000);
    let s = jb.stats();
    // 27 ms of the start's 40 go (the stats are read after a pull: the next sample plays
    // a pull, 10 ms, later than their current delay says), down to the bound, 7 ms above
    // the target (not past it: see the next test).
    assert_eq!(s.removed_samples_for_acceleration, 219, "{s:?}");
    assert!(start.current_delay_ms - s.current_delay_ms >= 27.0, "{start:?} {s:?}");
    let above = s.current_delay_ms + 10.0 - s.target_delay_ms;
    assert!((6.0..=8.0).contains(&above), "{s:?}");
    assert_eq!((s.packets_late, s.concealment_events), (0, 0), "{s:?}");
    // All of it before the first word (sent at 300 ms, played before 360 ms): nothing
    // removed after it.
    let mut jb = new_jb();
    let word = run_probe(&mut jb, &pk, 2_000_000_000, 360_000_000);
    assert_eq!(word.removed_samples_for_acceleration, s.removed_samples_for_acceleration, "{word:?} {s:?}");
    // The same silence over a jittery network (transits 0..40 ms): not steady, so the
    // excess is kept (a bound from 10–15 such packets was too low on the kit's spikes).
    let mut pk = stream(100, 0, |i| f64::from(u32::from(i) * 7919 % 41));
    quiet_where(&mut pk, |s| s < 15);
    let mut jb = new_jb();
    let s = run_probe(&mut jb, &pk, 2_000_000_000, 360_000_000);
    assert_eq!(s.removed_samples_for_acceleration, 0, "{s:?}");
}

#[test]
fn the_leading_silence_never_gives_back_past_the_start_bound() {
    // The LAN of the test above, its first 300 ms a pause of a −60 dBFS tone with a short
    // period (31 samples) or a long one (80 samples, 10 ms: each period removed takes 10
    // ms, and without the floor the last one took the offset ~10 ms below the bound, where
    // a kit Opus LAN ran dry and moved its timeline 20 ms). Both give back the start's
    // excess to within 2 ms above the floor (the start bound, or the target if higher) and
    // never past it, however far each period goes.
    for (w, removed) in [(0.2f32, 219), (2.0 * std::f32::consts::PI / 80.0, 208)] {
        let mut pk = stream(100, 0, lan_transit);
        quiet_tone_where(&mut pk, w, |s| s < 15);
        let mut jb = new_jb();
        let mut above = i64::MAX;
        // Until the first word (sent at 300 ms) plays.
        run_each(&mut jb, &pk, 340_000_000, |now, jb, _| {
            // The next sample plays a pull (10 ms) after the offset read after a pull.
            if let (offset, Some(floor)) = jb.lead_floor() {
                above = offset + 10_000 - floor;
                assert!(above >= 0, "{w} at {now}: {above} µs above the floor");
            }
        });
        // Within LEAD_BAND_US (2 ms) at the last removal, plus what the bound fell in the
        // rest of the silence (0.5 ms).
        assert!(above <= 2_500, "{w}: {above} µs above the floor");
        let s = jb.stats();
        assert_eq!((s.removed_samples_for_acceleration, s.inserted_samples_for_deceleration), (removed, 0), "{s:?}");
        assert_eq!((s.packets_late, s.concealment_events), (0, 0), "{s:?}");
    }
}

#[test]
fn a_steady_network_gives_a_whole_pull_of_excess_back_in_a_pause() {
    // The LAN of the tests above (transits 5 / 5.5 ms, the second packet's 7.5): every
    // packet is usable at the pull after it is sent, 10 ms, so a playout 10 ms after the
    // send time loses none. The leading silence brings the start down to the first
    // packets' bound, a pull above that; speech from packet 15, a pause from 2 s (100).
    // The pauses' 20 ms band kept that pull for the whole call (the kit's pcmu_lan played
    // 21 ms where a fixed 10 ms buffer loses nothing); on a steady network the pause takes
    // it back, and the phase past the grid, down to the step the target asks for.
    let mut pk = stream(300, 0, lan_transit);
    quiet_where(&mut pk, |s| !(15..100).contains(&s));
    let mut jb = new_jb();
    let (mut in_speech, mut end) = (0, 0);
    run_each(&mut jb, &pk, 6_000_000_000, |now, jb, _| {
        // Read after a pull: the next sample plays a pull (10 ms) later than the offset says.
        let played_after_send = jb.lead_floor().0 + 10_000;
        if now == 1_900_000_000 {
            in_speech = played_after_send;
        }
        end = played_after_send;
    });
    let s = jb.stats();
    assert!(in_speech >= 20_000, "the start's pull is still there in speech: {in_speech} µs");
    // Down to the step, not below it; the phase past the grid stays as a cushion
    // (`give_back_grid_phase`).
    assert!((10_000..20_000).contains(&end), "{end} µs after the send time at the end; {s:?}");
    assert_eq!((s.packets_late, s.concealment_events), (0, 0), "{s:?}");
}

/// Light jitter, packet `i`'s transit in ms: 5, or 14 for about three packets in ten (RFC
/// 3550 jitter ≈ 3.8 ms, so the margin, three times it, is at its 10 ms cap).
fn light_transit(i: u16) -> f64 {
    if (u32::from(i).wrapping_mul(2_654_435_761) >> 16) % 10 < 3 {
        14.0
    } else {
        5.0
    }
}

#[test]
fn light_jitter_settles_at_the_step_that_holds_its_slowest_packets() {
    // Every packet is usable at the first or second pull after it is sent (10 or 20 ms), so
    // a playout 20 ms after the send time loses none. The usable quantile is that 20 ms
    // step; the raw transits' stays 6 ms under it. The margin (10 ms) on top of the usable
    // quantile asked for the 30 ms step, a pull no packet needs; counted from the raw
    // quantile it stays within the 20 ms step. Speech 2 s, pauses 1 s.
    let mut pk = stream(2000, 0, light_transit);
    quiet_where(&mut pk, |s| s < 15 || s % 150 >= 100);
    let mut jb = new_jb();
    let at = run_probe(&mut jb, &pk, 40_000_000_000, 39_000_000_000);
    // The target above the fastest packets' (10 ms): under the next step (20 ms above).
    assert!(at.target_delay_ms < 20.0, "{at:?}");
    let s = jb.stats();
    assert_eq!((s.packets_late, s.concealment_events), (0, 0), "{s:?}");
}

/// 12 s of PCMU tone with a 20 ms transit (0–3 ms of jitter) and a 400 ms delay spike at
/// 6 s that drains over 1 s (a FIFO queue: the held packets arrive in a burst); a pause
/// (−60 dBFS) from 8 s. Returns the statistics at 7.6 s (speech after the spike) and at
/// the end.
fn spike_stats(cfg: JitterConfig) -> (JitterStats, JitterStats) {
    let mut pk = stream(600, 0, |i| {
        let t = f64::from(i) * 20.0 - 6000.0;
        let spike = if (0.0..1000.0).contains(&t) { 400.0 * (1.0 - t / 1000.0) } else { 0.0 };
        20.0 + f64::from(u32::from(i) * 7919 % 4) + spike
    });
    quiet_from(&mut pk, 400);
    let mut jb = g711_jb(cfg);
    let at = run_probe(&mut jb, &pk, 12_000_000_000, 7_600_000_000);
    (at, jb.stats())
}

/// A fresh G.711 buffer with `cfg` played until the tick at `at_ns`: its statistics there.
fn g711_stats_at(cfg: JitterConfig, packets: &[Packet], at_ns: u64) -> JitterStats {
    run_probe(&mut g711_jb(cfg), packets, at_ns + 1, at_ns)
}

/// As [`run`], returning the statistics at the tick at `probe_ns`.
fn run_probe(jb: &mut JitterBuffer, packets: &[Packet], until_ns: u64, probe_ns: u64) -> JitterStats {
    let mut probe = JitterStats::default();
    run_each(jb, packets, until_ns, |now, jb, _| {
        if now == probe_ns {
            probe = jb.stats();
        }
    });
    probe
}

#[test]
fn a_buffer_told_to_wait_for_a_stalled_stream_gives_the_wait_back() {
    // The default: the drain counts in the target and nothing is waited for.
    let default = JitterConfig::default();
    let (_, s) = spike_stats(default);
    assert!(s.packets_late >= 30, "{s:?}");
    // Told to wait (G.711's default in sessions 17–22): after 40 ms dry (two packets
    // concealed, then late) the buffer waits for the stream, so the spike's packets play
    // instead of being discarded.
    let waiting = JitterConfig { spike_wait_ms: 400, spike_tail_weight: 0.0, ..default };
    let (during, s) = spike_stats(waiting);
    assert_eq!(s.packets_late, 2, "{s:?}");
    // The drain did not raise the target (it stays with the 0–3 ms jitter and the pull's
    // 10 ms) ...
    assert!(s.target_delay_ms < 30.0, "{s:?}");
    // ... speech is accelerated toward it, down to the speech band ...
    assert!(during.removed_samples_for_acceleration > 0, "{during:?}");
    // ... and the pause gives back the rest of what the wait owed.
    assert!(s.current_delay_ms - s.target_delay_ms <= 3.0, "{s:?}");
    // A spike taller than the wait: the drain counts in full, and the target catches its
    // lower part as the old policy's does.
    let short = JitterConfig { spike_wait_ms: 200, ..waiting };
    let (_, s) = spike_stats(short);
    let (_, o) = spike_stats(default);
    assert!(s.target_delay_ms > 60.0 && (s.target_delay_ms - o.target_delay_ms).abs() < 20.0, "{s:?} {o:?}");
}

#[test]
fn the_rise_a_spike_asks_for_is_waited_in_its_gap_not_stretched_in_speech_after_it() {
    // The spike's drain lifts the target (the default catches its lower part) while the
    // buffer, dry for 400 ms, conceals the tone as a loss. The drain's first packet in time
    // ends the gap: the buffer waits there up to the target, so the tone after the spike
    // plays at the new delay without a stretch (before session 42 it resumed at the old
    // delay and stretched the tone 76 ms toward the target in the 2 s after the spike).
    let (after, end) = spike_stats(JitterConfig::default());
    assert!(after.target_delay_ms > 100.0, "{after:?}");
    assert_eq!(after.inserted_samples_for_deceleration, 0, "{after:?}");
    assert!(after.target_delay_ms - after.current_delay_ms <= 12.0, "{after:?}");
    // The spike's late packets are those of the default before (the wait comes after them).
    assert_eq!(after.packets_late, 44, "{after:?}");
    assert_eq!(end.inserted_samples_for_deceleration, 0, "{end:?}");
}

/// 36 s of PCMU tone with a 20 ms transit (0–3 ms of jitter) and a 400 ms delay spike that
/// drains over 1 s (a FIFO queue) at 6, 16 and 26 s, a 1 s pause (−60 dBFS) 2.5 s after each.
/// Returns the statistics at 5.9 s, then 0.1 s before and 3 s after each later spike, and at
/// the end.
fn spike_train_stats() -> Vec<JitterStats> {
    let spikes = [6000.0, 16_000.0, 26_000.0];
    let mut pk = stream(1800, 0, |i| {
        let t = f64::from(i) * 20.0;
        let spike: f64 = spikes
            .iter()
            .map(|&s| if (s..s + 1000.0).contains(&t) { 400.0 * (1.0 - (t - s) / 1000.0) } else { 0.0 })
            .sum();
        20.0 + f64::from(u32::from(i) * 7919 % 4) + spike
    });
    quiet_where(&mut pk, |s| [425u16, 925, 1425].iter().any(|&p| (p..p + 50).contains(&s)));
    let probes = [5_900_000_000u64, 15_900_000_000, 19_000_000_000, 25_900_000_000, 29_000_000_000];
    let mut jb = new_jb();
    let mut at = Vec::new();
    run_each(&mut jb, &pk, 36_000_000_000, |now, jb, _| {
        if probes.contains(&now) {
            at.push(jb.stats());
        }
    });
    at.push(jb.stats());
    at
}

#[test]
fn a_spike_train_is_played_at_one_delay_after_the_first_spike() {
    // The first spike's drain lifts the target (the E-model cost catches its lower part)
    // and the delay is waited up to it in the spike's gap; from then on the delay holds
    // through the later spikes and the pauses between them: no timeline move per spike.
    // A per-spike hold with a give-back in the next pause (the delay between spikes 30–50
    // ms, not 130–140) lost 0.2–0.3 PESQ in every 10 s segment with a move on the
    // evaluation sets (BENCHMARKS, jitter buffer, session 45, helper s45jb).
    let at = spike_train_stats();
    let (before, later) = (&at[0], &at[1..]);
    assert!(before.current_delay_ms < 50.0, "{before:?}");
    for s in later {
        assert!(s.target_delay_ms > 100.0, "{s:?}");
        assert!((s.current_delay_ms - later[0].current_delay_ms).abs() <= 1.0, "{s:?} {:?}", later[0]);
    }
    for s in &at {
        assert_eq!((s.removed_samples_for_acceleration, s.inserted_samples_for_deceleration), (0, 0), "{s:?}");
    }
    // The first spike loses 44 packets (its drain lifts the target as it comes); each later
    // one the 33 of its drain above the held delay.
    let late: Vec<u64> = at.iter().map(|s| s.packets_late).collect();
    assert_eq!(late, [0, 44, 77, 77, 110, 110], "{at:?}");
}

#[test]
fn a_burst_loss_is_not_waited_for_as_a_stall() {
    // 15 packets (300 ms) lost at 8 s in a steady tone: dry as long as a spike, but no packet
    // came late, so the gap is concealed as a loss and the delay after it is the delay before.
    let pk = steady_losing(400..415);
    let mut jb = new_jb();
    let before = run_probe(&mut jb, &pk, 11_000_000_000, 7_900_000_000);
    let after = jb.stats();
    assert!((after.current_delay_ms - before.current_delay_ms).abs() <= 1.0, "{before:?} {after:?}");
    assert_eq!(after.concealed_samples - before.concealed_samples, 2400, "{after:?}");
}

#[test]
fn a_loss_found_after_waiting_keeps_the_delay() {
    // A tone paced at a 20 ms transit with 0–3 ms of jitter; 10 packets (200 ms) lost at
    // 8 s (after the warm-up): the buffer, told to wait for a stalled stream, runs dry,
    // waits, then the packet after the loss comes on time. What was concealed while waiting
    // is the start of the loss: the delay after it is the delay before it.
    let pk = steady_losing(400..410);
    let waiting = JitterConfig { spike_wait_ms: 400, spike_tail_weight: 0.0, ..JitterConfig::default() };
    let mut jb = g711_jb(waiting);
    let before = run_probe(&mut jb, &pk, 11_000_000_000, 7_900_000_000);
    let after = jb.stats();
    assert!((after.current_delay_ms - before.current_delay_ms).abs() <= 1.0, "{before:?} {after:?}");
    assert_eq!(after.packets_late, 0, "{after:?}");
    assert_eq!(after.concealed_samples - before.concealed_samples, 1600, "{after:?}");
}

#[test]
fn g711_raises_its_target_only_when_the_late_packets_outweigh_the_move() {
    // 30 s of a 20 ms transit with 0–3 ms of jitter, one packet in 140 (0.7 %) 80 ms
    // late. With rises free the target climbs over the tail (waiting 80 ms more costs the
    // E-model about 1.9 R, less than the late packets' Ie,eff). G.711's rise cost (0.02 R
    // per ms, 1.6 R more for 80 ms) makes the rise dearer than the packets it would save:
    // the target stays with the bulk.
    let pk = stream(1500, 0, |i| {
        let late = if i > 0 && i % 140 == 0 { 80.0 } else { 0.0 };
        20.0 + f64::from(u32::from(i) * 7919 % 4) + late
    });
    let stats = |cfg: JitterConfig| {
        let mut jb = g711_jb(cfg);
        run(&mut jb, &pk, 29_900_000_000);
        jb.stats()
    };
    let free = stats(JitterConfig { target_rise_cost: Some(0.0), ..JitterConfig::default() });
    let priced = stats(JitterConfig::default());
    assert_eq!(free.target_delay_ms, 91.0, "{free:?}");
    assert_eq!(priced.target_delay_ms, 21.0, "{priced:?}");
}

/// PCMU tone, 5 / 5.5 ms transits for 6 s, then one packet in four 32 ms late: rounded up
/// to the 10 ms pulls these transits are 10 and 40 ms, and the target rises from 21 to 41 ms
/// above the fastest, less than the pauses' stretch band above the offset the stream plays
/// at (which therefore stays). A pause from 9 s; from 9.4 s no more packets (a DTX gap, a
/// stream that paused). No spike wait (as for Opus): an empty buffer waits only while below
/// the target. Returns the statistics at 9.45 s (the gap just begins to play) and 9.9 s.
fn dtx_gap_stats() -> (JitterStats, JitterStats) {
    let mut pk = stream(470, 0, |i| match i {
        300.. if i % 4 == 0 => 32.0,
        _ if i % 2 == 0 => 5.0,
        _ => 5.5,
    });
    quiet_from(&mut pk, 450);
    let probe = |at_ns| g711_stats_at(JitterConfig::default(), &pk, at_ns);
    (probe(9_450_000_000), probe(9_900_000_000))
}

#[test]
fn a_pause_does_not_move_the_timeline_up_to_a_target_within_a_pull() {
    let (gap, later) = dtx_gap_stats();
    // The target is above the offset when the gap begins: within a pull of the offset the
    // next packet would be decoded at (the stats' offset is after the pull's 10 ms, and a
    // 20 ms concealment frame is decoded ahead).
    assert_eq!((gap.current_delay_ms, gap.target_delay_ms), (30.0, 41.0), "{gap:?}");
    assert_eq!(gap.packets_late, 0, "{gap:?}");
    // The gap is concealed where it is: the timeline does not move up by a concealed frame
    // to reach the target (it did before: 40 ms here).
    assert_eq!((later.current_delay_ms, later.target_delay_ms), (30.0, 41.0), "{later:?}");
    assert_eq!(later.inserted_samples_for_deceleration, 0, "{later:?}");
}

#[test]
fn a_g711_pause_gives_back_the_delay_between_pulls() {
    // PCMU paced at a 5 ms transit (usable at the next 10 ms pull: 10 ms above the send
    // time), the second packet 15 ms late so the stream waits the initial delay (40 ms
    // here) and starts 30 ms above the pull it needs; from 4 s a pause (a −60 dBFS tone of
    // a 15 ms period, so each stretch takes 15 ms). The target settles at 11 ms above the
    // fastest (the pull and the 1 ms margin). Judged on the raw offset the pause's
    // give-back stopped inside its 20 ms band at 17.75 ms: 7.75 ms past the pull every
    // packet needs, delay that saves no packet. Judged in whole pulls, it lands on that
    // pull: 10 ms above the fastest, no packet late.
    let mut pk = stream(400, 0, |i| if i == 1 { 15.0 } else { 5.0 });
    quiet_tone_where(&mut pk, 0.05236, |s| s >= 200);
    let cfg = JitterConfig { initial_delay_ms: 40, ..JitterConfig::default() };
    let mut jb = g711_jb(cfg);
    run(&mut jb, &pk, 8_000_000_000);
    let s = jb.stats();
    assert_eq!((s.current_delay_ms, s.target_delay_ms), (10.0, 11.0), "{s:?}");
    assert_eq!((s.packets_late, s.packets_discarded), (0, 0), "{s:?}");
}

/// What a [`Toward`] decoder was told: the next packet and the samples leading into it.
type Told = std::sync::Arc<std::sync::Mutex<Vec<(Vec<u8>, usize)>>>;

/// A G.711 decoder that records what [`Decoder::conceal_toward`] was told.
struct Toward {
    inner: G711CodecDecoder,
    told: Told,
}

impl crate::codec::Decoder for Toward {
    fn info(&self) -> &crate::codec::CodecInfo {
        self.inner.info()
    }
    fn decode(&mut self, payload: Option<&[u8]>, out: &mut [f32]) -> Result<usize, crate::codec::CodecError> {
        self.inner.decode(payload, out)
    }
    fn reset(&mut self) {
        self.inner.reset();
    }
    fn samples_in(&self, payload: &[u8]) -> Result<usize, crate::codec::CodecError> {
        self.inner.samples_in(payload)
    }
    fn conceal_toward(&mut self, next: &[u8], samples: usize) {
        self.told.lock().unwrap().push((next.to_vec(), samples));
        self.inner.conceal_toward(next, samples);
    }
}

#[test]
fn a_loss_is_concealed_toward_the_packet_after_it() {
    // A steady stream (5 ms transit) that loses the packets after sequence 46: the buffer
    // plays a few tens of ms behind, so the gap's first 20 ms are concealed before packet
    // 50 arrives; then it gives up on the gap and the decoder is told that the gap's other
    // 320 samples lead into packet 50 (once: nothing else in the stream is a loss).
    let told = Told::default();
    let dec = Toward { inner: G711CodecDecoder::new(G711Law::Ulaw), told: std::sync::Arc::clone(&told) };
    let mut jb = JitterBuffer::new(Box::new(dec), JitterConfig::default()).unwrap();
    let mut pk = stream(100, 7, |_| 5.0);
    pk.retain(|p| !(47..=49).contains(&p.meta.sequence));
    let next = pk.iter().find(|p| p.meta.sequence == 50).unwrap().payload().to_vec();
    run(&mut jb, &pk, 2_200_000_000);
    let told = told.lock().unwrap();
    assert_eq!(told.len(), 1, "{:?}", told.iter().map(|t| t.1).collect::<Vec<_>>());
    assert_eq!((told[0].0.as_slice(), told[0].1), (next.as_slice(), 320));
}

#[test]
fn a_payload_type_not_negotiated_is_foreign_not_bad_and_leaves_the_stream_alone() {
    // A PCMU stream with a DTMF-like packet of payload type 101 (its own sequence space: the
    // sender numbers it apart here, so the audio's loss accounting is untouched) every 5th
    // packet, and one empty PCMU payload (bad).
    let mut packets = Vec::new();
    for k in 0..50u16 {
        packets.push(pcmu(k, u32::from(k) * 160, 7, u64::from(k) * 20_000_000 + 1));
        if k % 5 == 4 {
            let meta = PacketMeta { payload_type: 101, sequence: 1000 + k, ..pcmu(k, 0, 7, 0).meta };
            let meta = PacketMeta { arrival_ns: u64::from(k) * 20_000_000 + 2, ..meta };
            packets.push(Packet::from_payload(meta, &[1, 0x80, 0, 160]).unwrap());
        }
    }
    let empty = PacketMeta { sequence: 50, timestamp: 50 * 160, arrival_ns: 50 * 20_000_000 + 1, ..packets[0].meta };
    packets.push(Packet::from_payload(empty, &[]).unwrap());
    let mut jb = new_jb();
    let _ = run(&mut jb, &packets, 1_200_000_000);
    let s = jb.stats();
    assert_eq!((s.packets_received, s.packets_foreign, s.packets_bad), (61, 10, 1), "{s:?}");
    assert_eq!(s.packets_discarded, 1, "only the bad packet: {s:?}");
    // The node reports only the bad packet as a bad-input event.
    let mut node = JitterBufferNode::new(
        Box::new(G711CodecDecoder::new(G711Law::Ulaw)),
        JitterConfig::default(),
        rvoip_media_graph::Quantum::MS_10,
    )
    .unwrap();
    let mut out = [0.0f32; 80];
    let errors: u32 = packets.iter().map(|p| node.play_cycle([(&p.meta, p.payload())].into_iter(), &mut out)).sum();
    assert_eq!((errors, node.buffer().stats().packets_foreign), (1, 10));
}

/// The added delay (playout − send time, ms) once a second from 20 s of `secs` seconds of a
/// PCMU stream from a sender `ppm` fast: 3 s of a tone, then a 1 s pause (a −60 dBFS tone),
/// over and over, 20 ms transit plus exponential jitter (mean 3 ms).
fn drift_pause_delays(ppm: f64, secs: u32) -> Vec<f64> {
    let mut rng = SplitMix64::new(11);
    let mut pk: Vec<Packet> = (0..secs * 50)
        .map(|i: u32| {
            let send_ms = f64::from(i) * 20.0 / (1.0 + ppm * 1e-6);
            let jitter = -3.0 * (1.0 - rng.unit()).ln();
            pcmu(i as u16, i * 160, 1, ((send_ms + 20.0 + jitter) * 1e6) as u64)
        })
        .collect();
    pk.sort_by_key(|p| p.meta.arrival_ns);
    quiet_where(&mut pk, |s| (s / 50) % 4 == 3);
    let mut jb = new_jb();
    let mut trace = Vec::new();
    run_each(&mut jb, &pk, u64::from(secs) * 1_000_000_000, |now, jb, _| {
        // Sampled at the start of each second from 20 s (the tick after the pull at `now`).
        let next = now + TICK_NS;
        if next >= 20_000_000_000 && next % 1_000_000_000 == 0 {
            // Offset = playout − timestamp; a timestamp t µs in was sent t·ppm/(1 + ppm) µs
            // earlier than its value says.
            let t_s = next as f64 * 1e-9;
            trace.push(jb.lead_floor().0 as f64 / 1000.0 + t_s * ppm * 1e-3);
        }
    });
    assert_eq!(jb.stats().packets_late, 0, "{:?}", jb.stats());
    trace
}

#[test]
fn a_fast_sender_clock_is_followed_in_pauses_without_a_step() {
    // 300 ppm fast over 160 s: 42 ms of drift. Not followed, the delay climbs 0.3 ms/s
    // until the pauses' band cuts it in one step (spread 33.3 ms, a 19.3 ms step); followed,
    // it moves by pitch periods in the pauses, and by a pull (10 ms) where the target,
    // learnt on the pull grid, steps down under the offset (15.5 ms, 10.8 ms).
    let d = drift_pause_delays(300.0, 160);
    let spread = d.iter().fold(f64::MIN, |a, &b| a.max(b)) - d.iter().fold(f64::MAX, |a, &b| a.min(b));
    let step = d.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f64::max);
    assert!(spread < 20.0 && step < 15.0, "spread {spread:.1} ms, largest step {step:.1} ms: {d:.1?}");
}

/// A G.711 stream at a steady 5 ms transit, a pause from packet 200, and in it a 30 ms blip
/// that drains over three packets (260: +30 ms, 261: +20, 262: +10), each arriving after the
/// one before it, so packet 260 is the next in sequence when it comes, late, while the buffer
/// conceals. Returns the statistics at 5.1 s (before the blip) and at 6.5 s.
fn pause_blip_stats(cfg: JitterConfig) -> (JitterStats, JitterStats) {
    let mut pk = stream(400, 0, |i| match i {
        260 => 35.0,
        261 => 25.0,
        262 => 15.0,
        _ if i % 2 == 0 => 5.0,
        _ => 6.0,
    });
    quiet_from(&mut pk, 200);
    let probe = |at_ns| g711_stats_at(cfg, &pk, at_ns);
    (probe(5_100_000_000), probe(6_500_000_000))
}

#[test]
fn g711_conceals_a_late_packet_in_a_pause_instead_of_moving_the_timeline() {
    // G.711's default: no rewind. The blip's late packets are concealed where they were
    // due (a pause), not played by stretching the timeline. The network is steady, so the
    // pause had given back the pull of excess the start left (see
    // `a_steady_network_gives_a_whole_pull_of_excess_back_in_a_pause`): the blip's last
    // packet (+10 ms) then needs that pull, and the buffer waits for it in the pause, one
    // pull and no more.
    let (before, after) = pause_blip_stats(JitterConfig::default());
    assert!(after.packets_late >= 1, "{after:?}");
    assert_eq!(after.inserted_samples_for_deceleration, before.inserted_samples_for_deceleration, "{after:?}");
    let g711_rise = after.current_delay_ms - before.current_delay_ms;
    assert!(g711_rise <= 10.0, "{before:?} {after:?}");
    // With a rewind (Opus's default) the first late packet is played: the concealment
    // became a stretch and the delay stepped up further.
    let cfg = JitterConfig { rewind_ms: Some(REWIND_FEC_MS), ..JitterConfig::default() };
    let (before, after) = pause_blip_stats(cfg);
    assert!(after.inserted_samples_for_deceleration > before.inserted_samples_for_deceleration, "{after:?}");
    assert!(after.current_delay_ms - before.current_delay_ms > g711_rise, "{before:?} {after:?}");
}

/// A 40 s G.711 call over a Wi-Fi-like link (5 ms transit, every 100–300 ms a 20–80 ms
/// hold whose packets arrive together when it ends), talking 2 s and pausing 1.5 s (a
/// −60 dBFS tone; holds and jitter from `seed`): the statistics at 12 s (after the warm-up)
/// and at 39.5 s.
fn wifi_hold_stats(seed: u64) -> (JitterStats, JitterStats) {
    let mut rng = SplitMix64::new(seed);
    let n = 2000u16;
    let mut holds = Vec::new();
    let mut t = 0.0;
    while t < f64::from(n) * 20.0 {
        t += 100.0 + 200.0 * rng.unit();
        let len = 20.0 + 60.0 * rng.unit();
        holds.push((t, t + len));
        t += len;
    }
    let jitter: Vec<f64> = (0..n).map(|_| 2.0 * rng.unit()).collect();
    let mut pk = stream(n, 0, |i| {
        let sent = f64::from(i) * 20.0;
        let arrive = sent + 5.0 + jitter[usize::from(i)];
        let held = holds.iter().find(|&&(a, b)| (a..b).contains(&arrive)).map_or(arrive, |&(_, b)| b + 0.5);
        held - sent
    });
    quiet_where(&mut pk, |s| s % 175 >= 100);
    let mut jb = g711_jb(JitterConfig::default());
    let at = run_probe(&mut jb, &pk, 39_500_000_000, 12_000_000_000);
    (at, jb.stats())
}

#[test]
fn g711_takes_a_pull_below_the_target_in_a_deep_pause_not_by_running_dry_in_speech() {
    // Three seeds where a hold longer than those before raises the target by a pull after
    // the warm-up: the offset follows in the next deep pause (a stretch of the quiet tone),
    // so the following holds find it there and nothing is concealed in speech after 12 s.
    // Without the deep pause's one-pull band the offset stayed a pull below (the pause
    // band is 20 ms) and a later hold ran the buffer dry in speech: 80–240 samples
    // concealed there, a timeline step in a talk spurt (seeds 8 and 12: one packet late).
    let loud = |s: &JitterStats| s.concealed_samples - s.silent_concealed_samples;
    for seed in [0, 8, 12] {
        let (at, end) = wifi_hold_stats(seed);
        assert_eq!(loud(&end), loud(&at), "seed {seed}: {at:?} {end:?}");
        assert_eq!(end.packets_late, at.packets_late, "seed {seed}: {at:?} {end:?}");
        assert!(end.inserted_samples_for_deceleration > 0, "seed {seed}: {end:?}");
    }
}

/// 30 s of PCMU tone (speech throughout, no pause) over a heavy-tailed network: each packet
/// 20 ms plus a Pareto(α 2, 7.5 ms) delay, at most 500 ms, first in first out (a held packet
/// holds those behind it: a spike and its drain), from `seed`. Returns the statistics at
/// 5 s (the end of the warm-up's 250 packets) and at the end.
fn pareto_stats(seed: u64) -> (JitterStats, JitterStats) {
    let mut rng = SplitMix64::new(seed);
    let mut uni = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let mut last = 0.0f64;
    let transit: Vec<f64> = (0..1500u16)
        .map(|i| {
            let sent = f64::from(i) * 20.0;
            last = (sent + 20.0 + (7.5 / uni().sqrt()).min(500.0)).max(last);
            last - sent
        })
        .collect();
    let pk = stream(1500, 0, |i| transit[usize::from(i)]);
    let mut jb = new_jb();
    let at = run_probe(&mut jb, &pk, 30_500_000_000, 5_000_000_000);
    (at, jb.stats())
}

#[test]
fn speech_is_not_stretched_toward_a_target_that_one_spike_raised_in_the_warm_up() {
    // Seeds whose first seconds hold a spike that lifts the target 60–150 ms above the
    // offset: the warm-up leaves that rise to a pause (here there is none), so no period
    // is inserted in speech before 5 s. Without the rule 1152–1248 samples were (the
    // target then fell back, and the excess went by accelerating).
    for seed in [5, 9, 10] {
        let (at, _) = pareto_stats(seed);
        assert_eq!(at.inserted_samples_for_deceleration, 0, "seed {seed}: {at:?}");
        assert!(at.packets_late > 0, "seed {seed}: {at:?}");
    }
}

#[test]
fn g711_keeps_a_delay_spike_out_of_the_warm_up_floor() {
    // A 300–500 ms spike in the first seconds: the warm-up floor (mean + 3 sd) without it
    // stays near the bulk's, and the target is the histogram's (141–151 ms). With the
    // spike counted the floor took the target to ~305 ms until the warm-up ended.
    for seed in [1, 2, 6] {
        let (at, _) = pareto_stats(seed);
        assert!(at.packets_late > 0, "seed {seed}: {at:?}");
        assert!(at.target_delay_ms < 200.0, "seed {seed}: {at:?}");
    }
}

/// 6 s of Opus (16 kHz, in-band FEC) over a network of 20–30 ms transit with one delay
/// spike in the warm-up: packet 50 (1 s in) is held `spike_ms`, and those sent behind it
/// arrive with it (first in, first out). Talk spurts of a 220 Hz tone (1.2 s) alternate with
/// silence (0.8 s), so the buffer has pauses to stretch in. Returns the statistics at 5 s
/// (the end of the warm-up's 250 packets) and the largest playout offset above the fastest
/// packet (ms) until then.
fn opus_warm_spike_stats(spike_ms: f64) -> (JitterStats, f64) {
    opus_warm_spike_stats_at(50, spike_ms)
}

/// `n` packets of Opus (16 kHz, 20 ms, in-band FEC): talk spurts of a 220 Hz tone (1.2 s)
/// alternating with silence (0.8 s), packet `i` arriving at `arrival_ms(i)`; sorted by
/// arrival.
fn opus_talk_stream(n: u32, arrival_ms: impl FnMut(u32) -> f64) -> Vec<Packet> {
    opus_spurt_stream(n, |i| i % 100 < 60, arrival_ms)
}

/// `n` packets of Opus (16 kHz, 20 ms, in-band FEC): a 220 Hz tone where `talking(i)`,
/// silence elsewhere, packet `i` arriving at `arrival_ms(i)`; sorted by arrival.
fn opus_spurt_stream(n: u32, talking: impl Fn(u32) -> bool, mut arrival_ms: impl FnMut(u32) -> f64) -> Vec<Packet> {
    use crate::opus::OpusEncoderConfig;
    let mut enc = OpusEncoderConfig::new(16_000, 1).inband_fec(true).packet_loss_percent(10).build().unwrap();
    let mut buf = [0u8; 1500];
    let mut pk: Vec<Packet> = (0..n)
        .map(|i| {
            let talking = talking(i);
            let pcm: Vec<f32> = (0..320)
                .map(|k| {
                    let t = (i * 320 + k) as f32 / 16_000.0;
                    if talking {
                        0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                    } else {
                        0.0
                    }
                })
                .collect();
            let p = enc.encode(&pcm, &mut buf).unwrap();
            let meta = PacketMeta {
                payload_type: 111,
                sequence: i as u16,
                timestamp: i * 960,
                ssrc: 7,
                marker: false,
                arrival_ns: (arrival_ms(i) * 1e6) as u64,
                audio_level: None,
            };
            Packet::from_payload(meta, &buf[..p.len]).unwrap()
        })
        .collect();
    pk.sort_by_key(|p| p.meta.arrival_ns);
    pk
}

/// An Opus buffer (16 kHz, in-band FEC) with the default configuration.
fn opus_jb() -> JitterBuffer {
    let dec = Box::new(crate::opus::OpusCodecDecoder::new(16_000, 1, 20_000).unwrap());
    JitterBuffer::new(dec, JitterConfig::default()).unwrap().with_payload_type(111)
}

/// As [`opus_warm_spike_stats`], the spike at packet `spike_at`.
fn opus_warm_spike_stats_at(spike_at: u32, spike_ms: f64) -> (JitterStats, f64) {
    let mut last = 0.0f64;
    let pk = opus_talk_stream(300, |i| {
        let sent = f64::from(i) * 20.0;
        let jitter = f64::from((i * 7919) % 11);
        let held = if i == spike_at { spike_ms } else { 0.0 };
        last = (sent + 20.0 + jitter + held).max(last);
        last
    });
    let mut jb = opus_jb();
    let (mut at, mut top) = (JitterStats::default(), 0f64);
    run_each(&mut jb, &pk, 501 * TICK_NS, |_, jb, _| {
        let s = jb.stats();
        top = top.max(s.current_delay_ms);
        at = s;
    });
    (at, top)
}

/// 30 s of [`opus_talk_stream`] from a sender `ppm` fast, over 20–30 ms of transit; the
/// first packet of the talk spurt at 20 s (packet 1000) is held `hold_ms` more, and those
/// sent behind it arrive after it (first in, first out).
/// Returns the added delay (playout − send time, ms) at 19.5 s (the pause before), at
/// 20.5 s (in the talk spurt) and at 23 s (after the next pause), and the statistics.
fn opus_fast_rewind_delays(ppm: f64, hold_ms: f64) -> ([f64; 3], JitterStats) {
    let mut last = 0.0f64;
    let pk = opus_talk_stream(1500, |i| {
        let sent = f64::from(i) * 20.0 / (1.0 + ppm * 1e-6);
        let held = if i == 1000 { hold_ms } else { 0.0 };
        last = (sent + 20.0 + f64::from((i * 7919) % 11) + held).max(last);
        last
    });
    let mut jb = opus_jb();
    let mut d = [0f64; 3];
    run_each(&mut jb, &pk, 3000 * TICK_NS, |now, jb, _| {
        let t_s = (now + TICK_NS) as f64 * 1e-9;
        let added = jb.lead_floor().0 as f64 / 1000.0 + t_s * ppm * 1e-3;
        match now / TICK_NS + 1 {
            1950 => d[0] = added,
            2050 => d[1] = added,
            2300 => d[2] = added,
            _ => {}
        }
    });
    (d, jb.stats())
}

#[test]
fn opus_does_not_stretch_up_to_a_warm_up_floor_that_one_spike_raised() {
    // A 450–600 ms spike 1 s in: its packet and the 20–27 queued behind it all arrive at
    // once, late. With in-band FEC the spike stays in the warm-up floor (mean + 3 sd of the
    // offsets), which jumps toward its height for the rest of the warm-up, while the
    // histogram's E-model target falls back within a few dozen packets. Preemptive expand
    // aims at the histogram's target: the offset stays under 200 ms and under 0.1 s of
    // periods is inserted by 5 s. Stretched up to the floor, the offset reached 384–533 ms
    // with 0.32–0.47 s of periods inserted.
    for spike in [450.0, 500.0, 600.0] {
        let (at, top) = opus_warm_spike_stats(spike);
        assert!(at.packets_late >= 20, "spike {spike}: {at:?}");
        assert!(at.target_delay_ms > 250.0, "spike {spike}: the floor holds the target: {at:?}");
        assert!(top < 200.0, "spike {spike}: offset up to {top:.0} ms: {at:?}");
        assert!(at.inserted_samples_for_deceleration < 1600, "spike {spike}: {at:?}");
    }
}

/// 6 s of G.711 over a network of 20–30 ms transit with one delay spike in the first few
/// dozen packets: packet `spike_at` is held `spike_ms`, and those sent behind it arrive with
/// it (first in, first out). Talk spurts of a 250 Hz tone (1.2 s) alternate with −60 dBFS
/// pauses (0.8 s), the first 0.4 s a pause (the leading silence). Returns the statistics at
/// 5 s (the end of the warm-up's 250 packets) and the largest playout delay (ms) until then.
fn g711_early_spike_stats(spike_at: u16, spike_ms: f64) -> (JitterStats, f64) {
    let mut last = 0.0f64;
    let transit: Vec<f64> = (0..300u16)
        .map(|i| {
            let sent = f64::from(i) * 20.0;
            let jitter = f64::from((u32::from(i) * 7919) % 11);
            let held = if i == spike_at { spike_ms } else { 0.0 };
            last = (sent + 20.0 + jitter + held).max(last);
            last - sent
        })
        .collect();
    let mut pk = stream(300, 0, |i| transit[usize::from(i)]);
    quiet_where(&mut pk, |s| s < 20 || (s - 20) % 100 >= 60);
    let mut jb = new_jb();
    let (mut at, mut top) = (JitterStats::default(), 0f64);
    run_each(&mut jb, &pk, 5_000_000_000, |_, jb, _| {
        let s = jb.stats();
        top = top.max(s.current_delay_ms);
        at = s;
    });
    (at, top)
}

#[test]
fn g711_does_not_stretch_its_pauses_up_to_a_target_that_an_early_spike_raised() {
    // A 200–300 ms spike among the first 30 packets: its packet and the 7–12 queued behind
    // it arrive late, the histogram's E-model target jumps toward the spike's height and
    // falls back within seconds (141–151 ms at 5 s). Stretched in pauses only up to the
    // warm-up floor (the spike left out), the offset stays at 60–120 ms and nothing is
    // accelerated by 5 s. Stretched up to the target, it reached 209–296 ms with 1134–1890
    // samples inserted, then 470–1159 were taken out again.
    for (spike_at, spike_ms) in [(12, 200.0), (15, 250.0), (18, 300.0), (30, 250.0)] {
        let (at, top) = g711_early_spike_stats(spike_at, spike_ms);
        assert!(at.packets_late >= 7, "spike {spike_at}/{spike_ms}: {at:?}");
        assert!(at.target_delay_ms > 130.0, "spike {spike_at}/{spike_ms}: {at:?}");
        assert!(top < 130.0, "spike {spike_at}/{spike_ms}: offset up to {top:.0} ms: {at:?}");
        assert!(at.inserted_samples_for_deceleration < 400, "spike {spike_at}/{spike_ms}: {at:?}");
        assert_eq!(at.removed_samples_for_acceleration, 0, "spike {spike_at}/{spike_ms}: {at:?}");
    }
}

/// 6 s of PCMU tone (speech throughout) at a 20 ms transit (0–3 ms of jitter) with one
/// hold at packet `at`: it and the next arrive together `first_ms` later than usual, and
/// the four after them together `rest_ms` later still (the hold's drain). Returns the
/// statistics at 5.5 s.
fn held_pair_stats(at: u16, first_ms: f64, rest_ms: f64) -> JitterStats {
    let pk = stream(300, 0, |i| {
        let normal = 20.0 + f64::from(u32::from(i) * 7919 % 4);
        let held = f64::from(at) * 20.0 + 20.0 + first_ms;
        let sent = f64::from(i) * 20.0;
        match i.checked_sub(at) {
            Some(0 | 1) => held - sent,
            Some(2..=5) => (held + rest_ms - sent).max(normal),
            _ => normal,
        }
    });
    g711_stats_at(JitterConfig::default(), &pk, 5_500_000_000)
}

#[test]
fn g711_plays_the_late_packets_a_wait_in_speech_would_have_concealed() {
    // The buffer runs dry at its target and conceals 30–40 ms as a loss; the hold's first
    // two packets then arrive 20–40 ms late, the target jumps 60–80 ms, and with the next
    // packets still 40 ms away the buffer waits up to it. The two late packets are played
    // in that wait's place (the playout point goes back to them): none is late, and the
    // delay steps up as the wait would have made it. Without the rule both were discarded
    // and the wait concealed 40 ms more (hold at 100: 2 late, 640 samples concealed).
    for (at, first, rest) in [(100, 90.0, 40.0), (150, 90.0, 40.0), (200, 85.0, 45.0)] {
        let s = held_pair_stats(at, first, rest);
        assert_eq!(s.packets_late, 0, "hold at {at}: {s:?}");
        assert_eq!(s.packets_discarded, 0, "hold at {at}: {s:?}");
        assert!(s.concealed_samples <= 320, "hold at {at}: {s:?}");
    }
}

#[test]
fn a_tone_without_pauses_moves_up_to_its_target_in_the_warm_up() {
    // A PCMU tone from its first packet, every fourth packet 70 ms late, 4 s (inside the
    // 250-packet warm-up): G.711 moves toward its target only in pauses during the warm-up,
    // and a tone has none, so every late packet was concealed (980 ms of 4 s, 40 of 40
    // seeds of arrival jitter and phase). Separate late discards with no pause between them
    // since the stream started now let it stretch the tone: the rest play.
    for seed in 0..20u64 {
        let mut rng = SplitMix64::new(seed);
        let jitter: Vec<f64> = (0..215).map(|_| rng.below(4000) as f64 / 1000.0).collect();
        let phase = (seed % 10) as f64;
        let pk = stream(215, 0, |i| phase + jitter[usize::from(i)] + if i % 4 == 1 { 70.0 } else { 0.0 });
        let mut jb = new_jb();
        run(&mut jb, &pk, 4_000_000_000);
        let s = jb.stats();
        assert!(s.concealed_samples <= 8 * 150, "seed {seed}: {} ms concealed: {s:?}", s.concealed_samples / 8);
    }
}

#[test]
fn opus_does_not_stretch_up_to_a_young_histograms_target_that_one_spike_raised() {
    // A 250–350 ms spike among the first 60 packets: its packet and the 10–15 queued behind
    // it are a fifth of what the delay histogram has seen, and its E-model target jumps
    // toward the spike's height before falling back as packets come. Once two packets were
    // far above the bulk's floor, preemptive expand aims at that floor's target: the
    // offset stays at its start (60 ms) and nothing is stretched or accelerated by 5 s.
    // Aimed at the histogram's target, the offset reached 236–345 ms with 2811–4553
    // samples inserted and 1190–1684 taken out again.
    for at in [20, 40, 60] {
        for spike in [250.0, 350.0] {
            let (s, top) = opus_warm_spike_stats_at(at, spike);
            assert!(s.packets_late >= 10, "spike {spike} at {at}: {s:?}");
            assert!(top < 120.0, "spike {spike} at {at}: offset up to {top:.0} ms: {s:?}");
            assert!(s.inserted_samples_for_deceleration < 800, "spike {spike} at {at}: {s:?}");
            assert_eq!(s.removed_samples_for_acceleration, 0, "spike {spike} at {at}: {s:?}");
        }
    }
}

#[test]
fn a_fast_sender_gives_a_rewind_back_in_the_next_pause() {
    // The talk spurt's first packet at 20 s comes 20–40 ms after its playout point, in the
    // pause: Opus rewinds, the two 20 ms frames concealed become a stretch (+40 ms). From a
    // sender 300 ppm fast the whole excess over the target is owed and given back in the
    // next pause (to 6.7 ms below the delay before it: the band's excess went too); from an
    // exact or a slow clock the pause's band keeps up to 20 ms of it (+15.3 / +9.7 ms), as
    // it did for a fast one without the rule (+11.8 ms).
    let (fast, s) = opus_fast_rewind_delays(300.0, 80.0);
    assert_eq!(s.packets_late, 0, "{s:?}");
    assert!(fast[1] - fast[0] > 30.0, "the rewind: {fast:.1?}");
    assert!(fast[2] - fast[0] < 2.0, "given back: {fast:.1?}");
    for ppm in [0.0, -300.0] {
        let (d, s) = opus_fast_rewind_delays(ppm, 80.0);
        assert_eq!(s.packets_late, 0, "{ppm} ppm: {s:?}");
        assert!(d[1] - d[0] > 30.0 && d[2] - d[0] > 8.0, "{ppm} ppm: {d:.1?}");
    }
}

/// 30 s of [`opus_talk_stream`] over moderate jitter: 20 ms plus an exponential delay of
/// mean 8 ms drawn from `seed` (first in, first out). Returns the added delay (ms) at 8 s and
/// the statistics at the end.
fn opus_moderate_stats(seed: u64) -> (f64, JitterStats) {
    let mut rng = SplitMix64::new(seed);
    let mut last = 0.0f64;
    let pk = opus_talk_stream(1500, |i| {
        last = (f64::from(i) * 20.0 + 20.0 - 8.0 * (1.0 - rng.unit()).ln()).max(last);
        last
    });
    let mut jb = opus_jb();
    let mut at_8s = 0.0;
    run_each(&mut jb, &pk, 3000 * TICK_NS, |now, jb, _| {
        if now / TICK_NS + 1 == 800 {
            at_8s = jb.stats().current_delay_ms;
        }
    });
    (at_8s, jb.stats())
}

#[test]
fn opus_does_not_accelerate_into_a_young_targets_one_step_dip() {
    // Moderate jitter, two draws in which the young histogram's target falls one pull step
    // in the first 8 s and comes back. A pause accelerates only toward a lower level that
    // has held 1 s: the offset stays where the warm-up left it (59.4 / 60.0 ms at 8 s),
    // nothing is concealed, and only the warm-up's give-back is removed (170 / 191
    // samples). Without the rule a pause in the dip takes the offset down (48.4 / 49.4 ms
    // at 8 s), a later talk spurt's first packet makes the buffer wait for it (one
    // concealment event), and the wait is given back in a later pause (506 / 581 removed).
    // (Of the first 39 seeds these two are where the target dips before 8 s; on the others
    // the rule changes nothing or a few samples.)
    for seed in [12, 32] {
        let (at_8s, s) = opus_moderate_stats(seed);
        assert!(at_8s > 55.0, "seed {seed}: accelerated into the dip: {at_8s:.1} ms at 8 s, {s:?}");
        assert_eq!(s.concealment_events, 0, "seed {seed}: {s:?}");
        assert!(s.removed_samples_for_acceleration < 200, "seed {seed}: {s:?}");
    }
}

/// 40 s of Opus from a sender 300 ppm slow, pauses and talk spurts of 1.5 s (starting with
/// a pause), 20 ms transit plus uniform jitter (0–3 ms for the first 1.5 s, then 0–15 ms,
/// from `seed`), through a buffer whose margin may reach 40 ms (three times the jitter: the
/// target then sits more than half a packet above the offset the start left, as on the
/// held-out stream the rule was found on). Returns the statistics at 12 s and at the end.
fn opus_slow_sender_stats(seed: u64) -> (JitterStats, JitterStats) {
    let mut rng = SplitMix64::new(seed);
    let jitter: Vec<f64> = (0..2000).map(|i| if i < 75 { 3.0 } else { 15.0 } * rng.unit()).collect();
    let pk = opus_spurt_stream(
        2000,
        |i| (i + 75) % 150 < 75,
        |i| f64::from(i) * 20.0 / (1.0 - 300e-6) + 20.0 + jitter[i as usize],
    );
    let dec = Box::new(crate::opus::OpusCodecDecoder::new(16_000, 1, 20_000).unwrap());
    let cfg = JitterConfig { margin_ms: 40, ..JitterConfig::default() };
    let mut jb = JitterBuffer::new(dec, cfg).unwrap().with_payload_type(111);
    let at = run_probe(&mut jb, &pk, 40_500_000_000, 12_000_000_000);
    (at, jb.stats())
}

#[test]
fn a_slow_opus_sender_is_stretched_up_to_the_target_in_a_deep_pause_not_by_running_dry() {
    // After the warm-up the offset sits 10–16 ms under the target (inside the pause's 20 ms
    // band) while the slow clock's transits climb 0.3 ms/s. The deep pause's half-packet band
    // stretches the quiet tone up toward the target; without it the offset stayed there until
    // the buffer ran dry and the timeline stepped up a whole packet (+20 ms on every
    // seed, nothing inserted).
    for seed in 0..8 {
        let (at, end) = opus_slow_sender_stats(seed);
        let inserted = end.inserted_samples_for_deceleration - at.inserted_samples_for_deceleration;
        assert!(inserted > 0, "seed {seed}: {at:?} {end:?}");
        let rise = end.current_delay_ms - at.current_delay_ms;
        assert!(rise < 18.0, "seed {seed}: delay {:.1} -> {:.1} ms", at.current_delay_ms, end.current_delay_ms);
        assert_eq!(
            end.concealed_samples - end.silent_concealed_samples,
            at.concealed_samples - at.silent_concealed_samples,
            "seed {seed}"
        );
    }
}

/// 40 s of Opus talk spurts (a 220 Hz tone for 1.2 s, 1.3 s pauses) over moderate jitter: 20 ms
/// plus a gamma delay of mean 15 ms (two exponentials of 7.5 ms) drawn from `seed`, first in,
/// first out. Returns the statistics at the end.
fn opus_gamma_stats(seed: u64) -> JitterStats {
    let mut rng = SplitMix64::new(seed);
    let mut last = 0.0f64;
    let pk = opus_spurt_stream(
        2000,
        |i| i % 125 < 60,
        |i| {
            let g = -7.5 * (1.0 - rng.unit()).ln() - 7.5 * (1.0 - rng.unit()).ln();
            last = (f64::from(i) * 20.0 + 20.0 + g).max(last);
            last
        },
    );
    let mut jb = opus_jb();
    run(&mut jb, &pk, 4000 * TICK_NS);
    jb.stats()
}

#[test]
fn opus_conceals_a_tail_packet_in_speech_rather_than_wait_a_frame_past_the_target() {
    // After the warm-up the offset sits a few ms under the target (61 ms) and a packet of
    // the jitter's tail runs the buffer dry in speech. A whole 20 ms frame of waiting would
    // land further above the target than the offset is under it, so the packet is
    // concealed as a loss and the offset stays where it was (no timeline move). Waiting,
    // the buffer stepped up 20 ms in speech and gave part of it back in a later pause
    // (seed 17: 0 late, 170 samples removed, 59.4 ms at the end; seed 9: 1 late, 510
    // removed, 68.1 ms, 7 ms over the target).
    for (seed, late, removed, delay_ms) in [(17, 1, 0, 50.0), (9, 3, 340, 58.8)] {
        let s = opus_gamma_stats(seed);
        assert_eq!((s.packets_late, s.removed_samples_for_acceleration), (late, removed), "seed {seed}: {s:?}");
        assert_eq!(s.inserted_samples_for_deceleration, 0, "seed {seed}: {s:?}");
        assert!((s.current_delay_ms - delay_ms).abs() < 0.05, "seed {seed}: {s:?}");
        assert!(s.current_delay_ms < s.target_delay_ms, "seed {seed}: {s:?}");
    }
}
