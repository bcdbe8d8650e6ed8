//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, §25.1), `tel:` (RFC 3966) and any other
//! absolute URI kept as written. IPv6 references per RFC 5118. Components keep their
//! %-escapes as written so a URI is written back exactly as received.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{ParseError, Part, Result};
use crate::scan::{Scanner, class, text};

// RFC 3261 §25.1 character classes; `mark = - _ . ! ~ * ' ( )`.
/// `user = 1*( unreserved / escaped / user-unreserved )`, user-unreserved = `& = + $ , ; ? /`.
static USER: [bool; 256] = class(true, b"-_.!~*'()&=+$,;?/");
/// `password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," )`.
static PASSWORD: [bool; 256] = class(true, b"-_.!~*'()&=+$,");
/// `paramchar = param-unreserved / unreserved / escaped`, param-unreserved = `[ ] / : & + $`.
static PARAMCHAR: [bool; 256] = class(true, b"-_.!~*'()[]/:&+$");
/// `hnv-unreserved / unreserved / escaped` (URI header names and values).
static HCHAR: [bool; 256] = class(true, b"-_.!~*'()[]/?:+$");
/// A `tel:` number and its parameters (RFC 3966 §3, kept permissive: paramchar plus `# = %`).
static TEL: [bool; 256] = class(true, b"-_.!~*'()[]/:&+$#=%");
/// Host name characters (RFC 3261 §25.1 `hostname`, with `_` tolerated as deployed DNS has it).
static HOSTNAME: [bool; 256] = class(true, b"-._");

/// Byte classes of a host name for [`parse_host`]'s single pass.
const HOST_NONE: u8 = 0;
const HOST_DIGIT: u8 = 1;
const HOST_OTHER: u8 = 2;
const HOST_DOT: u8 = 3;
const HOST_DASH: u8 = 4;
static HOST_CLASS: [u8; 256] = {
    let mut t = [HOST_NONE; 256];
    let mut i = 0;
    while i < 256 {
        if HOSTNAME[i] {
            t[i] = match i as u8 {
                b'0'..=b'9' => HOST_DIGIT,
                b'.' => HOST_DOT,
                b'-' => HOST_DASH,
                _ => HOST_OTHER,
            };
        }
        i += 1;
    }
    t
};

#[inline]
fn is_user(b: u8) -> bool {
    USER[usize::from(b)]
}
#[inline]
fn is_password(b: u8) -> bool {
    PASSWORD[usize::from(b)]
}
#[inline]
fn is_paramchar(b: u8) -> bool {
    PARAMCHAR[usize::from(b)]
}
#[inline]
fn is_hchar(b: u8) -> bool {
    HCHAR[usize::from(b)]
}
#[inline]
fn is_tel(b: u8) -> bool {
    TEL[usize::from(b)]
}

/// A URI in any of the forms SIP carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:` (RFC 3966).
    Tel(TelUri),
    /// Any other absolute URI (RFC 3261 §25.1 `absoluteURI`), e.g. `urn:`, `mailto:`, kept as written.
    Other(OtherUri),
}

/// A `sip:`/`sips:` URI (RFC 3261 §19.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, %-escapes kept as written.
    pub user: Option<String>,
    /// The password, %-escapes kept as written.
    pub password: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, if written.
    pub port: Option<u16>,
    /// URI parameters (`;name[=value]`), as written.
    pub params: Vec<UriParam>,
    /// URI headers (`?name=value&…`), as written.
    pub headers: Vec<(String, String)>,
}

/// A host: a domain name, an IPv4 address or an IPv6 reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A domain name as written (compare case-insensitively).
    Domain(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 reference, written in brackets (RFC 5118 §4.1).
    V6(Ipv6Addr),
}

/// A URI parameter `name[=value]`, %-escapes kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriParam {
    /// The name as written.
    pub name: String,
    /// The value as written, or `None` for a flag such as `lr`.
    pub value: Option<String>,
}

/// A `tel:` URI (RFC 3966): the number and its parameters as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The number (`+1-201-555-0123`, `7042`), as written.
    pub number: String,
    /// Parameters such as `phone-context`, `ext`.
    pub params: Vec<UriParam>,
}

