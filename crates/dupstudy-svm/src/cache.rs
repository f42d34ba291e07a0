//! A least-recently-used cache of kernel rows under a memory budget, after LIBSVM's `Cache`.
//!
//! Row `i` may hold any prefix `0..len` of its entries; asking for a longer prefix computes
//! only the missing tail. Rows are `f32`, as in LIBSVM, which halves memory and bandwidth;
//! the solver keeps its gradient in `f64`. The budget counts allocated capacity, not just
//! the entries in use, and rows are allocated exactly, so it bounds real memory.

/// Marks "no row" in the LRU links and as the pinned row.
const NONE: usize = usize::MAX;

#[derive(Debug)]
pub(crate) struct RowCache {
    rows: Vec<Vec<f32>>,
    prev: Vec<usize>,
    next: Vec<usize>,
    /// Least recently used row (evicted first).
    head: usize,
    /// Most recently used row.
    tail: usize,
    budget: usize,
    /// Allocated `f32` slots over all rows.
    used: usize,
    /// Rows dropped so far to stay within the budget.
    evictions: u64,
}

impl RowCache {
    /// A cache for `l` rows under `budget_bytes`, raised to two full rows if smaller.
    pub(crate) fn new(l: usize, budget_bytes: usize) -> Self {
        let budget = (budget_bytes / std::mem::size_of::<f32>()).max(2 * l);
        Self {
            rows: vec![Vec::new(); l],
            prev: vec![NONE; l],
            next: vec![NONE; l],
            head: NONE,
            tail: NONE,
            budget,
            used: 0,
            evictions: 0,
        }
    }

    /// Makes row `i` the most recently used and at least `len` long, evicting old rows other
    /// than `pinned` as needed. Returns where the entries that still have to be computed
    /// start (`len` when none do); the caller fills `row_mut(i)[start..len]`.
    pub(crate) fn prepare(&mut self, i: usize, len: usize, pinned: Option<usize>) -> usize {
        let pinned = pinned.unwrap_or(NONE);
        let have = self.rows[i].len();
        if self.is_linked(i) {
            self.unlink(i);
        }
        if have < len {
            let capacity = self.rows[i].capacity();
            let need = len.saturating_sub(capacity);
            let mut victim = self.head;
            while self.used + need > self.budget && victim != NONE {
                let after = self.next[victim];
                if victim != pinned {
                    self.evict(victim);
                    self.evictions += 1;
                }
                victim = after;
            }
            let row = &mut self.rows[i];
            row.reserve_exact(len - row.len());
            row.resize(len, 0.0);
            self.used += row.capacity() - capacity;
        }
        self.link_tail(i);
        have.min(len)
    }

    pub(crate) fn row(&self, i: usize) -> &[f32] {
        &self.rows[i]
    }

