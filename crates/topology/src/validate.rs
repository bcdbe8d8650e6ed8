//! What serde cannot check: names look right, nothing is defined twice, every reference
//! names something defined, ports do not collide, every role Convene runs has a
//! certificate. Every problem is collected; none stops the others.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use toml::Spanned;

use crate::error::Sink;
use crate::load::Topology;
use crate::model::Role;

const DOMAIN_FIX: &str = "write a DNS name such as example.test (letters, digits, '-' and '.', \
                          no scheme, no port)";
const FQDN_FIX: &str = "write a fully qualified domain name such as fe.example.test (at least \
                        two labels; letters, digits, '-' and '.')";

/// Whether `s` is a DNS name: dot-separated labels of letters, digits and inner hyphens
/// (RFC 1035 §2.3.1, with leading digits allowed as RFC 1123 §2.1 does).
pub fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Whether `s` is a fully qualified domain name: a DNS name of at least two labels.
pub fn is_fqdn(s: &str) -> bool {
    is_domain(s) && s.contains('.')
}

/// Whether `name` is `domain` or a subdomain of it (case-insensitive).
pub fn in_domain(name: &str, domain: &str) -> bool {
    let (name, domain) = (name.to_ascii_lowercase(), domain.to_ascii_lowercase());
    name == domain
        || name
            .strip_suffix(&domain)
            .is_some_and(|head| head.ends_with('.'))
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// Reports the second and later occurrences of a key (case-insensitive).
fn duplicates<'a>(
    sink: &mut Sink<'_>,
    items: impl Iterator<Item = (&'a Spanned<String>, String)>,
    kind: &str,
) {
    // The first occurrence's offset only: its line:column is worked out when a duplicate is
    // reported (computing it for every value scanned the text once per value, quadratic in
    // the number of users).
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (value, field) in items {
        let key = value.get_ref().to_ascii_lowercase();
        if let Some(&first) = seen.get(&key) {
            let (line, column) = crate::error::line_col(sink.text, first);
            sink.push(
                value.span(),
                field,
                format!(
                    "{kind} `{}` is already defined at line {line}:{column}",
                    value.get_ref()
                ),
                format!(
                    "keep one {kind} `{}`: delete or rename this one",
                    value.get_ref()
                ),
            );
        } else {
            seen.insert(key, value.span().start);
        }
    }
}

/// Which sections were read without a TOML error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Read {
    pub(crate) domains: bool,
    pub(crate) sites: bool,
    pub(crate) pools: bool,
    pub(crate) apps: bool,
    pub(crate) routes: bool,
    pub(crate) partners: bool,
    pub(crate) users: bool,
}

/// Checks a parsed topology; problems go to `sink`. Each check runs only when the sections
/// it refers to were read.
pub(crate) fn validate(t: &Topology, read: &Read, sink: &mut Sink<'_>) {
    if read.domains {
        domains(t, sink);
    }
    if read.sites {
        sites(t, sink);
    }
    if read.pools && read.sites && read.apps {
        pools(t, sink);
    }
    if read.apps && read.pools {
        trusted_applications(t, sink);
    }
    if read.routes && read.domains {
        static_routes(t, read.pools, sink);
    }
    if read.partners && read.domains {
        partners(t, sink);
    }
    if read.users && read.domains {
        users(t, read.pools, sink);
    }
}

fn domains(t: &Topology, sink: &mut Sink<'_>) {
    if t.sip_domains.is_empty() {
        sink.push(
            0..0,
            "sip_domain",
            "the topology serves no SIP domain",
            "add [[sip_domain]] with the name of each SIP domain you serve, e.g. name = \"example.test\"",
        );
    }
    for (i, d) in t.sip_domains.iter().enumerate() {
        if !is_domain(d.name.get_ref()) {
            sink.push(
                d.name.span(),
                format!("sip_domain[{i}].name"),
                format!("{:?} is not a domain name", d.name.get_ref()),
                DOMAIN_FIX,
            );
        }
    }
    duplicates(
        sink,
        t.sip_domains
            .iter()
            .enumerate()
            .map(|(i, d)| (&d.name, format!("sip_domain[{i}].name"))),
        "SIP domain",
    );
}

