//! The few SIP URI forms the edge decides on: a user's address, a conference focus URI
//! (`sip:<organizer>;gruu;opaque=app:conf:focus:id:<id>`, [MS-CONFBAS] 2.2.3.4, MS-SIP.md §6.1)
//! and an anonymous identity (`<guid>@anonymous.invalid`, [MS-SIPAE] 3.2.4.3).
//!
//! This is a deliberately small `sip:` URI reader (RFC 3261 §19.1: `sip:user@host;params`, no
//! password, no headers); the message crate owns the full grammar.

use std::fmt;

use thiserror::Error;

/// The host part of every anonymous identity ([MS-SIPAE] 3.2.4.3).
pub const ANONYMOUS_HOST: &str = "anonymous.invalid";

/// Why a URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UriError {
    /// The URI does not start with `sip:` or `sips:`.
    #[error("{0:?} is not a sip: URI (expected sip:user@domain)")]
    NotSip(String),
    /// The URI has no `user@` part.
    #[error("{0:?} has no user part (expected sip:user@domain)")]
    NoUser(String),
    /// The host part is empty or has characters a host cannot have.
    #[error("{0:?} has no valid host (expected sip:user@domain)")]
    BadHost(String),
    /// The URI is not a conference focus URI.
    #[error(
        "{0:?} is not a focus URI (expected sip:organizer@domain;gruu;opaque=app:conf:focus:id:ID)"
    )]
    NotFocus(String),
    /// The conference id is not 1–32 letters and digits.
    #[error("{0:?}: the conference id must be 1 to 32 letters or digits")]
    BadConferenceId(String),
}

/// A `sip:user@host;params` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    user: String,
    host: String,
    params: Vec<(String, Option<String>)>,
}

impl SipUri {
    /// Parses `sip:user@host[:port][;param[=value]]*`, tolerating surrounding `<>`.
    pub fn parse(input: &str) -> Result<Self, UriError> {
        let s = input.trim();
        let s = s
            .strip_prefix('<')
            .and_then(|r| r.strip_suffix('>'))
            .unwrap_or(s);
        let rest = strip_ci(s, "sip:")
            .or_else(|| strip_ci(s, "sips:"))
            .ok_or_else(|| UriError::NotSip(input.to_owned()))?;
        let mut parts = rest.split(';');
        let addr = parts.next().unwrap_or_default();
        let (user, hostport) = addr
            .rsplit_once('@')
            .ok_or_else(|| UriError::NoUser(input.to_owned()))?;
        if user.is_empty() {
            return Err(UriError::NoUser(input.to_owned()));
        }
        let host = hostport.split(':').next().unwrap_or_default();
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(UriError::BadHost(input.to_owned()));
        }
        let params = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (p.to_owned(), None),
            })
            .collect();
        Ok(Self {
            user: user.to_owned(),
            host: host.to_ascii_lowercase(),
            params,
        })
    }

    /// A URI with no parameters.
    pub fn new(user: &str, host: &str) -> Self {
        Self {
            user: user.to_owned(),
            host: host.to_ascii_lowercase(),
            params: Vec::new(),
        }
    }

    /// The user part.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The host part, lower-cased: the SIP domain for a user's address.
    pub fn domain(&self) -> &str {
        &self.host
    }

    /// `user@host`, the form Lync puts in `from-uri` and `destination` parameters.
    pub fn addr(&self) -> String {
        format!("{}@{}", self.user, self.host)
    }

    /// The value of a URI parameter (`None` if absent; `Some(None)` if present without value).
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// Whether this is an anonymous identity (`…@anonymous.invalid`).
    pub fn is_anonymous(&self) -> bool {
        self.host == ANONYMOUS_HOST
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sip:{}@{}", self.user, self.host)?;
        for (n, v) in &self.params {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..))
        .flatten()
}

/// The opaque prefix of a focus GRUU ([MS-CONFBAS] 2.2.3.4).
const FOCUS_OPAQUE_PREFIX: &str = "app:conf:focus:id:";

/// A conference focus URI: `sip:<organizer>;gruu;opaque=app:conf:focus:id:<conference id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocusUri {
    organizer: SipUri,
    conference_id: String,
}

impl FocusUri {
    /// Builds the focus URI of `organizer`'s conference `conference_id`.
    pub fn new(organizer: &SipUri, conference_id: &str) -> Result<Self, UriError> {
        check_conference_id(conference_id, conference_id)?;
        Ok(Self {
            organizer: SipUri::new(organizer.user(), organizer.domain()),
            conference_id: conference_id.to_owned(),
        })
    }

