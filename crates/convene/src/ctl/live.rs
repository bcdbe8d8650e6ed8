//! Verbs that talk to a running server over its admin API (address and token in the data
//! directory):
//! `trace` (the per-Call-ID decision trace), `user` (add, set-password, remove, bindings).
//! User changes also work with the server stopped: they are written to the store directly.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use server::admin::{self, CallError, Request, Response};

/// Options of `convene ctl trace`.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The Call-ID whose decisions to show.
    #[arg(required_unless_present = "list")]
    call_id: Option<String>,
    /// List the Call-IDs the trace keeps instead (oldest first).
    #[arg(long)]
    list: bool,
    /// The running server's data directory.
    #[arg(long, default_value = "./convene-data")]
    data: PathBuf,
}

/// `convene ctl user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user with a password (only its Digest HA1 values are stored).
    Add(UserPassword),
    /// Set the password of an existing user.
    SetPassword(UserPassword),
    /// Remove a user added with `user add`.
    Remove(UserAor),
    /// Show a user's live registrations.
    Bindings(UserAor),
}

/// A user and a password.
#[derive(Debug, Args)]
pub struct UserPassword {
    /// The address of record, `sip:user@domain`.
    aor: String,
    /// The password (visible to other local users in the process list: prefer --password-stdin).
    #[arg(
        long,
        conflicts_with = "password_stdin",
        required_unless_present = "password_stdin"
    )]
    password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// The server's data directory.
    #[arg(long, default_value = "./convene-data")]
    data: PathBuf,
    /// The topology (for the realm when the server is not running; default: the demo topology).
    #[arg(long)]
    topology: Option<PathBuf>,
}

/// A user.
#[derive(Debug, Args)]
pub struct UserAor {
    /// The address of record, `sip:user@domain`.
    aor: String,
    /// The server's data directory.
    #[arg(long, default_value = "./convene-data")]
    data: PathBuf,
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()
}

fn ask(data: &Path, request: &Request) -> Result<Response, CallError> {
    use admin::encode_segment as enc;
    let (method, path, body) = match request {
        Request::Trace { call_id } => ("GET", format!("/v1/calls/{}/trace", enc(call_id)), None),
        Request::Calls => ("GET", "/v1/calls".to_owned(), None),
        Request::Bindings { aor } => ("GET", format!("/v1/users/{}/bindings", enc(aor)), None),
        Request::SetUser {
            aor,
            password,
            must_exist,
        } => {
            let body = serde_json::to_string(&admin::SetPassword {
                password: password.clone(),
                must_exist: *must_exist,
            })
            .map_err(|e| CallError::Protocol(e.to_string()))?;
            ("PUT", format!("/v1/users/{}", enc(aor)), Some(body))
        }
        Request::RemoveUser { aor } => ("DELETE", format!("/v1/users/{}", enc(aor)), None),
        Request::Flush => ("POST", "/v1/flush".to_owned(), None),
    };
    match runtime() {
        Some(rt) => rt.block_on(admin::call(data, method, &path, body)),
        None => Err(CallError::Protocol("cannot start a runtime".into())),
    }
}

