//! One TCP or TLS connection: a reader that frames the stream (RFC 3261 §18.3) and a
//! writer fed by a bounded queue.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use sip_msg::framing::{Frame, FramingError, PONG, StreamFramer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;
use tracing::debug;

use crate::{CloseReason, ConnId, NetEvent, PeerIdentity, Proto, Received, Shared};

/// Starts the reader and writer of a connection; returns the sender for outgoing messages.
#[allow(clippy::too_many_arguments)] // the connection's facts, each needed by its tasks
pub(crate) fn spawn<S>(
    shared: Arc<Shared>,
    stream: S,
    proto: Proto,
    remote: SocketAddr,
    local: SocketAddr,
    peer: Option<Arc<PeerIdentity>>,
    slot: OwnedSemaphorePermit,
    prefix: Vec<u8>,
) -> mpsc::Sender<Bytes>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(shared.limits.send_queue);
    let id = shared.register(proto, remote, tx.clone(), peer.clone());
    debug!(conn = %id, %proto, %remote, "connection open");
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let pong_tx = tx.clone();
    tokio::spawn(async move {
        let reason = read_loop(
            &shared, &mut rd, id, proto, remote, local, peer, &pong_tx, prefix,
        )
        .await;
        shared.unregister(id);
        drop(pong_tx);
        writer.abort();
        debug!(conn = %id, %remote, ?reason, "connection closed");
        let _ = shared
            .events
            .send(NetEvent::Closed {
                conn: id,
                remote,
                reason,
            })
            .await;
        drop(slot);
    });
    tx
}

#[allow(clippy::too_many_arguments)]
async fn read_loop<R: AsyncRead + Unpin>(
    shared: &Shared,
    rd: &mut R,
    id: ConnId,
    proto: Proto,
    remote: SocketAddr,
    local: SocketAddr,
    peer: Option<Arc<PeerIdentity>>,
    pong: &mpsc::Sender<Bytes>,
    prefix: Vec<u8>,
) -> CloseReason {
    let limits = &shared.limits;
    let mut framer = StreamFramer::new(limits.max_message);
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_activity = Instant::now();
    let mut partial_since: Option<Instant> = None;
    // Bytes another service already read from this connection (the shared 443 port) come first.
    let mut pending = (!prefix.is_empty()).then_some(prefix);
    loop {
        if let Some(p) = pending.take() {
            framer.push(&p);
            if let Some(reason) =
                drain(shared, &mut framer, id, proto, remote, local, &peer, pong).await
            {
                return reason;
            }
            partial_since = (framer.buffered() > 0).then_some(last_activity);
            continue;
        }
        // A partial message must complete by its deadline; an idle connection by the idle timeout.
        let (deadline, on_timeout) = match partial_since {
            Some(t) => (t + limits.message_timeout, CloseReason::MessageTimeout),
            None => (last_activity + limits.idle_timeout, CloseReason::Idle),
        };
        let n = match tokio::time::timeout_at(deadline, rd.read(&mut buf)).await {
            Err(_) => {
                shared.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                return on_timeout;
            }
            Ok(Ok(0)) => return CloseReason::PeerClosed,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return CloseReason::Io(e.to_string()),
        };
        last_activity = Instant::now();
        framer.push(&buf[..n]);
        if let Some(reason) =
            drain(shared, &mut framer, id, proto, remote, local, &peer, pong).await
        {
            return reason;
        }
        partial_since = if framer.buffered() > 0 {
            Some(partial_since.unwrap_or(last_activity))
        } else {
            None
        };
    }
}

/// Hands every complete frame up and answers pings; returns why to close, if the stream failed.
#[allow(clippy::too_many_arguments)]
async fn drain(
    shared: &Shared,
    framer: &mut StreamFramer,
    id: ConnId,
    proto: Proto,
    remote: SocketAddr,
    local: SocketAddr,
    peer: &Option<Arc<PeerIdentity>>,
    pong: &mpsc::Sender<Bytes>,
) -> Option<CloseReason> {
    loop {
        match framer.next_frame() {
            Ok(Some(Frame::Message(data))) => {
                shared.stats.frames_in.fetch_add(1, Ordering::Relaxed);
                let ev = NetEvent::Received(Received {
                    data,
                    proto,
                    remote,
                    local,
                    conn: Some(id),
                    peer: peer.clone(),
                });
                // Waiting here is the backpressure: we stop reading this peer.
                if shared.events.send(ev).await.is_err() {
                    return Some(CloseReason::Io("server shutting down".into()));
                }
            }
            Ok(Some(Frame::Ping)) => {
                // RFC 5626 §3.5.1: answer a CRLFCRLF ping with a CRLF pong.
                shared.stats.pings.fetch_add(1, Ordering::Relaxed);
                let _ = pong.try_send(Bytes::from_static(PONG));
            }
            Ok(Some(Frame::Pong)) => {}
            Ok(None) => return None,
            Err(e) => {
                shared.stats.framing_errors.fetch_add(1, Ordering::Relaxed);
                let why = match e {
                    FramingError::Failed => "stream failed earlier".to_string(),
                    other => other.to_string(),
                };
                return Some(CloseReason::Framing(why));
            }
        }
    }
}
