//! Transparent huge pages under the heap that holds the legs' state (control side).
//!
//! A leg's codec state lives in a few small heap objects (its decoder with concealment, its
//! encoder, its frame), a few KiB all told, allocated when it joins. A room of tens of
//! thousands of legs walks about 8 KiB of heap per leg every cycle on 4 KiB pages: a TLB
//! miss and a page walk for nearly every leg's objects, and in a room spread over several
//! workers, whose legs were allocated in turn for each shard, a shard's own legs sit twice
//! as far apart. On 2 MiB pages the walks all but vanish (session 43: a shard's work at
//! 40,000 legs −16 %, a one-worker room −6 %).
//!
//! [`HugeHeap::settle`] asks the kernel to back the whole 2 MiB pages of the heap region
//! that holds a fresh allocation with huge pages: `MADV_HUGEPAGE` for later faults and
//! `MADV_COLLAPSE` (Linux 6.1+) for the pages already there, from where the last call
//! stopped, so each byte is collapsed once. A room calls it on the control side after
//! building a batch of legs, before they go to a worker. It changes the memory's backing,
//! never its contents; where the kernel refuses (older kernels, THP `never`, other systems)
//! nothing happens.

use std::sync::Mutex;

/// Bytes of a huge page (x86-64, and AArch64 with 4 KiB base pages).
pub(crate) const HUGE_PAGE: usize = 2 << 20;

/// The process's record of the heap collapsed so far (shared by every room: the heap is).
static HEAP: Mutex<HugeHeap> = Mutex::new(HugeHeap { done: Vec::new(), bytes: 0 });

/// Collapses the heap region holding a fresh allocation past the part done before; the
/// bytes collapsed by this call. Control side: it may copy megabytes and takes a lock.
pub(crate) fn settle_heap() -> usize {
    let probe = Box::new(0u64);
    let at = std::hint::black_box(&*probe) as *const u64 as usize;
    HEAP.lock().unwrap_or_else(|e| e.into_inner()).settle(at, &read_maps())
}

/// Bytes of heap collapsed into huge pages in this process so far.
pub(crate) fn heap_bytes() -> usize {
    HEAP.lock().unwrap_or_else(|e| e.into_inner()).bytes
}

/// Which parts of the heap have been collapsed.
#[derive(Debug, Default)]
pub(crate) struct HugeHeap {
    /// Per heap region (its first address): the end of the part already collapsed.
    done: Vec<(usize, usize)>,
    /// Bytes collapsed.
    bytes: usize,
}

impl HugeHeap {
    /// Collapses the whole huge pages of the region of `maps` holding `probe`, from where
    /// this region's last call stopped (its start the first time); the bytes collapsed.
    fn settle(&mut self, probe: usize, maps: &str) -> usize {
        let Some((start, end)) = region_of(maps, probe) else { return 0 };
        let from = self.done.iter().find(|d| d.0 == start).map_or(start, |d| d.1);
        let (a, b) = whole_pages(from, end);
        if b <= a {
            return 0;
        }
        let n = collapse(a, b - a);
        match self.done.iter_mut().find(|d| d.0 == start) {
            Some(d) => d.1 = b,
            None => self.done.push((start, b)),
        }
        self.bytes += n;
        n
    }
}

/// The first and last address of the whole huge pages within `[from, end)`.
fn whole_pages(from: usize, end: usize) -> (usize, usize) {
    (from.saturating_add(HUGE_PAGE - 1) & !(HUGE_PAGE - 1), end & !(HUGE_PAGE - 1))
}

/// `/proc/self/maps` (empty where there is none).
fn read_maps() -> String {
    std::fs::read_to_string("/proc/self/maps").unwrap_or_default()
}

/// The run of adjacent private read-write anonymous mappings (a heap: `[heap]` or a
/// thread's malloc arena; split by earlier advice into several) that holds `addr`.
fn region_of(maps: &str, addr: usize) -> Option<(usize, usize)> {
    let spans: Vec<(usize, usize, bool)> = maps.lines().filter_map(mapping).collect();
    let at = spans.iter().position(|&(s, e, heap)| heap && (s..e).contains(&addr))?;
    let joined = |a: &(usize, usize, bool), b: &(usize, usize, bool)| a.2 && b.2 && a.1 == b.0;
    let first = (0..at).rev().take_while(|&i| joined(&spans[i], &spans[i + 1])).last().unwrap_or(at);
    let last = (at + 1..spans.len()).take_while(|&i| joined(&spans[i - 1], &spans[i])).last().unwrap_or(at);
    Some((spans[first].0, spans[last].1))
}

/// One line of `/proc/self/maps`: its addresses, and whether it is heap-like (private,
/// read-write, anonymous or `[heap]`).
fn mapping(line: &str) -> Option<(usize, usize, bool)> {
    let mut f = line.split_whitespace();
    let (s, e) = f.next()?.split_once('-')?;
    let perms = f.next()?;
    let inode = f.nth(2)?;
    let path = f.next();
    let heap = perms == "rw-p" && inode == "0" && path.map_or(true, |p| p == "[heap]");
    Some((usize::from_str_radix(s, 16).ok()?, usize::from_str_radix(e, 16).ok()?, heap))
}

