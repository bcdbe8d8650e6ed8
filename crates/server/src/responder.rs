//! The minimal server core: answers OPTIONS to itself (keep-alive, RFC 3261 §11), answers
//! every request it does not serve yet with a proper final response carrying an
//! `ms-diagnostics` code from the catalogue, and answers malformed requests with a 400 whose
//! reason names the fault. Pure: bytes and addresses in, bytes out.

use std::net::SocketAddr;

use bytes::Bytes;
use diag::codes;
use net::Proto;
use sip_msg::{HeaderName, Message, Method, ParseError, answer_malformed, default_reason};

use tracing::debug;

/// The methods this server answers itself today (the Allow header, RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, REGISTER, SUBSCRIBE, NOTIFY, INFO, REFER, SERVICE, BENOTIFY";
/// Option tags Convene supports (RFC 3261 §20.37; Microsoft clients look for their own tags).
pub const SUPPORTED: &str = "path, outbound, gruu, ms-dialog-route-set-update";
/// What an OPTIONS answer says the server accepts.
pub const ACCEPT: &str = "application/sdp";

/// What to do with an arrived message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send this response back (on the request's connection or to its source address).
    Reply(Bytes),
    /// Nothing to send; the reason is for logs and counters.
    Drop(&'static str),
}

/// The server's answers, configured once.
#[derive(Debug, Clone)]
pub struct Responder {
    fqdn: String,
    server_header: String,
}

