//! The SIP message core of Convene: parser, serializer and typed headers
//! (RFC 3261 §7, §20, §25, with Microsoft's extensions from [MS-SIPRE],
//! [MS-SIPAE] and [MS-OCER]). Pure: no I/O, no clock, no threads.

pub mod build;
pub mod error;
pub mod framing;
pub mod header;
pub mod message;
mod scan;
pub mod typed;
pub mod uri;
pub mod view;

pub use build::{RequestParts, answer_malformed, default_reason};
pub use error::{ErrorKind, ParseError, Part};
pub use framing::{Frame, FramingError, StreamFramer};
pub use header::{Header, HeaderName};
pub use message::{Message, RequestLine, StartLine, StatusLine};
pub use scan::{Param, ParamIter, ParamRef, Params, find_param};
pub use typed::{
    AuthValue, BRANCH_MAGIC_COOKIE, CSeq, CallId, Contact, HeaderValue, MediaType, Method,
    MsDiagnostics, NameAddr, Number, Token, TokenParams, Transport, Via, parse_list, parse_one,
};
pub use uri::{
    Host, HostRef, MsGruu, OtherUri, SipUri, SipUriRef, TelUri, TelUriRef, Uri, UriParam,
    UriParams, UriRef,
};
pub use view::{AuthValueRef, CallIdRef, ContactRef, HeaderView, NameAddrRef, ViaRef};
