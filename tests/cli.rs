//! The `frameless` binary end to end: the demo on a small synthetic graph, then inspect,
//! predict, distill and export on its files, and bad inputs to every subcommand.

mod common;

use std::path::Path;

use assert_cmd::assert::OutputAssertExt;
use common::frameless;

/// Runs the small demo once per test binary and returns its folder.
/// Copies the student file `from` to `to` with `edit` applied to its JSON header line
/// (labels and splits are there; the binary sections after it are copied as they are).
fn edit_student_header(from: &Path, to: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let bytes = std::fs::read(from).unwrap();
    let end = bytes.iter().position(|&b| b == b'\n').unwrap();
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[..end]).unwrap();
    edit(&mut header);
    let mut out = header.to_string().into_bytes();
    out.extend_from_slice(&bytes[end..]);
    std::fs::write(to, out).unwrap();
}

fn demo_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = frameless()
            .args([
                "demo",
                "--nodes",
                "400",
                "--features",
                "40",
                "--classes",
                "3",
                "--seed",
                "1",
                "--json",
                "--out",
            ])
            .arg(dir.path())
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let p = report["precisions"].as_array().unwrap();
        assert_eq!(p.len(), 3);
        assert!(p[0]["max_abs_diff_vs_f32"].as_f64().unwrap() <= 1e-4);
        for q in p {
            assert!(
                q["engine_agreement_with_simulated"].as_f64().unwrap() >= 0.999,
                "{q}"
            );
            assert!(q["blob_bytes"].as_u64().unwrap() > 0);
        }
        let f32_acc = p[0]["engine_test_accuracy"].as_f64().unwrap();
        assert!(f32_acc > 0.5, "{report}");
        assert!(f32_acc - p[2]["engine_test_accuracy"].as_f64().unwrap() <= 0.005 + 1e-9);
        dir
    })
    .path()
}

fn stderr_line(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "expected failure");
    assert_eq!(out.status.code(), Some(1), "bad input exits 1");
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one-line reason, got {err:?}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_string()
}

