//! `net-selftest`: checks the network layer through the real kernel, smoltcp and the card
//! (`FREERTOS_HTTPS_CARD`: slirp, the POSIX default, or the gateway, the Windows one), one
//! scenario per process, against servers this process runs on the host's `127.0.0.1`.
//!
//! `net-selftest <scenario>` prints `PASS <scenario> ...` and exits 0, or `FAIL <scenario>:
//! <why>` and exits 1; `--list` names the scenarios. `tests/net.rs` runs each one.

use freertos_https_harness as selftest_support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as HostMutex};
use std::time::{Duration, Instant};

use freertos_https::board::hosted::card::{self, CardKind};
use freertos_https::board::hosted::files::PcapFile;
use freertos_https::board::hosted::host_thread;
use freertos_https::link::LinkCard;
use freertos_https::link::pcap::PcapTap;
use freertos_https::link::ring::RingCard;
use freertos_https::net::{
    self, ConnectError, DefaultSocket as TcpSocket, DefaultStack as Stack, DnsError, Ipv4Setup,
    NetConfig, RecvError, RecvEvent, TcpConnection, TcpOptions, TcpTransport,
};
use freertos_https::rtos::heap::HeapStats;
#[cfg(not(feature = "freertos-plus-tcp"))]
use freertos_https::rtos::sync::Queue;
use freertos_https::rtos::task::{self, Priority};
use freertos_https::rtos::time;
use iot_transport::{Received, Transport};
use selftest_support::{Outcome, Scenario, check};

const SCENARIOS: &[Scenario<RingCard>] = &[
    ("round_trip", round_trip),
    ("static_address", static_address),
    ("bulk_16mib", bulk_16mib),
    ("refused", refused),
    ("connect_timeout", connect_timeout),
    ("recv_timeout", recv_timeout),
    ("end_of_stream", end_of_stream),
    ("reset", reset),
    ("sequential_500", sequential_500),
    ("two_tasks", two_tasks),
    ("busy_device", busy_device),
    #[cfg(not(feature = "freertos-plus-tcp"))]
    ("dns_lookup", dns_lookup),
    #[cfg(feature = "freertos-plus-tcp")]
    ("dns_lookup_port_53", dns_lookup_port_53),
    ("half_close", half_close),
    #[cfg(not(feature = "freertos-plus-tcp"))]
    ("gateway_dns_forwarder", gateway_dns_forwarder),
    ("transport", transport),
    ("pcap", pcap),
    #[cfg(not(feature = "freertos-plus-tcp"))]
    (
        "timed_out_waiter_is_forgotten",
        timed_out_waiter_is_forgotten,
    ),
];

/// The link raises this interrupt line.
const LINK_INTERRUPT: u8 = 0;
const APP_PRIORITY: u8 = 3;
const UP_TIMEOUT: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    // The simulated network card exists before the kernel boots.
    // The card: FREERTOS_HTTPS_CARD (slirp or gateway), else the board's default.
    selftest_support::run("net-selftest", SCENARIOS, APP_PRIORITY, || {
        let kind = CardKind::from_env().map_err(|error| error.to_string())?;
        kind.start(LINK_INTERRUPT)
            .map_err(|error| format!("{} card: {error}", kind.name()))
    })
}

/// Starts the stack and waits for its address.
fn start_stack(port: impl LinkCard + 'static, config: NetConfig) -> Result<&'static Stack, String> {
    let stack = net::start(Box::new(port), config).map_err(|e| e.to_string())?;
    stack
        .wait_until_up(UP_TIMEOUT)
        .ok_or("no IPv4 address within 5 s")?;
    Ok(stack)
}

fn host() -> Ipv4Addr {
    net::USER_MODE_HOST
}

fn connect(stack: &'static Stack, port: u16) -> Result<TcpSocket, String> {
    stack
        .connect(host(), port, TcpOptions::default())
        .map_err(|e| format!("connect to port {port}: {e}"))
}

/// Reads until `want` bytes arrived, the peer ends the stream, or the socket fails.
fn read_exactly(socket: &mut TcpSocket, want: usize) -> Result<Vec<u8>, String> {
    let mut data = Vec::with_capacity(want);
    let mut buffer = [0u8; 2048];
    while data.len() < want {
        let room = (want - data.len()).min(buffer.len());
        match socket.recv(&mut buffer[..room]) {
            Ok(RecvEvent::Data(count)) => data.extend_from_slice(&buffer[..count]),
            Ok(RecvEvent::TimedOut) => {
                return Err(format!("timed out after {} of {want} bytes", data.len()));
            }
            Ok(RecvEvent::EndOfStream) => {
                return Err(format!(
                    "end of stream after {} of {want} bytes",
                    data.len()
                ));
            }
            Err(error) => return Err(format!("{error} after {} of {want} bytes", data.len())),
        }
    }
    Ok(data)
}

/// A host server on 127.0.0.1 that runs `serve` for each accepted connection, on its own
/// host thread, until the process ends. Returns its port.
fn host_server(
    name: &str,
    serve: impl Fn(TcpStream) + Send + Sync + 'static,
) -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let serve = Arc::new(serve);
    host_thread::spawn(name, move || {
        for stream in listener.incoming().flatten() {
            let serve = serve.clone();
            let _ = host_thread::spawn("host-conn", move || serve(stream));
        }
    })
    .map_err(|e| e.to_string())?;
    Ok(port)
}

