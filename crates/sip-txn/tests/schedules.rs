//! Exact retransmission schedules and timeouts on a virtual clock (RFC 3261 §17.1.1.2,
//! §17.1.2.2, §17.2.1, §13.3.1.4; RFC 6026 §8.11).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use sip_txn::{Event, State, Timer, TimerConfig, TxnId};

/// Fires timers until nothing is armed; returns (ms since t0 of every transmission, the
/// descriptions of every event with their time).
fn run_out(h: &mut Harness) -> (Vec<u64>, Vec<(u64, String)>) {
    let mut sends = Vec::new();
    let mut events = Vec::new();
    let mut guard = 0;
    loop {
        let now = h.ms(h.now);
        for t in h.transmits() {
            sends.push(now);
            let _ = t;
        }
        for e in h.events() {
            events.push((now, describe_event(&e)));
        }
        guard += 1;
        assert!(guard < 1_000, "timers never stop");
        if h.fire().is_none() {
            return (sends, events);
        }
    }
}

/// Intervals between consecutive times.
fn gaps(times: &[u64]) -> Vec<u64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn timer_a_doubles_from_t1_until_timer_b() {
    // RFC 3261 §17.1.1.2: INVITE over UDP at 0, then after 0.5, 1, 2, 4, 8, 16 s; Timer B at 64·T1.
    let mut h = Harness::new();
    let id = h
        .layer
        .send_request(h.now, invite("z9hG4bKa"), peer(true))
        .unwrap();
    let (sends, events) = run_out(&mut h);
    assert_eq!(sends, vec![0, 500, 1_500, 3_500, 7_500, 15_500, 31_500]);
    assert_eq!(gaps(&sends), vec![500, 1_000, 2_000, 4_000, 8_000, 16_000]);
    assert_eq!(
        events,
        vec![
            (32_000, "Timeout B".to_string()),
            (32_000, "Terminated".to_string())
        ]
    );
    assert_eq!(h.layer.state(id), None);
}

#[test]
fn timer_a_next_interval_would_be_32_s() {
    // The seventh interval (32 s) is armed but Timer B (at 32 s) ends the transaction first.
    let mut h = Harness::new();
    let id = h
        .layer
        .send_request(h.now, invite("z9hG4bKa"), peer(true))
        .unwrap();
    for _ in 0..6 {
        h.fire();
    }
    assert_eq!(h.ms(h.now), 31_500);
    // Timer A is armed 32 s ahead (at 63.5 s), but Timer B (64·T1 = 32 s) comes first.
    let timers: Vec<(Timer, u64)> = h
        .layer
        .timers(id)
        .iter()
        .map(|(t, at)| (*t, h.ms(*at)))
        .collect();
    assert_eq!(timers, [(Timer::B, 32_000), (Timer::A, 63_500)]);
    h.fire();
    let (_, e) = h.drain();
    assert_eq!(e, ["Timeout B", "Terminated"]);
}

#[test]
fn timer_e_doubles_and_caps_at_t2_until_timer_f() {
    // RFC 3261 §17.1.2.2: intervals 0.5, 1, 2, 4, 4, 4 … s; Timer F at 64·T1 = 32 s.
    let mut h = Harness::new();
    h.layer
        .send_request(h.now, options("z9hG4bKe"), peer(true))
        .unwrap();
    let (sends, events) = run_out(&mut h);
    assert_eq!(
        gaps(&sends),
        vec![
            500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000
        ]
    );
    assert_eq!(sends.last(), Some(&31_500));
    assert_eq!(
        events,
        vec![
            (32_000, "Timeout F".to_string()),
            (32_000, "Terminated".to_string())
        ]
    );
}

#[test]
fn timer_e_is_t2_after_a_provisional() {
    // RFC 3261 §17.1.2.2: in Proceeding, Timer E fires every T2.
    let mut h = Harness::new();
    let request = options("z9hG4bKe");
    h.layer
        .send_request(h.now, request.clone(), peer(true))
        .unwrap();
    assert_eq!(h.transmits().len(), 1);
    h.fire(); // 0.5 s, next at 1.5 s
    assert_eq!(h.transmits().len(), 1);
    h.advance_to(1_000);
    h.recv(resp(&request, 100), true);
    let (later, _) = run_out(&mut h);
    let sends: Vec<u64> = [0, 500].into_iter().chain(later).collect();
    // The already-armed E fires at 1.5 s, then every 4 s until F at 32 s.
    let expected: Vec<u64> = std::iter::once(0)
        .chain(std::iter::once(500))
        .chain((0..).map(|i| 1_500 + 4_000 * i).take_while(|t| *t < 32_000))
        .collect();
    assert_eq!(sends, expected);
}

