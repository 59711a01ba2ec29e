use super::*;
use crate::data::{self, DatasetSource};

fn small() -> (Dataset, FitSettings) {
    let source: DatasetSource = "synthetic:nodes=240,classes=3,features=24,homophily=0.3"
        .parse()
        .unwrap();
    let dataset = data::load(&source).unwrap();
    let mut settings = FitSettings::new(&dataset, vec![0, 1], data::SplitRates::default(), 2);
    settings.teachers = vec![TeacherKind::Spatial, TeacherKind::Simplified];
    settings.teacher.epochs = 25;
    settings.teacher.patience = 5;
    settings.budget = Budget {
        max_epochs: 25,
        patience: 5,
    };
    settings.refine_top = 1;
    settings.teacher_members = 2;
    // 48 validation nodes would ask for five partitions; each test says how many it needs.
    assert_eq!(settings.val_partitions, 5);
    settings.val_partitions = 1;
    (dataset, settings)
}

/// The best validation accuracy of any student trial.
fn best_student_val(r: &FitReport) -> f64 {
    r.trials
        .iter()
        .filter(|t| t.stage != Stage::Teacher)
        .map(|t| t.val_accuracy)
        .fold(0.0, f64::max)
}

/// [`small`] with its first seed only, one teacher of `kind` and `refine_top`.
fn one_seed(kind: TeacherKind, refine_top: usize) -> (Dataset, FitSettings) {
    let (dataset, mut settings) = small();
    settings.seeds.truncate(1);
    settings.splits.truncate(1);
    settings.teachers = vec![kind];
    settings.teacher_members = 1;
    settings.refine_top = refine_top;
    (dataset, settings)
}

/// On two validation partitions too: the dealt-again partitions come from the training
/// and validation nodes alone.
#[test]
fn choice_ignores_test_labels() {
    let (dataset, mut settings) = small();
    settings.val_partitions = 2;
    let clean = fit(&dataset, &settings, &|_| {}).unwrap().report;

    // Poison the labels of nodes that are test nodes in every seed's split (a test node
    // of one seed may train another): the choice must not move, the test scores must.
    let mut poisoned = dataset.clone();
    let everywhere: Vec<u32> = settings.splits[0]
        .test
        .iter()
        .copied()
        .filter(|i| settings.splits.iter().all(|s| s.test.contains(i)))
        .collect();
    assert!(everywhere.len() > 20, "too few shared test nodes to poison");
    let c = dataset.n_classes as i64;
    for &i in &everywhere {
        let y = &mut poisoned.labels[i as usize];
        *y = (*y + 1) % c;
    }
    let mut one_worker = settings.clone();
    one_worker.jobs = 1;
    let dirty = fit(&poisoned, &one_worker, &|_| {}).unwrap().report;

    let recipes = |r: &FitReport| r.choices.iter().map(|c| c.recipe).collect::<Vec<_>>();
    assert_eq!(recipes(&clean), recipes(&dirty));
    let vals = |r: &FitReport| r.trials.iter().map(|t| t.val_accuracy).collect::<Vec<_>>();
    assert_eq!(
        vals(&clean),
        vals(&dirty),
        "validation must not see test labels"
    );
    assert_ne!(
        clean.fit, dirty.fit,
        "test accuracy must be scored on the test labels"
    );
}

#[test]
fn plain_mlp_is_a_candidate_and_the_baseline() {
    let (dataset, mut settings) = small();
    settings.seeds.truncate(1);
    settings.splits.truncate(1);
    let events = std::sync::Mutex::new(0usize);
    let outcome = fit(&dataset, &settings, &|_| *events.lock().unwrap() += 1).unwrap();
    let r = &outcome.report;
    let mlp = Candidate::Student(Recipe::plain_mlp());
    let baseline = r.trials.iter().find(|t| t.candidate == mlp).unwrap();
    assert_eq!(r.plain_mlp.mean, 100.0 * baseline.test_accuracy);
    // The chosen recipe is the best student on validation.
    assert_eq!(r.choices[0].val_accuracy, best_student_val(r));
    assert_eq!(
        *events.lock().unwrap(),
        r.trials.len() + 1,
        "every trial and the chosen student once more"
    );
    assert_eq!(outcome.chosen.recipe, r.choices[0].recipe);
    assert_eq!(
        outcome.chosen.logits.len(),
        dataset.n_nodes() * dataset.n_classes
    );
}

