//! Property tests: parse(serialize(m)) == m for generated messages and typed values, and
//! no input whatsoever makes the parser or framer panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use sip_msg::typed::parse_one;
use sip_msg::{
    AuthValue, CSeq, CallId, HeaderName, Host, Message, Method, MsDiagnostics, NameAddr, Param,
    SipUri, StreamFramer, Transport, Uri, UriParam, Via,
};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,12}"
}

fn domain() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,8}(\\.[a-z][a-z0-9-]{0,8}[a-z0-9]){0,3}"
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        domain().prop_map(Host::Domain),
        any::<[u8; 4]>().prop_map(|o| Host::V4(o.into())),
        any::<[u16; 8]>().prop_map(|s| Host::V6(s.into())),
    ]
}

fn param_value() -> impl Strategy<Value = Param> {
    prop_oneof![
        (token(), proptest::option::of(token())).prop_map(|(n, v)| Param::new(n, v.as_deref())),
        // quoted values hold any text, quotes and backslashes included (RFC 3261 §25.1 quoted-pair)
        (token(), "[ -~\\u{a0}-\\u{2fff}]{0,20}").prop_map(|(n, v)| Param::quoted(n, v)),
    ]
}

fn sip_uri() -> impl Strategy<Value = SipUri> {
    (
        any::<bool>(),
        proptest::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,10}|%[0-9A-F]{2}[a-z]{1,4}"),
        host(),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(
            (
                "[a-z][a-z0-9-]{0,6}",
                proptest::option::of("[a-zA-Z0-9:+$_.-]{1,10}"),
            ),
            0..4,
        ),
    )
        .prop_map(|(secure, user, host, port, params)| SipUri {
            secure,
            user,
            password: None,
            host,
            port,
            params: params
                .into_iter()
                .map(|(name, value)| UriParam { name, value })
                .collect(),
            headers: Vec::new(),
        })
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (
        proptest::option::of("[ -~\\u{a0}-\\u{2fff}]{0,16}"),
        sip_uri(),
        proptest::collection::vec(param_value(), 0..4),
    )
        .prop_map(|(display, uri, params)| NameAddr {
            display,
            uri: Uri::Sip(uri),
            params,
        })
}

fn via() -> impl Strategy<Value = Via> {
    (
        prop_oneof![
            Just(Transport::Udp),
            Just(Transport::Tcp),
            Just(Transport::Tls),
            "[A-Z]{2,6}".prop_map(|t| Transport::from_token(&t))
        ],
        host(),
        proptest::option::of(any::<u16>()),
        token(),
        proptest::collection::vec((token(), proptest::option::of(token())), 0..3),
    )
        .prop_map(|(t, h, p, branch, extra)| {
            let mut v = Via::new(t, h, p, &format!("z9hG4bK{branch}"));
            for (n, val) in extra {
                // keep the generated names clear of the validated Via parameters
                v.params.push(Param::new(format!("x-{n}"), val.as_deref()));
            }
            v
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Register),
        Just(Method::Service),
        Just(Method::Benotify),
        "[A-Z][A-Z0-9_-]{0,10}".prop_map(|m| Method::from_token(&m)),
    ]
}

fn diag() -> impl Strategy<Value = MsDiagnostics> {
    (0u32..100_000, "[ -~]{0,30}", domain())
        .prop_map(|(c, r, s)| MsDiagnostics::new(c, &r).with_source(&s))
}

