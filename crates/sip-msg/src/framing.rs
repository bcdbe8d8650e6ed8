//! Stream framing for TCP and TLS (RFC 3261 §18.3): messages are cut by Content-Length;
//! CRLF keep-alives (RFC 5626 §3.5.1) are told apart from messages.
//!
//! What happens on bad input, by design:
//! - CRLFs between messages are keep-alives: `CRLF CRLF` is a ping (answer with a pong),
//!   a lone `CRLF` is a pong (RFC 5626 §3.5.1; RFC 3261 §7.5 lets them precede a start line).
//! - A header section longer than the limit, a Content-Length over the limit, several
//!   Content-Length values that disagree, or a first line that cannot start a SIP message
//!   (garbage) is fatal: [`StreamFramer::next_frame`] returns the error once, the framer stays
//!   failed, and the connection must be closed. Resynchronising inside a byte stream would let
//!   a peer smuggle a second message into the body of a first, so the framer never guesses.
//! - A frame whose header values are malformed is still a frame: the framing is sound, and
//!   the receiver can answer it with a 400 ([`crate::reject`]) and keep the connection.
//! - A message without Content-Length on a stream has an empty body.
//! - Memory is bounded: the framer never holds more than `max_message` bytes plus one read.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{ErrorKind, ParseError, Part};
use crate::header::{Header, HeaderName};
use crate::message::{content_length, split_headers};
use crate::scan::is_token;

/// What the framer cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One complete message (start line to the end of its body), ready for [`crate::Message::parse`].
    Message(Bytes),
    /// `CRLF CRLF`: a keep-alive ping; answer with [`PONG`] (RFC 5626 §3.5.1).
    Ping,
    /// A lone `CRLF`: a keep-alive pong.
    Pong,
}

/// The keep-alive pong to send in answer to a ping (RFC 5626 §3.5.1).
pub const PONG: &[u8] = b"\r\n";
/// The keep-alive ping (RFC 5626 §3.5.1).
pub const PING: &[u8] = b"\r\n\r\n";

/// Default largest message accepted on a stream: 64 KiB, like the largest UDP datagram.
pub const DEFAULT_MAX_MESSAGE: usize = 65_535;

/// A fatal framing fault: the connection should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// The bytes cannot start a SIP message.
    #[error("garbage on the stream at byte {offset} (expected a SIP start line)")]
    Garbage {
        /// Offset in the stream.
        offset: u64,
    },
    /// The message is larger than the limit.
    #[error("message at byte {offset} exceeds the {limit}-byte limit")]
    TooLarge {
        /// Offset in the stream.
        offset: u64,
        /// The configured limit.
        limit: usize,
    },
    /// The Content-Length is malformed or ambiguous.
    #[error("cannot frame the message at byte {offset}: {source}")]
    BadLength {
        /// Offset of the message in the stream.
        offset: u64,
        /// The fault in the header.
        source: ParseError,
    },
    /// The framer failed earlier; nothing more can be read from this stream.
    #[error("the stream failed earlier and must be closed")]
    Failed,
}

/// Cuts a byte stream into SIP messages and keep-alives. Feed it with [`push`](Self::push),
/// drain it with [`next_frame`](Self::next_frame).
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    max_message: usize,
    /// Stream offset of `buf[0]`.
    offset: u64,
    /// Header section length of the message at the front, once known, and its body length.
    pending: Option<(usize, usize)>,
    /// How far the search for the end of the header section has looked, so that bytes
    /// trickling in one at a time are not scanned again and again (linear, not quadratic).
    scanned: usize,
    failed: bool,
}

