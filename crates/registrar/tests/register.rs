//! REGISTER processing on a virtual clock: RFC 3261 §10.3 table-driven cases, Path,
//! Service-Route, outbound flows, GRUUs (RFC 5627 and Lync), expiry, snapshot/restore.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{alice, header_lines, register, register_from, registrar};
use registrar::{Aor, FlowId, Guid, Registrar, RegistrarConfig, RegistrarError, Time};
use sip_msg::{Contact, Message, Uri};

/// One REGISTER of a case and what must follow.
struct Step {
    at: u64,
    call_id: &'static str,
    cseq: u32,
    headers: &'static [&'static str],
    /// `Ok`: the contacts (URI, expires) of the 200 OK in order; `Err`: the status.
    expect: Result<&'static [(&'static str, u32)], u16>,
}

const fn step(
    at: u64,
    call_id: &'static str,
    cseq: u32,
    headers: &'static [&'static str],
    expect: Result<&'static [(&'static str, u32)], u16>,
) -> Step {
    Step {
        at,
        call_id,
        cseq,
        headers,
        expect,
    }
}

const A: &str = "sip:alice@192.0.2.10:5061;transport=tls";
const B: &str = "sip:alice@192.0.2.11:5061;transport=tls";

/// RFC 3261 §10.3 cases: every step's response and the bindings it leaves.
#[test]
fn register_cases() {
    let cases: Vec<(&str, Vec<Step>)> = vec![
        (
            "add with the default interval",
            vec![step(
                0,
                "c1",
                1,
                &["Contact: <sip:alice@192.0.2.10:5061;transport=tls>"],
                Ok(&[(A, 3600)]),
            )],
        ),
        (
            "add with the Expires header, then the contact param wins",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(
                    10,
                    "c1",
                    2,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>;expires=300",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 300)]),
                ),
            ],
        ),
        (
            "refresh keeps one binding",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(
                    500,
                    "c1",
                    2,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
            ],
        ),
        (
            "a second contact adds a binding; a query lists both",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(
                    100,
                    "c2",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.11:5061;transport=tls>",
                        "Expires: 900",
                    ],
                    Ok(&[(B, 900), (A, 500)]),
                ),
                step(200, "c3", 1, &[], Ok(&[(B, 800), (A, 400)])),
            ],
        ),
        (
            "remove one with expires=0",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>, <sip:alice@192.0.2.11:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600), (B, 600)]),
                ),
                step(
                    1,
                    "c1",
                    2,
                    &["Contact: <sip:alice@192.0.2.10:5061;transport=tls>;expires=0"],
                    Ok(&[(B, 599)]),
                ),
            ],
        ),
        (
            "remove all with *",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(
                    0,
                    "c2",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.11:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600), (B, 600)]),
                ),
                step(5, "c3", 1, &["Contact: *", "Expires: 0"], Ok(&[])),
            ],
        ),
        (
            "* without Expires: 0, or with other contacts, is 400",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(1, "c2", 1, &["Contact: *"], Err(400)),
                step(1, "c2", 2, &["Contact: *", "Expires: 60"], Err(400)),
                step(
                    1,
                    "c2",
                    3,
                    &[
                        "Contact: *, <sip:alice@192.0.2.11:5061;transport=tls>",
                        "Expires: 0",
                    ],
                    Err(400),
                ),
            ],
        ),
        (
            "* with the same Call-ID needs a higher CSeq",
            vec![
                step(
                    0,
                    "c1",
                    5,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(1, "c1", 5, &["Contact: *", "Expires: 0"], Err(400)),
                step(1, "c1", 6, &["Contact: *", "Expires: 0"], Ok(&[])),
            ],
        ),
        (
            "interval too brief is 423; nothing changes",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(
                    1,
                    "c2",
                    1,
                    &["Contact: <sip:alice@192.0.2.11:5061;transport=tls>;expires=30"],
                    Err(423),
                ),
                step(
                    1,
                    "c2",
                    2,
                    &[
                        "Contact: <sip:alice@192.0.2.11:5061;transport=tls>",
                        "Expires: 59",
                    ],
                    Err(423),
                ),
            ],
        ),
        (
            "a too-long interval is clamped to the maximum",
            vec![step(
                0,
                "c1",
                1,
                &[
                    "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                    "Expires: 86400",
                ],
                Ok(&[(A, 7200)]),
            )],
        ),
        (
            "q orders the bindings, absent q counts as 1.0",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>;q=0.2",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(
                    0,
                    "c2",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.11:5061;transport=tls>;q=0.9",
                        "Expires: 600",
                    ],
                    Ok(&[(B, 600), (A, 600)]),
                ),
                step(
                    0,
                    "c3",
                    1,
                    &["Contact: <sip:alice@192.0.2.12>", "Expires: 600"],
                    Ok(&[("sip:alice@192.0.2.12", 600), (B, 600), (A, 600)]),
                ),
            ],
        ),
        (
            "same Call-ID with an equal or lower CSeq fails; a new Call-ID updates",
            vec![
                step(
                    0,
                    "c1",
                    10,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(
                    1,
                    "c1",
                    10,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 900",
                    ],
                    Err(400),
                ),
                step(
                    1,
                    "c1",
                    9,
                    &["Contact: <sip:alice@192.0.2.10:5061;transport=tls>;expires=0"],
                    Err(400),
                ),
                step(
                    1,
                    "c9",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 900",
                    ],
                    Ok(&[(A, 900)]),
                ),
            ],
        ),
        (
            "a failing contact aborts the whole request",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                        "Expires: 600",
                    ],
                    Ok(&[(A, 600)]),
                ),
                step(
                    1,
                    "c2",
                    1,
                    &[
                        "Contact: <sip:alice@192.0.2.11:5061;transport=tls>;expires=600, <sip:alice@192.0.2.12>;expires=5",
                    ],
                    Err(423),
                ),
            ],
        ),
        (
            "a contact listed twice is one binding, the last listing wins",
            vec![step(
                0,
                "c1",
                1,
                &[
                    "Contact: <sip:alice@192.0.2.10:5061;transport=tls>;expires=600, <sip:alice@192.0.2.10:5061;transport=tls>;expires=900",
                ],
                Ok(&[(A, 900)]),
            )],
        ),
        (
            "contact URIs compare per RFC 3261 §19.1.4",
            vec![
                step(
                    0,
                    "c1",
                    1,
                    &[
                        "Contact: <sip:Alice@Host.Example.TEST:5060;transport=TCP;ob>",
                        "Expires: 600",
                    ],
                    Ok(&[("sip:Alice@Host.Example.TEST:5060;transport=TCP;ob", 600)]),
                ),
                // Host case, transport value case and an extra parameter do not matter.
                step(
                    1,
                    "c1",
                    2,
                    &[
                        "Contact: <sip:Alice@host.example.test:5060;transport=tcp>",
                        "Expires: 700",
                    ],
                    Ok(&[("sip:Alice@host.example.test:5060;transport=tcp", 700)]),
                ),
                // %-escapes are compared decoded.
                step(
                    2,
                    "c1",
                    3,
                    &[
                        "Contact: <sip:%41lice@host.example.test:5060;transport=tcp>",
                        "Expires: 800",
                    ],
                    Ok(&[("sip:%41lice@host.example.test:5060;transport=tcp", 800)]),
                ),
                // User case, a missing port or another maddr make another binding.
                step(
                    3,
                    "c1",
                    4,
                    &[
                        "Contact: <sip:alice@host.example.test:5060;transport=tcp>, <sip:Alice@host.example.test;transport=tcp>, <sip:Alice@host.example.test:5060;transport=tcp;maddr=192.0.2.1>",
                        "Expires: 900",
                    ],
                    Ok(&[
                        ("sip:alice@host.example.test:5060;transport=tcp", 900),
                        ("sip:Alice@host.example.test;transport=tcp", 900),
                        (
                            "sip:Alice@host.example.test:5060;transport=tcp;maddr=192.0.2.1",
                            900,
                        ),
                        ("sip:%41lice@host.example.test:5060;transport=tcp", 799),
                    ]),
                ),
            ],
        ),
        (
            "removing a binding that does not exist is a no-op",
            vec![step(
                0,
                "c1",
                1,
                &[
                    "Contact: <sip:alice@192.0.2.10:5061;transport=tls>",
                    "Expires: 0",
                ],
                Ok(&[]),
            )],
        ),
        (
            "more than one reg-id is 400 (RFC 5626 §6)",
            vec![step(
                0,
                "c1",
                1,
                &[
                    "Supported: outbound",
                    "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1, <sip:alice@192.0.2.11>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=2",
                ],
                Err(400),
            )],
        ),
    ];

    for (name, steps) in cases {
        let mut r = registrar();
        for (i, s) in steps.iter().enumerate() {
            let now = Time::from_secs(s.at);
            let req = register(s.call_id, s.cseq, s.headers);
            let before = r.lookup(now, &alice());
            match (r.register(now, &req, &alice(), None), s.expect) {
                (Ok(out), Ok(expected)) => {
                    assert_eq!(out.response.status(), Some(200), "{name} step {i}");
                    let got: Vec<(String, u32)> = out
                        .response
                        .contacts()
                        .unwrap()
                        .into_iter()
                        .map(|c| match c {
                            Contact::Addr(a) => (a.uri.to_string(), a.expires().unwrap()),
                            Contact::Star => panic!("{name}: * in a 200 OK"),
                        })
                        .collect();
                    let want: Vec<(String, u32)> = expected
                        .iter()
                        .map(|(u, e)| ((*u).to_owned(), *e))
                        .collect();
                    assert_eq!(got, want, "{name} step {i}: 200 OK contacts");
                    let looked: Vec<String> = r
                        .lookup(now, &alice())
                        .into_iter()
                        .map(|b| b.contact)
                        .collect();
                    let want_uris: Vec<String> = want.into_iter().map(|(u, _)| u).collect();
                    assert_eq!(looked, want_uris, "{name} step {i}: lookup");
                }
                (Err(e), Err(status)) => {
                    assert_eq!(e.status(), status, "{name} step {i}: {e}");
                    let resp = r.reject(&req, &e);
                    assert_eq!(resp.status(), Some(status), "{name} step {i}");
                    assert_eq!(resp.ms_diagnostics().unwrap().len(), 1, "{name} step {i}");
                    assert_eq!(
                        r.lookup(now, &alice()),
                        before,
                        "{name} step {i}: unchanged"
                    );
                }
                (got, want) => panic!("{name} step {i}: got {got:?}, want {want:?}"),
            }
        }
    }
}

