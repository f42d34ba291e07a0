//! Writes a large generated image folder for measuring `dupaudit` at scale: N distinct
//! pictures of SIDE x SIDE pixels (PNG, or JPEG at quality 90 with `jpeg`), 1,000 a folder,
//! and one planted copy per 100 images (mirrored, re-encoded as JPEG, resized to 50-90 %,
//! or brightened; in `copies/`), with `expected.json` listing the planted pairs.
//!
//! ```sh
//! cargo run --release -p dupaudit --example scale_tree -- 1000000 32 png /tmp/scale-1m
//! /usr/bin/time -v dupaudit scan /tmp/scale-1m/images --out /tmp/scale-1m-audit
//! ```

#[allow(dead_code)] // only its picture generator is used here
#[path = "../tests/support/tree.rs"]
mod tree;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use image::{DynamicImage, ImageFormat};
use rayon::prelude::*;

fn encode(image: &DynamicImage, jpeg: bool) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if jpeg {
        let mut cursor = Cursor::new(&mut bytes);
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut cursor, 90);
        image.to_rgb8().write_with_encoder(encoder)?;
    } else {
        image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)?;
    }
    Ok(bytes)
}

fn path_of(root: &Path, k: usize, ext: &str) -> PathBuf {
    root.join(format!("{:04}", k / 1000))
        .join(format!("img{k:07}.{ext}"))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        bail!("usage: scale_tree N SIDE png|jpeg OUT (OUT not there yet)");
    }
    let n: usize = args[1].parse().context("N: a count of images")?;
    let side: u32 = args[2].parse().context("SIDE: pixels")?;
    let jpeg = match args[3].as_str() {
        "png" => false,
        "jpeg" => true,
        other => bail!("format `{other}`: png or jpeg"),
    };
    let out = PathBuf::from(&args[4]);
    ensure!(
        !out.exists(),
        "{} exists; give a folder that is not there yet",
        out.display()
    );
    let images = out.join("images");
    let ext = if jpeg { "jpg" } else { "png" };
    for k in (0..n).step_by(1000) {
        std::fs::create_dir_all(path_of(&images, k, ext).parent().expect("a folder"))?;
    }
    (0..n).into_par_iter().try_for_each(|k| -> Result<()> {
        let picture = DynamicImage::ImageRgb8(tree::picture(side, side, 7_000_000 + k as u64));
        std::fs::write(path_of(&images, k, ext), encode(&picture, jpeg)?)?;
        Ok(())
    })?;
    let copies = images.join("copies");
    std::fs::create_dir_all(&copies)?;
    let planted: Vec<(String, String)> = (0..n / 100)
        .into_par_iter()
        .map(|c| -> Result<(String, String)> {
            let k = c * 100 + 37;
            let source = path_of(&images, k, ext);
            let picture = image::open(&source)?;
            let (copy, jpeg_copy) = match c % 4 {
                0 => (picture.fliph(), jpeg),
                1 => (picture, true),
                2 => {
                    let s = 0.5 + 0.4 * ((c * 7919) % 100) as f32 / 100.0;
                    let w = ((side as f32 * s) as u32).max(8);
                    (
                        picture.resize_exact(w, w, image::imageops::FilterType::Triangle),
                        jpeg,
                    )
                }
                _ => (picture.brighten(30), jpeg),
            };
            let name = copies.join(format!(
                "copy{c:06}.{}",
                if jpeg_copy { "jpg" } else { "png" }
            ));
            std::fs::write(&name, encode(&copy, jpeg_copy)?)?;
            Ok((
                source.to_string_lossy().into_owned(),
                name.to_string_lossy().into_owned(),
            ))
        })
        .collect::<Result<_>>()?;
    std::fs::write(
        out.join("expected.json"),
        serde_json::to_vec(
            &serde_json::json!({ "images": n + planted.len(), "planted": planted }),
        )?,
    )?;
    println!(
        "{} images and {} planted copies in {}",
        n,
        planted.len(),
        images.display()
    );
    Ok(())
}
