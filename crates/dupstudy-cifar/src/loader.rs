//! Epochs: a shuffled order of indices, cut into batches that a background thread prepares
//! while the model trains on the previous one.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::batch::{Augmentation, BatchOptions, HostBatch, Normalization};
use crate::dataset::{Cifar10, IMAGE_BYTES, SplitView};
use crate::error::{CifarError, Result};

/// A split of the data set: the training or the test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SplitName {
    /// The training split.
    Train,
    /// The test split.
    Test,
}

impl SplitName {
    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Test => "test",
        }
    }
}

/// One pass over a list of indices (duplicates included), in batches.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochPlan {
    /// Indices into the split; a repeated index is a duplicate.
    pub indices: Arc<Vec<usize>>,
    /// Images per batch (`>= 1`); the last batch may be smaller.
    pub batch_size: usize,
    /// Shuffle with this seed, or keep the order (`None`).
    pub shuffle_seed: Option<u64>,
    /// The epoch number: with the seed, it fixes the order and the augmentation draws.
    pub epoch: u64,
    /// Augmentation (`None` for evaluation).
    pub augmentation: Option<Augmentation>,
    /// Normalization of the pixels (`None`: `[0, 1]`).
    pub normalization: Option<Normalization>,
    /// A last batch of fewer images than this joins the batch before it (0 or 1: the last
    /// batch is kept whatever its size, as PyTorch's loader does). A one-image step at the
    /// end of every epoch makes the paper's standard training unstable (`docs/audit.md`), so
    /// a study whose arms' lists differ in length can set half a batch.
    pub min_last_batch: usize,
}

impl EpochPlan {
    /// The order of this epoch: `indices` shuffled by a generator seeded from the seed and
    /// the epoch, or as given.
    pub fn order(&self) -> Vec<usize> {
        let mut order = self.indices.as_ref().clone();
        if let Some(seed) = self.shuffle_seed {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(self.epoch);
            order.shuffle(&mut rng);
        }
        order
    }

    /// The augmentation seed of batch `b`, a function of the shuffle seed, epoch and batch
    /// number only: preparation order and threads do not change the draws.
    pub fn batch_seed(&self, b: usize) -> u64 {
        let base = self.shuffle_seed.unwrap_or(0);
        // SplitMix64 finalizer over (seed, epoch, batch).
        let mut z = base
            ^ self.epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (b as u64).wrapping_mul(0xD1B5_4A32_D192_ED03);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Number of batches.
    pub fn n_batches(&self) -> usize {
        let (len, size) = (self.indices.len(), self.batch_size.max(1));
        let n = len.div_ceil(size);
        let tail = len % size;
        if n >= 2 && tail != 0 && tail < self.min_last_batch {
            n - 1
        } else {
            n
        }
    }

    /// The positions in [`EpochPlan::order`] of batch `b` (`b < n_batches()`): `batch_size`
    /// of them, the last batch what is left (with a short tail joined, see
    /// [`EpochPlan::min_last_batch`]).
    pub fn batch_range(&self, b: usize) -> std::ops::Range<usize> {
        let len = self.indices.len();
        let start = (b * self.batch_size).min(len);
        if b + 1 >= self.n_batches() {
            start..len
        } else {
            start..start + self.batch_size
        }
    }

    fn options(&self, b: usize) -> BatchOptions {
        BatchOptions {
            augmentation: self.augmentation.map(|a| (a, self.batch_seed(b))),
            normalization: self.normalization,
        }
    }

    fn validate(&self, split: &SplitView<'_>) -> Result<()> {
        if self.batch_size == 0 {
            return Err(CifarError::InvalidParameter {
                name: "batch size",
                message: "must be at least 1".into(),
            });
        }
        split.check_indices(&self.indices)
    }
}

/// Batches of one epoch, prepared on a background thread `depth` batches ahead (or on the
/// caller's thread with `depth = 0`). Either way the batches are the same.
pub struct EpochBatches {
    inner: Inner,
}

enum Inner {
    Inline {
        data: Arc<Cifar10>,
        split: SplitName,
        plan: EpochPlan,
        order: Vec<usize>,
        next: usize,
    },
    Prefetch {
        receiver: Receiver<Result<HostBatch>>,
        worker: Option<JoinHandle<()>>,
        /// Spent batches sent back for reuse, so buffers are not reallocated every step.
        recycle: SyncSender<HostBatch>,
    },
}

fn split_of(data: &Cifar10, split: SplitName) -> SplitView<'_> {
    match split {
        SplitName::Train => data.train(),
        SplitName::Test => data.test(),
    }
}

