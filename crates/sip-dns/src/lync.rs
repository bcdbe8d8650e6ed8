//! The SRV names Lync / Skype for Business deployments publish, what each is for, and the
//! order Lync clients query them (MS-SIP.md §5.1, §5.2).

use std::fmt;

use crate::target::Transport;

/// A Lync SRV service (MS-SIP.md §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LyncService {
    /// `_sipinternaltls._tcp`: internal automatic sign-in to a Front End pool or Director (TLS, 5061).
    InternalTls,
    /// `_sipinternal._tcp`: legacy internal sign-in over TCP (clients still query it).
    InternalTcp,
    /// `_sip._tls`: remote client sign-in through the Access Edge (TLS, usually 443).
    ExternalTls,
    /// `_sipfederationtls._tcp`: federation and partner discovery at the Access Edge (TLS, 5061).
    FederationTls,
    /// `_sip._tcp`: legacy external sign-in over TCP (clients still query it).
    ExternalTcp,
}

impl LyncService {
    /// Every service, in the order of MS-SIP.md §5.1.
    pub const ALL: [LyncService; 5] = [
        LyncService::InternalTls,
        LyncService::InternalTcp,
        LyncService::ExternalTls,
        LyncService::FederationTls,
        LyncService::ExternalTcp,
    ];

    /// The order a client looks for its sign-in server (MS-SIP.md §5.2, pidgin-sipe's auto mode):
    /// internal TLS, internal TCP, external TLS, external TCP.
    pub const CLIENT_SIGN_IN: [LyncService; 4] = [
        LyncService::InternalTls,
        LyncService::InternalTcp,
        LyncService::ExternalTls,
        LyncService::ExternalTcp,
    ];

    /// The SRV names a Lync 2013 client queries for an anonymous join, before its host
    /// fallbacks (MS-SIP.md §5.2, field seed 003).
    pub const ANONYMOUS_JOIN: [LyncService; 2] =
        [LyncService::InternalTls, LyncService::ExternalTls];

    /// The service and protocol labels, e.g. `_sipinternaltls._tcp`.
    pub fn prefix(self) -> &'static str {
        match self {
            LyncService::InternalTls => "_sipinternaltls._tcp",
            LyncService::InternalTcp => "_sipinternal._tcp",
            LyncService::ExternalTls => "_sip._tls",
            LyncService::FederationTls => "_sipfederationtls._tcp",
            LyncService::ExternalTcp => "_sip._tcp",
        }
    }

    /// The transport a target found under this name is spoken with.
    pub fn transport(self) -> Transport {
        match self {
            LyncService::InternalTcp | LyncService::ExternalTcp => Transport::Tcp,
            LyncService::InternalTls | LyncService::ExternalTls | LyncService::FederationTls => {
                Transport::Tls
            }
        }
    }

    /// The full SRV name for a SIP domain, lower-cased, e.g. `_sip._tls.contoso.com`.
    pub fn srv_name(self, domain: &str) -> String {
        let d = domain.strip_suffix('.').unwrap_or(domain);
        format!("{}.{}", self.prefix(), d.to_ascii_lowercase())
    }
}

impl fmt::Display for LyncService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// A host a client tries by address record when no SRV name answered (MS-SIP.md §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFallback {
    /// The host name, e.g. `sipinternal.contoso.com`.
    pub host: String,
    /// The TLS ports tried on it, in order.
    pub ports: Vec<u16>,
}

/// The ports a Lync 2013 client tries on a host found by address record: 443, then 5061
/// (field seed 003).
pub const HOST_FALLBACK_PORTS: [u16; 2] = [443, 5061];

/// The hosts a Lync 2013 client tries by address record after its SRV names, in order:
/// `sipinternal`, `sip`, `sipexternal` (MS-SIP.md §5.2, field seed 003).
pub fn host_fallbacks(domain: &str) -> Vec<HostFallback> {
    let d = domain
        .strip_suffix('.')
        .unwrap_or(domain)
        .to_ascii_lowercase();
    ["sipinternal", "sip", "sipexternal"]
        .iter()
        .map(|h| HostFallback {
            host: format!("{h}.{d}"),
            ports: HOST_FALLBACK_PORTS.to_vec(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_transports() {
        let table = [
            (
                LyncService::InternalTls,
                "_sipinternaltls._tcp.contoso.com",
                Transport::Tls,
            ),
            (
                LyncService::InternalTcp,
                "_sipinternal._tcp.contoso.com",
                Transport::Tcp,
            ),
            (
                LyncService::ExternalTls,
                "_sip._tls.contoso.com",
                Transport::Tls,
            ),
            (
                LyncService::FederationTls,
                "_sipfederationtls._tcp.contoso.com",
                Transport::Tls,
            ),
            (
                LyncService::ExternalTcp,
                "_sip._tcp.contoso.com",
                Transport::Tcp,
            ),
        ];
        for (s, name, t) in table {
            assert_eq!(s.srv_name("Contoso.COM."), name);
            assert_eq!(s.transport(), t);
        }
        assert_eq!(LyncService::ALL.len(), table.len());
    }

    // MS-SIP.md §5.2 / seed 003: _sipinternaltls._tcp, _sip._tls, then sipinternal, sip, sipexternal.
    #[test]
    fn anonymous_join_order_is_the_seed_order() {
        let srv: Vec<String> = LyncService::ANONYMOUS_JOIN
            .iter()
            .map(|s| s.srv_name("tailspintoys.com"))
            .collect();
        assert_eq!(
            srv,
            [
                "_sipinternaltls._tcp.tailspintoys.com",
                "_sip._tls.tailspintoys.com"
            ]
        );
        let hosts: Vec<String> = host_fallbacks("tailspintoys.com")
            .into_iter()
            .map(|h| h.host)
            .collect();
        assert_eq!(
            hosts,
            [
                "sipinternal.tailspintoys.com",
                "sip.tailspintoys.com",
                "sipexternal.tailspintoys.com"
            ]
        );
        assert!(
            host_fallbacks("x.test")
                .iter()
                .all(|h| h.ports == [443, 5061])
        );
    }
}
