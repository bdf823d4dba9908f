//! Table and Root objects: a table version and a whole-database version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::{BlobId, CommitId, NodeId, ObjectId, RootId, SchemaId, TableId};

use super::postcard_object;
use super::{DecodeError, FORMAT_VERSION, Kind, Object, postcard_decode, postcard_encode};

/// One version of a table: its schema, the root of its row tree and its row count.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// The table's schema.
    pub schema: SchemaId,
    /// Root node of the prolly tree holding the rows.
    pub rows: NodeId,
    /// Number of rows (for keyless tables, counting duplicates).
    pub row_count: u64,
}
postcard_object!(Table, Table, TableId);

/// Root payload version that adds [`PackageRecord::source_ref`]; written only when some
/// package records a ref, so every other Root keeps its version-1 bytes and id.
pub const ROOT_VERSION_REFS: u8 = 2;

/// A dataset package installed into a database (see `src/package.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageRecord {
    /// Where it was installed from (path of the bundle or directory).
    pub source: String,
    /// The package's commit that was installed.
    pub commit: CommitId,
    /// Hash over the installed content, checked on install.
    pub content_hash: ObjectId,
    /// Names of the tables it installed, as they appear in [`Root::tables`].
    pub tables: Vec<String>,
    /// Names of packages this one depends on.
    pub dependencies: Vec<String>,
    /// What `package update` follows in the source: a full ref name (`refs/tags/v2`,
    /// `refs/heads/dev`) or a commit's 64 hex digits (a pin); `None` follows the source's
    /// HEAD branch. Stored only in Root payload version [`ROOT_VERSION_REFS`].
    pub source_ref: Option<String>,
}

/// A whole database at one point in time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Root {
    /// Table name → table version, sorted by name.
    pub tables: BTreeMap<String, TableId>,
    /// Named blobs stored alongside the tables.
    pub blobs: BTreeMap<String, BlobId>,
    /// Installed packages by name.
    pub packages: BTreeMap<String, PackageRecord>,
}

/// The Root payload, borrowed for encoding; `P` is the record layout of the version.
#[derive(Serialize)]
struct RootOut<'a, P> {
    tables: &'a BTreeMap<String, TableId>,
    blobs: &'a BTreeMap<String, BlobId>,
    packages: BTreeMap<&'a str, P>,
}

/// A version-1 PackageRecord, borrowed for encoding. Version 2 appends the ref: postcard
/// writes a pair as its two encodings back to back, so `(RecordOut, Option<&str>)` is it.
#[derive(Serialize)]
struct RecordOut<'a> {
    source: &'a str,
    commit: CommitId,
    content_hash: ObjectId,
    tables: &'a [String],
    dependencies: &'a [String],
}

/// The Root payload, owned for decoding (field for field the same layout as [`RootOut`]).
#[derive(Serialize, Deserialize)]
struct RootIn<P> {
    tables: BTreeMap<String, TableId>,
    blobs: BTreeMap<String, BlobId>,
    packages: BTreeMap<String, P>,
}

/// A version-1 PackageRecord, owned for decoding (the same layout as [`RecordOut`]).
#[derive(Serialize, Deserialize)]
struct RecordIn {
    source: String,
    commit: CommitId,
    content_hash: ObjectId,
    tables: Vec<String>,
    dependencies: Vec<String>,
}

impl<'a> RecordOut<'a> {
    fn of(r: &'a PackageRecord) -> Self {
        RecordOut {
            source: &r.source,
            commit: r.commit,
            content_hash: r.content_hash,
            tables: &r.tables,
            dependencies: &r.dependencies,
        }
    }
}

impl RecordIn {
    fn with_ref(self, source_ref: Option<String>) -> PackageRecord {
        PackageRecord {
            source: self.source,
            commit: self.commit,
            content_hash: self.content_hash,
            tables: self.tables,
            dependencies: self.dependencies,
            source_ref,
        }
    }
}

impl Root {
    /// Whether some package records a source ref (which makes this a version-2 Root).
    pub fn has_package_refs(&self) -> bool {
        self.packages.values().any(|p| p.source_ref.is_some())
    }

