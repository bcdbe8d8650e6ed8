//! Locating SIP servers over DNS (RFC 3263 §4) with hickory-resolver on tokio: NAPTR → SRV →
//! A/AAAA, the SRV and address fallbacks, and the Lync SRV names. Every query made is
//! recorded, so each routing decision can be logged and each failure names what was asked.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::Deserialize;
use sip_msg::{SipUri, Uri, Via};

use crate::error::{ConfigError, LocateError, Outcome, Queries, Query, QueryType};
use crate::lync::{LyncService, host_fallbacks};
use crate::naptr::{self, NaptrRecord};
use crate::plan::{Plan, default_transport, fallback_srv, plan, plan_uri, plan_via};
use crate::srv::{self, SrvRecord, WeightRng, XorShiftRng};
use crate::target::{Target, Transport};

/// How the locator reaches DNS (the `[dns]` configuration table).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocatorConfig {
    /// DNS servers (`"ip:port"`), asked over UDP with TCP for truncated answers; empty uses
    /// the system's `/etc/resolv.conf`.
    #[serde(default)]
    pub servers: Vec<SocketAddr>,
    /// How long to wait for one answer, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How many times a query is sent before it times out.
    #[serde(default = "default_attempts")]
    pub attempts: usize,
    /// List IPv6 addresses of a host before its IPv4 ones.
    #[serde(default)]
    pub prefer_ipv6: bool,
    /// Answer address lookups from `/etc/hosts` first.
    #[serde(default = "default_true")]
    pub hosts_file: bool,
}

fn default_timeout_ms() -> u64 {
    2000
}
fn default_attempts() -> usize {
    2
}
fn default_true() -> bool {
    true
}

impl Default for LocatorConfig {
    fn default() -> Self {
        Self {
            servers: Vec::new(),
            timeout_ms: default_timeout_ms(),
            attempts: default_attempts(),
            prefer_ipv6: false,
            hosts_file: true,
        }
    }
}

impl LocatorConfig {
    /// Asks exactly `servers`, nothing from the system, with the given timeout and attempts.
    pub fn servers(servers: Vec<SocketAddr>, timeout: Duration, attempts: usize) -> Self {
        Self {
            servers,
            timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            attempts,
            prefer_ipv6: false,
            hosts_file: false,
        }
    }
}

/// The targets found for a URI or service, in the order to try them, and the queries made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Targets in order (RFC 3263 §4.3: try the first, fail over to the next).
    pub targets: Vec<Target>,
    /// Every query made, in order.
    pub queried: Queries,
}

/// What answered a Lync client's discovery (MS-SIP.md §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LyncHit {
    /// An SRV name answered.
    Srv(LyncService),
    /// No SRV name answered; this host's address record did.
    Host(String),
}

/// Locates SIP servers: one per process, shared (it holds hickory's cache).
pub struct Locator {
    resolver: TokioResolver,
    rng: Mutex<Box<dyn WeightRng>>,
    prefer_ipv6: bool,
}

impl std::fmt::Debug for Locator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locator")
            .field("prefer_ipv6", &self.prefer_ipv6)
            .finish_non_exhaustive()
    }
}

impl Locator {
    /// A locator with SRV weighting drawn from process entropy.
    pub fn new(config: &LocatorConfig) -> Result<Self, ConfigError> {
        Self::with_rng(config, Box::new(XorShiftRng::from_entropy()))
    }

