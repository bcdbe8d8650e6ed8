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

/// Maps an offset in `String::from_utf8_lossy(raw)` back to the offset in `raw`.
pub(crate) fn raw_offset(raw: &[u8], lossy: usize) -> usize {
    let (mut text, mut bytes) = (0usize, 0usize);
    for chunk in raw.utf8_chunks() {
        let valid = chunk.valid().len();
        if lossy <= text + valid {
            return bytes + (lossy - text);
        }
        text += valid;
        bytes += valid;
        let bad = chunk.invalid().len();
        if bad > 0 {
            if lossy < text + '\u{FFFD}'.len_utf8() {
                return bytes;
            }
            text += '\u{FFFD}'.len_utf8();
            bytes += bad;
        }
    }
    bytes + lossy.saturating_sub(text)
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
    /// For an error found in `String::from_utf8_lossy(raw)`: the offset in `raw` itself (each
    /// replaced run of bad bytes is one 3-byte U+FFFD in the text, not its own length).
    pub(crate) fn in_raw(mut self, raw: &[u8]) -> Self {
        self.offset = raw_offset(raw, self.offset);
        self
    }

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

#[cfg(test)]
mod raw_offset_tests {
    use super::raw_offset;

    // Found by fuzzing: an error after bad bytes pointed past the end of the input.
    #[test]
    fn offsets_in_replaced_text_map_back_to_the_bytes() {
        let raw = b"ab\xfe\xff\xffcd";
        let text = String::from_utf8_lossy(raw);
        assert_eq!(raw_offset(raw, 0), 0);
        assert_eq!(raw_offset(raw, 2), 2);
        // Each bad byte became one U+FFFD here; 'c' follows the three of them.
        let c = text.find('c').unwrap();
        assert_eq!(raw_offset(raw, c), 5);
        assert_eq!(raw_offset(raw, text.len()), raw.len());
        assert_eq!(raw_offset(b"plain", 3), 3);
    }

    #[test]
    fn a_parse_error_after_bad_bytes_stays_inside_the_input() {
        let input = b"BpEI Ys:er:@\xfe\xff\xff&\xffpEI\x0b\x00\n".to_vec();
        let n = input.len();
        let e = crate::Message::parse(input).unwrap_err();
        assert!(e.offset <= n, "offset {} beyond input {n}", e.offset);
    }
}