#[test]
fn timer_g_non_2xx_caps_at_t2_until_timer_h() {
    // RFC 3261 §17.2.1: 486 at 0, then after 0.5, 1, 2, 4, 4 … s; no ACK: Timer H at 32 s.
    let mut h = Harness::new();
    let request = invite("z9hG4bKg");
    let id = h.recv_new(request.clone(), true);
    h.drain();
    h.layer
        .send_response(h.now, id, resp(&request, 486))
        .unwrap();
    let (sends, events) = run_out(&mut h);
    assert_eq!(
        gaps(&sends),
        vec![
            500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000
        ]
    );
    assert_eq!(
        events,
        vec![
            (32_000, "Timeout H".to_string()),
            (32_000, "Terminated".to_string())
        ]
    );
}

#[test]
fn timer_g_2xx_retransmission_until_ack_or_timer_l() {
    // RFC 3261 §13.3.1.4 through the layer: same schedule as Timer G, over TCP too; no ACK:
    // Timer L (64·T1) reports it.
    for udp in [true, false] {
        let mut h = Harness::new();
        let request = invite("z9hG4bKg2");
        let id = h.recv_new(request.clone(), udp);
        h.drain();
        h.layer
            .send_2xx_retransmitting(h.now, id, resp(&request, 200))
            .unwrap();
        assert_eq!(h.layer.state(id), Some(State::Accepted));
        let (sends, events) = run_out(&mut h);
        assert_eq!(
            gaps(&sends),
            vec![
                500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000
            ],
            "udp={udp}"
        );
        assert_eq!(
            events,
            vec![
                (32_000, "Timeout L".to_string()),
                (32_000, "Terminated".to_string())
            ]
        );
    }
}

#[test]
fn ack_stops_2xx_retransmission() {
    let mut h = Harness::new();
    let request = invite("z9hG4bKg3");
    let id = h.recv_new(request.clone(), true);
    h.drain();
    h.layer
        .send_2xx_retransmitting(h.now, id, resp(&request, 200))
        .unwrap();
    h.fire(); // 0.5 s
    h.fire(); // 1.5 s
    h.advance_to(2_000);
    // RFC 3261 §17.1.1.3 / §13.2.2.4: the ACK for a 2xx has a new branch and the 2xx's To tag.
    h.recv(
        req("ACK", "z9hG4bKnewack", 1, "from1", Some("totag1")),
        true,
    );
    let (t, e) = h.drain();
    assert_eq!(t, ["200", "200 re", "200 re"]);
    assert_eq!(e, ["Ack matched"]);
    let (sends, events) = run_out(&mut h);
    assert!(
        sends.is_empty(),
        "no retransmission after the ACK: {sends:?}"
    );
    assert_eq!(events, vec![(32_000, "Terminated".to_string())]); // Timer L, no timeout
}

#[test]
fn wait_timers_unreliable_and_reliable() {
    // (kind, UDP wait, TCP wait): D 32 s / 0, K T4 / 0, I T4 / 0, J 64·T1 / 0 (RFC 3261 Table 4).
    for udp in [true, false] {
        // Timer D.
        let mut h = Harness::new();
        let request = invite("z9hG4bKd");
        h.layer
            .send_request(h.now, request.clone(), peer(udp))
            .unwrap();
        h.advance_to(100);
        h.recv(resp(&request, 404), udp);
        let (_, e) = run_out(&mut h);
        let d = if udp { 32_100 } else { 100 };
        assert_eq!(
            e.last(),
            Some(&(d, "Terminated".to_string())),
            "D udp={udp}"
        );

        // Timer K.
        let mut h = Harness::new();
        let request = options("z9hG4bKk");
        h.layer
            .send_request(h.now, request.clone(), peer(udp))
            .unwrap();
        h.advance_to(100);
        h.recv(resp(&request, 200), udp);
        let (_, e) = run_out(&mut h);
        let k = if udp { 5_100 } else { 100 };
        assert_eq!(
            e.last(),
            Some(&(k, "Terminated".to_string())),
            "K udp={udp}"
        );

        // Timer I.
        let mut h = Harness::new();
        let request = invite("z9hG4bKi");
        let id = h.recv_new(request.clone(), udp);
        h.layer
            .send_response(h.now, id, resp(&request, 480))
            .unwrap();
        h.advance_to(100);
        h.transmits();
        h.recv(req("ACK", "z9hG4bKi", 1, "from1", Some("totag1")), udp);
        let (sends, e) = run_out(&mut h);
        let i = if udp { 5_100 } else { 100 };
        assert!(sends.is_empty(), "Confirmed sends nothing");
        assert_eq!(
            e.last(),
            Some(&(i, "Terminated".to_string())),
            "I udp={udp}"
        );

        // Timer J.
        let mut h = Harness::new();
        let request = options("z9hG4bKj");
        let id = h.recv_new(request.clone(), udp);
        h.advance_to(100);
        h.layer
            .send_response(h.now, id, resp(&request, 200))
            .unwrap();
        let (_, e) = run_out(&mut h);
        let j = if udp { 32_100 } else { 100 };
        assert_eq!(
            e.last(),
            Some(&(j, "Terminated".to_string())),
            "J udp={udp}"
        );
    }
}

