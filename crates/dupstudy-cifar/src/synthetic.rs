//! Synthetic CIFAR-format records: deterministic, tiny, for fixtures and tests.

use crate::dataset::{IMAGE_BYTES, N_CLASSES, RECORD_BYTES};

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
