//! # rvoip-media-nodes
//!
//! The node vocabulary of rvoip-media-core.
#![deny(missing_docs)]
