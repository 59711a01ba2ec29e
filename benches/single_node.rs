//! One node's answer on Cora: the engine (f32, int8) against the spatial teacher.
//!
//! The teacher cannot answer one node alone: two layers of `W Â W` reach six hops, so
//! its single-node query is a forward pass over the node's 6-hop ball (the induced
//! subgraph). Its full-graph forward is timed too (divide by N for a per-node cost).
//! Weights do not change the cost, so the teacher is freshly initialised and the engine
//! runs the Cora-size blobs committed for the firmware. Compare the medians:
//! `teacher_6hop_ball / engine_int8` is the speed-up of a single-node query.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use candle_core::Device;
use criterion::{criterion_group, criterion_main, Criterion};
use frameless_distiller::data::{self, Dataset, SplitRates};
use frameless_distiller::framelet::{self, FrameletConfig};
use frameless_distiller::teacher::{TeacherConfig, TeacherData, TeacherKind, Trainer};
use frameless_engine::{Features, Model};

const NODE: u32 = 17;
const HOPS: usize = 6;

fn teacher_forward(c: &mut Criterion, name: &str, dataset: &Dataset) {
    let ops = framelet::build(&dataset.graph().expect("graph"), &FrameletConfig::default())
        .expect("framelets");
    let split = dataset.split(0, SplitRates::default());
    let data = TeacherData::new(dataset).expect("teacher data");
    let trainer = Trainer::new(
        &data,
        &ops,
        TeacherKind::Spatial,
        &TeacherConfig::default(),
        0,
        &split,
        &Device::Cpu,
    )
    .expect("trainer");
    c.bench_function(name, |b| b.iter(|| trainer.log_probs().expect("forward")));
}

fn engine_predict(c: &mut Criterion, name: &str, blob: &[u8], dataset: &Dataset) {
    let model = Model::from_bytes(blob).expect("committed blob loads");
    let (indices, values): (Vec<u32>, Vec<f32>) = dataset.features.row(NODE as usize).unzip();
    let mut scratch = vec![0f32; model.scratch_len()];
    c.bench_function(name, |b| {
        b.iter(|| {
            let features = Features::Sparse {
                indices: &indices,
                values: &values,
            };
            model
                .predict(NODE, features, &mut scratch)
                .expect("predict")
                .class
        })
    });
}

fn benches(c: &mut Criterion) {
    let Some(dir) = common::dataset("cora") else {
        return;
    };
    let cora = data::load_dir(&dir).expect("loading Cora");
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../firmware-examples/models");
    for precision in ["f32", "int8"] {
        let blob = std::fs::read(models.join(format!("model-{precision}.fgkd"))).expect("blob");
        engine_predict(c, &format!("engine_{precision}"), &blob, &cora);
    }
    let nodes = cora.ball(NODE, HOPS).expect("node in range");
    eprintln!(
        "node {NODE}: {HOPS}-hop ball holds {} of {} nodes",
        nodes.len(),
        cora.n_nodes()
    );
    let ball = cora.induced(&nodes).expect("ball nodes in range");
    teacher_forward(c, "teacher_6hop_ball", &ball);
    teacher_forward(c, "teacher_full_graph", &cora);
}

criterion_group! {
    name = single_node;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(single_node);
