//! `convene ctl diag`: look up ms-diagnostics codes in the catalogue (`crates/diag`).

use std::process::ExitCode;

use clap::Args;
use diag::{CATALOGUE, DiagCode, lookup};

/// Arguments of `convene ctl diag`.
#[derive(Debug, Args)]
pub struct DiagArgs {
    /// The ErrorId to print; without it, list every code.
    code: Option<u32>,
    /// Print JSON instead of text.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print the whole catalogue as Markdown (the content of docs/diagnostics.md).
    #[arg(long, conflicts_with = "code")]
    markdown: bool,
}

/// Runs `convene ctl diag`.
pub fn run(args: DiagArgs) -> ExitCode {
    if args.markdown {
        super::edge::emit(&diag::markdown());
        return ExitCode::SUCCESS;
    }
    match args.code {
        Some(id) => match lookup(id) {
            Some(c) if args.json => print_json(c),
            Some(c) => {
                print_entry(c);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!(
                    "error: {id} is not an ms-diagnostics code Convene emits; `convene ctl diag` lists them all"
                );
                ExitCode::from(2)
            }
        },
        None if args.json => match serde_json::to_string_pretty(CATALOGUE) {
            Ok(s) => {
                super::edge::emit(&format!("{s}\n"));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot encode the catalogue as JSON: {e}");
                ExitCode::FAILURE
            }
        },
        None => {
            let list: String = CATALOGUE
                .iter()
                .map(|c| format!("{:>5}  {}  {}\n", c.id, c.status, c.reason))
                .collect();
            super::edge::emit(&list);
            ExitCode::SUCCESS
        }
    }
}

fn print_json(c: &'static DiagCode) -> ExitCode {
    match serde_json::to_string_pretty(c) {
        Ok(s) => {
            super::edge::emit(&format!("{s}\n"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot encode code {} as JSON: {e}", c.id);
            ExitCode::FAILURE
        }
    }
}

fn print_entry(c: &'static DiagCode) {
    use std::fmt::Write as _;
    let mut out = String::new();
    let evidence = match c.status_evidence {
        diag::StatusEvidence::Observed => "observed in the field",
        diag::StatusEvidence::Chosen => "Convene's choice",
    };
    let _ = writeln!(out, "ms-diagnostics {}", c.id);
    let _ = writeln!(out, "  reason:  {}", c.reason);
    let _ = writeln!(out, "  status:  {} ({evidence})", c.status);
    let _ = writeln!(out, "  header:  {}", c.header.label());
    if !c.params.is_empty() {
        let _ = writeln!(out, "  params:  {}", c.params.join(", "));
    }
    let _ = writeln!(out, "  meaning: {}", c.meaning);
    let _ = writeln!(out, "  fix:     {}", c.fix);
    let _ = writeln!(out, "  source:  {}", c.citation);
    let _ = writeln!(
        out,
        "  example: ms-diagnostics: {}",
        c.diagnostic().source("<this server's FQDN>").header_value()
    );
    super::edge::emit(&out);
}
