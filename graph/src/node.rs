//! Node descriptions: ports, parameters, latency.

use crate::format::PortKind;
use std::any::{Any, TypeId};
use std::fmt;

/// Index of a node in a graph (dense, in insertion order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index as `usize`.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One input or output port of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// Port name, unique among the node's inputs (or outputs).
    pub name: &'static str,
    /// Kind and format.
    pub kind: PortKind,
    /// For inputs: whether a connection is required. An optional input left unconnected
    /// reads silence (zeros, no packet, 0.0). Ignored for outputs.
    pub required: bool,
}

impl PortSpec {
    /// A required port.
    pub fn required(name: &'static str, kind: PortKind) -> Self {
        PortSpec { name, kind, required: true }
    }

    /// An optional port.
    pub fn optional(name: &'static str, kind: PortKind) -> Self {
        PortSpec { name, kind, required: false }
    }
}

/// A parameter a node accepts through [`crate::Processor::set_param`].
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// Identifier passed to `set_param`.
    pub id: u32,
    /// Human-readable name.
    pub name: &'static str,
    /// Smallest accepted value.
    pub min: f32,
    /// Largest accepted value.
    pub max: f32,
    /// Value at construction unless the constructor says otherwise.
    pub default: f32,
}

impl ParamSpec {
    /// Whether `value` is finite and within `[min, max]`.
    pub fn accepts(&self, value: f32) -> bool {
        value.is_finite() && value >= self.min && value <= self.max
    }
}

/// Everything the compiler needs to know about a node.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NodeSpec {
    /// Type name for messages, e.g. `"gain"`.
    pub type_name: &'static str,
    /// Input ports in index order.
    pub inputs: Vec<PortSpec>,
    /// Output ports in index order.
    pub outputs: Vec<PortSpec>,
    /// Algorithmic latency the node adds from its inputs to its outputs, in nanoseconds.
    pub latency_ns: u64,
    /// Parameters accepted by `set_param`.
    pub params: Vec<ParamSpec>,
    /// Message types accepted by [`crate::Processor::message`].
    pub messages: Vec<MessageType>,
    /// Names of the values the node publishes through [`crate::Processor::telemetry`], in
    /// the order it writes them (at most [`MAX_TELEMETRY`]).
    pub telemetry: &'static [&'static str],
}

/// Most telemetry values one node publishes.
pub const MAX_TELEMETRY: usize = 32;

/// A Rust type a node accepts as a message, identified by its [`TypeId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageType {
    /// The type's id.
    pub id: TypeId,
    /// The type's name, for error messages.
    pub name: &'static str,
}

impl MessageType {
    /// The entry for `T`.
    pub fn of<T: Any>() -> Self {
        MessageType { id: TypeId::of::<T>(), name: std::any::type_name::<T>() }
    }
}

impl NodeSpec {
    /// A spec with a type name and no ports.
    ///
    /// ```
    /// use rvoip_media_graph::{AudioFormat, NodeSpec, PortKind, PortSpec};
    /// let a = PortKind::Audio(AudioFormat::mono(8000));
    /// let spec = NodeSpec::new("gain")
    ///     .with_input(PortSpec::required("in", a))
    ///     .with_output(PortSpec::required("out", a));
    /// assert_eq!(spec.inputs.len(), 1);
    /// ```
    pub fn new(type_name: &'static str) -> Self {
        NodeSpec { type_name, ..Default::default() }
    }

    /// Adds an input port.
    pub fn with_input(mut self, port: PortSpec) -> Self {
        self.inputs.push(port);
        self
    }

    /// Adds an output port.
    pub fn with_output(mut self, port: PortSpec) -> Self {
        self.outputs.push(port);
        self
    }

    /// Sets the latency.
    pub fn with_latency_ns(mut self, ns: u64) -> Self {
        self.latency_ns = ns;
        self
    }

    /// Adds a parameter.
    pub fn with_param(mut self, p: ParamSpec) -> Self {
        self.params.push(p);
        self
    }

    /// The parameter with this id.
    pub fn param(&self, id: u32) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.id == id)
    }

    /// Declares that the node accepts messages of type `T` (see
    /// [`crate::Processor::message`]).
    pub fn with_message<T: Any>(mut self) -> Self {
        self.messages.push(MessageType::of::<T>());
        self
    }

    /// Whether the node accepts messages of the type with this id.
    pub fn accepts_message(&self, id: TypeId) -> bool {
        self.messages.iter().any(|m| m.id == id)
    }

    /// Declares the values the node publishes, in the order
    /// [`crate::Processor::telemetry`] writes them. At most [`MAX_TELEMETRY`] names; the
    /// rest are ignored.
    ///
    /// ```
    /// use rvoip_media_graph::NodeSpec;
    /// let spec = NodeSpec::new("decode").with_telemetry(&["late_packets", "concealed_samples"]);
    /// assert_eq!(spec.telemetry_index("concealed_samples"), Some(1));
    /// ```
    pub fn with_telemetry(mut self, names: &'static [&'static str]) -> Self {
        self.telemetry = &names[..names.len().min(MAX_TELEMETRY)];
        self
    }

    /// Position of the telemetry value called `name`.
    pub fn telemetry_index(&self, name: &str) -> Option<usize> {
        self.telemetry.iter().position(|n| *n == name)
    }
}
