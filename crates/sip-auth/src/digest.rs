//! SIP Digest authentication, server side: RFC 7616 as RFC 8760 applies it to SIP.
//!
//! The verifier owns the realm, the offered algorithms, the nonce minter and the nonce-count
//! record; a [`Credentials`] store answers HA1 values (never passwords). Unknown users and
//! wrong passwords end in the same [`AuthError::BadCredentials`], after the same work.

use crate::algorithm::{Algorithm, Ha1};
use crate::error::AuthError;
use crate::nonce::{NcRecord, NcVerdict, NonceCheck, NonceMinter};
use crate::{Scheme, Verifier, ct_eq};
use std::borrow::Cow;

use sip_msg::{AuthValue, Message, ParamRef, Uri};

/// Where HA1 values come from: one per (user, realm, non-session algorithm).
pub trait Credentials {
    /// The stored HA1 of `user` in `realm` for `algorithm` (always a non-session algorithm,
    /// [`Algorithm::base`]), or `None` when the user does not exist or has none for it.
    fn ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> Option<Ha1>;
}

/// What a request is: the method and Request-URI its credentials must be computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    /// The request method (`REGISTER`, `INVITE`, …): A2's method (RFC 7616 §3.4.3).
    pub method: &'a str,
    /// The Request-URI as written on the request line.
    pub uri: &'a str,
}

/// Who the request authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The `username` the credentials carried (RFC 7616 §3.4).
    pub user: String,
    /// The realm it authenticated in.
    pub realm: String,
    /// The algorithm its response used.
    pub algorithm: Algorithm,
    /// The scheme it authenticated with.
    pub scheme: Scheme,
}

/// The inputs of a Digest `response` with `qop=auth` (RFC 7616 §3.4.1).
#[derive(Debug, Clone, Copy)]
pub struct ResponseParts<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The server nonce.
    pub nonce: &'a str,
    /// The nonce-count as written (8 hex digits).
    pub nc: &'a str,
    /// The client nonce.
    pub cnonce: &'a str,
    /// The request method.
    pub method: &'a str,
    /// The digest-uri.
    pub uri: &'a str,
}

/// `response` for `qop=auth` from a stored HA1 (RFC 7616 §3.4.1–§3.4.3):
/// `KD(H(A1), nonce:nc:cnonce:qop:H(A2))` with `A2 = method:digest-uri`; for `-sess`,
/// `H(A1) = H(HA1:nonce:cnonce)`.
pub fn response(ha1: &Ha1, p: &ResponseParts<'_>) -> String {
    let alg = p.algorithm;
    let sess;
    let h_a1 = if alg.is_sess() {
        // RFC 7616 §3.4.2: A1 = H(unq(username):unq(realm):passwd):unq(nonce):unq(cnonce).
        sess = alg.hash_hex(&[
            ha1.as_hex().as_bytes(),
            b":",
            p.nonce.as_bytes(),
            b":",
            p.cnonce.as_bytes(),
        ]);
        sess.as_str()
    } else {
        ha1.as_hex()
    };
    // RFC 7616 §3.4.3: A2 = Method ":" request-uri (qop=auth).
    let h_a2 = alg.hash_hex(&[p.method.as_bytes(), b":", p.uri.as_bytes()]);
    // RFC 7616 §3.4.1: response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)).
    alg.hash_hex(&[
        h_a1.as_bytes(),
        b":",
        p.nonce.as_bytes(),
        b":",
        p.nc.as_bytes(),
        b":",
        p.cnonce.as_bytes(),
        b":auth:",
        h_a2.as_bytes(),
    ])
}

/// How a Digest server is set up.
#[derive(Clone)]
pub struct DigestConfig {
    /// The realm (RFC 3261 §22.1: usually the domain).
    pub realm: String,
    /// The secret nonces are keyed with; share it between servers of a pool.
    pub secret: Vec<u8>,
    /// How long a nonce stays fresh, in seconds.
    pub nonce_lifetime: u64,
    /// The algorithms offered, most preferred first (RFC 8760 §2.4: SHA-256 before MD5).
    pub algorithms: Vec<Algorithm>,
    /// How many nonces the nonce-count record keeps.
    pub nc_capacity: usize,
    /// The first nonce counter value; a random value at start-up (see [`NonceMinter::new`]).
    pub counter_seed: u64,
    /// Nonces issued before this time (seconds on the nonce clock) are answered as stale: the
    /// server sets it to its start time, because the nonce-count record of the previous run
    /// is gone and a request captured then could otherwise be replayed once (RFC 7616 §5.5).
    /// Clients re-authenticate transparently on `stale=true`.
    pub not_before: u64,
}

