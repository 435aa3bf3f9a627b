//! What the demo reports: human lines, and one JSON object for tools (`--json`).

use core::fmt::Write as _;
use core::time::Duration;

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::rtos::heap::HeapStats;

/// How long each step took (host clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timings {
    /// From the demo's start to an IPv4 address.
    pub network_up: Duration,
    /// The last TCP connect.
    pub connect: Duration,
    /// The last TLS handshake.
    pub handshake: Duration,
    /// Processor time the last TLS handshake cost outside the idle task, on boards that
    /// count it ([`crate::board::BoardServices::busy_time`]); under QEMU's `-icount shift=0`,
    /// nanoseconds are instructions.
    pub handshake_busy: Option<Duration>,
    /// The last request, from the first byte sent to the response read.
    pub request: Duration,
    /// The last disconnect (close_notify and FIN).
    pub disconnect: Duration,
    /// The whole demo.
    pub total: Duration,
}

/// The outcome of a demo run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoReport {
    /// Why the demo failed; `None` on success.
    pub error: Option<String>,
    /// The last HTTP status received.
    pub http_status: Option<u16>,
    /// Cycles asked for.
    pub iterations: u32,
    /// Cycles that completed.
    pub iterations_done: u32,
    /// Heap at the end.
    pub heap: Option<HeapStats>,
    /// Free heap after each cycle's disconnect.
    pub heap_free_per_iteration: Vec<usize>,
    /// For each failed attempt, in order: the free heap before it less the free heap after it
    /// (0 when the failure gave back everything it took). An attempt that ended with a
    /// connection still closing (its socket not yet freed when the run's deadline left no time
    /// to wait) is left out: what that socket holds is not lost.
    pub heap_lost_per_failed_attempt: Vec<isize>,
    /// Step timings.
    pub timings: Timings,
    /// Negotiated TLS version.
    pub tls_version: &'static str,
    /// Negotiated cipher suite.
    pub tls_cipher: &'static str,
    /// The TCP/IP stack the demo ran on ([`crate::net::TcpIpStack::name`]).
    pub tcpip_stack: &'static str,
    // -- resume: TLS session resumption.
    /// For each completed cycle, whether its connection resumed a TLS session (`false`: a
    /// full handshake).
    pub resumed_per_iteration: Vec<bool>,
    /// For each completed cycle, its TLS handshake (host clock) and, on boards that count it,
    /// the processor time it cost (see [`Timings::handshake_busy`]): the cost of a full and of
    /// a resumed handshake side by side.
    pub handshake_per_iteration: Vec<(Duration, Option<Duration>)>,
}

impl DemoReport {
    pub(crate) fn new(iterations: u32, tcpip_stack: &'static str) -> DemoReport {
        DemoReport {
            error: None,
            http_status: None,
            iterations,
            iterations_done: 0,
            heap: None,
            // Room for every iteration up front, so that the report never grows while it is
            // being filled: each figure is then taken with the report's own memory counted.
            heap_free_per_iteration: {
                let mut figures = Vec::new();
                let _ = figures.try_reserve_exact(iterations as usize);
                figures
            },
            heap_lost_per_failed_attempt: Vec::new(),
            timings: Timings::default(),
            tls_version: "",
            tls_cipher: "",
            tcpip_stack,
            // -- resume: reserved up front too, for the same reason.
            resumed_per_iteration: {
                let mut resumed = Vec::new();
                let _ = resumed.try_reserve_exact(iterations as usize);
                resumed
            },
            handshake_per_iteration: {
                let mut handshakes = Vec::new();
                let _ = handshakes.try_reserve_exact(iterations as usize);
                handshakes
            },
        }
    }

    /// The report of a demo that could not even start (its network, say): failed, with the
    /// heap as it is now.
    pub fn not_started(iterations: u32, error: String) -> DemoReport {
        DemoReport::new(iterations, crate::net::DEFAULT_STACK_NAME).failed(error)
    }

    pub(crate) fn failed(mut self, error: String) -> DemoReport {
        log::error!("Demo failed: {error}");
        self.error = Some(error);
        self.heap = Some(HeapStats::now());
        self
    }

    pub(crate) fn succeeded(mut self) -> DemoReport {
        self.heap = Some(HeapStats::now());
        self
    }

