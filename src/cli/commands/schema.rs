//! `kodiak schema`: show tables' DDL and change a table's schema in the working state.

use std::io::Write;

use kodiak::schema::{ColumnDef, Type, Value};
use kodiak::tables::{self, Alter};
use serde_json::json;

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak schema`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The schema command.
    #[command(subcommand)]
    pub command: SchemaCommand,
}

/// `kodiak schema` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SchemaCommand {
    /// Print CREATE TABLE DDL for one table or every table.
    Show(ShowArgs),
    /// Change a table's schema: add, drop, rename or retype a column, change its nullability or
    /// default, or set the primary key.
    ///
    /// Adding, dropping and renaming never rewrite rows. --set-pk re-keys every row and fails,
    /// leaving the table unchanged, on a duplicate or NULL key. --set-type converts every value
    /// exactly and fails, leaving the table unchanged, on the first value that does not fit.
    /// A column keeps its tag through all of these, so history and merges follow it.
    Alter(Box<AlterArgs>),
}

/// Arguments of `kodiak schema show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// The table (default: every table)
    pub table: Option<String>,
    /// Show the schema as of this revision instead of the working state
    #[arg(long, value_name = "REV")]
    pub at: Option<String>,
    /// Print JSON (columns with name, type, nullable, default, tag; primary key)
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `kodiak schema alter`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("change").required(true)
    .args(["add_column", "drop_column", "rename_column", "set_pk", "set_type", "set_not_null",
        "drop_not_null", "set_default", "drop_default"])))]
pub struct AlterArgs {
    /// The table
    pub table: String,
    /// Add a column NAME:TYPE (append ` NOT NULL` to the type to forbid NULL; needs --default)
    #[arg(long, value_name = "NAME:TYPE")]
    pub add_column: Option<String>,
    /// Default value of the added column
    #[arg(long, value_name = "V", requires = "add_column")]
    pub default: Option<String>,
    /// Drop a column
    #[arg(long, value_name = "NAME")]
    pub drop_column: Option<String>,
    /// Rename a column OLD:NEW
    #[arg(long, value_name = "OLD:NEW")]
    pub rename_column: Option<String>,
    /// Set the primary key to these columns (comma-separated)
    #[arg(long, value_name = "COL[,COL…]")]
    pub set_pk: Option<String>,
    /// Change a column's type NAME:TYPE, converting every value exactly (fails naming the first
    /// row whose value does not fit)
    #[arg(long, value_name = "NAME:TYPE")]
    pub set_type: Option<String>,
    /// Forbid NULL in a column (fails naming the first row that holds NULL)
    #[arg(long, value_name = "NAME")]
    pub set_not_null: Option<String>,
    /// Allow NULL in a column
    #[arg(long, value_name = "NAME")]
    pub drop_not_null: Option<String>,
    /// Set a column's default NAME=VALUE (existing rows keep their values)
    #[arg(long, value_name = "NAME=VALUE")]
    pub set_default: Option<String>,
    /// Remove a column's default (existing rows keep their values)
    #[arg(long, value_name = "NAME")]
    pub drop_default: Option<String>,
}

/// Runs `kodiak schema`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    match args.command {
        SchemaCommand::Show(a) => show(ctx, a, out),
        SchemaCommand::Alter(a) => alter(ctx, *a),
    }
}

