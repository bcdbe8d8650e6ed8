//! SRV answers and their ordering (RFC 2782 "Usage rules"): lowest priority first,
//! weighted random selection within a priority, with the randomness injected.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// One SRV answer (RFC 2782), the target as an absolute name without the final dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share within one priority.
    pub weight: u16,
    /// The port on the target.
    pub port: u16,
    /// The target host name.
    pub target: String,
}

impl SrvRecord {
    /// An SRV answer from its fields.
    pub fn new(priority: u16, weight: u16, port: u16, target: impl Into<String>) -> Self {
        Self {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }

    /// RFC 2782: a target of "." means "the service is decidedly not available at this domain".
    pub fn is_decline(&self) -> bool {
        self.target.is_empty() || self.target == "."
    }
}

impl fmt::Display for SrvRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.priority, self.weight, self.port, self.target
        )
    }
}

/// The random source for SRV weighting; inject a scripted one to make ordering deterministic.
pub trait WeightRng: Send {
    /// A number uniformly chosen in `0..=total` (RFC 2782: "between 0 and the sum … inclusive").
    fn pick(&mut self, total: u32) -> u32;
}

/// A small xorshift64* generator: good enough to spread load, not for secrets.
#[derive(Debug, Clone)]
pub struct XorShiftRng(u64);

