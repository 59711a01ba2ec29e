//! Argument groups shared by the subcommands; each converts into a library config.

use anyhow::{bail, Context};
use clap::Args;
use frameless_distiller::data::{Dataset, DatasetSource, SplitRates};
use frameless_distiller::memory::{Estimate, Shape};
use frameless_distiller::pipeline::{load_within, PipelineError};
use frameless_distiller::surgery::{rewire_dataset, SdrfConfig};
use frameless_distiller::teacher::TeacherConfig;

/// Optimiser and early-stopping settings shared by every training subcommand.
#[derive(Debug, Clone, Args)]
pub struct TrainingArgs {
    /// Adam learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// L2 weight decay (added to the gradient, as PyTorch Adam).
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    /// Maximum epochs.
    #[arg(long, default_value_t = 500)]
    pub epochs: usize,
    /// Early-stopping patience on validation accuracy.
    #[arg(long, default_value_t = 50)]
    pub patience: usize,
}

impl TrainingArgs {
    /// The optimiser settings.
    pub fn adam(&self) -> frameless_distiller::train::AdamConfig {
        frameless_distiller::train::AdamConfig {
            lr: self.lr,
            weight_decay: self.weight_decay,
        }
    }
}

/// Which dataset, and how to split it.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// A dataset folder (plain or geom-gcn format), or `synthetic[:nodes=N,classes=C,features=F,degree=D,homophily=H,seed=S]`.
    #[arg(long, default_value = "synthetic")]
    pub dataset: DatasetSource,
    /// Training nodes per class, as a fraction of N/C (random splits only).
    #[arg(long, default_value_t = 0.2)]
    pub train_rate: f64,
    /// Validation nodes per class, as a fraction of N/C (random splits only).
    #[arg(long, default_value_t = 0.2)]
    pub val_rate: f64,
    /// Rewire the graph right after loading: `sdrf` (10 iterations) or `sdrf:N`
    /// (removal bound 0.5, τ = 1, seed 0; `frameless surgery` sets them all).
    #[arg(long, value_parser = parse_surgery)]
    pub surgery: Option<SdrfConfig>,
}

/// Parses `sdrf` or `sdrf:<iterations>`.
pub fn parse_surgery(text: &str) -> Result<SdrfConfig, String> {
    let iterations = match text.split_once(':') {
        None if text == "sdrf" => 10,
        Some(("sdrf", n)) => n
            .parse()
            .map_err(|_| format!("{n:?} is not an iteration count"))?,
        _ => return Err(format!("unknown surgery {text:?} (sdrf or sdrf:N)")),
    };
    Ok(SdrfConfig {
        iterations,
        ..SdrfConfig::default()
    })
}

impl DataArgs {
    /// Loads the dataset, refused if a teacher run with `config` would not fit in memory,
    /// and applies `--surgery`, if any.
    pub fn load_for(&self, config: &TeacherConfig) -> anyhow::Result<Dataset> {
        self.load_planned(&|shape: &Shape| Estimate::teacher(shape, config))
    }

    /// Loads the dataset, refused if the run `plan` estimates from its shape would not
    /// fit in memory (before a synthetic graph is generated), and applies `--surgery`.
    pub fn load_planned(&self, plan: &dyn Fn(&Shape) -> Estimate) -> anyhow::Result<Dataset> {
        let dataset = load_within(&self.dataset, plan).map_err(|e| match e {
            // The refusal names the dataset itself.
            PipelineError::Memory(e) => anyhow::Error::new(e),
            e => anyhow::Error::new(e).context(format!("loading {}", self.dataset)),
        })?;
        match &self.surgery {
            None => Ok(dataset),
            Some(cfg) => Ok(rewire_dataset(&dataset, cfg).context("--surgery")?.0),
        }
    }

    /// The split rates, checked.
    pub fn rates(&self) -> anyhow::Result<SplitRates> {
        if !(0.0..=1.0).contains(&self.train_rate) || !(0.0..=1.0).contains(&self.val_rate) {
            bail!(crate::BadInput::Rates {
                train: self.train_rate,
                val: self.val_rate,
            });
        }
        Ok(SplitRates {
            train: self.train_rate,
            val: self.val_rate,
        })
    }
}

/// Which seeds to run: `first, first + 1, …, first + seeds − 1`.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Number of seeds (one run each; seed k uses fixed split k mod 10 where a dataset ships splits).
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
}

impl SeedArgs {
    /// The seeds to run.
    pub fn seeds(&self) -> std::ops::Range<u64> {
        self.first_seed..self.first_seed + self.seeds
    }
}

/// How to report results.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print the results as one JSON object on stdout (no progress bars).
    #[arg(long)]
    pub json: bool,
    /// No progress bars or per-run lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Where to compute.
#[derive(Debug, Clone, Args)]
pub struct DeviceArgs {
    /// `cpu`, `cuda` or `cuda:N` (CUDA needs a build with the `cuda` feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

impl DeviceArgs {
    /// The candle device.
    pub fn device(&self) -> anyhow::Result<candle_core::Device> {
        let text = self.device.as_str();
        if text == "cpu" {
            return Ok(candle_core::Device::Cpu);
        }
        let ordinal = match text.strip_prefix("cuda") {
            Some("") => 0,
            Some(rest) => rest
                .strip_prefix(':')
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or_else(|| crate::BadInput::Device {
                    text: text.to_string(),
                })?,
            None => bail!(crate::BadInput::Device {
                text: text.to_string()
            }),
        };
        if !cfg!(feature = "cuda") {
            bail!(crate::BadInput::NoCuda {
                text: text.to_string()
            });
        }
        candle_core::Device::new_cuda(ordinal).with_context(|| format!("cannot open {text}"))
    }
}