    /// A locator whose SRV weighting draws from `rng` (inject a scripted one in tests).
    pub fn with_rng(config: &LocatorConfig, rng: Box<dyn WeightRng>) -> Result<Self, ConfigError> {
        if config.timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                field: "timeout_ms",
                problem: "is 0, so no query could ever be answered".into(),
                fix: "set it to the milliseconds to wait for one answer, e.g. 2000",
            });
        }
        if config.attempts == 0 {
            return Err(ConfigError::Invalid {
                field: "attempts",
                problem: "is 0, so no query would be sent".into(),
                fix: "set it to 1 or more (2 is the default)",
            });
        }
        let rc = if config.servers.is_empty() {
            hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| ConfigError::System(e.to_string()))?
                .0
        } else {
            ResolverConfig::from_name_servers(
                config
                    .servers
                    .iter()
                    .map(|sa| {
                        let mut ns = NameServerConfig::udp_and_tcp(sa.ip());
                        for c in &mut ns.connections {
                            c.port = sa.port();
                        }
                        ns
                    })
                    .collect(),
            )
        };
        let mut opts = ResolverOpts::default();
        opts.timeout = Duration::from_millis(config.timeout_ms);
        opts.attempts = config.attempts;
        opts.use_hosts_file = if config.hosts_file {
            ResolveHosts::Auto
        } else {
            ResolveHosts::Never
        };
        let resolver = TokioResolver::builder_with_config(rc, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .map_err(|e| ConfigError::Resolver(e.to_string()))?;
        Ok(Self {
            resolver,
            rng: Mutex::new(rng),
            prefer_ipv6: config.prefer_ipv6,
        })
    }

    /// Locates the servers for a `sip:`/`sips:` URI (RFC 3263 §4).
    pub async fn locate_uri(&self, uri: &Uri) -> Result<Resolution, LocateError> {
        let p = plan_uri(uri)?;
        self.run(p).await
    }

    /// Locates the servers for a SIP URI (RFC 3263 §4).
    pub async fn locate(&self, uri: &SipUri) -> Result<Resolution, LocateError> {
        let p = plan(uri)?;
        self.run(p).await
    }

    /// Locates where to send a response when the request's connection or source failed:
    /// the topmost Via's sent-by (RFC 3263 §5).
    pub async fn locate_via(&self, via: &Via) -> Result<Resolution, LocateError> {
        let p = plan_via(via)?;
        self.run(p).await
    }

    async fn run(&self, p: Plan) -> Result<Resolution, LocateError> {
        let (domain, mut walk) = match &p {
            Plan::Numeric(t) => {
                return Ok(Resolution {
                    targets: vec![t.clone()],
                    queried: Queries::default(),
                });
            }
            Plan::Address { host, .. } => (host.clone(), Walk::new(self, host)),
            Plan::Srv { domain, .. } | Plan::Naptr { domain, .. } => {
                (domain.clone(), Walk::new(self, domain))
            }
        };
        let targets = walk.plan(p).await?;
        walk.finish(&domain, targets)
    }

    /// Locates a Lync service of a SIP domain: its SRV name, then the targets' addresses
    /// (MS-SIP.md §5.1), e.g. `_sipfederationtls._tcp.<domain>` for federation.
    pub async fn locate_service(
        &self,
        service: LyncService,
        domain: &str,
    ) -> Result<Resolution, LocateError> {
        let name = service.srv_name(domain);
        let mut walk = Walk::new(self, domain);
        let targets = walk.srv_targets(service.transport(), &name).await?;
        walk.finish(domain, targets)
    }

    /// Finds a domain's server the way a Lync client does (MS-SIP.md §5.2): `services` in order
    /// (e.g. [`LyncService::CLIENT_SIGN_IN`] or [`LyncService::ANONYMOUS_JOIN`]), the first that
    /// answers wins; then the host fallbacks `sipinternal`, `sip`, `sipexternal` over TLS on 443
    /// then 5061.
    pub async fn discover_lync(
        &self,
        domain: &str,
        services: &[LyncService],
    ) -> Result<(LyncHit, Resolution), LocateError> {
        let mut walk = Walk::new(self, domain);
        for s in services {
            let targets = walk.srv_targets(s.transport(), &s.srv_name(domain)).await?;
            if !targets.is_empty() {
                return Ok((LyncHit::Srv(*s), walk.finish(domain, targets)?));
            }
        }
        for h in host_fallbacks(domain) {
            let ips = walk.addrs(&h.host).await?;
            if !ips.is_empty() {
                let targets = h
                    .ports
                    .iter()
                    .flat_map(|port| {
                        ips.iter().map(|ip| {
                            Target::new(Transport::Tls, SocketAddr::new(*ip, *port), h.host.clone())
                        })
                    })
                    .collect();
                return Ok((LyncHit::Host(h.host), walk.finish(domain, targets)?));
            }
        }
        Err(walk.not_found(domain))
    }
}

/// Why a walk stopped early: the DNS server is not answering.
enum Stop {
    Timeout,
    Unreachable,
}