#[test]
fn timer_h_when_ack_never_arrives_over_tcp() {
    let mut h = Harness::new();
    let request = invite("z9hG4bKh");
    let id = h.recv_new(request.clone(), false);
    h.drain();
    h.layer
        .send_response(h.now, id, resp(&request, 603))
        .unwrap();
    let (sends, events) = run_out(&mut h);
    assert_eq!(sends, vec![0], "no retransmission over TCP");
    let timeouts: Vec<_> = events
        .iter()
        .filter(|(_, e)| e.starts_with("Timeout"))
        .collect();
    assert_eq!(timeouts, vec![&(32_000, "Timeout H".to_string())]);
}

#[test]
fn timers_l_and_m_are_64_t1() {
    // RFC 6026 §8.11: L and M are 64·T1 whatever the transport.
    for udp in [true, false] {
        let mut h = Harness::new();
        let request = invite("z9hG4bKm");
        let c = h
            .layer
            .send_request(h.now, request.clone(), peer(udp))
            .unwrap();
        h.recv(resp(&request, 200), udp);
        h.drain();
        let s = h.recv_new(invite("z9hG4bKl"), udp);
        h.layer
            .send_response(h.now, s, resp(&invite("z9hG4bKl"), 200))
            .unwrap();
        h.drain();
        assert_eq!(h.layer.state(c), Some(State::Accepted));
        assert_eq!(h.layer.state(s), Some(State::Accepted));
        h.advance_to(31_999);
        assert_eq!(h.layer.len(), 2);
        h.advance_to(32_000);
        assert!(h.layer.is_empty());
        let ended: Vec<TxnId> = h
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Terminated { txn } => Some(txn),
                _ => None,
            })
            .collect();
        assert_eq!(ended.len(), 2);
    }
}

#[test]
fn configured_t1_t2_t4_scale_every_timer() {
    let config = TimerConfig {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(300),
        t4: Duration::from_millis(700),
        ..TimerConfig::default()
    };
    // Timer E: 100, 200, 300, 300 …; F at 6.4 s.
    let mut h = Harness::with(config);
    h.layer
        .send_request(h.now, options("z9hG4bKcfg"), peer(true))
        .unwrap();
    let (sends, events) = run_out(&mut h);
    assert_eq!(&gaps(&sends)[..4], &[100, 200, 300, 300]);
    assert_eq!(events[0], (6_400, "Timeout F".to_string()));
    // Timer K = T4.
    let mut h = Harness::with(config);
    let request = options("z9hG4bKcfg2");
    h.layer
        .send_request(h.now, request.clone(), peer(true))
        .unwrap();
    h.recv(resp(&request, 200), true);
    assert_eq!(h.next_ms(), Some(700));
    assert_eq!(config.t1_x64(), Duration::from_millis(6_400));
    assert_eq!(TimerConfig::default().t1, Duration::from_millis(500));
    assert_eq!(TimerConfig::default().t2, Duration::from_secs(4));
    assert_eq!(TimerConfig::default().t4, Duration::from_secs(5));
}

#[test]
fn timer_c_restarts_on_provisional_and_reports() {
    // RFC 3261 §16.6 step 11, §16.7 step 2, §16.8.
    let mut h = Harness::new();
    let request = invite("z9hG4bKtc");
    let id = h
        .layer
        .send_request(h.now, request.clone(), peer(false))
        .unwrap();
    h.layer.arm_timer_c(h.now, id).unwrap();
    h.advance_to(10_000);
    h.recv(resp(&request, 180), false); // C restarts: 10 s + 181 s
    h.drain();
    assert_eq!(h.next_ms(), Some(191_000));
    h.fire();
    let (_, e) = h.drain();
    assert_eq!(e, ["TimerC true"]);
    assert_eq!(
        h.layer.state(id),
        Some(State::Proceeding),
        "the proxy core decides"
    );
    // Without a provisional response Timer B ends a Calling transaction first (32 s < 181 s).
    let mut h = Harness::new();
    let id = h
        .layer
        .send_request(h.now, invite("z9hG4bKtc2"), peer(false))
        .unwrap();
    h.layer.arm_timer_c(h.now, id).unwrap();
    let (_, events) = run_out(&mut h);
    assert_eq!(events[0], (32_000, format!("Timeout {:?}", Timer::B)));
}

