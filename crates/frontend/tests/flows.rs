//! The front end core driven by hand on a virtual clock: registration with Digest, the proxy's
//! forking, CANCEL, best response, rejections and their diagnostics. Peers are plain values
//! (the core is pure); the same flows run over real sockets in the `convene` crate's tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use frontend::{
    Directory, FrontEnd, FrontEndConfig, Locator, Now, ResolveRequest, Resolved, Transport, User,
};
use registrar::{Aor, FlowId};
use sip_auth::{Algorithm, RequestTarget, answer_challenge, ha1};
use sip_msg::{HeaderName, Message, SipUri};
use sip_txn::Peer;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop {
    tcp: bool,
    addr: SocketAddr,
}

impl Peer for Hop {
    fn is_reliable(&self) -> bool {
        self.tcp
    }
}

impl Transport for Hop {
    fn via_transport(&self) -> &'static str {
        if self.tcp { "TCP" } else { "UDP" }
    }
    fn remote(&self) -> SocketAddr {
        self.addr
    }
    fn flow(&self) -> Option<FlowId> {
        None
    }
}

#[derive(Debug)]
struct Loc;

impl Locator<Hop> for Loc {
    fn locate(&self, uri: &SipUri) -> Option<Hop> {
        let ip = match &uri.host {
            sip_msg::Host::V4(a) => std::net::IpAddr::V4(*a),
            _ => return None,
        };
        Some(Hop {
            tcp: uri
                .transport()
                .is_some_and(|t| t.eq_ignore_ascii_case("tcp")),
            addr: SocketAddr::new(ip, uri.port.unwrap_or(5060)),
        })
    }
    fn sent_by(&self, _: &Hop) -> String {
        "127.0.0.1:5060".into()
    }
    fn reliable_alternative(&self, hop: &Hop) -> Option<Hop> {
        Some(Hop {
            tcp: true,
            addr: hop.addr,
        })
    }
    // Names under partner.test stand for domains the I/O layer would look up in DNS.
    fn resolvable(&self, uri: &SipUri) -> bool {
        matches!(&uri.host, sip_msg::Host::Domain(d) if d.ends_with("partner.test"))
    }
}

struct Net {
    seq: u32,
    fe: FrontEnd<Hop, Loc>,
    now: Now,
    start: Instant,
}

const ALICE: &str = "192.0.2.10:5060";
const BOB1: &str = "192.0.2.21:5060";
const BOB2: &str = "192.0.2.22:5060";

fn user(name: &str) -> User {
    User {
        aor: Aor::new(name, "example.test"),
        username: name.into(),
        realm: "example.test".into(),
        ha1: vec![
            ha1(name, "example.test", &format!("{name}-dev"), Algorithm::Md5),
            ha1(
                name,
                "example.test",
                &format!("{name}-dev"),
                Algorithm::Sha256,
            ),
        ],
    }
}

fn udp(a: &str) -> Hop {
    Hop {
        tcp: false,
        addr: a.parse().unwrap(),
    }
}

