//! `frameless fit`: search teachers, students, λ and τ on validation accuracy, export
//! the first seed's choice as a verified blob, and write the report.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use frameless_distiller::export::artifact::StudentFile;
use frameless_distiller::export::ParityInputs;
use frameless_distiller::fit::{fit, Budget, FitEvent, FitReport, FitSettings, Recipe};
use frameless_distiller::pipeline::save_json;
use frameless_distiller::teacher::TeacherKind;

use crate::args::{DataArgs, DeviceArgs, OutputArgs, SeedArgs};
use crate::cmd_export::{describe, export_file, NodeList, PrecisionArg};
use crate::BadInput;

const EXAMPLES: &str = "\
Examples:
  frameless fit --dataset ../shared/datasets/texas -o texas.fgkd          # 10 seeds, int8
  frameless fit --dataset ../shared/datasets/cora --seeds 3 --jobs 2 --json
  frameless fit --dataset ../shared/datasets/cora --config out/cora-fit/recipe.json -o cora.fgkd
  frameless fit --dataset synthetic:nodes=400,homophily=0.2 --seeds 2 --precision f16
  frameless fit --dataset ../shared/datasets/cora --seeds 1 --nodes 0-9 -o cora-10.fgkd
  frameless fit --dataset ../shared/datasets/texas --val-partitions 1    # rank on each seed's split alone";

/// Choose the best student for a dataset on validation accuracy alone and export it:
/// train every teacher kind, then mlp / fmlp-s / fmlp-o students with λ = 1 (labels
/// only: the plain-MLP fallback), ½ and 0, and fmlp-s / fmlp-o with band tables learnt
/// from the features (M=XV), then refine the best few (width, dropout, weight decay, τ,
/// stages, feature tables, framelet Lev 2, band perturbation ε). Each seed chooses on its own validation split
/// (under 300 validation nodes, on the mean over that split and its training and
/// validation nodes dealt again: see --val-partitions); test accuracy is read only after
/// every choice is made. Writes the blob of the first seed's
/// choice (parity-checked against the engine), its student file, and a report folder
/// (report.md, fit.json, recipe.json, student.json, validation-vs-test.svg).
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct FitArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    seeds: SeedArgs,
    /// The blob to write; default out/<dataset>-fit.fgkd.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Precision of the blob: f32, f16 or int8.
    #[arg(long, default_value = "int8")]
    precision: PrecisionArg,
    /// Keep only these nodes' table rows in the blob (as `export --nodes`: `0-9,42` or
    /// `@FILE`); the student file keeps every node.
    #[arg(long, value_name = "LIST")]
    nodes: Option<NodeList>,
    /// Worker threads, one trial each, each trial on one thread (default: the cores
    /// available; the global --threads does not apply to fit).
    #[arg(long)]
    jobs: Option<usize>,
    /// Teacher kinds to try (comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "spatial,simplified,spectral,gcn"
    )]
    teachers: Vec<TeacherKind>,
    /// Re-run a recipe written by an earlier fit (its recipe.json) instead of searching.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Report folder; default: the blob's path without extension, plus `-fit`.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Maximum epochs of every student.
    #[arg(long, default_value_t = Budget::default().max_epochs)]
    epochs: usize,
    /// Early-stopping patience of every student.
    #[arg(long, default_value_t = Budget::default().patience)]
    patience: usize,
    /// Validation partitions per seed: rank candidates on their mean validation
    /// accuracy over the seed's split and its training and validation nodes dealt again
    /// this many times less one (default: enough for about 300 validation predictions,
    /// 1 from 300 validation nodes up, at most 5). Each partition trains the whole search.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    val_partitions: Option<u16>,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    output: OutputArgs,
}

