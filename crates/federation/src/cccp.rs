//! C3P (`application/cccp+xml`) `addUser` request and response: the body of the INVITE that
//! joins a meeting and of the focus's answer ([MS-CONFBAS] 2.2.3.4, MS-SIP.md §6.3).
//!
//! The encoder writes the names and customary prefixes (`ci:`, `msci:`) Lync and pidgin-sipe
//! send (field: seed-003; MS-SIP.md §6.3). The decoder is serde over quick-xml, which matches
//! elements by local name: any prefix is accepted, and the namespace URIs of prefixed
//! elements are not checked (only the default namespace of `request`/`response` is).

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::uri::{FocusUri, SipUri};

/// The `Content-Type` of a C3P body.
pub const CONTENT_TYPE: &str = "application/cccp+xml";
/// The default namespace of `request` / `response`.
pub const NS_CCCP: &str = "urn:ietf:params:xml:ns:cccp";
/// Microsoft's C3P extensions namespace (`mscp`).
pub const NS_MSCP: &str = "http://schemas.microsoft.com/rtc/2005/08/cccpextensions";
/// RFC 4575 conference-info namespace (`ci`).
pub const NS_CI: &str = "urn:ietf:params:xml:ns:conference-info";
/// Microsoft's conference-info extensions namespace (`msci`).
pub const NS_MSCI: &str = "http://schemas.microsoft.com/rtc/2005/08/confinfoextensions";

/// Why a C3P body was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CccpError {
    /// Not well-formed XML or not the expected structure.
    #[error("C3P body is not a valid addUser document: {0}")]
    Xml(String),
    /// Well-formed, but a value is wrong.
    #[error("C3P addUser: {0}")]
    Invalid(String),
}

impl CccpError {
    /// The ms-diagnostics code a focus answers with for this error ([MS-OCER] 7.4).
    pub fn diag_code(&self) -> &'static diag::DiagCode {
        match self {
            CccpError::Xml(_) => &diag::codes::FOCUS_C3P_PARSE_FAILED,
            CccpError::Invalid(_) => &diag::codes::FOCUS_ADD_USER_INVALID,
        }
    }
}

/// `<request …><addUser>…</addUser></request>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "request")]
pub struct AddUserRequest {
    /// Default namespace, [`NS_CCCP`].
    #[serde(rename = "@xmlns")]
    pub xmlns: String,
    /// `xmlns:mscp`, [`NS_MSCP`] when present.
    #[serde(
        rename = "@xmlns:mscp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub xmlns_mscp: Option<String>,
    /// `C3PVersion`, 1.
    #[serde(rename = "@C3PVersion")]
    pub c3p_version: u32,
    /// The focus URI.
    #[serde(rename = "@to")]
    pub to: String,
    /// The joining user's URI.
    #[serde(rename = "@from")]
    pub from: String,
    /// Increments per request.
    #[serde(rename = "@requestId")]
    pub request_id: u64,
    /// The command.
    #[serde(rename = "addUser")]
    pub add_user: AddUser,
}

/// `<response …>` to an `addUser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "response")]
pub struct AddUserResponse {
    /// Default namespace, [`NS_CCCP`].
    #[serde(rename = "@xmlns")]
    pub xmlns: String,
    /// `xmlns:mscp`.
    #[serde(
        rename = "@xmlns:mscp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub xmlns_mscp: Option<String>,
    /// `C3PVersion`.
    #[serde(rename = "@C3PVersion")]
    pub c3p_version: u32,
    /// The user (echo of the request's `from`).
    #[serde(rename = "@to")]
    pub to: String,
    /// The focus (echo of the request's `to`).
    #[serde(rename = "@from")]
    pub from: String,
    /// Echo of the request's `requestId`.
    #[serde(rename = "@requestId")]
    pub request_id: u64,
    /// `success`, `failure` or `pending`.
    #[serde(rename = "@code")]
    pub code: ResponseCode,
    /// Failure reason, when `code` is `failure`.
    #[serde(rename = "@reason", default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The granted `addUser` (same keys and user, granted role), omitted on failure.
    #[serde(rename = "addUser", default, skip_serializing_if = "Option::is_none")]
    pub add_user: Option<AddUser>,
}

/// The C3P response code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResponseCode {
    /// The command succeeded.
    Success,
    /// The command failed.
    Failure,
    /// The command is in progress.
    Pending,
}

/// `<addUser>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddUser {
    /// `<conferenceKeys confEntity="…"/>`.
    #[serde(rename = "conferenceKeys")]
    pub conference_keys: ConferenceKeys,
    /// `<ci:user …>`.
    #[serde(rename(serialize = "ci:user", deserialize = "user"))]
    pub user: User,
}

/// `<conferenceKeys>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceKeys {
    /// The focus URI of the conference.
    #[serde(rename = "@confEntity")]
    pub conf_entity: String,
}

/// `<ci:user>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// `xmlns:ci`, [`NS_CI`].
    #[serde(rename = "@xmlns:ci", default, skip_serializing_if = "Option::is_none")]
    pub xmlns_ci: Option<String>,
    /// The user's URI.
    #[serde(rename = "@entity")]
    pub entity: String,
    /// `<ci:roles>`.
    #[serde(
        rename(serialize = "ci:roles", deserialize = "roles"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub roles: Option<Roles>,
    /// `<ci:endpoint>`, omitted in a response when the user is not joining.
    #[serde(
        rename(serialize = "ci:endpoint", deserialize = "endpoint"),
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub endpoint: Option<Endpoint>,
}

