//! The front end's persistent state, behind the [`Store`] trait (I/O, synchronous).
//!
//! What is kept:
//! - the registrar's bindings, one list per address-of-record ([`Store::put_aor`],
//!   [`Store::flush`], [`Store::load_bindings`]), which the server gives back to
//!   `Registrar::restore` at start-up (it drops the ones that expired meanwhile);
//! - users with their Digest HA1s, never passwords (RFC 7616 §3.4.2) ([`UserRecord`]);
//! - small metadata, among it the server's nonce and GRUU secrets ([`Store::secret`]), so that
//!   nonces and temporary GRUUs (RFC 5627 §3.2) issued before a restart stay valid after it.
//!
//! Two implementations: [`RedbStore`], a redb file in the server's data directory, and
//! [`MemoryStore`] for tests and a server started without a data directory.
//!
//! The store is synchronous (redb is); the server calls it from `spawn_blocking`.
//!
//! # Write-behind
//! REGISTER load is high and a durable commit costs an fsync, so the server does not write per
//! REGISTER. Each REGISTER that changes an AOR queues `(aor, its new binding list)`; a task calls
//! [`Store::flush`] with what queued up about every 100 ms. One flush is one redb write
//! transaction, committed durably and atomically: a crash (kill -9, power loss) leaves the file
//! consistent and loses at most the changes of the last window, whose endpoints are then unknown
//! until they refresh their registration.
//!
//! # The file
//! `<data>/convene.redb` ([`FILE_NAME`]), mode 0600 on Unix: the HA1s in it are
//! password-equivalent for their realm (RFC 7616 §5.13). Tables, all with byte-string keys and
//! values (keys are decoded here, so a damaged key is reported, never a panic):
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | UTF-8 name | bytes; `store.schema_version` is the schema version, a big-endian `u32` ([`SCHEMA_VERSION`]) |
//! | `bindings` | the AOR, canonical `sip:user@domain` | JSON array of `registrar::Binding`, all of that AOR |
//! | `users` | the user's AOR, canonical | JSON [`UserRecord`] |
//!
//! Values are JSON because it is self-describing: a field added to `Binding` later with a
//! default still reads the values written before it, where a positional binary encoding would
//! turn every stored value into a corrupt one.

mod error;
mod memory;
mod redb_store;
mod user;

pub use error::{CorruptValue, SecretError, StoreError};
pub use memory::MemoryStore;
pub use redb_store::{FILE_NAME, RedbStore, SCHEMA_VERSION};
pub use user::UserRecord;

use registrar::{Aor, Binding};

/// Prefix of the metadata keys the store keeps for itself; [`Store::put_meta`] refuses them.
pub const RESERVED_META_PREFIX: &str = "store.";

/// What a load read: the values that decoded, and those skipped because they did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded<T> {
    /// The values that decoded and passed their checks.
    pub items: Vec<T>,
    /// One entry per stored value that was skipped, naming its table and key.
    pub skipped: Vec<CorruptValue>,
}

