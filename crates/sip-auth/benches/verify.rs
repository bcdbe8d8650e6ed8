//! Cost of one Digest verification (SHA-256 and MD5), nanoseconds per verify().
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
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
    // verify() of a fresh, valid answer (the client's work happens in the untimed setup).
    for (i, name) in [(0usize, "verify_ok_sha256"), (1, "verify_ok_md5")] {
        let challenge = v.challenges(0, false).into_iter().nth(i).unwrap();
        let mut nc = 0u32;
        c.bench_function(name, |b| {
            b.iter_batched(
                || {
                    nc = nc.wrapping_add(1);
                    answer_challenge(&challenge, "alice", "secret", &target, "c0ffee", nc).unwrap()
                },
                |creds| {
                    let r = v.verify(&target, &creds, 1);
                    debug_assert!(r.is_ok());
                    r
                },
                BatchSize::SmallInput,
            )
        });
    }
    // A wrong password for an unknown user: the dummy-HA1 path an enumeration probe takes.
    let challenge = v.challenges(0, false).into_iter().next().unwrap();
    let probe = answer_challenge(&challenge, "mallory", "guess", &target, "c0ffee", 1).unwrap();
    c.bench_function("verify_unknown_user_sha256", |b| {
        b.iter(|| v.verify(&target, &probe, 1))
    });
    let wrong = answer_challenge(&challenge, "alice", "guess", &target, "c0ffee", 1).unwrap();
    c.bench_function("verify_wrong_password_sha256", |b| {
        b.iter(|| v.verify(&target, &wrong, 1))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
