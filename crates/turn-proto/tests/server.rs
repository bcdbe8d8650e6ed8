//! The TURN server state machine driven in memory on a virtual clock, one test per behaviour
//! of RFC 8656 / RFC 8489 / [MS-TURN] the server implements.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use turn_proto::attr::types;
use turn_proto::channel::{
    MsFrameType, MsStreamFrame, decode_channel_data, encode_channel_data, encode_ms_frame,
    next_ms_frame,
};
use turn_proto::server::{
    CloseReason, Event, FiveTuple, IpRange, RelayBinder, RelayId, Server, ServerConfig, Transmit,
    Transport, Via, rest_password,
};
use turn_proto::{
    Attribute, Class, IntegrityKey, Message, Method, TransactionId, decode, verify_integrity,
};

const REALM: &str = "example.test";
const USER: &str = "turnuser";
const PASS: &str = "turnpass";
const UNIX_T0: u64 = 1_800_000_000;

/// Binds every port except refused ones, recording what it bound.
#[derive(Debug, Default)]
struct FakeBinder {
    next: u64,
    refuse_all: bool,
    bound: Vec<(RelayId, SocketAddr)>,
}

impl RelayBinder for FakeBinder {
    fn bind(&mut self, addr: SocketAddr) -> Option<RelayId> {
        if self.refuse_all {
            return None;
        }
        self.next += 1;
        self.bound.push((RelayId(self.next), addr));
        Some(RelayId(self.next))
    }
}

fn config() -> ServerConfig {
    let mut c = ServerConfig::new(REALM, [42; 32]);
    c.add_user(USER, PASS);
    c.add_user("other", "otherpass");
    c.credentials.set_auth_secret(b"rest-secret");
    c.relay_ipv4 = Some("203.0.113.1".parse().unwrap());
    c.relay_ports = 50000..=50009;
    c.denied_peers = IpRange::loopback_and_private();
    c.software = Some("convene-test".into());
    // Most tests send small requests; the amplification rule has its own test.
    c.amplification_factor = 8;
    c
}

fn udp(client: &str) -> FiveTuple {
    FiveTuple {
        client: client.parse().unwrap(),
        server: "198.51.100.1:3478".parse().unwrap(),
        transport: Transport::Udp,
    }
}

struct Harness {
    server: Server<FakeBinder>,
    now: Instant,
    ft: FiveTuple,
    tid: u8,
    nonce: Option<String>,
    user: String,
    pass: String,
}

impl Harness {
    fn new(config: ServerConfig) -> Self {
        let now = Instant::now();
        Self {
            server: Server::new(config, FakeBinder::default(), now, UNIX_T0),
            now,
            ft: udp("192.0.2.10:40000"),
            tid: 0,
            nonce: None,
            user: USER.into(),
            pass: PASS.into(),
        }
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
        self.server.handle_timeout(self.now);
    }

    fn next_tid(&mut self) -> TransactionId {
        self.tid = self.tid.wrapping_add(1);
        TransactionId::Stun([self.tid; 12])
    }

    fn key(&self) -> IntegrityKey {
        IntegrityKey::long_term(&self.user, REALM, &self.pass)
    }

    /// A request with `attrs`, signed with the harness's credentials when a nonce is known.
    fn request(&mut self, method: Method, attrs: Vec<Attribute>) -> Vec<u8> {
        let tid = self.next_tid();
        let mut m = Message::new(Class::Request, method, tid);
        m.attributes = attrs;
        if let Some(nonce) = self.nonce.clone() {
            m.attributes.push(Attribute::Username(self.user.clone()));
            m.attributes.push(Attribute::Realm(REALM.into()));
            m.attributes.push(Attribute::Nonce(nonce));
            m.attributes.push(Attribute::MessageIntegrity([0; 20]));
            m.encode(Some(&self.key())).unwrap()
        } else {
            m.encode(None).unwrap()
        }
    }

    fn drain(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.server.poll_transmit()).collect()
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.server.poll_event()).collect()
    }

    /// Sends `bytes` from the client and returns the single response, decoded.
    fn exchange(&mut self, bytes: &[u8]) -> Message {
        self.server.handle_client(self.now, self.ft, bytes);
        let out = self.drain();
        assert_eq!(out.len(), 1, "expected one response, got {out:?}");
        assert_eq!(out[0].via, Via::Client(self.ft));
        assert_eq!(out[0].destination, self.ft.client);
        decode(&out[0].payload).unwrap()
    }

    /// Sends `bytes` and asserts nothing comes back.
    fn silent(&mut self, bytes: &[u8]) {
        self.server.handle_client(self.now, self.ft, bytes);
        assert_eq!(self.drain(), vec![]);
    }

    /// The unauthenticated first Allocate, learning the nonce from the 401.
    fn learn_nonce(&mut self) {
        self.nonce = None;
        let req = self.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
        let resp = self.exchange(&req);
        assert_eq!(error_code(&resp), Some(401));
        self.nonce = Some(nonce_of(&resp));
    }

    /// Full RFC 8656 §7.2 allocation; returns the relayed address.
    fn allocate(&mut self) -> SocketAddr {
        self.learn_nonce();
        let req = self.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
        let resp = self.exchange(&req);
        assert_eq!(resp.class, Class::SuccessResponse, "{resp:?}");
        relayed_of(&resp)
    }

    fn relay(&mut self) -> RelayId {
        self.server.binder_mut().bound.last().unwrap().0
    }

    fn permit(&mut self, peer: SocketAddr) {
        let req = self.request(
            Method::CREATE_PERMISSION,
            vec![Attribute::XorPeerAddress(peer)],
        );
        let resp = self.exchange(&req);
        assert_eq!(resp.class, Class::SuccessResponse, "{resp:?}");
    }

    fn send_indication(&mut self, peer: SocketAddr, data: &[u8]) -> Vec<Transmit> {
        let tid = self.next_tid();
        let m = Message::new(Class::Indication, Method::SEND, tid)
            .with(Attribute::XorPeerAddress(peer))
            .with(Attribute::Data(data.to_vec()));
        self.server
            .handle_client(self.now, self.ft, &m.encode(None).unwrap());
        self.drain()
    }

    fn peer_sends(&mut self, peer: SocketAddr, data: &[u8]) -> Vec<Transmit> {
        let relay = self.relay();
        self.server.handle_peer(self.now, relay, peer, data);
        self.drain()
    }
}

