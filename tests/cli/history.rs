//! status, add, reset TABLE, commit, log, show, revisions, reset modes, rollback, checkout.

use super::loop_helpers::Demo;

#[test]
fn status_add_commit_cycle() {
    let d = Demo::new();
    let out = d.ok(&["status"]);
    assert!(out.contains("On branch main"), "{out}");
    assert!(out.contains("No commits yet"), "{out}");
    assert!(out.contains("nothing to commit"), "{out}");

    d.set_tables(&[("people", Some("p1")), ("orders", Some("o1"))]);
    let out = d.ok(&["status"]);
    assert!(out.contains("Changes not staged for commit:"), "{out}");
    assert!(out.contains("kodiak add <table>"), "{out}");
    assert!(out.contains("new table:  orders"), "{out}");
    assert!(out.contains("new table:  people"), "{out}");
    assert!(out.contains("no changes added to commit"), "{out}");

    // Nothing staged: commit refuses and says why.
    let err = d.fails(&["commit", "-m", "x"], 1);
    assert!(err.contains("nothing staged to commit"), "{err}");

    d.ok(&["add", "people"]);
    let s = d.status();
    assert_eq!(s["staged"][0]["table"], "people");
    assert_eq!(s["staged"][0]["change"], "new");
    assert_eq!(s["unstaged"][0]["table"], "orders");
    assert_eq!(s["clean"], false);
    let out = d.ok(&["status"]);
    assert!(out.contains("Changes to be committed:"), "{out}");
    assert!(out.contains("kodiak reset <table>"), "{out}");

    // Unstage and restage.
    d.ok(&["reset", "people"]);
    assert_eq!(d.status()["staged"].as_array().unwrap().len(), 0);
    d.ok(&["add", "people"]);

    let out = d.ok(&["commit", "-m", "add people"]);
    assert!(out.starts_with("[main (root-commit) "), "{out}");
    assert!(out.contains("] add people\n"), "{out}");
    assert!(out.contains("1 table changed"), "{out}");
    // orders is still unstaged.
    let s = d.status();
    assert_eq!(s["unstaged"][0]["table"], "orders");
    assert_eq!(s["staged"].as_array().unwrap().len(), 0);

    d.ok(&["add", "-A"]);
    let out = d.ok(&["commit", "-m", "add orders"]);
    assert!(out.starts_with("[main "), "{out}");
    assert!(!out.contains("root-commit"), "{out}");
    let out = d.ok(&["status"]);
    assert!(
        out.contains("nothing to commit, working state clean"),
        "{out}"
    );
    assert_eq!(d.status()["clean"], true);

    // An empty commit is refused unless allowed.
    let err = d.fails(&["commit", "-m", "again"], 1);
    assert!(err.contains("nothing to commit"), "{err}");
    assert!(err.contains("--allow-empty"), "{err}");
    let out = d.ok(&["commit", "-m", "empty", "--allow-empty"]);
    assert!(out.contains("0 tables changed"), "{out}");

    // Unknown tables are errors.
    let err = d.fails(&["add", "nope"], 1);
    assert!(err.contains("table 'nope' does not exist"), "{err}");
    let err = d.fails(&["add"], 2);
    assert!(err.contains("nothing specified"), "{err}");
}

#[test]
fn status_shows_deleted_modified_and_renamed() {
    let d = Demo::new();
    d.commit_tables(
        &[("a", Some("1")), ("b", Some("2")), ("c", Some("3"))],
        "base",
    );
    d.set_tables(&[("a", Some("1x")), ("b", None)]);
    // Rename c → d: same table version under another name.
    {
        let repo = d.env.open_repo(&d.env.path("demo"));
        let st = kodiak::history::WorkState::load(&repo).unwrap();
        let mut root = st.working(repo.store()).unwrap();
        let t = root.tables.remove("c").unwrap();
        root.tables.insert("d".into(), t);
        st.set_working(&repo, &root, "rename").unwrap();
        repo.close().unwrap();
    }
    let out = d.ok(&["status"]);
    assert!(out.contains("modified:   a (+1 ~0 -0 rows)"), "{out}");
    assert!(out.contains("deleted:    b"), "{out}");
    assert!(out.contains("renamed:    c -> d"), "{out}");
    let s = d.status();
    let changes: Vec<_> = s["unstaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["table"].as_str().unwrap().to_string(),
                c["change"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("a".to_string(), "modified".to_string()),
            ("b".to_string(), "deleted".to_string()),
            ("d".to_string(), "renamed".to_string())
        ]
    );
}

