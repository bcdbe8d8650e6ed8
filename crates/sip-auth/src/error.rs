//! Why a request's credentials were not accepted.

use crate::Algorithm;
use thiserror::Error;

/// Why credentials were refused. Every variant is answered with a fresh challenge (401/407)
/// except when the failure rate limiter throttles the source (403, see [`crate::limit`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// The request carries no credentials for this realm and scheme (RFC 3261 §22.4).
    #[error("no credentials for this realm")]
    NoCredentials,
    /// A required parameter is missing or unreadable (RFC 7616 §3.4).
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    /// The algorithm is not one this crate knows (RFC 7616 §3.7: unknown algorithms are refused).
    #[error("unknown digest algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// The algorithm is known but was not offered in the challenge (RFC 8760 §2.4).
    #[error("digest algorithm {0} was not offered")]
    AlgorithmNotOffered(Algorithm),
    /// `qop` is missing or not `auth` (only `qop=auth` is offered, RFC 7616 §3.3).
    #[error("qop must be auth")]
    QopNotAuth,
    /// `uri` does not name the Request-URI (RFC 7616 §3.4.6, RFC 3261 §22.4).
    #[error("digest-uri does not match the Request-URI")]
    UriMismatch,
    /// The nonce was not issued by this server (its HMAC does not verify).
    #[error("nonce was not issued by this server")]
    InvalidNonce,
    /// The nonce expired but the response was right: challenge again with `stale=true`
    /// (RFC 7616 §3.3).
    #[error("nonce is stale")]
    Stale,
    /// The nonce-count was already seen for this nonce (RFC 7616 §3.4: replay protection).
    #[error("nonce-count repeated or lower than one already seen")]
    Replay,
    /// Unknown user or wrong password: one variant for both, so the answer does not tell which
    /// (no user enumeration).
    #[error("bad credentials")]
    BadCredentials,
}

impl AuthError {
    /// Whether the challenge that answers this should carry `stale=true` (RFC 7616 §3.3).
    pub fn is_stale(&self) -> bool {
        matches!(self, AuthError::Stale)
    }

    /// Whether this counts as a failure for the per-source rate limiter: wrong answers and
    /// forgeries count; a first request without credentials and a stale nonce are normal flow.
    pub fn counts_as_failure(&self) -> bool {
        !matches!(self, AuthError::NoCredentials | AuthError::Stale)
    }
}
