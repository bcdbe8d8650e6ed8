//! STUN message model and codec for both dialects: the 20-byte header (RFC 8489 §5, and the
//! cookie-less [MS-TURN] 2.2.1 header), attribute walking, MESSAGE-INTEGRITY(-SHA256) and
//! FINGERPRINT (RFC 8489 §14.5–§14.7), and the long-term / short-term keys (RFC 8489 §9).

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

use crate::attr::{AttrError, Attribute, types};

/// RFC 8489 §5: the fixed magic cookie in bytes 4..8 of every RFC 5389+ message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// [MS-TURN] 2.2.2.8: value of the MAGIC-COOKIE attribute that starts every MS-TURN message.
pub const MS_MAGIC_COOKIE: u32 = 0x72C6_4BC6;
/// RFC 8489 §14.7: the CRC-32 of FINGERPRINT is XORed with this ("STUN").
pub const FINGERPRINT_XOR: u32 = 0x5354_554E;
/// RFC 8489 §5: header length in bytes (both dialects).
pub const HEADER_LEN: usize = 20;

/// Which STUN dialect a message speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// RFC 8489 STUN / RFC 8656 TURN: magic cookie in the header, 96-bit transaction id.
    Stun,
    /// [MS-TURN]: no cookie in the header, 128-bit transaction id, MAGIC-COOKIE attribute first.
    MsTurn,
}

/// A transaction id; its variant is the dialect of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionId {
    /// RFC 8489 §5: 96 bits after the magic cookie.
    Stun([u8; 12]),
    /// [MS-TURN] 2.2.1: 128 bits right after the length.
    MsTurn([u8; 16]),
}

impl TransactionId {
    /// The dialect this id belongs to.
    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Stun(_) => Dialect::Stun,
            Self::MsTurn(_) => Dialect::MsTurn,
        }
    }

    /// The id's bytes (12 or 16).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Stun(b) => b,
            Self::MsTurn(b) => b,
        }
    }

    /// Header bytes 4..20: cookie + id for STUN, the id alone for MS-TURN.
    fn header_tail(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        match self {
            Self::Stun(id) => {
                out[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
                out[4..].copy_from_slice(id);
            }
            Self::MsTurn(id) => out = *id,
        }
        out
    }
}

/// RFC 8489 §5 message class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// C1C0 = 00.
    Request,
    /// C1C0 = 01.
    Indication,
    /// C1C0 = 10.
    SuccessResponse,
    /// C1C0 = 11.
    ErrorResponse,
}

/// RFC 8489 §5 method (12 bits). The meaning of a number depends on the dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Method(pub u16);

impl Method {
    /// RFC 8489 §18.2 Binding.
    pub const BINDING: Self = Self(0x001);
    /// RFC 8656 §17 Allocate (also [MS-TURN] 0x0003).
    pub const ALLOCATE: Self = Self(0x003);
    /// RFC 8656 §17 Refresh.
    pub const REFRESH: Self = Self(0x004);
    /// RFC 8656 §17 Send (indication only).
    pub const SEND: Self = Self(0x006);
    /// RFC 8656 §17 Data (indication only); in MS-TURN the Data Indication type 0x0115.
    pub const DATA: Self = Self(0x007);
    /// RFC 8656 §17 CreatePermission.
    pub const CREATE_PERMISSION: Self = Self(0x008);
    /// RFC 8656 §17 ChannelBind.
    pub const CHANNEL_BIND: Self = Self(0x009);
    /// [MS-TURN] 2.2.1 Send request, type 0x0004.
    pub const MS_SEND: Self = Self(0x004);
    /// [MS-TURN] 2.2.1 Set Active Destination request, type 0x0006.
    pub const MS_SET_ACTIVE_DESTINATION: Self = Self(0x006);
}

/// [MS-TURN] 2.2.1: Data Indication type, an old-draft code outside the class/method scheme.
pub const MS_DATA_INDICATION_TYPE: u16 = 0x0115;

