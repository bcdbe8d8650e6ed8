//! The registrar state machine and location service: applies REGISTERs (RFC 3261 §10.3),
//! expires bindings on the caller's clock, drops outbound bindings with their flow, answers
//! lookups by AOR and by GRUU, and snapshots/restores its bindings.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use sip_msg::{Contact, HeaderName, Message, Method, NameAddr, Param, Uri};

use crate::binding::{Aor, Binding, FlowId, StoredParam, Time};
use crate::epid::{Guid, strip_urn_uuid};
use crate::error::{ConfigError, RegistrarError};
use crate::gruu::{Secret, TempGruu, lync_gruu, public_gruu};

/// Longest From `epid` accepted (observed epids are 10 hex digits, MS-SIP.md §2.1; the exact
/// [MS-SIPRE] 2.2.7 limit is unread, so this is generous).
const MAX_EPID_LEN: usize = 64;

/// Registrar settings (the `[registrar]` table of the server configuration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarConfig {
    /// Shortest non-zero registration interval accepted; shorter gets 423 (RFC 3261 §10.3 step 6).
    pub min_expires: u32,
    /// Longest interval granted; longer requests are clamped (RFC 3261 §10.3 step 6).
    pub max_expires: u32,
    /// Interval when the REGISTER names none (RFC 3261 §10.3 step 6).
    pub default_expires: u32,
    /// Service-Route values returned in the 200 OK, e.g. `"<sip:fe.example.test;lr>"` (RFC 3608 §6).
    pub service_route: Vec<String>,
    /// Option tags sent as separate `Supported:` lines (MS-SIP.md §2.5: one per line).
    pub supported: Vec<String>,
    /// Event packages listed in `Allow-Events` (MS-SIP.md §2.5).
    pub allow_events: Vec<String>,
    /// The server FQDN named as `source` in ms-diagnostics ([MS-OCER] 2.2.1.1); empty for none.
    pub fqdn: String,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            service_route: Vec::new(),
            supported: Vec::new(),
            allow_events: Vec::new(),
            fqdn: String::new(),
        }
    }
}

/// The result of an accepted REGISTER.
#[derive(Debug, Clone)]
pub struct RegisterOutcome {
    /// The 200 OK to send (RFC 3261 §10.3 step 8).
    pub response: Message,
    /// Every binding of the AOR after the request, highest q first.
    pub bindings: Vec<Binding>,
    /// Bindings the request created (not refreshed).
    pub added: usize,
    /// Bindings the request removed.
    pub removed: usize,
    /// Whether outbound (RFC 5626) was applied.
    pub outbound: bool,
}

/// The bindings a store persists ([`Registrar::snapshot`], [`Registrar::restore`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every binding at snapshot time.
    pub bindings: Vec<Binding>,
}

/// How a binding is identified within its AOR.
#[derive(Debug, Clone, PartialEq, Eq)]
enum BindingKey {
    /// RFC 5626 §6 / RFC 5627: the instance (and reg-id for an outbound flow) identifies it.
    Instance {
        instance: String,
        reg_id: Option<u32>,
    },
    /// RFC 3261 §10.3 step 6: the Contact URI identifies it.
    Contact(String),
}

fn key_of(b: &Binding) -> BindingKey {
    match &b.instance {
        Some(i) => BindingKey::Instance {
            instance: i.to_ascii_lowercase(),
            reg_id: b.reg_id,
        },
        None => BindingKey::Contact(contact_key(&b.contact)),
    }
}

/// A comparison key for a Contact URI (RFC 3261 §19.1.4: scheme, user and password compared
/// after unescaping and case-sensitively, host case-insensitively, port as written, and the
/// `user`, `ttl`, `method`, `maddr` and `transport` parameters; other parameters do not tell
/// bindings apart).
fn contact_key(contact: &str) -> String {
    match Uri::parse(contact) {
        Ok(u) => uri_key(&u),
        Err(_) => contact.to_owned(),
    }
}

