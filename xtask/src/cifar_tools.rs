//! `cargo xtask fetch-cifar` and `cargo xtask cifar-info`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use dupstudy_cifar::fetch::ArchiveSource;
use dupstudy_cifar::{Cifar10, IMAGE_BYTES, N_CLASSES};

use crate::flags::{CifarInfoArgs, FetchCifarArgs};
use dupstudy_study::store::write_atomic;

/// Downloads, verifies and unpacks the official archive, then reads it back as a check.
pub fn fetch(args: &FetchCifarArgs, root: &Path) -> Result<()> {
    let dest = args.dest.clone().unwrap_or_else(|| root.join("data"));
    let source = ArchiveSource::official();
    println!(
        "fetching {} ({} bytes, MD5 {}) into {}",
        source.url,
        source.size,
        source.md5,
        dest.display()
    );
    let folder = dupstudy_cifar::fetch::fetch(&source, &dest, args.attempts).with_context(|| {
        format!(
            "could not get CIFAR-10; download {} by hand, check its MD5 ({}), and unpack it into {}",
            source.url,
            source.md5,
            dest.display()
        )
    })?;
    let data = dupstudy_cifar::load(&folder)?;
    println!(
        "verified and unpacked: {} ({} training and {} test images)",
        folder.display(),
        data.train().len(),
        data.test().len()
    );
    Ok(())
}

/// Prints counts per class and split and writes an image grid.
pub fn info(args: &CifarInfoArgs, root: &Path) -> Result<()> {
    if args.per_class == 0 || args.per_class > 100 {
        bail!(
            "--per-class must be between 1 and 100, got {}",
            args.per_class
        );
    }
    let path = dupstudy_cifar::locate(args.data_dir.as_deref(), root)?;
    let data = dupstudy_cifar::load(&path)?;
    println!("CIFAR-10 from {}", data.source().display());
    println!("{:>12} {:>8} {:>8}", "class", "train", "test");
    let (train, test) = (data.train().class_counts(), data.test().class_counts());
    for (c, name) in data.class_names().iter().enumerate() {
        println!("{name:>12} {:>8} {:>8}", train[c], test[c]);
    }
    println!(
        "{:>12} {:>8} {:>8}",
        "total",
        data.train().len(),
        data.test().len()
    );
    let first: Vec<String> = data
        .train()
        .labels()
        .iter()
        .take(10)
        .map(u8::to_string)
        .collect();
    println!("first training labels: {}", first.join(" "));
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("results").join("cifar-info"));
    let (png_path, svg_path) = write_grid(&data, args.per_class, &out)?;
    println!(
        "image grid (rows are classes, first images of each in file order): {} and {}",
        png_path.display(),
        svg_path.display()
    );
    Ok(())
}

/// A PNG with one row per class holding its first `per_class` training images (scaled 2x,
/// 2-pixel gaps), and an SVG that shows it with the class names beside the rows.
fn write_grid(
    data: &Cifar10,
    per_class: usize,
    out: &Path,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    const SCALE: usize = 2;
    const GAP: usize = 2;
    let cell = 32 * SCALE + GAP;
    let (width, height) = (per_class * cell + GAP, N_CLASSES * cell + GAP);
    let mut rgb = vec![255u8; width * height * 3];
    let train = data.train();
    for class in 0..N_CLASSES {
        let picks: Vec<usize> = (0..train.len())
            .filter(|&i| usize::from(train.labels()[i]) == class)
            .take(per_class)
            .collect();
        for (col, &i) in picks.iter().enumerate() {
            let image = train.image(i)?;
            for y in 0..32 * SCALE {
                for x in 0..32 * SCALE {
                    let (px, py) = (GAP + col * cell + x, GAP + class * cell + y);
                    let src = (y / SCALE) * 32 + x / SCALE;
                    for c in 0..3 {
                        rgb[(py * width + px) * 3 + c] = image[c * 1024 + src];
                    }
                }
            }
        }
    }
    debug_assert_eq!(IMAGE_BYTES, 3 * 1024);
    let mut png_bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut png_bytes, width as u32, height as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().context("encoding the grid")?;
        writer.write_image_data(&rgb).context("encoding the grid")?;
    }
    let png_path = out.join("cifar_grid.png");
    write_atomic(&png_path, &png_bytes)?;
    let label_width = 110;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"14\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <image href=\"cifar_grid.png\" x=\"{label_width}\" y=\"0\" width=\"{width}\" height=\"{height}\"/>\n",
        width + label_width
    );
    for (class, name) in data.class_names().iter().enumerate() {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{name}</text>\n",
            label_width - 8,
            GAP + class * cell + cell / 2 + 5
        ));
    }
    svg.push_str("</svg>\n");
    let svg_path = out.join("cifar_grid.svg");
    write_atomic(&svg_path, svg.as_bytes())?;
    Ok((png_path, svg_path))
}
