//! The first-bytes classifier of a shared TCP 443 listener, and the MS-TURN pseudo-TLS handshake.
//!
//! One port carries real TLS (SIP or HTTPS inside), MS-TURN's pseudo-TLS ([MS-TURN] 3.1.5 /
//! MS-SIP.md §7.3), plain STUN/TURN over TCP (RFC 8656 §3.1), raw framed MS-TURN, plain SIP and
//! plain HTTP. [`classify`] looks at no more than [`MAX_PREFIX`] bytes; anything it cannot place
//! by then is [`Verdict::Reject`]ed so the listener closes the connection cleanly (seed 004: an
//! intercepting proxy that cannot tell these apart breaks calls).

use crate::message::{MAGIC_COOKIE, MS_MAGIC_COOKIE};

/// The classifier never needs (or buffers) more than this many bytes.
pub const MAX_PREFIX: usize = 512;

/// [MS-TURN] pseudo-TLS ClientHello: record header, handshake header, client_version (11 bytes).
const PSEUDO_TLS_HEAD: [u8; 11] = [
    0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x01,
];
/// [MS-TURN] pseudo-TLS ClientHello bytes 43..50: empty session id, one suite 0x0018
/// (TLS_DH_anon_WITH_RC4_128_MD5), one null compression method, no extensions.
const PSEUDO_TLS_TAIL: [u8; 7] = [0x00, 0x00, 0x02, 0x00, 0x18, 0x01, 0x00];
/// Length of the whole pseudo-TLS ClientHello record (5 + 45).
pub const PSEUDO_TLS_CLIENT_HELLO_LEN: usize = 50;

/// What a connection's first bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// A real TLS ClientHello: terminate TLS, then [`classify_plaintext`] the inside.
    Tls,
    /// MS-TURN pseudo-TLS: answer with [`pseudo_tls_server_hello`], then framed MS-TURN in clear.
    MsTurnPseudoTls,
    /// STUN/TURN over TCP (RFC 8656 §3.1): a STUN header with the 0x2112A442 cookie.
    StunTcp,
    /// MS-TURN over TCP without pseudo-TLS: a [MS-TURN] 2.1 frame around a cookie-first message.
    MsTurnTcp,
    /// Plain SIP over TCP (request line ends in `SIP/2.0`).
    Sip,
    /// Plain HTTP/1.x (request line ends in `HTTP/1.x`) or the HTTP/2 preface.
    Http,
}

/// The classifier's answer for a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Decided.
    Is(Protocol),
    /// Undecided: read more, up to [`MAX_PREFIX`] bytes in total.
    NeedMore,
    /// Not a protocol this listener serves (or undecidable within the bound): close.
    Reject,
}

/// Classifies the first bytes of a new TCP connection on the shared 443 listener.
pub fn classify(prefix: &[u8]) -> Verdict {
    let prefix = prefix.get(..MAX_PREFIX).unwrap_or(prefix);
    let Some(&first) = prefix.first() else {
        return Verdict::NeedMore;
    };
    let verdict = match first {
        0x16 => classify_tls(prefix),
        0x00 | 0x01 => classify_stun(prefix),
        0x02 | 0x03 => classify_ms_frame(prefix),
        b'A'..=b'Z' | b'\r' | b'\n' => match classify_plaintext(prefix) {
            Verdict::Is(p) => Verdict::Is(p),
            other => other,
        },
        _ => Verdict::Reject,
    };
    if verdict == Verdict::NeedMore && prefix.len() >= MAX_PREFIX {
        Verdict::Reject
    } else {
        verdict
    }
}

/// Compares `prefix` with `expected` as far as `prefix` goes: `Some(true)` full match,
/// `None` matches so far but is shorter, `Some(false)` differs.
fn starts(prefix: &[u8], expected: &[u8]) -> Option<bool> {
    let n = prefix.len().min(expected.len());
    if prefix.get(..n) != expected.get(..n) {
        Some(false)
    } else if n < expected.len() {
        None
    } else {
        Some(true)
    }
}

