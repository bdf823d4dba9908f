//! Command-line parsing and dispatch: one module per command under `commands/`.

pub mod commands;
pub mod error;
pub mod format;
pub mod history;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kodiak::repo::{LockWait, READ_LOCK_WAIT, Repo, RepoPaths};

use error::{CliError, CliResult};

const AFTER_HELP: &str = "\
Environment:
  KODIAK_DIR            use the repository at this directory instead of searching from the cwd
  KODIAK_CONFIG_HOME    directory holding the global config file (default: $XDG_CONFIG_HOME/kodiak,
                        else $HOME/.config/kodiak)
  KODIAK_AUTHOR_NAME    author/committer name, overriding user.name
  KODIAK_AUTHOR_EMAIL   author/committer email, overriding user.email
  KODIAK_TIMESTAMP      time to record: seconds since the epoch, optionally followed by +HHMM

Exit status: 0 success, 1 error, 2 usage error, 255 corruption or internal error.";

/// Kodiak: Git-like version control for databases.
#[derive(Parser, Debug)]
#[command(name = "kodiak", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// Run as if kodiak was started in DIR
    #[arg(short = 'C', id = "chdir", value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,

    /// If another kodiak process holds the repository lock, wait for it instead of failing
    #[arg(long, global = true)]
    pub wait: bool,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Every command.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create an empty repository.
    ///
    /// Creates DIR/.kodiak (DIR defaults to KODIAK_DIR if set, else the current directory; it is
    /// created if missing). HEAD starts on an unborn branch: --initial-branch, else the config value
    /// init.defaultBranch, else `main`. Fails if DIR/.kodiak already exists.
    Init(commands::init::Args),
    /// Get and set configuration values.
    ///
    /// With KEY only, prints the effective value (repository config wins over global). With KEY
    /// and VALUE, sets it in the repository's .kodiak/config, or with --global in the global file
    /// ($KODIAK_CONFIG_HOME/config, else $XDG_CONFIG_HOME/kodiak/config, else
    /// $HOME/.config/kodiak/config). Keys are `section.name` or `section.subsection.name`, e.g.
    /// user.name, user.email, init.defaultBranch. An unset key exits with status 1.
    Config(commands::config::Args),
    /// Show any stored object by id or abbreviated id.
    ///
    /// Commits, tags, roots, tables and blobs are printed field by field (times as RFC 3339 in
    /// their recorded offset); other kinds show their kind, format version, payload size and a hex
    /// dump. The object's hash is verified: a corrupt object is reported (exit 255), never shown.
    CatObject(commands::cat_object::Args),
    /// List HEAD and refs with their targets.
    ///
    /// One line per ref: `NAME ID` for a ref naming an object, `NAME -> TARGET ID` for a symbolic
    /// ref, with `(unborn)` instead of the id when the target branch does not exist yet. HEAD
    /// (the current workspace's) comes first.
    ShowRef(commands::show_ref::Args),
    /// Set or delete a ref (plumbing), with an optional compare-and-swap check.
    ///
    /// REF is a full ref name (refs/heads/main, refs/tags/v1, ...) or HEAD. NEW is an object id
    /// or unique prefix of an object in the repository, or `ref:<full name>` for a symbolic ref.
    /// With --old, the update only happens if the ref's current value is OLD (`none` meaning it
    /// must not exist); otherwise nothing changes and the command fails. Every update is recorded
    /// in the ref's reflog.
    UpdateRef(commands::update_ref::Args),
    /// Show the history of a ref, newest first.
    ///
    /// Each line reads `NAME@{N}: MESSAGE -> VALUE (WHO, DATE)`, where VALUE is what the update set
    /// (an id, `ref: <name>`, or `(deleted)`). REF defaults to HEAD of the current workspace.
    Reflog(commands::reflog::Args),
    /// Show the working state: staged and unstaged table changes, merge state.
    ///
    /// Lists, per table, whether it is new, deleted, renamed or modified between HEAD and the
    /// staged state ("Changes to be committed") and between the staged and the working state
    /// ("Changes not staged for commit"), plus an unfinished merge. --format json gives the same
    /// as one JSON object.
    Status(commands::status::Args),
    /// Stage tables for the next commit.
    ///
    /// The staged state takes each named table's working version (or its deletion). -A stages
    /// every change.
    Add(commands::add::Args),
    /// Record the staged state as a new commit on the current branch.
    ///
    /// Prints `[BRANCH ID] SUBJECT` and the changed tables. Refuses an empty commit (nothing
    /// staged) unless --allow-empty. -a commits the working state, staged or not. --amend replaces
    /// the current commit, keeping its parents and change id.
    Commit(commands::commit::Args),
    /// Show commit history, newest first.
    ///
    /// Starts at REV (default HEAD) and follows every parent, ordered by commit time. The history
    /// is read as it is printed, so -n N is fast on any history. --table T keeps only commits that
    /// changed table T.
    Log(commands::log::Args),
    /// Show a commit: header, message and changed tables; REV:TABLE shows a table.
    ///
    /// With --stat, each changed table also shows its row counts before and after. An annotated
    /// tag named as REV is shown before its commit.
    Show(commands::show::Args),
    /// Show schema and row changes between two states.
    ///
    /// `diff` compares the staged state with the working state; --staged compares HEAD with the
    /// staged state; `diff REV` compares REV with the working state; `diff A B` and `diff A..B`
    /// compare two revisions; `diff A...B` compares the merge base of A and B with B. Limit it
    /// with `-- TABLE…`, --where COLUMN=VALUE and --limit N. Tables are matched by name, and a
    /// renamed table by its column tags; columns are matched by tag; rows by primary key (keyless
    /// tables as multisets). --format table (default), json, csv or sql (statements that turn the
    /// old state into the new one); --stat, --summary and --name-only give overviews.
    Diff(commands::diff::Args),
    /// List, create, delete, rename or copy branches.
    ///
    /// `branch` lists branches (* marks the current one); `branch NAME [START]` creates one;
    /// -d deletes a branch whose commits HEAD contains, -D deletes any; the current branch (or one
    /// checked out in another workspace) cannot be deleted; -m/-c [OLD] NEW rename or copy.
    Branch(commands::branch::Args),
    /// Switch to a branch, bringing uncommitted changes along.
    ///
    /// Uncommitted changes come along when the tables they touch are the same in both commits;
    /// otherwise nothing changes and the colliding tables are listed. -c NEW [START] creates a
    /// branch and switches to it.
    Switch(commands::switch::Args),
    /// List, create or delete tags.
    ///
    /// `tag` lists tags; `tag NAME [REV]` makes a lightweight tag; -a -m MESSAGE (or just -m)
    /// makes an annotated tag object with tagger and message; -d deletes.
    Tag(commands::tag::Args),
    /// Unstage tables, or move the current branch to another commit.
    ///
    /// `reset TABLE…` unstages tables. `reset [--soft|--mixed|--hard] REV` moves the branch to
    /// REV: --soft keeps staged and working changes, --mixed (default) unstages everything but
    /// keeps the working state, --hard discards both.
    Reset(commands::reset::Args),
    /// Record a new commit whose database equals that of REV; history is not rewritten.
    Rollback(commands::rollback::Args),
    /// Restore tables from a revision into the working state: `checkout REV -- TABLE…`.
    Checkout(commands::checkout::Args),
    /// Manage workspaces, each with its own HEAD, staged and working state.
    ///
    /// A workspace's HEAD is its tip ref refs/workspaces/NAME, which its commits move. Switching
    /// workspaces never mixes or loses uncommitted work.
    Workspace(commands::workspace::Args),
    /// Save, list, restore and delete snapshots of the working state.
    ///
    /// A snapshot is a commit of the working state (committed or not) whose parent is HEAD,
    /// referenced by refs/snapshots/NAME.
    Snapshot(commands::snapshot::Args),
    /// Merge another revision into HEAD: fast-forward when possible, else a three-way merge.
    ///
    /// Tables merge row by row (by primary key) and cell by cell against the best common
    /// ancestor; schemas merge by column tag. A clean result is committed with parents HEAD and
    /// REV; conflicts stop the merge and are kept in the working state (see `conflicts`), and
    /// `commit` concludes it once they are resolved. --abort restores the state before it.
    Merge(commands::merge::Args),
    /// List, show and resolve the conflicts of an unfinished merge, revert or cherry-pick.
    Conflicts(commands::conflicts::Args),
    /// Record a new commit undoing the changes of one commit (through the three-way merge).
    Revert(commands::revert::Args),
    /// Apply the changes of one commit onto HEAD as a new commit with its message and author.
    CherryPick(commands::cherry_pick::Args),
    /// Show the commit that last changed each row of a table.
    ///
    /// Follows first parents from HEAD (or --at REV, or TABLE given as REV:TABLE) and prints
    /// each row with the commit, author and date of its last change. --where COLUMN=VALUE
    /// (repeatable) keeps only matching rows.
    Blame(commands::blame::Args),
    /// Import, export, list, show, remove, rename and copy tables of the working state.
    Table(commands::table::Args),
    /// Show tables' CREATE TABLE DDL, or change a table's schema.
    Schema(commands::schema::Args),
    /// Put or delete single rows of a table in the working state.
    Row(commands::row::Args),
    /// Write branches and tags to a .kdk bundle file.
    ///
    /// Packs REF… (branch or tag names), or with --all or no REF every branch and tag, with
    /// every object they need, into FILE (default <project>.kdk, the project being the
    /// repository directory's name). --since REV makes an incremental bundle that leaves out
    /// what REV already has and lists REV's boundary commits as prerequisites.
    Pack(commands::pack::Args),
    /// Check a bundle (verify) or list its refs (list-refs).
    Bundle(commands::bundle::Args),
    /// Make a repository from a bundle.
    ///
    /// The bundle is verified completely first. Its branches become remote-tracking refs
    /// refs/remotes/NAME/* (NAME: --name, default origin), its tags tags, and its HEAD branch
    /// (else main) a local branch tracking them, checked out.
    Clone(commands::clone::Args),
    /// Make a repository from a bundle, like clone; DIR defaults to the bundle's name.
    Unpack(commands::unpack::Args),
    /// Bring a bundle's new objects and refs into the repository.
    ///
    /// Verifies the whole bundle (an incremental one needs its prerequisites here), stores its
    /// objects, then updates refs/remotes/NAME/* and adds new tags in one transaction; a local
    /// tag naming something else is kept. Nothing is written unless the whole bundle verifies.
    Fetch(commands::fetch::Args),
    /// Fetch a bundle, then merge the current branch's fetched counterpart into it.
    ///
    /// The merge is `kodiak merge refs/remotes/NAME/BRANCH`: a fast-forward when possible, else
    /// a three-way merge commit, or a stop with stored conflicts (see `kodiak conflicts`).
    Pull(commands::pull::Args),
    /// Install, list, inspect, update and uninstall dataset packages.
    ///
    /// A package is another project's tables (from a .kdk bundle or a repository directory),
    /// installed into the working state as NAME.TABLE and recorded in the database's manifest
    /// with its source, commit and content hash. Package tables cannot be edited directly.
    Package(commands::package::Args),
}

