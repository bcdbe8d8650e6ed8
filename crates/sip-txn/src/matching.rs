//! Matching messages to transactions: the keys of RFC 3261 §17.1.3 (responses to client
//! transactions), §17.2.3 (requests to server transactions, with the RFC 2543 fallback),
//! §9.2 (CANCEL), §8.2.2.2 (merged requests) and the ACK for a 2xx (RFC 6026 §8.7).

use sip_msg::{CSeq, HeaderName, HostRef, Message, Method, Uri, Via};

use crate::error::InboundError;

/// What the layer reads from a request once, to match it and everything after it.
#[derive(Debug, Clone)]
pub(crate) struct RequestInfo {
    pub(crate) method: Method,
    /// The Request-URI, kept only for RFC 2543 matching (no magic cookie).
    pub(crate) uri: Option<Uri>,
    /// The top Via value as received: copied into a CANCEL or non-2xx ACK (RFC 3261 §9.1,
    /// §17.1.1.3) and parsed again only for RFC 2543 matching.
    pub(crate) via: String,
    /// The branch if it carries the RFC 3261 magic cookie (§17.2.3); `None` selects RFC 2543 matching.
    pub(crate) branch: Option<String>,
    pub(crate) call_id: String,
    pub(crate) cseq: CSeq,
    pub(crate) from_tag: Option<String>,
    pub(crate) to_tag: Option<String>,
    /// The server transaction key (RFC 3261 §17.2.3), if the branch has the magic cookie.
    pub(crate) key: Option<ServerKey>,
}

fn bad(header: &'static str) -> impl FnOnce(sip_msg::ParseError) -> InboundError {
    move |source| InboundError::BadHeader { header, source }
}

impl RequestInfo {
    /// Reads Via, CSeq, Call-ID, From and To of a request (RFC 3261 §8.1.1).
    pub(crate) fn of(msg: &Message) -> Result<RequestInfo, InboundError> {
        let method = msg
            .method()
            .cloned()
            .ok_or(InboundError::MissingHeader("Method"))?;
        // Read in place (borrowed views): only what the keys keep is copied.
        let via = msg
            .top_via_view()
            .map_err(bad("Via"))?
            .ok_or(InboundError::MissingHeader("Via"))?;
        let cseq = msg
            .cseq()
            .map_err(bad("CSeq"))?
            .ok_or(InboundError::MissingHeader("CSeq"))?;
        if cseq.method != method {
            return Err(InboundError::CSeqMismatch);
        }
        let call_id = msg
            .call_id_str()
            .map_err(bad("Call-ID"))?
            .ok_or(InboundError::MissingHeader("Call-ID"))?
            .to_owned();
        // Only the tags matter here; the TU parses From and To in full.
        let from_tag = single_tag(msg, &HeaderName::From, "From")?;
        let to_tag = single_tag(msg, &HeaderName::To, "To")?;
        let branch = via
            .has_rfc3261_branch()
            .then(|| via.branch().map(str::to_owned))
            .flatten();
        // RFC 3261 §17.2.3: branch, sent-by (host compared case-insensitively) and method,
        // INVITE for an ACK (it belongs to the INVITE's transaction).
        let key = branch.as_ref().map(|b| {
            let host = match via.host {
                HostRef::Domain(d) => d.to_ascii_lowercase(),
                other => other.to_string(),
            };
            ServerKey {
                branch: b.clone(),
                sent_by: SentBy {
                    host,
                    port: via.port,
                },
                method: if method == Method::Ack {
                    Method::Invite
                } else {
                    method.clone()
                },
            }
        });
        let uri = if branch.is_none() {
            msg.uri().cloned()
        } else {
            None
        };
        Ok(RequestInfo {
            method,
            uri,
            branch,
            call_id,
            cseq,
            from_tag,
            to_tag,
            via: via.as_str().to_owned(),
            key,
        })
    }

    /// The key of the server transaction this request belongs to (RFC 3261 §17.2.3).
    pub(crate) fn server_key(&self) -> Option<&ServerKey> {
        self.key.as_ref()
    }

