//! The edge's decisions for one deployment: a request between two of its own domains
//! ([`Policy::internal`]), a request leaving through its edge ([`Policy::outbound`] and, once
//! the partner answered, [`Policy::relay`]), and a request arriving at its edge
//! ([`Policy::inbound`]). Each returns allow or the exact rejection, and appends typed
//! [`Step`]s to a [`Trace`].
//!
//! The rules reproduce the responses Lync and Lync Online give in field: seed-003
//! (MS-SIP.md §5.3, §5.4); where the seed is silent the choice is marked in a comment.

use std::fmt;

use diag::{Diagnostic, codes};
use serde::Serialize;

use crate::config::{
    ConferencingPolicy, EdgeConfig, ExternalAccessPolicy, SipDomain, TenantMode, VerificationLevel,
};
use crate::discovery::{Dns, SrvTarget, federation_srv_name, srv_target_in_domain};
use crate::uri::{FocusUri, SipUri};

/// A SIP response the edge (or a server behind it) answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// SIP status code.
    pub status: u16,
    /// `ms-diagnostics` values, in the order the hops added them (MS-SIP.md §1.3).
    pub diagnostics: Vec<Diagnostic>,
    /// `ms-diagnostics-public` value, if any ([MS-OCER] 2.2.1.2).
    pub public: Option<Diagnostic>,
}

impl Response {
    /// A rejection carrying one diagnostic at the code's default status.
    pub fn reject(d: Diagnostic) -> Self {
        let code = d.code();
        Self {
            status: code.status,
            public: code.header.also_public().then(|| d.clone()),
            diagnostics: vec![d],
        }
    }

    /// The ErrorIds of the private diagnostics, in order.
    pub fn codes(&self) -> Vec<u32> {
        self.diagnostics.iter().map(|d| d.code().id).collect()
    }

    /// The response as it leaves towards an external network or unauthenticated user:
    /// private diagnostics are dropped unless the admin allows them ([MS-OCER] 2.2.1).
    pub fn for_external(&self, send_private: bool) -> Self {
        Self {
            status: self.status,
            diagnostics: if send_private {
                self.diagnostics.clone()
            } else {
                Vec::new()
            },
            public: self.public.clone(),
        }
    }

    /// The RFC 3261 §21 reason phrase of the status.
    pub fn reason_phrase(&self) -> &'static str {
        reason_phrase(self.status)
    }
}

/// The RFC 3261 §21 reason phrase for a status code (Lync's wording for 504).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        421 => "Extension Required",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        484 => "Address Incomplete",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        504 => "Server time-out",
        _ => "",
    }
}

/// What a decision came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The request goes through (delivered, or forwarded and accepted).
    Allowed,
    /// The request is answered with this response.
    Rejected(Response),
}

/// How the sender of a request is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserKind {
    /// A user of a domain hosted in the same organisation.
    Internal,
    /// A user of a partner domain (or another tenant of the same hosted service).
    Federated,
    /// An anonymous user (`…@anonymous.invalid`).
    Anonymous,
}

/// How the partner edge was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PeerKind {
    /// A directly federated or discovered partner edge.
    Federated,
    /// A hosting provider (shared address space).
    HostingProvider {
        /// The provider's configured name.
        name: String,
    },
    /// A public IM provider.
    PublicProvider {
        /// The provider's configured name.
        name: String,
    },
}

/// One step of a decision, in the order taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// What the request is and which way it goes.
    Classified {
        /// From URI.
        from: String,
        /// To URI.
        to: String,
        /// Whether it is a meeting join (To is a focus URI).
        meeting_join: bool,
        /// How the sender is treated.
        sender: UserKind,
    },
    /// A user's external access policy was consulted.
    UserPolicy {
        /// The user.
        user: String,
        /// Sender or target.
        role: &'static str,
        /// Policy name (`built-in default` if none assigned and no `global`).
        policy: String,
        /// The setting consulted (`federation`, `public_im`, `remote_access`).
        setting: &'static str,
        /// Its value.
        enabled: bool,
    },
    /// A hosted tenant's federation mode was consulted.
    TenantMode {
        /// The tenant's domain.
        tenant: String,
        /// The mode.
        mode: TenantMode,
        /// The other party's domain.
        other: String,
        /// Whether `other` is in the list the mode uses (allowed or blocked).
        listed: bool,
    },
    /// An `[edge]` switch was consulted.
    EdgeSetting {
        /// The setting's key in `[edge]`.
        setting: &'static str,
        /// Its value.
        enabled: bool,
    },
    /// The domain matched a blocked entry.
    Blocked {
        /// The domain.
        domain: String,
        /// The blocked entry it falls under.
        entry: String,
    },
    /// The domain is in the allowed list.
    Allowed {
        /// The domain.
        domain: String,
        /// The configured edge FQDN, if any.
        edge_fqdn: Option<String>,
    },
    /// The domain is in neither list.
    NotListed {
        /// The domain.
        domain: String,
    },
    /// Discovery is off but hosting providers are configured: the domain is resolved to
    /// tell a hosted domain (1028) from an unfederated one (1017).
    HostedCheck {
        /// The domain.
        domain: String,
    },
    /// A DNS SRV answer was used.
    SrvLookup {
        /// The name asked.
        name: String,
        /// The answer, if any.
        answer: Option<SrvTarget>,
    },
    /// The SRV target is a configured hosting provider.
    HostingProvider {
        /// Provider name.
        name: String,
        /// Provider edge FQDN.
        fqdn: String,
        /// Its verification level.
        verification: VerificationLevel,
    },
    /// The strict DNS naming rule was checked (MS-SIP.md §5.3).
    StrictNaming {
        /// SRV target.
        target: String,
        /// Domain it must lie in.
        domain: String,
        /// Whether it does.
        inside: bool,
    },
    /// The request is forwarded to the partner's edge.
    Forward {
        /// Partner edge host.
        peer: String,
        /// Port.
        port: u16,
        /// How the partner was found.
        kind: PeerKind,
    },
    /// The partner's edge answered (or did not).
    PeerAnswered {
        /// Partner edge host.
        peer: String,
        /// Its status (`None`: no answer, connection failed).
        status: Option<u16>,
        /// How many ms-diagnostics it carried.
        diagnostics: usize,
    },
    /// The partner is not modelled; its answer is assumed to be acceptance.
    PeerNotModelled {
        /// Partner edge host.
        peer: String,
    },
    /// The server a request came from was compared with what the domain allows.
    PeerServer {
        /// The server that connected.
        peer: String,
        /// Whether it is acceptable for the From domain.
        accepted: bool,
    },
    /// Whether the target is a conference focus.
    Focus {
        /// The target.
        target: String,
        /// Whether it is a focus URI.
        is_focus: bool,
    },
    /// The organiser's conferencing policy was consulted.
    ConferencingPolicy {
        /// The organiser.
        organizer: String,
        /// Policy name.
        policy: String,
        /// Its anonymous-participants setting.
        allow_anonymous: bool,
    },
    /// Private diagnostics were removed as the response left for an external network.
    Stripped {
        /// How many `ms-diagnostics` were removed.
        removed: usize,
    },
    /// The decision is a rejection.
    Reject {
        /// SIP status.
        status: u16,
        /// The ms-diagnostics code.
        code: u32,
    },
    /// The decision is to let the request through.
    Accept {
        /// As whom the sender is admitted.
        sender: UserKind,
    },
    /// The client decided whether to fall back to an anonymous join.
    ClientFallback {
        /// The failed join's status.
        status: u16,
        /// Its ms-diagnostics codes.
        codes: Vec<u32>,
        /// The client's decision.
        decision: crate::fallback::Fallback,
    },
    /// The client looked for the organiser's edge.
    ClientLookup {
        /// Names asked, in order.
        asked: Vec<String>,
        /// Host and ports found.
        found: Option<String>,
    },
}