/// Another absolute URI: scheme and the rest as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherUri {
    /// The scheme, e.g. `urn`.
    pub scheme: String,
    /// Everything after the `:`.
    pub rest: String,
}

impl Uri {
    /// Parses a URI that makes up all of `s` (RFC 3261 §25.1 `Request-URI = SIP-URI / SIPS-URI / absoluteURI`).
    pub fn parse(s: &str) -> Result<Uri> {
        UriRef::parse(s).map(UriRef::into_owned)
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The scheme in lower case.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other(o) => &o.scheme,
        }
    }
}

impl SipUri {
    /// A `sip:` URI with a user and host and nothing else.
    pub fn new(user: Option<&str>, host: Host) -> Self {
        Self {
            secure: false,
            user: user.map(str::to_owned),
            password: None,
            host,
            port: None,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The value of a URI parameter by name (case-insensitive), `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_deref())
    }

    /// Whether the URI carries the flag or parameter `name`.
    pub fn has_param(&self, name: &str) -> bool {
        self.param(name).is_some()
    }

    /// The `transport` parameter, lower-cased.
    pub fn transport(&self) -> Option<String> {
        self.param("transport")
            .flatten()
            .map(str::to_ascii_lowercase)
    }

    /// Whether this is a loose-routing URI (`lr`, RFC 3261 §19.1.1).
    pub fn is_lr(&self) -> bool {
        self.has_param("lr")
    }

    /// `user=phone` (RFC 3261 §19.1.1): the user part is a telephone number.
    pub fn is_user_phone(&self) -> bool {
        self.param("user")
            .flatten()
            .is_some_and(|v| v.eq_ignore_ascii_case("phone"))
    }

    /// The user part with %-escapes decoded (bytes that are not UTF-8 are replaced).
    pub fn user_unescaped(&self) -> Option<String> {
        self.user.as_deref().map(unescape)
    }

    /// The Lync/Skype for Business GRUU this URI denotes, if it carries `gruu`
    /// and an `opaque` of a known form ([MS-SIPRE] 2.2.3).
    pub fn ms_gruu(&self) -> Option<MsGruu> {
        if !self.has_param("gruu") {
            return None;
        }
        let opaque = self.param("opaque").flatten()?;
        Some(MsGruu::classify(opaque))
    }

    /// The RFC 5627 `gr` parameter: `Some(None)` for a public GRUU's bare `gr`,
    /// `Some(Some(v))` for `gr=<value>` of a temporary or instance GRUU.
    pub fn gr(&self) -> Option<Option<&str>> {
        self.param("gr")
    }
}

/// The Lync GRUU forms of [MS-SIPRE] 2.2.3, told apart by their `opaque` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsGruu {
    /// `opaque=user:epid:<value>`: one endpoint of a user.
    UserEpid(String),
    /// `opaque=app:conf:focus:id:<id>`: a conference focus.
    ConfFocus(String),
    /// `opaque=app:conf:focusfactory`.
    FocusFactory,
    /// `opaque=app:conf:<mcu>:id:<id>`: an MCU of a conference (chat, audio-video, …).
    ConfMcu {
        /// The MCU type, e.g. `chat`, `audio-video`.
        mcu: String,
        /// The conference id.
        id: String,
    },
    /// `opaque=srvr:<rest>`: a server or application instance.
    Server(String),
    /// `opaque=app:<rest>` of another application form (e.g. voicemail).
    App(String),
    /// An `opaque` of no known form.
    Other(String),
}

impl MsGruu {
    fn classify(opaque: &str) -> Self {
        if let Some(epid) = opaque.strip_prefix("user:epid:") {
            MsGruu::UserEpid(epid.to_owned())
        } else if let Some(id) = opaque.strip_prefix("app:conf:focus:id:") {
            MsGruu::ConfFocus(id.to_owned())
        } else if opaque == "app:conf:focusfactory" {
            MsGruu::FocusFactory
        } else if let Some(rest) = opaque.strip_prefix("app:conf:") {
            match rest.split_once(":id:") {
                Some((mcu, id)) => MsGruu::ConfMcu {
                    mcu: mcu.to_owned(),
                    id: id.to_owned(),
                },
                None => MsGruu::App(opaque["app:".len()..].to_owned()),
            }
        } else if let Some(rest) = opaque.strip_prefix("app:") {
            MsGruu::App(rest.to_owned())
        } else if let Some(rest) = opaque.strip_prefix("srvr:") {
            MsGruu::Server(rest.to_owned())
        } else {
            MsGruu::Other(opaque.to_owned())
        }
    }
}

/// Decodes %-escapes (RFC 3261 §19.1.2); invalid UTF-8 is replaced.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where a URI sits, which decides where it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UriContext {
    /// The URI is the whole slice (Request-URI, inside `<…>`).
    Whole,
    /// An addr-spec without angle brackets in a header (RFC 3261 §20: it ends at
    /// `;`, `,` or white space, and may not contain `?`).
    BareAddrSpec,
}

// ---------------------------------------------------------------------------------------------
// Borrowed views: a URI read in place, its pieces slices of the message.

/// A URI borrowed from the text it was parsed from (no allocation); [`UriRef::into_owned`]
/// makes a [`Uri`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriRef<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUriRef<'a>),
    /// `tel:` (RFC 3966).
    Tel(TelUriRef<'a>),
    /// Any other absolute URI, kept as written.
    Other {
        /// The scheme as written.
        scheme: &'a str,
        /// Everything after the `:`.
        rest: &'a str,
    },
}

/// A `sip:`/`sips:` URI borrowed from a message (RFC 3261 §19.1.1); components as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUriRef<'a> {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part, %-escapes kept.
    pub user: Option<&'a str>,
    /// The password, %-escapes kept.
    pub password: Option<&'a str>,
    /// The host.
    pub host: HostRef<'a>,
    /// The port, if written.
    pub port: Option<u16>,
    /// URI parameters.
    pub params: UriParams<'a>,
    /// URI headers (`?name=value&…`) as written, without the `?`; empty if none.
    pub headers: &'a str,
}

/// A `tel:` URI borrowed from a message (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUriRef<'a> {
    /// The number as written.
    pub number: &'a str,
    /// Parameters such as `phone-context`.
    pub params: UriParams<'a>,
}

/// A host borrowed from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostRef<'a> {
    /// A domain name as written (compare case-insensitively).
    Domain(&'a str),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 reference.
    V6(Ipv6Addr),
}

/// URI parameters `;name[=value]…` as written (checked when the URI was parsed), read
/// without allocating. Neither names nor values contain `;` or `=` unescaped (RFC 3261 §25.1
/// `paramchar`), so they split on those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UriParams<'a> {
    raw: &'a str,
}

impl<'a> UriParams<'a> {
    /// `(name, value)` of each parameter in order, as written.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
        self.raw
            .split(';')
            .skip(1)
            .map(|p| match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            })
    }

    /// The parameter `name` (case-insensitive): `Some(None)` for a flag such as `lr`.
    pub fn get(&self, name: &str) -> Option<Option<&'a str>> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Whether the parameter `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The parameters as written, leading `;` included.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    fn to_vec(self) -> Vec<UriParam> {
        self.iter()
            .map(|(n, v)| UriParam {
                name: n.to_owned(),
                value: v.map(str::to_owned),
            })
            .collect()
    }
}

impl<'a> UriRef<'a> {
    /// Parses a URI that makes up all of `s`.
    pub fn parse(s: &'a str) -> Result<UriRef<'a>> {
        parse_uri_str(s, UriContext::Whole).map_err(|e| e.rebase(0, Part::Uri))
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUriRef<'a>> {
        match self {
            UriRef::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The scheme in lower case (as written for another scheme).
    pub fn scheme(&self) -> &'a str {
        match self {
            UriRef::Sip(u) if u.secure => "sips",
            UriRef::Sip(_) => "sip",
            UriRef::Tel(_) => "tel",
            UriRef::Other { scheme, .. } => scheme,
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> Uri {
        match self {
            UriRef::Sip(u) => Uri::Sip(u.into_owned()),
            UriRef::Tel(t) => Uri::Tel(TelUri {
                number: t.number.to_owned(),
                params: t.params.to_vec(),
            }),
            UriRef::Other { scheme, rest } => Uri::Other(OtherUri {
                scheme: scheme.to_owned(),
                rest: rest.to_owned(),
            }),
        }
    }
}

impl<'a> SipUriRef<'a> {
    /// The value of a URI parameter by name (case-insensitive), `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params.get(name)
    }

    /// Whether this is a loose-routing URI (`lr`, RFC 3261 §19.1.1).
    pub fn is_lr(&self) -> bool {
        self.params.has("lr")
    }

    /// The `transport` parameter as written.
    pub fn transport(&self) -> Option<&'a str> {
        self.params.get("transport").flatten()
    }

    /// URI headers `(name, value)` as written.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.headers
            .split('&')
            .filter(|h| !h.is_empty())
            .map(|h| h.split_once('=').unwrap_or((h, "")))
    }

    /// An owned copy.
    pub fn into_owned(self) -> SipUri {
        SipUri {
            secure: self.secure,
            user: self.user.map(str::to_owned),
            password: self.password.map(str::to_owned),
            host: self.host.into_owned(),
            port: self.port,
            params: self.params.to_vec(),
            headers: self
                .headers()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

impl HostRef<'_> {
    /// An owned copy.
    pub fn into_owned(self) -> Host {
        match self {
            HostRef::Domain(d) => Host::Domain(d.to_owned()),
            HostRef::V4(a) => Host::V4(a),
            HostRef::V6(a) => Host::V6(a),
        }
    }
}

impl fmt::Display for HostRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostRef::Domain(d) => f.write_str(d),
            HostRef::V4(a) => write!(f, "{a}"),
            HostRef::V6(a) => write!(f, "[{a}]"),
        }
    }
}

impl fmt::Display for SipUriRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = self.user {
            f.write_str(u)?;
            if let Some(p) = self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(self.params.raw)?;
        if !self.headers.is_empty() {
            write!(f, "?{}", self.headers)?;
        }
        Ok(())
    }
}

impl fmt::Display for UriRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriRef::Sip(u) => u.fmt(f),
            UriRef::Tel(t) => write!(f, "tel:{}{}", t.number, t.params.raw),
            UriRef::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

/// Parses a URI from the start of `s`; returns it and how many bytes it took.
/// For [`UriContext::Whole`] the whole slice must be the URI.
pub(crate) fn parse_uri_ref(s: &str, ctx: UriContext) -> Result<(UriRef<'_>, usize)> {
    let mut sc = Scanner::over(s, Part::Uri);
    let scheme = sc.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if scheme.is_empty() || !scheme[0].is_ascii_alphabetic() || !sc.eat(b':') {
        return Err(ParseError::syntax(
            0,
            Part::Uri,
            "expected a URI scheme followed by ':'",
        ));
    }
    let body_start = sc.pos;
    let body = s.get(body_start..).unwrap_or("");
    if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
        let secure = scheme.len() == 4;
        let (u, used) =
            parse_sip_body(body, secure, ctx).map_err(|e| e.rebase(body_start, Part::Uri))?;
        return Ok((UriRef::Sip(u), body_start + used));
    }
    if scheme.eq_ignore_ascii_case(b"tel") {
        let (u, used) = parse_tel_body(body, ctx).map_err(|e| e.rebase(body_start, Part::Uri))?;
        return Ok((UriRef::Tel(u), body_start + used));
    }
    // RFC 3261 §25.1 absoluteURI: any visible characters; in a bare addr-spec it ends like a SIP URI does.
    sc.take_while(|b| {
        b > b' '
            && b != 0x7f
            && b != b'>'
            && b != b'<'
            && b != b'"'
            && (ctx == UriContext::Whole || !matches!(b, b';' | b','))
    });
    if sc.pos == body_start {
        return Err(sc.err("expected the rest of the URI after the scheme"));
    }
    if ctx == UriContext::Whole && !sc.at_end() {
        return Err(sc.err("expected the end of the URI"));
    }
    Ok((
        UriRef::Other {
            scheme: sc.slice(0, body_start - 1),
            rest: sc.since(body_start),
        },
        sc.pos,
    ))
}

