//! SIP authentication core (pure, no I/O, no clock: every time is passed in as `now`).
//!
//! - [`digest`]: HTTP Digest (RFC 7616) as RFC 8760 applies it to SIP: MD5, SHA-256 and their
//!   `-sess` variants, `qop=auth`, challenges and verification of credentials against stored
//!   HA1 values ([`Credentials`]), with no user enumeration.
//! - [`nonce`]: stateless server nonces that expire (HMAC-SHA-256 over the issue time, a
//!   counter and the realm) and the bounded nonce-count record that refuses replays.
//! - [`limit`]: the per-source failure rate limiter on a virtual clock.
//! - [`Scheme`] and [`Verifier`]: room for [MS-SIPAE] NTLM, Kerberos and TLS-DSK next to Digest.

pub mod algorithm;
pub mod digest;
pub mod error;
pub mod limit;
pub mod nonce;

pub use algorithm::{Algorithm, Ha1, ha1};
pub use digest::{
    Authenticated, Credentials, DigestConfig, DigestVerifier, RequestTarget, ResponseParts,
    answer_challenge, credentials_for_realm, response,
};
pub use error::AuthError;
pub use limit::{Decision, FailureLimiter, LimitConfig};
pub use nonce::{NcRecord, NonceCheck, NonceMinter};

use sip_msg::AuthValue;

/// An authentication scheme a SIP server may offer ([MS-SIPAE] 2.2.1; RFC 3261 §22.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// HTTP Digest (RFC 7616, RFC 8760).
    Digest,
    /// NTLM with message signing ([MS-SIPAE] 3.2); not implemented yet.
    Ntlm,
    /// Kerberos with message signing ([MS-SIPAE] 3.2); not implemented yet.
    Kerberos,
    /// TLS-DSK ([MS-SIPAE] 3.2.5.1); not implemented yet.
    TlsDsk,
}

impl Scheme {
    /// The scheme token as written in WWW-Authenticate / Authorization.
    pub fn token(self) -> &'static str {
        match self {
            Scheme::Digest => "Digest",
            Scheme::Ntlm => "NTLM",
            Scheme::Kerberos => "Kerberos",
            Scheme::TlsDsk => "TLS-DSK",
        }
    }

    /// The scheme named by `token`, case-insensitively (RFC 7235 §2.1).
    pub fn from_token(token: &str) -> Option<Scheme> {
        [
            Scheme::Digest,
            Scheme::Ntlm,
            Scheme::Kerberos,
            Scheme::TlsDsk,
        ]
        .into_iter()
        .find(|s| s.token().eq_ignore_ascii_case(token))
    }
}

/// One authentication scheme's server side: what to challenge with and how to check an answer.
pub trait Verifier {
    /// The scheme this verifier serves.
    fn scheme(&self) -> Scheme;

    /// The challenge values for a 401/407, most preferred first; `stale` marks a retry with a
    /// fresh nonce (RFC 7616 §3.3).
    fn challenges(&mut self, now: u64, stale: bool) -> Vec<AuthValue>;

    /// Checks the credentials a request carries for this server.
    fn verify(
        &mut self,
        request: &RequestTarget<'_>,
        credentials: &AuthValue,
        now: u64,
    ) -> Result<Authenticated, AuthError>;
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Decodes hex (either case) into `out`; `None` if `s` is not exactly `2 * out.len()` hex digits.
pub(crate) fn unhex(s: &str, out: &mut [u8]) -> Option<()> {
    let b = s.as_bytes();
    if b.len() != out.len() * 2 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let hi = char::from(*pair.first()?).to_digit(16)?;
        let lo = char::from(*pair.get(1)?).to_digit(16)?;
        *o = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let bytes = [0x00, 0x7f, 0xa5, 0xff];
        let h = hex(&bytes);
        assert_eq!(h, "007fa5ff");
        let mut back = [0u8; 4];
        assert_eq!(unhex(&h.to_uppercase(), &mut back), Some(()));
        assert_eq!(back, bytes);
        assert_eq!(unhex("00f", &mut back), None);
        assert_eq!(unhex("zz7fa5ff", &mut back), None);
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn scheme_tokens() {
        assert_eq!(Scheme::from_token("digest"), Some(Scheme::Digest));
        assert_eq!(Scheme::from_token("tls-dsk"), Some(Scheme::TlsDsk));
        assert_eq!(Scheme::from_token("Basic"), None);
    }
}
