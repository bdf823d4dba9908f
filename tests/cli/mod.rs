//! CLI tests, one module per area.

mod branches;
mod bundle;
mod cat_object;
mod config;
mod dictionary;
mod diff;
mod help;
mod history;
mod legacy_index;
mod lock;
mod loop_helpers;
mod merge;
mod package;
mod refs;
mod repo;
mod tables;
mod workspaces;
