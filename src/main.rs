//! `http-mutual-auth-demo`: the coreHTTP mutual-authentication demo on the FreeRTOS kernel.
//!
//! The application is the portable demo (`freertos_https::demo`); this entry point hands it
//! to the board the target selects. Today that is the POSIX simulator
//! (`freertos_https::board::posix::app`); boards without an operating system get their own
//! entry point in their board module.

fn main() -> std::process::ExitCode {
    freertos_https::board::posix::app::main()
}
