//! Typed header values, parsed on demand from the raw bytes a message keeps.
//! Each type parses one element of its header's grammar (RFC 3261 §25.1 and the
//! RFCs and Microsoft specifications cited per type) and writes it back with `Display`.

use std::fmt;

use crate::error::{ParseError, Part, Result};
use crate::scan::{Param, Scanner, find_param, set_param, write_params, write_quoted};
use crate::uri::{Host, Uri};
use crate::view::{CallIdRef, HeaderView, auth_value, name_addr, via};

/// One element of a header's grammar.
pub trait HeaderValue: Sized {
    /// Parses one element starting at `s.pos`, leaving `s` after it.
    #[doc(hidden)]
    fn parse_element(s: &mut ScannerHandle<'_>) -> Result<Self>;
}

/// The scanner a [`HeaderValue`] parses from (opaque outside this crate).
#[derive(Debug)]
pub struct ScannerHandle<'a>(pub(crate) Scanner<'a>);

impl HeaderValue for String {
    /// A header value taken whole, as text.
    fn parse_element(s: &mut ScannerHandle<'_>) -> Result<Self> {
        let rest = s.0.rest();
        s.0.pos = s.0.s.len();
        Ok(String::from_utf8_lossy(rest).trim_end().to_owned())
    }
}

/// Parses every element of a value: a comma-separated list if `list`, else exactly one.
/// Bytes that are not UTF-8 are replaced first (the grammar admits them only inside quoted
/// strings and comments, which an owned value keeps as text).
pub(crate) fn parse_value<T: HeaderValue>(
    value: &[u8],
    part: Part,
    list: bool,
    out: &mut Vec<T>,
) -> Result<()> {
    let t = String::from_utf8_lossy(value);
    parse_elements(Scanner::over(&t, part), list, out, T::parse_element)
        .map_err(|e| e.in_raw(value))
}

/// Checks a value against its grammar and keeps nothing: `element` reads one element (a view
/// grammar, which allocates nothing). UTF-8 is checked once; a value that is not UTF-8 is read
/// with its bad bytes replaced, exactly as [`parse_value`] reads it, so a value passes this
/// check if and only if the owned parse accepts it.
pub(crate) fn check_value(
    value: &[u8],
    part: Part,
    list: bool,
    element: for<'a> fn(&mut ScannerHandle<'a>) -> Result<()>,
) -> Result<()> {
    let mut none: Vec<()> = Vec::new();
    match std::str::from_utf8(value) {
        Ok(t) => parse_elements(Scanner::over(t, part), list, &mut none, element),
        Err(_) => {
            let t = String::from_utf8_lossy(value);
            parse_elements(Scanner::over(&t, part), list, &mut none, element)
                .map_err(|e| e.in_raw(value))
        }
    }
}

/// Parses every element of a value as views borrowing it; the value must be UTF-8
/// (RFC 3261 §25.1: `TEXT-UTF8`, `UTF8-NONASCII`), checked once here.
pub(crate) fn parse_view_value<'a, T: HeaderView<'a>>(
    value: &'a [u8],
    part: Part,
    list: bool,
    out: &mut Vec<T>,
) -> Result<()> {
    let t = std::str::from_utf8(value).map_err(|e| {
        ParseError::syntax(
            e.valid_up_to(),
            part,
            "expected UTF-8 text in the header value",
        )
    })?;
    parse_view_str(t, part, list, out)
}

/// [`parse_view_value`] over text.
pub(crate) fn parse_view_str<'a, T: HeaderView<'a>>(
    value: &'a str,
    part: Part,
    list: bool,
    out: &mut Vec<T>,
) -> Result<()> {
    parse_elements(Scanner::over(value, part), list, out, T::parse_view)
}

