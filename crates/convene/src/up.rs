//! `convene up`: start the server on an embedded default (demo topology, dev certificates,
//! loopback listeners) or on the given topology and addresses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use net::Proto;

/// Options of `convene up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Data directory: development certificates (tls/), later the store.
    #[arg(long, default_value = "./convene-data")]
    data: PathBuf,
    /// Topology file (default: the demo topology built into the binary, topology/demo.toml).
    #[arg(long)]
    topology: Option<PathBuf>,
    /// Listen address as PROTO:ADDR (udp, tcp or tls), e.g. `udp:127.0.0.1:5060`,
    /// `tls:[::1]:5061`; repeat for several. Replaces the defaults (UDP/TCP 5060, TLS 5061 on 127.0.0.1).
    #[arg(long = "listen", value_parser = parse_listen)]
    listen: Vec<(Proto, SocketAddr)>,
    /// Media relay listener as KIND:ADDR: `udp:` and `tcp:` for TURN, `mux:` for the shared
    /// port that carries SIP over TLS, HTTPS and MS-TURN. Repeat for several; replaces the
    /// listen addresses of the topology's [relay] section (the demo's: UDP/TCP
    /// 127.0.0.1:3478, shared 127.0.0.1:4443; 443 in production).
    #[arg(long = "relay-listen", value_parser = parse_relay_listen)]
    relay_listen: Vec<(RelayKind, SocketAddr)>,
    /// Run no media relay and no shared port, whatever the topology's [relay] says.
    #[arg(long, conflicts_with = "relay_listen")]
    no_relay: bool,
    /// Digest algorithms offered in challenges, most preferred first (RFC 8760 §2.4), e.g.
    /// `MD5` for clients that take the first challenge even when they cannot compute it
    /// (SIPp). Default: SHA-256,MD5.
    #[arg(long, value_delimiter = ',', value_parser = parse_algorithm)]
    digest_algorithms: Vec<sip_auth::Algorithm>,
    /// The admin API's address (HTTP, bearer token in DATA/admin.token; the address is written
    /// to DATA/admin.json for `convene ctl`). Only loopback addresses are accepted.
    #[arg(long, default_value = "127.0.0.1:0", value_parser = parse_admin_listen)]
    admin_listen: SocketAddr,
    /// DNS server (IP:PORT) for next hops given by host name (RFC 3263 NAPTR/SRV/A lookups);
    /// repeat for several. Default: the system's (/etc/resolv.conf and /etc/hosts).
    #[arg(long = "dns-server", conflicts_with = "no_dns")]
    dns_server: Vec<SocketAddr>,
    /// Resolve no host names: only IP addresses (and `maddr`) in next hops are reached.
    #[arg(long)]
    no_dns: bool,
}

fn parse_admin_listen(s: &str) -> Result<SocketAddr, String> {
    let a = s
        .parse::<SocketAddr>()
        .map_err(|_| format!("{s:?}: expected IP:PORT, e.g. 127.0.0.1:9090"))?;
    if a.ip().is_loopback() {
        Ok(a)
    } else {
        Err(format!(
            "{s:?}: the admin API listens on loopback only (127.0.0.1 or [::1])"
        ))
    }
}

fn parse_algorithm(s: &str) -> Result<sip_auth::Algorithm, String> {
    match sip_auth::Algorithm::from_token(s) {
        Some(a) if !a.is_sess() => Ok(a),
        _ => Err(format!(
            "{s:?}: the digest algorithm must be SHA-256 or MD5"
        )),
    }
}

/// A relay listener kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RelayKind {
    Udp,
    Tcp,
    Mux,
}

fn parse_relay_listen(s: &str) -> Result<(RelayKind, SocketAddr), String> {
    let (kind, addr) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected KIND:ADDR, e.g. udp:127.0.0.1:3478"))?;
    let kind = match kind.to_ascii_lowercase().as_str() {
        "udp" => RelayKind::Udp,
        "tcp" => RelayKind::Tcp,
        "mux" => RelayKind::Mux,
        other => {
            return Err(format!(
                "{other:?}: the relay listener must be udp, tcp or mux"
            ));
        }
    };
    let addr = addr
        .parse::<SocketAddr>()
        .map_err(|_| format!("{addr:?}: expected IP:PORT (IPv6 in brackets: [::1]:3478)"))?;
    Ok((kind, addr))
}

