//! Borrowed views of the hot header values: Via, name-addr (From, To, Contact, Route,
//! Record-Route, Path…), Call-ID and credentials, read in place from a message's bytes.
//! A view checks the whole grammar of its value once, as the owned types do (they are built
//! from views), but keeps `&str` slices instead of copies: parameters are looked up in the
//! text as written, and a quoted-string is unescaped only when it has something to undo.
//! The header value is checked for UTF-8 once, not each token.

use std::borrow::Cow;

use crate::error::{ParseError, Result};
use crate::scan::{Params, Scanner, is_token, is_word, unquote};
use crate::typed::{ScannerHandle, Transport};
use crate::uri::{HostRef, UriContext, UriRef, parse_uri_ref, parse_uri_str};

/// One element of a header's grammar, parsed as a view borrowing the message.
pub trait HeaderView<'a>: Sized {
    /// Parses one element starting at `s.pos`, leaving `s` after it.
    #[doc(hidden)]
    fn parse_view(s: &mut ScannerHandle<'a>) -> Result<Self>;
}

// ---------------------------------------------------------------------------------------------
// Via (RFC 3261 §20.42, §25.1; RFC 3581 rport; [MS-SIPRE] ms-received-port / ms-received-cid)

/// One Via value borrowed from a message: `SIP/2.0/UDP host:port;params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaRef<'a> {
    /// Protocol name, normally `SIP`.
    pub protocol: &'a str,
    /// Protocol version, normally `2.0`.
    pub version: &'a str,
    /// The transport token as written (`UDP`, `TLS`…); see [`ViaRef::transport`].
    pub transport_token: &'a str,
    /// The sent-by host.
    pub host: HostRef<'a>,
    /// The sent-by port.
    pub port: Option<u16>,
    /// Parameters in order (branch, received, rport, maddr, …).
    pub params: Params<'a>,
    /// The whole value as written.
    raw: &'a str,
}

impl<'a> ViaRef<'a> {
    /// The value exactly as written (e.g. to copy the top Via into a CANCEL, RFC 3261 §9.1).
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        Transport::from_token(self.transport_token)
    }

    /// The `branch` parameter (RFC 3261 §8.1.1.7).
    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    /// Whether the branch carries the RFC 3261 magic cookie (§17.2.3 matching applies).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.starts_with(crate::typed::BRANCH_MAGIC_COOKIE))
    }

    /// The `received` parameter (RFC 3261 §18.2.1), brackets of an IPv6 value removed (RFC 5118 §4.5).
    pub fn received(&self) -> Option<&'a str> {
        self.params
            .value("received")
            .map(|v| v.trim_start_matches('[').trim_end_matches(']'))
    }

    /// The `rport` parameter (RFC 3581 §4): `Some(None)` when present without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|p| p.raw_value().and_then(|v| v.parse().ok()))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// Microsoft's `ms-received-port` ([MS-SIPRE] 2.2.15).
    pub fn ms_received_port(&self) -> Option<u16> {
        self.params
            .value("ms-received-port")
            .and_then(|v| v.parse().ok())
    }

    /// Microsoft's `ms-received-cid` ([MS-SIPRE] 2.2.15).
    pub fn ms_received_cid(&self) -> Option<&'a str> {
        self.params.value("ms-received-cid")
    }

    /// An owned copy.
    pub fn into_owned(self) -> crate::typed::Via {
        crate::typed::Via {
            protocol: self.protocol.to_owned(),
            version: self.version.to_owned(),
            transport: self.transport(),
            host: self.host.into_owned(),
            port: self.port,
            params: self.params.to_vec(),
        }
    }
}

/// Whether a Via parameter's value is valid for its name (RFC 3261 §25.1 via-params; RFC 3581 §4).
fn via_param_ok(name: &str, v: Option<&str>) -> bool {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    if is("rport") {
        // RFC 3581 §4: rport with no value in requests, a port in responses
        v.is_none_or(|v| v.parse::<u16>().is_ok())
    } else if is("ttl") {
        v.is_some_and(|v| v.parse::<u8>().is_ok())
    } else if is("received") {
        v.is_some_and(|v| {
            let a = v.trim_start_matches('[').trim_end_matches(']');
            crate::uri::ipv4(a).is_ok() || a.parse::<std::net::Ipv6Addr>().is_ok()
        })
    } else if is("branch") || is("maddr") {
        v.is_some()
    } else {
        true
    }
}

