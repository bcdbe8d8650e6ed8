//! The transaction layer: every transaction of an element, the indexes that match messages to
//! them, one timer queue, and the queues of transmissions and events the driver drains.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

use sip_msg::{HeaderName, Message, Method};

use crate::config::TimerConfig;
use crate::error::{InboundError, SendError, TransportError};
use crate::event::{Event, Kind, State, Timer, Transmit, TxnId};
use crate::matching::{AckKey, ClientKey, MergeKey, RequestInfo, ServerKey, response_key, to_tag};
use crate::peer::Peer;

/// One transaction: its state machine's state, the request that created it, what it may
/// have to send again, and its armed timers.
#[derive(Debug)]
struct Txn<A> {
    kind: Kind,
    state: State,
    /// Client: where the request goes. Server: where the request came from.
    peer: A,
    reliable: bool,
    /// Client: the request it sends ("original request", §17.1.1.3). Server: `None` (the TU
    /// got the request in its event; the transaction keeps only what matching needs).
    request: Option<Message>,
    info: RequestInfo,
    /// Server: the most recent provisional response sent (§17.2.1, §17.2.2).
    provisional: Option<Message>,
    /// Server: the final response sent. Client INVITE: the ACK built for a non-2xx.
    last: Option<Message>,
    /// Server non-INVITE over UDP: the final response as sent, kept serialized (one buffer
    /// instead of a header list) for the retransmissions of Timer J's 64·T1, and parsed again
    /// only when a retransmitted request asks for it.
    last_wire: Option<bytes::Bytes>,
    /// The current interval of Timer A, E or G.
    interval: Duration,
    armed: Vec<(Timer, Instant)>,
    /// Server INVITE: the To tag of the final response sent (RFC 2543 ACK matching, §17.2.3).
    response_to_tag: Option<String>,
    /// Server INVITE in Accepted: the ACK keys of the 2xx responses sent.
    ack_keys: Vec<AckKey>,
    /// Server INVITE: the TU asked the layer to retransmit its 2xx until the ACK (§13.3.1.4).
    retransmit_2xx: bool,
    /// Server INVITE in Accepted: an ACK for the 2xx arrived.
    acked: bool,
    /// Client INVITE: a provisional response arrived (Timer C, §16.8).
    provisional_seen: bool,
    /// Client INVITE: Timer C is in use (§16.6 step 11).
    timer_c: bool,
    /// The merged-request key this transaction registered (§8.2.2.2).
    merge_key: Option<MergeKey>,
}

/// All transactions of one element, driven by the caller (sans-IO): messages, timeouts and
/// transport errors in; transmissions, events and the next wake-up time out.
#[derive(Debug)]
pub struct TransactionLayer<A: Peer = crate::peer::TransportKey> {
    config: TimerConfig,
    auto_trying: bool,
    next_id: u64,
    txns: crate::TxnMap<Txn<A>>,
    /// RFC 3261 §17.1.3.
    client_index: HashMap<ClientKey, TxnId>,
    /// RFC 3261 §17.2.3, branches with the magic cookie.
    server_index: HashMap<ServerKey, TxnId>,
    /// RFC 3261 §9.2: every non-CANCEL server transaction by branch and sent-by (the key's
    /// method is CANCEL, see `RequestInfo::cancel_key`).
    cancel_index: HashMap<ServerKey, TxnId>,
    /// RFC 3261 §17.2.3 RFC 2543 fallback: server transactions without cookie, by Call-ID.
    rfc2543_index: HashMap<String, Vec<TxnId>>,
    /// RFC 3261 §8.2.2.2.
    merge_index: HashMap<MergeKey, TxnId>,
    /// RFC 6026 §8.7: Accepted INVITE server transactions by the dialog their 2xx creates.
    ack_index: HashMap<AckKey, TxnId>,
    /// Armed timers by deadline; at equal deadlines a timeout fires before a retransmission
    /// (see [`retransmits_last`]), so nothing is resent in the instant the transaction gives up.
    timers: BTreeSet<(Instant, bool, TxnId, Timer)>,
    transmits: VecDeque<Transmit<A>>,
    events: VecDeque<Event<A>>,
    stats: Stats,
}

/// Counters since the layer was made, for admin introspection and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Client transactions started.
    pub client_transactions: u64,
    /// Server transactions created (requests, merged requests, CANCELs).
    pub server_transactions: u64,
    /// Messages sent again: requests (Timers A, E), responses (Timer G, request
    /// retransmissions), ACKs for retransmitted non-2xx responses.
    pub retransmissions: u64,
    /// Retransmitted messages a transaction took in without telling the TU.
    pub absorbed: u64,
    /// Timeouts reported (Timers B, F, H, L).
    pub timeouts: u64,
    /// Transport errors reported.
    pub transport_errors: u64,
    /// Responses no client transaction matched.
    pub unmatched_responses: u64,
    /// Merged requests detected (RFC 3261 §8.2.2.2).
    pub merged_requests: u64,
    /// Received messages dropped as unusable ([`InboundError`]).
    pub dropped: u64,
}

/// The shortest retransmission interval: a zero T1 or T2 in the configuration must not make
/// `handle_timeout` loop forever.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Removes `key` from `map` if it names transaction `id` (one hash lookup in the usual case).
fn remove_if<K: Hash + Eq>(map: &mut HashMap<K, TxnId>, key: &K, id: TxnId) {
    if let Some((k, other)) = map.remove_entry(key)
        && other != id
    {
        map.insert(k, other);
    }
}

/// Whether `timer` retransmits (A, E, G): those sort after every other timer due at the same
/// instant, so a Timer B, F, H or L due then ends the transaction without a last useless copy.
fn retransmits_last(timer: Timer) -> bool {
    matches!(timer, Timer::A | Timer::E | Timer::G)
}

/// Adds `d` to `at`; `None` if the result is not representable (the timer then never fires).
fn after(at: Instant, d: Duration) -> Option<Instant> {
    at.checked_add(d)
}

