//! The explain trace: typed steps, one per thing the engine looked at, rendered as text
//! that reads like Lync's outbound routing log ([field:seed-001], MS-SIP.md §8.2).

use serde::Serialize;

use crate::config::Transport;
use crate::decision::Fix;
use crate::diag::DiagCode;
use crate::number::NumberError;
use crate::{Name, Names};

/// What the engine knows about the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallerKind {
    /// A user of the deployment.
    User {
        /// Enabled for Enterprise Voice ("UC enabled").
        enterprise_voice: bool,
    },
    /// A SIP identity that is no user here (a PSTN caller through a mediation server,
    /// or an application impersonating one).
    NotAUser,
    /// The From value is not a `sip:` URI with a user part.
    Unparsable,
}

/// Whose voice policy routes the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Whose {
    /// The caller's own.
    Caller,
    /// The referrer's / transferor's.
    Referrer,
    /// The emergency usages (`[voice.emergency]`) on the caller's or referrer's behalf.
    Emergency,
}

impl Whose {
    fn text(self) -> &'static str {
        match self {
            Whose::Caller => "the caller's policy",
            Whose::Referrer => "the referrer's policy",
            Whose::Emergency => "the emergency usages",
        }
    }
}

/// Why a dial plan or voice policy was the one chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Chosen {
    /// Granted to the user by name.
    UserGrant,
    /// The plan of the user's pool.
    Pool,
    /// The plan or policy of the user's site.
    Site,
    /// The global one (nothing narrower applies).
    Global,
}

impl Chosen {
    fn text(self) -> &'static str {
        match self {
            Chosen::UserGrant => "granted to the user",
            Chosen::Pool => "the user's pool",
            Chosen::Site => "the user's site",
            Chosen::Global => "nothing narrower applies",
        }
    }
}

/// Why a referrer did not decide the routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferrerIgnored {
    /// Not signed / not trusted ([field:seed-001]: a plain Referred-By fails).
    Unsigned,
    /// Not a user of the deployment (or not a SIP URI).
    NotAUser,
    /// A user not enabled for Enterprise Voice.
    NotEnterpriseVoice,
}

/// Which route a trunk step comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteRef {
    /// Whose usages found it.
    pub whose: Whose,
    /// The usage.
    pub usage: Name,
    /// The route.
    pub route: Name,
    /// The route's number pattern.
    pub pattern: Name,
}

