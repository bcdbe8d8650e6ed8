//! What the front end answers itself: capabilities for OPTIONS (RFC 3261 §11.2), rejections
//! with a catalogued `ms-diagnostics`, challenges, the stable To tag of its own answers and the
//! Via stamp of RFC 3261 §18.2.1 / RFC 3581 §4.

use std::net::{IpAddr, SocketAddr};

use sip_msg::{AuthValue, HeaderName, HostRef, Message, default_reason};

/// The methods the server handles (the Allow header, RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, REGISTER, SUBSCRIBE, NOTIFY, INFO, REFER, PRACK, UPDATE, SERVICE, BENOTIFY";
/// Option tags Convene supports (RFC 3261 §20.37; Microsoft clients look for their own tags).
pub const SUPPORTED: &str = "path, outbound, gruu, ms-dialog-route-set-update";
/// What an OPTIONS answer says the server accepts.
pub const ACCEPT: &str = "application/sdp";

/// A To tag that is the same for every retransmission of one request, so a stateless answer
/// to a retransmitted request matches the first (RFC 3261 §8.2.6.2, §19.3).
pub fn to_tag(req: &Message) -> String {
    // A retransmission is the same bytes, so the header values as received (the From with
    // its tag, the Via line with the branch) identify the request without being parsed.
    let mut h = Fnv::new();
    for name in [
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::From,
        HeaderName::Via,
    ] {
        if let Some(v) = req.header(&name) {
            h.eat(v.value());
        }
    }
    format!("cv{:016x}", h.finish())
}

/// Whether a To tag is one [`to_tag`] makes (`cv` and 16 hex digits).
pub fn is_own_tag(tag: &str) -> bool {
    tag.len() == 18 && tag.starts_with("cv") && tag[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// FNV-1a, 64 bits: cheap, stable across runs and builds (tags and loop hashes must be).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    pub(crate) fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn eat(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: the top Via of an arrived request records where it really
/// came from (`received` when the sent-by host differs, and `rport` filled in when the client
/// asked for it), so every response built from it goes back the right way.
pub fn stamp_top_via(req: &mut Message, source: SocketAddr) {
    let stamped = {
        let Ok(Some(via)) = req.top_via_view() else {
            return;
        };
        let asked_rport = via.rport().is_some();
        let host_is_source = match via.host {
            HostRef::V4(a) => IpAddr::V4(a) == source.ip(),
            HostRef::V6(a) => IpAddr::V6(a) == source.ip(),
            HostRef::Domain(_) => false,
        };
        if !asked_rport && host_is_source {
            return;
        }
        // The value as written up to its parameters, then the parameters with `rport` filled
        // in and `received` set (replaced where it stands, else added last).
        let raw = via.as_str();
        let params = via.params.as_str();
        let mut v = String::with_capacity(raw.len() + 32);
        v.push_str(&raw[..raw.len() - params.len()]);
        let mut received = false;
        for p in via.params.iter() {
            v.push(';');
            v.push_str(p.name);
            if asked_rport && p.name.eq_ignore_ascii_case("rport") {
                v.push('=');
                push_u32(&mut v, u32::from(source.port()));
            } else if p.name.eq_ignore_ascii_case("received") {
                v.push('=');
                push_ip(&mut v, source.ip());
                received = true;
            } else if let Some(value) = p.raw_value() {
                v.push('=');
                if p.is_quoted() {
                    v.push('"');
                    v.push_str(value);
                    v.push('"');
                } else {
                    v.push_str(value);
                }
            }
        }
        if !received {
            v.push_str(";received=");
            push_ip(&mut v, source.ip());
        }
        v
    };
    let _ = req.replace_first_value(&HeaderName::Via, &stamped);
}

/// Appends `n` in decimal (without the formatting machinery: this runs for every request).
fn push_u32(out: &mut String, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

/// Appends an address as `received` writes it (RFC 3261 §25.1: IPv4 dotted, IPv6 as text).
fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => {
            for (i, o) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u32(out, u32::from(o));
            }
        }
        IpAddr::V6(a) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{a}");
        }
    }
}

/// A response of this server with `code`, its Server header and an empty body.
pub fn status(req: &Message, code: u16, server: &str) -> Message {
    let mut resp = Message::response_to(req, code, default_reason(code), Some(&to_tag(req)));
    finish(&mut resp, server);
    resp
}

/// The rejection for a catalogued diagnostic (status, reason, `ms-diagnostics`).
pub fn reject(req: &Message, d: &diag::Diagnostic, server: &str) -> Message {
    let mut resp = Message::reject(req, d, Some(&to_tag(req)));
    finish(&mut resp, server);
    resp
}

/// A 401 (registrar, `WWW-Authenticate`) or 407 (proxy, `Proxy-Authenticate`) carrying one
/// challenge per line (RFC 3261 §22.1: these headers are never comma-joined).
pub fn challenge(req: &Message, proxy: bool, challenges: &[AuthValue], server: &str) -> Message {
    let (code, name) = if proxy {
        (407, HeaderName::ProxyAuthenticate)
    } else {
        (401, HeaderName::WwwAuthenticate)
    };
    let mut resp = Message::response_to(req, code, default_reason(code), Some(&to_tag(req)));
    resp.remove_all(&HeaderName::ContentLength);
    for c in challenges {
        resp.push(name.clone(), c);
    }
    finish(&mut resp, server);
    resp
}

