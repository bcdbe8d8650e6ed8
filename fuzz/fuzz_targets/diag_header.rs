//! Fuzzes the ms-diagnostics header-value parser: no input may panic, and any value the
//! catalogue renders from parsed parameters parses back to the same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parsed) = diag::parse_value(text) else {
        return;
    };
    if let Some(code) = diag::lookup(parsed.id) {
        let mut d = code.diagnostic();
        for (n, v) in &parsed.params {
            if !n.eq_ignore_ascii_case("reason") && !v.contains(['\r', '\n']) {
                d = d.param(n.clone(), v.clone());
            }
        }
        let again = diag::parse_value(&d.header_value()).expect("rendered value parses");
        assert_eq!(again.id, parsed.id);
        assert_eq!(again.reason(), Some(code.reason));
    }
});
