//! update-ref, show-ref and reflog through the CLI.

use kodiak::object::Blob;

use crate::common::TestEnv;

fn two_blobs(env: &TestEnv) -> (String, String) {
    let repo = env.open_repo(&env.path("demo"));
    let a = repo
        .store()
        .put(&Blob {
            data: b"a".to_vec(),
        })
        .unwrap();
    let b = repo
        .store()
        .put(&Blob {
            data: b"b".to_vec(),
        })
        .unwrap();
    repo.close().unwrap();
    (a.to_hex(), b.to_hex())
}

#[test]
fn update_ref_show_ref_and_reflog() {
    let env = TestEnv::new();
    env.init_demo();
    let (a, b) = two_blobs(&env);
    env.ok(&[
        "-C",
        "demo",
        "update-ref",
        "refs/heads/main",
        &a[..10],
        "--old",
        "none",
        "-m",
        "create",
    ]);
    env.ok(&["-C", "demo", "update-ref", "refs/tags/v1", &b]);
    assert_eq!(
        env.ok(&["-C", "demo", "show-ref"]),
        format!("HEAD -> refs/heads/main {a}\nrefs/heads/main {a}\nrefs/tags/v1 {b}\n")
    );
    assert_eq!(
        env.ok(&["-C", "demo", "show-ref", "refs/tags/"]),
        format!("refs/tags/v1 {b}\n")
    );

    // A stale compare-and-swap is refused and changes nothing.
    let err = env.fails(
        &[
            "-C",
            "demo",
            "update-ref",
            "refs/heads/main",
            &b,
            "--old",
            &b,
        ],
        1,
    );
    assert!(
        err.starts_with(&format!(
            "error: refs/heads/main was changed concurrently: expected {b}, found {a}"
        )),
        "{err}"
    );
    assert!(err.contains("hint: "), "{err}");
    env.ok(&[
        "-C",
        "demo",
        "update-ref",
        "refs/heads/main",
        &b,
        "--old",
        &a,
        "-m",
        "advance",
    ]);
    assert_eq!(
        env.ok(&["-C", "demo", "reflog", "refs/heads/main"]),
        format!(
            "refs/heads/main@{{0}}: advance -> {b} (Test User <test@example.com>, 2023-11-14T22:13:20+00:00)\n\
             refs/heads/main@{{1}}: create -> {a} (Test User <test@example.com>, 2023-11-14T22:13:20+00:00)\n"
        )
    );

    // Detach HEAD, then delete the tag.
    env.ok(&["-C", "demo", "update-ref", "HEAD", &a, "-m", "detach"]);
    let out = env.ok(&["-C", "demo", "show-ref", "HEAD"]);
    assert_eq!(out, format!("HEAD {a}\n"));
    env.ok(&["-C", "demo", "update-ref", "-d", "refs/tags/v1"]);
    assert_eq!(env.ok(&["-C", "demo", "show-ref", "refs/tags/"]), "");
    let head_log = env.ok(&["-C", "demo", "reflog"]);
    // Moves of the branch HEAD is on are logged in HEAD's reflog too (like git).
    assert_eq!(head_log.lines().count(), 4, "{head_log}");
    assert!(
        head_log.contains(&format!("HEAD@{{1}}: advance -> {b} ")),
        "{head_log}"
    );
    assert!(
        head_log.starts_with(&format!("HEAD@{{0}}: detach -> {a} ")),
        "{head_log}"
    );
    assert!(
        head_log.contains("HEAD@{3}: init -> ref: refs/heads/main "),
        "{head_log}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.ok(&["-C", "demo", "reflog", "--json"])).unwrap();
    assert_eq!(json[0]["new"]["id"], a.as_str());
    assert_eq!(json[3]["new"]["symbolic"], "refs/heads/main");
    assert!(json[3]["old"].is_null());
}

#[test]
fn bad_ref_names_and_values() {
    let env = TestEnv::new();
    env.init_demo();
    let err = env.fails(&["-C", "demo", "update-ref", "refs/heads/a..b", "abcd"], 1);
    assert!(
        err.contains("invalid ref name 'refs/heads/a..b': it contains '..'"),
        "{err}"
    );
    let err = env.fails(&["-C", "demo", "update-ref", "main", "abcd"], 1);
    assert!(err.contains("full ref names live under"), "{err}");
    let err = env.fails(&["-C", "demo", "update-ref", "refs/heads/x", "ffff"], 1);
    assert!(err.contains("no object matches 'ffff'"), "{err}");
    let err = env.fails(&["-C", "demo", "update-ref", "HEAD", "ref:refs/tags/v1"], 1);
    assert!(
        err.contains("HEAD can only be symbolic to a branch"),
        "{err}"
    );
    env.ok(&["-C", "demo", "update-ref", "HEAD", "ref:refs/heads/other"]);
    assert_eq!(
        env.ok(&["-C", "demo", "show-ref"]),
        "HEAD -> refs/heads/other (unborn)\n"
    );
}
