//! This module exists because `lazy_static` causes TSAN to
//! be very unhappy. We rely heavily on TSAN for finding
//! races, so we don't use `lazy_static`.
//!
//! KODIAK PATCH: upstream initialised the value under a spin lock, so the
//! threads the thread pool's initialiser spawns (which immediately read the
//! pool's queue) spun on every core while the initialiser waited for a time
//! slice; on a 2-core machine that was most of a short command's CPU time.
//! `std::sync::OnceLock` blocks waiting threads instead.

use std::sync::OnceLock;

/// A lazily initialized value
pub struct Lazy<T, F> {
    cell: OnceLock<T>,
    init: F,
}

impl<T, F> Lazy<T, F> {
    /// Create a new Lazy
    pub const fn new(init: F) -> Self
    where
        F: Sized,
    {
        Self { cell: OnceLock::new(), init }
    }
}

impl<T, F> std::ops::Deref for Lazy<T, F>
where
    F: Fn() -> T,
{
    type Target = T;

    fn deref(&self) -> &T {
        self.cell.get_or_init(|| (self.init)())
    }
}
