//! The shared 443 port: MS-TURN pseudo-TLS and plain TURN reach the relay; TLS, SIP and HTTP
//! are handed to their services with the bytes already read; anything else is closed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use turn_proto::channel::{MsFrameType, encode_ms_frame};
use turn_proto::classify::Protocol;
use turn_proto::server::ServerConfig;
use turn_proto::{Attribute, Class, Message, Method, TransactionId, decode};
use turn_relay::{Handoff, Listeners, Mux as MuxConfig, MuxStream, ServerConfig443};

struct Mux {
    addr: SocketAddr,
    handoff: mpsc::Receiver<Handoff>,
    _stop: watch::Sender<bool>,
}

async fn start() -> Mux {
    start_with(None).await
}

async fn start_with(tls: Option<Arc<ServerConfig443>>) -> Mux {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (handoff_tx, handoff) = mpsc::channel(8);
    let mut config = ServerConfig::new("example.test", [9; 32]);
    config.add_user("turnuser", "turnpass");
    config.relay_ipv4 = Some("127.0.0.1".parse().unwrap());
    let (stop, stop_rx) = watch::channel(false);
    let listeners = Listeners {
        mux: Some(MuxConfig {
            listener: tcp,
            handoff: handoff_tx,
            tls,
        }),
        ..Listeners::default()
    };
    tokio::spawn(turn_relay::run(listeners, config, stop_rx));
    Mux {
        addr,
        handoff,
        _stop: stop,
    }
}

async fn read_exact(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    buf
}

/// The MS-TURN pseudo-TLS ClientHello of MS-SIP.md §7.3.
fn pseudo_tls_hello() -> Vec<u8> {
    let mut v = vec![
        0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x01,
    ];
    v.extend_from_slice(&[0x42; 32]);
    v.extend_from_slice(&[0x00, 0x00, 0x02, 0x00, 0x18, 0x01, 0x00]);
    v
}

#[tokio::test]
async fn pseudo_tls_ms_turn_reaches_the_relay() {
    let mux = start().await;
    let mut s = TcpStream::connect(mux.addr).await.unwrap();
    s.write_all(&pseudo_tls_hello()).await.unwrap();
    let hello = read_exact(&mut s, 83).await;
    assert_eq!(
        &hello[..11],
        &[
            0x16, 0x03, 0x01, 0x00, 0x4e, 0x02, 0x00, 0x00, 0x46, 0x03, 0x01
        ]
    );
    assert_eq!(&hello[76..], &[0x00, 0x18, 0x00, 0x0e, 0x00, 0x00, 0x00]);
    // Then framed MS-TURN in clear: an Allocate without credentials earns a framed 401.
    let alloc = Message::new(
        Class::Request,
        Method::ALLOCATE,
        TransactionId::MsTurn([7; 16]),
    )
    .with(Attribute::MsMagicCookie)
    .with(Attribute::MsVersion(3))
    .encode(None)
    .unwrap();
    let mut frame = Vec::new();
    encode_ms_frame(MsFrameType::Control, &alloc, &mut frame);
    s.write_all(&frame).await.unwrap();
    let head = read_exact(&mut s, 4).await;
    assert_eq!(&head[..2], &[0x02, 0x00]);
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let resp = decode(&read_exact(&mut s, len).await).unwrap();
    assert_eq!(resp.class, Class::ErrorResponse);
    assert_eq!(resp.transaction_id, TransactionId::MsTurn([7; 16]));
    assert!(
        resp.attributes
            .contains(&Attribute::Realm("example.test".into()))
    );
}

#[tokio::test]
async fn plain_stun_over_tcp_reaches_the_relay() {
    let mux = start().await;
    let mut s = TcpStream::connect(mux.addr).await.unwrap();
    let req = Message::new(
        Class::Request,
        Method::BINDING,
        TransactionId::Stun([3; 12]),
    )
    .encode(None)
    .unwrap();
    s.write_all(&req).await.unwrap();
    let resp = read_exact(&mut s, 32).await;
    let resp = decode(&resp).unwrap();
    assert_eq!(resp.class, Class::SuccessResponse);
    let local = s.local_addr().unwrap();
    assert_eq!(resp.attributes, vec![Attribute::XorMappedAddress(local)]);
}