/// [`contact_key`] of a parsed URI.
fn uri_key(uri: &Uri) -> String {
    match uri {
        Uri::Sip(u) => {
            let p = |n: &str| {
                u.param(n)
                    .flatten()
                    .map(str::to_ascii_lowercase)
                    .unwrap_or_default()
            };
            format!(
                "{}:{}:{}@{}:{}|{}|{}|{}|{}|{}",
                if u.secure { "sips" } else { "sip" },
                u.user_unescaped().unwrap_or_default(),
                u.password.as_deref().unwrap_or(""),
                u.host.to_string().to_ascii_lowercase(),
                u.port.map(|p| p.to_string()).unwrap_or_default(),
                p("transport"),
                p("user"),
                p("ttl"),
                // RFC 3261 §19.1.4: method is compared case-sensitively.
                u.param("method").flatten().unwrap_or(""),
                p("maddr"),
            )
        }
        other => other.to_string(),
    }
}

/// One Contact of the request, read and checked.
#[derive(Debug)]
struct ContactRequest {
    addr: NameAddr,
    key: BindingKey,
    expires: u32,
    instance: Option<String>,
    reg_id: Option<u32>,
}

/// The registrar and location service.
#[derive(Debug)]
pub struct Registrar {
    config: RegistrarConfig,
    secret: Secret,
    bindings: HashMap<Aor, Vec<Binding>>,
    by_id: HashMap<u64, Aor>,
    expiries: BTreeSet<(Time, u64)>,
    by_flow: HashMap<FlowId, BTreeSet<u64>>,
    next_id: u64,
}

