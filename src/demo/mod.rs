//! The coreHTTP mutual-authentication demo, as a FreeRTOS task.
//!
//! Each cycle: connect with TLS (retrying transient failures with exponential backoff and
//! full jitter, the delay really slept), `POST /topics/<topic>?qos=N` with a JSON body, check
//! that the status is 2xx, disconnect with close_notify, and note the free heap. A cycle that
//! fails is tried again up to [`DemoConfig::attempts`] times, unless the failure cannot pass
//! by itself (authentication, configuration). At the end the free heap and the minimum ever
//! free heap are reported.

//!
//! Portable: the board starts the network card and the stack ([`network_config`] gives the
//! demo's settings), reads the credentials, and runs [`run`] as its application task.

pub mod config;
mod report;

use core::time::Duration;

use alloc::format;
use alloc::string::{String, ToString};
use iot_backoff::{Backoff, BackoffPolicy, EntropySource, NextDelay};
use iot_http::{Config as HttpConfig, HttpClient, Method, PathBuilder, RequestBuilder};

pub use config::{ConfigError, DemoConfig, USAGE};
pub use report::{DemoReport, Timings};

use crate::board;
use crate::net::{Connection, NetConfig, TcpIpStack, TcpOptions, TcpTransport};
use crate::rtos::heap::HeapStats;
use crate::rtos::time::{self, Instant};
use crate::tls::{Credentials, Endpoint, TlsConfig, TlsTransport};

/// How long to wait for DHCP.
const NETWORK_UP_TIMEOUT: Duration = Duration::from_secs(10);
/// Response buffer: AWS IoT's answers are a few hundred bytes.
const RESPONSE_BUFFER: usize = 2048;

/// The FreeRTOS tick count as the HTTP client's clock.
pub struct KernelClock;

impl iot_http::Clock for KernelClock {
    fn now(&self) -> Duration {
        time::tick_count().as_duration()
    }
}

/// Backoff jitter from the board's entropy source (never a seeded generator).
struct BoardEntropy;

impl EntropySource for BoardEntropy {
    type Error = board::EntropyError;

    fn next_u32(&mut self) -> Result<u32, board::EntropyError> {
        board::random_u32()
    }
}

/// The network settings the demo runs with. One connection at a time, a small request and a
/// small answer: one socket with small buffers (Mbed TLS holds whole records anyway). A 2 KiB
/// window costs a few extra round trips while a distant server sends its certificate chain,
/// and saves 13 KiB of heap.
pub fn network_config() -> NetConfig {
    NetConfig {
        max_sockets: 1,
        tcp_rx_buffer: 2 * 1024,
        tcp_tx_buffer: 1024,
        ..NetConfig::default()
    }
}

/// The connection a cycle runs over: TLS over the stack's TCP socket.
type Tls<S> = TlsTransport<TcpTransport<<S as TcpIpStack>::Socket>>;

/// What every cycle works with.
struct Session<'a, S: TcpIpStack> {
    stack: &'static S,
    endpoint: Endpoint,
    server_name: &'a str,
    config: &'a DemoConfig,
    credentials: &'a Credentials,
}

/// Why a cycle failed, and whether another try can help.
struct CycleError {
    message: String,
    retryable: bool,
    http_status: Option<u16>,
}

/// Runs the demo on the calling task over `stack` (started by the board, see
/// [`network_config`]): waits for the network, then runs the cycles. `started` is when the
/// board began (for the `network_up` timing).
pub fn run<S: TcpIpStack>(
    stack: &'static S,
    started: Instant,
    config: &DemoConfig,
    server_name: &str,
    credentials: &Credentials,
) -> DemoReport {
    let mut report = DemoReport::new(config.iterations, stack.name());
    log::info!("Waiting for the network (DHCP)...");
    let Some(settings) = stack.wait_until_up(NETWORK_UP_TIMEOUT) else {
        return report.failed("the network did not come up within 10 s (no DHCP answer)".into());
    };
    report.timings.network_up = started.elapsed();
    log::info!("Network up: device address {}.", settings.address);
    let address = match stack.resolve(server_name, config.timeout) {
        Ok(address) => address,
        Err(error) => return report.failed(format!("cannot resolve {server_name}: {error}")),
    };
    let session = Session {
        stack,
        endpoint: Endpoint {
            address,
            port: config.port,
        },
        server_name,
        config,
        credentials,
    };
    for iteration in 1..=config.iterations {
        if let Err(error) = session.run_cycle_with_attempts(&mut report) {
            report.http_status = error.http_status.or(report.http_status);
            report.timings.total = started.elapsed();
            return report.failed(format!("iteration {iteration}: {}", error.message));
        }
        report.iterations_done = iteration;
        let heap = settled_heap(stack);
        report.heap_free_per_iteration.push(heap.free);
        log::info!(
            "Iteration {iteration} of {} done; free heap {} B.",
            config.iterations,
            heap.free
        );
    }
    report.timings.total = started.elapsed();
    report.succeeded()
}

/// Free heap once the closed connection's socket has been freed (after the peer's FIN).
fn settled_heap<S: TcpIpStack>(stack: &'static S) -> HeapStats {
    let start = Instant::now();
    while stack.tcp_sockets_in_use() > 0 && start.elapsed() < Duration::from_secs(2) {
        time::delay(Duration::from_millis(2));
    }
    HeapStats::now()
}

