//! The transports over real loopback sockets: UDP, TCP and (mutual) TLS with certificates
//! made by rcgen; connection reuse, keep-alives, garbage, slowloris and the connection cap.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use net::{CloseReason, Config, Limits, Net, NetEvent, Proto, Received, Target, tls};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

const OPTIONS: &[u8] = b"OPTIONS sip:fe.example.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:fe.example.test>\r\nCall-ID: n1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

/// A transport layer listening on TCP only, on a free loopback port.
async fn tcp_net() -> (Net, mpsc::Receiver<NetEvent>) {
    Net::start(Config {
        tcp: vec![any()],
        ..Config::default()
    })
    .await
    .unwrap()
}

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn next_received(rx: &mut mpsc::Receiver<NetEvent>) -> Received {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("event in time")
            .expect("channel open")
        {
            NetEvent::Received(r) => return r,
            NetEvent::Closed { .. } | NetEvent::SendFailed { .. } => continue,
        }
    }
}

async fn next_closed(rx: &mut mpsc::Receiver<NetEvent>) -> CloseReason {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("event in time")
            .expect("channel open")
        {
            NetEvent::Closed { reason, .. } => return reason,
            NetEvent::Received(_) | NetEvent::SendFailed { .. } => continue,
        }
    }
}

#[tokio::test]
async fn udp_round_trip_goes_out_of_the_listening_port() {
    let (net, mut rx) = Net::start(Config {
        udp: vec![any()],
        ..Config::default()
    })
    .await
    .unwrap();
    let server = net.local_addr(Proto::Udp).unwrap();
    let client = UdpSocket::bind(any()).await.unwrap();
    client.send_to(OPTIONS, server).await.unwrap();
    let r = next_received(&mut rx).await;
    assert_eq!(&r.data[..], OPTIONS);
    assert_eq!(r.remote, client.local_addr().unwrap());
    assert_eq!(r.conn, None);
    net.send(
        &Target::reply_to(&r),
        Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"),
    )
    .await
    .unwrap();
    let mut buf = [0u8; 100];
    let (n, from) = client.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"SIP/2.0 200 OK\r\n\r\n");
    assert_eq!(
        from, server,
        "RFC 3261 §18.2.2: the response leaves from the port the request reached"
    );
}