impl fmt::Display for UserKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UserKind::Internal => "a local user",
            UserKind::Federated => "a federated user",
            UserKind::Anonymous => "an anonymous user",
        })
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Classified {
                from,
                to,
                meeting_join,
                sender,
            } => write!(
                f,
                "{} from {from} to {to}; sender is {sender}",
                if *meeting_join {
                    "meeting join"
                } else {
                    "request"
                }
            ),
            Step::UserPolicy {
                user,
                role,
                policy,
                setting,
                enabled,
            } => write!(
                f,
                "{role} {user}: external access policy {policy:?} has {setting} {}",
                on_off(*enabled)
            ),
            Step::TenantMode {
                tenant,
                mode,
                other,
                listed,
            } => write!(
                f,
                "tenant {tenant}: federation mode {mode:?}; {other} {} in its {} list",
                if *listed { "is" } else { "is not" },
                match mode {
                    TenantMode::AllowedDomainsOnly => "allowed",
                    _ => "blocked",
                }
            ),
            Step::EdgeSetting { setting, enabled } => {
                write!(f, "[edge] {setting} = {enabled}")
            }
            Step::Blocked { domain, entry } => {
                write!(f, "{domain} is blocked (entry {entry})")
            }
            Step::Allowed { domain, edge_fqdn } => match edge_fqdn {
                Some(e) => write!(f, "{domain} is an allowed domain with edge {e}"),
                None => write!(f, "{domain} is an allowed domain"),
            },
            Step::NotListed { domain } => write!(f, "{domain} is neither allowed nor blocked"),
            Step::HostedCheck { domain } => write!(
                f,
                "hosting providers are configured: resolving {domain} to see whether a provider hosts it"
            ),
            Step::SrvLookup { name, answer } => match answer {
                Some(a) => write!(f, "DNS SRV {name} -> {a}"),
                None => write!(f, "DNS SRV {name} -> no record"),
            },
            Step::HostingProvider {
                name,
                fqdn,
                verification,
            } => write!(
                f,
                "{fqdn} is hosting provider {name} (verification {verification:?})"
            ),
            Step::StrictNaming {
                target,
                domain,
                inside,
            } => write!(
                f,
                "SRV target {target} {} inside {domain}",
                if *inside { "lies" } else { "does not lie" }
            ),
            Step::Forward { peer, port, kind } => match kind {
                PeerKind::Federated => write!(f, "forward to federated peer {peer}:{port}"),
                PeerKind::HostingProvider { name } => {
                    write!(f, "forward to hosting provider {name} at {peer}:{port}")
                }
                PeerKind::PublicProvider { name } => {
                    write!(f, "forward to public IM provider {name} at {peer}:{port}")
                }
            },
            Step::PeerAnswered {
                peer,
                status,
                diagnostics,
            } => match status {
                Some(s) => write!(f, "{peer} answered {s} with {diagnostics} ms-diagnostics"),
                None => write!(f, "{peer} did not answer"),
            },
            Step::PeerNotModelled { peer } => write!(
                f,
                "{peer} is not in the given topologies; assuming it accepts"
            ),
            Step::PeerServer { peer, accepted } => write!(
                f,
                "request came from {peer}: {}",
                if *accepted {
                    "acceptable"
                } else {
                    "not acceptable"
                }
            ),
            Step::Focus { target, is_focus } => write!(
                f,
                "{target} {} a conference focus",
                if *is_focus { "is" } else { "is not" }
            ),
            Step::ConferencingPolicy {
                organizer,
                policy,
                allow_anonymous,
            } => write!(
                f,
                "organizer {organizer}: conferencing policy {policy:?} {} anonymous participants",
                if *allow_anonymous {
                    "allows"
                } else {
                    "does not allow"
                }
            ),
            Step::Stripped { removed } => write!(
                f,
                "removed {removed} private ms-diagnostics leaving for an external network"
            ),
            Step::Reject { status, code } => {
                write!(f, "reject: {status} with ms-diagnostics {code}")
            }
            Step::Accept {
                sender: UserKind::Anonymous,
            } => write!(
                f,
                "accept as an anonymous user (the roster shows \"{}\")",
                crate::fallback::GUEST_LABEL
            ),
            Step::Accept { sender } => write!(f, "accept as {sender}"),
            Step::ClientFallback {
                status,
                codes,
                decision,
            } => write!(
                f,
                "client got {status} with ms-diagnostics {codes:?}: it {decision}"
            ),
            Step::ClientLookup { asked, found } => match found {
                Some(h) => write!(f, "client asked {} -> {h}", asked.join(", ")),
                None => write!(f, "client asked {} -> nothing", asked.join(", ")),
            },
        }
    }
}

