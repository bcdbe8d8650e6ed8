//! Convene's server: reads its configuration, makes development certificates on first start,
//! starts the transports and answers what arrives. Later roles (registrar, proxy, edge,
//! relay) plug in here; the protocol logic stays in the pure crates.

pub mod admin;
pub mod devcert;
pub mod front;
pub mod live;
pub mod prometheus;
pub mod relay;
pub mod responder;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use net::{Config as NetConfig, Net, NetEvent, Proto, Target};
use tracing::{debug, info, warn};

pub use responder::{Outcome, Responder};

/// The topology the server runs (read and validated by the `topology` crate, which owns
/// topology.toml) and the part of it this process serves.
#[derive(Debug, Clone)]
pub struct Topology {
    /// What this process serves.
    pub deployment: Deployment,
    /// The whole validated topology (pools, trusted applications, static routes, users…).
    pub model: topology::Topology,
    /// The compiled `[voice]` section, when the topology has one.
    pub voice: Option<std::sync::Arc<voice::Engine>>,
    /// The file's text and name, to validate run-time additions against.
    pub source: (String, String),
}

/// What one all-in-one process serves: its pool and the SIP domains.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The FQDN of the pool this process runs (the first pool with the front-end role).
    pub fqdn: String,
    /// SIP domains served.
    pub domains: Vec<String>,
}

/// The demo topology shipped with Convene (`topology/demo.toml`).
pub const DEMO_TOPOLOGY: &str = topology::DEMO;

/// The identity the trust decision ([`topology::decide`]) reads, from the identity the TLS
/// layer took out of a verified peer certificate.
pub fn cert_identity(peer: &net::PeerIdentity) -> topology::CertIdentity {
    topology::CertIdentity {
        common_name: peer.common_name.clone(),
        dns_names: peer.dns_names.clone(),
        server_auth: peer.server_auth,
        client_auth: peer.client_auth,
    }
}