/// One resolution's queries, with the addresses already looked up.
struct Walk<'a> {
    loc: &'a Locator,
    queried: Vec<Query>,
    addr_cache: HashMap<String, Vec<IpAddr>>,
    srv_cache: HashMap<String, Vec<SrvRecord>>,
    /// Whether any SRV query returned records (declines included).
    srv_seen: bool,
    domain: String,
}

impl<'a> Walk<'a> {
    fn new(loc: &'a Locator, domain: &str) -> Self {
        Self {
            loc,
            queried: Vec::new(),
            addr_cache: HashMap::new(),
            srv_cache: HashMap::new(),
            srv_seen: false,
            domain: domain.to_owned(),
        }
    }

    fn finish(self, domain: &str, targets: Vec<Target>) -> Result<Resolution, LocateError> {
        if targets.is_empty() {
            return Err(self.not_found(domain));
        }
        tracing::debug!(
            domain,
            targets = ?targets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            queried = %Queries(self.queried.clone()),
            "located"
        );
        Ok(Resolution {
            targets,
            queried: Queries(self.queried),
        })
    }

    fn not_found(self, domain: &str) -> LocateError {
        LocateError::NotFound {
            domain: domain.to_owned(),
            queried: Queries(self.queried),
        }
    }

    fn stopped(&mut self, s: Stop) -> LocateError {
        let domain = self.domain.clone();
        let queried = Queries(std::mem::take(&mut self.queried));
        match s {
            Stop::Timeout => LocateError::Timeout { domain, queried },
            Stop::Unreachable => LocateError::Unreachable { domain, queried },
        }
    }

    /// RFC 3263 §4.1/§4.2 for each plan that needs DNS.
    async fn plan(&mut self, p: Plan) -> Result<Vec<Target>, LocateError> {
        match p {
            Plan::Numeric(t) => Ok(vec![t]),
            // RFC 3263 §4.2: an explicit port: "a normal A or AAAA record lookup of the domain name".
            Plan::Address {
                host,
                port,
                transport,
            } => self.address_targets(&host, port, transport).await,
            // RFC 3263 §4.2: a transport but no port: SRV for that transport; without SRV
            // records, A/AAAA at the transport's default port.
            Plan::Srv { domain, transport } => {
                let name = format!("{}.{domain}", transport.srv_prefix());
                let found = self.srv_targets(transport, &name).await?;
                if !found.is_empty() || self.srv_seen {
                    return Ok(found);
                }
                self.address_targets(&domain, transport.default_port(), transport)
                    .await
            }
            Plan::Naptr { domain, secure } => self.naptr_chain(&domain, secure).await,
        }
    }

    /// RFC 3263 §4.1: NAPTR; without usable NAPTR answers (or when the SRV names they give
    /// hold no records), SRV for each transport; only when no SRV record exists at all,
    /// A/AAAA with UDP (SIP) or TLS (SIPS) on the default port (RFC 3263 §4.2: "if no SRV
    /// records were found"). SRV answers that decline the service (".") count as found.
    async fn naptr_chain(
        &mut self,
        domain: &str,
        secure: bool,
    ) -> Result<Vec<Target>, LocateError> {
        let records = self.naptr(domain).await?;
        let selected = naptr::select(&records, secure);
        let mut targets = Vec::new();
        for (t, name) in &selected {
            targets.extend(self.srv_targets(*t, name).await?);
        }
        if targets.is_empty() && (selected.is_empty() || !self.srv_seen) {
            for (t, name) in fallback_srv(domain, secure) {
                targets.extend(self.srv_targets(t, &name).await?);
            }
        }
        if targets.is_empty() && !self.srv_seen {
            let t = default_transport(secure);
            targets = self.address_targets(domain, t.default_port(), t).await?;
        }
        Ok(targets)
    }

    async fn address_targets(
        &mut self,
        host: &str,
        port: u16,
        transport: Transport,
    ) -> Result<Vec<Target>, LocateError> {
        Ok(self
            .addrs(host)
            .await?
            .into_iter()
            .map(|ip| Target::new(transport, SocketAddr::new(ip, port), host))
            .collect())
    }

