//! The learned descriptor on generated images: it separates planted copies from random
//! pairs, and a seed fixes it.

use dupstudy_audit::planted::{self, Transform};
use dupstudy_audit::progress::Silent;
use dupstudy_audit::{ImageInfo, ImageSet, SplitName};
use dupstudy_descriptor::{DescriptorError, DescriptorParams, Descriptors, learn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PER_CLASS: usize = 60;
const CLASSES: usize = 10;

/// One generated 32 x 32 image of `class`: the class's colour gradient plus four random
/// rectangles of random colours (what makes each image its own) and pixel noise.
fn image(class: usize, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let side = 32;
    let mut planes = vec![0u8; 3 * side * side];
    let base = [
        (class * 25 % 256) as f32,
        (80 + class * 37 % 150) as f32,
        (200 - class * 17 % 180) as f32,
    ];
    let rects: Vec<(usize, usize, usize, usize, [f32; 3])> = (0..4)
        .map(|_| {
            let (x, y) = (rng.random_range(0..24), rng.random_range(0..24));
            let (w, h) = (rng.random_range(4..12), rng.random_range(4..12));
            let colour = [
                rng.random_range(0.0..255.0),
                rng.random_range(0.0..255.0),
                rng.random_range(0.0..255.0),
            ];
            (x, y, w, h, colour)
        })
        .collect();
    for y in 0..side {
        for x in 0..side {
            let mut px = [0.0f32; 3];
            for c in 0..3 {
                let slope = if class.is_multiple_of(2) { x } else { y } as f32;
                px[c] = base[c] * 0.7 + slope * 2.0;
            }
            for &(rx, ry, w, h, colour) in &rects {
                if (rx..rx + w).contains(&x) && (ry..ry + h).contains(&y) {
                    px = colour;
                }
            }
            for c in 0..3 {
                let noisy = px[c] + rng.random_range(-8.0..8.0);
                planes[c * side * side + y * side + x] = noisy.clamp(0.0, 255.0) as u8;
            }
        }
    }
    planes
}

/// A training split of `CLASSES x PER_CLASS` generated images and a test split of one
/// planted copy of each of the first `copies` training images (cycling through the
/// transformations); returns the set and each copy's (copy, source) positions.
fn generated(copies: usize) -> (ImageSet, Vec<(usize, usize)>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut set = ImageSet {
        width: 32,
        height: 32,
        pixels: Vec::new(),
        info: Vec::new(),
        class_names: (0..CLASSES).map(|c| format!("class{c}")).collect(),
        source: "generated".into(),
    };
    for i in 0..CLASSES * PER_CLASS {
        let class = i % CLASSES;
        let planes = image(class, &mut rng);
        let info = ImageInfo {
            split: SplitName::Train,
            index: i,
            path: String::new(),
            class,
        };
        set.push(&planes, info)
            .expect("a generated image fits the set");
    }
    let mut pairs = Vec::new();
    for k in 0..copies {
        let transform = Transform::ALL[k % Transform::ALL.len()];
        let copy = planted::apply(set.image(k), 32, 32, transform, &mut rng)
            .expect("the transformation applies");
        let info = ImageInfo {
            split: SplitName::Test,
            index: k,
            path: String::new(),
            class: set.info[k].class,
        };
        set.push(&copy, info).expect("a copy fits the set");
        pairs.push((set.len() - 1, k));
    }
    (set, pairs)
}

/// The transformations the descriptor itself must see through: those that keep the
/// photo's layout and exposure. A mirror and a brightness change move a classifier's
/// features; the audit's aligned similarity, which the fused score adds, undoes both.
const KEEPS_LAYOUT: [Transform; 6] = [
    Transform::Jpeg,
    Transform::Shift,
    Transform::CropRescale,
    Transform::Rescale,
    Transform::Contrast,
    Transform::Colour,
];

#[test]
fn planted_copies_are_nearer_than_random_pairs() {
    let (set, copies) = generated(90);
    let d = learn(&set, &DescriptorParams { epochs: 4, seed: 0 }, &Silent).expect("learns");
    assert_eq!(d.len(), set.len());
    let n_train = CLASSES * PER_CLASS;
    let train: Vec<usize> = (0..n_train).collect();
    let queries: Vec<usize> = copies.iter().map(|&(c, _)| c).collect();
    // Each copy against every training image: where does its source rank?
    let ranked = d.nearest(&queries, &train, n_train);
    let top_percent = n_train / 100;
    let (mut kept, mut found) = (0, 0);
    for (k, (&(_, source), neighbours)) in copies.iter().zip(&ranked).enumerate() {
        let transform = Transform::ALL[k % Transform::ALL.len()];
        let rank = neighbours
            .iter()
            .position(|n| n.index == source)
            .expect("the source is a training image");
        eprintln!("{transform:?}: source ranks {rank}");
        if KEEPS_LAYOUT.contains(&transform) {
            kept += 1;
            found += usize::from(rank < top_percent);
        }
    }
    assert!(
        found * 10 >= kept * 9,
        "only {found} of {kept} planted copies (layout kept) rank their source among the top 1 % ({top_percent}) of {n_train} training images"
    );
    // And a random pair of different images is rarely as similar as a copy and its source.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let mut random: Vec<f32> = (0..5000)
        .filter_map(|_| {
            let (a, b) = (rng.random_range(0..n_train), rng.random_range(0..n_train));
            (a != b).then(|| d.similarity(a, b))
        })
        .collect();
    random.sort_by(f32::total_cmp);
    let median_copy = {
        let mut s: Vec<f32> = copies
            .iter()
            .enumerate()
            .filter(|(k, _)| KEEPS_LAYOUT.contains(&Transform::ALL[k % Transform::ALL.len()]))
            .map(|(_, &(c, s))| d.similarity(c, s))
            .collect();
        s.sort_by(f32::total_cmp);
        s[s.len() / 2]
    };
    let above = random.iter().filter(|&&r| r >= median_copy).count();
    assert!(
        above * 100 <= random.len(),
        "{above} of {} random pairs are at least as similar as the median planted copy ({median_copy:.3})",
        random.len()
    );
}

#[test]
fn a_seed_fixes_the_descriptors() {
    let (set, _) = generated(10);
    let params = DescriptorParams { epochs: 1, seed: 3 };
    let a = learn(&set, &params, &Silent).expect("learns");
    let b = learn(&set, &params, &Silent).expect("learns");
    assert_eq!(a, b, "the same seed gave different descriptors");
    let c = learn(&set, &DescriptorParams { epochs: 1, seed: 4 }, &Silent).expect("learns");
    assert_ne!(a, c, "another seed gave the same descriptors");
}

#[test]
fn bad_input_is_named() {
    let (mut set, _) = generated(0);
    let zero = DescriptorParams { epochs: 0, seed: 0 };
    let err = learn(&set, &zero, &Silent).unwrap_err();
    assert!(matches!(
        err,
        DescriptorError::InvalidParameter { name: "epochs", .. }
    ));
    let mut small = set.clone();
    (small.width, small.height) = (16, 16);
    let err = learn(&small, &DescriptorParams::default(), &Silent).unwrap_err();
    assert!(err.to_string().contains("images are 16x16"), "{err}");
    set.class_names = (0..11).map(|c| c.to_string()).collect();
    let err = learn(&set, &DescriptorParams::default(), &Silent).unwrap_err();
    assert!(err.to_string().contains("11 classes"), "{err}");
    assert!(Descriptors::from_rows(3, vec![0.0; 7]).is_err());
    let d = Descriptors::from_rows(2, vec![3.0, 4.0, 0.0, 0.0]).expect("rows fit");
    assert!((d.similarity(0, 0) - 1.0).abs() < 1e-6);
    assert!(d.similarity(1, 1).abs() < f32::EPSILON);
}

/// Unit rows of `dim` random numbers.
fn random_rows(n: usize, dim: usize, seed: u64) -> Descriptors {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-1.0..1.0)).collect();
    Descriptors::from_rows(dim, rows).expect("rows fit")
}