fn auth() -> impl Strategy<Value = AuthValue> {
    (
        prop_oneof![
            Just("Digest"),
            Just("NTLM"),
            Just("TLS-DSK"),
            Just("Kerberos")
        ],
        proptest::collection::vec(("[a-z][a-z0-9-]{0,8}", "[ -~]{0,16}"), 1..6),
    )
        .prop_map(|(scheme, params)| {
            let params: Vec<(&str, &str)> = params
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let mut a = AuthValue::new(Some(scheme), &params);
            // values written as tokens must be tokens
            for p in &mut a.params {
                if !p.quoted
                    && p.value.as_deref().is_none_or(|v| {
                        v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric())
                    })
                {
                    p.quoted = true;
                }
            }
            a
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn typed_values_round_trip(v in via(), a in name_addr(), d in diag(), au in auth()) {
        prop_assert_eq!(parse_one::<Via>(&v.to_string()).unwrap(), v);
        prop_assert_eq!(parse_one::<NameAddr>(&a.to_string()).unwrap(), a);
        prop_assert_eq!(parse_one::<MsDiagnostics>(&d.to_string()).unwrap(), d);
        prop_assert_eq!(parse_one::<AuthValue>(&au.to_string()).unwrap(), au);
    }

    #[test]
    fn messages_round_trip(
        m in method(),
        ruri in sip_uri(),
        vias in proptest::collection::vec(via(), 1..4),
        from in name_addr(),
        to in name_addr(),
        call_id in "[a-zA-Z0-9.!%*_+`'~()<>:\\\\\"/\\[\\]?{}-]{1,20}(@[a-z0-9.]{1,10})?",
        seq in any::<u32>(),
        diags in proptest::collection::vec(diag(), 0..3),
        ext in proptest::collection::vec(("X-[A-Za-z0-9-]{1,10}", "[!-~][ -~]{0,30}[!-~]"), 0..4),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut msg = Message::request(m.clone(), Uri::Sip(ruri));
        for v in &vias {
            msg.push(HeaderName::Via, v);
        }
        msg.push(HeaderName::From, &from);
        msg.push(HeaderName::To, &to);
        msg.push(HeaderName::CallId, CallId(call_id));
        msg.push(HeaderName::CSeq, CSeq { seq, method: m });
        msg.push(HeaderName::MaxForwards, 70);
        for d in &diags {
            msg.add_ms_diagnostics(d);
        }
        for (n, v) in &ext {
            msg.push(HeaderName::new(n), v);
        }
        msg.set_body("application/octet-stream", body);
        let wire = msg.to_bytes();
        let back = Message::parse(wire.clone()).unwrap();
        prop_assert_eq!(&back, &msg);
        back.validate().unwrap();
        prop_assert_eq!(back.vias().unwrap(), vias);
        prop_assert_eq!(back.from().unwrap().unwrap(), from);
        prop_assert_eq!(back.ms_diagnostics().unwrap(), diags);
        // byte-exact when written again
        prop_assert_eq!(back.to_bytes(), wire.clone());
        // and framed identically from a stream, split anywhere
        let cut = wire.len() / 2;
        let mut f = StreamFramer::default();
        f.push(&wire[..cut]);
        prop_assert_eq!(f.next_frame().unwrap(), None);
        f.push(&wire[cut..]);
        prop_assert_eq!(f.next_frame().unwrap(), Some(sip_msg::Frame::Message(wire)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = Message::parse(data.clone()) {
            let _ = m.validate();
            let again = Message::parse(m.to_bytes()).unwrap();
            prop_assert_eq!(again, m);
        }
        let mut f = StreamFramer::new(256);
        f.push(&data);
        while let Ok(Some(_)) = f.next_frame() {}
    }

    #[test]
    fn mutated_valid_messages_never_panic(pos in 0usize..400, byte in any::<u8>(), cut in 0usize..400) {
        let base = b"INVITE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/UDP h.example.test;branch=z9hG4bK1;received=10.0.0.1\r\nFrom: \"A\" <sip:a@example.test>;tag=1;epid=abc\r\nTo: <sip:bob@example.test>\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\nContact: <sip:a@10.0.0.1;transport=tcp>;+sip.instance=\"<urn:uuid:1>\"\r\nms-diagnostics: 1;reason=\"r\";source=\"s\"\r\nAuthorization: Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"0\"\r\nContent-Length: 0\r\n\r\n";
        let mut data = base.to_vec();
        if pos < data.len() {
            data[pos] = byte;
        }
        data.truncate(cut.max(1).min(data.len()));
        if let Ok(m) = Message::parse(data.clone()) {
            let _ = (m.validate(), m.vias(), m.contacts(), m.authorization(), m.ms_diagnostics());
        }
    }
}