/// A start-up problem, naming the file or address and the fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The topology file could not be read.
    #[error("{path}: {source}")]
    TopologyRead {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The topology file is not valid: every problem, one per line as file:line:column.
    #[error("invalid topology (check it with `convene ctl topology check FILE`):\n{0}")]
    Topology(#[from] topology::Errors),
    /// The topology has no pool this process can run.
    #[error(
        "{0}: no pool has the front-end role; add roles = [\"front-end\"] to the pool this server runs"
    )]
    NoFrontEnd(String),
    /// The data directory could not be made.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Certificates.
    #[error(transparent)]
    Cert(#[from] devcert::CertError),
    /// TLS configuration.
    #[error("TLS: {0}")]
    Tls(#[from] net::tls::TlsConfigError),
    /// A listener.
    #[error("{0} (another server on that port? use --listen to pick another address)")]
    Bind(#[from] net::BindError),
    /// A relay listener.
    #[error(
        "{0} (another server on that port? use --relay-listen to pick another address, or --no-relay)"
    )]
    Relay(#[from] relay::RelayStartError),
    /// The store.
    #[error("{0}")]
    Store(#[from] store::StoreError),
    /// The store's secret.
    #[error("{0}")]
    Secret(String),
    /// The topology additions kept in the store.
    #[error("{0}")]
    StoredTopology(String),
    /// The `[voice]` section.
    #[error("{0}")]
    Voice(String),
    /// The front end's configuration.
    #[error("front end: {0}")]
    FrontEnd(#[from] frontend::ConfigError),
    /// The admin API.
    #[error("admin API on {addr}: {source} (use --admin-listen to pick another address)")]
    Admin {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Topology {
    /// Parses and validates a topology file's text; errors give file:line:column.
    pub fn parse(text: &str, path: &str) -> Result<Topology, StartError> {
        let model = topology::Topology::parse(text, path)?;
        let fqdn = model
            .local_pool()
            .map(|p| p.fqdn.get_ref().to_ascii_lowercase())
            .ok_or_else(|| StartError::NoFrontEnd(path.to_owned()))?;
        // The topology check above already ran the `[voice]` loader; a topology without the
        // section routes no telephone numbers.
        let voice = match voice::Engine::from_topology_str(text, path) {
            Ok(e) => Some(std::sync::Arc::new(e)),
            Err(voice::ConfigError::MissingVoice { .. }) => None,
            Err(e) => return Err(StartError::Voice(e.to_string())),
        };
        Ok(Topology {
            deployment: Deployment {
                fqdn,
                domains: model.domains(),
            },
            model,
            voice,
            source: (text.to_owned(), path.to_owned()),
        })
    }

    /// Reads a topology file, or the demo topology when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Topology, StartError> {
        match path {
            None => Topology::parse(DEMO_TOPOLOGY, "topology/demo.toml (built in)"),
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).map_err(|source| StartError::TopologyRead {
                        path: p.to_owned(),
                        source,
                    })?;
                Topology::parse(&text, &p.display().to_string())
            }
        }
    }
}

/// How to run the server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The data directory (certificates, later the store).
    pub data_dir: PathBuf,
    /// The topology.
    pub topology: Topology,
    /// Listening addresses.
    pub listen: Vec<(Proto, SocketAddr)>,
    /// The media relay and shared port; `None` runs no relay.
    pub relay: Option<relay::RelaySettings>,
    /// Digest algorithms offered, most preferred first (RFC 8760 §2.4); empty: SHA-256, MD5.
    pub digest_algorithms: Vec<sip_auth::Algorithm>,
    /// The admin API's address (loopback; port 0 picks a free one, written to admin.json).
    pub admin_listen: SocketAddr,
    /// How next hops named by host name are resolved (RFC 3263); `None`: not at all (only
    /// IP addresses and `maddr` reach anything).
    pub dns: Option<sip_dns::LocatorConfig>,
}

/// The default listeners: UDP and TCP 5060, TLS 5061, on 127.0.0.1 (RFC 3261 §19.1.2).
pub fn default_listen() -> Vec<(Proto, SocketAddr)> {
    let lo = std::net::Ipv4Addr::LOCALHOST;
    vec![
        (Proto::Udp, SocketAddr::from((lo, 5060))),
        (Proto::Tcp, SocketAddr::from((lo, 5060))),
        (Proto::Tls, SocketAddr::from((lo, 5061))),
    ]
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    /// The transports (bound addresses, counters).
    pub net: Net,
    /// The dev PKI, when the server made or reused one.
    pub pki: devcert::DevPki,
    /// The relay, when it runs.
    pub relay: Option<relay::RelayHandle>,
    task: tokio::task::JoinHandle<()>,
    admin: tokio::task::JoinHandle<()>,
    /// Where the admin API listens.
    pub admin_addr: SocketAddr,
    admin_path: PathBuf,
    commands: tokio::sync::mpsc::Sender<admin::Command>,
}

impl Running {
    /// Stops the server after writing the bindings changed since the last write-behind.
    pub async fn shutdown(self) {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let cmd = admin::Command {
            request: admin::Request::Flush,
            reply,
        };
        if self.commands.send(cmd).await.is_ok() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), rx).await;
        }
        self.stop();
    }

    /// Stops the server at once (bindings changed in the last write-behind interval are lost).
    pub fn stop(self) {
        if let Some(r) = &self.relay {
            r.stop();
        }
        self.admin.abort();
        self.task.abort();
        let _ = std::fs::remove_file(&self.admin_path);
    }
}

