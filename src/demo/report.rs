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
    /// The demo task's real stack use by the end of the run, in bytes, where the board
    /// measures it: the kernel's high-water mark on a board, the painted pthread stack on the
    /// POSIX simulator (host code; see `board::posix::stack_paint`). `None` elsewhere.
    pub app_stack_peak: Option<usize>,
    // -- resume: TLS session resumption.
    /// For each completed cycle, whether its connection resumed a TLS session (`false`: a
    /// full handshake).
    pub resumed_per_iteration: Vec<bool>,
    /// For each completed cycle, its TLS handshake (host clock) and, on boards that count it,
    /// the processor time it cost (see [`Timings::handshake_busy`]): the cost of a full and of
    /// a resumed handshake side by side.
    pub handshake_per_iteration: Vec<(Duration, Option<Duration>)>,
    // -- reuse: publishes per connection.
    /// Publishes asked for per iteration (`--publishes`); each iteration starts one connection.
    pub publishes: u32,
    /// Publishes acknowledged with a 2xx status, over the whole run.
    pub publishes_done: u32,
    /// Publishes sent again after a request that got no answer: each may have arrived twice.
    pub publishes_resent: u32,
    /// Connections opened (TLS handshakes completed), reconnections included.
    pub connections: u32,
    /// The first [`PUBLISH_FIGURES`] acknowledged publishes, each timed from the end of the one
    /// before (or the start of its cycle).
    pub publish_figures: Vec<PublishFigure>,
    /// Every acknowledged publish that opened its connection: count, wall and processor time.
    pub publish_new_connection: PublishTotals,
    /// Every acknowledged publish sent on a connection that was already open.
    pub publish_reused: PublishTotals,
}

// -- reuse: publishes per connection.
/// Publishes whose figures are kept one by one (a device's heap has no room for thousands);
/// [`PublishTotals`] count all of them.
pub const PUBLISH_FIGURES: usize = 64;

/// The cost of one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishFigure {
    /// Wall time from the end of the publish before (or the start of its cycle) to its
    /// answer, in microseconds.
    pub elapsed_us: u32,
    /// Processor time outside the idle task over the same span, on boards that count it
    /// (instructions under QEMU's `-icount shift=0`).
    pub busy_ns: Option<u64>,
    /// Whether the publish opened its connection (its time carries the TCP connect and the TLS
    /// handshake) rather than reusing an open one.
    pub new_connection: bool,
}

/// Sums over a kind of publish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishTotals {
    /// Publishes counted.
    pub count: u32,
    /// Their wall time.
    pub elapsed: Duration,
    /// Their processor time, on boards that count it.
    pub busy: Option<Duration>,
}

impl PublishTotals {
    fn add(&mut self, elapsed: Duration, busy: Option<Duration>) {
        self.busy = match self.count {
            0 => busy,
            _ => self
                .busy
                .zip(busy)
                .map(|(sum, more)| sum.saturating_add(more)),
        };
        self.count = self.count.saturating_add(1);
        self.elapsed = self.elapsed.saturating_add(elapsed);
    }

    /// The mean wall time, `None` without publishes.
    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| self.elapsed / self.count)
    }

    /// The mean processor time, on boards that count it.
    pub fn mean_busy(&self) -> Option<Duration> {
        self.busy
            .filter(|_| self.count > 0)
            .map(|busy| busy / self.count)
    }
}

/// The median of `values` (the lower middle one of an even count); `None` if empty. At most
/// [`PUBLISH_FIGURES`] values: an insertion sort, since the standard library's sorts cost a
/// board ~7 KB of flash.
fn median<T: Ord + Copy>(mut values: Vec<T>) -> Option<T> {
    for sorted in 1..values.len() {
        let mut at = sorted;
        while at > 0 && values[at - 1] > values[at] {
            values.swap(at - 1, at);
            at -= 1;
        }
    }
    let middle = values.len().checked_sub(1)? / 2;
    values.get(middle).copied()
}

