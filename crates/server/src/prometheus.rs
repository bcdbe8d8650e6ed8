//! `GET /metrics` on the admin listener: the front end's, the transaction layer's and the
//! relay's counters in the Prometheus text format, through the `metrics` facade and its
//! Prometheus recorder (a recorder of our own, not the process-wide one, so two servers in
//! one process do not mix their figures).
//!
//! No bearer token: Prometheus scrapers send none by default, and the counters say nothing
//! about users. The admin listener accepts loopback addresses only, so only this machine can
//! scrape; a remote Prometheus reaches it through an agent or tunnel on the machine.
//!
//! The counters live where they are counted (`frontend::Stats`, `sip_txn::Stats`,
//! `turn_proto::server::Stats`); each scrape copies their current values into the recorder
//! (`Counter::absolute`, `Gauge::set`) and renders it.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics::{Label, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::sync::{mpsc, oneshot, watch};
use turn_proto::server::Stats as RelayStats;

use crate::admin::{Command, Request, Response as AdminResponse};

/// The path Prometheus scrapes.
pub const PATH: &str = "/metrics";

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`…_total`).
    Counter,
    /// A current value.
    Gauge,
}

/// One exported series: the line of `convene ctl stats` it comes from (`name value`), the
/// metric name, its labels and its HELP text.
#[derive(Debug, Clone, Copy)]
pub struct Series {
    /// The name in `convene ctl stats` / `GET /v1/stats`.
    pub stat: &'static str,
    /// The Prometheus metric name.
    pub metric: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// One label, if any.
    pub label: Option<(&'static str, &'static str)>,
    /// HELP text.
    pub help: &'static str,
}

const fn series(
    stat: &'static str,
    metric: &'static str,
    kind: Kind,
    label: Option<(&'static str, &'static str)>,
    help: &'static str,
) -> Series {
    Series {
        stat,
        metric,
        kind,
        label,
        help,
    }
}

use Kind::{Counter, Gauge};

/// The front end's and the transaction layer's series, by their `convene ctl stats` names.
pub const SIP: &[Series] = &[
    series(
        "requests",
        "convene_sip_requests_total",
        Counter,
        None,
        "SIP requests that started a server transaction.",
    ),
    series(
        "registrations",
        "convene_sip_registrations_total",
        Counter,
        None,
        "REGISTER requests accepted.",
    ),
    series(
        "bindings",
        "convene_sip_bindings",
        Gauge,
        None,
        "Registered contacts (bindings) held now.",
    ),
    series(
        "challenges",
        "convene_sip_challenges_total",
        Counter,
        None,
        "Digest challenges sent (401/407).",
    ),
    series(
        "auth_failures",
        "convene_sip_auth_failures_total",
        Counter,
        None,
        "SIP authentication failures: wrong or forged credentials, unknown users.",
    ),
    series(
        "throttled",
        "convene_sip_throttled_total",
        Counter,
        None,
        "Requests refused because their source was throttled after failures.",
    ),
    series(
        "branches",
        "convene_sip_branches_total",
        Counter,
        None,
        "Branches started: client transactions of proxied requests.",
    ),
    series(
        "stateless_forwards",
        "convene_sip_stateless_forwards_total",
        Counter,
        None,
        "Requests forwarded statelessly (ACK for 2xx, BENOTIFY).",
    ),
    series(
        "rejections",
        "convene_sip_rejections_total",
        Counter,
        None,
        "Final responses with an error status the server itself sent.",
    ),
    series(
        "server_transactions",
        "convene_sip_transactions_total",
        Counter,
        Some(("side", "server")),
        "SIP transactions created (RFC 3261 §17), by side.",
    ),
    series(
        "client_transactions",
        "convene_sip_transactions_total",
        Counter,
        Some(("side", "client")),
        "SIP transactions created (RFC 3261 §17), by side.",
    ),
    series(
        "retransmissions",
        "convene_sip_retransmissions_total",
        Counter,
        None,
        "SIP messages sent again by the transaction layer (Timers A, E, G).",
    ),
    series(
        "absorbed_retransmissions",
        "convene_sip_absorbed_retransmissions_total",
        Counter,
        None,
        "Retransmitted messages a transaction took in without telling the core.",
    ),
    series(
        "timeouts",
        "convene_sip_transaction_timeouts_total",
        Counter,
        None,
        "Transaction timeouts (Timers B, F, H, L).",
    ),
    series(
        "transport_errors",
        "convene_sip_transport_errors_total",
        Counter,
        None,
        "Transport errors reported to transactions.",
    ),
    series(
        "dropped",
        "convene_sip_dropped_total",
        Counter,
        None,
        "Received SIP messages dropped as unusable.",
    ),
];

