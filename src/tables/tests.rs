//! Library tests for tables.
