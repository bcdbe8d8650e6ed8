//! The state of one proxied request (RFC 3261 §16): its branches, what each answered, and the
//! choice of the best final response (§16.7 step 6) with challenge aggregation (step 7).

use std::collections::VecDeque;

use sip_msg::{HeaderName, Message, SipUri, Uri};
use sip_txn::TxnId;

/// Where a target's requests go: a transport address already known, or a next-hop URI whose
/// host name the I/O layer must resolve first (RFC 3263 §4).
#[derive(Debug, Clone)]
pub(crate) enum Next<P> {
    Hop(P),
    Resolve(SipUri),
}

/// Where one branch goes: a new Request-URI (or the same), Route values to put on top (a
/// binding's Path), the transport, and a label for the trace.
#[derive(Debug, Clone)]
pub(crate) struct Target<P> {
    pub(crate) uri: Option<Uri>,
    pub(crate) routes: Vec<String>,
    pub(crate) hop: Next<P>,
    /// Further addresses resolution gave for the same next hop, in the order to try them
    /// when one fails (RFC 3263 §4.3).
    pub(crate) alternates: VecDeque<P>,
    pub(crate) label: String,
}

impl<P> Target<P> {
    /// A target reached through `hop`.
    pub(crate) fn new(hop: Next<P>, uri: Option<Uri>, routes: Vec<String>, label: String) -> Self {
        Target {
            uri,
            routes,
            hop,
            alternates: VecDeque::new(),
            label,
        }
    }
}

/// Where a branch stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BranchState {
    /// Sent; nothing back yet (a CANCEL must wait for a provisional: RFC 3261 §9.1).
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived (or was synthesized: 408 on timeout, 503 on transport error).
    Done(u16),
}

/// One branch: a client transaction towards one target.
#[derive(Debug, Clone)]
pub(crate) struct Branch<P> {
    pub(crate) txn: TxnId,
    pub(crate) target: String,
    pub(crate) state: BranchState,
    /// A CANCEL was wanted while the branch was still Calling (RFC 3261 §16.10).
    pub(crate) cancel_pending: bool,
    pub(crate) cancelled: bool,
    /// The same target at its next resolved address, started if this one fails before any
    /// response or answers 503 (RFC 3263 §4.3).
    pub(crate) retry: Option<Box<Target<P>>>,
}

/// A final response a branch produced.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) status: u16,
    /// The response as received (our Via removed); `None` when synthesized by the proxy.
    pub(crate) response: Option<Message>,
    /// Why, for a response the proxy makes up (e.g. a next hop DNS could not resolve).
    pub(crate) diag: Option<diag::Diagnostic>,
}

impl Candidate {
    /// A response the proxy synthesizes (408 on timeout, 503 on transport error, 487 …).
    pub(crate) fn synthesized(status: u16) -> Self {
        Candidate {
            status,
            response: None,
            diag: None,
        }
    }

    /// A response the proxy makes up for a target it could not reach, with the reason.
    pub(crate) fn failed(d: diag::Diagnostic) -> Self {
        Candidate {
            status: d.code().status,
            response: None,
            diag: Some(d),
        }
    }
}

/// The response context of one server transaction (RFC 3261 §16.7).
#[derive(Debug, Clone)]
pub(crate) struct Context<P> {
    /// The request as received (its Via stamped); responses of our own are built from it.
    pub(crate) request: Message,
    /// The request to forward, after Route processing; each branch is built from it.
    pub(crate) fwd: Message,
    /// Where the request came from (for the Record-Route of the caller's side).
    pub(crate) from: P,
    /// Whether branches carry our Record-Route.
    pub(crate) record_route: bool,
    /// Targets still to try one after another (trunk failover), when the current branch ends
    /// with 408 or a 5xx.
    pub(crate) serial: VecDeque<Target<P>>,
    pub(crate) call_id: String,
    pub(crate) invite: bool,
    pub(crate) branches: Vec<Branch<P>>,
    pub(crate) candidates: Vec<Candidate>,
    /// Next hops being resolved (RFC 3263): the context is not done while any is.
    pub(crate) resolving: usize,
    /// A final response went upstream (for INVITE, further 2xx still follow it: §16.7 step 5).
    pub(crate) final_sent: bool,
    /// The caller cancelled (§16.10): no new branches.
    pub(crate) cancelled: bool,
}

