//! Convene's server: reads its configuration, makes development certificates on first start,
//! starts the transports and answers what arrives. Later roles (registrar, proxy, edge,
//! relay) plug in here; the protocol logic stays in the pure crates.

pub mod devcert;
pub mod responder;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops the server.
    pub fn stop(self) {
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
    let (net, mut events) = Net::start(cfg).await?;
    let responder = Arc::new(Responder::new(&fqdn));
    let sender = net.clone();
    let task = tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                NetEvent::Received(r) => {
                    match responder.handle(r.data.clone(), r.proto, r.remote, r.local) {
                        Outcome::Reply(bytes) => {
                            if let Err(e) = sender.send(&Target::reply_to(&r), bytes).await {
                                warn!(remote = %r.remote, error = %e, "cannot send response");
                            }
                        }
                        Outcome::Drop(why) => debug!(remote = %r.remote, why, "not answered"),
                    }
                }
                NetEvent::Closed {
                    conn,
                    remote,
                    reason,
                } => debug!(%conn, %remote, ?reason, "connection closed"),
            }
        }
    });
    Ok(Running { net, pki, task })
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
