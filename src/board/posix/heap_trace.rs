//! The simulator's heap tracer: heap in use at every allocation and free, from heap_4's own
//! hooks (`traceMALLOC` and `traceFREE` in FreeRTOSConfig.h), and the peak broken down by owner.
//!
//! Off unless [`enable`] is called (the demo does with `IOT_HEAP_TRACE=FILE`); then:
//!
//! * heap_4 calls [`vFreeRtosHttpsHeapTraceMalloc`] and [`vFreeRtosHttpsHeapTraceFree`] with
//!   the scheduler suspended, after it has updated its free-byte count. Each call appends one
//!   sample (time, bytes in use, owner) to a fixed array and keeps a running total per owner;
//!   at every new peak the totals are copied. Nothing here allocates or locks.
//! * The owner of a block is known at allocation: the C calloc shim (Mbed TLS) and the Rust
//!   allocator ([`traced_alloc`]) suspend the scheduler, name the owner in
//!   [`OWNER_HINT`], and allocate; with the scheduler suspended no other task can allocate in
//!   between, so the hint is exact. A block allocated without a hint is the kernel's (task
//!   stacks, TCBs, queues). The owner is kept per 8-byte granule of the heap array for the
//!   free.
//! * A Rust allocation by the IP task is the TCP/IP stack's; one by another task is charged by
//!   the phase it is in ([`HeapPhase::owner`]), which the demo marks with
//!   [`crate::rtos::heap::mark_phase`].
//!
//! Suspending the scheduler costs system calls on this port, so the demo is slower while
//! traced: time it untraced.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use core::alloc::Layout;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::Instant;

use crate::rtos::ffi;
use crate::rtos::heap::{HeapOwner, HeapPhase, heap4_alloc};

/// Samples kept; later events are counted but not stored.
const CAPACITY: usize = 1 << 16;
/// Granules of the owner map (8 bytes each): heaps up to 2 MiB are mapped.
const GRANULES: usize = 1 << 18;
const OWNERS: usize = HeapOwner::ALL.len();
/// `OWNER_HINT` when no owner is named.
const NO_HINT: u8 = u8::MAX;

static ENABLED: AtomicBool = AtomicBool::new(false);
static STARTED: OnceLock<Instant> = OnceLock::new();
/// Packed samples, two words each. First: time in us (bits 32..64), bytes in use (8..32),
/// kind (4..8), owner or phase (0..4). Second: the block's offset in the heap array (32..64)
/// and its size with heap_4's header (0..32).
static SAMPLES: [[AtomicU64; 2]; CAPACITY] =
    [const { [AtomicU64::new(0), AtomicU64::new(0)] }; CAPACITY];
static COUNT: AtomicUsize = AtomicUsize::new(0);
static OWNER_OF: [AtomicU8; GRANULES] = [const { AtomicU8::new(0) }; GRANULES];
static OWNER_BYTES: [AtomicUsize; OWNERS] = [const { AtomicUsize::new(0) }; OWNERS];
static PEAK_USED: AtomicUsize = AtomicUsize::new(0);
static PEAK_OWNER_BYTES: [AtomicUsize; OWNERS] = [const { AtomicUsize::new(0) }; OWNERS];
static PEAK_PHASE: AtomicU8 = AtomicU8::new(0);
static PHASE: AtomicU8 = AtomicU8::new(HeapPhase::Start as u8);
/// The owner of the allocation being made, set with the scheduler suspended (module docs).
static OWNER_HINT: AtomicU8 = AtomicU8::new(NO_HINT);

const KIND_ALLOC: u64 = 0;
const KIND_FREE: u64 = 1;
const KIND_PHASE: u64 = 2;

/// Starts tracing. Call before the scheduler starts (allocations made earlier are charged to
/// no owner and freeing them is not traced against one).
pub fn enable() {
    let _ = STARTED.set(Instant::now());
    crate::rtos::heap::set_phase_hook(mark_phase);
    ENABLED.store(true, Ordering::Release);
}

/// Whether [`enable`] was called.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn now_us() -> u64 {
    STARTED
        .get()
        .map_or(0, |started| started.elapsed().as_micros() as u64)
        .min(u64::from(u32::MAX))
}

fn used_now() -> usize {
    // SAFETY: plain reads of heap_4's counters and a constant.
    unsafe { ffi::xShimHeapTotalSize() - ffi::xPortGetFreeHeapSize() }
}

fn push(kind: u64, tag: u8, block: *mut c_void, size: usize) {
    let index = COUNT.fetch_add(1, Ordering::Relaxed);
    if let Some([first, second]) = SAMPLES.get(index) {
        let used = (used_now() as u64).min(0xff_ffff);
        first.store(
            now_us() << 32 | used << 8 | kind << 4 | u64::from(tag & 0xf),
            Ordering::Relaxed,
        );
        // SAFETY: the start of the static heap array; no state is touched.
        let offset = (block as usize).wrapping_sub(unsafe { ffi::uxShimHeapStart() });
        second.store(
            (offset as u64 & 0xffff_ffff) << 32 | (size as u64).min(0xffff_ffff),
            Ordering::Relaxed,
        );
    }
}

fn mark_phase(phase: HeapPhase) {
    PHASE.store(phase as u8, Ordering::Relaxed);
    push(KIND_PHASE, phase as u8, core::ptr::null_mut(), 0);
}

fn granule(block: *mut c_void) -> Option<usize> {
    // SAFETY: the bounds of the static heap array; no state is touched.
    let start = unsafe { ffi::uxShimHeapStart() };
    (block as usize)
        .checked_sub(start)
        .map(|offset| offset / 8)
        .filter(|&index| index < GRANULES)
}

