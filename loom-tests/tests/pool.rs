//! loom model of the frame/packet pool.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use rvoip_media_sync::pool::Pool;

/// Two threads acquire, write, check and release concurrently: no slot is ever held by
/// both, and every write is read back intact (loom's cell tracking would flag a race).
#[test]
fn no_object_is_handed_out_twice() {
    loom::model(|| {
        let pool = Pool::new(2, |_| 0usize);
        let held: Arc<[AtomicBool; 2]> = Arc::new([AtomicBool::new(false), AtomicBool::new(false)]);
        let worker = |me: usize, pool: Pool<usize>, held: Arc<[AtomicBool; 2]>| {
            move || {
                for _ in 0..2 {
                    if let Ok(mut obj) = pool.acquire() {
                        let i = obj.index();
                        assert!(!held[i].swap(true, Ordering::SeqCst), "slot {i} handed out twice");
                        obj.with_mut(|v| *v = me);
                        thread::yield_now();
                        assert_eq!(obj.with_mut(|v| *v), me);
                        held[i].store(false, Ordering::SeqCst);
                    }
                }
            }
        };
        let t = thread::spawn(worker(1, pool.clone(), held.clone()));
        worker(2, pool.clone(), held.clone())();
        t.join().unwrap();
        assert_eq!(pool.in_use(), 0);
        // Both objects are free again.
        let a = pool.acquire().unwrap();
        let b = pool.acquire().unwrap();
        assert_ne!(a.index(), b.index());
        assert!(pool.acquire().is_err());
    });
}

/// One object, three threads racing for it (the ABA-prone case: pop, pop+push by others,
/// then a stale compare-exchange): it is held by at most one of them at any time.
#[test]
fn single_object_contention() {
    loom::model(|| {
        let pool = Pool::new(1, |_| ());
        let held = Arc::new(AtomicBool::new(false));
        let mut ts = Vec::new();
        for _ in 0..2 {
            let (pool, held) = (pool.clone(), held.clone());
            ts.push(thread::spawn(move || {
                if let Ok(obj) = pool.acquire() {
                    assert!(!held.swap(true, Ordering::SeqCst));
                    held.store(false, Ordering::SeqCst);
                    drop(obj);
                }
            }));
        }
        if let Ok(obj) = pool.acquire() {
            assert!(!held.swap(true, Ordering::SeqCst));
            held.store(false, Ordering::SeqCst);
            drop(obj);
        }
        for t in ts {
            t.join().unwrap();
        }
        assert!(pool.acquire().is_ok());
    });
}

/// Exhaustion is reported, and an object released on another thread becomes available.
#[test]
fn release_on_another_thread_refills() {
    loom::model(|| {
        let pool = Pool::new(1, |_| 7u32);
        let obj = pool.acquire().unwrap();
        assert!(pool.acquire().is_err());
        let t = thread::spawn(move || drop(obj));
        t.join().unwrap();
        let again = pool.acquire().unwrap();
        assert_eq!(*again, 7);
        assert_eq!(pool.exhausted_count(), 1);
    });
}

/// The storage is freed exactly once, by whichever of {last pool clone, last outstanding
/// handle} goes second, even when they go at the same time on two threads.
#[test]
fn storage_freed_exactly_once_when_owner_and_handle_race() {
    use loom::sync::atomic::AtomicUsize;
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let pool = Pool::new(2, |_| Counted(drops.clone()));
        let a = pool.acquire().unwrap();
        let b = pool.acquire().unwrap();
        let t = thread::spawn(move || drop(a));
        let t2 = thread::spawn(move || drop(pool));
        drop(b);
        t.join().unwrap();
        t2.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 2, "both objects dropped once, storage freed once");
    });
}

/// A batch release (one compare-exchange for a chain of two objects, as the room kernel
/// gives back a cycle's leftover packets) racing with another thread that acquires and
/// releases one at a time: no object is held twice, none is lost, and the counts agree.
#[test]
fn batch_release_races_single_acquire_and_release() {
    loom::model(|| {
        let pool = Pool::new(3, |_| 0usize);
        let held: Arc<[AtomicBool; 3]> =
            Arc::new([AtomicBool::new(false), AtomicBool::new(false), AtomicBool::new(false)]);
        let mut batch = Vec::with_capacity(2);
        batch.push(pool.acquire().unwrap());
        batch.push(pool.acquire().unwrap());
        for h in &batch {
            held[h.index()].store(true, Ordering::SeqCst);
        }
        let t = {
            let (pool, held) = (pool.clone(), held.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    if let Ok(mut obj) = pool.acquire() {
                        let i = obj.index();
                        assert!(!held[i].swap(true, Ordering::SeqCst), "slot {i} handed out twice");
                        obj.with_mut(|v| *v = 1);
                        held[i].store(false, Ordering::SeqCst);
                    }
                }
            })
        };
        for h in &batch {
            held[h.index()].store(false, Ordering::SeqCst);
        }
        pool.release_all(&mut batch);
        assert!(batch.is_empty());
        t.join().unwrap();
        assert_eq!(pool.in_use(), 0);
        let all: Vec<_> = (0..3).map(|_| pool.acquire().unwrap()).collect();
        let mut seen: Vec<usize> = all.iter().map(|h| h.index()).collect();
        seen.sort_unstable();
        assert_eq!(seen, [0, 1, 2], "every object back exactly once");
        assert!(pool.acquire().is_err());
    });
}
