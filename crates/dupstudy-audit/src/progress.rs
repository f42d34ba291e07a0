//! Progress of the long phases, for a binary to draw (the library draws nothing).

/// Receives progress; implemented by the command line with progress bars.
pub trait Progress: Sync {
    /// A phase with `total` units of work begins.
    fn start(&self, phase: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The phase is over.
    fn finish(&self);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _phase: &str, _total: u64) {}
    fn advance(&self, _n: u64) {}
    fn finish(&self) {}
}
