//! Object storage: the [`ObjectStore`] backend trait and the verifying [`Store`] front.
//!
//! Backends keep *stored values* (framed, possibly compressed canonical bytes) by id and know
//! nothing about objects. [`Store`] frames and compresses on write, and on every read unframes,
//! hashes and compares with the id, so corruption is reported and never returned as data.

mod dict;
mod frame;
mod index;
mod memory;
mod pack;
mod sled_store;

pub use dict::{
    DICT_SIZE, DICTIONARY_RECORD_FILE, Framer, TRAIN_MAX_LEAVES, TRAIN_MIN_BYTES, TRAIN_MIN_LEAVES,
};
pub use frame::{
    CODEC_RAW, CODEC_ZSTD, CODEC_ZSTD_DICT, DICT_FRAME_HEADER, DictLookup, DictTag, Dictionary,
    MAX_OBJECT_SIZE, TAG_LEN, check_dict_canonical, dict_tag, frame, frame_dict_tag, frame_with,
    tag_hex, train, unframe, unframe_candidates, unframe_with,
};
pub use index::{
    INDEX_ENTRY_LEN, INDEX_FANOUT_LEN, INDEX_HEADER_LEN, INDEX_MAGIC, INDEX_PACK_LEN,
    INDEX_VERSION, index_file_name,
};
pub use memory::MemoryStore;
pub use pack::{
    INDEX_MERGE_FACTOR, LOCATION_LEN, LOCATION_TAG, Location, MAX_PACK_BYTES, PACK_HEADER_LEN,
    PACK_MAGIC, PACK_VERSION, PACKS_TREE, PackStore, RECORD_HEADER_LEN, pack_file_name,
};
pub use sled_store::{OBJECTS_TREE, SledStore};

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::id::{IdPrefix, ObjectId, TypedId};
use crate::object::{self, Kind, Object};

