//! Runs every cell of seed 003's meeting-join matrices (tests/seed003_matrix.toml) through
//! the whole join — federated attempt across the deployments' edges, the client's fallback
//! decision, the anonymous attempt — and prints a table of every mismatch (none allowed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use federation::{Dns, EdgeConfig, FocusUri, Policy, SipUri, SrvTarget, World};
use serde::Deserialize;

const MATRIX: &str = include_str!("seed003_matrix.toml");
const FILE: &str = "crates/federation/tests/seed003_matrix.toml";
const GUID: &str = "36825c7a-a4ea-430b-aa85-e8aa6ee97ebc";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Matrix {
    dns: DnsTable,
    scenario: Vec<Scenario>,
    cell: Vec<Cell>,
    topology: BTreeMap<String, TopologyDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsTable {
    a: Vec<String>,
    srv: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    id: u32,
    title: String,
    attendee: String,
    focus: String,
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cell {
    scenario: u32,
    attendee_config: String,
    organizer_config: String,
    topologies: Vec<String>,
    status: Option<u16>,
    diag: Option<u32>,
    federated_join: bool,
    anonymous_join: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopologyDoc {
    edge: EdgeConfig,
}

#[test]
fn every_seed_003_cell_comes_out_exactly() {
    let m: Matrix = toml::from_str(MATRIX).unwrap_or_else(|e| panic!("{FILE}: {e}"));
    let mut dns = Dns::new();
    for a in &m.dns.a {
        dns.add_a(a);
    }
    for (name, target) in &m.dns.srv {
        dns.add_srv(name, SrvTarget::parse(target).unwrap());
    }
    for (name, t) in &m.topology {
        t.edge
            .validate(MATRIX, FILE)
            .unwrap_or_else(|e| panic!("topology {name}: {e}"));
    }
    // The transcription is complete: 10 + 10 + 6 + 6 cells (Tables 3, 4, "4", 5).
    let per_scenario: Vec<usize> = (1..=4)
        .map(|s| m.cell.iter().filter(|c| c.scenario == s).count())
        .collect();
    assert_eq!(per_scenario, [10, 10, 6, 6]);

    let mut mismatches = Vec::new();
    let mut table = Vec::new();
    let mut headers_checked = 0;
    for (i, cell) in m.cell.iter().enumerate() {
        let sc = m.scenario.iter().find(|s| s.id == cell.scenario).unwrap();
        let deployments = cell
            .topologies
            .iter()
            .map(|n| {
                let t = m
                    .topology
                    .get(n)
                    .unwrap_or_else(|| panic!("no topology {n}"));
                Policy::new(t.edge.clone())
            })
            .collect();
        let world = World::new(deployments, dns.clone());
        let attendee = SipUri::parse(&sc.attendee).unwrap();
        let focus = FocusUri::parse(&sc.focus).unwrap();
        let report = world.join(&attendee, &focus, GUID);
        let summary = report.summary();
        let resp = report.federated.response();
        let got_status = resp.map(|r| r.status);
        let got_diag = resp.and_then(|r| r.codes().first().copied());
        let label = format!(
            "#{i} S{}: {} | {}",
            cell.scenario, cell.attendee_config, cell.organizer_config
        );
        let mut wrong = Vec::new();
        if got_status != cell.status {
            wrong.push(format!("status {:?} != {:?}", got_status, cell.status));
        }
        if got_diag != cell.diag {
            wrong.push(format!("diag {:?} != {:?}", got_diag, cell.diag));
        }
        if summary.federated_join != cell.federated_join {
            wrong.push(format!("federated_join {}", summary.federated_join));
        }
        if summary.anonymous_join != cell.anonymous_join {
            wrong.push(format!("anonymous_join {}", summary.anonymous_join));
        }
        if let Some(r) = resp {
            // One server added one ms-diagnostics (MS-SIP.md §1.3), as in every seed response.
            if r.diagnostics.len() != 1 {
                wrong.push(format!("{} ms-diagnostics headers", r.diagnostics.len()));
            }
            if let (Some(d), Some(code)) = (r.diagnostics.first(), got_diag)
                && let Some(expected) = sc.headers.get(&code.to_string())
            {
                headers_checked += 1;
                if &d.header_value() != expected {
                    wrong.push(format!(
                        "header\n      got      {}\n      expected {expected}",
                        d.header_value()
                    ));
                }
            }
        }
        let show = |status: Option<u16>, diag: Option<u32>, fed: bool, anon: bool| {
            let rc = status.map_or("-".to_owned(), |s| s.to_string());
            let dc = diag.map_or("-".to_owned(), |d| d.to_string());
            format!("{rc:>3} {dc:>5} fed={} anon={}", yn(fed), yn(anon))
        };
        table.push(format!(
            "| S{} | {:<72} | {:<48} | {} | {} | {} |",
            cell.scenario,
            cell.attendee_config,
            cell.organizer_config,
            show(
                cell.status,
                cell.diag,
                cell.federated_join,
                cell.anonymous_join
            ),
            show(
                got_status,
                got_diag,
                summary.federated_join,
                summary.anonymous_join
            ),
            if wrong.is_empty() { "ok" } else { "MISMATCH" }
        ));
        if !wrong.is_empty() {
            let trace: Vec<String> = report
                .federated
                .trace
                .steps
                .iter()
                .chain(report.anonymous.iter().flat_map(|a| a.trace.steps.iter()))
                .map(|s| format!("      [{}] {}", s.at, s.step))
                .collect();
            mismatches.push(format!(
                "{label}\n    {}\n    trace:\n{}",
                wrong.join("\n    "),
                trace.join("\n")
            ));
        }
    }
    println!(
        "seed 003: {} cells, {} exact header values checked, {} mismatches",
        m.cell.len(),
        headers_checked,
        mismatches.len()
    );
    for s in &m.scenario {
        println!("  {}", s.title);
    }
    println!(
        "| sc | {:<72} | {:<48} | {:<23} | {:<23} |    |",
        "attendee side", "organizer side", "seed", "Convene"
    );
    for row in &table {
        println!("{row}");
    }
    assert!(
        mismatches.is_empty(),
        "mismatches:\n{}",
        mismatches.join("\n")
    );
    // Every header value the seed prints was reproduced by at least one cell.
    let printed: usize = m.scenario.iter().map(|s| s.headers.len()).sum();
    assert!(headers_checked >= printed, "{headers_checked} < {printed}");
}

fn yn(b: bool) -> &'static str {
    if b { "y" } else { "n" }
}