/// One step of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// The routing transaction and what it records about the request (seed-001's first lines).
    Transaction {
        /// The From value as given.
        from: Name,
        /// What the caller is.
        caller: CallerKind,
        /// The Referred-By value, if any.
        referrer: Option<Name>,
        /// Whether the referrer is signed / trusted.
        referrer_signed: bool,
        /// AV MCU dial-out flag.
        conference_dial_out: bool,
        /// Emergency flag as given.
        emergency: bool,
    },
    /// The Request-URI and the dialled string read from it.
    RequestUri {
        /// As given.
        request_uri: Name,
        /// Dialled string, separators removed.
        dialled: Name,
    },
    /// The Request-URI is not a phone number.
    InvalidNumber {
        /// As given.
        input: Name,
        /// Why.
        error: NumberError,
    },
    /// The dialled string is an emergency dial string (or the call was flagged so).
    EmergencyCall {
        /// The dialled string.
        number: Name,
        /// True when the flag, not the dial string, made it an emergency call.
        by_flag: bool,
    },
    /// The dial plan whose rules normalize the number.
    DialPlan {
        /// Plan name.
        plan: Name,
        /// Plan scope.
        scope: Name,
        /// Why this plan.
        chosen: Chosen,
    },
    /// No dial plan applies to the caller.
    NoDialPlan,
    /// A normalization rule matched.
    Normalized {
        /// Plan name.
        plan: Name,
        /// Rule name.
        rule: Name,
        /// Rule pattern.
        pattern: Name,
        /// Number before.
        from: Name,
        /// Number after.
        to: Name,
    },
    /// No rule of the plan matched; the number stays as dialled.
    NotNormalized {
        /// Plan name.
        plan: Name,
        /// How many rules were tried.
        rules: usize,
        /// The number.
        number: Name,
    },
    /// A rule's translation produced something that is not a phone number.
    NormalizedInvalid {
        /// Rule name.
        rule: Name,
        /// What it produced.
        output: Name,
        /// Why it is not a number.
        error: NumberError,
    },
    /// Emergency calls skip the unassigned, call park and local user checks.
    EmergencySkipsChecks,
    /// Start of the unassigned (vacant) number check.
    VacantCheck {
        /// The number checked.
        number: Name,
    },
    /// The number is in an unassigned range but a user has it, so it is not vacant.
    VacantButAssigned {
        /// The range.
        range: Name,
        /// The user holding the number.
        user: Name,
    },
    /// The number is in an unassigned range.
    VacantHit {
        /// The range's name.
        range: Name,
        /// Its bounds.
        bounds: Name,
    },
    /// No unassigned range holds the number.
    NoVacantRange {
        /// The number.
        number: Name,
    },
    /// Start of the call park orbit check.
    CallParkCheck {
        /// The number checked.
        number: Name,
    },
    /// An orbit range has another prefix than the number (seed-001's log line).
    CallParkPrefixMismatch {
        /// The orbit range.
        orbit: Name,
        /// The number's prefix (blank for none).
        input_prefix: &'static str,
        /// The range's prefix (blank for none).
        range_prefix: &'static str,
    },
    /// The number is a call park orbit.
    CallParkHit {
        /// The orbit range.
        orbit: Name,
        /// The owning pool.
        pool: Name,
    },
    /// No orbit range holds the number.
    NoCallParkRange {
        /// The number.
        number: Name,
    },
    /// The number is a user's Line URI.
    LocalUser {
        /// The user.
        uri: Name,
        /// Their Line URI.
        line_uri: Name,
    },
    /// No user has the number as Line URI.
    NoLocalUser {
        /// The number.
        number: Name,
    },
    /// The referrer does not decide the routing.
    ReferrerIgnored {
        /// The referrer as given.
        uri: Name,
        /// Why.
        reason: ReferrerIgnored,
    },
    /// Routing uses the referrer's policy (seed-001's fix).
    RoutingOnReferrer {
        /// The referrer's AOR.
        uri: Name,
    },
    /// Routing uses the caller's policy.
    RoutingOnCaller {
        /// The From value.
        uri: Name,
    },
    /// The routing identity is not enabled for Enterprise Voice.
    CallerNotUcEnabled,
    /// The voice policy that applies.
    Policy {
        /// Policy name.
        policy: Name,
        /// Policy scope.
        scope: Name,
        /// Why this policy.
        chosen: Chosen,
        /// Its usages in order.
        usages: Names,
    },
    /// No voice policy applies to the routing identity.
    NoPolicy {
        /// The routing identity.
        user: Name,
    },
    /// Emergency calls use these usages instead of the policy's.
    EmergencyUsages {
        /// The usages.
        usages: Names,
    },
    /// No route serves the usage at all.
    UsageWithoutRoutes {
        /// The usage.
        usage: Name,
    },
    /// Routes serve the usage but none matches the number.
    NoRouteMatches {
        /// The usage.
        usage: Name,
        /// The number.
        number: Name,
        /// How many routes serve the usage.
        routes: usize,
    },
    /// A matched route's trunk goes into the attempt list.
    Trunk {
        /// Where it comes from.
        via: std::sync::Arc<RouteRef>,
        /// The trunk.
        trunk: Name,
        /// Its gateway.
        gateway: Name,
        /// Gateway port.
        port: u16,
        /// Transport.
        transport: Transport,
        /// Number as sent on this trunk.
        number: Name,
        /// The outbound translation rule that produced `number`, if any.
        rule: Option<Name>,
    },
    /// A matched route's trunk is disabled.
    TrunkDisabled {
        /// Where it comes from.
        via: std::sync::Arc<RouteRef>,
        /// The trunk.
        trunk: Name,
    },
    /// A matched route's trunk is already in the attempt list.
    TrunkRepeated {
        /// Where it comes from.
        via: std::sync::Arc<RouteRef>,
        /// The trunk.
        trunk: Name,
    },
    /// The call goes out through this many trunk attempts.
    Routed {
        /// Number of attempts.
        attempts: usize,
    },
    /// The call is rejected; `fix` says what setting would change that.
    Rejected {
        /// Status, code and reason.
        diag: DiagCode,
        /// What to change.
        fix: Fix,
    },
}

