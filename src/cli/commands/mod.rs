//! One module per command.

pub mod cat_object;
pub mod config;
pub mod init;
pub mod reflog;
pub mod show_ref;
pub mod update_ref;
