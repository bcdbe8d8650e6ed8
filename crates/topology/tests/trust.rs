//! Trust decisions (seed 000: a branch registrar of the topology is trusted automatically;
//! seed 002: a third-party pool without the Client Authentication EKU is refused with the
//! reason), static-route matching and the certificate check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use topology::{
    CertFacts, CertIdentity, CertProblem, Chain, PeerKind, Topology, TrustDecision,
    check_certificate, decide, match_route, required_names,
};

/// Seed 000's shape: a front-end pool, a survivable branch registrar, and an application
/// pool; plus seed 002's CUPS as a trusted application pool behind a static route, and a
/// federated partner.
const TOPOLOGY: &str = r#"
[[sip_domain]]
name = "example.test"
[[site]]
name = "HQ"
[[site]]
name = "Branch"
[[pool]]
fqdn = "fe.example.test"
site = "HQ"
machines = ["fe1.example.test", "fe2.example.test"]
roles = ["front-end", "edge"]
certificate = "fe.example.test"
[[pool]]
fqdn = "sba.example.test"
site = "Branch"
roles = ["branch-registrar"]
certificate = "sba.example.test"
[[pool]]
fqdn = "cups.tomt.local"
site = "HQ"
roles = ["trusted-application"]
registrar = "fe.example.test"
throttle_as_server = false
[[trusted_application]]
id = "cups"
pool = "cups.tomt.local"
port = 5062
[[static_route]]
match_uri = "tomt.local"
next_hop = "cups.tomt.local"
port = 5062
transport = "tls"
[[static_route]]
match_uri = "eu.tomt.local"
next_hop = "cups-eu.tomt.local"
port = 5062
transport = "tls"
[[static_route]]
match_uri = "lab.test"
next_hop = "192.0.2.9"
port = 5060
transport = "tcp"
[[federated_partner]]
domain = "fabrikam.test"
edge_fqdn = "sip.fabrikam.test"
"#;

fn topo() -> Topology {
    Topology::parse(TOPOLOGY, "t.toml").unwrap()
}

fn cert(names: &[&str], client_auth: bool) -> CertIdentity {
    CertIdentity {
        common_name: None,
        dns_names: names.iter().map(|s| s.to_string()).collect(),
        server_auth: true,
        client_auth,
    }
}

#[test]
fn seed_000_branch_registrar_of_the_topology_is_trusted_automatically() {
    let d = decide(&topo(), &cert(&["SBA.example.test"], true), 5061);
    let TrustDecision::Trusted(t) = &d else {
        panic!("{d:?}")
    };
    assert_eq!(
        t.peer,
        PeerKind::TopologyServer {
            pool: "sba.example.test".into()
        }
    );
    assert!(d.treat_as_authenticated() && d.throttle_as_server());
    assert_eq!(
        d.reason(),
        "certificate name sba.example.test is pool sba.example.test of the topology"
    );
}

#[test]
fn seed_002_third_party_pool_without_client_auth_is_refused_with_the_reason() {
    let d = decide(&topo(), &cert(&["cups.tomt.local"], false), 5062);
    let TrustDecision::Refused { reason, fix, diag } = &d else {
        panic!("{d:?}")
    };
    assert_eq!(
        reason,
        "certificate of cups.tomt.local lacks Client Authentication EKU: reissue with both Server and Client Authentication"
    );
    assert!(fix.contains("both Server Authentication and Client Authentication"));
    assert_eq!(diag.id, 60009);
    assert!(!d.treat_as_authenticated() && !d.throttle_as_server());
}

#[test]
fn trusted_application_pool_on_its_port_takes_its_flags() {
    let d = decide(&topo(), &cert(&["cups.tomt.local"], true), 5062);
    let TrustDecision::Trusted(t) = &d else {
        panic!("{d:?}")
    };
    assert_eq!(
        t.peer,
        PeerKind::TrustedApplicationPool {
            pool: "cups.tomt.local".into(),
            applications: vec!["cups".into()]
        }
    );
    // treat_as_authenticated defaults to true; throttle_as_server is set false.
    assert!(d.treat_as_authenticated());
    assert!(!d.throttle_as_server());
}