/// Whether a command changes the repository; decides how long it waits for the lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only: retries a held lock for [`READ_LOCK_WAIT`] before failing.
    Read,
    /// Writes: fails at once on a held lock unless `--wait` was given.
    Write,
}

/// What every command gets: where it runs and the global options.
pub struct Ctx {
    /// The directory the command acts in (the cwd, or `-C DIR`).
    pub cwd: PathBuf,
    /// `--wait`.
    pub wait: bool,
}

impl Ctx {
    /// `KODIAK_DIR`, resolved against [`Ctx::cwd`], if set and non-empty.
    pub fn kodiak_dir(&self) -> Option<PathBuf> {
        std::env::var_os("KODIAK_DIR")
            .filter(|v| !v.is_empty())
            .map(|d| self.cwd.join(d))
    }

    /// Locates the repository: `KODIAK_DIR` if set, else a search upwards from the cwd.
    pub fn repo_paths(&self) -> CliResult<RepoPaths> {
        match self.kodiak_dir() {
            Some(dir) => RepoPaths::at(&dir).map_err(|_| {
                CliError::user(format!(
                    "not a kodiak repository: {} (from KODIAK_DIR)",
                    dir.display()
                ))
                .with_hint("point KODIAK_DIR at a directory containing .kodiak, or unset it")
            }),
            None => Ok(RepoPaths::discover(&self.cwd)?),
        }
    }