impl Responder {
    /// A responder for the server named `fqdn`.
    pub fn new(fqdn: &str) -> Responder {
        Responder {
            fqdn: fqdn.to_owned(),
            server_header: format!("Convene/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Handles one datagram or stream frame statelessly: parse, validate, answer.
    pub fn handle(
        &self,
        data: Bytes,
        proto: Proto,
        remote: SocketAddr,
        local: SocketAddr,
    ) -> Outcome {
        let req = match self.accept(data, remote) {
            Ok(m) => m,
            Err(outcome) => return outcome,
        };
        if !req.is_request() {
            return Outcome::Drop("response without a client transaction");
        }
        match self.respond(&req, proto, remote, local) {
            Some(resp) => Outcome::Reply(resp.to_bytes()),
            None => Outcome::Drop("ACK"),
        }
    }

    /// Parses and validates what arrived; a malformed message comes back as the 400 to send
    /// (or a drop), never as an error to propagate.
    pub fn accept(&self, data: Bytes, remote: SocketAddr) -> Result<Message, Outcome> {
        Message::parse(data.clone())
            .and_then(|m| m.validate().map(|()| m))
            .map_err(|e| self.malformed(&data, &e, remote))
    }

    /// The final response to a valid request (`None` for ACK, which gets none: RFC 3261 §17.2.1).
    pub fn respond(
        &self,
        req: &Message,
        proto: Proto,
        remote: SocketAddr,
        local: SocketAddr,
    ) -> Option<Message> {
        let method = req.method()?.clone();
        let call_id = req
            .call_id()
            .ok()
            .flatten()
            .map(|c| c.0)
            .unwrap_or_default();
        debug!(%call_id, %method, %remote, %proto, "request");
        let tag = to_tag(req);
        let mut resp = match method {
            Method::Ack => return None,
            Method::Options => {
                let mut r = Message::response_to(req, 200, "OK", Some(&tag));
                let cl = r.remove_all(&HeaderName::ContentLength);
                r.push(HeaderName::Allow, ALLOW);
                r.push(HeaderName::Supported, SUPPORTED);
                r.push(HeaderName::Accept, ACCEPT);
                let transport = proto.via_token().to_ascii_lowercase();
                let scheme = if proto == Proto::Tls { "sips" } else { "sip" };
                r.push(
                    HeaderName::Contact,
                    format!(
                        "<{scheme}:{}:{};transport={transport}>",
                        self.fqdn,
                        local.port()
                    ),
                );
                if cl > 0 {
                    r.push(HeaderName::ContentLength, 0);
                }
                r
            }
            // RFC 3261 §9.2: no transaction to cancel.
            Method::Cancel => Message::response_to(req, 481, default_reason(481), Some(&tag)),
            other => {
                let d = codes::REQUEST_NOT_SERVED_YET
                    .diagnostic()
                    .param("method", other.as_str())
                    .source(&self.fqdn);
                let mut r = Message::reject(req, &d, Some(&tag));
                r.remove_all(&HeaderName::ContentLength);
                r.push(HeaderName::Allow, ALLOW);
                r.push(HeaderName::ContentLength, 0);
                r
            }
        };
        resp.prepend(HeaderName::Server, &self.server_header);
        stamp_top_via(&mut resp, remote);
        Some(resp)
    }

    /// A response of this server to `req` with a status of its own choosing (e.g. 482 for a
    /// merged request, RFC 3261 §8.2.2.2), with Server and the Via stamp.
    pub fn status(&self, req: &Message, code: u16, remote: SocketAddr) -> Message {
        let mut resp = Message::response_to(req, code, default_reason(code), Some(&to_tag(req)));
        resp.prepend(HeaderName::Server, &self.server_header);
        stamp_top_via(&mut resp, remote);
        resp
    }

    fn malformed(&self, data: &[u8], e: &ParseError, remote: SocketAddr) -> Outcome {
        debug!(%remote, error = %e, "malformed message");
        match answer_malformed(data, e) {
            Some(mut resp) => {
                let cl = resp.remove_all(&HeaderName::ContentLength);
                resp.push(HeaderName::Server, &self.server_header);
                if cl > 0 {
                    resp.push(HeaderName::ContentLength, 0);
                }
                stamp_top_via(&mut resp, remote);
                Outcome::Reply(resp.to_bytes())
            }
            None => Outcome::Drop("malformed and unanswerable"),
        }
    }
}

/// A To tag that is the same for every retransmission of one request, so a stateless
/// answer to a retransmitted request matches the first (RFC 3261 §8.2.6.2, §19.3).
fn to_tag(req: &Message) -> String {
    // FNV-1a over Call-ID, From tag, CSeq and top branch.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for name in [HeaderName::CallId, HeaderName::CSeq] {
        if let Some(v) = req.header(&name) {
            eat(v.value());
        }
    }
    if let Ok(Some(from)) = req.from() {
        eat(from.tag().unwrap_or("").as_bytes());
    }
    if let Ok(Some(via)) = req.top_via() {
        eat(via.branch().unwrap_or("").as_bytes());
    }
    format!("cv{h:016x}")
}

/// RFC 3261 §18.2.1 and RFC 3581 §4: the top Via of the response records where the request
/// really came from (`received`, and `rport` when the client asked for it).
fn stamp_top_via(resp: &mut Message, remote: SocketAddr) {
    let Ok(Some(mut via)) = resp.top_via() else {
        return;
    };
    let ip = remote.ip().to_string();
    let asked_rport = via.rport().is_some();
    if asked_rport {
        via.set_param("rport", Some(&remote.port().to_string()));
    }
    if asked_rport
        || via
            .host
            .to_string()
            .trim_start_matches('[')
            .trim_end_matches(']')
            != ip
    {
        via.set_param("received", Some(&ip));
    }
    if resp.remove_first_value(&HeaderName::Via).is_ok() {
        resp.prepend(HeaderName::Via, via);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn run(req: &str) -> Message {
        let r = Responder::new("fe.example.test");
        match r.handle(
            Bytes::from(req.replace('\n', "\r\n")),
            Proto::Udp,
            addr("192.0.2.9:40000"),
            addr("127.0.0.1:5060"),
        ) {
            Outcome::Reply(b) => Message::parse(b).unwrap(),
            Outcome::Drop(why) => panic!("dropped: {why}"),
        }
    }

    const OPTIONS: &str = "OPTIONS sip:fe.example.test SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKo1;rport\nMax-Forwards: 70\nFrom: <sip:alice@example.test>;tag=a1\nTo: <sip:fe.example.test>\nCall-ID: opt-1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n";

    // RFC 3261 §11.2: 200 with Allow, Supported, Accept, Contact
    #[test]
    fn options_to_the_server_gets_its_capabilities() {
        let m = run(OPTIONS);
        m.validate().unwrap();
        assert_eq!(m.status(), Some(200));
        assert!(m.allow().unwrap().contains(&Method::Options));
        assert!(m.supported().unwrap().iter().any(|t| t.0 == "gruu"));
        assert_eq!(
            m.header(&HeaderName::Accept).unwrap().value(),
            b"application/sdp"
        );
        let contact = m.contacts().unwrap();
        assert_eq!(contact.len(), 1);
        assert!(
            m.header(&HeaderName::Contact)
                .unwrap()
                .value_str()
                .contains("sip:fe.example.test:5060;transport=udp")
        );
        // RFC 3581: rport filled in, received added
        let via = m.top_via().unwrap().unwrap();
        assert_eq!(via.rport(), Some(Some(40000)));
        assert_eq!(via.received(), Some("192.0.2.9"));
        assert!(m.to().unwrap().unwrap().tag().is_some());
        assert_eq!(m.content_length().unwrap(), Some(0));
        assert_eq!(
            m.headers().last().unwrap().name(),
            &HeaderName::ContentLength
        );
    }

    #[test]
    fn retransmissions_get_the_same_to_tag() {
        let a = run(OPTIONS).to().unwrap().unwrap();
        let b = run(OPTIONS).to().unwrap().unwrap();
        assert_eq!(a.tag(), b.tag());
        let other = run(&OPTIONS.replace("CSeq: 1", "CSeq: 2"))
            .to()
            .unwrap()
            .unwrap();
        assert_ne!(a.tag(), other.tag());
    }

    #[test]
    fn requests_not_served_yet_get_501_with_a_catalogued_diagnostic() {
        let inv = OPTIONS
            .replace("OPTIONS sip:fe.example.test", "INVITE sip:bob@example.test")
            .replace("1 OPTIONS", "1 INVITE");
        let m = run(&inv);
        m.validate().unwrap();
        assert_eq!(m.status(), Some(501));
        let d = m.ms_diagnostics().unwrap();
        assert_eq!(d[0].code, codes::REQUEST_NOT_SERVED_YET.id);
        assert_eq!(d[0].param("method"), Some("INVITE"));
        assert_eq!(d[0].source(), Some("fe.example.test"));
        assert!(m.header(&HeaderName::Allow).is_some());
    }

    #[test]
    fn ack_and_responses_are_not_answered() {
        let r = Responder::new("fe.example.test");
        let ack = OPTIONS
            .replace("OPTIONS sip:fe.example.test", "ACK sip:fe.example.test")
            .replace("1 OPTIONS", "1 ACK")
            .replace('\n', "\r\n");
        assert_eq!(
            r.handle(
                Bytes::from(ack),
                Proto::Udp,
                addr("192.0.2.9:1"),
                addr("127.0.0.1:5060")
            ),
            Outcome::Drop("ACK")
        );
        let resp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert!(matches!(
            r.handle(
                Bytes::from(resp),
                Proto::Udp,
                addr("192.0.2.9:1"),
                addr("127.0.0.1:5060")
            ),
            Outcome::Drop(_)
        ));
    }

    #[test]
    fn malformed_requests_get_a_400_naming_the_fault_and_garbage_is_dropped() {
        let bad = OPTIONS.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
        let m = run(&bad);
        assert_eq!(m.status(), Some(400));
        assert!(m.reason().unwrap().contains("CSeq"), "{:?}", m.reason());
        let r = Responder::new("fe.example.test");
        assert_eq!(
            r.handle(
                Bytes::from_static(b"\x00\x01garbage"),
                Proto::Udp,
                addr("192.0.2.9:1"),
                addr("127.0.0.1:5060")
            ),
            Outcome::Drop("malformed and unanswerable")
        );
    }
}
