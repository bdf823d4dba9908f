//! The sled-backed [`ObjectStore`]: one sled tree `objects`, id bytes → stored value.

use super::ObjectStore;
use crate::error::{Error, Result};
use crate::id::ObjectId;

/// Name of the sled tree holding objects.
pub const OBJECTS_TREE: &str = "objects";

/// Objects in a sled tree.
#[derive(Clone)]
pub struct SledStore {
    tree: sled::Tree,
}

impl SledStore {
    /// Opens (creating if needed) the objects tree of an open sled database.
    pub fn new(db: &sled::Db) -> Result<Self> {
        Ok(SledStore {
            tree: db.open_tree(OBJECTS_TREE)?,
        })
    }

    /// The underlying sled tree (for tools and corruption tests).
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }
}

fn id_from_key(key: &[u8]) -> Result<ObjectId> {
    ObjectId::from_slice(key)
        .ok_or_else(|| Error::Storage(format!("object key of {} bytes in the store", key.len())))
}

impl ObjectStore for SledStore {
    fn get_stored(&self, id: &ObjectId) -> Result<Option<Vec<u8>>> {
        Ok(self.tree.get(id.as_bytes())?.map(|v| v.to_vec()))
    }

    fn has(&self, id: &ObjectId) -> Result<bool> {
        Ok(self.tree.contains_key(id.as_bytes())?)
    }

    fn put_stored_batch(&self, items: Vec<(ObjectId, Vec<u8>)>) -> Result<()> {
        if items.len() == 1 {
            let (id, v) = items.into_iter().next().expect("one item");
            self.tree.insert(id.as_bytes(), v)?;
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (id, v) in items {
            batch.insert(id.as_bytes(), v);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    fn ids(&self) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
        Box::new(self.tree.iter().keys().map(|k| id_from_key(&k?)))
    }

    fn ids_with_prefix(&self, prefix: &[u8]) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_> {
        Box::new(
            self.tree
                .scan_prefix(prefix)
                .keys()
                .map(|k| id_from_key(&k?)),
        )
    }

    fn remove(&self, id: &ObjectId) -> Result<()> {
        self.tree.remove(id.as_bytes())?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.tree.flush()?;
        Ok(())
    }
}
