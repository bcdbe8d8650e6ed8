//! Loading `[edge]` from topology files: good files load, bad ones fail with file:line:column,
//! the field, what is wrong and how to fix it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use federation::config::{ConfigError, LoadError, TenantMode, VerificationLevel};
use federation::parse_topology;

const GOOD: &str = r#"
[site]
name = "other owners' tables are ignored"

[edge]
fqdn = "sipfed.contoso.com"
federation = true
partner_discovery = false
sip_domains = [{ domain = "contoso.com" }]
allowed_domains = [{ domain = "tailspintoys.com", edge_fqdn = "sip.tailspintoys.com" }]
blocked_domains = [{ domain = "northwindtraders.com" }]
hosting_providers = [{ name = "LyncOnline", edge_fqdn = "sipfed.online.lync.com", verification = "use-source-verification" }]

[edge.external_access_policies.nofed]
federation = false

[[edge.users]]
uri = "sip:kim@contoso.com"
external_access = "nofed"

[voice]
anything = 1
"#;

fn invalid(text: &str) -> ConfigError {
    match parse_topology(text, "topology.toml") {
        Err(LoadError::Invalid(e)) => *e,
        other => panic!("expected a located error, got {other:?}"),
    }
}

#[test]
fn a_good_file_loads_and_defaults_are_lync_like() {
    let e = parse_topology(GOOD, "topology.toml").unwrap();
    assert_eq!(e.fqdn, "sipfed.contoso.com");
    assert!(e.federation && !e.partner_discovery);
    // Unset edge switches are off, as on a fresh Lync edge.
    assert!(!e.remote_user_access && !e.anonymous_user_access);
    assert!(!e.diagnostics_to_external_networks);
    assert_eq!(
        e.hosting_providers[0].verification,
        VerificationLevel::UseSourceVerification
    );
    assert!(e.hosting_providers[0].enabled);
    let p = &e.external_access_policies["nofed"];
    assert!(!p.federation && p.public_im && p.remote_access);
}

#[test]
fn tenant_modes_parse() {
    let text = r#"[edge]
fqdn = "sipfed0a.online.example"
sip_domains = [
  { domain = "a.example", tenant = { mode = "allowed-domains-only", allowed = ["b.example"] } },
  { domain = "b.example", tenant = { mode = "all-except-blocked" } },
  { domain = "c.example", tenant = { mode = "off" } },
]
"#;
    let e = parse_topology(text, "t.toml").unwrap();
    let modes: Vec<TenantMode> = e
        .sip_domains
        .iter()
        .map(|d| d.tenant.as_ref().unwrap().mode)
        .collect();
    assert_eq!(
        modes,
        [
            TenantMode::AllowedDomainsOnly,
            TenantMode::AllExceptBlocked,
            TenantMode::Off
        ]
    );
}

#[test]
fn unknown_key_in_edge_is_located_and_lists_the_allowed_keys() {
    let text = "[edge]\nfqdn = \"sipfed.contoso.com\"\nsip_domains = [{ domain = \"contoso.com\" }]\npartner_discovry = true\n";
    let e = invalid(text);
    assert_eq!((e.file.as_str(), e.line, e.column), ("topology.toml", 4, 1));
    assert_eq!(e.field, "partner_discovry");
    assert!(
        e.problem.contains("unknown field `partner_discovry`"),
        "{}",
        e.problem
    );
    assert!(e.fix.contains("partner_discovery"), "{}", e.fix);
    let shown = e.to_string();
    assert!(
        shown.starts_with("topology.toml:4:1: partner_discovry: unknown field"),
        "{shown}"
    );
}

#[test]
fn unknown_key_in_a_nested_entry_is_located() {
    let text = "[edge]\nfqdn = \"sipfed.contoso.com\"\nsip_domains = [{ domain = \"contoso.com\" }]\n\n[[edge.allowed_domains]]\ndomain = \"tailspintoys.com\"\n  edge = \"sip.tailspintoys.com\"\n";
    let e = invalid(text);
    assert_eq!((e.line, e.column), (7, 3));
    assert_eq!(e.field, "edge");
    assert!(e.fix.contains("edge_fqdn"), "{}", e.fix);
}

#[test]
fn a_domain_both_allowed_and_blocked_names_both_places() {
    let text = r#"[edge]
fqdn = "sipfed.contoso.com"
sip_domains = [{ domain = "contoso.com" }]

[[edge.allowed_domains]]
domain = "tailspintoys.com"

[[edge.blocked_domains]]
domain = "TailspinToys.com"
"#;
    let e = invalid(text);
    assert_eq!((e.line, e.column), (9, 10));
    assert_eq!(e.field, "edge.blocked_domains[0].domain");
    assert!(
        e.problem
            .contains("topology.toml:6:10 (edge.allowed_domains[0].domain)"),
        "{}",
        e.problem
    );
    assert!(e.fix.contains("exactly one list"), "{}", e.fix);
}