/// A request built by a transaction for the next hop from the original request (RFC 3261
/// §9.1 CANCEL, §17.1.1.3 ACK): Request-URI, Call-ID and From of the original, To of `to_from`,
/// a single Via equal to the original's top Via, the CSeq number with `method`, the original's
/// Route headers and Max-Forwards.
fn hop_request(
    method: Method,
    req: &Message,
    info: &RequestInfo,
    to_from: &Message,
) -> Option<Message> {
    let mut out = Message::request(method.clone(), req.uri()?.clone());
    out.push(HeaderName::Via, &info.via);
    match req.header(&HeaderName::MaxForwards) {
        Some(h) => out.push(HeaderName::MaxForwards, h.value_str()),
        None => out.push(HeaderName::MaxForwards, 70),
    }
    if let Some(h) = req.header(&HeaderName::From) {
        out.push(HeaderName::From, h.value_str());
    }
    if let Some(h) = to_from
        .header(&HeaderName::To)
        .or_else(|| req.header(&HeaderName::To))
    {
        out.push(HeaderName::To, h.value_str());
    }
    if let Some(h) = req.header(&HeaderName::CallId) {
        out.push(HeaderName::CallId, h.value_str());
    }
    out.push(HeaderName::CSeq, format!("{} {}", info.cseq.seq, method));
    for h in req.headers_named(&HeaderName::Route) {
        out.push(HeaderName::Route, h.value_str());
    }
    out.push(HeaderName::ContentLength, 0);
    Some(out)
}

/// What [`TransactionLayer::transactions`] reports about one live transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnSummary<'a, A> {
    /// The transaction.
    pub id: TxnId,
    /// Its kind.
    pub kind: Kind,
    /// Its state.
    pub state: State,
    /// The method of the request that created it.
    pub method: &'a Method,
    /// The top Via branch, if it has the RFC 3261 magic cookie.
    pub branch: Option<&'a str>,
    /// The Call-ID.
    pub call_id: &'a str,
    /// The peer: where the request went (client) or came from (server).
    pub peer: &'a A,
}

