//! Evaluation: clean and adversarial predictions and accuracy, per class, on any list of
//! indices.

use std::sync::Arc;

use candle_core::Device;
use dupstudy_cifar::{Cifar10, EpochBatches, EpochPlan, SplitName};
use dupstudy_metrics::ConfusionMatrix;

use crate::error::{CnnError, Result};
use crate::layers;
use crate::model::Cnn;
use crate::pgd::{self, PgdConfig};
use crate::train::mix_seed;

/// The predicted class of each image at `indices` of `split` (no augmentation, no
/// dropout), on clean inputs or, with `attack`, on its PGD examples (random starts seeded
/// from `seed` and the batch number).
///
/// # Errors
/// Data and tensor errors.
pub fn predict(
    model: &Cnn,
    data: &Arc<Cifar10>,
    split: SplitName,
    indices: Arc<Vec<usize>>,
    batch_size: usize,
    device: &Device,
    attack: Option<(&PgdConfig, u64)>,
) -> Result<Vec<u8>> {
    let plan = EpochPlan {
        indices,
        batch_size,
        shuffle_seed: None,
        epoch: 0,
        augmentation: None,
        normalization: None,
        min_last_batch: 0,
    };
    let mut predictions = Vec::new();
    for (b, host) in EpochBatches::new(data.clone(), split, plan, 1)?.enumerate() {
        let host = host?;
        let (x, y) = host.to_tensors(device)?;
        let logits = match attack {
            None => model.logits(&x, false)?,
            Some((config, seed)) => {
                pgd::attack(model, &x, &y, config, mix_seed(seed, 100, b as u64))?
                    .logits(model, false)?
            }
        };
        predictions.extend(layers::argmax(&logits)?.into_iter().map(|p| p as u8));
    }
    Ok(predictions)
}

/// The logits (10 per image, row-major) of each image at `indices` of `split`, no
/// augmentation and no dropout; `mirror` flips each image left to right first; with
/// `attack`, the logits of its PGD example (of the mirrored image when `mirror`), random
/// starts seeded from `seed` and the batch number as in [`predict`].
///
/// # Errors
/// Data and tensor errors.
#[allow(clippy::too_many_arguments)]
pub fn logits(
    model: &Cnn,
    data: &Arc<Cifar10>,
    split: SplitName,
    indices: Arc<Vec<usize>>,
    batch_size: usize,
    device: &Device,
    attack: Option<(&PgdConfig, u64)>,
    mirror: bool,
) -> Result<Vec<f32>> {
    let plan = EpochPlan {
        indices,
        batch_size,
        shuffle_seed: None,
        epoch: 0,
        augmentation: None,
        normalization: None,
        min_last_batch: 0,
    };
    let mut out = Vec::new();
    for (b, host) in EpochBatches::new(data.clone(), split, plan, 1)?.enumerate() {
        let host = host?;
        let (mut x, y) = host.to_tensors(device)?;
        if mirror {
            let width = x.dim(3)?;
            let reversed: Vec<u32> = (0..width as u32).rev().collect();
            let reversed = candle_core::Tensor::new(reversed.as_slice(), x.device())?;
            x = x.index_select(&reversed, 3)?.contiguous()?;
        }
        let logits = match attack {
            None => model.logits(&x, false)?,
            Some((config, seed)) => {
                pgd::attack(model, &x, &y, config, mix_seed(seed, 100, b as u64))?
                    .logits(model, false)?
            }
        };
        out.extend(logits.flatten_all()?.to_vec1::<f32>()?);
    }
    Ok(out)
}

/// The confusion matrix of [`predict`]'s output against the true labels.
///
/// # Errors
/// As [`predict`].
pub fn evaluate(
    model: &Cnn,
    data: &Arc<Cifar10>,
    split: SplitName,
    indices: Arc<Vec<usize>>,
    batch_size: usize,
    device: &Device,
    attack: Option<(&PgdConfig, u64)>,
) -> Result<ConfusionMatrix> {
    let predicted = predict(
        model,
        data,
        split,
        indices.clone(),
        batch_size,
        device,
        attack,
    )?;
    let labels = match split {
        SplitName::Train => data.train().labels(),
        SplitName::Test => data.test().labels(),
    };
    confusion(&indices, labels, &predicted)
}

/// The confusion matrix of `predicted` (one per index) against `labels[index]`.
///
/// # Errors
/// [`CnnError::InvalidParameter`] if the lengths differ or a class is out of range.
pub fn confusion(indices: &[usize], labels: &[u8], predicted: &[u8]) -> Result<ConfusionMatrix> {
    let truth: Vec<usize> = indices.iter().map(|&i| usize::from(labels[i])).collect();
    let predicted: Vec<usize> = predicted.iter().map(|&p| usize::from(p)).collect();
    ConfusionMatrix::from_predictions(&truth, &predicted, dupstudy_cifar::N_CLASSES).map_err(|e| {
        CnnError::InvalidParameter {
            name: "predictions",
            message: e.to_string(),
        }
    })
}
