//! SIP transports (RFC 3261 §18): UDP, TCP, TLS and mutual TLS over rustls, IPv4 and IPv6.
//!
//! The layer is deliberately thin: it moves bytes. Datagrams and stream frames (cut by
//! [`sip_msg::StreamFramer`]) go up as [`NetEvent::Received`] with where they came from and,
//! for mutual TLS, the verified identity of the peer; parsing and answering them is the job
//! of the layers above. What it owns:
//! - connection reuse: a response goes back on the connection its request came on
//!   (`Target::conn`), and a request to a peer reuses an open connection to that address;
//! - CRLF keep-alives (RFC 5626 §3.5.1): pings are answered with a pong here;
//! - limits: a cap on connections, a per-connection frame size limit, an idle timeout, and a
//!   deadline for a partial message to complete (a slowloris peer is dropped);
//! - backpressure: the event channel is bounded; stream readers wait on it, UDP drops (and
//!   counts) what the layers above cannot take.
//!
//! A peer that sends garbage on a stream is disconnected without disturbing the others.

mod conn;
pub mod tls;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, info, warn};

pub use tls::PeerIdentity;

/// The transport protocols this layer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// UDP datagrams.
    Udp,
    /// TCP streams.
    Tcp,
    /// TLS over TCP (RFC 3261 §26.2).
    Tls,
}

impl Proto {
    /// The Via transport token.
    pub fn via_token(self) -> &'static str {
        match self {
            Proto::Udp => "UDP",
            Proto::Tcp => "TCP",
            Proto::Tls => "TLS",
        }
    }

    /// Whether the transport is reliable (RFC 3261 §17 timers).
    pub fn is_reliable(self) -> bool {
        self != Proto::Udp
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Identifies one TCP or TLS connection for its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{:x}", self.0)
    }
}

/// A datagram or stream frame that arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// The bytes of one SIP message (not parsed yet).
    pub data: Bytes,
    /// How it arrived.
    pub proto: Proto,
    /// The peer's address (RFC 3261 §18.2.1 `received`, RFC 3581 `rport`).
    pub remote: SocketAddr,
    /// Our address it arrived on.
    pub local: SocketAddr,
    /// The connection, for TCP and TLS.
    pub conn: Option<ConnId>,
    /// The peer's verified certificate identity, for TLS connections whose peer presented one.
    pub peer: Option<Arc<PeerIdentity>>,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer closed it.
    PeerClosed,
    /// Nothing arrived within the idle timeout.
    Idle,
    /// A partial message did not complete within the message deadline (slowloris).
    MessageTimeout,
    /// The stream could not be framed (garbage, oversized, ambiguous Content-Length).
    Framing(String),
    /// The TLS handshake failed; the text says why (e.g. a certificate without the Client Authentication EKU).
    Handshake(String),
    /// A read or write failed.
    Io(String),
}

/// What the transport layer reports upward.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// A message arrived.
    Received(Received),
    /// A connection ended.
    Closed {
        /// The connection.
        conn: ConnId,
        /// The peer.
        remote: SocketAddr,
        /// Why.
        reason: CloseReason,
    },
    /// A message handed to [`Net::submit`] could not be sent after all (its connection could
    /// not be made); `tag` is the one given with it.
    SendFailed {
        /// The caller's tag.
        tag: u64,
        /// Why.
        error: Arc<SendError>,
    },
}

/// Where to send a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The transport.
    pub proto: Proto,
    /// The peer's address.
    pub addr: SocketAddr,
    /// A connection to use if still open (responses go back on the request's connection, RFC 3261 §18.2.2).
    pub conn: Option<ConnId>,
    /// The TLS server name to verify and send as SNI when a new TLS connection is needed.
    pub server_name: Option<String>,
}

impl Target {
    /// A target on a transport at an address.
    pub fn new(proto: Proto, addr: SocketAddr) -> Target {
        Target {
            proto,
            addr,
            conn: None,
            server_name: None,
        }
    }

