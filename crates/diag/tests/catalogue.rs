//! Catalogue completeness, every entry's rendering, the seed-003 header values, and the
//! generated documentation's freshness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use diag::{CATALOGUE, CONVENE_RANGE, HeaderKind, codes, lookup, parse_value, quote};

/// Every ErrorId MS-SIP.md §1.5's tables list.
const MS_SIP_TABLE_IDS: &[u32] = &[
    1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1017,
    1028, 1034, 1036, 1047, 1064, 3000, 3001, 3002, 3003, 3004, 3005, 3006, 3007, 3008, 3009, 3010,
    3011, 3012, 3013, 3014, 3015, 3016, 2013, 2014, 4003, 4004, 4005, 4006, 4010, 4011, 4012, 4033,
    10003, 12000, 12001, 12002, 12003, 12004, 12005, 12006, 12007, 12008, 12009, 12010, 12011,
    12012, 27000,
];

#[test]
fn every_ms_sip_table_code_is_catalogued() {
    let missing: Vec<u32> = MS_SIP_TABLE_IDS
        .iter()
        .copied()
        .filter(|id| lookup(*id).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "missing from the catalogue: {missing:?}"
    );
}

#[test]
fn ids_are_unique_and_ascending() {
    for w in CATALOGUE.windows(2) {
        assert!(w[0].id < w[1].id, "{} then {}", w[0].id, w[1].id);
    }
}

#[test]
fn own_codes_sit_only_in_the_convene_range() {
    for c in CATALOGUE {
        let ms = MS_SIP_TABLE_IDS.contains(&c.id);
        assert_ne!(ms, c.is_convene(), "code {} is both or neither", c.id);
        if c.is_convene() {
            assert!(CONVENE_RANGE.contains(&c.id));
            assert_eq!(c.citation.split(';').next().unwrap(), "Convene", "{}", c.id);
        }
    }
}

#[test]
fn entries_are_complete_and_wire_clean() {
    for c in CATALOGUE {
        assert!(
            (300..=699).contains(&c.status),
            "{}: status {}",
            c.id,
            c.status
        );
        assert!(!c.reason.is_empty() && !c.meaning.is_empty() && !c.fix.is_empty());
        assert!(
            !c.reason.ends_with('.'),
            "{}: reason ends with a period",
            c.id
        );
        assert_eq!(
            c.reason.trim(),
            c.reason,
            "{}: reason has outer blanks",
            c.id
        );
        assert!(
            c.reason.chars().all(|ch| ch != '"' && !ch.is_control()),
            "{}: reason needs escaping",
            c.id
        );
    }
}

#[test]
fn the_spec_public_codes_are_public() {
    // [MS-OCER] 8.3, 7.4 and the front-end tables assign these to ms-diagnostics-public.
    for id in [2013, 2014, 3004, 4003, 4004] {
        assert_eq!(lookup(id).unwrap().header, HeaderKind::Public, "{id}");
    }
    assert_eq!(lookup(10003).unwrap().header, HeaderKind::PrivateAndPublic);
    assert_eq!(lookup(1017).unwrap().header, HeaderKind::Private);
}

