//! The topology of a Convene deployment, read from `topology.toml`: SIP domains, sites,
//! pools and their roles, ports and certificates, trusted application pools and
//! applications, static routes, federated partners, users and the media relay (`[relay]`).
//! The `[voice]` and `[edge]` sections of the same file belong to the `voice` and `federation` crates; [`Topology::parse`]
//! runs their loaders too, so one check reports every problem of the file.
//!
//! Pure: no I/O, no clock (callers pass `now`). Also here: the trust decision for servers
//! connecting over mutual TLS ([`trust`]), static-route matching ([`route`]) and what a
//! pool's certificate must hold ([`cert`]).

pub mod cert;
pub mod error;
pub mod load;
pub mod model;
pub mod relay;
pub mod route;
pub mod trust;
pub mod validate;

pub use cert::{CertFacts, CertProblem, Chain, check_certificate, required_names};
pub use error::{ConfigError, Errors, line_col};
pub use load::Topology;
pub use model::{
    FederatedPartnerConfig, PasswordConfig, PoolConfig, Role, RouteTransport, SipDomainConfig,
    SiteConfig, StaticRouteConfig, TrustedApplicationConfig, UserConfig,
};
pub use relay::{RelayConfig, RelayPlan, RelayUserConfig};
pub use route::{RouteMatch, match_route};
pub use toml::Spanned;
pub use trust::{CertIdentity, PeerKind, TrustDecision, Trusted, decide};

/// The demo topology `convene up` uses by default (`topology/demo.toml`).
pub const DEMO: &str = include_str!("../../../topology/demo.toml");
