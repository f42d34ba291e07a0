// Included by `manifest.rs` and by xtask's build script (`include!`), so it uses only `std`
// and full paths, and has no inner attributes or module docs.

/// The pathspec of the workspace's code: everything but published results (docs/) and
/// results folders, which are outputs, not code.
pub const CODE: &[&str] = &[".", ":(exclude)docs", ":(exclude)results"];

/// The workspace's git revision, or `unknown` outside a checkout; `-dirty` when a tracked file
/// outside `docs/` and `results/` has uncommitted changes.
pub fn git_revision(root: &std::path::Path) -> String {
    let run = |args: &[&str]| git_output(root, args);
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => {
            // A run that rewrites its outputs is still a run of the committed code.
            let dirty = run(&[&["status", "--porcelain", "--untracked-files=no", "--"], CODE][..].concat())
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown".to_string(),
    }
}

/// What `git ARGS` prints in `root`, trimmed; `None` when git is missing or fails.
pub fn git_output(root: &std::path::Path, args: &[&str]) -> Option<String> {
    std::process::Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}
