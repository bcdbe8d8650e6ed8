//! The server's per-message work without sockets, for counting instructions (valgrind
//! callgrind) and profiling: bytes in → parse and validate → [`FrontEnd::handle_message`] →
//! every transmit serialized to bytes, on a virtual clock, with the clock's timers and the
//! store's dirty set drained as the server's core loop does.
//!
//! `pipeline register N`: N authenticated registrations of distinct users, shaped like
//! bench/register-auth.xml (REGISTER → 401 → REGISTER with Digest → 200) at 2000/s.
//! `pipeline call N`: N calls shaped like bench/uac-call.xml and uas-call.xml (INVITE → 407 →
//! ACK, INVITE with credentials → 100/180/200 → ACK → BYE → 200) at 500/s between two
//! registered users.
//!
//! Only [`server_side`] is the server's work; run it under callgrind with
//! `--toggle-collect='pipeline::server_side*'` (bench/callgrind-pipeline.sh does) so building
//! the clients' messages is not counted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use frontend::{Directory, FrontEnd, FrontEndConfig, Locator, Now, Transport, User};
use registrar::{Aor, FlowId};
use sip_auth::{Algorithm, RequestTarget, answer_challenge, ha1};
use sip_msg::{HeaderName, Message, SipUri};
use sip_txn::Peer;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop(SocketAddr);

impl Peer for Hop {
    fn is_reliable(&self) -> bool {
        false
    }
}

impl Transport for Hop {
    fn via_transport(&self) -> &'static str {
        "UDP"
    }
    fn remote(&self) -> SocketAddr {
        self.0
    }
    fn flow(&self) -> Option<FlowId> {
        None
    }
}

#[derive(Debug)]
struct Loc;

impl Locator<Hop> for Loc {
    fn locate(&self, uri: &SipUri) -> Option<Hop> {
        match &uri.host {
            sip_msg::Host::V4(a) => Some(Hop(SocketAddr::new(
                std::net::IpAddr::V4(*a),
                uri.port.unwrap_or(5060),
            ))),
            _ => None,
        }
    }
    fn sent_by(&self, _: &Hop) -> String {
        "127.0.0.1:5060".into()
    }
    fn reliable_alternative(&self, _: &Hop) -> Option<Hop> {
        None
    }
    fn resolvable(&self, _: &SipUri) -> bool {
        false
    }
}

struct Server {
    fe: FrontEnd<Hop, Loc>,
    now: Now,
    next_flush: Instant,
    sent_bytes: usize,
}

/// The server's work for one arrived datagram: what the core loop does with it (parse and
/// validate as `Responder::accept`, the front end, serializing what it sends), its expired
/// timers and its 100 ms store flush. Returns the messages sent, as the peers receive them.
#[inline(never)]
fn server_side(s: &mut Server, data: Vec<u8>, from: SocketAddr) -> Vec<Vec<u8>> {
    let msg = Message::parse(data).and_then(|m| m.validate().map(|()| m));
    let msg = msg.expect("the pipeline's messages are valid");
    s.fe.handle_message(s.now, msg, Hop(from));
    let mut out = Vec::new();
    while let Some(t) = s.fe.poll_transmit() {
        out.push(t.message.to_bytes().to_vec());
    }
    if s.fe.poll_timeout().is_some_and(|w| w <= s.now.mono) {
        s.fe.handle_timeout(s.now);
        while let Some(t) = s.fe.poll_transmit() {
            out.push(t.message.to_bytes().to_vec());
        }
    }
    if s.now.mono >= s.next_flush {
        s.next_flush = s.now.mono + Duration::from_millis(100);
        let dirty = s.fe.take_dirty(s.now);
        std::hint::black_box(dirty);
    }
    s.sent_bytes += out.iter().map(Vec::len).sum::<usize>();
    out
}

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

fn server(users: usize) -> Server {
    let mut dir = Directory::new();
    for i in 1..=users {
        dir.insert(user(&format!("u{i:06}")));
    }
    let mut cfg = FrontEndConfig::new(
        "fe.example.test",
        &["example.test".to_string()],
        b"0123456789abcdef0123456789abcdef",
    );
    cfg.listen = vec!["127.0.0.1:5060".parse().unwrap()];
    // As the bench runs `convene up --digest-algorithms MD5` (SIPp computes MD5 only).
    cfg.digest.algorithms = vec![Algorithm::Md5];
    let start = Instant::now();
    Server {
        fe: FrontEnd::new(cfg, dir, Loc).unwrap(),
        now: Now {
            mono: start,
            wall_ms: 1_800_000_000_000,
        },
        next_flush: start,
        sent_bytes: 0,
    }
}

