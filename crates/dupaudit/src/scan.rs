//! The audit of a collection: pairs, groups, which image of each group to keep, and the
//! optional planted-copy validation.

use std::cmp::Reverse;

use dupstudy_audit::audit::group_pairs;
use dupstudy_audit::images::{interleaved_to_planes, planes_to_interleaved};
use dupstudy_audit::planted::{self, Validation};
use dupstudy_audit::progress::Progress;
use dupstudy_audit::{Audit, AuditParams};
use rayon::prelude::*;

use crate::collect::{Collection, Member, SetSource};
use crate::error::{Error, Result};

/// How the audit decides.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Aligned similarity at or above which two images are near-duplicates, in `(0, 1]`.
    pub threshold: f32,
    /// Seed of the candidate search and of the validation's choices.
    pub seed: u64,
    /// Planted copies per transformation for the validation (0: no validation).
    pub validate: usize,
    /// Random same-class pairs the validation aligns for the false-pair rate.
    pub random_pairs: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            threshold: AuditParams::FIRST_THRESHOLD,
            seed: 0,
            validate: 0,
            random_pairs: 200_000,
        }
    }
}

impl Options {
    /// Checks every field, before any work.
    ///
    /// # Errors
    /// [`Error::Parameter`] or the audit's own error, naming the field.
    pub fn check(&self) -> Result<()> {
        self.params().check()?;
        if self.validate > 0 && self.random_pairs == 0 {
            return Err(Error::Parameter {
                name: "--random-pairs",
                message: "0 with --validate; the false-pair rate needs at least 1 pair".into(),
            });
        }
        Ok(())
    }

    fn params(&self) -> AuditParams {
        AuditParams {
            seed: self.seed,
            ..AuditParams::with_threshold(self.threshold)
        }
    }
}

/// A duplicate group: its members (positions in the collection, ascending), its strongest
/// pair's score, and the member kept by the drop rule ([`keep_rule`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Members, ascending.
    pub members: Vec<usize>,
    /// The highest score of a pair inside it (1 for identical images).
    pub strength: f32,
    /// The member kept; every other one is in `drop.txt`.
    pub keep: usize,
}

/// What an audit of a collection found.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The images.
    pub collection: Collection,
    /// Pairs and groups (positions in the collection).
    pub audit: Audit,
    /// Planted-copy recall and false-pair rate, when asked for.
    pub validation: Option<Validation>,
}

/// The order in which sets give up their copies: a group keeps its member from the set
/// that comes first here — a test set (`test`, `testing`), then a validation set (`val`,
/// `valid`, `validation`, `dev`), then any other name, then a training set (`train`,
/// `training`), then new images checked against an index (`query`). So a group that spans
/// train and test keeps the test image and drops the training copies.
pub fn set_rank(name: &str) -> u8 {
    match name.to_ascii_lowercase().as_str() {
        "test" | "testing" => 0,
        "val" | "valid" | "validation" | "dev" => 1,
        "train" | "training" => 3,
        "query" => 4,
        _ => 2,
    }
}

/// The member of `members` to keep: the one of the first set by [`set_rank`]; within it
/// the largest original (most pixels); then the first in the collection's order.
pub fn keep_rule(sets: &[SetSource], list: &[Member], members: &[usize]) -> usize {
    *members
        .iter()
        .min_by_key(|&&i| {
            let m = &list[i];
            (
                set_rank(&sets[m.set].name),
                Reverse(u64::from(m.size.0) * u64::from(m.size.1)),
                i,
            )
        })
        .expect("a group has members")
}

impl Scan {
    /// The groups, strongest first (ties by first member).
    pub fn groups(&self) -> Vec<Group> {
        let mut strength = vec![0.0f32; self.collection.len()];
        for p in &self.audit.pairs {
            strength[p.a] = strength[p.a].max(p.score);
            strength[p.b] = strength[p.b].max(p.score);
        }
        let mut groups: Vec<Group> = self
            .audit
            .groups
            .iter()
            .map(|g| Group {
                members: g.clone(),
                strength: g.iter().map(|&i| strength[i]).fold(0.0, f32::max),
                keep: keep_rule(&self.collection.sets, &self.collection.members, g),
            })
            .collect();
        groups.sort_by(|a, b| {
            b.strength
                .total_cmp(&a.strength)
                .then(a.members[0].cmp(&b.members[0]))
        });
        groups
    }

    /// Every member of a group but the kept one, in collection order.
    pub fn to_drop(&self) -> Vec<usize> {
        surplus(&self.groups())
    }
}

/// Every member of `groups` but each group's kept one, in collection order.
pub fn surplus(groups: &[Group]) -> Vec<usize> {
    let mut drop: Vec<usize> = groups
        .iter()
        .flat_map(|g| g.members.iter().copied().filter(move |&i| i != g.keep))
        .collect();
    drop.sort_unstable();
    drop
}

/// Audits every image of `collection` against every other.
///
/// # Errors
/// Bad options, naming them.
pub fn run(collection: Collection, options: &Options, progress: &dyn Progress) -> Result<Scan> {
    options.check()?;
    let params = options.params();
    let audit = dupstudy_audit::audit::run_compact(&collection.images, &params, progress)?;
    let validation = if options.validate > 0 {
        let (planted_set, copies) = plant(&collection, options.validate, options.seed ^ 0x5EED)?;
        let planted_audit = dupstudy_audit::audit::run_compact(&planted_set, &params, progress)?;
        Some(planted::validate_compact(
            &planted_set,
            &copies,
            &planted_audit,
            collection.len(),
            options.random_pairs,
            options.seed,
        ))
    } else {
        None
    };
    Ok(Scan {
        collection,
        audit,
        validation,
    })
}

