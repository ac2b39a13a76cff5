//! Encoded packets as they travel on packet ports: a fixed-capacity payload plus RTP-level
//! metadata, so a packet never allocates.

use std::fmt;

/// Largest payload a [`Packet`] holds (an Ethernet MTU; libopus's largest 120 ms packet fits).
pub const MAX_PAYLOAD: usize = 1500;

/// RTP-level metadata that travels with a payload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// RTP payload type.
    pub payload_type: u8,
    /// RTP sequence number.
    pub sequence: u16,
    /// RTP timestamp in the encoding's clock.
    pub timestamp: u32,
    /// RTP synchronisation source.
    pub ssrc: u32,
    /// RTP marker bit (start of a talk spurt).
    pub marker: bool,
    /// Packets entering a graph: when the packet arrived, in ns of the host's monotonic
    /// clock (0: not stamped), set by whoever receives it (a transport, a capture replay);
    /// nodes read it, never the clock. Packets leaving a graph through the engine: when the
    /// cycle that produced them started (packets of one cycle share it).
    pub arrival_ns: u64,
    /// The RFC 6464 client-to-mixer audio level of a packet entering a graph, as its
    /// header-extension byte (`V` in bit 7, the level 0..=127 in −dBov below), set by
    /// whoever parsed the packet when the extension was negotiated; `None`: not carried.
    pub audio_level: Option<u8>,
}

impl PacketMeta {
    /// Metadata nobody has written yet (every field zero, no audio level): what
    /// [`Default`] gives, usable in `const` contexts such as a slot's initialiser.
    ///
    /// ```
    /// use rvoip_media_graph::PacketMeta;
    ///
    /// assert_eq!(PacketMeta::EMPTY, PacketMeta::default());
    /// ```
    pub const EMPTY: PacketMeta = PacketMeta {
        payload_type: 0,
        sequence: 0,
        timestamp: 0,
        ssrc: 0,
        marker: false,
        arrival_ns: 0,
        audio_level: None,
    };
}

/// The payload did not fit in [`MAX_PAYLOAD`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("payload of {len} bytes exceeds the packet capacity of {MAX_PAYLOAD} bytes")]
pub struct PayloadTooLarge {
    /// The rejected length.
    pub len: usize,
}

/// An encoded payload with its metadata, stored inline.
#[derive(Clone)]
pub struct Packet {
    /// RTP-level metadata.
    pub meta: PacketMeta,
    len: u16,
    data: [u8; MAX_PAYLOAD],
}

impl Packet {
    /// An empty packet.
    pub const fn new() -> Self {
        Packet { meta: PacketMeta::EMPTY, len: 0, data: [0; MAX_PAYLOAD] }
    }

    /// A packet holding `payload`.
    ///
    /// ```
    /// use rvoip_media_graph::{Packet, PacketMeta, MAX_PAYLOAD};
    /// let p = Packet::from_payload(PacketMeta::default(), &[1, 2, 3]).unwrap();
    /// assert_eq!(p.payload(), &[1, 2, 3]);
    /// assert!(Packet::from_payload(PacketMeta::default(), &[0; MAX_PAYLOAD + 1]).is_err());
    /// ```
    pub fn from_payload(meta: PacketMeta, payload: &[u8]) -> Result<Self, PayloadTooLarge> {
        let mut p = Packet::new();
        p.meta = meta;
        p.set_payload(payload)?;
        Ok(p)
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }

    /// Replaces the payload.
    pub fn set_payload(&mut self, payload: &[u8]) -> Result<(), PayloadTooLarge> {
        if payload.len() > MAX_PAYLOAD {
            return Err(PayloadTooLarge { len: payload.len() });
        }
        self.data[..payload.len()].copy_from_slice(payload);
        self.len = payload.len() as u16;
        Ok(())
    }

    /// The whole payload buffer, for encoders that write in place; follow with
    /// [`Packet::set_len`].
    pub fn buffer_mut(&mut self) -> &mut [u8; MAX_PAYLOAD] {
        &mut self.data
    }

