//! `kodiak log`: show commit history, newest first, streamed as it is walked.

use std::io::Write;

use kodiak::history::{Walk, read_root, resolve_commit};
use kodiak::id::CommitId;
use kodiak::object::Commit;

use crate::cli::error::CliResult;
use crate::cli::format::TextOrJson;
use crate::cli::history::{commit_json, decoration_text, decorations, to_json, write_commit_text};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak log`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to start (default HEAD)
    #[arg(value_name = "REV")]
    pub rev: Option<String>,

    /// Show at most N commits
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    pub max_count: Option<u64>,

    /// One line per commit: short id, refs and subject
    #[arg(long)]
    pub oneline: bool,

    /// Draw the commit graph on the left
    #[arg(long)]
    pub graph: bool,

    /// Only commits that changed this table
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,

    /// Output format
    #[arg(long, value_enum, default_value = "text")]
    pub format: TextOrJson,
}

/// A text commit graph: one column per line of history being followed.
#[derive(Default)]
struct Graph {
    columns: Vec<CommitId>,
}

impl Graph {
    /// Places `id` and returns (the commit line prefix, the continuation prefix, transition
    /// lines printed after the commit).
    fn place(&mut self, id: CommitId, parents: &[CommitId]) -> (String, String, Vec<String>) {
        let idx = match self.columns.iter().position(|c| *c == id) {
            Some(i) => i,
            None => {
                self.columns.push(id);
                self.columns.len() - 1
            }
        };
        let width = self.columns.len();
        let star: Vec<&str> = (0..width)
            .map(|i| if i == idx { "*" } else { "|" })
            .collect();
        let before = width;
        // Other columns waiting for this commit join it here.
        let mut next: Vec<CommitId> = Vec::new();
        for (i, c) in self.columns.iter().enumerate() {
            if i == idx {
                // A first parent another line already waits for joins that line.
                if let Some(p) = parents.first()
                    && !next.contains(p)
                    && !self.columns[i + 1..].contains(p)
                {
                    next.push(*p);
                }
                for p in parents.iter().skip(1) {
                    if !self.columns.contains(p) && !next.contains(p) {
                        next.push(*p);
                    }
                }
            } else if *c != id && !next.contains(c) {
                next.push(*c);
            }
        }
        self.columns = next;
        let after = self.columns.len();
        let cont = vec!["|"; after.max(1)].join(" ");
        let mut transitions = Vec::new();
        if after > before {
            let mut s = vec!["|"; idx + 1].join(" ");
            s.push('\\');
            transitions.push(s);
        } else if after + 1 < before
            || (after < before && (idx + 1 < before || !parents.is_empty()))
        {
            let mut s = vec!["|"; after.max(1)].join(" ");
            s.push('/');
            transitions.push(s);
        }
        let cont = if after == 0 { " ".to_string() } else { cont };
        (star.join(" "), cont, transitions)
    }
}

fn changed_table(repo: &kodiak::repo::Repo, c: &Commit, table: &str) -> CliResult<bool> {
    let store = repo.store();
    let now = read_root(store, c.root)?.tables.get(table).copied();
    let before = match c.parents.first() {
        Some(p) => read_root(store, store.get::<Commit>(p)?.root)?
            .tables
            .get(table)
            .copied(),
        None => None,
    };
    Ok(now != before)
}

/// Runs `kodiak log`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let rev = args.rev.as_deref().unwrap_or("HEAD");
    let start = match resolve_commit(&repo, rev) {
        Ok(c) => c,
        Err(e)
            if args.rev.is_none()
                && repo
                    .refs()
                    .resolve(&kodiak::refs::RefName::head())?
                    .target
                    .is_none() =>
        {
            let _ = e;
            let st = kodiak::history::WorkState::load(&repo)?;
            return Err(crate::cli::error::CliError::user(format!(
                "your current branch '{}' does not have any commits yet",
                st.head_label()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let decor = decorations(&repo)?;
    let json = args.format == TextOrJson::Json;
    let mut graph = args.graph.then(Graph::default);
    let mut shown = 0u64;
    if json {
        writeln!(out, "[")?;
    }
    for item in Walk::new(repo.store(), &[start])? {
        if args.max_count.is_some_and(|n| shown >= n) {
            break;
        }
        let (id, c) = item?;
        let placed = graph.as_mut().map(|g| g.place(id, &c.parents));
        if let Some(t) = &args.table
            && !changed_table(&repo, &c, t)?
        {
            if let Some((_, _, trans)) = &placed {
                for l in trans {
                    writeln!(out, "{l}")?;
                }
            }
            continue;
        }
        let refs = decor.get(&id.id()).cloned().unwrap_or_default();
        if json {
            let sep = if shown == 0 { "" } else { ",\n" };
            let text = to_json(&commit_json(id, &c, &refs))?;
            write!(out, "{sep}{text}")?;
        } else if args.oneline {
            let prefix = placed
                .as_ref()
                .map(|p| format!("{} ", p.0))
                .unwrap_or_default();
            writeln!(
                out,
                "{prefix}{}{} {}",
                id.short(),
                decoration_text(&decor, &id.id()),
                kodiak::history::ops::subject(&c.message)
            )?;
        } else {
            match &placed {
                Some((star, cont, _)) => {
                    write!(out, "{star} ")?;
                    let mut buf = Vec::new();
                    write_commit_text(&mut buf, "", id, &c, &decoration_text(&decor, &id.id()))?;
                    let text = String::from_utf8_lossy(&buf);
                    for (i, line) in text.lines().enumerate() {
                        if i == 0 {
                            writeln!(out, "{line}")?;
                        } else {
                            let text = format!("{cont} {line}");
                            writeln!(out, "{}", text.trim_end())?;
                        }
                    }
                }
                None => write_commit_text(out, "", id, &c, &decoration_text(&decor, &id.id()))?,
            }
        }
        if let Some((_, _, trans)) = &placed {
            for l in trans {
                writeln!(out, "{l}")?;
            }
        }
        shown += 1;
    }
    if json {
        writeln!(out, "\n]")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kodiak::id::ObjectId;

    fn id(s: &str) -> CommitId {
        CommitId::new(ObjectId::hash(s.as_bytes()))
    }

    #[test]
    fn graph_of_a_merge() {
        let (m, l, r, b) = (id("m"), id("l"), id("r"), id("b"));
        let mut g = Graph::default();
        let mut lines = Vec::new();
        for (c, parents, name) in [
            (m, vec![l, r], "M"),
            (r, vec![b], "R"),
            (l, vec![b], "L"),
            (b, vec![], "B"),
        ] {
            let (star, _, trans) = g.place(c, &parents);
            lines.push(format!("{star} {name}"));
            lines.extend(trans);
        }
        assert_eq!(lines.join("\n"), "* M\n|\\\n| * R\n* | L\n|/\n* B");
    }

    #[test]
    fn graph_of_a_merge_whose_first_parent_is_newer() {
        let (m, a, f, b) = (id("m"), id("a"), id("f"), id("b"));
        let mut g = Graph::default();
        let mut lines = Vec::new();
        for (c, parents, name) in [
            (m, vec![a, f], "M"),
            (a, vec![b], "A"),
            (f, vec![b], "F"),
            (b, vec![], "B"),
        ] {
            let (star, _, trans) = g.place(c, &parents);
            lines.push(format!("{star} {name}"));
            lines.extend(trans);
        }
        assert_eq!(lines.join("\n"), "* M\n|\\\n* | A\n| * F\n|/\n* B");
    }

    #[test]
    fn graph_of_a_line() {
        let (a, b) = (id("a"), id("b"));
        let mut g = Graph::default();
        assert_eq!(g.place(a, &[b]).0, "*");
        assert_eq!(g.place(b, &[]).0, "*");
        assert!(g.columns.is_empty());
    }
}
