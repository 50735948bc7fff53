//! Stable sorts that cost one instantiation of the standard sort for the whole program.
//!
//! `slice::sort_by` is compiled once per element type and comparator, about 3 KB of wasm
//! each; these sort the indices `0..n` with one comparator type and move the elements once
//! (README "Size"). Same order as `sort`, `sort_by`, `sort_by_key`: stable.

use std::cmp::Ordering;

/// The indices `0..n` in stable order: a bottom-up merge sort, where a tie takes the
/// earlier run's index first. Written out because the standard stable sort is 4 KB of wasm
/// even for one instantiation (README "Size"); a run already in order is copied with one
/// comparison, so sorted input costs `n` comparisons per pass.
fn sorted_indices(n: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut from: Vec<usize> = (0..n).collect();
    let mut to = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (mid + width).min(n);
            if mid == end || cmp(from[mid - 1], from[mid]) != Ordering::Greater {
                to[start..end].copy_from_slice(&from[start..end]);
            } else {
                let (mut i, mut j) = (start, mid);
                for slot in &mut to[start..end] {
                    if j == end || (i < mid && cmp(from[i], from[j]) != Ordering::Greater) {
                        *slot = from[i];
                        i += 1;
                    } else {
                        *slot = from[j];
                        j += 1;
                    }
                }
            }
            start = end;
        }
        std::mem::swap(&mut from, &mut to);
        width *= 2;
    }
    from
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

/// A set kept as a sorted `Vec` without repeats, for sets built, probed and iterated:
/// the same order and contents as a `BTreeSet` (ascending; an equal value inserted again
/// leaves the first), with a fraction of the B-tree's code per element type (README
/// "Size").
#[derive(Clone, PartialEq, Eq)]
pub struct SortedSet<T>(Vec<T>);

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Ord> SortedSet<T> {
    pub fn contains<Q: Ord + ?Sized>(&self, value: &Q) -> bool
    where
        T: std::borrow::Borrow<Q>,
    {
        self.0.binary_search_by(|x| x.borrow().cmp(value)).is_ok()
    }

    /// As `BTreeSet::insert`: `false` (and the set unchanged) when it held an equal value.
    pub fn insert(&mut self, value: T) -> bool {
        match self.0.binary_search(&value) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, value);
                true
            }
        }
    }

    pub fn remove(&mut self, value: &T) -> bool {
        match self.0.binary_search(value) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }
}

impl<T> SortedSet<T> {
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// As `collect::<BTreeSet<_>>()`: sorted (one stable sort, [`sort`]), repeats dropped.
impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut v: Vec<T> = iter.into_iter().collect();
        sort(&mut v);
        v.dedup();
        Self(v)
    }
}

impl<T: Ord> Extend<T> for SortedSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for x in iter {
            self.insert(x);
        }
    }
}

impl<T> IntoIterator for SortedSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A map kept as a `Vec` of pairs sorted by key, without repeated keys: the same entries
/// in the same order as a `BTreeMap`, written and read as the same JSON object (a key read
/// twice keeps its last value), with a fraction of the B-tree's code per key and value
/// type (README "Size").
#[derive(Clone, PartialEq, Eq)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// As `BTreeMap::insert`: the value it replaces (the key stays the one first inserted).
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// As `BTreeMap::remove`: the value it held (one `Vec` shift, fine at a pool's or the
    /// fleet index's size).
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    /// As `BTreeMap::entry(key).or_insert(value)`.
    pub fn or_insert(&mut self, key: K, value: V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, value));
                i
            }
        };
        &mut self.0[i].1
    }
}

