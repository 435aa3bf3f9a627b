//! The mutual-TLS HTTPS server: rustls on blocking threads, one per connection.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};

use crate::faults::{self, Fault};
use crate::http::{self, Exchange};
use crate::publish_api::Publish;
use crate::retained::RetainedStore;

/// Which TLS versions the endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersions {
    /// TLS 1.2 and 1.3 (the default, like AWS IoT).
    Both,
    /// TLS 1.2 only.
    Tls12Only,
    /// TLS 1.3 only.
    Tls13Only,
}

/// How the endpoint lets clients resume TLS sessions (a knob for tests; each start of the
/// endpoint has a cache and a ticket key of its own, so a restarted endpoint refuses what an
/// earlier one issued, as a server whose keys rotated does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionResumption {
    /// rustls's default: an in-memory session cache (TLS 1.2 session IDs, TLS 1.3 stateful
    /// tickets).
    Cache,
    /// Stateless tickets (TLS 1.2 RFC 5077 tickets and TLS 1.3 tickets) under a ticket key
    /// drawn at start, valid for this many seconds.
    Tickets {
        /// The tickets' lifetime, sent to the client.
        lifetime_s: u32,
    },
    /// Tickets are issued but never accepted (and no session cache): every resumption is
    /// refused and ends in a full handshake.
    IssueButReject,
    /// No resumption: no cache, no tickets.
    Off,
}

/// How the endpoint answers publishes (a knob for tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Like AWS IoT.
    Normal,
    /// Every publish gets this status with an AWS-style JSON error body.
    ForceStatus(u16),
    /// Every request: the connection is closed without an answer.
    CloseWithoutAnswer,
    /// The first `n` publishes are answered like AWS IoT; every later request is closed
    /// without an answer.
    CloseWithoutAnswerAfter(usize),
    /// Every publish gets a 200 whose body ends where the connection ends (no Content-Length),
    /// then the connection closes: with TLS close_notify (a complete body), or without, at the
    /// TCP level only (a body that may be cut short).
    CloseDelimitedBody {
        /// Whether close_notify ends the body.
        close_notify: bool,
    },
    /// Every publish is answered with a fault (see [`crate::faults`]).
    Fault(Fault),
}

/// Endpoint configuration. Defaults: `127.0.0.1:8443`, both TLS versions, no ALPN required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointConfig {
    /// Address to listen on: loopback by default; never a public address unless asked.
    pub bind: SocketAddr,
    /// The endpoint's certificate chain (PEM).
    pub server_cert: PathBuf,
    /// The endpoint's private key (PEM).
    pub server_key: PathBuf,
    /// CA certificate(s) (PEM) that device certificates must chain to.
    pub client_ca: PathBuf,
    /// TLS versions accepted.
    pub versions: TlsVersions,
    /// Refuse clients that do not offer ALPN `x-amzn-http-ca` (AWS IoT's rule on port 443).
    pub require_alpn: bool,
    /// How publishes are answered.
    pub behaviour: Behaviour,
    /// Most connections served at once. Default 16.
    pub max_connections: usize,
    /// Longest silence from a client before its connection is dropped. Default 30 s.
    pub idle_timeout: Duration,
    /// TLS 1.3 session tickets sent after each handshake, before any answer. Default 2
    /// (rustls's); AWS IoT sends some too, and a device must cope with more.
    pub tls13_tickets: usize,
    /// Session resumption. Default [`SessionResumption::Cache`].
    pub resumption: SessionResumption,
    // -- reuse: a server that ends kept-alive connections (test knob).
    /// End every connection after this many answered requests. Default `None`: a connection
    /// carries as many requests as the client sends (keep-alive).
    pub close_after: Option<CloseAfter>,
}

// -- reuse: a server that ends kept-alive connections (test knob).
/// How [`EndpointConfig::close_after`] ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseAfter {
    /// Requests answered on a connection before it is ended (at least 1).
    pub requests: usize,
    /// Whether the last answer says so (`Connection: close`, as a server with a limit of
    /// requests per connection does); otherwise the connection is ended right after a
    /// keep-alive answer (close_notify and FIN), as a server's idle timeout can, racing the
    /// client's next request.
    pub announced: bool,
}