/// `<ci:roles>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    /// `<ci:entry>` values, e.g. `attendee`, `presenter`.
    #[serde(rename(serialize = "ci:entry", deserialize = "entry"), default)]
    pub entries: Vec<String>,
}

/// `<ci:endpoint>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Endpoint id (a GUID in braces, or the client's GRUU).
    #[serde(rename = "@entity")]
    pub entity: String,
    /// `xmlns:msci`, [`NS_MSCI`].
    #[serde(
        rename = "@xmlns:msci",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub xmlns_msci: Option<String>,
}

const XML_DECL: &str = "<?xml version=\"1.0\"?>\n";

impl AddUserRequest {
    /// An `addUser` joining `from` to the conference `focus` with `role`.
    pub fn new(
        focus: &FocusUri,
        from: &SipUri,
        request_id: u64,
        role: &str,
        endpoint: &str,
    ) -> Self {
        let focus = focus.to_string();
        Self {
            xmlns: NS_CCCP.to_owned(),
            xmlns_mscp: Some(NS_MSCP.to_owned()),
            c3p_version: 1,
            to: focus.clone(),
            from: from.to_string(),
            request_id,
            add_user: AddUser {
                conference_keys: ConferenceKeys { conf_entity: focus },
                user: User {
                    xmlns_ci: Some(NS_CI.to_owned()),
                    entity: from.to_string(),
                    roles: Some(Roles {
                        entries: vec![role.to_owned()],
                    }),
                    endpoint: Some(Endpoint {
                        entity: endpoint.to_owned(),
                        xmlns_msci: Some(NS_MSCI.to_owned()),
                    }),
                },
            },
        }
    }

    /// Decodes and checks a request body: the namespace is C3P's, `to` and `confEntity` are
    /// the same focus URI ([MS-CONFBAS] 2.2.3.15), `from` and the user entity are SIP URIs.
    pub fn decode(xml: &str) -> Result<Self, CccpError> {
        let r: Self = quick_xml::de::from_str(xml).map_err(|e| CccpError::Xml(e.to_string()))?;
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<(), CccpError> {
        if self.xmlns != NS_CCCP {
            return Err(CccpError::Invalid(format!(
                "namespace {:?} is not {NS_CCCP}",
                self.xmlns
            )));
        }
        let focus = FocusUri::parse(&self.to).map_err(|e| CccpError::Invalid(e.to_string()))?;
        let keys = FocusUri::parse(&self.add_user.conference_keys.conf_entity)
            .map_err(|e| CccpError::Invalid(e.to_string()))?;
        if keys != focus {
            return Err(CccpError::Invalid(format!(
                "confEntity {:?} is not the request's focus {:?}",
                self.add_user.conference_keys.conf_entity, self.to
            )));
        }
        SipUri::parse(&self.from).map_err(|e| CccpError::Invalid(e.to_string()))?;
        SipUri::parse(&self.add_user.user.entity).map_err(|e| CccpError::Invalid(e.to_string()))?;
        Ok(())
    }

    /// The focus this request joins.
    pub fn focus(&self) -> Result<FocusUri, CccpError> {
        FocusUri::parse(&self.to).map_err(|e| CccpError::Invalid(e.to_string()))
    }

    /// Encodes the body (with the XML declaration Lync sends).
    pub fn encode(&self) -> Result<String, CccpError> {
        let body = quick_xml::se::to_string(self).map_err(|e| CccpError::Xml(e.to_string()))?;
        Ok(format!("{XML_DECL}{body}"))
    }

    /// The focus's success answer ([MS-CONFBAS] 2.2.3.4): same conference keys, one user with
    /// the same entity, `roles` holding the granted role, the endpoint echoed.
    pub fn success(&self, granted_role: &str) -> AddUserResponse {
        let mut add_user = self.add_user.clone();
        add_user.user.roles = Some(Roles {
            entries: vec![granted_role.to_owned()],
        });
        AddUserResponse {
            xmlns: NS_CCCP.to_owned(),
            xmlns_mscp: self.xmlns_mscp.clone(),
            c3p_version: self.c3p_version,
            to: self.from.clone(),
            from: self.to.clone(),
            request_id: self.request_id,
            code: ResponseCode::Success,
            reason: None,
            add_user: Some(add_user),
        }
    }

    /// The focus's failure answer, with a reason.
    pub fn failure(&self, reason: &str) -> AddUserResponse {
        AddUserResponse {
            xmlns: NS_CCCP.to_owned(),
            xmlns_mscp: self.xmlns_mscp.clone(),
            c3p_version: self.c3p_version,
            to: self.from.clone(),
            from: self.to.clone(),
            request_id: self.request_id,
            code: ResponseCode::Failure,
            reason: Some(reason.to_owned()),
            add_user: None,
        }
    }
}

impl AddUserResponse {
    /// Decodes a response body.
    pub fn decode(xml: &str) -> Result<Self, CccpError> {
        let r: Self = quick_xml::de::from_str(xml).map_err(|e| CccpError::Xml(e.to_string()))?;
        if r.xmlns != NS_CCCP {
            return Err(CccpError::Invalid(format!(
                "namespace {:?} is not {NS_CCCP}",
                r.xmlns
            )));
        }
        Ok(r)
    }

    /// Encodes the body.
    pub fn encode(&self) -> Result<String, CccpError> {
        let body = quick_xml::se::to_string(self).map_err(|e| CccpError::Xml(e.to_string()))?;
        Ok(format!("{XML_DECL}{body}"))
    }
}
