//! Table-driven transition tests, one table per transaction kind (RFC 3261 §17 Figures 5–8,
//! RFC 6026 Figures 5 and 7). Each row: the transport, the state the transaction is brought to
//! (at t0), one input, and what must follow: transmissions, events, the next state (`None` =
//! terminated and removed) and the next timeout in ms after t0.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use sip_txn::{State, Timer, TransportError, TxnId};

/// One input to a transaction.
#[derive(Debug, Clone, Copy)]
enum In {
    /// The TU starts the client transaction (the row's `from` is "start").
    Send,
    /// A response with this status code arrives (To tag `totag1`).
    Resp(u16),
    /// A 2xx with another To tag arrives (a forked answer).
    RespFork(u16),
    /// The TU sends a response with this status code.
    Tu(u16),
    /// The request arrives again.
    Retrans,
    /// The ACK for the non-2xx arrives (same branch).
    Ack,
    /// The ACK for a 2xx arrives (new branch, To tag of the 2xx).
    Ack2xx,
    /// The clock advances to the next timeout, which fires.
    Fire,
    /// The clock advances to this many ms after t0.
    At(u64),
    /// The transport reports a failure for this transaction.
    Err,
}

struct Row {
    udp: bool,
    from: &'static str,
    input: In,
    transmits: &'static [&'static str],
    events: &'static [&'static str],
    state: Option<State>,
    /// The transaction's earliest armed timer and its deadline in ms after t0.
    next: Option<(Timer, u64)>,
}

const fn row(
    udp: bool,
    from: &'static str,
    input: In,
    transmits: &'static [&'static str],
    events: &'static [&'static str],
    state: Option<State>,
    next: Option<(Timer, u64)>,
) -> Row {
    Row {
        udp,
        from,
        input,
        transmits,
        events,
        state,
        next,
    }
}

use In::*;
use State::*;
use Timer::*;
const UDP: bool = true;
const TCP: bool = false;

/// Brings a client transaction of `method` to `from` (at t0, outputs drained).
fn client(h: &mut Harness, method: &str, from: &str, udp: bool) -> Option<TxnId> {
    if from == "start" {
        return None;
    }
    let request = if method == "INVITE" {
        invite("z9hG4bKc1")
    } else {
        options("z9hG4bKc1")
    };
    let id = h
        .layer
        .send_request(h.now, request.clone(), peer(udp))
        .unwrap();
    match from {
        "Calling" | "Trying" => {}
        "Proceeding" => h.recv(resp(&request, 180), udp),
        "Completed" => h.recv(resp(&request, 486), udp),
        "Accepted" => h.recv(resp(&request, 200), udp),
        other => panic!("no setup for {other}"),
    }
    h.drain();
    Some(id)
}

/// Brings a server transaction of `method` to `from` (at t0, outputs drained).
fn server(h: &mut Harness, method: &str, from: &str, udp: bool) -> TxnId {
    let request = if method == "INVITE" {
        invite("z9hG4bKs1")
    } else {
        options("z9hG4bKs1")
    };
    let id = h.recv_new(request.clone(), udp);
    match from {
        "Proceeding" if method == "INVITE" => {}
        "Trying" => {}
        "Proceeding" => h
            .layer
            .send_response(h.now, id, resp(&request, 100))
            .unwrap(),
        "Proceeding180" => h
            .layer
            .send_response(h.now, id, resp(&request, 180))
            .unwrap(),
        "Completed" if method == "INVITE" => h
            .layer
            .send_response(h.now, id, resp(&request, 486))
            .unwrap(),
        "Completed" => h
            .layer
            .send_response(h.now, id, resp(&request, 200))
            .unwrap(),
        "Confirmed" => {
            h.layer
                .send_response(h.now, id, resp(&request, 486))
                .unwrap();
            h.recv(req("ACK", "z9hG4bKs1", 1, "from1", Some("totag1")), udp);
        }
        "Accepted" => h
            .layer
            .send_response(h.now, id, resp(&request, 200))
            .unwrap(),
        other => panic!("no setup for {other}"),
    }
    h.drain();
    id
}

