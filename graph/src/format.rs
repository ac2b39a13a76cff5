//! Port formats and the processing quantum.

use std::fmt;
use std::time::Duration;

/// The block of time every node processes per cycle.
///
/// The runtime accepts 2.5, 5, 10 and 20 ms; every audio rate in a graph must hold a whole
/// number of frames per quantum (44.1 kHz works with 10 and 20 ms, not with 2.5 or 5 ms).
///
/// ```
/// use rvoip_media_graph::Quantum;
/// let q = Quantum::MS_10;
/// assert_eq!(q.frames_at(8_000), Some(80));
/// assert_eq!(q.frames_at(44_100), Some(441));
/// assert_eq!(Quantum::from_micros(2_500).unwrap().frames_at(44_100), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Quantum {
    micros: u32,
}

impl Quantum {
    /// 2.5 ms.
    pub const MS_2_5: Quantum = Quantum { micros: 2_500 };
    /// 5 ms.
    pub const MS_5: Quantum = Quantum { micros: 5_000 };
    /// 10 ms, the default.
    pub const MS_10: Quantum = Quantum { micros: 10_000 };
    /// 20 ms.
    pub const MS_20: Quantum = Quantum { micros: 20_000 };

    /// The supported quanta.
    pub const SUPPORTED: [Quantum; 4] = [Self::MS_2_5, Self::MS_5, Self::MS_10, Self::MS_20];

    /// A quantum of `micros` microseconds, if it is one of [`Quantum::SUPPORTED`].
    pub fn from_micros(micros: u32) -> Option<Quantum> {
        Self::SUPPORTED.into_iter().find(|q| q.micros == micros)
    }

    /// Length in microseconds.
    pub fn micros(self) -> u32 {
        self.micros
    }

    /// Length as a [`Duration`].
    pub fn duration(self) -> Duration {
        Duration::from_micros(u64::from(self.micros))
    }

    /// Frames per quantum at `rate` Hz, or `None` when the quantum does not hold a whole
    /// number of frames at that rate.
    pub fn frames_at(self, rate: u32) -> Option<usize> {
        let num = u64::from(rate) * u64::from(self.micros);
        (num % 1_000_000 == 0).then_some((num / 1_000_000) as usize)
    }
}

impl Default for Quantum {
    fn default() -> Self {
        Self::MS_10
    }
}

impl fmt::Display for Quantum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", f64::from(self.micros) / 1000.0)
    }
}

/// Format of an audio port: sample rate and channel count. Samples are interleaved `f32`
/// in [-1, 1].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AudioFormat {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Number of interleaved channels (1 or 2 in practice).
    pub channels: u16,
}

impl AudioFormat {
    /// Mono at `rate` Hz.
    ///
    /// ```
    /// let f = rvoip_media_graph::AudioFormat::mono(16_000);
    /// assert_eq!((f.rate, f.channels), (16_000, 1));
    /// ```
    pub const fn mono(rate: u32) -> Self {
        AudioFormat { rate, channels: 1 }
    }

    /// Interleaved samples (frames × channels) per quantum, or `None` when the quantum does
    /// not divide this rate.
    pub fn samples_per_quantum(self, q: Quantum) -> Option<usize> {
        q.frames_at(self.rate).map(|f| f * usize::from(self.channels))
    }
}

impl fmt::Display for AudioFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "audio {} Hz x{}", self.rate, self.channels)
    }
}

/// Format of a packet port: which encoding travels on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketFormat {
    /// SDP encoding name, e.g. `"PCMU"`.
    pub encoding: &'static str,
    /// RTP clock rate of the encoding.
    pub clock_rate: u32,
    /// Channels of the encoding.
    pub channels: u16,
}

impl fmt::Display for PacketFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "packet {}/{}", self.encoding, self.clock_rate)?;
        if self.channels != 1 {
            write!(f, "/{}", self.channels)?;
        }
        Ok(())
    }
}

/// The kind and format of a port. Two ports may be connected only when their kinds are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// Interleaved `f32` audio, one quantum per cycle.
    Audio(AudioFormat),
    /// At most one encoded packet per cycle with RTP-level metadata.
    Packet(PacketFormat),
    /// One `f32` value per cycle (a level, a probability, a flag as 0/1).
    Control,
}

impl PortKind {
    /// The buffer kind that carries this port.
    pub fn buffer_kind(&self) -> BufferKind {
        match self {
            PortKind::Audio(_) => BufferKind::Audio,
            PortKind::Packet(_) => BufferKind::Packet,
            PortKind::Control => BufferKind::Control,
        }
    }
}

impl fmt::Display for PortKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortKind::Audio(a) => a.fmt(f),
            PortKind::Packet(p) => p.fmt(f),
            PortKind::Control => f.write_str("control"),
        }
    }
}

/// The three buffer arenas of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BufferKind {
    /// Audio sample buffers.
    Audio,
    /// Packet slots.
    Packet,
    /// Control values.
    Control,
}
