//! The tokio driver of `turn_proto::server::Server`: it owns the sockets, the core owns the
//! decisions. One task runs the core. It reads the UDP listening socket itself and receives,
//! over one channel, what the other tasks read: relay sockets (one reader task each) and TCP
//! connections (one reader task each, frames split by `turn_proto::channel::StreamReader`).
//! It wakes at the core's deadline, and after each input binds/closes relay sockets, writes
//! what the core queued, and closes connections the core gave up on.
//!
//! Scope today: TURN over UDP and TCP (RFC 8656 framing, or MS-TURN framing when the first
//! byte says so) with UDP relaying. The shared 443 listener (TLS, pseudo-TLS) comes next.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use turn_proto::channel::{Frame, Framing, StreamReader};
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
        tcp: None,
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
    mut shutdown: watch::Receiver<bool>,
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
    let mut relays: HashMap<RelayId, RelaySocket> = HashMap::new();
    let mut conns: HashMap<FiveTuple, Connection> = HashMap::new();
    let mut buf = vec![0u8; 65536];
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
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
        adopt_relays(&mut server, &mut relays, &input_tx);
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
    if let Some(a) = acceptor {
        a.abort();
    }
    for (_, r) in relays.drain() {
        r.reader.abort();
    }
    for (_, c) in conns.drain() {
        c.reader.abort();
    }
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
        let _ = stream.set_nodelay(true);
        let ft = FiveTuple {
            client,
            server: local,
            transport: Transport::Tcp,
        };
        let (read_half, write_half) = stream.into_split();
        let (writer_tx, writer_rx) = mpsc::channel::<Vec<u8>>(1024);
        tokio::spawn(write_loop(write_half, writer_rx));
        let reader = tokio::spawn(read_loop(read_half, ft, input.clone()));
        if input
            .send(Input::Accepted(ft, writer_tx, reader))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Writes queued frames until the queue closes, then shuts the connection down.
async fn write_loop(
    mut stream: tokio::net::tcp::OwnedWriteHalf,
    mut queue: mpsc::Receiver<Vec<u8>>,
) {
    while let Some(bytes) = queue.recv().await {
        if stream.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = stream.shutdown().await;
}

/// Reads a client connection, splits frames and forwards them; reports the end.
async fn read_loop(
    mut stream: tokio::net::tcp::OwnedReadHalf,
    ft: FiveTuple,
    input: mpsc::Sender<Input>,
) {
    let mut buf = vec![0u8; 65536];
    let mut reader: Option<StreamReader> = None;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = buf.get(..n).unwrap_or_default();
        // The first bytes choose the framing for the whole connection.
        let r = reader.get_or_insert_with(|| StreamReader::new(framing_of(chunk)));
        r.push(chunk);
        loop {
            let input_msg = match r.next_frame() {
                None => break,
                Some(Err(_)) => {
                    let _ = input.send(Input::Closed(ft)).await;
                    return;
                }
                Some(Ok(Frame::Message(m))) => Input::Frame(ft, m.to_vec()),
                Some(Ok(Frame::MsData(d))) => Input::MsData(ft, d.to_vec()),
            };
            if input.send(input_msg).await.is_err() {
                return;
            }
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