#[test]
fn demo_inspect_and_predict() {
    let dir = demo_dir();
    for p in ["f32", "f16", "int8"] {
        assert!(dir.join(format!("model-{p}.fgkd")).is_file());
    }
    let out = frameless()
        .arg("inspect")
        .arg(dir.join("model-int8.fgkd"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        text.contains("fmlp-s (int8)") && text.contains("checksum    ok"),
        "{text}"
    );
    // The recipe: what the demo's student file knows about how the model was made.
    assert!(
        text.contains("recipe      frameless=") && text.contains(" student=fmlp-s "),
        "{text}"
    );
    let out = frameless()
        .arg("inspect")
        .arg(dir.join("model-int8.fgkd"))
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let recipe = &v["recipe"];
    assert_eq!(v["version"], 4);
    assert_eq!(recipe["teacher"], "spatial", "{v}");
    assert_eq!(recipe["student"], "fmlp-s");
    assert_eq!(recipe["seed"], "1");
    for key in [
        "lambda",
        "tau",
        "hidden",
        "dropout",
        "weight_decay",
        "epochs",
        "k",
    ] {
        assert!(recipe[key].is_string(), "{key} missing from {recipe}");
    }
    let out = frameless()
        .arg("predict")
        .arg(dir.join("model-f32.fgkd"))
        .args(["--node", "17", "--features", "3:1 17:0.5", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["logits"].as_array().unwrap().len(), 3);
    assert_eq!(v["gates"].as_array().unwrap().len(), 2);
}

#[test]
fn inspect_target_adds_the_budget() {
    let blob = demo_dir().join("model-int8.fgkd");
    let budget = |args: &[&str]| {
        let out = frameless()
            .arg("inspect")
            .arg(&blob)
            .args(args)
            .arg("--json")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["blob_bytes"].as_u64().unwrap(), v["budget"].clone())
    };
    let (blob_bytes, b) = budget(&["--target", "cortex-m4", "--nnz", "5"]);
    let n = |k: &str| b[k].as_f64().unwrap_or_else(|| panic!("{k} in {b}"));
    // flash = blob + engine code; RAM = scratch + stack + static; instr = instr/MAC x MACs.
    assert_eq!(n("flash_bytes"), blob_bytes as f64 + n("engine_code_bytes"));
    assert!(n("engine_code_bytes") > 1000.0);
    let ram = n("scratch_bytes") + n("stack_bytes") + n("engine_static_ram_bytes");
    assert_eq!(n("ram_bytes"), ram);
    assert_eq!(n("nnz"), 5.0);
    assert_eq!(
        n("instr_per_inference"),
        (n("instr_per_mac") * n("macs")).round()
    );
    // More input features, more MACs.
    let (_, b40) = budget(&["--target", "cortex-m4", "--nnz", "40"]);
    assert!(b40["macs"].as_u64().unwrap() > b["macs"].as_u64().unwrap());
    // Signature checking costs code.
    let (_, v) = budget(&["--target", "cortex-m4", "--verify"]);
    assert!(v["engine_code_bytes"].as_u64().unwrap() > n("engine_code_bytes") as u64);
    // The host: what the blob needs, and what is not known.
    let (_, h) = budget(&["--target", "host"]);
    assert!(h["flash_bytes"].is_null() && h["scratch_bytes"].as_u64().unwrap() > 0);
    assert!(h["unknown"].as_str().unwrap().contains("host"), "{h}");

    let out = frameless()
        .arg("inspect")
        .arg(&blob)
        .args(["--target", "riscv32"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        text.contains("budget      riscv32, features default") && text.contains("engine code"),
        "{text}"
    );
    // An f32 blob has no recorded verify figures: one line naming what is recorded.
    let l = stderr_line(
        frameless()
            .arg("inspect")
            .arg(demo_dir().join("model-f32.fgkd"))
            .args(["--target", "riscv32", "--verify"]),
    );
    assert!(
        l.contains("no budget recorded for riscv32 f32 with features verify"),
        "{l}"
    );
    assert!(l.contains("riscv32/int8/verify"), "{l}");
}

#[test]
fn distill_and_export_from_files_are_deterministic() {
    let dir = demo_dir();
    let work = tempfile::tempdir().unwrap();
    let student = work.path().join("s.json");
    // One thread, then two: the thread count must not change a single bit.
    for (i, blob) in ["a.fgkd", "b.fgkd"].iter().enumerate() {
        frameless()
            .args(["--threads", &(i + 1).to_string()])
            .args([
                "distill",
                "--student",
                "fmlp-o",
                "--epochs",
                "30",
                "-q",
                "--teacher",
            ])
            .arg(dir.join("soft-labels.json"))
            .arg("-o")
            .arg(&student)
            .assert()
            .success();
        let out = frameless()
            .args(["export", "--precision", "int8", "--student"])
            .arg(&student)
            .arg("-o")
            .arg(work.path().join(blob))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "run {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let a = std::fs::read(work.path().join("a.fgkd")).unwrap();
    let b = std::fs::read(work.path().join("b.fgkd")).unwrap();
    assert_eq!(
        a, b,
        "same seed and inputs give the same blob, on 1 or 2 threads"
    );
}

/// A student whose band tables are learnt from the features exports to the same blob
/// form (the export checks it against the engine) and says how it was made.
#[test]
fn feature_tables_export_and_show_in_inspect() {
    let dir = demo_dir();
    let work = tempfile::tempdir().unwrap();
    let blob = work.path().join("xv.fgkd");
    frameless()
        .args(["distill", "--student", "fmlp-o", "--feature-tables"])
        .args(["--epochs", "20", "-q", "--teacher"])
        .arg(dir.join("soft-labels.json"))
        .arg("-o")
        .arg(work.path().join("s.json"))
        .arg("--export")
        .arg(&blob)
        .assert()
        .success();
    let out = frameless().arg("inspect").arg(&blob).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("feature_tables=true"), "{text}");
}

#[test]
fn teacher_soft_labels_do_not_depend_on_the_thread_count() {
    let work = tempfile::tempdir().unwrap();
    // Big enough that the sparse products and gemm split over two threads; dense
    // features, so the first layer is a gemm.
    let log_probs = |threads: &str| {
        let out = work.path().join(threads);
        frameless()
            .args([
                "teacher",
                "--threads",
                threads,
                "--seeds",
                "1",
                "--epochs",
                "4",
                "-q",
            ])
            .args([
                "--dataset",
                "synthetic:nodes=3000,features=64,seed=2",
                "--out",
            ])
            .arg(&out)
            .assert()
            .success();
        let text = std::fs::read_to_string(out.join("synthetic-spatial-seed0.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["log_probs"].clone()
    };
    let one = log_probs("1");
    assert!(one.as_array().is_some_and(|p| p.len() > 3000), "{one}");
    assert_eq!(one, log_probs("2"));
}

#[test]
fn bad_inputs_give_one_line_and_exit_1() {
    let dir = demo_dir();
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("missing");
    // Missing files.
    let l = stderr_line(frameless().args(["distill", "--teacher"]).arg(&missing));
    assert!(l.contains("missing"), "{l}");
    stderr_line(frameless().args(["export", "--student"]).arg(&missing));
    stderr_line(frameless().arg("inspect").arg(&missing));
    stderr_line(frameless().arg("predict").arg(&missing).args([
        "--node",
        "0",
        "--features",
        "1:1",
    ]));
    // Not regular files: a device that never ends and a FIFO that nobody writes (each
    // read until memory ran out or blocked forever).
    #[cfg(unix)]
    {
        let l = stderr_line(frameless().args(["inspect", "/dev/zero"]));
        assert!(l.contains("not a regular file"), "{l}");
        let fifo = work.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let l = stderr_line(frameless().arg("inspect").arg(&fifo));
        assert!(l.contains("not a regular file"), "{l}");
    }
    // A blob with bytes after its declared end is read one byte past it and refused.
    let mut padded = std::fs::read(dir.join("model-int8.fgkd")).unwrap();
    padded.resize(padded.len() + 4096, 0);
    let padded_path = work.path().join("padded.fgkd");
    std::fs::write(&padded_path, &padded).unwrap();
    let l = stderr_line(frameless().arg("inspect").arg(&padded_path));
    assert!(l.contains("trailing bytes"), "{l}");
    // A corrupt blob: flip one body byte.
    let mut blob = std::fs::read(dir.join("model-int8.fgkd")).unwrap();
    let last = blob.len() - 1;
    blob[last] ^= 0x55;
    let corrupt = work.path().join("corrupt.fgkd");
    std::fs::write(&corrupt, &blob).unwrap();
    let l = stderr_line(frameless().arg("inspect").arg(&corrupt));
    assert!(l.contains("invalid blob"), "{l}");
    stderr_line(frameless().arg("predict").arg(&corrupt).args([
        "--node",
        "0",
        "--features",
        "1:1",
    ]));
    // Not a student file / not soft labels.
    stderr_line(
        frameless()
            .args(["export", "--student"])
            .arg(dir.join("model-f32.fgkd")),
    );
    stderr_line(
        frameless()
            .args(["distill", "--teacher"])
            .arg(dir.join("student.json")),
    );
    // A student file whose test list names a node that does not exist (it panicked).
    let bad_student = work.path().join("bad-student.json");
    edit_student_header(&dir.join("student.json"), &bad_student, |student| {
        student["test"]
            .as_array_mut()
            .unwrap()
            .push(99_999_999.into())
    });
    let l = stderr_line(
        frameless()
            .args(["export", "--student"])
            .arg(&bad_student)
            .arg("-o")
            .arg(work.path().join("never.fgkd")),
    );
    assert!(l.contains("test lists node 99999999"), "{l}");
    assert!(!work.path().join("never.fgkd").exists());
    // Unknown node, NaN feature, bad feature text.
    let model = dir.join("model-f32.fgkd");
    let l = stderr_line(frameless().arg("predict").arg(&model).args([
        "--node",
        "400",
        "--features",
        "1:1",
    ]));
    assert!(l.contains("node 400"), "{l}");
    stderr_line(frameless().arg("predict").arg(&model).args([
        "--node",
        "1",
        "--features",
        "1:NaN",
    ]));
    stderr_line(frameless().arg("predict").arg(&model).args([
        "--node",
        "1",
        "--features",
        "1:1 99:1",
    ]));
    stderr_line(
        frameless()
            .arg("predict")
            .arg(&model)
            .args(["--node", "1", "--features", "x"]),
    );
    // Wrong precision name, unknown student, bad demo parameters.
    let out = frameless()
        .args(["export", "--precision", "int4", "--student"])
        .arg(dir.join("student.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("int4"));
    let out = frameless()
        .args(["distill", "--student", "gcn", "--teacher", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    stderr_line(
        frameless()
            .args(["demo", "--homophily", "1.5", "--out"])
            .arg(work.path()),
    );
}

/// `results.jsonl` of an experiment folder, keyed by cell id, without the timings.
fn cells(dir: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let mut cell: serde_json::Value = serde_json::from_str(line).unwrap();
            cell.as_object_mut().unwrap().remove("seconds");
            (cell["id"].as_str().unwrap().to_string(), cell)
        })
        .collect()
}

#[test]
fn experiment_workers_store_the_same_cells_as_one_process() {
    let work = tempfile::tempdir().unwrap();
    // Synthetic families only, so the test needs no dataset folder.
    let run = |jobs: &str, out: &Path| {
        frameless()
            .args(["experiment", "--preset", "smoke", "--quiet"])
            .args(["--datasets", "csbm,csbm-150,csbm-120", "--jobs", jobs])
            .arg("--out")
            .arg(out)
            .assert()
            .success();
    };
    let (one, three) = (work.path().join("one"), work.path().join("three"));
    run("1", &one);
    run("3", &three);
    // Rerunning a finished folder with workers: nothing to do, and no worker may spawn
    // workers of its own (a one-cell shard once did, without end).
    assert_cmd::Command::from_std(frameless())
        .args(["experiment", "--preset", "smoke", "--quiet"])
        .args(["--datasets", "csbm,csbm-150,csbm-120", "--jobs", "2"])
        .arg("--out")
        .arg(&three)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    let (a, b) = (cells(&one), cells(&three));
    assert_eq!(a.len(), 8, "2 sweep + 2 real + 4 over-squashing cells");
    assert_eq!(a, b, "worker processes changed a result");
    assert!(three.join("report.md").is_file());
    // A shard stores only its part and writes no report.
    let part = work.path().join("part");
    frameless()
        .args([
            "experiment",
            "--preset",
            "smoke",
            "--quiet",
            "--shard",
            "1/3",
        ])
        .args(["--datasets", "csbm,csbm-150,csbm-120", "--out"])
        .arg(&part)
        .assert()
        .success();
    let stored = cells(&part);
    assert!(!stored.is_empty() && stored.len() < a.len());
    assert!(stored.iter().all(|(id, cell)| a[id] == *cell));
    assert!(!part.join("report.md").exists());
    let out = frameless()
        .args(["experiment", "--shard", "3/3", "--out"])
        .arg(&part)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 <= K < N"));
}

#[test]
fn distill_rewires_the_graph_the_teacher_was_trained_on() {
    let work = tempfile::tempdir().unwrap();
    let soft = work.path().join("soft");
    frameless()
        .args([
            "teacher",
            "--dataset",
            "synthetic:nodes=300,features=20,homophily=0.3",
        ])
        .args([
            "--seeds",
            "1",
            "--epochs",
            "20",
            "--surgery",
            "sdrf:30",
            "--quiet",
        ])
        .arg("--out")
        .arg(&soft)
        .assert()
        .success();
    let rewired = soft.join("synthetic+sdrf30-spatial-seed0.json");
    let mut labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&rewired).unwrap()).unwrap();
    assert_eq!(labels["surgery"]["iterations"], 30);
    // The same soft labels, said to come from the graph as loaded.
    labels.as_object_mut().unwrap().remove("surgery");
    let original = work.path().join("original.json");
    std::fs::write(&original, labels.to_string()).unwrap();
    let distill = |teacher: &Path, out: &Path| {
        frameless()
            .args([
                "distill",
                "--student",
                "fmlp-s",
                "--epochs",
                "10",
                "--quiet",
            ])
            .arg("--teacher")
            .arg(teacher)
            .arg("--out")
            .arg(out)
            .assert()
            .success();
        std::fs::read(out).unwrap()
    };
    let on_rewired = distill(&rewired, &work.path().join("a.json"));
    let on_original = distill(&original, &work.path().join("b.json"));
    assert_ne!(
        on_rewired, on_original,
        "distill ignored the recorded surgery"
    );
}

#[test]
fn fit_exports_its_choice_and_reruns_it_from_the_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("toy.fgkd");
    let common = [
        "--dataset",
        "synthetic:nodes=200,classes=3,features=20,homophily=0.3",
        "--teachers",
        "spatial",
        "--epochs",
        "25",
        "--patience",
        "5",
        "--jobs",
        "2",
        "--val-partitions",
        "2",
        "--json",
    ];
    let out = frameless()
        .arg("fit")
        .args(common)
        .args(["--seeds", "2", "-o"])
        .arg(&blob)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let report = &v["report"];
    assert_eq!(report["choices"].as_array().unwrap().len(), 2);
    assert_eq!(report["val_partitions"], 2);
    let fit = report["fit"]["mean"].as_f64().unwrap();
    let int8 = report["fit_int8"]["mean"].as_f64().unwrap();
    assert!(fit > 40.0 && (fit - int8).abs() <= 5.0, "{report}");
    let export = &v["export"];
    assert!(export["agreement_with_simulated"].as_f64().unwrap() >= 0.999);
    let report_dir = dir.path().join("toy-fit");
    for file in [
        "report.md",
        "fit.json",
        "recipe.json",
        "validation-vs-test.svg",
    ] {
        assert!(report_dir.join(file).is_file(), "{file} missing");
    }
    let md = std::fs::read_to_string(report_dir.join("report.md")).unwrap();
    assert!(md.contains("plain MLP") && md.contains("Verdict"), "{md}");
    // The blob's recipe is the first seed's choice.
    let out = frameless()
        .arg("inspect")
        .arg(&blob)
        .arg("--json")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let meta: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let (recipe, chosen) = (&meta["recipe"], &report["choices"][0]["recipe"]);
    assert_eq!(
        recipe["student"], chosen["student"]["kind"],
        "{recipe} vs {chosen}"
    );
    let num = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
    assert_eq!(num(&recipe["lambda"]), chosen["lambda"].as_f64().unwrap());
    assert_eq!(num(&recipe["tau"]), chosen["tau"].as_f64().unwrap());
    assert_eq!(
        num(&recipe["weight_decay"]),
        chosen["weight_decay"].as_f64().unwrap()
    );
    assert_eq!(
        num(&recipe["hidden"]),
        chosen["student"]["hidden"].as_f64().unwrap()
    );
    assert_eq!(
        num(&recipe["dropout"]),
        chosen["student"]["dropout"].as_f64().unwrap()
    );
    match chosen["teacher"].as_str() {
        Some(t) => {
            assert_eq!(recipe["teacher"], t);
            assert_eq!(
                num(&recipe["teacher_members"]),
                chosen["teacher_members"].as_f64().unwrap()
            );
        }
        None => assert_eq!(recipe["teacher"], "labels"),
    }
    if chosen["student"]["kind"] != "mlp" {
        let levels = chosen["levels"].as_f64().unwrap_or(1.0);
        assert_eq!(num(&recipe["levels"]), levels, "{recipe}");
        let epsilon = chosen["epsilon"].as_f64().unwrap_or(0.0);
        assert_eq!(num(&recipe["epsilon"]), epsilon, "{recipe}");
    }
    assert_eq!(recipe["max_epochs"], "25");
    assert_eq!(recipe["patience"], "5");
    assert_eq!(
        recipe["seed"],
        report["choices"][0]["seed"].to_string().as_str()
    );

    // `--config` re-runs exactly the first seed's recipe.
    let rerun = dir.path().join("again.fgkd");
    let out = frameless()
        .arg("fit")
        .args(common)
        .args(["--seeds", "1", "--config"])
        .arg(report_dir.join("recipe.json"))
        .arg("-o")
        .arg(&rerun)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let again: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        again["report"]["val_partitions"], 1,
        "one recipe: nothing to choose, one partition"
    );
    assert_eq!(
        again["report"]["choices"][0]["recipe"],
        report["choices"][0]["recipe"]
    );
    assert_eq!(
        std::fs::read(&rerun).unwrap(),
        std::fs::read(&blob).unwrap(),
        "the same recipe and seed give the same blob"
    );
}

/// A 60-node plain dataset folder (a path, two classes) with `meta.txt` saying `meta`.
fn plain_folder(root: &Path, name: &str, meta: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let lines = |f: &dyn Fn(usize) -> String| (0..60).map(f).collect::<Vec<_>>().join("\n");
    std::fs::write(dir.join("meta.txt"), meta).unwrap();
    let features = lines(&|i| format!("{i}\t{}:1 {}:0.5", i % 2, 2 + i % 3));
    std::fs::write(dir.join("features.txt"), features).unwrap();
    std::fs::write(dir.join("labels.txt"), lines(&|i| (i % 2).to_string())).unwrap();
    let edges = (0..59)
        .map(|i| format!("{i}\t{}", i + 1))
        .collect::<Vec<_>>();
    std::fs::write(dir.join("edges.txt"), edges.join("\n")).unwrap();
    dir
}

/// A 61-node geom-gcn folder whose last node has `last` as features and label.
fn geom_folder(root: &Path, name: &str, header: &str, last: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut nodes = format!("node_id\t{header}\tlabel\n");
    for i in 0..60 {
        nodes.push_str(&format!("{i}\t{}\t{}\n", i % 2, i % 2));
    }
    nodes.push_str(&format!("60\t{last}\n"));
    std::fs::write(dir.join("out1_node_feature_label.txt"), nodes).unwrap();
    let edges: String = (0..60).map(|i| format!("{i}\t{}\n", i + 1)).collect();
    std::fs::write(dir.join("out1_graph_edges.txt"), format!("a\tb\n{edges}")).unwrap();
    dir
}

/// `frameless ARGS` under an address-space limit of `gib` GiB (`ulimit -v`).
fn limited(gib: u64, args: &[&std::ffi::OsStr]) -> std::process::Command {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {} && exec \"$0\" \"$@\"", gib << 20))
        .arg(env!("CARGO_BIN_EXE_frameless"))
        .args(args);
    cmd
}

