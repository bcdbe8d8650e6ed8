//! The sans-IO TURN server (RFC 8656 over RFC 8489, plus the MS-TURN dialect).
//!
//! The server owns allocations, permissions, channel bindings, nonces and quotas. It is fed
//! with what arrives (`handle_client`, `handle_client_ms_data`, `handle_peer`,
//! `handle_connection_closed`, `handle_timeout`), always with `now`, and hands back datagrams
//! and stream frames to send through [`Server::poll_transmit`], lifecycle events through
//! [`Server::poll_event`], and its next deadline through [`Server::poll_timeout`]. A driver owns
//! the sockets: the listening sockets (named by a [`FiveTuple`]) and one relay socket per
//! allocation (named by a [`RelayId`], bound on request through [`RelayBinder`]).

mod auth;
mod fasthash;
mod ip;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

pub use auth::{Credentials, rest_password};
pub use ip::{IpRange, IpRangeError};

use crate::attr::{Attribute, types};
use crate::channel::{
    CHANNEL_MAX, CHANNEL_MAX_RFC5766, CHANNEL_MIN, MsFrameType, PacketKind, decode_channel_data,
    encode_channel_data, encode_ms_frame, packet_kind,
};
use crate::message::{
    Class, Dialect, HEADER_LEN, Header, IntegrityKey, MAGIC_COOKIE, Message, Method, TransactionId,
    decode, fingerprint, peek_header, verify_integrity, walk,
};
use auth::{Lookup, NonceMint, NonceState};
use fasthash::{FastMap, Seeded};

/// RFC 8656 §3.1: the transport between client and server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (including MS-TURN after pseudo-TLS).
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// Whether messages travel on a byte stream (and need stream framing).
    pub fn is_stream(self) -> bool {
        !matches!(self, Self::Udp)
    }
}

/// RFC 8656 §2: client address, server address and transport identify an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiveTuple {
    /// The client's address as the server sees it.
    pub client: SocketAddr,
    /// The server address the client reached.
    pub server: SocketAddr,
    /// UDP, TCP or TLS.
    pub transport: Transport,
}

/// Names one relay socket the driver bound for an allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelayId(pub u64);

/// Binds relay sockets: the core picks the address, the driver does the I/O.
pub trait RelayBinder {
    /// Binds a UDP socket on `addr`; `None` if the port is taken or binding failed.
    fn bind(&mut self, addr: SocketAddr) -> Option<RelayId>;
}

/// Where a [`Transmit`] leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The listening socket or connection of this 5-tuple (to the client).
    Client(FiveTuple),
    /// The relay socket of an allocation (to a peer).
    Relay(RelayId),
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Socket or connection to send on.
    pub via: Via,
    /// Destination address (the client for [`Via::Client`]).
    pub destination: SocketAddr,
    /// Complete datagram, or complete stream frame(s) for stream transports.
    pub payload: Vec<u8>,
}

/// Why an allocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Its lifetime ran out (RFC 8656 §7).
    Expired,
    /// The client refreshed it with LIFETIME 0 (RFC 8656 §7.3).
    Deallocated,
    /// The client's TCP/TLS connection closed (RFC 8656 §3.1).
    ConnectionClosed,
}

/// Lifecycle events for the driver (close relay sockets on [`Event::AllocationClosed`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An allocation was created.
    AllocationCreated {
        /// The allocation's 5-tuple.
        five_tuple: FiveTuple,
        /// Its relay socket.
        relay: RelayId,
        /// Its relayed transport address.
        relayed: SocketAddr,
        /// The authenticated user.
        username: String,
    },
    /// A TCP/TLS client sent bytes that are not STUN/TURN: close the connection (the driver
    /// then calls [`Server::handle_connection_closed`]).
    CloseConnection {
        /// The connection's 5-tuple.
        five_tuple: FiveTuple,
    },
    /// An allocation ended; its relay socket may be closed.
    AllocationClosed {
        /// The allocation's 5-tuple.
        five_tuple: FiveTuple,
        /// Its relay socket.
        relay: RelayId,
        /// Why.
        reason: CloseReason,
    },
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Allocations created.
    pub allocations_created: u64,
    /// Allocations ended.
    pub allocations_closed: u64,
    /// Datagrams relayed to peers.
    pub to_peer_packets: u64,
    /// Payload bytes relayed to peers.
    pub to_peer_bytes: u64,
    /// Datagrams relayed from peers to clients.
    pub to_client_packets: u64,
    /// Payload bytes relayed from peers to clients.
    pub to_client_bytes: u64,
    /// Error responses sent.
    pub error_responses: u64,
    /// Input that was not STUN/ChannelData, or malformed non-requests.
    pub dropped_malformed: u64,
    /// Data for a 5-tuple or relay without an allocation (or an unbound channel).
    pub dropped_no_allocation: u64,
    /// Data to or from a peer without a permission (RFC 8656 §9).
    pub dropped_no_permission: u64,
    /// Unauthenticated responses suppressed because they would amplify.
    pub dropped_amplification: u64,
    /// Requests whose credentials were refused: a 401 to a request that carried
    /// MESSAGE-INTEGRITY (wrong key, unknown user, expired ephemeral username; RFC 8489
    /// §9.2.4). A first request without credentials is challenged, not counted.
    pub auth_failures: u64,
}

/// Server settings; build once, then hand to [`Server::new`].
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// RFC 8489 §9.2 realm of the long-term credentials.
    pub realm: String,
    /// SOFTWARE sent in authenticated responses (RFC 8489 §14.14), if any.
    pub software: Option<String>,
    /// Accepted users and the REST shared secret.
    pub credentials: Credentials,
    /// Secret for stateless nonces (random per process, from the driver).
    pub nonce_secret: [u8; 32],
    /// How long a nonce stays valid before 438 Stale Nonce (RFC 8489 §9.2).
    pub nonce_lifetime: Duration,
    /// RFC 8656 §7.2: lifetime when the client asks for less or nothing (600 s).
    pub default_lifetime: Duration,
    /// Upper bound of an allocation's lifetime (3600 s).
    pub max_lifetime: Duration,
    /// RFC 8656 §9: permission lifetime (300 s, not configurable by the RFC).
    pub permission_lifetime: Duration,
    /// RFC 8656 §12: channel binding lifetime (600 s).
    pub channel_lifetime: Duration,
    /// IPv4 address relay sockets bind to (`None`: no IPv4 relaying, 440).
    pub relay_ipv4: Option<Ipv4Addr>,
    /// IPv6 address relay sockets bind to (`None`: no IPv6 relaying, 440).
    pub relay_ipv6: Option<Ipv6Addr>,
    /// Port range of relayed addresses.
    pub relay_ports: RangeInclusive<u16>,
    /// Allocations in total (then 508 Insufficient Capacity).
    pub max_allocations: usize,
    /// Allocations per user (then 486 Allocation Quota Reached).
    pub max_allocations_per_user: usize,
    /// Peers that may never get a permission (403 Forbidden), coturn's `denied-peer-ip`.
    pub denied_peers: Vec<IpRange>,
    /// An unauthenticated response over UDP may be at most this many times the request's size
    /// (1 = never larger than the request). Default 3, the bound QUIC uses (RFC 9000 §8.1):
    /// at 1, coturn's `turnutils_uclient` never receives its 401 (its first Allocate is smaller
    /// than the challenge) and cannot allocate; see turn-relay's end-to-end tests.
    pub amplification_factor: usize,
    /// Permissions one allocation may hold (then CreatePermission gets 508).
    pub max_permissions_per_allocation: usize,
    /// Accept ChannelBind for 0x5000..=0x7FFF too (RFC 5766's range, which clients such as
    /// coturn's `turnutils_uclient` still use); RFC 8656 §11.2 allows only 0x4000..=0x4FFF.
    pub rfc5766_channels: bool,
}

