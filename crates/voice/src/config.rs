//! The `[voice]` section of topology.toml as written by the admin, and the errors that
//! point back into the file (file:line:column, the field, what is wrong, how to fix it).
//!
//! The objects mirror Lync's ([MS-Docs:New-CsVoiceNormalizationRule],
//! [MS-Docs:New-CsVoiceRoute], [MS-Docs:TrunkConfiguration], [MS-Docs:New-CsUnassignedNumber],
//! [MS-Docs:New-CsCallParkOrbit]). Fields that other objects refer to, and fields whose
//! value is checked after parsing, are [`Spanned`] so that a validation error can name
//! their position.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

/// The whole `[voice]` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoiceConfig {
    /// `[[voice.dial_plan]]`: dial plans with their normalization rules.
    #[serde(default, rename = "dial_plan")]
    pub dial_plans: Vec<DialPlanConfig>,
    /// `[[voice.policy]]`: voice policies with their ordered PSTN usages.
    #[serde(default, rename = "policy")]
    pub policies: Vec<VoicePolicyConfig>,
    /// `[[voice.route]]`: voice routes, in priority order (first is tried first).
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
    /// `[[voice.trunk]]`: trunks to PSTN gateways.
    #[serde(default, rename = "trunk")]
    pub trunks: Vec<TrunkConfig>,
    /// `[[voice.user]]`: users (and application endpoints) known to the voice engine.
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
    /// `[[voice.unassigned]]`: unassigned (vacant) number ranges.
    #[serde(default)]
    pub unassigned: Vec<UnassignedRangeConfig>,
    /// `[[voice.call_park]]`: call park orbit ranges.
    #[serde(default)]
    pub call_park: Vec<CallParkOrbitConfig>,
    /// `[voice.emergency]`: emergency dial strings and the usages they route on.
    #[serde(default)]
    pub emergency: Option<Spanned<EmergencyConfig>>,
}

/// Where a dial plan or voice policy applies ([MS-Docs:New-CsDialPlan] identities:
/// `Global`, `Site:<name>`, `Service:Registrar:<pool>`, or a per-user tag).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum Scope {
    /// `"global"`: everyone not covered by a narrower scope.
    Global,
    /// `"site:<name>"`: users of that site.
    Site(String),
    /// `"pool:<fqdn>"`: users homed on that pool (dial plans only).
    Pool(String),
    /// `"user"`: assigned to users by name.
    User,
}

impl TryFrom<String> for Scope {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let lower = s.to_ascii_lowercase();
        if lower == "global" {
            return Ok(Scope::Global);
        }
        if lower == "user" {
            return Ok(Scope::User);
        }
        if let Some(site) = lower.strip_prefix("site:").filter(|r| !r.is_empty()) {
            return Ok(Scope::Site(site.to_string()));
        }
        if let Some(pool) = lower.strip_prefix("pool:").filter(|r| !r.is_empty()) {
            return Ok(Scope::Pool(pool.to_string()));
        }
        Err(format!(
            "scope `{s}` is not one of \"global\", \"site:<name>\", \"pool:<fqdn>\", \"user\""
        ))
    }
}

impl From<Scope> for String {
    fn from(s: Scope) -> String {
        s.to_string()
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Global => f.write_str("global"),
            Scope::Site(s) => write!(f, "site:{s}"),
            Scope::Pool(p) => write!(f, "pool:{p}"),
            Scope::User => f.write_str("user"),
        }
    }
}

/// One dial plan: ordered normalization rules; the first matching rule applies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialPlanConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// Where it applies.
    pub scope: Spanned<Scope>,
    /// `[[voice.dial_plan.rule]]`: normalization rules in order.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleConfig>,
}

/// A pattern → translation rule: a dial-plan normalization rule
/// ([MS-Docs:New-CsVoiceNormalizationRule]) or a trunk's outbound translation rule
/// ([MS-Docs:OutboundTranslationRule]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Name shown in the trace.
    pub name: String,
    /// Regular expression (regex crate syntax) matched against the number.
    pub pattern: Spanned<String>,
    /// Replacement, with `$1` / `${1}` / `${name}` capture references.
    pub translation: Spanned<String>,
}

