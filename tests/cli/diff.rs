//! `kodiak diff`: what is compared, every output format (snapshots), schema cases, filters,
//! errors, and the SQL output applied to an SQLite copy.

use std::path::PathBuf;

use crate::common::TestEnv;

struct Repo {
    env: TestEnv,
    dir: PathBuf,
}

impl Repo {
    fn new() -> Self {
        let env = TestEnv::new();
        let dir = env.init_demo();
        Repo { env, dir }
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["-C", "demo"];
        v.extend_from_slice(args);
        v
    }

    fn ok(&self, args: &[&str]) -> String {
        self.env.ok(&self.args(args))
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        self.env.fails(&self.args(args), code)
    }

    fn file(&self, name: &str, content: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("writing {name}: {e}"));
        p.to_string_lossy().into_owned()
    }

    fn import(&self, table: &str, csv: &str, extra: &[&str]) {
        let f = self.file(&format!("{table}.csv"), csv);
        let mut args = vec!["table", "import", table, f.as_str()];
        args.extend_from_slice(extra);
        self.ok(&args);
    }
}

const LONG_OLD: &str = "The quick brown fox jumps over the lazy dog near the river bank";
const LONG_NEW: &str = "The quick red fox jumps over the sleepy dog near the river bank";

/// A repository with a base commit `v1` and a working state that changes rows, columns and
/// tables in every way the diff shows.
fn scenario() -> Repo {
    let r = Repo::new();
    r.import(
        "orders",
        "id,name,qty,note\n1,Ann,3,short\n2,Bob,5,\n3,Cy,7,x\n",
        &["--pk", "id"],
    );
    r.import(
        "docs",
        &format!("id,body\n1,\"{LONG_OLD}\"\n2,plain\n"),
        &["--pk", "id"],
    );
    r.import("bag", "a,b\nx,1\nx,1\ny,2\n", &[]);
    r.import("old_stuff", "k\n1\n", &[]);
    r.ok(&["commit", "-a", "-m", "base"]);
    r.ok(&["tag", "v1"]);
    r.ok(&["row", "put", "orders", "id=2", "qty=6", "name=Bobby"]);
    r.ok(&["row", "put", "orders", "id=4", "name=Dora, Jr.", "qty=1"]);
    r.ok(&["row", "delete", "orders", "--key", "3"]);
    r.ok(&["schema", "alter", "orders", "--rename-column", "name:who"]);
    r.ok(&[
        "schema",
        "alter",
        "orders",
        "--add-column",
        "region:TEXT",
        "--default",
        "EU",
    ]);
    r.ok(&["schema", "alter", "orders", "--drop-column", "note"]);
    r.ok(&["row", "put", "docs", "id=1", &format!("body={LONG_NEW}")]);
    r.ok(&["table", "mv", "bag", "sack"]);
    r.import("sack", "a,b\nx,1\ny,2\nz,3\n", &["--replace"]);
    r.ok(&["table", "rm", "old_stuff"]);
    r.import("fresh", "id,v\n1,\"it's\"\n", &["--pk", "id"]);
    r
}

#[test]
fn every_format_snapshot() {
    let r = scenario();
    insta::assert_snapshot!("table", r.ok(&["diff", "v1"]));
    insta::assert_snapshot!(
        "table_color",
        r.ok(&["diff", "v1", "--color", "always", "--", "orders", "docs"])
    );
    insta::assert_snapshot!("json", r.ok(&["diff", "v1", "--format", "json"]));
    insta::assert_snapshot!("csv", r.ok(&["diff", "v1", "--format", "csv"]));
    insta::assert_snapshot!("sql", r.ok(&["diff", "v1", "--format", "sql"]));
    insta::assert_snapshot!("stat", r.ok(&["diff", "v1", "--stat"]));
    insta::assert_snapshot!(
        "stat_json",
        r.ok(&["diff", "v1", "--stat", "--format", "json"])
    );
    insta::assert_snapshot!("summary", r.ok(&["diff", "v1", "--summary"]));
    insta::assert_snapshot!("name_only", r.ok(&["diff", "v1", "--name-only"]));

    // Every JSON output parses, and its stats agree with --stat.
    let full: serde_json::Value =
        serde_json::from_str(&r.ok(&["diff", "v1", "--format", "json"])).unwrap();
    let stat: serde_json::Value =
        serde_json::from_str(&r.ok(&["diff", "v1", "--stat", "--format", "json"])).unwrap();
    for (a, b) in full["tables"]
        .as_array()
        .unwrap()
        .iter()
        .zip(stat["tables"].as_array().unwrap())
    {
        assert_eq!(a["table"], b["table"]);
        if a["change"] != "added" && a["change"] != "dropped" {
            assert_eq!(a["stats"], b["stats"], "{}", a["table"]);
        }
    }
}