fn echo_server() -> Result<u16, String> {
    host_server("echo", |mut stream| {
        let mut buffer = [0u8; 4096];
        while let Ok(count) = stream.read(&mut buffer) {
            if count == 0 || stream.write_all(&buffer[..count]).is_err() {
                break;
            }
        }
    })
}

fn echo_once(socket: &mut TcpSocket, message: &[u8]) -> Result<(), String> {
    socket.send_all(message).map_err(|e| e.to_string())?;
    let echoed = read_exactly(socket, message.len())?;
    check(echoed == message, || {
        format!("echo mismatch: sent {message:?}, got {echoed:?}")
    })
}

/// DHCP from slirp, connect through it to a host service, and a round trip.
fn round_trip(port: RingCard) -> Outcome {
    let echo = echo_server()?;
    let started = Instant::now();
    let stack = start_stack(port, NetConfig::default())?;
    let up = started.elapsed();
    let settings = stack.ipv4().ok_or("no address")?;
    check(settings.address == Ipv4Addr::new(10, 0, 2, 15), || {
        format!("DHCP gave {}", settings.address)
    })?;
    check(settings.gateway == Some(Ipv4Addr::new(10, 0, 2, 2)), || {
        format!("gateway {:?}", settings.gateway)
    })?;
    let mut socket = connect(stack, echo)?;
    let start = Instant::now();
    echo_once(&mut socket, b"hello through smoltcp and slirp")?;
    let rtt = start.elapsed();
    socket.close();
    Ok(format!(
        "address {}/{} in {up:?}; echo round trip {rtt:?}",
        settings.address, settings.prefix_len
    ))
}

/// A static configuration works without DHCP.
fn static_address(port: RingCard) -> Outcome {
    let echo = echo_server()?;
    let config = NetConfig {
        ipv4: Ipv4Setup::Static(card::static_settings()),
        ..NetConfig::default()
    };
    let stack = start_stack(port, config)?;
    let mut socket = connect(stack, echo)?;
    echo_once(&mut socket, b"static")?;
    Ok(format!(
        "static address {}",
        stack
            .ipv4()
            .map(|s| s.address.to_string())
            .unwrap_or_default()
    ))
}

const BULK: usize = 16 * 1024 * 1024;

/// Byte `index` of the test stream `seed`: position-dependent, so loss, duplication and
/// reordering all show.
fn pattern(seed: u8, index: usize) -> u8 {
    (index as u32)
        .wrapping_mul(2_654_435_761)
        .rotate_left(u32::from(seed % 31))
        .to_le_bytes()[(index + usize::from(seed)) % 4]
}

/// 16 MiB to a host server and 16 MiB back, every byte checked on both sides.
fn bulk_16mib(port: RingCard) -> Outcome {
    let verified = Arc::new(AtomicUsize::new(0));
    let server_verified = verified.clone();
    let server = host_server("bulk", move |mut stream| {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut received = 0;
        while received < BULK {
            let Ok(count) = stream.read(&mut buffer) else {
                return;
            };
            if count == 0 {
                return;
            }
            if (0..count).any(|offset| buffer[offset] != pattern(1, received + offset)) {
                return;
            }
            received += count;
        }
        server_verified.store(received, Ordering::SeqCst);
        let mut sent = 0;
        while sent < BULK {
            let chunk: Vec<u8> = (sent..(sent + buffer.len()).min(BULK))
                .map(|index| pattern(2, index))
                .collect();
            if stream.write_all(&chunk).is_err() {
                return;
            }
            sent += chunk.len();
        }
    })?;
    let stack = start_stack(port, NetConfig::default())?;
    let mut socket = connect(stack, server)?;
    let start = Instant::now();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut sent = 0;
    while sent < BULK {
        let length = chunk.len().min(BULK - sent);
        for (offset, byte) in chunk[..length].iter_mut().enumerate() {
            *byte = pattern(1, sent + offset);
        }
        socket
            .send_all(&chunk[..length])
            .map_err(|e| format!("send after {sent} bytes: {e}"))?;
        sent += length;
    }
    let upload = start.elapsed();
    let start = Instant::now();
    let mut received = 0;
    while received < BULK {
        match socket.recv(&mut chunk) {
            Ok(RecvEvent::Data(count)) => {
                if let Some(offset) =
                    (0..count).find(|&offset| chunk[offset] != pattern(2, received + offset))
                {
                    return Err(format!("download corrupt at byte {}", received + offset));
                }
                received += count;
            }
            other => {
                return Err(format!(
                    "download stopped after {received} bytes: {other:?}"
                ));
            }
        }
    }
    let download = start.elapsed();
    check(verified.load(Ordering::SeqCst) == BULK, || {
        "the server did not verify the whole upload".into()
    })?;
    let rate = |elapsed: Duration| BULK as f64 / elapsed.as_secs_f64() / 1e6;
    Ok(format!(
        "upload {:.1} MB/s, download {:.1} MB/s, all bytes verified",
        rate(upload),
        rate(download)
    ))
}