#[test]
fn interval_too_brief_says_min_expires() {
    let mut r = registrar();
    let req = register("c1", 1, &["Contact: <sip:alice@192.0.2.10>;expires=10"]);
    let err = r.register(Time(0), &req, &alice(), None).unwrap_err();
    assert_eq!(
        err,
        RegistrarError::IntervalTooBrief {
            requested: 10,
            min_expires: 60
        }
    );
    let resp = r.reject(&req, &err);
    assert_eq!(resp.status(), Some(423));
    assert_eq!(resp.min_expires().unwrap(), Some(60));
    let d = resp.ms_diagnostics().unwrap();
    assert_eq!(d[0].code, diag::codes::REGISTRATION_TOO_BRIEF.id);
    assert_eq!(d[0].source(), Some("fe.example.test"));
    assert!(r.is_empty());
}

#[test]
fn the_200_ok_carries_what_lync_needs() {
    let mut r = registrar();
    let req = register(
        "c1",
        1,
        &["Contact: <sip:alice@192.0.2.10>", "Expires: 1200"],
    );
    let out = r.register(Time(0), &req, &alice(), None).unwrap();
    let resp = Message::parse(out.response.to_bytes()).unwrap();
    assert_eq!(resp.status(), Some(200));
    // Dialog identifiers copied, To tagged (RFC 3261 §8.2.6.2).
    assert_eq!(resp.call_id().unwrap().unwrap().0, "c1");
    assert!(resp.to().unwrap().unwrap().tag().is_some());
    assert_eq!(resp.expires().unwrap(), Some(1200));
    // MS-SIP.md §2.5: each option tag on its own line.
    assert_eq!(
        header_lines(&resp, "Supported"),
        vec!["adhoclist", "msrtc-event-categories"]
    );
    assert_eq!(
        header_lines(&resp, "Allow-Events"),
        vec!["presence,vnd-microsoft-provisioning-v2"]
    );
    // RFC 3608 §6.
    assert_eq!(
        header_lines(&resp, "Service-Route"),
        vec!["<sip:fe.example.test;lr>"]
    );
    // No outbound, no Require; no Path without Supported: path.
    assert!(header_lines(&resp, "Require").is_empty());
    assert!(header_lines(&resp, "Path").is_empty());
    assert_eq!(resp.content_length().unwrap(), Some(0));
}

