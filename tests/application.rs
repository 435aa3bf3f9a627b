//! The demo application, run as a user runs it: against the bundled endpoint by default, and
//! against endpoints these tests start on 127.0.0.1 to make things go wrong.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use iot_server::certs::{self, DeviceKey};
use iot_server::{Behaviour, EndpointConfig};

fn demo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_http-mutual-auth-demo"));
    for variable in [
        "FREERTOS_HTTPS_LOG",
        "IOT_ENDPOINT",
        "IOT_PORT",
        "IOT_JSON",
        "IOT_ITERATIONS",
        "IOT_ATTEMPTS",
    ] {
        command.env_remove(variable);
    }
    command
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The JSON report: the last line of stdout.
fn json_report(output: &Output) -> serde_json::Value {
    let (stdout, stderr) = text(output);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|error| {
        panic!("last line is not JSON ({error}): {last:?}\nstderr: {stderr}")
    })
}

/// The `error` of the demo's JSON report ("" when there is none).
fn report_error(output: &Output) -> String {
    json_report(output)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Runs `demo`, which must fail (exit 1) within `limit`; returns the error of its JSON report.
fn failure_within(mut demo: Command, limit: Duration) -> String {
    let started = Instant::now();
    let output = demo.output().expect("run the demo");
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    assert!(took < limit, "the run took {took:?}, more than {limit:?}");
    report_error(&output)
}

/// Arguments that point the demo at an endpoint using the PKI in `dir`.
/// A loopback port nothing listens on (bound once and let go).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

fn endpoint_args(dir: &Path, port: u16) -> Vec<String> {
    let paths = certs::CertPaths::in_dir(dir);
    vec![
        "--endpoint".into(),
        "localhost".into(),
        "--port".into(),
        port.to_string(),
        "--root-ca".into(),
        paths.ca_cert.display().to_string(),
        "--client-cert".into(),
        paths.device_cert.display().to_string(),
        "--client-key".into(),
        paths.device_key.display().to_string(),
    ]
}

fn start_endpoint(dir: &Path, port: u16, behaviour: Behaviour) -> iot_server::RunningEndpoint {
    let paths = certs::CertPaths::in_dir(dir);
    let mut config =
        EndpointConfig::new(&paths.server_cert, &paths.server_key, &paths.ca_cert, port);
    config.behaviour = behaviour;
    iot_server::start(config).expect("endpoint")
}

/// Runs the demo with `args` against an endpoint of its own that behaves as `behaviour`, with
/// freshly generated credentials (`key` for the device).
fn run_against(behaviour: Behaviour, key: DeviceKey, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), key).expect("certificates");
    let endpoint = start_endpoint(dir.path(), 0, behaviour);
    demo()
        .args(endpoint_args(dir.path(), endpoint.port()))
        .args(args)
        .output()
        .expect("run the demo")
}

#[test]
fn the_default_run_publishes_to_the_bundled_endpoint_and_reports_the_heap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = demo()
        .arg("--certs-dir")
        .arg(dir.path())
        .output()
        .expect("run the demo");
    let (stdout, stderr) = text(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(stdout.contains("Demo completed successfully."), "{stdout}");
    assert!(stdout.contains("status 200"), "{stdout}");
    let free: usize = stdout
        .split("free heap ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a free heap figure");
    assert!(free > 0 && free < 512 * 1024, "free heap {free}");
}

#[test]
fn the_json_report_has_every_field_and_they_agree() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = demo()
        .arg("--certs-dir")
        .arg(dir.path())
        .args(["--json", "--iterations", "2"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let report = json_report(&output);
    assert_eq!(report["result"], "pass");
    assert!(report["error"].is_null());
    assert_eq!(report["http_status"], 200);
    assert_eq!(report["iterations"], 2);
    let total = report["heap_total"].as_u64().expect("heap_total");
    let min_free = report["heap_min_ever_free"]
        .as_u64()
        .expect("heap_min_ever_free");
    assert_eq!(report["heap_peak_used"].as_u64(), Some(total - min_free));
    assert!(report["heap_free_at_end"].as_u64().expect("free") >= min_free);
    assert_eq!(
        report["heap_free_per_iteration"].as_array().map(Vec::len),
        Some(2)
    );
    for timing in [
        "network_up",
        "connect",
        "handshake",
        "request",
        "disconnect",
        "total",
    ] {
        assert!(
            report["timings_ms"][timing]
                .as_f64()
                .is_some_and(|ms| ms >= 0.0),
            "timings_ms.{timing}"
        );
    }
    assert!(report["timings_ms"]["total"].as_f64() >= report["timings_ms"]["handshake"].as_f64());
    let stack = if cfg!(feature = "freertos-plus-tcp") {
        "FreeRTOS+TCP"
    } else {
        "smoltcp"
    };
    assert_eq!(report["tcpip_stack"], stack);
    assert!(
        report["tls"]["version"]
            .as_str()
            .is_some_and(|version| version.starts_with("TLSv1.")),
        "{}",
        report["tls"]
    );
    assert!(
        report["tls"]["cipher"]
            .as_str()
            .is_some_and(|cipher| !cipher.is_empty())
    );
}

#[test]
fn a_server_that_comes_up_late_is_reached_after_backoff_retries() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let port = free_port();
    let child = demo()
        .args(endpoint_args(dir.path(), port))
        .args(["--json", "--retry-delay-ms", "200"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the demo");
    thread::sleep(Duration::from_millis(1500));
    let _endpoint = start_endpoint(dir.path(), port, Behaviour::Normal);
    let output = child.wait_with_output().expect("demo ends");
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Retrying connection after"),
        "no backoff retry logged: {stdout}"
    );
    assert_eq!(json_report(&output)["result"], "pass");
}

#[test]
fn an_untrusted_server_fails_fast_without_retries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = certs::generate_test_pki(dir.path()).expect("test PKI");
    let (server_cert, server_key) = &pki.server_untrusted;
    let endpoint = iot_server::start(EndpointConfig::new(
        server_cert,
        server_key,
        &pki.ca_cert,
        0,
    ))
    .expect("endpoint");
    let (device_cert, device_key) = pki.device(DeviceKey::P256);
    let started = Instant::now();
    let output = demo()
        .args([
            "--endpoint",
            "localhost",
            "--port",
            &endpoint.port().to_string(),
            "--json",
            "--retry-delay-ms",
            "2000",
        ])
        .arg("--root-ca")
        .arg(&pki.ca_cert)
        .arg("--client-cert")
        .arg(&device_cert)
        .arg("--client-key")
        .arg(&device_key)
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}: retried?",
        started.elapsed()
    );
    let report = json_report(&output);
    assert_eq!(report["result"], "fail");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|error| error.contains("not trusted")),
        "{}",
        report["error"]
    );
    // The endpoint's connection thread may note the failed handshake after the demo has
    // exited: wait for it, then make sure no second attempt came.
    let failed = || {
        endpoint
            .observations()
            .failed_handshakes
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let waited = Instant::now();
    while failed() == 0 && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(failed(), 1, "the demo retried an authentication failure");
}

