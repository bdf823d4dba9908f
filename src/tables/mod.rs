//! Tables on the working state: import from and export to files, row edits, schema changes.
//!
//! Rows flow `file → Arrow batches → typed rows ([`Value`]s) → encoded (key, value) → prolly
//! tree` on import and the reverse on export. Every change is all or nothing: objects are
//! written first and the working root changes only at the end, with one compare-and-swap on the
//! working set ([`WorkState::set_working`]).
//!
//! A new table without `--pk` (and without a key in its schema file) is *keyless*: rows are
//! identified by their content and identical rows are counted.

mod arrow;
mod schema_file;
mod sort;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use arrow_array::RecordBatch;
use arrow_schema::{Field, Schema as ArrowSchema, SchemaRef};

use crate::error::{Error, Result};
use crate::history::WorkState;
use crate::history::blame::{Filter, parse_filters};
use crate::history::revision::resolve_commit;
use crate::history::state::{commit_root, read_root};
use crate::id::{NodeId, TableId};
use crate::interchange::{self, Format, InterchangeError, ReadOptions, WriteOptions};
use crate::object::{Root, Table};
use crate::repo::Repo;
use crate::schema::{ColumnDef, RowCodec, Schema, Type, Value};
use crate::store::Store;
use crate::table::NodeStore;

pub use arrow::{
    BLOB_EXTENSION, EXTENSION_KEY, JSON_EXTENSION, arrow_field, arrow_schema, arrow_type,
    kodiak_type,
};
pub use schema_file::{SchemaSpec, parse_schema_spec};

use arrow::{ColumnBuilder, ColumnReader};
use sort::SortedPairs;

/// How an import treats an existing table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportMode {
    /// Create a new table; fails if it exists.
    Create,
    /// Replace every row (creates the table if missing).
    Replace,
    /// Insert new rows and overwrite rows with the same key.
    Update,
    /// Insert rows; fails if a key already exists.
    Append,
}

impl ImportMode {
    /// The mode's option name.
    pub fn name(self) -> &'static str {
        match self {
            ImportMode::Create => "create",
            ImportMode::Replace => "replace",
            ImportMode::Update => "update",
            ImportMode::Append => "append",
        }
    }
}

/// Options of [`import`].
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The mode; `None` creates the table when it does not exist and fails otherwise.
    pub mode: Option<ImportMode>,
    /// Primary key columns for a new (or replaced) table.
    pub primary_key: Option<Vec<String>>,
    /// A declared schema for a new (or replaced) table.
    pub schema: Option<SchemaSpec>,
    /// Reader options (format, CSV dialect).
    pub read: ReadOptions,
    /// Memory budget in bytes for sorting encoded rows before spilling sorted runs to disk
    /// (0: the default, 256 MiB).
    pub sort_memory: usize,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The mode that was applied.
    pub mode: ImportMode,
    /// Rows read from the file.
    pub rows_read: u64,
    /// Rows in the table afterwards.
    pub row_count: u64,
}

/// How far an import has got, reported after each batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportProgress {
    /// Rows read so far.
    pub rows: u64,
    /// Bytes of the input file read so far (0 for formats read by random access: Parquet,
    /// ORC); see [`ReadOptions::bytes_read`](crate::interchange::ReadOptions::bytes_read).
    pub bytes: u64,
    /// Size of the input file, if known.
    pub total_bytes: Option<u64>,
}

/// Threads converting and encoding batches during an import.
const ENCODERS: usize = 2;

/// The encoded rows of one batch: keys and values back to back.
#[derive(Default)]
struct EncodedBatch {
    bytes: Vec<u8>,
    /// Key and value length of each row, in order.
    lens: Vec<(u32, u32)>,
}

impl EncodedBatch {
    fn push(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        let too_long = || Error::Invalid("a row's key or value is over 4 GiB".into());
        let k = u32::try_from(key.len()).map_err(|_| too_long())?;
        let v = u32::try_from(value.len()).map_err(|_| too_long())?;
        self.lens.push((k, v));
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
        Ok(())
    }
}

/// The root a revision names (`None`: the working root), with the working state it was read
/// against.
pub fn root_at(repo: &Repo, at: Option<&str>) -> Result<Root> {
    match at {
        Some(rev) => {
            let commit = resolve_commit(repo, rev)?;
            read_root(repo.store(), commit_root(repo.store(), commit)?)
        }
        None => WorkState::load(repo)?.working(repo.store()),
    }
}

/// A table of `root` with its schema, or an error naming it.
pub fn table_of(store: &Store, root: &Root, name: &str) -> Result<(Table, Schema)> {
    let id = root
        .tables
        .get(name)
        .ok_or_else(|| Error::Invalid(format!("table '{name}' does not exist")))?;
    let t: Table = store.get(id)?;
    let s: Schema = store.get(&t.schema)?;
    Ok((t, s))
}

fn check_table_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains(':') || name.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "invalid table name '{name}': it must be non-empty, without ':' or control characters"
        )));
    }
    Ok(())
}

fn ix(e: InterchangeError) -> Error {
    Error::Invalid(e.to_string())
}

/// Stores a table version and returns its id.
fn put_table(store: &Store, schema: &Schema, rows: NodeId, row_count: u64) -> Result<TableId> {
    let schema = store.put(schema)?;
    store.put(&Table {
        schema,
        rows,
        row_count,
    })
}

