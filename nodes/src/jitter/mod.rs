//! An adaptive jitter buffer in front of a decoder (NetEQ-class), with loss concealment,
//! time-scale modification and call-quality statistics.
//!
//! * [`packet_buffer`](self) — fixed packet slots ordered by extended RTP timestamp:
//!   reordering, duplicates (same sequence number or timestamp, so a flood for one slot
//!   is dropped), late packets discarded and counted, sequence and timestamp wrap, an SSRC
//!   change or a timestamp jump of more than 10 s restarts the stream; a full buffer
//!   evicts its oldest packet, so memory is bounded.
//! * [`DelayManager`] — the target playout offset from a quantile of the packets' transit
//!   offsets with exponential forgetting: it rises within a few packets of a delay spike
//!   and decays slowly; a drifting sender clock moves the distribution slowly and the
//!   target follows it, so ±300 ppm never makes the delay grow. For the first 250 packets
//!   the target is at least mean + 3 standard deviations of the transits (a tail the
//!   histogram has not seen yet); without FEC a delay spike's transits are left out of
//!   that floor, which they would inflate to the spike's height (a heavy-tailed network);
//!   with FEC (Opus) they stay in it, and the floor is waited up to by an empty buffer but
//!   not stretched up to (preemptive expand aims at the histogram's target then, and once
//!   a spike came among the first 200 packets — the histogram's target from a few dozen
//!   packets weighs it as a tenth or more of them — at the floor without the spike if
//!   that is lower).
//! * Decision logic ([`JitterBuffer`]) — at every playout tick, until a quantum is ready:
//!   *normal* decode of the packet at the playout point, with *accelerate* (a pitch
//!   period removed, [`accelerate`]) when the playout offset is above the target and
//!   *preemptive expand* (a period inserted, [`preemptive_expand`]) when below (in speech,
//!   without FEC, only after the warm-up: a target that one delay spike raised in the
//!   first seconds falls back, so its rise waits for a pause — unless the stream has not
//!   paused once since it started and its packets keep coming late; and once a spike came among
//!   the first 50 packets, pauses too are stretched in the warm-up only up to the floor's
//!   own target, not the histogram's that the spike lifted); *expand*
//!   (the codec's concealment, then RFC 3389 comfort noise at the received level) when
//!   nothing is there — below the target that waits for the stream, concealing without
//!   moving the playout point (with FEC, in speech after the warm-up and without a delay
//!   spike, only where a whole frame's wait lands nearer the target: else the late packet
//!   is concealed and the rise it asks for waits for a deep pause), and without FEC a wait in speech plays instead the late
//!   packets that continue the sequence, discarded since the same dry spell concealed
//!   their time, when the wait reaches back to them (the playout point goes back to them:
//!   the same step in the delay, those packets no longer lost); for a gap with later packets present, wait while below the target,
//!   then fill the gap — from the next packet's in-band FEC for one lost Opus packet, else
//!   by concealment — and continue (*merge*: the codec's own concealment state cross-fades
//!   into the decoded signal). A long silence (DTX, a stream that stopped) ends with the
//!   next packet re-anchored at the target delay. Without FEC (G.711, G.722, G.729), a
//!   deep pause (900 ms, no late packet for 5 s, at most 120 ms of buffer) stretches an
//!   offset a whole pull below the target up to it, instead of leaving it for the next
//!   hold of the link to step the timeline up by concealment in speech.
//! * [`RtpReceiveStats`] and [`BurstGapStats`] — RFC 3550 jitter and cumulative loss,
//!   RFC 3611 burst / gap metrics, pure and unit-tested; [`JitterStats`] holds the W3C
//!   getStats counters.
//! * [`JitterBufferNode`] — the graph node; its telemetry carries [`JITTER_TELEMETRY`].
//!
//! ```
//! use rvoip_media_graph::{Packet, PacketMeta};
//! use rvoip_media_nodes::codec::G711CodecDecoder;
//! use rvoip_media_nodes::jitter::{JitterBuffer, JitterConfig};
//! use rvoip_media_nodes::G711Law;
//!
//! let mut jb = JitterBuffer::new(Box::new(G711CodecDecoder::new(G711Law::Ulaw)), JitterConfig::default()).unwrap();
//! let mut out = [0f32; 80];
//! // Packets 0..20 of 20 ms; packet 5 is lost and 8 arrives after 9.
//! let order = [0u16, 1, 2, 3, 4, 6, 7, 9, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
//! let mut next = 0;
//! for k in 0..60u64 {
//!     let now = k * 10_000_000;
//!     while next < order.len() && u64::from(order[next]) * 20_000_000 + 5_000_000 <= now {
//!         let seq = order[next];
//!         let meta = PacketMeta { sequence: seq, timestamp: u32::from(seq) * 160, arrival_ns: now, ..Default::default() };
//!         jb.insert(&Packet::from_payload(meta, &[0x7f; 160]).unwrap());
//!         next += 1;
//!     }
//!     jb.pull(now, &mut out);
//! }
//! let s = jb.stats();
//! assert_eq!((s.packets_received, s.packets_lost), (19, 1));
//! assert!(s.concealed_samples >= 160);
//! ```

mod delay;
mod node;
mod packet_buffer;
mod playout;
mod stats;
#[cfg(test)]
mod tests;
mod tsm;

pub use delay::{DelayManager, QuantileWindow, SkewEstimator, TargetCost};
pub use node::{JitterBufferNode, JitterReport, JitterSwitch, JITTER_TELEMETRY};
pub use playout::{
    JitterBuffer, JitterConfig, JitterError, JitterStats, CN_PAYLOAD_TYPE, LIVE_MAX_DELAY_MS, REWIND_FEC_MS,
};
pub use stats::{burst_ratio, loss_rate, BurstGapReport, BurstGapStats, RtpReceiveStats};
pub use tsm::{accelerate, preemptive_expand, Stretch};
