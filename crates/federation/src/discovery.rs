//! Which DNS names are asked, in which order, and what an answer means. The lookups
//! themselves belong to the transport layer; here a DNS answer is an input ([`Dns`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, line_col};

/// The port a federation SRV record names by convention (MS-SIP.md §5.1).
pub const FEDERATION_PORT: u16 = 5061;

/// An SRV answer: the target host and port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SrvTarget {
    /// Target host, lower-cased.
    pub host: String,
    /// Target port.
    pub port: u16,
}

impl SrvTarget {
    /// Builds a target.
    pub fn new(host: &str, port: u16) -> Self {
        Self {
            host: host.to_ascii_lowercase(),
            port,
        }
    }

    /// Parses `host:port`.
    pub fn parse(s: &str) -> Option<Self> {
        let (h, p) = s.rsplit_once(':')?;
        let port = p.parse().ok()?;
        (!h.is_empty()).then(|| Self::new(h, port))
    }
}

impl fmt::Display for SrvTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// The DNS as the deciding component sees it: SRV answers and names with address records.
#[derive(Debug, Clone, Default)]
pub struct Dns {
    srv: BTreeMap<String, SrvTarget>,
    a: BTreeSet<String>,
}

impl Dns {
    /// An empty DNS (every lookup fails).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an SRV answer for `name`.
    pub fn add_srv(&mut self, name: &str, target: SrvTarget) {
        self.srv.insert(name.to_ascii_lowercase(), target);
    }

    /// Adds an address record for `host`.
    pub fn add_a(&mut self, host: &str) {
        self.a.insert(host.to_ascii_lowercase());
    }

    /// The SRV answer for `name`.
    pub fn srv(&self, name: &str) -> Option<&SrvTarget> {
        self.srv.get(&name.to_ascii_lowercase())
    }

    /// Whether `host` has an address record.
    pub fn has_a(&self, host: &str) -> bool {
        self.a.contains(&host.to_ascii_lowercase())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsFile {
    #[serde(default)]
    a: Vec<String>,
    #[serde(default)]
    srv: BTreeMap<String, toml::Spanned<String>>,
}

/// Reads DNS answers from TOML (`a = ["host", …]` and a `[srv]` table of
/// `"_service._proto.domain" = "host:port"`), for tests and `convene ctl edge test --dns`.
pub fn parse_dns(text: &str, file: &str) -> Result<Dns, Box<ConfigError>> {
    let located = |offset: usize, field: String, problem: String, fix: &str| {
        let (line, column) = line_col(text, offset);
        Box::new(ConfigError {
            file: file.to_owned(),
            line,
            column,
            field,
            problem,
            fix: fix.to_owned(),
        })
    };
    let f: DnsFile = toml::from_str(text).map_err(|e| {
        located(
            e.span().map_or(0, |s| s.start),
            "dns".to_owned(),
            e.message().to_owned(),
            "write `a = [\"host\", …]` and a [srv] table of \"name\" = \"host:port\"",
        )
    })?;
    let mut dns = Dns::new();
    for host in &f.a {
        dns.add_a(host);
    }
    for (name, target) in &f.srv {
        let t = SrvTarget::parse(target.get_ref()).ok_or_else(|| {
            located(
                target.span().start,
                format!("srv.{name:?}"),
                format!("{:?} is not host:port", target.get_ref()),
                "write the SRV answer as \"host:port\", e.g. \"sip.contoso.com:5061\"",
            )
        })?;
        dns.add_srv(name, t);
    }
    Ok(dns)
}

/// The SRV name an access edge resolves to find a partner's edge (MS-SIP.md §5.1, §5.3).
pub fn federation_srv_name(domain: &str) -> String {
    format!("_sipfederationtls._tcp.{}", domain.to_ascii_lowercase())
}

/// Whether an SRV target lies inside `domain` (strict DNS naming, MS-SIP.md §5.3: the
/// target must be the domain itself or a host directly in it).
pub fn srv_target_in_domain(target: &str, domain: &str) -> bool {
    let (t, d) = (target.to_ascii_lowercase(), domain.to_ascii_lowercase());
    t == d
        || t.strip_suffix(&d)
            .and_then(|head| head.strip_suffix('.'))
            .is_some_and(|label| !label.is_empty() && !label.contains('.'))
}

/// One name a client looks up to find the organiser's edge for an anonymous join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "name", rename_all = "lowercase")]
pub enum ClientQuery {
    /// An SRV lookup; a hit gives host and port.
    Srv(String),
    /// An address lookup; a hit is tried on 443, then 5061.
    A(String),
}

impl fmt::Display for ClientQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientQuery::Srv(n) => write!(f, "SRV {n}"),
            ClientQuery::A(n) => write!(f, "A {n}"),
        }
    }
}

/// The ports a client tries on a host found by an address record, in order (field: seed-003).
pub const A_RECORD_PORTS: [u16; 2] = [443, 5061];

