//! The front end: transaction user over the transaction layer, in the sans-IO style. Messages
//! and `now` in; transmissions, the next timeout, the bindings to persist and the decision
//! trace out.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use diag::codes;
use registrar::{Aor, Binding, FlowId, Registrar, RegistrarConfig, Snapshot, Time};
use sip_auth::{Decision, DigestConfig, DigestVerifier, FailureLimiter, LimitConfig};
use sip_msg::{HeaderName, Host, HostRef, Message, Method, NameAddr, SipUri, Uri};
use sip_txn::{Event, Peer, TimerConfig, TransactionLayer, Transmit, TransportError, TxnId};

use crate::directory::Directory;
use crate::local::{self, Fnv};
use crate::proxy::{
    Branch, BranchState, Candidate, Context, Next, Target, aggregate_challenges, best,
};
use crate::trace::{TraceLine, TraceRing};

/// The two clocks the front end reads: a monotonic one for transaction timers and the wall
/// clock (milliseconds since the Unix epoch) for bindings and nonces, which outlive a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub wall_ms: u64,
}

impl Now {
    fn wall(self) -> Time {
        Time(self.wall_ms)
    }

    fn secs(self) -> u64 {
        self.wall_ms / 1000
    }
}

/// What the front end needs to know about the transport a message came over or goes to.
pub trait Transport: Peer {
    /// The Via transport token: `UDP`, `TCP`, `TLS` (RFC 3261 §20.42).
    fn via_transport(&self) -> &'static str;
    /// The remote address (source of what arrived, destination of what leaves).
    fn remote(&self) -> SocketAddr;
    /// The connection, for connection-oriented transports (RFC 5626 flows).
    fn flow(&self) -> Option<FlowId>;
    /// What the peer's verified TLS certificate makes it, when it presented one.
    fn trust(&self) -> Option<&PeerTrust> {
        None
    }
}

/// What a mutual-TLS peer is to this server, decided once per connection by the I/O layer from
/// the verified certificate and the topology (`topology::decide`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerTrust {
    /// A server of the topology, a trusted application pool, a static route's next hop or a
    /// federated partner's edge.
    Server {
        /// The certificate name that matched.
        name: String,
        /// Requests are not challenged (Lync's TreatAsAuthenticated).
        authenticated: bool,
        /// Exempt from the per-source failure limit (Lync's ThrottleAsServer).
        throttle_exempt: bool,
        /// Why, in words (for the trace).
        reason: String,
    },
    /// Every request on the connection is refused with this diagnostic.
    Refused {
        /// The ms-diagnostics code.
        code: &'static diag::DiagCode,
        /// Why, in words.
        reason: String,
        /// How to fix it.
        fix: String,
    },
}

/// Turns next-hop URIs into transports and names this server's address on each (the I/O
/// layer implements it: it knows the listeners and, later, DNS).
pub trait Locator<P> {
    /// Where to send a request whose next hop is `uri` (RFC 3263 §4: transport from the
    /// `transport` parameter or the scheme, address from the host and port). `None` when it
    /// cannot be reached without resolution the locator does not do.
    fn locate(&self, uri: &SipUri) -> Option<P>;
    /// This server's `host:port` for messages sent on or received from `peer` (the Via
    /// sent-by and the Record-Route host).
    fn sent_by(&self, peer: &P) -> String;
    /// The congestion-controlled transport to the same address as the UDP hop `peer`, for a
    /// request too large for UDP (RFC 3261 §18.1.1); `None` when there is none.
    fn reliable_alternative(&self, peer: &P) -> Option<P>;
    /// Whether `uri`, which [`Locator::locate`] could not place, names a host the I/O layer
    /// resolves with DNS (RFC 3263): the front end then asks for it through
    /// [`FrontEnd::poll_resolve`] and goes on when [`FrontEnd::handle_resolved`] answers.
    fn resolvable(&self, uri: &SipUri) -> bool {
        let _ = uri;
        false
    }
}

/// Names one next-hop resolution the front end is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResolveId(pub u64);

/// A next hop to resolve (RFC 3263 §4): answer with [`FrontEnd::handle_resolved`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRequest {
    /// Quote it back in the answer.
    pub id: ResolveId,
    /// The URI whose server to locate (transport, address and port).
    pub uri: SipUri,
}

/// What resolving a next hop gave.
#[derive(Debug, Clone)]
pub enum Resolved<P> {
    /// Transports to try, in order (RFC 3263 §4.3: the next one when one fails).
    Targets {
        /// The transports, best first; at least one.
        hops: Vec<P>,
        /// What was asked of DNS, for the trace.
        detail: String,
    },
    /// Nothing can be reached.
    Failed {
        /// The rejection to answer with (e.g. 1008 "Unable to resolve DNS SRV record").
        diagnostic: diag::Diagnostic,
        /// What was asked and what went wrong, for the trace.
        detail: String,
    },
}

/// RFC 3261 §18.1.1: a request within 200 bytes of the path MTU (1500 assumed, as the RFC
/// does when it is unknown) goes over TCP instead of UDP.
pub const UDP_REQUEST_LIMIT: usize = 1300;

/// How the front end is set up.
#[derive(Debug, Clone)]
pub struct FrontEndConfig {
    /// The pool FQDN: `source` of every ms-diagnostics, and a name Route headers may use.
    pub fqdn: String,
    /// SIP domains served (case-insensitive).
    pub domains: Vec<String>,
    /// Every address the server listens on (a Route or Request-URI naming one is this server).
    pub listen: Vec<SocketAddr>,
    /// The registrar's settings.
    pub registrar: RegistrarConfig,
    /// Digest realm, secret and algorithms.
    pub digest: DigestConfig,
    /// The per-source authentication failure limit.
    pub limit: LimitConfig,
    /// Transaction timers.
    pub timers: TimerConfig,
    /// The secret temporary GRUUs are signed with (RFC 5627 §3.2); keep it across restarts.
    pub gruu_secret: Vec<u8>,
    /// How many bindings one user may have.
    pub max_bindings_per_user: usize,
    /// How many Call-IDs the decision trace keeps, and lines per call.
    pub trace_calls: usize,
    /// Lines kept per call.
    pub trace_lines: usize,
    /// Static routes (`New-CsStaticRoute`): requests for a domain this deployment does not
    /// serve go to the route's next hop, before any DNS.
    pub static_routes: Vec<topology::StaticRouteConfig>,
}

impl FrontEndConfig {
    /// Defaults for a server named `fqdn` serving `domains`, realm = first domain.
    pub fn new(fqdn: &str, domains: &[String], secret: &[u8]) -> FrontEndConfig {
        let realm = domains.first().map_or(fqdn, String::as_str);
        let registrar = RegistrarConfig {
            fqdn: fqdn.to_owned(),
            supported: vec!["gruu".into(), "path".into(), "outbound".into()],
            ..RegistrarConfig::default()
        };
        FrontEndConfig {
            fqdn: fqdn.to_ascii_lowercase(),
            domains: domains.iter().map(|d| d.to_ascii_lowercase()).collect(),
            listen: Vec::new(),
            registrar,
            digest: DigestConfig::new(realm, secret),
            limit: LimitConfig::default(),
            timers: TimerConfig::default(),
            gruu_secret: secret.to_vec(),
            max_bindings_per_user: 20,
            trace_calls: 10_000,
            trace_lines: 64,
            static_routes: Vec::new(),
        }
    }
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests that started a server transaction.
    pub requests: u64,
    /// REGISTERs accepted.
    pub registrations: u64,
    /// Challenges sent (401/407).
    pub challenges: u64,
    /// Authentication failures (wrong or forged credentials, unknown users).
    pub auth_failures: u64,
    /// Requests refused because their source was throttled.
    pub throttled: u64,
    /// Branches started (client transactions of proxied requests).
    pub branches: u64,
    /// Requests forwarded statelessly (ACK for 2xx, BENOTIFY).
    pub stateless: u64,
    /// Final responses the server itself sent with an error status.
    pub rejections: u64,
}

/// The front end core.
#[derive(Debug)]
pub struct FrontEnd<P: Transport, L> {
    cfg: FrontEndConfig,
    server: String,
    layer: TransactionLayer<P>,
    registrar: Registrar,
    auth: DigestVerifier<Directory>,
    limiter: FailureLimiter<IpAddr>,
    locator: L,
    flows: HashMap<FlowId, P>,
    contexts: sip_txn::TxnMap<Context<P>>,
    /// Client transaction → the server transaction it is a branch of.
    parent: sip_txn::TxnMap<TxnId>,
    /// Client transactions of CANCELs we sent (their responses stay here: §16.10).
    cancels: HashSet<TxnId>,
    trace: TraceRing,
    dirty: HashSet<Aor>,
    stats: Stats,
    next_housekeeping: Option<Instant>,
    branch_seq: u64,
    voice: Option<std::sync::Arc<voice::Engine>>,
    /// Next hops being resolved: the server transaction and the target waiting for each.
    resolving: HashMap<u64, (TxnId, Target<P>)>,
    resolve_seq: u64,
    resolve_out: VecDeque<ResolveRequest>,
}

