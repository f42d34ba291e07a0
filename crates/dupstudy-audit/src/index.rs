//! Candidate search: a forest of random-projection trees over unit vectors.
//!
//! Each tree splits its points at the median of their projections onto the difference of
//! two random points of the node, down to leaves of at most `leaf` points; two points that
//! share a leaf in any tree are a candidate pair. Building costs `trees x N log N`, the
//! pairs `trees x N x leaf` dot products, so the search grows near `N log N` where a full
//! comparison grows as `N^2`. Near-duplicates are far closer to each other than to anything
//! else, so they share a leaf in some tree with high probability; every candidate is then
//! checked exactly (its dot product here, its alignment in the audit) before it counts.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::{AuditError, Result};

/// How the forest is built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ForestParams {
    /// Trees (more: higher recall, more work). At least 1.
    pub trees: usize,
    /// Largest leaf. At least 2.
    pub leaf: usize,
    /// Seed of the random splits.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        Self {
            trees: 10,
            leaf: 48,
            seed: 0,
        }
    }
}

impl ForestParams {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`AuditError::InvalidParameter`] naming the field.
    pub fn check(&self) -> Result<()> {
        if self.trees == 0 {
            return Err(AuditError::InvalidParameter {
                name: "trees",
                message: "must be at least 1".into(),
            });
        }
        if self.leaf < 2 {
            return Err(AuditError::InvalidParameter {
                name: "leaf",
                message: format!("{}; must be at least 2", self.leaf),
            });
        }
        Ok(())
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A node of a tree: a split by a hyperplane, or a leaf of row indices.
#[derive(Debug, Clone)]
enum Node {
    Split {
        normal: Vec<f32>,
        offset: f32,
        left: usize,
        right: usize,
    },
    Leaf(Vec<u32>),
}

/// A forest of random-projection trees over the rows of a matrix.
#[derive(Debug, Clone)]
pub struct Forest {
    dim: usize,
    trees: Vec<Vec<Node>>,
}

impl Forest {
    /// Builds the forest over `vectors` (`dim` numbers per row), calling `on_tree` after
    /// each tree.
    ///
    /// # Errors
    /// Bad parameters, or `vectors` not a whole number of rows.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        params: &ForestParams,
        on_tree: &(dyn Fn() + Sync),
    ) -> Result<Self> {
        params.check()?;
        if dim == 0 || !vectors.len().is_multiple_of(dim) {
            return Err(AuditError::InvalidParameter {
                name: "vectors",
                message: format!("{} numbers are not rows of {dim}", vectors.len()),
            });
        }
        let rows = (vectors.len() / dim) as u32;
        let trees = (0..params.trees)
            .into_par_iter()
            .map(|t| {
                let seed = params.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let tree = build_tree(vectors, dim, (0..rows).collect(), params.leaf, seed);
                on_tree();
                tree
            })
            .collect();
        Ok(Self { dim, trees })
    }

    /// The leaf `query` falls in, in every tree.
    pub fn leaves<'a>(&'a self, query: &'a [f32]) -> impl Iterator<Item = &'a [u32]> + 'a {
        self.trees.iter().map(move |tree| {
            let mut at = 0;
            loop {
                match &tree[at] {
                    Node::Leaf(items) => return items.as_slice(),
                    Node::Split {
                        normal,
                        offset,
                        left,
                        right,
                    } => {
                        at = if dot(&query[..self.dim], normal) < *offset {
                            *left
                        } else {
                            *right
                        };
                    }
                }
            }
        })
    }

    /// Every leaf of every tree.
    fn all_leaves(&self) -> impl Iterator<Item = &[u32]> {
        self.trees.iter().flatten().filter_map(|n| match n {
            Node::Leaf(items) => Some(items.as_slice()),
            Node::Split { .. } => None,
        })
    }
}

/// One tree over `points`: nodes split at the median projection onto the difference of two
/// random points of the node.
fn build_tree(vectors: &[f32], dim: usize, points: Vec<u32>, leaf: usize, seed: u64) -> Vec<Node> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let row = |p: u32| &vectors[p as usize * dim..(p as usize + 1) * dim];
    let mut nodes = vec![Node::Leaf(Vec::new())];
    let mut stack = vec![(0usize, points)];
    let mut projections: Vec<(f32, u32)> = Vec::new();
    while let Some((at, node)) = stack.pop() {
        if node.len() <= leaf {
            nodes[at] = Node::Leaf(node);
            continue;
        }
        let a = node[rng.random_range(0..node.len())];
        let b = node[rng.random_range(0..node.len())];
        let mut normal: Vec<f32> = row(a).iter().zip(row(b)).map(|(x, y)| x - y).collect();
        if normal.iter().all(|v| *v == 0.0) {
            normal = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        }
        projections.clear();
        projections.extend(node.iter().map(|&p| (dot(row(p), &normal), p)));
        let mid = projections.len() / 2;
        projections.select_nth_unstable_by(mid, |x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let offset = projections[mid].0;
        // Rows projecting exactly onto the offset go right, as queries do.
        let (mut left, mut right) = (Vec::new(), Vec::new());
        for &(v, p) in &projections {
            if v < offset {
                left.push(p);
            } else {
                right.push(p);
            }
        }
        if left.is_empty() || right.is_empty() {
            nodes[at] = Node::Leaf(node);
            continue;
        }
        let (l, r) = (nodes.len(), nodes.len() + 1);
        nodes.push(Node::Leaf(Vec::new()));
        nodes.push(Node::Leaf(Vec::new()));
        nodes[at] = Node::Split {
            normal,
            offset,
            left: l,
            right: r,
        };
        stack.push((r, right));
        stack.push((l, left));
    }
    nodes
}

