//! `iot-server`: the bundled AWS-IoT-like mTLS endpoint, on its own.
//!
//! ```text
//! iot-server [serve] [--port N] [--bind ADDR] [--certs DIR] [--behaviour NAME] [--tickets N]
//!            [--tls-versions both|1.2|1.3] [--resumption cache|tickets|reject|off]
//!            [--close-after N[,silent]]
//! iot-server gen-certs [--dir DIR] [--device-key rsa|ec]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use iot_server::certs::{self, DeviceKey};
use iot_server::faults::BEHAVIOUR_NAMES;
use iot_server::{Behaviour, CloseAfter, EndpointConfig, SessionResumption, TlsVersions, start};

const USAGE: &str = "usage:
  iot-server [serve] [--port N] [--bind ADDR] [--certs DIR]   serve on ADDR:N (default 127.0.0.1:8443),
                                                            certificates from DIR (default certs/,
                                                            generated there on first run)
        [--behaviour NAME]                                  answer publishes like this, to test a
                                                            client (default normal; list in --help)
        [--tickets N]                                       TLS 1.3 session tickets after each
                                                            handshake (default 2)
        [--tls-versions both|1.2|1.3]                       TLS versions served (default both)
        [--resumption cache|tickets|reject|off]             session resumption: session cache
                                                            (default), stateless tickets, tickets
                                                            issued but refused, or none
        [--close-after N[,silent]]                          end each connection after N requests
                                                            (Connection: close; silent: without
                                                            saying so), to test connection reuse
  iot-server gen-certs [--dir DIR] [--device-key rsa|ec]    (re)generate the CA, server and device
                                                            certificates (default certs/, ec)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("-h" | "--help") => {
            println!("{USAGE}\n\nbehaviours: {BEHAVIOUR_NAMES}");
            return ExitCode::SUCCESS;
        }
        Some("gen-certs") => gen_certs(&args[1..]),
        Some("serve") => serve(&args[1..]),
        _ => serve(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// `--name value` pairs.
fn options<'a>(args: &'a [String], known: &[&str]) -> Result<Vec<(&'a str, &'a str)>, String> {
    let mut pairs = Vec::new();
    let mut rest = args.iter();
    while let Some(name) = rest.next() {
        if !known.contains(&name.as_str()) {
            return Err(format!("unknown argument {name:?}"));
        }
        let value = rest.next().ok_or_else(|| format!("{name} needs a value"))?;
        pairs.push((name.as_str(), value.as_str()));
    }
    Ok(pairs)
}

fn gen_certs(args: &[String]) -> Result<(), String> {
    let mut dir = PathBuf::from("certs");
    let mut key = DeviceKey::P256;
    for (name, value) in options(args, &["--dir", "--device-key"])? {
        match name {
            "--dir" => dir = PathBuf::from(value),
            _ => {
                key = match value {
                    "rsa" => DeviceKey::Rsa2048,
                    "ec" => DeviceKey::P256,
                    other => return Err(format!("--device-key must be rsa or ec, not {other:?}")),
                }
            }
        }
    }
    let paths = certs::generate_into(&dir, key).map_err(|error| error.to_string())?;
    println!(
        "wrote {}, {}, {} (keys with mode 0600)",
        paths.ca_cert.display(),
        paths.server_cert.display(),
        paths.device_cert.display()
    );
    Ok(())
}

fn serve(args: &[String]) -> Result<(), String> {
    let mut port = 8443u16;
    let mut bind = "127.0.0.1".to_owned();
    let mut dir = PathBuf::from("certs");
    let mut behaviour = Behaviour::Normal;
    let mut tickets = None;
    let mut versions = TlsVersions::Both;
    let mut resumption = SessionResumption::Cache;
    // -- reuse: end connections after N requests (test knob).
    let mut close_after = None;
    let known = [
        "--port",
        "--bind",
        "--certs",
        "--behaviour",
        "--tickets",
        "--tls-versions",
        "--resumption",
        "--close-after",
    ];
    for (name, value) in options(args, &known)? {
        match name {
            "--tls-versions" => {
                versions = match value {
                    "both" => TlsVersions::Both,
                    "1.2" => TlsVersions::Tls12Only,
                    "1.3" => TlsVersions::Tls13Only,
                    other => {
                        return Err(format!(
                            "--tls-versions must be both, 1.2 or 1.3, not {other:?}"
                        ));
                    }
                }
            }
            "--resumption" => {
                resumption = match value {
                    "cache" => SessionResumption::Cache,
                    "tickets" => SessionResumption::Tickets { lifetime_s: 7200 },
                    "reject" => SessionResumption::IssueButReject,
                    "off" => SessionResumption::Off,
                    other => {
                        return Err(format!(
                            "--resumption must be cache, tickets, reject or off, not {other:?}"
                        ));
                    }
                }
            }
            "--behaviour" => {
                behaviour = value
                    .parse()
                    .map_err(|error| format!("--behaviour: {error}"))?
            }
            "--tickets" => {
                tickets = Some(
                    value
                        .parse::<usize>()
                        .map_err(|_| format!("--tickets: {value:?} is not a count of tickets"))?,
                )
            }
            "--port" => {
                port = value
                    .parse()
                    .map_err(|_| format!("--port: {value:?} is not a port number"))?
            }
            "--bind" => bind = value.to_owned(),
            "--close-after" => {
                close_after = Some(CloseAfter::parse(value).ok_or_else(|| {
                    format!("--close-after: {value:?} is not N or N,silent (N at least 1)")
                })?)
            }
            _ => dir = PathBuf::from(value),
        }
    }
    init_logging();
    let paths = certs::ensure_in(&dir).map_err(|error| error.to_string())?;
    let mut config =
        EndpointConfig::new(&paths.server_cert, &paths.server_key, &paths.ca_cert, port);
    config.behaviour = behaviour;
    config.versions = versions;
    config.resumption = resumption;
    if let Some(tickets) = tickets {
        config.tls13_tickets = tickets;
    }
    config.close_after = close_after;
    config.bind = format!("{bind}:{port}")
        .parse::<SocketAddr>()
        .map_err(|_| format!("--bind: {bind:?} is not an IP address"))?;
    let endpoint = start(config).map_err(|error| error.to_string())?;
    if behaviour != Behaviour::Normal {
        println!("iot-server: answering every publish with the test behaviour {behaviour:?}");
    }
    println!(
        "iot-server: listening on https://{} ; trust {} ; device credentials {} and {}",
        endpoint.local_addr(),
        paths.ca_cert.display(),
        paths.device_cert.display(),
        paths.device_key.display()
    );
    loop {
        std::thread::park();
    }
}

/// Logs to stderr at info level.
fn init_logging() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Info
        }
        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                eprintln!("{} {}", record.level(), record.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
}
