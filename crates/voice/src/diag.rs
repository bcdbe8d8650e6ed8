//! The `ms-diagnostics` codes the routing engine answers with. The codes, statuses and
//! reason texts come from the shared catalogue (`diag` crate, [MS-OCER] 8.2 and 8.11); this
//! module only names the ones routing uses and carries them as plain data in decisions.

use serde::Serialize;

/// A rejection as it goes on the wire: SIP status, `ms-diagnostics` ErrorId and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DiagCode {
    /// The SIP final response status (RFC 3261 §21).
    pub status: u16,
    /// The `ms-diagnostics` ErrorId ([MS-OCER] 2.2.1.1).
    pub code: u32,
    /// The `reason` parameter text ([MS-OCER] 8.x tables).
    pub reason: &'static str,
}

impl DiagCode {
    /// The reason phrase of the SIP status (RFC 3261 §21).
    pub fn status_phrase(&self) -> &'static str {
        match self.status {
            403 => "Forbidden",
            404 => "Not Found",
            484 => "Address Incomplete",
            503 => "Service Unavailable",
            _ => "",
        }
    }

    /// The header value as Lync writes it: `1003;reason="User does not exist"`.
    pub fn header_value(&self) -> String {
        format!("{};reason=\"{}\"", self.code, self.reason)
    }
}

impl std::fmt::Display for DiagCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}, ms-diagnostics: {}",
            self.status,
            self.status_phrase(),
            self.header_value()
        )
    }
}

impl DiagCode {
    /// The routing view of a catalogue entry.
    const fn of(c: &::diag::DiagCode) -> DiagCode {
        DiagCode {
            status: c.status,
            code: c.id,
            reason: c.reason,
        }
    }

    /// The catalogue entry this code comes from.
    pub fn catalogue(&self) -> Option<&'static ::diag::DiagCode> {
        ::diag::lookup(self.code)
    }
}

/// 1003: the call was not routed because the caller is not enabled for Enterprise Voice
/// and no trusted referrer stood in (404 observed in field trace seed-001).
pub const USER_DOES_NOT_EXIST: DiagCode = DiagCode::of(&::diag::codes::USER_DOES_NOT_EXIST);

/// 12000: routes matched but none of their trunks is available.
pub const NO_AVAILABLE_GATEWAY: DiagCode = DiagCode::of(&::diag::codes::NO_GATEWAY_AVAILABLE);

/// 12001: the routing identity's voice policy has no PSTN usage.
pub const NO_PHONE_ROUTE_USAGE: DiagCode = DiagCode::of(&::diag::codes::NO_PHONE_ROUTE_USAGE);

/// 12002: the dialled string is not a phone number.
pub const INVALID_PHONE_NUMBER: DiagCode = DiagCode::of(&::diag::codes::PHONE_NUMBER_INVALID);

/// 12004: no route's pattern matches the number in any of the policy's usages.
pub const NO_ROUTE_FOUND: DiagCode = DiagCode::of(&::diag::codes::NO_ROUTE_FOUND);

/// Every code this crate can answer with, for the catalogue and its tests.
pub const ALL: &[DiagCode] = &[
    USER_DOES_NOT_EXIST,
    NO_AVAILABLE_GATEWAY,
    NO_PHONE_ROUTE_USAGE,
    INVALID_PHONE_NUMBER,
    NO_ROUTE_FOUND,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_in_their_ranges() {
        for (i, a) in ALL.iter().enumerate() {
            for b in ALL.iter().skip(i + 1) {
                assert_ne!(a.code, b.code);
            }
            // [MS-OCER] 1.4 ranges: 1000–1999 SIP stack, 12000–12999 VoIP outbound routing.
            assert!((1000..2000).contains(&a.code) || (12000..13000).contains(&a.code));
            assert!((400..700).contains(&a.status));
            assert!(!a.status_phrase().is_empty());
        }
    }

    #[test]
    fn every_code_is_the_catalogue_entry() {
        for c in ALL {
            let entry = c.catalogue().expect("in the shared catalogue");
            assert_eq!((entry.status, entry.reason), (c.status, c.reason));
        }
    }

    #[test]
    fn header_value_reads_like_lync() {
        assert_eq!(
            USER_DOES_NOT_EXIST.header_value(),
            "1003;reason=\"User does not exist\""
        );
        assert_eq!(
            USER_DOES_NOT_EXIST.to_string(),
            "404 Not Found, ms-diagnostics: 1003;reason=\"User does not exist\""
        );
    }
}
