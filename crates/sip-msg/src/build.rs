//! Building messages: responses to requests (RFC 3261 §8.2.6), requests from parts,
//! and the 400 a server sends for a request too malformed to process but readable enough
//! to answer.

use bytes::Bytes;

use crate::error::ParseError;
use crate::header::{Header, HeaderName};
use crate::message::{MANDATORY, Message, parse_head, split_headers};
use crate::typed::{CSeq, CallId, Method, MsDiagnostics, NameAddr, Via};
use crate::uri::Uri;

impl Message {
    /// A response to `req` per RFC 3261 §8.2.6.2: Via (all, in order), From, To, Call-ID and
    /// CSeq copied; `to_tag` added to To if it has none (not for 100 Trying, §8.2.6.1, which
    /// also copies Timestamp). Content-Length 0.
    pub fn response_to(req: &Message, code: u16, reason: &str, to_tag: Option<&str>) -> Message {
        let mut resp = Message::response(code, reason);
        for h in req.headers() {
            let copy = match h.name() {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => true,
                HeaderName::Timestamp => code == 100,
                _ => false,
            };
            if copy {
                resp.push(h.name().clone(), h.value_str());
            } else if h.name() == &HeaderName::To {
                let mut value = h.value_str().into_owned();
                if let (Some(tag), true) = (to_tag, code > 100) {
                    let has_tag = crate::typed::parse_one::<NameAddr>(&value)
                        .is_ok_and(|to| to.tag().is_some());
                    if !has_tag {
                        value.push_str(";tag=");
                        value.push_str(tag);
                    }
                }
                resp.push(HeaderName::To, value);
            }
        }
        resp.push(HeaderName::ContentLength, 0);
        resp
    }

    /// A rejection of `req` for a catalogued reason: the code's default status with its standard
    /// reason phrase, and the `ms-diagnostics` header (plus `ms-diagnostics-public` when the
    /// catalogue says the code is also public) ([MS-OCER] 2.2.1).
    pub fn reject(req: &Message, diagnostic: &diag::Diagnostic, to_tag: Option<&str>) -> Message {
        let status = diagnostic.code().status;
        let mut resp = Message::response_to(req, status, default_reason(status), to_tag);
        // Content-Length stays last; diagnostics go before it.
        let cl = resp.headers.pop();
        resp.add_diagnostic(diagnostic);
        resp.headers.extend(cl);
        resp
    }

    /// Adds the `ms-diagnostics` header of a catalogued diagnostic, and its
    /// `ms-diagnostics-public` form when the code is also public ([MS-OCER] 2.2.1.2).
    pub fn add_diagnostic(&mut self, diagnostic: &diag::Diagnostic) {
        let code = diagnostic.code();
        if code.header != diag::HeaderKind::Public {
            self.push(HeaderName::MsDiagnostics, diagnostic.header_value());
        }
        if code.header.also_public() {
            self.push(HeaderName::MsDiagnosticsPublic, diagnostic.public_value());
        }
    }

    /// Adds an `ms-diagnostics` header ([MS-OCER] 2.2.1.1; after any received from downstream).
    pub fn add_ms_diagnostics(&mut self, diag: &MsDiagnostics) {
        self.push(HeaderName::MsDiagnostics, diag);
    }

    /// Adds an `ms-diagnostics-public` header (its `source` is dropped: [MS-OCER] 2.2.1.2).
    pub fn add_ms_diagnostics_public(&mut self, diag: &MsDiagnostics) {
        self.push(HeaderName::MsDiagnosticsPublic, diag.to_public());
    }
}

/// The parts of a new request (RFC 3261 §8.1.1), written in this order.
#[derive(Debug, Clone)]
pub struct RequestParts {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The Via of this element (with its branch).
    pub via: Via,
    /// From, with its tag.
    pub from: NameAddr,
    /// To.
    pub to: NameAddr,
    /// Call-ID.
    pub call_id: CallId,
    /// CSeq number (the method is the request's).
    pub cseq: u32,
    /// Max-Forwards, normally 70 (§8.1.1.6).
    pub max_forwards: u8,
}

impl RequestParts {
    /// The request with its mandatory headers and Content-Length 0.
    pub fn build(self) -> Message {
        let mut m = Message::request(self.method.clone(), self.uri);
        m.push(HeaderName::Via, self.via);
        m.push(HeaderName::MaxForwards, self.max_forwards);
        m.push(HeaderName::From, self.from);
        m.push(HeaderName::To, self.to);
        m.push(HeaderName::CallId, self.call_id);
        m.push(
            HeaderName::CSeq,
            CSeq {
                seq: self.cseq,
                method: self.method,
            },
        );
        m.push(HeaderName::ContentLength, 0);
        m
    }
}

/// The answer to a request that failed to parse or validate, if it can be answered: a 400
/// (or 505/513) whose reason phrase names the fault. A response can only be sent if the
/// message is a request (not ACK, RFC 3261 §17.2.1) whose header section can be split and
/// that has the Via, From, To, Call-ID and CSeq a response copies (§8.2.6.2); otherwise
/// `None` and the message is dropped (and counted by the caller).
pub fn answer_malformed(raw: &[u8], err: &ParseError) -> Option<Message> {
    let buf = Bytes::copy_from_slice(raw);
    let req = match parse_head(&buf) {
        Ok(head) => {
            let m = Message::parse(buf.clone()).ok();
            match m {
                Some(m) => m,
                None => {
                    // The body is unusable (e.g. short); rebuild from the head alone.
                    let end = head.body_start;
                    Message::parse(buf.slice(..end)).ok()?
                }
            }
        }
        Err(_) => salvage_request(&buf)?,
    };
    if !req.is_request() || req.method() == Some(&Method::Ack) {
        return None;
    }
    // The five headers a response copies must be present; they are copied as received, so the
    // client can match the response even when their values are what is malformed (its branch
    // is in the copied Via). The transport sends the answer to the request's source address
    // (RFC 3261 §18.2.2 with RFC 3581 behaviour) when the top Via cannot be read.
    for name in &MANDATORY {
        req.header(name)?;
    }
    let mut resp = Message::response_to(&req, err.status_code(), &err.reason_phrase(), None);
    // Keep only the top Via's line value correct: every Via is copied as received.
    resp.push(
        HeaderName::Other("Warning".into()),
        format!("399 - \"{}\"", err.to_string().replace('"', "'")),
    );
    Some(resp)
}

/// For a request whose start line is malformed (bad Request-URI, bad version), rebuild
/// a request with the same method and headers so that a 400/505 can still be addressed.
fn salvage_request(buf: &Bytes) -> Option<Message> {
    let first_nl = memchr::memchr(b'\n', buf)?;
    let line = &buf[..first_nl];
    let method_len = line.iter().position(|&b| b == b' ')?;
    let method = std::str::from_utf8(&line[..method_len]).ok()?;
    if method.is_empty() || method.starts_with("SIP/") || !method.bytes().all(crate::scan::is_token)
    {
        return None;
    }
    let uri = Uri::Other(crate::uri::OtherUri {
        scheme: "invalid".into(),
        rest: "request-uri".into(),
    });
    let mut req = Message::request(Method::from_token(method), uri);
    split_headers(buf, first_nl + 1, |name, _, (vs, ve), _| {
        req.push_header(Header::new(HeaderName::from_bytes(name), &buf[vs..ve]));
        Ok(())
    })
    .ok()?;
    Some(req)
}

/// The standard reason phrase of a status code (RFC 3261 §21 and later RFCs), or a class phrase.
pub fn default_reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        439 => "First Hop Lacks Outbound Support",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match code / 100 {
            1 => "Progress",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}
