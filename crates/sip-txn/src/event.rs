//! What the layer hands out: transmissions for the transport, events for the transaction user,
//! and the names of transactions, their states and their timers.

use std::fmt;

use sip_msg::Message;

use crate::error::TransportError;

/// A transaction's handle, unique for the layer's lifetime (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxnId(pub u64);

/// A hasher for [`TxnId`] keys: the ids are sequence numbers the layer makes, never chosen by a
/// peer, so the flooding resistance of the default SipHash buys nothing there (it cost ~1.5 % of
/// the CPU under load). A Fibonacci multiply spreads the sequential ids over the table.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxnIdHasher(u64);

impl std::hash::Hasher for TxnIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by transaction id, with [`TxnIdHasher`].
pub type TxnMap<V> =
    std::collections::HashMap<TxnId, V, std::hash::BuildHasherDefault<TxnIdHasher>>;

impl fmt::Display for TxnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "txn#{}", self.0)
    }
}

/// The four transaction kinds of RFC 3261 §17.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// INVITE client transaction (§17.1.1, RFC 6026 §8.4).
    ClientInvite,
    /// Non-INVITE client transaction (§17.1.2).
    ClientNonInvite,
    /// INVITE server transaction (§17.2.1, RFC 6026 §8.5–8.7).
    ServerInvite,
    /// Non-INVITE server transaction (§17.2.2).
    ServerNonInvite,
}

impl Kind {
    /// Whether this is a client transaction.
    pub fn is_client(self) -> bool {
        matches!(self, Kind::ClientInvite | Kind::ClientNonInvite)
    }
}

/// A transaction state, named as RFC 3261 Figures 5–8 and RFC 6026 Figures 5 and 7 name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// INVITE client: the INVITE is being sent (§17.1.1.2).
    Calling,
    /// Non-INVITE: the request is being sent or handled (§17.1.2.2, §17.2.2).
    Trying,
    /// A provisional response was received or sent.
    Proceeding,
    /// A final response (non-2xx for INVITE) was received or sent.
    Completed,
    /// INVITE server: the ACK for a non-2xx arrived (§17.2.1).
    Confirmed,
    /// INVITE: a 2xx was received or sent (RFC 6026 §8.4, §8.5).
    Accepted,
    /// The transaction is over; it is removed from the layer at once.
    Terminated,
}

/// The timers of RFC 3261 §17 (Table 4 of Appendix A) and RFC 6026 §8.11.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// INVITE request retransmission interval, UDP only (T1, doubling).
    A,
    /// INVITE transaction timeout (64·T1).
    B,
    /// Proxy INVITE transaction timeout (> 3 min, §16.6 step 11).
    C,
    /// Wait time for response retransmits (32 s UDP, 0 reliable).
    D,
    /// Non-INVITE request retransmission interval, UDP only (T1 doubling to T2).
    E,
    /// Non-INVITE transaction timeout (64·T1).
    F,
    /// INVITE response retransmission interval (T1 doubling to T2).
    G,
    /// Wait time for ACK receipt (64·T1).
    H,
    /// Wait time for ACK retransmits (T4 UDP, 0 reliable).
    I,
    /// Wait time for non-INVITE request retransmits (64·T1 UDP, 0 reliable).
    J,
    /// Wait time for response retransmits (T4 UDP, 0 reliable).
    K,
    /// Wait time for accepted INVITE request retransmits (64·T1, RFC 6026 §8.11).
    L,
    /// Wait time for retransmissions of 2xx to INVITE (64·T1, RFC 6026 §8.11).
    M,
}

/// A message for the transport to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit<A> {
    /// The transaction the message belongs to; `None` for stateless sends (ACK for a 2xx).
    /// A failure to send it is reported with `handle_transport_error(now, txn, …)`.
    pub txn: Option<TxnId>,
    /// Where to send it: for a response, the address its request came from (the transport
    /// applies RFC 3261 §18.2.2 and RFC 3581 to it).
    pub to: A,
    /// The message.
    pub message: Message,
    /// Whether this repeats an earlier transmission (for counters and logs).
    pub retransmission: bool,
}

