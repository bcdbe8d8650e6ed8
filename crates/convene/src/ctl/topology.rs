//! `convene ctl topology check|show`: validate a topology file (every problem as
//! file:line:column with the field and the fix, `[voice]` and `[edge]` included) and print
//! what it describes. The model and its checks live in the `topology` crate.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use topology::{Role, Topology};

/// `convene ctl topology …`.
#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Check a topology file; exit 0 when valid, 1 with every problem as file:line:column.
    Check(FileArg),
    /// Print the SIP domains, sites, pools, trusted applications, static routes, partners
    /// and users of a topology (Digest HA1 values are never printed).
    Show(ShowArgs),
}

/// The topology file argument.
#[derive(Debug, Args)]
pub struct FileArg {
    /// The topology file (default: the demo topology built in, topology/demo.toml).
    file: Option<PathBuf>,
}

/// Arguments of `topology show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    file: FileArg,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `convene ctl topology …`.
pub fn run(cmd: TopologyCommand) -> ExitCode {
    match cmd {
        TopologyCommand::Check(a) => match load(a.file.as_deref()) {
            Ok((t, name)) => {
                println!(
                    "{name}: ok: {} SIP domain(s), {} site(s), {} pool(s), {} trusted application(s), {} static route(s), {} federated partner(s), {} user(s){}{}",
                    t.sip_domains.len(),
                    t.sites.len(),
                    t.pools.len(),
                    t.trusted_applications.len(),
                    t.static_routes.len(),
                    t.federated_partners.len(),
                    t.users.len(),
                    if t.has_voice { ", [voice]" } else { "" },
                    if t.has_edge { ", [edge]" } else { "" },
                );
                if let Some(r) = t.relay_plan() {
                    println!("{}", relay_line(&r));
                }
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        TopologyCommand::Show(a) => match load(a.file.file.as_deref()) {
            Ok((t, _)) if a.json => json(&t),
            Ok((t, _)) => {
                super::edge::emit(&text(&t));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}

/// Reads and validates a topology (the built-in demo when `path` is `None`); on failure
/// prints every problem on stdout, one per line, and returns the exit code.
pub fn load(path: Option<&Path>) -> Result<(Topology, String), ExitCode> {
    let (text, name) = match path {
        None => (
            topology::DEMO.to_owned(),
            "topology/demo.toml (built in)".to_owned(),
        ),
        Some(p) => {
            let name = p.display().to_string();
            match std::fs::read_to_string(p) {
                Ok(t) => (t, name),
                Err(e) => {
                    eprintln!("error: {name}: cannot read the topology file: {e}");
                    return Err(ExitCode::from(2));
                }
            }
        }
    };
    match Topology::parse(&text, &name) {
        Ok(t) => Ok((t, name)),
        Err(errors) => {
            super::edge::emit(&format!("{errors}\n"));
            eprintln!(
                "{name}: {} problem(s); the topology is not valid",
                errors.0.len()
            );
            Err(ExitCode::FAILURE)
        }
    }
}

fn text(t: &Topology) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("SIP domains: {}", t.domains().join(", ")));
    for s in &t.sites {
        line(format!("site {}", s.name.get_ref()));
        for p in t
            .pools
            .iter()
            .filter(|p| p.site.get_ref().eq_ignore_ascii_case(s.name.get_ref()))
        {
            let roles: Vec<String> = p
                .roles
                .get_ref()
                .iter()
                .map(|r| match p.port(*r.get_ref()) {
                    Some(port) => format!("{} :{port}", r.get_ref()),
                    None => r.get_ref().to_string(),
                })
                .collect();
            line(format!("  pool {}: {}", p.fqdn.get_ref(), roles.join(", ")));
            let machines: Vec<&str> = p.machines.iter().map(|m| m.get_ref().as_str()).collect();
            if !machines.is_empty() {
                line(format!("    machines: {}", machines.join(", ")));
            }
            line(format!(
                "    certificate: {}",
                p.certificate.as_ref().map_or(
                    "none (held by the server itself)".to_owned(),
                    |c| format!("{0}.pem, {0}.key", c.get_ref())
                )
            ));
            if p.has_role(Role::TrustedApplication) {
                let flag =
                    |f: &Option<topology::Spanned<bool>>| f.as_ref().is_none_or(|v| *v.get_ref());
                line(format!(
                    "    registrar: {}; treat as authenticated: {}; throttle as server: {}",
                    p.registrar
                        .as_ref()
                        .map_or("none", |r| r.get_ref().as_str()),
                    flag(&p.treat_as_authenticated),
                    flag(&p.throttle_as_server)
                ));
            }
        }
    }
    for a in &t.trusted_applications {
        line(format!(
            "trusted application {} on {}:{}",
            a.id.get_ref(),
            a.pool.get_ref(),
            a.port.get_ref()
        ));
    }
    for (i, r) in t.static_routes.iter().enumerate() {
        line(format!("static_route[{i}] {}", r.describe()));
    }
    for p in &t.federated_partners {
        line(format!(
            "federated partner {} via {}",
            p.domain.get_ref(),
            p.edge_fqdn.get_ref()
        ));
    }
    for u in &t.users {
        let creds = match &u.password {
            Some(p) => {
                let p = p.get_ref();
                let algs: Vec<&str> = [
                    p.ha1_md5.as_ref().map(|_| "MD5"),
                    p.ha1_sha256.as_ref().map(|_| "SHA-256"),
                ]
                .into_iter()
                .flatten()
                .collect();
                format!(
                    "Digest HA1 ({}) realm {}",
                    algs.join(", "),
                    p.realm.get_ref()
                )
            }
            None => "credentials in the store".to_owned(),
        };
        line(format!(
            "user {}{} on {}: {creds}",
            u.aor.get_ref(),
            u.display_name
                .as_ref()
                .map_or(String::new(), |d| format!(" \"{d}\"")),
            u.pool.get_ref()
        ));
    }
    if t.has_voice {
        line("[voice]: present (convene ctl voice test)".to_owned());
    }
    if t.has_edge {
        line("[edge]: present (convene ctl edge test)".to_owned());
    }
    if let Some(r) = t.relay_plan() {
        line(relay_line(&r));
    }
    out
}

/// One line describing `[relay]` (user keys are never printed).
fn relay_line(r: &topology::RelayPlan) -> String {
    let listen = [("udp", r.udp), ("tcp", r.tcp), ("shared", r.shared)]
        .iter()
        .filter_map(|(k, a)| a.map(|a| format!("{k} {a}")))
        .collect::<Vec<_>>()
        .join(", ");
    let relayed = [
        r.relayed_ipv4.map(|a| a.to_string()),
        r.relayed_ipv6.map(|a| a.to_string()),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" and ");
    format!(
        "[relay]: listens on {listen}; relays from {relayed} ports {}-{}; quotas {} in total, {} per user; {} denied peer range(s); realm {}; {} long-term user(s){}",
        r.ports.start(),
        r.ports.end(),
        r.max_allocations,
        r.max_allocations_per_user,
        r.denied_peers.len(),
        r.realm,
        r.users.len(),
        if r.ephemeral_credentials {
            ", ephemeral credentials"
        } else {
            ""
        }
    )
}

fn json(t: &Topology) -> ExitCode {
    let mut v = match serde_json::to_value(t) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: cannot encode the topology as JSON: {e}");
            return ExitCode::FAILURE;
        }
    };
    // HA1 values are password equivalents (RFC 7616 §5.2): say they are set, never print them.
    if let Some(users) = v.get_mut("users").and_then(|u| u.as_array_mut()) {
        for u in users {
            if let Some(p) = u.get_mut("password").and_then(|p| p.as_object_mut()) {
                for key in ["ha1_md5", "ha1_sha256"] {
                    if let Some(h) = p.get_mut(key).filter(|h| !h.is_null()) {
                        *h = serde_json::Value::String("(set)".to_owned());
                    }
                }
            }
        }
    }
    // TURN long-term keys are password equivalents for the relay's realm too.
    if let Some(users) = v
        .get_mut("relay")
        .and_then(|r| r.get_mut("user"))
        .and_then(|u| u.as_array_mut())
    {
        for u in users {
            if let Some(k) = u.get_mut("key_md5") {
                *k = serde_json::Value::String("(set)".to_owned());
            }
        }
    }
    match serde_json::to_string_pretty(&v) {
        Ok(s) => {
            super::edge::emit(&format!("{s}\n"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot encode the topology as JSON: {e}");
            ExitCode::FAILURE
        }
    }
}
