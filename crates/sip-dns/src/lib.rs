//! Locating SIP servers (RFC 3263): a URI's transport, address and port from NAPTR, SRV and
//! A/AAAA records, the SRV names Lync deployments publish, and target failover.
//!
//! The decisions are pure ([`mod@plan`], [`naptr::select`], [`srv::order`], [`Targets`]); the
//! [`Locator`] drives them with hickory-resolver on tokio and records every query it makes.

pub mod error;
pub mod failover;
pub mod locate;
pub mod lync;
pub mod naptr;
pub mod plan;
pub mod srv;
pub mod target;

pub use error::{ConfigError, LocateError, Outcome, PlanError, Queries, Query, QueryType};
pub use failover::{Blacklist, Failure, Targets};
pub use locate::{Locator, LocatorConfig, LyncHit, Resolution};
pub use lync::{HostFallback, LyncService, host_fallbacks};
pub use naptr::NaptrRecord;
pub use plan::{Plan, plan, plan_uri, plan_via};
pub use srv::{SrvRecord, WeightRng, XorShiftRng};
pub use target::{Target, Transport};
