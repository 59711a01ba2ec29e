//! Writes a dataset in the plain format the loader reads (`../shared/datasets/README.md`).
//!
//! `meta.txt`, `features.txt`, `labels.txt`, `edges.txt` (each undirected edge once, `u < v`,
//! sorted), an empty `self_loops.txt`, and the splits: a source folder's `splits/` and
//! `split_*.txt` files are copied byte for byte; otherwise the dataset's fixed splits are
//! written as `splits/split_<k>.txt`. Every file is written to a temporary sibling, synced
//! and renamed, so a reader never sees half a file.

use std::path::Path;

use super::{canonical_edges, Dataset};

/// Writes `dataset` into `dir` (created if needed); `extra_meta` lines (e.g. the surgery
/// settings) are appended to `meta.txt`.
///
/// # Errors
/// An I/O error naming the file that could not be written.
///
/// ```
/// use frameless_distiller::data::{self, write_dataset};
/// let dataset = data::load(&"synthetic:nodes=30,classes=3,features=4".parse()?)?;
/// let dir = tempfile::tempdir()?;
/// write_dataset(&dataset, None, dir.path(), &[("surgery".into(), "none".into())])?;
/// let again = data::load_dir(dir.path())?;
/// assert_eq!(again.labels, dataset.labels);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_dataset(
    dataset: &Dataset,
    source_dir: Option<&Path>,
    dir: &Path,
    extra_meta: &[(String, String)],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| named(dir, e))?;
    let n = dataset.n_nodes();
    let edges = canonical_edges(&dataset.edges);
    let x = &dataset.features;

    let mut features = String::new();
    let mut binary = true;
    for i in 0..n {
        features.push_str(&format!("{i}\t"));
        let row: Vec<String> = x
            .row(i)
            .filter(|&(_, v)| v != 0.0)
            .map(|(c, v)| {
                binary &= v == 1.0;
                format!("{c}:{v}")
            })
            .collect();
        features.push_str(&row.join(" "));
        features.push('\n');
    }
    let labels: String = dataset.labels.iter().map(|y| format!("{y}\n")).collect();
    let edge_text: String = edges.iter().map(|(u, v)| format!("{u}\t{v}\n")).collect();
    let same = edges
        .iter()
        .filter(|&&(u, v)| {
            let (a, b) = (
                dataset.labels.get(u as usize),
                dataset.labels.get(v as usize),
            );
            a.zip(b).is_some_and(|(&a, &b)| a >= 0 && a == b)
        })
        .count();
    let counts: Vec<String> = dataset
        .class_counts()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut meta = format!(
        "name={}\nnum_nodes={n}\nnum_features={}\nnum_classes={}\nnum_edges_undirected={}\n\
         num_self_loops=0\nfeatures_file=features.txt\nfeatures_nnz={}\nfeatures_binary={binary}\n\
         class_counts={}\nedge_homophily={:.4}\n",
        dataset.name,
        dataset.n_features,
        dataset.n_classes,
        edges.len(),
        x.values.iter().filter(|&&v| v != 0.0).count(),
        counts.join(","),
        same as f64 / edges.len().max(1) as f64,
    );
    for (k, v) in extra_meta {
        meta.push_str(&format!("{k}={v}\n"));
    }
    write_atomic(&dir.join("features.txt"), features.as_bytes())?;
    write_atomic(&dir.join("labels.txt"), labels.as_bytes())?;
    write_atomic(&dir.join("edges.txt"), edge_text.as_bytes())?;
    write_atomic(&dir.join("self_loops.txt"), b"")?;
    write_splits(dataset, source_dir, dir)?;
    // meta.txt last: the loader keys on it, so a folder without it is not yet a dataset.
    write_atomic(&dir.join("meta.txt"), meta.as_bytes())
}

fn write_splits(dataset: &Dataset, source_dir: Option<&Path>, dir: &Path) -> std::io::Result<()> {
    let n = dataset.n_nodes();
    let source_splits = source_dir.map(|s| s.join("splits")).filter(|s| s.is_dir());
    if let Some(src) = source_dir {
        for entry in std::fs::read_dir(src).map_err(|e| named(src, e))? {
            let path = entry.map_err(|e| named(src, e))?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("split_") && name.ends_with(".txt") {
                let bytes = std::fs::read(&path).map_err(|e| named(&path, e))?;
                write_atomic(&dir.join(name), &bytes)?;
            }
        }
    }
    let out = dir.join("splits");
    if let Some(src) = source_splits {
        std::fs::create_dir_all(&out).map_err(|e| named(&out, e))?;
        for entry in std::fs::read_dir(&src).map_err(|e| named(&src, e))? {
            let path = entry.map_err(|e| named(&src, e))?.path();
            if path.extension().is_some_and(|e| e == "txt") {
                let bytes = std::fs::read(&path).map_err(|e| named(&path, e))?;
                if let Some(name) = path.file_name() {
                    write_atomic(&out.join(name), &bytes)?;
                }
            }
        }
        return Ok(());
    }
    if dataset.fixed_splits.is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(&out).map_err(|e| named(&out, e))?;
    for (k, split) in dataset.fixed_splits.iter().enumerate() {
        let mut text = String::new();
        for (name, ids) in [
            ("train", &split.train),
            ("val", &split.val),
            ("test", &split.test),
        ] {
            let mut bits = vec![b'0'; n];
            for &i in ids.iter() {
                if let Some(b) = bits.get_mut(i as usize) {
                    *b = b'1';
                }
            }
            text.push_str(name);
            text.push('\t');
            text.push_str(&String::from_utf8_lossy(&bits));
            text.push('\n');
        }
        write_atomic(&out.join(format!("split_{k}.txt")), text.as_bytes())?;
    }
    Ok(())
}

fn named(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// [`crate::files::write_atomic`], with the path in the error's message.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::files::write_atomic(path, bytes).map_err(|e| named(path, e))
}