/// A voice policy: the PSTN usages its holders may call through, in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicePolicyConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// Where it applies (`global`, `site:<name>` or `user`).
    pub scope: Spanned<Scope>,
    /// PSTN usages in the order they are tried.
    #[serde(default)]
    pub usages: Vec<Spanned<String>>,
}

/// A voice route: a number pattern, the usages it serves and its trunks in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// Regular expression the normalized number must match.
    pub pattern: Spanned<String>,
    /// PSTN usages this route serves.
    pub usages: Vec<Spanned<String>>,
    /// Trunks tried in order.
    pub trunks: Vec<Spanned<String>>,
}

/// Transport towards a gateway (RFC 3261 §18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
    /// SIP over TLS.
    Tls,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        })
    }
}

fn default_true() -> bool {
    true
}

/// A trunk: the gateway a call leaves through and the number translation it needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// Gateway FQDN or IP address.
    pub gateway: Spanned<String>,
    /// Gateway port.
    pub port: u16,
    /// Transport to the gateway.
    pub transport: Transport,
    /// `false` takes the trunk out of service without deleting it.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// `[[voice.trunk.translation]]`: outbound (called number) translation rules in order.
    #[serde(default)]
    pub translation: Vec<RuleConfig>,
}

/// A user or application endpoint the voice engine knows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// SIP URI (`sip:alice@example.test`).
    pub uri: Spanned<String>,
    /// Line URI (`tel:+19058140048`, optionally `;ext=…`).
    #[serde(default)]
    pub line_uri: Option<Spanned<String>>,
    /// Enabled for Enterprise Voice ("UC enabled" in Lync's routing log).
    #[serde(default)]
    pub enterprise_voice: bool,
    /// A `user`-scope voice policy granted to this user.
    #[serde(default)]
    pub voice_policy: Option<Spanned<String>>,
    /// A `user`-scope dial plan granted to this user.
    #[serde(default)]
    pub dial_plan: Option<Spanned<String>>,
    /// The site the user belongs to (selects site-scope plans and policies).
    #[serde(default)]
    pub site: Option<String>,
    /// The pool the user is homed on (selects pool-scope dial plans).
    #[serde(default)]
    pub pool: Option<String>,
}

/// An unassigned number range and where calls to it go ([MS-Docs:New-CsUnassignedNumber]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnassignedRangeConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// First number of the range (`+14165550000`).
    pub start: Spanned<String>,
    /// Last number of the range, same length and prefix as `start`.
    pub end: Spanned<String>,
    /// Announcement to play (exactly one of `announcement` and `redirect`).
    #[serde(default)]
    pub announcement: Option<String>,
    /// URI to redirect to, e.g. an attendant (exactly one of `announcement` and `redirect`).
    #[serde(default)]
    pub redirect: Option<String>,
}

/// A call park orbit range owned by a pool ([MS-Docs:New-CsCallParkOrbit]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallParkOrbitConfig {
    /// Unique name.
    pub name: Spanned<String>,
    /// First orbit (`*100`, `#7000`, `7000`).
    pub start: Spanned<String>,
    /// Last orbit, same length and prefix as `start`.
    pub end: Spanned<String>,
    /// Pool (FQDN) whose Call Park service owns the orbits.
    pub pool: String,
}

/// Emergency calling: dial strings that are emergency calls and the usages they take
/// instead of the caller's policy usages (Lync's location policy `EmergencyDialString`
/// and `PstnUsage`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyConfig {
    /// Dial strings such as `"911"`, `"112"`.
    pub numbers: Vec<Spanned<String>>,
    /// PSTN usages emergency calls route on, in order.
    pub usages: Vec<Spanned<String>>,
}

/// A position in a file, 1-based line and column (column counts characters).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The file name as given by the caller.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
}