    /// The target a response to `r` goes to: the same connection, or the datagram's source.
    pub fn reply_to(r: &Received) -> Target {
        Target {
            proto: r.proto,
            addr: r.remote,
            conn: r.conn,
            server_name: None,
        }
    }
}

/// Limits that keep one peer from taking more than its share.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most TCP+TLS connections open at once; more are accepted and closed at once (counted).
    pub max_connections: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// A message that started arriving must be complete within this time.
    pub message_timeout: Duration,
    /// The largest message accepted on a stream (also bounds per-connection buffering).
    pub max_message: usize,
    /// Messages queued for sending on one connection before senders wait.
    pub send_queue: usize,
    /// TLS handshakes must finish within this time.
    pub handshake_timeout: Duration,
    /// Events buffered toward the layers above.
    pub event_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            idle_timeout: Duration::from_secs(300),
            message_timeout: Duration::from_secs(32),
            max_message: sip_msg::framing::DEFAULT_MAX_MESSAGE,
            send_queue: 256,
            handshake_timeout: Duration::from_secs(10),
            event_queue: 4096,
        }
    }
}

/// What to listen on and how.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// UDP addresses.
    pub udp: Vec<SocketAddr>,
    /// TCP addresses.
    pub tcp: Vec<SocketAddr>,
    /// TLS addresses (need `tls_server`).
    pub tls: Vec<SocketAddr>,
    /// The TLS server configuration (certificates per SNI, client certificate verification).
    pub tls_server: Option<Arc<rustls::ServerConfig>>,
    /// The TLS client configuration for connections this server opens (roots, client certificate).
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
    /// Limits.
    pub limits: Limits,
}

/// Counters, for metrics and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Datagrams received.
    pub datagrams_in: AtomicU64,
    /// Stream frames (messages) received.
    pub frames_in: AtomicU64,
    /// Keep-alive pings answered.
    pub pings: AtomicU64,
    /// Connections closed for a framing error.
    pub framing_errors: AtomicU64,
    /// Connections refused by the connection cap.
    pub refused: AtomicU64,
    /// Datagrams dropped because the layers above were not keeping up.
    pub dropped: AtomicU64,
    /// Connections closed on a timeout (idle or message deadline).
    pub timeouts: AtomicU64,
    /// TLS handshakes that failed.
    pub handshake_failures: AtomicU64,
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No socket of this kind is configured (e.g. no IPv6 UDP socket, or no TLS client config).
    #[error("no {0} transport configured for this address family")]
    NoTransport(Proto),
    /// Connecting failed.
    #[error("cannot connect to {proto} {addr}: {reason}")]
    Connect {
        /// Transport.
        proto: Proto,
        /// Peer.
        addr: SocketAddr,
        /// What failed (including the TLS alert or certificate problem).
        reason: String,
    },
    /// The connection closed before the message was written.
    #[error("connection to {0} closed")]
    Closed(SocketAddr),
    /// The peer is not reading: its connection's send queue is full (or too many messages
    /// wait for the connection being made). Nothing waits on a slow peer.
    #[error("{0} is not reading: its send queue is full")]
    Congested(SocketAddr),
    /// A socket error.
    #[error("send to {addr} failed: {source}")]
    Io {
        /// Peer.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The TLS server name is not valid.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
}

struct ConnHandle {
    tx: mpsc::Sender<Bytes>,
    remote: SocketAddr,
    proto: Proto,
    /// The peer's verified certificate (TLS), checked before the connection carries a request
    /// meant for a name.
    peer: Option<Arc<PeerIdentity>>,
}

impl ConnHandle {
    /// Whether a request for TLS server `name` may go over this connection: only when the
    /// peer's verified certificate names it, as a new connection's handshake would require
    /// (RFC 5922 §4; RFC 5923 §5 asks the same before reusing a connection). Without a name
    /// (an address-only target) any connection to the address will do.
    fn serves(&self, name: Option<&str>) -> bool {
        match (self.proto, name) {
            (Proto::Tls, Some(name)) => self.peer.as_ref().is_some_and(|p| match name
                .parse::<std::net::IpAddr>(
            ) {
                Ok(ip) => p.ips.contains(&ip),
                Err(_) => p.names(name),
            }),
            _ => true,
        }
    }
}