impl<S: TcpIpStack> Session<'_, S> {
    fn run_cycle_with_attempts(&self, report: &mut DemoReport) -> Result<(), CycleError> {
        let config = self.config;
        let mut attempt = 1;
        loop {
            match self.run_cycle(report) {
                Ok(()) => return Ok(()),
                Err(error) if !error.retryable || attempt >= config.attempts => return Err(error),
                Err(error) => {
                    log::warn!(
                        "Demo attempt {attempt} of {} failed: {}. Retrying in {} ms.",
                        config.attempts,
                        error.message,
                        config.retry_delay.as_millis()
                    );
                    time::delay(config.retry_delay);
                    attempt += 1;
                }
            }
        }
    }

    /// One connect → POST → disconnect.
    fn run_cycle(&self, report: &mut DemoReport) -> Result<(), CycleError> {
        let (server_name, config) = (self.server_name, self.config);
        log::info!(
            "Establishing a mutually authenticated TLS connection to {server_name}:{}.",
            config.port
        );
        let mut transport = self.connect_with_backoff()?;
        let timings = transport.timings();
        report.timings.connect = timings.tcp_connect;
        report.timings.handshake = timings.tls_handshake;
        if report.tls_version.is_empty() {
            report.tls_version = transport.version();
            report.tls_cipher = transport.cipher_suite();
        }
        let request_started = Instant::now();
        let status = post(&mut transport, server_name, config);
        report.timings.request = request_started.elapsed();
        let disconnect_started = Instant::now();
        transport.close();
        report.timings.disconnect = disconnect_started.elapsed();
        let status = status?;
        report.http_status = Some(status);
        Ok(())
    }

    fn connect_with_backoff(&self) -> Result<Tls<S>, CycleError> {
        let (stack, endpoint, server_name, config, credentials) = (
            self.stack,
            self.endpoint,
            self.server_name,
            self.config,
            self.credentials,
        );
        let mut tls = TlsConfig::new(server_name).with_alpn(config.alpn());
        tls.send_sni = config.sni;
        tls.handshake_timeout = config.timeout;
        let options = TcpOptions {
            connect_timeout: config.timeout,
            ..TcpOptions::default()
        };
        let mut backoff = Backoff::new(BackoffPolicy::DEFAULT);
        loop {
            let error = match TlsTransport::connect(stack, endpoint, &tls, credentials, options) {
                Ok(transport) => return Ok(transport),
                Err(error) => error,
            };
            if !error.is_retryable() {
                return Err(CycleError {
                    message: error.to_string(),
                    retryable: false,
                    http_status: None,
                });
            }
            match backoff.next_delay(&mut BoardEntropy) {
                Ok(NextDelay::Retry(delay)) => {
                    log::warn!(
                        "Connection to the server failed: {error}. Retrying connection after {} ms backoff.",
                        delay.as_millis()
                    );
                    time::delay(delay);
                }
                Ok(NextDelay::Exhausted) => {
                    return Err(CycleError {
                        message: format!("{error} (connection retries exhausted)"),
                        retryable: true,
                        http_status: None,
                    });
                }
                Err(board::EntropyError) => {
                    return Err(CycleError {
                        message: format!("{error} (no entropy for the backoff)"),
                        retryable: false,
                        http_status: None,
                    });
                }
            }
        }
    }
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Sends the publish and returns the 2xx status, or why not.
fn post<T: Connection>(
    transport: &mut TlsTransport<T>,
    server_name: &str,
    config: &DemoConfig,
) -> Result<u16, CycleError> {
    let failure = |message: String, retryable: bool| CycleError {
        message,
        retryable,
        http_status: None,
    };
    let mut path_buffer = [0u8; 512];
    let mut path = PathBuilder::new(&mut path_buffer);
    path.literal("/topics/")
        .and_then(|path| path.segment(&config.topic))
        .and_then(|path| path.literal(if config.qos == 0 { "?qos=0" } else { "?qos=1" }))
        .map_err(|error| failure(format!("the topic cannot be put in a path: {error}"), false))?;
    let mut head = [0u8; 1024];
    let body = config.message.as_bytes();
    let request = RequestBuilder::new(&mut head, Method::Post, path.as_str(), server_name)
        .and_then(|mut builder| {
            builder.user_agent("freertos-https/0.1")?;
            builder.header("Content-Type", "application/json")?;
            builder.finish_for_body(body)
        })
        .map_err(|error| failure(format!("cannot build the request: {error}"), false))?;
    log::info!(
        "Sending HTTP POST request to {server_name}{}...",
        path.as_str()
    );
    let mut client: HttpClient<_, _> =
        HttpClient::new(transport, KernelClock, HttpConfig::default());
    let mut buffer = [0u8; RESPONSE_BUFFER];
    let response = client.send(&request, body, &mut buffer).map_err(|error| {
        let retryable = error.is_retryable();
        failure(format!("HTTP exchange failed: {error}"), retryable)
    })?;
    let status = response.head.status().as_u16();
    let excerpt: String = String::from_utf8_lossy(response.body)
        .chars()
        .take(200)
        .collect();
    log::info!(
        "Received HTTP response from {server_name}{}: status {status}, body: {excerpt}",
        path.as_str()
    );
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(CycleError {
            message: format!(
                "the server answered {status} {}: {excerpt}",
                response.head.reason()
            ),
            retryable: is_retryable_status(status),
            http_status: Some(status),
        })
    }
}
