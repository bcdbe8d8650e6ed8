//! A byte scanner for the RFC 3261 §25.1 basic rules: LWS/SWS with header
//! folding, tokens, quoted strings with quoted-pairs, generic parameters.
//! Offsets in its errors are relative to the start of the scanned slice.

use crate::error::{ErrorKind, ParseError, Part, Result};

/// Builds a byte-class table: alphanumerics (if `alnum`) plus `extra`.
pub(crate) const fn class(alnum: bool, extra: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alnum && (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
}

/// RFC 3261 §25.1: `token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )`.
static TOKEN: [bool; 256] = class(true, b"-.!%*_+`'~");

/// RFC 3261 §25.1: `word` characters (token plus `( ) < > : \ " / [ ] ? { }`), used by Call-ID.
static WORD: [bool; 256] = class(true, b"-.!%*_+`'~()<>:\\\"/[]?{}");

/// Whether `b` is a token character.
#[inline]
pub(crate) fn is_token(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// Whether `b` is a `word` character.
#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    WORD[usize::from(b)]
}

/// Characters allowed in a generic-param value that is not quoted: token / host
/// (RFC 3261 §25.1 `gen-value`; `host` adds `:` and `[` `]` for IPv6 references).
#[inline]
fn is_gen_value(b: u8) -> bool {
    is_token(b) || matches!(b, b':' | b'[' | b']')
}

/// Converts bytes already checked to be ASCII (or valid UTF-8) to `&str`.
#[inline]
pub(crate) fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or("")
}

