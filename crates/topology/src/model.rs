//! The tables of `topology.toml` as the admin writes them. Every table refuses unknown keys;
//! values that validation refers back to are [`Spanned`] so a problem can name its
//! file:line:column.
//!
//! The objects mirror Lync Server's topology ([MS-Docs:Topology Builder]): SIP domains,
//! sites, pools with their roles and member machines, trusted application pools and
//! trusted applications (`New-CsTrustedApplicationPool`, `New-CsTrustedApplication`),
//! static routes (`New-CsStaticRoute`), federated partners and users.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A SIP domain served by this deployment (`[[sip_domain]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SipDomainConfig {
    /// The domain, e.g. `example.test`.
    pub name: Spanned<String>,
}

/// A site: a group of pools in one place (`[[site]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// Free text for admins.
    #[serde(default)]
    pub description: Option<String>,
}

/// What a pool does. Lync's server roles ([MS-Docs:Server roles]) plus the trusted
/// application pool, which is a third-party or application server Convene trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Registrar, proxy, presence, conferencing: homes users.
    FrontEnd,
    /// A survivable branch registrar (Lync SBA/SBS, seed 000).
    BranchRegistrar,
    /// Access edge: remote users and federation.
    Edge,
    /// Mediation between Convene and PSTN gateways.
    Mediation,
    /// An application or third-party server trusted over mutual TLS (seed 002's CUPS).
    TrustedApplication,
}

impl Role {
    /// Every role, in the order they are listed in messages.
    pub const ALL: [Role; 5] = [
        Role::FrontEnd,
        Role::BranchRegistrar,
        Role::Edge,
        Role::Mediation,
        Role::TrustedApplication,
    ];

    /// The name written in topology.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::FrontEnd => "front-end",
            Role::BranchRegistrar => "branch-registrar",
            Role::Edge => "edge",
            Role::Mediation => "mediation",
            Role::TrustedApplication => "trusted-application",
        }
    }

    /// The port a role listens on when `ports` does not say: SIP over TLS 5061 (RFC 3261
    /// §19.1.2) for registrars, 443 for the access edge (Lync's default external access
    /// port), 5070 for mediation (Lync's default Mediation Server port). Trusted
    /// application pools have no default: their applications carry ports.
    pub fn default_port(self) -> Option<u16> {
        match self {
            Role::FrontEnd | Role::BranchRegistrar => Some(5061),
            Role::Edge => Some(443),
            Role::Mediation => Some(5070),
            Role::TrustedApplication => None,
        }
    }

    /// Whether Convene itself runs this role (and so needs a certificate it holds).
    pub fn is_convene(self) -> bool {
        !matches!(self, Role::TrustedApplication)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pool: one FQDN served by one or more machines (`[[pool]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// The pool FQDN (what other servers connect to and what its certificate names).
    pub fqdn: Spanned<String>,
    /// The site the pool belongs to.
    pub site: Spanned<String>,
    /// FQDNs of the member machines; a single-machine pool may list just its own FQDN.
    #[serde(default)]
    pub machines: Vec<Spanned<String>>,
    /// The roles the pool runs.
    pub roles: Spanned<Vec<Spanned<Role>>>,
    /// Listening port per role (TLS); roles not listed use [`Role::default_port`].
    #[serde(default)]
    pub ports: BTreeMap<Role, Spanned<u16>>,
    /// Base name of the pool's certificate files in the certificates directory
    /// (`<name>.pem`, `<name>.key`); required for every role Convene runs.
    #[serde(default)]
    pub certificate: Option<Spanned<String>>,
    /// Trusted application pools only: the front-end pool the applications register with
    /// (`New-CsTrustedApplicationPool -Registrar`).
    #[serde(default)]
    pub registrar: Option<Spanned<String>>,
    /// Trusted application pools only: requests are not challenged (`-TreatAsAuthenticated`,
    /// default true).
    #[serde(default)]
    pub treat_as_authenticated: Option<Spanned<bool>>,
    /// Trusted application pools only: exempt from per-client rate limits
    /// (`-ThrottleAsServer`, default true).
    #[serde(default)]
    pub throttle_as_server: Option<Spanned<bool>>,
}

impl PoolConfig {
    /// Whether the pool runs `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.get_ref().iter().any(|r| *r.get_ref() == role)
    }

    /// The port `role` listens on (configured, else the default).
    pub fn port(&self, role: Role) -> Option<u16> {
        self.ports
            .get(&role)
            .map(|p| *p.get_ref())
            .or_else(|| role.default_port())
    }
}

