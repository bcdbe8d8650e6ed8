//! The tokio driver of `turn_proto::server::Server`: it owns the sockets, the core owns the
//! decisions. One task runs the core. It reads the UDP listening socket itself and receives,
//! over one channel, what the other tasks read: relay sockets (one reader task each) and TCP
//! connections (one reader task each, frames split by `turn_proto::channel::StreamReader`).
//! It wakes at the core's deadline, and after each input binds/closes relay sockets, writes
//! what the core queued, and closes connections the core gave up on.
//!
//! Listeners: TURN over UDP, TURN over TCP (RFC 8656 framing, or MS-TURN framing when the
//! first bytes say so), and the shared 443 port, where `turn_proto::classify` keeps TURN,
//! MS-TURN and MS-TURN pseudo-TLS and hands TLS, SIP and HTTP connections to their services.
//! Relaying is UDP.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use turn_proto::channel::{Frame, Framing, StreamReader};
use turn_proto::classify::{
    MAX_PREFIX, PSEUDO_TLS_CLIENT_HELLO_LEN, Protocol, Verdict, classify, pseudo_tls_server_hello,
};
use turn_proto::server::{
    Event, FiveTuple, RelayBinder, RelayId, Server, ServerConfig, Stats, Transport, Via,
};

/// Why the relay stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// A listening socket failed.
    #[error("listening socket {addr}: {source}")]
    Listener {
        /// The listening address.
        addr: SocketAddr,
        /// The I/O error.
        source: io::Error,
    },
}

/// The sockets the relay listens on (at least one).
#[derive(Debug, Default)]
pub struct Listeners {
    /// TURN over UDP (RFC 8656 §3.1), e.g. UDP 3478.
    pub udp: Option<UdpSocket>,
    /// TURN over TCP (RFC 8656 §3.1), e.g. TCP 3478.
    pub tcp: Option<TcpListener>,
    /// The shared port (TCP 443); see [`Mux`].
    pub mux: Option<Mux>,
}

/// The shared port: TURN and MS-TURN (plain or pseudo-TLS) stay with the relay; with a TLS
/// config, TLS is terminated here and what is inside (SIP, HTTP, or TURN over TLS) is routed
/// the same way; SIP and HTTP go to the [`Handoff`] queue; anything else is closed.
#[derive(Debug)]
pub struct Mux {
    /// The listening socket.
    pub listener: TcpListener,
    /// Where SIP and HTTP connections (and TLS ones, without a TLS config) go.
    pub handoff: mpsc::Sender<Handoff>,
    /// The edge certificate and key; `None` hands TLS connections off undecrypted.
    pub tls: Option<Arc<ServerConfig443>>,
}

/// The TLS server configuration of the shared port (rustls).
pub type ServerConfig443 = tokio_rustls::rustls::ServerConfig;

/// A connection handed to another service.
#[derive(Debug)]
pub enum MuxStream {
    /// Plain TCP (plain SIP or HTTP, or TLS when the mux does not terminate it).
    Plain(TcpStream),
    /// TLS terminated by the mux; reads and writes are plaintext.
    Tls(Box<tokio_rustls::server::TlsStream<Prefixed<TcpStream>>>),
}

/// A connection on the shared port that belongs to another service, with the bytes already
/// read from it (plaintext for [`MuxStream::Tls`]).
#[derive(Debug)]
pub struct Handoff {
    /// What the (inner, for TLS) first bytes said.
    pub protocol: Protocol,
    /// The connection.
    pub stream: MuxStream,
    /// Bytes read while classifying; they come before anything read from `stream`.
    pub prefix: Vec<u8>,
    /// The client's address.
    pub client: SocketAddr,
}

