//! zstd dictionary frames end to end: a large import trains the repository's dictionary,
//! bundles carry it, clone and fetch adopt or keep dictionaries, old (version 2) bundles read.

use std::path::PathBuf;

use crate::common::TestEnv;

/// CSV of `rows` bench-like rows; `salt` changes every name (another table, another
/// dictionary).
fn csv(rows: u32, salt: &str) -> String {
    let mut out = String::from("id,name,qty,price\n");
    for i in 0..rows {
        out.push_str(&format!(
            "{i},{salt} name {i},{},{}.{}\n",
            i * 7 % 1000,
            i / 3,
            i % 100
        ));
    }
    out
}

fn import(env: &TestEnv, repo: &str, table: &str, text: &str, extra: &[&str]) {
    let file = env.path(&format!("{repo}-{table}-{}.csv", text.len()));
    std::fs::write(&file, text).unwrap();
    let file = file.to_string_lossy().into_owned();
    let mut args = vec!["-C", repo, "table", "import", table, &file];
    args.extend_from_slice(extra);
    env.ok(&args);
}

/// The dictionary id a repository's record names, if any.
fn recorded(env: &TestEnv, repo: &str) -> Option<String> {
    let text = std::fs::read_to_string(env.path(&format!("{repo}/.kodiak/dictionary"))).ok()?;
    let id = text.strip_prefix("zstd-dictionary ")?.strip_suffix('\n')?;
    assert_eq!(id.len(), 64, "{text:?}");
    Some(id.to_string())
}

fn rows(env: &TestEnv, repo: &str, table: &str) -> String {
    env.ok(&[
        "-C", repo, "table", "show", table, "--format", "csv", "--limit", "0",
    ])
}

/// Repository `demo` with a 12,000-row table `items` (enough leaves to train), committed
/// and tagged `v1`.
fn demo() -> TestEnv {
    let env = TestEnv::new();
    env.init_demo();
    import(&env, "demo", "items", &csv(12_000, "a"), &["--pk", "id"]);
    env.ok(&["-C", "demo", "commit", "-a", "-m", "items"]);
    env.ok(&["-C", "demo", "tag", "v1"]);
    env
}

#[test]
fn a_large_import_trains_a_dictionary_that_bundles_carry_to_clones() {
    let env = demo();
    let dict = recorded(&env, "demo").expect("the import trained a dictionary");
    let shown = env.ok(&["-C", "demo", "cat-object", &dict]);
    assert!(
        shown.starts_with(&format!("dictionary {dict}\n")),
        "{shown}"
    );
    assert!(shown.contains(&format!("tag {}", &dict[..8])), "{shown}");

    env.ok(&["-C", "demo", "pack", "-o", "../full.kdk"]);
    let out = env.ok(&["bundle", "verify", "full.kdk"]);
    assert!(out.contains("is okay"), "{out}");
    env.ok(&["clone", "full.kdk", "copy"]);
    assert_eq!(recorded(&env, "copy").as_deref(), Some(dict.as_str()));
    assert_eq!(rows(&env, "copy", "items"), rows(&env, "demo", "items"));

    // An incremental bundle after a small change carries the dictionary its new leaves need
    // and stays small; the clone fetches it.
    import(
        &env,
        "demo",
        "items",
        "id,name,qty,price\n5,changed,1,2.5\n",
        &["--update"],
    );
    env.ok(&["-C", "demo", "commit", "-a", "-m", "change"]);
    env.ok(&["-C", "demo", "pack", "--since", "v1", "-o", "../inc.kdk"]);
    let size = std::fs::metadata(env.path("inc.kdk")).unwrap().len();
    assert!(size < 50_000, "{size}");
    env.ok(&["-C", "copy", "fetch", "../inc.kdk"]);
    env.ok(&["-C", "copy", "merge", "origin/main"]);
    assert_eq!(rows(&env, "copy", "items"), rows(&env, "demo", "items"));
}

