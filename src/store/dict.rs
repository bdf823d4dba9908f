//! A store's zstd dictionaries: the registry that finds them by tag for reading, and the
//! repository's *active* dictionary that new node frames are compressed with.
//!
//! Dictionaries are objects of kind [`Kind::Dict`] (see `objects_format.md`, "Dictionary
//! frames"), found by the tag a frame carries (the first bytes of their id, so
//! `ids_with_prefix(tag)`), verified like every object, digested once and kept for the life of
//! the process. The active dictionary is named by a small record file when the store belongs
//! to a repository; a store without one keeps it in memory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use super::frame::{
    self, DictTag, Dictionary, dict_tag, frame, frame_dict_tag, frame_with, tag_hex,
    unframe_candidates, unframe_with,
};
use super::{ObjectStore, Store};
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::object::Kind;

/// Bytes of a trained dictionary.
pub const DICT_SIZE: usize = 16 << 10;
/// A bulk build trains a dictionary only from at least this many leaves...
pub const TRAIN_MIN_LEAVES: usize = 16;
/// ... holding at least this many bytes (64 leaves of ~4 KiB rows).
pub const TRAIN_MIN_BYTES: usize = 256 << 10;
/// Leaves a bulk build trains from at most (the first ones it writes).
pub const TRAIN_MAX_LEAVES: usize = 256;
/// Name of a repository's active-dictionary record, in its `.kodiak/` directory.
pub const DICTIONARY_RECORD_FILE: &str = "dictionary";
/// Contents of the active-dictionary record: this prefix, the id in hex, a newline.
const RECORD_PREFIX: &str = "zstd-dictionary ";

/// The active dictionary, once known.
#[derive(Clone)]
enum Active {
    /// The record was not read yet.
    Unknown,
    /// There is none: frames are compressed without a dictionary.
    None,
    /// New node frames use this one.
    Some(Arc<Dictionary>),
}

/// The dictionaries of one store.
pub(crate) struct DictRegistry {
    /// Dictionaries loaded so far, by tag (several only after a tag collision).
    by_tag: RwLock<BTreeMap<DictTag, Vec<Arc<Dictionary>>>>,
    active: RwLock<Active>,
    /// The file recording the active dictionary (repositories); `None` keeps it in memory.
    record: Option<PathBuf>,
}

impl DictRegistry {
    pub(crate) fn new(record: Option<PathBuf>) -> Self {
        DictRegistry {
            by_tag: RwLock::new(BTreeMap::new()),
            active: RwLock::new(if record.is_some() {
                Active::Unknown
            } else {
                Active::None
            }),
            record,
        }
    }

