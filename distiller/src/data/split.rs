//! Train/validation/test splits.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Node ids of the three parts of a split (ascending, disjoint).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Split {
    /// Training nodes.
    pub train: Vec<u32>,
    /// Validation nodes (early stopping).
    pub val: Vec<u32>,
    /// Test nodes.
    pub test: Vec<u32>,
}

/// The first node id in `parts` (named lists of ids) that is not below `n_nodes`, with
/// the name of its list: splits read from files are checked with it before any id
/// indexes a node table.
///
/// ```
/// use frameless_distiller::data::first_node_out_of_range;
/// let parts = [("train", &[0u32, 1][..]), ("test", &[2, 7][..])];
/// assert_eq!(first_node_out_of_range(parts, 5), Some(("test", 7)));
/// assert_eq!(first_node_out_of_range(parts, 8), None);
/// ```
pub fn first_node_out_of_range<'a>(
    parts: impl IntoIterator<Item = (&'static str, &'a [u32])>,
    n_nodes: usize,
) -> Option<(&'static str, u32)> {
    parts.into_iter().find_map(|(name, ids)| {
        let node = ids.iter().copied().find(|&i| i as usize >= n_nodes)?;
        Some((name, node))
    })
}

impl Split {
    /// The three parts with their names: `train`, `val`, `test`.
    pub fn parts(&self) -> [(&'static str, &[u32]); 3] {
        [
            ("train", &self.train),
            ("val", &self.val),
            ("test", &self.test),
        ]
    }

    /// The same training and validation nodes dealt again, with `seed`: in every class
    /// as many training nodes as this split has, drawn from the class's training and
    /// validation nodes; the rest of those validate. The test part is empty, so a test
    /// node never trains or validates. `fit` averages a candidate's validation accuracy
    /// over such partitions when one validation split is too small to rank candidates.
    ///
    /// ```
    /// use frameless_distiller::data::Split;
    /// let split = Split { train: vec![0, 1, 4], val: vec![2, 3, 5], test: vec![6, 7] };
    /// let labels = [0, 0, 0, 0, 1, 1, 0, 1];
    /// let dealt = split.redealt(&labels, 3);
    /// assert!(dealt.test.is_empty());
    /// let class_1 = |ids: &[u32]| ids.iter().filter(|&&i| labels[i as usize] == 1).count();
    /// assert_eq!((class_1(&dealt.train), dealt.train.len()), (1, 3));
    /// let mut pool = [dealt.train, dealt.val].concat();
    /// pool.sort_unstable();
    /// assert_eq!(pool, [0, 1, 2, 3, 4, 5]);
    /// ```
    pub fn redealt(&self, labels: &[i64], seed: u64) -> Split {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let class_of = |i: &u32| labels.get(*i as usize).copied().unwrap_or(-1);
        let mut classes: Vec<i64> = self.train.iter().chain(&self.val).map(class_of).collect();
        classes.sort_unstable();
        classes.dedup();
        let mut dealt = Split::default();
        for class in classes {
            let of_class = |ids: &[u32]| -> Vec<u32> {
                ids.iter()
                    .copied()
                    .filter(|i| class_of(i) == class)
                    .collect()
            };
            let n_train = of_class(&self.train).len();
            let mut pool = [of_class(&self.train), of_class(&self.val)].concat();
            pool.sort_unstable();
            pool.shuffle(&mut rng);
            dealt.train.extend_from_slice(&pool[..n_train]);
            dealt.val.extend_from_slice(&pool[n_train..]);
        }
        dealt.train.sort_unstable();
        dealt.val.sort_unstable();
        dealt
    }
}

/// Fractions of `N / C` used per class for training and validation in a random split.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SplitRates {
    /// Training rate (default 0.2).
    pub train: f64,
    /// Validation rate (default 0.2).
    pub val: f64,
}

impl Default for SplitRates {
    fn default() -> Self {
        Self {
            train: 0.2,
            val: 0.2,
        }
    }
}

/// A random per-class split (anchors.py `random_split`): every class gets
/// `int(N/C·train)` training and `int(N/C·val)` validation nodes (capped by the class
/// size), the rest of the class is test; unlabelled nodes (`< 0`) are in no part.
pub fn random_split(labels: &[i64], n_classes: usize, seed: u64, rates: SplitRates) -> Split {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = labels.len() as f64;
    let per_class = |rate: f64| (n / n_classes.max(1) as f64 * rate) as usize;
    let (n_train, n_val) = (per_class(rates.train), per_class(rates.val));
    let mut split = Split::default();
    for class in 0..n_classes as i64 {
        let mut ids: Vec<u32> = (0..labels.len() as u32)
            .filter(|&i| labels[i as usize] == class)
            .collect();
        ids.shuffle(&mut rng);
        let a = n_train.min(ids.len());
        let b = (a + n_val).min(ids.len());
        split.train.extend_from_slice(&ids[..a]);
        split.val.extend_from_slice(&ids[a..b]);
        split.test.extend_from_slice(&ids[b..]);
    }
    split.train.sort_unstable();
    split.val.sort_unstable();
    split.test.sort_unstable();
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_class_counts_follow_the_reference_rule() {
        // N = 10, C = 2: int(10/2·0.2) = 1 train and 1 val per class; class 1 has 3 nodes.
        let labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, -1];
        let s = random_split(&labels, 2, 5, SplitRates::default());
        assert_eq!((s.train.len(), s.val.len(), s.test.len()), (2, 2, 5));
        let mut all: Vec<u32> = [s.train.clone(), s.val.clone(), s.test.clone()].concat();
        all.sort_unstable();
        assert_eq!(all, (0..9).collect::<Vec<_>>());
        assert_eq!(s, random_split(&labels, 2, 5, SplitRates::default()));
        assert_ne!(s, random_split(&labels, 2, 6, SplitRates::default()));
    }

    #[test]
    fn a_redealt_split_keeps_its_pool_and_class_counts() {
        let labels: Vec<i64> = (0..60).map(|i| i % 3).collect();
        let split = random_split(&labels, 3, 1, SplitRates::default());
        let class_counts = |ids: &[u32]| {
            let mut counts = [0usize; 3];
            for &i in ids {
                counts[labels[i as usize] as usize] += 1;
            }
            counts
        };
        let pool = |s: &Split| {
            let mut all = [s.train.clone(), s.val.clone()].concat();
            all.sort_unstable();
            all
        };
        let a = split.redealt(&labels, 7);
        assert_eq!(pool(&a), pool(&split));
        assert_eq!(class_counts(&a.train), class_counts(&split.train));
        assert!(a.test.is_empty());
        assert_eq!(a, split.redealt(&labels, 7));
        let b = split.redealt(&labels, 8);
        assert_ne!(a.train, b.train);
        assert_ne!(a.train, split.train);
    }

    #[test]
    fn small_classes_are_capped() {
        // N = 20, C = 2: 2 per part per class, but class 1 has only 3 nodes.
        let mut labels = vec![0i64; 17];
        labels.extend([1, 1, 1]);
        let s = random_split(&labels, 2, 0, SplitRates::default());
        let class1 = |ids: &[u32]| ids.iter().filter(|&&i| i >= 17).count();
        assert_eq!(
            (class1(&s.train), class1(&s.val), class1(&s.test)),
            (2, 1, 0)
        );
    }
}
