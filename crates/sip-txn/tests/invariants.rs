//! Property test: random sequences of requests, responses, TU answers, timeouts and transport
//! errors. Invariants: no panic; a terminated transaction emits nothing more; `poll_timeout`
//! never lies before `now`; every client transaction ends with exactly one final outcome
//! (its first final response, a timeout, or a transport error before any final response).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use sip_msg::{Message, Method};
use sip_txn::{Event, TransportError, TxnId};

#[derive(Debug, Clone)]
enum Op {
    ClientSend {
        invite: bool,
        udp: bool,
    },
    ServerRecv {
        invite: bool,
        udp: bool,
        cookie: bool,
        same_cseq: bool,
    },
    Response {
        which: usize,
        code: u16,
        fork: bool,
    },
    Retransmit {
        which: usize,
    },
    Ack {
        which: usize,
        for_2xx: bool,
    },
    Cancel {
        which: usize,
    },
    TuRespond {
        which: usize,
        code: u16,
        retransmitting: bool,
    },
    Advance {
        ms: u64,
    },
    TransportErr {
        which: usize,
        client: bool,
    },
    TimerC {
        which: usize,
    },
    ClientCancel {
        which: usize,
    },
    PeerErr {
        udp: bool,
    },
    Benotify,
}

const CODES: &[u16] = &[100, 180, 183, 200, 202, 302, 404, 486, 487, 500, 603];

fn op() -> impl Strategy<Value = Op> {
    let code = proptest::sample::select(CODES);
    prop_oneof![
        (any::<bool>(), any::<bool>()).prop_map(|(invite, udp)| Op::ClientSend { invite, udp }),
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(invite, udp, cookie, same_cseq)| Op::ServerRecv {
                invite,
                udp,
                cookie,
                same_cseq
            }
        ),
        (0..8usize, code.clone(), any::<bool>()).prop_map(|(which, code, fork)| Op::Response {
            which,
            code,
            fork
        }),
        (0..8usize).prop_map(|which| Op::Retransmit { which }),
        (0..8usize, any::<bool>()).prop_map(|(which, for_2xx)| Op::Ack { which, for_2xx }),
        (0..8usize).prop_map(|which| Op::Cancel { which }),
        (0..8usize, code, any::<bool>()).prop_map(|(which, code, retransmitting)| Op::TuRespond {
            which,
            code,
            retransmitting
        }),
        prop_oneof![0..2_000u64, 0..70_000u64].prop_map(|ms| Op::Advance { ms }),
        (0..8usize, any::<bool>()).prop_map(|(which, client)| Op::TransportErr { which, client }),
        (0..8usize).prop_map(|which| Op::TimerC { which }),
        (0..8usize).prop_map(|which| Op::ClientCancel { which }),
        any::<bool>().prop_map(|udp| Op::PeerErr { udp }),
        Just(Op::Benotify),
    ]
}

/// What the test knows about each client transaction's events.
#[derive(Default, Debug)]
struct ClientLog {
    invite: bool,
    outcomes: u32,
    final_seen: bool,
}

struct Model {
    h: Harness,
    clients: Vec<(TxnId, Message, bool)>,
    servers: Vec<(TxnId, Message, bool)>,
    terminated: HashSet<TxnId>,
    /// Every server transaction the layer announced (requests, merged requests, CANCELs).
    announced: Vec<(TxnId, Message)>,
    logs: HashMap<TxnId, ClientLog>,
    n: u32,
}

impl Model {
    fn new() -> Self {
        Model {
            h: Harness::new(),
            clients: Vec::new(),
            servers: Vec::new(),
            terminated: HashSet::new(),
            announced: Vec::new(),
            logs: HashMap::new(),
            n: 0,
        }
    }

    fn pick<T: Clone>(list: &[T], which: usize) -> Option<T> {
        (!list.is_empty()).then(|| list[which % list.len()].clone())
    }