/// The relay's series; `stat` names the `turn_proto::server::Stats` field.
pub const RELAY: &[Series] = &[
    series(
        "allocations_created",
        "convene_turn_allocations_total",
        Counter,
        None,
        "TURN allocations created (RFC 8656 §7).",
    ),
    series(
        "allocations_active",
        "convene_turn_allocations_active",
        Gauge,
        None,
        "TURN allocations alive now.",
    ),
    series(
        "to_peer_packets",
        "convene_turn_relayed_packets_total",
        Counter,
        Some(("direction", "to_peer")),
        "Datagrams relayed, by direction.",
    ),
    series(
        "to_client_packets",
        "convene_turn_relayed_packets_total",
        Counter,
        Some(("direction", "to_client")),
        "Datagrams relayed, by direction.",
    ),
    series(
        "to_peer_bytes",
        "convene_turn_relayed_bytes_total",
        Counter,
        Some(("direction", "to_peer")),
        "Payload bytes relayed, by direction.",
    ),
    series(
        "to_client_bytes",
        "convene_turn_relayed_bytes_total",
        Counter,
        Some(("direction", "to_client")),
        "Payload bytes relayed, by direction.",
    ),
    series(
        "dropped_malformed",
        "convene_turn_dropped_total",
        Counter,
        Some(("reason", "malformed")),
        "Input the relay dropped, by reason.",
    ),
    series(
        "dropped_no_allocation",
        "convene_turn_dropped_total",
        Counter,
        Some(("reason", "no_allocation")),
        "Input the relay dropped, by reason.",
    ),
    series(
        "dropped_no_permission",
        "convene_turn_dropped_total",
        Counter,
        Some(("reason", "no_permission")),
        "Input the relay dropped, by reason.",
    ),
    series(
        "dropped_amplification",
        "convene_turn_dropped_total",
        Counter,
        Some(("reason", "amplification")),
        "Input the relay dropped, by reason.",
    ),
    series(
        "error_responses",
        "convene_turn_error_responses_total",
        Counter,
        None,
        "STUN/TURN error responses sent.",
    ),
    series(
        "auth_failures",
        "convene_turn_auth_failures_total",
        Counter,
        None,
        "TURN requests whose credentials were refused (401 to a request with MESSAGE-INTEGRITY).",
    ),
];

/// The relay's counters by the names of [`RELAY`].
pub fn relay_values(s: &RelayStats) -> [(&'static str, u64); 12] {
    [
        ("allocations_created", s.allocations_created),
        (
            "allocations_active",
            s.allocations_created.saturating_sub(s.allocations_closed),
        ),
        ("to_peer_packets", s.to_peer_packets),
        ("to_client_packets", s.to_client_packets),
        ("to_peer_bytes", s.to_peer_bytes),
        ("to_client_bytes", s.to_client_bytes),
        ("dropped_malformed", s.dropped_malformed),
        ("dropped_no_allocation", s.dropped_no_allocation),
        ("dropped_no_permission", s.dropped_no_permission),
        ("dropped_amplification", s.dropped_amplification),
        ("error_responses", s.error_responses),
        ("auth_failures", s.auth_failures),
    ]
}

/// The recorder and its renderer.
pub struct Exporter {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Exporter")
    }
}

impl Default for Exporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Exporter {
    /// A recorder with every series described (HELP).
    pub fn new() -> Exporter {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        for s in SIP.iter().chain(RELAY) {
            let help = SharedString::const_str(s.help);
            match s.kind {
                Counter => recorder.describe_counter(s.metric.into(), None, help),
                Gauge => recorder.describe_gauge(s.metric.into(), None, help),
            }
        }
        Exporter { recorder, handle }
    }