/// A decoded or to-be-encoded STUN/TURN/MS-TURN message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request, indication, success or error response.
    pub class: Class,
    /// The method (dialect-dependent meaning).
    pub method: Method,
    /// Transaction id; its variant selects the dialect.
    pub transaction_id: TransactionId,
    /// Attributes in wire order.
    pub attributes: Vec<Attribute>,
}

/// Why bytes are not a STUN message (such input is dropped, or answered 400 when the header is sound).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than a header.
    #[error("{len} bytes is shorter than the 20-byte STUN header")]
    TooShort {
        /// Bytes given.
        len: usize,
    },
    /// RFC 8489 §5: the two most significant bits must be zero.
    #[error("the two leading bits of the message type are not zero")]
    NotStun,
    /// Neither the RFC magic cookie nor an MS-TURN MAGIC-COOKIE first attribute.
    #[error("neither the 0x2112A442 header cookie nor an MS-TURN MAGIC-COOKIE first attribute")]
    NoCookie,
    /// RFC 8489 §5: the length field counts the attribute bytes, always a multiple of 4.
    #[error("length field {declared} does not match the {actual} bytes after the header")]
    Length {
        /// Length field value.
        declared: usize,
        /// Bytes after the header.
        actual: usize,
    },
    /// An attribute header or value runs past the end of the message.
    #[error("attribute at offset {offset} runs past the end of the message")]
    Overrun {
        /// Byte offset of the attribute header.
        offset: usize,
    },
    /// A known attribute with a malformed value.
    #[error("attribute {typ:#06x} at offset {offset}: {error}")]
    Attribute {
        /// Wire type.
        typ: u16,
        /// Byte offset of the attribute header.
        offset: usize,
        /// What is wrong.
        error: AttrError,
    },
    /// RFC 8489 §14.7: FINGERPRINT must be the last attribute.
    #[error("attribute after FINGERPRINT at offset {offset}")]
    AfterFingerprint {
        /// Byte offset of the offending attribute.
        offset: usize,
    },
    /// RFC 8489 §14.7: the CRC does not match.
    #[error("FINGERPRINT does not match the message")]
    Fingerprint,
}

/// Why a message could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The attribute has no number in this dialect.
    #[error("attribute {0:?} does not exist in the {1:?} dialect")]
    NotInDialect(Box<Attribute>, Dialect),
    /// An attribute value or the whole message exceeds 65535 bytes.
    #[error("message or attribute longer than 65535 bytes")]
    TooLong,
    /// RFC 8489 §5: methods have 12 bits.
    #[error("method {0:#x} does not fit in 12 bits")]
    Method(u16),
    /// [MS-TURN]: this class/method pair collides with the Data Indication code 0x0115.
    #[error("class/method collides with the MS-TURN Data Indication type 0x0115")]
    MsTypeCollision,
    /// An MS-TURN transaction id starting with 0x2112A442 would be read back as RFC STUN.
    #[error("MS-TURN transaction id starts with the RFC 8489 magic cookie")]
    MsTransactionIdIsCookie,
}

/// Why MESSAGE-INTEGRITY(-SHA256) verification failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    /// The message carries neither integrity attribute.
    #[error("no MESSAGE-INTEGRITY attribute")]
    Missing,
    /// The HMAC does not match.
    #[error("MESSAGE-INTEGRITY does not match")]
    Mismatch,
    /// The bytes are not a well-formed STUN message.
    #[error("malformed message")]
    Malformed,
}

/// Which integrity attribute [`verify_integrity`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrityKind {
    /// MESSAGE-INTEGRITY (HMAC-SHA1).
    Sha1,
    /// MESSAGE-INTEGRITY-SHA256.
    Sha256,
}

/// The HMAC key of RFC 8489 §9.
#[derive(Clone, PartialEq, Eq)]
pub struct IntegrityKey(Vec<u8>);

impl std::fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntegrityKey(<redacted>)")
    }
}

impl IntegrityKey {
    /// RFC 8489 §9.1.1 short-term key: the (OpaqueString-prepared) password itself.
    pub fn short_term(password: &str) -> Self {
        Self(password.as_bytes().to_vec())
    }