/// RFC 8446 §5.1 / RFC 5246 §6.2: handshake record, version 3.x, then a ClientHello (type 1).
/// The pseudo-TLS hello is told apart by its fixed 50-byte layout (MS-SIP.md §7.4).
fn classify_tls(prefix: &[u8]) -> Verdict {
    match prefix.get(1..3) {
        None if prefix.get(1).is_none_or(|b| *b == 0x03) => return Verdict::NeedMore,
        Some([0x03, minor]) if *minor <= 0x04 => {}
        _ => return Verdict::Reject,
    }
    match prefix.get(5) {
        None => return Verdict::NeedMore,
        Some(0x01) => {}
        Some(_) => return Verdict::Reject,
    }
    match starts(prefix, &PSEUDO_TLS_HEAD) {
        Some(false) => return Verdict::Is(Protocol::Tls),
        None => return Verdict::NeedMore,
        Some(true) => {}
    }
    match prefix.get(43..PSEUDO_TLS_CLIENT_HELLO_LEN) {
        None => Verdict::NeedMore,
        Some(tail) if tail == PSEUDO_TLS_TAIL => Verdict::Is(Protocol::MsTurnPseudoTls),
        Some(_) => Verdict::Is(Protocol::Tls),
    }
}

/// RFC 8489 §5: top bits 00, the magic cookie at bytes 4..8.
fn classify_stun(prefix: &[u8]) -> Verdict {
    match starts(
        prefix.get(4..).unwrap_or_default(),
        &MAGIC_COOKIE.to_be_bytes(),
    ) {
        _ if prefix.len() < 4 => Verdict::NeedMore,
        Some(true) => Verdict::Is(Protocol::StunTcp),
        None => Verdict::NeedMore,
        Some(false) => Verdict::Reject,
    }
}

/// [MS-TURN] 2.1 frame header (type 0x02/0x03, 0x00, length), then a 20-byte MS-TURN header
/// whose first attribute is MAGIC-COOKIE `00 0f 00 04 72 c6 4b c6` ([MS-TURN] 3.1.10).
fn classify_ms_frame(prefix: &[u8]) -> Verdict {
    match prefix.get(1) {
        None => return Verdict::NeedMore,
        Some(0) => {}
        Some(_) => return Verdict::Reject,
    }
    let mut cookie = [0u8; 8];
    cookie[..4].copy_from_slice(&[0x00, 0x0f, 0x00, 0x04]);
    cookie[4..].copy_from_slice(&MS_MAGIC_COOKIE.to_be_bytes());
    match starts(prefix.get(24..).unwrap_or_default(), &cookie) {
        _ if prefix.len() < 24 => Verdict::NeedMore,
        Some(true) => Verdict::Is(Protocol::MsTurnTcp),
        None => Verdict::NeedMore,
        Some(false) => Verdict::Reject,
    }
}

/// Classifies cleartext by its first line: SIP (RFC 3261 §7.1 `… SIP/2.0`) or HTTP
/// (RFC 9112 §3 `… HTTP/1.x`, or the RFC 9113 §3.4 preface). Used on plain TCP and, after the
/// TLS handshake, on the decrypted stream. Leading CRLFs (SIP keep-alives, RFC 5626 §3.5.1)
/// are skipped.
pub fn classify_plaintext(prefix: &[u8]) -> Verdict {
    let prefix = prefix.get(..MAX_PREFIX).unwrap_or(prefix);
    let start = prefix
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(prefix.len());
    let rest = prefix.get(start..).unwrap_or_default();
    // The method token: uppercase letters (RFC 3261 token, RFC 9110 method in practice).
    let token_len = rest.iter().take_while(|b| b.is_ascii_uppercase()).count();
    match rest.get(token_len) {
        None => return bounded_more(prefix),
        Some(b' ') if token_len > 0 => {}
        Some(_) => return Verdict::Reject,
    }
    let Some(eol) = rest.iter().position(|b| *b == b'\n') else {
        // No control bytes other than CR LF belong in a request line.
        if rest.iter().any(|b| b.is_ascii_control() && *b != b'\r') {
            return Verdict::Reject;
        }
        return bounded_more(prefix);
    };
    let line = rest.get(..eol).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.ends_with(b" SIP/2.0") {
        Verdict::Is(Protocol::Sip)
    } else if line.ends_with(b" HTTP/1.1")
        || line.ends_with(b" HTTP/1.0")
        || line == b"PRI * HTTP/2.0"
    {
        Verdict::Is(Protocol::Http)
    } else {
        Verdict::Reject
    }
}