/// An error in the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The registrar refused its configuration.
    #[error("registrar: {0}")]
    Registrar(#[from] registrar::ConfigError),
}

impl<P: Transport, L: Locator<P>> FrontEnd<P, L> {
    /// A front end with `users`, sending through `locator`.
    pub fn new(cfg: FrontEndConfig, users: Directory, locator: L) -> Result<Self, ConfigError> {
        let registrar = Registrar::new(cfg.registrar.clone(), &cfg.gruu_secret)?;
        let auth = DigestVerifier::new(cfg.digest.clone(), users);
        Ok(FrontEnd {
            server: format!("Convene/{}", env!("CARGO_PKG_VERSION")),
            layer: TransactionLayer::new(cfg.timers),
            registrar,
            auth,
            limiter: FailureLimiter::new(cfg.limit),
            locator,
            flows: HashMap::new(),
            contexts: sip_txn::TxnMap::default(),
            parent: sip_txn::TxnMap::default(),
            cancels: HashSet::new(),
            trace: TraceRing::new(cfg.trace_calls, cfg.trace_lines),
            dirty: HashSet::new(),
            stats: Stats::default(),
            next_housekeeping: None,
            branch_seq: 0,
            voice: None,
            resolving: HashMap::new(),
            resolve_seq: 0,
            resolve_out: VecDeque::new(),
            cfg,
        })
    }

    // --- the sans-IO interface --------------------------------------------------------------

    /// Feeds a parsed, validated message that arrived from `from`.
    pub fn handle_message(&mut self, now: Now, mut msg: Message, from: P) {
        if let Some(flow) = from.flow() {
            self.flows.entry(flow).or_insert_with(|| from.clone());
        }
        if msg.is_request() {
            local::stamp_top_via(&mut msg, from.remote());
        }
        if self.layer.handle_message(now.mono, msg, from).is_err() {
            // Counted by the layer (Stats::dropped); nothing can be answered.
        }
        self.drive(now);
    }

    /// Fires what is due at `now`.
    pub fn handle_timeout(&mut self, now: Now) {
        self.layer.handle_timeout(now.mono);
        if self.next_housekeeping.is_none_or(|t| t <= now.mono) {
            self.registrar.expire(now.wall());
            self.next_housekeeping = Some(now.mono + Duration::from_secs(1));
        }
        self.drive(now);
    }

    /// Reports that the transport could not send a message of transaction `txn`.
    pub fn handle_transport_error(&mut self, now: Now, txn: TxnId, error: TransportError) {
        self.layer.handle_transport_error(now.mono, txn, error);
        self.drive(now);
    }

    /// Reports that a connection closed: its flow bindings die (RFC 5626 §5.2) and requests
    /// for other contacts registered over it go to their contact address from now on.
    pub fn flow_closed(&mut self, now: Now, flow: FlowId) {
        self.flows.remove(&flow);
        for b in self.registrar.flow_closed(flow) {
            self.dirty.insert(b.aor);
        }
        self.drive(now);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.layer.poll_transmit()
    }

    /// The next next-hop URI to resolve (RFC 3263); answer with [`FrontEnd::handle_resolved`].
    pub fn poll_resolve(&mut self) -> Option<ResolveRequest> {
        self.resolve_out.pop_front()
    }

    /// The answer to a [`ResolveRequest`]: the waiting branch starts at the first transport
    /// (keeping the others to fail over to), or the failure counts as that branch's response.
    pub fn handle_resolved(&mut self, now: Now, id: ResolveId, result: Resolved<P>) {
        self.resolved(now, id, result);
        self.drive(now);
    }

    /// When `handle_timeout` must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.layer.poll_timeout(), self.next_housekeeping) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Replaces the static routes (a run-time topology change).
    pub fn set_static_routes(&mut self, routes: Vec<topology::StaticRouteConfig>) {
        self.cfg.static_routes = routes;
    }

    /// The Enterprise Voice engine that routes `tel:` and `user=phone` Request-URIs.
    pub fn set_voice(&mut self, engine: std::sync::Arc<voice::Engine>) {
        self.voice = Some(engine);
    }

    // --- state for the I/O layer -------------------------------------------------------------

