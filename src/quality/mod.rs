//! Call quality: the ITU-T G.107 E-model (narrowband) and G.107.1 (wideband), from a
//! connection's parameters to a rating R and an estimated MOS.
//!
//! [`emodel`] is the model; [`stream`] feeds it one received stream's measurements (the
//! jitter buffer's delay and loss pattern, the RTCP round trip) and fills the RFC 3611
//! VoIP-metrics block; [`alert`] turns the estimates into quality alerts with hysteresis.

pub mod alert;
pub mod emodel;
pub mod stream;
