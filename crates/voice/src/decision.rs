//! What the engine is asked ([`RequestInput`]) and what it answers ([`Decision`]: an
//! [`Outcome`] plus the [`Trace`] that explains it).

use serde::Serialize;

use crate::config::Transport;
use crate::diag::DiagCode;
use crate::trace::Trace;
use crate::{Name, Names};

/// How far the proxy trusts a Referred-By / transferor identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferrerTrust {
    /// Signed (`ms-identity` verified, [MS-SIPAE] 2.2.5) or asserted by a trusted
    /// server component (AV MCU dial-out, a UCMA `Transferor`); routing may use it.
    Signed,
    /// A plain Referred-By nobody vouches for; routing ignores it ([field:seed-001]).
    Unverified,
}

/// The referrer (Referred-By, RFC 3892) or transferor of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Referrer<'a> {
    /// The Referred-By value (`sip:alice@example.test` or a name-addr).
    pub uri: &'a str,
    /// Whether it is signed / trusted.
    pub trust: ReferrerTrust,
}

/// One request to route, as the proxy (or `convene ctl voice test`) sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestInput<'a> {
    /// The caller's identity (From / P-Asserted-Identity), e.g. `sip:alice@example.test`.
    pub from: &'a str,
    /// The Request-URI or dialled string (`tel:+1…`, `sip:+1…@host;user=phone`, `5752695`).
    pub request_uri: &'a str,
    /// The referrer / transferor, if any.
    pub referrer: Option<Referrer<'a>>,
    /// The caller flagged the call as an emergency call.
    pub emergency: bool,
    /// The request is an AV MCU conference dial-out (Lync's `IsAvMCUDialOut`).
    pub conference_dial_out: bool,
}

impl<'a> RequestInput<'a> {
    /// A plain call from `from` to `request_uri`: no referrer, no flags.
    pub fn new(from: &'a str, request_uri: &'a str) -> Self {
        RequestInput {
            from,
            request_uri,
            referrer: None,
            emergency: false,
            conference_dial_out: false,
        }
    }
}

/// One try of the call through one trunk, in failover order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrunkAttempt {
    /// Trunk name.
    pub trunk: Name,
    /// Gateway FQDN or IP.
    pub gateway: Name,
    /// Gateway port.
    pub port: u16,
    /// Transport to the gateway.
    pub transport: Transport,
    /// The called number as sent to this gateway, after the trunk's translation.
    pub number: Name,
    /// The route that contributed this trunk.
    pub route: Name,
    /// The usage under which the route was found.
    pub usage: Name,
}

/// Where an unassigned number's call goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "target", rename_all = "snake_case")]
pub enum Treatment {
    /// Play the named announcement.
    Announcement(Name),
    /// Redirect to this URI.
    Redirect(Name),
}

/// The setting that would change a rejection's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fix {
    /// Make the caller routable: enable it for Enterprise Voice, or have the application
    /// place the call with a signed Referred-By / Transferor naming a user who is.
    EnableCallerOrSignedReferrer {
        /// The caller's AOR, when it is a user of the deployment.
        caller_user: Option<Name>,
    },
    /// Give the routing identity a voice policy.
    GrantPolicy {
        /// The user.
        user: Name,
    },
    /// Add a PSTN usage to the policy.
    AddUsage {
        /// The policy.
        policy: Name,
    },
    /// Add a route for the number under one of the usages, or a usage with such a route.
    AddRoute {
        /// The number routed on.
        number: String,
        /// The usages that were tried.
        usages: Names,
    },
    /// Enable a trunk of the matched routes, or add a working trunk to them.
    EnableTrunk {
        /// The disabled trunks.
        trunks: Vec<Name>,
    },
    /// Dial a valid number, or fix the dial plan rule that produced an invalid one.
    DialValidNumber {
        /// The normalization rule whose output was invalid, if one was.
        rule: Option<Name>,
    },
}

