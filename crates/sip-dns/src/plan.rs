//! What a SIP URI asks of DNS (RFC 3263 §4): which lookups to make, decided from the URI
//! alone before any query is sent.

use std::net::{IpAddr, SocketAddr};

use sip_msg::{Host, SipUri, Uri, Via};

use crate::error::PlanError;
use crate::target::{Target, Transport};

/// The lookups a URI calls for (RFC 3263 §4.1 transport, §4.2 address and port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// A numeric host: no DNS at all (RFC 3263 §4.2).
    Numeric(Target),
    /// A host name with an explicit port: A/AAAA only (RFC 3263 §4.2).
    Address {
        /// The host name.
        host: String,
        /// The port from the URI.
        port: u16,
        /// The transport chosen by §4.1.
        transport: Transport,
    },
    /// A host name with a transport but no port: SRV for that transport, then A/AAAA
    /// at the transport's default port (RFC 3263 §4.2).
    Srv {
        /// The domain.
        domain: String,
        /// The transport from the URI.
        transport: Transport,
    },
    /// Nothing but a host name: NAPTR, then SRV per transport, then A/AAAA (RFC 3263 §4.1).
    Naptr {
        /// The domain.
        domain: String,
        /// A SIPS URI: only TLS may be chosen.
        secure: bool,
    },
}

/// The SRV names tried when a domain has no usable NAPTR answer (RFC 3263 §4.1: "the client
/// constructs SRV queries for those transport protocols it supports"), most secure first;
/// a SIPS URI allows only `_sips._tcp`.
pub fn fallback_srv(domain: &str, secure: bool) -> Vec<(Transport, String)> {
    let transports: &[Transport] = if secure {
        &[Transport::Tls]
    } else {
        &[Transport::Tls, Transport::Tcp, Transport::Udp]
    };
    transports
        .iter()
        .map(|t| (*t, format!("{}.{domain}", t.srv_prefix())))
        .collect()
}

/// The transport used with A/AAAA answers when SRV found nothing (RFC 3263 §4.1: "TCP for a
/// SIPS URI, and UDP for a SIP URI"; TLS is TLS over TCP).
pub fn default_transport(secure: bool) -> Transport {
    if secure {
        Transport::Tls
    } else {
        Transport::Udp
    }
}

/// Decides the lookups for a `sip:`/`sips:` URI.
pub fn plan_uri(uri: &Uri) -> Result<Plan, PlanError> {
    match uri {
        Uri::Sip(u) => plan(u),
        other => Err(PlanError::NotSip {
            scheme: other.scheme().to_owned(),
        }),
    }
}

/// Decides the lookups for a SIP URI (RFC 3263 §4).
pub fn plan(uri: &SipUri) -> Result<Plan, PlanError> {
    // RFC 3263 §4: "TARGET [is] the value of the maddr parameter of the URI, if present,
    // otherwise, the host value of the hostport component of the URI".
    let host = match uri.param("maddr") {
        Some(Some(m)) => parse_maddr(m)?,
        Some(None) => return Err(PlanError::EmptyMaddr),
        None => uri.host.clone(),
    };
    // RFC 3263 §4.1: an explicit transport parameter decides.
    let transport = match uri.transport() {
        Some(t) => {
            let t = Transport::from_uri_param(&t).ok_or(PlanError::UnsupportedTransport(t))?;
            match (uri.secure, t) {
                // RFC 3261 §26.2.2: a SIPS URI is TLS on every hop; TLS needs TCP.
                (true, Transport::Udp) => return Err(PlanError::SipsOverUdp),
                // RFC 3261 §19.1.2: sips with transport=tcp means TLS over TCP.
                (true, _) => Some(Transport::Tls),
                (false, t) => Some(t),
            }
        }
        None => None,
    };
    let domain = match host {
        Host::Domain(d) => normalise(&d)?,
        // RFC 3263 §4.1: a numeric host without transport: UDP for SIP, TCP (TLS) for SIPS;
        // §4.2: the URI's port, else the transport's default.
        Host::V4(a) => return Ok(numeric(IpAddr::V4(a), uri, transport)),
        Host::V6(a) => return Ok(numeric(IpAddr::V6(a), uri, transport)),
    };
    match (uri.port, transport) {
        // RFC 3263 §4.1: "if no transport protocol is specified, but the TARGET is not numeric
        // and has an explicit port, the client SHOULD use UDP for a SIP URI, and TCP for a SIPS URI".
        (Some(port), t) => Ok(Plan::Address {
            host: domain,
            port,
            transport: t.unwrap_or(default_transport(uri.secure)),
        }),
        (None, Some(transport)) => Ok(Plan::Srv { domain, transport }),
        (None, None) => Ok(Plan::Naptr {
            domain,
            secure: uri.secure,
        }),
    }
}