    /// RFC 8489 §9.2.2 long-term key: MD5(username ":" realm ":" password).
    ///
    /// Callers pass already-prepared strings (SASLprep/OpaqueString is not applied here).
    pub fn long_term(username: &str, realm: &str, password: &str) -> Self {
        let mut h = Md5::new();
        h.update(username.as_bytes());
        h.update(b":");
        h.update(realm.as_bytes());
        h.update(b":");
        h.update(password.as_bytes());
        Self(h.finalize().to_vec())
    }

    /// A key from raw bytes (e.g. a stored MD5 long-term key).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// RFC 8489 §5: interleaves class bits C1 (bit 8) and C0 (bit 4) into the method bits.
fn compose_type(class: Class, method: Method) -> u16 {
    let m = method.0;
    let (c1, c0) = match class {
        Class::Request => (0, 0),
        Class::Indication => (0, 1),
        Class::SuccessResponse => (1, 0),
        Class::ErrorResponse => (1, 1),
    };
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | (c0 << 4) | (c1 << 8)
}

/// Inverse of [`compose_type`].
fn split_type(t: u16) -> (Class, Method) {
    let class = match ((t >> 8) & 1, (t >> 4) & 1) {
        (0, 0) => Class::Request,
        (0, _) => Class::Indication,
        (_, 0) => Class::SuccessResponse,
        _ => Class::ErrorResponse,
    };
    let method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80);
    (class, Method(method))
}

/// The fields of a header that passed the dialect checks, without attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message class.
    pub class: Class,
    /// Method.
    pub method: Method,
    /// Transaction id (and so the dialect).
    pub transaction_id: TransactionId,
    /// Length field: attribute bytes after the header.
    pub length: usize,
}

/// Reads a STUN or MS-TURN header; does not look past the first attribute.
pub fn peek_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    let head: &[u8; HEADER_LEN] = bytes
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(DecodeError::TooShort { len: bytes.len() })?;
    let msg_type = u16::from_be_bytes([head[0], head[1]]);
    // RFC 8489 §5 / [MS-TURN] 2.2.1: the top two bits are zero in both dialects.
    if msg_type & 0xC000 != 0 {
        return Err(DecodeError::NotStun);
    }
    let length = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let cookie = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let transaction_id = if cookie == MAGIC_COOKIE {
        let mut id = [0u8; 12];
        id.copy_from_slice(&head[8..]);
        TransactionId::Stun(id)
    } else {
        // [MS-TURN] 3.1.10: no header cookie; the MAGIC-COOKIE attribute must come first.
        let first = bytes.get(HEADER_LEN..HEADER_LEN + 8);
        let mut expect = [0u8; 8];
        expect[..2].copy_from_slice(&types::MS_MAGIC_COOKIE.to_be_bytes());
        expect[2..4].copy_from_slice(&4u16.to_be_bytes());
        expect[4..].copy_from_slice(&MS_MAGIC_COOKIE.to_be_bytes());
        if first != Some(&expect[..]) {
            return Err(DecodeError::NoCookie);
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&head[4..]);
        TransactionId::MsTurn(id)
    };
    let (class, method) =
        if transaction_id.dialect() == Dialect::MsTurn && msg_type == MS_DATA_INDICATION_TYPE {
            (Class::Indication, Method::DATA)
        } else {
            split_type(msg_type)
        };
    Ok(Header {
        class,
        method,
        transaction_id,
        length,
    })
}

/// Padding after a value of `len` bytes (RFC 8489 §14: values are padded to 4 bytes).
fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// One attribute's position inside a message.
pub(crate) struct RawAttr<'a> {
    pub(crate) typ: u16,
    pub(crate) offset: usize,
    pub(crate) value: &'a [u8],
}

/// Walks the TLVs of `body` (the bytes after the header); `offset` counts from the message start.
pub(crate) fn walk(bytes: &[u8]) -> impl Iterator<Item = Result<RawAttr<'_>, DecodeError>> {
    let mut offset = HEADER_LEN;
    std::iter::from_fn(move || {
        if offset >= bytes.len() {
            return None;
        }
        let start = offset;
        let Some(h) = bytes.get(start..start + 4) else {
            offset = bytes.len();
            return Some(Err(DecodeError::Overrun { offset: start }));
        };
        let typ = u16::from_be_bytes([h[0], h[1]]);
        let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
        let Some(value) = bytes.get(start + 4..start + 4 + len) else {
            offset = bytes.len();
            return Some(Err(DecodeError::Overrun { offset: start }));
        };
        offset = start + 4 + len + pad4(len);
        Some(Ok(RawAttr {
            typ,
            offset: start,
            value,
        }))
    })
}