impl std::fmt::Debug for DigestConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestConfig")
            .field("realm", &self.realm)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .field("algorithms", &self.algorithms)
            .field("nc_capacity", &self.nc_capacity)
            .finish_non_exhaustive()
    }
}

impl DigestConfig {
    /// Defaults for `realm` and `secret`: SHA-256 then MD5, 300 s nonces, 100,000 nonce records.
    pub fn new(realm: &str, secret: &[u8]) -> DigestConfig {
        DigestConfig {
            realm: realm.to_owned(),
            secret: secret.to_vec(),
            nonce_lifetime: 300,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            nc_capacity: 100_000,
            counter_seed: 0,
            not_before: 0,
        }
    }
}

/// The Digest server side over a credentials store `S`.
pub struct DigestVerifier<S> {
    realm: String,
    algorithms: Vec<Algorithm>,
    minter: NonceMinter,
    nc: NcRecord,
    not_before: u64,
    dummy_password: String,
    store: S,
}

impl<S> std::fmt::Debug for DigestVerifier<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The dummy password and the secret stay out of logs.
        f.debug_struct("DigestVerifier")
            .field("realm", &self.realm)
            .field("algorithms", &self.algorithms)
            .field("minter", &self.minter)
            .field("nc_records", &self.nc.len())
            .finish_non_exhaustive()
    }
}

