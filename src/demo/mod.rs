//! The coreHTTP mutual-authentication demo, as a FreeRTOS task.
//!
//! Each cycle: connect with TLS (retrying transient failures with exponential backoff and
//! full jitter, the delay really slept), `POST /topics/<topic>?qos=N` with a JSON body, check
//! that the status is 2xx (`--publishes N` times over the one connection, reconnecting when
//! the server ends it: see `Session::run_cycle`), disconnect with close_notify, and note the
//! free heap. A cycle that fails is tried again up to [`DemoConfig::attempts`] times, unless
//! the failure cannot pass by itself (authentication, configuration). At the end the free heap
//! and the minimum ever free heap are reported.

//!
//! Portable: the board starts the network card and the stack ([`network_config`] gives the
//! demo's settings), reads the credentials, and runs [`run`] as its application task.

pub mod config;
mod report;

use core::cell::{Cell, RefCell};
use core::fmt::{self, Write as _};
use core::time::Duration;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use iot_backoff::{Backoff, BackoffPolicy, EntropySource, NextDelay};
use iot_http::{Config as HttpConfig, ConnectionOutcome, HttpClient};
use iot_publish::{PublishOutcome, Retry};

pub use config::{ConfigError, DemoConfig, USAGE};
pub use report::{DemoReport, PUBLISH_FIGURES, PublishFigure, PublishTotals, Timings};

use crate::board;
use crate::net::{Connection, NetConfig, TcpIpStack, TcpOptions, TcpTransport};
use crate::rtos::console::LineBuffer;
use crate::rtos::heap::{self, HeapPhase, HeapStats};
use crate::rtos::time::{self, Instant};
use crate::tls::{
    Credentials, Endpoint, IdleState, RamSessionStore, Resumption, SessionKey, SessionStore,
    TlsConfig, TlsTransport,
};

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

/// The bound on the whole run (`--deadline`): every wait is cut to what is left of it. It
/// runs on the board's uptime clock, so that it is wall-clock time on the simulator too
/// (where kernel ticks run slow under load).
struct RunDeadline {
    end: Instant,
    length: Duration,
}

impl RunDeadline {
    fn starting_now(length: Duration) -> RunDeadline {
        RunDeadline {
            end: Instant::now() + length,
            length,
        }
    }

    /// `wait`, or what is left of the run if that is less; `None` once the run is over.
    fn bound(&self, wait: Duration) -> Option<Duration> {
        let now = Instant::now();
        if now >= self.end {
            return None;
        }
        Some(wait.min(self.end.duration_since(now).max(Duration::from_millis(1))))
    }

    /// The failure once the run is over: `failure`'s text, what went wrong last, is reworded
    /// to say so.
    fn exceeded(&self, failure: &FailureText) -> CycleError {
        let seconds = self.length.as_secs();
        failure.reword(|last, text| {
            let _ = write!(
                text,
                "the run's deadline of {seconds} s passed; last error: {last}"
            );
        });
        CycleError {
            retryable: false,
            http_status: None,
        }
    }

    /// As [`exceeded`](Self::exceeded), with `cause` as what went wrong last.
    fn exceeded_after(&self, failure: &FailureText, cause: &str) -> CycleError {
        failure.set(format_args!("{cause}"));
        self.exceeded(failure)
    }
}

/// What every cycle works with.
struct Session<'a, S: TcpIpStack> {
    stack: &'static S,
    deadline: &'a RunDeadline,
    endpoint: Endpoint,
    server_name: &'a str,
    config: &'a DemoConfig,
    credentials: &'a Credentials,
    /// The text of the latest failure.
    failure: &'a FailureText,
    /// Where TLS sessions are kept between connections; `None` with `--no-resume`.
    sessions: RefCell<Option<&'a mut dyn SessionStore>>,
    /// Whether the last connection resumed a session.
    resumed: Cell<bool>,
}

