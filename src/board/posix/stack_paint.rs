//! The real stack use of a task on the POSIX simulator, measured by painting.
//!
//! On this port a task's code runs on its pthread's own stack (the host's default size), not
//! on the block the kernel takes from the FreeRTOS heap, so the kernel's high-water mark
//! (`uxTaskGetStackHighWaterMark`) says nothing here. Instead, when a task's body starts,
//! [`paint_current_thread`] fills [`PAINTED_BYTES`] of the thread's stack below the caller
//! with a pattern; [`current_thread_peak`] later finds the deepest word the task has
//! overwritten since. This is what the kernel does on a board with its own fill byte, on
//! the stack the code really runs on.
//!
//! The figure is host code's stack (x86-64, the simulator's build profile), not a board's: a
//! board reports its tasks' high-water marks itself (see the Cortex-M board). Linux only
//! (`pthread_getattr_np`); elsewhere nothing is measured.

use core::cell::Cell;
use core::fmt;
use std::thread_local;

/// How much of the thread's stack is painted below the task's entry. Release builds of the
/// demo peak far below it; if a task ever goes deeper, the figure says "at least".
pub const PAINTED_BYTES: usize = 256 * 1024;
/// Left unpainted right below the painting code's own frame (and the x86-64 red zone), so
/// that painting never touches a live frame.
const CLEARANCE_BYTES: usize = 4 * 1024;
/// Left unpainted above the lowest address of the thread's stack (its guard page is below).
const BOTTOM_CLEARANCE_BYTES: usize = 64 * 1024;
/// The fill pattern, one machine word.
const PATTERN: usize = 0x5a5a_5a5a_5a5a_5a5a_u64 as usize;

/// The painted part of the calling thread's stack: `[low, high)`, and the address the task
/// started from.
#[derive(Clone, Copy)]
struct Painted {
    low: usize,
    high: usize,
    entry: usize,
}

thread_local! {
    static PAINTED: Cell<Option<Painted>> = const { Cell::new(None) };
}

/// How deep a task's stack has gone below its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackPeak {
    /// The deepest use, in bytes below the task's entry.
    Bytes(usize),
    /// The task never went below the unpainted clearance right below its entry: at most
    /// this many bytes.
    AtMost(usize),
    /// The task overwrote all of the painted span: at least this many bytes.
    AtLeast(usize),
}

impl fmt::Display for StackPeak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StackPeak::Bytes(bytes) => write!(f, "{bytes} B"),
            StackPeak::AtMost(bytes) => write!(f, "at most {bytes} B"),
            StackPeak::AtLeast(bytes) => write!(f, "at least {bytes} B (all that was painted)"),
        }
    }
}

/// Paints the calling thread's stack below this call (see the module docs). Called once per
/// task, when its body starts; a thread whose stack cannot be located is left unpainted.
#[inline(never)]
pub fn paint_current_thread() {
    let here = core::hint::black_box(0u8);
    let entry = core::ptr::addr_of!(here) as usize;
    let Some(stack_low) = current_thread_stack_low() else {
        return;
    };
    let high = (entry - CLEARANCE_BYTES) & !(size_of::<usize>() - 1);
    let low = high
        .saturating_sub(PAINTED_BYTES)
        .max(stack_low + BOTTOM_CLEARANCE_BYTES);
    if low >= high {
        return;
    }
    let mut word = low;
    while word < high {
        // SAFETY: `[low, high)` lies in this thread's own stack mapping (from
        // `pthread_getattr_np`, above its lowest 64 KiB) and at least 4 KiB below this
        // function's frame, so no live frame is there: only this thread ever uses the
        // memory below its stack pointer, and it is running this loop. Aligned to a word.
        unsafe { core::ptr::write_volatile(word as *mut usize, PATTERN) };
        word += size_of::<usize>();
    }
    PAINTED.with(|painted| painted.set(Some(Painted { low, high, entry })));
}

/// The deepest the calling task's stack has gone since [`paint_current_thread`], or `None`
/// if its thread was not painted.
pub fn current_thread_peak() -> Option<StackPeak> {
    let painted = PAINTED.with(Cell::get)?;
    let mut word = painted.low;
    while word < painted.high {
        // SAFETY: the painted span of this thread's own stack (still mapped: the thread is
        // running), read a word at a time, aligned. Words above the deepest use may be live
        // frames of this thread's callers, which this only reads.
        if unsafe { core::ptr::read_volatile(word as *const usize) } != PATTERN {
            break;
        }
        word += size_of::<usize>();
    }
    let depth = painted.entry - word;
    Some(if word == painted.low {
        StackPeak::AtLeast(depth)
    } else if word == painted.high {
        StackPeak::AtMost(depth)
    } else {
        StackPeak::Bytes(depth)
    })
}

/// The lowest address of the calling thread's stack.
#[cfg(target_os = "linux")]
fn current_thread_stack_low() -> Option<usize> {
    let mut attributes = core::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: `pthread_getattr_np` initialises `attributes` for the calling thread when it
    // returns 0; they are read once and destroyed below.
    if unsafe { libc::pthread_getattr_np(libc::pthread_self(), attributes.as_mut_ptr()) } != 0 {
        return None;
    }
    let mut address: *mut libc::c_void = core::ptr::null_mut();
    let mut size: libc::size_t = 0;
    // SAFETY: `attributes` were initialised above; the out-pointers are valid locals.
    let found =
        unsafe { libc::pthread_attr_getstack(attributes.as_ptr(), &mut address, &mut size) };
    // SAFETY: initialised above and not used after this.
    unsafe { libc::pthread_attr_destroy(attributes.as_mut_ptr()) };
    (found == 0 && !address.is_null() && size > 0).then_some(address as usize)
}

#[cfg(not(target_os = "linux"))]
fn current_thread_stack_low() -> Option<usize> {
    None
}