/// Issue 17, item 2: every count that would have the CLI allocate terabytes (and die with
/// SIGABRT) is refused with exit 1 and a sentence naming the input and the memory it needs.
#[test]
fn too_large_inputs_are_refused_with_an_estimate() {
    let work = tempfile::tempdir().unwrap();
    let teacher = |dataset: &Path| {
        let mut cmd = frameless();
        cmd.args([
            "teacher",
            "--seeds",
            "1",
            "--epochs",
            "2",
            "-q",
            "--dataset",
        ])
        .arg(dataset);
        cmd
    };
    // The folder itself is fine: trains.
    let ok = plain_folder(
        work.path(),
        "ok",
        "num_nodes=60\nnum_features=5\nnum_classes=2\n",
    );
    teacher(&ok).assert().success();
    // num_features of 10^9 and 10^12 in meta.txt: terabytes and petabytes of weights.
    for (features, size) in [("1000000000", "TiB"), ("1000000000000", "PiB")] {
        let meta = format!("num_nodes=60\nnum_features={features}\nnum_classes=2\n");
        let dir = plain_folder(work.path(), &format!("f{features}"), &meta);
        let l = stderr_line(&mut teacher(&dir));
        assert!(
            l.contains(&format!("60 nodes × {features} features"))
                && l.contains("is too large for this machine")
                && l.contains(size)
                && l.contains("teacher tensors + gradients"),
            "{l}"
        );
    }
    // num_classes of 10^12: refused from the labels present, nothing allocated for it.
    let dir = plain_folder(
        work.path(),
        "c12",
        "num_nodes=60\nnum_features=5\nnum_classes=1000000000000\n",
    );
    let l = stderr_line(&mut teacher(&dir));
    assert!(l.contains("class 2 has no labelled node"), "{l}");
    // geom-gcn: one label of 10^12; one index column of 4294967294 (F = 2^32 − 1).
    let dir = geom_folder(work.path(), "label", "feature", "1\t1000000000000");
    let l = stderr_line(&mut teacher(&dir));
    assert!(l.contains("class 2 has no labelled node"), "{l}");
    let index = geom_folder(
        work.path(),
        "index",
        "feature(feature_amount:3)",
        "4294967294\t1",
    );
    let l = stderr_line(&mut teacher(&index));
    assert!(
        l.contains("61 nodes × 4294967295 features") && l.contains("TiB"),
        "{l}"
    );
    // A synthetic graph of 20M nodes: refused before it is generated (it was a SIGABRT
    // in Csr::transpose), under a 16 GiB limit so the verdict is the same on any machine.
    let big = std::ffi::OsStr::new("synthetic:nodes=20000000");
    let args = ["teacher", "--seeds", "1", "-q", "--dataset"].map(std::ffi::OsStr::new);
    let l = stderr_line(&mut limited(16, &[&args[..], &[big]].concat()));
    assert!(
        l.contains("20000000 nodes × 200 features") && l.contains("GiB at peak"),
        "{l}"
    );
    // 1M nodes (about 4.6 GiB estimated) under a 4 GiB limit: refused up front, naming
    // the limit.
    let million = std::ffi::OsStr::new("synthetic:nodes=1000000");
    let l = stderr_line(&mut limited(4, &[&args[..], &[million]].concat()));
    assert!(
        l.contains("1000000 nodes") && l.contains("the address-space limit, ulimit -v"),
        "{l}"
    );
    // A soft-label file whose (untrusted) source says 20M nodes: refused before loading.
    let mut soft: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo_dir().join("soft-labels.json")).unwrap())
            .unwrap();
    soft["source"] = "synthetic:nodes=20000000,classes=3,features=40".into();
    let forged = work.path().join("forged.json");
    std::fs::write(&forged, soft.to_string()).unwrap();
    let distill = ["distill", "-q", "--teacher"].map(std::ffi::OsStr::new);
    let l = stderr_line(&mut limited(
        16,
        &[&distill[..], &[forged.as_os_str()]].concat(),
    ));
    assert!(
        l.contains("20000000 nodes × 40 features") && l.contains("student tables + tensors"),
        "{l}"
    );
    // The same file said to be a graph of another size than its log-probabilities: refused
    // before generating it.
    soft["source"] = "synthetic:nodes=500,classes=3,features=40".into();
    std::fs::write(&forged, soft.to_string()).unwrap();
    let l = stderr_line(
        frameless()
            .args(["distill", "-q", "--teacher"])
            .arg(&forged),
    );
    assert!(l.contains("soft labels are for 400 nodes"), "{l}");
}