// -- reuse: publishes per connection.
/// How far a cycle's publishes got, across its tries.
#[derive(Debug, Default)]
struct Progress {
    /// Publishes acknowledged (2xx); the next one sent is `acknowledged + 1`.
    acknowledged: u32,
    /// The next publish's request went out before and got no answer: it may have arrived.
    maybe_delivered: bool,
}

/// Times each publish from the end of the one before (or the start of the cycle): a publish
/// that had to open its connection carries the TCP connect and the TLS handshake.
struct PublishClock {
    since: Instant,
    busy_since: Option<Duration>,
}

impl PublishClock {
    fn start() -> PublishClock {
        PublishClock {
            since: Instant::now(),
            busy_since: board::services().busy_time(),
        }
    }

    /// Wall time and processor time (on boards that count it) since the last lap.
    fn lap(&mut self) -> (Duration, Option<Duration>) {
        let now = Instant::now();
        let busy = board::services().busy_time();
        let lap = (
            now.duration_since(self.since),
            busy.zip(self.busy_since)
                .map(|(now, before)| now.saturating_sub(before)),
        );
        self.since = now;
        self.busy_since = busy;
        lap
    }
}

/// What a publish answered with a 2xx status tells the cycle.
struct Published {
    /// The status.
    status: u16,
    /// The connection cannot carry another request (`Connection: close`, or a body framed
    /// by the end of the connection).
    must_close: bool,
}

/// Why a cycle failed, and whether another try can help. What went wrong is in the run's
/// [`FailureText`], not here, so that an error passed up through the cycle's functions is a
/// few bytes (512-byte texts moved through them took about 2 KB of a board's demo task stack).
#[derive(Debug, Clone, Copy)]
struct CycleError {
    retryable: bool,
    http_status: Option<u16>,
}

/// Longest failure text kept; longer ones are cut (on a character boundary).
const MESSAGE_BYTES: usize = 512;

/// A failure's text, in a fixed buffer.
type Message = LineBuffer<MESSAGE_BYTES>;

/// The text of the run's latest failure, in one fixed buffer allocated when the run starts: a
/// failed attempt allocates nothing to say why, so the heap it leaves behind can be checked to
/// the byte. It describes the [`CycleError`] last made; making one replaces it.
struct FailureText(RefCell<Box<Message>>);

impl FailureText {
    fn new() -> FailureText {
        FailureText(RefCell::new(Box::new(Message::new())))
    }

    /// Replaces the text with `args`.
    fn set(&self, args: fmt::Arguments<'_>) {
        let mut text = self.0.borrow_mut();
        text.clear();
        let _ = text.write_fmt(args);
    }

    /// A failure, described by `args`.
    fn error(
        &self,
        args: fmt::Arguments<'_>,
        retryable: bool,
        http_status: Option<u16>,
    ) -> CycleError {
        self.set(args);
        CycleError {
            retryable,
            http_status,
        }
    }

    /// The text.
    fn get(&self) -> core::cell::Ref<'_, str> {
        core::cell::Ref::map(self.0.borrow(), |text| text.as_str())
    }

    /// Rewrites the text with `write`, which is given the text so far. Out of line, so that
    /// its copy of the text takes stack only while a failure is reworded.
    #[cold]
    #[inline(never)]
    fn reword(&self, write: impl FnOnce(&str, &mut Message)) {
        let mut before = Message::new();
        let _ = before.write_str(&self.get());
        let mut text = self.0.borrow_mut();
        text.clear();
        write(before.as_str(), &mut text);
    }
}