    /// Sets the payload length after writing into [`Packet::buffer_mut`].
    pub fn set_len(&mut self, len: usize) -> Result<(), PayloadTooLarge> {
        if len > MAX_PAYLOAD {
            return Err(PayloadTooLarge { len });
        }
        self.len = len as u16;
        Ok(())
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for Packet {
    fn default() -> Self {
        Packet::new()
    }
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet").field("meta", &self.meta).field("len", &self.len).finish()
    }
}

impl PartialEq for Packet {
    fn eq(&self, other: &Self) -> bool {
        self.meta == other.meta && self.payload() == other.payload()
    }
}

/// A packet port's buffer for one cycle: up to [`PacketSlot::capacity`] packets in arrival
/// order (a burst), or none.
///
/// Graph packet inputs receive every packet that arrived since the previous cycle, up to the
/// capacity (the engine's packets-per-cycle setting); producers usually emit one with
/// [`PacketSlot::fill`] or [`PacketSlot::put`].
///
/// ```
/// use rvoip_media_graph::{Packet, PacketMeta, PacketSlot, SlotFull};
/// let mut slot = PacketSlot::with_capacity(2);
/// let p = |seq| Packet::from_payload(PacketMeta { sequence: seq, ..Default::default() }, &[1]).unwrap();
/// slot.push(&p(7)).unwrap();
/// slot.push(&p(8)).unwrap();
/// assert_eq!(slot.push(&p(9)), Err(SlotFull { capacity: 2 }));
/// assert_eq!(slot.packets().iter().map(|p| p.meta.sequence).collect::<Vec<_>>(), [7, 8]);
/// assert_eq!(slot.get().unwrap().meta.sequence, 7); // the first one
/// slot.clear();
/// assert!(slot.get().is_none());
/// ```
#[derive(Clone, Debug)]
pub struct PacketSlot {
    len: usize,
    packets: Box<[Packet]>,
}

/// [`PacketSlot::push`] found the slot full; the packet was not stored.
///
/// ```
/// use rvoip_media_graph::{Packet, PacketMeta, PacketSlot, SlotFull};
/// let p = Packet::from_payload(PacketMeta::default(), &[0xFF; 160]).unwrap();
/// let mut slot = PacketSlot::new(); // one packet per cycle
/// slot.push(&p).unwrap();
/// assert_eq!(slot.push(&p), Err(SlotFull { capacity: 1 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("packet slot full ({capacity} packets per cycle)")]
pub struct SlotFull {
    /// Packets the slot holds.
    pub capacity: usize,
}

impl Default for PacketSlot {
    fn default() -> Self {
        PacketSlot::new()
    }
}

impl PacketSlot {
    /// An empty slot holding one packet.
    pub fn new() -> Self {
        Self::with_capacity(1)
    }

    /// An empty slot holding up to `capacity` packets (at least one). Allocates.
    pub fn with_capacity(capacity: usize) -> Self {
        PacketSlot { len: 0, packets: (0..capacity.max(1)).map(|_| Packet::new()).collect() }
    }

    /// Packets the slot can hold.
    pub fn capacity(&self) -> usize {
        self.packets.len()
    }

    /// The first packet, if any is present.
    pub fn get(&self) -> Option<&Packet> {
        (self.len > 0).then(|| &self.packets[0])
    }

    /// Every present packet, in arrival order.
    pub fn packets(&self) -> &[Packet] {
        &self.packets[..self.len]
    }

    /// Number of packets present.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no packet is present.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Makes the slot hold exactly one packet and returns it for writing. The previous
    /// contents stay in place (overwrite what you need).
    pub fn fill(&mut self) -> &mut Packet {
        self.len = 1;
        &mut self.packets[0]
    }

    /// Makes the slot hold exactly a copy of `packet`.
    pub fn put(&mut self, packet: &Packet) {
        self.len = 0;
        // Capacity is at least one.
        let _ = self.push(packet);
    }

    /// Appends a copy of `packet` after those present. Real-time safe.
    pub fn push(&mut self, packet: &Packet) -> Result<(), SlotFull> {
        let capacity = self.packets.len();
        let dst = self.packets.get_mut(self.len).ok_or(SlotFull { capacity })?;
        dst.meta = packet.meta;
        dst.len = packet.len;
        dst.data[..packet.len()].copy_from_slice(packet.payload());
        self.len += 1;
        Ok(())
    }

    /// Empties the slot.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Whether a packet is present.
    pub fn is_present(&self) -> bool {
        self.len > 0
    }
}