fn read_recipe(path: &Path) -> anyhow::Result<Recipe> {
    let text = std::fs::read_to_string(path).map_err(|error| BadInput::Read {
        path: path.to_path_buf(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|e| {
        anyhow::Error::new(BadInput::Recipe {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    })
}

/// Runs the subcommand.
pub fn run(args: FitArgs) -> anyhow::Result<()> {
    let rates = args.data.rates()?;
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let mut settings = FitSettings::unsplit(args.seeds.seeds().collect(), jobs);
    settings.teachers = args.teachers.clone();
    settings.budget = Budget {
        max_epochs: args.epochs,
        patience: args.patience,
    };
    settings.device = args.device.device()?;
    if let Some(path) = &args.config {
        settings.recipes = Some(vec![read_recipe(path)?]);
    }
    // Refused before loading (or generating) if `jobs` trials at once would not fit.
    let dataset = args.data.load_planned(&|shape| settings.memory(shape))?;
    let mut settings = settings.with_splits(&dataset, rates);
    if let Some(p) = args.val_partitions {
        settings.val_partitions = usize::from(p);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("out").join(format!("{}-fit.fgkd", dataset.name)));
    let report_dir = args.report.clone().unwrap_or_else(|| {
        let stem = out
            .file_stem()
            .map_or("model".into(), |s| s.to_string_lossy());
        out.with_file_name(format!("{stem}-fit"))
    });
    let chatty = !args.output.json && !args.output.quiet;
    let bar = crate::progress::search_bar(chatty);
    let on_event = |event: &FitEvent| match event {
        FitEvent::Trial {
            done,
            planned,
            best_val_accuracy,
            label,
        } => {
            bar.set_length(*planned as u64);
            bar.set_position(*done as u64);
            bar.set_message(format!(
                "best val {:.1}% · {label}",
                100.0 * best_val_accuracy
            ));
        }
    };
    let outcome = fit(&dataset, &settings, &on_event)?;
    bar.finish_and_clear();

    let split = &settings.splits[0];
    let chosen = &outcome.chosen;
    let inputs = ParityInputs {
        weights: &chosen.weights,
        features: &dataset.features,
        labels: &dataset.labels,
        test: &split.test,
        reference_logits: &chosen.logits,
    };
    let file = StudentFile::new(chosen.info.clone(), &inputs, &split.val, &split.train);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;
    let student_path = report_dir.join("student.json");
    file.save(&student_path)?;
    // The search's results are on disk before the export's checks run: a refused blob
    // loses none of them.
    save_json(&outcome.report, &report_dir.join("fit.json"))?;
    save_json(&chosen.recipe, &report_dir.join("recipe.json"))?;
    frameless_experiments::fit_report::write(&outcome.report, &report_dir)?;
    let parity = export_file(&file, args.precision.0, args.nodes.as_ref(), &out)
        .with_context(|| format!("the search's report is in {}", report_dir.display()))?;

    let mut o = std::io::stdout().lock();
    if args.output.json {
        let v = serde_json::json!({"report": outcome.report, "blob": out,
            "student_file": student_path, "report_dir": report_dir, "export": parity});
        writeln!(o, "{v}")?;
    } else {
        write!(o, "{}", summary(&outcome.report))?;
        writeln!(o, "{}", describe(&parity))?;
        writeln!(
            o,
            "blob {} · student file {} · report {}",
            out.display(),
            student_path.display(),
            report_dir.join("report.md").display()
        )?;
    }
    Ok(())
}

/// The terminal summary: baselines, the fit student, the verdict, the choices.
fn summary(r: &FitReport) -> String {
    let mut s = String::new();
    let [n, f, c] = r.dims;
    s += &format!(
        "{}: {n} nodes, {f} features, {c} classes; {} seeds, {}, {:.0} s\n",
        r.dataset,
        r.choices.len(),
        r.trial_count(),
        r.seconds
    );
    if r.val_partitions > 1 {
        s += &format!(
            "candidates ranked on their mean validation accuracy over {} partitions of each seed's training and validation nodes\n",
            r.val_partitions
        );
    }
    s += "\n";
    s += "| model | test % (mean ± std) |\n|---|---:|\n";
    s += &format!("| plain MLP (labels only) | {} |\n", r.plain_mlp);
    s += &format!("| best-validation teacher | {} |\n", r.teacher);
    s += &format!("| fit student f32 | {} |\n", r.fit);
    s += &format!("| fit student int8 | {} |\n\n", r.fit_int8);
    s += &format!("{}\n\n", r.verdict);
    for ch in &r.choices {
        s += &format!(
            "seed {}: {} (val {:.1}%, test {:.1}%)\n",
            ch.seed,
            ch.recipe,
            100.0 * ch.val_accuracy,
            100.0 * ch.test_accuracy
        );
    }
    s
}