impl Default for StreamFramer {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl StreamFramer {
    /// A framer that accepts messages up to `max_message` bytes (header section plus body).
    pub fn new(max_message: usize) -> StreamFramer {
        StreamFramer {
            buf: BytesMut::new(),
            max_message,
            offset: 0,
            pending: None,
            scanned: 0,
            failed: false,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes held and not yet framed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether the framer has failed and the connection must be closed.
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Whether more bytes can be accepted without exceeding the limit (for backpressure:
    /// a reader stops reading while this is false and frames are not drained).
    pub fn wants_more(&self) -> bool {
        !self.failed && self.buf.len() <= self.max_message
    }

    fn fail(&mut self, e: FramingError) -> Result<Option<Frame>, FramingError> {
        self.failed = true;
        self.buf.clear();
        Err(e)
    }

    /// Returns the next complete frame, `Ok(None)` if more bytes are needed, or a fatal error.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        if self.failed {
            return Err(FramingError::Failed);
        }
        if self.pending.is_none() {
            // Keep-alives before a start line.
            if self.buf.starts_with(b"\r\n") {
                if self.buf.len() < 4 {
                    // "\r\n" then maybe "\r\n": wait, unless what follows is not CR.
                    if self.buf.len() == 3 && self.buf[2] != b'\r' {
                        return Ok(Some(self.consume_pong()));
                    }
                    return Ok(None);
                }
                if &self.buf[2..4] == b"\r\n" {
                    self.advance(4);
                    return Ok(Some(Frame::Ping));
                }
                return Ok(Some(self.consume_pong()));
            }
            if self.buf.is_empty() || &self.buf[..] == b"\r" {
                return Ok(None);
            }
            // Garbage check on the first bytes: a start line begins with a token (method) or "SIP/".
            let first_bad = self
                .buf
                .iter()
                .take(32)
                .position(|&b| !is_token(b) && b != b'/');
            if let Some(i) = first_bad
                && (i == 0 || self.buf[i] != b' ')
            {
                let offset = self.offset;
                return self.fail(FramingError::Garbage { offset });
            }
            // Find the end of the header section within the limit.
            let window = &self.buf[..self.buf.len().min(self.max_message)];
            let head_end = find_head_end(window, self.scanned);
            if head_end.is_none() {
                // Resume a few bytes back: the empty line may straddle two reads.
                self.scanned = window.len().saturating_sub(3);
            }
            let Some(head_end) = head_end else {
                if self.buf.len() >= self.max_message {
                    let (offset, limit) = (self.offset, self.max_message);
                    return self.fail(FramingError::TooLarge { offset, limit });
                }
                return Ok(None);
            };
            let body_len = match head_content_length(&self.buf[..head_end]) {
                Ok(n) => n,
                Err(source) => {
                    let offset = self.offset;
                    return self.fail(FramingError::BadLength { offset, source });
                }
            };
            if head_end.saturating_add(body_len) > self.max_message {
                let (offset, limit) = (self.offset, self.max_message);
                return self.fail(FramingError::TooLarge { offset, limit });
            }
            self.pending = Some((head_end, body_len));
        }
        let Some((head, body)) = self.pending else {
            return Ok(None);
        };
        if self.buf.len() < head + body {
            return Ok(None);
        }
        self.pending = None;
        self.scanned = 0;
        let frame = self.buf.split_to(head + body).freeze();
        self.offset += (head + body) as u64;
        Ok(Some(Frame::Message(frame)))
    }

    /// At the end of the stream: a trailing lone CRLF is a pong; anything else left is an
    /// incomplete message (returned as its length, for logging).
    pub fn finish(&mut self) -> (Option<Frame>, usize) {
        if self.pending.is_none() && &self.buf[..] == b"\r\n" {
            let pong = self.consume_pong();
            return (Some(pong), 0);
        }
        (None, self.buf.len())
    }

    fn consume_pong(&mut self) -> Frame {
        self.advance(2);
        Frame::Pong
    }

    fn advance(&mut self, n: usize) {
        self.scanned = 0;
        self.buf.advance(n);
        self.offset += n as u64;
    }
}

/// The length of the header section (start line to the empty line, inclusive), if complete,
/// searching from `from` on (bytes before it are known not to end the section).
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut from = from.min(buf.len());
    while let Some(i) = memchr::memchr(b'\n', &buf[from..]) {
        let nl = from + i;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            None => return None,
            _ => from = nl + 1,
        }
    }
    None
}

