//! Host tool: writes the firmware's test models into `../models/`.
//!
//! A deterministic Cora-size fmlp-s student (N=2708 nodes, F=1433 binary
//! features, d=64, C=7 classes, B=2 bands, one stage) with seeded
//! pseudo-random weights, written with the engine's own
//! `frameless_engine::writer::write_blob` in every precision, plus a fixed
//! set of test nodes with ~18 non-zero binary features each, and the host
//! engine's predictions (`Model::predict`: class and logits) for them.
//!
//! ```text
//! cd firmware-examples
//! cargo run --release --manifest-path gen/Cargo.toml              # (re)write models/
//! cargo run --release --manifest-path gen/Cargo.toml -- --check   # exit 1 if models/ is stale
//! ```
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use frameless_engine::writer::{
    write_blob, Architecture, Gate, Linear, ModelWeights, OwnedMetadata, Stage,
};
use frameless_engine::{Features, Model, ModelKind, Precision};

const N_NODES: usize = 2708;
const N_FEATURES: usize = 1433;
const HIDDEN: usize = 64;
const N_CLASSES: usize = 7;
const N_BANDS: usize = 2;
/// Test nodes embedded in the firmware.
const N_TEST: usize = 32;
/// Smallest top-1 minus top-2 logit gap accepted for a test node in every
/// precision, so a last-bit difference cannot flip the expected class.
const MIN_MARGIN: f32 = 1e-3;
const SEED: u64 = 0x5EED_F6D0_2708;
const PRECISIONS: [(Precision, &str); 3] = [
    (Precision::F32, "f32"),
    (Precision::F16, "f16"),
    (Precision::Int8, "int8"),
];

/// SplitMix64: tiny, seedable, identical everywhere.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-bound, bound).
    fn uniform(&mut self, bound: f32) -> f32 {
        let unit = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        (2.0 * unit - 1.0) * bound
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn vec(&mut self, len: usize, bound: f32) -> Vec<f32> {
        (0..len).map(|_| self.uniform(bound)).collect()
    }
}

fn linear(rng: &mut Rng, in_dim: usize, out_dim: usize) -> Linear {
    let bound = 1.0 / (in_dim as f32).sqrt();
    Linear {
        in_dim,
        out_dim,
        weight: rng.vec(out_dim * in_dim, bound),
        bias: rng.vec(out_dim, bound),
    }
}

fn weights(rng: &mut Rng) -> ModelWeights {
    // Binary inputs with ~18 ones: scale the encoder so u has unit-ish entries.
    let mut encoder = linear(rng, N_FEATURES, HIDDEN);
    for w in &mut encoder.weight {
        *w *= (N_FEATURES as f32 / 18.0).sqrt();
    }
    let stage = Stage {
        encoder,
        tables: (0..N_BANDS)
            .map(|_| rng.vec(N_NODES * HIDDEN, 1.0))
            .collect(),
        gates: (0..N_BANDS)
            .map(|_| Gate {
                weight: rng.vec(2 * HIDDEN, 1.0 / (2.0 * HIDDEN as f32).sqrt()),
                bias: rng.uniform(0.5),
            })
            .collect(),
    };
    ModelWeights {
        kind: ModelKind::FmlpS,
        n_nodes: N_NODES,
        n_features: N_FEATURES,
        n_classes: N_CLASSES,
        architecture: Architecture::Frameless {
            stages: vec![stage],
            band_classifiers: (0..N_BANDS)
                .map(|_| linear(rng, HIDDEN, N_CLASSES))
                .collect(),
            feature_classifier: linear(rng, HIDDEN, N_CLASSES),
        },
        metadata: OwnedMetadata {
            dataset: "synthetic-cora-size".into(),
            class_names: (0..N_CLASSES).map(|c| format!("class{c}")).collect(),
            test_accuracy: None,
        },
    }
}

/// One test node: id, sorted feature indices (values are all 1.0).
fn test_candidate(rng: &mut Rng) -> (u32, Vec<u32>) {
    let node = rng.below(N_NODES) as u32;
    let nnz = 14 + rng.below(9); // 14..=22, mean 18
    let mut idx: Vec<u32> = Vec::with_capacity(nnz);
    while idx.len() < nnz {
        let i = rng.below(N_FEATURES) as u32;
        if !idx.contains(&i) {
            idx.push(i);
        }
    }
    idx.sort_unstable();
    (node, idx)
}

fn margin(logits: &[f32]) -> f32 {
    let mut v = logits.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    v[0] - v[1]
}

struct Output {
    files: Vec<(PathBuf, Vec<u8>)>,
}

