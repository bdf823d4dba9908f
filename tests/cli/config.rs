//! `kodiak config` and the identity/time environment overrides.

use crate::common::TestEnv;

#[test]
fn repo_config_get_set_unset_list() {
    let env = TestEnv::new();
    env.init_demo();
    env.ok(&["-C", "demo", "config", "user.name", "Repo Person"]);
    assert_eq!(
        env.ok(&["-C", "demo", "config", "user.name"]),
        "Repo Person\n"
    );
    assert_eq!(
        env.ok(&["-C", "demo", "config", "USER.NAME"]),
        "Repo Person\n"
    );
    let text = std::fs::read_to_string(env.path("demo/.kodiak/config")).unwrap();
    assert_eq!(text, "[user]\n\tname = Repo Person\n");
    env.ok(&["-C", "demo", "config", "remote.origin.url", "/srv/x"]);
    assert_eq!(
        env.ok(&["-C", "demo", "config", "--list"]),
        "user.name=Repo Person\nremote.origin.url=/srv/x\n"
    );
    env.ok(&["-C", "demo", "config", "--unset", "user.name"]);
    let err = env.fails(&["-C", "demo", "config", "user.name"], 1);
    assert_eq!(err, "error: user.name is not set\n");
    let err = env.fails(&["-C", "demo", "config", "--unset", "user.name"], 1);
    assert!(err.contains("is not set"), "{err}");
    let err = env.fails(&["-C", "demo", "config", "nodot", "x"], 1);
    assert!(err.contains("invalid config key 'nodot'"), "{err}");
}

#[test]
fn global_config_and_layering() {
    let env = TestEnv::new();
    env.ok(&["config", "--global", "user.email", "g@example.com"]);
    env.ok(&["config", "--global", "user.name", "Global"]);
    assert!(env.global_config().is_file());
    // Reading works outside a repository.
    assert_eq!(env.ok(&["config", "user.email"]), "g@example.com\n");
    env.init_demo();
    env.ok(&["-C", "demo", "config", "user.name", "Local"]);
    assert_eq!(env.ok(&["-C", "demo", "config", "user.name"]), "Local\n");
    assert_eq!(
        env.ok(&["-C", "demo", "config", "--global", "user.name"]),
        "Global\n"
    );
    assert_eq!(
        env.ok(&["-C", "demo", "config", "user.email"]),
        "g@example.com\n"
    );
    assert_eq!(
        env.ok(&["-C", "demo", "config", "--list"]),
        "user.email=g@example.com\nuser.name=Global\nuser.name=Local\n"
    );
}

#[test]
fn global_config_location_falls_back_to_xdg_and_home() {
    let mut env = TestEnv::new();
    env.set_env("KODIAK_CONFIG_HOME", "");
    env.ok(&["config", "--global", "a.b", "xdg"]);
    assert!(env.root().join("xdg/kodiak/config").is_file());
    env.set_env("XDG_CONFIG_HOME", "");
    env.ok(&["config", "--global", "a.b", "home"]);
    assert!(env.root().join("home/.config/kodiak/config").is_file());
}

#[test]
fn identity_and_time_come_from_env_over_config() {
    let mut env = TestEnv::new();
    env.init_demo();
    env.ok(&["-C", "demo", "config", "user.name", "Configured"]);
    env.ok(&["-C", "demo", "config", "user.email", "c@example.com"]);
    let blob_id = {
        let repo = env.open_repo(&env.path("demo"));
        let id = repo
            .store()
            .put(&kodiak::object::Blob {
                data: b"x".to_vec(),
            })
            .unwrap();
        repo.close().unwrap();
        id
    };
    env.set_env("KODIAK_TIMESTAMP", "1700000000 +0530");
    env.ok(&[
        "-C",
        "demo",
        "update-ref",
        "refs/heads/a",
        &blob_id.to_hex(),
        "-m",
        "first",
    ]);
    let log = env.ok(&["-C", "demo", "reflog", "refs/heads/a"]);
    assert_eq!(
        log,
        format!(
            "refs/heads/a@{{0}}: first -> {blob_id} (Test User <test@example.com>, 2023-11-15T03:43:20+05:30)\n"
        )
    );
    env.set_env("KODIAK_AUTHOR_NAME", "");
    env.set_env("KODIAK_AUTHOR_EMAIL", "");
    env.ok(&[
        "-C",
        "demo",
        "update-ref",
        "refs/heads/b",
        &blob_id.to_hex(),
    ]);
    let log = env.ok(&["-C", "demo", "reflog", "refs/heads/b"]);
    assert!(log.contains("(Configured <c@example.com>, "), "{log}");
    env.set_env("KODIAK_TIMESTAMP", "yesterday");
    let err = env.fails(
        &[
            "-C",
            "demo",
            "update-ref",
            "refs/heads/c",
            &blob_id.to_hex(),
        ],
        1,
    );
    assert!(
        err.contains("invalid KODIAK_TIMESTAMP 'yesterday'"),
        "{err}"
    );
}