impl Location {
    /// The line and column of byte `offset` of `src` (clamped to the text).
    pub fn of_offset(file: &str, src: &str, offset: usize) -> Location {
        let mut offset = offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = src.get(..offset).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
        Location {
            file: file.to_string(),
            line,
            column,
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// What is wrong with a voice configuration, found after parsing (by [`crate::Engine::new`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// Two objects of one kind share a name (or two users a URI or Line URI).
    #[error("{kind} `{name}` is defined twice")]
    Duplicate {
        /// Kind of object.
        kind: &'static str,
        /// The repeated name.
        name: String,
    },
    /// A reference to an object that is not defined.
    #[error("{kind} `{name}` is not defined (known: {known})")]
    UnknownReference {
        /// Kind of object referred to.
        kind: &'static str,
        /// The name referred to.
        name: String,
        /// The names that are defined, comma-separated.
        known: String,
    },
    /// A regular expression that does not compile.
    #[error("bad regular expression: {0}")]
    BadRegex(String),
    /// A translation that refers to a capture group the pattern does not have.
    #[error("translation refers to `{reference}` but the pattern has no such capture group")]
    BadTranslation {
        /// The reference as written.
        reference: String,
    },
    /// A number that is not a valid phone number or range bound.
    #[error("`{value}` is not valid: {why}")]
    BadNumber {
        /// The value as written.
        value: String,
        /// Why.
        why: String,
    },
    /// A range whose bounds do not fit together.
    #[error("range {start}..{end} is not valid: {why}")]
    BadRange {
        /// Start as written.
        start: String,
        /// End as written.
        end: String,
        /// Why.
        why: String,
    },
    /// Two number ranges overlap.
    #[error("range overlaps {other_kind} `{other}`")]
    Overlap {
        /// Kind of the other range.
        other_kind: &'static str,
        /// Name of the other range.
        other: String,
    },
    /// A scope this kind of object cannot have, or a second object for one scope.
    #[error("{0}")]
    BadScope(String),
    /// A per-user grant naming an object that is not `user`-scoped.
    #[error(
        "{kind} `{name}` has scope `{scope}`; only scope \"user\" objects are granted to users"
    )]
    NotUserScoped {
        /// Kind of object.
        kind: &'static str,
        /// Its name.
        name: String,
        /// Its scope.
        scope: String,
    },
    /// An unassigned range with neither or both treatments.
    #[error("an unassigned range needs exactly one of `announcement` and `redirect`")]
    Treatment,
    /// A list that must not be empty is empty.
    #[error("the list is empty")]
    Empty,
    /// A user URI that is not `sip:user@host`.
    #[error("`{0}` is not a SIP URI of the form sip:user@host")]
    BadUri(String),
    /// A gateway address or port that cannot be used.
    #[error("{0}")]
    BadGateway(String),
}

impl Problem {
    /// How to fix it, in one sentence.
    pub fn fix(&self) -> String {
        match self {
            Problem::Duplicate { kind, .. } => format!("make each {kind} unique, or delete one of the two"),
            Problem::UnknownReference { kind, .. } => {
                format!("define the {kind} or correct the spelling to one of the known names")
            }
            Problem::BadRegex(_) => {
                "write the pattern in regex crate syntax (https://docs.rs/regex), e.g. '^\\+1(\\d{10})$'"
                    .to_string()
            }
            Problem::BadTranslation { .. } => {
                "refer only to groups the pattern has ($1 is the first parenthesised group), write ${1}x when a letter or digit follows, and $$ for a literal $"
                    .to_string()
            }
            Problem::BadNumber { .. } => {
                "write a phone number: an optional leading +, then digits (e.g. \"tel:+14165550100\" for a Line URI)"
                    .to_string()
            }
            Problem::BadRange { .. } => {
                "give start and end the same prefix (+, *, # or none) and the same number of digits, start ≤ end"
                    .to_string()
            }
            Problem::Overlap { .. } => "make the ranges disjoint".to_string(),
            Problem::BadScope(_) => {
                "use one global object, at most one per site or pool, and \"user\" for objects granted to users"
                    .to_string()
            }
            Problem::NotUserScoped { .. } => {
                "set scope = \"user\" on that object, or remove the field from the user so the site or global one applies"
                    .to_string()
            }
            Problem::Treatment => {
                "add announcement = \"<name>\" or redirect = \"sip:…\" (not both)".to_string()
            }
            Problem::Empty => "list at least one entry".to_string(),
            Problem::BadUri(_) => "write the user's SIP URI, e.g. \"sip:alice@example.test\"".to_string(),
            Problem::BadGateway(_) => {
                "give the gateway's FQDN or IP address (no scheme, no port) and a port from 1 to 65535"
                    .to_string()
            }
        }
    }
}

