//! Per-source failure rate limiting on a virtual clock (issue 5: repeated failures from one
//! source are throttled, answered 403 with ms-diagnostics 60015).
//!
//! A leaky bucket per source key: each failure adds one, the level drains by one every
//! `forgive_every_ms`; a source may fail at most `burst` times in a row, then it is throttled
//! until one more failure fits in the bucket again.
//! Successes do not drain it, so an attacker who also holds one valid account cannot reset
//! the bucket it uses to guess other users' passwords.

use diag::DiagCode;
use std::collections::HashMap;

/// The diagnostic a throttled source is answered with: 403, ms-diagnostics 60015
/// "Too many authentication failures from this address".
pub const THROTTLED: DiagCode = diag::codes::AUTH_FAILURES_THROTTLED;
use std::hash::Hash;

/// How many failures a source may make and how fast they are forgiven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// Failures a source may make in a burst before it is throttled.
    pub burst: u32,
    /// One failure is forgiven every this many milliseconds.
    pub forgive_every_ms: u64,
    /// At most this many sources are tracked; beyond it the stalest is dropped.
    pub max_sources: usize,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            burst: 10,
            forgive_every_ms: 6_000,
            max_sources: 100_000,
        }
    }
}

/// Whether a source may try to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allowed,
    /// Too many failures: refuse (403, ms-diagnostics 60015) for `retry_after_ms`.
    Throttled {
        /// Milliseconds until one more attempt is allowed.
        retry_after_ms: u64,
    },
}

/// Milli-failures: the level in thousandths so draining is exact integer arithmetic.
const UNIT: u64 = 1_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: u64,
    at_ms: u64,
}

/// The per-source failure limiter.
#[derive(Debug, Clone)]
pub struct FailureLimiter<K> {
    config: LimitConfig,
    buckets: HashMap<K, Bucket>,
}

impl<K: Hash + Eq + Clone> FailureLimiter<K> {
    /// A limiter with `config` (a zero `forgive_every_ms` is read as 1 ms).
    pub fn new(config: LimitConfig) -> Self {
        FailureLimiter {
            config: LimitConfig {
                forgive_every_ms: config.forgive_every_ms.max(1),
                max_sources: config.max_sources.max(1),
                ..config
            },
            buckets: HashMap::new(),
        }
    }

    /// How many sources are tracked.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    fn drained(&self, b: Bucket, now_ms: u64) -> u64 {
        let elapsed = now_ms.saturating_sub(b.at_ms);
        let drain =
            u128::from(elapsed) * u128::from(UNIT) / u128::from(self.config.forgive_every_ms);
        b.level
            .saturating_sub(u64::try_from(drain).unwrap_or(u64::MAX))
    }

    /// Whether `source` may attempt authentication at `now_ms`.
    pub fn check(&self, source: &K, now_ms: u64) -> Decision {
        let Some(b) = self.buckets.get(source) else {
            return Decision::Allowed;
        };
        let level = self.drained(*b, now_ms);
        let limit = u64::from(self.config.burst) * UNIT;
        // One more failure must still fit within the burst.
        let after = level.saturating_add(UNIT);
        if after <= limit {
            return Decision::Allowed;
        }
        // Time until the level has drained enough for one more failure to fit.
        let wait = u128::from(after - limit) * u128::from(self.config.forgive_every_ms);
        let retry_after_ms = u64::try_from(wait.div_ceil(u128::from(UNIT))).unwrap_or(u64::MAX);
        Decision::Throttled { retry_after_ms }
    }

    /// Counts one failed authentication from `source` at `now_ms`.
    pub fn record_failure(&mut self, source: &K, now_ms: u64) {
        let level = match self.buckets.get(source) {
            Some(b) => self.drained(*b, now_ms),
            None => {
                if self.buckets.len() >= self.config.max_sources {
                    self.evict(now_ms);
                }
                0
            }
        };
        // The level never needs to exceed burst + 1: more would only lengthen the penalty
        // without bound.
        let cap = (u64::from(self.config.burst) + 1) * UNIT;
        let b = Bucket {
            level: level.saturating_add(UNIT).min(cap),
            at_ms: now_ms,
        };
        self.buckets.insert(source.clone(), b);
    }

    /// Makes room: drops every drained bucket, and if none is drained, the stalest one.
    fn evict(&mut self, now_ms: u64) {
        let before = self.buckets.len();
        let forgive = self.config.forgive_every_ms;
        self.buckets.retain(|_, b| {
            let elapsed = now_ms.saturating_sub(b.at_ms);
            u128::from(elapsed) * u128::from(UNIT) < u128::from(b.level) * u128::from(forgive)
        });
        if self.buckets.len() < before {
            return;
        }
        let stalest = self
            .buckets
            .iter()
            .min_by_key(|(_, b)| b.at_ms)
            .map(|(k, _)| k.clone());
        if let Some(k) = stalest {
            self.buckets.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> FailureLimiter<&'static str> {
        FailureLimiter::new(LimitConfig {
            burst: 3,
            forgive_every_ms: 1_000,
            max_sources: 4,
        })
    }

    #[test]
    fn throttles_after_burst_and_forgives_over_time() {
        let mut l = limiter();
        for _ in 0..3 {
            assert_eq!(l.check(&"10.0.0.1", 0), Decision::Allowed);
            l.record_failure(&"10.0.0.1", 0);
        }
        // Level 3 = burst: throttled until one failure is forgiven (1 s).
        assert_eq!(
            l.check(&"10.0.0.1", 0),
            Decision::Throttled {
                retry_after_ms: 1_000
            }
        );
        // Another source is not affected.
        assert_eq!(l.check(&"10.0.0.2", 0), Decision::Allowed);
        assert_eq!(
            l.check(&"10.0.0.1", 999),
            Decision::Throttled { retry_after_ms: 1 }
        );
        assert_eq!(l.check(&"10.0.0.1", 1_000), Decision::Allowed);
        // One more failure fills the bucket again.
        l.record_failure(&"10.0.0.1", 1_000);
        assert_eq!(
            l.check(&"10.0.0.1", 1_000),
            Decision::Throttled {
                retry_after_ms: 1_000
            }
        );
        assert_eq!(l.check(&"10.0.0.1", 2_000), Decision::Allowed);
    }

    #[test]
    fn level_is_capped_so_penalty_is_bounded() {
        let mut l = limiter();
        for t in 0..1_000 {
            l.record_failure(&"a", t);
        }
        // Capped at burst + 1 = 4: throttled for two forgiveness periods after the last failure,
        // not 997 of them.
        assert_eq!(
            l.check(&"a", 999),
            Decision::Throttled {
                retry_after_ms: 2_000
            }
        );
        assert_eq!(l.check(&"a", 999 + 2_000), Decision::Allowed);
    }

    #[test]
    fn bounded_number_of_sources() {
        let mut l = limiter();
        for (t, k) in ["a", "b", "c", "d", "e", "f"].into_iter().enumerate() {
            l.record_failure(&k, t as u64);
        }
        assert!(l.len() <= 4);
        // The stalest sources went first; the newest is still tracked.
        l.record_failure(&"f", 5);
        l.record_failure(&"f", 5);
        assert!(matches!(l.check(&"f", 5), Decision::Throttled { .. }));
        assert_eq!(l.check(&"a", 5), Decision::Allowed);
    }
}