impl<P> Context<P> {
    pub(crate) fn branch_mut(&mut self, txn: TxnId) -> Option<&mut Branch<P>> {
        self.branches.iter_mut().find(|b| b.txn == txn)
    }

    /// Whether every branch has a final response and no next hop is still being resolved.
    pub(crate) fn all_done(&self) -> bool {
        self.resolving == 0
            && self
                .branches
                .iter()
                .all(|b| matches!(b.state, BranchState::Done(_)))
    }
}

/// Which candidate wins (RFC 3261 §16.7 step 6): any 6xx; otherwise the lowest class; within
/// a class, a response that arrived beats one the proxy made up (408/503), and a lower code
/// beats a higher one only for ties on that. `None` for no candidates.
pub(crate) fn best(candidates: &[Candidate]) -> Option<usize> {
    let rank = |c: &Candidate| {
        let class = c.status / 100;
        let class_rank = if class == 6 { 0 } else { class };
        (class_rank, c.response.is_none(), c.status)
    };
    candidates
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| rank(c))
        .map(|(i, _)| i)
}

/// RFC 3261 §16.7 step 7: a 401 or 407 sent upstream carries every WWW-Authenticate and
/// Proxy-Authenticate of every 401/407 the branches received.
pub(crate) fn aggregate_challenges(chosen: &mut Message, candidates: &[Candidate], skip: usize) {
    let names = [HeaderName::WwwAuthenticate, HeaderName::ProxyAuthenticate];
    let cl = chosen.remove_all(&HeaderName::ContentLength);
    for (i, c) in candidates.iter().enumerate() {
        if i == skip || !matches!(c.status, 401 | 407) {
            continue;
        }
        let Some(r) = &c.response else { continue };
        for name in &names {
            for h in r.headers_named(name) {
                chosen.push(name.clone(), h.value_str());
            }
        }
    }
    if cl > 0 {
        chosen.push(HeaderName::ContentLength, chosen.body().len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(status: u16, received: bool) -> Candidate {
        let response = received.then(|| {
            Message::parse(
                format!(
                    "SIP/2.0 {status} X\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nWWW-Authenticate: Digest realm=\"r{status}\", nonce=\"n\"\r\nContent-Length: 0\r\n\r\n"
                )
                .into_bytes(),
            )
            .unwrap()
        });
        Candidate {
            status,
            response,
            diag: None,
        }
    }

    // RFC 3261 §16.7 step 6
    #[test]
    fn six_hundreds_beat_everything() {
        assert_eq!(best(&[c(486, true), c(603, true), c(302, true)]), Some(1));
    }

    #[test]
    fn lowest_class_wins() {
        assert_eq!(best(&[c(486, true), c(302, true), c(500, true)]), Some(1));
        assert_eq!(best(&[c(503, true), c(480, true)]), Some(1));
    }

    #[test]
    fn received_beats_synthesized_in_one_class() {
        assert_eq!(best(&[c(408, false), c(486, true)]), Some(1));
        assert_eq!(best(&[c(408, false)]), Some(0));
        assert_eq!(best(&[]), None);
    }

    // RFC 3261 §16.7 step 7
    #[test]
    fn challenges_of_every_branch_are_collected() {
        let cands = [c(401, true), c(401, true), c(486, true)];
        let mut chosen = cands[0].response.clone().unwrap();
        aggregate_challenges(&mut chosen, &cands, 0);
        assert_eq!(chosen.www_authenticate().unwrap().len(), 2);
        chosen.validate().unwrap();
    }
}