/// The Content-Length of a complete header section (0 if absent, RFC 3261 §18.3).
fn head_content_length(head: &[u8]) -> Result<usize, ParseError> {
    let first = memchr::memchr(b'\n', head).map_or(head.len(), |i| i + 1);
    let mut cl = Vec::new();
    split_headers(head, first, |name, _, (vs, ve), _| {
        if HeaderName::from_bytes(name) == HeaderName::ContentLength {
            let mut h = Header::new(HeaderName::ContentLength, &head[vs..ve]);
            h.value_offset = vs;
            cl.push(h);
        }
        Ok(())
    })
    .map_err(|e| {
        if e.kind == ErrorKind::Truncated {
            ParseError::syntax(e.offset, Part::HeaderSection, "expected a header line")
        } else {
            e
        }
    })?;
    Ok(content_length(&cl)?.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] =
        b"OPTIONS sip:a@b.c SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 5\r\n\r\nhello";

    fn drain(f: &mut StreamFramer) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Ok(Some(fr)) = f.next_frame() {
            out.push(fr);
        }
        out
    }

    // RFC 3261 §18.3: frames by Content-Length, across any split
    #[test]
    fn frames_at_every_split() {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(MSG);
        let expect = vec![
            Frame::Ping,
            Frame::Message(Bytes::from_static(MSG)),
            Frame::Pong,
            Frame::Message(Bytes::from_static(MSG)),
        ];
        for a in 0..=stream.len() {
            for b in a..=stream.len() {
                let mut f = StreamFramer::default();
                let mut got = Vec::new();
                for part in [&stream[..a], &stream[a..b], &stream[b..]] {
                    f.push(part);
                    got.extend(drain(&mut f));
                }
                assert_eq!(got, expect, "split at {a},{b}");
                assert_eq!(f.buffered(), 0);
            }
        }
    }

    #[test]
    fn lone_pong_at_end_of_stream() {
        let mut f = StreamFramer::default();
        f.push(b"\r\n");
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.finish(), (Some(Frame::Pong), 0));
    }

    #[test]
    fn garbage_is_fatal_and_sticky() {
        let mut f = StreamFramer::default();
        f.push(b"\x16\x03\x01\x02\x00garbage");
        assert!(matches!(
            f.next_frame(),
            Err(FramingError::Garbage { offset: 0 })
        ));
        assert_eq!(f.next_frame(), Err(FramingError::Failed));
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn oversized_head_and_body_are_refused_before_buffering() {
        let mut f = StreamFramer::new(100);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nX: ");
        f.push(&[b'a'; 200]);
        assert!(matches!(f.next_frame(), Err(FramingError::TooLarge { .. })));
        let mut f = StreamFramer::new(100);
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1000000\r\n\r\n");
        assert!(matches!(f.next_frame(), Err(FramingError::TooLarge { .. })));
    }

    // RFC 4475 §3.3.10 / §3.1.2.3: ambiguous or negative lengths cannot be framed
    #[test]
    fn bad_content_length_is_fatal() {
        let mut f = StreamFramer::default();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde");
        assert!(matches!(
            f.next_frame(),
            Err(FramingError::BadLength { .. })
        ));
        let mut f = StreamFramer::default();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -999\r\n\r\n");
        assert!(matches!(
            f.next_frame(),
            Err(FramingError::BadLength { .. })
        ));
    }

    // A peer dribbling a message one byte per read costs linear work, not quadratic: the
    // search for the empty line resumes where it stopped.
    #[test]
    fn byte_by_byte_input_is_scanned_once() {
        let mut f = StreamFramer::new(70_000);
        let mut msg = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
        for i in 0..2000 {
            msg.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        msg.extend_from_slice(b"\r\n");
        for (i, b) in msg.iter().enumerate() {
            f.push(std::slice::from_ref(b));
            let r = f.next_frame().unwrap();
            assert!(f.scanned <= i + 1);
            if i + 1 < msg.len() {
                assert_eq!(r, None);
                assert!(
                    f.scanned + 3 >= i,
                    "search restarted from the beginning at byte {i}"
                );
            } else {
                assert_eq!(r, Some(Frame::Message(Bytes::from(msg.clone()))));
            }
        }
    }

    #[test]
    fn missing_content_length_means_empty_body() {
        let mut f = StreamFramer::default();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\nOPTIONS");
        assert_eq!(
            f.next_frame().unwrap(),
            Some(Frame::Message(Bytes::from_static(
                b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n"
            )))
        );
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.buffered(), 7);
    }
}