#[test]
fn amend_and_author() {
    let d = Demo::new();
    d.commit_tables(&[("t", Some("1"))], "first");
    let before = d.rev("HEAD");
    let out = d.ok(&[
        "commit",
        "--amend",
        "-m",
        "first, reworded",
        "--author",
        "Ada <ada@example.com>",
    ]);
    assert!(out.contains("first, reworded"), "{out}");
    let after = d.rev("HEAD");
    assert_ne!(before, after);
    let log: serde_json::Value = serde_json::from_str(&d.ok(&["log", "--format", "json"])).unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 1, "amend replaces, it does not add");
    assert_eq!(log[0]["author"]["name"], "Ada");
    assert_eq!(log[0]["committer"]["name"], "Test User");
    assert_eq!(log[0]["parents"].as_array().unwrap().len(), 0);
    // The old commit is still in the reflog.
    let reflog = d.ok(&["reflog", "refs/heads/main"]);
    assert!(reflog.contains(&before), "{reflog}");
    assert!(
        reflog.contains("commit (amend): first, reworded"),
        "{reflog}"
    );

    let err = d.fails(&["commit", "-m", "x", "--author", "nobody"], 1);
    assert!(err.contains("expected 'Name <email>'"), "{err}");
    let d2 = Demo::new();
    let err = d2.fails(&["commit", "--amend", "-m", "x"], 1);
    assert!(err.contains("nothing to amend"), "{err}");
}

