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
