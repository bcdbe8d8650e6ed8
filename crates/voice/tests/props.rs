//! Property tests: no input makes the engine panic, and every decision explains itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use voice::number::parse_dialled;
use voice::{Engine, Outcome, Referrer, ReferrerTrust, RequestInput, Step};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-001/topology.toml");
        let src = std::fs::read_to_string(path).unwrap();
        Engine::from_topology_str(&src, "topology.toml").unwrap()
    })
}

/// Strings shaped like what reaches the engine: dialled numbers, tel: and sip: URIs,
/// name-addrs, plus arbitrary text.
fn uri_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[+*#]?[0-9 ().-]{0,40}",
        "tel:[+]?[0-9-]{0,20}(;ext=[0-9a-z]{0,6})?(;phone-context=[a-z.]{0,10})?",
        "sips?:[+%2Ba-zA-Z0-9.;=]{0,20}@[a-zA-Z0-9.]{0,20}(;user=phone)?(\\?[a-z=]{0,8})?",
        "\"[a-z ]{0,8}\" ?<sip:[a-z0-9+]{0,10}@example\\.test>(;tag=[0-9]{0,4})?",
        Just("sip:alice@example.test".to_string()),
        Just("sip:bob@example.test".to_string()),
        "[<>\"@:;%?=]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decide_never_panics_and_always_explains(
        from in uri_like(),
        to in uri_like(),
        referrer in proptest::option::of(uri_like()),
        signed in any::<bool>(),
        emergency in any::<bool>(),
        dial_out in any::<bool>(),
    ) {
        let input = RequestInput {
            from: &from,
            request_uri: &to,
            referrer: referrer.as_deref().map(|uri| Referrer {
                uri,
                trust: if signed { ReferrerTrust::Signed } else { ReferrerTrust::Unverified },
            }),
            emergency,
            conference_dial_out: dial_out,
        };
        let d = engine().decide(&input);
        prop_assert!(!d.trace.steps.is_empty());
        prop_assert!(matches!(d.trace.steps.first(), Some(Step::Transaction { .. })), "first step is not the transaction");
        prop_assert!(!d.trace.lines().is_empty());
        match &d.outcome {
            Outcome::Rejected(r) => {
                let is_last = matches!(d.trace.steps.last(), Some(Step::Rejected { diag, .. }) if *diag == r.diag);
                prop_assert!(is_last, "a rejection's last step is the rejection");
            }
            Outcome::Routed { attempts, .. } => prop_assert!(!attempts.is_empty()),
            _ => {}
        }
    }

    #[test]
    fn parsed_numbers_are_canonical(input in uri_like()) {
        if let Ok(d) = parse_dialled(&input) {
            // The canonical form reads back as the same number.
            prop_assert_eq!(parse_dialled(&d.canonical()), Ok(d.clone()));
            prop_assert!(d.number.len() <= voice::number::MAX_DIALLED_LEN);
            prop_assert!(d.number.chars().enumerate().all(|(i, c)| c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0)));
        }
    }
}
