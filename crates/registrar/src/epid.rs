//! Microsoft endpoint identity: the `epid` → `+sip.instance` derivation and the
//! `user:epid:` opaque value of a Lync GRUU (MS-SIP.md §2.2, §2.3; [MS-SIPRE] 2.2.3, 3.4).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha1::{Digest, Sha1};

/// A GUID (RFC 4122 layout: Data1 u32, Data2 u16, Data3 u16, Data4 8 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Guid {
    data1: u32,
    data2: u16,
    data3: u16,
    data4: [u8; 8],
}

/// Reverses the byte order of Data1, Data2 and Data3: turns RFC 4122 (big-endian) order into
/// Windows GUID order and back; Data4 is the same in both.
fn swap_fields(mut b: [u8; 16]) -> [u8; 16] {
    b[..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    b
}

/// The namespace GUID of the epid derivation, fcacfb03-8a73-46ef-91b1-e5ebeeaba4fe
/// (MS-SIP.md §2.2, from [impl:sipe uuid.c]).
const EPID_NAMESPACE: Guid = Guid {
    data1: 0xfcac_fb03,
    data2: 0x8a73,
    data3: 0x46ef,
    data4: [0x91, 0xb1, 0xe5, 0xeb, 0xee, 0xab, 0xa4, 0xfe],
};

impl Guid {
    /// Parses the 8-4-4-4-12 text form (either case), with or without a `urn:uuid:` prefix.
    pub fn parse(text: &str) -> Option<Guid> {
        let t = strip_urn_uuid(text);
        let b = t.as_bytes();
        if b.len() != 36 || [8, 13, 18, 23].iter().any(|&i| b.get(i) != Some(&b'-')) {
            return None;
        }
        let hex: String = t.chars().filter(|&c| c != '-').collect();
        if hex.len() != 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let n = u128::from_str_radix(&hex, 16).ok()?;
        Some(Guid::from_rfc_bytes(n.to_be_bytes()))
    }

    /// The GUID from its 16 bytes in RFC 4122 (big-endian) order.
    fn from_rfc_bytes(b: [u8; 16]) -> Guid {
        let [
            a0,
            a1,
            a2,
            a3,
            b0,
            b1,
            c0,
            c1,
            d0,
            d1,
            d2,
            d3,
            d4,
            d5,
            d6,
            d7,
        ] = b;
        Guid {
            data1: u32::from_be_bytes([a0, a1, a2, a3]),
            data2: u16::from_be_bytes([b0, b1]),
            data3: u16::from_be_bytes([c0, c1]),
            data4: [d0, d1, d2, d3, d4, d5, d6, d7],
        }
    }

    /// The GUID from 16 bytes in Windows GUID order (Data1..3 little-endian).
    pub fn from_windows_bytes(b: [u8; 16]) -> Guid {
        Guid::from_rfc_bytes(swap_fields(b))
    }

    /// The 16 bytes in Windows GUID order (Data1 LE u32, Data2/Data3 LE u16, Data4 raw).
    pub fn to_windows_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..4].copy_from_slice(&self.data1.to_le_bytes());
        out[4..6].copy_from_slice(&self.data2.to_le_bytes());
        out[6..8].copy_from_slice(&self.data3.to_le_bytes());
        out[8..].copy_from_slice(&self.data4);
        out
    }

    /// The `+sip.instance` GUID a Microsoft client derives from its `epid` (MS-SIP.md §2.2):
    /// SHA-1 over the namespace GUID in Windows byte order followed by the epid's bytes, the first
    /// 16 bytes read as a Windows GUID, version 5 in Data3's top nibble, variant `10` in Data4[0].
    pub fn from_epid(epid: &str) -> Guid {
        let mut h = Sha1::new();
        h.update(EPID_NAMESPACE.to_windows_bytes());
        h.update(epid.as_bytes());
        let digest = h.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        let mut g = Guid::from_windows_bytes(first);
        g.data3 = (g.data3 & 0x0fff) | 0x5000;
        g.data4[0] = (g.data4[0] & 0x3f) | 0x80;
        g
    }

    /// The `user:epid:` value of a Lync GRUU (MS-SIP.md §2.3): base64url without padding of the
    /// GUID in Windows byte order followed by two zero bytes (24 characters).
    pub fn to_user_epid_opaque(&self) -> String {
        let mut bytes = [0u8; 18];
        bytes[..16].copy_from_slice(&self.to_windows_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The GUID encoded in a `user:epid:` value (the inverse of [`Guid::to_user_epid_opaque`]);
    /// `None` unless it is 18 bytes ending in two zero bytes.
    pub fn from_user_epid_opaque(value: &str) -> Option<Guid> {
        let bytes = URL_SAFE_NO_PAD.decode(value).ok()?;
        if bytes.len() != 18 || bytes.get(16..) != Some(&[0u8, 0][..]) {
            return None;
        }
        let guid: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
        Some(Guid::from_windows_bytes(guid))
    }

    /// The `urn:uuid:` form as sent in `+sip.instance` (lower case).
    pub fn to_urn(&self) -> String {
        format!("urn:uuid:{self}")
    }
}

impl fmt::Display for Guid {
    /// The 8-4-4-4-12 text in lower case.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

/// `text` without a leading `urn:uuid:` (case-insensitive).
pub(crate) fn strip_urn_uuid(text: &str) -> &str {
    match text.get(..9) {
        Some(p) if p.eq_ignore_ascii_case("urn:uuid:") => text.get(9..).unwrap_or(""),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // MS-SIP.md §2.2: verified epid → +sip.instance vectors.
    #[test]
    fn epid_vectors() {
        let cases = [
            ("8248ca9ebb", "4233FD41-093B-5FD6-B5D2-651ED55969E6"), // [MS-SIPAE] 4.1
            ("2ebb6f264f", "124841E4-264D-52E8-96C5-D22AA8CDC316"), // [MS-SIPAE] 4.2
            ("c8ca638a15", "34d859db-6585-5f91-a3b4-de853c15347d"), // OCS 2007 R2 capture
            ("4edd74c4be", "CC4F4797-4760-58C5-8CAB-8AB72E4546BC"), // Lync 2013, seed-003
            ("23c6af65b1", "66eba12c-2835-5ec5-ba3a-2f2d824d40f6"), // seed-003
        ];
        for (epid, instance) in cases {
            let expected = Guid::parse(instance).unwrap();
            assert_eq!(Guid::from_epid(epid), expected, "epid {epid}");
            assert_eq!(
                Guid::from_epid(epid).to_string(),
                instance.to_ascii_lowercase()
            );
        }
    }

    // MS-SIP.md §2.2 note: the textbook RFC 4122 v5 value differs; we must not produce it.
    #[test]
    fn not_the_big_endian_v5() {
        assert_ne!(
            Guid::from_epid("c8ca638a15").to_string(),
            "97e1f97c-152c-50f0-b707-8873868c7e5f"
        );
    }

    // MS-SIP.md §2.3: user:epid opaque vectors, both directions.
    #[test]
    fn user_epid_vectors() {
        let cases = [
            (
                "34d859db-6585-5f91-a3b4-de853c15347d",
                "21nYNIVlkV-jtN6FPBU0fQAA",
            ),
            (
                "66eba12c-2835-5ec5-ba3a-2f2d824d40f6",
                "LKHrZjUoxV66Oi8tgk1A9gAA",
            ),
        ];
        for (instance, opaque) in cases {
            let g = Guid::parse(instance).unwrap();
            assert_eq!(g.to_user_epid_opaque(), opaque);
            assert_eq!(Guid::from_user_epid_opaque(opaque), Some(g));
        }
        // The whole chain from the epid of the OCS capture.
        assert_eq!(
            Guid::from_epid("c8ca638a15").to_user_epid_opaque(),
            "21nYNIVlkV-jtN6FPBU0fQAA"
        );
    }

    #[test]
    fn parse_rejects_bad_text() {
        assert!(Guid::parse("urn:uuid:34d859db-6585-5f91-a3b4-de853c15347d").is_some());
        assert!(Guid::parse("URN:UUID:34D859DB-6585-5F91-A3B4-DE853C15347D").is_some());
        assert!(Guid::parse("34d859db65855f91a3b4de853c15347d").is_none());
        assert!(Guid::parse("34d859db-6585-5f91-a3b4-de853c15347").is_none());
        assert!(Guid::parse("34d859db-6585-5f91-a3b4-de853c15347g").is_none());
        assert!(Guid::parse("+4d859db-6585-5f91-a3b4-de853c15347d").is_none());
        // Not 18 bytes, or no two trailing zero bytes.
        assert!(Guid::from_user_epid_opaque("21nYNIVlkV-jtN6FPBU0fQ").is_none());
        assert!(Guid::from_user_epid_opaque("21nYNIVlkV-jtN6FPBU0fQAB").is_none());
        assert!(Guid::from_user_epid_opaque("!!").is_none());
    }
}
