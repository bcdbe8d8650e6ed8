//! The borrowed views and the owned typed values read the same grammar: on every message of
//! the RFC 4475 / RFC 5118 vectors and of the fuzz corpus, a view parses exactly when the
//! owned value does (for header values that are UTF-8) and converts to the same value.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Debug;
use std::path::Path;

use sip_msg::{HeaderName, Message, ParseError};

type Result<T> = std::result::Result<T, ParseError>;

/// Compares a view accessor with its owned twin on `m`.
fn agree<V, O: PartialEq + Debug>(
    what: &str,
    file: &Path,
    view: Result<V>,
    owned: Result<O>,
    into: impl FnOnce(V) -> O,
) {
    match (view, owned) {
        (Ok(v), Ok(o)) => assert_eq!(into(v), o, "{what} of {}", file.display()),
        (Err(_), Err(_)) => {}
        (v, o) => panic!(
            "{what} of {}: view ok={} owned ok={}",
            file.display(),
            v.is_ok(),
            o.is_ok()
        ),
    }
}

fn check(file: &Path, bytes: &[u8]) -> bool {
    let Ok(m) = Message::parse(bytes.to_vec()) else {
        return false;
    };
    // Views refuse a value that is not UTF-8 (RFC 3261 §25.1); the owned values replace the
    // bytes instead. Compare only where the text is UTF-8.
    if m.headers()
        .iter()
        .any(|h| std::str::from_utf8(h.value()).is_err())
    {
        return false;
    }
    agree("Via", file, m.via_views(), m.vias(), |v| {
        v.into_iter().map(|v| v.into_owned()).collect()
    });
    agree("top Via", file, m.top_via_view(), m.top_via(), |v| {
        v.map(|v| v.into_owned())
    });
    agree("From", file, m.from_view(), m.from(), |v| {
        v.map(|v| v.into_owned())
    });
    agree("To", file, m.to_view(), m.to(), |v| {
        v.map(|v| v.into_owned())
    });
    agree("Call-ID", file, m.call_id_str(), m.call_id(), |v| {
        v.map(|c| sip_msg::CallId(c.to_owned()))
    });
    agree("Contact", file, m.contact_views(), m.contacts(), |v| {
        v.into_iter().map(|c| c.into_owned()).collect()
    });
    agree("Route", file, m.route_views(), m.routes(), |v| {
        v.into_iter().map(|r| r.into_owned()).collect()
    });
    agree(
        "Record-Route",
        file,
        m.record_route_views(),
        m.record_routes(),
        |v| v.into_iter().map(|r| r.into_owned()).collect(),
    );
    agree("Path", file, m.path_views(), m.paths(), |v| {
        v.into_iter().map(|r| r.into_owned()).collect()
    });
    agree(
        "Authorization",
        file,
        m.authorization_views(),
        m.authorization(),
        |v| v.into_iter().map(|a| a.into_owned()).collect(),
    );
    agree(
        "Proxy-Authorization",
        file,
        m.proxy_authorization_views(),
        m.proxy_authorization(),
        |v| v.into_iter().map(|a| a.into_owned()).collect(),
    );
    agree(
        "WWW-Authenticate",
        file,
        m.views::<sip_msg::AuthValueRef<'_>>(&HeaderName::WwwAuthenticate),
        m.www_authenticate(),
        |v| v.into_iter().map(|a| a.into_owned()).collect(),
    );
    // Parameters read through a view match the owned ones, name by name.
    if let (Ok(Some(v)), Ok(Some(o))) = (m.top_via_view(), m.top_via()) {
        for p in &o.params {
            let got = v.params.get(&p.name).and_then(|p| p.value());
            let want = sip_msg::find_param(&o.params, &p.name).and_then(|p| p.value.as_deref());
            assert_eq!(
                got.as_deref(),
                want,
                "Via param {} of {}",
                p.name,
                file.display()
            );
        }
        assert_eq!(v.branch(), o.branch(), "{}", file.display());
    }
    true
}

fn each_file(dir: &Path, f: &mut impl FnMut(&Path, &[u8])) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            each_file(&p, f);
        } else if let Ok(bytes) = std::fs::read(&p) {
            f(&p, &bytes);
        }
    }
}

#[test]
fn views_agree_with_owned_values_on_vectors_and_fuzz_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut compared = 0;
    for dir in ["tests/vectors", "../../fuzz/corpus/sip_parse"] {
        each_file(&root.join(dir), &mut |p, b| {
            if check(p, b) {
                compared += 1;
            }
        });
    }
    eprintln!("views and owned values compared on {compared} messages");
    assert!(compared > 20, "only {compared} messages compared");
}
