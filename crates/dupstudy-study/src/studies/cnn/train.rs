//! Training a CIFAR network cell by cell with a checkpoint after every epoch: the loop both
//! CNN studies share.

use std::sync::Arc;
use std::time::Instant;

use dupstudy_cifar::Cifar10;
use dupstudy_cnn::{EpochStats, Trainer};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StudyError};
use crate::study::CellIo;

/// What a checkpoint carries besides the weights: the finished epochs and the seconds so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CheckpointExtra {
    epochs: Vec<EpochStats>,
    seconds: f64,
}

/// The epochs a cell trained and the seconds it spent in earlier runs it resumed.
#[derive(Debug, Clone)]
pub(crate) struct Trained {
    /// Statistics of every epoch, resumed ones included.
    pub(crate) epochs: Vec<EpochStats>,
    /// Seconds spent before this call (from the checkpoint).
    pub(crate) seconds_before: f64,
}

/// Trains `trainer` on `list` for `step_budget` optimizer steps in epochs over the list (the
/// last one cut short when the budget ends inside it): resumes from `io.checkpoint` if it
/// holds one and saves one after every epoch. `start` is when the cell began (for the
/// seconds recorded in checkpoints). With `epoch_budget`, stops with
/// [`StudyError::Interrupted`] once that many epochs have been trained in this call.
///
/// # Errors
/// Model, data and checkpoint errors; a checkpoint whose history cannot be read is an error
/// naming its file, never an empty history.
pub(crate) fn train_with_checkpoints(
    trainer: &mut Trainer,
    data: &Arc<Cifar10>,
    list: &Arc<Vec<usize>>,
    step_budget: u64,
    io: &CellIo<'_>,
    (id, start, epoch_budget): (&str, Instant, Option<u64>),
) -> Result<Trained> {
    let (mut epoch, mut stats, seconds_before) = match trainer.restore_checkpoint(io.checkpoint)? {
        Some((next, extra)) => {
            let path = io.checkpoint.join("state.json");
            let extra: CheckpointExtra =
                serde_json::from_value(extra).map_err(|source| StudyError::Corrupt {
                    path,
                    what: "checkpoint history (epochs and seconds)",
                    source,
                })?;
            tracing::info!(%id, next, "resumed from checkpoint");
            (next, extra.epochs, extra.seconds)
        }
        None => (0, Vec::new(), 0.0),
    };
    let per_epoch = list.len().div_ceil(trainer.config().batch_size) as u64;
    let total_epochs = step_budget.div_ceil(per_epoch);
    let bar = io.progress;
    bar.set_length(step_budget);
    bar.set_position((epoch * per_epoch).min(step_budget));
    let mut trained_here = 0;
    while epoch < total_epochs {
        if epoch_budget.is_some_and(|b| trained_here >= b) {
            return Err(StudyError::Interrupted {
                id: id.to_string(),
                epochs_done: epoch,
            });
        }
        let done = epoch * per_epoch;
        let limit = (step_budget - done).min(per_epoch) as usize;
        bar.message(&format!("epoch {}/{total_epochs}", epoch + 1));
        let epoch_stats =
            trainer.train_partial_epoch(data, list.clone(), epoch, Some(limit), &mut |p| {
                bar.set_position(done + p.batch as u64 + 1);
            })?;
        bar.message(&format!(
            "epoch {}/{total_epochs}, {:.0} images/s",
            epoch + 1,
            epoch_stats.images_per_s
        ));
        stats.push(epoch_stats);
        epoch += 1;
        let finished = epoch;
        trained_here += 1;
        let extra = CheckpointExtra {
            epochs: stats.clone(),
            seconds: seconds_before + start.elapsed().as_secs_f64(),
        };
        trainer.save_checkpoint(
            io.checkpoint,
            epoch,
            serde_json::to_value(&extra).map_err(|source| StudyError::Serialize {
                what: "checkpoint history",
                source,
            })?,
        )?;
        bar.epoch_done(finished, total_epochs);
    }
    Ok(Trained {
        epochs: stats,
        seconds_before,
    })
}
