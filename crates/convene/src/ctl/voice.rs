//! `convene ctl voice …`: ask the voice routing engine where a call would go, on a
//! topology file, without a running server (like Lync's Test-CsVoiceRoute /
//! Test-CsVoiceUser).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use voice::{Engine, Outcome, Referrer, ReferrerTrust, RequestInput};

/// Exit code when the call is rejected.
const EXIT_REJECTED: u8 = 1;
/// Exit code for a usage or configuration error.
const EXIT_USAGE: u8 = 2;

/// The voice verbs.
#[derive(Debug, Subcommand)]
pub enum VoiceCommand {
    /// Decide where a call goes and print the decision with its routing trace.
    /// Exit status: 0 routed / local user / call park / unassigned treatment,
    /// 1 rejected, 2 usage or configuration error.
    Test(TestArgs),
}

/// Arguments of `convene ctl voice test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The caller (From / asserted identity), e.g. `sip:alice@example.test` or
    /// `sip:+19058825000@example.test;user=phone`.
    #[arg(long, value_name = "URI")]
    from: String,
    /// The number or Request-URI called: `+14165752695`, `tel:…`, `sip:…;user=phone`.
    #[arg(long, value_name = "NUMBER")]
    to: String,
    /// A Referred-By / transferor, taken as signed (as a UCMA Transferor or an AV MCU
    /// dial-out produces it).
    #[arg(long, value_name = "URI")]
    referred_by: Option<String>,
    /// Treat --referred-by as an unsigned Referred-By (routing ignores it).
    #[arg(long, requires = "referred_by")]
    unsigned_referrer: bool,
    /// Flag the call as an emergency call.
    #[arg(long)]
    emergency: bool,
    /// Flag the call as an AV MCU conference dial-out.
    #[arg(long)]
    conference_dial_out: bool,
    /// The topology file whose [voice] section is used.
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// Print the decision and trace as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `convene ctl voice …`.
pub fn run(cmd: VoiceCommand) -> ExitCode {
    match cmd {
        VoiceCommand::Test(args) => test(&args),
    }
}

fn test(args: &TestArgs) -> ExitCode {
    let Some(path) = &args.topology else {
        eprintln!(
            "error: --topology FILE is required (there is no default topology yet); \
             e.g. --topology examples/seed-001/topology.toml"
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let file = path.display().to_string();
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {file}: cannot read the topology file: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let engine = match Engine::from_topology_str(&src, &file) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let input = RequestInput {
        from: &args.from,
        request_uri: &args.to,
        referrer: args.referred_by.as_deref().map(|uri| Referrer {
            uri,
            trust: if args.unsigned_referrer {
                ReferrerTrust::Unverified
            } else {
                ReferrerTrust::Signed
            },
        }),
        emergency: args.emergency,
        conference_dial_out: args.conference_dial_out,
    };
    let decision = engine.decide(&input);
    let text = if args.json {
        let doc = serde_json::json!({
            "decision": decision.outcome,
            "trace": decision.trace,
            "trace_text": decision.trace.lines(),
        });
        match serde_json::to_string_pretty(&doc) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("error: cannot write JSON: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        let mut s = format!("Decision: {}\n", decision.outcome);
        if let Outcome::Rejected(r) = &decision.outcome {
            s += &format!("  to change this: {}\n", r.fix);
        }
        s += "\nTrace:\n";
        for line in decision.trace.lines() {
            s += &format!("  {line}\n");
        }
        s
    };
    // A closed pipe (`| head`) is not an error worth a panic.
    if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: cannot write to stdout: {e}");
        return ExitCode::from(EXIT_USAGE);
    }
    if decision.outcome.is_accepted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REJECTED)
    }
}
