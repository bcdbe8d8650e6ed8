//! Decisions outside seed 003's matrices: routing and DNS failures, sub-domain blocks, peer
//! answers, per-user and conferencing policies, anonymous access, diagnostics stripping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use federation::decide::{Forward, PeerKind};
use federation::fallback::Fallback;
use federation::{
    Dns, FocusUri, Outcome, PeerAnswer, Policy, Request, Response, SipUri, SrvTarget, Trace, World,
    parse_topology,
};

const GUID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

fn policy(edge_body: &str) -> Policy {
    let text = format!("[edge]\n{edge_body}");
    Policy::new(parse_topology(&text, "test.toml").unwrap_or_else(|e| panic!("{e}")))
}

fn contoso(extra: &str) -> Policy {
    policy(&format!(
        "fqdn = \"sipfed.contoso.com\"\nfederation = true\nremote_user_access = true\nanonymous_user_access = true\nsip_domains = [{{ domain = \"contoso.com\" }}]\n{extra}"
    ))
}

fn fabrikam(extra: &str) -> Policy {
    policy(&format!(
        "fqdn = \"sip.fabrikam.com\"\nfederation = true\npartner_discovery = true\nremote_user_access = true\nanonymous_user_access = true\nsip_domains = [{{ domain = \"fabrikam.com\", front_end = \"fe01.fabrikam.com\", pool = \"pool.fabrikam.com\" }}]\n{extra}"
    ))
}

fn dns() -> Dns {
    let mut d = Dns::new();
    d.add_srv(
        "_sipfederationtls._tcp.fabrikam.com",
        SrvTarget::new("sip.fabrikam.com", 5061),
    );
    d.add_srv(
        "_sipfederationtls._tcp.contoso.com",
        SrvTarget::new("sipfed.contoso.com", 5061),
    );
    d.add_srv(
        "_sipfederationtls._tcp.elsewhere.com",
        SrvTarget::new("edge.other-host.net", 5061),
    );
    d.add_srv(
        "_sip._tls.fabrikam.com",
        SrvTarget::new("sip.fabrikam.com", 443),
    );
    d
}

fn uri(s: &str) -> SipUri {
    SipUri::parse(s).unwrap()
}

fn focus() -> FocusUri {
    FocusUri::parse("sip:ola@fabrikam.com;gruu;opaque=app:conf:focus:id:F4BR1K4M").unwrap()
}

fn rejected(o: &Outcome) -> &Response {
    match o {
        Outcome::Rejected(r) => r,
        Outcome::Allowed => panic!("expected a rejection"),
    }
}

#[test]
fn federation_off_answers_1017_with_its_own_summary() {
    let p = policy("fqdn = \"sipfed.contoso.com\"\nsip_domains = [{ domain = \"contoso.com\" }]\n");
    let w = World::new(vec![p], dns());
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:ola@fabrikam.com"));
    let r = rejected(&d.outcome);
    assert_eq!((r.status, r.codes()), (504, vec![1017]));
    assert_eq!(
        r.diagnostics[0].get("summary"),
        Some(
            "Cannot route between the source and destination domains because federation is not enabled"
        )
    );
}

#[test]
fn a_blocked_parent_domain_blocks_sub_domains_with_suffix() {
    let w = World::new(
        vec![contoso(
            "partner_discovery = true\nblocked_domains = [{ domain = \"fabrikam.com\" }]",
        )],
        dns(),
    );
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:x@eu.fabrikam.com"));
    assert_eq!(
        rejected(&d.outcome).diagnostics[0].header_value(),
        r#"1064;reason="Cannot route to blocked domain";domain="eu.fabrikam.com";suffix="fabrikam.com";source="sipfed.contoso.com""#
    );
}

#[test]
fn discovery_without_srv_is_1008_and_a_foreign_target_is_1009() {
    let w = World::new(vec![contoso("partner_discovery = true")], dns());
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:x@nosrv.example"));
    let r = rejected(&d.outcome);
    assert_eq!((r.status, r.codes()), (504, vec![1008]));
    assert_eq!(r.diagnostics[0].get("domain"), Some("nosrv.example"));

    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:x@elsewhere.com"));
    let r = rejected(&d.outcome);
    assert_eq!((r.status, r.codes()), (504, vec![1009]));
    assert_eq!(
        r.diagnostics[0].get("fqdn1"),
        Some("edge.other-host.net:5061")
    );
}