/// Parses a URI that is all of `s`.
pub(crate) fn parse_uri_str(s: &str, ctx: UriContext) -> Result<UriRef<'_>> {
    let (u, used) = parse_uri_ref(s, ctx)?;
    if used != s.len() {
        return Err(ParseError::syntax(
            used,
            Part::Uri,
            "expected the end of the URI",
        ));
    }
    Ok(u)
}

/// Parses a URI that is all of `s` (bytes that are not UTF-8 are replaced first: no URI
/// grammar admits them, so they fail where they stand).
pub(crate) fn parse_uri(s: &[u8], ctx: UriContext) -> Result<Uri> {
    let t = String::from_utf8_lossy(s);
    parse_uri_str(&t, ctx)
        .map(UriRef::into_owned)
        .map_err(|e| e.in_raw(s))
}

/// Validates a run of URI characters: each byte matches `pred` or is a valid `%HH` escape.
fn escaped_run<'a>(
    sc: &mut Scanner<'a>,
    pred: impl Fn(u8) -> bool,
    what: &'static str,
) -> Result<&'a str> {
    let start = sc.pos;
    while let Some(b) = sc.peek() {
        if b == b'%' {
            let ok = sc.s.get(sc.pos + 1).is_some_and(u8::is_ascii_hexdigit)
                && sc.s.get(sc.pos + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return Err(sc.err("expected two hex digits after '%'"));
            }
            sc.pos += 3;
        } else if pred(b) {
            sc.pos += 1;
        } else {
            break;
        }
    }
    if sc.pos == start {
        return Err(sc.err(what));
    }
    Ok(sc.since(start))
}

