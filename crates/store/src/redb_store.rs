//! The store as a redb file in the data directory.

use std::fmt;
use std::path::{Path, PathBuf};

use redb::{
    Database, DatabaseError, ReadableDatabase, ReadableTable, StorageError, TableDefinition,
};
use registrar::{Aor, Binding};

use crate::{
    CorruptValue, Loaded, Store, StoreError, UserRecord, check_bindings, check_meta_key,
    last_per_aor,
};

/// The store file's name in the data directory.
pub const FILE_NAME: &str = "convene.redb";

/// The schema version this build writes and reads. Bump it (and migrate on open) when a table's
/// key or value format changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;

/// The metadata key of the schema version (big-endian `u32`).
const SCHEMA_KEY: &str = "store.schema_version";

// Keys and values are raw bytes: redb's `&str` type unwraps its UTF-8 check, and a damaged key
// must be reported, not panic.
const META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("meta");
const BINDINGS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("bindings");
const USERS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("users");

/// A [`Store`] in `<data>/convene.redb`. The file is locked while open: a second open, in this
/// process or another, fails with [`StoreError::InUse`]. Every write is one durable (fsynced)
/// redb transaction.
pub struct RedbStore {
    db: Database,
    file: PathBuf,
}

impl fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedbStore")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

/// The page cache redb may use.
pub const CACHE_BYTES: usize = 16 << 20;

