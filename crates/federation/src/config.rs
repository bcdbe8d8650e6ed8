//! The `[edge]` section of a `topology.toml`: the access edge's federation settings, hosted
//! SIP domains (and hosted tenants), hosting providers, and the per-user policies the edge
//! consults. Loading reports every problem with `file:line:column`, the field, what is
//! wrong, and how to fix it.
//!
//! The settings mirror Lync Server's "Access Edge Configuration" (federation, partner domain
//! discovery, remote and anonymous user access), "SIP Federated Domains" (allowed/blocked),
//! "SIP Federated Providers" (hosting providers), external access and conferencing policies,
//! and Lync Online's tenant federation modes (field: seed-003; MS-SIP.md §5.4).
//! Edge switches default to off, as on a fresh Lync edge; user-level policies default to
//! allowing, so the edge switches are the gate.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use toml::Spanned;

/// The whole topology file, of which only `[edge]` is read here; other tables are left to
/// their owners.
#[derive(Debug, Deserialize)]
struct TopologyFile {
    edge: Option<EdgeConfig>,
}

/// The `[edge]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeConfig {
    /// This edge server's FQDN: the `source` of the diagnostics it generates.
    pub fqdn: String,
    /// Names partners and remote clients reach this edge by (SRV targets); the first is
    /// presented as this edge when it connects to partners. Defaults to `[fqdn]`.
    #[serde(default)]
    pub external_names: Vec<String>,
    /// "Enable federation and public IM connectivity".
    #[serde(default)]
    pub federation: bool,
    /// "Enable partner domain discovery": federate with any domain publishing
    /// `_sipfederationtls._tcp`.
    #[serde(default)]
    pub partner_discovery: bool,
    /// "Enable remote user access": clients (and anonymous users) may connect from outside.
    #[serde(default)]
    pub remote_user_access: bool,
    /// "Enable anonymous user access to conferences".
    #[serde(default)]
    pub anonymous_user_access: bool,
    /// Send private `ms-diagnostics` to federated partners and unauthenticated users
    /// (`Set-CsDiagnosticHeaderConfiguration -SendToExternalNetworks`, default false).
    #[serde(default)]
    pub diagnostics_to_external_networks: bool,
    /// The SIP domains hosted behind this edge (one organisation, or the tenants of a
    /// hosted service).
    pub sip_domains: Vec<SipDomain>,
    /// "SIP Federated Domains", allowed.
    #[serde(default)]
    pub allowed_domains: Vec<AllowedDomain>,
    /// "SIP Federated Domains", blocked (a blocked entry also blocks its sub-domains).
    #[serde(default)]
    pub blocked_domains: Vec<BlockedDomain>,
    /// "SIP Federated Providers" of the hosting kind (shared address space, e.g. an online
    /// service).
    #[serde(default)]
    pub hosting_providers: Vec<HostingProvider>,
    /// "SIP Federated Providers" of the public kind (public IM services), with the domains
    /// they serve.
    #[serde(default)]
    pub public_providers: Vec<PublicProvider>,
    /// External access policies by name; `global` applies to users without an assignment.
    #[serde(default)]
    pub external_access_policies: BTreeMap<String, ExternalAccessPolicy>,
    /// Conferencing policies by name; `global` applies to users without an assignment.
    #[serde(default)]
    pub conferencing_policies: BTreeMap<String, ConferencingPolicy>,
    /// Per-user policy assignments.
    #[serde(default)]
    pub users: Vec<UserAssignment>,
}

/// A SIP domain hosted behind this edge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipDomain {
    /// The domain, e.g. `contoso.com`.
    pub domain: Spanned<String>,
    /// The front end that homes this domain's users (`source` of user-level refusals);
    /// defaults to the edge FQDN.
    pub front_end: Option<String>,
    /// The users' primary pool (reported as `processing-cluster`); defaults to `front_end`.
    pub pool: Option<String>,
    /// Present when the domain is a tenant of a hosted service with its own federation mode.
    pub tenant: Option<TenantFederation>,
}

