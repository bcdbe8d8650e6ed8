//! Target failover (RFC 3263 §4.3): the next target after a timeout, a transport error or
//! a 503, with failed targets blacklisted for a while. Pure: the clock is passed in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::target::{Target, Transport};

/// Why a target is given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The transaction timed out (RFC 3263 §4.3: "a transaction timeout").
    Timeout,
    /// The transport reported an error (RFC 3263 §4.3: "a transport failure": ICMP, refused connection).
    Transport,
    /// A 503 response (RFC 3263 §4.3), with its Retry-After if any (RFC 3261 §21.5.4).
    ServiceUnavailable {
        /// The Retry-After the server gave.
        retry_after: Option<Duration>,
    },
}

/// Targets that recently failed, each until its hold expires; share one across resolutions.
#[derive(Debug, Clone)]
pub struct Blacklist {
    hold: Duration,
    until: HashMap<(Transport, SocketAddr), Instant>,
}

impl Blacklist {
    /// A blacklist that holds a failed target for `hold` (a 503's Retry-After overrides it).
    pub fn new(hold: Duration) -> Self {
        Self {
            hold,
            until: HashMap::new(),
        }
    }

    /// Blocks `target` from `now` on: for a 503's Retry-After if given, else for the hold.
    pub fn block(&mut self, target: &Target, failure: Failure, now: Instant) {
        let hold = match failure {
            Failure::ServiceUnavailable {
                retry_after: Some(d),
            } => d,
            _ => self.hold,
        };
        let until = now.checked_add(hold).unwrap_or(now);
        let slot = self
            .until
            .entry((target.transport, target.addr))
            .or_insert(until);
        // A later failure never shortens an earlier, longer hold.
        *slot = (*slot).max(until);
    }

    /// Whether `target` is blocked at `now`.
    pub fn is_blocked(&self, target: &Target, now: Instant) -> bool {
        self.until
            .get(&(target.transport, target.addr))
            .is_some_and(|until| *until > now)
    }

    /// Forgets holds that have expired at `now`.
    pub fn purge(&mut self, now: Instant) {
        self.until.retain(|_, until| *until > now);
    }

    /// How many targets are remembered (expired ones too, until purged).
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

/// The targets of one request in the order resolution gave them, tried one after another
/// (RFC 3263 §4.3), skipping blacklisted ones.
#[derive(Debug, Clone)]
pub struct Targets {
    list: Vec<Target>,
    next: usize,
    /// The index of the target last handed out.
    current: Option<usize>,
    blacklist: Blacklist,
}

impl Targets {
    /// Targets to try in order; duplicates (same transport and address) are kept once.
    pub fn new(list: Vec<Target>, blacklist: Blacklist) -> Self {
        let mut unique: Vec<Target> = Vec::with_capacity(list.len());
        for t in list {
            if !unique
                .iter()
                .any(|u| u.transport == t.transport && u.addr == t.addr)
            {
                unique.push(t);
            }
        }
        Self {
            list: unique,
            next: 0,
            current: None,
            blacklist,
        }
    }

    /// The next target not yet tried and not blocked at `now`; `None` when all are used up
    /// (RFC 3263 §4.3: then the request fails).
    pub fn next(&mut self, now: Instant) -> Option<Target> {
        while let Some(t) = self.list.get(self.next) {
            self.next += 1;
            if !self.blacklist.is_blocked(t, now) {
                self.current = Some(self.next - 1);
                return Some(t.clone());
            }
        }
        self.current = None;
        None
    }

    /// The target last handed out by [`Targets::next`], if any.
    pub fn current(&self) -> Option<&Target> {
        self.current.and_then(|i| self.list.get(i))
    }

    /// The current target failed at `now` (RFC 3263 §4.3: timeout, transport error or 503):
    /// blacklists it and returns the next target to try, `None` when none is left.
    pub fn fail_over(&mut self, failure: Failure, now: Instant) -> Option<Target> {
        if let Some(t) = self.current().cloned() {
            self.blacklist.block(&t, failure, now);
        }
        self.next(now)
    }

    /// Reports that `target` failed at `now`: it is blacklisted; call [`Targets::next`] for the
    /// one to try instead (RFC 3263 §4.3).
    pub fn failed(&mut self, target: &Target, failure: Failure, now: Instant) {
        self.blacklist.block(target, failure, now);
    }

    /// How many targets are still to be tried and not blocked at `now`.
    pub fn remaining(&self, now: Instant) -> usize {
        self.list
            .get(self.next..)
            .unwrap_or_default()
            .iter()
            .filter(|t| !self.blacklist.is_blocked(t, now))
            .count()
    }

    /// The blacklist, to inspect.
    pub fn blacklist(&self) -> &Blacklist {
        &self.blacklist
    }

