//! Matching: CANCEL (RFC 3261 §9.2), merged requests (§8.2.2.2), the RFC 2543 fallback
//! (§17.2.3), responses to client transactions (§17.1.3), the ACK the INVITE client
//! transaction builds (§17.1.1.3) and the ACK for a 2xx (RFC 6026 §8.7).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sip_msg::{HeaderName, Message, Method};
use sip_txn::{Event, InboundError, SendError, State, TransportError, TxnId};

fn only_event(h: &mut Harness) -> Event<sip_txn::TransportKey> {
    let mut e = h.events();
    assert_eq!(e.len(), 1, "{e:?}");
    e.remove(0)
}

#[test]
fn cancel_matches_the_invite_server_transaction() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKcan");
    let inv_id = h.recv_new(inv.clone(), true);
    h.drain();
    // §9.1: the CANCEL has the INVITE's branch, Request-URI, Call-ID, From, To and CSeq number.
    let cancel = req("CANCEL", "z9hG4bKcan", 1, "from1", None);
    h.recv(cancel.clone(), true);
    let Event::Cancel { txn, invite, .. } = only_event(&mut h) else {
        panic!("expected Cancel")
    };
    assert_eq!(invite, Some(inv_id));
    assert_ne!(txn, inv_id, "the CANCEL has its own server transaction");
    assert_eq!(h.layer.state(txn), Some(State::Trying));
    // The UAS answers 200 to the CANCEL and 487 to the INVITE (§9.2), then gets the ACK.
    h.layer
        .send_response(h.now, txn, resp(&cancel, 200))
        .unwrap();
    h.layer
        .send_response(h.now, inv_id, resp(&inv, 487))
        .unwrap();
    let (t, _) = h.drain();
    assert_eq!(t, ["200", "487"]);
    // A retransmitted CANCEL goes to the CANCEL's transaction, not to a new one.
    h.recv(cancel, true);
    assert_eq!(h.drain(), (vec!["200 re".to_string()], vec![]));
    h.recv(req("ACK", "z9hG4bKcan", 1, "from1", Some("totag1")), true);
    assert_eq!(h.layer.state(inv_id), Some(State::Confirmed));
}

#[test]
fn cancel_without_a_match() {
    let mut h = Harness::new();
    h.recv_new(invite("z9hG4bKcan"), true);
    h.drain();
    // Another branch, or the same branch from another sent-by (§17.2.3 rule 2): no match.
    for cancel in [
        req("CANCEL", "z9hG4bKother", 1, "from1", None),
        req_full(
            "CANCEL",
            "sip:bob@example.com",
            "elsewhere.example.com",
            "z9hG4bKcan",
            1,
            "call-1@example.com",
            "from1",
            None,
        ),
    ] {
        h.recv(cancel, true);
        let Event::Cancel { invite, .. } = only_event(&mut h) else {
            panic!("expected Cancel")
        };
        assert_eq!(invite, None);
    }
}

#[test]
fn cancel_does_not_match_a_terminated_invite() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKgone");
    let id = h.recv_new(inv.clone(), false);
    h.layer.send_response(h.now, id, resp(&inv, 486)).unwrap();
    h.recv(req("ACK", "z9hG4bKgone", 1, "from1", Some("totag1")), false); // TCP: I = 0
    assert_eq!(h.layer.state(id), None);
    h.drain();
    h.recv(req("CANCEL", "z9hG4bKgone", 1, "from1", None), false);
    let Event::Cancel { invite, .. } = only_event(&mut h) else {
        panic!("expected Cancel")
    };
    assert_eq!(invite, None);
}

