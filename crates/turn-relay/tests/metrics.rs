//! The driver publishes the core's counters for the admin service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use turn_proto::server::{ServerConfig, Stats};
use turn_proto::{Attribute, Class, Message, Method, TransactionId};
use turn_relay::Listeners;

#[tokio::test]
async fn counters_are_published_on_the_metrics_channel() {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let mut config = ServerConfig::new("example.test", [1; 32]);
    config.relay_ipv4 = Some("127.0.0.1".parse().unwrap());
    let (stop, stop_rx) = watch::channel(false);
    let (metrics_tx, metrics) = watch::channel(Stats::default());
    let listeners = Listeners {
        udp: Some(udp),
        ..Listeners::default()
    };
    let relay = tokio::spawn(turn_relay::run_with_metrics(
        listeners, config, stop_rx, metrics_tx,
    ));
    // An Allocate without credentials, padded so the 401 may be sent: one error response.
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let req = Message::new(
        Class::Request,
        Method::ALLOCATE,
        TransactionId::Stun([1; 12]),
    )
    .with(Attribute::RequestedTransport(17))
    .with(Attribute::Software("p".repeat(64)))
    .encode(None)
    .unwrap();
    client.send_to(&req, addr).await.unwrap();
    let mut buf = [0u8; 512];
    tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    stop.send(true).unwrap();
    let final_stats = relay.await.unwrap().unwrap();
    assert_eq!(final_stats.error_responses, 1);
    assert_eq!(*metrics.borrow(), final_stats);
}