fn parse_elements<'a, T>(
    sc: Scanner<'a>,
    list: bool,
    out: &mut Vec<T>,
    mut element: impl FnMut(&mut ScannerHandle<'a>) -> Result<T>,
) -> Result<()> {
    let mut h = ScannerHandle(sc);
    h.0.skip_lws();
    if list && h.0.at_end() {
        return Ok(());
    }
    loop {
        out.push(element(&mut h)?);
        if !list {
            return h.0.end("expected the end of the header value");
        }
        if !h
            .0
            .list_next("expected ',' or the end of the header value")?
        {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Via (RFC 3261 §20.42, §25.1; RFC 3581 rport; [MS-SIPRE] ms-received-port / ms-received-cid)

/// The transport of a Via header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
    /// Any other transport token, as written.
    Other(String),
}

impl Transport {
    /// The transport a Via token names (case-insensitive).
    pub fn from_token(t: &str) -> Transport {
        const KNOWN: [(&str, Transport); 6] = [
            ("UDP", Transport::Udp),
            ("TCP", Transport::Tcp),
            ("TLS", Transport::Tls),
            ("SCTP", Transport::Sctp),
            ("WS", Transport::Ws),
            ("WSS", Transport::Wss),
        ];
        KNOWN
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(t))
            .map_or_else(|| Transport::Other(t.to_owned()), |(_, k)| k.clone())
    }

    /// The token as it appears in a Via.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(s) => s,
        }
    }

    /// Whether the transport is reliable (RFC 3261 §17: timers differ).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// One Via value: `SIP/2.0/UDP host:port;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Protocol name, normally `SIP`.
    pub protocol: String,
    /// Protocol version, normally `2.0`.
    pub version: String,
    /// The transport.
    pub transport: Transport,
    /// The sent-by host.
    pub host: Host,
    /// The sent-by port.
    pub port: Option<u16>,
    /// Parameters in order (branch, received, rport, maddr, …).
    pub params: Vec<Param>,
}

/// RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this magic cookie.
pub const BRANCH_MAGIC_COOKIE: &str = "z9hG4bK";

impl Via {
    /// A Via for this element: `SIP/2.0/<transport> host[:port];branch=<branch>`.
    pub fn new(transport: Transport, host: Host, port: Option<u16>, branch: &str) -> Via {
        Via {
            protocol: "SIP".into(),
            version: "2.0".into(),
            transport,
            host,
            port,
            params: vec![Param::new("branch", Some(branch))],
        }
    }

    fn get(&self, name: &str) -> Option<&Param> {
        find_param(&self.params, name)
    }

    /// The `branch` parameter (RFC 3261 §8.1.1.7).
    pub fn branch(&self) -> Option<&str> {
        self.get("branch").and_then(|p| p.value.as_deref())
    }

    /// Whether the branch carries the RFC 3261 magic cookie (§17.2.3 matching applies).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.starts_with(BRANCH_MAGIC_COOKIE))
    }

    /// The `received` parameter (RFC 3261 §18.2.1), brackets of an IPv6 value removed (RFC 5118 §4.5).
    pub fn received(&self) -> Option<&str> {
        self.get("received")
            .and_then(|p| p.value.as_deref())
            .map(|v| v.trim_start_matches('[').trim_end_matches(']'))
    }

    /// The `rport` parameter (RFC 3581 §4): `Some(None)` when present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.get("rport")
            .map(|p| p.value.as_deref().and_then(|v| v.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.get("maddr").and_then(|p| p.value.as_deref())
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.get("ttl")
            .and_then(|p| p.value.as_deref())
            .and_then(|v| v.parse().ok())
    }

    /// Microsoft's `ms-received-port` ([MS-SIPRE] 2.2.15).
    pub fn ms_received_port(&self) -> Option<u16> {
        self.get("ms-received-port")
            .and_then(|p| p.value.as_deref())
            .and_then(|v| v.parse().ok())
    }

    /// Microsoft's `ms-received-cid`: the connection id the server saw the request on ([MS-SIPRE] 2.2.15).
    pub fn ms_received_cid(&self) -> Option<&str> {
        self.get("ms-received-cid").and_then(|p| p.value.as_deref())
    }

    /// Sets (or replaces) a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        set_param(&mut self.params, name, value);
    }
}

