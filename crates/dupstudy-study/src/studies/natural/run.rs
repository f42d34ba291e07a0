//! Running one cell: training on its arm's list, evaluation, and the timing cell for
//! estimates.

use std::sync::Arc;
use std::time::Instant;

use dupstudy_cifar::SplitName;
use dupstudy_cnn::{ModelConfig, Trainer, confusion};
use dupstudy_metrics::ConfusionMatrix;

use super::{CellResult, CellSpec, Context};
use crate::error::{Result, StudyError};
use crate::studies::cnn::predicted;
use crate::studies::cnn::train::train_with_checkpoints;
use crate::study::{CellIo, Computed};

/// Runs one cell (resuming from its checkpoint). With `epoch_budget`, stops with
/// [`StudyError::Interrupted`] once that many epochs have been trained in this call.
///
/// # Errors
/// Model, data and checkpoint errors.
pub fn run_cell(
    spec: &CellSpec,
    ctx: &Context,
    io: &CellIo<'_>,
    epoch_budget: Option<u64>,
) -> Result<Computed<CellResult>> {
    let start = Instant::now();
    let id = spec.id()?;
    let p = &ctx.partition;
    if p.key.train_pool != spec.setting.train_pool || p.key.test_pool != spec.setting.test_pool {
        return Err(StudyError::Cell {
            id,
            message: format!(
                "the partition is of pools {}/{}, the cell's are {}/{}",
                p.key.train_pool, p.key.test_pool, spec.setting.train_pool, spec.setting.test_pool
            ),
        });
    }
    let list = p.training_list(spec.arm, spec.seed);
    let natural_d_rate = p.d_rate_of(&list);
    let removed = spec.setting.train_pool - list.len();
    let list = Arc::new(list);
    let config = spec.train_config();
    let step_budget = config.epochs * list.len().div_ceil(config.batch_size) as u64;
    let mut trainer = Trainer::new(&ModelConfig::standard(), config, &ctx.device)?;
    let trained = train_with_checkpoints(
        &mut trainer,
        &ctx.data,
        &list,
        step_budget,
        io,
        (&id, start, epoch_budget),
    )?;
    io.progress.message("evaluating");
    let test: Vec<usize> = (0..spec.setting.test_pool).collect();
    let predicted = predicted(
        trainer.model(),
        &ctx.data,
        SplitName::Test,
        &Arc::new(test.clone()),
        &ctx.device,
        None,
    )?;
    let labels = ctx.data.test().labels();
    let subset = |twin: bool| -> Result<ConfusionMatrix> {
        let (idx, pred): (Vec<usize>, Vec<u8>) = test
            .iter()
            .zip(&predicted)
            .filter(|(i, _)| p.twins.binary_search(i).is_ok() == twin)
            .map(|(&i, &y)| (i, y))
            .unzip();
        Ok(confusion(&idx, labels, &pred)?)
    };
    Ok(Computed {
        result: CellResult {
            train_list: list.len(),
            removed,
            natural_d_rate,
            steps: trainer.optimizer().steps(),
            epochs: trained.epochs,
            test: confusion(&test, labels, &predicted)?,
            test_without_twins: subset(false)?,
            test_twins: subset(true)?,
            partition: p.fingerprint(),
            per_image: Some(super::twins::PerImage::new(
                &labels[..test.len()],
                &predicted,
                p.twins.clone(),
                p.twin_groups.clone(),
            )),
        },
        seconds: trained.seconds_before + start.elapsed().as_secs_f64(),
        device: Some(dupstudy_cnn::device::describe(&ctx.device)),
    })
}
