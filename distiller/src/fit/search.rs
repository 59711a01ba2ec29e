//! The search itself: teachers, coarse students, refinements, then the choice and only
//! then the test scores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use candle_core::DType;
use frameless_engine::writer::OwnedMetadata;
use frameless_engine::Precision;

use super::workers;
use super::{
    Candidate, Chosen, FitError, FitEvent, FitOutcome, FitReport, FitSettings, Percent, Recipe,
    SeedChoice, Stage, Trial, Verdict,
};
use crate::data::{Dataset, Split};
use crate::distill::{distill, Targets};
use crate::export::artifact::{RunInfo, TeacherSource};
use crate::framelet;
use crate::progress::Progress;
use crate::quantize::{argmax, model_weights, simulate};
use crate::student::{Mode, Student, StudentGraph, StudentKind};
use crate::teacher::{self, TeacherKind};
use crate::train::accuracy;

/// What every trial shares: the data, its operators and the blind splits.
struct Shared<'a> {
    dataset: &'a Dataset,
    /// The dataset as every teacher task reads it (one copy of the features for all).
    teacher_data: teacher::TeacherData,
    operators: framelet::FrameletOperators,
    /// The student graph of every framelet setting a recipe asks for (the search's first).
    graphs: Vec<(framelet::FrameletConfig, StudentGraph)>,
    settings: &'a FitSettings,
    /// Each seed's split with an empty test part: what training sees.
    blind: Vec<Split>,
    /// `−ln C` everywhere: the "teacher" of labels-only students (its KL weight is 0).
    uniform: Vec<f32>,
}

impl Shared<'_> {
    /// The student graph of `recipe`'s framelet setting (built up front by [`fit`]).
    fn graph_of(&self, recipe: &Recipe) -> Result<&StudentGraph, FitError> {
        let config = recipe.framelet(&self.settings.teacher.framelet);
        self.graphs
            .iter()
            .find(|(c, _)| *c == config)
            .map(|(_, g)| g)
            .ok_or_else(|| FitError::Worker(format!("no student graph for {recipe}")))
    }
}

/// A finished trial before its test score: predictions on the test nodes, no labels.
struct Outcome {
    trial: Trial,
    test_predictions: Vec<u32>,
}

/// Ranking key: higher validation accuracy, then lower validation loss, then the
/// candidate planned first (so the choice does not depend on which worker finished first).
#[derive(Clone, Copy, PartialEq)]
struct Rank {
    val_accuracy: f64,
    val_loss: f64,
    order: usize,
}

impl Rank {
    fn of(trial: &Trial, order: usize) -> Self {
        Self {
            val_accuracy: trial.val_accuracy,
            val_loss: trial.val_loss,
            order,
        }
    }

    fn beats(&self, other: &Rank) -> bool {
        (
            self.val_accuracy,
            -self.val_loss,
            std::cmp::Reverse(self.order),
        )
            .partial_cmp(&(
                other.val_accuracy,
                -other.val_loss,
                std::cmp::Reverse(other.order),
            ))
            .is_some_and(|o| o == std::cmp::Ordering::Greater)
    }
}

/// The best student of one seed so far.
struct Best {
    rank: Rank,
    recipe: Recipe,
    student: Student,
    report: crate::distill::DistillReport,
}

/// A student task: seed position, recipe, stage and planning order.
struct StudentTask {
    seed: usize,
    recipe: Recipe,
    stage: Stage,
    order: usize,
    /// Whether it may be chosen (the baseline of a fixed-recipe run may not).
    eligible: bool,
}

/// Mean NLL of `log_probs` (`N × C`) on `nodes`.
fn mean_nll(log_probs: &[f32], c: usize, labels: &[i64], nodes: &[u32]) -> f64 {
    let total: f64 = nodes
        .iter()
        .filter_map(|&i| {
            let y = usize::try_from(*labels.get(i as usize)?).ok()?;
            log_probs.get(i as usize * c + y).map(|&v| -f64::from(v))
        })
        .sum();
    total / nodes.len().max(1) as f64
}