    pub(crate) fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.rows[i]
    }

    /// Renames index `i` to `j` and back, as the solver's swap of two positions does:
    /// rows `i` and `j` trade places, and every cached row has its entries `i` and `j`
    /// swapped (a row long enough to hold `i` but not `j` is dropped).
    #[cfg(test)]
    pub(crate) fn swap(&mut self, i: usize, j: usize) {
        self.swap_many(&[(i, j)]);
    }

    /// [`RowCache::swap`] for a sequence of swaps, with the same result as applying them
    /// one by one. Each cached row is visited once and all the swaps applied to it while it
    /// is in the processor's cache, instead of touching every row once per swap.
    pub(crate) fn swap_many(&mut self, swaps: &[(usize, usize)]) {
        if swaps.is_empty() {
            return;
        }
        for &(i, j) in swaps {
            if i == j {
                continue;
            }
            for k in [i, j] {
                if self.is_linked(k) {
                    self.unlink(k);
                }
            }
            self.rows.swap(i, j);
            for k in [i, j] {
                if !self.rows[k].is_empty() {
                    self.link_tail(k);
                }
            }
        }
        let mut h = self.head;
        while h != NONE {
            let after = self.next[h];
            let len = self.rows[h].len();
            let row = &mut self.rows[h];
            let mut dropped = false;
            for &(i, j) in swaps {
                let (lo, hi) = if i < j { (i, j) } else { (j, i) };
                if lo == hi || len <= lo {
                    continue;
                }
                if len > hi {
                    row.swap(lo, hi);
                } else {
                    dropped = true;
                    break;
                }
            }
            if dropped {
                self.evict(h);
            }
            h = after;
        }
    }

    /// Rows dropped so far to stay within the budget.
    pub(crate) fn evictions(&self) -> u64 {
        self.evictions
    }

    fn evict(&mut self, k: usize) {
        self.unlink(k);
        self.used -= self.rows[k].capacity();
        self.rows[k] = Vec::new();
    }

    fn is_linked(&self, k: usize) -> bool {
        self.prev[k] != NONE || self.head == k
    }

    fn unlink(&mut self, k: usize) {
        let (p, n) = (self.prev[k], self.next[k]);
        if p == NONE {
            self.head = n;
        } else {
            self.next[p] = n;
        }
        if n == NONE {
            self.tail = p;
        } else {
            self.prev[n] = p;
        }
        self.prev[k] = NONE;
        self.next[k] = NONE;
    }

    fn link_tail(&mut self, k: usize) {
        self.prev[k] = self.tail;
        self.next[k] = NONE;
        if self.tail == NONE {
            self.head = k;
        } else {
            self.next[self.tail] = k;
        }
        self.tail = k;
    }

    #[cfg(test)]
    fn used(&self) -> usize {
        self.used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(cache: &mut RowCache, i: usize, len: usize, pinned: Option<usize>) {
        let start = cache.prepare(i, len, pinned);
        for (t, v) in cache.row_mut(i)[start..len].iter_mut().enumerate() {
            *v = (i * 1000 + start + t) as f32;
        }
    }

    #[test]
    fn stays_within_budget_and_evicts_oldest() {
        // 4 rows of 10 floats; budget 25 floats -> at most 2 full rows (+ minimum 2l = 8).
        let mut cache = RowCache::new(4, 25 * 4);
        fill(&mut cache, 0, 10, None);
        fill(&mut cache, 1, 10, None);
        fill(&mut cache, 2, 10, None);
        assert!(cache.used() <= 25);
        assert!(cache.row(0).is_empty(), "row 0 was least recently used");
        assert_eq!(cache.row(2)[3].to_bits(), 2003.0f32.to_bits());
        // Extending a row computes only the tail.
        let mut cache = RowCache::new(4, 1 << 20);
        fill(&mut cache, 1, 2, None);
        assert_eq!(cache.prepare(1, 4, None), 2);
    }

    #[test]
    fn pinned_row_survives() {
        let mut cache = RowCache::new(3, 20 * 4);
        fill(&mut cache, 0, 10, None);
        fill(&mut cache, 1, 10, Some(0));
        fill(&mut cache, 2, 10, Some(1));
        assert!(!cache.row(1).is_empty());
        assert!(cache.row(0).is_empty());
    }

    #[test]
    fn batched_swaps_equal_one_by_one() {
        let swaps = [(0, 5), (2, 7), (5, 1), (3, 3), (6, 2), (1, 4)];
        let fill_all = |cache: &mut RowCache| {
            for (i, len) in [(0, 8), (1, 3), (2, 6), (4, 8), (5, 2), (7, 8)] {
                fill(cache, i, len, None);
            }
        };
        let mut one = RowCache::new(8, 1 << 20);
        let mut many = RowCache::new(8, 1 << 20);
        fill_all(&mut one);
        fill_all(&mut many);
        for &(i, j) in &swaps {
            one.swap(i, j);
        }
        many.swap_many(&swaps);
        for i in 0..8 {
            assert_eq!(one.row(i), many.row(i), "row {i}");
        }
        assert_eq!(one.used(), many.used());
    }

    #[test]
    fn swap_permutes_entries() {
        let mut cache = RowCache::new(4, 1 << 20);
        fill(&mut cache, 0, 4, None);
        fill(&mut cache, 3, 2, None);
        cache.swap(0, 2);
        // Row 0's data now lives at index 2, with its entries 0 and 2 swapped.
        assert_eq!(cache.row(2), &[2.0, 1.0, 0.0, 3.0]);
        assert!(cache.row(0).is_empty());
        cache.swap(1, 3);
        // Row 3 held entries 0..2 only: it moved to index 1 and, holding position 1 but
        // not 3, was dropped.
        assert!(cache.row(1).is_empty());
        assert_eq!(cache.row(2), &[2.0, 3.0, 0.0, 1.0]);
    }
}