#[test]
fn a_query_lists_bindings_without_expires() {
    let mut r = registrar();
    r.register(
        Time(0),
        &register(
            "c1",
            1,
            &["Contact: <sip:alice@192.0.2.10>", "Expires: 600"],
        ),
        &alice(),
        None,
    )
    .unwrap();
    // RFC 3261 §10.2.3: no Contact is a query; it changes nothing.
    let out = r
        .register(
            Time::from_secs(100),
            &register("c2", 1, &[]),
            &alice(),
            None,
        )
        .unwrap();
    assert_eq!((out.added, out.removed), (0, 0));
    assert!(header_lines(&out.response, "Expires").is_empty());
    assert_eq!(contact_addrs(&out.response)[0].expires(), Some(500));
    // Removing everything answers Expires: 0.
    let out = r
        .register(
            Time::from_secs(100),
            &register("c2", 2, &["Contact: *", "Expires: 0"]),
            &alice(),
            None,
        )
        .unwrap();
    assert_eq!(out.removed, 1);
    assert_eq!(header_lines(&out.response, "Expires"), vec!["0"]);
    assert!(contact_addrs(&out.response).is_empty());
}

#[test]
fn path_is_stored_and_echoed_when_supported() {
    let mut r = registrar();
    let paths = [
        "Path: <sip:edge.example.test;lr>",
        "Path: <sip:p2.example.test;lr>",
    ];
    let mut h = vec!["Supported: path", "Contact: <sip:alice@192.0.2.10>"];
    h.extend(paths);
    let req = register("c1", 1, &h);
    let out = r.register(Time(0), &req, &alice(), None).unwrap();
    assert_eq!(
        header_lines(&out.response, "Path"),
        vec!["<sip:edge.example.test;lr>", "<sip:p2.example.test;lr>"]
    );
    assert_eq!(
        r.lookup(Time(0), &alice())[0].path,
        vec!["<sip:edge.example.test;lr>", "<sip:p2.example.test;lr>"]
    );
    // Without Supported: path the Path is stored but not echoed (RFC 3327 §5.3).
    let mut h2 = vec!["Contact: <sip:alice@192.0.2.10>"];
    h2.extend(paths);
    let out = r
        .register(Time(0), &register("c1", 2, &h2), &alice(), None)
        .unwrap();
    assert!(header_lines(&out.response, "Path").is_empty());
    assert_eq!(r.lookup(Time(0), &alice())[0].path.len(), 2);
}

