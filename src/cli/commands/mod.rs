//! One module per command.

pub mod add;
pub mod blame;
pub mod branch;
pub mod cat_object;
pub mod checkout;
pub mod commit;
pub mod config;
pub mod diff;
pub mod init;
pub mod log;
pub mod reflog;
pub mod reset;
pub mod rollback;
pub mod row;
pub mod schema;
pub mod show;
pub mod show_ref;
pub mod snapshot;
pub mod status;
pub mod switch;
pub mod table;
pub mod tag;
pub mod update_ref;
pub mod workspace;
