//! The tokio driver of `turn_proto::server::Server`: it owns the sockets, the core owns the
//! decisions. One task runs the core; it reads the UDP listening socket, receives what the
//! relay sockets' reader tasks forward, wakes at the core's deadline, and after each input
//! binds/closes relay sockets and sends what the core queued.
//!
//! Scope today: TURN over UDP (the listener) with UDP relaying. TCP/TLS listeners and the
//! shared 443 port come next (the core and `turn_proto::channel::StreamReader` are ready).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use turn_proto::server::{
    Event, FiveTuple, RelayBinder, RelayId, Server, ServerConfig, Stats, Transport, Via,
};

/// Why the relay stopped.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The listening socket failed.
    #[error("listening socket {addr}: {source}")]
    Listener {
        /// The listening address.
        addr: SocketAddr,
        /// The I/O error.
        source: io::Error,
    },
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

/// A datagram a relay socket received: (relay, peer, bytes).
type PeerDatagram = (RelayId, SocketAddr, Vec<u8>);

/// A live relay socket and its reader task.
struct RelaySocket {
    socket: Arc<UdpSocket>,
    reader: JoinHandle<()>,
}

/// Seconds since 1970 from the system clock (for REST credential timestamps).
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Runs a TURN server on `listener` until `shutdown` turns true; returns the final counters.
pub async fn run_udp(
    listener: UdpSocket,
    config: ServerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Stats, RelayError> {
    let local = listener
        .local_addr()
        .map_err(|source| RelayError::Listener {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
    let mut server = Server::new(config, StdBinder::default(), Instant::now(), unix_now());
    let (peer_tx, mut peer_rx) = mpsc::channel::<PeerDatagram>(4096);
    let mut relays: HashMap<RelayId, RelaySocket> = HashMap::new();
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
            r = listener.recv_from(&mut buf) => {
                let (n, from) = match r {
                    Ok(r) => r,
                    Err(e) if transient(&e) => continue,
                    Err(source) => return Err(RelayError::Listener { addr: local, source }),
                };
                let ft = FiveTuple { client: from, server: local, transport: Transport::Udp };
                server.handle_client(Instant::now(), ft, buf.get(..n).unwrap_or_default());
            }
            Some((relay, peer, data)) = peer_rx.recv() => {
                server.handle_peer(Instant::now(), relay, peer, &data);
            }
            () = sleep => server.handle_timeout(Instant::now()),
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    break;
                }
            }
        }
        adopt_relays(&mut server, &mut relays, &peer_tx);
        while let Some(event) = server.poll_event() {
            if let Event::AllocationClosed { relay, .. } = event {
                if let Some(r) = relays.remove(&relay) {
                    r.reader.abort();
                }
            }
        }
        while let Some(t) = server.poll_transmit() {
            let socket = match t.via {
                Via::Client(_) => None,
                Via::Relay(id) => match relays.get(&id) {
                    Some(r) => Some(&r.socket),
                    None => continue,
                },
            };
            // UDP send errors (unreachable peer, full buffer) lose one datagram, like the network.
            let _ = match socket {
                None => listener.send_to(&t.payload, t.destination).await,
                Some(s) => s.send_to(&t.payload, t.destination).await,
            };
        }
    }
    for (_, r) in relays.drain() {
        r.reader.abort();
    }
    Ok(server.stats())
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

/// Turns sockets the core had bound into tokio sockets with a reader task each.
fn adopt_relays(
    server: &mut Server<StdBinder>,
    relays: &mut HashMap<RelayId, RelaySocket>,
    peer_tx: &mpsc::Sender<PeerDatagram>,
) {
    for (id, std_socket) in server.binder_mut().pending.drain(..) {
        let Ok(socket) = UdpSocket::from_std(std_socket) else {
            continue;
        };
        let socket = Arc::new(socket);
        let reader_socket = Arc::clone(&socket);
        let tx = peer_tx.clone();
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
                if tx.send((id, peer, data)).await.is_err() {
                    break;
                }
            }
        });
        relays.insert(id, RelaySocket { socket, reader });
    }
}
