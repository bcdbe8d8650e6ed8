//! GRUU construction and recognition: RFC 5627 public (`;gr=urn:uuid:…`) and temporary
//! (`tgruu.<opaque>`, keyed HMAC) GRUUs, and the Lync `;opaque=user:epid:…;gruu` form.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sip_msg::{SipUri, UriParam};

use crate::binding::Aor;
use crate::epid::Guid;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of a temporary GRUU's user part (RFC 5627 §3.2 example form).
const TEMP_PREFIX: &str = "tgruu.";
/// Bytes of the HMAC kept in a temporary GRUU (128 bits: unguessable).
const MAC_LEN: usize = 16;

/// The server secret that keys temporary GRUUs and To tags, held as the HMAC state after the
/// key (RFC 2104 §2: the padded key's two blocks are hashed once, here, not per use).
#[derive(Clone)]
pub(crate) struct Secret(HmacSha256);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// What a temporary GRUU names: binding id and counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TempGruu {
    pub(crate) binding_id: u64,
    pub(crate) counter: u32,
}

impl Secret {
    pub(crate) fn new(bytes: &[u8]) -> Secret {
        // HMAC accepts keys of any length; the fallback key is never used.
        Secret(
            <HmacSha256 as Mac>::new_from_slice(bytes)
                .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default())),
        )
    }

    fn mac(&self) -> HmacSha256 {
        self.0.clone()
    }

    fn temp_mac(&self, t: TempGruu, instance: &str, aor: &Aor) -> HmacSha256 {
        let mut m = self.mac();
        m.update(b"convene temp-gruu\0");
        m.update(&t.binding_id.to_be_bytes());
        m.update(&t.counter.to_be_bytes());
        m.update(instance.to_ascii_lowercase().as_bytes());
        m.update(b"\0");
        m.update(aor.to_string().as_bytes());
        m
    }

    /// The mask hiding a temporary GRUU's binding id and counter, keyed by its HMAC.
    fn temp_mask(&self, tag: &[u8]) -> [u8; 12] {
        let mut m = self.mac();
        m.update(b"convene temp-gruu mask\0");
        m.update(tag);
        let out = m.finalize().into_bytes();
        let mut mask = [0u8; 12];
        for (d, s) in mask.iter_mut().zip(out.iter()) {
            *d = *s;
        }
        mask
    }

    /// The temporary GRUU `sip:tgruu.<b64(HMAC ‖ masked(id ‖ counter))>@domain;gr` (RFC 5627
    /// §5.3: opaque and unguessable; it reveals neither the AOR, the instance, nor how many
    /// bindings or refreshes there were).
    pub(crate) fn temp_gruu(&self, t: TempGruu, instance: &str, aor: &Aor) -> SipUri {
        let full = self.temp_mac(t, instance, aor).finalize().into_bytes();
        let tag = full.get(..MAC_LEN).unwrap_or(&[]);
        let mask = self.temp_mask(tag);
        let mut plain = [0u8; 12];
        plain[..8].copy_from_slice(&t.binding_id.to_be_bytes());
        plain[8..].copy_from_slice(&t.counter.to_be_bytes());
        let mut raw = Vec::with_capacity(MAC_LEN + 12);
        raw.extend_from_slice(tag);
        raw.extend(plain.iter().zip(mask.iter()).map(|(p, m)| p ^ m));
        let user = format!("{TEMP_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw));
        let mut uri = SipUri::new(Some(&user), sip_msg::Host::Domain(aor.domain().to_owned()));
        uri.params.push(UriParam {
            name: "gr".into(),
            value: None,
        });
        uri
    }

    /// The binding id and counter a temporary GRUU's user part claims, and its HMAC
    /// (not yet verified: see [`Secret::verify_temp`]).
    pub(crate) fn parse_temp(&self, user: &str) -> Option<(TempGruu, Vec<u8>)> {
        let b64 = user.strip_prefix(TEMP_PREFIX)?;
        let raw = URL_SAFE_NO_PAD.decode(b64).ok()?;
        if raw.len() != MAC_LEN + 12 {
            return None;
        }
        let tag = raw.get(..MAC_LEN)?;
        let mask = self.temp_mask(tag);
        let mut plain = [0u8; 12];
        for ((d, c), m) in plain.iter_mut().zip(raw.get(MAC_LEN..)?).zip(mask.iter()) {
            *d = c ^ m;
        }
        let id: [u8; 8] = plain.get(..8)?.try_into().ok()?;
        let counter: [u8; 4] = plain.get(8..)?.try_into().ok()?;
        let t = TempGruu {
            binding_id: u64::from_be_bytes(id),
            counter: u32::from_be_bytes(counter),
        };
        Some((t, tag.to_vec()))
    }

    /// Whether `tag` is the HMAC of `t` for this instance and AOR (constant-time compare).
    pub(crate) fn verify_temp(&self, t: TempGruu, tag: &[u8], instance: &str, aor: &Aor) -> bool {
        self.temp_mac(t, instance, aor)
            .verify_truncated_left(tag)
            .is_ok()
    }

    /// A To tag for the REGISTER response, stable for one Call-ID and CSeq
    /// (RFC 3261 §8.2.6.2 asks for a tag; no randomness in a pure crate).
    pub(crate) fn to_tag(&self, call_id: &str, cseq: u32) -> String {
        let mut m = self.mac();
        m.update(b"convene to-tag\0");
        m.update(call_id.as_bytes());
        m.update(&cseq.to_be_bytes());
        let tag = m.finalize().into_bytes();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(16);
        for b in tag.iter().take(8) {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
        out
    }
}

/// The RFC 5627 §3.1 public GRUU: the AOR with `gr=<instance>`.
pub(crate) fn public_gruu(aor: &Aor, instance: &str) -> SipUri {
    let mut uri = aor.to_sip_uri();
    uri.params.push(UriParam {
        name: "gr".into(),
        value: Some(instance.to_owned()),
    });
    uri
}

/// The Lync GRUU `sip:user@domain;opaque=user:epid:<…>;gruu` (MS-SIP.md §2.3).
pub(crate) fn lync_gruu(aor: &Aor, instance: &Guid) -> SipUri {
    let mut uri = aor.to_sip_uri();
    uri.params.push(UriParam {
        name: "opaque".into(),
        value: Some(format!("user:epid:{}", instance.to_user_epid_opaque())),
    });
    uri.params.push(UriParam {
        name: "gruu".into(),
        value: None,
    });
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_gruu_roundtrip_and_forgery() {
        let s = Secret::new(b"0123456789abcdef0123456789abcdef");
        let aor = Aor::new("alice", "example.test");
        let inst = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
        let t = TempGruu {
            binding_id: 7,
            counter: 3,
        };
        let uri = s.temp_gruu(t, inst, &aor);
        let user = uri.user.clone().unwrap();
        assert!(
            !user.contains("alice"),
            "a temp GRUU must not reveal the AOR: {user}"
        );
        assert_eq!(uri.gr(), Some(None));
        let (parsed, tag) = s.parse_temp(&user).unwrap();
        assert_eq!(parsed, t);
        assert!(s.verify_temp(parsed, &tag, inst, &aor));
        // Another secret, instance or AOR does not verify.
        assert!(
            !Secret::new(b"another secret of 32 bytes......").verify_temp(parsed, &tag, inst, &aor)
        );
        assert!(!s.verify_temp(
            parsed,
            &tag,
            "urn:uuid:00000000-0000-0000-0000-000000000000",
            &aor
        ));
        assert!(!s.verify_temp(parsed, &tag, inst, &Aor::new("bob", "example.test")));
        // Counters give different GRUUs.
        let other = s.temp_gruu(TempGruu { counter: 4, ..t }, inst, &aor);
        assert_ne!(other.user, uri.user);
    }

    #[test]
    fn lync_gruu_form() {
        let aor = Aor::new("user", "cosmo.local");
        let g = Guid::parse("34d859db-6585-5f91-a3b4-de853c15347d").unwrap();
        assert_eq!(
            lync_gruu(&aor, &g).to_string(),
            "sip:user@cosmo.local;opaque=user:epid:21nYNIVlkV-jtN6FPBU0fQAA;gruu"
        );
        assert_eq!(
            public_gruu(&aor, "urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d").to_string(),
            "sip:user@cosmo.local;gr=urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d"
        );
    }
}