/// The 200 to an OPTIONS addressed to the server (RFC 3261 §11.2): Allow, Supported, Accept
/// and a Contact naming the server (`host:port`) and the transport the ping came in on.
pub fn options_ok(req: &Message, sent_by: &str, transport: &str, server: &str) -> Message {
    let mut r = Message::response_to(req, 200, "OK", Some(&to_tag(req)));
    r.remove_all(&HeaderName::ContentLength);
    r.push(HeaderName::Allow, ALLOW);
    r.push(HeaderName::Supported, SUPPORTED);
    r.push(HeaderName::Accept, ACCEPT);
    let scheme = if transport.eq_ignore_ascii_case("TLS") {
        "sips"
    } else {
        "sip"
    };
    r.push(
        HeaderName::Contact,
        format!(
            "<{scheme}:{sent_by};transport={}>",
            transport.to_ascii_lowercase()
        ),
    );
    finish(&mut r, server);
    r
}

/// Server first, Content-Length: 0 last.
fn finish(resp: &mut Message, server: &str) {
    resp.remove_all(&HeaderName::ContentLength);
    resp.prepend(HeaderName::Server, server);
    resp.push(HeaderName::ContentLength, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &str = "OPTIONS sip:fe.example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKo1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\nTo: <sip:fe.example.test>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn rport_and_received_are_filled_in() {
        let mut m = Message::parse(REQ.as_bytes().to_vec()).unwrap();
        stamp_top_via(&mut m, "192.0.2.9:40000".parse().unwrap());
        let via = m.top_via().unwrap().unwrap();
        assert_eq!(via.rport(), Some(Some(40000)));
        assert_eq!(via.received(), Some("192.0.2.9"));
    }

    /// The stamp rewrites only the top value: other values on its line, quoted parameters, an
    /// old `received` (replaced where it stands) and IPv6 sources come out as the RFC writes them.
    #[test]
    fn the_stamp_keeps_the_rest_of_the_via_as_written() {
        let text = REQ.replace(
            "Via: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKo1;rport",
            "Via: SIP/2.0/UDP host.example.test:5062 ;received=10.9.9.9;branch=z9hG4bKo1;x=\"a;b\";rport;ttl=3, SIP/2.0/TCP 10.0.0.7;branch=z9hG4bKup",
        );
        let mut m = Message::parse(text.into_bytes()).unwrap();
        stamp_top_via(&mut m, "192.0.2.9:40000".parse().unwrap());
        let vias: Vec<String> = m
            .headers_named(&HeaderName::Via)
            .map(|h| h.value_str().into_owned())
            .collect();
        assert_eq!(
            vias,
            [
                "SIP/2.0/UDP host.example.test:5062;received=192.0.2.9;branch=z9hG4bKo1;x=\"a;b\";rport=40000;ttl=3",
                "SIP/2.0/TCP 10.0.0.7;branch=z9hG4bKup",
            ]
        );
        m.validate().unwrap();

        let mut m = Message::parse(REQ.as_bytes().to_vec()).unwrap();
        stamp_top_via(&mut m, "[2001:db8::9]:5070".parse().unwrap());
        let via = m.top_via().unwrap().unwrap();
        assert_eq!(via.rport(), Some(Some(5070)));
        assert_eq!(via.received(), Some("2001:db8::9"));
        // An IPv6 sent-by that is the source, without rport: nothing to say.
        let text = REQ.replace(
            "10.0.0.1:5062;branch=z9hG4bKo1;rport",
            "[2001:db8::9];branch=z9hG4bKo1",
        );
        let mut m = Message::parse(text.into_bytes()).unwrap();
        let before = m.to_bytes();
        stamp_top_via(&mut m, "[2001:db8::9]:5060".parse().unwrap());
        assert_eq!(m.to_bytes(), before);
    }

    #[test]
    fn a_via_that_tells_the_truth_is_left_alone() {
        let text = REQ.replace(";rport", "");
        let mut m = Message::parse(text.into_bytes()).unwrap();
        let before = m.to_bytes();
        stamp_top_via(&mut m, "10.0.0.1:5062".parse().unwrap());
        assert_eq!(m.to_bytes(), before);
    }

    #[test]
    fn options_answer_lists_capabilities_and_contact() {
        let m = Message::parse(REQ.as_bytes().to_vec()).unwrap();
        let r = options_ok(&m, "127.0.0.1:5060", "UDP", "Convene/test");
        r.validate().unwrap();
        assert!(r.allow().unwrap().contains(&sip_msg::Method::Options));
        assert!(r.supported().unwrap().iter().any(|t| t.0 == "gruu"));
        assert!(
            r.header(&HeaderName::Contact)
                .unwrap()
                .value_str()
                .contains("sip:127.0.0.1:5060;transport=udp")
        );
        assert_eq!(r.to().unwrap().unwrap().tag(), Some(to_tag(&m).as_str()));
        assert!(is_own_tag(&to_tag(&m)));
        assert!(!is_own_tag("cv12") && !is_own_tag("a84b4c76e66710"));
    }

    #[test]
    fn challenges_go_one_per_line() {
        let m = Message::parse(REQ.as_bytes().to_vec()).unwrap();
        let c = [
            AuthValue::new(Some("Digest"), &[("realm", "a"), ("nonce", "n")]),
            AuthValue::new(Some("Digest"), &[("realm", "a"), ("nonce", "m")]),
        ];
        let r = challenge(&m, true, &c, "Convene/test");
        assert_eq!(r.status(), Some(407));
        assert_eq!(r.proxy_authenticate().unwrap().len(), 2);
        assert_eq!(r.headers_named(&HeaderName::ProxyAuthenticate).count(), 2);
    }
}