fn apply(
    h: &mut Harness,
    method: &str,
    side_client: bool,
    id: Option<TxnId>,
    input: In,
    udp: bool,
) -> TxnId {
    let branch = if side_client {
        "z9hG4bKc1"
    } else {
        "z9hG4bKs1"
    };
    let request = if method == "INVITE" {
        invite(branch)
    } else {
        options(branch)
    };
    match input {
        Send => return h.layer.send_request(h.now, request, peer(udp)).unwrap(),
        Resp(code) => h.recv(resp(&request, code), udp),
        RespFork(code) => h.recv(resp_tag(&request, code, "totag2"), udp),
        Tu(code) => h
            .layer
            .send_response(h.now, id.unwrap(), resp(&request, code))
            .unwrap(),
        Retrans => h.recv(request, udp),
        Ack => h.recv(req("ACK", branch, 1, "from1", Some("totag1")), udp),
        Ack2xx => h.recv(req("ACK", "z9hG4bKack2xx", 1, "from1", Some("totag1")), udp),
        Fire => {
            h.fire().expect("a timer to fire");
        }
        At(ms) => h.advance_to(ms),
        Err => h.layer.handle_transport_error(
            h.now,
            id.unwrap(),
            TransportError::Closed("reset".into()),
        ),
    }
    id.unwrap()
}

fn run(kind: &str, method: &str, rows: &[Row]) {
    let side_client = kind.starts_with("client");
    for (i, r) in rows.iter().enumerate() {
        let mut h = Harness::new();
        let id = if side_client {
            client(&mut h, method, r.from, r.udp)
        } else {
            Some(server(&mut h, method, r.from, r.udp))
        };
        let id = apply(&mut h, method, side_client, id, r.input, r.udp);
        let (transmits, events) = h.drain();
        let ctx = format!(
            "{kind} row {i}: {} {} + {:?}",
            if r.udp { "UDP" } else { "TCP" },
            r.from,
            r.input
        );
        assert_eq!(transmits, r.transmits, "{ctx}: transmissions");
        assert_eq!(events, r.events, "{ctx}: events");
        assert_eq!(h.layer.state(id), r.state, "{ctx}: next state");
        let next = h
            .layer
            .timers(id)
            .first()
            .map(|(timer, at)| (*timer, h.ms(*at)));
        assert_eq!(next, r.next, "{ctx}: next timer (ms after t0)");
        assert_eq!(h.next_ms(), r.next.map(|(_, ms)| ms), "{ctx}: poll_timeout");
    }
}

#[test]
fn client_invite_transitions() {
    // RFC 3261 §17.1.1.2 (Figure 5) with RFC 6026 §7.2, §8.4 (Accepted, Timer M).
    #[rustfmt::skip]
    const ROWS: &[Row] = &[
        row(UDP, "start", Send, &["INVITE"], &[], Some(Calling), Some((A, 500))), // A = T1
        row(TCP, "start", Send, &["INVITE"], &[], Some(Calling), Some((B, 32_000))), // no A; B = 64·T1
        row(UDP, "Calling", Fire, &["INVITE re"], &[], Some(Calling), Some((A, 1_500))), // A = 2·T1
        row(TCP, "Calling", Fire, &[], &["Timeout B", "Terminated"], None, None),
        row(UDP, "Calling", Resp(100), &[], &["Response 100"], Some(Proceeding), None), // A, B stop
        row(UDP, "Calling", Resp(180), &[], &["Response 180"], Some(Proceeding), None),
        row(UDP, "Calling", Resp(200), &[], &["Response 200"], Some(Accepted), Some((M, 32_000))),
        row(UDP, "Calling", Resp(486), &["ACK"], &["Response 486"], Some(Completed), Some((D, 32_000))),
        row(TCP, "Calling", Resp(486), &["ACK"], &["Response 486", "Terminated"], None, None), // D = 0
        row(UDP, "Calling", Err, &[], &["TransportError", "Terminated"], None, None),
        row(UDP, "Proceeding", Resp(180), &[], &["Response 180"], Some(Proceeding), None),
        row(UDP, "Proceeding", Resp(200), &[], &["Response 200"], Some(Accepted), Some((M, 32_000))),
        row(UDP, "Proceeding", Resp(603), &["ACK"], &["Response 603"], Some(Completed), Some((D, 32_000))),
        row(UDP, "Proceeding", At(600_000), &[], &[], Some(Proceeding), None), // no timer here
        row(UDP, "Completed", Resp(486), &["ACK re"], &[], Some(Completed), Some((D, 32_000))),
        row(UDP, "Completed", Resp(200), &[], &[], Some(Completed), Some((D, 32_000))),
        row(UDP, "Completed", Fire, &[], &["Terminated"], None, None), // Timer D
        row(UDP, "Completed", Err, &[], &["TransportError", "Terminated"], None, None),
        row(UDP, "Accepted", Resp(200), &[], &["Response 200"], Some(Accepted), Some((M, 32_000))),
        row(UDP, "Accepted", RespFork(200), &[], &["Response 200"], Some(Accepted), Some((M, 32_000))),
        row(UDP, "Accepted", Resp(180), &[], &[], Some(Accepted), Some((M, 32_000))),
        row(UDP, "Accepted", Resp(486), &[], &[], Some(Accepted), Some((M, 32_000))),
        row(UDP, "Accepted", Err, &[], &[], Some(Accepted), Some((M, 32_000))),
        row(TCP, "Accepted", Fire, &[], &["Terminated"], None, None), // Timer M
    ];
    run("client INVITE", "INVITE", ROWS);
}

