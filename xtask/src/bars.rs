//! Progress bars: the library's [`Progress`] drawn with indicatif (hidden when stderr is not
//! a terminal, so piped output carries no escape codes).

use dupstudy_study::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// A bar in a set of bars.
pub struct Bar {
    bar: ProgressBar,
    multi: MultiProgress,
}

impl Bar {
    /// A study's bar, labelled `prefix`.
    pub fn study(multi: &MultiProgress, prefix: &str) -> Self {
        let bar = multi.add(ProgressBar::new(0));
        bar.set_style(style(
            "{prefix:>18} [{bar:36}] {percent:>3}% ETA {eta} {msg}",
        ));
        bar.set_prefix(prefix.to_string());
        Self {
            bar,
            multi: multi.clone(),
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress for Bar {
    fn set_length(&self, len: u64) {
        self.bar.set_length(len);
    }
    fn set_position(&self, pos: u64) {
        self.bar.set_position(pos);
    }
    fn inc(&self, delta: u64) {
        self.bar.inc(delta);
    }
    fn message(&self, msg: &str) {
        self.bar.set_message(msg.to_string());
    }
    fn child(&self, label: &str) -> Box<dyn Progress> {
        let bar = self.multi.add(ProgressBar::new(0));
        bar.set_style(style("{prefix:>18} [{bar:36}] {pos}/{len} steps {msg}"));
        // The id without its configuration hash.
        let short = label.rsplit_once('-').map_or(label, |(head, _)| head);
        bar.set_prefix(short.to_string());
        Box::new(Bar {
            bar,
            multi: self.multi.clone(),
        })
    }
    fn finish(&self) {
        self.bar.finish_and_clear();
    }
    fn println(&self, line: &str) {
        self.multi.suspend(|| eprintln!("{line}"));
    }
}