impl Net {
    fn new() -> Net {
        let mut users = Directory::new();
        for u in ["alice", "bob", "carol"] {
            users.insert(user(u));
        }
        let mut cfg = FrontEndConfig::new(
            "fe.example.test",
            &["example.test".to_string()],
            b"0123456789abcdef0123456789abcdef",
        );
        cfg.listen = vec!["127.0.0.1:5060".parse().unwrap()];
        let start = Instant::now();
        Net {
            seq: 0,
            fe: FrontEnd::new(cfg, users, Loc).unwrap(),
            now: Now {
                mono: start,
                wall_ms: 1_800_000_000_000,
            },
            start,
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now.mono += d;
        self.now.wall_ms += u64::try_from(d.as_millis()).unwrap();
        self.fe.handle_timeout(self.now);
    }

    fn send(&mut self, text: &str, from: &str) -> Vec<(Hop, Message)> {
        let msg = Message::parse(text.replace('\n', "\r\n").into_bytes()).unwrap();
        self.feed(msg, from)
    }

    fn feed(&mut self, msg: Message, from: &str) -> Vec<(Hop, Message)> {
        self.fe.handle_message(self.now, msg, udp(from));
        self.drain()
    }

    fn resolutions(&mut self) -> Vec<ResolveRequest> {
        std::iter::from_fn(|| self.fe.poll_resolve()).collect()
    }

    fn answer(&mut self, r: &ResolveRequest, result: Resolved<Hop>) -> Vec<(Hop, Message)> {
        self.fe.handle_resolved(self.now, r.id, result);
        self.drain()
    }

    fn drain(&mut self) -> Vec<(Hop, Message)> {
        let mut out = Vec::new();
        while let Some(t) = self.fe.poll_transmit() {
            out.push((t.to, t.message));
        }
        out
    }

    /// REGISTER `name` with `contact`, answering the 401; returns the final response.
    fn register(&mut self, name: &str, contact: &str, from: &str, password: &str) -> Message {
        self.register_with(name, contact, from, password, "")
    }

    /// As `register`, with text appended to the Contact value and extra header lines.
    fn register_with(
        &mut self,
        name: &str,
        contact: &str,
        from: &str,
        password: &str,
        extra: &str,
    ) -> Message {
        let (contact_params, headers) = extra.split_once('|').unwrap_or((extra, ""));
        self.seq += 2;
        let (s1, s2) = (self.seq - 1, self.seq);
        let req = format!(
            "REGISTER sip:example.test SIP/2.0\nVia: SIP/2.0/UDP {from};branch=z9hG4bKr1{name}{contact}.{s1}\nMax-Forwards: 70\nFrom: <sip:{name}@example.test>;tag=r{name}\nTo: <sip:{name}@example.test>\nCall-ID: reg-{name}-{contact}\nCSeq: {s1} REGISTER\nContact: <sip:{name}@{contact}>{contact_params}\nExpires: 600\n{headers}Content-Length: 0\n\n"
        );
        let out = self.send(&req, from);
        let r401 = &out[0].1;
        if r401.status() != Some(401) {
            return r401.clone();
        }
        let challenge = r401.www_authenticate().unwrap().remove(0);
        let creds = answer_challenge(
            &challenge,
            name,
            password,
            &RequestTarget {
                method: "REGISTER",
                uri: "sip:example.test",
            },
            "c0ffee",
            1,
        )
        .unwrap();
        let mut again = Message::parse(
            req.replace("z9hG4bKr1", "z9hG4bKr2")
                .replace(&format!("CSeq: {s1} "), &format!("CSeq: {s2} "))
                .replace('\n', "\r\n")
                .into_bytes(),
        )
        .unwrap();
        again.prepend(HeaderName::Authorization, creds);
        let out = self.feed(again, from);
        out.into_iter().next().unwrap().1
    }

    /// Sends an INVITE from alice (authenticating on the 407) to `target`.
    fn invite(&mut self, target: &str, call_id: &str) -> Vec<(Hop, Message)> {
        let req = format!(
            "INVITE {target} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKi1{call_id}\nMax-Forwards: 70\nFrom: <sip:alice@example.test>;tag=a1\nTo: <{target}>\nCall-ID: {call_id}\nCSeq: 1 INVITE\nContact: <sip:alice@{ALICE}>\nContent-Length: 0\n\n"
        );
        let out = self.send(&req, ALICE);
        let r407 = out
            .iter()
            .find(|(_, m)| m.status() == Some(407))
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| panic!("no 407 in {out:?}"));
        // RFC 3261 §17.1.1.3: the UAC ACKs the 407.
        let ack = format!(
            "ACK {target} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKi1{call_id}\nMax-Forwards: 70\nFrom: <sip:alice@example.test>;tag=a1\nTo: {}\nCall-ID: {call_id}\nCSeq: 1 ACK\nContent-Length: 0\n\n",
            r407.header(&HeaderName::To).unwrap().value_str()
        );
        assert!(self.send(&ack, ALICE).is_empty());
        let challenge = r407.proxy_authenticate().unwrap().remove(0);
        let creds = answer_challenge(
            &challenge,
            "alice",
            "alice-dev",
            &RequestTarget {
                method: "INVITE",
                uri: target,
            },
            "cafe",
            1,
        )
        .unwrap();
        let mut again = Message::parse(
            req.replace("z9hG4bKi1", "z9hG4bKi2")
                .replace("CSeq: 1", "CSeq: 2")
                .replace('\n', "\r\n")
                .into_bytes(),
        )
        .unwrap();
        again.prepend(HeaderName::ProxyAuthorization, creds);
        self.feed(again, ALICE)
    }
}

fn respond(req: &Message, code: u16, tag: &str) -> Message {
    Message::response_to(req, code, sip_msg::default_reason(code), Some(tag))
}

fn diag_code(m: &Message) -> u32 {
    m.ms_diagnostics().unwrap()[0].code
}

// RFC 3261 §10.3 and §22: challenge, then the binding.
#[test]
fn register_with_digest_then_lookup() {
    let mut n = Net::new();
    let ok = n.register("bob", BOB1, BOB1, "bob-dev");
    assert_eq!(ok.status(), Some(200), "{ok}");
    let b = n.fe.registrar().lookup(
        registrar::Time(n.now.wall_ms),
        &Aor::new("bob", "example.test"),
    );
    assert_eq!(b.len(), 1);
    let dirty = n.fe.take_dirty(n.now);
    assert_eq!(dirty.len(), 1);
    assert_eq!(dirty[0].1.len(), 1);
    assert!(n.fe.take_dirty(n.now).is_empty());
    let trace = n.fe.trace(&format!("reg-bob-{BOB1}")).unwrap();
    assert!(
        trace
            .iter()
            .any(|l| l.text.contains("authenticated as sip:bob@example.test")),
        "{trace:?}"
    );
}

// No user enumeration: unknown user and wrong password get the same answer.
#[test]
fn unknown_user_and_wrong_password_look_the_same() {
    let mut n = Net::new();
    let wrong = n.register("bob", BOB1, BOB1, "guess");
    let unknown = n.register("mallory", BOB2, BOB2, "guess");
    assert_eq!(wrong.status(), Some(401));
    assert_eq!(unknown.status(), Some(401));
    let shape = |m: &Message| {
        m.headers()
            .iter()
            .map(|h| h.name().as_str().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&wrong), shape(&unknown));
    assert_eq!(
        wrong.www_authenticate().unwrap().len(),
        unknown.www_authenticate().unwrap().len()
    );
}

