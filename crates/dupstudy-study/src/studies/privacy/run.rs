//! Running one cell: the model's training list, training with checkpoints, and the logits
//! of every target (and its mirror, and in E2 its PGD example).

use std::sync::Arc;
use std::time::Instant;

use base64::Engine;
use dupstudy_cifar::SplitName;
use dupstudy_cnn::{Trainer, logits};

use super::{CellResult, CellSpec, Context, Design, Training, seeds};
use crate::error::Result;
use crate::studies::cnn::train::train_with_checkpoints;
use crate::studies::cnn::{EVAL_BATCH, evaluated, predicted};
use crate::study::{CellIo, Computed};

/// `f32` values as little-endian bytes in base64 (how cell records keep logits).
pub(crate) fn encode(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Runs one cell (resuming from its checkpoint). With `epoch_budget`, stops with
/// [`crate::StudyError::Interrupted`] once that many epochs have been trained in this call.
///
/// # Errors
/// Design, model, data and checkpoint errors.
pub fn run_cell(
    spec: &CellSpec,
    ctx: &Context,
    io: &CellIo<'_>,
    epoch_budget: Option<u64>,
) -> Result<Computed<CellResult>> {
    let start = Instant::now();
    let id = spec.id()?;
    let s = &spec.setting;
    let design = Design::new(s, ctx.data.train().labels(), &ctx.partition)?;
    let list = Arc::new(design.training_list(s.pool, spec.model));
    let config = spec.train_config();
    let step_budget = config.epochs * list.len().div_ceil(config.batch_size) as u64;
    let mut trainer = Trainer::new(&spec.network(), config, &ctx.device)?;
    let trained = train_with_checkpoints(
        &mut trainer,
        &ctx.data,
        &list,
        step_budget,
        io,
        (&id, start, epoch_budget),
    )?;
    io.progress.message("querying the targets");
    let model = trainer.model();
    let test = Arc::new((0..s.test_pool).collect::<Vec<_>>());
    let test = evaluated(model, &ctx.data, SplitName::Test, &test, &ctx.device, None)?;
    let twins = Arc::new(design.twins.iter().map(|&(t, _)| t).collect::<Vec<_>>());
    let twin_pred = predicted(model, &ctx.data, SplitName::Test, &twins, &ctx.device, None)?;
    let twins_correct: Vec<bool> = twins
        .iter()
        .zip(&twin_pred)
        .map(|(&t, &p)| ctx.data.test().labels()[t] == p)
        .collect();
    let targets = Arc::new(design.targets.clone());
    let query = |mirror, attack| {
        logits(
            model,
            &ctx.data,
            SplitName::Train,
            targets.clone(),
            EVAL_BATCH,
            &ctx.device,
            attack,
            mirror,
        )
    };
    let plain = query(false, None)?;
    let mirrored = query(true, None)?;
    let mut both = Vec::with_capacity(plain.len() * 2);
    for (a, b) in plain.chunks(10).zip(mirrored.chunks(10)) {
        both.extend_from_slice(a);
        both.extend_from_slice(b);
    }
    let attacked_logits = match spec.training {
        Training::Standard => None,
        Training::Clean | Training::Adversarial => {
            io.progress.message("attacking the targets");
            let attack = spec.attack();
            let seed = seeds::query_attack(spec.model);
            Some(encode(&query(false, Some((&attack, seed)))?))
        }
    };
    Ok(Computed {
        result: CellResult {
            train_list: list.len(),
            steps: trainer.optimizer().steps(),
            epochs: trained.epochs,
            test,
            included: design.included(spec.model),
            twins_in: design.twins_in(spec.model),
            twins: twins.to_vec(),
            twins_correct,
            targets: design.targets,
            labels: design.labels,
            copies: design.copies,
            logits: encode(&both),
            attacked_logits,
            partition: ctx.partition.fingerprint(),
        },
        seconds: trained.seconds_before + start.elapsed().as_secs_f64(),
        device: Some(dupstudy_cnn::device::describe(&ctx.device)),
    })
}
