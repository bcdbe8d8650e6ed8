//! Spec test vectors checked in under `tests/vectors/` (RFC 7616 §3.9.1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde::Deserialize;
use sip_auth::{Algorithm, ResponseParts, ha1, response};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vectors {
    vector: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    section: String,
    algorithm: String,
    username: String,
    realm: String,
    password: String,
    method: String,
    uri: String,
    nonce: String,
    nc: String,
    cnonce: String,
    ha1: Option<String>,
    response: String,
}

#[test]
fn rfc7616_vectors() {
    let text = include_str!("vectors/rfc7616.toml");
    let v: Vectors = toml::from_str(text).unwrap();
    assert_eq!(v.vector.len(), 2, "both algorithms of §3.9.1");
    for t in &v.vector {
        let alg = Algorithm::from_token(&t.algorithm).unwrap();
        let h = ha1(&t.username, &t.realm, &t.password, alg);
        if let Some(expected) = &t.ha1 {
            assert_eq!(h.as_hex(), expected, "{}: HA1", t.section);
        }
        let parts = ResponseParts {
            algorithm: alg,
            nonce: &t.nonce,
            nc: &t.nc,
            cnonce: &t.cnonce,
            method: &t.method,
            uri: &t.uri,
        };
        assert_eq!(response(&h, &parts), t.response, "{}: response", t.section);
    }
}
