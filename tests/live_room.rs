//! Continuity across live edits, on running workers: a 100-party room (G.711 legs and an
//! Opus leg) sees 50 joins, 50 leaves and 10 codec switches while it runs.
//! Every participant must hear exactly what an offline N-1 reference with the same
//! membership timeline gives — the same mixer, decoders and encoders run offline, cycle by
//! cycle — with no gap and no repeated quantum; every outgoing RTP stream must continue
//! without a jump (sequence +1, timestamp +1 packet per cycle, same SSRC, also across a
//! codec switch).
//!
//! The worker runs on its own clock, so the test does not know beforehand in which cycle
//! an edit applies. It learns it from the output: every packet the engine sends carries the
//! start time of the cycle that produced it (`PacketMeta::arrival_ns`), so the packets of
//! all legs are placed on one cycle axis, and a leg's first and last packets give the
//! cycles of its join and leave. The reference is then computed for exactly that timeline;
//! a lost, repeated or misplaced quantum anywhere shows up as a mismatch.

use rvoip_media_core::conference::{LegMedia, Room};
use rvoip_media_core::engine::{EndpointError, PacketIn, PacketOut, PartitionIo};
use rvoip_media_core::prelude::*;
use rvoip_media_graph::{NodeHarness, Packet, Processor};
use rvoip_media_nodes::codec::{
    DecodeNode, Decoder, EncodeNode, Encoder, G711CodecDecoder, G711CodecEncoder, SwitchDecoder, SwitchEncoder,
};
use rvoip_media_nodes::opus::{OpusCodecDecoder, OpusCodecEncoder, OpusEncoderConfig};
use rvoip_media_nodes::resample::ResamplerNode;
use rvoip_media_nodes::wav::WavSource;
use rvoip_media_nodes::{G711Law, Mixer, MixerMembership};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const Q: Quantum = Quantum::MS_10;
const PTIME: u32 = 10_000;
const CAPACITY: usize = 128;
/// Packets each phone keeps ahead of the room's playout. 60 ms of slack for this test's
/// host thread, which also compiles the edits (a debug build on a loaded machine). The
/// decoders' FIFOs hold it (a G.711 decoder up to 2 × 60 ms + a quantum).
const AHEAD: u32 = 6;

fn speech() -> Vec<f32> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/speech_en_8k.wav");
    WavSource::open(path).unwrap().samples().to_vec()
}

fn g711_enc(law: G711Law) -> Box<dyn Encoder> {
    Box::new(G711CodecEncoder::new(law))
}

fn g711_dec(law: G711Law) -> Box<dyn Decoder> {
    Box::new(G711CodecDecoder::new(law))
}

fn opus_enc() -> Box<dyn Encoder> {
    Box::new(OpusCodecEncoder::new(OpusEncoderConfig::new(48_000, 1).frame_duration_us(10_000)).unwrap())
}

fn opus_dec() -> Box<dyn Decoder> {
    Box::new(OpusCodecDecoder::new(48_000, 1, 10_000).unwrap())
}

/// One participant as the remote phone sees it.
struct Party {
    name: String,
    opus: bool,
    rx: Option<PacketIn>,
    tx: Option<PacketOut>,
    /// Packets of its own voice sent so far.
    sent: u32,
    /// First packet index sent as PCMA (after its codec switch was applied).
    pcma_from: Option<u32>,
    switch_ticket: Option<Ticket>,
    /// Its voice, at the codec's rate.
    voice: Vec<f32>,
    /// Host-side Opus encoder (for an Opus party).
    opus_enc: Option<Box<dyn Encoder>>,
    /// Every packet it sent (payload type, payload), by index.
    sent_packets: Vec<(u8, Vec<u8>)>,
    /// What the room sent it: (cycle start, meta, payload).
    heard: Vec<(u64, PacketMeta, Vec<u8>)>,
    port: usize,
    /// The room's cycle count when it joined.
    joined_at: u64,
}

