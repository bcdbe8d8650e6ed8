//! Microsoft's SIP extensions as they appear in captured traffic (the field articles and
//! [MS-SIPAE]/[MS-OCER] examples): typed access to every header Lync and Skype for Business
//! rely on, and byte-exact forwarding of everything else.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sip_msg::typed::parse_one;
use sip_msg::{
    AuthValue, Contact, HeaderName, Host, Message, MsDiagnostics, MsGruu, NameAddr, Transport, Uri,
    Via,
};

fn crlf(s: &str) -> Vec<u8> {
    s.replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

/// The 504 of field article 003 (SIP Message 2), as Lync's Edge sent it.
const SEED_003_504: &str = r#"SIP/2.0 504 Server time-out
ms-user-logon-data: RemoteUser
Authentication-Info: TLS-DSK qop="auth", opaque="21A773E9", srand="5EA20BA7", snum="33", rspauth="e4e881d3db7c97b7b49d552966315c3b5d0481d6", targetname="server.contoso.com", realm="SIP Communications Service", version=4
Via: SIP/2.0/TLS 192.168.1.200:52952;received=42.157.86.172;ms-received-port=52952;ms-received-cid=2C00
Content-Length: 0
From: "Karen Berg"<sip:karen@contoso.com>;tag=0fa5a85424;epid=23c6af65b1
To: <sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ>;tag=BA6EAB929067DF296876B3B74D35748D
Call-ID: ab166f84d6db431c8c461da04d3c3407
CSeq: 1 INVITE
ms-diagnostics: 1017;reason="Cannot route From and To domains in this combination";summary="Cannot route between the source and destination domains because partner discovery is not enabled";external-domain="tailspintoys.com";external-type="domain-type-remote";internal-domain="contoso.com";internal-type="domain-type-local";source="sipfed.contoso.com"
Server: RTC/5.0

"#;

#[test]
fn seed_003_edge_rejection_is_fully_typed() {
    let m = Message::parse(crlf(SEED_003_504)).unwrap();
    m.validate().unwrap();
    assert_eq!(m.status(), Some(504));
    assert_eq!(m.reason(), Some("Server time-out"));

    let via = m.top_via().unwrap().unwrap();
    assert_eq!(via.transport, Transport::Tls);
    assert_eq!(via.received(), Some("42.157.86.172"));
    assert_eq!(via.ms_received_port(), Some(52952));
    assert_eq!(via.ms_received_cid(), Some("2C00"));

    let from = m.from().unwrap().unwrap();
    assert_eq!(from.display.as_deref(), Some("Karen Berg"));
    assert_eq!(from.tag(), Some("0fa5a85424"));
    assert_eq!(from.epid(), Some("23c6af65b1"));

    let to = m.to().unwrap().unwrap();
    let focus = to.uri.as_sip().unwrap();
    assert_eq!(focus.ms_gruu(), Some(MsGruu::ConfFocus("2Z92HZZZ".into())));

    let ai = m.authentication_info().unwrap().unwrap();
    assert!(ai.is_scheme("TLS-DSK"));
    assert_eq!(ai.param("srand"), Some("5EA20BA7"));
    assert_eq!(ai.param("snum"), Some("33"));
    assert_eq!(
        ai.param("rspauth"),
        Some("e4e881d3db7c97b7b49d552966315c3b5d0481d6")
    );
    assert_eq!(ai.targetname(), Some("server.contoso.com"));
    assert_eq!(ai.param("version"), Some("4"));

    let d = m.ms_diagnostics().unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].code, 1017);
    assert_eq!(
        d[0].reason(),
        Some("Cannot route From and To domains in this combination")
    );
    assert_eq!(d[0].source(), Some("sipfed.contoso.com"));
    assert_eq!(d[0].param("external-domain"), Some("tailspintoys.com"));
    assert_eq!(d[0].param("INTERNAL-TYPE"), Some("domain-type-local"));

    // Forwarded unchanged, the message is byte for byte the same.
    assert_eq!(&m.to_bytes()[..], &crlf(SEED_003_504)[..]);
}

/// The OCS 2007 R2 REGISTER 200 OK ([MS-SIP] digest §2.5, captured by pidgin-sipe), folded lines included.
const OCS_REGISTER_200: &str = r#"SIP/2.0 200 OK
ms-keep-alive: UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300
Authentication-Info: NTLM rspauth="01000000E615438A917661BE64000000", srand="9616454F", snum="1",
    opaque="2BDBAC9D", qop="auth", targetname="cosmo-ocs-r2.cosmo.local", realm="SIP Communications Service"