/// Milliseconds with three decimals, rounded to the microsecond, in integer arithmetic
/// (float formatting costs a board ~12 KB of flash).
fn ms_text(duration: Duration) -> String {
    let micros = duration.as_nanos().saturating_add(500) / 1000;
    let micros = u64::try_from(micros).unwrap_or(u64::MAX);
    format!("{}.{:03}", micros / 1000, micros % 1000)
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
            app_stack_peak: None,
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
            // -- reuse: publishes per connection.
            publishes: 1,
            publishes_done: 0,
            publishes_resent: 0,
            connections: 0,
            publish_figures: Vec::new(),
            publish_new_connection: PublishTotals::default(),
            publish_reused: PublishTotals::default(),
        }
    }

    // -- reuse: publishes per connection.
    /// Sets the publishes asked for per iteration, and makes room for their figures up front
    /// (the report does not grow while heap figures are taken).
    pub(crate) fn expect_publishes(&mut self, per_iteration: u32) {
        self.publishes = per_iteration;
        let total = (self.iterations as usize).saturating_mul(per_iteration as usize);
        let _ = self
            .publish_figures
            .try_reserve_exact(total.min(PUBLISH_FIGURES));
    }

    /// Notes an acknowledged publish: its `(wall, processor)` time since the one before, and
    /// whether it opened its connection.
    pub(crate) fn note_publish(
        &mut self,
        (elapsed, busy): (Duration, Option<Duration>),
        new_connection: bool,
    ) {
        if new_connection {
            self.publish_new_connection.add(elapsed, busy);
        } else {
            self.publish_reused.add(elapsed, busy);
        }
        if self.publish_figures.len() < PUBLISH_FIGURES {
            self.publish_figures.push(PublishFigure {
                elapsed_us: u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX),
                busy_ns: busy.map(|busy| u64::try_from(busy.as_nanos()).unwrap_or(u64::MAX)),
                new_connection,
            });
        }
    }

    /// The median wall time of the kept figures of publishes that opened their connection
    /// (`true`) or reused one (`false`).
    pub fn publish_median(&self, new_connection: bool) -> Option<Duration> {
        let kept = self.publish_figures.iter();
        let values: Vec<u32> = kept
            .filter(|figure| figure.new_connection == new_connection)
            .map(|figure| figure.elapsed_us)
            .collect();
        median(values).map(|us| Duration::from_micros(u64::from(us)))
    }

    /// The median processor time of the kept figures of one kind (see
    /// [`publish_median`](Self::publish_median)), on boards that count it.
    pub fn publish_median_busy(&self, new_connection: bool) -> Option<Duration> {
        let kept = self.publish_figures.iter();
        let values: Option<Vec<u64>> = kept
            .filter(|figure| figure.new_connection == new_connection)
            .map(|figure| figure.busy_ns)
            .collect();
        median(values?).map(Duration::from_nanos)
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
        // -- reuse: publishes per connection.
        if self.publishes > 1 {
            let figure = |median: Option<Duration>| median.map_or_else(|| "-".to_owned(), ms_text);
            lines.push(format!(
                "publishes: {} of {} acknowledged over {} connection(s), {} sent again; per \
                 publish (medians): {} ms opening a connection, {} ms on an open one",
                self.publishes_done,
                u64::from(self.iterations) * u64::from(self.publishes),
                self.connections,
                self.publishes_resent,
                figure(self.publish_median(true)),
                figure(self.publish_median(false)),
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
        let ms = ms_text;
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
            "\"app_stack_peak\":{},",
            self.app_stack_peak
                .map_or_else(|| "null".to_owned(), |bytes| bytes.to_string())
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
        // -- reuse: publishes per connection.
        self.write_publishes_json(&mut json);
        json.push('}');
        json
    }

    // -- reuse: publishes per connection.
    /// `,"publishes":...` to `"publish_summary":{...}`: the end of the JSON object, but its `}`.
    fn write_publishes_json(&self, json: &mut String) {
        let null = || "null".to_owned();
        let busy_ns = |busy: Option<Duration>| {
            busy.map_or_else(null, |busy| {
                u64::try_from(busy.as_nanos())
                    .unwrap_or(u64::MAX)
                    .to_string()
            })
        };
        let figures = &self.publish_figures;
        let list = |item: &dyn Fn(&PublishFigure) -> String| {
            figures.iter().map(item).collect::<Vec<String>>().join(",")
        };
        let _ = write!(
            json,
            ",\"publishes\":{},\"publishes_completed\":{},\"publishes_resent\":{},\"connections\":{},\"publish_ms\":[{}],\"publish_new_connection\":[{}],\"publish_busy_ns\":[{}]",
            self.publishes,
            self.publishes_done,
            self.publishes_resent,
            self.connections,
            list(&|figure| ms_text(Duration::from_micros(u64::from(figure.elapsed_us)))),
            list(&|figure| figure.new_connection.to_string()),
            list(&|figure| figure.busy_ns.map_or_else(null, |ns| ns.to_string())),
        );
        json.push_str(",\"publish_summary\":{");
        for (name, new_connection, totals) in [
            ("new_connection", true, &self.publish_new_connection),
            ("reused", false, &self.publish_reused),
        ] {
            let _ = write!(
                json,
                "{}\"{name}\":{{\"count\":{},\"mean_ms\":{},\"median_ms\":{},\"mean_busy_ns\":{},\"median_busy_ns\":{}}}",
                if new_connection { "" } else { "," },
                totals.count,
                totals.mean().map_or_else(null, ms_text),
                self.publish_median(new_connection)
                    .map_or_else(null, ms_text),
                busy_ns(totals.mean_busy()),
                busy_ns(self.publish_median_busy(new_connection)),
            );
        }
        json.push('}');
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
        assert!(json.contains(",\"app_stack_peak\":null,"), "{json}");
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
            json.contains(
                ",\"resumed_per_iteration\":[false,true],\"handshake_ms_per_iteration\":[12.345,2.000],\"handshake_busy_ns_per_iteration\":[4000000,null],"
            ),
            "{json}"
        );
    }

    // -- reuse: publishes per connection.
    #[test]
    fn publishes_are_timed_apart_by_whether_they_opened_their_connection() {
        let mut report = DemoReport::new(1, "smoltcp");
        report.expect_publishes(5);
        let ms = Duration::from_millis;
        report.note_publish((ms(30), None), true);
        for later in [2, 4, 3] {
            report.note_publish((ms(later), None), false);
        }
        report.note_publish((ms(50), None), true);
        report.publishes_done = 5;
        report.connections = 2;
        assert_eq!(report.publish_median(true), Some(ms(30)));
        assert_eq!(report.publish_median(false), Some(ms(3)));
        assert_eq!(report.publish_new_connection.mean(), Some(ms(40)));
        assert_eq!(report.publish_reused.mean(), Some(ms(3)));
        assert_eq!(report.publish_median_busy(false), None);
        let json = report.to_json();
        assert!(
            json.ends_with(
                "\"publishes\":5,\"publishes_completed\":5,\"publishes_resent\":0,\"connections\":2,\
                 \"publish_ms\":[30.000,2.000,4.000,3.000,50.000],\
                 \"publish_new_connection\":[true,false,false,false,true],\
                 \"publish_busy_ns\":[null,null,null,null,null],\
                 \"publish_summary\":{\"new_connection\":{\"count\":2,\"mean_ms\":40.000,\"median_ms\":30.000,\"mean_busy_ns\":null,\"median_busy_ns\":null},\
                 \"reused\":{\"count\":3,\"mean_ms\":3.000,\"median_ms\":3.000,\"mean_busy_ns\":null,\"median_busy_ns\":null}}}"
            ),
            "{json}"
        );
        assert!(report.human_lines().iter().any(|line| line.contains(
            "publishes: 5 of 5 acknowledged over 2 connection(s), 0 sent again; per publish \
             (medians): 30.000 ms opening a connection, 3.000 ms on an open one"
        )));
    }

    #[test]
    fn processor_time_is_summed_only_when_every_publish_has_it() {
        let mut totals = PublishTotals::default();
        let ns = Duration::from_nanos;
        totals.add(ns(10), Some(ns(100)));
        totals.add(ns(30), Some(ns(300)));
        assert_eq!(totals.mean_busy(), Some(ns(200)));
        totals.add(ns(20), None);
        assert_eq!((totals.count, totals.mean_busy()), (3, None));
        assert_eq!(median(vec![5u32, 1, 3, 2]), Some(2));
        assert_eq!(median(Vec::<u32>::new()), None);
    }

    #[test]
    fn only_the_first_figures_are_kept_but_every_publish_is_counted() {
        let mut report = DemoReport::new(1, "smoltcp");
        report.expect_publishes(1000);
        for _ in 0..1000 {
            report.note_publish((Duration::from_millis(1), None), false);
        }
        assert_eq!(report.publish_figures.len(), PUBLISH_FIGURES);
        assert_eq!(report.publish_reused.count, 1000);
    }
}
