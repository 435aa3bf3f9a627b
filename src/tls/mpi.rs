//! An owned Mbed TLS big number, for the hooks' self-checks ([`super::ecp_hook`],
//! [`super::exp_mod_hook`]).
#![allow(unsafe_code)]

use mbedtls_rs_sys as sys;

/// An Mbed TLS MPI, initialised when made and freed when dropped.
pub(super) struct Mpi(pub(super) sys::mbedtls_mpi);

impl Mpi {
    /// Zero.
    pub(super) fn new() -> Mpi {
        let mut mpi = Mpi(sys::mbedtls_mpi::default());
        // SAFETY: initialising a fresh MPI; Drop frees it.
        unsafe { sys::mbedtls_mpi_init(&mut mpi.0) };
        mpi
    }

    /// The unsigned big-endian number in `bytes`; Mbed TLS's error code if it cannot allocate.
    pub(super) fn from_be(bytes: &[u8]) -> Result<Mpi, i32> {
        let mut mpi = Mpi::new();
        // SAFETY: an initialised MPI; Mbed TLS copies the bytes.
        let code = unsafe { sys::mbedtls_mpi_read_binary(&mut mpi.0, bytes.as_ptr(), bytes.len()) };
        if code == 0 { Ok(mpi) } else { Err(code) }
    }
}

impl Drop for Mpi {
    fn drop(&mut self) {
        // SAFETY: initialised when made, freed once (Mbed TLS zeroes its limbs).
        unsafe { sys::mbedtls_mpi_free(&mut self.0) }
    }
}
