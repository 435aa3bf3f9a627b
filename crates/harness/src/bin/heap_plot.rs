//! `heap-plot`: draws a heap trace (the CSV the demo writes with `IOT_HEAP_TRACE=FILE`) as an
//! SVG plot of FreeRTOS heap in use over time, with the demo's phases marked, and prints the
//! peak's breakdown by owner as a Markdown table.
//!
//! `heap-plot [--title TEXT] TRACE.csv OUT.svg`. Used by `scripts/bench-report.sh`.

use std::fmt::Write as _;
use std::process::ExitCode;

/// One row of the trace.
struct Event {
    time_us: u64,
    used: u64,
    kind: String,
    tag: String,
}

/// What the trace says.
struct Trace {
    peak: u64,
    peak_phase: String,
    owners: Vec<(String, u64)>,
    events: Vec<Event>,
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut title = String::from("FreeRTOS heap in use");
    if let Some(at) = args.iter().position(|arg| arg == "--title") {
        if at + 1 >= args.len() {
            eprintln!("error: --title needs a value");
            return ExitCode::from(2);
        }
        title = args.remove(at + 1);
        args.remove(at);
    }
    let [input, output] = args.as_slice() else {
        eprintln!("usage: heap-plot [--title TEXT] TRACE.csv OUT.svg");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(input) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("error: cannot read the trace {input}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let trace = match parse(&text) {
        Ok(trace) => trace,
        Err(error) => {
            eprintln!("error: {input}: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(error) = std::fs::write(output, svg(&trace, &title)) {
        eprintln!("error: cannot write {output}: {error}");
        return ExitCode::FAILURE;
    }
    print!("{}", owner_table(&trace));
    ExitCode::SUCCESS
}

fn parse(text: &str) -> Result<Trace, String> {
    let mut trace = Trace {
        peak: 0,
        peak_phase: String::new(),
        owners: Vec::new(),
        events: Vec::new(),
    };
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        let bad = || format!("line {}: cannot read {line:?}", number + 1);
        match fields.as_slice() {
            ["# peak", bytes, phase] => {
                trace.peak = bytes.parse().map_err(|_| bad())?;
                trace.peak_phase = (*phase).to_owned();
            }
            ["# owner", name, bytes] => {
                trace
                    .owners
                    .push(((*name).to_owned(), bytes.parse().map_err(|_| bad())?));
            }
            ["time_us", ..] => {}
            [comment, ..] if comment.starts_with('#') => {}
            [time, used, kind, tag, ..] => trace.events.push(Event {
                time_us: time.parse().map_err(|_| bad())?,
                used: used.parse().map_err(|_| bad())?,
                kind: (*kind).to_owned(),
                tag: (*tag).to_owned(),
            }),
            _ => return Err(bad()),
        }
    }
    if trace.events.is_empty() {
        return Err("no events in the trace (was IOT_HEAP_TRACE set?)".into());
    }
    Ok(trace)
}

fn owner_table(trace: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| owner (at the peak, {} B, during {}) | bytes | share |",
        trace.peak, trace.peak_phase
    );
    let _ = writeln!(out, "|---|---|---|");
    let counted: u64 = trace.owners.iter().map(|(_, bytes)| bytes).sum();
    for (name, bytes) in &trace.owners {
        let share = *bytes as f64 * 100.0 / trace.peak.max(1) as f64;
        let _ = writeln!(out, "| {name} | {bytes} | {share:.1} % |");
    }
    if trace.peak > counted {
        let _ = writeln!(
            out,
            "| not attributed (allocated before the trace began) | {} | |",
            trace.peak - counted
        );
    }
    out
}

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

fn svg(trace: &Trace, title: &str) -> String {
    let end_us = trace.events.last().map_or(1, |event| event.time_us).max(1);
    let top_bytes = nice_ceiling(trace.events.iter().map(|e| e.used).max().unwrap_or(1));
    let x = |us: u64| LEFT + (WIDTH - LEFT - RIGHT) * us as f64 / end_us as f64;
    let y = |bytes: u64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - bytes as f64 / top_bytes as f64);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        out,
        r#"<text x="{}" y="20" font-size="14" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    // Axes and grid.
    for step in 0..=5 {
        let bytes = top_bytes * step / 5;
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#ddd"/><text x="{2}" y="{3:.1}" text-anchor="end">{bytes}</text>"##,
            y(bytes),
            WIDTH - RIGHT,
            LEFT - 5.0,
            y(bytes) + 4.0
        );
    }
    for step in 0..=5 {
        let us = end_us * step / 5;
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{:.1} ms</text>"#,
            x(us),
            HEIGHT - BOTTOM + 15.0,
            us as f64 / 1000.0
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="15" y="{:.1}" transform="rotate(-90 15 {:.1})" text-anchor="middle">bytes in use</text>"#,
        HEIGHT / 2.0,
        HEIGHT / 2.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">time since the heap trace began (each allocation and free is a step)</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 12.0
    );
    // Phases: a dashed line and a label at each start.
    let phases = trace.events.iter().filter(|event| event.kind == "phase");
    for (label_row, event) in phases.enumerate() {
        let at = x(event.time_us);
        let _ = writeln!(
            out,
            r##"<line x1="{at:.1}" y1="{TOP}" x2="{at:.1}" y2="{}" stroke="#c33" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" fill="#c33">{}</text>"##,
            HEIGHT - BOTTOM,
            at + 2.0,
            TOP + 12.0 + 12.0 * (label_row % 4) as f64,
            escape(&event.tag)
        );
    }
    // Heap in use, as steps: per half-pixel column only the first, lowest, highest and last
    // value are drawn (what the eye can see), so a run of thousands of events stays small.
    let samples = trace.events.iter().filter(|event| event.kind != "phase");
    let points = step_points(samples.map(|event| (x(event.time_us), event.used)), y);
    let _ = writeln!(
        out,
        r##"<polyline fill="none" stroke="#236" stroke-width="1.2" points="{points}"/>"##
    );
    let _ = writeln!(
        out,
        r##"<line x1="{LEFT}" y1="{0:.1}" x2="{1}" y2="{0:.1}" stroke="#236" stroke-dasharray="2 2"/><text x="{2}" y="{3:.1}" text-anchor="end" fill="#236">peak {4} B</text>"##,
        y(trace.peak),
        WIDTH - RIGHT,
        WIDTH - RIGHT - 2.0,
        y(trace.peak) - 4.0,
        trace.peak
    );
    let _ = writeln!(out, "</svg>");
    out
}

