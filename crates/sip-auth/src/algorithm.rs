//! Digest algorithms (RFC 7616 §3.2, RFC 8760 §2.1) and the stored HA1 value.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt;

/// A Digest algorithm (RFC 7616 §6.1 registry; RFC 8760 §2.1 for SIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `MD5` (RFC 7616 §3.4.2, kept for backward compatibility, RFC 8760 §2.1).
    Md5,
    /// `MD5-sess` (RFC 7616 §3.4.2).
    Md5Sess,
    /// `SHA-256` (RFC 7616 §3.2, RFC 8760 §2.1).
    Sha256,
    /// `SHA-256-sess` (RFC 7616 §3.4.2).
    Sha256Sess,
}

impl Algorithm {
    /// Every algorithm this crate implements, in preference order (RFC 8760 §2.4: SHA-256 first).
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// The `algorithm` token (RFC 7616 §3.3).
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// The algorithm named by `token`, case-insensitively (RFC 7616 §3.3 tokens are
    /// case-insensitive like every auth-param value of token form).
    pub fn from_token(token: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.token().eq_ignore_ascii_case(token))
    }

    /// Whether this is a `-sess` variant (RFC 7616 §3.4.2 second form of A1).
    pub fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// The non-session algorithm whose hash this one uses: the HA1 a store keeps.
    pub fn base(self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
        }
    }

    /// The length of this algorithm's hash in hex digits.
    pub fn hex_len(self) -> usize {
        match self.base() {
            Algorithm::Sha256 => 64,
            _ => 32,
        }
    }

    /// `H(data)` as lower-case hex (RFC 7616 §3.4: "KD" and "H" produce lower-case hex).
    pub fn hash_hex(self, parts: &[&[u8]]) -> String {
        match self.base() {
            Algorithm::Sha256 => {
                let mut h = Sha256::new();
                for p in parts {
                    h.update(p);
                }
                crate::hex(&h.finalize())
            }
            _ => {
                let mut h = Md5::new();
                for p in parts {
                    h.update(p);
                }
                crate::hex(&h.finalize())
            }
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// A stored HA1 = `H(username ":" realm ":" passwd)` in lower-case hex (RFC 7616 §3.4.2),
/// for the non-session algorithm [`Ha1::algorithm`]. The password itself is never stored.
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1 {
    algorithm: Algorithm,
    hex: String,
}

impl Ha1 {
    /// An HA1 read from a store: `hex` must be the right length for `algorithm` and hex only.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Option<Ha1> {
        let algorithm = algorithm.base();
        let ok = hex.len() == algorithm.hex_len() && hex.bytes().all(|b| b.is_ascii_hexdigit());
        ok.then(|| Ha1 {
            algorithm,
            hex: hex.to_ascii_lowercase(),
        })
    }

    /// The non-session algorithm this HA1 was computed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lower-case hex value, for storing.
    pub fn as_hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Debug for Ha1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A HA1 is password-equivalent for its realm (RFC 7616 §5.13): never log it.
        write!(f, "Ha1({}, <redacted>)", self.algorithm)
    }
}

/// Computes the HA1 to store when a user is created or changes password (RFC 7616 §3.4.2:
/// `A1 = unq(username) ":" unq(realm) ":" passwd`). `-sess` algorithms store their base HA1.
pub fn ha1(user: &str, realm: &str, password: &str, algorithm: Algorithm) -> Ha1 {
    let algorithm = algorithm.base();
    let hex = algorithm.hash_hex(&[
        user.as_bytes(),
        b":",
        realm.as_bytes(),
        b":",
        password.as_bytes(),
    ]);
    Ha1 { algorithm, hex }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_case_insensitively() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_token(a.token()), Some(a));
            assert_eq!(Algorithm::from_token(&a.token().to_lowercase()), Some(a));
        }
        assert_eq!(Algorithm::from_token("SHA-512-256"), None);
        assert_eq!(Algorithm::from_token(""), None);
    }

    #[test]
    fn rfc7616_example_ha1() {
        // RFC 7616 §3.9.1 user and password (errata 4495: lower-case "of"). The MD5 HA1 printed in
        // some copies is wrong; this value is recomputed from the RFC's inputs and is the one that
        // yields the RFC's printed response 8ca523f5… (checked in digest tests).
        let h = ha1(
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
            Algorithm::Md5,
        );
        assert_eq!(h.as_hex(), "3d78807defe7de2157e2b0b6573a855f");
        let s = ha1(
            "Mufasa",
            "http-auth@example.org",
            "Circle of Life",
            Algorithm::Sha256Sess,
        );
        assert_eq!(s.algorithm(), Algorithm::Sha256);
        assert_eq!(s.as_hex().len(), 64);
    }

    #[test]
    fn ha1_from_hex_checks_shape() {
        assert!(Ha1::from_hex(Algorithm::Md5, "3D78807DEFE7DE2157E2B0B6573A855F").is_some());
        assert!(Ha1::from_hex(Algorithm::Sha256, "3d78807defe7de2157e2b0b6573a855f").is_none());
        assert!(Ha1::from_hex(Algorithm::Md5, "3d78807defe7de2157e2b0b6573a855g").is_none());
        let h = ha1("u", "r", "p", Algorithm::Md5);
        assert!(!format!("{h:?}").contains(h.as_hex()));
    }
}
