//! What the location service stores: address-of-record, binding, the time and flow newtypes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sip_msg::{Host, SipUri, Uri};

/// A point in time on the caller's clock, in milliseconds (Unix epoch when bindings are
/// persisted, so a restart can tell which expired meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Time(pub u64);

impl Time {
    /// `secs` seconds after the epoch.
    pub fn from_secs(secs: u64) -> Time {
        Time(secs.saturating_mul(1000))
    }

    /// This time plus `secs` seconds.
    pub fn plus_secs(self, secs: u32) -> Time {
        Time(self.0.saturating_add(u64::from(secs) * 1000))
    }

    /// Whole seconds from `self` until `later`, rounded up (0 if `later` is not after `self`).
    pub fn secs_until(self, later: Time) -> u32 {
        let ms = later.0.saturating_sub(self.0);
        u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
    }
}

/// A connection (flow) the transport layer names; bindings made over an outbound flow die with it
/// (RFC 5626 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FlowId(pub u64);

/// An address-of-record in canonical form `sip:user@domain` (RFC 3261 §10.3 step 5: scheme
/// `sip`, parameters and headers dropped, domain compared case-insensitively).
///
/// User and domain share one allocation, and clones share it: the location service keeps an
/// AOR with every binding and in each of its indexes, so a registration costs one small
/// allocation for its AOR instead of two per copy. Serialized as `{"user", "domain"}`.
#[derive(Debug, Clone)]
pub struct Aor {
    /// The user part followed by the domain.
    text: Arc<str>,
    /// Where the domain starts in `text`.
    split: usize,
}

impl Aor {
    /// The AOR `sip:user@domain`; the domain is lower-cased.
    pub fn new(user: &str, domain: &str) -> Aor {
        Aor::from_parts(user, &domain.to_ascii_lowercase())
    }

    /// The AOR of `user` and `domain` as given.
    fn from_parts(user: &str, domain: &str) -> Aor {
        let mut text = String::with_capacity(user.len() + domain.len());
        text.push_str(user);
        text.push_str(domain);
        Aor {
            text: Arc::from(text),
            split: user.len(),
        }
    }

    /// The AOR of a SIP URI with a user part and a domain host (e.g. the To of a REGISTER).
    pub fn from_uri(uri: &Uri) -> Option<Aor> {
        let sip = uri.as_sip()?;
        let user = sip.user_unescaped()?;
        match &sip.host {
            Host::Domain(d) => Some(Aor::new(&user, d)),
            _ => None,
        }
    }

    /// [`Aor::from_uri`] of a URI borrowed from a message (unescaped only if it has escapes).
    pub fn from_uri_ref(uri: &sip_msg::UriRef<'_>) -> Option<Aor> {
        let sip = uri.as_sip()?;
        let user = sip.user?;
        let user = if user.contains('%') {
            std::borrow::Cow::Owned(sip_msg::uri::unescape(user))
        } else {
            std::borrow::Cow::Borrowed(user)
        };
        match sip.host {
            sip_msg::HostRef::Domain(d) => Some(Aor::new(&user, d)),
            _ => None,
        }
    }

    /// The user part.
    pub fn user(&self) -> &str {
        self.text.get(..self.split).unwrap_or_default()
    }

    /// The domain, lower case.
    pub fn domain(&self) -> &str {
        self.text.get(self.split..).unwrap_or_default()
    }

    /// User and domain, compared and hashed as the pair they are.
    fn parts(&self) -> (&str, &str) {
        (self.user(), self.domain())
    }

    /// The AOR as a `sip:` URI without parameters (user part %-escaped as needed).
    pub fn to_sip_uri(&self) -> SipUri {
        SipUri::new(
            Some(&escape_user(self.user())),
            Host::Domain(self.domain().to_owned()),
        )
    }
}

impl PartialEq for Aor {
    fn eq(&self, other: &Aor) -> bool {
        self.split == other.split && self.text == other.text
    }
}

impl Eq for Aor {}

impl Hash for Aor {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
    }
}

impl PartialOrd for Aor {
    fn partial_cmp(&self, other: &Aor) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// By user, then domain.
impl Ord for Aor {
    fn cmp(&self, other: &Aor) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

/// How an AOR is written (the store's format: `{"user": …, "domain": …}`).
#[derive(Serialize)]
#[serde(rename = "Aor")]
struct AorRef<'a> {
    user: &'a str,
    domain: &'a str,
}

/// How an AOR is read back.
#[derive(Deserialize)]
#[serde(rename = "Aor")]
struct AorOwned {
    user: String,
    domain: String,
}

impl Serialize for Aor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AorRef {
            user: self.user(),
            domain: self.domain(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Aor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Aor, D::Error> {
        let a = AorOwned::deserialize(deserializer)?;
        Ok(Aor::from_parts(&a.user, &a.domain))
    }
}

impl fmt::Display for Aor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sip:{}@{}", escape_user(self.user()), self.domain())
    }
}

