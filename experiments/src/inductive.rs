//! The inductive protocol: answers for nodes unseen at training time.
//!
//! Per dataset and seed: the usual split (per class, or the dataset's fixed split), then a
//! share of the test nodes (default half) is **held out** with all their edges. On the graph
//! without them a spatial teacher is trained and an fmlp-s student distilled (λ = 0, τ = 1);
//! each held-out node is then answered by the engine's [`Model::predict_new`] from its
//! features and its edges to training-graph nodes (uniform weights), i.e. from the mean of its
//! neighbours' table rows. Compared on the same held-out nodes:
//! - `transductive`: teacher and student trained on the full graph (held-out nodes unlabelled
//!   test nodes, as usual), each answering with its own table row;
//! - `mlp`: a plain MLP trained on the labels only (the graph-free baseline);
//! - `features_only`: the inductive student with no neighbours (every gate 1);
//! - `neighbour_vote`: the majority of the inductive student's answers for the node's
//!   neighbours (a diagnostic: what the neighbours' rows know, read without mixing).
//!
//! The distiller does not train for new nodes (no training-time rows are replaced by their
//! neighbours' mean). Rows go to `inductive.jsonl` (resumable: a rerun skips finished
//! (dataset, seed) pairs) and a table to `inductive.md`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device};
use frameless_distiller::data::{self, Dataset, DatasetSource, SplitRates};
use frameless_distiller::distill::{distill, DistillConfig, Targets};
use frameless_distiller::framelet;
use frameless_distiller::progress::Progress;
use frameless_distiller::quantize::{argmax, model_weights, simulate};
use frameless_distiller::student::{StudentConfig, StudentGraph, StudentKind};
use frameless_distiller::teacher::{self, TeacherConfig, TeacherKind};
use frameless_distiller::train::accuracy;
use frameless_engine::writer::{write_blob, ModelWeights, OwnedMetadata};
use frameless_engine::{Model, Precision};
use serde::{Deserialize, Serialize};

use crate::aggregate::Summary;
use crate::ExperimentError;

/// What [`run_inductive`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct InductiveOptions {
    /// Dataset folders.
    pub datasets: Vec<PathBuf>,
    /// Seeds `0..seeds` per dataset.
    pub seeds: usize,
    /// Share of the test nodes held out of training (0 < share < 1).
    pub held_out: f64,
    /// Tiny training budget (5 epochs), for tests.
    pub quick: bool,
    /// Output folder (`inductive.jsonl`, `inductive.md`).
    pub out: PathBuf,
}

/// Accuracies on one seed's held-out nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InductiveRow {
    /// Dataset name.
    pub dataset: String,
    /// Seed of split, hold-out, teachers and students.
    pub seed: u64,
    /// Held-out (new) nodes.
    pub held_out: usize,
    /// Held-out nodes without an edge to a training-graph node.
    pub isolated: usize,
    /// Inductive student, new nodes through `predict_new`, f32 blob.
    pub new_node: f64,
    /// The same through the int8 blob (rows mixed dequantised, in f32).
    pub new_node_int8: f64,
    /// Inductive student with no neighbours (features only).
    pub features_only: f64,
    /// Majority of the inductive student's own-row answers for the node's neighbours
    /// (each with its own features; ties to the lowest class; isolated nodes: features
    /// only): what label propagation from the neighbours' answers would give.
    #[serde(default)]
    pub neighbour_vote: f64,
    /// Student trained on the full graph, own rows.
    pub transductive: f64,
    /// Plain MLP (labels only).
    pub mlp: f64,
    /// Wall time of the seed, seconds.
    pub seconds: f64,
}

fn fail(id: &str, e: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Cell {
        id: id.to_string(),
        message: e.to_string(),
    }
}

