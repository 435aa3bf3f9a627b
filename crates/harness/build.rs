//! The harness's binaries link the device library as the demo does: Mbed TLS's RSA public
//! operation goes to the TLS layer's stack exponentiation (see the device package's build.rs,
//! `wrap_rsa_public_operation`, and src/tls/exp_mod_hook.rs). The harness runs on the
//! simulators only, where a C compiler drives the link.
fn main() {
    println!("cargo:rustc-link-arg=-Wl,--wrap=mbedtls_mpi_exp_mod_unsafe");
}
