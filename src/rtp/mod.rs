//! RTP and RTCP on the wire (RFC 3550), over the `rtp-types` and `rtcp-types` crates.
//!
//! * [`packet`]: one RTP datagram ↔ a graph [`Packet`](rvoip_media_graph::Packet) (payload +
//!   [`PacketMeta`](rvoip_media_graph::PacketMeta)), parsed and written over borrowed
//!   buffers; [`is_rtcp`] demultiplexes a muxed port (RFC 5761).
//! * [`clock`]: the RTP clock of each codec (G.722 8000 Hz although it samples at 16 kHz,
//!   Opus 48000 Hz) and the extended (wrap-counting) sequence number.
//! * [`receiver`]: receiver statistics of RFC 3550 appendix A — sequence validation with
//!   probation (A.1), expected and lost packets (A.3), interarrival jitter (A.8) — sans-I/O:
//!   the caller passes the arrival time.
//! * [`hold`]: the one packet A.1 has not confirmed yet (probation, a jump), held and handed
//!   on once the next packet confirms it instead of being dropped.
//! * [`rtcp`]: compound reports (SR or RR, SDES CNAME, BYE, XR) built from typed values and
//!   parsed back into them; malformed RTCP is a typed [`RtcpError`].
//! * [`dtmf`]: RFC 4733 telephone events: payload, a sender that takes the place of audio
//!   packets (sequence and timestamps continuous, end sent three times, long events
//!   segmented) and a receiver that reports each event once.
//! * [`audio_level`]: the RFC 6464 client-to-mixer audio level in an RFC 8285 header
//!   extension, read and written; [`HeaderExtensions`] is what a transport applies to every
//!   packet of a stream that negotiated it (`a=extmap`, [`crate::sdp::ExtMap`]): one parse
//!   per packet gives the header, this level and the RFC 6465 list ([`ReceivedRtp`]).
//! * [`csrc_level`]: RFC 6465 mixer-to-client levels, the CSRC list and its level element.
//! * [`xr`]: the RFC 3611 VoIP metrics report block, which `rtcp-types` does not have
//!   (it knows the loss/duplicate RLE, receipt-time, RRT and DLRR blocks only): a plain struct
//!   with an exact 36-byte wire form. Who fills it (the jitter buffer) is not this module.
//!
//! What `rtp-types` lacks and is written here: nothing of the header itself — it parses and
//! checks version, CSRC count, extension and padding lengths; this module adds the limits a
//! graph packet has (payload ≤ [`MAX_PAYLOAD`](rvoip_media_graph::MAX_PAYLOAD)), the RTCP demux
//! and an unknown-payload-type check against what was negotiated.
//!
//! ```
//! use rvoip_media_core::rtp::{parse_rtp, write_rtp, RtpError};
//! use rvoip_media_core::graph::PacketMeta;
//! let meta = PacketMeta { payload_type: 0, sequence: 7, timestamp: 160, ssrc: 0x1234, marker: true, arrival_ns: 0, audio_level: None };
//! let mut buf = [0u8; 1500];
//! let n = write_rtp(&meta, &[0xff; 160], &mut buf)?;
//! assert_eq!(n, 172);
//! let (got, payload) = parse_rtp(&buf[..n], 99)?;
//! assert_eq!(got, PacketMeta { arrival_ns: 99, ..meta });
//! assert_eq!(payload, &[0xff; 160][..]);
//! assert!(matches!(parse_rtp(&buf[..5], 0), Err(RtpError::Truncated { .. })));
//! # Ok::<(), RtpError>(())
//! ```

pub mod audio_level;
pub mod clock;
pub mod csrc_level;
pub mod dtmf;
pub mod hold;
pub mod packet;
pub mod receiver;
pub mod rtcp;
pub mod xr;

pub use audio_level::{
    audio_level_of, parse_rtp_with_audio_level, write_rtp_with_audio_level, AudioLevel, HeaderExtensions, ReceivedRtp,
};
pub use clock::{clock_rate, ClockMap, ExtendedSequence};
pub use csrc_level::{csrc_levels_of, write_rtp_with_csrc_levels, CsrcLevels, MAX_CSRCS};
pub use dtmf::{DtmfDigit, DtmfEvent, DtmfReceiver, DtmfSender};
pub use hold::Held;
pub use packet::{is_rtcp, parse_rtp, write_rtp, RtpError};
pub use receiver::{ReceiverStats, RtpReceiveCounters, SequenceCheck};
pub use rtcp::{
    build_report, ntp_from_unix_ns, parse_rtcp, ReportBlockInfo, RtcpError, RtcpItem, RtcpReport, SenderInfo,
};
pub use xr::VoipMetrics;
