//! Digest conformance (RFC 7616 §3.9.1 vectors are in tests/vectors.rs): -sess, RFC 8760 challenge rules, stale nonces,
//! nonce-count replay, no user enumeration, downgrade handling, rate limiting.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sip_auth::{
    Algorithm, AuthError, Credentials, Decision, DigestConfig, DigestVerifier, FailureLimiter, Ha1,
    LimitConfig, RequestTarget, ResponseParts, answer_challenge, ha1, response,
};
use sip_msg::{AuthValue, Message};
use std::collections::HashMap;

const REALM: &str = "example.com";

/// A store of HA1 values keyed by (user, realm, algorithm), filled from passwords at "user
/// creation" the way the server will.
#[derive(Default)]
struct Store(HashMap<(String, String, Algorithm), Ha1>);

impl Store {
    fn with(users: &[(&str, &str)]) -> Store {
        let mut s = Store::default();
        for (u, p) in users {
            for a in [Algorithm::Sha256, Algorithm::Md5] {
                s.0.insert((u.to_string(), REALM.to_string(), a), ha1(u, REALM, p, a));
            }
        }
        s
    }
}

impl Credentials for Store {
    fn ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> Option<Ha1> {
        self.0
            .get(&(user.to_string(), realm.to_string(), algorithm))
            .cloned()
    }
}

fn verifier() -> DigestVerifier<Store> {
    DigestVerifier::new(
        DigestConfig::new(REALM, b"pool secret"),
        Store::with(&[("alice", "wonderland"), ("bob", "builder")]),
    )
}

const REGISTER: RequestTarget<'static> = RequestTarget {
    method: "REGISTER",
    uri: "sip:example.com",
};

fn answer(c: &AuthValue, user: &str, pw: &str, nc: u32) -> AuthValue {
    answer_challenge(c, user, pw, &REGISTER, "0a4f113b", nc).unwrap()
}

fn with_param(v: &AuthValue, name: &str, value: &str) -> AuthValue {
    let mut v = v.clone();
    for p in &mut v.params {
        if p.name.eq_ignore_ascii_case(name) {
            p.value = Some(value.to_string());
        }
    }
    v
}

// RFC 7616 §3.9.1 inputs, reused for the -sess construction.
const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

fn rfc_parts(algorithm: Algorithm) -> ResponseParts<'static> {
    ResponseParts {
        algorithm,
        nonce: RFC_NONCE,
        nc: "00000001",
        cnonce: RFC_CNONCE,
        method: "GET",
        uri: "/dir/index.html",
    }
}

#[test]
fn rfc7616_sess_uses_nonce_and_cnonce_in_ha1() {
    // RFC 7616 §3.4.2: for -sess, H(A1) = H(H(user:realm:pw):nonce:cnonce); cross-checked by
    // computing that HA1 by hand and feeding it to the non-session formula.
    let base = ha1(
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
        Algorithm::Sha256,
    );
    let sess_ha1 = Algorithm::Sha256.hash_hex(&[
        base.as_hex().as_bytes(),
        b":",
        RFC_NONCE.as_bytes(),
        b":",
        RFC_CNONCE.as_bytes(),
    ]);
    let by_hand = response(
        &Ha1::from_hex(Algorithm::Sha256, &sess_ha1).unwrap(),
        &rfc_parts(Algorithm::Sha256),
    );
    assert_eq!(response(&base, &rfc_parts(Algorithm::Sha256Sess)), by_hand);
    assert_ne!(by_hand, response(&base, &rfc_parts(Algorithm::Sha256)));
}

#[test]
fn rfc8760_challenges_sha256_first_then_md5() {
    let mut v = verifier();
    let c = v.challenges(1_000, false);
    let algs: Vec<_> = c.iter().map(|c| c.param("algorithm").unwrap()).collect();
    assert_eq!(algs, ["SHA-256", "MD5"]);
    for ch in &c {
        assert!(ch.is_scheme("Digest"));
        assert_eq!(ch.realm(), Some(REALM));
        assert_eq!(ch.param("qop"), Some("auth"));
        assert_eq!(ch.param("stale"), None);
        // Written into a 401 and read back, the value is the same.
        let msg = format!(
            "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@example.com>;tag=1\r\n\
             To: <sip:a@example.com>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: {ch}\r\nContent-Length: 0\r\n\r\n"
        );
        let parsed = Message::parse(msg.into_bytes()).unwrap();
        assert_eq!(parsed.www_authenticate().unwrap(), vec![ch.clone()]);
    }
    assert!(c[0].to_string().contains("qop=\"auth\""));
    assert!(c[0].to_string().contains("algorithm=SHA-256"));
}