    /// Opens and locks the repository for `access`.
    pub fn open_repo(&self, access: Access) -> CliResult<Repo> {
        let wait = match (self.wait, access) {
            (true, _) => LockWait::Forever,
            (false, Access::Read) => LockWait::Poll(READ_LOCK_WAIT),
            (false, Access::Write) => LockWait::No,
        };
        Ok(Repo::open(self.repo_paths()?, wait)?)
    }
}

fn run(cli: Cli, out: &mut dyn Write) -> CliResult {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::user(format!("cannot read the current directory: {e}")))?;
    let cwd = match &cli.dir {
        Some(d) => cwd.join(d),
        None => cwd,
    };
    if !Path::new(&cwd).is_dir() {
        return Err(CliError::user(format!(
            "cannot change to {}: no such directory",
            cwd.display()
        )));
    }
    let ctx = Ctx {
        cwd,
        wait: cli.wait,
    };
    match cli.command {
        Command::Init(a) => commands::init::run(&ctx, a, out),
        Command::Config(a) => commands::config::run(&ctx, a, out),
        Command::CatObject(a) => commands::cat_object::run(&ctx, a, out),
        Command::ShowRef(a) => commands::show_ref::run(&ctx, a, out),
        Command::UpdateRef(a) => commands::update_ref::run(&ctx, a, out),
        Command::Reflog(a) => commands::reflog::run(&ctx, a, out),
        Command::Status(a) => commands::status::run(&ctx, a, out),
        Command::Add(a) => commands::add::run(&ctx, a, out),
        Command::Commit(a) => commands::commit::run(&ctx, a, out),
        Command::Log(a) => commands::log::run(&ctx, a, out),
        Command::Show(a) => commands::show::run(&ctx, a, out),
        Command::Diff(a) => commands::diff::run(&ctx, a, out),
        Command::Branch(a) => commands::branch::run(&ctx, a, out),
        Command::Switch(a) => commands::switch::run(&ctx, a, out),
        Command::Tag(a) => commands::tag::run(&ctx, a, out),
        Command::Reset(a) => commands::reset::run(&ctx, a, out),
        Command::Rollback(a) => commands::rollback::run(&ctx, a, out),
        Command::Checkout(a) => commands::checkout::run(&ctx, a, out),
        Command::Workspace(a) => commands::workspace::run(&ctx, a, out),
        Command::Snapshot(a) => commands::snapshot::run(&ctx, a, out),
        Command::Merge(a) => commands::merge::run(&ctx, a, out),
        Command::Conflicts(a) => commands::conflicts::run(&ctx, a, out),
        Command::Revert(a) => commands::revert::run(&ctx, a, out),
        Command::CherryPick(a) => commands::cherry_pick::run(&ctx, a, out),
        Command::Blame(a) => commands::blame::run(&ctx, a, out),
        Command::Table(a) => commands::table::run(&ctx, a, out),
        Command::Schema(a) => commands::schema::run(&ctx, a, out),
        Command::Row(a) => commands::row::run(&ctx, a, out),
        Command::Pack(a) => commands::pack::run(&ctx, a, out),
        Command::Bundle(a) => commands::bundle::run(&ctx, a, out),
        Command::Clone(a) => commands::clone::run(&ctx, a, out),
        Command::Unpack(a) => commands::unpack::run(&ctx, a, out),
        Command::Fetch(a) => commands::fetch::run(&ctx, a, out),
        Command::Pull(a) => commands::pull::run(&ctx, a, out),
        Command::Package(a) => commands::package::run(&ctx, a, out),
    }
}

/// Parses the command line, runs the command and reports errors on stderr.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = run(cli, &mut out).and_then(|()| out.flush().map_err(CliError::from));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`kodiak … | head`) is not a failure worth reporting.
            if e.broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("{e}");
            ExitCode::from(e.kind.code())
        }
    }
}