impl XorShiftRng {
    /// A generator seeded from the process's hash randomness.
    pub fn from_entropy() -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        Self::with_seed(h.finish())
    }

    /// A generator with a fixed seed (reproducible sequences).
    pub fn with_seed(seed: u64) -> Self {
        // xorshift must not start at zero.
        Self(if seed == 0 {
            0x2545_f491_4f6c_dd1d
        } else {
            seed
        })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl WeightRng for XorShiftRng {
    fn pick(&mut self, total: u32) -> u32 {
        // Modulo bias is at most total/2^64: irrelevant for weights of 16 bits.
        let span = u64::from(total) + 1;
        u32::try_from(self.next_u64() % span).unwrap_or(total)
    }
}

/// Orders SRV answers for trying (RFC 2782 "Usage rules"): declines (".") dropped,
/// ascending priority, and within one priority a weighted random order.
pub fn order(records: Vec<SrvRecord>, rng: &mut dyn WeightRng) -> Vec<SrvRecord> {
    let mut records: Vec<SrvRecord> = records.into_iter().filter(|r| !r.is_decline()).collect();
    records.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(records.len());
    let mut rest = records.as_slice();
    while let Some(first) = rest.first() {
        let n = rest
            .iter()
            .position(|r| r.priority != first.priority)
            .unwrap_or(rest.len());
        let (group, tail) = rest.split_at(n);
        out.extend(order_group(group.to_vec(), rng));
        rest = tail;
    }
    out
}

/// RFC 2782: within one priority, "arrange all SRV RRs (that have not been ordered yet) in
/// any order, except that all those with weight 0 are placed at the beginning", sum the
/// weights, choose a number in 0..=sum and take the first record whose running sum is
/// greater than or equal to it; repeat until none are left. The "any order" is by target
/// and port, so the result depends only on the records and the random picks, not on the
/// order the DNS server listed them in.
fn order_group(mut group: Vec<SrvRecord>, rng: &mut dyn WeightRng) -> Vec<SrvRecord> {
    group.sort_by(|a, b| {
        (a.weight != 0, &a.target, a.port).cmp(&(b.weight != 0, &b.target, b.port))
    });
    let mut out = Vec::with_capacity(group.len());
    while !group.is_empty() {
        let total: u32 = group.iter().map(|r| u32::from(r.weight)).sum();
        let pick = rng.pick(total).min(total);
        let mut running = 0u32;
        let mut chosen = group.len() - 1;
        for (i, r) in group.iter().enumerate() {
            running += u32::from(r.weight);
            if running >= pick {
                chosen = i;
                break;
            }
        }
        out.push(group.remove(chosen));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays back scripted picks (clamped by `order` to the current total).
    struct Script(Vec<u32>);
    impl WeightRng for Script {
        fn pick(&mut self, _total: u32) -> u32 {
            if self.0.is_empty() {
                0
            } else {
                self.0.remove(0)
            }
        }
    }

    fn targets(v: &[SrvRecord]) -> Vec<&str> {
        v.iter().map(|r| r.target.as_str()).collect()
    }

    // RFC 2782: lowest priority first, whatever the weights.
    #[test]
    fn priority_orders_before_weight() {
        let recs = vec![
            SrvRecord::new(20, 100, 5060, "c"),
            SrvRecord::new(10, 0, 5060, "a"),
            SrvRecord::new(30, 65535, 5060, "d"),
            SrvRecord::new(10, 0, 5060, "b"),
        ];
        let got = order(recs, &mut Script(vec![]));
        assert_eq!(targets(&got), ["a", "b", "c", "d"]);
    }

    // RFC 2782 selection, table-driven: weights 0, 10, 30, 60 arranged as
    // [w0, w10, w30, w60] (weight 0 first, then by target): running sums 0, 10, 40, 100.
    #[test]
    fn weighted_selection_follows_running_sums() {
        let recs = || {
            vec![
                SrvRecord::new(1, 60, 1, "w60"),
                SrvRecord::new(1, 10, 1, "w10"),
                SrvRecord::new(1, 0, 1, "w0"),
                SrvRecord::new(1, 30, 1, "w30"),
            ]
        };
        let table: [(&[u32], [&str; 4]); 6] = [
            // 0 → w0 (0 >= 0); [w10, w30, w60]: 0 → w10; [w30, w60]: 0 → w30; w60.
            (&[0, 0, 0, 0], ["w0", "w10", "w30", "w60"]),
            // 1 → w10 (10 >= 1); [w0, w30, w60] sums 0, 30, 90: 0 → w0; [w30, w60]: 0 → w30.
            (&[1, 0, 0, 0], ["w10", "w0", "w30", "w60"]),
            // 40 → w30 (40 >= 40); [w0, w10, w60] sums 0, 10, 70: 10 → w10; [w0, w60]: 0 → w0.
            (&[40, 10, 0, 0], ["w30", "w10", "w0", "w60"]),
            // 41 → w60; [w0, w10, w30]: 0 → w0; [w10, w30]: 0 → w10; w30.
            (&[41, 0, 0, 0], ["w60", "w0", "w10", "w30"]),
            // 100 → w60; [w0, w10, w30] sums 0, 10, 40: 11 → w30; [w0, w10]: 1 → w10; w0.
            (&[100, 11, 1, 0], ["w60", "w30", "w10", "w0"]),
            // A pick beyond the total is clamped to the total: always the last of the arrangement.
            (&[500, 500, 500, 500], ["w60", "w30", "w10", "w0"]),
        ];
        for (picks, want) in table {
            let got = order(recs(), &mut Script(picks.to_vec()));
            assert_eq!(targets(&got), want, "picks {picks:?}");
        }
        // The order the server listed the records in does not matter.
        let mut reversed = recs();
        reversed.reverse();
        let got = order(reversed, &mut Script(vec![41, 0, 0, 0]));
        assert_eq!(targets(&got), ["w60", "w0", "w10", "w30"]);
    }

    // RFC 2782: a "." target declines the service; it is never a target.
    #[test]
    fn declines_are_dropped() {
        let got = order(
            vec![
                SrvRecord::new(0, 0, 0, "."),
                SrvRecord::new(5, 0, 5060, "x"),
            ],
            &mut Script(vec![]),
        );
        assert_eq!(targets(&got), ["x"]);
        assert!(order(vec![SrvRecord::new(0, 0, 0, ".")], &mut Script(vec![])).is_empty());
    }

    // RFC 2782: "larger weights SHOULD be given a proportionately higher probability".
    // Seeded, so the counts are reproducible; the bounds are ±3 percentage points.
    #[test]
    fn first_choice_frequency_matches_weights() {
        let mut rng = XorShiftRng::with_seed(42);
        let mut first = [0u32; 3];
        let runs = 20_000;
        for _ in 0..runs {
            let got = order(
                vec![
                    SrvRecord::new(0, 70, 1, "a"),
                    SrvRecord::new(0, 20, 1, "b"),
                    SrvRecord::new(0, 10, 1, "c"),
                ],
                &mut rng,
            );
            let i = match got[0].target.as_str() {
                "a" => 0,
                "b" => 1,
                _ => 2,
            };
            first[i] += 1;
        }
        let pct = |n: u32| f64::from(n) * 100.0 / f64::from(runs);
        // The RFC's 0..=sum range gives the first record one extra slot out of 101.
        assert!((pct(first[0]) - 70.3).abs() < 3.0, "{first:?}");
        assert!((pct(first[1]) - 19.8).abs() < 3.0, "{first:?}");
        assert!((pct(first[2]) - 9.9).abs() < 3.0, "{first:?}");
    }

    #[test]
    fn xorshift_stays_in_range() {
        let mut rng = XorShiftRng::with_seed(0);
        for total in [0u32, 1, 2, 7, 65535, 655_350] {
            for _ in 0..1000 {
                assert!(rng.pick(total) <= total);
            }
        }
    }
}