    fn apply(&mut self, op: &Op) {
        let now = self.h.now;
        self.n += 1;
        let n = self.n;
        match *op {
            Op::ClientSend { invite, udp } => {
                let m = if invite { "INVITE" } else { "OPTIONS" };
                let request = req(m, &format!("z9hG4bKc{n}"), n, "cf", None);
                let id = self
                    .h
                    .layer
                    .send_request(now, request.clone(), peer(udp))
                    .unwrap();
                self.logs.insert(
                    id,
                    ClientLog {
                        invite,
                        ..ClientLog::default()
                    },
                );
                self.clients.push((id, request, udp));
            }
            Op::ServerRecv {
                invite,
                udp,
                cookie,
                same_cseq,
            } => {
                let m = if invite { "INVITE" } else { "OPTIONS" };
                let branch = if cookie {
                    format!("z9hG4bKs{n}")
                } else {
                    format!("old{n}")
                };
                let seq = if same_cseq { 1 } else { n };
                let request = req(m, &branch, seq, "sf", None);
                self.h
                    .layer
                    .handle_message(now, request.clone(), peer(udp))
                    .unwrap();
                let events = self.collect();
                if let Some(id) = events.iter().find_map(|e| match e {
                    Event::Request { txn, .. } | Event::MergedRequest { txn, .. } => Some(*txn),
                    _ => None,
                }) {
                    self.servers.push((id, request, udp));
                }
            }
            Op::Response { which, code, fork } => {
                if let Some((_, request, udp)) = Self::pick(&self.clients, which) {
                    let tag = if fork { "fork" } else { "uas" };
                    let r = resp_tag(&request, code, tag);
                    self.h.layer.handle_message(now, r, peer(udp)).unwrap();
                }
            }
            Op::Retransmit { which } => {
                if let Some((_, request, udp)) = Self::pick(&self.servers, which) {
                    self.h
                        .layer
                        .handle_message(now, request, peer(udp))
                        .unwrap();
                }
            }
            Op::Ack { which, for_2xx } => {
                if let Some((_, request, udp)) = Self::pick(&self.servers, which) {
                    let via = request.top_via().unwrap().unwrap();
                    let branch = if for_2xx {
                        format!("z9hG4bKack{n}")
                    } else {
                        via.branch().unwrap().to_owned()
                    };
                    let seq = request.cseq().unwrap().unwrap().seq;
                    let ack = req("ACK", &branch, seq, "sf", Some("uas"));
                    self.h.layer.handle_message(now, ack, peer(udp)).unwrap();
                }
            }
            Op::Cancel { which } => {
                if let Some((_, request, udp)) = Self::pick(&self.servers, which) {
                    let via = request.top_via().unwrap().unwrap();
                    let seq = request.cseq().unwrap().unwrap().seq;
                    let cancel = req("CANCEL", via.branch().unwrap(), seq, "sf", None);
                    self.h.layer.handle_message(now, cancel, peer(udp)).unwrap();
                }
            }
            Op::TuRespond {
                which,
                code,
                retransmitting,
            } => {
                if let Some((id, request, _)) = Self::pick(&self.servers, which) {
                    let r = resp_tag(&request, code, "uas");
                    let _ = if retransmitting {
                        self.h.layer.send_2xx_retransmitting(now, id, r)
                    } else {
                        self.h.layer.send_response(now, id, r)
                    };
                }
            }
            Op::Advance { ms } => {
                self.h.now = now + Duration::from_millis(ms);
                self.h.layer.handle_timeout(self.h.now);
                if let Some(next) = self.h.layer.poll_timeout() {
                    assert!(next > self.h.now, "a due timer survived handle_timeout");
                }
            }
            Op::TransportErr { which, client } => {
                let list = if client { &self.clients } else { &self.servers };
                if let Some((id, _, _)) = Self::pick(list, which) {
                    self.h.layer.handle_transport_error(
                        now,
                        id,
                        TransportError::Closed("x".into()),
                    );
                }
            }
            Op::ClientCancel { which } => {
                if let Some((id, _, udp)) = Self::pick(&self.clients, which)
                    && let Ok(cancel) = self.h.layer.build_cancel(id)
                {
                    // A second CANCEL for the same INVITE is refused (same branch and method).
                    if let Ok(cid) = self.h.layer.send_request(now, cancel.clone(), peer(udp)) {
                        self.logs.insert(cid, ClientLog::default());
                        self.clients.push((cid, cancel, udp));
                    }
                }
            }
            Op::PeerErr { udp } => {
                self.h.layer.handle_peer_error(
                    now,
                    &peer(udp),
                    &TransportError::Closed("x".into()),
                );
            }
            Op::Benotify => {
                let b = req("BENOTIFY", &format!("z9hG4bKb{n}"), n, "bf", Some("t"));
                self.h.layer.handle_message(now, b, peer(true)).unwrap();
            }
            Op::TimerC { which } => {
                if let Some((id, _, _)) = Self::pick(&self.clients, which) {
                    let _ = self.h.layer.arm_timer_c(now, id);
                }
            }
        }
        self.collect();
        if let Some(next) = self.h.layer.poll_timeout() {
            assert!(next >= self.h.now, "poll_timeout is before now");
        }
    }

