//! Writes the generated test tree (see `tests/support/tree.rs`) to a folder, with
//! `expected.json` beside it (planted pairs, the surplus the drop rule removes, the bad
//! files), for checking an installed `dupaudit` (CI's Python check uses it):
//!
//! ```sh
//! cargo run --release -p dupaudit --example make_tree -- /tmp/tree
//! ```

#[path = "../tests/support/tree.rs"]
mod tree;

fn main() -> anyhow::Result<()> {
    let root = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: make_tree FOLDER (a folder not there yet)"))?,
    );
    anyhow::ensure!(
        !root.exists(),
        "{} exists; give a folder that is not there yet",
        root.display()
    );
    let t = tree::write(&root.join("tree"), 24);
    let expected = serde_json::json!({
        "planted": t.planted,
        "surplus": t.surplus,
        "bad": t.bad,
        "images": t.images.len(),
    });
    std::fs::write(
        root.join("expected.json"),
        serde_json::to_vec_pretty(&expected)?,
    )?;
    println!("{}", root.join("tree").display());
    Ok(())
}
