//! `convene ctl edge test` and `convene ctl diag`, run as the built binary against the
//! examples/seed-003 topologies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

const FOCUS: &str = "sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ";
const SEED_1017: &str = r#"1017;reason="Cannot route From and To domains in this combination";summary="Cannot route between the source and destination domains because partner discovery is not enabled";external-domain="tailspintoys.com";external-type="domain-type-remote";internal-domain="contoso.com";internal-type="domain-type-local";source="sipfed.contoso.com""#;

fn example(name: &str) -> String {
    let p: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "examples",
        "seed-003",
        name,
    ]
    .iter()
    .collect();
    p.to_str().unwrap().to_owned()
}

fn convene(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convene"))
        .args(args)
        .output()
        .expect("run convene")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn the_seed_walkthrough_join_prints_1017_and_the_anonymous_fallback() {
    let (contoso, tailspin, dns) = (
        example("contoso.toml"),
        example("tailspintoys.toml"),
        example("dns.toml"),
    );
    let o = convene(&[
        "ctl",
        "edge",
        "test",
        "--from",
        "sip:karen@contoso.com",
        "--to",
        FOCUS,
        "--join",
        "--topology",
        &contoso,
        "--peer-topology",
        &tailspin,
        "--dns",
        &dns,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("result   504 Server time-out"), "{out}");
    assert!(
        out.contains(&format!("ms-diagnostics: {SEED_1017}")),
        "{out}"
    );
    assert!(
        out.contains("[sipfed.contoso.com] [edge] partner_discovery = false"),
        "{out}"
    );
    assert!(out.contains("SRV _sipinternaltls._tcp.tailspintoys.com, SRV _sip._tls.tailspintoys.com -> sip.tailspintoys.com ports [5061]"), "{out}");
    assert!(
        out.contains("accept as an anonymous user (the roster shows \"Guest\")"),
        "{out}"
    );
    assert!(
        out.contains("summary: federated join fails, anonymous join works"),
        "{out}"
    );
}

#[test]
fn json_output_carries_the_exact_headers_and_the_trace() {
    let (contoso, tailspin, dns) = (
        example("contoso-discovery.toml"),
        example("tailspintoys-blocks-contoso.toml"),
        example("dns.toml"),
    );
    let o = convene(&[
        "ctl",
        "edge",
        "test",
        "--from",
        "sip:karen@contoso.com",
        "--to",
        FOCUS,
        "--join",
        "--topology",
        &contoso,
        "--peer-topology",
        &tailspin,
        "--dns",
        &dns,
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let fed = &v["federated"];
    assert_eq!(fed["allowed"], false);
    assert_eq!(fed["response"]["status"], 504);
    assert_eq!(
        fed["response"]["ms_diagnostics"][0],
        r#"1034;reason="Previous hop federated peer did not report diagnostic information";Domain="tailspintoys.com";PeerServer="sip.tailspintoys.com";source="sipfed.contoso.com""#
    );
    let steps: Vec<&str> = fed["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"blocked") && steps.contains(&"stripped"),
        "{steps:?}"
    );
    assert_eq!(v["fallback"]["because"], "by-status");
    assert_eq!(v["anonymous"]["allowed"], true);
    assert_eq!(v["summary"]["anonymous_join"], true);
}

#[test]
fn a_user_without_federation_gets_1002() {
    let o = convene(&[
        "ctl",
        "edge",
        "test",
        "--from",
        "sip:kim@contoso.com",
        "--to",
        "sip:garth@tailspintoys.com",
        "--topology",
        &example("contoso.toml"),
    ]);
    assert!(o.status.success());
    assert!(stdout(&o).contains(r#"ms-diagnostics: 1002;reason="From URI not authorized to communicate with federated partners";from-uri="kim@contoso.com";destination="garth@tailspintoys.com";source="sipfed.contoso.com""#), "{}", stdout(&o));
}

#[test]
fn missing_topology_is_a_clear_error() {
    let o = convene(&[
        "ctl",
        "edge",
        "test",
        "--from",
        "sip:a@contoso.com",
        "--to",
        "sip:b@x.com",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--topology FILE is required for now"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_bad_topology_is_located() {
    let path = std::env::temp_dir().join(format!("convene-edge-cli-{}.toml", std::process::id()));
    std::fs::write(
        &path,
        "[edge]\nfqdn = \"sipfed.contoso.com\"\nsip_domains = [{ domain = \"contoso.com\" }]\nallowed_domains = [{ domain = \"x.com\" }]\nblocked_domains = [{ domain = \"x.com\" }]\n",
    )
    .unwrap();
    let p = path.to_str().unwrap().to_owned();
    let o = convene(&[
        "ctl",
        "edge",
        "test",
        "--from",
        "sip:a@contoso.com",
        "--to",
        "sip:b@x.com",
        "--topology",
        &p,
    ]);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{p}:5:31: edge.blocked_domains[0].domain")),
        "{err}"
    );
    assert!(err.contains(&format!("also listed at {p}:4:31")), "{err}");
}

#[test]
fn join_needs_a_focus_uri() {
    let o = convene(&[
        "ctl",
        "edge",
        "test",
        "--from",
        "sip:a@contoso.com",
        "--to",
        "sip:b@x.com",
        "--join",
        "--topology",
        &example("contoso.toml"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--join needs a focus URI"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn diag_prints_one_entry_as_text_and_json() {
    let o = convene(&["ctl", "diag", "1064"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("reason:  Cannot route to blocked domain"),
        "{out}"
    );
    assert!(
        out.contains("status:  504 (observed in the field)"),
        "{out}"
    );

    let o = convene(&["ctl", "diag", "60001", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["id"], 60001);
    assert_eq!(v["status"], 403);
    assert_eq!(v["header"], "private-and-public");

    let o = convene(&["ctl", "diag", "9999"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("9999 is not an ms-diagnostics code"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn diag_markdown_is_the_committed_docs_page() {
    let o = convene(&["ctl", "diag", "--markdown"]);
    let committed = std::fs::read_to_string(
        [
            env!("CARGO_MANIFEST_DIR"),
            "..",
            "..",
            "docs",
            "diagnostics.md",
        ]
        .iter()
        .collect::<PathBuf>(),
    )
    .unwrap();
    assert_eq!(stdout(&o), committed);
}

#[test]
fn a_request_the_tested_edge_never_sees_is_refused() {
    let o = convene(&[
        "ctl",
        "edge",
        "test",
        "--from",
        "sip:a@fabrikam.com",
        "--to",
        "sip:b@x.com",
        "--topology",
        &example("contoso.toml"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("hosts neither fabrikam.com nor x.com (its SIP domains: contoso.com)"),
        "{}",
        stderr(&o)
    );
}