/// A hosted tenant's federation setting (Lync Online "external communications").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFederation {
    /// The mode.
    pub mode: TenantMode,
    /// Domains allowed in `allowed-domains-only` mode.
    #[serde(default)]
    pub allowed: Vec<Spanned<String>>,
    /// Domains blocked in `all-except-blocked` mode.
    #[serde(default)]
    pub blocked: Vec<Spanned<String>>,
}

/// The three tenant modes seed-003 tabulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TenantMode {
    /// "On only for allowed domains".
    AllowedDomainsOnly,
    /// "On except for blocked domains".
    AllExceptBlocked,
    /// "Off completely".
    Off,
}

/// An allowed federated domain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowedDomain {
    /// The partner domain (exact match).
    pub domain: Spanned<String>,
    /// The partner's access edge FQDN; when set, no SRV lookup is made and inbound requests
    /// for the domain must come from this server.
    pub edge_fqdn: Option<String>,
}

/// A blocked federated domain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockedDomain {
    /// The domain; it and its sub-domains are blocked.
    pub domain: Spanned<String>,
}

/// A hosting provider: a shared address space whose edge serves many domains.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostingProvider {
    /// A name for logs, e.g. `LyncOnline`.
    pub name: String,
    /// The provider's edge FQDN, as partners' SRV records name it (e.g. `sipfed.online.lync.com`).
    pub edge_fqdn: String,
    /// How far users arriving from the provider are trusted.
    pub verification: VerificationLevel,
    /// Whether the provider entry is in use.
    #[serde(default = "yes")]
    pub enabled: bool,
}

/// A public IM provider and the SIP domains it serves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicProvider {
    /// A name for logs.
    pub name: String,
    /// The provider's edge FQDN.
    pub edge_fqdn: String,
    /// The domains its users have.
    pub domains: Vec<Spanned<String>>,
    /// Whether the provider entry is in use.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// `Set-CsHostingProvider -VerificationLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerificationLevel {
    /// The provider verifies its users; requests are marked verified.
    AlwaysVerifiable,
    /// Requests are marked unverified.
    AlwaysUnverifiable,
    /// Trust the provider's own verification marking on each request.
    UseSourceVerification,
}

/// What a user may do across the edge.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExternalAccessPolicy {
    /// Communicate with federated partners.
    #[serde(default = "yes")]
    pub federation: bool,
    /// Communicate with public IM providers.
    #[serde(default = "yes")]
    pub public_im: bool,
    /// Sign in from outside through the edge.
    #[serde(default = "yes")]
    pub remote_access: bool,
}

impl Default for ExternalAccessPolicy {
    fn default() -> Self {
        Self {
            federation: true,
            public_im: true,
            remote_access: true,
        }
    }
}

/// What a user's meetings allow.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConferencingPolicy {
    /// "Allow participants to invite anonymous users".
    #[serde(default = "yes")]
    pub allow_anonymous_participants: bool,
}

impl Default for ConferencingPolicy {
    fn default() -> Self {
        Self {
            allow_anonymous_participants: true,
        }
    }
}

/// One user's policy assignment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAssignment {
    /// The user's SIP URI, e.g. `sip:garth@tailspintoys.com`.
    pub uri: Spanned<String>,
    /// Name of an entry of `external_access_policies`.
    pub external_access: Option<Spanned<String>>,
    /// Name of an entry of `conferencing_policies`.
    pub conferencing: Option<Spanned<String>>,
}

/// A problem in a topology file, located.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}:{column}: {field}: {problem}\n  fix: {fix}")]
pub struct ConfigError {
    /// The file as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// The field, as a TOML path (`edge.allowed_domains[2].domain`).
    pub field: String,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

/// Why a topology could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file as given.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file has no `[edge]` section.
    #[error("{file}: no [edge] section\n  fix: add an [edge] table (see examples/seed-003/)")]
    NoEdge {
        /// The file as given.
        file: String,
    },
    /// The file is not valid, with the first problem found.
    #[error(transparent)]
    Invalid(#[from] Box<ConfigError>),
}

/// Reads and validates the `[edge]` section of a topology file.
pub fn load_file(path: &Path) -> Result<EdgeConfig, LoadError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        file: file.clone(),
        source,
    })?;
    parse_topology(&text, &file)
}