// Failures from one source are throttled: 403 with ms-diagnostics 60015.
#[test]
fn repeated_failures_are_throttled() {
    let mut n = Net::new();
    let mut last = None;
    for _ in 0..12 {
        let m = n.register("bob", BOB1, BOB1, "guess");
        last = Some(m);
        n.advance(Duration::from_millis(10));
    }
    let last = last.unwrap();
    // The 401 of the first leg is the throttled 403 once the burst is spent.
    assert!(
        n.fe.stats().throttled > 0,
        "stats {:?}, last {last}",
        n.fe.stats()
    );
    let m = n.send(
        "REGISTER sip:example.test SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKthr\nMax-Forwards: 70\nFrom: <sip:bob@example.test>;tag=t\nTo: <sip:bob@example.test>\nCall-ID: thr\nCSeq: 1 REGISTER\nContent-Length: 0\n\n",
        BOB1,
    );
    assert_eq!(m[0].1.status(), Some(403));
    assert_eq!(diag_code(&m[0].1), 60015);
    // Another source is not affected.
    let ok = n.register("carol", "192.0.2.30:5060", "192.0.2.30:5060", "carol-dev");
    assert_eq!(ok.status(), Some(200));
}

// RFC 3261 §16.6–16.7, §16.10: parallel fork, 2xx upstream, the other branch cancelled.
#[test]
fn invite_forks_and_the_loser_is_cancelled() {
    let mut n = Net::new();
    assert_eq!(n.register("bob", BOB1, BOB1, "bob-dev").status(), Some(200));
    assert_eq!(n.register("bob", BOB2, BOB2, "bob-dev").status(), Some(200));
    let out = n.invite("sip:bob@example.test", "fork-1");
    let branches: Vec<_> = out
        .iter()
        .filter(|(_, m)| m.is_request())
        .cloned()
        .collect();
    assert_eq!(branches.len(), 2, "{out:?}");
    let trying = out.iter().find(|(_, m)| m.status() == Some(100));
    assert!(trying.is_some(), "100 Trying goes upstream at once");
    for (hop, m) in &branches {
        assert_eq!(m.max_forwards().unwrap(), Some(69));
        let rr = m.record_routes().unwrap();
        assert_eq!(rr[0].uri.to_string(), "sip:127.0.0.1:5060;transport=udp;lr");
        assert!(m.proxy_authorization().unwrap().len() == 1 || m.proxy_authorization().is_ok());
        assert_eq!(m.vias().unwrap().len(), 2);
        let uri = m.uri().unwrap().to_string();
        assert_eq!(uri, format!("sip:bob@{}", hop.addr));
    }
    // Both ring; the first answers.
    let (h1, inv1) = branches[0].clone();
    let (h2, inv2) = branches[1].clone();
    let up = n.feed(respond(&inv1, 180, "b1"), &h1.addr.to_string());
    assert_eq!(up[0].1.status(), Some(180));
    assert_eq!(up[0].1.vias().unwrap().len(), 1, "our Via is removed");
    n.feed(respond(&inv2, 180, "b2"), &h2.addr.to_string());
    let up = n.feed(respond(&inv1, 200, "b1"), &h1.addr.to_string());
    let ok = up.iter().find(|(_, m)| m.status() == Some(200)).unwrap();
    assert_eq!(ok.0.addr.to_string(), ALICE);
    let cancel = up
        .iter()
        .find(|(_, m)| m.method() == Some(&sip_msg::Method::Cancel))
        .expect("the ringing branch is cancelled");
    assert_eq!(cancel.0, h2);
    assert_eq!(
        cancel.1.top_via().unwrap().unwrap().branch(),
        inv2.top_via().unwrap().unwrap().branch()
    );
    // The cancelled branch ends with 487, which is not forwarded after the 200.
    let up = n.feed(respond(&inv2, 487, "b2"), &h2.addr.to_string());
    assert!(up.iter().all(|(h, _)| h == &h2), "{up:?}");
    let trace = n.fe.trace("fork-1").unwrap();
    let text: Vec<_> = trace.iter().map(|l| l.text.as_str()).collect();
    assert!(
        text.iter()
            .any(|t| t.starts_with("forked to sip:bob@192.0.2.21")),
        "{text:?}"
    );
    assert!(text.iter().any(|t| t.starts_with("200 from")), "{text:?}");
}

