//! `convene ctl …`: admin commands. Each family of verbs lives in its own
//! module under `ctl/` and adds one variant to [`CtlCommand`].

use std::process::ExitCode;

use clap::Subcommand;

mod voice;

/// The admin verbs.
#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Print the version of this build.
    Version,
    /// Enterprise Voice routing: test where a call goes and why.
    #[command(subcommand)]
    Voice(voice::VoiceCommand),
}

/// Runs one admin command and returns the process exit code.
pub fn run(cmd: CtlCommand) -> ExitCode {
    match cmd {
        CtlCommand::Version => {
            println!("convene {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        CtlCommand::Voice(cmd) => voice::run(cmd),
    }
}