fn sites(t: &Topology, sink: &mut Sink<'_>) {
    for (i, s) in t.sites.iter().enumerate() {
        if s.name.get_ref().trim().is_empty() {
            sink.push(
                s.name.span(),
                format!("site[{i}].name"),
                "the site name is empty",
                "give the site a name, e.g. name = \"HQ\"",
            );
        }
    }
    duplicates(
        sink,
        t.sites
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.name, format!("site[{i}].name"))),
        "site",
    );
}

fn pools(t: &Topology, sink: &mut Sink<'_>) {
    if !t.pools.iter().any(|p| p.has_role(Role::FrontEnd)) {
        sink.push(
            0..0,
            "pool",
            "no pool has the front-end role: nothing homes users",
            "add a [[pool]] with roles = [\"front-end\"]",
        );
    }
    let site_names: Vec<String> = t
        .sites
        .iter()
        .map(|s| s.name.get_ref().to_ascii_lowercase())
        .collect();
    // Pool FQDNs and machine FQDNs share one namespace: a name is one pool or one machine.
    let mut names: HashMap<String, String> = HashMap::new();
    for (i, p) in t.pools.iter().enumerate() {
        let fqdn = p.fqdn.get_ref();
        if !is_fqdn(fqdn) {
            sink.push(
                p.fqdn.span(),
                format!("pool[{i}].fqdn"),
                format!("{fqdn:?} is not an FQDN"),
                FQDN_FIX,
            );
        }
        let (line, column) = crate::error::line_col(sink.text, p.fqdn.span().start);
        if let Some(first) = names.get(&fqdn.to_ascii_lowercase()) {
            let problem = if first.contains(".machines[") {
                format!("`{fqdn}` is already the name of a machine: {first}")
            } else {
                format!("two pools have the FQDN `{fqdn}` (the other is {first})")
            };
            sink.push(
                p.fqdn.span(),
                format!("pool[{i}].fqdn"),
                problem,
                "give each pool its own FQDN; list several machines of one pool under machines",
            );
        } else {
            names.insert(
                fqdn.to_ascii_lowercase(),
                format!("pool[{i}] at line {line}:{column}"),
            );
        }
        if !site_names.contains(&p.site.get_ref().to_ascii_lowercase()) {
            sink.push(
                p.site.span(),
                format!("pool[{i}].site"),
                format!(
                    "site `{}` is not defined (known: {})",
                    p.site.get_ref(),
                    known(t.sites.iter().map(|s| s.name.get_ref().as_str()))
                ),
                "add a [[site]] with that name or correct the spelling",
            );
        }
        for (j, m) in p.machines.iter().enumerate() {
            let field = format!("pool[{i}].machines[{j}]");
            if !is_fqdn(m.get_ref()) {
                sink.push(
                    m.span(),
                    field.clone(),
                    format!("{:?} is not an FQDN", m.get_ref()),
                    FQDN_FIX,
                );
            }
            let key = m.get_ref().to_ascii_lowercase();
            // A single-machine pool may name itself as its machine.
            if key == fqdn.to_ascii_lowercase() {
                continue;
            }
            let (line, column) = crate::error::line_col(sink.text, m.span().start);
            if let Some(first) = names.get(&key) {
                sink.push(
                    m.span(),
                    field,
                    format!(
                        "machine `{}` is already named by {first}",
                        m.get_ref()
                    ),
                    "a machine belongs to one pool and has a name of its own: remove it here or rename it",
                );
            } else {
                names.insert(key, format!("{field} at line {line}:{column}"));
            }
        }
        pool_roles(t, i, sink);
    }
}

fn known<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = names.collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