    /// The key under which a CANCEL finds the transaction it cancels (RFC 3261 §9.2: the
    /// method does not count): the server key with the method set to CANCEL.
    pub(crate) fn cancel_key(&self) -> Option<ServerKey> {
        self.key.as_ref().map(|k| ServerKey {
            method: Method::Cancel,
            ..k.clone()
        })
    }

    /// The merged-request key (RFC 3261 §8.2.2.2), for requests without a To tag.
    pub(crate) fn merge_key(&self) -> Option<MergeKey> {
        if self.to_tag.is_some() || matches!(self.method, Method::Ack | Method::Cancel) {
            return None;
        }
        Some(MergeKey {
            from_tag: self.from_tag.clone(),
            call_id: self.call_id.clone(),
            seq: self.cseq.seq,
            method: self.cseq.method.clone(),
        })
    }

    /// RFC 3261 §17.2.3, RFC 2543 fallback: does `self` (a request without magic cookie) match
    /// the transaction created by `orig`? `response_to_tag` is the To tag of the response the
    /// transaction sent (for an ACK). `as_cancel` applies §9.2: the CANCEL is matched as if its
    /// method were the original one, so only the CSeq number counts.
    pub(crate) fn matches_2543(
        &self,
        orig: &RequestInfo,
        response_to_tag: Option<&str>,
        as_cancel: bool,
    ) -> bool {
        let common = self.uri == orig.uri
            && self.from_tag == orig.from_tag
            && self.call_id == orig.call_id
            && self.cseq.seq == orig.cseq.seq
            && via_eq(&self.via, &orig.via);
        if !common {
            return false;
        }
        if self.method == Method::Ack && !as_cancel {
            // The ACK's To tag must equal that of the response the transaction sent.
            return orig.method == Method::Invite && self.to_tag.as_deref() == response_to_tag;
        }
        self.to_tag == orig.to_tag && (as_cancel || self.cseq.method == orig.cseq.method)
    }
}

/// The tag of the one From or To line of `msg`.
fn single_tag(
    msg: &Message,
    name: &HeaderName,
    what: &'static str,
) -> Result<Option<String>, InboundError> {
    let mut lines = msg.headers_named(name);
    let line = lines.next().ok_or(InboundError::MissingHeader(what))?;
    if lines.next().is_some() {
        return Err(InboundError::Repeated(what));
    }
    Ok(tag_param(line.value()).map(str::to_owned))
}

/// Skips linear white space (SP, HTAB and line folds, RFC 3261 §25.1 LWS) from `i`.
fn skip_lws(v: &[u8], mut i: usize) -> usize {
    while matches!(v.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        i += 1;
    }
    i
}

/// The end (after the closing quote) of the quoted-string starting at `i` (`v[i]` is `"`).
fn quoted_end(v: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    loop {
        match v.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The `tag` parameter of a From or To value (RFC 3261 §20.20, §20.39, §19.3), found without
/// parsing the URI: header parameters follow the `>` that closes a name-addr, or for a bare
/// addr-spec its first `;` (§20.10: those parameters are header parameters). `None` if there is
/// no tag with a value, or the value cannot be read.
pub(crate) fn tag_param(v: &[u8]) -> Option<&str> {
    // from-spec = ( name-addr / addr-spec ) *( SEMI from-param )
    let mut i = 0;
    loop {
        match v.get(i) {
            None => return None,
            Some(b'"') => i = quoted_end(v, i)?,
            Some(b'<') => {
                i += v.get(i..)?.iter().position(|&b| b == b'>')? + 1;
                break;
            }
            Some(b';') => break,
            Some(_) => i += 1,
        }
    }
    // *( SEMI generic-param ), generic-param = token [ EQUAL gen-value ]
    loop {
        i = skip_lws(v, i);
        if v.get(i) != Some(&b';') {
            return None;
        }
        i = skip_lws(v, i + 1);
        let name_start = i;
        while v.get(i).is_some_and(|&b| is_token_char(b)) {
            i += 1;
        }
        let name = v.get(name_start..i)?;
        i = skip_lws(v, i);
        let value = if v.get(i) == Some(&b'=') {
            i = skip_lws(v, i + 1);
            if v.get(i) == Some(&b'"') {
                let end = quoted_end(v, i)?;
                let inner = v.get(i + 1..end - 1)?;
                i = end;
                Some(inner)
            } else {
                let start = i;
                while v
                    .get(i)
                    .is_some_and(|&b| !matches!(b, b';' | b',' | b' ' | b'\t' | b'\r' | b'\n'))
                {
                    i += 1;
                }
                Some(v.get(start..i)?)
            }
        } else {
            None
        };
        if name.eq_ignore_ascii_case(b"tag") {
            return value.and_then(|t| std::str::from_utf8(t).ok());
        }
    }
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// The sent-by of a Via: host (lower case) and port as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct SentBy {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
}

/// RFC 3261 §17.2.3: branch, sent-by and method (INVITE for an ACK).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ServerKey {
    pub(crate) branch: String,
    pub(crate) sent_by: SentBy,
    pub(crate) method: Method,
}

/// RFC 3261 §17.1.3: branch of the top Via and CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    pub(crate) branch: String,
    pub(crate) method: Method,
}