impl ServerConfig {
    /// Defaults of RFC 8656 and coturn for `realm`, with no users and no relay addresses.
    pub fn new(realm: &str, nonce_secret: [u8; 32]) -> Self {
        Self {
            realm: realm.to_owned(),
            software: None,
            credentials: Credentials::new(),
            nonce_secret,
            nonce_lifetime: Duration::from_secs(600),
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            permission_lifetime: Duration::from_secs(300),
            channel_lifetime: Duration::from_secs(600),
            relay_ipv4: None,
            relay_ipv6: None,
            relay_ports: 49152..=65535,
            max_allocations: 10_000,
            max_allocations_per_user: 100,
            denied_peers: Vec::new(),
            amplification_factor: 3,
            max_permissions_per_allocation: 1000,
            rfc5766_channels: true,
        }
    }

    /// Adds a long-term user in this config's realm.
    pub fn add_user(&mut self, username: &str, password: &str) {
        self.credentials.add_user(username, &self.realm, password);
    }
}

/// A bound channel (RFC 8656 §12).
#[derive(Debug, Clone, Copy)]
struct ChannelBinding {
    peer: SocketAddr,
    expires: Instant,
}

/// One allocation (RFC 8656 §2 "Allocation").
#[derive(Debug)]
struct Allocation {
    dialect: Dialect,
    relay: RelayId,
    relayed: SocketAddr,
    username: String,
    expires: Instant,
    allocate_tid: TransactionId,
    allocate_response: Vec<u8>,
    permissions: FastMap<IpAddr, Instant>,
    channels: FastMap<u16, ChannelBinding>,
    channel_by_peer: FastMap<SocketAddr, u16>,
    /// [MS-TURN] Set Active Destination: where 0x03 data frames go.
    active_destination: Option<SocketAddr>,
    /// The one timer-heap entry that counts for this allocation (others are stale).
    scheduled: Option<Instant>,
}

impl Allocation {
    fn permitted(&self, ip: IpAddr, now: Instant) -> bool {
        self.permissions
            .get(&ip.to_canonical())
            .is_some_and(|exp| *exp > now)
    }

    /// The earliest instant after `now` at which something in this allocation expires
    /// (a channel twice: when it stops carrying data, and when its reuse guard ends).
    fn next_deadline(&self, now: Instant) -> Instant {
        let perms = self.permissions.values().copied();
        let chans = self.channels.values().map(|c| {
            if c.expires > now {
                c.expires
            } else {
                c.expires + CHANNEL_REUSE_GUARD
            }
        });
        perms.chain(chans).fold(self.expires, Instant::min)
    }
}

/// An error to answer with: code, extra attributes, and the key to sign with if authenticated.
#[derive(Debug)]
struct ErrorReply {
    code: u16,
    extra: Vec<Attribute>,
    key: Option<IntegrityKey>,
}

impl ErrorReply {
    fn plain(code: u16) -> Self {
        Self {
            code,
            extra: Vec::new(),
            key: None,
        }
    }

    fn signed(code: u16, key: &IntegrityKey) -> Self {
        Self {
            code,
            extra: Vec::new(),
            key: Some(key.clone()),
        }
    }
}

/// RFC 8489 §14.8 / RFC 8656 §19 reason phrases (kept short: unauthenticated replies count bytes).
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        300 => "Try Alternate",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        420 => "Unknown Attribute",
        437 => "Allocation Mismatch",
        438 => "Stale Nonce",
        440 => "Address Family not Supported",
        441 => "Wrong Credentials",
        442 => "Unsupported Transport Protocol",
        443 => "Peer Address Family Mismatch",
        486 => "Allocation Quota Reached",
        500 => "Server Error",
        508 => "Insufficient Capacity",
        _ => "",
    }
}

/// The request being answered.
struct Req<'a> {
    ft: FiveTuple,
    msg: &'a Message,
    raw_len: usize,
    fingerprint: bool,
}

/// RFC 8656 §12: a channel number or peer stays reserved this long after its binding expires.
const CHANNEL_REUSE_GUARD: Duration = Duration::from_secs(300);

/// RFC 8656 §7.2 step 5: a reserved port waits about 30 seconds for its token.
const RESERVATION_LIFETIME: Duration = Duration::from_secs(30);

/// A port held for a RESERVATION-TOKEN.
#[derive(Debug, Clone, Copy)]
struct Reservation {
    addr: SocketAddr,
    expires: Instant,
}

/// Protocol number 17 = UDP (RFC 8656 §18.8 REQUESTED-TRANSPORT).
const PROTOCOL_UDP: u8 = 17;

/// The TURN server state machine.
#[derive(Debug)]
pub struct Server<B> {
    config: ServerConfig,
    binder: B,
    mint: NonceMint,
    epoch: Instant,
    epoch_unix: u64,
    allocations: FastMap<FiveTuple, Allocation>,
    by_relay: FastMap<RelayId, FiveTuple>,
    reservations: FastMap<[u8; 8], Reservation>,
    reservation_counter: u64,
    hash_seed: Seeded,
    per_user: HashMap<String, usize>,
    ports_in_use: HashSet<SocketAddr>,
    next_port: u16,
    timers: BinaryHeap<Reverse<(Instant, FiveTuple)>>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    indication_counter: u64,
    stats: Stats,
}