#[test]
fn log_formats_and_table_filter() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("a", Some("1"))], "one");
    let c2 = d.commit_tables(&[("b", Some("1"))], "two");
    let c3 = d.commit_tables(&[("a", Some("2"))], "three");
    d.ok(&["tag", "v1", &c2]);
    let out = d.ok(&["log", "--oneline"]);
    assert_eq!(
        out,
        format!("{c3} (HEAD -> main) three\n{c2} (tag: v1) two\n{c1} one\n")
    );
    assert_eq!(
        d.ok(&["log", "--oneline", "-n", "1"]),
        format!("{c3} (HEAD -> main) three\n")
    );
    assert_eq!(
        d.ok(&["log", "--oneline", "--table", "a"]),
        format!("{c3} (HEAD -> main) three\n{c1} one\n")
    );
    assert_eq!(
        d.ok(&["log", "--oneline", "v1"]),
        format!("{c2} (tag: v1) two\n{c1} one\n")
    );
    let graph = d.ok(&["log", "--oneline", "--graph"]);
    assert_eq!(
        graph,
        format!("* {c3} (HEAD -> main) three\n* {c2} (tag: v1) two\n* {c1} one\n")
    );
    let full = d.ok(&["log", "-n", "1"]);
    assert!(full.starts_with("commit "), "{full}");
    assert!(
        full.contains("Author: Test User <test@example.com>"),
        "{full}"
    );
    assert!(full.contains("Date:   2023-11-14T22:13:20+00:00"), "{full}");
    assert!(full.contains("\n    three\n"), "{full}");
    let json: serde_json::Value =
        serde_json::from_str(&d.ok(&["log", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3);
    assert_eq!(json[0]["message"], "three");
    assert_eq!(json[0]["change_id"].as_str().unwrap().len(), 26);
    assert_eq!(json[0]["refs"][0], "HEAD -> main");

    let d2 = Demo::new();
    let err = d2.fails(&["log"], 1);
    assert!(err.contains("does not have any commits yet"), "{err}");
}

#[test]
fn revisions_resolve_and_errors_are_clear() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("a", Some("1"))], "one");
    let c2 = d.commit_tables(&[("a", Some("2"))], "two");
    let c3 = d.commit_tables(&[("a", Some("3"))], "three");
    let one = |rev: &str| d.ok(&["log", "--oneline", "-n", "1", rev]);
    assert!(one("HEAD~2").starts_with(&c1));
    assert!(one("main~1").starts_with(&c2));
    assert!(one("HEAD^").starts_with(&c2));
    assert!(one("HEAD^^").starts_with(&c1));
    assert!(one("HEAD^0").starts_with(&c3));
    assert!(one("@").starts_with(&c3));
    assert!(one(&c1[..6]).starts_with(&c1));
    assert!(one(&d.rev("HEAD")).starts_with(&c3));
    assert!(one("refs/heads/main").starts_with(&c3));
    // main@{1} is where main was one move ago.
    assert!(one("main@{1}").starts_with(&c2));
    assert!(one("main@{2}").starts_with(&c1));
    assert!(one("HEAD@{1}").starts_with(&c2));

    let err = d.fails(&["log", "nope"], 1);
    assert!(err.contains("error: unknown revision 'nope'"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    let err = d.fails(&["log", "HEAD~5"], 1);
    assert!(err.contains("ancestors"), "{err}");
    let err = d.fails(&["log", "HEAD^2"], 1);
    assert!(err.contains("has 1 parent(s), not 2"), "{err}");
    let err = d.fails(&["log", "main@{9}"], 1);
    assert!(err.contains("reflog of refs/heads/main has only"), "{err}");
    let err = d.fails(&["log", "main@{x}"], 1);
    assert!(err.contains("invalid revision"), "{err}");

    // REV:TABLE names a table at that revision.
    let out = d.ok(&["show", "HEAD~1:a"]);
    assert!(out.starts_with(&format!("table a at {c2}")), "{out}");
    assert!(out.contains("row count: 1"), "{out}");
    assert!(out.contains("CREATE TABLE"), "{out}");
    let err = d.fails(&["show", "HEAD:zzz"], 1);
    assert!(err.contains("table 'zzz' does not exist"), "{err}");
    let err = d.fails(&["log", "HEAD:a"], 1);
    assert!(err.contains("names a table"), "{err}");
}

#[test]
fn ambiguous_short_ids_list_candidates() {
    let d = Demo::new();
    d.commit_tables(&[("a", Some("1"))], "base");
    // Store two commits (through the library) whose ids share their first 4 hex digits.
    let repo = d.env.open_repo(&d.env.path("demo"));
    let head = kodiak::history::WorkState::load(&repo).unwrap();
    let parent = head.head_commit.unwrap();
    let base: kodiak::object::Commit = repo.store().get(&parent).unwrap();
    let variant = |n: u32| {
        let mut c = base.clone();
        c.message = format!("variant {n}");
        c.parents = vec![parent];
        c
    };
    let mut seen: std::collections::BTreeMap<String, u32> = Default::default();
    let mut clash = None;
    for n in 0..100_000u32 {
        let id = kodiak::object::id_of(&variant(n)).to_hex();
        if let Some(first) = seen.insert(id[..4].to_string(), n) {
            clash = Some((first, n));
            break;
        }
    }
    let (x, y) = clash.expect("a 4-digit prefix clash");
    let a = repo.store().put(&variant(x)).unwrap().to_hex();
    let b = repo.store().put(&variant(y)).unwrap().to_hex();
    repo.close().unwrap();
    let prefix = &a[..4];
    let err = d.fails(&["log", "-n", "1", prefix], 1);
    assert!(
        err.contains(&format!("abbreviated id '{prefix}' is ambiguous")),
        "{err}"
    );
    assert!(err.contains(&a) && err.contains(&b), "{err}");
    assert!(err.contains("hint: type more hex digits"), "{err}");
    // Enough digits to tell them apart pick one.
    let n = a.chars().zip(b.chars()).take_while(|(p, q)| p == q).count() + 1;
    let out = d.ok(&["log", "--oneline", "-n", "1", &a[..n.max(4)]]);
    assert!(out.starts_with(&a[..12]), "{out}");
}

#[test]
fn show_commit_stat_and_tag() {
    let d = Demo::new();
    d.commit_tables(&[("a", Some("1")), ("b", Some("22"))], "one");
    let c2 = d.commit_tables(&[("a", Some("333")), ("b", None), ("c", Some("4"))], "two");
    let out = d.ok(&["show"]);
    assert!(out.contains("(HEAD -> main)"), "{out}");
    assert!(out.contains("    two\n"), "{out}");
    assert!(out.contains("modified:   a"), "{out}");
    assert!(out.contains("deleted:    b"), "{out}");
    assert!(out.contains("new table:  c"), "{out}");
    let out = d.ok(&["show", "--stat", &c2]);
    assert!(out.contains("modified:   a (+2 ~1 -0 rows)"), "{out}");
    assert!(out.contains("deleted:    b (+0 ~0 -2 rows)"), "{out}");
    assert!(out.contains("new table:  c (+1 ~0 -0 rows)"), "{out}");
    assert!(out.contains("3 tables changed"), "{out}");
    d.ok(&["tag", "-a", "-m", "release one", "v1", "HEAD~1"]);
    let out = d.ok(&["show", "v1"]);
    assert!(out.starts_with("tag v1\nTagger: Test User"), "{out}");
    assert!(out.contains("release one"), "{out}");
    assert!(out.contains("    one\n"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&d.ok(&["show", "--json"])).unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 3);
}

#[test]
fn reset_modes() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("a", Some("1"))], "one");
    d.commit_tables(&[("a", Some("2"))], "two");

    // --soft: HEAD moves, the change from two is staged.
    d.ok(&["reset", "--soft", "HEAD~1"]);
    assert!(d.ok(&["log", "--oneline"]).starts_with(&c1));
    let s = d.status();
    assert_eq!(s["staged"][0]["table"], "a");
    assert_eq!(s["unstaged"].as_array().unwrap().len(), 0);
    d.ok(&["commit", "-m", "two again"]);

    // --mixed (default): the change is unstaged but kept.
    d.ok(&["reset", "HEAD~1"]);
    let s = d.status();
    assert_eq!(s["staged"].as_array().unwrap().len(), 0);
    assert_eq!(s["unstaged"][0]["table"], "a");
    d.ok(&["commit", "-a", "-m", "two, third time"]);

    // --hard: the change is gone.
    d.set_tables(&[("b", Some("x"))]);
    let out = d.ok(&["reset", "--hard", &c1]);
    assert!(
        out.starts_with(&format!("HEAD is now at {c1} one")),
        "{out}"
    );
    assert_eq!(d.status()["clean"], true);
    let reflog = d.ok(&["reflog"]);
    assert!(reflog.contains("reset (hard): moving to"), "{reflog}");

    // Plain `reset` unstages everything.
    d.set_tables(&[("b", Some("x"))]);
    d.ok(&["add", "-A"]);
    d.ok(&["reset"]);
    let s = d.status();
    assert_eq!(s["staged"].as_array().unwrap().len(), 0);
    assert_eq!(s["unstaged"][0]["table"], "b");
    let err = d.fails(&["reset", "--hard", "nope"], 1);
    assert!(err.contains("unknown revision 'nope'"), "{err}");
}

