//! `frameless teacher`: train graph-framelet teachers over several seeds and save soft labels.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use frameless_distiller::data::Split;
use frameless_distiller::framelet::{self, FrameletConfig, FrameletKind};
use frameless_distiller::memory::{self, Estimate, Shape, Size};
use frameless_distiller::teacher::{
    self, ComputeDtype, SoftLabels, TeacherConfig, TeacherData, TeacherKind, TeacherRun,
};

use crate::args::{DataArgs, DeviceArgs, OutputArgs, SeedArgs, TrainingArgs};
use crate::mem_report::MemReport;
use crate::progress;

const EXAMPLES: &str = "\
Examples:
  frameless teacher --dataset ../shared/datasets/cora --model spatial --seeds 10
  frameless teacher --dataset synthetic:nodes=3000,homophily=0.3 --model spectral --out soft/
  frameless teacher --dataset ../shared/datasets/texas --framelet linear --levels 2 --json";

/// Train a teacher (framelet: spatial, simplified or spectral; or the GCN baseline) for several seeds,
/// print mean ± std test accuracy and write one soft-label file per seed.
#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct TeacherArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    seeds: SeedArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    device: DeviceArgs,
    /// Teacher architecture: spatial, simplified, spectral or gcn.
    #[arg(long, default_value = "spatial")]
    model: TeacherKind,
    /// Write `<dataset>-<model>-seed<k>.json` soft-label files into this folder.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Hidden width.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Layers (the propagation power K for the simplified teacher).
    #[arg(long, default_value_t = 2)]
    layers: usize,
    /// Dropout probability.
    #[arg(long, default_value_t = 0.5)]
    dropout: f64,
    #[command(flatten)]
    training: TrainingArgs,
    /// Compute dtype: f32 or f64.
    #[arg(long, default_value = "f32", value_parser = parse_dtype)]
    dtype: ComputeDtype,
    /// Framelet filter bank: haar, linear or quadratic.
    #[arg(long, default_value = "haar")]
    framelet: FrameletKind,
    /// Framelet levels.
    #[arg(long, default_value_t = 1)]
    levels: usize,
    /// Chebyshev terms n (polynomial degree n − 1).
    #[arg(long, default_value_t = 2)]
    chebyshev_order: usize,
    /// Framelet dilation scale.
    #[arg(long, default_value_t = 2.0)]
    dilation: f64,
    /// Propagation shift ε: Â_b = Â ∓ ε·D̃⁻¹.
    #[arg(long, default_value_t = 0.0)]
    epsilon: f32,
    /// Print each stage's peak resident memory on stderr (loading, operators, each
    /// run's setup, first epoch and other epochs, soft labels).
    #[arg(long)]
    mem_report: bool,
}

fn parse_dtype(s: &str) -> Result<ComputeDtype, String> {
    match s {
        "f32" => Ok(ComputeDtype::F32),
        "f64" => Ok(ComputeDtype::F64),
        _ => Err(format!("unknown dtype {s:?} (f32, f64)")),
    }
}

impl TeacherArgs {
    fn config(&self) -> TeacherConfig {
        TeacherConfig {
            hidden: self.hidden,
            layers: self.layers,
            dropout: self.dropout,
            optimizer: self.training.adam(),
            epochs: self.training.epochs,
            patience: self.training.patience,
            dtype: self.dtype,
            framelet: FrameletConfig {
                kind: self.framelet,
                levels: self.levels,
                chebyshev_order: self.chebyshev_order,
                dilation: self.dilation,
                epsilon: self.epsilon,
            },
        }
    }
}

