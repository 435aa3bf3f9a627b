//! The demo's entry point on the board: the board's side of the application.
//!
//! A board has no command line and no files, so everything is fixed when the image is built:
//!
//! * the settings: the same `IOT_*` variables as the simulator (and `FREERTOS_HTTPS_LOG`),
//!   read by `cargo build` from its environment and given to [`DemoConfig::parse`] as if they
//!   were the device's environment (`IOT_CERTS_DIR`, `IOT_PCAP` and `IOT_SESSION_FILE` mean
//!   nothing here and are not read; TLS sessions are kept in RAM for the run);
//! * the credentials: the files `IOT_ROOT_CA`, `IOT_CLIENT_CERT` and `IOT_CLIENT_KEY` name
//!   (absolute, or relative to the package directory) are embedded in the image by
//!   `include_bytes!` (`build.rs` passes their resolved paths). `IOT_KEY_PASSPHRASE`, if set, is
//!   embedded too.
//!
//! `IOT_ENDPOINT` must be given: there is no bundled endpoint inside a board. `localhost` (and
//! loopback addresses) lead to the machine running QEMU, 10.0.2.2.
//!
//! Exit status, through semihosting: 0 when every cycle succeeded, 1 when the demo failed, 2
//! for a configuration error. With `IOT_JSON=1` the last console line is the JSON report.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};

use super::lan9118::Lan9118;
use crate::board::{self, BoardServices};
use crate::demo::{self, DemoConfig, DemoReport};
use crate::link::LinkCard;
use crate::link::faults::FaultyLink;
use crate::net;
use crate::rtos::console::{self, Stream};
use crate::rtos::log as rtos_log;
use crate::rtos::scheduler;
use crate::rtos::task::Priority;
use crate::rtos::time::Instant;
use crate::tls::Credentials;

/// Priority of the demo task: below the IP task, above idle.
const DEMO_PRIORITY: u8 = 2;
/// The interrupt line of the network card.
const LINK_INTERRUPT: u8 = 0;

/// The credential files named at build time (empty when a variable was not set).
const ROOT_CA: &[u8] = include_bytes!(env!("FREERTOS_HTTPS_ROOT_CA_FILE"));
const CLIENT_CERT: &[u8] = include_bytes!(env!("FREERTOS_HTTPS_CLIENT_CERT_FILE"));
const CLIENT_KEY: &[u8] = include_bytes!(env!("FREERTOS_HTTPS_CLIENT_KEY_FILE"));

/// The device's "environment": the demo's variables as they were when the image was built.
fn build_setting(name: &str) -> Option<String> {
    let value = match name {
        "IOT_ENDPOINT" => option_env!("IOT_ENDPOINT"),
        "IOT_PORT" => option_env!("IOT_PORT"),
        "IOT_ROOT_CA" => option_env!("IOT_ROOT_CA"),
        "IOT_CLIENT_CERT" => option_env!("IOT_CLIENT_CERT"),
        "IOT_CLIENT_KEY" => option_env!("IOT_CLIENT_KEY"),
        "IOT_KEY_PASSPHRASE" => option_env!("IOT_KEY_PASSPHRASE"),
        "IOT_TOPIC" => option_env!("IOT_TOPIC"),
        "IOT_QOS" => option_env!("IOT_QOS"),
        "IOT_MESSAGE" => option_env!("IOT_MESSAGE"),
        "IOT_NO_SNI" => option_env!("IOT_NO_SNI"),
        "IOT_ITERATIONS" => option_env!("IOT_ITERATIONS"),
        "IOT_ATTEMPTS" => option_env!("IOT_ATTEMPTS"),
        "IOT_RETRY_DELAY_MS" => option_env!("IOT_RETRY_DELAY_MS"),
        "IOT_TIMEOUT_MS" => option_env!("IOT_TIMEOUT_MS"),
        "IOT_JSON" => option_env!("IOT_JSON"),
        "IOT_DEADLINE" => option_env!("IOT_DEADLINE"),
        "IOT_ALPN" => option_env!("IOT_ALPN"),
        "IOT_LINK_FAULTS" => option_env!("IOT_LINK_FAULTS"),
        "FREERTOS_HTTPS_LOG" => option_env!("FREERTOS_HTTPS_LOG"),
        // -- publish: the AWS IoT publish API's options (`IOT_USER_PROPERTIES`: one
        // NAME=VALUE a line).
        "IOT_RETAIN" => option_env!("IOT_RETAIN"),
        "IOT_CONTENT_TYPE" => option_env!("IOT_CONTENT_TYPE"),
        "IOT_MESSAGE_EXPIRY" => option_env!("IOT_MESSAGE_EXPIRY"),
        "IOT_RESPONSE_TOPIC" => option_env!("IOT_RESPONSE_TOPIC"),
        "IOT_USER_PROPERTIES" => option_env!("IOT_USER_PROPERTIES"),
        "IOT_PAYLOAD_FORMAT" => option_env!("IOT_PAYLOAD_FORMAT"),
        "IOT_CORRELATION_DATA" => option_env!("IOT_CORRELATION_DATA"),
        // -- resume: the board keeps sessions in RAM (no session file).
        "IOT_NO_RESUME" => option_env!("IOT_NO_RESUME"),
        // -- reuse: publishes per connection.
        "IOT_PUBLISHES" => option_env!("IOT_PUBLISHES"),
        _ => None,
    };
    value.map(ToString::to_string)
}

