//! A set of deployments and the DNS between them: follows one request from its sender's
//! home through the edges it crosses, and a whole client meeting join (federated attempt,
//! client fallback, anonymous attempt). Pure: the "network" is the deployments' decision
//! functions called in order.

use serde::Serialize;

use crate::decide::{Outcome, PeerAnswer, Policy, Request, Response, Route, Step, Trace};
use crate::discovery::{ClientTarget, Dns, anonymous_join_target, federation_srv_name};
use crate::fallback::{self, Fallback};
use crate::uri::{FocusUri, SipUri};

/// Deployments (each one `[edge]`) and the public DNS.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// The deployments.
    pub deployments: Vec<Policy>,
    /// DNS as every party sees it.
    pub dns: Dns,
}

/// A request's fate and the reasoning behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allowed, or the response the sender's client receives.
    pub outcome: Outcome,
    /// Every step, top to bottom.
    pub trace: Trace,
}

impl Decision {
    /// The status the client sees (200 when allowed).
    pub fn status(&self) -> u16 {
        match &self.outcome {
            Outcome::Allowed => 200,
            Outcome::Rejected(r) => r.status,
        }
    }

    /// The response, if rejected.
    pub fn response(&self) -> Option<&Response> {
        match &self.outcome {
            Outcome::Allowed => None,
            Outcome::Rejected(r) => Some(r),
        }
    }
}

/// A client's meeting join, end to end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinReport {
    /// The join with the user's own identity.
    pub federated: Decision,
    /// The client's fallback decision, when the federated join failed.
    pub fallback: Option<Fallback>,
    /// Where the client sent the anonymous join.
    pub anonymous_target: Option<ClientTarget>,
    /// The anonymous join: made after a fallback, or evaluated when the federated join worked;
    /// `None` when the client shows the error without falling back.
    pub anonymous: Option<Decision>,
}

/// The yes/no summary of a join, as seed-003's tables state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct JoinSummary {
    /// "Federated join works".
    pub federated_join: bool,
    /// "Anonymous join works": the anonymous join is (or would be) admitted.
    pub anonymous_join: bool,
}

impl JoinReport {
    /// Summarises the join.
    pub fn summary(&self) -> JoinSummary {
        JoinSummary {
            federated_join: self.federated.outcome == Outcome::Allowed,
            anonymous_join: self
                .anonymous
                .as_ref()
                .is_some_and(|a| a.outcome == Outcome::Allowed),
        }
    }
}

impl World {
    /// A world of `deployments` and `dns`.
    pub fn new(deployments: Vec<Policy>, dns: Dns) -> Self {
        Self { deployments, dns }
    }

    fn home_of(&self, domain: &str) -> Option<&Policy> {
        self.deployments.iter().find(|p| p.hosted(domain).is_some())
    }

    fn by_host(&self, host: &str) -> Option<&Policy> {
        self.deployments.iter().find(|p| p.answers_to(host))
    }

    /// Follows one request from `from`'s client to `to`.
    pub fn request(&self, from: &SipUri, to: &SipUri) -> Decision {
        let mut trace = Trace::default();
        let req = Request {
            from: from.clone(),
            to: to.clone(),
        };
        let outcome = self.route(&req, &mut trace);
        Decision { outcome, trace }
    }