#[test]
fn rollback_adds_a_commit_with_the_old_database() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("a", Some("1"))], "one");
    d.commit_tables(&[("a", Some("2")), ("b", Some("3"))], "two");
    let out = d.ok(&["rollback", &c1]);
    assert!(out.contains(&format!("Rollback to {c1}")), "{out}");
    assert!(out.contains("deleted:    b"), "{out}");
    let log = d.ok(&["log", "--oneline"]);
    assert_eq!(log.lines().count(), 3, "{log}");
    let v1: serde_json::Value = serde_json::from_str(&d.ok(&["show", "--json", &c1])).unwrap();
    let v3: serde_json::Value = serde_json::from_str(&d.ok(&["show", "--json", "HEAD"])).unwrap();
    assert_eq!(v1["root"], v3["root"]);
    let err = d.fails(&["rollback", &c1], 1);
    assert!(err.contains("already equals"), "{err}");
    d.set_tables(&[("z", Some("1"))]);
    let err = d.fails(&["rollback", "HEAD~1"], 1);
    assert!(err.contains("uncommitted changes"), "{err}");
}

#[test]
fn checkout_restores_tables_from_a_revision() {
    let d = Demo::new();
    d.commit_tables(&[("a", Some("1")), ("b", Some("1"))], "one");
    d.commit_tables(&[("a", Some("2")), ("b", Some("2"))], "two");
    let out = d.ok(&["checkout", "HEAD~1", "--", "a"]);
    assert!(out.contains("Updated 1 table from HEAD~1"), "{out}");
    let s = d.status();
    assert_eq!(s["unstaged"].as_array().unwrap().len(), 1);
    assert_eq!(s["unstaged"][0]["table"], "a");
    d.ok(&["checkout", "HEAD", "--", "a"]);
    assert_eq!(d.status()["clean"], true);
    let err = d.fails(&["checkout", "HEAD", "--", "nope"], 1);
    assert!(
        err.contains("table 'nope' does not exist in 'HEAD'"),
        "{err}"
    );
    d.fails(&["checkout", "HEAD"], 2);
}