fn error_code(m: &Message) -> Option<u16> {
    m.find(|a| match a {
        Attribute::ErrorCode { code, .. } => Some(*code),
        _ => None,
    })
}

fn nonce_of(m: &Message) -> String {
    m.find(|a| match a {
        Attribute::Nonce(n) => Some(n.clone()),
        _ => None,
    })
    .expect("NONCE")
}

fn relayed_of(m: &Message) -> SocketAddr {
    m.find(|a| match a {
        Attribute::XorRelayedAddress(r) | Attribute::MappedAddress(r) => Some(*r),
        _ => None,
    })
    .expect("relayed address")
}

fn lifetime_of(m: &Message) -> Option<u32> {
    m.find(|a| match a {
        Attribute::Lifetime(l) => Some(*l),
        _ => None,
    })
}

const PEER: &str = "198.51.100.77:6000";

fn peer() -> SocketAddr {
    PEER.parse().unwrap()
}

#[test]
fn binding_reflects_the_source_address() {
    let mut h = Harness::new(config());
    let req = h.request(Method::BINDING, vec![]);
    let resp = h.exchange(&req);
    assert_eq!(resp.class, Class::SuccessResponse);
    assert_eq!(resp.method, Method::BINDING);
    assert_eq!(
        resp.attributes,
        vec![Attribute::XorMappedAddress(h.ft.client)]
    );
}

#[test]
fn binding_with_an_unknown_required_attribute_is_420() {
    let mut h = Harness::new(config());
    let req = h.request(
        Method::BINDING,
        vec![Attribute::Unknown {
            typ: 0x7ff0,
            value: vec![0; 16],
        }],
    );
    let resp = h.exchange(&req);
    assert_eq!(error_code(&resp), Some(420));
    assert!(
        resp.attributes
            .contains(&Attribute::UnknownAttributes(vec![0x7ff0]))
    );
}

#[test]
fn allocate_without_credentials_is_challenged_401_with_realm_and_nonce() {
    let mut h = Harness::new(config());
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    let resp = h.exchange(&req);
    assert_eq!(resp.class, Class::ErrorResponse);
    assert_eq!(error_code(&resp), Some(401));
    assert!(resp.attributes.contains(&Attribute::Realm(REALM.into())));
    assert_eq!(nonce_of(&resp).len(), 28);
    // Unauthenticated replies carry no MESSAGE-INTEGRITY and no SOFTWARE.
    assert!(
        !resp
            .attributes
            .iter()
            .any(|a| matches!(a, Attribute::MessageIntegrity(_) | Attribute::Software(_)))
    );
    assert_eq!(h.server.allocation_count(), 0);
    // A challenge is not an authentication failure.
    assert_eq!(h.server.stats().auth_failures, 0);
}

#[test]
fn allocate_with_long_term_credentials_creates_a_signed_allocation() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    let tid = h.next_tid();
    let req = Message::new(Class::Request, Method::ALLOCATE, tid)
        .with(Attribute::RequestedTransport(17))
        .with(Attribute::Username(USER.into()))
        .with(Attribute::Realm(REALM.into()))
        .with(Attribute::Nonce(h.nonce.clone().unwrap()))
        .with(Attribute::MessageIntegrity([0; 20]))
        .with(Attribute::Fingerprint)
        .encode(Some(&h.key()))
        .unwrap();
    h.server.handle_client(h.now, h.ft, &req);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    let resp = decode(&out[0].payload).unwrap();
    assert_eq!(resp.class, Class::SuccessResponse, "{resp:?}");
    assert_eq!(
        verify_integrity(&out[0].payload, &h.key()).map(|_| ()),
        Ok(())
    );
    let relayed = relayed_of(&resp);
    assert_eq!(relayed.ip().to_string(), "203.0.113.1");
    assert!((50000..=50009).contains(&relayed.port()));
    assert_eq!(lifetime_of(&resp), Some(600));
    assert!(
        resp.attributes
            .contains(&Attribute::XorMappedAddress(h.ft.client))
    );
    assert!(
        resp.attributes
            .contains(&Attribute::Software("convene-test".into()))
    );
    assert_eq!(resp.attributes.last(), Some(&Attribute::Fingerprint));
    let relay = h.relay();
    assert_eq!(
        h.events(),
        vec![Event::AllocationCreated {
            five_tuple: h.ft,
            relay,
            relayed,
            username: USER.into()
        }]
    );
    assert_eq!(h.server.binder_mut().bound, vec![(relay, relayed)]);
}

#[test]
fn bad_credentials_are_401_and_missing_auth_attributes_400() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    h.pass = "wrong".into();
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(401));
    h.user = "nobody".into();
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(401));
    // Both refusals count as authentication failures (metrics).
    assert_eq!(h.server.stats().auth_failures, 2);
    // MESSAGE-INTEGRITY without NONCE: 400 (RFC 8489 §9.2.4).
    let tid = h.next_tid();
    let m = Message::new(Class::Request, Method::ALLOCATE, tid)
        .with(Attribute::RequestedTransport(17))
        .with(Attribute::Username(USER.into()))
        .with(Attribute::Realm(REALM.into()))
        .with(Attribute::MessageIntegrity([0; 20]));
    let req = m.encode(Some(&h.key())).unwrap();
    assert_eq!(error_code(&h.exchange(&req)), Some(400));
    assert_eq!(h.server.allocation_count(), 0);
}