// RFC 3261 §16.10: the caller's CANCEL cancels every branch; 487 goes upstream.
#[test]
fn caller_cancel_reaches_every_branch() {
    let mut n = Net::new();
    n.register("bob", BOB1, BOB1, "bob-dev");
    let out = n.invite("sip:bob@example.test", "cancel-1");
    let (hop, inv) = out.iter().find(|(_, m)| m.is_request()).cloned().unwrap();
    n.feed(respond(&inv, 180, "b1"), &hop.addr.to_string());
    let cancel = format!(
        "CANCEL sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKi2cancel-1\nMax-Forwards: 70\nFrom: <sip:alice@example.test>;tag=a1\nTo: <sip:bob@example.test>\nCall-ID: cancel-1\nCSeq: 2 CANCEL\nContent-Length: 0\n\n"
    );
    let out = n.send(&cancel, ALICE);
    assert!(out.iter().any(|(_, m)| m.status() == Some(200)), "{out:?}");
    let c = out
        .iter()
        .find(|(_, m)| m.method() == Some(&sip_msg::Method::Cancel))
        .expect("CANCEL downstream");
    assert_eq!(c.0, hop);
    let up = n.feed(respond(&inv, 487, "b1"), &hop.addr.to_string());
    assert!(
        up.iter()
            .any(|(h, m)| m.status() == Some(487) && h.addr.to_string() == ALICE)
    );
}

#[test]
fn unregistered_unknown_and_foreign_targets() {
    let mut n = Net::new();
    // carol exists, is not registered: 480 with 60016.
    let out = n.invite("sip:carol@example.test", "c-480");
    let r = out.iter().find(|(_, m)| m.status() == Some(480)).unwrap();
    assert_eq!(diag_code(&r.1), 60016);
    // Authenticated caller, unknown user: 404 with 1003.
    let out = n.invite("sip:dave@example.test", "c-404");
    let r = out.iter().find(|(_, m)| m.status() == Some(404)).unwrap();
    assert_eq!(diag_code(&r.1), 1003);
    // An outsider asking for an unknown user learns nothing: the 480 of an offline user.
    let out = n.send(
        "INVITE sip:dave@example.test SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKx1\nMax-Forwards: 70\nFrom: <sip:eve@elsewhere.test>;tag=e\nTo: <sip:dave@example.test>\nCall-ID: c-out\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        "198.51.100.1:5060",
    );
    let r = out
        .iter()
        .find(|(_, m)| m.status().is_some_and(|s| s >= 300))
        .unwrap();
    assert_eq!(r.1.status(), Some(480));
    assert_eq!(diag_code(&r.1), 60016);
}

// No open relay: an outsider cannot reach a foreign domain through us.
#[test]
fn relay_to_a_foreign_domain_is_refused() {
    let mut n = Net::new();
    let out = n.send(
        "MESSAGE sip:victim@192.0.2.99 SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKrel\nMax-Forwards: 70\nFrom: <sip:spam@elsewhere.test>;tag=e\nTo: <sip:victim@192.0.2.99>\nCall-ID: relay-1\nCSeq: 1 MESSAGE\nContent-Type: text/plain\nContent-Length: 2\n\nhi",
        "198.51.100.1:5060",
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].1.status(), Some(403));
    assert_eq!(diag_code(&out[0].1), 60017);
    // The same request claiming to be a local user is challenged instead.
    let out = n.send(
        "MESSAGE sip:victim@192.0.2.99 SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKrel2\nMax-Forwards: 70\nFrom: <sip:alice@example.test>;tag=e\nTo: <sip:victim@192.0.2.99>\nCall-ID: relay-2\nCSeq: 1 MESSAGE\nContent-Length: 0\n\n",
        "198.51.100.1:5060",
    );
    assert_eq!(out[0].1.status(), Some(407));
}

// RFC 3428: MESSAGE is routed like INVITE; the first 200 goes upstream.
#[test]
fn message_reaches_a_registered_user() {
    let mut n = Net::new();
    n.register("bob", BOB1, BOB1, "bob-dev");
    let req = format!(
        "MESSAGE sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKm1\nMax-Forwards: 70\nFrom: <sip:alice@example.test>;tag=a1\nTo: <sip:bob@example.test>\nCall-ID: im-1\nCSeq: 1 MESSAGE\nContent-Type: text/plain\nContent-Length: 5\n\nhello"
    );
    let out = n.send(&req, ALICE);
    let r407 = out[0].1.clone();
    assert_eq!(r407.status(), Some(407));
    let creds = answer_challenge(
        &r407.proxy_authenticate().unwrap()[0],
        "alice",
        "alice-dev",
        &RequestTarget {
            method: "MESSAGE",
            uri: "sip:bob@example.test",
        },
        "c1",
        1,
    )
    .unwrap();
    let mut again = Message::parse(
        req.replace("z9hG4bKm1", "z9hG4bKm2")
            .replace("CSeq: 1", "CSeq: 2")
            .replace('\n', "\r\n")
            .into_bytes(),
    )
    .unwrap();
    again.prepend(HeaderName::ProxyAuthorization, creds);
    let out = n.feed(again, ALICE);
    assert_eq!(out.len(), 1);
    let (hop, m) = out[0].clone();
    assert_eq!(hop.addr.to_string(), BOB1);
    assert_eq!(&m.body()[..], b"hello");
    assert!(
        m.record_routes().unwrap().is_empty(),
        "MESSAGE makes no dialog"
    );
    let up = n.feed(respond(&m, 200, "b"), BOB1);
    assert_eq!(up[0].1.status(), Some(200));
    assert_eq!(up[0].0.addr.to_string(), ALICE);
}

