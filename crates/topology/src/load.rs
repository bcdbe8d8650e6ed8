//! Reading `topology.toml`: each top-level section is read on its own so that a typo in one
//! does not hide the problems of the others; the `[voice]` and `[edge]` sections are handed
//! to their owners' loaders (`voice`, `federation`) so one check reports every section.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Errors, Sink};
use crate::model::{
    FederatedPartnerConfig, PoolConfig, SipDomainConfig, SiteConfig, StaticRouteConfig,
    TrustedApplicationConfig, UserConfig,
};

/// A whole topology, parsed and validated.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Topology {
    /// `[[sip_domain]]`.
    pub sip_domains: Vec<SipDomainConfig>,
    /// `[[site]]`.
    pub sites: Vec<SiteConfig>,
    /// `[[pool]]`.
    pub pools: Vec<PoolConfig>,
    /// `[[trusted_application]]`.
    pub trusted_applications: Vec<TrustedApplicationConfig>,
    /// `[[static_route]]`, in file order.
    pub static_routes: Vec<StaticRouteConfig>,
    /// `[[federated_partner]]`.
    pub federated_partners: Vec<FederatedPartnerConfig>,
    /// `[[user]]`.
    pub users: Vec<UserConfig>,
    /// Whether a `[voice]` section is present (owned and checked by the `voice` crate).
    pub has_voice: bool,
    /// Whether an `[edge]` section is present (owned and checked by the `federation` crate).
    pub has_edge: bool,
    /// `[relay]`: the media relay and the shared port; absent, no relay runs.
    pub relay: Option<crate::relay::RelayConfig>,
}

// The top level: every section this file may have; anything else is a typo. The fields are
// read only to refuse unknown tables.
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopLevel {
    sip_domain: Option<IgnoredAny>,
    site: Option<IgnoredAny>,
    pool: Option<IgnoredAny>,
    trusted_application: Option<IgnoredAny>,
    static_route: Option<IgnoredAny>,
    federated_partner: Option<IgnoredAny>,
    user: Option<IgnoredAny>,
    voice: Option<IgnoredAny>,
    edge: Option<IgnoredAny>,
    relay: Option<IgnoredAny>,
}

// One wrapper per section: each reads its key and ignores the rest of the file.
macro_rules! section {
    ($name:ident, $key:ident, $ty:ty) => {
        #[derive(Deserialize)]
        struct $name {
            #[serde(default)]
            $key: Vec<$ty>,
        }
    };
}
section!(SipDomains, sip_domain, SipDomainConfig);
section!(Sites, site, SiteConfig);
section!(Pools, pool, PoolConfig);
section!(TrustedApps, trusted_application, TrustedApplicationConfig);
section!(StaticRoutes, static_route, StaticRouteConfig);
section!(Partners, federated_partner, FederatedPartnerConfig);
section!(Users, user, UserConfig);

// `[relay]` is one table, not an array.
#[derive(Deserialize)]
struct Relay {
    #[serde(default)]
    relay: Option<crate::relay::RelayConfig>,
}

fn read<T: DeserializeOwned>(sink: &mut Sink<'_>) -> Option<T> {
    match toml::from_str::<T>(sink.text) {
        Ok(v) => Some(v),
        Err(e) => {
            sink.toml(&e);
            None
        }
    }
}