/// Sorts pairs by `(a, b)` and keeps each once with its best dot product.
fn best_once(mut all: Vec<(u32, u32, f32)>) -> Vec<(u32, u32, f32)> {
    all.sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(y.2.total_cmp(&x.2)));
    all.dedup_by(|later, first| (later.0, later.1) == (first.0, first.1));
    all
}

/// Pairs `(a, b)` of rows of `vectors` (`dim` numbers each, unit length) with `a < b` that
/// share a leaf of some tree and whose dot product is at least `min_dot`, each once with its
/// best dot product, sorted. `owner` maps a row to the item it describes: pairs are of
/// owners, and rows of the same owner are never paired.
///
/// # Errors
/// Bad parameters, or `vectors` not a whole number of rows matching `owner`.
pub fn candidate_pairs(
    vectors: &[f32],
    dim: usize,
    owner: &[u32],
    min_dot: f32,
    params: &ForestParams,
    on_tree: &(dyn Fn() + Sync),
) -> Result<Vec<(u32, u32, f32)>> {
    if dim == 0 || vectors.len() != owner.len() * dim {
        return Err(AuditError::InvalidParameter {
            name: "vectors",
            message: format!(
                "{} numbers for {} rows of {dim}; expected rows x dim",
                vectors.len(),
                owner.len()
            ),
        });
    }
    let forest = Forest::build(vectors, dim, params, on_tree)?;
    let leaves: Vec<&[u32]> = forest.all_leaves().collect();
    let pairs: Vec<(u32, u32, f32)> = leaves
        .par_iter()
        .flat_map_iter(|leaf| {
            let mut pairs = Vec::new();
            for (k, &p) in leaf.iter().enumerate() {
                let vp = &vectors[p as usize * dim..(p as usize + 1) * dim];
                for &q in &leaf[k + 1..] {
                    let (a, b) = (owner[p as usize], owner[q as usize]);
                    if a == b {
                        continue;
                    }
                    let d = dot(vp, &vectors[q as usize * dim..(q as usize + 1) * dim]);
                    if d >= min_dot {
                        pairs.push((a.min(b), a.max(b), d));
                    }
                }
            }
            pairs
        })
        .collect();
    Ok(best_once(pairs))
}

/// A pair found by [`query_pairs`]: items `a < b`, the best dot product of a query of one
/// with a row of the other, and which query gave it (its index among the asking item's
/// queries, and whether the asking item was `a`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Smaller item.
    pub a: u32,
    /// Larger item.
    pub b: u32,
    /// Best dot product.
    pub dot: f32,
    /// Index of the query among its item's queries.
    pub query: u8,
    /// Whether the query was `a`'s.
    pub asked_by_a: bool,
}

