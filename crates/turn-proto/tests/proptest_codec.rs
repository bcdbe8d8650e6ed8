//! Property tests of the codec: decode(encode(m)) == m for both dialects; no input panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use proptest::prelude::*;
use turn_proto::channel::{
    Framing, StreamReader, decode_channel_data, next_ms_frame, next_stream_frame,
};
use turn_proto::message::peek_header;
use turn_proto::{Attribute, Class, Dialect, IntegrityKey, Message, Method, TransactionId};

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)),
        (any::<[u8; 16]>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port)),
    ]
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:/+=. \u{30DE}-\u{30EA}]{0,40}"
}

/// Attributes valid anywhere before MESSAGE-INTEGRITY in `dialect`.
fn body_attr(dialect: Dialect) -> BoxedStrategy<Attribute> {
    let common = prop_oneof![
        socket_addr().prop_map(Attribute::MappedAddress),
        socket_addr().prop_map(Attribute::XorMappedAddress),
        text().prop_map(Attribute::Username),
        ((300u16..700), text()).prop_map(|(code, reason)| Attribute::ErrorCode { code, reason }),
        text().prop_map(Attribute::Realm),
        text().prop_map(Attribute::Nonce),
        proptest::collection::vec(any::<u16>(), 0..6).prop_map(Attribute::UnknownAttributes),
        text().prop_map(Attribute::Software),
        socket_addr().prop_map(Attribute::AlternateServer),
        any::<u32>().prop_map(Attribute::Lifetime),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(Attribute::Data),
        any::<u8>().prop_map(Attribute::RequestedAddressFamily),
        (
            prop::sample::select(vec![
                0x0002u16, 0x0003, 0x0005, 0x0007, 0x000B, 0x001B, 0x0030, 0x7000, 0x8101, 0xC000,
                0xFFFF
            ]),
            proptest::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(typ, value)| Attribute::Unknown { typ, value }),
    ];
    match dialect {
        Dialect::Stun => prop_oneof![
            4 => common,
            1 => any::<u16>().prop_map(Attribute::ChannelNumber),
            1 => socket_addr().prop_map(Attribute::XorPeerAddress),
            1 => socket_addr().prop_map(Attribute::XorRelayedAddress),
            1 => any::<bool>().prop_map(Attribute::EvenPort),
            1 => any::<u8>().prop_map(Attribute::RequestedTransport),
            1 => Just(Attribute::DontFragment),
            1 => any::<[u8; 8]>().prop_map(Attribute::ReservationToken),
            1 => any::<u8>().prop_map(Attribute::AdditionalAddressFamily),
            1 => any::<u32>().prop_map(Attribute::Priority),
            1 => Just(Attribute::UseCandidate),
            1 => any::<u64>().prop_map(Attribute::IceControlled),
            1 => any::<u64>().prop_map(Attribute::IceControlling),
        ]
        .boxed(),
        Dialect::MsTurn => prop_oneof![
            4 => common,
            1 => any::<u32>().prop_map(Attribute::MsBandwidth),
            1 => socket_addr().prop_map(Attribute::MsDestinationAddress),
            1 => socket_addr().prop_map(Attribute::MsRemoteAddress),
            1 => any::<u32>().prop_map(Attribute::MsVersion),
            1 => (any::<[u8; 20]>(), any::<u32>())
                .prop_map(|(connection_id, sequence)| Attribute::MsSequenceNumber { connection_id, sequence }),
            1 => (any::<u16>(), any::<u16>()).prop_map(|(stream_type, service_quality)| {
                Attribute::MsServiceQuality { stream_type, service_quality }
            }),
        ]
        .boxed(),
    }
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![Just(Dialect::Stun), Just(Dialect::MsTurn)].prop_flat_map(|dialect| {
        let tid = match dialect {
            Dialect::Stun => any::<[u8; 12]>().prop_map(TransactionId::Stun).boxed(),
            Dialect::MsTurn => any::<[u8; 16]>().prop_map(TransactionId::MsTurn).boxed(),
        };
        let class = prop_oneof![
            Just(Class::Request),
            Just(Class::Indication),
            Just(Class::SuccessResponse),
            Just(Class::ErrorResponse)
        ];
        let sha256 = match dialect {
            Dialect::Stun => proptest::option::of(
                (4usize..=8).prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n * 4)),
            )
            .boxed(),
            Dialect::MsTurn => Just(None).boxed(),
        };
        (
            class,
            0u16..0x1000,
            tid,
            proptest::collection::vec(body_attr(dialect), 0..8),
            proptest::option::of(any::<[u8; 20]>()),
            sha256,
            any::<bool>(),
        )
            .prop_filter_map(
                "MS-TURN type collides with 0x0115",
                move |(class, method, tid, body, mi, mi256, fp)| {
                    let mut attributes = Vec::new();
                    if dialect == Dialect::MsTurn {
                        attributes.push(Attribute::MsMagicCookie);
                    }
                    attributes.extend(body);
                    if let Some(h) = mi {
                        attributes.push(Attribute::MessageIntegrity(h));
                    }
                    if let Some(h) = mi256 {
                        attributes.push(Attribute::MessageIntegritySha256(h));
                    }
                    if fp {
                        attributes.push(Attribute::Fingerprint);
                    }
                    let m = Message {
                        class,
                        method: Method(method),
                        transaction_id: tid,
                        attributes,
                    };
                    m.message_type().ok().map(|_| m)
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decode_inverts_encode(m in message()) {
        let bytes = m.encode(None).unwrap();
        prop_assert_eq!(turn_proto::decode(&bytes).unwrap(), m);
    }

    #[test]
    fn encoded_with_key_verifies(m in message(), password in "[a-z]{1,12}") {
        let key = IntegrityKey::short_term(&password);
        let bytes = m.encode(Some(&key)).unwrap();
        let has_mi = m.attributes.iter().any(|a| matches!(a, Attribute::MessageIntegrity(_) | Attribute::MessageIntegritySha256(_)));
        prop_assert_eq!(turn_proto::verify_integrity(&bytes, &key).is_ok(), has_mi);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = turn_proto::decode(&bytes);
        let _ = peek_header(&bytes);
        let _ = turn_proto::verify_integrity(&bytes, &IntegrityKey::short_term("x"));
        let _ = decode_channel_data(&bytes);
        let _ = next_stream_frame(&bytes);
        let _ = next_ms_frame(&bytes);
        for framing in [Framing::Stun, Framing::MsTurn] {
            let mut reader = StreamReader::new(framing);
            for chunk in bytes.chunks(5) {
                reader.push(chunk);
                while let Some(Ok(_)) = reader.next_frame() {}
            }
        }
    }

    #[test]
    fn mutated_messages_never_panic(m in message(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
        let mut bytes = m.encode(None).unwrap();
        for (i, x) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        let _ = turn_proto::decode(&bytes);
        let _ = turn_proto::verify_integrity(&bytes, &IntegrityKey::short_term("x"));
        let n = cut.index(bytes.len() + 1);
        let _ = turn_proto::decode(&bytes[..n]);
    }
}
