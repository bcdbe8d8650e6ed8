//! Timer values: T1, T2, T4 and the timers derived from them (RFC 3261 §17.1.1.1, Table 4 of
//! Appendix A; RFC 6026 §8.11 for Timers L and M).

use std::time::Duration;

/// The base timer values of RFC 3261 Appendix A, configurable per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    /// T1: the round-trip time estimate (RFC 3261 §17.1.1.1: 500 ms by default).
    pub t1: Duration,
    /// T2: the cap on retransmission intervals of non-INVITE requests and INVITE responses (4 s).
    pub t2: Duration,
    /// T4: the longest time a message stays in the network (5 s).
    pub t4: Duration,
    /// Timer D on unreliable transports (RFC 3261 §17.1.1.2: at least 32 s).
    pub timer_d: Duration,
    /// Timer C, the proxy's INVITE timeout (RFC 3261 §16.6 step 11: more than 3 minutes).
    pub timer_c: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            timer_c: Duration::from_secs(181),
        }
    }
}

impl TimerConfig {
    /// 64·T1: Timers B, F, H, J (unreliable), L and M (RFC 3261 Appendix A, RFC 6026 §8.11).
    pub fn t1_x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}
