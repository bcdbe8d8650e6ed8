//! Checks that `tests/vectors/MANIFEST.toml` and the RFC 4475 / RFC 5118 vector files agree:
//! every listed file exists with the listed size, every vector file is listed exactly once, and
//! each RFC contributes the number of messages it defines. It does not parse SIP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// One `[[vector]]` block, reduced to the keys this check needs.
#[derive(Debug, Default)]
struct Entry {
    file: Option<String>,
    size: Option<u64>,
    rfc: Option<u32>,
    expected: Option<String>,
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// The value of a `key = "string"` line, if `line` is one.
fn string_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim()
        .strip_prefix('"')?
        .strip_suffix('"')
}

/// The value of a `key = 123` line, if `line` is one.
fn int_value<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    line.strip_prefix(key)?
        .trim_start()
        .strip_prefix('=')?
        .trim()
        .parse()
        .ok()
}

/// The manifest's `[[vector]]` blocks, in order. The manifest is written one `key = value` per
/// line, which is all this reader understands; the parser tests read it with a TOML parser.
fn manifest() -> Vec<Entry> {
    let text = fs::read_to_string(vectors_dir().join("MANIFEST.toml")).unwrap();
    let mut entries: Vec<Entry> = Vec::new();
    for line in text.lines() {
        if line.trim() == "[[vector]]" {
            entries.push(Entry::default());
            continue;
        }
        let Some(entry) = entries.last_mut() else {
            continue;
        };
        if let Some(v) = string_value(line, "file") {
            entry.file = Some(v.to_owned());
        } else if let Some(v) = int_value(line, "size") {
            entry.size = Some(v);
        } else if let Some(v) = int_value(line, "rfc") {
            entry.rfc = Some(v);
        } else if let Some(v) = string_value(line, "expected") {
            entry.expected = Some(v.to_owned());
        }
    }
    entries
}

/// Every file under `rfc4475/` and `rfc5118/`, as paths relative to the vectors directory.
fn files_on_disk() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for sub in ["rfc4475", "rfc5118"] {
        for entry in fs::read_dir(vectors_dir().join(sub)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            found.insert(format!("{sub}/{name}"));
        }
    }
    found
}

#[test]
fn every_listed_file_exists_with_its_size() {
    let entries = manifest();
    assert!(!entries.is_empty(), "MANIFEST.toml lists no vectors");
    for entry in &entries {
        let file = entry.file.as_deref().expect("a [[vector]] without file");
        let size = entry.size.unwrap_or_else(|| panic!("{file}: no size"));
        let bytes = fs::read(vectors_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!bytes.is_empty(), "{file} is empty");
        assert_eq!(
            bytes.len() as u64,
            size,
            "{file}: size differs from MANIFEST.toml"
        );
    }
}

#[test]
fn every_vector_file_is_listed_exactly_once() {
    let listed: Vec<String> = manifest().into_iter().filter_map(|e| e.file).collect();
    let unique: BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(listed.len(), unique.len(), "a file is listed twice");
    assert_eq!(
        unique,
        files_on_disk(),
        "MANIFEST.toml and the directory disagree"
    );
}

#[test]
fn each_rfc_contributes_its_messages() {
    let entries = manifest();
    for entry in &entries {
        let file = entry.file.as_deref().unwrap_or("?");
        let rfc = entry.rfc.unwrap_or_else(|| panic!("{file}: no rfc"));
        assert!(
            file.starts_with(&format!("rfc{rfc}/")),
            "{file} is filed under the wrong RFC ({rfc})"
        );
        let expected = entry.expected.as_deref();
        assert!(
            matches!(expected, Some("valid" | "invalid")),
            "{file}: expected must be \"valid\" or \"invalid\", not {expected:?}"
        );
    }
    // RFC 4475 §3 describes 49 messages; RFC 5118 §4 describes 12 (two in §4.5 and §4.10).
    let count = |rfc| entries.iter().filter(|e| e.rfc == Some(rfc)).count();
    assert_eq!(count(4475), 49, "RFC 4475 vectors");
    assert_eq!(count(5118), 12, "RFC 5118 vectors");
}
