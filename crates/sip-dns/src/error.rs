//! Why a SIP URI could not be located (RFC 3263), naming every DNS query made.

use std::fmt;

use thiserror::Error;

/// A URI that cannot be turned into DNS lookups (RFC 3263 §4).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    /// Only `sip:` and `sips:` URIs are located by RFC 3263.
    #[error("{scheme}: URIs are not located by DNS (RFC 3263 locates sip: and sips: only)")]
    NotSip {
        /// The URI's scheme.
        scheme: String,
    },
    /// The `transport` parameter names a transport this server does not speak.
    #[error("transport={0} is not supported (use udp, tcp or tls)")]
    UnsupportedTransport(String),
    /// A SIPS URI asked for UDP (RFC 3261 §26.2.2: SIPS is TLS, which runs over TCP).
    #[error("a sips: URI cannot use transport=udp (RFC 3261 §26.2.2: SIPS needs TLS over TCP)")]
    SipsOverUdp,
    /// `maddr` without a value.
    #[error("maddr parameter without a value")]
    EmptyMaddr,
    /// `maddr` that is neither an address nor a host name.
    #[error("maddr={0:?} is neither an IP address nor a host name")]
    BadMaddr(String),
    /// The host is empty.
    #[error("the URI has an empty host")]
    EmptyHost,
}

/// The DNS record type of a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryType {
    /// NAPTR (RFC 3403).
    Naptr,
    /// SRV (RFC 2782).
    Srv,
    /// A (IPv4).
    A,
    /// AAAA (IPv6).
    Aaaa,
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryType::Naptr => "NAPTR",
            QueryType::Srv => "SRV",
            QueryType::A => "A",
            QueryType::Aaaa => "AAAA",
        })
    }
}

/// How one query ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Usable answers, with how many.
    Answers(usize),
    /// The name exists but has no records of this type (NODATA), or none usable.
    NoRecords,
    /// SRV answers that only decline the service (target ".", RFC 2782).
    Declined,
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// No answer within the configured timeout and attempts.
    Timeout,
    /// The DNS server could not be reached (refused, no route), as the resolver described it.
    Unreachable(String),
    /// Any other failure (server failure, refusal, I/O), as the resolver described it.
    Failed(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Answers(n) => write!(f, "{n} answer{}", if *n == 1 { "" } else { "s" }),
            Outcome::NoRecords => f.write_str("no records"),
            Outcome::Declined => f.write_str("service declined: target \".\""),
            Outcome::NxDomain => f.write_str("NXDOMAIN"),
            Outcome::Timeout => f.write_str("timed out"),
            Outcome::Unreachable(m) => write!(f, "server unreachable: {m}"),
            Outcome::Failed(m) => write!(f, "failed: {m}"),
        }
    }
}

/// One DNS query made during resolution and how it ended: the routing decision's evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The record type asked for.
    pub rtype: QueryType,
    /// The name asked about, without the final dot.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.rtype, self.name, self.outcome)
    }
}

/// The queries made, written as a comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Queries(pub Vec<Query>);

impl Queries {
    /// The names queried, as `TYPE name`.
    pub fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|q| format!("{} {}", q.rtype, q.name))
            .collect()
    }
}

impl fmt::Display for Queries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing");
        }
        for (i, q) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{q}")?;
        }
        Ok(())
    }
}

/// Why locating a SIP server failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LocateError {
    /// The URI does not lead to DNS lookups.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A name could not be made into a DNS name.
    #[error("{name:?} is not a valid DNS name: {reason}")]
    BadName {
        /// The name as built.
        name: String,
        /// What the resolver objected to.
        reason: String,
    },
    /// Every query answered, but none led to an address.
    #[error("no SIP server found for {domain}: queried {queried}")]
    NotFound {
        /// The domain being located.
        domain: String,
        /// Every query made, in order.
        queried: Queries,
    },
    /// The DNS server did not answer in time; resolution stopped at the first timeout.
    #[error(
        "DNS timed out locating {domain}: queried {queried}; check the DNS servers configured and reachable"
    )]
    Timeout {
        /// The domain being located.
        domain: String,
        /// Every query made, in order; the last one timed out.
        queried: Queries,
    },
    /// The DNS server could not be reached; resolution stopped at the first such failure.
    #[error(
        "DNS server unreachable locating {domain}: queried {queried}; check the DNS servers configured and reachable"
    )]
    Unreachable {
        /// The domain being located.
        domain: String,
        /// Every query made, in order; the last one failed.
        queried: Queries,
    },
}