#[test]
fn valid_answers_verify_for_every_offered_algorithm() {
    let mut cfg = DigestConfig::new(REALM, b"pool secret");
    cfg.algorithms = Algorithm::ALL.to_vec();
    let mut v = DigestVerifier::new(cfg, Store::with(&[("alice", "wonderland")]));
    // The challenges share one nonce, so each answer uses the next nonce-count.
    for (nc, ch) in (1..).zip(v.challenges(10, false)) {
        let creds = answer(&ch, "alice", "wonderland", nc);
        let ok = v.verify(&REGISTER, &creds, 11).unwrap();
        assert_eq!(ok.user, "alice");
        assert_eq!(ok.realm, REALM);
        assert_eq!(
            Some(ok.algorithm.token()),
            ch.param("algorithm"),
            "authenticated with the algorithm answered"
        );
    }
}

fn register_with(header: &str, creds: &AuthValue) -> Message {
    let msg = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\n\
         {header}: Digest realm=\"elsewhere.net\", username=\"x\", nonce=\"n\", uri=\"sip:example.com\", response=\"00\"\r\n\
         {header}: {creds}\r\nContent-Length: 0\r\n\r\n"
    );
    Message::parse(msg.into_bytes()).unwrap()
}

#[test]
fn verifies_a_parsed_request_picking_credentials_for_its_realm() {
    let mut v = verifier();
    let ch = v.challenges(0, false).remove(0);
    let creds = answer(&ch, "alice", "wonderland", 1);
    let msg = register_with("Authorization", &creds);
    assert_eq!(v.verify_message(&msg, false, 1).unwrap().user, "alice");
    // Proxy-Authorization is read only by a proxy, and vice versa.
    let creds = answer(&ch, "alice", "wonderland", 2);
    let msg = register_with("Authorization", &creds);
    assert_eq!(
        v.verify_message(&msg, true, 1),
        Err(AuthError::NoCredentials)
    );
    let msg = register_with("Proxy-Authorization", &creds);
    assert_eq!(v.verify_message(&msg, true, 1).unwrap().user, "alice");
}

/// Credentials are read in place from the message; a line that is not UTF-8 (a quoted
/// username with other bytes) is read the owned way, bytes replaced, and simply fails to match
/// a user: the same answer as any wrong credentials, no parse error.
#[test]
fn credentials_with_bytes_that_are_not_utf8_are_wrong_credentials() {
    let mut v = verifier();
    let ch = v.challenges(0, false).remove(0);
    let creds = answer(&ch, "alice", "wonderland", 1);
    let text = String::from_utf8(register_with("Authorization", &creds).to_bytes().to_vec())
        .unwrap()
        .replace("username=\"alice\"", "username=\"al#ice\"");
    // The marker becomes a lone 0xff byte: not UTF-8.
    let raw: Vec<u8> = text
        .into_bytes()
        .into_iter()
        .map(|b| if b == b'#' { 0xff } else { b })
        .collect();
    let msg = Message::parse(raw).unwrap();
    assert!(msg.authorization_views().is_err(), "the views refuse it");
    assert_eq!(
        v.verify_message(&msg, false, 1),
        Err(AuthError::BadCredentials)
    );
    // The same credentials as written verify (the request line's URI is used as written).
    let msg = register_with("Authorization", &creds);
    assert_eq!(msg.uri_text().as_deref(), Some("sip:example.com"));
    assert_eq!(v.verify_message(&msg, false, 1).unwrap().user, "alice");
}

