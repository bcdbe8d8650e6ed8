//! Server nonces and nonce-count replay protection (RFC 7616 §3.3, §3.4, §5.4).
//!
//! A nonce is stateless: `hex(issued) hex(counter) hex(HMAC-SHA-256(secret, issued ‖ counter ‖
//! realm)[..16])`, so every server sharing the secret, and the same server after a restart,
//! recognises its nonces; `issued` lets it expire them. The counter keeps two nonces issued in
//! the same second distinct, so two clients never share a nonce-count sequence.
//! [`NcRecord`] keeps, for a bounded number of nonces, the highest `nc` accepted.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashMap, VecDeque};

type HmacSha256 = Hmac<Sha256>;

/// The length of a nonce in characters: 16 hex digits of time, 16 of counter, 32 of tag.
pub const NONCE_LEN: usize = 64;

/// Mints and checks this server's nonces.
#[derive(Clone)]
pub struct NonceMinter {
    /// HMAC state after the secret (RFC 2104 §2): cloned per nonce instead of re-keyed.
    keyed: HmacSha256,
    realm: String,
    lifetime: u64,
    counter: u64,
}

impl std::fmt::Debug for NonceMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceMinter")
            .field("realm", &self.realm)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// What a nonce turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by this server at `issued` and still within its lifetime.
    Fresh {
        /// When it was issued (the caller's clock, seconds).
        issued: u64,
    },
    /// Issued by this server at `issued`, but older than the lifetime (RFC 7616 §3.3 `stale`).
    Expired {
        /// When it was issued.
        issued: u64,
    },
    /// Not a nonce of this server (wrong shape or tag).
    Invalid,
}

impl NonceMinter {
    /// A minter for `realm` whose nonces live `lifetime` seconds. `counter_seed` starts the
    /// per-nonce counter: pass a random value at start-up so a restart within the same second
    /// does not reissue a nonce.
    pub fn new(secret: &[u8], realm: &str, lifetime: u64, counter_seed: u64) -> NonceMinter {
        // HMAC accepts keys of any length, so new_from_slice cannot fail; an empty key is
        // still a key (RFC 2104 §3).
        let keyed = match HmacSha256::new_from_slice(secret) {
            Ok(m) => m,
            Err(_) => HmacSha256::new(&Default::default()),
        };
        NonceMinter {
            keyed,
            realm: realm.to_owned(),
            lifetime,
            counter: counter_seed,
        }
    }

    /// The nonce lifetime in seconds.
    pub fn lifetime(&self) -> u64 {
        self.lifetime
    }

    fn tag(&self, issued: u64, counter: u64) -> HmacSha256 {
        let mut mac = self.keyed.clone();
        mac.update(&issued.to_be_bytes());
        mac.update(&counter.to_be_bytes());
        mac.update(self.realm.as_bytes());
        mac
    }

    /// A fresh nonce issued at `now` (seconds on the caller's clock).
    pub fn mint(&mut self, now: u64) -> String {
        let counter = self.counter;
        self.counter = self.counter.wrapping_add(1);
        let tag = self.tag(now, counter).finalize().into_bytes();
        let mut s = String::with_capacity(NONCE_LEN);
        s.push_str(&crate::hex(&now.to_be_bytes()));
        s.push_str(&crate::hex(&counter.to_be_bytes()));
        s.push_str(&crate::hex(tag.get(..16).unwrap_or_default()));
        s
    }

    /// Checks `nonce` at `now`: whether this server issued it and whether it has expired.
    pub fn check(&self, nonce: &str, now: u64) -> NonceCheck {
        let (Some(t), Some(c), Some(g)) = (nonce.get(..16), nonce.get(16..32), nonce.get(32..))
        else {
            return NonceCheck::Invalid;
        };
        let (mut tb, mut cb, mut gb) = ([0u8; 8], [0u8; 8], [0u8; 16]);
        if crate::unhex(t, &mut tb).is_none()
            || crate::unhex(c, &mut cb).is_none()
            || crate::unhex(g, &mut gb).is_none()
        {
            return NonceCheck::Invalid;
        }
        let issued = u64::from_be_bytes(tb);
        let counter = u64::from_be_bytes(cb);
        // Constant-time comparison of the truncated tag.
        if self
            .tag(issued, counter)
            .verify_truncated_left(&gb)
            .is_err()
        {
            return NonceCheck::Invalid;
        }
        // A nonce from "the future" (clock stepped back) counts as just issued.
        if now.saturating_sub(issued) > self.lifetime {
            NonceCheck::Expired { issued }
        } else {
            NonceCheck::Fresh { issued }
        }
    }
}