impl EpochBatches {
    /// Starts an epoch over `split` of `data`.
    ///
    /// # Errors
    /// [`CifarError::InvalidParameter`] for a batch size of 0,
    /// [`CifarError::IndexOutOfRange`] for a bad index (both before any work).
    pub fn new(
        data: Arc<Cifar10>,
        split: SplitName,
        plan: EpochPlan,
        depth: usize,
    ) -> Result<Self> {
        plan.validate(&split_of(&data, split))?;
        let order = plan.order();
        if depth == 0 {
            return Ok(Self {
                inner: Inner::Inline {
                    data,
                    split,
                    plan,
                    order,
                    next: 0,
                },
            });
        }
        let (sender, receiver) = sync_channel::<Result<HostBatch>>(depth);
        let (recycle, recycled) = sync_channel::<HostBatch>(depth + 2);
        let worker = std::thread::Builder::new()
            .name("cifar-batches".into())
            .spawn(move || {
                let split = split_of(&data, split);
                let batch_size = plan.batch_size;
                for b in 0..plan.n_batches() {
                    let chunk = &order[plan.batch_range(b)];
                    let mut batch = recycled.try_recv().unwrap_or_else(|_| HostBatch {
                        images: Vec::with_capacity(batch_size * IMAGE_BYTES),
                        labels: Vec::with_capacity(batch_size),
                    });
                    let result = split
                        .fill_batch(chunk, &plan.options(b), &mut batch)
                        .map(|()| batch);
                    if sender.send(result).is_err() {
                        return; // The consumer stopped early.
                    }
                }
            })
            .map_err(|e| CifarError::Worker(e.to_string()))?;
        Ok(Self {
            inner: Inner::Prefetch {
                receiver,
                worker: Some(worker),
                recycle,
            },
        })
    }

    /// Hands a used batch back so its buffers are reused (optional).
    pub fn recycle(&self, batch: HostBatch) {
        if let Inner::Prefetch { recycle, .. } = &self.inner {
            let _ = recycle.try_send(batch);
        }
    }
}

impl Iterator for EpochBatches {
    type Item = Result<HostBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Inline {
                data,
                split,
                plan,
                order,
                next,
            } => {
                let b = *next;
                if b >= plan.n_batches() {
                    return None;
                }
                *next += 1;
                let (start, end) = {
                    let range = plan.batch_range(b);
                    (range.start, range.end)
                };
                let mut batch = HostBatch {
                    images: Vec::new(),
                    labels: Vec::new(),
                };
                Some(
                    split_of(data, *split)
                        .fill_batch(&order[start..end], &plan.options(b), &mut batch)
                        .map(|()| batch),
                )
            }
            Inner::Prefetch {
                receiver, worker, ..
            } => match receiver.recv() {
                Ok(item) => Some(item),
                Err(_) => {
                    // The worker finished (or panicked): report a panic instead of ending early.
                    if let Some(handle) = worker.take()
                        && handle.join().is_err()
                    {
                        return Some(Err(CifarError::Worker("it panicked".into())));
                    }
                    None
                }
            },
        }
    }
}

impl Drop for EpochBatches {
    fn drop(&mut self) {
        if let Inner::Prefetch {
            receiver, worker, ..
        } = &mut self.inner
        {
            // Dropping the receiver makes the worker's next send fail, so it stops.
            if let Some(handle) = worker.take() {
                drop(std::mem::replace(receiver, sync_channel(0).1));
                let _ = handle.join();
            }
        }
    }
}