// RFC 3261 §16.3 steps 3 and 4.
#[test]
fn hop_limit_and_loops() {
    let mut n = Net::new();
    let out = n.send(
        "OPTIONS sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKmf\nMax-Forwards: 0\nFrom: <sip:x@elsewhere.test>;tag=e\nTo: <sip:bob@example.test>\nCall-ID: mf\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
        "198.51.100.1:5060",
    );
    assert_eq!(out[0].1.status(), Some(483));
    assert_eq!(diag_code(&out[0].1), 60019);

    // A request we forwarded comes back unchanged: 482.
    n.register("bob", "127.0.0.1:5060", BOB1, "bob-dev");
    let req = "MESSAGE sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKlp\nMax-Forwards: 70\nFrom: <sip:x@elsewhere.test>;tag=e\nTo: <sip:bob@example.test>\nCall-ID: loop\nCSeq: 1 MESSAGE\nContent-Length: 0\n\n";
    let out = n.send(req, "198.51.100.1:5060");
    let (_, fwd) = out.iter().find(|(_, m)| m.is_request()).cloned().unwrap();
    // It arrives again with the R-URI rewritten: a spiral, not a loop (here refused as a relay
    // attempt, since the sender is an outsider and the new R-URI is no served domain).
    let again = n.feed(fwd.clone(), "127.0.0.1:5060");
    let r = again.iter().find(|(_, m)| m.status().is_some()).unwrap();
    assert_eq!(r.1.status(), Some(403), "spiral: {again:?}");
    // Now the same request with the original R-URI and our Via: a loop.
    let mut looped = Message::parse(req.replace('\n', "\r\n").into_bytes()).unwrap();
    // (Another branch number, or it would be a retransmission of the spiral above.)
    let ours = fwd
        .header(&HeaderName::Via)
        .unwrap()
        .value_str()
        .into_owned();
    let (head, _) = ours.split_once(".1;").unwrap();
    looped.prepend(HeaderName::Via, format!("{head}.99;rport"));
    let out = n.feed(looped, "127.0.0.1:5060");
    let r = out.iter().find(|(_, m)| m.status().is_some()).unwrap();
    assert_eq!(r.1.status(), Some(482));
    assert_eq!(diag_code(&r.1), 60018);
}

// A branch that never answers ends as 408 after Timer B (RFC 3261 §16.7 step 6: synthesized).
#[test]
fn silent_target_gives_408() {
    let mut n = Net::new();
    n.register("bob", BOB1, BOB1, "bob-dev");
    let out = n.invite("sip:bob@example.test", "silent");
    assert!(out.iter().any(|(_, m)| m.is_request()));
    let mut upstream = Vec::new();
    for _ in 0..80 {
        n.advance(Duration::from_millis(500));
        upstream.extend(
            n.drain().into_iter().filter(|(h, m)| {
                h.addr.to_string() == ALICE && m.status().is_some_and(|s| s >= 300)
            }),
        );
        if !upstream.is_empty() {
            break;
        }
    }
    assert_eq!(upstream[0].1.status(), Some(408), "{upstream:?}");
    assert!(n.now.mono - n.start >= Duration::from_secs(32));
}

// RFC 3261 §11: OPTIONS to the server is answered by it.
#[test]
fn options_to_the_server() {
    let mut n = Net::new();
    let out = n.send(
        "OPTIONS sip:127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKo\nMax-Forwards: 70\nFrom: <sip:x@elsewhere.test>;tag=e\nTo: <sip:127.0.0.1>\nCall-ID: opt\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
        "192.0.2.5:5060",
    );
    assert_eq!(out[0].1.status(), Some(200));
    assert!(
        out[0]
            .1
            .allow()
            .unwrap()
            .contains(&sip_msg::Method::Message)
    );
    // Stateless (RFC 3261 §8.2.7): no transaction is left waiting for Timer J, and a
    // retransmission gets the same answer made again.
    assert_eq!(n.fe.poll_timeout(), None);
    let again = n.send(
        "OPTIONS sip:127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKo\nMax-Forwards: 70\nFrom: <sip:x@elsewhere.test>;tag=e\nTo: <sip:127.0.0.1>\nCall-ID: opt\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
        "192.0.2.5:5060",
    );
    assert_eq!(again[0].1.status(), Some(200));
    assert_eq!(again[0].1.to_bytes(), out[0].1.to_bytes());
}