impl<S: Credentials> DigestVerifier<S> {
    /// A verifier for `config` reading HA1 values from `store`.
    pub fn new(config: DigestConfig, store: S) -> DigestVerifier<S> {
        let minter = NonceMinter::new(
            &config.secret,
            &config.realm,
            config.nonce_lifetime,
            config.counter_seed,
        );
        // The password behind the dummy HA1 of unknown users: derived from the secret, so no
        // one can answer for a user who does not exist.
        let dummy_password = {
            let mut m = NonceMinter::new(&config.secret, "convene-dummy", 0, 0);
            m.mint(0)
        };
        let mut algorithms = Vec::new();
        for a in config.algorithms {
            if !algorithms.contains(&a) {
                algorithms.push(a);
            }
        }
        DigestVerifier {
            realm: config.realm,
            algorithms,
            minter,
            nc: NcRecord::new(config.nc_capacity),
            not_before: config.not_before,
            dummy_password,
            store,
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The credentials store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The credentials store, to change users at run time.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The challenges for a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate): one per offered
    /// algorithm, most preferred first (RFC 8760 §2.4), sharing one fresh nonce, `qop="auth"`,
    /// and `stale=true` when the previous nonce expired (RFC 7616 §3.3).
    pub fn challenges(&mut self, now: u64, stale: bool) -> Vec<AuthValue> {
        let nonce = self.minter.mint(now);
        self.algorithms
            .iter()
            .map(|a| {
                let mut params = vec![
                    ("realm", self.realm.as_str()),
                    ("nonce", nonce.as_str()),
                    ("algorithm", a.token()),
                    ("qop", "auth"),
                ];
                if stale {
                    params.push(("stale", "true"));
                }
                AuthValue::new(Some(Scheme::Digest.token()), &params)
            })
            .collect()
    }

    /// Verifies `credentials` for `request` at `now` (seconds on the nonce clock).
    pub fn verify(
        &mut self,
        request: &RequestTarget<'_>,
        credentials: &AuthValue,
        now: u64,
    ) -> Result<Authenticated, AuthError> {
        self.verify_params(request, credentials, now)
    }

    /// [`DigestVerifier::verify`] over owned credentials or a view of them in the message.
    fn verify_params<C: CredentialParams>(
        &mut self,
        request: &RequestTarget<'_>,
        credentials: &C,
        now: u64,
    ) -> Result<Authenticated, AuthError> {
        if !credentials.is_digest() {
            return Err(AuthError::NoCredentials);
        }
        // RFC 3261 §22.4: credentials for another realm are not ours to check.
        if credentials.get("realm").as_deref() != Some(self.realm.as_str()) {
            return Err(AuthError::NoCredentials);
        }
        let need = |name: &'static str, what: &'static str| {
            credentials.get(name).ok_or(AuthError::Malformed(what))
        };
        let user = need("username", "username is missing")?;
        let nonce = need("nonce", "nonce is missing")?;
        let uri = need("uri", "uri is missing")?;
        let given = need("response", "response is missing")?;
        // RFC 7616 §3.4: a missing algorithm means MD5.
        let algorithm = match credentials.get("algorithm") {
            None => Algorithm::Md5,
            Some(t) => Algorithm::from_token(&t)
                .ok_or_else(|| AuthError::UnknownAlgorithm(t.chars().take(32).collect()))?,
        };
        // RFC 8760 §2.4: only an algorithm the server offered is acceptable (no downgrade to
        // one it did not offer).
        if !self.algorithms.contains(&algorithm) {
            return Err(AuthError::AlgorithmNotOffered(algorithm));
        }
        // RFC 7616 §3.4: qop, cnonce and nc come together; only auth is offered.
        if !credentials
            .get("qop")
            .is_some_and(|q| q.eq_ignore_ascii_case("auth"))
        {
            return Err(AuthError::QopNotAuth);
        }
        let cnonce = need("cnonce", "cnonce is missing")?;
        let nc_text = need("nc", "nc is missing")?;
        let nc = parse_nc(&nc_text).ok_or(AuthError::Malformed("nc must be 8 hex digits"))?;
        // RFC 7616 §3.4.6, RFC 3261 §22.4: the digest-uri must be the Request-URI.
        if !same_uri(&uri, request.uri) {
            return Err(AuthError::UriMismatch);
        }
        let freshness = match self.minter.check(&nonce, now) {
            NonceCheck::Fresh { issued } if issued < self.not_before => {
                NonceCheck::Expired { issued }
            }
            other => other,
        };
        let issued = match freshness {
            NonceCheck::Invalid => return Err(AuthError::InvalidNonce),
            NonceCheck::Fresh { issued } | NonceCheck::Expired { issued } => issued,
        };
        // The same work whether the user exists or not: the dummy HA1 stands in for unknown
        // users, and is computed for known ones too so both paths hash the same amount.
        let dummy = crate::ha1(&user, &self.realm, &self.dummy_password, algorithm.base());
        let stored = self.store.ha1(&user, &self.realm, algorithm.base());
        let known = stored.is_some();
        let ha1 = stored.unwrap_or(dummy);
        let expected = response(
            &ha1,
            &ResponseParts {
                algorithm,
                nonce: &nonce,
                nc: &nc_text,
                cnonce: &cnonce,
                method: request.method,
                uri: &uri,
            },
        );
        // RFC 7616 §3.4.1: the response is lower-case hex (LHEX); compared exactly.
        let matches = ct_eq(expected.as_bytes(), given.as_bytes());
        if !(matches && known && ha1.algorithm() == algorithm.base()) {
            return Err(AuthError::BadCredentials);
        }
        // RFC 7616 §3.3: stale only when the response was right for the expired nonce.
        if matches!(freshness, NonceCheck::Expired { .. }) {
            return Err(AuthError::Stale);
        }
        // Counted only once the response is right, so a forger cannot burn a user's counts.
        match self
            .nc
            .accept(&nonce, issued, nc, now, self.minter.lifetime())
        {
            NcVerdict::Accepted => {}
            NcVerdict::Replay => return Err(AuthError::Replay),
            NcVerdict::Forgotten => return Err(AuthError::Stale),
        }
        Ok(Authenticated {
            user: user.into_owned(),
            realm: self.realm.clone(),
            algorithm,
            scheme: Scheme::Digest,
        })
    }

    /// Verifies the request `msg` (its method and Request-URI), using the Authorization
    /// (`proxy = false`, registrar / UAS) or Proxy-Authorization (`proxy = true`) credentials for
    /// this realm (RFC 3261 §22.2, §22.3).
    pub fn verify_message(
        &mut self,
        msg: &Message,
        proxy: bool,
        now: u64,
    ) -> Result<Authenticated, AuthError> {
        let (Some(method), Some(uri)) = (msg.method(), msg.uri()) else {
            return Err(AuthError::NoCredentials);
        };
        // The Request-URI as the client wrote it (what it computed the digest over).
        let uri = msg.uri_text().unwrap_or_else(|| uri.to_string().into());
        let target = RequestTarget {
            method: method.as_str(),
            uri: &uri,
        };
        // Read in place (no owned copy of every credential line); a line the views cannot
        // read (bytes that are not UTF-8) goes the owned way, which replaces them.
        let views = if proxy {
            msg.proxy_authorization_views()
        } else {
            msg.authorization_views()
        };
        if let Ok(views) = views {
            let ours = views
                .into_iter()
                .filter(|v| v.is_scheme(Scheme::Digest.token()))
                .map(|v| Scanned {
                    digest: true,
                    params: v.params().collect(),
                })
                .find(|c| c.get("realm").as_deref() == Some(self.realm.as_str()));
            return match ours {
                Some(creds) => self.verify_params(&target, &creds, now),
                None => Err(AuthError::NoCredentials),
            };
        }
        let creds = credentials_for_realm(msg, proxy, &self.realm)?;
        let Some(creds) = creds else {
            return Err(AuthError::NoCredentials);
        };
        self.verify(&target, &creds, now)
    }
}

/// Credentials read by parameter name, owned or borrowed from the message.
trait CredentialParams {
    /// Whether the scheme is Digest.
    fn is_digest(&self) -> bool;
    /// A parameter's value, unquoted (RFC 7235 §2.2), by name case-insensitively.
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;
}

impl CredentialParams for AuthValue {
    fn is_digest(&self) -> bool {
        self.is_scheme(Scheme::Digest.token())
    }
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.param(name).map(Cow::Borrowed)
    }
}

