//! Ready-made conference graphs.
//!
//! A room of N participants is one partition: for every participant `i`, the packet input
//! `rx{i}` is decoded into input `i` of the N-1 [`Mixer`], and mixer output `i` (everyone
//! but `i`) is encoded onto the packet output `tx{i}`.
//!
//! ```
//! use rvoip_media_core::conference::g711_room;
//! use rvoip_media_core::prelude::*;
//! use rvoip_media_nodes::G711Law;
//!
//! let room = g711_room(3, G711Law::Ulaw, Quantum::MS_10).unwrap();
//! assert_eq!(room.plan.inputs.len(), 3);
//! assert_eq!(room.plan.outputs[2].name, "tx2");
//! ```

use rvoip_media_graph::{AudioFormat, CompiledGraph, GraphBuilder, GraphError, PortKind, Quantum};
use rvoip_media_nodes::{G711Decoder, G711Encoder, G711Law, Mixer};

/// An N-party G.711 room (8 kHz): `rx{i}` packets in, `tx{i}` packets out, SSRC `i` on
/// participant `i`'s outgoing stream.
pub fn g711_room(participants: usize, law: G711Law, quantum: Quantum) -> Result<CompiledGraph, GraphError> {
    let format = AudioFormat::mono(8000);
    let packets = PortKind::Packet(law.packet_format());
    let mut b = GraphBuilder::new(quantum);
    let mixer = b.add_node("mixer", Box::new(Mixer::new(participants, format)));
    for i in 0..participants {
        let rx = b.add_input(format!("rx{i}"), packets);
        let dec = b.add_node(format!("decode{i}"), Box::new(G711Decoder::new(law)));
        let enc = b.add_node(format!("encode{i}"), Box::new(G711Encoder::new(law).with_ssrc(i as u32)));
        let tx = b.add_output(format!("tx{i}"), packets);
        b.connect(rx, 0, dec, 0)?;
        b.connect(dec, 0, mixer, i)?;
        b.connect(mixer, i, enc, 0)?;
        b.connect(enc, 0, tx, 0)?;
    }
    b.build()
}