impl LocateError {
    /// The ms-diagnostics code a proxy answers with when it cannot locate the next hop
    /// (MS-SIP.md §1.5): an address lookup that found nothing → 1014, an SRV lookup that found
    /// nothing → 1008, DNS not answering → 1007, a URI that cannot be located → 1005.
    pub fn diag_code(&self) -> &'static diag::DiagCode {
        match self {
            LocateError::NotFound { queried, .. } => match queried.0.last().map(|q| q.rtype) {
                Some(QueryType::A | QueryType::Aaaa) => &diag::codes::UNABLE_TO_RESOLVE_DNS_A,
                _ => &diag::codes::UNABLE_TO_RESOLVE_DNS_SRV,
            },
            LocateError::Timeout { .. } | LocateError::Unreachable { .. } => {
                &diag::codes::TEMPORARILY_CANNOT_ROUTE
            }
            LocateError::Plan(_) | LocateError::BadName { .. } => {
                &diag::codes::CANNOT_ROUTE_TO_DESTINATION_DOMAIN
            }
        }
    }

    /// The ms-diagnostics entry for this error, with the parameters its code documents.
    pub fn diagnostic(&self) -> diag::Diagnostic {
        let d = diag::Diagnostic::new(self.diag_code());
        match self {
            LocateError::NotFound { domain, queried } => match queried.0.last() {
                Some(q) if matches!(q.rtype, QueryType::A | QueryType::Aaaa) => {
                    d.param("fqdn", q.name.clone())
                }
                _ => d.param("domain", domain.clone()),
            },
            LocateError::BadName { name, .. } => d.param("domain", name.clone()),
            LocateError::Timeout { .. }
            | LocateError::Unreachable { .. }
            | LocateError::Plan(_) => d,
        }
    }

    /// The queries made before failing (empty for URI errors).
    pub fn queried(&self) -> &[Query] {
        match self {
            LocateError::NotFound { queried, .. }
            | LocateError::Timeout { queried, .. }
            | LocateError::Unreachable { queried, .. } => &queried.0,
            LocateError::Plan(_) | LocateError::BadName { .. } => &[],
        }
    }
}

/// A resolver that could not be built from its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// The system resolver configuration could not be read.
    #[error(
        "cannot read the system DNS configuration (/etc/resolv.conf): {0}; list `servers` in the [dns] configuration instead"
    )]
    System(String),
    /// A field has a value that cannot work.
    #[error("dns.{field} {problem}: {fix}")]
    Invalid {
        /// The field, as written in the `[dns]` table.
        field: &'static str,
        /// What is wrong with its value.
        problem: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// The resolver rejected the configuration.
    #[error("DNS resolver configuration rejected: {0}")]
    Resolver(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(rtype: QueryType, name: &str, outcome: Outcome) -> Query {
        Query {
            rtype,
            name: name.into(),
            outcome,
        }
    }

    #[test]
    fn each_error_maps_to_one_catalogue_code() {
        let srv_only = LocateError::NotFound {
            domain: "contoso.test".into(),
            queried: Queries(vec![q(
                QueryType::Srv,
                "_sip._tls.contoso.test",
                Outcome::Declined,
            )]),
        };
        assert_eq!(srv_only.diag_code().id, 1008);
        assert_eq!(srv_only.diagnostic().get("domain"), Some("contoso.test"));
        let table: [(LocateError, u32); 4] = [
            (
                LocateError::Timeout {
                    domain: "x".into(),
                    queried: Queries::default(),
                },
                1007,
            ),
            (
                LocateError::Unreachable {
                    domain: "x".into(),
                    queried: Queries::default(),
                },
                1007,
            ),
            (LocateError::Plan(PlanError::SipsOverUdp), 1005),
            (
                LocateError::BadName {
                    name: "a..b".into(),
                    reason: "empty label".into(),
                },
                1005,
            ),
        ];
        for (e, id) in table {
            assert_eq!(e.diag_code().id, id, "{e}");
            // Every code is in the one catalogue.
            assert!(diag::lookup(id).is_some());
        }
    }

    #[test]
    fn queries_render_for_admins() {
        assert_eq!(Queries::default().to_string(), "nothing");
        let qs = Queries(vec![
            q(QueryType::Naptr, "a.test", Outcome::Answers(1)),
            q(QueryType::Srv, "_sip._udp.a.test", Outcome::Answers(2)),
            q(
                QueryType::Aaaa,
                "h.a.test",
                Outcome::Unreachable("io error: denied".into()),
            ),
        ]);
        assert_eq!(
            qs.to_string(),
            "NAPTR a.test (1 answer), SRV _sip._udp.a.test (2 answers), \
             AAAA h.a.test (server unreachable: io error: denied)"
        );
        assert_eq!(
            qs.names(),
            ["NAPTR a.test", "SRV _sip._udp.a.test", "AAAA h.a.test"]
        );
    }
}
