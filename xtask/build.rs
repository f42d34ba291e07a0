//! Records the revision this binary is built from (`DUPSTUDY_BUILD_REVISION`), so that a
//! copied binary running beside a checkout that has moved on names its own code, not the
//! checkout's, in every cell and manifest it writes.

use std::path::{Path, PathBuf};

// `git_revision`: the rule the study records a checkout's revision by (the same file).
include!("../crates/dupstudy-study/src/revision.rs");

fn watch(path: &Path) {
    // A path that does not exist would make cargo rerun this script on every build.
    if path.exists() {
        println!("cargo::rerun-if-changed={}", path.display());
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest.parent().unwrap_or(&manifest).to_path_buf();
    println!(
        "cargo::rustc-env=DUPSTUDY_BUILD_REVISION={}",
        git_revision(&root)
    );
    // Rerun when HEAD moves (a commit or checkout) or when the code changes (dirtiness).
    if let Some(git_dir) = git_output(&root, &["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        watch(&git_dir.join("HEAD"));
        watch(&git_dir.join("index"));
        watch(&git_dir.join("packed-refs"));
        if let Some(head_ref) = git_output(&root, &["symbolic-ref", "-q", "HEAD"]) {
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
