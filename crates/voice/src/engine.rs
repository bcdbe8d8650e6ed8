//! The routing engine: a [`VoiceConfig`] validated and compiled once (pattern indexes
//! per dial plan, for all routes and per trunk, see [`crate::pattern`]; lookup tables),
//! then asked
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

use regex::bytes::Regex;

use crate::config::{
    DialPlanConfig, Problem, RuleConfig, Scope, Transport, ValidationError, VoiceConfig,
};
use crate::decision::{
    Decision, Fix, Outcome, ReferrerTrust, Rejection, RequestInput, Treatment, TrunkAttempt,
};
use crate::diag::{self, DiagCode};
use crate::number::{self, Dialled};
use crate::pattern::PatternIndex;
use crate::range::{NumberRange, RangeMatch, prefix_text};
use crate::trace::{CallerKind, Chosen, ReferrerIgnored, RouteRef, Step, Trace, Whose};
use crate::{ConfigError, Name, Names, Spanned};

/// A pattern → translation rule (its regex lives in the list's [`PatternIndex`]).
#[derive(Debug)]
struct Rule {
    name: Name,
    pattern: Name,
    translation: String,
}

/// An ordered rule list; the first matching rule applies.
#[derive(Debug)]
struct RuleList {
    rules: Vec<Rule>,
    index: PatternIndex,
}

impl RuleList {
    /// The first rule (in configured order) that matches `input`, and its output: the
    /// leftmost match replaced by the translation, capture references expanded (.NET
    /// `Regex.Replace` semantics as Lync uses them; rules are normally anchored so the
    /// whole number is replaced).
    fn apply_first(&self, input: &str) -> Option<(&Rule, String)> {
        let hay = input.as_bytes();
        let i = self.index.first(hay)?;
        let rule = self.rules.get(i)?;
        let caps = self.index.regex(i)?.captures(hay)?;
        let m = caps.get(0)?;
        let mut out = Vec::with_capacity(input.len() + rule.translation.len());
        out.extend_from_slice(hay.get(..m.start()).unwrap_or_default());
        caps.expand(rule.translation.as_bytes(), &mut out);
        out.extend_from_slice(hay.get(m.end()..).unwrap_or_default());
        let out = String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        Some((rule, out))
    }
}

#[derive(Debug)]
struct Plan {
    name: Name,
    scope: Name,
    rules: RuleList,
}

#[derive(Debug)]
struct Policy {
    name: Name,
    scope: Name,
    usages: Names,
}

#[derive(Debug)]
struct Route {
    name: Name,
    pattern: Name,
    trunks: Vec<usize>,
    /// Usage ids (indexes into `Engine::usage_routes`).
    usages: Vec<usize>,
}

#[derive(Debug)]
struct Trunk {
    name: Name,
    gateway: Name,
    port: u16,
    transport: Transport,
    enabled: bool,
    translation: RuleList,
}

#[derive(Debug)]
struct User {
    aor: Name,
    enterprise_voice: bool,
    policy: Option<usize>,
    plan: Option<usize>,
    site: Option<String>,
    pool: Option<String>,
}

#[derive(Debug)]
struct Vacant {
    name: Name,
    bounds: Name,
    range: NumberRange,
    treatment: Treatment,
}

#[derive(Debug)]
struct Orbit {
    name: Name,
    range: NumberRange,
    pool: Name,
}

