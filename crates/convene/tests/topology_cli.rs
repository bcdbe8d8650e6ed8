//! `convene ctl topology check|show` and `convene ctl certs init|check`, run as the admin
//! would (issue 6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn convene(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convene"))
        .current_dir(workspace())
        .arg("ctl")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// Problems in three sections: an unknown key in a pool, a user in a domain we do not serve,
/// a static route for our own domain. The user section is fine as TOML, so its problem is
/// reported although the pool section is not readable.
const BROKEN: &str = r#"[[sip_domain]]
name = "example.test"
[[site]]
name = "HQ"
[[pool]]
fqdn = "fe.example.test"
site = "HQ"
roles = ["front-end"]
port = 5061
[[static_route]]
match_uri = "example.test"
next_hop = "gw.partner.test"
port = 5061
transport = "tls"
[[user]]
aor = "sip:alice@other.test"
pool = "fe.example.test"
password_in_store = true
"#;

#[test]
fn check_accepts_the_demo_and_the_seed_examples() {
    for file in [
        "topology/demo.toml",
        "examples/seed-001/topology.toml",
        "examples/seed-003/contoso.toml",
        "examples/seed-003/contoso-discovery.toml",
        "examples/seed-003/tailspintoys.toml",
        "examples/seed-003/tailspintoys-blocks-contoso.toml",
    ] {
        let o = convene(&["topology", "check", file]);
        let out = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{file}: {out}");
        assert!(
            out.starts_with(&format!(
                "{file}: ok: 1 SIP domain(s), 1 site(s), 1 pool(s)"
            )),
            "{out}"
        );
    }
}

#[test]
fn check_names_an_unknown_top_level_key_and_reads_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.toml");
    // A topology written before the model existed: a top-level `domain` key and no domain table.
    std::fs::write(&file, "# old style\ndomain = \"example.test\"\n").unwrap();
    let f = file.to_str().unwrap();
    let o = convene(&["topology", "check", f]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.starts_with(&format!("{f}:1:1: sip_domain: ")), "{out}");
    assert!(
        out.contains(&format!("{f}:2:1: domain: unknown field `domain`")),
        "{out}"
    );
}

#[test]
fn check_reports_every_problem_as_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, BROKEN).unwrap();
    let f = file.to_str().unwrap();
    let o = convene(&["topology", "check", f]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with(&format!("{f}:9:1: pool[0].port: unknown field `port`")),
        "{out}"
    );
    assert!(
        lines[0].ends_with("fix: remove the key or correct its spelling to one of the keys listed")
    );
    assert!(lines[1].starts_with(&format!("{f}:11:13: static_route[0].match_uri: `example.test` is one of our own SIP domains; fix: ")), "{out}");
    assert!(lines[2].starts_with(&format!("{f}:16:7: user[0].aor: `other.test` is not one of our SIP domains (example.test); fix: ")), "{out}");
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(err.contains("3 problem(s)"), "{err}");
}

