//! Table-driven routing and configuration cases from `cases.toml` (issue 7): each case
//! is a topology + a request + the expected decision + key trace lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use voice::{ConfigError, Engine, Outcome, Referrer, ReferrerTrust, RequestInput, Step};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    topology: HashMap<String, Topology>,
    case: Vec<Case>,
    config_error: Vec<ConfigCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Topology {
    file: Option<String>,
    text: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    topology: String,
    from: String,
    to: String,
    referred_by: Option<String>,
    #[serde(default = "yes")]
    referrer_signed: bool,
    #[serde(default)]
    emergency: bool,
    expect: String,
    status: Option<u16>,
    code: Option<u32>,
    #[serde(default)]
    trunks: Vec<String>,
    #[serde(default)]
    numbers: Vec<String>,
    target: Option<String>,
    #[serde(default)]
    trace: Vec<String>,
    #[serde(default)]
    not_trace: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigCase {
    name: String,
    text: String,
    line: usize,
    column: usize,
    field: String,
    contains: Vec<String>,
}

fn table() -> Table {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = std::fs::read_to_string(dir.join("tests/cases.toml")).unwrap();
    toml::from_str(&src).unwrap()
}

fn topology_text(t: &Topology) -> (String, String) {
    match (&t.file, &t.text) {
        (Some(f), None) => {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
            (std::fs::read_to_string(&path).unwrap(), f.clone())
        }
        (None, Some(text)) => (text.clone(), "snippet.toml".to_string()),
        _ => panic!("a topology needs exactly one of file and text"),
    }
}

/// Checks one case; returns what is wrong, if anything.
fn check(case: &Case, engine: &Engine) -> Vec<String> {
    let mut wrong = Vec::new();
    let input = RequestInput {
        from: &case.from,
        request_uri: &case.to,
        referrer: case.referred_by.as_deref().map(|uri| Referrer {
            uri,
            trust: if case.referrer_signed {
                ReferrerTrust::Signed
            } else {
                ReferrerTrust::Unverified
            },
        }),
        emergency: case.emergency,
        conference_dial_out: false,
    };
    let d = engine.decide(&input);
    let kind = match &d.outcome {
        Outcome::LocalUser { .. } => "local_user",
        Outcome::Routed { .. } => "routed",
        Outcome::Unassigned { .. } => "unassigned",
        Outcome::CallPark { .. } => "call_park",
        Outcome::Rejected(_) => "rejected",
    };
    if kind != case.expect {
        wrong.push(format!("expected {}, got {}", case.expect, d.outcome));
    }
    match &d.outcome {
        Outcome::Rejected(r) => {
            if Some(r.diag.status) != case.status || Some(r.diag.code) != case.code {
                wrong.push(format!(
                    "expected {:?}/{:?}, got {}/{}",
                    case.status, case.code, r.diag.status, r.diag.code
                ));
            }
            // The last step of a rejection says what would change it.
            match d.trace.steps.last() {
                Some(Step::Rejected { diag, fix }) if *diag == r.diag && *fix == r.fix => {}
                other => wrong.push(format!("last step is not the rejection: {other:?}")),
            }
        }
        Outcome::Routed { attempts, .. } => {
            let trunks: Vec<&str> = attempts.iter().map(|a| &*a.trunk).collect();
            let numbers: Vec<&str> = attempts.iter().map(|a| &*a.number).collect();
            if trunks != case.trunks || numbers != case.numbers {
                wrong.push(format!(
                    "expected trunks {:?} numbers {:?}, got {trunks:?} {numbers:?}",
                    case.trunks, case.numbers
                ));
            }
        }
        Outcome::LocalUser { uri: t, .. }
        | Outcome::Unassigned { range: t, .. }
        | Outcome::CallPark { orbit: t, .. } => {
            if Some(&**t) != case.target.as_deref() {
                wrong.push(format!("expected target {:?}, got {t}", case.target));
            }
        }
    }
    if !matches!(d.outcome, Outcome::Rejected(_)) && (case.status.is_some() || case.code.is_some())
    {
        wrong.push("status/code given for an accepted outcome".to_string());
    }
    // Expected trace lines appear in order.
    let lines = d.trace.lines();
    let mut from = 0;
    for want in &case.trace {
        match lines
            .iter()
            .skip(from)
            .position(|l| l.contains(want.as_str()))
        {
            Some(p) => from += p + 1,
            None => wrong.push(format!("trace lacks (in order) {want:?}")),
        }
    }
    for unwanted in &case.not_trace {
        if lines.iter().any(|l| l.contains(unwanted.as_str())) {
            wrong.push(format!("trace has {unwanted:?}"));
        }
    }
    if !wrong.is_empty() {
        wrong.push(format!("trace was:\n  {}", lines.join("\n  ")));
    }
    wrong
}

#[test]
fn routing_cases() {
    let table = table();
    let mut engines = HashMap::new();
    for (name, t) in &table.topology {
        let (src, file) = topology_text(t);
        let engine = Engine::from_topology_str(&src, &file)
            .unwrap_or_else(|e| panic!("topology {name}: {e}"));
        engines.insert(name.clone(), engine);
    }
    assert!(table.case.len() >= 30, "the table lost cases");
    let mut failures = Vec::new();
    for case in &table.case {
        let engine = engines
            .get(&case.topology)
            .unwrap_or_else(|| panic!("case {}: no topology {}", case.name, case.topology));
        let wrong = check(case, engine);
        if !wrong.is_empty() {
            failures.push(format!("case {:?}:\n{}", case.name, wrong.join("\n")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn config_error_cases() {
    let table = table();
    assert!(table.config_error.len() >= 10, "the table lost cases");
    let mut failures = Vec::new();
    for case in &table.config_error {
        let err = match Engine::from_topology_str(&case.text, "t.toml") {
            Ok(_) => {
                failures.push(format!("{}: accepted", case.name));
                continue;
            }
            Err(e) => e,
        };
        let (location, field) = match &err {
            ConfigError::Toml {
                location, field, ..
            }
            | ConfigError::Invalid {
                location, field, ..
            } => (location, field),
            ConfigError::MissingVoice { .. } => {
                failures.push(format!("{}: {err}", case.name));
                continue;
            }
        };
        let text = err.to_string();
        let mut wrong = Vec::new();
        if (location.line, location.column) != (case.line, case.column) {
            wrong.push(format!(
                "at {}:{}, expected {}:{}",
                location.line, location.column, case.line, case.column
            ));
        }
        if *field != case.field {
            wrong.push(format!("field {field}, expected {}", case.field));
        }
        if !text.starts_with(&format!(
            "t.toml:{}:{}: {field}: ",
            location.line, location.column
        )) {
            wrong.push("message does not start with file:line:column: field".to_string());
        }
        if !text.contains("; fix: ") {
            wrong.push("message has no fix".to_string());
        }
        for c in &case.contains {
            if !text.contains(c.as_str()) {
                wrong.push(format!("message lacks {c:?}"));
            }
        }
        if !wrong.is_empty() {
            failures.push(format!("{}: {text}\n  {}", case.name, wrong.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
