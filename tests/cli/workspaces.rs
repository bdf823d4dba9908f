//! workspace and snapshot commands.

use super::loop_helpers::Demo;

#[test]
fn workspaces_keep_their_own_state() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("a", Some("1"))], "base");
    let out = d.ok(&["workspace", "create", "exp"]);
    assert_eq!(out, format!("Created workspace 'exp' at {c1}\n"));
    let err = d.fails(&["workspace", "create", "exp"], 1);
    assert!(err.contains("already exists"), "{err}");

    // Uncommitted work in default stays there.
    d.set_tables(&[("a", Some("default wip"))]);
    d.ok(&["workspace", "switch", "exp"]);
    let s = d.status();
    assert_eq!(s["workspace"], "exp");
    assert_eq!(s["head"], "refs/workspaces/exp");
    assert_eq!(s["clean"], true);
    let out = d.ok(&["status"]);
    assert!(
        out.starts_with("Workspace exp\nOn workspace tip exp"),
        "{out}"
    );

    // Commits in exp move refs/workspaces/exp, not main.
    let c2 = d.commit_tables(&[("b", Some("2"))], "in exp");
    assert_eq!(
        d.ok(&["show-ref", "refs/workspaces/"]),
        format!("refs/workspaces/exp {}\n", d.rev("HEAD"))
    );
    assert!(
        d.ok(&["log", "--oneline", "-n", "1", "main"])
            .starts_with(&c1)
    );
    d.set_tables(&[("c", Some("exp wip"))]);

    assert!(d.ok(&["branch"]).ends_with("* (on workspace tip exp)\n"));
    let list = d.ok(&["workspace", "list"]);
    assert!(list.contains("  default"), "{list}");
    assert!(list.contains("* exp"), "{list}");
    assert!(list.contains("uncommitted changes"), "{list}");
    let json: serde_json::Value =
        serde_json::from_str(&d.ok(&["workspace", "list", "--format", "json"])).unwrap();
    assert_eq!(json[0]["name"], "default");
    assert_eq!(json[0]["current"], false);
    assert_eq!(json[0]["head"], "refs/heads/main");
    assert_eq!(json[1]["name"], "exp");
    assert_eq!(json[1]["current"], true);
    assert_eq!(json[1]["head"], "refs/workspaces/exp");
    assert_eq!(json[1]["dirty"], true);
    assert_eq!(json[1]["commit"].as_str().unwrap(), d.rev("HEAD"));
    let info = d.ok(&["workspace", "info", "default"]);
    assert!(info.contains("HEAD:      ref: refs/heads/main"), "{info}");
    assert!(info.contains("uncommitted changes"), "{info}");

    d.ok(&["workspace", "switch", "default"]);
    let s = d.status();
    assert_eq!(s["unstaged"][0]["table"], "a");
    assert_eq!(s["unstaged"].as_array().unwrap().len(), 1);

    // Fast-forward merge brings exp's commit into main, carrying default's wip.
    let out = d.ok(&["workspace", "merge", "exp"]);
    assert_eq!(out, format!("Fast-forward to {c2}\n"));
    assert!(d.ok(&["log", "--oneline", "-n", "1"]).starts_with(&c2));
    assert_eq!(d.status()["unstaged"][0]["table"], "a");
    assert_eq!(
        d.ok(&["workspace", "merge", "exp"]),
        "Already up to date.\n"
    );

    // Diverged histories get a three-way merge commit.
    d.ok(&["commit", "-a", "-m", "default work"]);
    d.ok(&["workspace", "switch", "exp"]);
    d.ok(&["commit", "-a", "-m", "exp work"]);
    d.ok(&["workspace", "switch", "default"]);
    let out = d.ok(&["workspace", "merge", "exp"]);
    assert!(out.contains("Merge workspace exp into main"), "{out}");

    // Deleting: not the current one; not with uncommitted work unless forced.
    let err = d.fails(&["workspace", "delete", "default"], 1);
    assert!(err.contains("it is the current workspace"), "{err}");
    d.ok(&["workspace", "switch", "exp"]);
    d.set_tables(&[("z", Some("wip"))]);
    d.ok(&["workspace", "switch", "default"]);
    let err = d.fails(&["workspace", "delete", "exp"], 1);
    assert!(err.contains("uncommitted changes"), "{err}");
    assert!(err.contains("--force"), "{err}");
    d.ok(&["workspace", "delete", "--force", "exp"]);
    assert_eq!(d.ok(&["show-ref", "refs/workspaces/"]), "");
    let err = d.fails(&["workspace", "switch", "exp"], 1);
    assert!(err.contains("workspace 'exp' does not exist"), "{err}");
    let err = d.fails(&["workspace", "info", "nope"], 1);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn workspace_from_rev_and_branch_exclusivity() {
    let d = Demo::new();
    let c1 = d.commit_tables(&[("a", Some("1"))], "one");
    d.commit_tables(&[("a", Some("2"))], "two");
    d.ok(&["workspace", "create", "old", "--from", "HEAD~1"]);
    d.ok(&["workspace", "switch", "old"]);
    assert!(d.ok(&["log", "--oneline"]).starts_with(&c1));
    // main is checked out in the default workspace.
    let err = d.fails(&["switch", "main"], 1);
    assert!(
        err.contains("already checked out in workspace 'default'"),
        "{err}"
    );
    let err = d.fails(&["workspace", "create", "bad", "--from", "nope"], 1);
    assert!(err.contains("unknown revision"), "{err}");
    let err = d.fails(&["workspace", "create", "a/b"], 1);
    assert!(err.contains("invalid workspace name"), "{err}");
}