#[test]
fn a_non_2xx_status_is_a_failure_naming_the_status() {
    let output = run_against(
        Behaviour::ForceStatus(403),
        DeviceKey::Rsa2048,
        &["--json", "--attempts", "1"],
    );
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    let report = json_report(&output);
    assert_eq!(report["result"], "fail");
    assert_eq!(report["http_status"], 403);
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|error| error.contains("403")),
        "{}",
        report["error"]
    );
}

#[test]
fn after_a_failed_iteration_the_report_has_no_status_from_an_earlier_success() {
    let output = run_against(
        Behaviour::CloseWithoutAnswerAfter(1),
        DeviceKey::P256,
        &["--json", "--iterations", "2", "--attempts", "1"],
    );
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    let report = json_report(&output);
    assert_eq!(report["result"], "fail");
    assert_eq!(report["iterations_completed"], 1);
    assert!(
        report["http_status"].is_null(),
        "the failed exchange got no status, yet the report says {}",
        report["http_status"]
    );
}

#[test]
fn a_server_that_never_answers_ends_the_run_within_its_deadline() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    // Accepts TCP connections and never says a word: every TLS handshake waits out its
    // timeout, and every attempt is retried.
    let silent = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = silent.local_addr().expect("address").port();
    let _held = thread::spawn(move || {
        let held: Vec<_> = silent.incoming().take(16).collect();
        thread::sleep(Duration::from_secs(60));
        drop(held);
    });
    let mut run = demo();
    run.args(endpoint_args(dir.path(), port))
        .args(["--json", "--deadline", "3", "--attempts", "5"])
        .args(["--retry-delay-ms", "100", "--timeout-ms", "1000"]);
    let error = failure_within(run, Duration::from_secs(6));
    assert!(
        error.contains("deadline of 3 s") && error.contains("handshake"),
        "the error names neither the deadline nor the last cause: {error}"
    );
}

#[test]
fn a_body_ended_by_close_notify_is_complete() {
    let output = run_against(
        Behaviour::CloseDelimitedBody { close_notify: true },
        DeviceKey::P256,
        &["--json", "--attempts", "1"],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    assert_eq!(json_report(&output)["http_status"], 200);
}

#[test]
fn a_body_cut_by_a_bare_tcp_close_is_refused_as_possibly_truncated() {
    let output = run_against(
        Behaviour::CloseDelimitedBody {
            close_notify: false,
        },
        DeviceKey::P256,
        &["--json", "--attempts", "1"],
    );
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    let report = json_report(&output);
    let error = report["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("without TLS close_notify") && error.contains("cut short"),
        "the error does not say the body may be truncated: {error}"
    );
}

#[test]
fn a_server_that_knows_none_of_the_alpn_protocols_gets_an_error_naming_alpn() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    // The endpoint speaks `x-amzn-http-ca` and `http/1.1` only.
    let endpoint = start_endpoint(dir.path(), 0, Behaviour::Normal);
    let output = demo()
        .args(endpoint_args(dir.path(), endpoint.port()))
        .args(["--json", "--alpn", "h2"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    let error = report_error(&output);
    assert!(
        error.contains("ALPN") && error.contains("(h2)"),
        "the error does not name ALPN: {error}"
    );
    let with_aws_protocol = demo()
        .args(endpoint_args(dir.path(), endpoint.port()))
        .args(["--json", "--alpn", "x-amzn-http-ca"])
        .output()
        .expect("run");
    assert_eq!(
        with_aws_protocol.status.code(),
        Some(0),
        "{:?}",
        text(&with_aws_protocol)
    );
}

/// A TCP proxy on 127.0.0.1 to `target`, for one connection, that replaces the first `from`
/// in what the server sends with `to` (same length). Returns its port.
fn rewriting_proxy(target: u16, from: &'static [u8], to: &'static [u8]) -> u16 {
    assert_eq!(from.len(), to.len());
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listener");
    let port = listener.local_addr().expect("address").port();
    thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else {
            return;
        };
        let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
            return;
        };
        let (mut client_in, mut server_out) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        thread::spawn(move || {
            let _ = std::io::copy(&mut client_in, &mut server_out);
            let _ = server_out.shutdown(std::net::Shutdown::Write);
        });
        let (mut server_in, mut client_out) = (server, client);
        use std::io::{Read, Write};
        let mut pending: Vec<u8> = Vec::new();
        let mut replaced = false;
        let mut chunk = [0u8; 4096];
        while let Ok(count) = server_in.read(&mut chunk) {
            if count == 0 {
                break;
            }
            pending.extend_from_slice(&chunk[..count]);
            if !replaced {
                if let Some(at) = pending.windows(from.len()).position(|w| w == from) {
                    pending[at..at + from.len()].copy_from_slice(to);
                    replaced = true;
                }
            }
            // Hold back what could be the start of a pattern split across reads.
            let keep = if replaced {
                0
            } else {
                (from.len() - 1).min(pending.len())
            };
            let send = pending.len() - keep;
            if client_out.write_all(&pending[..send]).is_err() {
                break;
            }
            pending.drain(..send);
        }
        let _ = client_out.write_all(&pending);
        let _ = client_out.shutdown(std::net::Shutdown::Write);
    });
    port
}

#[test]
fn a_server_that_picks_an_alpn_protocol_never_offered_gets_an_error_naming_alpn() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let paths = certs::CertPaths::in_dir(dir.path());
    // TLS 1.2, where the ServerHello (and its ALPN choice) travels in the clear: a proxy makes
    // the server's `x-amzn-http-ca` read `x-amzn-http-cb`, a protocol the device never offered.
    let mut config = EndpointConfig::new(&paths.server_cert, &paths.server_key, &paths.ca_cert, 0);
    config.versions = iot_server::TlsVersions::Tls12Only;
    let endpoint = iot_server::start(config).expect("endpoint");
    let port = rewriting_proxy(endpoint.port(), b"x-amzn-http-ca", b"x-amzn-http-cb");
    let output = demo()
        .args(endpoint_args(dir.path(), port))
        .args(["--json", "--attempts", "1", "--alpn", "x-amzn-http-ca"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    let error = report_error(&output);
    assert!(
        error.contains("ALPN") && error.contains("x-amzn-http-ca"),
        "the error does not name ALPN: {error}\n{:?}",
        text(&output)
    );
}

#[test]
fn every_failed_attempt_gives_back_all_the_heap_it_took() {
    // No answer at all, and an answer that is a retryable error.
    for behaviour in [Behaviour::CloseWithoutAnswer, Behaviour::ForceStatus(503)] {
        let output = run_against(
            behaviour,
            DeviceKey::Rsa2048,
            &["--json", "--attempts", "3", "--retry-delay-ms", "0"],
        );
        assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
        let report = json_report(&output);
        assert_eq!(
            report["heap_lost_per_failed_attempt"],
            serde_json::json!([0, 0, 0]),
            "{behaviour:?}: {report}"
        );
    }
}

#[test]
fn no_key_material_or_whole_certificate_reaches_the_log_even_at_trace_level() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = demo()
        .arg("--certs-dir")
        .arg(dir.path())
        .args(["--log-level", "trace"])
        .output()
        .expect("run");
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let log = format!("{stdout}{stderr}");
    assert!(
        log.contains("DEBUG") || log.contains("TRACE"),
        "the log level did not apply"
    );
    assert!(!log.contains("-----BEGIN"), "PEM text in the log");
    let paths = certs::CertPaths::in_dir(dir.path());
    for secret in [&paths.device_key, &paths.device_cert, &paths.server_key] {
        let pem = std::fs::read_to_string(secret).expect("credential file");
        // Every base64 line of the key or certificate, not only the markers.
        for line in pem
            .lines()
            .filter(|line| line.len() >= 32 && !line.starts_with("-----"))
        {
            assert!(
                !log.contains(line),
                "a line of {} is in the log",
                secret.display()
            );
        }
    }
}