/// A port nobody listens on is refused, quickly.
fn refused(port: RingCard) -> Outcome {
    let closed = {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
        listener.local_addr().map_err(|e| e.to_string())?.port()
    };
    let stack = start_stack(port, NetConfig::default())?;
    let start = Instant::now();
    let result = stack.connect(host(), closed, TcpOptions::default());
    let took = start.elapsed();
    check(matches!(result, Err(ConnectError::Refused)), || {
        format!("expected Refused, got {:?}", result.as_ref().err())
    })?;
    check(took < Duration::from_secs(1), || {
        format!("refusal took {took:?}")
    })?;
    Ok(format!("refused in {took:?}"))
}

/// A peer that never answers the handshake hits the connect timeout as configured. The peer
/// is an unused address on slirp's own virtual network, where slirp drops the SYN.
fn connect_timeout(port: RingCard) -> Outcome {
    let stack = start_stack(port, NetConfig::default())?;
    let options = TcpOptions {
        connect_timeout: Duration::from_millis(400),
        ..TcpOptions::default()
    };
    let start = Instant::now();
    let result = stack.connect(Ipv4Addr::new(10, 0, 2, 99), 9, options);
    let took = start.elapsed();
    check(matches!(result, Err(ConnectError::TimedOut)), || {
        format!("expected TimedOut, got {:?}", result.as_ref().err())
    })?;
    check_timeout(took, Duration::from_millis(400))?;
    Ok(format!("connect timed out after {took:?} (asked 400 ms)"))
}

/// A timeout that fired `took` after the call honoured the `asked` one: not early (beyond a
/// tick of rounding), and not much late.
fn check_timeout(took: Duration, asked: Duration) -> Result<(), String> {
    let earliest = asked - Duration::from_millis(10);
    let latest = asked + Duration::from_millis(900);
    check(took >= earliest && took < latest, || {
        format!("asked for {asked:?}, timed out after {took:?}")
    })
}

/// A peer that accepts and stays silent hits the receive timeout as configured.
fn recv_timeout(port: RingCard) -> Outcome {
    let silent = host_server("silent", |stream| {
        let mut stream = stream;
        let mut byte = [0u8; 1];
        let _ = stream.read(&mut byte); // waits until the device closes
    })?;
    let stack = start_stack(port, NetConfig::default())?;
    let mut socket = connect(stack, silent)?;
    socket.set_recv_timeout(Duration::from_millis(300));
    let start = Instant::now();
    let outcome = socket.recv(&mut [0u8; 16]);
    let took = start.elapsed();
    check(outcome == Ok(RecvEvent::TimedOut), || {
        format!("expected TimedOut, got {outcome:?}")
    })?;
    check_timeout(took, Duration::from_millis(300))?;
    Ok(format!("receive timed out after {took:?} (asked 300 ms)"))
}

/// A server that closes its side gives the data, then an orderly end of stream.
fn end_of_stream(port: RingCard) -> Outcome {
    let server = host_server("closer", |mut stream| {
        let _ = stream.write_all(b"goodbye");
        let _ = stream.shutdown(Shutdown::Write);
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    })?;
    let stack = start_stack(port, NetConfig::default())?;
    let mut socket = connect(stack, server)?;
    let data = read_exactly(&mut socket, 7)?;
    check(data == b"goodbye", || format!("got {data:?}"))?;
    let outcome = socket.recv(&mut [0u8; 16]);
    check(outcome == Ok(RecvEvent::EndOfStream), || {
        format!("expected EndOfStream, got {outcome:?}")
    })?;
    Ok("data, then end of stream".into())
}

