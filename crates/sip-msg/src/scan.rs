//! A byte scanner for the RFC 3261 §25.1 basic rules: LWS/SWS with header
//! folding, tokens, quoted strings with quoted-pairs, generic parameters.
//! Offsets in its errors are relative to the start of the scanned slice.

use std::borrow::Cow;

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
/// Built over text ([`Scanner::over`]) it hands out `&str` pieces by slicing, with no
/// further UTF-8 check: the whole value was checked once.
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    pub(crate) s: &'a [u8],
    /// The same bytes as text, when the scanner was built over text.
    t: Option<&'a str>,
    pub(crate) pos: usize,
    pub(crate) part: Part,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(s: &'a [u8], part: Part) -> Self {
        Self {
            s,
            t: None,
            pos: 0,
            part,
        }
    }

    /// A scanner over text: the pieces it returns borrow `t` without another UTF-8 check.
    pub(crate) fn over(t: &'a str, part: Part) -> Self {
        Self {
            s: t.as_bytes(),
            t: Some(t),
            pos: 0,
            part,
        }
    }

    /// A scanner over `self.s[a..b]` (empty if out of range), starting at its beginning.
    pub(crate) fn sub(&self, a: usize, b: usize) -> Scanner<'a> {
        match self.t {
            Some(t) => Scanner::over(t.get(a..b).unwrap_or(""), self.part),
            None => Scanner::new(self.s.get(a..b).unwrap_or(&[]), self.part),
        }
    }

    /// The text of `self.s[a..b]`: a slice of the text the scanner was built over, or for a
    /// scanner over bytes, the bytes if they are UTF-8 (pieces scanned by character class
    /// are ASCII), else "".
    #[inline]
    pub(crate) fn slice(&self, a: usize, b: usize) -> &'a str {
        match self.t {
            Some(t) => t.get(a..b).unwrap_or(""),
            None => text(self.s.get(a..b).unwrap_or(&[])),
        }
    }

    /// The text from `a` to the current position.
    #[inline]
    pub(crate) fn since(&self, a: usize) -> &'a str {
        self.slice(a, self.pos)
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
    #[inline]
    pub(crate) fn skip_lws(&mut self) -> bool {
        if matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.skip_lws_slow()
        } else {
            false
        }
    }

    fn skip_lws_slow(&mut self) -> bool {
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
    #[inline]
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        // Fast path: the separator is next, no white space before it.
        if self.peek() == Some(b) {
            self.pos += 1;
            self.skip_lws();
            return true;
        }
        if !matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            return false;
        }
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
    #[inline]
    pub(crate) fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = self.rest();
        let n = rest.iter().position(|&b| !pred(b)).unwrap_or(rest.len());
        self.pos += n;
        rest.get(..n).unwrap_or(&[])
    }

    /// RFC 3261 §25.1 `token`.
    pub(crate) fn token(&mut self, expected: &'static str) -> Result<&'a str> {
        let start = self.pos;
        let t = self.take_while(is_token);
        if t.is_empty() {
            Err(self.err(expected))
        } else {
            Ok(self.since(start))
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
    #[cfg(test)]
    pub(crate) fn quoted_string(&mut self) -> Result<String> {
        self.quoted_raw().map(|r| unquote(r).into_owned())
    }

    /// RFC 3261 §25.1 `quoted-string`, checked; the scanner must be on the opening quote.
    /// Returns the content between the quotes as written (quoted-pairs and folds kept):
    /// [`unquote`] reads it.
    pub(crate) fn quoted_raw(&mut self) -> Result<&'a str> {
        self.expect(b'"', "expected '\"' opening a quoted string")?;
        let start = self.pos;
        // Fast path: no quoted-pair and no fold before the closing quote (the usual case).
        let rest = self.rest();
        if let Some(end) = memchr::memchr3(b'"', b'\\', b'\n', rest)
            && rest[end] == b'"'
            && !rest[..end].iter().any(|&c| c < 0x20 && c != b'\t')
        {
            self.pos += end + 1;
            return Ok(self.slice(start, start + end));
        }
        loop {
            match self.peek() {
                None => return Err(self.err("expected '\"' closing the quoted string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(self.slice(start, self.pos - 1));
                }
                Some(b'\\') => {
                    // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                    match self.s.get(self.pos + 1) {
                        Some(&c) if c <= 0x7f && c != b'\n' && c != b'\r' => self.pos += 2,
                        _ => {
                            return Err(
                                self.err("expected a character after '\\' in quoted string")
                            );
                        }
                    }
                }
                Some(b'\r' | b'\n') if self.skip_lws() => {}
                Some(b'\r' | b'\n') => {
                    return Err(self.err("expected '\"' closing the quoted string"));
                }
                Some(c) if c < 0x20 && c != b'\t' => {
                    return Err(self.err("expected text or '\"' in quoted string"));
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// `*(SEMI generic-param)`: RFC 3261 §25.1 `generic-param = token [ EQUAL gen-value ]`.
    /// Stops before anything that is not `;` (such as `,` or the end).
    pub(crate) fn params(&mut self, out: &mut Vec<Param>) -> Result<()> {
        let (params, _) = self.params_view(|_| true)?;
        out.extend(params.iter().map(ParamRef::into_owned));
        Ok(())
    }

    /// `*(SEMI generic-param)`, checked and kept as written. `check` sees each parameter;
    /// the second value returned is whether it accepted them all.
    pub(crate) fn params_view(
        &mut self,
        mut check: impl FnMut(&ParamRef<'a>) -> bool,
    ) -> Result<(Params<'a>, bool)> {
        let start = self.pos;
        let mut ok = true;
        let mut quoted = false;
        while self.eat_sep(b';') {
            let p = self.param_ref()?;
            quoted |= p.quoted;
            ok &= check(&p);
        }
        Ok((
            Params {
                raw: self.since(start),
                quoted,
            },
            ok,
        ))
    }

    /// One `generic-param`, after its `;`.
    pub(crate) fn param_ref(&mut self) -> Result<ParamRef<'a>> {
        let name = self.token("expected a parameter name after ';'")?;
        if self.eat_sep(b'=') {
            if self.peek() == Some(b'"') {
                let v = self.quoted_raw()?;
                Ok(ParamRef {
                    name,
                    raw: Some(v),
                    quoted: true,
                })
            } else {
                let start = self.pos;
                let v = self.take_while(is_gen_value);
                if v.is_empty() {
                    return Err(self.err("expected a parameter value after '='"));
                }
                Ok(ParamRef {
                    name,
                    raw: Some(self.since(start)),
                    quoted: false,
                })
            }
        } else {
            Ok(ParamRef {
                name,
                raw: None,
                quoted: false,
            })
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

/// The content of a quoted-string as written (see [`Scanner::quoted_raw`]), unescaped:
/// quoted-pairs give their character, a line fold counts as one SP (RFC 3261 §25.1).
/// Borrowed unless there is something to undo.
pub(crate) fn unquote(raw: &str) -> Cow<'_, str> {
    if !raw.bytes().any(|b| matches!(b, b'\\' | b'\r' | b'\n')) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            '\r' | '\n' => {
                while chars
                    .next_if(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
                    .is_some()
                {}
                out.push(' ');
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Header parameters `*(SEMI generic-param)` exactly as written in a header value, checked
/// when the value was parsed and read on demand without allocating (RFC 3261 §25.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Params<'a> {
    raw: &'a str,
    /// Whether a value is a quoted-string (which may hold `;` or `=`): then reading needs the
    /// scanner; otherwise the checked text splits on `;` and `=`.
    quoted: bool,
}

impl<'a> Params<'a> {
    /// The parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        if self.quoted {
            ParamIter(IterState::Scan(Scanner::over(
                self.raw,
                Part::ExtensionHeader,
            )))
        } else {
            ParamIter(IterState::Plain(self.raw))
        }
    }

    /// The parameter `name`, compared ASCII case-insensitively (RFC 3261 §7.3.1).
    pub fn get(&self, name: &str) -> Option<ParamRef<'a>> {
        self.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The value of parameter `name` as written (without quotes; quoted-pairs kept), `None`
    /// if absent or a flag. Token-valued parameters (`tag`, `branch`, `epid`…) read exactly.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|p| p.raw)
    }

    /// Whether the parameter `name` is present (with or without a value).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The parameters as written, leading `;` included.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Owned copies of the parameters.
    pub fn to_vec(&self) -> Vec<Param> {
        self.iter().map(ParamRef::into_owned).collect()
    }
}

impl<'a> IntoIterator for Params<'a> {
    type Item = ParamRef<'a>;
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

/// The parameters of a [`Params`], in order.
#[derive(Debug, Clone)]
pub struct ParamIter<'a>(IterState<'a>);

#[derive(Debug, Clone)]
enum IterState<'a> {
    /// No quoted-string: the rest of the checked text, split on `;` and `=`.
    Plain(&'a str),
    /// Quoted-strings: scanned with the grammar.
    Scan(Scanner<'a>),
}

/// `s` without leading and trailing LWS.
#[inline]
fn trim_lws(s: &str) -> &str {
    let b = s.as_bytes();
    let lws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !lws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !lws(c)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or("")
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = ParamRef<'a>;
    fn next(&mut self) -> Option<ParamRef<'a>> {
        match &mut self.0 {
            IterState::Scan(sc) => {
                if sc.eat_sep(b';') {
                    sc.param_ref().ok()
                } else {
                    None
                }
            }
            IterState::Plain(rest) => {
                // The text was checked as `*(SEMI generic-param)` with no quoted-string, so
                // neither a name nor a value holds `;` or `=` (RFC 3261 §25.1 gen-value).
                let b = rest.as_bytes();
                let start = b.iter().position(|&c| c == b';')? + 1;
                let (mut eq, mut end) = (None, b.len());
                for (i, &c) in b.iter().enumerate().skip(start) {
                    if c == b';' {
                        end = i;
                        break;
                    }
                    if c == b'=' && eq.is_none() {
                        eq = Some(i);
                    }
                }
                let piece = |a: usize, z: usize| trim_lws(rest.get(a..z).unwrap_or(""));
                let p = match eq {
                    Some(e) => ParamRef::new(piece(start, e), Some(piece(e + 1, end)), false),
                    None => ParamRef::new(piece(start, end), None, false),
                };
                *rest = rest.get(end..).unwrap_or("");
                Some(p)
            }
        }
    }
}

/// One header parameter borrowed from a message: `name[=value]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamRef<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value as written (without quotes), `None` for a flag.
    raw: Option<&'a str>,
    quoted: bool,
}

impl<'a> ParamRef<'a> {
    pub(crate) fn new(name: &'a str, raw: Option<&'a str>, quoted: bool) -> Self {
        Self { name, raw, quoted }
    }

    /// The value, unescaped if it was a quoted-string; `None` for a flag such as `lr`.
    pub fn value(&self) -> Option<Cow<'a, str>> {
        self.raw.map(|r| {
            if self.quoted {
                unquote(r)
            } else {
                Cow::Borrowed(r)
            }
        })
    }

    /// The value as written, without its quotes (quoted-pairs kept).
    pub fn raw_value(&self) -> Option<&'a str> {
        self.raw
    }

    /// Whether the value was written as a quoted-string.
    pub fn is_quoted(&self) -> bool {
        self.quoted
    }

    /// An owned copy.
    pub fn into_owned(self) -> Param {
        Param {
            name: self.name.to_owned(),
            value: self.value().map(Cow::into_owned),
            quoted: self.quoted,
        }
    }
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
