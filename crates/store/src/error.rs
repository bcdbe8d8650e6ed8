//! What can go wrong, one variant per fault, each naming the file and the fix.

use std::fmt;
use std::path::PathBuf;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error(
        "cannot create the data directory {}: {source}; check that its parent exists and is writable by this user, or pass another `--data`",
        dir.display()
    )]
    DataDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The store file could not be created or opened.
    #[error(
        "cannot open {}: {source}; check that it is a regular file that this user may read and write",
        file.display()
    )]
    Open {
        /// The store file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// Another process (or another open in this one) holds the file's lock.
    #[error(
        "{} is in use by another convene process (a running server?); stop it, or use `convene ctl` against the running server",
        file.display()
    )]
    InUse {
        /// The store file.
        file: PathBuf,
    },

    /// The file is not a redb database.
    #[error(
        "{} is not a Convene store (not a redb database: {source}); move it out of the data directory and a new, empty store is made in its place",
        file.display()
    )]
    NotAStore {
        /// The store file.
        file: PathBuf,
        /// What redb reported.
        #[source]
        source: Box<redb::DatabaseError>,
    },

    /// The file is damaged beyond what redb repairs on open.
    #[error(
        "{} is damaged and could not be repaired ({source}); restore it from a backup, or move it aside to start with an empty store (endpoints then register again; users must be added again)",
        file.display()
    )]
    Damaged {
        /// The store file.
        file: PathBuf,
        /// What redb reported.
        #[source]
        source: Box<redb::DatabaseError>,
    },

    /// The file was written by a newer Convene with a schema this one does not know.
    #[error(
        "{} has store schema version {found}, but this convene knows versions up to {supported}: it was written by a newer convene; run that one (or newer) against it",
        file.display()
    )]
    NewerSchema {
        /// The store file.
        file: PathBuf,
        /// The version in the file.
        found: u32,
        /// The newest version this build reads ([`crate::SCHEMA_VERSION`]).
        supported: u32,
    },

    /// Reading or writing the database failed.
    #[error(
        "{during} {} failed: {source}; check the disk (free space, permissions, I/O errors in the kernel log)",
        file.display()
    )]
    Database {
        /// The store file.
        file: PathBuf,
        /// What was being done.
        during: &'static str,
        /// What redb reported.
        #[source]
        source: Box<redb::Error>,
    },

    /// A stored value asked for by key does not decode.
    #[error(transparent)]
    CorruptValue(#[from] CorruptValue),

    /// A value could not be encoded (cannot happen with the types stored; reported, not unwrapped).
    #[error("cannot encode {what} for {store}: {source}")]
    Encode {
        /// The store.
        store: String,
        /// What was being encoded.
        what: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },

    /// A binding given for one AOR belongs to another (a caller's bug).
    #[error(
        "binding {binding} belongs to {binding_aor}, but was given to be stored under {aor}: every binding stored for an AOR must belong to it"
    )]
    WrongAor {
        /// The AOR it was to be stored under.
        aor: String,
        /// The binding's id.
        binding: u64,
        /// The AOR the binding belongs to.
        binding_aor: String,
    },

    /// A user record fails [`crate::UserRecord::check`].
    #[error("user {aor} cannot be stored: {reason}")]
    InvalidUser {
        /// The record's AOR as given.
        aor: String,
        /// What is wrong.
        reason: &'static str,
    },

    /// A metadata key reserved for the store itself was given to `put_meta`.
    #[error(
        "metadata key `{key}` is reserved for the store's own use (keys beginning `{}`); choose another name",
        crate::RESERVED_META_PREFIX
    )]
    ReservedMetaKey {
        /// The key.
        key: String,
    },

    /// A stored secret has another length than asked for.
    #[error(
        "the secret `{key}` in {store} is {stored} bytes, but {wanted} are wanted (made by another convene version?); move the store aside to make new secrets, which invalidates the nonces and temporary GRUUs issued before"
    )]
    SecretLength {
        /// The store.
        store: String,
        /// The metadata key.
        key: String,
        /// Its stored length.
        stored: usize,
        /// The length asked for.
        wanted: usize,
    },
}

/// A stored value that does not decode or fails its checks. Loads skip such values and list
/// them ([`crate::Loaded::skipped`]); a get of exactly that key returns it as an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptValue {
    /// The store (its file).
    pub store: String,
    /// The table.
    pub table: &'static str,
    /// The key (lossy UTF-8 if the key itself is damaged).
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for CorruptValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fix = match self.table {
            "bindings" => "its endpoints are unknown until they register again",
            "users" => "add the user again, which replaces it",
            _ => "writing the key again replaces it",
        };
        write!(
            f,
            "the value of `{}` in table `{}` of {} is corrupt ({}); {}",
            self.key, self.table, self.store, self.reason, fix
        )
    }
}

impl std::error::Error for CorruptValue {}

/// [`crate::Store::secret`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError<E> {
    /// Reading or storing the secret failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Making the secret failed (the `fill` function's error).
    #[error("making the secret `{key}` failed: {source}")]
    Fill {
        /// The metadata key.
        key: String,
        /// The `fill` function's error.
        #[source]
        source: E,
    },
}
