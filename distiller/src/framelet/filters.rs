//! Framelet filter banks and their Chebyshev coefficients.

use std::f64::consts::PI;

/// The UFG filter banks of Zheng et al. (2021).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameletKind {
    /// `r = 2`: `cos(ξ/2)`, `sin(ξ/2)`.
    #[default]
    Haar,
    /// `r = 3`: `cos²(ξ/2)`, `sin(ξ)/√2`, `sin²(ξ/2)`.
    Linear,
    /// `r = 4`: `cos³(ξ/2)`, `√3 sin(ξ/2)cos²(ξ/2)`, `√3 sin²(ξ/2)cos(ξ/2)`, `sin³(ξ/2)`.
    Quadratic,
}

impl FrameletKind {
    /// Number of filters `r` (one low pass, `r − 1` high passes).
    pub fn n_filters(self) -> usize {
        match self {
            Self::Haar => 2,
            Self::Linear => 3,
            Self::Quadratic => 4,
        }
    }

    /// Filter `j` (0 = low pass) evaluated at `ξ ∈ [0, π]`.
    pub fn filter(self, j: usize, xi: f64) -> f64 {
        let (c, s) = ((xi / 2.0).cos(), (xi / 2.0).sin());
        match (self, j) {
            (Self::Haar, 0) => c,
            (Self::Haar, _) => s,
            (Self::Linear, 0) => c * c,
            (Self::Linear, 1) => xi.sin() / 2f64.sqrt(),
            (Self::Linear, _) => s * s,
            (Self::Quadratic, 0) => c * c * c,
            (Self::Quadratic, 1) => 3f64.sqrt() * s * c * c,
            (Self::Quadratic, 2) => 3f64.sqrt() * s * s * c,
            (Self::Quadratic, _) => s * s * s,
        }
    }
}

impl std::fmt::Display for FrameletKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Haar => "haar",
            Self::Linear => "linear",
            Self::Quadratic => "quadratic",
        })
    }
}

impl std::str::FromStr for FrameletKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "haar" => Ok(Self::Haar),
            "linear" => Ok(Self::Linear),
            "quadratic" => Ok(Self::Quadratic),
            _ => Err(format!("unknown framelet {s:?} (haar, linear, quadratic)")),
        }
    }
}

/// Quadrature points of [`chebyshev_coefficients`] (as anchors.py `cheb_coeffs`).
pub const QUADRATURE_POINTS: usize = 500;

/// `c_k = (2/π)∫_0^π cos(kθ) g(a(cosθ + 1)) dθ`, `a = π/2`, `k < n`, by the trapezoid rule
/// on [`QUADRATURE_POINTS`] equally spaced points (anchors.py `cheb_coeffs`).
pub fn chebyshev_coefficients(g: impl Fn(f64) -> f64, n: usize) -> Vec<f64> {
    let m = QUADRATURE_POINTS;
    let theta: Vec<f64> = (0..m).map(|i| PI * i as f64 / (m - 1) as f64).collect();
    let gv: Vec<f64> = theta
        .iter()
        .map(|t| g(PI / 2.0 * (t.cos() + 1.0)))
        .collect();
    (0..n)
        .map(|k| {
            let v: Vec<f64> = theta
                .iter()
                .zip(&gv)
                .map(|(t, g)| (k as f64 * t).cos() * g)
                .collect();
            let integral: f64 = (1..m)
                .map(|i| (v[i] + v[i - 1]) / 2.0 * (theta[i] - theta[i - 1]))
                .sum();
            2.0 / PI * integral
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haar_degree_one_coefficients_match_the_reference() {
        // W0 = (c0/2 − c1)·I + c1·(2/λ)·L = 1.115819·I − 1.027250/λ·L (anchors.py info).
        let c = chebyshev_coefficients(|x| FrameletKind::Haar.filter(0, x), 2);
        assert!((0.5 * c[0] - c[1] - 1.115819).abs() < 1e-6, "{c:?}");
        assert!((2.0 * c[1] + 1.027250).abs() < 1e-6, "{c:?}");
        let c = chebyshev_coefficients(|x| FrameletKind::Haar.filter(1, x), 2);
        assert!((0.5 * c[0] - c[1] - 0.088569).abs() < 1e-6, "{c:?}");
        assert!((2.0 * c[1] - 1.027250).abs() < 1e-6, "{c:?}");
    }

    #[test]
    fn filter_banks_are_partitions_of_unity() {
        // Σ_j g_j(ξ)² = 1 for every bank (the tight-frame condition).
        for kind in [
            FrameletKind::Haar,
            FrameletKind::Linear,
            FrameletKind::Quadratic,
        ] {
            for i in 0..=20 {
                let xi = PI * i as f64 / 20.0;
                let s: f64 = (0..kind.n_filters())
                    .map(|j| kind.filter(j, xi).powi(2))
                    .sum();
                assert!((s - 1.0).abs() < 1e-12, "{kind} {xi}: {s}");
            }
        }
    }
}
