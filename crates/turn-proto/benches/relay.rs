//! Hot path of the relay: ChannelData or a Send indication from the client, decoded, checked
//! against the channel and permission tables, and turned into the datagram for the peer; and
//! the reverse direction (peer datagram to ChannelData). Reports time per packet.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use turn_proto::channel::encode_channel_data;
use turn_proto::server::{FiveTuple, RelayBinder, RelayId, Server, ServerConfig, Transport};
use turn_proto::{Attribute, Class, IntegrityKey, Message, Method, TransactionId, decode};

struct Binder(u64);

impl RelayBinder for Binder {
    fn bind(&mut self, _addr: SocketAddr) -> Option<RelayId> {
        self.0 += 1;
        Some(RelayId(self.0))
    }
}

const REALM: &str = "example.test";

/// A server with `allocations` allocations, each with a channel and a permission for a peer;
/// returns the server, the 5-tuple and relay of the last one, and its peer.
fn setup(allocations: u16) -> (Server<Binder>, FiveTuple, RelayId, SocketAddr, Instant) {
    let now = Instant::now();
    let mut config = ServerConfig::new(REALM, [1; 32]);
    config.add_user("u", "p");
    config.relay_ipv4 = Some("203.0.113.1".parse().unwrap());
    config.relay_ports = 10000..=60000;
    config.max_allocations_per_user = usize::MAX;
    config.amplification_factor = 16;
    let key = IntegrityKey::long_term("u", REALM, "p");
    let mut server = Server::new(config, Binder(0), now, 1_800_000_000);
    let mut last = None;
    for i in 0..allocations {
        let ft = FiveTuple {
            client: SocketAddr::new("192.0.2.1".parse().unwrap(), 1024 + i),
            server: "198.51.100.1:3478".parse().unwrap(),
            transport: Transport::Udp,
        };
        let peer = SocketAddr::new("198.51.100.50".parse().unwrap(), 2000 + i);
        let mut tid = 0u8;
        let mut request =
            |server: &mut Server<Binder>, method, attrs: Vec<Attribute>, nonce: Option<&str>| {
                tid += 1;
                let mut m = Message::new(Class::Request, method, TransactionId::Stun([tid; 12]));
                m.attributes = attrs;
                if let Some(n) = nonce {
                    m.attributes.push(Attribute::Username("u".into()));
                    m.attributes.push(Attribute::Realm(REALM.into()));
                    m.attributes.push(Attribute::Nonce(n.into()));
                    m.attributes.push(Attribute::MessageIntegrity([0; 20]));
                }
                server.handle_client(now, ft, &m.encode(Some(&key)).unwrap());
                let t = server.poll_transmit().unwrap();
                decode(&t.payload).unwrap()
            };
        let challenge = request(
            &mut server,
            Method::ALLOCATE,
            vec![Attribute::RequestedTransport(17)],
            None,
        );
        let nonce = challenge
            .find(|a| match a {
                Attribute::Nonce(n) => Some(n.clone()),
                _ => None,
            })
            .unwrap();
        let ok = request(
            &mut server,
            Method::ALLOCATE,
            vec![Attribute::RequestedTransport(17)],
            Some(&nonce),
        );
        assert_eq!(ok.class, Class::SuccessResponse);
        let ok = request(
            &mut server,
            Method::CHANNEL_BIND,
            vec![
                Attribute::ChannelNumber(0x4000),
                Attribute::XorPeerAddress(peer),
            ],
            Some(&nonce),
        );
        assert_eq!(ok.class, Class::SuccessResponse);
        last = Some((ft, RelayId(u64::from(i) + 1), peer));
    }
    let (ft, relay, peer) = last.unwrap();
    while server.poll_event().is_some() {}
    (server, ft, relay, peer, now)
}

fn bench(c: &mut Criterion) {
    let payload = [0xab_u8; 160]; // 20 ms of G.711 in one RTP packet, roughly
    let mut group = c.benchmark_group("relay");
    group.throughput(Throughput::Elements(1));
    for allocations in [1u16, 1000] {
        let (mut server, ft, relay, peer, now) = setup(allocations);
        let mut cd = Vec::new();
        encode_channel_data(0x4000, &payload, false, &mut cd);
        group.bench_function(
            format!("channel_data_to_peer/{allocations}_allocations"),
            |b| {
                b.iter(|| {
                    server.handle_client(now, ft, black_box(&cd));
                    black_box(server.poll_transmit())
                })
            },
        );
        let send = Message::new(
            Class::Indication,
            Method::SEND,
            TransactionId::Stun([9; 12]),
        )
        .with(Attribute::XorPeerAddress(peer))
        .with(Attribute::Data(payload.to_vec()))
        .encode(None)
        .unwrap();
        group.bench_function(
            format!("send_indication_to_peer/{allocations}_allocations"),
            |b| {
                b.iter(|| {
                    server.handle_client(now, ft, black_box(&send));
                    black_box(server.poll_transmit())
                })
            },
        );
        group.bench_function(
            format!("peer_to_channel_data/{allocations}_allocations"),
            |b| {
                b.iter(|| {
                    server.handle_peer(now, relay, peer, black_box(&payload));
                    black_box(server.poll_transmit())
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