#[test]
fn client_non_invite_transitions() {
    // RFC 3261 §17.1.2.2 (Figure 6).
    #[rustfmt::skip]
    const ROWS: &[Row] = &[
        row(UDP, "start", Send, &["OPTIONS"], &[], Some(Trying), Some((E, 500))), // E = T1
        row(TCP, "start", Send, &["OPTIONS"], &[], Some(Trying), Some((F, 32_000))), // no E; F = 64·T1
        row(UDP, "Trying", Fire, &["OPTIONS re"], &[], Some(Trying), Some((E, 1_500))), // E = 2·T1
        row(TCP, "Trying", Fire, &[], &["Timeout F", "Terminated"], None, None),
        row(UDP, "Trying", Resp(100), &[], &["Response 100"], Some(Proceeding), Some((E, 500))),
        row(UDP, "Trying", Resp(200), &[], &["Response 200"], Some(Completed), Some((K, 5_000))), // K = T4
        row(UDP, "Trying", Resp(404), &[], &["Response 404"], Some(Completed), Some((K, 5_000))),
        row(TCP, "Trying", Resp(200), &[], &["Response 200", "Terminated"], None, None), // K = 0
        row(UDP, "Trying", Err, &[], &["TransportError", "Terminated"], None, None),
        row(UDP, "Proceeding", Fire, &["OPTIONS re"], &[], Some(Proceeding), Some((E, 4_500))), // E = T2
        row(UDP, "Proceeding", Resp(180), &[], &["Response 180"], Some(Proceeding), Some((E, 500))),
        row(UDP, "Proceeding", Resp(500), &[], &["Response 500"], Some(Completed), Some((K, 5_000))),
        row(UDP, "Proceeding", Err, &[], &["TransportError", "Terminated"], None, None),
        row(TCP, "Proceeding", Fire, &[], &["Timeout F", "Terminated"], None, None),
        row(UDP, "Completed", Resp(200), &[], &[], Some(Completed), Some((K, 5_000))),
        row(UDP, "Completed", Resp(100), &[], &[], Some(Completed), Some((K, 5_000))),
        row(UDP, "Completed", Err, &[], &[], Some(Completed), Some((K, 5_000))),
        row(UDP, "Completed", Fire, &[], &["Terminated"], None, None), // Timer K
    ];
    run("client non-INVITE", "OPTIONS", ROWS);
}

