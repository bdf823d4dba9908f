//! Schema diffs: columns matched by their stable tag, so a rename is a rename (not a drop and
//! an add) and a rename plus a type change in one step is seen as both.

use serde_json::{Value as Json, json};

use crate::schema::{Column, Schema, Value};

/// How one column differs between two schemas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnChange {
    /// A column (tag) only the new schema has.
    Added(Column),
    /// A column (tag) only the old schema has.
    Dropped(Column),
    /// A column in both whose name, type, nullability or default differs.
    Changed {
        /// The column in the old schema.
        old: Column,
        /// The column in the new schema.
        new: Column,
    },
}

impl ColumnChange {
    /// The column's tag.
    pub fn tag(&self) -> u64 {
        match self {
            ColumnChange::Added(c) | ColumnChange::Dropped(c) => c.tag,
            ColumnChange::Changed { new, .. } => new.tag,
        }
    }

    /// Readable lines, one per aspect that changed: `column added: note TEXT DEFAULT ''`,
    /// `column renamed: qty -> quantity`, `column retyped: quantity INT -> FLOAT`, …
    pub fn describe(&self) -> Vec<String> {
        match self {
            ColumnChange::Added(c) => vec![format!("column added: {}", column_text(c))],
            ColumnChange::Dropped(c) => vec![format!("column dropped: {}", column_text(c))],
            ColumnChange::Changed { old, new } => {
                let mut out = Vec::new();
                if old.name != new.name {
                    out.push(format!("column renamed: {} -> {}", old.name, new.name));
                }
                if old.ty != new.ty {
                    out.push(format!(
                        "column retyped: {} {} -> {}",
                        new.name, old.ty, new.ty
                    ));
                }
                if old.nullable != new.nullable {
                    out.push(format!(
                        "column nullability: {} {} -> {}",
                        new.name,
                        null_text(old.nullable),
                        null_text(new.nullable)
                    ));
                }
                if old.default != new.default {
                    out.push(format!(
                        "column default: {} {} -> {}",
                        new.name,
                        default_text(&old.default),
                        default_text(&new.default)
                    ));
                }
                out
            }
        }
    }

    /// The change as JSON (see `docs/diff.md`).
    pub fn to_json(&self) -> Json {
        match self {
            ColumnChange::Added(c) => json!({"change": "added", "column": column_json(c)}),
            ColumnChange::Dropped(c) => json!({"change": "dropped", "column": column_json(c)}),
            ColumnChange::Changed { old, new } => json!({
                "change": "modified",
                "from": column_json(old),
                "to": column_json(new),
                "renamed": old.name != new.name,
                "retyped": old.ty != new.ty,
                "nullability_changed": old.nullable != new.nullable,
                "default_changed": old.default != new.default,
            }),
        }
    }
}

fn null_text(nullable: bool) -> &'static str {
    if nullable { "NULL" } else { "NOT NULL" }
}

fn default_text(d: &Option<Value>) -> String {
    match d {
        None => "(none)".into(),
        Some(v) => literal(v),
    }
}

/// A value as a SQL literal (strings quoted with `'`, bytes as `X'…'`).
pub fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Int(_) | Value::Decimal(_) => v.render(),
        Value::Float(f) if f.is_finite() => {
            let s = v.render();
            // A bare float literal must not read back as an integer.
            if s.contains(['.', 'e', 'E']) {
                s
            } else {
                format!("{s}.0")
            }
        }
        Value::Float(f) if f.is_infinite() => if *f > 0.0 { "9e999" } else { "-9e999" }.into(),
        // SQL has no NaN; NULL is the closest a plain SQL database can hold.
        Value::Float(_) => "NULL".into(),
        Value::Bytes(b) => format!("X'{}'", crate::id::hex_encode(b)),
        _ => format!("'{}'", v.render().replace('\'', "''")),
    }
}

/// An identifier, always double-quoted.
pub fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// `name TYPE [NOT NULL] [DEFAULT x]`.
pub fn column_text(c: &Column) -> String {
    let mut s = format!("{} {}", c.name, c.ty);
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(" DEFAULT ");
        s.push_str(&literal(d));
    }
    s
}

/// `"name" TYPE [NOT NULL] [DEFAULT x]` for DDL.
pub fn column_ddl(c: &Column) -> String {
    let mut s = format!("{} {}", ident(&c.name), c.ty);
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(" DEFAULT ");
        s.push_str(&literal(d));
    }
    s
}

/// A column as JSON: name, type, nullability, default (as text) and tag.
pub fn column_json(c: &Column) -> Json {
    json!({
        "name": c.name,
        "type": c.ty.to_string(),
        "nullable": c.nullable,
        "default": c.default.as_ref().map(Value::render),
        "tag": c.tag.to_string(),
    })
}

/// How two schemas differ.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchemaDiff {
    /// Column changes: the new schema's columns in order, then dropped columns.
    pub columns: Vec<ColumnChange>,
    /// The primary key column names before and after, when the key (by tags) changed.
    pub primary_key: Option<(Vec<String>, Vec<String>)>,
}