fn pick(predictions: &[u32], nodes: &[u32]) -> Vec<u32> {
    nodes
        .iter()
        .map(|&i| predictions.get(i as usize).copied().unwrap_or(u32::MAX))
        .collect()
}

/// Accuracy of predictions kept for `nodes` (in the same order).
fn scored(predictions: &[u32], labels: &[i64], nodes: &[u32]) -> f64 {
    let hits = nodes
        .iter()
        .zip(predictions)
        .filter(|(&i, &p)| labels.get(i as usize) == Some(&i64::from(p)))
        .count();
    hits as f64 / nodes.len().max(1) as f64
}

fn log_softmax_rows(logits: &[f32], c: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(c.max(1)) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let z = row.iter().map(|&v| (v - m).exp()).sum::<f32>().ln() + m;
        out.extend(row.iter().map(|&v| v - z));
    }
    out
}

/// The initialisation seed of ensemble member `member` of `seed` (member 0 is `seed`).
fn member_seed(seed: u64, member: usize) -> u64 {
    seed.wrapping_add((member as u64) << 32)
}

/// One teacher task: seed position, kind and ensemble member.
type TeacherTask = (usize, TeacherKind, usize);

/// An ensemble: seed position, kind and number of members.
type EnsembleKey = (usize, TeacherKind, usize);

/// A teacher run or ensemble: its trial and its log-probabilities (`N × C`).
type TeacherResult = (Outcome, Vec<f32>);

fn train_teacher(
    shared: &Shared,
    (seed_pos, kind, member): TeacherTask,
) -> Result<TeacherResult, FitError> {
    let t0 = Instant::now();
    let s = shared.settings;
    let seed = s.seeds[seed_pos];
    let run = teacher::train(
        &shared.teacher_data,
        &shared.operators,
        kind,
        &s.teacher,
        member_seed(seed, member),
        &shared.blind[seed_pos],
        &s.device,
        &mut Progress::ignore(),
    )?;
    let c = shared.dataset.n_classes;
    let labels = &shared.dataset.labels;
    let val = &shared.blind[seed_pos].val;
    let trial = Trial {
        seed,
        stage: Stage::Teacher,
        candidate: Candidate::Teacher(kind),
        val_accuracy: run.outcome.val_accuracy,
        val_loss: mean_nll(&run.outcome.log_probs, c, labels, val),
        test_accuracy: 0.0,
        epochs: run.outcome.epochs,
        seconds: t0.elapsed().as_secs_f64(),
    };
    let test_predictions = pick(&run.outcome.predictions(), &s.splits[seed_pos].test);
    Ok((
        Outcome {
            trial,
            test_predictions,
        },
        run.outcome.log_probs,
    ))
}

/// The ensemble of `members` (log-probabilities, `N × C` each): the log of the mean
/// probability, as one [`Trial`] scored on the seed's validation nodes.
fn ensemble(
    shared: &Shared,
    seed_pos: usize,
    kind: TeacherKind,
    members: &[(&Outcome, &[f32])],
) -> TeacherResult {
    let c = shared.dataset.n_classes;
    let mut mean = vec![0f64; members.first().map_or(0, |m| m.1.len())];
    for (_, lp) in members {
        for (m, &v) in mean.iter_mut().zip(lp.iter()) {
            *m += f64::from(v).exp();
        }
    }
    let k = members.len().max(1) as f64;
    let log_probs: Vec<f32> = mean.iter().map(|m| (m / k).ln() as f32).collect();
    let predictions = argmax(&log_probs, c);
    let (labels, val) = (&shared.dataset.labels, &shared.blind[seed_pos].val);
    let trial = Trial {
        seed: shared.settings.seeds[seed_pos],
        stage: Stage::Teacher,
        candidate: Candidate::Ensemble {
            kind,
            members: members.len(),
        },
        val_accuracy: accuracy(&predictions, labels, val),
        val_loss: mean_nll(&log_probs, c, labels, val),
        test_accuracy: 0.0,
        epochs: members.iter().map(|m| m.0.trial.epochs).sum(),
        seconds: members.iter().map(|m| m.0.trial.seconds).sum(),
    };
    let test_predictions = pick(&predictions, &shared.settings.splits[seed_pos].test);
    (
        Outcome {
            trial,
            test_predictions,
        },
        log_probs,
    )
}