/// The header names of a CSV/TSV file (first record, quotes honoured).
fn csv_header(path: &Path, delimiter: u8) -> Result<Vec<String>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| Error::Io {
        op: "cannot open",
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut names = Vec::new();
    let mut field = Vec::new();
    let mut quoted = false;
    let mut pos = 0;
    loop {
        if pos == buf.len() {
            buf.clear();
            pos = 0;
            let n = f.read(&mut chunk).map_err(|e| Error::Io {
                op: "cannot read",
                path: path.to_path_buf(),
                source: e,
            })?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let c = buf[pos];
        pos += 1;
        if quoted {
            if c == b'"' {
                if pos == buf.len() {
                    // Peek across a buffer boundary.
                    let mut one = [0u8; 1];
                    let n = f.read(&mut one).map_err(|e| Error::Io {
                        op: "cannot read",
                        path: path.to_path_buf(),
                        source: e,
                    })?;
                    if n == 1 {
                        buf.push(one[0]);
                    }
                }
                if buf.get(pos) == Some(&b'"') {
                    field.push(b'"');
                    pos += 1;
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == delimiter {
            names.push(std::mem::take(&mut field));
        } else if c == b'\n' {
            break;
        } else if c != b'\r' {
            field.push(c);
        }
    }
    names.push(field);
    let file = path.display();
    names
        .into_iter()
        .map(|n| {
            String::from_utf8(n)
                .map_err(|_| Error::Invalid(format!("{file} line 1: invalid UTF-8 in the header")))
        })
        .collect()
}

/// The format `read` will use for `path`.
fn format_of(path: &Path, options: &ReadOptions) -> Result<Format> {
    match options.format {
        Some(f) => Ok(f),
        None => interchange::detect_format(path).map_err(ix),
    }
}

/// A declared Arrow schema for reading a text file into `schema`'s columns (CSV by header
/// names or position, JSONL by key).
fn declared_schema(
    path: &Path,
    options: &ReadOptions,
    schema: &Schema,
    table: &str,
) -> Result<Option<SchemaRef>> {
    let field = |name: &str, c: &crate::schema::Column| arrow_field(name, &c.ty, true);
    let fields: Vec<Field> = match format_of(path, options)? {
        Format::Csv | Format::Tsv => {
            if options.csv.header {
                let delimiter = match format_of(path, options)? {
                    Format::Tsv if options.csv.delimiter == b',' => b'\t',
                    _ => options.csv.delimiter,
                };
                let mut fields = Vec::new();
                for name in csv_header(path, delimiter)? {
                    let (_, c) = schema.column(&name).ok_or_else(|| {
                        Error::Invalid(format!(
                            "{} line 1: column '{name}' is not in table '{table}'",
                            path.display()
                        ))
                    })?;
                    fields.push(field(&name, c));
                }
                fields
            } else {
                schema.columns().iter().map(|c| field(&c.name, c)).collect()
            }
        }
        Format::Jsonl => schema.columns().iter().map(|c| field(&c.name, c)).collect(),
        _ => return Ok(None),
    };
    Ok(Some(std::sync::Arc::new(ArrowSchema::new(fields))))
}

/// Builds a new table's schema from a declared spec or the file's Arrow schema, with `pk`.
fn new_schema(
    table: &str,
    file_schema: &ArrowSchema,
    spec: Option<&SchemaSpec>,
    pk: Option<&[String]>,
) -> Result<Schema> {
    let mut defs: Vec<ColumnDef> = match spec {
        Some(s) => s.columns.clone(),
        None => file_schema
            .fields()
            .iter()
            .map(|f| {
                let mut d = ColumnDef::new(f.name().clone(), kodiak_type(f)?);
                d.nullable = f.is_nullable();
                Ok(d)
            })
            .collect::<Result<_>>()?,
    };
    let key: Vec<String> = match (pk, spec) {
        (Some(k), _) => k.to_vec(),
        (None, Some(s)) => s.primary_key.clone(),
        (None, None) => Vec::new(),
    };
    for k in &key {
        let d = defs
            .iter_mut()
            .find(|d| d.name.eq_ignore_ascii_case(k))
            .ok_or_else(|| {
                Error::Invalid(format!("missing key column: the file has no column '{k}'"))
            })?;
        d.nullable = false;
    }
    let key_refs: Vec<&str> = key.iter().map(String::as_str).collect();
    Schema::new(table, defs, &key_refs)
}

/// Maps the file's columns onto the table's: for each table column, the file column that
/// fills it (or `None`: default/NULL).
fn column_map(
    file: &str,
    file_schema: &ArrowSchema,
    schema: &Schema,
    table: &str,
) -> Result<Vec<Option<usize>>> {
    let mut map = vec![None; schema.columns().len()];
    for (fi, f) in file_schema.fields().iter().enumerate() {
        let (ti, _) = schema.column(f.name()).ok_or_else(|| {
            Error::Invalid(format!(
                "{file}: column '{}' is not in table '{table}'",
                f.name()
            ))
        })?;
        if map[ti].is_some() {
            return Err(Error::Invalid(format!(
                "{file}: column '{}' appears twice",
                f.name()
            )));
        }
        map[ti] = Some(fi);
    }
    let key = schema.primary_key();
    for (ti, c) in schema.columns().iter().enumerate() {
        if map[ti].is_none() {
            if key.contains(&ti) {
                return Err(Error::Invalid(format!(
                    "{file}: missing key column '{}' of table '{table}'",
                    c.name
                )));
            }
            if !c.nullable && c.default.is_none() {
                return Err(Error::Invalid(format!(
                    "{file}: missing column '{}' of table '{table}', which is NOT NULL without a default",
                    c.name
                )));
            }
        }
    }
    Ok(map)
}

/// Imports `path` into table `table` of the working state (see [`ImportOptions`]).
///
/// `progress` is called after each batch with the rows and bytes read so far.
pub fn import(
    repo: &Repo,
    table: &str,
    path: &Path,
    options: &ImportOptions,
    progress: &mut dyn FnMut(ImportProgress),
) -> Result<ImportOutcome> {
    check_table_name(table)?;
    let store = repo.store();
    let state = WorkState::load(repo)?;
    let mut root = state.working(store)?;
    crate::package::check_editable(&root, table)?;
    let existing = match root.tables.get(table) {
        Some(_) => Some(table_of(store, &root, table)?),
        None => None,
    };
    let mode = match (options.mode, &existing) {
        (None, None) => ImportMode::Create,
        (None | Some(ImportMode::Create), Some(_)) => {
            return Err(Error::Invalid(format!(
                "table '{table}' already exists\nhint: use --replace, --update or --append"
            )));
        }
        (Some(m @ (ImportMode::Update | ImportMode::Append)), None) => {
            return Err(Error::Invalid(format!(
                "table '{table}' does not exist; --{} needs an existing table",
                m.name()
            )));
        }
        (Some(m), _) => m,
    };
    let redefine = existing.is_none()
        || (mode == ImportMode::Replace
            && (options.schema.is_some() || options.primary_key.is_some()));
    if !redefine && options.schema.is_some() {
        return Err(Error::Invalid(
            "--schema applies to a new table or with --replace".into(),
        ));
    }
    if !redefine && let (Some(pk), Some((_, s))) = (&options.primary_key, &existing) {
        let current: Vec<String> = s
            .primary_key()
            .into_iter()
            .map(|i| s.columns()[i].name.clone())
            .collect();
        let same = pk.len() == current.len()
            && pk
                .iter()
                .zip(&current)
                .all(|(a, b)| a.eq_ignore_ascii_case(b));
        if !same {
            return Err(Error::Invalid(format!(
                "--pk {} differs from the primary key of '{table}' ({})\nhint: use schema alter --set-pk, or --replace",
                pk.join(","),
                current.join(",")
            )));
        }
    }

    // The target schema, when known before reading (declares text formats' types).
    let known: Option<Schema> = match (&existing, redefine, &options.schema) {
        (Some((_, s)), false, _) => Some(s.clone()),
        (_, true, Some(spec)) => Some(new_schema(
            table,
            &ArrowSchema::empty(),
            Some(spec),
            options.primary_key.as_deref(),
        )?),
        _ => None,
    };
    let mut read = options.read.clone();
    let bytes_read = read
        .bytes_read
        .get_or_insert_with(|| std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)))
        .clone();
    let total_bytes = std::fs::metadata(path).ok().map(|m| m.len());
    if let Some(s) = &known {
        read.schema = declared_schema(path, &read, s, table)?;
    }
    let (file_schema, batches) = interchange::read(path, &read).map_err(ix)?;
    let file = path.display().to_string();
    let schema = match known {
        Some(s) => s,
        None => new_schema(table, &file_schema, None, options.primary_key.as_deref())?,
    };
    let map = column_map(&file, &file_schema, &schema, table)?;
    // `line N` (CSV/TSV) or `row N` (1-based) of a 0-based data row, for messages.
    let place = |row: u64| -> String {
        let mut p = interchange::row_places(path, &read, &[row]);
        p.pop().unwrap_or_else(|| format!("row {}", row + 1))
    };
    let codec = RowCodec::new(&schema);
    let key_cols = schema.primary_key();
    let ncols = schema.columns().len();
    let defaults: Vec<Value> = schema
        .columns()
        .iter()
        .map(|c| c.default.clone().unwrap_or(Value::Null))
        .collect();

    let mut pairs = SortedPairs::new(options.sort_memory);
    let mut row_no: u64 = 0;
    // Converts and encodes one batch whose first row is data row `first`.
    let encode_batch = |batch: &RecordBatch, first: u64| -> Result<EncodedBatch> {
        let readers: Vec<Option<ColumnReader>> = map
            .iter()
            .enumerate()
            .map(|(ti, fi)| {
                fi.map(|fi| {
                    ColumnReader::new(
                        batch.column(fi).clone(),
                        schema.columns()[ti].ty,
                        &format!("{file}: {}", schema.columns()[ti].name),
                    )
                })
                .transpose()
            })
            .collect::<Result<_>>()?;
        let mut out = EncodedBatch::default();
        let mut row_buf = defaults.clone();
        let (mut key, mut value) = (Vec::new(), Vec::new());
        for i in 0..batch.num_rows() {
            let row = first + i as u64;
            for (ti, r) in readers.iter().enumerate() {
                // Columns the file lacks keep their default from `row_buf`'s start.
                if let Some(r) = r {
                    r.value_into(i, &mut row_buf[ti]).map_err(|e| {
                        Error::Invalid(format!(
                            "{file} {}, column {}: {e}",
                            place(row),
                            schema.columns()[ti].name
                        ))
                    })?;
                }
            }
            for &k in &key_cols {
                if row_buf[k].is_null() {
                    return Err(Error::Invalid(format!(
                        "{file} {}, column {}: NULL in a primary key column",
                        place(row),
                        schema.columns()[k].name
                    )));
                }
            }
            codec
                .encode_row_into(&row_buf[..ncols], &mut key, &mut value)
                .map_err(|e| Error::Invalid(format!("{file} {}: {e}", place(row))))?;
            out.push(&key, &value)?;
        }
        Ok(out)
    };
    // Decoding the file runs on its own thread; converting and encoding batches on
    // `ENCODERS` more; this thread collects the encoded rows in file order.
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    let reader = std::thread::spawn(move || {
        for b in batches {
            let failed = b.is_err();
            if tx.send(b).is_err() || failed {
                break;
            }
        }
    });
    let numbered = std::sync::Mutex::new((rx, 0u64, 0u64));
    let mut encode_all = || -> Result<()> {
        std::thread::scope(|scope| -> Result<()> {
            let (etx, erx) = std::sync::mpsc::sync_channel::<(u64, Result<EncodedBatch>)>(4);
            for _ in 0..ENCODERS {
                let etx = etx.clone();
                let (numbered, encode_batch) = (&numbered, &encode_batch);
                scope.spawn(move || {
                    loop {
                        // Taking a batch and its sequence and row numbers is one step, so
                        // batches are numbered in file order.
                        let (seq, first, batch) = {
                            let Ok(mut guard) = numbered.lock() else {
                                return;
                            };
                            let (rx, next_seq, next_row) = &mut *guard;
                            let Ok(batch) = rx.recv() else { return };
                            let seq = *next_seq;
                            let first = *next_row;
                            *next_seq += 1;
                            if let Ok(b) = &batch {
                                *next_row += b.num_rows() as u64;
                            }
                            (seq, first, batch)
                        };
                        let encoded = batch.map_err(ix).and_then(|b| encode_batch(&b, first));
                        let failed = encoded.is_err();
                        if etx.send((seq, encoded)).is_err() || failed {
                            return;
                        }
                    }
                });
            }
            drop(etx);
            // Batches finish out of order; keep them until their turn.
            let mut waiting: BTreeMap<u64, Result<EncodedBatch>> = BTreeMap::new();
            let mut next_seq = 0u64;
            for (seq, encoded) in erx {
                waiting.insert(seq, encoded);
                while let Some(encoded) = waiting.remove(&next_seq) {
                    next_seq += 1;
                    let encoded = encoded?;
                    pairs.push_packed(&encoded.bytes, &encoded.lens, row_no)?;
                    row_no += encoded.lens.len() as u64;
                    progress(ImportProgress {
                        rows: row_no,
                        bytes: bytes_read.load(std::sync::atomic::Ordering::Relaxed),
                        total_bytes,
                    });
                }
            }
            Ok(())
        })
    };
    let encoded = encode_all();
    // Every receiver is gone once `encode_all` returns, so the reader thread stops soon.
    drop(numbered);
    if reader.join().is_err() {
        return Err(Error::Invalid(format!("{file}: the reader thread failed")));
    }
    encoded?;

    let keyless = codec.is_keyless();
    let describe_key = |k: &[u8]| -> String {
        match codec.decode_key(k) {
            Ok(vals) => key_cols
                .iter()
                .zip(vals)
                .map(|(&c, v)| format!("{}={}", schema.columns()[c].name, v.render()))
                .collect::<Vec<_>>()
                .join(", "),
            Err(_) => crate::id::hex_encode(k),
        }
    };
    let ns = NodeStore::new(store.clone());
    let mut merged = pairs.finish()?;
    // Runs of equal keys: an error for keyed tables, a duplicate count for keyless ones.
    let (mut k, mut v) = (Vec::new(), Vec::new());
    let next =
        |merged: &mut sort::Merged, k: &mut Vec<u8>, v: &mut Vec<u8>| -> Result<Option<u64>> {
            let Some(r) = merged.next_into(k, v)? else {
                return Ok(None);
            };
            if !keyless {
                if let Some(r2) = merged.peek_equal(k)? {
                    // Pairs with equal keys come in row order, so `r` is the first.
                    let places = interchange::row_places(path, &read, &[r, r2]);
                    let (first, second) = match places.as_slice() {
                        [a, b] => (a.clone(), b.clone()),
                        _ => (format!("row {}", r + 1), format!("row {}", r2 + 1)),
                    };
                    return Err(Error::Invalid(format!(
                        "{file} {second}: duplicate primary key ({}), first seen on {first}",
                        describe_key(k)
                    )));
                }
                return Ok(Some(1));
            }
            let mut count = 1u64;
            while merged.peek_equal(k)?.is_some() {
                merged.next()?;
                count += 1;
            }
            let joined = RowCodec::keyless_join(count, RowCodec::keyless_split(v)?.1);
            *v = joined;
            Ok(Some(count))
        };

    let (rows_root, row_count) = match mode {
        ImportMode::Create | ImportMode::Replace => {
            // Nothing reads the new leaves back during the import: caching them would only
            // cost a copy each.
            let mut b = ns.without_leaf_cache().builder();
            let mut count = 0u64;
            while let Some(c) = next(&mut merged, &mut k, &mut v)? {
                b.push(&k, &v)?;
                count += c;
            }
            (b.finish()?, count)
        }
        ImportMode::Update | ImportMode::Append => {
            let Some((old, _)) = &existing else {
                return Err(Error::Invalid(format!("table '{table}' does not exist")));
            };
            if keyless && mode == ImportMode::Update {
                return Err(Error::Invalid(format!(
                    "table '{table}' has no primary key, so --update cannot match rows\nhint: use --append or --replace, or set a key with schema alter --set-pk"
                )));
            }
            let mut edits: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
            let mut added = 0u64;
            while let Some(c) = next(&mut merged, &mut k, &mut v)? {
                let current = ns.get(old.rows, &k)?;
                let (k, v) = (k.clone(), v.clone());
                match (mode, current, keyless) {
                    (ImportMode::Append, Some(cur), true) => {
                        let (have, row_value) = RowCodec::keyless_split(cur.value())?;
                        edits.push((k, Some(RowCodec::keyless_join(have + c, row_value))));
                        added += c;
                    }
                    (ImportMode::Append, Some(_), false) => {
                        return Err(Error::Invalid(format!(
                            "{file}: key ({}) already exists in table '{table}'\nhint: use --update to overwrite existing rows",
                            describe_key(&k)
                        )));
                    }
                    (_, cur, _) => {
                        if cur.is_none() {
                            added += c;
                        }
                        edits.push((k, Some(v)));
                    }
                }
            }
            let new_root = ns.apply(old.rows, edits)?;
            (new_root, old.row_count + added)
        }
    };
    let tid = put_table(store, &schema, rows_root, row_count)?;
    root.tables.insert(table.to_string(), tid);
    state.set_working(
        repo,
        &root,
        &format!("table import {table} ({})", mode.name()),
    )?;
    Ok(ImportOutcome {
        mode,
        rows_read: row_no,
        row_count,
    })
}

/// Rows of a table as Arrow batches, optionally filtered.
pub struct RowBatches {
    rows: crate::table::Rows,
    codec: RowCodec,
    types: Vec<crate::schema::Type>,
    schema: SchemaRef,
    filters: Vec<Filter>,
    limit: Option<u64>,
    emitted: u64,
    batch_size: usize,
    done: bool,
}

impl RowBatches {
    /// Batches of the rows of `table` (key order), keeping rows matching every `col=value`
    /// filter, at most `limit` of them.
    pub fn new(
        store: &Store,
        table: &Table,
        schema: &Schema,
        filters: &[String],
        limit: Option<u64>,
    ) -> Result<RowBatches> {
        let ns = NodeStore::new(store.clone());
        Ok(RowBatches {
            rows: ns.scan(table.rows),
            codec: RowCodec::new(schema),
            types: schema.columns().iter().map(|c| c.ty).collect(),
            schema: arrow_schema(schema),
            filters: parse_filters(schema, filters)?,
            limit,
            emitted: 0,
            batch_size: interchange::DEFAULT_BATCH_SIZE,
            done: false,
        })
    }

    /// The batches' Arrow schema.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        let mut builders: Vec<ColumnBuilder> = self
            .types
            .iter()
            .map(ColumnBuilder::new)
            .collect::<Result<_>>()?;
        let mut row = vec![Value::Null; self.types.len()];
        let mut n = 0usize;
        while n < self.batch_size {
            if self.limit.is_some_and(|l| self.emitted >= l) {
                self.done = true;
                break;
            }
            let Some(r) = self.rows.next() else {
                self.done = true;
                break;
            };
            let r = r?;
            self.codec.decode_row_into(r.key(), r.value(), &mut row)?;
            if !self.filters.iter().all(|f| row[f.column] == f.value) {
                continue;
            }
            let copies = if self.codec.is_keyless() {
                RowCodec::keyless_split(r.value())?.0
            } else {
                1
            };
            for _ in 0..copies {
                if self.limit.is_some_and(|l| self.emitted >= l) {
                    break;
                }
                for (b, v) in builders.iter_mut().zip(&row) {
                    b.push(v)?;
                }
                n += 1;
                self.emitted += 1;
            }
        }
        if n == 0 {
            return Ok(None);
        }
        let columns = builders.iter_mut().map(ColumnBuilder::finish).collect();
        RecordBatch::try_new(self.schema.clone(), columns)
            .map(Some)
            .map_err(|e| Error::Invalid(format!("building an export batch: {e}")))
    }
}

impl Iterator for RowBatches {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Rows of a table in key order as values (keyless duplicates repeated), keeping rows that
/// match every `col=value` filter, at most `limit` of them.
pub fn read_rows(
    store: &Store,
    table: &Table,
    schema: &Schema,
    filters: &[String],
    limit: Option<u64>,
) -> Result<Vec<Vec<Value>>> {
    let filters = parse_filters(schema, filters)?;
    let codec = RowCodec::new(schema);
    let ns = NodeStore::new(store.clone());
    let mut out = Vec::new();
    for r in ns.scan(table.rows) {
        let r = r?;
        let row = codec.decode_row(r.key(), r.value())?;
        if !filters.iter().all(|f| row[f.column] == f.value) {
            continue;
        }
        let copies = if codec.is_keyless() {
            RowCodec::keyless_split(r.value())?.0
        } else {
            1
        };
        for _ in 0..copies {
            if limit.is_some_and(|l| out.len() as u64 >= l) {
                return Ok(out);
            }
            out.push(row.clone());
        }
    }
    Ok(out)
}

/// Writes the rows of table `name` in `root` to `path` in `format`; returns the rows written.
pub fn export(
    store: &Store,
    root: &Root,
    name: &str,
    path: &Path,
    format: Format,
    filters: &[String],
    options: &WriteOptions,
) -> Result<u64> {
    let (t, s) = table_of(store, root, name)?;
    let batches = RowBatches::new(store, &t, &s, filters, None)?;
    let schema = batches.schema();
    let file = path.display().to_string();
    // Reading and decoding rows (one thread) overlaps with formatting and writing them (this
    // thread). When the writer stops early, the channel closes and the reader stops too.
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(EXPORT_QUEUE);
        scope.spawn(move || {
            for b in batches {
                let failed = b.is_err();
                if tx.send(b).is_err() || failed {
                    break;
                }
            }
        });
        let iter = rx.into_iter().map(|b| {
            b.map_err(|e| InterchangeError::Data {
                file: file.clone(),
                at: Default::default(),
                message: e.to_string(),
            })
        });
        interchange::write_path(format, path, &schema, iter, options).map_err(ix)
    })
}

