//! The bundled local endpoint: a mutual-TLS HTTPS server that behaves like AWS IoT's HTTPS
//! publish API, so the device demo and the tests run offline. Host side only: it is never
//! part of the device image.
//!
//! - [`server`]: rustls with required client certificates (TLS 1.2 and 1.3), HTTP/1.1 with
//!   keep-alive; `POST /topics/{topic}?qos=0|1` answers `200 {"message":"OK","traceId":...}`,
//!   and bad qos, paths, methods and sizes get the 4xx AWS IoT gives. Each request is logged
//!   with the client certificate's subject.
//! - [`faults`]: answers that are late, wrong or cut short on purpose (`--behaviour NAME`),
//!   for testing how a device copes.
//! - [`certs`]: development certificates made with rcgen (CA, server, devices with RSA or EC
//!   keys, and broken certificates for tests).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod certs;
mod der;
pub mod faults;
pub mod http;
pub mod server;

pub use server::{
    Behaviour, CloseAfter, EndpointConfig, Observations, RequestRecord, RunningEndpoint,
    StartError, TlsVersions, start,
};