impl<'a> HeaderView<'a> for ViaRef<'a> {
    fn parse_view(h: &mut ScannerHandle<'a>) -> Result<Self> {
        via(h, |_| {})
    }
}

/// RFC 3261 §25.1 `via-parm`; `on_param` sees each parameter as it is read (the owned
/// value collects them there rather than reading them a second time).
pub(crate) fn via<'a>(
    h: &mut ScannerHandle<'a>,
    mut on_param: impl FnMut(&crate::scan::ParamRef<'a>),
) -> Result<ViaRef<'a>> {
    let s = &mut h.0;
    let start = s.pos;
    // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH = SWS "/" SWS
    let protocol = s.token("expected the protocol name (SIP) of the Via")?;
    if !s.eat_sep(b'/') {
        return Err(s.err("expected '/' after the protocol name"));
    }
    let version = s.token("expected the protocol version (2.0) of the Via")?;
    if !s.eat_sep(b'/') {
        return Err(s.err("expected '/' after the protocol version"));
    }
    let transport_token = s.token("expected the transport of the Via")?;
    if !s.skip_lws() {
        return Err(s.err("expected white space before the Via sent-by"));
    }
    // sent-by = host [ COLON port ]
    let (host, port) = host_port(s)?;
    let (params, ok) = s.params_view(|p| {
        on_param(p);
        via_param_ok(p.name, p.raw_value())
    })?;
    if !ok {
        return Err(s.err("expected a valid value for the Via parameter before this point"));
    }
    Ok(ViaRef {
        protocol,
        version,
        transport_token,
        host,
        port,
        params,
        raw: s.since(start),
    })
}

/// `host [ COLON port ]` in a header (sent-by), with SWS allowed around the colon.
fn host_port<'a>(s: &mut Scanner<'a>) -> Result<(HostRef<'a>, Option<u16>)> {
    let start = s.pos;
    let hb = s.take_while(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'[' | b']' | b':')
    });
    // Split off a port: for an IPv6 reference it follows ']'; otherwise the last ':'.
    let (host_len, port_bytes) = if hb.first() == Some(&b'[') {
        match hb.iter().position(|&b| b == b']') {
            Some(close) => (close + 1, hb.get(close + 1..).unwrap_or(&[])),
            None => {
                return Err(ParseError::syntax(
                    start,
                    s.part,
                    "expected ']' closing the IPv6 reference",
                ));
            }
        }
    } else {
        match hb.iter().position(|&b| b == b':') {
            Some(colon) => (colon, &hb[colon..]),
            None => (hb.len(), &[][..]),
        }
    };
    let mut hs = s.sub(start, start + host_len);
    let host = match crate::uri::parse_host(&mut hs) {
        Ok(h) if hs.at_end() => h,
        _ => {
            return Err(ParseError::syntax(
                start,
                s.part,
                "expected a host name or address",
            ));
        }
    };
    let mut port = None;
    if !port_bytes.is_empty() {
        let mut ps = Scanner::new(&port_bytes[1..], s.part);
        let n = ps
            .number(65535, "expected a port number (0-65535)")
            .map_err(|e| e.rebase(start + host_len + 1, s.part))?;
        if !ps.at_end() {
            return Err(ParseError::syntax(
                start,
                s.part,
                "expected a host and an optional port",
            ));
        }
        port = Some(n as u16);
    } else {
        // SWS COLON SWS port (RFC 4475 §3.1.1.1 has no such case, but the grammar's COLON allows it)
        let save = s.pos;
        if s.eat_sep(b':') {
            port = Some(s.number(65535, "expected a port number (0-65535)")? as u16);
        } else {
            s.pos = save;
        }
    }
    Ok((host, port))
}

// ---------------------------------------------------------------------------------------------
// name-addr / addr-spec (RFC 3261 §20.10, §20.20, §20.39, §25.1)

