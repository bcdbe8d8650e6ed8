//! The SIP message: start line, header lines kept byte for byte, body (RFC 3261 §7).
//! Parsing splits the message into lines and headers; header values are typed on demand.

use std::fmt;

use bytes::Bytes;

use crate::error::{ErrorKind, ParseError, Part, Result};
use crate::header::{Header, HeaderName};
use crate::scan::{Scanner, is_token, text};
use crate::typed::{
    AuthValue, CSeq, CallId, Contact, HeaderValue, MediaType, Method, MsDiagnostics, NameAddr,
    Number, ScannerHandle, Token, TokenParams, Via, check_value, parse_value, parse_view_value,
};
use crate::uri::{Uri, UriContext, parse_uri};
use crate::view::{AuthValueRef, CallIdRef, ContactRef, HeaderView, NameAddrRef, ViaRef};

/// The headers every request and response carries (RFC 3261 §8.1.1) and a response copies from
/// its request (§8.2.6.2).
pub(crate) const MANDATORY: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

/// A request line: method and Request-URI (RFC 3261 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
}

/// A status line: code and reason phrase (RFC 3261 §7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// The status code, 100-699.
    pub code: u16,
    /// The reason phrase (UTF-8, may be empty).
    pub reason: String,
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// A request.
    Request(RequestLine),
    /// A response.
    Response(StatusLine),
}

/// A SIP request or response. Headers read from the wire keep their exact bytes: a
/// message forwarded with only some headers changed is written back identical elsewhere.
#[derive(Debug, Clone)]
pub struct Message {
    start: StartLine,
    /// The start line as received, including its line end, while unchanged.
    raw_start: Option<Bytes>,
    pub(crate) headers: Vec<Header>,
    body: Bytes,
}

/// Two messages are equal when their start lines, header names and values (in order) and
/// bodies are: line folding and compact names do not count.
impl PartialEq for Message {
    fn eq(&self, other: &Self) -> bool {
        self.start == other.start && self.headers == other.headers && self.body == other.body
    }
}

impl Eq for Message {}