/// Starts the server: certificates, listeners, and the task answering requests.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartError::DataDir {
        path: settings.data_dir.clone(),
        source,
    })?;
    let fqdn = settings.topology.deployment.fqdn.clone();
    let (pki, made) = devcert::DevPki::ensure(&settings.data_dir, &fqdn)?;
    if made {
        info!(ca = %pki.ca_cert.display(), "made development certificates (trust this CA file in test clients)");
    }
    let (chain, key, ca) = pki.load()?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|e| net::tls::TlsConfigError::Verifier(e.to_string()))?;
    let tls_server = net::tls::server_config(chain.clone(), key.clone_key(), Some(roots.clone()))?;
    let tls_mux = net::tls::server_config(chain.clone(), key.clone_key(), None)?;
    let tls_client = net::tls::client_config(roots, Some((chain, key)))?;
    let pick = |p: Proto| {
        settings
            .listen
            .iter()
            .filter(|(q, _)| *q == p)
            .map(|(_, a)| *a)
            .collect::<Vec<_>>()
    };
    let cfg = NetConfig {
        udp: pick(Proto::Udp),
        tcp: pick(Proto::Tcp),
        tls: pick(Proto::Tls),
        tls_server: Some(tls_server),
        tls_client: Some(tls_client),
        limits: net::Limits::default(),
    };
    let (net, events) = Net::start(cfg).await?;
    let fe = front_end(&settings, &net)?;
    let (commands, command_rx) = tokio::sync::mpsc::channel(16);
    let admin_path = settings.data_dir.join(admin::ENDPOINT_FILE);
    // The relay starts before the admin API, whose /metrics reads the relay's counters.
    let relay = match &settings.relay {
        Some(r) => Some(relay::start(r, &settings.data_dir, tls_mux, net.clone()).await?),
        None => None,
    };
    let (admin_task, admin_addr) = match admin::serve(
        &settings.data_dir,
        settings.admin_listen,
        commands.clone(),
        relay.as_ref().map(|r| r.stats.clone()),
    )
    .await
    {
        Ok(a) => a,
        Err(source) => {
            if let Some(r) = &relay {
                r.stop();
            }
            return Err(StartError::Admin {
                addr: settings.admin_listen,
                source,
            });
        }
    };
    let task = tokio::spawn(core_loop(
        net.clone(),
        events,
        Responder::new(&fqdn),
        fe,
        command_rx,
    ));
    Ok(Running {
        net,
        pki,
        relay,
        task,
        admin: admin_task,
        admin_addr,
        admin_path,
        commands,
    })
}

/// Where a transaction's messages go: the transport, the peer, and the connection and local
/// address the request came on (responses go back the same way: RFC 3261 §18.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    /// Transport.
    pub proto: Proto,
    /// The peer.
    pub remote: SocketAddr,
    /// Our address.
    pub local: SocketAddr,
    /// The connection, for TCP/TLS.
    pub conn: Option<net::ConnId>,
    /// What the peer's verified certificate makes it (mutual TLS), decided once per connection.
    pub trust: Option<std::sync::Arc<frontend::PeerTrust>>,
    /// The name a new TLS connection verifies in the peer's certificate and sends as SNI
    /// (the URI host when `maddr` gave the address); `None`: the address itself.
    pub server_name: Option<String>,
}

impl sip_txn::Peer for Hop {
    fn is_reliable(&self) -> bool {
        self.proto.is_reliable()
    }
}

impl Hop {
    fn target(&self) -> Target {
        Target {
            proto: self.proto,
            addr: self.remote,
            conn: self.conn,
            server_name: self.server_name.clone(),
        }
    }
}

/// The front end as the server runs it.
pub type Core = frontend::FrontEnd<Hop, front::NetLocator>;
/// The store, shared with the write-behind flushes.
pub type SharedStore = std::sync::Arc<std::sync::Mutex<store::RedbStore>>;

struct Built {
    core: Core,
    resolver: Option<std::sync::Arc<sip_dns::Locator>>,
    store: SharedStore,
    realm: String,
    model: std::sync::Arc<topology::Topology>,
    additions: live::Additions,
    source: (String, String),
    tls_ports: Vec<u16>,
}