#[test]
fn trusted_application_port_refuses_every_other_certificate_even_our_pools() {
    for names in [&["fe.example.test"][..], &["stranger.test"], &[]] {
        let d = decide(&topo(), &cert(names, true), 5062);
        let TrustDecision::Refused { reason, diag, .. } = &d else {
            panic!("{names:?}: {d:?}")
        };
        assert_eq!(diag.id, 60008, "{names:?}");
        assert_eq!(diag.status, 403);
        assert!(
            reason.contains("trusted application pool cups.tomt.local"),
            "{reason}"
        );
    }
}

#[test]
fn static_route_target_is_trusted_off_the_application_port() {
    // cups.tomt.local on 5061: not as the application pool (wrong port) but as the next hop
    // of static_route[0].
    let d = decide(&topo(), &cert(&["cups.tomt.local"], true), 5061);
    let TrustDecision::Trusted(t) = &d else {
        panic!("{d:?}")
    };
    assert_eq!(
        t.peer,
        PeerKind::StaticRouteTarget {
            route: 0,
            match_uri: "tomt.local".into()
        }
    );
}

#[test]
fn federated_partner_edge_is_trusted_for_its_domain() {
    let d = decide(&topo(), &cert(&["sip.fabrikam.test"], true), 5061);
    let TrustDecision::Trusted(t) = &d else {
        panic!("{d:?}")
    };
    assert_eq!(
        t.peer,
        PeerKind::FederatedPartner {
            domain: "fabrikam.test".into()
        }
    );
}

#[test]
fn unknown_and_wildcard_names_are_untrusted_with_the_reason() {
    for names in [&["stranger.test"][..], &["*.example.test"]] {
        let d = decide(&topo(), &cert(names, true), 5061);
        let TrustDecision::Untrusted { reason } = &d else {
            panic!("{d:?}")
        };
        assert!(
            reason.contains("not a pool, trusted application pool"),
            "{reason}"
        );
        assert!(!d.treat_as_authenticated() && !d.throttle_as_server());
    }
}

#[test]
fn common_name_counts_only_without_subject_alt_names() {
    let mut c = cert(&[], true);
    c.common_name = Some("fe.example.test".into());
    assert!(matches!(
        decide(&topo(), &c, 5061),
        TrustDecision::Trusted(_)
    ));
    c.dns_names = vec!["other.test".into()];
    assert!(matches!(
        decide(&topo(), &c, 5061),
        TrustDecision::Untrusted { .. }
    ));
}

#[test]
fn tcp_route_next_hop_is_not_a_certificate_identity() {
    let d = decide(&topo(), &cert(&["192.0.2.9"], true), 5061);
    assert!(matches!(d, TrustDecision::Untrusted { .. }), "{d:?}");
}

#[test]
fn static_route_matching_most_specific_wins() {
    let t = topo();
    // (host, expected route index, exact)
    let cases: &[(&str, Option<(usize, bool)>)] = &[
        ("tomt.local", Some((0, true))),
        ("users.tomt.local", Some((0, false))),
        ("eu.tomt.local", Some((1, true))),
        ("paris.eu.tomt.local", Some((1, false))),
        ("TOMT.LOCAL.", Some((0, true))),
        ("lab.test", Some((2, true))),
        ("xtomt.local", None),
        ("local", None),
        ("example.test", None),
    ];
    for (host, want) in cases {
        let got = match_route(&t.static_routes, host).map(|m| (m.index, m.exact));
        assert_eq!(got, *want, "{host}");
    }
    let m = match_route(&t.static_routes, "paris.eu.tomt.local").unwrap();
    assert_eq!(
        m.explain("paris.eu.tomt.local"),
        "static_route[1] match_uri `eu.tomt.local` matches `paris.eu.tomt.local` (subdomain): next hop cups-eu.tomt.local:5062 over tls"
    );
}

