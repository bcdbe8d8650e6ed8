//! NAPTR answers for a SIP domain and the choice among them (RFC 3263 §4.1, RFC 3403).

use std::fmt;

use crate::target::Transport;

/// One NAPTR answer (RFC 3403 §4.1), with text fields decoded lossily and the
/// replacement as an absolute name without the final dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// Processed lowest first.
    pub order: u16,
    /// Among equal orders, processed lowest first.
    pub preference: u16,
    /// Flags; RFC 3263 uses `s` (the next lookup is SRV).
    pub flags: String,
    /// The service, e.g. `SIP+D2U`.
    pub services: String,
    /// The regular expression; RFC 3263 §4.1 uses the replacement instead.
    pub regexp: String,
    /// The SRV name to look up next.
    pub replacement: String,
}

impl NaptrRecord {
    /// A NAPTR answer from its fields.
    pub fn new(
        order: u16,
        preference: u16,
        flags: &str,
        services: &str,
        regexp: &str,
        replacement: &str,
    ) -> Self {
        Self {
            order,
            preference,
            flags: flags.to_owned(),
            services: services.to_owned(),
            regexp: regexp.to_owned(),
            replacement: replacement.to_owned(),
        }
    }
}

impl fmt::Display for NaptrRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} \"{}\" \"{}\" \"{}\" {}",
            self.order, self.preference, self.flags, self.services, self.regexp, self.replacement
        )
    }
}

/// The transport a NAPTR service field names, if it is one this server speaks
/// (RFC 3263 §4.1: `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`; `+D2S` is SCTP, not offered).
pub fn service_transport(services: &str) -> Option<Transport> {
    match services.to_ascii_uppercase().as_str() {
        "SIP+D2U" => Some(Transport::Udp),
        "SIP+D2T" => Some(Transport::Tcp),
        "SIPS+D2T" => Some(Transport::Tls),
        _ => None,
    }
}

/// The SRV lookups NAPTR answers lead to, in the order to try them (RFC 3263 §4.1):
/// only `s`-flagged records with a replacement and a service this server speaks; for a
/// SIPS URI only TLS services; sorted by order, then preference (RFC 3403 §4.1).
/// Each SRV name appears once, at its first place.
pub fn select(records: &[NaptrRecord], secure: bool) -> Vec<(Transport, String)> {
    let mut usable: Vec<(&NaptrRecord, Transport)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter(|r| !r.replacement.is_empty() && r.replacement != ".")
        .filter_map(|r| service_transport(&r.services).map(|t| (r, t)))
        // RFC 3263 §4.1: "If the URI is a SIPS URI, … discard any services that do not use TLS".
        .filter(|(_, t)| !secure || *t == Transport::Tls)
        .collect();
    usable.sort_by_key(|(r, _)| (r.order, r.preference));
    let mut out: Vec<(Transport, String)> = Vec::with_capacity(usable.len());
    for (r, t) in usable {
        let name = r.replacement.to_ascii_lowercase();
        if !out.iter().any(|(ot, on)| *ot == t && *on == name) {
            out.push((t, name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 3263 §4.1 example: SIPS+D2T 50/50, SIP+D2T 90/50, SIP+D2U 100/50.
    #[test]
    fn rfc3263_example_order() {
        let recs = [
            NaptrRecord::new(100, 50, "s", "SIP+D2U", "", "_sip._udp.example.com"),
            NaptrRecord::new(90, 50, "s", "SIP+D2T", "", "_sip._tcp.example.com"),
            NaptrRecord::new(50, 50, "s", "SIPS+D2T", "", "_sips._tcp.example.com"),
        ];
        assert_eq!(
            select(&recs, false),
            vec![
                (Transport::Tls, "_sips._tcp.example.com".to_owned()),
                (Transport::Tcp, "_sip._tcp.example.com".to_owned()),
                (Transport::Udp, "_sip._udp.example.com".to_owned()),
            ]
        );
        // SIPS URI: TLS services only.
        assert_eq!(
            select(&recs, true),
            vec![(Transport::Tls, "_sips._tcp.example.com".to_owned())]
        );
    }

    #[test]
    fn preference_breaks_order_ties_and_unusable_records_are_skipped() {
        let recs = [
            NaptrRecord::new(10, 20, "S", "sip+d2t", "", "_sip._tcp.b.test"),
            NaptrRecord::new(10, 10, "s", "SIP+D2U", "", "_sip._udp.a.test"),
            // SCTP: not offered.
            NaptrRecord::new(1, 1, "s", "SIP+D2S", "", "_sip._sctp.a.test"),
            // Not an SRV step ("a" flag) and a regexp rule: not RFC 3263 SIP.
            NaptrRecord::new(1, 1, "a", "SIP+D2U", "", "a.test"),
            NaptrRecord::new(1, 1, "", "SIP+D2U", "!^.*$!sip:x@y!", "."),
            // Another application's service (ENUM).
            NaptrRecord::new(1, 1, "s", "E2U+sip", "", "_sip._udp.c.test"),
            // Duplicate of the first usable one.
            NaptrRecord::new(30, 10, "s", "SIP+D2U", "", "_SIP._UDP.A.TEST"),
        ];
        assert_eq!(
            select(&recs, false),
            vec![
                (Transport::Udp, "_sip._udp.a.test".to_owned()),
                (Transport::Tcp, "_sip._tcp.b.test".to_owned()),
            ]
        );
        assert!(select(&recs, true).is_empty());
        assert!(select(&[], false).is_empty());
    }
}