#[test]
fn status_counts_rows_and_schema_changes() {
    let d = Demo::new();
    d.commit_tables(&[("t", Some("abcd"))], "base");
    // Row 1 changes, rows 2..3 go away.
    d.set_tables(&[("t", Some("aX"))]);
    let s = d.status();
    let c = &s["unstaged"][0];
    assert_eq!(c["table"], "t");
    assert_eq!(c["change"], "modified");
    assert_eq!(c["schema_changed"], false);
    assert_eq!(c["rows"]["added"], 0);
    assert_eq!(c["rows"]["modified"], 1);
    assert_eq!(c["rows"]["deleted"], 2);
    let out = d.ok(&["status"]);
    assert!(out.contains("modified:   t (+0 ~1 -2 rows)"), "{out}");
    // commit names the tables only (row counts would cost a tree diff per commit).
    let out = d.ok(&["commit", "-a", "-m", "shrink"]);
    assert!(out.ends_with(" modified:   t\n"), "{out}");
    let out = d.ok(&["show", "--stat"]);
    assert!(out.contains("modified:   t (+0 ~1 -2 rows)"), "{out}");
}

#[test]
fn blame_follows_every_parent_of_a_merge() {
    let d = Demo::new();
    let base = d.commit_tables(&[("t", Some("abcd"))], "base");
    d.ok(&["switch", "-c", "side"]);
    let side = d.commit_tables(&[("t", Some("aScd"))], "side: row 1");
    d.ok(&["switch", "main"]);
    let main = d.commit_tables(&[("t", Some("abcM"))], "main: row 3");
    let out = d.ok(&["merge", "side", "-m", "merge side"]);
    assert!(out.contains("[main "), "{out}");
    let merge = d.rev("HEAD");
    let out = d.ok(&["blame", "t"]);
    let commits: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    // Row 1 comes from the side branch through the merge's second parent, not the merge.
    assert_eq!(
        commits,
        [&base[..], &side[..], &base[..], &main[..]],
        "{out}"
    );
    assert!(!out.contains(&merge[..12]), "{out}");
}

