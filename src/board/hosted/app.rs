//! The demo's `main` on both simulators (POSIX and Windows): the board's side of the
//! application.
//!
//! It reads the configuration (command line, then environment), starts the bundled endpoint
//! when no `--endpoint` is given, reads the credentials from files, starts the simulated
//! network card (`--card`: libslirp or the gateway, see [`super::card`]; with a pcap tap if
//! asked), then boots the kernel with the portable demo ([`crate::demo::run`]) as its
//! application task. Exit status: 0 when every cycle succeeded, 1 when the demo failed, 2 for
//! a configuration error.

#[allow(unused_imports)]
use std::prelude::rust_2024::*;
#[allow(unused_imports)]
use std::{format, thread_local, vec};

use std::boxed::Box;
use std::path::Path;
use std::process::ExitCode;
use std::string::String;
use std::sync::{Arc, Mutex};

use super::card::CardKind;
use super::files::{PcapFile, read_credentials};
use super::session_file::SessionFile;
use crate::demo::{self, DemoConfig, DemoReport, USAGE};
use crate::link::LinkCard;
use crate::link::faults::FaultyLink;
use crate::link::pcap::PcapTap;
use crate::net;
use crate::rtos::console::{self, Stream};
use crate::rtos::log as rtos_log;
use crate::rtos::scheduler;
use crate::rtos::task::Priority;
use crate::rtos::time::Instant;
use crate::tls::Credentials;

/// Priority of the demo task: below the IP task, above idle.
const DEMO_PRIORITY: u8 = 2;
/// The interrupt line of the simulated network card.
const LINK_INTERRUPT: u8 = 0;

/// What the demo runs against.
struct Target {
    server_name: String,
    credentials: Credentials,
    /// The bundled endpoint, when it is the target; kept running until the demo ends.
    _endpoint: Option<iot_server::RunningEndpoint>,
}

/// The `main` of `http-mutual-auth-demo` on the simulator.
pub fn main() -> ExitCode {
    let started = Instant::now();
    let mut config =
        match DemoConfig::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
            Ok(config) => config,
            Err(demo::ConfigError::HelpRequested) => {
                console::write_text_line(Stream::Stdout, USAGE);
                return ExitCode::SUCCESS;
            }
            Err(error) => return usage_error(&error.to_string()),
        };
    let level = match rtos_log::parse_level(&config.log_level) {
        Ok(level) => level,
        Err(error) => return usage_error(&error.to_string()),
    };
    if let Err(error) = rtos_log::init(level, Stream::Stdout) {
        return error_exit(&format!("cannot install the logger: {error}"), 1);
    }
    let card_kind = match CardKind::parse_or_default(config.card.as_deref()) {
        Ok(kind) => kind,
        Err(error) => return usage_error(&error.to_string()),
    };
    // Host threads started from here on (the endpoint's) inherit this mask.
    #[cfg(board = "posix")]
    super::host_thread::block_kernel_signals();
    let target = match prepare_target(&mut config) {
        Ok(target) => target,
        Err(error) => return error_exit(&error, 2),
    };
    let card = match start_card(card_kind, &config) {
        Ok(card) => card,
        Err(error) => return error_exit(&error, 1),
    };
    let json = config.json;
    // IOT_HEAP_TRACE=FILE: the heap traced from the allocator's hooks, written as CSV.
    // Only the POSIX board has the allocator hooks; elsewhere the variable is refused.
    let heap_trace = std::env::var_os("IOT_HEAP_TRACE").map(std::path::PathBuf::from);
    if heap_trace.is_some() {
        #[cfg(board = "posix")]
        crate::board::posix::heap_trace::enable();
        #[cfg(not(board = "posix"))]
        return error_exit(
            "IOT_HEAP_TRACE: the heap trace exists on the POSIX simulator only",
            2,
        );
    }
    let outcome: Arc<Mutex<Option<DemoReport>>> = Arc::new(Mutex::new(None));
    let result = outcome.clone();
    let priority = Priority::new(DEMO_PRIORITY).expect("the kernel has at least 3 priority levels");
    let ran = scheduler::run_application(priority, move || {
        let report = match net::start(card, demo::network_config()) {
            // -- resume: the session in a file when asked (`--session-file`), else in RAM.
            Ok(stack) => match config.session_file.as_deref().filter(|_| config.resume) {
                Some(path) => {
                    let mut store = SessionFile::new(Path::new(path));
                    demo::run_with_sessions(
                        stack,
                        started,
                        &config,
                        &target.server_name,
                        &target.credentials,
                        Some(&mut store),
                    )
                }
                None => demo::run(
                    stack,
                    started,
                    &config,
                    &target.server_name,
                    &target.credentials,
                ),
            },
            Err(error) => DemoReport::not_started(
                config.iterations,
                format!("cannot start the network: {error}"),
            ),
        };
        // The demo task's real stack: its pthread's, painted when the task started.
        #[cfg(board = "posix")]
        let mut report = report;
        #[cfg(board = "posix")]
        if let Some(peak) = crate::board::posix::stack_paint::current_thread_peak() {
            log::info!("Stack of task 'app': peak {peak} of its host thread's stack (painted).");
            if let crate::board::posix::stack_paint::StackPeak::Bytes(bytes) = peak {
                report.app_stack_peak = Some(bytes);
            }
        }
        let passed = report.passed();
        for line in report.human_lines() {
            console::write_text_line(Stream::Stdout, &line);
        }
        *result
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(report);
        i32::from(!passed)
    });
    let report = outcome
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take();
    #[cfg(board = "posix")]
    if let Some(path) = heap_trace {
        if let Err(error) = crate::board::posix::heap_trace::write_csv(&path) {
            return error_exit(
                &format!("cannot write the heap trace {}: {error}", path.display()),
                1,
            );
        }
    }
    match (ran, report) {
        (Ok(status), Some(report)) => {
            if json {
                console::write_text_line(Stream::Stdout, &report.to_json());
            }
            ExitCode::from(u8::try_from(status).unwrap_or(1))
        }
        (Err(error), _) => error_exit(&error.to_string(), 1),
        (Ok(_), None) => ExitCode::FAILURE,
    }
}

