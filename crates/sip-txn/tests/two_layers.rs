//! Two layers talking through serialised bytes on one virtual clock: a UAC and a UAS, with
//! loss injected by dropping transmissions. Shows the pieces fit: the UAS matches what the
//! UAC's transactions send, and the other way round.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sip_msg::{Message, Method};
use sip_txn::{Event, Kind, SendError, State, TransportKey, TxnId};

/// Moves every transmission of `from` into `to` as bytes; `drop` decides which to lose.
fn wire(from: &mut Harness, to: &mut Harness, mut drop: impl FnMut(&Message) -> bool) -> usize {
    let mut delivered = 0;
    for t in from.transmits() {
        if drop(&t.message) {
            continue;
        }
        let bytes = t.message.to_bytes();
        to.layer
            .handle_message(to.now, Message::parse(bytes).unwrap(), peer(true))
            .unwrap();
        delivered += 1;
    }
    delivered
}

fn events(h: &mut Harness) -> Vec<Event<TransportKey>> {
    h.events()
}

#[test]
fn invite_cancel_487_ack_across_two_layers() {
    let mut uac = Harness::new();
    let mut uas = Harness::new();
    let inv = invite("z9hG4bKcall");
    let c = uac.layer.send_request(uac.now, inv, peer(true)).unwrap();
    // §9.1: no CANCEL before a provisional response.
    assert!(matches!(
        uac.layer.build_cancel(c),
        Err(SendError::WrongState {
            state: State::Calling,
            ..
        })
    ));
    wire(&mut uac, &mut uas, |_| false);
    let Some(Event::Request {
        txn: s, request, ..
    }) = events(&mut uas).pop()
    else {
        panic!()
    };
    uas.layer
        .send_response(uas.now, s, resp_tag(&request, 180, "uas"))
        .unwrap();
    wire(&mut uas, &mut uac, |_| false); // 100 Trying and 180
    assert_eq!(uac.layer.state(c), Some(State::Proceeding));
    let ev: Vec<_> = events(&mut uac).iter().map(describe_event).collect();
    assert_eq!(ev, ["Response 100", "Response 180"]);

    let cancel = uac.layer.build_cancel(c).unwrap();
    let original = uac.layer.request(c).unwrap().clone();
    assert_eq!(cancel.method(), Some(&Method::Cancel));
    assert_eq!(cancel.uri(), original.uri());
    assert_eq!(
        cancel.vias().unwrap(),
        vec![original.top_via().unwrap().unwrap()]
    );
    assert_eq!(
        cancel.to().unwrap(),
        original.to().unwrap(),
        "To of the INVITE, no tag"
    );
    assert_eq!(cancel.from().unwrap(), original.from().unwrap());
    assert_eq!(cancel.call_id().unwrap(), original.call_id().unwrap());
    let cseq = cancel.cseq().unwrap().unwrap();
    assert_eq!((cseq.seq, cseq.method), (1, Method::Cancel));
    assert_eq!(cancel.routes().unwrap(), original.routes().unwrap());
    cancel.validate().unwrap();

    let cc = uac.layer.send_request(uac.now, cancel, peer(true)).unwrap();
    wire(&mut uac, &mut uas, |_| false);
    let Some(Event::Cancel {
        txn: sc,
        invite,
        request: creq,
        ..
    }) = events(&mut uas).pop()
    else {
        panic!()
    };
    assert_eq!(invite, Some(s));
    uas.layer
        .send_response(uas.now, sc, resp(&creq, 200))
        .unwrap();
    uas.layer
        .send_response(uas.now, s, resp_tag(&request, 487, "uas"))
        .unwrap();
    wire(&mut uas, &mut uac, |_| false);
    let ev: Vec<_> = events(&mut uac).iter().map(describe_event).collect();
    assert_eq!(ev, ["Response 200", "Response 487"]);
    assert_eq!(uac.layer.state(cc), Some(State::Completed));
    assert_eq!(uac.layer.state(c), Some(State::Completed));
    // The ACK the INVITE client transaction built confirms the UAS transaction.
    assert_eq!(wire(&mut uac, &mut uas, |_| false), 1);
    assert_eq!(uas.layer.state(s), Some(State::Confirmed));
    assert!(
        events(&mut uas).is_empty(),
        "the ACK for a non-2xx is not passed up"
    );
}

