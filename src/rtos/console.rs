//! Line output that cannot deadlock, from tasks of any priority (and, on the simulator, from
//! host threads), on the board's console ([`BoardServices::console_write`]).
//!
//! `println!` takes the process-wide stdout lock. On the POSIX simulator a task can be
//! pre-empted while holding it, and the next task that prints then waits forever (measured
//! here). This module never takes a lock:
//!
//! * On a task, a line is formatted with the scheduler suspended, into a [`PIECE_BYTES`]
//!   buffer on the task's stack that goes to the board each time it fills: lines from
//!   different tasks never interleave, a line of any length is written whole, and no task's
//!   stack has to hold a whole line (a 1 KiB line buffer was 40 % of the board's IP task's
//!   peak). So a `Display` used in a line must not block (none of ours does).
//! * Elsewhere (a host thread on a simulator; a board before its scheduler starts) a line is
//!   formatted into a [`MAX_LINE`] buffer on the caller's stack and handed over in one call.
//!
//! Use it (or the `log` macros, see [`crate::rtos::log`]) instead of `print!` in task code.
//!
//! [`BoardServices::console_write`]: crate::board::BoardServices::console_write

use core::fmt::{self, Write as _};

use super::critical::SchedulerSuspended;
use super::task::in_task;
use crate::board;

/// Longest line formatted outside a task (see the module docs); longer ones are cut and end
/// with `...`.
pub const MAX_LINE: usize = 1024;

/// How much of a task's line is formatted before it is handed to the board (see the module
/// docs): a console write per 256 bytes, and 256 bytes of the task's stack.
pub const PIECE_BYTES: usize = 256;

/// Where a line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The program's output (standard output on a simulator).
    Stdout,
    /// Diagnostics (standard error on a simulator; a board may send both to one UART).
    Stderr,
}

/// A fixed-capacity text buffer that keeps what fits and notes that the rest was cut.
pub struct LineBuffer<const N: usize> {
    bytes: [u8; N],
    len: usize,
    truncated: bool,
}

impl<const N: usize> LineBuffer<N> {
    /// An empty buffer.
    pub const fn new() -> Self {
        LineBuffer {
            bytes: [0; N],
            len: 0,
            truncated: false,
        }
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.len = 0;
        self.truncated = false;
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Whether some text did not fit.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The text so far (cuts never split a character, so it is always valid UTF-8).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Ends the line with `\n`, replacing the tail with `...` if text was cut.
    fn finish_line(&mut self) {
        const MARK: &[u8] = b"...\n";
        if self.truncated || self.len + 1 > N {
            let mut start = self.len.min(N.saturating_sub(MARK.len()));
            // Step back over UTF-8 continuation bytes so no character is split.
            while start > 0 && start < self.len && self.bytes[start] & 0xC0 == 0x80 {
                start -= 1;
            }
            let end = (start + MARK.len()).min(N);
            self.bytes[start..end].copy_from_slice(&MARK[..end - start]);
            self.len = end;
        } else {
            self.bytes[self.len] = b'\n';
            self.len += 1;
        }
    }
}

impl<const N: usize> Default for LineBuffer<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Write for LineBuffer<N> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // One byte stays free for the newline.
        let room = N.saturating_sub(1).saturating_sub(self.len);
        let mut take = text.len().min(room);
        while !text.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&text.as_bytes()[..take]);
        self.len += take;
        if take < text.len() {
            self.truncated = true;
        }
        Ok(())
    }
}

/// Formats one line (a newline is added) and writes it to `stream` (see the module docs).
pub fn write_line(stream: Stream, args: fmt::Arguments<'_>) {
    if !in_task() {
        return write_line_outside_tasks(stream, args);
    }
    let _suspended = SchedulerSuspended::enter();
    let mut line = StreamedLine {
        stream,
        piece: [0; PIECE_BYTES],
        len: 0,
    };
    // Writing into a StreamedLine never fails; a Display impl that errors just ends the text.
    let _ = line.write_fmt(args);
    line.finish();
}

/// [`write_line`] off a task: the whole line in one buffer, one write. Out of line, so that
/// the buffer is on the stack only of the callers that come here.
#[inline(never)]
fn write_line_outside_tasks(stream: Stream, args: fmt::Arguments<'_>) {
    let mut line = LineBuffer::<MAX_LINE>::new();
    let _ = line.write_fmt(args);
    line.finish_line();
    raw_write(stream, line.as_bytes());
}

