//! Basic usage: a media engine from a config builder, a media session per SIP dialog, two
//! sessions talking to each other over RTP on loopback, mute that keeps RTP flowing, and
//! the statistics a SIP stack would log.
//!
//! `cargo run --example basic_usage`
//!
//! The controller's calls are `async`: they await the worker's acknowledgement without
//! blocking the executor's thread. Any executor works (tokio's included); this example
//! brings a ten-line one so it needs no runtime dependency.

use rvoip_media_core::nodes::codec::CodecId;
use rvoip_media_core::session::{DialogId, MediaEngine, MediaEngineConfig, MediaSessionController, MediaSessionParams};
use rvoip_media_core::transport::Remote;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Runs a future to completion on this thread (parks between wake-ups).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut Context::from_waker(&waker)) {
            return v;
        }
        std::thread::park();
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The engine: workers, quantum, pools, codecs.
    let config = MediaEngineConfig::builder()
        .workers(1)
        .realtime(None) // ask for SCHED_FIFO in production: .realtime(Some(80))
        .codecs(&[CodecId::Opus, CodecId::G722, CodecId::Pcmu, CodecId::Pcma])
        .ptime_ms(20)
        .rtcp_interval(Duration::from_millis(500))
        .build();
    let engine = MediaEngine::start(config)?;
    let names: Vec<_> = engine.get_supported_codecs().iter().map(|c| c.encoding).collect();
    println!("supported codecs: {}", names.join(", "));
    let media = MediaSessionController::new(engine);

    // 2. A session per dialog. Alice latches onto whoever sends to her (symmetric RTP);
    //    Bob sends to Alice's address.
    let any = "127.0.0.1:0".parse()?;
    let alice = DialogId::from("dialog-alice");
    let bob = DialogId::from("dialog-bob");
    let mut p = MediaSessionParams::new(any, None, CodecId::Pcmu)?;
    p.remote = Remote::Latch { initial: None };
    let alice_addr = media.start_media(alice.clone(), p).await?;
    let bob_addr =
        media.start_media(bob.clone(), MediaSessionParams::new(any, Some(alice_addr), CodecId::Pcmu)?).await?;
    println!("alice on {alice_addr}, bob on {bob_addr}");

    // 3. Host audio: Bob speaks a 440 Hz tone, Alice listens through her audio tap.
    let mut bob_mic = media.audio_input(&bob)?.ok_or("taken")?;
    let mut alice_ear = media.audio_tap(&alice)?.ok_or("taken")?;
    let mut alice_mic = media.audio_input(&alice)?.ok_or("taken")?;
    let mut phase = 0usize;
    let mut talk = |ms: u64, mic: &mut rvoip_media_core::engine::AudioIn| -> f32 {
        let start = Instant::now();
        let (mut pushed, mut energy, mut n) = (0u64, 0f32, 0usize);
        while start.elapsed() < Duration::from_millis(ms) {
            while pushed < start.elapsed().as_millis() as u64 / 10 + 3 {
                let frame: Vec<f32> = (0..80)
                    .map(|i| 0.3 * (2.0 * std::f32::consts::PI * 440.0 * (phase + i) as f32 / 8000.0).sin())
                    .collect();
                phase += 80;
                let _ = mic.push(&frame);
                let _ = alice_mic.push(&[0.0; 80]);
                pushed += 1;
            }
            while let Some(f) = alice_ear.pop() {
                if start.elapsed() < Duration::from_millis(200) {
                    continue; // what was in flight before the change
                }
                energy += f.samples().iter().map(|s| s * s).sum::<f32>();
                n += f.samples().len();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        (energy / n.max(1) as f32).sqrt()
    };
    println!("alice hears bob at rms {:.3}", talk(1000, &mut bob_mic));

    // 4. Mute Bob: RTP keeps flowing (encoded silence, sequence and timestamps continuing).
    let before = media.get_rtp_statistics(&alice)?.received;
    media.set_audio_muted(&bob, true).await?;
    let rms = talk(600, &mut bob_mic);
    let after = media.get_rtp_statistics(&alice)?.received;
    println!(
        "bob muted ({}): alice hears rms {:.4}; packets kept arriving: {} -> {} (lost {})",
        media.is_audio_muted(&bob)?,
        rms,
        before.received,
        after.received,
        after.lost
    );
    media.set_audio_muted(&bob, false).await?;

    // 5. Statistics, as a SIP stack would log them.
    for d in [&alice, &bob] {
        let s = media.get_media_statistics(d)?;
        println!(
            "{d}: {} pt {}, sent {} pkts / {} B, received {} (lost {}, jitter {:.2} ms), RTCP {}/{} , MOS {}",
            s.codec,
            s.payload_type,
            s.rtp.packets_sent,
            s.rtp.bytes_sent,
            s.rtp.received.received,
            s.rtp.received.lost,
            s.rtp.received.jitter_ms,
            s.rtp.rtcp_sent,
            s.rtp.rtcp_received,
            s.quality.map_or("unknown".to_string(), |q| format!("{:.2}", q.mos_cq))
        );
    }

    // 6. Hang up.
    media.stop_media(&bob).await?;
    media.stop_media(&alice).await?;
    println!("stopped; dialogs left: {}", media.dialogs().len());
    Ok(())
}
