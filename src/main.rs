//! `http-mutual-auth-demo`: the coreHTTP mutual-authentication demo on the FreeRTOS kernel.
//!
//! `main` is the simulated board: it reads the configuration, starts the bundled endpoint when
//! no `--endpoint` is given, reads the credentials, starts the simulated network card
//! (libslirp), then boots the kernel with the demo as its application task. Exit status: 0 when
//! every cycle succeeded, 1 when the demo failed, 2 for a configuration error.

use std::process::ExitCode;

use freertos_https::demo::{self, DemoConfig, USAGE};
use freertos_https::link;
use freertos_https::rtos::console::{self, Stream};
use freertos_https::rtos::task::Priority;
use freertos_https::rtos::{host_thread, log as rtos_log, scheduler};
use freertos_https::tls::Credentials;
use iot_server::certs;

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

fn main() -> ExitCode {
    let mut config =
        match DemoConfig::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
            Ok(config) => config,
            Err(demo::ConfigError::HelpRequested) => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            Err(error) => return usage_error(&error.to_string()),
        };
    let level = match rtos_log::parse_level(&config.log_level) {
        Ok(level) => level,
        Err(error) => return usage_error(&error.to_string()),
    };
    if let Err(error) = rtos_log::init(level, Stream::Stdout) {
        eprintln!("error: cannot install the logger: {error}");
        return ExitCode::FAILURE;
    }
    // Host threads started from here on (the endpoint's) inherit this mask.
    host_thread::block_kernel_signals();
    let target = match prepare_target(&mut config) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let link = match link::slirp::start(LINK_INTERRUPT) {
        Ok(link) => link,
        Err(error) => {
            eprintln!("error: cannot start the simulated network: {error}");
            return ExitCode::FAILURE;
        }
    };
    let json = config.json;
    let outcome = std::sync::Arc::new(std::sync::Mutex::new(None));
    let result = outcome.clone();
    let priority = Priority::new(DEMO_PRIORITY).expect("the kernel has at least 3 priority levels");
    let started = scheduler::run_application(priority, move || {
        let report = demo::run(link, &config, &target.server_name, &target.credentials);
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
    match (started, report) {
        (Ok(status), Some(report)) => {
            if json {
                console::write_text_line(Stream::Stdout, &report.to_json());
            }
            ExitCode::from(u8::try_from(status).unwrap_or(1))
        }
        (Err(error), _) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
        (Ok(_), None) => ExitCode::FAILURE,
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}\n\n{USAGE}");
    ExitCode::from(2)
}

/// The server and credentials: the user's, or the bundled endpoint's (started here, with
/// certificates generated into `--certs-dir` on first use).
fn prepare_target(config: &mut DemoConfig) -> Result<Target, String> {
    if let Some(endpoint) = config.endpoint.clone() {
        let file = |path: &Option<std::path::PathBuf>| path.clone().unwrap_or_default();
        let credentials = Credentials::from_files(
            &file(&config.root_ca),
            &file(&config.client_cert),
            &file(&config.client_key),
            config.key_passphrase.as_deref(),
        )
        .map_err(|error| error.to_string())?;
        return Ok(Target {
            server_name: endpoint,
            credentials,
            _endpoint: None,
        });
    }
    let paths = certs::ensure_in(&config.certs_dir)
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
        config.certs_dir.display()
    );
    let credentials =
        Credentials::from_files(&paths.ca_cert, &paths.device_cert, &paths.device_key, None)
            .map_err(|error| error.to_string())?;
    Ok(Target {
        server_name: "localhost".into(),
        credentials,
        _endpoint: Some(endpoint),
    })
}