#[test]
fn a_hosted_domain_cannot_also_be_blocked() {
    let text = "[edge]\nfqdn = \"sipfed.contoso.com\"\nsip_domains = [{ domain = \"contoso.com\" }]\nblocked_domains = [{ domain = \"contoso.com\" }]\n";
    let e = invalid(text);
    assert_eq!(e.line, 4);
    assert!(
        e.problem.contains("edge.sip_domains[0].domain"),
        "{}",
        e.problem
    );
}

#[test]
fn a_tenant_domain_in_both_lists_is_refused() {
    let text = "[edge]\nfqdn = \"x.example\"\nsip_domains = [{ domain = \"a.example\", tenant = { mode = \"off\", allowed = [\"b.example\"], blocked = [\"b.example\"] } }]\n";
    let e = invalid(text);
    assert_eq!(e.field, "edge.sip_domains[0].tenant.blocked[0]");
    assert!(e.problem.contains("topology.toml:3:"), "{}", e.problem);
}

#[test]
fn bad_values_are_explained() {
    let e = invalid(
        "[edge]\nfqdn = \"x.example\"\nsip_domains = [{ domain = \"a.example\", tenant = { mode = \"sometimes\" } }]\n",
    );
    assert_eq!(e.line, 3);
    assert!(
        e.problem.contains("unknown variant `sometimes`"),
        "{}",
        e.problem
    );
    assert_eq!(e.field, "mode");
    assert!(e.problem.contains("allowed-domains-only"), "{}", e.problem);

    let e = invalid(
        "[edge]\nfqdn = \"x.example\"\nfederation = \"yes\"\nsip_domains = [{ domain = \"a.example\" }]\n",
    );
    assert_eq!((e.line, e.field.as_str()), (3, "federation"));
    assert!(e.problem.contains("expected a boolean"), "{}", e.problem);

    let e =
        invalid("[edge]\nfqdn = \"x.example\"\nsip_domains = [{ domain = \"not a domain\" }]\n");
    assert_eq!((e.line, e.column), (3, 27));
    assert_eq!(e.field, "edge.sip_domains[0].domain");

    let e = invalid("[edge]\nfqdn = \"x.example\"\n");
    assert!(
        e.problem.contains("missing field `sip_domains`"),
        "{}",
        e.problem
    );

    let e = invalid("[edge]\nfqdn = \"x.example\"\nsip_domains = []\n");
    assert_eq!((e.line, e.field.as_str()), (1, "edge.sip_domains"));
}

#[test]
fn user_assignments_must_name_defined_policies() {
    let text = "[edge]\nfqdn = \"x.example\"\nsip_domains = [{ domain = \"a.example\" }]\n[[edge.users]]\nuri = \"sip:kim@a.example\"\nconferencing = \"nonymous\"\n";
    let e = invalid(text);
    assert_eq!((e.line, e.column), (6, 16));
    assert_eq!(e.field, "edge.users[0].conferencing");
    assert!(
        e.fix.contains("[edge.conferencing_policies.nonymous]"),
        "{}",
        e.fix
    );

    let e = invalid(
        "[edge]\nfqdn = \"x.example\"\nsip_domains = [{ domain = \"a.example\" }]\nusers = [{ uri = \"kim\" }]\n",
    );
    assert_eq!(e.field, "edge.users[0].uri");
}

#[test]
fn a_file_without_edge_says_so() {
    match parse_topology("[voice]\nx = 1\n", "t.toml") {
        Err(LoadError::NoEdge { file }) => assert_eq!(file, "t.toml"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn syntax_errors_are_located() {
    let e = invalid("[edge]\nfqdn = \"x.example\n");
    assert_eq!(e.line, 2);
}

#[test]
fn a_public_provider_domain_cannot_also_be_allowed() {
    let text = "[edge]\nfqdn = \"x.example\"\nsip_domains = [{ domain = \"a.example\" }]\nallowed_domains = [{ domain = \"im.example\" }]\npublic_providers = [{ name = \"P\", edge_fqdn = \"f.im.example\", domains = [\"im.example\"] }]\n";
    let e = invalid(text);
    assert_eq!(e.field, "edge.public_providers[0].domains[0]");
    assert!(e.problem.contains("topology.toml:4:"), "{}", e.problem);
}
