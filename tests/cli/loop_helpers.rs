//! Helpers for the history tests: a repository whose working state is edited through the
//! library (tables exist as objects only until the table engine lands).

use kodiak::history::WorkState;
use kodiak::id::{NodeId, SchemaId};
use kodiak::object::{Blob, Table};

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

    /// Waits until sled's background thread of a library handle closed in this process has
    /// released the database file lock (a CLI process started earlier would fail to open it).
    pub fn wait_for_db(&self) {
        for _ in 0..200 {
            let r = self.env.run(&self.args(&["show-ref", "HEAD"]));
            if !r.stderr.contains("could not acquire lock") {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Runs a command that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.env.ok(&self.args(args))
    }

    /// Runs a command that must fail with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        self.env.fails(&self.args(args), code)
    }

    /// Sets tables in the working state: `Some(content)` writes a table version derived from
    /// `content` (row count = its length), `None` deletes the table.
    pub fn set_tables(&self, tables: &[(&str, Option<&str>)]) {
        let repo = self.env.open_repo(&self.env.path("demo"));
        let store = repo.store();
        let st = WorkState::load(&repo).unwrap();
        let mut root = st.working(store).unwrap();
        let schema = store
            .put(&Blob {
                data: b"schema".to_vec(),
            })
            .unwrap();
        for (name, content) in tables {
            match content {
                Some(c) => {
                    let rows = store
                        .put(&Blob {
                            data: c.as_bytes().to_vec(),
                        })
                        .unwrap();
                    let t = store
                        .put(&Table {
                            schema: SchemaId::new(schema.id()),
                            rows: NodeId::new(rows.id()),
                            row_count: c.len() as u64,
                        })
                        .unwrap();
                    root.tables.insert(name.to_string(), t);
                }
                None => {
                    root.tables.remove(*name);
                }
            }
        }
        st.set_working(&repo, &root, "test: set tables").unwrap();
        repo.close().unwrap();
        self.wait_for_db();
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
