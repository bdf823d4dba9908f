//! An in-memory [`ObjectStore`] for tests.

use std::collections::BTreeMap;
use std::sync::RwLock;

use super::ObjectStore;
use crate::error::Result;
use crate::id::ObjectId;

/// Objects kept in a `BTreeMap` behind a lock.
#[derive(Default)]
pub struct MemoryStore {
    map: RwLock<BTreeMap<ObjectId, Vec<u8>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Overwrites a stored value as-is, bypassing framing (for corruption tests).
    pub fn overwrite_stored(&self, id: ObjectId, stored: Vec<u8>) {
        self.write().insert(id, stored);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<ObjectId, Vec<u8>>> {
        self.map.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<ObjectId, Vec<u8>>> {
        self.map.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl ObjectStore for MemoryStore {
    fn get_stored(&self, id: &ObjectId) -> Result<Option<Vec<u8>>> {
        Ok(self.read().get(id).cloned())
    }

    fn has(&self, id: &ObjectId) -> Result<bool> {
        Ok(self.read().contains_key(id))
    }

    fn put_stored_batch(&self, items: Vec<(ObjectId, Vec<u8>)>) -> Result<()> {
        let mut map = self.write();
        for (id, v) in items {
            map.entry(id).or_insert(v);
        }
        Ok(())
    }

    fn ids(&self) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
        let ids: Vec<ObjectId> = self.read().keys().copied().collect();
        Box::new(ids.into_iter().map(Ok))
    }

    fn ids_with_prefix(&self, prefix: &[u8]) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
        let ids: Vec<ObjectId> = self
            .read()
            .keys()
            .filter(|id| id.0.starts_with(prefix))
            .copied()
            .collect();
        Box::new(ids.into_iter().map(Ok))
    }

    fn remove(&self, id: &ObjectId) -> Result<()> {
        self.write().remove(id);
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        Ok(())
    }
}