impl Registrar {
    /// A registrar with `config`, keying temporary GRUUs with `secret` (at least 16 random bytes,
    /// stable across restarts so issued GRUUs stay valid).
    pub fn new(config: RegistrarConfig, secret: &[u8]) -> Result<Registrar, ConfigError> {
        if !(config.min_expires > 0
            && config.min_expires <= config.default_expires
            && config.default_expires <= config.max_expires)
        {
            return Err(ConfigError::ExpiryBounds {
                min: config.min_expires,
                default: config.default_expires,
                max: config.max_expires,
            });
        }
        for r in &config.service_route {
            if let Err(e) = sip_msg::typed::parse_one::<NameAddr>(r) {
                return Err(ConfigError::ServiceRoute {
                    value: r.clone(),
                    reason: e.to_string(),
                });
            }
        }
        if secret.len() < 16 {
            return Err(ConfigError::ShortSecret(secret.len()));
        }
        Ok(Registrar {
            config,
            secret: Secret::new(secret),
            bindings: HashMap::new(),
            by_id: HashMap::new(),
            expiries: BTreeSet::new(),
            by_flow: HashMap::new(),
            next_id: 1,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// Applies a REGISTER for `aor` (already authenticated and taken from the To by the caller,
    /// RFC 3261 §10.3 steps 1–5) received over `flow`; on success the bindings are committed and
    /// the 200 OK is returned, on error nothing changed (RFC 3261 §10.3 step 7: all or nothing).
    pub fn register(
        &mut self,
        now: Time,
        request: &Message,
        aor: &Aor,
        flow: Option<FlowId>,
    ) -> Result<RegisterOutcome, RegistrarError> {
        match request.method() {
            Some(Method::Register) => {}
            Some(m) => return Err(RegistrarError::NotRegister(m.as_str().to_owned())),
            None => return Err(RegistrarError::NotRegister("response".to_owned())),
        }
        self.expire(now);
        let call_id = request
            .call_id_str()
            .map_err(|e| malformed("Call-ID", &e))?
            .ok_or(RegistrarError::MissingHeader("Call-ID"))?
            .to_owned();
        let cseq = request
            .cseq()
            .map_err(|e| malformed("CSeq", &e))?
            .ok_or(RegistrarError::MissingHeader("CSeq"))?
            .seq;
        let contacts = request.contacts().map_err(|e| malformed("Contact", &e))?;
        let expires_header = request.expires().map_err(|e| malformed("Expires", &e))?;
        let supported: Vec<String> = request
            .supported()
            .map_err(|e| malformed("Supported", &e))?
            .into_iter()
            .map(|t| t.0.to_ascii_lowercase())
            .collect();
        let supports = |tag: &str| supported.iter().any(|s| s == tag);
        let paths = request.paths().map_err(|e| malformed("Path", &e))?;
        let epid = match request.from_view() {
            Ok(f) => f.and_then(|f| f.epid().map(str::to_owned)),
            // Not UTF-8 (a display name may hold other bytes): read the owned way.
            Err(_) => request
                .from()
                .map_err(|e| malformed("From", &e))?
                .and_then(|f| f.epid().map(str::to_owned)),
        };
        if let Some(e) = &epid
            && e.len() > MAX_EPID_LEN
        {
            return Err(RegistrarError::EpidTooLong(e.len()));
        }

        let mut current = self.bindings.get(aor).cloned().unwrap_or_default();
        let mut added = 0;
        let mut removed = 0;
        let mut outbound = false;
        let mut first_expires = None;

        if contacts.iter().any(|c| matches!(c, Contact::Star)) {
            // RFC 3261 §10.3 step 6: `*` only alone and with Expires: 0.
            if contacts.len() != 1 || expires_header != Some(0) {
                return Err(RegistrarError::InvalidWildcard);
            }
            // Step 7 for each binding: another Call-ID, or a higher CSeq, removes it.
            for b in &current {
                if b.call_id == call_id && cseq <= b.cseq {
                    return Err(RegistrarError::OutOfOrder {
                        cseq,
                        stored: b.cseq,
                    });
                }
            }
            removed = current.len();
            current.clear();
            first_expires = Some(0);
        } else if !contacts.is_empty() {
            let reqs = self.read_contacts(
                &contacts,
                expires_header,
                epid.as_deref(),
                &supports,
                &paths,
            )?;
            outbound = reqs.iter().any(|r| r.reg_id.is_some());
            let path: Vec<String> = paths.iter().map(ToString::to_string).collect();
            for r in reqs {
                first_expires.get_or_insert(r.expires);
                let existing = current.iter().position(|b| key_of(b) == r.key);
                // RFC 3261 §10.3 step 7: same Call-ID needs a higher CSeq than the stored
                // binding (as it was before this request: a contact listed twice is no reorder).
                if let Some(b) = self
                    .bindings
                    .get(aor)
                    .and_then(|l| l.iter().find(|b| key_of(b) == r.key))
                    && b.call_id == call_id
                    && cseq <= b.cseq
                {
                    return Err(RegistrarError::OutOfOrder {
                        cseq,
                        stored: b.cseq,
                    });
                }
                if r.expires == 0 {
                    if let Some(i) = existing {
                        current.remove(i);
                        removed += 1;
                    }
                    continue;
                }
                let prior = existing.and_then(|i| current.get(i));
                let (id, mut first, mut last) = match prior {
                    Some(b) => (b.id, b.temp_gruu_first, b.temp_gruu_last),
                    None => (0, 0, 0),
                };
                if r.instance.is_some() && supports("gruu") {
                    // RFC 5627 §5.3: a new temporary GRUU per REGISTER; a new Call-ID
                    // invalidates the ones issued before.
                    last = last.saturating_add(1);
                    if first == 0 || prior.is_some_and(|b| b.call_id != call_id) {
                        first = last;
                    }
                }
                let binding = Binding {
                    aor: aor.clone(),
                    id,
                    contact: r.addr.uri.to_string(),
                    params: stored_params(&r.addr.params),
                    q_millis: r.addr.q_millis(),
                    expires_at: now.plus_secs(r.expires),
                    call_id: call_id.clone(),
                    cseq,
                    instance: r.instance.clone().map(String::into_boxed_str),
                    reg_id: r.reg_id,
                    // RFC 5626 §5.2: only an outbound binding is tied to its flow.
                    flow: r.reg_id.and(flow),
                    received_on: flow,
                    path: path.clone(),
                    epid: epid.as_deref().map(Box::from),
                    temp_gruu_first: first,
                    temp_gruu_last: last,
                };
                match existing {
                    Some(i) => {
                        if let Some(slot) = current.get_mut(i) {
                            *slot = binding;
                        }
                    }
                    None => {
                        current.push(binding);
                        added += 1;
                    }
                }
            }
        }

        // Commit (RFC 3261 §10.3 step 7: visible only once every update succeeded).
        self.replace_aor(aor, current);
        let bindings = self.lookup(now, aor);
        let response = self.ok_response(
            now,
            request,
            aor,
            &bindings,
            first_expires,
            &call_id,
            cseq,
            &supports,
            &paths,
            outbound,
        );
        Ok(RegisterOutcome {
            response,
            bindings,
            added,
            removed,
            outbound,
        })
    }

    /// Reads and checks every Contact of a REGISTER without a `*`.
    fn read_contacts(
        &self,
        contacts: &[Contact],
        expires_header: Option<u32>,
        epid: Option<&str>,
        supports: &dyn Fn(&str) -> bool,
        paths: &[NameAddr],
    ) -> Result<Vec<ContactRequest>, RegistrarError> {
        let addrs: Vec<&NameAddr> = contacts
            .iter()
            .filter_map(|c| match c {
                Contact::Addr(a) => Some(a),
                Contact::Star => None,
            })
            .collect();
        // RFC 5626 §6: more than one Contact with reg-id is a 400.
        if addrs.iter().filter(|a| a.reg_id().is_some()).count() > 1 {
            return Err(RegistrarError::MultipleRegIds);
        }
        let mut out = Vec::with_capacity(addrs.len());
        for addr in addrs {
            // RFC 3261 §10.3 step 6: the contact's expires, else the Expires header, else ours.
            let requested = addr
                .expires()
                .or(expires_header)
                .unwrap_or(self.config.default_expires);
            if requested > 0 && requested < self.config.min_expires {
                return Err(RegistrarError::IntervalTooBrief {
                    requested,
                    min_expires: self.config.min_expires,
                });
            }
            let expires = requested.min(self.config.max_expires);
            let instance = addr.sip_instance().map(str::to_owned);
            // [MS-SIPAE] 3.3.5.2: an instance next to an epid must be derived from it.
            if let (Some(e), Some(i)) = (epid, &instance) {
                let expected = Guid::from_epid(e);
                if Guid::parse(i) != Some(expected) {
                    return Err(RegistrarError::InstanceNotDerivedFromEpid {
                        epid: e.to_owned(),
                        instance: i.clone(),
                        expected: expected.to_urn(),
                    });
                }
            }
            // RFC 5626 §6: outbound applies with instance + reg-id + Supported: outbound;
            // otherwise reg-id is ignored.
            let mut reg_id = None;
            if let (Some(rid), Some(_), true) = (addr.reg_id(), &instance, supports("outbound")) {
                if let Some(first) = paths.first()
                    && first.uri.as_sip().is_none_or(|u| !u.has_param("ob"))
                {
                    return Err(RegistrarError::FirstHopLacksOutbound);
                }
                reg_id = Some(rid);
            }
            let key = match &instance {
                Some(i) => BindingKey::Instance {
                    instance: i.to_ascii_lowercase(),
                    reg_id,
                },
                None => BindingKey::Contact(uri_key(&addr.uri)),
            };
            out.push(ContactRequest {
                addr: addr.clone(),
                key,
                expires,
                instance,
                reg_id,
            });
        }
        Ok(out)
    }

    /// Builds the 200 OK of RFC 3261 §10.3 step 8 with every current binding.
    #[allow(clippy::too_many_arguments)]
    fn ok_response(
        &self,
        now: Time,
        request: &Message,
        aor: &Aor,
        bindings: &[Binding],
        expires: Option<u32>,
        call_id: &str,
        cseq: u32,
        supports: &dyn Fn(&str) -> bool,
        paths: &[NameAddr],
        outbound: bool,
    ) -> Message {
        let tag = self.secret.to_tag(call_id, cseq);
        let mut resp = Message::response_to(request, 200, "OK", Some(&tag));
        resp.remove_all(&HeaderName::ContentLength);
        for b in bindings {
            resp.push(
                HeaderName::Contact,
                self.contact_value(now, aor, b, supports),
            );
        }
        // MS-SIP.md §2.5: a client treats a 200 without a positive Expires as not registered;
        // a query (no Contact, RFC 3261 §10.2.3) changes nothing and gets no Expires.
        if let Some(e) = expires {
            resp.push(HeaderName::Expires, e);
        }
        // RFC 3327 §5.3: Path is echoed when the UA said it supports it.
        if supports("path") {
            for p in paths {
                resp.push(HeaderName::Path, p);
            }
        }
        // RFC 3608 §6: the service route for requests from this UA.
        if expires.is_none_or(|e| e > 0) {
            for r in &self.config.service_route {
                resp.push(HeaderName::ServiceRoute, r);
            }
        }
        // RFC 5626 §6: a registrar that applied outbound says so.
        if outbound {
            resp.push(HeaderName::Require, "outbound");
        }
        // MS-SIP.md §2.5: one option tag per Supported line.
        for s in &self.config.supported {
            resp.push(HeaderName::Supported, s);
        }
        if !self.config.allow_events.is_empty() {
            resp.push(HeaderName::AllowEvents, self.config.allow_events.join(","));
        }
        resp.push(HeaderName::ContentLength, 0);
        resp
    }

    /// One binding as a Contact of the 200 OK, with `expires`, `q` and the GRUUs the UA supports.
    fn contact_value(
        &self,
        now: Time,
        aor: &Aor,
        b: &Binding,
        supports: &dyn Fn(&str) -> bool,
    ) -> String {
        // The stored contact is the URI as this registrar wrote it (`Uri` Display) and the
        // stored parameters exclude expires, q and the GRUUs: written out directly.
        let mut v = String::with_capacity(b.contact.len() + 96);
        v.push('<');
        v.push_str(&b.contact);
        v.push('>');
        for p in &b.params {
            push_param(&mut v, &p.name, p.value.as_deref(), p.quoted);
        }
        v.push_str(";expires=");
        v.push_str(&b.remaining(now).to_string());
        if let Some(q) = b.q_millis {
            push_param(&mut v, "q", Some(&format_q(q)), false);
        }
        if let Some(instance) = &b.instance {
            // RFC 5627 §5.3: pub-gruu and the newest temp-gruu, when the UA supports gruu.
            if supports("gruu") {
                let g = public_gruu(aor, instance).to_string();
                push_param(&mut v, "pub-gruu", Some(&g), true);
                if b.temp_gruu_last > 0 {
                    let t = TempGruu {
                        binding_id: b.id,
                        counter: b.temp_gruu_last,
                    };
                    let g = self.secret.temp_gruu(t, instance, aor).to_string();
                    push_param(&mut v, "temp-gruu", Some(&g), true);
                }
            }
            // [MS-SIPREGE] 2.2.1.5 `gruu-10`; MS-SIP.md §2.3, §2.5: the Lync `gruu` parameter.
            if supports("gruu-10")
                && let Some(g) = Guid::parse(instance)
            {
                push_param(&mut v, "gruu", Some(&lync_gruu(aor, &g).to_string()), true);
            }
        }
        v
    }

    /// The rejection to send for `err`: its status, the catalogued ms-diagnostics, Min-Expires
    /// for 423 (RFC 3261 §10.3 step 6) and Allow for 405 (RFC 3261 §21.4.6).
    pub fn reject(&self, request: &Message, err: &RegistrarError) -> Message {
        let status = err.status();
        let reason = sip_msg::default_reason(status);
        let call_id = request
            .call_id()
            .ok()
            .flatten()
            .map(|c| c.0)
            .unwrap_or_default();
        let cseq = request.cseq().ok().flatten().map(|c| c.seq).unwrap_or(0);
        let tag = self.secret.to_tag(&call_id, cseq);
        let mut resp = Message::response_to(request, status, reason, Some(&tag));
        resp.remove_all(&HeaderName::ContentLength);
        match err {
            RegistrarError::IntervalTooBrief { min_expires, .. } => {
                resp.push(HeaderName::MinExpires, min_expires);
            }
            RegistrarError::NotRegister(_) => resp.push(HeaderName::Allow, "REGISTER"),
            _ => {}
        }
        let mut d = err.diagnostic();
        if !self.config.fqdn.is_empty() {
            d = d.source(self.config.fqdn.clone());
        }
        resp.add_diagnostic(&d);
        resp.push(HeaderName::ContentLength, 0);
        resp
    }

    /// Removes every binding that expired at or before `now`; returns how many.
    pub fn expire(&mut self, now: Time) -> usize {
        let mut n = 0;
        while let Some(&(at, id)) = self.expiries.first() {
            if at > now {
                break;
            }
            if self.remove_by_id(id).is_some() {
                n += 1;
            } else {
                // An index entry without its binding; drop it so the loop moves on.
                self.expiries.remove(&(at, id));
            }
        }
        n
    }

    /// When the next binding expires (the caller wakes up then and calls [`Registrar::expire`]).
    pub fn next_expiry(&self) -> Option<Time> {
        self.expiries.first().map(|&(at, _)| at)
    }

    /// Removes the outbound bindings that live on `flow` (RFC 5626 §5.2: a flow's bindings die
    /// with its connection); returns them.
    pub fn flow_closed(&mut self, flow: FlowId) -> Vec<Binding> {
        let ids = self.by_flow.remove(&flow).unwrap_or_default();
        ids.into_iter()
            .filter_map(|id| self.remove_by_id(id))
            .collect()
    }

    /// Every live binding of `aor`, highest q first (RFC 3261 §16.6: forking order), then the
    /// most recently refreshed first.
    pub fn lookup(&self, now: Time, aor: &Aor) -> Vec<Binding> {
        let mut v: Vec<Binding> = self
            .bindings
            .get(aor)
            .map(|l| l.iter().filter(|b| b.is_alive(now)).cloned().collect())
            .unwrap_or_default();
        v.sort_by(|a, b| {
            b.q_order()
                .cmp(&a.q_order())
                .then(b.expires_at.cmp(&a.expires_at))
        });
        v
    }

    /// The one binding a GRUU names: an RFC 5627 public (`;gr=urn:uuid:…`) or temporary
    /// (`tgruu.…;gr`) GRUU, or a Lync `;opaque=user:epid:…;gruu` ([MS-SIPRE] 2.2.3).
    pub fn lookup_gruu(&self, now: Time, uri: &Uri) -> Option<Binding> {
        let sip = uri.as_sip()?;
        let alive = |b: &&Binding| b.is_alive(now);
        if let Some(sip_msg::MsGruu::UserEpid(opaque)) = sip.ms_gruu() {
            let guid = Guid::from_user_epid_opaque(&opaque)?;
            let aor = Aor::from_uri(uri)?;
            return self
                .bindings
                .get(&aor)?
                .iter()
                .filter(alive)
                .find(|b| b.instance.as_deref().and_then(Guid::parse) == Some(guid))
                .cloned();
        }
        match sip.gr()? {
            Some(instance) => {
                let aor = Aor::from_uri(uri)?;
                let want = strip_urn_uuid(instance).to_ascii_lowercase();
                self.bindings
                    .get(&aor)?
                    .iter()
                    .filter(alive)
                    .find(|b| {
                        b.instance
                            .as_deref()
                            .is_some_and(|i| strip_urn_uuid(i).eq_ignore_ascii_case(&want))
                    })
                    .cloned()
            }
            None => {
                let (t, tag) = self.secret.parse_temp(sip.user.as_deref()?)?;
                let aor = self.by_id.get(&t.binding_id)?;
                let b = self
                    .bindings
                    .get(aor)?
                    .iter()
                    .find(|b| b.id == t.binding_id)?;
                let domain_ok = match &sip.host {
                    sip_msg::Host::Domain(d) => d.eq_ignore_ascii_case(aor.domain()),
                    _ => false,
                };
                let instance = b.instance.as_deref()?;
                (domain_ok
                    && b.is_alive(now)
                    && (b.temp_gruu_first..=b.temp_gruu_last).contains(&t.counter)
                    && t.counter > 0
                    && self.secret.verify_temp(t, &tag, instance, aor))
                .then(|| b.clone())
            }
        }
    }

    /// Every binding, for the store to persist.
    pub fn snapshot(&self) -> Snapshot {
        let mut bindings: Vec<Binding> = self.bindings.values().flatten().cloned().collect();
        bindings.sort_by_key(|b| b.id);
        Snapshot { bindings }
    }

    /// Replaces the bindings with those of `snapshot` still alive at `now`; returns how many
    /// were dropped (expired meanwhile, or a repeated id in a damaged snapshot).
    pub fn restore(&mut self, now: Time, snapshot: Snapshot) -> usize {
        self.bindings.clear();
        self.by_id.clear();
        self.expiries.clear();
        self.by_flow.clear();
        let mut dropped = 0;
        let mut by_aor: HashMap<Aor, Vec<Binding>> = HashMap::new();
        let mut seen = std::collections::HashSet::new();
        for b in snapshot.bindings {
            self.next_id = self.next_id.max(b.id.saturating_add(1));
            // A damaged snapshot may repeat an id or carry 0; keep the first, skip the rest.
            if b.id == 0 || !seen.insert(b.id) {
                dropped += 1;
                continue;
            }
            if b.is_alive(now) {
                by_aor.entry(b.aor.clone()).or_default().push(b);
            } else {
                dropped += 1;
            }
        }
        for (aor, list) in by_aor {
            self.replace_aor(&aor, list);
        }
        dropped
    }

    /// How many bindings are stored.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no binding is stored.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Installs `list` as the bindings of `aor`, keeping the id and expiry indexes in step and
    /// giving new bindings (id 0) a fresh id.
    fn replace_aor(&mut self, aor: &Aor, mut list: Vec<Binding>) {
        if let Some(old) = self.bindings.remove(aor) {
            for b in &old {
                self.unindex(b);
            }
        }
        for b in &mut list {
            if b.id == 0 {
                b.id = self.next_id;
                self.next_id += 1;
            }
            self.by_id.insert(b.id, aor.clone());
            self.expiries.insert((b.expires_at, b.id));
            if let Some(f) = b.flow {
                self.by_flow.entry(f).or_default().insert(b.id);
            }
        }
        if !list.is_empty() {
            // The list was built by pushes, which leave room for four bindings (over 1 KiB)
            // where an AOR almost always has one: keep only what it holds.
            list.shrink_to_fit();
            self.bindings.insert(aor.clone(), list);
        }
    }

    /// Drops `b` from the id, expiry and flow indexes.
    fn unindex(&mut self, b: &Binding) {
        self.by_id.remove(&b.id);
        self.expiries.remove(&(b.expires_at, b.id));
        if let Some(f) = b.flow
            && let Some(ids) = self.by_flow.get_mut(&f)
        {
            ids.remove(&b.id);
            if ids.is_empty() {
                self.by_flow.remove(&f);
            }
        }
    }

    /// Removes the binding `id` and returns it, if it is stored.
    fn remove_by_id(&mut self, id: u64) -> Option<Binding> {
        let aor = self.by_id.get(&id)?.clone();
        let list = self.bindings.get_mut(&aor)?;
        let pos = list.iter().position(|b| b.id == id)?;
        let b = list.remove(pos);
        if list.is_empty() {
            self.bindings.remove(&aor);
        }
        self.unindex(&b);
        Some(b)
    }
}

fn malformed(header: &'static str, e: &sip_msg::ParseError) -> RegistrarError {
    RegistrarError::Malformed {
        header,
        reason: e.to_string(),
    }
}

/// Contact parameters worth keeping: everything but `expires`, `q` and response-only GRUU params.
fn stored_params(params: &[Param]) -> Vec<StoredParam> {
    params
        .iter()
        .filter(|p| {
            !["expires", "q", "pub-gruu", "temp-gruu", "gruu"]
                .iter()
                .any(|n| p.name.eq_ignore_ascii_case(n))
        })
        .map(|p| StoredParam {
            name: p.name.clone(),
            value: p.value.clone(),
            quoted: p.quoted,
        })
        .collect()
}

/// Appends `;name[=value]`, the value as a quoted-string (RFC 3261 §25.1, `"` and `\\`
/// escaped) when `quoted`.
fn push_param(out: &mut String, name: &str, value: Option<&str>, quoted: bool) {
    out.push(';');
    out.push_str(name);
    let Some(value) = value else {
        return;
    };
    out.push('=');
    if quoted {
        out.push('"');
        for c in value.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// A q-value in thousandths as RFC 3261 §20.10 writes it (`0.5`, `1`, `0.125`).
fn format_q(q: u16) -> String {
    if q >= 1000 {
        return "1".to_owned();
    }
    let s = format!("0.{q:03}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