/// A TLS route with an `address`: the proxy connects there and verifies the next hop's name
/// (the URI's host; the address rides as `maddr`).
#[test]
fn a_route_address_rides_as_maddr_beside_the_certificate_name() {
    let t = Topology::parse(
        &TOPOLOGY.replace(
            "next_hop = \"cups.tomt.local\"\n",
            "next_hop = \"cups.tomt.local\"\naddress = \"192.0.2.8\"\n",
        ),
        "t.toml",
    )
    .unwrap();
    let m = match_route(&t.static_routes, "tomt.local").unwrap();
    assert_eq!(
        m.route.next_hop_uri(),
        "sip:cups.tomt.local:5062;transport=tls;maddr=192.0.2.8"
    );
    assert_eq!(
        m.explain("tomt.local"),
        "static_route[0] match_uri `tomt.local` matches `tomt.local`: next hop cups.tomt.local:5062 over tls at address 192.0.2.8"
    );
    // Without an address, the URI names the next hop only.
    let m = match_route(&t.static_routes, "lab.test").unwrap();
    assert_eq!(m.route.next_hop_uri(), "sip:192.0.2.9:5060;transport=tcp");
}

fn good_facts(t: &Topology) -> CertFacts {
    CertFacts {
        dns_names: required_names(t, t.pool("fe.example.test").unwrap()),
        server_auth: true,
        client_auth: true,
        not_before: 1_000,
        not_after: 2_000,
        chain: Chain::Verified,
    }
}

#[test]
fn certificate_needs_pool_machine_and_sip_names() {
    let t = topo();
    let fe = t.pool("fe.example.test").unwrap();
    assert_eq!(
        required_names(&t, fe),
        [
            "fe.example.test",
            "fe1.example.test",
            "fe2.example.test",
            "sip.example.test"
        ]
    );
    let sba = t.pool("sba.example.test").unwrap();
    assert_eq!(required_names(&t, sba), ["sba.example.test"]);
}

#[test]
fn certificate_check_names_each_problem() {
    let t = topo();
    let fe = t.pool("fe.example.test").unwrap();
    assert_eq!(check_certificate(&t, fe, &good_facts(&t), 1_500), []);

    let mut f = good_facts(&t);
    f.client_auth = false;
    let p = check_certificate(&t, fe, &f, 1_500);
    assert_eq!(p, [CertProblem::NoClientAuth]);
    assert!(p[0].to_string().contains("Client Authentication EKU"));
    assert!(
        p[0].fix()
            .contains("both Server Authentication and Client Authentication")
    );

    let mut f = good_facts(&t);
    f.dns_names = vec!["fe.example.test".into(), "*.example.test".into()];
    assert_eq!(
        check_certificate(&t, fe, &f, 1_500),
        [],
        "a wildcard covers one label"
    );
    f.dns_names = vec!["fe.example.test".into()];
    assert_eq!(
        check_certificate(&t, fe, &f, 2_500),
        [
            CertProblem::Expired(500),
            CertProblem::MissingName("fe1.example.test".into()),
            CertProblem::MissingName("fe2.example.test".into()),
            CertProblem::MissingName("sip.example.test".into()),
        ]
    );

    let mut f = good_facts(&t);
    f.chain = Chain::Untrusted("issuer unknown".into());
    f.server_auth = false;
    assert_eq!(
        check_certificate(&t, fe, &f, 500),
        [
            CertProblem::UntrustedChain("issuer unknown".into()),
            CertProblem::NotYetValid(500),
            CertProblem::NoServerAuth,
        ]
    );
}

#[test]
fn certificate_check_survives_extreme_dates() {
    let t = topo();
    let fe = t.pool("fe.example.test").unwrap();
    let mut f = good_facts(&t);
    f.not_before = i64::MAX;
    f.not_after = i64::MIN;
    let p = check_certificate(&t, fe, &f, 0);
    assert_eq!(
        p,
        [
            CertProblem::Expired(i64::MAX),
            CertProblem::NotYetValid(i64::MAX)
        ]
    );
}