fn train_student(
    shared: &Shared,
    task: &StudentTask,
    teacher_log_probs: &[f32],
    best: &[Mutex<Option<Best>>],
) -> Result<Outcome, FitError> {
    let t0 = Instant::now();
    let s = shared.settings;
    let seed = s.seeds[task.seed];
    let blind = &shared.blind[task.seed];
    let labels = &shared.dataset.labels;
    let targets = Targets {
        teacher_log_probs,
        labels,
        train: &blind.train,
        val: &blind.val,
        test: &blind.test,
    };
    let settings = task.recipe.distill_config(&s.budget, seed);
    let graph = shared.graph_of(&task.recipe)?;
    let (student, report) = distill(
        &task.recipe.student,
        graph,
        &targets,
        &settings,
        DType::F32,
        &mut Progress::ignore(),
    )?;
    let logits: Vec<f32> = student
        .forward(graph, Mode::Eval)?
        .logits
        .flatten_all()?
        .to_vec1()?;
    let c = shared.dataset.n_classes;
    let val_loss = mean_nll(&log_softmax_rows(&logits, c), c, labels, &blind.val);
    let rank = Rank {
        val_accuracy: report.val_accuracy,
        val_loss,
        order: task.order,
    };
    if task.eligible {
        if let Some(slot) = best.get(task.seed) {
            let mut slot = slot
                .lock()
                .map_err(|_| FitError::Worker("a worker panicked".into()))?;
            if slot.as_ref().is_none_or(|b| rank.beats(&b.rank)) {
                *slot = Some(Best {
                    rank,
                    recipe: task.recipe,
                    student,
                    report: report.clone(),
                });
            }
        }
    }
    let trial = Trial {
        seed,
        stage: task.stage,
        candidate: Candidate::Student(task.recipe),
        val_accuracy: report.val_accuracy,
        val_loss,
        test_accuracy: 0.0,
        epochs: report.epochs,
        seconds: t0.elapsed().as_secs_f64(),
    };
    let test_predictions = pick(&argmax(&logits, c), &s.splits[task.seed].test);
    Ok(Outcome {
        trial,
        test_predictions,
    })
}

/// The coarse recipes of one seed taught by `teacher`.
pub(super) fn coarse(teacher: Option<TeacherKind>, members: usize) -> Vec<Recipe> {
    let kinds = [StudentKind::Mlp, StudentKind::FmlpS, StudentKind::FmlpO];
    let mut out = Vec::new();
    for kind in kinds {
        out.push(Recipe::labels_only(kind));
        if let Some(t) = teacher {
            for lambda in [0.5, 0.0] {
                out.push(Recipe {
                    teacher_members: members,
                    ..Recipe::distilled(kind, t, lambda)
                });
            }
        }
    }
    out
}

