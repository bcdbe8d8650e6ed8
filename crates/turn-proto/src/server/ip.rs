//! Peer address ranges a relay refuses to reach (coturn's `denied-peer-ip`, RFC 8656 §21.2.2).

use std::net::IpAddr;
use std::str::FromStr;

/// A CIDR range such as `10.0.0.0/8` or `fc00::/7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

/// Why a string is not a CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpRangeError {
    /// The part before `/` is not an IP address.
    #[error("`{0}` is not an IP address (expected e.g. 10.0.0.0/8 or fc00::/7)")]
    Address(String),
    /// The prefix length is not a number or too long for the family.
    #[error("prefix length `{0}` is not 0..=32 for IPv4 or 0..=128 for IPv6")]
    Prefix(String),
}

impl IpRange {
    /// A range from a network address and prefix length (clamped to the family's width).
    pub fn new(network: IpAddr, prefix: u8) -> Self {
        let max = if network.is_ipv4() { 32 } else { 128 };
        Self {
            network: network.to_canonical(),
            prefix: prefix.min(max),
        }
    }

    /// Whether `ip` (IPv4-mapped IPv6 counts as IPv4) lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// Loopback, unspecified, link-local, RFC 1918 and ULA ranges: a relay in front of a
    /// private network should deny them as peers (RFC 8656 §21.2.2).
    pub fn loopback_and_private() -> Vec<Self> {
        [
            "0.0.0.0/8",
            "10.0.0.0/8",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "::/128",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
        ]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
    }
}

impl FromStr for IpRange {
    type Err = IpRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s.split_once('/').unwrap_or((s, ""));
        let network: IpAddr = addr
            .parse()
            .map_err(|_| IpRangeError::Address(addr.to_owned()))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = if prefix.is_empty() {
            max
        } else {
            prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| IpRangeError::Prefix(prefix.to_owned()))?
        };
        Ok(Self::new(network, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_match_their_members_only() {
        let cases = [
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("172.16.0.0/12", "172.31.255.255", true),
            ("172.16.0.0/12", "172.32.0.0", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("fc00::/7", "fd12::1", true),
            ("fc00::/7", "2001:db8::1", false),
            ("127.0.0.0/8", "::ffff:127.0.0.1", true),
            ("::1/128", "127.0.0.1", false),
        ];
        for (range, ip, want) in cases {
            let r: IpRange = range.parse().unwrap();
            assert_eq!(r.contains(ip.parse().unwrap()), want, "{range} {ip}");
        }
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        assert!(matches!(
            "10.0.0/8".parse::<IpRange>(),
            Err(IpRangeError::Address(_))
        ));
        assert!(matches!(
            "10.0.0.0/33".parse::<IpRange>(),
            Err(IpRangeError::Prefix(_))
        ));
        assert!(matches!(
            "::/x".parse::<IpRange>(),
            Err(IpRangeError::Prefix(_))
        ));
        assert_eq!(IpRange::loopback_and_private().len(), 10);
    }
}
