//! The device application binary, run as a user runs it.

use std::process::Command;

fn demo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_http-mutual-auth-demo"))
}

#[test]
fn the_application_boots_the_kernel_reports_the_heap_and_exits_zero() {
    let output = demo()
        .env_remove("FREERTOS_HTTPS_LOG")
        .output()
        .expect("run the application");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("FreeRTOS kernel running: tick rate 1000 Hz"),
        "stdout: {stdout}"
    );
    let free_heap: usize = stdout
        .split("free heap ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .expect("a 'free heap N' figure");
    assert!(
        free_heap > 0 && free_heap < 512 * 1024,
        "free heap {free_heap}"
    );
}

#[test]
fn an_unknown_argument_is_refused_with_usage_and_status_2() {
    let output = demo()
        .arg("--frobnicate")
        .output()
        .expect("run the application");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unknown argument \"--frobnicate\""),
        "stderr: {stderr}"
    );
    assert!(stderr.contains("usage:"), "stderr: {stderr}");
}

#[test]
fn an_invalid_log_level_is_refused_naming_the_value() {
    let output = demo()
        .env("FREERTOS_HTTPS_LOG", "loud")
        .output()
        .expect("run the application");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid log level \"loud\""));
}

#[test]
fn the_log_level_can_silence_logging() {
    let output = demo()
        .args(["--log-level", "off"])
        .output()
        .expect("run the application");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("INFO"), "stdout: {stdout}");
    assert!(stdout.contains("free heap"), "stdout: {stdout}");
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