#[test]
fn an_allowed_domain_with_edge_fqdn_skips_dns() {
    let p = contoso(
        "allowed_domains = [{ domain = \"fabrikam.com\", edge_fqdn = \"edge9.fabrikam.com\" }]",
    );
    let w = World::new(vec![p], Dns::new());
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:ola@fabrikam.com"));
    // The partner is not modelled: the forward is allowed and the trace says so.
    assert_eq!(d.outcome, Outcome::Allowed);
    let text: Vec<String> = d.trace.steps.iter().map(|s| s.step.to_string()).collect();
    assert!(
        text.contains(&"forward to federated peer edge9.fabrikam.com:5061".to_owned()),
        "{text:?}"
    );
    assert!(!text.iter().any(|t| t.starts_with("DNS")), "{text:?}");
}

#[test]
fn relay_wraps_silent_failures_and_passes_reported_ones() {
    let p = contoso("");
    let fwd = Forward {
        domain: "fabrikam.com".into(),
        peer: "sip.fabrikam.com".into(),
        port: 5061,
        kind: PeerKind::Federated,
    };
    let mut t = Trace::default();
    let silent = |status| {
        PeerAnswer::Rejected(Response {
            status,
            diagnostics: vec![],
            public: None,
        })
    };
    let r404 = p.relay(&fwd, &silent(404), &mut t);
    assert_eq!(
        (rejected(&r404).status, rejected(&r404).codes()),
        (404, vec![1034])
    );
    let r403 = p.relay(&fwd, &silent(403), &mut t);
    assert_eq!(
        (rejected(&r403).status, rejected(&r403).codes()),
        (504, vec![1034])
    );

    let hp = Forward {
        kind: PeerKind::HostingProvider { name: "X".into() },
        ..fwd.clone()
    };
    assert_eq!(
        rejected(&p.relay(&hp, &silent(403), &mut t)).codes(),
        vec![1036]
    );

    let unreachable = p.relay(&fwd, &PeerAnswer::Unreachable, &mut t);
    assert_eq!(
        rejected(&unreachable).diagnostics[0].header_value(),
        r#"1005;reason="Cannot route to destination domain";domain="fabrikam.com";PeerServer="sip.fabrikam.com";source="sipfed.contoso.com""#
    );

    let reported = Response::reject(
        diag::codes::BLOCKED_DOMAIN
            .diagnostic()
            .source("sip.fabrikam.com"),
    );
    let passed = p.relay(&fwd, &PeerAnswer::Rejected(reported.clone()), &mut t);
    assert_eq!(rejected(&passed), &reported);
    assert_eq!(
        p.relay(&fwd, &PeerAnswer::Accepted, &mut t),
        Outcome::Allowed
    );
}

#[test]
fn the_partner_sees_its_diagnostics_only_when_the_admin_allows() {
    let attendee = contoso("partner_discovery = true");
    let strict = fabrikam("blocked_domains = [{ domain = \"contoso.com\" }]");
    let w = World::new(vec![attendee.clone(), strict], dns());
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:ola@fabrikam.com"));
    assert_eq!(rejected(&d.outcome).codes(), vec![1034]);

    let open = fabrikam(
        "blocked_domains = [{ domain = \"contoso.com\" }]\ndiagnostics_to_external_networks = true",
    );
    let w = World::new(vec![attendee, open], dns());
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:ola@fabrikam.com"));
    let r = rejected(&d.outcome);
    assert_eq!((r.status, r.codes()), (504, vec![1064]));
    assert_eq!(r.diagnostics[0].source_fqdn(), Some("sip.fabrikam.com"));
}

#[test]
fn per_user_external_access_on_both_sides() {
    let attendee = contoso(
        "partner_discovery = true\n[edge.external_access_policies.nofed]\nfederation = false\n[[edge.users]]\nuri = \"sip:kim@contoso.com\"\nexternal_access = \"nofed\"\n",
    );
    let organizer = fabrikam(
        "[edge.external_access_policies.nofed]\nfederation = false\n[[edge.users]]\nuri = \"sip:ola@fabrikam.com\"\nexternal_access = \"nofed\"\n",
    );
    let w = World::new(vec![attendee.clone(), organizer], dns());
    // Sender not allowed: 403 + 1002 from the sender's edge, and the client falls back.
    let j = w.join(&uri("sip:kim@contoso.com"), &focus(), GUID);
    let r = j.federated.response().unwrap();
    assert_eq!(
        r.diagnostics[0].header_value(),
        r#"1002;reason="From URI not authorized to communicate with federated partners";from-uri="kim@contoso.com";destination="ola@fabrikam.com";source="sipfed.contoso.com""#
    );
    assert_eq!(j.fallback, Some(Fallback::ByDiagnostic { code: 1002 }));
    assert!(j.summary().anonymous_join);

    // Target not allowed: the target's front end answers 4033, stripped at its edge, so the
    // attendee sees 504 + 1034.
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:ola@fabrikam.com"));
    assert_eq!(rejected(&d.outcome).codes(), vec![1034]);
    let text: Vec<String> = d
        .trace
        .steps
        .iter()
        .map(|s| format!("[{}] {}", s.at, s.step))
        .collect();
    assert!(
        text.contains(&"[fe01.fabrikam.com] reject: 403 with ms-diagnostics 4033".to_owned()),
        "{text:#?}"
    );
}