impl SchemaDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty() && self.primary_key.is_none()
    }

    /// Readable lines for every change.
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self.columns.iter().flat_map(|c| c.describe()).collect();
        if let Some((a, b)) = &self.primary_key {
            out.push(format!(
                "primary key: ({}) -> ({})",
                a.join(", "),
                b.join(", ")
            ));
        }
        out
    }

    /// `ALTER TABLE` statements turning the old schema into the new one, for table `table`
    /// (its new name). Renames come first, then added and dropped columns, then type,
    /// nullability and default changes and the primary key (standard SQL `ALTER COLUMN`,
    /// which SQLite does not support).
    pub fn to_sql(&self, table: &str) -> Vec<String> {
        let t = ident(table);
        let mut out = Vec::new();
        for c in &self.columns {
            if let ColumnChange::Changed { old, new } = c
                && old.name != new.name
            {
                out.push(format!(
                    "ALTER TABLE {t} RENAME COLUMN {} TO {};",
                    ident(&old.name),
                    ident(&new.name)
                ));
            }
        }
        for c in &self.columns {
            match c {
                ColumnChange::Added(c) => {
                    out.push(format!("ALTER TABLE {t} ADD COLUMN {};", column_ddl(c)));
                }
                ColumnChange::Dropped(c) => {
                    out.push(format!("ALTER TABLE {t} DROP COLUMN {};", ident(&c.name)));
                }
                ColumnChange::Changed { .. } => {}
            }
        }
        for c in &self.columns {
            let ColumnChange::Changed { old, new } = c else {
                continue;
            };
            let col = ident(&new.name);
            if old.ty != new.ty {
                out.push(format!(
                    "ALTER TABLE {t} ALTER COLUMN {col} SET DATA TYPE {};",
                    new.ty
                ));
            }
            if old.nullable != new.nullable {
                let what = if new.nullable {
                    "DROP NOT NULL"
                } else {
                    "SET NOT NULL"
                };
                out.push(format!("ALTER TABLE {t} ALTER COLUMN {col} {what};"));
            }
            if old.default != new.default {
                match &new.default {
                    Some(d) => out.push(format!(
                        "ALTER TABLE {t} ALTER COLUMN {col} SET DEFAULT {};",
                        literal(d)
                    )),
                    None => out.push(format!("ALTER TABLE {t} ALTER COLUMN {col} DROP DEFAULT;")),
                }
            }
        }
        if let Some((old, new)) = &self.primary_key {
            if !old.is_empty() {
                out.push(format!("ALTER TABLE {t} DROP PRIMARY KEY;"));
            }
            if !new.is_empty() {
                let cols: Vec<String> = new.iter().map(|c| ident(c)).collect();
                out.push(format!(
                    "ALTER TABLE {t} ADD PRIMARY KEY ({});",
                    cols.join(", ")
                ));
            }
        }
        out
    }

    /// The changes as JSON (see `docs/diff.md`).
    pub fn to_json(&self) -> Json {
        json!({
            "columns": self.columns.iter().map(ColumnChange::to_json).collect::<Vec<_>>(),
            "primary_key": self.primary_key.as_ref().map(|(a, b)| json!({"from": a, "to": b})),
        })
    }
}

fn key_names(s: &Schema) -> Vec<String> {
    s.primary_key()
        .into_iter()
        .map(|i| s.columns()[i].name.clone())
        .collect()
}

/// The changes from `old` to `new`, matching columns by tag.
pub fn diff_schemas(old: &Schema, new: &Schema) -> SchemaDiff {
    let mut columns = Vec::new();
    for c in new.columns() {
        match old.column_by_tag(c.tag) {
            None => columns.push(ColumnChange::Added(c.clone())),
            Some((_, o)) => {
                if o.name != c.name
                    || o.ty != c.ty
                    || o.nullable != c.nullable
                    || o.default != c.default
                {
                    columns.push(ColumnChange::Changed {
                        old: o.clone(),
                        new: c.clone(),
                    });
                }
            }
        }
    }
    for c in old.columns() {
        if new.column_by_tag(c.tag).is_none() {
            columns.push(ColumnChange::Dropped(c.clone()));
        }
    }
    let primary_key = (old.primary_key_tags() != new.primary_key_tags())
        .then(|| (key_names(old), key_names(new)));
    SchemaDiff {
        columns,
        primary_key,
    }
}

/// `CREATE TABLE` for `schema` under `table`, identifiers double-quoted.
pub fn create_table_sql(table: &str, schema: &Schema) -> String {
    let mut lines: Vec<String> = schema
        .columns()
        .iter()
        .map(|c| format!("  {}", column_ddl(c)))
        .collect();
    let key = key_names(schema);
    if !key.is_empty() {
        let cols: Vec<String> = key.iter().map(|c| ident(c)).collect();
        lines.push(format!("  PRIMARY KEY ({})", cols.join(", ")));
    }
    format!("CREATE TABLE {} (\n{}\n);", ident(table), lines.join(",\n"))
}
