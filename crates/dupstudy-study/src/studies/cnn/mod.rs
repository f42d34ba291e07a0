//! What every CNN study shares: training a cell with a checkpoint after every epoch
//! (`train`), timing a network for estimates ([`cost`]), the checks of a training setting,
//! and predicting a split into a confusion matrix.

pub mod cost;
pub mod flags;
pub(crate) mod train;

use std::sync::Arc;

use candle_core::Device;
use dupstudy_cifar::{Cifar10, SplitName};
use dupstudy_cnn::{Cnn, PgdConfig, confusion, predict};
use dupstudy_metrics::ConfusionMatrix;

use crate::error::{Result, StudyError};

pub use cost::{Costs, calibrate};

/// Images per prediction batch.
pub(crate) const EVAL_BATCH: usize = 500;

/// Checks the training setting every CNN study has, naming the flag at fault.
///
/// # Errors
/// [`StudyError::InvalidParameter`] for zero epochs or a zero batch size.
pub(crate) fn check_training(epochs: u64, batch_size: usize) -> Result<()> {
    if epochs == 0 {
        return Err(StudyError::invalid("--epochs", "must be at least 1"));
    }
    if batch_size == 0 {
        return Err(StudyError::invalid("batch size", "must be at least 1"));
    }
    Ok(())
}

/// The predicted classes of `indices` of `split` (under `attack` with its seed, if given).
///
/// # Errors
/// Model and data errors.
pub(crate) fn predicted(
    model: &Cnn,
    data: &Arc<Cifar10>,
    split: SplitName,
    indices: &Arc<Vec<usize>>,
    device: &Device,
    attack: Option<(&PgdConfig, u64)>,
) -> Result<Vec<u8>> {
    Ok(predict(
        model,
        data,
        split,
        indices.clone(),
        EVAL_BATCH,
        device,
        attack,
    )?)
}

/// The confusion matrix of `model` on `indices` of `split`.
///
/// # Errors
/// Model and data errors.
pub(crate) fn evaluated(
    model: &Cnn,
    data: &Arc<Cifar10>,
    split: SplitName,
    indices: &Arc<Vec<usize>>,
    device: &Device,
    attack: Option<(&PgdConfig, u64)>,
) -> Result<ConfusionMatrix> {
    let pred = predicted(model, data, split, indices, device, attack)?;
    let labels = match split {
        SplitName::Train => data.train().labels(),
        SplitName::Test => data.test().labels(),
    };
    Ok(confusion(indices, labels, &pred)?)
}
