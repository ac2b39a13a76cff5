//! Shared encodes: every listener who hears the shared mix (the mixer's `all` output) with
//! the same codec and settings takes its frames from one encode of it, spliced into its own
//! RTP stream (`EncodeNode::with_shared_input`). One shared encode per codec variant
//! (encoding, rate, payload type, channels, frame size and the encoder's other settings),
//! created with its first leg and removed with its last: the encode count is the heard
//! talkers' own mixes plus one per variant, not one per member. In a room spread over
//! several workers each shard runs its own shared encodes for its legs (one per variant
//! and shard: every shard mixes the same heard talkers, so they encode the same audio,
//! and no packet crosses a core). G.711, G.722, G.729
//! (without Annex B) and Opus (without DTX) share. A stateful codec's shared encoder runs
//! every cycle whoever listens, so its history is the shared stream's; a leg that becomes a
//! heard talker takes its stream back with its own encoder primed on what it last heard
//! (G.722, G.729) or resuming (Opus), and marks the packet (`EncodeNode` counts these
//! `handoffs`).

use super::kernel::{KernelShare, SHARED_SLOTS};
use super::leg::Variant;
use super::{setup, Room};
use crate::engine::{Edit, Engine, EngineError};
use rvoip_media_graph::NodeKey;
use rvoip_media_nodes::codec::{EncodeNode, Encoder};

/// A shared encode as the room remembers it.
#[derive(Clone, Debug)]
pub(super) struct SharedEncode {
    /// The encoder, whose packets go to every leg of the variant.
    pub(super) encode: NodeKey,
    /// Where the mixer's `all` output goes in (a resampler, or the encoder).
    pub(super) input: NodeKey,
    nodes: Vec<NodeKey>,
    users: usize,
    /// In a kernel room: the kernel's slot that runs it (`encode` is then the kernel node).
    slot: Option<usize>,
}

impl Room {
    /// The variant a leg encoding with `encoder` can share, if the room shares encodes and
    /// the codec allows it at this quantum ([`Encoder::share`], the quantum a whole number
    /// of frames and a ptime the codec takes: Opus shares when its frame is the quantum).
    pub(super) fn share_variant(&self, encoder: &dyn Encoder, engine: &Engine) -> Option<Variant> {
        if !self.config.shared_encodes || self.config.policy.is_none() {
            return None;
        }
        let info = encoder.info();
        let q = engine.config().quantum;
        let whole =
            q.frames_at(info.sample_rate).is_some_and(|n| info.frame_samples > 0 && n % info.frame_samples == 0);
        if encoder.share().is_none() || info.check_ptime(q.micros()).is_err() || !whole {
            return None;
        }
        Some(Variant {
            encoding: info.encoding,
            rate: info.sample_rate,
            payload_type: info.payload_type,
            channels: info.channels,
            frame_samples: info.frame_samples,
            settings: encoder.settings_key(),
        })
    }

    /// One more leg of `variant`: creates its shared encode (a [`Encoder::share`] of the
    /// leg's `encoder`) if it is the first.
    pub(super) fn use_shared(
        &mut self,
        edit: &mut Edit<'_>,
        engine: &Engine,
        variant: Variant,
        encoder: &dyn Encoder,
    ) -> Result<(), EngineError> {
        if let Some(s) = self.shared.get_mut(&(variant, 0)) {
            s.users += 1;
            return Ok(());
        }
        let name = format!(
            "shared.{}.{}.{}.{}.{}.{:x}",
            variant.encoding,
            variant.rate,
            variant.payload_type,
            variant.channels,
            variant.frame_samples,
            variant.settings
        );
        let enc = shared_encoder(&name, encoder, engine)?;
        let encode = edit.add_node(format!("{name}.encode"), Box::new(enc))?;
        let mut nodes = vec![encode];
        let input = match self.resample_node(edit, format!("{name}.down"), self.config.format.rate, variant.rate)? {
            Some(r) => {
                edit.connect(r, 0, encode, 0)?;
                nodes.push(r);
                r
            }
            None => encode,
        };
        edit.connect(self.mixer, 2 * self.capacity, input, 0)?;
        self.shared.insert((variant, 0), SharedEncode { encode, input, nodes, users: 1, slot: None });
        Ok(())
    }

    /// One more kernel leg of `variant` on kernel node `kernel` (the room's, or shard
    /// `shard`'s): the slot of its shared encode on that kernel, which the first leg starts
    /// (a [`Encoder::share`] of its `encoder`, sent in `edit` ahead of the leg); `None` when
    /// the kernel's [`SHARED_SLOTS`] are all taken (the leg then encodes its own).
    pub(super) fn use_kernel_shared(
        &mut self,
        edit: &mut Edit<'_>,
        engine: &Engine,
        (variant, shard): (Variant, usize),
        encoder: &dyn Encoder,
        kernel: NodeKey,
    ) -> Result<Option<usize>, EngineError> {
        if let Some(s) = self.shared.get_mut(&(variant, shard)) {
            s.users += 1;
            return Ok(s.slot);
        }
        let taken: Vec<usize> =
            self.shared.iter().filter(|((_, k), _)| *k == shard).filter_map(|(_, s)| s.slot).collect();
        let Some(slot) = (0..SHARED_SLOTS).find(|k| !taken.contains(k)) else { return Ok(None) };
        let enc = shared_encoder(&format!("shared slot {slot}"), encoder, engine)?;
        edit.message(kernel, KernelShare { slot, encode: Some(Box::new(enc)) })?;
        let shared = SharedEncode { encode: kernel, input: kernel, nodes: Vec::new(), users: 1, slot: Some(slot) };
        self.shared.insert((variant, shard), shared);
        Ok(Some(slot))
    }

    /// One leg of `variant` on `shard` (0 in a room on one worker) fewer: the last one takes
    /// the shared encode with it.
    pub(super) fn release_shared(&mut self, edit: &mut Edit<'_>, key: (Variant, usize)) -> Result<(), EngineError> {
        let Some(s) = self.shared.get_mut(&key) else { return Ok(()) };
        s.users -= 1;
        if s.users == 0 {
            if let Some(slot) = s.slot {
                edit.message(s.encode, KernelShare { slot, encode: None })?;
            }
            for k in s.nodes.clone() {
                edit.remove(k)?;
            }
            self.shared.remove(&key);
        }
        Ok(())
    }

    /// Shared encodes running: one per codec variant with listeners (in a room spread over
    /// several workers, per variant and shard).
    pub fn shared_encodes(&self) -> usize {
        self.shared.len()
    }

    /// Keys of the shared encoder nodes (for their telemetry; a kernel room's shared encodes
    /// are counted by its kernel's `shared_encoder_packets`).
    pub(super) fn shared_encoders(&self) -> impl Iterator<Item = NodeKey> + '_ {
        self.shared.values().filter(|s| s.slot.is_none()).map(|s| s.encode)
    }
}

/// The shared encode of `encoder`'s variant, named `name` in errors: a [`Encoder::share`] of
/// it at a packet time of one quantum.
fn shared_encoder(name: &str, encoder: &dyn Encoder, engine: &Engine) -> Result<EncodeNode, EngineError> {
    let encoder = encoder.share().ok_or_else(|| setup(name, "the codec cannot share its encode"))?;
    let q = engine.config().quantum;
    EncodeNode::new(encoder, q.micros(), q).map_err(|e| setup(name, e))
}