/// RFC 3261 §25.1 SIP-URI after the scheme's `:`.
fn parse_sip_body(s: &str, secure: bool, ctx: UriContext) -> Result<(SipUriRef<'_>, usize)> {
    // The URI's extent: all of `s`, or up to the first `,` / white space / `>` for a bare addr-spec
    // (where `;` starts the header's parameters: RFC 3261 §20.10).
    let mut sc = Scanner::over(s, Part::Uri);
    let b = s.as_bytes();
    // userinfo ends at the first '@' (neither user nor password may contain an unescaped '@').
    let at = memchr::memchr(b'@', b).filter(|&at| {
        b[..at]
            .iter()
            .all(|&b| b > b' ' && b != b'>' && !(ctx == UriContext::BareAddrSpec && b == b','))
    });
    let (mut user, mut password) = (None, None);
    if let Some(at) = at {
        let mut u = sc.sub(0, at);
        user = Some(escaped_run(
            &mut u,
            is_user,
            "expected a user name before '@'",
        )?);
        if u.eat(b':') {
            password = Some(if u.at_end() {
                ""
            } else {
                escaped_run(&mut u, is_password, "expected a password after ':'")?
            });
        }
        if !u.at_end() {
            return Err(u.err("expected '@' after the user part"));
        }
        sc.pos = at + 1;
    }
    let host = parse_host(&mut sc)?;
    let mut port = None;
    if sc.eat(b':') {
        port = Some(sc.number(65535, "expected a port number (0-65535) after ':'")? as u16);
    }
    let params_start = sc.pos;
    if ctx == UriContext::Whole {
        while sc.eat(b';') {
            escaped_run(
                &mut sc,
                is_paramchar,
                "expected a URI parameter name after ';'",
            )?;
            if sc.eat(b'=') {
                escaped_run(
                    &mut sc,
                    is_paramchar,
                    "expected a URI parameter value after '='",
                )?;
            }
        }
    }
    let params = UriParams {
        raw: sc.since(params_start),
    };
    let mut headers = "";
    if sc.peek() == Some(b'?') {
        if ctx == UriContext::BareAddrSpec {
            // RFC 3261 §20: a URI with headers must be enclosed in <> in a header field.
            return Err(sc.err("expected '<' '>' around a URI that has headers ('?')"));
        }
        sc.pos += 1;
        let hstart = sc.pos;
        loop {
            escaped_run(
                &mut sc,
                is_hchar,
                "expected a URI header name after '?' or '&'",
            )?;
            sc.expect(b'=', "expected '=' after the URI header name")?;
            if matches!(sc.peek(), Some(b) if is_hchar(b) || b == b'%') {
                escaped_run(&mut sc, is_hchar, "expected a URI header value")?;
            }
            if !sc.eat(b'&') {
                break;
            }
        }
        headers = sc.since(hstart);
    }
    match (ctx, sc.peek()) {
        (_, None) => {}
        (UriContext::BareAddrSpec, Some(b';' | b',' | b' ' | b'\t' | b'\r' | b'\n')) => {}
        _ => return Err(sc.err("expected ';', '?' or the end of the URI")),
    }
    Ok((
        SipUriRef {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        },
        sc.pos,
    ))
}

