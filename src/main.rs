//! `http-mutual-auth-demo`: the coreHTTP mutual-authentication demo on the FreeRTOS kernel.
//!
//! The application is the portable demo (`freertos_https::demo`); this entry point hands it
//! to the board the target selects: the POSIX simulator (`freertos_https::board::posix::app`)
//! on Linux and macOS, the Windows simulator (`freertos_https::board::windows::app`, the same
//! module) on `x86_64-pc-windows-gnu`, and QEMU's mps2-an386
//! (`freertos_https::board::mps2_an386::app`) on `thumbv7em-none-eabihf`, where the reset
//! handler (cortex-m-rt) calls it.
#![cfg_attr(board = "mps2_an386", no_std, no_main)]

#[cfg(board = "posix")]
fn main() -> std::process::ExitCode {
    freertos_https::board::posix::app::main()
}

#[cfg(board = "mps2_an386")]
#[cortex_m_rt::entry]
fn main() -> ! {
    freertos_https::board::mps2_an386::app::main()
}

#[cfg(board = "windows")]
fn main() -> std::process::ExitCode {
    freertos_https::board::windows::app::main()
}