/// The parameters of a credentials view, scanned once (a view looks each one up by scanning).
struct Scanned<'a> {
    digest: bool,
    params: Vec<ParamRef<'a>>,
}

impl CredentialParams for Scanned<'_> {
    fn is_digest(&self) -> bool {
        self.digest
    }
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(ParamRef::value)
    }
}

impl<S: Credentials> Verifier for DigestVerifier<S> {
    fn scheme(&self) -> Scheme {
        Scheme::Digest
    }

    fn challenges(&mut self, now: u64, stale: bool) -> Vec<AuthValue> {
        DigestVerifier::challenges(self, now, stale)
    }

    fn verify(
        &mut self,
        request: &RequestTarget<'_>,
        credentials: &AuthValue,
        now: u64,
    ) -> Result<Authenticated, AuthError> {
        DigestVerifier::verify(self, request, credentials, now)
    }
}

/// The Digest credentials in `msg` for `realm`: from Proxy-Authorization when `proxy`, else
/// Authorization (RFC 3261 §22.4: a request may carry several, one per realm).
pub fn credentials_for_realm(
    msg: &Message,
    proxy: bool,
    realm: &str,
) -> Result<Option<AuthValue>, AuthError> {
    let all = if proxy {
        msg.proxy_authorization()
    } else {
        msg.authorization()
    }
    .map_err(|_| AuthError::Malformed("unparseable authorization header"))?;
    Ok(all
        .into_iter()
        .find(|v| v.is_scheme(Scheme::Digest.token()) && v.realm() == Some(realm)))
}

/// `nc` (RFC 7616 §3.4: 8LHEX) as a number.
fn parse_nc(s: &str) -> Option<u32> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// Whether `digest_uri` names the Request-URI: identical text, or the same URI once parsed
/// (RFC 3261 §22.4 lets a client re-serialise it).
fn same_uri(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    match (Uri::parse(digest_uri), Uri::parse(request_uri)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The client side of one challenge, for tests, benchmarks and Convene's own client legs:
/// `Authorization` credentials answering `challenge` with `qop=auth`.
pub fn answer_challenge(
    challenge: &AuthValue,
    user: &str,
    password: &str,
    request: &RequestTarget<'_>,
    cnonce: &str,
    nc: u32,
) -> Option<AuthValue> {
    let realm = challenge.realm()?;
    let nonce = challenge.nonce()?;
    let algorithm = match challenge.param("algorithm") {
        None => Algorithm::Md5,
        Some(t) => Algorithm::from_token(t)?,
    };
    let nc = format!("{nc:08x}");
    let ha1 = crate::ha1(user, realm, password, algorithm);
    let resp = response(
        &ha1,
        &ResponseParts {
            algorithm,
            nonce,
            nc: &nc,
            cnonce,
            method: request.method,
            uri: request.uri,
        },
    );
    Some(AuthValue::new(
        Some(Scheme::Digest.token()),
        &[
            ("username", user),
            ("realm", realm),
            ("nonce", nonce),
            ("uri", request.uri),
            ("response", &resp),
            ("algorithm", algorithm.token()),
            ("cnonce", cnonce),
            ("qop", "auth"),
            ("nc", &nc),
        ],
    ))
}