    fn route(&self, req: &Request, trace: &mut Trace) -> Outcome {
        if req.from.is_anonymous() {
            let organizer_domain = req.focus().map_or_else(
                || req.to.domain().to_owned(),
                |f| f.organizer().domain().to_owned(),
            );
            let target = self.client_lookup(&organizer_domain, trace);
            return self.anonymous_request(req, target, trace);
        }
        let target_home = self.home_of(req.to.domain());
        let Some(home) = self.home_of(req.from.domain()) else {
            // The sender's organisation is not modelled: its edge connects from the host its
            // federation SRV record names (unknown without one).
            let Some(target) = target_home else {
                return self.unknown(req, trace);
            };
            let peer = self
                .dns
                .srv(&federation_srv_name(req.from.domain()))
                .map_or_else(|| "(unknown server)".to_owned(), |t| t.host.clone());
            return target.inbound(req, &peer, &self.dns, trace);
        };
        if home.hosted(req.to.domain()).is_some() {
            return home.internal(req, trace);
        }
        let fwd = match home.outbound(req, &self.dns, trace) {
            Route::Reject(r) => return Outcome::Rejected(r),
            Route::Forward(f) => f,
        };
        let answer = match self.by_host(&fwd.peer) {
            None => {
                trace.push(
                    home.fqdn(),
                    Step::PeerNotModelled {
                        peer: fwd.peer.clone(),
                    },
                );
                PeerAnswer::Accepted
            }
            Some(peer) => match peer.inbound(req, home.presented_name(), &self.dns, trace) {
                Outcome::Allowed => PeerAnswer::Accepted,
                Outcome::Rejected(r) => PeerAnswer::Rejected(peer.external_view(&r, trace)),
            },
        };
        home.relay(&fwd, &answer, trace)
    }

    fn unknown(&self, req: &Request, trace: &mut Trace) -> Outcome {
        trace.push(
            "client",
            Step::PeerNotModelled {
                peer: format!("{} and {}", req.from.domain(), req.to.domain()),
            },
        );
        Outcome::Allowed
    }

    // The client's DNS order for the organiser's edge (seed-003).
    fn client_lookup(&self, domain: &str, trace: &mut Trace) -> Option<ClientTarget> {
        let (asked, t) = anonymous_join_target(domain, &self.dns);
        trace.push(
            "client",
            Step::ClientLookup {
                asked: asked.iter().map(ToString::to_string).collect(),
                found: t
                    .as_ref()
                    .map(|t| format!("{} ports {:?}", t.host, t.ports)),
            },
        );
        t
    }

    // An anonymous client reaches the organiser's edge directly (seed-003).
    fn anonymous_request(
        &self,
        req: &Request,
        target: Option<ClientTarget>,
        trace: &mut Trace,
    ) -> Outcome {
        let Some(edge) = target.as_ref().and_then(|t| self.by_host(&t.host)) else {
            // Nothing answers for the organiser's domain: the client cannot connect.
            let r = Response {
                status: 408,
                diagnostics: Vec::new(),
                public: None,
            };
            trace.push(
                "client",
                Step::PeerAnswered {
                    peer: target.map_or_else(|| req.to.domain().to_owned(), |t| t.host),
                    status: None,
                    diagnostics: 0,
                },
            );
            return Outcome::Rejected(r);
        };
        match edge.inbound(req, "", &self.dns, trace) {
            Outcome::Allowed => Outcome::Allowed,
            Outcome::Rejected(r) => Outcome::Rejected(edge.external_view(&r, trace)),
        }
    }

    /// A client meeting join: the federated attempt, then the anonymous attempt as
    /// `sip:<guid>@anonymous.invalid`: made when the client falls back, and also evaluated
    /// ("would an anonymous join be admitted?") when the federated join works, as seed-003's
    /// tables state both for every cell.
    pub fn join(&self, attendee: &SipUri, focus: &FocusUri, guid: &str) -> JoinReport {
        let federated = self.request(attendee, &focus.to_uri());
        let mut trace = Trace::default();
        let fallback = federated.response().map(|failed| {
            let mut codes = failed.codes();
            codes.extend(failed.public.iter().map(|d| d.code().id));
            let decision = fallback::decide(failed.status, &codes);
            trace.push(
                "client",
                Step::ClientFallback {
                    status: failed.status,
                    codes,
                    decision,
                },
            );
            decision
        });
        if fallback.is_some_and(|f| !f.falls_back()) {
            return JoinReport {
                federated,
                fallback,
                anonymous_target: None,
                anonymous: None,
            };
        }
        let target = self.client_lookup(focus.organizer().domain(), &mut trace);
        let req = Request {
            from: fallback::anonymous_identity(guid),
            to: focus.to_uri(),
        };
        let outcome = self.anonymous_request(&req, target.clone(), &mut trace);
        JoinReport {
            federated,
            fallback,
            anonymous_target: target,
            anonymous: Some(Decision { outcome, trace }),
        }
    }
}
