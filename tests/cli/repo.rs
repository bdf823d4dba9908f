//! init, discovery, KODIAK_DIR and the not-a-repository error.

use crate::common::TestEnv;

#[test]
fn init_then_show_ref_shows_unborn_head() {
    let env = TestEnv::new();
    let out = env.ok(&["init", "demo"]);
    assert!(
        out.contains("Initialized empty kodiak repository in"),
        "{out}"
    );
    assert!(out.contains(".kodiak"), "{out}");
    let demo = env.path("demo");
    for f in ["FORMAT", "config", "lock", "db"] {
        assert!(demo.join(".kodiak").join(f).exists(), "missing {f}");
    }
    assert_eq!(
        env.ok(&["-C", "demo", "show-ref"]),
        "HEAD -> refs/heads/main (unborn)\n"
    );
    let json = env.ok(&["-C", "demo", "show-ref", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["name"], "HEAD");
    assert_eq!(v[0]["symbolic"], "refs/heads/main");
    assert!(v[0]["target"].is_null());
}

#[test]
fn initial_branch_option_and_config() {
    let env = TestEnv::new();
    env.ok(&["init", "a", "--initial-branch", "trunk"]);
    assert_eq!(
        env.ok(&["-C", "a", "show-ref"]),
        "HEAD -> refs/heads/trunk (unborn)\n"
    );
    env.ok(&["init", "b", "-b", "dev/x"]);
    assert_eq!(
        env.ok(&["-C", "b", "show-ref"]),
        "HEAD -> refs/heads/dev/x (unborn)\n"
    );
    env.ok(&["config", "--global", "init.defaultBranch", "primary"]);
    env.ok(&["init", "c"]);
    assert_eq!(
        env.ok(&["-C", "c", "show-ref"]),
        "HEAD -> refs/heads/primary (unborn)\n"
    );
    let err = env.fails(&["init", "d", "-b", "bad..name"], 1);
    assert!(
        err.contains("invalid ref name 'refs/heads/bad..name'"),
        "{err}"
    );
    assert!(!env.path("d").exists());
}

#[test]
fn init_in_cwd_and_refusing_an_existing_repo() {
    let env = TestEnv::new();
    env.ok(&["init"]);
    assert!(env.path(".kodiak").is_dir());
    let err = env.fails(&["init"], 1);
    assert!(
        err.starts_with("error: a kodiak repository already exists at"),
        "{err}"
    );
    assert!(err.contains(".kodiak"), "{err}");
    let err = env.fails(&["init", "."], 1);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn commands_outside_a_repository_fail_clearly() {
    let env = TestEnv::new();
    let cwd = env.cwd.display().to_string();
    for args in [
        &["show-ref"][..],
        &["cat-object", "abcd"],
        &["reflog"],
        &["update-ref", "refs/heads/main", "abcd"],
        &["config", "user.name", "x"],
    ] {
        let err = env.fails(args, 1);
        assert_eq!(
            err,
            format!(
                "error: not a kodiak repository (or any parent up to /): {cwd}\nhint: run 'kodiak init' to create one\n"
            ),
            "{args:?}"
        );
    }
}

#[test]
fn discovery_walks_up_from_subdirectories() {
    let env = TestEnv::new();
    env.init_demo();
    std::fs::create_dir_all(env.path("demo/x/y")).unwrap();
    assert_eq!(
        env.ok(&["-C", "demo/x/y", "show-ref"]),
        "HEAD -> refs/heads/main (unborn)\n"
    );
    let err = env.fails(&["-C", "nope", "show-ref"], 1);
    assert!(err.contains("no such directory"), "{err}");
}

#[test]
fn kodiak_dir_selects_the_repository() {
    let mut env = TestEnv::new();
    env.ok(&["init", "demo", "-b", "viaenv"]);
    env.set_env("KODIAK_DIR", "demo");
    assert_eq!(
        env.ok(&["show-ref"]),
        "HEAD -> refs/heads/viaenv (unborn)\n"
    );
    let mut env2 = TestEnv::new();
    env2.ok(&["init", "demo"]);
    let dot = env2.path("demo/.kodiak").display().to_string();
    env2.set_env("KODIAK_DIR", &dot);
    assert_eq!(env2.ok(&["show-ref"]), "HEAD -> refs/heads/main (unborn)\n");
    let mut env3 = TestEnv::new();
    env3.set_env("KODIAK_DIR", "missing");
    let err = env3.fails(&["show-ref"], 1);
    assert!(err.contains("(from KODIAK_DIR)"), "{err}");
    // init honours KODIAK_DIR when no directory is given.
    env3.ok(&["init"]);
    assert!(env3.path("missing/.kodiak").is_dir());
}

#[test]
fn incomplete_repository_is_reported() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path(".kodiak")).unwrap();
    let err = env.fails(&["show-ref"], 1);
    assert!(err.contains("FORMAT is missing"), "{err}");
}