#[test]
fn stale_nonce_gets_stale_challenge_only_with_right_response() {
    let mut v = verifier();
    let ch = v.challenges(1_000, false).remove(0);
    let good = answer(&ch, "alice", "wonderland", 1);
    // DigestConfig::new: 300 s lifetime.
    assert!(v.verify(&REGISTER, &good, 1_300).is_ok());
    let good2 = answer(&ch, "alice", "wonderland", 2);
    let err = v.verify(&REGISTER, &good2, 1_301).unwrap_err();
    assert_eq!(err, AuthError::Stale);
    assert!(err.is_stale());
    assert!(!err.counts_as_failure());
    let again = v.challenges(1_301, err.is_stale());
    assert!(again.iter().all(|c| c.param("stale") == Some("true")));
    assert_ne!(again[0].nonce(), ch.nonce());
    // A wrong password on an expired nonce is not "stale": the client must not retry silently.
    let bad = answer(&ch, "alice", "guess", 3);
    assert_eq!(
        v.verify(&REGISTER, &bad, 1_301),
        Err(AuthError::BadCredentials)
    );
}

// RFC 7616 §5.5: the nonce-count record does not survive a restart, so a request captured
// before it could be replayed once; `not_before` (the start time) makes such nonces stale.
#[test]
fn a_restarted_server_treats_older_nonces_as_stale() {
    let mut before = verifier();
    let ch = before.challenges(500, false).remove(0);
    let creds = answer(&ch, "bob", "builder", 1);
    assert!(before.verify(&REGISTER, &creds, 510).is_ok());
    let mut cfg = DigestConfig::new(REALM, b"pool secret");
    cfg.not_before = 515;
    let mut after = DigestVerifier::new(cfg, Store::with(&[("bob", "builder")]));
    // The captured request, replayed after the restart.
    assert_eq!(after.verify(&REGISTER, &creds, 520), Err(AuthError::Stale));
    // A fresh challenge from the new run works.
    let ch = after.challenges(521, true).remove(0);
    assert!(
        after
            .verify(&REGISTER, &answer(&ch, "bob", "builder", 1), 522)
            .is_ok()
    );
}

#[test]
fn nonces_survive_a_restart_with_the_same_secret() {
    let mut before = verifier();
    let ch = before.challenges(500, false).remove(0);
    let creds = answer(&ch, "bob", "builder", 1);
    let mut after = verifier();
    assert!(after.verify(&REGISTER, &creds, 520).is_ok());
    let mut other = DigestVerifier::new(
        DigestConfig::new(REALM, b"another secret"),
        Store::with(&[("bob", "builder")]),
    );
    assert_eq!(
        other.verify(&REGISTER, &creds, 520),
        Err(AuthError::InvalidNonce)
    );
}

#[test]
fn nonce_count_replay_is_rejected() {
    let mut v = verifier();
    let ch = v.challenges(0, false).remove(0);
    let first = answer(&ch, "alice", "wonderland", 1);
    assert!(v.verify(&REGISTER, &first, 1).is_ok());
    assert_eq!(v.verify(&REGISTER, &first, 2), Err(AuthError::Replay));
    assert!(
        v.verify(&REGISTER, &answer(&ch, "alice", "wonderland", 5), 2)
            .is_ok()
    );
    assert_eq!(
        v.verify(&REGISTER, &answer(&ch, "alice", "wonderland", 4), 2),
        Err(AuthError::Replay)
    );
    assert!(
        v.verify(&REGISTER, &answer(&ch, "alice", "wonderland", 6), 2)
            .is_ok()
    );
    // A forged response does not consume counts: the next genuine nc still works.
    let forged = with_param(
        &answer(&ch, "alice", "wonderland", 7),
        "response",
        &"0".repeat(64),
    );
    assert_eq!(
        v.verify(&REGISTER, &forged, 2),
        Err(AuthError::BadCredentials)
    );
    assert!(
        v.verify(&REGISTER, &answer(&ch, "alice", "wonderland", 7), 2)
            .is_ok()
    );
}