#[test]
fn anonymous_join_depends_on_the_organizers_policy_and_the_edge() {
    let attendee = contoso("");
    let no_anon_policy = fabrikam(
        "[edge.conferencing_policies.closed]\nallow_anonymous_participants = false\n[[edge.users]]\nuri = \"sip:ola@fabrikam.com\"\nconferencing = \"closed\"\n",
    );
    let w = World::new(vec![attendee.clone(), no_anon_policy], dns());
    let j = w.join(&uri("sip:karen@contoso.com"), &focus(), GUID);
    assert_eq!(j.federated.response().unwrap().codes(), vec![1017]);
    assert_eq!(j.fallback, Some(Fallback::ByStatus { status: 504 }));
    assert_eq!(j.anonymous_target.as_ref().unwrap().ports, vec![443]);
    let anon = j.anonymous.as_ref().unwrap();
    let r = rejected(&anon.outcome);
    // Leaving for an unauthenticated user: only ms-diagnostics-public.
    assert_eq!(r.status, 403);
    assert!(r.diagnostics.is_empty());
    assert_eq!(
        r.public.as_ref().unwrap().public_value(),
        r#"60001;reason="Anonymous participants are not allowed by the organizer's conferencing policy";organizer="ola@fabrikam.com""#
    );
    assert!(!j.summary().anonymous_join && !j.summary().federated_join);

    for (remote, anonymous, code) in [(true, false, 60002), (false, true, 60004)] {
        let body = format!(
            "fqdn = \"sip.fabrikam.com\"\nfederation = true\nremote_user_access = {remote}\nanonymous_user_access = {anonymous}\nsip_domains = [{{ domain = \"fabrikam.com\" }}]\n"
        );
        let w = World::new(vec![attendee.clone(), policy(&body)], dns());
        let j = w.join(&uri("sip:karen@contoso.com"), &focus(), GUID);
        let r = rejected(&j.anonymous.as_ref().unwrap().outcome);
        assert_eq!(r.public.as_ref().unwrap().code().id, code);
    }
}

#[test]
fn anonymous_users_may_only_reach_a_focus() {
    let w = World::new(vec![fabrikam("")], dns());
    let d = w.request(
        &federation::fallback::anonymous_identity(GUID),
        &uri("sip:ola@fabrikam.com"),
    );
    let r = rejected(&d.outcome);
    assert_eq!(r.public.as_ref().unwrap().code().id, 60003);
    let d = w.request(
        &federation::fallback::anonymous_identity(GUID),
        &focus().to_uri(),
    );
    assert_eq!(d.outcome, Outcome::Allowed);
}

#[test]
fn no_fallback_when_the_failure_is_not_in_the_clients_table() {
    // A partner answers 403 with a code outside the client's table (seed-003 Table 1): the
    // client shows the error and does not retry anonymously.
    let p = contoso("");
    let fwd = Forward {
        domain: "fabrikam.com".into(),
        peer: "sip.fabrikam.com".into(),
        port: 5061,
        kind: PeerKind::Federated,
    };
    let reported = Response::reject(
        diag::codes::PEER_NOT_CONFIGURED_EDGE
            .diagnostic()
            .source("sip.fabrikam.com"),
    );
    let o = p.relay(&fwd, &PeerAnswer::Rejected(reported), &mut Trace::default());
    let r = rejected(&o);
    assert_eq!((r.status, r.codes()), (403, vec![60006]));
    assert_eq!(
        federation::fallback::decide(r.status, &r.codes()),
        Fallback::No
    );
}

#[test]
fn inbound_from_an_allowed_domain_must_come_from_its_configured_edge() {
    let p = fabrikam(
        "allowed_domains = [{ domain = \"contoso.com\", edge_fqdn = \"edge2.contoso.com\" }]",
    );
    let req = Request {
        from: uri("sip:karen@contoso.com"),
        to: uri("sip:ola@fabrikam.com"),
    };
    let mut t = Trace::default();
    let o = p.inbound(&req, "sipfed.contoso.com", &dns(), &mut t);
    assert_eq!(rejected(&o).codes(), vec![60006]);
    let o = p.inbound(&req, "EDGE2.contoso.com", &dns(), &mut Trace::default());
    assert_eq!(o, Outcome::Allowed);
    // Discovered partners must connect from the host their SRV record names.
    let open = fabrikam("");
    let o = open.inbound(&req, "rogue.example", &dns(), &mut Trace::default());
    assert_eq!(rejected(&o).codes(), vec![1009]);
}

