//! `net-bench`: round-trip latency and bulk throughput through the device's network stack
//! (kernel, smoltcp, slirp), side by side with plain host sockets, in one run.
//!
//! Both sides talk to the same echo and sink servers on the host's 127.0.0.1, so the ratio
//! shows what the simulated device adds. The round trips are measured in alternating batches
//! (device, host, device, ...) while the kernel runs, so that both sides see the same machine:
//! on a shared machine the cost of waking a thread changes from one second to the next. Writes a Markdown report to the path given with
//! `--report` (default `target/net-benchmark.md`) and prints it. Run it in release:
//! `cargo run --release --bin net-bench`.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Mutex as HostMutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use freertos_https::board::posix::host_thread;
use freertos_https::board::posix::slirp;
use freertos_https::link::ring::RingCard;
use freertos_https::net::{
    self, DefaultSocket as TcpSocket, NetConfig, RecvEvent, TcpConnection, TcpOptions,
};
use freertos_https::rtos::console::{self, Stream};
use freertos_https::rtos::task::Priority;
use freertos_https::rtos::{log as rtos_log, scheduler};
use log::LevelFilter;

/// Round trips per batch, and batches per side.
const BATCH: usize = 100;
const BATCHES: usize = 20;
const ROUND_TRIPS: usize = BATCH * BATCHES;
const MESSAGE: usize = 64;
const BULK: usize = 64 * 1024 * 1024;
const CHUNK: usize = 32 * 1024;
/// Socket buffers for the device side of the benchmark (the default is 8 KiB).
const DEVICE_BUFFER: usize = 64 * 1024;

static LINK: HostMutex<Option<RingCard>> = HostMutex::new(None);

/// Whose batch of round trips runs now.
static TURN: AtomicU8 = AtomicU8::new(DEVICE_TURN);
const DEVICE_TURN: u8 = 0;
const HOST_TURN: u8 = 1;

