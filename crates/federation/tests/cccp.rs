//! C3P addUser bodies: the seed-003 envelopes (completed with the minimal addUser of
//! MS-SIP.md §6.3, because the seed's capture stops after `<addUser>`), decoded, checked,
//! and encoded back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use federation::cccp::{AddUserRequest, AddUserResponse, CccpError, NS_CCCP, ResponseCode};
use federation::{FocusUri, SipUri};

const FOCUS: &str = "sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ";

// seed-003 SIP Message 1 envelope (verbatim up to <addUser>), body per MS-SIP.md §6.3.
const SEED_FEDERATED: &str = r#"<?xml version="1.0"?>
<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:mscp="http://schemas.microsoft.com/rtc/2005/08/cccpextensions" C3PVersion="1" to="sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ" from="sip:karen@contoso.com" requestId="387792480"><addUser><conferenceKeys confEntity="sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ"/><ci:user xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="sip:karen@contoso.com"><ci:roles><ci:entry>attendee</ci:entry></ci:roles><ci:endpoint entity="{9f1c3a52-7b7e-4c61-9b0e-0f3b2c1d4e5f}" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions"/></ci:user></addUser></request>"#;

// seed-003 SIP Message 3 envelope (the anonymous retry).
const SEED_ANONYMOUS: &str = r#"<?xml version="1.0"?>
<request xmlns="urn:ietf:params:xml:ns:cccp" xmlns:mscp="http://schemas.microsoft.com/rtc/2005/08/cccpextensions" C3PVersion="1" to="sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ" from="sip:36825c7a-a4ea-430b-aa85-e8aa6ee97ebc@anonymous.invalid" requestId="387813728"><addUser><conferenceKeys confEntity="sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ"/><ci:user xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="sip:36825c7a-a4ea-430b-aa85-e8aa6ee97ebc@anonymous.invalid"><ci:roles><ci:entry>attendee</ci:entry></ci:roles><ci:endpoint entity="{c3a1e0c2-5d7f-4e8a-9c41-2b7d9e0f6a13}" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions"/></ci:user></addUser></request>"#;

#[test]
fn seed_requests_decode_with_their_values() {
    let r = AddUserRequest::decode(SEED_FEDERATED).unwrap();
    assert_eq!(r.xmlns, NS_CCCP);
    assert_eq!(r.c3p_version, 1);
    assert_eq!(r.to, FOCUS);
    assert_eq!(r.from, "sip:karen@contoso.com");
    assert_eq!(r.request_id, 387_792_480);
    assert_eq!(r.add_user.conference_keys.conf_entity, FOCUS);
    assert_eq!(r.add_user.user.entity, "sip:karen@contoso.com");
    assert_eq!(
        r.add_user.user.roles.as_ref().unwrap().entries,
        ["attendee"]
    );
    assert_eq!(
        r.add_user.user.endpoint.as_ref().unwrap().entity,
        "{9f1c3a52-7b7e-4c61-9b0e-0f3b2c1d4e5f}"
    );
    assert_eq!(r.focus().unwrap().conference_id(), "2Z92HZZZ");

    let a = AddUserRequest::decode(SEED_ANONYMOUS).unwrap();
    assert_eq!(a.request_id, 387_813_728);
    assert!(SipUri::parse(&a.from).unwrap().is_anonymous());
}

#[test]
fn seed_requests_round_trip_byte_for_byte() {
    for xml in [SEED_FEDERATED, SEED_ANONYMOUS] {
        let r = AddUserRequest::decode(xml).unwrap();
        assert_eq!(r.encode().unwrap(), xml);
        assert_eq!(AddUserRequest::decode(&r.encode().unwrap()).unwrap(), r);
    }
}

#[test]
fn built_request_matches_the_seed_shape() {
    let focus = FocusUri::parse(FOCUS).unwrap();
    let from = SipUri::parse("sip:karen@contoso.com").unwrap();
    let built = AddUserRequest::new(
        &focus,
        &from,
        387_792_480,
        "attendee",
        "{9f1c3a52-7b7e-4c61-9b0e-0f3b2c1d4e5f}",
    );
    assert_eq!(built.encode().unwrap(), SEED_FEDERATED);
}

#[test]
fn success_response_echoes_keys_and_grants_a_role() {
    let req = AddUserRequest::decode(SEED_FEDERATED).unwrap();
    let resp = req.success("attendee");
    let xml = resp.encode().unwrap();
    assert!(xml.contains(r#"code="success""#), "{xml}");
    let back = AddUserResponse::decode(&xml).unwrap();
    assert_eq!(back, resp);
    assert_eq!(back.code, ResponseCode::Success);
    assert_eq!(
        (back.to.as_str(), back.from.as_str()),
        ("sip:karen@contoso.com", FOCUS)
    );
    assert_eq!(back.request_id, req.request_id);
    let granted = back.add_user.unwrap();
    assert_eq!(granted.conference_keys, req.add_user.conference_keys);
    assert_eq!(granted.user.entity, req.add_user.user.entity);

    let fail = req.failure("Failed authorization");
    let back = AddUserResponse::decode(&fail.encode().unwrap()).unwrap();
    assert_eq!(back.code, ResponseCode::Failure);
    assert_eq!(back.reason.as_deref(), Some("Failed authorization"));
    assert!(back.add_user.is_none());
}

#[test]
fn pidgin_style_response_decodes() {
    // pidgin-sipe checks only `code` (MS-SIP.md §6.3); a minimal focus answer must decode.
    let xml = r#"<response xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" to="sip:me@example.com" from="sip:org@example.com;gruu;opaque=app:conf:focus:id:ABCD1234" requestId="7" code="success"/>"#;
    let r = AddUserResponse::decode(xml).unwrap();
    assert_eq!(r.code, ResponseCode::Success);
    assert!(r.add_user.is_none());
}

#[test]
fn bad_bodies_are_refused_with_the_focus_codes() {
    let wrong_keys = SEED_FEDERATED.replacen(
        r#"confEntity="sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ""#,
        r#"confEntity="sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:OTHER123""#,
        1,
    );
    let cases: Vec<(String, u32)> = vec![
        ("<request".to_owned(), 3006),
        ("not xml at all".to_owned(), 3006),
        (
            SEED_FEDERATED
                .replace("<addUser>", "<deleteUser>")
                .replace("</addUser>", "</deleteUser>"),
            3006,
        ),
        (
            SEED_FEDERATED.replace("urn:ietf:params:xml:ns:cccp", "urn:example"),
            3007,
        ),
        (wrong_keys, 3007),
        (
            SEED_FEDERATED.replace(r#"from="sip:karen@contoso.com""#, r#"from="karen""#),
            3007,
        ),
    ];
    for (xml, code) in cases {
        let e = AddUserRequest::decode(&xml).unwrap_err();
        assert_eq!(e.diag_code().id, code, "{e}");
        assert!(matches!(e, CccpError::Xml(_) | CccpError::Invalid(_)));
    }
}
