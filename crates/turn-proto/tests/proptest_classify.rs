//! Property tests of the TCP 443 classifier: no input panics, answers are bounded and stable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use turn_proto::classify::{MAX_PREFIX, Verdict, classify, classify_plaintext};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn never_panics_and_decides_within_the_bound(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let v = classify(&bytes);
        let _ = classify_plaintext(&bytes);
        if bytes.len() >= MAX_PREFIX {
            prop_assert_ne!(v, Verdict::NeedMore);
        }
        // Bytes past the bound never change the answer.
        if bytes.len() > MAX_PREFIX {
            prop_assert_eq!(v, classify(&bytes[..MAX_PREFIX]));
        }
    }

    #[test]
    fn a_decision_never_changes_with_more_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..120), extra in proptest::collection::vec(any::<u8>(), 0..60)) {
        let v = classify(&bytes);
        if v != Verdict::NeedMore {
            let mut longer = bytes.clone();
            longer.extend_from_slice(&extra);
            prop_assert_eq!(classify(&longer), v);
        }
    }

    #[test]
    fn text_lines_never_panic(line in "[A-Z]{0,10}( [ -~]{0,40})?(\r\n)?") {
        let _ = classify(line.as_bytes());
    }
}
