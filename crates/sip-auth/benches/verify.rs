//! Cost of one Digest verification (SHA-256 and MD5), nanoseconds per verify().
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use sip_auth::{
    Algorithm, Credentials, DigestConfig, DigestVerifier, Ha1, RequestTarget, answer_challenge, ha1,
};

struct One(Ha1, Ha1);

impl Credentials for One {
    fn ha1(&self, user: &str, _realm: &str, algorithm: Algorithm) -> Option<Ha1> {
        (user == "alice").then(|| match algorithm {
            Algorithm::Md5 => self.1.clone(),
            _ => self.0.clone(),
        })
    }
}

fn bench(c: &mut Criterion) {
    let store = One(
        ha1("alice", "example.com", "secret", Algorithm::Sha256),
        ha1("alice", "example.com", "secret", Algorithm::Md5),
    );
    let mut cfg = DigestConfig::new("example.com", b"bench-secret");
    cfg.nc_capacity = 1 << 20;
    let mut v = DigestVerifier::new(cfg, store);
    let target = RequestTarget {
        method: "REGISTER",
        uri: "sip:example.com",
    };
    for (i, name) in [(0usize, "verify_sha256"), (1, "verify_md5")] {
        let challenge = v.challenges(0, false).into_iter().nth(i).unwrap();
        let mut nc = 0u32;
        c.bench_function(name, |b| {
            b.iter(|| {
                nc = nc.wrapping_add(1);
                let creds =
                    answer_challenge(&challenge, "alice", "secret", &target, "c0ffee", nc).unwrap();
                // Client-side answer computed inside the loop too; see verify_only below.
                v.verify(&target, &creds, 1)
            })
        });
    }
    // verify() alone: a rejected (already counted) response still does all the hashing.
    let challenge = v.challenges(0, false).into_iter().next().unwrap();
    let creds = answer_challenge(&challenge, "alice", "secret", &target, "c0ffee", 1).unwrap();
    assert!(v.verify(&target, &creds, 1).is_ok());
    c.bench_function("verify_only_sha256_replay", |b| {
        b.iter(|| v.verify(&target, &creds, 1))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
