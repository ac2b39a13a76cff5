//! RFC 4733 telephone events (DTMF): the 4-byte payload, a sender that replaces audio
//! packets by event packets (so sequence numbers and timestamps stay continuous), and a
//! receiver that reports each event once. Sans-I/O: both are driven by the packets given.
//!
//! Sending: an event starts at the timestamp of the first audio packet it replaces (marker
//! set); each following packet carries the same timestamp and the duration so far; the last
//! carries the end bit and is sent three times (RFC 4733 §2.5.1.4), each on a new sequence
//! number; an event longer than the 16-bit duration field is cut into segments with new
//! timestamps (§2.5.1.3). Receiving: retransmitted end packets are suppressed; an event
//! whose end packets were all lost is reported when the next one starts.
//!
//! ```
//! use rvoip_media_core::rtp::{DtmfEvent, DtmfReceiver, DtmfSender};
//! use rvoip_media_core::graph::PacketMeta;
//! let mut tx = DtmfSender::new(101);
//! tx.push(DtmfEvent::from_digit('5').unwrap(), 480); // 60 ms at 8 kHz
//! let mut rx = DtmfReceiver::default();
//! let mut digits = Vec::new();
//! for seq in 0..6u16 {
//!     let audio = PacketMeta { payload_type: 0, sequence: seq, timestamp: u32::from(seq) * 160, ssrc: 1, ..Default::default() };
//!     if let Some((meta, body)) = tx.on_audio_packet(&audio, 160) {
//!         assert_eq!((meta.payload_type, meta.sequence, meta.timestamp), (101, seq, 0));
//!         rx.on_packet(meta.timestamp, &body, &mut digits).unwrap();
//!     }
//! }
//! assert_eq!(digits.len(), 1); // 3 packets of the event + 3 end packets, reported once
//! assert_eq!((digits[0].digit(), digits[0].duration), (Some('5'), 480));
//! ```

use super::RtpError;
use rvoip_media_graph::PacketMeta;
use std::collections::VecDeque;

/// The events 0–15: digits, `*`, `#`, `A`–`D` (RFC 4733 §3.2).
const DIGITS: &[u8; 16] = b"0123456789*#ABCD";

/// One telephone-event payload (RFC 4733 §2.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DtmfEvent {
    /// Event code (0–15 for DTMF).
    pub event: u8,
    /// The end bit.
    pub end: bool,
    /// Volume, −dBm0 (0–63).
    pub volume: u8,
    /// Duration so far, RTP timestamp units.
    pub duration: u16,
}

impl DtmfEvent {
    /// The event code of a DTMF digit (`0`–`9`, `*`, `#`, `A`–`D`, case-insensitive).
    ///
    /// ```
    /// use rvoip_media_core::rtp::DtmfEvent;
    /// assert_eq!(DtmfEvent::from_digit('#'), Some(11));
    /// assert_eq!(DtmfEvent::from_digit('x'), None);
    /// ```
    pub fn from_digit(c: char) -> Option<u8> {
        DIGITS.iter().position(|d| *d as char == c.to_ascii_uppercase()).map(|i| i as u8)
    }

    /// The 4 bytes on the wire.
    ///
    /// ```
    /// use rvoip_media_core::rtp::DtmfEvent;
    /// let e = DtmfEvent { event: 9, end: true, volume: 10, duration: 800 };
    /// assert_eq!(e.to_bytes(), [9, 0x8a, 0x03, 0x20]);
    /// assert_eq!(DtmfEvent::from_bytes(&e.to_bytes()), Ok(e));
    /// ```
    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3f), d[0], d[1]]
    }

    /// Reads a payload (extra bytes after the first 4 are ignored).
    ///
    /// # Errors
    /// [`RtpError::Truncated`] for fewer than 4 bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Self, RtpError> {
        if b.len() < 4 {
            return Err(RtpError::Truncated { expected: 4, actual: b.len() });
        }
        Ok(DtmfEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }
}

