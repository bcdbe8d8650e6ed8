//! The per-Call-ID decision trace: what the front end received, whom it authenticated, what
//! it looked up, where it forked, what came back and why it rejected; kept in a bounded ring
//! (the oldest call is forgotten first) and shown by `convene ctl trace <call-id>`.

use std::collections::{HashMap, VecDeque};

/// One line of a call's trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What happened, in words.
    pub text: String,
}

/// The bounded ring of traces.
#[derive(Debug, Clone)]
pub struct TraceRing {
    max_calls: usize,
    max_lines: usize,
    calls: HashMap<String, VecDeque<TraceLine>>,
    order: VecDeque<String>,
}

impl TraceRing {
    /// A ring keeping the last `max_calls` Call-IDs with up to `max_lines` lines each (the
    /// oldest lines of a long call are dropped first). `max_calls == 0` keeps nothing.
    pub fn new(max_calls: usize, max_lines: usize) -> TraceRing {
        TraceRing {
            max_calls,
            max_lines: max_lines.max(1),
            calls: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether the ring keeps anything (callers skip formatting lines when it does not).
    pub fn enabled(&self) -> bool {
        self.max_calls > 0
    }

    /// Adds a line to the trace of `call_id`.
    pub fn push(&mut self, call_id: &str, at_ms: u64, text: String) {
        if self.max_calls == 0 {
            return;
        }
        let line = TraceLine { at_ms, text };
        if let Some(lines) = self.calls.get_mut(call_id) {
            if lines.len() >= self.max_lines {
                lines.pop_front();
            }
            lines.push_back(line);
            return;
        }
        while self.order.len() >= self.max_calls {
            match self.order.pop_front() {
                Some(old) => {
                    self.calls.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(call_id.to_owned());
        self.calls
            .insert(call_id.to_owned(), VecDeque::from([line]));
    }

    /// The trace of `call_id`, oldest line first.
    pub fn get(&self, call_id: &str) -> Option<Vec<TraceLine>> {
        self.calls.get(call_id).map(|l| l.iter().cloned().collect())
    }

    /// The Call-IDs kept, oldest first.
    pub fn call_ids(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// How many calls are kept.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no call is kept.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_call_is_forgotten_first() {
        let mut r = TraceRing::new(2, 10);
        r.push("a", 1, "one".into());
        r.push("b", 2, "two".into());
        r.push("a", 3, "three".into());
        r.push("c", 4, "four".into());
        assert!(r.get("a").is_none());
        assert_eq!(r.get("b").unwrap()[0].text, "two");
        assert_eq!(r.call_ids().collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn long_calls_keep_their_latest_lines() {
        let mut r = TraceRing::new(1, 2);
        for i in 0..5 {
            r.push("a", i, format!("l{i}"));
        }
        let lines: Vec<_> = r.get("a").unwrap().into_iter().map(|l| l.text).collect();
        assert_eq!(lines, ["l3", "l4"]);
    }

    #[test]
    fn a_zero_ring_keeps_nothing() {
        let mut r = TraceRing::new(0, 5);
        r.push("a", 1, "x".into());
        assert!(r.is_empty() && !r.enabled());
    }
}
