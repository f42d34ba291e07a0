//! Evaluation: clean and adversarial accuracy, per class, on any list of indices.

use std::sync::Arc;

use candle_core::Device;
use dupstudy_cifar::{Cifar10, EpochBatches, EpochPlan, SplitName};
use dupstudy_metrics::ConfusionMatrix;

use crate::error::Result;
use crate::layers;
use crate::model::Cnn;
use crate::pgd::{self, PgdConfig};
use crate::train::mix_seed;

/// The confusion matrix of `model` on `indices` of `split` (no augmentation, no dropout),
/// on clean inputs or, with `attack`, on its PGD examples (random starts seeded from
/// `seed` and the batch number).
///
/// # Errors
/// Data and tensor errors.
pub fn evaluate(
    model: &Cnn,
    data: &Arc<Cifar10>,
    split: SplitName,
    indices: Arc<Vec<usize>>,
    batch_size: usize,
    device: &Device,
    attack: Option<(&PgdConfig, u64)>,
) -> Result<ConfusionMatrix> {
    let plan = EpochPlan {
        indices,
        batch_size,
        shuffle_seed: None,
        epoch: 0,
        augmentation: None,
        normalization: None,
    };
    let mut confusion = ConfusionMatrix::new(dupstudy_cifar::N_CLASSES).map_err(|e| {
        crate::error::CnnError::InvalidParameter {
            name: "classes",
            message: e.to_string(),
        }
    })?;
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
        let predicted: Vec<usize> = layers::argmax(&logits)?
            .into_iter()
            .map(|p| p as usize)
            .collect();
        let truth: Vec<usize> = host.labels.iter().map(|&l| l as usize).collect();
        let batch =
            ConfusionMatrix::from_predictions(&truth, &predicted, dupstudy_cifar::N_CLASSES)
                .and_then(|m| confusion.merge(&m))
                .map_err(|e| crate::error::CnnError::InvalidParameter {
                    name: "predictions",
                    message: e.to_string(),
                });
        batch?;
    }
    Ok(confusion)
}
