//! The Schema object: ordered typed columns with stable tags and physical slots, and a
//! primary key (or none, for keyless tables).

use serde::{Deserialize, Serialize};

use super::types::{Type, Value};
use crate::error::{Error, Result};
use crate::id::SchemaId;
use crate::object::{DecodeError, Kind, Object, postcard_decode, postcard_encode};

/// Most column slots a table may use over its whole history (added columns, including
/// dropped ones); bounds the codec's per-slot tables.
pub const MAX_SLOTS: u32 = 1 << 16;

/// A column as the user describes it, before it gets a tag and a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnDef {
    /// Column name (non-empty, unique in the table, compared case-insensitively).
    pub name: String,
    /// Column type.
    pub ty: Type,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Value for rows that do not set the column, including rows written before the column
    /// was added.
    pub default: Option<Value>,
}

impl ColumnDef {
    /// A nullable column without default.
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        ColumnDef {
            name: name.into(),
            ty,
            nullable: true,
            default: None,
        }
    }

    /// A nullable column whose type is given as text (`"DECIMAL(10,2)"`, `"text"`, …).
    pub fn parse(name: impl Into<String>, type_name: &str) -> Result<Self> {
        let name = name.into();
        let ty = type_name
            .parse::<Type>()
            .map_err(|e| Error::Invalid(format!("column '{name}': {e}")))?;
        Ok(ColumnDef::new(name, ty))
    }

    /// The same column, NOT NULL.
    pub fn not_null(mut self) -> Self {
        self.nullable = false;
        self
    }

    /// The same column with a default value.
    pub fn with_default(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }
}

/// A column of a [`Schema`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Current name.
    pub name: String,
    /// Type.
    pub ty: Type,
    /// Whether NULL is allowed.
    pub nullable: bool,
    /// Value read for rows that lack the column (never `Some(Value::Null)`).
    pub default: Option<Value>,
    /// Stable identity: kept across renames and reorderings, never reused in the table.
    pub tag: u64,
    /// Physical position in the row value encoding; never reused in the table.
    pub slot: u32,
}

/// A dropped column's tag, slot and type, kept so old rows can still be skipped over and so
/// neither is ever handed out again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedColumn {
    /// The dropped column's tag.
    pub tag: u64,
    /// Its slot; rows written before the drop may still hold a value there.
    pub slot: u32,
    /// Its type, needed to skip such a value.
    pub ty: Type,
}

/// A table schema: ordered columns, a primary key (empty = keyless) and slot bookkeeping.
///
/// Invariants (checked by every constructor, mutator and the decoder): at least one column;
/// column names non-empty and unique ignoring ASCII case; tags unique across columns and
/// dropped columns; slots unique and below `next_slot` (itself at most [`MAX_SLOTS`]); defaults fit their column; primary
/// key columns exist, are listed once and are NOT NULL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    columns: Vec<Column>,
    primary_key: Vec<u64>,
    next_slot: u32,
    dropped: Vec<DroppedColumn>,
}

/// The stable tag for a new column: the first 8 bytes (little-endian) of BLAKE3 over the
/// table name, column name and type, re-derived with a counter while it collides.
fn derive_tag(table: &str, name: &str, ty: &Type, taken: impl Fn(u64) -> bool) -> u64 {
    let ty = ty.to_string();
    let mut attempt: u32 = 0;
    loop {
        let mut h = blake3::Hasher::new();
        h.update(b"kodiak column tag v1\0");
        for part in [table.as_bytes(), name.as_bytes(), ty.as_bytes()] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(&attempt.to_le_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&h.finalize().as_bytes()[..8]);
        let tag = u64::from_le_bytes(first);
        if !taken(tag) {
            return tag;
        }
        attempt += 1;
    }
}

fn check_default(name: &str, ty: &Type, nullable: bool, default: &Option<Value>) -> Result<()> {
    match default {
        None => Ok(()),
        Some(Value::Null) if nullable => Err(Error::Invalid(format!(
            "column '{name}': a NULL default is written as no default"
        ))),
        Some(Value::Null) => Err(Error::Invalid(format!(
            "column '{name}' is NOT NULL but its default is NULL"
        ))),
        Some(v) => v
            .check_type(ty)
            .map_err(|e| Error::Invalid(format!("default for column '{name}' ({ty}): {e}"))),
    }
}