#[test]
fn lost_messages_are_recovered_by_retransmission() {
    // The first OPTIONS and the first 200 are lost; Timer E and the server's Completed state
    // recover both.
    let mut uac = Harness::new();
    let mut uas = Harness::new();
    let c = uac
        .layer
        .send_request(uac.now, options("z9hG4bKlossy"), peer(true))
        .unwrap();
    assert_eq!(wire(&mut uac, &mut uas, |_| true), 0); // lost
    uac.fire(); // 0.5 s: Timer E
    uas.now = uac.now;
    assert_eq!(wire(&mut uac, &mut uas, |_| false), 1);
    let Some(Event::Request {
        txn: s, request, ..
    }) = events(&mut uas).pop()
    else {
        panic!()
    };
    uas.layer
        .send_response(uas.now, s, resp(&request, 200))
        .unwrap();
    assert_eq!(wire(&mut uas, &mut uac, |_| true), 0); // lost
    uac.fire(); // 1.5 s: Timer E again
    uas.now = uac.now;
    wire(&mut uac, &mut uas, |_| false);
    // The server answers the retransmission from Completed with the stored 200.
    assert_eq!(wire(&mut uas, &mut uac, |_| false), 1);
    let ev: Vec<_> = events(&mut uac).iter().map(describe_event).collect();
    assert_eq!(ev, ["Response 200"]);
    assert_eq!(uac.layer.state(c), Some(State::Completed));
    let (cs, ss) = (uac.layer.stats(), uas.layer.stats());
    assert_eq!(
        (cs.client_transactions, cs.retransmissions, cs.timeouts),
        (1, 2, 0)
    );
    assert_eq!(
        (ss.server_transactions, ss.retransmissions, ss.absorbed),
        (1, 1, 0)
    );
    // A further copy of the request is answered from Completed with the stored 200 (§17.2.2).
    uas.layer
        .handle_message(uas.now, request.clone(), peer(true))
        .unwrap();
    assert_eq!(uas.layer.stats().retransmissions, 2);
    uas.transmits();
    let summary: Vec<(TxnId, Kind, State)> = uas
        .layer
        .transactions()
        .map(|t| (t.id, t.kind, t.state))
        .collect();
    assert_eq!(summary, [(s, Kind::ServerNonInvite, State::Completed)]);
    let client: Vec<_> = uac.layer.transactions().collect();
    assert_eq!(client.len(), 1);
    assert_eq!(client[0].branch, Some("z9hG4bKlossy"));
    assert_eq!(client[0].method, &Method::Options);
    assert_eq!(client[0].call_id, "call-1@example.com");
}

#[test]
fn invite_200_ack_across_two_layers_with_lost_200() {
    // RFC 6026: the UAS retransmits its 2xx (here through the layer) until the UAC's ACK,
    // which the UAC core sends statelessly for each 2xx the Accepted client transaction passes up.
    let mut uac = Harness::new();
    let mut uas = Harness::new();
    let c = uac
        .layer
        .send_request(uac.now, invite("z9hG4bKok"), peer(true))
        .unwrap();
    wire(&mut uac, &mut uas, |_| false);
    let Some(Event::Request {
        txn: s, request, ..
    }) = events(&mut uas).pop()
    else {
        panic!()
    };
    uas.layer
        .send_2xx_retransmitting(uas.now, s, resp_tag(&request, 200, "dlg"))
        .unwrap();
    // 100 Trying arrives, the 200 is lost.
    wire(&mut uas, &mut uac, |m| m.status() == Some(200));
    assert_eq!(uac.layer.state(c), Some(State::Proceeding));
    uas.fire(); // 0.5 s: the 2xx again
    uac.now = uas.now;
    wire(&mut uas, &mut uac, |_| false);
    let Some(Event::Response { response, .. }) = events(&mut uac).pop() else {
        panic!()
    };
    assert_eq!(response.status(), Some(200));
    assert_eq!(uac.layer.state(c), Some(State::Accepted));
    // The UAC core's ACK: a new branch, the 2xx's To tag, sent outside any transaction.
    let ack = req("ACK", "z9hG4bKuacack", 1, "from1", Some("dlg"));
    uac.layer.send_stateless(ack, peer(true));
    wire(&mut uac, &mut uas, |_| false);
    let Some(Event::Ack { invite, .. }) = events(&mut uas).pop() else {
        panic!()
    };
    assert_eq!(invite, Some(s));
    // No more 2xx retransmissions after the ACK; Timer L then ends the transaction quietly.
    uas.advance_to(40_000);
    assert!(uas.transmits().is_empty());
    let ev: Vec<_> = events(&mut uas).iter().map(describe_event).collect();
    assert_eq!(ev, ["Terminated"]);
}