/// `NeedMore` while under the bound, `Reject` once [`MAX_PREFIX`] bytes did not decide.
fn bounded_more(prefix: &[u8]) -> Verdict {
    if prefix.len() >= MAX_PREFIX {
        Verdict::Reject
    } else {
        Verdict::NeedMore
    }
}

/// The server's pseudo-TLS answer: ServerHello and ServerHelloDone in one record, 83 bytes
/// ([MS-TURN] pseudo-TLS; layout per MS-SIP.md §7.3). `random` and `session_id` are the two
/// 32-byte fields clients ignore; the driver supplies them.
pub fn pseudo_tls_server_hello(random: &[u8; 32], session_id: &[u8; 32]) -> [u8; 83] {
    let mut out = [0u8; 83];
    // TLS record: handshake (0x16), version 3.1, length 78.
    out[..5].copy_from_slice(&[0x16, 0x03, 0x01, 0x00, 0x4e]);
    // ServerHello (2), length 70, server_version 3.1.
    out[5..11].copy_from_slice(&[0x02, 0x00, 0x00, 0x46, 0x03, 0x01]);
    out[11..43].copy_from_slice(random);
    out[43] = 0x20;
    out[44..76].copy_from_slice(session_id);
    // cipher_suite 0x0018, compression_method null.
    out[76..79].copy_from_slice(&[0x00, 0x18, 0x00]);
    // ServerHelloDone (14), length 0.
    out[79..83].copy_from_slice(&[0x0e, 0x00, 0x00, 0x00]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 50-byte client hello of MS-SIP.md §7.3 with a fixed random.
    fn pseudo_hello() -> Vec<u8> {
        let mut v = PSEUDO_TLS_HEAD.to_vec();
        v.extend_from_slice(&[0x5a; 32]);
        v.extend_from_slice(&PSEUDO_TLS_TAIL);
        v
    }

    /// Start of a real TLS 1.3 ClientHello (record 3.1, hello length 0x1fc, version 3.3).
    fn real_hello() -> Vec<u8> {
        let mut v = vec![
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        v.extend_from_slice(&[0x11; 32]);
        v.extend_from_slice(&[0x20; 33]);
        v
    }

    #[test]
    fn table_of_first_bytes() {
        let stun = [0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
        let mut ms = vec![0x02, 0x00, 0x00, 0x1c, 0x00, 0x03, 0x00, 0x08];
        ms.extend_from_slice(&[0xab; 16]);
        ms.extend_from_slice(&[0x00, 0x0f, 0x00, 0x04, 0x72, 0xc6, 0x4b, 0xc6]);
        let cases: Vec<(&str, Vec<u8>, Verdict)> = vec![
            (
                "pseudo-TLS",
                pseudo_hello(),
                Verdict::Is(Protocol::MsTurnPseudoTls),
            ),
            ("real TLS", real_hello(), Verdict::Is(Protocol::Tls)),
            (
                "STUN over TCP",
                stun.to_vec(),
                Verdict::Is(Protocol::StunTcp),
            ),
            ("MS-TURN framed", ms, Verdict::Is(Protocol::MsTurnTcp)),
            (
                "SIP",
                b"REGISTER sip:example.test SIP/2.0\r\n".to_vec(),
                Verdict::Is(Protocol::Sip),
            ),
            (
                "SIP OPTIONS",
                b"OPTIONS sip:a@example.test SIP/2.0\r\n".to_vec(),
                Verdict::Is(Protocol::Sip),
            ),
            (
                "HTTP OPTIONS",
                b"OPTIONS * HTTP/1.1\r\n".to_vec(),
                Verdict::Is(Protocol::Http),
            ),
            (
                "HTTP GET",
                b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec(),
                Verdict::Is(Protocol::Http),
            ),
            (
                "h2 preface",
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
                Verdict::Is(Protocol::Http),
            ),
            (
                "keep-alive then SIP",
                b"\r\n\r\nINVITE sip:b SIP/2.0\r\n".to_vec(),
                Verdict::Is(Protocol::Sip),
            ),
            ("SSH", b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(), Verdict::Reject),
            ("lowercase junk", b"hello".to_vec(), Verdict::Reject),
            (
                "STUN without cookie",
                vec![0x00, 0x01, 0x00, 0x00, 1, 2, 3, 4],
                Verdict::Reject,
            ),
            (
                "TLS record, not a hello",
                vec![0x16, 0x03, 0x03, 0x00, 0x10, 0x02],
                Verdict::Reject,
            ),
            ("TLS bad version", vec![0x16, 0x02, 0x00], Verdict::Reject),
            ("SMTP-like", b"EHLO x\r\n".to_vec(), Verdict::Reject),
            ("binary", vec![0xff, 0xfe], Verdict::Reject),
        ];
        for (name, bytes, want) in cases {
            assert_eq!(classify(&bytes), want, "{name}");
        }
    }

    #[test]
    fn every_strict_prefix_of_a_decided_input_is_need_more_or_the_same_answer() {
        for bytes in [
            pseudo_hello(),
            real_hello(),
            b"REGISTER sip:example.test SIP/2.0\r\n".to_vec(),
            b"GET / HTTP/1.1\r\n".to_vec(),
        ] {
            let full = classify(&bytes);
            for n in 0..bytes.len() {
                let v = classify(&bytes[..n]);
                assert!(
                    v == Verdict::NeedMore || v == full,
                    "{n}: {v:?} vs {full:?}"
                );
            }
        }
        // The pseudo-TLS hello cannot be told from real TLS before byte 50.
        assert_eq!(classify(&pseudo_hello()[..49]), Verdict::NeedMore);
    }

    #[test]
    fn undecided_input_is_rejected_at_the_bound() {
        let mut line = b"GET /".to_vec();
        line.resize(MAX_PREFIX - 1, b'a');
        assert_eq!(classify(&line), Verdict::NeedMore);
        line.push(b'a');
        assert_eq!(classify(&line), Verdict::Reject);
        line.extend_from_slice(b" HTTP/1.1\r\n");
        assert_eq!(classify(&line), Verdict::Reject);
    }

    #[test]
    fn server_hello_has_the_83_byte_layout() {
        let hello = pseudo_tls_server_hello(&[0xaa; 32], &[0xbb; 32]);
        assert_eq!(
            &hello[..11],
            &[
                0x16, 0x03, 0x01, 0x00, 0x4e, 0x02, 0x00, 0x00, 0x46, 0x03, 0x01
            ]
        );
        assert!(hello[11..43].iter().all(|b| *b == 0xaa));
        assert_eq!(hello[43], 0x20);
        assert!(hello[44..76].iter().all(|b| *b == 0xbb));
        assert_eq!(&hello[76..], &[0x00, 0x18, 0x00, 0x0e, 0x00, 0x00, 0x00]);
        // Record length field matches the bytes after the record header.
        assert_eq!(
            usize::from(u16::from_be_bytes([hello[3], hello[4]])),
            hello.len() - 5
        );
    }
}