/// Parses and validates the `[edge]` section of topology text; `file` names it in errors.
pub fn parse_topology(text: &str, file: &str) -> Result<EdgeConfig, LoadError> {
    let doc: TopologyFile = toml::from_str(text).map_err(|e| serde_error(&e, text, file))?;
    let edge = doc.edge.ok_or_else(|| LoadError::NoEdge {
        file: file.to_owned(),
    })?;
    edge.validate(text, file).map_err(LoadError::from)?;
    Ok(edge)
}

fn serde_error(e: &toml::de::Error, text: &str, file: &str) -> LoadError {
    let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
    let message = e.message().to_owned();
    let (field, fix) = explain(&message, text, e.span());
    LoadError::Invalid(Box::new(ConfigError {
        file: file.to_owned(),
        line,
        column,
        field,
        problem: message,
        fix,
    }))
}

// Names the field at the error and suggests a fix from toml's message.
fn explain(message: &str, text: &str, span: Option<Range<usize>>) -> (String, String) {
    let field = span
        .and_then(|s| key_at(text, s))
        .unwrap_or_else(|| "edge".to_owned());
    let fix = if let Some(rest) = message.strip_prefix("unknown field") {
        format!("remove or rename the key; the keys allowed here are{rest}")
    } else if message.starts_with("missing field") {
        "add the missing key (see examples/seed-003/ for a complete [edge] section)".to_owned()
    } else if message.contains("unknown variant") {
        "use one of the values listed above".to_owned()
    } else {
        "correct the value to the type the key expects (see examples/seed-003/)".to_owned()
    };
    (field, fix)
}

// The key an error span belongs to: the span itself when it covers a key, else the key left
// of the `=` before the span on the same line (inline tables included).
fn key_at(text: &str, span: Range<usize>) -> Option<String> {
    let covered = text.get(span.clone())?;
    if covered.contains('\n') {
        return None;
    }
    let line_start = text.get(..span.start)?.rfind('\n').map_or(0, |i| i + 1);
    let prefix = text.get(line_start..span.start)?;
    let key = match prefix.rfind('=') {
        Some(eq) => {
            let left = prefix.get(..eq)?;
            let from = left.rfind(['{', ',']).map_or(0, |i| i + 1);
            left.get(from..)?.trim()
        }
        None => covered.split('=').next()?.trim(),
    };
    let key = key.trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_owned())
}

/// Converts a byte offset into a 1-based line and character column.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

