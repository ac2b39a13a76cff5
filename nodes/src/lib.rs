//! # rvoip-media-nodes
//!
//! The node vocabulary of rvoip-media-core.
#![deny(missing_docs)]

pub mod g722;
pub mod g729;
pub mod resample;
