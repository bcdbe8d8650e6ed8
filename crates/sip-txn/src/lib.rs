//! SIP transactions (RFC 3261 §17, updated by RFC 6026), sans-IO.
//!
//! A [`TransactionLayer`] owns every client and server transaction of an element. It never
//! reads a clock or touches a socket: the driver passes `now` in, feeds received messages
//! ([`TransactionLayer::handle_message`]), expired timers ([`TransactionLayer::handle_timeout`])
//! and failed sends ([`TransactionLayer::handle_transport_error`]), and drains what to send
//! ([`TransactionLayer::poll_transmit`]), what to tell the transaction user
//! ([`TransactionLayer::poll_event`]) and when to wake up next
//! ([`TransactionLayer::poll_timeout`]).
//!
//! States and timers carry the names RFC 3261 §17 and RFC 6026 §8 give them.

mod config;
mod error;
mod event;
mod layer;
mod matching;
mod peer;

pub use config::TimerConfig;
pub use error::{InboundError, SendError, TransportError};
pub use event::{Event, Kind, State, Timer, Transmit, TxnId};
pub use layer::TransactionLayer;
pub use peer::{Peer, TransportKey, TransportKind};