/// RFC 8489 §14.7: CRC-32 of the message up to FINGERPRINT, XOR 0x5354554e.
pub(crate) fn fingerprint(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes) ^ FINGERPRINT_XOR
}

/// Decodes one STUN or MS-TURN message occupying exactly `bytes`.
///
/// Checks FINGERPRINT when present; MESSAGE-INTEGRITY needs a key: see [`verify_integrity`].
/// Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are
/// ignored (RFC 8489 §14.5).
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let header = peek_header(bytes)?;
    let actual = bytes.len() - HEADER_LEN;
    if header.length != actual || !actual.is_multiple_of(4) {
        return Err(DecodeError::Length {
            declared: header.length,
            actual,
        });
    }
    let dialect = header.transaction_id.dialect();
    let mut attributes = Vec::new();
    let mut seen_integrity = false;
    let mut seen_fingerprint = false;
    for raw in walk(bytes) {
        let raw = raw?;
        if seen_fingerprint {
            return Err(DecodeError::AfterFingerprint { offset: raw.offset });
        }
        if raw.typ == types::FINGERPRINT {
            let crc = fingerprint(bytes.get(..raw.offset).unwrap_or_default());
            if raw.value != crc.to_be_bytes() {
                return Err(DecodeError::Fingerprint);
            }
            seen_fingerprint = true;
        } else if seen_integrity
            && !(dialect == Dialect::Stun && raw.typ == types::MESSAGE_INTEGRITY_SHA256)
        {
            // RFC 8489 §14.5: ignore what follows MESSAGE-INTEGRITY.
            continue;
        }
        let attr = Attribute::decode(dialect, raw.typ, raw.value, &header.transaction_id).map_err(
            |error| DecodeError::Attribute {
                typ: raw.typ,
                offset: raw.offset,
                error,
            },
        )?;
        if matches!(attr, Attribute::MessageIntegrity(_)) {
            seen_integrity = true;
        }
        attributes.push(attr);
    }
    Ok(Message {
        class: header.class,
        method: header.method,
        transaction_id: header.transaction_id,
        attributes,
    })
}

/// The HMAC input of one integrity attribute: header with the length adjusted to end at the
/// attribute (RFC 8489 §14.5), then the attributes before it; in MS-TURN zero-padded to a
/// multiple of 64 bytes (draft-STUN-02 §10.2.8 lineage, as libnice's OC2007 mode does).
fn hmac_input<M: Mac>(mac: &mut M, bytes: &[u8], at: usize, attr_len: usize, dialect: Dialect) {
    let fake_len = (at + 4 + attr_len - HEADER_LEN) as u16;
    mac.update(bytes.get(..2).unwrap_or_default());
    mac.update(&fake_len.to_be_bytes());
    mac.update(bytes.get(4..at).unwrap_or_default());
    if dialect == Dialect::MsTurn && !at.is_multiple_of(64) {
        mac.update(&[0u8; 64][..64 - at % 64]);
    }
}

/// HMAC-SHA1 of RFC 8489 §14.5 for an attribute at `at` (`None` only if the MAC rejects the key,
/// which HMAC never does: it takes keys of any length).
fn hmac_sha1(key: &IntegrityKey, bytes: &[u8], at: usize, dialect: Dialect) -> Option<Hmac<Sha1>> {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes()).ok()?;
    hmac_input(&mut mac, bytes, at, 20, dialect);
    Some(mac)
}

/// HMAC-SHA256 of RFC 8489 §14.6 for an attribute of `len` bytes at `at`.
fn hmac_sha256(key: &IntegrityKey, bytes: &[u8], at: usize, len: usize) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).ok()?;
    hmac_input(&mut mac, bytes, at, len, Dialect::Stun);
    Some(mac)
}