fn tf(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

impl Step {
    /// Appends this step's text lines to `out`.
    pub fn render(&self, out: &mut Vec<String>) {
        let line = match self {
            Step::Transaction {
                from,
                caller,
                referrer,
                referrer_signed,
                conference_dial_out,
                emergency,
            } => {
                out.push("Creating an outbound routing transaction".into());
                out.push(format!("From URI: {from}"));
                out.push(match caller {
                    CallerKind::User { enterprise_voice } => {
                        format!("From user UC enabled: {}", tf(*enterprise_voice))
                    }
                    CallerKind::NotAUser => {
                        "From user UC enabled: False (not a user of this deployment)".into()
                    }
                    CallerKind::Unparsable => {
                        "From user UC enabled: False (From is not a sip: URI with a user)".into()
                    }
                });
                out.push(match referrer {
                    Some(r) if *referrer_signed => format!("Referrer URI: {r} (signed)"),
                    Some(r) => format!("Referrer URI: {r} (not signed)"),
                    None => "Referrer URI: <null>".into(),
                });
                out.push(format!("IsAvMCUDialOut: {}", tf(*conference_dial_out)));
                format!("IsEmergencyCall = {}", tf(*emergency))
            }
            Step::RequestUri {
                request_uri,
                dialled,
            } => format!("Request URI = {request_uri}, dialled number {dialled}"),
            Step::InvalidNumber { input, error } => {
                format!("{input} is not a phone number: {error}")
            }
            Step::EmergencyCall { number, by_flag } => {
                if *by_flag {
                    format!("Emergency call (flagged) to {number}; number not normalized")
                } else {
                    format!("{number} is an emergency dial string: emergency call, not normalized")
                }
            }
            Step::DialPlan {
                plan,
                scope,
                chosen,
            } => format!(
                "Normalizing with dial plan {plan} (scope {scope}, {})",
                chosen.text()
            ),
            Step::NoDialPlan => "No dial plan applies; number not normalized".into(),
            Step::Normalized {
                plan,
                rule,
                pattern,
                from,
                to,
            } => format!(
                "Dial plan {plan}: rule {rule} matched pattern {pattern}: {from} normalized to {to}"
            ),
            Step::NotNormalized {
                plan,
                rules,
                number,
            } => format!(
                "Dial plan {plan}: none of its {rules} rule(s) matches {number}; number kept as dialled"
            ),
            Step::NormalizedInvalid {
                rule,
                output,
                error,
            } => format!("Rule {rule} produced {output}, which is not a phone number: {error}"),
            Step::EmergencySkipsChecks => {
                "Emergency call: unassigned number, call park and local user checks skipped".into()
            }
            Step::VacantCheck { number } => {
                format!("Checking for Vacant Number range. Request URI = {number}")
            }
            Step::VacantButAssigned { range, user } => format!(
                "Unassigned range {range} holds the number but it is the Line URI of {user}: not vacant"
            ),
            Step::VacantHit { range, bounds } => {
                format!("Matched Vacant Number range {range} ({bounds})")
            }
            Step::NoVacantRange { number } => {
                format!("{number} does not match any Vacant Number range")
            }
            Step::CallParkCheck { number } => {
                format!("Checking for CPS range. Request URI = {number}")
            }
            Step::CallParkPrefixMismatch {
                orbit,
                input_prefix,
                range_prefix,
            } => format!(
                "Input prefix [{input_prefix}] does not match that of range [{range_prefix}] (orbit range {orbit})"
            ),
            Step::CallParkHit { orbit, pool } => {
                format!("Matched CPS orbit range {orbit} owned by pool {pool}")
            }
            Step::NoCallParkRange { number } => format!("{number} does not match any CPS range"),
            Step::LocalUser { uri, line_uri } => {
                format!("{line_uri} is the Line URI of {uri}: routing to the user")
            }
            Step::NoLocalUser { number } => format!("No user has Line URI tel:{number}"),
            Step::ReferrerIgnored { uri, reason } => match reason {
                ReferrerIgnored::Unsigned => {
                    format!("Referrer {uri} ignored: Referred-By is not signed")
                }
                ReferrerIgnored::NotAUser => {
                    format!("Referrer {uri} ignored: not a user of this deployment")
                }
                ReferrerIgnored::NotEnterpriseVoice => {
                    format!("Referrer {uri} ignored: not UC enabled")
                }
            },
            Step::RoutingOnReferrer { uri } => {
                out.push("Applying Referrer's outbound policy".into());
                format!("Routing request based on referrer: {uri}")
            }
            Step::RoutingOnCaller { uri } => {
                out.push("Applying From URI's outbound policy".into());
                format!("Routing request based on caller: {uri}")
            }
            Step::CallerNotUcEnabled => "Caller not UC enabled.".into(),
            Step::Policy {
                policy,
                scope,
                chosen,
                usages,
            } => format!(
                "Voice policy {policy} (scope {scope}, {}): usages [{}]",
                chosen.text(),
                usages.join(", ")
            ),
            Step::NoPolicy { user } => format!("No voice policy applies to {user}"),
            Step::EmergencyUsages { usages } => {
                format!("Emergency call: routing on usages [{}]", usages.join(", "))
            }
            Step::UsageWithoutRoutes { usage } => format!("Usage {usage}: no route serves it"),
            Step::NoRouteMatches {
                usage,
                number,
                routes,
            } => format!("Usage {usage}: none of its {routes} route(s) matches {number}"),
            Step::Trunk {
                via,
                trunk,
                gateway,
                port,
                transport,
                number,
                rule,
            } => {
                let how = match rule {
                    Some(r) => format!("number translated to {number} by rule {r}"),
                    None => format!("number sent as {number} (no translation rule matched)"),
                };
                format!(
                    "Routing on {}: usage {}, route {} matched pattern {}, trunk {trunk} ({gateway}:{port} {transport}), {how}",
                    via.whose.text(),
                    via.usage,
                    via.route,
                    via.pattern
                )
            }
            Step::TrunkDisabled { via, trunk } => format!(
                "Routing on {}: usage {}, route {} matched pattern {}, trunk {trunk} is disabled: skipped",
                via.whose.text(),
                via.usage,
                via.route,
                via.pattern
            ),
            Step::TrunkRepeated { via, trunk } => format!(
                "Route {} (usage {}): trunk {trunk} already in the list: skipped",
                via.route, via.usage
            ),
            Step::Routed { attempts } => {
                format!("Sending request on its way: {attempts} trunk attempt(s) in order")
            }
            Step::Rejected { diag, fix } => {
                format!("Rejecting: {diag}. To change this: {fix}")
            }
        };
        out.push(line);
    }
}

/// The ordered steps of one decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Trace {
    /// The steps in the order they happened.
    pub steps: Vec<Step>,
}

impl Trace {
    /// The text rendering, one log line per entry.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.steps.len() + 6);
        for s in &self.steps {
            s.render(&mut out);
        }
        out
    }

    /// Whether any rendered line contains `needle` (for tests and tools).
    pub fn mentions(&self, needle: &str) -> bool {
        self.lines().iter().any(|l| l.contains(needle))
    }
}

impl std::fmt::Display for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for l in self.lines() {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}
