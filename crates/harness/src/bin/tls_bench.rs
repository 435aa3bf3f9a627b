//! `tls-bench`: what one mutual-TLS connection costs the device, side by side with curl.
//!
//! Against the bundled endpoint on 127.0.0.1 (fresh test PKI, RSA-2048 device key), it runs
//! 20 connections (TCP connect, handshake, one publish, close_notify) through the device's
//! stack and records the FreeRTOS heap at its lowest and the handshake times; then it runs
//! curl 20 times with the same credentials against the same endpoint. Appends a Markdown
//! section to the report file given with `--report` (default `target/tls-benchmark.md`).
//! `scripts/bench-tls.sh` runs it with the default and the small record buffers.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, ExitCode};
use std::sync::{Arc, Mutex as HostMutex};
use std::time::{Duration, Instant};

use freertos_https::board::posix::files::read_credentials;
use freertos_https::board::posix::slirp;
use freertos_https::link::ring::RingCard;
use freertos_https::net::{self, DefaultSocket as TcpSocket, NetConfig, TcpOptions, TcpTransport};
use freertos_https::rtos::heap::HeapStats;
use freertos_https::rtos::task::Priority;
use freertos_https::rtos::{log as rtos_log, scheduler};
use freertos_https::tls::{Credentials, Endpoint, TlsConfig, TlsTransport};
use iot_server::certs::{DeviceKey, generate_test_pki};
use iot_server::{EndpointConfig, start};
use iot_transport::{Received, Sent, Transport};
use log::LevelFilter;

const ROUNDS: usize = 20;

/// What the device side measured.
#[derive(Default)]
struct DeviceFigures {
    handshakes_ms: Vec<f64>,
    heap_free_before: usize,
    heap_min_during: usize,
    heap_total: usize,
    version: String,
    cipher: String,
}

/// TLS over the default stack's TCP socket.
type Tls = TlsTransport<TcpTransport<TcpSocket>>;