#[test]
fn bad_settings_are_refused() {
    let (dataset, mut settings) = small();
    settings.splits.pop();
    assert!(matches!(
        fit(&dataset, &settings, &|_| {}),
        Err(FitError::Settings(_))
    ));
    let (dataset, mut settings) = small();
    settings.recipes = Some(Vec::new());
    assert!(matches!(
        fit(&dataset, &settings, &|_| {}),
        Err(FitError::Settings(_))
    ));
}

/// The memory check counts `jobs` trials at once: a shape one trial of which fits (as
/// does the single-teacher check `fit` used before) is refused with eight, naming --jobs.
#[test]
fn memory_counts_every_trial_alive_at_once() {
    use crate::memory::{Available, Estimate, Shape, Stage as MemoryStage};
    let shape = Shape::synthetic(&crate::data::SyntheticConfig {
        nodes: 100_000,
        ..Default::default()
    });
    let seeds: Vec<u64> = (0..10).collect();
    let one = FitSettings::unsplit(seeds.clone(), 1).memory(&shape);
    let eight = FitSettings::unsplit(seeds, 8).memory(&shape);
    let trials = |e: &Estimate| {
        e.stages
            .iter()
            .find_map(|(s, b)| matches!(s, MemoryStage::Trials { .. }).then_some(*b))
            .unwrap()
    };
    assert_eq!(trials(&eight), 8 * trials(&one));
    // 10 seeds × (4 kinds + 3 ensemble members) log-probability tables and the uniform.
    let soft = one
        .stages
        .iter()
        .find(|(s, _)| *s == MemoryStage::SoftLabels);
    assert_eq!(soft.unwrap().1, 71 * 100_000 * 5 * 4);
    let midway = Available {
        bytes: (one.peak() + eight.peak()) / 2,
        limit: "MemAvailable",
    };
    let single_teacher = Estimate::teacher(&shape, &TeacherConfig::default());
    assert!(single_teacher.check("x", Some(midway)).is_ok());
    assert!(one.check("x", Some(midway)).is_ok());
    let e = eight.check("big", Some(midway)).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("too large") && text.contains("8 trials at once (--jobs 8)"),
        "{text}"
    );
    assert_eq!(FitError::from(e).blame(), Blame::Input);
}

/// With several validation partitions every candidate is ranked on its mean validation
/// accuracy over them, the best mean is chosen, and the student kept is that recipe's
/// run on the seed's own split: its test accuracy is the pooled trial's.
#[test]
fn partitions_rank_on_the_mean_and_keep_the_own_split_run() {
    let (dataset, mut settings) = one_seed(TeacherKind::Simplified, 1);
    let one = fit(&dataset, &settings, &|_| {}).unwrap().report;
    settings.val_partitions = 3;
    let events = std::sync::Mutex::new(0usize);
    let three = fit(&dataset, &settings, &|_| *events.lock().unwrap() += 1)
        .unwrap()
        .report;
    assert_eq!(three.val_partitions, 3);
    // Every trial ran on each partition, plus the chosen student once more.
    assert_eq!(*events.lock().unwrap(), 3 * three.trials.len() + 1);
    let coarse = |r: &FitReport| {
        r.trials
            .iter()
            .filter(|t| t.stage != Stage::Refine)
            .map(|t| (t.candidate, t.test_accuracy, t.val_accuracy))
            .collect::<Vec<_>>()
    };
    // The seed's own split trains the same runs: the same test scores, but validation
    // accuracies averaged with the other partitions'.
    let (a, b) = (coarse(&one), coarse(&three));
    assert_eq!(a.len(), b.len());
    for ((ca, ta, _), (cb, tb, _)) in a.iter().zip(&b) {
        assert_eq!((ca, ta), (cb, tb));
    }
    assert!(a.iter().zip(&b).any(|(x, y)| x.2 != y.2));
    let choice = &three.choices[0];
    assert_eq!(choice.val_accuracy, best_student_val(&three));
    let pooled = three
        .trials
        .iter()
        .find(|t| t.candidate == Candidate::Student(choice.recipe))
        .unwrap();
    assert_eq!(choice.test_accuracy, pooled.test_accuracy);
}

