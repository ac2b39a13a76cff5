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
        Packet {
            meta: PacketMeta { payload_type: 0, sequence: 0, timestamp: 0, ssrc: 0, marker: false },
            len: 0,
            data: [0; MAX_PAYLOAD],
        }
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

/// A packet port's buffer for one cycle: empty, or holding one packet.
#[derive(Clone, Debug, Default)]
pub struct PacketSlot {
    present: bool,
    packet: Packet,
}

impl PacketSlot {
    /// An empty slot.
    pub const fn new() -> Self {
        PacketSlot { present: false, packet: Packet::new() }
    }

    /// The packet, if one is present.
    pub fn get(&self) -> Option<&Packet> {
        self.present.then_some(&self.packet)
    }

    /// Marks the slot as holding a packet and returns it for writing. The previous contents
    /// stay in place (overwrite what you need).
    pub fn fill(&mut self) -> &mut Packet {
        self.present = true;
        &mut self.packet
    }

    /// Stores a copy of `packet`.
    pub fn put(&mut self, packet: &Packet) {
        self.present = true;
        self.packet.meta = packet.meta;
        self.packet.len = packet.len;
        self.packet.data[..packet.len()].copy_from_slice(packet.payload());
    }

    /// Empties the slot.
    pub fn clear(&mut self) {
        self.present = false;
    }

    /// Whether a packet is present.
    pub fn is_present(&self) -> bool {
        self.present
    }
}
