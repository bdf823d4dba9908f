//! merge, conflicts, revert and cherry-pick through the real binary.

use crate::common::TestEnv;

/// A repository in `demo` with a `people (id INT key, name TEXT, age INT)` table committed
/// on `main`.
struct R {
    env: TestEnv,
}

const PEOPLE: &str = "id,name,age\n1,Ann,30\n2,Bob,40\n3,Cy,50\n";

impl R {
    fn new() -> R {
        let mut env = TestEnv::new();
        env.init_demo();
        env.cwd = env.path("demo");
        let r = R { env };
        r.import("people", PEOPLE, &["--pk", "id"]);
        r.ok(&["commit", "-a", "-m", "base"]);
        r
    }

    fn ok(&self, args: &[&str]) -> String {
        self.env.ok(args)
    }

    fn fails(&self, args: &[&str]) -> String {
        self.env.fails(args, 1)
    }

    fn import(&self, table: &str, csv: &str, extra: &[&str]) {
        let p = self.env.path(&format!("{table}.csv"));
        std::fs::write(&p, csv).unwrap();
        let ps = p.to_str().unwrap();
        let mut args = vec!["table", "import", table, ps];
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    fn csv(&self, table: &str) -> String {
        self.ok(&["table", "show", table, "--format", "csv"])
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    fn parents(&self, rev: &str) -> usize {
        let v = self.json(&["log", rev, "-n", "1", "--format", "json"]);
        v[0]["parents"].as_array().map_or(0, Vec::len)
    }

    fn head(&self) -> String {
        let v = self.json(&["log", "-n", "1", "--format", "json"]);
        v[0]["id"].as_str().unwrap().to_string()
    }

    /// Runs `edit` on a new branch `name` and commits, then `ours` on main and commits.
    fn diverge(&self, name: &str, theirs: &[&[&str]], ours: &[&[&str]]) {
        self.ok(&["switch", "-c", name]);
        for c in theirs {
            self.ok(c);
        }
        self.ok(&["commit", "-a", "-m", &format!("{name} side")]);
        self.ok(&["switch", "main"]);
        for c in ours {
            self.ok(c);
        }
        self.ok(&["commit", "-a", "-m", "main side"]);
    }
}

#[test]
fn clean_merges_combine_columns_and_keys() {
    let r = R::new();
    r.diverge(
        "feat",
        &[
            &["row", "put", "people", "id=1", "age=31"],
            &["row", "put", "people", "id=5", "name=Eve", "age=2"],
        ],
        &[
            &["row", "put", "people", "id=1", "name=Anna"],
            &["row", "put", "people", "id=4", "name=Dee", "age=1"],
        ],
    );
    let out = r.ok(&["merge", "feat"]);
    assert!(out.starts_with("[main "), "{out}");
    assert!(out.contains("Merge feat into main"), "{out}");
    assert!(out.contains("people: 2 rows merged"), "{out}");
    assert_eq!(
        r.csv("people"),
        "id,name,age\n1,Anna,31\n2,Bob,40\n3,Cy,50\n4,Dee,1\n5,Eve,2\n"
    );
    assert_eq!(r.parents("HEAD"), 2);
    assert_eq!(r.ok(&["merge", "feat"]), "Already up to date.\n");
    assert_eq!(r.json(&["status", "--format", "json"])["clean"], true);
}

#[test]
fn fast_forward_no_ff_ff_only_and_squash() {
    let r = R::new();
    r.ok(&["switch", "-c", "ahead"]);
    r.ok(&["row", "put", "people", "id=9", "name=Nine"]);
    r.ok(&["commit", "-a", "-m", "ahead"]);
    let ahead = r.head();
    r.ok(&["switch", "main"]);
    let out = r.ok(&["merge", "ahead", "--ff-only"]);
    assert_eq!(out, format!("Fast-forward to {}\n", &ahead[..12]));
    assert_eq!(r.head(), ahead);

    // --no-ff records a merge commit even when a fast-forward is possible.
    r.ok(&["reset", "--hard", "HEAD~1"]);
    r.ok(&["merge", "ahead", "--no-ff", "-m", "bring ahead in"]);
    assert_eq!(r.parents("HEAD"), 2);
    assert!(
        r.ok(&["log", "--oneline", "-n", "1"])
            .contains("bring ahead in")
    );

    // --ff-only refuses diverged histories.
    r.ok(&["reset", "--hard", "HEAD~1"]);
    r.ok(&["row", "put", "people", "id=8", "name=Eight"]);
    r.ok(&["commit", "-a", "-m", "diverge"]);
    let err = r.fails(&["merge", "ahead", "--ff-only"]);
    assert!(err.contains("not possible to fast-forward"), "{err}");

    // --squash stages the merged database; the commit has one parent.
    let out = r.ok(&["merge", "ahead", "--squash"]);
    assert!(out.contains("Squash merge"), "{out}");
    let s = r.json(&["status", "--format", "json"]);
    assert_eq!(s["staged"][0]["table"], "people");
    assert!(s["merge"].is_null());
    r.ok(&["commit", "-m", "squashed"]);
    assert_eq!(r.parents("HEAD"), 1);
    assert!(r.csv("people").contains("9,Nine,"));
}

#[test]
fn conflicts_are_stored_shown_resolved_and_committed() {
    let r = R::new();
    r.diverge(
        "c2",
        &[
            &["row", "put", "people", "id=2", "name=Bobby"],
            &["row", "delete", "people", "--key", "3"],
            &["row", "put", "people", "id=9", "name=Nine"],
            &["row", "put", "people", "id=1", "age=31"],
        ],
        &[
            &["row", "put", "people", "id=2", "name=Robert"],
            &["row", "put", "people", "id=3", "age=51"],
            &["row", "put", "people", "id=9", "name=Nein"],
        ],
    );
    let before = r.head();
    let res = r.env.run(&["merge", "c2"]);
    assert_eq!(res.code, 1, "{}{}", res.stdout, res.stderr);
    assert!(
        res.stdout
            .contains("CONFLICT (rows): 3 conflicting rows in table people"),
        "{}",
        res.stdout
    );
    assert!(
        res.stderr.contains("merge stopped with conflicts"),
        "{}",
        res.stderr
    );
    assert!(res.stderr.contains("hint: "), "{}", res.stderr);
    assert_eq!(r.head(), before);

    // The clean part of the merge is in the working state; conflicting rows hold ours.
    assert_eq!(
        r.csv("people"),
        "id,name,age\n1,Ann,31\n2,Robert,40\n3,Cy,51\n9,Nein,\n"
    );
    assert_eq!(r.ok(&["conflicts"]), "people\t3 conflicting rows\n");
    let status = r.ok(&["status"]);
    assert!(
        status.contains("You are in the middle of a merge"),
        "{status}"
    );
    assert!(
        status.contains("both modified:  people (3 conflicting rows)"),
        "{status}"
    );
    let err = r.fails(&["commit", "-m", "too early"]);
    assert!(err.contains("unresolved merge conflicts (people)"), "{err}");
    // Another merge cannot start meanwhile.
    let err = r.fails(&["merge", "c2"]);
    assert!(err.contains("in progress"), "{err}");

    let text = r.ok(&["conflicts", "show", "people"]);
    assert!(
        text.contains("(2) both modified\n  * name: base Bob | ours Robert | theirs Bobby"),
        "{text}"
    );
    assert!(text.contains("(3) deleted by them"), "{text}");
    assert!(text.contains("(9) both added"), "{text}");
    let j = r.json(&["conflicts", "show", "people", "--format", "json"]);
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["key"][0], "2");
    assert_eq!(rows[0]["base"]["name"], "Bob");
    assert_eq!(rows[0]["ours"]["name"], "Robert");
    assert_eq!(rows[0]["theirs"]["name"], "Bobby");
    assert_eq!(rows[0]["conflicting_columns"][0], "name");
    assert!(rows[1]["theirs"].is_null());
    assert!(rows[2]["base"].is_null());

    // Resolve one row with theirs, one from a file, the rest with ours.
    let out = r.ok(&["conflicts", "resolve", "people", "--theirs", "--key", "2"]);
    assert_eq!(out, "Resolved 1 conflict in people; 2 left\n");
    let err = r.fails(&["conflicts", "resolve", "people", "--theirs", "--key", "77"]);
    assert!(err.contains("no conflicting row with key '77'"), "{err}");
    let fixed = r.env.path("fixed.csv");
    std::fs::write(&fixed, "id,name,age\n9,Nina,9\n").unwrap();
    let out = r.ok(&[
        "conflicts",
        "resolve",
        "people",
        "--from-file",
        fixed.to_str().unwrap(),
    ]);
    assert_eq!(out, "Resolved 1 conflict in people; 1 left\n");
    std::fs::write(&fixed, "id,name,age\n1,X,1\n").unwrap();
    let err = r.fails(&[
        "conflicts",
        "resolve",
        "people",
        "--from-file",
        fixed.to_str().unwrap(),
    ]);
    assert!(err.contains("not a conflicting row"), "{err}");
    let out = r.ok(&["conflicts", "resolve", "people", "--ours"]);
    assert!(out.contains("All conflicts resolved"), "{out}");
    assert_eq!(
        r.csv("people"),
        "id,name,age\n1,Ann,31\n2,Bobby,40\n3,Cy,51\n9,Nina,9\n"
    );
    // Commit without -m takes the prepared merge message and records both parents.
    let out = r.ok(&["commit"]);
    assert!(out.contains("Merge c2 into main"), "{out}");
    assert_eq!(r.parents("HEAD"), 2);
    assert!(r.json(&["status", "--format", "json"])["merge"].is_null());
    assert_eq!(r.ok(&["conflicts"]), "No merge in progress\n");
}

#[test]
fn abort_restores_the_state_before_the_merge() {
    let r = R::new();
    r.import("other", "k,v\n1,a\n", &["--pk", "k"]);
    r.ok(&["commit", "-a", "-m", "other table"]);
    r.diverge(
        "x",
        &[&["row", "put", "people", "id=1", "name=X"]],
        &[&["row", "put", "people", "id=1", "name=Y"]],
    );
    // An uncommitted change to a table the merge does not touch comes along.
    r.ok(&["row", "put", "other", "k=2", "v=b"]);
    let before = r.json(&["status", "--format", "json"]);
    r.fails(&["merge", "x"]);
    assert!(r.csv("other").contains("2,b"));
    let out = r.ok(&["merge", "--abort"]);
    assert!(out.contains("Merge aborted"), "{out}");
    assert_eq!(r.json(&["status", "--format", "json"]), before);
    assert_eq!(r.csv("people"), "id,name,age\n1,Y,30\n2,Bob,40\n3,Cy,50\n");
    let err = r.fails(&["merge", "--abort"]);
    assert!(err.contains("no merge to abort"), "{err}");

    // Uncommitted changes to a table the merge would change: refused, nothing written.
    r.ok(&["row", "put", "people", "id=2", "age=41"]);
    let err = r.fails(&["merge", "x", "--strategy", "theirs"]);
    assert!(err.contains("would be overwritten by merging 'x'"), "{err}");
    assert!(err.contains("  people"), "{err}");
    assert!(err.contains("hint: commit them"), "{err}");
    assert!(r.json(&["status", "--format", "json"])["merge"].is_null());
}

#[test]
fn strategy_decides_conflicting_cells() {
    let r = R::new();
    r.diverge(
        "x",
        &[&["row", "put", "people", "id=1", "name=X", "age=1"]],
        &[&["row", "put", "people", "id=1", "name=Y"]],
    );
    r.ok(&["merge", "x", "--strategy", "theirs"]);
    assert!(r.csv("people").contains("1,X,1\n"));
    r.ok(&["reset", "--hard", "HEAD~1"]);
    r.ok(&["merge", "x", "--strategy", "ours"]);
    assert!(r.csv("people").contains("1,Y,1\n"));
}

#[test]
fn schema_changes_merge_by_column() {
    let r = R::new();
    // One side adds a column, the other edits cells: clean.
    r.diverge(
        "addcol",
        &[
            &["schema", "alter", "people", "--add-column", "city:TEXT"],
            &["row", "put", "people", "id=2", "city=Oslo"],
        ],
        &[
            &["row", "put", "people", "id=1", "age=99"],
            &["row", "put", "people", "id=4", "name=D"],
        ],
    );
    r.ok(&["merge", "addcol"]);
    assert_eq!(
        r.csv("people"),
        "id,name,age,city\n1,Ann,99,\n2,Bob,40,Oslo\n3,Cy,50,\n4,D,,\n"
    );
    // One side renames a column, the other edits data: clean.
    r.diverge(
        "ren",
        &[&["schema", "alter", "people", "--rename-column", "age:years"]],
        &[&["row", "put", "people", "id=3", "age=51"]],
    );
    r.ok(&["merge", "ren"]);
    assert!(r.csv("people").starts_with("id,name,years,city\n"));
    assert!(r.csv("people").contains("3,Cy,51,\n"));
    // Dropped on one side, renamed on the other: a table-level conflict.
    r.diverge(
        "drop",
        &[&["schema", "alter", "people", "--drop-column", "city"]],
        &[&["schema", "alter", "people", "--rename-column", "city:town"]],
    );
    let res = r.env.run(&["merge", "drop"]);
    assert_eq!(res.code, 1);
    assert!(res.stdout.contains("CONFLICT (table)"), "{}", res.stdout);
    assert!(res.stdout.contains("dropped"), "{}", res.stdout);
    let shown = r.ok(&["conflicts", "show", "people"]);
    assert!(shown.contains("dropped"), "{shown}");
    let err = r.fails(&["conflicts", "resolve", "people", "--ours", "--key", "1"]);
    assert!(err.contains("table-level conflict"), "{err}");
    r.ok(&["conflicts", "resolve", "people", "--theirs"]);
    r.ok(&["commit", "-m", "take the drop"]);
    assert!(r.csv("people").starts_with("id,name,years\n"));
}

#[test]
fn reimporting_the_same_rows_in_another_order_changes_nothing() {
    let r = R::new();
    r.ok(&["switch", "-c", "reimport"]);
    r.import(
        "people",
        "id,name,age\n3,Cy,50\n1,Ann,30\n2,Bob,40\n",
        &["--replace"],
    );
    let st = r.json(&["status", "--format", "json"]);
    assert_eq!(st["clean"], true, "{st}");
    r.ok(&["commit", "-a", "-m", "reimport", "--allow-empty"]);
    r.ok(&["switch", "main"]);
    r.ok(&["row", "put", "people", "id=2", "age=41"]);
    r.ok(&["commit", "-a", "-m", "edit"]);
    let out = r.ok(&["merge", "reimport"]);
    assert!(!out.contains("people"), "{out}");
    assert_eq!(
        r.csv("people"),
        "id,name,age\n1,Ann,30\n2,Bob,41\n3,Cy,50\n"
    );
}

#[test]
fn table_deleted_on_one_side_and_edited_on_the_other() {
    let r = R::new();
    r.diverge(
        "del",
        &[&["table", "rm", "people"]],
        &[&["row", "put", "people", "id=1", "age=2"]],
    );
    let res = r.env.run(&["merge", "del"]);
    assert_eq!(res.code, 1);
    assert!(
        res.stdout
            .contains("table 'people' was deleted on their side and changed on ours"),
        "{}",
        res.stdout
    );
    let j = r.json(&["conflicts", "show", "people", "--format", "json"]);
    assert!(j["table_conflict"]["theirs"].is_null());
    r.ok(&["conflicts", "resolve", "people", "--theirs"]);
    r.ok(&["commit", "-m", "drop it"]);
    let err = r.fails(&["table", "show", "people"]);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn revert_and_cherry_pick() {
    let r = R::new();
    r.ok(&["row", "put", "people", "id=1", "age=31"]);
    r.ok(&["commit", "-a", "-m", "age 31"]);
    let c1 = r.head();
    r.ok(&["row", "put", "people", "id=2", "name=Bobby"]);
    r.ok(&["commit", "-a", "-m", "rename bob"]);
    // Reverting an older commit keeps the later one.
    let out = r.ok(&["revert", &c1[..12]]);
    assert!(out.contains("Revert \"age 31\""), "{out}");
    assert_eq!(
        r.csv("people"),
        "id,name,age\n1,Ann,30\n2,Bobby,40\n3,Cy,50\n"
    );
    assert_eq!(r.parents("HEAD"), 1);
    let err = r.fails(&["revert", &c1[..12]]);
    assert!(err.contains("nothing to commit"), "{err}");

    // Cherry-pick a commit from another branch.
    r.ok(&["switch", "-c", "side", "HEAD~3"]);
    r.ok(&["row", "put", "people", "id=7", "name=Seven"]);
    r.ok(&["commit", "-a", "-m", "add seven"]);
    let seven = r.head();
    r.ok(&["row", "put", "people", "id=2", "name=Roberto"]);
    r.ok(&["commit", "-a", "-m", "rename bob differently"]);
    let roberto = r.head();
    r.ok(&["switch", "main"]);
    let out = r.ok(&["cherry-pick", &seven[..12]]);
    assert!(out.contains("add seven"), "{out}");
    assert!(r.csv("people").contains("7,Seven,"));
    assert_eq!(r.parents("HEAD"), 1);

    // A colliding cherry-pick stops with stored conflicts; commit concludes it.
    let res = r.env.run(&["cherry-pick", &roberto[..12]]);
    assert_eq!(res.code, 1, "{}{}", res.stdout, res.stderr);
    assert!(res.stderr.contains("cherry-pick stopped"), "{}", res.stderr);
    let s = r.json(&["status", "--format", "json"]);
    assert_eq!(s["merge"]["kind"], "cherry-pick");
    r.ok(&["conflicts", "resolve", "people", "--theirs"]);
    let out = r.ok(&["commit"]);
    assert!(out.contains("rename bob differently"), "{out}");
    assert_eq!(r.parents("HEAD"), 1);
    assert!(r.csv("people").contains("2,Roberto,40"));
}

#[test]
fn criss_cross_merges_use_a_virtual_base() {
    let r = R::new();
    r.ok(&["branch", "b"]);
    r.ok(&["row", "put", "people", "id=1", "name=A1"]);
    r.ok(&["commit", "-a", "-m", "a1"]);
    r.ok(&["switch", "b"]);
    r.ok(&["row", "put", "people", "id=2", "name=B1"]);
    r.ok(&["commit", "-a", "-m", "b1"]);
    // Cross merges: b takes main's tip, main takes b's tip (both before the other's merge).
    let b1 = r.head();
    r.ok(&["merge", "main", "-m", "b merges main"]);
    r.ok(&["switch", "main"]);
    r.ok(&["merge", &b1[..12], "-m", "main merges b1"]);
    // Both sides now change different rows; the two merge bases are a1 and b1.
    r.ok(&["row", "put", "people", "id=3", "name=A2"]);
    r.ok(&["commit", "-a", "-m", "a2"]);
    r.ok(&["switch", "b"]);
    r.ok(&["row", "put", "people", "id=1", "age=11"]);
    r.ok(&["commit", "-a", "-m", "b2"]);
    r.ok(&["switch", "main"]);
    r.ok(&["merge", "b"]);
    assert_eq!(r.csv("people"), "id,name,age\n1,A1,11\n2,B1,40\n3,A2,50\n");
}

#[test]
fn workspace_merge_uses_the_three_way_merge() {
    let r = R::new();
    r.ok(&["workspace", "create", "w"]);
    r.ok(&["workspace", "switch", "w"]);
    r.ok(&["row", "put", "people", "id=1", "age=1"]);
    r.ok(&["commit", "-a", "-m", "in w"]);
    r.ok(&["workspace", "switch", "default"]);
    r.ok(&["row", "put", "people", "id=2", "age=2"]);
    r.ok(&["commit", "-a", "-m", "in default"]);
    let out = r.ok(&["workspace", "merge", "w"]);
    assert!(out.contains("Merge workspace w into main"), "{out}");
    assert_eq!(r.csv("people"), "id,name,age\n1,Ann,1\n2,Bob,2\n3,Cy,50\n");
    assert_eq!(r.parents("HEAD"), 2);
}

#[test]
fn type_change_on_one_side_converts_the_other_sides_values() {
    let r = R::new();
    r.diverge(
        "retype",
        &[&["schema", "alter", "people", "--set-type", "age:TEXT"]],
        &[
            &["row", "put", "people", "id=2", "age=45"],
            &["row", "put", "people", "id=4", "name=D", "age=7"],
        ],
    );
    r.ok(&["merge", "retype"]);
    assert!(r.ok(&["schema", "show", "people"]).contains("age TEXT"));
    assert_eq!(
        r.csv("people"),
        "id,name,age\n1,Ann,30\n2,Bob,45\n3,Cy,50\n4,D,7\n"
    );
    // Back to INT on one side while the other wrote text that is no number: a conflict that
    // names the row; the other rows convert.
    r.diverge(
        "back",
        &[&["schema", "alter", "people", "--set-type", "age:INT"]],
        &[&["row", "put", "people", "id=3", "age=fifty"]],
    );
    let res = r.env.run(&["merge", "back"]);
    assert_eq!(res.code, 1, "{}{}", res.stdout, res.stderr);
    assert!(
        res.stdout.contains("1 conflicting row in table people"),
        "{}",
        res.stdout
    );
    let j = r.json(&["conflicts", "show", "people", "--format", "json"]);
    assert_eq!(j["rows"][0]["key"][0], "3");
    assert_eq!(j["rows"][0]["ours"]["age"], "fifty");
    let err = r.fails(&["conflicts", "resolve", "people", "--ours"]);
    assert!(err.contains("does not fit"), "{err}");
    r.ok(&["conflicts", "resolve", "people", "--theirs"]);
    r.ok(&["commit"]);
    assert!(r.ok(&["schema", "show", "people"]).contains("age INT"));
    assert!(r.csv("people").contains("3,Cy,50\n"));
}

#[test]
fn help_and_usage() {
    let env = TestEnv::new();
    for (cmd, flags) in [
        (
            "merge",
            &["--no-ff", "--ff-only", "--squash", "--strategy", "--abort"][..],
        ),
        ("conflicts", &["show", "resolve"][..]),
        ("revert", &["--strategy"][..]),
        ("cherry-pick", &["--strategy"][..]),
    ] {
        let out = env.ok(&[cmd, "--help"]);
        for f in flags {
            assert!(out.contains(f), "{cmd} --help lacks {f}:\n{out}");
        }
    }
    let r = R::new();
    let err = r.env.fails(&["merge"], 2);
    assert!(err.contains("REV"), "{err}");
    let err = r.env.fails(&["merge", "main", "--squash", "--no-ff"], 2);
    assert!(err.contains("cannot be used with"), "{err}");
    let err = r.env.fails(&["conflicts", "resolve", "people"], 2);
    assert!(err.contains("--ours"), "{err}");
    let err = r.fails(&["merge", "nope"]);
    assert!(err.contains("nope"), "{err}");
    let err = r.fails(&["conflicts", "show", "people"]);
    assert!(err.contains("no merge in progress"), "{err}");
}

#[test]
fn unrelated_histories_and_unborn_branches() {
    let mut env = TestEnv::new();
    env.init_demo();
    env.cwd = env.path("demo");
    let r = R { env };
    // Both workspaces start unborn, so their first commits are unrelated.
    r.ok(&["workspace", "create", "w"]);
    r.ok(&["workspace", "switch", "w"]);
    r.import("people", PEOPLE, &["--pk", "id"]);
    r.ok(&["commit", "-a", "-m", "w root"]);
    r.ok(&["workspace", "switch", "default"]);
    // An unborn branch fast-forwards.
    let out = r.ok(&["workspace", "merge", "w"]);
    assert!(out.starts_with("Fast-forward to "), "{out}");
    assert_eq!(r.csv("people"), PEOPLE);
    // Unrelated histories merge against the empty database.
    r.ok(&["reset", "--hard", "HEAD"]);
    r.ok(&["workspace", "switch", "w"]);
    r.import("extra", "k,v\n1,a\n", &["--pk", "k"]);
    r.ok(&["commit", "-a", "-m", "w extra"]);
    r.ok(&["workspace", "switch", "default"]);
    r.ok(&["update-ref", "-d", "refs/heads/main"]);
    r.import("other", "k,v\n2,b\n", &["--pk", "k"]);
    r.ok(&["commit", "-a", "-m", "main root"]);
    r.ok(&["workspace", "merge", "w"]);
    assert_eq!(r.parents("HEAD"), 2);
    assert_eq!(r.csv("extra"), "k,v\n1,a\n");
    assert_eq!(r.csv("other"), "k,v\n2,b\n");
    assert_eq!(r.csv("people"), PEOPLE);
}

#[test]
fn a_row_deleted_by_us_and_edited_by_them() {
    let r = R::new();
    r.diverge(
        "edit",
        &[&["row", "put", "people", "id=2", "age=41"]],
        &[&["row", "delete", "people", "--key", "2"]],
    );
    r.fails(&["merge", "edit"]);
    let text = r.ok(&["conflicts", "show", "people"]);
    assert!(text.contains("(2) deleted by us"), "{text}");
    assert!(text.contains("age: base 40 | ours - | theirs 41"), "{text}");
    r.ok(&["conflicts", "resolve", "people", "--ours"]);
    r.ok(&["commit"]);
    assert_eq!(r.csv("people"), "id,name,age\n1,Ann,30\n3,Cy,50\n");
    // The row count stays exact.
    let list = r.ok(&["table", "ls"]);
    assert!(list.contains("people           2        3"), "{list}");
    // The same with --theirs brings the edited row back.
    r.ok(&["reset", "--hard", "HEAD~1"]);
    r.ok(&["merge", "edit", "--strategy", "theirs"]);
    assert_eq!(
        r.csv("people"),
        "id,name,age\n1,Ann,30\n2,Bob,41\n3,Cy,50\n"
    );
}