impl<K, V> SortedMap<K, V> {
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// As `collect::<BTreeMap<_, _>>()`: sorted by key (one stable sort), a repeated key
/// keeping its last value.
impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut v: Vec<(K, V)> = iter.into_iter().collect();
        sort_by(&mut v, |a, b| a.0.cmp(&b.0));
        // `dedup_by` keeps the first of a run; a run's last value goes into it.
        v.dedup_by(|later, first| {
            let same = later.0 == first.0;
            if same {
                std::mem::swap(&mut later.1, &mut first.1);
            }
            same
        });
        Self(v)
    }
}

/// As `BTreeMap::extend`: each pair inserted, a repeated key keeping its last value.
impl<K: Ord, V> Extend<(K, V)> for SortedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// As a `BTreeMap`'s: `{"a": true}`.
impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: serde::Serialize, V: serde::Serialize> serde::Serialize for SortedMap<K, V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de, K: serde::Deserialize<'de> + Ord, V: serde::Deserialize<'de>> serde::Deserialize<'de> for SortedMap<K, V> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(SortedMapVisitor(std::marker::PhantomData))
    }
}

struct SortedMapVisitor<K, V>(std::marker::PhantomData<(K, V)>);

impl<'de, K: serde::Deserialize<'de> + Ord, V: serde::Deserialize<'de>> serde::de::Visitor<'de>
    for SortedMapVisitor<K, V>
{
    type Value = SortedMap<K, V>;

    /// What a `BTreeMap`'s visitor expects.
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut m = SortedMap::default();
        while let Some((k, v)) = map.next_entry()? {
            m.insert(k, v);
        }
        Ok(m)
    }
}

/// Written as a `BTreeSet` is: a JSON array, ascending.
impl<T: serde::Serialize> serde::Serialize for SortedSet<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.0)
    }
}

/// Read as a `BTreeSet` is: each element inserted (a repeat leaves the first).
impl<'de, T: serde::Deserialize<'de> + Ord> serde::Deserialize<'de> for SortedSet<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(SortedSetVisitor(std::marker::PhantomData))
    }
}

struct SortedSetVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: serde::Deserialize<'de> + Ord> serde::de::Visitor<'de> for SortedSetVisitor<T> {
    type Value = SortedSet<T>;

    /// What a `BTreeSet`'s visitor expects.
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut s = SortedSet::default();
        while let Some(x) = seq.next_element()? {
            s.insert(x);
        }
        Ok(s)
    }
}