/// RFC 3261 §25.1 `host = hostname / IPv4address / IPv6reference`; RFC 5118 §4.
pub(crate) fn parse_host<'a>(sc: &mut Scanner<'a>) -> Result<HostRef<'a>> {
    if sc.peek() == Some(b'[') {
        let start = sc.pos;
        sc.pos += 1;
        let inner = sc.take_while(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !sc.eat(b']') {
            return Err(sc.err("expected ']' closing the IPv6 reference"));
        }
        // RFC 5118 §4.10: RFC 3261's IPv6reference ABNF admits a third colon before an
        // embedded IPv4 address ("2001:db8:::192.0.2.1"); tolerate it as "::".
        let inner = text(inner);
        let fixed;
        let inner = if inner.contains(":::") && !inner.contains("::::") {
            fixed = inner.replacen(":::", "::", 1);
            fixed.as_str()
        } else {
            inner
        };
        return inner.parse::<Ipv6Addr>().map(HostRef::V6).map_err(|_| {
            ParseError::syntax(
                start,
                Part::Uri,
                "expected a valid IPv6 address inside '[' ']'",
            )
        });
    }
    let start = sc.pos;
    // RFC 3261 §25.1: labels start and end with alphanum; a trailing '.' is allowed.
    // One pass: extent, label rule, and whether it is all digits and dots (an IPv4 address).
    let mut prev = HOST_DOT;
    let mut all_digits = true;
    let mut bad = false;
    let rest = sc.rest();
    let mut n = 0;
    for &b in rest {
        let class = HOST_CLASS[usize::from(b)];
        match class {
            HOST_NONE => break,
            HOST_DIGIT => {}
            HOST_OTHER => all_digits = false,
            HOST_DOT => bad |= prev == HOST_DOT || prev == HOST_DASH,
            _ => {
                bad |= prev == HOST_DOT;
                all_digits = false;
            }
        }
        prev = class;
        n += 1;
    }
    if n == 0 {
        return Err(sc.err("expected a host name or address"));
    }
    sc.pos += n;
    if bad || prev == HOST_DASH {
        return Err(ParseError::syntax(
            start,
            Part::Uri,
            "expected a host name of dot-separated labels",
        ));
    }
    let name = sc.since(start);
    if all_digits {
        return ipv4(name)
            .map(HostRef::V4)
            .map_err(|_| ParseError::syntax(start, Part::Uri, "expected a valid IPv4 address"));
    }
    Ok(HostRef::Domain(name))
}