/// Issue 17, item 3: a student file whose labels name a class that does not exist passed
/// silently; it is refused on load.
#[test]
fn student_file_labels_must_be_classes() {
    let work = tempfile::tempdir().unwrap();
    let bad = work.path().join("bad-labels.json");
    edit_student_header(&demo_dir().join("student.json"), &bad, |student| {
        student["labels"][5] = 3.into(); // three classes: 0, 1, 2
    });
    let out = work.path().join("never.fgkd");
    let l = stderr_line(
        frameless()
            .args(["export", "--student"])
            .arg(&bad)
            .arg("-o")
            .arg(&out),
    );
    assert!(
        l.contains("node 5 has label 3, which is not a class"),
        "{l}"
    );
    assert!(!out.exists());
}

/// `blob` with the first `bad.len()` bytes of its first tensor (the first layer's weights)
/// replaced by `bad` and its header re-sealed, as anyone can do.
fn first_weight_resealed(blob: &[u8], bad: &[u8]) -> Vec<u8> {
    use frameless_engine::{Dims, Header, Metadata, ModelKind, Precision};
    let (mut h, body): (Header, &[u8]) = postcard::take_from_bytes(blob).unwrap();
    let (_, rest): ((ModelKind, Precision, Dims), &[u8]) = postcard::take_from_bytes(body).unwrap();
    let (_, rest): (Metadata, &[u8]) = postcard::take_from_bytes(rest).unwrap();
    // The id map, then the calibration section (empty for float blobs), then the tensors.
    let (_ids, rest): (&[u8], &[u8]) = postcard::take_from_bytes(rest).unwrap();
    let (_, tensors): (&[u8], &[u8]) = postcard::take_from_bytes(rest).unwrap();
    let (w, _): (&[u8], &[u8]) = postcard::take_from_bytes(tensors).unwrap();
    let start = w.as_ptr() as usize - body.as_ptr() as usize;
    let mut body = body.to_vec();
    body[start..start + bad.len()].copy_from_slice(bad);
    h.body_sha256 = frameless_engine::sha256(&body);
    let mut out = postcard::to_stdvec(&h).unwrap();
    out.extend_from_slice(&body);
    out
}

