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
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::HelpRequested => f.write_str("help requested"),
            ConfigError::UnknownArgument(argument) => write!(f, "unknown argument {argument:?}"),
            ConfigError::MissingValue(flag) => write!(f, "{flag} needs a value"),
            ConfigError::InvalidValue {
                setting,
                value,
                expected,
            } => write!(f, "{setting}: {value:?} is not {expected}"),
            ConfigError::MissingCredential(flag) => {
                write!(f, "--endpoint needs {flag} (or its environment variable)")
            }
            ConfigError::LinkFaults(error) => write!(f, "--link-faults: {error}"),
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
        Ok(())
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
}
