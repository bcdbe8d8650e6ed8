//! The SIP registrar and location service (pure, no I/O, no clock: `now` comes in).
//!
//! [`Registrar::register`] applies a REGISTER per RFC 3261 §10.3 with Path (RFC 3327),
//! Service-Route (RFC 3608), outbound flows (RFC 5626) and GRUUs (RFC 5627 and the Lync
//! `user:epid:` form of [MS-SIPRE] 2.2.3), and builds the 200 OK to send. The proxy asks
//! [`Registrar::lookup`] and [`Registrar::lookup_gruu`]; the store persists
//! [`Registrar::snapshot`] and gives it back to [`Registrar::restore`].

mod binding;
mod epid;
mod error;
mod gruu;
mod registrar;

pub use binding::{Aor, Binding, FlowId, StoredParam, Time};
pub use epid::Guid;
pub use error::{ConfigError, RegistrarError};
pub use registrar::{RegisterOutcome, Registrar, RegistrarConfig, Snapshot};