#[derive(Debug)]
struct Emergency {
    numbers: HashSet<String>,
    usages: Names,
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
    /// All route patterns, in priority order.
    route_index: PatternIndex,
    /// Usage name → usage id.
    usage_ids: HashMap<String, usize>,
    /// Per usage id, how many routes serve it.
    usage_routes: Vec<usize>,
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
    let bad_regex = |i: usize, e: regex::Error| {
        let span = rules.get(i).map_or(0..0, |r| r.pattern.span());
        err(
            span,
            format!("{path}[{i}].pattern"),
            Problem::BadRegex(e.to_string()),
        )
    };
    let index = PatternIndex::new(rules.iter().map(|r| r.pattern.get_ref().as_str()))
        .map_err(|(i, e)| bad_regex(i, e))?;
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        if let Some(regex) = index.regex(i) {
            check_translation(r.translation.get_ref(), regex).map_err(|reference| {
                err(
                    r.translation.span(),
                    format!("{path}[{i}].translation"),
                    Problem::BadTranslation { reference },
                )
            })?;
        }
        out.push(Rule {
            name: Name::from(r.name.as_str()),
            pattern: Name::from(r.pattern.get_ref().as_str()),
            translation: r.translation.get_ref().clone(),
        });
    }
    Ok(RuleList { rules: out, index })
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
        name: Name::from(p.name.get_ref().as_str()),
        scope: Name::from(p.scope.get_ref().to_string()),
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
                name: Name::from(t.name.get_ref().as_str()),
                gateway: Name::from(gw.as_str()),
                port: t.port,
                transport: t.transport,
                enabled: t.enabled,
                translation: compile_rules(&t.translation, &f("translation"))?,
            });
        }

        // Routes in priority (file) order, and the usages they serve.
        let route_index = PatternIndex::new(
            cfg.routes.iter().map(|r| r.pattern.get_ref().as_str()),
        )
        .map_err(|(i, e)| {
            let span = cfg.routes.get(i).map_or(0..0, |r| r.pattern.span());
            err(
                span,
                format!("voice.route[{i}].pattern"),
                Problem::BadRegex(e.to_string()),
            )
        })?;
        let mut route_names = HashMap::new();
        let mut routes = Vec::with_capacity(cfg.routes.len());
        let mut usage_ids: HashMap<String, usize> = HashMap::new();
        let mut usage_routes: Vec<usize> = Vec::new();
        for (i, r) in cfg.routes.iter().enumerate() {
            let f = |k: &str| format!("voice.route[{i}].{k}");
            unique(&mut route_names, &r.name, i, "route", f("name"))?;
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
            let mut us = Vec::with_capacity(r.usages.len());
            for u in &r.usages {
                let next = usage_ids.len();
                let id = *usage_ids.entry(u.get_ref().clone()).or_insert(next);
                if id == usage_routes.len() {
                    usage_routes.push(0);
                }
                if !us.contains(&id) {
                    us.push(id);
                    if let Some(n) = usage_routes.get_mut(id) {
                        *n += 1;
                    }
                }
            }
            routes.push(Route {
                name: Name::from(r.name.get_ref().as_str()),
                pattern: Name::from(r.pattern.get_ref().as_str()),
                trunks: ts,
                usages: us,
            });
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
                name: Name::from(p.name.get_ref().as_str()),
                scope: Name::from(p.scope.get_ref().to_string()),
                usages: p
                    .usages
                    .iter()
                    .map(|u| Name::from(u.get_ref().as_str()))
                    .collect(),
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
                aor: Name::from(aor),
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
                (Some(a), None) => Treatment::Announcement(Name::from(a.as_str())),
                (None, Some(r)) => Treatment::Redirect(Name::from(r.as_str())),
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
                name: Name::from(v.name.get_ref().as_str()),
                bounds: Name::from(range.to_string()),
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
                name: Name::from(o.name.get_ref().as_str()),
                range,
                pool: Name::from(o.pool.as_str()),
            });
        }

        let emergency = match &cfg.emergency {
            Some(spanned) => {
                let e = spanned.get_ref();
                if e.numbers.is_empty() || e.usages.is_empty() {
                    let which = if e.numbers.is_empty() {
                        "numbers"
                    } else {
                        "usages"
                    };
                    return Err(err(
                        spanned.span(),
                        format!("voice.emergency.{which}"),
                        Problem::Empty,
                    ));
                }
                let mut numbers = HashSet::new();
                for (i, n) in e.numbers.iter().enumerate() {
                    let d = config_number(n, format!("voice.emergency.numbers[{i}]"))?;
                    numbers.insert(d.number);
                }
                Some(Emergency {
                    numbers,
                    usages: e
                        .usages
                        .iter()
                        .map(|u| Name::from(u.get_ref().as_str()))
                        .collect(),
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
            route_index,
            usage_ids,
            usage_routes,
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
        // Eleven steps stay under the allocator's small-size caches; longer traces grow.
        let mut steps = Vec::with_capacity(11);
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
        let from = Name::from(req.from);
        t.push(Step::Transaction {
            from: from.clone(),
            caller: match (caller, &caller_aor) {
                (Some(u), _) => CallerKind::User {
                    enterprise_voice: u.enterprise_voice,
                },
                (None, Some(_)) => CallerKind::NotAUser,
                (None, None) => CallerKind::Unparsable,
            },
            referrer: req.referrer.map(|r| Name::from(r.uri)),
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
                    input: Name::from(req.request_uri),
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
            request_uri: Name::from(req.request_uri),
            dialled: Name::from(dialled.canonical()),
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
                number: Name::from(dialled.canonical()),
                by_flag: !by_string,
            });
            dialled
        } else {
            match self.normalize(caller, dialled, t) {
                Ok(n) => n,
                Err(o) => return o,
            }
        };
        let canonical = Name::from(number.canonical());
        // Routes are matched on the number without its extension.
        let main = match number.ext {
            None => canonical.clone(),
            Some(_) => Name::from(number.number.as_str()),
        };

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
                .get(&*canonical)
                .and_then(|&i| self.users.get(i))
            {
                let line_uri = Name::from(format!("tel:{canonical}"));
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

        let Some((user, whose)) = self.routing_identity(req, &from, caller, t) else {
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
                (&e.usages, Whose::Emergency)
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
                (&policy.usages, whose)
            }
        };

        let mut attempts: Vec<TrunkAttempt> = Vec::new();
        let mut disabled: Vec<Name> = Vec::new();
        let mut matched_any = false;
        let mut matching = Vec::new();
        self.route_index.matches(main.as_bytes(), &mut matching);
        for usage in usages.iter() {
            let Some((&uid, &count)) = self
                .usage_ids
                .get(&**usage)
                .and_then(|id| Some((id, self.usage_routes.get(*id)?)))
            else {
                t.push(Step::UsageWithoutRoutes {
                    usage: usage.clone(),
                });
                continue;
            };
            let mut found = false;
            for route in matching
                .iter()
                .filter_map(|&r| self.routes.get(r))
                .filter(|r| r.usages.contains(&uid))
            {
                found = true;
                let via = std::sync::Arc::new(RouteRef {
                    whose,
                    usage: usage.clone(),
                    route: route.name.clone(),
                    pattern: route.pattern.clone(),
                });
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
                        let (sent, rule) = match trunk.translation.apply_first(&main) {
                            Some((r, out)) => (Name::from(out), Some(r.name.clone())),
                            None => (main.clone(), None),
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
            if found {
                matched_any = true;
            } else {
                t.push(Step::NoRouteMatches {
                    usage: usage.clone(),
                    number: main.clone(),
                    routes: count,
                });
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
                    usages: usages.clone(),
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
        let Some((rule, output)) = plan.rules.apply_first(&input) else {
            t.push(Step::NotNormalized {
                plan: plan.name.clone(),
                rules: plan.rules.rules.len(),
                number: Name::from(input),
            });
            return Ok(dialled);
        };
        match number::parse_dialled(&output) {
            Ok(n) => {
                t.push(Step::Normalized {
                    plan: plan.name.clone(),
                    rule: rule.name.clone(),
                    pattern: rule.pattern.clone(),
                    from: Name::from(input),
                    to: Name::from(n.canonical()),
                });
                Ok(n)
            }
            Err(error) => {
                t.push(Step::NormalizedInvalid {
                    rule: rule.name.clone(),
                    output: Name::from(output),
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
    fn check_vacant(&self, main: &str, canonical: &Name, t: &mut Vec<Step>) -> Option<Outcome> {
        t.push(Step::VacantCheck {
            number: canonical.clone(),
        });
        for v in &self.vacant {
            if v.range.check(main) != RangeMatch::Inside {
                continue;
            }
            if let Some(u) = self
                .by_line
                .get(&**canonical)
                .and_then(|&i| self.users.get(i))
            {
                t.push(Step::VacantButAssigned {
                    range: v.name.clone(),
                    user: u.aor.clone(),
                });
                continue;
            }
            t.push(Step::VacantHit {
                range: v.name.clone(),
                bounds: v.bounds.clone(),
            });
            return Some(Outcome::Unassigned {
                range: v.name.clone(),
                treatment: v.treatment.clone(),
            });
        }
        t.push(Step::NoVacantRange {
            number: canonical.clone(),
        });
        None
    }

    /// Call park orbit ranges ([MS-Docs:New-CsCallParkOrbit]).
    fn check_park(&self, main: &str, canonical: &Name, t: &mut Vec<Step>) -> Option<Outcome> {
        t.push(Step::CallParkCheck {
            number: canonical.clone(),
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
            number: canonical.clone(),
        });
        None
    }

    /// Whose policy routes the call: a signed referrer who is an Enterprise Voice user
    /// (MS-SIP.md §8.3, [field:seed-001]), else the caller when it is one; `None` when
    /// neither is.
    fn routing_identity<'e>(
        &'e self,
        req: &RequestInput<'_>,
        from: &Name,
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
                    uri: Name::from(r.uri),
                    reason: reason.unwrap_or(ReferrerIgnored::NotAUser),
                }),
            }
        }
        t.push(Step::RoutingOnCaller { uri: from.clone() });
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
    fn engine_is_shareable_across_proxy_tasks() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Engine>();
        assert_send_sync::<Decision>();
    }

    #[test]
    fn translation_references() {
        let re = crate::pattern::compile(r"^(?<area>\d{3})(\d{7})$").unwrap();
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
