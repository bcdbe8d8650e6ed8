//! STUN/TURN/MS-TURN attributes: the typed model, the numbering of each dialect and the value codec.
//!
//! One [`Attribute`] enum serves both dialects; the wire number of an attribute depends on the
//! dialect (MS-TURN swaps REALM/NONCE and uses 0x8020 for XOR-MAPPED-ADDRESS, [MS-TURN] 2.2.2).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::message::{Dialect, MAGIC_COOKIE, TransactionId};

/// Wire numbers of the attributes this crate knows, per dialect.
pub mod types {
    /// RFC 8489 §14.1 MAPPED-ADDRESS (both dialects).
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// RFC 8489 §14.3 USERNAME (both dialects).
    pub const USERNAME: u16 = 0x0006;
    /// RFC 8489 §14.5 MESSAGE-INTEGRITY (both dialects).
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// RFC 8489 §14.8 ERROR-CODE (both dialects).
    pub const ERROR_CODE: u16 = 0x0009;
    /// RFC 8489 §14.13 UNKNOWN-ATTRIBUTES (both dialects).
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    /// RFC 8656 §18.1 CHANNEL-NUMBER.
    pub const CHANNEL_NUMBER: u16 = 0x000C;
    /// RFC 8656 §18.2 LIFETIME (both dialects).
    pub const LIFETIME: u16 = 0x000D;
    /// RFC 8656 §18.3 XOR-PEER-ADDRESS.
    pub const XOR_PEER_ADDRESS: u16 = 0x0012;
    /// RFC 8656 §18.4 DATA (both dialects).
    pub const DATA: u16 = 0x0013;
    /// RFC 8489 §14.9 REALM.
    pub const REALM: u16 = 0x0014;
    /// RFC 8489 §14.10 NONCE.
    pub const NONCE: u16 = 0x0015;
    /// RFC 8656 §18.5 XOR-RELAYED-ADDRESS.
    pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
    /// RFC 8656 §18.6 REQUESTED-ADDRESS-FAMILY (both dialects).
    pub const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
    /// RFC 8656 §18.7 EVEN-PORT.
    pub const EVEN_PORT: u16 = 0x0018;
    /// RFC 8656 §18.8 REQUESTED-TRANSPORT.
    pub const REQUESTED_TRANSPORT: u16 = 0x0019;
    /// RFC 8656 §18.9 DONT-FRAGMENT.
    pub const DONT_FRAGMENT: u16 = 0x001A;
    /// RFC 8489 §14.6 MESSAGE-INTEGRITY-SHA256.
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    /// RFC 8489 §14.2 XOR-MAPPED-ADDRESS.
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// RFC 8656 §18.10 RESERVATION-TOKEN.
    pub const RESERVATION_TOKEN: u16 = 0x0022;
    /// RFC 8445 §16.1 PRIORITY.
    pub const PRIORITY: u16 = 0x0024;
    /// RFC 8445 §16.1 USE-CANDIDATE.
    pub const USE_CANDIDATE: u16 = 0x0025;
    /// RFC 8656 §18.11 ADDITIONAL-ADDRESS-FAMILY.
    pub const ADDITIONAL_ADDRESS_FAMILY: u16 = 0x8000;
    /// RFC 8489 §14.14 SOFTWARE (both dialects).
    pub const SOFTWARE: u16 = 0x8022;
    /// RFC 8489 §14.15 ALTERNATE-SERVER.
    pub const ALTERNATE_SERVER: u16 = 0x8023;
    /// RFC 8489 §14.7 FINGERPRINT (both dialects).
    pub const FINGERPRINT: u16 = 0x8028;
    /// RFC 8445 §16.1 ICE-CONTROLLED.
    pub const ICE_CONTROLLED: u16 = 0x8029;
    /// RFC 8445 §16.1 ICE-CONTROLLING.
    pub const ICE_CONTROLLING: u16 = 0x802A;

