//! The resumable results file and atomic file writes.
//!
//! `results.jsonl` holds one [`CellRecord`] per line. Each record is written with one
//! `write_all` of the whole line, then flushed and synced, so a crash loses at most the
//! cell in progress. On open, a torn last line (no trailing newline, or not valid JSON) is
//! cut off; every earlier line must parse. Several processes may append to one file
//! (`frameless experiment --jobs`): the file is opened in append mode and each record is a
//! single `write`, which Linux does not interleave with another process's.
//!
//! ```
//! use frameless_experiments::store::ResultStore;
//! let dir = tempfile::tempdir()?;
//! let store = ResultStore::open(dir.path())?;
//! assert!(store.records().is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::record::CellRecord;
use super::ExperimentError;

/// File name of the line-per-cell results inside the output folder.
pub const RESULTS_JSONL: &str = "results.jsonl";

/// Finished cells, read from and appended to `results.jsonl`.
#[derive(Debug)]
pub struct ResultStore {
    path: PathBuf,
    file: File,
    records: Vec<CellRecord>,
    ids: HashSet<String>,
}

impl ResultStore {
    /// Opens (creating the folder and file if needed) the results of `dir`.
    ///
    /// # Errors
    /// [`ExperimentError::Io`] on file-system failures, [`ExperimentError::BadResults`] if a
    /// line other than a torn last one does not parse.
    pub fn open(dir: &Path) -> Result<Self, ExperimentError> {
        std::fs::create_dir_all(dir).map_err(|e| ExperimentError::io(dir, e))?;
        let path = dir.join(RESULTS_JSONL);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(ExperimentError::io(&path, e)),
        };
        let mut records = Vec::new();
        let mut keep = 0usize;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let last = i + 1 == lines.len();
            let complete = line.ends_with('\n');
            if line.trim().is_empty() {
                keep += line.len();
                continue;
            }
            match serde_json::from_str::<CellRecord>(line.trim_end()) {
                Ok(record) if complete => {
                    records.push(record);
                    keep += line.len();
                }
                Err(e) if !last => {
                    return Err(ExperimentError::BadResults {
                        path,
                        line: i + 1,
                        message: e.to_string(),
                    })
                }
                // A torn write from an interrupted run (only the last line can be one).
                _ => break,
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ExperimentError::io(&path, e))?;
        if keep < text.len() {
            file.set_len(keep as u64)
                .map_err(|e| ExperimentError::io(&path, e))?;
        }
        let ids = records.iter().map(|r| r.id.clone()).collect();
        Ok(Self {
            path,
            file,
            records,
            ids,
        })
    }

    /// Whether a cell with this id is already stored.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Every stored cell, in the order they finished.
    pub fn records(&self) -> &[CellRecord] {
        &self.records
    }

    /// Appends one finished cell and syncs it to disk.
    ///
    /// # Errors
    /// [`ExperimentError::Io`] if writing fails.
    pub fn append(&mut self, record: CellRecord) -> Result<(), ExperimentError> {
        let mut line = serde_json::to_string(&record).map_err(|e| ExperimentError::BadResults {
            path: self.path.clone(),
            line: self.records.len() + 1,
            message: e.to_string(),
        })?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| ExperimentError::io(&self.path, e))?;
        self.ids.insert(record.id.clone());
        self.records.push(record);
        Ok(())
    }
}

/// Writes `bytes` to `path` with `frameless_distiller::files::write_atomic`.
///
/// # Errors
/// [`ExperimentError::Io`] if any step fails (the temporary file is removed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ExperimentError> {
    frameless_distiller::files::write_atomic(path, bytes).map_err(|e| ExperimentError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{cell_id, Section};

    fn record(seed: u64) -> CellRecord {
        CellRecord {
            id: cell_id(Section::Real, "toy", "spatial", 2, 0, seed),
            section: Section::Real,
            family: "toy".into(),
            dataset: "toy".into(),
            homophily: None,
            edge_homophily: 0.5,
            teacher: "spatial".into(),
            depth: 2,
            sdrf_iterations: 0,
            seed,
            n_nodes: 3,
            n_edges: 2,
            teacher_epochs: 10,
            teacher_accuracy: 0.75,
            teacher_energy: Some(0.1),
            students: Vec::new(),
            seconds: 0.5,
        }
    }

    #[test]
    fn appended_cells_survive_reopen_and_torn_lines_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ResultStore::open(dir.path()).unwrap();
        store.append(record(0)).unwrap();
        store.append(record(1)).unwrap();
        drop(store);
        // Simulate a crash in the middle of the third line.
        let path = dir.path().join(RESULTS_JSONL);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"id\":\"real|to").unwrap();
        drop(f);
        let mut store = ResultStore::open(dir.path()).unwrap();
        assert_eq!(store.records().len(), 2);
        assert!(store.contains(&record(1).id));
        assert!(!store.contains(&record(2).id));
        store.append(record(2)).unwrap();
        drop(store);
        let store = ResultStore::open(dir.path()).unwrap();
        assert_eq!(store.records(), &[record(0), record(1), record(2)]);
    }

    #[test]
    fn corrupt_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let line = serde_json::to_string(&record(0)).unwrap();
        std::fs::write(dir.path().join(RESULTS_JSONL), format!("garbage\n{line}\n")).unwrap();
        assert!(matches!(
            ResultStore::open(dir.path()),
            Err(ExperimentError::BadResults { line: 1, .. })
        ));
    }

    #[test]
    fn atomic_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