#[test]
fn unknown_user_and_wrong_password_are_indistinguishable() {
    let mut v = verifier();
    let ch = v.challenges(0, false).remove(0);
    let wrong_pw = v.verify(&REGISTER, &answer(&ch, "alice", "guess", 1), 1);
    let unknown = v.verify(&REGISTER, &answer(&ch, "mallory", "guess", 1), 1);
    // Even an unknown user "answering" with the dummy's shape gets nowhere.
    let unknown_empty = v.verify(&REGISTER, &answer(&ch, "nobody", "", 1), 1);
    assert_eq!(wrong_pw, Err(AuthError::BadCredentials));
    assert_eq!(unknown, wrong_pw);
    assert_eq!(unknown_empty, wrong_pw);
    // The challenges that follow have the same shape: same parameters, same lengths.
    let shape = |c: Vec<AuthValue>| -> Vec<Vec<(String, usize, bool)>> {
        c.iter()
            .map(|v| {
                v.params
                    .iter()
                    .map(|p| {
                        (
                            p.name.clone(),
                            p.value.as_ref().map_or(0, String::len),
                            p.quoted,
                        )
                    })
                    .collect()
            })
            .collect()
    };
    let after_wrong = shape(v.challenges(1, wrong_pw.unwrap_err().is_stale()));
    let after_unknown = shape(v.challenges(1, unknown.unwrap_err().is_stale()));
    assert_eq!(after_wrong, after_unknown);
}

#[test]
fn uri_must_match_the_request_uri() {
    let mut v = verifier();
    let ch = v.challenges(0, false).remove(0);
    let creds = answer(&ch, "alice", "wonderland", 1);
    let other = RequestTarget {
        method: "REGISTER",
        uri: "sip:other.example.com",
    };
    assert_eq!(v.verify(&other, &creds, 1), Err(AuthError::UriMismatch));
    // The response also covers the method: the same answer for INVITE fails.
    let invite = RequestTarget {
        method: "INVITE",
        uri: "sip:example.com",
    };
    assert_eq!(v.verify(&invite, &creds, 1), Err(AuthError::BadCredentials));
    // A digest-uri written differently but naming the same URI is accepted (RFC 3261 §22.4
    // only requires it to be the Request-URI), and the response is over the digest-uri text.
    let spaced = RequestTarget {
        method: "REGISTER",
        uri: "sip:example.com;transport=tcp",
    };
    let creds = answer_challenge(&ch, "alice", "wonderland", &spaced, "c", 2).unwrap();
    assert!(v.verify(&spaced, &creds, 1).is_ok());
    let plain = RequestTarget {
        method: "REGISTER",
        uri: "sip:example.com;transport=udp",
    };
    assert_eq!(v.verify(&plain, &creds, 1), Err(AuthError::UriMismatch));
}

#[test]
fn algorithm_downgrade_is_handled() {
    let mut v = verifier();
    let chs = v.challenges(0, false);
    // SHA-256 was offered first, the client answers the MD5 challenge: MD5 was offered too.
    let md5 = answer(&chs[1], "alice", "wonderland", 1);
    assert_eq!(
        v.verify(&REGISTER, &md5, 1).unwrap().algorithm,
        Algorithm::Md5
    );
    // No algorithm parameter means MD5 (RFC 7616 §3.4).
    let mut bare = answer(&chs[1], "alice", "wonderland", 2);
    bare.params.retain(|p| p.name != "algorithm");
    assert_eq!(
        v.verify(&REGISTER, &bare, 1).unwrap().algorithm,
        Algorithm::Md5
    );
    // A server offering SHA-256 only refuses MD5 answers.
    let mut cfg = DigestConfig::new(REALM, b"pool secret");
    cfg.algorithms = vec![Algorithm::Sha256];
    let mut strict = DigestVerifier::new(cfg, Store::with(&[("alice", "wonderland")]));
    assert_eq!(strict.challenges(0, false).len(), 1);
    assert_eq!(
        strict.verify(&REGISTER, &answer(&chs[1], "alice", "wonderland", 3), 1),
        Err(AuthError::AlgorithmNotOffered(Algorithm::Md5))
    );
    // Unknown algorithms are refused by name, and never treated as MD5.
    let odd = with_param(
        &answer(&chs[0], "alice", "wonderland", 4),
        "algorithm",
        "SHA-512-256",
    );
    assert_eq!(
        v.verify(&REGISTER, &odd, 1),
        Err(AuthError::UnknownAlgorithm("SHA-512-256".into()))
    );
    // Relabelling a SHA-256 response as MD5 does not verify.
    let relabel = with_param(
        &answer(&chs[0], "alice", "wonderland", 5),
        "algorithm",
        "MD5",
    );
    assert_eq!(
        v.verify(&REGISTER, &relabel, 1),
        Err(AuthError::BadCredentials)
    );
}

