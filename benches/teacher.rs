//! Distiller timing: spatial-teacher epoch on Cora, and SpMM forward + backward
//! (`Â·X`, 64 columns) on Cora and on a 100k-node synthetic graph.
//!
//! Cora is read from `../shared/datasets` (override `FRAMELESS_DATASETS`); without it the
//! Cora benches are skipped with a message (an error under `CI`). Throughput counts multiply-accumulates
//! (`nnz · 64` forward and the same again backward).

#[path = "../tests/common/mod.rs"]
mod common;

use candle_core::{DType, Device, Var};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use frameless_distiller::data::{self, Dataset, DatasetSource, SplitRates};
use frameless_distiller::framelet::{self, FrameletConfig};
use frameless_distiller::sparse::{spmm, SparseOperator};
use frameless_distiller::teacher::{TeacherConfig, TeacherData, TeacherKind, Trainer};

const WIDTH: usize = 64;

fn cora() -> Option<Dataset> {
    let dir = common::dataset("cora")?;
    Some(data::load_dir(&dir).expect("loading Cora"))
}

fn spmm_bench(c: &mut Criterion, name: &str, dataset: &Dataset) {
    let graph = dataset.graph().expect("valid graph");
    let op = SparseOperator::new(graph.normalized_adjacency());
    let nnz = op.matrix().nnz() as u64;
    let x = Var::ones((dataset.n_nodes(), WIDTH), DType::F32, &Device::Cpu).expect("alloc");
    let mut group = c.benchmark_group("spmm_fwd_bwd");
    group.throughput(Throughput::Elements(2 * nnz * WIDTH as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            let y = spmm(&op, x.as_tensor()).expect("spmm");
            y.sum_all().expect("sum").backward().expect("backward")
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    if let Some(cora) = cora() {
        let config = TeacherConfig::default();
        let ops = framelet::build(&cora.graph().expect("graph"), &FrameletConfig::default())
            .expect("framelets");
        let split = cora.split(0, SplitRates::default());
        let data = TeacherData::new(&cora).expect("teacher data");
        let mut trainer = Trainer::new(
            &data,
            &ops,
            TeacherKind::Spatial,
            &config,
            0,
            &split,
            &Device::Cpu,
        )
        .expect("trainer");
        let mut group = c.benchmark_group("teacher_epoch");
        group.throughput(Throughput::Elements(cora.n_nodes() as u64));
        group.sample_size(20);
        group.bench_function("spatial_cora", |b| {
            b.iter(|| trainer.epoch().expect("epoch"))
        });
        group.finish();
        spmm_bench(c, "cora", &cora);
    }
    let source: DatasetSource = "synthetic:nodes=100000,classes=5,features=8,degree=8"
        .parse()
        .expect("source");
    let big = data::load(&source).expect("synthetic");
    spmm_bench(c, "synthetic_100k", &big);
}

criterion_group! {
    name = teacher;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(teacher);
