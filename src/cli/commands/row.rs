//! `kodiak row`: insert, replace or delete single rows of a table in the working state.

use std::io::Write;

use kodiak::tables;

use crate::cli::error::CliResult;
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak row`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The row command.
    #[command(subcommand)]
    pub command: RowCommand,
}

/// `kodiak row` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum RowCommand {
    /// Insert a row, or replace the row with the same key (upsert).
    ///
    /// Values are given as COLUMN=VALUE in the column type's text form; columns not given
    /// get their default, or NULL. In a keyless table, adds one more copy of the row.
    Put(PutArgs),
    /// Delete the row with the given primary key.
    Delete(DeleteArgs),
}

/// Arguments of `kodiak row put`.
#[derive(clap::Args, Debug)]
pub struct PutArgs {
    /// The table
    pub table: String,
    /// COLUMN=VALUE assignments
    #[arg(required = true, value_name = "COLUMN=VALUE")]
    pub values: Vec<String>,
}

/// Arguments of `kodiak row delete`.
#[derive(clap::Args, Debug)]
pub struct DeleteArgs {
    /// The table
    pub table: String,
    /// The key: one value, or comma-separated values for a multi-column key
    #[arg(long, value_name = "VALUE[,VALUE…]")]
    pub key: String,
}

/// Runs `kodiak row`.
pub fn run(ctx: &Ctx, args: Args, _out: &mut dyn Write) -> CliResult {
    let repo = ctx.open_repo(Access::Write)?;
    match args.command {
        RowCommand::Put(a) => {
            tables::change_working(&repo, &format!("row put {}", a.table), |store, root| {
                tables::put_row(store, root, &a.table, &a.values)
            })?;
        }
        RowCommand::Delete(a) => {
            tables::change_working(&repo, &format!("row delete {}", a.table), |store, root| {
                let (_, schema) = tables::table_of(store, root, &a.table)?;
                // A one-column key is taken whole, so it may contain commas.
                let key: Vec<String> = if schema.primary_key().len() == 1 {
                    vec![a.key.clone()]
                } else {
                    a.key.split(',').map(str::to_string).collect()
                };
                tables::delete_row(store, root, &a.table, &key)
            })?;
        }
    }
    Ok(())
}
