//! What resolution produces: a transport and a socket address to send a request to
//! (RFC 3263 §4: "the transport protocol, IP address and port").

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport that resolution can select (RFC 3263 §4.1; SCTP is not offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP (`transport=udp`, NAPTR `SIP+D2U`, SRV `_sip._udp`).
    Udp,
    /// TCP (`transport=tcp`, NAPTR `SIP+D2T`, SRV `_sip._tcp`).
    Tcp,
    /// TLS over TCP (`sips:`, `transport=tls`, NAPTR `SIPS+D2T`, SRV `_sips._tcp`).
    Tls,
}

impl Transport {
    /// The default port for this transport (RFC 3261 §19.1.2: 5060, 5061 for TLS).
    pub fn default_port(self) -> u16 {
        match self {
            Transport::Udp | Transport::Tcp => 5060,
            Transport::Tls => 5061,
        }
    }

    /// The transport named by a URI `transport` parameter (RFC 3261 §19.1.1), lower-cased.
    /// `tls` is accepted as Lync writes it; `sctp`/`ws`/`wss` are not resolvable here.
    pub fn from_uri_param(value: &str) -> Option<Transport> {
        match value.to_ascii_lowercase().as_str() {
            "udp" => Some(Transport::Udp),
            "tcp" => Some(Transport::Tcp),
            "tls" => Some(Transport::Tls),
            _ => None,
        }
    }

    /// The SRV service/protocol labels for this transport (RFC 3263 §4.2: `_sips._tcp`
    /// for TLS, `_sip._tcp`, `_sip._udp`).
    pub fn srv_prefix(self) -> &'static str {
        match self {
            Transport::Udp => "_sip._udp",
            Transport::Tcp => "_sip._tcp",
            Transport::Tls => "_sips._tcp",
        }
    }

    /// The upper-case name used in a Via header (RFC 3261 §18.2.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One place to send a request: transport, address and port, and the host name it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The transport to use.
    pub transport: Transport,
    /// The IP address and port.
    pub addr: SocketAddr,
    /// The host name the address was resolved from (an SRV target or the URI host),
    /// or the address itself when the URI held a numeric host.
    pub host: String,
}

impl Target {
    /// A target from its parts.
    pub fn new(transport: Transport, addr: SocketAddr, host: impl Into<String>) -> Self {
        Self {
            transport,
            addr,
            host: host.into(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.transport, self.addr, self.host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_names_ports_and_srv_labels() {
        let table = [
            ("udp", Transport::Udp, 5060, "_sip._udp", "UDP"),
            ("TCP", Transport::Tcp, 5060, "_sip._tcp", "TCP"),
            ("Tls", Transport::Tls, 5061, "_sips._tcp", "TLS"),
        ];
        for (param, t, port, srv, via) in table {
            assert_eq!(Transport::from_uri_param(param), Some(t), "{param}");
            assert_eq!(t.default_port(), port);
            assert_eq!(t.srv_prefix(), srv);
            assert_eq!(t.to_string(), via);
        }
        assert_eq!(Transport::from_uri_param("sctp"), None);
        assert_eq!(Transport::from_uri_param("ws"), None);
    }
}
