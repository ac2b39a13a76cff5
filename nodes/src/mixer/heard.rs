//! [`HeardSink`]: where a policy [`Mixer`](super::Mixer) publishes, each cycle, who it mixed
//! (at most [`MAX_HEARD`] members, with the level of each one's input) — for a transport
//! that writes RFC 6465 mixer-to-client levels (the CSRC list of a listener's packet: the
//! members mixed into what it hears, itself left out). The board itself lives with the
//! runtime's other lock-free structures (`rvoip_media_core::conference::HeardBoard`, a
//! sequence lock with a loom model).

/// Most members a list holds (RFC 3550's CSRC count).
pub const MAX_HEARD: usize = 15;

/// Takes the list of who a mixer mixed in a cycle: `(mixer port, level)` pairs, the level
/// in −dBov (0..=127), at most [`MAX_HEARD`], in port order.
///
/// `publish` is called on the mixer's worker once a cycle: an implementation must not
/// allocate, lock or block.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use rvoip_media_nodes::mixer::HeardSink;
/// /// Keeps how many were mixed (a real sink keeps the list: a sequence lock).
/// #[derive(Debug, Default)]
/// struct Count(AtomicU32);
/// impl HeardSink for Count {
///     fn publish(&self, heard: &[(u32, u8)]) {
///         self.0.store(heard.len() as u32, Ordering::Relaxed);
///     }
/// }
/// let sink = Count::default();
/// sink.publish(&[(2, 30), (5, 41)]);
/// assert_eq!(sink.0.load(Ordering::Relaxed), 2);
/// ```
pub trait HeardSink: Send + Sync + std::fmt::Debug {
    /// Publishes this cycle's list (replacing the last one).
    fn publish(&self, heard: &[(u32, u8)]);
}
