//! Access-edge federation for Convene: the `[edge]` policy model, the decision whether a
//! request (user to user, or a meeting join to a focus) may cross the edge and exactly what
//! is answered if not, partner discovery, the client's anonymous-join fallback, the focus
//! URI and the C3P `addUser` body.
//!
//! Every decision returns the status, the `ms-diagnostics` from the `diag` catalogue, and a
//! trace of typed steps. Pure: no I/O, no clock; DNS answers and the partner's answer are
//! inputs (see [`discovery::Dns`], [`decide::PeerAnswer`]). The rules reproduce the field
//! behaviour of Lync and Lync Online recorded in seed 003 (MS-SIP.md §1.6, §5, §6).

pub mod cccp;
pub mod config;
pub mod decide;
pub mod discovery;
pub mod fallback;
pub mod uri;
pub mod world;

pub use config::{EdgeConfig, LoadError, load_file, parse_topology};
pub use decide::{Outcome, PeerAnswer, Policy, Request, Response, Route, Step, Trace};
pub use discovery::{Dns, SrvTarget};
pub use uri::{FocusUri, SipUri};
pub use world::{Decision, JoinReport, JoinSummary, World};
