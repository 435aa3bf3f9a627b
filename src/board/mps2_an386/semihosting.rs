//! ARM semihosting: the debugger's (here QEMU's) services, requested with `bkpt 0xAB`.
//!
//! Only what the board uses: opening and reading a host file (the host's random device),
//! writing to the host's standard output and error, the host's calendar clock, and ending the
//! emulation with a status. Each call stops the CPU until the host has answered, with
//! interrupts held off meanwhile: slow, so the console is for lines, not bulk data.
//!
//! Without a debugger or QEMU attached, `bkpt` is a fault: an image for a real board replaces
//! these services (see the board's module docs).
//!
//! An FFI module: it talks to the host through the breakpoint instruction.
#![allow(unsafe_code)]

use core::ffi::CStr;

/// `SYS_OPEN`: opens a host file, returns a handle or -1.
const SYS_OPEN: u32 = 0x01;
/// `SYS_WRITE`: writes to a handle, returns the number of bytes *not* written.
const SYS_WRITE: u32 = 0x05;
/// `SYS_READ`: reads from a handle, returns the number of bytes *not* read.
const SYS_READ: u32 = 0x06;
/// `SYS_TIME`: seconds since the Unix epoch.
const SYS_TIME: u32 = 0x11;
/// `SYS_EXIT_EXTENDED`: ends the program with a reason and a status.
const SYS_EXIT_EXTENDED: u32 = 0x20;
/// The exit reason "the application exited" (`ADP_Stopped_ApplicationExit`).
const ADP_STOPPED_APPLICATION_EXIT: u32 = 0x2_0026;

/// `SYS_OPEN` modes (ISO C `fopen` modes, numbered): `"rb"`, `"w"` and `"a"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum OpenMode {
    /// Read, binary (`"rb"`).
    ReadBinary = 1,
    /// Write (`"w"`); on `:tt`, the host's standard output.
    Write = 4,
    /// Append (`"a"`); on `:tt`, the host's standard error.
    Append = 8,
}

/// A host file handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handle(u32);

impl Handle {
    /// The host's number for the handle.
    pub fn raw(self) -> u32 {
        self.0
    }

    /// A handle from the host's number (one [`open`] returned).
    pub fn from_raw(raw: u32) -> Handle {
        Handle(raw)
    }
}

/// One semihosting call: `operation` in r0, the address of its parameter block in r1.
///
/// # Safety
///
/// `parameter` must be what `operation` expects: a parameter block whose pointers are valid
/// for the lengths given, for the duration of the call.
unsafe fn call(operation: u32, parameter: usize) -> u32 {
    let result: u32;
    // SAFETY: `bkpt 0xAB` traps to the semihosting host, which reads r0/r1 and the block at r1
    // (valid, by this function's contract) and returns its answer in r0. It touches no other
    // register and no memory but the block's buffers.
    unsafe {
        core::arch::asm!(
            "bkpt #0xab",
            inout("r0") operation => result,
            in("r1") parameter,
            options(nostack, preserves_flags),
        );
    }
    result
}

/// Opens the host file `path` in `mode`; `:tt` is the host's console.
pub fn open(path: &CStr, mode: OpenMode) -> Option<Handle> {
    let block: [usize; 3] = [path.as_ptr() as usize, mode as usize, path.to_bytes().len()];
    // SAFETY: the block holds a NUL-terminated path that lives across the call, its mode and
    // its length without the NUL.
    let handle = unsafe { call(SYS_OPEN, block.as_ptr() as usize) };
    (handle != u32::MAX).then_some(Handle(handle))
}

/// Writes all of `bytes` to `handle`; `false` if the host wrote less.
pub fn write(handle: Handle, bytes: &[u8]) -> bool {
    let block: [usize; 3] = [handle.0 as usize, bytes.as_ptr() as usize, bytes.len()];
    // SAFETY: the block describes a live slice the host only reads.
    unsafe { call(SYS_WRITE, block.as_ptr() as usize) == 0 }
}

/// Reads into `buffer`; returns how many bytes were read (fewer at the end of the file).
pub fn read(handle: Handle, buffer: &mut [u8]) -> usize {
    let block: [usize; 3] = [
        handle.0 as usize,
        buffer.as_mut_ptr() as usize,
        buffer.len(),
    ];
    // SAFETY: the block describes a live, writable slice; the host writes at most its length.
    let not_read = unsafe { call(SYS_READ, block.as_ptr() as usize) } as usize;
    buffer.len().saturating_sub(not_read)
}

/// The host's calendar time, in seconds since the Unix epoch.
pub fn time() -> u32 {
    // SAFETY: `SYS_TIME` takes no parameter block (r1 must be 0).
    unsafe { call(SYS_TIME, 0) }
}

/// Ends the emulation: QEMU exits with `status` as its own exit status.
pub fn exit(status: i32) -> ! {
    let block: [usize; 2] = [
        ADP_STOPPED_APPLICATION_EXIT as usize,
        status as u32 as usize,
    ];
    // SAFETY: the block holds the reason and the status; the host ends the program.
    unsafe { call(SYS_EXIT_EXTENDED, block.as_ptr() as usize) };
    // Only reached without a host that honours the request: stop here.
    loop {
        core::hint::spin_loop();
    }
}