fn main() -> ExitCode {
    let report_path = std::env::args()
        .skip_while(|arg| arg != "--report")
        .nth(1)
        .unwrap_or_else(|| "target/net-benchmark.md".into());
    if let Err(error) = rtos_log::init(LevelFilter::Warn, Stream::Stderr) {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    let servers = match Servers::start() {
        Ok(servers) => servers,
        Err(error) => {
            eprintln!("error: cannot start the host servers: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut host = match measure_host_alone(&servers) {
        Ok(figures) => figures,
        Err(error) => {
            eprintln!("error: host sockets: {error}");
            return ExitCode::FAILURE;
        }
    };
    let host_round_trips =
        match host_thread::spawn("host-client", move || host_round_trips(servers.echo)) {
            Ok(thread) => thread,
            Err(error) => {
                eprintln!("error: cannot start the host client: {error}");
                return ExitCode::FAILURE;
            }
        };
    match slirp::start(0) {
        Ok(port) => *LINK.lock().expect("not poisoned") = Some(port),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    }
    let device = std::sync::Arc::new(HostMutex::new(None));
    let device_result = device.clone();
    let status = scheduler::run_application(Priority::new(3).expect("valid"), move || {
        let port = LINK
            .lock()
            .expect("not poisoned")
            .take()
            .expect("link started");
        let figures = measure_device(port, &servers);
        let status = i32::from(figures.is_err());
        *device_result.lock().expect("not poisoned") = Some(figures);
        status
    });
    let device = device.lock().expect("not poisoned").take();
    match host_round_trips.join() {
        Ok(Ok(batches)) => host.batches = batches,
        Ok(Err(error)) => {
            eprintln!("error: host sockets: {error}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!("error: the host client panicked");
            return ExitCode::FAILURE;
        }
    }
    match (status, device) {
        (Ok(0), Some(Ok(device))) => {
            let report = render_report(&host, &device);
            console::write_text_line(Stream::Stdout, &report);
            if let Err(error) = std::fs::write(&report_path, &report) {
                eprintln!("error: cannot write {report_path}: {error}");
                return ExitCode::FAILURE;
            }
            eprintln!("report written to {report_path}");
            ExitCode::SUCCESS
        }
        (_, Some(Err(error))) => {
            eprintln!("error: device: {error}");
            ExitCode::FAILURE
        }
        (status, _) => {
            eprintln!("error: the device run did not complete: {status:?}");
            ExitCode::FAILURE
        }
    }
}

/// The host servers both sides use.
#[derive(Clone, Copy)]
struct Servers {
    echo: u16,
    sink: u16,
    source: u16,
}

impl Servers {
    fn start() -> std::io::Result<Servers> {
        Ok(Servers {
            echo: serve("echo", |mut stream| {
                let _ = stream.set_nodelay(true);
                let mut buffer = [0u8; 4096];
                while let Ok(count) = stream.read(&mut buffer) {
                    if count == 0 || stream.write_all(&buffer[..count]).is_err() {
                        break;
                    }
                }
            })?,
            sink: serve("sink", |mut stream| {
                let mut buffer = vec![0u8; 256 * 1024];
                let mut total = 0usize;
                while let Ok(count) = stream.read(&mut buffer) {
                    if count == 0 {
                        break;
                    }
                    total += count;
                }
                let _ = stream.write_all(&(total as u64).to_le_bytes());
            })?,
            source: serve("source", |mut stream| {
                let buffer = vec![0x5au8; 256 * 1024];
                let mut sent = 0;
                while sent < BULK {
                    let length = buffer.len().min(BULK - sent);
                    if stream.write_all(&buffer[..length]).is_err() {
                        break;
                    }
                    sent += length;
                }
            })?,
        })
    }
}

fn serve(name: &str, handler: fn(TcpStream)) -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = listener.local_addr()?.port();
    host_thread::spawn(name, move || {
        for stream in listener.incoming().flatten() {
            let _ = host_thread::spawn("bench-conn", move || handler(stream));
        }
    })?;
    Ok(port)
}

/// What one side measured.
struct Figures {
    /// Round-trip times in microseconds, one vector per batch, in the order measured.
    batches: Vec<Vec<f64>>,
    /// Host only: round trips measured before the kernel starts, sorted.
    quiet_round_trips_us: Vec<f64>,
    /// Device only: task-to-task notification round trips (two kernel switches), sorted.
    kernel_round_trips_us: Vec<f64>,
    upload_mb_s: f64,
    download_mb_s: f64,
}

impl Figures {
    /// Every round trip, sorted.
    fn round_trips_us(&self) -> Vec<f64> {
        let mut all: Vec<f64> = self.batches.iter().flatten().copied().collect();
        all.sort_by(f64::total_cmp);
        all
    }

    /// The median of each batch, in order.
    fn batch_medians_us(&self) -> Vec<f64> {
        self.batches
            .iter()
            .map(|batch| {
                let mut sorted = batch.clone();
                sorted.sort_by(f64::total_cmp);
                percentile(&sorted, 50)
            })
            .collect()
    }
}

/// Waits, on a host thread, for the host's turn.
fn wait_for_turn_on_host(turn: u8) {
    while TURN.load(Ordering::SeqCst) != turn {
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Waits, on a task, for the device's turn (sleeping a tick at a time).
fn wait_for_turn_on_task(turn: u8) {
    while TURN.load(Ordering::SeqCst) != turn {
        freertos_https::rtos::time::delay_ticks(freertos_https::rtos::time::Ticks::new(1));
    }
}

/// The host side of the round trips: one batch per turn.
/// A host client of the echo server.
fn host_echo_client(echo_port: u16) -> std::io::Result<TcpStream> {
    let echo = TcpStream::connect((Ipv4Addr::LOCALHOST, echo_port))?;
    echo.set_nodelay(true)?;
    Ok(echo)
}

/// `count` round trips of one message over host sockets, in microseconds, in order.
fn host_echoes(echo: &mut TcpStream, count: usize) -> std::io::Result<Vec<f64>> {
    let message = [0xa5u8; MESSAGE];
    let mut reply = [0u8; MESSAGE];
    let mut round_trips_us = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        echo.write_all(&message)?;
        echo.read_exact(&mut reply)?;
        round_trips_us.push(start.elapsed().as_secs_f64() * 1e6);
    }
    Ok(round_trips_us)
}

/// The host side of the round trips: one batch per turn.
fn host_round_trips(echo_port: u16) -> std::io::Result<Vec<Vec<f64>>> {
    let mut echo = host_echo_client(echo_port)?;
    let mut batches = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        wait_for_turn_on_host(HOST_TURN);
        let batch = host_echoes(&mut echo, BATCH);
        // The device must not wait for a turn that never comes.
        TURN.store(DEVICE_TURN, Ordering::SeqCst);
        batches.push(batch?);
    }
    Ok(batches)
}

fn percentile(sorted: &[f64], percent: usize) -> f64 {
    sorted
        .get((sorted.len() * percent / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

fn mb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / elapsed.as_secs_f64() / 1e6
}

/// Host sockets before the kernel starts: round trips in a quiet process, then bulk.
fn measure_host_alone(servers: &Servers) -> std::io::Result<Figures> {
    let mut quiet_round_trips_us = host_echoes(&mut host_echo_client(servers.echo)?, ROUND_TRIPS)?;
    quiet_round_trips_us.sort_by(f64::total_cmp);

    let mut sink = TcpStream::connect((Ipv4Addr::LOCALHOST, servers.sink))?;
    let chunk = vec![0x33u8; CHUNK];
    let start = Instant::now();
    for _ in 0..BULK / CHUNK {
        sink.write_all(&chunk)?;
    }
    sink.shutdown(std::net::Shutdown::Write)?;
    let mut total = [0u8; 8];
    sink.read_exact(&mut total)?;
    let upload = start.elapsed();

    let mut source = TcpStream::connect((Ipv4Addr::LOCALHOST, servers.source))?;
    let mut buffer = vec![0u8; CHUNK];
    let start = Instant::now();
    let mut received = 0;
    while received < BULK {
        let count = source.read(&mut buffer)?;
        if count == 0 {
            break;
        }
        received += count;
    }
    let download = start.elapsed();
    Ok(Figures {
        batches: Vec::new(),
        quiet_round_trips_us,
        kernel_round_trips_us: Vec::new(),
        upload_mb_s: mb_per_s(BULK, upload),
        download_mb_s: mb_per_s(received, download),
    })
}

fn measure_device(port: RingCard, servers: &Servers) -> Result<Figures, String> {
    let config = NetConfig {
        tcp_rx_buffer: DEVICE_BUFFER,
        tcp_tx_buffer: DEVICE_BUFFER,
        ..NetConfig::default()
    };
    let stack = net::start(Box::new(port), config).map_err(|e| e.to_string())?;
    stack
        .wait_until_up(Duration::from_secs(5))
        .ok_or("no address from DHCP")?;
    let host = net::USER_MODE_HOST;
    let connect = |port| {
        stack
            .connect(host, port, TcpOptions::default())
            .map_err(|e| e.to_string())
    };

    let mut echo = connect(servers.echo)?;
    let message = [0xa5u8; MESSAGE];
    let mut batches = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        wait_for_turn_on_task(DEVICE_TURN);
        let mut batch = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            let start = Instant::now();
            echo.send_all(&message).map_err(|e| e.to_string())?;
            receive_exactly(&mut echo, MESSAGE)?;
            batch.push(start.elapsed().as_secs_f64() * 1e6);
        }
        batches.push(batch);
        TURN.store(HOST_TURN, Ordering::SeqCst);
    }
    wait_for_turn_on_task(DEVICE_TURN);
    echo.close();

    let mut sink = connect(servers.sink)?;
    let chunk = vec![0x33u8; CHUNK];
    let start = Instant::now();
    for _ in 0..BULK / CHUNK {
        sink.send_all(&chunk).map_err(|e| e.to_string())?;
    }
    sink.shutdown();
    receive_exactly(&mut sink, 8)?;
    let upload = start.elapsed();
    sink.close();

    let mut source = connect(servers.source)?;
    let start = Instant::now();
    let received = receive_exactly(&mut source, BULK)?;
    let download = start.elapsed();
    source.close();
    Ok(Figures {
        batches,
        quiet_round_trips_us: Vec::new(),
        kernel_round_trips_us: kernel_round_trips()?,
        upload_mb_s: mb_per_s(BULK, upload),
        download_mb_s: mb_per_s(received, download),
    })
}

/// The kernel's own floor: a notification to another task and one back, i.e. two task
/// switches, each of which is one host thread waking another on the POSIX port.
fn kernel_round_trips() -> Result<Vec<f64>, String> {
    use freertos_https::rtos::task::{self, TaskHandle};
    use freertos_https::rtos::time::Ticks;
    let me = TaskHandle::current().ok_or("not a task")?;
    let priority = Priority::new(3).expect("valid");
    let echo = task::spawn("pong", priority, move || {
        loop {
            task::wait_for_notification(Ticks::FOREVER);
            me.notify();
        }
    })
    .map_err(|e| e.to_string())?;
    let mut round_trips_us = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let start = Instant::now();
        echo.notify();
        task::wait_for_notification(Ticks::FOREVER);
        round_trips_us.push(start.elapsed().as_secs_f64() * 1e6);
    }
    round_trips_us.sort_by(f64::total_cmp);
    Ok(round_trips_us)
}

fn receive_exactly(socket: &mut TcpSocket, want: usize) -> Result<usize, String> {
    let mut buffer = vec![0u8; CHUNK.min(want)];
    let mut received = 0;
    while received < want {
        let room = buffer.len().min(want - received);
        match socket.recv(&mut buffer[..room]) {
            Ok(RecvEvent::Data(count)) => received += count,
            other => {
                return Err(format!(
                    "receive stopped after {received} of {want} bytes: {other:?}"
                ));
            }
        }
    }
    Ok(received)
}

fn render_report(host: &Figures, device: &Figures) -> String {
    let mut report = String::new();
    let (host_all, device_all) = (host.round_trips_us(), device.round_trips_us());
    let ratio = percentile(&device_all, 50) / percentile(&host_all, 50);
    let mut batch_ratios: Vec<f64> = device
        .batch_medians_us()
        .iter()
        .zip(host.batch_medians_us())
        .map(|(device, host)| device / host)
        .collect();
    batch_ratios.sort_by(f64::total_cmp);
    let _ = writeln!(
        report,
        "# Network benchmark: device stack vs host sockets\n"
    );
    let _ = writeln!(
        report,
        "One run, same machine, same echo/sink/source servers on 127.0.0.1. Device: FreeRTOS POSIX \
         port, {} in the IP task, slirp link, TCP buffers {} KiB. Host: std sockets. Round \
         trips: {BATCHES} batches of {BATCH} per side, device and host taking turns while the \
         kernel runs.\n",
        net::DEFAULT_STACK_NAME,
        DEVICE_BUFFER / 1024
    );
    let _ = writeln!(
        report,
        "| measure | host sockets | device stack | device / host |"
    );
    let _ = writeln!(report, "|---|---|---|---|");
    for (label, percent) in [
        ("round trip, median", 50),
        ("round trip, p90", 90),
        ("round trip, p99", 99),
    ] {
        let (h, d) = (
            percentile(&host_all, percent),
            percentile(&device_all, percent),
        );
        let _ = writeln!(
            report,
            "| {label} ({ROUND_TRIPS} x {MESSAGE} B) | {h:.1} us | {d:.1} us | {:.2}x |",
            d / h
        );
    }
    let _ = writeln!(
        report,
        "| upload {} MiB | {:.1} MB/s | {:.1} MB/s | {:.2}x |",
        BULK >> 20,
        host.upload_mb_s,
        device.upload_mb_s,
        device.upload_mb_s / host.upload_mb_s
    );
    let _ = writeln!(
        report,
        "| download {} MiB | {:.1} MB/s | {:.1} MB/s | {:.2}x |",
        BULK >> 20,
        host.download_mb_s,
        device.download_mb_s,
        device.download_mb_s / host.download_mb_s
    );
    let _ = writeln!(
        report,
        "\nDevice/host ratio of the batch medians, batch by batch: lowest {:.2}x, median {:.2}x, \
         highest {:.2}x.",
        batch_ratios.first().copied().unwrap_or(f64::NAN),
        percentile(&batch_ratios, 50),
        batch_ratios.last().copied().unwrap_or(f64::NAN)
    );
    let _ = writeln!(
        report,
        "\nThe kernel's floor: a task notifying another and being notified back (two task \
         switches, each one host thread waking another on the POSIX port) takes {:.1} us \
         (median of {ROUND_TRIPS}). A device round trip needs, on top of the host's own two \
         thread wake-ups (the server, then the idle task waiting in poll), at least one such \
         switch (idle task to application), plus slirp, smoltcp and the port's critical \
         sections (two signal-mask system calls each).",
        percentile(&device.kernel_round_trips_us, 50)
    );
    let whole_us = |values: Vec<f64>| {
        values
            .iter()
            .map(|value| format!("{value:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        report,
        "\nBatch medians in the order measured, in us. Device: {}. Host: {}.",
        whole_us(device.batch_medians_us()),
        whole_us(host.batch_medians_us())
    );
    let quiet = percentile(&host.quiet_round_trips_us, 50);
    let _ = writeln!(
        report,
        "\nHost sockets measured alone, before the kernel starts: round-trip median {quiet:.1} us \
         (device / that: {:.2}x). While the kernel runs, its tick keeps host CPUs awake and a \
         host thread wakes faster; the interleaved figures above are the like-for-like ones.",
        percentile(&device_all, 50) / quiet
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let one_way = device.upload_mb_s.max(device.download_mb_s);
    let _ = writeln!(report, "\nTargets:");
    let _ = writeln!(
        report,
        "- round-trip median <= 2x host sockets, like for like: {:.2}x, {}",
        ratio,
        verdict(ratio <= 2.0)
    );
    let against_quiet = percentile(&device_all, 50) / quiet;
    let _ = writeln!(
        report,
        "- round-trip median <= 2x host sockets measured alone: {against_quiet:.2}x, {}",
        verdict(against_quiet <= 2.0)
    );
    let _ = writeln!(
        report,
        "- >= 20 MB/s one way: {one_way:.1} MB/s, {}",
        verdict(one_way >= 20.0)
    );
    report
}
