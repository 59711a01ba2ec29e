//! Running cells: prepare each graph once (load, SDRF, framelets), then per cell train the
//! teacher, distill the students, quantise them to int8 and measure the energies.

use std::time::Instant;

use candle_core::{DType, Device};
use frameless_engine::writer::OwnedMetadata;
use frameless_engine::Precision;

use super::energy::normalized_dirichlet_energy;
use super::grid::{Budget, CellSpec, Grid, Shard};
use super::hidden::student_hidden;
use super::record::{CellRecord, StudentResult};
use super::store::ResultStore;
use super::ExperimentError;
use frameless_distiller::data::{self, Dataset, SplitRates};
use frameless_distiller::distill::{distill, DistillConfig, Targets};
use frameless_distiller::framelet::{self, FrameletConfig};
use frameless_distiller::progress::Progress;
use frameless_distiller::quantize::{agreement, argmax, model_weights, simulate};
use frameless_distiller::student::{StudentConfig, StudentGraph};
use frameless_distiller::surgery::{rewire_dataset, SdrfConfig};
use frameless_distiller::teacher::{self, TeacherConfig};
use frameless_distiller::train::accuracy;

/// What the grid runner reports as it goes (the library never prints).
#[derive(Debug, Clone, PartialEq)]
pub enum CellEvent {
    /// A graph was loaded, rewired and decomposed.
    Prepared {
        /// Dataset name.
        dataset: String,
        /// SDRF iterations applied.
        sdrf_iterations: usize,
        /// Seconds it took.
        seconds: f64,
    },
    /// A cell starts (`index` counts from 1 over the cells still to run).
    Started {
        /// Position among the cells to run.
        index: usize,
        /// Cells to run.
        total: usize,
        /// The cell id.
        id: String,
    },
    /// A cell finished and was stored.
    Finished(Box<CellRecord>),
    /// A cell failed; the run goes on.
    Failed {
        /// The cell id.
        id: String,
        /// The error.
        message: String,
    },
}

/// A graph ready for training: the (rewired) dataset and its operators.
struct Prepared {
    key: (String, usize),
    dataset: Dataset,
    operators: framelet::FrameletOperators,
    student_graph: StudentGraph,
    edge_homophily: f64,
    n_edges: usize,
}

fn fail(id: &str, e: impl std::fmt::Display) -> ExperimentError {
    ExperimentError::Cell {
        id: id.to_string(),
        message: e.to_string(),
    }
}

fn prepare(spec: &CellSpec) -> Result<Prepared, ExperimentError> {
    let id = &spec.id;
    let mut dataset = data::load(&spec.source).map_err(|e| fail(id, e))?;
    if spec.sdrf_iterations > 0 {
        let cfg = SdrfConfig {
            iterations: spec.sdrf_iterations,
            ..SdrfConfig::default()
        };
        dataset = rewire_dataset(&dataset, &cfg).map_err(|e| fail(id, e))?.0;
    }
    let graph = dataset.graph().map_err(|e| fail(id, e))?;
    let operators = framelet::build(&graph, &FrameletConfig::default()).map_err(|e| fail(id, e))?;
    let student_graph = StudentGraph::from_framelets(dataset.features.clone(), &operators)
        .map_err(|e| fail(id, e))?;
    Ok(Prepared {
        key: (spec.dataset.clone(), spec.sdrf_iterations),
        edge_homophily: graph.edge_homophily(&dataset.labels),
        n_edges: graph.n_edges(),
        dataset,
        operators,
        student_graph,
    })
}