/// The single target of a numeric host (RFC 3263 §4.1, §4.2).
fn numeric(ip: IpAddr, uri: &SipUri, transport: Option<Transport>) -> Plan {
    let t = transport.unwrap_or(default_transport(uri.secure));
    let port = uri.port.unwrap_or(t.default_port());
    Plan::Numeric(Target::new(t, SocketAddr::new(ip, port), ip.to_string()))
}

/// Decides the lookups for sending a response to the topmost Via's sent-by after the
/// connection or address it came from failed (RFC 3263 §5): a numeric sent-by is used as is
/// (its port, else the transport's default); a domain with a port is looked up by A/AAAA; a
/// domain without a port by SRV for the Via's transport (`_sips` for TLS), falling back to
/// A/AAAA on the default port as §4.2 does.
pub fn plan_via(via: &Via) -> Result<Plan, PlanError> {
    let transport = match &via.transport {
        sip_msg::Transport::Udp => Transport::Udp,
        sip_msg::Transport::Tcp => Transport::Tcp,
        // RFC 3263 §5: "TLS" in the Via means TLS over TCP.
        sip_msg::Transport::Tls => Transport::Tls,
        other => return Err(PlanError::UnsupportedTransport(other.as_str().to_owned())),
    };
    let domain = match &via.host {
        Host::Domain(d) => normalise(d)?,
        Host::V4(a) => return Ok(via_numeric(IpAddr::V4(*a), via.port, transport)),
        Host::V6(a) => return Ok(via_numeric(IpAddr::V6(*a), via.port, transport)),
    };
    Ok(match via.port {
        Some(port) => Plan::Address {
            host: domain,
            port,
            transport,
        },
        None => Plan::Srv { domain, transport },
    })
}

fn via_numeric(ip: IpAddr, port: Option<u16>, t: Transport) -> Plan {
    let port = port.unwrap_or(t.default_port());
    Plan::Numeric(Target::new(t, SocketAddr::new(ip, port), ip.to_string()))
}

/// A domain name lower-cased without its final dot; an empty name is refused.
fn normalise(d: &str) -> Result<String, PlanError> {
    let d = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
    if d.is_empty() {
        return Err(PlanError::EmptyHost);
    }
    Ok(d)
}

