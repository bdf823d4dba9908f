//! pack, bundle verify/list-refs, clone, unpack, fetch, pull; bad bundles change nothing.

use std::path::PathBuf;

use crate::common::TestEnv;

/// A TestEnv with repository `demo` holding table `people`, committed and tagged `v1`.
struct Env {
    env: TestEnv,
}

impl Env {
    fn new() -> Self {
        let env = TestEnv::new();
        env.init_demo();
        let e = Env { env };
        e.import(
            "demo",
            "people",
            "id,name\n1,ann\n2,bob\n3,cy\n",
            &["--pk", "id"],
        );
        e.ok(&["-C", "demo", "commit", "-a", "-m", "people"]);
        e.ok(&["-C", "demo", "tag", "v1"]);
        e
    }

    fn ok(&self, args: &[&str]) -> String {
        self.env.ok(args)
    }

    fn fails(&self, args: &[&str]) -> String {
        self.env.fails(args, 1)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.env.path(rel)
    }

    /// Imports CSV text into a table of the repository `repo` (extra args, e.g. `--pk id`).
    fn import(&self, repo: &str, table: &str, csv: &str, extra: &[&str]) {
        let file = self.path(&format!("{table}-{}.csv", csv.len()));
        std::fs::write(&file, csv).unwrap();
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["-C", repo, "table", "import", table, &file];
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    fn add_row(&self, repo: &str, id: u32, name: &str, msg: &str) {
        self.import(
            repo,
            "people",
            &format!("id,name\n{id},{name}\n"),
            &["--update"],
        );
        self.ok(&["-C", repo, "commit", "-a", "-m", msg]);
    }

    fn refs(&self, repo: &str) -> String {
        self.ok(&["-C", repo, "show-ref"])
    }

    /// The id `show-ref` lists for ref `name` in `repo`.
    fn ref_id(&self, repo: &str, name: &str) -> String {
        let refs = self.refs(repo);
        let line = refs
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {refs}"));
        line.split(' ').nth(1).unwrap().to_string()
    }

    fn rows(&self, repo: &str) -> String {
        self.ok(&[
            "-C", repo, "table", "show", "people", "--format", "csv", "--limit", "0",
        ])
    }

    fn bytes(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap()
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        std::fs::write(self.path(rel), bytes).unwrap();
    }
}

/// Recomputes a bundle's trailing BLAKE3 checksum after an edit.
fn reseal(bytes: &mut Vec<u8>) {
    let n = bytes.len() - 32;
    bytes.truncate(n);
    let sum = *blake3::hash(bytes).as_bytes();
    bytes.extend_from_slice(&sum);
}

#[test]
fn pack_verify_clone_round_trip() {
    let e = Env::new();
    let out = e.ok(&["-C", "demo", "pack"]);
    // The default name is the project's: the repository directory's name.
    assert!(out.contains("demo.kdk"), "{out}");
    assert!(out.contains("refs/heads/main"), "{out}");
    assert!(out.contains("refs/tags/v1"), "{out}");
    assert!(e.path("demo/demo.kdk").is_file());

    let out = e.ok(&["bundle", "verify", "demo/demo.kdk"]);
    assert!(out.contains("is okay"), "{out}");
    assert!(out.contains("complete history"), "{out}");
    assert!(
        out.contains("Created by Test User <test@example.com>"),
        "{out}"
    );
    let refs = e.ok(&["bundle", "list-refs", "demo/demo.kdk"]);
    assert!(refs.contains(" refs/heads/main\n"), "{refs}");
    assert!(refs.contains("HEAD -> refs/heads/main"), "{refs}");

    let out = e.ok(&["clone", "demo/demo.kdk", "copy"]);
    assert!(
        out.contains("[new branch]      main -> origin/main"),
        "{out}"
    );
    assert!(out.contains("[new tag]         v1 -> v1"), "{out}");
    assert!(out.contains("Switched to branch 'main'"), "{out}");
    let refs = e.refs("copy");
    let main_id = e.ref_id("demo", "refs/heads/main");
    assert!(
        refs.contains(&format!("HEAD -> refs/heads/main {main_id}")),
        "{refs}"
    );
    assert!(
        refs.contains(&format!("refs/remotes/origin/main {main_id}")),
        "{refs}"
    );
    assert!(refs.contains(&format!("refs/tags/v1 {main_id}")), "{refs}");
    assert_eq!(e.rows("copy"), e.rows("demo"));
    let status = e.ok(&["-C", "copy", "status"]);
    assert!(status.contains("nothing to commit"), "{status}");
    assert_eq!(
        e.ok(&["-C", "copy", "config", "branch.main.remote"]).trim(),
        "origin"
    );
    // fetch without a file uses the bundle remembered by clone.
    let out = e.ok(&["-C", "copy", "fetch"]);
    assert!(
        out.contains("[up to date]      main -> origin/main"),
        "{out}"
    );
    let err = e.env.fails(&["-C", "copy", "fetch", "--name", "other"], 2);
    assert!(
        err.contains("remote 'other' has no remembered bundle"),
        "{err}"
    );

    // unpack: the directory defaults to the bundle's name.
    std::fs::create_dir(e.path("elsewhere")).unwrap();
    std::fs::copy(e.path("demo/demo.kdk"), e.path("elsewhere/data.kdk")).unwrap();
    e.ok(&["-C", "elsewhere", "unpack", "data.kdk"]);
    assert_eq!(e.rows("elsewhere/data"), e.rows("demo"));

    // A clone into a non-empty directory is refused.
    let err = e.fails(&["clone", "demo/demo.kdk", "demo"]);
    assert!(err.contains("already exists and is not empty"), "{err}");
}

#[test]
fn selected_refs_and_explicit_output() {
    let e = Env::new();
    e.ok(&["-C", "demo", "branch", "side"]);
    let out = e.ok(&["-C", "demo", "pack", "--out", "only-side.kdk", "side"]);
    assert!(out.contains("refs/heads/side"), "{out}");
    assert!(!out.contains("refs/heads/main"), "{out}");
    let refs = e.ok(&["bundle", "list-refs", "demo/only-side.kdk"]);
    assert_eq!(refs.lines().count(), 1, "{refs}");
    // Clone checks out the only branch there is.
    let out = e.ok(&["clone", "demo/only-side.kdk", "c"]);
    assert!(out.contains("Switched to branch 'side'"), "{out}");
    let err = e.fails(&["-C", "demo", "pack", "nope"]);
    assert!(
        err.contains("cannot pack 'nope': no such branch or tag"),
        "{err}"
    );
    let err = e.env.fails(&["-C", "demo", "pack", "--all", "main"], 2);
    assert!(err.contains("not both"), "{err}");
    e.ok(&["init", "fresh"]);
    let err = e.fails(&["-C", "fresh", "pack"]);
    assert!(err.contains("nothing to pack"), "{err}");
    assert!(!e.path("fresh/fresh.kdk").exists());
}

#[test]
fn incremental_fetch_and_pull() {
    let e = Env::new();
    let big: String = std::iter::once("id,label\n".to_string())
        .chain((0..3000).map(|i| format!("{i},label number {i}\n")))
        .collect();
    e.import("demo", "big", &big, &["--pk", "id"]);
    e.ok(&["-C", "demo", "commit", "-a", "-m", "big"]);
    e.ok(&["-C", "demo", "tag", "-f", "v1"]);
    e.ok(&["-C", "demo", "pack", "-o", "full.kdk"]);
    e.ok(&["clone", "demo/full.kdk", "copy"]);
    // One row of the big table changes: its leaf and parents travel as deltas.
    e.import("demo", "big", "id,label\n1500,changed\n", &["--update"]);
    e.add_row("demo", 4, "dee", "add dee");
    let out = e.ok(&[
        "-C", "demo", "pack", "-o", "inc.kdk", "--since", "v1", "main",
    ]);
    assert!(out.contains("prerequisite "), "{out}");
    let verify = e.ok(&["-C", "copy", "bundle", "verify", "../demo/inc.kdk"]);
    assert!(
        verify.contains("requires 1 prerequisite commit (all present"),
        "{verify}"
    );

    // Outside a repository, the objects stored as deltas cannot be rebuilt: said so.
    let verify = e.ok(&["bundle", "verify", "demo/inc.kdk"]);
    assert!(verify.contains("is okay"), "{verify}");
    assert!(verify.contains("stored as deltas"), "{verify}");

    // A repository without the prerequisites refuses it and stays as it was.
    e.ok(&["init", "empty"]);
    let before = e.refs("empty");
    let err = e.fails(&["-C", "empty", "fetch", "../demo/inc.kdk"]);
    assert!(
        err.contains("lacks the bundle's prerequisite commit"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(e.refs("empty"), before);
    let err = e.fails(&["clone", "demo/inc.kdk", "nope"]);
    assert!(err.contains("is incremental"), "{err}");
    assert!(!e.path("nope").exists());

    // fetch moves the remote-tracking ref only.
    let out = e.ok(&["-C", "copy", "fetch", "../demo/inc.kdk"]);
    assert!(
        out.contains("..") && out.contains("main -> origin/main"),
        "{out}"
    );
    assert!(!e.rows("copy").contains("dee"));
    // pull (the bundle remembered from clone) fast-forwards main.
    let out = e.ok(&["-C", "copy", "pull", "../demo/inc.kdk"]);
    assert!(out.contains("Fast-forward"), "{out}");
    assert_eq!(e.rows("copy"), e.rows("demo"));
    let out = e.ok(&["-C", "copy", "pull", "../demo/inc.kdk"]);
    assert!(out.contains("Already up to date."), "{out}");

    // Diverged histories get a three-way merge commit with both parents.
    e.add_row("copy", 5, "eve", "local eve");
    e.add_row("demo", 6, "fay", "remote fay");
    e.ok(&["-C", "demo", "pack", "-o", "inc2.kdk", "--since", "v1"]);
    let out = e.ok(&["-C", "copy", "pull", "../demo/inc2.kdk"]);
    assert!(
        out.contains("Merge refs/remotes/origin/main into main"),
        "{out}"
    );
    let rows = e.rows("copy");
    assert!(rows.contains("eve") && rows.contains("fay"), "{rows}");
    let log: serde_json::Value =
        serde_json::from_str(&e.ok(&["-C", "copy", "log", "-n", "1", "--format", "json"])).unwrap();
    assert_eq!(log[0]["parents"].as_array().unwrap().len(), 2, "{log}");

    // The same row changed differently on both sides: pull stops with stored conflicts.
    e.import("copy", "people", "id,name\n6,fay-local\n", &["--update"]);
    e.ok(&["-C", "copy", "commit", "-a", "-m", "local fay"]);
    e.import("demo", "people", "id,name\n6,fay-remote\n", &["--update"]);
    e.ok(&["-C", "demo", "commit", "-a", "-m", "remote fay"]);
    e.ok(&["-C", "demo", "pack", "-o", "inc3.kdk", "--since", "v1"]);
    let err = e.fails(&["-C", "copy", "pull", "../demo/inc3.kdk"]);
    assert!(err.contains("pull stopped with conflicts"), "{err}");
    let conflicts = e.ok(&["-C", "copy", "conflicts"]);
    assert!(conflicts.contains("people"), "{conflicts}");
    e.ok(&["-C", "copy", "merge", "--abort"]);

    // A local tag with another target is kept, with a message.
    e.ok(&["-C", "demo", "tag", "-f", "v1", "main"]);
    e.ok(&["-C", "demo", "pack", "-o", "moved-tag.kdk"]);
    let out = e.ok(&["-C", "copy", "fetch", "../demo/moved-tag.kdk"]);
    assert!(out.contains("[rejected]        v1 -> v1"), "{out}");
}

#[test]
fn bad_bundles_change_nothing() {
    let e = Env::new();
    e.ok(&["-C", "demo", "pack", "-o", "../good.kdk"]);
    e.ok(&["init", "target"]);
    let good = e.bytes("good.kdk");
    let n = good.len();
    let header_len = u32::from_le_bytes(good[12..16].try_into().unwrap()) as usize;
    let chunk = 16 + header_len;

    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..n / 2].to_vec(), "truncated"),
        ("empty", Vec::new(), "truncated"),
        (
            "not-a-bundle",
            b"id,name\n1,a\n".to_vec(),
            "not a kodiak bundle",
        ),
    ];
    let mut flipped = good.clone();
    flipped[chunk + 20] ^= 0xff;
    cases.push(("corrupt", flipped, ""));
    let mut sum = good.clone();
    sum[n - 1] ^= 1;
    cases.push(("bad-checksum", sum, "checksum does not match"));
    let mut lying = good.clone();
    let raw = u32::from_le_bytes(lying[chunk + 1..chunk + 5].try_into().unwrap());
    lying[chunk + 1..chunk + 5].copy_from_slice(&(raw + 3).to_le_bytes());
    reseal(&mut lying);
    cases.push(("lying-length", lying, "ends inside a record header"));
    let mut absurd = good.clone();
    absurd[chunk + 1..chunk + 5].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut absurd);
    cases.push(("absurd-length", absurd, "declares 4294967295 bytes"));
    // A bundle of the old format (version 1, zstd-compressed chunks) is refused by name.
    let mut v1 = good.clone();
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    cases.push(("version-1", v1, "version 1 bundle"));
    let mut header = good.clone();
    header[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("absurd-header", header, "more than the limit"));
    // A bomb: a record whose stored value claims 100000 bytes but holds a tiny zstd frame of
    // 64 MiB of zeros.
    let z = zstd::encode_all(&vec![0u8; 64 << 20][..], 3).unwrap();
    let mut bomb = good[..chunk].to_vec();
    bomb.push(b'C');
    bomb.extend_from_slice(&(z.len() as u32 + 10).to_le_bytes());
    bomb.push(1); // a blob record
    bomb.extend_from_slice(&(z.len() as u32 + 5).to_le_bytes());
    bomb.push(1); // zstd codec
    bomb.extend_from_slice(&100_000u32.to_le_bytes());
    bomb.extend_from_slice(&z);
    bomb.extend_from_slice(&[0; 48]);
    reseal(&mut bomb);
    cases.push(("bomb", bomb, "is corrupt: zstd"));

    let before = e.refs("target");
    let packs = |repo: &str| {
        let mut names: Vec<String> = std::fs::read_dir(e.path(&format!("{repo}/.kodiak/packs")))
            .unwrap()
            .map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let packs_before = packs("target");
    for (name, bytes, expect) in &cases {
        let file = format!("{name}.kdk");
        e.write(&file, bytes);
        let path = format!("../{file}");
        for cmd in ["fetch", "pull"] {
            let err = e.fails(&["-C", "target", cmd, &path]);
            assert!(err.contains("error: bundle "), "{name} {cmd}: {err}");
            assert!(err.contains(expect), "{name} {cmd}: {err}");
        }
        let err = e.fails(&["bundle", "verify", &file]);
        assert!(err.contains(expect), "{name}: {err}");
        let err = e.fails(&["clone", &file, &format!("clone-{name}")]);
        assert!(err.contains(expect), "{name}: {err}");
        assert!(!e.path(&format!("clone-{name}")).exists(), "{name}");
        // Into an existing empty directory: it stays empty (no temporary directory left).
        std::fs::create_dir(e.path(&format!("empty-{name}"))).unwrap();
        let err = e.fails(&["clone", &file, &format!("empty-{name}")]);
        assert!(err.contains(expect), "{name}: {err}");
        let left = std::fs::read_dir(e.path(&format!("empty-{name}")))
            .unwrap()
            .count();
        assert_eq!(left, 0, "{name}");
        assert_eq!(e.refs("target"), before, "{name}");
        assert_eq!(packs("target"), packs_before, "{name}");
    }
    // Nothing was stored: the good bundle's commit is still unknown to the target.
    let main_id = e.ref_id("demo", "refs/heads/main");
    let err = e.env.fails(&["-C", "target", "cat-object", &main_id], 1);
    assert!(err.contains("no object matches"), "{err}");
    // And the good one still works.
    e.ok(&["-C", "target", "fetch", "../good.kdk"]);
    e.ok(&["-C", "target", "cat-object", &main_id]);
}

