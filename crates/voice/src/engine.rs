//! The routing engine: a [`VoiceConfig`] validated and compiled once (regexes, regex
//! sets per dial plan, per usage and per trunk, lookup tables), then asked
//! [`Engine::decide`] for each request. Immutable after construction, so one `Arc<Engine>`
//! serves every task of a proxy.
//!
//! Order of evaluation, as Lync's outbound routing applies it (MS-SIP.md §8.2,
//! [field:seed-001]): normalization by the caller's dial plan; unassigned number ranges;
//! call park orbit ranges; local user by Line URI; then the voice policy of the routing
//! identity (the signed referrer when there is one, else the caller) → PSTN usages in
//! order → routes in priority order → trunks in order, each with its outbound
//! translation.

use std::collections::{HashMap, HashSet};

use regex::{Regex, RegexSet, RegexSetBuilder};

use crate::config::{
    DialPlanConfig, Problem, RuleConfig, Scope, Transport, ValidationError, VoiceConfig,
};
use crate::decision::{
    Decision, Fix, Outcome, ReferrerTrust, Rejection, RequestInput, Treatment, TrunkAttempt,
};
use crate::diag::{self, DiagCode};
use crate::number::{self, Dialled};
use crate::range::{NumberRange, RangeMatch, prefix_text};
use crate::trace::{CallerKind, Chosen, ReferrerIgnored, RouteRef, Step, Trace, Whose};
use crate::{ConfigError, Spanned};

/// Compiled-program size limit for one regex set (the regex crate's default is 10 MiB;
/// 2,000 route patterns need more).
const SET_SIZE_LIMIT: usize = 256 * 1024 * 1024;

/// A compiled pattern → translation rule.
#[derive(Debug)]
struct Rule {
    name: String,
    pattern: String,
    regex: Regex,
    translation: String,
}

impl Rule {
    /// Replaces the leftmost match with the translation, capture references expanded
    /// (.NET `Regex.Replace` semantics as Lync uses them; rules are normally anchored so
    /// the whole number is replaced).
    fn apply(&self, input: &str) -> String {
        self.regex
            .replace(input, self.translation.as_str())
            .into_owned()
    }
}

/// An ordered rule list with a set to find the first matching rule in one pass.
#[derive(Debug)]
struct RuleList {
    rules: Vec<Rule>,
    set: RegexSet,
}

impl RuleList {
    /// The first rule (in configured order) that matches `input`.
    fn first_match(&self, input: &str) -> Option<&Rule> {
        let first = self.set.matches(input).into_iter().next()?;
        self.rules.get(first)
    }
}

#[derive(Debug)]
struct Plan {
    name: String,
    scope: Scope,
    rules: RuleList,
}

#[derive(Debug)]
struct Policy {
    name: String,
    scope: Scope,
    usages: Vec<String>,
}

#[derive(Debug)]
struct Route {
    name: String,
    pattern: String,
    trunks: Vec<usize>,
}

/// The routes serving one usage, in priority order, with their patterns as one set.
#[derive(Debug)]
struct UsageRoutes {
    routes: Vec<usize>,
    set: RegexSet,
}

#[derive(Debug)]
struct Trunk {
    name: String,
    gateway: String,
    port: u16,
    transport: Transport,
    enabled: bool,
    translation: RuleList,
}

#[derive(Debug)]
struct User {
    aor: String,
    enterprise_voice: bool,
    policy: Option<usize>,
    plan: Option<usize>,
    site: Option<String>,
    pool: Option<String>,
}

#[derive(Debug)]
struct Vacant {
    name: String,
    range: NumberRange,
    treatment: Treatment,
}

#[derive(Debug)]
struct Orbit {
    name: String,
    range: NumberRange,
    pool: String,
}

#[derive(Debug)]
struct Emergency {
    numbers: HashSet<String>,
    usages: Vec<String>,
}

/// The compiled voice configuration that decides where calls go.
#[derive(Debug)]
pub struct Engine {
    plans: Vec<Plan>,
    global_plan: Option<usize>,
    site_plans: HashMap<String, usize>,
    pool_plans: HashMap<String, usize>,
    policies: Vec<Policy>,
    global_policy: Option<usize>,
    site_policies: HashMap<String, usize>,
    routes: Vec<Route>,
    usages: HashMap<String, UsageRoutes>,
    trunks: Vec<Trunk>,
    users: Vec<User>,
    by_aor: HashMap<String, usize>,
    by_line: HashMap<String, usize>,
    vacant: Vec<Vacant>,
    orbits: Vec<Orbit>,
    emergency: Option<Emergency>,
}

fn err(span: std::ops::Range<usize>, field: String, problem: Problem) -> ValidationError {
    ValidationError {
        span,
        field,
        problem,
    }
}

