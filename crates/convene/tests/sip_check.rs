//! `convene sip check` run as an admin runs it: on files and on standard input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../sip-msg/tests/vectors/rfc4475"
);

fn convene() -> Command {
    Command::new(env!("CARGO_BIN_EXE_convene"))
}

#[test]
fn valid_messages_exit_zero_with_a_summary() {
    let out = convene()
        .args([
            "sip",
            "check",
            &format!("{VECTORS}/wsinv.dat"),
            &format!("{VECTORS}/noreason.dat"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("wsinv.dat: ok INVITE sip:vivekg@chair-dnrc.example.com;unknownparam"),
        "{text}"
    );
    assert!(
        text.contains("Call-ID wsinv.ndaksdj@192.0.2.1 | CSeq 9 INVITE"),
        "{text}"
    );
    assert!(text.contains("body 150 bytes"), "{text}");
    assert!(text.contains("noreason.dat: ok 100 "), "{text}");
}

#[test]
fn one_bad_message_makes_the_exit_status_one_and_names_the_fault() {
    let out = convene()
        .args([
            "sip",
            "check",
            "--json",
            &format!("{VECTORS}/wsinv.dat"),
            &format!("{VECTORS}/badinv01.dat"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["ok"], true);
    assert_eq!(v[0]["summary"]["method"], "INVITE");
    assert_eq!(v[1]["ok"], false);
    assert_eq!(v[1]["error"]["part"], "Via header");
    assert_eq!(v[1]["error"]["line"], 7);
    assert_eq!(v[1]["error"]["status"], 400);
    assert!(
        v[1]["error"]["expected"]
            .as_str()
            .unwrap()
            .contains("parameter name")
    );
}

#[test]
fn reads_standard_input() {
    let mut child = convene()
        .args(["sip", "check", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            b"OPTIONS sip:a@example.test SIP/7.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n",
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("-: error at byte 27"), "{text}");
    assert!(text.contains("a server answers 505"), "{text}");
}

#[test]
fn unreadable_file_exits_two() {
    let out = convene()
        .args(["sip", "check", "/nonexistent/x.sip"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/x.sip"));
}
