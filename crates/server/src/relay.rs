//! The media relay role (RFC 8656 TURN and [MS-TURN]) and the shared port that tells SIP over
//! TLS, HTTPS and MS-TURN pseudo-TLS apart (field article 004): SIP connections found there go
//! to the SIP transports, HTTP to the web service (a placeholder until it exists), TURN to
//! the relay.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use net::{Net, Proto};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};
use turn_proto::classify::Protocol;
use turn_proto::message::IntegrityKey;
use turn_proto::server::{IpRange, ServerConfig, Stats};
use turn_relay::{Handoff, Listeners, Mux, MuxStream};

/// How the relay runs: the `[relay]` section of the topology (the demo's: UDP/TCP 3478 and
/// the shared port on TCP 4443 of 127.0.0.1, user `turnuser` in realm `example.test`, and
/// ephemeral credentials from the shared secret in the data directory), with the command
/// line's listen addresses in place of the section's when given.
pub type RelaySettings = topology::RelayPlan;

/// Settings for a relay the command line asks for (`--relay-listen`) when the topology has
/// no `[relay]` section: relayed addresses are the listen addresses' IPs, the realm is the
/// first SIP domain, only ephemeral credentials are accepted, and loopback and private
/// peers are denied (RFC 8656 §21.2.2).
pub fn command_line_only(
    realm: &str,
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
    shared: Option<SocketAddr>,
) -> RelaySettings {
    let ips = || [udp, tcp, shared].into_iter().flatten().map(|a| a.ip());
    RelaySettings {
        udp,
        tcp,
        shared,
        relayed_ipv4: ips().find_map(|ip| match ip {
            IpAddr::V4(a) if !a.is_unspecified() => Some(a),
            _ => None,
        }),
        relayed_ipv6: ips().find_map(|ip| match ip {
            IpAddr::V6(a) if !a.is_unspecified() => Some(a),
            _ => None,
        }),
        ports: topology::relay::DEFAULT_MIN_PORT..=topology::relay::DEFAULT_MAX_PORT,
        max_allocations: topology::relay::DEFAULT_MAX_ALLOCATIONS,
        max_allocations_per_user: topology::relay::DEFAULT_MAX_ALLOCATIONS_PER_USER,
        denied_peers: IpRange::loopback_and_private(),
        realm: realm.to_owned(),
        ephemeral_credentials: true,
        users: Vec::new(),
    }
}

/// A relay listener that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("relay {what} {addr}: {source}")]
pub struct RelayStartError {
    /// Which listener.
    pub what: &'static str,
    /// The address.
    pub addr: SocketAddr,
    /// The OS error.
    pub source: std::io::Error,
}