#[test]
fn merged_request_is_reported() {
    // §8.2.2.2: no To tag, same From tag, Call-ID and CSeq as a live transaction, other branch.
    let mut h = Harness::new();
    let first = h.recv_new(invite("z9hG4bKpath1"), true);
    h.drain();
    let second = invite("z9hG4bKpath2");
    h.recv(second.clone(), true);
    assert_eq!(h.layer.stats().merged_requests, 1);
    assert_eq!(h.layer.stats().server_transactions, 2);
    let ev = h.events();
    let Some(Event::MergedRequest { txn, original, .. }) = ev.first() else {
        panic!("expected MergedRequest: {ev:?}")
    };
    assert_eq!(*original, first);
    // The TU answers 482 on the merged request's own transaction.
    h.layer
        .send_response(
            h.now,
            *txn,
            Message::response_to(&second, 482, "Loop Detected", Some("t")),
        )
        .unwrap();
    let t = h.transmits();
    assert_eq!(t.last().unwrap().message.status(), Some(482));
    // Not merged: a To tag (in-dialog), another CSeq, another From tag, another Call-ID.
    for other in [
        req("INVITE", "z9hG4bKp3", 1, "from1", Some("dialog")),
        req("INVITE", "z9hG4bKp4", 2, "from1", None),
        req("INVITE", "z9hG4bKp5", 1, "from2", None),
        req_full(
            "INVITE",
            "sip:bob@example.com",
            "client.example.com:5060",
            "z9hG4bKp6",
            1,
            "call-2@example.com",
            "from1",
            None,
        ),
    ] {
        h.recv(other, true);
        let ev = h.events();
        assert!(matches!(ev.first(), Some(Event::Request { .. })), "{ev:?}");
    }
}

#[test]
fn merged_detection_ends_with_the_original() {
    let mut h = Harness::new();
    let first = invite("z9hG4bKm1");
    let id = h.recv_new(first.clone(), false);
    h.layer.send_response(h.now, id, resp(&first, 486)).unwrap();
    h.recv(req("ACK", "z9hG4bKm1", 1, "from1", Some("totag1")), false);
    assert_eq!(h.layer.state(id), None);
    h.drain();
    h.recv(invite("z9hG4bKm2"), false);
    let ev = h.events();
    assert!(matches!(ev.first(), Some(Event::Request { .. })), "{ev:?}");
}

/// A request from an RFC 2543 element: a branch without the magic cookie, or none at all.
fn old(method: &str, branch: &str, seq: u32, to_tag: Option<&str>) -> Message {
    req_full(
        method,
        "sip:bob@example.com",
        "old.example.com",
        branch,
        seq,
        "call-2543@example.com",
        "oldfrom",
        to_tag,
    )
}

#[test]
fn rfc2543_matching_of_invite_ack_and_cancel() {
    for branch in ["1234abcd", ""] {
        let mut h = Harness::new();
        let inv = old("INVITE", branch, 5, None);
        let id = h.recv_new(inv.clone(), true);
        h.drain();
        // The same Request-URI, tags, Call-ID, CSeq and top Via: a retransmission.
        h.recv(inv.clone(), true);
        assert_eq!(
            h.drain(),
            (vec!["100 re".to_string()], vec![]),
            "branch {branch:?}"
        );
        // §9.2: a CANCEL matches as if its method were INVITE.
        h.recv(old("CANCEL", branch, 5, None), true);
        let Event::Cancel {
            invite,
            txn: cancel_id,
            ..
        } = only_event(&mut h)
        else {
            panic!()
        };
        assert_eq!(invite, Some(id));
        assert_ne!(cancel_id, id);
        h.drain();
        // Another CSeq, another Request-URI or another top Via: a new transaction.
        for other in [
            old("INVITE", branch, 6, None),
            req_full(
                "INVITE",
                "sip:carol@example.com",
                "old.example.com",
                branch,
                5,
                "call-2543@example.com",
                "oldfrom",
                None,
            ),
            req_full(
                "INVITE",
                "sip:bob@example.com",
                "old2.example.com",
                branch,
                5,
                "call-2543@example.com",
                "oldfrom",
                None,
            ),
        ] {
            h.recv(other, true);
            let ev = h.events();
            assert!(
                matches!(ev.first(), Some(Event::Request { txn, .. } | Event::MergedRequest { txn, .. }) if *txn != id),
                "{ev:?}"
            );
        }
        h.drain();
        h.layer
            .send_response(h.now, id, resp_tag(&inv, 486, "oldto"))
            .unwrap();
        h.drain();
        // The ACK must carry the To tag of the response the transaction sent.
        h.recv(old("ACK", branch, 5, Some("wrongtag")), true);
        let Event::Ack { invite, .. } = only_event(&mut h) else {
            panic!()
        };
        assert_eq!(invite, None);
        assert_eq!(h.layer.state(id), Some(State::Completed));
        h.recv(old("ACK", branch, 5, Some("oldto")), true);
        assert_eq!(
            h.layer.state(id),
            Some(State::Confirmed),
            "branch {branch:?}"
        );
    }
}

