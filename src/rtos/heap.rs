//! The FreeRTOS heap (heap_4): its figures, and allocation from it with any alignment.
//!
//! Every Rust allocation a task makes comes from this heap: on a board through
//! [`FreeRtosHeap`], the global allocator; on the simulator through a hybrid that sends host
//! threads to the host's heap (`board::posix::alloc`). Either way the figures below cover Rust
//! code, the kernel and C libraries alike.
//!
//! heap_4 aligns to 8 bytes. Larger alignments are served by over-allocating and keeping the
//! address heap_4 returned in the word just below the aligned block.

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::fmt;
use core::ptr;

use super::ffi;
use super::task::in_task;
use crate::board::port;

/// Alignment heap_4 guarantees (`portBYTE_ALIGNMENT`).
const HEAP_ALIGNMENT: usize = 8;

/// A snapshot of the FreeRTOS heap.
///
/// Rust allocations made by tasks come from this heap too (see the module docs), so
/// the figures cover Rust code, the kernel, and C libraries alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    /// Size of the heap array (`configTOTAL_HEAP_SIZE`), in bytes.
    pub total: usize,
    /// Free bytes now (`xPortGetFreeHeapSize`).
    pub free: usize,
    /// The lowest `free` has ever been (`xPortGetMinimumEverFreeHeapSize`).
    pub min_ever_free: usize,
    /// How many times `pvPortMalloc` has returned NULL (counted by the malloc-failed hook).
    pub allocation_failures: usize,
}

impl HeapStats {
    /// Reads the figures. From a task, frees that host threads handed back are reclaimed
    /// first, so that `free` does not count memory that is only waiting to be freed.
    pub fn now() -> HeapStats {
        if in_task() {
            port::reclaim_deferred_frees();
        }
        // SAFETY: these return constants or plain word-sized reads of heap_4's counters,
        // which are safe from any thread.
        unsafe {
            HeapStats {
                total: ffi::xShimHeapTotalSize(),
                free: ffi::xPortGetFreeHeapSize(),
                min_ever_free: ffi::xPortGetMinimumEverFreeHeapSize(),
                allocation_failures: ffi::xShimMallocFailedCount(),
            }
        }
    }

    /// Bytes in use now.
    pub fn used(&self) -> usize {
        self.total.saturating_sub(self.free)
    }

    /// The most bytes ever in use at once (`total - min_ever_free`).
    pub fn peak_used(&self) -> usize {
        self.total.saturating_sub(self.min_ever_free)
    }
}

impl fmt::Display for HeapStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "total {} B, free heap {} B, minimum ever free {} B, peak used {} B, failed allocations {}",
            self.total,
            self.free,
            self.min_ever_free,
            self.peak_used(),
            self.allocation_failures
        )
    }
}

/// The global allocator of a board: every allocation on the FreeRTOS heap. Allocating before
/// the scheduler starts is fine (heap_4 needs no running kernel); interrupt handlers must not
/// allocate.
pub struct FreeRtosHeap;

// SAFETY: every block comes from heap_4 (`heap4_alloc`) and goes back to it once, at the base
// address heap_4 returned (`heap4_base`); heap_4 serialises itself by suspending the scheduler.
unsafe impl GlobalAlloc for FreeRtosHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        heap4_alloc(layout)
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` was returned by `heap4_alloc` for `layout`, and is freed once.
        unsafe { ffi::vPortFree(heap4_base(block, layout).cast::<c_void>()) };
    }
}

/// Allocates from heap_4 with any power-of-two alignment. Task threads only.
pub(crate) fn heap4_alloc(layout: Layout) -> *mut u8 {
    if layout.align() <= HEAP_ALIGNMENT {
        // SAFETY: callers are tasks (see the function docs); any size is accepted.
        return unsafe { ffi::pvPortMalloc(layout.size()) }.cast::<u8>();
    }
    let Some(padded) = layout.size().checked_add(layout.align()) else {
        return ptr::null_mut();
    };
    // SAFETY: as above.
    let raw = unsafe { ffi::pvPortMalloc(padded) }.cast::<u8>();
    if raw.is_null() {
        return raw;
    }
    // `raw` is 8-aligned and `align` a larger power of two, so the next aligned address is
    // 8..=align bytes above it: room for the back-pointer, and `size` bytes still fit.
    let offset = (raw as usize + 1).next_multiple_of(layout.align()) - raw as usize;
    // SAFETY: offset <= align, so the aligned block lies inside the `size + align` bytes.
    let aligned = unsafe { raw.add(offset) };
    // SAFETY: offset >= 8, so the word below `aligned` is inside the allocation and 8-aligned.
    unsafe { aligned.cast::<*mut u8>().sub(1).write(raw) };
    aligned
}

/// The address pvPortMalloc returned for a block handed out by `heap4_alloc`.
pub(crate) fn heap4_base(block: *mut u8, layout: Layout) -> *mut u8 {
    if layout.align() <= HEAP_ALIGNMENT {
        block
    } else {
        // SAFETY: `heap4_alloc` stored the base address in the word below every
        // over-aligned block.
        unsafe { block.cast::<*mut u8>().sub(1).read() }
    }
}

/// `calloc` on the FreeRTOS heap, for C libraries with a pluggable allocator (Mbed TLS's
/// `mbedtls_platform_set_calloc_free`). Task threads only.
pub const C_CALLOC: unsafe extern "C" fn(usize, usize) -> *mut core::ffi::c_void =
    ffi::pvShimCalloc;

/// The `free` matching [`C_CALLOC`].
pub const C_FREE: unsafe extern "C" fn(*mut core::ffi::c_void) = ffi::vShimFree;