/// A trusted application on a trusted application pool (`[[trusted_application]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedApplicationConfig {
    /// Application id, e.g. `cups` (`-ApplicationId`).
    pub id: Spanned<String>,
    /// The trusted application pool's FQDN.
    pub pool: Spanned<String>,
    /// The application's port: it listens there, and Convene accepts its mutual-TLS
    /// connections there and nobody else's (`-Port`, e.g. 5062 as in seed 002).
    pub port: Spanned<u16>,
}

/// Transport of a static route's next hop (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteTransport {
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS (the next hop's certificate must name `next_hop`).
    Tls,
}

impl std::fmt::Display for RouteTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RouteTransport::Tcp => "tcp",
            RouteTransport::Tls => "tls",
        })
    }
}

/// A static route: requests for a domain go to a fixed next hop before any DNS lookup
/// (`New-CsStaticRoute`, `[[static_route]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRouteConfig {
    /// The domain whose requests take this route; it matches its subdomains too
    /// (`-MatchUri`).
    pub match_uri: Spanned<String>,
    /// The next hop's FQDN or IP address (`-Destination`). Over TLS, the FQDN its certificate
    /// must name.
    pub next_hop: Spanned<String>,
    /// The IP address to connect to instead of resolving `next_hop` (as a hosts-file entry
    /// would); the TLS certificate must still name `next_hop`. Only with an FQDN `next_hop`.
    #[serde(default)]
    pub address: Option<Spanned<String>>,
    /// The next hop's port.
    pub port: Spanned<u16>,
    /// TCP or TLS.
    pub transport: RouteTransport,
}

impl StaticRouteConfig {
    /// `match_uri (and subdomains) -> next_hop:port over transport[ at address IP]`, for
    /// listings and traces.
    pub fn describe(&self) -> String {
        format!(
            "{} (and subdomains) -> {}:{} over {}{}",
            self.match_uri.get_ref(),
            self.next_hop.get_ref(),
            self.port.get_ref(),
            self.transport,
            self.address
                .as_ref()
                .map(|a| format!(" at address {}", a.get_ref()))
                .unwrap_or_default()
        )
    }

    /// The SIP URI of the next hop the proxy sends to (RFC 3263 §4: transport from the
    /// `transport` parameter). With an `address`, the URI carries it as `maddr` (RFC 3261
    /// §19.1.1: the address to contact, overriding the host), and the host stays the name
    /// the next hop's TLS certificate must carry (RFC 5922 §4).
    pub fn next_hop_uri(&self) -> String {
        let mut uri = format!(
            "sip:{}:{};transport={}",
            self.next_hop.get_ref(),
            self.port.get_ref(),
            self.transport
        );
        if let Some(a) = &self.address {
            uri.push_str(";maddr=");
            uri.push_str(a.get_ref());
        }
        uri
    }
}

/// A federated partner domain and its access edge (`[[federated_partner]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FederatedPartnerConfig {
    /// The partner's SIP domain.
    pub domain: Spanned<String>,
    /// The partner's access edge FQDN (what its certificate names).
    pub edge_fqdn: Spanned<String>,
}

/// Digest credentials stored as HA1 values, never the password (RFC 7616 §3.4.2:
/// HA1 = H(username ":" realm ":" password)).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {
    /// The Digest realm the HA1 values were computed for.
    pub realm: Spanned<String>,
    /// The Digest username (defaults to the user part of the AOR).
    #[serde(default)]
    pub username: Option<Spanned<String>>,
    /// HA1 for algorithm MD5: 32 lowercase hex digits (RFC 7616 §3.4.2, RFC 2617).
    #[serde(default)]
    pub ha1_md5: Option<Spanned<String>>,
    /// HA1 for algorithm SHA-256: 64 lowercase hex digits (RFC 7616 §3.4.2).
    #[serde(default)]
    pub ha1_sha256: Option<Spanned<String>>,
}

/// A user (`[[user]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Address of record, `sip:alice@example.test`.
    pub aor: Spanned<String>,
    /// Display name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The registrar pool (front end or branch registrar) that homes the user.
    pub pool: Spanned<String>,
    /// Digest credentials kept in the topology (HA1 only).
    #[serde(default)]
    pub password: Option<Spanned<PasswordConfig>>,
    /// `true` when the credentials are kept in the store instead (set with
    /// `convene ctl user set-password`).
    #[serde(default)]
    pub password_in_store: Option<Spanned<bool>>,
}
