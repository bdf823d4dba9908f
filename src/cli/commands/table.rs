//! `kodiak table`: import, export, list, show, remove, rename and copy tables of the working
//! state.

use std::io::Write;
use std::path::PathBuf;

use kodiak::interchange::{CsvOptions, Format, ReadOptions, WriteOptions};
use kodiak::schema::Value;
use kodiak::tables::{self, ImportMode, ImportOptions, RowBatches};

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak table`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The table command.
    #[command(subcommand)]
    pub command: TableCommand,
}

/// `kodiak table` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TableCommand {
    /// Import a CSV, TSV, Arrow IPC, ORC, Parquet or JSONL file into a table.
    ///
    /// The format comes from --format, else the file's magic bytes, else its extension (CSV
    /// by default). CSV types are inferred (INT, FLOAT, BOOL, DATE, TIMESTAMP, else TEXT; an
    /// empty field is NULL). Without a mode, a missing table is created and an existing one is
    /// an error. Without --pk (or a key in --schema) a new table is keyless. All or nothing:
    /// on any error the working state is unchanged.
    Import(ImportArgs),
    /// Write a table's rows to a file (format from --format or the extension).
    Export(ExportArgs),
    /// List tables with their row and column counts.
    Ls(LsArgs),
    /// Print a table's rows.
    Show(ShowArgs),
    /// Remove tables from the working state.
    Rm(RmArgs),
    /// Rename a table (its columns keep their tags, so history sees a rename).
    Mv(MvArgs),
    /// Copy a table under a new name.
    Cp(MvArgs),
}

/// Arguments of `kodiak table import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The table
    pub table: String,
    /// The file to read
    pub file: PathBuf,
    /// Primary key column(s), comma-separated, for a new or replaced table
    #[arg(long, value_name = "COL[,COL…]", value_delimiter = ',')]
    pub pk: Option<Vec<String>>,
    /// Create the table; fail if it exists (the default when it does not exist)
    #[arg(long, group = "mode")]
    pub create: bool,
    /// Replace all rows of the table (creating it if missing)
    #[arg(long, group = "mode")]
    pub replace: bool,
    /// Insert rows and overwrite rows with the same key
    #[arg(long, group = "mode")]
    pub update: bool,
    /// Insert rows; fail if a key already exists
    #[arg(long, group = "mode")]
    pub append: bool,
    /// File format: csv, tsv, arrow, arrows (Arrow stream), orc, parquet, jsonl
    #[arg(long)]
    pub format: Option<String>,
    /// CSV field delimiter (one character)
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// The CSV file has no header line (columns are matched by position)
    #[arg(long)]
    pub no_header: bool,
    /// CSV text that stands for NULL (then an empty field is the empty string)
    #[arg(long, value_name = "T")]
    pub null_token: Option<String>,
    /// A schema file: `CREATE TABLE` DDL as `schema show` prints, or `name TYPE [NOT NULL]`
    /// lines and `PRIMARY KEY (a, b)`
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
}

/// Arguments of `kodiak table export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The table
    pub table: String,
    /// The file to write (replaced if it exists)
    pub file: PathBuf,
    /// Export the table as of this revision instead of the working state
    #[arg(long, value_name = "REV")]
    pub at: Option<String>,
    /// File format: csv, tsv, arrow, arrow-stream, orc, parquet, jsonl (default: from the
    /// extension)
    #[arg(long)]
    pub format: Option<String>,
    /// Only rows whose COLUMN equals VALUE (repeatable)
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub filters: Vec<String>,
    /// CSV field delimiter (one character)
    #[arg(long, value_name = "C")]
    pub delimiter: Option<String>,
    /// CSV text for NULL (default: an empty field; the empty string is then `""`)
    #[arg(long, value_name = "T")]
    pub null_token: Option<String>,
}

/// Arguments of `kodiak table ls`.
#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// List the tables of this revision instead of the working state
    #[arg(long, value_name = "REV")]
    pub at: Option<String>,
}

/// Arguments of `kodiak table show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The table
    pub table: String,
    /// At most N rows (0: all)
    #[arg(long, short = 'n', default_value_t = 100)]
    pub limit: u64,
    /// Only rows whose COLUMN equals VALUE (repeatable)
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub filters: Vec<String>,
    /// Show the table as of this revision instead of the working state
    #[arg(long, value_name = "REV")]
    pub at: Option<String>,
    /// Output format: table, json or csv
    #[arg(long, default_value = "table")]
    pub format: String,
}

/// Arguments of `kodiak table rm`.
#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// The tables to remove
    #[arg(required = true)]
    pub tables: Vec<String>,
}

/// Arguments of `kodiak table mv` and `kodiak table cp`.
#[derive(clap::Args, Debug)]
pub struct MvArgs {
    /// The existing table
    pub from: String,
    /// The new name
    pub to: String,
}

