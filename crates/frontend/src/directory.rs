//! The users the front end homes: address-of-record, Digest user name and HA1 values per
//! algorithm (RFC 7616 §3.4.2; never a password). The server fills it from the topology and the
//! store and changes it at run time (`convene ctl user …`).

use std::collections::HashMap;

use registrar::Aor;
use sip_auth::{Algorithm, Credentials, Ha1};

/// One user's authentication record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The address-of-record.
    pub aor: Aor,
    /// The Digest `username` (RFC 7616 §3.4).
    pub username: String,
    /// The realm the HA1 values were computed in.
    pub realm: String,
    /// HA1 per non-session algorithm.
    pub ha1: Vec<Ha1>,
}

/// Every user, by AOR and by Digest user name.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    by_aor: HashMap<Aor, User>,
    /// Digest user name → (realm, AOR): looked up with borrowed `&str` on every
    /// authentication, so no key is built per request.
    by_username: HashMap<String, Vec<(String, Aor)>>,
}

impl Directory {
    /// An empty directory.
    pub fn new() -> Directory {
        Directory::default()
    }

    /// Adds or replaces a user (keyed by AOR); returns the record it replaced.
    pub fn insert(&mut self, user: User) -> Option<User> {
        let old = self.remove(&user.aor);
        let list = self.by_username.entry(user.username.clone()).or_default();
        list.retain(|(realm, _)| realm != &user.realm);
        list.push((user.realm.clone(), user.aor.clone()));
        self.by_aor.insert(user.aor.clone(), user);
        old
    }

    /// Removes a user; returns the record.
    pub fn remove(&mut self, aor: &Aor) -> Option<User> {
        let old = self.by_aor.remove(aor)?;
        if let Some(list) = self.by_username.get_mut(&old.username) {
            list.retain(|(realm, a)| !(realm == &old.realm && a == aor));
            if list.is_empty() {
                self.by_username.remove(&old.username);
            }
        }
        Some(old)
    }

    /// Whether the AOR names a user.
    pub fn contains(&self, aor: &Aor) -> bool {
        self.by_aor.contains_key(aor)
    }

    /// The user of an AOR.
    pub fn get(&self, aor: &Aor) -> Option<&User> {
        self.by_aor.get(aor)
    }

    /// The AOR a Digest user name authenticates as, in `realm`.
    pub fn aor_of(&self, username: &str, realm: &str) -> Option<&Aor> {
        self.by_username
            .get(username)?
            .iter()
            .find(|(r, _)| r == realm)
            .map(|(_, a)| a)
    }

    /// Every user, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.by_aor.values()
    }

    /// How many users.
    pub fn len(&self) -> usize {
        self.by_aor.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_aor.is_empty()
    }
}

impl Credentials for Directory {
    fn ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> Option<Ha1> {
        let aor = self.aor_of(user, realm)?;
        self.by_aor
            .get(aor)?
            .ha1
            .iter()
            .find(|h| h.algorithm() == algorithm)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> User {
        User {
            aor: Aor::new("alice", "example.test"),
            username: "alice".into(),
            realm: "example.test".into(),
            ha1: vec![sip_auth::ha1(
                "alice",
                "example.test",
                "alice-dev",
                Algorithm::Md5,
            )],
        }
    }

    #[test]
    fn credentials_are_found_by_username_and_realm() {
        let mut d = Directory::new();
        d.insert(alice());
        assert!(d.ha1("alice", "example.test", Algorithm::Md5).is_some());
        assert!(d.ha1("alice", "example.test", Algorithm::Sha256).is_none());
        assert!(d.ha1("alice", "other.test", Algorithm::Md5).is_none());
        assert!(d.ha1("bob", "example.test", Algorithm::Md5).is_none());
    }

    #[test]
    fn renaming_the_username_forgets_the_old_one() {
        let mut d = Directory::new();
        d.insert(alice());
        let mut renamed = alice();
        renamed.username = "alice2".into();
        assert!(d.insert(renamed).is_some());
        assert!(d.aor_of("alice", "example.test").is_none());
        assert_eq!(
            d.aor_of("alice2", "example.test"),
            Some(&Aor::new("alice", "example.test"))
        );
        assert_eq!(d.len(), 1);
        d.remove(&Aor::new("alice", "example.test"));
        assert!(d.is_empty());
        assert!(d.aor_of("alice2", "example.test").is_none());
    }
}
