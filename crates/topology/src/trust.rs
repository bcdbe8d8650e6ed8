//! The trust decision for a server that connected over mutual TLS: from the verified
//! certificate's identity and the local port the connection arrived on, decide whether the
//! peer is one of our servers (every pool of the topology is trusted automatically, with no
//! hand-kept list: seed 000), a trusted application pool (only on its application's port),
//! the target of a TLS static route, a federated partner's edge, or nobody we know; and say
//! why in words.

use diag::DiagCode;

use crate::load::Topology;
use crate::model::{Role, RouteTransport};

/// The identity in a peer's verified certificate (the TLS layer fills it in).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertIdentity {
    /// Subject common name.
    pub common_name: Option<String>,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// EKU allows TLS server authentication.
    pub server_auth: bool,
    /// EKU allows TLS client authentication.
    pub client_auth: bool,
}

impl CertIdentity {
    /// The names that identify the peer: subjectAltName dNSNames, or the common name only
    /// when there are none (RFC 5922 §7.1). Wildcard names never identify a server of the
    /// topology (RFC 5922 §7.2).
    pub fn names(&self) -> Vec<String> {
        let raw: Vec<&String> = if self.dns_names.is_empty() {
            self.common_name.iter().collect()
        } else {
            self.dns_names.iter().collect()
        };
        raw.into_iter()
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.starts_with("*."))
            .collect()
    }
}

/// What a trusted peer is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerKind {
    /// A pool of the topology running Convene roles.
    TopologyServer {
        /// The pool FQDN.
        pool: String,
    },
    /// A trusted application pool, on its application's port.
    TrustedApplicationPool {
        /// The pool FQDN.
        pool: String,
        /// The application(s) on that port.
        applications: Vec<String>,
    },
    /// The next hop of a TLS static route.
    StaticRouteTarget {
        /// Index in `[[static_route]]`.
        route: usize,
        /// The route's match_uri.
        match_uri: String,
    },
    /// A federated partner's access edge; it may assert identities of its domain only.
    FederatedPartner {
        /// The partner's domain.
        domain: String,
    },
}

/// A trusted peer and what its trust grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    /// Who the peer is.
    pub peer: PeerKind,
    /// The certificate name that matched.
    pub name: String,
    /// Requests are not challenged (Lync's `TreatAsAuthenticated`).
    pub treat_as_authenticated: bool,
    /// Exempt from per-client rate limits (Lync's `ThrottleAsServer`).
    pub throttle_as_server: bool,
    /// Why, in words, for logs and traces.
    pub reason: String,
}

/// The decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustDecision {
    /// A server we trust.
    Trusted(Trusted),
    /// Not a server we know: the connection carries only ordinary client traffic
    /// (challenged, rate-limited).
    Untrusted {
        /// Why, in words.
        reason: String,
    },
    /// Refused: requests on the connection are answered 403 with `diag`.
    Refused {
        /// Why, in words.
        reason: String,
        /// How to fix it.
        fix: String,
        /// The ms-diagnostics code to send.
        diag: &'static DiagCode,
    },
}

impl TrustDecision {
    /// Whether requests from the peer skip the Digest challenge.
    pub fn treat_as_authenticated(&self) -> bool {
        matches!(self, TrustDecision::Trusted(t) if t.treat_as_authenticated)
    }

    /// Whether the peer is exempt from client rate limits.
    pub fn throttle_as_server(&self) -> bool {
        matches!(self, TrustDecision::Trusted(t) if t.throttle_as_server)
    }

    /// The reason in words.
    pub fn reason(&self) -> &str {
        match self {
            TrustDecision::Trusted(t) => &t.reason,
            TrustDecision::Untrusted { reason } | TrustDecision::Refused { reason, .. } => reason,
        }
    }
}

