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

/// A step of the demo, for the heap trace: the board's tracer (the simulator's
/// `board::posix::heap_trace`) marks it on its timeline and charges the Rust allocations a
/// task makes during it to an owner (see [`HeapPhase::owner`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum HeapPhase {
    /// Before anything below: the kernel, the network stack's start, the configuration.
    Start = 0,
    /// Waiting for an address (DHCP).
    NetworkUp = 1,
    /// Credentials parsed and the TLS configuration built.
    Credentials = 2,
    /// The TCP connection being made.
    TcpConnect = 3,
    /// The TLS handshake.
    TlsHandshake = 4,
    /// The HTTP request sent and its response read.
    HttpRequest = 5,
    /// close_notify, FIN, the connection's memory given back.
    Disconnect = 6,
    /// After the last cycle.
    Done = 7,
}

impl HeapPhase {
    /// Every phase, in order.
    pub const ALL: [HeapPhase; 8] = [
        HeapPhase::Start,
        HeapPhase::NetworkUp,
        HeapPhase::Credentials,
        HeapPhase::TcpConnect,
        HeapPhase::TlsHandshake,
        HeapPhase::HttpRequest,
        HeapPhase::Disconnect,
        HeapPhase::Done,
    ];

    /// A short name for plots and tables.
    pub fn name(self) -> &'static str {
        match self {
            HeapPhase::Start => "start",
            HeapPhase::NetworkUp => "network up",
            HeapPhase::Credentials => "credentials",
            HeapPhase::TcpConnect => "TCP connect",
            HeapPhase::TlsHandshake => "TLS handshake",
            HeapPhase::HttpRequest => "HTTP request",
            HeapPhase::Disconnect => "disconnect",
            HeapPhase::Done => "done",
        }
    }

    /// Who a Rust allocation made by an application task during this phase is charged to.
    /// (The IP task's allocations are always the TCP/IP stack's, Mbed TLS's own are always
    /// Mbed TLS's, and the kernel's are the kernel's, whatever the phase.)
    pub fn owner(self) -> HeapOwner {
        match self {
            HeapPhase::Start | HeapPhase::NetworkUp | HeapPhase::Done => HeapOwner::Application,
            HeapPhase::TcpConnect => HeapOwner::TcpIp,
            HeapPhase::Credentials | HeapPhase::TlsHandshake | HeapPhase::Disconnect => {
                HeapOwner::TlsLayer
            }
            HeapPhase::HttpRequest => HeapOwner::Http,
        }
    }
}

/// Who a block of the FreeRTOS heap is charged to in the heap breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum HeapOwner {
    /// The kernel's own allocations (`pvPortMalloc` from C): task stacks and control blocks,
    /// queues, semaphores.
    Kernel = 0,
    /// Mbed TLS (C code, through [`C_CALLOC`]).
    MbedTls = 1,
    /// The Rust TLS layer: the engine's contexts and buffers it owns (src/tls).
    TlsLayer = 2,
    /// The TCP/IP stack: everything the IP task allocates, and the socket made while connecting.
    TcpIp = 3,
    /// The HTTP client: allocations made while the request and response are handled.
    Http = 4,
    /// Everything else a task allocates: configuration, report, task closures.
    Application = 5,
}

impl HeapOwner {
    /// Every owner, in the order of the breakdown.
    pub const ALL: [HeapOwner; 6] = [
        HeapOwner::Kernel,
        HeapOwner::MbedTls,
        HeapOwner::TlsLayer,
        HeapOwner::TcpIp,
        HeapOwner::Http,
        HeapOwner::Application,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            HeapOwner::Kernel => "kernel (task stacks/TCBs/queues)",
            HeapOwner::MbedTls => "Mbed TLS (C)",
            HeapOwner::TlsLayer => "TLS layer (Rust)",
            HeapOwner::TcpIp => "TCP/IP stack",
            HeapOwner::Http => "HTTP",
            HeapOwner::Application => "application",
        }
    }
}

/// The board's phase marker, installed by a board that traces its heap.
static PHASE_HOOK: once_cell::race::OnceBox<fn(HeapPhase)> = once_cell::race::OnceBox::new();

/// Installs the function [`mark_phase`] calls (the first call wins). A board that traces its
/// heap calls it once, before the scheduler starts.
pub fn set_phase_hook(hook: fn(HeapPhase)) {
    let _ = PHASE_HOOK.set(alloc::boxed::Box::new(hook));
}

/// Marks the start of `phase` on the heap trace, if the board keeps one (otherwise a load and
/// a branch).
pub fn mark_phase(phase: HeapPhase) {
    if let Some(hook) = PHASE_HOOK.get() {
        hook(phase);
    }
}
