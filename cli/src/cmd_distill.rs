//! `frameless distill`: train a student on a teacher's soft labels, save the student
//! file, optionally export a verified blob straight away.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Args;
use frameless_distiller::distill::DistillConfig;
use frameless_distiller::export::artifact::StudentFile;
use frameless_distiller::pipeline::{dataset_of, distill_from_soft_labels};
use frameless_distiller::quantize::PrecisionReport;
use frameless_distiller::student::{StudentConfig, StudentKind};
use frameless_distiller::teacher::SoftLabels;
use frameless_engine::Precision;

use crate::args::{DeviceArgs, OutputArgs, TrainingArgs};
use crate::cmd_export::{export_file, PrecisionArg};
use crate::mem_report::MemReport;
use crate::{progress, BadInput};

const EXAMPLES: &str = "\
Examples:
  frameless teacher --dataset ../shared/datasets/cora --seeds 1 --out soft/
  frameless distill --teacher soft/cora-spatial-seed0.json --student fmlp-s -o out/cora-fmlp-s.json
  frameless distill --teacher soft/cora-spatial-seed0.json --student fmlp-o --stages 2 \\
      --export out/cora.fgkd --precision int8
  frameless distill --teacher soft/texas-spatial-seed*.json --student mlp --json   (one run per file)";

/// Distill a teacher's soft labels into a student (mlp, fmlp-s or fmlp-o): train with
/// λ·NLL + (1−λ)·τ²·KL, keep the best-validation weights, precompute the tables, report
/// test accuracy and gates and the f32/f16/int8 accuracy, and write a student file that
/// `frameless export` turns into a blob. With several --teacher files, one run each and
/// a mean ± std summary.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct DistillArgs {
    /// Soft-label file(s) written by `frameless teacher --out`.
    #[arg(long, required = true, num_args = 1..)]
    teacher: Vec<PathBuf>,
    /// Student architecture: mlp, fmlp-s or fmlp-o.
    #[arg(long, default_value = "fmlp-s")]
    student: StudentKind,
    /// fmlp-s: power K of the band operator P_b.
    #[arg(long, default_value_t = 2)]
    k: usize,
    /// fmlp-o: number of stages (powers 1..S).
    #[arg(long, default_value_t = 2)]
    stages: usize,
    /// Hidden width d.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Share the band table and classifier between bands (the published code's variant).
    #[arg(long)]
    tie_bands: bool,
    /// fmlp-s/fmlp-o: learn each band's table as the features' projection X·V_b (F × d)
    /// rather than a free N × d table, so the bands propagate the features (the blob is
    /// the same form either way).
    #[arg(long)]
    feature_tables: bool,
    /// Dropout (default 0.5 for mlp, 0.1 for fmlp-s/fmlp-o).
    #[arg(long)]
    dropout: Option<f64>,
    /// Weight λ of the hard-label NLL on training nodes.
    #[arg(long, default_value_t = 0.0)]
    lambda: f64,
    /// Distillation temperature τ.
    #[arg(long, default_value_t = 1.0)]
    tau: f64,
    #[command(flatten)]
    training: TrainingArgs,
    /// Seed of initialisation and dropout (default: the teacher's seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Student file (one teacher) or folder (several); default out/<dataset>-<student>-seed<k>.json.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Also export a verified blob here (one teacher only).
    #[arg(long)]
    export: Option<PathBuf>,
    /// Precision of --export: f32, f16 or int8.
    #[arg(long, default_value = "int8")]
    precision: PrecisionArg,
    #[command(flatten)]
    device: DeviceArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// Print each stage's peak resident memory on stderr (loading, the run's setup,
    /// first epoch and other epochs, tables and precision reports, student file, export).
    #[arg(long)]
    mem_report: bool,
}

impl DistillArgs {
    fn config(&self) -> anyhow::Result<StudentConfig> {
        let mut c = StudentConfig::new(self.student);
        c.k = self.k;
        c.stages = self.stages;
        c.hidden = self.hidden;
        c.tie_bands = self.tie_bands;
        c.feature_tables = self.feature_tables;
        if let Some(p) = self.dropout {
            if !(0.0..1.0).contains(&p) {
                anyhow::bail!(BadInput::Dropout { dropout: p });
            }
            c.dropout = p;
        }
        if c.hidden == 0 || c.k == 0 || c.stages == 0 {
            anyhow::bail!(BadInput::StudentSize);
        }
        if !(0.0..=1.0).contains(&self.lambda) || self.tau.is_nan() || self.tau <= 0.0 {
            anyhow::bail!(BadInput::Loss {
                lambda: self.lambda,
                tau: self.tau,
            });
        }
        Ok(c)
    }