    /// Reads a focus URI; needs the `gruu` flag and an `opaque=app:conf:focus:id:<id>`.
    pub fn parse(input: &str) -> Result<Self, UriError> {
        Self::from_uri(&SipUri::parse(input)?).map_err(|e| match e {
            UriError::NotFocus(_) => UriError::NotFocus(input.to_owned()),
            other => other,
        })
    }

    /// Interprets an already parsed URI as a focus URI.
    pub fn from_uri(uri: &SipUri) -> Result<Self, UriError> {
        if uri.param("gruu").is_none() {
            return Err(UriError::NotFocus(uri.to_string()));
        }
        let opaque = uri
            .param("opaque")
            .flatten()
            .ok_or_else(|| UriError::NotFocus(uri.to_string()))?;
        let id = opaque
            .strip_prefix(FOCUS_OPAQUE_PREFIX)
            .ok_or_else(|| UriError::NotFocus(uri.to_string()))?;
        check_conference_id(id, &uri.to_string())?;
        Ok(Self {
            organizer: SipUri::new(uri.user(), uri.domain()),
            conference_id: id.to_owned(),
        })
    }

    /// The organiser's address (the focus URI without its parameters).
    pub fn organizer(&self) -> &SipUri {
        &self.organizer
    }

    /// The conference id.
    pub fn conference_id(&self) -> &str {
        &self.conference_id
    }

    /// The focus URI as a plain [`SipUri`].
    pub fn to_uri(&self) -> SipUri {
        let mut u = self.organizer.clone();
        u.params = vec![
            ("gruu".to_owned(), None),
            (
                "opaque".to_owned(),
                Some(format!("{FOCUS_OPAQUE_PREFIX}{}", self.conference_id)),
            ),
        ];
        u
    }
}

impl fmt::Display for FocusUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_uri().fmt(f)
    }
}

// [MS-CONFBAS] 2.2.3.4 / [MS-CONFPRO]: conference ids are alphanumeric (8–32 when Lync
// generates them; shorter ids are accepted from other implementations).
fn check_conference_id(id: &str, whole: &str) -> Result<(), UriError> {
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(UriError::BadConferenceId(whole.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_focus_uri_parses_and_prints_back() {
        let s = "sip:garth@tailspintoys.com;gruu;opaque=app:conf:focus:id:2Z92HZZZ";
        let f = FocusUri::parse(s).unwrap();
        assert_eq!(f.organizer().addr(), "garth@tailspintoys.com");
        assert_eq!(f.conference_id(), "2Z92HZZZ");
        assert_eq!(f.to_string(), s);
        assert_eq!(FocusUri::parse(&format!("<{s}>")).unwrap(), f);
    }

    #[test]
    fn non_focus_uris_are_refused() {
        for s in [
            "sip:garth@tailspintoys.com",
            "sip:garth@tailspintoys.com;opaque=app:conf:focus:id:2Z92HZZZ",
            "sip:garth@tailspintoys.com;gruu;opaque=user:epid:abc",
            "sip:garth@tailspintoys.com;gruu;opaque=app:conf:chat:id:2Z92HZZZ",
        ] {
            assert!(
                matches!(FocusUri::parse(s), Err(UriError::NotFocus(_))),
                "{s}"
            );
        }
        assert!(matches!(
            FocusUri::parse("sip:g@t.com;gruu;opaque=app:conf:focus:id:bad-id"),
            Err(UriError::BadConferenceId(_))
        ));
    }

    #[test]
    fn user_uris() {
        let u = SipUri::parse("sip:Karen@Contoso.COM").unwrap();
        assert_eq!((u.user(), u.domain()), ("Karen", "contoso.com"));
        assert!(!u.is_anonymous());
        let a =
            SipUri::parse("sip:36825c7a-a4ea-430b-aa85-e8aa6ee97ebc@anonymous.invalid").unwrap();
        assert!(a.is_anonymous());
        assert!(matches!(
            SipUri::parse("tel:+1555"),
            Err(UriError::NotSip(_))
        ));
        assert!(matches!(
            SipUri::parse("sip:contoso.com"),
            Err(UriError::NoUser(_))
        ));
        assert!(matches!(SipUri::parse("sip:a@"), Err(UriError::BadHost(_))));
    }
}