From: "User"<sip:user@cosmo.local>;tag=3e49177a52;epid=c8ca638a15
To: <sip:user@cosmo.local>;tag=5E61CCD925D17E043D9A74835A88F664
Call-ID: 4037df9284354df39065195bd57a4b14
CSeq: 3 REGISTER
Via: SIP/2.0/TLS 192.168.172.6:12723;ms-received-port=12723;ms-received-cid=2600
Contact: <sip:192.168.172.6:12723;transport=tls;ms-opaque=fad3dfab32;ms-received-cid=2600>;expires=7200;
    +sip.instance="<urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d>";
    gruu="sip:user@cosmo.local;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu"
Expires: 7200
presence-state: register-action="added"
Allow-Events: vnd-microsoft-provisioning,vnd-microsoft-roaming-contacts,vnd-microsoft-roaming-ACL,presence,
    presence.wpending,vnd-microsoft-roaming-self,vnd-microsoft-provisioning-v2
Supported: adhoclist
Server: RTC/3.5
Supported: msrtc-event-categories
Content-Length: 0

"#;

#[test]
fn ocs_register_ok_with_gruu_and_folded_lines() {
    let m = Message::parse(crlf(OCS_REGISTER_200)).unwrap();
    m.validate().unwrap();
    let contacts = m.contacts().unwrap();
    assert_eq!(contacts.len(), 1);
    let Contact::Addr(c) = &contacts[0] else {
        panic!("not an address")
    };
    assert_eq!(c.expires(), Some(7200));
    assert_eq!(
        c.sip_instance(),
        Some("urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d")
    );
    let gruu = Uri::parse(c.gruu().unwrap()).unwrap();
    assert_eq!(
        gruu.as_sip().unwrap().ms_gruu(),
        Some(MsGruu::UserEpid("21nYNIVlkV-jtN6FPBU0fQAA".into()))
    );
    assert_eq!(
        c.uri.as_sip().unwrap().host,
        Host::V4("192.168.172.6".parse().unwrap())
    );
    assert_eq!(m.expires().unwrap(), Some(7200));
    // Supported on separate lines, as Lync clients need them ([MS-SIP] digest §2.5)
    let sup: Vec<String> = m.supported().unwrap().into_iter().map(|t| t.0).collect();
    assert_eq!(sup, ["adhoclist", "msrtc-event-categories"]);
    let events = m.all::<sip_msg::Token>(&HeaderName::AllowEvents).unwrap();
    assert_eq!(events.len(), 7);
    assert_eq!(events[5].0, "vnd-microsoft-roaming-self");
    let ai = m.authentication_info().unwrap().unwrap();
    assert!(ai.is_scheme("NTLM"));
    assert_eq!(ai.opaque(), Some("2BDBAC9D"));
    assert_eq!(ai.realm(), Some("SIP Communications Service"));
    // unknown header kept
    assert_eq!(
        m.header(&HeaderName::new("presence-state"))
            .unwrap()
            .value(),
        b"register-action=\"added\""
    );
    assert_eq!(&m.to_bytes()[..], &crlf(OCS_REGISTER_200)[..]);
}

