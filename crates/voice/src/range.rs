//! Number ranges as unassigned-number and call park orbit ranges use them: a prefix
//! (`+`, `*`, `#` or none) and a run of digits of fixed length
//! ([MS-Docs:New-CsUnassignedNumber], [MS-Docs:New-CsCallParkOrbit]). A number is in the
//! range when its prefix is the range's, it has as many digits, and it lies between the
//! bounds (same length, so comparing the digit strings compares the numbers).

use serde::Serialize;

/// A validated number range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumberRange {
    /// `'+'`, `'*'`, `'#'`, or `None` for a range of bare digits.
    pub prefix: Option<char>,
    /// First number, digits only.
    pub start: String,
    /// Last number, digits only, same length as `start`.
    pub end: String,
}

/// How a number relates to a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeMatch {
    /// The number is in the range.
    Inside,
    /// The number's prefix is not the range's (the seed's "Input prefix [+] does not
    /// match that of range [ ]").
    PrefixMismatch,
    /// Same prefix, different number of digits.
    LengthMismatch,
    /// Same prefix and length, outside the bounds.
    Outside,
}

/// Splits a bound or number into prefix and digits; `tel:` is accepted on bounds.
fn split(s: &str) -> (Option<char>, &str) {
    let s = s.strip_prefix("tel:").unwrap_or(s);
    match s.chars().next() {
        Some(c @ ('+' | '*' | '#')) => (Some(c), s.get(1..).unwrap_or("")),
        _ => (None, s),
    }
}

/// Renders a prefix as the seed's log does: the character, or a blank for none.
pub fn prefix_text(p: Option<char>) -> &'static str {
    match p {
        Some('+') => "+",
        Some('*') => "*",
        Some('#') => "#",
        Some(_) => "?",
        None => " ",
    }
}

impl NumberRange {
    /// Builds a range from its two bounds as written, or says why they do not fit.
    pub fn new(start: &str, end: &str) -> Result<NumberRange, String> {
        let (p1, d1) = split(start.trim());
        let (p2, d2) = split(end.trim());
        if d1.is_empty() || !d1.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "start `{start}` is not a prefix followed by digits"
            ));
        }
        if d2.is_empty() || !d2.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("end `{end}` is not a prefix followed by digits"));
        }
        if p1 != p2 {
            return Err("start and end have different prefixes".to_string());
        }
        if d1.len() != d2.len() {
            return Err("start and end have different numbers of digits".to_string());
        }
        if d1 > d2 {
            return Err("start is greater than end".to_string());
        }
        Ok(NumberRange {
            prefix: p1,
            start: d1.to_string(),
            end: d2.to_string(),
        })
    }

    /// Where `number` (a cleaned dialled string) stands relative to the range.
    pub fn check(&self, number: &str) -> RangeMatch {
        let (p, digits) = split(number);
        if p != self.prefix {
            return RangeMatch::PrefixMismatch;
        }
        if digits.len() != self.start.len() {
            return RangeMatch::LengthMismatch;
        }
        if digits >= self.start.as_str() && digits <= self.end.as_str() {
            RangeMatch::Inside
        } else {
            RangeMatch::Outside
        }
    }

    /// Whether two ranges share a number.
    pub fn overlaps(&self, other: &NumberRange) -> bool {
        self.prefix == other.prefix
            && self.start.len() == other.start.len()
            && self.start <= other.end
            && other.start <= self.end
    }
}

impl std::fmt::Display for NumberRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.prefix.map(String::from).unwrap_or_default();
        write!(f, "{p}{}..{p}{}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_matching() {
        let r = NumberRange::new("tel:+14165550000", "+14165550099").unwrap();
        assert_eq!(r.check("+14165550042"), RangeMatch::Inside);
        assert_eq!(r.check("+14165550000"), RangeMatch::Inside);
        assert_eq!(r.check("+14165550099"), RangeMatch::Inside);
        assert_eq!(r.check("+14165550100"), RangeMatch::Outside);
        assert_eq!(r.check("+1416555004"), RangeMatch::LengthMismatch);
        assert_eq!(r.check("14165550042"), RangeMatch::PrefixMismatch);
        assert_eq!(r.to_string(), "+14165550000..+14165550099");

        let park = NumberRange::new("*100", "*199").unwrap();
        assert_eq!(park.check("*150"), RangeMatch::Inside);
        assert_eq!(park.check("+4165752695"), RangeMatch::PrefixMismatch);
        assert_eq!(prefix_text(park.prefix), "*");
        assert_eq!(prefix_text(None), " ");
    }

    #[test]
    fn bad_bounds() {
        assert!(NumberRange::new("*100", "#199").is_err());
        assert!(NumberRange::new("*100", "*1999").is_err());
        assert!(NumberRange::new("*200", "*100").is_err());
        assert!(NumberRange::new("*1a0", "*199").is_err());
        assert!(NumberRange::new("", "*199").is_err());
    }

    #[test]
    fn overlap() {
        let a = NumberRange::new("7000", "7099").unwrap();
        let b = NumberRange::new("7099", "7199").unwrap();
        let c = NumberRange::new("7100", "7199").unwrap();
        let d = NumberRange::new("*7000", "*7099").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(!a.overlaps(&d));
    }
}