#[test]
fn two_hundred_cycles_all_succeed_with_the_same_free_heap_after_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = demo()
        .arg("--certs-dir")
        .arg(dir.path())
        .args(["--json", "--log-level", "warn", "--iterations", "200"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let report = json_report(&output);
    let free: Vec<u64> = report["heap_free_per_iteration"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(serde_json::Value::as_u64)
        .collect();
    assert_eq!(report["iterations_completed"], 200);
    assert_eq!(free.len(), 200);
    assert!(
        free.windows(2).all(|pair| pair[0] == pair[1]),
        "free heap drifted across iterations: {free:?}"
    );
}

#[test]
fn twenty_cycles_complete_over_a_link_that_loses_and_reorders_frames() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Every loss costs a retransmission timeout (smoltcp's and slirp's floor is 1 s), so the
    // run gets a deadline to match; the seed makes the faults the same on every run.
    let output = demo()
        .arg("--certs-dir")
        .arg(dir.path())
        .args(["--json", "--log-level", "info", "--iterations", "20"])
        .args(["--link-faults", "drop=5%,reorder=2%,seed=20261201"])
        .args(["--deadline", "240", "--timeout-ms", "20000"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let report = json_report(&output);
    assert_eq!(report["iterations_completed"], 20);
    assert!(
        text(&output)
            .0
            .contains("Link faults on: drop=5%,reorder=2%,duplicate=0%,delay=0ms,seed=20261201."),
        "{:?}",
        text(&output)
    );
}

#[test]
fn a_cut_link_fails_cleanly_within_the_deadline() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut run = demo();
    run.arg("--certs-dir").arg(dir.path()).args([
        "--json",
        "--link-faults",
        "drop=100%",
        "--deadline",
        "4",
    ]);
    let error = failure_within(run, Duration::from_secs(8));
    assert!(
        error.contains("network did not come up"),
        "the error does not say the network never came up: {error}"
    );
    let output = demo()
        .args(["--link-faults", "drop=5"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output)
            .1
            .contains("--link-faults: drop must be a percentage"),
        "{:?}",
        text(&output)
    );
}

/// What a run against a misbehaving server must end with.
enum Expect {
    /// Exit 0 with status 200.
    Success,
    /// Exit 1 with an error naming one of these (the cards differ: slirp turns a host's reset
    /// into a FIN, the gateway card passes it on as a reset).
    Failure(&'static [&'static str]),
}

#[test]
fn every_server_fault_ends_in_success_or_its_own_error_in_time_without_losing_heap() {
    use Expect::{Failure, Success};
    use iot_server::faults::Fault;
    let cases = [
        (Fault::SlowAnswer(Duration::from_millis(1500)), Success),
        (
            Fault::NeverAnswer,
            Failure(&["timed out waiting for response bytes"]),
        ),
        (
            Fault::CloseAfterHeaders,
            Failure(&["connection closed before the response was complete"]),
        ),
        (
            Fault::TruncateBody,
            Failure(&["connection closed before the response was complete"]),
        ),
        (
            Fault::ResetMidBody,
            Failure(&["may be cut short", "the connection was reset"]),
        ),
        (
            Fault::MalformedStatusLine,
            Failure(&["malformed status line"]),
        ),
        (
            Fault::MalformedHeader,
            Failure(&["malformed response header"]),
        ),
        (
            Fault::EmptyHeaderName,
            Failure(&["malformed response header"]),
        ),
        (Fault::BadChunkSize, Failure(&["malformed chunk"])),
        (
            Fault::ConflictingContentLength,
            Failure(&["invalid Content-Length"]),
        ),
        (
            Fault::OverflowingContentLength,
            Failure(&["invalid Content-Length"]),
        ),
        (
            Fault::OversizedHeader,
            Failure(&["response head larger than the buffer"]),
        ),
        (Fault::Informational, Success),
        (Fault::Chunked, Success),
        (Fault::OneByteAtATime, Success),
        (
            Fault::AlertAfterHandshake,
            Failure(&["TLS alert 20 (bad_record_mac)"]),
        ),
        (Fault::AnswerBeforeBody, Success),
    ];
    let deadline = 15;
    let results: Vec<String> = thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|(fault, expect)| {
                scope.spawn(move || {
                    let started = Instant::now();
                    let output = run_against(
                        Behaviour::Fault(*fault),
                        DeviceKey::P256,
                        &[
                            "--json",
                            "--attempts",
                            "1",
                            "--deadline",
                            &deadline.to_string(),
                        ],
                    );
                    check_fault_run(*fault, expect, &output, started.elapsed(), deadline)
                })
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or_else(|_| "a case panicked".into()))
            .filter(|problem| !problem.is_empty())
            .collect()
    });
    assert!(results.is_empty(), "{}", results.join("\n\n"));
}

/// An empty string when the run ended as `expect` says, within its deadline, with no panic and
/// no heap lost; else what went wrong.
fn check_fault_run(
    fault: iot_server::faults::Fault,
    expect: &Expect,
    output: &Output,
    took: Duration,
    deadline: u64,
) -> String {
    let (stdout, stderr) = text(output);
    let last = stdout.lines().last().unwrap_or_default();
    let Ok(report) = serde_json::from_str::<serde_json::Value>(last) else {
        return format!(
            "{fault:?}: no JSON report (exit {:?})\n{stdout}\n{stderr}",
            output.status
        );
    };
    let error = report["error"].as_str().unwrap_or_default();
    let ended_as_expected = match expect {
        Expect::Success => output.status.code() == Some(0) && report["http_status"] == 200,
        Expect::Failure(causes) => {
            output.status.code() == Some(1) && causes.iter().any(|cause| error.contains(cause))
        }
    };
    let lost = &report["heap_lost_per_failed_attempt"];
    let no_heap_lost = lost
        .as_array()
        .is_some_and(|lost| lost.iter().all(|value| value == 0));
    if !ended_as_expected || !no_heap_lost || took > Duration::from_secs(deadline + 3) {
        return format!(
            "{fault:?}: exit {:?} after {took:?}, error {error:?}, heap lost {lost}\n{stderr}",
            output.status.code()
        );
    }
    String::new()
}