impl EdgeConfig {
    /// Checks what serde cannot: FQDNs and domains look right, no domain is both allowed and
    /// blocked, no duplicates, user assignments name defined policies. `text` is the TOML the
    /// configuration was deserialized from (spans point into it), `file` names it.
    pub fn validate(&self, text: &str, file: &str) -> Result<(), Box<ConfigError>> {
        let err = |span: Range<usize>, field: String, problem: String, fix: &str| {
            let (line, column) = line_col(text, span.start);
            Box::new(ConfigError {
                file: file.to_owned(),
                line,
                column,
                field,
                problem,
                fix: fix.to_owned(),
            })
        };
        let edge_at = text.find("[edge]").unwrap_or(0);
        let domain_fix =
            "write a DNS domain name such as contoso.com (letters, digits, '-' and '.')";
        let check = |d: &Spanned<String>, field: String| {
            if is_domain(d.get_ref()) {
                Ok(())
            } else {
                Err(err(
                    d.span(),
                    field,
                    format!("{:?} is not a domain name", d.get_ref()),
                    domain_fix,
                ))
            }
        };
        if !is_domain(&self.fqdn) {
            return Err(err(
                edge_at..edge_at,
                "edge.fqdn".into(),
                format!("{:?} is not an FQDN", self.fqdn),
                domain_fix,
            ));
        }
        if self.sip_domains.is_empty() {
            return Err(err(
                edge_at..edge_at,
                "edge.sip_domains".into(),
                "no SIP domain is hosted behind this edge".into(),
                "add at least one [[edge.sip_domains]] entry with domain = \"…\"",
            ));
        }
        let mut seen: BTreeMap<String, (Range<usize>, String)> = BTreeMap::new();
        let mut note = |d: &Spanned<String>, field: String, what: &str| {
            let key = d.get_ref().to_ascii_lowercase();
            if let Some((span, other)) = seen.get(&key) {
                let (l, c) = line_col(text, span.start);
                return Err(err(
                    d.span(),
                    field,
                    format!(
                        "{:?} is {what} here and also listed at {file}:{l}:{c} ({other})",
                        d.get_ref()
                    ),
                    "keep the domain in exactly one list: allowed to federate, blocked, or hosted here",
                ));
            }
            seen.insert(key, (d.span(), field));
            Ok(())
        };
        for (i, s) in self.sip_domains.iter().enumerate() {
            let f = format!("edge.sip_domains[{i}].domain");
            check(&s.domain, f.clone())?;
            note(&s.domain, f, "hosted")?;
        }
        for (i, a) in self.allowed_domains.iter().enumerate() {
            let f = format!("edge.allowed_domains[{i}].domain");
            check(&a.domain, f.clone())?;
            note(&a.domain, f, "allowed")?;
        }
        for (i, b) in self.blocked_domains.iter().enumerate() {
            let f = format!("edge.blocked_domains[{i}].domain");
            check(&b.domain, f.clone())?;
            note(&b.domain, f, "blocked")?;
        }
        for (i, p) in self.public_providers.iter().enumerate() {
            for (j, d) in p.domains.iter().enumerate() {
                let f = format!("edge.public_providers[{i}].domains[{j}]");
                check(d, f.clone())?;
                note(d, f, "served by a public provider")?;
            }
        }
        for (i, s) in self.sip_domains.iter().enumerate() {
            let Some(t) = &s.tenant else { continue };
            let mut tseen: BTreeMap<String, (Range<usize>, String)> = BTreeMap::new();
            let lists = [("allowed", &t.allowed), ("blocked", &t.blocked)];
            for (list, entries) in lists {
                for (j, d) in entries.iter().enumerate() {
                    let f = format!("edge.sip_domains[{i}].tenant.{list}[{j}]");
                    check(d, f.clone())?;
                    let key = d.get_ref().to_ascii_lowercase();
                    if let Some((span, other)) = tseen.get(&key) {
                        let (l, c) = line_col(text, span.start);
                        return Err(err(
                            d.span(),
                            f,
                            format!(
                                "{:?} is {list} here and also listed at {file}:{l}:{c} ({other})",
                                d.get_ref()
                            ),
                            "keep the domain in one of the tenant's lists only",
                        ));
                    }
                    tseen.insert(key, (d.span(), f));
                }
            }
        }
        for (i, u) in self.users.iter().enumerate() {
            if crate::uri::SipUri::parse(u.uri.get_ref()).is_err() {
                return Err(err(
                    u.uri.span(),
                    format!("edge.users[{i}].uri"),
                    format!("{:?} is not a SIP URI", u.uri.get_ref()),
                    "write the user's address as sip:user@domain",
                ));
            }
            let refs = [
                (&u.external_access, "external_access"),
                (&u.conferencing, "conferencing"),
            ];
            for (r, key) in refs {
                let Some(name) = r else { continue };
                let defined = match key {
                    "external_access" => self.external_access_policies.contains_key(name.get_ref()),
                    _ => self.conferencing_policies.contains_key(name.get_ref()),
                };
                if !defined {
                    return Err(err(
                        name.span(),
                        format!("edge.users[{i}].{key}"),
                        format!("no {key} policy named {:?} is defined", name.get_ref()),
                        &format!(
                            "define [edge.{key}_policies.{}] or use an existing name",
                            name.get_ref()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}
