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
    (dataset, settings)
}

#[test]
fn choice_ignores_test_labels() {
    let (dataset, settings) = small();
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
    let best_val = r
        .trials
        .iter()
        .filter(|t| t.stage != Stage::Teacher)
        .map(|t| t.val_accuracy)
        .fold(0.0, f64::max);
    assert_eq!(r.choices[0].val_accuracy, best_val);
    assert_eq!(*events.lock().unwrap(), r.trials.len());
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
