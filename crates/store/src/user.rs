//! A user as stored: AOR, Digest username and realm, HA1s.

use std::fmt;

use registrar::Aor;
use serde::{Deserialize, Serialize};
use sip_msg::Uri;

/// A user and the Digest credentials it authenticates with, as HA1 values only
/// (RFC 7616 §3.4.2: `HA1 = H(username ":" realm ":" password)`), never the password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// Address of record in canonical form, `sip:alice@example.test` (the key it is stored under).
    pub aor: String,
    /// The Digest username.
    pub username: String,
    /// The Digest realm the HA1 values were computed for.
    pub realm: String,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// HA1 for algorithm MD5: 32 lowercase hex digits (RFC 7616 §3.4.2, RFC 2617).
    #[serde(default)]
    pub ha1_md5: Option<String>,
    /// HA1 for algorithm SHA-256: 64 lowercase hex digits (RFC 7616 §3.4.2).
    #[serde(default)]
    pub ha1_sha256: Option<String>,
}

impl UserRecord {
    /// Checks what the store relies on: `aor` is a canonical `sip:user@domain` (what
    /// `registrar::Aor` prints, so lookups by AOR find it), username and realm are not empty,
    /// each HA1 is lowercase hex of its hash's length (the hex string itself enters the Digest
    /// response, RFC 7616 §3.4.1, so an uppercase one would never match). Returns what is wrong.
    pub fn check(&self) -> Result<(), &'static str> {
        let aor = Uri::parse(&self.aor)
            .ok()
            .and_then(|uri| Aor::from_uri(&uri))
            .ok_or("the AOR is not a `sip:user@domain` URI")?;
        if aor.to_string() != self.aor {
            return Err(
                "the AOR is not in canonical form (`sip:user@domain`, domain lower case, no parameters)",
            );
        }
        if self.username.is_empty() {
            return Err("the Digest username is empty");
        }
        if self.realm.is_empty() {
            return Err("the Digest realm is empty");
        }
        if let Some(h) = &self.ha1_md5
            && !is_lower_hex(h, 32)
        {
            return Err("ha1_md5 is not 32 lowercase hex digits (an MD5 HA1, not a password)");
        }
        if let Some(h) = &self.ha1_sha256
            && !is_lower_hex(h, 64)
        {
            return Err(
                "ha1_sha256 is not 64 lowercase hex digits (a SHA-256 HA1, not a password)",
            );
        }
        Ok(())
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A HA1 is password-equivalent for its realm (RFC 7616 §5.13): never log one.
        let redact = |h: &Option<String>| h.as_ref().map(|_| "<redacted>");
        f.debug_struct("UserRecord")
            .field("aor", &self.aor)
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("display_name", &self.display_name)
            .field("ha1_md5", &redact(&self.ha1_md5))
            .field("ha1_sha256", &redact(&self.ha1_sha256))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn alice() -> UserRecord {
        UserRecord {
            aor: "sip:alice@example.test".into(),
            username: "alice".into(),
            realm: "example.test".into(),
            display_name: Some("Alice".into()),
            ha1_md5: Some("0123456789abcdef0123456789abcdef".into()),
            ha1_sha256: None,
        }
    }

    #[test]
    fn check_accepts_a_canonical_user() {
        assert_eq!(alice().check(), Ok(()));
    }

    #[test]
    fn check_refuses_what_would_never_match() {
        let with = |f: fn(&mut UserRecord)| {
            let mut u = alice();
            f(&mut u);
            u.check()
        };
        assert!(with(|u| u.aor = "sip:alice@Example.TEST".into()).is_err());
        assert!(with(|u| u.aor = "sip:alice@example.test;transport=tls".into()).is_err());
        assert!(with(|u| u.aor = "alice".into()).is_err());
        assert!(with(|u| u.aor = "sip:example.test".into()).is_err());
        assert!(with(|u| u.username.clear()).is_err());
        assert!(with(|u| u.realm.clear()).is_err());
        assert!(with(|u| u.ha1_md5 = Some("0123456789ABCDEF0123456789ABCDEF".into())).is_err());
        assert!(with(|u| u.ha1_md5 = Some("secret".into())).is_err());
        assert!(with(|u| u.ha1_sha256 = Some("ab".repeat(31))).is_err());
        assert_eq!(with(|u| u.ha1_sha256 = Some("ab".repeat(32))), Ok(()));
    }

    #[test]
    fn debug_never_shows_a_ha1() {
        let shown = format!("{:?}", alice());
        assert!(shown.contains("alice"));
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
    }
}
