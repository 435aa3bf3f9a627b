//! The QEMU `mps2-an386` board: an Arm MPS2 FPGA image with a Cortex-M4F at 25 MHz, 4 MiB of
//! code memory at `0x0000_0000`, 4 MiB of data memory at `0x2000_0000` (`memory.x`) and an
//! SMSC LAN9118 Ethernet controller at `0x4020_0000` on interrupt 13.
//!
//! | module | what |
//! |---|---|
//! | `port` (crate-private) | the RTOS layer's port glue: every context is a task once the scheduler runs, the FreeRTOS heap as the global allocator, the kernel's critical section |
//! | [`semihosting`] | the host's services through QEMU: files, console, clock, exit |
//! | [`lan9118`] | the network card, driven by its interrupt |
//! | [`app`] | the demo's entry point: settings and credentials built in, card, kernel |
//!
//! [`Mps2Board`] provides the [`BoardServices`] over semihosting, which only exists under QEMU
//! (or a debugger):
//!
//! * **entropy**: the host's `/dev/urandom`, read through `SYS_OPEN`/`SYS_READ`. Fine for an
//!   emulator, where the host is trusted anyway; a real board must replace
//!   [`Mps2Board::fill_entropy`]'s source with its TRNG (an STM32's RNG peripheral, say) and
//!   keep failing closed when the TRNG reports an error. There is no seeded fallback.
//! * **wall clock**: `SYS_TIME`, the host's calendar in seconds (certificate dates count).
//! * **console**: `SYS_WRITE` to the host's standard output and error (`:tt` opened for writing
//!   and for appending). Slow, and interrupts wait meanwhile: it is for log lines.
//! * **exit**: `SYS_EXIT_EXTENDED`, so QEMU exits with the demo's status.
//!
//! Faults end the emulation with a message: a panic with status 101, a task stack overflow
//! (`configCHECK_FOR_STACK_OVERFLOW` 2) and a hard fault with status 70. The kernel's overflow
//! check only runs at task switches, and an overflow into a neighbouring heap block usually
//! faults first (measured: a 12 KiB demo stack jumped to address 0): the hard fault handler
//! then reports how much of the task's stack was never used, and calls a small margin a likely
//! overflow. Only an MPU guard region (the kernel's `ARM_CM4_MPU` port) would catch every one.
//!
//! C's heap is never used (Mbed TLS allocates from the FreeRTOS heap): newlib's `_sbrk` here
//! always fails.
#![allow(unsafe_code)]

pub mod app;
pub mod lan9118;
pub(crate) mod port;
pub mod semihosting;

use core::ffi::{CStr, c_char, c_void};
use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use core::time::Duration;

use super::{BoardServices, EntropyError};
use crate::rtos::console::{self, Stream};
use semihosting::{Handle, OpenMode};

/// Exit status after a panic (as a Rust process's).
pub const PANIC_EXIT_STATUS: i32 = 101;
/// Exit status after a fault the CPU or the kernel caught (stack overflow, hard fault).
pub const FAULT_EXIT_STATUS: i32 = crate::rtos::ASSERT_EXIT_STATUS;

/// A hard fault in a task with less unused stack than this is reported as a likely overflow:
/// more than the largest stack frame in the image (3 KB, measured).
const SUSPECT_OVERFLOW_BELOW: usize = 4096;

/// The board's services (see the module docs).
pub struct Mps2Board;

/// The board's services, for [`crate::board::install`].
pub static SERVICES: &dyn BoardServices = &Mps2Board;

/// A host file handle opened on first use (`u32::MAX` until then).
struct LazyHandle {
    handle: AtomicU32,
    path: &'static CStr,
    mode: OpenMode,
}

impl LazyHandle {
    const NONE: u32 = u32::MAX;

    const fn new(path: &'static CStr, mode: OpenMode) -> LazyHandle {
        LazyHandle {
            handle: AtomicU32::new(LazyHandle::NONE),
            path,
            mode,
        }
    }

    /// The handle, opening the file now if needed. Two tasks racing here open it twice at worst.
    fn get(&self) -> Option<Handle> {
        let known = self.handle.load(Ordering::Relaxed);
        if known != LazyHandle::NONE {
            return Some(Handle::from_raw(known));
        }
        let opened = semihosting::open(self.path, self.mode)?;
        self.handle.store(opened.raw(), Ordering::Relaxed);
        Some(opened)
    }
}