/// A server that resets the connection gives an error, not an end of stream.
fn reset(port: RingCard) -> Outcome {
    let server = host_server("resetter", |stream| {
        let mut stream = stream;
        let mut byte = [0u8; 1];
        let _ = stream.read(&mut byte);
        // Linger 0: close() sends RST instead of FIN.
        let _ = host_socket::set_linger_zero(&stream);
        drop(stream);
    })?;
    let stack = start_stack(port, NetConfig::default())?;
    let mut socket = connect(stack, server)?;
    socket.send_all(b"x").map_err(|e| e.to_string())?;
    let outcome = socket.recv(&mut [0u8; 16]);
    check(outcome == Err(RecvError::Reset), || {
        format!("expected Reset, got {outcome:?}")
    })?;
    Ok("reset reported as an error".into())
}

/// Host-socket options std does not offer.
#[cfg(unix)]
mod host_socket {
    #![allow(unsafe_code)]

    use std::net::TcpStream;
    use std::os::fd::AsRawFd;

    /// SO_LINGER with a zero timeout: closing the socket then sends RST instead of FIN.
    pub(super) fn set_linger_zero(stream: &TcpStream) -> std::io::Result<()> {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: passes a live `linger` of the size given, on a descriptor the stream owns.
        let result = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// Host-socket options std does not offer (Winsock).
#[cfg(windows)]
mod host_socket {
    #![allow(unsafe_code)]

    use std::net::TcpStream;
    use std::os::windows::io::AsRawSocket;

    /// Winsock's `LINGER`.
    #[repr(C)]
    struct Linger {
        l_onoff: u16,
        l_linger: u16,
    }

    const SOL_SOCKET: i32 = 0xffff;
    const SO_LINGER: i32 = 0x0080;

    #[link(name = "ws2_32")]
    unsafe extern "system" {
        fn setsockopt(socket: usize, level: i32, name: i32, value: *const u8, length: i32) -> i32;
    }

    /// SO_LINGER with a zero timeout: closing the socket then sends RST instead of FIN.
    pub(super) fn set_linger_zero(stream: &TcpStream) -> std::io::Result<()> {
        let linger = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: passes a live `Linger` of the size given, on a socket the stream owns.
        let result = unsafe {
            setsockopt(
                stream.as_raw_socket() as usize,
                SOL_SOCKET,
                SO_LINGER,
                (&linger as *const Linger).cast(),
                size_of::<Linger>() as i32,
            )
        };
        if result == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

/// 500 connections one after another: no socket and no heap is lost.
fn sequential_500(port: RingCard) -> Outcome {
    let echo = echo_server()?;
    let stack = start_stack(port, NetConfig::default())?;
    // One connection first, so buffers smoltcp keeps for good are in the baseline.
    let mut socket = connect(stack, echo)?;
    echo_once(&mut socket, b"warm-up")?;
    socket.close();
    // The baseline once the warm-up socket is gone: its close waits for the peer's FIN, which
    // a host thread sharing the CPU (the Windows simulator runs on one) may take a while to send.
    let settle_deadline = Instant::now() + Duration::from_secs(10);
    while stack.tcp_sockets_in_use() > 0 {
        check(Instant::now() < settle_deadline, || {
            "the warm-up socket was not freed within 10 s".into()
        })?;
        time::delay(Duration::from_millis(10));
    }
    let before = HeapStats::now();
    let start = Instant::now();
    for round in 0..500 {
        let mut socket = connect(stack, echo).map_err(|e| format!("round {round}: {e}"))?;
        echo_once(&mut socket, format!("round {round}").as_bytes())
            .map_err(|e| format!("round {round}: {e}"))?;
        socket.close();
    }
    let took = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut after = HeapStats::now();
    while after.free != before.free && Instant::now() < deadline {
        time::delay(Duration::from_millis(50));
        after = HeapStats::now();
    }
    check(after.free == before.free, || {
        format!(
            "heap: {} B free before, {} B after",
            before.free, after.free
        )
    })?;
    Ok(format!(
        "500 connections in {took:?}; heap back to {} B free",
        after.free
    ))
}

/// Two tasks talk on two sockets at the same time.
fn two_tasks(port: RingCard) -> Outcome {
    let echo = echo_server()?;
    let stack = start_stack(port, NetConfig::default())?;
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(HostMutex::new(Vec::<String>::new()));
    // Every echo's round trip, for the slowest and the count of slow ones in the PASS line.
    let round_trips = Arc::new(HostMutex::new(Vec::<Duration>::new()));
    for id in 0..2u8 {
        let (done, failures, round_trips) = (done.clone(), failures.clone(), round_trips.clone());
        task::spawn(
            &format!("client{id}"),
            Priority::new(2).expect("valid"),
            move || {
                let result = (|| {
                    // A generous receive timeout: this checks that two tasks' connections stay
                    // apart, not latency. Under wine a run took 13-15 s where Linux takes well
                    // under 1 s (lost frames waiting for TCP's retransmission), and one echo
                    // once waited out the default 10 s.
                    let options = TcpOptions {
                        recv_timeout: Duration::from_secs(30),
                        ..TcpOptions::default()
                    };
                    let mut socket = stack
                        .connect(host(), echo, options)
                        .map_err(|e| format!("connect to port {echo}: {e}"))?;
                    for round in 0..200 {
                        let sent = Instant::now();
                        echo_once(&mut socket, format!("task {id} round {round}").as_bytes())?;
                        round_trips
                            .lock()
                            .expect("not poisoned")
                            .push(sent.elapsed());
                    }
                    Ok::<(), String>(())
                })();
                if let Err(why) = result {
                    failures
                        .lock()
                        .expect("not poisoned")
                        .push(format!("task {id}: {why}"));
                }
                done.fetch_add(1, Ordering::SeqCst);
            },
        )
        .map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    while done.load(Ordering::SeqCst) < 2 {
        check(start.elapsed() < Duration::from_secs(60), || {
            "the tasks did not finish in 60 s".into()
        })?;
        time::delay(Duration::from_millis(10));
    }
    let failures = failures.lock().expect("not poisoned");
    check(failures.is_empty(), || failures.join("; "))?;
    let took = start.elapsed();
    let round_trips = round_trips.lock().expect("not poisoned");
    let slowest = round_trips.iter().max().copied().unwrap_or_default();
    let slow = round_trips
        .iter()
        .filter(|&&trip| trip > Duration::from_millis(200))
        .count();
    Ok(format!(
        "2 tasks x 200 echoes in {took:?}; slowest echo {slowest:?}, {slow} over 200 ms"
    ))
}

/// A task that never blocks keeps the idle task (which serves slirp when the device is idle)
/// from running: the card must still be served, through the IP task, within a few ticks.
fn busy_device(port: RingCard) -> Outcome {
    let echo = echo_server()?;
    let stack = start_stack(port, NetConfig::default())?;
    let mut socket = connect(stack, echo)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinning = stop.clone();
    // Same priority as this task: the kernel slices time between the two, and the idle task
    // never runs while the spinner lives.
    task::spawn(
        "spinner",
        Priority::new(APP_PRIORITY).expect("valid"),
        move || {
            while !spinning.load(Ordering::SeqCst) {
                core::hint::spin_loop();
            }
        },
    )
    .map_err(|e| e.to_string())?;
    let mut round_trips = Vec::new();
    let outcome = (|| {
        for round in 0..50 {
            let start = Instant::now();
            echo_once(&mut socket, format!("busy round {round}").as_bytes())?;
            round_trips.push(start.elapsed());
        }
        Ok::<(), String>(())
    })();
    stop.store(true, Ordering::SeqCst);
    socket.close();
    outcome?;
    round_trips.sort();
    let median = round_trips[round_trips.len() / 2];
    let slowest = round_trips[round_trips.len() - 1];
    // With the card served from the tick, a round trip takes about one time slice (a tick).
    // Without it, answers wait for the IP task's own timers: smoltcp's 10 ms delayed ACK
    // most of the time, and up to its one-second sleep.
    check(
        median < Duration::from_millis(8) && slowest < Duration::from_millis(500),
        || format!("echoes with the idle task starved: median {median:?}, slowest {slowest:?}"),
    )?;
    Ok(format!(
        "50 echoes beside a spinning task: median {median:?}, slowest {slowest:?}"
    ))
}

/// Lookups through the stack against a fake DNS server on the host's loopback. smoltcp only:
/// it needs a DNS server on a port other than 53, which FreeRTOS+TCP cannot be told.
#[cfg(not(feature = "freertos-plus-tcp"))]
fn dns_lookup(port: RingCard) -> Outcome {
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    let dns_port = server.local_addr().map_err(|e| e.to_string())?.port();
    let ids: Arc<HostMutex<Vec<u16>>> = Arc::new(HostMutex::new(Vec::new()));
    let server_ids = ids.clone();
    host_thread::spawn("fake-dns", move || fake_dns(server, &server_ids))
        .map_err(|e| e.to_string())?;
    let stack = start_stack(port, NetConfig::default())?;
    let found = stack.resolve_with("device.test", host(), dns_port, Duration::from_secs(3));
    check(found == Ok(Ipv4Addr::new(192, 0, 2, 42)), || {
        format!("device.test resolved to {found:?}")
    })?;
    let missing = stack.resolve_with("missing.test", host(), dns_port, Duration::from_secs(3));
    check(missing == Err(DnsError::NotFound), || {
        format!("missing.test gave {missing:?}")
    })?;
    let invalid = stack.resolve_with("bad name", host(), dns_port, Duration::from_secs(3));
    check(invalid == Err(DnsError::InvalidName), || {
        format!("'bad name' gave {invalid:?}")
    })?;
    let local = stack.resolve("localhost", Duration::from_secs(1));
    check(local == Ok(Ipv4Addr::new(10, 0, 2, 2)), || {
        format!("localhost gave {local:?}")
    })?;
    // Query ids come from the board's entropy: back-to-back lookups (many within one
    // millisecond) never repeat one, as a clock-derived id would.
    for _ in 0..8 {
        let again = stack.resolve_with("device.test", host(), dns_port, Duration::from_secs(3));
        check(again.is_ok(), || {
            format!("a repeated lookup gave {again:?}")
        })?;
    }
    let mut seen = ids.lock().map_err(|_| "id list poisoned")?.clone();
    let queries = seen.len();
    seen.sort_unstable();
    seen.dedup();
    check(queries >= 10 && seen.len() == queries, || {
        format!("{queries} queries carried only {} distinct ids", seen.len())
    })?;
    Ok(format!(
        "A record found, NXDOMAIN reported, invalid name refused, localhost mapped, \
         {queries} queries with distinct ids"
    ))
}

/// Lookups with `FreeRTOS_getaddrinfo` against a fake DNS server on the host's
/// `127.0.0.1:53` (FreeRTOS+TCP always asks port 53, so this needs root or
/// CAP_NET_BIND_SERVICE), reached as the static DNS server `10.0.2.2`.
#[cfg(feature = "freertos-plus-tcp")]
fn dns_lookup_port_53(port: RingCard) -> Outcome {
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 53)).map_err(|e| {
        format!(
            "cannot bind the fake DNS server to 127.0.0.1:53 (needs root, and the port free): {e}"
        )
    })?;
    let ids: Arc<HostMutex<Vec<u16>>> = Arc::new(HostMutex::new(Vec::new()));
    let server_ids = ids.clone();
    host_thread::spawn("fake-dns", move || fake_dns(server, &server_ids))
        .map_err(|e| e.to_string())?;
    let mut settings = card::static_settings();
    settings.dns = Some(host());
    let config = NetConfig {
        ipv4: Ipv4Setup::Static(settings),
        ..NetConfig::default()
    };
    let stack = start_stack(port, config)?;
    let wait = Duration::from_secs(3);
    let found = stack.resolve("device.test", wait);
    check(found == Ok(Ipv4Addr::new(192, 0, 2, 42)), || {
        format!("device.test resolved to {found:?}")
    })?;
    let missing = stack.resolve("missing.test", wait);
    check(missing == Err(DnsError::NotFound), || {
        format!("missing.test gave {missing:?}")
    })?;
    let invalid = stack.resolve("bad name", wait);
    check(invalid == Err(DnsError::InvalidName), || {
        format!("'bad name' gave {invalid:?}")
    })?;
    let local = stack.resolve("localhost", Duration::from_secs(1));
    check(local == Ok(Ipv4Addr::new(10, 0, 2, 2)), || {
        format!("localhost gave {local:?}")
    })?;
    // A found name is cached for its TTL; a name that does not exist is asked every time
    // (FreeRTOS+TCP re-sends an unanswered or NXDOMAIN query with the same id, so ids are
    // counted per lookup, not per datagram).
    let cached = stack.resolve("device.test", wait);
    check(cached == found, || {
        format!("a repeated lookup gave {cached:?}")
    })?;
    for _ in 0..8 {
        let again = stack.resolve("missing.test", wait);
        check(again == Err(DnsError::NotFound), || {
            format!("a repeated lookup gave {again:?}")
        })?;
    }
    let lookups = 10; // device.test once, missing.test nine times
    let mut seen = ids.lock().map_err(|_| "id list poisoned")?.clone();
    let queries = seen.len();
    seen.sort_unstable();
    seen.dedup();
    check(seen.len() >= lookups, || {
        format!(
            "{lookups} lookups ({queries} queries) carried only {} distinct ids",
            seen.len()
        )
    })?;
    Ok(format!(
        "A record found (then cached), NXDOMAIN reported, invalid name refused, localhost \
         mapped, {lookups} lookups with distinct ids ({queries} queries)"
    ))
}

/// Answers A queries: `device.test` is 192.0.2.42, every other name does not exist. Notes
/// each query's id in `ids`.
fn fake_dns(server: UdpSocket, ids: &HostMutex<Vec<u16>>) {
    let mut buffer = [0u8; 512];
    while let Ok((length, from)) = server.recv_from(&mut buffer) {
        if length >= 2
            && let Ok(mut ids) = ids.lock()
        {
            ids.push(u16::from_be_bytes([buffer[0], buffer[1]]));
        }
        let Some(answer) = fake_dns_answer(&buffer[..length]) else {
            continue;
        };
        let _ = server.send_to(&answer, from);
    }
}

fn fake_dns_answer(query: &[u8]) -> Option<Vec<u8>> {
    let question_end = 12 + query.get(12..)?.iter().position(|&byte| byte == 0)? + 1 + 4;
    let name = query.get(12..question_end - 5)?;
    let mut answer = query.get(..question_end)?.to_vec();
    answer[2] = 0x81; // response, recursion desired
    answer[3] = 0x80; // recursion available, no error
    if name == b"\x06device\x04test" {
        answer[7] = 1; // one answer
        answer.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 42]);
    } else {
        answer[3] |= 3; // NXDOMAIN
    }
    Some(answer)
}

/// Each direction closes on its own: the device shuts its sending side, the host sees the end
/// of the request and still answers on the open half, then closes; the device reads the
/// answer, then the end of stream.
fn half_close(port: RingCard) -> Outcome {
    let server = host_server("half-closer", |mut stream| {
        let mut request = Vec::new();
        if stream.read_to_end(&mut request).is_err() {
            return;
        }
        let reply = format!("got {} bytes after your FIN", request.len());
        let _ = stream.write_all(reply.as_bytes());
        let _ = stream.shutdown(Shutdown::Write);
    })?;
    let stack = start_stack(port, NetConfig::default())?;
    let mut socket = connect(stack, server)?;
    socket
        .send_all(b"request ends here")
        .map_err(|e| e.to_string())?;
    socket.shutdown();
    let want = b"got 17 bytes after your FIN";
    let data = read_exactly(&mut socket, want.len())?;
    check(data == want, || {
        format!("got {:?}", String::from_utf8_lossy(&data))
    })?;
    let outcome = socket.recv(&mut [0u8; 16]);
    check(outcome == Ok(RecvEvent::EndOfStream), || {
        format!("expected EndOfStream, got {outcome:?}")
    })?;
    Ok("request, FIN, answer on the open half, end of stream".into())
}

/// The gateway card's DNS forwarder at 10.0.2.3 answers from the host's resolver, with
/// loopback mapped to the gateway. Only over the gateway: slirp forwards DNS to the host's
/// configured server, which may be off this machine.
#[cfg(not(feature = "freertos-plus-tcp"))]
fn gateway_dns_forwarder(port: RingCard) -> Outcome {
    let kind = CardKind::from_env().map_err(|error| error.to_string())?;
    check(kind == CardKind::Gateway, || {
        format!("runs over the gateway card only, not {}", kind.name())
    })?;
    let stack = start_stack(port, NetConfig::default())?;
    let dns = stack.ipv4().and_then(|settings| settings.dns);
    check(dns == Some(Ipv4Addr::new(10, 0, 2, 3)), || {
        format!("DHCP gave DNS server {dns:?}")
    })?;
    let found = stack.resolve_with(
        "localhost",
        Ipv4Addr::new(10, 0, 2, 3),
        53,
        Duration::from_secs(3),
    );
    check(found == Ok(host()), || {
        format!("localhost through the forwarder gave {found:?}")
    })?;
    Ok("localhost resolved by the host, answered as 10.0.2.2".into())
}

/// The plaintext transport tells data, would-block and end of stream apart.
fn transport(port: RingCard) -> Outcome {
    let server = host_server("slow-closer", |mut stream| {
        let _ = stream.write_all(b"first");
        std::thread::sleep(Duration::from_millis(600));
        let _ = stream.write_all(b"second");
        let _ = stream.shutdown(Shutdown::Write);
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
    })?;
    let stack = start_stack(port, NetConfig::default())?;
    let mut socket = connect(stack, server)?;
    socket.set_recv_timeout(Duration::from_millis(200));
    let mut transport = TcpTransport::new(socket);
    let mut buffer = [0u8; 64];
    let mut events = Vec::new();
    let start = Instant::now();
    loop {
        check(start.elapsed() < Duration::from_secs(5), || {
            format!("no end of stream: {events:?}")
        })?;
        match transport.recv(&mut buffer).map_err(|e| e.to_string())? {
            Received::Data(count) => events.push(format!(
                "data:{}",
                String::from_utf8_lossy(&buffer[..count])
            )),
            Received::WouldBlock => {
                if events.last().map(String::as_str) != Some("would-block") {
                    events.push("would-block".into());
                }
            }
            Received::EndOfStream => {
                events.push("end".into());
                break;
            }
        }
    }
    let expected = ["data:first", "would-block", "data:second", "end"];
    check(events == expected, || {
        format!("events {events:?}, expected {expected:?}")
    })?;
    Ok(events.join(" "))
}

/// With a pcap file configured, every frame of DHCP and a TCP exchange is recorded.
fn pcap(port: RingCard) -> Outcome {
    let echo = echo_server()?;
    let path = std::env::temp_dir().join(format!("net-selftest-{}.pcap", std::process::id()));
    let file = PcapFile::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let tap = PcapTap::new(port, Box::new(file)).map_err(|e| e.to_string())?;
    let stack = start_stack(tap, NetConfig::default())?;
    let mut socket = connect(stack, echo)?;
    echo_once(&mut socket, b"captured")?;
    drop(socket);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let _ = std::fs::remove_file(&path);
    check(
        bytes.get(..4) == Some(&[0xd4, 0xc3, 0xb2, 0xa1][..]),
        || "no pcap header".into(),
    )?;
    // Walk the records: DHCP (4) and the TCP handshake and echo make at least 8 frames.
    let (mut at, mut frames) = (24, 0);
    while let Some(header) = bytes.get(at..at + 16) {
        let length = u32::from_le_bytes([header[8], header[9], header[10], header[11]]) as usize;
        at += 16 + length;
        frames += 1;
    }
    check(at == bytes.len(), || {
        "the last pcap record is cut short".into()
    })?;
    check(frames >= 8, || format!("only {frames} frames recorded"))?;
    let text = String::from_utf8_lossy(&bytes);
    check(text.contains("captured"), || {
        "the echoed payload is not in the capture".into()
    })?;
    Ok(format!("{frames} frames recorded"))
}

/// A task whose wait in a socket call timed out is no longer registered as a waiter, so news
/// that arrives later does not notify it. Before the fix the stale registration stayed, and
/// the next change notified whatever task then lived in the ended task's control block.
/// smoltcp only: the waiter list is the smoltcp backend's (FreeRTOS+TCP keeps its own).
#[cfg(not(feature = "freertos-plus-tcp"))]
fn timed_out_waiter_is_forgotten(port: RingCard) -> Outcome {
    let echo = echo_server()?;
    let stack = start_stack(port, NetConfig::default())?;
    let parked: Arc<Queue<TcpSocket>> = Arc::new(Queue::new(1).map_err(|e| e.to_string())?);
    let outcome: Arc<HostMutex<Option<String>>> = Arc::new(HostMutex::new(None));
    // The waiter: a receive that times out, then it ends, leaving its socket open.
    let (waiter_parked, waiter_outcome) = (parked.clone(), outcome.clone());
    let waiter = task::spawn(
        "waiter",
        Priority::new(APP_PRIORITY + 1).expect("valid"),
        move || {
            let mut socket = match stack.connect(host(), echo, TcpOptions::default()) {
                Ok(socket) => socket,
                Err(error) => {
                    *waiter_outcome.lock().unwrap() = Some(format!("connect: {error}"));
                    return;
                }
            };
            socket.set_recv_timeout(Duration::from_millis(50));
            let mut buffer = [0u8; 16];
            let event = socket.recv(&mut buffer);
            *waiter_outcome.lock().unwrap() = Some(format!("{event:?}"));
            let _ = waiter_parked.send(socket, time::Ticks::ZERO);
        },
    )
    .map_err(|e| e.to_string())?;
    let mut socket = parked
        .receive(time::Ticks::from_duration(Duration::from_secs(5)))
        .ok_or("the waiter task did not hand its socket over")?;
    let event = outcome.lock().unwrap().take().unwrap_or_default();
    check(event == "Ok(TimedOut)", || {
        format!("the waiter's receive gave {event}, expected a timeout")
    })?;
    while waiter.is_running() {
        time::delay(Duration::from_millis(1));
    }
    let waiting = stack.tasks_waiting();
    check(waiting == 0, || {
        format!("{waiting} task(s) still registered as waiters after the wait timed out")
    })?;
    // Let the idle task free the ended task, then start a bystander of the same size, which
    // the kernel is likely to place in the freed control block.
    time::delay(Duration::from_millis(20));
    let spurious = Arc::new(AtomicUsize::new(usize::MAX));
    let bystander_spurious = spurious.clone();
    task::spawn(
        "bystander",
        Priority::new(APP_PRIORITY + 1).expect("valid"),
        move || {
            let got = task::wait_for_notification_on(
                task::NotifySlot::Network,
                time::Ticks::from_duration(Duration::from_millis(300)),
            );
            bystander_spurious.store(got as usize, Ordering::SeqCst);
        },
    )
    .map_err(|e| e.to_string())?;
    // News for the old socket: the echo makes the stack wake its waiters.
    echo_once(&mut socket, b"news")?;
    let start = Instant::now();
    while spurious.load(Ordering::SeqCst) == usize::MAX && start.elapsed() < Duration::from_secs(2)
    {
        time::delay(Duration::from_millis(5));
    }
    let got = spurious.load(Ordering::SeqCst);
    check(got == 0, || {
        format!("a task that never used the network was woken {got} time(s) by it")
    })?;
    Ok("no waiter left behind; no stray wake-up".into())
}