#[test]
fn rfc2543_via_match_ignores_received_and_rport() {
    let mut h = Harness::new();
    let inv = old("INVITE", "", 5, None);
    h.recv_new(inv.clone(), true);
    h.drain();
    let text = inv.to_string().replacen(
        "Via: SIP/2.0/UDP old.example.com",
        "Via: SIP/2.0/UDP old.example.com;received=192.0.2.7;rport=5070",
        1,
    );
    h.recv(Message::parse(text.into_bytes()).unwrap(), true);
    assert_eq!(h.drain(), (vec!["100 re".to_string()], vec![]));
}

#[test]
fn responses_match_by_branch_and_cseq_method() {
    // §17.1.3: the 200 to a CANCEL carries the INVITE's branch but the CSeq method CANCEL.
    let mut h = Harness::new();
    let inv = invite("z9hG4bKr");
    let inv_id = h
        .layer
        .send_request(h.now, inv.clone(), peer(true))
        .unwrap();
    h.recv(resp(&inv, 180), true);
    let cancel = req("CANCEL", "z9hG4bKr", 1, "from1", None);
    let cancel_id = h
        .layer
        .send_request(h.now, cancel.clone(), peer(true))
        .unwrap();
    h.drain();
    h.recv(resp(&cancel, 200), true);
    let Event::Response { txn, .. } = only_event(&mut h) else {
        panic!()
    };
    assert_eq!(txn, cancel_id);
    assert_eq!(h.layer.state(inv_id), Some(State::Proceeding));
    h.recv(resp(&inv, 487), true);
    let ev = h.events();
    assert!(matches!(ev.first(), Some(Event::Response { txn, .. }) if *txn == inv_id));
    // No match at all: passed to the core (§18.1.2).
    h.recv(resp(&invite("z9hG4bKnobody"), 200), true);
    assert!(matches!(
        only_event(&mut h),
        Event::UnmatchedResponse { .. }
    ));
}

#[test]
fn ack_for_non_2xx_is_built_per_17_1_1_3() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKack");
    h.layer
        .send_request(h.now, inv.clone(), peer(true))
        .unwrap();
    h.drain();
    h.recv(resp_tag(&inv, 486, "uas-tag"), true);
    let t = h.transmits();
    assert_eq!(t.len(), 1);
    let ack = &t[0].message;
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.uri(), inv.uri());
    let vias = ack.vias().unwrap();
    assert_eq!(vias.len(), 1, "a single Via");
    assert_eq!(
        vias[0],
        inv.top_via().unwrap().unwrap(),
        "equal to the INVITE's top Via"
    );
    assert_eq!(
        ack.to().unwrap().unwrap().tag(),
        Some("uas-tag"),
        "To of the response"
    );
    assert_eq!(ack.from().unwrap(), inv.from().unwrap());
    assert_eq!(ack.call_id().unwrap(), inv.call_id().unwrap());
    let cseq = ack.cseq().unwrap().unwrap();
    assert_eq!((cseq.seq, cseq.method), (1, Method::Ack));
    assert_eq!(ack.routes().unwrap(), inv.routes().unwrap(), "Route copied");
    ack.validate().unwrap();
    // Reparse the wire form: what the transport sends is well formed.
    Message::parse(ack.to_bytes()).unwrap().validate().unwrap();
    assert!(ack.header(&HeaderName::MaxForwards).is_some());
}

