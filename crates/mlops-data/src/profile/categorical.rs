//! Statistics of categorical (string, dictionary and boolean) columns.

use std::collections::{BTreeMap, HashMap};

/// Per-batch category counts: randomly keyed aHash (the counts are folded, so the order of a
/// map never shows in a profile).
type LocalCounts<'a> = HashMap<&'a str, u64, ahash::RandomState>;

use arrow_array::cast::AsArray;
use arrow_array::{Array, BooleanArray};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

pub(crate) fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

pub(crate) fn is_categorical(t: &DataType) -> bool {
    match t {
        DataType::Boolean => true,
        DataType::Dictionary(_, v) => is_string(v),
        t => is_string(t),
    }
}

/// Statistics of a categorical column: counts per category, capped.
///
/// Booleans are the categories `"true"` and `"false"`.
///
/// **Cap.** At most `max_categories` categories are kept: the most frequent, ties broken by name
/// (smaller name first); the rest are counted in [`other`](Self::other). While streaming, up to
/// `max(8 · max_categories, 1024)` categories are tracked exactly; only if a column has more
/// distinct values than that are the least frequent pruned early (after a batch), which makes
/// the kept counts lower bounds ([`counts_exact`](Self::counts_exact) becomes `false`).
/// `count == counts.values().sum() + other` always holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CategoricalRepr", into = "CategoricalRepr")]
pub struct CategoricalStats {
    count: u64,
    nulls: u64,
    counts: BTreeMap<String, u64>,
    other: u64,
    distinct: u64,
    distinct_exact: bool,
    counts_exact: bool,
}

impl Default for CategoricalStats {
    fn default() -> Self {
        Self {
            count: 0,
            nulls: 0,
            counts: BTreeMap::new(),
            other: 0,
            distinct: 0,
            distinct_exact: true,
            counts_exact: true,
        }
    }
}

