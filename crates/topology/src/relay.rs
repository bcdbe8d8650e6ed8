//! The `[relay]` section: the media relay role (TURN, RFC 8656, and MS-TURN) and the shared
//! port that carries SIP over TLS, HTTPS and MS-TURN pseudo-TLS on one TCP port (Lync's A/V
//! edge on 443). Where it listens, the address and port range relayed transport addresses
//! are taken from, quotas, the peers it refuses to relay to, and who may allocate.
//!
//! No secret is written here in clear: long-term users are given by their key
//! MD5(username ":" realm ":" password) (RFC 8489 §9.2.2, the form coturn's `turnadmin -k`
//! prints), and the shared secret of REST ephemeral credentials stays in the data directory
//! (`turn-secret`, made on first start, mode 0600).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use turn_proto::server::IpRange;

use crate::error::Sink;

/// RFC 8656 §7.2: relayed ports SHOULD come from the dynamic range 49152-65535.
pub const DEFAULT_MIN_PORT: u16 = 49152;
/// Upper end of the default relayed port range.
pub const DEFAULT_MAX_PORT: u16 = 65535;
/// Allocations in total by default (coturn's `total-quota` is unlimited; a bound protects
/// memory and ports).
pub const DEFAULT_MAX_ALLOCATIONS: usize = 10_000;
/// Allocations per user by default.
pub const DEFAULT_MAX_ALLOCATIONS_PER_USER: usize = 100;

/// `[relay]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// TURN over UDP (RFC 8656 §3.1), `IP:PORT`, e.g. `"192.0.2.10:3478"`.
    #[serde(default)]
    pub listen_udp: Option<Spanned<String>>,
    /// TURN over TCP (RFC 8656 §3.1), `IP:PORT`.
    #[serde(default)]
    pub listen_tcp: Option<Spanned<String>>,
    /// The shared TCP port (443 in production): TLS with SIP or HTTP inside, MS-TURN
    /// pseudo-TLS, plain TURN.
    #[serde(default)]
    pub listen_shared: Option<Spanned<String>>,
    /// The IPv4 address relay sockets are bound on and advertised with
    /// (XOR-RELAYED-ADDRESS, RFC 8656 §7.2); absent: no IPv4 relaying (440).
    #[serde(default)]
    pub relayed_ipv4: Option<Spanned<String>>,
    /// The IPv6 address for allocations asking REQUESTED-ADDRESS-FAMILY IPv6 (RFC 8656
    /// §7.2 step 7); absent: no IPv6 relaying (440).
    #[serde(default)]
    pub relayed_ipv6: Option<Spanned<String>>,
    /// Lowest relayed port (default 49152).
    #[serde(default)]
    pub min_port: Option<Spanned<u16>>,
    /// Highest relayed port (default 65535).
    #[serde(default)]
    pub max_port: Option<Spanned<u16>>,
    /// Allocations in total; then 508 Insufficient Capacity (RFC 8656 §7.2 step 8).
    #[serde(default)]
    pub max_allocations: Option<Spanned<i64>>,
    /// Allocations per user; then 486 Allocation Quota Reached (RFC 8656 §7.2 step 8).
    #[serde(default)]
    pub max_allocations_per_user: Option<Spanned<i64>>,
    /// Peers never relayed to (403), as CIDR ranges (coturn's `denied-peer-ip`). Absent:
    /// loopback, unspecified, link-local, RFC 1918 and ULA ranges (RFC 8656 §21.2.2).
    #[serde(default)]
    pub denied_peers: Option<Spanned<Vec<Spanned<String>>>>,
    /// The realm of long-term credentials (RFC 8489 §9.2); default: the first SIP domain.
    #[serde(default)]
    pub realm: Option<Spanned<String>>,
    /// Accept REST ephemeral credentials (coturn's `use-auth-secret`; the secret is the
    /// data directory's `turn-secret`). Default true.
    #[serde(default)]
    pub ephemeral_credentials: Option<Spanned<bool>>,
    /// Long-term users (`[[relay.user]]`).
    #[serde(default)]
    pub user: Vec<RelayUserConfig>,
}

/// A long-term TURN user (`[[relay.user]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelayUserConfig {
    /// The USERNAME the client sends.
    pub username: Spanned<String>,
    /// MD5(username ":" realm ":" password) as 32 lowercase hex digits (RFC 8489 §9.2.2).
    pub key_md5: Spanned<String>,
}