#[test]
fn the_blocked_search_is_the_exhaustive_one() {
    for dim in [256, 13] {
        let d = random_rows(203, dim, dim as u64);
        let queries: Vec<usize> = (0..203).step_by(3).collect();
        let base: Vec<usize> = (0..203).collect();
        let found = d.nearest(&queries, &base, 7);
        for (&q, got) in queries.iter().zip(&found) {
            let mut all: Vec<(f32, usize)> = base
                .iter()
                .filter(|&&b| b != q)
                .map(|&b| (d.similarity(q, b), b))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let want: Vec<(u32, usize)> = all[..7].iter().map(|&(s, b)| (s.to_bits(), b)).collect();
            let got: Vec<(u32, usize)> = got
                .iter()
                .map(|n| (n.similarity.to_bits(), n.index))
                .collect();
            assert_eq!(got, want, "query {q}, dim {dim}");
        }
        // Candidates: each image's 5 nearest at or above the floor, a pair once.
        let floor = 0.2;
        let pairs = d.candidates(5, floor);
        let mut want = std::collections::BTreeSet::new();
        for q in 0..203 {
            let mut all: Vec<(f32, usize)> = (0..203)
                .filter(|&b| b != q)
                .map(|b| (d.similarity(q, b), b))
                .filter(|&(s, _)| s >= floor)
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, b) in all.iter().take(5) {
                want.insert((q.min(b), q.max(b)));
            }
        }
        assert_eq!(pairs, want.into_iter().collect::<Vec<_>>(), "dim {dim}");
    }
}

#[test]
fn the_learned_audit_pairs_planted_copies_and_repeats_itself() {
    use dupstudy_audit::{AuditParams, features};
    use dupstudy_descriptor::{LearnedAudit, audit, train};
    let (set, copies) = generated(45);
    let learned = LearnedAudit {
        descriptor: DescriptorParams { epochs: 3, seed: 0 },
        ..LearnedAudit::default()
    };
    let model = train(&set, &learned.descriptor, &Silent).expect("trains");
    let f = features::compute(&set);
    let params = AuditParams::with_threshold(0.855);
    let (first, _) = audit(&set, &f, &model, &params, &learned, &Silent).expect("audits");
    let pairs: std::collections::HashSet<(usize, usize)> =
        first.pairs.iter().map(|p| (p.a, p.b)).collect();
    let found = copies
        .iter()
        .filter(|&&(c, s)| pairs.contains(&(c.min(s), c.max(s))))
        .count();
    assert!(
        found * 10 >= copies.len() * 9,
        "the learned audit paired {found} of {} planted copies with their source",
        copies.len()
    );
    let fusion = first.fusion.as_ref().expect("the audit says it fused");
    assert_eq!(fusion.weight.to_bits(), LearnedAudit::WEIGHT.to_bits());
    let model_again = train(&set, &learned.descriptor, &Silent).expect("trains");
    let (second, _) = audit(&set, &f, &model_again, &params, &learned, &Silent).expect("audits");
    assert_eq!(first.pairs, second.pairs, "one seed, two audits");
    assert_eq!(first.groups, second.groups);
    let bad = LearnedAudit {
        weight: 1.5,
        ..learned
    };
    let err = audit(&set, &f, &model, &params, &bad, &Silent).unwrap_err();
    assert!(err.to_string().contains("weight"), "{err}");
}
