//! `convene ctl edge test`: what the access edge decides for one request or meeting join,
//! with the exact response and the reasoning, computed by the `federation` crate from the
//! `[edge]` sections of topology files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use federation::discovery::{Dns, SrvTarget, parse_dns};
use federation::world::Decision;
use federation::{FocusUri, JoinReport, Outcome, Policy, Response, SipUri, World, load_file};
use serde_json::{Value, json};

/// The edge verbs.
#[derive(Debug, Subcommand)]
pub enum EdgeCommand {
    /// Decide one request (or, with --join, a client's whole meeting join) and explain it.
    Test(TestArgs),
}

/// Arguments of `convene ctl edge test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The sender, e.g. sip:karen@contoso.com (a …@anonymous.invalid sender is an anonymous user).
    #[arg(long)]
    from: String,
    /// The target: a user, or a focus URI sip:org@domain;gruu;opaque=app:conf:focus:id:ID.
    #[arg(long)]
    to: String,
    /// Run a client's meeting join: the federated attempt, the client's fallback decision and
    /// the anonymous attempt (--to must be a focus URI).
    #[arg(long)]
    join: bool,
    /// Topology file whose [edge] section is tested (required for now).
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// Topology files of partner deployments, to follow the request through their edges too;
    /// partners without one are assumed to accept.
    #[arg(long = "peer-topology", value_name = "FILE")]
    peer_topology: Vec<PathBuf>,
    /// DNS answers as TOML (`a = [..]` and a [srv] table); see examples/seed-003/dns.toml.
    #[arg(long, value_name = "FILE")]
    dns: Option<PathBuf>,
    /// One more SRV answer, NAME=HOST:PORT (repeatable).
    #[arg(long, value_name = "NAME=HOST:PORT")]
    srv: Vec<String>,
    /// GUID for the anonymous identity of --join.
    #[arg(long, default_value = "00000000-0000-4000-8000-000000000001")]
    guid: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `convene ctl edge …`.
pub fn run(cmd: EdgeCommand) -> ExitCode {
    match cmd {
        EdgeCommand::Test(args) => match test(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
        },
    }
}

fn test(args: &TestArgs) -> Result<(), String> {
    let Some(topology) = &args.topology else {
        return Err(
            "--topology FILE is required for now: the edge policy is read from the \
             [edge] section of a topology file (example: examples/seed-003/contoso.toml, \
             see examples/seed-003/README.md)"
                .to_owned(),
        );
    };
    let mut deployments = vec![load(topology)?];
    for p in &args.peer_topology {
        deployments.push(load(p)?);
    }
    let dns = load_dns(args)?;
    let from = SipUri::parse(&args.from).map_err(|e| format!("--from: {e}"))?;
    let to = SipUri::parse(&args.to).map_err(|e| format!("--to: {e}"))?;
    let tested = &deployments[0];
    let organizer = FocusUri::from_uri(&to).map(|f| f.organizer().domain().to_owned());
    let involved = tested.hosted(from.domain()).is_some()
        || tested.hosted(to.domain()).is_some()
        || organizer.is_ok_and(|d| tested.hosted(&d).is_some());
    if !involved {
        let hosted: Vec<&str> = tested
            .config()
            .sip_domains
            .iter()
            .map(|d| d.domain.get_ref().as_str())
            .collect();
        return Err(format!(
            "{} hosts neither {} nor {} (its SIP domains: {}); test a request that starts or ends there",
            topology.display(),
            from.domain(),
            to.domain(),
            hosted.join(", ")
        ));
    }
    let world = World::new(deployments, dns);
    if args.join {
        let focus = FocusUri::from_uri(&to)
            .map_err(|e| format!("--join needs a focus URI in --to: {e}"))?;
        let report = world.join(&from, &focus, &args.guid);
        if args.json {
            print_json(&join_json(&from, &focus, &report))
        } else {
            let mut out = String::new();
            print_join(&mut out, &from, &focus, &report);
            emit(&out);
            Ok(())
        }
    } else {
        let d = world.request(&from, &to);
        if args.json {
            print_json(&decision_json(&d))
        } else {
            let mut out = format!("request  {from} -> {to}\n");
            print_decision(&mut out, &d, "");
            emit(&out);
            Ok(())
        }
    }
}

fn load(path: &Path) -> Result<Policy, String> {
    load_file(path).map(Policy::new).map_err(|e| e.to_string())
}