#[test]
fn fetch_into_a_repository_with_another_dictionary_keeps_both() {
    let env = demo();
    let theirs = recorded(&env, "demo").unwrap();
    env.ok(&["-C", "demo", "pack", "-o", "../full.kdk"]);
    env.ok(&["init", "other"]);
    import(
        &env,
        "other",
        "stock",
        &csv(12_000, "zz other"),
        &["--pk", "id"],
    );
    env.ok(&["-C", "other", "commit", "-a", "-m", "stock"]);
    let ours = recorded(&env, "other").unwrap();
    assert_ne!(ours, theirs);
    env.ok(&["-C", "other", "fetch", "../full.kdk"]);
    // Our dictionary stays active; theirs is stored and reads their objects.
    assert_eq!(recorded(&env, "other").as_deref(), Some(ours.as_str()));
    let shown = env.ok(&["-C", "other", "cat-object", &theirs]);
    assert!(shown.starts_with("dictionary"), "{shown}");
    env.ok(&["-C", "other", "merge", "origin/main", "-m", "both"]);
    assert_eq!(rows(&env, "other", "items"), rows(&env, "demo", "items"));
    // New writes use our dictionary; a full bundle of both carries both dictionaries.
    env.ok(&["-C", "other", "pack", "-o", "../both.kdk"]);
    env.ok(&["clone", "both.kdk", "both"]);
    assert_eq!(rows(&env, "both", "stock"), rows(&env, "other", "stock"));
    assert_eq!(rows(&env, "both", "items"), rows(&env, "demo", "items"));
}

#[test]
fn a_fetch_into_a_repository_without_a_dictionary_adopts_the_bundles() {
    let env = demo();
    let theirs = recorded(&env, "demo").unwrap();
    env.ok(&["-C", "demo", "pack", "-o", "../full.kdk"]);
    env.ok(&["init", "empty"]);
    assert_eq!(recorded(&env, "empty"), None);
    env.ok(&["-C", "empty", "fetch", "../full.kdk"]);
    assert_eq!(recorded(&env, "empty").as_deref(), Some(theirs.as_str()));
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/bundles")
        .join(name)
}

#[test]
fn version_2_bundles_still_clone_and_fetch() {
    let env = TestEnv::new();
    let full = fixture("v2-full.kdk").to_string_lossy().into_owned();
    let inc = fixture("v2-incremental.kdk").to_string_lossy().into_owned();
    let out = env.ok(&["bundle", "verify", &full]);
    assert!(out.contains("is okay"), "{out}");
    env.ok(&["clone", &full, "copy"]);
    assert_eq!(recorded(&env, "copy"), None);
    let table = rows(&env, "copy", "people");
    assert!(table.contains("5,name 5,35"), "{table}");
    env.ok(&["-C", "copy", "fetch", &inc]);
    env.ok(&["-C", "copy", "merge", "origin/main"]);
    let table = rows(&env, "copy", "people");
    assert!(table.contains("5,changed,1"), "{table}");
    assert_eq!(table.lines().count(), 301, "{table}");
}

#[test]
fn a_missing_dictionary_is_reported_with_its_object() {
    let env = demo();
    let dict = recorded(&env, "demo").unwrap();
    {
        let repo = env.open_repo(&env.path("demo"));
        let id = kodiak::id::ObjectId::from_hex(&dict).unwrap();
        repo.store().backend().remove(&id).unwrap();
        repo.store().flush().unwrap();
    }
    // Reading a node compressed with it names the node and the dictionary's tag.
    let err = env.fails(
        &["-C", "demo", "table", "show", "items", "--limit", "0"],
        255,
    );
    assert!(err.contains("is corrupt"), "{err}");
    assert!(err.contains(&format!("dictionary {}", &dict[..8])), "{err}");
    assert!(err.contains("missing"), "{err}");
    // Writing needs the active dictionary the record names: the error names the record.
    let file = env.path("one.csv");
    std::fs::write(&file, "id,name,qty,price\n1,x,1,1.5\n").unwrap();
    let file = file.to_string_lossy().into_owned();
    env.ok(&["init", "fresh"]);
    std::fs::write(
        env.path("fresh/.kodiak/dictionary"),
        format!("zstd-dictionary {dict}\n"),
    )
    .unwrap();
    let err = env.fails(
        &[
            "-C", "fresh", "table", "import", "items", &file, "--pk", "id",
        ],
        255,
    );
    assert!(
        err.contains(".kodiak/dictionary names dictionary") && err.contains("not stored"),
        "{err}"
    );
}