fn pool_roles(t: &Topology, i: usize, sink: &mut Sink<'_>) {
    let Some(p) = t.pools.get(i) else { return };
    let roles = p.roles.get_ref();
    if roles.is_empty() {
        sink.push(
            p.roles.span(),
            format!("pool[{i}].roles"),
            "the pool has no role",
            format!(
                "list at least one of: {}",
                Role::ALL.map(Role::as_str).join(", ")
            ),
        );
    }
    let mut seen = HashSet::new();
    for r in roles {
        if !seen.insert(*r.get_ref()) {
            sink.push(
                r.span(),
                format!("pool[{i}].roles"),
                format!("role {} is listed twice", r.get_ref()),
                "list each role once",
            );
        }
    }
    let trusted_app = p.has_role(Role::TrustedApplication);
    if trusted_app && roles.iter().any(|r| r.get_ref().is_convene()) {
        sink.push(
            p.roles.span(),
            format!("pool[{i}].roles"),
            "a trusted-application pool cannot also run Convene roles",
            "make the trusted application pool a [[pool]] of its own with roles = [\"trusted-application\"]",
        );
    }
    // A role Convene runs needs a certificate: servers talk mutual TLS to each other.
    if p.certificate.is_none()
        && let Some(r) = roles.iter().find(|r| r.get_ref().is_convene())
    {
        sink.push(
                r.span(),
                format!("pool[{i}].roles"),
                format!(
                    "pool `{}` runs role {} but has no certificate",
                    p.fqdn.get_ref(),
                    r.get_ref()
                ),
                format!(
                    "add certificate = \"{}\" to the pool and make the files with `convene ctl certs init`",
                    p.fqdn.get_ref()
                ),
            );
    }
    if let Some(c) = &p.certificate {
        let name = c.get_ref();
        if name.is_empty() || name.contains(['/', '\\']) || name == "ca" || name.starts_with('.') {
            sink.push(
                c.span(),
                format!("pool[{i}].certificate"),
                format!("{name:?} is not a certificate base name"),
                "give the base name of the files in the certificates directory, e.g. \"fe.example.test\" for fe.example.test.pem and fe.example.test.key (not \"ca\")",
            );
        }
    }
    // Ports: only for roles the pool runs; none used twice on the pool.
    let mut used: HashMap<u16, String> = HashMap::new();
    for (role, port) in &p.ports {
        let field = format!("pool[{i}].ports.{role}");
        if !p.has_role(*role) {
            sink.push(
                port.span(),
                field.clone(),
                format!("a port is given for role {role}, which the pool does not run"),
                format!("remove the port or add \"{role}\" to roles"),
            );
        }
        if *port.get_ref() == 0 {
            sink.push(
                port.span(),
                field.clone(),
                "port 0 is not a port",
                "give a port from 1 to 65535",
            );
        }
    }
    for r in roles {
        let role = *r.get_ref();
        let Some(port) = p.port(role) else { continue };
        let (span, field) = match p.ports.get(&role) {
            Some(s) => (s.span(), format!("pool[{i}].ports.{role}")),
            None => (r.span(), format!("pool[{i}].roles")),
        };
        if let Some(first) = used.get(&port) {
            sink.push(
                span,
                field,
                format!("port {port} of role {role} is already used by {first} on this pool"),
                format!("give role {role} a port of its own under [pool.ports]"),
            );
        } else {
            used.insert(port, format!("role {role}"));
        }
    }
    for (k, a) in t.trusted_applications.iter().enumerate() {
        if !a.pool.get_ref().eq_ignore_ascii_case(p.fqdn.get_ref()) {
            continue;
        }
        let port = *a.port.get_ref();
        if let Some(first) = used.get(&port) {
            sink.push(
                a.port.span(),
                format!("trusted_application[{k}].port"),
                format!(
                    "port {port} is already used by {first} on pool `{}`",
                    p.fqdn.get_ref()
                ),
                "give each application of a pool its own port",
            );
        } else {
            used.insert(port, format!("trusted application `{}`", a.id.get_ref()));
        }
    }
    // Trusted application pool settings.
    let only_trusted = [
        (p.registrar.as_ref().map(Spanned::span), "registrar"),
        (
            p.treat_as_authenticated.as_ref().map(Spanned::span),
            "treat_as_authenticated",
        ),
        (
            p.throttle_as_server.as_ref().map(Spanned::span),
            "throttle_as_server",
        ),
    ];
    if !trusted_app {
        for (span, key) in only_trusted {
            if let Some(span) = span {
                sink.push(
                    span,
                    format!("pool[{i}].{key}"),
                    format!("{key} applies only to trusted-application pools"),
                    format!("remove {key}, or give this pool roles = [\"trusted-application\"]"),
                );
            }
        }
        return;
    }
    match &p.registrar {
        None => sink.push(
            p.fqdn.span(),
            format!("pool[{i}].registrar"),
            format!(
                "trusted application pool `{}` has no registrar",
                p.fqdn.get_ref()
            ),
            "add registrar = \"<FQDN of the front-end pool its applications use>\"",
        ),
        Some(reg) => match t.pool(reg.get_ref()) {
            Some(q) if q.has_role(Role::FrontEnd) || q.has_role(Role::BranchRegistrar) => {}
            Some(_) => sink.push(
                reg.span(),
                format!("pool[{i}].registrar"),
                format!(
                    "pool `{}` is not a registrar (front-end or branch-registrar)",
                    reg.get_ref()
                ),
                "name a pool with the front-end role",
            ),
            None => sink.push(
                reg.span(),
                format!("pool[{i}].registrar"),
                format!(
                    "pool `{}` is not defined (known: {})",
                    reg.get_ref(),
                    known(t.pools.iter().map(|p| p.fqdn.get_ref().as_str()))
                ),
                "add the pool or correct the FQDN",
            ),
        },
    }
}

