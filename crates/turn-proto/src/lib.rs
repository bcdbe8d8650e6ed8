//! STUN (RFC 8489), TURN (RFC 8656) and MS-TURN ([MS-TURN]) without I/O.
//!
//! - [`message`] and [`attr`]: the message codec of both dialects, MESSAGE-INTEGRITY(-SHA256),
//!   FINGERPRINT and the long-term key.
//! - [`channel`]: ChannelData (RFC 8656 §12.4) and the stream framings of TURN over TCP
//!   (RFC 8656 §12.5) and MS-TURN over TCP ([MS-TURN] 2.1).
//! - [`classify`]: the first-bytes classifier of a shared TCP 443 listener and the MS-TURN
//!   pseudo-TLS handshake.
//! - [`server`]: the sans-IO TURN server state machine (allocations, permissions, channels,
//!   nonces, quotas) for both dialects.
//!
//! Nothing here reads a clock or touches a socket: time comes in as `now`, bytes come in as
//! slices, and what to send comes out of `poll_transmit`.

pub mod attr;
pub mod channel;
pub mod classify;
pub mod message;
pub mod server;

pub use attr::Attribute;
pub use message::{
    Class, Dialect, IntegrityKey, Message, Method, TransactionId, decode, verify_integrity,
};