/// A task's line on its way to the board, a piece at a time (scheduler suspended by the
/// caller).
struct StreamedLine {
    stream: Stream,
    piece: [u8; PIECE_BYTES],
    len: usize,
}

impl StreamedLine {
    /// Hands the buffered piece to the board.
    fn flush(&mut self) {
        if self.len > 0 {
            raw_write(self.stream, &self.piece[..self.len]);
            self.len = 0;
        }
    }

    /// Ends the line with its newline and writes what is left.
    fn finish(mut self) {
        if self.len == PIECE_BYTES {
            self.flush();
        }
        self.piece[self.len] = b'\n';
        self.len += 1;
        self.flush();
    }
}

impl fmt::Write for StreamedLine {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // Pieces may split a character: the board receives the bytes in order, whole.
        let mut bytes = text.as_bytes();
        while !bytes.is_empty() {
            if self.len == PIECE_BYTES {
                self.flush();
            }
            let take = bytes.len().min(PIECE_BYTES - self.len);
            self.piece[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
        }
        Ok(())
    }
}

/// Writes `text` and a newline to `stream`, whatever its length (no formatting buffer).
pub fn write_text_line(stream: Stream, text: &str) {
    let _suspended = in_task().then(SchedulerSuspended::enter);
    raw_write(stream, text.as_bytes());
    raw_write(stream, b"\n");
}

/// Writes bytes to `stream` as one uninterrupted run (see the module docs). Errors (a closed
/// pipe, say) are ignored: there is nowhere left to report them.
pub fn write_bytes(stream: Stream, bytes: &[u8]) {
    let _suspended = in_task().then(SchedulerSuspended::enter);
    raw_write(stream, bytes);
}

fn raw_write(stream: Stream, bytes: &[u8]) {
    board::services().console_write(stream, bytes);
}

/// Text in double quotes with `"`, `\\` and control characters escaped, as `{:?}` shows a
/// `str` for the text this project quotes (names and values from settings or a server) but
/// without the Unicode tables `{:?}` links (about 2.5 KB of a board's flash). Other characters
/// are written as they are.
#[derive(Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let mut plain = 0;
        for (at, c) in self.0.char_indices() {
            let escape = match c {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\0' => "\\0",
                c if c.is_ascii_control() => "",
                _ => continue,
            };
            f.write_str(&self.0[plain..at])?;
            if escape.is_empty() {
                write!(f, "\\u{{{:x}}}", u32::from(c))?;
            } else {
                f.write_str(escape)?;
            }
            plain = at + c.len_utf8();
        }
        f.write_str(&self.0[plain..])?;
        f.write_char('"')
    }
}

/// Writes a message to [`Stream::Stderr`] and ends the program at once with `status`
/// ([`BoardServices::exit`](crate::board::BoardServices::exit); on the simulator without exit
/// handlers, which could wait on a lock held by a suspended task).
pub fn fatal(args: fmt::Arguments<'_>, status: i32) -> ! {
    let mut line = LineBuffer::<MAX_LINE>::new();
    let _ = line.write_fmt(args);
    line.finish_line();
    let services = board::services();
    services.console_write(Stream::Stderr, line.as_bytes());
    services.exit(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use std::prelude::rust_2024::*;
    #[allow(unused_imports)]
    use std::{format, vec};

    #[test]
    fn short_lines_get_a_newline() {
        let mut line = LineBuffer::<16>::new();
        write!(line, "abc {}", 1).unwrap();
        line.finish_line();
        assert_eq!(line.as_bytes(), b"abc 1\n");
        assert!(!line.is_truncated());
    }

    #[test]
    fn long_lines_are_cut_with_a_mark() {
        let mut line = LineBuffer::<10>::new();
        write!(line, "0123456789abcdef").unwrap();
        line.finish_line();
        assert!(line.is_truncated());
        assert_eq!(line.as_bytes(), b"012345...\n");
    }

    #[test]
    fn quoted_text_matches_debug_for_ascii() {
        for text in [
            "plain",
            "",
            "a \"b\" c",
            "back\\slash",
            "tab\tnl\ncr\r",
            "nul\0",
            "esc\u{1b}del\u{7f}",
            "é ü ☃",
        ] {
            assert_eq!(format!("{}", Quoted(text)), format!("{text:?}"), "{text}");
        }
    }

    #[test]
    fn cuts_never_split_a_character() {
        let mut line = LineBuffer::<6>::new();
        write!(line, "aéééé").unwrap();
        assert_eq!(line.as_bytes(), "aéé".as_bytes());
        assert!(core::str::from_utf8(line.as_bytes()).is_ok());
    }
}