/// Verifies MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY (RFC 8489 §14.5/§14.6).
pub fn verify_integrity(bytes: &[u8], key: &IntegrityKey) -> Result<IntegrityKind, IntegrityError> {
    let header = peek_header(bytes).map_err(|_| IntegrityError::Malformed)?;
    let dialect = header.transaction_id.dialect();
    let mut sha1_at = None;
    let mut sha256_at = None;
    for raw in walk(bytes) {
        let raw = raw.map_err(|_| IntegrityError::Malformed)?;
        match raw.typ {
            types::MESSAGE_INTEGRITY if sha1_at.is_none() && sha256_at.is_none() => {
                sha1_at = Some((raw.offset, raw.value))
            }
            types::MESSAGE_INTEGRITY_SHA256 if dialect == Dialect::Stun && sha256_at.is_none() => {
                sha256_at = Some((raw.offset, raw.value))
            }
            _ => {}
        }
    }
    if let Some((at, value)) = sha256_at {
        let mac = hmac_sha256(key, bytes, at, value.len()).ok_or(IntegrityError::Mismatch)?;
        return mac
            .verify_truncated_left(value)
            .map(|()| IntegrityKind::Sha256)
            .map_err(|_| IntegrityError::Mismatch);
    }
    if let Some((at, value)) = sha1_at {
        let mac = hmac_sha1(key, bytes, at, dialect).ok_or(IntegrityError::Mismatch)?;
        return mac
            .verify_slice(value)
            .map(|()| IntegrityKind::Sha1)
            .map_err(|_| IntegrityError::Mismatch);
    }
    Err(IntegrityError::Missing)
}

impl Message {
    /// A message with no attributes.
    pub fn new(class: Class, method: Method, transaction_id: TransactionId) -> Self {
        Self {
            class,
            method,
            transaction_id,
            attributes: Vec::new(),
        }
    }

    /// The dialect, from the transaction id.
    pub fn dialect(&self) -> Dialect {
        self.transaction_id.dialect()
    }

    /// Appends an attribute (builder style).
    #[must_use]
    pub fn with(mut self, attr: Attribute) -> Self {
        self.attributes.push(attr);
        self
    }

    /// The first attribute `f` maps to `Some`.
    pub fn find<'a, T>(&'a self, f: impl Fn(&'a Attribute) -> Option<T>) -> Option<T> {
        self.attributes.iter().find_map(f)
    }

    /// The message type field for this class/method in this dialect.
    pub fn message_type(&self) -> Result<u16, EncodeError> {
        if self.method.0 > 0x0FFF {
            return Err(EncodeError::Method(self.method.0));
        }
        let t = compose_type(self.class, self.method);
        if self.dialect() == Dialect::MsTurn {
            // [MS-TURN] 2.2.1: the Data Indication keeps its old-draft code.
            if self.class == Class::Indication && self.method == Method::DATA {
                return Ok(MS_DATA_INDICATION_TYPE);
            }
            if t == MS_DATA_INDICATION_TYPE {
                return Err(EncodeError::MsTypeCollision);
            }
        }
        Ok(t)
    }