/// Planted copies for the validation. When the images have files, each copy is made from
/// the original file at its full size (the transformation applied there, then the copy
/// resized to 50-100 % of that size, then reduced like every image), so the check covers
/// what real collections hold; otherwise (CIFAR-10) from the reduced images.
///
/// # Errors
/// A source file that no longer decodes, or a transformation's encoding failure.
pub fn plant(
    collection: &Collection,
    per_transform: usize,
    seed: u64,
) -> Result<(dupstudy_audit::ImageSet, Vec<planted::Planted>)> {
    let mut set = collection.images.clone();
    if collection.members.iter().any(|m| !m.has_file) {
        let copies = planted::plant(&mut set, per_transform, seed)?;
        return Ok((set, copies));
    }
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let jobs: Vec<(planted::Transform, usize, u64)> = planted::Transform::ALL
        .iter()
        .flat_map(|&t| (0..per_transform).map(move |_| t))
        .map(|t| (t, rng.random_range(0..collection.len()), rng.random()))
        .collect();
    let made: Vec<Result<Vec<u8>>> = jobs
        .par_iter()
        .map(|&(t, source, seed)| {
            let path = collection.file(source).expect("every image has a file");
            let unreadable = |reason: String| Error::Unreadable {
                path: path.to_path_buf(),
                reason,
            };
            let image = image::ImageReader::open(path)
                .and_then(|r| r.with_guessed_format())
                .map_err(|e| unreadable(e.to_string()))?
                .decode()
                .map_err(|e| unreadable(e.to_string()))?
                .to_rgb8();
            let (w, h) = (image.width() as usize, image.height() as usize);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let planes = interleaved_to_planes(image.as_raw());
            let copy = planted::apply(&planes, w, h, t, &mut rng)?;
            let copy = image::RgbImage::from_raw(w as u32, h as u32, planes_to_interleaved(&copy))
                .expect("w x h x 3 bytes");
            let scale: f64 = rng.random_range(0.5..=1.0);
            let (cw, ch) = (
                ((w as f64 * scale).round() as u32).max(1),
                ((h as f64 * scale).round() as u32).max(1),
            );
            let copy =
                image::imageops::resize(&copy, cw, ch, image::imageops::FilterType::Triangle);
            Ok(crate::collect::reduce(
                copy.as_raw(),
                cw as usize,
                ch as usize,
            ))
        })
        .collect();
    let mut copies = Vec::with_capacity(jobs.len());
    for ((t, source, _), planes) in jobs.into_iter().zip(made) {
        let info = dupstudy_audit::ImageInfo {
            path: format!("planted/{}/{}", t.name(), set.info[source].path),
            ..set.info[source].clone()
        };
        set.push(&planes?, info)?;
        copies.push(planted::Planted {
            source,
            copy: set.len() - 1,
            transform: t,
        });
    }
    Ok((set, copies))
}

/// Audits the images of `new` against a stored collection `index` (and against each
/// other): the two are joined, `new` as one set named `query`, and only pairs with a query
/// image are kept.
///
/// # Errors
/// Bad options.
pub fn query(
    index: Collection,
    new: Collection,
    options: &Options,
    progress: &dyn Progress,
) -> Result<Scan> {
    let joined = join_query(index, new)?;
    let query_set = joined.sets.len() - 1;
    let options = Options {
        validate: 0,
        ..*options
    };
    let mut scan = run(joined, &options, progress)?;
    let members = &scan.collection.members;
    let touches = |a: usize, b: usize| members[a].set == query_set || members[b].set == query_set;
    scan.audit.pairs.retain(|p| touches(p.a, p.b));
    scan.audit.near_misses.retain(|p| touches(p.a, p.b));
    scan.audit.groups = group_pairs(scan.collection.len(), &scan.audit.pairs);
    Ok(scan)
}

fn join_query(index: Collection, new: Collection) -> Result<Collection> {
    let mut joined = index;
    let query_set = joined.sets.len();
    joined.sets.push(SetSource {
        name: "query".into(),
        root: new.sets.first().and_then(|s| s.root.clone()),
    });
    for class in &new.images.class_names {
        if !joined.images.class_names.contains(class) {
            joined.images.class_names.push(class.clone());
        }
    }
    for (i, member) in new.members.into_iter().enumerate() {
        let mut info = new.images.info[i].clone();
        let class = &new.images.class_names[info.class];
        info.class = joined
            .images
            .class_names
            .iter()
            .position(|c| c == class)
            .unwrap_or_default();
        joined.images.push(new.images.image(i), info)?;
        joined.members.push(Member {
            set: query_set,
            ..member
        });
    }
    joined.skipped.extend(new.skipped);
    joined.images.source = format!("{}; query: {}", joined.images.source, new.images.source);
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(set: usize, w: u32) -> Member {
        Member {
            set,
            has_file: false,
            size: (w, w),
        }
    }

    #[test]
    fn a_group_keeps_the_test_image_then_the_largest() {
        let sets: Vec<SetSource> = ["train", "test", "photos"]
            .iter()
            .map(|n| SetSource {
                name: (*n).into(),
                root: None,
            })
            .collect();
        let list = vec![member(0, 500), member(1, 32), member(2, 64), member(2, 640)];
        assert_eq!(keep_rule(&sets, &list, &[0, 1, 2]), 1);
        assert_eq!(keep_rule(&sets, &list, &[0, 2, 3]), 3);
        assert_eq!(keep_rule(&sets, &list, &[0, 2]), 2);
        assert_eq!(set_rank("Validation"), 1);
    }
}