const INSTANCE: &str = "urn:uuid:00000000-0000-1000-8000-000a95a0e128";

#[test]
fn outbound_binds_a_flow_and_dies_with_it() {
    let mut r = registrar();
    let flow = FlowId(42);
    let req = register(
        "c1",
        1,
        &[
            "Supported: outbound, path",
            "Contact: <sip:alice@192.0.2.10;ob>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1",
        ],
    );
    let out = r.register(Time(0), &req, &alice(), Some(flow)).unwrap();
    assert!(out.outbound);
    assert_eq!(header_lines(&out.response, "Require"), vec!["outbound"]);
    // A second flow of the same instance (reg-id 2) is a separate binding.
    let req2 = register(
        "c1",
        2,
        &[
            "Supported: outbound",
            "Contact: <sip:alice@192.0.2.10;ob>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=2",
        ],
    );
    r.register(Time(0), &req2, &alice(), Some(FlowId(43)))
        .unwrap();
    // A plain binding received over the same connection does not die with it.
    let plain = register("c2", 1, &["Contact: <sip:alice@192.0.2.99>"]);
    r.register(Time(0), &plain, &alice(), Some(flow)).unwrap();
    assert_eq!(r.lookup(Time(0), &alice()).len(), 3);

    let gone = r.flow_closed(flow);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].reg_id, Some(1));
    assert_eq!(gone[0].instance.as_deref(), Some(INSTANCE));
    let left: Vec<Option<u32>> = r
        .lookup(Time(0), &alice())
        .iter()
        .map(|b| b.reg_id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&Some(1)));
    assert!(r.flow_closed(flow).is_empty());
}