#[tokio::test]
async fn tls_sip_and_http_are_handed_off_with_their_first_bytes() {
    let mut mux = start().await;
    let mut tls = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    tls.extend_from_slice(&[0x11; 60]);
    let cases: [(&[u8], Protocol); 3] = [
        (&tls, Protocol::Tls),
        (
            b"REGISTER sip:example.test SIP/2.0\r\nVia: x\r\n",
            Protocol::Sip,
        ),
        (
            b"GET /meet HTTP/1.1\r\nHost: example.test\r\n",
            Protocol::Http,
        ),
    ];
    for (bytes, protocol) in cases {
        let mut s = TcpStream::connect(mux.addr).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let h = tokio::time::timeout(Duration::from_secs(5), mux.handoff.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(h.protocol, protocol);
        assert_eq!(h.client, s.local_addr().unwrap());
        // Everything read so far is handed over, and the stream continues after it.
        assert!(bytes.starts_with(&h.prefix), "{protocol:?}");
        let MuxStream::Plain(mut stream) = h.stream else {
            panic!("without a TLS config nothing is decrypted");
        };
        s.write_all(b"more").await.unwrap();
        let rest_len = bytes.len() - h.prefix.len() + 4;
        let mut rest = vec![0u8; rest_len];
        stream.read_exact(&mut rest).await.unwrap();
        assert!(rest.ends_with(b"more"));
    }
}

#[tokio::test]
async fn unknown_protocols_are_closed() {
    let mux = start().await;
    let mut s = TcpStream::connect(mux.addr).await.unwrap();
    s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "expected a clean close");
}

/// A self-signed edge certificate for `edge.example.test`, as server and client configs.
fn tls_pair() -> (Arc<ServerConfig443>, tokio_rustls::TlsConnector) {
    use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};
    let certified = rcgen::generate_simple_self_signed(vec!["edge.example.test".into()]).unwrap();
    let cert_der = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let server = ServerConfig443::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let client = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        Arc::new(server),
        tokio_rustls::TlsConnector::from(Arc::new(client)),
    )
}

async fn tls_connect(
    connector: &tokio_rustls::TlsConnector,
    addr: SocketAddr,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("edge.example.test").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// The 443 proof: TLS with SIP inside, TLS with HTTP inside, and MS-TURN pseudo-TLS,
/// on one port, each reaching its handler; plus TURN over TLS reaching the relay.
#[tokio::test]
async fn one_port_three_protocols_with_tls_terminated() {
    let (server_tls, connector) = tls_pair();
    let mut mux = start_with(Some(server_tls)).await;
    for (request, protocol, reply) in [
        (
            &b"REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/TLS x\r\n\r\n"[..],
            Protocol::Sip,
            &b"SIP/2.0 200 OK\r\n\r\n"[..],
        ),
        (
            &b"GET /meet HTTP/1.1\r\nHost: edge.example.test\r\n\r\n"[..],
            Protocol::Http,
            &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
        ),
    ] {
        let mut client = tls_connect(&connector, mux.addr).await;
        client.write_all(request).await.unwrap();
        let h = tokio::time::timeout(Duration::from_secs(5), mux.handoff.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(h.protocol, protocol);
        assert!(
            request.starts_with(&h.prefix),
            "{protocol:?}: plaintext prefix"
        );
        let MuxStream::Tls(mut stream) = h.stream else {
            panic!("{protocol:?} should arrive decrypted");
        };
        // The handler answers over the same TLS session.
        stream.write_all(reply).await.unwrap();
        stream.flush().await.unwrap();
        let got = read_exact_tls(&mut client, reply.len()).await;
        assert_eq!(got, reply);
    }
    // MS-TURN pseudo-TLS still reaches the relay on the same port.
    let mut s = TcpStream::connect(mux.addr).await.unwrap();
    s.write_all(&pseudo_tls_hello()).await.unwrap();
    assert_eq!(read_exact(&mut s, 83).await[5], 0x02);
    // And TURN over TLS (RFC 8656 §3.1) reaches the relay too.
    let mut client = tls_connect(&connector, mux.addr).await;
    let req = Message::new(
        Class::Request,
        Method::BINDING,
        TransactionId::Stun([4; 12]),
    )
    .encode(None)
    .unwrap();
    client.write_all(&req).await.unwrap();
    let resp = decode(&read_exact_tls(&mut client, 32).await).unwrap();
    assert_eq!(resp.class, Class::SuccessResponse);
    assert_eq!(resp.transaction_id, TransactionId::Stun([4; 12]));
}

async fn read_exact_tls(s: &mut tokio_rustls::client::TlsStream<TcpStream>, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    buf
}