fn main() -> ExitCode {
    let report = std::env::args()
        .skip_while(|arg| arg != "--report")
        .nth(1)
        .unwrap_or_else(|| "target/tls-benchmark.md".into());
    let label = std::env::args()
        .skip_while(|arg| arg != "--label")
        .nth(1)
        .unwrap_or_else(|| "default record buffers".into());
    match run(&report, &label) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(report: &str, label: &str) -> Result<(), String> {
    rtos_log::init(
        LevelFilter::Warn,
        freertos_https::rtos::console::Stream::Stderr,
    )
    .map_err(|e| e.to_string())?;
    // The endpoint's threads inherit this mask: host threads keep the kernel's signals out.
    freertos_https::board::posix::host_thread::block_kernel_signals();
    let dir = std::env::temp_dir().join(format!("tls-bench-{}", std::process::id()));
    let pki = generate_test_pki(&dir).map_err(|e| e.to_string())?;
    let endpoint = start(EndpointConfig::new(
        &pki.server.0,
        &pki.server.1,
        &pki.ca_cert,
        0,
    ))
    .map_err(|e| e.to_string())?;
    let port = endpoint.port();
    let (device_cert, device_key) = pki.device(DeviceKey::Rsa2048);
    let credentials = read_credentials(&pki.ca_cert, &device_cert, &device_key, None)
        .map_err(|e| e.to_string())?;
    let link = slirp::start(0).map_err(|e| e.to_string())?;
    let figures = Arc::new(HostMutex::new(None));
    let result = figures.clone();
    let status = scheduler::run_application(Priority::new(3).expect("valid"), move || {
        let outcome = measure_device(link, port, &credentials);
        let failed = outcome.is_err();
        *result
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(outcome);
        i32::from(failed)
    })
    .map_err(|e| e.to_string())?;
    let device = figures
        .lock()
        .map_err(|_| "poisoned")?
        .take()
        .ok_or("the device run did not finish")??;
    if status != 0 {
        return Err("the device run failed".into());
    }
    let curl = measure_curl(port, &pki.ca_cert, &device_cert, &device_key);
    let section = render(label, &device, curl.as_ref());
    println!("{section}");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(report)
        .map_err(|e| format!("{report}: {e}"))?;
    file.write_all(section.as_bytes())
        .map_err(|e| format!("{report}: {e}"))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn measure_device(
    link: RingCard,
    port: u16,
    credentials: &Credentials,
) -> Result<DeviceFigures, String> {
    let stack = net::start(Box::new(link), NetConfig::default()).map_err(|e| e.to_string())?;
    stack
        .wait_until_up(Duration::from_secs(5))
        .ok_or("no address")?;
    let endpoint = Endpoint {
        address: net::USER_MODE_HOST,
        port,
    };
    let config = TlsConfig::new("localhost");
    let before = HeapStats::now();
    let mut figures = DeviceFigures {
        heap_free_before: before.free,
        heap_total: before.total,
        ..DeviceFigures::default()
    };
    for _ in 0..ROUNDS {
        let mut transport =
            TlsTransport::connect(stack, endpoint, &config, credentials, TcpOptions::default())
                .map_err(|e| e.to_string())?;
        figures
            .handshakes_ms
            .push(transport.timings().tls_handshake.as_secs_f64() * 1e3);
        figures.version = transport.version().to_owned();
        figures.cipher = transport.cipher_suite().to_owned();
        exchange(&mut transport)?;
        transport.close();
    }
    figures.heap_min_during = HeapStats::now().min_ever_free;
    figures.handshakes_ms.sort_by(f64::total_cmp);
    Ok(figures)
}

/// One publish, read until the JSON body's end.
fn exchange(transport: &mut Tls) -> Result<(), String> {
    let body = r#"{"message":"Hello, world"}"#;
    let request = format!(
        "POST /topics/bench?qos=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut sent = 0;
    while sent < request.len() {
        if let Sent::Bytes(count) = transport
            .send(&request.as_bytes()[sent..])
            .map_err(|e| e.to_string())?
        {
            sent += count;
        }
    }
    let mut reply = Vec::new();
    let mut buffer = [0u8; 1024];
    while !reply.ends_with(b"}") {
        match transport.recv(&mut buffer).map_err(|e| e.to_string())? {
            Received::Data(count) => reply.extend_from_slice(&buffer[..count]),
            other => return Err(format!("reply cut short: {other:?}")),
        }
    }
    if reply.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("reply {}", String::from_utf8_lossy(&reply)))
    }
}

/// Handshake times (ms) of curl with the same credentials, or why curl could not run.
fn measure_curl(
    port: u16,
    ca: &std::path::Path,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Vec<f64>, String> {
    let url = format!("https://localhost:{port}/topics/bench?qos=1");
    let mut times = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let output = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-X",
                "POST",
                "-d",
                r#"{"message":"Hello, world"}"#,
                "-w",
                "%{time_connect} %{time_appconnect}",
                "--cacert",
            ])
            .arg(ca)
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .arg(&url)
            .output()
            .map_err(|e| format!("curl: {e}"))?;
        let _ = started;
        let text = String::from_utf8_lossy(&output.stdout);
        let mut fields = text
            .split_whitespace()
            .filter_map(|field| field.parse::<f64>().ok());
        let (Some(connect), Some(app)) = (fields.next(), fields.next()) else {
            return Err(format!("curl printed {text:?}"));
        };
        times.push((app - connect) * 1e3);
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

fn median(sorted: &[f64]) -> f64 {
    sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN)
}

fn render(label: &str, device: &DeviceFigures, curl: Result<&Vec<f64>, &String>) -> String {
    let mut text = String::new();
    let connection_peak = device
        .heap_free_before
        .saturating_sub(device.heap_min_during);
    let _ = writeln!(text, "\n## {label}\n");
    let _ = writeln!(
        text,
        "{ROUNDS} mutual-TLS connections (RSA-2048 device key, {} {}), each with one publish and close_notify.\n",
        device.version, device.cipher
    );
    let _ = writeln!(text, "| measure | value |\n|---|---|");
    let _ = writeln!(
        text,
        "| FreeRTOS heap used at the peak of one connection (TCP socket buffers included) | {connection_peak} B |"
    );
    let _ = writeln!(
        text,
        "| process peak heap used (total - minimum ever free) | {} B |",
        device.heap_total.saturating_sub(device.heap_min_during)
    );
    let _ = writeln!(
        text,
        "| device TLS handshake, median | {:.2} ms |",
        median(&device.handshakes_ms)
    );
    match curl {
        Ok(times) => {
            let _ = writeln!(
                text,
                "| curl TLS handshake (appconnect - connect), median | {:.2} ms |",
                median(times)
            );
            let _ = writeln!(
                text,
                "| device / curl | {:.2}x |",
                median(&device.handshakes_ms) / median(times)
            );
        }
        Err(error) => {
            let _ = writeln!(text, "| curl | not measured: {error} |");
        }
    }
    text
}
