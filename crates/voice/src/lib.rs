//! Convene's Enterprise Voice routing engine: where a call to a number goes and why.
//!
//! Pure (no I/O, no clock): the admin's `[voice]` section of topology.toml
//! ([`VoiceConfig`]) is compiled once into an [`Engine`]; each request
//! ([`RequestInput`]) gets a [`Decision`]: an [`Outcome`] (a local user, trunk attempts
//! in failover order, an unassigned-number treatment, a call park orbit, or a rejection
//! with its SIP status and `ms-diagnostics` code) and a typed [`Trace`] that renders
//! like Lync's outbound routing log (MS-SIP.md §8, [field:seed-001]).
//!
//! ```
//! let src = r#"
//! [voice]
//! [[voice.policy]]
//! name = "global"
//! scope = "global"
//! usages = ["Local"]
//! [[voice.route]]
//! name = "na"
//! pattern = '^\+1\d{10}$'
//! usages = ["Local"]
//! trunks = ["gw"]
//! [[voice.trunk]]
//! name = "gw"
//! gateway = "gw.example.test"
//! port = 5067
//! transport = "tls"
//! [[voice.user]]
//! uri = "sip:alice@example.test"
//! enterprise_voice = true
//! "#;
//! let engine = voice::Engine::from_topology_str(src, "topology.toml").unwrap();
//! let d = engine.decide(&voice::RequestInput::new("sip:alice@example.test", "+14165752695"));
//! assert!(matches!(d.outcome, voice::Outcome::Routed { .. }));
//! println!("{}", d.trace);
//! ```

pub mod config;
pub mod decision;
pub mod diag;
pub mod engine;
pub mod number;
pub mod pattern;
pub mod range;
pub mod trace;

pub use config::{ConfigError, Location, Problem, Scope, Transport, ValidationError, VoiceConfig};
pub use decision::{
    Decision, Fix, Outcome, Referrer, ReferrerTrust, Rejection, RequestInput, Treatment,
    TrunkAttempt,
};
pub use diag::DiagCode;
pub use engine::Engine;
pub use toml::Spanned;
pub use trace::{Step, Trace};

/// A name from the configuration (plan, rule, route, trunk, user…), shared between the
/// engine and the traces it produces so that a decision copies no strings.
pub type Name = std::sync::Arc<str>;

/// An ordered list of names (a policy's usages).
pub type Names = std::sync::Arc<[Name]>;
