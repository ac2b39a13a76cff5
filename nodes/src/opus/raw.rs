//! libopus through `opusic-sys`, the one binding the crate uses: [`RawEncoder`] and
//! [`RawDecoder`] (one generic [`Raw`] over the libopus state type) own their libopus states
//! (created on `new`, destroyed on drop) and expose the calls [`OpusEncoder`](super::OpusEncoder)
//! and [`OpusDecoder`](super::OpusDecoder) need; both send their controls the same way, as
//! named [`SetCtl`] / [`GetCtl`] requests — among them the decoder's complexity, which switches
//! libopus's neural concealment on. Errors carry the libopus function (with the control's
//! name) and code.

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

/// The libopus version string, e.g. `"libopus 1.6.1"`.
pub(super) fn version() -> &'static str {
    // SAFETY: opus_get_version_string returns a pointer to a static NUL-terminated string.
    let text = unsafe { CStr::from_ptr(ffi::opus_get_version_string()) };
    text.to_str().unwrap_or("libopus")
}

/// Samples per channel in `packet` at `rate` Hz (`opus_packet_get_nb_samples`; the packet
/// must not be empty).
pub(super) fn packet_samples(packet: &[u8], rate: u32) -> Result<usize, RawError> {
    let len = i32::try_from(packet.len()).unwrap_or(i32::MAX);
    // SAFETY: `packet` points to `len` readable bytes (the callers bound the length).
    let n = unsafe { ffi::opus_packet_get_nb_samples(packet.as_ptr(), len, rate as i32) };
    check("opus_packet_get_nb_samples", n).map(|n| n as usize)
}

/// One libopus control request: its code and its name in errors, as the encoder's and as the
/// decoder's ctl function.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ctl {
    request: c_int,
    encoder: &'static str,
    decoder: &'static str,
}

/// A control that sets one `opus_int32`.
#[derive(Clone, Copy, Debug)]
pub(super) struct SetCtl(Ctl);

/// A control that reads one `opus_int32`.
#[derive(Clone, Copy, Debug)]
pub(super) struct GetCtl(Ctl);

/// The [`Ctl`] of request `$request` named `$name`.
macro_rules! ctl {
    ($request:ident, $name:literal) => {
        Ctl {
            request: ffi::$request,
            encoder: concat!("opus_encoder_ctl(", $name, ")"),
            decoder: concat!("opus_decoder_ctl(", $name, ")"),
        }
    };
}

/// `OPUS_SET_BITRATE` (bit/s, [`ffi::OPUS_AUTO`] or [`ffi::OPUS_BITRATE_MAX`]; encoder).
pub(super) const SET_BITRATE: SetCtl = SetCtl(ctl!(OPUS_SET_BITRATE_REQUEST, "OPUS_SET_BITRATE"));
/// `OPUS_SET_COMPLEXITY` (0–10; the decoder's switches its neural concealment on at 5 and up).
pub(super) const SET_COMPLEXITY: SetCtl = SetCtl(ctl!(OPUS_SET_COMPLEXITY_REQUEST, "OPUS_SET_COMPLEXITY"));
/// `OPUS_SET_INBAND_FEC` (0 or 1; encoder).
pub(super) const SET_INBAND_FEC: SetCtl = SetCtl(ctl!(OPUS_SET_INBAND_FEC_REQUEST, "OPUS_SET_INBAND_FEC"));
/// `OPUS_SET_PACKET_LOSS_PERC` (0–100; encoder).
pub(super) const SET_PACKET_LOSS_PERC: SetCtl =
    SetCtl(ctl!(OPUS_SET_PACKET_LOSS_PERC_REQUEST, "OPUS_SET_PACKET_LOSS_PERC"));