/// A key-value backend for stored object values. Implementations must be safe to share.
pub trait ObjectStore: Send + Sync {
    /// The stored value under `id`, unverified.
    fn get_stored(&self, id: &ObjectId) -> Result<Option<Vec<u8>>>;
    /// Hands the stored value under `id`, unverified, to `f` without copying it where the
    /// backend can (`f` must not read from the store); false if nothing is stored under `id`.
    fn with_stored(&self, id: &ObjectId, f: &mut dyn FnMut(&[u8])) -> Result<bool> {
        match self.get_stored(id)? {
            Some(v) => {
                f(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    /// Whether a value is stored under `id`.
    fn has(&self, id: &ObjectId) -> Result<bool>;
    /// Stores every `(id, stored value)` pair; existing ids may be skipped.
    fn put_stored_batch(&self, items: Vec<(ObjectId, Vec<u8>)>) -> Result<()>;
    /// All stored ids, in byte order.
    fn ids(&self) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_>;
    /// Stored ids that start with the given bytes, in byte order.
    fn ids_with_prefix(&self, prefix: &[u8]) -> Box<dyn Iterator<Item = Result<ObjectId>> + '_>;
    /// Removes an object (used by garbage collection only).
    fn remove(&self, id: &ObjectId) -> Result<()>;
    /// Makes every previous write durable.
    fn flush(&self) -> Result<()>;
}

/// Verifying, typed access to an [`ObjectStore`]. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn ObjectStore>,
    /// Dictionaries for reading `0x02` frames, and the active one for writing nodes.
    dicts: Arc<dict::DictRegistry>,
}

impl Store {
    /// Wraps a backend; its active dictionary (once trained or adopted) is kept in memory.
    pub fn new(backend: Arc<dyn ObjectStore>) -> Self {
        Store {
            backend,
            dicts: Arc::new(dict::DictRegistry::new(None)),
        }
    }

    /// Wraps a repository's backend whose active dictionary is recorded in the file `record`
    /// (see `objects_format.md`, "Dictionary frames").
    pub fn with_dictionary_record(backend: Arc<dyn ObjectStore>, record: PathBuf) -> Self {
        Store {
            backend,
            dicts: Arc::new(dict::DictRegistry::new(Some(record))),
        }
    }

    /// A store backed by a fresh [`MemoryStore`].
    pub fn memory() -> Self {
        Store::new(Arc::new(MemoryStore::new()))
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn ObjectStore> {
        &self.backend
    }

    /// Stores an object and returns its typed id; storing an existing object is a no-op.
    pub fn put<T: Object>(&self, obj: &T) -> Result<T::Id> {
        let canonical = object::encode(obj);
        let id = self.put_canonical(&canonical)?;
        Ok(T::Id::from_object_id(id))
    }

    /// Stores canonical bytes (header included) and returns their id.
    pub fn put_canonical(&self, canonical: &[u8]) -> Result<ObjectId> {
        let id = ObjectId::hash(canonical);
        if !self.backend.has(&id)? {
            let stored = self.framer()?.frame(canonical);
            self.backend.put_stored_batch(vec![(id, stored)])?;
        }
        Ok(id)
    }

    /// Stores many canonical objects in one backend batch; returns their ids in order.
    pub fn put_canonical_batch(&self, objects: &[Vec<u8>]) -> Result<Vec<ObjectId>> {
        let mut ids = Vec::with_capacity(objects.len());
        let mut items = Vec::new();
        let framer = self.framer()?;
        for canonical in objects {
            let id = ObjectId::hash(canonical);
            ids.push(id);
            if !self.backend.has(&id)? {
                items.push((id, framer.frame(canonical)));
            }
        }
        if !items.is_empty() {
            self.backend.put_stored_batch(items)?;
        }
        Ok(ids)
    }

    /// Stores pre-hashed canonical objects; `items` pairs each id with its canonical bytes.
    ///
    /// The caller guarantees each id is the hash of its bytes (as [`object::encode_with_id`]
    /// returns); objects already present are skipped.
    pub fn put_hashed_batch(&self, items: &[(ObjectId, Vec<u8>)]) -> Result<()> {
        let mut framed = Vec::with_capacity(items.len());
        let framer = self.framer()?;
        for (id, canonical) in items {
            debug_assert_eq!(*id, ObjectId::hash(canonical));
            if !self.backend.has(id)? {
                framed.push((*id, framer.frame(canonical)));
            }
        }
        if framed.is_empty() {
            return Ok(());
        }
        self.backend.put_stored_batch(framed)
    }

    /// Verified canonical bytes of `id`, or `None` if it is not stored.
    pub fn try_get_canonical(&self, id: &ObjectId) -> Result<Option<Vec<u8>>> {
        let mut canonical = None;
        // Unframed straight from the backend's buffer: the stored bytes are not copied.
        if !self.backend.with_stored(id, &mut |stored| {
            canonical = Some(self.unframe_verified(id, stored))
        })? {
            return Ok(None);
        }
        let canonical = canonical.ok_or_else(|| {
            Error::Storage(format!("the store found {id} but returned no value"))
        })??;
        Ok(Some(canonical))
    }

    /// The stored value of `id` and its verified canonical bytes, or `None` if it is not
    /// stored. The stored value is exactly what the backend holds (it unframes to the
    /// canonical bytes), so it can be copied to another store without framing it again.
    pub fn try_get_verified(&self, id: &ObjectId) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let Some(stored) = self.backend.get_stored(id)? else {
            return Ok(None);
        };
        let canonical = self.unframe_verified(id, &stored)?;
        Ok(Some((stored, canonical)))
    }

    /// Verified canonical bytes of `id`; a missing object is an error.
    pub fn get_canonical(&self, id: &ObjectId, expected: Kind) -> Result<Vec<u8>> {
        self.try_get_canonical(id)?.ok_or(Error::Missing {
            id: *id,
            kind: expected,
        })
    }

    /// Loads and decodes the object named by a typed id.
    pub fn get<T: Object>(&self, id: &T::Id) -> Result<T> {
        let oid = id.object_id();
        let bytes = self.get_canonical(&oid, T::KIND)?;
        object::decode::<T>(&bytes).map_err(|source| Error::Decode { id: oid, source })
    }

    /// Loads an object of unknown kind and reports its kind.
    pub fn kind_of(&self, id: &ObjectId) -> Result<Option<Kind>> {
        let Some(bytes) = self.try_get_canonical(id)? else {
            return Ok(None);
        };
        let (kind, _, _) =
            object::split_header(&bytes).map_err(|source| Error::Decode { id: *id, source })?;
        Ok(Some(kind))
    }

    /// Whether `id` is stored (without verifying it).
    pub fn has(&self, id: &ObjectId) -> Result<bool> {
        self.backend.has(id)
    }

    /// Resolves a full or abbreviated hex id to the one stored id it names.
    pub fn resolve_prefix(&self, text: &str) -> Result<ObjectId> {
        let prefix = IdPrefix::parse(text).map_err(|e| Error::Invalid(e.to_string()))?;
        let mut candidates = Vec::new();
        for id in self.backend.ids_with_prefix(prefix.byte_prefix()) {
            let id = id?;
            if prefix.matches(&id) {
                candidates.push(id);
            }
        }
        match candidates.len() {
            0 => Err(Error::UnknownPrefix(text.to_string())),
            1 => Ok(candidates[0]),
            _ => Err(Error::AmbiguousPrefix {
                prefix: text.to_string(),
                candidates,
            }),
        }
    }

    /// Makes all previous writes durable.
    pub fn flush(&self) -> Result<()> {
        self.backend.flush()
    }
}

#[cfg(test)]
mod dict_tests;
#[cfg(test)]
mod tests;