#[test]
fn a_hundred_early_answers_after_session_tickets_then_a_reset_all_arrive() {
    // The server sends eight TLS 1.3 tickets after the handshake, answers as soon as it has the
    // request head, then reads the body and resets the connection: a client that has not read
    // what came before the reset loses the answer.
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let paths = certs::CertPaths::in_dir(dir.path());
    let mut config = EndpointConfig::new(&paths.server_cert, &paths.server_key, &paths.ca_cert, 0);
    config.behaviour = Behaviour::Fault(iot_server::faults::Fault::AnswerBeforeBody);
    config.tls13_tickets = 8;
    let endpoint = iot_server::start(config).expect("endpoint");
    let output = demo()
        .args(endpoint_args(dir.path(), endpoint.port()))
        .args([
            "--json",
            "--log-level",
            "warn",
            "--iterations",
            "100",
            "--attempts",
            "1",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    assert_eq!(json_report(&output)["iterations_completed"], 100);
    assert_eq!(endpoint.observations().requests.lock().unwrap().len(), 100);
}

/// `openssl s_server` on 127.0.0.1:`port` speaking only `version` (`-tls1`, `-tls1_1`,
/// `-tls1_2`), requiring a device certificate from the PKI in `dir`. Killed on drop.
struct OpensslServer(std::process::Child);

impl OpensslServer {
    fn start(dir: &Path, port: u16, version: &str) -> OpensslServer {
        let paths = certs::CertPaths::in_dir(dir);
        let mut args: Vec<std::ffi::OsString> =
            ["-www", version].into_iter().map(Into::into).collect();
        // OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level.
        args.extend(["-cipher", "DEFAULT:@SECLEVEL=0", "-cert"].map(Into::into));
        args.push(paths.server_cert.into());
        args.push("-key".into());
        args.push(paths.server_key.into());
        args.push("-CAfile".into());
        args.push(paths.ca_cert.into());
        OpensslServer::spawn(port, &args)
    }

    /// `openssl s_server` on 127.0.0.1:`port` with `args` after its own (quiet, a device
    /// certificate required), once it accepts connections.
    fn spawn(port: u16, args: &[std::ffi::OsString]) -> OpensslServer {
        let child = Command::new("openssl")
            .args(["s_server", "-quiet", "-Verify", "1"])
            .arg("-accept")
            .arg(format!("127.0.0.1:{port}"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect(
                "openssl s_server (Debian package openssl; scripts/ensure-deps.sh installs it)",
            );
        // Ready once it accepts.
        let until = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
        }
        OpensslServer(child)
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn servers_that_speak_only_tls_1_0_or_1_1_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    for version in ["-tls1", "-tls1_1"] {
        let port = free_port();
        let _server = OpensslServer::start(dir.path(), port, version);
        let output = demo()
            .args(endpoint_args(dir.path(), port))
            .args(["--json", "--attempts", "1", "--deadline", "10"])
            .output()
            .expect("run");
        assert_eq!(
            output.status.code(),
            Some(1),
            "{version}: {:?}",
            text(&output)
        );
        let error = report_error(&output);
        assert!(
            error.contains("TLS alert 70 (protocol_version)"),
            "{version}: the error does not say the versions did not match: {error}"
        );
    }
}

/// An RSA-2048 root and a `localhost` server certificate it signed, made with the openssl
/// command in `dir`: (root, certificate, key).
fn openssl_rsa_server_chain(
    dir: &Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let run = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl (Debian package openssl)");
        assert!(status.success(), "openssl {args:?}");
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "rsa-root.key",
        "-out",
        "rsa-root.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test RSA root",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    std::fs::write(
        dir.join("rsa-server.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .expect("write");
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "rsa-server.key",
        "-out",
        "rsa-server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "rsa-server.csr",
        "-CA",
        "rsa-root.pem",
        "-CAkey",
        "rsa-root.key",
        "-CAcreateserial",
        "-out",
        "rsa-server.pem",
        "-days",
        "2",
        "-extfile",
        "rsa-server.ext",
    ]);
    (
        dir.join("rsa-root.pem"),
        dir.join("rsa-server.pem"),
        dir.join("rsa-server.key"),
    )
}

/// The server's chain is freed once the handshake no longer needs it: with ECDHE after the
/// server's key exchange is verified, with static RSA only after the device's key exchange,
/// which encrypts to the server's key. Both complete against OpenSSL (TLS 1.2, an RSA chain);
/// its `-rev` mode answers the POST with the request reversed, which the HTTP client refuses.
#[test]
fn tls_1_2_with_ecdhe_and_with_static_rsa_key_exchange_completes() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::Rsa2048).expect("certificates");
    let (root, server_cert, server_key) = openssl_rsa_server_chain(dir.path());
    let device = certs::CertPaths::in_dir(dir.path());
    for (openssl_suite, mbed_tls_suite) in [
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256",
        ),
        ("AES128-GCM-SHA256", "TLS-RSA-WITH-AES-128-GCM-SHA256"),
    ] {
        let port = free_port();
        let args: Vec<std::ffi::OsString> = vec![
            "-rev".into(),
            "-tls1_2".into(),
            "-cipher".into(),
            openssl_suite.into(),
            "-cert".into(),
            server_cert.clone().into(),
            "-key".into(),
            server_key.clone().into(),
            "-CAfile".into(),
            device.ca_cert.clone().into(),
        ];
        let _server = OpensslServer::spawn(port, &args);
        let output = demo()
            .args(["--endpoint", "localhost", "--port", &port.to_string()])
            .arg("--root-ca")
            .arg(&root)
            .arg("--client-cert")
            .arg(&device.device_cert)
            .arg("--client-key")
            .arg(&device.device_key)
            .args(["--json", "--attempts", "1", "--deadline", "10"])
            .output()
            .expect("run");
        let report = json_report(&output);
        assert_eq!(
            report["tls"]["cipher"],
            mbed_tls_suite,
            "{openssl_suite}: {:?}",
            text(&output)
        );
        let error = report_error(&output);
        assert!(
            error.contains("HTTP exchange failed: malformed status line"),
            "{openssl_suite}: expected the reversed answer to be refused, got: {error}"
        );
    }
}

#[test]
fn configuration_errors_name_the_cause_and_exit_2() {
    let output = demo().args(["--qos", "2"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("--qos: \"2\" is not 0 or 1"));
    let output = demo()
        .args([
            "--endpoint",
            "localhost",
            "--root-ca",
            "/nonexistent/ca.pem",
            "--client-cert",
            "/nonexistent/c.pem",
            "--client-key",
            "/nonexistent/k.pem",
        ])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output).1.contains("/nonexistent/ca.pem"),
        "{:?}",
        text(&output)
    );
    let output = demo().arg("--frobnicate").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output)
            .1
            .contains("unknown argument \"--frobnicate\"")
    );
}

