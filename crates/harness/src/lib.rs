//! Self-test and benchmark harnesses for the device library, on the simulators (POSIX; the
//! Windows one runs `rtos-selftest`'s portable scenarios). Not product binaries.
//!
//! What the self-test binaries share: choosing a scenario from the command line and running
//! it as the application task (one scenario per process, since the scheduler is a
//! process-wide singleton), reporting `PASS <name> <details>` or `FAIL <name>: <why>`.

use std::process::ExitCode;

use freertos_https::rtos::console::{self, Stream};
use freertos_https::rtos::task::Priority;
use freertos_https::rtos::{log as rtos_log, scheduler};
use log::LevelFilter;

/// What a scenario returns: details to print on success, or why it failed.
pub type Outcome = Result<String, String>;

/// A named scenario taking a context made before the scheduler starts.
pub type Scenario<C> = (&'static str, fn(C) -> Outcome);

/// Fails with `why()` unless `condition` holds.
pub fn check(condition: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(why()) }
}

/// The `main` of a self-test binary: `<program> <scenario>` or `<program> --list`. `setup`
/// runs in `main` before the kernel starts (to start simulated hardware, say); the scenario
/// then runs as the application task at `app_priority` with what `setup` made.
pub fn run<C: Send + 'static>(
    program: &str,
    scenarios: &'static [Scenario<C>],
    app_priority: u8,
    setup: impl FnOnce() -> Result<C, String>,
) -> ExitCode {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: {program} <scenario> | --list");
        return ExitCode::from(2);
    };
    if name == "--list" {
        scenarios.iter().for_each(|(name, _)| println!("{name}"));
        return ExitCode::SUCCESS;
    }
    let Some(&(_, scenario)) = scenarios.iter().find(|(known, _)| *known == name) else {
        eprintln!("error: unknown scenario {name:?}; try --list");
        return ExitCode::from(2);
    };
    let level = freertos_https::board::hosted::level_from_env(LevelFilter::Info)
        .unwrap_or(LevelFilter::Info);
    if let Err(error) = rtos_log::init(level, Stream::Stdout) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    let context = match setup() {
        Ok(context) => context,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let priority = Priority::new(app_priority).expect("a valid application priority");
    let result = scheduler::run_application(priority, move || match scenario(context) {
        Ok(details) => {
            console::write_line(Stream::Stdout, format_args!("PASS {name} {details}"));
            0
        }
        Err(why) => {
            console::write_line(Stream::Stdout, format_args!("FAIL {name}: {why}"));
            1
        }
    });
    match result {
        Ok(status) => ExitCode::from(u8::try_from(status).unwrap_or(1)),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