impl std::fmt::Display for Fix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fix::EnableCallerOrSignedReferrer { caller_user: Some(u) } => write!(
                f,
                "set enterprise_voice = true on user {u}, or place the call with a signed Referred-By (UCMA Transferor) naming an Enterprise Voice user whose policy has a route"
            ),
            Fix::EnableCallerOrSignedReferrer { caller_user: None } => f.write_str(
                "the caller is not a user: place the call with a signed Referred-By (UCMA Transferor) naming an Enterprise Voice user whose policy has a route",
            ),
            Fix::GrantPolicy { user } => write!(
                f,
                "add a global voice policy, a policy for the site of {user}, or set voice_policy on {user}"
            ),
            Fix::AddUsage { policy } => write!(f, "add a PSTN usage to voice policy {policy}"),
            Fix::AddRoute { number, usages } => write!(
                f,
                "add a route whose pattern matches {number} serving one of the usages [{}], or add to the policy a usage that has such a route",
                usages.join(", ")
            ),
            Fix::EnableTrunk { trunks } => write!(
                f,
                "set enabled = true on trunk {}, or add an enabled trunk to the matched routes",
                trunks.join(", ")
            ),
            Fix::DialValidNumber { rule: Some(rule) } => write!(
                f,
                "fix the translation of normalization rule {rule} so it yields a phone number"
            ),
            Fix::DialValidNumber { rule: None } => {
                f.write_str("dial digits, optionally with a leading + (at most 32)")
            }
        }
    }
}

/// A rejection: what goes on the wire and what would change it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// SIP status, `ms-diagnostics` code and reason.
    pub diag: DiagCode,
    /// The setting that would change the outcome.
    pub fix: Fix,
}

/// Where the call goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The number is a user's Line URI: deliver to that user.
    LocalUser {
        /// The user's SIP URI.
        uri: Name,
        /// The Line URI that matched.
        line_uri: Name,
    },
    /// Out to the PSTN through these trunks, in failover order.
    Routed {
        /// The normalized number routed on.
        number: String,
        /// Whose voice policy authorised the call (the caller or the referrer).
        on_behalf_of: Name,
        /// The trunk attempts in order.
        attempts: Vec<TrunkAttempt>,
    },
    /// The number is in an unassigned range.
    Unassigned {
        /// The range's name.
        range: Name,
        /// What happens to the call.
        treatment: Treatment,
    },
    /// The number is a call park orbit.
    CallPark {
        /// The orbit range's name.
        orbit: Name,
        /// The pool whose Call Park service owns it.
        pool: Name,
        /// The orbit number.
        number: String,
    },
    /// Not routed.
    Rejected(Rejection),
}

impl Outcome {
    /// Whether the call goes somewhere (everything but a rejection).
    pub fn is_accepted(&self) -> bool {
        !matches!(self, Outcome::Rejected(_))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::LocalUser { uri, line_uri } => {
                write!(f, "local user {uri} (Line URI {line_uri})")
            }
            Outcome::Routed {
                number,
                on_behalf_of,
                attempts,
            } => {
                write!(
                    f,
                    "routed {number} on behalf of {on_behalf_of}, {} trunk attempt(s):",
                    attempts.len()
                )?;
                for (i, a) in attempts.iter().enumerate() {
                    write!(
                        f,
                        "\n  {}. trunk {} → {}:{} ({}), number {} [route {}, usage {}]",
                        i + 1,
                        a.trunk,
                        a.gateway,
                        a.port,
                        a.transport,
                        a.number,
                        a.route,
                        a.usage
                    )?;
                }
                Ok(())
            }
            Outcome::Unassigned { range, treatment } => match treatment {
                Treatment::Announcement(a) => {
                    write!(f, "unassigned number (range {range}): announcement {a}")
                }
                Treatment::Redirect(r) => {
                    write!(f, "unassigned number (range {range}): redirect to {r}")
                }
            },
            Outcome::CallPark {
                orbit,
                pool,
                number,
            } => write!(f, "call park orbit {number} (range {orbit}, pool {pool})"),
            Outcome::Rejected(r) => write!(f, "rejected: {}", r.diag),
        }
    }
}

/// The engine's answer: the outcome and the steps that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Where the call goes.
    pub outcome: Outcome,
    /// Why, step by step.
    pub trace: Trace,
}
