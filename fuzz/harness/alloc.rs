//! For the fuzz binaries only (the root package forbids unsafe code, so the replay test cannot
//! use it): a global allocator that refuses any single allocation over [`MAX_ALLOCATION`].
//! Fuzz inputs are at most 64 KiB, so a request that large means a length read from the input
//! was trusted; the refusal aborts the process ("memory allocation of N bytes failed"), which
//! libFuzzer reports as a crash with the input. (libFuzzer's own `-malloc_limit_mb` needs a
//! sanitizer's allocator hooks, and the targets are built with `-s none`.)

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a fuzz input may cause (128 MiB).
pub const MAX_ALLOCATION: usize = 128 << 20;

/// [`System`], refusing allocations over [`MAX_ALLOCATION`].
pub struct Capped;

// SAFETY: every call is forwarded unchanged to `System`, except that oversized requests
// return null, which `GlobalAlloc` allows for any failed allocation.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > MAX_ALLOCATION {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Capped = Capped;
