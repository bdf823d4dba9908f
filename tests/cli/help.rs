//! --help, --version and usage errors.

use crate::common::TestEnv;

#[test]
fn help_lists_every_command_and_the_environment() {
    let env = TestEnv::new();
    let out = env.ok(&["--help"]);
    for word in [
        "init",
        "config",
        "cat-object",
        "show-ref",
        "update-ref",
        "reflog",
        "status",
        "add",
        "commit",
        "log",
        "show",
        "branch",
        "switch",
        "tag",
        "reset",
        "rollback",
        "checkout",
        "workspace",
        "snapshot",
        "blame",
        "--wait",
        "-C <DIR>",
        "KODIAK_DIR",
        "KODIAK_TIMESTAMP",
    ] {
        assert!(out.contains(word), "--help lacks {word}:\n{out}");
    }
}

#[test]
fn every_command_has_help() {
    let env = TestEnv::new();
    for (cmd, flag) in [
        ("init", "--initial-branch"),
        ("config", "--global"),
        ("cat-object", "--json"),
        ("show-ref", "--json"),
        ("update-ref", "--old"),
        ("reflog", "--json"),
        ("status", "--format"),
        ("add", "--all"),
        ("commit", "--amend"),
        ("log", "--oneline"),
        ("show", "--stat"),
        ("branch", "--delete"),
        ("switch", "--create"),
        ("tag", "--annotate"),
        ("reset", "--hard"),
        ("rollback", "--message"),
        ("checkout", "TABLE"),
        ("workspace", "merge"),
        ("snapshot", "restore"),
        ("blame", "--where"),
    ] {
        let out = env.ok(&[cmd, "--help"]);
        assert!(out.contains(flag), "{cmd} --help lacks {flag}:\n{out}");
        assert!(out.lines().count() > 5, "{cmd} --help is too short:\n{out}");
    }
}

#[test]
fn version() {
    let env = TestEnv::new();
    env.cmd(&["--version"])
        .assert()
        .success()
        .stdout(format!("kodiak {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn usage_errors_exit_2() {
    let env = TestEnv::new();
    env.fails(&["no-such-command"], 2);
    env.fails(&["cat-object"], 2);
    env.fails(&["init", "--bogus"], 2);
    env.fails(&[], 2);
}
