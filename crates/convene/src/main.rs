//! `convene`: the server and its admin commands, one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc returns freed pages to the system after a short delay, so the server's memory
/// follows its live state (registrations, transactions) rather than its past peak. Built
/// without transparent huge pages: with them, every reuse of a purged page faulted in and
/// zeroed 2 MiB (13 % of the CPU under REGISTER load).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod ctl;
mod sip;
mod up;

/// Convene: an open-source unified-communications server speaking Microsoft's SIP dialect.
#[derive(Debug, Parser)]
#[command(name = "convene", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (all roles in one process; demo topology and dev certificates by default).
    Up(up::UpArgs),
    /// Work on raw SIP messages: `convene sip check FILE…` parses and validates them.
    #[command(subcommand)]
    Sip(sip::SipCommand),
    /// Administer a Convene deployment: topology, voice routing, edge policy, diagnostics.
    #[command(subcommand)]
    Ctl(ctl::CtlCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Ctl(cmd) => ctl::run(cmd),
        Command::Sip(cmd) => sip::run(cmd),
        Command::Up(args) => up::run(args),
    }
}