/// A received event, reported once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfDigit {
    /// Event code.
    pub event: u8,
    /// Duration, RTP timestamp units (of the last segment seen).
    pub duration: u32,
    /// Volume, −dBm0.
    pub volume: u8,
    /// Whether its end was received (false: reported when the next event started).
    pub ended: bool,
}

impl DtmfDigit {
    /// The digit, for events 0–15.
    pub fn digit(&self) -> Option<char> {
        DIGITS.get(usize::from(self.event)).map(|d| *d as char)
    }
}

#[derive(Clone, Copy, Debug)]
struct Active {
    event: u8,
    start_ts: u32,
    /// Ticks still to send from `start_ts` on.
    total: u32,
    first: bool,
    ends_sent: u8,
    duration: u16,
}

/// Turns queued events into packets by taking the place of outgoing audio packets; see the
/// [module docs](self).
#[derive(Clone, Debug)]
pub struct DtmfSender {
    payload_type: u8,
    volume: u8,
    queue: VecDeque<(u8, u32)>,
    active: Option<Active>,
    sent: u64,
}

impl DtmfSender {
    /// A sender using payload type `payload_type` (volume 10 dBm0 below overload).
    pub fn new(payload_type: u8) -> Self {
        DtmfSender { payload_type, volume: 10, queue: VecDeque::new(), active: None, sent: 0 }
    }

    /// Queues `event` lasting `duration` ticks of the audio's RTP clock.
    pub fn push(&mut self, event: u8, duration: u32) {
        self.queue.push_back((event, duration.max(1)));
    }

    /// Whether an event is being sent or waits.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || !self.queue.is_empty()
    }

    /// Event packets sent so far.
    pub fn packets_sent(&self) -> u64 {
        self.sent
    }

    /// Offered each outgoing audio packet (`ticks` long): returns the event packet to send
    /// in its place (same SSRC and sequence number), or `None` to send the audio.
    pub fn on_audio_packet(&mut self, audio: &PacketMeta, ticks: u32) -> Option<(PacketMeta, [u8; 4])> {
        if self.active.is_none() {
            let (event, total) = self.queue.pop_front()?;
            self.active =
                Some(Active { event, start_ts: audio.timestamp, total, first: true, ends_sent: 0, duration: 0 });
        }
        let a = self.active.as_mut()?;
        let mut marker = false;
        let end;
        if a.ends_sent == 0 {
            let mut elapsed = audio.timestamp.wrapping_sub(a.start_ts).saturating_add(ticks);
            if elapsed > u32::from(u16::MAX) && a.total > u32::from(u16::MAX) {
                // A new segment at this packet (RFC 4733 §2.5.1.3).
                let done = audio.timestamp.wrapping_sub(a.start_ts);
                a.total -= done.min(a.total - 1);
                a.start_ts = audio.timestamp;
                elapsed = ticks;
            }
            if elapsed >= a.total {
                elapsed = a.total;
                a.ends_sent = 1;
            }
            a.duration = elapsed.min(u32::from(u16::MAX)) as u16;
            marker = std::mem::take(&mut a.first);
            end = a.ends_sent > 0;
        } else {
            a.ends_sent += 1;
            end = true;
        }
        let body = DtmfEvent { event: a.event, end, volume: self.volume, duration: a.duration }.to_bytes();
        let meta = PacketMeta { payload_type: self.payload_type, timestamp: a.start_ts, marker, ..*audio };
        if a.ends_sent >= 3 {
            self.active = None;
        }
        self.sent += 1;
        Some((meta, body))
    }
}

/// Reports each received event once; see the [module docs](self).
#[derive(Clone, Debug, Default)]
pub struct DtmfReceiver {
    current: Option<(u32, DtmfDigit)>,
}

