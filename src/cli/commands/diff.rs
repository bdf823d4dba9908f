//! `kodiak diff`: schema and row changes between two states (working, staged, commits).

use std::io::Write;

use kodiak::diff::format::{self, Context, Endpoint, Format, Mode, WriteError};
use kodiak::diff::{DiffOptions, plan};
use kodiak::history::state::commit_root;
use kodiak::history::{WorkState, merge_base, read_root, resolve};
use kodiak::object::Root;
use kodiak::repo::Repo;

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// When to color the table format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `kodiak diff`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// What to compare: nothing (staged → working), REV (REV → working, or with --staged
    /// REV → staged), A B or A..B (A → B), A...B (merge base of A and B → B). REV:TABLE
    /// limits the diff to that table
    #[arg(value_name = "REV", num_args = 0..=2)]
    pub revs: Vec<String>,

    /// Only these tables (by old or new name)
    #[arg(last = true, value_name = "TABLE")]
    pub tables: Vec<String>,

    /// Compare HEAD (or REV) with the staged state
    #[arg(long, alias = "cached")]
    pub staged: bool,

    /// Output format: table, json, csv or sql
    #[arg(long, default_value = "table")]
    pub format: String,

    /// Per table: rows added, modified and deleted, and cells changed
    #[arg(long, conflicts_with_all = ["summary", "name_only"])]
    pub stat: bool,

    /// Per table: added, dropped, renamed or modified, and whether data or schema changed
    #[arg(long, conflicts_with = "name_only")]
    pub summary: bool,

    /// Only the names of the changed tables
    #[arg(long)]
    pub name_only: bool,

    /// Only rows whose COLUMN equals VALUE before or after (repeatable)
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub filters: Vec<String>,

    /// At most N changed rows per table
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,

    /// Color the table format: auto (on a terminal without NO_COLOR), always or never
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Color,
}

fn parse_format(text: &str) -> CliResult<Format> {
    match text.to_ascii_lowercase().as_str() {
        "table" | "text" => Ok(Format::Table),
        "json" => Ok(Format::Json),
        "csv" => Ok(Format::Csv),
        "sql" => Ok(Format::Sql),
        _ => Err(CliError::usage(format!(
            "unknown output format '{text}': use table, json, csv or sql"
        ))),
    }
}

/// A state named on the command line, with its root.
struct State {
    endpoint: Endpoint,
    root: Root,
}

fn rev_state(repo: &Repo, text: &str, tables: &mut Vec<String>) -> CliResult<State> {
    let text = if text.is_empty() { "HEAD" } else { text };
    let r = resolve(repo, text)?;
    if let Some((name, _)) = r.table
        && !tables.contains(&name)
    {
        tables.push(name);
    }
    let root_id = commit_root(repo.store(), r.commit)?;
    Ok(State {
        endpoint: Endpoint {
            label: text.to_string(),
            commit: Some(r.commit),
            root: root_id,
        },
        root: read_root(repo.store(), root_id)?,
    })
}

fn work_state(repo: &Repo, st: &WorkState, staged: bool) -> CliResult<State> {
    let (label, root_id) = if staged {
        ("staged", st.staged_root)
    } else {
        ("working", st.working_root)
    };
    Ok(State {
        endpoint: Endpoint {
            label: label.to_string(),
            commit: None,
            root: root_id,
        },
        root: read_root(repo.store(), root_id)?,
    })
}

fn head_state(repo: &Repo, st: &WorkState) -> CliResult<State> {
    Ok(State {
        endpoint: Endpoint {
            label: "HEAD".to_string(),
            commit: st.head_commit,
            root: st.head_root,
        },
        root: read_root(repo.store(), st.head_root)?,
    })
}

