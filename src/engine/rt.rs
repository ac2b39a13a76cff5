//! Real-time thread setup and pacing: worker marking, CPU pinning, SCHED_FIFO promotion,
//! and absolute-deadline sleeping on the monotonic clock.

use std::cell::Cell;

thread_local! {
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is a real-time worker in its steady state (after set-up,
/// before tear-down). A counting global allocator can call this to attribute allocations:
/// it reads a `const`-initialised thread-local and never allocates.
///
/// ```
/// assert!(!rvoip_media_core::engine::is_worker_thread());
/// ```
pub fn is_worker_thread() -> bool {
    IS_WORKER.with(|w| w.get())
}

pub(crate) fn set_worker_thread(on: bool) {
    IS_WORKER.with(|w| w.set(on));
}

/// What happened when a worker asked for real-time scheduling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtPriority {
    /// Not requested ([`crate::EngineConfig::realtime`] was off).
    NotRequested,
    /// Running under SCHED_FIFO at this priority.
    Fifo(u8),
    /// The system refused (typically no CAP_SYS_NICE / RLIMIT_RTPRIO); the worker runs
    /// with normal priority. The value is the OS error code if one was given.
    Denied(i32),
}

/// Pins the calling thread to `core` (an index into the system's core list).
pub(crate) fn pin_to(core: usize) -> bool {
    match core_affinity::get_core_ids() {
        Some(ids) => ids.get(core).is_some_and(|id| core_affinity::set_for_current(*id)),
        None => false,
    }
}

/// Tries SCHED_FIFO at `priority` (1..=99) for the calling thread.
pub(crate) fn promote(priority: u8) -> RtPriority {
    #[cfg(unix)]
    {
        use thread_priority::unix::{
            set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadSchedulePolicy,
        };
        use thread_priority::{ThreadPriority, ThreadPriorityValue};
        let Ok(value) = ThreadPriorityValue::try_from(priority.clamp(1, 99)) else {
            return RtPriority::Denied(libc::EINVAL);
        };
        let policy = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
        match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Crossplatform(value), policy) {
            Ok(()) => RtPriority::Fifo(priority),
            Err(thread_priority::Error::OS(code)) => RtPriority::Denied(code),
            Err(_) => RtPriority::Denied(0),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = priority;
        RtPriority::Denied(0)
    }
}

/// The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID; no allocation;
/// 0 where there is no such clock): what a worker, or a host thread running a
/// [`super::Driver`], spent on the CPU, without the time it was preempted.
///
/// ```
/// use rvoip_media_core::engine::thread_cpu_ns;
/// let before = thread_cpu_ns();
/// let mut x = 0u64;
/// for i in 0..100_000u64 {
///     x = x.wrapping_add(std::hint::black_box(i));
/// }
/// assert!(thread_cpu_ns() >= before, "{x}");
/// ```
pub fn thread_cpu_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
    #[cfg(not(unix))]
    0
}

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC; no allocation, vDSO on Linux).
pub(crate) fn now_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
    #[cfg(not(unix))]
    {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Sleeps until the monotonic clock reads `deadline_ns` (absolute, so sleeps never
/// accumulate drift); returns at once if it has passed.
pub(crate) fn sleep_until(deadline_ns: u64) {
    #[cfg(target_os = "linux")]
    {
        let ts =
            libc::timespec { tv_sec: (deadline_ns / 1_000_000_000) as _, tv_nsec: (deadline_ns % 1_000_000_000) as _ };
        loop {
            // SAFETY: valid timespec; a null remainder is allowed with TIMER_ABSTIME.
            let r =
                unsafe { libc::clock_nanosleep(libc::CLOCK_MONOTONIC, libc::TIMER_ABSTIME, &ts, std::ptr::null_mut()) };
            if r != libc::EINTR {
                return;
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let now = now_ns();
        if deadline_ns > now {
            std::thread::sleep(std::time::Duration::from_nanos(deadline_ns - now));
        }
    }
}
