//! The demo's settings: the equivalent of the C demo's `demo_config.h`, from command-line
//! flags or environment variables (flags win). One home for every default.

//!
//! Portable: the simulator board feeds it the command line and the process environment; a
//! board without either feeds it the `IOT_*` values it was built with.

use core::fmt;
use core::time::Duration;

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::link::faults::{FaultSpec, FaultSpecError};
use crate::rtos::console::Quoted;
use iot_publish::{PayloadFormat, Publish, Qos, Topic, UserProperty};

/// Port AWS IoT serves mutual TLS on without ALPN.
pub const DEFAULT_PORT: u16 = 8443;
/// On this port AWS IoT wants the ALPN protocol `x-amzn-http-ca`.
pub const ALPN_PORT: u16 = 443;
/// The bound on a whole run when none is given: long enough for the retries of a server that
/// comes up late, short enough that a device never hangs on one that never answers.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
// -- reuse: publishes per connection.
/// Most publishes one connection is asked to carry (`--publishes`).
pub const MAX_PUBLISHES: u32 = 10_000;

/// Everything the demo can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoConfig {
    /// The server's host name; `None` runs against the bundled local endpoint. `--endpoint`,
    /// `IOT_ENDPOINT`.
    pub endpoint: Option<String>,
    /// TCP port. Default 8443 (443 adds ALPN `x-amzn-http-ca`). `--port`, `IOT_PORT`.
    pub port: u16,
    /// Root CA file. `--root-ca`, `IOT_ROOT_CA`. Required with `--endpoint`.
    pub root_ca: Option<String>,
    /// Device certificate file. `--client-cert`, `IOT_CLIENT_CERT`.
    pub client_cert: Option<String>,
    /// Device private key file. `--client-key`, `IOT_CLIENT_KEY`.
    pub client_key: Option<String>,
    /// Passphrase of an encrypted key: `IOT_KEY_PASSPHRASE` only (never on a command line).
    pub key_passphrase: Option<String>,
    /// MQTT topic to publish to. Default `freertos/demo/https`. `--topic`, `IOT_TOPIC`.
    pub topic: String,
    /// QoS, 0 or 1. Default 1. `--qos`, `IOT_QOS`.
    pub qos: u8,
    /// The message body. Default `{"message":"Hello, world"}`. `--message`, `IOT_MESSAGE`.
    pub message: String,
    /// Send SNI. Default on; `--no-sni` or `IOT_NO_SNI=1` turns it off (the name is still
    /// verified).
    pub sni: bool,
    /// Connect → POST → disconnect cycles to run. Default 1. `--iterations`, `IOT_ITERATIONS`.
    pub iterations: u32,
    /// Tries per cycle before the demo fails. Default 3. `--attempts`, `IOT_ATTEMPTS`.
    pub attempts: u32,
    /// Pause between tries of a cycle. Default 5 s, as in the C demo. `--retry-delay-ms`.
    pub retry_delay: Duration,
    /// Connect + handshake timeout. Default 10 s. `--timeout-ms`, `IOT_TIMEOUT_MS`.
    pub timeout: Duration,
    /// The whole run ends within this time, whatever fails and however often it is retried;
    /// the error then names the last cause. Default 60 s. `--deadline SECONDS`, `IOT_DEADLINE`.
    pub deadline: Duration,
    /// ALPN protocols to offer instead of the port's default (`x-amzn-http-ca` on 443, none
    /// elsewhere); `Some(empty)` offers none. `--alpn LIST` (comma-separated) or
    /// `--alpn none`, `IOT_ALPN`.
    pub alpn_override: Option<Vec<String>>,
    /// Print one JSON object as the last line of stdout. `--json`, `IOT_JSON=1`.
    pub json: bool,
    /// Where the bundled endpoint keeps its certificates. Default `certs`. `--certs-dir`.
    pub certs_dir: String,
    /// Log level name. Default `info`. `--log-level`, `FREERTOS_HTTPS_LOG`.
    pub log_level: String,
    /// Record the device's network traffic in this pcap file. `--pcap`, `IOT_PCAP`.
    pub pcap: Option<String>,
    /// Make the link lose, duplicate, delay or reorder frames (see
    /// [`crate::link::faults`]), e.g. `drop=5%,reorder=2%`. `--link-faults SPEC`,
    /// `IOT_LINK_FAULTS`.
    pub link_faults: Option<FaultSpec>,
    /// The simulated network card, by name (`slirp` or `gateway`); `None` is the board's
    /// default. Checked by the board, which knows its cards. `--card`, `FREERTOS_HTTPS_CARD`.
    pub card: Option<String>,
    // -- publish: the AWS IoT publish API's parameters and MQTT 5 properties (issue #16).
    /// Set MQTT's RETAIN flag (`retain=true`; the policy then needs `iot:RetainPublish`).
    /// `--retain`, `IOT_RETAIN=1`.
    pub retain: bool,
    /// MQTT 5 content type of the message (`contentType`). `--content-type`,
    /// `IOT_CONTENT_TYPE`.
    pub content_type: Option<String>,
    /// Seconds AWS IoT keeps the message for subscribers (`messageExpiry`).
    /// `--message-expiry`, `IOT_MESSAGE_EXPIRY`.
    pub message_expiry: Option<u32>,
    /// The topic a receiver should answer on (`responseTopic`). `--response-topic`,
    /// `IOT_RESPONSE_TOPIC`.
    pub response_topic: Option<String>,
    /// MQTT 5 user properties, in order (`x-amz-mqtt5-user-properties`).
    /// `--user-property NAME=VALUE` (repeatable), `IOT_USER_PROPERTIES` (one `NAME=VALUE` a
    /// line); the variable's come first.
    pub user_properties: Vec<(String, String)>,
    /// The payload format indicator (`x-amz-mqtt5-payload-format-indicator`).
    /// `--payload-format utf8|bytes`, `IOT_PAYLOAD_FORMAT`.
    pub payload_format: Option<PayloadFormat>,
    /// Correlation data: the UTF-8 bytes of this text, sent base64-encoded
    /// (`x-amz-mqtt5-correlation-data`). `--correlation-data`, `IOT_CORRELATION_DATA`.
    pub correlation_data: Option<String>,
    // -- resume: TLS session resumption.
    /// Resume the TLS session of an earlier connection to the same server name and port
    /// (TLS 1.3 tickets, TLS 1.2 tickets or session IDs). Default on; `--no-resume` or
    /// `IOT_NO_RESUME=1` makes every connection a full handshake and keeps no session.
    pub resume: bool,
    /// Keep the session in this file, so that the next run resumes it (simulator only; a
    /// secret: written with mode 0600). Default none: the session lives in RAM for the run.
    /// `--session-file PATH`, `IOT_SESSION_FILE`.
    pub session_file: Option<String>,
    // -- reuse: publishes per connection (keep-alive).
    /// Publishes sent over each connection (HTTP keep-alive): each iteration opens one
    /// connection and sends this many, reconnecting with backoff if the server closes it.
    /// Default 1 (a connection per publish). `--publishes N` (1 to [`MAX_PUBLISHES`]),
    /// `IOT_PUBLISHES`.
    pub publishes: u32,
}