/// The polyline of a step plot through `(x, bytes)` samples in time order, with each
/// half-pixel column reduced to its first, lowest, highest and last value.
fn step_points(samples: impl Iterator<Item = (f64, u64)>, y: impl Fn(u64) -> f64) -> String {
    let mut points = String::new();
    let mut emit = |x: f64, bytes: u64| {
        let _ = write!(points, "{x:.1},{:.1} ", y(bytes));
    };
    // The current column: its position, and its first, lowest, highest and last value.
    let mut column: Option<(f64, u64, u64, u64, u64)> = None;
    for (x, bytes) in samples {
        let bin = (x * 2.0).floor() / 2.0;
        match column.as_mut() {
            Some((at, _, low, high, last)) if *at == bin => {
                *low = (*low).min(bytes);
                *high = (*high).max(bytes);
                *last = bytes;
            }
            _ => {
                if let Some((at, first, low, high, last)) = column {
                    for value in [first, low, high, last] {
                        emit(at, value);
                    }
                    // The level holds until the next column's first change.
                    emit(bin, last);
                }
                column = Some((bin, bytes, bytes, bytes, bytes));
            }
        }
    }
    if let Some((at, first, low, high, last)) = column {
        for value in [first, low, high, last] {
            emit(at, value);
        }
    }
    points
}

/// The next round number at or above `bytes` (1 to 9 times a power of ten).
fn nice_ceiling(bytes: u64) -> u64 {
    let mut scale = 1;
    loop {
        for factor in 1..=9 {
            if factor * scale >= bytes {
                return factor * scale;
            }
        }
        scale *= 10;
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_trace_and_attributes_the_peak() {
        let trace = parse(
            "# peak,300,TLS handshake\n# owner,Mbed TLS (C),200\n# owner,HTTP,40\n# events,3,3\n\
             time_us,used,event,tag,offset,size\n1,100,alloc,HTTP,0,100\n2,100,phase,TLS handshake,0,0\n\
             3,300,alloc,Mbed TLS (C),100,200\n",
        )
        .expect("a valid trace");
        assert_eq!(trace.events.len(), 3);
        let table = owner_table(&trace);
        assert!(table.contains("| Mbed TLS (C) | 200 | 66.7 % |"), "{table}");
        assert!(
            table.contains("| not attributed (allocated before the trace began) | 60 |"),
            "{table}"
        );
        let plot = svg(&trace, "t");
        assert!(plot.contains(">TLS handshake</text>"), "{plot}");
        assert!(plot.contains("peak 300 B"), "{plot}");
    }

    #[test]
    fn an_empty_trace_is_an_error_that_says_why() {
        let error = parse("# peak,0,start\n").err().expect("no events");
        assert!(error.contains("no events"), "{error}");
    }

    #[test]
    fn a_column_keeps_its_extremes_and_its_last_value() {
        let samples = [(1.0, 10), (1.1, 50), (1.2, 5), (1.3, 20), (3.0, 30)];
        let points = step_points(samples.into_iter(), |bytes| bytes as f64);
        assert_eq!(
            points,
            "1.0,10.0 1.0,5.0 1.0,50.0 1.0,20.0 3.0,20.0 3.0,30.0 3.0,30.0 3.0,30.0 3.0,30.0 "
        );
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(63_128), 70_000);
        assert_eq!(nice_ceiling(41_000), 50_000);
        assert_eq!(nice_ceiling(40_000), 40_000);
        assert_eq!(nice_ceiling(2), 2);
    }
}
