//! A [`log`] backend for tasks and host threads that cannot deadlock.
//!
//! Each record becomes one line, written by [`super::console::write_line`] without any lock: a
//! task pre-empted in the middle of logging holds nothing that another task needs. Lines look like
//!
//! ```text
//! [    0.012345] INFO  [app] freertos_https::demo: Connecting to 10.0.2.2:8443
//! ```
//!
//! with the seconds since the board started ([`Instant`]), the level, the task's name (`host`
//! for host threads) and the record's target.

use core::sync::atomic::{AtomicBool, Ordering};

use alloc::borrow::ToOwned;
use alloc::string::String;
use log::{LevelFilter, Log, Metadata, Record};

use super::console::{self, Stream};
use super::task;
use super::time::Instant;

/// Environment variable a simulator reads for the level (a board takes it at build time).
pub const LEVEL_ENV: &str = "FREERTOS_HTTPS_LOG";

struct ConsoleLogger {
    /// Lines go to [`Stream::Stderr`] when set, [`Stream::Stdout`] otherwise.
    to_stderr: AtomicBool,
}

static LOGGER: ConsoleLogger = ConsoleLogger {
    to_stderr: AtomicBool::new(false),
};

/// Installs the logger, writing to `stream` at `level` and above. Call once, from `main`,
/// before the scheduler starts.
pub fn init(level: LevelFilter, stream: Stream) -> Result<(), log::SetLoggerError> {
    LOGGER
        .to_stderr
        .store(stream == Stream::Stderr, Ordering::Relaxed);
    log::set_logger(&LOGGER)?;
    log::set_max_level(level);
    Ok(())
}

/// Parses a level name: `off`, `error`, `warn`, `info`, `debug` or `trace` (any case).
pub fn parse_level(text: &str) -> Result<LevelFilter, InvalidLevel> {
    text.trim()
        .parse::<LevelFilter>()
        .map_err(|_| InvalidLevel(text.to_owned()))
}

/// A log level name that is not one of `off`, `error`, `warn`, `info`, `debug`, `trace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLevel(pub String);

impl core::fmt::Display for InvalidLevel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "invalid log level {}: use off, error, warn, info, debug or trace",
            console::Quoted(&self.0)
        )
    }
}

impl core::error::Error for InvalidLevel {}

impl Log for ConsoleLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let elapsed = Instant::now().since_start();
        let stream = if self.to_stderr.load(Ordering::Relaxed) {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        console::write_line(
            stream,
            format_args!(
                "[{:>5}.{:06}] {:<5} [{}] {}: {}",
                elapsed.as_secs(),
                elapsed.subsec_micros(),
                record.level(),
                task::current_name(),
                record.target(),
                record.args()
            ),
        );
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    #[test]
    fn level_names_parse_in_any_case() {
        assert_eq!(parse_level("INFO"), Ok(LevelFilter::Info));
        assert_eq!(parse_level(" debug "), Ok(LevelFilter::Debug));
        assert_eq!(parse_level("off"), Ok(LevelFilter::Off));
    }

    #[test]
    fn unknown_level_names_are_errors() {
        let error = parse_level("loud").unwrap_err();
        assert!(error.to_string().contains("\"loud\""));
    }
}