#[test]
fn reg_id_without_supported_outbound_is_ignored() {
    let mut r = registrar();
    let req = register(
        "c1",
        1,
        &[
            "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1",
        ],
    );
    let out = r
        .register(Time(0), &req, &alice(), Some(FlowId(1)))
        .unwrap();
    assert!(!out.outbound);
    assert!(header_lines(&out.response, "Require").is_empty());
    assert!(r.flow_closed(FlowId(1)).is_empty());
    assert_eq!(r.lookup(Time(0), &alice())[0].reg_id, None);
}

#[test]
fn outbound_behind_a_path_without_ob_is_439() {
    let mut r = registrar();
    let req = register(
        "c1",
        1,
        &[
            "Supported: outbound",
            "Path: <sip:edge.example.test;lr>",
            "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1",
        ],
    );
    let err = r.register(Time(0), &req, &alice(), None).unwrap_err();
    assert_eq!(err, RegistrarError::FirstHopLacksOutbound);
    assert_eq!(r.reject(&req, &err).status(), Some(439));
    // With ob on the first Path the edge owns the flow and outbound applies.
    let ok = register(
        "c1",
        2,
        &[
            "Supported: outbound",
            "Path: <sip:edge.example.test;lr;ob>",
            "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=1",
        ],
    );
    assert!(r.register(Time(0), &ok, &alice(), None).unwrap().outbound);
}

fn contact_addrs(m: &Message) -> Vec<sip_msg::NameAddr> {
    m.contacts()
        .unwrap()
        .into_iter()
        .filter_map(|c| match c {
            Contact::Addr(a) => Some(a),
            Contact::Star => None,
        })
        .collect()
}

#[test]
fn gruu_forms_present_exactly_when_supported() {
    let contact = "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d>\"";
    let cases: [(&[&str], bool, bool); 4] = [
        (&[], false, false),
        (&["Supported: gruu"], true, false),
        (&["Supported: gruu-10, adhoclist"], false, true),
        (&["Supported: gruu", "Supported: gruu-10"], true, true),
    ];
    for (supported, rfc, lync) in cases {
        let mut r = registrar();
        let mut h = supported.to_vec();
        h.push(contact);
        h.push("Contact: <sip:alice@192.0.2.20>");
        let out = r
            .register(Time(0), &register("c1", 1, &h), &alice(), None)
            .unwrap();
        let addrs = contact_addrs(&out.response);
        assert_eq!(addrs.len(), 2);
        for a in &addrs {
            let has_instance = a.sip_instance().is_some();
            assert_eq!(a.pub_gruu().is_some(), rfc && has_instance, "{supported:?}");
            assert_eq!(
                a.temp_gruu().is_some(),
                rfc && has_instance,
                "{supported:?}"
            );
            assert_eq!(a.gruu().is_some(), lync && has_instance, "{supported:?}");
        }
        let with = addrs.iter().find(|a| a.sip_instance().is_some()).unwrap();
        if rfc {
            assert_eq!(
                with.pub_gruu(),
                Some("sip:alice@example.test;gr=urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d")
            );
        }
        if lync {
            // MS-SIP.md §2.3 vector.
            assert_eq!(
                with.gruu(),
                Some("sip:alice@example.test;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu")
            );
        }
    }
}