/// A [`Problem`] at a byte span of the topology text, before it is turned into a
/// file:line:column by [`ValidationError::locate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    /// Byte span of the offending value in the topology text.
    pub span: Range<usize>,
    /// Dotted path of the field, e.g. `voice.route[2].trunks`.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl ValidationError {
    /// Places the error in `file`, whose text is `src`.
    pub fn locate(self, file: &str, src: &str) -> ConfigError {
        ConfigError::Invalid {
            location: Location::of_offset(file, src, self.span.start),
            field: self.field,
            fix: self.problem.fix(),
            problem: Box::new(self.problem),
        }
    }
}

/// A topology file whose `[voice]` section cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// TOML syntax, or a field of the wrong type, unknown or missing.
    #[error("{location}: {field}: {message}; fix: {fix}")]
    Toml {
        /// Where.
        location: Location,
        /// The field (or table) at that position.
        field: String,
        /// The TOML reader's message.
        message: String,
        /// How to fix it.
        fix: String,
    },
    /// The file has no `[voice]` table.
    #[error(
        "{file}: no [voice] section; fix: add a [voice] table with dial plans, policies, routes and trunks"
    )]
    MissingVoice {
        /// The file.
        file: String,
    },
    /// The section parsed but does not hold together.
    #[error("{location}: {field}: {problem}; fix: {fix}")]
    Invalid {
        /// Where.
        location: Location,
        /// The field.
        field: String,
        /// What is wrong.
        problem: Box<Problem>,
        /// How to fix it.
        fix: String,
    },
}

/// The top level of a topology file as far as this crate reads it: other tables are
/// ignored here (the topology crate owns them).
#[derive(Deserialize)]
struct TopologyDoc {
    voice: Option<VoiceConfig>,
}

impl VoiceConfig {
    /// Reads the `[voice]` section of a whole topology file. `file` is the name errors
    /// carry. Does not validate cross-references: [`crate::Engine::from_topology_str`]
    /// does both.
    pub fn from_topology_str(src: &str, file: &str) -> Result<VoiceConfig, ConfigError> {
        let doc: TopologyDoc = toml::from_str(src).map_err(|e| toml_error(&e, file, src))?;
        doc.voice.ok_or_else(|| ConfigError::MissingVoice {
            file: file.to_string(),
        })
    }
}

/// Turns the TOML reader's error into a [`ConfigError::Toml`] with a line:column, the
/// field at that position and a fix.
fn toml_error(e: &toml::de::Error, file: &str, src: &str) -> ConfigError {
    let offset = e.span().map_or(0, |s| s.start);
    let message = e.message().trim().to_string();
    let fix = if message.starts_with("unknown field") {
        "correct the spelling to one of the expected fields, or remove it"
    } else if message.starts_with("missing field") {
        "add the field to this table"
    } else if message.starts_with("invalid type") {
        "write the value with the expected type (quote strings, no quotes on numbers and booleans)"
    } else if message.starts_with("unknown variant") {
        "use one of the expected values"
    } else if message.starts_with("duplicate key") {
        "keep one definition of the key"
    } else {
        "correct the TOML at this position (https://toml.io/en/v1.0.0)"
    };
    ConfigError::Toml {
        location: Location::of_offset(file, src, offset),
        field: field_at(src, offset),
        message,
        fix: fix.to_string(),
    }
}