fn show(answer: Response) -> ExitCode {
    match answer {
        Response::Ok { lines } => {
            for l in lines {
                println!("{l}");
            }
            ExitCode::SUCCESS
        }
        Response::Error { error } => {
            eprintln!("convene ctl: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `convene ctl trace`.
pub fn trace(args: TraceArgs) -> ExitCode {
    let request = match (&args.call_id, args.list) {
        (_, true) => Request::Calls,
        (Some(c), false) => Request::Trace { call_id: c.clone() },
        (None, false) => return ExitCode::from(2),
    };
    match ask(&args.data, &request) {
        Ok(a) => show(a),
        Err(e) => {
            eprintln!("convene ctl trace: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `convene ctl user …`.
pub fn user(cmd: UserCommand) -> ExitCode {
    match cmd {
        UserCommand::Add(p) => set_password(p, Some(false)),
        UserCommand::SetPassword(p) => set_password(p, Some(true)),
        UserCommand::Remove(u) => remove(u),
        UserCommand::Bindings(u) => match ask(&u.data, &Request::Bindings { aor: u.aor }) {
            Ok(a) => show(a),
            Err(e) => {
                eprintln!("convene ctl user bindings: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn password_of(p: &UserPassword) -> Result<String, String> {
    if let Some(pw) = &p.password {
        return Ok(pw.clone());
    }
    let mut text = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    Ok(text.lines().next().unwrap_or("").to_owned())
}

fn set_password(p: UserPassword, must_exist: Option<bool>) -> ExitCode {
    let password = match password_of(&p) {
        Ok(pw) if !pw.is_empty() => pw,
        Ok(_) => {
            eprintln!("convene ctl user: the password is empty");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("convene ctl user: {e}");
            return ExitCode::from(2);
        }
    };
    let request = Request::SetUser {
        aor: p.aor.clone(),
        password: password.clone(),
        must_exist,
    };
    match ask(&p.data, &request) {
        Ok(a) => show(a),
        Err(CallError::NotRunning { .. }) => offline_set(&p, &password, must_exist),
        Err(e) => {
            eprintln!("convene ctl user: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The server is not running: write the user to the store it will read at start-up.
fn offline_set(p: &UserPassword, password: &str, must_exist: Option<bool>) -> ExitCode {
    use store::Store as _;
    let topology = match server::Topology::load(p.topology.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("convene ctl user: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(aor) = sip_msg::Uri::parse(&p.aor)
        .ok()
        .and_then(|u| registrar::Aor::from_uri(&u))
    else {
        eprintln!(
            "convene ctl user: {:?} is not an address of record; write sip:user@domain",
            p.aor
        );
        return ExitCode::from(2);
    };
    let realm = topology
        .deployment
        .domains
        .first()
        .cloned()
        .unwrap_or_else(|| aor.domain().to_owned());
    let mut st = match store::RedbStore::open(&p.data) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("convene ctl user: {e}");
            return ExitCode::FAILURE;
        }
    };
    let in_topology = server::front::directory(&topology.model, &[]).contains(&aor);
    let stored = matches!(st.get_user(&aor.to_string()), Ok(Some(_)));
    let exists = in_topology || stored;
    match must_exist {
        Some(true) if !exists => {
            eprintln!("convene ctl user: no user {aor}; add it with `convene ctl user add`");
            return ExitCode::FAILURE;
        }
        Some(false) if exists => {
            eprintln!(
                "convene ctl user: user {aor} exists; change its password with `convene ctl user set-password`"
            );
            return ExitCode::FAILURE;
        }
        _ => {}
    }
    let rec = server::front::record_for_password(&aor, &realm, password);
    match st.put_user(&rec) {
        Ok(()) => {
            println!(
                "{} {aor} in {} (realm {realm}; the server reads it at start-up)",
                if exists { "password set for" } else { "added" },
                st.location()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("convene ctl user: {e}");
            ExitCode::FAILURE
        }
    }
}

fn remove(u: UserAor) -> ExitCode {
    let request = Request::RemoveUser { aor: u.aor.clone() };
    match ask(&u.data, &request) {
        Ok(a) => show(a),
        Err(CallError::NotRunning { .. }) => {
            use store::Store as _;
            let mut st = match store::RedbStore::open(&u.data) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("convene ctl user: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let key = sip_msg::Uri::parse(&u.aor)
                .ok()
                .and_then(|x| registrar::Aor::from_uri(&x))
                .map_or(u.aor.clone(), |a| a.to_string());
            match st.remove_user(&key) {
                Ok(true) => {
                    println!("removed {key}");
                    ExitCode::SUCCESS
                }
                Ok(false) => {
                    eprintln!(
                        "convene ctl user: {key} is not a user added with `convene ctl user`"
                    );
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("convene ctl user: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("convene ctl user: {e}");
            ExitCode::FAILURE
        }
    }
}
