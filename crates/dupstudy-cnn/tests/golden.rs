//! A few training steps of each network pinned to stored bits, so that a change of the
//! numerics shows on any machine: a seed must give the same model on every CPU.
//!
//! The stored values are FNV-1a hashes of the bits of every parameter after the steps and
//! of each batch's loss. Two kernel paths exist, with different arithmetic: the direct
//! convolutions (`Kernels::Fast`, in AVX-512, AVX2 or scalar code by CPU, one set of bits;
//! `DUPSTUDY_ISA=avx2` or `scalar` runs a narrower one here) and im2col + the fixed-order
//! product (`Kernels::Portable`). Each has its own values, which must hold on every CPU. If
//! a deliberate change of the arithmetic moves them, every published CNN number moves too:
//! say so, and update the values from the failure message.

use std::sync::Arc;

use candle_core::Device;
use dupstudy_cnn::{Kernels, ModelConfig, PgdConfig, TrainConfig, Trainer};

/// The stored values: (parameters hash, losses hash) of each (network, kernel path).
const STANDARD_DIRECT: (u64, u64) = (0xe679_4d1f_aefa_63f7, 0x098b_50ae_72b8_4c9b);
const STANDARD_PORTABLE: (u64, u64) = (0xe1e9_9122_e5a2_bcdc, 0x098b_50ae_72b8_4c9b);
const ADVERSARIAL_DIRECT: (u64, u64) = (0x1ab3_ef90_3027_2abd, 0x7d27_a1ad_6cd2_5f8b);
const ADVERSARIAL_PORTABLE: (u64, u64) = (0xa90a_242d_1980_627f, 0x7d27_a1ad_6cd2_5f8b);

fn fnv1a(words: impl IntoIterator<Item = u32>) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for word in words {
        for byte in word.to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Trains `batches` batches of `batch` images and returns (parameters hash, losses hash).
fn steps(
    model: &ModelConfig,
    mut config: TrainConfig,
    kernels: Kernels,
    batches: usize,
) -> (u64, u64) {
    let data = Arc::new(dupstudy_cifar::synthetic::learnable(256, 10, 40, 7).unwrap());
    config.epochs = 1;
    config.batch_size = 16;
    config.prefetch = 0;
    let mut trainer = Trainer::new(model, config, &Device::Cpu).unwrap();
    trainer.set_kernels(kernels);
    let indices = Arc::new((0..256).collect::<Vec<_>>());
    let mut losses = Vec::new();
    let mut last = 0.0;
    trainer
        .train_partial_epoch(&data, indices, 0, Some(batches), &mut |p| {
            // The running mean's bits after each batch pin every batch's loss.
            last = p.loss;
            losses.push(p.loss);
        })
        .unwrap();
    assert!(last.is_finite());
    let params = trainer
        .model()
        .parameters()
        .iter()
        .flat_map(|p| p.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .map(f32::to_bits)
        .collect::<Vec<_>>();
    let loss_words = losses.iter().flat_map(|l| {
        let bits = l.to_bits();
        [bits as u32, (bits >> 32) as u32]
    });
    (fnv1a(params), fnv1a(loss_words))
}

fn standard(kernels: Kernels) -> (u64, u64) {
    steps(
        &ModelConfig::standard(),
        TrainConfig::paper_standard(11),
        kernels,
        4,
    )
}

fn adversarial(kernels: Kernels) -> (u64, u64) {
    let attack = PgdConfig {
        steps: 3,
        ..PgdConfig::madry()
    };
    steps(
        &ModelConfig::adversarial(),
        TrainConfig::paper_adversarial(12, attack),
        kernels,
        3,
    )
}

fn check(what: &str, got: (u64, u64), want: (u64, u64)) {
    assert_eq!(
        got, want,
        "{what}: the training steps' bits changed: got ({:#018x}, {:#018x}), stored ({:#018x}, {:#018x})",
        got.0, got.1, want.0, want.1
    );
}

#[test]
fn portable_kernels_give_the_stored_bits() {
    check(
        "standard, portable",
        standard(Kernels::Portable),
        STANDARD_PORTABLE,
    );
    check(
        "adversarial, portable",
        adversarial(Kernels::Portable),
        ADVERSARIAL_PORTABLE,
    );
}

#[test]
fn fast_kernels_give_the_stored_bits() {
    let (want_standard, want_adversarial) = (STANDARD_DIRECT, ADVERSARIAL_DIRECT);
    let isa = Kernels::vector_isa();
    check(
        &format!("standard, fast ({isa})"),
        standard(Kernels::Fast),
        want_standard,
    );
    check(
        &format!("adversarial, fast ({isa})"),
        adversarial(Kernels::Fast),
        want_adversarial,
    );
}
