//! Convene's server: reads its configuration, makes development certificates on first start,
//! starts the transports and answers what arrives. Later roles (registrar, proxy, edge,
//! relay) plug in here; the protocol logic stays in the pure crates.

pub mod devcert;
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
}

impl Topology {
    /// Parses and validates a topology file's text; errors give file:line:column.
    pub fn parse(text: &str, path: &str) -> Result<Topology, StartError> {
        let model = topology::Topology::parse(text, path)?;
        let fqdn = model
            .local_pool()
            .map(|p| p.fqdn.get_ref().to_ascii_lowercase())
            .ok_or_else(|| StartError::NoFrontEnd(path.to_owned()))?;
        Ok(Topology {
            deployment: Deployment {
                fqdn,
                domains: model.domains(),
            },
            model,
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