/// Mean and population standard deviation.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Runs the subcommand.
pub fn run(args: TeacherArgs) -> anyhow::Result<()> {
    let mem = MemReport::new(args.mem_report);
    let device = args.device.device()?;
    let rates = args.data.rates()?;
    let config = args.config();
    let source = args.data.dataset.to_string();
    let dataset = args.data.load_for(&config)?;
    mem.stage("loading the dataset");
    let chatty = !args.output.json && !args.output.quiet;
    if chatty {
        let estimate = Estimate::teacher(&Shape::of(&dataset), &config);
        let room = memory::available().map_or_else(
            || "no memory limit known".to_string(),
            |a| format!("{} available ({})", Size(a.bytes), a.limit),
        );
        eprintln!("{}: memory {estimate}; {room}", dataset.name);
    }
    let graph = dataset.graph()?;
    mem.stage("graph");
    let operators = framelet::build(&graph, &config.framelet)?;
    drop(graph); // the operators are all training reads
    mem.stage("framelet operators (λ_max, W_b, Â_b)");
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let splits: Vec<(u64, Split)> = args
        .seeds
        .seeds()
        .map(|seed| (seed, dataset.split(seed, rates)))
        .collect();
    let name = dataset.name.clone();
    // Training reads the features only through the first layer's product: handed over,
    // dense features are held once, densely, not also as CSR.
    let data = TeacherData::from_dataset(dataset)?;
    mem.stage("features in the first layer's form");
    let mut runs: Vec<TeacherRun> = Vec::new();
    for (seed, split) in splits {
        let bar = progress::run_bar(chatty);
        let run = teacher::train(
            &data,
            &operators,
            args.model,
            &config,
            seed,
            &split,
            &device,
            &mut progress::reporting_sink(&bar, &mem),
        )
        .with_context(|| format!("training {} seed {seed}", args.model))?;
        bar.finish_and_clear();
        mem.stage("inference timing, hidden layer");
        if chatty {
            eprintln!(
                "{} {} seed {seed}: test {:.2}% val {:.2}% best epoch {} epochs {} epoch {:.2} ms",
                name,
                args.model,
                100.0 * run.outcome.test_accuracy,
                100.0 * run.outcome.val_accuracy,
                run.outcome.best_epoch,
                run.outcome.epochs,
                run.outcome.epoch_ms
            );
        }
        if let Some(dir) = &args.out {
            let path = dir.join(format!("{}-{}-seed{seed}.json", name, args.model));
            let mut soft = SoftLabels::from_run(&run, &source, &name, &config);
            soft.surgery = args.data.surgery;
            soft.save(&path)?;
            mem.stage("soft labels written");
        }
        runs.push(run);
    }
    let accs: Vec<f64> = runs
        .iter()
        .map(|r| 100.0 * r.outcome.test_accuracy)
        .collect();
    let (acc, acc_std) = mean_std(&accs);
    let (val, _) = mean_std(
        &runs
            .iter()
            .map(|r| 100.0 * r.outcome.val_accuracy)
            .collect::<Vec<_>>(),
    );
    let (epoch_ms, _) = mean_std(&runs.iter().map(|r| r.outcome.epoch_ms).collect::<Vec<_>>());
    let (infer_ms, _) = mean_std(
        &runs
            .iter()
            .map(|r| r.outcome.inference_ms)
            .collect::<Vec<_>>(),
    );
    let (epochs, _) = mean_std(
        &runs
            .iter()
            .map(|r| r.outcome.epochs as f64)
            .collect::<Vec<_>>(),
    );
    let (best, _) = mean_std(
        &runs
            .iter()
            .map(|r| r.outcome.best_epoch as f64)
            .collect::<Vec<_>>(),
    );
    let mut out = std::io::stdout().lock();
    if args.output.json {
        let per_seed: Vec<_> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "seed": r.seed, "test_accuracy": r.outcome.test_accuracy, "val_accuracy": r.outcome.val_accuracy,
                    "best_epoch": r.outcome.best_epoch, "epochs": r.outcome.epochs, "epoch_ms": r.outcome.epoch_ms,
                    "inference_ms": r.outcome.inference_ms,
                })
            })
            .collect();
        let summary = serde_json::json!({
            "dataset": name, "source": source, "model": args.model, "seeds": runs.len(),
            "test_accuracy_mean": acc, "test_accuracy_std": acc_std, "val_accuracy_mean": val,
            "epoch_ms": epoch_ms, "inference_ms": infer_ms, "epochs": epochs, "best_epoch": best,
            "lambda_max": operators.lambda_max, "config": config, "per_seed": per_seed,
        });
        writeln!(out, "{summary}")?;
    } else {
        writeln!(out, "| dataset | model | seeds | test acc % (mean ± std) | val % | epoch ms | infer ms | epochs | best epoch |")?;
        writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|")?;
        writeln!(
            out,
            "| {} | {} | {} | {acc:.2} ± {acc_std:.2} | {val:.2} | {epoch_ms:.2} | {infer_ms:.2} | {epochs:.0} | {best:.0} |",
            name,
            args.model,
            runs.len()
        )?;
    }
    Ok(())
}