/// RFC 3261 §25.1 `IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each
/// at most 255 and without a leading zero (as `Ipv4Addr`'s parser reads it).
pub(crate) fn ipv4(s: &str) -> std::result::Result<Ipv4Addr, ()> {
    let mut octets = [0u8; 4];
    let (mut i, mut n, mut digits) = (0usize, 0u16, 0u8);
    for &c in s.as_bytes() {
        if c == b'.' {
            if digits == 0 || i == 3 {
                return Err(());
            }
            octets[i] = n as u8;
            (i, n, digits) = (i + 1, 0, 0);
        } else if c.is_ascii_digit() {
            if digits == 3 || (digits == 1 && n == 0) {
                return Err(()); // four digits, or a leading zero
            }
            n = n * 10 + u16::from(c - b'0');
            if n > 255 {
                return Err(());
            }
            digits += 1;
        } else {
            return Err(());
        }
    }
    if i != 3 || digits == 0 {
        return Err(());
    }
    octets[3] = n as u8;
    Ok(Ipv4Addr::from(octets))
}

/// RFC 3966 telephone-uri after `tel:`.
fn parse_tel_body(s: &str, ctx: UriContext) -> Result<(TelUriRef<'_>, usize)> {
    let mut sc = Scanner::over(s, Part::Uri);
    sc.take_while(|b| is_tel(b) && b != b';' && !(ctx == UriContext::BareAddrSpec && b == b','));
    if sc.pos == 0 {
        return Err(sc.err("expected a telephone number after 'tel:'"));
    }
    let number = sc.since(0);
    let params_start = sc.pos;
    if ctx == UriContext::Whole {
        while sc.eat(b';') {
            escaped_run(
                &mut sc,
                |b| is_paramchar(b) && b != b'=',
                "expected a tel parameter name after ';'",
            )?;
            if sc.eat(b'=') {
                escaped_run(
                    &mut sc,
                    |b| is_tel(b) && b != b';' && b != b'=',
                    "expected a tel parameter value after '='",
                )?;
            }
        }
        if !sc.at_end() {
            return Err(sc.err("expected ';' or the end of the tel URI"));
        }
    }
    Ok((
        TelUriRef {
            number,
            params: UriParams {
                raw: sc.since(params_start),
            },
        },
        sc.pos,
    ))
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6(a) => write!(f, "[{a}]"),
        }
    }
}

