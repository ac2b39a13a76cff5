//! The runtime's own lock-free structures, written against a small shim so the same code
//! runs on `std` atomics in production and on [loom](https://docs.rs/loom)'s model-checked
//! atomics under `--cfg loom` (see `loom-tests/`).
//!
//! - [`spsc`]: a bounded single-producer single-consumer ring (commands and replies).
//! - [`command`]: the control <-> worker command/reply protocol over two rings, with credit
//!   accounting that makes a full reply ring impossible.
//! - [`pool`]: a fixed-capacity lock-free object pool (audio frames, packets).
//! - [`seqlock`]: latest-value publication of statistics, written by a worker without ever
//!   blocking, read by anyone.

pub mod command;
pub mod pool;
pub mod seqlock;
pub mod spsc;

#[cfg(loom)]
pub(crate) use loom::sync::atomic;
#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic;
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

/// Hint for a retry loop: a CPU spin hint normally, a scheduler yield under loom (which
/// must see the loop give way to the other thread).
#[inline]
pub(crate) fn spin_hint() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

/// `UnsafeCell` with loom's closure-based access API, so loom can track every access.
#[derive(Debug)]
pub(crate) struct Cell<T>(#[cfg(loom)] loom::cell::UnsafeCell<T>, #[cfg(not(loom))] std::cell::UnsafeCell<T>);

impl<T> Cell<T> {
    pub(crate) fn new(v: T) -> Self {
        #[cfg(loom)]
        return Cell(loom::cell::UnsafeCell::new(v));
        #[cfg(not(loom))]
        Cell(std::cell::UnsafeCell::new(v))
    }

    /// Runs `f` with a shared raw pointer to the contents.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with(f);
        #[cfg(not(loom))]
        f(self.0.get())
    }

    /// Runs `f` with a mutable raw pointer to the contents.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(loom)]
        return self.0.with_mut(f);
        #[cfg(not(loom))]
        f(self.0.get())
    }
}