#[test]
fn blame_names_the_last_change_of_each_row() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("t", Some("abc"))], "one");
    let c2 = d.commit_tables(&[("t", Some("aXc")), ("u", Some("z"))], "two");
    let c3 = d.commit_tables(&[("t", Some("aXcd"))], "three");
    d.commit_tables(&[("u", Some("zz"))], "four: other table");
    let out = d.ok(&["blame", "t"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines[0].starts_with("commit"), "{out}");
    assert!(lines[0].ends_with("id\tv"), "{out}");
    assert!(
        lines[1].starts_with(&c1) && lines[1].ends_with("0\ta"),
        "{out}"
    );
    assert!(
        lines[2].starts_with(&c2) && lines[2].ends_with("1\tX"),
        "{out}"
    );
    assert!(
        lines[3].starts_with(&c1) && lines[3].ends_with("2\tc"),
        "{out}"
    );
    assert!(
        lines[4].starts_with(&c3) && lines[4].ends_with("3\td"),
        "{out}"
    );
    assert!(lines[1].contains("Test User"), "{out}");
    assert!(lines[1].contains("2023-11-14"), "{out}");

    let out = d.ok(&["blame", "t", "--where", "v=X"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with(&c2), "{out}");
    let out = d.ok(&["blame", "HEAD~2:t"]);
    assert_eq!(out.lines().count(), 4, "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&d.ok(&["blame", "t", "--json", "--where", "id=3"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["row"]["v"], "d");
    assert!(v[0]["commit"].as_str().unwrap().starts_with(&c3));

    let err = d.fails(&["blame", "nope"], 1);
    assert!(err.contains("table 'nope' does not exist"), "{err}");
    let err = d.fails(&["blame", "t", "--where", "zzz=1"], 1);
    assert!(err.contains("no column named 'zzz'"), "{err}");
    let err = d.fails(&["blame", "t", "--where", "id=abc"], 1);
    assert!(err.contains("invalid filter 'id=abc'"), "{err}");
    let err = d.fails(&["blame", "t", "--where", "id"], 1);
    assert!(err.contains("expected COLUMN=VALUE"), "{err}");
}

#[test]
fn reset_on_an_unborn_branch() {
    let d = Demo::new();
    d.set_tables(&[("a", Some("1"))]);
    d.ok(&["add", "-A"]);
    d.ok(&["reset", "--soft"]);
    assert_eq!(d.status()["staged"][0]["table"], "a");
    d.ok(&["reset"]);
    let s = d.status();
    assert_eq!(s["staged"].as_array().unwrap().len(), 0);
    assert_eq!(s["unstaged"][0]["table"], "a");
    d.ok(&["reset", "--hard"]);
    assert_eq!(d.status()["clean"], true);
}

#[test]
fn status_shows_an_unfinished_merge() {
    let d = Demo::new();
    d.commit_tables(&[("a", Some("1"))], "base");
    {
        let repo = d.env.open_repo(&d.env.path("demo"));
        let st = kodiak::history::WorkState::load(&repo).unwrap();
        let head = st.head_commit.unwrap();
        let mut set = kodiak::merge::ConflictSet::default();
        set.rows.insert(
            vec![1],
            kodiak::merge::RowConflict {
                base: None,
                ours: Some(vec![]),
                theirs: None,
            },
        );
        let t = set.write(repo.store()).unwrap();
        let mut record = st.record.clone();
        record.merge = Some(kodiak::workingset::MergeState {
            other: head,
            base: None,
            message: "merge".into(),
            conflicts: [("a".to_string(), t)].into(),
            kind: kodiak::workingset::MergeKind::Merge,
            orig_staged: st.staged_root,
            orig_working: st.working_root,
        });
        repo.transaction(&st.update(record), "test: merge").unwrap();
        repo.close().unwrap();
    }
    let out = d.ok(&["status"]);
    assert!(out.contains("You are in the middle of a merge"), "{out}");
    assert!(out.contains("Unmerged tables:"), "{out}");
    assert!(
        out.contains("both modified:  a (1 conflicting row)"),
        "{out}"
    );
    let s = d.status();
    assert_eq!(s["merge"]["conflicts"][0], "a");
    let err = d.fails(&["commit", "-m", "x"], 1);
    assert!(err.contains("unresolved merge conflicts"), "{err}");
    d.ok(&["reset", "--hard"]);
    assert!(d.status()["merge"].is_null());
}