#[test]
fn help_lists_the_bundle_and_package_commands() {
    let env = TestEnv::new();
    let out = env.ok(&["--help"]);
    for word in [
        "pack", "bundle", "clone", "unpack", "fetch", "pull", "package",
    ] {
        assert!(out.contains(word), "--help lacks {word}:\n{out}");
    }
    for cmd in [
        vec!["pack", "--help"],
        vec!["bundle", "verify", "--help"],
        vec!["bundle", "list-refs", "--help"],
        vec!["clone", "--help"],
        vec!["unpack", "--help"],
        vec!["fetch", "--help"],
        vec!["pull", "--help"],
        vec!["package", "install", "--help"],
        vec!["package", "update", "--help"],
    ] {
        let out = env.ok(&cmd);
        assert!(out.contains("Usage: kodiak"), "{cmd:?}:\n{out}");
    }
}

#[test]
fn since_a_diverged_branch_needs_only_the_common_ancestor() {
    let e = Env::new();
    e.ok(&["-C", "demo", "pack", "-o", "full.kdk"]);
    e.ok(&["clone", "demo/full.kdk", "copy"]);
    e.ok(&["-C", "demo", "switch", "-c", "side"]);
    e.add_row("demo", 7, "side", "side row");
    e.ok(&["-C", "demo", "switch", "main"]);
    e.add_row("demo", 4, "dee", "main row");
    let out = e.ok(&[
        "-C", "demo", "pack", "-o", "div.kdk", "--since", "side", "main",
    ]);
    let v1 = e.ok(&["-C", "demo", "show-ref", "refs/tags/v1"]);
    let v1 = v1.split_whitespace().nth(1).unwrap();
    assert!(out.contains(&format!("prerequisite {v1}")), "{out}");
    // The clone has only v1, which is all the bundle asks for.
    e.ok(&["-C", "copy", "pull", "../demo/div.kdk"]);
    assert_eq!(e.rows("copy"), e.rows("demo"));
}