#[test]
fn nonce_expires_with_438_and_the_fresh_nonce_works() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    let old = h.nonce.clone().unwrap();
    h.advance(601);
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    let resp = h.exchange(&req);
    assert_eq!(error_code(&resp), Some(438));
    let fresh = nonce_of(&resp);
    assert_ne!(fresh, old);
    h.nonce = Some(fresh);
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(h.exchange(&req).class, Class::SuccessResponse);
}

#[test]
fn nonce_from_another_client_address_is_stale() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    h.ft = udp("192.0.2.11:40000");
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(438));
}

#[test]
fn rest_ephemeral_credentials_work_until_their_timestamp() {
    let mut h = Harness::new(config());
    h.user = format!("{}:alice", UNIX_T0 + 100);
    h.pass = rest_password(b"rest-secret", &h.user);
    h.allocate();
    // A second client whose ephemeral username expired 100 s into the run.
    h.ft = udp("192.0.2.20:40000");
    h.advance(101);
    h.learn_nonce();
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(401));
    // The wrong secret never works.
    h.user = format!("{}:mallory", UNIX_T0 + 10_000);
    h.pass = rest_password(b"guess", &h.user);
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(401));
}

#[test]
fn retransmitted_allocate_gets_the_same_answer_and_a_new_one_437() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    h.server.handle_client(h.now, h.ft, &req);
    let first = h.drain();
    h.server.handle_client(h.now, h.ft, &req);
    let again = h.drain();
    assert_eq!(first, again);
    assert_eq!(h.server.allocation_count(), 1);
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    let resp = h.exchange(&req);
    assert_eq!(error_code(&resp), Some(437));
}

#[test]
fn requests_without_an_allocation_are_437() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    for (method, attrs) in [
        (Method::REFRESH, vec![]),
        (
            Method::CREATE_PERMISSION,
            vec![Attribute::XorPeerAddress(peer())],
        ),
        (
            Method::CHANNEL_BIND,
            vec![
                Attribute::ChannelNumber(0x4000),
                Attribute::XorPeerAddress(peer()),
            ],
        ),
    ] {
        let req = h.request(method, attrs);
        let resp = h.exchange(&req);
        assert_eq!(error_code(&resp), Some(437), "{method:?}");
        // Authenticated error responses are signed.
        assert!(
            resp.attributes
                .iter()
                .any(|a| matches!(a, Attribute::MessageIntegrity(_)))
        );
    }
}

#[test]
fn another_user_on_the_allocation_is_441() {
    let mut h = Harness::new(config());
    h.allocate();
    h.user = "other".into();
    h.pass = "otherpass".into();
    let req = h.request(Method::REFRESH, vec![]);
    assert_eq!(error_code(&h.exchange(&req)), Some(441));
}

#[test]
fn unknown_comprehension_required_attributes_are_420_listed() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    let req = h.request(
        Method::ALLOCATE,
        vec![
            Attribute::RequestedTransport(17),
            Attribute::Unknown {
                typ: 0x7777,
                value: vec![1],
            },
            // Comprehension-optional unknowns are ignored.
            Attribute::Unknown {
                typ: 0x9999,
                value: vec![],
            },
        ],
    );
    let resp = h.exchange(&req);
    assert_eq!(error_code(&resp), Some(420));
    assert!(
        resp.attributes
            .contains(&Attribute::UnknownAttributes(vec![0x7777]))
    );
    // DONT-FRAGMENT is unsupported and so treated as unknown (RFC 8656 §7.2).
    let req = h.request(
        Method::ALLOCATE,
        vec![Attribute::RequestedTransport(17), Attribute::DontFragment],
    );
    let resp = h.exchange(&req);
    assert!(
        resp.attributes
            .contains(&Attribute::UnknownAttributes(vec![types::DONT_FRAGMENT]))
    );
    assert_eq!(h.server.allocation_count(), 0);
}

#[test]
fn requested_transport_is_mandatory_and_udp_only() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    let req = h.request(Method::ALLOCATE, vec![]);
    assert_eq!(error_code(&h.exchange(&req)), Some(400));
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(6)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(442));
    let req = h.request(
        Method::ALLOCATE,
        vec![
            Attribute::RequestedTransport(17),
            Attribute::RequestedAddressFamily(2),
        ],
    );
    assert_eq!(error_code(&h.exchange(&req)), Some(440));
    let req = h.request(
        Method::ALLOCATE,
        vec![
            Attribute::RequestedTransport(17),
            Attribute::ReservationToken([1; 8]),
        ],
    );
    assert_eq!(error_code(&h.exchange(&req)), Some(508));
}

#[test]
fn quotas_per_user_486_and_in_total_508() {
    let mut c = config();
    c.max_allocations_per_user = 1;
    c.max_allocations = 2;
    let mut h = Harness::new(c);
    h.allocate();
    h.ft = udp("192.0.2.30:1000");
    h.learn_nonce();
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(486));
    h.user = "other".into();
    h.pass = "otherpass".into();
    h.allocate();
    h.ft = udp("192.0.2.31:1000");
    h.user = format!("{}:carol", UNIX_T0 + 1000);
    h.pass = rest_password(b"rest-secret", &h.user);
    h.learn_nonce();
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(508));
}

#[test]
fn no_bindable_relay_port_is_508() {
    let mut h = Harness::new(config());
    h.server.binder_mut().refuse_all = true;
    h.learn_nonce();
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(508));
}

#[test]
fn relay_ports_are_unique_and_even_port_is_honoured() {
    let mut c = config();
    c.relay_ports = 50001..=50004;
    let mut h = Harness::new(c);
    let mut seen = HashSet::new();
    for i in 0..3 {
        h.ft = udp(&format!("192.0.2.40:{}", 2000 + i));
        h.user = format!("{}:u{i}", UNIX_T0 + 1000);
        h.pass = rest_password(b"rest-secret", &h.user);
        h.learn_nonce();
        let attrs = if i == 0 {
            vec![
                Attribute::RequestedTransport(17),
                Attribute::EvenPort(false),
            ]
        } else {
            vec![Attribute::RequestedTransport(17)]
        };
        let req = h.request(Method::ALLOCATE, attrs);
        let relayed = relayed_of(&h.exchange(&req));
        if i == 0 {
            assert_eq!(relayed.port() % 2, 0);
        }
        assert!(seen.insert(relayed), "port reused: {relayed}");
    }
}

