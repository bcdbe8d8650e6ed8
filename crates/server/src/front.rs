//! The front end's I/O side: users from the topology and the store, the locator that turns
//! next-hop URIs into transport addresses, and the glue between [`frontend::FrontEnd`] and
//! the transports.

use std::net::{IpAddr, SocketAddr};

use frontend::{Directory, Locator, Transport, User};
use net::Proto;
use registrar::{Aor, FlowId};
use sip_auth::{Algorithm, Ha1};
use sip_msg::{Host, SipUri};

use crate::Hop;

/// What a mutual-TLS peer is, from its verified certificate and the topology (`None`: an
/// ordinary client, challenged and rate-limited like any other).
pub fn peer_trust(
    model: &topology::Topology,
    peer: &net::PeerIdentity,
    local_port: u16,
) -> Option<frontend::PeerTrust> {
    match topology::decide(model, &crate::cert_identity(peer), local_port) {
        topology::TrustDecision::Trusted(t) => Some(frontend::PeerTrust::Server {
            name: t.name,
            authenticated: t.treat_as_authenticated,
            throttle_exempt: t.throttle_as_server,
            reason: t.reason,
        }),
        topology::TrustDecision::Untrusted { .. } => None,
        topology::TrustDecision::Refused { reason, fix, diag } => {
            Some(frontend::PeerTrust::Refused {
                code: diag,
                reason,
                fix,
            })
        }
    }
}

impl Transport for Hop {
    fn via_transport(&self) -> &'static str {
        self.proto.via_token()
    }

    fn remote(&self) -> SocketAddr {
        self.remote
    }

    fn flow(&self) -> Option<FlowId> {
        self.conn.map(|c| FlowId(c.0))
    }

    fn trust(&self) -> Option<&frontend::PeerTrust> {
        self.trust.as_deref()
    }
}

/// Next hops by address: IP-literal URIs, or a host name with an IP-literal `maddr`, placed at
/// once (transport from the URI, RFC 3263 §4.1); other host names are resolved with DNS by the
/// core loop (RFC 3263 §4) when a resolver runs, and turned into hops by [`NetLocator::hops`].
#[derive(Debug, Clone)]
pub struct NetLocator {
    listeners: Vec<(Proto, SocketAddr)>,
    dns: bool,
}

impl NetLocator {
    /// A locator for a server bound to `listeners`; `dns`: host names are resolved.
    pub fn new(listeners: Vec<(Proto, SocketAddr)>, dns: bool) -> NetLocator {
        NetLocator { listeners, dns }
    }

    /// The hops for what DNS gave for `uri`, in order, leaving out transports this server
    /// has no listener for. A TLS hop verifies the URI's host in the peer's certificate and
    /// sends it as SNI (RFC 5922 §4: the domain asked for, not the SRV target's name).
    pub fn hops(&self, uri: &SipUri, targets: &[sip_dns::Target]) -> Vec<Hop> {
        let name = match &uri.host {
            Host::Domain(d) => Some(d.to_ascii_lowercase()),
            _ => None,
        };
        targets
            .iter()
            .filter_map(|t| {
                let proto = match t.transport {
                    sip_dns::Transport::Udp => Proto::Udp,
                    sip_dns::Transport::Tcp => Proto::Tcp,
                    sip_dns::Transport::Tls => Proto::Tls,
                };
                let local = self.first(proto)?;
                Some(Hop {
                    proto,
                    remote: t.addr,
                    local,
                    conn: None,
                    trust: None,
                    server_name: (proto == Proto::Tls).then(|| name.clone()).flatten(),
                })
            })
            .collect()
    }

    fn first(&self, proto: Proto) -> Option<SocketAddr> {
        self.listeners
            .iter()
            .find(|(p, _)| *p == proto)
            .map(|(_, a)| *a)
    }
}