fn generate(dir: &Path) -> Result<Output, String> {
    let mut rng = Rng(SEED);
    let w = weights(&mut rng);
    let blobs: Vec<(Precision, &str, Vec<u8>)> = PRECISIONS
        .iter()
        .map(|&(p, name)| {
            write_blob(&w, p)
                .map(|b| (p, name, b))
                .map_err(|e| format!("write_blob({name}): {e:?}"))
        })
        .collect::<Result<_, _>>()?;
    let models: Vec<Model<'_>> = blobs
        .iter()
        .map(|(_, name, b)| Model::from_bytes(b).map_err(|e| format!("from_bytes({name}): {e}")))
        .collect::<Result<_, _>>()?;
    let scratch_len = models.iter().map(|m| m.scratch_len()).max().unwrap_or(0);
    let mut scratch = vec![0.0f32; scratch_len];

    // Test nodes: distinct ids whose prediction is not a near-tie in any precision.
    let mut tests: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut tries = 0;
    while tests.len() < N_TEST {
        tries += 1;
        if tries > 100 * N_TEST {
            return Err("could not find enough test nodes with a clear margin".into());
        }
        let (node, idx) = test_candidate(&mut rng);
        if tests.iter().any(|(n, _)| *n == node) {
            continue;
        }
        let values = vec![1.0f32; idx.len()];
        let mut clear = true;
        for m in &models {
            let p = m
                .predict(
                    node,
                    Features::Sparse {
                        indices: &idx,
                        values: &values,
                    },
                    &mut scratch,
                )
                .map_err(|e| format!("predict: {e}"))?;
            clear &= margin(p.logits) >= MIN_MARGIN;
        }
        if clear {
            tests.push((node, idx));
        }
    }

    let mut files = Vec::new();
    let mut ts = String::from(HEADER);
    let offsets: Vec<u32> = std::iter::once(0)
        .chain(tests.iter().scan(0u32, |acc, (_, idx)| {
            *acc += idx.len() as u32;
            Some(*acc)
        }))
        .collect();
    let indices: Vec<u32> = tests
        .iter()
        .flat_map(|(_, idx)| idx.iter().copied())
        .collect();
    ts += &format!(
        "/// Node ids of the test set.\npub static NODES: [u32; {N_TEST}] = {:?};\n",
        tests.iter().map(|t| t.0).collect::<Vec<_>>()
    );
    ts += &format!(
        "/// Test node `i` has features `INDICES[OFFSETS[i]..OFFSETS[i + 1]]` (sorted) with `VALUES` alike.\npub static OFFSETS: [u32; {}] = {:?};\n",
        offsets.len(),
        offsets
    );
    ts += &format!("/// Non-zero feature indices, all test nodes concatenated.\npub static INDICES: [u32; {}] = {:?};\n", indices.len(), indices);
    ts += &format!(
        "/// Non-zero feature values (binary bag-of-words: all 1.0).\npub static VALUES: [f32; {}] = [{}];\n",
        indices.len(),
        vec!["1.0"; indices.len()].join(", ")
    );
    files.push((dir.join("testset.rs"), ts.into_bytes()));

    for ((p, name, blob), m) in blobs.iter().zip(&models) {
        let d = m.dims();
        let mut ex = String::from(HEADER);
        ex += &format!(
            "/// Dimensions of `cora-fmlps-{name}.fgkd`.\npub const DIMS: frameless_engine::Dims = frameless_engine::Dims {{ n_nodes: {}, n_features: {}, hidden: {}, n_classes: {}, n_bands: {}, n_stages: {} }};\n",
            d.n_nodes, d.n_features, d.hidden, d.n_classes, d.n_bands, d.n_stages
        );
        ex += &format!(
            "/// f32 words of scratch this model needs (`Model::scratch_len` on the host).\npub const HOST_SCRATCH_WORDS: usize = {};\n",
            m.scratch_len()
        );
        let mut classes = Vec::new();
        let mut logits = String::new();
        for (node, idx) in &tests {
            let values = vec![1.0f32; idx.len()];
            let pr = m
                .predict(
                    *node,
                    Features::Sparse {
                        indices: idx,
                        values: &values,
                    },
                    &mut scratch,
                )
                .map_err(|e| format!("predict: {e}"))?;
            classes.push(pr.class);
            // `{:?}` prints the shortest decimal that reads back to the same f32.
            logits += &format!("    {:?},\n", pr.logits);
        }
        ex += &format!("/// Host engine's class per test node.\npub static CLASSES: [u32; {N_TEST}] = {classes:?};\n");
        ex += &format!("/// Host engine's logits per test node.\npub static LOGITS: [[f32; {}]; {N_TEST}] = [\n{logits}];\n", d.n_classes);
        files.push((dir.join(format!("expected-{name}.rs")), ex.into_bytes()));
        files.push((dir.join(format!("cora-fmlps-{name}.fgkd")), blob.clone()));
        eprintln!(
            "fw-gen: {p} blob {} bytes, scratch {} words",
            blob.len(),
            m.scratch_len()
        );
    }
    Ok(Output { files })
}

const HEADER: &str = "// @generated by firmware-examples/gen (fw-gen) from a seeded synthetic fmlp-s model; do not edit.\n";

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let out = match generate(&dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stale = 0;
    for (path, bytes) in &out.files {
        if check {
            if std::fs::read(path).ok().as_deref() != Some(bytes.as_slice()) {
                eprintln!("fw-gen: {} is stale; run `cargo run --release --manifest-path gen/Cargo.toml` in firmware-examples", path.display());
                stale += 1;
            }
        } else if let Err(e) = std::fs::write(path, bytes) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if stale > 0 {
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
