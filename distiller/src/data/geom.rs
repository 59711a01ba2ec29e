//! The geom-gcn raw text format: `out1_node_feature_label.txt` + `out1_graph_edges.txt`.

use std::path::Path;

use super::plain::{folder_name, label, load_splits, node, read, read_edges, value};
use super::{validate, DataError, Dataset};
use crate::sparse::Csr;

/// The node file whose presence marks a geom-gcn folder.
pub(crate) const NODES_FILE: &str = "out1_node_feature_label.txt";
const EDGES_FILE: &str = "out1_graph_edges.txt";

/// One node's `(column, value)` entries and label.
type Row = (Vec<(u32, f32)>, i64);

/// Loads a geom-gcn folder. Features are a dense comma-separated 0/1 vector, or (film,
/// header `feature(feature_amount:K)`) a comma-separated list of the 1-columns.
pub(crate) fn load(dir: &Path) -> Result<Dataset, DataError> {
    let file = dir.join(NODES_FILE);
    let text = read(&file)?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l).unwrap_or("");
    let index_list = header.contains("feature_amount");
    let body: Vec<(usize, &str)> = lines.filter(|(_, l)| !l.trim().is_empty()).collect();
    let n = body.len();
    let mut rows: Vec<Option<Row>> = vec![None; n];
    let mut n_features = 0usize;
    for &(i, line) in &body {
        let fields: Vec<&str> = line.split('\t').collect();
        let [id, feats, y] = fields[..] else {
            return Err(DataError::parse(
                &file,
                i + 1,
                "expected id<TAB>features<TAB>label",
            ));
        };
        let id = node(&file, i + 1, id, n)?;
        let y = label(&file, i + 1, y, usize::MAX >> 1)?;
        let mut row = Vec::new();
        if index_list {
            for col in feats.split(',').filter(|s| !s.is_empty()) {
                let col = node(&file, i + 1, col, u32::MAX as usize).map_err(|_| {
                    DataError::parse(&file, i + 1, format!("{col:?} is not a column index"))
                })?;
                n_features = n_features.max(col as usize + 1);
                row.push((col, 1.0));
            }
        } else {
            let values: Vec<&str> = feats.split(',').collect();
            if n_features == 0 {
                n_features = values.len();
            } else if values.len() != n_features {
                return Err(DataError::BadCount {
                    file,
                    line: i + 1,
                    what: "feature values",
                    expected: n_features,
                    found: values.len(),
                });
            }
            for (col, v) in values.iter().enumerate() {
                let v = value(&file, i + 1, v.trim())?;
                if v != 0.0 {
                    row.push((col as u32, v));
                }
            }
        }
        // `node` checked the id against n = rows.len().
        let slot = rows
            .get_mut(id as usize)
            .ok_or_else(|| DataError::parse(&file, i + 1, format!("node {id} is out of range")))?;
        if slot.replace((row, y)).is_some() {
            return Err(DataError::parse(
                &file,
                i + 1,
                format!("node {id} listed twice"),
            ));
        }
    }
    let mut triplets = Vec::new();
    let mut labels = Vec::with_capacity(n);
    for (id, row) in rows.into_iter().enumerate() {
        // n distinct ids below n: every slot is filled.
        let (row, y) = row.unwrap_or_default();
        triplets.extend(row.into_iter().map(|(c, v)| (id as u32, c, v)));
        labels.push(y);
    }
    let n_classes = labels
        .iter()
        .copied()
        .max()
        .map_or(0, |m| (m + 1).max(0) as usize);
    let features = Csr::from_triplets(n, n_features, &triplets)
        .map_err(|e| DataError::parse(&file, 0, e.to_string()))?;

    // The edge file starts with a header line.
    let edges = read_edges(&dir.join(EDGES_FILE), 1, n)?;
    let name = folder_name(dir);
    let dataset = Dataset {
        name,
        n_features,
        n_classes,
        features,
        labels,
        edges,
        fixed_splits: load_splits(dir, n)?,
    };
    validate(&dataset, &file)?;
    Ok(dataset)
}