/// An address borrowed from a message: the value of From, To, Contact, Route,
/// Record-Route, Path, Refer-To, Referred-By, P-Asserted-Identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddrRef<'a> {
    /// The display name as written: the content of its quoted-string, or its tokens.
    display_raw: Option<&'a str>,
    display_quoted: bool,
    /// The URI.
    pub uri: UriRef<'a>,
    /// Header parameters after the address (tag, epid, expires, q, +sip.instance, …).
    pub params: Params<'a>,
    /// The whole value as written.
    raw: &'a str,
}

impl<'a> NameAddrRef<'a> {
    /// The value exactly as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The display name: a quoted one unescaped, tokens joined by single spaces
    /// (RFC 3261 §25.1 `display-name = *(token LWS) / quoted-string`).
    pub fn display(&self) -> Option<Cow<'a, str>> {
        let raw = self.display_raw?;
        if self.display_quoted {
            return Some(unquote(raw));
        }
        if !raw.contains("  ") && !raw.contains(['\t', '\r', '\n']) {
            return Some(Cow::Borrowed(raw));
        }
        Some(Cow::Owned(
            raw.split([' ', '\t', '\r', '\n'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        ))
    }

    /// A parameter value by name (case-insensitive) as written; `Some(None)` for a flag.
    pub fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.params.get(name).map(|p| p.raw_value())
    }

    /// `tag` (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&'a str> {
        self.params.value("tag")
    }

    /// Microsoft's endpoint id `epid` ([MS-SIPRE] 3.2).
    pub fn epid(&self) -> Option<&'a str> {
        self.params.value("epid")
    }

    /// `expires` of a Contact (RFC 3261 §20.10).
    pub fn expires(&self) -> Option<u32> {
        self.params.value("expires").and_then(|v| v.parse().ok())
    }

    /// `+sip.instance` (RFC 5626 §4.1), without its quotes and angle brackets.
    pub fn sip_instance(&self) -> Option<&'a str> {
        self.params
            .value("+sip.instance")
            .map(|v| v.trim_start_matches('<').trim_end_matches('>'))
    }

    /// `reg-id` (RFC 5626 §4.2).
    pub fn reg_id(&self) -> Option<u32> {
        self.params.value("reg-id").and_then(|v| v.parse().ok())
    }

    /// An owned copy.
    pub fn into_owned(self) -> crate::typed::NameAddr {
        crate::typed::NameAddr {
            display: self.display().map(Cow::into_owned),
            uri: self.uri.into_owned(),
            params: self.params.to_vec(),
        }
    }
}

impl<'a> HeaderView<'a> for NameAddrRef<'a> {
    fn parse_view(h: &mut ScannerHandle<'a>) -> Result<Self> {
        name_addr(h, |_| {})
    }
}

/// RFC 3261 §25.1 `( name-addr / addr-spec ) *( SEMI generic-param )`; `on_param` sees each
/// header parameter as it is read.
pub(crate) fn name_addr<'a>(
    h: &mut ScannerHandle<'a>,
    mut on_param: impl FnMut(&crate::scan::ParamRef<'a>),
) -> Result<NameAddrRef<'a>> {
    let s = &mut h.0;
    let start = s.pos;
    let mut display_raw = None;
    let mut display_quoted = false;
    let angle;
    if s.peek() == Some(b'"') {
        display_raw = Some(s.quoted_raw()?);
        display_quoted = true;
        s.skip_lws();
        angle = true;
    } else if s.peek() == Some(b'<') {
        angle = true;
    } else {
        // display-name = *(token LWS): look ahead for '<' after tokens; else an addr-spec.
        let save = s.pos;
        let mut end = save;
        loop {
            let t = s.take_while(is_token);
            if t.is_empty() {
                break;
            }
            end = s.pos;
            s.skip_lws();
        }
        if end > save && s.peek() == Some(b'<') {
            display_raw = Some(s.slice(save, end));
            angle = true;
        } else {
            s.pos = save;
            angle = false;
        }
    }
    let uri = if angle {
        s.expect(b'<', "expected '<' before the URI")?;
        let start = s.pos;
        let close =
            memchr::memchr(b'>', s.rest()).ok_or_else(|| s.err("expected '>' closing the URI"))?;
        let inner = s.slice(start, start + close);
        let uri = parse_uri_str(inner, UriContext::Whole).map_err(|e| e.rebase(start, s.part))?;
        s.pos = start + close + 1;
        uri
    } else {
        let start = s.pos;
        let rest = s.slice(start, s.s.len());
        let (uri, used) =
            parse_uri_ref(rest, UriContext::BareAddrSpec).map_err(|e| e.rebase(start, s.part))?;
        s.pos += used;
        uri
    };
    let (params, _) = s.params_view(|p| {
        on_param(p);
        true
    })?;
    Ok(NameAddrRef {
        display_raw,
        display_quoted,
        uri,
        params,
        raw: s.since(start),
    })
}

