//! Property test: random sequences of REGISTER / expire / flow_closed / snapshot-restore never
//! panic, never leave an expired binding visible, and keep the expiry index consistent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{alice, registrar};
use proptest::prelude::*;
use registrar::{Aor, FlowId, Time};
use sip_msg::Message;

#[derive(Debug, Clone)]
enum Op {
    Register {
        user: u8,
        call_id: u8,
        cseq: u8,
        contacts: Vec<(u8, Option<u32>, Option<u8>, bool)>,
        expires: Option<u32>,
        star: bool,
        flow: Option<u8>,
        supported: u8,
    },
    Advance(u32),
    FlowClosed(u8),
    Restore,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            0u8..3,
            0u8..3,
            0u8..6,
            proptest::collection::vec(
                (0u8..4, proptest::option::of(prop_oneof![Just(0u32), 1u32..120, 60u32..9000]), proptest::option::of(0u8..3), any::<bool>()),
                0..3,
            ),
            proptest::option::of(prop_oneof![Just(0u32), 30u32..9000]),
            proptest::bool::weighted(0.1),
            proptest::option::of(0u8..2),
            0u8..8,
        )
            .prop_map(|(user, call_id, cseq, contacts, expires, star, flow, supported)| Op::Register {
                user,
                call_id,
                cseq,
                contacts,
                expires,
                star,
                flow,
                supported,
            }),
        3 => (0u32..4000).prop_map(Op::Advance),
        2 => (0u8..2).prop_map(Op::FlowClosed),
        1 => Just(Op::Restore),
    ]
}

fn aor(user: u8) -> Aor {
    match user {
        0 => alice(),
        n => Aor::new(&format!("user{n}"), "example.test"),
    }
}

fn build(op: &Op) -> Option<(Message, Aor, Option<FlowId>)> {
    let Op::Register {
        user,
        call_id,
        cseq,
        contacts,
        expires,
        star,
        flow,
        supported,
    } = op
    else {
        return None;
    };
    let mut text = format!(
        "REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK{call_id}{cseq}\r\n\
         From: <sip:u@example.test>;tag=1\r\nTo: <sip:u@example.test>\r\nCall-ID: call{call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    let tags: Vec<&str> = ["gruu", "outbound", "gruu-10"]
        .iter()
        .enumerate()
        .filter(|(i, _)| supported & (1 << i) != 0)
        .map(|(_, t)| *t)
        .collect();
    if !tags.is_empty() {
        text.push_str(&format!("Supported: {}\r\n", tags.join(", ")));
    }
    if *star {
        text.push_str("Contact: *\r\n");
    }
    for (host, exp, instance, reg_id) in contacts {
        let mut c = format!("Contact: <sip:u@192.0.2.{host}>");
        if let Some(e) = exp {
            c.push_str(&format!(";expires={e}"));
        }
        if let Some(i) = instance {
            c.push_str(&format!(
                ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-00000000000{i}>\""
            ));
            if *reg_id {
                c.push_str(";reg-id=1");
            }
        }
        text.push_str(&c);
        text.push_str("\r\n");
    }
    if let Some(e) = expires {
        text.push_str(&format!("Expires: {e}\r\n"));
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    let m = Message::parse(text.into_bytes()).ok()?;
    Some((m, aor(*user), flow.map(|f| FlowId(u64::from(f)))))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn never_panics_never_shows_expired(ops in proptest::collection::vec(op(), 1..40)) {
        let mut r = registrar();
        let mut now = Time::from_secs(1_000);
        for op in &ops {
            match op {
                Op::Advance(s) => {
                    now = now.plus_secs(*s);
                    r.expire(now);
                    // After expire(now) nothing stored is expired, not just nothing looked up.
                    prop_assert!(r.snapshot().bindings.iter().all(|b| b.expires_at > now));
                }
                Op::FlowClosed(f) => {
                    let gone = r.flow_closed(FlowId(u64::from(*f)));
                    prop_assert!(gone.iter().all(|b| b.flow == Some(FlowId(u64::from(*f)))));
                    // No binding of that flow is left anywhere.
                    let f = FlowId(u64::from(*f));
                    prop_assert!(r.snapshot().bindings.iter().all(|b| b.flow != Some(f)));
                }
                Op::Restore => {
                    let snap = r.snapshot();
                    let mut r2 = registrar();
                    r2.restore(now, snap);
                    r = r2;
                }
                Op::Register { .. } => {
                    let Some((m, a, flow)) = build(op) else { continue };
                    let before = r.lookup(now, &a);
                    match r.register(now, &m, &a, flow) {
                        Ok(out) => {
                            prop_assert_eq!(out.response.status(), Some(200));
                            // The 200 OK lists exactly the live bindings.
                            prop_assert_eq!(out.response.contacts().unwrap().len(), out.bindings.len());
                        }
                        Err(e) => {
                            // Nothing changed on a rejection (RFC 3261 §10.3 step 7).
                            prop_assert_eq!(r.lookup(now, &a), before);
                            let resp = r.reject(&m, &e);
                            prop_assert!(resp.status().is_some_and(|s| s >= 400));
                        }
                    }
                }
            }
            // Invariants after every operation.
            for u in 0..3 {
                let list = r.lookup(now, &aor(u));
                for w in list.windows(2) {
                    prop_assert!(w[0].q_order() >= w[1].q_order());
                }
                for b in &list {
                    prop_assert!(b.expires_at > now, "expired binding visible");
                    // Every GRUU of a live binding finds that binding.
                    if let Some(i) = &b.instance {
                        let g = format!("sip:{}@{};gr={}", b.aor.user(), b.aor.domain(), i);
                        let found = r.lookup_gruu(now, &sip_msg::Uri::parse(&g).unwrap());
                        prop_assert!(found.is_some_and(|f| f.instance == b.instance));
                    }
                }
            }
            if let Some(next) = r.next_expiry() {
                prop_assert!(r.snapshot().bindings.iter().all(|b| b.expires_at >= next));
            } else {
                prop_assert!(r.is_empty());
            }
            prop_assert_eq!(r.snapshot().bindings.len(), r.len());
        }
    }
}