impl HeaderValue for Via {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        // One pass: the parameters are collected as the grammar reads them.
        let mut params = Vec::new();
        let v = via(h, |p| params.push(p.into_owned()))?;
        Ok(Via {
            protocol: v.protocol.to_owned(),
            version: v.version.to_owned(),
            transport: v.transport(),
            host: v.host.into_owned(),
            port: v.port,
            params,
        })
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol,
            self.version,
            self.transport.as_str(),
            self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write_params(f, &self.params)
    }
}

// ---------------------------------------------------------------------------------------------
// name-addr / addr-spec (RFC 3261 §20.10, §20.20, §20.39, §25.1)

/// An address with optional display name and header parameters: the value of From, To,
/// Contact, Route, Record-Route, Path, Refer-To, Referred-By, P-Asserted-Identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted.
    pub display: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters after the address (tag, epid, expires, q, +sip.instance, …).
    pub params: Vec<Param>,
}

impl NameAddr {
    /// An address with no display name and no parameters.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Vec::new(),
        }
    }

    /// A parameter value by name (case-insensitive); `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        find_param(&self.params, name).map(|p| p.value.as_deref())
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.param(name).flatten()
    }

    /// `tag` (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        self.value("tag")
    }

    /// Microsoft's endpoint id `epid` ([MS-SIPRE] 3.2).
    pub fn epid(&self) -> Option<&str> {
        self.value("epid")
    }

    /// `expires` of a Contact (RFC 3261 §20.10).
    pub fn expires(&self) -> Option<u32> {
        self.value("expires").and_then(|v| v.parse().ok())
    }

    /// `q` of a Contact in thousandths (RFC 3261 §20.10: `qvalue = ("0" ["." 0*3DIGIT]) / ("1" ["." 0*3("0")])`).
    pub fn q_millis(&self) -> Option<u16> {
        parse_qvalue(self.value("q")?)
    }

    /// `+sip.instance` (RFC 5626 §4.1), without its quotes and angle brackets.
    pub fn sip_instance(&self) -> Option<&str> {
        self.value("+sip.instance")
            .map(|v| v.trim_start_matches('<').trim_end_matches('>'))
    }

    /// `reg-id` (RFC 5626 §4.2).
    pub fn reg_id(&self) -> Option<u32> {
        self.value("reg-id").and_then(|v| v.parse().ok())
    }

    /// The `gruu` parameter of a Contact in a REGISTER 200 OK ([MS-SIPRE], as pidgin-sipe reads it).
    pub fn gruu(&self) -> Option<&str> {
        self.value("gruu")
    }

    /// RFC 5627 §4.1 `pub-gruu`.
    pub fn pub_gruu(&self) -> Option<&str> {
        self.value("pub-gruu")
    }

    /// RFC 5627 §4.1 `temp-gruu`.
    pub fn temp_gruu(&self) -> Option<&str> {
        self.value("temp-gruu")
    }

    /// Sets (or replaces) a parameter, written without quotes.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        set_param(&mut self.params, name, value);
    }
}

/// Parses a qvalue into thousandths.
fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut f: u16 = 0;
    for (i, d) in frac.bytes().enumerate() {
        f += u16::from(d - b'0') * [100, 10, 1][i];
    }
    if whole == 1000 && f != 0 {
        return None;
    }
    Some(whole + f)
}

