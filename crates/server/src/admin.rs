//! The local admin API: HTTP/1.1 with JSON on a loopback address, every request carrying the
//! bearer token kept in the data directory (`admin.token`, mode 0600: whoever may read the data
//! directory may administer the server). The address is written to `admin.json` there, so
//! `convene ctl --data DIR …` finds the running server. The API is described by an OpenAPI
//! document served at `/v1/openapi.json` (docs/admin-api.json in the repository).
//!
//! The handlers do not touch the server's state: each hands a [`Command`] to the core loop,
//! which owns the front end, and returns its answer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// Where the running server says its admin API listens (in the data directory).
pub const ENDPOINT_FILE: &str = "admin.json";
/// The bearer token (in the data directory, mode 0600).
pub const TOKEN_FILE: &str = "admin.token";
/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("../../../docs/admin-api.json");

/// Every route: method and path template, as the OpenAPI document lists them.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/openapi.json"),
    ("get", "/v1/calls"),
    ("get", "/v1/calls/{call_id}/trace"),
    ("put", "/v1/users/{aor}"),
    ("delete", "/v1/users/{aor}"),
    ("get", "/v1/users/{aor}/bindings"),
    ("post", "/v1/flush"),
    ("get", "/v1/users"),
    ("get", "/v1/stats"),
    ("get", "/v1/static-routes"),
    ("post", "/v1/static-routes"),
    ("delete", "/v1/static-routes/{match_uri}"),
    ("get", "/v1/trusted-app-pools"),
    ("post", "/v1/trusted-app-pools"),
    ("get", "/v1/trusted-apps"),
    ("post", "/v1/trusted-apps"),
    ("get", crate::prometheus::PATH),
];

/// What an admin client asks, as the core loop sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Request {
    /// The decision trace of a Call-ID (or of `tls:<address>` for failed handshakes).
    Trace {
        /// The key.
        call_id: String,
    },
    /// The keys the trace ring keeps.
    Calls,
    /// Adds a user or sets a user's password (only HA1 values are kept).
    SetUser {
        /// `sip:user@domain`.
        aor: String,
        /// The new password.
        password: String,
        /// Refuse if the user exists (`Some(false)`, add) or if it does not (`Some(true)`).
        must_exist: Option<bool>,
    },
    /// Removes a user added at run time.
    RemoveUser {
        /// `sip:user@domain`.
        aor: String,
    },
    /// The live bindings of an AOR.
    Bindings {
        /// `sip:user@domain`.
        aor: String,
    },
    /// Writes changed bindings to the store now (the server does so when it stops).
    Flush,
    /// Every user.
    Users,
    /// The server's counters.
    Stats,
    /// A topology listing or change.
    Topology(TopologyChange),
}

/// Run-time topology verbs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum TopologyChange {
    /// Every static route.
    ListStaticRoutes,
    /// Adds a static route.
    AddStaticRoute(crate::live::RouteAdd),
    /// Removes a static route added at run time.
    RemoveStaticRoute {
        /// Its match_uri.
        match_uri: String,
    },
    /// Every trusted application pool.
    ListPools,
    /// Adds a trusted application pool.
    AddPool(crate::live::PoolAdd),
    /// Every trusted application.
    ListApplications,
    /// Adds a trusted application.
    AddApplication(crate::live::AppAdd),
}

/// The answer, as the API returns it (status 200 for `ok`, 4xx for `error`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Response {
    /// Done; `lines` to show.
    Ok {
        /// Text lines.
        lines: Vec<String>,
    },
    /// Refused; `error` says why and what to do.
    Error {
        /// The message.
        error: String,
    },
}

/// A request with the channel for its answer, handed to the core loop.
#[derive(Debug)]
pub struct Command {
    /// The request.
    pub request: Request,
    /// Where the answer goes.
    pub reply: oneshot::Sender<Response>,
}

/// The body of `PUT /v1/users/{aor}`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SetPassword {
    /// The new password.
    pub password: String,
    /// `false`: the user must not exist yet (add); `true`: it must (set-password).
    #[serde(default)]
    pub must_exist: Option<bool>,
}

/// What `admin.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server's process id.
    pub pid: u32,
}

#[derive(Clone)]
struct Shared {
    token: String,
    commands: mpsc::Sender<Command>,
}

/// The token of the data directory, made on first use (32 random bytes, hex).
pub fn ensure_token(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(TOKEN_FILE);
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_owned();
        if t.len() >= 32 {
            return Ok(t);
        }
    }
    let mut b = [0u8; 32];
    crate::relay::fill_random(&mut b)?;
    let token: String = b.iter().map(|x| format!("{x:02x}")).collect();
    crate::devcert::write_file(&path, token.as_bytes(), true)?;
    Ok(token)
}