/// A `[relay]` section checked and turned into values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayPlan {
    /// TURN over UDP.
    pub udp: Option<SocketAddr>,
    /// TURN over TCP.
    pub tcp: Option<SocketAddr>,
    /// The shared port.
    pub shared: Option<SocketAddr>,
    /// IPv4 relayed address.
    pub relayed_ipv4: Option<Ipv4Addr>,
    /// IPv6 relayed address.
    pub relayed_ipv6: Option<Ipv6Addr>,
    /// Relayed ports.
    pub ports: RangeInclusive<u16>,
    /// Allocations in total.
    pub max_allocations: usize,
    /// Allocations per user.
    pub max_allocations_per_user: usize,
    /// Peers refused.
    pub denied_peers: Vec<IpRange>,
    /// The realm.
    pub realm: String,
    /// Whether REST ephemeral credentials are accepted.
    pub ephemeral_credentials: bool,
    /// Long-term users: username and MD5 key.
    pub users: Vec<(String, [u8; 16])>,
}

impl RelayConfig {
    /// The values of a section that validated (`default_realm`: the first SIP domain).
    /// Returns `None` if a value does not parse (validation reported it).
    pub fn plan(&self, default_realm: &str) -> Option<RelayPlan> {
        let addr = |v: &Option<Spanned<String>>| -> Option<Option<SocketAddr>> {
            match v {
                None => Some(None),
                Some(s) => s.get_ref().parse().ok().map(Some),
            }
        };
        let ip = |v: &Option<Spanned<String>>| -> Option<Option<IpAddr>> {
            match v {
                None => Some(None),
                Some(s) => s.get_ref().parse().ok().map(Some),
            }
        };
        let relayed_ipv4 = match ip(&self.relayed_ipv4)? {
            None => None,
            Some(IpAddr::V4(a)) => Some(a),
            Some(IpAddr::V6(_)) => return None,
        };
        let relayed_ipv6 = match ip(&self.relayed_ipv6)? {
            None => None,
            Some(IpAddr::V6(a)) => Some(a),
            Some(IpAddr::V4(_)) => return None,
        };
        let denied_peers = match &self.denied_peers {
            None => IpRange::loopback_and_private(),
            Some(list) => list
                .get_ref()
                .iter()
                .map(|r| r.get_ref().parse().ok())
                .collect::<Option<Vec<IpRange>>>()?,
        };
        let users = self
            .user
            .iter()
            .map(|u| Some((u.username.get_ref().clone(), md5_key(u.key_md5.get_ref())?)))
            .collect::<Option<Vec<_>>>()?;
        let count = |v: &Option<Spanned<i64>>, default: usize| match v {
            None => Some(default),
            Some(n) => usize::try_from(*n.get_ref()).ok(),
        };
        Some(RelayPlan {
            udp: addr(&self.listen_udp)?,
            tcp: addr(&self.listen_tcp)?,
            shared: addr(&self.listen_shared)?,
            relayed_ipv4,
            relayed_ipv6,
            ports: self.min_port()..=self.max_port(),
            max_allocations: count(&self.max_allocations, DEFAULT_MAX_ALLOCATIONS)?,
            max_allocations_per_user: count(
                &self.max_allocations_per_user,
                DEFAULT_MAX_ALLOCATIONS_PER_USER,
            )?,
            denied_peers,
            realm: self
                .realm
                .as_ref()
                .map_or_else(|| default_realm.to_owned(), |r| r.get_ref().clone()),
            ephemeral_credentials: self
                .ephemeral_credentials
                .as_ref()
                .is_none_or(|e| *e.get_ref()),
            users,
        })
    }

    fn min_port(&self) -> u16 {
        self.min_port
            .as_ref()
            .map_or(DEFAULT_MIN_PORT, |p| *p.get_ref())
    }

    fn max_port(&self) -> u16 {
        self.max_port
            .as_ref()
            .map_or(DEFAULT_MAX_PORT, |p| *p.get_ref())
    }
}

