//! The converted plain-text format (see `../shared/datasets/README.md`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{validate, DataError, Dataset, Split};
use crate::sparse::Csr;

/// Reads a whole text file.
pub(crate) fn read(file: &Path) -> Result<String, DataError> {
    std::fs::read_to_string(file).map_err(|e| DataError::io(file, e))
}

/// Parses one integer field.
pub(crate) fn int(file: &Path, line: usize, field: &str) -> Result<i64, DataError> {
    field
        .trim()
        .parse()
        .map_err(|_| DataError::parse(file, line, format!("{field:?} is not an integer")))
}

/// Parses one node id, checking it against `n_nodes`.
pub(crate) fn node(file: &Path, line: usize, field: &str, n: usize) -> Result<u32, DataError> {
    let id = int(file, line, field)?;
    if id < 0 || id as usize >= n {
        return Err(DataError::IndexOutOfRange {
            file: file.into(),
            line,
            what: "node",
            index: id,
            limit: n,
        });
    }
    Ok(id as u32)
}

/// Parses one label (`-1` or `0..n_classes`).
pub(crate) fn label(file: &Path, line: usize, field: &str, c: usize) -> Result<i64, DataError> {
    let y = int(file, line, field)?;
    if y < -1 || y >= c as i64 {
        return Err(DataError::IndexOutOfRange {
            file: file.into(),
            line,
            what: "class",
            index: y,
            limit: c,
        });
    }
    Ok(y)
}

/// Reads an edge file (one `u<TAB>v` per line after `header_lines` header lines; blank
/// lines skipped), checking every endpoint against `n` nodes.
pub(crate) fn read_edges(
    file: &Path,
    header_lines: usize,
    n: usize,
) -> Result<Vec<(u32, u32)>, DataError> {
    read(file)?
        .lines()
        .enumerate()
        .skip(header_lines)
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| edge(file, i + 1, l, n))
        .collect()
}

/// The dataset's name: its folder's name.
pub(crate) fn folder_name(dir: &Path) -> String {
    dir.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into())
}

/// Parses an undirected edge line `u<TAB>v`.
pub(crate) fn edge(
    file: &Path,
    line: usize,
    text: &str,
    n: usize,
) -> Result<(u32, u32), DataError> {
    let mut fields = text.split_whitespace();
    let (Some(a), Some(b), None) = (fields.next(), fields.next(), fields.next()) else {
        return Err(DataError::parse(file, line, "expected two node ids"));
    };
    let (u, v) = (int(file, line, a)?, int(file, line, b)?);
    if u < 0 || v < 0 || u as usize >= n || v as usize >= n {
        return Err(DataError::MissingNode {
            file: file.into(),
            line,
            u,
            v,
            n_nodes: n,
        });
    }
    Ok((u as u32, v as u32))
}

/// Parses a feature value, rejecting NaN and infinities.
pub(crate) fn value(file: &Path, line: usize, field: &str) -> Result<f32, DataError> {
    let v: f32 = field
        .parse()
        .map_err(|_| DataError::parse(file, line, format!("{field:?} is not a number")))?;
    if !v.is_finite() {
        return Err(DataError::NonFinite {
            file: file.into(),
            line,
        });
    }
    Ok(v)
}

fn meta_key(
    meta: &HashMap<String, String>,
    file: &Path,
    key: &'static str,
) -> Result<usize, DataError> {
    let text = meta.get(key).ok_or(DataError::MissingKey {
        file: file.into(),
        key,
    })?;
    text.parse()
        .map_err(|_| DataError::parse(file, 0, format!("{key}={text} is not a count")))
}

/// Sorts one line's `(node, column, value)` entries by column and returns a column that
/// appears twice, if any.
fn repeated_column(line: &mut [(u32, u32, f32)]) -> Option<u32> {
    line.sort_unstable_by_key(|&(_, col, _)| col);
    line.windows(2)
        .find(|pair| pair[0].1 == pair[1].1)
        .map(|pair| pair[0].1)
}

