//! The local admin endpoint: a Unix socket `admin.sock` in the data directory (reachable only
//! by whoever may read the data directory), one JSON request per line, one JSON answer per
//! line. `convene ctl trace` and `convene ctl user` speak it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// The socket's file name in the data directory.
pub const SOCKET: &str = "admin.sock";

/// The socket path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

/// What an admin client asks.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// The decision trace of a Call-ID.
    Trace {
        /// The Call-ID.
        call_id: String,
    },
    /// The Call-IDs the trace ring keeps.
    Calls,
    /// Adds a user or sets a user's password (only HA1 values are kept).
    SetUser {
        /// `sip:user@domain`.
        aor: String,
        /// The new password.
        password: String,
        /// Refuse if the user exists (`ctl user add`) or if it does not (`set-password`).
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
}

/// The answer.
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

/// Listens on `path` (a stale socket file from a killed server is replaced) and hands each
/// request to `commands`.
pub fn listen(
    path: &Path,
    commands: mpsc::Sender<Command>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    // A socket file left by a server that was killed: nothing listens on it any more.
    if path.exists() && std::os::unix::net::UnixStream::connect(path).is_err() {
        let _ = std::fs::remove_file(path);
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let commands = commands.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(stream, commands).await {
                    debug!(error = %e, "admin connection ended");
                }
            });
        }
    }))
}

async fn serve(
    stream: tokio::net::UnixStream,
    commands: mpsc::Sender<Command>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read.take(1 << 20)).lines();
    while let Some(line) = lines.next_line().await? {
        let answer = match serde_json::from_str::<Request>(&line) {
            Ok(request) => {
                let (reply, rx) = oneshot::channel();
                if commands.send(Command { request, reply }).await.is_err() {
                    Response::Error {
                        error: "the server is stopping".into(),
                    }
                } else {
                    rx.await.unwrap_or(Response::Error {
                        error: "the server dropped the request".into(),
                    })
                }
            }
            Err(e) => Response::Error {
                error: format!("bad request: {e}"),
            },
        };
        let mut text = serde_json::to_string(&answer).unwrap_or_else(|e| {
            warn!(error = %e, "cannot encode an admin answer");
            r#"{"result":"error","error":"cannot encode the answer"}"#.into()
        });
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
    }
    Ok(())
}

/// Sends one request to the server whose data directory is `data_dir` (for `convene ctl`).
pub async fn call(data_dir: &Path, request: &Request) -> Result<Response, CallError> {
    let path = socket_path(data_dir);
    let stream = tokio::net::UnixStream::connect(&path)
        .await
        .map_err(|source| CallError::Connect {
            path: path.clone(),
            source,
        })?;
    let (read, mut write) = stream.into_split();
    let mut text =
        serde_json::to_string(request).map_err(|e| CallError::Protocol(e.to_string()))?;
    text.push('\n');
    write
        .write_all(text.as_bytes())
        .await
        .map_err(|e| CallError::Protocol(e.to_string()))?;
    let mut lines = BufReader::new(read).lines();
    let line = lines
        .next_line()
        .await
        .map_err(|e| CallError::Protocol(e.to_string()))?
        .ok_or_else(|| CallError::Protocol("the server closed the connection".into()))?;
    serde_json::from_str(&line).map_err(|e| CallError::Protocol(e.to_string()))
}

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No server listens in that data directory.
    #[error(
        "no running server at {path} ({source}); start one with `convene up --data DIR`, or pass the --data it runs with"
    )]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server answered something unreadable.
    #[error("admin protocol: {0}")]
    Protocol(String),
}

use tokio::io::AsyncReadExt as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_documented() {
        let r: Request = serde_json::from_str(r#"{"op":"trace","call_id":"abc"}"#).unwrap();
        assert_eq!(
            r,
            Request::Trace {
                call_id: "abc".into()
            }
        );
        let text = serde_json::to_string(&Response::Ok {
            lines: vec!["x".into()],
        })
        .unwrap();
        assert_eq!(text, r#"{"result":"ok","lines":["x"]}"#);
    }
}
