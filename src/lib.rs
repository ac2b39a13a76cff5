//! # rvoip-media-core
#![deny(missing_docs)]
