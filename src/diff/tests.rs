//! Library tests of the diff: plans, schema diffs, row diffs against a naive full scan.