static RANDOM: LazyHandle = LazyHandle::new(c"/dev/urandom", OpenMode::ReadBinary);
static STDOUT: LazyHandle = LazyHandle::new(c":tt", OpenMode::Write);
static STDERR: LazyHandle = LazyHandle::new(c":tt", OpenMode::Append);

impl BoardServices for Mps2Board {
    fn name(&self) -> &'static str {
        "qemu-mps2-an386"
    }

    /// The host's random device, under QEMU. **A real board puts its TRNG here.**
    fn fill_entropy(&self, buffer: &mut [u8]) -> Result<(), EntropyError> {
        let source = RANDOM.get().ok_or(EntropyError)?;
        let mut filled = 0;
        while filled < buffer.len() {
            let got = semihosting::read(source, &mut buffer[filled..]);
            if got == 0 {
                return Err(EntropyError);
            }
            filled += got;
        }
        Ok(())
    }

    fn wall_clock(&self) -> Option<Duration> {
        match semihosting::time() {
            0 | u32::MAX => None,
            seconds => Some(Duration::from_secs(u64::from(seconds))),
        }
    }

    /// From the kernel's run-time statistics on the CMSDK timer (see [`ulBoardRunTimeCounter`]):
    /// 40 ns per count. It wraps after 171 s of processor time.
    fn busy_time(&self) -> Option<Duration> {
        // SAFETY: reads the kernel's run-time counters in a critical section; callable from
        // any task once the scheduler runs (before, both counters are 0).
        let counts = unsafe { crate::rtos::ffi::ulShimBusyCounter() };
        Some(Duration::from_nanos(
            u64::from(counts) * NANOS_PER_TIMER_COUNT,
        ))
    }

    fn console_write(&self, stream: Stream, bytes: &[u8]) {
        let handle = match stream {
            Stream::Stdout => STDOUT.get(),
            Stream::Stderr => STDERR.get(),
        };
        if let Some(handle) = handle {
            let _ = semihosting::write(handle, bytes);
        }
    }

    fn exit(&self, status: i32) -> ! {
        semihosting::exit(status)
    }
}

/// The CMSDK APB timer 0 of the MPS2 FPGA images (the AN386's at `0x4000_0000`), clocked by
/// the 25 MHz peripheral clock: its registers CTRL, VALUE and RELOAD.
const TIMER0_CTRL: usize = 0x4000_0000;
const TIMER0_VALUE: usize = 0x4000_0004;
const TIMER0_RELOAD: usize = 0x4000_0008;
/// One count of the timer at 25 MHz.
const NANOS_PER_TIMER_COUNT: u64 = 40;

/// The kernel's run-time statistics clock (`portCONFIGURE_TIMER_FOR_RUN_TIME_STATS`): timer 0
/// counting down from `u32::MAX` at 25 MHz, without its interrupt. Called once, by
/// `vTaskStartScheduler`.
#[unsafe(no_mangle)]
extern "C" fn vBoardRunTimeCounterStart() {
    // SAFETY: the timer's registers at their fixed addresses; nothing else uses timer 0.
    unsafe {
        core::ptr::write_volatile(TIMER0_CTRL as *mut u32, 0);
        core::ptr::write_volatile(TIMER0_RELOAD as *mut u32, u32::MAX);
        core::ptr::write_volatile(TIMER0_VALUE as *mut u32, u32::MAX);
        core::ptr::write_volatile(TIMER0_CTRL as *mut u32, 1);
    }
}

/// The run-time statistics counter (`portGET_RUN_TIME_COUNTER_VALUE`): 25 MHz counts since the
/// scheduler started, wrapping after 171 s. Under QEMU with `-icount shift=0` the virtual
/// clock advances one nanosecond per instruction, so a count is 40 instructions.
#[unsafe(no_mangle)]
extern "C" fn ulBoardRunTimeCounter() -> core::ffi::c_ulong {
    // SAFETY: a read of the timer's current value register.
    let value = unsafe { core::ptr::read_volatile(TIMER0_VALUE as *const u32) };
    u32::MAX - value
}

/// The panic report's line: static, because the panicking task's stack may be small (a 1 KiB
/// task overflowed formatting it on its own stack, measured).
struct PanicLine(core::cell::UnsafeCell<console::LineBuffer<{ console::MAX_LINE }>>);

// SAFETY: only the first panic touches the buffer, with interrupts masked (see `panic`).
unsafe impl Sync for PanicLine {}