#[test]
fn color_only_when_asked_or_on_a_terminal() {
    let mut r = scenario();
    let plain = r.ok(&["diff", "v1", "--", "orders"]);
    assert!(!plain.contains('\x1b'), "{plain}");
    assert!(
        r.ok(&["diff", "v1", "--color", "always"])
            .contains("\x1b[32m")
    );
    assert!(!r.ok(&["diff", "v1", "--color", "never"]).contains('\x1b'));
    // Without NO_COLOR, `auto` still prints plain text on a pipe.
    r.env.set_env("NO_COLOR", "");
    assert_eq!(r.ok(&["diff", "v1", "--", "orders"]), plain);
    // Other formats never color.
    assert!(
        !r.ok(&["diff", "v1", "--color", "always", "--format", "csv"])
            .contains('\x1b')
    );
}

#[test]
fn what_is_compared() {
    let r = Repo::new();
    r.import("t", "id,v\n1,a\n2,b\n", &["--pk", "id"]);
    r.ok(&["commit", "-a", "-m", "one"]);
    r.ok(&["branch", "side"]);
    r.ok(&["row", "put", "t", "id=3", "v=c"]);
    r.ok(&["commit", "-a", "-m", "two"]);
    r.ok(&["switch", "side"]);
    r.ok(&["row", "put", "t", "id=1", "v=side"]);
    r.ok(&["commit", "-a", "-m", "side change"]);
    r.ok(&["switch", "main"]);

    let keys = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["diff", "--format", "csv"];
        a.extend_from_slice(args);
        r.ok(&a)
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                format!("{} {}", f[2], f[3])
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    // Clean: nothing anywhere.
    assert_eq!(r.ok(&["diff"]), "");
    assert_eq!(r.ok(&["diff", "--staged"]), "");
    assert_eq!(r.ok(&["diff", "HEAD", "HEAD"]), "");

    // Working vs staged, staged vs HEAD, REV vs working.
    r.ok(&["row", "put", "t", "id=4", "v=d"]);
    assert_eq!(keys(&[]), vec!["added id=4"]);
    assert!(keys(&["--staged"]).is_empty());
    r.ok(&["add", "t"]);
    assert!(keys(&[]).is_empty());
    assert_eq!(keys(&["--cached"]), vec!["added id=4"]);
    r.ok(&["row", "delete", "t", "--key", "2"]);
    assert_eq!(keys(&["HEAD"]), vec!["added id=4", "deleted id=2"]);
    assert_eq!(
        keys(&["--staged", "HEAD~1"]),
        vec!["added id=3", "added id=4"]
    );

    // Two revisions, A..B, A...B (from the merge base), REV:TABLE.
    assert_eq!(keys(&["HEAD~1", "HEAD"]), vec!["added id=3"]);
    assert_eq!(keys(&["HEAD~1..HEAD"]), vec!["added id=3"]);
    assert_eq!(
        keys(&["main", "side"]),
        vec!["deleted id=3", "modified id=1"]
    );
    assert_eq!(keys(&["main...side"]), vec!["modified id=1"]);
    assert_eq!(keys(&["side...main"]), vec!["added id=3"]);
    assert_eq!(keys(&["HEAD~1..side"]), vec!["modified id=1"]);
    assert_eq!(keys(&["HEAD~1:t", "HEAD:t"]), vec!["added id=3"]);
    // `A..` means A..HEAD.
    assert_eq!(keys(&["HEAD~1.."]), vec!["added id=3"]);

    // Errors name what is wrong.
    let err = r.fails(&["diff", "nope"], 1);
    assert!(err.contains("unknown revision 'nope'"), "{err}");
    let err = r.fails(&["diff", "HEAD", "--", "missing"], 1);
    assert!(err.contains("table 'missing' does not exist"), "{err}");
    let err = r.fails(&["diff", "HEAD", "HEAD", "--", "missing"], 1);
    assert!(err.contains("table 'missing' does not exist"), "{err}");
    let err = r.fails(&["diff", "a", "b", "c"], 2);
    assert!(err.contains("error:"), "{err}");
    let err = r.fails(&["diff", "--format", "xml"], 2);
    assert!(err.contains("unknown output format 'xml'"), "{err}");
    let err = r.fails(&["diff", "--stat", "--format", "sql"], 2);
    assert!(err.contains("--stat"), "{err}");
    let err = r.fails(&["diff", "--staged", "HEAD", "HEAD~1"], 2);
    assert!(err.contains("--staged"), "{err}");
    let err = r.fails(&["diff", "HEAD", "--where", "nope=1"], 1);
    assert!(err.contains("no column named 'nope'"), "{err}");
    let err = r.fails(&["diff", "HEAD", "--where", "id"], 1);
    assert!(err.contains("expected COLUMN=VALUE"), "{err}");
}