/// `OPUS_SET_DTX` (0 or 1; encoder).
pub(super) const SET_DTX: SetCtl = SetCtl(ctl!(OPUS_SET_DTX_REQUEST, "OPUS_SET_DTX"));
/// `OPUS_SET_VBR` (0 or 1; encoder).
pub(super) const SET_VBR: SetCtl = SetCtl(ctl!(OPUS_SET_VBR_REQUEST, "OPUS_SET_VBR"));
/// `OPUS_SET_VBR_CONSTRAINT` (0 or 1; encoder).
pub(super) const SET_VBR_CONSTRAINT: SetCtl = SetCtl(ctl!(OPUS_SET_VBR_CONSTRAINT_REQUEST, "OPUS_SET_VBR_CONSTRAINT"));
/// `OPUS_SET_SIGNAL` ([`ffi::OPUS_AUTO`], [`ffi::OPUS_SIGNAL_VOICE`] or [`ffi::OPUS_SIGNAL_MUSIC`]; encoder).
pub(super) const SET_SIGNAL: SetCtl = SetCtl(ctl!(OPUS_SET_SIGNAL_REQUEST, "OPUS_SET_SIGNAL"));
/// `OPUS_SET_MAX_BANDWIDTH` (an `OPUS_BANDWIDTH_*`; encoder).
pub(super) const SET_MAX_BANDWIDTH: SetCtl = SetCtl(ctl!(OPUS_SET_MAX_BANDWIDTH_REQUEST, "OPUS_SET_MAX_BANDWIDTH"));
/// `OPUS_GET_BITRATE` (encoder).
pub(super) const GET_BITRATE: GetCtl = GetCtl(ctl!(OPUS_GET_BITRATE_REQUEST, "OPUS_GET_BITRATE"));
/// `OPUS_GET_COMPLEXITY`.
pub(super) const GET_COMPLEXITY: GetCtl = GetCtl(ctl!(OPUS_GET_COMPLEXITY_REQUEST, "OPUS_GET_COMPLEXITY"));
/// `OPUS_GET_LOOKAHEAD` (encoder).
pub(super) const GET_LOOKAHEAD: GetCtl = GetCtl(ctl!(OPUS_GET_LOOKAHEAD_REQUEST, "OPUS_GET_LOOKAHEAD"));
/// `OPUS_GET_IN_DTX` (encoder).
pub(super) const GET_IN_DTX: GetCtl = GetCtl(ctl!(OPUS_GET_IN_DTX_REQUEST, "OPUS_GET_IN_DTX"));
/// `OPUS_GET_FINAL_RANGE` (an `opus_uint32`, read by [`Raw::final_range`]).
const GET_FINAL_RANGE: Ctl = ctl!(OPUS_GET_FINAL_RANGE_REQUEST, "OPUS_GET_FINAL_RANGE");
/// `OPUS_RESET_STATE` (no argument, sent by [`Raw::reset`]).
const RESET_STATE: Ctl = ctl!(OPUS_RESET_STATE, "OPUS_RESET_STATE");

/// What [`Raw`] needs of a libopus state type: its ctl and destroy functions and which of a
/// [`Ctl`]'s names its errors carry.
pub(super) trait State {
    /// `opus_encoder_ctl` or `opus_decoder_ctl`.
    const CTL: unsafe extern "C" fn(*mut Self, c_int, ...) -> c_int;
    /// `opus_encoder_destroy` or `opus_decoder_destroy`.
    const DESTROY: unsafe extern "C" fn(*mut Self);
    /// The control's name as this state's ctl function.
    fn name(ctl: Ctl) -> &'static str;
}

impl State for ffi::OpusEncoder {
    const CTL: unsafe extern "C" fn(*mut Self, c_int, ...) -> c_int = ffi::opus_encoder_ctl;
    const DESTROY: unsafe extern "C" fn(*mut Self) = ffi::opus_encoder_destroy;
    fn name(ctl: Ctl) -> &'static str {
        ctl.encoder
    }
}

impl State for ffi::OpusDecoder {
    const CTL: unsafe extern "C" fn(*mut Self, c_int, ...) -> c_int = ffi::opus_decoder_ctl;
    const DESTROY: unsafe extern "C" fn(*mut Self) = ffi::opus_decoder_destroy;
    fn name(ctl: Ctl) -> &'static str {
        ctl.decoder
    }
}

/// An owned libopus state (created by `opus_encoder_create` / `opus_decoder_create`,
/// destroyed on drop) and its channel count.
///
/// Only `new` allocates (libopus's one `malloc` of its state); coding, the controls and
/// `reset` work on that state and the stack.
pub(super) struct Raw<S: State> {
    ptr: NonNull<S>,
    channels: usize,
}

/// An owned libopus `OpusEncoder`.
pub(super) type RawEncoder = Raw<ffi::OpusEncoder>;
/// An owned libopus `OpusDecoder`.
pub(super) type RawDecoder = Raw<ffi::OpusDecoder>;

// SAFETY: the state is owned exclusively by this value and libopus keeps no thread-local or
// global mutable state for it; `&mut self` on every call that touches it serialises access,
// so moving it to another thread is sound.
unsafe impl<S: State> Send for Raw<S> {}

impl<S: State> Drop for Raw<S> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from the state's create function and is destroyed exactly once.
        unsafe { S::DESTROY(self.ptr.as_ptr()) }
    }
}