/// The binary really contains the FreeRTOS kernel, not a stand-in.
#[test]
fn the_binary_links_the_freertos_kernel() {
    let output = Command::new("nm")
        .arg(env!("CARGO_BIN_EXE_http-mutual-auth-demo"))
        .output()
        .expect("run nm (binutils)");
    assert!(
        output.status.success(),
        "nm failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let symbols = String::from_utf8_lossy(&output.stdout);
    for symbol in [
        "vTaskStartScheduler",
        "xPortGetFreeHeapSize",
        "xPortGetMinimumEverFreeHeapSize",
        "pvPortMalloc",
        "xTaskIncrementTick",
    ] {
        assert!(
            symbols
                .lines()
                .any(|line| line.ends_with(&format!(" T {symbol}"))),
            "{symbol} is not defined in the binary"
        );
    }
}

#[test]
fn the_heap_trace_accounts_for_the_peak_by_owner_and_marks_every_phase() {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("heap.csv");
    let output = {
        let mut command = demo();
        command.env("IOT_HEAP_TRACE", &trace);
        let certs_dir = dir.path().join("pki");
        certs::generate_into(&certs_dir, DeviceKey::Rsa2048).expect("certificates");
        let endpoint = start_endpoint(&certs_dir, 0, Behaviour::Normal);
        command
            .args(endpoint_args(&certs_dir, endpoint.port()))
            .arg("--json")
            .output()
            .expect("run the demo")
    };
    let report = json_report(&output);
    assert_eq!(report["result"], "pass", "{report}");
    let text = std::fs::read_to_string(&trace).expect("the trace is written");
    let field = |line: &str, at: usize| line.split(',').nth(at).unwrap_or_default().to_owned();
    let peak_line = text
        .lines()
        .find(|line| line.starts_with("# peak,"))
        .expect("# peak");
    let peak: u64 = field(peak_line, 1).parse().expect("a number");
    // The trace's peak is heap_4's own peak: the hooks saw every allocation.
    assert_eq!(Some(peak), report["heap_peak_used"].as_u64(), "{peak_line}");
    let owners: Vec<(String, u64)> = text
        .lines()
        .filter(|line| line.starts_with("# owner,"))
        .map(|line| (field(line, 1), field(line, 2).parse().expect("a number")))
        .collect();
    let counted: u64 = owners.iter().map(|(_, bytes)| bytes).sum();
    assert!(
        counted <= peak && peak - counted < 256,
        "owners {owners:?} account for {counted} of {peak} B"
    );
    let bytes_of = |name: &str| {
        owners
            .iter()
            .find(|(owner, _)| owner == name)
            .map_or(0, |(_, bytes)| *bytes)
    };
    // At the handshake's peak Mbed TLS holds at least its 16 KiB incoming record buffer, and
    // the kernel a block for each task's stack (the app, IP and idle tasks): on this port
    // only the kernel's minimum, 512 B, since task code runs on the pthread's own stack. On
    // FreeRTOS+TCP the kernel's share also holds that stack's own C allocations (its network
    // buffers and queues come from pvPortMalloc too), so only the floor applies there.
    assert!(bytes_of("Mbed TLS (C)") > 16 * 1024, "{owners:?}");
    let kernel = bytes_of("kernel (task stacks/TCBs/queues)");
    assert!(kernel >= 3 * 512, "{owners:?}");
    if !cfg!(feature = "freertos-plus-tcp") {
        assert!(kernel < 8 * 1024, "{owners:?}");
    }
    let phases: Vec<String> = text
        .lines()
        .filter(|line| line.contains(",phase,"))
        .map(|line| field(line, 3))
        .collect();
    assert_eq!(
        phases,
        [
            "network up",
            "credentials",
            "TCP connect",
            "TLS handshake",
            "HTTP request",
            "disconnect",
            "done"
        ],
        "{text:.2000}"
    );
    // No allocation or free escaped the hooks: each event moves the heap in use by exactly
    // its block's size.
    let mut previous: Option<u64> = None;
    for line in text
        .lines()
        .filter(|line| line.contains(",alloc,") || line.contains(",free,"))
    {
        let used: u64 = field(line, 1).parse().expect("a number");
        let size: u64 = field(line, 5).parse().expect("a number");
        if let Some(before) = previous {
            let expected = if line.contains(",alloc,") {
                before + size
            } else {
                before - size
            };
            assert_eq!(used, expected, "after {before} B in use: {line}");
        }
        previous = Some(used);
    }
}

// -- endpointapi: what the device published, as the bundled endpoint understood it.
#[test]
fn the_endpoint_records_the_device_s_publish_as_aws_iot_s_api_reads_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let endpoint = start_endpoint(dir.path(), 0, Behaviour::Normal);
    let output = demo()
        .args(endpoint_args(dir.path(), endpoint.port()))
        .args(["--topic", "sensors/room 1/t", "--qos", "0"])
        .args(["--message", r#"{"t":21.5}"#, "--attempts", "1"])
        .output()
        .expect("run the demo");
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let requests = endpoint.observations().requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].status, 200);
    let publish = requests[0].publish.clone().expect("a valid publish");
    assert_eq!(publish.topic, "sensors/room 1/t");
    assert_eq!((publish.qos, publish.retain), (0, false));
    assert_eq!(publish.payload, br#"{"t":21.5}"#);
    assert!(
        publish
            .summary()
            .starts_with("publish topic=\"sensors/room 1/t\" qos=0 retain=false"),
        "{}",
        publish.summary()
    );
    assert!(endpoint.observations().retained.list().is_empty());
}

// -- publish: the AWS IoT publish API's options through the real device stack.

/// Runs the demo with `args` against an endpoint of its own; returns the run, the paths
/// (query included) of the requests that reached the endpoint, and what the endpoint made of
/// each (`None` for a request it refused).
fn publish_against(
    behaviour: Behaviour,
    args: &[&str],
) -> (
    Output,
    Vec<String>,
    Vec<Option<iot_server::publish_api::Publish>>,
) {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let endpoint = start_endpoint(dir.path(), 0, behaviour);
    let output = demo()
        .args(endpoint_args(dir.path(), endpoint.port()))
        .args(args)
        .output()
        .expect("run the demo");
    let requests = endpoint.observations().requests.lock().unwrap().clone();
    let paths = requests
        .iter()
        .map(|request| request.path.clone())
        .collect();
    let publishes = requests
        .into_iter()
        .map(|request| request.publish)
        .collect();
    (output, paths, publishes)
}

#[test]
fn a_publish_with_every_mqtt5_option_succeeds_and_arrives_with_its_query() {
    let (output, paths, publishes) = publish_against(
        Behaviour::Normal,
        &[
            "--json",
            "--topic",
            "dt/room 1/temp",
            "--retain",
            "--content-type",
            "application/json",
            "--message-expiry",
            "3600",
            "--response-topic",
            "dt/room 1/reply",
            "--user-property",
            "device=alpha",
            "--user-property",
            "note=say \"hi\"\\",
            "--payload-format",
            "utf8",
            "--correlation-data",
            "request-7",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    assert_eq!(json_report(&output)["http_status"], 200);
    assert_eq!(
        paths,
        [
            "/topics/dt%2Froom%201%2Ftemp?qos=1&retain=true&contentType=application%2Fjson\
             &messageExpiry=3600&responseTopic=dt%2Froom%201%2Freply"
        ]
    );
    // The headers too, as the bundled endpoint (AWS IoT's API) decodes them.
    let publish = publishes[0]
        .clone()
        .expect("the endpoint accepted the publish");
    assert_eq!(publish.topic, "dt/room 1/temp");
    assert_eq!((publish.qos, publish.retain), (1, true));
    assert_eq!(publish.content_type.as_deref(), Some("application/json"));
    assert_eq!(publish.message_expiry, Some(3600));
    assert_eq!(publish.response_topic.as_deref(), Some("dt/room 1/reply"));
    let properties = [("device", "alpha"), ("note", "say \"hi\"\\")]
        .map(|(name, value)| (name.to_owned(), value.to_owned()));
    assert_eq!(publish.user_properties, Some(properties.to_vec()));
    assert_eq!(
        publish.payload_format,
        Some(iot_server::publish_api::PayloadFormat::Utf8Data)
    );
    assert_eq!(publish.correlation_data.as_deref(), Some(&b"request-7"[..]));
}

#[test]
fn a_topic_aws_iot_would_refuse_is_a_configuration_error_before_any_connection() {
    for (args, named) in [
        (
            &["--topic", "sensors/#"][..],
            "--topic: the topic holds the wildcard '#'",
        ),
        (
            &["--response-topic", "a/+/b"][..],
            "--response-topic: response topic",
        ),
        (
            &["--topic", "1/2/3/4/5/6/7/8/9"][..],
            "--topic: the topic has 8 slashes",
        ),
        (&["--payload-format", "text"][..], "--payload-format"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
        let endpoint = start_endpoint(dir.path(), 0, Behaviour::Normal);
        let started = Instant::now();
        let output = demo()
            .args(endpoint_args(dir.path(), endpoint.port()))
            .args(args)
            .output()
            .expect("run the demo");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {:?}",
            text(&output)
        );
        assert!(
            text(&output).1.contains(named),
            "{args:?}: {:?}",
            text(&output)
        );
        assert!(started.elapsed() < Duration::from_secs(5), "{args:?}");
        thread::sleep(Duration::from_millis(100));
        let observed = endpoint.observations();
        let handshakes = observed
            .handshakes
            .load(std::sync::atomic::Ordering::SeqCst)
            + observed
                .failed_handshakes
                .load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(handshakes, 0, "{args:?}: a connection was made");
    }
}

#[test]
fn a_throttled_publish_is_retried_and_a_bad_request_is_not() {
    let (output, paths, _) = publish_against(
        Behaviour::ForceStatus(429),
        &["--json", "--attempts", "3", "--retry-delay-ms", "10"],
    );
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    assert_eq!(
        paths.len(),
        3,
        "429 is retried until the attempts are used up"
    );
    let error = report_error(&output);
    assert!(
        error.contains("429 too many requests (throttled): Forced status for topic")
            && error.contains("(retryable)"),
        "the error names neither the status nor the server's message: {error}"
    );
    for status in [400, 403, 413] {
        let (output, paths, _) = publish_against(
            Behaviour::ForceStatus(status),
            &["--json", "--attempts", "3", "--retry-delay-ms", "10"],
        );
        assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
        assert_eq!(paths.len(), 1, "{status} was retried");
        let error = report_error(&output);
        assert!(
            error.contains(&format!("{status} ")) && error.contains("Forced status for topic"),
            "{error}"
        );
        assert!(error.contains("(not retryable)"), "{error}");
    }
}

// -- resume: TLS session resumption.

/// An endpoint on `port` (0: any) with the PKI in `dir`, serving `versions` and resuming
/// sessions as `resumption` says.
fn resuming_endpoint(
    dir: &Path,
    port: u16,
    versions: iot_server::TlsVersions,
    resumption: iot_server::SessionResumption,
) -> iot_server::RunningEndpoint {
    let paths = certs::CertPaths::in_dir(dir);
    let mut config =
        EndpointConfig::new(&paths.server_cert, &paths.server_key, &paths.ca_cert, port);
    config.versions = versions;
    config.resumption = resumption;
    start_when_port_free(config)
}

/// Starts `config`, waiting (up to 2 s) for its port while an endpoint dropped just before
/// still lets it go (its accept loop stops asynchronously).
fn start_when_port_free(config: EndpointConfig) -> iot_server::RunningEndpoint {
    for _ in 0..100 {
        match iot_server::start(config.clone()) {
            Err(iot_server::StartError::Bind(error))
                if error.kind() == std::io::ErrorKind::AddrInUse =>
            {
                thread::sleep(Duration::from_millis(20));
            }
            started => return started.expect("endpoint"),
        }
    }
    panic!("port {} stayed in use", config.bind.port());
}

/// The demo against `port` with the PKI in `dir` and `args`, which must succeed; its JSON
/// report and its stdout.
fn resuming_run(dir: &Path, port: u16, args: &[&str]) -> (serde_json::Value, String) {
    let output = demo()
        .env_remove("IOT_NO_RESUME")
        .env_remove("IOT_SESSION_FILE")
        .args(endpoint_args(dir, port))
        .arg("--json")
        .args(args)
        .output()
        .expect("run the demo");
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    (json_report(&output), text(&output).0)
}

fn resumed(report: &serde_json::Value) -> Vec<bool> {
    report["resumed_per_iteration"]
        .as_array()
        .unwrap_or_else(|| panic!("no resumed_per_iteration in {report}"))
        .iter()
        .map(|value| value.as_bool().expect("a boolean"))
        .collect()
}

#[test]
fn the_second_cycle_resumes_the_first_ones_session_on_tls_1_3_and_tls_1_2() {
    use iot_server::SessionResumption::{Cache, Tickets};
    use iot_server::TlsVersions::{Tls12Only, Tls13Only};
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let tickets = Tickets { lifetime_s: 3600 };
    for (versions, resumption, version) in [
        (Tls13Only, Cache, "TLSv1.3"),
        (Tls13Only, tickets, "TLSv1.3"),
        (Tls12Only, Cache, "TLSv1.2"),
        (Tls12Only, tickets, "TLSv1.2"),
    ] {
        let endpoint = resuming_endpoint(dir.path(), 0, versions, resumption);
        let (report, stdout) = resuming_run(dir.path(), endpoint.port(), &["--iterations", "3"]);
        let case = format!("{versions:?} {resumption:?}");
        assert_eq!(report["tls"]["version"], version, "{case}");
        assert_eq!(resumed(&report), [false, true, true], "{case}: {stdout}");
        assert!(stdout.contains(": full handshake."), "{case}: {stdout}");
        assert!(stdout.contains(": resumed session."), "{case}: {stdout}");
        // The kept session is in the heap from the first cycle on, and stays the same size.
        let free = report["heap_free_per_iteration"].as_array().expect("array");
        assert!(
            free.windows(2).all(|pair| pair[0] == pair[1]),
            "{case}: {report}"
        );
        assert_eq!(endpoint.observations().requests.lock().unwrap().len(), 3);
    }
}

#[test]
fn no_resume_makes_every_handshake_a_full_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let endpoint = resuming_endpoint(
        dir.path(),
        0,
        iot_server::TlsVersions::Both,
        iot_server::SessionResumption::Cache,
    );
    let (report, stdout) = resuming_run(
        dir.path(),
        endpoint.port(),
        &["--iterations", "2", "--no-resume"],
    );
    assert_eq!(resumed(&report), [false, false], "{stdout}");
    let output = demo()
        .args(endpoint_args(dir.path(), endpoint.port()))
        .args(["--json", "--iterations", "2"])
        .env("IOT_NO_RESUME", "1")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    assert_eq!(resumed(&json_report(&output)), [false, false]);
}

#[test]
fn a_server_that_refuses_every_ticket_gets_full_handshakes_without_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    for versions in [
        iot_server::TlsVersions::Tls13Only,
        iot_server::TlsVersions::Tls12Only,
    ] {
        let endpoint = resuming_endpoint(
            dir.path(),
            0,
            versions,
            iot_server::SessionResumption::IssueButReject,
        );
        let (report, stdout) = resuming_run(
            dir.path(),
            endpoint.port(),
            &["--iterations", "3", "--attempts", "1"],
        );
        assert_eq!(resumed(&report), [false, false, false], "{versions:?}");
        assert_eq!(
            stdout
                .matches("The server did not resume the saved TLS session.")
                .count(),
            2,
            "{versions:?}: {stdout}"
        );
    }
}

#[test]
fn a_session_file_carries_the_session_to_the_next_run_and_a_restarted_server_refuses_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let file = dir.path().join("session.bin");
    let file_arg = file.display().to_string();
    let tickets = iot_server::SessionResumption::Tickets { lifetime_s: 3600 };
    let endpoint = resuming_endpoint(dir.path(), 0, iot_server::TlsVersions::Both, tickets);
    let port = endpoint.port();
    let with_file = ["--session-file", file_arg.as_str()];
    let (first, _) = resuming_run(dir.path(), port, &with_file);
    assert_eq!(resumed(&first), [false]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("the session file")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the session file is readable by others"
        );
    }
    let (second, stdout) = resuming_run(dir.path(), port, &with_file);
    assert_eq!(resumed(&second), [true], "{stdout}");
    // The same through the environment variable.
    let output = demo()
        .args(endpoint_args(dir.path(), port))
        .arg("--json")
        .env("IOT_SESSION_FILE", &file)
        .output()
        .expect("run");
    assert_eq!(
        resumed(&json_report(&output)),
        [true],
        "{:?}",
        text(&output)
    );
    // A restarted server has a new ticket key: the saved session is refused, the run does a
    // full handshake and succeeds, and keeps the new server's session.
    drop(endpoint);
    let restarted = resuming_endpoint(dir.path(), port, iot_server::TlsVersions::Both, tickets);
    let (refused, stdout) = resuming_run(dir.path(), port, &with_file);
    assert_eq!(resumed(&refused), [false], "{stdout}");
    assert!(
        stdout.contains("The server did not resume the saved TLS session."),
        "{stdout}"
    );
    let (again, _) = resuming_run(dir.path(), port, &with_file);
    assert_eq!(resumed(&again), [true]);
    drop(restarted);
}