#[test]
fn show_prints_the_topology_without_ha1_values() {
    let o = convene(&["topology", "show", "topology/demo.toml"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("pool fe.example.test: front-end :5061, edge :443, mediation :5070"),
        "{out}"
    );
    assert!(out.contains("user sip:bob@example.test \"Bob Example\" on fe.example.test: Digest HA1 (MD5, SHA-256) realm example.test"), "{out}");
    let o = convene(&["topology", "show", "topology/demo.toml", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["pools"][0]["fqdn"], "fe.example.test");
    assert_eq!(v["pools"][0]["ports"]["edge"], 443);
    assert_eq!(v["users"][2]["aor"], "sip:carol@example.test");
    assert_eq!(v["users"][2]["password"]["ha1_md5"], "(set)");
    // The HA1 of the demo file appears nowhere in the output.
    assert!(
        !String::from_utf8(o.stdout)
            .unwrap()
            .contains("15f830a33eae87f14aa1d373bb4217ca")
    );
}

fn init(topology: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "certs",
        "init",
        "--topology",
        topology,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    convene(&args)
}

fn check(topology: &str, certs: &Path) -> Output {
    convene(&[
        "certs",
        "check",
        "--topology",
        topology,
        "--certs",
        certs.to_str().unwrap(),
    ])
}

/// A front end with two machines and a trusted application pool with its own certificate.
const TWO_POOLS: &str = r#"[[sip_domain]]
name = "example.test"
[[site]]
name = "HQ"
[[pool]]
fqdn = "fe.example.test"
site = "HQ"
machines = ["fe1.example.test", "fe2.example.test"]
roles = ["front-end"]
certificate = "fe"
[[pool]]
fqdn = "kam.partner.test"
site = "HQ"
roles = ["trusted-application"]
registrar = "fe.example.test"
certificate = "kam"
"#;

#[test]
fn certs_init_then_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("t.toml");
    std::fs::write(&topo, TWO_POOLS).unwrap();
    let t = topo.to_str().unwrap();
    let certs = dir.path().join("certs");
    let o = init(t, &certs, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = stdout(&o);
    assert!(out.contains("fe.example.test: names fe.example.test, fe1.example.test, fe2.example.test, sip.example.test; EKU Server and Client Authentication"), "{out}");
    assert!(
        out.contains(
            "kam.partner.test: names kam.partner.test; EKU Server and Client Authentication"
        ),
        "{out}"
    );
    for f in ["ca.pem", "ca.key", "fe.pem", "fe.key", "kam.pem", "kam.key"] {
        assert!(certs.join(f).exists(), "{f}");
    }
    #[cfg(unix)]
    for f in ["ca.key", "fe.key", "kam.key"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(certs.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let o = check(t, &certs);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains(": ok (")).count(),
        2,
        "{out}"
    );

    // A second init refuses to replace the CA without --force.
    let o = init(t, &certs, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8(o.stderr).unwrap().contains("use --force"));
}

#[test]
fn certificate_without_client_auth_fails_check_naming_the_eku() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("t.toml");
    std::fs::write(&topo, TWO_POOLS).unwrap();
    let t = topo.to_str().unwrap();
    let certs = dir.path().join("certs");
    let o = init(t, &certs, &["--server-auth-only", "kam.partner.test"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        stdout(&o)
            .contains("kam.partner.test: names kam.partner.test; EKU Server Authentication only")
    );
    let o = check(t, &certs);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let bad: Vec<&str> = out.lines().filter(|l| !l.contains(": ok (")).collect();
    assert_eq!(bad.len(), 1, "{out}");
    assert!(
        bad[0].contains(
            "kam.pem: kam.partner.test: the certificate lacks the Client Authentication EKU"
        ),
        "{out}"
    );
    assert!(bad[0].ends_with("fix: reissue the certificate with both Server Authentication and Client Authentication EKUs"), "{out}");
}

#[test]
fn certificate_from_another_ca_or_missing_a_name_fails_check() {
    let dir = tempfile::tempdir().unwrap();
    let topo = dir.path().join("t.toml");
    std::fs::write(&topo, TWO_POOLS).unwrap();
    let t = topo.to_str().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert_eq!(init(t, &a, &[]).status.code(), Some(0));
    assert_eq!(init(t, &b, &[]).status.code(), Some(0));
    std::fs::copy(b.join("ca.pem"), a.join("ca.pem")).unwrap();
    let o = check(t, &a);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert_eq!(
        out.matches("the certificate does not chain to the CA")
            .count(),
        2,
        "{out}"
    );

    // The topology grows a machine the certificate does not name.
    let grown = TWO_POOLS.replace(
        "\"fe2.example.test\"]",
        "\"fe2.example.test\", \"fe3.example.test\"]",
    );
    std::fs::write(&topo, grown).unwrap();
    let o = check(t, &b);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("fe.pem: fe.example.test: the certificate does not name `fe3.example.test` (subjectAltName); fix: reissue"), "{out}");
}

/// `topology check` validates `[relay]` with the other sections and describes it when valid;
/// `topology show --json` never prints a TURN key.
#[test]
fn check_validates_the_relay_section_and_show_hides_its_keys() {
    let o = convene(&["topology", "check", "topology/demo.toml"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("[relay]: listens on udp 127.0.0.1:3478, tcp 127.0.0.1:3478, shared 127.0.0.1:4443; relays from 127.0.0.1 and ::1 ports 49152-49999"),
        "{out}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("relay.toml");
    let demo = std::fs::read_to_string(workspace().join("topology/demo.toml")).unwrap();
    // A relay problem and another section's problem, both reported.
    let broken = demo
        .replace("min_port = 49152", "min_port = 60000")
        .replace("site = \"HQ\"", "site = \"HQX\"");
    std::fs::write(&file, &broken).unwrap();
    let f = file.to_str().unwrap();
    let o = convene(&["topology", "check", f]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let at = |text: &str, needle: &str| {
        let line = text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;
        format!("{f}:{line}:")
    };
    assert!(
        out.lines()
            .any(|l| l.starts_with(&at(&broken, "site = ")) && l.contains("pool[0].site")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with(&at(&broken, "max_port"))
            && l.contains("relay.max_port: the relayed port range 60000-49999 is empty")),
        "{out}"
    );
    // A password in clear is refused with the way to write its key instead.
    let broken = demo.replace(
        "key_md5 = \"36e7466b8e55005496e5b3a11383b695\"",
        "password = \"turnpass\"",
    );
    std::fs::write(&file, &broken).unwrap();
    let o = convene(&["topology", "check", f]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&at(&broken, "password = "))
                && l.contains("relay.user[0].password")
                && l.contains("fix: never write a password into the topology: give key_md5")),
        "{out}"
    );

    let o = convene(&["topology", "show", "topology/demo.toml", "--json"]);
    let text = String::from_utf8(o.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["relay"]["user"][0]["username"], "turnuser");
    assert_eq!(v["relay"]["user"][0]["key_md5"], "(set)");
    assert!(!text.contains("36e7466b8e55005496e5b3a11383b695"));
}
