//! A generated image folder tree for testing the tool as a user meets it: `train/` and
//! `test/` sets with nested class folders, mixed sizes and formats (PNG, JPEG, WebP, BMP,
//! TIFF, GIF; grayscale, 16-bit, alpha), names with spaces and non-ASCII letters, planted
//! copies within and across the sets, and files that cannot be used.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What the tree holds, as paths relative to its root.
#[derive(Debug, Default)]
pub struct Tree {
    /// Pairs planted as duplicates: (original, copy).
    pub planted: Vec<(String, String)>,
    /// Per planted pair, the path the drop rule removes.
    pub surplus: Vec<String>,
    /// Files that must be listed as skipped.
    pub bad: Vec<String>,
    /// Every usable image.
    pub images: Vec<String>,
}

/// A random picture: a mosaic of 24 cells of random colours (nearest of 24 random
/// centres) over a colour gradient, with a few soft blobs and fine texture, so that two
/// pictures drawn with different seeds share no structure, even as blurred thumbnails.
pub fn picture(w: u32, h: u32, seed: u64) -> RgbImage {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let grad: [f32; 3] = std::array::from_fn(|_| rng.random_range(-60.0..60.0));
    let cells: Vec<([f32; 2], [f32; 3])> = (0..24)
        .map(|_| {
            (
                [rng.random_range(0.0..1.0), rng.random_range(0.0..1.0)],
                std::array::from_fn(|_| rng.random_range(20.0..235.0)),
            )
        })
        .collect();
    let blobs: Vec<([f32; 2], f32, [f32; 3])> = (0..3)
        .map(|_| {
            (
                [rng.random_range(0.0..1.0), rng.random_range(0.0..1.0)],
                rng.random_range(0.05..0.2),
                std::array::from_fn(|_| rng.random_range(-80.0..80.0)),
            )
        })
        .collect();
    let freq = [
        rng.random_range(8.0..30.0f32),
        rng.random_range(8.0..30.0f32),
    ];
    let phase = rng.random_range(0.0..std::f32::consts::TAU);
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
        let texture = 12.0 * ((freq[0] * u + phase).sin() * (freq[1] * v).cos());
        let (_, colour) = cells
            .iter()
            .min_by(|a, b| {
                let d = |c: &[f32; 2]| (u - c[0]).powi(2) + (v - c[1]).powi(2);
                d(&a.0).total_cmp(&d(&b.0))
            })
            .expect("cells");
        let mut px = [0u8; 3];
        for c in 0..3 {
            let mut value = colour[c] + grad[c] * (u - v) + texture;
            for (centre, radius, colour) in &blobs {
                let d2 = (u - centre[0]).powi(2) + (v - centre[1]).powi(2);
                value += colour[c] * (-d2 / (radius * radius)).exp();
            }
            px[c] = value.clamp(0.0, 255.0) as u8;
        }
        Rgb(px)
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    match format {
        ImageFormat::Jpeg => {
            let mut cursor = Cursor::new(&mut bytes);
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut cursor, 90);
            image
                .to_rgb8()
                .write_with_encoder(encoder)
                .expect("encode JPEG");
        }
        _ => image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .expect("encode image"),
    }
    bytes
}

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let path: PathBuf = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("make folders");
    std::fs::write(&path, bytes).expect("write file");
}