/// Decides trust for a peer whose certificate chain has been verified, connected to
/// `local_port`.
pub fn decide(t: &Topology, peer: &CertIdentity, local_port: u16) -> TrustDecision {
    let names = peer.names();
    let shown = if names.is_empty() {
        "no usable name".to_owned()
    } else {
        names.join(", ")
    };
    let find = |fqdn: &str| names.iter().find(|n| n.eq_ignore_ascii_case(fqdn)).cloned();

    // A trusted application's port accepts only its pool's certificates.
    let apps_here: Vec<_> = t
        .trusted_applications
        .iter()
        .filter(|a| *a.port.get_ref() == local_port)
        .filter(|a| {
            t.pool(a.pool.get_ref())
                .is_some_and(|p| p.has_role(Role::TrustedApplication))
        })
        .collect();
    if !apps_here.is_empty() {
        let owner = apps_here
            .iter()
            .find_map(|a| find(a.pool.get_ref()).map(|n| (n, a.pool.get_ref().clone())));
        let expected = apps_here
            .iter()
            .map(|a| a.pool.get_ref().as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let Some((name, pool)) = owner else {
            return TrustDecision::Refused {
                reason: format!(
                    "port {local_port} is the port of trusted application pool {expected}; the peer's certificate names {shown}"
                ),
                fix: format!(
                    "connect from {expected}, or add the peer as a [[pool]] with roles = [\"trusted-application\"] and a [[trusted_application]] on its own port"
                ),
                diag: &diag::codes::NOT_TRUSTED_APPLICATION_POOL,
            };
        };
        if let Some(refusal) = lacks_client_auth(peer, &name) {
            return refusal;
        }
        let p = t.pool(&pool);
        let flag = |f: Option<&toml::Spanned<bool>>| f.is_none_or(|v| *v.get_ref());
        let applications: Vec<String> = apps_here
            .iter()
            .filter(|a| a.pool.get_ref().eq_ignore_ascii_case(&pool))
            .map(|a| a.id.get_ref().clone())
            .collect();
        return TrustDecision::Trusted(Trusted {
            reason: format!(
                "certificate name {name} is trusted application pool {pool} on its port {local_port} (application {})",
                applications.join(", ")
            ),
            peer: PeerKind::TrustedApplicationPool { pool, applications },
            name,
            treat_as_authenticated: flag(p.and_then(|p| p.treat_as_authenticated.as_ref())),
            throttle_as_server: flag(p.and_then(|p| p.throttle_as_server.as_ref())),
        });
    }

    // Automatic topology trust: any pool that runs Convene roles (seed 000).
    if let Some((name, pool)) = t.pools.iter().find_map(|p| {
        let convene = p.roles.get_ref().iter().any(|r| r.get_ref().is_convene());
        convene
            .then(|| find(p.fqdn.get_ref()).map(|n| (n, p.fqdn.get_ref().clone())))
            .flatten()
    }) {
        if let Some(refusal) = lacks_client_auth(peer, &name) {
            return refusal;
        }
        return TrustDecision::Trusted(Trusted {
            reason: format!("certificate name {name} is pool {pool} of the topology"),
            peer: PeerKind::TopologyServer { pool },
            name,
            treat_as_authenticated: true,
            throttle_as_server: true,
        });
    }

    // The next hop of a TLS static route.
    if let Some((i, r, name)) = t.static_routes.iter().enumerate().find_map(|(i, r)| {
        (r.transport == RouteTransport::Tls)
            .then(|| find(r.next_hop.get_ref()).map(|n| (i, r, n)))
            .flatten()
    }) {
        if let Some(refusal) = lacks_client_auth(peer, &name) {
            return refusal;
        }
        return TrustDecision::Trusted(Trusted {
            reason: format!(
                "certificate name {name} is the next hop of static_route[{i}] (match_uri {})",
                r.match_uri.get_ref()
            ),
            peer: PeerKind::StaticRouteTarget {
                route: i,
                match_uri: r.match_uri.get_ref().clone(),
            },
            name,
            treat_as_authenticated: true,
            throttle_as_server: true,
        });
    }

    // A federated partner's access edge.
    if let Some((p, name)) = t
        .federated_partners
        .iter()
        .find_map(|p| find(p.edge_fqdn.get_ref()).map(|n| (p, n)))
    {
        if let Some(refusal) = lacks_client_auth(peer, &name) {
            return refusal;
        }
        return TrustDecision::Trusted(Trusted {
            reason: format!(
                "certificate name {name} is the access edge of federated partner {} (it may assert identities of that domain only)",
                p.domain.get_ref()
            ),
            peer: PeerKind::FederatedPartner {
                domain: p.domain.get_ref().clone(),
            },
            name,
            treat_as_authenticated: true,
            throttle_as_server: true,
        });
    }

    // A trusted application pool away from its port.
    if let Some(p) = t
        .pools
        .iter()
        .filter(|p| p.has_role(Role::TrustedApplication))
        .find(|p| find(p.fqdn.get_ref()).is_some())
    {
        let ports: Vec<String> = t
            .trusted_applications
            .iter()
            .filter(|a| a.pool.get_ref().eq_ignore_ascii_case(p.fqdn.get_ref()))
            .map(|a| a.port.get_ref().to_string())
            .collect();
        return TrustDecision::Untrusted {
            reason: format!(
                "trusted application pool {} is trusted only on its application port ({}), not on port {local_port}",
                p.fqdn.get_ref(),
                if ports.is_empty() {
                    "none defined".to_owned()
                } else {
                    ports.join(", ")
                }
            ),
        };
    }
    TrustDecision::Untrusted {
        reason: format!(
            "certificate names {shown}: not a pool, trusted application pool, static route next hop or federated partner of the topology"
        ),
    }
}

// Seed 002: a server's certificate used as a TLS client needs Client Authentication.
fn lacks_client_auth(peer: &CertIdentity, name: &str) -> Option<TrustDecision> {
    (!peer.client_auth).then(|| TrustDecision::Refused {
        reason: format!(
            "certificate of {name} lacks Client Authentication EKU: reissue with both Server and Client Authentication"
        ),
        fix: "reissue the peer's certificate with both Server Authentication and Client Authentication EKUs (convene ctl certs init makes such certificates)".to_owned(),
        diag: &diag::codes::PEER_CERT_LACKS_CLIENT_AUTH,
    })
}
