//! The G.729 encoder and decoder allocate nothing per frame (including reset and bad input).
//! A counting global allocator counts allocations made by this test's own thread while armed.

use rvoip_media_nodes::g729::{G729Decoder, G729Encoder};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: delegates every call to `System`, only adding a thread-local counter update that
// neither allocates nor unwinds.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn encode_and_decode_do_not_allocate() {
    let mut enc = G729Encoder::new(true);
    let mut enc_a = G729Encoder::new(false);
    let mut dec = G729Decoder::new();
    let junk = [0xa5u8; 13];
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    let mut bits = [0u8; 10];
    let mut out = [0i16; 80];
    let mut seed = 1u32;
    for k in 0..300 {
        let mut pcm = [0i16; 80];
        for s in pcm.iter_mut() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            *s = if k % 3 == 0 { 0 } else { (seed >> 16) as i16 >> (k % 12) };
        }
        let kind = enc.encode(&pcm, &mut bits);
        let _ = dec.decode(Some(&bits[..kind.len()]), &mut out);
        enc_a.encode(&pcm, &mut bits);
        let _ = dec.decode(Some(&bits), &mut out);
        let _ = dec.decode(None, &mut out);
        let _ = dec.decode(Some(&junk), &mut out);
    }
    enc.reset();
    dec.reset();
    ARMED.with(|a| a.set(false));
    assert_eq!(COUNT.with(Cell::get), 0);
}