    /// The blacklist, to keep for the next request.
    pub fn into_blacklist(self) -> Blacklist {
        self.blacklist
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(transport: Transport, addr: &str) -> Target {
        Target::new(transport, addr.parse().unwrap(), "h")
    }

    fn three() -> Vec<Target> {
        vec![
            t(Transport::Tls, "192.0.2.1:5061"),
            t(Transport::Tls, "192.0.2.2:5061"),
            t(Transport::Tcp, "192.0.2.3:5060"),
        ]
    }

    // RFC 3263 §4.3: on timeout or 503, the next target; then nothing left.
    #[test]
    fn walks_the_list_on_failures() {
        let t0 = Instant::now();
        let mut ts = Targets::new(three(), Blacklist::new(Duration::from_secs(30)));
        assert_eq!(ts.remaining(t0), 3);
        let a = ts.next(t0).unwrap();
        assert_eq!(a.addr.to_string(), "192.0.2.1:5061");
        ts.failed(&a, Failure::Timeout, t0 + Duration::from_secs(32));
        let b = ts.next(t0 + Duration::from_secs(32)).unwrap();
        assert_eq!(b.addr.to_string(), "192.0.2.2:5061");
        ts.failed(
            &b,
            Failure::ServiceUnavailable { retry_after: None },
            t0 + Duration::from_secs(33),
        );
        let c = ts.next(t0 + Duration::from_secs(33)).unwrap();
        assert_eq!(
            (c.transport, c.addr.to_string().as_str()),
            (Transport::Tcp, "192.0.2.3:5060")
        );
        assert_eq!(ts.next(t0 + Duration::from_secs(34)), None);
        assert_eq!(ts.blacklist().len(), 2);
    }

    // A blacklisted target is skipped by the next request until its hold expires.
    #[test]
    fn blacklist_carries_over_and_expires() {
        let t0 = Instant::now();
        let hold = Duration::from_secs(60);
        let mut ts = Targets::new(three(), Blacklist::new(hold));
        let a = ts.next(t0).unwrap();
        ts.failed(&a, Failure::Transport, t0);
        let bl = ts.into_blacklist();

        // Next request, 59 s later: the first target is still held.
        let mut ts = Targets::new(three(), bl.clone());
        assert_eq!(ts.remaining(t0 + Duration::from_secs(59)), 2);
        assert_eq!(
            ts.next(t0 + Duration::from_secs(59))
                .unwrap()
                .addr
                .to_string(),
            "192.0.2.2:5061"
        );

        // Exactly at the hold's end it is usable again.
        let mut ts = Targets::new(three(), bl.clone());
        assert_eq!(
            ts.next(t0 + hold).unwrap().addr.to_string(),
            "192.0.2.1:5061"
        );

        let mut bl = bl;
        bl.purge(t0 + Duration::from_secs(59));
        assert_eq!(bl.len(), 1);
        bl.purge(t0 + hold);
        assert!(bl.is_empty());
    }

    // RFC 3261 §21.5.4: a 503's Retry-After sets the hold; a longer hold is never shortened.
    #[test]
    fn retry_after_sets_the_hold() {
        let t0 = Instant::now();
        let list = three();
        let mut bl = Blacklist::new(Duration::from_secs(30));
        bl.block(
            &list[0],
            Failure::ServiceUnavailable {
                retry_after: Some(Duration::from_secs(300)),
            },
            t0,
        );
        assert!(bl.is_blocked(&list[0], t0 + Duration::from_secs(299)));
        assert!(!bl.is_blocked(&list[0], t0 + Duration::from_secs(300)));
        // A timeout 10 s later (30 s hold) keeps the 300 s hold.
        bl.block(&list[0], Failure::Timeout, t0 + Duration::from_secs(10));
        assert!(bl.is_blocked(&list[0], t0 + Duration::from_secs(299)));
        // The same address under another transport is a different target.
        assert!(!bl.is_blocked(&t(Transport::Tcp, "192.0.2.1:5061"), t0));
    }

    // The transaction layer's loop: send to the current target, on failure fail over.
    #[test]
    fn fail_over_blocks_the_current_target() {
        let t0 = Instant::now();
        let mut ts = Targets::new(three(), Blacklist::new(Duration::from_secs(30)));
        assert_eq!(ts.current(), None);
        assert_eq!(
            ts.fail_over(Failure::Timeout, t0).unwrap().addr.to_string(),
            "192.0.2.1:5061"
        );
        assert!(ts.blacklist().is_empty(), "nothing was current yet");
        let second = ts.fail_over(Failure::Timeout, t0).unwrap();
        assert_eq!(second.addr.to_string(), "192.0.2.2:5061");
        assert!(ts.blacklist().is_blocked(&three()[0], t0));
        assert_eq!(ts.current(), Some(&second));
        let third = ts
            .fail_over(Failure::ServiceUnavailable { retry_after: None }, t0)
            .unwrap();
        assert_eq!(third.transport, Transport::Tcp);
        assert_eq!(ts.fail_over(Failure::Transport, t0), None);
        assert_eq!(ts.current(), None);
        assert_eq!(ts.blacklist().len(), 3);
    }

    #[test]
    fn duplicates_are_tried_once_and_all_blocked_yields_nothing() {
        let t0 = Instant::now();
        let mut list = three();
        list.push(list[0].clone());
        let mut bl = Blacklist::new(Duration::from_secs(5));
        for x in &list {
            bl.block(x, Failure::Timeout, t0);
        }
        let mut ts = Targets::new(list.clone(), bl);
        assert_eq!(ts.remaining(t0), 0);
        assert_eq!(ts.next(t0 + Duration::from_secs(1)), None);

        let mut ts = Targets::new(list, Blacklist::new(Duration::from_secs(5)));
        let mut seen = Vec::new();
        while let Some(x) = ts.next(t0) {
            seen.push(x.addr);
        }
        assert_eq!(seen.len(), 3);
    }
}