/// heap_4's `traceMALLOC`: `size` is the block's size with its header.
#[unsafe(no_mangle)]
pub extern "C" fn vFreeRtosHttpsHeapTraceMalloc(block: *mut c_void, size: usize) {
    if !enabled() || block.is_null() {
        return;
    }
    let owner = match OWNER_HINT.load(Ordering::Relaxed) {
        NO_HINT => HeapOwner::Kernel as u8,
        hint => hint,
    };
    if let Some(index) = granule(block) {
        OWNER_OF[index].store(owner, Ordering::Relaxed);
    }
    OWNER_BYTES[usize::from(owner)].fetch_add(size, Ordering::Relaxed);
    let used = used_now();
    if used > PEAK_USED.load(Ordering::Relaxed) {
        PEAK_USED.store(used, Ordering::Relaxed);
        PEAK_PHASE.store(PHASE.load(Ordering::Relaxed), Ordering::Relaxed);
        for (peak, now) in PEAK_OWNER_BYTES.iter().zip(&OWNER_BYTES) {
            peak.store(now.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
    push(KIND_ALLOC, owner, block, size);
}

/// heap_4's `traceFREE`: `size` is the block's size with its header.
#[unsafe(no_mangle)]
pub extern "C" fn vFreeRtosHttpsHeapTraceFree(block: *mut c_void, size: usize) {
    if !enabled() {
        return;
    }
    let owner = granule(block).map_or(HeapOwner::Kernel as u8, |index| {
        OWNER_OF[index].load(Ordering::Relaxed)
    });
    let bytes = &OWNER_BYTES[usize::from(owner)];
    let _ = bytes.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
        Some(now.saturating_sub(size))
    });
    push(KIND_FREE, owner, block, size);
}

/// Whether the C calloc shim should name Mbed TLS as the owner (tracing is on).
#[unsafe(no_mangle)]
pub extern "C" fn xFreeRtosHttpsHeapTracing() -> ffi::BaseType_t {
    ffi::BaseType_t::from(enabled())
}

/// Names the owner of the allocations about to be made (C code passes
/// [`HeapOwner::MbedTls`] as 1); `u8::MAX` for none.
#[unsafe(no_mangle)]
pub extern "C" fn vFreeRtosHttpsHeapOwnerHint(owner: u8) {
    OWNER_HINT.store(owner, Ordering::Relaxed);
}

/// A Rust allocation by a task while tracing: charged to the IP task's stack or to the phase's
/// owner (module docs).
pub(crate) fn traced_alloc(layout: Layout) -> *mut u8 {
    let owner = if crate::rtos::task::current_name().as_str() == "IP" {
        HeapOwner::TcpIp
    } else {
        phase_now().owner()
    };
    // SAFETY: called by a task (the allocator checks); suspending the scheduler is allowed
    // there and nests with heap_4's own suspension; it is resumed below on every path.
    unsafe { ffi::vTaskSuspendAll() };
    OWNER_HINT.store(owner as u8, Ordering::Relaxed);
    let block = heap4_alloc(layout);
    OWNER_HINT.store(NO_HINT, Ordering::Relaxed);
    // SAFETY: matches the vTaskSuspendAll above, from the same task.
    unsafe { ffi::xTaskResumeAll() };
    block
}

fn phase_now() -> HeapPhase {
    let phase = PHASE.load(Ordering::Relaxed);
    HeapPhase::ALL
        .into_iter()
        .find(|candidate| *candidate as u8 == phase)
        .unwrap_or(HeapPhase::Start)
}

/// Writes the trace as CSV: `# peak` and `# owner` comment lines (the peak and its breakdown
/// by owner), then `time_us,used,event,tag,offset,size` rows: event `alloc`, `free` or
/// `phase`; tag the owner's or the phase's name; the block's offset in the heap array and its
/// size with heap_4's header (0 for a phase).
pub fn write_csv(path: &std::path::Path) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let phase_name = |tag: u8| {
        HeapPhase::ALL
            .iter()
            .find(|phase| **phase as u8 == tag)
            .map_or("?", |phase| phase.name())
    };
    let owner_name = |tag: u8| {
        HeapOwner::ALL
            .iter()
            .find(|owner| **owner as u8 == tag)
            .map_or("?", |owner| owner.name())
    };
    let count = COUNT.load(Ordering::Acquire);
    writeln!(
        out,
        "# peak,{},{}",
        PEAK_USED.load(Ordering::Relaxed),
        phase_name(PEAK_PHASE.load(Ordering::Relaxed))
    )?;
    for owner in HeapOwner::ALL {
        writeln!(
            out,
            "# owner,{},{}",
            owner.name(),
            PEAK_OWNER_BYTES[owner as usize].load(Ordering::Relaxed)
        )?;
    }
    writeln!(out, "# events,{count},{}", count.min(CAPACITY))?;
    writeln!(out, "time_us,used,event,tag,offset,size")?;
    for [first, second] in SAMPLES.iter().take(count.min(CAPACITY)) {
        let sample = first.load(Ordering::Relaxed);
        let block = second.load(Ordering::Relaxed);
        let tag = (sample & 0xf) as u8;
        let (event, name) = match (sample >> 4) & 0xf {
            KIND_ALLOC => ("alloc", owner_name(tag)),
            KIND_FREE => ("free", owner_name(tag)),
            _ => ("phase", phase_name(tag)),
        };
        let (offset, size) = match event {
            "phase" => (0, 0),
            _ => (block >> 32, block & 0xffff_ffff),
        };
        writeln!(
            out,
            "{},{},{event},{name},{offset},{size}",
            sample >> 32,
            (sample >> 8) & 0xff_ffff
        )?;
    }
    out.flush()
}