#[test]
fn a_damaged_or_expired_session_file_means_a_full_handshake_with_a_warning() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let file = dir.path().join("session.bin");
    let file_arg = file.display().to_string();
    let with_file = ["--session-file", file_arg.as_str()];
    let endpoint = resuming_endpoint(
        dir.path(),
        0,
        iot_server::TlsVersions::Tls13Only,
        iot_server::SessionResumption::Tickets { lifetime_s: 2 },
    );
    let port = endpoint.port();
    resuming_run(dir.path(), port, &with_file);
    let good = std::fs::read(&file).expect("a session file");
    let damaged: [(&str, Vec<u8>); 4] = [
        ("garbage", b"not a session file at all".to_vec()),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("flipped", {
            let mut bytes = good.clone();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
            bytes
        }),
        ("oversized", vec![b'x'; 64 * 1024]),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&file, bytes).expect("write");
        let (report, stdout) = resuming_run(dir.path(), port, &with_file);
        assert_eq!(resumed(&report), [false], "{what}");
        assert!(
            stdout.contains("cannot be used") && stdout.contains("Full TLS handshake"),
            "{what}: {stdout}"
        );
        // The run kept a good session again: the next one resumes.
        let (next, stdout) = resuming_run(dir.path(), port, &with_file);
        assert_eq!(resumed(&next), [true], "after {what}: {stdout}");
    }
    // The ticket lives 2 s: after that the device does not offer it.
    thread::sleep(Duration::from_millis(2500));
    let (expired, stdout) = resuming_run(dir.path(), port, &with_file);
    assert_eq!(resumed(&expired), [false], "{stdout}");
    assert!(
        stdout.contains("The saved TLS session has expired."),
        "{stdout}"
    );
}