impl Server {
    fn advance(&mut self, d: Duration) {
        self.now.mono += d;
        self.now.wall_ms += u64::try_from(d.as_millis()).unwrap_or(0);
    }
}

fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// The Digest answer to the challenge in `resp` (401 or 407).
fn credentials(resp: &[u8], name: &str, method: &str, uri: &str) -> String {
    let resp = Message::parse(resp.to_vec()).unwrap();
    let challenge = resp
        .www_authenticate()
        .unwrap()
        .into_iter()
        .chain(resp.proxy_authenticate().unwrap())
        .next()
        .expect("a challenge");
    answer_challenge(
        &challenge,
        name,
        &format!("{name}-dev"),
        &RequestTarget { method, uri },
        "c0ffee",
        1,
    )
    .unwrap()
    .to_string()
}

fn status(data: &[u8]) -> u16 {
    std::str::from_utf8(&data[8..11]).unwrap().parse().unwrap()
}

fn register(s: &mut Server, i: usize, port: u16) {
    let name = format!("u{i:06}");
    let from: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let req = |cseq: u32, auth: &str| {
        crlf(&format!(
            "REGISTER sip:example.test SIP/2.0\n\
             Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{i}-{cseq};rport\n\
             Max-Forwards: 70\n\
             From: <sip:{name}@example.test>;tag=4242SIPpTag00{i}\n\
             To: <sip:{name}@example.test>\n\
             Call-ID: {i}-4242@127.0.0.1\n\
             CSeq: {cseq} REGISTER\n\
             {auth}Contact: <sip:{name}@127.0.0.1:{port}>\n\
             Expires: 3600\n\
             User-Agent: sipp-bench\n\
             Content-Length: 0\n\n"
        ))
    };
    let out = server_side(s, req(1, ""), from);
    assert_eq!(status(&out[0]), 401);
    let auth = credentials(&out[0], &name, "REGISTER", "sip:example.test");
    s.advance(Duration::from_micros(250));
    let out = server_side(s, req(2, &format!("Authorization: {auth}\n")), from);
    assert_eq!(status(&out[0]), 200);
    s.advance(Duration::from_micros(250));
}