#[test]
fn a_late_wakeup_sends_one_retransmission_not_a_burst() {
    let mut h = Harness::new();
    h.layer
        .send_request(h.now, options("z9hG4bKlate"), peer(true))
        .unwrap();
    h.transmits();
    // The driver oversleeps to 10 s: Timer E was due at 0.5 s.
    h.advance_to(10_000);
    let (t, e) = h.drain();
    assert_eq!(t, ["OPTIONS re"]);
    assert!(e.is_empty());
    assert_eq!(h.next_ms(), Some(11_000), "E = 2·T1 from now");
}

#[test]
fn zero_timer_values_do_not_hang() {
    let config = TimerConfig {
        t1: Duration::ZERO,
        t2: Duration::ZERO,
        t4: Duration::ZERO,
        ..TimerConfig::default()
    };
    let mut h = Harness::with(config);
    let request = invite("z9hG4bKzero");
    h.layer
        .send_request(h.now, request.clone(), peer(true))
        .unwrap();
    let s = h.recv_new(invite("z9hG4bKzero2"), true);
    h.layer
        .send_response(h.now, s, resp(&invite("z9hG4bKzero2"), 486))
        .unwrap();
    // 64·T1 = 0: Timers B and H are due at once; Timers A and G re-arm at least 1 ms ahead.
    h.advance_to(5);
    assert!(h.layer.is_empty());
}

/// The expected retransmission times (ms after t0) for a first interval `t1`, doubling, capped
/// at `cap` (if any), strictly before `end`.
fn expected_sends(t1: u64, cap: Option<u64>, end: u64) -> Vec<u64> {
    let mut out = vec![0];
    let (mut at, mut gap) = (0, t1);
    loop {
        at += gap;
        if at >= end {
            return out;
        }
        out.push(at);
        gap *= 2;
        if let Some(c) = cap {
            gap = gap.min(c);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

    /// For any T1 ≤ T2: Timer A doubles without cap until B = 64·T1; Timers E and G double up
    /// to T2 until F and H = 64·T1 (RFC 3261 §17.1.1.2, §17.1.2.2, §17.2.1).
    #[test]
    fn schedules_follow_t1_and_t2(
        t1 in 1u64..2_000,
        extra in proptest::prop_oneof![proptest::strategy::Just(0u64), 0u64..8_000],
    ) {
        let t2 = t1 + extra;
        let config = TimerConfig {
            t1: Duration::from_millis(t1),
            t2: Duration::from_millis(t2),
            ..TimerConfig::default()
        };
        let end = 64 * t1;

        let mut h = Harness::with(config);
        h.layer.send_request(h.now, invite("z9hG4bKpa"), peer(true)).unwrap();
        let (sends, events) = run_out(&mut h);
        proptest::prop_assert_eq!(sends, expected_sends(t1, None, end));
        proptest::prop_assert_eq!(&events[0], &(end, "Timeout B".to_string()));

        let mut h = Harness::with(config);
        h.layer.send_request(h.now, options("z9hG4bKpe"), peer(true)).unwrap();
        let (sends, events) = run_out(&mut h);
        proptest::prop_assert_eq!(sends, expected_sends(t1, Some(t2), end));
        proptest::prop_assert_eq!(&events[0], &(end, "Timeout F".to_string()));

        let mut h = Harness::with(config);
        let request = invite("z9hG4bKpg");
        let id = h.recv_new(request.clone(), true);
        h.transmits(); // the 100 Trying
        h.layer.send_response(h.now, id, resp(&request, 500)).unwrap();
        let (sends, events) = run_out(&mut h);
        proptest::prop_assert_eq!(sends, expected_sends(t1, Some(t2), end));
        proptest::prop_assert_eq!(&events[0], &(end, "Timeout H".to_string()));
    }
}

#[test]
fn no_retransmission_in_the_instant_of_the_timeout() {
    // T1 = T2 = 100 ms: Timer E comes due at 6.4 s together with Timer F; F wins.
    let config = TimerConfig {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(100),
        ..TimerConfig::default()
    };
    let mut h = Harness::with(config);
    h.layer
        .send_request(h.now, options("z9hG4bKtie"), peer(true))
        .unwrap();
    let (sends, events) = run_out(&mut h);
    assert_eq!(sends, (0..64).map(|k| k * 100).collect::<Vec<u64>>());
    assert_eq!(events[0], (6_400, "Timeout F".to_string()));
}