/// Batches decoded ahead of the export writer (bounds the memory of a slow writer).
const EXPORT_QUEUE: usize = 4;

/// Reads the working state, applies `change` to its root, and stores the result as the new
/// working root (compare-and-swap); `message` is recorded in the working set's log.
pub fn change_working<T>(
    repo: &Repo,
    message: &str,
    change: impl FnOnce(&Store, &mut Root) -> Result<T>,
) -> Result<T> {
    let state = WorkState::load(repo)?;
    let mut root = state.working(repo.store())?;
    let out = change(repo.store(), &mut root)?;
    state.set_working(repo, &root, message)?;
    Ok(out)
}

/// Removes tables from `root`.
pub fn remove_tables(root: &mut Root, names: &[String]) -> Result<()> {
    for n in names {
        crate::package::check_editable(root, n)?;
        if root.tables.remove(n).is_none() {
            return Err(Error::Invalid(format!("table '{n}' does not exist")));
        }
    }
    Ok(())
}

/// Renames (`keep = false`) or copies (`keep = true`) table `from` to `to`. The table object
/// is shared, so column tags stay and history sees the same table under a new name.
pub fn move_table(root: &mut Root, from: &str, to: &str, keep: bool) -> Result<()> {
    check_table_name(to)?;
    crate::package::check_editable(root, to)?;
    if !keep {
        crate::package::check_editable(root, from)?;
    }
    if root.tables.contains_key(to) {
        return Err(Error::Invalid(format!("table '{to}' already exists")));
    }
    let id = *root
        .tables
        .get(from)
        .ok_or_else(|| Error::Invalid(format!("table '{from}' does not exist")))?;
    if !keep {
        root.tables.remove(from);
    }
    root.tables.insert(to.to_string(), id);
    Ok(())
}

