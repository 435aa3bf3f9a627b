//! Security defaults that no setting may undo, checked in the source itself: the device never
//! asks Mbed TLS for less than a verified peer, and never offers a TLS version below 1.2.
//! (The behaviour behind them is tested end to end: untrusted, expired and misnamed servers in
//! `crates/harness/tests/tls.rs`, TLS 1.0/1.1-only servers in `tests/application.rs`.)

use std::fs;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("readable source tree") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn certificate_verification_cannot_be_turned_off_or_bypassed() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = rust_files(&src);
    assert!(
        files.len() > 20,
        "the source tree was not found at {}",
        src.display()
    );
    let mut required = 0;
    for file in &files {
        let text = fs::read_to_string(file).expect("readable file");
        for forbidden in [
            "MBEDTLS_SSL_VERIFY_NONE",
            "MBEDTLS_SSL_VERIFY_OPTIONAL",
            // A verification callback can clear every failure flag.
            "mbedtls_ssl_conf_verify",
            "mbedtls_ssl_set_verify",
        ] {
            assert!(
                !text.contains(forbidden),
                "{} uses {forbidden}: peer verification must stay required",
                file.display()
            );
        }
        required += text.matches("MBEDTLS_SSL_VERIFY_REQUIRED").count();
    }
    assert_eq!(
        required, 1,
        "one place sets the authentication mode, to required"
    );
}

#[test]
fn no_tls_version_below_1_2_can_be_configured() {
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tls");
    for file in rust_files(&tls) {
        let text = fs::read_to_string(&file).expect("readable file");
        for old in ["TLS1_0", "TLS1_1", "SSL3", "Tls10", "Tls11"] {
            assert!(
                !text.contains(old),
                "{} names {old}: the device speaks TLS 1.2 and 1.3 only",
                file.display()
            );
        }
    }
}