#[test]
fn malformed_requests_get_400_and_garbage_is_dropped() {
    let mut h = Harness::new(config());
    // A Binding request whose LIFETIME attribute has 2 bytes instead of 4.
    let mut bytes = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
    bytes.extend_from_slice(&[5; 12]);
    bytes.extend_from_slice(&[0x00, 0x0d, 0x00, 0x02, 0, 1, 0, 0]);
    let resp = h.exchange(&bytes);
    assert_eq!(error_code(&resp), Some(400));
    assert_eq!(resp.transaction_id, TransactionId::Stun([5; 12]));
    h.silent(&[0xff, 0x00, 0x12]);
    h.silent(b"GET / HTTP/1.1\r\n\r\n");
    // A malformed response or indication is dropped, not answered.
    bytes[1] = 0x11;
    h.silent(&bytes);
    assert!(h.server.stats().dropped_malformed >= 3);
}

#[test]
fn allocation_expires_on_the_virtual_clock_and_refresh_extends_it() {
    let mut h = Harness::new(config());
    h.allocate();
    let relay = h.relay();
    h.events();
    assert!(h.server.poll_timeout().unwrap() <= h.now + Duration::from_secs(600));
    h.advance(500);
    let req = h.request(Method::REFRESH, vec![Attribute::Lifetime(600)]);
    let resp = h.exchange(&req);
    assert_eq!(lifetime_of(&resp), Some(600));
    h.advance(200); // 700 s after allocation: alive thanks to the refresh
    assert_eq!(h.server.allocation_count(), 1);
    assert_eq!(h.events(), vec![]);
    h.advance(401); // 1101 s: past 500 + 600
    assert_eq!(h.server.allocation_count(), 0);
    assert_eq!(
        h.events(),
        vec![Event::AllocationClosed {
            five_tuple: h.ft,
            relay,
            reason: CloseReason::Expired
        }]
    );
}

#[test]
fn refresh_lifetime_is_clamped_and_zero_deallocates() {
    let mut h = Harness::new(config());
    h.allocate();
    let req = h.request(Method::REFRESH, vec![Attribute::Lifetime(999_999)]);
    assert_eq!(lifetime_of(&h.exchange(&req)), Some(3600));
    let req = h.request(Method::REFRESH, vec![Attribute::Lifetime(5)]);
    assert_eq!(lifetime_of(&h.exchange(&req)), Some(600));
    let relay = h.relay();
    h.events();
    let req = h.request(Method::REFRESH, vec![Attribute::Lifetime(0)]);
    let resp = h.exchange(&req);
    assert_eq!(
        (resp.class, lifetime_of(&resp)),
        (Class::SuccessResponse, Some(0))
    );
    assert_eq!(h.server.allocation_count(), 0);
    assert_eq!(
        h.events(),
        vec![Event::AllocationClosed {
            five_tuple: h.ft,
            relay,
            reason: CloseReason::Deallocated
        }]
    );
}

#[test]
fn send_indication_needs_a_permission_and_permissions_expire() {
    let mut h = Harness::new(config());
    h.allocate();
    let relay = h.relay();
    assert_eq!(h.send_indication(peer(), b"early"), vec![]);
    assert_eq!(h.server.stats().dropped_no_permission, 1);
    h.permit(peer());
    // The permission covers the peer's IP, any port (RFC 8656 §9).
    let other_port: SocketAddr = "198.51.100.77:7000".parse().unwrap();
    let out = h.send_indication(other_port, b"hello");
    assert_eq!(
        out,
        vec![Transmit {
            via: Via::Relay(relay),
            destination: other_port,
            payload: b"hello".to_vec()
        }]
    );
    h.advance(301);
    assert_eq!(h.send_indication(peer(), b"late"), vec![]);
    assert_eq!(h.server.stats().dropped_no_permission, 2);
}

#[test]
fn peer_data_needs_a_permission_and_arrives_as_a_data_indication() {
    let mut h = Harness::new(config());
    h.allocate();
    assert_eq!(h.peer_sends(peer(), b"spoof"), vec![]);
    h.permit(peer());
    let out = h.peer_sends(peer(), b"media");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].via, Via::Client(h.ft));
    let ind = decode(&out[0].payload).unwrap();
    assert_eq!((ind.class, ind.method), (Class::Indication, Method::DATA));
    assert_eq!(
        ind.attributes,
        vec![
            Attribute::XorPeerAddress(peer()),
            Attribute::Data(b"media".to_vec())
        ]
    );
    // Unknown relays are ignored.
    h.server.handle_peer(h.now, RelayId(999), peer(), b"x");
    assert_eq!(h.drain(), vec![]);
}

#[test]
fn channel_bind_relays_channel_data_both_ways() {
    let mut h = Harness::new(config());
    h.allocate();
    let relay = h.relay();
    let req = h.request(
        Method::CHANNEL_BIND,
        vec![
            Attribute::ChannelNumber(0x4001),
            Attribute::XorPeerAddress(peer()),
        ],
    );
    assert_eq!(h.exchange(&req).class, Class::SuccessResponse);
    let mut cd = Vec::new();
    encode_channel_data(0x4001, b"rtp!", false, &mut cd);
    h.server.handle_client(h.now, h.ft, &cd);
    assert_eq!(
        h.drain(),
        vec![Transmit {
            via: Via::Relay(relay),
            destination: peer(),
            payload: b"rtp!".to_vec()
        }]
    );
    let out = h.peer_sends(peer(), b"back");
    let back = decode_channel_data(&out[0].payload).unwrap();
    assert_eq!((back.channel, back.data), (0x4001, &b"back"[..]));
    // An unbound channel is dropped.
    let mut cd = Vec::new();
    encode_channel_data(0x4002, b"x", false, &mut cd);
    h.server.handle_client(h.now, h.ft, &cd);
    assert_eq!(h.drain(), vec![]);
    // After 600 s (the permission went at 300 s) nothing flows either way.
    h.advance(601);
    let mut cd = Vec::new();
    encode_channel_data(0x4001, b"late", false, &mut cd);
    h.server.handle_client(h.now, h.ft, &cd);
    assert_eq!(h.drain(), vec![]);
}

