//! The `smoke` experiment preset end to end: grid, resumable store, report, plots.
//!
//! Uses `<workspace>/../shared/datasets` (or `$FRAMELESS_DATASETS`) for its one syn-cora
//! graph; without it the synthetic cells still run, unless `$CI` is set, where missing
//! data is an error.

use std::path::{Path, PathBuf};
use std::time::Instant;

use frameless_experiments::{run_experiment, ExperimentOptions, Preset, Shard, SECTION_HEADINGS};

fn datasets_root() -> PathBuf {
    let root = std::env::var_os("FRAMELESS_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    if !root.join("syn-cora/h0.50-r1/meta.txt").is_file() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the datasets are missing at {} (set FRAMELESS_DATASETS)",
            root.display()
        );
        eprintln!(
            "note: {} has no syn-cora; running the synthetic cells only",
            root.display()
        );
    }
    root
}

/// A minimal well-formedness check: every tag closes in order, the root is `<svg>`.
fn check_svg(text: &str) -> Result<(), String> {
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find('<') {
        let start = i + off;
        if text[start..].starts_with("<!--") {
            i = start + text[start..].find("-->").ok_or("unclosed comment")? + 3;
            continue;
        }
        // Find the closing '>' outside quoted attribute values.
        let mut j = start + 1;
        let mut quote: Option<u8> = None;
        while j < bytes.len() {
            match (quote, bytes[j]) {
                (None, b'"' | b'\'') => quote = Some(bytes[j]),
                (Some(q), c) if c == q => quote = None,
                (None, b'>') => break,
                _ => {}
            }
            j += 1;
        }
        if j >= bytes.len() {
            return Err(format!("unclosed tag at byte {start}"));
        }
        let tag = &text[start + 1..j];
        i = j + 1;
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or_else(|| format!("stray </{name}>"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        if name.is_empty() {
            return Err(format!("empty tag name at byte {start}"));
        }
        if stack.is_empty() {
            if root.is_some() {
                return Err("more than one root element".into());
            }
            root = Some(name.clone());
        }
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> never closed"));
    }
    match root.as_deref() {
        Some("svg") => Ok(()),
        other => Err(format!("root element is {other:?}, not svg")),
    }
}

#[test]
fn svg_checker_rejects_broken_documents() {
    assert!(check_svg("<svg a=\"1>2\"><g><text>x</text></g><rect/></svg>").is_ok());
    assert!(check_svg("<?xml version=\"1.0\"?>\n<svg></svg>").is_ok());
    assert!(check_svg("<svg><g></svg>").is_err());
    assert!(check_svg("<html></html>").is_err());
    assert!(check_svg("<svg></svg><svg></svg>").is_err());
    assert!(check_svg("<svg><g").is_err());
}

#[test]
fn smoke_preset_writes_a_complete_report_and_resumes() {
    let out = tempfile::tempdir().unwrap();
    let options = ExperimentOptions {
        preset: Preset::Smoke,
        seeds: None,
        out: out.path().to_path_buf(),
        datasets: datasets_root(),
        only: Vec::new(),
        report_only: false,
        shard: Shard::WHOLE,
    };
    let start = Instant::now();
    let summary = run_experiment(&options, &mut |_| {}).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    eprintln!("smoke preset: {} cells in {seconds:.1} s", summary.planned);
    assert_eq!(summary.failed, 0);
    assert_eq!(summary.stored, summary.planned);

    let report = std::fs::read_to_string(out.path().join("report.md")).unwrap();
    for heading in SECTION_HEADINGS {
        assert!(
            report.lines().any(|l| l == heading),
            "report lacks {heading:?}"
        );
    }
    // Every embedded picture exists and is a well-formed SVG document.
    let mut pictures = 0;
    for line in report.lines() {
        if let Some(rest) = line.strip_prefix("![") {
            let file = rest
                .split_once("](")
                .and_then(|(_, f)| f.strip_suffix(')'))
                .unwrap_or_else(|| panic!("bad image line {line:?}"));
            assert!(!file.starts_with('/'), "links must be relative: {file}");
            let text = std::fs::read_to_string(out.path().join(file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            check_svg(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
            pictures += 1;
        }
    }
    assert!(
        pictures >= 3,
        "expected homophily and over-squashing plots, found {pictures}"
    );
    assert_eq!(pictures, summary.figures.len());

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("results.json")).unwrap())
            .unwrap();
    assert_eq!(json["cells"].as_array().unwrap().len(), summary.planned);
    assert!(!json["aggregates"].as_array().unwrap().is_empty());

    // A rerun finds every cell stored and trains nothing.
    let mut started = 0;
    let again = run_experiment(&options, &mut |e| {
        if matches!(e, frameless_experiments::CellEvent::Started { .. }) {
            started += 1;
        }
    })
    .unwrap();
    assert_eq!(started, 0);
    assert_eq!(again.stored, summary.planned);
}
