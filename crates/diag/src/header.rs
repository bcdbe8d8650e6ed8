//! Header values: rendering `ms-diagnostics` / `ms-diagnostics-public` from a catalogue entry,
//! and parsing a received value.
//!
//! Grammar [MS-OCER] 2.2.1.1:
//! `ErrorId SEMI reason-param SEMI source-param *(SEMI generic-param)`; the public variant has
//! no `source-param` [MS-OCER] 2.2.1.2. Real traffic orders the parameters freely (MS-SIP.md
//! §1.2), so a [`Diagnostic`] keeps its parameters in the order the caller added them, with
//! `source` wherever [`Diagnostic::source`] was called.

use crate::DiagCode;
use thiserror::Error;

/// One parameter after `reason`, in wire order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// `source="<fqdn>"`: the server that generated the header (omitted from the public header).
    Source(String),
    /// Any other parameter, name as sent (case is kept: Lync mixes `Domain` and `domain`).
    Other(String, String),
}

/// A header value under construction: a catalogue code plus its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    code: &'static DiagCode,
    params: Vec<Param>,
}

impl Diagnostic {
    /// Starts a value for `code` with no parameters besides `reason`.
    pub fn new(code: &'static DiagCode) -> Self {
        Self {
            code,
            params: Vec::new(),
        }
    }

    /// Appends a parameter (value is quoted on rendering).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push(Param::Other(name.into(), value.into()));
        self
    }

    /// Appends `source=<fqdn>` at this position.
    #[must_use]
    pub fn source(mut self, fqdn: impl Into<String>) -> Self {
        self.params.push(Param::Source(fqdn.into()));
        self
    }

    /// The catalogue entry.
    pub fn code(&self) -> &'static DiagCode {
        self.code
    }

    /// The parameters after `reason`, in order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// The `source` parameter, if set.
    pub fn source_fqdn(&self) -> Option<&str> {
        self.params.iter().find_map(|p| match p {
            Param::Source(s) => Some(s.as_str()),
            Param::Other(..) => None,
        })
    }

    /// The value of a non-source parameter, name matched case-insensitively (MS-SIP.md §1.2).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find_map(|p| match p {
            Param::Other(n, v) if n.eq_ignore_ascii_case(name) => Some(v.as_str()),
            _ => None,
        })
    }

    /// Renders the `ms-diagnostics` header value ([MS-OCER] 2.2.1.1).
    pub fn header_value(&self) -> String {
        self.render(true)
    }

    /// Renders the `ms-diagnostics-public` header value: same, without `source` ([MS-OCER] 2.2.1.2).
    pub fn public_value(&self) -> String {
        self.render(false)
    }

    fn render(&self, with_source: bool) -> String {
        let mut out = format!("{};reason={}", self.code.id, quote(self.code.reason));
        for p in &self.params {
            match p {
                Param::Source(s) if with_source => {
                    out.push_str(";source=");
                    out.push_str(&quote(s));
                }
                Param::Source(_) => {}
                Param::Other(n, v) => {
                    out.push(';');
                    out.push_str(n);
                    out.push('=');
                    out.push_str(&quote(v));
                }
            }
        }
        out
    }
}

/// Quotes a value as an RFC 3261 §25.1 `quoted-string`.
///
/// `qdtext` takes LWS, %x21, %x23-5B, %x5D-7E and UTF-8 non-ASCII; `"` and `\` become
/// `quoted-pair`s. CR and LF cannot appear even as a quoted-pair, so each becomes a space;
/// other control characters are sent as quoted-pairs.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            '\t' | ' ' => out.push(c),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A received `ms-diagnostics(-public)` value, parsed generically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedDiagnostic {
    /// The ErrorId.
    pub id: u32,
    /// The optional sub-code after a dot (`1017.2`), OCS 2007 form.
    pub sub_id: Option<u32>,
    /// Every parameter in wire order, names as sent, values unquoted.
    pub params: Vec<(String, String)>,
}