    /// Drains both queues, checking the per-transaction invariants; returns the events.
    fn collect(&mut self) -> Vec<Event<sip_txn::TransportKey>> {
        for t in self.h.transmits() {
            if let Some(id) = t.txn {
                assert!(
                    !self.terminated.contains(&id),
                    "{id} transmits after Terminated"
                );
            }
            // A client transaction never sends an ACK for a 2xx itself (RFC 6026 §8.4).
            if t.message.method() == Some(&Method::Ack) {
                assert!(t.txn.is_some());
            }
        }
        let events = self.h.events();
        for e in &events {
            if let Event::Request { txn, request, .. }
            | Event::MergedRequest { txn, request, .. }
            | Event::Cancel { txn, request, .. } = e
            {
                self.announced.push((*txn, request.clone()));
            }
            if let Some(id) = e.txn() {
                assert!(
                    !self.terminated.contains(&id),
                    "{id} emits {e:?} after Terminated"
                );
                if let Some(log) = self.logs.get_mut(&id) {
                    match e {
                        Event::Response { response, .. } => {
                            let code = response.status().unwrap();
                            if code >= 200 {
                                if log.final_seen {
                                    assert!(log.invite && code < 300, "second final {code}");
                                } else {
                                    log.final_seen = true;
                                    log.outcomes += 1;
                                }
                            }
                        }
                        Event::Timeout { .. } => {
                            assert!(!log.final_seen, "timeout after a final response");
                            log.outcomes += 1;
                        }
                        Event::TransportError { .. } => {
                            if log.final_seen {
                                assert!(log.invite, "error after final: only the INVITE's ACK");
                            } else {
                                log.outcomes += 1;
                            }
                        }
                        _ => {}
                    }
                }
                if let Event::Terminated { txn } = e {
                    assert!(self.h.layer.state(*txn).is_none());
                    self.terminated.insert(*txn);
                }
            }
        }
        events
    }

    /// Ends every transaction: final responses where one is still awaited, then time passes.
    fn finish(&mut self) {
        for (id, request, udp) in self.clients.clone() {
            if self.h.layer.state(id).is_some() {
                let r = resp_tag(&request, 487, "end");
                self.h
                    .layer
                    .handle_message(self.h.now, r, peer(udp))
                    .unwrap();
            }
        }
        for (id, request) in self.announced.clone() {
            if self.h.layer.state(id).is_some() {
                let _ = self
                    .h
                    .layer
                    .send_response(self.h.now, id, resp_tag(&request, 500, "end"));
            }
        }
        self.collect();
        for _ in 0..3 {
            self.h.now += Duration::from_secs(600);
            self.h.layer.handle_timeout(self.h.now);
            self.collect();
        }
    }
}

proptest! {
    // 256 cases by default; PROPTEST_CASES raises it.

    #[test]
    fn random_sequences_keep_the_invariants(ops in proptest::collection::vec(op(), 1..60)) {
        let mut m = Model::new();
        for op in &ops {
            m.apply(op);
        }
        m.finish();
        for (id, log) in &m.logs {
            prop_assert!(m.terminated.contains(id), "{id} never terminated: {log:?}");
            prop_assert_eq!(log.outcomes, 1, "{} outcome events: {:?}", id, log);
        }
        for (id, _) in &m.announced {
            prop_assert!(m.terminated.contains(id), "server {} never terminated", id);
        }
        prop_assert!(m.h.layer.is_empty(), "{} transactions leaked", m.h.layer.len());
        prop_assert_eq!(m.h.layer.poll_timeout(), None);
    }
}
