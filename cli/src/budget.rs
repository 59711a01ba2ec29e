//! The budget behind `inspect --target`: what a blob costs a firmware before it is
//! flashed. The engine's share comes from `firmware-examples/budget.json`, which
//! `firmware-examples/run.sh` measures in QEMU and checks in CI; it is compiled into
//! this binary (`include_str!`), so a newly recorded file needs a rebuild.
//!
//! - flash = blob bytes + the engine's measured code (`.text` + `.rodata`) for the
//!   target, precision and feature set;
//! - RAM = scratch bytes + the measured stack high-water of load + predict + the
//!   engine's static RAM besides the scratch;
//! - instructions per inference = recorded instructions per MAC x
//!   `Model::mac_count(nnz)` (no separate fixed overhead is measured: the ratio was
//!   taken over whole inferences of the recorded model, overhead included).

use frameless_engine::Model;
use serde_json::Value;

/// `firmware-examples/budget.json` as committed when this binary was built.
pub const BUDGET_JSON: &str = include_str!("../../firmware-examples/budget.json");

/// Where a budget is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// Cortex-M4F (`thumbv7em-none-eabihf`), as measured on QEMU mps2-an386.
    CortexM4,
    /// RV32IMAC (`riscv32imac-unknown-none-elf`), as measured on QEMU virt.
    Riscv32,
    /// The machine running the engine with `std`: nothing is recorded for it.
    Host,
}

impl Target {
    /// The name `budget.json` uses.
    pub fn name(self) -> &'static str {
        match self {
            Target::CortexM4 => "cortex-m4",
            Target::Riscv32 => "riscv32",
            Target::Host => "host",
        }
    }
}

/// What is wrong with a budget request.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// The compiled-in file does not parse or lacks a field (a bug in the build).
    #[error("the budget.json compiled into this binary is malformed: {0}")]
    Malformed(String),
    /// No figures for this target, precision and feature set.
    #[error(
        "no budget recorded for {target} {precision} with features {features} (recorded: {recorded})"
    )]
    NotRecorded {
        /// Target name.
        target: &'static str,
        /// The blob's precision.
        precision: String,
        /// `default` or `verify`.
        features: &'static str,
        /// What budget.json holds, `target/precision/features` comma-separated.
        recorded: String,
    },
}

/// The figures `run.sh` recorded for one target, precision and feature set.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The engine's code in flash (`.text` + `.rodata`), bytes.
    pub engine_code_bytes: u64,
    /// The engine's static RAM besides the scratch, bytes.
    pub engine_static_ram_bytes: u64,
    /// Stack high-water of load + predict, bytes.
    pub stack_bytes: u64,
    /// Instructions per multiply-accumulate over whole inferences.
    pub instr_per_mac: f64,
    /// Mean non-zero features of the firmware's test nodes.
    pub mean_nnz: f64,
    /// The budget firmware's own flash besides blob and engine (start-up, I/O, test node).
    pub harness_flash_bytes: u64,
}

fn entries(json: &str) -> Result<Vec<Value>, BudgetError> {
    let v: Value = serde_json::from_str(json).map_err(|e| BudgetError::Malformed(e.to_string()))?;
    v.get("entries")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| BudgetError::Malformed("no \"entries\" array".into()))
}

fn text<'v>(e: &'v Value, key: &str) -> &'v str {
    e.get(key).and_then(Value::as_str).unwrap_or("")
}

fn number(e: &Value, key: &str) -> Result<f64, BudgetError> {
    e.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| BudgetError::Malformed(format!("an entry has no number \"{key}\"")))
}

/// The figures in `json` (budget.json's text) for `target`, `precision`, `features`.
///
/// # Errors
/// [`BudgetError::Malformed`] if `json` is not budget.json's shape,
/// [`BudgetError::NotRecorded`] if it holds no such entry.
pub fn recorded(
    json: &str,
    target: Target,
    precision: &str,
    features: &'static str,
) -> Result<Recorded, BudgetError> {
    let entries = entries(json)?;
    let found = entries.iter().find(|e| {
        text(e, "target") == target.name()
            && text(e, "precision") == precision
            && text(e, "features") == features
    });
    let Some(e) = found else {
        let recorded: Vec<String> = entries
            .iter()
            .map(|e| {
                let [t, p, f] = ["target", "precision", "features"].map(|k| text(e, k));
                format!("{t}/{p}/{f}")
            })
            .collect();
        return Err(BudgetError::NotRecorded {
            target: target.name(),
            precision: precision.to_string(),
            features,
            recorded: recorded.join(", "),
        });
    };
    // Byte counts are whole numbers in the file.
    let bytes = |k: &str| number(e, k).map(|v| v as u64);
    // The verify entries borrow instr/MAC from the default ones (loading differs only).
    Ok(Recorded {
        engine_code_bytes: bytes("engine_code_bytes")?,
        engine_static_ram_bytes: bytes("engine_static_ram_bytes")?,
        stack_bytes: bytes("stack_bytes")?,
        instr_per_mac: number(e, "instr_per_mac")?,
        mean_nnz: number(e, "mean_nnz")?,
        harness_flash_bytes: bytes("harness_flash_bytes")?,
    })
}