/// The refinements of one good recipe: one change each.
pub(super) fn refinements(r: &Recipe) -> Vec<Recipe> {
    let mut out = Vec::new();
    let mut wider = *r;
    wider.student.hidden *= 2;
    out.push(wider);
    let mut dropout = *r;
    dropout.student.dropout = if r.student.dropout >= 0.3 { 0.1 } else { 0.5 };
    out.push(dropout);
    for factor in [10.0, 0.1] {
        let mut decay = *r;
        decay.weight_decay *= factor;
        out.push(decay);
    }
    if r.teacher.is_some() {
        let mut hot = *r;
        hot.tau = 2.0;
        out.push(hot);
    }
    if r.student.kind == StudentKind::FmlpO {
        let mut deeper = *r;
        deeper.student.stages += 1;
        out.push(deeper);
    }
    if r.student.kind != StudentKind::Mlp {
        // The bands themselves: one more framelet level, and the energy perturbation.
        if r.levels.is_none() {
            out.push(Recipe {
                levels: Some(2),
                ..*r
            });
        }
        if r.epsilon.is_none() {
            out.push(Recipe {
                epsilon: Some(PERTURBATION),
                ..*r
            });
        }
    }
    out
}

/// The `ε` of the perturbed-band refinement: `Â_b = Â ∓ ε·D̃^{-1}`, the low pass's self
/// loops weakened and the high passes' strengthened by half a self loop.
const PERTURBATION: f32 = 0.5;

fn check(dataset: &Dataset, s: &FitSettings) -> Result<(), FitError> {
    if s.seeds.is_empty() || s.splits.len() != s.seeds.len() {
        return Err(FitError::Settings(format!(
            "{} seeds but {} splits (need at least one seed, one split each)",
            s.seeds.len(),
            s.splits.len()
        )));
    }
    if s.recipes.is_none() && s.teachers.is_empty() {
        return Err(FitError::Settings("no teacher kind to try".into()));
    }
    if s.recipes.as_ref().is_some_and(Vec::is_empty) {
        return Err(FitError::Settings("an empty recipe list".into()));
    }
    let n = dataset.n_nodes();
    for split in &s.splits {
        if let Some((part, node)) = crate::data::first_node_out_of_range(split.parts(), n) {
            return Err(FitError::Settings(format!(
                "{part} node {node} is outside the {n}-node dataset"
            )));
        }
    }
    Ok(())
}