impl CloseAfter {
    /// Parses `N` (announced) or `N,silent`, the `--close-after` value.
    pub fn parse(text: &str) -> Option<CloseAfter> {
        let (count, announced) = match text.split_once(',') {
            Some((count, "silent")) => (count, false),
            Some(_) => return None,
            None => (text, true),
        };
        let requests = count.parse().ok().filter(|requests| *requests > 0)?;
        Some(CloseAfter {
            requests,
            announced,
        })
    }
}

impl EndpointConfig {
    /// Defaults around the given certificate files, on `127.0.0.1:port` (0 picks a free port).
    pub fn new(
        server_cert: &Path,
        server_key: &Path,
        client_ca: &Path,
        port: u16,
    ) -> EndpointConfig {
        EndpointConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            server_cert: server_cert.to_owned(),
            server_key: server_key.to_owned(),
            client_ca: client_ca.to_owned(),
            versions: TlsVersions::Both,
            require_alpn: false,
            behaviour: Behaviour::Normal,
            max_connections: 16,
            idle_timeout: Duration::from_secs(30),
            tls13_tickets: 2,
            resumption: SessionResumption::Cache,
            // -- reuse: keep-alive without a limit.
            close_after: None,
        }
    }
}

/// The ALPN protocol AWS IoT requires on port 443.
pub const ALPN_AWS_IOT: &[u8] = b"x-amzn-http-ca";

/// Why the endpoint could not start.
#[derive(Debug)]
pub enum StartError {
    /// A certificate or key file could not be read or parsed.
    Credentials {
        /// Which file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the configuration.
    Tls(rustls::Error),
    /// The listening socket could not be opened.
    Bind(io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Credentials { path, reason } => write!(f, "{}: {reason}", path.display()),
            StartError::Tls(error) => write!(f, "TLS configuration refused: {error}"),
            StartError::Bind(error) => write!(f, "cannot listen: {error}"),
        }
    }
}

impl std::error::Error for StartError {}

/// One request the endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// The client certificate's subject common name.
    pub client: String,
    /// Method and path as sent.
    pub method: String,
    /// The path, query included.
    pub path: String,
    /// The status answered.
    pub status: u16,
    /// The request body.
    pub body: Vec<u8>,
    /// The publish as the endpoint understood it, if the request was a valid one.
    pub publish: Option<Publish>,
}

/// What the endpoint has seen, for tests and the demo's report.
#[derive(Debug, Default)]
pub struct Observations {
    /// Requests answered.
    pub requests: Mutex<Vec<RequestRecord>>,
    /// Connections whose TLS handshake completed.
    pub handshakes: AtomicUsize,
    /// Connections whose handshake failed (untrusted client, no certificate...).
    pub failed_handshakes: AtomicUsize,
    /// Connections that ended with the client's close_notify.
    pub close_notifies: AtomicUsize,
    /// Connections that ended without one.
    pub abrupt_closes: AtomicUsize,
    /// The retained messages, one per topic: the endpoint's state, kept here so that every
    /// connection shares it and tests can read it.
    pub retained: RetainedStore,
}

impl Observations {
    /// Notes a request answered with `status`.
    fn record(&self, client: &str, request: &http::Request, status: u16, publish: Option<Publish>) {
        self.requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(RequestRecord {
                client: client.to_owned(),
                method: request.method.clone(),
                path: request.path.clone(),
                status,
                body: request.body.clone(),
                publish,
            });
    }
}

/// A running endpoint. Dropping it stops accepting connections.
pub struct RunningEndpoint {
    address: SocketAddr,
    observations: Arc<Observations>,
    stop: Arc<AtomicBool>,
}

impl RunningEndpoint {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.address
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// What it has seen so far.
    pub fn observations(&self) -> &Observations {
        &self.observations
    }

    /// Stops accepting new connections (open ones finish).
    pub fn shutdown(&self) {
        if !self.stop.swap(true, Ordering::SeqCst) {
            // Wake the accept loop.
            let _ = TcpStream::connect_timeout(&self.address, Duration::from_millis(200));
        }
    }
}

