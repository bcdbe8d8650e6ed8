//! Header names (case-insensitive, compact forms of RFC 3261 §7.3.3 and later RFCs)
//! and the raw header entries a message keeps byte for byte.

use std::fmt;

use bytes::Bytes;

macro_rules! header_names {
    (@compact) => { "" };
    (@compact $c:literal) => { $c };
    ($( $(#[$doc:meta])* $var:ident = $canon:literal $(, $compact:literal)? ; )*) => {
        /// A header name. Known names are typed; any other is kept as written.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( $(#[$doc])* $var, )*
            /// An extension header, spelled as received.
            Other(String),
        }

        impl HeaderName {
            /// The canonical spelling (the long form).
            pub fn as_str(&self) -> &str {
                match self {
                    $( HeaderName::$var => $canon, )*
                    HeaderName::Other(s) => s,
                }
            }

            /// The canonical spelling of a known name.
            pub fn canonical(&self) -> Option<&'static str> {
                match self {
                    $( HeaderName::$var => Some($canon), )*
                    HeaderName::Other(_) => None,
                }
            }

            /// Looks a name up case-insensitively, compact forms included.
            pub fn from_bytes(name: &[u8]) -> HeaderName {
                known(name).unwrap_or_else(|| HeaderName::Other(String::from_utf8_lossy(name).into_owned()))
            }
        }

        /// The known names' long forms, in declaration order.
        const NAMES: &[&str] = &[$( $canon, )*];
        /// Their compact forms ("" for none), in the same order.
        const COMPACTS: &[&str] = &[$( header_names!(@compact $($compact)?), )*];
        /// The known names, in the same order.
        static KNOWN: &[HeaderName] = &[$( HeaderName::$var, )*];
    };
}

/// Slots of the long-name hash table (a power of two, well above the number of names).
const SLOTS: usize = 256;
const EMPTY: u8 = u8::MAX;

/// Hash of a header name for [`LONG`]: its length and first and last bytes, case-folded.
const fn name_hash(n: &[u8]) -> usize {
    let len = n.len();
    if len == 0 {
        return 0;
    }
    let a = n[0].to_ascii_lowercase() as usize;
    let z = n[len - 1].to_ascii_lowercase() as usize;
    (len.wrapping_mul(73) ^ a.wrapping_mul(5) ^ z.wrapping_mul(151)) & (SLOTS - 1)
}

/// An open-addressing table (linear probing) from [`name_hash`] to an index in `NAMES`.
static LONG: [u8; SLOTS] = {
    let mut t = [EMPTY; SLOTS];
    let mut i = 0;
    while i < NAMES.len() {
        let mut h = name_hash(NAMES[i].as_bytes());
        while t[h] != EMPTY {
            h = (h + 1) & (SLOTS - 1);
        }
        t[h] = i as u8;
        i += 1;
    }
    t
};

/// The index in `NAMES` of each compact form's letter (lower case).
static COMPACT: [u8; 256] = {
    let mut t = [EMPTY; 256];
    let mut i = 0;
    while i < COMPACTS.len() {
        let c = COMPACTS[i].as_bytes();
        if c.len() == 1 {
            t[c[0].to_ascii_lowercase() as usize] = i as u8;
        }
        i += 1;
    }
    t
};

/// Longest known name the folded tables hold (Proxy-Authentication-Info is 25 bytes).
const MAX_NAME: usize = 32;

/// Each known name lower-cased and zero-padded, and the case bit (0x20) of each of its
/// letters: `input | CASE == FOLDED` compares case-insensitively, eight bytes at a time.
/// Only a letter differs from its other case in that bit alone, so the match is exact.
static FOLDED: [([u8; MAX_NAME], [u8; MAX_NAME]); NAMES.len()] = {
    let mut t = [([0u8; MAX_NAME], [0u8; MAX_NAME]); NAMES.len()];
    let mut i = 0;
    while i < NAMES.len() {
        let n = NAMES[i].as_bytes();
        assert!(
            n.len() <= MAX_NAME,
            "a known header name is longer than MAX_NAME"
        );
        let mut j = 0;
        while j < n.len() {
            t[i].0[j] = n[j].to_ascii_lowercase();
            if n[j].is_ascii_alphabetic() {
                t[i].1[j] = 0x20;
            }
            j += 1;
        }
        i += 1;
    }
    t
};

