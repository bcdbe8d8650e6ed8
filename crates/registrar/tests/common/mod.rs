//! Helpers shared by the registrar tests: REGISTER messages and a configured registrar.

#![allow(dead_code)]

use registrar::{Aor, Registrar, RegistrarConfig};
use sip_msg::Message;

/// A REGISTER for alice with the given Call-ID, CSeq and extra header lines.
pub fn register(call_id: &str, cseq: u32, extra: &[&str]) -> Message {
    register_from("<sip:alice@example.test>;tag=f1", call_id, cseq, extra)
}

/// A REGISTER with an explicit From value.
pub fn register_from(from: &str, call_id: &str, cseq: u32, extra: &[&str]) -> Message {
    let mut text = format!(
        "REGISTER sip:example.test SIP/2.0\r\n\
         Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK-{call_id}-{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: {from}\r\n\
         To: <sip:alice@example.test>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for h in extra {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    Message::parse(text.into_bytes()).unwrap()
}

/// alice@example.test.
pub fn alice() -> Aor {
    Aor::new("alice", "example.test")
}

/// The test configuration: min 60 s, default 3600 s, max 7200 s, a Service-Route, Lync's
/// Supported and Allow-Events lines.
pub fn config() -> RegistrarConfig {
    RegistrarConfig {
        min_expires: 60,
        max_expires: 7200,
        default_expires: 3600,
        service_route: vec!["<sip:fe.example.test;lr>".into()],
        supported: vec!["adhoclist".into(), "msrtc-event-categories".into()],
        allow_events: vec!["presence".into(), "vnd-microsoft-provisioning-v2".into()],
        fqdn: "fe.example.test".into(),
    }
}

/// A registrar with [`config`] and a fixed secret.
pub fn registrar() -> Registrar {
    Registrar::new(config(), b"test secret, 32 bytes long......").unwrap()
}

/// The values of every `name` header of `m`, one per line.
pub fn header_lines(m: &Message, name: &str) -> Vec<String> {
    let n = sip_msg::HeaderName::new(name);
    m.headers_named(&n)
        .map(|h| h.value_str().into_owned())
        .collect()
}