/// Checks every `$ref` of a translation names a group of `re` (the regex crate's
/// replacement syntax: `$$`, `${name}`, `$name` with the longest `[_0-9A-Za-z]+` name).
fn check_translation(translation: &str, re: &Regex) -> Result<(), String> {
    let names: HashSet<&str> = re.capture_names().flatten().collect();
    let known = |name: &str| match name.parse::<usize>() {
        Ok(i) => i < re.captures_len(),
        Err(_) => names.contains(name),
    };
    let mut rest = translation;
    while let Some(pos) = rest.find('$') {
        let after = rest.get(pos + 1..).unwrap_or("");
        if let Some(r) = after.strip_prefix('$') {
            rest = r;
            continue;
        }
        if let Some(braced) = after.strip_prefix('{') {
            if let Some(end) = braced.find('}') {
                let name = braced.get(..end).unwrap_or("");
                if !known(name) {
                    return Err(format!("${{{name}}}"));
                }
                rest = braced.get(end + 1..).unwrap_or("");
                continue;
            }
            rest = braced;
            continue;
        }
        let len = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        let name = after.get(..len).unwrap_or("");
        if !name.is_empty() && !known(name) {
            return Err(format!("${name}"));
        }
        rest = after.get(len..).unwrap_or("");
    }
    Ok(())
}

fn compile_rules(rules: &[RuleConfig], path: &str) -> Result<RuleList, ValidationError> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let regex = Regex::new(r.pattern.get_ref()).map_err(|e| {
            err(
                r.pattern.span(),
                format!("{path}[{i}].pattern"),
                Problem::BadRegex(e.to_string()),
            )
        })?;
        check_translation(r.translation.get_ref(), &regex).map_err(|reference| {
            err(
                r.translation.span(),
                format!("{path}[{i}].translation"),
                Problem::BadTranslation { reference },
            )
        })?;
        out.push(Rule {
            name: r.name.clone(),
            pattern: r.pattern.get_ref().clone(),
            regex,
            translation: r.translation.get_ref().clone(),
        });
    }
    let set = RegexSetBuilder::new(out.iter().map(|r| r.pattern.as_str()))
        .size_limit(SET_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let span = rules.first().map_or(0..0, |r| r.pattern.span());
            err(span, path.to_string(), Problem::BadRegex(e.to_string()))
        })?;
    Ok(RuleList { rules: out, set })
}

/// Registers `name` in `seen`, or reports it as a duplicate.
fn unique(
    seen: &mut HashMap<String, usize>,
    name: &Spanned<String>,
    idx: usize,
    kind: &'static str,
    field: String,
) -> Result<(), ValidationError> {
    if seen.insert(name.get_ref().clone(), idx).is_some() {
        return Err(err(
            name.span(),
            field,
            Problem::Duplicate {
                kind,
                name: name.get_ref().clone(),
            },
        ));
    }
    Ok(())
}