/// RFC 3261 §8.2.2.2: From tag, Call-ID and CSeq.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MergeKey {
    pub(crate) from_tag: Option<String>,
    pub(crate) call_id: String,
    pub(crate) seq: u32,
    pub(crate) method: Method,
}

/// The ACK for a 2xx, matched to the Accepted INVITE server transaction by the dialog it
/// confirms (RFC 3261 §13.3.1.4, §12.1.1): Call-ID, From tag, the 2xx's To tag, CSeq number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct AckKey {
    pub(crate) call_id: String,
    pub(crate) from_tag: Option<String>,
    pub(crate) to_tag: Option<String>,
    pub(crate) seq: u32,
}

impl AckKey {
    /// The key an ACK carries.
    pub(crate) fn of_ack(info: &RequestInfo) -> AckKey {
        AckKey {
            call_id: info.call_id.clone(),
            from_tag: info.from_tag.clone(),
            to_tag: info.to_tag.clone(),
            seq: info.cseq.seq,
        }
    }
}

/// The key of a response: top Via branch and CSeq method (RFC 3261 §17.1.3).
pub(crate) fn response_key(msg: &Message) -> Result<ClientKey, InboundError> {
    let via = msg
        .top_via_view()
        .map_err(bad("Via"))?
        .ok_or(InboundError::MissingHeader("Via"))?;
    let branch = via.branch().ok_or(InboundError::NoBranch)?.to_owned();
    let cseq = msg
        .cseq()
        .map_err(bad("CSeq"))?
        .ok_or(InboundError::MissingHeader("CSeq"))?;
    Ok(ClientKey {
        branch,
        method: cseq.method,
    })
}

/// The To tag of a message, if To parses and has one.
pub(crate) fn to_tag(msg: &Message) -> Option<String> {
    msg.to_view()
        .ok()
        .flatten()
        .and_then(|t| t.tag().map(str::to_owned))
}

/// Two top Vias are the same hop's (RFC 2543 matching): protocol, transport, sent-by and the
/// parameters other than those a receiving transport adds (`received`, `rport`, §18.2.1, RFC 3581).
fn via_eq(a: &str, b: &str) -> bool {
    match (sip_msg::parse_one::<Via>(a), sip_msg::parse_one::<Via>(b)) {
        (Ok(a), Ok(b)) => same_hop(&a, &b),
        _ => false,
    }
}