/// Opens the store, reads users and bindings, and builds the front end.
fn front_end(settings: &Settings, net: &Net) -> Result<Built, StartError> {
    use store::Store as _;
    let mut st = store::RedbStore::open(&settings.data_dir)?;
    let secret = st
        .secret("frontend.secret", 32, relay::fill_random)
        .map_err(|e| StartError::Secret(e.to_string()))?;
    let users = st.load_users()?;
    for bad in &users.skipped {
        warn!(%bad, "skipped a damaged user record");
    }
    let bindings = st.load_bindings()?;
    for bad in &bindings.skipped {
        warn!(%bad, "skipped a damaged binding record");
    }
    // Run-time additions (`convene ctl static-route add` …) follow the file.
    let additions: live::Additions = match st.get_meta(live::META_KEY)? {
        Some(b) => serde_json::from_slice(&b).map_err(|e| {
            StartError::StoredTopology(format!(
                "{}: the run-time topology additions are unreadable ({e}); remove them with `convene ctl static-route remove`/… or start with a fresh data directory",
                st.location()
            ))
        })?,
        None => live::Additions::default(),
    };
    let with_additions;
    let t = if additions.is_empty() {
        &settings.topology
    } else {
        let (text, path) = &settings.topology.source;
        with_additions = Topology::parse(
            &additions.apply_to(text),
            &format!("{path} + run-time additions in {}", st.location()),
        )?;
        &with_additions
    };
    let directory = front::directory(&t.model, &users.items);
    let listeners = net.local_addrs();
    let mut cfg = frontend::FrontEndConfig::new(&t.deployment.fqdn, &t.deployment.domains, &secret);
    cfg.listen = listeners.iter().map(|(_, a)| *a).collect();
    cfg.static_routes = t.model.static_routes.clone();
    cfg.registrar.service_route.clear();
    let realm = cfg.digest.realm.clone();
    if !settings.digest_algorithms.is_empty() {
        cfg.digest.algorithms = settings.digest_algorithms.clone();
    }
    // Nonces of an earlier run are stale: its nonce-count record is gone (RFC 7616 §5.5).
    cfg.digest.not_before = now().wall_ms / 1000;
    cfg.digest.counter_seed = {
        let mut b = [0u8; 8];
        let _ = relay::fill_random(&mut b);
        u64::from_le_bytes(b)
    };
    let resolver = match &settings.dns {
        Some(c) => match sip_dns::Locator::new(c) {
            Ok(r) => Some(std::sync::Arc::new(r)),
            Err(e) => {
                warn!(error = %e, "no DNS resolution: next hops given by host name cannot be reached");
                None
            }
        },
        None => None,
    };
    let locator = front::NetLocator::new(listeners.to_vec(), resolver.is_some());
    let mut core = frontend::FrontEnd::new(cfg, directory, locator)?;
    if let Some(v) = &t.voice {
        core.set_voice(v.clone());
    }
    let n = bindings.items.len();
    let dropped = core.restore(now(), bindings.items);
    info!(
        users = core.users().len(),
        bindings = n - dropped.min(n),
        expired = dropped,
        store = %st.location(),
        "front end ready"
    );
    Ok(Built {
        core,
        resolver,
        store: std::sync::Arc::new(std::sync::Mutex::new(st)),
        realm,
        model: std::sync::Arc::new(t.model.clone()),
        additions,
        source: settings.topology.source.clone(),
        tls_ports: listeners
            .iter()
            .filter(|(p, _)| *p == Proto::Tls)
            .map(|(_, a)| a.port())
            .collect(),
    })
}

/// The two clocks the front end reads.
fn now() -> frontend::Now {
    let wall_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    frontend::Now {
        mono: std::time::Instant::now(),
        wall_ms,
    }
}