impl<B: RelayBinder> Server<B> {
    /// A server; `now` and `unix_now` (seconds since 1970) anchor the wall clock that REST
    /// credentials' timestamps are compared with.
    pub fn new(config: ServerConfig, binder: B, now: Instant, unix_now: u64) -> Self {
        let next_port = *config.relay_ports.start();
        let s = config.nonce_secret;
        let hash_seed = Seeded(u64::from_le_bytes([
            s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15],
        ]));
        Self {
            mint: NonceMint::new(config.nonce_secret),
            config,
            binder,
            epoch: now,
            epoch_unix: unix_now,
            allocations: FastMap::with_hasher(hash_seed),
            by_relay: FastMap::with_hasher(hash_seed),
            reservations: FastMap::with_hasher(hash_seed),
            reservation_counter: 0,
            hash_seed,
            per_user: HashMap::new(),
            ports_in_use: HashSet::new(),
            next_port,
            timers: BinaryHeap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            indication_counter: 0,
            stats: Stats::default(),
        }
    }

    /// The relay binder (the driver drains the sockets it bound).
    pub fn binder_mut(&mut self) -> &mut B {
        &mut self.binder
    }

    /// Counters since start.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Allocations alive now.
    pub fn allocation_count(&self) -> usize {
        self.allocations.len()
    }

    /// The next datagram or frame to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next lifecycle event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Server::handle_timeout`] should next be called (may be early, never late).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    fn millis(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn unix(&self, now: Instant) -> u64 {
        self.epoch_unix
            .saturating_add(now.saturating_duration_since(self.epoch).as_secs())
    }

    /// Input: a datagram (UDP) or one complete frame (TCP/TLS, split with
    /// [`crate::channel::next_stream_frame`] or the control payload of
    /// [`crate::channel::next_ms_frame`]) from a client on `ft`.
    pub fn handle_client(&mut self, now: Instant, ft: FiveTuple, bytes: &[u8]) {
        match packet_kind(bytes) {
            PacketKind::Stun => self.handle_stun(now, ft, bytes),
            PacketKind::ChannelData => self.handle_client_channel_data(now, ft, bytes),
            PacketKind::Other => self.malformed_input(ft),
        }
    }

    /// Input: the payload of an [MS-TURN] 0x03 end-to-end data frame from a client; it goes to
    /// the allocation's active destination.
    pub fn handle_client_ms_data(&mut self, now: Instant, ft: FiveTuple, payload: &[u8]) {
        let Some(alloc) = self.allocations.get(&ft) else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        match alloc.active_destination {
            Some(peer) if alloc.permitted(peer.ip(), now) => {
                let via = Via::Relay(alloc.relay);
                self.send_to_peer(via, peer, payload);
            }
            _ => self.stats.dropped_no_permission += 1,
        }
    }

    /// Input: a datagram from `peer` arrived on relay socket `relay`.
    pub fn handle_peer(&mut self, now: Instant, relay: RelayId, peer: SocketAddr, data: &[u8]) {
        let Some(ft) = self.by_relay.get(&relay).copied() else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        let Some(alloc) = self.allocations.get(&ft) else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        // RFC 8656 §10.3 / §12.5: nothing from a peer without a permission reaches the client.
        if !alloc.permitted(peer.ip(), now) {
            self.stats.dropped_no_permission += 1;
            return;
        }
        let mut payload = Vec::with_capacity(data.len() + 48);
        match alloc.dialect {
            Dialect::Stun => {
                let channel = alloc.channel_by_peer.get(&peer).copied().filter(|ch| {
                    alloc
                        .channels
                        .get(ch)
                        .is_some_and(|b| b.expires > now && b.peer == peer)
                });
                if let Some(ch) = channel {
                    // RFC 8656 §12.5: ChannelData, padded on stream transports.
                    if !encode_channel_data(ch, data, ft.transport.is_stream(), &mut payload) {
                        self.stats.dropped_malformed += 1;
                        return;
                    }
                } else {
                    // RFC 8656 §10.3: a Data indication with XOR-PEER-ADDRESS and DATA.
                    let tid = TransactionId::Stun(self.indication_tid());
                    let msg = Message::new(Class::Indication, Method::DATA, tid)
                        .with(Attribute::XorPeerAddress(peer))
                        .with(Attribute::Data(data.to_vec()));
                    if msg.encode_into(None, &mut payload).is_err() {
                        self.stats.dropped_malformed += 1;
                        return;
                    }
                }
            }
            Dialect::MsTurn => {
                if ft.transport.is_stream() && alloc.active_destination == Some(peer) {
                    // [MS-TURN] 2.1: data from the active destination travels as 0x03 frames.
                    if !encode_ms_frame(MsFrameType::EndToEndData, data, &mut payload) {
                        self.stats.dropped_malformed += 1;
                        return;
                    }
                } else {
                    // [MS-TURN] 2.2.1: Data Indication 0x0115 with Remote Address and Data.
                    let mut id = [0u8; 16];
                    id[4..].copy_from_slice(&self.indication_tid());
                    id[..4].copy_from_slice(&[0x4d, 0x53, 0x54, 0x52]);
                    let msg =
                        Message::new(Class::Indication, Method::DATA, TransactionId::MsTurn(id))
                            .with(Attribute::MsMagicCookie)
                            .with(Attribute::MsRemoteAddress(peer))
                            .with(Attribute::Data(data.to_vec()));
                    let Ok(bytes) = msg.encode(None) else {
                        self.stats.dropped_malformed += 1;
                        return;
                    };
                    payload = frame_for(ft, Dialect::MsTurn, bytes);
                }
            }
        }
        self.stats.to_client_packets += 1;
        self.stats.to_client_bytes += data.len() as u64;
        self.transmits.push_back(Transmit {
            via: Via::Client(ft),
            destination: ft.client,
            payload,
        });
    }

    /// Input: the client's TCP/TLS connection closed; its allocation ends (RFC 8656 §3.1).
    pub fn handle_connection_closed(&mut self, ft: FiveTuple) {
        self.remove_allocation(ft, CloseReason::ConnectionClosed);
    }

    /// Input: time passed; expires allocations, permissions and channels due by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((t, ft))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(alloc) = self.allocations.get_mut(&ft) else {
                continue;
            };
            if alloc.scheduled != Some(t) {
                // Superseded by an earlier deadline, or left by an earlier allocation.
                continue;
            }
            if alloc.expires <= now {
                self.remove_allocation(ft, CloseReason::Expired);
                continue;
            }
            alloc.permissions.retain(|_, exp| *exp > now);
            // RFC 8656 §12: an expired binding keeps its channel and peer for 5 more minutes.
            let expired: Vec<u16> = alloc
                .channels
                .iter()
                .filter(|(_, b)| b.expires + CHANNEL_REUSE_GUARD <= now)
                .map(|(ch, _)| *ch)
                .collect();
            for ch in expired {
                if let Some(b) = alloc.channels.remove(&ch) {
                    alloc.channel_by_peer.remove(&b.peer);
                }
            }
            let next = alloc.next_deadline(now);
            alloc.scheduled = Some(next);
            self.timers.push(Reverse((next, ft)));
        }
    }

    /// Makes sure the allocation is looked at by `at`: one live heap entry per allocation,
    /// pushed only when the deadline moves earlier (so requests cannot grow the heap).
    fn schedule(&mut self, ft: FiveTuple, at: Instant) {
        if let Some(alloc) = self.allocations.get_mut(&ft)
            && alloc.scheduled.is_none_or(|s| at < s)
        {
            alloc.scheduled = Some(at);
            self.timers.push(Reverse((at, ft)));
        }
    }

    /// Entries in the timer heap (live and stale); for diagnostics and tests.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    /// Counts input that is not STUN; a stream that carried it is asked to close.
    fn malformed_input(&mut self, ft: FiveTuple) {
        self.stats.dropped_malformed += 1;
        if ft.transport.is_stream() {
            self.events
                .push_back(Event::CloseConnection { five_tuple: ft });
        }
    }

    fn indication_tid(&mut self) -> [u8; 12] {
        self.indication_counter = self.indication_counter.wrapping_add(1);
        let mut id = [0u8; 12];
        id[..8].copy_from_slice(&self.indication_counter.to_be_bytes());
        id[8..].copy_from_slice(&self.nonce_salt());
        id
    }

    fn nonce_salt(&self) -> [u8; 4] {
        let s = self.config.nonce_secret;
        [s[0], s[1], s[2], s[3]]
    }

    fn remove_allocation(&mut self, ft: FiveTuple, reason: CloseReason) {
        let Some(alloc) = self.allocations.remove(&ft) else {
            return;
        };
        self.by_relay.remove(&alloc.relay);
        self.ports_in_use.remove(&alloc.relayed);
        if let Some(n) = self.per_user.get_mut(&alloc.username) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_user.remove(&alloc.username);
            }
        }
        self.stats.allocations_closed += 1;
        self.events.push_back(Event::AllocationClosed {
            five_tuple: ft,
            relay: alloc.relay,
            reason,
        });
    }

    fn send_to_peer(&mut self, via: Via, peer: SocketAddr, data: &[u8]) {
        self.stats.to_peer_packets += 1;
        self.stats.to_peer_bytes += data.len() as u64;
        self.transmits.push_back(Transmit {
            via,
            destination: peer,
            payload: data.to_vec(),
        });
    }

    /// RFC 8656 §12.6: ChannelData from the client goes to the bound peer.
    fn handle_client_channel_data(&mut self, now: Instant, ft: FiveTuple, bytes: &[u8]) {
        let Ok(cd) = decode_channel_data(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let Some(alloc) = self.allocations.get(&ft) else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        let Some(binding) = alloc
            .channels
            .get(&cd.channel)
            .filter(|b| b.expires > now)
            .copied()
        else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        if !alloc.permitted(binding.peer.ip(), now) {
            self.stats.dropped_no_permission += 1;
            return;
        }
        let via = Via::Relay(alloc.relay);
        self.send_to_peer(via, binding.peer, cd.data);
    }

    fn handle_stun(&mut self, now: Instant, ft: FiveTuple, bytes: &[u8]) {
        let Ok(header) = peek_header(bytes) else {
            // [MS-TURN] 3.1.10: header or cookie violations are ignored, on TCP by dropping
            // the connection; a byte stream that is not STUN cannot be resynchronised anyway.
            self.malformed_input(ft);
            return;
        };
        if header.class == Class::Indication
            && header.method == Method::SEND
            && header.transaction_id.dialect() == Dialect::Stun
        {
            self.send_indication_fast(now, ft, &header, bytes);
            return;
        }
        let msg = match decode(bytes) {
            Ok(m) => m,
            Err(_) if header.class == Class::Request => {
                // RFC 8489 §6.3.1: a malformed request gets 400 when it can be answered.
                let shell = Message::new(header.class, header.method, header.transaction_id);
                let req = Req {
                    ft,
                    msg: &shell,
                    raw_len: bytes.len(),
                    fingerprint: false,
                };
                self.reply_error(now, &req, ErrorReply::plain(400));
                return;
            }
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        let req = Req {
            ft,
            msg: &msg,
            raw_len: bytes.len(),
            fingerprint: msg
                .attributes
                .iter()
                .any(|a| matches!(a, Attribute::Fingerprint)),
        };
        let dialect = msg.dialect();
        let result = match (msg.class, dialect, msg.method) {
            (Class::Request, _, Method::BINDING) => {
                self.binding(&req);
                Ok(())
            }
            (Class::Request, _, Method::ALLOCATE) => self.allocate(now, &req, bytes),
            (Class::Request, Dialect::Stun, Method::REFRESH) => self.refresh(now, &req, bytes),
            (Class::Request, Dialect::Stun, Method::CREATE_PERMISSION) => {
                self.create_permission(now, &req, bytes)
            }
            (Class::Request, Dialect::Stun, Method::CHANNEL_BIND) => {
                self.channel_bind(now, &req, bytes)
            }
            (Class::Request, Dialect::MsTurn, Method::MS_SEND) => {
                self.ms_send(now, &req);
                Ok(())
            }
            (Class::Request, Dialect::MsTurn, Method::MS_SET_ACTIVE_DESTINATION) => {
                self.ms_set_active_destination(now, &req, bytes)
            }
            // RFC 8489 §6.3.1: an unknown method in a request is a 400.
            (Class::Request, _, _) => Err(ErrorReply::plain(400)),
            _ => {
                self.stats.dropped_malformed += 1;
                Ok(())
            }
        };
        if let Err(e) = result {
            self.reply_error(now, &req, e);
        }
    }

    /// RFC 8489 §9.2.4: long-term credential checks, in the RFC's order.
    fn authenticate(
        &self,
        now: Instant,
        req: &Req<'_>,
        raw: &[u8],
    ) -> Result<(String, IntegrityKey), ErrorReply> {
        let msg = req.msg;
        let has_mi = msg.attributes.iter().any(|a| {
            matches!(
                a,
                Attribute::MessageIntegrity(_) | Attribute::MessageIntegritySha256(_)
            )
        });
        if !has_mi {
            return Err(self.challenge(now, req, 401));
        }
        let username = msg.find(|a| match a {
            Attribute::Username(u) => Some(u.as_str()),
            _ => None,
        });
        let realm = msg.find(|a| match a {
            Attribute::Realm(r) => Some(r.as_str()),
            _ => None,
        });
        let nonce = msg.find(|a| match a {
            Attribute::Nonce(n) => Some(n.as_str()),
            _ => None,
        });
        let (Some(username), Some(realm), Some(nonce)) = (username, realm, nonce) else {
            return Err(ErrorReply::plain(400));
        };
        if self.mint.check(nonce, req.ft.client, self.millis(now)) == NonceState::Stale {
            return Err(self.challenge(now, req, 438));
        }
        if realm != self.config.realm {
            return Err(self.challenge(now, req, 401));
        }
        let Lookup::Key(key) =
            self.config
                .credentials
                .lookup(username, &self.config.realm, self.unix(now))
        else {
            return Err(self.challenge(now, req, 401));
        };
        if verify_integrity(raw, &key).is_err() {
            return Err(self.challenge(now, req, 401));
        }
        Ok((username.to_owned(), key))
    }

    /// 401/438 with REALM and a fresh NONCE (RFC 8489 §9.2.4).
    fn challenge(&self, now: Instant, req: &Req<'_>, code: u16) -> ErrorReply {
        let expiry = self.millis(now).saturating_add(
            u64::try_from(self.config.nonce_lifetime.as_millis()).unwrap_or(u64::MAX),
        );
        ErrorReply {
            code,
            extra: vec![
                Attribute::Realm(self.config.realm.clone()),
                Attribute::Nonce(self.mint.issue(expiry, req.ft.client)),
            ],
            key: None,
        }
    }

    /// RFC 8489 §6.3.1: comprehension-required attributes this server does not understand.
    fn unknown_required(msg: &Message) -> Vec<u16> {
        msg.attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::Unknown { typ, .. } if *typ < 0x8000 => Some(*typ),
                _ => None,
            })
            .collect()
    }

    /// Authenticates, finds the request's allocation and checks it is the same user (441).
    fn authorized_allocation(
        &self,
        now: Instant,
        req: &Req<'_>,
        raw: &[u8],
    ) -> Result<IntegrityKey, ErrorReply> {
        let (username, key) = self.authenticate(now, req, raw)?;
        let Some(alloc) = self.allocations.get(&req.ft) else {
            // RFC 8656 §7.3/§9.2/§11.2: no allocation on this 5-tuple.
            return Err(ErrorReply::signed(437, &key));
        };
        if alloc.username != username {
            // RFC 8656 §5: requests must use the allocation's credentials.
            return Err(ErrorReply::signed(441, &key));
        }
        let unknown = Self::unknown_required(req.msg);
        if !unknown.is_empty() {
            return Err(unknown_attributes(unknown, &key));
        }
        Ok(key)
    }

    fn binding(&mut self, req: &Req<'_>) {
        // RFC 8489 §6.3.1: unknown comprehension-required attributes first (420, unsigned:
        // Binding needs no credentials).
        let unknown = Self::unknown_required(req.msg);
        if !unknown.is_empty() {
            self.stats.error_responses += 1;
            let attrs = vec![
                Attribute::ErrorCode {
                    code: 420,
                    reason: reason_phrase(420).to_owned(),
                },
                Attribute::UnknownAttributes(unknown),
            ];
            self.respond(req, Class::ErrorResponse, attrs, None);
            return;
        }
        // RFC 8489 §6.3.1 / [MS-TURN]: reflect the source address.
        let attrs = vec![Attribute::XorMappedAddress(req.ft.client)];
        self.respond(req, Class::SuccessResponse, attrs, None);
    }

    /// RFC 8656 §7.2 (and [MS-TURN] 3.2.5.1 for the MS dialect).
    fn allocate(&mut self, now: Instant, req: &Req<'_>, raw: &[u8]) -> Result<(), ErrorReply> {
        let (username, key) = self.authenticate(now, req, raw)?;
        let msg = req.msg;
        let dialect = msg.dialect();
        if let Some(alloc) = self.allocations.get(&req.ft) {
            if alloc.allocate_tid == msg.transaction_id {
                // RFC 8656 §7.2: a retransmitted Allocate gets the original answer again.
                let payload = alloc.allocate_response.clone();
                self.transmits.push_back(Transmit {
                    via: Via::Client(req.ft),
                    destination: req.ft.client,
                    payload,
                });
                return Ok(());
            }
            if dialect == Dialect::MsTurn {
                // [MS-TURN]: an Allocate on a live allocation refreshes it (LIFETIME 0 ends it).
                if alloc.username != username {
                    return Err(ErrorReply::signed(441, &key));
                }
                return self.refresh_lifetime(now, req, &key);
            }
            return Err(ErrorReply::signed(437, &key));
        }
        let mut unknown = Self::unknown_required(msg);
        // RFC 8656 §7.2 step 4: DONT-FRAGMENT unsupported is treated as unknown.
        if msg
            .attributes
            .iter()
            .any(|a| matches!(a, Attribute::DontFragment))
        {
            unknown.push(types::DONT_FRAGMENT);
        }
        if !unknown.is_empty() {
            return Err(unknown_attributes(unknown, &key));
        }
        let find = |f: fn(&Attribute) -> Option<u8>| msg.attributes.iter().find_map(f);
        let requested_transport = find(|a| match a {
            Attribute::RequestedTransport(p) => Some(*p),
            _ => None,
        });
        let family = find(|a| match a {
            Attribute::RequestedAddressFamily(f) => Some(*f),
            _ => None,
        });
        let even_port = msg.find(|a| match a {
            Attribute::EvenPort(r) => Some(*r),
            _ => None,
        });
        let token = msg.find(|a| match a {
            Attribute::ReservationToken(t) => Some(*t),
            _ => None,
        });
        if dialect == Dialect::Stun {
            // RFC 8656 §7.2 step 3: REQUESTED-TRANSPORT is mandatory; only UDP is relayed.
            match requested_transport {
                None => return Err(ErrorReply::signed(400, &key)),
                Some(PROTOCOL_UDP) => {}
                Some(_) => return Err(ErrorReply::signed(442, &key)),
            }
            // RFC 8656 §7.2 steps 5-6: a token excludes EVEN-PORT and REQUESTED-ADDRESS-FAMILY.
            if token.is_some() && (even_port.is_some() || family.is_some()) {
                return Err(ErrorReply::signed(400, &key));
            }
        }
        // [MS-TURN] 3.2.5.1: Requested Address Family counts only from MS-Version 4 on.
        let family = match dialect {
            Dialect::MsTurn
                if msg
                    .find(|a| match a {
                        Attribute::MsVersion(v) => Some(*v),
                        _ => None,
                    })
                    .is_none_or(|v| v < 4) =>
            {
                None
            }
            _ => family,
        };
        // RFC 8656 §7.2 step 7: IPv4 unless asked otherwise.
        let relay_ip: Option<IpAddr> = match family {
            None | Some(0x01) => self.config.relay_ipv4.map(IpAddr::from),
            Some(0x02) => self.config.relay_ipv6.map(IpAddr::from),
            Some(_) => None,
        };
        let Some(relay_ip) = relay_ip else {
            return Err(ErrorReply::signed(440, &key));
        };
        // RFC 8656 §7.2 step 8: quotas.
        if self.per_user.get(&username).copied().unwrap_or(0)
            >= self.config.max_allocations_per_user
        {
            return Err(ErrorReply::signed(486, &key));
        }
        if self.allocations.len() >= self.config.max_allocations {
            return Err(ErrorReply::signed(508, &key));
        }
        self.purge_reservations(now);
        let bound = match token {
            // RFC 8656 §7.2 step 6: the port reserved by an earlier EVEN-PORT R=1 Allocate.
            Some(t) => self.redeem_reservation(t),
            None => self.bind_relay(now, relay_ip, even_port),
        };
        let Some((relay, relayed, new_token)) = bound else {
            return Err(ErrorReply::signed(508, &key));
        };
        let lifetime = self.lifetime_for(msg);
        let mut attrs = Vec::new();
        match dialect {
            Dialect::Stun => {
                attrs.push(Attribute::XorRelayedAddress(relayed));
                attrs.push(Attribute::Lifetime(secs(lifetime)));
                if let Some(t) = new_token {
                    attrs.push(Attribute::ReservationToken(t));
                }
                attrs.push(Attribute::XorMappedAddress(req.ft.client));
            }
            Dialect::MsTurn => {
                // [MS-TURN] 3.2.5.1: relayed address in MAPPED-ADDRESS, reflexive in XOR.
                attrs.push(Attribute::MappedAddress(relayed));
                attrs.push(Attribute::XorMappedAddress(req.ft.client));
                attrs.push(Attribute::Lifetime(secs(lifetime)));
                if let Some(v) = msg.find(|a| match a {
                    Attribute::MsVersion(v) => Some(*v),
                    _ => None,
                }) {
                    attrs.push(Attribute::MsVersion(v));
                }
            }
        }
        let response = self
            .respond(req, Class::SuccessResponse, attrs, Some(&key))
            .unwrap_or_default();
        let expires = now + lifetime;
        self.allocations.insert(
            req.ft,
            Allocation {
                dialect,
                relay,
                relayed,
                username: username.clone(),
                expires,
                allocate_tid: msg.transaction_id,
                allocate_response: response,
                permissions: FastMap::with_hasher(self.hash_seed),
                channels: FastMap::with_hasher(self.hash_seed),
                channel_by_peer: FastMap::with_hasher(self.hash_seed),
                active_destination: None,
                scheduled: None,
            },
        );
        self.by_relay.insert(relay, req.ft);
        *self.per_user.entry(username.clone()).or_insert(0) += 1;
        self.schedule(req.ft, expires);
        self.stats.allocations_created += 1;
        self.events.push_back(Event::AllocationCreated {
            five_tuple: req.ft,
            relay,
            relayed,
            username,
        });
        Ok(())
    }

    /// RFC 8656 §7.2: max(default, min(requested, maximum)); absent means default.
    fn lifetime_for(&self, msg: &Message) -> Duration {
        let requested = msg.find(|a| match a {
            Attribute::Lifetime(s) => Some(Duration::from_secs(u64::from(*s))),
            _ => None,
        });
        match requested {
            Some(r) => r
                .min(self.config.max_lifetime)
                .max(self.config.default_lifetime.min(self.config.max_lifetime)),
            None => self.config.default_lifetime,
        }
    }

    /// Picks a free port in the range and has it bound. With EVEN-PORT the port is even, and
    /// with its R bit the next port is reserved too, under a returned token (RFC 8656 §7.2
    /// step 5).
    fn bind_relay(
        &mut self,
        now: Instant,
        ip: IpAddr,
        even_port: Option<bool>,
    ) -> Option<(RelayId, SocketAddr, Option<[u8; 8]>)> {
        let (lo, hi) = (
            *self.config.relay_ports.start(),
            *self.config.relay_ports.end(),
        );
        if lo > hi {
            return None;
        }
        let even = even_port.is_some();
        let reserve = even_port == Some(true);
        let span = u32::from(hi - lo) + 1;
        let mut failures = 0;
        for _ in 0..span {
            let port = self.next_port.clamp(lo, hi);
            self.next_port = if port >= hi { lo } else { port + 1 };
            let addr = SocketAddr::new(ip, port);
            if (even && port % 2 != 0) || self.ports_in_use.contains(&addr) {
                continue;
            }
            let next = SocketAddr::new(ip, port.wrapping_add(1));
            if reserve && (port >= hi || self.ports_in_use.contains(&next)) {
                continue;
            }
            if let Some(id) = self.binder.bind(addr) {
                self.ports_in_use.insert(addr);
                let token = reserve.then(|| {
                    self.ports_in_use.insert(next);
                    self.reservation_counter = self.reservation_counter.wrapping_add(1);
                    let t = self
                        .hash_seed
                        .hash_one(self.reservation_counter)
                        .to_be_bytes();
                    self.reservations.insert(
                        t,
                        Reservation {
                            addr: next,
                            expires: now + RESERVATION_LIFETIME,
                        },
                    );
                    t
                });
                return Some((id, addr, token));
            }
            failures += 1;
            if failures >= 32 {
                break;
            }
        }
        None
    }

    /// Binds the port a RESERVATION-TOKEN holds; unknown or expired tokens give `None` (508).
    fn redeem_reservation(
        &mut self,
        token: [u8; 8],
    ) -> Option<(RelayId, SocketAddr, Option<[u8; 8]>)> {
        let r = self.reservations.remove(&token)?;
        match self.binder.bind(r.addr) {
            Some(id) => Some((id, r.addr, None)),
            None => {
                self.ports_in_use.remove(&r.addr);
                None
            }
        }
    }

    /// Frees reserved ports whose tokens were never redeemed.
    fn purge_reservations(&mut self, now: Instant) {
        let Self {
            reservations,
            ports_in_use,
            ..
        } = self;
        reservations.retain(|_, r| {
            let keep = r.expires > now;
            if !keep {
                ports_in_use.remove(&r.addr);
            }
            keep
        });
    }

    /// RFC 8656 §7.3 Refresh.
    fn refresh(&mut self, now: Instant, req: &Req<'_>, raw: &[u8]) -> Result<(), ErrorReply> {
        let key = self.authorized_allocation(now, req, raw)?;
        if let Some(family) = req.msg.find(|a| match a {
            Attribute::RequestedAddressFamily(f) => Some(*f),
            _ => None,
        }) {
            let relayed_v4 = self
                .allocations
                .get(&req.ft)
                .is_some_and(|a| a.relayed.is_ipv4());
            if (family == 0x01) != relayed_v4 {
                return Err(ErrorReply::signed(443, &key));
            }
        }
        self.refresh_lifetime(now, req, &key)
    }

    /// Applies a (Refresh or MS-TURN re-Allocate) LIFETIME: 0 deletes, else extends.
    fn refresh_lifetime(
        &mut self,
        now: Instant,
        req: &Req<'_>,
        key: &IntegrityKey,
    ) -> Result<(), ErrorReply> {
        let zero = req
            .msg
            .attributes
            .iter()
            .any(|a| matches!(a, Attribute::Lifetime(0)));
        if zero {
            self.remove_allocation(req.ft, CloseReason::Deallocated);
            self.respond(
                req,
                Class::SuccessResponse,
                vec![Attribute::Lifetime(0)],
                Some(key),
            );
            return Ok(());
        }
        let lifetime = self.lifetime_for(req.msg);
        let Some(alloc) = self.allocations.get_mut(&req.ft) else {
            return Err(ErrorReply::signed(437, key));
        };
        alloc.expires = now + lifetime;
        self.schedule(req.ft, now + lifetime);
        self.respond(
            req,
            Class::SuccessResponse,
            vec![Attribute::Lifetime(secs(lifetime))],
            Some(key),
        );
        Ok(())
    }

    /// Denied ranges, and the relay's own relayed addresses.
    fn peer_denied(&self, peer: SocketAddr) -> bool {
        self.is_own_relay(peer)
            || self
                .config
                .denied_peers
                .iter()
                .any(|r| r.contains(peer.ip()))
    }

    /// Whether `peer` is one of this server's relayed addresses: relaying from one allocation
    /// into another would loop traffic through the server (RFC 8656 §21.2.2). Permissions are
    /// per IP, so the data path checks this too.
    fn is_own_relay(&self, peer: SocketAddr) -> bool {
        let ip = peer.ip().to_canonical();
        let own_ip = self.config.relay_ipv4.map(IpAddr::from) == Some(ip)
            || self.config.relay_ipv6.map(IpAddr::from) == Some(ip);
        own_ip && self.config.relay_ports.contains(&peer.port())
    }

    /// Checks a peer address against the allocation's family (443) and the deny list (403).
    fn check_peer(
        &self,
        ft: &FiveTuple,
        peer: SocketAddr,
        key: &IntegrityKey,
    ) -> Result<(), ErrorReply> {
        let relayed_v4 = self
            .allocations
            .get(ft)
            .is_some_and(|a| a.relayed.is_ipv4());
        if peer.ip().to_canonical().is_ipv4() != relayed_v4 {
            return Err(ErrorReply::signed(443, key));
        }
        if self.peer_denied(peer) {
            return Err(ErrorReply::signed(403, key));
        }
        Ok(())
    }

    /// RFC 8656 §9.2 CreatePermission: all peers are checked before any is installed.
    fn create_permission(
        &mut self,
        now: Instant,
        req: &Req<'_>,
        raw: &[u8],
    ) -> Result<(), ErrorReply> {
        let key = self.authorized_allocation(now, req, raw)?;
        let peers: Vec<SocketAddr> = req
            .msg
            .attributes
            .iter()
            .filter_map(|a| match a {
                Attribute::XorPeerAddress(p) => Some(*p),
                _ => None,
            })
            .collect();
        if peers.is_empty() {
            return Err(ErrorReply::signed(400, &key));
        }
        for peer in &peers {
            self.check_peer(&req.ft, *peer, &key)?;
        }
        let expires = now + self.config.permission_lifetime;
        let limit = self.config.max_permissions_per_allocation;
        if let Some(alloc) = self.allocations.get_mut(&req.ft) {
            // A quota on permissions: each one is a table entry kept for 5 minutes.
            let new = peers
                .iter()
                .filter(|p| !alloc.permissions.contains_key(&p.ip().to_canonical()))
                .count();
            if alloc.permissions.len() + new > limit {
                return Err(ErrorReply::signed(508, &key));
            }
            for peer in peers {
                alloc.permissions.insert(peer.ip().to_canonical(), expires);
            }
        }
        self.schedule(req.ft, expires);
        self.respond(req, Class::SuccessResponse, Vec::new(), Some(&key));
        Ok(())
    }

    /// RFC 8656 §11.2 ChannelBind.
    fn channel_bind(&mut self, now: Instant, req: &Req<'_>, raw: &[u8]) -> Result<(), ErrorReply> {
        let key = self.authorized_allocation(now, req, raw)?;
        let channel = req.msg.find(|a| match a {
            Attribute::ChannelNumber(c) => Some(*c),
            _ => None,
        });
        let peer = req.msg.find(|a| match a {
            Attribute::XorPeerAddress(p) => Some(*p),
            _ => None,
        });
        let (Some(channel), Some(peer)) = (channel, peer) else {
            return Err(ErrorReply::signed(400, &key));
        };
        // RFC 8656 §11.2 (or RFC 5766 §11.2 when configured): the channel number range.
        let max = if self.config.rfc5766_channels {
            CHANNEL_MAX_RFC5766
        } else {
            CHANNEL_MAX
        };
        if !(CHANNEL_MIN..=max).contains(&channel) {
            return Err(ErrorReply::signed(400, &key));
        }
        self.check_peer(&req.ft, peer, &key)?;
        let Some(alloc) = self.allocations.get_mut(&req.ft) else {
            return Err(ErrorReply::signed(437, &key));
        };
        // RFC 8656 §11.2: a channel is bound to one peer, a peer to one channel; RFC 8656 §12:
        // that holds until 5 minutes after the binding expired (entries live that long).
        if alloc.channels.get(&channel).is_some_and(|b| b.peer != peer) {
            return Err(ErrorReply::signed(400, &key));
        }
        if alloc
            .channel_by_peer
            .get(&peer)
            .is_some_and(|c| *c != channel)
        {
            return Err(ErrorReply::signed(400, &key));
        }
        let chan_expires = now + self.config.channel_lifetime;
        let perm_expires = now + self.config.permission_lifetime;
        if let Some(old) = alloc.channels.insert(
            channel,
            ChannelBinding {
                peer,
                expires: chan_expires,
            },
        ) {
            alloc.channel_by_peer.remove(&old.peer);
        }
        alloc.channel_by_peer.insert(peer, channel);
        // RFC 8656 §11.2: binding a channel installs or refreshes the peer's permission.
        alloc
            .permissions
            .insert(peer.ip().to_canonical(), perm_expires);
        self.schedule(req.ft, perm_expires.min(chan_expires));
        self.respond(req, Class::SuccessResponse, Vec::new(), Some(&key));
        Ok(())
    }

    /// RFC 8656 §10.2 Send indication, read in place (the hot path of clients without
    /// channels): the same checks as [`decode`] where they matter (length, FINGERPRINT last and
    /// correct, known attributes well-formed), then relayed only with a permission.
    fn send_indication_fast(&mut self, now: Instant, ft: FiveTuple, header: &Header, bytes: &[u8]) {
        let actual = bytes.len() - HEADER_LEN;
        if header.length != actual || !actual.is_multiple_of(4) {
            self.stats.dropped_malformed += 1;
            return;
        }
        let mut peer = None;
        let mut data = None;
        let mut after_fingerprint = false;
        for raw in walk(bytes) {
            let Ok(raw) = raw else {
                self.stats.dropped_malformed += 1;
                return;
            };
            if after_fingerprint {
                self.stats.dropped_malformed += 1;
                return;
            }
            match raw.typ {
                types::DATA => data = data.or(Some(raw.value)),
                types::FINGERPRINT => {
                    let crc = fingerprint(bytes.get(..raw.offset).unwrap_or_default());
                    if raw.value != crc.to_be_bytes() {
                        self.stats.dropped_malformed += 1;
                        return;
                    }
                    after_fingerprint = true;
                }
                typ => {
                    match Attribute::decode(Dialect::Stun, typ, raw.value, &header.transaction_id) {
                        Ok(Attribute::XorPeerAddress(p)) => peer = peer.or(Some(p)),
                        // RFC 8489 §6.3.2: unknown comprehension-required attributes: discard.
                        Ok(Attribute::Unknown { typ, .. }) if typ < 0x8000 => {
                            self.stats.dropped_malformed += 1;
                            return;
                        }
                        Ok(_) => {}
                        Err(_) => {
                            self.stats.dropped_malformed += 1;
                            return;
                        }
                    }
                }
            }
        }
        let Some(alloc) = self.allocations.get(&ft) else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        let (Some(peer), Some(data)) = (peer, data) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if !alloc.permitted(peer.ip(), now) || self.is_own_relay(peer) {
            self.stats.dropped_no_permission += 1;
            return;
        }
        let via = Via::Relay(alloc.relay);
        self.send_to_peer(via, peer, data);
    }

    /// [MS-TURN] Send request: Destination Address and Data; sending installs a permission
    /// for the destination (draft-TURN-08 semantics), unless the peer is denied.
    fn ms_send(&mut self, now: Instant, req: &Req<'_>) {
        let dest = req.msg.find(|a| match a {
            Attribute::MsDestinationAddress(p) => Some(*p),
            _ => None,
        });
        let data = req.msg.find(|a| match a {
            Attribute::Data(d) => Some(d.as_slice()),
            _ => None,
        });
        let (Some(dest), Some(data)) = (dest, data) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if self.peer_denied(dest) {
            self.stats.dropped_no_permission += 1;
            return;
        }
        let expires = now + self.config.permission_lifetime;
        let Some(alloc) = self.allocations.get_mut(&req.ft) else {
            self.stats.dropped_no_allocation += 1;
            return;
        };
        let refresh_timer = !alloc.permitted(dest.ip(), now);
        alloc.permissions.insert(dest.ip().to_canonical(), expires);
        let via = Via::Relay(alloc.relay);
        if refresh_timer {
            self.schedule(req.ft, expires);
        }
        self.send_to_peer(via, dest, data);
    }

    /// [MS-TURN] Set Active Destination: 0x03 data frames go to this peer from now on.
    fn ms_set_active_destination(
        &mut self,
        now: Instant,
        req: &Req<'_>,
        raw: &[u8],
    ) -> Result<(), ErrorReply> {
        let key = self.authorized_allocation(now, req, raw)?;
        let dest = req.msg.find(|a| match a {
            Attribute::MsDestinationAddress(p) => Some(*p),
            _ => None,
        });
        if let Some(d) = dest
            && self.peer_denied(d)
        {
            return Err(ErrorReply::signed(403, &key));
        }
        let expires = now + self.config.permission_lifetime;
        if let Some(alloc) = self.allocations.get_mut(&req.ft) {
            alloc.active_destination = dest;
            if let Some(d) = dest {
                alloc.permissions.insert(d.ip().to_canonical(), expires);
            }
        }
        self.schedule(req.ft, expires);
        self.respond(req, Class::SuccessResponse, Vec::new(), Some(&key));
        Ok(())
    }

    fn reply_error(&mut self, _now: Instant, req: &Req<'_>, e: ErrorReply) {
        self.stats.error_responses += 1;
        if e.code == 401
            && req.msg.attributes.iter().any(|a| {
                matches!(
                    a,
                    Attribute::MessageIntegrity(_) | Attribute::MessageIntegritySha256(_)
                )
            })
        {
            self.stats.auth_failures += 1;
        }
        let mut attrs = vec![Attribute::ErrorCode {
            code: e.code,
            reason: reason_phrase(e.code).to_owned(),
        }];
        attrs.extend(e.extra);
        self.respond(req, Class::ErrorResponse, attrs, e.key.as_ref());
    }

    /// Builds, signs (if `key`) and queues a response; returns its bytes.
    fn respond(
        &mut self,
        req: &Req<'_>,
        class: Class,
        attrs: Vec<Attribute>,
        key: Option<&IntegrityKey>,
    ) -> Option<Vec<u8>> {
        let dialect = req.msg.dialect();
        let mut m = Message::new(class, req.msg.method, req.msg.transaction_id);
        if dialect == Dialect::MsTurn {
            m.attributes.push(Attribute::MsMagicCookie);
        }
        m.attributes.extend(attrs);
        // [MS-TURN] 3.2.5.1: responses should carry MS-Sequence Number; echo the client's.
        if let Some(seq) = req.msg.find(|a| match a {
            Attribute::MsSequenceNumber { .. } => Some(a.clone()),
            _ => None,
        }) {
            m.attributes.push(seq);
        }
        if key.is_some() {
            // SOFTWARE only in signed responses: unauthenticated ones stay small.
            if let Some(s) = &self.config.software {
                m.attributes.push(Attribute::Software(s.clone()));
            }
            m.attributes.push(Attribute::MessageIntegrity([0; 20]));
        }
        // RFC 8489 §7.3: FINGERPRINT in the response if the request carried one.
        if req.fingerprint {
            m.attributes.push(Attribute::Fingerprint);
        }
        let Ok(bytes) = m.encode(key) else {
            self.stats.dropped_malformed += 1;
            return None;
        };
        // No amplification towards unverified UDP sources.
        if key.is_none()
            && req.ft.transport == Transport::Udp
            && bytes.len() > req.raw_len.saturating_mul(self.config.amplification_factor)
        {
            self.stats.dropped_amplification += 1;
            return None;
        }
        let payload = frame_for(req.ft, dialect, bytes.clone());
        self.transmits.push_back(Transmit {
            via: Via::Client(req.ft),
            destination: req.ft.client,
            payload,
        });
        Some(bytes)
    }
}

/// 420 with UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
fn unknown_attributes(list: Vec<u16>, key: &IntegrityKey) -> ErrorReply {
    ErrorReply {
        code: 420,
        extra: vec![Attribute::UnknownAttributes(list)],
        key: Some(key.clone()),
    }
}

/// MS-TURN on a stream travels in [MS-TURN] 2.1 control frames; everything else as is.
fn frame_for(ft: FiveTuple, dialect: Dialect, bytes: Vec<u8>) -> Vec<u8> {
    if dialect == Dialect::MsTurn && ft.transport.is_stream() {
        let mut out = Vec::with_capacity(bytes.len() + 4);
        if encode_ms_frame(MsFrameType::Control, &bytes, &mut out) {
            return out;
        }
    }
    bytes
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// Guards the invariant the MS-TURN indication ids rely on.
const _: () = assert!(MAGIC_COOKIE != 0x4d53_5452);