fn trusted_applications(t: &Topology, sink: &mut Sink<'_>) {
    duplicates(
        sink,
        t.trusted_applications
            .iter()
            .enumerate()
            .map(|(i, a)| (&a.id, format!("trusted_application[{i}].id"))),
        "trusted application",
    );
    // Which pool owns each trusted-application port: Convene accepts only that pool's
    // certificates there.
    let mut owners: HashMap<u16, &str> = HashMap::new();
    for (i, a) in t.trusted_applications.iter().enumerate() {
        let port = *a.port.get_ref();
        if port == 0 {
            sink.push(
                a.port.span(),
                format!("trusted_application[{i}].port"),
                "port 0 is not a port",
                "give the application's port, e.g. 5062",
            );
        }
        match t.pool(a.pool.get_ref()) {
            None => sink.push(
                a.pool.span(),
                format!("trusted_application[{i}].pool"),
                format!(
                    "pool `{}` is not defined (known: {})",
                    a.pool.get_ref(),
                    known(t.pools.iter().map(|p| p.fqdn.get_ref().as_str()))
                ),
                "add a [[pool]] with roles = [\"trusted-application\"] for it, or correct the FQDN",
            ),
            Some(p) if !p.has_role(Role::TrustedApplication) => sink.push(
                a.pool.span(),
                format!("trusted_application[{i}].pool"),
                format!(
                    "pool `{}` is not a trusted-application pool",
                    a.pool.get_ref()
                ),
                "name a pool with roles = [\"trusted-application\"], or add one for the application",
            ),
            Some(p) => {
                // The port is also where the registrar accepts the application's
                // connections: it must not be one of the registrar's own role ports.
                if let Some(reg) = p.registrar.as_ref().and_then(|r| t.pool(r.get_ref()))
                    && let Some(role) = reg
                        .roles
                        .get_ref()
                        .iter()
                        .map(|r| *r.get_ref())
                        .find(|r| reg.port(*r) == Some(port))
                    {
                        sink.push(
                            a.port.span(),
                            format!("trusted_application[{i}].port"),
                            format!(
                                "port {port} is also the {role} port of registrar pool `{}`; a trusted-application port accepts only the application pool's certificates",
                                reg.fqdn.get_ref()
                            ),
                            format!(
                                "choose a port no role of `{}` listens on, e.g. 5062",
                                reg.fqdn.get_ref()
                            ),
                        );
                    }
            }
        }
        match owners.get(&port) {
            Some(owner) if !owner.eq_ignore_ascii_case(a.pool.get_ref()) => sink.push(
                a.port.span(),
                format!("trusted_application[{i}].port"),
                format!("port {port} already belongs to trusted application pool `{owner}`"),
                "give each trusted application pool its own port",
            ),
            Some(_) => {}
            None => {
                owners.insert(port, a.pool.get_ref().as_str());
            }
        }
    }
}

