//! Interrupt lines: how a network card's interrupt wakes the task that serves it.
//!
//! A task attaches itself to a line ([`InterruptLine::attach_current`]); the card
//! [raises](InterruptRaiser::raise) the line, and the line's service routine gives the attached
//! task's [`NotifySlot::General`](super::task::NotifySlot::General) notification, switching to
//! it at once if it has a higher priority. A line stays attached until the task ends (then it
//! is detached before the task is deleted, see [`super::task`]).
//!
//! Who raises a line is the port's business, implemented in C per port:
//! * on a board, the card's interrupt handler (`c_shim/isr_interrupt.c`);
//! * on the POSIX simulator, any thread, host threads included: raising marks the line and
//!   signals the running task's thread, where the routine runs exactly as the tick does; the
//!   tick services pending lines too, so no wake-up is ever later than one tick
//!   (`c_shim/posix_port.c`).

use core::fmt;

use super::ffi;
use super::task::require_task;

/// Number of lines (`SHIM_INTERRUPT_LINES`).
pub const LINES: u8 = ffi::SHIM_INTERRUPT_LINES as u8;

/// A line number is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidLine(pub u8);

impl fmt::Display for InvalidLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "interrupt line {} does not exist (lines 0..{LINES})",
            self.0
        )
    }
}

impl core::error::Error for InvalidLine {}

/// An interrupt line attached to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterruptLine {
    line: u8,
}

impl InterruptLine {
    /// Attaches `line` to the calling task: raising it notifies this task, until the task
    /// ends. Replaces an earlier attachment of the same line. Call from a task.
    pub fn attach_current(line: u8) -> Result<InterruptLine, InvalidLine> {
        require_task("InterruptLine::attach_current");
        // SAFETY: stores the calling task's handle in the shim's table; the task detaches every
        // line pointing at it before it is deleted (`vShimInterruptDetachTask` in
        // `vFreeRtosHttpsRunTask`), so the shim only ever notifies a live task.
        let attached = unsafe {
            ffi::xShimInterruptAttach(
                ffi::UBaseType_t::from(line),
                ffi::xTaskGetCurrentTaskHandle(),
            )
        };
        if attached == ffi::pdPASS {
            Ok(InterruptLine { line })
        } else {
            Err(InvalidLine(line))
        }
    }

    /// A handle that raises this line from any thread.
    pub fn raiser(&self) -> InterruptRaiser {
        InterruptRaiser { line: self.line }
    }
}

/// Raises one interrupt line. `Copy`, `Send` and `Sync`: for cards, from their interrupt
/// handler or (on the simulator) a host thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterruptRaiser {
    line: u8,
}

impl InterruptRaiser {
    /// A raiser for `line`, attached to a task now or later.
    pub fn new(line: u8) -> Result<InterruptRaiser, InvalidLine> {
        if line < LINES {
            Ok(InterruptRaiser { line })
        } else {
            Err(InvalidLine(line))
        }
    }

    /// Raises the line. Never blocks. On the simulator it never calls the kernel from the
    /// calling thread; on a board it must be called from an interrupt handler.
    pub fn raise(&self) {
        // SAFETY: the port's shim is safe from the contexts documented above (on the POSIX
        // port: an atomic flag and a signal, from any thread).
        unsafe { ffi::vShimInterruptRaise(ffi::UBaseType_t::from(self.line)) };
    }
}