    /// The bindings of every AOR changed since the last call, to persist (an empty list: the
    /// AOR has none left).
    pub fn take_dirty(&mut self, now: Now) -> Vec<(Aor, Vec<Binding>)> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .map(|aor| {
                let list = self.registrar.lookup(now.wall(), &aor);
                (aor, list)
            })
            .collect()
    }

    /// Loads persisted bindings (those expired meanwhile are dropped); returns how many were.
    pub fn restore(&mut self, now: Now, bindings: Vec<Binding>) -> usize {
        self.registrar.restore(now.wall(), Snapshot { bindings })
    }

    /// The users.
    pub fn users(&self) -> &Directory {
        self.auth.store()
    }

    /// The users, to change at run time.
    pub fn users_mut(&mut self) -> &mut Directory {
        self.auth.store_mut()
    }

    /// The locator the front end was built with.
    pub fn locator(&self) -> &L {
        &self.locator
    }

    /// The registrar (lookups for admin tools).
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// Adds a line to the trace under `key` for an event that has no Call-ID (a failed TLS
    /// handshake is kept under `tls:<peer address>`).
    pub fn record(&mut self, now: Now, key: &str, text: String) {
        self.trace.push(key, now.wall_ms, text);
    }

    /// The decision trace of a Call-ID.
    pub fn trace(&self, call_id: &str) -> Option<Vec<TraceLine>> {
        self.trace.get(call_id)
    }

    /// The Call-IDs the trace keeps, oldest first.
    pub fn traced_calls(&self) -> Vec<String> {
        self.trace.call_ids().map(str::to_owned).collect()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The transaction layer's counters.
    pub fn txn_stats(&self) -> sip_txn::Stats {
        self.layer.stats()
    }

    // --- events ------------------------------------------------------------------------------

    fn drive(&mut self, now: Now) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                Event::Request { txn, request, from }
                | Event::MergedRequest {
                    txn, request, from, ..
                } => {
                    self.stats.requests += 1;
                    self.on_request(now, txn, request, &from);
                }
                Event::Cancel {
                    txn,
                    request,
                    invite,
                    ..
                } => self.on_cancel(now, txn, &request, invite),
                Event::Ack { request, from, .. } | Event::Benotify { request, from } => {
                    self.forward_stateless(now, request, &from);
                }
                Event::Response { txn, response } => self.on_response(now, txn, response),
                Event::UnmatchedResponse { .. } => {
                    // RFC 6026 §7.2: a stateful proxy drops responses that match nothing.
                }
                Event::Timeout { txn, .. } => self.branch_failed(now, txn, 408),
                Event::TransportError { txn, .. } => self.branch_failed(now, txn, 503),
                Event::TimerC { txn, provisional } => {
                    // RFC 3261 §16.8: CANCEL a branch that rang too long, else act on a 408.
                    if provisional {
                        self.cancel_branch(now, txn);
                    } else {
                        self.branch_failed(now, txn, 408);
                    }
                }
                Event::Terminated { txn } => {
                    self.contexts.remove(&txn);
                    self.parent.remove(&txn);
                    self.cancels.remove(&txn);
                }
            }
        }
    }

    fn note(&mut self, now: Now, call_id: &str, text: impl FnOnce() -> String) {
        if self.trace.enabled() {
            self.trace.push(call_id, now.wall_ms, text());
        }
    }

    fn respond(&mut self, now: Now, txn: TxnId, resp: Message) {
        if resp.status().is_some_and(|s| s >= 300) {
            self.stats.rejections += 1;
        }
        // An error here means the transaction ended meanwhile: nothing to answer.
        let _ = self.layer.send_response(now.mono, txn, resp);
    }

    fn reject(&mut self, now: Now, txn: TxnId, req: &Message, d: diag::Diagnostic) {
        let d = d.source(self.cfg.fqdn.clone());
        let call_id = call_id_of(req);
        let code = d.code();
        self.note(now, call_id, || {
            format!(
                "rejected {} {} (ms-diagnostics {})",
                code.status, code.reason, code.id
            )
        });
        let resp = local::reject(req, &d, &self.server);
        self.respond(now, txn, resp);
    }

    // --- requests ----------------------------------------------------------------------------

    fn on_request(&mut self, now: Now, txn: TxnId, req: Message, from: &P) {
        let call_id = call_id_of(&req);
        let Some(method) = req.method().cloned() else {
            return;
        };
        self.note(now, call_id, || {
            format!(
                "received {} {} from {} over {}",
                method.as_str(),
                req.uri().map(ToString::to_string).unwrap_or_default(),
                from.remote(),
                from.via_transport()
            )
        });

        let trusted_server = match from.trust() {
            Some(PeerTrust::Refused { code, reason, fix }) => {
                let (reason, fix) = (reason.clone(), fix.clone());
                self.note(now, call_id, || format!("refused: {reason}; fix: {fix}"));
                let d = code.diagnostic().param("detail", reason);
                self.reject(now, txn, &req, d);
                return;
            }
            Some(PeerTrust::Server {
                name,
                authenticated,
                reason,
                ..
            }) => {
                let (name, reason) = (name.clone(), reason.clone());
                self.note(now, call_id, || format!("peer {name} is trusted: {reason}"));
                *authenticated
            }
            None => false,
        };

        // RFC 3261 §16.4: Route headers naming this server are removed (loose routing).
        let mut fwd = req.clone();
        let mut popped = 0;
        loop {
            // Views: every Route value is checked, only the first one's URI is copied.
            let first = match fwd.route_views() {
                Ok(r) => r.first().map(|r| r.uri.into_owned()),
                Err(_) => {
                    self.reject(now, txn, &req, bad_header("Route"));
                    return;
                }
            };
            match first {
                Some(uri) if self.is_me(&uri) => {
                    let _ = fwd.remove_first_value(&HeaderName::Route);
                    popped += 1;
                }
                _ => break,
            }
        }
        let next_route = fwd.top_route_view().ok().flatten().map(|r| r.into_owned());
        let Some(uri) = fwd.uri().cloned() else {
            return;
        };

        if method == Method::Register && next_route.is_none() {
            if self.is_me(&uri) || self.serves(&uri) {
                self.on_register(now, txn, &req, from);
            } else {
                let d = codes::RELAY_DENIED
                    .diagnostic()
                    .param("destination", host_of(&uri));
                self.reject(now, txn, &req, d);
            }
            return;
        }

        // Addressed to the server itself (RFC 3261 §16.3: the proxy is the target).
        // An OPTIONS ping to one of our IP addresses is for us whatever port it names (some
        // pingers, sipsak among them, write a port of their own into the Request-URI).
        let ping = method == Method::Options && (self.is_my_ip(&uri) || self.is_my_host(&uri));
        if next_route.is_none() && (self.is_me(&uri) || ping || self.is_served_domain_itself(&uri))
        {
            self.answer_locally(now, txn, &req, &method, from);
            return;
        }

        // RFC 3261 §16.3 step 3.
        match req.max_forwards() {
            Ok(Some(0)) => {
                self.reject(now, txn, &req, codes::TOO_MANY_HOPS.diagnostic());
                return;
            }
            Ok(_) => {}
            Err(_) => {
                self.reject(now, txn, &req, bad_header("Max-Forwards"));
                return;
            }
        }
        // RFC 3261 §16.3 step 4.
        if self.looped(&req) {
            self.reject(now, txn, &req, codes::LOOP_DETECTED.diagnostic());
            return;
        }

        // Who is asking. Initial requests from our users authenticate (RFC 3261 §22.3, 407);
        // requests inside a dialog we record-routed ride on that dialog.
        let in_dialog = req
            .to_view()
            .ok()
            .flatten()
            .is_some_and(|t| t.tag().is_some());
        let from_aor = req
            .from()
            .ok()
            .flatten()
            .and_then(|f| Aor::from_uri(&f.uri));
        let from_local = from_aor
            .as_ref()
            .is_some_and(|a| self.serves_domain(a.domain()));
        let authenticated = if trusted_server {
            // Asserted by a server the topology trusts (seed 002: TreatAsAuthenticated).
            from_aor.clone()
        } else if from_local && !(in_dialog && popped > 0) {
            match self.authenticate(now, txn, &req, from, true) {
                Some(aor) => {
                    if from_aor.as_ref() != Some(&aor) {
                        let d = codes::CREDENTIALS_NOT_AUTHORIZED_FOR_FROM.diagnostic();
                        self.reject(now, txn, &req, d);
                        return;
                    }
                    Some(aor)
                }
                None => return,
            }
        } else {
            None
        };
        let trusted = authenticated.is_some() || popped > 0 || trusted_server;

        // Where to.
        if let Some(route) = next_route {
            if !trusted {
                let d = codes::RELAY_DENIED
                    .diagnostic()
                    .param("destination", host_of(&route.uri));
                self.reject(now, txn, &req, d);
                return;
            }
            match self.next_hop(&route.uri) {
                Some(hop) => {
                    let label = format!("route {}", route.uri);
                    let t = Target::new(hop, None, Vec::new(), label);
                    self.fork(now, txn, req, fwd, vec![t], from, Search::Parallel);
                }
                None => self.reject(now, txn, &req, unroutable(&route.uri)),
            }
            return;
        }

        if is_phone(&uri) && self.voice.is_some() {
            if trusted {
                self.route_voice(now, txn, req, fwd, &uri, trusted_server, from);
            } else {
                let d = codes::RELAY_DENIED
                    .diagnostic()
                    .param("destination", uri.to_string());
                self.reject(now, txn, &req, d);
            }
            return;
        }
        if self.serves(&uri) {
            self.route_local(now, txn, req, fwd, &uri, authenticated.is_some(), from);
            return;
        }
        if !trusted {
            let d = codes::RELAY_DENIED
                .diagnostic()
                .param("destination", host_of(&uri));
            self.reject(now, txn, &req, d);
            return;
        }
        if let Some(t) = self.static_route(now, call_id, &uri) {
            match t {
                Some(t) => self.fork(now, txn, req, fwd, vec![t], from, Search::Parallel),
                None => self.reject(now, txn, &req, unroutable(&uri)),
            }
            return;
        }
        match self.next_hop(&uri) {
            Some(hop) => {
                let t = Target::new(hop, None, Vec::new(), uri.to_string());
                self.fork(now, txn, req, fwd, vec![t], from, Search::Parallel);
            }
            None => self.reject(now, txn, &req, unroutable(&uri)),
        }
    }

    /// The static route for the Request-URI's domain, if one matches (the most specific, as
    /// Lync matches `-MatchUri` with its subdomains): `Some(Some(target))` to its next hop,
    /// `Some(None)` when the next hop cannot be reached, `None` when no route matches.
    fn static_route(&mut self, now: Now, call_id: &str, uri: &Uri) -> Option<Option<Target<P>>> {
        let host = match uri.as_sip().map(|s| &s.host) {
            Some(Host::Domain(d)) => d.clone(),
            _ => return None,
        };
        let m = topology::match_route(&self.cfg.static_routes, &host)?;
        let index = m.index;
        let match_uri = m.route.match_uri.get_ref().clone();
        let hop_uri = m.route.next_hop_uri();
        let hop = Uri::parse(&hop_uri).ok().and_then(|u| self.next_hop(&u));
        match hop {
            Some(hop) => {
                self.note(now, call_id, || {
                    format!("static_route[{index}] (match_uri {match_uri}) matched {host}: next hop {hop_uri}")
                });
                let label = format!("static route next hop {hop_uri}");
                Some(Some(Target::new(hop, None, Vec::new(), label)))
            }
            None => {
                self.note(now, call_id, || {
                    format!("static_route[{index}] (match_uri {match_uri}) matched {host}, but its next hop {hop_uri} cannot be reached (no transport for it: check the route's transport and this server's listeners)")
                });
                Some(None)
            }
        }
    }

    /// A request for a user of a served domain: the location service decides (RFC 3261 §16.5).
    #[allow(clippy::too_many_arguments)]
    fn route_local(
        &mut self,
        now: Now,
        txn: TxnId,
        req: Message,
        fwd: Message,
        uri: &Uri,
        authenticated: bool,
        from: &P,
    ) {
        let call_id = call_id_of(&req);
        let Some(aor) = Aor::from_uri(uri) else {
            self.reject(now, txn, &req, unroutable(uri));
            return;
        };
        let is_gruu = uri
            .as_sip()
            .is_some_and(|s| s.ms_gruu().is_some() || s.gr().is_some());
        let bindings = if is_gruu {
            // RFC 5627 §8.4.2 and [MS-SIPRE] 2.2.3: a GRUU names exactly one contact.
            self.registrar
                .lookup_gruu(now.wall(), uri)
                .into_iter()
                .collect::<Vec<_>>()
        } else {
            self.registrar.lookup(now.wall(), &aor)
        };
        let known = self.users().contains(&aor);
        self.note(now, call_id, || {
            format!(
                "looked up {}{}: {} binding(s){}",
                if is_gruu { "GRUU of " } else { "" },
                aor,
                bindings.len(),
                if known { "" } else { ", no such user" }
            )
        });
        if !known && bindings.is_empty() {
            // After authentication the answer may say the user does not exist; before it, an
            // unknown user looks exactly like one who is not signed in (no enumeration).
            let d = if authenticated {
                codes::USER_DOES_NOT_EXIST
                    .diagnostic()
                    .param("TargetUri", aor.to_string())
            } else {
                codes::USER_NOT_REGISTERED
                    .diagnostic()
                    .param("target", aor.to_string())
            };
            self.reject(now, txn, &req, d);
            return;
        }
        if bindings.is_empty() {
            let d = codes::USER_NOT_REGISTERED
                .diagnostic()
                .param("target", uri.to_string());
            self.reject(now, txn, &req, d);
            return;
        }
        let mut targets = Vec::new();
        for b in &bindings {
            match self.hop_for(b) {
                Some((hop, uri, routes)) => {
                    targets.push(Target::new(hop, Some(uri), routes, b.contact.clone()))
                }
                None => {
                    let contact = b.contact.clone();
                    self.note(now, call_id, || format!("cannot reach contact {contact}"));
                }
            }
        }
        if targets.is_empty() {
            let d = codes::CONTACT_UNREACHABLE
                .diagnostic()
                .param("target", aor.to_string());
            self.reject(now, txn, &req, d);
            return;
        }
        self.fork(now, txn, req, fwd, targets, from, Search::Parallel);
    }

    /// A `tel:` or `user=phone` Request-URI: the Enterprise Voice engine decides (a user's Line
    /// URI, trunks in failover order, an unassigned number, or a rejection), and its trace
    /// joins the call's trace.
    #[allow(clippy::too_many_arguments)]
    fn route_voice(
        &mut self,
        now: Now,
        txn: TxnId,
        req: Message,
        fwd: Message,
        uri: &Uri,
        trusted_server: bool,
        from: &P,
    ) {
        let Some(engine) = self.voice.clone() else {
            return;
        };
        let call_id = call_id_of(&req);
        let caller = req
            .from()
            .ok()
            .flatten()
            .map(|f| f.uri.to_string())
            .unwrap_or_default();
        let referred_by = req.referred_by().ok().flatten().map(|r| r.uri.to_string());
        let request_uri = uri.to_string();
        let mut input = voice::RequestInput::new(&caller, &request_uri);
        if let Some(r) = &referred_by {
            // Only a server the topology trusts may vouch for a referrer (seed 001: an
            // application's signed Referred-By); a client's own Referred-By routes nothing.
            input.referrer = Some(voice::Referrer {
                uri: r,
                trust: if trusted_server {
                    voice::ReferrerTrust::Signed
                } else {
                    voice::ReferrerTrust::Unverified
                },
            });
        }
        let decision = engine.decide(&input);
        for line in decision.trace.lines() {
            self.note(now, call_id, || format!("voice: {line}"));
        }
        match decision.outcome {
            voice::Outcome::LocalUser { uri: user, .. } => match Uri::parse(&user) {
                Ok(u) => {
                    let mut fwd = fwd;
                    fwd.set_uri(u.clone());
                    self.route_local(now, txn, req, fwd, &u, true, from);
                }
                Err(_) => self.reject(now, txn, &req, unroutable(uri)),
            },
            voice::Outcome::Routed { attempts, .. } => {
                let mut targets = Vec::new();
                for a in &attempts {
                    let transport = match a.transport {
                        voice::Transport::Udp => "",
                        voice::Transport::Tcp => ";transport=tcp",
                        voice::Transport::Tls => ";transport=tls",
                    };
                    let text = format!(
                        "sip:{}@{}:{}{transport};user=phone",
                        a.number, a.gateway, a.port
                    );
                    let located = Uri::parse(&text)
                        .ok()
                        .and_then(|u| self.next_hop(&u).map(|h| (u, h)));
                    match located {
                        Some((u, hop)) => targets.push(Target::new(
                            hop,
                            Some(u),
                            Vec::new(),
                            format!("trunk {} ({text})", a.trunk),
                        )),
                        None => {
                            let trunk = a.trunk.clone();
                            self.note(now, call_id, || {
                                format!("trunk {trunk}: gateway {text} cannot be reached")
                            });
                        }
                    }
                }
                if targets.is_empty() {
                    let d = codes::NO_GATEWAY_AVAILABLE.diagnostic();
                    self.reject(now, txn, &req, d);
                    return;
                }
                self.fork(now, txn, req, fwd, targets, from, Search::Sequential);
            }
            voice::Outcome::Unassigned {
                treatment: voice::Treatment::Redirect(target),
                ..
            } => {
                // An unassigned number redirected: 302 to the configured target (RFC 3261 §21.3.3).
                let mut resp = local::status(&req, 302, &self.server);
                let cl = resp.remove_all(&HeaderName::ContentLength);
                resp.push(HeaderName::Contact, format!("<{target}>"));
                if cl > 0 {
                    resp.push(HeaderName::ContentLength, 0);
                }
                self.respond(now, txn, resp);
            }
            voice::Outcome::Unassigned {
                treatment: voice::Treatment::Announcement(a),
                ..
            } => {
                let d = codes::REQUEST_NOT_SERVED_YET
                    .diagnostic()
                    .param("announcement", a.to_string());
                self.reject(now, txn, &req, d);
            }
            voice::Outcome::CallPark { number, .. } => {
                let d = codes::REQUEST_NOT_SERVED_YET
                    .diagnostic()
                    .param("call-park-orbit", number);
                self.reject(now, txn, &req, d);
            }
            voice::Outcome::Rejected(r) => {
                let d = match diag::lookup(r.diag.code) {
                    Some(code) => code.diagnostic(),
                    None => codes::NO_ROUTE_FOUND.diagnostic(),
                };
                self.reject(now, txn, &req, d);
            }
        }
    }

    /// Where requests for the next-hop `uri` go: a transport the locator knows, a host name to
    /// resolve first (RFC 3263), or nowhere.
    fn next_hop(&self, uri: &Uri) -> Option<Next<P>> {
        let sip = uri.as_sip()?;
        match self.locator.locate(sip) {
            Some(hop) => Some(Next::Hop(hop)),
            None if self.locator.resolvable(sip) => Some(Next::Resolve(sip.clone())),
            None => None,
        }
    }

    /// The transport, Request-URI and Route set for a binding: its outbound flow or the
    /// connection it registered over while open (RFC 5626 §5.3), else its Path (RFC 3327
    /// §5.3) or contact address (a host name there is resolved with DNS, RFC 3263).
    fn hop_for(&self, b: &Binding) -> Option<(Next<P>, Uri, Vec<String>)> {
        let uri = Uri::parse(&b.contact).ok()?;
        let flow_hop = b
            .flow
            .or(b.received_on)
            .and_then(|f| self.flows.get(&f).cloned());
        if let Some(hop) = flow_hop
            && b.path.is_empty()
        {
            return Some((Next::Hop(hop), uri, Vec::new()));
        }
        if let Some(first) = b.path.first() {
            let na = sip_msg::parse_one::<NameAddr>(first).ok()?;
            let hop = self.next_hop(&na.uri)?;
            return Some((hop, uri, b.path.clone()));
        }
        let hop = self.next_hop(&uri)?;
        Some((hop, uri, Vec::new()))
    }

    /// Starts the branches (RFC 3261 §16.6): all at once (parallel), or one after another,
    /// moving on when a branch ends with 408 or a 5xx (sequential search: trunk failover).
    #[allow(clippy::too_many_arguments)]
    fn fork(
        &mut self,
        now: Now,
        server_txn: TxnId,
        req: Message,
        fwd: Message,
        targets: Vec<Target<P>>,
        from: &P,
        search: Search,
    ) {
        let started = match search {
            Search::Parallel => {
                self.open_context(server_txn, &req, fwd, from, VecDeque::new());
                let mut started = false;
                for t in targets {
                    started |= self.start_branch(now, server_txn, t);
                }
                started
            }
            Search::Sequential => {
                self.open_context(server_txn, &req, fwd, from, targets.into());
                self.next_serial(now, server_txn)
            }
        };
        if !started {
            self.no_branch(now, server_txn, &req);
        }
    }

    fn open_context(
        &mut self,
        server_txn: TxnId,
        req: &Message,
        fwd: Message,
        from: &P,
        serial: VecDeque<Target<P>>,
    ) {
        let record_route = matches!(
            fwd.method(),
            Some(Method::Invite | Method::Subscribe | Method::Refer | Method::Notify)
        ) && req.to().ok().flatten().is_none_or(|t| t.tag().is_none());
        let ctx = Context {
            request: req.clone(),
            invite: fwd.method() == Some(&Method::Invite),
            fwd,
            from: from.clone(),
            record_route,
            serial,
            call_id: call_id_of(req).to_owned(),
            branches: Vec::new(),
            candidates: Vec::new(),
            resolving: 0,
            final_sent: false,
            cancelled: false,
        };
        self.contexts.insert(server_txn, ctx);
    }

    /// No branch could be started: the context goes and the caller is told.
    fn no_branch(&mut self, now: Now, server_txn: TxnId, req: &Message) {
        self.contexts.remove(&server_txn);
        let d = codes::CONTACT_UNREACHABLE.diagnostic().param(
            "target",
            req.uri().map(ToString::to_string).unwrap_or_default(),
        );
        self.reject(now, server_txn, req, d);
    }

    /// Starts the next serial target that can be sent to; false when none is left.
    fn next_serial(&mut self, now: Now, server_txn: TxnId) -> bool {
        loop {
            let next = match self.contexts.get_mut(&server_txn) {
                Some(ctx) if !ctx.cancelled => ctx.serial.pop_front(),
                _ => None,
            };
            let Some(t) = next else { return false };
            if self.start_branch(now, server_txn, t) {
                return true;
            }
        }
    }

    /// Builds and sends one branch of the context of `server_txn` (RFC 3261 §16.6 steps 1–12);
    /// a next hop that needs DNS is resolved first (the branch starts when the answer comes),
    /// and one that cannot be sent to gives way to its next resolved address. False when
    /// nothing was sent or asked.
    fn start_branch(&mut self, now: Now, server_txn: TxnId, t: Target<P>) -> bool {
        let mut t = t;
        loop {
            let Target {
                uri,
                routes,
                hop,
                mut alternates,
                label,
            } = t;
            let hop = match hop {
                Next::Hop(hop) => hop,
                Next::Resolve(next) => {
                    let t = Target {
                        uri,
                        routes,
                        hop: Next::Resolve(next),
                        alternates,
                        label,
                    };
                    return self.start_resolution(now, server_txn, t);
                }
            };
            let retry = alternates.pop_front().map(|next| {
                Box::new(Target {
                    uri: uri.clone(),
                    routes: routes.clone(),
                    hop: Next::Hop(next),
                    alternates,
                    label: label.clone(),
                })
            });
            let sent = self.send_branch(
                now,
                server_txn,
                (uri.as_ref(), &routes, &label),
                hop,
                retry.clone(),
            );
            if sent {
                return true;
            }
            match retry {
                Some(r) => t = *r,
                None => return false,
            }
        }
    }

    /// Asks the I/O layer to resolve `t`'s next hop; the context waits for the answer.
    fn start_resolution(&mut self, now: Now, server_txn: TxnId, t: Target<P>) -> bool {
        let Next::Resolve(uri) = &t.hop else {
            return false;
        };
        let Some(ctx) = self.contexts.get_mut(&server_txn) else {
            return false;
        };
        ctx.resolving += 1;
        let call_id = ctx.call_id.clone();
        self.resolve_seq += 1;
        let id = ResolveId(self.resolve_seq);
        let text = uri.to_string();
        self.note(now, &call_id, || {
            format!("resolving {text} with DNS (RFC 3263)")
        });
        self.resolve_out.push_back(ResolveRequest {
            id,
            uri: uri.clone(),
        });
        self.resolving.insert(id.0, (server_txn, t));
        true
    }

    /// The answer for a resolution asked by [`Self::start_resolution`].
    fn resolved(&mut self, now: Now, id: ResolveId, result: Resolved<P>) {
        let Some((server, mut t)) = self.resolving.remove(&id.0) else {
            return;
        };
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        ctx.resolving = ctx.resolving.saturating_sub(1);
        let call_id = ctx.call_id.clone();
        let (cancelled, final_sent) = (ctx.cancelled, ctx.final_sent);
        let name = match &t.hop {
            Next::Resolve(uri) => uri.to_string(),
            Next::Hop(_) => t.label.clone(),
        };
        let failure = match result {
            _ if final_sent => {
                self.note(now, &call_id, || {
                    format!("resolved {name} after the final response: not used")
                });
                None
            }
            _ if cancelled => {
                self.note(now, &call_id, || {
                    format!("resolved {name} after the CANCEL: not used")
                });
                Some(Candidate::synthesized(487))
            }
            Resolved::Targets { hops, detail } => {
                let mut hops: VecDeque<P> = hops.into();
                match hops.pop_front() {
                    Some(first) => {
                        let list = std::iter::once(&first)
                            .chain(hops.iter())
                            .map(|h| format!("{} {}", h.via_transport(), h.remote()))
                            .collect::<Vec<_>>()
                            .join(", ");
                        self.note(now, &call_id, || {
                            format!("resolved {name}: {list} ({detail})")
                        });
                        t.hop = Next::Hop(first);
                        t.alternates = hops;
                        if self.start_branch(now, server, t) {
                            None
                        } else {
                            let d = codes::CONTACT_UNREACHABLE
                                .diagnostic()
                                .param("target", name.clone());
                            Some(Candidate::failed(d))
                        }
                    }
                    None => {
                        let d = codes::TEMPORARILY_CANNOT_ROUTE.diagnostic();
                        self.note(now, &call_id, || {
                            format!("resolved {name} to nothing usable ({detail})")
                        });
                        Some(Candidate::failed(d))
                    }
                }
            }
            Resolved::Failed { diagnostic, detail } => {
                self.note(now, &call_id, || format!("cannot resolve {name}: {detail}"));
                Some(Candidate::failed(diagnostic))
            }
        };
        if let Some(c) = failure {
            if let Some(ctx) = self.contexts.get_mut(&server) {
                ctx.candidates.push(c);
            }
            // A serial search (trunks) moves on to its next target.
            if !cancelled
                && !final_sent
                && self
                    .contexts
                    .get(&server)
                    .is_some_and(|c| !c.serial.is_empty())
            {
                self.note(now, &call_id, || "trying the next target".into());
                self.next_serial(now, server);
            }
        }
        self.finish_if_done(now, server);
    }

    /// Sends one branch to `hop` (RFC 3261 §16.6 steps 1–12); `retry` is the same target at
    /// its next resolved address, kept on the branch for failover.
    fn send_branch(
        &mut self,
        now: Now,
        server_txn: TxnId,
        (new_uri, routes, label): (Option<&Uri>, &[String], &str),
        hop: P,
        retry: Option<Box<Target<P>>>,
    ) -> bool {
        let Some(ctx) = self.contexts.get(&server_txn) else {
            return false;
        };
        let (req, mut m, from, record_route, invite, call_id) = (
            &ctx.request,
            ctx.fwd.clone(),
            ctx.from.clone(),
            ctx.record_route,
            ctx.invite,
            ctx.call_id.clone(),
        );
        let loop_hash = loop_hash(req);
        // RFC 3261 §16.6 step 3.
        let mf = req
            .max_forwards()
            .ok()
            .flatten()
            .map_or(70, |n| n.saturating_sub(1));
        if let Some(u) = new_uri {
            m.set_uri(u.clone());
        }
        for r in routes.iter().rev() {
            m.prepend(HeaderName::Route, r);
        }
        m.set(HeaderName::MaxForwards, mf);
        let out_sent_by = self.locator.sent_by(&hop);
        let out_transport = hop.via_transport();
        if record_route {
            // RFC 3261 §16.6 step 4; two entries when the transport or address changes
            // (RFC 5658 §3.4): the caller's side lower, the callee's side on top.
            let in_sent_by = self.locator.sent_by(&from);
            let in_transport = from.via_transport();
            m.prepend(HeaderName::RecordRoute, rr_value(&in_sent_by, in_transport));
            if (in_sent_by.as_str(), in_transport) != (out_sent_by.as_str(), out_transport) {
                m.prepend(
                    HeaderName::RecordRoute,
                    rr_value(&out_sent_by, out_transport),
                );
            }
        }
        self.branch_seq += 1;
        let branch = format!("z9hG4bKcv{loop_hash:016x}.{:x}", self.branch_seq);
        let via = |transport: &str, sent_by: &str| {
            format!("SIP/2.0/{transport} {sent_by};branch={branch};rport")
        };
        m.prepend(HeaderName::Via, via(out_transport, &out_sent_by));
        let mut hop = hop;
        // RFC 3261 §18.1.1: too large for UDP, so TCP to the same address, the Via saying
        // so (a Record-Route already written keeps naming the UDP side the callee will use
        // for requests in the dialog, which §18.1.1 allows).
        if !hop.is_reliable()
            && m.to_bytes().len() > UDP_REQUEST_LIMIT
            && let Some(tcp) = self.locator.reliable_alternative(&hop)
        {
            let sent_by = self.locator.sent_by(&tcp);
            let _ = m.remove_first_value(&HeaderName::Via);
            m.prepend(HeaderName::Via, via(tcp.via_transport(), &sent_by));
            self.note(now, &call_id, || {
                format!("request to {label} larger than {UDP_REQUEST_LIMIT} bytes: sent over TCP (RFC 3261 §18.1.1)")
            });
            hop = tcp;
        }
        match self.layer.send_request(now.mono, m, hop) {
            Ok(client) => {
                if invite {
                    let _ = self.layer.arm_timer_c(now.mono, client);
                }
                self.stats.branches += 1;
                self.parent.insert(client, server_txn);
                self.note(now, &call_id, || format!("forked to {label}"));
                if let Some(ctx) = self.contexts.get_mut(&server_txn) {
                    ctx.branches.push(Branch {
                        txn: client,
                        target: label.to_owned(),
                        state: BranchState::Calling,
                        cancel_pending: false,
                        cancelled: false,
                        retry,
                    });
                }
                true
            }
            Err(e) => {
                self.note(now, &call_id, || format!("could not send to {label}: {e}"));
                false
            }
        }
    }

    fn answer_locally(&mut self, now: Now, txn: TxnId, req: &Message, method: &Method, from: &P) {
        let call_id = call_id_of(req);
        match method {
            Method::Options => {
                // The Contact names the pool FQDN and the port the ping came in on.
                let sent_by = self.locator.sent_by(from);
                let port = sent_by.rsplit_once(':').map_or("5060", |(_, p)| p);
                let contact = format!("{}:{port}", self.cfg.fqdn);
                let resp = local::options_ok(req, &contact, from.via_transport(), &self.server);
                self.note(now, call_id, || "answered OPTIONS (keep-alive)".into());
                // Made again from scratch for a retransmission, so nothing is kept for Timer J
                // (stateless UAS behaviour, RFC 3261 §8.2.7): keep-alives cost no state.
                let _ = self.layer.send_response_stateless(now.mono, txn, resp);
            }
            other => {
                let d = codes::REQUEST_NOT_SERVED_YET
                    .diagnostic()
                    .param("method", other.as_str());
                self.reject(now, txn, req, d);
            }
        }
    }

    // --- authentication and registration -------------------------------------------------------

    /// Checks the request's Digest credentials (RFC 3261 §22; `proxy`: 407 and
    /// Proxy-Authorization, else 401 and Authorization). Answers the request itself (challenge
    /// or 403 when the source is throttled) and returns `None` unless it authenticated.
    fn authenticate(
        &mut self,
        now: Now,
        txn: TxnId,
        req: &Message,
        from: &P,
        proxy: bool,
    ) -> Option<Aor> {
        let call_id = call_id_of(req);
        let source = from.remote().ip();
        let exempt = matches!(
            from.trust(),
            Some(PeerTrust::Server {
                throttle_exempt: true,
                ..
            })
        );
        if !exempt
            && let Decision::Throttled { retry_after_ms } = self.limiter.check(&source, now.wall_ms)
        {
            self.stats.throttled += 1;
            let d = sip_auth::limit::THROTTLED
                .diagnostic()
                .param("retry-after", format!("{}", retry_after_ms.div_ceil(1000)));
            self.reject(now, txn, req, d);
            return None;
        }
        let verdict = match self.auth.verify_message(req, proxy, now.secs()) {
            Err(sip_auth::AuthError::UriMismatch) => self.verify_for_me(req, proxy, now),
            other => other,
        };
        match verdict {
            Ok(a) => {
                let aor = self.users().aor_of(&a.user, &a.realm).cloned();
                match aor {
                    Some(aor) => {
                        self.note(now, call_id, || {
                            format!("authenticated as {aor} (Digest {})", a.algorithm.token())
                        });
                        Some(aor)
                    }
                    None => {
                        // Removed between the HA1 lookup and now: as if the password were wrong.
                        self.challenge(now, txn, req, proxy, false);
                        None
                    }
                }
            }
            Err(e) => {
                if e.counts_as_failure() {
                    self.stats.auth_failures += 1;
                    if !exempt {
                        self.limiter.record_failure(&source, now.wall_ms);
                    }
                }
                self.note(now, call_id, || format!("challenged: {e}"));
                self.challenge(now, txn, req, proxy, e.is_stale());
                None
            }
        }
    }

    /// Credentials whose digest-uri names this server rather than the Request-URI: some
    /// clients (SIPp among them) compute the digest over the first-hop proxy's address. The
    /// URI still names us, so the credentials cannot be replayed against another server, and
    /// the nonce-count check still refuses a second use (RFC 7616 §3.4.6 asks only that the
    /// resource be the one requested; here the resource is this proxy's service).
    fn verify_for_me(
        &mut self,
        req: &Message,
        proxy: bool,
        now: Now,
    ) -> Result<sip_auth::Authenticated, sip_auth::AuthError> {
        let mismatch = Err(sip_auth::AuthError::UriMismatch);
        let Ok(Some(creds)) = sip_auth::credentials_for_realm(req, proxy, self.auth.realm()) else {
            return mismatch;
        };
        let Some(uri) = creds.param("uri").map(str::to_owned) else {
            return mismatch;
        };
        let names_me = Uri::parse(&uri).is_ok_and(|u| self.is_me(&u));
        let Some(method) = req.method() else {
            return mismatch;
        };
        if !names_me {
            return mismatch;
        }
        let target = sip_auth::RequestTarget {
            method: method.as_str(),
            uri: &uri,
        };
        self.auth.verify(&target, &creds, now.secs())
    }

    fn challenge(&mut self, now: Now, txn: TxnId, req: &Message, proxy: bool, stale: bool) {
        self.stats.challenges += 1;
        let c = self.auth.challenges(now.secs(), stale);
        let resp = local::challenge(req, proxy, &c, &self.server);
        // Not a rejection for the counters: the normal first step of every registration.
        // A challenge to a non-INVITE is made again from scratch for a retransmission, so the
        // transaction is not kept (RFC 3261 §8.2.7); an INVITE's must stay to absorb the ACK.
        if req.method() == Some(&Method::Invite) {
            let _ = self.layer.send_response(now.mono, txn, resp);
        } else {
            let _ = self.layer.send_response_stateless(now.mono, txn, resp);
        }
    }

    /// REGISTER (RFC 3261 §10.3): authenticate, check the To against the credentials, apply.
    fn on_register(&mut self, now: Now, txn: TxnId, req: &Message, from: &P) {
        let call_id = call_id_of(req);
        let Some(aor) = self.authenticate(now, txn, req, from, false) else {
            return;
        };
        // §10.3 step 3: the authenticated user may change the bindings of the To AOR only.
        let to_aor = req
            .to_view()
            .ok()
            .flatten()
            .and_then(|t| Aor::from_uri_ref(&t.uri));
        if to_aor.as_ref() != Some(&aor) {
            let d = codes::CREDENTIALS_NOT_AUTHORIZED_FOR_FROM.diagnostic();
            self.reject(now, txn, req, d);
            return;
        }
        if self.would_exceed_limit(now, req, &aor) {
            let d = codes::TOO_MANY_BINDINGS
                .diagnostic()
                .param("limit", self.cfg.max_bindings_per_user.to_string());
            self.reject(now, txn, req, d);
            return;
        }
        match self.registrar.register(now.wall(), req, &aor, from.flow()) {
            Ok(out) => {
                self.stats.registrations += 1;
                let (added, removed, total) = (out.added, out.removed, out.bindings.len());
                self.note(now, call_id, || {
                    format!("registered {aor}: {added} added, {removed} removed, {total} now")
                });
                self.dirty.insert(aor);
                let mut resp = out.response;
                resp.prepend(HeaderName::Server, &self.server);
                self.respond(now, txn, resp);
            }
            Err(e) => {
                let resp = self.registrar.reject(req, &e);
                let status = resp.status().unwrap_or(0);
                self.note(now, call_id, || format!("REGISTER refused {status}: {e}"));
                self.respond(now, txn, resp);
            }
        }
    }

    /// Whether applying the REGISTER would give the user more bindings than allowed.
    fn would_exceed_limit(&self, now: Now, req: &Message, aor: &Aor) -> bool {
        let current = self.registrar.lookup(now.wall(), aor);
        let Ok(contacts) = req.contacts() else {
            return false;
        };
        let new = contacts
            .iter()
            .filter_map(|c| match c {
                sip_msg::Contact::Addr(a) => Some(a),
                sip_msg::Contact::Star => None,
            })
            .filter(|a| a.expires() != Some(0))
            .filter(|a| {
                let uri = a.uri.to_string();
                !current.iter().any(|b| b.contact == uri)
            })
            .count();
        new > 0 && current.len() + new > self.cfg.max_bindings_per_user
    }

    // --- responses ---------------------------------------------------------------------------

    fn on_response(&mut self, now: Now, client: TxnId, mut resp: Message) {
        if self.cancels.contains(&client) {
            return;
        }
        let Some(&server) = self.parent.get(&client) else {
            return;
        };
        let Some(status) = resp.status() else { return };
        // RFC 3261 §16.7 step 3: our Via goes.
        let _ = resp.remove_first_value(&HeaderName::Via);
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        let call_id = ctx.call_id.clone();
        let target = ctx
            .branch_mut(client)
            .map(|b| b.target.clone())
            .unwrap_or_default();
        self.note(now, &call_id, || format!("{status} from {target}"));
        match status {
            100 => {}
            101..=199 => {
                let mut send_cancel = false;
                if let Some(ctx) = self.contexts.get_mut(&server) {
                    if let Some(b) = ctx.branch_mut(client)
                        && b.state == BranchState::Calling
                    {
                        b.state = BranchState::Proceeding;
                        send_cancel = b.cancel_pending;
                    }
                    if ctx.invite {
                        // §16.7 step 2: a provisional restarts Timer C.
                        let _ = self.layer.arm_timer_c(now.mono, client);
                    }
                    if !ctx.final_sent && !send_cancel {
                        let _ = self.layer.send_response(now.mono, server, resp);
                    }
                }
                if send_cancel {
                    self.cancel_branch(now, client);
                }
            }
            200..=299 => {
                let invite = self.contexts.get(&server).is_some_and(|c| c.invite);
                if let Some(ctx) = self.contexts.get_mut(&server) {
                    if let Some(b) = ctx.branch_mut(client) {
                        b.state = BranchState::Done(status);
                    }
                    // §16.7 step 5: every 2xx to an INVITE goes upstream at once; for other
                    // methods only the first final.
                    let forward = invite || !ctx.final_sent;
                    ctx.final_sent = true;
                    if forward {
                        let _ = self.layer.send_response(now.mono, server, resp);
                    }
                }
                if invite {
                    // §16.7 step 10: the other branches are cancelled.
                    self.cancel_all(now, server);
                }
            }
            _ => {
                let mut retry = None;
                if let Some(ctx) = self.contexts.get_mut(&server) {
                    if let Some(b) = ctx.branch_mut(client) {
                        b.state = BranchState::Done(status);
                        if status == 503 {
                            // RFC 3263 §4.3: a 503 sends the request to the next address.
                            retry = b.retry.take();
                        }
                    }
                    ctx.candidates.push(Candidate {
                        status,
                        response: Some(resp),
                        diag: None,
                    });
                }
                if status >= 600 {
                    // §16.7 step 5: a 6xx ends the search.
                    self.cancel_all(now, server);
                } else if let Some(r) = retry {
                    self.retry_branch(now, server, *r, status);
                } else {
                    self.failover(now, server, status);
                }
                self.finish_if_done(now, server);
            }
        }
    }

    /// A branch ended without a response (Timer B/F/C → 408, transport error → 503: RFC 3261
    /// §16.7 step 6 and §16.9).
    fn branch_failed(&mut self, now: Now, client: TxnId, status: u16) {
        let Some(&server) = self.parent.get(&client) else {
            return;
        };
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        let call_id = ctx.call_id.clone();
        let Some(b) = ctx.branch_mut(client) else {
            return;
        };
        if matches!(b.state, BranchState::Done(_)) {
            return;
        }
        // RFC 3263 §4.3: a timeout or transport error before any response moves on to the
        // next resolved address (after a provisional, the request was delivered).
        let retry = if b.state == BranchState::Calling {
            b.retry.take()
        } else {
            None
        };
        b.state = BranchState::Done(status);
        let target = b.target.clone();
        ctx.candidates.push(Candidate::synthesized(status));
        self.note(now, &call_id, || {
            format!("no answer from {target}: counted as {status}")
        });
        match retry {
            Some(r) => self.retry_branch(now, server, *r, status),
            None => self.failover(now, server, status),
        }
        self.finish_if_done(now, server);
    }

    /// The same target at its next resolved address, after `status` (RFC 3263 §4.3); when no
    /// address can be sent to, a serial search moves on.
    fn retry_branch(&mut self, now: Now, server: TxnId, next: Target<P>, status: u16) {
        let call_id = self
            .contexts
            .get(&server)
            .map(|c| c.call_id.clone())
            .unwrap_or_default();
        if let Next::Hop(h) = &next.hop {
            let (label, to) = (
                next.label.clone(),
                format!("{} {}", h.via_transport(), h.remote()),
            );
            self.note(now, &call_id, || {
                format!("{status}: trying {label} at its next address {to} (RFC 3263 §4.3)")
            });
        }
        if !self.start_branch(now, server, next) {
            self.failover(now, server, status);
        }
    }

    /// A serial search moves on to its next target after a 408 or a 5xx (trunk failover).
    fn failover(&mut self, now: Now, server: TxnId, status: u16) {
        let more = self
            .contexts
            .get(&server)
            .is_some_and(|c| !c.serial.is_empty() && !c.cancelled && !c.final_sent);
        if more && (status == 408 || (500..600).contains(&status)) {
            let call_id = self
                .contexts
                .get(&server)
                .map(|c| c.call_id.clone())
                .unwrap_or_default();
            self.note(now, &call_id, || {
                format!("{status}: trying the next target")
            });
            self.next_serial(now, server);
        }
    }

    /// When every branch has a final response and none was a 2xx, the best goes upstream.
    fn finish_if_done(&mut self, now: Now, server: TxnId) {
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        if ctx.final_sent || !ctx.all_done() {
            return;
        }
        ctx.final_sent = true;
        let Some(i) = best(&ctx.candidates) else {
            // Nothing was tried at all (cannot happen: every path leaves a candidate), but
            // the caller still gets an answer.
            let req = ctx.request.clone();
            let d = codes::CONTACT_UNREACHABLE.diagnostic().param(
                "target",
                req.uri().map(ToString::to_string).unwrap_or_default(),
            );
            self.reject(now, server, &req, d);
            return;
        };
        let chosen = &ctx.candidates[i];
        let status = chosen.status;
        let resp = match (&chosen.response, status) {
            // The proxy's own reason for a target it could not reach (e.g. DNS).
            (None, _) if chosen.diag.is_some() => {
                let d = chosen.diag.clone().map(|d| d.source(self.cfg.fqdn.clone()));
                match d {
                    Some(d) => local::reject(&ctx.request, &d, &self.server),
                    None => local::status(&ctx.request, status, &self.server),
                }
            }
            // §16.7 step 6: a 503 becomes 500 upstream (the callee's overload is not ours).
            (_, 503) => local::status(&ctx.request, 500, &self.server),
            (Some(r), _) => {
                let mut r = r.clone();
                if matches!(status, 401 | 407) {
                    aggregate_challenges(&mut r, &ctx.candidates, i);
                }
                r
            }
            (None, s) => local::status(&ctx.request, s, &self.server),
        };
        let call_id = ctx.call_id.clone();
        let sent = resp.status().unwrap_or(status);
        self.note(now, &call_id, || {
            format!("best response {sent} sent upstream")
        });
        self.respond(now, server, resp);
    }

    // --- CANCEL ------------------------------------------------------------------------------

    fn on_cancel(&mut self, now: Now, txn: TxnId, req: &Message, invite: Option<TxnId>) {
        let call_id = call_id_of(req);
        // RFC 3261 §9.2: 200 for a CANCEL that matched, 481 otherwise.
        let Some(invite) = invite else {
            self.note(now, call_id, || "CANCEL matched nothing: 481".into());
            let resp = local::status(req, 481, &self.server);
            self.respond(now, txn, resp);
            return;
        };
        let resp = local::status(req, 200, &self.server);
        self.respond(now, txn, resp);
        self.note(now, call_id, || {
            "CANCEL received: cancelling every branch".into()
        });
        if let Some(ctx) = self.contexts.get_mut(&invite) {
            ctx.cancelled = true;
        }
        self.cancel_all(now, invite);
    }

    fn cancel_all(&mut self, now: Now, server: TxnId) {
        let pending: Vec<TxnId> = self
            .contexts
            .get(&server)
            .map(|c| {
                c.branches
                    .iter()
                    .filter(|b| !matches!(b.state, BranchState::Done(_)))
                    .map(|b| b.txn)
                    .collect()
            })
            .unwrap_or_default();
        for t in pending {
            self.cancel_branch(now, t);
        }
    }

    /// RFC 3261 §16.10: CANCEL a branch that has had a provisional; remember to for one that has
    /// not (§9.1: a CANCEL may not overtake the first provisional).
    fn cancel_branch(&mut self, now: Now, client: TxnId) {
        let Some(&server) = self.parent.get(&client) else {
            return;
        };
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        if !ctx.invite {
            return;
        }
        let Some(b) = ctx.branch_mut(client) else {
            return;
        };
        match b.state {
            BranchState::Done(_) => return,
            BranchState::Calling => {
                b.cancel_pending = true;
                return;
            }
            BranchState::Proceeding if b.cancelled => return,
            BranchState::Proceeding => b.cancelled = true,
        }
        let Ok(cancel) = self.layer.build_cancel(client) else {
            return;
        };
        let Some(hop) = self
            .layer
            .transactions()
            .find(|t| t.id == client)
            .map(|t| t.peer.clone())
        else {
            return;
        };
        if let Ok(t) = self.layer.send_request(now.mono, cancel, hop) {
            self.cancels.insert(t);
        }
    }

    // --- stateless forwarding (RFC 3261 §16.11) ------------------------------------------------

    /// ACK for a 2xx and BENOTIFY: no transaction, forwarded along the route set.
    fn forward_stateless(&mut self, now: Now, req: Message, from: &P) {
        let call_id = call_id_of(&req);
        // The ACK of a final response this server made itself (a 407, a 404…) whose branch
        // differs from its INVITE's, so the transaction did not absorb it (RFC 3261 §17.1.1.3
        // wants the same branch; some UACs, SIPp among them, use a new one). Its To tag is one
        // of ours: it ends here.
        if req.method() == Some(&Method::Ack)
            && req
                .to_view()
                .ok()
                .flatten()
                .and_then(|t| t.tag().map(local::is_own_tag))
                .unwrap_or(false)
        {
            return;
        }
        let mut fwd = req.clone();
        let mut popped = 0;
        while let Ok(Some(r)) = fwd.top_route_view() {
            if !self.is_me(&r.uri.into_owned()) {
                break;
            }
            let _ = fwd.remove_first_value(&HeaderName::Route);
            popped += 1;
        }
        let next = match fwd.top_route_view().ok().flatten() {
            Some(r) => r.uri.into_owned(),
            None => match fwd.uri() {
                Some(u) => u.clone(),
                None => return,
            },
        };
        let mut uri_change = None;
        let hop = if self.serves(&next) {
            // A GRUU or AOR of ours as the remote target: the one binding it names.
            let binding = self.registrar.lookup_gruu(now.wall(), &next).or_else(|| {
                Aor::from_uri(&next)
                    .and_then(|a| self.registrar.lookup(now.wall(), &a).into_iter().next())
            });
            // Forwarded statelessly, so only a contact reachable without DNS.
            binding
                .and_then(|b| self.hop_for(&b))
                .and_then(|(hop, uri, routes)| match hop {
                    Next::Hop(hop) => {
                        uri_change = Some((uri, routes));
                        Some(hop)
                    }
                    Next::Resolve(_) => None,
                })
        } else if popped > 0 {
            next.as_sip().and_then(|s| self.locator.locate(s))
        } else {
            None
        };
        let Some(hop) = hop else {
            self.note(now, call_id, || {
                format!(
                    "{} from {} not forwarded: no route to {next}",
                    req.method().map(Method::as_str).unwrap_or("?"),
                    from.remote()
                )
            });
            return;
        };
        if let Some((uri, routes)) = uri_change {
            fwd.set_uri(uri);
            for r in routes.iter().rev() {
                fwd.prepend(HeaderName::Route, r);
            }
        }
        let mf = req
            .max_forwards()
            .ok()
            .flatten()
            .map_or(70, |n| n.saturating_sub(1));
        if mf == 0 && req.max_forwards().ok().flatten() == Some(0) {
            return;
        }
        fwd.set(HeaderName::MaxForwards, mf);
        // §16.11: a stateless branch is a function of the request, so a retransmitted ACK
        // gets the same branch.
        let mut h = Fnv::new();
        h.eat(
            req.top_via()
                .ok()
                .flatten()
                .and_then(|v| v.branch().map(str::to_owned))
                .unwrap_or_default()
                .as_bytes(),
        );
        h.eat(call_id.as_bytes());
        let sent_by = self.locator.sent_by(&hop);
        fwd.prepend(
            HeaderName::Via,
            format!(
                "SIP/2.0/{} {sent_by};branch=z9hG4bKcvs{:016x}",
                hop.via_transport(),
                h.finish()
            ),
        );
        self.stats.stateless += 1;
        self.note(now, call_id, || {
            format!(
                "{} forwarded to {}",
                req.method().map(Method::as_str).unwrap_or("?"),
                hop.remote()
            )
        });
        self.layer.send_stateless(fwd, hop);
    }

    // --- who is who ----------------------------------------------------------------------------

    fn serves_domain(&self, domain: &str) -> bool {
        self.cfg
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Whether `uri` is a `sip:`/`sips:` URI in a served domain.
    fn serves(&self, uri: &Uri) -> bool {
        match uri.as_sip().map(|s| &s.host) {
            Some(Host::Domain(d)) => self.serves_domain(d),
            _ => false,
        }
    }

    /// `sip:example.test` with no user: the domain itself, i.e. this server.
    fn is_served_domain_itself(&self, uri: &Uri) -> bool {
        uri.as_sip().is_some_and(|s| s.user.is_none()) && self.serves(uri)
    }

    /// Whether `uri` names this server: its FQDN or one of its listening addresses (a
    /// port-less address means the default port of the scheme, RFC 3261 §19.1.2).
    fn is_me(&self, uri: &Uri) -> bool {
        uri.as_sip().is_some_and(|s| s.user.is_none()) && self.is_my_host(uri)
    }

    /// Whether the host part of `uri` is this server, whatever the user part (keep-alive
    /// pingers send `OPTIONS sip:ping@<server address>`).
    fn is_my_host(&self, uri: &Uri) -> bool {
        let Some(s) = uri.as_sip() else { return false };
        match &s.host {
            Host::Domain(d) => d.eq_ignore_ascii_case(&self.cfg.fqdn),
            Host::V4(a) => self.listens_on(IpAddr::V4(*a), s),
            Host::V6(a) => self.listens_on(IpAddr::V6(*a), s),
        }
    }

    /// Whether the host of `uri` is an IP address this server listens on (any port).
    fn is_my_ip(&self, uri: &Uri) -> bool {
        let ip = match uri.as_sip().map(|s| &s.host) {
            Some(Host::V4(a)) => IpAddr::V4(*a),
            Some(Host::V6(a)) => IpAddr::V6(*a),
            _ => return false,
        };
        self.cfg.listen.iter().any(|a| a.ip() == ip)
    }

    fn listens_on(&self, ip: IpAddr, s: &SipUri) -> bool {
        let tls = s.secure || s.transport().is_some_and(|t| t.eq_ignore_ascii_case("tls"));
        let port = s.port.unwrap_or(if tls { 5061 } else { 5060 });
        self.cfg
            .listen
            .iter()
            .any(|a| a.port() == port && (a.ip() == ip || a.ip().is_unspecified()))
    }

    /// RFC 3261 §16.3 step 4: the request carries one of our Vias with the loop hash it has now.
    fn looped(&self, req: &Message) -> bool {
        let Ok(vias) = req.via_views() else {
            return false;
        };
        let mine: Vec<_> = vias
            .iter()
            .filter(|v| {
                let ip = match v.host {
                    HostRef::V4(a) => IpAddr::V4(a),
                    HostRef::V6(a) => IpAddr::V6(a),
                    HostRef::Domain(d) => return d.eq_ignore_ascii_case(&self.cfg.fqdn),
                };
                let port = v.port.unwrap_or(5060);
                self.cfg
                    .listen
                    .iter()
                    .any(|a| a.port() == port && (a.ip() == ip || a.ip().is_unspecified()))
            })
            .collect();
        if mine.is_empty() {
            return false;
        }
        let prefix = format!("z9hG4bKcv{:016x}.", loop_hash(req));
        mine.iter()
            .any(|v| v.branch().is_some_and(|b| b.starts_with(&prefix)))
    }
}