/// %-escapes what RFC 3261 §25.1 does not allow unescaped in a user part
/// (`user = 1*( unreserved / escaped / user-unreserved )`).
fn escape_user(user: &str) -> String {
    let mut out = String::with_capacity(user.len());
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aor_escapes_and_roundtrips_its_user() {
        let aor = Aor::new("a b@c", "Example.TEST");
        assert_eq!(aor.to_string(), "sip:a%20b%40c@example.test");
        let uri = Uri::parse(&aor.to_string()).unwrap();
        assert_eq!(Aor::from_uri(&uri), Some(aor));
        assert_eq!(Aor::from_uri(&Uri::parse("sip:192.0.2.1").unwrap()), None);
        for text in [
            "sip:Alice%20B@Example.TEST;transport=tcp",
            "sips:bob@example.test",
            "sip:192.0.2.1",
            "sip:bob@192.0.2.1",
            "tel:+15551234",
        ] {
            assert_eq!(
                Aor::from_uri_ref(&sip_msg::UriRef::parse(text).unwrap()),
                Aor::from_uri(&Uri::parse(text).unwrap()),
                "{text}"
            );
        }
        assert_eq!(
            Aor::from_uri(&Uri::parse("sip:bob@192.0.2.1").unwrap()),
            None
        );
    }

    #[test]
    fn aor_keeps_its_stored_form_and_pair_order() {
        let aor = Aor::new("a b@c", "Example.TEST");
        let json = serde_json::to_string(&aor).unwrap();
        assert_eq!(json, r#"{"user":"a b@c","domain":"example.test"}"#);
        let back: Aor = serde_json::from_str(&json).unwrap();
        assert_eq!(back, aor);
        assert_eq!((back.user(), back.domain()), ("a b@c", "example.test"));
        // Compared as (user, domain), not as the text they share: "a"@"bc" < "ab"@"c".
        assert!(Aor::new("a", "bc") < Aor::new("ab", "c"));
        assert_ne!(Aor::new("a", "bc"), Aor::new("ab", "c"));
        assert_eq!(Aor::new("", "x").user(), "");
    }

    #[test]
    fn a_binding_fits_in_256_bytes() {
        assert!(std::mem::size_of::<Binding>() <= 256);
    }

    #[test]
    fn time_arithmetic_saturates_and_rounds_up() {
        assert_eq!(Time(0).plus_secs(2), Time(2000));
        assert_eq!(Time(u64::MAX).plus_secs(1), Time(u64::MAX));
        assert_eq!(Time(0).secs_until(Time(1001)), 2);
        assert_eq!(Time(5000).secs_until(Time(1000)), 0);
    }
}

/// A Contact parameter kept with a binding and written back in the 200 OK
/// (`+sip.instance`, `reg-id`, `proxy=replace`, feature tags …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredParam {
    /// The name as written.
    pub name: String,
    /// The value without quotes, `None` for a flag.
    pub value: Option<String>,
    /// Whether the value was a quoted-string.
    pub quoted: bool,
}

/// One binding of an AOR to a contact (RFC 3261 §10.3 step 6). The location service keeps one
/// per registration: it stays within 256 bytes (an allocator size class; one byte more costs
/// 64), which is why the optional strings are `Box<str>` (no spare capacity field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The address-of-record.
    pub aor: Aor,
    /// Registrar-unique id (names the binding's temporary GRUUs).
    pub id: u64,
    /// The Contact URI as registered.
    pub contact: String,
    /// Contact parameters echoed in the 200 OK (not `expires`, `q` or GRUU parameters).
    pub params: Vec<StoredParam>,
    /// `q` in thousandths, if given (RFC 3261 §20.10).
    pub q_millis: Option<u16>,
    /// When the binding expires.
    pub expires_at: Time,
    /// Call-ID of the REGISTER that last updated it (RFC 3261 §10.3 step 7).
    pub call_id: String,
    /// CSeq of that REGISTER.
    pub cseq: u32,
    /// `+sip.instance` without angle brackets (RFC 5626 §4.1).
    pub instance: Option<Box<str>>,
    /// `reg-id` when the binding is an outbound flow binding (RFC 5626 §6).
    pub reg_id: Option<u32>,
    /// The flow an outbound binding lives on (RFC 5626 §5.2).
    pub flow: Option<FlowId>,
    /// The connection the last REGISTER for this binding came over, outbound or not: a proxy
    /// sends requests for the contact down it while it is open (RFC 3261 §18.1.1 connection
    /// reuse; clients behind NAT, such as Lync clients over TLS, accept nothing else). Not
    /// persisted: connection names mean nothing after a restart.
    #[serde(skip)]
    pub received_on: Option<FlowId>,
    /// Path values in order (RFC 3327 §5.3), used as the route set towards the contact.
    pub path: Vec<String>,
    /// The From `epid` of the registering Microsoft endpoint ([MS-SIPRE] 3.2).
    pub epid: Option<Box<str>>,
    /// First temporary-GRUU counter still valid (RFC 5627 §5.3: a new Call-ID invalidates older ones).
    pub temp_gruu_first: u32,
    /// Counter of the latest temporary GRUU issued, 0 if none.
    pub temp_gruu_last: u32,
}

impl Binding {
    /// The q-value used for ordering: an absent q counts as 1.0 (RFC 3261 §16.6 treats contacts
    /// without q as the highest preference band).
    pub fn q_order(&self) -> u16 {
        self.q_millis.unwrap_or(1000)
    }

    /// The seconds left at `now` (what the 200 OK's `expires` says).
    pub fn remaining(&self, now: Time) -> u32 {
        now.secs_until(self.expires_at)
    }

    /// Whether the binding is still alive at `now`.
    pub fn is_alive(&self, now: Time) -> bool {
        self.expires_at > now
    }
}