#[test]
fn lync_register_with_epid_gets_its_gruu_and_lookup_finds_it() {
    let mut r = registrar();
    // The OCS 2007 R2 capture of MS-SIP.md §2.5: epid c8ca638a15.
    let req = register_from(
        "<sip:alice@example.test>;tag=3e49177a52;epid=c8ca638a15",
        "4037df92",
        3,
        &[
            "Supported: gruu-10, adhoclist, msrtc-event-categories",
            "Contact: <sip:192.168.172.6:12723;transport=tls;ms-opaque=fad3dfab32>;methods=\"INVITE, MESSAGE\";proxy=replace;+sip.instance=\"<urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d>\"",
            "Contact: <sip:192.168.172.7:5061;transport=tls>",
        ],
    );
    let out = r.register(Time(0), &req, &alice(), None).unwrap();
    let addrs = contact_addrs(&out.response);
    let lync = addrs.iter().find(|a| a.gruu().is_some()).unwrap();
    assert_eq!(
        lync.sip_instance(),
        Some("urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d")
    );
    assert_eq!(lync.param("proxy"), Some(Some("replace")));
    let gruu = lync.gruu().unwrap();
    // The proxy resolves the GRUU to exactly that binding.
    let b = r.lookup_gruu(Time(0), &Uri::parse(gruu).unwrap()).unwrap();
    assert_eq!(b.epid.as_deref(), Some("c8ca638a15"));
    assert!(b.contact.contains("192.168.172.6"));
    // Parameter order does not matter (MS-SIP.md §2.3).
    let swapped = "sip:alice@example.test;gruu;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA";
    assert_eq!(
        r.lookup_gruu(Time(0), &Uri::parse(swapped).unwrap()),
        Some(b)
    );
    // Another epid's GRUU or another user's finds nothing.
    let other = format!(
        "sip:alice@example.test;opaque=user:epid:{};gruu",
        Guid::from_epid("2ebb6f264f").to_user_epid_opaque()
    );
    assert!(
        r.lookup_gruu(Time(0), &Uri::parse(&other).unwrap())
            .is_none()
    );
    let bob = "sip:bob@example.test;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu";
    assert!(r.lookup_gruu(Time(0), &Uri::parse(bob).unwrap()).is_none());
}

