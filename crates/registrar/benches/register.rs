//! REGISTER processing cost: a Lync-style REGISTER (epid check, gruu-10, two Supported lines)
//! applied to a registrar holding 10,000 other AORs; refresh of an existing binding; lookups.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use registrar::{Aor, Guid, Registrar, RegistrarConfig, Time};
use sip_msg::{Message, Uri};

fn lync_register(user: &str, epid: &str, call_id: &str, cseq: u32) -> Message {
    let instance = Guid::from_epid(epid).to_urn();
    let text = format!(
        "REGISTER sip:example.test SIP/2.0\r\n\
         Via: SIP/2.0/TLS 192.0.2.10:50123;branch=z9hG4bK{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@example.test>;tag=3e49177a52;epid={epid}\r\n\
         To: <sip:{user}@example.test>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:192.0.2.10:50123;transport=tls;ms-opaque=fad3dfab32>;methods=\"INVITE, MESSAGE, INFO, OPTIONS, BYE, CANCEL, NOTIFY, ACK, REFER, BENOTIFY\";proxy=replace;+sip.instance=\"<{instance}>\"\r\n\
         Supported: gruu-10, adhoclist, msrtc-event-categories, com.microsoft.msrtc.presence\r\n\
         Event: registration\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Message::parse(text.into_bytes()).unwrap()
}

fn filled() -> Registrar {
    let config = RegistrarConfig {
        supported: vec!["adhoclist".into(), "msrtc-event-categories".into()],
        allow_events: vec!["presence".into(), "vnd-microsoft-provisioning-v2".into()],
        ..RegistrarConfig::default()
    };
    let mut r = Registrar::new(config, b"bench secret, 32 bytes long.....").unwrap();
    for i in 0..10_000u32 {
        let user = format!("user{i}");
        let epid = format!("{i:010x}");
        let req = lync_register(&user, &epid, &format!("call{i}"), 1);
        r.register(Time(0), &req, &Aor::new(&user, "example.test"), None)
            .unwrap();
    }
    r
}

fn bench(c: &mut Criterion) {
    let mut r = filled();
    let alice = Aor::new("alice", "example.test");
    let mut cseq = 1;
    let mut g = c.benchmark_group("registrar");
    g.bench_function("register_refresh_lync", |b| {
        b.iter(|| {
            cseq += 1;
            let req = lync_register("alice", "c8ca638a15", "alice-call", cseq);
            r.register(Time(0), &req, &alice, None).unwrap()
        })
    });
    let gruu = Uri::parse("sip:alice@example.test;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu")
        .unwrap();
    g.bench_function("lookup_aor", |b| b.iter(|| r.lookup(Time(0), &alice)));
    g.bench_function("lookup_lync_gruu", |b| {
        b.iter(|| r.lookup_gruu(Time(0), &gruu).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