fn parse_format(text: &str) -> CliResult<Format> {
    let t = text.to_ascii_lowercase();
    let t = match t.as_str() {
        "arrow-stream" | "arrow_stream" | "stream" => "arrows",
        "feather" | "ipc" => "arrow",
        other => other,
    };
    Format::ALL
        .into_iter()
        .find(|f| f.name() == t)
        .ok_or_else(|| {
            CliError::usage(format!(
                "unknown format '{text}': use csv, tsv, arrow, arrow-stream, orc, parquet or jsonl"
            ))
        })
}

fn one_byte(text: &str) -> CliResult<u8> {
    let t = if text == "\\t" { "\t" } else { text };
    match t.as_bytes() {
        [b] => Ok(*b),
        _ => Err(CliError::usage(format!(
            "the delimiter must be one ASCII character, got '{text}'"
        ))),
    }
}

/// Runs `kodiak table`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    match args.command {
        TableCommand::Import(a) => import(ctx, a, out),
        TableCommand::Export(a) => export(ctx, a, out),
        TableCommand::Ls(a) => ls(ctx, a, out),
        TableCommand::Show(a) => show(ctx, a, out),
        TableCommand::Rm(a) => {
            let repo = ctx.open_repo(Access::Write)?;
            tables::change_working(
                &repo,
                &format!("table rm {}", a.tables.join(" ")),
                |_, root| tables::remove_tables(root, &a.tables),
            )?;
            Ok(())
        }
        TableCommand::Mv(a) => {
            let repo = ctx.open_repo(Access::Write)?;
            tables::change_working(
                &repo,
                &format!("table mv {} {}", a.from, a.to),
                |_, root| tables::move_table(root, &a.from, &a.to, false),
            )?;
            Ok(())
        }
        TableCommand::Cp(a) => {
            let repo = ctx.open_repo(Access::Write)?;
            tables::change_working(
                &repo,
                &format!("table cp {} {}", a.from, a.to),
                |_, root| tables::move_table(root, &a.from, &a.to, true),
            )?;
            Ok(())
        }
    }
}

fn import(ctx: &Ctx, a: ImportArgs, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    let mut csv = CsvOptions::default();
    if let Some(d) = &a.delimiter {
        csv.delimiter = one_byte(d)?;
    }
    csv.header = !a.no_header;
    csv.null_token = a.null_token.clone();
    let format = a.format.as_deref().map(parse_format).transpose()?;
    let schema = match &a.schema {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                CliError::user(format!("cannot read schema file {}: {e}", p.display()))
            })?;
            Some(tables::parse_schema_spec(&text, &p.display().to_string())?)
        }
        None => None,
    };
    let mode = if a.create {
        Some(ImportMode::Create)
    } else if a.replace {
        Some(ImportMode::Replace)
    } else if a.update {
        Some(ImportMode::Update)
    } else if a.append {
        Some(ImportMode::Append)
    } else {
        None
    };
    let options = ImportOptions {
        mode,
        primary_key: a.pk.clone(),
        schema,
        read: ReadOptions {
            format,
            csv,
            ..ReadOptions::default()
        },
        sort_memory: 0,
    };
    // A progress line only for a person watching: never on a pipe or in a log.
    let bar = std::io::IsTerminal::is_terminal(&std::io::stderr())
        .then(|| ImportBar::new(&a.table, &a.file));
    let result = tables::import(&repo, &a.table, &a.file, &options, &mut |p| {
        if let Some(b) = &bar {
            b.update(p);
        }
    });
    if let Some(b) = &bar {
        b.bar.finish_and_clear();
    }
    let outcome = result?;
    let plural = |n: u64| if n == 1 { "row" } else { "rows" };
    let (read, table, total) = (outcome.rows_read, &a.table, outcome.row_count);
    let (read, total) = (
        format!("{read} {}", plural(read)),
        format!("{total} {}", plural(total)),
    );
    match outcome.mode {
        ImportMode::Create => writeln!(out, "created table {table} with {read}")?,
        ImportMode::Replace => writeln!(out, "replaced the rows of {table} with {read}")?,
        ImportMode::Update => writeln!(out, "upserted {read} into {table} (now {total})")?,
        ImportMode::Append => writeln!(out, "appended {read} to {table} (now {total})")?,
    }
    Ok(())
}

/// The import progress line: rows, bytes of the file read, rates and, once bytes are known,
/// the ETA (from bytes read against the file size).
struct ImportBar {
    bar: indicatif::ProgressBar,
    /// When rows started coming, and how many came first: the rate leaves out the time before
    /// (a CSV type-inference pass).
    first: std::cell::Cell<Option<(std::time::Instant, u64)>>,
    /// Whether the bar has switched to bytes (formats read by random access report none).
    by_bytes: std::cell::Cell<bool>,
}

