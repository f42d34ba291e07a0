//! Writes `fixtures/cifar/`: a few-record CIFAR-10 folder in the official binary format.
//!
//! `cargo run -p dupstudy-cifar --example make_fixture` from the workspace root. Each batch
//! file holds 4 records (24 in all) from [`dupstudy_cifar::synthetic::records`]; the test
//! `fixture_matches_its_generator` checks that the committed files equal this output.

use std::path::Path;

use dupstudy_cifar::dataset::{META_FILE, TEST_FILE, TRAIN_FILES};
use dupstudy_cifar::synthetic;

/// Records per batch file.
const PER_FILE: usize = 4;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cifar");
    std::fs::create_dir_all(&dir)?;
    for (k, name) in TRAIN_FILES.iter().chain([&TEST_FILE]).enumerate() {
        std::fs::write(dir.join(name), synthetic::records(k * PER_FILE, PER_FILE))?;
    }
    std::fs::write(dir.join(META_FILE), synthetic::meta())?;
    println!("wrote {}", dir.display());
    Ok(())
}