static PANIC_LINE: PanicLine = PanicLine(core::cell::UnsafeCell::new(console::LineBuffer::new()));
static PANICKING: AtomicBool = AtomicBool::new(false);

/// A panic anywhere (task, interrupt, before the scheduler): print it and end with 101.
/// Interrupts are masked first, so no task switch or handler runs while it is reported.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: masks interrupts for good (the program ends here); touches no memory.
    unsafe { core::arch::asm!("cpsid i", options(nomem, nostack, preserves_flags)) };
    if PANICKING.swap(true, Ordering::Relaxed) {
        // A panic while reporting one: the first report is all there is.
        semihosting::exit(PANIC_EXIT_STATUS);
    }
    // SAFETY: the first and only panic to get here, with interrupts masked: nothing else
    // holds a reference to the buffer.
    let line = unsafe { &mut *PANIC_LINE.0.get() };
    let _ = writeln!(
        line,
        "panic in task '{}': {info}",
        crate::rtos::task::current_name()
    );
    Mps2Board.console_write(Stream::Stderr, line.as_bytes());
    semihosting::exit(PANIC_EXIT_STATUS)
}

/// The kernel found a task's stack overflowed (`configCHECK_FOR_STACK_OVERFLOW` 2: the
/// pattern at the stack's end was overwritten) while switching away from it. Memory beyond
/// that stack may be corrupt already, so nothing else runs: print and stop.
#[unsafe(no_mangle)]
extern "C" fn vApplicationStackOverflowHook(_task: *mut c_void, name: *const c_char) {
    let name = if name.is_null() {
        "?"
    } else {
        // SAFETY: the kernel passes the task's NUL-terminated name from its TCB.
        unsafe { CStr::from_ptr(name) }.to_str().unwrap_or("?")
    };
    console::fatal(
        format_args!("stack overflow in task '{name}' (raise its stack size)"),
        FAULT_EXIT_STATUS,
    );
}

/// newlib's heap growth: always refused, so C code can only allocate from the FreeRTOS heap
/// (Mbed TLS's allocator is pointed there). Returns `(void *) -1`, newlib's failure value.
#[unsafe(no_mangle)]
extern "C" fn _sbrk(_increment: isize) -> *mut c_void {
    usize::MAX as *mut c_void
}

/// A hard fault (bad memory access, undefined instruction, ...): print where, and stop.
#[cortex_m_rt::exception]
unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
    const CFSR: usize = 0xE000_ED28;
    const BFAR: usize = 0xE000_ED38;
    // SAFETY: the configurable fault status and bus fault address registers are read-only
    // views of the System Control Block at fixed addresses.
    let (status, address) = unsafe {
        (
            core::ptr::read_volatile(CFSR as *const u32),
            core::ptr::read_volatile(BFAR as *const u32),
        )
    };
    // The kernel's overflow check runs at task switches only, and a function whose frame is
    // larger than what is left (the network code has 3 KB frames) jumps over the unused end
    // of the stack into the heap block below it: such an overflow usually ends here, with
    // some of the stack still unused. Measured: a 12 KiB demo stack faulted with 1464 B unused.
    let mut unused = console::LineBuffer::<120>::new();
    if let Some(bytes) = port::current_stack_unused_bytes() {
        let _ = write!(unused, " ({bytes} B of its stack never used");
        if bytes < SUSPECT_OVERFLOW_BELOW {
            let _ = write!(unused, ": probably a stack overflow, raise its size");
        }
        let _ = write!(unused, ")");
    }
    console::fatal(
        format_args!(
            "hard fault in task '{}'{}: pc={:#010x} lr={:#010x} r0={:#010x} \
             cfsr={status:#010x} bfar={address:#010x}",
            crate::rtos::task::current_name(),
            core::str::from_utf8(unused.as_bytes()).unwrap_or(""),
            frame.pc(),
            frame.lr(),
            frame.r0()
        ),
        FAULT_EXIT_STATUS,
    )
}

/// Every interrupt without a handler of its own: the Ethernet controller's is served here,
/// any other one is a bug (nothing else is enabled).
///
/// # Safety
///
/// Called only by the hardware, as an exception handler.
#[cortex_m_rt::exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == lan9118::IRQ {
        lan9118::on_interrupt();
    } else {
        console::fatal(
            format_args!("unexpected exception or interrupt {irqn}"),
            FAULT_EXIT_STATUS,
        );
    }
}
