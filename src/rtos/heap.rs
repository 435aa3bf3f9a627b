//! FreeRTOS heap (heap_4) figures.

use core::fmt;

use super::alloc;
use super::ffi;
use super::task::in_task;

/// A snapshot of the FreeRTOS heap.
///
/// Rust allocations made by tasks come from this heap too (see [`crate::rtos::alloc`]), so
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
            alloc::reclaim_deferred_frees();
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

/// `calloc` on the FreeRTOS heap, for C libraries with a pluggable allocator (Mbed TLS's
/// `mbedtls_platform_set_calloc_free`). Task threads only.
pub const C_CALLOC: unsafe extern "C" fn(usize, usize) -> *mut core::ffi::c_void =
    ffi::pvShimCalloc;

/// The `free` matching [`C_CALLOC`].
pub const C_FREE: unsafe extern "C" fn(*mut core::ffi::c_void) = ffi::vShimFree;
