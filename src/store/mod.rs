//! Object storage: the [`ObjectStore`] backend trait and the verifying [`Store`] front.
//!
//! Backends keep *stored values* (framed, possibly compressed canonical bytes) by id and know
//! nothing about objects. [`Store`] frames and compresses on write, and on every read unframes,
//! hashes and compares with the id, so corruption is reported and never returned as data.

mod dict;
mod frame;
mod memory;
mod pack;
mod sled_store;

pub use dict::{
    DICT_SIZE, DICTIONARY_RECORD_FILE, TRAIN_MAX_LEAVES, TRAIN_MIN_BYTES, TRAIN_MIN_LEAVES,
};
pub use frame::{
    CODEC_RAW, CODEC_ZSTD, CODEC_ZSTD_DICT, DICT_FRAME_HEADER, DictLookup, DictTag, Dictionary,
    MAX_OBJECT_SIZE, TAG_LEN, check_dict_canonical, dict_tag, frame, frame_dict_tag, frame_with,
    tag_hex, train, unframe, unframe_candidates, unframe_with,
};
pub use memory::MemoryStore;
pub use pack::{
    INLINE_MAX, LOCATION_LEN, LOCATION_TAG, Location, MAX_PACK_BYTES, PACK_HEADER_LEN, PACK_MAGIC,
    PACK_VERSION, PACKS_TREE, PackStore, RECORD_HEADER_LEN, pack_file_name,
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

/// Frames canonical bytes for one store: node objects with the store's active dictionary
/// (when it has one), everything else without. Cheap to clone; share one per batch.
#[derive(Clone, Debug, Default)]
pub struct Framer {
    dict: Option<Arc<Dictionary>>,
}

impl Framer {
    /// A framer compressing nodes with `dict` (none: codecs `0x00`/`0x01` only).
    pub fn new(dict: Option<Arc<Dictionary>>) -> Self {
        Framer { dict }
    }

    /// The stored value of `canonical`.
    pub fn frame(&self, canonical: &[u8]) -> Vec<u8> {
        // Only nodes (nearly all bytes) use the dictionary: reading a commit, root or
        // schema never needs one loaded.
        let dict = self
            .dict
            .as_deref()
            .filter(|_| canonical.first() == Some(&(Kind::Node as u8)));
        frame_with(canonical, dict)
    }

    /// The dictionary nodes are compressed with, if any.
    pub fn dictionary(&self) -> Option<&Arc<Dictionary>> {
        self.dict.as_ref()
    }
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
        Ok(self.try_get_verified(id)?.map(|(_, canonical)| canonical))
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

    /// The canonical bytes the stored value of `id` holds, checked to hash to `id`.
    ///
    /// A `0x02` value is decompressed with the dictionary its tag names; after a tag
    /// collision every stored dictionary with that tag is tried (only the right one gives
    /// bytes with the right hash), and a dictionary stored since it was last looked up (a
    /// fetch) is found too.
    pub fn unframe_verified(&self, id: &ObjectId, stored: &[u8]) -> Result<Vec<u8>> {
        let corrupt = |reason: String| Error::Corrupt { id: *id, reason };
        let first = unframe_with(stored, &mut |tag| {
            self.dicts
                .with_tag(&*self.backend, tag, false)
                .map_err(|e| e.to_string())
        });
        let first_err = match first {
            Ok(canonical) => {
                let actual = ObjectId::hash(&canonical);
                if actual == *id {
                    return Ok(canonical);
                }
                format!("content hashes to {actual}")
            }
            Err(e) => e,
        };
        if frame_dict_tag(stored).is_none() {
            return Err(corrupt(first_err));
        }
        // Every dictionary with the tag, as stored now.
        let all = unframe_candidates(stored, &mut |tag| {
            self.dicts
                .with_tag(&*self.backend, tag, true)
                .map_err(|e| e.to_string())
        })
        .map_err(corrupt)?;
        all.into_iter()
            .find(|c| ObjectId::hash(c) == *id)
            .ok_or_else(|| corrupt(first_err))
    }

    /// A framer for new objects: nodes use the active dictionary (see [`Framer`]).
    pub fn framer(&self) -> Result<Framer> {
        Ok(Framer::new(self.dicts.active(&*self.backend)?))
    }

    /// The dictionary new nodes are compressed with, if the store has one.
    pub fn active_dictionary(&self) -> Result<Option<Arc<Dictionary>>> {
        self.dicts.active(&*self.backend)
    }

    /// Tests: files `dict` under another tag, as a tag collision would.
    #[cfg(test)]
    pub(crate) fn register_dictionary_as(&self, tag: DictTag, dict: &Arc<Dictionary>) {
        self.dicts.register_as(tag, dict);
    }

    /// The stored dictionaries with `tag` (more than one only after a tag collision).
    pub fn dictionaries_with_tag(&self, tag: DictTag) -> Result<Vec<Arc<Dictionary>>> {
        self.dicts.with_tag(&*self.backend, tag, false)
    }

    /// The dictionary that decompresses the `0x02` stored value `stored` of object `id` to
    /// its canonical bytes; `None` for other codecs.
    pub fn dictionary_of(&self, id: &ObjectId, stored: &[u8]) -> Result<Option<Arc<Dictionary>>> {
        let Some(tag) = frame_dict_tag(stored) else {
            return Ok(None);
        };
        for refresh in [false, true] {
            for d in self.dicts.with_tag(&*self.backend, tag, refresh)? {
                if let Ok(c) = unframe_with(stored, &mut |_| Ok(vec![Arc::clone(&d)]))
                    && ObjectId::hash(&c) == *id
                {
                    return Ok(Some(d));
                }
            }
        }
        Err(Error::Corrupt {
            id: *id,
            reason: format!(
                "no stored dictionary with tag {} decompresses it",
                tag_hex(&tag)
            ),
        })
    }

    /// Stores the zstd dictionary `zstd_dict` as a Dict object (for compression level
    /// `level`) and makes it the active one.
    ///
    /// Its tag must not be another stored dictionary's: on a collision the dictionary's id
    /// field (which frames do not carry) is changed until the tag is free. The object is
    /// durable (the store is flushed) before the record names it.
    pub fn adopt_new_dictionary(
        &self,
        level: i8,
        mut zstd_dict: Vec<u8>,
    ) -> Result<Arc<Dictionary>> {
        let dict = loop {
            let canonical = Dictionary::canonical_of(level, &zstd_dict);
            let id = ObjectId::hash(&canonical);
            let tag = dict_tag(&id);
            let taken = self
                .dicts
                .with_tag(&*self.backend, tag, true)?
                .iter()
                .any(|d| d.id() != id);
            if !taken {
                break Dictionary::from_canonical(canonical)
                    .map_err(|e| Error::Invalid(format!("trained dictionary: {e}")))?;
            }
            bump_dict_id(&mut zstd_dict)?;
        };
        let dict = Arc::new(dict);
        self.put_dictionary(&dict)?;
        self.flush()?;
        self.dicts.set_active(Arc::clone(&dict))?;
        Ok(dict)
    }

    /// Makes the stored dictionary `id` the active one (a clone or fetch adopting a
    /// bundle's dictionary); the store must already hold it durably.
    pub fn adopt_stored_dictionary(&self, id: &ObjectId) -> Result<Arc<Dictionary>> {
        let d = dict::load(&*self.backend, id)?.ok_or(Error::Missing {
            id: *id,
            kind: Kind::Dict,
        })?;
        let d = Arc::new(d);
        self.dicts.set_active(Arc::clone(&d))?;
        Ok(d)
    }

    /// Stores a dictionary object (never compressed with a dictionary) and registers it.
    pub fn put_dictionary(&self, dict: &Arc<Dictionary>) -> Result<()> {
        if !self.backend.has(&dict.id())? {
            self.backend
                .put_stored_batch(vec![(dict.id(), frame(dict.canonical()))])?;
        }
        self.dicts.register(dict);
        Ok(())
    }

    /// Trains a [`DICT_SIZE`] dictionary from three quarters of `samples`, chooses its level
    /// on the others (see [`frame::choose_level`]) and adopts it (see
    /// [`Store::adopt_new_dictionary`]); `None` when zstd finds too little to learn.
    pub fn train_dictionary(&self, samples: &[&[u8]]) -> Result<Option<Arc<Dictionary>>> {
        // Every fourth sample is held out to choose the level: judged on its own training
        // samples, a dictionary always looks better than it will be.
        let (mut train, mut held_out) = (Vec::new(), Vec::new());
        for (i, s) in samples.iter().enumerate() {
            if i % 4 == 3 {
                held_out.push(*s);
            } else {
                train.push(*s);
            }
        }
        match frame::train(&train, DICT_SIZE) {
            Some(d) => {
                let level = frame::choose_level(&held_out, &d);
                self.adopt_new_dictionary(level, d).map(Some)
            }
            None => Ok(None),
        }
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

/// Changes the id field of a zstd dictionary (bytes 4..8; frames do not carry it), giving
/// the Dict object another id and tag.
fn bump_dict_id(zstd_dict: &mut [u8]) -> Result<()> {
    let field = zstd_dict
        .get_mut(4..8)
        .ok_or_else(|| Error::Invalid("trained dictionary is too short".into()))?;
    let next = u32::from_le_bytes([field[0], field[1], field[2], field[3]]).wrapping_add(1);
    field.copy_from_slice(&next.to_le_bytes());
    Ok(())
}

#[cfg(test)]
mod dict_tests;
#[cfg(test)]
mod tests;
