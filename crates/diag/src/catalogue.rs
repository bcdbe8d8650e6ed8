//! The catalogue itself: every code, in ascending ErrorId order.
//!
//! Microsoft codes come from [MS-OCER] §7/§8 and field traces as collected in MS-SIP.md §1.5.
//! Where MS-SIP.md marks the SIP status as not observed (`?`), the status here is Convene's
//! choice and the entry says so (`StatusEvidence::Chosen`).
//!
//! Convene's own codes, for situations Microsoft has no code for, live in [`CONVENE_RANGE`]
//! (60000–60999): above every Microsoft range in [MS-OCER] 2.2.1 / MS-SIP.md §1.4 and above
//! every code seen in the field (highest known: 53000, [MS-SDPEXT] 3.1.5.26), so a Microsoft
//! client treats them as "unknown code" (generic error, [MS-OCER] 9.3.2) and never mistakes one
//! for a Microsoft meaning.

use crate::DiagCode;
use std::ops::RangeInclusive;

/// The ErrorId range reserved for Convene's own codes.
pub const CONVENE_RANGE: RangeInclusive<u32> = 60000..=60999;

/// Looks a code up by ErrorId.
pub fn lookup(id: u32) -> Option<&'static DiagCode> {
    CATALOGUE.iter().find(|c| c.id == id)
}