impl fmt::Display for UriParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.value {
            write!(f, "={v}")?;
        }
        Ok(())
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        for p in &self.params {
            write!(f, ";{p}")?;
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl fmt::Display for TelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tel:{}", self.number)?;
        for p in &self.params {
            write!(f, ";{p}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(u) => u.fmt(f),
            Uri::Other(o) => write!(f, "{}:{}", o.scheme, o.rest),
        }
    }
}

impl std::str::FromStr for Uri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            other => panic!("not sip: {other:?}"),
        }
    }

    // RFC 3261 §19.1.1 components
    #[test]
    fn sip_uri_components() {
        let u = sip(
            "sips:alice:secret@atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent",
        );
        assert!(u.secure);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secret"));
        assert_eq!(u.host, Host::Domain("atlanta.com".into()));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport().as_deref(), Some("tcp"));
        assert!(u.is_lr());
        assert_eq!(u.headers[0], ("subject".into(), "project%20x".into()));
        assert_eq!(u.headers[1], ("priority".into(), "urgent".into()));
    }

    // RFC 4475 §3.1.1.2: user part full of user-unreserved characters, password with odd characters
    #[test]
    fn unusual_user_and_password() {
        let s = "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com";
        let u = sip(s);
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.to_string(), s);
    }

    // RFC 3261 §19.1.2 escaping; RFC 4475 §3.1.1.3
    #[test]
    fn escapes_kept_and_decoded() {
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user.as_deref(), Some("sips%3Auser%40example.com"));
        assert_eq!(u.user_unescaped().as_deref(), Some("sips:user@example.com"));
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert_eq!(u.params[0].name, "%6C%72");
        assert_eq!(
            u.to_string(),
            "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"
        );
        assert!(Uri::parse("sip:a%4@example.com").is_err());
        assert!(Uri::parse("sip:a%zz@example.com").is_err());
    }

    // RFC 4475 §3.1.1.10: a ';' in the user part
    #[test]
    fn semicolon_in_user() {
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, Host::Domain("example.com".into()));
        assert!(u.params.is_empty());
    }

    // RFC 5118 §4.1-4.4
    #[test]
    fn ipv6_references() {
        let u = sip("sip:[2001:db8::10]");
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, None);
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(
            u.port, None,
            "RFC 5118 §4.3: the 5070 is part of the address"
        );
        let u = sip("sip:[2001:db8::10]:5070");
        assert_eq!(u.port, Some(5070));
        let u = sip("sip:user@[::ffff:192.0.2.1]:5060");
        assert_eq!(u.host, Host::V6("::ffff:192.0.2.1".parse().unwrap()));
        // RFC 5118 §4.2: an IPv6 address without brackets is not a valid host
        assert!(Uri::parse("sip:2001:db8::10").is_err());
        assert!(Uri::parse("sip:[2001:db8::10").is_err());
        // RFC 5118 §4.10: the three-colon form the RFC 3261 ABNF allows
        assert_eq!(
            sip("sip:user@[2001:db8:::192.0.2.1]").host,
            Host::V6("2001:db8::192.0.2.1".parse().unwrap())
        );
    }

    #[test]
    fn ipv4_reads_like_the_std_parser() {
        for s in [
            "192.0.2.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1..3.4",
            "1.2.3.",
            "1234.1.1.1",
            "",
        ] {
            assert_eq!(ipv4(s).ok(), s.parse::<Ipv4Addr>().ok(), "{s}");
        }
    }

    #[test]
    fn ipv4_and_ports() {
        assert_eq!(
            sip("sip:192.0.2.1:5060").host,
            Host::V4(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert!(Uri::parse("sip:192.0.2.300").is_err());
        let e = Uri::parse("sip:example.com:65536").unwrap_err();
        assert_eq!(e.kind, ErrorKind::OutOfRange);
        assert!(Uri::parse("sip:example.com:").is_err());
    }

    #[test]
    fn tel_and_other_schemes() {
        assert_eq!(
            Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap(),
            Uri::Tel(TelUri {
                number: "+1-201-555-0123".into(),
                params: vec![UriParam {
                    name: "phone-context".into(),
                    value: Some("example.com".into())
                }]
            })
        );
        // RFC 4475 §3.3.2, §3.3.3: unknown and atypical schemes are URIs too
        assert_eq!(
            Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent")
                .unwrap()
                .scheme(),
            "nobodyKnowsThisScheme"
        );
        assert_eq!(
            Uri::parse("soap.beep://192.0.2.103:3002")
                .unwrap()
                .to_string(),
            "soap.beep://192.0.2.103:3002"
        );
        assert!(Uri::parse("no-colon").is_err());
        assert!(Uri::parse("sip:").is_err());
        assert!(Uri::parse("sip:user@example.com; lr").is_err());
    }

    // [MS-SIPRE] 2.2.3 GRUU forms, in either parameter order
    #[test]
    fn lync_gruu_forms() {
        let u = sip("sip:alice@contoso.com;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu");
        assert_eq!(
            u.ms_gruu(),
            Some(MsGruu::UserEpid("21nYNIVlkV-jtN6FPBU0fQAA".into()))
        );
        let u = sip("sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ");
        assert_eq!(u.ms_gruu(), Some(MsGruu::ConfFocus("2Z92HZZZ".into())));
        let u = sip("sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:B43LT101");
        assert_eq!(
            u.ms_gruu(),
            Some(MsGruu::ConfMcu {
                mcu: "chat".into(),
                id: "B43LT101".into()
            })
        );
        let u = sip("sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory");
        assert_eq!(u.ms_gruu(), Some(MsGruu::FocusFactory));
        let u = sip("sip:pool.contoso.com@contoso.com;gruu;opaque=srvr:app:Abc_Def-1");
        assert_eq!(u.ms_gruu(), Some(MsGruu::Server("app:Abc_Def-1".into())));
        assert_eq!(sip("sip:alice@contoso.com;opaque=x").ms_gruu(), None);
        // RFC 5627 forms
        assert_eq!(sip("sip:alice@example.com;gr").gr(), Some(None));
        assert_eq!(
            sip("sip:tgruu.7hs==jd7vnzga5w7fajsc7-ajd6fabz0f8g5@example.com;gr").gr(),
            Some(None)
        );
        assert_eq!(
            sip("sip:alice@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6").gr(),
            Some(Some("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"))
        );
    }

    #[test]
    fn bare_addr_spec_stops_at_params_and_rejects_headers() {
        let (u, used) = parse_uri_ref("sip:a@b.com;tag=1", UriContext::BareAddrSpec).unwrap();
        assert_eq!(used, "sip:a@b.com".len());
        assert!(u.as_sip().unwrap().params.is_empty());
        assert!(
            parse_uri_ref(
                "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
                UriContext::BareAddrSpec
            )
            .is_err()
        );
    }
}
