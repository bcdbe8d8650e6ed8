//! The RFC 4475 and RFC 5118 torture messages (checked in under sip-msg) fed to the layer:
//! nothing panics, every message sip-msg validates is placed (a request creates a transaction
//! or is passed up, a response is passed up as unmatched), and its retransmission is absorbed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::*;
use sip_msg::{Message, Method};
use sip_txn::Event;

fn vectors() -> Vec<(String, Vec<u8>)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sip-msg/tests/vectors");
    let mut out = Vec::new();
    for dir in ["rfc4475", "rfc5118"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "dat"))
            .collect();
        files.sort();
        for f in files {
            out.push((f.display().to_string(), std::fs::read(&f).unwrap()));
        }
    }
    assert!(out.len() > 40, "the vectors are where sip-msg keeps them");
    out
}

#[test]
fn torture_messages_never_panic_and_valid_ones_are_placed() {
    let mut placed = 0;
    for (name, bytes) in vectors() {
        let Ok(msg) = Message::parse(bytes) else {
            continue;
        };
        let valid = msg.validate().is_ok();
        for udp in [true, false] {
            let mut h = Harness::new();
            let result = h.layer.handle_message(h.now, msg.clone(), peer(udp));
            let events = h.events();
            if !valid {
                continue; // dropped or placed: either is fine, as long as nothing panicked
            }
            result.unwrap_or_else(|e| panic!("{name}: a valid message was dropped: {e}"));
            let expected = match msg.method() {
                None => matches!(events.as_slice(), [Event::UnmatchedResponse { .. }]),
                Some(Method::Ack) => matches!(events.as_slice(), [Event::Ack { invite: None, .. }]),
                Some(Method::Cancel) => {
                    matches!(events.as_slice(), [Event::Cancel { invite: None, .. }])
                }
                Some(Method::Benotify) => matches!(events.as_slice(), [Event::Benotify { .. }]),
                Some(_) => matches!(events.as_slice(), [Event::Request { .. }]),
            };
            assert!(expected, "{name}: {events:?}");
            if msg.is_request() && !matches!(msg.method(), Some(Method::Ack)) {
                // The same bytes again are a retransmission of the transaction just created.
                let before = h.layer.len();
                h.layer
                    .handle_message(h.now, msg.clone(), peer(udp))
                    .unwrap();
                assert_eq!(
                    h.layer.len(),
                    before,
                    "{name}: the retransmission made a new transaction"
                );
                assert!(
                    h.events().is_empty(),
                    "{name}: the retransmission reached the TU"
                );
            }
            placed += 1;
        }
    }
    assert!(placed > 20, "only {placed} placements");
}