/// Runs the search of `settings` on `dataset` and returns its report and the first seed's
/// chosen student. `on_event` hears every finished trial (from worker threads).
///
/// # Errors
/// [`FitError::Settings`] for inconsistent settings; any training error of a trial.
pub fn fit(
    dataset: &Dataset,
    settings: &FitSettings,
    on_event: &(dyn Fn(&FitEvent) + Sync),
) -> Result<FitOutcome, FitError> {
    let start = Instant::now();
    check(dataset, settings)?;
    settings
        .memory(&crate::memory::Shape::of(dataset))
        .check_here(&dataset.name)?;
    let graph = dataset.graph().map_err(framelet::FrameletError::from)?;
    let base = &settings.teacher.framelet;
    let operators = framelet::build(&graph, base)?;
    let student_graph = StudentGraph::from_framelets(dataset.features.clone(), &operators)?
        .on(settings.device.clone());
    // Every other framelet setting a recipe may ask for: the refinements' or the list's.
    let mut graphs = vec![(base.clone(), student_graph)];
    for r in &settings.possible_recipes() {
        let config = r.framelet(base);
        if !graphs.iter().any(|(c, _)| *c == config) {
            let ops = framelet::build(&graph, &config)?;
            let g = StudentGraph::from_framelets(dataset.features.clone(), &ops)?
                .on(settings.device.clone());
            graphs.push((config, g));
        }
    }
    let (n, c) = (dataset.n_nodes(), dataset.n_classes);
    let shared = Shared {
        dataset,
        teacher_data: teacher::TeacherData::new(dataset)?,
        graphs,
        operators,
        settings,
        blind: settings
            .splits
            .iter()
            .map(|s| Split {
                train: s.train.clone(),
                val: s.val.clone(),
                test: Vec::new(),
            })
            .collect(),
        uniform: vec![-(c.max(1) as f32).ln(); n * c],
    };
    let n_seeds = settings.seeds.len();
    let done = AtomicUsize::new(0);
    let planned = AtomicUsize::new(0);
    let best_val: Mutex<Vec<f64>> = Mutex::new(vec![0.0; n_seeds]);
    let notify = |seed: usize, trial: &Trial| {
        let mean_best = best_val.lock().map_or(0.0, |mut b| {
            if trial.stage != Stage::Teacher {
                if let Some(v) = b.get_mut(seed) {
                    *v = v.max(trial.val_accuracy);
                }
            }
            b.iter().sum::<f64>() / b.len().max(1) as f64
        });
        on_event(&FitEvent::Trial {
            done: done.fetch_add(1, Ordering::Relaxed) + 1,
            planned: planned.load(Ordering::Relaxed),
            best_val_accuracy: mean_best,
            label: format!("seed {} {}", trial.seed, trial.candidate),
        });
    };
    let seed_pos = |seed: u64| settings.seeds.iter().position(|&s| s == seed).unwrap_or(0);

    // 1. Teachers: every kind the search or the fixed recipes need, then the extra
    //    ensemble members of each seed's best kind (or of the recipes' kinds).
    let kinds: Vec<TeacherKind> = match &settings.recipes {
        None => settings.teachers.clone(),
        Some(list) => {
            let mut k: Vec<TeacherKind> = Vec::new();
            for t in list.iter().filter_map(|r| r.teacher) {
                if !k.contains(&t) {
                    k.push(t);
                }
            }
            k
        }
    };
    let mut teacher_tasks: Vec<TeacherTask> = (0..n_seeds)
        .flat_map(|s| kinds.iter().map(move |&k| (s, k, 0)))
        .collect();
    let run_teachers = |tasks: &[TeacherTask]| {
        planned.fetch_add(tasks.len(), Ordering::Relaxed);
        workers::map(
            tasks,
            settings.jobs,
            &|&task| train_teacher(&shared, task),
            &|(o, _): &TeacherResult| notify(seed_pos(o.trial.seed), &o.trial),
        )
    };
    let mut teachers = run_teachers(&teacher_tasks)?;
    let best_teacher: Vec<Option<TeacherKind>> = (0..n_seeds)
        .map(|s| {
            let of_seed = teacher_tasks.iter().zip(&teachers).enumerate();
            let mut best: Option<(Rank, TeacherKind)> = None;
            for (i, (&(_, kind, _), (o, _))) in of_seed.filter(|(_, (t, _))| t.0 == s) {
                let rank = Rank::of(&o.trial, i);
                if best.is_none_or(|(b, _)| rank.beats(&b)) {
                    best = Some((rank, kind));
                }
            }
            best.map(|(_, kind)| kind)
        })
        .collect();
    let mut ensembles_of: Vec<EnsembleKey> = Vec::new();
    for (s, best) in best_teacher.iter().enumerate() {
        match &settings.recipes {
            None => ensembles_of.extend(best.map(|k| (s, k, settings.teacher_members))),
            Some(list) => {
                for r in list {
                    if let Some(k) = r.teacher {
                        if !ensembles_of.contains(&(s, k, r.teacher_members)) {
                            ensembles_of.push((s, k, r.teacher_members));
                        }
                    }
                }
            }
        }
    }
    ensembles_of.retain(|e| e.2 > 1);
    let members: Vec<TeacherTask> = ensembles_of
        .iter()
        .flat_map(|&(s, k, m)| (1..m).map(move |member| (s, k, member)))
        .filter(|t| !teacher_tasks.contains(t))
        .collect();
    teachers.extend(run_teachers(&members)?);
    teacher_tasks.extend(members);
    let ensembles: Vec<(EnsembleKey, TeacherResult)> = ensembles_of
        .iter()
        .map(|&(s, kind, m)| {
            let runs: Vec<(&Outcome, &[f32])> = (0..m)
                .filter_map(|member| {
                    let i = teacher_tasks.iter().position(|&t| t == (s, kind, member))?;
                    teachers.get(i).map(|(o, lp)| (o, &lp[..]))
                })
                .collect();
            ((s, kind, m), ensemble(&shared, s, kind, &runs))
        })
        .collect();
    let teacher_of = |seed: usize, kind: TeacherKind, members: usize| -> &[f32] {
        if members > 1 {
            return ensembles
                .iter()
                .find(|(key, _)| *key == (seed, kind, members))
                .map_or(&shared.uniform[..], |(_, (_, lp))| &lp[..]);
        }
        teacher_tasks
            .iter()
            .position(|&t| t == (seed, kind, 0))
            .and_then(|i| teachers.get(i))
            .map_or(&shared.uniform[..], |(_, lp)| &lp[..])
    };

    // 2. Coarse students (or the fixed recipes plus the plain-MLP baseline).
    let best: Vec<Mutex<Option<Best>>> = (0..n_seeds).map(|_| Mutex::new(None)).collect();
    let mut order = 0;
    let mut plan = |seed: usize, recipe: Recipe, stage: Stage, eligible: bool| {
        order += 1;
        StudentTask {
            seed,
            recipe,
            stage,
            order,
            eligible,
        }
    };
    let mut tasks = Vec::new();
    for (s, &teacher) in best_teacher.iter().enumerate() {
        match &settings.recipes {
            None => {
                for r in coarse(teacher, settings.teacher_members) {
                    tasks.push(plan(s, r, Stage::Coarse, true));
                }
            }
            Some(list) => {
                for r in list {
                    tasks.push(plan(s, *r, Stage::Coarse, true));
                }
                if !list.contains(&Recipe::plain_mlp()) {
                    tasks.push(plan(s, Recipe::plain_mlp(), Stage::Refine, false));
                }
            }
        }
    }
    let run_students = |tasks: &[StudentTask]| {
        planned.fetch_add(tasks.len(), Ordering::Relaxed);
        workers::map(
            tasks,
            settings.jobs,
            &|t: &StudentTask| {
                let teacher = t.recipe.teacher.map_or(&shared.uniform[..], |k| {
                    teacher_of(t.seed, k, t.recipe.teacher_members)
                });
                train_student(&shared, t, teacher, &best)
            },
            &|o: &Outcome| notify(seed_pos(o.trial.seed), &o.trial),
        )
    };
    let mut outcomes = run_students(&tasks)?;

    // 3. Refinements of each seed's best coarse recipes.
    if settings.recipes.is_none() {
        let mut refine = Vec::new();
        for s in 0..n_seeds {
            let mut ranked: Vec<(Rank, Recipe)> = tasks
                .iter()
                .zip(&outcomes)
                .filter(|(t, _)| t.seed == s)
                .map(|(t, o)| (Rank::of(&o.trial, t.order), t.recipe))
                .collect();
            // Best first (`beats` is a strict order: `order` breaks every tie).
            ranked.sort_by(|a, b| {
                if a.0.beats(&b.0) {
                    std::cmp::Ordering::Less
                } else {
                    std::cmp::Ordering::Greater
                }
            });
            let mut tried: Vec<Recipe> = ranked.iter().map(|(_, r)| *r).collect();
            for (_, r) in ranked.iter().take(settings.refine_top) {
                for v in refinements(r) {
                    if !tried.contains(&v) {
                        tried.push(v);
                        refine.push(plan(s, v, Stage::Refine, true));
                    }
                }
            }
        }
        outcomes.extend(run_students(&refine)?);
        tasks.extend(refine);
    }

    // 4. The choice is made; only now are test labels read.
    let labels = &dataset.labels;
    let mut trials = Vec::new();
    let member_zero = teacher_tasks
        .iter()
        .zip(&teachers)
        .filter(|(t, _)| t.2 == 0);
    let ensemble_runs = ensembles.iter().map(|(_, (o, _))| o);
    let teacher_outcomes = member_zero.map(|(_, (o, _))| o).chain(ensemble_runs);
    for o in teacher_outcomes.chain(&outcomes) {
        let mut t = o.trial.clone();
        t.test_accuracy = scored(
            &o.test_predictions,
            labels,
            &settings.splits[seed_pos(t.seed)].test,
        );
        trials.push(t);
    }
    let mut choices = Vec::new();
    let mut chosen = None;
    for (s, slot) in best.into_iter().enumerate() {
        let best = slot
            .into_inner()
            .map_err(|_| FitError::Worker("a worker panicked".into()))?
            .ok_or_else(|| FitError::Worker("a seed has no student".into()))?;
        let seed = settings.seeds[s];
        let test = &settings.splits[s].test;
        let test_of = |candidate: &Candidate| {
            trials
                .iter()
                .find(|t| t.seed == seed && &t.candidate == candidate)
                .map_or(0.0, |t| t.test_accuracy)
        };
        let metadata = OwnedMetadata {
            dataset: dataset.name.clone(),
            ..OwnedMetadata::default()
        };
        let student_graph = shared.graph_of(&best.recipe)?;
        let weights = model_weights(&best.student, student_graph, metadata)?;
        let (int8_logits, _) = simulate(&weights, Precision::Int8, &dataset.features);
        let test_accuracy = test_of(&Candidate::Student(best.recipe));
        let teacher = best_teacher[s].map(|k| (k, test_of(&Candidate::Teacher(k))));
        choices.push(SeedChoice {
            seed,
            recipe: best.recipe,
            val_accuracy: best.rank.val_accuracy,
            test_accuracy,
            int8_test_accuracy: accuracy(&argmax(&int8_logits, c), labels, test),
            teacher,
            plain_mlp_test_accuracy: test_of(&Candidate::Student(Recipe::plain_mlp())),
        });
        if s == 0 {
            let logits: Vec<f32> = best
                .student
                .forward(student_graph, Mode::Eval)?
                .logits
                .flatten_all()?
                .to_vec1()?;
            let mut weights = weights;
            weights.metadata.test_accuracy = Some(test_accuracy as f32);
            let mut report = best.report;
            report.test_accuracy = test_accuracy;
            let info = RunInfo {
                config: best.recipe.student,
                distill: best.recipe.distill_config(&settings.budget, seed),
                report,
                teacher_test_accuracy: teacher.map(|(_, acc)| acc),
                teacher: best.recipe.teacher.map(|kind| TeacherSource {
                    kind,
                    members: best.recipe.teacher_members,
                }),
                framelet: Some(best.recipe.framelet(base)),
            };
            chosen = Some(Chosen {
                weights,
                logits,
                info,
                recipe: best.recipe,
            });
        }
    }
    let chosen = chosen.ok_or_else(|| FitError::Worker("no seed was fitted".into()))?;
    let fit = Percent::of(choices.iter().map(|c| c.test_accuracy));
    let plain_mlp = Percent::of(choices.iter().map(|c| c.plain_mlp_test_accuracy));
    let graph_free = choices.iter().filter(|c| !c.recipe.uses_graph()).count();
    let verdict = if 2 * graph_free > choices.len() {
        Verdict::GraphDidNotHelp
    } else if fit.mean > plain_mlp.mean {
        Verdict::GraphHelped
    } else {
        Verdict::WorseThanMlp
    };
    Ok(FitOutcome {
        report: FitReport {
            dataset: dataset.name.clone(),
            dims: [n, dataset.n_features, c],
            trials,
            fit,
            fit_int8: Percent::of(choices.iter().map(|c| c.int8_test_accuracy)),
            plain_mlp,
            teacher: Percent::of(choices.iter().filter_map(|c| c.teacher.map(|t| t.1))),
            choices,
            verdict,
            seconds: start.elapsed().as_secs_f64(),
        },
        chosen,
    })
}
