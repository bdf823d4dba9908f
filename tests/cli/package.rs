//! package install/list/info/update/uninstall, dependencies, protection of package tables.

use crate::common::TestEnv;

struct Env {
    env: TestEnv,
}

impl Env {
    fn new() -> Self {
        Env {
            env: TestEnv::new(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        self.env.ok(args)
    }

    fn fails(&self, args: &[&str]) -> String {
        self.env.fails(args, 1)
    }

    /// `kodiak init <repo>`, then table `table` from CSV text, committed.
    fn project(&self, repo: &str, table: &str, csv: &str) {
        self.ok(&["init", repo]);
        self.import(repo, table, csv, &["--pk", "id"]);
        self.ok(&["-C", repo, "commit", "-a", "-m", table]);
    }

    fn import(&self, repo: &str, table: &str, csv: &str, extra: &[&str]) {
        let file = self.env.path(&format!("{repo}-{table}-{}.csv", csv.len()));
        std::fs::write(&file, csv).unwrap();
        let file = file.to_string_lossy().into_owned();
        let mut args = vec!["-C", repo, "table", "import", table, &file];
        args.extend_from_slice(extra);
        self.ok(&args);
    }

    fn tables(&self, repo: &str) -> Vec<String> {
        self.ok(&["-C", repo, "table", "ls"])
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }
}

#[test]
fn install_from_a_bundle_commit_update_uninstall() {
    let e = Env::new();
    e.project("geo", "countries", "id,name\n1,France\n2,Germany\n");
    e.ok(&["-C", "geo", "tag", "v1"]);
    e.ok(&["-C", "geo", "pack"]);
    e.project("app", "orders", "id,country\n1,1\n");

    let out = e.ok(&["-C", "app", "package", "install", "../geo/geo.kdk"]);
    assert!(out.contains("Installed package 'geo'"), "{out}");
    assert!(out.contains("geo.countries"), "{out}");
    assert_eq!(e.tables("app"), ["geo.countries", "orders"]);
    let csv = e.ok(&[
        "-C",
        "app",
        "table",
        "show",
        "geo.countries",
        "--format",
        "csv",
    ]);
    assert!(csv.contains("France") && csv.contains("Germany"), "{csv}");
    // An install is a working-state change: status shows it, a commit records it.
    let status = e.ok(&["-C", "app", "status"]);
    assert!(status.contains("geo.countries"), "{status}");
    let out = e.ok(&["-C", "app", "commit", "-a", "-m", "install geo"]);
    assert!(out.contains("new table:  geo.countries"), "{out}");

    let list = e.ok(&["-C", "app", "package", "list"]);
    assert!(list.starts_with("geo "), "{list}");
    assert!(list.contains("geo/geo.kdk"), "{list}");
    let geo_main = e.ok(&["-C", "geo", "show-ref", "refs/heads/main"]);
    let geo_id = geo_main.split_whitespace().nth(1).unwrap();
    let info = e.ok(&["-C", "app", "package", "info", "geo"]);
    assert!(info.contains(&format!("commit:       {geo_id}")), "{info}");
    assert!(info.contains("content hash: "), "{info}");
    assert!(info.contains("dependencies: (none)"), "{info}");
    let again = e.fails(&["-C", "app", "package", "install", "../geo/geo.kdk"]);
    assert!(again.contains("already installed"), "{again}");

    // Package tables refuse ordinary edits, with a hint.
    let csv = e.env.path("more.csv");
    std::fs::write(&csv, "id,name\n9,Spain\n").unwrap();
    let csv = csv.to_string_lossy().into_owned();
    for args in [
        vec!["row", "put", "geo.countries", "id=3", "name=Italy"],
        vec!["row", "delete", "geo.countries", "--key", "1"],
        vec!["table", "rm", "geo.countries"],
        vec!["table", "mv", "geo.countries", "mine"],
        vec!["table", "mv", "orders", "geo.orders"],
        vec!["table", "import", "geo.countries", &csv, "--update"],
        vec!["schema", "alter", "geo.countries", "--add-column", "x:INT"],
    ] {
        let mut full = vec!["-C", "app"];
        full.extend_from_slice(&args);
        let r = e.env.run(&full);
        assert_ne!(r.code, 0, "{args:?} was allowed");
        assert!(
            r.stderr.contains("belongs to package 'geo'"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("kodiak package uninstall geo"),
            "{}",
            r.stderr
        );
    }
    // Copying out is fine.
    e.ok(&["-C", "app", "table", "cp", "geo.countries", "my_countries"]);

    // Update: the source moves on; update shows per-table row changes.
    e.import(
        "geo",
        "countries",
        "id,name\n3,Italy\n2,Deutschland\n",
        &["--update"],
    );
    e.ok(&["-C", "geo", "commit", "-a", "-m", "more"]);
    e.ok(&["-C", "geo", "pack"]);
    let out = e.ok(&["-C", "app", "package", "update", "geo"]);
    assert!(out.contains("Updated package 'geo'"), "{out}");
    assert!(out.contains("geo.countries: +1 ~1 -0 rows"), "{out}");
    let out = e.ok(&["-C", "app", "package", "update", "geo"]);
    assert!(out.contains("is up to date"), "{out}");
    // --ref picks a tag of the source.
    let out = e.ok(&["-C", "app", "package", "update", "geo", "--ref", "v1"]);
    assert!(out.contains("geo.countries: +0 ~1 -1 rows"), "{out}");

    let out = e.ok(&["-C", "app", "package", "uninstall", "geo"]);
    assert!(out.contains("removed geo.countries"), "{out}");
    assert_eq!(e.tables("app"), ["my_countries", "orders"]);
    assert!(
        e.ok(&["-C", "app", "package", "list"])
            .contains("No packages")
    );
    let err = e.fails(&["-C", "app", "package", "info", "geo"]);
    assert!(err.contains("no package named 'geo'"), "{err}");
}

#[test]
fn install_from_a_directory_with_dependencies() {
    let e = Env::new();
    e.project("units", "units", "id,symbol\n1,kg\n2,m\n");
    // `geo` itself installs `units`: it is geo's dependency.
    e.project("geo", "countries", "id,name\n1,France\n");
    e.ok(&["-C", "geo", "package", "install", "../units"]);
    e.ok(&["-C", "geo", "commit", "-a", "-m", "use units"]);

    e.ok(&["init", "app"]);
    let out = e.ok(&["-C", "app", "package", "install", "../geo", "--as", "world"]);
    assert!(out.contains("Installed package 'world'"), "{out}");
    assert!(out.contains("Installed dependency 'units'"), "{out}");
    assert_eq!(e.tables("app"), ["units.units", "world.countries"]);
    let info = e.ok(&["-C", "app", "package", "info", "world"]);
    assert!(info.contains("dependencies: units"), "{info}");
    assert!(info.contains("tables:       world.countries"), "{info}");
    // A dependency cannot go while something needs it.
    let err = e.fails(&["-C", "app", "package", "uninstall", "units"]);
    assert!(err.contains("package 'world' depends on 'units'"), "{err}");
    // Uninstalling removes only the package's own tables.
    e.ok(&["-C", "app", "package", "uninstall", "world"]);
    assert_eq!(e.tables("app"), ["units.units"]);

    // Another version of a dependency already installed: refused with a clear error.
    e.import("units", "units", "id,symbol\n3,s\n", &["--update"]);
    e.ok(&["-C", "units", "commit", "-a", "-m", "seconds"]);
    e.ok(&["-C", "app", "package", "update", "units"]);
    let before = e.tables("app");
    let err = e.fails(&["-C", "app", "package", "install", "../geo"]);
    assert!(err.contains("needs 'units'"), "{err}");
    assert!(
        err.contains("another version of 'units' is installed"),
        "{err}"
    );
    assert_eq!(e.tables("app"), before);

    // Bad sources and names.
    let err = e.fails(&["-C", "app", "package", "install", "../nowhere"]);
    assert!(err.contains("does not exist"), "{err}");
    let err = e.fails(&["-C", "app", "package", "install", "../geo", "--as", "a.b"]);
    assert!(err.contains("invalid package name 'a.b'"), "{err}");
    let err = e.fails(&["-C", "app", "package", "install", "../geo", "--ref", "nope"]);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn a_packed_project_keeps_its_packages() {
    let e = Env::new();
    e.project("units", "units", "id,symbol\n1,kg\n");
    e.ok(&["init", "app"]);
    e.ok(&["-C", "app", "package", "install", "../units"]);
    e.ok(&["-C", "app", "commit", "-a", "-m", "units"]);
    e.ok(&["-C", "app", "pack"]);
    e.ok(&["clone", "app/app.kdk", "copy"]);
    let list = e.ok(&["-C", "copy", "package", "list"]);
    assert!(list.starts_with("units "), "{list}");
    assert_eq!(e.tables("copy"), ["units.units"]);
}

impl Env {
    /// The commit a ref of `repo` names.
    fn ref_id(&self, repo: &str, name: &str) -> String {
        let out = self.ok(&["-C", repo, "show-ref", name]);
        out.split_whitespace()
            .nth(1)
            .unwrap_or_else(|| panic!("no id in {out:?}"))
            .to_string()
    }

    /// `cat-object --json` of the Root of `repo`'s commit at `branch`.
    fn root_json(&self, repo: &str, branch: &str) -> serde_json::Value {
        let commit = self.ref_id(repo, &format!("refs/heads/{branch}"));
        let text = self.ok(&["-C", repo, "cat-object", &commit]);
        let root = text
            .lines()
            .find_map(|l| l.strip_prefix("root "))
            .unwrap_or_else(|| panic!("no root in {text}"))
            .to_string();
        let json = self.ok(&["-C", repo, "cat-object", "--json", &root]);
        serde_json::from_str(&json).unwrap()
    }

    fn show(&self, repo: &str, table: &str) -> String {
        self.ok(&["-C", repo, "table", "show", table, "--format", "csv"])
    }
}

#[test]
fn update_keeps_an_installed_tag_until_the_tag_moves() {
    let e = Env::new();
    e.project("geo", "countries", "id,name\n1,France\n");
    e.ok(&["-C", "geo", "tag", "v1"]);
    let v1 = e.ref_id("geo", "refs/heads/main");
    e.ok(&["init", "app"]);
    let out = e.ok(&["-C", "app", "package", "install", "../geo", "--ref", "v1"]);
    assert!(out.contains("from tag v1"), "{out}");
    e.ok(&["-C", "app", "commit", "-a", "-m", "geo v1"]);
    let info = e.ok(&["-C", "app", "package", "info", "geo"]);
    assert!(
        info.contains("ref:          tag v1 (refs/tags/v1)"),
        "{info}"
    );
    let list = e.ok(&["-C", "app", "package", "list"]);
    assert!(list.trim_end().ends_with("(tag v1)"), "{list}");
    // The committed Root records the ref: a version-2 Root.
    let root = e.root_json("app", "main");
    assert_eq!(root["version"], 2, "{root}");
    assert_eq!(root["packages"]["geo"]["ref"], "refs/tags/v1", "{root}");

    // The source's branch moves on; the tag does not: nothing to update.
    e.import("geo", "countries", "id,name\n2,Germany\n", &["--update"]);
    e.ok(&["-C", "geo", "commit", "-a", "-m", "germany"]);
    let out = e.ok(&["-C", "app", "package", "update", "geo"]);
    assert!(out.contains("is up to date"), "{out}");
    assert!(out.contains("tag v1"), "{out}");
    assert!(!out.contains("now follows"), "{out}");
    assert!(!e.show("app", "geo.countries").contains("Germany"));
    let info = e.ok(&["-C", "app", "package", "info", "geo"]);
    assert!(info.contains(&format!("commit:       {v1}")), "{info}");
    let status = e.ok(&["-C", "app", "status"]);
    assert!(!status.contains("geo.countries"), "{status}");

    // The tag moves: update follows it, and still follows the tag afterwards.
    e.ok(&["-C", "geo", "tag", "-f", "v1"]);
    let out = e.ok(&["-C", "app", "package", "update", "geo"]);
    assert!(out.contains("geo.countries: +1 ~0 -0 rows"), "{out}");
    assert!(e.show("app", "geo.countries").contains("Germany"));
    let info = e.ok(&["-C", "app", "package", "info", "geo"]);
    assert!(
        info.contains("ref:          tag v1 (refs/tags/v1)"),
        "{info}"
    );
}

#[test]
fn update_follows_an_installed_branch_and_switches_with_ref() {
    let e = Env::new();
    e.project("geo", "countries", "id,name\n1,France\n");
    e.ok(&["-C", "geo", "branch", "dev"]);
    e.ok(&["-C", "geo", "tag", "v1"]);
    e.ok(&["init", "app"]);
    let out = e.ok(&["-C", "app", "package", "install", "../geo", "--ref", "dev"]);
    assert!(out.contains("from branch dev"), "{out}");

    // A commit on dev is followed; one on main (the source's HEAD branch) is not.
    e.ok(&["-C", "geo", "switch", "dev"]);
    e.import("geo", "countries", "id,name\n2,Germany\n", &["--update"]);
    e.ok(&["-C", "geo", "commit", "-a", "-m", "dev: germany"]);
    e.ok(&["-C", "geo", "switch", "main"]);
    e.import("geo", "countries", "id,name\n3,Italy\n", &["--update"]);
    e.ok(&["-C", "geo", "commit", "-a", "-m", "main: italy"]);
    let dev = e.ref_id("geo", "refs/heads/dev");
    let out = e.ok(&["-C", "app", "package", "update", "geo"]);
    assert!(out.contains("geo.countries: +1 ~0 -0 rows"), "{out}");
    let csv = e.show("app", "geo.countries");
    assert!(csv.contains("Germany") && !csv.contains("Italy"), "{csv}");
    let info = e.ok(&["-C", "app", "package", "info", "geo"]);
    assert!(info.contains(&format!("commit:       {dev}")), "{info}");
    assert!(
        info.contains("ref:          branch dev (refs/heads/dev)"),
        "{info}"
    );

    // --ref switches to a tag, and the switch is remembered.
    let out = e.ok(&["-C", "app", "package", "update", "geo", "--ref", "v1"]);
    assert!(out.contains("now follows tag v1"), "{out}");
    assert!(out.contains("geo.countries: +0 ~0 -1 rows"), "{out}");
    e.ok(&["-C", "geo", "switch", "dev"]);
    e.import("geo", "countries", "id,name\n4,Spain\n", &["--update"]);
    e.ok(&["-C", "geo", "commit", "-a", "-m", "dev: spain"]);
    let out = e.ok(&["-C", "app", "package", "update", "geo"]);
    assert!(out.contains("is up to date"), "{out}");
    assert_eq!(e.show("app", "geo.countries").lines().count(), 2);

    // --ref HEAD goes back to following the source's HEAD branch (dev, now checked out
    // there), and records no ref: the committed Root is version 1 again.
    let out = e.ok(&["-C", "app", "package", "update", "geo", "--ref", "HEAD"]);
    assert!(
        out.contains("now follows the source's HEAD branch"),
        "{out}"
    );
    assert!(e.show("app", "geo.countries").contains("Spain"));
    let info = e.ok(&["-C", "app", "package", "info", "geo"]);
    assert!(info.contains("ref:          (none"), "{info}");
    e.ok(&["-C", "app", "commit", "-a", "-m", "geo"]);
    assert_eq!(e.root_json("app", "main")["version"], 1);
}

#[test]
fn a_vanished_ref_is_a_clear_error_that_changes_nothing() {
    let e = Env::new();
    e.project("geo", "countries", "id,name\n1,France\n");
    e.ok(&["-C", "geo", "branch", "dev"]);
    e.ok(&["init", "app"]);
    e.ok(&["-C", "app", "package", "install", "../geo", "--ref", "dev"]);
    e.ok(&["-C", "app", "commit", "-a", "-m", "geo"]);
    e.ok(&["-C", "geo", "branch", "-D", "dev"]);
    let before = e.ok(&["-C", "app", "package", "info", "geo"]);
    let err = e.fails(&["-C", "app", "package", "update", "geo"]);
    assert!(
        err.contains("package 'geo' follows branch dev, which its source"),
        "{err}"
    );
    assert!(err.contains("no longer has"), "{err}");
    assert!(
        err.contains("kodiak package update geo --ref <tag|branch>"),
        "{err}"
    );
    assert_eq!(e.ok(&["-C", "app", "package", "info", "geo"]), before);
    let status = e.ok(&["-C", "app", "status"]);
    assert!(!status.contains("geo.countries"), "{status}");
    // Choosing another ref recovers.
    let out = e.ok(&["-C", "app", "package", "update", "geo", "--ref", "main"]);
    assert!(out.contains("now follows branch main"), "{out}");
}

#[test]
fn bundle_sources_remember_refs_and_bundles_carry_them() {
    let e = Env::new();
    e.project("geo", "countries", "id,name\n1,France\n");
    e.ok(&["-C", "geo", "tag", "v1"]);
    e.ok(&["-C", "geo", "pack"]);
    e.ok(&["init", "app"]);
    e.ok(&[
        "-C",
        "app",
        "package",
        "install",
        "../geo/geo.kdk",
        "--ref",
        "v1",
    ]);
    e.ok(&["-C", "app", "commit", "-a", "-m", "geo"]);

    // A new bundle whose main moved on: the tag stays.
    e.import("geo", "countries", "id,name\n2,Germany\n", &["--update"]);
    e.ok(&["-C", "geo", "commit", "-a", "-m", "germany"]);
    e.ok(&["-C", "geo", "pack"]);
    let out = e.ok(&["-C", "app", "package", "update", "geo"]);
    assert!(out.contains("is up to date"), "{out}");

    // A bundle without the tag: a clear error, nothing changed.
    e.ok(&["-C", "geo", "pack", "--out", "geo.kdk", "main"]);
    let err = e.fails(&["-C", "app", "package", "update", "geo"]);
    assert!(
        err.contains("package 'geo' follows tag v1, which its source"),
        "{err}"
    );
    assert!(err.contains("geo.kdk no longer has"), "{err}");
    assert!(!e.show("app", "geo.countries").contains("Germany"));

    // A version-2 Root travels in bundles: the clone knows the ref.
    e.ok(&["-C", "app", "pack"]);
    e.ok(&["bundle", "verify", "app/app.kdk"]);
    e.ok(&["clone", "app/app.kdk", "copy"]);
    let info = e.ok(&["-C", "copy", "package", "info", "geo"]);
    assert!(
        info.contains("ref:          tag v1 (refs/tags/v1)"),
        "{info}"
    );
}

#[test]
fn a_revision_that_is_not_a_ref_pins_the_commit() {
    let e = Env::new();
    e.project("geo", "countries", "id,name\n1,France\n");
    let first = e.ref_id("geo", "refs/heads/main");
    e.import("geo", "countries", "id,name\n2,Germany\n", &["--update"]);
    e.ok(&["-C", "geo", "commit", "-a", "-m", "germany"]);
    e.ok(&["init", "app"]);
    let out = e.ok(&[
        "-C", "app", "package", "install", "../geo", "--ref", "main~1",
    ]);
    assert!(
        out.contains(&format!("from commit {}", &first[..12])),
        "{out}"
    );
    let out = e.ok(&["-C", "app", "package", "update", "geo"]);
    assert!(out.contains("is up to date"), "{out}");
    assert!(!e.show("app", "geo.countries").contains("Germany"));
}

#[test]
fn packages_installed_without_ref_keep_version_1_roots() {
    let e = Env::new();
    e.project("geo", "countries", "id,name\n1,France\n");
    e.ok(&["init", "app"]);
    e.ok(&["-C", "app", "package", "install", "../geo"]);
    e.ok(&["-C", "app", "commit", "-a", "-m", "geo"]);
    let root = e.root_json("app", "main");
    assert_eq!(root["version"], 1, "{root}");
    assert!(root["packages"]["geo"].get("ref").is_none(), "{root}");
    let info = e.ok(&["-C", "app", "package", "info", "geo"]);
    assert!(info.contains("ref:          (none"), "{info}");
}