/// The board's `main` (called by the reset handler): never returns, the board exits with the
/// demo's status.
pub fn main() -> ! {
    let services = board_services();
    let started = Instant::now();
    let config = match DemoConfig::parse(core::iter::empty(), build_setting) {
        Ok(config) => config,
        Err(error) => fail(
            services,
            &format!("{error} (settings are taken at build time)"),
            2,
        ),
    };
    let Some(server_name) = config.endpoint.clone() else {
        fail(
            services,
            "IOT_ENDPOINT is not set: a board has no bundled endpoint; build with \
             IOT_ENDPOINT, IOT_ROOT_CA, IOT_CLIENT_CERT and IOT_CLIENT_KEY",
            2,
        )
    };
    let level = match rtos_log::parse_level(&config.log_level) {
        Ok(level) => level,
        Err(error) => fail(services, &error.to_string(), 2),
    };
    if let Err(error) = rtos_log::init(level, Stream::Stdout) {
        fail(services, &format!("cannot install the logger: {error}"), 1);
    }
    let credentials = Credentials::from_static(
        ROOT_CA,
        CLIENT_CERT,
        CLIENT_KEY,
        config.key_passphrase.as_deref(),
    );
    let card = match Lan9118::start(demo::network_config().mac, LINK_INTERRUPT) {
        Ok(card) => card,
        Err(error) => fail(services, &error.to_string(), 1),
    };
    // IOT_LINK_FAULTS: the same flaky link as on the simulator, around the board's NIC.
    let card: Box<dyn LinkCard> = match config.link_faults {
        Some(spec) => {
            log::info!("Link faults on: {spec}.");
            Box::new(FaultyLink::new(card, spec))
        }
        None => Box::new(card),
    };
    let priority = Priority::new(DEMO_PRIORITY).expect("the kernel has at least 3 priority levels");
    // Boxed, so that the task's body holds a pointer to the settings rather than moving its
    // own copy of them (~0.4 KB) onto the demo task's stack, under the whole run.
    let config = Box::new(config);
    let ran = scheduler::run_application(priority, move || {
        let mut report = match net::start(card, demo::network_config()) {
            Ok(stack) => {
                let report = demo::run(stack, started, &config, &server_name, &credentials);
                let frames = stack.link_counters();
                log::info!(
                    "LAN9118: {} frames received, {} dropped, {} sent.",
                    frames.received,
                    frames.dropped,
                    frames.sent
                );
                report
            }
            Err(error) => DemoReport::not_started(
                config.iterations,
                format!("cannot start the network: {error}"),
            ),
        };
        log_stack_use();
        report.app_stack_peak = super::port::current_stack_unused_bytes()
            .map(|unused| super::port::APPLICATION_STACK_BYTES.saturating_sub(unused));
        print_report(&report, config.json);
        i32::from(!report.passed())
    });
    // Only reached if the scheduler could not start.
    match ran {
        Ok(status) => services.exit(status),
        Err(error) => fail(services, &error.to_string(), 1),
    }
}

/// Prints the report's lines and, with `json`, its JSON line. Out of line: the text it builds
/// is on the demo task's stack only once the demo is over, not under its deepest path (the TLS
/// handshake).
#[inline(never)]
fn print_report(report: &DemoReport, json: bool) {
    for line in report.human_lines() {
        console::write_text_line(Stream::Stdout, &line);
    }
    if json {
        console::write_text_line(Stream::Stdout, &report.to_json());
    }
}

/// Logs each task's stack: its size and how much of it was never used (its high-water mark,
/// from the kernel's fill pattern), i.e. the margin the stack sizes leave. The bench script
/// (`scripts/bench-cortex-m.sh`) reads these lines.
fn log_stack_use() {
    let idle_bytes = super::port::idle_stack_bytes();
    #[cfg(not(feature = "freertos-plus-tcp"))]
    let tasks = [
        (c"app", super::port::APPLICATION_STACK_BYTES),
        (c"IP", super::port::IP_TASK_STACK_BYTES),
        (c"IDLE", idle_bytes),
    ];
    // FreeRTOS+TCP's own IP task, and its receive task.
    #[cfg(feature = "freertos-plus-tcp")]
    let tasks = [
        (c"app", super::port::APPLICATION_STACK_BYTES),
        (c"IP-task", super::port::PLUS_TCP_IP_TASK_STACK_BYTES),
        (c"EMAC", super::port::RECEIVE_TASK_STACK_BYTES),
        (c"IDLE", idle_bytes),
    ];
    for (name, size) in tasks {
        if let Some(unused) = super::port::stack_unused_bytes(name) {
            log::info!(
                "Stack of task '{}': {unused} B never used of {size} B (peak {} B).",
                name.to_str().unwrap_or("?"),
                size.saturating_sub(unused)
            );
        }
    }
}

/// Installs the board's services and returns them.
fn board_services() -> &'static dyn BoardServices {
    // Installing can only fail if something installed services before `main`: keep those.
    let _ = board::install(&super::SERVICES);
    board::services()
}

fn fail(services: &dyn BoardServices, message: &str, status: i32) -> ! {
    console::write_line(Stream::Stderr, format_args!("error: {message}"));
    services.exit(status)
}