// The in-dialog ACK and BYE follow the Record-Route we put in (loose routing, RFC 3261 §16.4).
#[test]
fn in_dialog_requests_follow_the_route_set() {
    let mut n = Net::new();
    n.register("bob", BOB1, BOB1, "bob-dev");
    let out = n.invite("sip:bob@example.test", "dlg");
    let (hop, inv) = out.iter().find(|(_, m)| m.is_request()).cloned().unwrap();
    n.feed(respond(&inv, 200, "b1"), &hop.addr.to_string());
    let ack = format!(
        "ACK sip:bob@{BOB1} SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKack\nMax-Forwards: 70\nRoute: <sip:127.0.0.1:5060;transport=udp;lr>\nFrom: <sip:alice@example.test>;tag=a1\nTo: <sip:bob@example.test>;tag=b1\nCall-ID: dlg\nCSeq: 2 ACK\nContent-Length: 0\n\n"
    );
    let out = n.send(&ack, ALICE);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0.addr.to_string(), BOB1);
    assert!(out[0].1.routes().unwrap().is_empty());
    let bye = ack
        .replace("ACK sip", "BYE sip")
        .replace("CSeq: 2 ACK", "CSeq: 3 BYE")
        .replace("z9hG4bKack", "z9hG4bKbye");
    let out = n.send(&bye, ALICE);
    let (h, b) = out.iter().find(|(_, m)| m.is_request()).cloned().unwrap();
    assert_eq!(h.addr.to_string(), BOB1);
    let up = n.feed(respond(&b, 200, "b1"), BOB1);
    assert_eq!(up[0].1.status(), Some(200));
    // Without our Route, an in-dialog request to a foreign address is a relay attempt.
    let stray = bye
        .replace("Route: <sip:127.0.0.1:5060;transport=udp;lr>\r\n", "")
        .replace("Route: <sip:127.0.0.1:5060;transport=udp;lr>\n", "")
        .replace("z9hG4bKbye", "z9hG4bKstray");
    let out = n.send(&stray, "198.51.100.7:5060");
    assert_eq!(
        out[0].1.status(),
        Some(407),
        "claims a local From: challenged"
    );
}

// Keep-alive pingers address the server with a user part: `OPTIONS sip:ping@<address>`.
#[test]
fn options_to_the_server_address_with_a_user_part() {
    let mut n = Net::new();
    let out = n.send(
        "OPTIONS sip:fe@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKo2\nMax-Forwards: 70\nFrom: <sip:sipsak@192.0.2.5>;tag=e\nTo: <sip:fe@127.0.0.1:5060>\nCall-ID: opt2\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
        "192.0.2.5:5060",
    );
    assert_eq!(out[0].1.status(), Some(200), "{}", out[0].1);
}

// RFC 5627 §8.4.2: a request to a GRUU reaches exactly the endpoint it names, not every one.
#[test]
fn a_gruu_reaches_one_endpoint() {
    let mut n = Net::new();
    let ok = n.register_with(
        "bob",
        BOB1,
        BOB1,
        "bob-dev",
        ";+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"|Supported: gruu\n",
    );
    assert_eq!(ok.status(), Some(200), "{ok}");
    let gruu = ok.contacts().unwrap().iter().find_map(|c| match c {
        sip_msg::Contact::Addr(a) => a.pub_gruu().map(str::to_owned),
        sip_msg::Contact::Star => None,
    });
    let gruu = gruu.expect("the 200 OK carries pub-gruu");
    assert_eq!(n.register("bob", BOB2, BOB2, "bob-dev").status(), Some(200));
    let out = n.invite(&gruu, "gruu-1");
    let branches: Vec<_> = out.iter().filter(|(_, m)| m.is_request()).collect();
    assert_eq!(branches.len(), 1, "{out:?}");
    assert_eq!(branches[0].0.addr.to_string(), BOB1);
}

// RFC 5658 §3.4: arriving over one transport and leaving over another, the proxy puts in two
// Record-Route entries, the callee's side on top.
#[test]
fn a_transport_change_gets_a_double_record_route() {
    let mut n = Net::new();
    n.register("bob", BOB1, BOB1, "bob-dev");
    let req = "INVITE sip:bob@example.test SIP/2.0\nVia: SIP/2.0/TCP 198.51.100.1:5060;branch=z9hG4bKtcp\nMax-Forwards: 70\nFrom: <sip:eve@elsewhere.test>;tag=e\nTo: <sip:bob@example.test>\nCall-ID: drr\nCSeq: 1 INVITE\nContent-Length: 0\n\n".to_string();
    let msg = Message::parse(req.replace('\n', "\r\n").into_bytes()).unwrap();
    n.fe.handle_message(
        n.now,
        msg,
        Hop {
            tcp: true,
            addr: "198.51.100.1:5060".parse().unwrap(),
        },
    );
    let out = n.drain();
    let (_, fwd) = out.iter().find(|(_, m)| m.is_request()).unwrap();
    let rr: Vec<String> = fwd
        .record_routes()
        .unwrap()
        .iter()
        .map(|r| r.uri.to_string())
        .collect();
    assert_eq!(
        rr,
        [
            "sip:127.0.0.1:5060;transport=udp;lr",
            "sip:127.0.0.1:5060;transport=tcp;lr"
        ]
    );
}