impl CategoricalStats {
    /// Number of non-null values.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Number of nulls.
    pub fn nulls(&self) -> u64 {
        self.nulls
    }
    /// Counts of the kept categories.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }
    /// Number of non-null values not in [`counts`](Self::counts).
    pub fn other(&self) -> u64 {
        self.other
    }
    /// Number of distinct non-null values seen (a lower bound unless
    /// [`distinct_exact`](Self::distinct_exact)).
    pub fn distinct(&self) -> u64 {
        self.distinct.max(self.counts.len() as u64)
    }
    /// Whether [`distinct`](Self::distinct) is exact.
    pub fn distinct_exact(&self) -> bool {
        self.distinct_exact
    }
    /// Whether every kept count is exact (otherwise they are lower bounds; the rest of each
    /// category's values are in `other`).
    pub fn counts_exact(&self) -> bool {
        self.counts_exact
    }
    /// Share of non-null values per kept category (empty when there are none).
    pub fn frequencies(&self) -> BTreeMap<String, f64> {
        if self.count == 0 {
            return BTreeMap::new();
        }
        let n = self.count as f64;
        self.counts
            .iter()
            .map(|(k, &v)| (k.clone(), v as f64 / n))
            .collect()
    }
    /// The `n` most frequent kept categories, most frequent first, ties by name.
    pub fn top(&self, n: usize) -> Vec<(&str, u64)> {
        let mut v: Vec<(&str, u64)> = self.counts.iter().map(|(k, &c)| (k.as_str(), c)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// Adds a batch's folded counts. When the new categories would take the map past `working`
    /// (so that [`prune`](Self::prune) would cut it to `cap` right after), the merge and the cut
    /// happen in one step on a vector: the same result, without inserting thousands of
    /// categories into the map only to drop them (a column of unique ids).
    fn add_batch_counts<'a>(
        &mut self,
        local: impl IntoIterator<Item = (&'a str, u64)>,
        working: usize,
        cap: usize,
    ) {
        let mut new: Vec<(&'a str, u64)> = Vec::new();
        for (s, c) in local {
            self.count += c;
            match self.counts.get_mut(s) {
                Some(v) => *v += c,
                None => new.push((s, c)),
            }
        }
        let merged = self.counts.len() + new.len();
        if merged <= working || merged <= cap {
            for (s, c) in new {
                self.counts.insert(s.to_owned(), c);
            }
            return;
        }
        // What note_distinct, then prune (cap), would do to the merged map.
        self.distinct = self.distinct.max(merged as u64);
        let mut entries: Vec<(&str, u64)> = self
            .counts
            .iter()
            .map(|(k, &c)| (k.as_str(), c))
            .chain(new)
            .collect();
        let order = |a: &(&str, u64), b: &(&str, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
        if cap < entries.len() {
            entries.select_nth_unstable_by(cap, order);
        }
        let (kept, rest) = entries.split_at(cap.min(entries.len()));
        self.other += rest.iter().map(|(_, c)| c).sum::<u64>();
        let kept: BTreeMap<String, u64> = kept.iter().map(|&(k, c)| (k.to_owned(), c)).collect();
        self.counts = kept;
        self.counts_exact = false;
        self.distinct_exact = false;
    }

    /// Keeps the `cap` most frequent categories (ties by name), moving the rest into `other`.
    pub(crate) fn cap(&mut self, cap: usize) {
        if self.counts.len() <= cap {
            return;
        }
        self.distinct = self.distinct.max(self.counts.len() as u64);
        let mut entries: Vec<(String, u64)> =
            std::mem::take(&mut self.counts).into_iter().collect();
        entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let rest = entries.split_off(cap);
        self.other += rest.iter().map(|(_, c)| c).sum::<u64>();
        self.counts = entries.into_iter().collect();
    }

    /// Prunes to `cap` when more than `working` categories are tracked (streaming only).
    fn prune(&mut self, working: usize, cap: usize) {
        if self.counts.len() > working {
            self.cap(cap);
            // Pruned categories may come back: from now on counts and distinct are bounds.
            self.counts_exact = false;
            self.distinct_exact = false;
        }
    }

    fn note_distinct(&mut self) {
        if self.distinct_exact {
            self.distinct = self.distinct.max(self.counts.len() as u64);
        }
    }

    pub(crate) fn update(
        &mut self,
        array: &dyn Array,
        column: &str,
        working: usize,
        cap: usize,
    ) -> Result<()> {
        let nulls = array.logical_null_count() as u64;
        match array.data_type() {
            DataType::Boolean => {
                let b: &BooleanArray = array.as_boolean();
                let t = b.true_count() as u64;
                let f = b.len() as u64 - nulls - t;
                let local = [("false", f), ("true", t)];
                self.add_batch_counts(local.into_iter().filter(|(_, c)| *c > 0), working, cap);
            }
            DataType::Utf8 => self.add_strings(array.as_string::<i32>().iter(), working, cap),
            DataType::LargeUtf8 => {
                self.add_strings(array.as_string::<i64>().iter(), working, cap);
            }
            DataType::Utf8View => self.add_strings(array.as_string_view().iter(), working, cap),
            DataType::Dictionary(_, v) if is_string(v) => {
                let Some(dict) = array.as_any_dictionary_opt() else {
                    return Err(type_error(column, array.data_type()));
                };
                let values = dict.values();
                let mut per_key = vec![0u64; values.len()];
                if !values.is_empty() {
                    let keys = dict.normalized_keys();
                    match array.logical_nulls() {
                        None => {
                            for k in keys {
                                if let Some(c) = per_key.get_mut(k) {
                                    *c += 1;
                                }
                            }
                        }
                        Some(nb) => {
                            for (k, valid) in keys.into_iter().zip(nb.iter()) {
                                if valid && let Some(c) = per_key.get_mut(k) {
                                    *c += 1;
                                }
                            }
                        }
                    }
                }
                let used = per_key.iter().enumerate().filter(|(_, c)| **c > 0);
                let v: &dyn Array = values.as_ref();
                match v.data_type() {
                    DataType::Utf8 => {
                        let s = v.as_string::<i32>();
                        self.add_dict_counts(used.map(|(i, &c)| (s.value(i), c)), working, cap);
                    }
                    DataType::LargeUtf8 => {
                        let s = v.as_string::<i64>();
                        self.add_dict_counts(used.map(|(i, &c)| (s.value(i), c)), working, cap);
                    }
                    DataType::Utf8View => {
                        let s = v.as_string_view();
                        self.add_dict_counts(used.map(|(i, &c)| (s.value(i), c)), working, cap);
                    }
                    _ => return Err(type_error(column, array.data_type())),
                }
            }
            other => return Err(type_error(column, other)),
        }
        self.nulls += nulls;
        self.note_distinct();
        self.prune(working, cap);
        Ok(())
    }

    fn add_strings<'a>(
        &mut self,
        values: impl Iterator<Item = Option<&'a str>>,
        working: usize,
        cap: usize,
    ) {
        let mut local = LocalCounts::default();
        for s in values.flatten() {
            *local.entry(s).or_insert(0) += 1;
        }
        // Folding the whole batch before pruning makes the result independent of hash order.
        self.add_batch_counts(local, working, cap);
    }

    fn add_dict_counts<'a>(
        &mut self,
        values: impl Iterator<Item = (&'a str, u64)>,
        working: usize,
        cap: usize,
    ) {
        // A dictionary may repeat a value under several keys; fold them like any batch.
        let mut local = LocalCounts::default();
        for (s, c) in values {
            *local.entry(s).or_insert(0) += c;
        }
        self.add_batch_counts(local, working, cap);
    }

    /// Merges `other` into `self`, then keeps the `cap` most frequent categories.
    pub(crate) fn merge(&mut self, other: &Self, cap: usize) {
        let self_hides = self.other > 0;
        let other_hides = other.other > 0;
        // A category kept on one side may hide in the other side's `other` count.
        let exact = self.counts_exact
            && other.counts_exact
            && (!self_hides || other.counts.keys().all(|k| self.counts.contains_key(k)))
            && (!other_hides || self.counts.keys().all(|k| other.counts.contains_key(k)));
        let distinct_exact =
            self.distinct_exact && other.distinct_exact && !self_hides && !other_hides;
        let lower = self.distinct().max(other.distinct());
        self.count += other.count;
        self.nulls += other.nulls;
        self.other += other.other;
        for (k, &c) in &other.counts {
            match self.counts.get_mut(k.as_str()) {
                Some(v) => *v += c,
                None => {
                    self.counts.insert(k.clone(), c);
                }
            }
        }
        self.distinct = if distinct_exact {
            self.counts.len() as u64
        } else {
            lower.max(self.counts.len() as u64)
        };
        self.distinct_exact = distinct_exact;
        self.counts_exact = exact;
        self.cap(cap);
    }
}

fn type_error(column: &str, found: &DataType) -> Error {
    Error::TypeMismatch {
        column: column.to_string(),
        expected: "a string, dictionary of strings or boolean type".into(),
        found: found.to_string(),
    }
}

/// Serialised form, validated on decoding.
#[derive(Serialize, Deserialize)]
struct CategoricalRepr {
    count: u64,
    nulls: u64,
    counts: BTreeMap<String, u64>,
    other: u64,
    distinct: u64,
    distinct_exact: bool,
    counts_exact: bool,
}

impl From<CategoricalStats> for CategoricalRepr {
    fn from(s: CategoricalStats) -> Self {
        Self {
            count: s.count,
            nulls: s.nulls,
            counts: s.counts,
            other: s.other,
            distinct: s.distinct,
            distinct_exact: s.distinct_exact,
            counts_exact: s.counts_exact,
        }
    }
}

impl TryFrom<CategoricalRepr> for CategoricalStats {
    type Error = Error;
    fn try_from(r: CategoricalRepr) -> Result<Self> {
        let kept = r
            .counts
            .values()
            .try_fold(0u64, |acc, &c| acc.checked_add(c))
            .and_then(|s| s.checked_add(r.other));
        if kept != Some(r.count) {
            return Err(Error::Serialization(
                "invalid categorical statistics: counts and other do not add up to count".into(),
            ));
        }
        Ok(Self {
            count: r.count,
            nulls: r.nulls,
            counts: r.counts,
            other: r.other,
            distinct: r.distinct,
            distinct_exact: r.distinct_exact,
            counts_exact: r.counts_exact,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use arrow_array::StringArray;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    /// The update before the fused merge-and-cut: insert every new category, then prune.
    fn reference_update(
        st: &mut CategoricalStats,
        batch: &[Option<String>],
        working: usize,
        cap: usize,
    ) {
        let mut local = LocalCounts::default();
        for s in batch.iter().flatten() {
            *local.entry(s.as_str()).or_insert(0) += 1;
        }
        for (s, c) in local {
            st.count += c;
            match st.counts.get_mut(s) {
                Some(v) => *v += c,
                None => {
                    st.counts.insert(s.to_owned(), c);
                }
            }
        }
        st.nulls += batch.iter().filter(|s| s.is_none()).count() as u64;
        st.note_distinct();
        st.prune(working, cap);
    }

    #[test]
    fn fused_merge_and_cut_equals_insert_then_prune() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for case in 0..60 {
            let working = [4, 16, 64, 1024][case % 4];
            let cap = [1, 3, working / 2, working][case % 3 + usize::from(case % 5 == 0)];
            let names = [10usize, 100, 3000, 100_000][case % 4];
            let mut fused = CategoricalStats::default();
            let mut reference = CategoricalStats::default();
            for _ in 0..rng.gen_range(1..12) {
                let len = rng.gen_range(0..2000);
                let batch: Vec<Option<String>> = (0..len)
                    .map(|_| {
                        // Skewed: small names are frequent, so counts tie and differ.
                        let r: f64 = rng.r#gen();
                        (r > 0.03).then(|| format!("c{}", ((r * r * r) * names as f64) as usize))
                    })
                    .collect();
                reference_update(&mut reference, &batch, working, cap);
                let array = StringArray::from(batch.clone());
                fused.update(&array, "c", working, cap).unwrap();
                assert_eq!(fused, reference, "case {case}");
            }
        }
    }
}