    /// [MS-TURN] 2.2.2 Alternate Server (RFC numbering: 0x8023).
    pub const MS_ALTERNATE_SERVER: u16 = 0x000E;
    /// [MS-TURN] 2.2.2.8 Magic Cookie, must be the first attribute.
    pub const MS_MAGIC_COOKIE: u16 = 0x000F;
    /// [MS-TURN] 2.2.2 Bandwidth (draft-era).
    pub const MS_BANDWIDTH: u16 = 0x0010;
    /// [MS-TURN] 2.2.2 Destination Address.
    pub const MS_DESTINATION_ADDRESS: u16 = 0x0011;
    /// [MS-TURN] 2.2.2 Remote Address (RFC 8656 reuses 0x0012 as XOR-PEER-ADDRESS).
    pub const MS_REMOTE_ADDRESS: u16 = 0x0012;
    /// [MS-TURN] 2.2.2 Nonce (RFC 8489: 0x0014 is REALM).
    pub const MS_NONCE: u16 = 0x0014;
    /// [MS-TURN] 2.2.2 Realm (RFC 8489: 0x0015 is NONCE).
    pub const MS_REALM: u16 = 0x0015;
    /// [MS-TURN] 2.2.2.17 MS-Version.
    pub const MS_VERSION: u16 = 0x8008;
    /// [MS-TURN] 2.2.2.16 XOR Mapped Address (optional-range number).
    pub const MS_XOR_MAPPED_ADDRESS: u16 = 0x8020;
    /// [MS-TURN] 2.2.2.21 MS-Sequence Number.
    pub const MS_SEQUENCE_NUMBER: u16 = 0x8050;
    /// [MS-TURN] MS-Service Quality.
    pub const MS_SERVICE_QUALITY: u16 = 0x8055;
}

/// RFC 8489 §14.3: USERNAME MUST be less than 513 bytes.
const MAX_USERNAME: usize = 512;
/// RFC 8489 §14.9/§14.10/§14.14: fewer than 128 characters, at most 763 bytes.
const MAX_TEXT: usize = 763;