impl ImportBar {
    fn new(table: &str, file: &std::path::Path) -> Self {
        let bar = indicatif::ProgressBar::new_spinner();
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} importing {prefix}: {msg} ({elapsed})",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(format!("{table} from {}", file.display()));
        bar.set_message("0 rows");
        ImportBar {
            bar,
            first: std::cell::Cell::new(None),
            by_bytes: std::cell::Cell::new(false),
        }
    }

    fn update(&self, p: tables::ImportProgress) {
        let (t0, r0) = match self.first.get() {
            Some(f) => f,
            None => {
                let f = (std::time::Instant::now(), p.rows);
                self.first.set(Some(f));
                f
            }
        };
        let secs = t0.elapsed().as_secs_f64();
        let rate = if secs > 0.05 {
            let per_sec = (p.rows - r0) as f64 / secs;
            format!(", {}/s", indicatif::HumanCount(per_sec as u64))
        } else {
            String::new()
        };
        self.bar
            .set_message(format!("{} rows{rate}", indicatif::HumanCount(p.rows)));
        let Some(total) = p.total_bytes.filter(|_| p.bytes > 0) else {
            return;
        };
        if !self.by_bytes.replace(true) {
            self.bar.set_length(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} importing {prefix}: {msg}, {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta})",
            ) {
                self.bar.set_style(style);
            }
            // The byte rate and ETA start now, not when the bar appeared.
            self.bar.reset_eta();
        }
        self.bar.set_position(p.bytes.min(total));
    }
}

fn export(ctx: &Ctx, a: ExportArgs, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let format = match &a.format {
        Some(f) => parse_format(f)?,
        None => a
            .file
            .extension()
            .and_then(|e| e.to_str())
            .and_then(Format::from_extension)
            .ok_or_else(|| {
                CliError::usage(format!(
                    "cannot tell the format of {} from its extension; pass --format",
                    a.file.display()
                ))
            })?,
    };
    let mut options = WriteOptions::default();
    if let Some(d) = &a.delimiter {
        options.csv.delimiter = one_byte(d)?;
    }
    options.csv.null_token = a.null_token.clone();
    let root = tables::root_at(&repo, a.at.as_deref())?;
    let n = tables::export(
        repo.store(),
        &root,
        &a.table,
        &a.file,
        format,
        &a.filters,
        &options,
    )?;
    writeln!(
        out,
        "exported {n} rows of {} to {}",
        a.table,
        a.file.display()
    )?;
    Ok(())
}

fn ls(ctx: &Ctx, a: LsArgs, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let root = tables::root_at(&repo, a.at.as_deref())?;
    let mut lines = Vec::new();
    for name in root.tables.keys() {
        let (t, s) = tables::table_of(repo.store(), &root, name)?;
        lines.push((name.clone(), t.row_count, s.columns().len()));
    }
    let width = lines
        .iter()
        .map(|l| l.0.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    writeln!(out, "{:<width$}  {:>10}  {:>7}", "table", "rows", "columns")?;
    for (name, rows, cols) in lines {
        writeln!(out, "{name:<width$}  {rows:>10}  {cols:>7}")?;
    }
    Ok(())
}

fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) if f.is_finite() && *f != 0.0 => serde_json::Value::from(*f),
        other => serde_json::Value::String(other.render()),
    }
}

fn show(ctx: &Ctx, a: ShowArgs, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let root = tables::root_at(&repo, a.at.as_deref())?;
    let (t, schema) = tables::table_of(repo.store(), &root, &a.table)?;
    let limit = (a.limit > 0).then_some(a.limit);
    match a.format.as_str() {
        "csv" => {
            let batches = RowBatches::new(repo.store(), &t, &schema, &a.filters, limit)?;
            let arrow_schema = batches.schema();
            let mut buf = Vec::new();
            let iter = batches.map(|b| {
                b.map_err(|e| kodiak::interchange::InterchangeError::Data {
                    file: "stdout".into(),
                    at: Default::default(),
                    message: e.to_string(),
                })
            });
            kodiak::interchange::write(
                Format::Csv,
                &mut buf,
                "stdout",
                &arrow_schema,
                iter,
                &WriteOptions::default(),
            )
            .map_err(|e| CliError::user(e.to_string()))?;
            out.write_all(&buf)?;
        }
        "json" | "table" => {
            let rows = tables::read_rows(repo.store(), &t, &schema, &a.filters, limit)?;
            let names: Vec<&str> = schema.columns().iter().map(|c| c.name.as_str()).collect();
            if a.format == "json" {
                let items: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| {
                        serde_json::Value::Object(
                            names
                                .iter()
                                .zip(r)
                                .map(|(n, v)| (n.to_string(), json_value(v)))
                                .collect(),
                        )
                    })
                    .collect();
                let text = serde_json::to_string_pretty(&items)
                    .map_err(|e| CliError::internal(format!("encoding JSON: {e}")))?;
                writeln!(out, "{text}")?;
            } else {
                let mut table = comfy_table::Table::new();
                table.load_preset(comfy_table::presets::ASCII_MARKDOWN);
                table.set_header(names.clone());
                for r in &rows {
                    table.add_row(r.iter().map(|v| v.render()).collect::<Vec<_>>());
                }
                writeln!(out, "{table}")?;
                if let Some(l) = limit
                    && rows.len() as u64 == l
                    && a.filters.is_empty()
                    && t.row_count > l
                {
                    writeln!(out, "({l} of {} rows; --limit 0 shows all)", t.row_count)?;
                }
            }
        }
        other => {
            return Err(CliError::usage(format!(
                "unknown output format '{other}': use table, json or csv"
            )));
        }
    }
    Ok(())
}