/// Serves the API on `addr` (a loopback address) and writes `admin.json`; returns the task
/// and the bound address. `/metrics` (without token, see [`crate::prometheus`]) reads the
/// relay's counters from `relay_stats` when a relay runs.
pub async fn serve(
    data_dir: &Path,
    addr: SocketAddr,
    commands: mpsc::Sender<Command>,
    relay_stats: Option<tokio::sync::watch::Receiver<turn_proto::server::Stats>>,
) -> std::io::Result<(tokio::task::JoinHandle<()>, SocketAddr)> {
    let token = ensure_token(data_dir)?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let endpoint = Endpoint {
        url: format!("http://{local}"),
        pid: std::process::id(),
    };
    let text = serde_json::to_string_pretty(&endpoint).map_err(std::io::Error::other)?;
    crate::devcert::write_file(&data_dir.join(ENDPOINT_FILE), text.as_bytes(), false)?;
    let metrics = crate::prometheus::Source {
        commands: commands.clone(),
        relay: relay_stats,
        exporter: std::sync::Arc::new(crate::prometheus::Exporter::new()),
    };
    let app = router(Shared { token, commands }).merge(crate::prometheus::router(metrics));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(error = %e, "admin API stopped");
        }
    });
    Ok((task, local))
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/calls", get(calls))
        .route("/v1/calls/{call_id}/trace", get(trace))
        .route("/v1/users/{aor}", put(set_user).delete(remove_user))
        .route("/v1/users/{aor}/bindings", get(bindings))
        .route("/v1/flush", post(flush))
        .route("/v1/users", get(users))
        .route("/v1/stats", get(stats))
        .route("/v1/static-routes", get(list_routes).post(add_route))
        .route(
            "/v1/static-routes/{match_uri}",
            axum::routing::delete(remove_route),
        )
        .route("/v1/trusted-app-pools", get(list_pools).post(add_pool))
        .route("/v1/trusted-apps", get(list_apps).post(add_app))
        .with_state(shared)
}

/// Constant-time comparison of the presented token.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn ask(s: &Shared, headers: &HeaderMap, request: Request) -> HttpResponse {
    if !authorized(headers, &s.token) {
        let body = Response::Error {
            error: format!(
                "missing or wrong bearer token (it is in the data directory's {TOKEN_FILE})"
            ),
        };
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let (reply, rx) = oneshot::channel();
    let answer = if s.commands.send(Command { request, reply }).await.is_err() {
        Response::Error {
            error: "the server is stopping".into(),
        }
    } else {
        rx.await.unwrap_or(Response::Error {
            error: "the server dropped the request".into(),
        })
    };
    let status = match answer {
        Response::Ok { .. } => StatusCode::OK,
        Response::Error { .. } => StatusCode::BAD_REQUEST,
    };
    (status, Json(answer)).into_response()
}

async fn openapi() -> HttpResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

async fn calls(State(s): State<Shared>, headers: HeaderMap) -> HttpResponse {
    ask(&s, &headers, Request::Calls).await
}

async fn trace(
    State(s): State<Shared>,
    headers: HeaderMap,
    UrlPath(call_id): UrlPath<String>,
) -> HttpResponse {
    ask(&s, &headers, Request::Trace { call_id }).await
}

async fn set_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    UrlPath(aor): UrlPath<String>,
    Json(body): Json<SetPassword>,
) -> HttpResponse {
    let request = Request::SetUser {
        aor,
        password: body.password,
        must_exist: body.must_exist,
    };
    ask(&s, &headers, request).await
}

async fn remove_user(
    State(s): State<Shared>,
    headers: HeaderMap,
    UrlPath(aor): UrlPath<String>,
) -> HttpResponse {
    ask(&s, &headers, Request::RemoveUser { aor }).await
}

async fn bindings(
    State(s): State<Shared>,
    headers: HeaderMap,
    UrlPath(aor): UrlPath<String>,
) -> HttpResponse {
    ask(&s, &headers, Request::Bindings { aor }).await
}

async fn flush(State(s): State<Shared>, headers: HeaderMap) -> HttpResponse {
    ask(&s, &headers, Request::Flush).await
}

async fn stats(State(s): State<Shared>, headers: HeaderMap) -> HttpResponse {
    ask(&s, &headers, Request::Stats).await
}

async fn users(State(s): State<Shared>, headers: HeaderMap) -> HttpResponse {
    ask(&s, &headers, Request::Users).await
}