    /// An SRV name's targets (RFC 2782 order), each resolved to its addresses.
    async fn srv_targets(
        &mut self,
        transport: Transport,
        name: &str,
    ) -> Result<Vec<Target>, LocateError> {
        let records = self.srv(name).await?;
        let ordered = {
            let mut rng = self.loc.rng.lock().unwrap_or_else(|e| e.into_inner());
            srv::order(records, rng.as_mut())
        };
        let mut out = Vec::new();
        for r in ordered {
            for ip in self.addrs(&r.target).await? {
                out.push(Target::new(
                    transport,
                    SocketAddr::new(ip, r.port),
                    r.target.clone(),
                ));
            }
        }
        Ok(out)
    }

    async fn naptr(&mut self, domain: &str) -> Result<Vec<NaptrRecord>, LocateError> {
        let Some(lookup) = self.query(QueryType::Naptr, domain).await? else {
            return Ok(Vec::new());
        };
        let recs: Vec<NaptrRecord> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::NAPTR(n) => Some(NaptrRecord {
                    order: n.order,
                    preference: n.preference,
                    flags: String::from_utf8_lossy(&n.flags).into_owned(),
                    services: String::from_utf8_lossy(&n.services).into_owned(),
                    regexp: String::from_utf8_lossy(&n.regexp).into_owned(),
                    replacement: plain(&n.replacement),
                }),
                _ => None,
            })
            .collect();
        self.set_count(recs.len());
        Ok(recs)
    }

    /// A name's SRV records, declines included; each name asked once per walk.
    async fn srv(&mut self, name: &str) -> Result<Vec<SrvRecord>, LocateError> {
        let key = name.to_ascii_lowercase();
        if let Some(recs) = self.srv_cache.get(&key) {
            return Ok(recs.clone());
        }
        let recs: Vec<SrvRecord> = match self.query(QueryType::Srv, name).await? {
            Some(lookup) => lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(s) => Some(SrvRecord::new(
                        s.priority,
                        s.weight,
                        s.port,
                        plain(&s.target),
                    )),
                    _ => None,
                })
                .collect(),
            None => Vec::new(),
        };
        if !recs.is_empty() {
            self.srv_seen = true;
            if let Some(q) = self.queried.last_mut() {
                // RFC 2782: only "." answers: the service is decidedly not available.
                q.outcome = if recs.iter().all(SrvRecord::is_decline) {
                    Outcome::Declined
                } else {
                    Outcome::Answers(recs.len())
                };
            }
        } else if let Some(q) = self.queried.last_mut()
            && matches!(q.outcome, Outcome::Answers(_))
        {
            q.outcome = Outcome::NoRecords;
        }
        self.srv_cache.insert(key, recs.clone());
        Ok(recs)
    }

    /// A host's addresses: A then AAAA (or AAAA first with `prefer_ipv6`), each host asked once.
    async fn addrs(&mut self, host: &str) -> Result<Vec<IpAddr>, LocateError> {
        let host = host.to_ascii_lowercase();
        if let Some(ips) = self.addr_cache.get(&host) {
            return Ok(ips.clone());
        }
        let order = if self.loc.prefer_ipv6 {
            [QueryType::Aaaa, QueryType::A]
        } else {
            [QueryType::A, QueryType::Aaaa]
        };
        let mut ips = Vec::new();
        for qt in order {
            let Some(lookup) = self.query(qt, &host).await? else {
                continue;
            };
            let found: Vec<IpAddr> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::A(a) if qt == QueryType::A => Some(IpAddr::V4(a.0)),
                    RData::AAAA(a) if qt == QueryType::Aaaa => Some(IpAddr::V6(a.0)),
                    _ => None,
                })
                .collect();
            self.set_count(found.len());
            ips.extend(found);
        }
        self.addr_cache.insert(host, ips.clone());
        Ok(ips)
    }

    /// Corrects the last query's outcome to the number of usable answers of the asked type.
    fn set_count(&mut self, n: usize) {
        if let Some(q) = self.queried.last_mut() {
            q.outcome = if n == 0 {
                Outcome::NoRecords
            } else {
                Outcome::Answers(n)
            };
        }
    }

    /// Sends one query and records it; `None` for NXDOMAIN, no records or a server error;
    /// stops the walk when the server does not answer.
    async fn query(&mut self, qt: QueryType, name: &str) -> Result<Option<Lookup>, LocateError> {
        let fqdn = format!("{}.", name.strip_suffix('.').unwrap_or(name));
        let dns_name = Name::from_ascii(&fqdn).map_err(|e| LocateError::BadName {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        let rtype = match qt {
            QueryType::Naptr => RecordType::NAPTR,
            QueryType::Srv => RecordType::SRV,
            QueryType::A => RecordType::A,
            QueryType::Aaaa => RecordType::AAAA,
        };
        let result = self.loc.resolver.lookup(dns_name, rtype).await;
        let (outcome, lookup, stop) = match result {
            Ok(l) => (Outcome::Answers(l.answers().len()), Some(l), None),
            Err(e) => {
                let (o, s) = classify(&e);
                (o, None, s)
            }
        };
        tracing::debug!(%qt, name, %outcome, "DNS query");
        self.queried.push(Query {
            rtype: qt,
            name: name.to_owned(),
            outcome,
        });
        match stop {
            Some(s) => Err(self.stopped(s)),
            None => Ok(lookup),
        }
    }
}

/// Sorts a resolver error into a query outcome, and whether the walk must stop.
fn classify(e: &NetError) -> (Outcome, Option<Stop>) {
    if e.is_nx_domain() {
        return (Outcome::NxDomain, None);
    }
    if e.is_no_records_found() {
        return (Outcome::NoRecords, None);
    }
    match e {
        NetError::Timeout => (Outcome::Timeout, Some(Stop::Timeout)),
        NetError::Io(_) | NetError::NoConnections => {
            (Outcome::Unreachable(e.to_string()), Some(Stop::Unreachable))
        }
        other => (Outcome::Failed(other.to_string()), None),
    }
}

/// A DNS name as plain text: lower case, no final dot.
fn plain(n: &Name) -> String {
    let s = n.to_ascii();
    s.strip_suffix('.').unwrap_or(&s).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn config_defaults_and_typos() {
        let c: LocatorConfig =
            toml::from_str("servers = [\"127.0.0.1:5353\", \"[::1]:53\"]\ntimeout_ms = 500")
                .unwrap();
        assert_eq!(
            c.servers,
            vec![
                "127.0.0.1:5353".parse::<SocketAddr>().unwrap(),
                "[::1]:53".parse().unwrap()
            ]
        );
        assert_eq!(
            (c.timeout_ms, c.attempts, c.prefer_ipv6, c.hosts_file),
            (500, 2, false, true)
        );
        assert_eq!(
            toml::from_str::<LocatorConfig>("").unwrap(),
            LocatorConfig::default()
        );
        let e = toml::from_str::<LocatorConfig>("server = []").unwrap_err();
        assert!(e.to_string().contains("unknown field `server`"), "{e}");
        let e = toml::from_str::<LocatorConfig>("servers = [\"dns.example\"]").unwrap_err();
        assert!(e.to_string().contains("servers"), "{e}");
    }

    #[tokio::test]
    async fn zero_timeout_or_attempts_are_refused() {
        let ok = LocatorConfig::servers(
            vec!["127.0.0.1:53".parse().unwrap()],
            Duration::from_secs(1),
            1,
        );
        assert!(Locator::new(&ok).is_ok());
        let e = Locator::new(&LocatorConfig {
            timeout_ms: 0,
            ..ok.clone()
        })
        .unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::Invalid {
                    field: "timeout_ms",
                    ..
                }
            ),
            "{e}"
        );
        let e = Locator::new(&LocatorConfig { attempts: 0, ..ok }).unwrap_err();
        assert_eq!(
            e.to_string(),
            "dns.attempts is 0, so no query would be sent: set it to 1 or more (2 is the default)"
        );
    }

    #[test]
    fn resolver_errors_sort_into_outcomes() {
        let (o, s) = classify(&NetError::Timeout);
        assert_eq!(o, Outcome::Timeout);
        assert!(matches!(s, Some(Stop::Timeout)));
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let (o, s) = classify(&NetError::Io(Arc::new(io)));
        assert!(matches!(o, Outcome::Unreachable(_)));
        assert!(matches!(s, Some(Stop::Unreachable)));
        let (o, s) = classify(&NetError::Message("odd"));
        assert_eq!(o, Outcome::Failed("odd".into()));
        assert!(s.is_none());
    }

    #[test]
    fn names_are_plain() {
        let n = Name::from_ascii("Sip.Example.COM.").unwrap();
        assert_eq!(plain(&n), "sip.example.com");
    }
}
