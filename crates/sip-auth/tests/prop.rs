//! Properties of the verifier: no input panics it, a valid answer always verifies, and any
//! single-byte change to the response fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use sip_auth::{
    Algorithm, AuthError, Credentials, DigestConfig, DigestVerifier, Ha1, RequestTarget,
    answer_challenge, ha1,
};
use sip_msg::{AuthValue, Param};

const REALM: &str = "example.com";

/// One user whose name and password the property chooses.
struct OneUser {
    user: String,
    password: String,
}

impl Credentials for OneUser {
    fn ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> Option<Ha1> {
        (user == self.user).then(|| ha1(user, realm, &self.password, algorithm))
    }
}

fn verifier(user: &str, password: &str) -> DigestVerifier<OneUser> {
    let mut cfg = DigestConfig::new(REALM, b"prop secret");
    cfg.algorithms = Algorithm::ALL.to_vec();
    DigestVerifier::new(
        cfg,
        OneUser {
            user: user.to_owned(),
            password: password.to_owned(),
        },
    )
}

/// Text a quoted-string can carry without escapes (RFC 3261 §25.1 qdtext, ASCII part).
fn qdtext() -> impl Strategy<Value = String> {
    "[ !#-\\[\\]-~]{1,24}"
}

fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("username".to_owned()),
        Just("realm".to_owned()),
        Just("nonce".to_owned()),
        Just("uri".to_owned()),
        Just("response".to_owned()),
        Just("algorithm".to_owned()),
        Just("cnonce".to_owned()),
        Just("qop".to_owned()),
        Just("nc".to_owned()),
        Just("opaque".to_owned()),
        "[a-zA-Z-]{1,10}",
    ]
}

fn param_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some(REALM.to_owned())),
        Just(Some("auth".to_owned())),
        Just(Some("SHA-256".to_owned())),
        Just(Some("00000001".to_owned())),
        Just(Some("sip:example.com".to_owned())),
        "[0-9a-f]{0,80}".prop_map(Some),
        any::<String>().prop_map(Some),
    ]
}

proptest! {
    #[test]
    fn no_credentials_panic_the_verifier(
        scheme in prop_oneof![Just(Some("Digest".to_owned())), Just(None), "[A-Za-z-]{1,8}".prop_map(Some)],
        params in prop::collection::vec((param_name(), param_value(), any::<bool>()), 0..14),
        method in "[A-Z]{0,9}",
        uri in any::<String>(),
        now in any::<u64>(),
        seed_nonce in any::<bool>(),
    ) {
        let mut v = verifier("alice", "pw");
        let mut params: Vec<Param> = params
            .into_iter()
            .map(|(name, value, quoted)| Param { name, value, quoted })
            .collect();
        if seed_nonce {
            // A real nonce, so the checks past the nonce are reached too.
            let ch = v.challenges(now, false).remove(0);
            params.push(Param::quoted("nonce", ch.nonce().unwrap()));
        }
        let creds = AuthValue { scheme, params, token68: None };
        let target = RequestTarget { method: &method, uri: &uri };
        let r = v.verify(&target, &creds, now);
        // Whatever the input, a random one never authenticates.
        prop_assert!(r.is_err());
    }

    #[test]
    fn a_valid_answer_always_verifies(
        user in qdtext(),
        password in any::<String>(),
        alg in 0usize..4,
        nc in 1u32..=u32::MAX,
        cnonce in qdtext(),
        method in prop_oneof![Just("REGISTER"), Just("INVITE"), Just("MESSAGE"), Just("SUBSCRIBE")],
        uri_user in "[a-z0-9.]{1,12}",
        issued in 0u64..(u64::MAX / 2),
        age in 0u64..=300,
    ) {
        let mut v = verifier(&user, &password);
        let ch = v.challenges(issued, false).remove(alg);
        let uri = format!("sip:{uri_user}@example.com");
        let target = RequestTarget { method, uri: &uri };
        let creds = answer_challenge(&ch, &user, &password, &target, &cnonce, nc).unwrap();
        let ok = v.verify(&target, &creds, issued + age).unwrap();
        prop_assert_eq!(ok.user, user);
        prop_assert_eq!(Some(ok.algorithm), Algorithm::from_token(ch.param("algorithm").unwrap()));
    }

    #[test]
    fn any_single_byte_change_to_the_response_fails(
        alg in 0usize..4,
        at in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
        nc in 1u32..1_000,
    ) {
        let mut v = verifier("alice", "wonderland");
        let ch = v.challenges(0, false).remove(alg);
        let target = RequestTarget { method: "REGISTER", uri: "sip:example.com" };
        let creds = answer_challenge(&ch, "alice", "wonderland", &target, "cn", nc).unwrap();
        let mut bytes = creds.param("response").unwrap().as_bytes().to_vec();
        let i = at.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        bytes[i] = replacement;
        let changed = String::from_utf8_lossy(&bytes).into_owned();
        let mut forged = creds.clone();
        for p in &mut forged.params {
            if p.name == "response" {
                p.value = Some(changed.clone());
            }
        }
        prop_assert_eq!(v.verify(&target, &forged, 1), Err(AuthError::BadCredentials));
        // And the untouched answer still verifies afterwards (the forgery consumed nothing).
        prop_assert!(v.verify(&target, &creds, 1).is_ok());
    }
}
