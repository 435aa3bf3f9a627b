//! Boards: what the portable core asks of the hardware it runs on, and the boards that
//! provide it.
//!
//! Everything outside `src/board/` is the **portable core** (`no_std` + `alloc`): the RTOS
//! layer, the link seam, the TCP/IP stack, TLS and the demo. It compiles for every target.
//! Everything inside is a **board**: code that exists for one target only, chosen here and
//! nowhere else, from the `board` cfg that `build.rs` derives from the Rust target:
//!
//! | `board` | target | module |
//! |---|---|---|
//! | `posix` | Linux and macOS hosts | [`posix`]: the FreeRTOS POSIX simulator |
//! | `mps2_an386` | `thumbv7em-none-eabihf` | [`mps2_an386`]: QEMU's Arm MPS2 AN386 (Cortex-M4F, LAN9118), over semihosting |
//! | `windows` | `x86_64-pc-windows-gnu` (tested under wine); `*-windows-msvc` untested | `windows`: the FreeRTOS Windows simulator (MSVC-MingW port) |
//!
//! # The seams a board fills
//!
//! * [`BoardServices`] (this module): entropy, wall clock, uptime, console, exit status. A
//!   board installs its implementation with [`install`] before the scheduler starts.
//! * [`crate::link::LinkCard`]: the network card (frames in and out, and the interrupt line
//!   that announces them).
//! * Credentials as bytes: the simulator reads files ([`crate::tls::Credentials::from_memory`]
//!   copies bytes), a board embeds them ([`crate::tls::Credentials::from_static`] uses them
//!   in place). TLS never opens a file.
//! * The port glue the RTOS layer needs (`port`, crate-private): which thread is a task,
//!   how a task body runs, the global allocator, the critical-section implementation, and
//!   what happens when the application ends.
//!
//! # Adding a board
//!
//! 1. Add its target to `Port::for_target` in `build.rs` (kernel port sources, `board` cfg).
//! 2. Create `src/board/<name>/` with a `port` module (the shape of `mps2_an386/port.rs`), a
//!    [`BoardServices`] implementation, and its network card behind
//!    [`LinkCard`](crate::link::LinkCard).
//! 3. Select it in this file, next to [`posix`].
//! 4. Give it an entry point that installs its services, starts its card and calls
//!    [`crate::rtos::scheduler::run_application`] with [`crate::demo::run`].

use core::fmt;
use core::time::Duration;

use once_cell::race::OnceRef;

use crate::rtos::console::Stream;

#[cfg(any(board = "posix", board = "windows"))]
pub mod gateway;
#[cfg(any(board = "posix", board = "windows"))]
pub mod hosted;
#[cfg(board = "posix")]
pub mod posix;
#[cfg(board = "posix")]
pub(crate) use posix::port;

#[cfg(board = "mps2_an386")]
pub mod mps2_an386;
#[cfg(board = "mps2_an386")]
pub(crate) use mps2_an386::port;

#[cfg(board = "windows")]
pub mod windows;
#[cfg(board = "windows")]
pub(crate) use windows::port;

/// The board's entropy source failed, or the board has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntropyError;

impl fmt::Display for EntropyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the board's entropy source failed")
    }
}

impl core::error::Error for EntropyError {}

/// What the portable core needs from the board it runs on. Implemented once per board and
/// installed with [`install`]; every method may be called from any task, and must not block on
/// kernel objects (the console may be called with the scheduler suspended).
pub trait BoardServices: Sync {
    /// The board's name, for reports (`posix-simulator`, say).
    fn name(&self) -> &'static str;

    /// Fills `buffer` with cryptographically secure random bytes (a TRNG on a board, the host's
    /// CSPRNG on a simulator). Used for TLS, TCP initial sequence numbers, ephemeral ports, DNS
    /// query ids and backoff jitter. A board without one must return an error, never a
    /// predictable value.
    fn fill_entropy(&self, buffer: &mut [u8]) -> Result<(), EntropyError>;

    /// The calendar time as a duration since the Unix epoch (UTC), or `None` when the board
    /// does not know it (then every certificate date check fails closed).
    fn wall_clock(&self) -> Option<Duration>;

    /// Time since the board started, for reported timings and log stamps. The default counts
    /// kernel ticks; a simulator, whose ticks run slow under host load, uses the host's clock.
    fn uptime(&self) -> Duration {
        crate::rtos::time::tick_count().as_duration()
    }

    /// Processor time spent outside the idle task since the scheduler started (interrupts
    /// included), when the board counts it (the kernel's run-time statistics); `None` by
    /// default. Differences of two readings measure the work a step cost the CPU, whatever
    /// it waited for. Under QEMU with `-icount shift=0` one nanosecond is one instruction.
    fn busy_time(&self) -> Option<Duration> {
        None
    }

    /// Writes `bytes` to the console stream as one uninterrupted run. Errors are dropped:
    /// there is nowhere left to report them.
    fn console_write(&self, stream: Stream, bytes: &[u8]);

    /// Ends the program with `status` (0 success, 1 failure, 2 configuration error, 70 kernel
    /// assertion, 101 task panic). A simulator exits its process; a board under a debugger or
    /// QEMU reports the status through semihosting.
    fn exit(&self, status: i32) -> !;
}

/// The services in force: those [`install`]ed, else the target's default board.
static INSTALLED: OnceRef<'static, &'static dyn BoardServices> = OnceRef::new();

/// The board's services are already installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyInstalled;

/// Installs the board's services. Call once, before the scheduler starts.
pub fn install(services: &'static &'static dyn BoardServices) -> Result<(), AlreadyInstalled> {
    INSTALLED.set(services).map_err(|_| AlreadyInstalled)
}

/// The board's services. Before [`install`], the target's default: the board's own.
pub fn services() -> &'static dyn BoardServices {
    *INSTALLED.get_or_init(|| &port::DEFAULT_SERVICES)
}

/// Fills `buffer` from the board's entropy source.
pub fn fill_entropy(buffer: &mut [u8]) -> Result<(), EntropyError> {
    services().fill_entropy(buffer)
}

/// A random `u32` from the board's entropy source.
pub fn random_u32() -> Result<u32, EntropyError> {
    let mut bytes = [0u8; 4];
    fill_entropy(&mut bytes)?;
    Ok(u32::from_le_bytes(bytes))
}
