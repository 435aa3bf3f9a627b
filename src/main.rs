//! `http-mutual-auth-demo`: the coreHTTP mutual-authentication demo on the FreeRTOS kernel.
//!
//! The application is the portable demo (`freertos_https::demo`); this entry point hands it
//! to the board the target selects: the POSIX simulator (`freertos_https::board::posix::app`)
//! on a host, QEMU's mps2-an386 (`freertos_https::board::mps2_an386::app`) on
//! `thumbv7em-none-eabihf`, where the reset handler (cortex-m-rt) calls it.
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

/// The Windows simulator has no network card yet (the gateway card is planned), so the demo
/// cannot run there; the kernel self-tests do (`rtos-selftest`, under wine).
#[cfg(board = "windows")]
fn main() -> std::process::ExitCode {
    eprintln!(
        "error: the demo has no network card on the Windows simulator yet (the gateway card \
         is planned); run `rtos-selftest --list` for what runs there"
    );
    std::process::ExitCode::from(2)
}
