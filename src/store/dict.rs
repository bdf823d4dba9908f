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

use super::ObjectStore;
use super::frame::{self, DictTag, Dictionary};
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