/// The key at `offset`: the `key =` of its line, else the nearest table header above.
fn field_at(src: &str, offset: usize) -> String {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = src.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = src
        .get(line_start..)
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("");
    let header = |l: &str| {
        let t = l.trim();
        t.starts_with('[')
            .then(|| t.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    };
    if let Some(h) = header(line) {
        return h;
    }
    let table = before
        .lines()
        .rev()
        .find_map(header)
        .unwrap_or_else(|| "(top level)".to_string());
    match line.split_once('=') {
        Some((key, _)) if !key.trim().is_empty() && !key.contains('{') => {
            format!("{table}.{}", key.trim())
        }
        _ => table,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_counts_lines_and_chars() {
        let src = "a\nbé c\n";
        assert_eq!(Location::of_offset("f", src, 0).to_string(), "f:1:1");
        let c = src.find('c').unwrap();
        assert_eq!(Location::of_offset("f", src, c).to_string(), "f:2:4");
        assert_eq!(Location::of_offset("f", src, 999).line, 3);
    }

    #[test]
    fn other_top_level_tables_are_ignored() {
        let src = "domain = \"example.test\"\n[pools.fe]\nx = 1\n[voice]\n";
        let cfg = VoiceConfig::from_topology_str(src, "t.toml").unwrap();
        assert!(cfg.routes.is_empty());
    }

    #[test]
    fn missing_voice_section() {
        let err = VoiceConfig::from_topology_str("domain = \"x\"\n", "t.toml").unwrap_err();
        assert!(matches!(err, ConfigError::MissingVoice { .. }));
    }

    #[test]
    fn unknown_field_names_position_field_and_fix() {
        let src = "[voice]\n[[voice.trunk]]\nname = \"gw\"\ngateway = \"gw.example.test\"\nport = 5067\ntransport = \"tls\"\nenabeld = false\n";
        let err = VoiceConfig::from_topology_str(src, "t.toml").unwrap_err();
        let ConfigError::Toml {
            location,
            field,
            message,
            fix,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((location.line, location.column), (7, 1), "{err}");
        assert_eq!(field, "voice.trunk.enabeld");
        assert!(message.contains("unknown field `enabeld`"), "{message}");
        assert!(fix.contains("spelling"));
        assert!(
            err.to_string()
                .starts_with("t.toml:7:1: voice.trunk.enabeld: ")
        );
    }

    #[test]
    fn wrong_type_and_bad_scope_are_located() {
        let src = "[voice]\n[[voice.trunk]]\nname = \"gw\"\ngateway = \"gw\"\nport = \"5067\"\ntransport = \"tls\"\n";
        let err = VoiceConfig::from_topology_str(src, "t.toml").unwrap_err();
        let ConfigError::Toml {
            location, field, ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((location.line, field.as_str()), (5, "voice.trunk.port"));

        let src = "[voice]\n[[voice.policy]]\nname = \"p\"\nscope = \"planet:earth\"\n";
        let err = VoiceConfig::from_topology_str(src, "t.toml").unwrap_err();
        let ConfigError::Toml {
            location,
            field,
            message,
            ..
        } = &err
        else {
            panic!("{err:?}")
        };
        assert_eq!((location.line, location.column), (4, 9), "{err}");
        assert_eq!(field, "voice.policy.scope");
        assert!(message.contains("planet:earth"));
    }

    #[test]
    fn scope_parsing() {
        assert_eq!(Scope::try_from("Global".to_string()), Ok(Scope::Global));
        assert_eq!(
            Scope::try_from("site:Toronto".to_string()),
            Ok(Scope::Site("toronto".into()))
        );
        assert!(Scope::try_from("site:".to_string()).is_err());
        assert_eq!(
            Scope::Pool("fe.example.test".into()).to_string(),
            "pool:fe.example.test"
        );
    }
}