/// Pairs of items found by querying `forest` (built over `vectors`, rows owned by
/// `owner`) with `queries` (`dim` numbers each; `per_item` consecutive queries per item,
/// item `k / per_item` asks query `k`): every row in a query's leaves, of another item,
/// whose dot product with the query is at least `min_dot`. Each pair once, with its best
/// dot product, sorted by `(a, b)`.
///
/// # Errors
/// Shapes that do not match.
pub fn query_pairs(
    forest: &Forest,
    vectors: &[f32],
    owner: &[u32],
    queries: &[f32],
    per_item: usize,
    min_dot: f32,
    on_chunk: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Hit>> {
    let dim = forest.dim;
    if per_item == 0 || !queries.len().is_multiple_of(dim * per_item) {
        return Err(AuditError::InvalidParameter {
            name: "queries",
            message: format!(
                "{} query numbers in groups of {per_item}, of {dim} each",
                queries.len()
            ),
        });
    }
    let per = dim * per_item;
    query_pairs_with(
        forest,
        vectors,
        owner,
        queries.len() / per,
        per_item,
        min_dot,
        &|item| queries[item * per..(item + 1) * per].to_vec(),
        on_chunk,
    )
}

/// [`query_pairs`] with each item's queries computed when needed (`queries_of(item)`:
/// `per_item x dim` numbers) instead of stored, for `items` items: the same hits, with
/// memory for a chunk of items' queries at a time.
///
/// # Errors
/// Shapes that do not match.
#[allow(clippy::too_many_arguments)]
pub fn query_pairs_with(
    forest: &Forest,
    vectors: &[f32],
    owner: &[u32],
    items: usize,
    per_item: usize,
    min_dot: f32,
    queries_of: &(dyn Fn(usize) -> Vec<f32> + Sync),
    on_chunk: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Hit>> {
    let dim = forest.dim;
    if vectors.len() != owner.len() * dim || per_item == 0 {
        return Err(AuditError::InvalidParameter {
            name: "queries",
            message: format!(
                "{} vector numbers for {} rows of {dim}, {per_item} queries per item",
                vectors.len(),
                owner.len(),
            ),
        });
    }
    let chunk_items = (2048 / per_item).max(1);
    let mut hits: Vec<Hit> = (0..items)
        .collect::<Vec<_>>()
        .par_chunks(chunk_items)
        .flat_map_iter(|chunk| {
            let mut hits = Vec::new();
            for &item in chunk {
                let queries = queries_of(item);
                debug_assert_eq!(queries.len(), per_item * dim, "per_item x dim numbers");
                let me = item as u32;
                for (k, q) in queries.chunks_exact(dim).take(per_item).enumerate() {
                    for leaf in forest.leaves(q) {
                        for &r in leaf {
                            let other = owner[r as usize];
                            if other == me {
                                continue;
                            }
                            let d = dot(q, &vectors[r as usize * dim..(r as usize + 1) * dim]);
                            if d >= min_dot {
                                hits.push(Hit {
                                    a: me.min(other),
                                    b: me.max(other),
                                    dot: d,
                                    query: k as u8,
                                    asked_by_a: me < other,
                                });
                            }
                        }
                    }
                }
            }
            on_chunk((chunk.len() * per_item) as u64);
            hits
        })
        .collect();
    hits.sort_unstable_by(|x, y| {
        (x.a, x.b)
            .cmp(&(y.a, y.b))
            .then(y.dot.total_cmp(&x.dot))
            .then((x.query, x.asked_by_a).cmp(&(y.query, y.asked_by_a)))
    });
    hits.dedup_by(|later, first| (later.a, later.b) == (first.a, first.b));
    Ok(hits)
}

/// `n` random unit vectors of `dim` numbers in which a `close_share` of the rows are noisy
/// copies of earlier rows (dot product about 0.99 with their source), for benchmarks and
/// tests; seeded.
pub fn synthetic(n: usize, dim: usize, close_share: f64, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<f32> = (0..n * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let copies = (n as f64 * close_share) as usize;
    for k in 0..copies.min(n / 2) {
        let (src, dst) = (k, n - 1 - k);
        for d in 0..dim {
            let noise = rng.random_range(-0.02f32..0.02);
            v[dst * dim + d] = v[src * dim + d] + noise;
        }
    }
    for row in v.chunks_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_vectors(n: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut v: Vec<f32> = (0..n * dim)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        for row in v.chunks_mut(dim) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }

    #[test]
    fn finds_planted_close_pairs_among_random_vectors() {
        let (n, dim) = (5_000, 32);
        let mut v = unit_vectors(n, dim, 1);
        // Rows n-100.. are noisy copies of rows 0..100.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for k in 0..100 {
            let src: Vec<f32> = v[k * dim..(k + 1) * dim].to_vec();
            let dst = &mut v[(n - 100 + k) * dim..(n - 99 + k) * dim];
            for (d, s) in dst.iter_mut().zip(&src) {
                *d = s + rng.random_range(-0.03f32..0.03);
            }
            let norm = dst.iter().map(|x| x * x).sum::<f32>().sqrt();
            dst.iter_mut().for_each(|x| *x /= norm);
        }
        let owner: Vec<u32> = (0..n as u32).collect();
        let pairs =
            candidate_pairs(&v, dim, &owner, 0.95, &ForestParams::default(), &|| {}).unwrap();
        let found = (0..100)
            .filter(|&k| {
                pairs
                    .iter()
                    .any(|p| (p.0, p.1) == (k, (n - 100) as u32 + k))
            })
            .count();
        assert!(found >= 98, "found {found} of 100");
        // Random unit vectors in 32 dimensions are never that close.
        assert!(pairs.len() <= 102, "{} pairs", pairs.len());
        assert!(
            pairs
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
    }

    #[test]
    fn refuses_bad_parameters_and_shapes() {
        let v = unit_vectors(10, 4, 3);
        let owner: Vec<u32> = (0..10).collect();
        let bad = ForestParams {
            trees: 0,
            ..ForestParams::default()
        };
        assert!(candidate_pairs(&v, 4, &owner, 0.0, &bad, &|| {}).is_err());
        assert!(candidate_pairs(&v, 5, &owner, 0.0, &ForestParams::default(), &|| {}).is_err());
    }
}
