//! The CLI error type: a message, an optional hint and an exit code.

use std::fmt;

use kodiak::Error;

/// Exit code of a failed command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// Something the user can fix (bad input, missing repository, lock held): exit 1.
    User,
    /// Bad command-line usage: exit 2 (clap's own usage errors exit 2 too).
    Usage,
    /// Corruption or an internal failure: exit 255.
    Internal,
}

impl ExitKind {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            ExitKind::User => 1,
            ExitKind::Usage => 2,
            ExitKind::Internal => 255,
        }
    }
}

/// A failed command, printed as `error: <message>` and optionally `hint: <hint>` on stderr.
#[derive(Debug)]
pub struct CliError {
    /// What decides the exit code.
    pub kind: ExitKind,
    /// The error line.
    pub message: String,
    /// What the user might do about it.
    pub hint: Option<String>,
    /// Stdout was closed by its reader (`kodiak … | head`): exit quietly with success.
    pub broken_pipe: bool,
}

impl CliError {
    /// A user error (exit 1).
    pub fn user(message: impl Into<String>) -> Self {
        CliError {
            kind: ExitKind::User,
            message: message.into(),
            hint: None,
            broken_pipe: false,
        }
    }

    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            kind: ExitKind::Usage,
            message: message.into(),
            hint: None,
            broken_pipe: false,
        }
    }

    /// An internal error (exit 255).
    pub fn internal(message: impl Into<String>) -> Self {
        CliError {
            kind: ExitKind::Internal,
            message: message.into(),
            hint: None,
            broken_pipe: false,
        }
    }

    /// Adds a hint line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

/// Hint shown when no author identity is configured.
pub const IDENTITY_HINT: &str = "set it with 'kodiak config --global user.name \"Your Name\"' and 'kodiak config --global user.email you@example.com', or set KODIAK_AUTHOR_NAME and KODIAK_AUTHOR_EMAIL";

impl From<Error> for CliError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Corrupt { .. } => CliError::internal(message)
                .with_hint("the repository is damaged; restore it from a clone or a backup"),
            Error::Decode { .. } | Error::Storage(_) | Error::Missing { .. } => CliError::internal(message),
            Error::NotARepository(_) => CliError::user(message).with_hint("run 'kodiak init' to create one"),
            Error::Locked { .. } => CliError::user(message)
                .with_hint("wait for the other command to finish, or pass --wait to block until the lock is free"),
            Error::MissingIdentity(_) => CliError::user(message).with_hint(IDENTITY_HINT),
            Error::AmbiguousPrefix { .. } => CliError::user(message).with_hint("type more hex digits of the id"),
            Error::RefConflict { .. } => {
                CliError::user(message).with_hint("another kodiak process changed it first; run the command again")
            }
            // Library messages may carry their own hint after a "\nhint: " line.
            Error::Invalid(_) => match message.split_once("\nhint: ") {
                Some((m, h)) => CliError::user(m).with_hint(h),
                None => CliError::user(message),
            },
            Error::UnknownPrefix(_) | Error::Io { .. } => CliError::user(message),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        let mut err = CliError::internal(format!("writing output: {e}"));
        err.broken_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
        err
    }
}

/// Result of a command.
pub type CliResult<T = ()> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_to_exit_codes_and_hints() {
        let id = kodiak::id::ObjectId::hash(b"x");
        let cases: Vec<(Error, u8, Option<&str>)> = vec![
            (
                Error::Corrupt {
                    id,
                    reason: "r".into(),
                },
                255,
                Some("damaged"),
            ),
            (Error::Storage("s".into()), 255, None),
            (Error::NotARepository("/x".into()), 1, Some("kodiak init")),
            (Error::Locked { pid: Some(7) }, 1, Some("--wait")),
            (
                Error::MissingIdentity("user.name is not set".into()),
                1,
                Some("user.name"),
            ),
            (Error::Invalid("bad".into()), 1, None),
        ];
        for (e, code, hint) in cases {
            let c = CliError::from(e);
            assert_eq!(c.kind.code(), code, "{c}");
            match hint {
                Some(h) => assert!(c.hint.as_deref().is_some_and(|x| x.contains(h)), "{c}"),
                None => assert!(c.hint.is_none(), "{c}"),
            }
        }
        let shown = CliError::user("m").with_hint("h").to_string();
        assert_eq!(shown, "error: m\nhint: h");
        assert_eq!(CliError::usage("u").kind.code(), 2);
    }
}