/// [`via_eq`] on parsed values.
fn same_hop(a: &Via, b: &Via) -> bool {
    let params = |v: &Via| {
        v.params
            .iter()
            .filter(|p| {
                !p.name.eq_ignore_ascii_case("received") && !p.name.eq_ignore_ascii_case("rport")
            })
            .map(|p| (p.name.to_ascii_lowercase(), p.value.clone()))
            .collect::<Vec<_>>()
    };
    a.protocol.eq_ignore_ascii_case(&b.protocol)
        && a.transport == b.transport
        && a.host.to_string().eq_ignore_ascii_case(&b.host.to_string())
        && a.port == b.port
        && params(a) == params(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(text: &str) -> RequestInfo {
        RequestInfo::of(&Message::parse(text.replace('\n', "\r\n")).unwrap()).unwrap()
    }

    fn request(method: &str, uri: &str, via: &str, to: &str, cseq: &str) -> RequestInfo {
        info(&format!(
            "{method} {uri} SIP/2.0\nVia: {via}\nFrom: <sip:a@x>;tag=f1\nTo: {to}\n\
             Call-ID: cid\nCSeq: {cseq}\n\n"
        ))
    }

    const VIA: &str = "SIP/2.0/UDP Host.Example.COM:5060;branch=z9hG4bKabc";
    const OLD_VIA: &str = "SIP/2.0/UDP old.example.com:5060;branch=1234";

    #[test]
    fn server_key_is_branch_sent_by_and_method() {
        // RFC 3261 §17.2.3: the host of sent-by compares case-insensitively; ACK keys as INVITE.
        let inv = request("INVITE", "sip:b@x", VIA, "<sip:b@x>", "1 INVITE");
        let ack = request(
            "ACK",
            "sip:b@x",
            "SIP/2.0/UDP host.example.com:5060;branch=z9hG4bKabc",
            "<sip:b@x>;tag=t",
            "1 ACK",
        );
        assert_eq!(inv.server_key(), ack.server_key());
        let other_port = request(
            "INVITE",
            "sip:b@x",
            "SIP/2.0/UDP host.example.com:5070;branch=z9hG4bKabc",
            "<sip:b@x>",
            "1 INVITE",
        );
        assert_ne!(inv.server_key(), other_port.server_key());
        let cancel = request("CANCEL", "sip:b@x", VIA, "<sip:b@x>", "1 CANCEL");
        assert_ne!(cancel.server_key(), inv.server_key());
        assert_eq!(cancel.server_key(), inv.cancel_key().as_ref());
        // No magic cookie: no key, RFC 2543 matching.
        let old = request("INVITE", "sip:b@x", OLD_VIA, "<sip:b@x>", "1 INVITE");
        assert!(old.server_key().is_none());
        assert!(old.branch.is_none());
    }

    #[test]
    fn rfc2543_rules() {
        let inv = request("INVITE", "sip:b@x", OLD_VIA, "<sip:b@x>", "1 INVITE");
        // §17.2.3: the same Request-URI, To tag, From tag, Call-ID, CSeq and top Via.
        assert!(inv.matches_2543(&inv, None, false));
        let other_uri = request("INVITE", "sip:c@x", OLD_VIA, "<sip:b@x>", "1 INVITE");
        assert!(!other_uri.matches_2543(&inv, None, false));
        let other_cseq = request("INVITE", "sip:b@x", OLD_VIA, "<sip:b@x>", "2 INVITE");
        assert!(!other_cseq.matches_2543(&inv, None, false));
        let tagged = request("INVITE", "sip:b@x", OLD_VIA, "<sip:b@x>;tag=z", "1 INVITE");
        assert!(!tagged.matches_2543(&inv, None, false));
        let other_via = request(
            "INVITE",
            "sip:b@x",
            "SIP/2.0/TCP old.example.com:5060;branch=1234",
            "<sip:b@x>",
            "1 INVITE",
        );
        assert!(!other_via.matches_2543(&inv, None, false));
        // The ACK: CSeq number only, and the To tag of the response the transaction sent.
        let ack = request("ACK", "sip:b@x", OLD_VIA, "<sip:b@x>;tag=r", "1 ACK");
        assert!(ack.matches_2543(&inv, Some("r"), false));
        assert!(!ack.matches_2543(&inv, Some("q"), false));
        assert!(!ack.matches_2543(&inv, None, false));
        // §9.2: a CANCEL matches as if it had the INVITE's method.
        let cancel = request("CANCEL", "sip:b@x", OLD_VIA, "<sip:b@x>", "1 CANCEL");
        assert!(cancel.matches_2543(&inv, None, true));
        assert!(!cancel.matches_2543(&inv, None, false));
    }

    #[test]
    fn merge_key_only_without_to_tag() {
        let inv = request("INVITE", "sip:b@x", VIA, "<sip:b@x>", "1 INVITE");
        let k = inv.merge_key().unwrap();
        assert_eq!(
            (k.from_tag.as_deref(), k.call_id.as_str(), k.seq),
            (Some("f1"), "cid", 1)
        );
        let in_dialog = request("INVITE", "sip:b@x", VIA, "<sip:b@x>;tag=t", "1 INVITE");
        assert!(in_dialog.merge_key().is_none());
        let cancel = request("CANCEL", "sip:b@x", VIA, "<sip:b@x>", "1 CANCEL");
        assert!(cancel.merge_key().is_none());
    }

    #[test]
    fn tag_param_cases() {
        for (value, tag) in [
            ("<sip:a@x>;tag=abc", Some("abc")),
            (
                "\"A; <b>\" <sip:a@x;tag=inner>;epid=1 ; TAG = up",
                Some("up"),
            ),
            ("sip:a@x;tag=bare", Some("bare")),
            ("Alice <sip:a@x?h=1>", None),
            ("<sip:a@x>;tag", None),
            ("<sip:a@x>;x=\"q;tag=no\";tag=yes", Some("yes")),
            ("<sip:a@x>;tag=\"quoted\"", Some("quoted")),
            ("\"unterminated <sip:a@x>;tag=1", None),
            ("<sip:a@x", None),
        ] {
            assert_eq!(tag_param(value.as_bytes()), tag, "{value}");
        }
    }

    fn token() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::string::string_regex("[A-Za-z0-9.!%*_+`'~-]{1,8}").unwrap()
    }

    proptest::proptest! {
        /// The tag found by the light scan is the tag sip-msg's full parser finds, for every
        /// From value sip-msg accepts.
        #[test]
        fn tag_param_agrees_with_sip_msg(
            display in proptest::option::of(proptest::prop_oneof![
                token(),
                proptest::string::string_regex("\"[A-Za-z <>;,=@]{0,8}(\\\\\"[a-z;<]{0,3})?\"").unwrap(),
            ]),
            bracket in proptest::bool::ANY,
            uri_params in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(";tag=inner".to_string()),
                    proptest::strategy::Just(";transport=tcp".to_string()),
                    proptest::strategy::Just(";lr".to_string()),
                ],
                0..3,
            ),
            params in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::strategy::Just("tag".to_string()),
                        proptest::strategy::Just("TAG".to_string()),
                        token(),
                    ],
                    proptest::option::of(proptest::prop_oneof![
                        token(),
                        proptest::string::string_regex("\"[a-z ;=,<>]{0,6}\"").unwrap(),
                    ]),
                    proptest::prop_oneof![
                        proptest::strategy::Just(""),
                        proptest::strategy::Just(" "),
                        proptest::strategy::Just("\r\n "),
                    ],
                ),
                0..4,
            ),
        ) {
            let mut value = String::new();
            if bracket {
                if let Some(d) = &display {
                    value.push_str(d);
                    value.push(' ');
                }
                value.push_str("<sip:alice@example.com");
                for p in &uri_params {
                    value.push_str(p);
                }
                value.push('>');
            } else {
                value.push_str("sip:alice@example.com");
            }
            for (name, v, ws) in &params {
                value.push_str(ws);
                value.push(';');
                value.push_str(ws);
                value.push_str(name);
                if let Some(v) = v {
                    value.push('=');
                    value.push_str(v);
                }
            }
            let text = format!(
                "OPTIONS sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: {value}\r\n\
                 To: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n"
            );
            let Ok(msg) = Message::parse(text.into_bytes()) else {
                return Ok(());
            };
            let Ok(Some(from)) = msg.from() else {
                return Ok(());
            };
            let raw = msg.header(&HeaderName::From).unwrap().value();
            proptest::prop_assert_eq!(tag_param(raw), from.tag(), "{}", value);
        }
    }
}