/// Whole milliseconds as a `u64`, for log lines: formatting the `u128` that
/// `Duration::as_millis` gives would link 128-bit formatting (1.4 KB of a board's flash).
fn whole_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Runs the demo on the calling task over `stack` (started by the board, see
/// [`network_config`]): waits for the network, then runs the cycles. `started` is when the
/// board began (for the `network_up` timing). TLS sessions are kept in RAM for the run (unless
/// `config.resume` is off), so that every cycle after the first resumes.
pub fn run<S: TcpIpStack>(
    stack: &'static S,
    started: Instant,
    config: &DemoConfig,
    server_name: &str,
    credentials: &Credentials,
) -> DemoReport {
    let mut ram = RamSessionStore::new();
    let sessions: Option<&mut dyn SessionStore> = if config.resume { Some(&mut ram) } else { None };
    run_with_sessions(stack, started, config, server_name, credentials, sessions)
}

/// As [`run`], with TLS sessions kept in `sessions` (a board's flash, the simulator's file:
/// see [`crate::tls::session`]); `None` resumes nothing.
pub fn run_with_sessions<S: TcpIpStack>(
    stack: &'static S,
    started: Instant,
    config: &DemoConfig,
    server_name: &str,
    credentials: &Credentials,
    sessions: Option<&mut dyn SessionStore>,
) -> DemoReport {
    let mut report = DemoReport::new(config.iterations, stack.name());
    // Allocated before any attempt, and kept for the run.
    let failure = FailureText::new();
    // -- reuse: publishes per connection.
    report.expect_publishes(config.publishes);
    let deadline = RunDeadline::starting_now(config.deadline);
    // Mbed TLS's one-time set-up stays for the program's life: done first, it is not counted
    // against the first attempt.
    if let Err(error) = crate::tls::initialise() {
        return report.failed(format!("cannot set up TLS: {error}"));
    }
    heap::mark_phase(HeapPhase::NetworkUp);
    log::info!("Waiting for the network (DHCP)...");
    let wait = deadline.bound(NETWORK_UP_TIMEOUT).unwrap_or_default();
    let Some(settings) = stack.wait_until_up(wait) else {
        let cause = "the network did not come up (no DHCP answer)";
        if wait < NETWORK_UP_TIMEOUT {
            deadline.exceeded_after(&failure, cause);
            return report.failed(String::from(&*failure.get()));
        }
        return report.failed(format!(
            "the network did not come up within {} s (no DHCP answer)",
            NETWORK_UP_TIMEOUT.as_secs()
        ));
    };
    report.timings.network_up = started.elapsed();
    log::info!("Network up: device address {}.", settings.address);
    let resolved = match deadline.bound(config.timeout) {
        Some(wait) => stack.resolve(server_name, wait),
        None => Err(crate::net::DnsError::TimedOut),
    };
    let address = match resolved {
        Ok(address) => address,
        Err(error) => return report.failed(format!("cannot resolve {server_name}: {error}")),
    };
    let session = Session {
        stack,
        deadline: &deadline,
        endpoint: Endpoint {
            address,
            port: config.port,
        },
        server_name,
        config,
        credentials,
        failure: &failure,
        sessions: RefCell::new(sessions.map(|store| store as &mut dyn SessionStore)),
        resumed: Cell::new(false),
    };
    for iteration in 1..=config.iterations {
        if let Err(error) = session.run_cycle_with_attempts(&mut report) {
            // The status of the exchange that failed, if it got one: never an earlier success's.
            report.http_status = error.http_status;
            report.timings.total = started.elapsed();
            // A closing socket still holds its buffers: the figures are taken once it is gone.
            settled_heap(stack, deadline.bound(SOCKET_SETTLE).unwrap_or_default());
            return report.failed(format!("iteration {iteration}: {}", failure.get()));
        }
        report.iterations_done = iteration;
        report.resumed_per_iteration.push(session.resumed.get());
        report
            .handshake_per_iteration
            .push((report.timings.handshake, report.timings.handshake_busy));
        let heap = settled_heap(stack, deadline.bound(SOCKET_SETTLE).unwrap_or_default());
        report.heap_free_per_iteration.push(heap.free);
        log::info!(
            "Iteration {iteration} of {} done; free heap {} B.",
            config.iterations,
            heap.free
        );
    }
    report.timings.total = started.elapsed();
    heap::mark_phase(HeapPhase::Done);
    report.succeeded()
}

/// Longest wait for a closed socket to be freed before the heap is read.
const SOCKET_SETTLE: Duration = Duration::from_secs(2);

/// Free heap once the closed connection's socket has been freed (after the peer's FIN), or
/// after `wait` at the most.
fn settled_heap<S: TcpIpStack>(stack: &'static S, wait: Duration) -> HeapStats {
    let start = Instant::now();
    while stack.tcp_sockets_in_use() > 0 && start.elapsed() < wait {
        time::delay(Duration::from_millis(2));
    }
    HeapStats::now()
}

impl<S: TcpIpStack> Session<'_, S> {
    fn run_cycle_with_attempts(&self, report: &mut DemoReport) -> Result<(), CycleError> {
        let config = self.config;
        let mut attempt = 1;
        // The pauses between tries: exponential backoff with full jitter from the board's
        // entropy, each drawn from [0, retry_delay * 2^n] (at most 8 x retry_delay), so that
        // devices refused together (429, 500, 503...) do not come back together.
        let mut pauses = Backoff::new(BackoffPolicy {
            base: config.retry_delay,
            max_delay: config.retry_delay.saturating_mul(8),
            max_attempts: None,
        });
        // -- reuse: what the tries of this cycle have had acknowledged so far.
        let mut progress = Progress::default();
        loop {
            let settle = || self.deadline.bound(SOCKET_SETTLE).unwrap_or_default();
            let free_before = settled_heap(self.stack, settle()).free;
            let settled_before = self.stack.tcp_sockets_in_use() == 0;
            let outcome = self.run_cycle(report, &mut progress);
            if outcome.is_err() {
                let free_after = settled_heap(self.stack, settle()).free;
                if settled_before && self.stack.tcp_sockets_in_use() == 0 {
                    let lost = free_before as isize - free_after as isize;
                    if lost != 0 {
                        log::warn!("Attempt {attempt} failed and kept {lost} B of heap.");
                    }
                    report.heap_lost_per_failed_attempt.push(lost);
                } else {
                    // A connection still closing holds its socket's buffers: what it holds is
                    // not lost, and cannot be told apart from a leak until it is gone.
                    log::info!(
                        "Attempt {attempt} failed with a connection still closing; its heap is \
                         not counted."
                    );
                }
            }
            match outcome {
                Ok(()) => return Ok(()),
                Err(error) if !error.retryable || attempt >= config.attempts => return Err(error),
                Err(error) => {
                    let pause = match pauses.next_delay(&mut BoardEntropy) {
                        Ok(NextDelay::Retry(pause)) => pause,
                        // Unlimited retries: never exhausted (attempts bound the loop).
                        Ok(NextDelay::Exhausted) => config.retry_delay,
                        Err(board::EntropyError) => {
                            self.failure.reword(|last, text| {
                                let _ = write!(text, "{last} (no entropy for the backoff)");
                            });
                            return Err(CycleError {
                                retryable: false,
                                http_status: error.http_status,
                            });
                        }
                    };
                    let Some(delay) = self.deadline.bound(pause) else {
                        return Err(self.deadline.exceeded(self.failure));
                    };
                    if delay < pause {
                        // The pause would outlast the run: there is no time for another try.
                        return Err(self.deadline.exceeded(self.failure));
                    }
                    log::warn!(
                        "Demo attempt {attempt} of {} failed: {}. Retrying in {} ms.",
                        config.attempts,
                        self.failure.get(),
                        whole_ms(delay)
                    );
                    time::delay(delay);
                    attempt += 1;
                }
            }
        }
    }

    // -- reuse: one connection carrying `--publishes` publishes (keep-alive).
    /// One connection → `--publishes` POSTs on it → disconnect. When the server ends the
    /// connection between two publishes (it answered `Connection: close`, or its close_notify,
    /// FIN or reset is there before the next request goes out), the cycle reconnects (with
    /// backoff) and goes on with the next publish. A publish that fails on a connection that
    /// had already carried one (a server that closed it while the request was on its way, or
    /// after reading it) is sent again on a new connection: its request may have arrived, so
    /// it may arrive twice (QoS 1 is at-least-once), and the report counts it as re-sent.
    /// Any other failure ends the cycle; `progress` keeps what was acknowledged, so that the
    /// next try of the cycle goes on from there.
    fn run_cycle(
        &self,
        report: &mut DemoReport,
        progress: &mut Progress,
    ) -> Result<(), CycleError> {
        let (server_name, config) = (self.server_name, self.config);
        let publishes = config.publishes;
        let mut clock = PublishClock::start();
        let mut transport = self.open_connection(report)?;
        let mut carried: u32 = 0;
        loop {
            let number = progress.acknowledged + 1;
            let connection = report.connections;
            if publishes > 1 {
                log::info!("Publish {number} of {publishes} on connection {connection}.");
            }
            if progress.maybe_delivered {
                report.publishes_resent += 1;
                log::warn!(
                    "Publish {number} of {publishes} is sent again on connection {connection}: \
                     its earlier request may have arrived (QoS 1 publishes are at-least-once)."
                );
            }
            heap::mark_phase(HeapPhase::HttpRequest);
            let request_started = Instant::now();
            let outcome = match self.deadline.bound(HttpConfig::DEFAULT.send_timeout) {
                Some(_) => post(
                    &mut transport,
                    server_name,
                    config,
                    self.deadline,
                    self.failure,
                ),
                None => Err(self
                    .deadline
                    .exceeded_after(self.failure, "no time left for the request")),
            };
            report.timings.request = request_started.elapsed();
            let published = match outcome {
                Ok(published) => published,
                Err(error) => {
                    // Without an answer, the request may have reached the server.
                    progress.maybe_delivered = error.http_status.is_none();
                    if !lost_on_a_reused_connection(carried, &error) {
                        self.disconnect(transport, report, carried);
                        return Err(error);
                    }
                    log::warn!(
                        "Publish {number} of {publishes} failed on connection {connection}, \
                         which had carried {carried}: {}. Reconnecting.",
                        self.failure.get()
                    );
                    self.disconnect(transport, report, carried);
                    transport = self.reopen_connection(report, None)?;
                    carried = 0;
                    continue;
                }
            };
            progress.acknowledged = number;
            progress.maybe_delivered = false;
            carried += 1;
            report.http_status = Some(published.status);
            report.publishes_done += 1;
            report.note_publish(clock.lap(), carried == 1);
            if number >= publishes {
                break;
            }
            let idle = if published.must_close {
                None
            } else {
                Some(transport.idle_state())
            };
            if let Some(why) = why_the_connection_ended(published.must_close, idle) {
                log::info!(
                    "Connection {connection} ended after {carried} publish(es): {why}. \
                     Reconnecting for publish {} of {publishes}.",
                    number + 1
                );
                self.disconnect(transport, report, carried);
                transport = self.reopen_connection(report, Some(why))?;
                carried = 0;
            }
        }
        self.disconnect(transport, report, carried);
        Ok(())
    }

    /// Connects (with backoff), and notes the connection in the report.
    fn open_connection(&self, report: &mut DemoReport) -> Result<Tls<S>, CycleError> {
        log::info!(
            "Establishing a mutually authenticated TLS connection to {}:{}.",
            self.server_name,
            self.config.port
        );
        let transport = self.connect_with_backoff()?;
        let timings = transport.timings();
        report.timings.connect = timings.tcp_connect;
        report.timings.handshake = timings.tls_handshake;
        report.timings.handshake_busy = timings.tls_handshake_busy;
        report.connections += 1;
        if report.tls_version.is_empty() {
            // Static names from Mbed TLS: keeping them allocates nothing.
            report.tls_version = transport.version();
            report.tls_cipher = transport.cipher_suite();
        }
        Ok(transport)
    }

    /// A new connection in place of one the server ended: once the old socket is gone (the
    /// board may have one socket only), within the run's deadline. `cause` is why the old one
    /// ended (`None`: the failure it ended with).
    fn reopen_connection(
        &self,
        report: &mut DemoReport,
        cause: Option<&str>,
    ) -> Result<Tls<S>, CycleError> {
        let Some(settle) = self.deadline.bound(SOCKET_SETTLE) else {
            return Err(match cause {
                Some(cause) => self.deadline.exceeded_after(self.failure, cause),
                None => self.deadline.exceeded(self.failure),
            });
        };
        settled_heap(self.stack, settle);
        self.open_connection(report)
    }

    /// close_notify and FIN, timed. The connection's TLS session is kept for the next one if
    /// it carried a publish (`carried`), so that a failed attempt changes nothing in the store.
    fn disconnect(&self, mut transport: Tls<S>, report: &mut DemoReport, carried: u32) {
        heap::mark_phase(HeapPhase::Disconnect);
        self.keep_session(&mut transport, carried > 0);
        let disconnect_started = Instant::now();
        transport.close();
        report.timings.disconnect = disconnect_started.elapsed();
    }

    // Not inlined, nor is `post`: each one's locals (the handshake's, the response buffer)
    // then take stack only while it runs, instead of adding up in one frame for the whole
    // cycle (the board's task stack is sized by measurement: scripts/bench-cortex-m.sh).
    #[inline(never)]
    fn connect_with_backoff(&self) -> Result<Tls<S>, CycleError> {
        let (stack, endpoint, server_name, config, credentials) = (
            self.stack,
            self.endpoint,
            self.server_name,
            self.config,
            self.credentials,
        );
        let mut tls = TlsConfig::new(server_name);
        tls.alpn = config.alpn();
        tls.send_sni = config.sni;
        tls.resumption = self.sessions.borrow().is_some();
        let key = SessionKey {
            server_name,
            port: endpoint.port,
        };
        let mut backoff = Backoff::new(BackoffPolicy::DEFAULT);
        // The failure's text is the last try's error from here on.
        self.failure.set(format_args!("no connection was tried"));
        loop {
            // Every wait of this try ends with the run at the latest.
            let (Some(handshake), Some(io)) = (
                self.deadline.bound(config.timeout),
                self.deadline.bound(TcpOptions::default().recv_timeout),
            ) else {
                return Err(self.deadline.exceeded(self.failure));
            };
            tls.handshake_timeout = handshake;
            let options = TcpOptions {
                connect_timeout: handshake,
                send_timeout: io,
                recv_timeout: io,
            };
            let saved = self
                .sessions
                .borrow_mut()
                .as_mut()
                .and_then(|store| store.load(&key));
            let offered = saved.is_some();
            let connected = TlsTransport::connect_resuming(
                stack,
                endpoint,
                &tls,
                credentials,
                options,
                saved.as_ref(),
            );
            drop(saved);
            let error = match connected {
                Ok(transport) => {
                    self.note_resumption(&key, &transport);
                    return Ok(transport);
                }
                Err(error) => error,
            };
            self.failure.set(format_args!("{error}"));
            if offered {
                // Whatever went wrong, the next try does not offer that session again: a
                // session can never make a connection fail twice.
                self.forget_session(&key);
                if !error.is_retryable() {
                    log::warn!(
                        "A handshake offering the saved TLS session failed ({error}); trying a \
                         full handshake."
                    );
                    continue;
                }
            }
            if !error.is_retryable() {
                // The failure's text is this error (set above).
                return Err(CycleError {
                    retryable: false,
                    http_status: None,
                });
            }
            match backoff.next_delay(&mut BoardEntropy) {
                Ok(NextDelay::Retry(delay)) => {
                    if self.deadline.bound(delay) != Some(delay) {
                        return Err(self.deadline.exceeded(self.failure));
                    }
                    log::warn!(
                        "Connection to the server failed: {error}. Retrying connection after {} ms backoff.",
                        whole_ms(delay)
                    );
                    time::delay(delay);
                }
                Ok(NextDelay::Exhausted) => {
                    return Err(self.failure.error(
                        format_args!("{error} (connection retries exhausted)"),
                        true,
                        None,
                    ));
                }
                Err(board::EntropyError) => {
                    return Err(self.failure.error(
                        format_args!("{error} (no entropy for the backoff)"),
                        false,
                        None,
                    ));
                }
            }
        }
    }
}

