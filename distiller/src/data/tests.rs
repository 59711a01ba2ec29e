//! Loader tests: every malformed-input error, and the real datasets when present.

use std::path::{Path, PathBuf};

use super::*;

/// `../shared/datasets` relative to the workspace root (override: `FRAMELESS_DATASETS`).
/// Missing data fails under `CI`, else the test is skipped with a message.
pub(crate) fn datasets_root() -> Option<PathBuf> {
    let root = std::env::var_os("FRAMELESS_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    if root.join("cora/meta.txt").is_file() {
        return Some(root);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the datasets are missing at {}",
        root.display()
    );
    eprintln!(
        "skipping: datasets not found at {} (set FRAMELESS_DATASETS)",
        root.display()
    );
    None
}

/// A valid 4-node, 2-class dataset folder; `edit` may overwrite files before loading.
fn folder(edit: &[(&str, &str)]) -> (tempfile::TempDir, Result<Dataset, DataError>) {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("meta.txt", "num_nodes=4\nnum_features=3\nnum_classes=2\n"),
        ("features.txt", "0\t0:1 2:0.5\n1\t\n2\t1:1\n3\t0:2\n"),
        ("labels.txt", "0\n1\n0\n-1\n"),
        ("edges.txt", "0\t1\n1\t2\n2\t3\n"),
    ];
    for (name, text) in files.iter().chain(edit) {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let result = load_dir(dir.path());
    (dir, result)
}

fn line_of(e: &DataError) -> usize {
    match e {
        DataError::Parse { line, .. }
        | DataError::BadCount { line, .. }
        | DataError::IndexOutOfRange { line, .. }
        | DataError::MissingNode { line, .. }
        | DataError::NonFinite { line, .. }
        | DataError::DuplicateColumn { line, .. }
        | DataError::OverlappingSplit { line, .. } => *line,
        _ => 0,
    }
}

#[test]
fn valid_folder_loads() {
    let (_d, d) = folder(&[]);
    let d = d.unwrap();
    assert_eq!((d.n_nodes(), d.n_features, d.n_classes), (4, 3, 2));
    assert_eq!(d.features.nnz(), 4);
    assert_eq!(d.labels, vec![0, 1, 0, -1]);
    assert_eq!(d.graph().unwrap().n_edges(), 3);
}

#[test]
fn each_defect_is_a_typed_error_with_file_and_line() {
    let cases: [(&str, &str, usize); 10] = [
        ("features.txt", "0\t0:1\n1\t2:1 0:1 2:3\n2\t\n3\t\n", 2), // column 2 twice
        ("features.txt", "0\t0:1\n1\t\n2\t1:x\n3\t\n", 3),         // not a number
        ("features.txt", "0\t0:1\n1\t\n2\t7:1\n3\t\n", 3),         // column out of range
        ("features.txt", "0\t0:1\n1\t\n2\t\n", 3),                 // too few rows
        ("features.txt", "0\t0:1\n1\t0:NaN\n2\t\n3\t\n", 2),       // NaN
        ("labels.txt", "0\n1\n5\n0\n", 3),                         // class out of range
        ("labels.txt", "0\n1\n", 2),                               // too few labels
        ("edges.txt", "0\t1\n1\t9\n", 2),                          // missing node
        ("edges.txt", "0\t1\n1\n", 2),                             // one field
        ("meta.txt", "num_nodes=4\nnum_features=3\n", 0),          // missing key
    ];
    for (file, text, line) in cases {
        let (_d, result) = folder(&[(file, text)]);
        let err = result.expect_err(text);
        assert_eq!(line_of(&err), line, "{file}: {err}");
        let shown = err.to_string();
        assert!(shown.contains(file), "{shown}");
        assert!(!shown.contains('\n'), "{shown}");
    }
    let (_d, r) = folder(&[("features.txt", "0\t0:1\n1\t\n2\t1:inf\n3\t\n")]);
    assert!(matches!(r, Err(DataError::NonFinite { line: 3, .. })));
    let (_d, r) = folder(&[("edges.txt", "0\t4\n")]);
    assert!(matches!(r, Err(DataError::MissingNode { u: 0, v: 4, .. })));
}

#[test]
fn empty_class_is_an_error() {
    let (_d, r) = folder(&[("labels.txt", "0\n0\n0\n-1\n")]);
    assert!(
        matches!(r, Err(DataError::EmptyClass { class: 1, .. })),
        "{r:?}"
    );
    // A class count of 10^12 (it aborted, allocating a count per class): class 2 of
    // the labels 0, 1 is the first empty one.
    let (_d, r) = folder(&[(
        "meta.txt",
        "num_nodes=4\nnum_features=3\nnum_classes=1000000000000\n",
    )]);
    assert!(
        matches!(r, Err(DataError::EmptyClass { class: 2, .. })),
        "{r:?}"
    );
    // The same from one geom-gcn label of 10^12.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("out1_node_feature_label.txt"),
        "node_id\tfeature\tlabel\n0\t1,0\t0\n1\t0,1\t1000000000000\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("out1_graph_edges.txt"),
        "node_id\tnode_id\n0\t1\n",
    )
    .unwrap();
    let r = load_dir(dir.path());
    assert!(
        matches!(r, Err(DataError::EmptyClass { class: 1, .. })),
        "{r:?}"
    );
}