/// A message waiting for its connection, with the caller's tag.
type Queued = (Bytes, Option<u64>);

/// Where a connection goes, with the TLS name it must be verified for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ConnKey {
    proto: Proto,
    addr: SocketAddr,
    name: Option<String>,
}

impl ConnKey {
    fn of(to: &Target) -> ConnKey {
        ConnKey {
            proto: to.proto,
            addr: to.addr,
            name: to.server_name.as_ref().map(|n| n.to_ascii_lowercase()),
        }
    }
}

#[derive(Default)]
struct ConnTable {
    by_id: HashMap<ConnId, ConnHandle>,
    by_remote: HashMap<(Proto, SocketAddr), ConnId>,
}

pub(crate) struct Shared {
    /// The UDP sockets with the address each is bound to (asked once: a `getsockname` per
    /// send cost 4 % of the CPU under REGISTER load).
    udp: Vec<(SocketAddr, Arc<UdpSocket>)>,
    conns: Mutex<ConnTable>,
    /// Messages waiting for a connection being made, by where it goes (with the TLS name).
    connecting: Mutex<HashMap<ConnKey, Vec<Queued>>>,
    next_id: AtomicU64,
    events: mpsc::Sender<NetEvent>,
    limits: Limits,
    tls_client: Option<Arc<rustls::ClientConfig>>,
    conn_slots: Arc<Semaphore>,
    stats: Stats,
    local: Vec<(Proto, SocketAddr)>,
}

/// The running transport layer. Cheap to clone; tasks stop when the process does.
#[derive(Clone)]
pub struct Net {
    shared: Arc<Shared>,
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("local", &self.shared.local)
            .finish()
    }
}

/// A listener that could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {proto} {addr}: {source}")]
pub struct BindError {
    /// Transport.
    pub proto: Proto,
    /// Address.
    pub addr: SocketAddr,
    /// The OS error (e.g. address in use, permission denied for ports below 1024).
    pub source: std::io::Error,
}

impl Net {
    /// Binds every configured address and starts the listeners. Returns the layer and the
    /// channel its events arrive on.
    pub async fn start(cfg: Config) -> Result<(Net, mpsc::Receiver<NetEvent>), BindError> {
        let (events, rx) = mpsc::channel(cfg.limits.event_queue);
        let mut udp = Vec::new();
        let mut local = Vec::new();
        for addr in &cfg.udp {
            let sock = UdpSocket::bind(addr).await.map_err(|source| BindError {
                proto: Proto::Udp,
                addr: *addr,
                source,
            })?;
            let bound = sock.local_addr().map_err(|source| BindError {
                proto: Proto::Udp,
                addr: *addr,
                source,
            })?;
            local.push((Proto::Udp, bound));
            udp.push((bound, Arc::new(sock)));
        }
        let mut tcp = Vec::new();
        for (proto, addrs) in [(Proto::Tcp, &cfg.tcp), (Proto::Tls, &cfg.tls)] {
            for addr in addrs {
                let l = TcpListener::bind(addr).await.map_err(|source| BindError {
                    proto,
                    addr: *addr,
                    source,
                })?;
                let bound = l.local_addr().map_err(|source| BindError {
                    proto,
                    addr: *addr,
                    source,
                })?;
                local.push((proto, bound));
                tcp.push((proto, l));
            }
        }
        let shared = Arc::new(Shared {
            udp: udp.clone(),
            conns: Mutex::new(ConnTable::default()),
            connecting: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            events,
            conn_slots: Arc::new(Semaphore::new(cfg.limits.max_connections)),
            limits: cfg.limits.clone(),
            tls_client: cfg.tls_client.clone(),
            stats: Stats::default(),
            local,
        });
        for (bound, sock) in udp {
            tokio::spawn(udp_loop(shared.clone(), sock, bound));
        }
        for (proto, l) in tcp {
            let acceptor = match proto {
                Proto::Tls => match &cfg.tls_server {
                    Some(sc) => Some(tokio_rustls::TlsAcceptor::from(sc.clone())),
                    None => {
                        return Err(BindError {
                            proto,
                            addr: l
                                .local_addr()
                                .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
                            source: std::io::Error::other(
                                "TLS listener configured without a TLS server configuration (certificate)",
                            ),
                        });
                    }
                },
                _ => None,
            };
            tokio::spawn(accept_loop(shared.clone(), l, proto, acceptor));
        }
        for (proto, addr) in &shared.local {
            info!(%proto, %addr, "listening");
        }
        Ok((Net { shared }, rx))
    }