impl DtmfReceiver {
    /// Takes one telephone-event packet with RTP timestamp `ts`; appends to `out` the events
    /// that ended (or were superseded by a new one).
    ///
    /// # Errors
    /// [`RtpError::Truncated`] for a payload under 4 bytes (nothing changes).
    pub fn on_packet(&mut self, ts: u32, payload: &[u8], out: &mut Vec<DtmfDigit>) -> Result<(), RtpError> {
        let e = DtmfEvent::from_bytes(payload)?;
        let digit = DtmfDigit { event: e.event, duration: u32::from(e.duration), volume: e.volume, ended: e.end };
        match &mut self.current {
            Some((cur_ts, cur)) if *cur_ts == ts => {
                if cur.ended {
                    return Ok(()); // a retransmitted end packet
                }
                *cur = digit;
                if e.end {
                    out.push(digit);
                }
            }
            _ => {
                if let Some((_, prev)) = self.current.take().filter(|(_, p)| !p.ended) {
                    out.push(prev);
                }
                self.current = Some((ts, digit));
                if e.end {
                    out.push(digit);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(seq: u16) -> PacketMeta {
        PacketMeta {
            payload_type: 0,
            sequence: seq,
            timestamp: 1000 + u32::from(seq) * 160,
            ssrc: 7,
            ..Default::default()
        }
    }

    /// The exact packet train of a 100 ms '1' at 20 ms packets.
    #[test]
    fn exact_train() {
        let mut tx = DtmfSender::new(101);
        tx.push(1, 800);
        let mut got = Vec::new();
        for seq in 0..10u16 {
            got.push(tx.on_audio_packet(&audio(seq), 160).map(|(m, b)| (m.sequence, m.timestamp, m.marker, b)));
        }
        let want = [
            Some((0, 1000, true, [1, 10, 0, 160])),
            Some((1, 1000, false, [1, 10, 1, 64])),
            Some((2, 1000, false, [1, 10, 1, 224])),
            Some((3, 1000, false, [1, 10, 2, 128])),
            Some((4, 1000, false, [1, 0x8a, 3, 32])),
            Some((5, 1000, false, [1, 0x8a, 3, 32])),
            Some((6, 1000, false, [1, 0x8a, 3, 32])),
            None,
            None,
            None,
        ];
        assert_eq!(got, want);
        assert_eq!(tx.packets_sent(), 7);
        assert!(!tx.is_busy());
    }

    #[test]
    fn long_event_is_segmented() {
        let mut tx = DtmfSender::new(101);
        tx.push(3, 70_000);
        let mut rx = DtmfReceiver::default();
        let mut out = Vec::new();
        let mut stamps = Vec::new();
        for seq in 0..500u16 {
            if let Some((m, b)) = tx.on_audio_packet(&audio(seq), 160) {
                if !stamps.contains(&m.timestamp) {
                    stamps.push(m.timestamp);
                }
                rx.on_packet(m.timestamp, &b, &mut out).unwrap();
            }
        }
        // 70,000 ticks: a first segment ending near 65,535, a second with the rest.
        assert_eq!(stamps.len(), 2, "{stamps:?}");
        assert_eq!(stamps[1] - stamps[0], 65_440);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].ended, out[1].ended, out[1].duration), (false, true, 70_000 - 65_440));
    }

    #[test]
    fn receiver_dedups_and_reports_lost_ends() {
        let mut rx = DtmfReceiver::default();
        let mut out = Vec::new();
        let p = |e: u8, end: bool, d: u16| DtmfEvent { event: e, end, volume: 10, duration: d }.to_bytes();
        rx.on_packet(100, &p(11, false, 160), &mut out).unwrap();
        rx.on_packet(100, &p(11, true, 320), &mut out).unwrap();
        rx.on_packet(100, &p(11, true, 320), &mut out).unwrap();
        rx.on_packet(100, &p(11, true, 320), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].digit(), Some('#'));
        // An event whose ends are lost is reported when the next starts.
        rx.on_packet(900, &p(2, false, 160), &mut out).unwrap();
        rx.on_packet(2000, &p(3, false, 160), &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!((out[1].digit(), out[1].ended), (Some('2'), false));
        assert!(matches!(rx.on_packet(1, &[1, 2], &mut out), Err(RtpError::Truncated { expected: 4, actual: 2 })));
    }
}
