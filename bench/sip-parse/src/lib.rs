//! The benchmark messages and the work done on each, shared by the criterion bench and the
//! instruction-count harness (examples/count.rs).
#![allow(clippy::expect_used)]

use rsip::prelude::*;

pub const INVITE: &str = "INVITE sip:bob@example.test SIP/2.0\r\n\
Via: SIP/2.0/TLS 192.0.2.10:51372;branch=z9hG4bK776asdhds;rport\r\n\
Via: SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.4\r\n\
Max-Forwards: 70\r\n\
Record-Route: <sip:fe1.example.test:5061;transport=tls;lr>\r\n\
To: Bob <sip:bob@example.test>\r\n\
From: Alice <sip:alice@example.test>;tag=1928301774;epid=8248ca9ebb\r\n\
Call-ID: a84b4c76e66710@pc33.example.test\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@example.test;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu>\r\n\
User-Agent: UCCAPI/16.0.4771.1000 OC/16.0.4771.1000 (Skype for Business)\r\n\
Supported: ms-dialog-route-set-update, timer, histinfo, ms-safe-transfer, ms-sender\r\n\
Allow: INVITE, BYE, ACK, CANCEL, INFO, UPDATE, REFER, NOTIFY, BENOTIFY, OPTIONS\r\n\
Ms-Conversation-ID: AdNvZ2VrB5VdS5VXRoiI9wN8Y8a0Cw==\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 242\r\n\
\r\n\
v=0\r\n\
o=- 0 0 IN IP4 192.0.2.10\r\n\
s=session\r\n\
c=IN IP4 192.0.2.10\r\n\
b=CT:99980\r\n\
t=0 0\r\n\
m=audio 7026 RTP/AVP 117 104 9 111 0 8 101\r\n\
a=rtpmap:117 G722/8000/2\r\n\
a=rtpmap:104 SILK/16000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=sendrecv\r\n";

pub const REGISTER: &str = "REGISTER sip:example.test SIP/2.0\r\n\
Via: SIP/2.0/TCP 192.0.2.10:51373;branch=z9hG4bKnashds7;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@example.test>;tag=456248;epid=8248ca9ebb\r\n\
To: <sip:alice@example.test>\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1826 REGISTER\r\n\
Contact: <sip:alice@192.0.2.10:51373;transport=tcp>;+sip.instance=\"<urn:uuid:4233fd41-093b-5fd6-b5d2-651ed55969e6>\";expires=3600\r\n\
Authorization: Digest username=\"alice\", realm=\"example.test\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:example.test\", response=\"dfe56131d1958046689d83306477ecc5\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\
\r\n";

pub const OK: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/TLS 192.0.2.10:51372;branch=z9hG4bK776asdhds;rport=51372;received=192.0.2.10\r\n\
Via: SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.4\r\n\
Record-Route: <sip:fe1.example.test:5061;transport=tls;lr>\r\n\
To: Bob <sip:bob@example.test>;tag=a6c85cf;epid=2ebb6f264f\r\n\
From: Alice <sip:alice@example.test>;tag=1928301774;epid=8248ca9ebb\r\n\
Call-ID: a84b4c76e66710@pc33.example.test\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@example.test;opaque=user:epid:LKHrZjUoxV66Oi8tgk1A9gAA;gruu>\r\n\
Content-Length: 0\r\n\
\r\n";

/// Parse, then every typed header a proxy reads, through the borrowed views
/// (the whole grammar of each value is checked, as rsip's `typed()` does).
pub fn convene_typed(b: &[u8]) -> usize {
    let m = sip_msg::Message::parse(b.to_vec()).expect("parses");
    let mut n = 0;
    for v in m.via_views().expect("via") {
        n += v.branch().map_or(0, str::len);
    }
    n += m.from_view().expect("from").map_or(0, |f| f.tag().map_or(1, str::len));
    n += m.to_view().expect("to").map_or(0, |t| t.tag().map_or(1, str::len));
    n += m.call_id_str().expect("call-id").map_or(0, str::len);
    n += m.cseq().expect("cseq").map_or(0, |c| c.seq as usize);
    n += usize::from(m.max_forwards().expect("mf").unwrap_or(0));
    n += m.contact_views().expect("contact").len();
    n += m.record_route_views().expect("rr").len();
    n += m.content_length().expect("cl").unwrap_or(0);
    n += m.authorization_views().expect("auth").len();
    n
}

/// The same through the owned typed values (every piece copied into a `String`).
pub fn convene_owned(b: &[u8]) -> usize {
    let m = sip_msg::Message::parse(b.to_vec()).expect("parses");
    let mut n = 0;
    for v in m.vias().expect("via") {
        n += v.branch().map_or(0, str::len);
    }
    n += m.from().expect("from").map_or(0, |f| f.tag().map_or(1, str::len));
    n += m.to().expect("to").map_or(0, |t| t.tag().map_or(1, str::len));
    n += m.call_id().expect("call-id").map_or(0, |c| c.0.len());
    n += m.cseq().expect("cseq").map_or(0, |c| c.seq as usize);
    n += usize::from(m.max_forwards().expect("mf").unwrap_or(0));
    n += m.contacts().expect("contact").len();
    n += m.record_routes().expect("rr").len();
    n += m.content_length().expect("cl").unwrap_or(0);
    n += m.authorization().expect("auth").len();
    n
}

pub fn rsip_typed(b: &[u8]) -> usize {
    let m = rsip::SipMessage::try_from(b).expect("parses");
    let mut n = 0;
    n += usize::from(m.via_header().expect("via").typed().is_ok());
    n += usize::from(m.from_header().expect("from").typed().is_ok());
    n += usize::from(m.to_header().expect("to").typed().is_ok());
    n += m.call_id_header().expect("call-id").value().len();
    n += usize::from(m.cseq_header().expect("cseq").typed().is_ok());
    n += usize::from(m.max_forwards_header().is_ok_and(|h| h.num().is_ok()));
    n += usize::from(m.contact_header().is_ok_and(|h| h.typed().is_ok()));
    n += usize::from(m.record_route_header().is_some_and(|h| h.typed().is_ok()));
    n += m
        .headers()
        .iter()
        .find_map(|h| match h {
            rsip::Header::ContentLength(cl) => cl.length().ok(),
            _ => None,
        })
        .unwrap_or(0) as usize;
    n += usize::from(m.authorization_header().is_some_and(|h| h.typed().is_ok()));
    n
}