#[test]
fn ack_for_2xx_goes_to_the_tu() {
    // RFC 6026 §8.7: the ACK for a 2xx matches no transaction by branch; the layer passes it up,
    // with the Accepted transaction whose dialog it confirms.
    let mut h = Harness::new();
    let inv = invite("z9hG4bK2xx");
    let id = h.recv_new(inv.clone(), true);
    h.layer
        .send_response(h.now, id, resp_tag(&inv, 200, "dlg"))
        .unwrap();
    h.drain();
    h.recv(req("ACK", "z9hG4bKfresh", 1, "from1", Some("dlg")), true);
    let Event::Ack { invite, .. } = only_event(&mut h) else {
        panic!()
    };
    assert_eq!(invite, Some(id));
    // An ACK for another dialog, or after Timer L: still passed up, unmatched.
    h.recv(req("ACK", "z9hG4bKfresh2", 1, "from1", Some("other")), true);
    let Event::Ack { invite, .. } = only_event(&mut h) else {
        panic!()
    };
    assert_eq!(invite, None);
    h.advance_to(32_000);
    h.drain();
    h.recv(req("ACK", "z9hG4bKfresh3", 1, "from1", Some("dlg")), true);
    let Event::Ack { invite, .. } = only_event(&mut h) else {
        panic!()
    };
    assert_eq!(invite, None);
    // The UAC's ACK for a 2xx goes out statelessly.
    h.layer.send_stateless(
        req("ACK", "z9hG4bKuac", 1, "from1", Some("dlg")),
        peer(true),
    );
    let t = h.transmits();
    assert_eq!((t.len(), t[0].txn), (1, None));
}

#[test]
fn invite_retransmission_in_accepted_is_absorbed_not_a_new_transaction() {
    // The RFC 6026 fix: under RFC 3261 the server transaction ended on the 2xx and a late INVITE
    // retransmission looked like a new request.
    let mut h = Harness::new();
    let inv = invite("z9hG4bKlate");
    let id = h.recv_new(inv.clone(), true);
    h.layer.send_response(h.now, id, resp(&inv, 200)).unwrap();
    h.drain();
    h.advance_to(20_000);
    h.recv(inv, true);
    assert_eq!(h.drain(), (vec![], vec![]));
    assert_eq!(h.layer.len(), 1);
    assert_eq!(h.layer.stats().absorbed, 1);
}

#[test]
fn send_errors() {
    let mut h = Harness::new();
    let inv = invite("z9hG4bKerr");
    assert_eq!(
        h.layer
            .send_request(h.now, req("ACK", "z9hG4bKx", 1, "f", Some("t")), peer(true)),
        Err(SendError::AckNotAllowed)
    );
    assert_eq!(
        h.layer.send_request(h.now, invite("nocookie"), peer(true)),
        Err(SendError::NoMagicCookie)
    );
    assert_eq!(
        h.layer.send_request(h.now, resp(&inv, 200), peer(true)),
        Err(SendError::NotARequest)
    );
    let id = h
        .layer
        .send_request(h.now, inv.clone(), peer(true))
        .unwrap();
    assert_eq!(
        h.layer.send_request(h.now, inv.clone(), peer(true)),
        Err(SendError::DuplicateBranch(id))
    );
    assert_eq!(
        h.layer.send_response(h.now, id, resp(&inv, 200)),
        Err(SendError::WrongKind(id))
    );
    assert_eq!(
        h.layer.send_response(h.now, TxnId(999), resp(&inv, 200)),
        Err(SendError::UnknownTransaction(TxnId(999)))
    );
    let s = h.recv_new(invite("z9hG4bKsrv"), true);
    h.layer.send_response(h.now, s, resp(&inv, 200)).unwrap();
    assert!(matches!(
        h.layer.send_response(h.now, s, resp(&inv, 486)),
        Err(SendError::WrongState {
            state: State::Accepted,
            status: 486,
            ..
        })
    ));
    assert_eq!(
        h.layer.send_response(h.now, s, inv.clone()),
        Err(SendError::NotAResponse)
    );
    let s2 = h.recv_new(invite("z9hG4bKsrv2"), true);
    assert_eq!(
        h.layer.send_2xx_retransmitting(h.now, s2, resp(&inv, 486)),
        Err(SendError::Not2xx(486))
    );
    assert_eq!(
        h.layer.send_2xx_retransmitting(h.now, id, resp(&inv, 200)),
        Err(SendError::WrongKind(id))
    );
    assert!(matches!(
        h.layer.build_cancel(s2),
        Err(SendError::WrongKind(_))
    ));
    assert!(matches!(
        h.layer.arm_timer_c(h.now, s2),
        Err(SendError::WrongKind(_))
    ));
    // A transport error for an unknown transaction changes nothing.
    h.drain();
    h.layer
        .handle_transport_error(h.now, TxnId(999), TransportError::Other("x".into()));
    assert_eq!(h.drain(), (vec![], vec![]));
}

