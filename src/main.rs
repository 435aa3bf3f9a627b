//! `http-mutual-auth-demo`: the coreHTTP mutual-authentication demo on the FreeRTOS kernel.
//!
//! The application is the portable demo (`freertos_https::demo`); this entry point hands it
//! to the board the target selects. Today that is the POSIX simulator
//! (`freertos_https::board::posix::app`); a board without an operating system gets its entry
//! point from its board module.
#![cfg_attr(board = "none", no_std, no_main)]

#[cfg(board = "posix")]
fn main() -> std::process::ExitCode {
    freertos_https::board::posix::app::main()
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

#[cfg(board = "none")]
compile_error!(
    "this target has no board yet, so there is no application image to build: build the \
     portable core with `cargo build --target thumbv7em-none-eabihf --lib`"
);