impl ParsedDiagnostic {
    /// The value of a parameter, name matched case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `reason` parameter.
    pub fn reason(&self) -> Option<&str> {
        self.get("reason")
    }

    /// The `source` parameter.
    pub fn source(&self) -> Option<&str> {
        self.get("source")
    }
}

/// Why a received header value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("ms-diagnostics value: expected {expected} at byte {offset}")]
pub struct ParseError {
    /// Byte offset into the value.
    pub offset: usize,
    /// What the parser expected there.
    pub expected: &'static str,
}

/// Parses a header value: `ErrorId[.SubId] *(SEMI name [LWS] "=" [LWS] (token / quoted-string))`.
///
/// Lenient as MS-SIP.md §1.2 asks: any parameter order, LWS around `=` and `;`, a
/// parameter without a value is kept with an empty value.
pub fn parse_value(input: &str) -> Result<ParsedDiagnostic, ParseError> {
    let b = input.as_bytes();
    let mut i = skip_ws(b, 0);
    let (id, next) = digits(b, i).ok_or(ParseError {
        offset: i,
        expected: "an ErrorId (digits)",
    })?;
    i = next;
    let mut sub_id = None;
    if b.get(i) == Some(&b'.') {
        let (sub, next) = digits(b, i + 1).ok_or(ParseError {
            offset: i + 1,
            expected: "a sub-code (digits) after '.'",
        })?;
        sub_id = Some(sub);
        i = next;
    }
    let mut params = Vec::new();
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            None => break,
            Some(b';') => i = skip_ws(b, i + 1),
            Some(_) => {
                return Err(ParseError {
                    offset: i,
                    expected: "';' or end of value",
                });
            }
        }
        let start = i;
        while b.get(i).is_some_and(|c| is_token_char(*c)) {
            i += 1;
        }
        if i == start {
            return Err(ParseError {
                offset: i,
                expected: "a parameter name (token)",
            });
        }
        let name = input.get(start..i).unwrap_or_default().to_owned();
        i = skip_ws(b, i);
        if b.get(i) != Some(&b'=') {
            params.push((name, String::new()));
            continue;
        }
        i = skip_ws(b, i + 1);
        let (value, next) = if b.get(i) == Some(&b'"') {
            quoted(input, i)?
        } else {
            let vstart = i;
            while b.get(i).is_some_and(|c| is_token_char(*c) || *c == b':') {
                i += 1;
            }
            if i == vstart {
                return Err(ParseError {
                    offset: i,
                    expected: "a parameter value (token or quoted-string)",
                });
            }
            (input.get(vstart..i).unwrap_or_default().to_owned(), i)
        };
        i = next;
        params.push((name, value));
    }
    Ok(ParsedDiagnostic { id, sub_id, params })
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
    {
        i += 1;
    }
    i
}

fn digits(b: &[u8], start: usize) -> Option<(u32, usize)> {
    let mut i = start;
    let mut v: u32 = 0;
    while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
        v = v.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
        i += 1;
    }
    (i > start).then_some((v, i))
}

// RFC 3261 §25.1 token characters.
fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&c)
}

// RFC 3261 §25.1 quoted-string, starting at the opening DQUOTE.
fn quoted(input: &str, start: usize) -> Result<(String, usize), ParseError> {
    let mut out = String::new();
    let mut chars = input
        .get(start + 1..)
        .unwrap_or_default()
        .char_indices()
        .map(|(k, c)| (k + start + 1, c));
    while let Some((k, c)) = chars.next() {
        match c {
            '"' => return Ok((out, k + 1)),
            '\\' => match chars.next() {
                Some((_, e)) => out.push(e),
                None => {
                    return Err(ParseError {
                        offset: k + 1,
                        expected: "a character after '\\'",
                    });
                }
            },
            c => out.push(c),
        }
    }
    Err(ParseError {
        offset: input.len(),
        expected: "closing '\"' of a quoted-string",
    })
}
