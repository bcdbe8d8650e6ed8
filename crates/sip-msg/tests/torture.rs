//! RFC 4475 (SIP torture tests) and RFC 5118 (IPv6 torture tests) run through the parser:
//! valid messages parse, validate and yield the facts the manifest records; invalid ones are
//! rejected the way the RFC says (with the status it names where it names one).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde::Deserialize;
use sip_msg::{ErrorKind, HeaderName, Message, answer_malformed};

#[derive(Debug, Deserialize)]
struct Manifest {
    vector: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Vector {
    file: String,
    name: String,
    category: String,
    expected: String,
    #[serde(default)]
    liberal_ok: bool,
    #[serde(default)]
    parser_may_reject: bool,
    #[serde(default = "yes")]
    header_terminated: bool,
    method: Option<String>,
    request_uri: Option<String>,
    status: Option<u16>,
    call_id: Option<String>,
    cseq_seq: Option<u32>,
    cseq_method: Option<String>,
    via_count: Option<usize>,
    content_length: Option<usize>,
    after_headers_len: Option<usize>,
}

fn yes() -> bool {
    true
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn load() -> Vec<(Vector, Vec<u8>)> {
    let m: Manifest =
        toml::from_str(&std::fs::read_to_string(dir().join("MANIFEST.toml")).unwrap()).unwrap();
    m.vector
        .into_iter()
        .map(|v| {
            let mut bytes = std::fs::read(dir().join(&v.file)).unwrap();
            if !v.header_terminated {
                // The RFC's bytes stop after the last header line; a datagram receiver sees the
                // same message with the empty line a sender must send (RFC 3261 §7).
                bytes.extend_from_slice(b"\r\n");
            }
            (v, bytes)
        })
        .collect()
}

/// Vectors the RFC calls invalid but lets a liberal element accept, which Convene accepts.
/// baddate: RFC 4475 §3.1.2.10 — the Date header is not used for processing, so it is ignored.
const ACCEPTED_LIBERALLY: &[&str] = &["baddate"];

/// "Valid" vectors of the application layer that a server must still refuse with 400:
/// insuf (RFC 4475 §3.3.1, missing Call-ID/From/To) and multi01 (§3.3.9, single-valued
/// headers repeated).
const APPLICATION_400: &[&str] = &["insuf", "multi01"];

#[test]
fn valid_vectors_parse_validate_and_match_the_facts() {
    let mut checked = 0;
    for (v, bytes) in load().into_iter().filter(|(v, _)| v.expected == "valid") {
        let parsed = Message::parse(bytes.clone());
        if v.parser_may_reject {
            // mcl01 / ipv6-in-sdp: the framing itself is ambiguous or short
            if let Err(e) = &parsed {
                assert!(
                    matches!(e.kind, ErrorKind::Semantic | ErrorKind::Truncated),
                    "{}: {e}",
                    v.name
                );
                continue;
            }
        }
        let m = parsed.unwrap_or_else(|e| panic!("{} must parse: {e}", v.name));
        let validation = m.validate();
        if APPLICATION_400.contains(&v.name.as_str()) {
            let e = validation.expect_err(&v.name);
            assert_eq!(e.status_code(), 400, "{}", v.name);
        } else {
            validation.unwrap_or_else(|e| panic!("{} must validate: {e}", v.name));
        }
        if let Some(method) = &v.method {
            assert_eq!(m.method().unwrap().as_str(), method, "{}", v.name);
        }
        if let Some(uri) = &v.request_uri {
            let parsed_uri = sip_msg::Uri::parse(uri).unwrap();
            assert_eq!(m.uri().unwrap(), &parsed_uri, "{}", v.name);
        }
        if let Some(status) = v.status {
            assert_eq!(m.status(), Some(status), "{}", v.name);
        }
        if let Some(call_id) = &v.call_id {
            assert_eq!(&m.call_id().unwrap().unwrap().0, call_id, "{}", v.name);
        }
        if let (Some(seq), Some(method)) = (v.cseq_seq, &v.cseq_method) {
            let cseq = m.cseq().unwrap().unwrap();
            assert_eq!(
                (cseq.seq, cseq.method.as_str()),
                (seq, method.as_str()),
                "{}",
                v.name
            );
        }
        if let Some(n) = v.via_count {
            assert_eq!(m.vias().unwrap().len(), n, "{}", v.name);
        }
        if let Some(cl) = v.content_length {
            assert_eq!(m.content_length().unwrap(), Some(cl), "{}", v.name);
            if v.after_headers_len.is_some_and(|a| a >= cl) {
                assert_eq!(
                    m.body().len(),
                    cl,
                    "{}: body is Content-Length bytes",
                    v.name
                );
            }
        } else if let Some(rest) = v.after_headers_len
            && m.content_length().unwrap().is_none()
        {
            assert_eq!(
                m.body().len(),
                rest,
                "{}: without Content-Length the datagram's rest is the body",
                v.name
            );
        }
        // Written back, the message is byte for byte what was received (up to the body's end).
        let out = m.to_bytes();
        assert!(
            bytes.starts_with(&out),
            "{}: serialization differs from the input",
            v.name
        );
        checked += 1;
    }
    assert!(checked >= 35, "only {checked} valid vectors checked");
}

#[test]
fn invalid_vectors_are_rejected_as_the_rfc_says() {
    let mut checked = 0;
    for (v, bytes) in load().into_iter().filter(|(v, _)| v.expected == "invalid") {
        let outcome = Message::parse(bytes.clone()).and_then(|m| m.validate().map(|()| m));
        if ACCEPTED_LIBERALLY.contains(&v.name.as_str()) {
            assert!(v.liberal_ok, "{} is not one the RFC lets us accept", v.name);
            outcome.unwrap_or_else(|e| panic!("{}: accepted liberally, yet: {e}", v.name));
            continue;
        }
        let err = match outcome {
            Ok(_) => panic!("{} must be rejected", v.name),
            Err(e) => e,
        };
        checked += 1;
        match v.name.as_str() {
            // RFC 4475 §3.1.2.16: 505 Version Not Supported
            "badvers" => assert_eq!(err.status_code(), 505),
            // §3.1.2.18 bigcode, §3.1.2.5 scalarlg: responses are dropped, never answered
            "bigcode" | "scalarlg" => assert!(
                answer_malformed(&bytes, &err).is_none(),
                "{}: responses get no answer",
                v.name
            ),
            _ => assert_eq!(err.status_code(), 400, "{}: {err}", v.name),
        }
        assert!(!err.reason_phrase().is_empty());
    }
    assert!(checked >= 18, "only {checked} invalid vectors checked");
}

/// The requests among the invalid vectors that carry readable Via/From/To/Call-ID/CSeq get a
/// 400 (or 505) whose reason names the fault; the response round-trips through the parser.
#[test]
fn malformed_requests_get_an_answer_naming_the_fault() {
    for name in [
        "badinv01",
        "ltgtruri",
        "lwsruri",
        "lwsstart",
        "trws",
        "escruri",
        "badvers",
        "mismatch01",
        "regbadct",
    ] {
        let (v, bytes) = load().into_iter().find(|(v, _)| v.name == name).unwrap();
        let err = Message::parse(bytes.clone())
            .and_then(|m| m.validate())
            .expect_err(name);
        let resp = answer_malformed(&bytes, &err).unwrap_or_else(|| panic!("{name}: no answer"));
        let code = resp.status().unwrap();
        assert_eq!(code, if v.name == "badvers" { 505 } else { 400 }, "{name}");
        assert!(
            resp.reason().unwrap().contains("malformed"),
            "{name}: {:?}",
            resp.reason()
        );
        // The answer parses, and copies Call-ID and CSeq as received so the client can match it.
        let again = Message::parse(resp.to_bytes()).unwrap();
        let raw = |m: &Message, n: &HeaderName| m.header(n).map(|h| h.value().to_vec());
        let req_head = String::from_utf8_lossy(&bytes).into_owned();
        for n in [HeaderName::CallId, HeaderName::CSeq] {
            let value = raw(&again, &n).unwrap();
            assert!(
                req_head.contains(std::str::from_utf8(&value).unwrap()),
                "{name}: {n} not copied"
            );
        }
    }
}
