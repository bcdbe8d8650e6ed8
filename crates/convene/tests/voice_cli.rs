//! `convene ctl voice test` on the seed-001 example, run as the admin would (issue 7).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TOPOLOGY: &str = "examples/seed-001/topology.toml";
const PSTN_CALLER: &str = "sip:+19058825000@example.test;user=phone";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn convene(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convene"))
        .current_dir(workspace())
        .args(["ctl", "voice", "test"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn seed_001_as_it_failed_is_rejected_404_1003() {
    let o = convene(&[
        "--topology",
        TOPOLOGY,
        "--from",
        PSTN_CALLER,
        "--to",
        "+14165752695",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.starts_with(
            "Decision: rejected: 404 Not Found, ms-diagnostics: 1003;reason=\"User does not exist\""
        ),
        "{out}"
    );
    assert!(out.contains("  Caller not UC enabled.\n"), "{out}");
    assert!(out.contains("From user UC enabled: False"), "{out}");
    assert!(out.contains("Referrer URI: <null>"), "{out}");
}

#[test]
fn seed_001_with_referred_by_is_routed_to_pstn_gw() {
    let o = convene(&[
        "--topology",
        TOPOLOGY,
        "--from",
        PSTN_CALLER,
        "--to",
        "+14165752695",
        "--referred-by",
        "sip:alice@example.test",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("  1. trunk pstn-gw → gw1.example.test:5067 (tls), number 14165752695"),
        "{out}"
    );
    assert!(
        out.contains("Routing request based on referrer: sip:alice@example.test"),
        "{out}"
    );
    assert!(!out.contains("Caller not UC enabled"), "{out}");
}

#[test]
fn json_output_carries_the_decision_and_trace() {
    let o = convene(&[
        "--topology",
        TOPOLOGY,
        "--from",
        PSTN_CALLER,
        "--to",
        "+14165752695",
        "--referred-by",
        "sip:alice@example.test",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"]["outcome"], "routed");
    assert_eq!(v["decision"]["on_behalf_of"], "sip:alice@example.test");
    assert_eq!(v["decision"]["attempts"][0]["trunk"], "pstn-gw");
    assert_eq!(v["decision"]["attempts"][0]["number"], "14165752695");
    assert_eq!(v["trace"][0]["step"], "transaction");
    let steps = v["trace"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["step"] == "routing_on_referrer"));
    assert!(!v["trace_text"].as_array().unwrap().is_empty());

    let o = convene(&[
        "--topology",
        TOPOLOGY,
        "--from",
        PSTN_CALLER,
        "--to",
        "+14165752695",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["decision"]["outcome"], "rejected");
    assert_eq!(v["decision"]["diag"]["status"], 404);
    assert_eq!(v["decision"]["diag"]["code"], 1003);
    assert_eq!(
        v["decision"]["fix"]["kind"],
        "enable_caller_or_signed_referrer"
    );
}

#[test]
fn accepted_outcomes_exit_zero() {
    for (to, want) in [
        ("0048", "Decision: local user sip:alice@example.test"),
        ("*150", "Decision: call park orbit *150"),
        (
            "+19058140500",
            "Decision: unassigned number (range 905-814-0xxx)",
        ),
    ] {
        let o = convene(&[
            "--topology",
            TOPOLOGY,
            "--from",
            "sip:alice@example.test",
            "--to",
            to,
        ]);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{out}");
        assert!(out.starts_with(want), "{out}");
    }
}

#[test]
fn missing_topology_is_a_usage_error() {
    let o = convene(&["--from", PSTN_CALLER, "--to", "+14165752695"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("--topology FILE is required"), "{err}");
}

#[test]
fn broken_topology_is_a_config_error_with_position() {
    let dir = std::env::temp_dir().join(format!("convene-voice-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[voice]\n[[voice.route]]\nname = \"r\"\npattern = '^\\+1'\nusages = [\"U\"]\ntrunks = [\"nope\"]\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let o = convene(&["--topology", path, "--from", PSTN_CALLER, "--to", "+1"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains(&format!(
            "{path}:6:11: voice.route[0].trunks: trunk `nope` is not defined"
        )),
        "{err}"
    );
    let o = convene(&[
        "--topology",
        "/nonexistent/topology.toml",
        "--from",
        "a",
        "--to",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}
