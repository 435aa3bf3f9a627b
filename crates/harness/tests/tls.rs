//! Mutual TLS through the real kernel, smoltcp, slirp and Mbed TLS against the bundled
//! endpoint: each scenario of `tls-selftest` in a process of its own.

mod common;

const SELFTEST: &str = env!("CARGO_BIN_EXE_tls-selftest");

fn expect_pass(name: &str) -> String {
    common::expect_pass(SELFTEST, name)
}

#[test]
fn every_key_type_works_on_tls_1_2_and_1_3_and_the_server_sees_close_notify() {
    let details = expect_pass("mtls_matrix");
    for pair in [
        "Rsa2048/TLSv1.2",
        "Rsa2048/TLSv1.3",
        "Rsa3072/TLSv1.3",
        "P256/TLSv1.2",
        "P384/TLSv1.3",
    ] {
        assert!(details.contains(pair), "{pair} missing from {details}");
    }
}

#[test]
fn pkcs1_and_sec1_private_keys_are_accepted() {
    expect_pass("key_formats");
}

#[test]
fn encrypted_keys_need_their_passphrase_der_works_and_ed25519_is_refused() {
    expect_pass("encrypted_der_and_unsupported_keys");
}

#[test]
fn untrusted_expired_future_and_misnamed_servers_each_get_their_reason() {
    let details = expect_pass("server_not_trusted");
    for reason in ["unknown CA", "expired", "not yet valid", "name mismatch"] {
        assert!(details.contains(reason), "{reason} missing from {details}");
    }
}

#[test]
fn a_rejected_device_certificate_is_reported_as_such_on_both_versions() {
    let details = expect_pass("client_rejected");
    assert!(
        details.contains("Tls12: the server rejected the device certificate"),
        "{details}"
    );
    assert!(
        details.contains("Tls13: the server rejected the device certificate"),
        "{details}"
    );
}

#[test]
fn bad_credential_files_are_named_in_the_error() {
    expect_pass("bad_credentials");
}

#[test]
fn the_server_name_is_verified_even_without_sni() {
    expect_pass("sni_off_still_verifies");
}

#[test]
fn alpn_x_amzn_http_ca_is_negotiated() {
    expect_pass("alpn");
}

#[test]
fn twenty_mtls_connections_leak_no_heap() {
    expect_pass("no_heap_leak");
}

#[test]
fn two_tasks_do_mutual_tls_at_the_same_time() {
    expect_pass("two_tasks_at_once");
}