#[test]
fn instance_not_derived_from_epid_is_rejected() {
    let mut r = registrar();
    let req = register_from(
        "<sip:alice@example.test>;tag=1;epid=8248ca9ebb",
        "c1",
        1,
        &[
            "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d>\"",
        ],
    );
    let err = r.register(Time(0), &req, &alice(), None).unwrap_err();
    let RegistrarError::InstanceNotDerivedFromEpid { expected, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(expected, "urn:uuid:4233fd41-093b-5fd6-b5d2-651ed55969e6");
    let resp = r.reject(&req, &err);
    assert_eq!(resp.status(), Some(400));
    let d = resp.ms_diagnostics().unwrap();
    assert_eq!(d[0].code, diag::codes::INSTANCE_NOT_DERIVED_FROM_EPID.id);
    assert_eq!(d[0].param("epid"), Some("8248ca9ebb"));
    assert!(r.is_empty());
    // The right instance (upper case as Microsoft clients print it) is accepted.
    let ok = register_from(
        "<sip:alice@example.test>;tag=1;epid=8248ca9ebb",
        "c1",
        2,
        &[
            "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>\"",
        ],
    );
    assert!(r.register(Time(0), &ok, &alice(), None).is_ok());
}

#[test]
fn rfc5627_gruus_resolve_to_their_binding() {
    let mut r = registrar();
    let h = [
        "Supported: gruu",
        "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"",
        "Contact: <sip:alice@192.0.2.11>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e129>\"",
    ];
    let out = r
        .register(Time(0), &register("c1", 1, &h), &alice(), None)
        .unwrap();
    let addrs = contact_addrs(&out.response);
    for a in &addrs {
        let pub_g = Uri::parse(a.pub_gruu().unwrap()).unwrap();
        let temp_g = Uri::parse(a.temp_gruu().unwrap()).unwrap();
        let by_pub = r.lookup_gruu(Time(0), &pub_g).unwrap();
        let by_temp = r.lookup_gruu(Time(0), &temp_g).unwrap();
        assert_eq!(by_pub.contact, a.uri.to_string());
        assert_eq!(by_temp.contact, a.uri.to_string());
        assert!(!a.temp_gruu().unwrap().contains("alice"));
    }
    let first_temp = addrs[0].temp_gruu().unwrap().to_owned();
    // A refresh with the same Call-ID issues a new temp GRUU; the old one stays valid.
    let out2 = r
        .register(Time(10), &register("c1", 2, &h), &alice(), None)
        .unwrap();
    let second_temp = contact_addrs(&out2.response)[0]
        .temp_gruu()
        .unwrap()
        .to_owned();
    assert_ne!(first_temp, second_temp);
    assert!(
        r.lookup_gruu(Time(10), &Uri::parse(&first_temp).unwrap())
            .is_some()
    );
    // A new Call-ID invalidates earlier temp GRUUs (RFC 5627 §5.3).
    let out3 = r
        .register(Time(20), &register("c2", 1, &h), &alice(), None)
        .unwrap();
    let third_temp = contact_addrs(&out3.response)[0]
        .temp_gruu()
        .unwrap()
        .to_owned();
    assert!(
        r.lookup_gruu(Time(20), &Uri::parse(&first_temp).unwrap())
            .is_none()
    );
    assert!(
        r.lookup_gruu(Time(20), &Uri::parse(&second_temp).unwrap())
            .is_none()
    );
    assert!(
        r.lookup_gruu(Time(20), &Uri::parse(&third_temp).unwrap())
            .is_some()
    );
    // A forged temp GRUU (one character changed) finds nothing.
    let mut forged = third_temp.clone().into_bytes();
    let at = forged.iter().position(|&c| c == b'@').unwrap() - 1;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert!(
        r.lookup_gruu(Time(20), &Uri::parse(&forged).unwrap())
            .is_none()
    );
    // Unknown instance.
    let unknown = "sip:alice@example.test;gr=urn:uuid:11111111-0000-1000-8000-000a95a0e128";
    assert!(
        r.lookup_gruu(Time(20), &Uri::parse(unknown).unwrap())
            .is_none()
    );
    // After the binding expires, none of its GRUUs resolve.
    let later = Time::from_secs(20 + 3601);
    assert!(
        r.lookup_gruu(later, &Uri::parse(&third_temp).unwrap())
            .is_none()
    );
    r.expire(later);
    assert!(r.is_empty());
}

#[test]
fn bindings_expire_on_the_virtual_clock() {
    let mut r = registrar();
    r.register(
        Time(0),
        &register(
            "c1",
            1,
            &["Contact: <sip:alice@192.0.2.10>", "Expires: 100"],
        ),
        &alice(),
        None,
    )
    .unwrap();
    r.register(
        Time(0),
        &register(
            "c2",
            1,
            &["Contact: <sip:alice@192.0.2.11>", "Expires: 200"],
        ),
        &alice(),
        None,
    )
    .unwrap();
    assert_eq!(r.next_expiry(), Some(Time::from_secs(100)));
    assert_eq!(r.expire(Time::from_secs(99)), 0);
    assert_eq!(r.lookup(Time::from_secs(99), &alice()).len(), 2);
    // lookup hides an expired binding even before expire() runs.
    assert_eq!(r.lookup(Time::from_secs(100), &alice()).len(), 1);
    assert_eq!(r.expire(Time::from_secs(100)), 1);
    assert_eq!(r.next_expiry(), Some(Time::from_secs(200)));
    // A refresh moves the expiry.
    r.register(
        Time::from_secs(150),
        &register(
            "c2",
            2,
            &["Contact: <sip:alice@192.0.2.11>", "Expires: 200"],
        ),
        &alice(),
        None,
    )
    .unwrap();
    assert_eq!(r.next_expiry(), Some(Time::from_secs(350)));
    assert_eq!(r.expire(Time::from_secs(349)), 0);
    assert_eq!(r.expire(Time::from_secs(350)), 1);
    assert_eq!(r.next_expiry(), None);
    assert!(r.is_empty());
}

#[test]
fn snapshot_restore_drops_what_expired_meanwhile() {
    let mut r = registrar();
    let h = [
        "Supported: gruu",
        "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\"",
        "Expires: 100",
    ];
    let out = r
        .register(Time(0), &register("c1", 1, &h), &alice(), None)
        .unwrap();
    let temp = contact_addrs(&out.response)[0]
        .temp_gruu()
        .unwrap()
        .to_owned();
    r.register(
        Time(0),
        &register(
            "c2",
            1,
            &["Contact: <sip:alice@192.0.2.11>", "Expires: 1000"],
        ),
        &alice(),
        None,
    )
    .unwrap();
    let bob = Aor::new("bob", "example.test");
    r.register(
        Time(0),
        &register("c3", 1, &["Contact: <sip:bob@192.0.2.12>", "Expires: 80"]),
        &bob,
        None,
    )
    .unwrap();
    let json = serde_json::to_string(&r.snapshot()).unwrap();

    // "Restart" at t=500 s: alice's 100 s binding and bob's are gone, alice's other stays.
    let mut r2 = registrar();
    let dropped = r2.restore(Time::from_secs(500), serde_json::from_str(&json).unwrap());
    assert_eq!(dropped, 2);
    assert_eq!(r2.len(), 1);
    let left = r2.lookup(Time::from_secs(500), &alice());
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].contact, "sip:alice@192.0.2.11");
    assert_eq!(left[0].remaining(Time::from_secs(500)), 500);
    assert!(r2.lookup(Time::from_secs(500), &bob).is_empty());
    assert_eq!(r2.next_expiry(), Some(Time::from_secs(1000)));

    // Restored before anything expired, temp GRUUs issued earlier still resolve, and new
    // bindings get fresh ids (no clash with restored ones).
    let mut r3 = registrar();
    assert_eq!(r3.restore(Time(0), serde_json::from_str(&json).unwrap()), 0);
    assert!(
        r3.lookup_gruu(Time(0), &Uri::parse(&temp).unwrap())
            .is_some()
    );
    r3.register(
        Time(0),
        &register("c9", 1, &["Contact: <sip:alice@192.0.2.13>"]),
        &alice(),
        None,
    )
    .unwrap();
    let mut ids: Vec<u64> = r3.snapshot().bindings.iter().map(|b| b.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);

    // A damaged snapshot repeating an id keeps the first copy only.
    let mut snap: registrar::Snapshot = serde_json::from_str(&json).unwrap();
    let copy = snap.bindings[0].clone();
    snap.bindings.push(copy);
    let mut r4 = registrar();
    assert_eq!(r4.restore(Time(0), snap), 1);
    assert_eq!(r4.len(), 3);
    assert_eq!(r4.snapshot().bindings.len(), 3);
}