impl Party {
    fn new(i: usize, opus: bool, speech: &[f32]) -> Party {
        let voice: Vec<f32> = if opus {
            // 48 kHz: two tones with a slow envelope, well inside Opus's band.
            (0..48_000 * 8)
                .map(|n| {
                    let t = n as f32 / 48_000.0;
                    let env = 0.5 + 0.5 * (2.0 * std::f32::consts::PI * 0.7 * t).sin();
                    0.2 * env
                        * ((2.0 * std::f32::consts::PI * 330.0 * t).sin()
                            + 0.5 * (2.0 * std::f32::consts::PI * 1250.0 * t).sin())
                })
                .collect()
        } else {
            let off = (i * 7919 * 80) % (speech.len() - 8000 * 8);
            speech[off..off + 8000 * 8].iter().map(|s| s * 0.6).collect()
        };
        Party {
            name: format!("p{i}"),
            opus,
            rx: None,
            tx: None,
            sent: 0,
            pcma_from: None,
            switch_ticket: None,
            voice,
            opus_enc: opus.then(opus_enc),
            sent_packets: Vec::new(),
            heard: Vec::new(),
            port: usize::MAX,
            joined_at: 0,
        }
    }

    fn media(&self) -> LegMedia {
        if self.opus {
            LegMedia::Rtp { encoder: opus_enc(), decoder: opus_dec(), ptime_us: PTIME, ssrc: 0x1000 }
        } else {
            LegMedia::Rtp {
                encoder: g711_enc(G711Law::Ulaw),
                decoder: g711_dec(G711Law::Ulaw),
                ptime_us: PTIME,
                ssrc: 0x2000 + self.name[1..].parse::<u32>().unwrap(),
            }
        }
    }

    /// Sends its voice in step with the room's cycles (`now`: the room's cycle count),
    /// [`AHEAD`] packets ahead of its playout.
    fn feed(&mut self, now: u64) {
        let Some(rx) = self.rx.as_mut() else { return };
        let due = AHEAD + now.saturating_sub(self.joined_at) as u32;
        while self.sent < due {
            let m = self.sent;
            let (pt, payload, ticks) = if self.opus {
                let frame = &self.voice[m as usize * 480..(m as usize + 1) * 480];
                let mut out = vec![0u8; 1500];
                let f = self.opus_enc.as_mut().unwrap().encode(frame, &mut out).unwrap();
                out.truncate(f.len);
                (111, out, 480)
            } else {
                let law = if self.pcma_from.is_some_and(|p| m >= p) { G711Law::Alaw } else { G711Law::Ulaw };
                let mut out = vec![0u8; 80];
                law.encode_f32(&self.voice[m as usize * 80..(m as usize + 1) * 80], &mut out);
                (law.payload_type(), out, 80)
            };
            let meta = PacketMeta {
                payload_type: pt,
                sequence: m as u16,
                timestamp: m * ticks,
                ssrc: 0x9000 + m,
                marker: m == 0,
                arrival_ns: 0,
                audio_level: None,
            };
            match rx.push(meta, &payload) {
                Ok(()) => {}
                // Its leg was removed: the phone learns it from the endpoint.
                Err(EndpointError::Abandoned) => {
                    self.rx = None;
                    return;
                }
                // The worker is behind (an overloaded machine): send it on the next tick.
                Err(EndpointError::RingFull) => return,
                Err(e) => panic!("{}: {e}", self.name),
            }
            self.sent_packets.push((pt, payload));
            self.sent += 1;
        }
    }

    fn drain(&mut self) {
        if let Some(tx) = self.tx.as_mut() {
            while let Some(p) = tx.pop() {
                self.heard.push((p.meta.arrival_ns, p.meta, p.payload().to_vec()));
            }
        }
    }
}

/// What the test did, in order.
#[derive(Clone, Copy, Debug)]
enum Event {
    Join(usize),
    Leave(usize),
    Switch(usize),
}