impl<S: TcpIpStack> Session<'_, S> {
    /// Logs what resumption did on a new connection, and forgets a saved session the server
    /// refused or that could not be used (the connection's own session replaces it).
    fn note_resumption(&self, key: &SessionKey<'_>, transport: &Tls<S>) {
        let outcome = transport.resumption();
        self.resumed.set(outcome.resumed());
        match outcome {
            Resumption::NotOffered | Resumption::Resumed => {}
            Resumption::Rejected => {
                log::info!("The server did not resume the saved TLS session.");
                self.forget_session(key);
            }
            Resumption::Expired => {
                log::info!("The saved TLS session has expired.");
                self.forget_session(key);
            }
            Resumption::Unusable(why) => {
                log::warn!("The saved TLS session cannot be used: {why}.");
                self.forget_session(key);
            }
        }
        let micros = whole_ms(transport.timings().tls_handshake * 1000);
        log::info!(
            "TLS handshake with {}:{} in {}.{} ms: {}.",
            key.server_name,
            key.port,
            micros / 1000,
            micros % 1000 / 100,
            if outcome.resumed() {
                "resumed session"
            } else {
                "full handshake"
            }
        );
    }

    fn forget_session(&self, key: &SessionKey<'_>) {
        if let Some(store) = self.sessions.borrow_mut().as_mut() {
            store.forget(key);
        }
    }

    /// Saves the connection's session for the next one, after a successful exchange only: a
    /// failed attempt then changes nothing in the store (and gives back all the heap it took).
    fn keep_session(&self, transport: &mut Tls<S>, succeeded: bool) {
        let Some(fresh) = transport.take_session() else {
            return;
        };
        if !succeeded {
            return;
        }
        let key = SessionKey {
            server_name: self.server_name,
            port: self.endpoint.port,
        };
        if let Some(store) = self.sessions.borrow_mut().as_mut() {
            store.save(&key, &fresh);
        }
    }
}