fn known_list(map: &HashMap<String, usize>) -> String {
    let mut names: Vec<&str> = map.keys().map(String::as_str).collect();
    names.sort_unstable();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

fn lookup(
    map: &HashMap<String, usize>,
    name: &Spanned<String>,
    kind: &'static str,
    field: String,
) -> Result<usize, ValidationError> {
    map.get(name.get_ref()).copied().ok_or_else(|| {
        err(
            name.span(),
            field,
            Problem::UnknownReference {
                kind,
                name: name.get_ref().clone(),
                known: known_list(map),
            },
        )
    })
}

/// Files an object under its scope, refusing a second object for one scope.
fn place_scope(
    scope: &Spanned<Scope>,
    idx: usize,
    global: &mut Option<usize>,
    sites: &mut HashMap<String, usize>,
    pools: Option<&mut HashMap<String, usize>>,
    kind: &'static str,
    field: String,
) -> Result<(), ValidationError> {
    let twice = || {
        err(
            scope.span(),
            field.clone(),
            Problem::BadScope(format!("a second {kind} with scope `{}`", scope.get_ref())),
        )
    };
    match scope.get_ref() {
        Scope::Global => {
            if global.replace(idx).is_some() {
                return Err(twice());
            }
        }
        Scope::Site(s) => {
            if sites.insert(s.clone(), idx).is_some() {
                return Err(twice());
            }
        }
        Scope::Pool(p) => match pools {
            Some(pools) => {
                if pools.insert(p.clone(), idx).is_some() {
                    return Err(twice());
                }
            }
            None => {
                return Err(err(
                    scope.span(),
                    field.clone(),
                    Problem::BadScope(format!(
                        "a {kind} cannot have scope `{}` (global, site:<name> or user)",
                        scope.get_ref()
                    )),
                ));
            }
        },
        Scope::User => {}
    }
    Ok(())
}

/// Parses a number as the config writes it (`tel:+1…`, `+1…`), for Line URIs and
/// emergency dial strings.
fn config_number(value: &Spanned<String>, field: String) -> Result<Dialled, ValidationError> {
    number::parse_dialled(value.get_ref()).map_err(|e| {
        err(
            value.span(),
            field,
            Problem::BadNumber {
                value: value.get_ref().clone(),
                why: e.to_string(),
            },
        )
    })
}

fn range_of(
    start: &Spanned<String>,
    end: &Spanned<String>,
    field: String,
) -> Result<NumberRange, ValidationError> {
    NumberRange::new(start.get_ref(), end.get_ref()).map_err(|why| {
        err(
            start.span(),
            field,
            Problem::BadRange {
                start: start.get_ref().clone(),
                end: end.get_ref().clone(),
                why,
            },
        )
    })
}

fn compile_plan(i: usize, p: &DialPlanConfig) -> Result<Plan, ValidationError> {
    Ok(Plan {
        name: p.name.get_ref().clone(),
        scope: p.scope.get_ref().clone(),
        rules: compile_rules(&p.rules, &format!("voice.dial_plan[{i}].rule"))?,
    })
}

impl Engine {
    /// Reads the `[voice]` section of a topology file's text and compiles it; errors
    /// name `file`:line:column, the field and the fix.
    pub fn from_topology_str(src: &str, file: &str) -> Result<Engine, ConfigError> {
        let cfg = VoiceConfig::from_topology_str(src, file)?;
        Engine::new(&cfg).map_err(|e| e.locate(file, src))
    }

    /// Validates the configuration's cross-references and compiles it.
    pub fn new(cfg: &VoiceConfig) -> Result<Engine, ValidationError> {
        // Dial plans.
        let mut plan_names = HashMap::new();
        let mut user_plans = HashMap::new();
        let (mut global_plan, mut site_plans, mut pool_plans) =
            (None, HashMap::new(), HashMap::new());
        let mut plans = Vec::with_capacity(cfg.dial_plans.len());
        for (i, p) in cfg.dial_plans.iter().enumerate() {
            let f = |k: &str| format!("voice.dial_plan[{i}].{k}");
            unique(&mut plan_names, &p.name, i, "dial plan", f("name"))?;
            place_scope(
                &p.scope,
                i,
                &mut global_plan,
                &mut site_plans,
                Some(&mut pool_plans),
                "dial plan",
                f("scope"),
            )?;
            if *p.scope.get_ref() == Scope::User {
                user_plans.insert(p.name.get_ref().clone(), i);
            }
            plans.push(compile_plan(i, p)?);
        }

        // Trunks.
        let mut trunk_names = HashMap::new();
        let mut trunks = Vec::with_capacity(cfg.trunks.len());
        for (i, t) in cfg.trunks.iter().enumerate() {
            let f = |k: &str| format!("voice.trunk[{i}].{k}");
            unique(&mut trunk_names, &t.name, i, "trunk", f("name"))?;
            let gw = t.gateway.get_ref();
            if gw.is_empty() || gw.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
                return Err(err(
                    t.gateway.span(),
                    f("gateway"),
                    Problem::BadGateway(format!("gateway `{gw}` is not an FQDN or IP address")),
                ));
            }
            if t.port == 0 {
                return Err(err(
                    t.gateway.span(),
                    f("port"),
                    Problem::BadGateway("port 0 is not a port".to_string()),
                ));
            }
            trunks.push(Trunk {
                name: t.name.get_ref().clone(),
                gateway: gw.clone(),
                port: t.port,
                transport: t.transport,
                enabled: t.enabled,
                translation: compile_rules(&t.translation, &f("translation"))?,
            });
        }

        // Routes, and the routes of each usage in priority (file) order.
        let mut route_names = HashMap::new();
        let mut routes = Vec::with_capacity(cfg.routes.len());
        let mut usage_routes: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in cfg.routes.iter().enumerate() {
            let f = |k: &str| format!("voice.route[{i}].{k}");
            unique(&mut route_names, &r.name, i, "route", f("name"))?;
            Regex::new(r.pattern.get_ref()).map_err(|e| {
                err(
                    r.pattern.span(),
                    f("pattern"),
                    Problem::BadRegex(e.to_string()),
                )
            })?;
            if r.usages.is_empty() {
                return Err(err(r.name.span(), f("usages"), Problem::Empty));
            }
            if r.trunks.is_empty() {
                return Err(err(r.name.span(), f("trunks"), Problem::Empty));
            }
            let mut ts = Vec::with_capacity(r.trunks.len());
            for t in &r.trunks {
                ts.push(lookup(&trunk_names, t, "trunk", f("trunks"))?);
            }
            for u in &r.usages {
                let list = usage_routes.entry(u.get_ref().clone()).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
            routes.push(Route {
                name: r.name.get_ref().clone(),
                pattern: r.pattern.get_ref().clone(),
                trunks: ts,
            });
        }
        let mut usages = HashMap::with_capacity(usage_routes.len());
        for (usage, idxs) in usage_routes {
            let patterns = idxs
                .iter()
                .filter_map(|&i| routes.get(i).map(|r: &Route| r.pattern.as_str()));
            let set = RegexSetBuilder::new(patterns)
                .size_limit(SET_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    let span = idxs
                        .first()
                        .and_then(|&i| cfg.routes.get(i))
                        .map_or(0..0, |r| r.pattern.span());
                    err(
                        span,
                        format!("routes of usage `{usage}`"),
                        Problem::BadRegex(e.to_string()),
                    )
                })?;
            usages.insert(usage, UsageRoutes { routes: idxs, set });
        }

        // Voice policies. A policy naming a usage no route serves is allowed (it routes
        // nothing under that usage, and the trace says so).
        let mut policy_names = HashMap::new();
        let mut user_policies = HashMap::new();
        let (mut global_policy, mut site_policies) = (None, HashMap::new());
        let mut policies = Vec::with_capacity(cfg.policies.len());
        for (i, p) in cfg.policies.iter().enumerate() {
            let f = |k: &str| format!("voice.policy[{i}].{k}");
            unique(&mut policy_names, &p.name, i, "voice policy", f("name"))?;
            place_scope(
                &p.scope,
                i,
                &mut global_policy,
                &mut site_policies,
                None,
                "voice policy",
                f("scope"),
            )?;
            if *p.scope.get_ref() == Scope::User {
                user_policies.insert(p.name.get_ref().clone(), i);
            }
            policies.push(Policy {
                name: p.name.get_ref().clone(),
                scope: p.scope.get_ref().clone(),
                usages: p.usages.iter().map(|u| u.get_ref().clone()).collect(),
            });
        }

        // Users.
        let mut by_aor = HashMap::new();
        let mut by_line = HashMap::new();
        let mut users = Vec::with_capacity(cfg.users.len());
        for (i, u) in cfg.users.iter().enumerate() {
            let f = |k: &str| format!("voice.user[{i}].{k}");
            let aor = number::aor(u.uri.get_ref()).ok_or_else(|| {
                err(
                    u.uri.span(),
                    f("uri"),
                    Problem::BadUri(u.uri.get_ref().clone()),
                )
            })?;
            if by_aor.insert(aor.clone(), i).is_some() {
                return Err(err(
                    u.uri.span(),
                    f("uri"),
                    Problem::Duplicate {
                        kind: "user",
                        name: aor,
                    },
                ));
            }
            if let Some(l) = &u.line_uri {
                {
                    let d = config_number(l, f("line_uri"))?;
                    if !d.is_e164() {
                        return Err(err(
                            l.span(),
                            f("line_uri"),
                            Problem::BadNumber {
                                value: l.get_ref().clone(),
                                why: "a Line URI is an E.164 number: + and up to 15 digits"
                                    .to_string(),
                            },
                        ));
                    }
                    let canonical = d.canonical();
                    if by_line.insert(canonical.clone(), i).is_some() {
                        return Err(err(
                            l.span(),
                            f("line_uri"),
                            Problem::Duplicate {
                                kind: "Line URI",
                                name: canonical,
                            },
                        ));
                    }
                }
            }
            let policy = match &u.voice_policy {
                Some(p) => Some(user_grant(
                    p,
                    &policy_names,
                    &user_policies,
                    |j| policies.get(j).map(|x| x.scope.to_string()),
                    "voice policy",
                    f("voice_policy"),
                )?),
                None => None,
            };
            let plan = match &u.dial_plan {
                Some(p) => Some(user_grant(
                    p,
                    &plan_names,
                    &user_plans,
                    |j| plans.get(j).map(|x| x.scope.to_string()),
                    "dial plan",
                    f("dial_plan"),
                )?),
                None => None,
            };
            users.push(User {
                aor,
                enterprise_voice: u.enterprise_voice,
                policy,
                plan,
                site: u.site.as_ref().map(|s| s.to_ascii_lowercase()),
                pool: u.pool.as_ref().map(|p| p.to_ascii_lowercase()),
            });
        }

        // Unassigned ranges and call park orbits: all ranges pairwise disjoint.
        let mut vacant = Vec::with_capacity(cfg.unassigned.len());
        let mut names = HashMap::new();
        let mut placed: Vec<(&'static str, String, NumberRange)> = Vec::new();
        let mut check_overlap = |kind: &'static str,
                                 name: &str,
                                 range: &NumberRange,
                                 span: std::ops::Range<usize>,
                                 field: String|
         -> Result<(), ValidationError> {
            if let Some((other_kind, other, _)) = placed.iter().find(|(_, _, r)| r.overlaps(range))
            {
                return Err(err(
                    span,
                    field,
                    Problem::Overlap {
                        other_kind,
                        other: other.clone(),
                    },
                ));
            }
            placed.push((kind, name.to_string(), range.clone()));
            Ok(())
        };
        for (i, v) in cfg.unassigned.iter().enumerate() {
            let f = |k: &str| format!("voice.unassigned[{i}].{k}");
            unique(&mut names, &v.name, i, "unassigned range", f("name"))?;
            let range = range_of(&v.start, &v.end, f("start"))?;
            let treatment = match (&v.announcement, &v.redirect) {
                (Some(a), None) => Treatment::Announcement(a.clone()),
                (None, Some(r)) => Treatment::Redirect(r.clone()),
                _ => return Err(err(v.name.span(), f("announcement"), Problem::Treatment)),
            };
            check_overlap(
                "unassigned range",
                v.name.get_ref(),
                &range,
                v.start.span(),
                f("start"),
            )?;
            vacant.push(Vacant {
                name: v.name.get_ref().clone(),
                range,
                treatment,
            });
        }
        let mut orbits = Vec::with_capacity(cfg.call_park.len());
        let mut names = HashMap::new();
        for (i, o) in cfg.call_park.iter().enumerate() {
            let f = |k: &str| format!("voice.call_park[{i}].{k}");
            unique(&mut names, &o.name, i, "call park orbit range", f("name"))?;
            let range = range_of(&o.start, &o.end, f("start"))?;
            check_overlap(
                "call park orbit range",
                o.name.get_ref(),
                &range,
                o.start.span(),
                f("start"),
            )?;
            orbits.push(Orbit {
                name: o.name.get_ref().clone(),
                range,
                pool: o.pool.clone(),
            });
        }

        let emergency = match &cfg.emergency {
            Some(e) => {
                if e.numbers.is_empty() || e.usages.is_empty() {
                    return Err(err(0..0, "voice.emergency".to_string(), Problem::Empty));
                }
                let mut numbers = HashSet::new();
                for (i, n) in e.numbers.iter().enumerate() {
                    let d = config_number(n, format!("voice.emergency.numbers[{i}]"))?;
                    numbers.insert(d.number);
                }
                Some(Emergency {
                    numbers,
                    usages: e.usages.iter().map(|u| u.get_ref().clone()).collect(),
                })
            }
            None => None,
        };

        Ok(Engine {
            plans,
            global_plan,
            site_plans,
            pool_plans,
            policies,
            global_policy,
            site_policies,
            routes,
            usages,
            trunks,
            users,
            by_aor,
            by_line,
            vacant,
            orbits,
            emergency,
        })
    }

    /// Decides where the request goes, with the trace that explains it. Never panics,
    /// whatever the input text.
    pub fn decide(&self, req: &RequestInput<'_>) -> Decision {
        let mut steps = Vec::with_capacity(20);
        let outcome = self.run(req, &mut steps);
        Decision {
            outcome,
            trace: Trace { steps },
        }
    }

    fn user(&self, aor: Option<&String>) -> Option<&User> {
        aor.and_then(|a| self.by_aor.get(a))
            .and_then(|&i| self.users.get(i))
    }

    fn run(&self, req: &RequestInput<'_>, t: &mut Vec<Step>) -> Outcome {
        let caller_aor = number::aor(req.from);
        let caller = self.user(caller_aor.as_ref());
        t.push(Step::Transaction {
            from: req.from.to_string(),
            caller: match (caller, &caller_aor) {
                (Some(u), _) => CallerKind::User {
                    enterprise_voice: u.enterprise_voice,
                },
                (None, Some(_)) => CallerKind::NotAUser,
                (None, None) => CallerKind::Unparsable,
            },
            referrer: req.referrer.map(|r| r.uri.to_string()),
            referrer_signed: req
                .referrer
                .is_some_and(|r| r.trust == ReferrerTrust::Signed),
            conference_dial_out: req.conference_dial_out,
            emergency: req.emergency,
        });

        let dialled = match number::parse_dialled(req.request_uri) {
            Ok(d) => d,
            Err(error) => {
                t.push(Step::InvalidNumber {
                    input: req.request_uri.to_string(),
                    error,
                });
                return reject(
                    t,
                    diag::INVALID_PHONE_NUMBER,
                    Fix::DialValidNumber { rule: None },
                );
            }
        };
        t.push(Step::RequestUri {
            request_uri: req.request_uri.to_string(),
            dialled: dialled.canonical(),
        });

        // Emergency dial strings are matched as dialled, before normalization (Lync's
        // location policy EmergencyDialString).
        let by_string = self
            .emergency
            .as_ref()
            .is_some_and(|e| e.numbers.contains(&dialled.number));
        let emergency = req.emergency || by_string;
        let number = if emergency {
            t.push(Step::EmergencyCall {
                number: dialled.canonical(),
                by_flag: !by_string,
            });
            dialled
        } else {
            match self.normalize(caller, dialled, t) {
                Ok(n) => n,
                Err(o) => return o,
            }
        };
        let canonical = number.canonical();

        if emergency {
            t.push(Step::EmergencySkipsChecks);
        } else {
            if let Some(o) = self.check_vacant(&number.number, &canonical, t) {
                return o;
            }
            if let Some(o) = self.check_park(&number.number, &canonical, t) {
                return o;
            }
            if let Some(u) = self
                .by_line
                .get(&canonical)
                .and_then(|&i| self.users.get(i))
            {
                let line_uri = format!("tel:{canonical}");
                t.push(Step::LocalUser {
                    uri: u.aor.clone(),
                    line_uri: line_uri.clone(),
                });
                return Outcome::LocalUser {
                    uri: u.aor.clone(),
                    line_uri,
                };
            }
            t.push(Step::NoLocalUser {
                number: canonical.clone(),
            });
        }

        let Some((user, whose)) = self.routing_identity(req, caller, t) else {
            t.push(Step::CallerNotUcEnabled);
            return reject(
                t,
                diag::USER_DOES_NOT_EXIST,
                Fix::EnableCallerOrSignedReferrer {
                    caller_user: caller.map(|u| u.aor.clone()),
                },
            );
        };

        let emergency_usages = self.emergency.as_ref().filter(|_| emergency);
        let (usages, whose) = match emergency_usages {
            Some(e) => {
                t.push(Step::EmergencyUsages {
                    usages: e.usages.clone(),
                });
                (e.usages.as_slice(), Whose::Emergency)
            }
            None => {
                let Some((policy, chosen)) = self.policy_for(user) else {
                    t.push(Step::NoPolicy {
                        user: user.aor.clone(),
                    });
                    return reject(
                        t,
                        diag::NO_PHONE_ROUTE_USAGE,
                        Fix::GrantPolicy {
                            user: user.aor.clone(),
                        },
                    );
                };
                t.push(Step::Policy {
                    policy: policy.name.clone(),
                    scope: policy.scope.clone(),
                    chosen,
                    usages: policy.usages.clone(),
                });
                if policy.usages.is_empty() {
                    return reject(
                        t,
                        diag::NO_PHONE_ROUTE_USAGE,
                        Fix::AddUsage {
                            policy: policy.name.clone(),
                        },
                    );
                }
                (policy.usages.as_slice(), whose)
            }
        };

        // Routes are matched on the number without its extension.
        let main = number.number.as_str();
        let mut attempts: Vec<TrunkAttempt> = Vec::new();
        let mut disabled: Vec<String> = Vec::new();
        let mut matched_any = false;
        for usage in usages {
            let Some(ur) = self.usages.get(usage) else {
                t.push(Step::UsageWithoutRoutes {
                    usage: usage.clone(),
                });
                continue;
            };
            let matches = ur.set.matches(main);
            if !matches.matched_any() {
                t.push(Step::NoRouteMatches {
                    usage: usage.clone(),
                    number: main.to_string(),
                    routes: ur.routes.len(),
                });
                continue;
            }
            matched_any = true;
            for route in matches
                .iter()
                .filter_map(|k| ur.routes.get(k))
                .filter_map(|&r| self.routes.get(r))
            {
                let via = RouteRef {
                    whose,
                    usage: usage.clone(),
                    route: route.name.clone(),
                    pattern: route.pattern.clone(),
                };
                for trunk in route.trunks.iter().filter_map(|&k| self.trunks.get(k)) {
                    if attempts.iter().any(|a| a.trunk == trunk.name) {
                        t.push(Step::TrunkRepeated {
                            via: via.clone(),
                            trunk: trunk.name.clone(),
                        });
                    } else if !trunk.enabled {
                        if !disabled.contains(&trunk.name) {
                            disabled.push(trunk.name.clone());
                        }
                        t.push(Step::TrunkDisabled {
                            via: via.clone(),
                            trunk: trunk.name.clone(),
                        });
                    } else {
                        let (sent, rule) = match trunk.translation.first_match(main) {
                            Some(r) => (r.apply(main), Some(r.name.clone())),
                            None => (main.to_string(), None),
                        };
                        t.push(Step::Trunk {
                            via: via.clone(),
                            trunk: trunk.name.clone(),
                            gateway: trunk.gateway.clone(),
                            port: trunk.port,
                            transport: trunk.transport,
                            number: sent.clone(),
                            rule,
                        });
                        attempts.push(TrunkAttempt {
                            trunk: trunk.name.clone(),
                            gateway: trunk.gateway.clone(),
                            port: trunk.port,
                            transport: trunk.transport,
                            number: sent,
                            route: route.name.clone(),
                            usage: usage.clone(),
                        });
                    }
                }
            }
        }

        if attempts.is_empty() {
            if matched_any {
                return reject(
                    t,
                    diag::NO_AVAILABLE_GATEWAY,
                    Fix::EnableTrunk { trunks: disabled },
                );
            }
            return reject(
                t,
                diag::NO_ROUTE_FOUND,
                Fix::AddRoute {
                    number: main.to_string(),
                    usages: usages.to_vec(),
                },
            );
        }
        t.push(Step::Routed {
            attempts: attempts.len(),
        });
        Outcome::Routed {
            number: main.to_string(),
            on_behalf_of: user.aor.clone(),
            attempts,
        }
    }

    /// The caller's dial plan, most specific first: granted to the user, the user's
    /// pool, the user's site, global ([MS-Docs:New-CsDialPlan] scopes).
    fn plan_for(&self, caller: Option<&User>) -> Option<(&Plan, Chosen)> {
        let u = caller;
        let pick = |i: Option<usize>, c: Chosen| i.and_then(|i| self.plans.get(i)).map(|p| (p, c));
        u.and_then(|u| pick(u.plan, Chosen::UserGrant))
            .or_else(|| {
                u.and_then(|u| u.pool.as_ref())
                    .and_then(|p| pick(self.pool_plans.get(p).copied(), Chosen::Pool))
            })
            .or_else(|| {
                u.and_then(|u| u.site.as_ref())
                    .and_then(|s| pick(self.site_plans.get(s).copied(), Chosen::Site))
            })
            .or_else(|| pick(self.global_plan, Chosen::Global))
    }

    /// The voice policy of a user: granted, the site's, global.
    fn policy_for(&self, user: &User) -> Option<(&Policy, Chosen)> {
        let pick =
            |i: Option<usize>, c: Chosen| i.and_then(|i| self.policies.get(i)).map(|p| (p, c));
        pick(user.policy, Chosen::UserGrant)
            .or_else(|| {
                user.site
                    .as_ref()
                    .and_then(|s| pick(self.site_policies.get(s).copied(), Chosen::Site))
            })
            .or_else(|| pick(self.global_policy, Chosen::Global))
    }

    /// Normalization: the first matching rule of the caller's most specific dial plan.
    fn normalize(
        &self,
        caller: Option<&User>,
        dialled: Dialled,
        t: &mut Vec<Step>,
    ) -> Result<Dialled, Outcome> {
        let Some((plan, chosen)) = self.plan_for(caller) else {
            t.push(Step::NoDialPlan);
            return Ok(dialled);
        };
        t.push(Step::DialPlan {
            plan: plan.name.clone(),
            scope: plan.scope.clone(),
            chosen,
        });
        let input = dialled.canonical();
        let Some(rule) = plan.rules.first_match(&input) else {
            t.push(Step::NotNormalized {
                plan: plan.name.clone(),
                rules: plan.rules.rules.len(),
                number: input,
            });
            return Ok(dialled);
        };
        let output = rule.apply(&input);
        match number::parse_dialled(&output) {
            Ok(n) => {
                t.push(Step::Normalized {
                    plan: plan.name.clone(),
                    rule: rule.name.clone(),
                    pattern: rule.pattern.clone(),
                    from: input,
                    to: n.canonical(),
                });
                Ok(n)
            }
            Err(error) => {
                t.push(Step::NormalizedInvalid {
                    rule: rule.name.clone(),
                    output,
                    error,
                });
                Err(reject(
                    t,
                    diag::INVALID_PHONE_NUMBER,
                    Fix::DialValidNumber {
                        rule: Some(rule.name.clone()),
                    },
                ))
            }
        }
    }

    /// Unassigned (vacant) number ranges. A number some user holds is never vacant.
    fn check_vacant(&self, main: &str, canonical: &str, t: &mut Vec<Step>) -> Option<Outcome> {
        t.push(Step::VacantCheck {
            number: canonical.to_string(),
        });
        for v in &self.vacant {
            if v.range.check(main) != RangeMatch::Inside {
                continue;
            }
            if let Some(u) = self.by_line.get(canonical).and_then(|&i| self.users.get(i)) {
                t.push(Step::VacantButAssigned {
                    range: v.name.clone(),
                    user: u.aor.clone(),
                });
                continue;
            }
            t.push(Step::VacantHit {
                range: v.name.clone(),
                bounds: v.range.to_string(),
            });
            return Some(Outcome::Unassigned {
                range: v.name.clone(),
                treatment: v.treatment.clone(),
            });
        }
        t.push(Step::NoVacantRange {
            number: canonical.to_string(),
        });
        None
    }

    /// Call park orbit ranges ([MS-Docs:New-CsCallParkOrbit]).
    fn check_park(&self, main: &str, canonical: &str, t: &mut Vec<Step>) -> Option<Outcome> {
        t.push(Step::CallParkCheck {
            number: canonical.to_string(),
        });
        for o in &self.orbits {
            match o.range.check(main) {
                RangeMatch::Inside => {
                    t.push(Step::CallParkHit {
                        orbit: o.name.clone(),
                        pool: o.pool.clone(),
                    });
                    return Some(Outcome::CallPark {
                        orbit: o.name.clone(),
                        pool: o.pool.clone(),
                        number: main.to_string(),
                    });
                }
                RangeMatch::PrefixMismatch => {
                    let input_prefix = main.chars().next().filter(|c| matches!(c, '+' | '*' | '#'));
                    t.push(Step::CallParkPrefixMismatch {
                        orbit: o.name.clone(),
                        input_prefix: prefix_text(input_prefix),
                        range_prefix: prefix_text(o.range.prefix),
                    });
                }
                RangeMatch::LengthMismatch | RangeMatch::Outside => {}
            }
        }
        t.push(Step::NoCallParkRange {
            number: canonical.to_string(),
        });
        None
    }

    /// Whose policy routes the call: a signed referrer who is an Enterprise Voice user
    /// (MS-SIP.md §8.3, [field:seed-001]), else the caller when it is one; `None` when
    /// neither is.
    fn routing_identity<'e>(
        &'e self,
        req: &RequestInput<'_>,
        caller: Option<&'e User>,
        t: &mut Vec<Step>,
    ) -> Option<(&'e User, Whose)> {
        if let Some(r) = req.referrer {
            let referrer = self.user(number::aor(r.uri).as_ref());
            let ignored = match (r.trust, referrer) {
                (ReferrerTrust::Unverified, _) => Some(ReferrerIgnored::Unsigned),
                (ReferrerTrust::Signed, None) => Some(ReferrerIgnored::NotAUser),
                (ReferrerTrust::Signed, Some(u)) if !u.enterprise_voice => {
                    Some(ReferrerIgnored::NotEnterpriseVoice)
                }
                (ReferrerTrust::Signed, Some(_)) => None,
            };
            match (ignored, referrer) {
                (None, Some(u)) => {
                    t.push(Step::RoutingOnReferrer { uri: u.aor.clone() });
                    return Some((u, Whose::Referrer));
                }
                (reason, _) => t.push(Step::ReferrerIgnored {
                    uri: r.uri.to_string(),
                    reason: reason.unwrap_or(ReferrerIgnored::NotAUser),
                }),
            }
        }
        t.push(Step::RoutingOnCaller {
            uri: req.from.to_string(),
        });
        caller
            .filter(|u| u.enterprise_voice)
            .map(|u| (u, Whose::Caller))
    }
}