#[test]
fn every_entry_renders_and_parses_back() {
    for c in CATALOGUE {
        let d = c
            .diagnostic()
            .param("x-first", "a \"b\" c")
            .source("fe.example.test")
            .param("x-after", "z");
        let value = d.header_value();
        let expected_prefix = format!("{};reason=\"{}\";", c.id, c.reason);
        assert!(value.starts_with(&expected_prefix), "{value}");
        assert!(
            value.ends_with(r#";x-first="a \"b\" c";source="fe.example.test";x-after="z""#),
            "{value}"
        );
        let p = parse_value(&value).unwrap();
        assert_eq!(p.id, c.id);
        assert_eq!(p.reason(), Some(c.reason));
        assert_eq!(p.source(), Some("fe.example.test"));
        assert_eq!(p.get("x-first"), Some("a \"b\" c"));
        let public = d.public_value();
        assert!(!public.contains("source="), "{public}");
        assert_eq!(
            public,
            format!(
                r#"{};reason="{}";x-first="a \"b\" c";x-after="z""#,
                c.id, c.reason
            )
        );
    }
}

#[test]
fn lead_example_renders_exactly() {
    let d = codes::USER_DOES_NOT_EXIST
        .diagnostic()
        .source("fe.example.test");
    assert_eq!(
        d.header_value(),
        r#"1003;reason="User does not exist";source="fe.example.test""#
    );
    assert_eq!(d.public_value(), r#"1003;reason="User does not exist""#);
}

// The header values printed in seed 003, rebuilt from the catalogue.
#[test]
fn seed_003_values_render_exactly() {
    let cases = [
        (
            codes::CANNOT_ROUTE_DOMAIN_COMBINATION
                .diagnostic()
                .param("summary", "Cannot route between the source and destination domains because partner discovery is not enabled")
                .param("external-domain", "tailspintoys.com")
                .param("external-type", "domain-type-remote")
                .param("internal-domain", "contoso.com")
                .param("internal-type", "domain-type-local")
                .source("sipfed.contoso.com"),
            r#"1017;reason="Cannot route From and To domains in this combination";summary="Cannot route between the source and destination domains because partner discovery is not enabled";external-domain="tailspintoys.com";external-type="domain-type-remote";internal-domain="contoso.com";internal-type="domain-type-local";source="sipfed.contoso.com""#,
        ),
        (
            codes::FEDERATED_PEER_NO_DIAGNOSTICS
                .diagnostic()
                .param("Domain", "tailspintoys.com")
                .param("PeerServer", "sip.tailspintoys.com")
                .source("sipfed.contoso.com"),
            r#"1034;reason="Previous hop federated peer did not report diagnostic information";Domain="tailspintoys.com";PeerServer="sip.tailspintoys.com";source="sipfed.contoso.com""#,
        ),
        (
            codes::BLOCKED_DOMAIN
                .diagnostic()
                .param("domain", "tailspintoys.com")
                .param("suffix", "tailspintoys.com")
                .source("sipfed.contoso.com"),
            r#"1064;reason="Cannot route to blocked domain";domain="tailspintoys.com";suffix="tailspintoys.com";source="sipfed.contoso.com""#,
        ),
        (
            codes::HOSTING_PROVIDER_DOMAIN_NOT_ALLOWED
                .diagnostic()
                .param("domain", "contoso.onmicrosoft.com")
                .param("fqdn1", "sipfed.online.lync.com:5061")
                .source("sipfed.contoso.com"),
            r#"1028;reason="Domain resolved by DNS SRV to a configured hosting service but the domain is not in the allow list";domain="contoso.onmicrosoft.com";fqdn1="sipfed.online.lync.com:5061";source="sipfed.contoso.com""#,
        ),
        (
            codes::SHARED_ADDRESS_SPACE_PEER_NO_DIAGNOSTICS
                .diagnostic()
                .param("Domain", "contoso.onmicrosoft.com")
                .param("PeerServer", "sipfed.online.lync.com")
                .source("sipfed.contoso.com"),
            r#"1036;reason="Previous hop shared address space peer did not report diagnostic information";Domain="contoso.onmicrosoft.com";PeerServer="sipfed.online.lync.com";source="sipfed.contoso.com""#,
        ),
        (
            codes::FROM_NOT_AUTHORIZED_FEDERATION
                .diagnostic()
                .param("from-uri", "garthf@contoso.onmicrosoft.com")
                .param("destination", "karenb@contoso.com")
                .source("sipfed0A.online.lync.com"),
            r#"1002;reason="From URI not authorized to communicate with federated partners";from-uri="garthf@contoso.onmicrosoft.com";destination="karenb@contoso.com";source="sipfed0A.online.lync.com""#,
        ),
        (
            codes::TENANT_ALLOW_LIST
                .diagnostic()
                .source("SN20A05FES03.INFRA.LYNC.COM")
                .param("appName", "OutgoingFederation"),
            r#"27000;reason="To-Uri Domain is not in the sender-tenant allow list";source="SN20A05FES03.INFRA.LYNC.COM";appName="OutgoingFederation""#,
        ),
        (
            codes::TO_USER_NOT_AUTHORIZED_FEDERATION
                .diagnostic()
                .param("processing-cluster", "sippooldm21a05.infra.lync.com")
                .param("processing-frontend", "DM21A05FES06.infra.lync.com")
                .param("target-user-primary-pool", "sippooldm21a05.infra.lync.com")
                .source("DM21A05FES06.infra.lync.com"),
            r#"4033;reason="To User not authorized for Federation";processing-cluster="sippooldm21a05.infra.lync.com";processing-frontend="DM21A05FES06.infra.lync.com";target-user-primary-pool="sippooldm21a05.infra.lync.com";source="DM21A05FES06.infra.lync.com""#,
        ),
    ];
    for (d, wire) in cases {
        assert_eq!(d.header_value(), wire);
        let parsed = parse_value(wire).unwrap();
        assert_eq!(parsed.id, d.code().id);
        assert_eq!(parsed.reason(), Some(d.code().reason));
    }
}

#[test]
fn quoting_follows_rfc_3261_quoted_string() {
    assert_eq!(quote("plain"), r#""plain""#);
    assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    assert_eq!(quote("line\r\nbreak"), r#""line  break""#);
    assert_eq!(quote("tab\there"), "\"tab\there\"");
    assert_eq!(quote("bell\u{7}"), "\"bell\\\u{7}\"");
    assert_eq!(quote("naïve"), "\"naïve\"");
}

#[test]
fn parser_is_lenient_as_the_field_requires() {
    // MS-SIP.md §1.2: source first, LWS around '=', case-varied names, sub-codes.
    let p = parse_value(r#"10003;source="med.example" ; reason = "Proxy returned a SIP failure code";component="MediationServer";SipResponseCode=404"#).unwrap();
    assert_eq!(p.id, 10003);
    assert_eq!(p.source(), Some("med.example"));
    assert_eq!(p.get("sipresponsecode"), Some("404"));
    assert_eq!(p.params[0].0, "source");
    let p = parse_value("1017.2;reason=\"x\"").unwrap();
    assert_eq!((p.id, p.sub_id), (1017, Some(2)));
}

#[test]
fn parser_reports_where_it_failed() {
    let cases: &[(&str, usize)] = &[
        ("", 0),
        ("abc", 0),
        ("1017.", 5),
        ("1017;reason=\"open", 17),
        ("1017 x", 5),
        ("1017;=x", 5),
        ("99999999999;reason=\"x\"", 0),
    ];
    for (input, offset) in cases {
        let e = parse_value(input).unwrap_err();
        assert_eq!(e.offset, *offset, "{input:?}: {e}");
    }
}

#[test]
fn docs_diagnostics_md_is_fresh() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/diagnostics.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = diag::markdown();
    assert!(
        committed == generated,
        "docs/diagnostics.md is stale or missing. Regenerate it from the repository root with:\n    \
         cargo run -q --bin convene -- ctl diag --markdown > docs/diagnostics.md"
    );
}