impl Topology {
    /// Parses and validates a whole topology file; `file` names it in errors. Returns every
    /// problem found, in file order.
    pub fn parse(text: &str, file: &str) -> Result<Topology, Errors> {
        let mut sink = Sink::new(text, file);
        // A file that is not TOML has nothing more to say.
        let table = match toml::from_str::<toml::Table>(text) {
            Ok(t) => t,
            Err(e) => {
                sink.toml(&e);
                return Err(Errors(sink.errors));
            }
        };
        // Unknown top-level keys are reported; the known sections are still read.
        let _ = read::<TopLevel>(&mut sink);
        let mut t = Topology {
            has_voice: table.contains_key("voice"),
            has_edge: table.contains_key("edge"),
            ..Topology::default()
        };
        let results = [
            read::<SipDomains>(&mut sink).map(|s| t.sip_domains = s.sip_domain),
            read::<Sites>(&mut sink).map(|s| t.sites = s.site),
            read::<Pools>(&mut sink).map(|s| t.pools = s.pool),
            read::<TrustedApps>(&mut sink).map(|s| t.trusted_applications = s.trusted_application),
            read::<StaticRoutes>(&mut sink).map(|s| t.static_routes = s.static_route),
            read::<Partners>(&mut sink).map(|s| t.federated_partners = s.federated_partner),
            read::<Users>(&mut sink).map(|s| t.users = s.user),
        ];
        let relay = read::<Relay>(&mut sink);
        // Each check runs when the sections it refers to were read: a section that failed
        // to parse would otherwise show up as spurious "not defined" errors.
        let [domains, sites, pools, apps, routes, partners, users] = results.map(|r| r.is_some());
        let read = crate::validate::Read {
            domains,
            sites,
            pools,
            apps,
            routes,
            partners,
            users,
        };
        crate::validate::validate(&t, &read, &mut sink);
        if let Some(r) = relay.and_then(|r| r.relay) {
            crate::relay::validate(&r, &mut sink);
            t.relay = Some(r);
        }
        if t.has_voice
            && let Err(e) = voice::Engine::from_topology_str(text, file)
        {
            sink.errors.push(from_voice(e, file));
        }
        if t.has_edge {
            match federation::parse_topology(text, file) {
                Err(e) => sink.errors.push(from_edge(e, file)),
                // The edge named in [edge] is one of our pools with the edge role.
                Ok(edge) if read.pools && !t.pools.is_empty() => {
                    let ok = t
                        .pool(&edge.fqdn)
                        .is_some_and(|p| p.has_role(crate::model::Role::Edge));
                    if !ok {
                        let at = key_offset(text, "edge", "fqdn");
                        sink.push(
                            at..at,
                            "edge.fqdn",
                            format!(
                                "`{}` is not a pool of the topology with the edge role",
                                edge.fqdn
                            ),
                            "set edge.fqdn to the FQDN of the [[pool]] that has roles = [\"edge\"], or add that role to the pool",
                        );
                    }
                }
                Ok(_) => {}
            }
        }
        if sink.errors.is_empty() {
            Ok(t)
        } else {
            let mut errors = sink.errors;
            errors.sort_by_key(|e| (e.line, e.column));
            errors.dedup();
            Err(Errors(errors))
        }
    }

    /// The pool with this FQDN (case-insensitive).
    pub fn pool(&self, fqdn: &str) -> Option<&PoolConfig> {
        self.pools
            .iter()
            .find(|p| p.fqdn.get_ref().eq_ignore_ascii_case(fqdn))
    }

    /// The SIP domains, lowercase.
    pub fn domains(&self) -> Vec<String> {
        self.sip_domains
            .iter()
            .map(|d| d.name.get_ref().to_ascii_lowercase())
            .collect()
    }

    /// The relay's settings from `[relay]` (`None` without the section), with the first SIP
    /// domain as the default realm.
    pub fn relay_plan(&self) -> Option<crate::relay::RelayPlan> {
        let realm = self.domains().into_iter().next().unwrap_or_default();
        self.relay.as_ref().and_then(|r| r.plan(&realm))
    }

    /// The pool a single-process server runs: the first pool with the front-end role.
    pub fn local_pool(&self) -> Option<&PoolConfig> {
        self.pools
            .iter()
            .find(|p| p.has_role(crate::model::Role::FrontEnd))
    }
}

// Byte offset of `key = …` inside the table `[table]`, else of the table header, else 0.
fn key_offset(text: &str, table: &str, key: &str) -> usize {
    let header = format!("[{table}]");
    let mut offset = 0;
    let mut inside = false;
    let mut found_header = None;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == header;
            if inside {
                found_header = Some(offset + (line.len() - line.trim_start().len()));
            }
        } else if inside
            && t.split_once('=')
                .is_some_and(|(k, _)| k.trim().trim_matches('"') == key)
        {
            return offset + (line.len() - line.trim_start().len());
        }
        offset += line.len();
    }
    found_header.unwrap_or(0)
}

fn from_voice(e: voice::ConfigError, file: &str) -> ConfigError {
    match e {
        voice::ConfigError::Toml {
            location,
            field,
            message,
            fix,
        } => ConfigError {
            file: location.file,
            line: location.line,
            column: location.column,
            field,
            problem: message,
            fix,
        },
        voice::ConfigError::Invalid {
            location,
            field,
            problem,
            fix,
        } => ConfigError {
            file: location.file,
            line: location.line,
            column: location.column,
            field,
            problem: problem.to_string(),
            fix,
        },
        voice::ConfigError::MissingVoice { .. } => ConfigError {
            file: file.to_owned(),
            line: 1,
            column: 1,
            field: "voice".to_owned(),
            problem: "no [voice] section".to_owned(),
            fix: "add a [voice] table".to_owned(),
        },
    }
}

fn from_edge(e: federation::LoadError, file: &str) -> ConfigError {
    match e {
        federation::LoadError::Invalid(c) => ConfigError {
            file: c.file,
            line: c.line,
            column: c.column,
            field: c.field,
            problem: c.problem,
            fix: c.fix,
        },
        other => ConfigError {
            file: file.to_owned(),
            line: 1,
            column: 1,
            field: "edge".to_owned(),
            problem: other.to_string(),
            fix: "add a complete [edge] table (see examples/seed-003/)".to_owned(),
        },
    }
}