#[test]
fn inbound_errors_drop_the_message() {
    let mut h = Harness::new();
    let no_via = Message::parse(
        &b"OPTIONS sip:a@b SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"[..],
    )
    .unwrap();
    assert_eq!(
        h.layer.handle_message(h.now, no_via, peer(true)),
        Err(InboundError::MissingHeader("Via"))
    );
    let mismatch = Message::parse(
        &b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n"[..],
    )
    .unwrap();
    assert_eq!(
        h.layer.handle_message(h.now, mismatch, peer(true)),
        Err(InboundError::CSeqMismatch)
    );
    let bad_cseq = Message::parse(
        &b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKq\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: x OPTIONS\r\n\r\n"[..],
    )
    .unwrap();
    assert!(matches!(
        h.layer.handle_message(h.now, bad_cseq, peer(true)),
        Err(InboundError::BadHeader { header: "CSeq", .. })
    ));
    let no_branch = Message::parse(
        &b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"[..],
    )
    .unwrap();
    assert_eq!(
        h.layer.handle_message(h.now, no_branch, peer(true)),
        Err(InboundError::NoBranch)
    );
    assert_eq!(h.drain(), (vec![], vec![]));
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.stats().dropped, 4);
}

#[test]
fn benotify_has_no_transaction() {
    // [MS-SIP] 3.5: a BENOTIFY is never answered. Received, it goes to the TU without a server
    // transaction (none would ever end); sent, it goes out once, statelessly.
    let mut h = Harness::new();
    let benotify = req("BENOTIFY", "z9hG4bKbn", 3, "from1", Some("dlg"));
    h.recv(benotify.clone(), false);
    assert_eq!(h.drain(), (vec![], vec!["Benotify".to_string()]));
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.poll_timeout(), None);
    assert_eq!(
        h.layer.send_request(h.now, benotify.clone(), peer(false)),
        Err(SendError::Benotify)
    );
    h.layer.send_stateless(benotify, peer(false));
    let t = h.transmits();
    assert_eq!((t.len(), t[0].txn), (1, None));
    assert!(h.layer.is_empty());
}

#[test]
fn a_failed_peer_fails_its_transactions_only() {
    let mut h = Harness::new();
    let a = h
        .layer
        .send_request(h.now, options("z9hG4bKpa"), peer(false))
        .unwrap();
    let b = h
        .layer
        .send_request(h.now, options("z9hG4bKpb"), peer(true))
        .unwrap();
    let s = h.recv_new(invite("z9hG4bKps"), false);
    h.drain();
    h.layer
        .handle_peer_error(h.now, &peer(false), &TransportError::Closed("reset".into()));
    assert_eq!(h.layer.state(a), None);
    assert_eq!(
        h.layer.state(b),
        Some(State::Trying),
        "another peer (UDP) is untouched"
    );
    // RFC 6026 Figure 7: the INVITE server transaction in Proceeding is told and stays.
    assert_eq!(h.layer.state(s), Some(State::Proceeding));
    let (_, e) = h.drain();
    assert_eq!(e, ["TransportError", "Terminated", "TransportError"]);
}

// RFC 3261 §8.2.7: a stateless answer (a Digest challenge) keeps no transaction; the
// retransmitted request is a new one for the TU, and INVITE transactions refuse it.
#[test]
fn a_stateless_final_response_keeps_nothing() {
    let mut h = Harness::new();
    let reg = req("REGISTER", "z9hG4bKsl", 1, "from1", None);
    let id = h.recv_new(reg.clone(), true);
    h.drain();
    h.layer
        .send_response_stateless(h.now, id, resp(&reg, 401))
        .unwrap();
    let (t, e) = h.drain();
    assert_eq!(t, ["401"]);
    assert!(e.iter().any(|e| e == "Terminated"), "{e:?}");
    assert_eq!(h.layer.state(id), None);
    assert!(h.layer.is_empty());
    let again = h.recv_new(reg, true);
    assert_ne!(again, id);
    let inv = invite("z9hG4bKsl2");
    let inv_id = h.recv_new(inv.clone(), true);
    assert!(matches!(
        h.layer
            .send_response_stateless(h.now, inv_id, resp(&inv, 407)),
        Err(SendError::WrongKind(_))
    ));
    assert!(h.layer.state(inv_id).is_some());
}