macro_rules! catalogue {
    ($( $(#[$doc:meta])* $name:ident = { $($field:ident : $val:expr),* $(,)? } )*) => {
        /// Every catalogue entry as a named constant (the name says what, the doc line the ErrorId).
        pub mod codes {
            use crate::DiagCode;
            use crate::HeaderKind::*;
            use crate::StatusEvidence::*;
            use super::{CONVENE, OCER_74, OCER_82, OCER_811, OCER_FE, SEED3};
            $( $(#[$doc])* pub const $name: DiagCode = DiagCode { $($field: $val),* }; )*
        }
        /// Every code Convene emits, ascending by ErrorId.
        pub static CATALOGUE: &[DiagCode] = &[ $( codes::$name ),* ];
    };
}

const OCER_82: &str = "[MS-OCER] 8.2";
const OCER_74: &str = "[MS-OCER] 7.4, 8.4";
const OCER_FE: &str = "[MS-OCER] pages d4ff868d, d5c23768";
const OCER_811: &str = "[MS-OCER] 8.11";
const SEED3: &str = "field: seed-003 (Lync/Lync Online meeting-join traces)";
const CONVENE: &str = "Convene";

catalogue! {
    /// 1000
    FINAL_HANDSHAKE_FAILED = {
        id: 1000, status: 401, status_evidence: Chosen, header: Private,
        reason: "Final handshake failed", params: &[],
        meaning: "The last leg of an NTLM/Kerberos/TLS-DSK authentication handshake failed; the client must start over. Status 401 is Convene's choice (not observed).",
        fix: "Check the client's credentials and the clock skew between client and server; see the authentication log for the security association.",
        citation: OCER_82,
    }
    /// 1001
    FROM_NOT_AUTHORIZED_PUBLIC_IM = {
        id: 1001, status: 403, status_evidence: Chosen, header: Private,
        reason: "From URI not authorized to communicate with public IM providers", params: &["from-uri", "destination"],
        meaning: "The sender's external access policy does not allow public IM connectivity.",
        fix: "Enable `public_im` in the user's external access policy, if the organisation wants public IM.",
        citation: OCER_82,
    }
    /// 1002
    FROM_NOT_AUTHORIZED_FEDERATION = {
        id: 1002, status: 403, status_evidence: Observed, header: Private,
        reason: "From URI not authorized to communicate with federated partners", params: &["from-uri", "destination"],
        meaning: "The sender may not talk to federated partners: their external access policy has federation off, or their online tenant's federation is off completely. Lync clients fall back to an anonymous meeting join on this code.",
        fix: "Enable `federation` in the sender's external access policy, or turn the tenant's federation mode on (`allowed-domains-only` or `all-except-blocked`).",
        citation: "[MS-OCER] 8.2; 403 from field: seed-003",
    }
    /// 1003
    USER_DOES_NOT_EXIST = {
        id: 1003, status: 404, status_evidence: Observed, header: Private,
        reason: "User does not exist", params: &["TargetUri"],
        meaning: "The Request-URI names no user or endpoint this server knows.",
        fix: "Check the target address; make sure the user is enabled for SIP and homed on this pool.",
        citation: "[MS-OCER] 8.2; 404 from field: seed-001",
    }
    /// 1004
    ROUTE_SET_INVALID = {
        id: 1004, status: 481, status_evidence: Chosen, header: Private,
        reason: "Route set is no longer valid", params: &[],
        meaning: "An in-dialog request's route set points to a hop that no longer serves the dialog. Status 481 is Convene's choice (not observed).",
        fix: "Usually transient after a server restart or failover; the client re-establishes the dialog.",
        citation: OCER_82,
    }
    /// 1005
    CANNOT_ROUTE_TO_DESTINATION_DOMAIN = {
        id: 1005, status: 504, status_evidence: Chosen, header: Private,
        reason: "Cannot route to destination domain", params: &["domain", "PeerServer"],
        meaning: "The edge knows where the partner domain lives but could not reach its edge. Lync clients fall back to an anonymous meeting join on this code. Status 504 is Convene's choice (not observed).",
        fix: "Check that the partner's edge FQDN resolves and accepts TLS on port 5061 from this edge (firewall, routing).",
        citation: "[MS-OCER] 8.2; client reaction from field: seed-003",
    }
    /// 1006
    ERROR_ROUTING_ON_CLIENT_CONNECTION = {
        id: 1006, status: 503, status_evidence: Chosen, header: Private,
        reason: "Error routing on protocol client connection", params: &[],
        meaning: "The connection to the target client failed while the request was being delivered. Status 503 is Convene's choice (not observed).",
        fix: "Usually the client went away; if it persists, check the client's network path to this server.",
        citation: OCER_82,
    }
    /// 1007
    TEMPORARILY_CANNOT_ROUTE = {
        id: 1007, status: 480, status_evidence: Chosen, header: Private,
        reason: "Temporarily cannot route", params: &[],
        meaning: "No next hop is available right now. Status 480 is Convene's choice (not observed).",
        fix: "Check the health of the next-hop pool or edge; retry later.",
        citation: OCER_82,
    }
    /// 1008
    UNABLE_TO_RESOLVE_DNS_SRV = {
        id: 1008, status: 504, status_evidence: Chosen, header: Private,
        reason: "Unable to resolve DNS SRV record", params: &["domain"],
        meaning: "The partner domain publishes no `_sipfederationtls._tcp` SRV record. Lync clients fall back to an anonymous meeting join on this code. Status 504 is Convene's choice (not observed).",
        fix: "Ask the partner to publish `_sipfederationtls._tcp.<domain>`, or add the domain to the allowed list with its edge FQDN.",
        citation: "[MS-OCER] 8.2; Test-CsFederatedPartner docs; client reaction from field: seed-003",
    }
    /// 1009
    NO_MATCH_FOR_DOMAIN_IN_SRV = {
        id: 1009, status: 504, status_evidence: Observed, header: Private,
        reason: "No match for domain in DNS SRV results", params: &["domain", "fqdn1"],
        meaning: "The partner's `_sipfederationtls._tcp` SRV target is not inside the partner domain (strict DNS naming) and is no configured hosting provider. Lync clients fall back to an anonymous meeting join on this code.",
        fix: "Ask the partner to point the SRV record at a host inside their domain, or add the domain to the allowed list with its edge FQDN, or add the SRV target as a hosting provider.",
        citation: "[MS-OCER] 8.2 (spec text: \"Conflicting SRV and host domains in DNS\"); SfB text and 504 from field: Cisco TAC 212383",
    }
    /// 1010
    CERTIFICATE_TRUST_FAILED = {
        id: 1010, status: 504, status_evidence: Observed, header: Private,
        reason: "Certificate trust with another server could not be established", params: &["ErrorType", "tls-target", "PeerServer", "HRESULT"],
        meaning: "The next hop's TLS certificate did not name the expected FQDN or did not chain to a trusted CA.",
        fix: "Make the peer's certificate carry its edge FQDN in the SAN and chain to a CA this edge trusts.",
        citation: "[MS-OCER] 8.2; SfB text and 504 from field: Cisco TAC 212383",
    }
    /// 1011
    PREVIOUS_HOP_NO_DIAGNOSTICS = {
        id: 1011, status: 504, status_evidence: Chosen, header: Private,
        reason: "ms-diagnostics header not provided by previous hop", params: &[],
        meaning: "A downstream server answered with an error and gave no ms-diagnostics. Status 504 is Convene's choice (not observed); across federation Convene uses 1034/1036 instead.",
        fix: "Look at the downstream server's own logs for the failure.",
        citation: OCER_82,
    }
    /// 1012
    FROM_NOT_AUTHORIZED_OUTSIDE = {
        id: 1012, status: 403, status_evidence: Chosen, header: Private,
        reason: "From URI is not authorized to communicate with users outside the enterprise", params: &["from-uri", "destination"],
        meaning: "The sender's policy allows no external communication at all. Status 403 is Convene's choice (not observed).",
        fix: "Assign the user an external access policy that allows the kind of external contact wanted.",
        citation: OCER_82,
    }
    /// 1013
    TIME_SKEW = {
        id: 1013, status: 401, status_evidence: Chosen, header: Private,
        reason: "Significant time skew detected during authentication", params: &[],
        meaning: "The client's clock differs too much from the server's for Kerberos/TLS-DSK. Status 401 is Convene's choice (not observed).",
        fix: "Synchronise the client's and the server's clocks (NTP).",
        citation: OCER_82,
    }
    /// 1014
    UNABLE_TO_RESOLVE_DNS_A = {
        id: 1014, status: 504, status_evidence: Chosen, header: Private,
        reason: "Unable to resolve DNS A record", params: &["fqdn"],
        meaning: "The next hop's host name has no address record. Status 504 is Convene's choice (not observed).",
        fix: "Publish an A/AAAA record for the host, or correct the configured FQDN.",
        citation: OCER_82,
    }
    /// 1017
    CANNOT_ROUTE_DOMAIN_COMBINATION = {
        id: 1017, status: 504, status_evidence: Observed, header: Private,
        reason: "Cannot route From and To domains in this combination", params: &["summary", "external-domain", "external-type", "internal-domain", "internal-type"],
        meaning: "The edge does not federate between these two domains: federation is off, or partner discovery is off and the partner domain is not in the allowed list (the `summary` says which).",
        fix: "Add the partner domain to `[[edge.allowed_domains]]`, or set `partner_discovery = true` (and `federation = true`) in `[edge]`.",
        citation: SEED3,
    }
    /// 1028
    HOSTING_PROVIDER_DOMAIN_NOT_ALLOWED = {
        id: 1028, status: 504, status_evidence: Observed, header: Private,
        reason: "Domain resolved by DNS SRV to a configured hosting service but the domain is not in the allow list", params: &["domain", "fqdn1"],
        meaning: "The partner domain is hosted by a configured hosting provider (e.g. an online service), partner discovery is off and the domain is not in the allowed list.",
        fix: "Add the domain to `[[edge.allowed_domains]]`, or enable `partner_discovery`.",
        citation: SEED3,
    }
    /// 1034
    FEDERATED_PEER_NO_DIAGNOSTICS = {
        id: 1034, status: 504, status_evidence: Observed, header: Private,
        reason: "Previous hop federated peer did not report diagnostic information", params: &["Domain", "PeerServer"],
        meaning: "This edge let the request out, but the federated partner's edge refused it without saying why (typically the partner does not federate with us).",
        fix: "Nothing to change here: ask the partner's admin to allow this domain (or enable partner discovery) on their edge.",
        citation: "field: seed-003 (504); field: libsipe trace (404)",
    }
    /// 1036
    SHARED_ADDRESS_SPACE_PEER_NO_DIAGNOSTICS = {
        id: 1036, status: 504, status_evidence: Observed, header: Private,
        reason: "Previous hop shared address space peer did not report diagnostic information", params: &["Domain", "PeerServer"],
        meaning: "This edge let the request out to a hosting provider (shared address space), which refused it without saying why (typically the hosted tenant does not federate with us).",
        fix: "Nothing to change here: ask the hosted tenant's admin to allow this domain.",
        citation: SEED3,
    }
    /// 1047
    TLS_NEGOTIATION_WITH_PEER_FAILED = {
        id: 1047, status: 504, status_evidence: Chosen, header: Private,
        reason: "Failed to complete TLS negotiation with a federated peer server", params: &["PeerServer", "WinsockFailureCode", "WinsockFailureDescription"],
        meaning: "The TLS handshake with the partner's edge failed (often: the partner does not trust our CA). Status 504 is Convene's choice (not observed).",
        fix: "Use a certificate from a CA the partner trusts, with the Client Authentication EKU; check the partner trusts it.",
        citation: "field: risual blog on 1047",
    }
    /// 1064
    BLOCKED_DOMAIN = {
        id: 1064, status: 504, status_evidence: Observed, header: Private,
        reason: "Cannot route to blocked domain", params: &["domain", "suffix"],
        meaning: "The partner domain (or a parent domain, `suffix`) is in this edge's blocked list.",
        fix: "Remove the entry from `[[edge.blocked_domains]]` if federation with the domain is wanted.",
        citation: SEED3,
    }
    /// 2013
    EVENT_CATEGORIES_REQUIRED = {
        id: 2013, status: 421, status_evidence: Chosen, header: Public,
        reason: "msrtc-event-categories extension required", params: &[],
        meaning: "A subscriber did not advertise `Supported: msrtc-event-categories`. Status 421 (Extension Required) is Convene's choice (not observed).",
        fix: "Client problem: use a client that supports Microsoft's category subscriptions.",
        citation: "[MS-OCER] 8.3",
    }
    /// 2014
    SUBSCRIPTION_DIALOG_DOES_NOT_EXIST = {
        id: 2014, status: 481, status_evidence: Chosen, header: Public,
        reason: "Subscription dialog does not exist", params: &[],
        meaning: "A refresh or NOTIFY named a subscription this server does not hold. Status 481 is Convene's choice (not observed).",
        fix: "Transient; the client re-subscribes.",
        citation: "[MS-OCER] 8.3",
    }
    /// 3000
    FOCUS_BAD_FROM = {
        id: 3000, status: 400, status_evidence: Chosen, header: Private,
        reason: "Bad From in C3P request", params: &[],
        meaning: "The C3P `from` attribute is missing or does not match the SIP From. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: the CCCP request must carry the sender's URI in `from`.",
        citation: OCER_74,
    }
    /// 3001
    FOCUS_BAD_TO = {
        id: 3001, status: 400, status_evidence: Chosen, header: Private,
        reason: "Bad To in C3P request", params: &[],
        meaning: "The C3P `to` attribute is missing or is not the focus URI. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: the CCCP request must carry the focus URI in `to`.",
        citation: OCER_74,
    }
    /// 3002
    FOCUS_INVALID_TARGET_USER = {
        id: 3002, status: 404, status_evidence: Chosen, header: Private,
        reason: "Invalid target user", params: &[],
        meaning: "The user named in the C3P command is not in the conference. Status 404 is Convene's choice (not observed).",
        fix: "Refresh the roster; the user may have left.",
        citation: OCER_74,
    }
    /// 3003
    FOCUS_INVALID_CONFERENCE_ENTITY = {
        id: 3003, status: 400, status_evidence: Chosen, header: Private,
        reason: "The conference-entity supplied in the C3P request is invalid", params: &[],
        meaning: "`conferenceKeys/@confEntity` does not name this conference. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: `confEntity` must equal the focus URI.",
        citation: OCER_74,
    }
    /// 3004
    FOCUS_COMMAND_NOT_IMPLEMENTED = {
        id: 3004, status: 501, status_evidence: Chosen, header: Public,
        reason: "The requested C3P command is not implemented", params: &[],
        meaning: "The focus does not implement this C3P command. Status 501 is Convene's choice (not observed).",
        fix: "None on the server side; the client feature is not supported by this focus.",
        citation: OCER_74,
    }
    /// 3005
    FOCUS_CANNOT_TARGET_MCU = {
        id: 3005, status: 403, status_evidence: Chosen, header: Private,
        reason: "The request cannot target a MCU", params: &[],
        meaning: "The command may not be sent to an MCU URI. Status 403 is Convene's choice (not observed).",
        fix: "Client problem: send the command to the focus URI.",
        citation: OCER_74,
    }
    /// 3006
    FOCUS_C3P_PARSE_FAILED = {
        id: 3006, status: 400, status_evidence: Chosen, header: Private,
        reason: "Failed to parse the C3P request", params: &[],
        meaning: "The application/cccp+xml body is not well-formed or not a C3P request. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: capture the body (`convene` logs it at debug level) and check it against [MS-CONFBAS].",
        citation: OCER_74,
    }
    /// 3007
    FOCUS_ADD_USER_INVALID = {
        id: 3007, status: 400, status_evidence: Chosen, header: Private,
        reason: "AddUser C3P blob invalid", params: &[],
        meaning: "The `addUser` element lacks its conference keys or user. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: see [MS-CONFBAS] 2.2.3.4 for the required elements.",
        citation: OCER_74,
    }
    /// 3008
    FOCUS_ACCESS_METHOD_NOT_ACCEPTABLE = {
        id: 3008, status: 403, status_evidence: Chosen, header: Private,
        reason: "Access Method or Auth Method in C3P request is not acceptable", params: &[],
        meaning: "The requested access or authentication method is not allowed for this conference. Status 403 is Convene's choice (not observed).",
        fix: "Check the conference's admission policy.",
        citation: OCER_74,
    }
    /// 3009
    FOCUS_MALFORMED_ENDPOINT = {
        id: 3009, status: 400, status_evidence: Chosen, header: Private,
        reason: "Malformed endpoint entity", params: &[],
        meaning: "The `endpoint/@entity` of the C3P user is malformed. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: the endpoint entity should be a GUID or the client's GRUU.",
        citation: OCER_74,
    }
    /// 3010
    FOCUS_SESSION_TIMER_REQUIRED = {
        id: 3010, status: 421, status_evidence: Chosen, header: Private,
        reason: "Bad request without Session-Timer extension", params: &[],
        meaning: "The INVITE to the focus did not support session timers. Status 421 is Convene's choice (not observed); Convene's focus accepts such INVITEs and does not emit this today.",
        fix: "Client problem: send `Supported: timer`.",
        citation: OCER_74,
    }
    /// 3011
    FOCUS_MCU_CONTACT_FAILED = {
        id: 3011, status: 400, status_evidence: Chosen, header: Private,
        reason: "Failed to process Ms-Mcu-Contact header", params: &[],
        meaning: "An MCU's `Ms-Mcu-Contact` header could not be processed. Status 400 is Convene's choice (not observed).",
        fix: "Check the MCU's registration with the focus.",
        citation: OCER_74,
    }
    /// 3012
    FOCUS_INVALID_CONFERENCE_URI = {
        id: 3012, status: 404, status_evidence: Chosen, header: Private,
        reason: "Invalid conference URI", params: &[],
        meaning: "The focus URI names no conference (wrong or expired conference id). Status 404 is Convene's choice (not observed).",
        fix: "Check the meeting link; the meeting may have been deleted.",
        citation: OCER_74,
    }
    /// 3013
    FOCUS_INVALID_MCU_URI = {
        id: 3013, status: 404, status_evidence: Chosen, header: Private,
        reason: "Invalid MCU URI", params: &[],
        meaning: "The MCU URI names no MCU of this conference. Status 404 is Convene's choice (not observed).",
        fix: "Client problem: take MCU URIs from the conference document's `conf-uris`.",
        citation: OCER_74,
    }
    /// 3014
    FOCUS_AUTHORIZATION_FAILED = {
        id: 3014, status: 403, status_evidence: Chosen, header: Private,
        reason: "Failed authorization", params: &[],
        meaning: "The user may not perform this conference operation. Status 403 is Convene's choice (not observed).",
        fix: "Check the user's role in the conference and the organiser's conferencing policy.",
        citation: OCER_74,
    }
    /// 3015
    FOCUS_DIAL_OUT_NOT_ALLOWED = {
        id: 3015, status: 403, status_evidence: Chosen, header: Private,
        reason: "This meeting does not allow 3rd-party dial-out by attendees", params: &[],
        meaning: "An attendee asked the conference to dial out and the meeting forbids it. Status 403 is Convene's choice (not observed).",
        fix: "Allow attendee dial-out in the organiser's conferencing policy if wanted.",
        citation: OCER_74,
    }
    /// 3016
    FOCUS_INVALID_ROLE = {
        id: 3016, status: 400, status_evidence: Chosen, header: Private,
        reason: "The supplied role is invalid", params: &[],
        meaning: "The requested conference role is not one the focus knows. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: roles are `attendee` or `presenter`.",
        citation: OCER_74,
    }
    /// 4003
    FROM_NOT_ENABLED_FOR_REMOTE_ACCESS = {
        id: 4003, status: 403, status_evidence: Chosen, header: Public,
        reason: "From URI not enabled for remote access", params: &[],
        meaning: "The user connected through the edge, but their external access policy does not allow remote access. Status 403 is Convene's choice (not observed).",
        fix: "Enable `remote_access` in the user's external access policy, and `remote_user_access` in `[edge]`.",
        citation: OCER_FE,
    }
    /// 4004
    CREDENTIALS_NOT_AUTHORIZED_FOR_FROM = {
        id: 4004, status: 403, status_evidence: Chosen, header: Public,
        reason: "Credentials provided are not authorized to act as specified from URI", params: &[],
        meaning: "The authenticated identity does not own the From URI. Status 403 is Convene's choice (not observed).",
        fix: "Sign in with the account that owns the address.",
        citation: OCER_FE,
    }
    /// 4005
    DESTINATION_NOT_ENABLED_FOR_SIP = {
        id: 4005, status: 404, status_evidence: Chosen, header: Private,
        reason: "Destination URI either not enabled for SIP or does not exist", params: &[],
        meaning: "The target is not a SIP-enabled user (also seen at sign-in of a user not yet replicated). Status 404 is Convene's choice (not observed).",
        fix: "Enable the user for SIP, or wait for replication.",
        citation: "[MS-OCER] pages d4ff868d, d5c23768; 4005 sign-in support article",
    }
    /// 4006
    USER_NOT_FOUND_IN_POOL = {
        id: 4006, status: 404, status_evidence: Chosen, header: Private,
        reason: "User not found in pool", params: &[],
        meaning: "The user exists but is not homed on the pool that received the request. Status 404 is Convene's choice (not observed).",
        fix: "Check the user's home pool assignment.",
        citation: OCER_FE,
    }
    /// 4010
    MISSING_ENDPOINT_IDENTIFIER = {
        id: 4010, status: 400, status_evidence: Chosen, header: Private,
        reason: "Missing endpoint identifier", params: &[],
        meaning: "The request carries no endpoint identifier (epid). Status 400 is Convene's choice (not observed).",
        fix: "Client problem: the From header needs an `epid` parameter.",
        citation: OCER_FE,
    }
    /// 4011
    EPID_NOT_PRESENT = {
        id: 4011, status: 400, status_evidence: Chosen, header: Private,
        reason: "Epid not present", params: &[],
        meaning: "The `epid` parameter is absent where it is required. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: add `epid` to the From header.",
        citation: OCER_FE,
    }
    /// 4012
    EPID_TOO_LONG = {
        id: 4012, status: 400, status_evidence: Chosen, header: Private,
        reason: "Epid too long", params: &[],
        meaning: "The `epid` parameter exceeds the allowed length. Status 400 is Convene's choice (not observed).",
        fix: "Client problem: epids are short hex strings.",
        citation: OCER_FE,
    }
    /// 4033
    TO_USER_NOT_AUTHORIZED_FEDERATION = {
        id: 4033, status: 403, status_evidence: Observed, header: Private,
        reason: "To User not authorized for Federation", params: &["processing-cluster", "processing-frontend", "target-user-primary-pool"],
        meaning: "The target user may not receive federated requests from the sender: their external access policy has federation off, or their tenant does not federate with the sender's domain. Lync clients fall back to an anonymous meeting join on this code.",
        fix: "Enable `federation` in the target user's external access policy, or allow the sender's domain in the target tenant.",
        citation: SEED3,
    }
    /// 10003
    PROXY_RETURNED_FAILURE = {
        id: 10003, status: 404, status_evidence: Observed, header: PrivateAndPublic,
        reason: "Proxy returned a SIP failure code", params: &["component", "SipResponseCode", "SipResponseText"],
        meaning: "The gateway side of a PSTN call (mediation/trunk) answered with a failure; the SIP status is the gateway's.",
        fix: "Look at `SipResponseCode`/`SipResponseText` and the gateway's logs.",
        citation: "field: libsipe trace",
    }
    /// 12000
    NO_GATEWAY_AVAILABLE = {
        id: 12000, status: 503, status_evidence: Chosen, header: Private,
        reason: "Routes available for this request but no available gateway at this point", params: &[],
        meaning: "A voice route matched but all its gateways are down. Status 503 is Convene's choice (not observed).",
        fix: "Check the gateways' health (OPTIONS pings) and trunk configuration.",
        citation: OCER_811,
    }
    /// 12001
    NO_PHONE_ROUTE_USAGE = {
        id: 12001, status: 403, status_evidence: Observed, header: Private,
        reason: "User Policy does not contain phone route usage", params: &[],
        meaning: "The caller's voice policy has no PSTN usage that leads to a route.",
        fix: "Add a PSTN usage to the user's voice policy.",
        citation: "[MS-OCER] 8.11; 403 from Test-CsPstnPeerToPeerCall docs",
    }
    /// 12002
    PHONE_NUMBER_INVALID = {
        id: 12002, status: 484, status_evidence: Chosen, header: Private,
        reason: "Phone number not valid or too large", params: &[],
        meaning: "The dialled number could not be normalised to a valid number. Status 484 is Convene's choice (not observed).",
        fix: "Check the dial plan's normalisation rules.",
        citation: OCER_811,
    }
    /// 12003
    INCONSISTENT_INTERNAL_STATE = {
        id: 12003, status: 500, status_evidence: Chosen, header: Private,
        reason: "Inconsistent internal state", params: &[],
        meaning: "The routing component hit an internal inconsistency. Status 500 is Convene's choice (not observed).",
        fix: "Report a bug with the decision trace.",
        citation: OCER_811,
    }
    /// 12004
    NO_ROUTE_FOUND = {
        id: 12004, status: 404, status_evidence: Chosen, header: Private,
        reason: "No route found", params: &[],
        meaning: "No voice route pattern matched the number within the caller's usages. Status 404 is Convene's choice (not observed).",
        fix: "Add a route whose pattern matches, or a usage that contains one.",
        citation: OCER_811,
    }
    /// 12005
    POLICY_PARSE_ERROR = {
        id: 12005, status: 500, status_evidence: Chosen, header: Private,
        reason: "Error parsing policy for this user", params: &[],
        meaning: "The caller's voice policy could not be read. Status 500 is Convene's choice (not observed).",
        fix: "Validate the topology (`convene ctl` reports the file and line).",
        citation: OCER_811,
    }
    /// 12006
    TRYING_NEXT_HOP = {
        id: 12006, status: 503, status_evidence: Chosen, header: Private,
        reason: "Trying next hop", params: &[],
        meaning: "Progress/failover marker: one gateway failed and the next is tried. Status 503 is Convene's choice (not observed).",
        fix: "None if the call succeeds; otherwise check the failed gateway.",
        citation: OCER_811,
    }
    /// 12007
    BAD_APPLICATION_VIA_FLAGS = {
        id: 12007, status: 400, status_evidence: Chosen, header: Private,
        reason: "Could not parse flags in ms-application-via header for outbound call routing", params: &[],
        meaning: "An application set malformed routing flags. Status 400 is Convene's choice (not observed).",
        fix: "Fix the trusted application that sent the request.",
        citation: OCER_811,
    }
    /// 12008
    TOLL_BYPASS_DISALLOWED = {
        id: 12008, status: 403, status_evidence: Chosen, header: Private,
        reason: "PSTN Toll Bypass disallowed", params: &[],
        meaning: "The route would bypass PSTN tolls and the policy forbids it. Status 403 is Convene's choice (not observed).",
        fix: "Adjust the voice policy's toll-bypass setting.",
        citation: OCER_811,
    }
    /// 12009
    TOLL_BYPASS_DISALLOWED_FOR_REFERRER = {
        id: 12009, status: 403, status_evidence: Chosen, header: Private,
        reason: "PSTN Toll Bypass disallowed for Referrer", params: &[],
        meaning: "As 12008, for the transferring user. Status 403 is Convene's choice (not observed).",
        fix: "Adjust the referrer's voice policy.",
        citation: OCER_811,
    }
    /// 12010
    FROM_DOES_NOT_MATCH_CALLER = {
        id: 12010, status: 403, status_evidence: Chosen, header: Private,
        reason: "From URI does not match caller URI", params: &[],
        meaning: "The From URI is not the authenticated caller's. Status 403 is Convene's choice (not observed).",
        fix: "Client or application problem: send as the authenticated identity.",
        citation: OCER_811,
    }
    /// 12011
    BODY_SCHEMA_VIOLATION = {
        id: 12011, status: 400, status_evidence: Chosen, header: Private,
        reason: "Request body does not conform to schema", params: &[],
        meaning: "The request body failed schema validation. Status 400 is Convene's choice (not observed).",
        fix: "Client or application problem.",
        citation: OCER_811,
    }
    /// 12012
    TOO_MANY_CALLEES = {
        id: 12012, status: 400, status_evidence: Chosen, header: Private,
        reason: "Number of callee URIs exceeded max limit", params: &[],
        meaning: "Too many targets in one request. Status 400 is Convene's choice (not observed).",
        fix: "Client or application problem.",
        citation: OCER_811,
    }
    /// 27000
    TENANT_ALLOW_LIST = {
        id: 27000, status: 504, status_evidence: Observed, header: Private,
        reason: "To-Uri Domain is not in the sender-tenant allow list", params: &["from-uri", "destination", "appName"],
        meaning: "The sender's hosted tenant federates only with allowed domains, and the target's domain is not one of them.",
        fix: "Add the target's domain to the sender tenant's `allowed` list, or set its `federation` to `all-except-blocked`.",
        citation: SEED3,
    }
    /// 60001 (Convene)
    ANONYMOUS_NOT_ALLOWED_BY_ORGANIZER = {
        id: 60001, status: 403, status_evidence: Chosen, header: PrivateAndPublic,
        reason: "Anonymous participants are not allowed by the organizer's conferencing policy", params: &["organizer"],
        meaning: "An anonymous user tried to join a meeting whose organiser's conferencing policy does not allow anonymous participants (Lync shows an error dialog; no Microsoft code is known).",
        fix: "Set `allow_anonymous_participants = true` in the organiser's conferencing policy.",
        citation: CONVENE,
    }
    /// 60002 (Convene)
    ANONYMOUS_ACCESS_DISABLED = {
        id: 60002, status: 403, status_evidence: Chosen, header: PrivateAndPublic,
        reason: "Anonymous user access is disabled on the access edge", params: &[],
        meaning: "The edge refuses all anonymous users.",
        fix: "Set `anonymous_user_access = true` in `[edge]`.",
        citation: CONVENE,
    }
    /// 60003 (Convene)
    ANONYMOUS_TARGET_NOT_FOCUS = {
        id: 60003, status: 403, status_evidence: Chosen, header: PrivateAndPublic,
        reason: "Anonymous requests may only target a conference focus", params: &["destination"],
        meaning: "An anonymous user sent a request to something other than a conference focus URI ([MS-SIPAE] 3.2.4.3).",
        fix: "None: anonymous users may only join meetings.",
        citation: "Convene; rule from [MS-SIPAE] 3.2.4.3",
    }
    /// 60004 (Convene)
    REMOTE_USER_ACCESS_DISABLED = {
        id: 60004, status: 403, status_evidence: Chosen, header: PrivateAndPublic,
        reason: "Remote user access is disabled on the access edge", params: &[],
        meaning: "The edge accepts no client connections from outside (remote or anonymous users).",
        fix: "Set `remote_user_access = true` in `[edge]`.",
        citation: CONVENE,
    }
    /// 60005 (Convene)
    TENANT_BLOCK_LIST = {
        id: 60005, status: 504, status_evidence: Chosen, header: Private,
        reason: "To-Uri Domain is in the sender-tenant block list", params: &["from-uri", "destination"],
        meaning: "The sender's hosted tenant federates with all domains except blocked ones, and the target's domain is blocked (the allow-list analogue is 27000).",
        fix: "Remove the domain from the sender tenant's `blocked` list.",
        citation: CONVENE,
    }
    /// 60006 (Convene)
    PEER_NOT_CONFIGURED_EDGE = {
        id: 60006, status: 403, status_evidence: Chosen, header: Private,
        reason: "Federated peer server is not the configured edge for its domain", params: &["domain", "PeerServer", "expected"],
        meaning: "A request from an allowed domain arrived from a server other than the edge FQDN configured for that domain.",
        fix: "Correct `edge_fqdn` of the domain in `[[edge.allowed_domains]]`, or remove it to accept any server the domain's SRV record names.",
        citation: CONVENE,
    }
    /// 60007 (Convene)
    REQUEST_NOT_SERVED_YET = {
        id: 60007, status: 501, status_evidence: Chosen, header: Private,
        reason: "This server does not serve this kind of request yet", params: &["method"],
        meaning: "The server understood the request but the role that serves it (registrar, proxy, presence, focus) is not running in this deployment or build; RFC 3261 §21.5.2 501 Not Implemented.",
        fix: "Send the request to a server that runs the role, or enable the role in the topology once Convene provides it.",
        citation: CONVENE,
    }
    /// 60008 (Convene)
    NOT_TRUSTED_APPLICATION_POOL = {
        id: 60008, status: 403, status_evidence: Chosen, header: Private,
        reason: "Peer certificate is not the trusted application pool of this port", params: &["port", "PeerServer", "expected"],
        meaning: "A server connected over mutual TLS to a trusted-application port, but the names in its verified certificate are not the FQDN of the trusted application pool that owns the port (Lync accepts only the pool's certificate on a trusted application's port).",
        fix: "Connect from the trusted application pool named in `expected`, or add the peer as a `[[pool]]` with role `trusted-application` and a `[[trusted_application]]` on that port.",
        citation: CONVENE,
    }
    /// 60009 (Convene)
    PEER_CERT_LACKS_CLIENT_AUTH = {
        id: 60009, status: 403, status_evidence: Chosen, header: Private,
        reason: "Peer certificate lacks the Client Authentication EKU", params: &["PeerServer"],
        meaning: "A server presented, as a TLS client, a certificate whose Extended Key Usage does not include Client Authentication (1.3.6.1.5.5.7.3.2); a strict peer answers such a handshake with TLS alert 43 unsupported_certificate (field: seed-002).",
        fix: "Reissue the peer's certificate with both Server Authentication and Client Authentication EKUs (`convene ctl certs init` makes such certificates).",
        citation: "Convene; field: seed-002 (Lync and Cisco CUPS federation)",
    }
    /// 60010 (Convene)
    INSTANCE_NOT_DERIVED_FROM_EPID = {
        id: 60010, status: 400, status_evidence: Chosen, header: Private,
        reason: "The +sip.instance was not derived from the epid", params: &["epid", "instance"],
        meaning: "A REGISTER carries a From `epid` and a Contact `+sip.instance` that does not match the instance derived from that epid; the server must check they belong together ([MS-SIPAE] 3.3.5.2). No Microsoft code is known.",
        fix: "Client problem: a Microsoft client derives its instance from its epid; a client that sends both must keep them consistent (or send only one).",
        citation: "Convene; rule from [MS-SIPAE] 3.3.5.2",
    }
    /// 60011 (Convene)
    INVALID_REGISTER = {
        id: 60011, status: 400, status_evidence: Chosen, header: Private,
        reason: "Invalid registration request", params: &["detail"],
        meaning: "The REGISTER breaks a rule of RFC 3261 §10.3 or RFC 5626 §6 (a malformed Contact/Expires/Call-ID/CSeq, `Contact: *` with other contacts or a non-zero Expires, several contacts with reg-id); `detail` says which.",
        fix: "Client problem: see `detail` and correct the REGISTER.",
        citation: "Convene; rules from RFC 3261 §10.3, RFC 5626 §6",
    }
    /// 60012 (Convene)
    REGISTRATION_TOO_BRIEF = {
        id: 60012, status: 423, status_evidence: Chosen, header: Private,
        reason: "Registration interval too brief", params: &["min-expires"],
        meaning: "A contact asked for a registration interval below the registrar's minimum (RFC 3261 §10.3 step 6, 423 Interval Too Brief with Min-Expires).",
        fix: "The client retries with at least Min-Expires; lower `min_expires` of the registrar if clients cannot.",
        citation: "Convene; rule from RFC 3261 §10.3",
    }
    /// 60013 (Convene)
    REGISTER_OUT_OF_ORDER = {
        id: 60013, status: 400, status_evidence: Chosen, header: Private,
        reason: "REGISTER out of order", params: &["cseq", "stored-cseq"],
        meaning: "The REGISTER has the Call-ID of a stored binding but a CSeq not higher than the binding's, so it is older than what the registrar already applied; RFC 3261 §10.3 step 7 says the update is aborted and the request fails (the status is Convene's choice).",
        fix: "Client problem: increase CSeq for every REGISTER sent with the same Call-ID.",
        citation: "Convene; rule from RFC 3261 §10.3",
    }
    /// 60014 (Convene)
    FIRST_HOP_LACKS_OUTBOUND = {
        id: 60014, status: 439, status_evidence: Chosen, header: Private,
        reason: "First hop lacks outbound support", params: &[],
        meaning: "The REGISTER asks for an outbound flow (reg-id, Supported: outbound) but the proxy that added the first Path did not mark it with `ob` (RFC 5626 §6, 439 First Hop Lacks Outbound Support).",
        fix: "Use an edge proxy that supports outbound, or register without reg-id.",
        citation: "Convene; rule from RFC 5626 §6",
    }
    /// 60015 (Convene)
    AUTH_FAILURES_THROTTLED = {
        id: 60015, status: 403, status_evidence: Chosen, header: Private,
        reason: "Too many authentication failures from this address", params: &[],
        meaning: "The source address made more failed authentication attempts (wrong password, unknown user, forged or replayed credentials) than the failure limit allows; requests from it are refused until enough time passes. Other addresses are not affected.",
        fix: "Wait and retry with the right credentials; if a legitimate client keeps failing (a stale saved password), correct it on the client. Check the authentication log for the address.",
        citation: CONVENE,
    }
    /// 60016
    USER_NOT_REGISTERED = {
        id: 60016, status: 480, status_evidence: Chosen, header: Private,
        reason: "User is not registered", params: &["target"],
        meaning: "The called user exists but has no live registration (no signed-in endpoint), or the GRUU names an endpoint that is no longer registered. Callers that did not authenticate get this answer for unknown users too, so it is no way to probe which users exist.",
        fix: "Sign the user in on at least one endpoint; `convene ctl trace <call-id>` shows the lookup.",
        citation: CONVENE,
    }
    /// 60017
    RELAY_DENIED = {
        id: 60017, status: 403, status_evidence: Chosen, header: Private,
        reason: "Relaying to a domain this server does not serve needs an authenticated local user", params: &["destination"],
        meaning: "The Request-URI is in a domain this deployment does not serve and the request did not come from an authenticated user of this deployment, so forwarding it would make the server an open relay.",
        fix: "Send the request as a user of this deployment (answer the 407 challenge), or address a user of a served domain. Federation between organisations goes through the access edge.",
        citation: CONVENE,
    }
    /// 60018
    LOOP_DETECTED = {
        id: 60018, status: 482, status_evidence: Chosen, header: Private,
        reason: "Request looped back to this server unchanged", params: &[],
        meaning: "The request carries a Via of this server with the same loop hash (Request-URI, From, To, Call-ID, CSeq, Route unchanged): forwarding it again would loop (RFC 3261 §16.3 step 4).",
        fix: "Look for a static route or a registered contact that points back at this server; `convene ctl trace <call-id>` shows the hops.",
        citation: CONVENE,
    }
    /// 60019
    TOO_MANY_HOPS = {
        id: 60019, status: 483, status_evidence: Chosen, header: Private,
        reason: "Max-Forwards reached zero", params: &[],
        meaning: "The request arrived with Max-Forwards: 0 and is not addressed to this server (RFC 3261 §16.3 step 3).",
        fix: "Look for a routing loop between servers, or a client that sends a low Max-Forwards.",
        citation: CONVENE,
    }
    /// 60020
    CONTACT_UNREACHABLE = {
        id: 60020, status: 480, status_evidence: Chosen, header: Private,
        reason: "No registered endpoint of the user can be reached", params: &["target"],
        meaning: "The user's registered contacts name no address the server can send to (a host name that needs DNS, or a connection that closed without RFC 5626 outbound), so no branch could be started.",
        fix: "Have the client register a contact with an IP address, or register over a persistent connection with outbound (reg-id, +sip.instance).",
        citation: CONVENE,
    }
    /// 60021
    TOO_MANY_BINDINGS = {
        id: 60021, status: 403, status_evidence: Chosen, header: Private,
        reason: "Too many registered endpoints for this user", params: &["limit"],
        meaning: "The REGISTER would give the user more bindings than the per-user limit allows; nothing was changed.",
        fix: "Sign the user out of endpoints no longer used (they expire by themselves), or raise `max_bindings_per_user`.",
        citation: CONVENE,
    }
    /// 60022
    MALFORMED_HEADER = {
        id: 60022, status: 400, status_evidence: Chosen, header: Private,
        reason: "A header needed to route the request is malformed", params: &["header"],
        meaning: "The message parsed, but a header the proxy must read to route it (Route, Max-Forwards, Via) does not follow its grammar; `header` names it.",
        fix: "Client problem: correct the header named in `header` (RFC 3261 §20, §25).",
        citation: CONVENE,
    }
}