#[test]
fn failed_attempts_after_a_resumed_handshake_give_back_all_the_heap_they_took() {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::Rsa2048).expect("certificates");
    for versions in [
        iot_server::TlsVersions::Tls13Only,
        iot_server::TlsVersions::Tls12Only,
    ] {
        let paths = certs::CertPaths::in_dir(dir.path());
        let mut config =
            EndpointConfig::new(&paths.server_cert, &paths.server_key, &paths.ca_cert, 0);
        config.versions = versions;
        config.behaviour = Behaviour::CloseWithoutAnswerAfter(1);
        let endpoint = iot_server::start(config).expect("endpoint");
        let output = demo()
            .args(endpoint_args(dir.path(), endpoint.port()))
            .args(["--json", "--iterations", "2", "--attempts", "3"])
            .args(["--retry-delay-ms", "0"])
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
        let report = json_report(&output);
        assert_eq!(resumed(&report), [false], "{versions:?}");
        assert_eq!(
            report["heap_lost_per_failed_attempt"],
            serde_json::json!([0, 0, 0]),
            "{versions:?}: {report}"
        );
        // The first failed attempt resumed the first cycle's session (a server may take a
        // ticket once only: the later ones may be full handshakes).
        assert!(
            text(&output).0.matches(": resumed session.").count() >= 1,
            "{versions:?}: the failed attempts did not resume: {:?}",
            text(&output)
        );
    }
}