impl<S: State> Raw<S> {
    /// Sets one control to `value`.
    pub(super) fn set(&mut self, ctl: SetCtl, value: i32) -> Result<(), RawError> {
        // SAFETY: every SetCtl request takes one opus_int32 by value; the state is valid and
        // exclusively ours.
        let r = unsafe { S::CTL(self.ptr.as_ptr(), ctl.0.request, value) };
        check(S::name(ctl.0), r).map(drop)
    }

    /// Reads one control.
    pub(super) fn get(&mut self, ctl: GetCtl) -> Result<i32, RawError> {
        let mut value: i32 = 0;
        // SAFETY: every GetCtl request writes one opus_int32 through the pointer.
        let r = unsafe { S::CTL(self.ptr.as_ptr(), ctl.0.request, &mut value as *mut i32) };
        check(S::name(ctl.0), r).map(|_| value)
    }

    /// `OPUS_GET_FINAL_RANGE`: the range coder's final state of the last packet.
    pub(super) fn final_range(&mut self) -> Result<u32, RawError> {
        let mut value: u32 = 0;
        // SAFETY: the request writes one opus_uint32 through the pointer.
        let r = unsafe { S::CTL(self.ptr.as_ptr(), GET_FINAL_RANGE.request, &mut value as *mut u32) };
        check(S::name(GET_FINAL_RANGE), r).map(|_| value)
    }

    /// `OPUS_RESET_STATE` (the settings survive it).
    pub(super) fn reset(&mut self) -> Result<(), RawError> {
        // SAFETY: the request takes no argument.
        let r = unsafe { S::CTL(self.ptr.as_ptr(), RESET_STATE.request) };
        check(S::name(RESET_STATE), r).map(drop)
    }
}

impl Raw<ffi::OpusEncoder> {
    /// An encoder at `rate` Hz with `channels` (1 or 2) for `application` (an
    /// `OPUS_APPLICATION_*`; the caller has checked all three).
    pub(super) fn new(rate: u32, channels: u16, application: c_int) -> Result<Self, RawError> {
        let mut error: c_int = ffi::OPUS_OK;
        // SAFETY: plain FFI call; `error` is a valid out pointer.
        let ptr = unsafe { ffi::opus_encoder_create(rate as i32, c_int::from(channels), application, &mut error) };
        check("opus_encoder_create", error)?;
        let ptr = NonNull::new(ptr).ok_or(RawError { function: "opus_encoder_create", code: ffi::OPUS_ALLOC_FAIL })?;
        Ok(Raw { ptr, channels: usize::from(channels) })
    }

    /// Encodes `pcm` (interleaved; its length over the channel count is the frame size)
    /// into `out`, whose length bounds the packet. Returns the packet's length.
    pub(super) fn encode_float(&mut self, pcm: &[f32], out: &mut [u8]) -> Result<usize, RawError> {
        let frames = c_int::try_from(pcm.len() / self.channels).unwrap_or(c_int::MAX);
        let cap = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: `pcm` holds `frames` interleaved frames, `out` `cap` writable bytes; the
        // state is valid and exclusively ours.
        let n = unsafe { ffi::opus_encode_float(self.ptr.as_ptr(), pcm.as_ptr(), frames, out.as_mut_ptr(), cap) };
        check("opus_encode_float", n).map(|n| n as usize)
    }

    /// [`RawEncoder::encode_float`] from 16-bit samples (`opus_encode`).
    pub(super) fn encode_i16(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, RawError> {
        let frames = c_int::try_from(pcm.len() / self.channels).unwrap_or(c_int::MAX);
        let cap = i32::try_from(out.len()).unwrap_or(i32::MAX);
        // SAFETY: as in encode_float.
        let n = unsafe { ffi::opus_encode(self.ptr.as_ptr(), pcm.as_ptr(), frames, out.as_mut_ptr(), cap) };
        check("opus_encode", n).map(|n| n as usize)
    }
}

impl Raw<ffi::OpusDecoder> {
    /// A decoder at `rate` Hz with `channels` (1 or 2; the caller has checked both).
    pub(super) fn new(rate: u32, channels: u16) -> Result<Self, RawError> {
        let mut error: c_int = ffi::OPUS_OK;
        // SAFETY: plain FFI call; `error` is a valid out pointer.
        let ptr = unsafe { ffi::opus_decoder_create(rate as i32, c_int::from(channels), &mut error) };
        check("opus_decoder_create", error)?;
        let ptr = NonNull::new(ptr).ok_or(RawError { function: "opus_decoder_create", code: ffi::OPUS_ALLOC_FAIL })?;
        Ok(Raw { ptr, channels: usize::from(channels) })
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