    /// The dictionaries with `tag` known to this process, loading them from `backend` on
    /// first use (or again when `refresh`, after objects may have been added).
    pub(crate) fn with_tag(
        &self,
        backend: &dyn ObjectStore,
        tag: DictTag,
        refresh: bool,
    ) -> Result<Vec<Arc<Dictionary>>> {
        if !refresh
            && let Some(v) = self
                .by_tag
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(&tag)
        {
            return Ok(v.clone());
        }
        // Dictionaries registered before stay (they may have been stored since or elsewhere).
        let mut found = self
            .by_tag
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&tag)
            .cloned()
            .unwrap_or_default();
        for id in backend.ids_with_prefix(&tag) {
            let id = id?;
            if found.iter().any(|d| d.id() == id) {
                continue;
            }
            if let Some(d) = load(backend, &id)? {
                found.push(Arc::new(d));
            }
        }
        self.by_tag
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tag, found.clone());
        Ok(found)
    }

    fn cached(&self, id: &ObjectId) -> Option<Arc<Dictionary>> {
        let map = self.by_tag.read().unwrap_or_else(|p| p.into_inner());
        map.get(&frame::dict_tag(id))?
            .iter()
            .find(|d| d.id() == *id)
            .cloned()
    }

    /// Makes `dict` known to readers (it was just stored).
    pub(crate) fn register(&self, dict: &Arc<Dictionary>) {
        self.register_as(dict.tag(), dict);
    }

    /// Files `dict` under `tag` (its own, except in tests simulating a tag collision).
    pub(crate) fn register_as(&self, tag: DictTag, dict: &Arc<Dictionary>) {
        let mut map = self.by_tag.write().unwrap_or_else(|p| p.into_inner());
        let list = map.entry(tag).or_default();
        if !list.iter().any(|d| d.id() == dict.id()) {
            list.push(Arc::clone(dict));
        }
    }

    /// The active dictionary, reading the record on first use.
    pub(crate) fn active(&self, backend: &dyn ObjectStore) -> Result<Option<Arc<Dictionary>>> {
        match &*self.active.read().unwrap_or_else(|p| p.into_inner()) {
            Active::None => return Ok(None),
            Active::Some(d) => return Ok(Some(Arc::clone(d))),
            Active::Unknown => {}
        }
        let loaded = match &self.record {
            None => None,
            Some(path) => read_record(path)?
                .map(|id| -> Result<Arc<Dictionary>> {
                    let d = self.cached(&id).map_or_else(
                        || -> Result<Arc<Dictionary>> {
                            let d = load(backend, &id)?.ok_or_else(|| {
                                Error::Storage(format!(
                                    "{} names dictionary {id}, which is not stored",
                                    path.display()
                                ))
                            })?;
                            Ok(Arc::new(d))
                        },
                        Ok,
                    )?;
                    self.register(&d);
                    Ok(d)
                })
                .transpose()?,
        };
        let mut a = self.active.write().unwrap_or_else(|p| p.into_inner());
        if let Active::Unknown = &*a {
            *a = match &loaded {
                Some(d) => Active::Some(Arc::clone(d)),
                None => Active::None,
            };
        }
        Ok(match &*a {
            Active::Some(d) => Some(Arc::clone(d)),
            _ => None,
        })
    }

    /// Records `dict` (already stored and durable) as the active dictionary.
    pub(crate) fn set_active(&self, dict: Arc<Dictionary>) -> Result<()> {
        if let Some(path) = &self.record {
            write_record(path, &dict.id())?;
        }
        self.register(&dict);
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = Active::Some(dict);
        Ok(())
    }
}

/// Loads, verifies and digests the dictionary object `id`; `None` if it is not stored.
///
/// A dictionary's own stored value never needs a dictionary: only codecs `0x00`/`0x01` are
/// accepted, so loading one never recurses.
pub(crate) fn load(backend: &dyn ObjectStore, id: &ObjectId) -> Result<Option<Dictionary>> {
    let Some(stored) = backend.get_stored(id)? else {
        return Ok(None);
    };
    let corrupt = |reason: String| Error::Corrupt { id: *id, reason };
    let canonical = frame::unframe(&stored).map_err(|e| corrupt(format!("dictionary: {e}")))?;
    let actual = ObjectId::hash(&canonical);
    if actual != *id {
        return Err(corrupt(format!("content hashes to {actual}")));
    }
    if canonical.first() != Some(&(Kind::Dict as u8)) {
        // Another kind of object whose id shares the tag's bytes: not a candidate.
        return Ok(None);
    }
    Dictionary::from_canonical(canonical)
        .map(Some)
        .map_err(|e| corrupt(format!("dictionary: {e}")))
}

/// The dictionary id the record at `path` names, or `None` when there is no record.
fn read_record(path: &std::path::Path) -> Result<Option<ObjectId>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("reading", path, e)),
    };
    text.strip_prefix(RECORD_PREFIX)
        .and_then(|rest| rest.strip_suffix('\n'))
        .and_then(|hex| ObjectId::from_hex(hex).ok())
        .map(Some)
        .ok_or_else(|| {
            Error::Storage(format!(
                "{} is malformed: expected '{RECORD_PREFIX}<64 hex digits>' and a newline",
                path.display()
            ))
        })
}

/// Writes the record naming `id` at `path`: a temporary file, synced, renamed into place.
fn write_record(path: &std::path::Path, id: &ObjectId) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .ok_or_else(|| Error::Storage(format!("{} has no directory", path.display())))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    tmp.write_all(format!("{RECORD_PREFIX}{}\n", id.to_hex()).as_bytes())
        .and_then(|()| tmp.as_file().sync_data())
        .map_err(|e| Error::io("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replacing", path, e.error))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io("syncing", dir, e))?;
    Ok(())
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

/// The dictionary side of [`Store`]: reading `0x02` values, the active dictionary, training.
impl Store {
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
        let d = load(&*self.backend, id)?.ok_or(Error::Missing {
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