/// A schema change for [`alter_table`].
#[derive(Clone, Debug)]
pub enum Alter {
    /// Add a column (with an optional default).
    AddColumn(ColumnDef),
    /// Drop a column.
    DropColumn(String),
    /// Rename a column.
    RenameColumn(String, String),
    /// Replace the primary key (re-keys every row; empty = keyless).
    SetPrimaryKey(Vec<String>),
    /// Change a column's type, converting every value exactly (rewrites every row).
    SetType(String, Type),
    /// Allow (`true`) or forbid (`false`) NULL in a column; forbidding checks every row.
    SetNullable(String, bool),
    /// Set or remove a column's default. Rows are rewritten first so that rows written before
    /// the column existed keep reading the old default.
    SetDefault(String, Option<Value>),
}

/// Applies a schema change to table `name` in `root`.
pub fn alter_table(store: &Store, root: &mut Root, name: &str, alter: &Alter) -> Result<()> {
    crate::package::check_editable(root, name)?;
    let (t, old) = table_of(store, root, name)?;
    let mut schema = old.clone();
    let (rows, row_count) = match alter {
        Alter::AddColumn(def) => {
            schema.add_column(name, def.clone())?;
            (t.rows, t.row_count)
        }
        Alter::DropColumn(c) => {
            schema.drop_column(c)?;
            (t.rows, t.row_count)
        }
        Alter::RenameColumn(a, b) => {
            schema.rename_column(a, b)?;
            (t.rows, t.row_count)
        }
        Alter::SetPrimaryKey(cols) => {
            for c in cols {
                if schema.column(c).is_none() {
                    return Err(Error::Invalid(format!("no column named '{c}'")));
                }
            }
            // Release the old key first: its columns may become nullable again only
            // explicitly, so they stay NOT NULL.
            schema.set_primary_key(&[])?;
            for c in cols {
                schema.set_nullable(c, false)?;
            }
            let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
            schema.set_primary_key(&refs)?;
            rekey(store, name, &t, &old, &schema, &mut |_, _| Ok(()))?
        }
        Alter::SetType(c, ty) => {
            let (i, col) = schema
                .column(c)
                .ok_or_else(|| Error::Invalid(format!("no column named '{c}'")))?;
            let col_name = col.name.clone();
            schema.set_type(c, *ty)?;
            rekey(store, name, &t, &old, &schema, &mut |row, key| {
                row[i] = crate::schema::convert_value(&row[i], ty).map_err(|e| {
                    Error::Invalid(format!(
                        "table '{name}', row ({key}), column '{col_name}': {e}"
                    ))
                })?;
                Ok(())
            })?
        }
        Alter::SetNullable(c, nullable) => {
            let (i, col) = schema
                .column(c)
                .ok_or_else(|| Error::Invalid(format!("no column named '{c}'")))?;
            let col_name = col.name.clone();
            schema.set_nullable(c, *nullable)?;
            if *nullable {
                (t.rows, t.row_count)
            } else {
                rekey(store, name, &t, &old, &schema, &mut |row, key| {
                    if row[i].is_null() {
                        return Err(Error::Invalid(format!(
                            "table '{name}', row ({key}): column '{col_name}' is NULL, so it cannot be NOT NULL\nhint: set a value first (row put), or give the column a default"
                        )));
                    }
                    Ok(())
                })?
            }
        }
        Alter::SetDefault(c, default) => {
            schema.set_default(c, default.clone())?;
            rekey(store, name, &t, &old, &schema, &mut |_, _| Ok(()))?
        }
    };
    let tid = put_table(store, &schema, rows, row_count)?;
    root.tables.insert(name.to_string(), tid);
    Ok(())
}

