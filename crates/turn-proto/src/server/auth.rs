//! Long-term credentials (RFC 8489 §9.2), the REST-style ephemeral credentials of coturn's
//! `use-auth-secret` (draft-uberti-behave-turn-rest-00 §2.2), and stateless expiring nonces.

use std::collections::HashMap;
use std::net::SocketAddr;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::message::IntegrityKey;

/// Users and secrets the server accepts, for one realm.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// Long-term keys MD5(username:realm:password) by username.
    users: HashMap<String, IntegrityKey>,
    /// coturn `static-auth-secret`: enables ephemeral `expiry[:user]` usernames.
    auth_secret: Option<Vec<u8>>,
}

/// What the credential lookup concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The username is known (or a valid ephemeral one); here is its key.
    Key(IntegrityKey),
    /// Unknown username, or an ephemeral one whose timestamp has passed.
    Unknown,
}

impl Credentials {
    /// No users, no shared secret.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a long-term user: the key is MD5(username:realm:password) (RFC 8489 §9.2.2).
    pub fn add_user(&mut self, username: &str, realm: &str, password: &str) {
        self.users.insert(
            username.to_owned(),
            IntegrityKey::long_term(username, realm, password),
        );
    }

    /// Adds a long-term user by its stored key MD5(username:realm:password) (RFC 8489
    /// §9.2.2), so the password itself need not be kept anywhere.
    pub fn add_user_key(&mut self, username: &str, key: IntegrityKey) {
        self.users.insert(username.to_owned(), key);
    }

    /// Enables REST ephemeral credentials with coturn's shared secret.
    pub fn set_auth_secret(&mut self, secret: &[u8]) {
        self.auth_secret = Some(secret.to_vec());
    }

    /// The key for `username` at wall-clock `unix_now` (seconds), if the user is acceptable.
    pub(crate) fn lookup(&self, username: &str, realm: &str, unix_now: u64) -> Lookup {
        if let Some(key) = self.users.get(username) {
            return Lookup::Key(key.clone());
        }
        let Some(secret) = &self.auth_secret else {
            return Lookup::Unknown;
        };
        // REST username: "<expiry unix timestamp>[:<user id>]"; expired ones are refused.
        let stamp = username.split(':').next().unwrap_or_default();
        match stamp.parse::<u64>() {
            Ok(expiry) if expiry > unix_now => {
                let password = rest_password(secret, username);
                Lookup::Key(IntegrityKey::long_term(username, realm, &password))
            }
            _ => Lookup::Unknown,
        }
    }
}

/// REST ephemeral password: base64(HMAC-SHA1(secret, username)) (coturn `use-auth-secret`).
pub fn rest_password(secret: &[u8], username: &str) -> String {
    match <Hmac<Sha1> as Mac>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(username.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; an empty password can never verify a real client.
        Err(_) => String::new(),
    }
}

/// Issues and checks stateless nonces: expiry (ms on the server's clock) and a MAC binding it
/// to the client address, so nothing is stored per client (RFC 8489 §9.2: nonces expire).
#[derive(Clone)]
pub(crate) struct NonceMint {
    secret: [u8; 32],
}

impl std::fmt::Debug for NonceMint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NonceMint(<redacted>)")
    }
}

/// Result of [`NonceMint::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceState {
    /// Ours, for this client, not expired.
    Valid,
    /// Expired, forged, or issued to another client: answer 438 with a fresh one.
    Stale,
}

/// Hex digits of the expiry field and of the MAC field.
const EXPIRY_HEX: usize = 12;
const MAC_HEX: usize = 16;

impl NonceMint {
    pub(crate) fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    fn mac(&self, expiry_ms: u64, client: SocketAddr) -> u64 {
        let Ok(mut mac) = <Hmac<Sha1> as Mac>::new_from_slice(&self.secret) else {
            return 0;
        };
        mac.update(&expiry_ms.to_be_bytes());
        mac.update(client.to_string().as_bytes());
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(out.get(..8).unwrap_or(&[0; 8]));
        u64::from_be_bytes(first)
    }

    /// A nonce valid until `expiry_ms`, 28 ASCII hex characters.
    pub(crate) fn issue(&self, expiry_ms: u64, client: SocketAddr) -> String {
        format!(
            "{:0ew$x}{:0mw$x}",
            expiry_ms & 0xFFFF_FFFF_FFFF,
            self.mac(expiry_ms & 0xFFFF_FFFF_FFFF, client),
            ew = EXPIRY_HEX,
            mw = MAC_HEX
        )
    }

    /// Checks a nonce presented by `client` at `now_ms`.
    pub(crate) fn check(&self, nonce: &str, client: SocketAddr, now_ms: u64) -> NonceState {
        if nonce.len() != EXPIRY_HEX + MAC_HEX || !nonce.is_ascii() {
            return NonceState::Stale;
        }
        let (e, m) = nonce.split_at(EXPIRY_HEX);
        let (Ok(expiry), Ok(mac)) = (u64::from_str_radix(e, 16), u64::from_str_radix(m, 16)) else {
            return NonceState::Stale;
        };
        if mac != self.mac(expiry, client) || expiry <= now_ms {
            NonceState::Stale
        } else {
            NonceState::Valid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_password_is_base64_hmac_sha1_of_username() {
        // HMAC-SHA1("secret", "1700000000:alice") computed independently (python hmac).
        assert_eq!(
            rest_password(b"secret", "1700000000:alice"),
            "d8soP47RbdIKLDUOpnJPVQyq5Ts="
        );
    }

    #[test]
    fn ephemeral_users_expire_with_their_timestamp() {
        let mut c = Credentials::new();
        c.set_auth_secret(b"secret");
        let pw = rest_password(b"secret", "2000:alice");
        let want = IntegrityKey::long_term("2000:alice", "r", &pw);
        assert_eq!(c.lookup("2000:alice", "r", 1999), Lookup::Key(want));
        assert_eq!(c.lookup("2000:alice", "r", 2000), Lookup::Unknown);
        assert_eq!(c.lookup("alice", "r", 0), Lookup::Unknown);
        c.add_user("alice", "r", "pw");
        assert_eq!(
            c.lookup("alice", "r", 0),
            Lookup::Key(IntegrityKey::long_term("alice", "r", "pw"))
        );
    }

    #[test]
    fn nonces_expire_and_are_bound_to_the_client() {
        let mint = NonceMint::new([7; 32]);
        let a: SocketAddr = "192.0.2.1:4000".parse().unwrap();
        let b: SocketAddr = "192.0.2.1:4001".parse().unwrap();
        let n = mint.issue(10_000, a);
        assert_eq!(n.len(), 28);
        assert_eq!(mint.check(&n, a, 9_999), NonceState::Valid);
        assert_eq!(mint.check(&n, a, 10_000), NonceState::Stale);
        assert_eq!(mint.check(&n, b, 0), NonceState::Stale);
        let mut forged = n.clone();
        forged.replace_range(0..1, "f");
        assert_eq!(mint.check(&forged, a, 0), NonceState::Stale);
        assert_eq!(mint.check("short", a, 0), NonceState::Stale);
        assert_eq!(mint.check("ééééééééééééééé", a, 0), NonceState::Stale);
    }
}
