//! Parse errors: every fault carries the byte offset where it was found and
//! what the grammar expected there.

use std::fmt;

/// Where in the message a fault was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The request line or status line (RFC 3261 §7.1, §7.2).
    StartLine,
    /// The header named here (canonical spelling).
    Header(&'static str),
    /// An extension header, not typed by this crate.
    ExtensionHeader,
    /// The header section as a whole (line structure, folding).
    HeaderSection,
    /// The message body and its framing (Content-Length, RFC 3261 §18.3, §20.14).
    Body,
    /// A URI on its own (RFC 3261 §19.1, §25.1).
    Uri,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::StartLine => f.write_str("start line"),
            Part::Header(name) => write!(f, "{name} header"),
            Part::ExtensionHeader => f.write_str("extension header"),
            Part::HeaderSection => f.write_str("header section"),
            Part::Body => f.write_str("body"),
            Part::Uri => f.write_str("URI"),
        }
    }
}

/// What went wrong, as a category a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes do not follow the grammar: `expected` says what would.
    Syntax,
    /// A number is out of the range the grammar or RFC allows.
    OutOfRange,
    /// The SIP version is not 2.0 (RFC 3261 §8.2.2: answered with 505).
    UnsupportedVersion,
    /// The message ended before it was complete.
    Truncated,
    /// The message exceeds a configured size limit.
    TooLarge,
    /// A header that must appear once is missing or repeated, or two
    /// headers contradict each other (RFC 3261 §8.1.1, §20).
    Semantic,
}

/// A fault in a SIP message: what, where (byte offset from the start of the
/// message) and what the grammar expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part}: {expected} (at byte {offset})")]
pub struct ParseError {
    /// Byte offset from the start of the message (or of the URI, for a URI parsed on its own).
    pub offset: usize,
    /// Which part of the message holds the fault.
    pub part: Part,
    /// The category of the fault.
    pub kind: ErrorKind,
    /// What was expected, in words (e.g. "expected ':' after header name").
    pub expected: &'static str,
}

impl ParseError {
    /// A syntax error.
    pub(crate) fn syntax(offset: usize, part: Part, expected: &'static str) -> Self {
        Self {
            offset,
            part,
            kind: ErrorKind::Syntax,
            expected,
        }
    }

    /// An error of the given kind.
    pub(crate) fn new(offset: usize, part: Part, kind: ErrorKind, expected: &'static str) -> Self {
        Self {
            offset,
            part,
            kind,
            expected,
        }
    }

    /// Returns the same error moved by `base` bytes (for a value parsed out of a larger buffer)
    /// and attributed to `part` when it had no more precise attribution.
    pub(crate) fn rebase(mut self, base: usize, part: Part) -> Self {
        self.offset += base;
        if matches!(self.part, Part::Uri | Part::ExtensionHeader) || self.part == part {
            self.part = part;
        }
        self
    }

    /// The SIP status a server answers a request with this fault with
    /// (400, or 505 for an unsupported version, or 513 for an oversized message).
    pub fn status_code(&self) -> u16 {
        match self.kind {
            ErrorKind::UnsupportedVersion => 505,
            ErrorKind::TooLarge => 513,
            _ => 400,
        }
    }

    /// A reason phrase naming the fault, safe to put on a status line
    /// (RFC 3261 §25.1 Reason-Phrase: no CR or LF; bounded length).
    pub fn reason_phrase(&self) -> String {
        let head = match self.kind {
            ErrorKind::UnsupportedVersion => "Version Not Supported",
            ErrorKind::TooLarge => "Message Too Large",
            _ => "Bad Request",
        };
        let mut s = format!("{head} - malformed {}: {}", self.part, self.expected);
        s.retain(|c| c != '\r' && c != '\n');
        truncate_on_char(&mut s, 200);
        s
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = ParseError> = std::result::Result<T, E>;

/// Truncates `s` to at most `max` bytes without splitting a character.
pub(crate) fn truncate_on_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}