fn static_routes(t: &Topology, pools_read: bool, sink: &mut Sink<'_>) {
    let ours = t.domains();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, r) in t.static_routes.iter().enumerate() {
        let m = r.match_uri.get_ref();
        let field = format!("static_route[{i}].match_uri");
        if !is_domain(m) {
            sink.push(
                r.match_uri.span(),
                field.clone(),
                format!("{m:?} is not a domain"),
                "write the domain only, e.g. match_uri = \"partner.test\" (it matches its subdomains too)",
            );
        } else if let Some(own) = ours.iter().find(|d| in_domain(d, m)) {
            sink.push(
                r.match_uri.span(),
                field.clone(),
                if own.eq_ignore_ascii_case(m) {
                    format!("`{m}` is one of our own SIP domains")
                } else {
                    format!("`{m}` covers our own SIP domain `{own}`")
                },
                "a static route sends a domain's requests away; route only other domains, and remove our domain from match_uri",
            );
        }
        if let Some(first) = seen.get(&m.to_ascii_lowercase()) {
            sink.push(
                r.match_uri.span(),
                field,
                format!("static_route[{first}] already matches `{m}`; this route is never used"),
                "keep one route per match_uri",
            );
        } else {
            seen.insert(m.to_ascii_lowercase(), i);
        }
        let hop = r.next_hop.get_ref();
        let hop_field = format!("static_route[{i}].next_hop");
        let is_ip = hop.parse::<IpAddr>().is_ok();
        if !is_ip && !is_fqdn(hop) {
            sink.push(
                r.next_hop.span(),
                hop_field.clone(),
                format!("{hop:?} is neither an FQDN nor an IP address"),
                "write the next hop's FQDN (fe.partner.test) or IP address, without scheme or port",
            );
        }
        if is_ip && r.transport == crate::model::RouteTransport::Tls {
            sink.push(
                r.next_hop.span(),
                hop_field.clone(),
                format!("a TLS route needs the FQDN its next hop's certificate names, not the address {hop}"),
                "write the next hop's FQDN (the name in its certificate) in next_hop and this address in address, or use transport = \"tcp\"",
            );
        }
        if let Some(a) = &r.address {
            let field = format!("static_route[{i}].address");
            if a.get_ref().parse::<IpAddr>().is_err() {
                sink.push(
                    a.span(),
                    field,
                    format!("{:?} is not an IP address", a.get_ref()),
                    "write the IP address to connect to, e.g. address = \"192.0.2.7\" (no port: that is `port`), or remove address to resolve next_hop",
                );
            } else if is_ip {
                sink.push(
                    a.span(),
                    field,
                    format!("next_hop {hop} is already an address"),
                    "remove address, or write the next hop's FQDN in next_hop",
                );
            }
        }
        if pools_read
            && !is_ip
            && t.pool(hop).is_none()
            && let Some(own) = ours.iter().find(|d| in_domain(hop, d))
        {
            sink.push(
                    r.next_hop.span(),
                    hop_field,
                    format!("`{hop}` is in our SIP domain `{own}` but is not a pool of the topology"),
                    "add a [[pool]] for it (roles = [\"trusted-application\"] for a third-party server) or correct the FQDN",
                );
        }
        if *r.port.get_ref() == 0 {
            sink.push(
                r.port.span(),
                format!("static_route[{i}].port"),
                "port 0 is not a port",
                "give the next hop's port, e.g. 5061",
            );
        }
    }
}

fn partners(t: &Topology, sink: &mut Sink<'_>) {
    let ours = t.domains();
    for (i, p) in t.federated_partners.iter().enumerate() {
        let d = p.domain.get_ref();
        if !is_domain(d) {
            sink.push(
                p.domain.span(),
                format!("federated_partner[{i}].domain"),
                format!("{d:?} is not a domain"),
                DOMAIN_FIX,
            );
        } else if ours.iter().any(|o| o.eq_ignore_ascii_case(d)) {
            sink.push(
                p.domain.span(),
                format!("federated_partner[{i}].domain"),
                format!("`{d}` is one of our own SIP domains"),
                "list only other organisations' domains as federated partners",
            );
        }
        if !is_fqdn(p.edge_fqdn.get_ref()) {
            sink.push(
                p.edge_fqdn.span(),
                format!("federated_partner[{i}].edge_fqdn"),
                format!("{:?} is not an FQDN", p.edge_fqdn.get_ref()),
                FQDN_FIX,
            );
        }
    }
    duplicates(
        sink,
        t.federated_partners
            .iter()
            .enumerate()
            .map(|(i, p)| (&p.domain, format!("federated_partner[{i}].domain"))),
        "federated partner",
    );
}

/// The user and host parts of `sip:user@host` (RFC 3261 §19.1.1), lowercase host.
pub fn split_aor(aor: &str) -> Option<(&str, String)> {
    let rest = aor.strip_prefix("sip:")?;
    let (user, host) = rest.split_once('@')?;
    (!user.is_empty() && !host.is_empty() && !host.contains([':', ';', '@', '>']))
        .then(|| (user, host.to_ascii_lowercase()))
}