/// The highest nonce-count accepted per nonce, for at most `capacity` nonces (RFC 7616 §3.4:
/// the server keeps nc to detect replays). When full, the oldest record is evicted; if that
/// nonce was still within its lifetime, every nonce issued up to its issue time is from then on
/// treated as stale, so an evicted nonce cannot be replayed with a count already used.
#[derive(Debug, Clone)]
pub struct NcRecord {
    capacity: usize,
    /// Keyed by the nonce's issue time and counter (its first 128 bits, [`NonceMinter::mint`]):
    /// unique per nonce this server minted, and a fraction of the text's size (one record per
    /// registration in flight, 100,000 by default).
    highest: HashMap<u128, (u32, u64)>,
    order: VecDeque<u128>,
    /// Nonces issued at or before this time whose record may have been evicted.
    evicted_up_to: Option<u64>,
}

/// What [`NcRecord::accept`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcVerdict {
    /// `nc` is higher than any seen for the nonce; now recorded.
    Accepted,
    /// `nc` is not higher than one already seen.
    Replay,
    /// The nonce's record may have been evicted: ask for a fresh nonce.
    Forgotten,
}

impl NcRecord {
    /// A record keeping at most `capacity` nonces (at least one).
    pub fn new(capacity: usize) -> NcRecord {
        NcRecord {
            capacity: capacity.max(1),
            highest: HashMap::new(),
            order: VecDeque::new(),
            evicted_up_to: None,
        }
    }

    /// How many nonces are recorded.
    pub fn len(&self) -> usize {
        self.highest.len()
    }

    /// Whether no nonce is recorded.
    pub fn is_empty(&self) -> bool {
        self.highest.is_empty()
    }

    /// Records `nc` for `nonce` (issued at `issued`) if it is higher than every count seen;
    /// `now` and `lifetime` decide whether an evicted record was still live.
    pub fn accept(
        &mut self,
        nonce: &str,
        issued: u64,
        nc: u32,
        now: u64,
        lifetime: u64,
    ) -> NcVerdict {
        let key = nc_key(nonce);
        if let Some((seen, _)) = self.highest.get_mut(&key) {
            if nc <= *seen {
                return NcVerdict::Replay;
            }
            *seen = nc;
            return NcVerdict::Accepted;
        }
        if self.evicted_up_to.is_some_and(|t| issued <= t) {
            return NcVerdict::Forgotten;
        }
        while self.highest.len() >= self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if let Some((_, old_issued)) = self.highest.remove(&old)
                && now.saturating_sub(old_issued) <= lifetime
            {
                // Still live: its counts are lost, so refuse it (and older nonces) from now on.
                self.evicted_up_to =
                    Some(self.evicted_up_to.map_or(old_issued, |t| t.max(old_issued)));
            }
        }
        self.highest.insert(key, (nc, issued));
        self.order.push_back(key);
        NcVerdict::Accepted
    }
}