/// How often changed bindings are written (a `kill -9` loses at most this much).
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The server's one task: transport events in, the front end (transaction layer, registrar,
/// proxy) in the middle, transmissions out; changed bindings written behind; admin requests
/// answered between messages.
async fn core_loop(
    net: Net,
    mut events: tokio::sync::mpsc::Receiver<NetEvent>,
    responder: Responder,
    built: Built,
    mut commands: tokio::sync::mpsc::Receiver<admin::Command>,
) {
    let Built {
        core: mut fe,
        resolver,
        store,
        realm,
        mut model,
        mut additions,
        source,
        tls_ports,
    } = built;
    let mut trust_of: std::collections::HashMap<
        net::ConnId,
        Option<std::sync::Arc<frontend::PeerTrust>>,
    > = std::collections::HashMap::new();
    // Resolutions run as their own tasks and come back here (RFC 3263; the core stays pure).
    let (resolved_tx, mut resolved_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let wake = fe.poll_timeout();
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { return };
                match ev {
                    NetEvent::Received(r) => {
                        let trust = match (r.conn, &r.peer) {
                            (Some(conn), Some(peer)) => trust_of
                                .entry(conn)
                                .or_insert_with(|| {
                                    let t = front::peer_trust(&model, peer, r.local.port());
                                    if let Some(t) = &t {
                                        info!(%conn, remote = %r.remote, trust = ?t, "mutual TLS peer");
                                    }
                                    t.map(std::sync::Arc::new)
                                })
                                .clone(),
                            _ => None,
                        };
                        let hop = Hop { proto: r.proto, remote: r.remote, local: r.local, conn: r.conn, trust, server_name: None };
                        match responder.accept(r.data.clone(), r.remote) {
                            Ok(msg) => {
                                if let Some(conn) = r.conn {
                                    honour_alias(&net, conn, r.proto, &msg);
                                }
                                fe.handle_message(now(), msg, hop);
                            }
                            Err(Outcome::Reply(bytes)) => {
                                if let Err(e) = net.submit(&Target::reply_to(&r), bytes, None).await {
                                    warn!(remote = %r.remote, error = %e, "cannot send 400");
                                }
                            }
                            Err(Outcome::Drop(why)) => debug!(remote = %r.remote, why, "dropped"),
                        }
                    }
                    NetEvent::Closed { conn, remote, reason } => {
                        debug!(%conn, %remote, ?reason, "connection closed");
                        trust_of.remove(&conn);
                        if let net::CloseReason::Handshake(why) = &reason {
                            fe.record(now(), &format!("tls:{}", remote.ip()), format!("TLS handshake from {remote} failed: {why}"));
                        }
                        fe.flow_closed(now(), registrar::FlowId(conn.0));
                    }
                    NetEvent::SendFailed { tag, error } => {
                        warn!(error = %error, "send failed");
                        fe.handle_transport_error(now(), sip_txn::TxnId(tag), transport_error(&error));
                    }
                }
            }
            () = sleep_until(wake) => fe.handle_timeout(now()),
            Some((id, result)) = resolved_rx.recv() => fe.handle_resolved(now(), id, result),
            _ = flush.tick() => {
                let batch = fe.take_dirty(now());
                if !batch.is_empty() {
                    let store = store.clone();
                    let n = batch.len();
                    let res = tokio::task::spawn_blocking(move || {
                        use store::Store as _;
                        store.lock().map_err(|_| "store lock poisoned".to_owned())
                            .and_then(|mut s| s.flush(batch).map_err(|e| e.to_string()))
                    }).await;
                    match res {
                        Ok(Ok(())) => debug!(aors = n, "bindings written"),
                        Ok(Err(e)) => warn!(error = %e, "cannot write bindings"),
                        Err(e) => warn!(error = %e, "binding writer failed"),
                    }
                }
            }
            cmd = commands.recv() => {
                if let Some(cmd) = cmd {
                    let answer = match cmd.request {
                        admin::Request::Topology(change) => {
                            let mut ctx = TopologyCtx {
                                fe: &mut fe,
                                store: &store,
                                model: &mut model,
                                additions: &mut additions,
                                source: &source,
                                tls_ports: &tls_ports,
                            };
                            let answer = ctx.apply(change);
                            // Trust is decided again for every connection on its next message.
                            trust_of.clear();
                            answer
                        }
                        other => admin_command(&mut fe, &store, &realm, other),
                    };
                    let _ = cmd.reply.send(answer);
                }
            }
        }
        while let Some(r) = fe.poll_resolve() {
            resolve(
                resolver.clone(),
                fe.locator().clone(),
                r,
                resolved_tx.clone(),
            );
        }
        // Nothing here waits on a peer: a connection being made or a peer not reading never
        // holds up the others (failures come back as NetEvent::SendFailed).
        while let Some(t) = fe.poll_transmit() {
            let tag = t.txn.map(|x| x.0);
            if let Err(e) = net.submit(&t.to.target(), t.message.to_bytes(), tag).await {
                warn!(remote = %t.to.remote, error = %e, "send failed");
                if let Some(txn) = t.txn {
                    fe.handle_transport_error(now(), txn, transport_error(&e));
                }
            }
        }
    }
}

/// What a failed send means to the transaction that made it (RFC 3261 §17.1.4, §18.4).
fn transport_error(e: &net::SendError) -> sip_txn::TransportError {
    match e {
        net::SendError::Connect { .. }
        | net::SendError::NoTransport(_)
        | net::SendError::ServerName(_) => sip_txn::TransportError::Connect(e.to_string()),
        net::SendError::Closed(_) | net::SendError::Congested(_) => {
            sip_txn::TransportError::Closed(e.to_string())
        }
        net::SendError::Io { .. } => sip_txn::TransportError::Datagram(e.to_string()),
    }
}