/// A cursor over a header value or other bounded piece of a message.
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    pub(crate) s: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) part: Part,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(s: &'a [u8], part: Part) -> Self {
        Self { s, pos: 0, part }
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    #[inline]
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.s.get(self.pos..).unwrap_or(&[])
    }

    pub(crate) fn err(&self, expected: &'static str) -> ParseError {
        ParseError::syntax(self.pos, self.part, expected)
    }

    pub(crate) fn err_range(&self, at: usize, expected: &'static str) -> ParseError {
        ParseError::new(at, self.part, ErrorKind::OutOfRange, expected)
    }

    /// Skips linear white space: SP, HTAB, and line folds (CRLF or LF followed
    /// by SP/HTAB), RFC 3261 §7.3.1 and §25.1 `LWS`. Returns whether any was skipped.
    pub(crate) fn skip_lws(&mut self) -> bool {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\r') => {
                    if self.s.get(self.pos + 1) == Some(&b'\n')
                        && matches!(self.s.get(self.pos + 2), Some(b' ' | b'\t'))
                    {
                        self.pos += 3;
                    } else {
                        break;
                    }
                }
                Some(b'\n') => {
                    if matches!(self.s.get(self.pos + 1), Some(b' ' | b'\t')) {
                        self.pos += 2;
                    } else {
                        break;
                    }
                }
                _ => break,
            }
        }
        self.pos > start
    }

    /// Consumes `b` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `b` surrounded by optional LWS (RFC 3261 §25.1 `SEMI`, `COMMA`, `EQUAL`, `SLASH`, `COLON`).
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.eat(b) {
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    pub(crate) fn expect(&mut self, b: u8, expected: &'static str) -> Result<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.err(expected))
        }
    }

    /// Consumes the longest run of bytes matching `pred`.
    pub(crate) fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if !pred(b) {
                break;
            }
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or(&[])
    }

    /// RFC 3261 §25.1 `token`.
    pub(crate) fn token(&mut self, expected: &'static str) -> Result<&'a str> {
        let t = self.take_while(is_token);
        if t.is_empty() {
            Err(self.err(expected))
        } else {
            Ok(text(t))
        }
    }

    /// A decimal number that must fit `max`.
    pub(crate) fn number(&mut self, max: u64, expected: &'static str) -> Result<u64> {
        let at = self.pos;
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return Err(self.err(expected));
        }
        let mut n: u64 = 0;
        for d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| self.err_range(at, expected))?;
        }
        if n > max {
            return Err(self.err_range(at, expected));
        }
        Ok(n)
    }

    /// RFC 3261 §25.1 `quoted-string`; the scanner must be on the opening quote.
    /// Returns the unescaped content (a line fold inside counts as one SP).
    pub(crate) fn quoted_string(&mut self) -> Result<String> {
        self.expect(b'"', "expected '\"' opening a quoted string")?;
        // Fast path: no quoted-pair and no fold before the closing quote (the usual case).
        let rest = self.rest();
        if let Some(end) = memchr::memchr3(b'"', b'\\', b'\n', rest)
            && rest[end] == b'"'
            && !rest[..end].iter().any(|&c| c < 0x20 && c != b'\t')
        {
            self.pos += end + 1;
            return Ok(match std::str::from_utf8(&rest[..end]) {
                Ok(t) => t.to_owned(),
                Err(_) => String::from_utf8_lossy(&rest[..end]).into_owned(),
            });
        }
        let mut out: Vec<u8> = Vec::with_capacity(rest.len().min(64));
        loop {
            match self.peek() {
                None => return Err(self.err("expected '\"' closing the quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                    match self.s.get(self.pos + 1) {
                        Some(&c) if c <= 0x7f && c != b'\n' && c != b'\r' => {
                            out.push(c);
                            self.pos += 2;
                        }
                        _ => {
                            return Err(
                                self.err("expected a character after '\\' in quoted string")
                            );
                        }
                    }
                }
                Some(b'\r' | b'\n') if self.skip_lws() => out.push(b' '),
                Some(b'\r' | b'\n') => {
                    return Err(self.err("expected '\"' closing the quoted string"));
                }
                Some(c) if c < 0x20 && c != b'\t' => {
                    return Err(self.err("expected text or '\"' in quoted string"));
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        Ok(match String::from_utf8(out) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// `*(SEMI generic-param)`: RFC 3261 §25.1 `generic-param = token [ EQUAL gen-value ]`.
    /// Stops before anything that is not `;` (such as `,` or the end).
    pub(crate) fn params(&mut self, out: &mut Vec<Param>) -> Result<()> {
        while self.eat_sep(b';') {
            out.push(self.param()?);
        }
        Ok(())
    }

    /// One `generic-param`, after its `;`.
    pub(crate) fn param(&mut self) -> Result<Param> {
        let name = self.token("expected a parameter name after ';'")?;
        if self.eat_sep(b'=') {
            if self.peek() == Some(b'"') {
                let v = self.quoted_string()?;
                Ok(Param::quoted(name, v))
            } else {
                let v = self.take_while(is_gen_value);
                if v.is_empty() {
                    return Err(self.err("expected a parameter value after '='"));
                }
                Ok(Param::new(name, Some(text(v))))
            }
        } else {
            Ok(Param::new(name, None))
        }
    }

    /// After a list element: skips LWS; returns true if a `,` follows (and consumes it),
    /// false at the end, or an error for anything else.
    pub(crate) fn list_next(&mut self, what: &'static str) -> Result<bool> {
        self.skip_lws();
        if self.at_end() {
            Ok(false)
        } else if self.eat(b',') {
            self.skip_lws();
            Ok(true)
        } else {
            Err(self.err(what))
        }
    }

    /// Requires that only LWS remains.
    pub(crate) fn end(&mut self, what: &'static str) -> Result<()> {
        self.skip_lws();
        if self.at_end() {
            Ok(())
        } else {
            Err(self.err(what))
        }
    }
}

/// A header or URI parameter: `name[=value]`. The value is kept unquoted; `quoted`
/// remembers whether it was written as a quoted-string so it is written back the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The parameter name as written.
    pub name: String,
    /// The value, without quotes, or `None` for a flag parameter such as `lr`.
    pub value: Option<String>,
    /// Whether the value is written as a quoted-string.
    pub quoted: bool,
}

impl Param {
    /// A parameter written without quotes.
    pub fn new(name: impl Into<String>, value: Option<&str>) -> Self {
        Self {
            name: name.into(),
            value: value.map(str::to_owned),
            quoted: false,
        }
    }

    /// A parameter whose value is written as a quoted-string.
    pub fn quoted(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: Some(value.into()),
            quoted: true,
        }
    }
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        match &self.value {
            None => Ok(()),
            Some(v) if self.quoted => {
                f.write_str("=")?;
                write_quoted(f, v)
            }
            Some(v) => write!(f, "={v}"),
        }
    }
}

/// Writes `s` as an RFC 3261 quoted-string, escaping `"` and `\`.
pub(crate) fn write_quoted(f: &mut impl std::fmt::Write, s: &str) -> std::fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

/// Finds a parameter by name, ASCII case-insensitively (RFC 3261 §7.3.1: parameter names are case-insensitive).
pub fn find_param<'p>(params: &'p [Param], name: &str) -> Option<&'p Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Sets (or replaces, keeping its place) the parameter `name`, written without quotes.
pub(crate) fn set_param(params: &mut Vec<Param>, name: &str, value: Option<&str>) {
    match params
        .iter_mut()
        .find(|p| p.name.eq_ignore_ascii_case(name))
    {
        Some(p) => *p = Param::new(name, value),
        None => params.push(Param::new(name, value)),
    }
}

