//! Turning what arrives on the wire into what the engine routes on: the dialled string
//! of a Request-URI (`tel:`, `sip:…;user=phone` or a bare dialled string) and the
//! address-of-record of a From / Referred-By URI.
//!
//! Everything here takes untrusted text and never panics on it.

use serde::Serialize;

/// The longest dialled string accepted, separators removed. E.164 allows 15 digits
/// (ITU-T E.164 §6.1); dialled strings also carry access codes and extensions.
pub const MAX_DIALLED_LEN: usize = 32;

/// Why a Request-URI or dialled string is not a phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NumberError {
    /// Nothing was dialled.
    #[error("nothing was dialled")]
    Empty,
    /// A `sip:` URI without `user=phone` whose user part is not a dialled string.
    #[error("`{uri}` is not a phone number (no user=phone and the user part is not digits)")]
    NotAPhoneUri {
        /// The URI as given.
        uri: String,
    },
    /// A URI scheme other than `tel`, `sip` or `sips`.
    #[error("unsupported URI scheme `{scheme}` (expected tel:, sip: or sips:)")]
    UnsupportedScheme {
        /// The scheme as given.
        scheme: String,
    },
    /// A character that has no place in a dialled string.
    #[error("character {ch:?} at position {position} is not a digit, +, * or #")]
    BadCharacter {
        /// The offending character.
        ch: char,
        /// Its character position in the number part.
        position: usize,
    },
    /// More than [`MAX_DIALLED_LEN`] characters.
    #[error("{len} characters is longer than the {MAX_DIALLED_LEN} allowed")]
    TooLong {
        /// The length found.
        len: usize,
    },
    /// An `ext=` parameter that is not all digits.
    #[error("extension `{ext}` is not all digits")]
    BadExtension {
        /// The extension as given.
        ext: String,
    },
}

/// A dialled string with visual separators removed: an optional leading `+`, then
/// digits, `*` and `#`; plus an optional extension (RFC 3966 §5.1.5 `ext`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Dialled {
    /// The number part, e.g. `+14165752695`, `5752695`, `*123`.
    pub number: String,
    /// The extension, digits only.
    pub ext: Option<String>,
}

impl Dialled {
    /// The canonical text form: `number` or `number;ext=ext` (the form Lync's
    /// normalization rules read and write).
    pub fn canonical(&self) -> String {
        match &self.ext {
            Some(ext) => format!("{};ext={}", self.number, ext),
            None => self.number.clone(),
        }
    }

    /// Whether the number is in E.164 form (`+` and 1–15 digits, ITU-T E.164 §6.1).
    pub fn is_e164(&self) -> bool {
        let digits = self.number.strip_prefix('+').unwrap_or("");
        !digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit())
    }
}

impl std::fmt::Display for Dialled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.number)?;
        if let Some(ext) = &self.ext {
            write!(f, ";ext={ext}")?;
        }
        Ok(())
    }
}

/// Strips a display name and angle brackets: `"Bob" <sip:b@x>;tag=1` → `sip:b@x`
/// (RFC 3261 §20.10 name-addr / addr-spec).
fn addr_spec(input: &str) -> &str {
    let s = input.trim();
    if let Some(open) = s.find('<') {
        let rest = s.get(open + 1..).unwrap_or("");
        return rest.split('>').next().unwrap_or("").trim();
    }
    s
}

/// Splits `scheme:rest`, lowercasing the scheme (RFC 3261 §19.1.4: schemes compare
/// case-insensitively).
fn split_scheme(s: &str) -> Option<(String, &str)> {
    let colon = s.find(':')?;
    let scheme = s.get(..colon)?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.')
    {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), s.get(colon + 1..)?))
}

/// Decodes `%XX` escapes (RFC 3261 §19.1.2 escaped characters in the user part).
/// Malformed escapes are kept as they are. Borrows when there is nothing to decode.
fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or(0);
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
            if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The parts of a `sip:`/`sips:` URI the engine needs (RFC 3261 §19.1.1), borrowed