#[test]
fn room_churn_on_running_workers_matches_the_offline_reference() {
    let speech = speech();
    // A 100-party room: p0 speaks Opus, the others G.711. p100..p149 join one by one while
    // p1..p50 leave, interleaved, so about 100 are in the room throughout; ten G.711 legs
    // switch from PCMU to PCMA on the way.
    let parties: Vec<Party> = (0..150).map(|i| Party::new(i, i == 0, &speech)).collect();
    let mut events = Vec::new();
    for k in 0..50 {
        events.push(Event::Join(100 + k));
        events.push(Event::Leave(1 + k));
        if k % 5 == 2 {
            events.push(Event::Switch(60 + k));
        }
    }
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Join(_))).count(), 50);
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Leave(_))).count(), 50);
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Switch(_))).count(), 10);

    // SCHED_FIFO where the system allows it, so a busy machine does not stall the worker;
    // rings of 64 packets (640 ms) so a stalled feeder loses nothing.
    let cfg = EngineConfig {
        workers: 1,
        realtime: Some(50),
        pin_workers: false,
        packet_pool: 32_768,
        ring_capacity: 64,
        ..Default::default()
    };
    let engine = Engine::start(cfg).unwrap();
    let mut room = Room::new(&engine, AudioFormat::mono(8000), CAPACITY).unwrap();
    let room_id = room.id();
    let cycles = || engine.partition_stats(room_id).map(|s| s.cycles).unwrap_or(0);
    // The phones live behind a mutex: a feeder thread sends and receives for them every
    // 2 ms while this thread compiles and sends the edits (which takes longer in a debug
    // build), so editing never starves the phones. The lock is never held while compiling.
    let parties = Mutex::new(parties);
    let join = |room: &mut Room, idx: &[usize]| {
        let legs: Vec<_> = {
            let ps = parties.lock().unwrap();
            idx.iter().map(|&i| (ps[i].name.clone(), ps[i].media())).collect()
        };
        // The phones' first packets are queued before the legs go live.
        let prime = |io: &mut PartitionIo| {
            let now = cycles();
            let mut ps = parties.lock().unwrap();
            for &i in idx {
                let p = &mut ps[i];
                p.rx = Some(io.take_packet_in(&format!("{}.rx", p.name)).unwrap());
                p.tx = Some(io.take_packet_out(&format!("{}.tx", p.name)).unwrap());
                p.joined_at = now;
                p.feed(now);
            }
        };
        room.join_many_primed(&engine, legs, prime).unwrap();
        let mut ps = parties.lock().unwrap();
        for &i in idx {
            ps[i].port = room.port_of(&ps[i].name).unwrap();
        }
    };
    join(&mut room, &(0..100).collect::<Vec<_>>());

    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Acquire) {
                // Collects what the worker handed back (removed legs' endpoints among it).
                engine.poll();
                let now = cycles();
                for p in parties.lock().unwrap().iter_mut() {
                    if let Some(t) = p.switch_ticket {
                        if engine.is_done(t) {
                            assert_eq!(engine.outcome(t), Some(Ok(())));
                            // From now on its phone sends PCMA.
                            p.pcma_from = Some(p.sent);
                            p.switch_ticket = None;
                        }
                    }
                    p.feed(now);
                    p.drain();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        // One edit every 30 ms or so, after 200 ms of steady state, then 400 ms more.
        let start = Instant::now();
        for (k, event) in events.iter().enumerate() {
            let due = Duration::from_millis(200 + 30 * k as u64);
            std::thread::sleep(due.saturating_sub(start.elapsed()));
            match *event {
                Event::Join(i) => join(&mut room, &[i]),
                Event::Leave(i) => {
                    // The phone keeps sending until its endpoint says the leg is gone.
                    let name = parties.lock().unwrap()[i].name.clone();
                    room.leave(&engine, &name).unwrap();
                }
                Event::Switch(i) => {
                    let name = parties.lock().unwrap()[i].name.clone();
                    let (enc, dec) = (g711_enc(G711Law::Alaw), g711_dec(G711Law::Alaw));
                    let t = room.switch_codec(&engine, &name, enc, dec, PTIME).unwrap();
                    parties.lock().unwrap()[i].switch_ticket = Some(t);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(400));
        done.store(true, Ordering::Release);
    });
    let mut parties = parties.into_inner().unwrap();
    let stats = engine.partition_stats(room.id()).unwrap();
    let t = engine.remove_partition(room.id()).unwrap();
    engine.wait(t, Duration::from_secs(5)).unwrap();
    for p in parties.iter_mut() {
        p.drain();
    }
    assert_eq!(stats.errors, 0, "{stats:?}");
    assert_eq!(stats.drops(), 0, "{stats:?}");
    assert_eq!(stats.edits, events.len() as u64 + 1, "one edit per event plus the initial join");
    assert!(parties.iter().all(|p| p.switch_ticket.is_none()), "every switch was applied");

    check_against_reference(&parties);
}

/// Places every packet on the common cycle axis, checks each stream's continuity, then
/// runs the offline reference over the observed membership timeline and compares.
fn check_against_reference(parties: &[Party]) {
    // Cycle axis: every cycle in which anyone was in the room sent packets, so the distinct
    // cycle start times, in order, are the cycles.
    let mut stamps: Vec<u64> = parties.iter().flat_map(|p| p.heard.iter().map(|h| h.0)).collect();
    stamps.sort_unstable();
    stamps.dedup();
    let cycle_of: BTreeMap<u64, usize> = stamps.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    let cycles = stamps.len();
    assert!(cycles > 300, "only {cycles} cycles observed");

    // Per party: its span [join, leave) on the axis, and stream continuity.
    struct Span {
        join: usize,
        leave: usize,
        switch_at: Option<usize>,
    }
    let mut spans = Vec::new();
    for p in parties {
        assert!(!p.heard.is_empty(), "{} heard nothing", p.name);
        let join = cycle_of[&p.heard[0].0];
        let mut switch_at = None;
        for (k, (stamp, meta, _)) in p.heard.iter().enumerate() {
            assert_eq!(cycle_of[stamp], join + k, "{}: packet {k} not in consecutive cycles (gap or repeat)", p.name);
            let first = p.heard[0].1;
            assert_eq!(meta.ssrc, first.ssrc, "{}: SSRC changed", p.name);
            assert_eq!(meta.sequence, first.sequence.wrapping_add(k as u16), "{}: sequence jumped at {k}", p.name);
            let ticks = if p.opus { 480 } else { 80 };
            assert_eq!(
                meta.timestamp,
                first.timestamp.wrapping_add(k as u32 * ticks),
                "{}: timestamp jumped at {k}",
                p.name
            );
            if meta.payload_type != first.payload_type && switch_at.is_none() {
                switch_at = Some(join + k);
                assert!(meta.marker, "{}: no marker on the first packet after the switch", p.name);
            }
        }
        assert_eq!(switch_at.is_some(), p.pcma_from.is_some(), "{}: switch seen / done disagree", p.name);
        spans.push(Span { join, leave: join + p.heard.len(), switch_at });
    }

    // Offline reference, cycle by cycle: each leg's decoder (+ resampler) from its join, the
    // same mixer with the same ports and membership, each leg's (resampler +) encoder.
    let mut mixer = NodeHarness::new(Box::new(Mixer::with_capacity(CAPACITY, AudioFormat::mono(8000))), Q).unwrap();
    struct Chain {
        dec: NodeHarness,
        up: Option<NodeHarness>,
        down: Option<NodeHarness>,
        enc: NodeHarness,
    }
    let mut chains: Vec<Option<Chain>> = parties.iter().map(|_| None).collect();
    let mut mismatches = Vec::new();
    for c in 0..cycles {
        for (i, p) in parties.iter().enumerate() {
            let s = &spans[i];
            if c == s.join {
                let (dec, enc): (Box<dyn Decoder>, Box<dyn Encoder>) =
                    if p.opus { (opus_dec(), opus_enc()) } else { (g711_dec(G711Law::Ulaw), g711_enc(G711Law::Ulaw)) };
                let mut dec = DecodeNode::new(dec, Q).unwrap();
                let mut switch = SwitchDecoder::new(g711_dec(G711Law::Alaw), Q).unwrap();
                if !p.opus {
                    dec.message(&mut switch).unwrap();
                }
                let ssrc = p.heard[0].1.ssrc;
                let enc = EncodeNode::new(enc, PTIME, Q).unwrap().with_ssrc(ssrc);
                let resampler = |a, b| NodeHarness::new(Box::new(ResamplerNode::new(a, b, 1).unwrap()), Q).unwrap();
                chains[i] = Some(Chain {
                    dec: NodeHarness::new(Box::new(dec), Q).unwrap(),
                    up: p.opus.then(|| resampler(48_000, 8000)),
                    down: p.opus.then(|| resampler(8000, 48_000)),
                    enc: NodeHarness::new(Box::new(enc), Q).unwrap(),
                });
                mixer.processor_mut().message(&mut MixerMembership::Join(p.port)).unwrap();
            }
            if c == s.leave {
                chains[i] = None;
                mixer.processor_mut().message(&mut MixerMembership::Leave(p.port)).unwrap();
            }
            if Some(c) == s.switch_at {
                let ch = chains[i].as_mut().unwrap();
                let mut sw = SwitchEncoder::new(g711_enc(G711Law::Alaw), PTIME, Q).unwrap();
                ch.enc.processor_mut().message(&mut sw).unwrap();
            }
        }
        // Inputs: packet (c - join) of each member, as its phone sent it; past the end of
        // what it sent (the phones stop before the room does), nothing: the decoder conceals.
        for (i, p) in parties.iter().enumerate() {
            let Some(ch) = chains[i].as_mut() else { continue };
            let m = c - spans[i].join;
            match p.sent_packets.get(m) {
                Some((pt, payload)) => {
                    let ticks = if p.opus { 480 } else { 80 };
                    let meta = PacketMeta {
                        payload_type: *pt,
                        sequence: m as u16,
                        timestamp: m as u32 * ticks,
                        ..Default::default()
                    };
                    ch.dec.packet_in_mut(0).put(&Packet::from_payload(meta, payload).unwrap());
                }
                None => ch.dec.packet_in_mut(0).clear(),
            }
            assert_eq!(ch.dec.run(), 0);
            let audio: &[f32] = match ch.up.as_mut() {
                Some(up) => {
                    up.audio_in_mut(0).copy_from_slice(ch.dec.audio_out(0));
                    up.run();
                    up.audio_out(0)
                }
                None => ch.dec.audio_out(0),
            };
            mixer.audio_in_mut(p.port).copy_from_slice(audio);
        }
        mixer.run();
        for (i, p) in parties.iter().enumerate() {
            let Some(ch) = chains[i].as_mut() else { continue };
            let mix = mixer.audio_out(p.port);
            match ch.down.as_mut() {
                Some(down) => {
                    down.audio_in_mut(0).copy_from_slice(mix);
                    down.run();
                    let x = down.audio_out(0).to_vec();
                    ch.enc.audio_in_mut(0).copy_from_slice(&x);
                }
                None => ch.enc.audio_in_mut(0).copy_from_slice(mix),
            }
            ch.enc.run();
            let want = ch.enc.packet_out(0).expect("one packet per cycle");
            let (_, got_meta, got) = &p.heard[c - spans[i].join];
            let mut got_meta = *got_meta;
            got_meta.arrival_ns = 0;
            if want.meta != got_meta || want.payload() != &got[..] {
                mismatches.push(format!("{} at cycle {c} (its packet {})", p.name, c - spans[i].join));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} packets differ from the reference, first: {:?}",
        mismatches.len(),
        &mismatches[..mismatches.len().min(5)]
    );
}