    /// Encodes the message. With `key`, MESSAGE-INTEGRITY(-SHA256) values are computed;
    /// without, stored values are written as they are. FINGERPRINT is always computed.
    pub fn encode(&self, key: Option<&IntegrityKey>) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(128);
        self.encode_into(key, &mut out)?;
        Ok(out)
    }

    /// Like [`Message::encode`], appending to `out` (which must be empty or is cleared).
    pub fn encode_into(
        &self,
        key: Option<&IntegrityKey>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let dialect = self.dialect();
        if let TransactionId::MsTurn(id) = &self.transaction_id
            && id.starts_with(&MAGIC_COOKIE.to_be_bytes())
        {
            return Err(EncodeError::MsTransactionIdIsCookie);
        }
        out.clear();
        out.extend_from_slice(&self.message_type()?.to_be_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&self.transaction_id.header_tail());
        for attr in &self.attributes {
            let typ = attr
                .wire_type(dialect)
                .ok_or_else(|| EncodeError::NotInDialect(Box::new(attr.clone()), dialect))?;
            let at = out.len();
            out.extend_from_slice(&typ.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            attr.encode_value(&self.transaction_id, out);
            let len = out.len() - at - 4;
            let len16 = u16::try_from(len).map_err(|_| EncodeError::TooLong)?;
            out[at + 2..at + 4].copy_from_slice(&len16.to_be_bytes());
            out.resize(out.len() + pad4(len), 0);
            let total = u16::try_from(out.len() - HEADER_LEN).map_err(|_| EncodeError::TooLong)?;
            match attr {
                Attribute::MessageIntegrity(_) => {
                    if let Some(mac) = key.and_then(|k| hmac_sha1(k, out, at, dialect)) {
                        let tag = mac.finalize().into_bytes();
                        out[at + 4..at + 24].copy_from_slice(&tag);
                    }
                }
                Attribute::MessageIntegritySha256(v) => {
                    if let Some(mac) = key.and_then(|k| hmac_sha256(k, out, at, v.len())) {
                        let tag = mac.finalize().into_bytes();
                        let n = v.len().min(tag.len());
                        out[at + 4..at + 4 + n].copy_from_slice(&tag[..n]);
                    }
                }
                Attribute::Fingerprint => {
                    // RFC 8489 §14.7: the length field covers FINGERPRINT when the CRC is taken.
                    out[2..4].copy_from_slice(&total.to_be_bytes());
                    let crc = fingerprint(&out[..at]);
                    out[at + 4..at + 8].copy_from_slice(&crc.to_be_bytes());
                }
                _ => {}
            }
        }
        let total = u16::try_from(out.len() - HEADER_LEN).map_err(|_| EncodeError::TooLong)?;
        out[2..4].copy_from_slice(&total.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_interleaving_matches_rfc_8656_table() {
        // RFC 8489 §5 and RFC 8656 §17: well-known type codes.
        let cases = [
            (Class::Request, Method::BINDING, 0x0001),
            (Class::SuccessResponse, Method::BINDING, 0x0101),
            (Class::ErrorResponse, Method::BINDING, 0x0111),
            (Class::Request, Method::ALLOCATE, 0x0003),
            (Class::ErrorResponse, Method::ALLOCATE, 0x0113),
            (Class::Indication, Method::SEND, 0x0016),
            (Class::Indication, Method::DATA, 0x0017),
            (Class::Request, Method::CHANNEL_BIND, 0x0009),
            (Class::SuccessResponse, Method::CREATE_PERMISSION, 0x0108),
        ];
        for (class, method, t) in cases {
            assert_eq!(compose_type(class, method), t, "{class:?} {method:?}");
            assert_eq!(split_type(t), (class, method));
        }
        // The whole 14-bit space round-trips.
        for t in 0..0x4000u16 {
            let (c, m) = split_type(t);
            assert_eq!(compose_type(c, m), t);
        }
    }

    #[test]
    fn long_term_key_is_md5_of_user_realm_password() {
        // MD5("user:realm:pass") computed independently (python hashlib).
        let k = IntegrityKey::long_term("user", "realm", "pass");
        assert_eq!(
            k.as_bytes(),
            [
                0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb, 0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc,
                0x40, 0xeb
            ]
        );
    }

    #[test]
    fn ms_turn_data_indication_uses_0x0115() {
        let m = Message::new(
            Class::Indication,
            Method::DATA,
            TransactionId::MsTurn([7; 16]),
        )
        .with(Attribute::MsMagicCookie);
        let bytes = m.encode(None).unwrap();
        assert_eq!(&bytes[..2], &[0x01, 0x15]);
        assert_eq!(decode(&bytes).unwrap(), m);
    }

    #[test]
    fn fingerprint_mismatch_is_rejected() {
        let m = Message::new(
            Class::Request,
            Method::BINDING,
            TransactionId::Stun([1; 12]),
        )
        .with(Attribute::Fingerprint);
        let mut bytes = m.encode(None).unwrap();
        assert_eq!(decode(&bytes).unwrap(), m);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(decode(&bytes), Err(DecodeError::Fingerprint));
    }
}
