//! Many admin regexes matched against one short number, fast: the patterns of a dial
//! plan's rules, of all routes, of a trunk's translation rules.
//!
//! Most Lync patterns are anchored and begin with literal digits (`^\+1416\d{7}$`,
//! `^(2\d{6})$`). For those the literal prefixes are extracted once (regex-syntax), and
//! a number only has to be checked against the patterns whose prefix it starts with: a
//! handful of hash lookups, then one `is_match` per candidate. Patterns without an
//! anchored literal prefix go into one [`RegexSet`]. Numbers are ASCII (the number
//! module strips everything else), so patterns compile without Unicode classes: `\d`
//! is `[0-9]`.

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use regex_syntax::hir::Look;
use regex_syntax::hir::literal::{ExtractKind, Extractor};

/// Compiled-program size limit for the fallback set (the regex crate's default is
/// 10 MiB; thousands of patterns without literal prefixes need more).
const SET_SIZE_LIMIT: usize = 256 * 1024 * 1024;

/// Compiles one pattern as the engine runs it.
pub fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).unicode(false).build()
}

/// The literals every match of `pattern` starts with, when the pattern is anchored at
/// the start of the number; `None` when no such finite set exists.
fn anchored_prefixes(pattern: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    if !hir.properties().look_set_prefix().contains(Look::Start) {
        return None;
    }
    let mut extractor = Extractor::new();
    // Classes such as \d stop the prefix instead of multiplying it tenfold.
    extractor.kind(ExtractKind::Prefix).limit_class(1);
    let seq = extractor.extract(&hir);
    let literals = seq.literals()?;
    Some(literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

/// A byte trie from literal prefixes to the patterns that start with them.
#[derive(Debug, Default)]
struct Trie {
    nodes: Vec<TrieNode>,
}

#[derive(Debug, Default)]
struct TrieNode {
    /// Child per next byte (few: digits, `+`, `*`, `#`).
    edges: Vec<(u8, usize)>,
    /// Patterns whose prefix ends here.
    ids: Vec<usize>,
}

impl Trie {
    fn insert(&mut self, prefix: &[u8], id: usize) {
        if self.nodes.is_empty() {
            self.nodes.push(TrieNode::default());
        }
        let mut node = 0;
        for &b in prefix {
            let next = self
                .nodes
                .get(node)
                .and_then(|n| n.edges.iter().find(|(e, _)| *e == b).map(|(_, k)| *k));
            node = match next {
                Some(k) => k,
                None => {
                    let k = self.nodes.len();
                    self.nodes.push(TrieNode::default());
                    if let Some(n) = self.nodes.get_mut(node) {
                        n.edges.push((b, k));
                    }
                    k
                }
            };
        }
        if let Some(n) = self.nodes.get_mut(node)
            && n.ids.last() != Some(&id)
        {
            n.ids.push(id);
        }
    }

    /// Calls `visit` with the ids of every prefix of `hay` found in the trie.
    fn for_each_prefix_of(&self, hay: &[u8], mut visit: impl FnMut(usize)) {
        let mut node = match self.nodes.first() {
            Some(n) => n,
            None => return,
        };
        node.ids.iter().for_each(|&i| visit(i));
        for &b in hay {
            match node
                .edges
                .iter()
                .find(|(e, _)| *e == b)
                .and_then(|(_, k)| self.nodes.get(*k))
            {
                Some(n) => {
                    node = n;
                    node.ids.iter().for_each(|&i| visit(i));
                }
                None => return,
            }
        }
    }
}

/// An ordered list of compiled patterns with a literal-prefix index.
#[derive(Debug)]
pub struct PatternIndex {
    regexes: Vec<Regex>,
    by_prefix: Trie,
    rest: Vec<usize>,
    rest_set: Option<RegexSet>,
}

impl PatternIndex {
    /// Compiles `patterns` in order; on failure returns the index of the bad pattern
    /// and the regex error.
    pub fn new<'p>(
        patterns: impl IntoIterator<Item = &'p str>,
    ) -> Result<PatternIndex, (usize, regex::Error)> {
        let mut regexes = Vec::new();
        let mut by_prefix = Trie::default();
        let mut rest = Vec::new();
        let mut rest_patterns = Vec::new();
        for (i, p) in patterns.into_iter().enumerate() {
            regexes.push(compile(p).map_err(|e| (i, e))?);
            match anchored_prefixes(p) {
                Some(prefixes) => {
                    for prefix in prefixes {
                        by_prefix.insert(&prefix, i);
                    }
                }
                None => {
                    rest.push(i);
                    rest_patterns.push(p);
                }
            }
        }
        let rest_set = if rest_patterns.is_empty() {
            None
        } else {
            let set = RegexSetBuilder::new(&rest_patterns)
                .unicode(false)
                .size_limit(SET_SIZE_LIMIT)
                .build()
                .map_err(|e| (rest.first().copied().unwrap_or(0), e))?;
            Some(set)
        };
        Ok(PatternIndex {
            regexes,
            by_prefix,
            rest,
            rest_set,
        })
    }

    /// The compiled pattern `i`.
    pub fn regex(&self, i: usize) -> Option<&Regex> {
        self.regexes.get(i)
    }

    fn is_match(&self, i: usize, hay: &[u8]) -> bool {
        self.regexes.get(i).is_some_and(|r| r.is_match(hay))
    }

    /// Fills `out` with the indexes of every pattern matching `hay`, ascending.
    pub fn matches(&self, hay: &[u8], out: &mut Vec<usize>) {
        out.clear();
        self.by_prefix.for_each_prefix_of(hay, |i| {
            if self.is_match(i, hay) {
                out.push(i);
            }
        });
        if let Some(set) = &self.rest_set {
            out.extend(
                set.matches(hay)
                    .into_iter()
                    .filter_map(|k| self.rest.get(k).copied()),
            );
        }
        out.sort_unstable();
        // A pattern indexed under two prefixes of `hay` is found twice.
        out.dedup();
    }

    /// The index of the first pattern (in order) matching `hay`.
    pub fn first(&self, hay: &[u8]) -> Option<usize> {
        let mut best = self.rest_set.as_ref().and_then(|set| {
            set.matches(hay)
                .into_iter()
                .next()
                .and_then(|k| self.rest.get(k).copied())
        });
        self.by_prefix.for_each_prefix_of(hay, |i| {
            if best.is_none_or(|b| i < b) && self.is_match(i, hay) {
                best = Some(i);
            }
        });
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_of_typical_patterns() {
        assert_eq!(
            anchored_prefixes(r"^\+1416\d{7}$"),
            Some(vec![b"+1416".to_vec()])
        );
        assert_eq!(
            anchored_prefixes(r"^\+1(416|647)\d{7}$"),
            Some(vec![b"+1416".to_vec(), b"+1647".to_vec()])
        );
        // No literal to index on: such patterns go to the fallback set.
        assert_eq!(anchored_prefixes(r"^(\d{10})$"), None);
        // Not anchored: no prefix can be trusted.
        assert_eq!(anchored_prefixes(r"\+1416"), None);
        assert_eq!(anchored_prefixes(r"^a|b"), None);
    }

    #[test]
    fn index_agrees_with_plain_regexes() {
        let patterns = [
            r"^\+1416\d{7}$",
            r"^\+1\d{10}$",
            r"5$",
            r"^(\d{4})$",
            r"^\+44",
            r"(?i)^x\d",
            r"^\+1(416|647)",
        ];
        let index = PatternIndex::new(patterns).unwrap();
        let plain: Vec<Regex> = patterns.iter().map(|p| compile(p).unwrap()).collect();
        for hay in [
            "+14165550100",
            "+16475550100",
            "+447911123456",
            "1235",
            "X1",
            "",
            "+1416",
            "5",
        ] {
            let want: Vec<usize> = (0..patterns.len())
                .filter(|&i| plain[i].is_match(hay.as_bytes()))
                .collect();
            let mut got = Vec::new();
            index.matches(hay.as_bytes(), &mut got);
            assert_eq!(got, want, "{hay}");
            assert_eq!(index.first(hay.as_bytes()), want.first().copied(), "{hay}");
        }
    }

    proptest::proptest! {
        #[test]
        fn index_agrees_with_plain_regexes_on_any_number(hay in "[+*#0-9xX]{0,14}") {
            let patterns = [
                r"^\+1416\d{7}$", r"^\+1\d{10}$", r"5$", r"^(\d{4})$", r"^\+44",
                r"(?i)^x\d", r"^\+1(416|647)", r"^(2\d{6})$", r"^\*1\d\d$", r"^$",
            ];
            let index = PatternIndex::new(patterns).unwrap();
            let want: Vec<usize> = (0..patterns.len())
                .filter(|&i| compile(patterns[i]).unwrap().is_match(hay.as_bytes()))
                .collect();
            let mut got = Vec::new();
            index.matches(hay.as_bytes(), &mut got);
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(index.first(hay.as_bytes()), want.first().copied());
        }
    }

    #[test]
    fn bad_pattern_is_reported_with_its_index() {
        let err = PatternIndex::new([r"^1", r"^(2"]).unwrap_err();
        assert_eq!(err.0, 1);
    }
}
