//! Call quality under impairment: two sessions on loopback, the sender's packets passing
//! a relay that loses 5 % of them in short bursts, delays each by 0–60 ms (so they arrive
//! out of order) and duplicates 3 %. Once a second the receiver's jitter buffer statistics
//! (W3C getStats names) and the E-model estimate are printed; events (quality alerts, ...)
//! as they come.
//!
//! ```text
//! cargo run --example quality_demo [-- SECONDS [LOSS_PERCENT]]
//! ```

#[path = "../tests/support/impair.rs"]
mod impair;

use impair::{Impairment, Relay};
use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::session::*;
use rvoip_media_core::transport::Remote;
use std::time::{Duration, Instant};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(6);
    let loss: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let engine = MediaEngine::start(MediaEngineConfig::builder().workers(1).realtime(None).pin_workers(false).build())?;
    let any = "127.0.0.1:0".parse().unwrap();
    let wait = Duration::from_secs(5);

    // Bob receives; Alice sends to Bob through the impairing relay; Bob answers directly.
    let mut bob =
        engine.create_media_session(DialogId::from("bob"), MediaSessionParams::new(any, None, CodecId::Pcmu)?)?;
    let relay = Relay::start(bob.local_addr(), Impairment { loss: loss / 100.0, ..Impairment::moderate(42) });
    let mut alice = engine.create_media_session(
        DialogId::from("alice"),
        MediaSessionParams::new(any, Some(relay.addr()), CodecId::Pcmu)?,
    )?;
    let mut p = bob.params().clone();
    p.remote = Remote::Fixed(alice.local_addr());
    bob.update(p)?.wait(wait)?;
    let mut mic = alice.take_audio_in().expect("audio in");
    let mut ear = bob.take_audio_out().expect("audio out");
    bob.start()?.wait(wait)?;
    alice.start()?.wait(wait)?;
    println!("alice -> relay ({loss} % loss in bursts, 0-60 ms delay, 3 % duplicates) -> bob, PCMU, {seconds} s");

    let start = Instant::now();
    let (mut pushed, mut n, mut next_print) = (0u64, 0usize, 1u64);
    let mut frame = [0f32; 80];
    while start.elapsed() < Duration::from_secs(seconds) {
        // A 440 Hz tone with a 1 s on / 0.5 s off cadence (talk spurts and pauses).
        let due = start.elapsed().as_millis() as u64 / 10 + 3;
        while pushed < due {
            for s in frame.iter_mut() {
                let on = (n / 8000) % 3 != 2 || n % 8000 < 4000;
                *s = if on { 0.25 * (2.0 * std::f32::consts::PI * 440.0 * n as f32 / 8000.0).sin() } else { 0.0 };
                n += 1;
            }
            if mic.push(&frame).is_err() {
                break;
            }
            pushed += 1;
        }
        while ear.pop().is_some() {}
        while let Some(e) = bob.poll_event() {
            println!("  event: {e:?}");
        }
        if start.elapsed() >= Duration::from_secs(next_print) {
            next_print += 1;
            let st = bob.statistics();
            let j = &st.receive.stats;
            let mean_delay = if j.jitter_buffer_emitted_count > 0 {
                1000.0 * j.jitter_buffer_delay / j.jitter_buffer_emitted_count as f64
            } else {
                0.0
            };
            let quality = st.quality.map_or("R unknown, MOS unknown (too few packets)".to_string(), |q| {
                format!(
                    "R {:.1}, MOS-CQ {:.2}, MOS-LQ {:.2}, mouth-to-ear {:.0} ms",
                    q.r, q.mos_cq, q.mos_lq, q.mouth_to_ear_ms
                )
            });
            println!(
                "{:>2} s  packetsReceived {:>4} packetsLost {:>3} packetsDiscarded {:>2} jitter {:>5.1} ms  \
                 jitterBufferDelay/emitted {:>5.1} ms (target {:>5.1} ms)  concealmentEvents {:>3}  \
                 missed {:>4.1} % burstRatio {:.2}  {quality}",
                next_print - 1,
                j.packets_received,
                j.packets_lost,
                j.packets_discarded,
                j.jitter * 1000.0,
                mean_delay,
                j.target_delay_ms,
                j.concealment_events,
                100.0 * st.receive.effective_loss_rate(),
                st.receive.burst_ratio(),
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = relay.stats();
    let g = bob.statistics().graph;
    println!(
        "relay: {} received, {} dropped, {} reordered, {} duplicated; bob's graph: {} cycles, p50 {:.1} µs, \
         p99 {:.1} µs, max {:.1} µs, deadline misses {}",
        r.received,
        r.dropped,
        r.reordered,
        r.duplicated,
        g.cycles,
        g.p50_ns as f64 / 1e3,
        g.p99_ns as f64 / 1e3,
        g.max_ns as f64 / 1e3,
        g.deadline_misses
    );
    alice.stop()?.wait(wait)?;
    bob.stop()?.wait(wait)?;
    Ok(())
}