/// A Contact value borrowed from a message: an address, or `*` (RFC 3261 §10.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactRef<'a> {
    /// `Contact: *`.
    Star,
    /// One contact address.
    Addr(NameAddrRef<'a>),
}

impl<'a> ContactRef<'a> {
    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddrRef<'a>> {
        match self {
            ContactRef::Star => None,
            ContactRef::Addr(a) => Some(a),
        }
    }

    /// An owned copy.
    pub fn into_owned(self) -> crate::typed::Contact {
        match self {
            ContactRef::Star => crate::typed::Contact::Star,
            ContactRef::Addr(a) => crate::typed::Contact::Addr(a.into_owned()),
        }
    }
}

impl<'a> HeaderView<'a> for ContactRef<'a> {
    fn parse_view(h: &mut ScannerHandle<'a>) -> Result<Self> {
        if h.0.peek() == Some(b'*') {
            h.0.pos += 1;
            return Ok(ContactRef::Star);
        }
        NameAddrRef::parse_view(h).map(ContactRef::Addr)
    }
}

// ---------------------------------------------------------------------------------------------
// Call-ID (RFC 3261 §20.8)

/// A Call-ID borrowed from a message: `word [ "@" word ]`, compared byte for byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallIdRef<'a>(pub &'a str);

impl<'a> HeaderView<'a> for CallIdRef<'a> {
    fn parse_view(h: &mut ScannerHandle<'a>) -> Result<Self> {
        let s = &mut h.0;
        let start = s.pos;
        let w = s.take_while(is_word);
        if w.is_empty() {
            return Err(s.err("expected a Call-ID word"));
        }
        if s.eat(b'@') {
            let w2 = s.take_while(is_word);
            if w2.is_empty() {
                return Err(s.err("expected a word after '@' in the Call-ID"));
            }
        }
        Ok(CallIdRef(s.since(start)))
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication (RFC 3261 §20.6, §20.7, §20.27, §20.28, §20.44; RFC 7616; [MS-SIPAE] 2.2)

/// A challenge or credentials borrowed from a message: `scheme param=value, …`, or
/// Authentication-Info, which may carry no scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthValueRef<'a> {
    /// The scheme (`Digest`, `NTLM`, `Kerberos`, `TLS-DSK`), absent in RFC 3261 Authentication-Info.
    pub scheme: Option<&'a str>,
    /// The auth-params as written (checked); see [`AuthValueRef::params`].
    params_raw: &'a str,
    /// A token68 credential (RFC 7235 §2.1) instead of params.
    pub token68: Option<&'a str>,
}

impl<'a> AuthValueRef<'a> {
    /// The auth-params in order: `(name, value)`, values unescaped if quoted.
    pub fn params(&self) -> impl Iterator<Item = crate::scan::ParamRef<'a>> + 'a {
        let mut s = Scanner::over(self.params_raw, crate::error::Part::ExtensionHeader);
        let mut first = true;
        std::iter::from_fn(move || {
            if !first && !s.eat_sep(b',') {
                return None;
            }
            first = false;
            auth_param(&mut s).ok()
        })
    }

    /// A parameter by name, case-insensitively, unescaped.
    pub fn param(&self, name: &str) -> Option<Cow<'a, str>> {
        self.params()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(|p| p.value())
    }

    /// Whether the scheme is `scheme`, case-insensitively.
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    }

    /// An owned copy.
    pub fn into_owned(self) -> crate::typed::AuthValue {
        crate::typed::AuthValue {
            scheme: self.scheme.map(str::to_owned),
            params: self
                .params()
                .map(crate::scan::ParamRef::into_owned)
                .collect(),
            token68: self.token68.map(str::to_owned),
        }
    }
}

