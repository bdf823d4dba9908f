//! `kodiak update-ref`: set or delete a ref with an optional compare-and-swap check.

use std::io::Write;

use kodiak::refs::{Change, Expected, RefName, RefValue, Transaction};

use crate::cli::error::{CliError, CliResult};
use crate::cli::{Access, Ctx};

/// Arguments of `kodiak update-ref`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The ref to update
    #[arg(value_name = "REF")]
    pub name: String,

    /// The new value: an id, an id prefix, or ref:<name>
    #[arg(value_name = "NEW", required_unless_present = "delete")]
    pub new: Option<String>,

    /// Required current value: an id, ref:<name>, or `none` for "must not exist"
    #[arg(long, value_name = "OLD")]
    pub old: Option<String>,

    /// Delete the ref instead of setting it
    #[arg(short, long, conflicts_with = "new")]
    pub delete: bool,

    /// Reflog message
    #[arg(short, long, value_name = "MESSAGE", default_value = "update-ref")]
    pub message: String,
}

fn parse_value(repo: &kodiak::repo::Repo, text: &str) -> CliResult<RefValue> {
    match text.strip_prefix("ref:") {
        Some(name) => Ok(RefValue::Symbolic(RefName::new(name.trim())?)),
        None => Ok(RefValue::Direct(repo.store().resolve_prefix(text)?)),
    }
}

/// Runs `kodiak update-ref`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    let name = RefName::new(&args.name)?;
    let repo = ctx.open_repo(Access::Write)?;
    let expected = match args.old.as_deref() {
        None => Expected::Any,
        Some("none") => Expected::Absent,
        Some(old) => match old.strip_prefix("ref:") {
            Some(n) => Expected::Equals(RefValue::Symbolic(RefName::new(n.trim())?)),
            // The old value may name an object that no longer exists: accept full ids as-is.
            None => match kodiak::id::ObjectId::from_hex(old) {
                Ok(id) => Expected::Equals(RefValue::Direct(id)),
                Err(_) => Expected::Equals(parse_value(&repo, old)?),
            },
        },
    };
    let change = match (&args.new, args.delete) {
        (_, true) => Change::Delete,
        (Some(new), false) => Change::Set(parse_value(&repo, new)?),
        (None, false) => return Err(CliError::usage("NEW is required unless --delete is given")),
    };
    let tx = Transaction::new().update_ref(name, expected, change);
    repo.transaction(&tx, &args.message)?;
    repo.close()?;
    out.flush()?;
    Ok(())
}
