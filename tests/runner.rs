//! The one integration-test binary: runs the real `kodiak` executable.

mod cli;
mod common;