fn usage_error(message: &str) -> ExitCode {
    console::write_line(Stream::Stderr, format_args!("error: {message}\n\n{USAGE}"));
    ExitCode::from(2)
}

fn error_exit(message: &str, status: u8) -> ExitCode {
    console::write_line(Stream::Stderr, format_args!("error: {message}"));
    ExitCode::from(status)
}

/// The chosen card, behind the faults of `--link-faults` and then a pcap tap when `--pcap`
/// asks for one (so the capture shows what the device saw and sent).
fn start_card(kind: CardKind, config: &DemoConfig) -> Result<Box<dyn LinkCard>, String> {
    let card = kind.start(LINK_INTERRUPT).map_err(|error| {
        format!(
            "cannot start the simulated network ({} card): {error}",
            kind.name()
        )
    })?;
    log::debug!("Network card: {}.", kind.name());
    let card: Box<dyn LinkCard> = match config.link_faults {
        Some(spec) => {
            log::info!("Link faults on: {spec}.");
            Box::new(FaultyLink::new(card, spec))
        }
        None => Box::new(card),
    };
    let Some(path) = config.pcap.as_deref() else {
        return Ok(card);
    };
    let file = PcapFile::create(Path::new(path))
        .map_err(|error| format!("cannot create the pcap file {path}: {error}"))?;
    let tap = PcapTap::new(card, Box::new(file))
        .map_err(|error| format!("cannot write the pcap file {path}: {error}"))?;
    Ok(Box::new(tap))
}

/// The server and credentials: the user's, or the bundled endpoint's (started here, with
/// certificates generated into `--certs-dir` on first use).
fn prepare_target(config: &mut DemoConfig) -> Result<Target, String> {
    if let Some(endpoint) = config.endpoint.clone() {
        let file = |path: &Option<String>| path.clone().unwrap_or_default();
        let credentials = read_credentials(
            Path::new(&file(&config.root_ca)),
            Path::new(&file(&config.client_cert)),
            Path::new(&file(&config.client_key)),
            config.key_passphrase.as_deref(),
        )
        .map_err(|error| error.to_string())?;
        return Ok(Target {
            server_name: endpoint,
            credentials,
            _endpoint: None,
        });
    }
    let certs_dir = Path::new(&config.certs_dir);
    let paths = iot_server::certs::ensure_in(certs_dir)
        .map_err(|error| format!("bundled endpoint certificates: {error}"))?;
    let endpoint = iot_server::start(iot_server::EndpointConfig::new(
        &paths.server_cert,
        &paths.server_key,
        &paths.ca_cert,
        0,
    ))
    .map_err(|error| format!("bundled endpoint: {error}"))?;
    config.port = endpoint.port();
    log::info!(
        "Started the bundled AWS-IoT-like endpoint on 127.0.0.1:{} (certificates in {}).",
        config.port,
        config.certs_dir
    );
    let credentials = read_credentials(&paths.ca_cert, &paths.device_cert, &paths.device_key, None)
        .map_err(|error| error.to_string())?;
    Ok(Target {
        server_name: "localhost".into(),
        credentials,
        _endpoint: Some(endpoint),
    })
}
