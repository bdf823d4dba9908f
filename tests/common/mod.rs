//! Test helpers: an isolated environment that runs the real `kodiak` binary.

use std::path::{Path, PathBuf};
use std::process::Output;

use kodiak::repo::{LockWait, Repo, RepoPaths};

/// The pinned author name.
pub const AUTHOR_NAME: &str = "Test User";
/// The pinned author email.
pub const AUTHOR_EMAIL: &str = "test@example.com";
/// The pinned timestamp (2023-11-14T22:13:20Z).
pub const TIMESTAMP: &str = "1700000000 +0000";

/// A temporary directory with pinned HOME, config homes, identity and clock.
pub struct TestEnv {
    tmp: tempfile::TempDir,
    /// Where commands run unless told otherwise.
    pub cwd: PathBuf,
    extra_env: Vec<(String, String)>,
}

/// A finished command's status and output.
pub struct Run {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl TestEnv {
    /// A fresh environment whose cwd is an empty `work` directory.
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let cwd = tmp.path().join("work");
        std::fs::create_dir_all(&cwd).expect("work dir");
        TestEnv {
            tmp,
            cwd,
            extra_env: Vec::new(),
        }
    }

    /// The temporary root.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// A path relative to the cwd.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.cwd.join(rel)
    }

    /// The global config file used by commands.
    pub fn global_config(&self) -> PathBuf {
        self.root().join("kodiak-config").join("config")
    }

    /// Sets an extra environment variable for every later command.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.to_string(), value.to_string()));
    }

    /// A `kodiak` command with the pinned environment, run in the cwd.
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_kodiak"));
        c.args(args)
            .current_dir(&self.cwd)
            .env("HOME", self.root().join("home"))
            .env("XDG_CONFIG_HOME", self.root().join("xdg"))
            .env("KODIAK_CONFIG_HOME", self.root().join("kodiak-config"))
            .env("KODIAK_AUTHOR_NAME", AUTHOR_NAME)
            .env("KODIAK_AUTHOR_EMAIL", AUTHOR_EMAIL)
            .env("KODIAK_TIMESTAMP", TIMESTAMP)
            .env("NO_COLOR", "1")
            .env_remove("KODIAK_DIR")
            .stdin(std::process::Stdio::null());
        for (k, v) in &self.extra_env {
            c.env(k, v);
        }
        c
    }

    /// The same as an `assert_cmd` command.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd(args))
    }

    /// Runs `kodiak args…` and collects its result.
    ///
    /// A library handle closed by the test just before may still hold sled's own database
    /// lock for a moment (its background thread exits asynchronously); such a run is retried.
    pub fn run(&self, args: &[&str]) -> Run {
        for _ in 0..300 {
            let r: Run = self.std_cmd(args).output().expect("running kodiak").into();
            if !r.stderr.contains("could not acquire lock on") {
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        self.std_cmd(args).output().expect("running kodiak").into()
    }

    /// Runs a command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "kodiak {args:?} failed:\n{}{}",
            r.stdout, r.stderr
        );
        r.stdout
    }

    /// Runs a command that must fail with `code` and returns its stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let r = self.run(args);
        assert_eq!(
            r.code, code,
            "kodiak {args:?}: expected exit {code}:\n{}{}",
            r.stdout, r.stderr
        );
        r.stderr
    }

    /// `kodiak init demo` and returns the repository's work directory.
    pub fn init_demo(&self) -> PathBuf {
        self.ok(&["init", "demo"]);
        self.path("demo")
    }

    /// Opens the repository at `dir` through the library (the CLI must not be running).
    pub fn open_repo(&self, dir: &Path) -> Repo {
        Repo::open(RepoPaths::new(dir), LockWait::No).expect("opening the test repository")
    }
}