#[tokio::test]
async fn tcp_frames_split_messages_answers_pings_and_replies_on_the_same_connection() {
    let (net, mut rx) = tcp_net().await;
    let mut c = TcpStream::connect(net.local_addr(Proto::Tcp).unwrap())
        .await
        .unwrap();
    c.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    c.read_exact(&mut pong).await.unwrap();
    assert_eq!(&pong, b"\r\n", "RFC 5626 §3.5.1 pong");
    let (a, b) = OPTIONS.split_at(40);
    c.write_all(a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.write_all(b).await.unwrap();
    c.write_all(OPTIONS).await.unwrap();
    let r1 = next_received(&mut rx).await;
    let r2 = next_received(&mut rx).await;
    assert_eq!(&r1.data[..], OPTIONS);
    assert_eq!(&r2.data[..], OPTIONS);
    assert_eq!(r1.conn, r2.conn);
    assert!(r1.conn.is_some());
    const OK: &[u8] = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
    net.send(&Target::reply_to(&r1), Bytes::from_static(OK))
        .await
        .unwrap();
    let mut buf = vec![0u8; OK.len()];
    tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf[..], OK);
    assert_eq!(net.stats().pings.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn garbage_closes_only_the_guilty_connection() {
    let (net, mut rx) = tcp_net().await;
    let addr = net.local_addr(Proto::Tcp).unwrap();
    let mut good = TcpStream::connect(addr).await.unwrap();
    let mut bad = TcpStream::connect(addr).await.unwrap();
    bad.write_all(b"\x16\x03\x01\x00\xff not sip at all\r\n\r\n")
        .await
        .unwrap();
    let reason = next_closed(&mut rx).await;
    assert!(
        matches!(reason, CloseReason::Framing(ref s) if s.contains("garbage")),
        "{reason:?}"
    );
    let mut buf = [0u8; 1];
    assert_eq!(
        bad.read(&mut buf).await.unwrap_or(0),
        0,
        "the bad peer is disconnected"
    );
    good.write_all(OPTIONS).await.unwrap();
    assert_eq!(&next_received(&mut rx).await.data[..], OPTIONS);
    assert_eq!(net.stats().framing_errors.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn a_slowloris_peer_is_dropped_at_the_message_deadline() {
    let limits = Limits {
        message_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let (net, mut rx) = Net::start(Config {
        tcp: vec![any()],
        limits,
        ..Config::default()
    })
    .await
    .unwrap();
    let mut c = TcpStream::connect(net.local_addr(Proto::Tcp).unwrap())
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    // One byte every 100 ms: the connection is never idle, but the message never completes.
    let dribble = tokio::spawn(async move {
        for b in OPTIONS.iter().take(20) {
            if c.write_all(std::slice::from_ref(b)).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert_eq!(next_closed(&mut rx).await, CloseReason::MessageTimeout);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "{took:?}"
    );
    dribble.abort();
    assert_eq!(net.open_connections(), 0);
}

#[tokio::test]
async fn the_connection_cap_refuses_extra_connections() {
    let limits = Limits {
        max_connections: 1,
        ..Limits::default()
    };
    let (net, mut rx) = Net::start(Config {
        tcp: vec![any()],
        limits,
        ..Config::default()
    })
    .await
    .unwrap();
    let addr = net.local_addr(Proto::Tcp).unwrap();
    let mut first = TcpStream::connect(addr).await.unwrap();
    first.write_all(OPTIONS).await.unwrap();
    next_received(&mut rx).await;
    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1];
    let n = tokio::time::timeout(Duration::from_secs(2), second.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the second connection is closed at once");
    assert_eq!(net.stats().refused.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn outgoing_tcp_requests_reuse_one_connection_and_responses_come_back_on_it() {
    let (a, mut arx) = tcp_net().await;
    let (b, mut brx) = tcp_net().await;
    let to_b = Target::new(Proto::Tcp, b.local_addr(Proto::Tcp).unwrap());
    a.send(&to_b, Bytes::from_static(OPTIONS)).await.unwrap();
    a.send(&to_b, Bytes::from_static(OPTIONS)).await.unwrap();
    let r1 = next_received(&mut brx).await;
    let r2 = next_received(&mut brx).await;
    assert_eq!(r1.conn, r2.conn, "one connection for both requests");
    assert_eq!(a.open_connections(), 1);
    b.send(
        &Target::reply_to(&r1),
        Bytes::from_static(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
    )
    .await
    .unwrap();
    let back = next_received(&mut arx).await;
    assert_eq!(
        back.remote,
        b.local_addr(Proto::Tcp).unwrap(),
        "it arrived over a's own connection to b"
    );
    assert!(back.data.starts_with(b"SIP/2.0 200 OK"));
    assert_eq!(
        b.open_connections(),
        1,
        "no second connection for the response"
    );
}

// --- TLS ---------------------------------------------------------------------------------

struct Pki {
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name
            .push(DnType::CommonName, "Convene test CA");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Pki {
            ca_der: cert.der().clone(),
            issuer: Issuer::new(p, key),
        }
    }

    fn leaf(
        &self,
        name: &str,
        ekus: Vec<ExtendedKeyUsagePurpose>,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = ekus;
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (
            vec![cert.der().clone(), self.ca_der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
    }

    fn roots(&self) -> RootCertStore {
        let mut r = RootCertStore::empty();
        r.add(self.ca_der.clone()).unwrap();
        r
    }
}

async fn tls_pair(
    pki: &Pki,
    client_ekus: Vec<ExtendedKeyUsagePurpose>,
) -> (Net, mpsc::Receiver<NetEvent>, Net, mpsc::Receiver<NetEvent>) {
    use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    let (chain, key) = pki.leaf("fe.example.test", vec![ServerAuth, ClientAuth]);
    let server_cfg = Config {
        tls: vec![any()],
        tls_server: Some(tls::server_config(chain, key, Some(pki.roots())).unwrap()),
        ..Config::default()
    };
    let (server, srx) = Net::start(server_cfg).await.unwrap();
    let client_cert = pki.leaf("peer.partner.test", client_ekus);
    let client_cfg = Config {
        tls_client: Some(tls::client_config(pki.roots(), Some(client_cert)).unwrap()),
        ..Config::default()
    };
    let (client, crx) = Net::start(client_cfg).await.unwrap();
    (server, srx, client, crx)
}

#[tokio::test]
async fn mutual_tls_hands_the_verified_peer_identity_up() {
    let pki = Pki::new();
    let (server, mut srx, client, _crx) = tls_pair(
        &pki,
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    )
    .await;
    let mut to = Target::new(Proto::Tls, server.local_addr(Proto::Tls).unwrap());
    to.server_name = Some("fe.example.test".into());
    client.send(&to, Bytes::from_static(OPTIONS)).await.unwrap();
    let r = next_received(&mut srx).await;
    assert_eq!(r.proto, Proto::Tls);
    let peer = r.peer.as_ref().expect("peer identity");
    assert!(peer.names("peer.partner.test"));
    assert!(peer.client_auth);
    assert_eq!(peer.chain_len, 2);
    assert_eq!(peer.common_name.as_deref(), Some("peer.partner.test"));
    let _: &Arc<net::PeerIdentity> = r.peer.as_ref().unwrap();
}

#[tokio::test]
async fn a_client_certificate_without_client_auth_eku_is_refused_and_explained() {
    let pki = Pki::new();
    // Field article 002: a server certificate used as a TLS client without "Client Authentication"
    let (server, mut srx, client, _crx) =
        tls_pair(&pki, vec![ExtendedKeyUsagePurpose::ServerAuth]).await;
    let mut to = Target::new(Proto::Tls, server.local_addr(Proto::Tls).unwrap());
    to.server_name = Some("fe.example.test".into());
    // TLS 1.3: the client learns of the refusal only after its first write; the server logs it.
    let _ = client.send(&to, Bytes::from_static(OPTIONS)).await;
    let reason = next_closed(&mut srx).await;
    let CloseReason::Handshake(why) = reason else {
        panic!("expected a handshake failure, got {reason:?}")
    };
    assert!(why.contains("Client Authentication"), "{why}");
    assert_eq!(server.stats().handshake_failures.load(Ordering::Relaxed), 1);
}

/// An open TLS connection carries requests only for names its certificate holds: a request
/// for another name at the same address gets its own handshake (which fails here), never the
/// connection verified for someone else (RFC 5922 §4).
#[tokio::test]
async fn a_tls_connection_is_reused_only_for_names_its_certificate_holds() {
    let pki = Pki::new();
    let (server, mut srx, client, _crx) =
        tls_pair(&pki, vec![ExtendedKeyUsagePurpose::ClientAuth]).await;
    let addr = server.local_addr(Proto::Tls).unwrap();
    let mut to = Target::new(Proto::Tls, addr);
    to.server_name = Some("FE.example.test".into());
    client.send(&to, Bytes::from_static(OPTIONS)).await.unwrap();
    client.send(&to, Bytes::from_static(OPTIONS)).await.unwrap();
    let (r1, r2) = (next_received(&mut srx).await, next_received(&mut srx).await);
    assert_eq!(r1.conn, r2.conn, "the same name reuses the connection");
    assert_eq!(client.open_connections(), 1);
    let mut other = to.clone();
    other.server_name = Some("other.example.test".into());
    let err = client
        .send(&other, Bytes::from_static(OPTIONS))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not name the host"), "{err}");
    // By address alone (no name to check), the open connection still serves.
    let mut bare = to.clone();
    bare.server_name = None;
    client
        .send(&bare, Bytes::from_static(OPTIONS))
        .await
        .unwrap();
    assert_eq!(next_received(&mut srx).await.conn, r1.conn);
}

#[tokio::test]
async fn a_server_certificate_for_another_name_is_refused_by_the_client() {
    let pki = Pki::new();
    let (server, _srx, client, _crx) =
        tls_pair(&pki, vec![ExtendedKeyUsagePurpose::ClientAuth]).await;
    let mut to = Target::new(Proto::Tls, server.local_addr(Proto::Tls).unwrap());
    to.server_name = Some("other.example.test".into());
    let err = client
        .send(&to, Bytes::from_static(OPTIONS))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not name the host"), "{err}");
}

#[tokio::test]
async fn ipv6_udp_and_tcp_work_on_the_loopback() {
    let v6: SocketAddr = "[::1]:0".parse().unwrap();
    let Ok((net, mut rx)) = Net::start(Config {
        udp: vec![v6],
        tcp: vec![v6],
        ..Config::default()
    })
    .await
    else {
        panic!("this machine has no IPv6 loopback; the transports need one to be tested");
    };
    let u = UdpSocket::bind(v6).await.unwrap();
    u.send_to(OPTIONS, net.local_addr(Proto::Udp).unwrap())
        .await
        .unwrap();
    let r = next_received(&mut rx).await;
    assert!(r.remote.is_ipv6());
    net.send(
        &Target::reply_to(&r),
        Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n"),
    )
    .await
    .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = u.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"SIP/2.0 200 OK\r\n\r\n");
    let mut t = TcpStream::connect(net.local_addr(Proto::Tcp).unwrap())
        .await
        .unwrap();
    t.write_all(OPTIONS).await.unwrap();
    let r = next_received(&mut rx).await;
    assert_eq!(r.proto, Proto::Tcp);
    assert!(r.remote.is_ipv6());
}

// RFC 5923 §5: a Via `alias` lets requests to the peer's sent-by reuse its connection, but
// only for the connection's own IP.
#[tokio::test]
async fn an_alias_lets_requests_reuse_the_peers_connection() {
    let (a, mut arx) = tcp_net().await;
    let (b, mut brx) = tcp_net().await;
    // a connects to b; b learns that a listens on a's TCP port (a's Via sent-by).
    a.send(
        &Target::new(Proto::Tcp, b.local_addr(Proto::Tcp).unwrap()),
        Bytes::from_static(OPTIONS),
    )
    .await
    .unwrap();
    let r = next_received(&mut brx).await;
    let a_listen = a.local_addr(Proto::Tcp).unwrap();
    assert!(b.alias(r.conn.unwrap(), a_listen));
    assert!(
        !b.alias(r.conn.unwrap(), "192.0.2.1:5060".parse().unwrap()),
        "another host's address is refused"
    );
    // b now sends a request to a's listening address: it travels on the existing connection.
    b.send(
        &Target::new(Proto::Tcp, a_listen),
        Bytes::from_static(OPTIONS),
    )
    .await
    .unwrap();
    let back = next_received(&mut arx).await;
    assert_eq!(
        back.remote,
        b.local_addr(Proto::Tcp).unwrap(),
        "it arrived over a's own connection to b"
    );
    assert_eq!(b.open_connections(), 1, "no new connection was opened");
    assert_eq!(a.open_connections(), 1);
}

// RFC 6066 §3: the server presents the certificate for the name the client asks for.
#[tokio::test]
async fn the_server_picks_its_certificate_by_sni() {
    use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
    let pki = Pki::new();
    let (c1, k1) = pki.leaf("fe.example.test", vec![ServerAuth, ClientAuth]);
    let (c2, k2) = pki.leaf("edge.example.test", vec![ServerAuth, ClientAuth]);
    let cfg = tls::server_config_sni(
        tls::NamedCert { chain: c1, key: k1 },
        vec![(
            "edge.example.test".into(),
            tls::NamedCert { chain: c2, key: k2 },
        )],
        None,
    )
    .unwrap();
    let (server, mut srx) = Net::start(Config {
        tls: vec![any()],
        tls_server: Some(cfg),
        ..Config::default()
    })
    .await
    .unwrap();
    for name in ["edge.example.test", "fe.example.test"] {
        let (client, _crx) = Net::start(Config {
            tls_client: Some(tls::client_config(pki.roots(), None).unwrap()),
            ..Config::default()
        })
        .await
        .unwrap();
        let mut to = Target::new(Proto::Tls, server.local_addr(Proto::Tls).unwrap());
        to.server_name = Some(name.into());
        // The client verifies the presented certificate against the name: success means the right one.
        client.send(&to, Bytes::from_static(OPTIONS)).await.unwrap();
        assert_eq!(next_received(&mut srx).await.proto, Proto::Tls, "{name}");
    }
}

// --- sending without waiting on a peer --------------------------------------------------------

async fn next_send_failure(rx: &mut mpsc::Receiver<NetEvent>) -> (u64, Arc<net::SendError>) {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("event in time")
            .expect("channel open")
        {
            NetEvent::SendFailed { tag, error } => return (tag, error),
            _ => continue,
        }
    }
}

/// A connection that cannot be made (a TLS peer that never answers the handshake, a closed
/// port) holds up nothing: `submit` returns at once, messages for that peer queue behind the
/// attempt, other peers are served meanwhile, and each queued message's failure comes back
/// with its tag.
#[tokio::test]
async fn submit_never_waits_for_a_connection_being_made() {
    let pki = Pki::new();
    let (silent_srv, _silent) = {
        let l = tokio::net::TcpListener::bind(any()).await.unwrap();
        let addr = l.local_addr().unwrap();
        // Accepts and then says nothing: the TLS handshake hangs until the timeout.
        let t = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        (addr, t)
    };
    let client_cert = pki.leaf(
        "peer.partner.test",
        vec![ExtendedKeyUsagePurpose::ClientAuth],
    );
    let (client, mut crx) = Net::start(Config {
        tcp: vec![any()],
        tls_client: Some(tls::client_config(pki.roots(), Some(client_cert)).unwrap()),
        limits: Limits {
            handshake_timeout: Duration::from_secs(3),
            ..Limits::default()
        },
        ..Config::default()
    })
    .await
    .unwrap();
    let (other, mut orx) = tcp_net().await;
    let mut stuck = Target::new(Proto::Tls, silent_srv);
    stuck.server_name = Some("stuck.partner.test".into());
    let start = tokio::time::Instant::now();
    client
        .submit(&stuck, Bytes::from_static(OPTIONS), Some(1))
        .await
        .unwrap();
    client
        .submit(&stuck, Bytes::from_static(OPTIONS), Some(2))
        .await
        .unwrap();
    // Meanwhile another peer is reached.
    let to_other = Target::new(Proto::Tcp, other.local_addr(Proto::Tcp).unwrap());
    client
        .submit(&to_other, Bytes::from_static(OPTIONS), Some(3))
        .await
        .unwrap();
    let r = next_received(&mut orx).await;
    assert!(r.data.starts_with(b"OPTIONS"));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the other peer was served while the handshake was still pending"
    );
    let mut failed = [
        next_send_failure(&mut crx).await,
        next_send_failure(&mut crx).await,
    ];
    failed.sort_by_key(|(t, _)| *t);
    assert_eq!(
        failed.iter().map(|(t, _)| *t).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(
        failed[0].1.to_string().contains("timed out"),
        "{}",
        failed[0].1
    );
    // A closed port fails the same way, reported with its tag.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    client
        .submit(
            &Target::new(Proto::Tcp, closed),
            Bytes::from_static(OPTIONS),
            Some(7),
        )
        .await
        .unwrap();
    let (tag, e) = next_send_failure(&mut crx).await;
    assert_eq!(tag, 7);
    assert!(matches!(*e, net::SendError::Connect { .. }), "{e}");
}

/// A peer that stops reading fills its connection's bounded queue; then `submit` says so at
/// once instead of waiting (the caller serves every other peer too).
#[tokio::test]
async fn a_peer_that_stops_reading_gets_congested_not_waited_for() {
    let l = tokio::net::TcpListener::bind(any()).await.unwrap();
    let addr = l.local_addr().unwrap();
    let reader = tokio::spawn(async move {
        // Accepts and never reads.
        let (s, _) = l.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    });
    let (client, _crx) = tcp_net().await;
    let to = Target::new(Proto::Tcp, addr);
    let big = Bytes::from(vec![b'x'; 64 * 1024]);
    let mut congested_after = None;
    for i in 0..4000 {
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            client.submit(&to, big.clone(), None),
        )
        .await
        .expect("submit never waits on the peer");
        if let Err(e) = r {
            assert!(
                matches!(e, net::SendError::Congested(a) if a == addr),
                "{e}"
            );
            congested_after = Some(i);
            break;
        }
        tokio::task::yield_now().await;
    }
    let n = congested_after.expect("the queue filled up");
    assert!(
        n >= 256,
        "at least the queue's 256 messages were taken first: {n}"
    );
    reader.abort();
}