/// An `maddr` value: an IPv4 address, a bracketed or bare IPv6 address, or a host name.
fn parse_maddr(m: &str) -> Result<Host, PlanError> {
    let inner = m
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(m);
    if let Ok(ip) = inner.parse::<IpAddr>() {
        return Ok(match ip {
            IpAddr::V4(a) => Host::V4(a),
            IpAddr::V6(a) => Host::V6(a),
        });
    }
    let ok = !m.is_empty()
        && m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if ok {
        Ok(Host::Domain(m.to_owned()))
    } else {
        Err(PlanError::BadMaddr(m.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Plan, PlanError> {
        plan_uri(&Uri::parse(s).unwrap())
    }

    fn numeric(t: Transport, addr: &str) -> Plan {
        let addr: SocketAddr = addr.parse().unwrap();
        Plan::Numeric(Target::new(t, addr, addr.ip().to_string()))
    }

    // RFC 3263 §4.1 and §4.2, one row per rule.
    #[test]
    fn plans_per_rfc3263() {
        use Transport::*;
        let table: Vec<(&str, Plan)> = vec![
            ("sip:alice@192.0.2.1", numeric(Udp, "192.0.2.1:5060")),
            ("sips:alice@192.0.2.1", numeric(Tls, "192.0.2.1:5061")),
            (
                "sip:192.0.2.1:5070;transport=tcp",
                numeric(Tcp, "192.0.2.1:5070"),
            ),
            ("sip:[2001:db8::1]", numeric(Udp, "[2001:db8::1]:5060")),
            (
                "sip:[2001:db8::1]:5080;transport=TLS",
                numeric(Tls, "[2001:db8::1]:5080"),
            ),
            (
                "sip:alice@Example.COM:5070",
                Plan::Address {
                    host: "example.com".into(),
                    port: 5070,
                    transport: Udp,
                },
            ),
            (
                "sips:alice@example.com:5071",
                Plan::Address {
                    host: "example.com".into(),
                    port: 5071,
                    transport: Tls,
                },
            ),
            (
                "sip:example.com:5072;transport=tcp",
                Plan::Address {
                    host: "example.com".into(),
                    port: 5072,
                    transport: Tcp,
                },
            ),
            (
                "sip:example.com;transport=tcp",
                Plan::Srv {
                    domain: "example.com".into(),
                    transport: Tcp,
                },
            ),
            (
                "sip:example.com;transport=tls",
                Plan::Srv {
                    domain: "example.com".into(),
                    transport: Tls,
                },
            ),
            (
                "sips:example.com;transport=tcp",
                Plan::Srv {
                    domain: "example.com".into(),
                    transport: Tls,
                },
            ),
            (
                "sip:bob@example.com.",
                Plan::Naptr {
                    domain: "example.com".into(),
                    secure: false,
                },
            ),
            (
                "sips:bob@example.com",
                Plan::Naptr {
                    domain: "example.com".into(),
                    secure: true,
                },
            ),
            // RFC 3263 §4: maddr replaces the host.
            (
                "sip:bob@example.com;maddr=192.0.2.9",
                numeric(Udp, "192.0.2.9:5060"),
            ),
            (
                "sip:bob@example.com;maddr=[2001:db8::9]",
                numeric(Udp, "[2001:db8::9]:5060"),
            ),
            (
                "sip:bob@example.com;maddr=Proxy.Example.net",
                Plan::Naptr {
                    domain: "proxy.example.net".into(),
                    secure: false,
                },
            ),
        ];
        for (uri, want) in table {
            assert_eq!(p(uri).unwrap(), want, "{uri}");
        }
    }

    #[test]
    fn refusals() {
        assert_eq!(
            p("tel:+15551234").unwrap_err(),
            PlanError::NotSip {
                scheme: "tel".into()
            }
        );
        assert_eq!(
            p("sip:example.com;transport=sctp").unwrap_err(),
            PlanError::UnsupportedTransport("sctp".into())
        );
        assert_eq!(
            p("sips:example.com;transport=udp").unwrap_err(),
            PlanError::SipsOverUdp
        );
        assert_eq!(
            p("sip:a@example.com;maddr").unwrap_err(),
            PlanError::EmptyMaddr
        );
        assert_eq!(
            p("sip:a@example.com;maddr=a%20b").unwrap_err(),
            PlanError::BadMaddr("a%20b".into())
        );
    }

    // RFC 3263 §5: the sent-by of the topmost Via.
    #[test]
    fn plans_for_responses() {
        use Transport::*;
        let via = |s: &str| sip_msg::parse_one::<Via>(s).unwrap();
        let table: Vec<(&str, Plan)> = vec![
            (
                "SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK1",
                numeric(Udp, "192.0.2.4:5060"),
            ),
            (
                "SIP/2.0/TLS 192.0.2.4;branch=z9hG4bK1",
                numeric(Tls, "192.0.2.4:5061"),
            ),
            (
                "SIP/2.0/TCP [2001:db8::4]:5080;branch=z9hG4bK1",
                numeric(Tcp, "[2001:db8::4]:5080"),
            ),
            (
                "SIP/2.0/TCP pc33.Atlanta.com:5066;branch=z9hG4bK1",
                Plan::Address {
                    host: "pc33.atlanta.com".into(),
                    port: 5066,
                    transport: Tcp,
                },
            ),
            (
                "SIP/2.0/TLS pc33.atlanta.com;branch=z9hG4bK1",
                Plan::Srv {
                    domain: "pc33.atlanta.com".into(),
                    transport: Tls,
                },
            ),
        ];
        for (v, want) in table {
            assert_eq!(plan_via(&via(v)).unwrap(), want, "{v}");
        }
        assert_eq!(
            plan_via(&via("SIP/2.0/WSS a.example;branch=z9hG4bK1")).unwrap_err(),
            PlanError::UnsupportedTransport("WSS".into())
        );
    }

    #[test]
    fn fallback_names_and_default_transport() {
        let names: Vec<String> = fallback_srv("example.com", false)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        assert_eq!(
            names,
            [
                "_sips._tcp.example.com",
                "_sip._tcp.example.com",
                "_sip._udp.example.com"
            ]
        );
        assert_eq!(
            fallback_srv("example.com", true),
            vec![(Transport::Tls, "_sips._tcp.example.com".to_owned())]
        );
        assert_eq!(default_transport(false), Transport::Udp);
        assert_eq!(default_transport(true), Transport::Tls);
    }
}
