//! End to end: coturn's `turnutils_uclient` allocates, creates permissions, binds channels and
//! relays UDP through Convene's relay to coturn's `turnutils_peer` echo peer (Debian package
//! `coturn`, installed by scripts/test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::UdpSocket as StdUdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use turn_proto::server::ServerConfig;

/// Kills the child process when dropped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free UDP port on 127.0.0.1 (bound, then released).
fn free_udp_port() -> u16 {
    StdUdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free UDP port on 127.0.0.1 that is not in `range`.
fn free_udp_port_outside(range: &std::ops::RangeInclusive<u16>) -> u16 {
    loop {
        let p = free_udp_port();
        if !range.contains(&p) {
            return p;
        }
    }
}

/// The demo-like relay config; `amplification_factor` overrides the default when given.
fn config(amplification_factor: Option<usize>) -> ServerConfig {
    let mut c = ServerConfig::new("example.test", [5; 32]);
    c.add_user("turnuser", "turnpass");
    c.credentials.set_auth_secret(b"demo-secret");
    c.relay_ipv4 = Some("127.0.0.1".parse().unwrap());
    let base = free_udp_port().clamp(20000, 60000);
    c.relay_ports = base..=base + 200;
    // The echo peer runs on loopback: nothing is denied here.
    c.denied_peers = Vec::new();
    if let Some(f) = amplification_factor {
        c.amplification_factor = f;
    }
    c
}

/// Runs uclient (for at most `limit` seconds) against a fresh relay; returns its
/// stdout+stderr, exit success and the relay's counters.
async fn run_uclient(
    config: ServerConfig,
    limit: u32,
    args: &[&str],
) -> (String, bool, turn_proto::server::Stats) {
    // UDP and TCP on the same port number, like 3478.
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)).await {
            break (udp, tcp);
        }
    };
    let port = udp.local_addr().unwrap().port();
    let (stop_tx, stop_rx) = watch::channel(false);
    let listeners = turn_relay::Listeners {
        udp: Some(udp),
        tcp: Some(tcp),
        mux: None,
    };
    // The relay rightly refuses (403) a peer on its own IP inside its relayed port range, so the
    // echo peer must listen outside that range.
    let relayed = config.relay_ports.clone();
    let peer_port = free_udp_port_outside(&relayed);
    let relay = tokio::spawn(turn_relay::run(listeners, config, stop_rx));
    let _peer = Reaper(
        Command::new("turnutils_peer")
            .args(["-L", "127.0.0.1", "-p", &peer_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnutils_peer (Debian package coturn) must be installed"),
    );
    let mut cmd = Command::new("timeout");
    cmd.args([limit.to_string().as_str(), "turnutils_uclient"])
        .args(args)
        .args([
            "-p",
            &port.to_string(),
            "-e",
            "127.0.0.1",
            "-r",
            &peer_port.to_string(),
        ])
        .arg("127.0.0.1");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    stop_tx.send(true).unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(5), relay)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    (text, out.status.success(), stats)
}

/// The lost-packet count uclient reports.
fn lost_packets(output: &str) -> Option<u64> {
    let line = output.lines().find(|l| l.contains("Total lost packets"))?;
    let after = line.split("Total lost packets").nth(1)?;
    after.split_whitespace().next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_relays_through_channels_with_long_term_credentials() {
    let (out, ok, stats) = run_uclient(
        config(None),
        60,
        &[
            "-u", "turnuser", "-w", "turnpass", "-n", "20", "-m", "2", "-l", "120", "-z", "5",
        ],
    )
    .await;
    assert!(ok, "uclient failed:\n{out}");
    assert_eq!(lost_packets(&out), Some(0), "{out}");
    assert!(stats.allocations_created >= 2, "{stats:?}\n{out}");
    assert!(stats.to_peer_packets >= 40, "{stats:?}");
    assert!(stats.to_client_packets >= 40, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_relays_send_indications_with_rest_credentials() {
    let (out, ok, stats) = run_uclient(
        config(None),
        60,
        &[
            "-s",
            "-W",
            "demo-secret",
            "-u",
            "alice",
            "-n",
            "20",
            "-m",
            "1",
            "-l",
            "200",
            "-z",
            "5",
        ],
    )
    .await;
    assert!(ok, "uclient failed:\n{out}");
    assert_eq!(lost_packets(&out), Some(0), "{out}");
    assert!(stats.to_peer_packets >= 20, "{stats:?}");
    assert!(stats.to_client_packets >= 20, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_relays_over_tcp_to_the_server() {
    let (out, ok, stats) = run_uclient(
        config(None),
        60,
        &[
            "-t", "-u", "turnuser", "-w", "turnpass", "-n", "20", "-m", "2", "-l", "101", "-z", "5",
        ],
    )
    .await;
    assert!(ok, "uclient failed:\n{out}");
    assert_eq!(lost_packets(&out), Some(0), "{out}");
    assert!(stats.allocations_created >= 2, "{stats:?}");
    assert!(stats.to_peer_packets >= 40, "{stats:?}");
    assert!(stats.to_client_packets >= 40, "{stats:?}");
}

/// Why the default amplification factor is 3, not 1: uclient's first Allocate is smaller than
/// the 401 that challenges it, so a never-larger rule leaves it without credentials' nonce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_cannot_allocate_when_replies_may_never_exceed_requests() {
    let (out, ok, stats) = run_uclient(
        config(Some(1)),
        3,
        &[
            "-u", "turnuser", "-w", "turnpass", "-n", "5", "-m", "1", "-z", "5",
        ],
    )
    .await;
    assert!(!ok, "{out}");
    assert_eq!(stats.allocations_created, 0, "{stats:?}");
    assert!(stats.dropped_amplification >= 1, "{stats:?}");
}