impl Locator<Hop> for NetLocator {
    fn locate(&self, uri: &SipUri) -> Option<Hop> {
        // RFC 3261 §19.1.1, RFC 3263 §4: `maddr` is the address to contact, overriding the
        // host; the host remains the name a TLS server's certificate must carry (RFC 5922
        // §4), so it goes along as the server name to verify and send as SNI.
        let maddr = match uri.param("maddr") {
            Some(Some(m)) => Some(
                m.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .ok()?,
            ),
            Some(None) => return None,
            None => None,
        };
        let (ip, server_name) = match (&uri.host, maddr) {
            (Host::Domain(d), Some(ip)) => (ip, Some(d.to_ascii_lowercase())),
            (_, Some(ip)) => (ip, None),
            (Host::V4(a), None) => (IpAddr::V4(*a), None),
            (Host::V6(a), None) => (IpAddr::V6(*a), None),
            (Host::Domain(d), None) if d.eq_ignore_ascii_case("localhost") => {
                (IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), None)
            }
            (Host::Domain(_), None) => return None,
        };
        let proto = match uri.transport().map(|t| t.to_ascii_lowercase()) {
            _ if uri.secure => Proto::Tls,
            Some(t) if t == "tls" => Proto::Tls,
            Some(t) if t == "tcp" => Proto::Tcp,
            _ => Proto::Udp,
        };
        let port = uri
            .port
            .unwrap_or(if proto == Proto::Tls { 5061 } else { 5060 });
        let local = self.first(proto)?;
        Some(Hop {
            proto,
            remote: SocketAddr::new(ip, port),
            local,
            conn: None,
            trust: None,
            server_name,
        })
    }

    fn resolvable(&self, uri: &SipUri) -> bool {
        // A host name without `maddr` (one with an unusable maddr is refused, not resolved).
        self.dns && matches!(uri.host, Host::Domain(_)) && uri.param("maddr").is_none()
    }

    fn reliable_alternative(&self, peer: &Hop) -> Option<Hop> {
        let local = self.first(Proto::Tcp)?;
        (peer.proto == Proto::Udp).then_some(Hop {
            proto: Proto::Tcp,
            remote: peer.remote,
            local,
            conn: None,
            trust: None,
            server_name: None,
        })
    }

    fn sent_by(&self, peer: &Hop) -> String {
        // What arrived names the address it arrived on; what leaves, our listener of that
        // transport (a wildcard bind names the loopback address, good for the demo only).
        let addr = if peer.local.ip().is_unspecified() || peer.local.port() == 0 {
            self.first(peer.proto).unwrap_or(peer.local)
        } else {
            peer.local
        };
        addr.to_string()
    }
}

/// A user of the topology as the front end's directory holds it; `None` for a user whose
/// credentials are kept in the store, or who has none.
pub fn user_from_topology(u: &topology::UserConfig) -> Option<User> {
    let uri = sip_msg::Uri::parse(u.aor.get_ref()).ok()?;
    let aor = Aor::from_uri(&uri)?;
    let pw = u.password.as_ref()?.get_ref();
    let username = pw
        .username
        .as_ref()
        .map_or_else(|| aor.user().to_owned(), |s| s.get_ref().clone());
    let mut ha1 = Vec::new();
    if let Some(h) = pw
        .ha1_md5
        .as_ref()
        .and_then(|h| Ha1::from_hex(Algorithm::Md5, h.get_ref()))
    {
        ha1.push(h);
    }
    if let Some(h) = pw
        .ha1_sha256
        .as_ref()
        .and_then(|h| Ha1::from_hex(Algorithm::Sha256, h.get_ref()))
    {
        ha1.push(h);
    }
    Some(User {
        aor,
        username,
        realm: pw.realm.get_ref().clone(),
        ha1,
    })
}

/// A user record of the store as the directory holds it.
pub fn user_from_record(r: &store::UserRecord) -> Option<User> {
    let uri = sip_msg::Uri::parse(&r.aor).ok()?;
    let aor = Aor::from_uri(&uri)?;
    let mut ha1 = Vec::new();
    if let Some(h) = r
        .ha1_md5
        .as_deref()
        .and_then(|h| Ha1::from_hex(Algorithm::Md5, h))
    {
        ha1.push(h);
    }
    if let Some(h) = r
        .ha1_sha256
        .as_deref()
        .and_then(|h| Ha1::from_hex(Algorithm::Sha256, h))
    {
        ha1.push(h);
    }
    Some(User {
        aor,
        username: r.username.clone(),
        realm: r.realm.clone(),
        ha1,
    })
}