#[test]
fn snapshots_capture_and_restore_uncommitted_work() {
    let d = Demo::new();
    d.commit_tables(&[("a", Some("1"))], "one");
    d.set_tables(&[("a", Some("wip")), ("b", Some("new"))]);
    let out = d.ok(&["snapshot", "create", "before-cleanup", "-m", "keep this"]);
    assert!(out.starts_with("Saved snapshot 'before-cleanup'"), "{out}");
    let err = d.fails(&["snapshot", "create", "before-cleanup"], 1);
    assert!(err.contains("already exists"), "{err}");
    // Creating a snapshot does not change the working state.
    assert_eq!(d.status()["unstaged"].as_array().unwrap().len(), 2);

    let list = d.ok(&["snapshot", "list"]);
    assert_eq!(
        list,
        "before-cleanup\t2023-11-14T22:13:20+00:00\tmain\ta,b\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&d.ok(&["snapshot", "list", "--json"])).unwrap();
    assert_eq!(v[0]["message"], "keep this");
    assert_eq!(v[0]["source"], "refs/heads/main");
    assert_eq!(v[0]["workspace"], "default");

    // Restoring over uncommitted work needs --force.
    d.set_tables(&[("c", Some("other"))]);
    let err = d.fails(&["snapshot", "restore", "before-cleanup"], 1);
    assert!(err.contains("would overwrite uncommitted changes"), "{err}");
    d.ok(&["reset", "--hard"]);
    d.ok(&["snapshot", "restore", "before-cleanup"]);
    let s = d.status();
    let tables: Vec<_> = s["unstaged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["table"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tables, vec!["a", "b"]);
    d.set_tables(&[("c", Some("other"))]);
    d.ok(&["snapshot", "restore", "--force", "before-cleanup"]);
    assert_eq!(d.status()["unstaged"].as_array().unwrap().len(), 2);

    d.ok(&["snapshot", "delete", "before-cleanup"]);
    assert_eq!(d.ok(&["snapshot", "list"]), "");
    let err = d.fails(&["snapshot", "delete", "before-cleanup"], 1);
    assert!(err.contains("snapshot 'before-cleanup' not found"), "{err}");
    let err = d.fails(&["snapshot", "restore", "nope"], 1);
    assert!(err.contains("not found"), "{err}");
}