/// Writes `;name=value` for every parameter.
pub(crate) fn write_params(f: &mut std::fmt::Formatter<'_>, params: &[Param]) -> std::fmt::Result {
    for p in params {
        write!(f, ";{p}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(s: &str) -> Scanner<'_> {
        Scanner::new(s.as_bytes(), Part::ExtensionHeader)
    }

    // RFC 3261 §25.1: LWS = [*WSP CRLF] 1*WSP
    #[test]
    fn lws_includes_folds() {
        let mut s = sc(" \t\r\n  x");
        assert!(s.skip_lws());
        assert_eq!(s.peek(), Some(b'x'));
        let mut s = sc("\r\nx");
        assert!(!s.skip_lws(), "CRLF not followed by WSP ends the header");
        assert_eq!(s.pos, 0);
    }

    // RFC 3261 §25.1: quoted-string with quoted-pair
    #[test]
    fn quoted_string_with_escapes() {
        let mut s = sc(r#""J Rosenberg \\\"" rest"#);
        assert_eq!(s.quoted_string().unwrap(), "J Rosenberg \\\"");
        assert_eq!(s.rest(), b" rest");
    }

    #[test]
    fn quoted_string_unterminated() {
        let mut s = sc("\"Mr. J. User <sip:j.user@example.com>");
        let e = s.quoted_string().unwrap_err();
        assert_eq!(e.offset, 37);
    }

    #[test]
    fn quoted_string_keeps_utf8_and_nul() {
        let mut s = Scanner::new(b"\"a\\\x00b \xd0\xb4\"", Part::ExtensionHeader);
        assert_eq!(s.quoted_string().unwrap(), "a\0b д");
    }

    // RFC 3261 §25.1: SEMI/EQUAL allow LWS on both sides
    #[test]
    fn params_with_spaces_around_separators() {
        let mut s = sc(" ;   tag    = 1918181833n ; lr;x=\"q;v\"");
        let mut v = Vec::new();
        s.params(&mut v).unwrap();
        assert_eq!(v[0], Param::new("tag", Some("1918181833n")));
        assert_eq!(v[1], Param::new("lr", None));
        assert_eq!(v[2], Param::quoted("x", "q;v"));
        assert!(s.at_end());
    }

    #[test]
    fn empty_param_is_an_error() {
        let mut s = sc(";;");
        let mut v = Vec::new();
        assert_eq!(s.params(&mut v).unwrap_err().offset, 1);
    }

    #[test]
    fn number_bounds() {
        assert_eq!(sc("0068").number(255, "n").unwrap(), 68);
        assert_eq!(
            sc("300").number(255, "n").unwrap_err().kind,
            ErrorKind::OutOfRange
        );
        assert_eq!(
            sc("36893488147419103232")
                .number(u64::MAX, "n")
                .unwrap_err()
                .kind,
            ErrorKind::OutOfRange
        );
    }

    #[test]
    fn param_display_requotes() {
        assert_eq!(
            Param::quoted("reason", "a \"b\"").to_string(),
            r#"reason="a \"b\"""#
        );
        assert_eq!(Param::new("lr", None).to_string(), "lr");
    }
}