// [MS-SIPAE] 3.3: the NTLM response of a client, signed (OCS 2007 R2 capture)
#[test]
fn ntlm_proxy_authorization() {
    let v: AuthValue = parse_one(
        r#"NTLM qop="auth", realm="SIP Communications Service", opaque="2BDBAC9D", targetname="cosmo-ocs-r2.cosmo.local", version=4, gssapi-data="TlRMTVNTUAADAAAAGAAYAHIAAAAYABgAigAAAA==", crand="13317733", cnum="1", response="0100000029618e9651b65a7764000000""#,
    )
    .unwrap();
    assert!(v.is_scheme("ntlm"));
    assert_eq!(
        v.param("gssapi-data"),
        Some("TlRMTVNTUAADAAAAGAAYAHIAAAAYABgAigAAAA==")
    );
    assert_eq!(v.param("crand"), Some("13317733"));
    assert_eq!(v.param("cnum"), Some("1"));
    assert_eq!(
        v.param("response"),
        Some("0100000029618e9651b65a7764000000")
    );
    assert_eq!(v.param("version"), Some("4"));
    // written back and parsed again, the same value
    assert_eq!(parse_one::<AuthValue>(&v.to_string()).unwrap(), v);
    // an empty token in the first leg
    let first: AuthValue = parse_one(r#"NTLM qop="auth", realm="SIP Communications Service", targetname="fe.contoso.com", gssapi-data="", version=4"#).unwrap();
    assert_eq!(first.param("gssapi-data"), Some(""));
}

// [MS-SIPAE] 3.2: one challenge per scheme, on separate lines, never split on commas
#[test]
fn several_challenges_one_per_line() {
    let raw = crlf(
        "SIP/2.0 401 Unauthorized\nVia: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\nFrom: <sip:a@contoso.com>;tag=1\nTo: <sip:a@contoso.com>;tag=2\nCall-ID: c\nCSeq: 1 REGISTER\nDate: Thu, 31 Jan 2008 00:01:56 GMT\nWWW-Authenticate: NTLM realm=\"SIP Communications Service\", targetname=\"server.contoso.com\", version=3\nWWW-Authenticate: Kerberos realm=\"SIP Communications Service\", targetname=\"sip/server.contoso.com\", version=3\nWWW-Authenticate: Digest realm=\"example.test\", nonce=\"abc,def\", qop=\"auth\", algorithm=SHA-256, stale=true\nContent-Length: 0\n\n",
    );
    let m = Message::parse(raw).unwrap();
    m.validate().unwrap();
    let ch = m.www_authenticate().unwrap();
    assert_eq!(ch.len(), 3);
    assert!(ch[1].is_scheme("Kerberos"));
    assert_eq!(ch[1].targetname(), Some("sip/server.contoso.com"));
    assert_eq!(ch[2].nonce(), Some("abc,def"));
    assert_eq!(ch[2].param("algorithm"), Some("SHA-256"));
    assert_eq!(ch[2].param("stale"), Some("true"));
}

// [MS-OCER] 2.2.1.1 as seen in the field: several headers, sub-codes, odd parameter order and case, blanks around '='
#[test]
fn ms_diagnostics_variants() {
    let d: MsDiagnostics = parse_one(r#"10003;source="sip.contoso.com";reason="Proxy returned a SIP failure code";component="MediationServer";SipResponseCode="404""#).unwrap();
    assert_eq!(d.code, 10003);
    assert_eq!(d.source(), Some("sip.contoso.com"));
    assert_eq!(d.param("sipresponsecode"), Some("404"));
    let d: MsDiagnostics = parse_one(r#"1010 ; reason = "Certificate trust with another server could not be established" ; ErrorType="Failed to connect" ; PeerServer = "edge.partner.com""#).unwrap();
    assert_eq!(d.code, 1010);
    assert_eq!(d.param("peerserver"), Some("edge.partner.com"));
    let d: MsDiagnostics = parse_one(r#"1003.5;reason="User does not exist""#).unwrap();
    assert_eq!((d.code, d.sub_code), (1003, Some(5)));

    // built by a server and read back; the public form drops source
    let built = MsDiagnostics::new(1003, "User does not exist")
        .with_source("fe.example.test")
        .with_param("TargetUri", "sip:bob@example.test");
    assert_eq!(
        built.to_string(),
        r#"1003;reason="User does not exist";source="fe.example.test";TargetUri="sip:bob@example.test""#
    );
    assert_eq!(
        parse_one::<MsDiagnostics>(&built.to_string()).unwrap(),
        built
    );
    assert_eq!(built.to_public().source(), None);

    let mut resp = Message::response(404, "Not Found");
    resp.add_ms_diagnostics(
        &MsDiagnostics::new(
            1034,
            "Previous hop federated peer did not report diagnostic information",
        )
        .with_source("edge.example.test"),
    );
    resp.add_ms_diagnostics(&built);
    resp.add_ms_diagnostics_public(&built);
    let again = Message::parse(resp.to_bytes()).unwrap();
    let all = again.ms_diagnostics().unwrap();
    assert_eq!(all.iter().map(|d| d.code).collect::<Vec<_>>(), [1034, 1003]);
    let public = again.ms_diagnostics_public().unwrap();
    assert_eq!(public[0].code, 1003);
    assert_eq!(public[0].source(), None);
}

// [MS-SIPAE] 2.2.5: Referred-By with ms-identity parameters (field article 000's REFER, with a URI)
#[test]
fn signed_referred_by() {
    let v: NameAddr = parse_one(r#"<sip:app@apps.example.test;gruu;opaque=srvr:ucma:Xy_z>;ms-identity="MIIBrwYJKoZIhvcNAQcCoIIBoDCCAZwCAQExCzAJBgUrDgMCGgUAMAsGCSqGSIb3DQEHAT:Sat, 18 May 2013 22:27:41 GMT";ms-identity-info="sip:app.example.test:5062;transport=Tls";ms-identity-alg=rsa-sha1"#).unwrap();
    assert_eq!(v.param("ms-identity-alg"), Some(Some("rsa-sha1")));
    assert_eq!(
        v.param("ms-identity-info"),
        Some(Some("sip:app.example.test:5062;transport=Tls"))
    );
    assert!(
        v.param("ms-identity")
            .flatten()
            .unwrap()
            .ends_with("22:27:41 GMT")
    );
    assert_eq!(
        v.uri.as_sip().unwrap().ms_gruu(),
        Some(MsGruu::Server("ucma:Xy_z".into()))
    );
    let b = "REFER sip:bob@example.test;opaque=user:epid:Gnzkenucf1uGNpNe_DWJRQAA;gruu SIP/2.0\r\nVia: SIP/2.0/TLS 10.0.0.9:5062;branch=z9hG4bKx\r\nFrom: <sip:app@example.test>;epid=AFF5603E65;tag=d91b34b929\r\nTo: <sip:bob@example.test>;epid=256b2ed6fe;tag=0758bd2558\r\nCall-ID: r1\r\nCSeq: 2 REFER\r\nb: <sip:app@example.test>;ms-identity=\"abc\";ms-identity-alg=rsa-sha1\r\nRefer-To: <sip:carol@example.test>\r\nContent-Length: 0\r\n\r\n";
    let m = Message::parse(b.as_bytes().to_vec()).unwrap();
    m.validate().unwrap();
    assert_eq!(
        m.referred_by().unwrap().unwrap().param("ms-identity"),
        Some(Some("abc"))
    );
    assert_eq!(m.to().unwrap().unwrap().epid(), Some("256b2ed6fe"));
    let ruri = m.uri().unwrap().as_sip().unwrap();
    assert_eq!(
        ruri.ms_gruu(),
        Some(MsGruu::UserEpid("Gnzkenucf1uGNpNe_DWJRQAA".into()))
    );
}

// RFC 5626 / RFC 5627 Contact parameters on a REGISTER
#[test]
fn outbound_and_gruu_contact_params() {
    let c: NameAddr = parse_one(r#"<sip:alice@192.0.2.1:5060;transport=tcp;ob>;reg-id=1;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";q=0.7;expires=3600;pub-gruu="sip:alice@example.test;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";temp-gruu="sip:tgruu.7hs==@example.test;gr""#).unwrap();
    assert_eq!(c.reg_id(), Some(1));
    assert_eq!(
        c.sip_instance(),
        Some("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
    );
    assert_eq!(c.q_millis(), Some(700));
    assert!(c.uri.as_sip().unwrap().has_param("ob"));
    assert!(c.pub_gruu().unwrap().contains(";gr=urn:uuid:"));
    assert!(c.temp_gruu().unwrap().ends_with(";gr"));
    let bad: NameAddr = parse_one("<sip:a@b>;q=1.5").unwrap();
    assert_eq!(bad.q_millis(), None, "qvalue above 1 is not a qvalue");
}

// RFC 3261 §16: a proxy changes only Via, Route and Max-Forwards; everything else stays byte for byte
#[test]
fn proxy_edits_leave_the_rest_untouched() {
    let raw = crlf(
        "INVITE sip:bob@example.test SIP/2.0\nv: SIP/2.0/UDP pc33.example.test;branch=z9hG4bKa, SIP/2.0/UDP p0.example.test;branch=z9hG4bKb\nRoute: <sip:p1.example.test;lr>,<sip:p2.example.test;lr>\nMax-Forwards: 70\nX-Weird:   keep   this  \t\nFrom: Alice <sip:alice@example.test>;tag=1\nTo: <sip:bob@example.test>\nCall-ID: abc\nCSeq: 1 INVITE\nContent-Length: 4\n\nbody",
    );
    let mut m = Message::parse(raw.clone()).unwrap();
    let route = m.remove_first_value(&HeaderName::Route).unwrap().unwrap();
    assert_eq!(route, "<sip:p1.example.test;lr>");
    let mf = m.max_forwards().unwrap().unwrap();
    m.set(HeaderName::MaxForwards, mf - 1);
    let mine = Via::new(
        Transport::Udp,
        Host::Domain("proxy.example.test".into()),
        None,
        "z9hG4bKnew",
    );
    m.prepend(HeaderName::Via, &mine);
    let out = String::from_utf8(m.to_bytes().to_vec()).unwrap();
    assert!(out.contains("X-Weird:   keep   this  \t\r\n"), "{out}");
    assert!(out.contains("From: Alice <sip:alice@example.test>;tag=1\r\n"));
    assert!(out.contains("Route: <sip:p2.example.test;lr>\r\n"));
    assert!(out.contains("Max-Forwards: 69\r\n"));
    assert!(out.ends_with("\r\n\r\nbody"));
    let again = Message::parse(out.into_bytes()).unwrap();
    let vias = again.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0], mine);
    assert_eq!(vias[1].branch(), Some("z9hG4bKa"));
    // removing the top Via of a comma-joined line keeps the other value
    let mut r = again.clone();
    r.remove_first_value(&HeaderName::Via).unwrap();
    r.remove_first_value(&HeaderName::Via).unwrap();
    assert_eq!(r.vias().unwrap()[0].branch(), Some("z9hG4bKb"));
}

// RFC 3261 §8.2.6: a response copies Via, From, To, Call-ID, CSeq and adds a To tag
#[test]
fn response_to_copies_and_tags() {
    let raw = crlf(
        "OPTIONS sip:fe.example.test SIP/2.0\nVia: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1;rport\nVia: SIP/2.0/UDP 10.0.0.3;branch=z9hG4bK0\nFrom: <sip:alice@example.test>;tag=a\nTo: <sip:fe.example.test>\nCall-ID: o1\nCSeq: 7 OPTIONS\nTimestamp: 54\nMax-Forwards: 70\nContent-Length: 0\n\n",
    );
    let req = Message::parse(raw).unwrap();
    let resp = Message::response_to(&req, 200, "OK", Some("srv1"));
    let back = Message::parse(resp.to_bytes()).unwrap();
    back.validate().unwrap();
    assert_eq!(back.vias().unwrap().len(), 2);
    assert_eq!(back.to().unwrap().unwrap().tag(), Some("srv1"));
    assert_eq!(back.cseq().unwrap().unwrap().seq, 7);
    assert!(
        back.header(&HeaderName::Timestamp).is_none(),
        "Timestamp only in 100"
    );
    let trying = Message::response_to(&req, 100, "Trying", Some("srv1"));
    assert_eq!(
        trying.to().unwrap().unwrap().tag(),
        None,
        "no To tag on 100"
    );
    assert!(trying.header(&HeaderName::Timestamp).is_some());
}

// Rejections use the one catalogue: status, reason and ms-diagnostics come from the code
#[test]
fn reject_with_a_catalogued_code() {
    let raw = crlf(
        "INVITE sip:nobody@example.test SIP/2.0\nVia: SIP/2.0/TLS 10.0.0.2:5061;branch=z9hG4bK1\nFrom: <sip:alice@example.test>;tag=a;epid=01\nTo: <sip:nobody@example.test>\nCall-ID: r1\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
    );
    let req = Message::parse(raw).unwrap();
    let d = diag::codes::USER_DOES_NOT_EXIST
        .diagnostic()
        .param("TargetUri", "sip:nobody@example.test")
        .source("fe.example.test");
    let resp = Message::reject(&req, &d, Some("t1"));
    let back = Message::parse(resp.to_bytes()).unwrap();
    back.validate().unwrap();
    assert_eq!(back.status(), Some(404));
    assert_eq!(back.reason(), Some("Not Found"));
    let md = back.ms_diagnostics().unwrap();
    assert_eq!(md.len(), 1);
    assert_eq!(md[0].code, 1003);
    assert_eq!(
        md[0].reason(),
        Some(diag::codes::USER_DOES_NOT_EXIST.reason)
    );
    assert_eq!(md[0].source(), Some("fe.example.test"));
    assert_eq!(md[0].param("targeturi"), Some("sip:nobody@example.test"));
    assert_eq!(
        back.headers().last().unwrap().name(),
        &HeaderName::ContentLength
    );
    // A code the catalogue marks public also goes out as ms-diagnostics-public, without source.
    let mut public = Message::response(421, "Extension Required");
    let pd = diag::codes::EVENT_CATEGORIES_REQUIRED
        .diagnostic()
        .source("fe.example.test");
    public.add_diagnostic(&pd);
    let back = Message::parse(public.to_bytes()).unwrap();
    let pubs = back.ms_diagnostics_public().unwrap();
    assert_eq!(pubs.len(), 1);
    assert_eq!(pubs[0].code, 2013);
    assert!(
        back.ms_diagnostics().unwrap().is_empty(),
        "2013 is public only ([MS-OCER] 8.3)"
    );
    assert_eq!(pubs[0].source(), None);
}