/// from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SipUri<'a> {
    /// The user part, still %-escaped, without a password.
    user: Option<&'a str>,
    /// The host, as written.
    host: &'a str,
    user_phone: bool,
}

fn parse_sip_rest(rest: &str) -> SipUri<'_> {
    // Headers (`?…`) are not part of the identity (RFC 3261 §19.1.1).
    let rest = rest.split('?').next().unwrap_or("");
    let (user, hostpart) = match rest.rfind('@') {
        Some(at) => (
            Some(rest.get(..at).unwrap_or("")),
            rest.get(at + 1..).unwrap_or(""),
        ),
        None => (None, rest),
    };
    let mut params = hostpart.split(';');
    let host = params.next().unwrap_or("");
    let user_phone = params.any(|p| p.trim().eq_ignore_ascii_case("user=phone"));
    // userinfo = user [":" password] (RFC 3261 §19.1.1); the password is dropped.
    let user = user.map(|u| u.split(':').next().unwrap_or(""));
    SipUri {
        user,
        host,
        user_phone,
    }
}

/// Removes RFC 3966 §3 visual separators (`-`, `.`, `(`, `)`) and blanks, and checks what
/// is left is a dialled string.
fn clean_number(raw: &str) -> Result<String, NumberError> {
    let mut out = String::with_capacity(raw.len());
    for (position, ch) in raw.chars().enumerate() {
        match ch {
            '-' | '.' | '(' | ')' | ' ' | '\t' => {}
            '+' if out.is_empty() => out.push(ch),
            '0'..='9' | '*' | '#' => out.push(ch),
            _ => return Err(NumberError::BadCharacter { ch, position }),
        }
        if out.len() > MAX_DIALLED_LEN {
            return Err(NumberError::TooLong {
                len: raw.chars().filter(|c| !c.is_whitespace()).count(),
            });
        }
    }
    if out.is_empty() || out == "+" {
        return Err(NumberError::Empty);
    }
    Ok(out)
}

/// Parses `number[;param…]` where the only parameter kept is `ext` (RFC 3966 §3
/// `par`); `phone-context` and others are ignored.
fn parse_subscriber(s: &str) -> Result<Dialled, NumberError> {
    let mut parts = s.split(';');
    let number = clean_number(parts.next().unwrap_or(""))?;
    let mut ext = None;
    for p in parts {
        let (name, value) = p.split_once('=').unwrap_or((p, ""));
        if name.trim().eq_ignore_ascii_case("ext") {
            let value = clean_number(value).map_err(|_| NumberError::BadExtension {
                ext: value.to_string(),
            })?;
            if !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(NumberError::BadExtension { ext: value });
            }
            ext = Some(value);
        }
    }
    Ok(Dialled { number, ext })
}

/// Parses a Request-URI or a dialled string into what the engine routes on: `tel:`
/// (RFC 3966 §3), `sip:`/`sips:` with a telephone-subscriber user part (RFC 3261
/// §19.1.6; `user=phone` or a user part made only of dialling characters), or a bare
/// dialled string such as `+1 (416) 575-2695`.
pub fn parse_dialled(input: &str) -> Result<Dialled, NumberError> {
    let s = addr_spec(input);
    if s.is_empty() {
        return Err(NumberError::Empty);
    }
    match split_scheme(s) {
        Some((scheme, rest)) if scheme == "tel" => parse_subscriber(rest),
        Some((scheme, rest)) if scheme == "sip" || scheme == "sips" => {
            let uri = parse_sip_rest(rest);
            let user = percent_decode(uri.user.unwrap_or_default());
            match parse_subscriber(&user) {
                Ok(d) => Ok(d),
                Err(e) if uri.user_phone => Err(e),
                Err(_) => Err(NumberError::NotAPhoneUri { uri: s.to_string() }),
            }
        }
        Some((scheme, _)) if !s.starts_with(|c: char| c.is_ascii_digit() || c == '+') => {
            Err(NumberError::UnsupportedScheme { scheme })
        }
        _ => parse_subscriber(s),
    }
}

