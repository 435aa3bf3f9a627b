//! Simulated interrupt lines: how a host thread wakes a task without calling the kernel.
//!
//! On a board, a network card raises an interrupt and its handler gives a task notification.
//! In the simulator the "card" is a host thread, which must not call the kernel at all (see
//! [`crate::rtos`]). An [`InterruptLine`] reproduces the board's behaviour: the host thread
//! [raises](InterruptRaiser::raise) the line, and the kernel runs the line's service routine on
//! the running task's thread, exactly as it runs the tick. The routine gives the attached
//! task's [`NotifySlot::General`](super::task::NotifySlot::General) notification and switches to
//! it at once if it has a higher priority. A tick hook services pending lines too, so no
//! wake-up is ever later than one tick. Implementation: `c_shim/posix_interrupt.c`.

use core::fmt;

use super::ffi;
use super::task::TaskHandle;

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

impl std::error::Error for InvalidLine {}

/// An interrupt line attached to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterruptLine {
    line: u8,
}

impl InterruptLine {
    /// Attaches `line` to `task`: raising it notifies that task. Replaces an earlier
    /// attachment of the same line. Call from a task or before the scheduler starts.
    pub fn attach(line: u8, task: TaskHandle) -> Result<InterruptLine, InvalidLine> {
        // SAFETY: stores the handle of a live task in the shim's table; the shim only uses it
        // from interrupt context while the task exists (the network tasks never end).
        let attached =
            unsafe { ffi::xShimInterruptAttach(ffi::UBaseType_t::from(line), task.as_raw()) };
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

/// Raises one interrupt line. `Copy`, `Send` and `Sync`: made for host threads.
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

    /// Raises the line. Never blocks and never calls the kernel from the calling thread.
    pub fn raise(&self) {
        // SAFETY: the shim only sets an atomic flag and sends a signal; safe from any thread.
        unsafe { ffi::vShimInterruptRaise(ffi::UBaseType_t::from(self.line)) };
    }
}