/// One STUN/TURN/MS-TURN attribute, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute {
    /// RFC 8489 §14.1 MAPPED-ADDRESS; [MS-TURN] uses it for the relayed address.
    MappedAddress(SocketAddr),
    /// RFC 8489 §14.2 XOR-MAPPED-ADDRESS ([MS-TURN] numbers it 0x8020).
    XorMappedAddress(SocketAddr),
    /// RFC 8489 §14.3 USERNAME.
    Username(String),
    /// RFC 8489 §14.5 MESSAGE-INTEGRITY (HMAC-SHA1); computed by the encoder when given a key.
    MessageIntegrity([u8; 20]),
    /// RFC 8489 §14.6 MESSAGE-INTEGRITY-SHA256 (16..=32 bytes, multiple of 4).
    MessageIntegritySha256(Vec<u8>),
    /// RFC 8489 §14.7 FINGERPRINT; its value is computed on encode and checked on decode.
    Fingerprint,
    /// RFC 8489 §14.8 ERROR-CODE.
    ErrorCode {
        /// Status code 300..=699.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// RFC 8489 §14.9 REALM.
    Realm(String),
    /// RFC 8489 §14.10 NONCE.
    Nonce(String),
    /// RFC 8489 §14.13 UNKNOWN-ATTRIBUTES.
    UnknownAttributes(Vec<u16>),
    /// RFC 8489 §14.14 SOFTWARE.
    Software(String),
    /// RFC 8489 §14.15 ALTERNATE-SERVER ([MS-TURN]: 0x000E).
    AlternateServer(SocketAddr),
    /// RFC 8656 §18.1 CHANNEL-NUMBER.
    ChannelNumber(u16),
    /// RFC 8656 §18.2 LIFETIME in seconds.
    Lifetime(u32),
    /// RFC 8656 §18.3 XOR-PEER-ADDRESS.
    XorPeerAddress(SocketAddr),
    /// RFC 8656 §18.4 DATA.
    Data(Vec<u8>),
    /// RFC 8656 §18.5 XOR-RELAYED-ADDRESS.
    XorRelayedAddress(SocketAddr),
    /// RFC 8656 §18.6 REQUESTED-ADDRESS-FAMILY (0x01 IPv4, 0x02 IPv6).
    RequestedAddressFamily(u8),
    /// RFC 8656 §18.7 EVEN-PORT (R bit: reserve the next port too).
    EvenPort(bool),
    /// RFC 8656 §18.8 REQUESTED-TRANSPORT (protocol number, 17 = UDP).
    RequestedTransport(u8),
    /// RFC 8656 §18.9 DONT-FRAGMENT.
    DontFragment,
    /// RFC 8656 §18.10 RESERVATION-TOKEN.
    ReservationToken([u8; 8]),
    /// RFC 8656 §18.11 ADDITIONAL-ADDRESS-FAMILY.
    AdditionalAddressFamily(u8),
    /// RFC 8445 §16.1 PRIORITY.
    Priority(u32),
    /// RFC 8445 §16.1 USE-CANDIDATE.
    UseCandidate,
    /// RFC 8445 §16.1 ICE-CONTROLLED tie-breaker.
    IceControlled(u64),
    /// RFC 8445 §16.1 ICE-CONTROLLING tie-breaker.
    IceControlling(u64),
    /// [MS-TURN] 2.2.2.8 Magic Cookie (value 0x72C64BC6), first attribute of every MS-TURN message.
    MsMagicCookie,
    /// [MS-TURN] Bandwidth in kbit/s.
    MsBandwidth(u32),
    /// [MS-TURN] Destination Address (Send request, Set Active Destination).
    MsDestinationAddress(SocketAddr),
    /// [MS-TURN] Remote Address (Data indication).
    MsRemoteAddress(SocketAddr),
    /// [MS-TURN] 2.2.2.17 MS-Version.
    MsVersion(u32),
    /// [MS-TURN] 2.2.2.21 MS-Sequence Number: connection id and sequence number.
    MsSequenceNumber {
        /// 20-byte connection identifier.
        connection_id: [u8; 20],
        /// Sequence number.
        sequence: u32,
    },
    /// [MS-TURN] MS-Service Quality: stream type and service quality.
    MsServiceQuality {
        /// 1 audio, 2 video, 3 supplemental video, 4 data.
        stream_type: u16,
        /// 0 best effort, 1 reliable.
        service_quality: u16,
    },
    /// Any attribute this crate does not model, kept verbatim.
    Unknown {
        /// Wire type.
        typ: u16,
        /// Value bytes (without padding).
        value: Vec<u8>,
    },
}

/// Why an attribute value could not be decoded (becomes a 400 for requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttrError {
    /// The value length does not fit the attribute's layout.
    #[error("wrong length")]
    Length,
    /// Address family byte is neither 0x01 nor 0x02.
    #[error("unknown address family")]
    Family,
    /// A text attribute is not valid UTF-8.
    #[error("not UTF-8")]
    Utf8,
    /// A text attribute is longer than the RFC allows.
    #[error("too long")]
    TooLong,
    /// ERROR-CODE class/number out of range.
    #[error("error code out of range")]
    ErrorCodeRange,
    /// MS-TURN MAGIC-COOKIE attribute with a value other than 0x72C64BC6.
    #[error("wrong MS-TURN magic cookie value")]
    MsCookie,
}

