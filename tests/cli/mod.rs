//! CLI tests, one module per area.

mod cat_object;
mod config;
mod help;
mod lock;
mod refs;
mod repo;