/// Loads a split file: three lines `train|val|test<TAB>bits` with `n` bits each.
pub(crate) fn load_split(file: &Path, n: usize) -> Result<Split, DataError> {
    let text = read(file)?;
    let mut split = Split::default();
    let mut seen = 0;
    // The part that holds each node so far: the three parts must be disjoint.
    let mut owner: Vec<Option<&'static str>> = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.is_empty()) {
        let (name, bits) = line
            .split_once('\t')
            .ok_or_else(|| DataError::parse(file, i + 1, "expected name<TAB>bits"))?;
        let (part_name, part) = match name {
            "train" => ("train", &mut split.train),
            "val" => ("val", &mut split.val),
            "test" => ("test", &mut split.test),
            _ => {
                return Err(DataError::parse(
                    file,
                    i + 1,
                    format!("unknown part {name:?}"),
                ))
            }
        };
        if bits.len() != n {
            return Err(DataError::BadCount {
                file: file.into(),
                line: i + 1,
                what: "mask bits",
                expected: n,
                found: bits.len(),
            });
        }
        owner.resize(n, None);
        for (id, b) in bits.bytes().enumerate() {
            match b {
                b'1' => {
                    let earlier = owner.get_mut(id).and_then(|o| o.replace(part_name));
                    if let Some(first) = earlier {
                        return Err(DataError::OverlappingSplit {
                            file: file.into(),
                            line: i + 1,
                            node: id as u32,
                            first,
                            second: part_name,
                        });
                    }
                    part.push(id as u32);
                }
                b'0' => {}
                _ => return Err(DataError::parse(file, i + 1, "mask bits must be 0 or 1")),
            }
        }
        seen += 1;
    }
    if seen != 3 {
        return Err(DataError::BadCount {
            file: file.into(),
            line: text.lines().count(),
            what: "split lines",
            expected: 3,
            found: seen,
        });
    }
    Ok(split)
}

/// Loads every `splits/*_<k>.txt`, ordered by `k`.
pub(crate) fn load_splits(dir: &Path, n: usize) -> Result<Vec<Split>, DataError> {
    let splits_dir = dir.join("splits");
    if !splits_dir.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&splits_dir).map_err(|e| DataError::io(&splits_dir, e))?;
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| DataError::io(&splits_dir, e))?.path();
        let Some(name) = path.file_name().and_then(|s| s.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".txt") else {
            continue;
        };
        let Some((_, k)) = stem.rsplit_once('_') else {
            continue;
        };
        if let Ok(k) = k.parse() {
            files.push((k, path));
        }
    }
    files.sort();
    files.iter().map(|(_, f)| load_split(f, n)).collect()
}

/// Loads a converted dataset folder.
pub(crate) fn load(dir: &Path) -> Result<Dataset, DataError> {
    let meta_file = dir.join("meta.txt");
    let meta: HashMap<String, String> = read(&meta_file)?
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let n = meta_key(&meta, &meta_file, "num_nodes")?;
    let f = meta_key(&meta, &meta_file, "num_features")?;
    let c = meta_key(&meta, &meta_file, "num_classes")?;

    let file = dir.join("features.txt");
    let text = read(&file)?;
    let mut triplets = Vec::new();
    let mut rows = 0;
    for (i, line) in text.lines().enumerate() {
        let (id, rest) = line
            .split_once('\t')
            .ok_or_else(|| DataError::parse(&file, i + 1, "expected id<TAB>features"))?;
        let id = node(&file, i + 1, id, n)?;
        if id as usize != i {
            return Err(DataError::parse(
                &file,
                i + 1,
                format!("node {id} out of order"),
            ));
        }
        let first_of_line = triplets.len();
        for item in rest.split_whitespace() {
            let (col, val) = item.split_once(':').ok_or_else(|| {
                DataError::parse(&file, i + 1, format!("{item:?} is not col:val"))
            })?;
            let col = int(&file, i + 1, col)?;
            if col < 0 || col as usize >= f {
                return Err(DataError::IndexOutOfRange {
                    file,
                    line: i + 1,
                    what: "feature column",
                    index: col,
                    limit: f,
                });
            }
            triplets.push((id, col as u32, value(&file, i + 1, val)?));
        }
        if let Some(column) = repeated_column(&mut triplets[first_of_line..]) {
            return Err(DataError::DuplicateColumn {
                file,
                line: i + 1,
                column,
            });
        }
        rows += 1;
    }
    if rows != n {
        return Err(DataError::BadCount {
            file,
            line: rows,
            what: "feature rows",
            expected: n,
            found: rows,
        });
    }
    let features = Csr::from_triplets(n, f, &triplets)
        .map_err(|e| DataError::parse(&file, 0, e.to_string()))?;

    let labels_file = dir.join("labels.txt");
    let text = read(&labels_file)?;
    let labels = text
        .lines()
        .enumerate()
        .map(|(i, l)| label(&labels_file, i + 1, l, c))
        .collect::<Result<Vec<_>, _>>()?;
    if labels.len() != n {
        return Err(DataError::BadCount {
            file: labels_file,
            line: labels.len(),
            what: "labels",
            expected: n,
            found: labels.len(),
        });
    }

    let edges = read_edges(&dir.join("edges.txt"), 0, n)?;
    let name = folder_name(dir);
    let dataset = Dataset {
        name,
        n_features: f,
        n_classes: c,
        features,
        labels,
        edges,
        fixed_splits: load_splits(dir, n)?,
    };
    validate(&dataset, &labels_file)?;
    Ok(dataset)
}
