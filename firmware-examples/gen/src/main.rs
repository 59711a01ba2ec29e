//! Host tool: writes the firmware's model files (blob, test nodes, host
//! predictions) into `../models/` or `--out DIR`.
//!
//! A deterministic Cora-size fmlp-s student (N=2708 nodes, F=1433 binary
//! features, d=64, C=7 classes, B=2 bands, one stage) with seeded
//! pseudo-random weights, written with the engine's own
//! `frameless_engine::writer::write_blob` in every precision, plus a fixed
//! set of test nodes with ~18 non-zero binary features each, and the host
//! engine's predictions (`Model::predict`: class and logits) for them.
//!
//! With `--blob`, the same files for one exported blob (`frameless export`
//! or `frameless demo`) instead: the engine validates it, and the test nodes
//! are drawn over its own nodes and features.
//!
//! ```text
//! cd firmware-examples
//! cargo run --release --manifest-path gen/Cargo.toml              # (re)write models/
//! cargo run --release --manifest-path gen/Cargo.toml -- --check   # exit 1 if models/ is stale
//! cargo run --release --manifest-path gen/Cargo.toml -- --blob model-int8.fgkd --out my-models
//! ```
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use frameless_engine::writer::{
    write_blob, Architecture, Gate, Linear, ModelWeights, OwnedMetadata, Stage,
};
use frameless_engine::{Features, Model, ModelKind, Precision};

mod rng;
use rng::Rng;

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
const PRECISIONS: [Precision; 3] = [Precision::F32, Precision::F16, Precision::Int8];
/// The fixed test key that signs `model-<p>.signed.fgkd` (one precision: int8, else
/// f16, else f32), and another key, whose
/// public half the firmware must refuse the signed blob with.
const SIGNING_SEED: [u8; 32] = [0x5E; 32];
const OTHER_SEED: [u8; 32] = [0xA7; 32];

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
            recipe: Vec::new(),
        },
        calibration: None,
    }
}