#[test]
fn rfc5766_channel_numbers_are_accepted_unless_strict() {
    for (strict, want) in [(false, None), (true, Some(400))] {
        let mut c = config();
        c.rfc5766_channels = !strict;
        let mut h = Harness::new(c);
        h.allocate();
        let req = h.request(
            Method::CHANNEL_BIND,
            vec![
                Attribute::ChannelNumber(0x604c),
                Attribute::XorPeerAddress(peer()),
            ],
        );
        assert_eq!(error_code(&h.exchange(&req)), want, "strict {strict}");
    }
}

#[test]
fn channel_bind_rules_400() {
    let mut h = Harness::new(config());
    h.allocate();
    let other: SocketAddr = "198.51.100.78:6000".parse().unwrap();
    let bind = |h: &mut Harness, ch: u16, p: SocketAddr| {
        let req = h.request(
            Method::CHANNEL_BIND,
            vec![Attribute::ChannelNumber(ch), Attribute::XorPeerAddress(p)],
        );
        let resp = h.exchange(&req);
        error_code(&resp)
    };
    assert_eq!(bind(&mut h, 0x3FFF, peer()), Some(400));
    assert_eq!(bind(&mut h, 0x8000, peer()), Some(400));
    assert_eq!(bind(&mut h, 0x4000, peer()), None);
    // Same channel, same peer: a refresh.
    assert_eq!(bind(&mut h, 0x4000, peer()), None);
    assert_eq!(bind(&mut h, 0x4000, other), Some(400));
    assert_eq!(bind(&mut h, 0x4001, peer()), Some(400));
    let req = h.request(Method::CHANNEL_BIND, vec![Attribute::ChannelNumber(0x4002)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(400));
}

#[test]
fn denied_peers_are_403_and_family_mismatch_443() {
    let mut h = Harness::new(config());
    h.allocate();
    for denied in ["127.0.0.1:5000", "10.1.2.3:5000", "192.168.0.9:1"] {
        let req = h.request(
            Method::CREATE_PERMISSION,
            vec![Attribute::XorPeerAddress(denied.parse().unwrap())],
        );
        assert_eq!(error_code(&h.exchange(&req)), Some(403), "{denied}");
    }
    let req = h.request(
        Method::CHANNEL_BIND,
        vec![
            Attribute::ChannelNumber(0x4000),
            Attribute::XorPeerAddress("127.0.0.1:9".parse().unwrap()),
        ],
    );
    assert_eq!(error_code(&h.exchange(&req)), Some(403));
    let req = h.request(
        Method::CREATE_PERMISSION,
        vec![Attribute::XorPeerAddress(
            "[2001:db8::1]:5000".parse().unwrap(),
        )],
    );
    assert_eq!(error_code(&h.exchange(&req)), Some(443));
    // One bad peer in a list installs none of them.
    let req = h.request(
        Method::CREATE_PERMISSION,
        vec![
            Attribute::XorPeerAddress(peer()),
            Attribute::XorPeerAddress("127.0.0.1:1".parse().unwrap()),
        ],
    );
    assert_eq!(error_code(&h.exchange(&req)), Some(403));
    assert_eq!(h.send_indication(peer(), b"x"), vec![]);
}

#[test]
fn unauthenticated_udp_replies_never_exceed_the_request() {
    let mut c = config();
    c.amplification_factor = 1;
    let mut h = Harness::new(c);
    // A 28-byte Allocate would earn a larger 401: nothing is sent.
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    h.silent(&req);
    assert_eq!(h.server.stats().dropped_amplification, 1);
    // A 20-byte Binding request would earn a 32-byte answer: nothing is sent.
    let req = h.request(Method::BINDING, vec![]);
    h.silent(&req);
    // A request as large as the answer is answered, and the answer is no larger.
    let req = h.request(
        Method::ALLOCATE,
        vec![
            Attribute::RequestedTransport(17),
            Attribute::Software("x".repeat(80)),
        ],
    );
    h.server.handle_client(h.now, h.ft, &req);
    let out = h.drain();
    assert_eq!(out.len(), 1);
    assert!(out[0].payload.len() <= req.len());
    assert_eq!(error_code(&decode(&out[0].payload).unwrap()), Some(401));
    // Over TCP the source is verified by the handshake: no limit.
    h.ft.transport = Transport::Tcp;
    let req = h.request(Method::BINDING, vec![]);
    assert_eq!(h.exchange(&req).class, Class::SuccessResponse);
}

#[test]
fn closing_the_tcp_connection_ends_the_allocation() {
    let mut h = Harness::new(config());
    h.ft.transport = Transport::Tcp;
    h.allocate();
    let relay = h.relay();
    h.events();
    h.server.handle_connection_closed(h.ft);
    assert_eq!(h.server.allocation_count(), 0);
    assert_eq!(
        h.events(),
        vec![Event::AllocationClosed {
            five_tuple: h.ft,
            relay,
            reason: CloseReason::ConnectionClosed
        }]
    );
}

#[test]
fn channel_data_to_a_tcp_client_is_padded() {
    let mut h = Harness::new(config());
    h.ft.transport = Transport::Tcp;
    h.allocate();
    let req = h.request(
        Method::CHANNEL_BIND,
        vec![
            Attribute::ChannelNumber(0x4000),
            Attribute::XorPeerAddress(peer()),
        ],
    );
    assert_eq!(h.exchange(&req).class, Class::SuccessResponse);
    let out = h.peer_sends(peer(), b"abcde");
    assert_eq!(out[0].payload.len(), 12);
}

/// MS-TURN client helpers: cookie-less header, MAGIC-COOKIE first, MS attribute numbering.
mod ms_turn {
    use super::*;

    fn ms_request(h: &mut Harness, method: Method, attrs: Vec<Attribute>) -> Vec<u8> {
        h.tid = h.tid.wrapping_add(1);
        let tid = TransactionId::MsTurn([h.tid; 16]);
        let mut m = Message::new(Class::Request, method, tid).with(Attribute::MsMagicCookie);
        m.attributes.extend(attrs);
        if let Some(nonce) = h.nonce.clone() {
            m.attributes.push(Attribute::Username(h.user.clone()));
            m.attributes.push(Attribute::Realm(REALM.into()));
            m.attributes.push(Attribute::Nonce(nonce));
            m.attributes.push(Attribute::MessageIntegrity([0; 20]));
            m.encode(Some(&h.key())).unwrap()
        } else {
            m.encode(None).unwrap()
        }
    }

    /// Unwraps an [MS-TURN] 2.1 frame sent to a TCP client.
    fn unframe(payload: &[u8]) -> (MsFrameType, Vec<u8>) {
        match next_ms_frame(payload) {
            MsStreamFrame::Frame { kind, total } => {
                assert_eq!(total, payload.len());
                (kind, payload[4..].to_vec())
            }
            other => panic!("not a frame: {other:?}"),
        }
    }

    fn ms_allocate(h: &mut Harness) -> SocketAddr {
        let req = ms_request(h, Method::ALLOCATE, vec![Attribute::MsVersion(3)]);
        h.server.handle_client(h.now, h.ft, &req);
        let out = h.drain();
        let (kind, bytes) = unframe(&out[0].payload);
        assert_eq!(kind, MsFrameType::Control);
        let resp = decode(&bytes).unwrap();
        assert_eq!(error_code(&resp), Some(401));
        // The challenge uses MS numbering: REALM is 0x0015, NONCE 0x0014 on the wire.
        assert!(bytes.windows(2).any(|w| w == [0x00, 0x15]));
        h.nonce = Some(nonce_of(&resp));
        let req = ms_request(h, Method::ALLOCATE, vec![Attribute::MsVersion(3)]);
        h.server.handle_client(h.now, h.ft, &req);
        let out = h.drain();
        let (_, bytes) = unframe(&out[0].payload);
        assert!(verify_integrity(&bytes, &h.key()).is_ok());
        let resp = decode(&bytes).unwrap();
        assert_eq!(resp.class, Class::SuccessResponse, "{resp:?}");
        assert_eq!(resp.attributes[0], Attribute::MsMagicCookie);
        assert!(
            resp.attributes
                .contains(&Attribute::XorMappedAddress(h.ft.client))
        );
        assert!(resp.attributes.contains(&Attribute::MsVersion(3)));
        relayed_of(&resp)
    }

    fn tcp_harness() -> Harness {
        let mut h = Harness::new(config());
        h.ft.transport = Transport::Tcp;
        h.ft.server = "198.51.100.1:443".parse().unwrap();
        h
    }

    #[test]
    fn ms_turn_responses_echo_the_sequence_number() {
        let mut h = tcp_harness();
        let seq = Attribute::MsSequenceNumber {
            connection_id: [0xc5; 20],
            sequence: 7,
        };
        let req = ms_request(&mut h, Method::ALLOCATE, vec![seq.clone()]);
        h.server.handle_client(h.now, h.ft, &req);
        let (_, bytes) = unframe(&h.drain()[0].payload);
        assert!(decode(&bytes).unwrap().attributes.contains(&seq));
    }

    #[test]
    fn ms_turn_allocate_over_tcp_is_framed_and_signed() {
        let mut h = tcp_harness();
        let relayed = ms_allocate(&mut h);
        assert_eq!(relayed.ip().to_string(), "203.0.113.1");
        assert_eq!(h.server.allocation_count(), 1);
    }

    #[test]
    fn ms_turn_send_request_installs_a_permission_and_peer_data_comes_back_as_0x0115() {
        let mut h = tcp_harness();
        ms_allocate(&mut h);
        let relay = h.relay();
        let req = ms_request(
            &mut h,
            Method::MS_SEND,
            vec![
                Attribute::MsDestinationAddress(peer()),
                Attribute::Data(b"hi".to_vec()),
            ],
        );
        h.server.handle_client(h.now, h.ft, &req);
        assert_eq!(
            h.drain(),
            vec![Transmit {
                via: Via::Relay(relay),
                destination: peer(),
                payload: b"hi".to_vec()
            }]
        );
        let out = h.peer_sends(peer(), b"yo");
        let (kind, bytes) = unframe(&out[0].payload);
        assert_eq!(kind, MsFrameType::Control);
        assert_eq!(&bytes[..2], &[0x01, 0x15]);
        let ind = decode(&bytes).unwrap();
        assert!(ind.attributes.contains(&Attribute::MsRemoteAddress(peer())));
        assert!(ind.attributes.contains(&Attribute::Data(b"yo".to_vec())));
    }

    #[test]
    fn ms_turn_active_destination_carries_raw_0x03_frames_both_ways() {
        let mut h = tcp_harness();
        ms_allocate(&mut h);
        let relay = h.relay();
        let req = ms_request(
            &mut h,
            Method::MS_SET_ACTIVE_DESTINATION,
            vec![Attribute::MsDestinationAddress(peer())],
        );
        h.server.handle_client(h.now, h.ft, &req);
        let out = h.drain();
        let (_, bytes) = unframe(&out[0].payload);
        assert_eq!(decode(&bytes).unwrap().class, Class::SuccessResponse);
        h.server.handle_client_ms_data(h.now, h.ft, b"media-out");
        assert_eq!(
            h.drain(),
            vec![Transmit {
                via: Via::Relay(relay),
                destination: peer(),
                payload: b"media-out".to_vec()
            }]
        );
        let out = h.peer_sends(peer(), b"media-in");
        let mut expected = Vec::new();
        encode_ms_frame(MsFrameType::EndToEndData, b"media-in", &mut expected);
        assert_eq!(out[0].payload, expected);
        // A denied destination is refused.
        let req = ms_request(
            &mut h,
            Method::MS_SET_ACTIVE_DESTINATION,
            vec![Attribute::MsDestinationAddress(
                "127.0.0.1:1".parse().unwrap(),
            )],
        );
        h.server.handle_client(h.now, h.ft, &req);
        let out = h.drain();
        let (_, bytes) = unframe(&out[0].payload);
        assert_eq!(error_code(&decode(&bytes).unwrap()), Some(403));
    }

    #[test]
    fn ms_turn_requested_family_counts_only_from_ms_version_4() {
        let mut c = config();
        c.relay_ipv6 = Some("2001:db8::1".parse().unwrap());
        for (version, want_v6) in [(3, false), (4, true)] {
            let mut h = Harness::new(c.clone());
            h.ft.transport = Transport::Tcp;
            let req = ms_request(&mut h, Method::ALLOCATE, vec![]);
            h.server.handle_client(h.now, h.ft, &req);
            let (_, bytes) = unframe(&h.drain()[0].payload);
            h.nonce = Some(nonce_of(&decode(&bytes).unwrap()));
            let req = ms_request(
                &mut h,
                Method::ALLOCATE,
                vec![
                    Attribute::MsVersion(version),
                    Attribute::RequestedAddressFamily(2),
                ],
            );
            h.server.handle_client(h.now, h.ft, &req);
            let (_, bytes) = unframe(&h.drain()[0].payload);
            let relayed = relayed_of(&decode(&bytes).unwrap());
            assert_eq!(relayed.is_ipv6(), want_v6, "MS-Version {version}");
        }
    }

    #[test]
    fn ms_turn_reallocate_refreshes_and_lifetime_zero_ends() {
        let mut h = tcp_harness();
        ms_allocate(&mut h);
        let req = ms_request(&mut h, Method::ALLOCATE, vec![Attribute::Lifetime(0)]);
        h.server.handle_client(h.now, h.ft, &req);
        let out = h.drain();
        let (_, bytes) = unframe(&out[0].payload);
        assert_eq!(decode(&bytes).unwrap().class, Class::SuccessResponse);
        assert_eq!(h.server.allocation_count(), 0);
    }
}

#[test]
fn an_expired_channel_stays_reserved_for_five_minutes() {
    let mut h = Harness::new(config());
    h.allocate();
    let other: SocketAddr = "198.51.100.78:6000".parse().unwrap();
    let bind = |h: &mut Harness, ch: u16, p: SocketAddr| {
        let req = h.request(
            Method::CHANNEL_BIND,
            vec![Attribute::ChannelNumber(ch), Attribute::XorPeerAddress(p)],
        );
        error_code(&h.exchange(&req))
    };
    assert_eq!(bind(&mut h, 0x4000, peer()), None);
    // Keep the allocation alive across the test.
    let req = h.request(Method::REFRESH, vec![Attribute::Lifetime(3600)]);
    assert_eq!(h.exchange(&req).class, Class::SuccessResponse);
    h.advance(601); // the binding expired: no data flows on it
    h.learn_nonce(); // the nonce expired too
    let mut cd = Vec::new();
    encode_channel_data(0x4000, b"x", false, &mut cd);
    h.silent(&cd);
    // ...but neither the channel nor the peer can move for 5 minutes (RFC 8656 §12).
    assert_eq!(bind(&mut h, 0x4000, other), Some(400));
    assert_eq!(bind(&mut h, 0x4001, peer()), Some(400));
    h.advance(300);
    h.learn_nonce();
    assert_eq!(bind(&mut h, 0x4000, other), None);
    assert_eq!(bind(&mut h, 0x4001, peer()), None);
}

#[test]
fn ipv6_relayed_address_on_request() {
    let mut c = config();
    c.relay_ipv6 = Some("2001:db8::1".parse().unwrap());
    let mut h = Harness::new(c);
    h.learn_nonce();
    let req = h.request(
        Method::ALLOCATE,
        vec![
            Attribute::RequestedTransport(17),
            Attribute::RequestedAddressFamily(2),
        ],
    );
    let resp = h.exchange(&req);
    let relayed = relayed_of(&resp);
    assert_eq!(relayed.ip().to_string(), "2001:db8::1");
    // IPv6 peers are fine now, IPv4 ones are a family mismatch.
    let req = h.request(
        Method::CREATE_PERMISSION,
        vec![Attribute::XorPeerAddress(
            "[2001:db8::77]:5000".parse().unwrap(),
        )],
    );
    assert_eq!(h.exchange(&req).class, Class::SuccessResponse);
    let req = h.request(
        Method::CREATE_PERMISSION,
        vec![Attribute::XorPeerAddress(peer())],
    );
    assert_eq!(error_code(&h.exchange(&req)), Some(443));
    let req = h.request(Method::REFRESH, vec![Attribute::RequestedAddressFamily(1)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(443));
}

#[test]
fn garbage_on_a_stream_asks_the_driver_to_close_it() {
    let mut h = Harness::new(config());
    h.ft.transport = Transport::Tcp;
    h.silent(&[0x80, 1, 2, 3]);
    assert_eq!(
        h.events(),
        vec![Event::CloseConnection { five_tuple: h.ft }]
    );
    // On UDP a stray datagram is just dropped.
    h.ft.transport = Transport::Udp;
    h.silent(&[0x80, 1, 2, 3]);
    assert_eq!(h.events(), vec![]);
}

#[test]
fn send_indications_are_checked_like_any_message() {
    let mut h = Harness::new(config());
    h.allocate();
    h.permit(peer());
    let relay = h.relay();
    let send = |h: &mut Harness, extra: Vec<Attribute>| {
        let tid = h.next_tid();
        let mut m = Message::new(Class::Indication, Method::SEND, tid)
            .with(Attribute::XorPeerAddress(peer()))
            .with(Attribute::Data(b"d".to_vec()));
        m.attributes.extend(extra);
        m.encode(None).unwrap()
    };
    let ok = send(&mut h, vec![Attribute::Fingerprint]);
    h.server.handle_client(h.now, h.ft, &ok);
    assert_eq!(
        h.drain(),
        vec![Transmit {
            via: Via::Relay(relay),
            destination: peer(),
            payload: b"d".to_vec()
        }]
    );
    let mut bad_crc = ok.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1;
    h.silent(&bad_crc);
    let unknown = send(
        &mut h,
        vec![Attribute::Unknown {
            typ: 0x7001,
            value: vec![],
        }],
    );
    h.silent(&unknown);
    let no_data = {
        let tid = h.next_tid();
        Message::new(Class::Indication, Method::SEND, tid)
            .with(Attribute::XorPeerAddress(peer()))
            .encode(None)
            .unwrap()
    };
    h.silent(&no_data);
    let mut truncated = ok.clone();
    truncated.truncate(ok.len() - 4);
    h.silent(&truncated);
    assert_eq!(h.server.stats().to_peer_packets, 1);
}

#[test]
fn even_port_with_r_bit_reserves_the_next_port_under_a_token() {
    let mut h = Harness::new(config());
    h.learn_nonce();
    let req = h.request(
        Method::ALLOCATE,
        vec![Attribute::RequestedTransport(17), Attribute::EvenPort(true)],
    );
    let resp = h.exchange(&req);
    let rtp = relayed_of(&resp);
    assert_eq!(rtp.port() % 2, 0);
    let token = resp
        .find(|a| match a {
            Attribute::ReservationToken(t) => Some(*t),
            _ => None,
        })
        .expect("RESERVATION-TOKEN");
    // The RTCP allocation from another client port redeems the token: port + 1.
    let with_token = |h: &mut Harness| {
        let req = h.request(
            Method::ALLOCATE,
            vec![
                Attribute::RequestedTransport(17),
                Attribute::ReservationToken(token),
            ],
        );
        h.exchange(&req)
    };
    h.ft = udp("192.0.2.10:40001");
    h.learn_nonce();
    let resp = with_token(&mut h);
    assert_eq!(relayed_of(&resp), SocketAddr::new(rtp.ip(), rtp.port() + 1));
    // A token works once.
    h.ft = udp("192.0.2.10:40002");
    h.learn_nonce();
    assert_eq!(error_code(&with_token(&mut h)), Some(508));
}

#[test]
fn unredeemed_reservations_expire_and_free_the_port() {
    let mut c = config();
    c.relay_ports = 50000..=50001;
    let mut h = Harness::new(c);
    h.learn_nonce();
    let req = h.request(
        Method::ALLOCATE,
        vec![Attribute::RequestedTransport(17), Attribute::EvenPort(true)],
    );
    let resp = h.exchange(&req);
    assert_eq!(relayed_of(&resp).port(), 50000);
    // 50001 is reserved: another client finds no port.
    h.ft = udp("192.0.2.10:40001");
    h.learn_nonce();
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(error_code(&h.exchange(&req)), Some(508));
    h.advance(31);
    let req = h.request(Method::ALLOCATE, vec![Attribute::RequestedTransport(17)]);
    assert_eq!(relayed_of(&h.exchange(&req)).port(), 50001);
}

#[test]
fn repeated_requests_do_not_grow_the_timer_heap() {
    let mut h = Harness::new(config());
    h.allocate();
    for i in 0..200u16 {
        let p = SocketAddr::new("198.51.100.77".parse().unwrap(), 1000 + i);
        h.permit(p);
        let req = h.request(Method::REFRESH, vec![Attribute::Lifetime(600)]);
        assert_eq!(h.exchange(&req).class, Class::SuccessResponse);
        h.now += Duration::from_millis(10);
    }
    assert!(
        h.server.pending_timers() <= 3,
        "{}",
        h.server.pending_timers()
    );
    // Expiry still happens on time: permissions at ~300 s after the last refresh...
    h.advance(301);
    assert_eq!(h.send_indication(peer(), b"x"), vec![]);
    // ...and the allocation 600 s after it.
    h.advance(300);
    assert_eq!(h.server.allocation_count(), 0);
}

#[test]
fn the_relay_never_relays_to_itself_and_permissions_have_a_quota() {
    let mut c = config();
    c.denied_peers = Vec::new();
    c.max_permissions_per_allocation = 2;
    let mut h = Harness::new(c);
    h.allocate();
    let own = h.request(
        Method::CREATE_PERMISSION,
        vec![Attribute::XorPeerAddress(
            "203.0.113.1:50001".parse().unwrap(),
        )],
    );
    assert_eq!(error_code(&h.exchange(&own)), Some(403));
    // A permission for the relay's IP on a port outside the relay range is allowed, but
    // Send indications into the relay range are still dropped.
    h.permit("203.0.113.1:3478".parse().unwrap());
    assert_eq!(
        h.send_indication("203.0.113.1:50003".parse().unwrap(), b"loop"),
        vec![]
    );
    assert_eq!(
        h.send_indication("203.0.113.1:3478".parse().unwrap(), b"ok")
            .len(),
        1
    );
    h.permit("198.51.100.2:1".parse().unwrap());
    // Refreshing an existing one is fine, a third one is over the quota.
    h.permit("198.51.100.2:9".parse().unwrap());
    let third = h.request(
        Method::CREATE_PERMISSION,
        vec![Attribute::XorPeerAddress("198.51.100.3:1".parse().unwrap())],
    );
    assert_eq!(error_code(&h.exchange(&third)), Some(508));
}