/// Resolves one next hop on its own task and sends the answer to the core loop.
fn resolve(
    resolver: Option<std::sync::Arc<sip_dns::Locator>>,
    locator: front::NetLocator,
    r: frontend::ResolveRequest,
    to: tokio::sync::mpsc::UnboundedSender<(frontend::ResolveId, frontend::Resolved<Hop>)>,
) {
    let Some(resolver) = resolver else {
        let d = diag::codes::TEMPORARILY_CANNOT_ROUTE.diagnostic();
        let _ = to.send((
            r.id,
            frontend::Resolved::Failed {
                diagnostic: d,
                detail: "no DNS resolver runs".into(),
            },
        ));
        return;
    };
    tokio::spawn(async move {
        let result = match resolver.locate(&r.uri).await {
            Ok(res) => {
                let hops = locator.hops(&r.uri, &res.targets);
                if hops.is_empty() {
                    frontend::Resolved::Failed {
                        diagnostic: diag::codes::TEMPORARILY_CANNOT_ROUTE.diagnostic(),
                        detail: format!(
                            "DNS gave {} but this server has no listener for their transports (queried {})",
                            res.targets
                                .iter()
                                .map(ToString::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                            res.queried
                        ),
                    }
                } else {
                    frontend::Resolved::Targets {
                        hops,
                        detail: format!("queried {}", res.queried),
                    }
                }
            }
            Err(e) => {
                debug!(uri = %r.uri, error = %e, "next hop not resolved");
                frontend::Resolved::Failed {
                    diagnostic: e.diagnostic(),
                    detail: e.to_string(),
                }
            }
        };
        let _ = to.send((r.id, result));
    });
}

fn parse_aor(text: &str) -> Result<registrar::Aor, String> {
    sip_msg::Uri::parse(text)
        .ok()
        .and_then(|u| registrar::Aor::from_uri(&u))
        .ok_or_else(|| format!("{text:?} is not an address of record; write sip:user@domain"))
}

fn admin_command(
    fe: &mut Core,
    store: &SharedStore,
    realm: &str,
    request: admin::Request,
) -> admin::Response {
    use admin::{Request, Response};
    use store::Store as _;
    let ok = |lines: Vec<String>| Response::Ok { lines };
    let err = |error: String| Response::Error { error };
    match request {
        Request::Trace { call_id } => match fe.trace(&call_id) {
            Some(lines) => ok(lines
                .into_iter()
                .map(|l| format!("{} {}", format_ms(l.at_ms), l.text))
                .collect()),
            None => err(format!(
                "no trace for Call-ID {call_id:?} (the ring keeps the latest calls only; `convene ctl trace --list` shows them)"
            )),
        },
        Request::Calls => ok(fe.traced_calls()),
        Request::Stats => {
            let f = fe.stats();
            let t = fe.txn_stats();
            ok(vec![
                format!("requests {}", f.requests),
                format!("registrations {}", f.registrations),
                format!("bindings {}", fe.registrar().len()),
                format!("challenges {}", f.challenges),
                format!("auth_failures {}", f.auth_failures),
                format!("throttled {}", f.throttled),
                format!("branches {}", f.branches),
                format!("stateless_forwards {}", f.stateless),
                format!("rejections {}", f.rejections),
                format!("server_transactions {}", t.server_transactions),
                format!("client_transactions {}", t.client_transactions),
                format!("retransmissions {}", t.retransmissions),
                format!("absorbed_retransmissions {}", t.absorbed),
                format!("timeouts {}", t.timeouts),
                format!("transport_errors {}", t.transport_errors),
                format!("dropped {}", t.dropped),
            ])
        }
        Request::Users => {
            let mut lines: Vec<String> = fe
                .users()
                .iter()
                .map(|u| format!("{} (username {}, realm {})", u.aor, u.username, u.realm))
                .collect();
            lines.sort();
            ok(lines)
        }
        Request::Topology(_) => err("a topology change reached the wrong handler".into()),
        Request::Flush => {
            let batch = fe.take_dirty(now());
            let n = batch.len();
            match store
                .lock()
                .map_err(|_| "store lock poisoned".to_owned())
                .and_then(|mut s| s.flush(batch).map_err(|e| e.to_string()))
            {
                Ok(()) => ok(vec![format!("{n} address(es) of record written")]),
                Err(e) => err(e),
            }
        }
        Request::Bindings { aor } => match parse_aor(&aor) {
            Ok(a) => {
                let n = now();
                ok(fe
                    .registrar()
                    .lookup(registrar::Time(n.wall_ms), &a)
                    .into_iter()
                    .map(|b| {
                        format!(
                            "{} expires in {} s{}",
                            b.contact,
                            b.remaining(registrar::Time(n.wall_ms)),
                            b.instance
                                .map(|i| format!(" instance {i}"))
                                .unwrap_or_default()
                        )
                    })
                    .collect())
            }
            Err(e) => err(e),
        },
        Request::SetUser {
            aor,
            password,
            must_exist,
        } => {
            let a = match parse_aor(&aor) {
                Ok(a) => a,
                Err(e) => return err(e),
            };
            let exists = fe.users().contains(&a);
            match must_exist {
                Some(true) if !exists => {
                    return err(format!("no user {a}; add it with `convene ctl user add`"));
                }
                Some(false) if exists => {
                    return err(format!(
                        "user {a} exists; change its password with `convene ctl user set-password`"
                    ));
                }
                _ => {}
            }
            if password.is_empty() {
                return err("the password is empty".into());
            }
            let rec = front::record_for_password(&a, realm, &password);
            let saved = store
                .lock()
                .map_err(|_| "store lock poisoned".to_owned())
                .and_then(|mut s| s.put_user(&rec).map_err(|e| e.to_string()));
            if let Err(e) = saved {
                return err(e);
            }
            if let Some(user) = front::user_from_record(&rec) {
                fe.users_mut().insert(user);
            }
            ok(vec![format!(
                "{} {a} (realm {realm}; MD5 and SHA-256 HA1 stored)",
                if exists { "password set for" } else { "added" }
            )])
        }
        Request::RemoveUser { aor } => {
            let a = match parse_aor(&aor) {
                Ok(a) => a,
                Err(e) => return err(e),
            };
            let removed = store
                .lock()
                .map_err(|_| "store lock poisoned".to_owned())
                .and_then(|mut s| s.remove_user(&a.to_string()).map_err(|e| e.to_string()));
            match removed {
                Ok(true) => {
                    fe.users_mut().remove(&a);
                    ok(vec![format!("removed {a}")])
                }
                Ok(false) => err(format!(
                    "{a} is not a user added with `convene ctl user` (users of the topology file are changed there)"
                )),
                Err(e) => err(e),
            }
        }
    }
}

/// What a topology change needs from the core loop.
struct TopologyCtx<'a> {
    fe: &'a mut Core,
    store: &'a SharedStore,
    model: &'a mut std::sync::Arc<topology::Topology>,
    additions: &'a mut live::Additions,
    source: &'a (String, String),
    tls_ports: &'a [u16],
}