/// The 16 bytes of 32 lowercase hex digits.
fn md5_key(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

const LISTEN_FIX: &str = "write IP:PORT, e.g. \"192.0.2.10:3478\" (IPv6 in brackets: \"[2001:db8::10]:3478\"), or remove the key to run no such listener";

/// Checks `[relay]`; problems go to `sink`.
pub(crate) fn validate(r: &RelayConfig, sink: &mut Sink<'_>) {
    let mut listeners: Vec<(&'static str, SocketAddr, std::ops::Range<usize>)> = Vec::new();
    for (key, v) in [
        ("listen_udp", &r.listen_udp),
        ("listen_tcp", &r.listen_tcp),
        ("listen_shared", &r.listen_shared),
    ] {
        let Some(v) = v else { continue };
        let field = format!("relay.{key}");
        match v.get_ref().parse::<SocketAddr>() {
            Err(_) => sink.push(
                v.span(),
                field,
                format!("{:?} is not an IP address and port", v.get_ref()),
                LISTEN_FIX,
            ),
            Ok(a) if a.port() == 0 => sink.push(
                v.span(),
                field,
                "port 0 is not a port: clients must know where the relay listens",
                "give the port clients are told, e.g. 3478 for TURN (RFC 8656 §3.1) or 443 for the shared port",
            ),
            Ok(a) => listeners.push((key, a, v.span())),
        }
    }
    if r.listen_udp.is_none() && r.listen_tcp.is_none() && r.listen_shared.is_none() {
        sink.push(
            section_start(sink.text),
            "relay",
            "the relay listens nowhere",
            "add listen_udp = \"IP:3478\", listen_tcp = \"IP:3478\" and/or listen_shared = \"IP:443\", or remove [relay] to run no relay",
        );
    }
    // TCP 3478 and the shared port are both TCP: one address cannot be both.
    if let (Some(tcp), Some(shared)) = (
        listeners.iter().find(|l| l.0 == "listen_tcp"),
        listeners.iter().find(|l| l.0 == "listen_shared"),
    ) && tcp.1 == shared.1
    {
        sink.push(
            shared.2.clone(),
            "relay.listen_shared",
            format!("{} is also listen_tcp", shared.1),
            "give the shared port its own port (443 in production; TURN over TCP stays on 3478)",
        );
    }
    let mut relayed: Vec<IpAddr> = Vec::new();
    for (key, v, want_v4) in [
        ("relayed_ipv4", &r.relayed_ipv4, true),
        ("relayed_ipv6", &r.relayed_ipv6, false),
    ] {
        let Some(v) = v else { continue };
        let field = format!("relay.{key}");
        let family = if want_v4 { "IPv4" } else { "IPv6" };
        let example = if want_v4 {
            "192.0.2.10"
        } else {
            "2001:db8::10"
        };
        match v.get_ref().parse::<IpAddr>() {
            Ok(ip) if ip.is_ipv4() == want_v4 && !ip.is_unspecified() && !ip.is_multicast() => {
                relayed.push(ip);
            }
            Ok(ip) if ip.is_ipv4() == want_v4 => sink.push(
                v.span(),
                field,
                format!("{ip} cannot be a relayed address: clients and peers must reach it"),
                format!("write the {family} address of this machine that peers reach, e.g. \"{example}\""),
            ),
            _ => sink.push(
                v.span(),
                field,
                format!("{:?} is not an {family} address", v.get_ref()),
                format!("write an {family} address without port, e.g. \"{example}\""),
            ),
        }
    }
    if r.relayed_ipv4.is_none() && r.relayed_ipv6.is_none() {
        sink.push(
            section_start(sink.text),
            "relay.relayed_ipv4",
            "the relay has no relayed address: every Allocate would fail with 440",
            "add relayed_ipv4 = \"<this machine's IPv4 address peers reach>\" (and relayed_ipv6 for IPv6 allocations)",
        );
    }
    ports(r, &listeners, &relayed, sink);
    quotas(r, sink);
    if let Some(list) = &r.denied_peers {
        for (i, p) in list.get_ref().iter().enumerate() {
            if let Err(e) = p.get_ref().parse::<IpRange>() {
                sink.push(
                    p.span(),
                    format!("relay.denied_peers[{i}]"),
                    format!("{:?}: {e}", p.get_ref()),
                    "write a CIDR range, e.g. \"10.0.0.0/8\" or \"fc00::/7\", or one address",
                );
            }
        }
    }
    if let Some(realm) = &r.realm
        && realm.get_ref().trim().is_empty()
    {
        sink.push(
            realm.span(),
            "relay.realm",
            "the realm is empty",
            "give the realm clients compute their keys with, e.g. realm = \"example.test\", or remove it to use the first SIP domain",
        );
    }
    users(r, sink);
}

fn ports(
    r: &RelayConfig,
    listeners: &[(&'static str, SocketAddr, std::ops::Range<usize>)],
    relayed: &[IpAddr],
    sink: &mut Sink<'_>,
) {
    for (key, v) in [("min_port", &r.min_port), ("max_port", &r.max_port)] {
        if let Some(p) = v
            && *p.get_ref() < 1024
        {
            sink.push(
                p.span(),
                format!("relay.{key}"),
                format!("port {} is below 1024", p.get_ref()),
                "relay from unprivileged ports; RFC 8656 §7.2 recommends 49152-65535",
            );
        }
    }
    let (min, max) = (r.min_port(), r.max_port());
    if min > max {
        let span = r
            .max_port
            .as_ref()
            .or(r.min_port.as_ref())
            .map_or(0..0, Spanned::span);
        sink.push(
            span,
            "relay.max_port",
            format!("the relayed port range {min}-{max} is empty"),
            "make max_port at least min_port (e.g. min_port = 49152, max_port = 65535)",
        );
        return;
    }
    // A UDP listener inside the relayed range on a relayed address would take a relay port
    // (and a relay socket could take the listener's port before it starts).
    for (key, a, span) in listeners {
        if *key == "listen_udp" && (min..=max).contains(&a.port()) && relayed.contains(&a.ip()) {
            sink.push(
                span.clone(),
                format!("relay.{key}"),
                format!(
                    "port {} lies in the relayed port range {min}-{max} on the relayed address {}",
                    a.port(),
                    a.ip()
                ),
                "listen outside the relayed range (3478 is TURN's port) or narrow min_port/max_port",
            );
        }
    }
}

fn quotas(r: &RelayConfig, sink: &mut Sink<'_>) {
    for (key, v) in [
        ("max_allocations", &r.max_allocations),
        ("max_allocations_per_user", &r.max_allocations_per_user),
    ] {
        if let Some(n) = v
            && *n.get_ref() < 1
        {
            sink.push(
                n.span(),
                format!("relay.{key}"),
                format!("{} allows no allocation at all", n.get_ref()),
                "give a positive number, or remove [relay] to run no relay",
            );
        }
    }
    if let (Some(total), Some(per_user)) = (&r.max_allocations, &r.max_allocations_per_user)
        && *per_user.get_ref() > *total.get_ref()
        && *total.get_ref() >= 1
    {
        sink.push(
            per_user.span(),
            "relay.max_allocations_per_user",
            format!(
                "one user may hold {} allocations but the relay holds {} in total",
                per_user.get_ref(),
                total.get_ref()
            ),
            "make max_allocations_per_user at most max_allocations",
        );
    }
}

fn users(r: &RelayConfig, sink: &mut Sink<'_>) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, u) in r.user.iter().enumerate() {
        let name = u.username.get_ref();
        if name.is_empty() {
            sink.push(
                u.username.span(),
                format!("relay.user[{i}].username"),
                "the username is empty",
                "give the USERNAME the client sends, e.g. username = \"turnuser\"",
            );
        } else if let Some(&first) = seen.get(name.as_str()) {
            let (line, column) = crate::error::line_col(sink.text, first);
            sink.push(
                u.username.span(),
                format!("relay.user[{i}].username"),
                format!("TURN user `{name}` is already defined at line {line}:{column}"),
                "keep one [[relay.user]] per username",
            );
        } else {
            seen.insert(name, u.username.span().start);
        }
        if md5_key(u.key_md5.get_ref()).is_none() {
            sink.push(
                u.key_md5.span(),
                format!("relay.user[{i}].key_md5"),
                "not a TURN long-term key: expected 32 lowercase hex digits",
                "write hex of MD5(username \":\" realm \":\" password) (RFC 8489 §9.2.2; `turnadmin -k` prints it); never the password itself",
            );
        }
    }
    // Ephemeral credentials are on unless said otherwise.
    if r.user.is_empty()
        && let Some(e) = &r.ephemeral_credentials
        && !*e.get_ref()
    {
        sink.push(
            e.span(),
            "relay.ephemeral_credentials",
            "with no [[relay.user]] and no ephemeral credentials nobody can allocate",
            "add a [[relay.user]] with username and key_md5, or set ephemeral_credentials = true",
        );
    }
}

// The offset of the `[relay]` header (else 0), for problems of the whole section.
fn section_start(text: &str) -> std::ops::Range<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == "[relay]" {
            let at = offset + (line.len() - line.trim_start().len());
            return at..at;
        }
        offset += line.len();
    }
    0..0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5_keys_are_32_lowercase_hex_digits() {
        let k = md5_key("36e7466b8e55005496e5b3a11383b695");
        assert_eq!(k.map(|k| k[0]), Some(0x36));
        assert_eq!(k.map(|k| k[15]), Some(0x95));
        assert!(md5_key("36E7466B8E55005496E5B3A11383B695").is_none());
        assert!(md5_key("36e7").is_none());
    }
}