    /// Whether every cycle succeeded.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.iterations_done == self.iterations
    }

    /// The human summary lines.
    pub fn human_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.passed() {
            lines.push("Demo completed successfully.".to_owned());
        } else {
            lines.push(format!(
                "Demo failed: {}",
                self.error.as_deref().unwrap_or("unknown error")
            ));
        }
        if let Some(heap) = self.heap {
            lines.push(format!(
                "free heap {} B, minimum ever free heap {} B (total {} B, peak used {} B)",
                heap.free,
                heap.min_ever_free,
                heap.total,
                heap.peak_used()
            ));
        }
        lines
    }

    /// One JSON object (the `--json` contract).
    pub fn to_json(&self) -> String {
        let heap = self.heap.unwrap_or(HeapStats {
            total: 0,
            free: 0,
            min_ever_free: 0,
            allocation_failures: 0,
        });
        // Milliseconds with three decimals, rounded to the microsecond, in integer arithmetic
        // (float formatting costs a board ~12 KB of flash).
        let ms = |duration: Duration| {
            let micros = duration.as_nanos().saturating_add(500) / 1000;
            let micros = u64::try_from(micros).unwrap_or(u64::MAX);
            format!("{}.{:03}", micros / 1000, micros % 1000)
        };
        let mut json = String::new();
        let _ = write!(
            json,
            "{{\"result\":\"{}\",\"error\":{},\"http_status\":{},\"iterations\":{},\"iterations_completed\":{},",
            if self.passed() { "pass" } else { "fail" },
            self.error
                .as_deref()
                .map_or_else(|| "null".to_owned(), json_string),
            self.http_status
                .map_or_else(|| "null".to_owned(), |status| status.to_string()),
            self.iterations,
            self.iterations_done,
        );
        let per_iteration: Vec<String> = self
            .heap_free_per_iteration
            .iter()
            .map(usize::to_string)
            .collect();
        let lost_per_attempt: Vec<String> = self
            .heap_lost_per_failed_attempt
            .iter()
            .map(isize::to_string)
            .collect();
        let _ = write!(
            json,
            "\"heap_total\":{},\"heap_free_at_end\":{},\"heap_min_ever_free\":{},\"heap_peak_used\":{},\"heap_free_per_iteration\":[{}],\"heap_lost_per_failed_attempt\":[{}],",
            heap.total,
            heap.free,
            heap.min_ever_free,
            heap.peak_used(),
            per_iteration.join(","),
            lost_per_attempt.join(",")
        );
        let t = &self.timings;
        let _ = write!(
            json,
            "\"timings_ms\":{{\"network_up\":{},\"connect\":{},\"handshake\":{},\"request\":{},\"disconnect\":{},\"total\":{}}},",
            ms(t.network_up),
            ms(t.connect),
            ms(t.handshake),
            ms(t.request),
            ms(t.disconnect),
            ms(t.total)
        );
        let _ = write!(
            json,
            "\"handshake_busy_ns\":{},",
            t.handshake_busy.map_or_else(
                || "null".to_owned(),
                |busy| {
                    u64::try_from(busy.as_nanos())
                        .unwrap_or(u64::MAX)
                        .to_string()
                }
            )
        );
        let _ = write!(
            json,
            "\"tcpip_stack\":{},\"tls\":{{\"version\":{},\"cipher\":{}}}",
            json_string(self.tcpip_stack),
            json_string(self.tls_version),
            json_string(self.tls_cipher)
        );
        // -- resume: TLS session resumption.
        let resumed: Vec<&str> = self
            .resumed_per_iteration
            .iter()
            .map(|resumed| if *resumed { "true" } else { "false" })
            .collect();
        let _ = write!(json, ",\"resumed_per_iteration\":[{}]", resumed.join(","));
        let handshakes: Vec<String> = self
            .handshake_per_iteration
            .iter()
            .map(|(time, _)| ms(*time))
            .collect();
        let busy: Vec<String> = self
            .handshake_per_iteration
            .iter()
            .map(|(_, busy)| {
                busy.map_or_else(
                    || "null".to_owned(),
                    |busy| {
                        u64::try_from(busy.as_nanos())
                            .unwrap_or(u64::MAX)
                            .to_string()
                    },
                )
            })
            .collect();
        let _ = write!(
            json,
            ",\"handshake_ms_per_iteration\":[{}],\"handshake_busy_ns_per_iteration\":[{}]",
            handshakes.join(","),
            busy.join(",")
        );
        json.push('}');
        json
    }
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            control if (control as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", control as u32);
            }
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn a_failed_report_says_so_in_json() {
        let mut report = DemoReport::new(2, "smoltcp");
        report.error = Some("server said \"no\"".into());
        report.heap = Some(HeapStats {
            total: 100,
            free: 60,
            min_ever_free: 40,
            allocation_failures: 0,
        });
        let json = report.to_json();
        assert!(json.starts_with("{\"result\":\"fail\",\"error\":\"server said \\\"no\\\"\",\"http_status\":null,\"iterations\":2,"), "{json}");
        assert!(json.contains("\"heap_peak_used\":60"), "{json}");
        assert!(
            json.contains(
                "\"tcpip_stack\":\"smoltcp\",\"tls\":{\"version\":\"\",\"cipher\":\"\"},"
            ),
            "{json}"
        );
        assert!(json.contains(",\"resumed_per_iteration\":[],"), "{json}");
        report.resumed_per_iteration = vec![false, true];
        report.handshake_per_iteration = vec![
            (
                Duration::from_micros(12_345),
                Some(Duration::from_nanos(4_000_000)),
            ),
            (Duration::from_micros(2_000), None),
        ];
        let json = report.to_json();
        assert!(
            json.ends_with(
                ",\"resumed_per_iteration\":[false,true],\"handshake_ms_per_iteration\":[12.345,2.000],\"handshake_busy_ns_per_iteration\":[4000000,null]}"
            ),
            "{json}"
        );
    }
}