impl Default for DemoConfig {
    fn default() -> DemoConfig {
        DemoConfig {
            endpoint: None,
            port: DEFAULT_PORT,
            root_ca: None,
            client_cert: None,
            client_key: None,
            key_passphrase: None,
            topic: "freertos/demo/https".into(),
            qos: 1,
            message: r#"{"message":"Hello, world"}"#.into(),
            sni: true,
            iterations: 1,
            attempts: 3,
            retry_delay: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            deadline: DEFAULT_DEADLINE,
            alpn_override: None,
            json: false,
            certs_dir: "certs".into(),
            log_level: "info".into(),
            pcap: None,
            link_faults: None,
            card: None,
            // -- publish: no AWS IoT publish option set (AWS IoT's defaults apply).
            retain: false,
            content_type: None,
            message_expiry: None,
            response_topic: None,
            user_properties: Vec::new(),
            payload_format: None,
            correlation_data: None,
            // -- resume: TLS session resumption.
            resume: true,
            session_file: None,
            // -- reuse: publishes per connection.
            publishes: 1,
        }
    }
}

/// The command line help.
pub const USAGE: &str = "\
usage: http-mutual-auth-demo [options]

Publishes a message to an AWS IoT topic over HTTPS with mutual TLS, from a Rust task on the
FreeRTOS kernel (POSIX or Windows simulator). Without --endpoint it starts the bundled local
endpoint and runs against it.

  --endpoint HOST        server name (localhost/127.0.0.1 mean this machine)   IOT_ENDPOINT
  --port N               TCP port (default 8443; 443 adds ALPN x-amzn-http-ca) IOT_PORT
  --root-ca FILE         root CA certificate (PEM or DER)                      IOT_ROOT_CA
  --client-cert FILE     device certificate                                    IOT_CLIENT_CERT
  --client-key FILE      device private key (IOT_KEY_PASSPHRASE if encrypted)  IOT_CLIENT_KEY
  --topic T              topic (default freertos/demo/https)                   IOT_TOPIC
  --qos N                0 or 1 (default 1)                                    IOT_QOS
  --message TEXT         body (default {\"message\":\"Hello, world\"})            IOT_MESSAGE
  --no-sni               do not send SNI (the name is still verified)          IOT_NO_SNI=1
  --iterations N         connect/POST/disconnect cycles (default 1)            IOT_ITERATIONS
  --attempts N           tries per cycle (default 3)                           IOT_ATTEMPTS
  --retry-delay-ms N     pause between tries (default 5000)                    IOT_RETRY_DELAY_MS
  --timeout-ms N         connect + handshake timeout (default 10000)           IOT_TIMEOUT_MS
  --deadline SECONDS     the whole run ends within this (default 60)           IOT_DEADLINE
  --alpn LIST|none       ALPN protocols offered (default: x-amzn-http-ca on 443) IOT_ALPN
  --certs-dir DIR        bundled endpoint's certificates (default certs)       IOT_CERTS_DIR
  --json                 last line of stdout is a JSON report                  IOT_JSON=1
  --pcap FILE            record the device's Ethernet frames (Wireshark)       IOT_PCAP
  --link-faults SPEC     a flaky link, e.g. drop=5%,reorder=2%,duplicate=1%,    IOT_LINK_FAULTS
                         delay=20ms,seed=7 (drop=100% cuts it)
  --log-level LEVEL      off, error, warn, info, debug, trace                  FREERTOS_HTTPS_LOG
  --card slirp|gateway   simulated network card (default: slirp on Linux,      FREERTOS_HTTPS_CARD
                         gateway on Windows, which has only the gateway)
  --retain               set the RETAIN flag (needs iot:RetainPublish)         IOT_RETAIN=1
  --content-type TEXT    MQTT 5 content type (contentType)                     IOT_CONTENT_TYPE
  --message-expiry SECS  seconds the broker keeps the message (messageExpiry)  IOT_MESSAGE_EXPIRY
  --response-topic T     topic a receiver answers on (responseTopic)           IOT_RESPONSE_TOPIC
  --user-property N=V    MQTT 5 user property, repeatable                      IOT_USER_PROPERTIES
                         (the variable: one NAME=VALUE a line)
  --payload-format F     utf8 or bytes (payload format indicator)              IOT_PAYLOAD_FORMAT
  --correlation-data T   correlation data (the text's bytes, sent base64)      IOT_CORRELATION_DATA
  --no-resume            full TLS handshake every time, keep no session        IOT_NO_RESUME=1
  --session-file PATH    keep the TLS session in PATH (secret, mode 0600) so   IOT_SESSION_FILE
                         that the next run resumes it (simulator only)
  --publishes N          publishes per connection, kept alive (default 1,      IOT_PUBLISHES
                         at most 10000); reconnects if the server closes it
  -h, --help             this text";

/// A setting that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `-h`/`--help` was given.
    HelpRequested,
    /// An argument the demo does not know.
    UnknownArgument(String),
    /// A flag without its value.
    MissingValue(&'static str),
    /// A value that does not parse.
    InvalidValue {
        /// The flag or variable.
        setting: &'static str,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// `--endpoint` without the credential files it needs.
    MissingCredential(&'static str),
    /// A `--link-faults` spec that does not parse.
    LinkFaults(FaultSpecError),
    // -- publish
    /// A value AWS IoT's publish API would refuse (checked before any connection).
    Publish {
        /// The flag or variable.
        setting: &'static str,
        /// Why it is refused.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::HelpRequested => f.write_str("help requested"),
            ConfigError::UnknownArgument(argument) => {
                write!(f, "unknown argument {}", Quoted(argument))
            }
            ConfigError::MissingValue(flag) => write!(f, "{flag} needs a value"),
            ConfigError::InvalidValue {
                setting,
                value,
                expected,
            } => write!(f, "{setting}: {} is not {expected}", Quoted(value)),
            ConfigError::MissingCredential(flag) => {
                write!(f, "--endpoint needs {flag} (or its environment variable)")
            }
            ConfigError::LinkFaults(error) => write!(f, "--link-faults: {error}"),
            // -- publish
            ConfigError::Publish { setting, reason } => write!(f, "{setting}: {reason}"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// The flags, their environment variables, and whether they take a value.
const FLAGS: &[(&str, &str, bool)] = &[
    ("--endpoint", "IOT_ENDPOINT", true),
    ("--port", "IOT_PORT", true),
    ("--root-ca", "IOT_ROOT_CA", true),
    ("--client-cert", "IOT_CLIENT_CERT", true),
    ("--client-key", "IOT_CLIENT_KEY", true),
    ("--topic", "IOT_TOPIC", true),
    ("--qos", "IOT_QOS", true),
    ("--message", "IOT_MESSAGE", true),
    ("--no-sni", "IOT_NO_SNI", false),
    ("--iterations", "IOT_ITERATIONS", true),
    ("--attempts", "IOT_ATTEMPTS", true),
    ("--retry-delay-ms", "IOT_RETRY_DELAY_MS", true),
    ("--timeout-ms", "IOT_TIMEOUT_MS", true),
    ("--deadline", "IOT_DEADLINE", true),
    ("--alpn", "IOT_ALPN", true),
    ("--certs-dir", "IOT_CERTS_DIR", true),
    ("--json", "IOT_JSON", false),
    ("--pcap", "IOT_PCAP", true),
    ("--link-faults", "IOT_LINK_FAULTS", true),
    ("--log-level", "FREERTOS_HTTPS_LOG", true),
    ("--card", "FREERTOS_HTTPS_CARD", true),
    // -- publish
    ("--retain", "IOT_RETAIN", false),
    ("--content-type", "IOT_CONTENT_TYPE", true),
    ("--message-expiry", "IOT_MESSAGE_EXPIRY", true),
    ("--response-topic", "IOT_RESPONSE_TOPIC", true),
    ("--user-property", "IOT_USER_PROPERTIES", true),
    ("--payload-format", "IOT_PAYLOAD_FORMAT", true),
    ("--correlation-data", "IOT_CORRELATION_DATA", true),
    // -- resume: TLS session resumption.
    ("--no-resume", "IOT_NO_RESUME", false),
    ("--session-file", "IOT_SESSION_FILE", true),
    // -- reuse: publishes per connection.
    ("--publishes", "IOT_PUBLISHES", true),
];

impl DemoConfig {
    /// Reads the settings from `args` (without the program name) and `env`.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<DemoConfig, ConfigError> {
        let mut given: Vec<(&'static str, String)> = Vec::new();
        // Environment first, so that flags given later override it.
        for (flag, variable, _) in FLAGS {
            if let Some(value) = env(variable) {
                given.push((flag, value));
            }
        }
        let mut args = args.into_iter();
        while let Some(argument) = args.next() {
            if argument == "-h" || argument == "--help" {
                return Err(ConfigError::HelpRequested);
            }
            let Some(&(flag, _, takes_value)) = FLAGS.iter().find(|(flag, _, _)| *flag == argument)
            else {
                return Err(ConfigError::UnknownArgument(argument));
            };
            let value = if takes_value {
                args.next().ok_or(ConfigError::MissingValue(flag))?
            } else {
                "1".to_owned()
            };
            given.push((flag, value));
        }
        let mut config = DemoConfig {
            key_passphrase: env("IOT_KEY_PASSPHRASE"),
            ..DemoConfig::default()
        };
        for (flag, value) in given {
            config.apply(flag, value)?;
        }
        config.check()?;
        Ok(config)
    }

    fn apply(&mut self, flag: &'static str, value: String) -> Result<(), ConfigError> {
        let invalid = |expected| ConfigError::InvalidValue {
            setting: flag,
            value: value.clone(),
            expected,
        };
        match flag {
            "--endpoint" => self.endpoint = Some(value).filter(|host| !host.is_empty()),
            "--port" => {
                self.port = value
                    .parse()
                    .ok()
                    .filter(|port| *port != 0)
                    .ok_or_else(|| invalid("a TCP port (1-65535)"))?
            }
            "--root-ca" => self.root_ca = Some(value),
            "--client-cert" => self.client_cert = Some(value),
            "--client-key" => self.client_key = Some(value),
            "--topic" => {
                self.topic = Some(value.clone())
                    .filter(|topic| !topic.is_empty())
                    .ok_or_else(|| invalid("a topic name"))?
            }
            "--qos" => {
                self.qos = value
                    .parse()
                    .ok()
                    .filter(|qos| *qos <= 1)
                    .ok_or_else(|| invalid("0 or 1"))?
            }
            "--message" => self.message = value,
            "--no-sni" => self.sni = !truthy(&value).ok_or_else(|| invalid("1 or 0"))?,
            "--iterations" => {
                self.iterations = value
                    .parse()
                    .ok()
                    .filter(|count| *count > 0)
                    .ok_or_else(|| invalid("a count of at least 1"))?
            }
            "--attempts" => {
                self.attempts = value
                    .parse()
                    .ok()
                    .filter(|count| *count > 0)
                    .ok_or_else(|| invalid("a count of at least 1"))?
            }
            "--retry-delay-ms" => {
                self.retry_delay =
                    Duration::from_millis(value.parse().map_err(|_| invalid("milliseconds"))?)
            }
            "--timeout-ms" => {
                self.timeout = Duration::from_millis(
                    value
                        .parse()
                        .ok()
                        .filter(|ms| *ms > 0)
                        .ok_or_else(|| invalid("milliseconds"))?,
                )
            }
            "--deadline" => {
                self.deadline = Duration::from_secs(
                    value
                        .parse()
                        .ok()
                        .filter(|seconds| *seconds > 0)
                        .ok_or_else(|| invalid("a whole number of seconds, at least 1"))?,
                )
            }
            "--alpn" => {
                self.alpn_override = Some(parse_alpn(&value).ok_or_else(|| {
                    invalid("`none` or comma-separated protocol names of 1 to 255 bytes")
                })?)
            }
            "--certs-dir" => self.certs_dir = value,
            "--json" => self.json = truthy(&value).ok_or_else(|| invalid("1 or 0"))?,
            "--pcap" => self.pcap = Some(value),
            "--link-faults" => {
                self.link_faults = Some(value.parse().map_err(ConfigError::LinkFaults)?)
            }
            "--card" => {
                self.card = Some(
                    Some(value.clone())
                        .filter(|name| !name.is_empty())
                        .ok_or_else(|| invalid("a card name"))?,
                )
            }
            // -- publish: the values' form here; what AWS IoT accepts in `check_publish`.
            "--retain" => self.retain = truthy(&value).ok_or_else(|| invalid("1 or 0"))?,
            "--content-type" => self.content_type = Some(value),
            "--message-expiry" => {
                self.message_expiry = Some(
                    value
                        .parse()
                        .map_err(|_| invalid("a whole number of seconds (0 to 4294967295)"))?,
                )
            }
            "--response-topic" => self.response_topic = Some(value),
            "--user-property" => {
                for line in value.lines().filter(|line| !line.trim().is_empty()) {
                    let (name, property) = line
                        .split_once('=')
                        .filter(|(name, _)| !name.is_empty())
                        .ok_or_else(|| invalid("NAME=VALUE (one a line in IOT_USER_PROPERTIES)"))?;
                    self.user_properties
                        .push((name.to_owned(), property.to_owned()));
                }
            }
            "--payload-format" => {
                self.payload_format = Some(match value.as_str() {
                    "utf8" => PayloadFormat::Utf8,
                    "bytes" => PayloadFormat::Bytes,
                    _ => return Err(invalid("utf8 or bytes")),
                })
            }
            "--correlation-data" => self.correlation_data = Some(value),
            // -- resume: TLS session resumption.
            "--no-resume" => self.resume = !truthy(&value).ok_or_else(|| invalid("1 or 0"))?,
            "--session-file" => {
                self.session_file = Some(
                    Some(value.clone())
                        .filter(|path| !path.is_empty())
                        .ok_or_else(|| invalid("a file path"))?,
                )
            }
            // -- reuse: publishes per connection.
            "--publishes" => {
                self.publishes = value
                    .parse()
                    .ok()
                    .filter(|count| (1..=MAX_PUBLISHES).contains(count))
                    .ok_or_else(|| invalid("a count from 1 to 10000"))?
            }
            _ => self.log_level = value,
        }
        Ok(())
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.endpoint.is_some() {
            self.root_ca
                .as_ref()
                .ok_or(ConfigError::MissingCredential("--root-ca"))?;
            self.client_cert
                .as_ref()
                .ok_or(ConfigError::MissingCredential("--client-cert"))?;
            self.client_key
                .as_ref()
                .ok_or(ConfigError::MissingCredential("--client-key"))?;
        }
        // -- publish: a request AWS IoT would refuse never costs a connection.
        self.check_publish()?;
        Ok(())
    }

    // -- publish
    /// Checks the publish these settings describe against AWS IoT's rules (see
    /// [`DemoConfig::publish_request`]).
    fn check_publish(&self) -> Result<(), ConfigError> {
        let mut properties = Vec::new();
        self.publish_request(&mut properties).map(|_| ())
    }

    /// The publish request these settings describe, every value checked as AWS IoT would
    /// (topic rules, 128 KB payload, MQTT 5 property limits: see the `iot_publish` crate).
    /// `properties` holds the user properties the request borrows.
    ///
    /// # Errors
    /// [`ConfigError::Publish`] naming the flag whose value is refused and why.
    pub fn publish_request<'a>(
        &'a self,
        properties: &'a mut Vec<UserProperty<'a>>,
    ) -> Result<Publish<'a>, ConfigError> {
        fn refused(setting: &'static str) -> impl Fn(&dyn fmt::Display) -> ConfigError {
            move |reason| ConfigError::Publish {
                setting,
                reason: alloc::format!("{reason}"),
            }
        }
        let topic = Topic::new(&self.topic).map_err(|e| refused("--topic")(&e))?;
        iot_publish::check_payload_size(self.message.len())
            .map_err(|e| refused("--message")(&e))?;
        properties.clear();
        for (name, value) in &self.user_properties {
            properties
                .push(UserProperty::new(name, value).map_err(|e| refused("--user-property")(&e))?);
        }
        let qos = if self.qos == 0 {
            Qos::AtMostOnce
        } else {
            Qos::AtLeastOnce
        };
        let properties: &'a [UserProperty<'a>] = properties;
        let mut publish = Publish::new(topic, qos)
            .retain(self.retain)
            .user_properties(properties)
            .map_err(|e| refused("--user-property")(&e))?;
        if let Some(content_type) = &self.content_type {
            publish = publish
                .content_type(content_type)
                .map_err(|e| refused("--content-type")(&e))?;
        }
        if let Some(seconds) = self.message_expiry {
            publish = publish.message_expiry(seconds);
        }
        if let Some(topic) = &self.response_topic {
            publish = publish
                .response_topic(topic)
                .map_err(|e| refused("--response-topic")(&e))?;
        }
        if let Some(format) = self.payload_format {
            publish = publish.payload_format(format);
        }
        if let Some(data) = &self.correlation_data {
            publish = publish
                .correlation_data(data.as_bytes())
                .map_err(|e| refused("--correlation-data")(&e))?;
        }
        Ok(publish)
    }

    /// The ALPN protocols to offer: `--alpn` if given, else AWS IoT's rule, `x-amzn-http-ca`
    /// on port 443 and nothing elsewhere.
    pub fn alpn(&self) -> Vec<String> {
        match &self.alpn_override {
            Some(protocols) => protocols.clone(),
            None if self.port == ALPN_PORT => Vec::from([String::from("x-amzn-http-ca")]),
            None => Vec::new(),
        }
    }
}

/// `none`, or protocol names separated by commas (each 1 to 255 bytes, as ALPN allows).
fn parse_alpn(value: &str) -> Option<Vec<String>> {
    if value.trim().eq_ignore_ascii_case("none") {
        return Some(Vec::new());
    }
    value
        .split(',')
        .map(str::trim)
        .map(|name| (1..=255).contains(&name.len()).then(|| name.to_owned()))
        .collect()
}

fn truthy(value: &str) -> Option<bool> {
    match value {
        "1" | "true" | "yes" => Some(true),
        "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<DemoConfig, ConfigError> {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DemoConfig::parse(args.iter().map(|arg| arg.to_string()), move |name| {
            env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_run_against_the_bundled_endpoint() {
        let config = parse(&[], &[]).expect("valid");
        assert_eq!(config.endpoint, None);
        assert_eq!(
            (config.port, config.qos, config.iterations, config.attempts),
            (8443, 1, 1, 3)
        );
        assert!(config.alpn().is_empty());
        assert_eq!(config.deadline, Duration::from_secs(60));
    }

    #[test]
    fn alpn_can_be_replaced_or_turned_off_on_any_port() {
        let on_443 = |args: &[&str]| {
            let mut all = vec!["--port", "443"];
            all.extend_from_slice(args);
            parse(&all, &[]).map(|config| config.alpn())
        };
        assert_eq!(on_443(&[]), Ok(vec!["x-amzn-http-ca".to_string()]));
        assert_eq!(on_443(&["--alpn", "none"]), Ok(Vec::new()));
        assert_eq!(
            on_443(&["--alpn", "h2, http/1.1"]),
            Ok(vec!["h2".to_string(), "http/1.1".to_string()])
        );
        assert!(matches!(
            on_443(&["--alpn", "a,,b"]),
            Err(ConfigError::InvalidValue {
                setting: "--alpn",
                ..
            })
        ));
        assert_eq!(
            parse(&[], &[("IOT_ALPN", "x-amzn-http-ca")]).map(|config| config.alpn()),
            Ok(vec!["x-amzn-http-ca".to_string()])
        );
    }

    #[test]
    fn link_faults_are_read_from_the_flag_or_the_environment() {
        let faults = |args: &[&str], env: &[(&str, &str)]| {
            parse(args, env).map(|config| config.link_faults.map(|spec| spec.to_string()))
        };
        assert_eq!(faults(&[], &[]), Ok(None));
        assert_eq!(
            faults(&["--link-faults", "drop=5%,reorder=2%"], &[]),
            Ok(Some(
                "drop=5%,reorder=2%,duplicate=0%,delay=0ms,seed=1".into()
            ))
        );
        assert_eq!(
            faults(&[], &[("IOT_LINK_FAULTS", "delay=20ms")]),
            Ok(Some(
                "drop=0%,reorder=0%,duplicate=0%,delay=20ms,seed=1".into()
            ))
        );
        let error = parse(&["--link-faults", "drop=5"], &[]).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("--link-faults: drop must be a percentage")
        );
    }

    #[test]
    fn the_card_comes_from_the_flag_or_the_environment_and_the_flag_wins() {
        assert_eq!(parse(&[], &[]).map(|config| config.card), Ok(None));
        let from_env = parse(&[], &[("FREERTOS_HTTPS_CARD", "gateway")]);
        assert_eq!(
            from_env.map(|config| config.card),
            Ok(Some("gateway".into()))
        );
        let both = parse(&["--card", "slirp"], &[("FREERTOS_HTTPS_CARD", "gateway")]);
        assert_eq!(both.map(|config| config.card), Ok(Some("slirp".into())));
        assert!(matches!(
            parse(&["--card", ""], &[]),
            Err(ConfigError::InvalidValue {
                setting: "--card",
                ..
            })
        ));
    }

    #[test]
    fn resumption_is_on_unless_turned_off_and_the_session_file_is_optional() {
        let config = parse(&[], &[]).expect("valid");
        assert!(config.resume);
        assert_eq!(config.session_file, None);
        assert!(!parse(&["--no-resume"], &[]).expect("valid").resume);
        assert!(!parse(&[], &[("IOT_NO_RESUME", "1")]).expect("valid").resume);
        assert!(parse(&[], &[("IOT_NO_RESUME", "0")]).expect("valid").resume);
        assert_eq!(
            parse(&[], &[("IOT_SESSION_FILE", "s.bin")])
                .expect("valid")
                .session_file,
            Some("s.bin".into())
        );
        assert!(matches!(
            parse(&["--session-file", ""], &[]),
            Err(ConfigError::InvalidValue {
                setting: "--session-file",
                ..
            })
        ));
    }

    #[test]
    fn the_deadline_is_whole_seconds_above_zero() {
        assert_eq!(
            parse(&["--deadline", "5"], &[]).map(|config| config.deadline),
            Ok(Duration::from_secs(5))
        );
        assert_eq!(
            parse(&[], &[("IOT_DEADLINE", "7")]).map(|config| config.deadline),
            Ok(Duration::from_secs(7))
        );
        for bad in ["0", "-1", "1.5", "soon"] {
            assert!(
                matches!(
                    parse(&["--deadline", bad], &[]),
                    Err(ConfigError::InvalidValue {
                        setting: "--deadline",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    // -- reuse: publishes per connection.
    #[test]
    fn publishes_per_connection_are_counted_from_1_to_the_maximum() {
        assert_eq!(parse(&[], &[]).map(|config| config.publishes), Ok(1));
        assert_eq!(
            parse(&["--publishes", "5"], &[]).map(|config| config.publishes),
            Ok(5)
        );
        assert_eq!(
            parse(&[], &[("IOT_PUBLISHES", "10000")]).map(|config| config.publishes),
            Ok(MAX_PUBLISHES)
        );
        assert_eq!(
            parse(&["--publishes", "3"], &[("IOT_PUBLISHES", "7")]).map(|c| c.publishes),
            Ok(3)
        );
        for bad in ["0", "10001", "-1", "2.5", "many", ""] {
            let error = parse(&["--publishes", bad], &[]).unwrap_err();
            assert_eq!(
                error.to_string(),
                format!("--publishes: {bad:?} is not a count from 1 to 10000"),
                "{bad}"
            );
        }
    }

    #[test]
    fn flags_override_environment_variables() {
        let config = parse(
            &["--port", "443", "--topic", "a/b"],
            &[
                ("IOT_PORT", "9000"),
                ("IOT_TOPIC", "env"),
                ("IOT_ITERATIONS", "4"),
            ],
        )
        .expect("valid");
        assert_eq!(
            (config.port, config.topic.as_str(), config.iterations),
            (443, "a/b", 4)
        );
        assert_eq!(config.alpn(), ["x-amzn-http-ca"]);
    }

    #[test]
    fn an_endpoint_needs_all_three_credential_files() {
        assert_eq!(
            parse(&["--endpoint", "x.example", "--root-ca", "ca.pem"], &[]),
            Err(ConfigError::MissingCredential("--client-cert"))
        );
    }

    #[test]
    fn bad_values_name_the_setting() {
        let error = parse(&["--qos", "2"], &[]).unwrap_err();
        assert_eq!(error.to_string(), "--qos: \"2\" is not 0 or 1");
        assert!(matches!(
            parse(&["--iterations", "0"], &[]),
            Err(ConfigError::InvalidValue {
                setting: "--iterations",
                ..
            })
        ));
        assert_eq!(
            parse(&["--port"], &[]),
            Err(ConfigError::MissingValue("--port"))
        );
        assert_eq!(
            parse(&["--bogus"], &[]),
            Err(ConfigError::UnknownArgument("--bogus".into()))
        );
    }

    // -- publish: the AWS IoT publish API's flags, good and bad values.
    fn refusal(args: &[&str], env: &[(&str, &str)]) -> String {
        match parse(args, env) {
            Err(error @ (ConfigError::Publish { .. } | ConfigError::InvalidValue { .. })) => {
                error.to_string()
            }
            other => core::panic!("{args:?} {env:?}: expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn publish_options_default_to_aws_iots_defaults() {
        let config = parse(&[], &[]).expect("valid");
        assert!(!config.retain);
        assert_eq!(
            (
                &config.content_type,
                config.message_expiry,
                &config.response_topic
            ),
            (&None, None, &None)
        );
        assert!(config.user_properties.is_empty());
        assert_eq!(
            (config.payload_format, &config.correlation_data),
            (None, &None)
        );
    }

    #[test]
    fn retain_is_a_flag_or_a_variable() {
        assert!(parse(&["--retain"], &[]).expect("valid").retain);
        assert!(parse(&[], &[("IOT_RETAIN", "1")]).expect("valid").retain);
        assert!(!parse(&[], &[("IOT_RETAIN", "0")]).expect("valid").retain);
        assert_eq!(
            refusal(&[], &[("IOT_RETAIN", "maybe")]),
            "--retain: \"maybe\" is not 1 or 0"
        );
    }

    #[test]
    fn content_type_is_an_mqtt_string() {
        let config = parse(&["--content-type", "text/plain; charset=utf-8"], &[]).expect("valid");
        assert_eq!(
            config.content_type.as_deref(),
            Some("text/plain; charset=utf-8")
        );
        let from_env = parse(&[], &[("IOT_CONTENT_TYPE", "application/cbor")]).expect("valid");
        assert_eq!(from_env.content_type.as_deref(), Some("application/cbor"));
        assert_eq!(
            refusal(&["--content-type", "a\0b"], &[]),
            "--content-type: the content type holds U+0000 (NUL), which MQTT forbids"
        );
        let long = "x".repeat(65_536);
        assert!(refusal(&["--content-type", &long], &[]).starts_with("--content-type: "));
    }

    #[test]
    fn message_expiry_is_whole_seconds_in_32_bits() {
        for (value, seconds) in [("0", 0), ("3600", 3600), ("4294967295", u32::MAX)] {
            let config = parse(&["--message-expiry", value], &[]).expect("valid");
            assert_eq!(config.message_expiry, Some(seconds));
        }
        let from_env = parse(&[], &[("IOT_MESSAGE_EXPIRY", "60")]).expect("valid");
        assert_eq!(from_env.message_expiry, Some(60));
        for bad in ["-1", "1.5", "4294967296", "soon", ""] {
            assert!(
                refusal(&["--message-expiry", bad], &[]).starts_with("--message-expiry: "),
                "{bad}"
            );
        }
    }

    #[test]
    fn response_topic_follows_the_topic_rules() {
        let config = parse(&["--response-topic", "dt/reply"], &[]).expect("valid");
        assert_eq!(config.response_topic.as_deref(), Some("dt/reply"));
        let from_env = parse(&[], &[("IOT_RESPONSE_TOPIC", "r")]).expect("valid");
        assert_eq!(from_env.response_topic.as_deref(), Some("r"));
        assert_eq!(
            refusal(&["--response-topic", "dt/+/reply"], &[]),
            "--response-topic: response topic: the topic holds the wildcard '+', which only a \
             subscription may use"
        );
        assert!(refusal(&["--response-topic", ""], &[]).contains("the topic is empty"));
    }

    #[test]
    fn user_properties_repeat_and_come_from_the_variable_first() {
        let config = parse(
            &["--user-property", "b=2", "--user-property", "c=x=y"],
            &[("IOT_USER_PROPERTIES", "a=1\nempty=\n")],
        )
        .expect("valid");
        let pairs: Vec<(&str, &str)> = config
            .user_properties
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "1"), ("empty", ""), ("b", "2"), ("c", "x=y")]);
        for bad in ["novalue", "=value"] {
            assert!(
                refusal(&["--user-property", bad], &[]).starts_with("--user-property: "),
                "{bad}"
            );
        }
        assert_eq!(
            refusal(&["--user-property", "n=a\0"], &[]),
            "--user-property: a user property's value holds U+0000 (NUL), which MQTT forbids"
        );
    }

    #[test]
    fn payload_format_is_utf8_or_bytes() {
        assert_eq!(
            parse(&["--payload-format", "utf8"], &[]).map(|c| c.payload_format),
            Ok(Some(PayloadFormat::Utf8))
        );
        assert_eq!(
            parse(&[], &[("IOT_PAYLOAD_FORMAT", "bytes")]).map(|c| c.payload_format),
            Ok(Some(PayloadFormat::Bytes))
        );
        assert_eq!(
            refusal(&["--payload-format", "UTF8_DATA"], &[]),
            "--payload-format: \"UTF8_DATA\" is not utf8 or bytes"
        );
    }

    #[test]
    fn correlation_data_is_binary_data_of_mqtt_size() {
        let config = parse(&["--correlation-data", "request-7"], &[]).expect("valid");
        assert_eq!(config.correlation_data.as_deref(), Some("request-7"));
        let from_env = parse(&[], &[("IOT_CORRELATION_DATA", "x")]).expect("valid");
        assert_eq!(from_env.correlation_data.as_deref(), Some("x"));
        let long = "x".repeat(65_536);
        assert_eq!(
            refusal(&["--correlation-data", &long], &[]),
            "--correlation-data: the correlation data is 65536 bytes; MQTT 5 takes at most 65535"
        );
    }

    #[test]
    fn topics_and_messages_aws_iot_would_refuse_are_configuration_errors() {
        assert_eq!(
            refusal(&["--topic", "a/#"], &[]),
            "--topic: the topic holds the wildcard '#', which only a subscription may use"
        );
        assert!(refusal(&[], &[("IOT_TOPIC", "a/+")]).starts_with("--topic: "));
        assert!(refusal(&["--topic", &"t".repeat(257)], &[]).contains("at most 256"));
        assert!(refusal(&["--topic", "1/2/3/4/5/6/7/8/9"], &[]).contains("at most 7"));
        assert!(parse(&["--topic", "1/2/3/4/5/6/7/8"], &[]).is_ok());
        let big = "m".repeat(128 * 1024 + 1);
        assert!(refusal(&["--message", &big], &[]).starts_with("--message: the payload is 131073"));
        assert!(parse(&["--message", &"m".repeat(128 * 1024)], &[]).is_ok());
    }

    #[test]
    fn the_publish_request_carries_every_setting() {
        let config = parse(
            &[
                "--retain",
                "--content-type",
                "text/plain",
                "--message-expiry",
                "30",
                "--response-topic",
                "r/1",
                "--user-property",
                "k=v",
                "--payload-format",
                "utf8",
                "--correlation-data",
                "c",
            ],
            &[],
        )
        .expect("valid");
        let mut properties = Vec::new();
        let publish = config.publish_request(&mut properties).expect("valid");
        assert_eq!(
            std::string::String::from(publish.topic().as_str()),
            config.topic
        );
        let mut path = [0u8; 256];
        assert_eq!(
            publish.write_path(&mut path),
            Ok(
                "/topics/freertos%2Fdemo%2Fhttps?qos=1&retain=true&contentType=text%2Fplain\
                &messageExpiry=30&responseTopic=r%2F1"
            )
        );
    }
}
