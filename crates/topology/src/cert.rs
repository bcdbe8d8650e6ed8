//! What a pool's certificate must hold, and the check of a certificate's facts against the
//! topology. The facts (names, EKUs, validity, chain) are read from the files by the caller;
//! this module only judges them.

use crate::load::Topology;
use crate::model::{PoolConfig, Role};

/// The names (subjectAltName dNSName entries) a pool's certificate must carry: the pool
/// FQDN, each member machine's FQDN, and `sip.<domain>` for every SIP domain when the pool
/// runs the front-end or edge role (clients find those by DNS and check the name, as
/// Lync's certificate wizard requires).
pub fn required_names(t: &Topology, pool: &PoolConfig) -> Vec<String> {
    let mut names = vec![pool.fqdn.get_ref().to_ascii_lowercase()];
    for m in &pool.machines {
        names.push(m.get_ref().to_ascii_lowercase());
    }
    if pool.has_role(Role::FrontEnd) || pool.has_role(Role::Edge) {
        for d in t.domains() {
            names.push(format!("sip.{d}"));
        }
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Whether the certificate chains to the deployment's CA, as found by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chain {
    /// Issued by the CA (signature checked).
    Verified,
    /// Not verifiable against the CA, with the verifier's words.
    Untrusted(String),
    /// Could not be checked, with the reason (the other problems found explain why, e.g.
    /// a certificate allowing neither TLS use); not reported on its own.
    Unchecked(String),
}

/// The facts of one certificate that the check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// EKU includes Server Authentication (id-kp-serverAuth, RFC 5280 §4.2.1.12).
    pub server_auth: bool,
    /// EKU includes Client Authentication (id-kp-clientAuth, RFC 5280 §4.2.1.12).
    pub client_auth: bool,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// The chain to the CA.
    pub chain: Chain,
}

/// One thing wrong with a pool's certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertProblem {
    /// A name the topology needs is not in the certificate.
    #[error("the certificate does not name `{0}` (subjectAltName)")]
    MissingName(String),
    /// Past its end of validity.
    #[error("the certificate expired {0} seconds ago")]
    Expired(i64),
    /// Before its start of validity.
    #[error("the certificate is not valid for another {0} seconds")]
    NotYetValid(i64),
    /// No Server Authentication EKU.
    #[error("the certificate lacks the Server Authentication EKU")]
    NoServerAuth,
    /// No Client Authentication EKU (seed 002: the peer answers with TLS alert 43).
    #[error(
        "the certificate lacks the Client Authentication EKU: other servers refuse it when this pool connects to them (TLS alert 43, unsupported_certificate)"
    )]
    NoClientAuth,
    /// Does not chain to the CA.
    #[error("the certificate does not chain to the CA: {0}")]
    UntrustedChain(String),
}

impl CertProblem {
    /// How to fix it, in one sentence.
    pub fn fix(&self) -> String {
        match self {
            CertProblem::MissingName(n) => {
                format!("reissue the certificate with `{n}` among its subjectAltNames (`convene ctl certs init` adds every name the topology needs)")
            }
            CertProblem::Expired(_) | CertProblem::NotYetValid(_) => {
                "reissue the certificate (check the clock of this machine if the dates look right)".to_owned()
            }
            CertProblem::NoServerAuth | CertProblem::NoClientAuth => {
                "reissue the certificate with both Server Authentication and Client Authentication EKUs".to_owned()
            }
            CertProblem::UntrustedChain(_) => {
                "issue the certificate from the deployment's CA (ca.pem), or put the CA that issued it in place of ca.pem".to_owned()
            }
        }
    }
}

/// Whether a certificate name covers `name`: equal, or a `*.` wildcard standing for exactly
/// one leftmost label (RFC 6125 §6.4.3).
pub fn name_covers(cert_name: &str, name: &str) -> bool {
    let (c, n) = (cert_name.to_ascii_lowercase(), name.to_ascii_lowercase());
    if c == n {
        return true;
    }
    match (c.strip_prefix("*."), n.split_once('.')) {
        (Some(base), Some((label, rest))) => !label.is_empty() && rest == base,
        _ => false,
    }
}

/// Checks a pool's certificate against what the topology needs at `now` (Unix seconds).
/// Empty: the certificate is fine.
pub fn check_certificate(
    t: &Topology,
    pool: &PoolConfig,
    facts: &CertFacts,
    now: i64,
) -> Vec<CertProblem> {
    let mut problems = Vec::new();
    if let Chain::Untrusted(why) = &facts.chain {
        problems.push(CertProblem::UntrustedChain(why.clone()));
    }
    if now > facts.not_after {
        problems.push(CertProblem::Expired(now.saturating_sub(facts.not_after)));
    }
    if now < facts.not_before {
        problems.push(CertProblem::NotYetValid(
            facts.not_before.saturating_sub(now),
        ));
    }
    if !facts.server_auth {
        problems.push(CertProblem::NoServerAuth);
    }
    if !facts.client_auth {
        problems.push(CertProblem::NoClientAuth);
    }
    for name in required_names(t, pool) {
        if !facts.dns_names.iter().any(|c| name_covers(c, &name)) {
            problems.push(CertProblem::MissingName(name));
        }
    }
    problems
}
