//! The bundled local endpoint: a mutual-TLS HTTPS server that behaves like AWS IoT's HTTPS
//! publish API, so the device demo and the tests run offline. Host side only: it is never
//! part of the device image.
//!
//! - [`server`]: rustls with required client certificates (TLS 1.2 and 1.3), HTTP/1.1 with
//!   keep-alive. Each request is logged with the client certificate's subject, and each
//!   accepted publish with everything it carried ([`publish_api::Publish::summary`]).
//! - [`http`]: the routes. `POST /topics/{topic}` answers `200 {"message":"OK","traceId":...}`
//!   and refusals get the status and an AWS-style JSON message naming the cause;
//!   `GET /retainedMessage/{topic}` and `GET /retainedMessage` read the retained messages.
//! - [`publish_api`]: the publish request's query parameters and `x-amz-mqtt5-*` headers,
//!   checked as AWS IoT documents them, into a typed [`publish_api::Publish`].
//! - [`retained`]: one retained message per topic, shared by every connection.
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
pub mod publish_api;
pub mod retained;
pub mod server;

pub use server::{
    Behaviour, CloseAfter, EndpointConfig, Observations, RequestRecord, RunningEndpoint,
    SessionResumption, StartError, TlsVersions, start,
};