/// Whether `name` (at most [`MAX_NAME`] bytes) is `NAMES[i]`, case-insensitively.
#[inline]
fn is_name(name: &[u8], i: usize) -> bool {
    let (Some(canon), Some((folded, case))) = (NAMES.get(i), FOLDED.get(i)) else {
        return false;
    };
    if canon.len() != name.len() {
        return false;
    }
    // Whole words straight from the name, then the tail (under 8 bytes) byte by byte.
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let full = name.len() / 8 * 8;
    let words_eq = name[..full]
        .chunks_exact(8)
        .zip(folded.chunks_exact(8).zip(case.chunks_exact(8)))
        .all(|(n, (f, c))| word(n) | word(c) == word(f));
    words_eq
        && name[full..]
            .iter()
            .zip(folded[full..].iter().zip(&case[full..]))
            .all(|(&n, (&f, &c))| n | c == f)
}

/// Matches a name against the known ones, case-insensitively: one hash, then usually one
/// comparison (RFC 3261 §7.3.1: field names are case-insensitive; §7.3.3 compact forms).
fn known(name: &[u8]) -> Option<HeaderName> {
    if name.len() == 1 {
        let i = COMPACT[usize::from(name[0].to_ascii_lowercase())];
        return KNOWN.get(usize::from(i)).cloned();
    }
    if name.len() > MAX_NAME {
        return None;
    }
    let mut h = name_hash(name);
    for _ in 0..SLOTS {
        let i = usize::from(LONG[h]);
        if i >= NAMES.len() {
            return None;
        }
        if is_name(name, i) {
            return KNOWN.get(i).cloned();
        }
        h = (h + 1) & (SLOTS - 1);
    }
    None
}

header_names! {
    /// RFC 3261 §20.42; compact `v`.
    Via = "Via", "v";
    /// RFC 3261 §20.20; compact `f`.
    From = "From", "f";
    /// RFC 3261 §20.39; compact `t`.
    To = "To", "t";
    /// RFC 3261 §20.8; compact `i`.
    CallId = "Call-ID", "i";
    /// RFC 3261 §20.16.
    CSeq = "CSeq";
    /// RFC 3261 §20.10; compact `m`.
    Contact = "Contact", "m";
    /// RFC 3261 §20.22.
    MaxForwards = "Max-Forwards";
    /// RFC 3261 §20.34.
    Route = "Route";
    /// RFC 3261 §20.30.
    RecordRoute = "Record-Route";
    /// RFC 3327.
    Path = "Path";
    /// RFC 3608.
    ServiceRoute = "Service-Route";
    /// RFC 3261 §20.14; compact `l`.
    ContentLength = "Content-Length", "l";
    /// RFC 3261 §20.15; compact `c`.
    ContentType = "Content-Type", "c";
    /// RFC 3261 §20.12; compact `e`.
    ContentEncoding = "Content-Encoding", "e";
    /// RFC 3261 §20.19.
    Expires = "Expires";
    /// RFC 3261 §20.23.
    MinExpires = "Min-Expires";
    /// RFC 3261 §20.37; compact `k`.
    Supported = "Supported", "k";
    /// RFC 3261 §20.32.
    Require = "Require";
    /// RFC 3261 §20.29.
    ProxyRequire = "Proxy-Require";
    /// RFC 3261 §20.40.
    Unsupported = "Unsupported";
    /// RFC 3261 §20.5.
    Allow = "Allow";
    /// RFC 6665 §8.2.2; compact `u`.
    AllowEvents = "Allow-Events", "u";
    /// RFC 3261 §20.1.
    Accept = "Accept";
    /// RFC 6665 §8.2.1; compact `o`.
    Event = "Event", "o";
    /// RFC 6665 §8.2.3.
    SubscriptionState = "Subscription-State";
    /// RFC 3515 §2.1; compact `r`.
    ReferTo = "Refer-To", "r";
    /// RFC 3892; compact `b`. [MS-SIPAE] 2.2.5 adds ms-identity parameters.
    ReferredBy = "Referred-By", "b";
    /// RFC 3325 §9.1.
    PAssertedIdentity = "P-Asserted-Identity";
    /// RFC 3325 §9.2.
    PPreferredIdentity = "P-Preferred-Identity";
    /// RFC 3261 §20.44.
    WwwAuthenticate = "WWW-Authenticate";
    /// RFC 3261 §20.7.
    Authorization = "Authorization";
    /// RFC 3261 §20.27.
    ProxyAuthenticate = "Proxy-Authenticate";
    /// RFC 3261 §20.28.
    ProxyAuthorization = "Proxy-Authorization";
    /// RFC 3261 §20.6.
    AuthenticationInfo = "Authentication-Info";
    /// [MS-SIPAE] 2.2: the server's signature toward a proxy-authenticated client.
    ProxyAuthenticationInfo = "Proxy-Authentication-Info";
    /// [MS-OCER] 2.2.1.1.
    MsDiagnostics = "ms-diagnostics";
    /// [MS-OCER] 2.2.1.2.
    MsDiagnosticsPublic = "ms-diagnostics-public";
    /// [MS-SIPRE]: identifies an IM conversation.
    MsConversationId = "Ms-Conversation-ID";
    /// [MS-CONMGMT] 2.2.1.
    MsKeepAlive = "ms-keep-alive";
    /// RFC 3261 §20.36; compact `s`.
    Subject = "Subject", "s";
    /// RFC 3261 §20.38.
    Timestamp = "Timestamp";
    /// RFC 3261 §20.41.
    UserAgent = "User-Agent";
    /// RFC 3261 §20.35.
    Server = "Server";
    /// RFC 3261 §20.17.
    Date = "Date";
    /// RFC 3261 §20.43.
    Warning = "Warning";
    /// RFC 3261 §20.33.
    RetryAfter = "Retry-After";
    /// RFC 4028; compact `x`.
    SessionExpires = "Session-Expires", "x";
    /// RFC 3841; compact `a`.
    AcceptContact = "Accept-Contact", "a";
    /// RFC 3841; compact `j`.
    RejectContact = "Reject-Contact", "j";
    /// RFC 3841; compact `d`.
    RequestDisposition = "Request-Disposition", "d";
    /// RFC 4474; compact `y`.
    Identity = "Identity", "y";
    /// RFC 4474; compact `n`.
    IdentityInfo = "Identity-Info", "n";
}