/// `fit` refuses a search too large for this machine before training anything.
#[cfg(target_os = "linux")]
#[test]
fn fit_refuses_a_search_too_large_for_memory() {
    let (dataset, mut settings) = small();
    let available = crate::memory::available().expect("Linux reports available memory");
    // 2^40 trials at once, of at least a kilobyte each: more than any machine allows.
    settings.jobs = 1 << 40;
    let peak = settings.memory(&crate::memory::Shape::of(&dataset)).peak();
    assert!(peak > available.bytes, "{peak} vs {available:?}");
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let on_event = |_: &FitEvent| {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    match fit(&dataset, &settings, &on_event) {
        Err(FitError::Memory(e)) => assert!(e.to_string().contains("--jobs"), "{e}"),
        Err(e) => panic!("expected a memory refusal, got {e}"),
        Ok(_) => panic!("expected a memory refusal, got a search"),
    }
    assert_eq!(calls.into_inner(), 0, "nothing was trained");
}

/// The refine stage tries the bands themselves on frameless students (one more framelet
/// level, the energy perturbation ε, tables from the features), each on its own student
/// graph; never on the mlp. The coarse stage has one feature-table recipe of each
/// frameless kind.
#[test]
fn band_refinements_are_validated_candidates() {
    let (dataset, settings) = one_seed(TeacherKind::Spatial, 11);
    let r = fit(&dataset, &settings, &|_| {}).unwrap().report;
    let students = || {
        r.trials.iter().filter_map(|t| match t.candidate {
            Candidate::Student(rc) => Some((t, rc)),
            _ => None,
        })
    };
    let frameless = |rc: &Recipe| rc.student.kind != StudentKind::Mlp;
    let lev2 = students().filter(|(_, rc)| frameless(rc) && rc.levels == Some(2));
    assert_eq!(
        lev2.clone().count(),
        8,
        "every frameless coarse recipe, one level more"
    );
    let coarse_tables =
        students().filter(|(t, rc)| t.stage == Stage::Coarse && rc.student.feature_tables);
    assert_eq!(
        coarse_tables.count(),
        2,
        "one feature-table fmlp-s and fmlp-o"
    );
    for (_, rc) in students().filter(|(t, rc)| t.stage == Stage::Coarse && frameless(rc)) {
        let tables = Recipe {
            student: StudentConfig {
                feature_tables: true,
                ..rc.student
            },
            ..rc
        };
        assert!(
            students().any(|(t, r)| r == tables && t.epochs > 0),
            "{rc} with feature tables"
        );
    }
    assert!(students().all(|(_, rc)| frameless(&rc) || !rc.student.feature_tables));
    assert!(lev2
        .clone()
        .all(|(t, _)| t.stage == Stage::Refine && t.epochs > 0));
    let perturbed = students().filter(|(_, rc)| frameless(rc) && rc.epsilon == Some(0.5));
    assert_eq!(perturbed.count(), 8);
    assert!(students().all(|(_, rc)| frameless(&rc) || (rc.levels, rc.epsilon) == (None, None)));
    // The recipe carries its framelet setting and names it.
    let base = settings.teacher.framelet.clone();
    let with = Recipe {
        levels: Some(2),
        ..Recipe::labels_only(StudentKind::FmlpS)
    };
    assert_eq!(with.framelet(&base).levels, 2);
    assert_eq!(with.to_string(), "fmlp-s d64 drop0.1 Lev2 ← labels wd5e-4");
    let tables = search::with_feature_tables(Recipe::labels_only(StudentKind::FmlpO));
    assert_eq!(
        tables.to_string(),
        "fmlp-o d64 drop0.1 S2 M=XV ← labels wd5e-4"
    );
}