/// RFC 3261 §16.6 step 8: a hash over what a loop leaves unchanged (Request-URI, From and To
/// tags, Call-ID, CSeq, Route, Proxy-Require); a spiral changes the Request-URI.
fn loop_hash(req: &Message) -> u64 {
    let mut h = Fnv::new();
    h.eat(
        req.uri()
            .map(ToString::to_string)
            .unwrap_or_default()
            .as_bytes(),
    );
    for name in [
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Route,
        HeaderName::ProxyRequire,
    ] {
        for v in req.headers_named(&name) {
            h.eat(v.value());
        }
    }
    for na in [req.from_view(), req.to_view()] {
        h.eat(
            na.ok()
                .flatten()
                .and_then(|n| n.tag())
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    h.finish()
}

/// How the branches of a request are tried (RFC 3261 §16.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Search {
    /// All targets at once (forking to every registered endpoint).
    Parallel,
    /// One after another (trunks in failover order).
    Sequential,
}

/// A telephone number as Request-URI: `tel:` (RFC 3966) or `sip:…;user=phone` (RFC 3261
/// §19.1.1).
fn is_phone(uri: &Uri) -> bool {
    match uri {
        Uri::Tel(_) => true,
        Uri::Sip(s) => s.is_user_phone(),
        Uri::Other(_) => false,
    }
}

fn rr_value(sent_by: &str, transport: &str) -> String {
    format!(
        "<sip:{sent_by};transport={};lr>",
        transport.to_ascii_lowercase()
    )
}

/// The Call-ID as received (checked by validation: RFC 3261 §25.1 `callid` is ASCII), for the
/// trace; read from the header line without parsing it again.
fn call_id_of(req: &Message) -> &str {
    req.header(&HeaderName::CallId)
        .and_then(|h| std::str::from_utf8(h.value()).ok())
        .unwrap_or_default()
}

fn host_of(uri: &Uri) -> String {
    match uri.as_sip() {
        Some(s) => s.host.to_string(),
        None => uri.to_string(),
    }
}

fn bad_header(name: &str) -> diag::Diagnostic {
    codes::MALFORMED_HEADER.diagnostic().param("header", name)
}

fn unroutable(uri: &Uri) -> diag::Diagnostic {
    codes::CANNOT_ROUTE_TO_DESTINATION_DOMAIN
        .diagnostic()
        .param("destination", host_of(uri))
}