fn run_cell(
    spec: &CellSpec,
    prep: &Prepared,
    budget: &Budget,
) -> Result<CellRecord, ExperimentError> {
    let start = Instant::now();
    let id = &spec.id;
    let dataset = &prep.dataset;
    let n = dataset.n_nodes();
    let split = dataset.split(spec.seed, SplitRates::default());
    let config = TeacherConfig {
        hidden: budget.hidden,
        layers: spec.depth,
        epochs: budget.teacher_epochs,
        patience: budget.patience,
        ..TeacherConfig::default()
    };
    let run = teacher::train(
        &teacher::TeacherData::new(dataset).map_err(|e| fail(id, e))?,
        &prep.operators,
        spec.teacher,
        &config,
        spec.seed,
        &split,
        &Device::Cpu,
        &mut Progress::ignore(),
    )
    .map_err(|e| fail(id, e))?;
    let teacher_energy =
        normalized_dirichlet_energy(n, &dataset.edges, &run.hidden, run.hidden_dim);
    let targets = Targets {
        teacher_log_probs: &run.outcome.log_probs,
        labels: &dataset.labels,
        train: &split.train,
        val: &split.val,
        test: &split.test,
    };
    let mut students = Vec::new();
    for &kind in &spec.students {
        let mut student_config = StudentConfig::new(kind);
        student_config.hidden = budget.hidden;
        let settings = DistillConfig {
            max_epochs: budget.student_epochs,
            patience: budget.patience,
            seed: spec.seed,
            ..DistillConfig::default()
        };
        let graph = &prep.student_graph;
        let (student, report) = distill(
            &student_config,
            graph,
            &targets,
            &settings,
            DType::F32,
            &mut Progress::ignore(),
        )
        .map_err(|e| fail(id, e))?;
        let metadata = OwnedMetadata {
            dataset: dataset.name.clone(),
            ..OwnedMetadata::default()
        };
        let weights = model_weights(&student, graph, metadata).map_err(|e| fail(id, e))?;
        let c = dataset.n_classes;
        let (f32_logits, _) = simulate(&weights, Precision::F32, &dataset.features);
        let (int8_logits, _) = simulate(&weights, Precision::Int8, &dataset.features);
        let (pred32, pred8) = (argmax(&f32_logits, c), argmax(&int8_logits, c));
        let (hidden, dim) = student_hidden(&student, graph).map_err(|e| fail(id, e))?;
        students.push(StudentResult {
            kind: kind.to_string(),
            accuracy: report.test_accuracy,
            accuracy_int8: Some(accuracy(&pred8, &dataset.labels, &split.test)),
            agreement_int8: Some(agreement(&pred8, &pred32)),
            mean_gates: report.mean_gates.clone(),
            energy: Some(normalized_dirichlet_energy(n, &dataset.edges, &hidden, dim)),
            epochs: report.epochs,
        });
    }
    Ok(CellRecord {
        id: spec.id.clone(),
        section: spec.section,
        family: spec.family.clone(),
        dataset: spec.dataset.clone(),
        homophily: spec.homophily,
        edge_homophily: prep.edge_homophily,
        teacher: spec.teacher.to_string(),
        depth: spec.depth,
        sdrf_iterations: spec.sdrf_iterations,
        seed: spec.seed,
        n_nodes: n,
        n_edges: prep.n_edges,
        teacher_accuracy: run.outcome.test_accuracy,
        teacher_epochs: run.outcome.epochs,
        teacher_energy: Some(teacher_energy),
        students,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Runs every cell of `shard` of `grid` not yet in `store`, appending each as it finishes.
/// A failing cell is reported through `on_event` and skipped; returns how many failed.
///
/// # Errors
/// [`ExperimentError::Io`] if the store cannot be written (training errors do not abort).
pub fn run_grid(
    grid: &Grid,
    store: &mut ResultStore,
    shard: Shard,
    on_event: &mut dyn FnMut(&CellEvent),
) -> Result<usize, ExperimentError> {
    let todo: Vec<&CellSpec> = grid
        .cells
        .iter()
        .enumerate()
        .filter(|(position, c)| shard.holds(*position) && !store.contains(&c.id))
        .map(|(_, c)| c)
        .collect();
    // Every prepared graph is kept (cells are seed-major, so each graph recurs once per
    // seed); the largest preset holds a few hundred MB.
    let mut prepared: Vec<Prepared> = Vec::new();
    let mut failures = 0;
    for (i, spec) in todo.iter().enumerate() {
        on_event(&CellEvent::Started {
            index: i + 1,
            total: todo.len(),
            id: spec.id.clone(),
        });
        let key = (spec.dataset.clone(), spec.sdrf_iterations);
        if !prepared.iter().any(|p| p.key == key) {
            let t0 = Instant::now();
            match prepare(spec) {
                Ok(p) => {
                    on_event(&CellEvent::Prepared {
                        dataset: spec.dataset.clone(),
                        sdrf_iterations: spec.sdrf_iterations,
                        seconds: t0.elapsed().as_secs_f64(),
                    });
                    prepared.push(p);
                }
                Err(e) => {
                    failures += 1;
                    on_event(&CellEvent::Failed {
                        id: spec.id.clone(),
                        message: e.to_string(),
                    });
                    continue;
                }
            }
        }
        let Some(prep) = prepared.iter().find(|p| p.key == key) else {
            continue;
        };
        match run_cell(spec, prep, &grid.budget) {
            Ok(record) => {
                store.append(record.clone())?;
                on_event(&CellEvent::Finished(Box::new(record)));
            }
            Err(e) => {
                failures += 1;
                on_event(&CellEvent::Failed {
                    id: spec.id.clone(),
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(failures)
}
