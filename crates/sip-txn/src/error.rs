//! The layer's faults: messages from the network it cannot place in a transaction, requests
//! and responses from the transaction user it cannot send, and failures the transport reports.

use sip_msg::ParseError;

use crate::event::{State, TxnId};

/// Why a received message was dropped before reaching any transaction (the driver counts it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// A mandatory header is missing (RFC 3261 §8.1.1).
    #[error("the message has no {0} header (RFC 3261 §8.1.1)")]
    MissingHeader(&'static str),
    /// A header that may appear once appears more often (RFC 3261 §7.3.1, §20).
    #[error("the message has more than one {0} header (RFC 3261 §20)")]
    Repeated(&'static str),
    /// A header the transaction layer matches on (Via, CSeq, Call-ID) cannot be parsed.
    #[error("the {header} header cannot be parsed: {source}")]
    BadHeader {
        /// The header's name.
        header: &'static str,
        /// What the parser found.
        #[source]
        source: ParseError,
    },
    /// A response's top Via carries no branch, so no client transaction can match it (§17.1.3).
    #[error("the response's top Via has no branch parameter (RFC 3261 §17.1.3)")]
    NoBranch,
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("the CSeq method does not match the request method (RFC 3261 §8.1.1.5)")]
    CSeqMismatch,
}

/// Why the layer refused a request or response from the transaction user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// `send_request` was given a response.
    #[error("expected a request, got a response")]
    NotARequest,
    /// `send_response` was given a request.
    #[error("expected a response, got a request")]
    NotAResponse,
    /// ACK is never sent through a client transaction: the one for a non-2xx is built by the
    /// INVITE client transaction (RFC 3261 §17.1.1.3), the one for a 2xx is the TU's
    /// (§13.2.2.4) and goes out with `send_stateless`.
    #[error("an ACK is not sent through a client transaction (RFC 3261 §17.1.1.3, §13.2.2.4)")]
    AckNotAllowed,
    /// A BENOTIFY gets no response, so no client transaction waits for one ([MS-SIP] 3.5):
    /// it goes out once with `send_stateless`.
    #[error("a BENOTIFY gets no response and is sent without a transaction ([MS-SIP] 3.5)")]
    Benotify,
    /// The request lacks what the transaction needs (Via, CSeq, Call-ID, From, To).
    #[error("the request cannot start a transaction: {0}")]
    BadRequest(#[from] InboundError),
    /// The top Via branch of a new request must start with `z9hG4bK` (RFC 3261 §8.1.1.7).
    #[error("the top Via branch must start with the magic cookie z9hG4bK (RFC 3261 §8.1.1.7)")]
    NoMagicCookie,
    /// A client transaction with this branch and method exists already (RFC 3261 §17.1.3).
    #[error("a client transaction ({0}) already uses this branch and method")]
    DuplicateBranch(TxnId),
    /// No live transaction has this id (it may have terminated).
    #[error("no live transaction {0}")]
    UnknownTransaction(TxnId),
    /// The operation needs a transaction of another kind.
    #[error("transaction {0} is not of the kind this operation needs")]
    WrongKind(TxnId),
    /// `send_2xx_retransmitting` was given a status code outside 200–299.
    #[error("only a 2xx is retransmitted by the layer (RFC 3261 §13.3.1.4), not a {0}")]
    Not2xx(u16),
    /// The transaction's state does not allow this response (e.g. a second final response).
    #[error("transaction {txn} is {state:?} and cannot send a {status} response")]
    WrongState {
        /// The transaction.
        txn: TxnId,
        /// Its state.
        state: State,
        /// The status code refused.
        status: u16,
    },
}

/// A failure the transport layer reports for a message it was given (RFC 3261 §17.1.4, §17.2.4,
/// §18.4).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The connection could not be opened (refused, unreachable, TLS handshake failed).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection closed or reset before the message was written.
    #[error("the connection closed: {0}")]
    Closed(String),
    /// An ICMP error or a send error for a datagram (RFC 3261 §18.4).
    #[error("the datagram could not be sent: {0}")]
    Datagram(String),
    /// Any other fatal failure.
    #[error("transport failure: {0}")]
    Other(String),
}
