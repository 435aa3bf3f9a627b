//! The `iot-server` binary as a user runs it.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

const SERVER: &str = env!("CARGO_BIN_EXE_iot-server");

#[test]
fn gen_certs_writes_the_pki_with_private_keys_readable_only_by_the_owner() {
    let dir = tempfile::tempdir().expect("temp dir");
    for key in ["rsa", "ec"] {
        let status = Command::new(SERVER)
            .args(["gen-certs", "--dir"])
            .arg(dir.path())
            .args(["--device-key", key])
            .status()
            .expect("run");
        assert!(status.success());
        for file in ["ca.pem", "server.pem", "device.pem"] {
            let text = std::fs::read_to_string(dir.path().join(file)).expect("certificate");
            assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{file}");
        }
        for file in ["ca.key", "server.key", "device.key"] {
            let mode = std::fs::metadata(dir.path().join(file))
                .expect("key")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }
}

#[test]
fn serve_generates_certificates_once_and_reuses_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first_ca = String::new();
    for run in 0..2 {
        let mut child = Command::new(SERVER)
            .args(["--port", "0", "--certs"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("banner");
        child.kill().expect("stop");
        let _ = child.wait();
        assert!(line.contains("listening on https://127.0.0.1:"), "{line}");
        let ca = std::fs::read_to_string(dir.path().join("ca.pem")).expect("ca");
        if run == 0 {
            first_ca = ca;
        } else {
            assert_eq!(
                ca, first_ca,
                "the second run generated a new CA instead of reusing it"
            );
        }
    }
}

#[test]
fn bad_arguments_are_refused_with_usage() {
    let output = Command::new(SERVER)
        .args(["gen-certs", "--device-key", "dsa"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--device-key must be rsa or ec"));
}
