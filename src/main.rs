//! The device application: boots FreeRTOS and runs the application task.
//!
//! Until the coreHTTP mutual-auth demo lands, the application task reports the kernel and
//! its heap figures, then ends the scheduler so the process exits with the task's status.

use std::process::ExitCode;

use freertos_https::rtos::console::{self, Stream};
use freertos_https::rtos::heap::HeapStats;
use freertos_https::rtos::task::Priority;
use freertos_https::rtos::{log as rtos_log, scheduler, time};
use log::LevelFilter;

const USAGE: &str = "\
usage: http-mutual-auth-demo [--log-level LEVEL]

  --log-level LEVEL   off, error, warn, info (default), debug or trace;
                      the FREERTOS_HTTPS_LOG environment variable sets the default
  -h, --help          this text";

/// Priority of the application task, above the network tasks' clients and below the kernel
/// timer task.
const APPLICATION_PRIORITY: u8 = 2;

struct Options {
    log_level: LevelFilter,
}

fn parse_options(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut log_level =
        rtos_log::level_from_env(LevelFilter::Info).map_err(|error| error.to_string())?;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--log-level" => {
                let value = args.next().ok_or("--log-level needs a value")?;
                log_level = rtos_log::parse_level(&value).map_err(|error| error.to_string())?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(Options { log_level }))
}

fn application() -> i32 {
    log::info!(
        "FreeRTOS kernel running: tick rate {} Hz, highest priority {}",
        time::tick_rate_hz(),
        Priority::max().level()
    );
    let heap = HeapStats::now();
    log::info!("Heap: {heap}");
    console::write_line(
        Stream::Stdout,
        format_args!(
            "Application finished; free heap {} B, minimum ever free heap {} B.",
            heap.free, heap.min_ever_free
        ),
    );
    0
}

fn main() -> ExitCode {
    let options = match parse_options(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = rtos_log::init(options.log_level, Stream::Stdout) {
        eprintln!("error: cannot install the logger: {error}");
        return ExitCode::FAILURE;
    }
    let priority =
        Priority::new(APPLICATION_PRIORITY).expect("the kernel has at least 3 priority levels");
    match scheduler::run_application(priority, application) {
        Ok(status) => ExitCode::from(u8::try_from(status).unwrap_or(1)),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