    /// Sets the series of `table` from `values` (name, value); names not in the table are
    /// left out.
    pub fn set<'a>(&self, table: &[Series], values: impl IntoIterator<Item = (&'a str, u64)>) {
        let metadata = metrics::Metadata::new(module_path!(), metrics::Level::INFO, None);
        for (name, value) in values {
            let Some(s) = table.iter().find(|s| s.stat == name) else {
                continue;
            };
            let labels: Vec<Label> = s
                .label
                .map(|(k, v)| Label::from_static_parts(k, v))
                .into_iter()
                .collect();
            let key = metrics::Key::from_parts(s.metric, labels);
            match s.kind {
                Counter => self
                    .recorder
                    .register_counter(&key, &metadata)
                    .absolute(value),
                // Prometheus values are f64; counts stay exact up to 2^53.
                Gauge => self
                    .recorder
                    .register_gauge(&key, &metadata)
                    .set(value as f64),
            }
        }
    }

    /// The Prometheus text exposition of everything set so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// What `/metrics` reads: the core loop (for the front end's counters) and the relay's
/// published counters when a relay runs.
#[derive(Debug, Clone)]
pub struct Source {
    /// The core loop's command queue.
    pub commands: mpsc::Sender<Command>,
    /// The relay's counters.
    pub relay: Option<watch::Receiver<RelayStats>>,
    /// The recorder.
    pub exporter: Arc<Exporter>,
}

/// The `/metrics` route, to merge into the admin router.
pub fn router(source: Source) -> Router {
    Router::new().route(PATH, get(scrape)).with_state(source)
}

async fn scrape(State(s): State<Source>) -> Response {
    let (reply, rx) = oneshot::channel();
    let cmd = Command {
        request: Request::Stats,
        reply,
    };
    let lines = match s.commands.send(cmd).await {
        Ok(()) => match rx.await {
            Ok(AdminResponse::Ok { lines }) => lines,
            _ => Vec::new(),
        },
        Err(_) => {
            return (StatusCode::SERVICE_UNAVAILABLE, "the server is stopping\n").into_response();
        }
    };
    // `convene ctl stats` lines: `name value`.
    let sip = lines.iter().filter_map(|l| {
        let (name, value) = l.split_once(' ')?;
        Some((name, value.trim().parse::<u64>().ok()?))
    });
    s.exporter.set(SIP, sip);
    if let Some(relay) = &s.relay {
        let stats = *relay.borrow();
        s.exporter.set(RELAY, relay_values(&stats));
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.exporter.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_help_and_type_and_counters_end_in_total() {
        let e = Exporter::new();
        e.set(SIP, SIP.iter().map(|s| (s.stat, 3)));
        let stats = RelayStats {
            allocations_created: 5,
            allocations_closed: 2,
            to_peer_bytes: 1000,
            ..RelayStats::default()
        };
        e.set(RELAY, relay_values(&stats));
        let text = e.render();
        for s in SIP.iter().chain(RELAY) {
            assert!(
                text.contains(&format!("# HELP {} {}", s.metric, s.help)),
                "{}: {text}",
                s.metric
            );
            let kind = match s.kind {
                Counter => "counter",
                Gauge => "gauge",
            };
            assert!(
                text.contains(&format!("# TYPE {} {kind}", s.metric)),
                "{text}"
            );
            assert_eq!(
                s.kind == Counter,
                s.metric.ends_with("_total"),
                "{}",
                s.metric
            );
        }
        assert!(text.contains("convene_sip_requests_total 3\n"), "{text}");
        assert!(
            text.contains("convene_sip_transactions_total{side=\"client\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("convene_turn_allocations_active 3\n"),
            "{text}"
        );
        assert!(
            text.contains("convene_turn_relayed_bytes_total{direction=\"to_peer\"} 1000\n"),
            "{text}"
        );
        // Counters only go up: a smaller value later does not lower them.
        e.set(SIP, [("requests", 1)]);
        assert!(e.render().contains("convene_sip_requests_total 3\n"));
    }

    #[test]
    fn relay_series_and_values_match() {
        let names: Vec<&str> = relay_values(&RelayStats::default())
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let table: Vec<&str> = RELAY.iter().map(|s| s.stat).collect();
        assert_eq!(names, table);
    }
}
