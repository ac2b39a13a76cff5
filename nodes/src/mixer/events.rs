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
    /// Real-time: pushes the event of `cycle`, or returns false (the ring is full). Mixers
    /// send through an [`EventOut`], which counts what is dropped.
    fn send(&mut self, cycle: u64, kind: MixerEventKind) -> bool {
        self.0.push(MixerEvent { cycle, kind }).is_ok()
    }
}

/// Where a mixer sends its events: its [`EventSender`], if it has one, and how many events
/// the full ring made it drop (its `events_dropped` telemetry).
///
/// ```
/// use rvoip_media_nodes::mixer::{event_ring, EventOut, MixerEventKind};
/// let (tx, mut rx) = event_ring(1);
/// let mut out = EventOut::new(tx);
/// out.emit(3, MixerEventKind::TalkingStarted(0));
/// out.emit(4, MixerEventKind::TalkingStopped(0)); // the ring is full: dropped, counted
/// assert_eq!((rx.pop().map(|e| e.cycle), out.dropped()), (Some(3), 1));
/// let mut none = EventOut::default(); // a mixer without a ring: nothing sent, nothing counted
/// none.emit(5, MixerEventKind::DominantSpeaker(None));
/// assert_eq!(none.dropped(), 0);
/// ```
#[derive(Debug, Default)]
pub struct EventOut {
    sender: Option<EventSender>,
    dropped: u64,
}

impl EventOut {
    /// Events go to `sender`.
    pub fn new(sender: EventSender) -> Self {
        EventOut { sender: Some(sender), dropped: 0 }
    }

    /// Real-time: sends the event of `cycle`, or counts it dropped when the ring is full.
    pub fn emit(&mut self, cycle: u64, kind: MixerEventKind) {
        if let Some(e) = self.sender.as_mut() {
            if !e.send(cycle, kind) {
                self.dropped += 1;
            }
        }
    }

    /// Events dropped because the ring was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// A ring of `capacity` events (allocated here, on the control side).
pub fn event_ring(capacity: usize) -> (EventSender, MixerEvents) {
    let (p, c) = rtrb::RingBuffer::new(capacity.max(1));
    (EventSender(p), MixerEvents(c))
}
