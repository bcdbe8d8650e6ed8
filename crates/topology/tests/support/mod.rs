//! Fixtures shared by the topology tests.

/// A valid minimal topology of 9 lines; cases append lines from line 10 on (the line numbers
/// the expected errors name count on it).
pub const MIN: &str = r#"[[sip_domain]]
name = "example.test"
[[site]]
name = "HQ"
[[pool]]
fqdn = "fe.example.test"
site = "HQ"
roles = ["front-end"]
certificate = "fe.example.test"
"#;