impl RedbStore {
    /// Opens `<dir>/convene.redb`, creating the directory and the file (mode 0600) if missing.
    /// After an unclean shutdown redb repairs the file first, which reads all of it.
    pub fn open(dir: &Path) -> Result<RedbStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            dir: dir.to_owned(),
            source,
        })?;
        let file = dir.join(FILE_NAME);
        create_private(&file).map_err(|source| StoreError::Open {
            file: file.clone(),
            source,
        })?;
        // redb caches up to 1 GiB by default; the store is read once at start-up and then
        // written in batches, so a small cache keeps the server's memory per registration low.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&file)
            .map_err(|e| open_error(&file, e))?;
        let store = RedbStore { db, file };
        store.init_schema()?;
        Ok(store)
    }

    /// The store file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Closes the file and releases its lock, reporting what dropping the store would ignore.
    pub fn close(self) -> Result<(), StoreError> {
        let file = self.file;
        self.db.close().map_err(|e| StoreError::Database {
            file,
            during: "closing",
            source: Box::new(e.into()),
        })
    }

    /// A `map_err` function for a redb failure while doing `during`.
    fn err<E: Into<redb::Error>>(&self, during: &'static str) -> impl FnOnce(E) -> StoreError {
        let file = self.file.clone();
        move |e| StoreError::Database {
            file,
            during,
            source: Box::new(e.into()),
        }
    }

    fn corrupt(&self, table: &'static str, key: &str, reason: impl Into<String>) -> CorruptValue {
        CorruptValue {
            store: self.location(),
            table,
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    /// Writes the schema version into a new file, checks it in an existing one, and makes sure
    /// every table exists (so reads never meet a missing one).
    fn init_schema(&self) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(self.err("writing to"))?;
        {
            let mut meta = txn
                .open_table(META)
                .map_err(self.err("opening the meta table of"))?;
            let found = meta
                .get(SCHEMA_KEY.as_bytes())
                .map_err(self.err("reading"))?
                .map(|g| g.value().to_vec());
            match found {
                None => {
                    meta.insert(
                        SCHEMA_KEY.as_bytes(),
                        SCHEMA_VERSION.to_be_bytes().as_slice(),
                    )
                    .map_err(self.err("writing to"))?;
                }
                Some(raw) => {
                    let version = <[u8; 4]>::try_from(raw.as_slice())
                        .map(u32::from_be_bytes)
                        .ok()
                        .filter(|&v| v > 0)
                        .ok_or_else(|| {
                            self.corrupt("meta", SCHEMA_KEY, "not a schema version (4 bytes, ≥ 1)")
                        })?;
                    if version > SCHEMA_VERSION {
                        return Err(StoreError::NewerSchema {
                            file: self.file.clone(),
                            found: version,
                            supported: SCHEMA_VERSION,
                        });
                    }
                }
            }
            // Opened only after the version check: a newer schema may have changed their types.
            txn.open_table(BINDINGS)
                .map_err(self.err("opening the bindings table of"))?;
            txn.open_table(USERS)
                .map_err(self.err("opening the users table of"))?;
        }
        txn.commit().map_err(self.err("committing to"))
    }

    /// Writes each `(aor, bindings)` (an empty list deletes) in one transaction.
    fn write_bindings<'a>(
        &self,
        items: impl Iterator<Item = (&'a Aor, &'a [Binding])>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(self.err("writing to"))?;
        {
            let mut table = txn
                .open_table(BINDINGS)
                .map_err(self.err("opening the bindings table of"))?;
            for (aor, bindings) in items {
                let key = aor.to_string();
                if bindings.is_empty() {
                    table
                        .remove(key.as_bytes())
                        .map_err(self.err("writing bindings to"))?;
                } else {
                    let value =
                        serde_json::to_vec(bindings).map_err(|source| StoreError::Encode {
                            store: self.location(),
                            what: "bindings",
                            source,
                        })?;
                    table
                        .insert(key.as_bytes(), value.as_slice())
                        .map_err(self.err("writing bindings to"))?;
                }
            }
        }
        txn.commit().map_err(self.err("committing bindings to"))
    }

    /// One stored binding list, checked: the key is the AOR every binding belongs to.
    fn decode_bindings(&self, key: &[u8], value: &[u8]) -> Result<Vec<Binding>, CorruptValue> {
        let key =
            decode_key(key).map_err(|k| self.corrupt("bindings", &k, "the key is not UTF-8"))?;
        let list: Vec<Binding> = serde_json::from_slice(value)
            .map_err(|e| self.corrupt("bindings", key, format!("not a JSON binding list: {e}")))?;
        if let Some(b) = list.iter().find(|b| b.aor.to_string() != key) {
            return Err(self.corrupt(
                "bindings",
                key,
                format!("it holds binding {} of another AOR, {}", b.id, b.aor),
            ));
        }
        Ok(list)
    }

    /// One stored user, checked: the key is its AOR and [`UserRecord::check`] passes.
    fn decode_user(&self, key: &[u8], value: &[u8]) -> Result<UserRecord, CorruptValue> {
        let key = decode_key(key).map_err(|k| self.corrupt("users", &k, "the key is not UTF-8"))?;
        let user: UserRecord = serde_json::from_slice(value)
            .map_err(|e| self.corrupt("users", key, format!("not a JSON user record: {e}")))?;
        if user.aor != key {
            return Err(self.corrupt(
                "users",
                key,
                format!("it holds the user {}, not the key's", user.aor),
            ));
        }
        user.check()
            .map_err(|reason| self.corrupt("users", key, reason))?;
        Ok(user)
    }

    /// Every entry of `table`, decoded by `decode`; undecodable ones are skipped and listed.
    fn load<T>(
        &self,
        table: TableDefinition<&[u8], &[u8]>,
        decode: impl Fn(&[u8], &[u8]) -> Result<Vec<T>, CorruptValue>,
    ) -> Result<Loaded<T>, StoreError> {
        let txn = self.db.begin_read().map_err(self.err("reading"))?;
        let table = txn.open_table(table).map_err(self.err("reading"))?;
        let mut loaded = Loaded::default();
        for entry in table.iter().map_err(self.err("reading"))? {
            let (key, value) = entry.map_err(self.err("reading"))?;
            match decode(key.value(), value.value()) {
                Ok(items) => loaded.items.extend(items),
                Err(corrupt) => loaded.skipped.push(corrupt),
            }
        }
        Ok(loaded)
    }
}

impl Store for RedbStore {
    fn location(&self) -> String {
        self.file.display().to_string()
    }