    /// The addresses actually bound (useful with port 0).
    pub fn local_addrs(&self) -> &[(Proto, SocketAddr)] {
        &self.shared.local
    }

    /// The first bound address of a transport.
    pub fn local_addr(&self, proto: Proto) -> Option<SocketAddr> {
        self.shared
            .local
            .iter()
            .find(|(p, _)| *p == proto)
            .map(|(_, a)| *a)
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.conns.lock().map(|t| t.by_id.len()).unwrap_or(0)
    }

    /// Sends one message. UDP goes out of a listening socket of the right address family
    /// (so the peer sees our port: RFC 3261 §18.1.1); TCP/TLS reuse the given or an open
    /// connection to the peer, or open one.
    pub async fn send(&self, to: &Target, data: Bytes) -> Result<(), SendError> {
        match to.proto {
            Proto::Udp => {
                let sock = self
                    .shared
                    .udp
                    .iter()
                    .find(|(a, _)| a.is_ipv4() == to.addr.is_ipv4())
                    .map(|(_, s)| s)
                    .ok_or(SendError::NoTransport(Proto::Udp))?;
                sock.send_to(&data, to.addr)
                    .await
                    .map_err(|source| SendError::Io {
                        addr: to.addr,
                        source,
                    })?;
                Ok(())
            }
            Proto::Tcp | Proto::Tls => {
                let tx = match self.find_conn(to) {
                    Some(tx) => tx,
                    None => self.connect(to).await?,
                };
                tx.send(data).await.map_err(|_| SendError::Closed(to.addr))
            }
        }
    }