/// `d` restricted to the nodes with `keep[i]`, renumbered in order ([`Dataset::induced`]);
/// the new id of each node.
fn induced(d: &Dataset, keep: &[bool]) -> Result<(Dataset, Vec<Option<u32>>), ExperimentError> {
    let kept: Vec<u32> = (0..keep.len() as u32)
        .filter(|&i| keep[i as usize])
        .collect();
    let sub = d.induced(&kept).map_err(|e| fail(&d.name, e))?;
    let mut new_id = vec![None; keep.len()];
    for (r, &i) in kept.iter().enumerate() {
        new_id[i as usize] = Some(r as u32);
    }
    Ok((sub, new_id))
}

/// A deterministic shuffle (SplitMix64 keys) of `v` for `seed`.
fn shuffled(mut v: Vec<u32>, seed: u64) -> Vec<u32> {
    let key = |i: u32| {
        let mut z = (seed ^ 0x1D5E_u64.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_add(u64::from(i).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    v.sort_by_key(|&i| key(i));
    v
}

/// Trains teacher → student (or, with `teacher_kind == None`, a labels-only mlp) on `d`.
fn train(
    d: &Dataset,
    split: &data::Split,
    teacher_kind: Option<TeacherKind>,
    seed: u64,
    quick: bool,
) -> Result<ModelWeights, String> {
    let graph = d.graph().map_err(|e| e.to_string())?;
    let config = TeacherConfig {
        epochs: if quick {
            5
        } else {
            TeacherConfig::default().epochs
        },
        ..TeacherConfig::default()
    };
    let ops = framelet::build(&graph, &config.framelet).map_err(|e| e.to_string())?;
    let sg = StudentGraph::from_framelets(d.features.clone(), &ops).map_err(|e| e.to_string())?;
    let soft;
    let (kind, lambda, log_probs) = match teacher_kind {
        Some(t) => {
            let run = teacher::train(
                &teacher::TeacherData::new(d).map_err(|e| e.to_string())?,
                &ops,
                t,
                &config,
                seed,
                split,
                &Device::Cpu,
                &mut Progress::ignore(),
            )
            .map_err(|e| e.to_string())?;
            soft = run.outcome.log_probs;
            (StudentKind::FmlpS, 0.0, &soft)
        }
        None => {
            soft = vec![0.0; d.n_nodes() * d.n_classes];
            (StudentKind::Mlp, 1.0, &soft)
        }
    };
    let targets = Targets {
        teacher_log_probs: log_probs,
        labels: &d.labels,
        train: &split.train,
        val: &split.val,
        test: &split.test,
    };
    let settings = DistillConfig {
        lambda,
        seed,
        max_epochs: if quick {
            5
        } else {
            DistillConfig::default().max_epochs
        },
        ..DistillConfig::default()
    };
    let cfg = StudentConfig::new(kind);
    let (student, _) = distill(
        &cfg,
        &sg,
        &targets,
        &settings,
        DType::F32,
        &mut Progress::ignore(),
    )
    .map_err(|e| e.to_string())?;
    model_weights(&student, &sg, OwnedMetadata::default()).map_err(|e| e.to_string())
}

/// Accuracy of `weights`' engine blob at `precision` on `nodes` of `full`, each answered by
/// `predict_new` with `neighbours(node)` (ids of `weights`' graph).
fn new_node_accuracy(
    weights: &ModelWeights,
    precision: Precision,
    full: &Dataset,
    nodes: &[u32],
    neighbours: &dyn Fn(u32) -> Vec<u32>,
) -> Result<f64, String> {
    let blob = write_blob(weights, precision).map_err(|e| e.to_string())?;
    let model = Model::from_bytes(&blob).map_err(|e| e.to_string())?;
    let mut scratch = vec![0.0; model.scratch_len()];
    let mut hits = 0usize;
    for &h in nodes {
        let x = full.features.row_features(h as usize);
        let p = model
            .predict_new(x, &neighbours(h), None, &mut scratch)
            .map_err(|e| e.to_string())?;
        hits += usize::from(i64::from(p.class) == full.labels[h as usize]);
    }
    Ok(hits as f64 / nodes.len().max(1) as f64)
}

/// Accuracy on `held` of the majority class among each node's neighbours (ids of `sub`),
/// each answered by `weights`' engine with its own row and features.
fn neighbour_vote(
    weights: &ModelWeights,
    full: &Dataset,
    sub: &Dataset,
    held: &[u32],
    adjacency: &[Vec<u32>],
) -> Result<f64, String> {
    let blob = write_blob(weights, Precision::F32).map_err(|e| e.to_string())?;
    let model = Model::from_bytes(&blob).map_err(|e| e.to_string())?;
    let mut scratch = vec![0.0; model.scratch_len()];
    let mut hits = 0usize;
    for &h in held {
        let mut votes = vec![0usize; full.n_classes];
        for &j in &adjacency[h as usize] {
            let x = sub.features.row_features(j as usize);
            let p = model
                .predict(j, x, &mut scratch)
                .map_err(|e| e.to_string())?;
            votes[p.class as usize] += 1;
        }
        let class = if votes.iter().all(|&v| v == 0) {
            let x = full.features.row_features(h as usize);
            model
                .predict_new(x, &[], None, &mut scratch)
                .map_err(|e| e.to_string())?
                .class as usize
        } else {
            (0..votes.len())
                .rev()
                .max_by_key(|&c| votes[c])
                .unwrap_or(0)
        };
        hits += usize::from(class as i64 == full.labels[h as usize]);
    }
    Ok(hits as f64 / held.len().max(1) as f64)
}

/// Runs the protocol for one dataset and seed.
///
/// # Errors
/// [`ExperimentError::Cell`] naming the dataset and seed.
pub fn run_seed(
    full: &Dataset,
    seed: u64,
    options: &InductiveOptions,
) -> Result<InductiveRow, ExperimentError> {
    let start = Instant::now();
    let id = format!("{} seed {seed}", full.name);
    let split = full.split(seed, SplitRates::default());
    let test = shuffled(split.test.clone(), seed);
    let n_held =
        ((test.len() as f64 * options.held_out).round() as usize).clamp(1, test.len().max(1));
    let mut held: Vec<u32> = test.get(..n_held).unwrap_or(&[]).to_vec();
    held.sort_unstable();
    let mut keep = vec![true; full.n_nodes()];
    for &h in &held {
        keep[h as usize] = false;
    }
    let (sub, new_id) = induced(full, &keep)?;
    let map =
        |ids: &[u32]| -> Vec<u32> { ids.iter().filter_map(|&i| new_id[i as usize]).collect() };
    let sub_split = data::Split {
        train: map(&split.train),
        val: map(&split.val),
        test: map(&split.test),
    };
    let mut adjacency: Vec<Vec<u32>> = vec![Vec::new(); full.n_nodes()];
    for &(a, b) in &full.edges {
        for (x, y) in [(a, b), (b, a)] {
            if let (false, Some(ny)) = (keep[x as usize], new_id[y as usize]) {
                adjacency[x as usize].push(ny);
            }
        }
    }
    for list in &mut adjacency {
        list.sort_unstable();
        list.dedup();
    }
    let isolated = held
        .iter()
        .filter(|&&h| adjacency[h as usize].is_empty())
        .count();
    let neighbours = |h: u32| adjacency[h as usize].clone();
    let quick = options.quick;
    let teacher = Some(TeacherKind::Spatial);
    let inductive = train(&sub, &sub_split, teacher, seed, quick).map_err(|e| fail(&id, e))?;
    let transductive = train(full, &split, teacher, seed, quick).map_err(|e| fail(&id, e))?;
    let mlp = train(&sub, &sub_split, None, seed, quick).map_err(|e| fail(&id, e))?;
    let acc = |w, p, nb: &dyn Fn(u32) -> Vec<u32>| {
        new_node_accuracy(w, p, full, &held, nb).map_err(|e| fail(&id, e))
    };
    let vote =
        neighbour_vote(&inductive, full, &sub, &held, &adjacency).map_err(|e| fail(&id, e))?;
    let (logits, _) = simulate(&transductive, Precision::F32, &full.features);
    let pred = argmax(&logits, full.n_classes);
    Ok(InductiveRow {
        dataset: full.name.clone(),
        seed,
        held_out: held.len(),
        isolated,
        new_node: acc(&inductive, Precision::F32, &neighbours)?,
        new_node_int8: acc(&inductive, Precision::Int8, &neighbours)?,
        features_only: acc(&inductive, Precision::F32, &|_| Vec::new())?,
        neighbour_vote: vote,
        transductive: accuracy(&pred, &full.labels, &held),
        mlp: acc(&mlp, Precision::F32, &|_| Vec::new())?,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExperimentError + '_ {
    move |source| ExperimentError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the rows stored in `path` (none if it does not exist).
///
/// # Errors
/// [`ExperimentError::Io`] or [`ExperimentError::BadResults`].
pub fn load_rows(path: &Path) -> Result<Vec<InductiveRow>, ExperimentError> {
    let text = match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        r => r.map_err(io(path))?,
    };
    let parse = |(i, line): (usize, &str)| {
        serde_json::from_str(line).map_err(|e| ExperimentError::BadResults {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(parse)
        .collect()
}

/// The markdown table: mean ± std (%) per dataset over its seeds.
pub fn table(rows: &[InductiveRow]) -> String {
    let mut out = String::from(
        "| dataset | seeds | held-out nodes | isolated | **new node (f32)** | new node (int8) | features only | neighbour vote | transductive | plain MLP |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut names: Vec<&str> = Vec::new();
    for r in rows {
        if !names.contains(&r.dataset.as_str()) {
            names.push(&r.dataset);
        }
    }
    for name in names {
        let rs: Vec<&InductiveRow> = rows.iter().filter(|r| r.dataset == name).collect();
        let col = |f: fn(&InductiveRow) -> f64| {
            Summary::of(&rs.iter().map(|r| f(r)).collect::<Vec<_>>()).percent()
        };
        let mean = |f: fn(&InductiveRow) -> usize| {
            rs.iter().map(|r| f(r)).sum::<usize>() as f64 / rs.len() as f64
        };
        out += &format!(
            "| {name} | {} | {:.0} | {:.1} | **{}** | {} | {} | {} | {} | {} |\n",
            rs.len(),
            mean(|r| r.held_out),
            mean(|r| r.isolated),
            col(|r| r.new_node),
            col(|r| r.new_node_int8),
            col(|r| r.features_only),
            col(|r| r.neighbour_vote),
            col(|r| r.transductive),
            col(|r| r.mlp),
        );
    }
    out
}

/// Runs every (dataset, seed) not yet in `OUT/inductive.jsonl`, appending each row as it
/// finishes (`on_row` sees it), then writes `OUT/inductive.md`; returns all stored rows.
///
/// # Errors
/// A dataset that does not load, a failed run, or an I/O error.
pub fn run_inductive(
    options: &InductiveOptions,
    on_row: &mut dyn FnMut(&InductiveRow),
) -> Result<Vec<InductiveRow>, ExperimentError> {
    std::fs::create_dir_all(&options.out).map_err(io(&options.out))?;
    let jsonl = options.out.join("inductive.jsonl");
    let mut rows = load_rows(&jsonl)?;
    for dir in &options.datasets {
        let source = DatasetSource::Path(dir.clone());
        let full = data::load(&source).map_err(|e| fail(&dir.display().to_string(), e))?;
        for seed in 0..options.seeds as u64 {
            if rows
                .iter()
                .any(|r| r.dataset == full.name && r.seed == seed)
            {
                continue;
            }
            let row = run_seed(&full, seed, options)?;
            on_row(&row);
            rows.push(row);
            let lines: Vec<String> = rows
                .iter()
                .filter_map(|r| serde_json::to_string(r).ok())
                .collect();
            let text = lines.join("\n") + "\n";
            frameless_distiller::files::write_atomic(&jsonl, text.as_bytes())
                .map_err(io(&jsonl))?;
        }
    }
    let md = options.out.join("inductive.md");
    frameless_distiller::files::write_atomic(&md, table(&rows).as_bytes()).map_err(io(&md))?;
    Ok(rows)
}
