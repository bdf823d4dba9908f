//! `kodiak config`: get and set configuration values.

use std::io::Write;

use kodiak::config::{ConfigFile, ConfigKey, global_config_path};

use crate::cli::Ctx;
use crate::cli::error::{CliError, CliResult};

/// Arguments of `kodiak config`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Use the global config file instead of the repository's
    #[arg(long)]
    pub global: bool,

    /// Remove KEY
    #[arg(long, conflicts_with_all = ["value", "list"])]
    pub unset: bool,

    /// List every key=value (global first, then the repository's)
    #[arg(short, long, conflicts_with_all = ["key", "value"])]
    pub list: bool,

    /// The key, e.g. user.name
    #[arg(value_name = "KEY", required_unless_present = "list")]
    pub key: Option<String>,

    /// The value to set
    #[arg(value_name = "VALUE")]
    pub value: Option<String>,
}

/// Runs `kodiak config`.
pub fn run(ctx: &Ctx, args: Args, out: &mut dyn Write) -> CliResult {
    // The global file's location is only required when it is the one being used.
    let global_path = global_config_path().ok();
    // Reading works outside a repository (global only); writing the repo file needs one.
    let repo_path = if args.global {
        None
    } else {
        match ctx.repo_paths() {
            Ok(p) => Some(p.config_path()),
            Err(e) if args.list || (args.value.is_none() && !args.unset) => {
                if ctx.kodiak_dir().is_some() {
                    return Err(e);
                }
                None
            }
            Err(e) => return Err(e),
        }
    };
    if args.list {
        let mut files = Vec::new();
        if let Some(p) = &global_path {
            files.push(ConfigFile::load(p)?);
        }
        if let Some(p) = &repo_path {
            files.push(ConfigFile::load(p)?);
        }
        for file in files {
            for (k, v) in file.entries() {
                writeln!(out, "{k}={v}")?;
            }
        }
        return Ok(());
    }
    let Some(key_text) = args.key else {
        return Err(CliError::usage("a KEY is required"));
    };
    let key = ConfigKey::parse(&key_text)?;
    let target = match &repo_path {
        Some(p) => p.clone(),
        None => global_config_path()?,
    };
    if args.unset {
        let mut file = ConfigFile::load(&target)?;
        if !file.unset(&key) {
            return Err(CliError::user(format!(
                "{key} is not set in {}",
                target.display()
            )));
        }
        return Ok(file.save(&target)?);
    }
    match args.value {
        Some(value) => {
            let mut file = ConfigFile::load(&target)?;
            file.set(&key, &value);
            Ok(file.save(&target)?)
        }
        None => {
            let repo = repo_path.map(|p| ConfigFile::load(&p)).transpose()?;
            let value = match repo.as_ref().and_then(|r| r.get(&key)) {
                Some(v) => Some(v.to_string()),
                None => match &global_path {
                    Some(p) => ConfigFile::load(p)?.get(&key).map(str::to_string),
                    None => None,
                },
            };
            match value {
                Some(v) => Ok(writeln!(out, "{v}")?),
                None => Err(CliError::user(format!("{key} is not set"))),
            }
        }
    }
}
