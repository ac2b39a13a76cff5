//! Call quality: the ITU-T G.107 E-model (narrowband) and G.107.1 (wideband), from a
//! connection's parameters to a rating R and an estimated MOS.
//!
//! This is the model only; the per-stream measurements that feed it (loss pattern, jitter
//! buffer and mouth-to-ear delay, RFC 3550/3611 statistics) come with the jitter buffer.

pub mod emodel;