#[test]
fn server_invite_transitions() {
    // RFC 3261 §17.2.1 (Figure 7) with RFC 6026 §7.1, §8.5–8.7 (Accepted, Timer L; Figure 7).
    #[rustfmt::skip]
    const ROWS: &[Row] = &[
        row(UDP, "Proceeding", Retrans, &["100 re"], &[], Some(Proceeding), None),
        row(UDP, "Proceeding", Tu(180), &["180"], &[], Some(Proceeding), None),
        row(UDP, "Proceeding180", Retrans, &["180 re"], &[], Some(Proceeding), None),
        row(UDP, "Proceeding", Tu(200), &["200"], &[], Some(Accepted), Some((L, 32_000))), // L = 64·T1
        row(TCP, "Proceeding", Tu(200), &["200"], &[], Some(Accepted), Some((L, 32_000))),
        row(UDP, "Proceeding", Tu(486), &["486"], &[], Some(Completed), Some((G, 500))), // G = T1
        row(TCP, "Proceeding", Tu(486), &["486"], &[], Some(Completed), Some((H, 32_000))), // no G
        row(UDP, "Proceeding", Ack, &[], &[], Some(Proceeding), None),
        row(UDP, "Proceeding", Err, &[], &["TransportError"], Some(Proceeding), None), // RFC 6026 Fig. 7
        row(UDP, "Completed", Retrans, &["486 re"], &[], Some(Completed), Some((G, 500))),
        row(UDP, "Completed", Fire, &["486 re"], &[], Some(Completed), Some((G, 1_500))), // G = 2·T1
        row(UDP, "Completed", Ack, &[], &[], Some(Confirmed), Some((I, 5_000))), // I = T4
        row(TCP, "Completed", Ack, &[], &["Terminated"], None, None), // I = 0
        row(TCP, "Completed", Fire, &[], &["Timeout H", "Terminated"], None, None),
        row(UDP, "Completed", Err, &[], &["TransportError", "Terminated"], None, None),
        row(UDP, "Confirmed", Ack, &[], &[], Some(Confirmed), Some((I, 5_000))),
        row(UDP, "Confirmed", Retrans, &[], &[], Some(Confirmed), Some((I, 5_000))),
        row(UDP, "Confirmed", Fire, &[], &["Terminated"], None, None), // Timer I
        row(UDP, "Accepted", Retrans, &[], &[], Some(Accepted), Some((L, 32_000))), // absorbed
        row(UDP, "Accepted", Tu(200), &["200"], &[], Some(Accepted), Some((L, 32_000))),
        row(UDP, "Accepted", Ack2xx, &[], &["Ack matched"], Some(Accepted), Some((L, 32_000))),
        row(UDP, "Accepted", Ack, &[], &["Ack matched"], Some(Accepted), Some((L, 32_000))),
        row(UDP, "Accepted", Err, &[], &["TransportError"], Some(Accepted), Some((L, 32_000))),
        row(UDP, "Accepted", Fire, &[], &["Terminated"], None, None), // Timer L
    ];
    run("server INVITE", "INVITE", ROWS);
}

#[test]
fn server_non_invite_transitions() {
    // RFC 3261 §17.2.2 (Figure 8).
    #[rustfmt::skip]
    const ROWS: &[Row] = &[
        row(UDP, "Trying", Retrans, &[], &[], Some(Trying), None),
        row(UDP, "Trying", Tu(100), &["100"], &[], Some(Proceeding), None),
        row(UDP, "Trying", Tu(200), &["200"], &[], Some(Completed), Some((J, 32_000))), // J = 64·T1
        row(TCP, "Trying", Tu(200), &["200"], &["Terminated"], None, None), // J = 0
        row(UDP, "Trying", Tu(404), &["404"], &[], Some(Completed), Some((J, 32_000))),
        row(UDP, "Trying", Err, &[], &["TransportError", "Terminated"], None, None),
        row(UDP, "Proceeding", Retrans, &["100 re"], &[], Some(Proceeding), None),
        row(UDP, "Proceeding", Tu(180), &["180"], &[], Some(Proceeding), None),
        row(UDP, "Proceeding", Tu(200), &["200"], &[], Some(Completed), Some((J, 32_000))),
        row(UDP, "Proceeding", Err, &[], &["TransportError", "Terminated"], None, None),
        row(UDP, "Completed", Retrans, &["200 re"], &[], Some(Completed), Some((J, 32_000))),
        row(UDP, "Completed", Err, &[], &["TransportError", "Terminated"], None, None),
        row(UDP, "Completed", Fire, &[], &["Terminated"], None, None), // Timer J
    ];
    run("server non-INVITE", "OPTIONS", ROWS);
}

#[test]
fn new_server_transactions() {
    // RFC 3261 §17.2.1: an INVITE gets 100 Trying at once; §17.2.2: a non-INVITE gets nothing.
    for (method, transmits, state) in [
        ("INVITE", vec!["100"], State::Proceeding),
        ("OPTIONS", vec![], State::Trying),
    ] {
        let mut h = Harness::new();
        let request = if method == "INVITE" {
            invite("z9hG4bKn")
        } else {
            options("z9hG4bKn")
        };
        h.recv(request, UDP);
        let (t, e) = h.drain();
        assert_eq!(t, transmits, "{method}");
        assert_eq!(e, vec![format!("Request {method}")], "{method}");
        assert_eq!(h.layer.len(), 1);
        let id = sip_txn::TxnId(1);
        assert_eq!(h.layer.state(id), Some(state));
        assert_eq!(
            h.next_ms(),
            None,
            "{method}: no timer before the TU answers"
        );
    }
}