/// Writes the tree under `root` (which must not exist yet or be empty) and says what it
/// holds. `distractors` distinct pictures are added to each set.
pub fn write(root: &Path, distractors: usize) -> Tree {
    let mut tree = Tree::default();
    let add = |rel: &str, image: &DynamicImage, format: ImageFormat, tree: &mut Tree| {
        put(root, rel, &encode(image, format));
        tree.images.push(rel.to_string());
    };
    let formats = [
        (ImageFormat::Png, "png"),
        (ImageFormat::Jpeg, "jpg"),
        (ImageFormat::WebP, "webp"),
        (ImageFormat::Bmp, "bmp"),
        (ImageFormat::Tiff, "tiff"),
        (ImageFormat::Gif, "gif"),
    ];
    let sizes = [(32, 32), (64, 48), (120, 160), (200, 150), (256, 256)];
    for set in ["train", "test"] {
        for k in 0..distractors {
            let seed = 1000 + k as u64 + if set == "test" { 50_000 } else { 0 };
            let (w, h) = sizes[k % sizes.len()];
            let (format, ext) = formats[k % formats.len()];
            let class = ["cat", "dog", "ship"][k % 3];
            let deep = if k % 4 == 0 { "/more/deeper" } else { "" };
            let rel = format!("{set}/{class}{deep}/img {k} é.{ext}");
            add(
                &rel,
                &DynamicImage::ImageRgb8(picture(w, h, seed)),
                format,
                &mut tree,
            );
        }
    }
    // Planted: (original, copy, which one the drop rule removes).
    let plant = |orig: (&str, DynamicImage, ImageFormat),
                 copy: (&str, DynamicImage, ImageFormat),
                 surplus: &str,
                 tree: &mut Tree| {
        add(orig.0, &orig.1, orig.2, tree);
        add(copy.0, &copy.1, copy.2, tree);
        tree.planted.push((orig.0.into(), copy.0.into()));
        tree.surplus.push(surplus.into());
    };
    // 1. A test image resized and re-encoded into train: the training copy goes.
    let p = DynamicImage::ImageRgb8(picture(200, 150, 1));
    let small = p.resize_exact(100, 75, image::imageops::FilterType::Triangle);
    plant(
        ("test/cat/original one.png", p, ImageFormat::Png),
        ("train/cat/resized copy.jpg", small, ImageFormat::Jpeg),
        "train/cat/resized copy.jpg",
        &mut tree,
    );
    // 2. Mirrored, across sets the other way round: still the training copy goes.
    let p = DynamicImage::ImageRgb8(picture(64, 64, 2));
    let m = p.fliph();
    plant(
        ("train/dog/a/b/c/ünïcode.webp", p, ImageFormat::WebP),
        ("test/dog/mirrored.png", m, ImageFormat::Png),
        "train/dog/a/b/c/ünïcode.webp",
        &mut tree,
    );
    // 3. Brightened, within train: the smaller original goes.
    let p = DynamicImage::ImageRgb8(picture(300, 300, 3));
    let bright = DynamicImage::ImageRgb8(
        p.brighten(25)
            .resize_exact(150, 150, image::imageops::FilterType::Triangle)
            .to_rgb8(),
    );
    plant(
        ("train/ship/big.bmp", p, ImageFormat::Bmp),
        ("train/ship/sub/brighter.tiff", bright, ImageFormat::Tiff),
        "train/ship/sub/brighter.tiff",
        &mut tree,
    );
    // 4. Cropped to 92 % around the centre, within test: the smaller goes.
    let p = DynamicImage::ImageRgb8(picture(250, 250, 4));
    let crop = p.crop_imm(10, 10, 230, 230);
    plant(
        ("test/ship/gif frame.gif", p, ImageFormat::Gif),
        ("test/ship/cropped.png", crop, ImageFormat::Png),
        "test/ship/cropped.png",
        &mut tree,
    );
    // 5. Grayscale 8-bit and a 16-bit copy of it, across sets.
    let p = DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(picture(96, 96, 5)).to_luma8());
    let deep = DynamicImage::ImageRgb16(p.to_rgb16());
    plant(
        ("train/gray/eight bit.png", p, ImageFormat::Png),
        ("test/gray/sixteen bit.png", deep, ImageFormat::Png),
        "train/gray/eight bit.png",
        &mut tree,
    );
    // 6. With an alpha channel, and an exact re-save, across sets.
    let rgba = DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(picture(80, 60, 6)).to_rgba8());
    plant(
        ("test/alpha/with alpha.png", rgba.clone(), ImageFormat::Png),
        ("train/alpha/same.png", rgba, ImageFormat::Png),
        "train/alpha/same.png",
        &mut tree,
    );
    // Files that cannot be used.
    let good = encode(
        &DynamicImage::ImageRgb8(picture(64, 64, 7)),
        ImageFormat::Png,
    );
    put(root, "train/bad/truncated.png", &good[..good.len() / 2]);
    put(root, "train/bad/empty.jpg", &[]);
    put(root, "test/bad/notes.txt", b"not an image\n");
    put(root, "README.md", b"# a data set\n");
    tree.bad = vec![
        "README.md".into(),
        "test/bad/notes.txt".into(),
        "train/bad/empty.jpg".into(),
        "train/bad/truncated.png".into(),
    ];
    tree
}
