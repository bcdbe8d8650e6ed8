//! The address a message came from or goes to. The layer treats it as opaque: it only asks
//! whether the transport under it is reliable (RFC 3261 §17: several timers are zero then).

use std::fmt::Debug;
use std::net::SocketAddr;

/// Where a message came from or goes to, as the transport layer names it.
pub trait Peer: Clone + Eq + Debug {
    /// Whether the transport delivers reliably (TCP, TLS, SCTP, WebSocket), RFC 3261 §17.1.1.2.
    fn is_reliable(&self) -> bool;
}

/// A transport protocol of RFC 3261 §18 and RFC 7118.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP: unreliable, the transaction layer retransmits.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
}

impl TransportKind {
    /// Whether the transport is reliable (everything but UDP).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }
}

/// A transport and a socket address: a ready-made [`Peer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportKey {
    /// The transport protocol.
    pub transport: TransportKind,
    /// The remote address.
    pub addr: SocketAddr,
}

impl TransportKey {
    /// A key for `transport` and `addr`.
    pub fn new(transport: TransportKind, addr: SocketAddr) -> Self {
        TransportKey { transport, addr }
    }
}

impl Peer for TransportKey {
    fn is_reliable(&self) -> bool {
        self.transport.is_reliable()
    }
}