impl<A: Peer> TransactionLayer<A> {
    /// A layer with no transactions, using `config` for every timer.
    pub fn new(config: TimerConfig) -> Self {
        TransactionLayer {
            config,
            auto_trying: true,
            next_id: 0,
            txns: crate::TxnMap::default(),
            client_index: HashMap::new(),
            server_index: HashMap::new(),
            cancel_index: HashMap::new(),
            rfc2543_index: HashMap::new(),
            merge_index: HashMap::new(),
            ack_index: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Whether INVITE server transactions answer 100 Trying at once (RFC 3261 §17.2.1; on by
    /// default). Turn it off only if the TU always answers within 200 ms.
    pub fn set_auto_trying(&mut self, on: bool) {
        self.auto_trying = on;
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The timer configuration.
    pub fn config(&self) -> &TimerConfig {
        &self.config
    }

    /// The state of a live transaction; `None` once it has terminated (or never existed).
    pub fn state(&self, txn: TxnId) -> Option<State> {
        self.txns.get(&txn).map(|t| t.state)
    }

    /// The kind of a live transaction.
    pub fn kind(&self, txn: TxnId) -> Option<Kind> {
        self.txns.get(&txn).map(|t| t.kind)
    }

    /// The request a live client transaction sends (server transactions hand theirs to the
    /// TU in [`Event::Request`] and do not keep it).
    pub fn request(&self, txn: TxnId) -> Option<&Message> {
        self.txns.get(&txn).and_then(|t| t.request.as_ref())
    }

    /// The armed timers of a live transaction, earliest first (empty once it has ended).
    pub fn timers(&self, txn: TxnId) -> Vec<(Timer, Instant)> {
        let mut v = self
            .txns
            .get(&txn)
            .map(|t| t.armed.clone())
            .unwrap_or_default();
        v.sort_by_key(|(timer, at)| (*at, *timer));
        v
    }

    /// Every live transaction, in no particular order (for admin introspection and logs).
    pub fn transactions(&self) -> impl Iterator<Item = TxnSummary<'_, A>> + '_ {
        self.txns.iter().map(|(id, t)| TxnSummary {
            id: *id,
            kind: t.kind,
            state: t.state,
            method: &t.info.method,
            branch: t.info.branch.as_deref(),
            call_id: &t.info.call_id,
            peer: &t.peer,
        })
    }

    /// Builds the CANCEL for the INVITE client transaction `txn` (RFC 3261 §9.1): the INVITE's
    /// Request-URI, Call-ID, To, From and CSeq number, a single Via equal to its top Via (same
    /// branch) and its Route headers. Send it with [`Self::send_request`]; §9.1 wants a
    /// provisional response first, so it is refused in Calling, and after a final response.
    pub fn build_cancel(&self, txn: TxnId) -> Result<Message, SendError> {
        let t = self
            .txns
            .get(&txn)
            .ok_or(SendError::UnknownTransaction(txn))?;
        if t.kind != Kind::ClientInvite {
            return Err(SendError::WrongKind(txn));
        }
        if t.state != State::Proceeding {
            return Err(SendError::WrongState {
                txn,
                state: t.state,
                status: 0,
            });
        }
        t.request
            .as_ref()
            .and_then(|r| hop_request(Method::Cancel, r, &t.info, r))
            .ok_or(SendError::NotARequest)
    }

    /// How many transactions are live.
    pub fn len(&self) -> usize {
        self.txns.len()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    // --- output -----------------------------------------------------------------------------

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<A>> {
        self.transmits.pop_front()
    }

    /// The next event for the transaction user.
    pub fn poll_event(&mut self) -> Option<Event<A>> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must next be called, if any timer is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _, _, _)| *at)
    }

    // --- input from the transaction user ------------------------------------------------------

    /// Starts a client transaction for `request` (any method but ACK) sent to `to`
    /// (RFC 3261 §17.1.1.2, §17.1.2.2). The top Via must carry an RFC 3261 branch.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        to: A,
    ) -> Result<TxnId, SendError> {
        if !request.is_request() {
            return Err(SendError::NotARequest);
        }
        let info = RequestInfo::of(&request)?;
        if info.method == Method::Ack {
            return Err(SendError::AckNotAllowed);
        }
        if info.method == Method::Benotify {
            return Err(SendError::Benotify);
        }
        let branch = info.branch.clone().ok_or(SendError::NoMagicCookie)?;
        let key = ClientKey {
            branch,
            method: info.method.clone(),
        };
        if let Some(&id) = self.client_index.get(&key) {
            return Err(SendError::DuplicateBranch(id));
        }
        let id = self.new_id();
        self.stats.client_transactions += 1;
        let invite = info.method == Method::Invite;
        let reliable = to.is_reliable();
        let mut t = Txn {
            kind: if invite {
                Kind::ClientInvite
            } else {
                Kind::ClientNonInvite
            },
            state: if invite {
                State::Calling
            } else {
                State::Trying
            },
            peer: to,
            reliable,
            request: Some(request.clone()),
            info,
            provisional: None,
            last: None,
            last_wire: None,
            interval: self.config.t1,
            armed: Vec::new(),
            response_to_tag: None,
            ack_keys: Vec::new(),
            retransmit_2xx: false,
            acked: false,
            provisional_seen: false,
            timer_c: false,
            merge_key: None,
        };
        self.client_index.insert(key, id);
        self.transmit(id, t.peer.clone(), request, false);
        let t1 = self.config.t1;
        let t1_x64 = self.config.t1_x64();
        if invite {
            // RFC 3261 §17.1.1.2: Timer A (unreliable only) and Timer B.
            if !reliable {
                self.arm(id, &mut t, Timer::A, now, t1);
            }
            self.arm(id, &mut t, Timer::B, now, t1_x64);
        } else {
            // RFC 3261 §17.1.2.2: Timer E (unreliable only) and Timer F.
            if !reliable {
                self.arm(id, &mut t, Timer::E, now, t1);
            }
            self.arm(id, &mut t, Timer::F, now, t1_x64);
        }
        self.txns.insert(id, t);
        Ok(id)
    }

    /// Sends a response through the server transaction `txn` (RFC 3261 §17.2.1, §17.2.2,
    /// RFC 6026 §8.5). A 2xx to an INVITE moves it to Accepted; the 2xx is then the TU's to
    /// retransmit (§13.3.1.4) by calling this again, or use [`Self::send_2xx_retransmitting`].
    pub fn send_response(
        &mut self,
        now: Instant,
        txn: TxnId,
        response: Message,
    ) -> Result<(), SendError> {
        self.respond(now, txn, response, false)
    }

    /// Sends a 2xx to an INVITE and lets the layer retransmit it for the UAS core (RFC 3261
    /// §13.3.1.4): at T1, doubling up to T2, until the ACK arrives; if none arrives within
    /// 64·T1 (Timer L), an [`Event::Timeout`] with [`Timer::L`] tells the TU to end the session.
    pub fn send_2xx_retransmitting(
        &mut self,
        now: Instant,
        txn: TxnId,
        response: Message,
    ) -> Result<(), SendError> {
        match (self.kind(txn), response.status()) {
            (None, _) => Err(SendError::UnknownTransaction(txn)),
            (Some(Kind::ServerInvite), Some(200..=299)) => self.respond(now, txn, response, true),
            (Some(Kind::ServerInvite), Some(code)) => Err(SendError::Not2xx(code)),
            (Some(Kind::ServerInvite), None) => Err(SendError::NotAResponse),
            (Some(_), _) => Err(SendError::WrongKind(txn)),
        }
    }

    /// Sends a final response to a non-INVITE request and ends the server transaction at once,
    /// keeping nothing for retransmissions: stateless UAS behaviour (RFC 3261 §8.2.7), for
    /// answers that may be made again from scratch, such as a Digest challenge (a retransmitted
    /// request simply gets a fresh one). Saves holding the response for Timer J (64·T1).
    pub fn send_response_stateless(
        &mut self,
        _now: Instant,
        txn: TxnId,
        response: Message,
    ) -> Result<(), SendError> {
        let status = response.status().ok_or(SendError::NotAResponse)?;
        let mut t = self
            .txns
            .remove(&txn)
            .ok_or(SendError::UnknownTransaction(txn))?;
        let ok = matches!(
            (t.kind, t.state, status),
            (
                Kind::ServerNonInvite,
                State::Trying | State::Proceeding,
                200..=699
            )
        );
        if !ok {
            let err = match t.kind {
                Kind::ServerNonInvite => SendError::WrongState {
                    txn,
                    state: t.state,
                    status,
                },
                _ => SendError::WrongKind(txn),
            };
            self.txns.insert(txn, t);
            return Err(err);
        }
        self.transmit(txn, t.peer.clone(), response, false);
        t.state = State::Terminated;
        self.put(txn, t);
        Ok(())
    }

    /// Hands a message to the transport outside any transaction: the ACK for a 2xx (RFC 3261
    /// §13.2.2.4) or a statelessly forwarded message (§16.11).
    pub fn send_stateless(&mut self, message: Message, to: A) {
        self.transmits.push_back(Transmit {
            txn: None,
            to,
            message,
            retransmission: false,
        });
    }

    /// Starts (or restarts) Timer C on a proxied INVITE client transaction (RFC 3261 §16.6
    /// step 11). Each provisional response restarts it (§16.7 step 2); a final response stops it.
    pub fn arm_timer_c(&mut self, now: Instant, txn: TxnId) -> Result<(), SendError> {
        let mut t = self
            .txns
            .remove(&txn)
            .ok_or(SendError::UnknownTransaction(txn))?;
        let ok =
            t.kind == Kind::ClientInvite && matches!(t.state, State::Calling | State::Proceeding);
        if ok {
            t.timer_c = true;
            let c = self.config.timer_c;
            self.arm(txn, &mut t, Timer::C, now, c);
        }
        let kind = t.kind;
        let state = t.state;
        self.txns.insert(txn, t);
        match (ok, kind) {
            (true, _) => Ok(()),
            (false, Kind::ClientInvite) => Err(SendError::WrongState {
                txn,
                state,
                status: 0,
            }),
            (false, _) => Err(SendError::WrongKind(txn)),
        }
    }

    // --- input from the transport -------------------------------------------------------------

    /// Feeds a message received from `from`. Requests go to the server transaction they match
    /// (or create one), responses to the client transaction they match (RFC 3261 §17.1.3,
    /// §17.2.3). An error means the message was dropped (the driver counts it, and answers a
    /// request it can still address with `sip_msg::answer_malformed`).
    pub fn handle_message(
        &mut self,
        now: Instant,
        message: Message,
        from: A,
    ) -> Result<(), InboundError> {
        let result = if message.is_request() {
            self.handle_request(now, message, from)
        } else {
            self.handle_response(now, message, from)
        };
        if result.is_err() {
            self.stats.dropped += 1;
        }
        result
    }

    /// Fires every timer due at `now`, in deadline order. The next retransmission interval is
    /// measured from `now`, so a late call sends one retransmission, never a burst.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, last, id, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, last, id, timer));
            let Some(mut t) = self.txns.remove(&id) else {
                continue;
            };
            t.armed.retain(|(tm, _)| *tm != timer);
            self.fire(now, id, &mut t, timer);
            self.put(id, t);
        }
        self.shrink();
    }

    /// Gives back the tables' room once a burst has passed: a hash map keeps the capacity of
    /// its busiest moment, which after a load peak would hold memory for transactions long
    /// ended. Cheap when there is nothing to do (a length and a capacity compared).
    fn shrink(&mut self) {
        fn fit<K: std::hash::Hash + Eq, V, S: std::hash::BuildHasher>(m: &mut HashMap<K, V, S>) {
            if m.capacity() > 1024 && m.len() * 4 < m.capacity() {
                m.shrink_to(m.len() * 2);
            }
        }
        fit(&mut self.txns);
        fit(&mut self.client_index);
        fit(&mut self.server_index);
        fit(&mut self.cancel_index);
        fit(&mut self.rfc2543_index);
        fit(&mut self.merge_index);
        fit(&mut self.ack_index);
        if self.transmits.capacity() > 1024 && self.transmits.len() * 4 < self.transmits.capacity()
        {
            self.transmits.shrink_to(self.transmits.len() * 2);
        }
        if self.events.capacity() > 1024 && self.events.len() * 4 < self.events.capacity() {
            self.events.shrink_to(self.events.len() * 2);
        }
    }

    /// Reports that the transport failed to send a message of transaction `txn` (RFC 3261
    /// §17.1.1.2, §17.1.2.2, §17.1.4, §17.2.4): the TU is told and the transaction ends, except
    /// an INVITE server transaction in Proceeding or Accepted, which stays (RFC 6026 Figure 7).
    /// Errors in states that send nothing (e.g. a late one in Confirmed) are ignored.
    pub fn handle_transport_error(&mut self, _now: Instant, txn: TxnId, error: TransportError) {
        let Some(mut t) = self.txns.remove(&txn) else {
            return;
        };
        let fatal = match (t.kind, t.state) {
            // §17.1.1.2: Calling; Completed covers the ACK the transaction sent (Figure 5).
            (Kind::ClientInvite, State::Calling | State::Completed) => true,
            // §17.1.2.2: Trying and Proceeding (the request is still being retransmitted).
            (Kind::ClientNonInvite, State::Trying | State::Proceeding) => true,
            // §17.2.4: a response could not be sent.
            (Kind::ServerInvite, State::Completed) => true,
            (Kind::ServerNonInvite, State::Trying | State::Proceeding | State::Completed) => true,
            // RFC 6026 Figure 7: in Proceeding and Accepted the TU is told and the transaction
            // stays (the TU may still answer; Accepted absorbs INVITE retransmissions until L).
            (Kind::ServerInvite, State::Proceeding | State::Accepted) => {
                self.emit(Event::TransportError { txn, error });
                self.txns.insert(txn, t);
                return;
            }
            _ => false,
        };
        if fatal {
            self.emit(Event::TransportError { txn, error });
            t.state = State::Terminated;
        }
        self.put(txn, t);
    }

    /// Reports that the transport gave up on `peer` (a connection closed and could not be
    /// reopened, RFC 3261 §18.4): every live transaction whose messages go to `peer` is handled
    /// as if its last send had failed (see [`Self::handle_transport_error`]).
    pub fn handle_peer_error(&mut self, now: Instant, peer: &A, error: &TransportError) {
        let mut ids: Vec<TxnId> = self
            .txns
            .iter()
            .filter(|(_, t)| &t.peer == peer)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        for id in ids {
            self.handle_transport_error(now, id, error.clone());
        }
    }

    // --- internals ----------------------------------------------------------------------------

    fn new_id(&mut self) -> TxnId {
        self.next_id += 1;
        TxnId(self.next_id)
    }

    /// Queues an event for the TU and counts it.
    fn emit(&mut self, event: Event<A>) {
        let s = &mut self.stats;
        match &event {
            Event::Request { .. } | Event::Cancel { .. } => s.server_transactions += 1,
            Event::MergedRequest { .. } => {
                s.server_transactions += 1;
                s.merged_requests += 1;
            }
            Event::Timeout { .. } => s.timeouts += 1,
            Event::TransportError { .. } => s.transport_errors += 1,
            Event::UnmatchedResponse { .. } => s.unmatched_responses += 1,
            _ => {}
        }
        self.events.push_back(event);
    }

    fn transmit(&mut self, id: TxnId, to: A, message: Message, retransmission: bool) {
        if retransmission {
            self.stats.retransmissions += 1;
        }
        self.transmits.push_back(Transmit {
            txn: Some(id),
            to,
            message,
            retransmission,
        });
    }

    /// Arms `timer` to fire `d` after `base`, replacing an earlier arming of the same timer.
    fn arm(&mut self, id: TxnId, t: &mut Txn<A>, timer: Timer, base: Instant, d: Duration) {
        self.disarm(id, t, timer);
        if let Some(at) = after(base, d) {
            t.armed.push((timer, at));
            self.timers.insert((at, retransmits_last(timer), id, timer));
        }
    }

    fn disarm(&mut self, id: TxnId, t: &mut Txn<A>, timer: Timer) {
        if let Some(pos) = t.armed.iter().position(|(tm, _)| *tm == timer) {
            let (_, at) = t.armed.swap_remove(pos);
            self.timers
                .remove(&(at, retransmits_last(timer), id, timer));
        }
    }

    /// Arms a wait timer that is zero on reliable transports (D, I, J, K); zero ends the
    /// transaction at once (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
    fn arm_wait(&mut self, id: TxnId, t: &mut Txn<A>, timer: Timer, now: Instant, d: Duration) {
        if t.reliable || d.is_zero() {
            t.state = State::Terminated;
        } else {
            self.arm(id, t, timer, now, d);
        }
    }

    /// Stores `t` back, or if it reached Terminated, removes it from every index and tells the TU.
    fn put(&mut self, id: TxnId, mut t: Txn<A>) {
        if t.state != State::Terminated {
            self.txns.insert(id, t);
            return;
        }
        for (timer, at) in t.armed.drain(..) {
            self.timers
                .remove(&(at, retransmits_last(timer), id, timer));
        }
        if t.kind.is_client() {
            if let Some(branch) = t.info.branch.clone() {
                let key = ClientKey {
                    branch,
                    method: t.info.method.clone(),
                };
                remove_if(&mut self.client_index, &key, id);
            }
        } else {
            match t.info.server_key() {
                Some(key) => {
                    remove_if(&mut self.server_index, key, id);
                    if t.info.method != Method::Cancel
                        && let Some(ck) = t.info.cancel_key()
                    {
                        remove_if(&mut self.cancel_index, &ck, id);
                    }
                }
                None => {
                    if let Some(list) = self.rfc2543_index.get_mut(&t.info.call_id) {
                        list.retain(|x| *x != id);
                        if list.is_empty() {
                            self.rfc2543_index.remove(&t.info.call_id);
                        }
                    }
                }
            }
            if let Some(k) = t.merge_key.take() {
                remove_if(&mut self.merge_index, &k, id);
            }
            for k in t.ack_keys.drain(..) {
                remove_if(&mut self.ack_index, &k, id);
            }
        }
        self.emit(Event::Terminated { txn: id });
    }

    fn respond(
        &mut self,
        now: Instant,
        txn: TxnId,
        response: Message,
        retransmit_2xx: bool,
    ) -> Result<(), SendError> {
        let status = response.status().ok_or(SendError::NotAResponse)?;
        let mut t = self
            .txns
            .remove(&txn)
            .ok_or(SendError::UnknownTransaction(txn))?;
        let r = self.respond_in(now, txn, &mut t, response, status, retransmit_2xx);
        self.put(txn, t);
        r
    }

    fn respond_in(
        &mut self,
        now: Instant,
        id: TxnId,
        t: &mut Txn<A>,
        response: Message,
        status: u16,
        retransmit_2xx: bool,
    ) -> Result<(), SendError> {
        let wrong = SendError::WrongState {
            txn: id,
            state: t.state,
            status,
        };
        let t1 = self.config.t1;
        let t1_x64 = self.config.t1_x64();
        match (t.kind, t.state, status) {
            (Kind::ClientInvite | Kind::ClientNonInvite, _, _) => Err(SendError::WrongKind(id)),
            // RFC 3261 §17.2.1: provisional responses in Proceeding.
            (Kind::ServerInvite, State::Proceeding, 100..=199) => {
                self.transmit(id, t.peer.clone(), response.clone(), false);
                t.provisional = Some(response);
                Ok(())
            }
            // RFC 6026 §8.5: a 2xx moves the transaction to Accepted and starts Timer L.
            (Kind::ServerInvite, State::Proceeding, 200..=299) => {
                self.transmit(id, t.peer.clone(), response.clone(), false);
                t.state = State::Accepted;
                self.arm(id, t, Timer::L, now, t1_x64);
                self.index_2xx(id, t, &response);
                if retransmit_2xx {
                    // RFC 3261 §13.3.1.4: retransmitted end to end, whatever the first hop's transport.
                    t.retransmit_2xx = true;
                    t.interval = t1;
                    self.arm(id, t, Timer::G, now, t1);
                }
                t.last = Some(response);
                Ok(())
            }
            // RFC 3261 §17.2.1: a non-2xx final response: Completed, Timer G (unreliable), Timer H.
            (Kind::ServerInvite, State::Proceeding, 300..=699) => {
                self.transmit(id, t.peer.clone(), response.clone(), false);
                t.state = State::Completed;
                t.response_to_tag = to_tag(&response);
                t.last = Some(response);
                if !t.reliable {
                    t.interval = t1;
                    self.arm(id, t, Timer::G, now, t1);
                }
                self.arm(id, t, Timer::H, now, t1_x64);
                Ok(())
            }
            // RFC 6026 §8.5: "2xx from TU / send response" in Accepted (retransmissions, forks).
            (Kind::ServerInvite, State::Accepted, 200..=299) => {
                self.transmit(id, t.peer.clone(), response.clone(), false);
                self.index_2xx(id, t, &response);
                Ok(())
            }
            // RFC 3261 §17.2.2: provisional responses move Trying to Proceeding.
            (Kind::ServerNonInvite, State::Trying | State::Proceeding, 100..=199) => {
                self.transmit(id, t.peer.clone(), response.clone(), false);
                t.state = State::Proceeding;
                t.provisional = Some(response);
                Ok(())
            }
            // RFC 3261 §17.2.2: a final response: Completed, Timer J (64·T1 unreliable, else 0).
            (Kind::ServerNonInvite, State::Trying | State::Proceeding, 200..=699) => {
                t.state = State::Completed;
                if t.reliable {
                    // Timer J = 0: nothing will be resent, so nothing is kept.
                    self.transmit(id, t.peer.clone(), response, false);
                } else {
                    // Copied to a buffer of its exact size: the serializer's buffer is sized
                    // from a guess (64 bytes a header) and would be held, spare room and all,
                    // for the 32 s of Timer J by every transaction of a load.
                    t.last_wire = Some(bytes::Bytes::copy_from_slice(&response.to_bytes()));
                    self.transmit(id, t.peer.clone(), response, false);
                }
                self.arm_wait(id, t, Timer::J, now, t1_x64);
                Ok(())
            }
            _ => Err(wrong),
        }
    }

    /// Registers the dialog a 2xx to an INVITE creates, so its ACK finds the transaction.
    fn index_2xx(&mut self, id: TxnId, t: &mut Txn<A>, response: &Message) {
        let key = AckKey {
            call_id: t.info.call_id.clone(),
            from_tag: t.info.from_tag.clone(),
            to_tag: to_tag(response),
            seq: t.info.cseq.seq,
        };
        if !t.ack_keys.contains(&key) {
            self.ack_index.insert(key.clone(), id);
            t.ack_keys.push(key);
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        response: Message,
        from: A,
    ) -> Result<(), InboundError> {
        let key = response_key(&response)?;
        let status = response.status().unwrap_or(0);
        let Some(&id) = self.client_index.get(&key) else {
            // RFC 3261 §18.1.2: no match, the core decides.
            self.emit(Event::UnmatchedResponse { response, from });
            return Ok(());
        };
        let Some(mut t) = self.txns.remove(&id) else {
            return Ok(());
        };
        let t1_x64 = self.config.t1_x64();
        match (t.kind, t.state, status) {
            // RFC 3261 §17.1.1.2: provisional responses in Calling or Proceeding.
            (Kind::ClientInvite, State::Calling | State::Proceeding, 100..=199) => {
                t.state = State::Proceeding;
                self.disarm(id, &mut t, Timer::A);
                self.disarm(id, &mut t, Timer::B);
                t.provisional_seen = true;
                if t.timer_c && status > 100 {
                    // RFC 3261 §16.7 step 2: a 101-199 response restarts Timer C.
                    let c = self.config.timer_c;
                    self.arm(id, &mut t, Timer::C, now, c);
                }
                self.emit(Event::Response { txn: id, response });
            }
            // RFC 6026 §8.4: a 2xx moves the transaction to Accepted and starts Timer M.
            (Kind::ClientInvite, State::Calling | State::Proceeding, 200..=299) => {
                t.state = State::Accepted;
                for timer in [Timer::A, Timer::B, Timer::C] {
                    self.disarm(id, &mut t, timer);
                }
                self.arm(id, &mut t, Timer::M, now, t1_x64);
                self.emit(Event::Response { txn: id, response });
            }
            // RFC 3261 §17.1.1.2: a non-2xx final response is ACKed here, Timer D starts.
            (Kind::ClientInvite, State::Calling | State::Proceeding, 300..=699) => {
                t.state = State::Completed;
                for timer in [Timer::A, Timer::B, Timer::C] {
                    self.disarm(id, &mut t, timer);
                }
                let ack = t
                    .request
                    .as_ref()
                    .and_then(|r| hop_request(Method::Ack, r, &t.info, &response));
                if let Some(ack) = ack {
                    self.transmit(id, t.peer.clone(), ack.clone(), false);
                    t.last = Some(ack);
                }
                self.emit(Event::Response { txn: id, response });
                let d = self.config.timer_d;
                self.arm_wait(id, &mut t, Timer::D, now, d);
            }
            // RFC 3261 §17.1.1.2: a retransmitted non-2xx is ACKed again, not passed up.
            (Kind::ClientInvite, State::Completed, 300..=699) => {
                if let Some(ack) = t.last.clone() {
                    self.transmit(id, t.peer.clone(), ack, true);
                }
            }
            // RFC 6026 §8.4: every 2xx in Accepted goes to the TU, which ACKs it.
            (Kind::ClientInvite, State::Accepted, 200..=299) => {
                self.emit(Event::Response { txn: id, response });
            }
            // RFC 3261 §17.1.2.2: provisional responses in Trying or Proceeding.
            (Kind::ClientNonInvite, State::Trying | State::Proceeding, 100..=199) => {
                t.state = State::Proceeding;
                self.emit(Event::Response { txn: id, response });
            }
            // RFC 3261 §17.1.2.2: a final response: Completed, Timer K (T4 unreliable, else 0).
            (Kind::ClientNonInvite, State::Trying | State::Proceeding, 200..=699) => {
                t.state = State::Completed;
                self.disarm(id, &mut t, Timer::E);
                self.disarm(id, &mut t, Timer::F);
                self.emit(Event::Response { txn: id, response });
                let t4 = self.config.t4;
                self.arm_wait(id, &mut t, Timer::K, now, t4);
            }
            // Everything else is a retransmission the state absorbs.
            _ => self.stats.absorbed += 1,
        }
        self.put(id, t);
        Ok(())
    }

    /// The server transaction a request belongs to (RFC 3261 §17.2.3).
    fn match_server(&self, info: &RequestInfo) -> Option<TxnId> {
        match info.server_key() {
            Some(key) => self.server_index.get(key).copied(),
            None => self
                .rfc2543_index
                .get(&info.call_id)?
                .iter()
                .copied()
                .find(|id| {
                    self.txns.get(id).is_some_and(|t| {
                        info.matches_2543(&t.info, t.response_to_tag.as_deref(), false)
                    })
                }),
        }
    }

    /// The transaction a CANCEL cancels: matched as if the CANCEL had any method but CANCEL
    /// or ACK (RFC 3261 §9.2).
    fn match_cancel(&self, info: &RequestInfo) -> Option<TxnId> {
        match info.server_key() {
            // The CANCEL's own key has the method CANCEL: the cancel index's form.
            Some(key) => self.cancel_index.get(key).copied(),
            None => self
                .rfc2543_index
                .get(&info.call_id)?
                .iter()
                .copied()
                .find(|id| {
                    self.txns.get(id).is_some_and(|t| {
                        t.info.method != Method::Cancel && info.matches_2543(&t.info, None, true)
                    })
                }),
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        request: Message,
        from: A,
    ) -> Result<(), InboundError> {
        let info = RequestInfo::of(&request)?;
        if info.method == Method::Benotify {
            // [MS-SIP] 3.5: never answered, so no server transaction would ever end.
            self.emit(Event::Benotify { request, from });
            return Ok(());
        }
        if let Some(id) = self.match_server(&info) {
            if let Some(mut t) = self.txns.remove(&id) {
                self.retransmitted_request(now, id, &mut t, request, &info, from);
                self.put(id, t);
            }
            return Ok(());
        }
        if info.method == Method::Ack {
            // RFC 3261 §17.2.3 / RFC 6026 §8.7: an ACK matching no transaction is the ACK for
            // a 2xx and goes to the TU, with the Accepted transaction of its dialog if live.
            let invite = self.ack_index.get(&AckKey::of_ack(&info)).copied();
            if let Some(id) = invite {
                self.ack_accepted(id);
            }
            self.emit(Event::Ack {
                request,
                from,
                invite,
            });
            return Ok(());
        }
        self.new_server(request, info, from);
        Ok(())
    }

    /// An ACK for the 2xx of the Accepted transaction `id`: 2xx retransmission stops (§13.3.1.4).
    fn ack_accepted(&mut self, id: TxnId) {
        if let Some(mut t) = self.txns.remove(&id) {
            t.acked = true;
            self.disarm(id, &mut t, Timer::G);
            self.txns.insert(id, t);
        }
    }

    /// A request that matched server transaction `id`.
    fn retransmitted_request(
        &mut self,
        now: Instant,
        id: TxnId,
        t: &mut Txn<A>,
        request: Message,
        info: &RequestInfo,
        from: A,
    ) {
        let is_ack = info.method == Method::Ack;
        match (t.kind, t.state, is_ack) {
            // RFC 3261 §17.2.1, §17.2.2: a retransmitted request in Proceeding gets the most
            // recent provisional response again.
            (_, State::Proceeding, false) => {
                if let Some(p) = t.provisional.clone() {
                    self.transmit(id, t.peer.clone(), p, true);
                }
            }
            // ... and in Completed, the final response.
            (_, State::Completed, false) => {
                let f = t.last.clone().or_else(|| {
                    t.last_wire
                        .as_ref()
                        .and_then(|b| Message::parse(b.clone()).ok())
                });
                if let Some(f) = f {
                    self.transmit(id, t.peer.clone(), f, true);
                }
            }
            // RFC 3261 §17.2.1: the ACK for the non-2xx: Confirmed, Timer I (T4 unreliable, else 0).
            (Kind::ServerInvite, State::Completed, true) => {
                t.state = State::Confirmed;
                self.disarm(id, t, Timer::G);
                self.disarm(id, t, Timer::H);
                let t4 = self.config.t4;
                self.arm_wait(id, t, Timer::I, now, t4);
            }
            // RFC 6026 §8.7: an ACK matching an Accepted transaction goes to the TU.
            (Kind::ServerInvite, State::Accepted, true) => {
                t.acked = true;
                self.disarm(id, t, Timer::G);
                self.emit(Event::Ack {
                    request,
                    from,
                    invite: Some(id),
                });
            }
            // Trying (§17.2.2), Confirmed (§17.2.1) and Accepted (RFC 6026 §8.7: INVITE
            // retransmissions are absorbed) swallow the rest.
            _ => self.stats.absorbed += 1,
        }
    }

    fn new_server(&mut self, request: Message, info: RequestInfo, from: A) {
        let id = self.new_id();
        let invite = info.method == Method::Invite;
        let mut t = Txn {
            kind: if invite {
                Kind::ServerInvite
            } else {
                Kind::ServerNonInvite
            },
            // RFC 3261 §17.2.1: an INVITE server transaction starts in Proceeding; §17.2.2: Trying.
            state: if invite {
                State::Proceeding
            } else {
                State::Trying
            },
            reliable: from.is_reliable(),
            peer: from.clone(),
            request: None,
            info,
            provisional: None,
            last: None,
            last_wire: None,
            interval: self.config.t1,
            armed: Vec::new(),
            response_to_tag: None,
            ack_keys: Vec::new(),
            retransmit_2xx: false,
            acked: false,
            provisional_seen: false,
            timer_c: false,
            merge_key: None,
        };
        match t.info.server_key() {
            Some(key) => {
                if t.info.method != Method::Cancel
                    && let Some(ck) = t.info.cancel_key()
                {
                    self.cancel_index.insert(ck, id);
                }
                self.server_index.insert(key.clone(), id);
            }
            None => self
                .rfc2543_index
                .entry(t.info.call_id.clone())
                .or_default()
                .push(id),
        }
        if invite && self.auto_trying {
            // RFC 3261 §17.2.1: 100 Trying unless the TU answers within 200 ms.
            let trying = Message::response_to(&request, 100, "Trying", None);
            self.transmit(id, from.clone(), trying.clone(), false);
            t.provisional = Some(trying);
        }
        let event = if t.info.method == Method::Cancel {
            let invite = self.match_cancel(&t.info);
            Event::Cancel {
                txn: id,
                request,
                from,
                invite,
            }
        } else {
            let merged = t
                .info
                .merge_key()
                .and_then(|k| match self.merge_index.entry(k) {
                    Entry::Occupied(e) => Some(*e.get()),
                    Entry::Vacant(e) => {
                        t.merge_key = Some(e.key().clone());
                        e.insert(id);
                        None
                    }
                });
            match merged {
                // RFC 3261 §8.2.2.2: same From tag, Call-ID and CSeq as a live transaction.
                Some(original) => Event::MergedRequest {
                    txn: id,
                    request,
                    from,
                    original,
                },
                None => Event::Request {
                    txn: id,
                    request,
                    from,
                },
            }
        };
        self.txns.insert(id, t);
        self.emit(event);
    }

    /// Timer `timer` of transaction `id` fired at `at` (the caller's `now`).
    fn fire(&mut self, at: Instant, id: TxnId, t: &mut Txn<A>, timer: Timer) {
        let t2 = self.config.t2;
        match (timer, t.state) {
            // RFC 3261 §17.1.1.2: retransmit the INVITE, double Timer A.
            (Timer::A, State::Calling) => {
                if let Some(r) = t.request.clone() {
                    self.transmit(id, t.peer.clone(), r, true);
                }
                t.interval = t.interval.saturating_mul(2);
                let i = t.interval.max(MIN_INTERVAL);
                self.arm(id, t, Timer::A, at, i);
            }
            // RFC 3261 §17.1.1.2 (Timer B) and §17.1.2.2 (Timer F): no final response.
            (Timer::B, State::Calling) | (Timer::F, State::Trying | State::Proceeding) => {
                self.emit(Event::Timeout { txn: id, timer });
                t.state = State::Terminated;
            }
            // RFC 3261 §16.8: the proxy core decides (CANCEL or act as on a 408).
            (Timer::C, State::Calling | State::Proceeding) => {
                self.emit(Event::TimerC {
                    txn: id,
                    provisional: t.provisional_seen,
                });
            }
            // RFC 3261 §17.1.2.2: Timer E doubles up to T2 in Trying and is T2 in Proceeding.
            (Timer::E, State::Trying | State::Proceeding) => {
                if let Some(r) = t.request.clone() {
                    self.transmit(id, t.peer.clone(), r, true);
                }
                t.interval = if t.state == State::Trying {
                    t.interval.saturating_mul(2).min(t2)
                } else {
                    t2
                };
                let i = t.interval.max(MIN_INTERVAL);
                self.arm(id, t, Timer::E, at, i);
            }
            // RFC 3261 §17.2.1: retransmit the non-2xx final response, doubling up to T2;
            // RFC 3261 §13.3.1.4: likewise the 2xx until its ACK, when the layer was asked to.
            (Timer::G, State::Completed) | (Timer::G, State::Accepted) => {
                if t.state == State::Accepted && (!t.retransmit_2xx || t.acked) {
                    return;
                }
                if let Some(r) = t.last.clone() {
                    self.transmit(id, t.peer.clone(), r, true);
                }
                t.interval = t.interval.saturating_mul(2).min(t2);
                let i = t.interval.max(MIN_INTERVAL);
                self.arm(id, t, Timer::G, at, i);
            }
            // RFC 3261 §17.2.1: no ACK arrived.
            (Timer::H, State::Completed) => {
                self.emit(Event::Timeout { txn: id, timer });
                t.state = State::Terminated;
            }
            // RFC 6026 §8.7: Timer L ends the Accepted server transaction; a 2xx the layer
            // retransmitted that no ACK answered is reported (§13.3.1.4).
            (Timer::L, State::Accepted) => {
                if t.retransmit_2xx && !t.acked {
                    self.emit(Event::Timeout { txn: id, timer });
                }
                t.state = State::Terminated;
            }
            // Timers D, I, J, K, M: the wait is over (§17.1.1.2, §17.2.1, §17.2.2, §17.1.2.2,
            // RFC 6026 §8.4).
            (Timer::D, State::Completed)
            | (Timer::I, State::Confirmed)
            | (Timer::J, State::Completed)
            | (Timer::K, State::Completed)
            | (Timer::M, State::Accepted) => {
                t.state = State::Terminated;
            }
            // A timer left over from an earlier state does nothing.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::*;
    use crate::peer::{TransportKey, TransportKind};

    impl<A: Peer> TransactionLayer<A> {
        /// Whether every index is empty (nothing leaks once all transactions ended).
        fn indexes_empty(&self) -> bool {
            self.txns.is_empty()
                && self.client_index.is_empty()
                && self.server_index.is_empty()
                && self.cancel_index.is_empty()
                && self.rfc2543_index.is_empty()
                && self.merge_index.is_empty()
                && self.ack_index.is_empty()
                && self.timers.is_empty()
        }
    }

    fn peer() -> TransportKey {
        let addr: SocketAddr = "192.0.2.1:5060".parse().unwrap();
        TransportKey::new(TransportKind::Udp, addr)
    }

    fn req(method: &str, branch: &str, to_tag: &str) -> Message {
        let branch = if branch.is_empty() {
            String::new()
        } else {
            format!(";branch={branch}")
        };
        let to_tag = if to_tag.is_empty() {
            String::new()
        } else {
            format!(";tag={to_tag}")
        };
        Message::parse(format!(
            "{method} sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com{branch}\r\n\
             From: <sip:a@example.com>;tag=f\r\nTo: <sip:b@example.com>{to_tag}\r\n\
             Call-ID: c1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n\r\n"
        ))
        .unwrap()
    }

    #[test]
    fn indexes_drain_when_every_transaction_ends() {
        let mut l: TransactionLayer = TransactionLayer::new(TimerConfig::default());
        let now = Instant::now();
        // Cookie INVITE answered 200 (ack index), a merged copy, a CANCEL, an RFC 2543 INVITE.
        l.handle_message(now, req("INVITE", "z9hG4bK1", ""), peer())
            .unwrap();
        l.handle_message(now, req("INVITE", "z9hG4bK2", ""), peer())
            .unwrap();
        l.handle_message(now, req("CANCEL", "z9hG4bK1", ""), peer())
            .unwrap();
        l.handle_message(now, req("OPTIONS", "old", ""), peer())
            .unwrap();
        let client = l
            .send_request(now, req("INVITE", "z9hG4bKc", ""), peer())
            .unwrap();
        let ids: Vec<(TxnId, Message)> = std::iter::from_fn(|| l.poll_event())
            .filter_map(|e| match e {
                Event::Request { txn, request, .. }
                | Event::MergedRequest { txn, request, .. }
                | Event::Cancel { txn, request, .. } => Some((txn, request)),
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), 4);
        for (txn, request) in &ids {
            let code = if request.method() == Some(&Method::Invite) {
                200
            } else {
                481
            };
            l.send_response(
                now,
                *txn,
                Message::response_to(request, code, "X", Some("t")),
            )
            .unwrap();
        }
        assert!(!l.ack_index.is_empty());
        assert!(!l.merge_index.is_empty());
        assert!(!l.cancel_index.is_empty());
        assert!(!l.rfc2543_index.is_empty());
        let ok = Message::response_to(&req("INVITE", "z9hG4bKc", ""), 200, "OK", Some("u"));
        l.handle_message(now, ok, peer()).unwrap();
        assert_eq!(l.state(client), Some(State::Accepted));
        l.handle_timeout(now + Duration::from_secs(600));
        assert!(l.indexes_empty());
    }
}
