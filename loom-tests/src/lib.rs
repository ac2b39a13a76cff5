//! loom models of rvoip-media-core's own lock-free structures.
//!
//! The structures in the `rvoip-media-sync` crate (`rvoip_media_core::sync`) are written
//! against a shim that switches to loom's atomics and cells under `--cfg loom`, so these
//! models check the very code the runtime runs, and build only that crate and the graph
//! crate, not the media code. Run them with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release -p loom-tests
//! ```
//!
//! Without `--cfg loom` the models are compiled out and this crate tests nothing.
//!
//! | model | structure | threads | what it checks |
//! |---|---|---|---|
//! | `pool` | `sync::pool::Pool` (Treiber stack, tagged head) | 2–3 | no object handed out twice; exhaustion is an error; released objects come back |
//! | `command` | `sync::command` over `sync::spsc` | 2 | every command applied once in order, one reply each, a full queue hands the command back, no reply ever lost, returned payloads dropped on the control thread |
//! | `seqlock` | `sync::seqlock::SeqLock` | 2 | a reader never sees a torn snapshot, and snapshots never go backwards |
//! | `spsc` | `sync::spsc` | 2 | FIFO order, nothing lost or duplicated, full ring returns the value |
//! | `telemetry` | `sync::seqlock::SeqLockSlice` (node telemetry) | 2 | a reader never sees a torn or older telemetry snapshot |
//! | `lanes` | `sync::lanes::Lanes` (a kernel room's packet lanes, payloads inline or pooled) | 2 | packets cross in order and whole, none lost or read twice, a full lane refuses; the last end gone gives the pooled payloads back and frees the lane |
//! | `message` | a node's `Processor::message` over `sync::command` | 2 | a message's replaced state rides back and is dropped on the control thread, never on the worker; every reply arrives |
//! | `abandon` | `control::ControlCell` / `ControlShared` (`engine`'s control endpoints) | 2 | the host sees a control endpoint abandoned, and then sees the worker's last value |