    fn put_aor(&mut self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError> {
        check_bindings(aor, bindings)?;
        self.write_bindings(std::iter::once((aor, bindings)))
    }

    fn flush(&mut self, batch: Vec<(Aor, Vec<Binding>)>) -> Result<(), StoreError> {
        for (aor, bindings) in &batch {
            check_bindings(aor, bindings)?;
        }
        let last = last_per_aor(&batch);
        self.write_bindings(
            last.into_iter()
                .map(|i| (&batch[i].0, batch[i].1.as_slice())),
        )
    }

    fn load_bindings(&self) -> Result<Loaded<Binding>, StoreError> {
        self.load(BINDINGS, |k, v| self.decode_bindings(k, v))
    }

    fn put_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        user.check().map_err(|reason| StoreError::InvalidUser {
            aor: user.aor.clone(),
            reason,
        })?;
        let value = serde_json::to_vec(user).map_err(|source| StoreError::Encode {
            store: self.location(),
            what: "a user",
            source,
        })?;
        let txn = self.db.begin_write().map_err(self.err("writing to"))?;
        {
            let mut table = txn
                .open_table(USERS)
                .map_err(self.err("opening the users table of"))?;
            table
                .insert(user.aor.as_bytes(), value.as_slice())
                .map_err(self.err("writing a user to"))?;
        }
        txn.commit().map_err(self.err("committing a user to"))
    }

    fn remove_user(&mut self, aor: &str) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().map_err(self.err("writing to"))?;
        let removed = {
            let mut table = txn
                .open_table(USERS)
                .map_err(self.err("opening the users table of"))?;
            table
                .remove(aor.as_bytes())
                .map_err(self.err("removing a user from"))?
                .is_some()
        };
        txn.commit().map_err(self.err("committing to"))?;
        Ok(removed)
    }

    fn get_user(&self, aor: &str) -> Result<Option<UserRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(self.err("reading"))?;
        let table = txn.open_table(USERS).map_err(self.err("reading"))?;
        let Some(value) = table.get(aor.as_bytes()).map_err(self.err("reading"))? else {
            return Ok(None);
        };
        Ok(Some(self.decode_user(aor.as_bytes(), value.value())?))
    }

    fn load_users(&self) -> Result<Loaded<UserRecord>, StoreError> {
        self.load(USERS, |k, v| self.decode_user(k, v).map(|u| vec![u]))
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(self.err("reading"))?;
        let table = txn.open_table(META).map_err(self.err("reading"))?;
        let value = table.get(key.as_bytes()).map_err(self.err("reading"))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn put_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_meta_key(key)?;
        let txn = self.db.begin_write().map_err(self.err("writing to"))?;
        {
            let mut table = txn
                .open_table(META)
                .map_err(self.err("opening the meta table of"))?;
            table
                .insert(key.as_bytes(), value)
                .map_err(self.err("writing metadata to"))?;
        }
        txn.commit().map_err(self.err("committing metadata to"))
    }
}

/// A key as UTF-8, or its lossy form to name it by.
fn decode_key(key: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(key).map_err(|_| String::from_utf8_lossy(key).into_owned())
}

/// Creates `file` empty with mode 0600 if it does not exist (redb initialises an empty file):
/// the HA1s and secrets in it must not be readable by other users (RFC 7616 §5.13).
fn create_private(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// What a failed open means for the admin.
fn open_error(file: &Path, e: DatabaseError) -> StoreError {
    let file = file.to_owned();
    match e {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            StoreError::InUse { file }
        }
        DatabaseError::Storage(StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            StoreError::NotAStore {
                file,
                source: Box::new(DatabaseError::Storage(StorageError::Io(io))),
            }
        }
        DatabaseError::Storage(StorageError::Io(source)) => StoreError::Open { file, source },
        e @ (DatabaseError::Storage(StorageError::Corrupted(_)) | DatabaseError::RepairAborted) => {
            StoreError::Damaged {
                file,
                source: Box::new(e),
            }
        }
        e => StoreError::Database {
            file,
            during: "opening",
            source: Box::new(e.into()),
        },
    }
}