/// Re-encodes every row of `t` (schema `old`) under `new`, after `transform` (given the row in
/// column order and its old key rendered for messages); duplicate or NULL keys are errors.
/// `old` and `new` must list the same columns in the same order.
fn rekey(
    store: &Store,
    name: &str,
    t: &Table,
    old: &Schema,
    new: &Schema,
    transform: &mut dyn FnMut(&mut [Value], &str) -> Result<()>,
) -> Result<(NodeId, u64)> {
    let ns = NodeStore::new(store.clone());
    let old_codec = RowCodec::new(old);
    let codec = RowCodec::new(new);
    let mut pairs = SortedPairs::new(0);
    let mut row = vec![Value::Null; old.columns().len()];
    let (mut k, mut v) = (Vec::new(), Vec::new());
    let key_cols = new.primary_key();
    let mut n = 0u64;
    for r in ns.scan(t.rows) {
        let r = r?;
        old_codec.decode_row_into(r.key(), r.value(), &mut row)?;
        let shown_key = || -> String {
            let pk = old.primary_key();
            if pk.is_empty() {
                format!("#{}", n + 1)
            } else {
                pk.iter()
                    .map(|&c| row[c].render())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let key_text = shown_key();
        transform(&mut row, &key_text)?;
        for &c in &key_cols {
            if row[c].is_null() {
                return Err(Error::Invalid(format!(
                    "table '{name}': row {n} has NULL in column '{}'; a key column cannot hold NULL",
                    new.columns()[c].name
                )));
            }
        }
        let copies = if old_codec.is_keyless() {
            RowCodec::keyless_split(r.value())?.0
        } else {
            1
        };
        codec.encode_row_into(&row, &mut k, &mut v)?;
        for _ in 0..copies {
            pairs.push(&k, &v, n)?;
            n += 1;
        }
    }
    let mut merged = pairs.finish()?;
    let mut b = ns.builder();
    let mut count = 0u64;
    while let Some((key, value, _)) = merged.next()? {
        if codec.is_keyless() {
            let mut c = 1u64;
            while merged.peek_equal(&key)?.is_some() {
                merged.next()?;
                c += 1;
            }
            let (_, rv) = RowCodec::keyless_split(&value)?;
            b.push(&key, &RowCodec::keyless_join(c, rv))?;
            count += c;
        } else {
            if merged.peek_equal(&key)?.is_some() {
                let vals = codec.decode_key(&key)?;
                let shown: Vec<String> = vals.iter().map(Value::render).collect();
                return Err(Error::Invalid(format!(
                    "table '{name}': duplicate key ({}) under the new primary key",
                    shown.join(", ")
                )));
            }
            b.push(&key, &value)?;
            count += 1;
        }
    }
    Ok((b.finish()?, count))
}

/// Parses `col=value` assignments into a full row of `schema` (missing columns get their
/// default or NULL), with a flag per column telling whether it was assigned.
pub fn row_from_assignments(
    schema: &Schema,
    assignments: &[String],
) -> Result<(Vec<Value>, Vec<bool>)> {
    let mut row: Vec<Value> = schema
        .columns()
        .iter()
        .map(|c| c.default.clone().unwrap_or(Value::Null))
        .collect();
    let mut seen = vec![false; row.len()];
    for a in assignments {
        let (col, val) = a.split_once('=').ok_or_else(|| {
            Error::Invalid(format!("invalid assignment '{a}': expected COLUMN=VALUE"))
        })?;
        let (i, c) = schema
            .column(col.trim())
            .ok_or_else(|| Error::Invalid(format!("no column named '{}'", col.trim())))?;
        if seen[i] {
            return Err(Error::Invalid(format!(
                "column '{}' is assigned twice",
                c.name
            )));
        }
        seen[i] = true;
        row[i] = Value::parse(&c.ty, val)
            .map_err(|e| Error::Invalid(format!("column '{}': {e}", c.name)))?;
    }
    for &k in &schema.primary_key() {
        if row[k].is_null() {
            return Err(Error::Invalid(format!(
                "missing value for key column '{}'",
                schema.columns()[k].name
            )));
        }
    }
    Ok((row, seen))
}

/// Inserts one row of table `name`, or updates the given columns of the row with its key.
///
/// New rows get defaults (or NULL) for columns not given; keyless tables add one copy.
pub fn put_row(store: &Store, root: &mut Root, name: &str, assignments: &[String]) -> Result<()> {
    crate::package::check_editable(root, name)?;
    let (t, schema) = table_of(store, root, name)?;
    let (mut row, assigned) = row_from_assignments(&schema, assignments)?;
    let codec = RowCodec::new(&schema);
    let ns = NodeStore::new(store.clone());
    // Updating an existing keyed row changes only the columns given; the others keep their
    // current values (defaults apply to new rows only).
    if !codec.is_keyless() {
        let key: Vec<Value> = schema
            .primary_key()
            .iter()
            .map(|&i| row[i].clone())
            .collect();
        let k = codec.encode_key(&key)?;
        if let Some(cur) = ns.get(t.rows, &k)? {
            let existing = codec.decode_row(&k, cur.value())?;
            for (i, old) in existing.into_iter().enumerate() {
                if !assigned[i] {
                    row[i] = old;
                }
            }
        }
    }
    let (k, mut v) = codec.encode_row(&row)?;
    let current = ns.get(t.rows, &k)?;
    let mut row_count = t.row_count;
    match (&current, codec.is_keyless()) {
        (Some(cur), true) => {
            let (have, rv) = RowCodec::keyless_split(cur.value())?;
            v = RowCodec::keyless_join(have + 1, rv);
            row_count += 1;
        }
        (None, _) => row_count += 1,
        (Some(_), false) => {}
    }
    let rows = ns.apply(t.rows, [(k, Some(v))])?;
    root.tables.insert(
        name.to_string(),
        put_table(store, &schema, rows, row_count)?,
    );
    Ok(())
}

/// Deletes the row of table `name` whose key is `key` (one text per key column).
pub fn delete_row(store: &Store, root: &mut Root, name: &str, key: &[String]) -> Result<()> {
    crate::package::check_editable(root, name)?;
    let (t, schema) = table_of(store, root, name)?;
    let key_cols = schema.primary_key();
    if key_cols.is_empty() {
        return Err(Error::Invalid(format!(
            "table '{name}' has no primary key; rows cannot be addressed by key"
        )));
    }
    if key.len() != key_cols.len() {
        return Err(Error::Invalid(format!(
            "table '{name}' has a {}-column key; got {} value(s)",
            key_cols.len(),
            key.len()
        )));
    }
    let vals: Vec<Value> = key_cols
        .iter()
        .zip(key)
        .map(|(&c, text)| {
            let col = &schema.columns()[c];
            Value::parse(&col.ty, text)
                .map_err(|e| Error::Invalid(format!("column '{}': {e}", col.name)))
        })
        .collect::<Result<_>>()?;
    let codec = RowCodec::new(&schema);
    let k = codec.encode_key(&vals)?;
    let ns = NodeStore::new(store.clone());
    if ns.get(t.rows, &k)?.is_none() {
        let shown: Vec<String> = vals.iter().map(Value::render).collect();
        return Err(Error::Invalid(format!(
            "table '{name}' has no row with key ({})",
            shown.join(", ")
        )));
    }
    let rows = ns.apply(t.rows, [(k, None::<Vec<u8>>)])?;
    root.tables.insert(
        name.to_string(),
        put_table(store, &schema, rows, t.row_count.saturating_sub(1))?,
    );
    Ok(())
}

/// Reads every row of a data file (any supported format, detected from its name) as full
/// rows of `schema` (columns the file lacks get their default or NULL); `table` names the
/// table in errors. For small files such as conflict resolutions: rows are held in memory.
pub fn read_file_rows(path: &Path, schema: &Schema, table: &str) -> Result<Vec<Vec<Value>>> {
    let mut read = ReadOptions::default();
    read.schema = declared_schema(path, &read, schema, table)?;
    let (file_schema, batches) = interchange::read(path, &read).map_err(ix)?;
    let file = path.display().to_string();
    let map = column_map(&file, &file_schema, schema, table)?;
    let defaults: Vec<Value> = schema
        .columns()
        .iter()
        .map(|c| c.default.clone().unwrap_or(Value::Null))
        .collect();
    let mut out = Vec::new();
    for batch in batches {
        let batch = batch.map_err(ix)?;
        let readers: Vec<Option<ColumnReader>> = map
            .iter()
            .enumerate()
            .map(|(ti, fi)| {
                fi.map(|fi| {
                    let c = &schema.columns()[ti];
                    ColumnReader::new(
                        batch.column(fi).clone(),
                        c.ty,
                        &format!("{file}: {}", c.name),
                    )
                })
                .transpose()
            })
            .collect::<Result<_>>()?;
        for i in 0..batch.num_rows() {
            let mut row = defaults.clone();
            for (ti, r) in readers.iter().enumerate() {
                if let Some(r) = r {
                    row[ti] = r.value(i)?;
                }
            }
            out.push(row);
        }
    }
    Ok(out)
}