    fn path_for(&self, file: &StudentFile, seed: u64) -> PathBuf {
        let name = format!("{}-{}-seed{seed}.json", file.dataset, self.student);
        match &self.out {
            Some(p) if self.teacher.len() == 1 => p.clone(),
            Some(dir) => dir.join(name),
            None => Path::new("out").join(name),
        }
    }
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

fn int8(p: &[PrecisionReport]) -> f64 {
    p.iter()
        .find(|r| r.precision == Precision::Int8)
        .map_or(0.0, |r| r.test_accuracy)
}

/// Runs the subcommand.
pub fn run(args: DistillArgs) -> anyhow::Result<()> {
    let config = args.config()?;
    let device = args.device.device()?;
    if args.export.is_some() && args.teacher.len() != 1 {
        anyhow::bail!(BadInput::ExportNeedsOneTeacher);
    }
    let chatty = !args.output.json && !args.output.quiet;
    let mem = MemReport::new(args.mem_report);
    let mut rows = Vec::new();
    for path in &args.teacher {
        let soft = SoftLabels::load(path).map_err(|error| BadInput::SoftLabels { error })?;
        let loaded = dataset_of(&soft, &config).map_err(|error| BadInput::SoftLabelsDataset {
            path: path.clone(),
            error,
        })?;
        mem.stage("loading soft labels, dataset, framelet operators");
        let seed = args.seed.unwrap_or(soft.seed);
        let settings = DistillConfig {
            lambda: args.lambda,
            tau: args.tau,
            adam: args.training.adam(),
            max_epochs: args.training.epochs,
            patience: args.training.patience,
            seed,
        };
        let bar = progress::run_bar(chatty);
        let d = distill_from_soft_labels(
            &soft,
            loaded,
            &config,
            &settings,
            &device,
            &mut progress::reporting_sink(&bar, &mem),
        )?;
        bar.finish_and_clear();
        mem.stage("tables, precision reports, student file in memory");
        let out = args.path_for(&d.file, seed);
        d.file.save(&out)?;
        mem.stage("student file written");
        let r = &d.file.report;
        if chatty {
            eprintln!(
                "{} {} seed {seed}: test {:.2}% (teacher {:.2}%, int8 {:.2}%) val {:.2}% gates {:?} best epoch {} -> {}",
                d.file.dataset,
                args.student,
                100.0 * r.test_accuracy,
                100.0 * soft.outcome.test_accuracy,
                100.0 * int8(&d.precisions),
                100.0 * r.val_accuracy,
                r.mean_gates.iter().map(|g| (g * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
                r.best_epoch,
                out.display()
            );
        }
        let parity = match &args.export {
            Some(blob) => Some(export_file(&d.file, args.precision.0, None, blob)?),
            None => None,
        };
        if parity.is_some() {
            mem.stage("export (blob written, every node through the engine)");
        }
        rows.push((seed, soft.outcome.test_accuracy, d, out, parity));
    }
    let mut o = std::io::stdout().lock();
    let percent =
        |values: Vec<f64>| mean_std(&values.iter().map(|v| 100.0 * v).collect::<Vec<_>>());
    let (acc, acc_sd) = percent(rows.iter().map(|r| r.2.file.report.test_accuracy).collect());
    let (teacher, teacher_sd) = percent(rows.iter().map(|r| r.1).collect());
    let (q8, q8_sd) = percent(rows.iter().map(|r| int8(&r.2.precisions)).collect());
    if args.output.json {
        let runs: Vec<_> = rows
            .iter()
            .map(|(seed, t, d, out, parity)| {
                serde_json::json!({"seed": seed, "teacher_test_accuracy": t, "report": d.file.report,
                    "precisions": d.precisions, "student_file": out, "export": parity})
            })
            .collect();
        let v = serde_json::json!({"dataset": rows.first().map(|r| r.2.file.dataset.clone()),
            "student": args.student, "config": config, "seeds": rows.len(),
            "test_accuracy_mean": acc, "test_accuracy_std": acc_sd,
            "teacher_test_accuracy_mean": teacher, "teacher_test_accuracy_std": teacher_sd,
            "int8_test_accuracy_mean": q8, "int8_test_accuracy_std": q8_sd, "runs": runs});
        writeln!(o, "{v}")?;
    } else {
        writeln!(
            o,
            "| dataset | student | seeds | teacher % | student f32 % | student int8 % |"
        )?;
        writeln!(o, "|---|---|---:|---:|---:|---:|")?;
        let name = rows
            .first()
            .map(|r| r.2.file.dataset.clone())
            .unwrap_or_default();
        writeln!(o, "| {name} | {} | {} | {teacher:.2} ± {teacher_sd:.2} | {acc:.2} ± {acc_sd:.2} | {q8:.2} ± {q8_sd:.2} |",
            args.student, rows.len())?;
        for (_, _, _, _, parity) in &rows {
            if let Some(p) = parity {
                writeln!(o, "{}", crate::cmd_export::describe(p))?;
            }
        }
    }
    Ok(())
}