async fn topo(s: &Shared, headers: &HeaderMap, change: TopologyChange) -> HttpResponse {
    ask(s, headers, Request::Topology(change)).await
}

async fn list_routes(State(s): State<Shared>, headers: HeaderMap) -> HttpResponse {
    topo(&s, &headers, TopologyChange::ListStaticRoutes).await
}

async fn add_route(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(r): Json<crate::live::RouteAdd>,
) -> HttpResponse {
    topo(&s, &headers, TopologyChange::AddStaticRoute(r)).await
}

async fn remove_route(
    State(s): State<Shared>,
    headers: HeaderMap,
    UrlPath(match_uri): UrlPath<String>,
) -> HttpResponse {
    topo(
        &s,
        &headers,
        TopologyChange::RemoveStaticRoute { match_uri },
    )
    .await
}

async fn list_pools(State(s): State<Shared>, headers: HeaderMap) -> HttpResponse {
    topo(&s, &headers, TopologyChange::ListPools).await
}

async fn add_pool(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(p): Json<crate::live::PoolAdd>,
) -> HttpResponse {
    topo(&s, &headers, TopologyChange::AddPool(p)).await
}

async fn list_apps(State(s): State<Shared>, headers: HeaderMap) -> HttpResponse {
    topo(&s, &headers, TopologyChange::ListApplications).await
}

async fn add_app(
    State(s): State<Shared>,
    headers: HeaderMap,
    Json(a): Json<crate::live::AppAdd>,
) -> HttpResponse {
    topo(&s, &headers, TopologyChange::AddApplication(a)).await
}

// --- the client side, for `convene ctl` --------------------------------------------------

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No server runs with that data directory.
    #[error(
        "no running server with data directory {dir} ({why}); start one with `convene up --data DIR`, or pass the --data it runs with"
    )]
    NotRunning {
        /// The data directory.
        dir: PathBuf,
        /// What was missing or refused.
        why: String,
    },
    /// The server answered something unreadable.
    #[error("admin API: {0}")]
    Protocol(String),
}

/// Percent-encodes one path segment (RFC 3986 §2.3: only unreserved characters stay).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Sends one request to the server whose data directory is `data_dir`: `method` and `path`
/// (already encoded), with an optional JSON body.
pub async fn call(
    data_dir: &Path,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<Response, CallError> {
    let not_running = |why: String| CallError::NotRunning {
        dir: data_dir.to_owned(),
        why,
    };
    let endpoint: Endpoint = std::fs::read_to_string(data_dir.join(ENDPOINT_FILE))
        .map_err(|e| not_running(format!("{ENDPOINT_FILE}: {e}")))
        .and_then(|t| {
            serde_json::from_str(&t).map_err(|e| not_running(format!("{ENDPOINT_FILE}: {e}")))
        })?;
    let token = std::fs::read_to_string(data_dir.join(TOKEN_FILE))
        .map_err(|e| not_running(format!("{TOKEN_FILE}: {e}")))?;
    let host = endpoint
        .url
        .strip_prefix("http://")
        .ok_or_else(|| CallError::Protocol(format!("unexpected URL {}", endpoint.url)))?
        .to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host)
        .await
        .map_err(|e| not_running(format!("{}: {e}", endpoint.url)))?;
    let body = body.unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        token.trim(),
        body.len()
    );
    let proto = |e: std::io::Error| CallError::Protocol(e.to_string());
    stream.write_all(request.as_bytes()).await.map_err(proto)?;
    let mut raw = Vec::new();
    stream
        .take(16 << 20)
        .read_to_end(&mut raw)
        .await
        .map_err(proto)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| CallError::Protocol("no HTTP header section".into()))?;
    // A chunked body (axum streams none here, but be safe): take the JSON between the sizes.
    let json = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    serde_json::from_str(&json).map_err(|e| {
        CallError::Protocol(format!("{e}: {}", head.lines().next().unwrap_or_default()))
    })
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_openapi_document_and_back() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (method, path) in ROUTES {
            assert!(
                paths.get(*path).and_then(|p| p.get(*method)).is_some(),
                "{method} {path} is not documented"
            );
        }
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(
            documented,
            ROUTES.len(),
            "the document lists routes the server lacks"
        );
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(
            encode_segment("sip:bob@example.test"),
            "sip%3Abob%40example.test"
        );
        assert_eq!(encode_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn tokens_compare_exactly() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert!(authorized(&h, "abc"));
        assert!(!authorized(&h, "abd"));
        assert!(!authorized(&h, "ab"));
        assert!(!authorized(&HeaderMap::new(), "abc"));
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(dechunk("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"), "abcde");
    }
}