impl Attribute {
    /// The wire type of this attribute in `dialect`, or `None` if the dialect has no such attribute.
    pub fn wire_type(&self, dialect: Dialect) -> Option<u16> {
        use types::*;
        let ms = dialect == Dialect::MsTurn;
        Some(match self {
            Self::MappedAddress(_) => MAPPED_ADDRESS,
            Self::XorMappedAddress(_) if ms => MS_XOR_MAPPED_ADDRESS,
            Self::XorMappedAddress(_) => XOR_MAPPED_ADDRESS,
            Self::Username(_) => USERNAME,
            Self::MessageIntegrity(_) => MESSAGE_INTEGRITY,
            Self::MessageIntegritySha256(_) if !ms => MESSAGE_INTEGRITY_SHA256,
            Self::Fingerprint => FINGERPRINT,
            Self::ErrorCode { .. } => ERROR_CODE,
            Self::Realm(_) if ms => MS_REALM,
            Self::Realm(_) => REALM,
            Self::Nonce(_) if ms => MS_NONCE,
            Self::Nonce(_) => NONCE,
            Self::UnknownAttributes(_) => UNKNOWN_ATTRIBUTES,
            Self::Software(_) => SOFTWARE,
            Self::AlternateServer(_) if ms => MS_ALTERNATE_SERVER,
            Self::AlternateServer(_) => ALTERNATE_SERVER,
            Self::ChannelNumber(_) if !ms => CHANNEL_NUMBER,
            Self::Lifetime(_) => LIFETIME,
            Self::XorPeerAddress(_) if !ms => XOR_PEER_ADDRESS,
            Self::Data(_) => DATA,
            Self::XorRelayedAddress(_) if !ms => XOR_RELAYED_ADDRESS,
            Self::RequestedAddressFamily(_) => REQUESTED_ADDRESS_FAMILY,
            Self::EvenPort(_) if !ms => EVEN_PORT,
            Self::RequestedTransport(_) if !ms => REQUESTED_TRANSPORT,
            Self::DontFragment if !ms => DONT_FRAGMENT,
            Self::ReservationToken(_) if !ms => RESERVATION_TOKEN,
            Self::AdditionalAddressFamily(_) if !ms => ADDITIONAL_ADDRESS_FAMILY,
            Self::Priority(_) if !ms => PRIORITY,
            Self::UseCandidate if !ms => USE_CANDIDATE,
            Self::IceControlled(_) if !ms => ICE_CONTROLLED,
            Self::IceControlling(_) if !ms => ICE_CONTROLLING,
            Self::MsMagicCookie if ms => MS_MAGIC_COOKIE,
            Self::MsBandwidth(_) if ms => MS_BANDWIDTH,
            Self::MsDestinationAddress(_) if ms => MS_DESTINATION_ADDRESS,
            Self::MsRemoteAddress(_) if ms => MS_REMOTE_ADDRESS,
            Self::MsVersion(_) if ms => MS_VERSION,
            Self::MsSequenceNumber { .. } if ms => MS_SEQUENCE_NUMBER,
            Self::MsServiceQuality { .. } if ms => MS_SERVICE_QUALITY,
            Self::Unknown { typ, .. } => *typ,
            _ => return None,
        })
    }