impl HeaderValue for NameAddr {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        let mut params = Vec::new();
        let a = name_addr(h, |p| params.push(p.into_owned()))?;
        Ok(NameAddr {
            display: a.display().map(std::borrow::Cow::into_owned),
            uri: a.uri.into_owned(),
            params,
        })
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write_quoted(f, d)?;
            f.write_str(" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

/// A Contact value: an address, or `*` (RFC 3261 §10.2.2, only with Expires: 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contact {
    /// `Contact: *`.
    Star,
    /// One contact address.
    Addr(NameAddr),
}

impl HeaderValue for Contact {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        if h.0.peek() == Some(b'*') {
            h.0.pos += 1;
            return Ok(Contact::Star);
        }
        NameAddr::parse_element(h).map(Contact::Addr)
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Star => f.write_str("*"),
            Contact::Addr(a) => a.fmt(f),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Method, CSeq, Call-ID, numbers

/// A SIP method (case-sensitive, RFC 3261 §7.1), Microsoft's included.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// RFC 3261.
    Invite,
    /// RFC 3261.
    Ack,
    /// RFC 3261.
    Bye,
    /// RFC 3261.
    Cancel,
    /// RFC 3261.
    Register,
    /// RFC 3261.
    Options,
    /// RFC 6086.
    Info,
    /// RFC 3311.
    Update,
    /// RFC 3262.
    Prack,
    /// RFC 6665.
    Subscribe,
    /// RFC 6665.
    Notify,
    /// RFC 3515.
    Refer,
    /// RFC 3428.
    Message,
    /// RFC 3903.
    Publish,
    /// Microsoft: presence publication and other server services ([MS-PRES]).
    Service,
    /// Microsoft: best-effort NOTIFY ([MS-PRES]).
    Benotify,
    /// Microsoft: capability negotiation ([MS-SIPRE]).
    Negotiate,
    /// Any other method token, as written.
    Other(String),
}

impl Method {
    /// Parses a method token (case-sensitive).
    pub fn from_token(t: &str) -> Method {
        match t {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            "SERVICE" => Method::Service,
            "BENOTIFY" => Method::Benotify,
            "NEGOTIATE" => Method::Negotiate,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Service => "SERVICE",
            Method::Benotify => "BENOTIFY",
            Method::Negotiate => "NEGOTIATE",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HeaderValue for Method {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        Ok(Method::from_token(h.0.token("expected a method name")?))
    }
}

/// CSeq (RFC 3261 §20.16): sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// The sequence number (less than 2**31 per §8.1.1.5 when generated; up to 2**32-1 accepted).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

impl HeaderValue for CSeq {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        let s = &mut h.0;
        let seq = s.number(u64::from(u32::MAX), "expected a CSeq number below 2**32")? as u32;
        if !s.skip_lws() {
            return Err(s.err("expected white space between the CSeq number and method"));
        }
        let method = Method::from_token(s.token("expected the CSeq method")?);
        Ok(CSeq { seq, method })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// Call-ID (RFC 3261 §20.8): `word [ "@" word ]`, compared byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub String);

impl HeaderValue for CallId {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        CallIdRef::parse_view(h).map(|c| CallId(c.0.to_owned()))
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A decimal header value such as Max-Forwards, Content-Length, Expires, Min-Expires (`1*DIGIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Number(pub u32);

impl HeaderValue for Number {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        Ok(Number(
            h.0.number(u64::from(u32::MAX), "expected a decimal number below 2**32")? as u32,
        ))
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A bare token list element: option-tags (Supported, Require, Unsupported), event packages (Allow-Events).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(pub String);

impl HeaderValue for Token {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        Ok(Token(h.0.token("expected a token")?.to_owned()))
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Content-Type, Event, Subscription-State

/// A media type with parameters (RFC 3261 §20.15): `type/subtype;params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// Top-level type, e.g. `application`.
    pub mtype: String,
    /// Subtype, e.g. `sdp`.
    pub subtype: String,
    /// Parameters, e.g. `charset=UTF-8`.
    pub params: Vec<Param>,
}

impl MediaType {
    /// Whether this is `mtype/subtype`, case-insensitively.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

impl HeaderValue for MediaType {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        let s = &mut h.0;
        let mtype = s.token("expected a media type")?.to_owned();
        if !s.eat_sep(b'/') {
            return Err(s.err("expected '/' in the media type"));
        }
        let subtype = s.token("expected a media subtype")?.to_owned();
        let mut params = Vec::new();
        s.params(&mut params)?;
        Ok(MediaType {
            mtype,
            subtype,
            params,
        })
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.mtype, self.subtype)?;
        write_params(f, &self.params)
    }
}

/// A token with parameters: Event (RFC 6665 §8.2.1), Subscription-State (§8.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParams {
    /// The token: an event package or a subscription state.
    pub value: String,
    /// Parameters (`id`, `expires`, `reason`, `retry-after`, …).
    pub params: Vec<Param>,
}

impl TokenParams {
    /// A parameter value by name.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name).and_then(|p| p.value.as_deref())
    }
}

impl HeaderValue for TokenParams {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        let s = &mut h.0;
        let value = s.token("expected a token")?.to_owned();
        let mut params = Vec::new();
        s.params(&mut params)?;
        Ok(TokenParams { value, params })
    }
}

impl fmt::Display for TokenParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)?;
        write_params(f, &self.params)
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication (RFC 3261 §20.6, §20.7, §20.27, §20.28, §20.44; RFC 7616; [MS-SIPAE] 2.2)