    /// Sends without ever waiting on a peer (the caller may be the one task serving every
    /// peer): UDP at once; over an open connection into its bounded queue
    /// ([`SendError::Congested`] when full); otherwise the connection is made in the background
    /// with the message (and any others for the same peer meanwhile) queued behind it. A failure
    /// found later comes back as [`NetEvent::SendFailed`] with `tag`, when one was given.
    pub async fn submit(
        &self,
        to: &Target,
        data: Bytes,
        tag: Option<u64>,
    ) -> Result<(), SendError> {
        if to.proto == Proto::Udp {
            return self.send(to, data).await;
        }
        let key = ConnKey::of(to);
        {
            let Ok(mut waiting) = self.shared.connecting.lock() else {
                return Err(SendError::Closed(to.addr));
            };
            if let Some(queue) = waiting.get_mut(&key) {
                // Behind a connection being made: keep the order.
                if queue.len() >= self.shared.limits.send_queue {
                    return Err(SendError::Congested(to.addr));
                }
                queue.push((data, tag));
                return Ok(());
            }
            if let Some(tx) = self.find_conn(to) {
                return tx.try_send(data).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(_) => SendError::Congested(to.addr),
                    mpsc::error::TrySendError::Closed(_) => SendError::Closed(to.addr),
                });
            }
            waiting.insert(key.clone(), vec![(data, tag)]);
        }
        let net = self.clone();
        let to = to.clone();
        tokio::spawn(async move {
            let made = net.connect(&to).await;
            let queued = net
                .shared
                .connecting
                .lock()
                .ok()
                .and_then(|mut w| w.remove(&key))
                .unwrap_or_default();
            let error = match made {
                Ok(tx) => {
                    let mut failed = Vec::new();
                    for (data, tag) in queued {
                        if tx.try_send(data).is_err() {
                            failed.extend(tag);
                        }
                    }
                    let e = Arc::new(SendError::Congested(to.addr));
                    for tag in failed {
                        let ev = NetEvent::SendFailed {
                            tag,
                            error: e.clone(),
                        };
                        let _ = net.shared.events.send(ev).await;
                    }
                    return;
                }
                Err(e) => Arc::new(e),
            };
            debug!(to = %to.addr, error = %error, "connection not made");
            for tag in queued.into_iter().filter_map(|(_, t)| t) {
                let ev = NetEvent::SendFailed {
                    tag,
                    error: error.clone(),
                };
                let _ = net.shared.events.send(ev).await;
            }
        });
        Ok(())
    }

    /// Takes over a stream another listener accepted (the shared 443 port hands SIP
    /// connections over this way), with the bytes it already read from it. The stream is then
    /// a connection like any other: framed, answered, reused, limited.
    pub fn adopt<S>(
        &self,
        stream: S,
        prefix: Vec<u8>,
        proto: Proto,
        remote: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), SendError>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let slot = self
            .shared
            .conn_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| {
                self.shared.stats.refused.fetch_add(1, Ordering::Relaxed);
                SendError::Connect {
                    proto,
                    addr: remote,
                    reason: "connection limit reached".into(),
                }
            })?;
        conn::spawn(
            self.shared.clone(),
            stream,
            proto,
            remote,
            local,
            None,
            slot,
            prefix,
        );
        Ok(())
    }

    /// RFC 5923 §5: the peer of `conn` asked (Via `alias`) that requests to `addr`, the
    /// sent-by of its Via, reuse this connection. Honoured only when `addr` has the
    /// connection's own remote IP, so a peer cannot capture traffic meant for another host.
    pub fn alias(&self, conn: ConnId, addr: SocketAddr) -> bool {
        let Ok(mut t) = self.shared.conns.lock() else {
            return false;
        };
        let Some(h) = t.by_id.get(&conn) else {
            return false;
        };
        if h.remote.ip() != addr.ip() {
            return false;
        }
        let proto = h.proto;
        t.by_remote.insert((proto, addr), conn);
        true
    }

    fn find_conn(&self, to: &Target) -> Option<mpsc::Sender<Bytes>> {
        let t = self.shared.conns.lock().ok()?;
        if let Some(h) = to.conn.and_then(|c| t.by_id.get(&c)) {
            return Some(h.tx.clone());
        }
        let id = t.by_remote.get(&(to.proto, to.addr))?;
        t.by_id
            .get(id)
            .filter(|h| h.serves(to.server_name.as_deref()))
            .map(|h| h.tx.clone())
    }

    async fn connect(&self, to: &Target) -> Result<mpsc::Sender<Bytes>, SendError> {
        let err = |reason: String| SendError::Connect {
            proto: to.proto,
            addr: to.addr,
            reason,
        };
        let slot = self
            .shared
            .conn_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| err("connection limit reached".into()))?;
        let tcp = tokio::time::timeout(
            self.shared.limits.handshake_timeout,
            TcpStream::connect(to.addr),
        )
        .await
        .map_err(|_| err("timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr().map_err(|e| err(e.to_string()))?;
        match to.proto {
            Proto::Tls => {
                let cfg = self
                    .shared
                    .tls_client
                    .clone()
                    .ok_or(SendError::NoTransport(Proto::Tls))?;
                let name = to
                    .server_name
                    .clone()
                    .unwrap_or_else(|| to.addr.ip().to_string());
                let sn = rustls_pki_types::ServerName::try_from(name.clone())
                    .map_err(|_| SendError::ServerName(name))?;
                let stream = tokio::time::timeout(
                    self.shared.limits.handshake_timeout,
                    tokio_rustls::TlsConnector::from(cfg).connect(sn, tcp),
                )
                .await
                .map_err(|_| err("TLS handshake timed out".into()))?
                .map_err(|e| err(tls::explain_handshake_error(&e)))?;
                let peer = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(PeerIdentity::from_chain)
                    .map(Arc::new);
                let tls = tokio_rustls::TlsStream::Client(stream);
                Ok(conn::spawn(
                    self.shared.clone(),
                    tls,
                    Proto::Tls,
                    to.addr,
                    local,
                    peer,
                    slot,
                    Vec::new(),
                ))
            }
            _ => Ok(conn::spawn(
                self.shared.clone(),
                tcp,
                Proto::Tcp,
                to.addr,
                local,
                None,
                slot,
                Vec::new(),
            )),
        }
    }
}