/// The names a Lync 2013 client queries, in order, to reach the organiser's edge for an
/// anonymous join (field: seed-003 trace; the seed's "sipinteral" is read as `sipinternal`,
/// the name MS-SIP.md §5.2 and pidgin-sipe use).
pub fn anonymous_join_queries(domain: &str) -> Vec<ClientQuery> {
    let d = domain.to_ascii_lowercase();
    vec![
        ClientQuery::Srv(format!("_sipinternaltls._tcp.{d}")),
        ClientQuery::Srv(format!("_sip._tls.{d}")),
        ClientQuery::A(format!("sipinternal.{d}")),
        ClientQuery::A(format!("sip.{d}")),
        ClientQuery::A(format!("sipexternal.{d}")),
    ]
}

/// Where the client sends its anonymous INVITE: the first query that answered, and the
/// host/port candidates in the order the client tries them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientTarget {
    /// The query that answered.
    pub query: ClientQuery,
    /// The host to connect to.
    pub host: String,
    /// Ports in the order tried.
    pub ports: Vec<u16>,
}

/// Runs the client's lookup order against `dns`; `None` if nothing answers.
pub fn anonymous_join_target(domain: &str, dns: &Dns) -> (Vec<ClientQuery>, Option<ClientTarget>) {
    let mut asked = Vec::new();
    for q in anonymous_join_queries(domain) {
        asked.push(q.clone());
        let hit = match &q {
            ClientQuery::Srv(n) => dns.srv(n).map(|t| (t.host.clone(), vec![t.port])),
            ClientQuery::A(n) => dns.has_a(n).then(|| (n.clone(), A_RECORD_PORTS.to_vec())),
        };
        if let Some((host, ports)) = hit {
            return (
                asked,
                Some(ClientTarget {
                    query: q,
                    host,
                    ports,
                }),
            );
        }
    }
    (asked, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_order_is_the_seed_order() {
        let names: Vec<String> = anonymous_join_queries("TailspinToys.com")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            [
                "SRV _sipinternaltls._tcp.tailspintoys.com",
                "SRV _sip._tls.tailspintoys.com",
                "A sipinternal.tailspintoys.com",
                "A sip.tailspintoys.com",
                "A sipexternal.tailspintoys.com",
            ]
        );
    }

    #[test]
    fn srv_hit_uses_its_port_and_a_hit_tries_443_then_5061() {
        let mut dns = Dns::new();
        dns.add_srv(
            "_sip._tls.tailspintoys.com",
            SrvTarget::new("sip.tailspintoys.com", 5061),
        );
        dns.add_a("sip.tailspintoys.com");
        let (asked, t) = anonymous_join_target("tailspintoys.com", &dns);
        let t = t.unwrap();
        assert_eq!(asked.len(), 2);
        assert_eq!(
            (t.host.as_str(), t.ports.as_slice()),
            ("sip.tailspintoys.com", &[5061][..])
        );

        let mut dns = Dns::new();
        dns.add_a("sipexternal.contoso.com");
        let (asked, t) = anonymous_join_target("contoso.com", &dns);
        assert_eq!(asked.len(), 5);
        assert_eq!(t.unwrap().ports, vec![443, 5061]);

        let (asked, t) = anonymous_join_target("nowhere.test", &Dns::new());
        assert_eq!((asked.len(), t), (5, None));
    }

    #[test]
    fn dns_files_parse_and_bad_answers_are_located() {
        let dns = parse_dns(
            "a = [\"sip.contoso.com\"]\n[srv]\n\"_sip._tls.x.com\" = \"sip.x.com:443\"\n",
            "dns.toml",
        )
        .unwrap();
        assert!(dns.has_a("SIP.contoso.com"));
        assert_eq!(
            dns.srv("_sip._tls.x.com"),
            Some(&SrvTarget::new("sip.x.com", 443))
        );
        let e = parse_dns("[srv]\n\"_sip._tls.x.com\" = \"sip.x.com\"\n", "dns.toml").unwrap_err();
        assert_eq!((e.line, e.column), (2, 21));
        let e = parse_dns("aaa = 1\n", "dns.toml").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.problem.contains("unknown field"), "{}", e.problem);
    }

    #[test]
    fn strict_dns_naming() {
        assert!(srv_target_in_domain(
            "sip.tailspintoys.com",
            "tailspintoys.com"
        ));
        assert!(srv_target_in_domain("tailspintoys.com", "tailspintoys.com"));
        assert!(!srv_target_in_domain(
            "a.b.tailspintoys.com",
            "tailspintoys.com"
        ));
        assert!(!srv_target_in_domain(
            "sipfed.online.lync.com",
            "contoso.onmicrosoft.com"
        ));
        assert!(!srv_target_in_domain(
            "xtailspintoys.com",
            "tailspintoys.com"
        ));
        assert_eq!(
            federation_srv_name("Contoso.com"),
            "_sipfederationtls._tcp.contoso.com"
        );
    }
}