/// The record key of a nonce: its issue time and counter as minted (32 hex digits). Verified
/// nonces always have them; anything else is folded into 128 bits with two FNV-1a passes (a
/// collision could only make a fresh nonce look replayed, asking the client for a new one).
fn nc_key(nonce: &str) -> u128 {
    if let Some(k) = nonce
        .get(..32)
        .and_then(|h| u128::from_str_radix(h, 16).ok())
    {
        return k;
    }
    let fnv = |seed: u64| {
        nonce.bytes().fold(seed, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    (u128::from(fnv(0xcbf2_9ce4_8422_2325)) << 64) | u128::from(fnv(0x8422_2325_cbf2_9ce4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_fresh_then_expired() {
        let mut m = NonceMinter::new(b"secret", "example.com", 300, 7);
        let n = m.mint(1_000);
        assert_eq!(n.len(), NONCE_LEN);
        assert_eq!(m.check(&n, 1_000), NonceCheck::Fresh { issued: 1_000 });
        assert_eq!(m.check(&n, 1_300), NonceCheck::Fresh { issued: 1_000 });
        assert_eq!(m.check(&n, 1_301), NonceCheck::Expired { issued: 1_000 });
        // Two nonces in the same second differ.
        assert_ne!(m.mint(1_000), n);
    }

    #[test]
    fn nonce_survives_restart_with_same_secret_only() {
        let n = NonceMinter::new(b"secret", "example.com", 300, 1).mint(50);
        let restarted = NonceMinter::new(b"secret", "example.com", 300, 99);
        assert_eq!(restarted.check(&n, 60), NonceCheck::Fresh { issued: 50 });
        let other_secret = NonceMinter::new(b"other", "example.com", 300, 1);
        assert_eq!(other_secret.check(&n, 60), NonceCheck::Invalid);
        let other_realm = NonceMinter::new(b"secret", "example.org", 300, 1);
        assert_eq!(other_realm.check(&n, 60), NonceCheck::Invalid);
    }

    #[test]
    fn tampered_nonce_is_invalid() {
        let mut m = NonceMinter::new(b"secret", "r", 300, 0);
        let n = m.mint(1_000);
        // Moving the issue time forward to revive an old nonce breaks the tag.
        let forged = format!("{:016x}{}", 5_000u64, n.get(16..).unwrap_or_default());
        assert_eq!(m.check(&forged, 5_000), NonceCheck::Invalid);
        assert_eq!(m.check("", 0), NonceCheck::Invalid);
        assert_eq!(m.check(&n[..63], 1_000), NonceCheck::Invalid);
        assert_eq!(m.check(&format!("{n}0"), 1_000), NonceCheck::Invalid);
    }

    #[test]
    fn nc_must_increase() {
        let mut r = NcRecord::new(8);
        assert_eq!(r.accept("a", 0, 1, 0, 300), NcVerdict::Accepted);
        assert_eq!(r.accept("a", 0, 1, 0, 300), NcVerdict::Replay);
        assert_eq!(r.accept("a", 0, 3, 0, 300), NcVerdict::Accepted);
        assert_eq!(r.accept("a", 0, 2, 0, 300), NcVerdict::Replay);
        assert_eq!(r.accept("b", 0, 1, 0, 300), NcVerdict::Accepted);
    }

    #[test]
    fn nc_record_is_bounded_and_forgets_safely() {
        let mut r = NcRecord::new(2);
        assert_eq!(r.accept("a", 10, 1, 10, 300), NcVerdict::Accepted);
        assert_eq!(r.accept("b", 11, 1, 11, 300), NcVerdict::Accepted);
        assert_eq!(r.accept("c", 12, 1, 12, 300), NcVerdict::Accepted);
        assert_eq!(r.len(), 2);
        // "a" was evicted while live: replaying it is refused, not accepted as new.
        assert_eq!(r.accept("a", 10, 1, 12, 300), NcVerdict::Forgotten);
        // A nonce issued after the evicted one is still welcome.
        assert_eq!(r.accept("d", 13, 1, 13, 300), NcVerdict::Accepted);
    }

    #[test]
    fn evicting_expired_records_costs_nothing() {
        let mut r = NcRecord::new(1);
        assert_eq!(r.accept("a", 10, 1, 10, 300), NcVerdict::Accepted);
        // "a" expired by now: evicting it does not make older nonces forgotten.
        assert_eq!(r.accept("b", 500, 1, 500, 300), NcVerdict::Accepted);
        assert_eq!(r.accept("c", 400, 1, 500, 300), NcVerdict::Accepted);
    }
}
