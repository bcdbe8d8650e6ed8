//! Fuzzes the front end with arbitrary messages: whatever parses and validates is fed to the
//! registrar/proxy core as if it arrived from a client (then, split at "\0\0", as a second
//! message, e.g. a response to what the core sent); the core answers or forwards, never panics.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use frontend::{Directory, FrontEnd, FrontEndConfig, Locator, Now, Transport, User};
use libfuzzer_sys::fuzz_target;
use registrar::{Aor, FlowId};
use sip_auth::{Algorithm, ha1};
use sip_msg::{Host, Message, SipUri};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop(SocketAddr);

impl sip_txn::Peer for Hop {
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

struct Loc;

impl Locator<Hop> for Loc {
    fn locate(&self, uri: &SipUri) -> Option<Hop> {
        match uri.host {
            Host::V4(a) => Some(Hop(SocketAddr::new(a.into(), uri.port.unwrap_or(5060)))),
            _ => None,
        }
    }
    fn sent_by(&self, _: &Hop) -> String {
        "127.0.0.1:5060".into()
    }
    fn reliable_alternative(&self, _: &Hop) -> Option<Hop> {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let mut users = Directory::new();
    users.insert(User {
        aor: Aor::new("bob", "example.test"),
        username: "bob".into(),
        realm: "example.test".into(),
        ha1: vec![ha1("bob", "example.test", "bob-dev", Algorithm::Md5)],
    });
    let mut cfg = FrontEndConfig::new("fe.example.test", &["example.test".into()], b"fuzz secret, thirty-two bytes!!");
    cfg.listen = vec!["127.0.0.1:5060".parse().unwrap()];
    // A configuration error here would make every run a no-op: fail loudly instead.
    let mut fe = FrontEnd::new(cfg, users, Loc).expect("the fuzz configuration is valid");
    let start = Instant::now();
    let mut now = Now {
        mono: start,
        wall_ms: 1_800_000_000_000,
    };
    let peer = Hop("192.0.2.1:5060".parse().unwrap());
    for part in data.split(|&b| b == 0).filter(|p| !p.is_empty()).take(4) {
        if let Ok(m) = Message::parse(part.to_vec()) {
            if m.validate().is_ok() {
                fe.handle_message(now, m, peer.clone());
            }
        }
        while fe.poll_transmit().is_some() {}
        now.mono += Duration::from_secs(1);
        now.wall_ms += 1000;
        fe.handle_timeout(now);
        while fe.poll_transmit().is_some() {}
    }
});
