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
