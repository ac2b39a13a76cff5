//! A live call whose packets pass an impairing relay (loss in bursts, 0–60 ms delay so 20 ms
//! packets overtake each other, duplicates): the receiving session's jitter buffer puts
//! them back in order, conceals what is missing, and the worker's cycles stay far inside
//! the quantum; quality alerts are raised under heavy loss and cleared after it.

#[path = "support/impair.rs"]
mod impair;

use impair::{Impairment, Relay};
use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::session::*;
use std::time::{Duration, Instant};

#[test]
fn impaired_call_is_reordered_and_concealed_within_its_cycles() {
    // SCHED_FIFO where the system grants it, as in production: a deadline miss then means a
    // cycle ran too long, not that the worker woke late behind other processes.
    let config = MediaEngineConfig::builder()
        .workers(1)
        .realtime(Some(50))
        .pin_workers(false)
        .rtcp_interval(Duration::from_millis(500))
        .build();
    let engine = MediaEngine::start(config).unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let wait = Duration::from_secs(5);
    // B receives (and sends straight back to A); A sends through the relay.
    let b_params = MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap();
    let mut b = engine.create_media_session(DialogId::from("b"), b_params).unwrap();
    let relay = Relay::start(b.local_addr(), Impairment::moderate(7));
    let a_params = MediaSessionParams::new(any, Some(relay.addr()), CodecId::Pcmu).unwrap();
    let mut a = engine.create_media_session(DialogId::from("a"), a_params).unwrap();
    let mut p = b.params().clone();
    p.remote = rvoip_media_core::transport::Remote::Fixed(a.local_addr());
    b.update(p).unwrap().wait(wait).unwrap();
    let mut mic = a.take_audio_in().unwrap();
    let mut ear = b.take_audio_out().unwrap();
    b.start().unwrap().wait(wait).unwrap();
    a.start().unwrap().wait(wait).unwrap();

    // A 440 Hz tone at -12 dBFS, paced in real time; B's output drained.
    let start = Instant::now();
    let (mut pushed, mut n) = (0u64, 0usize);
    let mut frame = [0f32; 80];
    let mut tail = Vec::new();
    while start.elapsed() < Duration::from_secs(4) {
        let due = start.elapsed().as_millis() as u64 / 10 + 3;
        while pushed < due {
            for s in frame.iter_mut() {
                *s = 0.25 * (2.0 * std::f32::consts::PI * 440.0 * n as f32 / 8000.0).sin();
                n += 1;
            }
            if mic.push(&frame).is_err() {
                break;
            }
            pushed += 1;
        }
        while let Some(f) = ear.pop() {
            if start.elapsed() > Duration::from_secs(3) {
                tail.extend_from_slice(f.samples());
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let sa = a.statistics();
    let sb = b.statistics();
    let r = relay.stats();
    let fifo = engine.engine().status().all_realtime();
    a.stop().unwrap().wait(wait).unwrap();
    b.stop().unwrap().wait(wait).unwrap();
    let j = &sb.receive.stats;
    eprintln!("relay {r:?}\nreceiver buffer {j:?}\nburst ratio {:.2}", sb.receive.burst_ratio());

    // The relay did impair: losses, reordering, duplicates.
    assert!(r.dropped >= 5 && r.reordered >= 10 && r.duplicated >= 1, "{r:?}");
    // Loss as the buffer counts it (RFC 3550 expected - received, duplicates counted as
    // received) is what the relay dropped minus what it duplicated, up to the packets in
    // flight at the end.
    let relay_net = r.dropped as i64 - r.duplicated as i64;
    assert!((j.packets_lost - relay_net).abs() <= 3, "buffer lost {} vs relay {relay_net}", j.packets_lost);
    // Reordered packets were put back in order: few of them came too late to play.
    assert!(j.packets_late * 4 < r.reordered, "late {} of {} reordered", j.packets_late, r.reordered);
    assert_eq!(j.packets_duplicate, r.duplicated, "every duplicate found");
    // Losses were concealed.
    assert!(j.concealment_events >= 3 && j.concealed_samples >= 160 * 3, "{j:?}");
    assert!(sb.receive.effective_loss_rate() > 0.0 && sb.receive.effective_loss_rate() < 0.2, "{:?}", sb.receive);
    // And the tone came through at its level (-12 dBFS: rms 0.177).
    let rms = (tail.iter().map(|v| v * v).sum::<f32>() / tail.len().max(1) as f32).sqrt();
    assert!(tail.len() >= 4000 && rms > 0.12 && rms < 0.22, "rms {rms} over {} samples", tail.len());
    // No cycle with the buffer on the path comes near the 10 ms quantum. Deadline misses
    // (a cycle finishing after the next one was due) are reported; on this shared 2-vCPU
    // KVM guest even a SCHED_FIFO worker is now and then woken late (vCPU steal, the
    // other engineers' builds), so up to 1 % of cycles is tolerated — most runs have 0.
    let misses = sb.graph.deadline_misses + sa.graph.deadline_misses;
    eprintln!(
        "SCHED_FIFO {fifo}: deadline misses {misses} in {} cycles, longest cycle {} µs",
        sb.graph.cycles,
        sb.graph.max_ns.max(sa.graph.max_ns) / 1000
    );
    assert!(sb.graph.max_ns < 5_000_000 && sa.graph.max_ns < 5_000_000, "{:?} {:?}", sb.graph, sa.graph);
    assert!(misses * 100 <= sb.graph.cycles, "{:?} {:?}", sb.graph, sa.graph);
}

#[test]
fn quality_alert_is_raised_under_heavy_loss_and_cleared_after_recovery() {
    use rvoip_media_core::quality::alert::AlertConfig;
    let config = MediaEngineConfig::builder().workers(1).realtime(None).pin_workers(false).build();
    let engine = MediaEngine::start(config).unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let wait = Duration::from_secs(5);
    let b_params = MediaSessionParams::new(any, None, CodecId::Pcmu).unwrap();
    let mut b = engine.create_media_session(DialogId::from("b"), b_params).unwrap();
    // 40 % loss in bursts: MOS far below 3.6.
    let heavy = Impairment { loss: 0.4, burst: 0.5, delay_ms: (0, 20), duplicate: 0.0, seed: 3 };
    let relay = Relay::start(b.local_addr(), heavy);
    let a_params = MediaSessionParams::new(any, Some(relay.addr()), CodecId::Pcmu).unwrap();
    let mut a = engine.create_media_session(DialogId::from("a"), a_params).unwrap();
    let mut p = b.params().clone();
    p.remote = rvoip_media_core::transport::Remote::Fixed(a.local_addr());
    b.update(p).unwrap().wait(wait).unwrap();
    b.set_quality_alerts(AlertConfig { threshold: 3.6, margin: 0.2, hold_ms: 1000 });
    b.start().unwrap().wait(wait).unwrap();
    a.start().unwrap().wait(wait).unwrap();
    let start = Instant::now();
    let mut alerts = Vec::new();
    let mut cleaned_at = None;
    while start.elapsed() < Duration::from_secs(20) {
        while let Some(e) = b.poll_event() {
            if let SessionEvent::QualityAlert { degraded, mos, loss_percent, .. } = e {
                eprintln!(
                    "{:.1} s: degraded {degraded}, MOS {mos:.2}, loss {loss_percent:.1} %",
                    start.elapsed().as_secs_f64()
                );
                alerts.push((start.elapsed(), degraded, mos, loss_percent));
            }
        }
        if alerts.len() == 1 && cleaned_at.is_none() {
            relay.set(Impairment::clean());
            cleaned_at = Some(start.elapsed());
        }
        if alerts.len() == 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let final_quality = b.statistics().quality;
    a.stop().unwrap().wait(wait).unwrap();
    b.stop().unwrap().wait(wait).unwrap();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    // Raised once the estimate had enough packets and stayed low for the hold time.
    let (t1, d1, mos1, loss1) = alerts[0];
    assert!(d1 && mos1 < 3.6 && loss1 > 20.0, "{alerts:?}");
    assert!(t1 >= Duration::from_secs(3) && t1 < Duration::from_secs(8), "{alerts:?}");
    // Cleared only after the lossy seconds left the 5 s window and MOS held above 3.8 for
    // the hold time: not before, and not flapping in between.
    let (t2, d2, mos2, loss2) = alerts[1];
    let clean = cleaned_at.unwrap();
    assert!(!d2 && mos2 > 3.8 && loss2 < 5.0, "{alerts:?}");
    assert!(
        t2 > clean + Duration::from_secs(2) && t2 < clean + Duration::from_secs(9),
        "{alerts:?} clean at {clean:?}"
    );
    // The whole-call figure still remembers the loss.
    assert!(final_quality.unwrap().loss_percent > 5.0, "{final_quality:?}");
}