fn users(t: &Topology, pools_read: bool, sink: &mut Sink<'_>) {
    let ours = t.domains();
    duplicates(
        sink,
        t.users
            .iter()
            .enumerate()
            .map(|(i, u)| (&u.aor, format!("user[{i}].aor"))),
        "user",
    );
    for (i, u) in t.users.iter().enumerate() {
        match split_aor(u.aor.get_ref()) {
            None => sink.push(
                u.aor.span(),
                format!("user[{i}].aor"),
                format!("{:?} is not a SIP URI sip:user@domain", u.aor.get_ref()),
                "write the address of record as sip:alice@example.test",
            ),
            Some((_, host)) if !ours.contains(&host) => sink.push(
                u.aor.span(),
                format!("user[{i}].aor"),
                format!(
                    "`{host}` is not one of our SIP domains ({})",
                    ours.join(", ")
                ),
                "add a [[sip_domain]] for it or correct the address",
            ),
            Some(_) => {}
        }
        match t.pool(u.pool.get_ref()) {
            _ if !pools_read => {}
            None => sink.push(
                u.pool.span(),
                format!("user[{i}].pool"),
                format!(
                    "pool `{}` is not defined (known: {})",
                    u.pool.get_ref(),
                    known(t.pools.iter().map(|p| p.fqdn.get_ref().as_str()))
                ),
                "name the front-end pool that homes the user",
            ),
            Some(p) if !p.has_role(Role::FrontEnd) && !p.has_role(Role::BranchRegistrar) => sink
                .push(
                    u.pool.span(),
                    format!("user[{i}].pool"),
                    format!(
                        "pool `{}` does not home users (no front-end or branch-registrar role)",
                        u.pool.get_ref()
                    ),
                    "name a pool with the front-end or branch-registrar role",
                ),
            Some(_) => {}
        }
        let in_store = u.password_in_store.as_ref().is_some_and(|s| *s.get_ref());
        match (&u.password, in_store) {
            (None, false) => sink.push(
                u.aor.span(),
                format!("user[{i}].password"),
                format!("user `{}` has no credentials", u.aor.get_ref()),
                "add [user.password] with realm and ha1_md5 / ha1_sha256, or password_in_store = true",
            ),
            (Some(p), true) => sink.push(
                p.span(),
                format!("user[{i}].password"),
                "credentials are given here and also said to be in the store",
                "keep one: remove [user.password] or password_in_store",
            ),
            (Some(p), false) => password(p.get_ref(), i, sink),
            (None, true) => {}
        }
    }
}

fn password(p: &crate::model::PasswordConfig, i: usize, sink: &mut Sink<'_>) {
    if p.realm.get_ref().is_empty() {
        sink.push(
            p.realm.span(),
            format!("user[{i}].password.realm"),
            "the Digest realm is empty",
            "give the realm the HA1 values were computed for, e.g. realm = \"example.test\"",
        );
    }
    if p.ha1_md5.is_none() && p.ha1_sha256.is_none() {
        sink.push(
            p.realm.span(),
            format!("user[{i}].password"),
            "no HA1 value is given",
            "add ha1_md5 and/or ha1_sha256 = hex of H(username \":\" realm \":\" password) (RFC 7616 §3.4.2)",
        );
    }
    for (v, len, key, alg) in [
        (&p.ha1_md5, 32, "ha1_md5", "MD5"),
        (&p.ha1_sha256, 64, "ha1_sha256", "SHA-256"),
    ] {
        if let Some(v) = v
            && !is_hex(v.get_ref(), len)
        {
            sink.push(
                    v.span(),
                    format!("user[{i}].password.{key}"),
                    format!("not a {alg} HA1: expected {len} lowercase hex digits"),
                    format!(
                        "write hex of {alg}(username \":\" realm \":\" password) (RFC 7616 §3.4.2); never the password itself"
                    ),
                );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_fqdn("fe.example.test"));
        assert!(!is_fqdn("fe"));
        assert!(!is_domain("-a.test"));
        assert!(!is_domain("a..test"));
        assert!(in_domain("a.b.test", "b.test"));
        assert!(in_domain("B.TEST", "b.test"));
        assert!(!in_domain("ab.test", "b.test"));
        assert_eq!(
            split_aor("sip:alice@Example.test"),
            Some(("alice", "example.test".to_owned()))
        );
        assert_eq!(split_aor("sips:alice@example.test"), None);
    }
}