impl Schema {
    /// Builds a schema for table `table` from column definitions and the names of the
    /// primary key columns, in key order (empty for a keyless table).
    ///
    /// Tags are derived from the table name, column name and type, so the same definition
    /// always yields the same schema.
    pub fn new(table: &str, columns: Vec<ColumnDef>, primary_key: &[&str]) -> Result<Schema> {
        let mut s = Schema {
            columns: Vec::with_capacity(columns.len()),
            primary_key: Vec::new(),
            next_slot: 0,
            dropped: Vec::new(),
        };
        if columns.is_empty() {
            return Err(Error::Invalid(format!(
                "table '{table}' must have at least one column"
            )));
        }
        for def in columns {
            s.push_column(table, def, false)?;
        }
        s.set_primary_key(primary_key)?;
        Ok(s)
    }

    /// Builds a schema from its parts (columns with their tags and slots, primary key tags,
    /// next free slot, dropped columns), checking every invariant; merges use it to combine
    /// two versions of a table's schema column by column.
    pub fn from_parts(
        columns: Vec<Column>,
        primary_key: Vec<u64>,
        next_slot: u32,
        dropped: Vec<DroppedColumn>,
    ) -> Result<Schema> {
        let s = Schema {
            columns,
            primary_key,
            next_slot,
            dropped,
        };
        s.validate()?;
        Ok(s)
    }