fn call(s: &mut Server, i: usize) {
    let uac: SocketAddr = "127.0.0.1:6001".parse().unwrap();
    let uas: SocketAddr = "127.0.0.1:6002".parse().unwrap();
    let target = "sip:u000002@example.test";
    let invite = |cseq: u32, branch: &str, auth: &str| {
        crlf(&format!(
            "INVITE {target} SIP/2.0\n\
             Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bK-c{i}-{branch};rport\n\
             Max-Forwards: 70\n\
             From: <sip:u000001@example.test>;tag=4242SIPpTag00{i}\n\
             To: <{target}>\n\
             Call-ID: c{i}-4242@127.0.0.1\n\
             CSeq: {cseq} INVITE\n\
             {auth}Contact: <sip:u000001@127.0.0.1:6001>\n\
             Content-Type: application/sdp\n\
             Content-Length: 129\n\n\
             v=0\n\
             o=user1 53655765 2353687637 IN IP4 127.0.0.1\n\
             s=-\n\
             c=IN IP4 127.0.0.1\n\
             t=0 0\n\
             m=audio 6000 RTP/AVP 0\n\
             a=rtpmap:0 PCMU/8000\n"
        ))
    };
    let step = Duration::from_micros(200);
    // INVITE → 407, ACK.
    let out = server_side(s, invite(1, "1", ""), uac);
    let r407 = out.iter().find(|m| status(m) == 407).expect("407");
    let to_tag = Message::parse(r407.clone())
        .unwrap()
        .to_view()
        .unwrap()
        .unwrap()
        .tag()
        .map(str::to_owned)
        .unwrap();
    let auth = credentials(r407, "u000001", "INVITE", target);
    s.advance(step);
    let ack = crlf(&format!(
        "ACK {target} SIP/2.0\n\
         Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bK-c{i}-1;rport\n\
         Max-Forwards: 70\n\
         From: <sip:u000001@example.test>;tag=4242SIPpTag00{i}\n\
         To: <{target}>;tag={to_tag}\n\
         Call-ID: c{i}-4242@127.0.0.1\n\
         CSeq: 1 ACK\n\
         Content-Length: 0\n\n"
    ));
    assert!(server_side(s, ack, uac).iter().all(|m| status(m) != 200));
    s.advance(step);
    // INVITE with credentials → forwarded to the UAS (and a 100 back).
    let out = server_side(
        s,
        invite(2, "2", &format!("Proxy-Authorization: {auth}\n")),
        uac,
    );
    let fwd = out
        .iter()
        .find(|m| m.starts_with(b"INVITE"))
        .expect("forwarded INVITE");
    let fwd = Message::parse(fwd.clone()).unwrap();
    s.advance(step);
    // The UAS: 180, 200 (with its tag and the Record-Route copied).
    let answer = |code: u16| {
        let mut r =
            Message::response_to(&fwd, code, sip_msg::default_reason(code), Some("uas-tag"));
        r.push(HeaderName::Contact, "<sip:u000002@127.0.0.1:6002>");
        r.to_bytes().to_vec()
    };
    let out = server_side(s, answer(180), uas);
    assert_eq!(out.iter().map(|m| status(m)).collect::<Vec<_>>(), [180]);
    s.advance(step);
    let out = server_side(s, answer(200), uas);
    assert_eq!(status(&out[0]), 200);
    let rr: Vec<String> = fwd
        .headers_named(&HeaderName::RecordRoute)
        .map(|h| h.value_str().to_string())
        .collect();
    s.advance(step);
    // ACK and BYE from the UAC along the route set, BYE's 200 from the UAS.
    let in_dialog = |method: &str, cseq: u32, branch: &str| {
        let routes: String = rr.iter().map(|r| format!("Route: {r}\n")).collect();
        crlf(&format!(
            "{method} sip:u000002@127.0.0.1:6002 SIP/2.0\n\
             Via: SIP/2.0/UDP 127.0.0.1:6001;branch=z9hG4bK-c{i}-{branch};rport\n\
             Max-Forwards: 70\n\
             {routes}From: <sip:u000001@example.test>;tag=4242SIPpTag00{i}\n\
             To: <{target}>;tag=uas-tag\n\
             Call-ID: c{i}-4242@127.0.0.1\n\
             CSeq: {cseq} {method}\n\
             Content-Length: 0\n\n"
        ))
    };
    let out = server_side(s, in_dialog("ACK", 2, "3"), uac);
    assert_eq!(out.len(), 1, "ACK forwarded");
    s.advance(step);
    let out = server_side(s, in_dialog("BYE", 3, "4"), uac);
    let bye = Message::parse(out[0].clone()).unwrap();
    assert_eq!(bye.method(), Some(&sip_msg::Method::Bye));
    s.advance(step);
    let ok = Message::response_to(&bye, 200, "OK", None)
        .to_bytes()
        .to_vec();
    let out = server_side(s, ok, uas);
    assert_eq!(status(&out[0]), 200);
    s.advance(step);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map_or("register", String::as_str);
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let t0 = Instant::now();
    match what {
        "register" => {
            let mut s = server(n);
            for i in 1..=n {
                register(&mut s, i, 5062 + u16::try_from(i % 1000).unwrap());
            }
            report(&s, "registrations", n, t0);
        }
        "call" => {
            let mut s = server(2);
            register(&mut s, 1, 6001);
            register(&mut s, 2, 6002);
            for i in 0..n {
                call(&mut s, i);
            }
            report(&s, "calls", n, t0);
        }
        other => {
            eprintln!("usage: pipeline register|call N (not {other:?})");
            std::process::exit(2);
        }
    }
}

fn report(s: &Server, what: &str, n: usize, t0: Instant) {
    let took = t0.elapsed();
    eprintln!(
        "{n} {what} in {took:?} ({:.1} µs each, clients included); {} bytes sent",
        took.as_secs_f64() * 1e6 / n as f64,
        s.sent_bytes
    );
}