/// One test node: id in `0..n_nodes`, sorted feature indices in
/// `0..n_features` (values are all 1.0).
fn test_candidate(rng: &mut Rng, n_nodes: usize, n_features: usize) -> (u32, Vec<u32>) {
    let node = rng.below(n_nodes) as u32;
    // 14..=22 ones (mean 18, as in Cora); at most a quarter of a small
    // feature space, so the input stays sparse and the draw terminates.
    let nnz = (14 + rng.below(9)).min(n_features.div_ceil(4));
    let mut idx: Vec<u32> = Vec::with_capacity(nnz);
    while idx.len() < nnz {
        let i = rng.below(n_features) as u32;
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

/// Class and logits of the host engine for one test node.
fn predict(
    m: &Model<'_>,
    (node, idx): &(u32, Vec<u32>),
    scratch: &mut [f32],
) -> Result<(u32, Vec<f32>), String> {
    let values = vec![1.0f32; idx.len()];
    let p = m
        .predict(
            *node,
            Features::Sparse {
                indices: idx,
                values: &values,
            },
            scratch,
        )
        .map_err(|e| format!("predict(node {node}): {e}"))?;
    Ok((p.class, p.logits.to_vec()))
}

/// Every file the firmware includes, for blobs that share one graph and
/// feature space (one per precision): `testset.rs`, and per blob
/// `model-<precision>.fgkd` and `expected-<precision>.rs`. `source` names
/// where the blobs came from in the generated files' header.
fn model_files(
    dir: &Path,
    source: &str,
    rng: &mut Rng,
    blobs: &[Vec<u8>],
) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let models: Vec<Model<'_>> = blobs
        .iter()
        .map(|b| Model::from_bytes(b).map_err(|e| format!("not a valid blob: {e}")))
        .collect::<Result<_, _>>()?;
    let dims = models.first().ok_or("no blob")?.dims();
    if (dims.n_nodes as usize) < N_TEST {
        return Err(format!(
            "the firmware's test set needs {N_TEST} distinct nodes, the model has {}",
            dims.n_nodes
        ));
    }
    let scratch_len = models.iter().map(|m| m.scratch_len()).max().unwrap_or(0);
    let mut scratch = vec![0.0f32; scratch_len];
    let header =
        format!("// @generated by firmware-examples/gen (fw-gen) from {source}; do not edit.\n");

    // Test nodes: distinct ids whose prediction is not a near-tie in any precision.
    let mut tests: Vec<(u32, Vec<u32>)> = Vec::new();
    let mut tries = 0;
    while tests.len() < N_TEST {
        tries += 1;
        if tries > 100 * N_TEST {
            return Err("could not find enough test nodes with a clear margin".into());
        }
        let t = test_candidate(rng, dims.n_nodes as usize, dims.n_features as usize);
        // A sliced blob (`export --nodes`) answers its kept nodes by their original ids.
        let t = (models[0].node_id(t.0).unwrap_or(t.0), t.1);
        if tests.iter().any(|(n, _)| *n == t.0) {
            continue;
        }
        let mut clear = true;
        for m in &models {
            clear &= margin(&predict(m, &t, &mut scratch)?.1) >= MIN_MARGIN;
        }
        if clear {
            tests.push(t);
        }
    }

    let mut files = Vec::new();
    let mut ts = header.clone();
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
    ts += &format!(
        "/// Public key of the test key that signed `model-<p>.signed.fgkd`.\n#[cfg(feature = \"sig-test\")]\npub const SIGNING_KEY: [u8; 32] = {:?};\n/// Public key of another key: the signed blobs must be refused with it.\n#[cfg(feature = \"sig-test\")]\npub const OTHER_KEY: [u8; 32] = {:?};\n",
        frameless_engine::verify::public_key(&SIGNING_SEED),
        frameless_engine::verify::public_key(&OTHER_SEED)
    );
    files.push((dir.join("testset.rs"), ts.into_bytes()));

    for (blob, m) in blobs.iter().zip(&models) {
        let (p, d) = (m.precision(), m.dims());
        if d != dims {
            return Err(format!("{p} blob has other dims than the first blob"));
        }
        let mut ex = header.clone();
        ex += &format!(
            "/// Dimensions of `model-{p}.fgkd`.\npub const DIMS: frameless_engine::Dims = frameless_engine::Dims {{ n_nodes: {}, n_features: {}, hidden: {}, n_classes: {}, n_bands: {}, n_stages: {} }};\n",
            d.n_nodes, d.n_features, d.hidden, d.n_classes, d.n_bands, d.n_stages
        );
        ex += &format!(
            "/// f32 words of scratch this model needs (`Model::scratch_len` on the host).\npub const HOST_SCRATCH_WORDS: usize = {};\n",
            m.scratch_len()
        );
        let mut classes = Vec::new();
        let mut logits = String::new();
        for t in &tests {
            let (class, l) = predict(m, t, &mut scratch)?;
            classes.push(class);
            // `{:?}` prints the shortest decimal that reads back to the same f32.
            logits += &format!("    {l:?},\n");
        }
        ex += &format!("/// Host engine's class per test node.\npub static CLASSES: [u32; {N_TEST}] = {classes:?};\n");
        ex += &format!("/// Host engine's logits per test node.\npub static LOGITS: [[f32; {}]; {N_TEST}] = [\n{logits}];\n", d.n_classes);
        files.push((dir.join(format!("expected-{p}.rs")), ex.into_bytes()));
        files.push((dir.join(format!("model-{p}.fgkd")), blob.clone()));
        // One signed copy, of the precision run.sh's self-tests use (int8, else f16, else f32).
        if Some(p)
            == [Precision::Int8, Precision::F16, Precision::F32]
                .into_iter()
                .find(|q| models.iter().any(|m| m.precision() == *q))
        {
            let signed = frameless_engine::verify::sign(blob, &SIGNING_SEED)
                .map_err(|e| format!("signing the {p} blob: {e}"))?;
            files.push((dir.join(format!("model-{p}.signed.fgkd")), signed));
        }
        eprintln!(
            "fw-gen: {p} {} blob {} bytes, scratch {} words",
            m.kind(),
            blob.len(),
            m.scratch_len()
        );
    }
    Ok(files)
}

/// The seeded synthetic model in every precision, for `models/`.
fn synthetic_files(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let mut rng = Rng(SEED);
    let w = weights(&mut rng);
    // int8 calibrates on inputs like the test set's: every node, 14-22 ones.
    let mut cal = Rng(SEED ^ 0xCA11);
    let (n, f) = (w.n_nodes, w.n_features);
    let inputs: Vec<(u32, Vec<u32>)> = (0..n).map(|_| test_candidate(&mut cal, n, f)).collect();
    let ones = vec![1.0f32; f];
    let w = w.calibrated(inputs.iter().enumerate().map(|(i, (_, idx))| {
        let values = &ones[..idx.len()];
        (i, Features::Sparse { indices: idx, values })
    }));
    let blobs: Vec<Vec<u8>> = PRECISIONS
        .iter()
        .map(|&p| write_blob(&w, p).map_err(|e| format!("write_blob({p}): {e:?}")))
        .collect::<Result<_, _>>()?;
    model_files(dir, "a seeded synthetic fmlp-s model", &mut rng, &blobs)
}

/// One exported blob (`frameless export`/`demo`), checked by the engine's
/// own loader, with test nodes drawn over its graph and feature space.
fn blob_files(path: &Path, dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>, String> {
    let blob = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let name = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    model_files(dir, &format!("`{name}`"), &mut Rng(SEED), &[blob])
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// What the command line asks for.
struct Args {
    /// Compare with the files on disk instead of writing them.
    check: bool,
    /// An exported blob to carry instead of the synthetic models.
    blob: Option<PathBuf>,
    /// Where the files go (default: `models/`).
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        check: false,
        blob: None,
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"),
    };
    let mut out_given = false;
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .map(PathBuf::from)
                .ok_or(format!("{} needs a value", a.to_string_lossy()))
        };
        match a.to_str() {
            Some("--check") => args.check = true,
            Some("--blob") => args.blob = Some(value()?),
            Some("--out") => {
                args.out = value()?;
                out_given = true;
            }
            _ => {
                return Err(format!(
                    "unknown argument {}; usage: fw-gen [--check] [--blob MODEL.fgkd --out DIR]",
                    a.to_string_lossy()
                ))
            }
        }
    }
    // Never over `models/` by default: its other precisions would then
    // disagree with the new test set.
    if args.blob.is_some() && !out_given {
        return Err("--blob needs --out DIR".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let files = match &args.blob {
        Some(blob) => blob_files(blob, &args.out),
        None => synthetic_files(&args.out),
    };
    let files = match files {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.check {
        if let Err(e) = std::fs::create_dir_all(&args.out) {
            eprintln!("error: creating {}: {e}", args.out.display());
            return ExitCode::from(2);
        }
    }
    let mut stale = 0;
    for (path, bytes) in &files {
        if args.check {
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