impl HeaderName {
    /// Whether the header's grammar is a comma-separated list (`#element`), so that
    /// several values may share one line (RFC 3261 §7.3.1). Headers whose values contain
    /// unquoted commas (WWW-Authenticate, Authorization, Date, …) are not lists.
    pub fn is_list(&self) -> bool {
        matches!(
            self,
            HeaderName::Via
                | HeaderName::Contact
                | HeaderName::Route
                | HeaderName::RecordRoute
                | HeaderName::Path
                | HeaderName::ServiceRoute
                | HeaderName::Supported
                | HeaderName::Require
                | HeaderName::ProxyRequire
                | HeaderName::Unsupported
                | HeaderName::Allow
                | HeaderName::AllowEvents
                | HeaderName::Accept
                | HeaderName::ContentEncoding
                | HeaderName::PAssertedIdentity
                | HeaderName::PPreferredIdentity
                | HeaderName::Warning
                | HeaderName::AcceptContact
                | HeaderName::RejectContact
        )
    }

    /// Whether a message may carry at most one value of this header (RFC 3261 §7.3.1, §20).
    pub fn is_single(&self) -> bool {
        matches!(
            self,
            HeaderName::From
                | HeaderName::To
                | HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::MaxForwards
                | HeaderName::ContentLength
                | HeaderName::ContentType
                | HeaderName::Expires
                | HeaderName::MinExpires
                | HeaderName::Event
                | HeaderName::SubscriptionState
                | HeaderName::ReferTo
                | HeaderName::ReferredBy
                | HeaderName::MsConversationId
                | HeaderName::SessionExpires
        )
    }

