//! Progress reporting without a terminal: the library calls this trait, binaries draw bars.

/// A progress sink: a bar, a log, or nothing.
pub trait Progress: Send + Sync {
    /// The total amount of work.
    fn set_length(&self, len: u64);
    /// How much is done.
    fn set_position(&self, pos: u64);
    /// `delta` more is done.
    fn inc(&self, delta: u64);
    /// What is happening now.
    fn message(&self, msg: &str);
    /// A sub-task (e.g. one training cell's optimizer steps) labelled `label`.
    fn child(&self, label: &str) -> Box<dyn Progress> {
        let _ = label;
        Box::new(Silent)
    }
    /// A training cell finished epoch `epoch` (counted from 1) of `of` in this call, after
    /// its statistics were saved in the checkpoint.
    fn epoch_done(&self, epoch: u64, of: u64) {
        let _ = (epoch, of);
    }
    /// The work is done; a child bar disappears.
    fn finish(&self) {}
    /// A line for the user (e.g. `computed <id>`): binaries print it above the bars.
    fn println(&self, line: &str) {
        tracing::info!("{line}");
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn set_length(&self, _: u64) {}
    fn set_position(&self, _: u64) {}
    fn inc(&self, _: u64) {}
    fn message(&self, _: &str) {}
}