/// A stream that first yields bytes already read from it (so a TLS handshake can start from
/// a ClientHello the classifier consumed).
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `prefix` is read before `inner`.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = &mut *self;
        let rest = this.prefix.get(this.pos..).unwrap_or_default();
        if !rest.is_empty() {
            let n = rest.len().min(buf.remaining());
            buf.put_slice(rest.get(..n).unwrap_or_default());
            this.pos += n;
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Binds relay sockets with the standard library (synchronously, so the core learns at once
/// whether the port is free) and keeps them until the driver adopts them.
#[derive(Debug, Default)]
pub struct StdBinder {
    next: u64,
    pending: Vec<(RelayId, std::net::UdpSocket)>,
}

impl RelayBinder for StdBinder {
    fn bind(&mut self, addr: SocketAddr) -> Option<RelayId> {
        let socket = std::net::UdpSocket::bind(addr).ok()?;
        socket.set_nonblocking(true).ok()?;
        self.next += 1;
        let id = RelayId(self.next);
        self.pending.push((id, socket));
        Some(id)
    }
}

/// What the reader tasks hand to the core task.
#[derive(Debug)]
enum Input {
    /// A datagram a relay socket received.
    Peer(RelayId, SocketAddr, Vec<u8>),
    /// A new TCP connection and the queue of its writer task.
    Accepted(FiveTuple, mpsc::Sender<Vec<u8>>, JoinHandle<()>),
    /// A STUN/ChannelData/MS-TURN control frame from a TCP client.
    Frame(FiveTuple, Vec<u8>),
    /// An MS-TURN 0x03 data frame from a TCP client.
    MsData(FiveTuple, Vec<u8>),
    /// A TCP connection ended (EOF, error or framing violation).
    Closed(FiveTuple),
}

/// A live relay socket and its reader task.
#[derive(Debug)]
struct RelaySocket {
    socket: Arc<UdpSocket>,
    reader: JoinHandle<()>,
}

/// A live TCP client connection.
#[derive(Debug)]
struct Connection {
    writer: mpsc::Sender<Vec<u8>>,
    reader: JoinHandle<()>,
}

/// Seconds since 1970 from the system clock (for REST credential timestamps).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Errors a UDP socket reports for one earlier datagram (ICMP), not for itself.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// Runs a TURN server on a UDP socket only; see [`run`].
pub async fn run_udp(
    listener: UdpSocket,
    config: ServerConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<Stats, RelayError> {
    let listeners = Listeners {
        udp: Some(listener),
        ..Listeners::default()
    };
    run(listeners, config, shutdown).await
}

/// Receives from the UDP listener if there is one, else never completes.
async fn recv_udp(
    udp: Option<&UdpSocket>,
    buf: &mut [u8],
) -> Option<io::Result<(usize, SocketAddr)>> {
    match udp {
        Some(s) => Some(s.recv_from(buf).await),
        None => std::future::pending().await,
    }
}

/// Runs a TURN server on `listeners` until `shutdown` turns true; returns the final counters.
pub async fn run(
    listeners: Listeners,
    config: ServerConfig,
    shutdown: watch::Receiver<bool>,
) -> Result<Stats, RelayError> {
    let (metrics, _) = watch::channel(Stats::default());
    run_with_metrics(listeners, config, shutdown, metrics).await
}

/// How often [`run_with_metrics`] publishes the counters.
const METRICS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Like [`run`], publishing the core's counters on `metrics` (at most once a second, and at
/// the end) for the admin service.
pub async fn run_with_metrics(
    listeners: Listeners,
    config: ServerConfig,
    mut shutdown: watch::Receiver<bool>,
    metrics: watch::Sender<Stats>,
) -> Result<Stats, RelayError> {
    let unknown = SocketAddr::from(([0, 0, 0, 0], 0));
    let udp_local = match &listeners.udp {
        Some(s) => Some(s.local_addr().map_err(|source| RelayError::Listener {
            addr: unknown,
            source,
        })?),
        None => None,
    };
    let mut server = Server::new(config, StdBinder::default(), Instant::now(), unix_now());
    let (input_tx, mut input_rx) = mpsc::channel::<Input>(4096);
    let acceptor = listeners
        .tcp
        .map(|tcp| tokio::spawn(accept_loop(tcp, input_tx.clone())));
    let mux = listeners
        .mux
        .map(|mux| tokio::spawn(mux_loop(mux, input_tx.clone())));
    let mut relays: HashMap<RelayId, RelaySocket> = HashMap::new();
    let mut conns: HashMap<FiveTuple, Connection> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    let mut published = Instant::now();
    // Wakes the loop to publish the counters even when nothing arrives.
    let mut tick = tokio::time::interval(METRICS_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = server.poll_timeout();
        let sleep = async {
            match deadline {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(r) = recv_udp(listeners.udp.as_ref(), &mut buf) => {
                let (n, from) = match r {
                    Ok(r) => r,
                    Err(e) if transient(&e) => continue,
                    Err(source) => {
                        return Err(RelayError::Listener { addr: udp_local.unwrap_or(unknown), source })
                    }
                };
                let ft = FiveTuple {
                    client: from,
                    server: udp_local.unwrap_or(unknown),
                    transport: Transport::Udp,
                };
                server.handle_client(Instant::now(), ft, buf.get(..n).unwrap_or_default());
            }
            Some(input) = input_rx.recv() => match input {
                Input::Peer(relay, peer, data) => server.handle_peer(Instant::now(), relay, peer, &data),
                Input::Accepted(ft, writer, reader) => {
                    conns.insert(ft, Connection { writer, reader });
                }
                Input::Frame(ft, bytes) => server.handle_client(Instant::now(), ft, &bytes),
                Input::MsData(ft, bytes) => server.handle_client_ms_data(Instant::now(), ft, &bytes),
                Input::Closed(ft) => {
                    if let Some(c) = conns.remove(&ft) {
                        c.reader.abort();
                    }
                    server.handle_connection_closed(ft);
                }
            },
            () = sleep => server.handle_timeout(Instant::now()),
            _ = tick.tick() => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
        adopt_relays(&mut server, &mut relays, &input_tx);
        if published.elapsed() >= METRICS_INTERVAL {
            published = Instant::now();
            metrics.send_replace(server.stats());
        }
        while let Some(event) = server.poll_event() {
            match event {
                Event::AllocationClosed { relay, .. } => {
                    if let Some(r) = relays.remove(&relay) {
                        r.reader.abort();
                    }
                }
                Event::CloseConnection { five_tuple } => {
                    // Dropping the writer's queue ends the writer, which shuts the socket down.
                    if let Some(c) = conns.remove(&five_tuple) {
                        c.reader.abort();
                    }
                    server.handle_connection_closed(five_tuple);
                }
                Event::AllocationCreated { .. } => {}
            }
        }
        while let Some(t) = server.poll_transmit() {
            match t.via {
                Via::Client(ft) if ft.transport == Transport::Udp => {
                    if let Some(udp) = &listeners.udp {
                        // A lost UDP send is a lost datagram, as on the network.
                        let _ = udp.send_to(&t.payload, t.destination).await;
                    }
                }
                Via::Client(ft) => {
                    if let Some(c) = conns.get(&ft) {
                        // A full queue means the client does not read: drop, like UDP would.
                        let _ = c.writer.try_send(t.payload);
                    }
                }
                Via::Relay(id) => {
                    if let Some(r) = relays.get(&id) {
                        let _ = r.socket.send_to(&t.payload, t.destination).await;
                    }
                }
            }
        }
    }
    for a in [acceptor, mux].into_iter().flatten() {
        a.abort();
    }
    for (_, r) in relays.drain() {
        r.reader.abort();
    }
    for (_, c) in conns.drain() {
        c.reader.abort();
    }
    metrics.send_replace(server.stats());
    Ok(server.stats())
}

/// Accepts TCP clients; each gets a reader task (frames to the core) and a writer task.
async fn accept_loop(listener: TcpListener, input: mpsc::Sender<Input>) {
    let Ok(local) = listener.local_addr() else {
        return;
    };
    loop {
        let Ok((stream, client)) = listener.accept().await else {
            continue;
        };
        let ft = FiveTuple {
            client,
            server: local,
            transport: Transport::Tcp,
        };
        let _ = stream.set_nodelay(true);
        if !spawn_connection(stream, ft, Vec::new(), None, &input).await {
            return;
        }
    }
}

/// Registers a TURN connection with the core, then starts reading it (after the core knows
/// it, so no answer can outrun the registration). `false` once the core is gone.
async fn spawn_connection<S>(
    stream: S,
    ft: FiveTuple,
    prefix: Vec<u8>,
    framing: Option<Framing>,
    input: &mpsc::Sender<Input>,
) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (read_half, write_half) = tokio::io::split(stream);
    let (writer_tx, writer_rx) = mpsc::channel::<Vec<u8>>(1024);
    tokio::spawn(write_loop(write_half, writer_rx));
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let reader_input = input.clone();
    let reader = tokio::spawn(async move {
        if go_rx.await.is_ok() {
            read_loop(read_half, ft, prefix, framing, reader_input).await;
        }
    });
    if input
        .send(Input::Accepted(ft, writer_tx, reader))
        .await
        .is_err()
    {
        return false;
    }
    let _ = go_tx.send(());
    true
}

/// How long a client on the shared port may take to say what it speaks.
const CLASSIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Accepts connections on the shared port and classifies each in its own task.
async fn mux_loop(mux: Mux, input: mpsc::Sender<Input>) {
    let Ok(local) = mux.listener.local_addr() else {
        return;
    };
    let acceptor = mux.tls.map(tokio_rustls::TlsAcceptor::from);
    // Connections still being classified (each may take CLASSIFY_TIMEOUT): bounded, so a
    // flood of silent connections cannot pile up tasks.
    let classifying = Arc::new(tokio::sync::Semaphore::new(MAX_CLASSIFYING));
    loop {
        let Ok((stream, client)) = mux.listener.accept().await else {
            continue;
        };
        let Ok(permit) = Arc::clone(&classifying).try_acquire_owned() else {
            // Over the bound: close at once rather than queue.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let route = Route {
            client,
            local,
            input: input.clone(),
            handoff: mux.handoff.clone(),
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            mux_connection(stream, route, acceptor, permit).await;
        });
    }
}

/// Connections the shared port classifies at once.
const MAX_CLASSIFYING: usize = 4096;

/// Where a classified connection can go.
struct Route {
    client: SocketAddr,
    local: SocketAddr,
    input: mpsc::Sender<Input>,
    handoff: mpsc::Sender<Handoff>,
}

impl Route {
    fn five_tuple(&self, transport: Transport) -> FiveTuple {
        FiveTuple {
            client: self.client,
            server: self.local,
            transport,
        }
    }
}

/// Reads until [`classify`] decides, at most [`MAX_PREFIX`] bytes and [`CLASSIFY_TIMEOUT`].
async fn read_prefix<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> (Verdict, Vec<u8>) {
    let mut prefix = Vec::with_capacity(MAX_PREFIX);
    let read = async {
        let mut buf = [0u8; MAX_PREFIX];
        loop {
            let room = MAX_PREFIX.saturating_sub(prefix.len()).max(1);
            let n = match stream.read(buf.get_mut(..room).unwrap_or_default()).await {
                Ok(0) | Err(_) => return Verdict::Reject,
                Ok(n) => n,
            };
            prefix.extend_from_slice(buf.get(..n).unwrap_or_default());
            match classify(&prefix) {
                Verdict::NeedMore => continue,
                v => return v,
            }
        }
    };
    let verdict = tokio::time::timeout(CLASSIFY_TIMEOUT, read)
        .await
        .unwrap_or(Verdict::Reject);
    (verdict, prefix)
}

/// Routes one connection of the shared port by its first bytes. The permit bounds
/// connections under classification; TLS keeps it through the handshake and the inner bytes.
async fn mux_connection(
    mut stream: TcpStream,
    route: Route,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let (verdict, prefix) = read_prefix(&mut stream).await;
    match (verdict, acceptor) {
        (Verdict::Is(Protocol::Tls), Some(acceptor)) => {
            let handshake = acceptor.accept(Prefixed::new(prefix, stream));
            if let Ok(Ok(tls)) = tokio::time::timeout(CLASSIFY_TIMEOUT, handshake).await {
                inside_tls(tls, route, permit).await;
            }
        }
        (verdict, _) => {
            drop(permit);
            route_plain(stream, route, verdict, prefix).await;
        }
    }
}

/// Routes a classified cleartext connection (TLS here only when the mux does not terminate it).
async fn route_plain(mut stream: TcpStream, route: Route, verdict: Verdict, prefix: Vec<u8>) {
    let ft = route.five_tuple(Transport::Tcp);
    match verdict {
        Verdict::Is(Protocol::MsTurnPseudoTls) => {
            // [MS-TURN] pseudo-TLS: ServerHello + ServerHelloDone in one record, then framed
            // MS-TURN in clear (MS-SIP.md §7.3).
            let hello = pseudo_tls_server_hello(&random32(), &random32());
            if stream.write_all(&hello).await.is_err() {
                return;
            }
            let rest = prefix
                .get(PSEUDO_TLS_CLIENT_HELLO_LEN..)
                .unwrap_or_default()
                .to_vec();
            spawn_connection(stream, ft, rest, Some(Framing::MsTurn), &route.input).await;
        }
        Verdict::Is(Protocol::StunTcp) => {
            spawn_connection(stream, ft, prefix, Some(Framing::Stun), &route.input).await;
        }
        Verdict::Is(Protocol::MsTurnTcp) => {
            spawn_connection(stream, ft, prefix, Some(Framing::MsTurn), &route.input).await;
        }
        Verdict::Is(protocol) => {
            handoff(&route, protocol, MuxStream::Plain(stream), prefix).await;
        }
        // Unknown or undecided within the bound: a clean close.
        Verdict::Reject | Verdict::NeedMore => {
            let _ = stream.shutdown().await;
        }
    }
}

/// Routes a terminated TLS connection by its first plaintext bytes: TURN over TLS to the
/// relay, SIP and HTTP to their services, anything else closed.
async fn inside_tls(
    mut tls: tokio_rustls::server::TlsStream<Prefixed<TcpStream>>,
    route: Route,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let (verdict, prefix) = read_prefix(&mut tls).await;
    drop(permit);
    let ft = route.five_tuple(Transport::Tls);
    match verdict {
        Verdict::Is(Protocol::StunTcp) => {
            spawn_connection(tls, ft, prefix, Some(Framing::Stun), &route.input).await;
        }
        Verdict::Is(Protocol::MsTurnTcp) => {
            spawn_connection(tls, ft, prefix, Some(Framing::MsTurn), &route.input).await;
        }
        Verdict::Is(protocol @ (Protocol::Sip | Protocol::Http)) => {
            handoff(&route, protocol, MuxStream::Tls(Box::new(tls)), prefix).await;
        }
        _ => {
            let _ = tls.shutdown().await;
        }
    }
}

async fn handoff(route: &Route, protocol: Protocol, stream: MuxStream, prefix: Vec<u8>) {
    let _ = route
        .handoff
        .send(Handoff {
            protocol,
            stream,
            prefix,
            client: route.client,
        })
        .await;
}

/// 32 bytes for the pseudo-TLS hello fields clients ignore (not secret; any value works).
fn random32() -> [u8; 32] {
    use std::hash::BuildHasher;
    let state = std::collections::hash_map::RandomState::new();
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&state.hash_one(i).to_le_bytes());
    }
    out
}

/// Writes queued frames until the queue closes, then shuts the connection down.
async fn write_loop<W: tokio::io::AsyncWrite + Unpin>(
    mut stream: W,
    mut queue: mpsc::Receiver<Vec<u8>>,
) {
    while let Some(bytes) = queue.recv().await {
        if stream.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = stream.shutdown().await;
}

/// Reads a client connection (starting with `prefix`, already read), splits frames and
/// forwards them; reports the end.
async fn read_loop<R: tokio::io::AsyncRead + Unpin>(
    mut stream: R,
    ft: FiveTuple,
    prefix: Vec<u8>,
    framing: Option<Framing>,
    input: mpsc::Sender<Input>,
) {
    let mut buf = vec![0u8; 65536];
    let mut reader = framing.map(StreamReader::new);
    let mut pending = prefix;
    loop {
        if !pending.is_empty() {
            // The first bytes choose the framing for the whole connection.
            let r = reader.get_or_insert_with(|| StreamReader::new(framing_of(&pending)));
            r.push(&pending);
            pending.clear();
            loop {
                let msg = match r.next_frame() {
                    None => break,
                    Some(Err(_)) => {
                        let _ = input.send(Input::Closed(ft)).await;
                        return;
                    }
                    Some(Ok(Frame::Message(m))) => Input::Frame(ft, m.to_vec()),
                    Some(Ok(Frame::MsData(d))) => Input::MsData(ft, d.to_vec()),
                };
                if input.send(msg).await.is_err() {
                    return;
                }
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => pending.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    let _ = input.send(Input::Closed(ft)).await;
}

/// [MS-TURN] 2.1 framing when the stream starts with its header (type 0x02/0x03, then 0x00);
/// otherwise RFC 8656 §12.5 framing (a STUN message starts 0x00/0x01, ChannelData 0x40-0x7F).
fn framing_of(first: &[u8]) -> Framing {
    match first {
        [0x02 | 0x03, 0x00, ..] => Framing::MsTurn,
        _ => Framing::Stun,
    }
}

/// Turns sockets the core had bound into tokio sockets with a reader task each.
fn adopt_relays(
    server: &mut Server<StdBinder>,
    relays: &mut HashMap<RelayId, RelaySocket>,
    input: &mpsc::Sender<Input>,
) {
    for (id, std_socket) in server.binder_mut().pending.drain(..) {
        let Ok(socket) = UdpSocket::from_std(std_socket) else {
            continue;
        };
        let socket = Arc::new(socket);
        let reader_socket = Arc::clone(&socket);
        let tx = input.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let (n, peer) = match reader_socket.recv_from(&mut buf).await {
                    Ok(r) => r,
                    // ICMP errors reported on the socket concern one datagram, not the socket.
                    Err(e) if transient(&e) => continue,
                    Err(_) => break,
                };
                let data = buf.get(..n).unwrap_or_default().to_vec();
                if tx.send(Input::Peer(id, peer, data)).await.is_err() {
                    break;
                }
            }
        });
        relays.insert(id, RelaySocket { socket, reader });
    }
}