/// The store record for a user with `password` (only its HA1 values are kept: RFC 7616 §3.4.2).
pub fn record_for_password(aor: &Aor, realm: &str, password: &str) -> store::UserRecord {
    let username = aor.user().to_owned();
    store::UserRecord {
        aor: aor.to_string(),
        username: username.clone(),
        realm: realm.to_owned(),
        display_name: None,
        ha1_md5: Some(
            sip_auth::ha1(&username, realm, password, Algorithm::Md5)
                .as_hex()
                .to_owned(),
        ),
        ha1_sha256: Some(
            sip_auth::ha1(&username, realm, password, Algorithm::Sha256)
                .as_hex()
                .to_owned(),
        ),
    }
}

/// Every user: the topology's, then the store's (which win: `convene ctl user` changes them).
pub fn directory(model: &topology::Topology, stored: &[store::UserRecord]) -> Directory {
    let mut d = Directory::new();
    for u in &model.users {
        if let Some(user) = user_from_topology(u) {
            d.insert(user);
        } else if let Ok(uri) = sip_msg::Uri::parse(u.aor.get_ref())
            && let Some(aor) = Aor::from_uri(&uri)
        {
            // A user without credentials in the topology still exists (404 vs 480).
            d.insert(User {
                username: aor.user().to_owned(),
                realm: String::new(),
                ha1: Vec::new(),
                aor,
            });
        }
    }
    for r in stored {
        if let Some(user) = user_from_record(r) {
            d.insert(user);
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_users_carry_both_hashes() {
        let t = crate::Topology::load(None).unwrap();
        let d = directory(&t.model, &[]);
        assert_eq!(d.len(), 3);
        use sip_auth::Credentials;
        let md5 = d.ha1("alice", "example.test", Algorithm::Md5).unwrap();
        assert_eq!(
            md5,
            sip_auth::ha1("alice", "example.test", "alice-dev", Algorithm::Md5)
        );
        assert!(d.ha1("bob", "example.test", Algorithm::Sha256).is_some());
    }

    #[test]
    fn stored_users_override_the_topology() {
        let t = crate::Topology::load(None).unwrap();
        let aor = Aor::new("alice", "example.test");
        let rec = record_for_password(&aor, "example.test", "new-secret");
        rec.check().unwrap();
        let d = directory(&t.model, &[rec]);
        use sip_auth::Credentials;
        assert_eq!(
            d.ha1("alice", "example.test", Algorithm::Md5).unwrap(),
            sip_auth::ha1("alice", "example.test", "new-secret", Algorithm::Md5)
        );
    }

    #[test]
    fn locator_takes_transport_from_the_uri() {
        let l = NetLocator::new(
            vec![
                (Proto::Udp, "127.0.0.1:5060".parse().unwrap()),
                (Proto::Tcp, "127.0.0.1:5060".parse().unwrap()),
            ],
            true,
        );
        let uri = |s: &str| sip_msg::Uri::parse(s).unwrap().as_sip().unwrap().clone();
        let h = l
            .locate(&uri("sip:bob@192.0.2.1:5070;transport=tcp"))
            .unwrap();
        assert_eq!(h.proto, Proto::Tcp);
        assert_eq!(h.remote, "192.0.2.1:5070".parse().unwrap());
        let h = l.locate(&uri("sip:bob@192.0.2.1")).unwrap();
        assert_eq!((h.proto, h.remote.port()), (Proto::Udp, 5060));
        assert!(l.locate(&uri("sip:bob@host.example")).is_none());
        // A host name is left to DNS, unless maddr gives the address.
        assert!(l.resolvable(&uri("sip:bob@host.example")));
        assert!(!l.resolvable(&uri("sip:bob@192.0.2.1")));
        assert!(!l.resolvable(&uri("sip:bob@host.example;maddr")));
        // No TLS listener: no TLS hop.
        assert!(l.locate(&uri("sips:bob@192.0.2.1")).is_none());
    }

    /// What DNS gave becomes hops in the same order; a transport without a listener is left
    /// out; TLS verifies the domain asked for (RFC 5922 §4), not the SRV target's name.
    #[test]
    fn resolved_targets_become_hops() {
        let l = NetLocator::new(
            vec![
                (Proto::Udp, "127.0.0.1:5060".parse().unwrap()),
                (Proto::Tls, "127.0.0.1:5061".parse().unwrap()),
            ],
            true,
        );
        let uri = sip_msg::Uri::parse("sip:Bob@Partner.test")
            .unwrap()
            .as_sip()
            .unwrap()
            .clone();
        let t = |tr, a: &str| sip_dns::Target::new(tr, a.parse().unwrap(), "sip1.partner.test");
        let hops = l.hops(
            &uri,
            &[
                t(sip_dns::Transport::Tls, "192.0.2.1:5061"),
                t(sip_dns::Transport::Tcp, "192.0.2.2:5060"),
                t(sip_dns::Transport::Udp, "192.0.2.3:5060"),
            ],
        );
        assert_eq!(hops.len(), 2);
        assert_eq!(
            (hops[0].proto, hops[0].remote),
            (Proto::Tls, "192.0.2.1:5061".parse().unwrap())
        );
        assert_eq!(hops[0].server_name.as_deref(), Some("partner.test"));
        assert_eq!(hops[0].local, "127.0.0.1:5061".parse().unwrap());
        assert_eq!(
            (hops[1].proto, hops[1].server_name.as_deref()),
            (Proto::Udp, None)
        );
        let off = NetLocator::new(vec![(Proto::Udp, "127.0.0.1:5060".parse().unwrap())], false);
        assert!(!off.resolvable(&uri));
    }

    /// A static route's next hop with an `address`: connect to the maddr, verify (and send as
    /// SNI) the host name its certificate must carry.
    #[test]
    fn maddr_is_the_address_and_the_host_the_tls_name() {
        let l = NetLocator::new(
            vec![
                (Proto::Udp, "127.0.0.1:5060".parse().unwrap()),
                (Proto::Tls, "127.0.0.1:5061".parse().unwrap()),
            ],
            true,
        );
        let uri = |s: &str| sip_msg::Uri::parse(s).unwrap().as_sip().unwrap().clone();
        let h = l
            .locate(&uri(
                "sip:CUPS.partner.test:5062;transport=tls;maddr=192.0.2.7",
            ))
            .unwrap();
        assert_eq!(h.proto, Proto::Tls);
        assert_eq!(h.remote, "192.0.2.7:5062".parse().unwrap());
        assert_eq!(h.server_name.as_deref(), Some("cups.partner.test"));
        let t = h.target();
        assert_eq!(t.server_name.as_deref(), Some("cups.partner.test"));
        assert_eq!(t.addr, "192.0.2.7:5062".parse().unwrap());
        // An IPv6 maddr in brackets; an IP host has no name to verify beyond its address.
        let h = l
            .locate(&uri("sip:gw.partner.test;maddr=[2001:db8::7]"))
            .unwrap();
        assert_eq!(h.remote, "[2001:db8::7]:5060".parse().unwrap());
        let h = l.locate(&uri("sip:192.0.2.1;maddr=192.0.2.9")).unwrap();
        assert_eq!(
            (h.remote.ip().to_string(), h.server_name),
            ("192.0.2.9".into(), None)
        );
        // A host-name maddr, or none at all, needs DNS.
        assert!(
            l.locate(&uri("sip:gw.partner.test;maddr=gw2.partner.test"))
                .is_none()
        );
        assert!(l.locate(&uri("sip:gw.partner.test;maddr")).is_none());
        // Without maddr the TLS name is the address itself, as before.
        let h = l.locate(&uri("sips:bob@192.0.2.1")).unwrap();
        assert_eq!(h.server_name, None);
    }
}