/// Finds the end of the line starting at `pos`: returns (content end, next line start).
/// Lines end in CRLF; a bare LF is accepted as well (RFC 3261 §7.5 robustness).
#[inline]
fn line_end(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let nl = pos + memchr::memchr(b'\n', buf.get(pos..)?)?;
    let end = if nl > pos && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

/// Where the header section ends and what it contains, before any header value is typed.
pub(crate) struct Head {
    pub(crate) start: StartLine,
    pub(crate) start_range: (usize, usize),
    pub(crate) headers: Vec<Header>,
    /// Offset of the first body byte.
    pub(crate) body_start: usize,
}

/// Calls `f(name_range, value_range, raw_range)` for each logical header line of the header
/// section that starts at `pos`; returns the offset after the empty line ending it.
/// RFC 3261 §7.3.1: a line starting with SP or HTAB continues the previous one.
pub(crate) fn split_headers(
    buf: &[u8],
    mut pos: usize,
    mut f: impl FnMut(&[u8], (usize, usize), (usize, usize), (usize, usize)) -> Result<()>,
) -> Result<usize> {
    loop {
        let (end, next) = line_end(buf, pos).ok_or_else(|| {
            ParseError::new(
                buf.len(),
                Part::HeaderSection,
                ErrorKind::Truncated,
                "expected an empty line ending the header section",
            )
        })?;
        if end == pos {
            return Ok(next);
        }
        if matches!(buf[pos], b' ' | b'\t') {
            return Err(ParseError::syntax(
                pos,
                Part::HeaderSection,
                "expected a header name, not white space, at the start of a line",
            ));
        }
        // Extend over continuation lines.
        let (mut lend, mut lnext) = (end, next);
        while matches!(buf.get(lnext), Some(b' ' | b'\t')) {
            match line_end(buf, lnext) {
                Some((e, n)) => {
                    lend = e;
                    lnext = n;
                }
                None => {
                    return Err(ParseError::new(
                        buf.len(),
                        Part::HeaderSection,
                        ErrorKind::Truncated,
                        "expected an empty line ending the header section",
                    ));
                }
            }
        }
        let line = &buf[pos..lend];
        let name_len = line.iter().take_while(|&&b| is_token(b)).count();
        if name_len == 0 {
            return Err(ParseError::syntax(
                pos,
                Part::HeaderSection,
                "expected a header name (a token)",
            ));
        }
        // HCOLON = *( SP / HTAB ) ":" SWS, with folds tolerated before the colon (RFC 4475 §3.1.1.1).
        let mut sc = Scanner::new(line, Part::HeaderSection);
        sc.pos = name_len;
        sc.skip_lws();
        if !sc.eat(b':') {
            return Err(ParseError::syntax(
                pos + sc.pos,
                Part::HeaderSection,
                "expected ':' after the header name",
            ));
        }
        sc.skip_lws();
        let mut vend = line.len();
        while vend > sc.pos && matches!(line[vend - 1], b' ' | b'\t' | b'\r' | b'\n') {
            vend -= 1;
        }
        f(
            &line[..name_len],
            (pos, pos + name_len),
            (pos + sc.pos, pos + vend),
            (pos, lnext),
        )?;
        pos = lnext;
    }
}

/// Parses the start line at `pos` (RFC 3261 §7.1, §7.2, §25.1). Single SPs separate the elements.
fn parse_start_line(buf: &[u8], pos: usize, end: usize) -> Result<StartLine> {
    let line = &buf[pos..end];
    let err = |at: usize, what: &'static str| ParseError::syntax(pos + at, Part::StartLine, what);
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
        let vlen = version(line).map_err(|e| e.rebase(pos, Part::StartLine))?;
        if line.get(vlen) != Some(&b' ') {
            return Err(err(vlen, "expected a single SP after the SIP version"));
        }
        let cstart = vlen + 1;
        let digits = line[cstart..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits != 3 {
            return Err(ParseError::new(
                pos + cstart,
                Part::StartLine,
                ErrorKind::OutOfRange,
                "expected a 3-digit status code",
            ));
        }
        let code = line[cstart..cstart + 3]
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        if !(100..=699).contains(&code) {
            return Err(ParseError::new(
                pos + cstart,
                Part::StartLine,
                ErrorKind::OutOfRange,
                "expected a status code from 100 to 699",
            ));
        }
        let after = cstart + 3;
        let reason = match line.get(after) {
            None => String::new(),
            Some(b' ') => String::from_utf8_lossy(&line[after + 1..]).into_owned(),
            Some(_) => return Err(err(after, "expected SP after the status code")),
        };
        if reason.bytes().any(|b| b < 0x20 && b != b'\t') {
            return Err(err(
                after,
                "expected a reason phrase without control characters",
            ));
        }
        return Ok(StartLine::Response(StatusLine { code, reason }));
    }
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF
    let mlen = line.iter().take_while(|&&b| is_token(b)).count();
    if mlen == 0 {
        return Err(err(0, "expected a method or 'SIP/2.0'"));
    }
    if line.get(mlen) != Some(&b' ') {
        return Err(err(mlen, "expected a single SP after the method"));
    }
    let ustart = mlen + 1;
    let ulen = line[ustart..].iter().take_while(|&&b| b != b' ').count();
    if ulen == 0 {
        return Err(err(ustart, "expected the Request-URI after a single SP"));
    }
    let uri = parse_uri(&line[ustart..ustart + ulen], UriContext::Whole)
        .map_err(|e| e.rebase(pos + ustart, Part::StartLine))?;
    let vstart = ustart + ulen + 1;
    if vstart > line.len() {
        return Err(err(
            line.len(),
            "expected SP and the SIP version after the Request-URI",
        ));
    }
    if line.get(vstart) == Some(&b' ') {
        return Err(err(vstart, "expected a single SP before the SIP version"));
    }
    let vlen = version(&line[vstart..]).map_err(|e| e.rebase(pos + vstart, Part::StartLine))?;
    if vstart + vlen != line.len() {
        return Err(err(
            vstart + vlen,
            "expected the end of the request line after the SIP version",
        ));
    }
    Ok(StartLine::Request(RequestLine {
        method: Method::from_token(text(&line[..mlen])),
        uri,
    }))
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`; only 2.0 is supported (RFC 3261 §7.1).
fn version(s: &[u8]) -> Result<usize> {
    // Fast path: exactly "SIP/2.0" as every peer writes it.
    if s.starts_with(b"SIP/2.0") && !s.get(7).is_some_and(u8::is_ascii_digit) {
        return Ok(7);
    }
    let mut sc = Scanner::new(s, Part::StartLine);
    let name = sc.take_while(|b| b.is_ascii_alphabetic());
    if !name.eq_ignore_ascii_case(b"SIP") || !sc.eat(b'/') {
        return Err(ParseError::syntax(
            0,
            Part::StartLine,
            "expected the SIP version 'SIP/2.0'",
        ));
    }
    let major = sc.take_while(|b| b.is_ascii_digit());
    if major.is_empty() || !sc.eat(b'.') {
        return Err(sc.err("expected the SIP version 'SIP/2.0'"));
    }
    let minor = sc.take_while(|b| b.is_ascii_digit());
    if minor.is_empty() {
        return Err(sc.err("expected the SIP version 'SIP/2.0'"));
    }
    if major != b"2" || minor != b"0" {
        return Err(ParseError::new(
            0,
            Part::StartLine,
            ErrorKind::UnsupportedVersion,
            "expected SIP/2.0 (this version is not supported)",
        ));
    }
    Ok(sc.pos)
}

/// Parses the start line and header section of the message in `buf`.
pub(crate) fn parse_head(buf: &Bytes) -> Result<Head> {
    // RFC 3261 §7.5: CRLFs before the start line are ignored.
    let mut pos = 0;
    while let Some((end, next)) = line_end(buf, pos) {
        if end != pos {
            break;
        }
        pos = next;
    }
    let (end, next) = line_end(buf, pos).ok_or_else(|| {
        ParseError::new(
            buf.len(),
            Part::StartLine,
            ErrorKind::Truncated,
            "expected a complete start line",
        )
    })?;
    let start = parse_start_line(buf, pos, end)?;
    let mut headers = Vec::with_capacity(16);
    let body_start = split_headers(buf, next, |name, (_, _), (vs, ve), (rs, re)| {
        headers.push(Header {
            name: HeaderName::from_bytes(name),
            raw: buf.slice(rs..re),
            name_end: name.len(),
            value: (vs - rs, ve - rs),
            value_offset: vs,
        });
        Ok(())
    })?;
    Ok(Head {
        start,
        start_range: (pos, next),
        headers,
        body_start,
    })
}

/// The Content-Length of a header list: `None` if absent; an error if malformed or if
/// several disagree (RFC 4475 §3.3.10: they make the framing ambiguous).
pub(crate) fn content_length(headers: &[Header]) -> Result<Option<usize>> {
    let mut found: Option<usize> = None;
    for h in headers
        .iter()
        .filter(|h| h.name == HeaderName::ContentLength)
    {
        // RFC 3261 §20.14: `1*DIGIT`, read straight from the bytes.
        let part = Part::Header("Content-Length");
        let mut sc = Scanner::new(h.value(), part);
        sc.skip_lws();
        let n = sc
            .number(u64::from(u32::MAX), "expected a decimal number below 2**32")
            .and_then(|n| sc.end("expected the end of the header value").map(|()| n))
            .map_err(|e| e.rebase(h.value_offset, part))? as usize;
        if found.is_some_and(|f| f != n) {
            return Err(ParseError::new(
                h.value_offset,
                Part::Header("Content-Length"),
                ErrorKind::Semantic,
                "expected one Content-Length value, not several that differ",
            ));
        }
        found = Some(n);
    }
    Ok(found)
}

impl Message {
    /// Parses one message: a UDP datagram, or a frame cut by [`crate::StreamFramer`].
    /// The body is Content-Length bytes long (extra bytes after it are discarded,
    /// RFC 3261 §18.3); without Content-Length it is the rest of the buffer.
    /// Header values are not typed yet: use [`Message::validate`] or the accessors.
    pub fn parse(buf: impl Into<Bytes>) -> Result<Message> {
        let buf = buf.into();
        let head = parse_head(&buf)?;
        let avail = buf.len() - head.body_start;
        let body = match content_length(&head.headers)? {
            Some(n) if n > avail => {
                return Err(ParseError::new(
                    buf.len(),
                    Part::Body,
                    ErrorKind::Truncated,
                    "expected as many body bytes as Content-Length says",
                ));
            }
            Some(n) => buf.slice(head.body_start..head.body_start + n),
            None => buf.slice(head.body_start..),
        };
        Ok(Message {
            start: head.start,
            raw_start: Some(buf.slice(head.start_range.0..head.start_range.1)),
            headers: head.headers,
            body,
        })
    }

    /// A new request with no headers.
    pub fn request(method: Method, uri: Uri) -> Message {
        Message {
            start: StartLine::Request(RequestLine { method, uri }),
            raw_start: None,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A new response with no headers.
    pub fn response(code: u16, reason: &str) -> Message {
        Message {
            start: StartLine::Response(StatusLine {
                code,
                reason: reason.replace(['\r', '\n'], " "),
            }),
            raw_start: None,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }

    /// The method of a request, or `None` for a response.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request(r) => Some(&r.method),
            StartLine::Response(_) => None,
        }
    }

    /// The Request-URI of a request.
    pub fn uri(&self) -> Option<&Uri> {
        match &self.start {
            StartLine::Request(r) => Some(&r.uri),
            StartLine::Response(_) => None,
        }
    }

    /// The Request-URI as written on the request line when it arrived (unchanged since), else
    /// as this crate writes it; `None` for a response.
    pub fn uri_text(&self) -> Option<std::borrow::Cow<'_, str>> {
        let StartLine::Request(r) = &self.start else {
            return None;
        };
        // Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1): single SPs.
        let written = self.raw_start.as_ref().and_then(|raw| {
            let line = std::str::from_utf8(raw).ok()?;
            let (_, rest) = line.split_once(' ')?;
            let (uri, _) = rest.split_once(' ')?;
            Some(uri)
        });
        Some(match written {
            Some(u) => std::borrow::Cow::Borrowed(u),
            None => std::borrow::Cow::Owned(r.uri.to_string()),
        })
    }

    /// Replaces the Request-URI (RFC 3261 §16.6 step 2 retargeting).
    pub fn set_uri(&mut self, uri: Uri) {
        if let StartLine::Request(r) = &mut self.start {
            r.uri = uri;
            self.raw_start = None;
        }
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response(s) => Some(s.code),
            StartLine::Request(_) => None,
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response(s) => Some(&s.reason),
            StartLine::Request(_) => None,
        }
    }

    /// Every header line in order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The header lines named `name`, in order.
    pub fn headers_named<'a>(&'a self, name: &HeaderName) -> impl Iterator<Item = &'a Header> {
        self.headers.iter().filter(move |h| &h.name == name)
    }

    /// The first header line named `name`.
    pub fn header(&self, name: &HeaderName) -> Option<&Header> {
        self.headers.iter().find(|h| &h.name == name)
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    // --- typed access -----------------------------------------------------------------------

    /// Every value of `name`, across all its lines, typed as `T`.
    pub fn all<T: HeaderValue>(&self, name: &HeaderName) -> Result<Vec<T>> {
        let list = name.is_list();
        let part = part_of(name);
        let mut out = Vec::new();
        for h in self.headers_named(name) {
            parse_value::<T>(h.value(), part, list, &mut out)
                .map_err(|e| e.rebase(h.value_offset, part))?;
        }
        Ok(out)
    }

    /// The first value of `name` typed as `T` (for lists, only the first element is parsed).
    pub fn first<T: HeaderValue>(&self, name: &HeaderName) -> Result<Option<T>> {
        let part = part_of(name);
        for h in self.headers_named(name) {
            let t = String::from_utf8_lossy(h.value());
            let v = one_element(Scanner::over(&t, part), name.is_list(), T::parse_element)
                .map_err(|e| e.in_raw(h.value()).rebase(h.value_offset, part))?;
            if v.is_some() {
                return Ok(v);
            }
        }
        Ok(None)
    }

    /// The one value of a header that may appear once; an error if it appears more often.
    pub fn single<T: HeaderValue>(&self, name: &HeaderName) -> Result<Option<T>> {
        let Some(h) = self.single_line(name)? else {
            return Ok(None);
        };
        let part = part_of(name);
        let mut out = Vec::with_capacity(1);
        parse_value::<T>(h.value(), part, false, &mut out)
            .map_err(|e| e.rebase(h.value_offset, part))?;
        Ok(out.pop())
    }

    // --- borrowed views: the same grammar, no copies ---------------------------------------

    /// Every value of `name`, across all its lines, as views borrowing the message.
    pub fn views<'a, T: HeaderView<'a>>(&'a self, name: &HeaderName) -> Result<Vec<T>> {
        let list = name.is_list();
        let part = part_of(name);
        let mut out = Vec::new();
        for h in self.headers_named(name) {
            parse_view_value::<T>(h.value(), part, list, &mut out)
                .map_err(|e| e.rebase(h.value_offset, part))?;
        }
        Ok(out)
    }

    /// The first value of `name` as a view (for lists, only the first element is parsed).
    pub fn first_view<'a, T: HeaderView<'a>>(&'a self, name: &HeaderName) -> Result<Option<T>> {
        let part = part_of(name);
        for h in self.headers_named(name) {
            let v = utf8(h.value(), part)
                .and_then(|t| one_element(Scanner::over(t, part), name.is_list(), T::parse_view))
                .map_err(|e| e.rebase(h.value_offset, part))?;
            if v.is_some() {
                return Ok(v);
            }
        }
        Ok(None)
    }

    /// The one value of a header that may appear once, as a view; an error if it appears more often.
    pub fn single_view<'a, T: HeaderView<'a>>(&'a self, name: &HeaderName) -> Result<Option<T>> {
        let Some(h) = self.single_line(name)? else {
            return Ok(None);
        };
        let part = part_of(name);
        utf8(h.value(), part)
            .and_then(|t| one_element(Scanner::over(t, part), false, T::parse_view))
            .map_err(|e| e.rebase(h.value_offset, part))
    }

    /// The topmost Via as a view.
    pub fn top_via_view(&self) -> Result<Option<ViaRef<'_>>> {
        self.first_view(&HeaderName::Via)
    }

    /// All Via values as views, top first.
    pub fn via_views(&self) -> Result<Vec<ViaRef<'_>>> {
        self.views(&HeaderName::Via)
    }

    /// From as a view.
    pub fn from_view(&self) -> Result<Option<NameAddrRef<'_>>> {
        self.single_view(&HeaderName::From)
    }

    /// To as a view.
    pub fn to_view(&self) -> Result<Option<NameAddrRef<'_>>> {
        self.single_view(&HeaderName::To)
    }

    /// Call-ID, borrowed.
    pub fn call_id_str(&self) -> Result<Option<&str>> {
        Ok(self
            .single_view::<CallIdRef<'_>>(&HeaderName::CallId)?
            .map(|c| c.0))
    }

    /// Contact values as views.
    pub fn contact_views(&self) -> Result<Vec<ContactRef<'_>>> {
        self.views(&HeaderName::Contact)
    }

    /// Route values as views, top first.
    pub fn route_views(&self) -> Result<Vec<NameAddrRef<'_>>> {
        self.views(&HeaderName::Route)
    }

    /// The first Route value as a view.
    pub fn top_route_view(&self) -> Result<Option<NameAddrRef<'_>>> {
        self.first_view(&HeaderName::Route)
    }

    /// Record-Route values as views, top first.
    pub fn record_route_views(&self) -> Result<Vec<NameAddrRef<'_>>> {
        self.views(&HeaderName::RecordRoute)
    }

    /// Path values as views (RFC 3327).
    pub fn path_views(&self) -> Result<Vec<NameAddrRef<'_>>> {
        self.views(&HeaderName::Path)
    }

    /// The credentials of every Authorization line, as views.
    pub fn authorization_views(&self) -> Result<Vec<AuthValueRef<'_>>> {
        self.views(&HeaderName::Authorization)
    }

    /// The credentials of every Proxy-Authorization line, as views.
    pub fn proxy_authorization_views(&self) -> Result<Vec<AuthValueRef<'_>>> {
        self.views(&HeaderName::ProxyAuthorization)
    }

    // --- owned values ------------------------------------------------------------------------

    /// The one line named `name`, `None` if absent, an error if there are several.
    fn single_line(&self, name: &HeaderName) -> Result<Option<&Header>> {
        let mut it = self.headers_named(name);
        let Some(h) = it.next() else { return Ok(None) };
        if let Some(dup) = it.next() {
            return Err(ParseError::new(
                dup.value_offset,
                part_of(name),
                ErrorKind::Semantic,
                "expected this header only once",
            ));
        }
        Ok(Some(h))
    }

    /// The topmost Via (RFC 3261 §8.2.6.2, §16.7 use it to route responses).
    pub fn top_via(&self) -> Result<Option<Via>> {
        self.first(&HeaderName::Via)
    }

    /// All Via values, top first.
    pub fn vias(&self) -> Result<Vec<Via>> {
        self.all(&HeaderName::Via)
    }

    /// From.
    pub fn from(&self) -> Result<Option<NameAddr>> {
        self.single(&HeaderName::From)
    }

    /// To.
    pub fn to(&self) -> Result<Option<NameAddr>> {
        self.single(&HeaderName::To)
    }

    /// Call-ID.
    pub fn call_id(&self) -> Result<Option<CallId>> {
        self.single(&HeaderName::CallId)
    }

    /// CSeq.
    pub fn cseq(&self) -> Result<Option<CSeq>> {
        self.single(&HeaderName::CSeq)
    }

    /// Max-Forwards (RFC 3261 §20.22; more than 255 is rejected, RFC 4475 §3.1.2.4).
    pub fn max_forwards(&self) -> Result<Option<u8>> {
        match self.single::<Number>(&HeaderName::MaxForwards)? {
            None => Ok(None),
            Some(Number(n)) => u8::try_from(n).map(Some).map_err(|_| {
                let at = self
                    .header(&HeaderName::MaxForwards)
                    .map_or(0, Header::value_offset);
                ParseError::new(
                    at,
                    Part::Header("Max-Forwards"),
                    ErrorKind::OutOfRange,
                    "expected a Max-Forwards value from 0 to 255",
                )
            }),
        }
    }

    /// Contact values.
    pub fn contacts(&self) -> Result<Vec<Contact>> {
        self.all(&HeaderName::Contact)
    }

    /// Route values, top first.
    pub fn routes(&self) -> Result<Vec<NameAddr>> {
        self.all(&HeaderName::Route)
    }

    /// Record-Route values, top first.
    pub fn record_routes(&self) -> Result<Vec<NameAddr>> {
        self.all(&HeaderName::RecordRoute)
    }

    /// Path values (RFC 3327).
    pub fn paths(&self) -> Result<Vec<NameAddr>> {
        self.all(&HeaderName::Path)
    }

    /// Service-Route values (RFC 3608).
    pub fn service_routes(&self) -> Result<Vec<NameAddr>> {
        self.all(&HeaderName::ServiceRoute)
    }

    /// Content-Type.
    pub fn content_type(&self) -> Result<Option<MediaType>> {
        self.single(&HeaderName::ContentType)
    }

    /// Content-Length as declared (the body length when absent is `body().len()`).
    pub fn content_length(&self) -> Result<Option<usize>> {
        content_length(&self.headers)
    }

    /// Expires (RFC 3261 §20.19).
    pub fn expires(&self) -> Result<Option<u32>> {
        Ok(self.single::<Number>(&HeaderName::Expires)?.map(|n| n.0))
    }

    /// Min-Expires (RFC 3261 §20.23).
    pub fn min_expires(&self) -> Result<Option<u32>> {
        Ok(self.single::<Number>(&HeaderName::MinExpires)?.map(|n| n.0))
    }

    /// Option tags of Supported (may be spread over several lines, as Lync sends them).
    pub fn supported(&self) -> Result<Vec<Token>> {
        self.all(&HeaderName::Supported)
    }

    /// Option tags of Require.
    pub fn require(&self) -> Result<Vec<Token>> {
        self.all(&HeaderName::Require)
    }

    /// Option tags of Unsupported.
    pub fn unsupported(&self) -> Result<Vec<Token>> {
        self.all(&HeaderName::Unsupported)
    }

    /// Methods of Allow.
    pub fn allow(&self) -> Result<Vec<Method>> {
        self.all(&HeaderName::Allow)
    }

    /// Event (RFC 6665 §8.2.1).
    pub fn event(&self) -> Result<Option<TokenParams>> {
        self.single(&HeaderName::Event)
    }

    /// Subscription-State (RFC 6665 §8.2.3).
    pub fn subscription_state(&self) -> Result<Option<TokenParams>> {
        self.single(&HeaderName::SubscriptionState)
    }

    /// Refer-To (RFC 3515 §2.1).
    pub fn refer_to(&self) -> Result<Option<NameAddr>> {
        self.single(&HeaderName::ReferTo)
    }

    /// Referred-By (RFC 3892) with [MS-SIPAE] 2.2.5 `ms-identity`, `ms-identity-info`, `ms-identity-alg`.
    pub fn referred_by(&self) -> Result<Option<NameAddr>> {
        self.single(&HeaderName::ReferredBy)
    }

    /// P-Asserted-Identity values (RFC 3325 §9.1).
    pub fn p_asserted_identity(&self) -> Result<Vec<NameAddr>> {
        self.all(&HeaderName::PAssertedIdentity)
    }

    /// The challenges of every WWW-Authenticate line (one per scheme, [MS-SIPAE] 3.2).
    pub fn www_authenticate(&self) -> Result<Vec<AuthValue>> {
        self.all(&HeaderName::WwwAuthenticate)
    }

    /// The challenges of every Proxy-Authenticate line.
    pub fn proxy_authenticate(&self) -> Result<Vec<AuthValue>> {
        self.all(&HeaderName::ProxyAuthenticate)
    }

    /// The credentials of every Authorization line.
    pub fn authorization(&self) -> Result<Vec<AuthValue>> {
        self.all(&HeaderName::Authorization)
    }

    /// The credentials of every Proxy-Authorization line.
    pub fn proxy_authorization(&self) -> Result<Vec<AuthValue>> {
        self.all(&HeaderName::ProxyAuthorization)
    }

    /// Authentication-Info (RFC 3261 §20.6, or [MS-SIPAE] signed with a scheme).
    pub fn authentication_info(&self) -> Result<Option<AuthValue>> {
        self.first(&HeaderName::AuthenticationInfo)
    }

    /// Every `ms-diagnostics` header, in order ([MS-OCER] 2.2.1.1: one per server hop).
    pub fn ms_diagnostics(&self) -> Result<Vec<MsDiagnostics>> {
        self.all(&HeaderName::MsDiagnostics)
    }

    /// Every `ms-diagnostics-public` header ([MS-OCER] 2.2.1.2).
    pub fn ms_diagnostics_public(&self) -> Result<Vec<MsDiagnostics>> {
        self.all(&HeaderName::MsDiagnosticsPublic)
    }

    /// Ms-Conversation-ID, as text.
    pub fn ms_conversation_id(&self) -> Option<String> {
        self.header(&HeaderName::MsConversationId)
            .map(|h| h.value_str().into_owned())
    }

    // --- validation -------------------------------------------------------------------------

    /// Checks everything the parse left lazy: every known header types correctly, the headers
    /// RFC 3261 §8.1.1 requires are there, single-valued headers appear once, the CSeq method
    /// matches the request method (§8.2), and the Request-URI carries no headers (§19.1.1).
    pub fn validate(&self) -> Result<()> {
        for h in &self.headers {
            check_header(h)?;
        }
        let end = self
            .headers
            .last()
            .map_or(0, |h| h.value_offset + h.value().len());
        for name in &MANDATORY {
            if self.header(name).is_none() {
                return Err(ParseError::new(
                    end,
                    part_of(name),
                    ErrorKind::Semantic,
                    "expected this mandatory header (RFC 3261 §8.1.1)",
                ));
            }
        }
        for h in &self.headers {
            if h.name.is_single() && self.headers_named(&h.name).nth(1).is_some() {
                let dup = self
                    .headers_named(&h.name)
                    .nth(1)
                    .map_or(0, Header::value_offset);
                return Err(ParseError::new(
                    dup,
                    part_of(&h.name),
                    ErrorKind::Semantic,
                    "expected this header only once",
                ));
            }
        }
        self.max_forwards()?;
        if let StartLine::Request(r) = &self.start {
            if let Some(cseq) = self.cseq()?
                && cseq.method != r.method
            {
                let at = self
                    .header(&HeaderName::CSeq)
                    .map_or(0, Header::value_offset);
                return Err(ParseError::new(
                    at,
                    Part::Header("CSeq"),
                    ErrorKind::Semantic,
                    "expected the CSeq method to match the request method",
                ));
            }
            if let Uri::Sip(u) = &r.uri
                && !u.headers.is_empty()
            {
                let at = self.raw_start.as_ref().map_or(0, |_| 0);
                return Err(ParseError::new(
                    at,
                    Part::StartLine,
                    ErrorKind::Semantic,
                    "expected a Request-URI without headers ('?…')",
                ));
            }
        }
        Ok(())
    }

    // --- changing a message -----------------------------------------------------------------

    /// Appends a header line built elsewhere.
    pub fn push_header(&mut self, header: Header) {
        self.headers.push(header);
    }

    /// Appends a header line.
    pub fn push(&mut self, name: impl Into<HeaderName>, value: impl fmt::Display) {
        self.headers.push(Header::formatted(name, value));
    }

    /// Inserts a header line above the first line of the same name, or at the top
    /// (RFC 3261 §16.6 step 8: a proxy's Via goes first; §16.6 step 4 for Record-Route).
    pub fn prepend(&mut self, name: impl Into<HeaderName>, value: impl fmt::Display) {
        let name = name.into();
        let at = self
            .headers
            .iter()
            .position(|h| h.name == name)
            .unwrap_or(0);
        self.headers.insert(at, Header::formatted(name, value));
    }

    /// Replaces the value of the first line named `name` in place (or appends one) and
    /// removes any further lines of that name.
    pub fn set(&mut self, name: impl Into<HeaderName>, value: impl fmt::Display) {
        let name = name.into();
        match self.headers.iter().position(|h| h.name == name) {
            Some(i) => {
                let h = Header::with_spelling(
                    name.clone(),
                    self.headers[i].name_raw(),
                    value.to_string().as_bytes(),
                );
                self.headers[i] = h;
                let mut seen = 0;
                self.headers.retain(|h| {
                    if h.name == name {
                        seen += 1;
                        seen == 1
                    } else {
                        true
                    }
                });
            }
            None => self.push(name, value),
        }
    }

    /// Removes every line named `name`; returns how many were removed.
    pub fn remove_all(&mut self, name: &HeaderName) -> usize {
        let before = self.headers.len();
        self.headers.retain(|h| &h.name != name);
        before - self.headers.len()
    }

    /// Replaces the first value of a list header (e.g. the top Via stamped with `received`,
    /// RFC 3261 §18.2.1) with `value`; other values on the same line stay on a line of their
    /// own below it. Returns whether there was a value to replace.
    pub fn replace_first_value(&mut self, name: &HeaderName, value: &str) -> Result<bool> {
        let Some(i) = self.headers.iter().position(|h| &h.name == name) else {
            return Ok(false);
        };
        let part = part_of(name);
        let h = &self.headers[i];
        let split =
            first_element_end(h.value(), part).map_err(|e| e.rebase(h.value_offset, part))?;
        let new = Header::new(name.clone(), value);
        match split.1 {
            None => self.headers[i] = new,
            Some(rest) => {
                let nh = Header::with_spelling(name.clone(), h.name_raw(), &h.value()[rest..]);
                self.headers[i] = nh;
                self.headers.insert(i, new);
            }
        }
        Ok(true)
    }

    /// Removes the first value of a list header (the top Via, the first Route: RFC 3261
    /// §16.4, §18.1.2) and returns its text. Other values on the same line are kept.
    pub fn remove_first_value(&mut self, name: &HeaderName) -> Result<Option<String>> {
        let Some(i) = self.headers.iter().position(|h| &h.name == name) else {
            return Ok(None);
        };
        let part = part_of(name);
        let h = &self.headers[i];
        let split =
            first_element_end(h.value(), part).map_err(|e| e.rebase(h.value_offset, part))?;
        let first = String::from_utf8_lossy(&h.value()[..split.0])
            .trim_end()
            .to_owned();
        match split.1 {
            None => {
                self.headers.remove(i);
            }
            Some(rest) => {
                let nh = Header::with_spelling(name.clone(), h.name_raw(), &h.value()[rest..]);
                self.headers[i] = nh;
            }
        }
        Ok(Some(first))
    }

    /// Sets the body and its Content-Type, and Content-Length to match.
    pub fn set_body(&mut self, content_type: &str, body: impl Into<Bytes>) {
        self.body = body.into();
        self.set(HeaderName::ContentType, content_type);
        self.set(HeaderName::ContentLength, self.body.len());
    }

    // --- writing ----------------------------------------------------------------------------

    /// Appends the wire form of the message to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match (&self.raw_start, &self.start) {
            (Some(raw), _) => out.extend_from_slice(raw),
            (None, StartLine::Request(r)) => {
                out.extend_from_slice(format!("{} {} SIP/2.0\r\n", r.method, r.uri).as_bytes());
            }
            (None, StartLine::Response(s)) => {
                out.extend_from_slice(format!("SIP/2.0 {:03} {}\r\n", s.code, s.reason).as_bytes());
            }
        }
        for h in &self.headers {
            h.write_to(out);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
    }

    /// The wire form of the message.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.body.len() + 64 * (self.headers.len() + 1));
        self.write_to(&mut out);
        Bytes::from(out)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// The error attribution for a header name.
pub(crate) fn part_of(name: &HeaderName) -> Part {
    name.canonical().map_or(Part::ExtensionHeader, Part::Header)
}

/// A header value as text, checked once (RFC 3261 §25.1: `TEXT-UTF8`, `UTF8-NONASCII`).
fn utf8(value: &[u8], part: Part) -> Result<&str> {
    std::str::from_utf8(value).map_err(|e| {
        ParseError::syntax(
            e.valid_up_to(),
            part,
            "expected UTF-8 text in the header value",
        )
    })
}

/// Parses one element of a value: the first of a list (`None` if the list is empty), or
/// the whole value.
fn one_element<'a, T>(
    sc: Scanner<'a>,
    list: bool,
    element: impl FnOnce(&mut crate::typed::ScannerHandle<'a>) -> Result<T>,
) -> Result<Option<T>> {
    let mut h = crate::typed::ScannerHandle(sc);
    h.0.skip_lws();
    if list && h.0.at_end() {
        return Ok(None);
    }
    let v = element(&mut h)?;
    if !list {
        h.0.end("expected the end of the header value")?;
        return Ok(Some(v));
    }
    h.0.skip_lws();
    if h.0.at_end() || h.0.peek() == Some(b',') {
        Ok(Some(v))
    } else {
        Err(h.0.err("expected ',' or the end of the header value"))
    }
}

/// Where the first element of a list value ends: (end of the element, start of the rest if any).
/// Commas inside quoted strings and angle brackets do not count (RFC 3261 §7.3.1).
fn first_element_end(value: &[u8], part: Part) -> Result<(usize, Option<usize>)> {
    let (mut in_quote, mut in_angle, mut i) = (false, false, 0);
    while i < value.len() {
        match value[i] {
            b'\\' if in_quote => i += 1,
            b'"' => in_quote = !in_quote,
            b'<' if !in_quote => in_angle = true,
            b'>' if !in_quote => in_angle = false,
            b',' if !in_quote && !in_angle => {
                let mut sc = Scanner::new(value, part);
                sc.pos = i + 1;
                sc.skip_lws();
                return Ok((i, (!sc.at_end()).then_some(sc.pos)));
            }
            _ => {}
        }
        i += 1;
    }
    if in_quote {
        return Err(ParseError::syntax(
            value.len(),
            part,
            "expected '\"' closing the quoted string",
        ));
    }
    Ok((value.len(), None))
}

/// Types one header line according to its name (unknown names are not checked).
pub(crate) fn check_header(h: &Header) -> Result<()> {
    // The view grammars (crate::view) check what the owned types would parse, without
    // building them: validation allocates nothing for the common headers.
    fn check(
        h: &Header,
        list: bool,
        element: for<'a> fn(&mut ScannerHandle<'a>) -> Result<()>,
    ) -> Result<()> {
        let part = part_of(&h.name);
        check_value(h.value(), part, list, element).map_err(|e| e.rebase(h.value_offset, part))
    }
    fn owned<T: HeaderValue>(s: &mut ScannerHandle<'_>) -> Result<()> {
        T::parse_element(s).map(drop)
    }
    let list = h.name.is_list();
    match h.name {
        HeaderName::Via => check(h, list, |s| crate::view::via(s, |_| {}).map(drop)),
        HeaderName::From | HeaderName::To | HeaderName::ReferTo | HeaderName::ReferredBy => {
            check(h, false, |s| crate::view::name_addr(s, |_| {}).map(drop))
        }
        HeaderName::Contact => check(h, list, |s| ContactRef::parse_view(s).map(drop)),
        HeaderName::Route
        | HeaderName::RecordRoute
        | HeaderName::Path
        | HeaderName::ServiceRoute
        | HeaderName::PAssertedIdentity
        | HeaderName::PPreferredIdentity => {
            check(h, list, |s| crate::view::name_addr(s, |_| {}).map(drop))
        }
        HeaderName::CallId => check(h, false, |s| CallIdRef::parse_view(s).map(drop)),
        HeaderName::CSeq => check(h, false, owned::<CSeq>),
        HeaderName::MaxForwards
        | HeaderName::ContentLength
        | HeaderName::Expires
        | HeaderName::MinExpires => check(h, false, owned::<Number>),
        HeaderName::ContentType => check(h, false, owned::<MediaType>),
        HeaderName::Supported
        | HeaderName::Require
        | HeaderName::ProxyRequire
        | HeaderName::Unsupported
        | HeaderName::AllowEvents
        | HeaderName::ContentEncoding => {
            check(h, list, |s| s.0.token("expected a token").map(drop))
        }
        HeaderName::Allow => check(h, list, owned::<Method>),
        HeaderName::Event | HeaderName::SubscriptionState => check(h, false, owned::<TokenParams>),
        HeaderName::WwwAuthenticate
        | HeaderName::ProxyAuthenticate
        | HeaderName::Authorization
        | HeaderName::ProxyAuthorization
        | HeaderName::AuthenticationInfo
        | HeaderName::ProxyAuthenticationInfo => {
            check(h, false, |s| crate::view::auth_value(s, |_| {}).map(drop))
        }
        HeaderName::MsDiagnostics | HeaderName::MsDiagnosticsPublic => {
            check(h, false, owned::<MsDiagnostics>)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// What [`check_header`] did before it used the view grammars: build the owned values.
    fn owned_check(h: &Header) -> Result<()> {
        fn check<T: HeaderValue>(h: &Header, list: bool) -> Result<()> {
            let part = part_of(&h.name);
            let mut out: Vec<T> = Vec::new();
            parse_value::<T>(h.value(), part, list, &mut out)
                .map_err(|e| e.rebase(h.value_offset, part))
        }
        let list = h.name.is_list();
        match h.name {
            HeaderName::Via => check::<Via>(h, list),
            HeaderName::From | HeaderName::To | HeaderName::ReferTo | HeaderName::ReferredBy => {
                check::<NameAddr>(h, false)
            }
            HeaderName::Contact => check::<Contact>(h, list),
            HeaderName::Route
            | HeaderName::RecordRoute
            | HeaderName::Path
            | HeaderName::ServiceRoute
            | HeaderName::PAssertedIdentity
            | HeaderName::PPreferredIdentity => check::<NameAddr>(h, list),
            HeaderName::CallId => check::<CallId>(h, false),
            HeaderName::Supported
            | HeaderName::Require
            | HeaderName::ProxyRequire
            | HeaderName::Unsupported
            | HeaderName::AllowEvents
            | HeaderName::ContentEncoding => check::<Token>(h, list),
            HeaderName::WwwAuthenticate
            | HeaderName::ProxyAuthenticate
            | HeaderName::Authorization
            | HeaderName::ProxyAuthorization
            | HeaderName::AuthenticationInfo
            | HeaderName::ProxyAuthenticationInfo => check::<AuthValue>(h, false),
            _ => check_header(h),
        }
    }

    /// Validation reads headers with the view grammars; on every RFC 4475/5118 vector and
    /// every fuzz corpus input (non-UTF-8 bytes included) it accepts and rejects exactly what
    /// building the owned values did, with the same error.
    #[test]
    fn checking_with_views_agrees_with_owned_parsing() {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut headers = 0;
        for dir in ["tests/vectors", "../../fuzz/corpus/sip_parse"] {
            let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else {
                panic!("{dir} is missing");
            };
            for e in entries {
                let path = e.unwrap().path();
                if path.is_dir() {
                    continue;
                }
                let data = std::fs::read(path).unwrap();
                let Ok(m) = Message::parse(data) else {
                    continue;
                };
                for h in &m.headers {
                    headers += 1;
                    assert_eq!(
                        check_header(h),
                        owned_check(h),
                        "{:?}",
                        String::from_utf8_lossy(&h.raw)
                    );
                }
            }
        }
        assert!(headers > 10_000, "only {headers} headers checked");
        // A display name that is not UTF-8 passes, as it did (RFC 3261 §25.1 allows it quoted).
        let m = Message::parse(
            b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: \"\xff\xfe\" <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n"
                .to_vec(),
        )
        .unwrap();
        m.validate().unwrap();
    }
}
