//! Arbitrary text as the caller URI, the dialled number / Request-URI and the
//! Referred-By of a call routed by the seed-001 example topology: the voice engine
//! must never panic and must always explain its decision.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use voice::{Engine, Outcome, Referrer, ReferrerTrust, RequestInput, Step};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let src = include_str!("../../examples/seed-001/topology.toml");
        match Engine::from_topology_str(src, "topology.toml") {
            Ok(e) => e,
            Err(e) => panic!("example topology: {e}"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    // Input: flags byte, then from \n to \n referrer (the referrer is optional).
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\n');
    let from = parts.next().unwrap_or("");
    let to = parts.next().unwrap_or("");
    let referrer = parts.next();

    let _ = voice::number::parse_dialled(to);
    let _ = voice::number::aor(from);

    let input = RequestInput {
        from,
        request_uri: to,
        referrer: referrer.map(|uri| Referrer {
            uri,
            trust: if flags & 1 == 0 {
                ReferrerTrust::Signed
            } else {
                ReferrerTrust::Unverified
            },
        }),
        emergency: flags & 2 != 0,
        conference_dial_out: flags & 4 != 0,
    };
    let d = engine().decide(&input);
    assert!(matches!(d.trace.steps.first(), Some(Step::Transaction { .. })));
    if let Outcome::Rejected(r) = &d.outcome {
        assert!(matches!(d.trace.steps.last(), Some(Step::Rejected { diag, .. }) if *diag == r.diag));
    }
    assert!(!d.trace.lines().is_empty());
});