#[test]
fn not_a_register_is_405_with_allow() {
    let mut r = registrar();
    let text = "OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nFrom: <sip:alice@example.test>;tag=1\r\nTo: <sip:example.test>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let req = Message::parse(text.as_bytes().to_vec()).unwrap();
    let err = r.register(Time(0), &req, &alice(), None).unwrap_err();
    let resp = r.reject(&req, &err);
    assert_eq!(resp.status(), Some(405));
    assert_eq!(header_lines(&resp, "Allow"), vec!["REGISTER"]);
}

#[test]
fn config_is_checked() {
    let bad = RegistrarConfig {
        min_expires: 600,
        default_expires: 300,
        ..RegistrarConfig::default()
    };
    assert!(Registrar::new(bad, &[0; 32]).is_err());
    let bad_route = RegistrarConfig {
        service_route: vec!["<sip:fe.example.test;lr".into()],
        ..RegistrarConfig::default()
    };
    assert!(Registrar::new(bad_route, &[0; 32]).is_err());
    assert!(Registrar::new(RegistrarConfig::default(), &[0; 8]).is_err());
    let parsed: Result<RegistrarConfig, _> = toml::from_str("min_expire = 30");
    assert!(parsed.is_err(), "unknown fields are refused");
    let parsed: RegistrarConfig = toml::from_str("min_expires = 30").unwrap();
    assert_eq!(parsed.min_expires, 30);
    assert_eq!(parsed.max_expires, RegistrarConfig::default().max_expires);
}