// Lync Online tenant modes (seed-003): whether `other` is in the list the mode consults, and
// whether the tenant refuses to federate with it.
fn tenant_refuses(tenant: &crate::config::TenantFederation, other: &str) -> (bool, bool) {
    let listed = |list: &[toml::Spanned<String>]| {
        list.iter().any(|d| d.get_ref().eq_ignore_ascii_case(other))
    };
    match tenant.mode {
        TenantMode::Off => (false, true),
        TenantMode::AllowedDomainsOnly => {
            let l = listed(&tenant.allowed);
            (l, !l)
        }
        TenantMode::AllExceptBlocked => {
            let l = listed(&tenant.blocked);
            (l, l)
        }
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// A step and the server that took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceEntry {
    /// The deciding server's FQDN (or `client`).
    pub at: String,
    /// The step.
    #[serde(flatten)]
    pub step: Step,
}

/// The reasoning of a decision, top to bottom.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Trace {
    /// The steps.
    pub steps: Vec<TraceEntry>,
}

impl Trace {
    /// Appends a step taken at `at`.
    pub fn push(&mut self, at: &str, step: Step) {
        self.steps.push(TraceEntry {
            at: at.to_owned(),
            step,
        });
    }
}

/// A request as the edge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// From URI.
    pub from: SipUri,
    /// To / Request-URI.
    pub to: SipUri,
}

impl Request {
    /// The focus, if this is a meeting join (To is a focus URI).
    pub fn focus(&self) -> Option<FocusUri> {
        FocusUri::from_uri(&self.to).ok()
    }
}

/// Where an outbound request goes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Answered here.
    Reject(Response),
    /// Sent to the partner's edge.
    Forward(Forward),
}

/// An outbound request on its way to a partner edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The partner domain.
    pub domain: String,
    /// The partner's edge host.
    pub peer: String,
    /// Its port.
    pub port: u16,
    /// How it was found.
    pub kind: PeerKind,
}

/// What the partner edge did with a forwarded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerAnswer {
    /// It accepted the request.
    Accepted,
    /// It answered with a failure response (as received, after its own stripping).
    Rejected(Response),
    /// No answer: the connection failed.
    Unreachable,
}

/// A validated `[edge]` configuration with the lookups the decisions need.
#[derive(Debug, Clone)]
pub struct Policy {
    cfg: EdgeConfig,
}

const BUILT_IN: &str = "built-in default";
const GLOBAL: &str = "global";

impl Policy {
    /// Wraps a configuration validated by [`crate::config::parse_topology`].
    pub fn new(cfg: EdgeConfig) -> Self {
        Self { cfg }
    }

    /// The configuration.
    pub fn config(&self) -> &EdgeConfig {
        &self.cfg
    }

    /// This edge's FQDN (the `source` of its diagnostics).
    pub fn fqdn(&self) -> &str {
        &self.cfg.fqdn
    }

    /// The name this edge presents to partners (first external name, else its FQDN).
    pub fn presented_name(&self) -> &str {
        self.cfg
            .external_names
            .first()
            .map_or(self.cfg.fqdn.as_str(), String::as_str)
    }