impl Shared {
    pub(crate) fn register(
        &self,
        proto: Proto,
        remote: SocketAddr,
        tx: mpsc::Sender<Bytes>,
        peer: Option<Arc<PeerIdentity>>,
    ) -> ConnId {
        let id = ConnId(self.next_id.fetch_add(1, Ordering::Relaxed));
        if let Ok(mut t) = self.conns.lock() {
            t.by_id.insert(
                id,
                ConnHandle {
                    tx,
                    remote,
                    proto,
                    peer,
                },
            );
            t.by_remote.insert((proto, remote), id);
        }
        id
    }

    pub(crate) fn unregister(&self, id: ConnId) {
        if let Ok(mut t) = self.conns.lock() {
            t.by_id.remove(&id);
            // The connection's own address and any RFC 5923 aliases of it.
            t.by_remote.retain(|_, c| *c != id);
        }
    }
}

async fn udp_loop(shared: Arc<Shared>, sock: Arc<UdpSocket>, local: SocketAddr) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let (n, remote) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP errors surface here on some systems; they do not end the listener.
                debug!(%local, error = %e, "udp receive error");
                continue;
            }
        };
        shared.stats.datagrams_in.fetch_add(1, Ordering::Relaxed);
        let data = &buf[..n];
        // CRLF keep-alives on UDP carry nothing to answer (RFC 5626 §4.4.1 uses STUN there).
        if data.iter().all(|&b| b == b'\r' || b == b'\n') {
            continue;
        }
        let ev = NetEvent::Received(Received {
            data: Bytes::copy_from_slice(data),
            proto: Proto::Udp,
            remote,
            local,
            conn: None,
            peer: None,
        });
        if shared.events.try_send(ev).is_err() {
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    l: TcpListener,
    proto: Proto,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (tcp, remote) = match l.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!(%proto, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = shared.conn_slots.clone().try_acquire_owned() else {
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            debug!(%remote, "connection refused: limit reached");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let local = match tcp.local_addr() {
            Ok(a) => a,
            Err(_) => continue,
        };
        let shared = shared.clone();
        match &tls {
            None => {
                conn::spawn(
                    shared,
                    tcp,
                    Proto::Tcp,
                    remote,
                    local,
                    None,
                    slot,
                    Vec::new(),
                );
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(
                        shared.limits.handshake_timeout,
                        acceptor.accept(tcp),
                    )
                    .await
                    {
                        Ok(Ok(stream)) => {
                            let peer = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(PeerIdentity::from_chain)
                                .map(Arc::new);
                            let tls = tokio_rustls::TlsStream::Server(stream);
                            conn::spawn(
                                shared,
                                tls,
                                Proto::Tls,
                                remote,
                                local,
                                peer,
                                slot,
                                Vec::new(),
                            );
                        }
                        Ok(Err(e)) => {
                            shared
                                .stats
                                .handshake_failures
                                .fetch_add(1, Ordering::Relaxed);
                            let why = tls::explain_handshake_error(&e);
                            warn!(%remote, reason = %why, "TLS handshake failed");
                            let _ = shared
                                .events
                                .send(NetEvent::Closed {
                                    conn: ConnId(0),
                                    remote,
                                    reason: CloseReason::Handshake(why),
                                })
                                .await;
                        }
                        Err(_) => {
                            shared
                                .stats
                                .handshake_failures
                                .fetch_add(1, Ordering::Relaxed);
                            debug!(%remote, "TLS handshake timed out");
                        }
                    }
                });
            }
        }
    }
}
