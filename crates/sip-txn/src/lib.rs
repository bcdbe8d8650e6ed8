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
//!
//! A client transaction over UDP, driven by hand (a real driver sleeps until `poll_timeout`):
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sip_msg::Message;
//! use sip_txn::{Event, State, TimerConfig, TransactionLayer, TransportKey, TransportKind};
//!
//! let mut layer: TransactionLayer = TransactionLayer::new(TimerConfig::default());
//! let server = TransportKey::new(TransportKind::Udp, "192.0.2.1:5060".parse().unwrap());
//! let request = Message::parse(
//!     &b"OPTIONS sip:fe.example.com SIP/2.0\r\n\
//!        Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK776asdhds\r\n\
//!        Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1928301774\r\n\
//!        To: <sip:fe.example.com>\r\nCall-ID: a84b4c76e66710\r\nCSeq: 1 OPTIONS\r\n\
//!        Content-Length: 0\r\n\r\n"[..],
//! )
//! .unwrap();
//! let start = Instant::now();
//! let txn = layer.send_request(start, request.clone(), server).unwrap();
//! let first = layer.poll_transmit().unwrap(); // hand `first.message` to the socket for `first.to`
//! assert_eq!(first.txn, Some(txn));
//!
//! // No answer: Timer E fires after T1 and the request goes out again.
//! let wake = layer.poll_timeout().unwrap();
//! assert_eq!(wake, start + Duration::from_millis(500));
//! layer.handle_timeout(wake);
//! assert!(layer.poll_transmit().unwrap().retransmission);
//!
//! // The 200 arrives: the TU gets it, the transaction waits out Timer K (T4) in Completed.
//! let ok = Message::response_to(&request, 200, "OK", Some("8321234356"));
//! layer.handle_message(wake, ok, server).unwrap();
//! assert!(matches!(layer.poll_event(), Some(Event::Response { .. })));
//! assert_eq!(layer.state(txn), Some(State::Completed));
//! ```

mod config;
mod error;
mod event;
mod layer;
mod matching;
mod peer;

pub use config::TimerConfig;
pub use error::{InboundError, SendError, TransportError};
pub use event::{Event, Kind, State, Timer, Transmit, TxnId, TxnIdHasher, TxnMap};
pub use layer::{Stats, TransactionLayer, TxnSummary};
pub use peer::{Peer, TransportKey, TransportKind};