    /// Encodes the payload with each package record laid out by `record`.
    fn encode_with<'a, P: Serialize>(
        &'a self,
        out: &mut Vec<u8>,
        record: impl Fn(&'a PackageRecord) -> P,
    ) {
        let packages = self
            .packages
            .iter()
            .map(|(n, r)| (n.as_str(), record(r)))
            .collect();
        postcard_encode(
            &RootOut {
                tables: &self.tables,
                blobs: &self.blobs,
                packages,
            },
            out,
        );
    }
}

impl Object for Root {
    const KIND: Kind = Kind::Root;
    type Id = RootId;

    fn version(&self) -> u8 {
        if self.has_package_refs() {
            ROOT_VERSION_REFS
        } else {
            FORMAT_VERSION
        }
    }

    fn encode_payload(&self, out: &mut Vec<u8>) {
        // Must agree with `version()`: both follow `has_package_refs`.
        if self.has_package_refs() {
            self.encode_with(out, |r| (RecordOut::of(r), r.source_ref.as_deref()));
        } else {
            self.encode_with(out, RecordOut::of);
        }
    }

    fn decode_payload(payload: &[u8], version: u8) -> Result<Self, DecodeError> {
        let r: RootIn<(RecordIn, Option<String>)> = match version {
            FORMAT_VERSION => {
                let r: RootIn<RecordIn> = postcard_decode(Kind::Root, payload)?;
                RootIn {
                    tables: r.tables,
                    blobs: r.blobs,
                    packages: r
                        .packages
                        .into_iter()
                        .map(|(n, p)| (n, (p, None)))
                        .collect(),
                }
            }
            ROOT_VERSION_REFS => {
                let r: RootIn<(RecordIn, Option<String>)> = postcard_decode(Kind::Root, payload)?;
                // A Root without refs has exactly one encoding, version 1.
                if r.packages.values().all(|(_, s)| s.is_none()) {
                    return Err(DecodeError::Malformed {
                        kind: Kind::Root,
                        reason: format!(
                            "a version-{ROOT_VERSION_REFS} root records no package ref (it must be version {FORMAT_VERSION})"
                        ),
                    });
                }
                r
            }
            version => {
                return Err(DecodeError::UnsupportedVersion {
                    kind: Kind::Root,
                    version,
                });
            }
        };
        Ok(Root {
            tables: r.tables,
            blobs: r.blobs,
            packages: r
                .packages
                .into_iter()
                .map(|(n, (p, s))| (n, p.with_ref(s)))
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::object::{decode, encode, encode_with_id, split_header};

    fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/objects")
            .join(format!("{name}.bin"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The Root and PackageRecord as they were before version 2 (derived postcard layout):
    /// the reference encoder for "ids unchanged without refs".
    #[derive(Serialize)]
    struct OldRecord {
        source: String,
        commit: CommitId,
        content_hash: ObjectId,
        tables: Vec<String>,
        dependencies: Vec<String>,
    }

    #[derive(Serialize)]
    struct OldRoot {
        tables: BTreeMap<String, TableId>,
        blobs: BTreeMap<String, BlobId>,
        packages: BTreeMap<String, OldRecord>,
    }

    fn old_encoding(root: &Root) -> Vec<u8> {
        let old = OldRoot {
            tables: root.tables.clone(),
            blobs: root.blobs.clone(),
            packages: root
                .packages
                .iter()
                .map(|(n, p)| {
                    (
                        n.clone(),
                        OldRecord {
                            source: p.source.clone(),
                            commit: p.commit,
                            content_hash: p.content_hash,
                            tables: p.tables.clone(),
                            dependencies: p.dependencies.clone(),
                        },
                    )
                })
                .collect(),
        };
        let mut out = vec![Kind::Root as u8, 1];
        postcard_encode(&old, &mut out);
        out
    }

    fn record(seed: u8, source_ref: Option<&str>) -> PackageRecord {
        PackageRecord {
            source: format!("/data/p{seed}"),
            commit: CommitId::new(ObjectId([seed; 32])),
            content_hash: ObjectId([seed.wrapping_add(1); 32]),
            tables: vec![format!("p{seed}.t")],
            dependencies: Vec::new(),
            source_ref: source_ref.map(str::to_string),
        }
    }

    #[test]
    fn a_root_written_the_old_way_decodes_without_refs() {
        // `root.bin` was written before version 2 existed.
        let old = fixture("root");
        assert_eq!(split_header(&old).map(|(_, v, _)| v), Ok(1));
        let root: Root = decode(&old).expect("old root decodes");
        let geo = &root.packages["geo"];
        assert_eq!(geo.source, "geo.kdk");
        assert_eq!(geo.tables, ["geo.countries"]);
        assert_eq!(geo.source_ref, None);
        assert!(!root.has_package_refs());
        // Same bytes, same id when written again.
        let (id, bytes) = encode_with_id(&root);
        assert_eq!(bytes, old);
        assert_eq!(id.id(), ObjectId::hash(&old));
    }

    #[test]
    fn refs_make_a_version_2_root_that_round_trips() {
        let mut root: Root = decode(&fixture("root")).expect("decodes");
        root.packages
            .insert("world".into(), record(9, Some("refs/heads/dev")));
        let bytes = encode(&root);
        assert_eq!(bytes[1], ROOT_VERSION_REFS);
        assert_eq!(decode::<Root>(&bytes), Ok(root.clone()));
        // Forgetting the ref again gives back version 1 and the old id.
        root.packages.remove("world");
        assert_eq!(encode(&root), fixture("root"));
        // The v2 payload is the v1 payload with one option after each record: the last
        // record's option here is `Some("refs/heads/dev")` = 0x01, len, bytes.
        assert!(bytes.ends_with(b"\x01\x0erefs/heads/dev"));
    }

    #[test]
    fn version_2_without_refs_and_unknown_versions_are_rejected() {
        let mut root = Root::default();
        root.packages
            .insert("a".into(), record(1, Some("refs/tags/v1")));
        let v2 = encode(&root);
        // Turn the one `Some(ref)` into `None`: a version-2 root that records no ref.
        let cut = v2.len() - (2 + "refs/tags/v1".len());
        let mut no_refs = v2[..cut].to_vec();
        no_refs.push(0);
        let err = decode::<Root>(&no_refs).unwrap_err();
        assert!(err.to_string().contains("records no package ref"), "{err}");
        // The same payload under version 1 has a trailing byte.
        let mut as_v1 = v2.clone();
        as_v1[1] = 1;
        assert!(decode::<Root>(&as_v1).is_err());
        // Version 3 is unknown; other kinds still stop at version 1.
        let mut v3 = v2.clone();
        v3[1] = 3;
        assert!(matches!(
            decode::<Root>(&v3),
            Err(DecodeError::UnsupportedVersion {
                kind: Kind::Root,
                version: 3
            })
        ));
        assert!(matches!(
            split_header(&[Kind::Commit as u8, 2]),
            Err(DecodeError::UnsupportedVersion {
                kind: Kind::Commit,
                version: 2
            })
        ));
    }

    fn arb_record() -> impl Strategy<Value = PackageRecord> {
        (
            "[a-z/]{0,8}",
            any::<[u8; 32]>(),
            proptest::collection::vec("[a-z.]{0,6}", 0..3),
            proptest::collection::vec("[a-z]{0,4}", 0..3),
            proptest::option::of("refs/(heads|tags)/[a-z0-9]{1,6}"),
        )
            .prop_map(
                |(source, id, tables, dependencies, source_ref)| PackageRecord {
                    source,
                    commit: CommitId::new(ObjectId(id)),
                    content_hash: ObjectId::hash(&id),
                    tables,
                    dependencies,
                    source_ref,
                },
            )
    }

    fn arb_root() -> impl Strategy<Value = Root> {
        (
            proptest::collection::btree_map("[a-z.]{0,6}", any::<[u8; 32]>(), 0..4),
            proptest::collection::btree_map("[a-z]{0,6}", arb_record(), 0..4),
        )
            .prop_map(|(tables, packages)| Root {
                tables: tables
                    .into_iter()
                    .map(|(n, id)| (n, TableId::new(ObjectId(id))))
                    .collect(),
                blobs: BTreeMap::new(),
                packages,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Every Root round trips; without refs its bytes (so its id) are exactly what the
        /// encoder before version 2 wrote, and with refs it is version 2.
        #[test]
        fn round_trip_and_version_choice(root in arb_root()) {
            let bytes = encode(&root);
            prop_assert_eq!(decode::<Root>(&bytes), Ok(root.clone()));
            if root.has_package_refs() {
                prop_assert_eq!(bytes[1], ROOT_VERSION_REFS);
            } else {
                prop_assert_eq!(&bytes, &old_encoding(&root));
            }
        }
    }
}