    /// Whether `host` names this edge.
    pub fn answers_to(&self, host: &str) -> bool {
        self.cfg.fqdn.eq_ignore_ascii_case(host)
            || self
                .cfg
                .external_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(host))
    }

    /// The hosted SIP domain entry for `domain`.
    pub fn hosted(&self, domain: &str) -> Option<&SipDomain> {
        self.cfg
            .sip_domains
            .iter()
            .find(|d| d.domain.get_ref().eq_ignore_ascii_case(domain))
    }

    fn front_end<'a>(&'a self, d: &'a SipDomain) -> &'a str {
        d.front_end.as_deref().unwrap_or(&self.cfg.fqdn)
    }

    fn pool<'a>(&'a self, d: &'a SipDomain) -> &'a str {
        d.pool.as_deref().unwrap_or_else(|| self.front_end(d))
    }

    /// The external access policy of `user` and its name.
    pub fn external_access(&self, user: &SipUri) -> (String, ExternalAccessPolicy) {
        let assigned = self
            .assignment(user)
            .and_then(|a| a.external_access.as_ref());
        let name = assigned.map_or(GLOBAL, |n| n.get_ref().as_str());
        match self.cfg.external_access_policies.get(name) {
            Some(p) => (name.to_owned(), *p),
            None => (BUILT_IN.to_owned(), ExternalAccessPolicy::default()),
        }
    }

    /// The conferencing policy of `user` and its name.
    pub fn conferencing(&self, user: &SipUri) -> (String, ConferencingPolicy) {
        let assigned = self.assignment(user).and_then(|a| a.conferencing.as_ref());
        let name = assigned.map_or(GLOBAL, |n| n.get_ref().as_str());
        match self.cfg.conferencing_policies.get(name) {
            Some(p) => (name.to_owned(), *p),
            None => (BUILT_IN.to_owned(), ConferencingPolicy::default()),
        }
    }

    fn assignment(&self, user: &SipUri) -> Option<&crate::config::UserAssignment> {
        self.cfg.users.iter().find(|u| {
            SipUri::parse(u.uri.get_ref()).is_ok_and(|p| {
                p.user().eq_ignore_ascii_case(user.user()) && p.domain() == user.domain()
            })
        })
    }

    // A blocked entry blocks the domain and its sub-domains ("suffix" in 1064).
    /// The edge's first two gates for traffic with the `external` domain, in either direction:
    /// federation must be on, and the domain must not be blocked (1017 / 1064 as in seed 003).
    fn federation_gate(
        &self,
        trace: &mut Trace,
        edge: &str,
        external: &str,
        internal: &str,
    ) -> Option<Response> {
        trace.push(
            edge,
            Step::EdgeSetting {
                setting: "federation",
                enabled: self.cfg.federation,
            },
        );
        if !self.cfg.federation {
            // Not in the seed: Convene uses 1017 with its own summary (the code's meaning fits).
            let d = cannot_route_1017(
                edge,
                external,
                internal,
                "Cannot route between the source and destination domains because federation is not enabled",
            );
            return Some(self.reject(trace, edge, d));
        }
        let entry = self.blocked_entry(external)?;
        trace.push(
            edge,
            Step::Blocked {
                domain: external.to_owned(),
                entry: entry.clone(),
            },
        );
        let d = codes::BLOCKED_DOMAIN
            .diagnostic()
            .param("domain", external)
            .param("suffix", entry)
            .source(edge);
        Some(self.reject(trace, edge, d))
    }

    fn blocked_entry(&self, domain: &str) -> Option<String> {
        let d = domain.to_ascii_lowercase();
        self.cfg.blocked_domains.iter().find_map(|b| {
            let e = b.domain.get_ref().to_ascii_lowercase();
            (d == e || d.ends_with(&format!(".{e}"))).then_some(e)
        })
    }

    fn allowed_entry(&self, domain: &str) -> Option<&crate::config::AllowedDomain> {
        self.cfg
            .allowed_domains
            .iter()
            .find(|a| a.domain.get_ref().eq_ignore_ascii_case(domain))
    }

    fn public_provider(&self, domain: &str) -> Option<&crate::config::PublicProvider> {
        self.cfg.public_providers.iter().find(|p| {
            p.enabled
                && p.domains
                    .iter()
                    .any(|d| d.get_ref().eq_ignore_ascii_case(domain))
        })
    }

    fn hosting_provider(&self, host: &str) -> Option<&crate::config::HostingProvider> {
        self.cfg
            .hosting_providers
            .iter()
            .find(|p| p.enabled && p.edge_fqdn.eq_ignore_ascii_case(host))
    }

    fn reject(&self, trace: &mut Trace, at: &str, d: Diagnostic) -> Response {
        let r = Response::reject(d);
        trace.push(
            at,
            Step::Reject {
                status: r.status,
                code: r.codes().first().copied().unwrap_or_default(),
            },
        );
        r
    }

    fn sender_policy_step(&self, trace: &mut Trace, user: &SipUri, role: &'static str) -> bool {
        let (policy, p) = self.external_access(user);
        trace.push(
            &self.cfg.fqdn,
            Step::UserPolicy {
                user: user.addr(),
                role,
                policy,
                setting: "federation",
                enabled: p.federation,
            },
        );
        p.federation
    }

    /// The sender-side checks for a federated request from a hosted user: user policy and
    /// the sender tenant's mode. `same_service` selects the form of 27000 (see below).
    fn sender_checks(
        &self,
        req: &Request,
        trace: &mut Trace,
        same_service: bool,
    ) -> Option<Response> {
        let edge = self.cfg.fqdn.as_str();
        let from_to = |d: Diagnostic| {
            d.param("from-uri", req.from.addr())
                .param("destination", req.to.addr())
                .source(edge)
        };
        // seed-003 scenarios 3/4 "Off completely": 403 + 1002 from the service's edge.
        if !self.sender_policy_step(trace, &req.from, "sender") {
            let d = from_to(codes::FROM_NOT_AUTHORIZED_FEDERATION.diagnostic());
            return Some(self.reject(trace, edge, d));
        }
        let home = self.hosted(req.from.domain())?;
        let tenant = home.tenant.as_ref()?;
        let other = req.to.domain();
        let (is_listed, refused) = tenant_refuses(tenant, other);
        trace.push(
            edge,
            Step::TenantMode {
                tenant: home.domain.get_ref().clone(),
                mode: tenant.mode,
                other: other.to_owned(),
                listed: is_listed,
            },
        );
        if !refused {
            return None;
        }
        Some(match tenant.mode {
            TenantMode::Off => {
                let d = from_to(codes::FROM_NOT_AUTHORIZED_FEDERATION.diagnostic());
                self.reject(trace, edge, d)
            }
            // seed-003 shows two forms of 27000: towards another tenant of the same service
            // the service's edge answers with from-uri/destination (scenario 4); towards an
            // outside domain the sender's front end answers, tagged appName=OutgoingFederation
            // (scenario 3). Convene reproduces both.
            TenantMode::AllowedDomainsOnly if same_service => {
                let d = from_to(codes::TENANT_ALLOW_LIST.diagnostic());
                self.reject(trace, edge, d)
            }
            TenantMode::AllowedDomainsOnly => {
                let fe = self.front_end(home);
                let d = codes::TENANT_ALLOW_LIST
                    .diagnostic()
                    .source(fe)
                    .param("appName", "OutgoingFederation");
                self.reject(trace, fe, d)
            }
            TenantMode::AllExceptBlocked => {
                let d = from_to(codes::TENANT_BLOCK_LIST.diagnostic());
                self.reject(trace, edge, d)
            }
        })
    }

    /// The target-side checks for a federated request to a hosted user: the target tenant's
    /// mode and the target user's policy, answered by the target's front end with 403 + 4033
    /// (seed-003 scenario 4).
    fn target_checks(&self, req: &Request, trace: &mut Trace) -> Option<Response> {
        let home = self.hosted(req.to.domain())?;
        let fe = self.front_end(home).to_owned();
        let pool = self.pool(home).to_owned();
        let mut refused = false;
        if let Some(tenant) = &home.tenant {
            let other = req.from.domain();
            let (is_listed, r) = tenant_refuses(tenant, other);
            trace.push(
                &fe,
                Step::TenantMode {
                    tenant: home.domain.get_ref().clone(),
                    mode: tenant.mode,
                    other: other.to_owned(),
                    listed: is_listed,
                },
            );
            refused = r;
        }
        if !refused {
            let (policy, p) = self.external_access(&req.to);
            trace.push(
                &fe,
                Step::UserPolicy {
                    user: req.to.addr(),
                    role: "target",
                    policy,
                    setting: "federation",
                    enabled: p.federation,
                },
            );
            refused = !p.federation;
        }
        if !refused {
            return None;
        }
        let d = codes::TO_USER_NOT_AUTHORIZED_FEDERATION
            .diagnostic()
            .param("processing-cluster", pool.clone())
            .param("processing-frontend", fe.clone())
            .param("target-user-primary-pool", pool)
            .source(fe.clone());
        Some(self.reject(trace, &fe, d))
    }

    fn classify(&self, req: &Request, trace: &mut Trace, sender: UserKind) {
        trace.push(
            &self.cfg.fqdn,
            Step::Classified {
                from: req.from.to_string(),
                to: req.to.to_string(),
                meeting_join: req.focus().is_some(),
                sender,
            },
        );
    }

    /// A request between two domains hosted behind this edge. Domains of one organisation
    /// talk freely; two tenants of a hosted service federate inside the service, so both
    /// tenants' settings apply and nothing is stripped (seed-003 scenario 4).
    pub fn internal(&self, req: &Request, trace: &mut Trace) -> Outcome {
        let tenants = self
            .hosted(req.from.domain())
            .zip(self.hosted(req.to.domain()))
            .is_some_and(|(a, b)| {
                a.tenant.is_some() && b.tenant.is_some() && a.domain.get_ref() != b.domain.get_ref()
            });
        if !tenants {
            self.classify(req, trace, UserKind::Internal);
            trace.push(
                &self.cfg.fqdn,
                Step::Accept {
                    sender: UserKind::Internal,
                },
            );
            return Outcome::Allowed;
        }
        self.classify(req, trace, UserKind::Federated);
        if let Some(r) = self.sender_checks(req, trace, true) {
            return Outcome::Rejected(r);
        }
        if let Some(r) = self.target_checks(req, trace) {
            return Outcome::Rejected(r);
        }
        trace.push(
            &self.cfg.fqdn,
            Step::Accept {
                sender: UserKind::Federated,
            },
        );
        Outcome::Allowed
    }

    /// A request from a hosted user to a domain outside: may it leave, and where to?
    pub fn outbound(&self, req: &Request, dns: &Dns, trace: &mut Trace) -> Route {
        let edge = self.cfg.fqdn.clone();
        self.classify(req, trace, UserKind::Internal);
        if let Some(p) = self.public_provider(req.to.domain()) {
            return self.outbound_public_im(req, p, trace);
        }
        if let Some(r) = self.sender_checks(req, trace, false) {
            return Route::Reject(r);
        }
        let domain = req.to.domain().to_owned();
        let local = req.from.domain().to_owned();
        let cannot_route = |summary: &str| cannot_route_1017(&edge, &domain, &local, summary);
        if let Some(r) = self.federation_gate(trace, &edge, &domain, &local) {
            return Route::Reject(r);
        }
        let srv_name = federation_srv_name(&domain);
        if let Some(a) = self.allowed_entry(&domain) {
            trace.push(
                &edge,
                Step::Allowed {
                    domain: domain.clone(),
                    edge_fqdn: a.edge_fqdn.clone(),
                },
            );
            if let Some(fqdn) = &a.edge_fqdn {
                let kind = self.peer_kind(fqdn, trace);
                return Route::Forward(self.forward(
                    trace,
                    &domain,
                    fqdn,
                    crate::discovery::FEDERATION_PORT,
                    kind,
                ));
            }
            return self.via_srv(req, dns, &srv_name, trace);
        }
        trace.push(
            &edge,
            Step::NotListed {
                domain: domain.clone(),
            },
        );
        trace.push(
            &edge,
            Step::EdgeSetting {
                setting: "partner_discovery",
                enabled: self.cfg.partner_discovery,
            },
        );
        if self.cfg.partner_discovery {
            return self.via_srv(req, dns, &srv_name, trace);
        }
        // Discovery off and not allowed. With hosting providers configured the edge still
        // resolves the domain to tell "hosted but not allowed" (1028) from "not federated"
        // (1017) (seed-003 scenarios 1 and 2).
        if !self.cfg.hosting_providers.iter().any(|p| p.enabled) {
            let d = cannot_route(
                "Cannot route between the source and destination domains because partner discovery is not enabled",
            );
            return Route::Reject(self.reject(trace, &edge, d));
        }
        trace.push(
            &edge,
            Step::HostedCheck {
                domain: domain.clone(),
            },
        );
        let answer = dns.srv(&srv_name).cloned();
        trace.push(
            &edge,
            Step::SrvLookup {
                name: srv_name,
                answer: answer.clone(),
            },
        );
        if let Some(t) = answer
            && let Some(p) = self.hosting_provider(&t.host)
        {
            trace.push(
                &edge,
                Step::HostingProvider {
                    name: p.name.clone(),
                    fqdn: p.edge_fqdn.clone(),
                    verification: p.verification,
                },
            );
            let d = codes::HOSTING_PROVIDER_DOMAIN_NOT_ALLOWED
                .diagnostic()
                .param("domain", domain.clone())
                .param("fqdn1", t.to_string())
                .source(edge.clone());
            return Route::Reject(self.reject(trace, &edge, d));
        }
        let d = cannot_route(
            "Cannot route between the source and destination domains because partner discovery is not enabled",
        );
        Route::Reject(self.reject(trace, &edge, d))
    }

    // Public IM connectivity: the sender's `public_im` policy, the edge's one switch for
    // "federation and public IM connectivity", the blocked list, then the provider's edge.
    // Tenant federation modes do not apply (Lync Online has a separate public IM setting).
    fn outbound_public_im(
        &self,
        req: &Request,
        provider: &crate::config::PublicProvider,
        trace: &mut Trace,
    ) -> Route {
        let edge = self.cfg.fqdn.clone();
        let domain = req.to.domain().to_owned();
        let (policy, p) = self.external_access(&req.from);
        trace.push(
            &edge,
            Step::UserPolicy {
                user: req.from.addr(),
                role: "sender",
                policy,
                setting: "public_im",
                enabled: p.public_im,
            },
        );
        if !p.public_im {
            let d = codes::FROM_NOT_AUTHORIZED_PUBLIC_IM
                .diagnostic()
                .param("from-uri", req.from.addr())
                .param("destination", req.to.addr())
                .source(edge.clone());
            return Route::Reject(self.reject(trace, &edge, d));
        }
        trace.push(
            &edge,
            Step::EdgeSetting {
                setting: "federation",
                enabled: self.cfg.federation,
            },
        );
        if !self.cfg.federation {
            let d = codes::CANNOT_ROUTE_DOMAIN_COMBINATION
                .diagnostic()
                .param(
                    "summary",
                    "Cannot route between the source and destination domains because federation is not enabled",
                )
                .param("external-domain", domain.clone())
                .param("external-type", "domain-type-remote")
                .param("internal-domain", req.from.domain())
                .param("internal-type", "domain-type-local")
                .source(edge.clone());
            return Route::Reject(self.reject(trace, &edge, d));
        }
        if let Some(entry) = self.blocked_entry(&domain) {
            trace.push(
                &edge,
                Step::Blocked {
                    domain: domain.clone(),
                    entry: entry.clone(),
                },
            );
            let d = codes::BLOCKED_DOMAIN
                .diagnostic()
                .param("domain", domain.clone())
                .param("suffix", entry)
                .source(edge.clone());
            return Route::Reject(self.reject(trace, &edge, d));
        }
        let kind = PeerKind::PublicProvider {
            name: provider.name.clone(),
        };
        Route::Forward(self.forward(
            trace,
            &domain,
            &provider.edge_fqdn,
            crate::discovery::FEDERATION_PORT,
            kind,
        ))
    }

    /// A user signing in from outside through this edge ([MS-OCER] 4003): the edge must
    /// allow remote users and the user's policy remote access.
    pub fn remote_sign_in(&self, user: &SipUri, trace: &mut Trace) -> Outcome {
        let edge = self.cfg.fqdn.clone();
        trace.push(
            &edge,
            Step::EdgeSetting {
                setting: "remote_user_access",
                enabled: self.cfg.remote_user_access,
            },
        );
        if !self.cfg.remote_user_access {
            let d = codes::REMOTE_USER_ACCESS_DISABLED
                .diagnostic()
                .source(edge.clone());
            return Outcome::Rejected(self.reject(trace, &edge, d));
        }
        if self.hosted(user.domain()).is_none() {
            let d = codes::DESTINATION_NOT_ENABLED_FOR_SIP
                .diagnostic()
                .source(edge.clone());
            return Outcome::Rejected(self.reject(trace, &edge, d));
        }
        let (policy, p) = self.external_access(user);
        trace.push(
            &edge,
            Step::UserPolicy {
                user: user.addr(),
                role: "remote user",
                policy,
                setting: "remote_access",
                enabled: p.remote_access,
            },
        );
        if !p.remote_access {
            let d = codes::FROM_NOT_ENABLED_FOR_REMOTE_ACCESS
                .diagnostic()
                .source(edge.clone());
            return Outcome::Rejected(self.reject(trace, &edge, d));
        }
        trace.push(
            &edge,
            Step::Accept {
                sender: UserKind::Internal,
            },
        );
        Outcome::Allowed
    }

    fn peer_kind(&self, host: &str, trace: &mut Trace) -> PeerKind {
        match self.hosting_provider(host) {
            Some(p) => {
                trace.push(
                    &self.cfg.fqdn,
                    Step::HostingProvider {
                        name: p.name.clone(),
                        fqdn: p.edge_fqdn.clone(),
                        verification: p.verification,
                    },
                );
                PeerKind::HostingProvider {
                    name: p.name.clone(),
                }
            }
            None => PeerKind::Federated,
        }
    }

    fn forward(
        &self,
        trace: &mut Trace,
        domain: &str,
        peer: &str,
        port: u16,
        kind: PeerKind,
    ) -> Forward {
        let peer = peer.to_ascii_lowercase();
        trace.push(
            &self.cfg.fqdn,
            Step::Forward {
                peer: peer.clone(),
                port,
                kind: kind.clone(),
            },
        );
        Forward {
            domain: domain.to_owned(),
            peer,
            port,
            kind,
        }
    }

    // MS-SIP.md §5.3: resolve _sipfederationtls._tcp.<domain>; the target must be a hosting
    // provider or lie inside the domain.
    fn via_srv(&self, req: &Request, dns: &Dns, name: &str, trace: &mut Trace) -> Route {
        let edge = self.cfg.fqdn.clone();
        let domain = req.to.domain();
        let answer = dns.srv(name).cloned();
        trace.push(
            &edge,
            Step::SrvLookup {
                name: name.to_owned(),
                answer: answer.clone(),
            },
        );
        let Some(t) = answer else {
            let d = codes::UNABLE_TO_RESOLVE_DNS_SRV
                .diagnostic()
                .param("domain", domain)
                .source(edge.clone());
            return Route::Reject(self.reject(trace, &edge, d));
        };
        if self.hosting_provider(&t.host).is_some() {
            let kind = self.peer_kind(&t.host, trace);
            return Route::Forward(self.forward(trace, domain, &t.host, t.port, kind));
        }
        let inside = srv_target_in_domain(&t.host, domain);
        trace.push(
            &edge,
            Step::StrictNaming {
                target: t.host.clone(),
                domain: domain.to_owned(),
                inside,
            },
        );
        if !inside {
            let d = codes::NO_MATCH_FOR_DOMAIN_IN_SRV
                .diagnostic()
                .param("domain", domain)
                .param("fqdn1", t.to_string())
                .source(edge.clone());
            return Route::Reject(self.reject(trace, &edge, d));
        }
        Route::Forward(self.forward(trace, domain, &t.host, t.port, PeerKind::Federated))
    }

    /// The partner answered a forwarded request: what this edge tells its user.
    ///
    /// A failure without diagnostics is wrapped in 1034 (federated peer) or 1036 (hosting
    /// provider) with `Domain`/`PeerServer` (seed-003). The status becomes 504, as in all
    /// eight seed-003 cells; a 404 stays 404, as in the libsipe trace (MS-SIP.md §1.5).
    pub fn relay(&self, fwd: &Forward, answer: &PeerAnswer, trace: &mut Trace) -> Outcome {
        let edge = self.cfg.fqdn.as_str();
        match answer {
            PeerAnswer::Accepted => {
                trace.push(
                    edge,
                    Step::PeerAnswered {
                        peer: fwd.peer.clone(),
                        status: Some(200),
                        diagnostics: 0,
                    },
                );
                Outcome::Allowed
            }
            PeerAnswer::Unreachable => {
                trace.push(
                    edge,
                    Step::PeerAnswered {
                        peer: fwd.peer.clone(),
                        status: None,
                        diagnostics: 0,
                    },
                );
                let d = codes::CANNOT_ROUTE_TO_DESTINATION_DOMAIN
                    .diagnostic()
                    .param("domain", fwd.domain.clone())
                    .param("PeerServer", fwd.peer.clone())
                    .source(edge);
                Outcome::Rejected(self.reject(trace, edge, d))
            }
            PeerAnswer::Rejected(r) => {
                trace.push(
                    edge,
                    Step::PeerAnswered {
                        peer: fwd.peer.clone(),
                        status: Some(r.status),
                        diagnostics: r.diagnostics.len(),
                    },
                );
                if !r.diagnostics.is_empty() {
                    return Outcome::Rejected(r.clone());
                }
                let code = match fwd.kind {
                    PeerKind::Federated | PeerKind::PublicProvider { .. } => {
                        &codes::FEDERATED_PEER_NO_DIAGNOSTICS
                    }
                    PeerKind::HostingProvider { .. } => {
                        &codes::SHARED_ADDRESS_SPACE_PEER_NO_DIAGNOSTICS
                    }
                };
                let d = code
                    .diagnostic()
                    .param("Domain", fwd.domain.clone())
                    .param("PeerServer", fwd.peer.clone())
                    .source(edge);
                let mut out = Response::reject(d);
                if r.status == 404 {
                    out.status = 404;
                }
                out.public = r.public.clone();
                trace.push(
                    edge,
                    Step::Reject {
                        status: out.status,
                        code: code.id,
                    },
                );
                Outcome::Rejected(out)
            }
        }
    }

    /// A request arriving at this edge from outside, connected from `peer_server` (a partner
    /// edge; ignored for anonymous users, who connect as clients). The returned response is
    /// what this deployment generates; [`Policy::external_view`] gives what leaves the edge.
    pub fn inbound(
        &self,
        req: &Request,
        peer_server: &str,
        dns: &Dns,
        trace: &mut Trace,
    ) -> Outcome {
        if req.from.is_anonymous() {
            return self.inbound_anonymous(req, trace);
        }
        let edge = self.cfg.fqdn.clone();
        self.classify(req, trace, UserKind::Federated);
        let from_domain = req.from.domain().to_owned();
        let local = req.to.domain().to_owned();
        let cannot_route = |summary: &str| cannot_route_1017(&edge, &from_domain, &local, summary);
        if let Some(r) = self.federation_gate(trace, &edge, &from_domain, &local) {
            return Outcome::Rejected(r);
        }
        let peer = peer_server.to_ascii_lowercase();
        if let Some(a) = self.allowed_entry(&from_domain) {
            trace.push(
                &edge,
                Step::Allowed {
                    domain: from_domain.clone(),
                    edge_fqdn: a.edge_fqdn.clone(),
                },
            );
            if let Some(expected) = &a.edge_fqdn {
                let ok = expected.eq_ignore_ascii_case(&peer);
                trace.push(
                    &edge,
                    Step::PeerServer {
                        peer: peer.clone(),
                        accepted: ok,
                    },
                );
                if !ok {
                    let d = codes::PEER_NOT_CONFIGURED_EDGE
                        .diagnostic()
                        .param("domain", from_domain.clone())
                        .param("PeerServer", peer.clone())
                        .param("expected", expected.clone())
                        .source(edge.clone());
                    return Outcome::Rejected(self.reject(trace, &edge, d));
                }
            }
        } else {
            trace.push(
                &edge,
                Step::NotListed {
                    domain: from_domain.clone(),
                },
            );
            trace.push(
                &edge,
                Step::EdgeSetting {
                    setting: "partner_discovery",
                    enabled: self.cfg.partner_discovery,
                },
            );
            if !self.cfg.partner_discovery {
                let d = cannot_route(
                    "Cannot route between the source and destination domains because partner discovery is not enabled",
                );
                return Outcome::Rejected(self.reject(trace, &edge, d));
            }
            // MS-SIP.md §5.3 (inbound): the From domain's federation SRV record must name the
            // server that connected.
            let name = federation_srv_name(&from_domain);
            let answer = dns.srv(&name).cloned();
            trace.push(
                &edge,
                Step::SrvLookup {
                    name,
                    answer: answer.clone(),
                },
            );
            let Some(t) = answer else {
                let d = codes::UNABLE_TO_RESOLVE_DNS_SRV
                    .diagnostic()
                    .param("domain", from_domain.clone())
                    .source(edge.clone());
                return Outcome::Rejected(self.reject(trace, &edge, d));
            };
            let ok = t.host == peer;
            if ok {
                let _ = self.peer_kind(&peer, trace);
            }
            trace.push(
                &edge,
                Step::PeerServer {
                    peer: peer.clone(),
                    accepted: ok,
                },
            );
            if !ok {
                let d = codes::NO_MATCH_FOR_DOMAIN_IN_SRV
                    .diagnostic()
                    .param("domain", from_domain.clone())
                    .param("fqdn1", t.to_string())
                    .source(edge.clone());
                return Outcome::Rejected(self.reject(trace, &edge, d));
            }
        }
        if let Some(r) = self.target_checks(req, trace) {
            return Outcome::Rejected(r);
        }
        trace.push(
            &edge,
            Step::Accept {
                sender: UserKind::Federated,
            },
        );
        Outcome::Allowed
    }

    // [MS-SIPAE] 3.2.4.3: anonymous users may only reach a conference focus; the edge must
    // allow remote and anonymous access, and the organiser's policy anonymous participants.
    fn inbound_anonymous(&self, req: &Request, trace: &mut Trace) -> Outcome {
        let edge = self.cfg.fqdn.clone();
        self.classify(req, trace, UserKind::Anonymous);
        for (setting, enabled, code) in [
            (
                "remote_user_access",
                self.cfg.remote_user_access,
                &codes::REMOTE_USER_ACCESS_DISABLED,
            ),
            (
                "anonymous_user_access",
                self.cfg.anonymous_user_access,
                &codes::ANONYMOUS_ACCESS_DISABLED,
            ),
        ] {
            trace.push(&edge, Step::EdgeSetting { setting, enabled });
            if !enabled {
                let d = code.diagnostic().source(edge.clone());
                return Outcome::Rejected(self.reject(trace, &edge, d));
            }
        }
        let focus = req.focus();
        trace.push(
            &edge,
            Step::Focus {
                target: req.to.to_string(),
                is_focus: focus.is_some(),
            },
        );
        let Some(focus) = focus else {
            let d = codes::ANONYMOUS_TARGET_NOT_FOCUS
                .diagnostic()
                .param("destination", req.to.addr())
                .source(edge.clone());
            return Outcome::Rejected(self.reject(trace, &edge, d));
        };
        let organizer = focus.organizer();
        if self.hosted(organizer.domain()).is_none() {
            let d = codes::USER_DOES_NOT_EXIST
                .diagnostic()
                .param("TargetUri", organizer.addr())
                .source(edge.clone());
            return Outcome::Rejected(self.reject(trace, &edge, d));
        }
        let (policy, p) = self.conferencing(organizer);
        trace.push(
            &edge,
            Step::ConferencingPolicy {
                organizer: organizer.addr(),
                policy,
                allow_anonymous: p.allow_anonymous_participants,
            },
        );
        if !p.allow_anonymous_participants {
            let d = codes::ANONYMOUS_NOT_ALLOWED_BY_ORGANIZER
                .diagnostic()
                .param("organizer", organizer.addr())
                .source(edge.clone());
            return Outcome::Rejected(self.reject(trace, &edge, d));
        }
        trace.push(
            &edge,
            Step::Accept {
                sender: UserKind::Anonymous,
            },
        );
        Outcome::Allowed
    }

    /// The response as it leaves this edge for a partner or an anonymous user.
    pub fn external_view(&self, r: &Response, trace: &mut Trace) -> Response {
        let out = r.for_external(self.cfg.diagnostics_to_external_networks);
        let removed = r.diagnostics.len() - out.diagnostics.len();
        if removed > 0 {
            trace.push(&self.cfg.fqdn, Step::Stripped { removed });
        }
        out
    }
}

/// 1017 "Cannot route From and To domains in this combination" with the parameters Lync
/// sends (field article 003): the summary, the external and internal domains and their types.
fn cannot_route_1017(edge: &str, external: &str, internal: &str, summary: &str) -> Diagnostic {
    codes::CANNOT_ROUTE_DOMAIN_COMBINATION
        .diagnostic()
        .param("summary", summary)
        .param("external-domain", external)
        .param("external-type", "domain-type-remote")
        .param("internal-domain", internal)
        .param("internal-type", "domain-type-local")
        .source(edge)
}