#[test]
fn tenant_block_list_answers_the_convene_code() {
    let p = policy(
        "fqdn = \"sipfed0a.online.example\"\nfederation = true\npartner_discovery = true\nsip_domains = [{ domain = \"a.example\", tenant = { mode = \"all-except-blocked\", blocked = [\"fabrikam.com\"] } }]\n",
    );
    let w = World::new(vec![p], dns());
    let d = w.request(&uri("sip:u@a.example"), &uri("sip:ola@fabrikam.com"));
    assert_eq!(
        rejected(&d.outcome).diagnostics[0].header_value(),
        r#"60005;reason="To-Uri Domain is in the sender-tenant block list";from-uri="u@a.example";destination="ola@fabrikam.com";source="sipfed0a.online.example""#
    );
}

#[test]
fn internal_requests_of_one_organisation_pass() {
    let p = policy(
        "fqdn = \"sipfed.contoso.com\"\nsip_domains = [{ domain = \"contoso.com\" }, { domain = \"contoso.net\" }]\n",
    );
    let w = World::new(vec![p], Dns::new());
    let d = w.request(&uri("sip:a@contoso.com"), &uri("sip:b@contoso.net"));
    assert_eq!(d.outcome, Outcome::Allowed);
}

#[test]
fn public_im_follows_the_users_public_im_policy() {
    let p = contoso(
        "[[edge.public_providers]]\nname = \"PublicIM\"\nedge_fqdn = \"federation.im.example\"\ndomains = [\"im.example\"]\n[edge.external_access_policies.nopim]\npublic_im = false\n[[edge.users]]\nuri = \"sip:kim@contoso.com\"\nexternal_access = \"nopim\"\n",
    );
    let w = World::new(vec![p], Dns::new());
    let d = w.request(&uri("sip:kim@contoso.com"), &uri("sip:pat@im.example"));
    assert_eq!(
        rejected(&d.outcome).diagnostics[0].header_value(),
        r#"1001;reason="From URI not authorized to communicate with public IM providers";from-uri="kim@contoso.com";destination="pat@im.example";source="sipfed.contoso.com""#
    );
    // Anyone else goes straight to the provider's edge, without discovery or DNS.
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:pat@im.example"));
    assert_eq!(d.outcome, Outcome::Allowed);
    let text: Vec<String> = d.trace.steps.iter().map(|s| s.step.to_string()).collect();
    assert!(
        text.contains(
            &"forward to public IM provider PublicIM at federation.im.example:5061".to_owned()
        ),
        "{text:?}"
    );
}

#[test]
fn remote_sign_in_needs_the_edge_switch_and_the_users_policy() {
    let p = contoso(
        "[edge.external_access_policies.inside-only]\nremote_access = false\n[[edge.users]]\nuri = \"sip:kim@contoso.com\"\nexternal_access = \"inside-only\"\n",
    );
    let mut t = Trace::default();
    assert_eq!(
        p.remote_sign_in(&uri("sip:karen@contoso.com"), &mut t),
        Outcome::Allowed
    );
    let o = p.remote_sign_in(&uri("sip:kim@contoso.com"), &mut t);
    let r = rejected(&o);
    assert_eq!((r.status, r.codes()), (403, vec![4003]));
    // 4003 is an ms-diagnostics-public code: it survives the trip to the outside client.
    let outside = p.external_view(r, &mut t);
    assert!(outside.diagnostics.is_empty());
    assert_eq!(
        outside.public.unwrap().public_value(),
        r#"4003;reason="From URI not enabled for remote access""#
    );
    assert_eq!(
        rejected(&p.remote_sign_in(&uri("sip:x@elsewhere.com"), &mut t)).codes(),
        vec![4005]
    );
    let closed =
        policy("fqdn = \"sipfed.contoso.com\"\nsip_domains = [{ domain = \"contoso.com\" }]\n");
    assert_eq!(
        rejected(&closed.remote_sign_in(&uri("sip:karen@contoso.com"), &mut t)).codes(),
        vec![60004]
    );
}

#[test]
fn an_unmodelled_sender_arrives_from_its_srv_target() {
    // contoso.com has no topology here; fabrikam's edge sees it connect from the host that
    // _sipfederationtls._tcp.contoso.com names, which partner discovery accepts.
    let w = World::new(vec![fabrikam("")], dns());
    let d = w.request(&uri("sip:karen@contoso.com"), &uri("sip:ola@fabrikam.com"));
    assert_eq!(d.outcome, Outcome::Allowed);
    // Without that record the partner cannot be verified: 1008.
    let d = w.request(
        &uri("sip:karen@nosrv.example"),
        &uri("sip:ola@fabrikam.com"),
    );
    assert_eq!(rejected(&d.outcome).codes(), vec![1008]);
}
