//! Synthetic CIFAR-format records: deterministic, tiny, for fixtures and tests.

use crate::dataset::{Cifar10, IMAGE_BYTES, N_CLASSES, RECORD_BYTES};

/// The ten class names of CIFAR-10, in label order.
pub const CLASS_NAMES: [&str; N_CLASSES] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// `n` records in the official binary format. Record `i` has label `(first + i) % 10` and
/// pixel `(c, y, x)` equal to `(17 * (first + i) + 61 * c + 3 * y + 5 * x) % 256`, so every
/// record and every position is recognizable.
pub fn records(first: usize, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * RECORD_BYTES);
    for i in first..first + n {
        out.push((i % N_CLASSES) as u8);
        for p in 0..IMAGE_BYTES {
            let (c, y, x) = (p / 1024, (p / 32) % 32, p % 32);
            out.push(((17 * i + 61 * c + 3 * y + 5 * x) % 256) as u8);
        }
    }
    out
}

/// The meta file listing [`CLASS_NAMES`], one per line.
pub fn meta() -> String {
    CLASS_NAMES.iter().map(|n| format!("{n}\n")).collect()
}

/// A small data set a CNN can learn in a few hundred steps, for tests that need learning
/// to happen without the real CIFAR-10: class `c` is a flat colour (each channel one of
/// three levels, picked by `c`), with a horizontal or vertical stripe pattern by `c`'s
/// parity and per-pixel noise of ±`noise` levels, all drawn from `seed`. Labels cycle
/// through the classes, so every class has `n / 10` images (±1).
///
/// # Errors
/// [`crate::CifarError::InvalidParameter`] if `n_train` or `n_test` is zero.
pub fn learnable(n_train: usize, n_test: usize, noise: u8, seed: u64) -> crate::Result<Cifar10> {
    if n_train == 0 || n_test == 0 {
        return Err(crate::CifarError::InvalidParameter {
            name: "n_train, n_test",
            message: format!("both must be at least 1, got {n_train} and {n_test}"),
        });
    }
    let n = n_train + n_test;
    let mut pixels = Vec::with_capacity(n * IMAGE_BYTES);
    let mut labels = Vec::with_capacity(n);
    let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for i in 0..n {
        let class = i % N_CLASSES;
        labels.push(class as u8);
        let level =
            |channel: usize| -> i32 { [40, 128, 216][(class / 3usize.pow(channel as u32)) % 3] };
        for p in 0..IMAGE_BYTES {
            let (c, y, x) = (p / 1024, (p / 32) % 32, p % 32);
            let along = if class.is_multiple_of(2) { y } else { x };
            let stripe = if (along / 4).is_multiple_of(2) {
                20
            } else {
                -20
            };
            let jitter = (next() % (2 * u64::from(noise) + 1)) as i32 - i32::from(noise);
            pixels.push((level(c) + stripe + jitter).clamp(0, 255) as u8);
        }
    }
    Cifar10::from_memory(
        pixels,
        labels,
        n_train,
        CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
    )
}

/// Writes `data` as a CIFAR-10 folder in the official binary format (the training records
/// spread over the five batch files as evenly as possible, then `test_batch.bin` and the
/// meta file), so that programs reading the real layout can be tested on it.
///
/// # Errors
/// [`crate::CifarError::Io`] naming the file that could not be written.
pub fn write_folder(data: &Cifar10, dir: &std::path::Path) -> crate::Result<()> {
    use crate::dataset::{META_FILE, TEST_FILE, TRAIN_FILES};
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| crate::CifarError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let encode = |split: crate::SplitView<'_>, range: std::ops::Range<usize>| -> Vec<u8> {
        let mut out = Vec::with_capacity(range.len() * RECORD_BYTES);
        for i in range {
            out.push(split.labels()[i]);
            out.extend_from_slice(&split.pixels()[i * IMAGE_BYTES..(i + 1) * IMAGE_BYTES]);
        }
        out
    };
    let train = data.train();
    let per_file = train.len().div_ceil(TRAIN_FILES.len());
    for (k, name) in TRAIN_FILES.iter().enumerate() {
        let range = (k * per_file).min(train.len())..((k + 1) * per_file).min(train.len());
        let path = dir.join(name);
        std::fs::write(&path, encode(train, range)).map_err(io(&path))?;
    }
    let test = data.test();
    let path = dir.join(TEST_FILE);
    std::fs::write(&path, encode(test, 0..test.len())).map_err(io(&path))?;
    let path = dir.join(META_FILE);
    let names: String = data
        .class_names()
        .iter()
        .map(|n| format!("{n}\n"))
        .collect();
    std::fs::write(&path, names).map_err(io(&path))?;
    Ok(())
}