#[test]
fn missing_files_and_folders_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        load_dir(dir.path()),
        Err(DataError::NotADataset { .. })
    ));
    std::fs::write(
        dir.path().join("meta.txt"),
        "num_nodes=1\nnum_features=1\nnum_classes=1\n",
    )
    .unwrap();
    assert!(matches!(load_dir(dir.path()), Err(DataError::Io { .. })));
}

#[test]
fn fixed_splits_are_read_in_order_and_used_by_seed() {
    let (dir, _) = folder(&[]);
    std::fs::create_dir(dir.path().join("splits")).unwrap();
    std::fs::write(
        dir.path().join("splits/x_split_0.6_0.2_1.txt"),
        "train\t0100\nval\t0010\ntest\t1001\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("splits/x_split_0.6_0.2_0.txt"),
        "train\t1000\nval\t0100\ntest\t0011\n",
    )
    .unwrap();
    let d = load_dir(dir.path()).unwrap();
    assert_eq!(d.fixed_splits.len(), 2);
    assert_eq!(d.split(0, SplitRates::default()).train, vec![0]);
    // Seed 3 → split 1; node 3 is unlabelled and leaves the test part.
    let s = d.split(3, SplitRates::default());
    assert_eq!((s.train, s.val, s.test), (vec![1], vec![2], vec![0]));
    std::fs::write(
        dir.path().join("splits/x_split_0.6_0.2_1.txt"),
        "train\t01\nval\t0010\ntest\t1001\n",
    )
    .unwrap();
    assert!(matches!(
        load_dir(dir.path()),
        Err(DataError::BadCount { line: 1, .. })
    ));
    // Node 1 in both train and val: refused, naming the val line.
    std::fs::write(
        dir.path().join("splits/x_split_0.6_0.2_1.txt"),
        "train\t0100\nval\t0110\ntest\t1001\n",
    )
    .unwrap();
    let e = load_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            e,
            DataError::OverlappingSplit {
                line: 2,
                node: 1,
                first: "train",
                second: "val",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn geom_gcn_raw_format_loads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("out1_node_feature_label.txt"),
        "node_id\tfeature\tlabel\n2\t0,1,0\t1\n0\t1,0,0\t0\n1\t0,0,1\t1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("out1_graph_edges.txt"),
        "node_id\tnode_id\n0\t1\n1\t2\n2\t2\n",
    )
    .unwrap();
    let d = load_dir(dir.path()).unwrap();
    assert_eq!((d.n_nodes(), d.n_features, d.n_classes), (3, 3, 2));
    assert_eq!(d.labels, vec![0, 1, 1]);
    assert_eq!(d.features.row(2).collect::<Vec<_>>(), vec![(1, 1.0)]);
    assert_eq!(d.graph().unwrap().n_edges(), 2);
    std::fs::write(
        dir.path().join("out1_graph_edges.txt"),
        "node_id\tnode_id\n0\t1\n1\t3\n",
    )
    .unwrap();
    assert!(matches!(
        load_dir(dir.path()),
        Err(DataError::MissingNode { line: 3, .. })
    ));
    std::fs::write(
        dir.path().join("out1_node_feature_label.txt"),
        "node_id\tfeature\tlabel\n2\t0,1\t1\n0\t1,0,0\t0\n1\t0,0,1\t1\n",
    )
    .unwrap();
    assert!(matches!(
        load_dir(dir.path()),
        Err(DataError::BadCount { line: 3, .. })
    ));
}

#[test]
fn real_datasets_match_their_readme_counts() {
    let Some(root) = datasets_root() else { return };
    // (folder, nodes, features, classes, undirected edges, fixed splits)
    for (name, n, f, c, e, k) in [
        ("cora", 2708, 1433, 7, 5278, 0),
        ("citeseer", 3327, 3703, 6, 4552, 0),
        ("texas", 183, 1703, 5, 279, 10),
    ] {
        let d = load_dir(&root.join(name)).unwrap();
        assert_eq!(
            (d.n_nodes(), d.n_features, d.n_classes),
            (n, f, c),
            "{name}"
        );
        assert_eq!(d.graph().unwrap().n_edges(), e, "{name}");
        assert_eq!(d.fixed_splits.len(), k, "{name}");
    }
    let cora = load_dir(&root.join("cora")).unwrap();
    assert_eq!(cora.features.nnz(), 49216);
    let s = cora.split(0, SplitRates::default());
    // int(2708/7·0.2) = 77 per class for train and for validation.
    assert_eq!((s.train.len(), s.val.len()), (7 * 77, 7 * 77));
    // The raw geom-gcn files of texas give the same dataset as the converted ones.
    let raw_dir = tempfile::tempdir().unwrap();
    for f in ["out1_node_feature_label.txt", "out1_graph_edges.txt"] {
        std::fs::copy(root.join("texas").join(f), raw_dir.path().join(f)).unwrap();
    }
    let raw = load_dir(raw_dir.path()).unwrap();
    let plain = load_dir(&root.join("texas")).unwrap();
    assert_eq!(
        (raw.labels.clone(), raw.features.clone()),
        (plain.labels.clone(), plain.features.clone())
    );
    assert_eq!(raw.graph().unwrap(), plain.graph().unwrap());
}
