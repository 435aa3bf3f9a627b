//! Mbed TLS through the real kernel without a network (`tls-offline-selftest`): the same
//! scenarios `scripts/test-windows.sh` runs on the Windows simulator under wine, here on the
//! POSIX simulator. Each runs in a process of its own with a freshly generated test PKI.

mod common;

use std::path::PathBuf;

use iot_server::certs::{DeviceKey, generate_into};

const SELFTEST: &str = env!("CARGO_BIN_EXE_tls-offline-selftest");

/// A test PKI of this test's own, in a directory named after the process and the scenario.
fn credentials_dir(scenario: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "freertos-https-tls-offline-{}-{scenario}",
        std::process::id()
    ));
    generate_into(&dir, DeviceKey::P256).expect("generate the test PKI");
    dir
}

fn expect_pass(scenario: &str) -> String {
    let dir = credentials_dir(scenario);
    let details = common::expect_pass_with_env(
        SELFTEST,
        scenario,
        &[(
            "TLS_OFFLINE_CERTS",
            dir.to_str().expect("a UTF-8 temporary path"),
        )],
    );
    let _ = std::fs::remove_dir_all(&dir);
    details
}

#[test]
fn the_client_sends_a_client_hello_with_sni_and_a_leaving_peer_is_peer_closed() {
    let details = expect_pass("client_hello");
    assert!(details.contains("PeerClosed"), "{details}");
}

#[test]
fn a_device_key_that_is_not_a_key_is_named_before_anything_is_sent() {
    let details = expect_pass("bad_key_is_named");
    assert!(details.contains("client key"), "{details}");
}

#[test]
fn rsa_exponentiation_on_the_stack_agrees_with_mbed_tls_and_is_linked_in() {
    let details = expect_pass("rsa_exponentiation");
    assert!(details.contains("routed here"), "{details}");
}
