//! Helpers for the history tests: a repository whose working state is edited through the
//! library (tables exist as objects only until the table engine lands).

use kodiak::history::WorkState;
use kodiak::id::TableId;
use kodiak::object::Table;
use kodiak::schema::{ColumnDef, RowCodec, Schema, Type, Value};
use kodiak::store::Store;
use kodiak::table::NodeStore;

use crate::common::TestEnv;

/// A TestEnv with `kodiak init demo` done; commands run with `-C demo`.
pub struct Demo {
    /// The environment.
    pub env: TestEnv,
}

impl Demo {
    /// A fresh repository.
    pub fn new() -> Self {
        let env = TestEnv::new();
        env.init_demo();
        Demo { env }
    }

    fn args<'a>(&self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["-C", "demo"];
        v.extend_from_slice(args);
        v
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.env.ok(&self.args(args))
    }

    /// Runs a command that must fail with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        self.env.fails(&self.args(args), code)
    }

    /// Sets tables in the working state: `Some(content)` writes a table `(id INT primary key,
    /// v TEXT)` with one row per character of `content` (row i holds its i-th character),
    /// `None` deletes the table.
    pub fn set_tables(&self, tables: &[(&str, Option<&str>)]) {
        let repo = self.env.open_repo(&self.env.path("demo"));
        let store = repo.store();
        let st = WorkState::load(&repo).unwrap();
        let mut root = st.working(store).unwrap();
        for (name, content) in tables {
            match content {
                Some(c) => {
                    let t = write_table(store, name, c);
                    root.tables.insert(name.to_string(), t);
                }
                None => {
                    root.tables.remove(*name);
                }
            }
        }
        st.set_working(&repo, &root, "test: set tables").unwrap();
        repo.close().unwrap();
    }

    /// Sets tables and commits everything with `message`; returns the commit's short id.
    pub fn commit_tables(&self, tables: &[(&str, Option<&str>)], message: &str) -> String {
        self.set_tables(tables);
        let out = self.ok(&["commit", "-a", "-m", message]);
        short_id(&out)
    }

    /// The full id a revision resolves to, through `log -n 1 --format json`.
    pub fn rev(&self, rev: &str) -> String {
        let out = self.ok(&["log", rev, "-n", "1", "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v[0]["id"].as_str().unwrap().to_string()
    }

    /// Status as JSON.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--format", "json"])).unwrap()
    }
}

/// The id in a `[branch id] subject` line.
pub fn short_id(commit_output: &str) -> String {
    let first = commit_output.lines().next().unwrap();
    let inside = first.trim_start_matches('[').split(']').next().unwrap();
    inside.split_whitespace().last().unwrap().to_string()
}

/// Stores a table `name (id INT primary key, v TEXT)` with row i = (i, i-th char of content).
pub fn write_table(store: &Store, name: &str, content: &str) -> TableId {
    let schema = Schema::new(
        name,
        vec![
            ColumnDef::new("id", Type::Int).not_null(),
            ColumnDef::new("v", Type::Text),
        ],
        &["id"],
    )
    .unwrap();
    let codec = RowCodec::new(&schema);
    let schema_id = store.put(&schema).unwrap();
    let rows: Vec<(Vec<u8>, Vec<u8>)> = content
        .chars()
        .enumerate()
        .map(|(i, ch)| {
            codec
                .encode_row(&[Value::Int(i as i64), Value::Text(ch.to_string())])
                .unwrap()
        })
        .collect();
    let n = rows.len() as u64;
    let tree = NodeStore::new(store.clone()).build(rows).unwrap();
    store
        .put(&Table {
            schema: schema_id,
            rows: tree,
            row_count: n,
        })
        .unwrap()
}
