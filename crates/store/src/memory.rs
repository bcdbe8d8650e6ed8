//! The store in memory: for tests, and for a server started without a data directory.

use std::collections::BTreeMap;

use registrar::{Aor, Binding};

use crate::{Loaded, Store, StoreError, UserRecord, check_bindings, check_meta_key, last_per_aor};

/// A [`Store`] in memory; everything is lost when it is dropped. Ordered maps, so loads come
/// back in key order as from [`crate::RedbStore`]. Values are kept decoded, so nothing is ever
/// skipped as corrupt.
#[derive(Debug, Default)]
pub struct MemoryStore {
    bindings: BTreeMap<Aor, Vec<Binding>>,
    users: BTreeMap<String, UserRecord>,
    meta: BTreeMap<String, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn put(&mut self, aor: &Aor, bindings: &[Binding]) {
        if bindings.is_empty() {
            self.bindings.remove(aor);
        } else {
            self.bindings.insert(aor.clone(), bindings.to_vec());
        }
    }
}

impl Store for MemoryStore {
    fn location(&self) -> String {
        "memory".to_owned()
    }

    fn put_aor(&mut self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError> {
        check_bindings(aor, bindings)?;
        self.put(aor, bindings);
        Ok(())
    }

    fn flush(&mut self, batch: Vec<(Aor, Vec<Binding>)>) -> Result<(), StoreError> {
        for (aor, bindings) in &batch {
            check_bindings(aor, bindings)?;
        }
        for i in last_per_aor(&batch) {
            let (aor, bindings) = &batch[i];
            self.put(aor, bindings);
        }
        Ok(())
    }

    fn load_bindings(&self) -> Result<Loaded<Binding>, StoreError> {
        Ok(Loaded {
            items: self.bindings.values().flatten().cloned().collect(),
            skipped: Vec::new(),
        })
    }

    fn put_user(&mut self, user: &UserRecord) -> Result<(), StoreError> {
        user.check().map_err(|reason| StoreError::InvalidUser {
            aor: user.aor.clone(),
            reason,
        })?;
        self.users.insert(user.aor.clone(), user.clone());
        Ok(())
    }

    fn remove_user(&mut self, aor: &str) -> Result<bool, StoreError> {
        Ok(self.users.remove(aor).is_some())
    }

    fn get_user(&self, aor: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.users.get(aor).cloned())
    }

    fn load_users(&self) -> Result<Loaded<UserRecord>, StoreError> {
        Ok(Loaded {
            items: self.users.values().cloned().collect(),
            skipped: Vec::new(),
        })
    }

    fn get_meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.meta.get(key).cloned())
    }

    fn put_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_meta_key(key)?;
        self.meta.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
}