/// A challenge or credentials: `scheme param=value, …` (Digest, NTLM, Kerberos, TLS-DSK, …),
/// or Authentication-Info, which may carry no scheme (RFC 3261) or one ([MS-SIPAE]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthValue {
    /// The scheme (`Digest`, `NTLM`, `Kerberos`, `TLS-DSK`), absent in RFC 3261 Authentication-Info.
    pub scheme: Option<String>,
    /// The auth-params in order. Values are unquoted; `quoted` says how they were written.
    pub params: Vec<Param>,
    /// A token68 credential (RFC 7235 §2.1) instead of params, e.g. `Bearer <token>`.
    pub token68: Option<String>,
}

impl AuthValue {
    /// A parameter by name, case-insensitively. Covers Digest (`realm`, `nonce`, `opaque`,
    /// `algorithm`, `qop`, `username`, `uri`, `response`, `cnonce`, `nc`, `stale`) and
    /// [MS-SIPAE] (`targetname`, `version`, `gssapi-data`, `crand`, `cnum`, `srand`, `snum`,
    /// `rspauth`, `sts-uri`).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name).and_then(|p| p.value.as_deref())
    }

    /// Whether the scheme is `scheme`, case-insensitively.
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }

    /// `realm`.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// `nonce`.
    pub fn nonce(&self) -> Option<&str> {
        self.param("nonce")
    }

    /// `opaque` ([MS-SIPAE]: the security association id).
    pub fn opaque(&self) -> Option<&str> {
        self.param("opaque")
    }

    /// `targetname` ([MS-SIPAE] 2.2).
    pub fn targetname(&self) -> Option<&str> {
        self.param("targetname")
    }
}

/// The parameters that take a token rather than a quoted string when written (RFC 7616 §3.3-3.5;
/// [MS-SIPAE] `version`).
fn auth_param_unquoted(name: &str) -> bool {
    ["algorithm", "nc", "stale", "version"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(name))
}

impl AuthValue {
    /// A value with a scheme and params; values are quoted except those RFC 7616 writes as tokens.
    pub fn new(scheme: Option<&str>, params: &[(&str, &str)]) -> AuthValue {
        AuthValue {
            scheme: scheme.map(str::to_owned),
            params: params
                .iter()
                .map(|(n, v)| {
                    if auth_param_unquoted(n) {
                        Param::new(*n, Some(v))
                    } else {
                        Param::quoted(*n, *v)
                    }
                })
                .collect(),
            token68: None,
        }
    }
}

impl HeaderValue for AuthValue {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        let mut params = Vec::new();
        let a = auth_value(h, |p| params.push(p.into_owned()))?;
        Ok(AuthValue {
            scheme: a.scheme.map(str::to_owned),
            params,
            token68: a.token68.map(str::to_owned),
        })
    }
}

