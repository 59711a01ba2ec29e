//! SDRF on an arbitrary edge list: canonicalise first, then run the flow.
//!
//! Datasets list edges in either direction, with duplicates and self loops; the surgery
//! [`Graph`](super::Graph) wants each undirected edge once as `u < v`, strictly sorted.

use super::{sdrf, SdrfConfig, SdrfOutcome, SurgeryError};
use crate::data::{canonical_edges, Dataset};

/// Runs [`sdrf`] on any edge list (canonicalised with [`canonical_edges`] first).
///
/// # Errors
/// [`SurgeryError::NodeOutOfRange`] if an endpoint is `>= n_nodes`, and the errors of
/// [`sdrf`] for bad settings.
///
/// ```
/// use frameless_distiller::surgery::{rewire_edges, SdrfConfig, SurgeryError};
/// // A bridge between two triangles, listed untidily.
/// let edges = [(1, 0), (0, 2), (2, 1), (3, 2), (3, 4), (5, 3), (4, 5), (4, 4)];
/// let out = rewire_edges(6, &edges, &SdrfConfig { iterations: 1, ..Default::default() })?;
/// assert_eq!(out.added.len(), 1);
/// # Ok::<(), SurgeryError>(())
/// ```
pub fn rewire_edges(
    n_nodes: usize,
    edges: &[(u32, u32)],
    cfg: &SdrfConfig,
) -> Result<SdrfOutcome, SurgeryError> {
    sdrf(n_nodes, &canonical_edges(edges), cfg)
}

/// Applies SDRF to a loaded dataset: the returned copy has the rewired, canonical edge
/// list (features, labels and fixed splits unchanged) and its name gains `+sdrf<iterations>`.
///
/// # Errors
/// Those of [`rewire_edges`].
///
/// ```
/// use frameless_distiller::{data, surgery::{rewire_dataset, SdrfConfig}};
/// let dataset = data::load(&"synthetic:nodes=60,classes=3,features=4,degree=3".parse()?)?;
/// let (rewired, outcome) = rewire_dataset(&dataset, &SdrfConfig::default())?;
/// assert_eq!(rewired.edges, outcome.edges);
/// assert_eq!(rewired.labels, dataset.labels);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rewire_dataset(
    dataset: &Dataset,
    cfg: &SdrfConfig,
) -> Result<(Dataset, SdrfOutcome), SurgeryError> {
    let outcome = rewire_edges(dataset.n_nodes(), &dataset.edges, cfg)?;
    let rewired = Dataset {
        name: format!("{}+sdrf{}", dataset.name, cfg.iterations),
        edges: outcome.edges.clone(),
        ..dataset.clone()
    };
    Ok((rewired, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untidy_and_tidy_lists_rewire_identically() {
        let tidy = [(0, 1), (0, 2), (1, 2), (2, 3), (3, 4), (3, 5), (4, 5)];
        let untidy = [
            (1, 0),
            (2, 0),
            (0, 2),
            (2, 1),
            (3, 2),
            (4, 3),
            (5, 3),
            (5, 4),
            (5, 5),
        ];
        let cfg = SdrfConfig {
            iterations: 3,
            ..SdrfConfig::default()
        };
        assert_eq!(
            rewire_edges(6, &tidy, &cfg).unwrap(),
            rewire_edges(6, &untidy, &cfg).unwrap()
        );
    }

    #[test]
    fn out_of_range_endpoint_is_an_error() {
        assert!(matches!(
            rewire_edges(3, &[(0, 7)], &SdrfConfig::default()),
            Err(SurgeryError::NodeOutOfRange { node: 7, .. })
        ));
    }
}
