//! Records the revision this binary is built from (`DUPSTUDY_BUILD_REVISION`), so that a
//! copied binary running beside a checkout that has moved on names its own code, not the
//! checkout's, in every cell and manifest it writes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(root: &Path, args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn watch(path: &Path) {
    // A path that does not exist would make cargo rerun this script on every build.
    if path.exists() {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.parent().unwrap_or(&manifest).to_path_buf();
    let revision = match git(&root, &["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => {
            // The same rule as `dupstudy_study::manifest::git_revision`: published results
            // (docs/, results/) are outputs, not code.
            let dirty = git(
                &root,
                &[
                    "status",
                    "--porcelain",
                    "--untracked-files=no",
                    "--",
                    ".",
                    ":(exclude)docs",
                    ":(exclude)results",
                ],
            )
            .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown".to_string(),
    };
    println!("cargo::rustc-env=DUPSTUDY_BUILD_REVISION={revision}");
    // Rerun when HEAD moves (a commit or checkout) or when the code changes (dirtiness).
    if let Some(git_dir) = git(&root, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        watch(&git_dir.join("HEAD"));
        watch(&git_dir.join("index"));
        watch(&git_dir.join("packed-refs"));
        if let Some(head_ref) = git(&root, &["symbolic-ref", "-q", "HEAD"]) {
            watch(&git_dir.join(head_ref));
        }
    }
    for path in [
        "crates",
        "xtask/src",
        "xtask/build.rs",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        watch(&root.join(path));
    }
}