#[test]
fn malformed_and_foreign_credentials() {
    let mut v = verifier();
    let ch = v.challenges(0, false).remove(0);
    let good = answer(&ch, "alice", "wonderland", 1);
    assert_eq!(
        v.verify(&REGISTER, &with_param(&good, "realm", "evil.net"), 1),
        Err(AuthError::NoCredentials)
    );
    assert_eq!(
        v.verify(&REGISTER, &with_param(&good, "nc", "1"), 1),
        Err(AuthError::Malformed("nc must be 8 hex digits"))
    );
    assert_eq!(
        v.verify(&REGISTER, &with_param(&good, "qop", "auth-int"), 1),
        Err(AuthError::QopNotAuth)
    );
    assert_eq!(
        v.verify(&REGISTER, &with_param(&good, "nonce", "abc"), 1),
        Err(AuthError::InvalidNonce)
    );
    let mut no_user = good.clone();
    no_user.params.retain(|p| p.name != "username");
    assert_eq!(
        v.verify(&REGISTER, &no_user, 1),
        Err(AuthError::Malformed("username is missing"))
    );
    let ntlm = AuthValue::new(Some("NTLM"), &[("realm", REALM)]);
    assert_eq!(v.verify(&REGISTER, &ntlm, 1), Err(AuthError::NoCredentials));
    // Nothing of the above consumed the nonce-count: the genuine answer still verifies.
    assert!(v.verify(&REGISTER, &good, 1).is_ok());
}

#[test]
fn failures_are_rate_limited_per_source_and_success_does_not_reset() {
    let mut v = verifier();
    let mut limiter = FailureLimiter::new(LimitConfig {
        burst: 5,
        forgive_every_ms: 60_000,
        max_sources: 1_000,
    });
    let attacker = "203.0.113.9".to_string();
    let bystander = "198.51.100.1".to_string();
    let ch = v.challenges(0, false).remove(0);
    let mut now_ms = 0u64;
    let mut attempts = 0;
    // The attacker guesses bob's password; after each 2 failures it logs in as its own account
    // (alice), which must not reset its bucket.
    let mut nc = 0;
    while limiter.check(&attacker, now_ms) == Decision::Allowed {
        nc += 1;
        let r = v.verify(
            &REGISTER,
            &answer(&ch, "bob", &format!("guess{nc}"), nc),
            now_ms / 1_000,
        );
        let e = r.unwrap_err();
        assert!(e.counts_as_failure());
        limiter.record_failure(&attacker, now_ms);
        attempts += 1;
        if attempts % 2 == 0 {
            nc += 1;
            assert!(
                v.verify(
                    &REGISTER,
                    &answer(&ch, "alice", "wonderland", nc),
                    now_ms / 1_000
                )
                .is_ok()
            );
        }
        now_ms += 100;
        assert!(attempts < 100, "never throttled");
    }
    assert_eq!(attempts, 5);
    let Decision::Throttled { retry_after_ms } = limiter.check(&attacker, now_ms) else {
        panic!("attacker must be throttled");
    };
    assert!(retry_after_ms > 0 && retry_after_ms <= 60_000);
    assert_eq!(limiter.check(&bystander, now_ms), Decision::Allowed);
    assert_eq!(
        limiter.check(&attacker, now_ms + retry_after_ms),
        Decision::Allowed
    );
}

#[test]
fn throttled_answer_is_catalogued() {
    let code = diag_code();
    assert_eq!(code.1, 403);
    assert!(code.0 >= 60000 && code.0 <= 60999);
}

fn diag_code() -> (u32, u16) {
    (
        sip_auth::limit::THROTTLED.id,
        sip_auth::limit::THROTTLED.status,
    )
}
