//! `convene ctl …`: admin commands. Each family of verbs lives in its own
//! module under `ctl/` and adds one variant to [`CtlCommand`].

use std::process::ExitCode;

use clap::Subcommand;

mod certs;
mod diag;
mod edge;
mod live;
mod topology;
mod turn;
mod voice;

/// The admin verbs.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Print the version of this build.
    Version,
    /// Look up ms-diagnostics codes: `diag <code> [--json]`, `diag --markdown`.
    Diag(diag::DiagArgs),
    /// Access-edge federation: `edge test --from URI --to URI [--join] --topology FILE`.
    #[command(subcommand)]
    Edge(edge::EdgeCommand),
    /// Enterprise Voice routing: test where a call goes and why.
    #[command(subcommand)]
    Voice(voice::VoiceCommand),
    /// Media relay: ephemeral TURN credentials, decode captured STUN/TURN bytes.
    #[command(subcommand)]
    Turn(turn::TurnCommand),
    /// The topology file: `topology check [FILE]`, `topology show [FILE] [--json]`.
    #[command(subcommand)]
    Topology(topology::TopologyCommand),
    /// Certificates per pool: `certs init --topology FILE --out DIR`, `certs check --topology FILE --certs DIR`.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// The running server's counters (requests, registrations, challenges, transactions…).
    Stats(live::DataDir),
    /// The decision trace of a call on the running server: `trace <call-id> [--data DIR]`.
    Trace(live::TraceArgs),
    /// Users: `user add|set-password <aor> --password …`, `user remove <aor>`, `user bindings <aor>`, `user list`.
    #[command(subcommand)]
    User(live::UserCommand),
    /// Static routes of the running server: `static-route add|list|remove`.
    #[command(subcommand)]
    StaticRoute(live::StaticRouteCommand),
    /// Trusted application pools of the running server: `trusted-app-pool add|list`.
    #[command(subcommand)]
    TrustedAppPool(live::PoolCommand),
    /// Trusted applications of the running server: `trusted-app add|list`.
    #[command(subcommand)]
    TrustedApp(live::AppCommand),
}

/// Runs one admin command and returns the process exit code.
pub fn run(cmd: CtlCommand) -> ExitCode {
    match cmd {
        CtlCommand::Version => {
            println!("convene {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        CtlCommand::Diag(args) => diag::run(args),
        CtlCommand::Edge(cmd) => edge::run(cmd),
        CtlCommand::Voice(cmd) => voice::run(cmd),
        CtlCommand::Turn(cmd) => turn::run(cmd),
        CtlCommand::Topology(cmd) => topology::run(cmd),
        CtlCommand::Certs(cmd) => certs::run(cmd),
        CtlCommand::Stats(d) => live::stats(d),
        CtlCommand::Trace(args) => live::trace(args),
        CtlCommand::User(cmd) => live::user(cmd),
        CtlCommand::StaticRoute(cmd) => live::static_route(cmd),
        CtlCommand::TrustedAppPool(cmd) => live::trusted_app_pool(cmd),
        CtlCommand::TrustedApp(cmd) => live::trusted_app(cmd),
    }
}
