//! The loader never panics, whatever the text: arbitrary bytes, and TOML-ish text built from
//! the topology's own keys and values, and every error it returns is located in the text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use topology::Topology;

fn tomlish() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        Just("[[sip_domain]]".to_owned()),
        Just("[[site]]".to_owned()),
        Just("[[pool]]".to_owned()),
        Just("[[trusted_application]]".to_owned()),
        Just("[[static_route]]".to_owned()),
        Just("[[federated_partner]]".to_owned()),
        Just("[[user]]".to_owned()),
        Just("[user.password]".to_owned()),
        Just("[voice]".to_owned()),
        Just("[edge]".to_owned()),
        Just("[pool.ports]".to_owned()),
        (
            prop::sample::select(vec![
                "name",
                "fqdn",
                "site",
                "roles",
                "machines",
                "certificate",
                "registrar",
                "id",
                "pool",
                "port",
                "match_uri",
                "next_hop",
                "transport",
                "domain",
                "edge_fqdn",
                "aor",
                "realm",
                "ha1_md5",
                "password",
                "front-end",
                "é",
                ""
            ]),
            prop::sample::select(vec![
                "\"example.test\"",
                "\"fe.example.test\"",
                "\"HQ\"",
                "[\"front-end\", \"edge\"]",
                "[\"trusted-application\"]",
                "5062",
                "0",
                "70000",
                "true",
                "\"tls\"",
                "\"sip:alice@example.test\"",
                "{ edge = 5061 }",
                "[",
                "\"",
                "\"\u{1F600}\"",
                "-1"
            ]),
        )
            .prop_map(|(k, v)| format!("{k} = {v}")),
        "[ -~]{0,20}",
    ];
    prop::collection::vec(line, 0..30).prop_map(|l| l.join("\n"))
}

fn check(text: &str) {
    if let Err(e) = Topology::parse(text, "p.toml") {
        assert!(!e.0.is_empty());
        let lines = text.split('\n').count();
        for err in &e.0 {
            assert!(err.line >= 1 && err.line <= lines.max(1), "{err}");
            assert!(err.column >= 1, "{err}");
            assert!(!err.fix.is_empty(), "{err}");
        }
    }
}

proptest! {
    #[test]
    fn never_panics_on_tomlish_text(text in tomlish()) {
        check(&text);
    }

    #[test]
    fn never_panics_on_any_text(text in "\\PC{0,200}") {
        check(&text);
    }
}
