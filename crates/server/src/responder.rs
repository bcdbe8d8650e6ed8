//! The gate in front of the front end: parses and validates what arrived, and answers
//! malformed requests with a 400 whose reason names the fault (or drops garbage). Pure: bytes
//! and addresses in, a message or the answer out.

use std::net::SocketAddr;

use bytes::Bytes;
use sip_msg::{HeaderName, Message, ParseError, answer_malformed};

use tracing::debug;

/// What to do with an arrived message that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Send this response back (on the request's connection or to its source address).
    Reply(Bytes),
    /// Nothing to send; the reason is for logs and counters.
    Drop(&'static str),
}

/// The gate, configured once.
#[derive(Debug, Clone)]
pub struct Responder {
    server_header: String,
}

impl Responder {
    /// A gate for the server named `fqdn`.
    pub fn new(_fqdn: &str) -> Responder {
        Responder {
            server_header: format!("Convene/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Parses and validates what arrived; a malformed message comes back as the 400 to send
    /// (or a drop), never as an error to propagate.
    pub fn accept(&self, data: Bytes, remote: SocketAddr) -> Result<Message, Outcome> {
        Message::parse(data.clone())
            .and_then(|m| m.validate().map(|()| m))
            .map_err(|e| self.malformed(&data, &e, remote))
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
                // RFC 3261 §18.2.1, RFC 3581 §4: the Via says where the request came from.
                frontend::local::stamp_top_via(&mut resp, remote);
                Outcome::Reply(resp.to_bytes())
            }
            None => Outcome::Drop("malformed and unanswerable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:fe.example.test SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5062;branch=z9hG4bKo1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\nTo: <sip:fe.example.test>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    fn remote() -> SocketAddr {
        "192.0.2.9:40000".parse().unwrap()
    }

    #[test]
    fn valid_requests_pass_the_gate() {
        let r = Responder::new("fe.example.test");
        let m = r
            .accept(Bytes::from_static(OPTIONS.as_bytes()), remote())
            .unwrap();
        assert_eq!(m.method(), Some(&sip_msg::Method::Options));
    }

    #[test]
    fn malformed_requests_get_a_400_naming_the_fault_and_garbage_is_dropped() {
        let r = Responder::new("fe.example.test");
        let bad = OPTIONS.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE");
        let Err(Outcome::Reply(bytes)) = r.accept(Bytes::from(bad), remote()) else {
            panic!("expected a 400");
        };
        let m = Message::parse(bytes).unwrap();
        assert_eq!(m.status(), Some(400));
        assert!(m.reason().unwrap().contains("CSeq"), "{:?}", m.reason());
        let via = m.top_via().unwrap().unwrap();
        assert_eq!(via.rport(), Some(Some(40000)));
        assert_eq!(via.received(), Some("192.0.2.9"));
        assert_eq!(
            r.accept(Bytes::from_static(b"\x00\x01garbage"), remote()),
            Err(Outcome::Drop("malformed and unanswerable"))
        );
    }
}