/// The nnz budgets assume without `--nnz`: the recorded test nodes' mean, rounded.
///
/// # Errors
/// [`BudgetError::Malformed`] if `json` has no entry with a `mean_nnz`.
pub fn default_nnz(json: &str) -> Result<usize, BudgetError> {
    let entries = entries(json)?;
    let first = entries
        .first()
        .ok_or_else(|| BudgetError::Malformed("no entries".into()))?;
    Ok(number(first, "mean_nnz")?.round() as usize)
}

/// A blob's budget on one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Where.
    pub target: Target,
    /// `default` or `verify` (the engine's signed-blob feature).
    pub features: &'static str,
    /// Non-zero input features assumed per inference.
    pub nnz: usize,
    /// `Model::mac_count(nnz)`.
    pub macs: u64,
    /// The blob file's bytes.
    pub blob_bytes: u64,
    /// `Model::scratch_bytes`.
    pub scratch_bytes: u64,
    /// The engine's recorded figures; `None` for the host.
    pub recorded: Option<Recorded>,
}

impl Budget {
    /// The budget of `model` (read from `blob_bytes` bytes) on `target`, from the
    /// compiled-in budget.json.
    ///
    /// # Errors
    /// [`BudgetError::NotRecorded`] when the target has no figures for the blob's
    /// precision and `features`; [`BudgetError::Malformed`] for a bad build.
    pub fn of(
        model: &Model<'_>,
        blob_bytes: usize,
        target: Target,
        verify: bool,
        nnz: Option<usize>,
    ) -> Result<Budget, BudgetError> {
        let features = if verify { "verify" } else { "default" };
        let recorded = match target {
            Target::Host => None,
            _ => Some(recorded(
                BUDGET_JSON,
                target,
                &model.precision().to_string(),
                features,
            )?),
        };
        let nnz = match nnz {
            Some(n) => n,
            None => default_nnz(BUDGET_JSON)?,
        };
        Ok(Budget {
            target,
            features,
            nnz,
            macs: model.mac_count(nnz),
            blob_bytes: blob_bytes as u64,
            scratch_bytes: model.scratch_bytes() as u64,
            recorded,
        })
    }

    /// Blob + engine code, bytes.
    pub fn flash_bytes(&self) -> Option<u64> {
        let r = self.recorded.as_ref()?;
        Some(self.blob_bytes + r.engine_code_bytes)
    }

    /// Scratch + stack high-water + engine static RAM, bytes.
    pub fn ram_bytes(&self) -> Option<u64> {
        let r = self.recorded.as_ref()?;
        Some(self.scratch_bytes + r.stack_bytes + r.engine_static_ram_bytes)
    }

    /// Recorded instructions per MAC x MACs.
    pub fn instructions(&self) -> Option<f64> {
        let r = self.recorded.as_ref()?;
        Some(r.instr_per_mac * self.macs as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_file_has_every_target_and_precision() {
        for t in [Target::CortexM4, Target::Riscv32] {
            for p in ["f32", "f16", "int8"] {
                let r = recorded(BUDGET_JSON, t, p, "default").unwrap();
                assert!(r.engine_code_bytes > 1000, "{t:?} {p}: {r:?}");
                assert!(
                    r.stack_bytes > 0 && r.instr_per_mac > 0.0,
                    "{t:?} {p}: {r:?}"
                );
            }
            // Signature checking is more code than the engine without it.
            let v = recorded(BUDGET_JSON, t, "int8", "verify").unwrap();
            let d = recorded(BUDGET_JSON, t, "int8", "default").unwrap();
            assert!(v.engine_code_bytes > d.engine_code_bytes);
        }
        assert!(default_nnz(BUDGET_JSON).unwrap() > 0);
    }

    #[test]
    fn missing_entry_names_what_is_recorded() {
        let json =
            r#"{"entries": [{"target": "riscv32", "precision": "f32", "features": "default"}]}"#;
        let e = recorded(json, Target::CortexM4, "int8", "verify").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no budget recorded for cortex-m4 int8 with features verify (recorded: riscv32/f32/default)"
        );
        assert!(matches!(
            recorded("{}", Target::Riscv32, "f32", "default"),
            Err(BudgetError::Malformed(_))
        ));
    }
}
