//! The simulator's global allocator: task allocations on the FreeRTOS heap, host threads on
//! the host's.
//!
//! Rust code running in a task allocates from heap_4 (`pvPortMalloc`), so its memory shows
//! in [`HeapStats`](crate::rtos::heap::HeapStats) exactly as it would on a board. Host threads
//! (the simulated network link, the local endpoint, test harnesses) cannot: heap_4 guards
//! itself by suspending the scheduler, which only protects callers that are tasks. So:
//!
//! * **allocation** goes to heap_4 on a task thread, to the system allocator elsewhere;
//! * **free** is routed by address: a block inside the heap_4 array is a FreeRTOS block.
//!   - A task frees it at once with `vPortFree`.
//!   - A host thread cannot, so it pushes the block onto a lock-free list (the list's links
//!     live in the freed blocks themselves); the next allocation or free made by any task
//!     returns the whole list to heap_4. No lock, no kernel call on the host side.
//!   - A system block freed by a task is freed inside a critical section, so that the task
//!     cannot be pre-empted while holding the C library's allocator lock (the deadlock
//!     measured on this port).
//!
//! Alignment above heap_4's 8 bytes is handled by [`crate::rtos::heap`], as on a board.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};
use std::alloc::System;

use super::port::in_task;
use crate::rtos::ffi;
use crate::rtos::heap::{heap4_alloc, heap4_base};

/// The allocator; installed as the process's `#[global_allocator]` on the POSIX board.
pub struct TaskHeapAllocator;

#[global_allocator]
static GLOBAL: TaskHeapAllocator = TaskHeapAllocator;

/// FreeRTOS blocks freed by host threads, waiting for a task to return them to heap_4.
/// Each block's first word links to the next.
static DEFERRED_FREES: AtomicPtr<u8> = AtomicPtr::new(ptr::null_mut());

// SAFETY: every block is returned by exactly one of the two underlying allocators and given
// back to the same one (routing by address is exact because heap_4 only hands out addresses
// inside its array); heap_4 is only entered from task threads, where its scheduler
// suspension makes it safe; alignment is honoured as documented above.
unsafe impl GlobalAlloc for TaskHeapAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if in_task() {
            reclaim_deferred_frees();
            // The heap trace is the POSIX simulator's (this file is the Windows one's too).
            #[cfg(board = "posix")]
            if super::heap_trace::enabled() {
                return super::heap_trace::traced_alloc(layout);
            }
            heap4_alloc(layout)
        } else {
            // SAFETY: forwarded with the caller's layout, which GlobalAlloc requires valid.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        let task = in_task();
        if is_heap4_block(block) {
            let raw = heap4_base(block, layout);
            if task {
                reclaim_deferred_frees();
                // SAFETY: `raw` is the address pvPortMalloc returned for this block, freed once.
                unsafe { ffi::vPortFree(raw.cast::<c_void>()) };
            } else {
                defer_free(raw);
            }
        } else if task {
            let _section = crate::rtos::critical::CriticalSection::enter();
            // SAFETY: `block` came from System.alloc with this layout (it is not a heap_4 block).
            unsafe { System.dealloc(block, layout) };
        } else {
            // SAFETY: as above.
            unsafe { System.dealloc(block, layout) };
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !in_task() && !is_heap4_block(block) {
            // SAFETY: a system block resized on a host thread: the system allocator's own
            // realloc, with the caller's arguments.
            return unsafe { System.realloc(block, layout, new_size) };
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        // SAFETY: the GlobalAlloc contract for realloc guarantees new_layout is valid and
        // non-zero in size.
        let new_block = unsafe { self.alloc(new_layout) };
        if !new_block.is_null() {
            // SAFETY: both blocks are valid for the smaller of the two sizes and distinct.
            unsafe { ptr::copy_nonoverlapping(block, new_block, layout.size().min(new_size)) };
            // SAFETY: `block` was allocated by this allocator with `layout`.
            unsafe { self.dealloc(block, layout) };
        }
        new_block
    }
}

/// Whether `block` lies in the heap_4 array (heap_4 only hands out addresses inside it).
fn is_heap4_block(block: *mut u8) -> bool {
    // SAFETY: these return the bounds of the static heap array; no state is touched.
    let (start, end) = unsafe { (ffi::uxShimHeapStart(), ffi::uxShimHeapEnd()) };
    (start..end).contains(&(block as usize))
}

/// Queues a heap_4 block freed by a host thread. Lock-free; never calls the kernel.
fn defer_free(raw: *mut u8) {
    let mut head = DEFERRED_FREES.load(Ordering::Relaxed);
    loop {
        // SAFETY: heap_4 rounds every block up to at least 8 bytes, so its first word is
        // ours to use as the link now that the block is free; `raw` is 8-aligned.
        unsafe { raw.cast::<*mut u8>().write(head) };
        match DEFERRED_FREES.compare_exchange_weak(head, raw, Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => return,
            Err(current) => head = current,
        }
    }
}

/// Returns blocks freed by host threads to heap_4. Called on task threads only: by every
/// allocation and free a task makes, and by [`HeapStats::now`](crate::rtos::heap::HeapStats::now).
pub(crate) fn reclaim_deferred_frees() {
    if DEFERRED_FREES.load(Ordering::Relaxed).is_null() {
        return;
    }
    let mut block = DEFERRED_FREES.swap(ptr::null_mut(), Ordering::Acquire);
    while !block.is_null() {
        // SAFETY: every entry was pushed by `defer_free` with its link in the first word.
        let next = unsafe { block.cast::<*mut u8>().read() };
        // SAFETY: `block` is a heap_4 base address, queued once, freed once; this is a task.
        unsafe { ffi::vPortFree(block.cast::<c_void>()) };
        block = next;
    }
}
