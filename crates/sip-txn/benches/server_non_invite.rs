//! Server non-INVITE transaction round trip: request in → TU answers 200 → response out →
//! Terminated (at once over TCP; after Timer J over UDP, on a virtual clock).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use sip_msg::Message;
use sip_txn::{Event, TimerConfig, TransactionLayer, TransportKey, TransportKind};

const OPTIONS: &[u8] = b"OPTIONS sip:fe01.contoso.com;transport=tls SIP/2.0\r\n\
Via: SIP/2.0/TLS 192.0.2.20:51234;branch=z9hG4bK8a1c3e0f77;ms-received-port=51234;ms-received-cid=1F00\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@contoso.com>;tag=4f2a9c1e;epid=01010101\r\n\
To: <sip:fe01.contoso.com>\r\n\
Call-ID: 9d8e7f6a5b4c3d2e1f0a\r\n\
CSeq: 1 OPTIONS\r\n\
User-Agent: UCCAPI/16.0.0.0 OC/16.0.0.0\r\n\
Content-Length: 0\r\n\r\n";

fn round_trip(c: &mut Criterion, name: &str, transport: TransportKind) {
    let request = Message::parse(OPTIONS).unwrap();
    let addr: SocketAddr = "192.0.2.20:51234".parse().unwrap();
    let peer = TransportKey::new(transport, addr);
    let mut layer: TransactionLayer = TransactionLayer::new(TimerConfig::default());
    let mut now = Instant::now();
    let j = TimerConfig::default().t1_x64();
    c.bench_function(name, |b| {
        b.iter(|| {
            layer.handle_message(now, request.clone(), peer).unwrap();
            let Some(Event::Request { txn, request, .. }) = layer.poll_event() else {
                panic!("expected a request event");
            };
            let response = Message::response_to(&request, 200, "OK", Some("a1b2c3"));
            layer.send_response(now, txn, response).unwrap();
            black_box(layer.poll_transmit().unwrap());
            if !transport.is_reliable() {
                now += j + Duration::from_millis(1);
                layer.handle_timeout(now);
            }
            let Some(Event::Terminated { .. }) = layer.poll_event() else {
                panic!("expected the transaction to terminate");
            };
        });
    });
    assert!(layer.is_empty());
}

fn benches(c: &mut Criterion) {
    round_trip(
        c,
        "server non-INVITE round trip, TLS (Timer J = 0)",
        TransportKind::Tls,
    );
    round_trip(
        c,
        "server non-INVITE round trip, UDP (through Timer J)",
        TransportKind::Udp,
    );
}

criterion_group!(group, benches);
criterion_main!(group);