/// `auth-param = token EQUAL ( token / quoted-string )` (RFC 7235 §2.1).
fn auth_param<'a>(s: &mut Scanner<'a>) -> Result<crate::scan::ParamRef<'a>> {
    let name = s.token("expected an auth parameter name")?;
    if !s.eat_sep(b'=') {
        return Err(s.err("expected '=' after the auth parameter name"));
    }
    if s.peek() == Some(b'"') {
        let v = s.quoted_raw()?;
        Ok(crate::scan::ParamRef::new(name, Some(v), true))
    } else {
        let v = s.token("expected a token or quoted string as auth parameter value")?;
        Ok(crate::scan::ParamRef::new(name, Some(v), false))
    }
}

impl<'a> HeaderView<'a> for AuthValueRef<'a> {
    fn parse_view(h: &mut ScannerHandle<'a>) -> Result<Self> {
        auth_value(h, |_| {})
    }
}

/// RFC 7235 §2.1 challenge / credentials (or RFC 3261 §20.6 Authentication-Info); `on_param`
/// sees each auth-param as it is read.
pub(crate) fn auth_value<'a>(
    h: &mut ScannerHandle<'a>,
    mut on_param: impl FnMut(crate::scan::ParamRef<'a>),
) -> Result<AuthValueRef<'a>> {
    let s = &mut h.0;
    let save = s.pos;
    let first = s.token("expected an authentication scheme or parameter")?;
    let mut scheme = None;
    if s.eat_sep(b'=') {
        s.pos = save; // no scheme: Authentication-Info (RFC 3261 §20.6)
    } else {
        scheme = Some(first);
        if !s.skip_lws() && !s.at_end() {
            return Err(s.err("expected white space after the authentication scheme"));
        }
    }
    if s.at_end() {
        return Ok(AuthValueRef {
            scheme,
            params_raw: "",
            token68: None,
        });
    }
    // token68 (RFC 7235 §2.1): a lone token (with '=' padding) that is not `name=value`.
    let t68_start = s.pos;
    if scheme.is_some() {
        let t68 = s.take_while(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
        s.take_while(|b| b == b'=');
        let after = s.pos;
        s.skip_lws();
        if !t68.is_empty() && s.at_end() {
            return Ok(AuthValueRef {
                scheme,
                params_raw: "",
                token68: Some(s.slice(t68_start, after)),
            });
        }
    }
    s.pos = t68_start;
    loop {
        on_param(auth_param(s)?);
        if !s.eat_sep(b',') {
            break;
        }
    }
    Ok(AuthValueRef {
        scheme,
        params_raw: s.since(t68_start),
        token68: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Part;

    fn one<'a, T: HeaderView<'a>>(v: &'a str) -> T {
        let mut out = Vec::new();
        crate::typed::parse_view_str::<T>(v, Part::ExtensionHeader, false, &mut out).unwrap();
        out.pop().unwrap()
    }

    // RFC 3261 §20.42, RFC 3581 §4, [MS-SIPRE] 2.2.15
    #[test]
    fn via_view_reads_in_place() {
        let v: ViaRef<'_> = one(
            "SIP / 2.0 / TLS [2001:db8::9]:5061 ;branch=z9hG4bKx;Received=[2001:db8::1];rport=5062;ms-received-port=4000;ms-received-cid=2A00",
        );
        assert_eq!((v.protocol, v.version), ("SIP", "2.0"));
        assert_eq!(v.transport(), Transport::Tls);
        assert_eq!(v.host, HostRef::V6("2001:db8::9".parse().unwrap()));
        assert_eq!(v.port, Some(5061));
        assert_eq!(v.branch(), Some("z9hG4bKx"));
        assert!(v.has_rfc3261_branch());
        assert_eq!(v.received(), Some("2001:db8::1"));
        assert_eq!(v.rport(), Some(Some(5062)));
        assert_eq!(v.ms_received_port(), Some(4000));
        assert_eq!(v.ms_received_cid(), Some("2A00"));
        assert_eq!(v.params.iter().count(), 5);
        assert_eq!(v.into_owned().branch(), Some("z9hG4bKx"));
        assert!(v.as_str().starts_with("SIP / 2.0") && v.as_str().ends_with("=2A00"));
        let v: ViaRef<'_> = one("SIP/2.0/UDP pc33.example.com;rport");
        assert_eq!(v.rport(), Some(None));
        assert_eq!(v.branch(), None);
    }

    // RFC 3261 §20.10 name-addr with quoted display name and escapes, §20.20 tag
    #[test]
    fn name_addr_view_borrows_unless_unescaping() {
        let a: NameAddrRef<'_> =
            one(r#""Bob \"B\"" <sip:bob@example.com;transport=tls>;tag=abc;epid=9f"#);
        assert_eq!(a.display().as_deref(), Some(r#"Bob "B""#));
        assert_eq!(
            a.as_str(),
            r#""Bob \"B\"" <sip:bob@example.com;transport=tls>;tag=abc;epid=9f"#
        );
        assert!(matches!(a.display(), Some(Cow::Owned(_))));
        assert_eq!(a.tag(), Some("abc"));
        assert_eq!(a.epid(), Some("9f"));
        let u = a.uri.as_sip().unwrap();
        assert_eq!(u.user, Some("bob"));
        assert_eq!(u.host, HostRef::Domain("example.com"));
        assert_eq!(u.transport(), Some("tls"));
        let a: NameAddrRef<'_> = one("Alice  Smith <sip:a@x>");
        assert_eq!(a.display().as_deref(), Some("Alice Smith"));
        let a: NameAddrRef<'_> = one("\"Alice\" <sip:a@x>");
        assert!(matches!(a.display(), Some(Cow::Borrowed("Alice"))));
        // A bare addr-spec: ';' starts the header parameters (RFC 3261 §20.10).
        let a: NameAddrRef<'_> = one("sip:a@x;tag=1");
        assert_eq!(a.display(), None);
        assert_eq!(a.tag(), Some("1"));
        assert!(a.uri.as_sip().unwrap().params.is_empty());
    }

    // RFC 5626 §4.1, §4.2 and [MS-SIPRE] 2.2.3 GRUU opaque in a Contact
    #[test]
    fn contact_view_params() {
        let c: ContactRef<'_> = one(
            "<sip:alice@192.0.2.10:51373;transport=tcp;opaque=user:epid:21n;gruu>;+sip.instance=\"<urn:uuid:42>\";reg-id=1;expires=3600;q=0.5",
        );
        let a = c.addr().unwrap();
        assert_eq!(a.sip_instance(), Some("urn:uuid:42"));
        assert_eq!(a.reg_id(), Some(1));
        assert_eq!(a.expires(), Some(3600));
        assert_eq!(a.param("q"), Some(Some("0.5")));
        let u = a.uri.as_sip().unwrap();
        assert_eq!(u.param("opaque"), Some(Some("user:epid:21n")));
        assert!(u.params.has("gruu"));
        assert_eq!(u.port, Some(51373));
        assert_eq!(one::<ContactRef<'_>>("*"), ContactRef::Star);
    }

    // RFC 7616 §3.4 credentials; quoted values unescaped, tokens as written
    #[test]
    fn auth_view_params() {
        let a: AuthValueRef<'_> =
            one("Digest username=\"al\\\"ice\", realm=\"example.test\", nc=00000001, qop=auth");
        assert!(a.is_scheme("digest"));
        assert_eq!(a.param("username").as_deref(), Some("al\"ice"));
        assert_eq!(a.param("REALM").as_deref(), Some("example.test"));
        assert_eq!(a.param("nc").as_deref(), Some("00000001"));
        assert_eq!(a.params().count(), 4);
        let a: AuthValueRef<'_> = one("Bearer abc.def-ghi==");
        assert_eq!(a.token68, Some("abc.def-ghi=="));
        assert_eq!(a.params().count(), 0);
    }

    #[test]
    fn call_id_view() {
        let c: CallIdRef<'_> = one("a84b4c76e66710@pc33.example.test");
        assert_eq!(c.0, "a84b4c76e66710@pc33.example.test");
    }
}