impl fmt::Display for AuthValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.scheme {
            f.write_str(s)?;
            if self.token68.is_some() || !self.params.is_empty() {
                f.write_str(" ")?;
            }
        }
        if let Some(t) = &self.token68 {
            return f.write_str(t);
        }
        for (i, p) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// ms-diagnostics / ms-diagnostics-public ([MS-OCER] 2.2.1.1, 2.2.1.2)

/// An `ms-diagnostics` or `ms-diagnostics-public` value:
/// `ErrorId[.SubId] *(SEMI generic-param)`, with `reason` and (private only) `source` among the params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsDiagnostics {
    /// The ErrorId clients act on.
    pub code: u32,
    /// The optional sub-code (`1003.5`).
    pub sub_code: Option<u32>,
    /// Parameters in order, `reason` and `source` included.
    pub params: Vec<Param>,
}

impl MsDiagnostics {
    /// `code;reason="reason"`.
    pub fn new(code: u32, reason: &str) -> MsDiagnostics {
        MsDiagnostics {
            code,
            sub_code: None,
            params: vec![Param::quoted("reason", reason)],
        }
    }

    /// Adds `source="fqdn"` (never for ms-diagnostics-public: [MS-OCER] 2.2.1.2).
    pub fn with_source(mut self, fqdn: &str) -> MsDiagnostics {
        self.params.push(Param::quoted("source", fqdn));
        self
    }

    /// Adds a further quoted parameter.
    pub fn with_param(mut self, name: &str, value: &str) -> MsDiagnostics {
        self.params.push(Param::quoted(name, value));
        self
    }

    /// A parameter by name, case-insensitively ([MS-SIP] field traces vary the case).
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name).and_then(|p| p.value.as_deref())
    }

    /// The human-readable reason.
    pub fn reason(&self) -> Option<&str> {
        self.param("reason")
    }

    /// The FQDN or address of the server that added the header.
    pub fn source(&self) -> Option<&str> {
        self.param("source")
    }

    /// The same diagnostics without `source`, for ms-diagnostics-public ([MS-OCER] 2.2.1.2).
    pub fn to_public(&self) -> MsDiagnostics {
        MsDiagnostics {
            code: self.code,
            sub_code: self.sub_code,
            params: self
                .params
                .iter()
                .filter(|p| !p.name.eq_ignore_ascii_case("source"))
                .cloned()
                .collect(),
        }
    }
}

impl HeaderValue for MsDiagnostics {
    fn parse_element(h: &mut ScannerHandle<'_>) -> Result<Self> {
        let s = &mut h.0;
        let code = s.number(u64::from(u32::MAX), "expected a numeric ErrorId")? as u32;
        let sub_code = if s.eat(b'.') {
            Some(s.number(u64::from(u32::MAX), "expected a numeric sub-code after '.'")? as u32)
        } else {
            None
        };
        let mut params = Vec::new();
        s.params(&mut params)?;
        Ok(MsDiagnostics {
            code,
            sub_code,
            params,
        })
    }
}

impl fmt::Display for MsDiagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(sc) = self.sub_code {
            write!(f, ".{sc}")?;
        }
        write_params(f, &self.params)
    }
}

/// Parses one value of type `T` from a string (for tests and tools).
pub fn parse_one<T: HeaderValue>(value: &str) -> Result<T> {
    let mut out = Vec::with_capacity(1);
    parse_value::<T>(value.as_bytes(), Part::ExtensionHeader, false, &mut out)?;
    out.pop()
        .ok_or_else(|| ParseError::syntax(0, Part::ExtensionHeader, "expected a value"))
}

/// Parses every comma-separated value of type `T` from a string.
pub fn parse_list<T: HeaderValue>(value: &str) -> Result<Vec<T>> {
    let mut out = Vec::new();
    parse_value::<T>(value.as_bytes(), Part::ExtensionHeader, true, &mut out)?;
    Ok(out)
}
