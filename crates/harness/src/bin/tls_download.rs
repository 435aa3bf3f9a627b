//! `tls-download`: a large mutual-TLS download through the simulated device, every byte
//! checked, in MB/s.
//!
//! `tls-download --port N --root-ca F --client-cert F --client-key F --path /P --bytes N`
//! GETs `https://localhost:N/P` through the whole device stack (FreeRTOS kernel, smoltcp,
//! slirp, Mbed TLS, the HTTP client's streamed body reader) and checks that the body is
//! `--bytes` long and that each byte is [`expected_byte`] of its offset (the file
//! `scripts/bench-report.sh` writes). Prints one line `bytes seconds MB/s version cipher
//! peak_heap`; exits 1 on any mismatch or failure. Used by `scripts/bench-report.sh`.

use std::process::ExitCode;
use std::sync::{Arc, Mutex as HostMutex};
use std::time::{Duration, Instant};

use freertos_https::board::posix::files::read_credentials;
use freertos_https::board::posix::slirp;
use freertos_https::demo::KernelClock;
use freertos_https::net::{self, NetConfig, TcpOptions};
use freertos_https::rtos::heap::HeapStats;
use freertos_https::rtos::task::Priority;
use freertos_https::rtos::{log as rtos_log, scheduler};
use freertos_https::tls::{Credentials, Endpoint, TlsConfig, TlsTransport};
use iot_http::{BodyFraming, Config as HttpConfig, HttpClient, Method, RequestBuilder};
use log::LevelFilter;

/// The byte at `offset` of the benchmark file: within each 64 KiB block a fixed pattern of
/// the offset in the block, XORed with the block's number, so that a byte lost, repeated or
/// moved by any distance shows.
fn expected_byte(offset: u64) -> u8 {
    let within = offset & 0xffff;
    ((within ^ (within >> 8)) ^ (offset >> 16)) as u8
}

/// What the device measured.
struct Figures {
    bytes: u64,
    seconds: f64,
    version: String,
    cipher: String,
    peak_heap: usize,
}

struct Args {
    port: u16,
    root_ca: String,
    client_cert: String,
    client_key: String,
    path: String,
    bytes: u64,
}

fn parse_args() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|arg| arg == name)
            .and_then(|at| args.get(at + 1))
            .cloned()
            .ok_or_else(|| format!("missing {name} (usage: see the module docs)"))
    };
    Ok(Args {
        port: value("--port")?
            .parse()
            .map_err(|_| "--port: not a port number")?,
        root_ca: value("--root-ca")?,
        client_cert: value("--client-cert")?,
        client_key: value("--client-key")?,
        path: value("--path")?,
        bytes: value("--bytes")?
            .parse()
            .map_err(|_| "--bytes: not a number")?,
    })
}

fn main() -> ExitCode {
    match parse_args().and_then(|args| run(&args)) {
        Ok(figures) => {
            println!(
                "{} {:.3} {:.1} {} {} {}",
                figures.bytes,
                figures.seconds,
                figures.bytes as f64 / figures.seconds / 1e6,
                figures.version,
                figures.cipher,
                figures.peak_heap
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("tls-download: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<Figures, String> {
    rtos_log::init(
        LevelFilter::Warn,
        freertos_https::rtos::console::Stream::Stderr,
    )
    .map_err(|e| e.to_string())?;
    freertos_https::board::posix::host_thread::block_kernel_signals();
    let credentials = read_credentials(
        args.root_ca.as_ref(),
        args.client_cert.as_ref(),
        args.client_key.as_ref(),
        None,
    )
    .map_err(|e| e.to_string())?;
    let link = slirp::start(0).map_err(|e| e.to_string())?;
    let (port, path, bytes) = (args.port, args.path.clone(), args.bytes);
    let outcome = Arc::new(HostMutex::new(None));
    let result = outcome.clone();
    scheduler::run_application(Priority::new(3).expect("valid"), move || {
        let figures = download(link, port, &path, bytes, &credentials);
        let failed = figures.is_err();
        *result
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(figures);
        i32::from(failed)
    })
    .map_err(|e| e.to_string())?;
    outcome
        .lock()
        .map_err(|_| "poisoned")?
        .take()
        .ok_or("the device run did not finish")?
}

fn download(
    link: freertos_https::link::ring::RingCard,
    port: u16,
    path: &str,
    bytes: u64,
    credentials: &Credentials,
) -> Result<Figures, String> {
    let stack = net::start(Box::new(link), NetConfig::default()).map_err(|e| e.to_string())?;
    stack
        .wait_until_up(Duration::from_secs(5))
        .ok_or("no address (DHCP)")?;
    let endpoint = Endpoint {
        address: net::USER_MODE_HOST,
        port,
    };
    let config = TlsConfig::new("localhost");
    let started = Instant::now();
    let transport =
        TlsTransport::connect(stack, endpoint, &config, credentials, TcpOptions::default())
            .map_err(|e| format!("connect: {e}"))?;
    let version = transport.version().to_owned();
    let cipher = transport.cipher_suite().to_owned();
    let mut head = [0u8; 512];
    let request = RequestBuilder::new(&mut head, Method::Get, path, "localhost")
        .and_then(|builder| builder.finish(BodyFraming::NoHeader))
        .map_err(|e| format!("request: {e}"))?;
    let http_config = HttpConfig {
        request_timeout: None,
        ..HttpConfig::DEFAULT
    };
    let mut client: HttpClient<_, _> = HttpClient::new(transport, KernelClock, http_config);
    let mut response_buffer = [0u8; 2048];
    let mut response = client
        .send_streaming(&request, &[], &mut response_buffer)
        .map_err(|e| format!("GET {path}: {e}"))?;
    let status = response.head.status().as_u16();
    if status != 200 {
        return Err(format!("GET {path}: status {status}"));
    }
    let mut offset = 0u64;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let count = response
            .body
            .read(&mut chunk)
            .map_err(|e| format!("body at byte {offset}: {e}"))?;
        if count == 0 {
            break;
        }
        for (index, byte) in chunk[..count].iter().enumerate() {
            let at = offset + index as u64;
            if *byte != expected_byte(at) {
                return Err(format!(
                    "byte {at} is {byte:#04x}, expected {:#04x}",
                    expected_byte(at)
                ));
            }
        }
        offset += count as u64;
    }
    let seconds = started.elapsed().as_secs_f64();
    let (transport, _) = client.into_parts();
    transport.close();
    if offset != bytes {
        return Err(format!("the body had {offset} bytes, expected {bytes}"));
    }
    Ok(Figures {
        bytes: offset,
        seconds,
        version,
        cipher,
        peak_heap: HeapStats::now().peak_used(),
    })
}

#[cfg(test)]
mod tests {
    use super::expected_byte;

    #[test]
    fn the_pattern_changes_from_block_to_block() {
        assert_eq!(expected_byte(0), 0);
        assert_eq!(expected_byte(0x0102), 0x03);
        assert_eq!(expected_byte(0x1_0000), 1);
        assert_ne!(expected_byte(5), expected_byte(5 + 0x1_0000));
    }
}