/// The running relay: where it listens and how to stop it.
#[derive(Debug)]
pub struct RelayHandle {
    /// Bound addresses: ("turn-udp" | "turn-tcp" | "mux", address).
    pub local: Vec<(&'static str, SocketAddr)>,
    stop: watch::Sender<bool>,
    /// The relay core's counters, published about once a second.
    pub stats: watch::Receiver<Stats>,
}

impl RelayHandle {
    /// Stops the relay.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// The shared secret for REST ephemeral credentials (coturn's `static-auth-secret`), made on
/// first start in the data directory (mode 0600) so `convene ctl turn credentials` can mint
/// credentials for it.
pub fn shared_secret(data_dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = data_dir.join("turn-secret");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if !s.is_empty() {
            return Ok(s.as_bytes().to_vec());
        }
    }
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes)?;
    let secret: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
    std::fs::write(&path, format!("{secret}\n"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(secret.into_bytes())
}

/// Fills `buf` from the OS random number generator (through the TLS library's provider).
/// Secrets are never made from anything weaker: a failing RNG is an error.
pub fn fill_random(buf: &mut [u8]) -> std::io::Result<()> {
    rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(buf)
        .map_err(|_| std::io::Error::other("the operating system's random number generator failed"))
}

/// Starts the relay. SIP connections found on the shared port are handed to `sip`.
pub async fn start(
    settings: &RelaySettings,
    data_dir: &Path,
    tls: Arc<rustls::ServerConfig>,
    sip: Net,
) -> Result<RelayHandle, RelayStartError> {
    let err = |what, addr| move |source| RelayStartError { what, addr, source };
    let mut local = Vec::new();
    let mut listeners = Listeners::default();
    if let Some(a) = settings.udp {
        let s = UdpSocket::bind(a).await.map_err(err("UDP", a))?;
        local.push(("turn-udp", s.local_addr().map_err(err("UDP", a))?));
        listeners.udp = Some(s);
    }
    if let Some(a) = settings.tcp {
        let l = TcpListener::bind(a).await.map_err(err("TCP", a))?;
        local.push(("turn-tcp", l.local_addr().map_err(err("TCP", a))?));
        listeners.tcp = Some(l);
    }
    let (handoff_tx, handoff_rx) = mpsc::channel(64);
    if let Some(a) = settings.shared {
        let l = TcpListener::bind(a).await.map_err(err("shared port", a))?;
        let bound = l.local_addr().map_err(err("shared port", a))?;
        local.push(("mux", bound));
        listeners.mux = Some(Mux {
            listener: l,
            handoff: handoff_tx,
            tls: Some(tls),
        });
        tokio::spawn(handoffs(handoff_rx, sip, bound));
    }
    let mut secret = [0u8; 32];
    fill_random(&mut secret).map_err(err(
        "nonce secret",
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
    ))?;
    let mut cfg = ServerConfig::new(&settings.realm, secret);
    cfg.software = Some(format!("Convene/{}", env!("CARGO_PKG_VERSION")));
    for (u, key) in &settings.users {
        cfg.credentials
            .add_user_key(u, IntegrityKey::from_bytes(key.as_slice()));
    }
    if settings.ephemeral_credentials {
        let shared = shared_secret(data_dir).map_err(err(
            "secret file",
            SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        ))?;
        cfg.credentials.set_auth_secret(&shared);
    }
    cfg.relay_ipv4 = settings.relayed_ipv4;
    cfg.relay_ipv6 = settings.relayed_ipv6;
    cfg.relay_ports = settings.ports.clone();
    cfg.max_allocations = settings.max_allocations;
    cfg.max_allocations_per_user = settings.max_allocations_per_user;
    cfg.denied_peers = settings.denied_peers.clone();
    let (stop, stop_rx) = watch::channel(false);
    let (stats_tx, stats) = watch::channel(Stats::default());
    for (what, addr) in &local {
        info!(what, %addr, "relay listening");
    }
    tokio::spawn(async move {
        match turn_relay::run_with_metrics(listeners, cfg, stop_rx, stats_tx).await {
            Ok(stats) => info!(?stats, "relay stopped"),
            Err(e) => warn!(error = %e, "relay failed"),
        }
    });
    Ok(RelayHandle { local, stop, stats })
}

/// What the shared port found that is not TURN: SIP goes to the SIP transports (the TLS is
/// already terminated, so it is a TLS connection to them), HTTP to the web placeholder.
async fn handoffs(mut rx: mpsc::Receiver<Handoff>, sip: Net, local: SocketAddr) {
    while let Some(h) = rx.recv().await {
        let Handoff {
            protocol,
            stream,
            prefix,
            client,
        } = h;
        match (protocol, stream) {
            (Protocol::Sip, MuxStream::Tls(s)) => {
                if let Err(e) = sip.adopt(*s, prefix, Proto::Tls, client, local) {
                    debug!(%client, error = %e, "SIP connection from the shared port refused");
                }
            }
            (Protocol::Sip, MuxStream::Plain(s)) => {
                if let Err(e) = sip.adopt(s, prefix, Proto::Tcp, client, local) {
                    debug!(%client, error = %e, "SIP connection from the shared port refused");
                }
            }
            (Protocol::Http, MuxStream::Tls(mut s)) => {
                let _ = s.write_all(WEB_PLACEHOLDER).await;
                let _ = s.shutdown().await;
            }
            (Protocol::Http, MuxStream::Plain(mut s)) => {
                let _ = s.write_all(WEB_PLACEHOLDER).await;
                let _ = s.shutdown().await;
            }
            (other, _) => debug!(%client, ?other, "shared port: no service for this protocol"),
        }
    }
}

/// The answer of the web service placeholder.
pub const WEB_PLACEHOLDER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 61\r\nConnection: close\r\nServer: Convene\r\n\r\nConvene: the web services on this port are not running yet.\r\n";
