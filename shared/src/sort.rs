//! Stable sorts that cost one instantiation of the standard sort for the whole program.
//!
//! `slice::sort_by` is compiled once per element type and comparator, about 3 KB of wasm
//! each; these sort the indices `0..n` with one comparator type and move the elements once
//! (README "Size"). Same order as `sort`, `sort_by`, `sort_by_key`: stable.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

fn sorted_indices(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&a, &b| cmp(a, b));
    idx
}

/// As `v.sort_by(cmp)`.
pub fn sort_by<T>(v: &mut Vec<T>, mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let order = {
        let s = v.as_slice();
        sorted_indices(s.len(), &mut |a, b| cmp(&s[a], &s[b]))
    };
    let mut slots: Vec<Option<T>> = v.drain(..).map(Some).collect();
    // `order` is a permutation of `0..n`: every slot is taken exactly once.
    v.extend(order.into_iter().filter_map(|i| slots.get_mut(i).and_then(Option::take)));
}

/// As `v.sort_by_key(key)`.
pub fn sort_by_key<T, K: Ord>(v: &mut Vec<T>, mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// As `v.sort()`.
pub fn sort<T: Ord>(v: &mut Vec<T>) {
    sort_by(v, T::cmp);
}

/// As `iter.collect::<BTreeMap<_, _>>()` (a repeated key keeps its last value), without
/// `collect`'s sort: `FromIterator` sorts the pairs first, one more sort per map type;
/// inserting one by one costs none.
pub fn map<K: Ord, V>(iter: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut m = BTreeMap::new();
    m.extend(iter);
    m
}

/// As `iter.collect::<BTreeSet<_>>()`, without its sort (see [`map`]).
pub fn set<T: Ord>(iter: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut s = BTreeSet::new();
    s.extend(iter);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Equal keys keep their order (the payload tells them apart), as with the std sort.
        #[test]
        fn sort_by_key_is_the_std_stable_sort(v in proptest::collection::vec((0u8..4, any::<u16>()), 0..64)) {
            let mut expected = v.clone();
            expected.sort_by_key(|x| x.0);
            let mut got = v;
            sort_by_key(&mut got, |x| x.0);
            prop_assert_eq!(got, expected);
        }

        /// A repeated key keeps its last value, as `collect` does.
        #[test]
        fn map_is_collect(v in proptest::collection::vec((0u8..8, any::<u16>()), 0..64)) {
            let expected: BTreeMap<u8, u16> = v.iter().copied().collect();
            prop_assert_eq!(map(v.iter().copied()), expected);
            let expected: BTreeSet<u8> = v.iter().map(|x| x.0).collect();
            prop_assert_eq!(set(v.iter().map(|x| x.0)), expected);
        }

        #[test]
        fn sort_is_the_std_sort(v in proptest::collection::vec(any::<(u8, u8)>(), 0..64)) {
            let mut expected = v.clone();
            expected.sort();
            let mut got = v;
            sort(&mut got);
            prop_assert_eq!(got, expected);
        }
    }
}