/// Advises `[start, start + len)` (whole huge pages) onto huge pages; the bytes the kernel
/// collapsed (0 if it refused).
fn collapse(start: usize, len: usize) -> usize {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: advice only, on whole pages of the process's own heap; the kernel changes
        // their backing, never their contents.
        unsafe {
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            if libc::madvise(start as *mut libc::c_void, len, libc::MADV_COLLAPSE) == 0 {
                return len;
            }
        }
    }
    let _ = (start, len);
    0
}

/// Whether this kernel collapses anonymous memory into huge pages on request (THP not
/// `never`, Linux 6.1+), tried on a mapping of its own.
pub(crate) fn supported() -> bool {
    #[cfg(target_os = "linux")]
    {
        let len = 2 * HUGE_PAGE;
        // SAFETY: a fresh private anonymous mapping, written, advised and unmapped here only
        // (a whole huge page lies inside any 4 MiB of it).
        unsafe {
            let p = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if p == libc::MAP_FAILED {
                return false;
            }
            std::ptr::write_bytes(p as *mut u8, 1, len);
            let a = (p as usize).next_multiple_of(HUGE_PAGE);
            let ok = libc::madvise(a as *mut libc::c_void, HUGE_PAGE, libc::MADV_COLLAPSE) == 0;
            libc::munmap(p, len);
            ok
        }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
55d0c0000000-55d0c0100000 r-xp 00000000 fd:00 1234 /usr/bin/x
55d0c0300000-55d0c0400000 rw-p 00000000 00:00 0 [heap]
55d0c0400000-55d0c0800000 rw-p 00000000 00:00 0 [heap]
55d0c0800000-55d0c0900000 rw-p 00000000 00:00 0
7f0000000000-7f0000200000 rw-p 00000000 00:00 0
7f0000200000-7f0000400000 ---p 00000000 00:00 0
7f0000400000-7f0000600000 rw-p 00000000 fd:00 99 /tmp/file
";

    #[test]
    fn a_region_is_the_run_of_adjacent_heap_mappings() {
        // Split by advice into two `[heap]` lines and an anonymous one after them: one run.
        assert_eq!(region_of(MAPS, 0x55d0c0450000), Some((0x55d0c0300000, 0x55d0c0900000)));
        assert_eq!(region_of(MAPS, 0x55d0c0300000), Some((0x55d0c0300000, 0x55d0c0900000)));
        // An arena stops at its reserved, inaccessible tail.
        assert_eq!(region_of(MAPS, 0x7f0000100000), Some((0x7f0000000000, 0x7f0000200000)));
        // Code, a file mapping, a hole: not a heap.
        for addr in [0x55d0c0000010, 0x7f0000400000, 0x55d0c0200000, 0x7f0000300000] {
            assert_eq!(region_of(MAPS, addr), None, "{addr:#x}");
        }
    }

    #[test]
    fn only_whole_huge_pages_are_advised() {
        let m = HUGE_PAGE;
        assert_eq!(whole_pages(m + 1, 4 * m - 1), (2 * m, 3 * m));
        assert_eq!(whole_pages(m, 2 * m), (m, 2 * m));
        let (a, b) = whole_pages(m + 1, 2 * m + 5);
        assert!(b <= a);
    }

    /// `AnonHugePages` of the mapping at `start` (kB), from `/proc/self/smaps`.
    #[cfg(target_os = "linux")]
    fn huge_kb_at(start: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((s, e, _)) = mapping(line) {
                inside = (s..e).contains(&start);
            } else if inside && line.starts_with("AnonHugePages:") {
                return line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            }
        }
        0
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_region_is_collapsed_once_from_where_it_stopped() {
        let len = 9 * HUGE_PAGE;
        // SAFETY: a fresh private anonymous mapping, used and unmapped by this test only.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        let start = p as usize;
        // SAFETY: within the mapping.
        unsafe { std::ptr::write_bytes(p as *mut u8, 7, len) };
        // The region as a heap that has grown: first its first 5 huge pages' worth, then all.
        let line = |end: usize| format!("{start:x}-{end:x} rw-p 00000000 00:00 0\n");
        let mut heap = HugeHeap::default();
        let first = heap.settle(start + 10, &line(start + 5 * HUGE_PAGE));
        let again = heap.settle(start + 10, &line(start + 5 * HUGE_PAGE));
        let grown = heap.settle(start + 10, &line(start + len));
        let (a, b) = whole_pages(start, start + 5 * HUGE_PAGE);
        let (_, c) = whole_pages(start, start + len);
        if supported() {
            assert_eq!((first, again, grown), (b - a, 0, c - b));
            assert_eq!(heap.bytes, c - a);
            // Every whole huge page of the mapping is one now.
            assert_eq!(huge_kb_at(start) * 1024, c - a);
        } else {
            assert_eq!((first, again, grown, heap.bytes), (0, 0, 0, 0));
        }
        // The contents did not change.
        // SAFETY: within the mapping, which is still there.
        let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, len) };
        assert!(bytes.iter().all(|&x| x == 7));
        // SAFETY: the mapping made above, no longer used.
        unsafe { libc::munmap(p, len) };
    }
}
