//! A stand-alone relay for benchmarks and manual tests until `convene` grows its relay role.
//!
//! `relay LISTEN_ADDR RELAY_IP MIN_PORT-MAX_PORT USER:PASSWORD REALM [allow-loopback]`
//! listens on UDP and TCP LISTEN_ADDR and runs until killed.

use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use turn_proto::server::{IpRange, ServerConfig};
use turn_relay::Listeners;

/// Parses the command line into the listen address and the server config.
fn parse(args: &[String]) -> Result<(SocketAddr, ServerConfig), String> {
    let usage =
        "usage: relay LISTEN_ADDR RELAY_IP MIN_PORT-MAX_PORT USER:PASSWORD REALM [allow-loopback]";
    let [listen, relay_ip, ports, user, realm, rest @ ..] = args else {
        return Err(usage.to_owned());
    };
    let listen: SocketAddr = listen
        .parse()
        .map_err(|e| format!("LISTEN_ADDR {listen}: {e}"))?;
    let relay_ip = relay_ip
        .parse()
        .map_err(|e| format!("RELAY_IP {relay_ip}: {e}"))?;
    let (lo, hi) = ports
        .split_once('-')
        .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
        .ok_or_else(|| format!("ports `{ports}`: expected MIN-MAX, e.g. 49152-65535"))?;
    let (name, password) = user
        .split_once(':')
        .ok_or_else(|| format!("user `{user}`: expected USER:PASSWORD"))?;
    let mut secret = [0u8; 32];
    let seed = std::collections::hash_map::RandomState::new();
    for (i, chunk) in secret.chunks_exact_mut(8).enumerate() {
        use std::hash::BuildHasher;
        chunk.copy_from_slice(&seed.hash_one(i).to_le_bytes());
    }
    let mut config = ServerConfig::new(realm, secret);
    config.add_user(name, password);
    config.relay_ipv4 = Some(relay_ip);
    config.relay_ports = lo..=hi;
    config.max_allocations_per_user = 100_000;
    config.denied_peers = if rest.iter().any(|a| a == "allow-loopback") {
        Vec::new()
    } else {
        IpRange::loopback_and_private()
    };
    Ok((listen, config))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (listen, config) = match parse(&args) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let udp = UdpSocket::bind(listen)
            .await
            .map_err(|e| format!("UDP {listen}: {e}"))?;
        let tcp = TcpListener::bind(listen)
            .await
            .map_err(|e| format!("TCP {listen}: {e}"))?;
        let (_stop, stop_rx) = watch::channel(false);
        let listeners = Listeners {
            udp: Some(udp),
            tcp: Some(tcp),
            mux: None,
        };
        turn_relay::run(listeners, config, stop_rx)
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(stats) => {
            eprintln!("{stats:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