#[test]
fn non_finite_or_out_of_range_weights_exit_1() {
    // A NaN / Inf f32 weight, an Inf f16 weight, an int8 weight of -128, each re-sealed:
    // inspect said "checksum ok" and predict exited 0 with NaN logits and a class.
    let dir = demo_dir();
    let work = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 4] = [
        ("f32", f32::NAN.to_le_bytes().to_vec()),
        ("f32", f32::INFINITY.to_le_bytes().to_vec()),
        ("f16", 0x7C00u16.to_le_bytes().to_vec()),
        ("int8", vec![0x80]),
    ];
    for (i, (p, bad)) in cases.iter().enumerate() {
        let blob = std::fs::read(dir.join(format!("model-{p}.fgkd"))).unwrap();
        let path = work.path().join(format!("bad-{i}.fgkd"));
        std::fs::write(&path, first_weight_resealed(&blob, bad)).unwrap();
        let l = stderr_line(frameless().arg("inspect").arg(&path));
        assert!(l.contains("non-finite or out-of-range value in"), "{l}");
        let l = stderr_line(frameless().arg("predict").arg(&path).args([
            "--node",
            "0",
            "--features",
            "1:1",
        ]));
        assert!(l.contains("out-of-range value"), "{l}");
    }
}

#[test]
fn keygen_export_sign_and_inspect_verify() {
    let dir = demo_dir();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    for k in ["a", "b"] {
        frameless()
            .args(["keygen", "--out"])
            .arg(w.join(k))
            .assert()
            .success();
        let public = std::fs::read_to_string(w.join(format!("{k}.pub"))).unwrap();
        assert_eq!(public.trim().len(), 64, "{public}");
    }
    // An existing key is never replaced.
    let l = stderr_line(frameless().args(["keygen", "--out"]).arg(w.join("a")));
    assert!(l.contains("already exists"), "{l}");
    let export = |out: &str| {
        frameless()
            .args(["export", "--precision", "int8", "--student"])
            .arg(dir.join("student.json"))
            .arg("--sign")
            .arg(w.join("a.key"))
            .arg("-o")
            .arg(w.join(out))
            .assert()
            .success();
        std::fs::read(w.join(out)).unwrap()
    };
    let signed = export("s1.fgkd");
    assert_eq!(signed, export("s2.fgkd"), "signing is deterministic");
    let inspect = |key: Option<&str>| {
        let mut c = frameless();
        c.arg("inspect").arg(w.join("s1.fgkd"));
        if let Some(k) = key {
            c.arg("--public-key").arg(w.join(k));
        }
        c
    };
    let out = inspect(None).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("checksum    ok (sha-256 "), "{text}");
    assert!(text.contains("signature   ed25519, not checked"), "{text}");
    let out = inspect(Some("a.pub")).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("ed25519, valid for"));
    // The other key, and an unsigned blob, are refused.
    let l = stderr_line(&mut inspect(Some("b.pub")));
    assert!(l.contains("signature does not verify"), "{l}");
    let l = stderr_line(
        frameless()
            .arg("inspect")
            .arg(dir.join("model-int8.fgkd"))
            .arg("--public-key")
            .arg(w.join("a.pub")),
    );
    assert!(l.contains("unsigned"), "{l}");
    // A bad key file writes nothing.
    std::fs::write(w.join("bad.key"), "xyz\n").unwrap();
    let l = stderr_line(
        frameless()
            .args(["export", "--student"])
            .arg(dir.join("student.json"))
            .arg("--sign")
            .arg(w.join("bad.key"))
            .arg("-o")
            .arg(w.join("never.fgkd")),
    );
    assert!(l.contains("not a key file"), "{l}");
    assert!(!w.join("never.fgkd").exists());
}