// The per-user binding limit refuses one more endpoint (403, 60021) and changes nothing.
#[test]
fn the_binding_limit_is_enforced() {
    let mut n = Net::new();
    for i in 0..20 {
        let contact = format!("192.0.2.{}:5060", 100 + i);
        assert_eq!(
            n.register("bob", &contact, BOB1, "bob-dev").status(),
            Some(200)
        );
    }
    let refused = n.register("bob", "192.0.2.200:5060", BOB1, "bob-dev");
    assert_eq!(refused.status(), Some(403));
    assert_eq!(diag_code(&refused), 60021);
    let now = registrar::Time(n.now.wall_ms);
    assert_eq!(
        n.fe.registrar()
            .lookup(now, &Aor::new("bob", "example.test"))
            .len(),
        20
    );
    // Refreshing an existing one is still fine.
    assert_eq!(
        n.register("bob", "192.0.2.100:5060", BOB1, "bob-dev")
            .status(),
        Some(200)
    );
}

// RFC 3261 §18.1.1: a request too large for UDP goes over TCP, and its Via says so.
#[test]
fn a_large_request_switches_to_tcp() {
    let mut n = Net::new();
    n.register("bob", BOB1, BOB1, "bob-dev");
    let body = "x".repeat(1500);
    let req = format!(
        "MESSAGE sip:bob@example.test SIP/2.0\nVia: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKbig\nMax-Forwards: 70\nFrom: <sip:eve@elsewhere.test>;tag=e\nTo: <sip:bob@example.test>\nCall-ID: big\nCSeq: 1 MESSAGE\nContent-Type: text/plain\nContent-Length: {}\n\n{body}",
        body.len()
    );
    let out = n.send(&req, "198.51.100.1:5060");
    let (hop, m) = out.iter().find(|(_, m)| m.is_request()).unwrap();
    assert!(hop.tcp, "{hop:?}");
    assert!(
        m.header(&HeaderName::Via)
            .unwrap()
            .value_str()
            .starts_with("SIP/2.0/TCP ")
    );
    let trace = n.fe.trace("big").unwrap();
    assert!(
        trace.iter().any(|l| l.text.contains("§18.1.1")),
        "{trace:?}"
    );
    // A small one stays on UDP.
    let out = n.send(
        &req.replace(&body, "hi")
            .replace("Content-Length: 1500", "Content-Length: 2")
            .replace("z9hG4bKbig", "z9hG4bKsmall")
            .replace("Call-ID: big", "Call-ID: small"),
        "198.51.100.1:5060",
    );
    let (hop, _) = out.iter().find(|(_, m)| m.is_request()).unwrap();
    assert!(!hop.tcp);
}

fn tcp(a: &str) -> Hop {
    Hop {
        tcp: true,
        addr: a.parse().unwrap(),
    }
}

fn trace_text(n: &Net, call_id: &str) -> String {
    n.fe.trace(call_id)
        .unwrap()
        .iter()
        .map(|l| l.text.clone())
        .collect::<Vec<_>>()
        .join("\n")
}

fn upstream_final(out: &[(Hop, Message)]) -> Option<Message> {
    out.iter()
        .find(|(h, m)| h.addr.to_string() == ALICE && m.status().is_some_and(|s| s >= 200))
        .map(|(_, m)| m.clone())
}

// RFC 3263 §4: a host name is resolved before the branch starts; §4.3: a 503 (or no answer)
// sends the request to the next address resolution gave.
#[test]
fn a_domain_is_resolved_and_the_next_address_tried_after_a_503() {
    let mut n = Net::new();
    let out = n.invite("sip:dave@partner.test", "dns-1");
    assert!(!out.iter().any(|(_, m)| m.is_request()), "{out:?}");
    let asked = n.resolutions();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].uri.to_string(), "sip:dave@partner.test");
    let out = n.answer(
        &asked[0],
        Resolved::Targets {
            hops: vec![tcp("192.0.2.50:5060"), tcp("192.0.2.51:5060")],
            detail: "SRV _sip._tcp.partner.test".into(),
        },
    );
    let (hop, first) = out.iter().find(|(_, m)| m.is_request()).unwrap().clone();
    assert_eq!(hop, tcp("192.0.2.50:5060"));
    assert_eq!(first.uri().unwrap().to_string(), "sip:dave@partner.test");
    let out = n.feed(respond(&first, 503, "gw1"), "192.0.2.50:5060");
    let (hop, second) = out
        .iter()
        .find(|(_, m)| m.is_request() && m.method() == Some(&sip_msg::Method::Invite))
        .unwrap()
        .clone();
    assert_eq!(hop, tcp("192.0.2.51:5060"));
    assert_ne!(
        first.vias().unwrap()[0].branch(),
        second.vias().unwrap()[0].branch(),
        "a new branch for the new address"
    );
    assert!(
        upstream_final(&out).is_none(),
        "no final upstream yet: {out:?}"
    );
    let out = n.feed(respond(&second, 200, "gw2"), "192.0.2.51:5060");
    assert_eq!(upstream_final(&out).unwrap().status(), Some(200));
    let t = trace_text(&n, "dns-1");
    assert!(
        t.contains("resolving sip:dave@partner.test with DNS"),
        "{t}"
    );
    assert!(t.contains("resolved sip:dave@partner.test: TCP 192.0.2.50:5060, TCP 192.0.2.51:5060 (SRV _sip._tcp.partner.test)"), "{t}");
    assert!(t.contains("503: trying sip:dave@partner.test at its next address TCP 192.0.2.51:5060 (RFC 3263 §4.3)"), "{t}");
}