    /// Checks every invariant listed on [`Schema`].
    pub fn validate(&self) -> Result<()> {
        if self.columns.is_empty() {
            return Err(Error::Invalid(
                "a schema must have at least one column".into(),
            ));
        }
        let mut names: Vec<String> = Vec::with_capacity(self.columns.len());
        let mut tags: Vec<u64> = self.dropped.iter().map(|d| d.tag).collect();
        let mut slots: Vec<u32> = self.dropped.iter().map(|d| d.slot).collect();
        for d in &self.dropped {
            d.ty.validate()?;
        }
        for c in &self.columns {
            if c.name.is_empty() {
                return Err(Error::Invalid("column names must not be empty".into()));
            }
            c.ty.validate()
                .map_err(|e| Error::Invalid(format!("column '{}': {e}", c.name)))?;
            check_default(&c.name, &c.ty, c.nullable, &c.default)?;
            names.push(c.name.to_ascii_lowercase());
            tags.push(c.tag);
            slots.push(c.slot);
        }
        names.sort();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::Invalid(format!("duplicate column name '{}'", w[0])));
        }
        tags.sort_unstable();
        if tags.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::Invalid("two columns share a tag".into()));
        }
        slots.sort_unstable();
        if slots.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::Invalid("two columns share a slot".into()));
        }
        if self.next_slot > MAX_SLOTS {
            return Err(Error::Invalid(format!(
                "next_slot {} exceeds the limit of {MAX_SLOTS}",
                self.next_slot
            )));
        }
        if slots.last().is_some_and(|&s| s >= self.next_slot) {
            return Err(Error::Invalid(
                "a column's slot is not below next_slot".into(),
            ));
        }
        for (i, tag) in self.primary_key.iter().enumerate() {
            let c = self.columns.iter().find(|c| c.tag == *tag).ok_or_else(|| {
                Error::Invalid(format!("primary key names unknown tag {tag:016x}"))
            })?;
            if self.primary_key[..i].contains(tag) {
                return Err(Error::Invalid(format!(
                    "primary key lists column '{}' twice",
                    c.name
                )));
            }
            if c.nullable {
                return Err(Error::Invalid(format!(
                    "primary key column '{}' must be NOT NULL",
                    c.name
                )));
            }
        }
        Ok(())
    }

    fn push_column(&mut self, table: &str, def: ColumnDef, adding: bool) -> Result<()> {
        let ColumnDef {
            name,
            ty,
            nullable,
            default,
        } = def;
        if name.is_empty() {
            return Err(Error::Invalid("column names must not be empty".into()));
        }
        if self.column(&name).is_some() {
            return Err(Error::Invalid(format!("duplicate column name '{name}'")));
        }
        ty.validate()
            .map_err(|e| Error::Invalid(format!("column '{name}': {e}")))?;
        let default = match default {
            Some(Value::Null) if nullable => None,
            d => d,
        };
        check_default(&name, &ty, nullable, &default)?;
        if adding && !nullable && default.is_none() {
            return Err(Error::Invalid(format!(
                "adding NOT NULL column '{name}' needs a default for the existing rows"
            )));
        }
        let slot = self.next_slot;
        if slot >= MAX_SLOTS {
            return Err(Error::Invalid(format!(
                "the table has used all {MAX_SLOTS} column slots its history allows"
            )));
        }
        self.next_slot = slot + 1;
        let tag = derive_tag(table, &name, &ty, |t| {
            self.columns.iter().any(|c| c.tag == t) || self.dropped.iter().any(|d| d.tag == t)
        });
        self.columns.push(Column {
            name,
            ty,
            nullable,
            default,
            tag,
            slot,
        });
        Ok(())
    }

    /// The columns, in table order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// Position and definition of the column called `name` (ASCII case-insensitive).
    pub fn column(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(name))
    }

    /// Position of the column with tag `tag`.
    pub fn column_by_tag(&self, tag: u64) -> Option<(usize, &Column)> {
        self.columns.iter().enumerate().find(|(_, c)| c.tag == tag)
    }

    /// Tags of the primary key columns, in key order; empty for a keyless table.
    pub fn primary_key_tags(&self) -> &[u64] {
        &self.primary_key
    }

    /// Positions (in [`Schema::columns`]) of the primary key columns, in key order.
    pub fn primary_key(&self) -> Vec<usize> {
        self.primary_key
            .iter()
            .filter_map(|t| self.column_by_tag(*t).map(|(i, _)| i))
            .collect()
    }

    /// Whether rows are keyed by content hash rather than by a primary key.
    pub fn is_keyless(&self) -> bool {
        self.primary_key.is_empty()
    }

    /// The slot the next added column will get; every slot ever used is below it.
    pub fn next_slot(&self) -> u32 {
        self.next_slot
    }

    /// Columns dropped from this table over its history.
    pub fn dropped(&self) -> &[DroppedColumn] {
        &self.dropped
    }

    /// Appends a column (new tag, new slot). Existing rows read it as its default, or NULL;
    /// a NOT NULL column therefore needs a default.
    pub fn add_column(&mut self, table: &str, def: ColumnDef) -> Result<()> {
        self.push_column(table, def, true)
    }

    /// Removes a column; its slot and tag are retired, so existing rows need no rewrite.
    /// Primary key columns cannot be dropped (change the key first), nor the last column.
    pub fn drop_column(&mut self, name: &str) -> Result<Column> {
        let (i, c) = self
            .column(name)
            .ok_or_else(|| Error::Invalid(format!("no column named '{name}'")))?;
        if self.primary_key.contains(&c.tag) {
            return Err(Error::Invalid(format!(
                "cannot drop primary key column '{}'; change the primary key first",
                c.name
            )));
        }
        if self.columns.len() == 1 {
            return Err(Error::Invalid(format!(
                "cannot drop '{}', the table's only column",
                c.name
            )));
        }
        let c = self.columns.remove(i);
        self.dropped.push(DroppedColumn {
            tag: c.tag,
            slot: c.slot,
            ty: c.ty,
        });
        Ok(c)
    }

    /// Renames a column; its tag and slot stay, so rows are untouched.
    pub fn rename_column(&mut self, old: &str, new: &str) -> Result<()> {
        if new.is_empty() {
            return Err(Error::Invalid("column names must not be empty".into()));
        }
        let (i, _) = self
            .column(old)
            .ok_or_else(|| Error::Invalid(format!("no column named '{old}'")))?;
        if let Some((j, _)) = self.column(new)
            && j != i
        {
            return Err(Error::Invalid(format!("duplicate column name '{new}'")));
        }
        self.columns[i].name = new.to_string();
        Ok(())
    }

    /// Changes a column's type, keeping its tag and slot; its default is converted exactly.
    ///
    /// Rows hold values of the old type in that slot, so the caller must re-encode every row
    /// (converting each value with [`crate::schema::convert_value`]).
    pub fn set_type(&mut self, name: &str, ty: Type) -> Result<()> {
        ty.validate()?;
        let (i, c) = self
            .column(name)
            .ok_or_else(|| Error::Invalid(format!("no column named '{name}'")))?;
        if !super::convert::convertible(&c.ty, &ty) {
            return Err(Error::Invalid(format!(
                "column '{}' cannot change from {} to {ty}",
                c.name, c.ty
            )));
        }
        let default = match &c.default {
            None => None,
            Some(d) => Some(
                super::convert::convert_value(d, &ty)
                    .map_err(|e| Error::Invalid(format!("default of column '{}': {e}", c.name)))?,
            ),
        };
        let col = &mut self.columns[i];
        col.ty = ty;
        col.default = default;
        Ok(())
    }

    /// Sets or removes a column's default (read by rows written before the column existed).
    pub fn set_default(&mut self, name: &str, default: Option<Value>) -> Result<()> {
        let (i, c) = self
            .column(name)
            .ok_or_else(|| Error::Invalid(format!("no column named '{name}'")))?;
        check_default(&c.name, &c.ty, c.nullable, &default)?;
        self.columns[i].default = default;
        Ok(())
    }

    /// Sets whether a column may hold NULL. Key columns stay NOT NULL; making a column NOT
    /// NULL does not check existing rows (the caller must).
    pub fn set_nullable(&mut self, name: &str, nullable: bool) -> Result<()> {
        let (i, c) = self
            .column(name)
            .ok_or_else(|| Error::Invalid(format!("no column named '{name}'")))?;
        if nullable && self.primary_key.contains(&c.tag) {
            return Err(Error::Invalid(format!(
                "primary key column '{}' must stay NOT NULL",
                c.name
            )));
        }
        self.columns[i].nullable = nullable;
        Ok(())
    }

    /// Replaces the primary key (empty = keyless). Rows are keyed differently afterwards, so
    /// the table's rows must be re-encoded with the new schema.
    pub fn set_primary_key(&mut self, names: &[&str]) -> Result<()> {
        let mut tags = Vec::with_capacity(names.len());
        for n in names {
            let (_, c) = self
                .column(n)
                .ok_or_else(|| Error::Invalid(format!("primary key names unknown column '{n}'")))?;
            if tags.contains(&c.tag) {
                return Err(Error::Invalid(format!(
                    "primary key lists column '{}' twice",
                    c.name
                )));
            }
            if c.nullable {
                return Err(Error::Invalid(format!(
                    "primary key column '{}' must be NOT NULL",
                    c.name
                )));
            }
            tags.push(c.tag);
        }
        self.primary_key = tags;
        Ok(())
    }

    /// `CREATE TABLE` DDL for this schema under the name `table`.
    pub fn to_ddl(&self, table: &str) -> String {
        let mut out = format!("CREATE TABLE {} (\n", quote_ident(table));
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut l = format!("  {} {}", quote_ident(&c.name), c.ty);
                if !c.nullable {
                    l.push_str(" NOT NULL");
                }
                if let Some(d) = &c.default {
                    l.push_str(" DEFAULT ");
                    l.push_str(&sql_literal(d));
                }
                l
            })
            .collect();
        if !self.primary_key.is_empty() {
            let key: Vec<String> = self
                .primary_key()
                .into_iter()
                .map(|i| quote_ident(&self.columns[i].name))
                .collect();
            lines.push(format!("  PRIMARY KEY ({})", key.join(", ")));
        }
        out.push_str(&lines.join(",\n"));
        out.push_str("\n);\n");
        out
    }
}