fn show(ctx: &Ctx, a: ShowArgs, out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Read)?;
    let root = tables::root_at(&repo, a.at.as_deref())?;
    let names: Vec<String> = match &a.table {
        Some(t) => vec![t.clone()],
        None => root.tables.keys().cloned().collect(),
    };
    let mut items = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (_, s) = tables::table_of(repo.store(), &root, name)?;
        if a.json {
            let cols: Vec<serde_json::Value> = s
                .columns()
                .iter()
                .map(|c| {
                    json!({"name": c.name, "type": c.ty.to_string(), "nullable": c.nullable,
                        "default": c.default.as_ref().map(Value::render), "tag": c.tag.to_string()})
                })
                .collect();
            let pk: Vec<&str> = s
                .primary_key()
                .into_iter()
                .map(|i| s.columns()[i].name.as_str())
                .collect();
            items.push(json!({"table": name, "columns": cols, "primary_key": pk}));
        } else {
            if i > 0 {
                writeln!(out)?;
            }
            write!(out, "{}", s.to_ddl(name))?;
        }
    }
    if a.json {
        let v = if a.table.is_some() {
            items.pop().unwrap_or(serde_json::Value::Null)
        } else {
            serde_json::Value::Array(items)
        };
        let text = serde_json::to_string_pretty(&v)
            .map_err(|e| CliError::internal(format!("encoding JSON: {e}")))?;
        writeln!(out, "{text}")?;
    }
    Ok(())
}

fn alter(ctx: &Ctx, a: AlterArgs) -> CliResult {
    let change = if let Some(spec) = &a.add_column {
        let (name, ty) = spec
            .split_once(':')
            .ok_or_else(|| CliError::usage(format!("--add-column '{spec}': expected NAME:TYPE")))?;
        let upper = ty.trim().to_ascii_uppercase();
        let (ty_text, not_null) = match upper.strip_suffix("NOT NULL") {
            Some(t) => (&ty.trim()[..t.len()], true),
            None => (ty, false),
        };
        let ty: Type = ty_text.trim().parse()?;
        let mut def = ColumnDef::new(name.trim(), ty);
        if not_null {
            def = def.not_null();
        }
        if let Some(d) = &a.default {
            def = def.with_default(Value::parse(&ty, d)?);
        }
        Alter::AddColumn(def)
    } else if let Some(c) = &a.drop_column {
        Alter::DropColumn(c.clone())
    } else if let Some(r) = &a.rename_column {
        let (old, new) = r
            .split_once(':')
            .ok_or_else(|| CliError::usage(format!("--rename-column '{r}': expected OLD:NEW")))?;
        Alter::RenameColumn(old.trim().to_string(), new.trim().to_string())
    } else if let Some(pk) = &a.set_pk {
        Alter::SetPrimaryKey(
            pk.split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
        )
    } else if let Some(spec) = &a.set_type {
        let (name, ty) = spec
            .split_once(':')
            .ok_or_else(|| CliError::usage(format!("--set-type '{spec}': expected NAME:TYPE")))?;
        Alter::SetType(name.trim().to_string(), ty.trim().parse()?)
    } else if let Some(c) = &a.set_not_null {
        Alter::SetNullable(c.clone(), false)
    } else if let Some(c) = &a.drop_not_null {
        Alter::SetNullable(c.clone(), true)
    } else if let Some(spec) = &a.set_default {
        let (name, value) = spec.split_once('=').ok_or_else(|| {
            CliError::usage(format!("--set-default '{spec}': expected NAME=VALUE"))
        })?;
        let repo = ctx.open_repo(Access::Read)?;
        let root = tables::root_at(&repo, None)?;
        let (_, schema) = tables::table_of(repo.store(), &root, &a.table)?;
        let (_, col) = schema
            .column(name.trim())
            .ok_or_else(|| CliError::usage(format!("no column named '{}'", name.trim())))?;
        let v = Value::parse(&col.ty, value)?;
        drop(repo);
        Alter::SetDefault(name.trim().to_string(), Some(v))
    } else if let Some(c) = &a.drop_default {
        Alter::SetDefault(c.clone(), None)
    } else {
        return Err(CliError::usage("nothing to change"));
    };
    let repo = ctx.open_repo(Access::Write)?;
    tables::change_working(
        &repo,
        &format!("schema alter {}", a.table),
        |store, root| tables::alter_table(store, root, &a.table, &change),
    )?;
    Ok(())
}