/// The address-of-record of a From, To or Referred-By value, as users are keyed:
/// `sip:user@host`, lowercase. Hosts compare case-insensitively (RFC 3261 §19.1.4);
/// user parts are lowercased too because Lync stores SIP addresses lowercase.
/// Returns `None` when the value is not a `sip:`/`sips:` URI with a user part.
pub fn aor(input: &str) -> Option<String> {
    let s = addr_spec(input);
    let (scheme, rest) = split_scheme(s)?;
    if scheme != "sip" && scheme != "sips" {
        return None;
    }
    let uri = parse_sip_rest(rest);
    let user = percent_decode(uri.user.filter(|u| !u.is_empty())?);
    if uri.host.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(5 + user.len() + uri.host.len());
    out.push_str("sip:");
    out.extend(user.chars().flat_map(char::to_lowercase));
    out.push('@');
    out.extend(uri.host.chars().map(|c| c.to_ascii_lowercase()));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(number: &str, ext: Option<&str>) -> Dialled {
        Dialled {
            number: number.into(),
            ext: ext.map(Into::into),
        }
    }

    #[test]
    fn dialled_forms() {
        let cases: &[(&str, Dialled)] = &[
            ("+14165752695", d("+14165752695", None)),
            ("tel:+1-416-575-2695", d("+14165752695", None)),
            ("TEL:+14165752695;ext=123", d("+14165752695", Some("123"))),
            (
                "sip:+14165752695@example.test;user=phone",
                d("+14165752695", None),
            ),
            (
                "<sip:+14165752695;ext=7@example.test;user=phone>",
                d("+14165752695", Some("7")),
            ),
            ("sip:%2B14165752695@example.test", d("+14165752695", None)),
            ("(416) 575-2695", d("4165752695", None)),
            ("tel:5752695;phone-context=example.test", d("5752695", None)),
            ("*123", d("*123", None)),
            ("911", d("911", None)),
        ];
        for (input, want) in cases {
            assert_eq!(parse_dialled(input).as_ref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn dialled_errors() {
        assert_eq!(parse_dialled(""), Err(NumberError::Empty));
        assert_eq!(parse_dialled("tel:+"), Err(NumberError::Empty));
        assert!(matches!(
            parse_dialled("sip:bob@example.test"),
            Err(NumberError::NotAPhoneUri { .. })
        ));
        assert!(matches!(
            parse_dialled("mailto:bob@example.test"),
            Err(NumberError::UnsupportedScheme { .. })
        ));
        assert_eq!(
            parse_dialled("+1416x"),
            Err(NumberError::BadCharacter {
                ch: 'x',
                position: 5
            })
        );
        assert!(matches!(
            parse_dialled(&"1".repeat(40)),
            Err(NumberError::TooLong { .. })
        ));
        assert!(matches!(
            parse_dialled("tel:+1416;ext=12a"),
            Err(NumberError::BadExtension { .. })
        ));
        // A + anywhere but first is not a dialling character.
        assert!(matches!(
            parse_dialled("1+2"),
            Err(NumberError::BadCharacter { ch: '+', .. })
        ));
    }

    #[test]
    fn aor_forms() {
        assert_eq!(
            aor("sip:Alice@Example.TEST").as_deref(),
            Some("sip:alice@example.test")
        );
        assert_eq!(
            aor("\"Alice\" <sips:alice@example.test;transport=tls>;tag=12").as_deref(),
            Some("sip:alice@example.test")
        );
        assert_eq!(
            aor("sip:+19058825000@example.test;user=phone").as_deref(),
            Some("sip:+19058825000@example.test")
        );
        assert_eq!(aor("sip:example.test"), None);
        assert_eq!(aor("tel:+19058825000"), None);
        assert_eq!(aor("garbage"), None);
    }

    #[test]
    fn e164() {
        assert!(d("+14165752695", None).is_e164());
        assert!(!d("4165752695", None).is_e164());
        assert!(!d("+1234567890123456", None).is_e164());
        assert_eq!(d("+1", Some("5")).canonical(), "+1;ext=5");
    }
}