/// As a `BTreeSet`'s: `{1, 2}`.
impl<T: std::fmt::Debug> std::fmt::Debug for SortedSet<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(&self.0).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

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

        /// A `SortedSet` holds and iterates what a `BTreeSet` would, through any mix of
        /// inserts and removals, and answers the same.
        #[test]
        fn sorted_set_is_the_btree_set(
            start in proptest::collection::vec(0u8..16, 0..16),
            ops in proptest::collection::vec((any::<bool>(), 0u8..16), 0..32),
        ) {
            let mut tree: BTreeSet<u8> = start.iter().copied().collect();
            let mut set: SortedSet<u8> = start.iter().copied().collect();
            for (insert, x) in ops {
                if insert {
                    prop_assert_eq!(set.insert(x), tree.insert(x));
                } else {
                    prop_assert_eq!(set.remove(&x), tree.remove(&x));
                }
                prop_assert_eq!(set.contains(&x), tree.contains(&x));
            }
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), tree.iter().collect::<Vec<_>>());
            prop_assert_eq!((set.len(), set.is_empty()), (tree.len(), tree.is_empty()));
            prop_assert_eq!(format!("{set:?}"), format!("{tree:?}"));
            let mut more = set.clone();
            more.extend(start.iter().rev().copied());
            let mut tree_more = tree.clone();
            tree_more.extend(start.iter().rev().copied());
            prop_assert_eq!(serde_json::to_string(&more).unwrap(), serde_json::to_string(&tree_more).unwrap());
            let raw = serde_json::to_string(&start).unwrap();
            let from_tree: BTreeSet<u8> = serde_json::from_str(&raw).unwrap();
            prop_assert_eq!(serde_json::from_str::<SortedSet<u8>>(&raw).unwrap(), from_tree.iter().copied().collect::<SortedSet<u8>>());
            prop_assert_eq!(more.into_iter().collect::<Vec<_>>(), tree_more.into_iter().collect::<Vec<_>>());
        }

        /// A `SortedMap` holds, iterates and writes what a `BTreeMap` would, and reads
        /// the same JSON into the same entries (a repeated key keeps its last value).
        #[test]
        fn sorted_map_is_the_btree_map(
            start in proptest::collection::vec((0u8..16, any::<u8>()), 0..16),
            ops in proptest::collection::vec((0u8..4, 0u8..16, any::<u8>()), 0..48),
        ) {
            let mut tree: BTreeMap<u8, u8> = start.iter().copied().collect();
            let mut map: SortedMap<u8, u8> = start.iter().copied().collect();
            let mut extended = SortedMap::default();
            extended.extend(start.iter().copied());
            prop_assert!(extended == map);
            for (op, k, v) in ops {
                match op {
                    0 => prop_assert_eq!(map.insert(k, v), tree.insert(k, v)),
                    1 => prop_assert_eq!(*map.or_insert(k, v), *tree.entry(k).or_insert(v)),
                    2 => prop_assert_eq!(map.remove(&k), tree.remove(&k)),
                    _ => {
                        if let (Some(a), Some(b)) = (map.get_mut(&k), tree.get_mut(&k)) {
                            *a = a.wrapping_add(v);
                            *b = b.wrapping_add(v);
                        }
                        prop_assert_eq!(map.get_mut(&k).is_some(), tree.get_mut(&k).is_some());
                    }
                }
                prop_assert_eq!(map.get(&k), tree.get(&k));
                prop_assert_eq!(map.contains_key(&k), tree.contains_key(&k));
            }
            map.values_mut().for_each(|v| *v ^= 1);
            tree.values_mut().for_each(|v| *v ^= 1);
            prop_assert_eq!(map.values().collect::<Vec<_>>(), tree.values().collect::<Vec<_>>());
            prop_assert_eq!(map.iter().collect::<Vec<_>>(), tree.iter().collect::<Vec<_>>());
            prop_assert_eq!((map.len(), map.is_empty()), (tree.len(), tree.is_empty()));
            prop_assert_eq!(format!("{map:?}"), format!("{tree:?}"));
            let strings = |m: &BTreeMap<u8, u8>| m.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<String, u8>>();
            let json = serde_json::to_string(&strings(&tree)).unwrap();
            let ours: SortedMap<String, u8> = strings(&tree).into_iter().collect();
            prop_assert_eq!(serde_json::to_string(&ours).unwrap(), json.clone());
            prop_assert_eq!(serde_json::from_str::<SortedMap<String, u8>>(&json).unwrap(), ours);
            let raw = format!("{{{}}}", start.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(","));
            let from_tree: BTreeMap<String, u8> = serde_json::from_str(&raw).unwrap();
            prop_assert_eq!(serde_json::from_str::<SortedMap<String, u8>>(&raw).unwrap(), from_tree.into_iter().collect::<SortedMap<String, u8>>());
        }

        /// Long inputs (many merge passes, runs of every length) in any order, already
        /// sorted or reversed, sort as the std stable sort does.
        #[test]
        fn long_and_presorted_inputs_sort_as_std(
            v in proptest::collection::vec((0u8..8, any::<u16>()), 0..700),
            order in 0u8..3,
        ) {
            let mut v = v;
            match order {
                1 => v.sort_by_key(|x| x.0),
                2 => v.sort_by_key(|x| std::cmp::Reverse(x.0)),
                _ => {}
            }
            let mut expected = v.clone();
            expected.sort_by_key(|x| x.0);
            let mut got = v;
            sort_by_key(&mut got, |x| x.0);
            prop_assert_eq!(got, expected);
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
