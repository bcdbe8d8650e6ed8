//! `convene ctl …`: admin commands. Each family of verbs lives in its own
//! module under `ctl/` and adds one variant to [`CtlCommand`].

use std::process::ExitCode;

use clap::Subcommand;

mod turn;

/// The admin verbs.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Print the version of this build.
    Version,
    /// Media relay: ephemeral TURN credentials, decode captured STUN/TURN bytes.
    #[command(subcommand)]
    Turn(turn::TurnCommand),
}

/// Runs one admin command and returns the process exit code.
pub fn run(cmd: CtlCommand) -> ExitCode {
    match cmd {
        CtlCommand::Version => {
            println!("convene {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        CtlCommand::Turn(cmd) => turn::run(cmd),
    }
}
