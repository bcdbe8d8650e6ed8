//! Fuzzes the SIP message parser: any bytes give a message or a typed error, never a panic
//! or a hang; a parsed message written back parses to the same message; an answer to a
//! malformed request is itself a parseable message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_msg::{Message, answer_malformed};

fuzz_target!(|data: &[u8]| {
    match Message::parse(data.to_vec()) {
        Ok(m) => {
            let validated = m.validate();
            // Typed accessors never panic, whatever the values hold.
            let _ = (m.vias(), m.contacts(), m.from(), m.to(), m.cseq(), m.call_id());
            let _ = (m.www_authenticate(), m.authorization(), m.ms_diagnostics(), m.referred_by());
            // The borrowed views read the same grammar as the owned values: where every value
            // is UTF-8, a view parses exactly when the owned value does, and converts to it.
            let _ = (m.route_views(), m.record_route_views(), m.authorization_views(), m.call_id_str());
            if m.headers().iter().all(|h| std::str::from_utf8(h.value()).is_ok()) {
                match (m.via_views(), m.vias()) {
                    (Ok(v), Ok(o)) => assert_eq!(v.into_iter().map(|v| v.into_owned()).collect::<Vec<_>>(), o),
                    (v, o) => assert_eq!(v.is_ok(), o.is_ok(), "Via view and owned disagree"),
                }
                match (m.contact_views(), m.contacts()) {
                    (Ok(v), Ok(o)) => assert_eq!(v.into_iter().map(|c| c.into_owned()).collect::<Vec<_>>(), o),
                    (v, o) => assert_eq!(v.is_ok(), o.is_ok(), "Contact view and owned disagree"),
                }
                match (m.from_view(), m.from()) {
                    (Ok(v), Ok(o)) => assert_eq!(v.map(|v| v.into_owned()), o),
                    (v, o) => assert_eq!(v.is_ok(), o.is_ok(), "From view and owned disagree"),
                }
            }
            let again = Message::parse(m.to_bytes()).expect("a parsed message must parse again");
            assert_eq!(again, m, "round trip changed the message");
            if let Err(e) = validated {
                if let Some(resp) = answer_malformed(data, &e) {
                    Message::parse(resp.to_bytes()).expect("the 400 must parse");
                }
            }
        }
        Err(e) => {
            assert!(e.offset <= data.len() + 2, "offset {} beyond input {}", e.offset, data.len());
            if let Some(resp) = answer_malformed(data, &e) {
                Message::parse(resp.to_bytes()).expect("the 400 must parse");
            }
        }
    }
});