    /// The extension header named `name`, or the known one if it is known.
    pub fn new(name: &str) -> HeaderName {
        HeaderName::from_bytes(name.as_bytes())
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for HeaderName {
    fn from(s: &str) -> Self {
        HeaderName::new(s)
    }
}

/// One header line of a message. A header read from the wire keeps its exact bytes
/// (the whole logical line), so a message forwarded unchanged is written back byte for byte.
#[derive(Debug, Clone)]
pub struct Header {
    pub(crate) name: HeaderName,
    /// The whole logical line including its line end (for a built header, `Name: value\r\n`).
    pub(crate) raw: Bytes,
    /// `raw[..name_end]` is the name as written (e.g. `v`, `TO`).
    pub(crate) name_end: usize,
    /// `raw[value.0..value.1]` is the value: after the colon and leading white space, trailing
    /// white space removed; line folds inside are kept as received.
    pub(crate) value: (usize, usize),
    /// Byte offset of the value in the message it was parsed from (0 if built).
    pub(crate) value_offset: usize,
}

impl Header {
    /// A new header line `name: value`.
    pub fn new(name: impl Into<HeaderName>, value: impl AsRef<[u8]>) -> Header {
        let name = name.into();
        let value = value.as_ref();
        let spelled = name.as_str().as_bytes();
        let mut raw = Vec::with_capacity(spelled.len() + value.len() + 4);
        raw.extend_from_slice(spelled);
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n");
        let name_end = spelled.len();
        Header {
            name,
            raw: Bytes::from(raw),
            name_end,
            value: (name_end + 2, name_end + 2 + value.len()),
            value_offset: 0,
        }
    }

    /// A new header line `name: value` with the value written by its `Display` straight into
    /// the line (no intermediate string).
    pub fn formatted(name: impl Into<HeaderName>, value: impl std::fmt::Display) -> Header {
        use std::fmt::Write as _;
        let name = name.into();
        let mut raw = String::with_capacity(64);
        raw.push_str(name.as_str());
        raw.push_str(": ");
        let name_end = name.as_str().len();
        // Writing into a String cannot fail.
        let _ = write!(raw, "{value}");
        let value_end = raw.len();
        raw.push_str("\r\n");
        Header {
            name,
            raw: Bytes::from(raw.into_bytes()),
            name_end,
            value: (name_end + 2, value_end),
            value_offset: 0,
        }
    }

    /// A new header line with the name spelled as given (e.g. keeping a compact form).
    pub(crate) fn with_spelling(name: HeaderName, spelled: &[u8], value: &[u8]) -> Header {
        let mut raw = Vec::with_capacity(spelled.len() + value.len() + 4);
        raw.extend_from_slice(spelled);
        raw.extend_from_slice(b": ");
        raw.extend_from_slice(value);
        raw.extend_from_slice(b"\r\n");
        Header {
            name,
            raw: Bytes::from(raw),
            name_end: spelled.len(),
            value: (spelled.len() + 2, spelled.len() + 2 + value.len()),
            value_offset: 0,
        }
    }

    /// The header name.
    pub fn name(&self) -> &HeaderName {
        &self.name
    }

    /// The name exactly as written.
    pub fn name_raw(&self) -> &[u8] {
        &self.raw[..self.name_end]
    }

    /// The raw value bytes (may contain line folds and non-UTF-8 bytes).
    pub fn value(&self) -> &[u8] {
        &self.raw[self.value.0..self.value.1]
    }

    /// The value as text, with invalid UTF-8 replaced.
    pub fn value_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.value())
    }

    /// Byte offset of the value in the parsed message (0 for a header built in code).
    pub fn value_offset(&self) -> usize {
        self.value_offset
    }

    /// Writes the header line, with its original bytes if unchanged.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.raw);
    }
}

/// Two headers are equal when their names and values are: how a line was folded or
/// spelled (compact or long form) does not matter.
impl PartialEq for Header {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.value() == other.value()
    }
}

impl Eq for Header {}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 3261 §7.3.1: field names are case-insensitive; §7.3.3 compact forms
    #[test]
    fn names_case_insensitive_and_compact() {
        assert_eq!(HeaderName::from_bytes(b"VIA"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"i"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"l"), HeaderName::ContentLength);
        assert_eq!(
            HeaderName::from_bytes(b"MS-DIAGNOSTICS"),
            HeaderName::MsDiagnostics
        );
        assert_eq!(HeaderName::from_bytes(b"b"), HeaderName::ReferredBy);
        assert_eq!(
            HeaderName::from_bytes(b"NewFangledHeader"),
            HeaderName::Other("NewFangledHeader".into())
        );
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other("q".into()));
        // Every known name, in any case, and every compact form finds itself.
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(HeaderName::from_bytes(n.as_bytes()), KNOWN[i]);
            assert_eq!(
                HeaderName::from_bytes(n.to_ascii_uppercase().as_bytes()),
                KNOWN[i]
            );
            assert_eq!(KNOWN[i].as_str(), *n);
            if let [c] = COMPACTS[i].as_bytes() {
                assert_eq!(HeaderName::from_bytes(&[c.to_ascii_uppercase()]), KNOWN[i]);
            }
        }
        assert_eq!(
            HeaderName::from_bytes(b""),
            HeaderName::Other(String::new())
        );
        assert_eq!(
            HeaderName::from_bytes(b"Via-X"),
            HeaderName::Other("Via-X".into())
        );
        let long = [b'x'; 40];
        assert_eq!(
            HeaderName::from_bytes(&long),
            HeaderName::Other("x".repeat(40))
        );
    }
}
