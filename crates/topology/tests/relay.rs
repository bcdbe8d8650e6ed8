//! The `[relay]` section: a good section gives the relay's values; each bad one is reported
//! at its file:line:column with the field, the problem and the fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use topology::{ConfigError, Topology};

mod support;
use support::MIN;

/// A valid [relay] (lines 10-13) with the keys a case adds from line 14 on.
fn relay(extra: &str) -> String {
    format!(
        "{MIN}[relay]\nlisten_udp = \"192.0.2.10:3478\"\nlisten_shared = \"192.0.2.10:443\"\nrelayed_ipv4 = \"192.0.2.10\"\n{extra}"
    )
}

fn errors(text: &str) -> Vec<ConfigError> {
    match Topology::parse(text, "t.toml") {
        Ok(_) => Vec::new(),
        Err(e) => e.0,
    }
}

#[test]
fn a_minimal_relay_section_takes_the_defaults() {
    let t = Topology::parse(&relay(""), "t.toml").unwrap();
    let p = t.relay_plan().unwrap();
    assert_eq!(
        p.udp,
        Some("192.0.2.10:3478".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(p.tcp, None);
    assert_eq!(
        p.shared,
        Some("192.0.2.10:443".parse::<SocketAddr>().unwrap())
    );
    assert_eq!(p.relayed_ipv4, Some(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(p.relayed_ipv6, None);
    // RFC 8656 §7.2: the dynamic range.
    assert_eq!(p.ports, 49152..=65535);
    assert_eq!(p.realm, "example.test", "the first SIP domain");
    assert!(p.ephemeral_credentials);
    assert!(p.users.is_empty());
    // Loopback and private peers are denied unless the admin says otherwise.
    for ip in ["127.0.0.1", "10.1.2.3", "192.168.1.1", "::1"] {
        assert!(
            p.denied_peers
                .iter()
                .any(|r| r.contains(ip.parse().unwrap())),
            "{ip} should be denied"
        );
    }
    assert!(
        !p.denied_peers
            .iter()
            .any(|r| r.contains("198.51.100.7".parse().unwrap()))
    );
}

#[test]
fn without_a_relay_section_there_is_no_relay() {
    let t = Topology::parse(MIN, "t.toml").unwrap();
    assert!(t.relay.is_none() && t.relay_plan().is_none());
}

#[test]
fn the_demo_relay_is_what_convene_up_always_ran() {
    let t = Topology::parse(topology::DEMO, "topology/demo.toml").unwrap();
    let p = t.relay_plan().unwrap();
    let lo = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert_eq!(
        (p.udp, p.tcp, p.shared),
        (Some(lo(3478)), Some(lo(3478)), Some(lo(4443)))
    );
    assert_eq!(p.relayed_ipv4, Some(Ipv4Addr::LOCALHOST));
    assert_eq!(p.relayed_ipv6, Some(Ipv6Addr::LOCALHOST));
    assert_eq!(p.ports, 49152..=49999);
    assert_eq!(p.realm, "example.test");
    assert!(
        p.denied_peers.is_empty(),
        "the demo relays to loopback peers"
    );
    assert!(p.ephemeral_credentials);
    // turnuser's key is MD5("turnuser:example.test:turnpass") (RFC 8489 §9.2.2); the password
    // itself is not in the file.
    use md5::{Digest as _, Md5};
    let key: [u8; 16] = Md5::digest(b"turnuser:example.test:turnpass").into();
    assert_eq!(p.users, vec![("turnuser".to_owned(), key)]);
    assert!(!topology::DEMO.contains("\"turnpass\""));
}

#[test]
fn a_full_section_is_read_as_written() {
    let t = Topology::parse(
        &relay(
            "listen_tcp = \"[2001:db8::10]:3478\"\nrelayed_ipv6 = \"2001:db8::10\"\nmin_port = 50000\nmax_port = 50100\n\
             max_allocations = 20\nmax_allocations_per_user = 2\ndenied_peers = [\"10.0.0.0/8\", \"fc00::/7\"]\n\
             realm = \"relay.example.test\"\nephemeral_credentials = false\n\
             [[relay.user]]\nusername = \"u1\"\nkey_md5 = \"00112233445566778899aabbccddeeff\"\n",
        ),
        "t.toml",
    )
    .unwrap();
    let p = t.relay_plan().unwrap();
    assert_eq!(p.tcp, Some("[2001:db8::10]:3478".parse().unwrap()));
    assert_eq!(p.relayed_ipv6, Some("2001:db8::10".parse().unwrap()));
    assert_eq!(p.ports, 50000..=50100);
    assert_eq!((p.max_allocations, p.max_allocations_per_user), (20, 2));
    assert_eq!(p.denied_peers.len(), 2);
    assert!(
        !p.denied_peers
            .iter()
            .any(|r| r.contains("127.0.0.1".parse().unwrap()))
    );
    assert_eq!(p.realm, "relay.example.test");
    assert!(!p.ephemeral_credentials);
    assert_eq!(p.users[0].0, "u1");
    assert_eq!(p.users[0].1[15], 0xff);
}

#[test]
fn each_relay_problem_is_located_named_and_fixed() {
    // (name, text, line, column, field, words of the problem, words of the fix)
    let cases: Vec<(&str, String, usize, usize, &str, &str, &str)> = vec![
        (
            "unknown key",
            relay("listen_udpp = \"1.2.3.4:3478\"\n"),
            14,
            1,
            "relay.listen_udpp",
            "unknown field `listen_udpp`",
            "correct its spelling",
        ),
        (
            "a plaintext password",
            relay("[[relay.user]]\nusername = \"u\"\npassword = \"secret\"\n"),
            16,
            1,
            "relay.user[0].password",
            "unknown field `password`",
            "never write a password",
        ),
        (
            "not an address",
            relay("listen_tcp = \"relay.example.test:3478\"\n"),
            14,
            14,
            "relay.listen_tcp",
            "is not an IP address and port",
            "IPv6 in brackets",
        ),
        (
            "port 0",
            relay("listen_tcp = \"192.0.2.10:0\"\n"),
            14,
            14,
            "relay.listen_tcp",
            "port 0 is not a port",
            "3478",
        ),
        (
            "TCP and the shared port on one address",
            relay("listen_tcp = \"192.0.2.10:443\"\n"),
            12,
            17,
            "relay.listen_shared",
            "is also listen_tcp",
            "its own port",
        ),
        (
            "IPv6 in relayed_ipv4",
            format!("{MIN}[relay]\nlisten_udp = \"192.0.2.10:3478\"\nrelayed_ipv4 = \"::1\"\n"),
            12,
            16,
            "relay.relayed_ipv4",
            "is not an IPv4 address",
            "\"192.0.2.10\"",
        ),
        (
            "unspecified relayed address",
            relay("relayed_ipv6 = \"::\"\n"),
            14,
            16,
            "relay.relayed_ipv6",
            "cannot be a relayed address",
            "IPv6 address of this machine",
        ),
        (
            "no relayed address",
            format!("{MIN}[relay]\nlisten_udp = \"192.0.2.10:3478\"\n"),
            10,
            1,
            "relay.relayed_ipv4",
            "no relayed address",
            "add relayed_ipv4",
        ),
        (
            "no listener",
            format!("{MIN}[relay]\nrelayed_ipv4 = \"192.0.2.10\"\n"),
            10,
            1,
            "relay",
            "listens nowhere",
            "listen_udp",
        ),
        (
            "empty port range",
            relay("min_port = 60000\nmax_port = 50000\n"),
            15,
            12,
            "relay.max_port",
            "range 60000-50000 is empty",
            "at least min_port",
        ),
        (
            "privileged relay ports",
            relay("min_port = 80\n"),
            14,
            12,
            "relay.min_port",
            "below 1024",
            "49152-65535",
        ),
        (
            "listener inside the relayed range",
            relay("min_port = 3000\nmax_port = 4000\n"),
            11,
            14,
            "relay.listen_udp",
            "lies in the relayed port range 3000-4000",
            "outside the relayed range",
        ),
        (
            "zero quota",
            relay("max_allocations = 0\n"),
            14,
            19,
            "relay.max_allocations",
            "allows no allocation",
            "positive number",
        ),
        (
            "per-user quota above the total",
            relay("max_allocations = 10\nmax_allocations_per_user = 20\n"),
            15,
            28,
            "relay.max_allocations_per_user",
            "the relay holds 10 in total",
            "at most max_allocations",
        ),
        (
            "bad denied range",
            relay("denied_peers = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n"),
            14,
            31,
            "relay.denied_peers[1]",
            "10.0.0.0/33",
            "CIDR range",
        ),
        (
            "empty realm",
            relay("realm = \"\"\n"),
            14,
            9,
            "relay.realm",
            "realm is empty",
            "first SIP domain",
        ),
        (
            "a key that is not MD5 hex",
            relay("[[relay.user]]\nusername = \"u\"\nkey_md5 = \"turnpass\"\n"),
            16,
            11,
            "relay.user[0].key_md5",
            "expected 32 lowercase hex digits",
            "MD5(username \":\" realm \":\" password)",
        ),
        (
            "a user twice",
            relay(
                "[[relay.user]]\nusername = \"u\"\nkey_md5 = \"00112233445566778899aabbccddeeff\"\n\
                 [[relay.user]]\nusername = \"u\"\nkey_md5 = \"00112233445566778899aabbccddeeff\"\n",
            ),
            18,
            12,
            "relay.user[1].username",
            "already defined at line 15:12",
            "one [[relay.user]] per username",
        ),
        (
            "nobody can allocate",
            relay("ephemeral_credentials = false\n"),
            14,
            25,
            "relay.ephemeral_credentials",
            "nobody can allocate",
            "[[relay.user]]",
        ),
        (
            "a quota that is not a number",
            relay("max_allocations = \"many\"\n"),
            14,
            19,
            "relay.max_allocations",
            "invalid type",
            "no quotes on numbers",
        ),
    ];
    let mut failures = Vec::new();
    for (name, text, line, column, field, problem, fix) in &cases {
        let errs = errors(text);
        let found = errs.iter().any(|e| {
            e.file == "t.toml"
                && (e.line, e.column) == (*line, *column)
                && e.field == *field
                && e.problem.contains(problem)
                && e.fix.contains(fix)
        });
        if !found {
            failures.push(format!(
                "{name}: expected t.toml:{line}:{column}: {field}: …{problem}…; fix: …{fix}…\n  got:\n    {}",
                errs.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn relay_problems_come_with_the_other_sections_problems() {
    // A typo elsewhere does not hide the relay's problem, and the other way round.
    let text =
        relay("min_port = 60000\nmax_port = 50000\n").replace("site = \"HQ\"", "site = \"HQX\"");
    let fields: Vec<String> = errors(&text).into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["pool[0].site", "relay.max_port"]);
}
