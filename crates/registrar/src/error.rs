//! Why a REGISTER is rejected (one enum for the registrar's fault family), the SIP status each
//! reason maps to and its catalogued `ms-diagnostics` code; and why a configuration is refused.

use diag::{Diagnostic, codes};

/// A REGISTER the registrar refuses; nothing in the location service changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrarError {
    /// The request is not a REGISTER (the caller routed it here by mistake).
    #[error("the request is a {0}, not a REGISTER")]
    NotRegister(String),
    /// A header the registrar reads does not parse (RFC 3261 §10.3).
    #[error("malformed {header} header: {reason}")]
    Malformed {
        /// The header name.
        header: &'static str,
        /// What the parser said.
        reason: String,
    },
    /// Call-ID or CSeq is missing (RFC 3261 §8.1.1).
    #[error("the REGISTER has no {0} header")]
    MissingHeader(&'static str),
    /// `Contact: *` together with other contacts or an Expires other than 0 (RFC 3261 §10.3 step 6).
    #[error("Contact: * is only allowed alone and with Expires: 0")]
    InvalidWildcard,
    /// More than one Contact carries `reg-id` (RFC 5626 §6).
    #[error("more than one Contact carries reg-id")]
    MultipleRegIds,
    /// A contact asks for a non-zero interval below the minimum (RFC 3261 §10.3 step 6: 423).
    #[error("requested expiry {requested}s is shorter than the minimum {min_expires}s")]
    IntervalTooBrief {
        /// The interval the contact asked for.
        requested: u32,
        /// The registrar's minimum, sent back in Min-Expires.
        min_expires: u32,
    },
    /// Same Call-ID as a stored binding but a CSeq not higher than its (RFC 3261 §10.3 step 7).
    #[error("CSeq {cseq} is not higher than the binding's {stored} for the same Call-ID")]
    OutOfOrder {
        /// The request's CSeq number.
        cseq: u32,
        /// The CSeq stored with the binding.
        stored: u32,
    },
    /// The Contact's `+sip.instance` is not the one derived from the From `epid`
    /// ([MS-SIPAE] 3.3.5.2; derivation MS-SIP.md §2.2).
    #[error("+sip.instance {instance} was not derived from epid {epid} (expected {expected})")]
    InstanceNotDerivedFromEpid {
        /// The From `epid`.
        epid: String,
        /// The Contact's `+sip.instance`.
        instance: String,
        /// The instance derived from the epid.
        expected: String,
    },
    /// The From `epid` is longer than the registrar accepts ([MS-OCER] 4012).
    #[error("epid is {0} characters long")]
    EpidTooLong(usize),
    /// Outbound was asked for but the edge proxy that added the first Path did not mark it
    /// with `ob` (RFC 5626 §6: 439 First Hop Lacks Outbound Support).
    #[error("the first hop does not support outbound (no ob on the first Path)")]
    FirstHopLacksOutbound,
}

impl RegistrarError {
    /// The catalogued diagnostic carried by the rejection.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            RegistrarError::NotRegister(m) => codes::INVALID_REGISTER
                .diagnostic()
                .param("detail", format!("method {m}")),
            RegistrarError::InstanceNotDerivedFromEpid { epid, instance, .. } => {
                codes::INSTANCE_NOT_DERIVED_FROM_EPID
                    .diagnostic()
                    .param("epid", epid.clone())
                    .param("instance", instance.clone())
            }
            RegistrarError::EpidTooLong(_) => codes::EPID_TOO_LONG.diagnostic(),
            RegistrarError::IntervalTooBrief { min_expires, .. } => codes::REGISTRATION_TOO_BRIEF
                .diagnostic()
                .param("min-expires", min_expires.to_string()),
            RegistrarError::OutOfOrder { cseq, stored } => codes::REGISTER_OUT_OF_ORDER
                .diagnostic()
                .param("cseq", cseq.to_string())
                .param("stored-cseq", stored.to_string()),
            RegistrarError::FirstHopLacksOutbound => codes::FIRST_HOP_LACKS_OUTBOUND.diagnostic(),
            other => codes::INVALID_REGISTER
                .diagnostic()
                .param("detail", other.to_string()),
        }
    }

    /// The SIP status of the rejection.
    pub fn status(&self) -> u16 {
        match self {
            // RFC 3261 §21.4.6: the registrar answers a method it does not serve with 405.
            RegistrarError::NotRegister(_) => 405,
            _ => self.diagnostic().code().status,
        }
    }
}

/// A registrar configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The expiry bounds are not ordered `0 < min_expires <= default_expires <= max_expires`.
    #[error(
        "expiry bounds must satisfy 0 < min_expires ({min}) <= default_expires ({default}) <= max_expires ({max}); fix the [registrar] values"
    )]
    ExpiryBounds {
        /// `min_expires`.
        min: u32,
        /// `default_expires`.
        default: u32,
        /// `max_expires`.
        max: u32,
    },
    /// A `service_route` entry is not a name-addr.
    #[error(
        "service_route entry {value:?} is not a SIP name-addr ({reason}); write it as \"<sip:host;lr>\""
    )]
    ServiceRoute {
        /// The entry.
        value: String,
        /// What the parser said.
        reason: String,
    },
    /// The GRUU secret is too short to make temporary GRUUs unguessable.
    #[error("the GRUU secret has {0} bytes; give at least 16 random bytes")]
    ShortSecret(usize),
}
