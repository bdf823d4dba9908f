//! branch, switch and tag.

use super::loop_helpers::Demo;

#[test]
fn branch_create_list_rename_copy_delete() {
    let d = Demo::new();
    let err = d.fails(&["branch", "dev"], 1);
    assert!(err.contains("HEAD has no commits yet"), "{err}");
    let c1 = d.commit_tables(&[("a", Some("1"))], "one");
    d.ok(&["branch", "dev"]);
    d.ok(&["branch", "old", "HEAD"]);
    assert_eq!(d.ok(&["branch"]), "  dev\n* main\n  old\n");
    let err = d.fails(&["branch", "dev"], 1);
    assert!(err.contains("already exists"), "{err}");
    let err = d.fails(&["branch", "x", "nope"], 1);
    assert!(err.contains("unknown revision 'nope'"), "{err}");
    d.ok(&["branch", "-m", "old", "older"]);
    d.ok(&["branch", "-c", "older", "copy"]);
    assert_eq!(d.ok(&["branch"]), "  copy\n  dev\n* main\n  older\n");
    // Renaming the current branch keeps HEAD on it, and the branch keeps its reflog.
    d.ok(&["branch", "-m", "trunk"]);
    let log = d.ok(&["reflog", "trunk"]);
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(
        log.lines()
            .next()
            .unwrap()
            .contains("renamed main to trunk"),
        "{log}"
    );
    assert!(log.lines().nth(1).unwrap().contains("one"), "{log}");
    assert_eq!(d.ok(&["branch"]), "  copy\n  dev\n  older\n* trunk\n");
    assert!(d.ok(&["status"]).contains("On branch trunk"));
    let short = &c1[..c1.len().min(12)];
    let v = d.ok(&["branch", "-v"]);
    assert!(v.contains(&format!("* trunk {short} one\n")), "{v}");
    assert!(v.contains(&format!("  copy  {short} one\n")), "{v}");
    let json: serde_json::Value =
        serde_json::from_str(&d.ok(&["branch", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 4);
    assert_eq!(json[3]["name"], "trunk");
    assert_eq!(json[3]["ref"], "refs/heads/trunk");
    assert_eq!(json[3]["current"], true);
    assert_eq!(json[3]["subject"], "one");
    assert_eq!(json[0]["current"], false);

    let err = d.fails(&["branch", "-d", "trunk"], 1);
    assert!(
        err.contains("cannot delete branch 'trunk': it is the current branch"),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    let out = d.ok(&["branch", "-d", "copy"]);
    assert_eq!(out, format!("Deleted branch copy (was {c1}).\n"));

    // An unmerged branch needs -D.
    d.ok(&["switch", "dev"]);
    d.commit_tables(&[("a", Some("dev"))], "on dev");
    d.ok(&["switch", "trunk"]);
    let err = d.fails(&["branch", "-d", "dev"], 1);
    assert!(err.contains("not fully merged"), "{err}");
    assert!(err.contains("branch -D dev"), "{err}");
    d.ok(&["branch", "-D", "dev"]);
    let err = d.fails(&["branch", "-d", "ghost"], 1);
    assert!(err.contains("branch 'ghost' not found"), "{err}");
    let err = d.fails(&["branch", "a..b"], 1);
    assert!(err.contains("invalid ref name"), "{err}");
}

#[test]
fn switch_carries_changes_or_refuses_collisions() {
    let d = Demo::new();
    d.commit_tables(&[("a", Some("1")), ("b", Some("1"))], "base");
    d.ok(&["switch", "-c", "feature"]);
    assert!(d.ok(&["status"]).contains("On branch feature"));
    d.commit_tables(&[("a", Some("feature"))], "feature change");
    d.ok(&["switch", "main"]);
    assert_eq!(d.ok(&["switch", "main"]), "Already on 'main'\n");

    // A change to b does not collide: it comes along.
    d.set_tables(&[("b", Some("wip"))]);
    let out = d.ok(&["switch", "feature"]);
    assert!(out.contains("Switched to branch 'feature'"), "{out}");
    assert!(out.contains("modified\tb"), "{out}");
    let s = d.status();
    assert_eq!(s["head"], "refs/heads/feature");
    assert_eq!(s["unstaged"][0]["table"], "b");
    // The feature commit's a is there.
    let show = d.ok(&["show", "--json", "feature"]);
    assert!(show.contains("feature change"));

    // A change to a collides with the other branch's a: refused, nothing changes.
    d.ok(&["reset", "--hard"]);
    d.set_tables(&[("a", Some("wip"))]);
    let err = d.fails(&["switch", "main"], 1);
    assert!(
        err.contains("would be overwritten by switching to 'main'"),
        "{err}"
    );
    assert!(err.contains("\n  a\n"), "{err}");
    assert!(err.contains("hint: "), "{err}");
    let s = d.status();
    assert_eq!(s["head"], "refs/heads/feature");
    assert_eq!(s["unstaged"][0]["table"], "a");

    let err = d.fails(&["switch", "nope"], 1);
    assert!(err.contains("no branch named 'nope'"), "{err}");
    let err = d.fails(&["switch", "HEAD~1"], 1);
    assert!(err.contains("is not a branch"), "{err}");
    assert!(err.contains("switch -c"), "{err}");
    let err = d.fails(&["switch", "-c", "main"], 1);
    assert!(err.contains("already exists"), "{err}");
    d.fails(&["switch"], 2);

    // switch -c with a start point.
    d.ok(&["reset", "--hard"]);
    d.ok(&["switch", "-c", "from-main", "main"]);
    assert!(d.ok(&["log", "--oneline", "-n", "1"]).contains("base"));
    let reflog = d.ok(&["reflog"]);
    assert!(
        reflog.contains("checkout: moving from feature to from-main"),
        "{reflog}"
    );
}

#[test]
fn switch_on_an_unborn_branch() {
    let d = Demo::new();
    d.set_tables(&[("a", Some("1"))]);
    d.ok(&["switch", "-c", "other"]);
    let s = d.status();
    assert_eq!(s["head"], "refs/heads/other");
    assert_eq!(s["unstaged"][0]["table"], "a");
    let out = d.ok(&["commit", "-a", "-m", "first"]);
    assert!(out.starts_with("[other (root-commit) "), "{out}");
}

#[test]
fn tags_lightweight_annotated_list_delete() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("a", Some("1"))], "one");
    d.commit_tables(&[("a", Some("2"))], "two");
    d.ok(&["tag", "v1", "HEAD~1"]);
    d.ok(&["tag", "-a", "-m", "second", "v2"]);
    d.ok(&["tag", "-m", "implied annotate", "v3"]);
    assert_eq!(d.ok(&["tag"]), "v1\nv2\nv3\n");
    assert!(
        d.ok(&["log", "--oneline", "-n", "1", "v1"])
            .starts_with(&c1)
    );
    // An annotated tag is a tag object that peels to its commit.
    let refs = d.ok(&["show-ref", "refs/tags/v2"]);
    let tag_id = refs.split_whitespace().last().unwrap().to_string();
    let obj = d.ok(&["cat-object", &tag_id]);
    assert!(obj.contains("second"), "{obj}");
    assert_eq!(d.rev("v2"), d.rev("HEAD"));
    let err = d.fails(&["tag", "v1"], 1);
    assert!(err.contains("tag 'v1' already exists"), "{err}");
    d.ok(&["tag", "-f", "v1"]);
    assert_eq!(d.rev("v1"), d.rev("HEAD"));
    let out = d.ok(&["tag", "-d", "v1"]);
    assert!(out.starts_with("Deleted tag 'v1'"), "{out}");
    assert_eq!(d.ok(&["tag"]), "v2\nv3\n");
    d.ok(&["tag", "light", "HEAD~1"]);
    assert_eq!(
        d.ok(&["tag", "-n"]),
        "light one\nv2    second\nv3    implied annotate\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&d.ok(&["tag", "--format", "json"])).unwrap();
    assert_eq!(json[0]["name"], "light");
    assert_eq!(json[0]["annotated"], false);
    assert_eq!(json[0]["commit"].as_str().unwrap(), d.rev("HEAD~1"));
    assert_eq!(json[1]["annotated"], true);
    assert_eq!(json[1]["message"], "second");
    assert_eq!(json[1]["tagger"]["name"], "Test User");
    assert_eq!(json[1]["commit"].as_str().unwrap(), d.rev("HEAD"));
    assert_ne!(json[1]["target"], json[1]["commit"]);
    d.ok(&["tag", "-d", "light"]);
    let err = d.fails(&["tag", "-d", "v1"], 1);
    assert!(err.contains("tag 'v1' not found"), "{err}");
    let err = d.fails(&["tag", "-a", "v9"], 2);
    assert!(err.contains("needs a message"), "{err}");
    let err = d.fails(&["tag", "x", "nope"], 1);
    assert!(err.contains("unknown revision 'nope'"), "{err}");
}

#[test]
fn detached_head_commits_and_switching_back() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("a", Some("1"))], "one");
    d.commit_tables(&[("a", Some("2"))], "two");
    let out = d.ok(&["switch", "--detach", "HEAD~1"]);
    assert_eq!(out, format!("HEAD is now at {c1} (detached)\n"));
    let s = d.status();
    assert_eq!(s["detached"], true);
    assert!(
        d.ok(&["status"])
            .starts_with(&format!("HEAD detached at {c1}"))
    );
    assert!(
        d.ok(&["branch"])
            .contains(&format!("* (HEAD detached at {c1})"))
    );
    let out = d.ok(&["commit", "--allow-empty", "-m", "on detached"]);
    assert!(out.starts_with("[detached HEAD "), "{out}");
    let oneline = d.ok(&["log", "--oneline", "-n", "1"]);
    assert!(oneline.contains("(HEAD) on detached"), "{oneline}");
    // Keep the detached work on a branch, then go back to main.
    d.ok(&["switch", "-c", "kept"]);
    d.ok(&["switch", "main"]);
    assert!(
        d.ok(&["log", "--oneline", "-n", "1", "kept"])
            .contains("on detached")
    );
    d.fails(&["switch", "--detach"], 2);
    let err = d.fails(&["switch", "--detach", "nope"], 1);
    assert!(err.contains("unknown revision 'nope'"), "{err}");
}

#[test]
fn head_reflog_positions_across_switches() {
    let d = Demo::new();
    let a = d.commit_tables(&[("a", Some("1"))], "a");
    d.ok(&["branch", "side"]);
    let b = d.commit_tables(&[("a", Some("2"))], "b");
    d.ok(&["switch", "side"]);
    let c = d.commit_tables(&[("a", Some("3"))], "c");
    let one = |rev: &str| d.ok(&["log", "--oneline", "-n", "1", rev]);
    // HEAD@{0}: commit c; @{1}: switch to side (at a); @{2}: commit b; @{3}: commit a.
    assert!(one("HEAD@{0}").starts_with(&c));
    assert!(one("HEAD@{1}").starts_with(&a), "{}", d.ok(&["reflog"]));
    assert!(one("HEAD@{2}").starts_with(&b));
    assert!(one("HEAD@{3}").starts_with(&a));
    assert!(one("side@{1}").starts_with(&a));
}
