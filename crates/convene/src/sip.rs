//! `convene sip …`: tools that work on SIP messages without a server.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde::Serialize;
use sip_msg::{Message, ParseError, StartLine};

/// Commands on raw SIP messages.
#[derive(Debug, Subcommand)]
pub enum SipCommand {
    /// Parse and validate raw SIP messages (one per file, bytes exactly as on the wire).
    ///
    /// Prints a short summary of each message, or the fault with its byte offset and what the
    /// grammar expected there. Exit status 0 if every message parsed, 1 otherwise, 2 if a file
    /// could not be read.
    Check {
        /// Files holding one message each; `-` (or nothing) reads one message from standard input.
        files: Vec<PathBuf>,
        /// Print one JSON document (an array, one object per message) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// What `sip check` reports for one message.
#[derive(Debug, Serialize)]
struct Report {
    file: String,
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorReport>,
}

#[derive(Debug, Serialize)]
struct Summary {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    call_id: Option<String>,
    cseq: Option<String>,
    headers: usize,
    body_length: usize,
}

#[derive(Debug, Serialize)]
struct ErrorReport {
    offset: usize,
    line: usize,
    column: usize,
    part: String,
    expected: String,
    /// The status a server answers such a request with.
    status: u16,
}

/// Runs a `sip` command.
pub fn run(cmd: SipCommand) -> ExitCode {
    match cmd {
        SipCommand::Check { files, json } => check(files, json),
    }
}

fn check(mut files: Vec<PathBuf>, json: bool) -> ExitCode {
    if files.is_empty() {
        files.push(PathBuf::from("-"));
    }
    let mut reports = Vec::with_capacity(files.len());
    for f in &files {
        let name = f.display().to_string();
        let bytes = if name == "-" {
            let mut b = Vec::new();
            std::io::stdin().read_to_end(&mut b).map(|_| b)
        } else {
            std::fs::read(f)
        };
        match bytes {
            Ok(b) => reports.push(check_one(name, b)),
            Err(e) => {
                eprintln!("convene sip check: cannot read {name}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if json {
        match serde_json::to_string_pretty(&reports) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("convene sip check: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        for r in &reports {
            print_text(r);
        }
    }
    if reports.iter().all(|r| r.ok) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn check_one(file: String, bytes: Vec<u8>) -> Report {
    let line_col = |offset: usize| {
        let before = bytes.get(..offset).unwrap_or(&bytes);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        (line, col)
    };
    let error_report = |e: &ParseError| {
        let (line, column) = line_col(e.offset);
        ErrorReport {
            offset: e.offset,
            line,
            column,
            part: e.part.to_string(),
            expected: e.expected.to_string(),
            status: e.status_code(),
        }
    };
    let msg = match Message::parse(bytes.clone()) {
        Ok(m) => m,
        Err(e) => {
            return Report {
                file,
                ok: false,
                summary: None,
                error: Some(error_report(&e)),
            };
        }
    };
    let summary = summarize(&msg);
    match msg.validate() {
        Ok(()) => Report {
            file,
            ok: true,
            summary: Some(summary),
            error: None,
        },
        Err(e) => Report {
            file,
            ok: false,
            summary: Some(summary),
            error: Some(error_report(&e)),
        },
    }
}

fn summarize(m: &Message) -> Summary {
    let (kind, method, request_uri, status, reason) = match m.start_line() {
        StartLine::Request(r) => (
            "request",
            Some(r.method.to_string()),
            Some(r.uri.to_string()),
            None,
            None,
        ),
        StartLine::Response(s) => ("response", None, None, Some(s.code), Some(s.reason.clone())),
    };
    Summary {
        kind,
        method,
        request_uri,
        status,
        reason,
        call_id: m.call_id().ok().flatten().map(|c| c.0),
        cseq: m.cseq().ok().flatten().map(|c| c.to_string()),
        headers: m.headers().len(),
        body_length: m.body().len(),
    }
}

fn print_text(r: &Report) {
    if let Some(s) = &r.summary {
        let first = match (&s.method, &s.request_uri, s.status, &s.reason) {
            (Some(m), Some(u), _, _) => format!("{m} {u}"),
            (_, _, Some(code), Some(reason)) => format!("{code} {reason}"),
            _ => String::new(),
        };
        println!(
            "{}: {} {first} | Call-ID {} | CSeq {} | {} headers | body {} bytes",
            r.file,
            if r.ok { "ok" } else { "INVALID" },
            s.call_id.as_deref().unwrap_or("-"),
            s.cseq.as_deref().unwrap_or("-"),
            s.headers,
            s.body_length
        );
    }
    if let Some(e) = &r.error {
        println!(
            "{}: error at byte {} (line {}, column {}): malformed {}: {} (a server answers {})",
            r.file, e.offset, e.line, e.column, e.part, e.expected, e.status
        );
    }
}
