//! A counting global allocator for the worker-allocation tests: every allocation,
//! reallocation and free is counted, and those made on an engine worker thread
//! (`engine::is_worker_thread()`, itself allocation-free) are counted apart. A test binary
//! installs it with `#[global_allocator] static ALLOC: WorkerCounting = WorkerCounting;`.
//! A thread that is not an engine worker (an I/O thread) can be watched the same way by its
//! kernel thread id: `watch_thread(tid)`, counted in `WATCHED_ALLOCS` / `WATCHED_FREES`.
//! The bytes live on the heap are kept too (`LIVE_BYTES`), for what a session holds.
#![allow(dead_code)]

use rvoip_media_core::engine::is_worker_thread;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Allocations and reallocations on worker threads.
pub static WORKER_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Frees on worker threads.
pub static WORKER_FREES: AtomicU64 = AtomicU64::new(0);
/// Allocations and reallocations on any thread (shows the counter works).
pub static ALL_ALLOCS: AtomicU64 = AtomicU64::new(0);

/// Bytes allocated and not yet freed, on every thread.
pub static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

/// Allocations and reallocations on the watched thread.
pub static WATCHED_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Frees on the watched thread.
pub static WATCHED_FREES: AtomicU64 = AtomicU64::new(0);
/// The kernel thread id being watched (0: none).
static WATCHED: AtomicI64 = AtomicI64::new(0);

/// Counts the allocations of the thread with kernel id `tid` from now on (0 stops).
pub fn watch_thread(tid: i64) {
    WATCHED.store(tid, Ordering::SeqCst);
}

/// The kernel thread id of this process's thread whose name starts with `name` (the kernel
/// keeps 15 bytes of a thread's name).
pub fn tid_of(name: &str) -> Option<i64> {
    for t in std::fs::read_dir("/proc/self/task").ok()? {
        let t = t.ok()?;
        let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
        if comm.trim().starts_with(name) {
            return t.file_name().to_str()?.parse().ok();
        }
    }
    None
}

fn watched() -> bool {
    let w = WATCHED.load(Ordering::Relaxed);
    // SAFETY: gettid has no preconditions and does not allocate.
    w != 0 && i64::from(unsafe { libc::gettid() }) == w
}

/// The system allocator, counting.
pub struct WorkerCounting;

fn count_alloc() {
    ALL_ALLOCS.fetch_add(1, Ordering::Relaxed);
    if is_worker_thread() {
        WORKER_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
    if watched() {
        WATCHED_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for WorkerCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc();
        LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_alloc();
        LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        if is_worker_thread() {
            WORKER_FREES.fetch_add(1, Ordering::Relaxed);
        }
        if watched() {
            WATCHED_FREES.fetch_add(1, Ordering::Relaxed);
        }
        System.dealloc(ptr, layout)
    }
}
