//! History: commits, revisions, history walks, the working state of workspaces, and the
//! operations that move through history (branch, switch, tag, reset, rollback, workspaces,
//! snapshots).
//!
//! Every operation that changes the repository stores its objects first and then applies one
//! ref/working-set transaction with compare-and-swap preconditions.

pub mod blame;
pub mod diff;
pub mod ops;
pub mod revision;
pub mod rows;
pub mod snapshot;
pub mod state;
pub mod walk;
pub mod workspace;

pub use diff::{TableChange, diff_roots};
pub use ops::{CommitOptions, CommitOutcome, ResetMode};
pub use revision::{Resolved, resolve, resolve_commit};
pub use state::{WorkState, empty_root_id, read_root};
pub use walk::{Walk, is_ancestor, merge_base, merge_bases};

#[cfg(test)]
mod tests;
