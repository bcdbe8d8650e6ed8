//! Fuzzes the TCP 443 first-bytes classifier of turn-proto.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turn_proto::classify::{MAX_PREFIX, Verdict, classify, classify_plaintext};

fuzz_target!(|data: &[u8]| {
    let v = classify(data);
    let _ = classify_plaintext(data);
    if data.len() >= MAX_PREFIX {
        assert_ne!(v, Verdict::NeedMore);
    }
});
