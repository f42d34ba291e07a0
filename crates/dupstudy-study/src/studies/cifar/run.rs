//! Running one cell: its training list, training with checkpoints, and evaluation.

use std::sync::Arc;
use std::time::Instant;

use dupstudy_cifar::{Cifar10, N_CLASSES, SplitName};
use dupstudy_cnn::{Trainer, confusion};
use dupstudy_dup::{Duplication, DuplicationParams, Replacement};
use dupstudy_metrics::ConfusionMatrix;
use rand::seq::SliceRandom;

use super::plan::class_weights;
use super::seeds;
use super::{CellResult, CellSpec, Context, Variant};
use crate::error::{Result, StudyError};
use crate::progress::Progress;
use crate::studies::cnn::train::train_with_checkpoints;
use crate::studies::cnn::{evaluated, predicted};
use crate::study::{CellIo, Computed};

/// The base, the training list and the duplicates per class of a cell.
pub(super) fn training_list(
    spec: &CellSpec,
    data: &Cifar10,
) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    let train = data.train();
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut seeds::base(spec.seed));
    let base_len = spec.setting.base_images.min(order.len());
    let base: Vec<usize> = order[..base_len].to_vec();
    let base_labels: Vec<u8> = base.iter().map(|&i| train.labels()[i]).collect();
    let d = spec.d_rate;
    let draw =
        |policy: Duplication, replacement: Replacement| -> Result<(Vec<usize>, Vec<usize>)> {
            let sampler = DuplicationParams::default()
                .d_rate(d)
                .policy(policy)
                .replacement(replacement)
                .check()?;
            let mut rng = seeds::duplicates(&spec.variant.label(), d, base_len, spec.seed);
            let draw = sampler.draw(&base_labels, &mut rng)?;
            let mut list = base.clone();
            list.extend(draw.indices.iter().map(|&k| base[k]));
            Ok((list, draw.per_class))
        };
    let (list, per_class) = match spec.variant {
        _ if d == 0.0 => (base.clone(), Vec::new()),
        Variant::Uniform | Variant::PaperAttack => {
            draw(Duplication::Uniform, Replacement::Without)?
        }
        Variant::ClassWeighted { favoured_share } => {
            let weights = class_weights(favoured_share).ok_or_else(|| StudyError::Cell {
                id: spec.id().unwrap_or_default(),
                message: format!("favoured share {favoured_share} is outside [0, 1]"),
            })?;
            draw(Duplication::ClassWeighted(weights), Replacement::With)?
        }
        Variant::NotebookCopies => {
            let copies = (d / 10.0) as usize;
            let mut list = base.clone();
            list.extend(
                dupstudy_dup::whole_set_copies(base.len(), copies)
                    .into_iter()
                    .map(|k| base[k]),
            );
            let mut per_class = vec![0; N_CLASSES];
            for &l in &base_labels {
                per_class[usize::from(l)] += copies;
            }
            (list, per_class)
        }
        Variant::EqualSteps => (base.clone(), Vec::new()),
        Variant::FreshData => {
            let extra = (base_len as f64 * d / 100.0).round() as usize;
            if base_len + extra > order.len() {
                return Err(StudyError::Cell {
                    id: spec.id()?,
                    message: "not enough unseen images for the fresh-data control".into(),
                });
            }
            let mut list = base.clone();
            list.extend_from_slice(&order[base_len..base_len + extra]);
            (list, Vec::new())
        }
    };
    Ok((base, list, per_class))
}

/// Runs one cell: resumes from its checkpoint if there is one, saves a checkpoint after
/// every epoch, and returns the finished result. With `epoch_budget`, stops with
/// [`StudyError::Interrupted`] once that many epochs have been trained in this call.
///
/// # Errors
/// Model, data and checkpoint errors; a checkpoint whose history cannot be read is an error
/// naming its file, never an empty history.
pub fn run_cell(
    spec: &CellSpec,
    ctx: &Context,
    io: &CellIo<'_>,
    epoch_budget: Option<u64>,
) -> Result<Computed<CellResult>> {
    let start = Instant::now();
    let id = spec.id()?;
    let data = &ctx.data;
    let (base, list, per_class) = training_list(spec, data)?;
    let list = Arc::new(list);
    let mut trainer = Trainer::new(&spec.model(), spec.train_config(), &ctx.device)?;
    let trained = train_with_checkpoints(
        &mut trainer,
        data,
        &list,
        spec.step_budget(list.len()),
        io,
        (&id, start, epoch_budget),
    )?;
    let (stats, seconds_before) = (trained.epochs, trained.seconds_before);
    let evaluated = evaluate(spec, &trainer, ctx, &base, &list, io.progress)?;
    Ok(Computed {
        result: CellResult {
            train_list: list.len(),
            duplicates_per_class: per_class,
            steps: trainer.optimizer().steps(),
            epochs: stats,
            test: evaluated.test,
            train_original: evaluated.train_original,
            train_list_confusion: evaluated.train_list,
            robust: evaluated.robust,
        },
        seconds: seconds_before + start.elapsed().as_secs_f64(),
        device: Some(dupstudy_cnn::device::describe(&ctx.device)),
    })
}

/// A trained cell's confusion matrices.
struct Evaluated {
    test: ConfusionMatrix,
    train_original: ConfusionMatrix,
    train_list: ConfusionMatrix,
    robust: Option<ConfusionMatrix>,
}

/// Evaluates a trained cell: clean test accuracy, training accuracy on the base and on the
/// duplicated list, and robust test accuracy under the cell's evaluation attack.
fn evaluate(
    spec: &CellSpec,
    trainer: &Trainer,
    ctx: &Context,
    base: &[usize],
    list: &[usize],
    progress: &dyn Progress,
) -> Result<Evaluated> {
    let data = &ctx.data;
    progress.message("evaluating");
    let model = trainer.model();
    let device = &ctx.device;
    let test = Arc::new((0..spec.setting.test_images.min(data.test().len())).collect::<Vec<_>>());
    let test_confusion = evaluated(model, data, SplitName::Test, &test, device, None)?;
    // Predict each distinct training image once; the list's accuracy weights repeats.
    let mut unique: Vec<usize> = list.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let unique = Arc::new(unique);
    let unique_pred = predicted(model, data, SplitName::Train, &unique, device, None)?;
    let lookup = |i: usize| -> u8 {
        unique
            .binary_search(&i)
            .map(|k| unique_pred[k])
            .unwrap_or(u8::MAX)
    };
    let base_pred: Vec<u8> = base.iter().map(|&i| lookup(i)).collect();
    let list_pred: Vec<u8> = list.iter().map(|&i| lookup(i)).collect();
    let train_original = confusion(base, data.train().labels(), &base_pred)?;
    let train_list_confusion = confusion(list, data.train().labels(), &list_pred)?;
    let robust = match spec.eval_attack() {
        Some(attack) => {
            progress.message("attacking the test set");
            let robust_idx = Arc::new(
                (0..spec.setting.robust_test_images.min(data.test().len())).collect::<Vec<_>>(),
            );
            let seed = seeds::eval_attack(spec.seed);
            Some(evaluated(
                model,
                data,
                SplitName::Test,
                &robust_idx,
                device,
                Some((&attack, seed)),
            )?)
        }
        None => None,
    };
    Ok(Evaluated {
        test: test_confusion,
        train_original,
        train_list: train_list_confusion,
        robust,
    })
}