fn parse_listen(s: &str) -> Result<(Proto, SocketAddr), String> {
    let (proto, addr) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected PROTO:ADDR, e.g. udp:127.0.0.1:5060"))?;
    let proto = match proto.to_ascii_lowercase().as_str() {
        "udp" => Proto::Udp,
        "tcp" => Proto::Tcp,
        "tls" => Proto::Tls,
        other => return Err(format!("{other:?}: the transport must be udp, tcp or tls")),
    };
    let addr = addr
        .parse::<SocketAddr>()
        .map_err(|_| format!("{addr:?}: expected IP:PORT (IPv6 in brackets: [::1]:5060)"))?;
    Ok((proto, addr))
}

/// Runs the server until SIGTERM or Ctrl-C.
pub fn run(args: UpArgs) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONVENE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal: a log file or pipe gets plain `key=value` text to grep.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("convene up: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let topology = match server::Topology::load(args.topology.as_deref()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("convene up: {e}");
                return ExitCode::from(2);
            }
        };
        let listen = if args.listen.is_empty() {
            server::default_listen()
        } else {
            args.listen
        };
        // The relay of the topology's [relay] section; --relay-listen replaces its listen
        // addresses (and runs a relay with defaults when the topology has none).
        let relay = if args.no_relay {
            None
        } else if args.relay_listen.is_empty() {
            topology.model.relay_plan()
        } else {
            let pick = |k: RelayKind| {
                args.relay_listen
                    .iter()
                    .find(|(q, _)| *q == k)
                    .map(|(_, a)| *a)
            };
            let (udp, tcp, shared) = (
                pick(RelayKind::Udp),
                pick(RelayKind::Tcp),
                pick(RelayKind::Mux),
            );
            Some(match topology.model.relay_plan() {
                Some(mut r) => {
                    (r.udp, r.tcp, r.shared) = (udp, tcp, shared);
                    r
                }
                None => {
                    let realm = topology
                        .deployment
                        .domains
                        .first()
                        .cloned()
                        .unwrap_or_default();
                    server::relay::command_line_only(&realm, udp, tcp, shared)
                }
            })
        };
        let settings = server::Settings {
            data_dir: args.data,
            topology,
            listen,
            relay,
            digest_algorithms: args.digest_algorithms,
            admin_listen: args.admin_listen,
            dns: if args.no_dns {
                None
            } else if args.dns_server.is_empty() {
                Some(sip_dns::LocatorConfig::default())
            } else {
                Some(sip_dns::LocatorConfig::servers(
                    args.dns_server,
                    std::time::Duration::from_secs(2),
                    2,
                ))
            },
        };
        let running = match server::start(settings).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("convene up: {e}");
                return ExitCode::FAILURE;
            }
        };
        // Catch the stop signals before saying we are up: a SIGTERM sent as soon as the lines
        // below appear must stop us cleanly, not kill us by its default action.
        let shutdown = shutdown_signal();
        // One line per listener on stdout, for people and for tests that start us on port 0.
        for (proto, addr) in running.net.local_addrs() {
            println!(
                "listening {} {addr}",
                proto.via_token().to_ascii_lowercase()
            );
        }
        if let Some(r) = &running.relay {
            for (what, addr) in &r.local {
                println!("listening {what} {addr}");
            }
        }
        println!("listening admin http://{}", running.admin_addr);
        println!("ca {}", running.pki.ca_cert.display());
        shutdown.await;
        tracing::info!("shutting down");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Registers for SIGTERM and SIGINT (Ctrl-C) now, and returns the wait for either.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            match (term, int) {
                (Some(mut term), Some(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                (Some(mut one), None) | (None, Some(mut one)) => {
                    one.recv().await;
                }
                (None, None) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
