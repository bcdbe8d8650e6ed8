//! Fuzzes the C3P addUser request/response decoders (application/cccp+xml): no input may
//! panic, and a request that decodes must encode and decode back to itself.
#![no_main]

use federation::cccp::{AddUserRequest, AddUserResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(req) = AddUserRequest::decode(text) {
        if let Ok(xml) = req.encode() {
            assert_eq!(AddUserRequest::decode(&xml).ok().as_ref(), Some(&req));
        }
        let _ = req.success("attendee").encode();
    }
    let _ = AddUserResponse::decode(text);
});