#[test]
fn a_server_that_refuses_the_session_is_verified_in_full_also_without_sni() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = certs::generate_test_pki(dir.path()).expect("test PKI");
    let (device_cert, device_key) = pki.device(DeviceKey::P256);
    let port = free_port();
    let serve = |(cert, key): &(std::path::PathBuf, std::path::PathBuf)| {
        let mut config = EndpointConfig::new(cert, key, &pki.ca_cert, port);
        config.resumption = iot_server::SessionResumption::Tickets { lifetime_s: 3600 };
        start_when_port_free(config)
    };
    for sni in [false, true] {
        let file = dir.path().join(format!("session-{sni}.bin"));
        let run = || {
            let mut command = demo();
            command
                .args(["--endpoint", "localhost", "--port", &port.to_string()])
                .arg("--root-ca")
                .arg(&pki.ca_cert)
                .arg("--client-cert")
                .arg(&device_cert)
                .arg("--client-key")
                .arg(&device_key)
                .arg("--session-file")
                .arg(&file)
                .args(["--json", "--attempts", "1"]);
            if !sni {
                command.arg("--no-sni");
            }
            command.output().expect("run the demo")
        };
        let good = serve(&pki.server);
        let first = run();
        assert_eq!(first.status.code(), Some(0), "{:?}", text(&first));
        let second = run();
        assert_eq!(
            resumed(&json_report(&second)),
            [true],
            "sni {sni}: {:?}",
            text(&second)
        );
        drop(good);
        // The same address now serves a certificate for another name: the saved session is
        // refused, and the full handshake must find the name wrong.
        let _impostor = serve(&pki.server_wrong_name);
        let third = run();
        assert_eq!(
            third.status.code(),
            Some(1),
            "sni {sni}: {:?}",
            text(&third)
        );
        let error = report_error(&third);
        assert!(error.contains("name mismatch"), "sni {sni}: {error}");
    }
}

// -- reuse: publishes over one kept-alive connection.

/// Runs the demo with `args` against an endpoint of its own, configured by `tweak`; returns
/// the run and the endpoint, for what it saw.
fn run_reusing(
    tweak: impl FnOnce(&mut EndpointConfig),
    args: &[&str],
) -> (Output, iot_server::RunningEndpoint) {
    let dir = tempfile::tempdir().expect("temp dir");
    certs::generate_into(dir.path(), DeviceKey::P256).expect("certificates");
    let paths = certs::CertPaths::in_dir(dir.path());
    let mut config = EndpointConfig::new(&paths.server_cert, &paths.server_key, &paths.ca_cert, 0);
    tweak(&mut config);
    let endpoint = iot_server::start(config).expect("endpoint");
    let output = demo()
        .env_remove("IOT_PUBLISHES")
        .args(endpoint_args(dir.path(), endpoint.port()))
        .args(["--json"])
        .args(args)
        .output()
        .expect("run the demo");
    (output, endpoint)
}

/// Requests the endpoint answered, and connections whose handshake completed.
fn seen(endpoint: &iot_server::RunningEndpoint) -> (usize, usize) {
    let observations = endpoint.observations();
    let requests = observations.requests.lock().unwrap().len();
    let handshakes = observations
        .handshakes
        .load(std::sync::atomic::Ordering::SeqCst);
    (requests, handshakes)
}

#[test]
fn five_publishes_share_one_connection() {
    let (output, endpoint) = run_reusing(|_| {}, &["--publishes", "5"]);
    assert_eq!(output.status.code(), Some(0), "{:?}", text(&output));
    let report = json_report(&output);
    assert_eq!(
        (
            &report["publishes"],
            &report["publishes_completed"],
            &report["connections"],
            &report["publishes_resent"]
        ),
        (&5.into(), &5.into(), &1.into(), &0.into())
    );
    assert_eq!(seen(&endpoint), (5, 1));
    let new_connection = report["publish_new_connection"].as_array().expect("flags");
    assert_eq!(
        new_connection,
        &[true, false, false, false, false].map(serde_json::Value::from)
    );
    let summary = &report["publish_summary"];
    assert_eq!(summary["reused"]["count"], 4);
    let first = summary["new_connection"]["median_ms"]
        .as_f64()
        .expect("first");
    let later = summary["reused"]["median_ms"].as_f64().expect("later");
    // The first publish carries the mutual-TLS handshake; the later ones do not.
    assert!(later < first, "first {first} ms, later {later} ms");
    let (stdout, _) = text(&output);
    assert!(
        stdout.contains("Publish 5 of 5 on connection 1."),
        "{stdout}"
    );
}

#[test]
fn a_server_that_closes_after_every_two_requests_still_gets_five_publishes() {
    for announced in [true, false] {
        let (output, endpoint) = run_reusing(
            |config| {
                config.close_after = Some(iot_server::CloseAfter {
                    requests: 2,
                    announced,
                })
            },
            &["--publishes", "5"],
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "announced {announced}: {:?}",
            text(&output)
        );
        let report = json_report(&output);
        assert_eq!(report["publishes_completed"], 5, "{report}");
        assert_eq!(report["connections"], 3, "{report}");
        // The endpoint reads no request on a connection it has ended: every request it got,
        // it answered, and it got each publish once.
        assert_eq!(seen(&endpoint), (5, 3), "announced {announced}");
        let resent = report["publishes_resent"].as_u64().expect("resent");
        if announced {
            assert_eq!(resent, 0, "{report}");
            let (stdout, _) = text(&output);
            assert!(
                stdout.contains(
                    "Connection 1 ended after 2 publish(es): the server answered Connection: \
                     close. Reconnecting for publish 3 of 5."
                ),
                "{stdout}"
            );
        } else {
            // A request sent before the server's close arrived is sent again, and counted.
            assert!(resent <= 2, "{report}");
        }
    }
}

#[test]
fn publishes_that_are_never_answered_again_end_the_run_within_its_deadline() {
    let started = Instant::now();
    let (output, endpoint) = run_reusing(
        |config| config.behaviour = Behaviour::CloseWithoutAnswerAfter(2),
        &[
            "--publishes",
            "5",
            "--attempts",
            "1000",
            "--retry-delay-ms",
            "100",
            "--deadline",
            "4",
        ],
    );
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{:?}", text(&output));
    assert!(took < Duration::from_secs(4 + 3), "the run took {took:?}");
    let report = json_report(&output);
    let error = report["error"].as_str().unwrap_or_default();
    assert!(error.contains("deadline of 4 s passed"), "{error}");
    assert_eq!(report["publishes_completed"], 2, "{report}");
    // Publish 3 was sent, unanswered, then sent again on every later connection.
    assert!(report["publishes_resent"].as_u64() >= Some(2), "{report}");
    assert!(report["connections"].as_u64() >= Some(3), "{report}");
    assert_eq!(seen(&endpoint).0, 2);
}

#[test]
fn a_bad_publish_count_is_a_configuration_error_naming_the_flag() {
    for bad in ["0", "10001", "x"] {
        let output = demo().args(["--publishes", bad]).output().expect("run");
        assert_eq!(output.status.code(), Some(2), "{bad}");
        assert!(
            text(&output).1.contains("--publishes: "),
            "{bad}: {:?}",
            text(&output)
        );
    }
    let output = demo().env("IOT_PUBLISHES", "0").output().expect("run");
    assert_eq!(output.status.code(), Some(2));
}