impl<T> Default for Loaded<T> {
    fn default() -> Self {
        Loaded {
            items: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// The persistent state of a front end.
///
/// Writes take `&mut self`, reads `&self`. Every write is atomic: on an error nothing of it is
/// stored.
pub trait Store: Send + 'static {
    /// Where the data is kept, for messages: the file, or `memory`.
    fn location(&self) -> String;

    /// Replaces the bindings of `aor` with `bindings` (all of them, in the registrar's order);
    /// an empty list deletes the AOR.
    ///
    /// Every binding must belong to `aor` ([`StoreError::WrongAor`] otherwise).
    fn put_aor(&mut self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError>;

    /// Writes a batch of [`Store::put_aor`]s in one transaction: all or none. When an AOR appears
    /// more than once, the last entry wins. This is the write-behind path (see the crate
    /// documentation): the server calls it about every 100 ms with the AORs changed since the
    /// last call, so a crash loses at most that window.
    fn flush(&mut self, batch: Vec<(Aor, Vec<Binding>)>) -> Result<(), StoreError>;

    /// Every stored binding, for `Registrar::restore(now, Snapshot { bindings })`, which drops
    /// those expired meanwhile. A value that does not decode is skipped and listed, not fatal.
    fn load_bindings(&self) -> Result<Loaded<Binding>, StoreError>;

    /// Stores `user`, replacing the user of the same AOR.
    ///
    /// Refused with [`StoreError::InvalidUser`] unless [`UserRecord::check`] passes.
    fn put_user(&mut self, user: &UserRecord) -> Result<(), StoreError>;

    /// Removes the user of `aor`; whether there was one.
    fn remove_user(&mut self, aor: &str) -> Result<bool, StoreError>;

    /// The user of `aor`, if stored. A stored value that does not decode is an error
    /// ([`StoreError::CorruptValue`]) here, since the caller asked for exactly this one.
    fn get_user(&self, aor: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Every stored user; values that do not decode are skipped and listed.
    fn load_users(&self) -> Result<Loaded<UserRecord>, StoreError>;

    /// The metadata value under `key`.
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Stores a metadata value. Keys beginning with [`RESERVED_META_PREFIX`] are the store's own
    /// and refused ([`StoreError::ReservedMetaKey`]).
    fn put_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// The secret of `len` bytes under the metadata `key`: the stored one, or, on first use, one
    /// made by `fill` (which should draw from the OS random number generator), stored and
    /// returned. A stored secret of another length is an error ([`StoreError::SecretLength`]),
    /// not silently replaced, since replacing it invalidates every nonce and GRUU made with it.
    fn secret<E>(
        &mut self,
        key: &str,
        len: usize,
        fill: impl FnOnce(&mut [u8]) -> Result<(), E>,
    ) -> Result<Vec<u8>, SecretError<E>>
    where
        Self: Sized,
        E: std::error::Error + 'static,
    {
        if let Some(stored) = self.get_meta(key)? {
            if stored.len() == len {
                return Ok(stored);
            }
            return Err(StoreError::SecretLength {
                store: self.location(),
                key: key.to_owned(),
                stored: stored.len(),
                wanted: len,
            }
            .into());
        }
        let mut secret = vec![0u8; len];
        fill(&mut secret).map_err(|source| SecretError::Fill {
            key: key.to_owned(),
            source,
        })?;
        self.put_meta(key, &secret)?;
        Ok(secret)
    }
}

/// A boxed store is a store, so `Box<dyn Store>` (chosen at start-up: file or memory) has
/// [`Store::secret`] too.
impl<S: Store + ?Sized> Store for Box<S> {
    fn location(&self) -> String {
        (**self).location()
    }
    fn put_aor(&mut self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError> {
        (**self).put_aor(aor, bindings)
    }
    fn flush(&mut self, batch: Vec<(Aor, Vec<Binding>)>) -> Result<(), StoreError> {
        (**self).flush(batch)
    }
    fn load_bindings(&self) -> Result<Loaded<Binding>, StoreError> {
        (**self).load_bindings()
    }
    fn put_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        (**self).put_user(user)
    }
    fn remove_user(&mut self, aor: &str) -> Result<bool, StoreError> {
        (**self).remove_user(aor)
    }
    fn get_user(&self, aor: &str) -> Result<Option<UserRecord>, StoreError> {
        (**self).get_user(aor)
    }
    fn load_users(&self) -> Result<Loaded<UserRecord>, StoreError> {
        (**self).load_users()
    }
    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        (**self).get_meta(key)
    }
    fn put_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        (**self).put_meta(key, value)
    }
}

/// Checks that every binding given for `aor` belongs to it.
fn check_bindings(aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError> {
    match bindings.iter().find(|b| b.aor != *aor) {
        Some(b) => Err(StoreError::WrongAor {
            aor: aor.to_string(),
            binding: b.id,
            binding_aor: b.aor.to_string(),
        }),
        None => Ok(()),
    }
}

/// Refuses the store's own metadata keys.
fn check_meta_key(key: &str) -> Result<(), StoreError> {
    if key.starts_with(RESERVED_META_PREFIX) {
        return Err(StoreError::ReservedMetaKey {
            key: key.to_owned(),
        });
    }
    Ok(())
}

/// The index of the last entry of each AOR in a batch, in batch order (last write wins).
fn last_per_aor(batch: &[(Aor, Vec<Binding>)]) -> Vec<usize> {
    let mut seen = std::collections::HashSet::new();
    let mut keep: Vec<usize> = (0..batch.len())
        .rev()
        .filter(|&i| seen.insert(&batch[i].0))
        .collect();
    keep.reverse();
    keep
}