impl TopologyCtx<'_> {
    fn apply(&mut self, change: admin::TopologyChange) -> admin::Response {
        use admin::{Response, TopologyChange as C};
        let ok = |lines: Vec<String>| Response::Ok { lines };
        let err = |error: String| Response::Error { error };
        let mut next = self.additions.clone();
        let done = match change {
            C::ListStaticRoutes => {
                return ok(self
                    .model
                    .static_routes
                    .iter()
                    .map(|r| {
                        let added = next
                            .static_routes
                            .iter()
                            .any(|a| a.match_uri.eq_ignore_ascii_case(r.match_uri.get_ref()));
                        format!(
                            "{}{}",
                            r.describe(),
                            if added {
                                " (added at run time)"
                            } else {
                                " (topology file)"
                            }
                        )
                    })
                    .collect());
            }
            C::ListPools => {
                return ok(self
                    .model
                    .pools
                    .iter()
                    .filter(|p| p.has_role(topology::Role::TrustedApplication))
                    .map(|p| format!("{} (site {})", p.fqdn.get_ref(), p.site.get_ref()))
                    .collect());
            }
            C::ListApplications => {
                return ok(self
                    .model
                    .trusted_applications
                    .iter()
                    .map(|a| {
                        format!(
                            "{} on pool {} port {}",
                            a.id.get_ref(),
                            a.pool.get_ref(),
                            a.port.get_ref()
                        )
                    })
                    .collect());
            }
            C::AddStaticRoute(r) => {
                let line = format!(
                    "added static route {} -> {}:{}",
                    r.match_uri, r.next_hop, r.port
                );
                next.static_routes.push(r);
                line
            }
            C::RemoveStaticRoute { match_uri } => {
                let before = next.static_routes.len();
                next.static_routes
                    .retain(|r| !r.match_uri.eq_ignore_ascii_case(&match_uri));
                if next.static_routes.len() == before {
                    return err(format!(
                        "no static route for {match_uri} was added at run time (routes of the topology file are changed there)"
                    ));
                }
                format!("removed static route {match_uri}")
            }
            C::AddPool(p) => {
                let line = format!("added trusted application pool {}", p.fqdn);
                next.pools.push(p);
                line
            }
            C::AddApplication(a) => {
                if !self.tls_ports.contains(&a.port) {
                    return err(format!(
                        "the server has no TLS listener on port {}: start it with `--listen tls:IP:{}` (listeners cannot be added at run time)",
                        a.port, a.port
                    ));
                }
                let line = format!(
                    "added trusted application {} on pool {} port {}",
                    a.id, a.pool, a.port
                );
                next.applications.push(a);
                line
            }
        };
        let (text, path) = self.source;
        let model =
            match topology::Topology::parse(&next.apply_to(text), &format!("{path} + this change"))
            {
                Ok(m) => m,
                Err(e) => return err(format!("refused, the topology would be invalid:\n{e}")),
            };
        let saved = serde_json::to_vec(&next)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                use store::Store as _;
                self.store
                    .lock()
                    .map_err(|_| "store lock poisoned".to_owned())
                    .and_then(|mut s| {
                        s.put_meta(live::META_KEY, &bytes)
                            .map_err(|e| e.to_string())
                    })
            });
        if let Err(e) = saved {
            return err(e);
        }
        self.fe.set_static_routes(model.static_routes.clone());
        *self.model = std::sync::Arc::new(model);
        *self.additions = next;
        info!(change = %done, "topology changed at run time");
        ok(vec![done, "in effect now; kept in the store".into()])
    }
}

