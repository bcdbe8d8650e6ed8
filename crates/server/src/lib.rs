//! Convene's server: reads its configuration, makes development certificates on first start,
//! starts the transports and answers what arrives. Later roles (registrar, proxy, edge,
//! relay) plug in here; the protocol logic stays in the pure crates.

pub mod devcert;
pub mod relay;
pub mod responder;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use net::{Config as NetConfig, Net, NetEvent, Proto, Target};
use serde::Deserialize;
use tracing::{debug, info, warn};

pub use responder::{Outcome, Responder};

/// The topology as far as the server reads it today: the `[deployment]` table. Other tables
/// (`[voice]`, `[edge]`, …) belong to their crates and are ignored here.
#[derive(Debug, Clone, Deserialize)]
pub struct Topology {
    /// This deployment.
    pub deployment: Deployment,
}

/// One all-in-one deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// The server's FQDN.
    pub fqdn: String,
    /// SIP domains served.
    pub domains: Vec<String>,
}

/// The demo topology shipped with Convene (`topology/demo.toml`).
pub const DEMO_TOPOLOGY: &str = include_str!("../../../topology/demo.toml");

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
    /// The topology file is not valid.
    #[error("{path}:{line}:{column}: {message}")]
    Topology {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
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
}

impl Topology {
    /// Parses a topology file's text; errors give file:line:column.
    pub fn parse(text: &str, path: &str) -> Result<Topology, StartError> {
        toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
            StartError::Topology {
                path: path.to_owned(),
                line,
                column,
                message: e.message().to_owned(),
            }
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

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
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
}

impl Running {
    /// Stops the server.
    pub fn stop(self) {
        if let Some(r) = &self.relay {
            r.stop();
        }
        self.task.abort();
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
    let responder = Responder::new(&fqdn);
    let task = tokio::spawn(core_loop(net.clone(), events, responder));
    let relay = match &settings.relay {
        Some(r) => Some(relay::start(r, &settings.data_dir, tls_mux, net.clone()).await?),
        None => None,
    };
    Ok(Running {
        net,
        pki,
        relay,
        task,
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
            server_name: None,
        }
    }
}

/// The server's one task: transport events in, the transaction layer (RFC 3261 §17) in the
/// middle, the responder as transaction user, transmissions out.
async fn core_loop(
    net: Net,
    mut events: tokio::sync::mpsc::Receiver<NetEvent>,
    responder: Responder,
) {
    use sip_txn::{Event, TimerConfig, TransactionLayer};
    let mut layer: TransactionLayer<Hop> = TransactionLayer::new(TimerConfig::default());
    loop {
        let wake = layer.poll_timeout();
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { return };
                let now = std::time::Instant::now();
                match ev {
                    NetEvent::Received(r) => {
                        let hop = Hop { proto: r.proto, remote: r.remote, local: r.local, conn: r.conn };
                        match responder.accept(r.data.clone(), r.remote) {
                            Ok(msg) => {
                                if let Some(conn) = r.conn {
                                    honour_alias(&net, conn, r.proto, &msg);
                                }
                                if let Err(e) = layer.handle_message(now, msg, hop) {
                                    debug!(remote = %r.remote, error = %e, "not taken by the transaction layer");
                                }
                            }
                            Err(Outcome::Reply(bytes)) => {
                                if let Err(e) = net.send(&Target::reply_to(&r), bytes).await {
                                    warn!(remote = %r.remote, error = %e, "cannot send 400");
                                }
                            }
                            Err(Outcome::Drop(why)) => debug!(remote = %r.remote, why, "dropped"),
                        }
                    }
                    NetEvent::Closed { conn, remote, reason } => debug!(%conn, %remote, ?reason, "connection closed"),
                }
            }
            () = sleep_until(wake) => layer.handle_timeout(std::time::Instant::now()),
        }
        let now = std::time::Instant::now();
        while let Some(ev) = layer.poll_event() {
            let answer = match ev {
                Event::Request { txn, request, from } => responder
                    .respond(&request, from.proto, from.remote, from.local)
                    .map(|resp| (txn, resp)),
                // RFC 3261 §9.2: the INVITE is answered at once here, so nothing is left to cancel.
                Event::Cancel {
                    txn, request, from, ..
                } => Some((txn, responder.status(&request, 481, from.remote))),
                // RFC 3261 §8.2.2.2: a request that merged with one in progress gets 482.
                Event::MergedRequest {
                    txn, request, from, ..
                } => Some((txn, responder.status(&request, 482, from.remote))),
                other => {
                    debug!(event = ?other, "transaction event");
                    None
                }
            };
            if let Some((txn, resp)) = answer
                && let Err(e) = layer.send_response(now, txn, resp)
            {
                warn!(%txn, error = %e, "cannot answer");
            }
        }
        while let Some(t) = layer.poll_transmit() {
            if let Err(e) = net.send(&t.to.target(), t.message.to_bytes()).await {
                warn!(remote = %t.to.remote, error = %e, "send failed");
                if let Some(txn) = t.txn {
                    let err = match e {
                        net::SendError::Connect { .. }
                        | net::SendError::NoTransport(_)
                        | net::SendError::ServerName(_) => {
                            sip_txn::TransportError::Connect(e.to_string())
                        }
                        net::SendError::Closed(_) => sip_txn::TransportError::Closed(e.to_string()),
                        net::SendError::Io { .. } => {
                            sip_txn::TransportError::Datagram(e.to_string())
                        }
                    };
                    layer.handle_transport_error(now, txn, err);
                }
            }
        }
    }
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
