//! The data stage's error type.

use std::path::PathBuf;

/// Why a dataset could not be loaded; file-format errors name the file and the 1-based line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be read.
    #[error("cannot read {}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The folder holds neither `meta.txt` nor `out1_node_feature_label.txt`.
    #[error("{} is not a dataset folder (no meta.txt or out1_node_feature_label.txt)", path.display())]
    NotADataset {
        /// The folder.
        path: PathBuf,
    },
    /// A field is not a number, or a line has the wrong shape.
    #[error("{}:{line}: {message}", file.display())]
    Parse {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A count disagrees with the header or `meta.txt`.
    #[error("{}:{line}: expected {expected} {what}, found {found}", file.display())]
    BadCount {
        /// The file.
        file: PathBuf,
        /// 1-based line (the last line read for whole-file counts).
        line: usize,
        /// What is counted.
        what: &'static str,
        /// The promised count.
        expected: usize,
        /// The count found.
        found: usize,
    },
    /// An index (node, column or class) is outside its range.
    #[error("{}:{line}: {what} {index} is out of range (must be below {limit})", file.display())]
    IndexOutOfRange {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// What the index names (`node`, `feature column`, `class`).
        what: &'static str,
        /// The offending index.
        index: i64,
        /// The exclusive upper bound.
        limit: usize,
    },
    /// An edge names a node that does not exist.
    #[error("{}:{line}: edge ({u}, {v}) names a missing node (the graph has {n_nodes} nodes)", file.display())]
    MissingNode {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// First endpoint.
        u: i64,
        /// Second endpoint.
        v: i64,
        /// Number of nodes.
        n_nodes: usize,
    },
    /// A feature value is NaN or infinite.
    #[error("{}:{line}: feature value is not finite", file.display())]
    NonFinite {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A feature line names the same column twice (it would be summed silently).
    #[error("{}:{line}: feature column {column} appears twice", file.display())]
    DuplicateColumn {
        /// The file.
        file: PathBuf,
        /// 1-based line.
        line: usize,
        /// The repeated column.
        column: u32,
    },
    /// A node is in two parts of a split (e.g. training and validation).
    #[error("{}:{line}: node {node} is in both {first} and {second}", file.display())]
    OverlappingSplit {
        /// The split file.
        file: PathBuf,
        /// 1-based line of the second part.
        line: usize,
        /// The node.
        node: u32,
        /// The part that listed it first.
        first: &'static str,
        /// The part that lists it again.
        second: &'static str,
    },
    /// A class has no labelled node.
    #[error("{}: class {class} has no labelled node", file.display())]
    EmptyClass {
        /// The labels file.
        file: PathBuf,
        /// The empty class.
        class: usize,
    },
    /// A required `meta.txt` key is missing.
    #[error("{}: missing key {key}", file.display())]
    MissingKey {
        /// The file.
        file: PathBuf,
        /// The key.
        key: &'static str,
    },
    /// A dataset source string or synthetic parameter is invalid.
    #[error("bad dataset source {text:?}: {reason}")]
    BadSource {
        /// The text given.
        text: String,
        /// Why it is invalid.
        reason: String,
    },
}

/// Every data defect is in the user's dataset, folder or source string.
impl crate::error::Blamed for DataError {
    fn blame(&self) -> crate::error::Blame {
        crate::error::Blame::Input
    }
}

impl DataError {
    pub(crate) fn io(file: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            file: file.into(),
            source,
        }
    }

    pub(crate) fn parse(file: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        Self::Parse {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}
