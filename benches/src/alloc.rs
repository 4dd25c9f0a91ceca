//! The global allocator of the bench binaries: the system allocator, plus
//!
//! - a count of live heap bytes ([`live_bytes`]), which the `capacity` binary uses to measure
//!   what a worker allocates (every byte, touched or not);
//! - optionally (`CGNAT_BENCH_THP=1`, read by [`init_from_env`]) transparent huge pages for
//!   large blocks: allocations of 2 MiB or more are 2 MiB-aligned (always, so that `dealloc`
//!   can recompute the layout) and advised `MADV_HUGEPAGE`. With the kernel's THP mode at
//!   `madvise` (the Debian default) this is the only way the worker's tables get 2 MiB pages,
//!   and it shows what the TLB costs the translation path.
//!
//! Nothing is allocated per packet, so the bookkeeping costs the timed regions nothing.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Blocks at least this large are 2 MiB-aligned (and advised when THP is on).
const HUGE: usize = 2 << 20;
/// `MADV_HUGEPAGE` on Linux.
const MADV_HUGEPAGE: i32 = 14;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static THP: AtomicBool = AtomicBool::new(false);

extern "C" {
    fn madvise(addr: *mut u8, len: usize, advice: i32) -> i32;
}

/// The allocator; install with `#[global_allocator] static A: BenchAlloc = BenchAlloc;`.
#[derive(Debug)]
pub struct BenchAlloc;

/// Live heap bytes (requested sizes) allocated through [`BenchAlloc`].
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Whether large blocks are advised to use huge pages.
pub fn thp() -> bool {
    THP.load(Ordering::Relaxed)
}

/// Turns huge-page advice on when `CGNAT_BENCH_THP=1`. Call before building the tables.
pub fn init_from_env() {
    if std::env::var("CGNAT_BENCH_THP").is_ok_and(|v| v == "1") {
        THP.store(true, Ordering::Relaxed);
    }
}

fn effective(layout: Layout) -> Layout {
    if layout.size() >= HUGE && layout.align() < HUGE {
        Layout::from_size_align(layout.size(), HUGE).unwrap_or(layout)
    } else {
        layout
    }
}

fn advise(p: *mut u8, size: usize) {
    if !p.is_null() && size >= HUGE && thp() {
        // SAFETY: `p` is the start of a live block of at least `size` bytes we just got from
        // the system allocator; madvise only changes how the kernel backs those pages (it
        // fails harmlessly on a range it does not like, and we ignore the result).
        unsafe {
            madvise(p, size, MADV_HUGEPAGE);
        }
    }
}

// SAFETY: every method forwards to `System` with a layout that is the caller's or the same
// size with a larger alignment (which satisfies the caller's), computed the same way on
// allocation and deallocation; the counter and madvise do not touch the blocks' contents.
unsafe impl GlobalAlloc for BenchAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let l = effective(layout);
        // SAFETY: `l` has a non-zero size (the caller's contract) and a valid alignment.
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            advise(p, l.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let l = effective(layout);
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(l) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
            advise(p, l.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`alloc_zeroed`/`realloc` with this `layout`, which
        // allocated it from `System` with `effective(layout)`.
        unsafe { System.dealloc(ptr, effective(layout)) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = effective(layout);
        let new = Layout::from_size_align(new_size, layout.align()).unwrap_or(layout);
        if old == layout && effective(new) == new {
            // Both small: let the system allocator grow in place.
            // SAFETY: `ptr` was allocated by `System` with `layout` (small blocks are not
            // re-aligned); the caller upholds the size contract.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                LIVE.fetch_add(new_size, Ordering::Relaxed);
                LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            }
            return p;
        }
        // SAFETY: `new` has a non-zero size (the caller's contract for `new_size`).
        let p = unsafe { self.alloc(new) };
        if !p.is_null() {
            // SAFETY: both blocks are live, distinct, and at least `min(old, new)` bytes long.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        p
    }
}
