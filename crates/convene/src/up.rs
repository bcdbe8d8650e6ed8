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
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
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
        let settings = server::Settings {
            data_dir: args.data,
            topology,
            listen,
        };
        let running = match server::start(settings).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("convene up: {e}");
                return ExitCode::FAILURE;
            }
        };
        // One line per listener on stdout, for people and for tests that start us on port 0.
        for (proto, addr) in running.net.local_addrs() {
            println!(
                "listening {} {addr}",
                proto.via_token().to_ascii_lowercase()
            );
        }
        println!("ca {}", running.pki.ca_cert.display());
        wait_for_shutdown().await;
        tracing::info!("shutting down");
        running.stop();
        ExitCode::SUCCESS
    })
}

async fn wait_for_shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