/// `HH:MM:SS.mmm` UTC of a wall-clock time.
fn format_ms(ms: u64) -> String {
    let s = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// RFC 5923 §5: a request whose top Via carries `alias` asks that requests to its sent-by
/// reuse the connection it came on (the transport checks that the sent-by is the peer's IP).
fn honour_alias(net: &Net, conn: net::ConnId, proto: Proto, msg: &sip_msg::Message) {
    if !msg.is_request() {
        return;
    }
    let Ok(Some(via)) = msg.top_via() else { return };
    if !via
        .params
        .iter()
        .any(|p| p.name.eq_ignore_ascii_case("alias"))
    {
        return;
    }
    let ip = match &via.host {
        sip_msg::Host::V4(a) => std::net::IpAddr::V4(*a),
        sip_msg::Host::V6(a) => std::net::IpAddr::V6(*a),
        sip_msg::Host::Domain(_) => return,
    };
    let port = via
        .port
        .unwrap_or(if proto == Proto::Tls { 5061 } else { 5060 });
    if net.alias(conn, SocketAddr::new(ip, port)) {
        debug!(%conn, sent_by = %SocketAddr::new(ip, port), "RFC 5923 alias");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_topology_gives_the_all_in_one_deployment() {
        let t = Topology::load(None).unwrap();
        assert_eq!(t.deployment.fqdn, "fe.example.test");
        assert_eq!(t.deployment.domains, ["example.test"]);
        assert_eq!(t.model.users.len(), 3);
    }

    #[test]
    fn invalid_topology_lists_every_problem() {
        let e = Topology::parse("[[pool]]\nfqdn = 1\n[[site]]\nname = 2\n", "x.toml").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("x.toml:2:8: pool[0].fqdn: invalid type"),
            "{text}"
        );
        assert!(
            text.contains("x.toml:4:8: site[0].name: invalid type"),
            "{text}"
        );
    }

    #[test]
    fn peer_identity_converts_for_the_trust_decision() {
        let peer = net::PeerIdentity {
            common_name: Some("fe.example.test".into()),
            dns_names: vec!["fe.example.test".into()],
            uris: Vec::new(),
            ips: Vec::new(),
            server_auth: true,
            client_auth: false,
            chain_len: 2,
            not_after: 0,
        };
        let t = Topology::load(None).unwrap();
        let d = topology::decide(&t.model, &cert_identity(&peer), 5061);
        assert!(
            d.reason().contains("lacks Client Authentication EKU"),
            "{}",
            d.reason()
        );
    }
}