const SQL_KEYWORDS: &[&str] = &[
    "all",
    "and",
    "as",
    "asc",
    "by",
    "check",
    "column",
    "constraint",
    "create",
    "default",
    "delete",
    "desc",
    "distinct",
    "drop",
    "false",
    "from",
    "group",
    "having",
    "in",
    "index",
    "insert",
    "into",
    "is",
    "join",
    "key",
    "like",
    "limit",
    "not",
    "null",
    "on",
    "or",
    "order",
    "primary",
    "references",
    "select",
    "set",
    "table",
    "true",
    "union",
    "unique",
    "update",
    "user",
    "values",
    "where",
    "with",
];

/// An identifier, double-quoted unless it is a plain lowercase non-keyword name.
fn quote_ident(s: &str) -> String {
    let plain = s
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == b'_')
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        && !SQL_KEYWORDS.contains(&s);
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// A default value as a SQL literal: bare numbers and booleans, everything else quoted.
fn sql_literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Int(_) | Value::Decimal(_) => v.render(),
        Value::Float(f) if f.is_finite() => v.render(),
        _ => format!("'{}'", v.render().replace('\'', "''")),
    }
}

impl Object for Schema {
    const KIND: Kind = Kind::Schema;
    type Id = SchemaId;

    fn encode_payload(&self, out: &mut Vec<u8>) {
        postcard_encode(self, out)
    }

    fn decode_payload(payload: &[u8], _version: u8) -> Result<Self, DecodeError> {
        let s: Schema = postcard_decode(Kind::Schema, payload)?;
        let malformed = |reason: String| DecodeError::Malformed {
            kind: Kind::Schema,
            reason,
        };
        s.validate().map_err(|e| malformed(e.to_string()))?;
        // Postcard accepts a few non-minimal spellings (e.g. over-long varints); only the
        // canonical one may name this schema.
        let mut again = Vec::with_capacity(payload.len());
        s.encode_payload(&mut again);
        if again != payload {
            return Err(malformed("payload is not in canonical form".into()));
        }
        Ok(s)
    }
}
