//! An image-folder audit on generated photographs-like images: exact and shifted-and-
//! brightened copies planted across splits are found, unrelated images are not paired, and
//! bad folders are refused with the file or folder named.

use std::path::Path;

use dupstudy_audit::{
    AuditParams, PairKind, SplitName, audit, features, images, output, progress::Silent, summary,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A 32x32 image with structure at several scales (random blobs and edges), as planes.
fn scene(seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut planes = vec![0f32; 3 * 1024];
    let base: [f32; 3] = [
        rng.random_range(40.0..200.0),
        rng.random_range(40.0..200.0),
        rng.random_range(40.0..200.0),
    ];
    for c in 0..3 {
        planes[c * 1024..(c + 1) * 1024].fill(base[c]);
    }
    for _ in 0..12 {
        let (cx, cy, r) = (
            rng.random_range(0.0..32.0f32),
            rng.random_range(0.0..32.0f32),
            rng.random_range(2.0..9.0f32),
        );
        let colour: [f32; 3] = [
            rng.random_range(-80.0..80.0),
            rng.random_range(-80.0..80.0),
            rng.random_range(-80.0..80.0),
        ];
        for y in 0..32 {
            for x in 0..32 {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                if d < r {
                    for c in 0..3 {
                        planes[c * 1024 + y * 32 + x] += colour[c];
                    }
                }
            }
        }
    }
    for v in &mut planes {
        *v += rng.random_range(-6.0..6.0);
    }
    planes
        .iter()
        .map(|v| v.round().clamp(0.0, 255.0) as u8)
        .collect()
}

fn shifted_brightened(planes: &[u8], dx: isize, dy: isize, delta: f32) -> Vec<u8> {
    let mut out = vec![0u8; planes.len()];
    for c in 0..3 {
        for y in 0..32isize {
            for x in 0..32isize {
                let (sx, sy) = ((x - dx).clamp(0, 31), (y - dy).clamp(0, 31));
                let v = f32::from(planes[c * 1024 + (sy * 32 + sx) as usize]) + delta;
                out[c * 1024 + (y * 32 + x) as usize] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

fn save_png(path: &Path, planes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let rgb = images::planes_to_interleaved(planes);
    image::save_buffer(path, &rgb, 32, 32, image::ExtendedColorType::Rgb8).unwrap();
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dupstudy-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn finds_copies_planted_across_splits_in_an_image_folder() {
    let root = temp_dir("folder");
    // 2 classes x 20 training and 2 x 5 test images, all different scenes.
    let mut seed = 0;
    for (split, per_class) in [("train", 20), ("test", 5)] {
        for class in ["cat", "dog"] {
            for k in 0..per_class {
                seed += 1;
                save_png(
                    &root.join(split).join(class).join(format!("{k:03}.png")),
                    &scene(seed),
                );
            }
        }
    }
    // Test cat 900: an exact copy of train cat 003; test dog 901: train dog 007 moved by
    // (2, -1) and brightened by 30 levels.
    let train_cat = images::load(&root).unwrap();
    let find = |split: SplitName, path: &str| {
        train_cat
            .info
            .iter()
            .position(|i| i.split == split && i.path == path)
            .unwrap()
    };
    let cat = train_cat
        .image(find(SplitName::Train, "cat/003.png"))
        .to_vec();
    let dog = train_cat
        .image(find(SplitName::Train, "dog/007.png"))
        .to_vec();
    save_png(&root.join("test/cat/900.png"), &cat);
    save_png(
        &root.join("test/dog/901.png"),
        &shifted_brightened(&dog, 2, -1, 30.0),
    );

    let set = images::load(&root).unwrap();
    assert_eq!(
        (set.count(SplitName::Train), set.count(SplitName::Test)),
        (40, 12)
    );
    let f = features::compute(&set);
    let found = audit::run(&set, &f, &AuditParams::default(), &Silent).unwrap();
    let names = |p: &dupstudy_audit::Pair| {
        let (a, b) = (&set.info[p.a], &set.info[p.b]);
        (
            a.split.name(),
            a.path.clone(),
            b.split.name(),
            b.path.clone(),
            p.kind,
        )
    };
    let pairs: Vec<_> = found.pairs.iter().map(names).collect();
    assert!(
        pairs.contains(&(
            "train",
            "cat/003.png".into(),
            "test",
            "cat/900.png".into(),
            PairKind::Exact
        )),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&(
            "train",
            "dog/007.png".into(),
            "test",
            "dog/901.png".into(),
            PairKind::Near
        )),
        "{pairs:?}"
    );
    assert_eq!(pairs.len(), 2, "unrelated scenes paired: {pairs:?}");
    let s = summary::summarize(&set, &found);
    assert_eq!(s.test_with_train_twin, [2, 1]);

    let out = root.join("out");
    output::write_all(&out, &set, &found, &s, None, None).unwrap();
    let csv = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
    assert_eq!(csv.lines().next(), Some(output::PAIRS_HEADER));
    assert!(
        csv.contains("train,3,cat/003.png,test,5,cat/900.png,1.0000,exact"),
        "{csv}"
    );
    for file in [
        "groups.csv",
        "summary.json",
        "REPORT.md",
        "strongest.png",
        "at_threshold.png",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn refuses_bad_folders_naming_the_file() {
    let root = temp_dir("bad");
    // No images at all.
    std::fs::create_dir_all(root.join("train/cat")).unwrap();
    let err = images::load(&root).unwrap_err().to_string();
    assert!(err.contains("cat") && err.contains("no .png"), "{err}");
    // Mixed sizes.
    save_png(&root.join("train/cat/a.png"), &scene(1));
    let small = vec![0u8; 16 * 16 * 3];
    image::save_buffer(
        root.join("train/cat/b.png"),
        &small,
        16,
        16,
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    let err = images::load(&root).unwrap_err().to_string();
    assert!(err.contains("b.png") && err.contains("16x16"), "{err}");
    // An unreadable image.
    std::fs::write(root.join("train/cat/b.png"), b"not a png").unwrap();
    let err = images::load(&root).unwrap_err().to_string();
    assert!(err.contains("b.png"), "{err}");
    // A folder that does not exist.
    let err = images::load(&root.join("absent")).unwrap_err().to_string();
    assert!(err.contains("absent"), "{err}");
    std::fs::remove_dir_all(&root).unwrap();
}
