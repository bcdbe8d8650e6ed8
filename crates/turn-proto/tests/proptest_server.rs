//! Property tests of the server against an attacker without credentials: whatever arrives,
//! nothing panics, no allocation is made, nothing is relayed, and no UDP reply is larger than
//! what provoked it (RFC 8656 §21 "no amplification").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use turn_proto::channel::encode_channel_data;
use turn_proto::server::{FiveTuple, RelayBinder, RelayId, Server, ServerConfig, Transport, Via};
use turn_proto::{Attribute, Class, IntegrityKey, Message, Method, TransactionId};

struct Binder(u64);

impl RelayBinder for Binder {
    fn bind(&mut self, _addr: SocketAddr) -> Option<RelayId> {
        self.0 += 1;
        Some(RelayId(self.0))
    }
}

/// One thing an attacker can do.
#[derive(Debug, Clone)]
enum Op {
    /// Raw bytes from a client address.
    Raw(u8, Vec<u8>),
    /// A well-formed TURN request signed with a guessed password, maybe bit-flipped.
    Forged(u8, u16, String, Option<(usize, u8)>),
    /// ChannelData from a client.
    Channel(u8, u16, Vec<u8>),
    /// A datagram from a peer to some relay id.
    Peer(u64, Vec<u8>),
    /// Time passes.
    Wait(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..120))
            .prop_map(|(c, b)| Op::Raw(c, b)),
        (
            any::<u8>(),
            prop::sample::select(vec![0x001u16, 0x003, 0x004, 0x006, 0x008, 0x009, 0x016]),
            // Any password but the right one ("turnpass").
            "[a-z]{0,8}".prop_filter("the real password", |p| p != "turnpass"),
            proptest::option::of((any::<usize>(), any::<u8>()))
        )
            .prop_map(|(c, m, p, f)| Op::Forged(c, m, p, f)),
        (
            any::<u8>(),
            0x4000u16..0x4010,
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(c, ch, d)| Op::Channel(c, ch, d)),
        (0u64..4, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(r, d)| Op::Peer(r, d)),
        (0u16..900).prop_map(Op::Wait),
    ]
}

fn client(c: u8) -> FiveTuple {
    FiveTuple {
        client: SocketAddr::new("192.0.2.1".parse().unwrap(), 1000 + u16::from(c % 4)),
        server: "198.51.100.1:3478".parse().unwrap(),
        transport: Transport::Udp,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_credentials_no_allocation_no_relay_no_amplification(ops in proptest::collection::vec(op(), 1..40)) {
        let mut now = Instant::now();
        let mut config = ServerConfig::new("example.test", [3; 32]);
        config.add_user("turnuser", "turnpass");
        config.relay_ipv4 = Some("203.0.113.1".parse().unwrap());
        // The strictest setting: no reply larger than its request.
        config.amplification_factor = 1;
        let mut server = Server::new(config, Binder(0), now, 1_800_000_000);
        let peer: SocketAddr = "198.51.100.9:5000".parse().unwrap();
        // A real nonce per client address, from a 401 to a request padded to earn a reply.
        let nonces: Vec<String> = (0..4u8)
            .map(|c| {
                let m = Message::new(Class::Request, Method::ALLOCATE, TransactionId::Stun([c; 12]))
                    .with(Attribute::RequestedTransport(17))
                    .with(Attribute::Software("p".repeat(100)));
                server.handle_client(now, client(c), &m.encode(None).unwrap());
                let t = server.poll_transmit().unwrap();
                turn_proto::decode(&t.payload)
                    .unwrap()
                    .find(|a| match a {
                        Attribute::Nonce(n) => Some(n.clone()),
                        _ => None,
                    })
                    .unwrap()
            })
            .collect();
        for op in ops {
            let sent = match op {
                Op::Raw(c, bytes) => {
                    server.handle_client(now, client(c), &bytes);
                    bytes.len()
                }
                Op::Forged(c, method, password, flip) => {
                    let m = Message::new(Class::Request, Method(method), TransactionId::Stun([c; 12]))
                        .with(Attribute::RequestedTransport(17))
                        .with(Attribute::XorPeerAddress(peer))
                        .with(Attribute::ChannelNumber(0x4000))
                        .with(Attribute::Data(vec![1, 2, 3]))
                        .with(Attribute::Username("turnuser".into()))
                        .with(Attribute::Realm("example.test".into()))
                        .with(Attribute::Nonce(nonces[usize::from(c % 4)].clone()))
                        .with(Attribute::MessageIntegrity([0; 20]));
                    let key = IntegrityKey::long_term("turnuser", "example.test", &password);
                    let mut bytes = m.encode(Some(&key)).unwrap();
                    if let Some((i, x)) = flip {
                        let n = bytes.len();
                        bytes[i % n] ^= x;
                    }
                    server.handle_client(now, client(c), &bytes);
                    bytes.len()
                }
                Op::Channel(c, ch, data) => {
                    let mut bytes = Vec::new();
                    encode_channel_data(ch, &data, false, &mut bytes);
                    server.handle_client(now, client(c), &bytes);
                    bytes.len()
                }
                Op::Peer(r, data) => {
                    server.handle_peer(now, RelayId(r), peer, &data);
                    0
                }
                Op::Wait(s) => {
                    now += Duration::from_secs(u64::from(s));
                    server.handle_timeout(now);
                    0
                }
            };
            while let Some(t) = server.poll_transmit() {
                prop_assert!(matches!(t.via, Via::Client(_)), "relayed: {t:?}");
                prop_assert!(t.payload.len() <= sent, "amplified {} -> {}", sent, t.payload.len());
            }
            prop_assert_eq!(server.allocation_count(), 0);
            prop_assert!(server.poll_event().is_none());
        }
    }
}