/// The two states the arguments name.
fn endpoints(repo: &Repo, args: &Args, tables: &mut Vec<String>) -> CliResult<(State, State)> {
    match args.revs.as_slice() {
        [] => {
            let st = WorkState::load(repo)?;
            if args.staged {
                Ok((head_state(repo, &st)?, work_state(repo, &st, true)?))
            } else {
                Ok((work_state(repo, &st, true)?, work_state(repo, &st, false)?))
            }
        }
        [one] => {
            if let Some((a, b)) = one.split_once("...") {
                if args.staged {
                    return Err(CliError::usage("--staged compares with one revision only"));
                }
                let b_state = rev_state(repo, b, tables)?;
                let a_commit = rev_state(repo, a, tables)?.endpoint.commit;
                let (Some(ac), Some(bc)) = (a_commit, b_state.endpoint.commit) else {
                    return Err(CliError::internal("a revision without a commit"));
                };
                let base = merge_base(repo.store(), ac, bc)?.ok_or_else(|| {
                    CliError::user(format!("'{a}' and '{b}' have no common ancestor"))
                        .with_hint("compare them directly with `kodiak diff A B`")
                })?;
                let root_id = commit_root(repo.store(), base)?;
                let base_state = State {
                    endpoint: Endpoint {
                        label: format!("merge-base({}, {})", or_head(a), or_head(b)),
                        commit: Some(base),
                        root: root_id,
                    },
                    root: read_root(repo.store(), root_id)?,
                };
                return Ok((base_state, b_state));
            }
            if let Some((a, b)) = one.split_once("..") {
                if args.staged {
                    return Err(CliError::usage("--staged compares with one revision only"));
                }
                return Ok((rev_state(repo, a, tables)?, rev_state(repo, b, tables)?));
            }
            let from = rev_state(repo, one, tables)?;
            let st = WorkState::load(repo)?;
            Ok((from, work_state(repo, &st, args.staged)?))
        }
        [a, b] => {
            if args.staged {
                return Err(CliError::usage("--staged compares with one revision only"));
            }
            Ok((rev_state(repo, a, tables)?, rev_state(repo, b, tables)?))
        }
        _ => Err(CliError::usage(
            "give at most two revisions (put table names after `--`)",
        )),
    }
}

fn or_head(s: &str) -> &str {
    if s.is_empty() { "HEAD" } else { s }
}

fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::IsTerminal::is_terminal(&std::io::stdout())
        }
    }
}

/// Runs `kodiak diff`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let format = parse_format(&args.format)?;
    let mode = if args.stat {
        Mode::Stat
    } else if args.summary {
        Mode::Summary
    } else if args.name_only {
        Mode::NameOnly
    } else {
        Mode::Full
    };
    if matches!(mode, Mode::Stat | Mode::Summary) && matches!(format, Format::Csv | Format::Sql) {
        return Err(CliError::usage(
            "--stat and --summary print text (--format table) or JSON (--format json)",
        ));
    }
    let repo = ctx.open_repo(Access::Read)?;
    let mut tables = args.tables.clone();
    let (from, to) = endpoints(&repo, &args, &mut tables)?;
    let options = DiffOptions {
        tables,
        filters: args.filters.clone(),
        limit: args.limit,
    };
    // Identical states: nothing to load.
    let diffs = if from.endpoint.root == to.endpoint.root {
        if let Some(t) = options
            .tables
            .iter()
            .find(|t| !from.root.tables.contains_key(*t))
        {
            return Err(CliError::user(format!(
                "table '{t}' does not exist in either state being compared"
            )));
        }
        Vec::new()
    } else {
        plan(repo.store(), &from.root, &to.root, &options.tables)?
    };
    // With --where, tables without the filtered columns have no matching rows.
    let diffs = if options.filters.is_empty() || diffs.len() < 2 {
        diffs
    } else {
        let names: Vec<&str> = options
            .filters
            .iter()
            .map(|f| f.split_once('=').map_or(f.as_str(), |(c, _)| c.trim()))
            .collect();
        let kept: Vec<_> = diffs
            .iter()
            .filter(|t| {
                let cols = t.columns();
                names.iter().all(|n| cols.find(n).is_some())
            })
            .cloned()
            .collect();
        if kept.is_empty() {
            return Err(CliError::user(format!(
                "no changed table has all the columns of --where {}",
                options.filters.join(" --where ")
            )));
        }
        kept
    };
    let cx = Context {
        store: repo.store(),
        from: &from.endpoint,
        to: &to.endpoint,
        options: &options,
        color: format == Format::Table && use_color(args.color),
    };
    // Stdout is line-buffered: without a buffer every row would be a write call.
    let mut buffered = std::io::BufWriter::with_capacity(1 << 16, out);
    let written = format::write(&mut buffered, &cx, &diffs, format, mode)
        .and_then(|()| buffered.flush().map_err(WriteError::Io));
    match written {
        Ok(()) => Ok(()),
        Err(WriteError::Io(e)) => Err(e.into()),
        Err(WriteError::Diff(e)) => Err(e.into()),
    }
}
