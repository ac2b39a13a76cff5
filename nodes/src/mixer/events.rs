//! Talk events from the mixer to the control side: a lock-free SPSC ring (rtrb) whose
//! producer lives in the mixer. A full ring drops the event and counts it (telemetry
//! `events_dropped`); the worker never blocks or allocates for an event.

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MixerEventKind {
    /// Port `i` started talking (its level or VAD flag, with hangover).
    TalkingStarted(usize),
    /// Port `i` stopped talking.
    TalkingStopped(usize),
    /// The dominant speaker changed (`None`: nobody dominates any more).
    DominantSpeaker(Option<usize>),
}

/// An event and the partition cycle it happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MixerEvent {
    /// The cycle ([`rvoip_media_graph::ProcessIo::cycle`]).
    pub cycle: u64,
    /// What happened.
    pub kind: MixerEventKind,
}

/// The control side's end of a mixer's event ring.
///
/// ```
/// use rvoip_media_nodes::mixer::event_ring;
/// let (tx, mut rx) = event_ring(4);
/// assert!(rx.pop().is_none());
/// assert!(!rx.is_abandoned());
/// drop(tx); // the mixer is gone
/// assert!(rx.is_abandoned());
/// ```
#[derive(Debug)]
pub struct MixerEvents(rtrb::Consumer<MixerEvent>);

impl MixerEvents {
    /// The oldest event not yet read.
    pub fn pop(&mut self) -> Option<MixerEvent> {
        self.0.pop().ok()
    }

    /// True when the mixer holding the other end is gone (and nothing is left to read).
    pub fn is_abandoned(&self) -> bool {
        self.0.is_abandoned() && self.0.is_empty()
    }
}

/// The mixer's end (give it to [`Mixer::with_events`](super::Mixer::with_events)).
#[derive(Debug)]
pub struct EventSender(rtrb::Producer<MixerEvent>);

impl EventSender {
    /// Real-time: pushes the event of `cycle`, or returns false (the ring is full).
    ///
    /// ```
    /// use rvoip_media_nodes::mixer::{event_ring, MixerEventKind};
    /// let (mut tx, mut rx) = event_ring(1);
    /// assert!(tx.send(7, MixerEventKind::TalkingStarted(2)));
    /// assert!(!tx.send(8, MixerEventKind::TalkingStopped(2))); // full
    /// assert_eq!(rx.pop().map(|e| (e.cycle, e.kind)), Some((7, MixerEventKind::TalkingStarted(2))));
    /// ```
    pub fn send(&mut self, cycle: u64, kind: MixerEventKind) -> bool {
        self.0.push(MixerEvent { cycle, kind }).is_ok()
    }
}

/// A ring of `capacity` events (allocated here, on the control side).
pub fn event_ring(capacity: usize) -> (EventSender, MixerEvents) {
    let (p, c) = rtrb::RingBuffer::new(capacity.max(1));
    (EventSender(p), MixerEvents(c))
}
