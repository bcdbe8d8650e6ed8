//! The one catalogue of every `ms-diagnostics` code Convene emits ([MS-OCER] 2.2.1),
//! and the rendering of the `ms-diagnostics` / `ms-diagnostics-public` header values.
//!
//! Other crates name a code through the constants in [`codes`] and build a header value with
//! [`Diagnostic`]; they never write a reason text or an ErrorId as a literal. The admin
//! documentation (`docs/diagnostics.md`) is generated from [`CATALOGUE`] by [`markdown`].
//!
//! Pure: no I/O, and no dependency on any other Convene crate.

mod catalogue;
mod header;
mod markdown;

pub use catalogue::{CATALOGUE, CONVENE_RANGE, codes, lookup};
pub use header::{Diagnostic, Param, ParseError, ParsedDiagnostic, parse_value, quote};
pub use markdown::markdown;

use serde::Serialize;

/// Which header(s) carry a code ([MS-OCER] 2.2.1.1, 2.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderKind {
    /// Only `ms-diagnostics` (internal recipients; stripped at the edge by default).
    Private,
    /// Only `ms-diagnostics-public` (the spec assigns the code to the public header).
    Public,
    /// `ms-diagnostics`, and also `ms-diagnostics-public` for external recipients.
    PrivateAndPublic,
}

impl HeaderKind {
    /// Whether the code is (also) sent as `ms-diagnostics-public`.
    pub fn also_public(self) -> bool {
        matches!(self, HeaderKind::Public | HeaderKind::PrivateAndPublic)
    }

    /// Short label used in the generated documentation.
    pub fn label(self) -> &'static str {
        match self {
            HeaderKind::Private => "ms-diagnostics",
            HeaderKind::Public => "ms-diagnostics-public",
            HeaderKind::PrivateAndPublic => "ms-diagnostics + ms-diagnostics-public",
        }
    }
}

/// Where the default SIP status of a code comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusEvidence {
    /// Seen with this code in a field trace (MS-SIP.md §1.5 "Status" column).
    Observed,
    /// Not observed anywhere; Convene's choice, documented in `meaning`.
    Chosen,
}

/// One catalogue entry: an ms-diagnostics ErrorId and everything an admin needs about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DiagCode {
    /// The ErrorId ([MS-OCER] 2.2.1.1 `ErrorId`).
    pub id: u32,
    /// Default SIP status code of a response carrying this code.
    pub status: u16,
    /// Whether `status` was observed in the field or chosen by Convene.
    pub status_evidence: StatusEvidence,
    /// The `reason` parameter text, exactly as sent.
    pub reason: &'static str,
    /// Which header(s) carry the code.
    pub header: HeaderKind,
    /// Extra parameters Convene adds after `reason`, in order (informational).
    pub params: &'static [&'static str],
    /// What the code means, in an admin's words.
    pub meaning: &'static str,
    /// How an admin fixes the situation.
    pub fix: &'static str,
    /// Where the code and its text come from.
    pub citation: &'static str,
}

impl DiagCode {
    /// Whether this is one of Convene's own codes (see [`CONVENE_RANGE`]).
    pub fn is_convene(&self) -> bool {
        CONVENE_RANGE.contains(&self.id)
    }

    /// Starts a header value for this code.
    pub fn diagnostic(&'static self) -> Diagnostic {
        Diagnostic::new(self)
    }
}
