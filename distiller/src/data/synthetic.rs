//! A contextual stochastic block model (CSBM): the built-in synthetic dataset.
//!
//! Node `i` has class `i mod C`. Each of the `round(N·d/2)` edges picks a uniform random
//! endpoint `u`; with probability `h` the other endpoint is a uniform node of `u`'s class,
//! otherwise a uniform node of a uniformly chosen other class. So `h` is the expected
//! fraction of intra-class edges (before duplicates and self loops are dropped). Features
//! are Gaussian: `x_i = μ_{y_i} + ε_i` with `μ_c ~ N(0, s²I)`, `ε_i ~ N(0, I)` and
//! `s = 2.5/√(2F)`, so class means lie about 2.5 noise deviations apart. Everything is
//! drawn from one ChaCha8 stream seeded with `seed`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{DataError, Dataset};
use crate::sparse::Csr;

/// Parameters of the synthetic generator.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SyntheticConfig {
    /// Number of nodes `N`.
    pub nodes: usize,
    /// Number of classes `C`.
    pub classes: usize,
    /// Feature dimension `F`.
    pub features: usize,
    /// Expected average degree `d`.
    pub degree: f64,
    /// Expected fraction of intra-class edges `h ∈ [0, 1]`.
    pub homophily: f64,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            nodes: 3000,
            classes: 5,
            features: 200,
            degree: 8.0,
            homophily: 0.8,
            seed: 0,
        }
    }
}

impl SyntheticConfig {
    /// Checks the parameters; the message says what is wrong.
    ///
    /// # Errors
    /// A message if a count is zero, `C > N`, `h ∉ [0, 1]` or `d ∉ [0, N)`.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 || self.classes == 0 || self.features == 0 {
            return Err("nodes, classes and features must be positive".into());
        }
        if self.classes > self.nodes {
            return Err("more classes than nodes".into());
        }
        if self.nodes > u32::MAX as usize {
            return Err("too many nodes".into());
        }
        if !(0.0..=1.0).contains(&self.homophily) {
            return Err("homophily must lie in [0, 1]".into());
        }
        if !(self.degree >= 0.0 && self.degree < self.nodes as f64) {
            return Err("degree must lie in [0, nodes)".into());
        }
        Ok(())
    }
}

/// One standard normal sample (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Generates the dataset described by `config`.
///
/// # Errors
/// [`DataError::BadSource`] if [`SyntheticConfig::validate`] fails.
pub fn generate(config: &SyntheticConfig) -> Result<Dataset, DataError> {
    config.validate().map_err(|reason| DataError::BadSource {
        text: super::DatasetSource::Synthetic(config.clone()).to_string(),
        reason,
    })?;
    let (n, c, f) = (config.nodes, config.classes, config.features);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let labels: Vec<i64> = (0..n).map(|i| (i % c) as i64).collect();
    // Members of class k are k, k + C, k + 2C, ...: the j-th is k + j·C.
    let class_size = |k: usize| (n - k).div_ceil(c);
    let n_edges = (n as f64 * config.degree / 2.0).round() as usize;
    let mut edges = Vec::with_capacity(n_edges);
    for _ in 0..n_edges {
        let u = rng.random_range(0..n);
        let own = u % c;
        let k = if c == 1 || rng.random::<f64>() < config.homophily {
            own
        } else {
            (own + rng.random_range(1..c)) % c
        };
        let v = k + rng.random_range(0..class_size(k)) * c;
        edges.push((u as u32, v as u32));
    }
    let scale = 2.5 / (2.0 * f as f64).sqrt();
    let means: Vec<f64> = (0..c * f).map(|_| scale * normal(&mut rng)).collect();
    let mut values = Vec::with_capacity(n * f);
    for i in 0..n {
        let mean = &means[(i % c) * f..(i % c + 1) * f];
        values.extend(mean.iter().map(|m| (m + normal(&mut rng)) as f32));
    }
    let features = Csr::full(n, f, values);
    Ok(Dataset {
        name: "synthetic".into(),
        n_features: f,
        n_classes: c,
        features,
        labels,
        edges,
        fixed_splits: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_homophily_close_to_target() {
        for h in [0.1, 0.5, 0.9] {
            let config = SyntheticConfig {
                nodes: 2000,
                homophily: h,
                ..SyntheticConfig::default()
            };
            let a = generate(&config).unwrap();
            assert_eq!(a, generate(&config).unwrap());
            let g = a.graph().unwrap();
            let measured = g.edge_homophily(&a.labels);
            assert!((measured - h).abs() < 0.03, "h={h}: {measured}");
            let mean_degree = 2.0 * g.n_edges() as f64 / 2000.0;
            assert!((mean_degree - 8.0).abs() < 0.5, "{mean_degree}");
        }
    }

    #[test]
    fn shapes_and_balanced_classes() {
        let config = SyntheticConfig {
            nodes: 103,
            classes: 4,
            features: 7,
            ..SyntheticConfig::default()
        };
        let d = generate(&config).unwrap();
        assert_eq!(
            (d.n_nodes(), d.features.n_rows, d.features.n_cols),
            (103, 103, 7)
        );
        assert_eq!(d.class_counts(), vec![26, 26, 26, 25]);
        assert!(d.edges.iter().all(|&(u, v)| u < 103 && v < 103));
        assert!(d.features.values.iter().all(|v| v.is_finite()));
    }
}
