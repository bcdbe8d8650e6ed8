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
    /// List every user.
    List(DataDir),
}

/// Only the data directory.
#[derive(Debug, Args)]
pub struct DataDir {
    /// The running server's data directory.
    #[arg(long, default_value = "./convene-data")]
    data: PathBuf,
}

/// `convene ctl static-route …` (Lync's `*-CsStaticRoute`).
#[derive(Debug, Subcommand)]
pub enum StaticRouteCommand {
    /// Add a static route: requests for DOMAIN (and its subdomains) go to the next hop.
    Add {
        /// The domain matched.
        #[arg(long)]
        match_uri: String,
        /// The next hop: FQDN (over TLS, the name its certificate must carry) or IP.
        #[arg(long)]
        next_hop: String,
        /// The next hop's port.
        #[arg(long)]
        port: u16,
        /// tcp or tls.
        #[arg(long, default_value = "tls")]
        transport: String,
        /// The IP to connect to when the next hop is an FQDN.
        #[arg(long)]
        address: Option<String>,
        #[command(flatten)]
        data: DataDir,
    },
    /// List the static routes.
    List(DataDir),
    /// Remove a static route added with `static-route add`.
    Remove {
        /// Its match_uri.
        #[arg(long)]
        match_uri: String,
        #[command(flatten)]
        data: DataDir,
    },
}

/// `convene ctl trusted-app-pool …` (Lync's `*-CsTrustedApplicationPool`).
#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// Add a trusted application pool: its certificates are trusted from the next request on.
    Add {
        /// The pool FQDN its certificates carry.
        #[arg(long)]
        fqdn: String,
        /// Its site.
        #[arg(long)]
        site: String,
        /// The front-end pool it belongs to.
        #[arg(long)]
        registrar: String,
        #[command(flatten)]
        data: DataDir,
    },
    /// List the trusted application pools.
    List(DataDir),
}

/// `convene ctl trusted-app …` (Lync's `*-CsTrustedApplication`).
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Add a trusted application: its pool's certificates are accepted on PORT, nobody else's.
    Add {
        /// Application id.
        #[arg(long)]
        id: String,
        /// Its trusted application pool.
        #[arg(long)]
        pool: String,
        /// A TLS port the server listens on.
        #[arg(long)]
        port: u16,
        #[command(flatten)]
        data: DataDir,
    },
    /// List the trusted applications.
    List(DataDir),
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
        Request::Users => ("GET", "/v1/users".to_owned(), None),
        Request::Stats => ("GET", "/v1/stats".to_owned(), None),
        Request::Topology(change) => {
            use admin::TopologyChange as C;
            match change {
                C::ListStaticRoutes => ("GET", "/v1/static-routes".to_owned(), None),
                C::AddStaticRoute(r) => ("POST", "/v1/static-routes".to_owned(), Some(to_json(r)?)),
                C::RemoveStaticRoute { match_uri } => (
                    "DELETE",
                    format!("/v1/static-routes/{}", enc(match_uri)),
                    None,
                ),
                C::ListPools => ("GET", "/v1/trusted-app-pools".to_owned(), None),
                C::AddPool(p) => (
                    "POST",
                    "/v1/trusted-app-pools".to_owned(),
                    Some(to_json(p)?),
                ),
                C::ListApplications => ("GET", "/v1/trusted-apps".to_owned(), None),
                C::AddApplication(a) => ("POST", "/v1/trusted-apps".to_owned(), Some(to_json(a)?)),
            }
        }
    };
    match runtime() {
        Some(rt) => rt.block_on(admin::call(data, method, &path, body)),
        None => Err(CallError::Protocol("cannot start a runtime".into())),
    }
}

/// A request body as JSON.
fn to_json<T: serde::Serialize>(v: &T) -> Result<String, CallError> {
    serde_json::to_string(v).map_err(|e| CallError::Protocol(e.to_string()))
}

/// Runs one request against the running server and prints its answer.
fn run_request(data: &Path, request: Request, what: &str) -> ExitCode {
    match ask(data, &request) {
        Ok(a) => show(a),
        Err(e) => {
            eprintln!("convene ctl {what}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `convene ctl stats`.
pub fn stats(d: DataDir) -> ExitCode {
    run_request(&d.data, Request::Stats, "stats")
}

/// Runs `convene ctl static-route …`.
pub fn static_route(cmd: StaticRouteCommand) -> ExitCode {
    use admin::TopologyChange as C;
    let (data, change) = match cmd {
        StaticRouteCommand::Add {
            match_uri,
            next_hop,
            port,
            transport,
            address,
            data,
        } => (
            data,
            C::AddStaticRoute(server::live::RouteAdd {
                match_uri,
                next_hop,
                port,
                transport: transport.to_ascii_lowercase(),
                address,
            }),
        ),
        StaticRouteCommand::List(data) => (data, C::ListStaticRoutes),
        StaticRouteCommand::Remove { match_uri, data } => {
            (data, C::RemoveStaticRoute { match_uri })
        }
    };
    run_request(&data.data, Request::Topology(change), "static-route")
}

/// Runs `convene ctl trusted-app-pool …`.
pub fn trusted_app_pool(cmd: PoolCommand) -> ExitCode {
    use admin::TopologyChange as C;
    let (data, change) = match cmd {
        PoolCommand::Add {
            fqdn,
            site,
            registrar,
            data,
        } => (
            data,
            C::AddPool(server::live::PoolAdd {
                fqdn,
                site,
                registrar,
            }),
        ),
        PoolCommand::List(data) => (data, C::ListPools),
    };
    run_request(&data.data, Request::Topology(change), "trusted-app-pool")
}

/// Runs `convene ctl trusted-app …`.
pub fn trusted_app(cmd: AppCommand) -> ExitCode {
    use admin::TopologyChange as C;
    let (data, change) = match cmd {
        AppCommand::Add {
            id,
            pool,
            port,
            data,
        } => (
            data,
            C::AddApplication(server::live::AppAdd { id, pool, port }),
        ),
        AppCommand::List(data) => (data, C::ListApplications),
    };
    run_request(&data.data, Request::Topology(change), "trusted-app")
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
        UserCommand::Bindings(u) => {
            run_request(&u.data, Request::Bindings { aor: u.aor }, "user bindings")
        }
        UserCommand::List(d) => run_request(&d.data, Request::Users, "user list"),
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
