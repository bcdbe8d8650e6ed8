//! Problems in a topology file, located at file:line:column with the field, what is wrong and
//! the fix; and the conversion of the TOML reader's errors into that form.

use std::ops::Range;

use serde::Serialize;

/// One problem in a topology file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {problem}; fix: {fix}")]
pub struct ConfigError {
    /// The file as given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The field as a TOML path, e.g. `pool[1].roles`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

/// Every problem found in a topology file, in file order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.0))]
pub struct Errors(pub Vec<ConfigError>);

fn render(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The 1-based line and character column of byte `offset` in `text` (clamped to the text).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// Builds located errors for one file.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    pub(crate) text: &'a str,
    pub(crate) file: &'a str,
    pub(crate) errors: Vec<ConfigError>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(text: &'a str, file: &'a str) -> Sink<'a> {
        Sink {
            text,
            file,
            errors: Vec::new(),
        }
    }

    /// Records a problem at `span`.
    pub(crate) fn push(
        &mut self,
        span: Range<usize>,
        field: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let (line, column) = line_col(self.text, span.start);
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            field: field.into(),
            problem: problem.into(),
            fix: fix.into(),
        });
    }

    /// Records a TOML reader error (syntax, unknown key, missing key, wrong type).
    pub(crate) fn toml(&mut self, e: &toml::de::Error) {
        let offset = e.span().map_or(0, |s| s.start);
        // One line per problem: the reader's multi-line messages are joined.
        let message = e
            .message()
            .trim()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
        let field = field_at(self.text, offset);
        let fix = toml_fix(&message, &field);
        self.push(offset..offset, field, message, fix);
    }
}

fn toml_fix(message: &str, field: &str) -> String {
    let leaf = field.rsplit('.').next().unwrap_or(field);
    if message.starts_with("unknown field `password`") && field.starts_with("relay.") {
        "never write a password into the topology: give key_md5 = hex of MD5(username \":\" \
         realm \":\" password) (RFC 8489 §9.2.2), or use ephemeral credentials"
            .to_owned()
    } else if message.starts_with("unknown field") {
        "remove the key or correct its spelling to one of the keys listed".to_owned()
    } else if let Some(rest) = message.strip_prefix("missing field") {
        let key = rest.trim().trim_matches('`');
        format!("add `{key} = …` to this table (see topology/demo.toml)")
    } else if message.starts_with("unknown variant") {
        "use one of the values listed".to_owned()
    } else if message.starts_with("invalid type") && leaf == "password" {
        "never write a password into the topology: give [user.password] with realm and the \
         Digest HA1 values ha1_md5 / ha1_sha256 (RFC 7616 §3.4.2), or password_in_store = true"
            .to_owned()
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        "write the value with the type the key expects (quote strings, no quotes on numbers \
         and booleans, [..] for lists)"
            .to_owned()
    } else if message.starts_with("duplicate key") {
        "keep one definition of the key".to_owned()
    } else {
        "correct the TOML at this position (https://toml.io/en/v1.0.0)".to_owned()
    }
}

/// The field at `offset`: the nearest table header above (with the index of an array of
/// tables, `pool[1]`), then the key of the line (`pool[1].roles`).
pub(crate) fn field_at(text: &str, offset: usize) -> String {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text
        .get(line_start..)
        .and_then(|l| l.lines().next())
        .unwrap_or("");
    let table = header_path(text.get(..line_start).unwrap_or(""), line);
    let trimmed = line.trim_start();
    let key = if trimmed.starts_with('[') {
        None
    } else {
        trimmed
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"').to_owned())
            .filter(|k| !k.is_empty())
    };
    match (table, key) {
        (Some(t), Some(k)) => format!("{t}.{k}"),
        (Some(t), None) => t,
        (None, Some(k)) => k,
        (None, None) => "(top level)".to_owned(),
    }
}

// The table a line belongs to: its own header when it is one, else the last header above,
// with `[n]` after array-of-tables names counting earlier headers of the same name.
fn header_path(above: &str, line: &str) -> Option<String> {
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut current: Option<String> = None;
    for l in above.lines().chain(std::iter::once(line)) {
        let t = l.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_owned();
            let n = counts.entry(name.clone()).or_insert(0);
            current = Some(format!("{name}[{n}]"));
            *n += 1;
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            let name = name.trim();
            // A sub-table of an array element (`[user.password]`) belongs to the last element.
            current = Some(match name.split_once('.') {
                Some((parent, rest)) => match counts.get(parent) {
                    Some(n) => format!("{parent}[{}].{rest}", n.saturating_sub(1)),
                    None => name.to_owned(),
                },
                None => name.to_owned(),
            });
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("a\nbé c", 5), (2, 3));
        assert_eq!(line_col("abc", 99), (1, 4));
    }

    #[test]
    fn field_at_names_array_elements_and_subtables() {
        let text =
            "[[pool]]\nfqdn = \"a\"\n[[pool]]\nroles = []\n[[user]]\n[user.password]\nrealm = 1\n";
        let at = |needle: &str| field_at(text, text.find(needle).unwrap_or(0));
        assert_eq!(at("fqdn"), "pool[0].fqdn");
        assert_eq!(at("roles"), "pool[1].roles");
        assert_eq!(at("realm"), "user[0].password.realm");
    }
}