    /// Decodes one attribute value of wire type `typ` (padding already stripped).
    pub fn decode(
        dialect: Dialect,
        typ: u16,
        value: &[u8],
        tid: &TransactionId,
    ) -> Result<Self, AttrError> {
        use types::*;
        let ms = dialect == Dialect::MsTurn;
        Ok(match (typ, ms) {
            (MAPPED_ADDRESS, _) => Self::MappedAddress(decode_address(value, None)?),
            (XOR_MAPPED_ADDRESS, false) | (MS_XOR_MAPPED_ADDRESS, true) => {
                Self::XorMappedAddress(decode_address(value, Some(tid))?)
            }
            (USERNAME, _) => Self::Username(text(value, MAX_USERNAME)?),
            (MESSAGE_INTEGRITY, _) => {
                Self::MessageIntegrity(value.try_into().map_err(|_| AttrError::Length)?)
            }
            (MESSAGE_INTEGRITY_SHA256, false) => {
                // RFC 8489 §14.6: at least 16 bytes, at most 32, a multiple of 4.
                if !(16..=32).contains(&value.len()) || !value.len().is_multiple_of(4) {
                    return Err(AttrError::Length);
                }
                Self::MessageIntegritySha256(value.to_vec())
            }
            (FINGERPRINT, _) => {
                if value.len() != 4 {
                    return Err(AttrError::Length);
                }
                Self::Fingerprint
            }
            (ERROR_CODE, _) => decode_error_code(value)?,
            (REALM, false) | (MS_REALM, true) => Self::Realm(text(value, MAX_TEXT)?),
            (NONCE, false) | (MS_NONCE, true) => Self::Nonce(text(value, MAX_TEXT)?),
            (UNKNOWN_ATTRIBUTES, _) => {
                if !value.len().is_multiple_of(2) {
                    return Err(AttrError::Length);
                }
                Self::UnknownAttributes(
                    value
                        .chunks_exact(2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .collect(),
                )
            }
            (SOFTWARE, _) => Self::Software(text(value, MAX_TEXT)?),
            (ALTERNATE_SERVER, false) | (MS_ALTERNATE_SERVER, true) => {
                Self::AlternateServer(decode_address(value, None)?)
            }
            (CHANNEL_NUMBER, false) => {
                // RFC 8656 §18.1: 16-bit number followed by 16 bits RFFU.
                let b = fixed::<4>(value)?;
                Self::ChannelNumber(u16::from_be_bytes([b[0], b[1]]))
            }
            (LIFETIME, _) => Self::Lifetime(u32::from_be_bytes(fixed::<4>(value)?)),
            (XOR_PEER_ADDRESS, false) => Self::XorPeerAddress(decode_address(value, Some(tid))?),
            (DATA, _) => Self::Data(value.to_vec()),
            (XOR_RELAYED_ADDRESS, false) => {
                Self::XorRelayedAddress(decode_address(value, Some(tid))?)
            }
            (REQUESTED_ADDRESS_FAMILY, _) => Self::RequestedAddressFamily(fixed::<4>(value)?[0]),
            (EVEN_PORT, false) => {
                // RFC 8656 §18.7: one byte, R is the most significant bit.
                let b = fixed::<1>(value)?;
                Self::EvenPort(b[0] & 0x80 != 0)
            }
            (REQUESTED_TRANSPORT, false) => Self::RequestedTransport(fixed::<4>(value)?[0]),
            (DONT_FRAGMENT, false) => {
                fixed::<0>(value)?;
                Self::DontFragment
            }
            (RESERVATION_TOKEN, false) => Self::ReservationToken(fixed::<8>(value)?),
            (ADDITIONAL_ADDRESS_FAMILY, false) => {
                Self::AdditionalAddressFamily(fixed::<4>(value)?[0])
            }
            (PRIORITY, false) => Self::Priority(u32::from_be_bytes(fixed::<4>(value)?)),
            (USE_CANDIDATE, false) => {
                fixed::<0>(value)?;
                Self::UseCandidate
            }
            (ICE_CONTROLLED, false) => Self::IceControlled(u64::from_be_bytes(fixed::<8>(value)?)),
            (ICE_CONTROLLING, false) => {
                Self::IceControlling(u64::from_be_bytes(fixed::<8>(value)?))
            }
            (MS_MAGIC_COOKIE, true) => {
                if u32::from_be_bytes(fixed::<4>(value)?) != crate::message::MS_MAGIC_COOKIE {
                    return Err(AttrError::MsCookie);
                }
                Self::MsMagicCookie
            }
            (MS_BANDWIDTH, true) => Self::MsBandwidth(u32::from_be_bytes(fixed::<4>(value)?)),
            (MS_DESTINATION_ADDRESS, true) => {
                Self::MsDestinationAddress(decode_address(value, None)?)
            }
            (MS_REMOTE_ADDRESS, true) => Self::MsRemoteAddress(decode_address(value, None)?),
            (MS_VERSION, true) => Self::MsVersion(u32::from_be_bytes(fixed::<4>(value)?)),
            (MS_SEQUENCE_NUMBER, true) => {
                let b = fixed::<24>(value)?;
                let mut connection_id = [0u8; 20];
                connection_id.copy_from_slice(&b[..20]);
                Self::MsSequenceNumber {
                    connection_id,
                    sequence: u32::from_be_bytes([b[20], b[21], b[22], b[23]]),
                }
            }
            (MS_SERVICE_QUALITY, true) => {
                let b = fixed::<4>(value)?;
                Self::MsServiceQuality {
                    stream_type: u16::from_be_bytes([b[0], b[1]]),
                    service_quality: u16::from_be_bytes([b[2], b[3]]),
                }
            }
            _ => Self::Unknown {
                typ,
                value: value.to_vec(),
            },
        })
    }

    /// Appends this attribute's value (no header, no padding) to `out`.
    pub(crate) fn encode_value(&self, tid: &TransactionId, out: &mut Vec<u8>) {
        match self {
            Self::MappedAddress(a)
            | Self::AlternateServer(a)
            | Self::MsDestinationAddress(a)
            | Self::MsRemoteAddress(a) => encode_address(*a, None, out),
            Self::XorMappedAddress(a) | Self::XorPeerAddress(a) | Self::XorRelayedAddress(a) => {
                encode_address(*a, Some(tid), out)
            }
            Self::Username(s) | Self::Realm(s) | Self::Nonce(s) | Self::Software(s) => {
                out.extend_from_slice(s.as_bytes())
            }
            Self::MessageIntegrity(h) => out.extend_from_slice(h),
            Self::MessageIntegritySha256(h) => out.extend_from_slice(h),
            // The encoder overwrites this placeholder with the CRC.
            Self::Fingerprint => out.extend_from_slice(&[0; 4]),
            Self::ErrorCode { code, reason } => {
                // RFC 8489 §14.8: 21 reserved bits, class (3 bits), number (8 bits), reason.
                let class = (code / 100) as u8;
                let number = (code % 100) as u8;
                out.extend_from_slice(&[0, 0, class & 0x07, number]);
                out.extend_from_slice(reason.as_bytes());
            }
            Self::UnknownAttributes(list) => {
                for t in list {
                    out.extend_from_slice(&t.to_be_bytes());
                }
            }
            Self::ChannelNumber(n) => {
                out.extend_from_slice(&n.to_be_bytes());
                out.extend_from_slice(&[0, 0]);
            }
            Self::Lifetime(v) | Self::Priority(v) | Self::MsBandwidth(v) | Self::MsVersion(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            Self::Data(d) => out.extend_from_slice(d),
            Self::RequestedAddressFamily(f)
            | Self::RequestedTransport(f)
            | Self::AdditionalAddressFamily(f) => out.extend_from_slice(&[*f, 0, 0, 0]),
            Self::EvenPort(r) => out.push(if *r { 0x80 } else { 0 }),
            Self::DontFragment | Self::UseCandidate => {}
            Self::ReservationToken(t) => out.extend_from_slice(t),
            Self::IceControlled(v) | Self::IceControlling(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            Self::MsMagicCookie => {
                out.extend_from_slice(&crate::message::MS_MAGIC_COOKIE.to_be_bytes())
            }
            Self::MsSequenceNumber {
                connection_id,
                sequence,
            } => {
                out.extend_from_slice(connection_id);
                out.extend_from_slice(&sequence.to_be_bytes());
            }
            Self::MsServiceQuality {
                stream_type,
                service_quality,
            } => {
                out.extend_from_slice(&stream_type.to_be_bytes());
                out.extend_from_slice(&service_quality.to_be_bytes());
            }
            Self::Unknown { value, .. } => out.extend_from_slice(value),
        }
    }
}

/// Copies a value that must be exactly `N` bytes long.
fn fixed<const N: usize>(value: &[u8]) -> Result<[u8; N], AttrError> {
    value.try_into().map_err(|_| AttrError::Length)
}

/// Decodes a UTF-8 text attribute of at most `max` bytes.
fn text(value: &[u8], max: usize) -> Result<String, AttrError> {
    if value.len() > max {
        return Err(AttrError::TooLong);
    }
    String::from_utf8(value.to_vec()).map_err(|_| AttrError::Utf8)
}

/// RFC 8489 §14.8: class in the hundreds digit (3..=6), number 0..=99.
fn decode_error_code(value: &[u8]) -> Result<Attribute, AttrError> {
    let head: [u8; 4] = value
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .ok_or(AttrError::Length)?;
    let class = u16::from(head[2] & 0x07);
    let number = u16::from(head[3]);
    if !(3..=6).contains(&class) || number > 99 {
        return Err(AttrError::ErrorCodeRange);
    }
    let reason = text(value.get(4..).unwrap_or_default(), MAX_TEXT)?;
    Ok(Attribute::ErrorCode {
        code: class * 100 + number,
        reason,
    })
}

/// The 16-byte XOR pad of RFC 8489 §14.2: magic cookie then the transaction id.
///
/// [MS-TURN] 2.2.2.16 xors with the same 0x2112A442 cookie although its header carries none
/// (libnice's OC2007 mode does so); for IPv6 the pad continues with the first 12 bytes of the
/// 16-byte MS-TURN transaction id (UNVERIFIED against a Microsoft client).
fn xor_pad(tid: &TransactionId) -> [u8; 16] {
    let mut pad = [0u8; 16];
    pad[..4].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
    let id = tid.as_bytes();
    let n = id.len().min(12);
    pad[4..4 + n].copy_from_slice(&id[..n]);
    pad
}

/// RFC 8489 §14.1/§14.2: family, port, address; XORed with [`xor_pad`] when `tid` is given.
fn decode_address(value: &[u8], tid: Option<&TransactionId>) -> Result<SocketAddr, AttrError> {
    let pad = tid.map(xor_pad).unwrap_or([0; 16]);
    let (family, rest) = match value {
        [_, family, rest @ ..] => (*family, rest),
        _ => return Err(AttrError::Length),
    };
    let (port, addr) = match rest {
        [p0, p1, addr @ ..] => (u16::from_be_bytes([p0 ^ pad[0], p1 ^ pad[1]]), addr),
        _ => return Err(AttrError::Length),
    };
    let ip = match family {
        0x01 => {
            let mut b: [u8; 4] = addr.try_into().map_err(|_| AttrError::Length)?;
            for (x, p) in b.iter_mut().zip(pad.iter()) {
                *x ^= p;
            }
            IpAddr::V4(Ipv4Addr::from(b))
        }
        0x02 => {
            let mut b: [u8; 16] = addr.try_into().map_err(|_| AttrError::Length)?;
            for (x, p) in b.iter_mut().zip(pad.iter()) {
                *x ^= p;
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return Err(AttrError::Family),
    };
    Ok(SocketAddr::new(ip, port))
}

/// Inverse of [`decode_address`].
fn encode_address(addr: SocketAddr, tid: Option<&TransactionId>, out: &mut Vec<u8>) {
    let pad = tid.map(xor_pad).unwrap_or([0; 16]);
    let port = addr.port().to_be_bytes();
    let family = if addr.is_ipv4() { 0x01 } else { 0x02 };
    out.extend_from_slice(&[0, family, port[0] ^ pad[0], port[1] ^ pad[1]]);
    match addr.ip() {
        IpAddr::V4(ip) => out.extend(ip.octets().iter().zip(pad.iter()).map(|(b, p)| b ^ p)),
        IpAddr::V6(ip) => out.extend(ip.octets().iter().zip(pad.iter()).map(|(b, p)| b ^ p)),
    }
}