impl Drop for RunningEndpoint {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, StartError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|error| StartError::Credentials {
            path: path.to_owned(),
            reason: error.to_string(),
        })?
        .collect();
    let certs = certs.map_err(|error| StartError::Credentials {
        path: path.to_owned(),
        reason: error.to_string(),
    })?;
    if certs.is_empty() {
        return Err(StartError::Credentials {
            path: path.to_owned(),
            reason: "no certificate in the file".into(),
        });
    }
    Ok(certs)
}

fn tls_config(config: &EndpointConfig) -> Result<Arc<ServerConfig>, StartError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(&config.client_ca)? {
        roots.add(cert).map_err(StartError::Tls)?;
    }
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|error| StartError::Tls(rustls::Error::General(error.to_string())))?;
    let chain = read_certs(&config.server_cert)?;
    let key = PrivateKeyDer::from_pem_file(&config.server_key).map_err(|error| {
        StartError::Credentials {
            path: config.server_key.clone(),
            reason: error.to_string(),
        }
    })?;
    let versions: &[&rustls::SupportedProtocolVersion] = match config.versions {
        TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        TlsVersions::Tls13Only => &[&rustls::version::TLS13],
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(StartError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(StartError::Tls)?;
    server.alpn_protocols = vec![ALPN_AWS_IOT.to_vec(), b"http/1.1".to_vec()];
    server.send_tls13_tickets = config.tls13_tickets;
    match config.resumption {
        SessionResumption::Cache => {}
        SessionResumption::Tickets { lifetime_s } => {
            server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            server.ticketer = Arc::new(TicketKey {
                inner: rustls::crypto::ring::Ticketer::new().map_err(StartError::Tls)?,
                lifetime_s,
                accept: true,
            });
        }
        SessionResumption::IssueButReject => {
            server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
            server.ticketer = Arc::new(TicketKey {
                inner: rustls::crypto::ring::Ticketer::new().map_err(StartError::Tls)?,
                lifetime_s: 3600,
                accept: false,
            });
        }
        SessionResumption::Off => {
            server.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        }
    }
    Ok(Arc::new(server))
}

/// rustls's ticket key with the lifetime the test asks for, and optionally refusing every
/// ticket it gets back.
#[derive(Debug)]
struct TicketKey {
    inner: Arc<dyn rustls::server::ProducesTickets>,
    lifetime_s: u32,
    accept: bool,
}

impl rustls::server::ProducesTickets for TicketKey {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        self.lifetime_s
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.inner.encrypt(plain)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if self.accept {
            self.inner.decrypt(cipher)
        } else {
            None
        }
    }
}