/// Adds the final rejection step and returns the outcome.
fn reject(t: &mut Vec<Step>, diag: DiagCode, fix: Fix) -> Outcome {
    t.push(Step::Rejected {
        diag,
        fix: fix.clone(),
    });
    Outcome::Rejected(Rejection { diag, fix })
}

/// A user-level grant: the name must exist and be `user`-scoped.
fn user_grant(
    name: &Spanned<String>,
    all: &HashMap<String, usize>,
    user_scoped: &HashMap<String, usize>,
    scope_of: impl Fn(usize) -> Option<String>,
    kind: &'static str,
    field: String,
) -> Result<usize, ValidationError> {
    let idx = lookup(all, name, kind, field.clone())?;
    if !user_scoped.contains_key(name.get_ref()) {
        return Err(err(
            name.span(),
            field,
            Problem::NotUserScoped {
                kind,
                name: name.get_ref().clone(),
                scope: scope_of(idx).unwrap_or_default(),
            },
        ));
    }
    Ok(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_references() {
        let re = Regex::new(r"^(?<area>\d{3})(\d{7})$").unwrap();
        assert!(check_translation("+1$1$2", &re).is_ok());
        assert!(check_translation("+1${area}${2}", &re).is_ok());
        assert!(check_translation("$$1 literal", &re).is_ok());
        assert!(check_translation("$", &re).is_ok());
        assert_eq!(check_translation("+1$3", &re), Err("$3".to_string()));
        // `$1a` is the group named `1a` in regex replacement syntax: an error, not `$1` + a.
        assert_eq!(check_translation("$1a", &re), Err("$1a".to_string()));
        assert_eq!(
            check_translation("${nope}", &re),
            Err("${nope}".to_string())
        );
    }
}