// -- reuse: the decisions between two publishes.
/// Whether a failed publish is one to send again at once on a new connection: the connection
/// had already carried a publish (so it was good, and the server has most likely ended it:
/// closed it while the request was on its way, or after reading it), and the failure was a
/// retryable one without an HTTP status (a status is the server's answer, to be taken as it
/// is).
fn lost_on_a_reused_connection(carried: u32, error: &CycleError) -> bool {
    carried > 0 && error.retryable && error.http_status.is_none()
}

/// Why the connection cannot carry the next publish, if it cannot: the answer said so
/// (`must_close`), or what arrived while it was idle (`idle`, looked at only when the answer
/// left it open).
fn why_the_connection_ended(must_close: bool, idle: Option<IdleState>) -> Option<&'static str> {
    match (must_close, idle) {
        (true, _) => Some("the server answered Connection: close"),
        (false, Some(IdleState::Closed)) => Some("the server closed it"),
        (false, Some(IdleState::UnexpectedData)) => Some("the server sent bytes nobody asked for"),
        (false, Some(IdleState::Open) | None) => None,
    }
}

/// Sends the publish and returns the 2xx status (and whether the connection can carry
/// another), or why not.
///
/// The request comes from [`DemoConfig::publish_request`] (the `iot_publish` crate): topic,
/// QoS, retain, content type, message expiry, response topic, user properties, payload
/// format and correlation data, each already checked when the configuration was read. A
/// refusal names the status and the server's message; 429, 500, 502, 503 and 504 are
/// retried (with backoff and jitter, by the caller), every other status is not.
#[inline(never)]
fn post<T: Connection>(
    transport: &mut TlsTransport<T>,
    server_name: &str,
    config: &DemoConfig,
    deadline: &RunDeadline,
    failure: &FailureText,
) -> Result<Published, CycleError> {
    let mut properties = Vec::new();
    let publish = config
        .publish_request(&mut properties)
        .map_err(|error| failure.error(format_args!("{error}"), false, None))?;
    let body = config.message.as_bytes();
    let headers = [
        ("User-Agent", "freertos-https/0.1"),
        ("Content-Type", "application/json"),
    ];
    // Sized to this request (a few hundred bytes without properties), on the heap rather
    // than the task's stack.
    let mut request_buffer = alloc::vec![0u8; publish.buffer_len(server_name, &headers, body)];
    let built = publish
        .build(&mut request_buffer, server_name, &headers, body)
        .map_err(|error| {
            failure.error(
                format_args!("cannot build the request: {error}"),
                false,
                None,
            )
        })?;
    let (request, path) = (built.request, built.path);
    log::info!("Sending HTTP POST request to {server_name}{path}...");
    // The exchange ends with the run at the latest (`post` is only called with time left).
    let bounded = |wait: Duration| deadline.bound(wait).unwrap_or(Duration::from_millis(1));
    let http_config = HttpConfig {
        send_timeout: bounded(HttpConfig::DEFAULT.send_timeout),
        recv_gap_timeout: bounded(HttpConfig::DEFAULT.recv_gap_timeout),
        request_timeout: HttpConfig::DEFAULT.request_timeout.map(bounded),
    };
    let mut client: HttpClient<_, _> = HttpClient::new(transport, KernelClock, http_config);
    // On the heap too: on the stack its 2 KiB would sit under the whole exchange (TLS and
    // the network stack's calls), which is the demo task's deepest path on a board.
    let mut buffer = alloc::vec![0u8; RESPONSE_BUFFER];
    let response = client.send(&request, body, &mut buffer).map_err(|error| {
        let retryable = error.is_retryable();
        failure.error(
            format_args!("HTTP exchange failed: {error}"),
            retryable,
            None,
        )
    })?;
    let status = response.head.status().as_u16();
    let excerpt: String = String::from_utf8_lossy(response.body)
        .chars()
        .take(200)
        .collect();
    log::info!("Received HTTP response from {server_name}{path}: status {status}, body: {excerpt}");
    match iot_publish::classify(status, response.body) {
        PublishOutcome::Published { status } => Ok(Published {
            status,
            must_close: response.connection == ConnectionOutcome::MustClose,
        }),
        PublishOutcome::Rejected(rejection) => Err(failure.error(
            format_args!(
                "the server answered {rejection} ({})",
                match rejection.retry {
                    Retry::WithBackoff => "retryable",
                    Retry::Never => "not retryable",
                }
            ),
            rejection.retry == Retry::WithBackoff,
            Some(status),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(retryable: bool, http_status: Option<u16>) -> CycleError {
        CycleError {
            retryable,
            http_status,
        }
    }

    #[test]
    fn only_a_retryable_failure_without_a_status_on_a_used_connection_is_sent_again_at_once() {
        assert!(lost_on_a_reused_connection(1, &error(true, None)));
        assert!(lost_on_a_reused_connection(7, &error(true, None)));
        // The first publish on a connection: a failed attempt, as without reuse.
        assert!(!lost_on_a_reused_connection(0, &error(true, None)));
        // The server answered: its status decides (retry after the pause, or stop).
        assert!(!lost_on_a_reused_connection(3, &error(true, Some(503))));
        assert!(!lost_on_a_reused_connection(3, &error(false, Some(403))));
        // Not retryable (configuration, the run's deadline): the run ends.
        assert!(!lost_on_a_reused_connection(3, &error(false, None)));
    }

    #[test]
    fn the_connection_ends_when_the_answer_or_the_idle_socket_says_so() {
        assert_eq!(why_the_connection_ended(false, Some(IdleState::Open)), None);
        assert_eq!(
            why_the_connection_ended(true, None),
            Some("the server answered Connection: close")
        );
        assert_eq!(
            why_the_connection_ended(false, Some(IdleState::Closed)),
            Some("the server closed it")
        );
        assert_eq!(
            why_the_connection_ended(false, Some(IdleState::UnexpectedData)),
            Some("the server sent bytes nobody asked for")
        );
    }
}