fn load_dns(args: &TestArgs) -> Result<Dns, String> {
    let mut dns = match &args.dns {
        Some(p) => {
            let file = p.display().to_string();
            let text =
                std::fs::read_to_string(p).map_err(|e| format!("{file}: cannot read: {e}"))?;
            *parse_dns(&text, &file)
                .map_err(|e| e.to_string())
                .map(Box::new)?
        }
        None => Dns::new(),
    };
    for s in &args.srv {
        let (name, target) = s
            .split_once('=')
            .ok_or_else(|| format!("--srv {s:?}: expected NAME=HOST:PORT"))?;
        let t = SrvTarget::parse(target)
            .ok_or_else(|| format!("--srv {s:?}: expected NAME=HOST:PORT"))?;
        dns.add_srv(name, t);
    }
    Ok(dns)
}

fn print_json(v: &Value) -> Result<(), String> {
    let s = serde_json::to_string_pretty(v).map_err(|e| format!("cannot encode JSON: {e}"))?;
    emit(&format!("{s}\n"));
    Ok(())
}

/// Writes the whole output at once; a closed pipe (`| head`) is not an error.
pub(super) fn emit(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn print_response(out: &mut String, r: &Response, indent: &str) {
    let _ = writeln!(out, "{indent}result   {} {}", r.status, r.reason_phrase());
    for d in &r.diagnostics {
        let _ = writeln!(out, "{indent}         ms-diagnostics: {}", d.header_value());
    }
    if let Some(p) = &r.public {
        let _ = writeln!(
            out,
            "{indent}         ms-diagnostics-public: {}",
            p.public_value()
        );
    }
}

fn print_decision(out: &mut String, d: &Decision, indent: &str) {
    match &d.outcome {
        Outcome::Allowed => {
            let _ = writeln!(out, "{indent}result   allowed");
        }
        Outcome::Rejected(r) => print_response(out, r, indent),
    }
    let _ = writeln!(out, "{indent}reasoning:");
    for (i, s) in d.trace.steps.iter().enumerate() {
        let _ = writeln!(out, "{indent}  {:>2}. [{}] {}", i + 1, s.at, s.step);
    }
}

fn print_join(out: &mut String, from: &SipUri, focus: &FocusUri, j: &JoinReport) {
    let _ = writeln!(out, "meeting join  {from} -> {focus}");
    let _ = writeln!(out, "federated join:");
    print_decision(out, &j.federated, "  ");
    match (&j.fallback, &j.anonymous) {
        (Some(f), None) => {
            let _ = writeln!(out, "client: {f}");
        }
        (fallback, Some(a)) => {
            match fallback {
                Some(f) => {
                    let _ = writeln!(out, "anonymous join: the client {f}");
                }
                None => {
                    let _ = writeln!(out, "anonymous join: not needed; evaluated as if tried");
                }
            }
            if let Some(t) = &j.anonymous_target {
                let _ = writeln!(
                    out,
                    "  via      {} ports {:?} (from {})",
                    t.host, t.ports, t.query
                );
            }
            print_decision(out, a, "  ");
        }
        (None, None) => {}
    }
    let s = j.summary();
    let _ = writeln!(
        out,
        "summary: federated join {}, anonymous join {}",
        works(s.federated_join),
        works(s.anonymous_join)
    );
}

fn works(b: bool) -> &'static str {
    if b { "works" } else { "fails" }
}

fn response_json(r: &Response) -> Value {
    json!({
        "status": r.status,
        "reason": r.reason_phrase(),
        "ms_diagnostics": r.diagnostics.iter().map(|d| d.header_value()).collect::<Vec<_>>(),
        "ms_diagnostics_public": r.public.as_ref().map(|d| d.public_value()),
    })
}

fn decision_json(d: &Decision) -> Value {
    let trace: Vec<Value> = d
        .trace
        .steps
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("text".into(), Value::String(s.step.to_string()));
            }
            v
        })
        .collect();
    json!({
        "allowed": d.outcome == Outcome::Allowed,
        "response": d.response().map(response_json),
        "trace": trace,
    })
}

fn join_json(from: &SipUri, focus: &FocusUri, j: &JoinReport) -> Value {
    let s = j.summary();
    json!({
        "from": from.to_string(),
        "focus": focus.to_string(),
        "federated": decision_json(&j.federated),
        "fallback": j.fallback,
        "anonymous_target": j.anonymous_target,
        "anonymous": j.anonymous.as_ref().map(decision_json),
        "summary": s,
    })
}
