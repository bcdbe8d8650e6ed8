//! The client side of a meeting join: when a federated join fails, does the client retry
//! as an anonymous user (field: seed-003 Table 1; MS-SIP.md §1.6)?

use serde::Serialize;

use crate::uri::{ANONYMOUS_HOST, SipUri};

/// Response codes that make a Lync client fall back to an anonymous join (seed-003 Table 1).
pub const FALLBACK_STATUSES: [u16; 2] = [504, 404];

/// ms-diagnostics codes that make a Lync client fall back to an anonymous join
/// (seed-003 Table 1: 1005, 1008, 1009, 1002, 4033).
pub const FALLBACK_CODES: [u32; 5] = [
    diag::codes::CANNOT_ROUTE_TO_DESTINATION_DOMAIN.id,
    diag::codes::UNABLE_TO_RESOLVE_DNS_SRV.id,
    diag::codes::NO_MATCH_FOR_DOMAIN_IN_SRV.id,
    diag::codes::FROM_NOT_AUTHORIZED_FEDERATION.id,
    diag::codes::TO_USER_NOT_AUTHORIZED_FEDERATION.id,
];

/// Why the client does or does not fall back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "because", rename_all = "kebab-case")]
pub enum Fallback {
    /// The response code is one of [`FALLBACK_STATUSES`].
    ByStatus {
        /// The status.
        status: u16,
    },
    /// An ms-diagnostics code is one of [`FALLBACK_CODES`].
    ByDiagnostic {
        /// The code.
        code: u32,
    },
    /// Neither: the client shows the error and stops.
    No,
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fallback::ByStatus { status } => {
                write!(f, "falls back to an anonymous join (status {status})")
            }
            Fallback::ByDiagnostic { code } => {
                write!(f, "falls back to an anonymous join (ms-diagnostics {code})")
            }
            Fallback::No => f.write_str("shows the error; no anonymous fallback"),
        }
    }
}

impl Fallback {
    /// Whether the client retries anonymously.
    pub fn falls_back(self) -> bool {
        !matches!(self, Fallback::No)
    }
}

/// Decides the fallback from the failed federated join's status and its ms-diagnostics
/// codes ("a valid response code OR a valid ms-diagnostics code", seed-003).
pub fn decide(status: u16, diagnostic_codes: &[u32]) -> Fallback {
    if FALLBACK_STATUSES.contains(&status) {
        return Fallback::ByStatus { status };
    }
    diagnostic_codes
        .iter()
        .find(|c| FALLBACK_CODES.contains(c))
        .map_or(Fallback::No, |&code| Fallback::ByDiagnostic { code })
}

/// The identity of an anonymous join: `sip:<guid>@anonymous.invalid` ([MS-SIPAE] 3.2.4.3).
/// The caller supplies the GUID (this crate has no randomness); the display name is kept and
/// the roster shows the user as "Guest" (seed-003).
pub fn anonymous_identity(guid: &str) -> SipUri {
    SipUri::new(&guid.to_ascii_lowercase(), ANONYMOUS_HOST)
}

/// The label the roster shows next to an anonymous participant (seed-003 Figure 1).
pub const GUEST_LABEL: &str = "Guest";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_trigger_regardless_of_codes() {
        assert_eq!(decide(504, &[]), Fallback::ByStatus { status: 504 });
        assert_eq!(decide(404, &[1003]), Fallback::ByStatus { status: 404 });
        assert_eq!(decide(504, &[27000]), Fallback::ByStatus { status: 504 });
    }

    #[test]
    fn each_table_code_triggers_on_a_non_fallback_status() {
        for code in [1005, 1008, 1009, 1002, 4033] {
            assert_eq!(
                decide(403, &[code]),
                Fallback::ByDiagnostic { code },
                "{code}"
            );
            assert!(decide(480, &[9999, code]).falls_back());
        }
    }

    #[test]
    fn other_failures_do_not_trigger() {
        for (status, codes) in [
            (403, vec![]),
            (403, vec![60001]),
            (403, vec![1064]),
            (480, vec![1017]),
            (500, vec![27000]),
            (486, vec![]),
        ] {
            assert_eq!(decide(status, &codes), Fallback::No, "{status} {codes:?}");
        }
    }

    #[test]
    fn anonymous_identity_is_guid_at_anonymous_invalid() {
        let u = anonymous_identity("36825C7A-A4EA-430B-AA85-E8AA6EE97EBC");
        assert_eq!(
            u.to_string(),
            "sip:36825c7a-a4ea-430b-aa85-e8aa6ee97ebc@anonymous.invalid"
        );
        assert!(u.is_anonymous());
    }
}
