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