#[test]
fn where_limit_and_table_selection() {
    let r = Repo::new();
    r.import("t", "id,v,g\n1,a,x\n2,b,y\n3,c,x\n4,d,y\n", &["--pk", "id"]);
    r.import("u", "id\n1\n", &["--pk", "id"]);
    r.ok(&["commit", "-a", "-m", "one"]);
    for (id, v) in [("1", "A"), ("2", "B"), ("3", "C")] {
        r.ok(&["row", "put", "t", &format!("id={id}"), &format!("v={v}")]);
    }
    r.ok(&["row", "put", "t", "id=4", "g=x"]);
    r.ok(&["row", "put", "u", "id=2"]);
    let csv = |args: &[&str]| {
        let mut a = vec!["diff", "HEAD", "--format", "csv"];
        a.extend_from_slice(args);
        r.ok(&a)
    };
    // g=x matches rows 1 and 3 (before and after) and row 4 (after only).
    let out = csv(&["--where", "g=x", "--", "t"]);
    assert_eq!(
        out,
        "table,row,change,key,column,old,new\n\
         t,1,modified,id=1,v,a,A\n\
         t,2,modified,id=3,v,c,C\n\
         t,3,modified,id=4,g,y,x\n"
    );
    let out = csv(&["--where", "g=y", "--where", "v=B", "--", "t"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = csv(&["--limit", "1"]);
    assert_eq!(
        out,
        "table,row,change,key,column,old,new\n\
         t,1,modified,id=1,v,a,A\n\
         u,1,added,id=2,id,,2\n"
    );
    assert_eq!(r.ok(&["diff", "HEAD", "--name-only", "--", "u"]), "u\n");
    // Over several tables, --where keeps the tables that have the column.
    let out = csv(&["--where", "g=y"]);
    assert!(out.lines().skip(1).all(|l| l.starts_with("t,")), "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    let err = r.fails(&["diff", "HEAD", "--where", "zzz=1"], 1);
    assert!(
        err.contains("no changed table has all the columns"),
        "{err}"
    );
}

#[test]
fn rename_plus_type_change_in_one_commit() {
    let r = Repo::new();
    r.import("p", "id,qty,label\n1,3,a\n2,4,b\n", &["--pk", "id"]);
    r.ok(&["commit", "-a", "-m", "one"]);
    r.ok(&["schema", "alter", "p", "--rename-column", "qty:amount"]);
    r.ok(&["schema", "alter", "p", "--set-type", "amount:FLOAT"]);
    r.ok(&["row", "put", "p", "id=2", "amount=4.5"]);
    r.ok(&["commit", "-a", "-m", "rename and retype"]);
    insta::assert_snapshot!("rename_retype", r.ok(&["diff", "HEAD~1", "HEAD"]));
    insta::assert_snapshot!(
        "rename_retype_sql",
        r.ok(&["diff", "HEAD~1", "HEAD", "--format", "sql"])
    );
    let v: serde_json::Value =
        serde_json::from_str(&r.ok(&["diff", "HEAD~1", "HEAD", "--format", "json"])).unwrap();
    let col = &v["tables"][0]["schema"]["columns"][0];
    assert_eq!(col["renamed"], true);
    assert_eq!(col["retyped"], true);
    assert_eq!(col["from"]["name"], "qty");
    assert_eq!(col["to"]["type"], "FLOAT");
    // Row 1 (3 -> 3.0) is unchanged in value; row 2 changed.
    let rows = v["tables"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["cells"]["amount"]["from"], 4);
    assert_eq!(rows[0]["cells"]["amount"]["to"], 4.5);
}

/// Every table of an SQLite database: its column names and its rows, sorted.
fn sqlite_contents(db: &rusqlite::Connection) -> Vec<(String, Vec<String>, Vec<Vec<String>>)> {
    let mut names: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let mut stmt = db.prepare(&format!("SELECT * FROM \"{name}\"")).unwrap();
            let cols: Vec<String> = stmt.column_names().map(|s| s.to_string()).collect();
            let n = cols.len();
            let mut rows: Vec<Vec<String>> = stmt
                .query_map([], |row| {
                    (0..n)
                        .map(|i| {
                            row.get::<_, rusqlite::types::Value>(i)
                                .map(|v| format!("{v:?}"))
                        })
                        .collect()
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.sort();
            (name, cols, rows)
        })
        .collect()
}

fn sqlite_apply(db: &rusqlite::Connection, sql: &str) {
    db.execute_batch(sql)
        .unwrap_or_else(|e| panic!("applying the diff failed: {e}\n{sql}"));
}

#[test]
fn sql_output_turns_an_sqlite_copy_of_a_into_b() {
    let r = Repo::new();
    r.ok(&["commit", "--allow-empty", "-m", "empty"]);
    r.ok(&["tag", "empty"]);
    r.import(
        "orders",
        "id,name,qty,price,ok,day,note\n\
         1,Ann,3,1.5,true,2024-01-01,\"it's\"\n\
         2,Bob,5,2.25,false,2024-02-29,\n\
         3,Cy,7,,true,2024-03-01,\"a,b\"\n\
         4,Di,9,4.0,,2024-04-01,x\n",
        &["--pk", "id"],
    );
    r.import("bag", "a,b\nx,1\nx,1\ny,2\nz,\n", &[]);
    r.import("gone", "k\n1\n2\n", &["--pk", "k"]);
    r.import("clients", "cid,city\n1,Paris\n2,Rome\n", &["--pk", "cid"]);
    r.ok(&["commit", "-a", "-m", "A"]);
    r.ok(&["tag", "a"]);
    // B: every kind of change SQLite can express.
    r.ok(&["row", "put", "orders", "id=2", "qty=6", "note=now set"]);
    r.ok(&["row", "put", "orders", "id=3", "price=3.5", "name=O'Brien"]);
    r.ok(&["row", "delete", "orders", "--key", "4"]);
    r.ok(&[
        "row", "put", "orders", "id=5", "name=Eve", "qty=0", "ok=false",
    ]);
    r.ok(&["schema", "alter", "orders", "--rename-column", "name:who"]);
    r.ok(&[
        "schema",
        "alter",
        "orders",
        "--add-column",
        "region:TEXT",
        "--default",
        "EU",
    ]);
    r.ok(&["row", "put", "orders", "id=1", "region=US"]);
    r.ok(&["schema", "alter", "orders", "--drop-column", "day"]);
    r.import("bag", "a,b\nx,1\ny,2\ny,2\nw,4\n", &["--replace"]);
    r.ok(&["table", "rm", "gone"]);
    r.ok(&["table", "mv", "clients", "customers"]);
    r.ok(&["row", "put", "customers", "cid=2", "city=Roma"]);
    r.import("fresh", "id,v\n1,new\n", &["--pk", "id"]);
    r.ok(&["commit", "-a", "-m", "B"]);
    r.ok(&["tag", "b"]);

    let a_sql = r.ok(&["diff", "empty", "a", "--format", "sql"]);
    let ab_sql = r.ok(&["diff", "a", "b", "--format", "sql"]);
    let b_sql = r.ok(&["diff", "empty", "b", "--format", "sql"]);
    let a_then_b = rusqlite::Connection::open_in_memory().unwrap();
    sqlite_apply(&a_then_b, &a_sql);
    let a_contents = sqlite_contents(&a_then_b);
    assert_eq!(a_contents.len(), 4, "{a_contents:?}");
    sqlite_apply(&a_then_b, &ab_sql);
    let b_direct = rusqlite::Connection::open_in_memory().unwrap();
    sqlite_apply(&b_direct, &b_sql);
    let got = sqlite_contents(&a_then_b);
    let want = sqlite_contents(&b_direct);
    assert_eq!(
        got, want,
        "A + diff(A, B) differs from B; diff was:\n{ab_sql}"
    );
    assert_ne!(got, a_contents);
    // And back: B + diff(B, A) is A (a table re-created, a rename undone).
    sqlite_apply(&a_then_b, &r.ok(&["diff", "b", "a", "--format", "sql"]));
    let back = sqlite_contents(&a_then_b);
    let a_direct = rusqlite::Connection::open_in_memory().unwrap();
    sqlite_apply(&a_direct, &a_sql);
    // Column order may differ after DROP/ADD COLUMN; compare by sorted column names.
    let norm = |v: Vec<(String, Vec<String>, Vec<Vec<String>>)>| {
        v.into_iter()
            .map(|(n, cols, rows)| {
                let mut idx: Vec<usize> = (0..cols.len()).collect();
                idx.sort_by(|x, y| cols[*x].cmp(&cols[*y]));
                let cols: Vec<String> = idx.iter().map(|&i| cols[i].clone()).collect();
                let mut rows: Vec<Vec<String>> = rows
                    .into_iter()
                    .map(|r| idx.iter().map(|&i| r[i].clone()).collect())
                    .collect();
                rows.sort();
                (n, cols, rows)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(norm(back), norm(sqlite_contents(&a_direct)));
}