// RFC 3263 §4.3: no answer at all (Timer B) also moves on; after a provisional it does not.
#[test]
fn a_silent_address_gives_way_to_the_next() {
    let mut n = Net::new();
    n.invite("sip:dave@partner.test", "dns-2");
    let asked = n.resolutions();
    let out = n.answer(
        &asked[0],
        Resolved::Targets {
            hops: vec![udp("192.0.2.60:5060"), udp("192.0.2.61:5060")],
            detail: "A partner.test".into(),
        },
    );
    assert!(
        out.iter()
            .any(|(h, m)| m.is_request() && *h == udp("192.0.2.60:5060"))
    );
    let mut second = None;
    for _ in 0..80 {
        n.advance(Duration::from_millis(500));
        if let Some((_, m)) = n
            .drain()
            .into_iter()
            .find(|(h, m)| m.is_request() && *h == udp("192.0.2.61:5060"))
        {
            second = Some(m);
            break;
        }
    }
    let second = second.expect("the second address gets the INVITE after Timer B");
    assert!(n.now.mono - n.start >= Duration::from_secs(32));
    let out = n.feed(respond(&second, 180, "gw2"), "192.0.2.61:5060");
    assert!(out.iter().any(|(_, m)| m.status() == Some(180)));
    let out = n.feed(respond(&second, 486, "gw2"), "192.0.2.61:5060");
    assert_eq!(upstream_final(&out).unwrap().status(), Some(486));
}

// A name DNS cannot resolve: the caller gets the resolver's reason as ms-diagnostics.
#[test]
fn an_unresolvable_domain_is_answered_with_its_diagnostic() {
    let mut n = Net::new();
    n.invite("sip:dave@nowhere.partner.test", "dns-3");
    let asked = n.resolutions();
    let d = diag::codes::UNABLE_TO_RESOLVE_DNS_SRV
        .diagnostic()
        .param("domain", "nowhere.partner.test");
    let out = n.answer(
        &asked[0],
        Resolved::Failed {
            diagnostic: d,
            detail: "no SIP server found: NAPTR nowhere.partner.test NXDOMAIN".into(),
        },
    );
    let r = upstream_final(&out).unwrap();
    assert_eq!(r.status(), Some(504));
    let diags = r.ms_diagnostics().unwrap();
    assert_eq!(diags[0].code, 1008);
    assert!(
        r.header(&HeaderName::MsDiagnostics)
            .unwrap()
            .value_str()
            .contains("nowhere.partner.test")
    );
    let t = trace_text(&n, "dns-3");
    assert!(
        t.contains("cannot resolve sip:dave@nowhere.partner.test: no SIP server found"),
        "{t}"
    );
    // A late answer for a request already answered changes nothing.
    let out = n.answer(
        &asked[0],
        Resolved::Targets {
            hops: vec![udp("192.0.2.70:5060")],
            detail: String::new(),
        },
    );
    assert!(out.is_empty(), "{out:?}");
}

// A CANCEL while the name is being resolved: no branch starts, the INVITE gets its 487.
#[test]
fn a_cancel_during_resolution_ends_the_call_without_a_branch() {
    let mut n = Net::new();
    n.invite("sip:dave@partner.test", "dns-4");
    let asked = n.resolutions();
    let out = n.send(
        &format!("CANCEL sip:dave@partner.test SIP/2.0\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKi2dns-4\nMax-Forwards: 70\nFrom: <sip:alice@example.test>;tag=a1\nTo: <sip:dave@partner.test>\nCall-ID: dns-4\nCSeq: 2 CANCEL\nContent-Length: 0\n\n"),
        ALICE,
    );
    assert!(out.iter().any(|(_, m)| m.status() == Some(200)), "{out:?}");
    let out = n.answer(
        &asked[0],
        Resolved::Targets {
            hops: vec![udp("192.0.2.80:5060")],
            detail: String::new(),
        },
    );
    assert!(!out.iter().any(|(_, m)| m.is_request()), "{out:?}");
    assert_eq!(upstream_final(&out).unwrap().status(), Some(487));
}

// A contact registered with a host name (some clients do) is resolved like any next hop.
#[test]
fn a_contact_given_by_host_name_is_resolved() {
    let mut n = Net::new();
    let r = n.register("bob", "bob-pc.partner.test:5070", BOB1, "bob-dev");
    assert_eq!(r.status(), Some(200));
    n.invite("sip:bob@example.test", "dns-5");
    let asked = n.resolutions();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].uri.to_string(), "sip:bob@bob-pc.partner.test:5070");
    let out = n.answer(
        &asked[0],
        Resolved::Targets {
            hops: vec![udp("192.0.2.90:5070")],
            detail: "A bob-pc.partner.test".into(),
        },
    );
    let (hop, inv) = out.iter().find(|(_, m)| m.is_request()).unwrap();
    assert_eq!(*hop, udp("192.0.2.90:5070"));
    assert_eq!(
        inv.uri().unwrap().to_string(),
        "sip:bob@bob-pc.partner.test:5070"
    );
}