/// Starts the endpoint on a thread of its own.
pub fn start(config: EndpointConfig) -> Result<RunningEndpoint, StartError> {
    let tls = tls_config(&config)?;
    let listener = TcpListener::bind(config.bind).map_err(StartError::Bind)?;
    let address = listener.local_addr().map_err(StartError::Bind)?;
    let observations = Arc::new(Observations::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (accept_observations, accept_stop) = (observations.clone(), stop.clone());
    let config = Arc::new(config);
    thread::Builder::new()
        .name("iot-server".into())
        .spawn(move || accept_loop(listener, tls, config, accept_observations, accept_stop))
        .map_err(StartError::Bind)?;
    log::info!("endpoint listening on https://{address} (mutual TLS)");
    Ok(RunningEndpoint {
        address,
        observations,
        stop,
    })
}

fn accept_loop(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    config: Arc<EndpointConfig>,
    observations: Arc<Observations>,
    stop: Arc<AtomicBool>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        if open.load(Ordering::SeqCst) >= config.max_connections {
            log::warn!(
                "connection refused: {} connections already open",
                config.max_connections
            );
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let (tls, config, observations, open) = (
            tls.clone(),
            config.clone(),
            observations.clone(),
            open.clone(),
        );
        let spawned = thread::Builder::new()
            .name("iot-server-conn".into())
            .spawn(move || {
                serve_connection(stream, tls, &config, &observations);
                open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            log::warn!("cannot start a connection thread");
        }
    }
}

fn serve_connection(
    stream: TcpStream,
    tls: Arc<ServerConfig>,
    config: &EndpointConfig,
    observations: &Observations,
) {
    let peer = stream
        .peer_addr()
        .map(|address| address.to_string())
        .unwrap_or_default();
    let _ = stream.set_read_timeout(Some(config.idle_timeout));
    let _ = stream.set_write_timeout(Some(config.idle_timeout));
    let _ = stream.set_nodelay(true);
    let Ok(connection) = ServerConnection::new(tls) else {
        return;
    };
    let mut tls = StreamOwned::new(connection, stream);
    if let Err(error) = complete_handshake(&mut tls) {
        observations
            .failed_handshakes
            .fetch_add(1, Ordering::SeqCst);
        log::warn!("{peer}: TLS handshake failed: {error}");
        lingering_close(&mut tls);
        return;
    }
    if config.require_alpn && tls.conn.alpn_protocol() != Some(ALPN_AWS_IOT) {
        log::warn!(
            "{peer}: refused: ALPN {} is required",
            String::from_utf8_lossy(ALPN_AWS_IOT)
        );
        tls.conn.send_close_notify();
        let _ = tls.flush();
        return;
    }
    observations.handshakes.fetch_add(1, Ordering::SeqCst);
    let client = client_name(&tls.conn);
    log::info!(
        "{peer}: mutual TLS with {client} ({:?})",
        tls.conn.protocol_version()
    );
    serve_requests(&mut tls, &client, config, observations);
}

/// Ends a connection whose handshake failed the way careful servers do (nginx's
/// `lingering_close`): the alert goes out, the sending side is shut, and what the client still
/// sends is read and dropped for a moment before the socket closes. Closing at once, with the
/// client's data unread, makes the kernel answer with a reset that can destroy the alert before
/// the client has read it (in TLS 1.3 a client sends its request right after its Finished).
fn lingering_close(tls: &mut StreamOwned<ServerConnection, TcpStream>) {
    while tls.conn.wants_write() {
        if tls.conn.write_tls(&mut tls.sock).is_err() {
            return;
        }
    }
    let _ = tls.sock.shutdown(std::net::Shutdown::Write);
    let _ = tls.sock.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 1024];
    let until = std::time::Instant::now() + Duration::from_secs(1);
    while std::time::Instant::now() < until {
        match tls.sock.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn complete_handshake(tls: &mut StreamOwned<ServerConnection, TcpStream>) -> Result<(), io::Error> {
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(())
}

/// The subject common name of the client's certificate.
fn client_name(connection: &ServerConnection) -> String {
    let Some(cert) = connection
        .peer_certificates()
        .and_then(|certs| certs.first())
    else {
        return "<no certificate>".into();
    };
    crate::der::subject_common_name(cert.as_ref()).unwrap_or_else(|| "<unnamed device>".into())
}

fn serve_requests(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    client: &str,
    config: &EndpointConfig,
    observations: &Observations,
) {
    let mut buffer = Vec::with_capacity(4096);
    if config.behaviour == Behaviour::Fault(Fault::AnswerBeforeBody) {
        answer_before_body(tls, &mut buffer, client, observations);
        return;
    }
    // -- reuse: requests answered on this connection, for `close_after`.
    let mut answered_here = 0;
    loop {
        match http::read_request(tls, &mut buffer) {
            Ok(Some(mut request)) => {
                answered_here += 1;
                let last_here = config
                    .close_after
                    .filter(|limit| answered_here >= limit.requests);
                if last_here.is_some_and(|limit| limit.announced) {
                    // Answered with `Connection: close`, then closed below.
                    request.wants_close = true;
                }
                let answered = observations
                    .requests
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .len();
                let close = match config.behaviour {
                    Behaviour::CloseWithoutAnswer => true,
                    Behaviour::CloseWithoutAnswerAfter(normal) => answered >= normal,
                    Behaviour::Normal
                    | Behaviour::ForceStatus(_)
                    | Behaviour::CloseDelimitedBody { .. }
                    | Behaviour::Fault(_) => false,
                };
                if close {
                    log::info!(
                        "{client}: {} {} -> closed without an answer (test knob)",
                        request.method,
                        request.path
                    );
                    return;
                }
                let exchange: Exchange =
                    http::answer(&request, config.behaviour, &observations.retained);
                log_exchange(client, &request, &exchange);
                observations.record(client, &request, exchange.status, exchange.publish.clone());
                if let Behaviour::Fault(fault) = config.behaviour {
                    log::info!("{client}: answered with the fault {fault:?} (test knob)");
                    if faults::answer(tls, &exchange, fault) {
                        continue;
                    }
                    return;
                }
                if let Behaviour::CloseDelimitedBody { close_notify } = config.behaviour {
                    answer_close_delimited(tls, &exchange, close_notify);
                    return;
                }
                if tls
                    .write_all(&exchange.bytes)
                    .and_then(|()| tls.flush())
                    .is_err()
                {
                    return;
                }
                if exchange.close || request.wants_close || last_here.is_some() {
                    if last_here.is_some() {
                        log::info!(
                            "{client}: connection closed after {answered_here} request(s) (test knob)"
                        );
                    }
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                    return;
                }
            }
            Ok(None) => {
                observations.close_notifies.fetch_add(1, Ordering::SeqCst);
                log::info!("{client}: closed with close_notify");
                return;
            }
            Err(error) => {
                if matches!(
                    error.kind(),
                    ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset
                ) {
                    observations.abrupt_closes.fetch_add(1, Ordering::SeqCst);
                }
                log::info!("{client}: connection ended: {error}");
                return;
            }
        }
    }
}

/// Logs an answered request: for an accepted publish, everything it carried (the format is
/// [`Publish::summary`]'s, then `retained=stored|deleted|-` and the status), then for every
/// request `CLIENT: METHOD PATH -> STATUS`, with the refusal's message in brackets.
fn log_exchange(client: &str, request: &http::Request, exchange: &Exchange) {
    if let Some(publish) = &exchange.publish {
        log::info!(
            "{client}: {} retained={} -> {}",
            publish.summary(),
            exchange.retained.as_str(),
            exchange.status
        );
    }
    match &exchange.refusal {
        Some(why) => log::info!(
            "{client}: {} {} -> {} ({why})",
            request.method,
            request.path,
            exchange.status
        ),
        None => log::info!(
            "{client}: {} {} -> {}",
            request.method,
            request.path,
            exchange.status
        ),
    }
}

/// [`Fault::AnswerBeforeBody`] on one connection.
fn answer_before_body(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    buffer: &mut Vec<u8>,
    client: &str,
    observations: &Observations,
) {
    match faults::answer_before_body(tls, buffer, &observations.retained) {
        Ok(Some((request, status))) => {
            log::info!(
                "{client}: {} {} -> {status} before the body, then a reset (test knob)",
                request.method,
                request.path
            );
            observations.record(client, &request, status, None);
        }
        Ok(None) => log::info!("{client}: closed with close_notify"),
        Err(error) => log::info!("{client}: connection ended: {error}"),
    }
}

/// Sends the exchange's status and body with the body framed by the end of the connection,
/// then ends it with close_notify, or with a bare TCP close.
fn answer_close_delimited(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    exchange: &Exchange,
    close_notify: bool,
) {
    let head = format!(
        "HTTP/1.1 {} OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        exchange.status
    );
    let body = exchange
        .bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map_or(&[][..], |end| &exchange.bytes[end + 4..]);
    if tls
        .write_all(head.as_bytes())
        .and_then(|()| tls.write_all(body))
        .and_then(|()| tls.flush())
        .is_err()
    {
        return;
    }
    if close_notify {
        tls.conn.send_close_notify();
        let _ = tls.flush();
    }
    let _ = tls.sock.shutdown(std::net::Shutdown::Both);
}

/// Reads from `tls`; 0 bytes means close_notify (rustls reports a bare TCP close as an error).
pub(crate) fn read_some(
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    buffer: &mut [u8],
) -> io::Result<usize> {
    tls.read(buffer)
}
