//! Fuzzes the Digest verifier with arbitrary Authorization / Proxy-Authorization values: any
//! header value gives an answer (a typed refusal), never a panic; a value carrying a nonce
//! this server minted reaches the response check too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_auth::{Algorithm, Credentials, DigestConfig, DigestVerifier, Ha1, ha1};
use sip_msg::Message;

struct Alice;

impl Credentials for Alice {
    fn ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> Option<Ha1> {
        (user == "alice").then(|| ha1(user, realm, "wonderland", algorithm))
    }
}

fuzz_target!(|data: &[u8]| {
    let mut cfg = DigestConfig::new("example.com", b"fuzz secret");
    cfg.algorithms = Algorithm::ALL.to_vec();
    cfg.nc_capacity = 4;
    let mut v = DigestVerifier::new(cfg, Alice);
    let nonce = v
        .challenges(100, false)
        .remove(0)
        .nonce()
        .unwrap_or_default()
        .to_owned();
    // "@N" in the input stands for a nonce this server minted.
    let value = String::from_utf8_lossy(data).replace("@N", &nonce);
    for header in ["Authorization", "Proxy-Authorization"] {
        let msg = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: c\r\n\
             CSeq: 1 REGISTER\r\n{header}: {value}\r\nContent-Length: 0\r\n\r\n"
        );
        let Ok(m) = Message::parse(msg.into_bytes()) else {
            continue;
        };
        for proxy in [false, true] {
            for now in [100, 400, 401, u64::MAX] {
                let _ = v.verify_message(&m, proxy, now);
            }
        }
        if let Ok(all) = m.authorization() {
            for creds in all {
                let target = sip_auth::RequestTarget {
                    method: "INVITE",
                    uri: &value,
                };
                let _ = v.verify(&target, &creds, 150);
            }
        }
    }
});