/// What the layer tells the transaction user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<A> {
    /// A new request created a server transaction; the TU answers with `send_response`.
    Request {
        /// The new server transaction.
        txn: TxnId,
        /// The request.
        request: Message,
        /// Where it came from.
        from: A,
    },
    /// A CANCEL created its own server transaction (RFC 3261 §9.2); `invite` is the server
    /// transaction it cancels, or `None` (the TU then answers 481).
    Cancel {
        /// The CANCEL's own non-INVITE server transaction.
        txn: TxnId,
        /// The CANCEL.
        request: Message,
        /// Where it came from.
        from: A,
        /// The matched transaction (§9.2: matched as if the CANCEL had the original method).
        invite: Option<TxnId>,
    },
    /// A request without To tag whose From tag, Call-ID and CSeq equal those of the live server
    /// transaction `original` but which matches no transaction: a merged request (RFC 3261
    /// §8.2.2.2). A UAS answers 482 on `txn`; a proxy treats it as [`Event::Request`] (a spiral).
    MergedRequest {
        /// The new server transaction.
        txn: TxnId,
        /// The request.
        request: Message,
        /// Where it came from.
        from: A,
        /// The transaction with the same From tag, Call-ID and CSeq.
        original: TxnId,
    },
    /// An ACK that belongs to no transaction: the ACK for a 2xx (RFC 3261 §17.2.3, RFC 6026
    /// §8.7), passed up to the TU. `invite` is the Accepted INVITE server transaction it
    /// acknowledges, matched by Call-ID, tags and CSeq number, if that is still live.
    Ack {
        /// The ACK.
        request: Message,
        /// Where it came from.
        from: A,
        /// The INVITE server transaction in Accepted state it matches.
        invite: Option<TxnId>,
    },
    /// A BENOTIFY: Microsoft's best-effort NOTIFY, which gets no response and so creates no
    /// server transaction ([MS-SIP] 3.5). The TU handles it like a NOTIFY and answers nothing.
    Benotify {
        /// The BENOTIFY.
        request: Message,
        /// Where it came from.
        from: A,
    },
    /// A response for a client transaction (provisional, final, or for an INVITE a further 2xx
    /// while Accepted, RFC 6026 §8.4).
    Response {
        /// The client transaction.
        txn: TxnId,
        /// The response.
        response: Message,
    },
    /// A response that matches no client transaction (RFC 3261 §18.1.2): passed to the core,
    /// which forwards it (stateless proxy) or drops it (RFC 6026 §7.2).
    UnmatchedResponse {
        /// The response.
        response: Message,
        /// Where it came from.
        from: A,
    },
    /// A transaction timed out: Timer B or F (no final response), H (no ACK for a non-2xx), or
    /// L for a 2xx sent with `send_2xx_retransmitting` that no ACK answered (§13.3.1.4).
    Timeout {
        /// The transaction.
        txn: TxnId,
        /// Which timer fired.
        timer: Timer,
    },
    /// Timer C fired for a proxied INVITE (RFC 3261 §16.8): CANCEL it if `provisional`, else
    /// act as if it had received a 408. The transaction is not ended by the layer.
    TimerC {
        /// The INVITE client transaction.
        txn: TxnId,
        /// Whether a provisional response has been received.
        provisional: bool,
    },
    /// The transport could not send a message of this transaction (RFC 3261 §17.1.4, §17.2.4);
    /// [`Event::Terminated`] follows unless the transaction stays (RFC 6026 Figure 7).
    TransportError {
        /// The transaction.
        txn: TxnId,
        /// What the transport reported.
        error: TransportError,
    },
    /// The transaction reached Terminated and was removed; nothing more comes from it.
    Terminated {
        /// The transaction.
        txn: TxnId,
    },
}

impl<A> Event<A> {
    /// The transaction the event concerns, if any.
    pub fn txn(&self) -> Option<TxnId> {
        match self {
            Event::Request { txn, .. }
            | Event::Cancel { txn, .. }
            | Event::MergedRequest { txn, .. }
            | Event::Response { txn, .. }
            | Event::Timeout { txn, .. }
            | Event::TimerC { txn, .. }
            | Event::TransportError { txn, .. }
            | Event::Terminated { txn } => Some(*txn),
            Event::Ack { .. } | Event::Benotify { .. } | Event::UnmatchedResponse { .. } => None,
        }
    }
}