/// `predict --json` logits of `blob` for `args`, or the one-line error (exit 1).
fn predict_json(blob: &Path, args: &[&str]) -> Result<Vec<f64>, String> {
    let mut cmd = frameless();
    cmd.arg("predict")
        .arg(blob)
        .args(args)
        .args(["--features", "3:1 17:0.5", "--json"]);
    let out = cmd.output().unwrap();
    if !out.status.success() {
        return Err(stderr_line(&mut cmd));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    Ok(v["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect())
}

#[test]
fn export_nodes_slices_the_blob_and_predict_new_answers_new_nodes() {
    let dir = demo_dir();
    let work = tempfile::tempdir().unwrap();
    let sliced = work.path().join("device.fgkd");
    std::fs::write(work.path().join("ids.txt"), "5\n17-19\n").unwrap();
    let ids = format!("@{}", work.path().join("ids.txt").display());
    let out = frameless()
        .args([
            "export",
            "--precision",
            "int8",
            "--json",
            "--nodes",
            &ids,
            "--student",
        ])
        .arg(dir.join("student.json"))
        .arg("-o")
        .arg(&sliced)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["parity"]["kept_nodes"], 4);
    let full = dir.join("model-int8.fgkd");
    let (full_len, sliced_len) = (
        std::fs::metadata(&full).unwrap().len(),
        std::fs::metadata(&sliced).unwrap().len(),
    );
    assert_eq!(v["parity"]["blob_bytes"], sliced_len);
    assert!(sliced_len < full_len, "{sliced_len} vs {full_len}");
    // Kept nodes answer as in the full blob; others are refused by name.
    assert_eq!(
        predict_json(&sliced, &["--node", "17"]),
        predict_json(&full, &["--node", "17"])
    );
    let e = predict_json(&sliced, &["--node", "6"]).unwrap_err();
    assert!(e.contains("node 6 not kept in this blob"), "{e}");
    let inspect = frameless().arg("inspect").arg(&sliced).output().unwrap();
    let text = String::from_utf8(inspect.stdout).unwrap();
    assert!(
        text.contains("nodes       4 kept (id map, ids 5..=19)"),
        "{text}"
    );
    // A new node from kept neighbours; an unknown neighbour is refused.
    let new = predict_json(&sliced, &["--new", "5,18"]).unwrap();
    assert_eq!(new.len(), 3);
    let e = predict_json(&sliced, &["--new", "5,6"]).unwrap_err();
    assert!(e.contains("neighbour 6 has no table row"), "{e}");
    // Bad lists name the id.
    for (list, want) in [
        ("1,0-2", "node 1 listed twice"),
        ("399,400", "node 400 out of range"),
    ] {
        let mut cmd = frameless();
        cmd.args(["export", "--nodes", list, "--student"])
            .arg(dir.join("student.json"));
        cmd.arg("-o").arg(work.path().join("bad.fgkd"));
        let e = stderr_line(&mut cmd);
        assert!(e.contains(want), "{e}");
    }
    assert!(!work.path().join("bad.fgkd").exists());
}

#[test]
fn inductive_quick_mode_writes_its_table() {
    let Some(texas) = common::dataset("texas") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let run = || {
        frameless()
            .args([
                "inductive",
                "--datasets",
                "texas",
                "--seeds",
                "2",
                "--quick",
                "--data-root",
            ])
            .arg(texas.parent().unwrap())
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap()
    };
    let first = run();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let table = String::from_utf8(first.stdout).unwrap();
    assert!(table.contains("| texas | 2 |"), "{table}");
    let rows = std::fs::read_to_string(out.path().join("inductive.jsonl")).unwrap();
    assert_eq!(rows.lines().count(), 2);
    for line in rows.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in [
            "new_node",
            "transductive",
            "mlp",
            "features_only",
            "new_node_int8",
            "neighbour_vote",
        ] {
            let a = v[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&a), "{key} {a}");
        }
        assert!(v["held_out"].as_u64().unwrap() >= 1);
    }
    // A rerun resumes: nothing new is trained, the same table comes out.
    let second = run();
    assert_eq!(String::from_utf8(second.stdout).unwrap(), table);
    assert!(
        second.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let bad = frameless()
        .args(["inductive", "--datasets", "texas", "--held-out", "1.5"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

/// `fit` counts its `--jobs` trials alive at once: a small graph that one trial fits is
/// refused, before it is generated, when a trillion trials would run together.
#[test]
fn fit_refuses_more_jobs_than_memory_holds() {
    let l = stderr_line(frameless().args([
        "fit",
        "--dataset",
        "synthetic:nodes=200,classes=3,features=20",
        "--jobs",
        "1000000000000",
        "-q",
    ]));
    assert!(
        l.contains("is too large for this machine")
            && l.contains("1000000000000 trials at once (--jobs 1000000000000)"),
        "{l}"
    );
}
