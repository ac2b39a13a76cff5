//! libopus's decoder through `opusic-sys` directly: the `opus` crate has no decoder
//! complexity control (which switches libopus's neural concealment on) and does not expose
//! its decoder pointer, so [`OpusDecoder`](super::OpusDecoder) owns its libopus state here.
//! Errors carry the libopus function and code, as the `opus` crate's do.

use std::ffi::{c_int, CStr};
use std::ptr::NonNull;

use opusic_sys as ffi;

use super::OpusError;

/// A libopus error: the function that returned it and its (negative) code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RawError {
    pub(super) function: &'static str,
    pub(super) code: c_int,
}

impl RawError {
    /// The packet was corrupt (`OPUS_INVALID_PACKET`).
    pub(super) fn is_invalid_packet(self) -> bool {
        self.code == ffi::OPUS_INVALID_PACKET
    }
}

impl From<RawError> for OpusError {
    fn from(e: RawError) -> Self {
        // SAFETY: opus_strerror returns a pointer to a static NUL-terminated ASCII string for
        // any code (an "unknown error" string for codes it does not know).
        let text = unsafe { CStr::from_ptr(ffi::opus_strerror(e.code)) };
        OpusError::Libopus { function: e.function, description: text.to_str().unwrap_or("unknown error") }
    }
}

/// Result of a libopus call: a non-negative value or the error.
fn check(function: &'static str, code: c_int) -> Result<c_int, RawError> {
    if code < 0 {
        Err(RawError { function, code })
    } else {
        Ok(code)
    }
}

/// An owned libopus `OpusDecoder` (created by `opus_decoder_create`, destroyed on drop).
///
/// Only `new` allocates (libopus's one `malloc` of its state); decoding, the controls and
/// `reset` work on that state and the stack.
pub(super) struct RawDecoder {
    ptr: NonNull<ffi::OpusDecoder>,
    channels: usize,
}

// SAFETY: the decoder state is owned exclusively by this value and libopus keeps no
// thread-local or global mutable state for it; `&mut self` on every call that touches it
// serialises access, so moving it to another thread is sound.
unsafe impl Send for RawDecoder {}

impl Drop for RawDecoder {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from opus_decoder_create and is destroyed exactly once.
        unsafe { ffi::opus_decoder_destroy(self.ptr.as_ptr()) }
    }
}

impl RawDecoder {
    /// A decoder at `rate` Hz with `channels` (1 or 2; the caller has checked both).
    pub(super) fn new(rate: u32, channels: u16) -> Result<Self, RawError> {
        let mut error: c_int = ffi::OPUS_OK;
        // SAFETY: plain FFI call; `error` is a valid out pointer.
        let ptr = unsafe { ffi::opus_decoder_create(rate as i32, c_int::from(channels), &mut error) };
        check("opus_decoder_create", error)?;
        let ptr = NonNull::new(ptr).ok_or(RawError { function: "opus_decoder_create", code: ffi::OPUS_ALLOC_FAIL })?;
        Ok(RawDecoder { ptr, channels: usize::from(channels) })
    }

    /// Decodes `input` (an empty slice conceals) into `out` (interleaved; its length over
    /// the channel count is the duration asked for), `fec` as `opus_decode_float`'s
    /// `decode_fec`. Returns samples per channel.
    pub(super) fn decode_float(&mut self, input: &[u8], out: &mut [f32], fec: bool) -> Result<usize, RawError> {
        let (data, len) = packet(input);
        let frames = c_int::try_from(out.len() / self.channels).unwrap_or(c_int::MAX);
        // SAFETY: `data` is null or points to `len` readable bytes; `out` holds `frames`
        // interleaved frames of `channels` samples; the state is valid and exclusively ours.
        let n =
            unsafe { ffi::opus_decode_float(self.ptr.as_ptr(), data, len, out.as_mut_ptr(), frames, c_int::from(fec)) };
        check("opus_decode_float", n).map(|n| n as usize)
    }

    /// [`RawDecoder::decode_float`] to 16-bit samples (`opus_decode`).
    pub(super) fn decode_i16(&mut self, input: &[u8], out: &mut [i16], fec: bool) -> Result<usize, RawError> {
        let (data, len) = packet(input);
        let frames = c_int::try_from(out.len() / self.channels).unwrap_or(c_int::MAX);
        // SAFETY: as in decode_float.
        let n = unsafe { ffi::opus_decode(self.ptr.as_ptr(), data, len, out.as_mut_ptr(), frames, c_int::from(fec)) };
        check("opus_decode", n).map(|n| n as usize)
    }

    /// `OPUS_SET_COMPLEXITY` (0–10; libopus rejects anything else with `OPUS_BAD_ARG`).
    pub(super) fn set_complexity(&mut self, complexity: i32) -> Result<(), RawError> {
        // SAFETY: the request takes one opus_int32 by value.
        let r = unsafe { ffi::opus_decoder_ctl(self.ptr.as_ptr(), ffi::OPUS_SET_COMPLEXITY_REQUEST, complexity) };
        check("opus_decoder_ctl(OPUS_SET_COMPLEXITY)", r).map(drop)
    }

    /// `OPUS_GET_COMPLEXITY`.
    pub(super) fn complexity(&mut self) -> Result<i32, RawError> {
        let mut value: i32 = 0;
        // SAFETY: the request writes one opus_int32 through the pointer.
        let r = unsafe {
            ffi::opus_decoder_ctl(self.ptr.as_ptr(), ffi::OPUS_GET_COMPLEXITY_REQUEST, &mut value as *mut i32)
        };
        check("opus_decoder_ctl(OPUS_GET_COMPLEXITY)", r).map(|_| value)
    }

    /// `OPUS_GET_FINAL_RANGE`.
    pub(super) fn final_range(&mut self) -> Result<u32, RawError> {
        let mut value: u32 = 0;
        // SAFETY: the request writes one opus_uint32 through the pointer.
        let r = unsafe {
            ffi::opus_decoder_ctl(self.ptr.as_ptr(), ffi::OPUS_GET_FINAL_RANGE_REQUEST, &mut value as *mut u32)
        };
        check("opus_decoder_ctl(OPUS_GET_FINAL_RANGE)", r).map(|_| value)
    }

    /// `OPUS_RESET_STATE` (the complexity survives it).
    pub(super) fn reset(&mut self) -> Result<(), RawError> {
        // SAFETY: the request takes no argument.
        let r = unsafe { ffi::opus_decoder_ctl(self.ptr.as_ptr(), ffi::OPUS_RESET_STATE) };
        check("opus_decoder_ctl(OPUS_RESET_STATE)", r).map(drop)
    }
}

/// libopus's view of a packet: null for an empty one (a loss).
fn packet(input: &[u8]) -> (*const u8, i32) {
    if input.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The callers have bounded the length (MAX_PAYLOAD_BYTES).
        (input.as_ptr(), i32::try_from(input.len()).unwrap_or(i32::MAX))
    }
}
