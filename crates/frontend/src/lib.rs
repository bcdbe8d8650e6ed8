//! Convene's front end core (pure: no sockets, no clock, no threads).
//!
//! [`FrontEnd`] is the transaction user over a [`sip_txn::TransactionLayer`]: it authenticates
//! (Digest, RFC 7616/8760, with per-source failure throttling), registers (RFC 3261 §10 through
//! the [`registrar`] crate), and proxies statefully (RFC 3261 §16): location lookup by AOR or
//! GRUU, parallel forking, best-response choice, CANCEL, Record-Route and loose routing, loop
//! and hop-count checks, and no open relay. Every decision goes into a per-Call-ID
//! [`TraceRing`], and every rejection carries a catalogued `ms-diagnostics` code.
//!
//! The I/O layer feeds it parsed messages with `now` ([`FrontEnd::handle_message`]), expired
//! timers ([`FrontEnd::handle_timeout`]), failed sends and closed connections, and drains what
//! to send ([`FrontEnd::poll_transmit`]), when to wake ([`FrontEnd::poll_timeout`]) and what to
//! persist ([`FrontEnd::take_dirty`]). It supplies a [`Locator`] that turns next-hop URIs into
//! transport addresses.

mod core;
pub mod directory;
pub mod local;
mod proxy;
pub mod trace;

pub use crate::core::{
    ConfigError, FrontEnd, FrontEndConfig, Locator, Now, PeerTrust, ResolveId, ResolveRequest,
    Resolved, Stats, Transport, UDP_REQUEST_LIMIT,
};
pub use directory::{Directory, User};
pub use trace::{TraceLine, TraceRing};
